-- Initial schema of the KVP payroll store, PostgreSQL.
--
-- Append-only: once released this file is never edited (sqlx checks its
-- checksum); every change goes into a new numbered migration.
--
-- Money and hours are NUMERIC without a fixed scale, so a decimal comes back
-- exactly as it was written (7.25 stays 7.25). Constraint names are part of
-- the contract with src/postgres: they are mapped to typed errors there.

CREATE TABLE municipalities (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    policy_overrides JSONB NOT NULL,
    pay_codes        JSONB NOT NULL
);

CREATE TABLE participants (
    id              UUID PRIMARY KEY,
    municipality_id TEXT NOT NULL CONSTRAINT participants_municipality_fkey REFERENCES municipalities (id),
    nin_lookup      BYTEA NOT NULL,
    nin_sealed      BYTEA NOT NULL,
    birth_date      DATE NOT NULL,
    display_name    TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    CONSTRAINT participants_nin_lookup_key UNIQUE (municipality_id, nin_lookup)
);

CREATE TABLE children (
    id             UUID PRIMARY KEY,
    participant_id UUID NOT NULL CONSTRAINT children_participant_fkey REFERENCES participants (id),
    birth_date     DATE NOT NULL
);
CREATE INDEX children_participant_idx ON children (participant_id);

CREATE TABLE sole_carer_periods (
    id             UUID PRIMARY KEY,
    participant_id UUID NOT NULL CONSTRAINT sole_carer_periods_participant_fkey REFERENCES participants (id),
    from_date      DATE NOT NULL,
    to_date        DATE,
    CONSTRAINT sole_carer_periods_range_check CHECK (to_date IS NULL OR to_date >= from_date)
);
CREATE INDEX sole_carer_periods_participant_idx ON sole_carer_periods (participant_id);

CREATE TABLE benefit_offsets (
    id             UUID PRIMARY KEY,
    participant_id UUID NOT NULL CONSTRAINT benefit_offsets_participant_fkey REFERENCES participants (id),
    month          DATE NOT NULL,
    kind           TEXT NOT NULL,
    amount         NUMERIC NOT NULL,
    CONSTRAINT benefit_offsets_month_check CHECK (EXTRACT(DAY FROM month) = 1)
);
CREATE INDEX benefit_offsets_participant_idx ON benefit_offsets (participant_id, month);

CREATE TABLE programmes (
    id                 UUID PRIMARY KEY,
    participant_id     UUID NOT NULL CONSTRAINT programmes_participant_fkey REFERENCES participants (id),
    start_date         DATE NOT NULL,
    end_date           DATE,
    decision_reference TEXT NOT NULL,
    decided_at         TIMESTAMPTZ NOT NULL,
    CONSTRAINT programmes_range_check CHECK (end_date IS NULL OR end_date >= start_date)
);
CREATE INDEX programmes_participant_idx ON programmes (participant_id);

CREATE TABLE programme_pauses (
    id           UUID PRIMARY KEY,
    programme_id UUID NOT NULL CONSTRAINT programme_pauses_programme_fkey REFERENCES programmes (id),
    from_date    DATE NOT NULL,
    to_date      DATE,
    kind         TEXT NOT NULL,
    reference    TEXT NOT NULL,
    CONSTRAINT programme_pauses_kind_check CHECK (kind IN ('INTERRUPTED', 'STOPPED')),
    CONSTRAINT programme_pauses_range_check CHECK (to_date IS NULL OR to_date >= from_date)
);
CREATE INDEX programme_pauses_programme_idx ON programme_pauses (programme_id);

CREATE TABLE signer_keys (
    keyid             TEXT PRIMARY KEY,
    person_id         TEXT NOT NULL,
    participant_id    UUID CONSTRAINT signer_keys_participant_fkey REFERENCES participants (id),
    role              TEXT NOT NULL,
    public_key        BYTEA NOT NULL,
    valid_from        TIMESTAMPTZ NOT NULL,
    valid_until       TIMESTAMPTZ,
    revoked_at        TIMESTAMPTZ,
    revocation_reason TEXT,
    registered_at     TIMESTAMPTZ NOT NULL,
    CONSTRAINT signer_keys_role_check CHECK (role IN ('PARTICIPANT', 'SUPERVISOR', 'PROVIDER')),
    CONSTRAINT signer_keys_public_key_check CHECK (octet_length(public_key) = 32),
    CONSTRAINT signer_keys_validity_check CHECK (valid_until IS NULL OR valid_until > valid_from),
    CONSTRAINT signer_keys_revocation_check CHECK (revocation_reason IS NULL OR revoked_at IS NOT NULL)
);

CREATE TABLE timesheets (
    id              UUID PRIMARY KEY,
    participant_id  UUID NOT NULL CONSTRAINT timesheets_participant_fkey REFERENCES participants (id),
    municipality_id TEXT NOT NULL CONSTRAINT timesheets_municipality_fkey REFERENCES municipalities (id),
    digest          TEXT NOT NULL,
    envelope        BYTEA NOT NULL,
    period_from     DATE NOT NULL,
    period_to       DATE NOT NULL,
    version         INTEGER NOT NULL,
    supersedes      UUID CONSTRAINT timesheets_supersedes_fkey REFERENCES timesheets (id),
    status          TEXT NOT NULL,
    assessment      JSONB NOT NULL,
    received_at     TIMESTAMPTZ NOT NULL,
    CONSTRAINT timesheets_digest_key UNIQUE (digest),
    -- A timesheet is superseded at most once.
    CONSTRAINT timesheets_supersedes_key UNIQUE (supersedes),
    CONSTRAINT timesheets_status_check CHECK (status IN ('ACCEPTED', 'SUPERSEDED')),
    CONSTRAINT timesheets_period_check CHECK (period_to >= period_from),
    CONSTRAINT timesheets_version_check CHECK ((supersedes IS NULL AND version = 1)
                                            OR (supersedes IS NOT NULL AND version > 1))
);
CREATE INDEX timesheets_participant_status_idx ON timesheets (participant_id, status, period_from);

CREATE TABLE day_entries (
    timesheet_id   UUID NOT NULL CONSTRAINT day_entries_timesheet_fkey REFERENCES timesheets (id),
    participant_id UUID NOT NULL CONSTRAINT day_entries_participant_fkey REFERENCES participants (id),
    date           DATE NOT NULL,
    seq            INTEGER NOT NULL,
    kind           TEXT NOT NULL,
    hours          NUMERIC NOT NULL,
    note           TEXT,
    CONSTRAINT day_entries_pkey PRIMARY KEY (timesheet_id, date, seq)
);
CREATE INDEX day_entries_participant_idx ON day_entries (participant_id, date);

CREATE TABLE sanction_decisions (
    id             UUID PRIMARY KEY,
    participant_id UUID NOT NULL CONSTRAINT sanction_decisions_participant_fkey REFERENCES participants (id),
    date           DATE NOT NULL,
    entry_kind     TEXT NOT NULL,
    outcome        TEXT NOT NULL,
    decided_at     TIMESTAMPTZ NOT NULL,
    decided_by     TEXT NOT NULL,
    reference      TEXT NOT NULL,
    reason         TEXT NOT NULL,
    CONSTRAINT sanction_decisions_day_key UNIQUE (participant_id, date, entry_kind),
    CONSTRAINT sanction_decisions_outcome_check CHECK (outcome IN ('APPROVED', 'REJECTED'))
);

-- seq orders the entries as written; id is what the outside world sees.
CREATE TABLE audit_entries (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id           UUID NOT NULL CONSTRAINT audit_entries_id_key UNIQUE,
    at           TIMESTAMPTZ NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    subject_type TEXT NOT NULL,
    subject_id   TEXT NOT NULL,
    details      JSONB NOT NULL
);
CREATE INDEX audit_entries_subject_idx ON audit_entries (subject_type, subject_id, seq);
