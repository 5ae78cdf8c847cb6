-- Pay periods, the ledger, payment confirmation, registered parameters and
-- the transactional outbox, PostgreSQL.
--
-- Append-only, like 0001: never edited once released. Constraint names are
-- mapped to typed errors in src/postgres.

CREATE TABLE pay_runs (
    id                UUID PRIMARY KEY,
    municipality_id   TEXT NOT NULL CONSTRAINT pay_runs_municipality_fkey REFERENCES municipalities (id),
    month             DATE NOT NULL,
    state             TEXT NOT NULL,
    closed_at         TIMESTAMPTZ NOT NULL,
    participant_count INTEGER NOT NULL,
    total             NUMERIC NOT NULL,
    -- One run per municipality and month: the idempotency key of a close.
    CONSTRAINT pay_runs_month_key UNIQUE (municipality_id, month),
    CONSTRAINT pay_runs_month_check CHECK (EXTRACT(DAY FROM month) = 1),
    CONSTRAINT pay_runs_state_check CHECK (state IN ('CLOSED', 'PARTIALLY_CONFIRMED', 'CONFIRMED')),
    CONSTRAINT pay_runs_participant_count_check CHECK (participant_count >= 0)
);

CREATE TABLE pay_lines (
    id               UUID PRIMARY KEY,
    run_id           UUID NOT NULL CONSTRAINT pay_lines_run_fkey REFERENCES pay_runs (id),
    participant_id   UUID NOT NULL CONSTRAINT pay_lines_participant_fkey REFERENCES participants (id),
    seq              INTEGER NOT NULL,
    line_code        TEXT NOT NULL,
    attributed_month DATE,
    quantity         NUMERIC NOT NULL,
    rate             NUMERIC NOT NULL,
    amount           NUMERIC NOT NULL,
    explanation      TEXT NOT NULL,
    -- Also the streaming order (run, participant, seq) and the ledger's
    -- access path (all lines of a run).
    CONSTRAINT pay_lines_position_key UNIQUE (run_id, participant_id, seq),
    CONSTRAINT pay_lines_month_check CHECK (attributed_month IS NULL OR EXTRACT(DAY FROM attributed_month) = 1),
    CONSTRAINT pay_lines_amount_check CHECK (amount = round(amount, 2))
);

-- One confirmation per payslip (run + participant): the idempotency key.
CREATE TABLE payment_confirmations (
    run_id         UUID NOT NULL CONSTRAINT payment_confirmations_run_fkey REFERENCES pay_runs (id),
    participant_id UUID NOT NULL CONSTRAINT payment_confirmations_participant_fkey REFERENCES participants (id),
    gross          NUMERIC NOT NULL,
    tax_withheld   NUMERIC NOT NULL,
    net_paid       NUMERIC NOT NULL,
    outcome        TEXT NOT NULL,
    failure_reason TEXT,
    payment_date   DATE,
    confirmed_at   TIMESTAMPTZ NOT NULL,
    CONSTRAINT payment_confirmations_pkey PRIMARY KEY (run_id, participant_id),
    CONSTRAINT payment_confirmations_outcome_check CHECK (outcome IN ('PAID', 'FAILED'))
);
-- The ledger leaves out failed payslips with a hash anti-join over these few rows,
-- found without reading the paid ones.
CREATE INDEX payment_confirmations_failed_idx ON payment_confirmations (run_id, participant_id)
    WHERE outcome = 'FAILED';

CREATE TABLE registered_g (
    effective_date DATE CONSTRAINT registered_g_pkey PRIMARY KEY,
    value          NUMERIC NOT NULL,
    reference      TEXT NOT NULL,
    registered_at  TIMESTAMPTZ NOT NULL
);

-- seq orders events as written; id is the CloudEvents id the consumer deduplicates by.
CREATE TABLE outbox_events (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id           UUID NOT NULL CONSTRAINT outbox_events_id_key UNIQUE,
    event_type   TEXT NOT NULL,
    source       TEXT NOT NULL,
    subject      TEXT NOT NULL,
    payload      BYTEA NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    available_at TIMESTAMPTZ NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    delivered_at TIMESTAMPTZ,
    last_error   TEXT,
    CONSTRAINT outbox_events_attempts_check CHECK (attempts >= 0)
);
-- The relay's claim order over what is still to deliver (and the backlog count).
CREATE INDEX outbox_events_pending_idx ON outbox_events (created_at, seq)
    WHERE delivered_at IS NULL;
