-- The top-up service's tables (SQLite). Append-only: never edit a migration
-- once applied; add a new one.
--
-- SQLite has no decimal, date, timestamp or UUID type: money is its canonical
-- decimal text with two decimals, dates are 'YYYY-MM-DD', months 'YYYY-MM',
-- instants fixed-width UTC text ('2025-03-01T08:15:00.000000Z', which sorts
-- chronologically), UUIDs hyphenated lowercase text.

-- The idempotent inbox: one row per received CloudEvent (source + id).
CREATE TABLE inbox_events (
    source       TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    event_type   TEXT NOT NULL,
    spec_version TEXT NOT NULL,
    subject      TEXT,
    envelope     BLOB NOT NULL,
    outcome      TEXT NOT NULL CONSTRAINT inbox_events_outcome_check CHECK (outcome IN (
        'NOT_CONSUMED', 'PROPOSAL_MADE', 'PROPOSAL_UNCHANGED', 'AWAITING_HOUSEHOLD',
        'NO_NORM_RATES', 'REPEATED_PAYMENT')),
    received_at  TEXT NOT NULL,
    CONSTRAINT inbox_events_pkey PRIMARY KEY (source, event_id)
);

-- The household register, keyed by the payroll service's participant id.
CREATE TABLE households (
    participant_id TEXT PRIMARY KEY,
    adults         TEXT NOT NULL CONSTRAINT households_adults_check
                   CHECK (adults IN ('SINGLE', 'COUPLE', 'SHARING')),
    housing_cost   TEXT NOT NULL,
    other_income   TEXT NOT NULL,
    registered_at  TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    revision       INTEGER NOT NULL CONSTRAINT households_revision_check CHECK (revision >= 1)
);

CREATE TABLE household_children (
    participant_id TEXT NOT NULL REFERENCES households (participant_id) ON DELETE CASCADE,
    position       INTEGER NOT NULL,
    birth_date     TEXT NOT NULL,
    PRIMARY KEY (participant_id, position)
);

-- Net stipend paid, one row per participant, month and payroll run.
CREATE TABLE stipend_payments (
    participant_id  TEXT NOT NULL,
    month           TEXT NOT NULL,
    run_id          TEXT NOT NULL,
    municipality_id TEXT NOT NULL,
    gross           TEXT NOT NULL,
    tax_withheld    TEXT NOT NULL,
    net_paid        TEXT NOT NULL,
    payment_date    TEXT,
    event_source    TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    recorded_at     TEXT NOT NULL,
    PRIMARY KEY (participant_id, month, run_id),
    FOREIGN KEY (event_source, event_id) REFERENCES inbox_events (source, event_id)
);

-- Proposals of supplementary social assistance: the caseworkers' worklist.
CREATE TABLE proposals (
    id              TEXT PRIMARY KEY,
    participant_id  TEXT NOT NULL,
    month           TEXT NOT NULL,
    state           TEXT NOT NULL CONSTRAINT proposals_state_check
                    CHECK (state IN ('PROPOSED', 'ACCEPTED', 'REJECTED', 'SUPERSEDED')),
    amount          TEXT NOT NULL,
    explanation     TEXT NOT NULL,
    cause           TEXT NOT NULL CONSTRAINT proposals_cause_check
                    CHECK (cause IN ('STIPEND_PAID', 'HOUSEHOLD_CHANGED')),
    event_source    TEXT,
    event_id        TEXT,
    supersedes      TEXT REFERENCES proposals (id),
    superseded_by   TEXT,
    created_at      TEXT NOT NULL,
    decided_at      TEXT,
    decided_by      TEXT,
    decision_reason TEXT,
    FOREIGN KEY (event_source, event_id) REFERENCES inbox_events (source, event_id),
    CONSTRAINT proposals_decision_check CHECK (
        (state IN ('ACCEPTED', 'REJECTED')) = (decided_at IS NOT NULL AND decision_reason IS NOT NULL))
);

-- At most one open proposal per participant and month.
CREATE UNIQUE INDEX proposals_one_open_per_month
    ON proposals (participant_id, month) WHERE state = 'PROPOSED';
CREATE INDEX proposals_by_state ON proposals (state, month, created_at);
CREATE INDEX proposals_by_participant ON proposals (participant_id, month);
