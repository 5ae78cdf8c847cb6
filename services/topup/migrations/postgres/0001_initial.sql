-- The top-up service's tables (PostgreSQL). Append-only: never edit a
-- migration once applied; add a new one.

-- The idempotent inbox: one row per received CloudEvent (source + id).
CREATE TABLE inbox_events (
    source       TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    event_type   TEXT NOT NULL,
    spec_version TEXT NOT NULL,
    subject      TEXT,
    envelope     BYTEA NOT NULL,
    outcome      TEXT NOT NULL CONSTRAINT inbox_events_outcome_check CHECK (outcome IN (
        'NOT_CONSUMED', 'PROPOSAL_MADE', 'PROPOSAL_UNCHANGED', 'AWAITING_HOUSEHOLD',
        'NO_NORM_RATES', 'REPEATED_PAYMENT')),
    received_at  TIMESTAMPTZ NOT NULL,
    CONSTRAINT inbox_events_pkey PRIMARY KEY (source, event_id)
);

-- The household register, keyed by the payroll service's participant id.
CREATE TABLE households (
    participant_id UUID CONSTRAINT households_pkey PRIMARY KEY,
    adults         TEXT NOT NULL CONSTRAINT households_adults_check
                   CHECK (adults IN ('SINGLE', 'COUPLE', 'SHARING')),
    housing_cost   NUMERIC(12, 2) NOT NULL CONSTRAINT households_housing_cost_check
                   CHECK (housing_cost >= 0),
    other_income   NUMERIC(12, 2) NOT NULL CONSTRAINT households_other_income_check
                   CHECK (other_income >= 0),
    registered_at  TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    revision       BIGINT NOT NULL CONSTRAINT households_revision_check CHECK (revision >= 1)
);

CREATE TABLE household_children (
    participant_id UUID NOT NULL CONSTRAINT household_children_household_fkey
                   REFERENCES households (participant_id) ON DELETE CASCADE,
    position       INTEGER NOT NULL,
    birth_date     DATE NOT NULL,
    CONSTRAINT household_children_pkey PRIMARY KEY (participant_id, position)
);

-- Net stipend paid, one row per participant, month and payroll run.
CREATE TABLE stipend_payments (
    participant_id  UUID NOT NULL,
    month           TEXT NOT NULL CONSTRAINT stipend_payments_month_check
                    CHECK (month ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    run_id          UUID NOT NULL,
    municipality_id TEXT NOT NULL,
    gross           NUMERIC(12, 2) NOT NULL,
    tax_withheld    NUMERIC(12, 2) NOT NULL,
    net_paid        NUMERIC(12, 2) NOT NULL,
    payment_date    DATE,
    event_source    TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    recorded_at     TIMESTAMPTZ NOT NULL,
    CONSTRAINT stipend_payments_pkey PRIMARY KEY (participant_id, month, run_id),
    CONSTRAINT stipend_payments_event_fkey FOREIGN KEY (event_source, event_id)
        REFERENCES inbox_events (source, event_id)
);

-- Proposals of supplementary social assistance: the caseworkers' worklist.
CREATE TABLE proposals (
    id              UUID CONSTRAINT proposals_pkey PRIMARY KEY,
    participant_id  UUID NOT NULL,
    month           TEXT NOT NULL CONSTRAINT proposals_month_check
                    CHECK (month ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    state           TEXT NOT NULL CONSTRAINT proposals_state_check
                    CHECK (state IN ('PROPOSED', 'ACCEPTED', 'REJECTED', 'SUPERSEDED')),
    amount          NUMERIC(12, 2) NOT NULL CONSTRAINT proposals_amount_check CHECK (amount >= 0),
    explanation     JSONB NOT NULL,
    cause           TEXT NOT NULL CONSTRAINT proposals_cause_check
                    CHECK (cause IN ('STIPEND_PAID', 'HOUSEHOLD_CHANGED')),
    event_source    TEXT,
    event_id        TEXT,
    supersedes      UUID CONSTRAINT proposals_supersedes_fkey REFERENCES proposals (id),
    superseded_by   UUID,
    created_at      TIMESTAMPTZ NOT NULL,
    decided_at      TIMESTAMPTZ,
    decided_by      TEXT,
    decision_reason TEXT,
    CONSTRAINT proposals_event_fkey FOREIGN KEY (event_source, event_id)
        REFERENCES inbox_events (source, event_id),
    CONSTRAINT proposals_decision_check CHECK (
        (state IN ('ACCEPTED', 'REJECTED')) = (decided_at IS NOT NULL AND decision_reason IS NOT NULL))
);

-- At most one open proposal per participant and month.
CREATE UNIQUE INDEX proposals_one_open_per_month
    ON proposals (participant_id, month) WHERE state = 'PROPOSED';
CREATE INDEX proposals_by_state ON proposals (state, month, created_at);
CREATE INDEX proposals_by_participant ON proposals (participant_id, month);
