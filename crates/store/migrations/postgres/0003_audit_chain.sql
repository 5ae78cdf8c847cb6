-- The hash chain over the audit log, PostgreSQL (see src/audit_chain.rs for
-- the encoding and src/postgres/mod.rs for how appends are serialised).
--
-- Append-only, like 0001 and 0002: never edited once released.
--
-- chain_seq numbers the chained entries 1, 2, 3, … without gaps (seq, the
-- identity column of 0001, orders rows but may skip values after a rollback,
-- so it is not the chain's number); prev_hash is the previous entry's hash
-- (32 zero bytes for entry 1) and hash is SHA-256 over the canonical encoding
-- of the entry. Rows from before this migration get their link when the store
-- next opens the database (SQL cannot compute the canonical encoding): until
-- then the three columns are NULL together.

ALTER TABLE audit_entries
    ADD COLUMN chain_seq BIGINT
        CONSTRAINT audit_entries_chain_seq_check CHECK (chain_seq >= 1),
    ADD COLUMN prev_hash BYTEA
        CONSTRAINT audit_entries_prev_hash_check CHECK (octet_length(prev_hash) = 32),
    ADD COLUMN hash BYTEA
        CONSTRAINT audit_entries_hash_check CHECK (octet_length(hash) = 32),
    ADD CONSTRAINT audit_entries_link_check
        CHECK ((chain_seq IS NULL) = (hash IS NULL) AND (hash IS NULL) = (prev_hash IS NULL)),
    -- One entry per chain position: a second writer with the same head fails
    -- instead of forking the chain. Also the path to the head (the last entry).
    ADD CONSTRAINT audit_entries_chain_seq_key UNIQUE (chain_seq);

-- Append-only: a chained entry is never changed and no entry is deleted or
-- truncated away. The only update allowed is giving a row from before this
-- migration its link.
CREATE FUNCTION audit_entries_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit entries are append-only';
END;
$$;

CREATE TRIGGER audit_entries_no_update
    BEFORE UPDATE ON audit_entries
    FOR EACH ROW WHEN (OLD.hash IS NOT NULL)
    EXECUTE FUNCTION audit_entries_append_only();

CREATE TRIGGER audit_entries_no_delete
    BEFORE DELETE ON audit_entries
    FOR EACH ROW
    EXECUTE FUNCTION audit_entries_append_only();

CREATE TRIGGER audit_entries_no_truncate
    BEFORE TRUNCATE ON audit_entries
    FOR EACH STATEMENT
    EXECUTE FUNCTION audit_entries_append_only();
