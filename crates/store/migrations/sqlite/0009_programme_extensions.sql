-- A programme's approved period and its extensions (sosialtjenesteloven § 30:
-- up to a year at a time, two years in all, longer only by exception). A
-- programme is approved for the municipality's first period from its start;
-- each extension decision moves the end of the approved period to its
-- `until`, and says whether it is the exception a period beyond two years
-- needs. The days past the approved period are still paid (the programme
-- period is what counts); the worklist names them.
CREATE TABLE programme_extensions (
    id           BLOB NOT NULL PRIMARY KEY,
    programme_id BLOB NOT NULL REFERENCES programmes (id) ON DELETE CASCADE,
    until        TEXT NOT NULL,
    exception    INTEGER NOT NULL CHECK (exception IN (0, 1)),
    reference    TEXT NOT NULL,
    decided_at   TEXT NOT NULL,
    decided_by   TEXT NOT NULL
) STRICT;

CREATE INDEX programme_extensions_programme ON programme_extensions (programme_id, until);
