-- The storage ceiling of `kvp-load ingestion`: one committed transaction of
-- one INSERT of a 600-byte row into a table of its own (kvp_load_ceiling).
INSERT INTO kvp_load_ceiling (payload) VALUES (repeat('x', 600));
