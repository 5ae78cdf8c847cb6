-- Pay periods, the ledger, payment confirmation, registered parameters and
-- the transactional outbox, SQLite.
--
-- Append-only, like 0001: never edited once released.
--
-- Representation as in 0001 (ids 16-byte blobs, dates 'YYYY-MM-DD' text,
-- instants fixed-width UTC text, decimals canonical text). A pay line's
-- amount is kept twice: as text, exactly as written, and as whole øre in an
-- INTEGER, which SQLite sums exactly (it has no decimal type), so the ledger
-- is one aggregate query.

CREATE TABLE pay_runs (
    id                BLOB NOT NULL PRIMARY KEY,
    municipality_id   TEXT NOT NULL REFERENCES municipalities (id),
    month             TEXT NOT NULL,
    state             TEXT NOT NULL,
    closed_at         TEXT NOT NULL,
    participant_count INTEGER NOT NULL,
    total             TEXT NOT NULL,
    -- One run per municipality and month: the idempotency key of a close.
    CONSTRAINT pay_runs_month_key UNIQUE (municipality_id, month),
    CONSTRAINT pay_runs_month_check CHECK (substr(month, 9, 2) = '01'),
    CONSTRAINT pay_runs_state_check CHECK (state IN ('CLOSED', 'PARTIALLY_CONFIRMED', 'CONFIRMED')),
    CONSTRAINT pay_runs_participant_count_check CHECK (participant_count >= 0)
) STRICT;

CREATE TABLE pay_lines (
    id               BLOB NOT NULL PRIMARY KEY,
    run_id           BLOB NOT NULL REFERENCES pay_runs (id),
    participant_id   BLOB NOT NULL REFERENCES participants (id),
    seq              INTEGER NOT NULL,
    line_code        TEXT NOT NULL,
    attributed_month TEXT,
    quantity         TEXT NOT NULL,
    rate             TEXT NOT NULL,
    amount           TEXT NOT NULL,
    amount_ore       INTEGER NOT NULL,
    explanation      TEXT NOT NULL,
    -- Also the streaming order (run, participant, seq) and the ledger's
    -- access path (all lines of a run).
    CONSTRAINT pay_lines_position_key UNIQUE (run_id, participant_id, seq),
    CONSTRAINT pay_lines_month_check CHECK (attributed_month IS NULL OR substr(attributed_month, 9, 2) = '01')
) STRICT;

-- One confirmation per payslip (run + participant): the idempotency key, and
-- the ledger's lookup when it leaves out failed payslips.
CREATE TABLE payment_confirmations (
    run_id         BLOB NOT NULL REFERENCES pay_runs (id),
    participant_id BLOB NOT NULL REFERENCES participants (id),
    gross          TEXT NOT NULL,
    tax_withheld   TEXT NOT NULL,
    net_paid       TEXT NOT NULL,
    outcome        TEXT NOT NULL,
    failure_reason TEXT,
    payment_date   TEXT,
    confirmed_at   TEXT NOT NULL,
    PRIMARY KEY (run_id, participant_id),
    CONSTRAINT payment_confirmations_outcome_check CHECK (outcome IN ('PAID', 'FAILED'))
) STRICT;

CREATE TABLE registered_g (
    effective_date TEXT NOT NULL PRIMARY KEY,
    value          TEXT NOT NULL,
    reference      TEXT NOT NULL,
    registered_at  TEXT NOT NULL
) STRICT;

-- seq orders events as written; id is the CloudEvents id the consumer deduplicates by.
CREATE TABLE outbox_events (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           BLOB NOT NULL UNIQUE,
    event_type   TEXT NOT NULL,
    source       TEXT NOT NULL,
    subject      TEXT NOT NULL,
    payload      BLOB NOT NULL,
    created_at   TEXT NOT NULL,
    available_at TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    delivered_at TEXT,
    last_error   TEXT,
    CONSTRAINT outbox_events_attempts_check CHECK (attempts >= 0)
) STRICT;
-- The relay's claim order over what is still to deliver (and the backlog count).
CREATE INDEX outbox_events_pending_idx ON outbox_events (created_at, seq)
    WHERE delivered_at IS NULL;
