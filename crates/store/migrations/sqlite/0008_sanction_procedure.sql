-- The sanction procedure of sosialtjenesteloven § 36 (ARCHITECTURE.md,
-- "Sanction procedure"): a warning (varsel) names the days and hours it
-- concerns and how it was given; a deduction decision (enkeltvedtak) records
-- its legal basis, its appeal deadline, the warning it follows and, after a
-- partly upheld appeal, the hours it still deducts; an appeal (klage) is
-- received and decided. An appeal's outcome changes the decision as a new
-- version of it (fact_versions), so the decision's row triggers (0004) mark
-- the month and the next close pays back.
CREATE TABLE sanction_warnings (
    id             BLOB NOT NULL PRIMARY KEY,
    participant_id BLOB NOT NULL REFERENCES participants (id),
    given_on       TEXT NOT NULL,
    channel        TEXT NOT NULL CHECK (channel IN ('IN_PERSON', 'LETTER', 'DIGITAL')),
    reference      TEXT NOT NULL,
    recorded_by    TEXT NOT NULL,
    recorded_at    TEXT NOT NULL
) STRICT;

CREATE INDEX sanction_warnings_participant ON sanction_warnings (participant_id, given_on);

CREATE TABLE sanction_warning_days (
    warning_id BLOB NOT NULL REFERENCES sanction_warnings (id),
    date       TEXT NOT NULL,
    entry_kind TEXT NOT NULL,
    hours      TEXT NOT NULL,
    PRIMARY KEY (warning_id, date, entry_kind)
) STRICT;

ALTER TABLE sanction_decisions ADD COLUMN legal_basis TEXT NOT NULL
    DEFAULT 'sosialtjenesteloven § 36';
ALTER TABLE sanction_decisions ADD COLUMN appeal_deadline TEXT;
ALTER TABLE sanction_decisions ADD COLUMN warning_id BLOB REFERENCES sanction_warnings (id);
ALTER TABLE sanction_decisions ADD COLUMN deducted_hours TEXT;

CREATE TABLE sanction_appeals (
    id                BLOB NOT NULL PRIMARY KEY,
    decision_id       BLOB NOT NULL REFERENCES sanction_decisions (id) ON DELETE CASCADE,
    participant_id    BLOB NOT NULL REFERENCES participants (id),
    received_on       TEXT NOT NULL,
    reference         TEXT NOT NULL,
    recorded_by       TEXT NOT NULL,
    recorded_at       TEXT NOT NULL,
    outcome           TEXT CHECK (outcome IN ('UPHELD', 'PARTLY_UPHELD', 'DISMISSED')),
    decided_on        TEXT,
    outcome_reference TEXT,
    CONSTRAINT sanction_appeals_decision_key UNIQUE (decision_id)
) STRICT;

CREATE INDEX sanction_appeals_participant ON sanction_appeals (participant_id);
