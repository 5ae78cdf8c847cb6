-- Whose data a record is: REST tokens are scoped to a municipality, so each
-- household and proposal names the municipality it belongs to.
--
-- A proposal belongs to the municipality that paid the month it is for (the
-- StipendPaid event's municipality_id); a household to the municipality whose
-- caseworker registered it. Existing rows take the municipality of the latest
-- payment recorded for them; a household with no payment yet stays unowned
-- (NULL) until a caseworker registers it again, and only national tokens
-- read it meanwhile.
ALTER TABLE proposals ADD COLUMN municipality_id TEXT;
ALTER TABLE households ADD COLUMN municipality_id TEXT;

UPDATE proposals SET municipality_id = (
    SELECT s.municipality_id FROM stipend_payments s
    WHERE s.participant_id = proposals.participant_id AND s.month = proposals.month
    ORDER BY s.recorded_at DESC, s.run_id DESC LIMIT 1);

UPDATE households SET municipality_id = (
    SELECT s.municipality_id FROM stipend_payments s
    WHERE s.participant_id = households.participant_id
    ORDER BY s.month DESC, s.recorded_at DESC, s.run_id DESC LIMIT 1);

CREATE INDEX proposals_by_municipality ON proposals (municipality_id, state, month);
CREATE INDEX stipend_payments_by_municipality ON stipend_payments (municipality_id, month);
