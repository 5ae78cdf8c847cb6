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
    fact_type      TEXT NOT NULL,
    fact_id        TEXT NOT NULL,
    version        BIGINT NOT NULL,
    participant_id UUID CONSTRAINT fact_versions_participant_fkey REFERENCES participants (id),
    change         TEXT NOT NULL,
    content        TEXT NOT NULL,
    reason         TEXT,
    recorded_by    TEXT NOT NULL,
    recorded_at    TIMESTAMPTZ NOT NULL,
    -- Two changes made from the same version: the second finds its number taken.
    CONSTRAINT fact_versions_pkey PRIMARY KEY (fact_type, fact_id, version),
    CONSTRAINT fact_versions_type_check CHECK (fact_type IN ('child', 'sole_carer_period',
        'benefit_offset', 'programme', 'pause', 'sanction_decision', 'registered_g')),
    CONSTRAINT fact_versions_change_check CHECK (change IN ('RECORDED', 'CORRECTED', 'VOIDED')),
    CONSTRAINT fact_versions_reason_check CHECK (change = 'RECORDED' OR reason IS NOT NULL)
);
CREATE INDEX fact_versions_participant_idx ON fact_versions (participant_id);

CREATE FUNCTION fact_versions_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'fact versions are append-only';
END;
$$;

CREATE TRIGGER fact_versions_no_update BEFORE UPDATE OR DELETE ON fact_versions
    FOR EACH ROW EXECUTE FUNCTION fact_versions_append_only();
CREATE TRIGGER fact_versions_no_truncate BEFORE TRUNCATE ON fact_versions
    FOR EACH STATEMENT EXECUTE FUNCTION fact_versions_append_only();

-- The facts registered before this migration: their first version, as they
-- stand (who recorded them is in the audit trail).
INSERT INTO fact_versions (fact_type, fact_id, version, participant_id, change, content, recorded_by, recorded_at)
SELECT 'child', c.id::text, 1, c.participant_id, 'RECORDED',
       json_build_object('fact', 'child', 'birth_date', to_char(c.birth_date, 'YYYY-MM-DD'),
                         'reference', c.reference)::text,
       'unknown (registered before fact versions)', p.created_at
FROM children c JOIN participants p ON p.id = c.participant_id;

INSERT INTO fact_versions (fact_type, fact_id, version, participant_id, change, content, recorded_by, recorded_at)
SELECT 'sole_carer_period', s.id::text, 1, s.participant_id, 'RECORDED',
       json_build_object('fact', 'sole_carer_period', 'from', to_char(s.from_date, 'YYYY-MM-DD'),
                         'to', to_char(s.to_date, 'YYYY-MM-DD'))::text,
       'unknown (registered before fact versions)', p.created_at
FROM sole_carer_periods s JOIN participants p ON p.id = s.participant_id;

INSERT INTO fact_versions (fact_type, fact_id, version, participant_id, change, content, recorded_by, recorded_at)
SELECT 'benefit_offset', o.id::text, 1, o.participant_id, 'RECORDED',
       json_build_object('fact', 'benefit_offset', 'month', to_char(o.month, 'YYYY-MM-DD'),
                         'kind', o.kind, 'amount', o.amount::text)::text,
       'unknown (registered before fact versions)', p.created_at
FROM benefit_offsets o JOIN participants p ON p.id = o.participant_id;

INSERT INTO fact_versions (fact_type, fact_id, version, participant_id, change, content, recorded_by, recorded_at)
SELECT 'programme', g.id::text, g.version, g.participant_id, 'RECORDED',
       json_build_object('fact', 'programme', 'start', to_char(g.start_date, 'YYYY-MM-DD'),
                         'end', to_char(g.end_date, 'YYYY-MM-DD'),
                         'decision_reference', g.decision_reference)::text,
       'unknown (registered before fact versions)', g.decided_at
FROM programmes g;

INSERT INTO fact_versions (fact_type, fact_id, version, participant_id, change, content, recorded_by, recorded_at)
SELECT 'pause', x.id::text, 1, g.participant_id, 'RECORDED',
       json_build_object('fact', 'pause', 'from', to_char(x.from_date, 'YYYY-MM-DD'),
                         'to', to_char(x.to_date, 'YYYY-MM-DD'), 'kind', x.kind,
                         'reference', x.reference)::text,
       'unknown (registered before fact versions)', g.decided_at
FROM programme_pauses x JOIN programmes g ON g.id = x.programme_id;

INSERT INTO fact_versions (fact_type, fact_id, version, participant_id, change, content, recorded_by, recorded_at)
SELECT 'sanction_decision', d.id::text, 1, d.participant_id, 'RECORDED',
       json_build_object('fact', 'sanction_decision', 'date', to_char(d.date, 'YYYY-MM-DD'),
                         'entry_kind', d.entry_kind, 'outcome', d.outcome,
                         'reference', d.reference, 'reason', d.reason)::text,
       d.decided_by, d.decided_at
FROM sanction_decisions d;

INSERT INTO fact_versions (fact_type, fact_id, version, participant_id, change, content, recorded_by, recorded_at)
SELECT 'registered_g', to_char(r.effective_date, 'YYYY-MM-DD'), 1, NULL, 'RECORDED',
       json_build_object('fact', 'registered_g', 'value', r.value::text,
                         'reference', r.reference)::text,
       'unknown (registered before fact versions)', r.registered_at
FROM registered_g r;
