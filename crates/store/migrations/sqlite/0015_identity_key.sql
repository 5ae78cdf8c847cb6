-- The identity key the participants' identity numbers are sealed with, by its
-- public id (a keyed hash of the key, never the key): the service refuses to
-- start with another key, and re-sealing under a new key replaces it in the
-- same transaction as every sealed number. One row; none until the service
-- first starts on this database (it then re-seals the numbers sealed before,
-- which carry no key id, marking them with its key's).
CREATE TABLE identity_key (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    key_id    TEXT NOT NULL,
    sealed_at TEXT NOT NULL
);
