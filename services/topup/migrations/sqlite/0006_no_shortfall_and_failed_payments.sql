-- A proposal of 0.00 is recorded as NO_SHORTFALL: nothing for a caseworker to
-- decide, so not on the worklist, but the month's current figures (replaced,
-- like an open proposal, when they change). A proposal made because a
-- payment failed says so: cause PAYMENT_FAILED.
--
-- SQLite cannot change a CHECK constraint: the table is built anew with the
-- new ones and its rows copied (foreign keys checked at commit, so that a
-- proposal may be copied before the one it supersedes).
PRAGMA defer_foreign_keys = ON;

CREATE TABLE proposals_next (
    id              TEXT PRIMARY KEY,
    participant_id  TEXT NOT NULL,
    month           TEXT NOT NULL,
    state           TEXT NOT NULL CONSTRAINT proposals_state_check
                    CHECK (state IN ('PROPOSED', 'ACCEPTED', 'REJECTED', 'SUPERSEDED',
                                     'NO_SHORTFALL')),
    amount          TEXT NOT NULL,
    explanation     TEXT NOT NULL,
    cause           TEXT NOT NULL CONSTRAINT proposals_cause_check
                    CHECK (cause IN ('STIPEND_PAID', 'PAYMENT_FAILED', 'HOUSEHOLD_CHANGED')),
    event_source    TEXT,
    event_id        TEXT,
    supersedes      TEXT REFERENCES proposals_next (id),
    superseded_by   TEXT,
    created_at      TEXT NOT NULL,
    decided_at      TEXT,
    decided_by      TEXT,
    decision_reason TEXT,
    municipality_id TEXT,
    FOREIGN KEY (event_source, event_id) REFERENCES inbox_events (source, event_id),
    CONSTRAINT proposals_decision_check CHECK (
        (state IN ('ACCEPTED', 'REJECTED')) = (decided_at IS NOT NULL AND decision_reason IS NOT NULL))
);

INSERT INTO proposals_next (id, participant_id, month, state, amount, explanation, cause,
                            event_source, event_id, supersedes, superseded_by, created_at,
                            decided_at, decided_by, decision_reason, municipality_id)
SELECT id, participant_id, month,
       CASE WHEN state = 'PROPOSED' AND amount = '0.00' THEN 'NO_SHORTFALL' ELSE state END,
       amount, explanation, cause, event_source, event_id, supersedes, superseded_by,
       created_at, decided_at, decided_by, decision_reason, municipality_id
FROM proposals ORDER BY created_at, id;

DROP TABLE proposals;
ALTER TABLE proposals_next RENAME TO proposals;

-- At most one open proposal (PROPOSED or NO_SHORTFALL) per participant and month.
CREATE UNIQUE INDEX proposals_one_open_per_month
    ON proposals (participant_id, month) WHERE state IN ('PROPOSED', 'NO_SHORTFALL');
CREATE INDEX proposals_by_state ON proposals (state, month, created_at);
CREATE INDEX proposals_by_participant ON proposals (participant_id, month);
CREATE INDEX proposals_by_municipality ON proposals (municipality_id, state, month);
