-- What a close must recompute.
--
-- A close recomputes each participant's months and pays the difference to the
-- ledger. After a close, every month it covered pays exactly the engine's
-- result, so the next close needs to recompute only the months whose facts
-- changed since, and the months after the last run. The database keeps that
-- watermark itself: a trigger on every table the month calculation reads
-- moves the participant's `recompute_from` back to the first month the
-- changed row can affect, in the transaction of the change, whichever code
-- (or hand-written SQL) makes it. A close clears the mark of every
-- participant it recomputed, unless the mark moved on meanwhile (`version`:
-- the clearing UPDATE waits for a concurrent change's row lock and then sees
-- the new version).
--
-- `recompute_from` is the first day of the earliest month to recompute;
-- 0001-01-01 means every month (a new participant, or a change that reaches
-- them all); NULL means nothing changed since the mark was cleared.
--
-- What no row of these tables shows — the shipped parameters and policy, the
-- municipality's policy, a registered G and the rules' code — is compared
-- through the basis each run records (`pay_runs.basis`): when it differs,
-- the service recomputes every participant, or every participant from the
-- first month of a changed G.

CREATE TABLE recompute_marks (
    participant_id UUID PRIMARY KEY
                   CONSTRAINT recompute_marks_participant_fkey REFERENCES participants (id),
    recompute_from DATE,
    version        BIGINT NOT NULL DEFAULT 1,
    CONSTRAINT recompute_marks_month_check CHECK (recompute_from IS NULL OR EXTRACT(DAY FROM recompute_from) = 1)
);

INSERT INTO recompute_marks (participant_id, recompute_from)
SELECT id, DATE '0001-01-01' FROM participants;

-- The basis a run was computed on (NULL: unknown, so the next close recomputes everyone).
ALTER TABLE pay_runs ADD COLUMN basis TEXT;

-- A close reads a municipality's participants in id order, chunk by chunk,
-- each chunk's day entries in the order the quotas count them (the index
-- replaces the one on participant and date, of which it is an extension),
-- and each participant's ledger from the first month to recompute on.
CREATE INDEX participants_municipality_idx ON participants (municipality_id, id);
CREATE INDEX day_entries_participant_seq_idx ON day_entries (participant_id, date, seq);
DROP INDEX day_entries_participant_idx;
CREATE INDEX pay_lines_participant_idx ON pay_lines (participant_id, attributed_month);

-- Moves a participant's mark back to the first day of the month of `changed`
-- (NULL: to the beginning) and bumps its version. LEAST ignores a NULL mark.
CREATE FUNCTION mark_recompute(participant UUID, changed DATE) RETURNS void
LANGUAGE sql AS $$
    UPDATE recompute_marks
    SET recompute_from = LEAST(recompute_from,
                               COALESCE(date_trunc('month', changed)::date, DATE '0001-01-01')),
        version = version + 1
    WHERE participant_id = participant
$$;

CREATE FUNCTION participants_mark() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO recompute_marks (participant_id, recompute_from)
        VALUES (NEW.id, DATE '0001-01-01');
    ELSIF NEW.birth_date IS DISTINCT FROM OLD.birth_date
       OR NEW.municipality_id IS DISTINCT FROM OLD.municipality_id THEN
        PERFORM mark_recompute(NEW.id, NULL);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER participants_mark AFTER INSERT OR UPDATE ON participants
    FOR EACH ROW EXECUTE FUNCTION participants_mark();

-- Timesheets: coverage (R12) and, through their entries, the quota history
-- from their first day on. Superseding one is an UPDATE of the old row.
CREATE FUNCTION timesheets_mark() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM mark_recompute(OLD.participant_id, OLD.period_from);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM mark_recompute(NEW.participant_id, NEW.period_from);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER timesheets_mark AFTER INSERT OR UPDATE OR DELETE ON timesheets
    FOR EACH ROW EXECUTE FUNCTION timesheets_mark();

-- Day entries: their month, and the quotas of every later entry.
CREATE FUNCTION day_entries_mark() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM mark_recompute(OLD.participant_id, OLD.date);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM mark_recompute(NEW.participant_id, NEW.date);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER day_entries_mark AFTER INSERT OR UPDATE OR DELETE ON day_entries
    FOR EACH ROW EXECUTE FUNCTION day_entries_mark();

-- Sanction decisions: the month of the day decided.
CREATE FUNCTION sanction_decisions_mark() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM mark_recompute(OLD.participant_id, OLD.date);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM mark_recompute(NEW.participant_id, NEW.date);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER sanction_decisions_mark AFTER INSERT OR UPDATE OR DELETE ON sanction_decisions
    FOR EACH ROW EXECUTE FUNCTION sanction_decisions_mark();

-- Other-benefit offsets: their month.
CREATE FUNCTION benefit_offsets_mark() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM mark_recompute(OLD.participant_id, OLD.month);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM mark_recompute(NEW.participant_id, NEW.month);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER benefit_offsets_mark AFTER INSERT OR UPDATE OR DELETE ON benefit_offsets
    FOR EACH ROW EXECUTE FUNCTION benefit_offsets_mark();

-- Children: the supplement and the child's-sickness quota from the birth on.
CREATE FUNCTION children_mark() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM mark_recompute(OLD.participant_id, OLD.birth_date);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM mark_recompute(NEW.participant_id, NEW.birth_date);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER children_mark AFTER INSERT OR UPDATE OR DELETE ON children
    FOR EACH ROW EXECUTE FUNCTION children_mark();

-- Sole-carer periods: the child's-sickness quota from their first day on.
CREATE FUNCTION sole_carer_periods_mark() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM mark_recompute(OLD.participant_id, OLD.from_date);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM mark_recompute(NEW.participant_id, NEW.from_date);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER sole_carer_periods_mark AFTER INSERT OR UPDATE OR DELETE ON sole_carer_periods
    FOR EACH ROW EXECUTE FUNCTION sole_carer_periods_mark();

-- Programmes: a programme decides the months from its start on (the latest
-- one started by a month's end is in force; its start sets R6's first weeks).
CREATE FUNCTION programmes_mark() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM mark_recompute(OLD.participant_id, OLD.start_date);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM mark_recompute(NEW.participant_id, NEW.start_date);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER programmes_mark AFTER INSERT OR UPDATE OR DELETE ON programmes
    FOR EACH ROW EXECUTE FUNCTION programmes_mark();

-- Pauses: the months of their programme (from its start, or from the pause's
-- first day if that is earlier).
CREATE FUNCTION programme_pauses_mark() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM mark_recompute(g.participant_id, LEAST(g.start_date, OLD.from_date))
        FROM programmes g WHERE g.id = OLD.programme_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM mark_recompute(g.participant_id, LEAST(g.start_date, NEW.from_date))
        FROM programmes g WHERE g.id = NEW.programme_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER programme_pauses_mark AFTER INSERT OR UPDATE OR DELETE ON programme_pauses
    FOR EACH ROW EXECUTE FUNCTION programme_pauses_mark();

-- The ledger: a payslip confirmed as failed leaves the ledger (its lines are
-- paid again), and lines are never changed or removed; should either happen,
-- the participant's every month is recomputed.
CREATE FUNCTION payment_confirmations_mark() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM mark_recompute(OLD.participant_id, NULL);
    END IF;
    IF TG_OP = 'UPDATE' OR (TG_OP = 'INSERT' AND NEW.outcome = 'FAILED') THEN
        PERFORM mark_recompute(NEW.participant_id, NULL);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER payment_confirmations_mark AFTER INSERT OR UPDATE OR DELETE ON payment_confirmations
    FOR EACH ROW EXECUTE FUNCTION payment_confirmations_mark();

CREATE FUNCTION pay_lines_mark() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM mark_recompute(OLD.participant_id, NULL);
    IF TG_OP = 'UPDATE' THEN
        PERFORM mark_recompute(NEW.participant_id, NULL);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER pay_lines_mark AFTER UPDATE OR DELETE ON pay_lines
    FOR EACH ROW EXECUTE FUNCTION pay_lines_mark();
