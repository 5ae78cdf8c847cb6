-- Participants a close could not compute: held, with the reason.
--
-- A participant whose month the rules engine refuses at close (a fact out of
-- its bounds, stored before the bound was enforced or written straight into
-- the database) must not stop everyone else's pay. The close records them
-- here, in its own transaction, pays them nothing in that run, and leaves
-- their recompute mark (0004) at the first month it considered for them, so
-- that the next close recomputes those months and pays them by
-- recompute-and-diff once the fact is corrected. The holds of a
-- municipality's latest run are its caseworkers' worklist of held
-- participants.
--
-- Append-only, like every migration: never edited once released.
-- Representation as in 0001 (ids 16-byte blobs, dates 'YYYY-MM-DD' text).

CREATE TABLE held_participants (
    run_id         BLOB NOT NULL REFERENCES pay_runs (id),
    participant_id BLOB NOT NULL REFERENCES participants (id),
    -- The first month that could not be computed, as its first day.
    month          TEXT NOT NULL,
    -- Why, as the rules engine said it (field and value, never an identity number).
    reason         TEXT NOT NULL,
    -- One hold per participant and run; also the access path of a run's holds.
    PRIMARY KEY (run_id, participant_id),
    CONSTRAINT held_participants_month_check CHECK (substr(month, 9, 2) = '01')
) STRICT;

-- How many participants the run held, beside those it paid; 0 for every
-- run closed before holds existed (a close then stopped instead).
ALTER TABLE pay_runs ADD COLUMN held_count INTEGER NOT NULL DEFAULT 0
    CONSTRAINT pay_runs_held_count_check CHECK (held_count >= 0);
