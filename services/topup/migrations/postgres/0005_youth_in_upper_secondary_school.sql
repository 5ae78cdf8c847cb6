-- A household member of 18 or over still in upper secondary school, whom the
-- household still supports: counted as the norm table's rule says.
ALTER TABLE household_children ADD COLUMN in_upper_secondary_school BOOLEAN NOT NULL DEFAULT false;
