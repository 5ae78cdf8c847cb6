-- A timesheet's day entries are inserted by one statement; the recompute
-- mark (0004) then moves once per participant in it instead of once per row:
-- each move is an UPDATE of the participant's mark, and on a busy service
-- those row versions were most of what a submission cost the database.
-- Updates and deletes of entries stay row by row (they are rare).

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
