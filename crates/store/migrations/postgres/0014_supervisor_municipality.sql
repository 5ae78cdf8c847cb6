-- A supervisor key belongs to a municipality: its signature approves only
-- that municipality's participants. Keys registered before stay national
-- (NULL) until an administrator assigns them.
ALTER TABLE signer_keys ADD COLUMN municipality_id TEXT REFERENCES municipalities (id);
