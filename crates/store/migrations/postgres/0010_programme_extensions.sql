-- A programme's approved period and its extensions (sosialtjenesteloven § 30:
-- up to a year at a time, two years in all, longer only by exception). A
-- programme is approved for the municipality's first period from its start;
-- each extension decision moves the end of the approved period to its
-- `until`, and says whether it is the exception a period beyond two years
-- needs. The days past the approved period are still paid (the programme
-- period is what counts); the worklist names them.
CREATE TABLE programme_extensions (
    id           UUID PRIMARY KEY,
    programme_id UUID NOT NULL REFERENCES programmes (id) ON DELETE CASCADE,
    until        DATE NOT NULL,
    exception    BOOLEAN NOT NULL,
    reference    TEXT NOT NULL,
    decided_at   TIMESTAMPTZ NOT NULL,
    decided_by   TEXT NOT NULL
);

CREATE INDEX programme_extensions_programme ON programme_extensions (programme_id, until);
