-- The hash chain over the audit log, SQLite (see src/audit_chain.rs for the
-- encoding and src/sqlite/mod.rs for how appends are serialised).
--
-- Append-only, like 0001 and 0002: never edited once released.
--
-- chain_seq numbers the chained entries 1, 2, 3, … without gaps (seq, from
-- 0001, orders rows but is not part of the chain); prev_hash is the previous
-- entry's hash (32 zero bytes for entry 1) and hash is SHA-256 over the
-- canonical encoding of the entry. Rows from before this migration get their
-- link when the store next opens the database (SQL cannot compute the
-- canonical encoding): until then the three columns are NULL together.

ALTER TABLE audit_entries ADD COLUMN chain_seq INTEGER
    CONSTRAINT audit_entries_chain_seq_check CHECK (chain_seq >= 1);
ALTER TABLE audit_entries ADD COLUMN prev_hash BLOB
    CONSTRAINT audit_entries_prev_hash_check CHECK (length(prev_hash) = 32);
ALTER TABLE audit_entries ADD COLUMN hash BLOB
    CONSTRAINT audit_entries_hash_check CHECK (length(hash) = 32);

-- One entry per chain position: a second writer with the same head fails
-- instead of forking the chain. Also the path to the head (the last entry).
CREATE UNIQUE INDEX audit_entries_chain_seq_key ON audit_entries (chain_seq);

-- Append-only: a chained entry is never changed and no entry is deleted.
-- The only update allowed is giving a row from before this migration its link.
CREATE TRIGGER audit_entries_no_update
BEFORE UPDATE ON audit_entries
WHEN OLD.hash IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'audit entries are append-only');
END;

CREATE TRIGGER audit_entries_no_delete
BEFORE DELETE ON audit_entries
BEGIN
    SELECT RAISE(ABORT, 'audit entries are append-only');
END;
