-- Facts over time (ARCHITECTURE.md, "Facts over time").
--
-- Every fact that changes money is a history of versions: the first recorded
-- when it is registered, then one per correction or void, each with who,
-- when and why. The history is append-only. The fact tables (children,
-- sole_carer_periods, benefit_offsets, programmes, programme_pauses,
-- sanction_decisions, registered_g) hold the current version of each fact
-- that is not void: what the month calculation reads. A correction updates
-- the fact's row and a void removes it from there, so the recompute triggers
-- (0004) mark the months the change reaches, and the next close pays or
-- recovers the difference.
--
-- `content` is the version's fact as JSON text, as the service writes it
-- (`kvp_store::FactContent`): dates "YYYY-MM-DD", amounts as decimal strings.
CREATE TABLE fact_versions (
    fact_type      TEXT NOT NULL CHECK (fact_type IN ('child', 'sole_carer_period',
                       'benefit_offset', 'programme', 'pause', 'sanction_decision', 'registered_g')),
    fact_id        TEXT NOT NULL,
    version        INTEGER NOT NULL,
    participant_id BLOB REFERENCES participants (id),
    change         TEXT NOT NULL CHECK (change IN ('RECORDED', 'CORRECTED', 'VOIDED')),
    content        TEXT NOT NULL,
    reason         TEXT,
    recorded_by    TEXT NOT NULL,
    recorded_at    TEXT NOT NULL,
    -- Two changes made from the same version: the second finds its number taken.
    PRIMARY KEY (fact_type, fact_id, version),
    CHECK (change = 'RECORDED' OR reason IS NOT NULL)
) STRICT;
CREATE INDEX fact_versions_participant_idx ON fact_versions (participant_id);

CREATE TRIGGER fact_versions_no_update
BEFORE UPDATE ON fact_versions
BEGIN
    SELECT RAISE(ABORT, 'fact versions are append-only');
END;

CREATE TRIGGER fact_versions_no_delete
BEFORE DELETE ON fact_versions
BEGIN
    SELECT RAISE(ABORT, 'fact versions are append-only');
END;

-- The facts registered before this migration: their first version, as they
-- stand (who recorded them is in the audit trail). Ids are UUIDs stored as
-- 16 bytes: their text is the usual hyphenated lower-case hex.
INSERT INTO fact_versions (fact_type, fact_id, version, participant_id, change, content, recorded_by, recorded_at)
SELECT 'child', substr(lower(hex(c.id)), 1, 8) || '-' || substr(lower(hex(c.id)), 9, 4) || '-' || substr(lower(hex(c.id)), 13, 4) || '-' || substr(lower(hex(c.id)), 17, 4) || '-' || substr(lower(hex(c.id)), 21, 12), 1, c.participant_id, 'RECORDED',
       json_object('fact', 'child', 'birth_date', c.birth_date, 'reference', c.reference),
       'unknown (registered before fact versions)', p.created_at
FROM children c JOIN participants p ON p.id = c.participant_id;

INSERT INTO fact_versions (fact_type, fact_id, version, participant_id, change, content, recorded_by, recorded_at)
SELECT 'sole_carer_period', substr(lower(hex(s.id)), 1, 8) || '-' || substr(lower(hex(s.id)), 9, 4) || '-' || substr(lower(hex(s.id)), 13, 4) || '-' || substr(lower(hex(s.id)), 17, 4) || '-' || substr(lower(hex(s.id)), 21, 12), 1, s.participant_id, 'RECORDED',
       json_object('fact', 'sole_carer_period', 'from', s.from_date, 'to', s.to_date),
       'unknown (registered before fact versions)', p.created_at
FROM sole_carer_periods s JOIN participants p ON p.id = s.participant_id;

INSERT INTO fact_versions (fact_type, fact_id, version, participant_id, change, content, recorded_by, recorded_at)
SELECT 'benefit_offset', substr(lower(hex(o.id)), 1, 8) || '-' || substr(lower(hex(o.id)), 9, 4) || '-' || substr(lower(hex(o.id)), 13, 4) || '-' || substr(lower(hex(o.id)), 17, 4) || '-' || substr(lower(hex(o.id)), 21, 12), 1, o.participant_id, 'RECORDED',
       json_object('fact', 'benefit_offset', 'month', o.month, 'kind', o.kind, 'amount', o.amount),
       'unknown (registered before fact versions)', p.created_at
FROM benefit_offsets o JOIN participants p ON p.id = o.participant_id;

INSERT INTO fact_versions (fact_type, fact_id, version, participant_id, change, content, recorded_by, recorded_at)
SELECT 'programme', substr(lower(hex(g.id)), 1, 8) || '-' || substr(lower(hex(g.id)), 9, 4) || '-' || substr(lower(hex(g.id)), 13, 4) || '-' || substr(lower(hex(g.id)), 17, 4) || '-' || substr(lower(hex(g.id)), 21, 12), g.version, g.participant_id, 'RECORDED',
       json_object('fact', 'programme', 'start', g.start_date, 'end', g.end_date,
                   'decision_reference', g.decision_reference),
       'unknown (registered before fact versions)', g.decided_at
FROM programmes g;

INSERT INTO fact_versions (fact_type, fact_id, version, participant_id, change, content, recorded_by, recorded_at)
SELECT 'pause', substr(lower(hex(x.id)), 1, 8) || '-' || substr(lower(hex(x.id)), 9, 4) || '-' || substr(lower(hex(x.id)), 13, 4) || '-' || substr(lower(hex(x.id)), 17, 4) || '-' || substr(lower(hex(x.id)), 21, 12), 1, g.participant_id, 'RECORDED',
       json_object('fact', 'pause', 'from', x.from_date, 'to', x.to_date, 'kind', x.kind,
                   'reference', x.reference),
       'unknown (registered before fact versions)', g.decided_at
FROM programme_pauses x JOIN programmes g ON g.id = x.programme_id;

INSERT INTO fact_versions (fact_type, fact_id, version, participant_id, change, content, recorded_by, recorded_at)
SELECT 'sanction_decision', substr(lower(hex(d.id)), 1, 8) || '-' || substr(lower(hex(d.id)), 9, 4) || '-' || substr(lower(hex(d.id)), 13, 4) || '-' || substr(lower(hex(d.id)), 17, 4) || '-' || substr(lower(hex(d.id)), 21, 12), 1, d.participant_id, 'RECORDED',
       json_object('fact', 'sanction_decision', 'date', d.date, 'entry_kind', d.entry_kind,
                   'outcome', d.outcome, 'reference', d.reference, 'reason', d.reason),
       d.decided_by, d.decided_at
FROM sanction_decisions d;

INSERT INTO fact_versions (fact_type, fact_id, version, participant_id, change, content, recorded_by, recorded_at)
SELECT 'registered_g', r.effective_date, 1, NULL, 'RECORDED',
       json_object('fact', 'registered_g', 'value', r.value, 'reference', r.reference),
       'unknown (registered before fact versions)', r.registered_at
FROM registered_g r;
