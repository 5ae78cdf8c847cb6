-- A timesheet's day entries are inserted by one statement; the recompute
-- mark (0004) then moves once per participant in it instead of once per row:
-- each move is an UPDATE of the participant's mark, and on a busy service
-- those row versions were most of what a submission cost the database.
-- Updates and deletes of entries stay row by row (they are rare).
--
-- And `mark_recompute` becomes PL/pgSQL: a LANGUAGE sql function called from
-- a trigger is parsed and planned again at every call, PL/pgSQL keeps its
-- plan for the session. Same statement, same effect.

CREATE OR REPLACE FUNCTION mark_recompute(participant UUID, changed DATE) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE recompute_marks
    SET recompute_from = LEAST(recompute_from,
                               COALESCE(date_trunc('month', changed)::date, DATE '0001-01-01')),
        version = version + 1
    WHERE participant_id = participant;
END
$$;

DROP TRIGGER day_entries_mark ON day_entries;

CREATE TRIGGER day_entries_mark AFTER UPDATE OR DELETE ON day_entries
    FOR EACH ROW EXECUTE FUNCTION day_entries_mark();

CREATE FUNCTION day_entries_inserted_mark() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM mark_recompute(participant_id, MIN(date))
    FROM inserted_entries GROUP BY participant_id;
    RETURN NULL;
END
$$;

CREATE TRIGGER day_entries_inserted_mark AFTER INSERT ON day_entries
    REFERENCING NEW TABLE AS inserted_entries
    FOR EACH STATEMENT EXECUTE FUNCTION day_entries_inserted_mark();
