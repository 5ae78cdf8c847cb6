-- Initial schema of the KVP payroll store, SQLite.
--
-- Append-only: once released this file is never edited (sqlx checks its
-- checksum); every change goes into a new numbered migration.
--
-- Representation (converted at the repository boundary, see src/sqlite/rows.rs):
--   ids        16-byte UUID blobs
--   dates      'YYYY-MM-DD' text
--   instants   UTC text 'YYYY-MM-DDTHH:MM:SS.ffffffZ', which sorts chronologically
--   money, hours  canonical decimal text as rust_decimal writes it, never REAL
--   JSON       text
-- Tables are STRICT so that a wrongly typed value is refused, not coerced.

CREATE TABLE municipalities (
    id               TEXT NOT NULL PRIMARY KEY,
    name             TEXT NOT NULL,
    policy_overrides TEXT NOT NULL CHECK (json_valid(policy_overrides)),
    pay_codes        TEXT NOT NULL CHECK (json_valid(pay_codes))
) STRICT;

CREATE TABLE participants (
    id              BLOB NOT NULL PRIMARY KEY,
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    nin_lookup      BLOB NOT NULL,
    nin_sealed      BLOB NOT NULL,
    birth_date      TEXT NOT NULL,
    display_name    TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    CONSTRAINT participants_nin_lookup_key UNIQUE (municipality_id, nin_lookup)
) STRICT;

CREATE TABLE children (
    id             BLOB NOT NULL PRIMARY KEY,
    participant_id BLOB NOT NULL REFERENCES participants (id),
    birth_date     TEXT NOT NULL
) STRICT;
CREATE INDEX children_participant_idx ON children (participant_id);

CREATE TABLE sole_carer_periods (
    id             BLOB NOT NULL PRIMARY KEY,
    participant_id BLOB NOT NULL REFERENCES participants (id),
    from_date      TEXT NOT NULL,
    to_date        TEXT,
    CONSTRAINT sole_carer_periods_range_check CHECK (to_date IS NULL OR to_date >= from_date)
) STRICT;
CREATE INDEX sole_carer_periods_participant_idx ON sole_carer_periods (participant_id);

CREATE TABLE benefit_offsets (
    id             BLOB NOT NULL PRIMARY KEY,
    participant_id BLOB NOT NULL REFERENCES participants (id),
    month          TEXT NOT NULL,
    kind           TEXT NOT NULL,
    amount         TEXT NOT NULL,
    CONSTRAINT benefit_offsets_month_check CHECK (substr(month, 9, 2) = '01')
) STRICT;
CREATE INDEX benefit_offsets_participant_idx ON benefit_offsets (participant_id, month);

CREATE TABLE programmes (
    id                 BLOB NOT NULL PRIMARY KEY,
    participant_id     BLOB NOT NULL REFERENCES participants (id),
    start_date         TEXT NOT NULL,
    end_date           TEXT,
    decision_reference TEXT NOT NULL,
    decided_at         TEXT NOT NULL,
    CONSTRAINT programmes_range_check CHECK (end_date IS NULL OR end_date >= start_date)
) STRICT;
CREATE INDEX programmes_participant_idx ON programmes (participant_id);

CREATE TABLE programme_pauses (
    id           BLOB NOT NULL PRIMARY KEY,
    programme_id BLOB NOT NULL REFERENCES programmes (id),
    from_date    TEXT NOT NULL,
    to_date      TEXT,
    kind         TEXT NOT NULL,
    reference    TEXT NOT NULL,
    CONSTRAINT programme_pauses_kind_check CHECK (kind IN ('INTERRUPTED', 'STOPPED')),
    CONSTRAINT programme_pauses_range_check CHECK (to_date IS NULL OR to_date >= from_date)
) STRICT;
CREATE INDEX programme_pauses_programme_idx ON programme_pauses (programme_id);

CREATE TABLE signer_keys (
    keyid             TEXT NOT NULL PRIMARY KEY,
    person_id         TEXT NOT NULL,
    participant_id    BLOB REFERENCES participants (id),
    role              TEXT NOT NULL,
    public_key        BLOB NOT NULL,
    valid_from        TEXT NOT NULL,
    valid_until       TEXT,
    revoked_at        TEXT,
    revocation_reason TEXT,
    registered_at     TEXT NOT NULL,
    CONSTRAINT signer_keys_role_check CHECK (role IN ('PARTICIPANT', 'SUPERVISOR', 'PROVIDER')),
    CONSTRAINT signer_keys_public_key_check CHECK (length(public_key) = 32),
    CONSTRAINT signer_keys_validity_check CHECK (valid_until IS NULL OR valid_until > valid_from),
    CONSTRAINT signer_keys_revocation_check CHECK (revocation_reason IS NULL OR revoked_at IS NOT NULL)
) STRICT;

CREATE TABLE timesheets (
    id              BLOB NOT NULL PRIMARY KEY,
    participant_id  BLOB NOT NULL REFERENCES participants (id),
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    digest          TEXT NOT NULL,
    envelope        BLOB NOT NULL,
    period_from     TEXT NOT NULL,
    period_to       TEXT NOT NULL,
    version         INTEGER NOT NULL,
    supersedes      BLOB REFERENCES timesheets (id),
    status          TEXT NOT NULL,
    assessment      TEXT NOT NULL CHECK (json_valid(assessment)),
    received_at     TEXT NOT NULL,
    CONSTRAINT timesheets_digest_key UNIQUE (digest),
    -- A timesheet is superseded at most once.
    CONSTRAINT timesheets_supersedes_key UNIQUE (supersedes),
    CONSTRAINT timesheets_status_check CHECK (status IN ('ACCEPTED', 'SUPERSEDED')),
    CONSTRAINT timesheets_period_check CHECK (period_to >= period_from),
    CONSTRAINT timesheets_version_check CHECK ((supersedes IS NULL AND version = 1)
                                            OR (supersedes IS NOT NULL AND version > 1))
) STRICT;
CREATE INDEX timesheets_participant_status_idx ON timesheets (participant_id, status, period_from);

CREATE TABLE day_entries (
    timesheet_id   BLOB NOT NULL REFERENCES timesheets (id),
    participant_id BLOB NOT NULL REFERENCES participants (id),
    date           TEXT NOT NULL,
    seq            INTEGER NOT NULL,
    kind           TEXT NOT NULL,
    hours          TEXT NOT NULL,
    note           TEXT,
    PRIMARY KEY (timesheet_id, date, seq)
) STRICT;
CREATE INDEX day_entries_participant_idx ON day_entries (participant_id, date);

CREATE TABLE sanction_decisions (
    id             BLOB NOT NULL PRIMARY KEY,
    participant_id BLOB NOT NULL REFERENCES participants (id),
    date           TEXT NOT NULL,
    entry_kind     TEXT NOT NULL,
    outcome        TEXT NOT NULL,
    decided_at     TEXT NOT NULL,
    decided_by     TEXT NOT NULL,
    reference      TEXT NOT NULL,
    reason         TEXT NOT NULL,
    CONSTRAINT sanction_decisions_day_key UNIQUE (participant_id, date, entry_kind),
    CONSTRAINT sanction_decisions_outcome_check CHECK (outcome IN ('APPROVED', 'REJECTED'))
) STRICT;

-- seq orders the entries as written; id is what the outside world sees.
CREATE TABLE audit_entries (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           BLOB NOT NULL UNIQUE,
    at           TEXT NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    subject_type TEXT NOT NULL,
    subject_id   TEXT NOT NULL,
    details      TEXT NOT NULL CHECK (json_valid(details))
) STRICT;
CREATE INDEX audit_entries_subject_idx ON audit_entries (subject_type, subject_id, seq);
