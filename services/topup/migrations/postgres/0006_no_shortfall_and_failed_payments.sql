-- A proposal of 0.00 is recorded as NO_SHORTFALL: nothing for a caseworker to
-- decide, so not on the worklist, but the month's current figures (replaced,
-- like an open proposal, when they change). A proposal made because a
-- payment failed says so: cause PAYMENT_FAILED.
ALTER TABLE proposals DROP CONSTRAINT proposals_state_check;
ALTER TABLE proposals ADD CONSTRAINT proposals_state_check
    CHECK (state IN ('PROPOSED', 'ACCEPTED', 'REJECTED', 'SUPERSEDED', 'NO_SHORTFALL'));
ALTER TABLE proposals DROP CONSTRAINT proposals_cause_check;
ALTER TABLE proposals ADD CONSTRAINT proposals_cause_check
    CHECK (cause IN ('STIPEND_PAID', 'PAYMENT_FAILED', 'HOUSEHOLD_CHANGED'));

-- At most one open proposal (PROPOSED or NO_SHORTFALL) per participant and month.
DROP INDEX proposals_one_open_per_month;
CREATE UNIQUE INDEX proposals_one_open_per_month
    ON proposals (participant_id, month) WHERE state IN ('PROPOSED', 'NO_SHORTFALL');

-- Open proposals of nothing recorded before are NO_SHORTFALL now.
UPDATE proposals SET state = 'NO_SHORTFALL' WHERE state = 'PROPOSED' AND amount = 0;
