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
-- participant it recomputed, unless the mark moved on meanwhile (`version`).
--
-- `recompute_from` is the first day of the earliest month to recompute;
-- '0001-01-01' means every month (a new participant, or a change that reaches
-- them all); NULL means nothing changed since the mark was cleared.
--
-- What no row of these tables shows — the shipped parameters and policy, the
-- municipality's policy, a registered G and the rules' code — is compared
-- through the basis each run records (`pay_runs.basis`): when it differs,
-- the service recomputes every participant, or every participant from the
-- first month of a changed G.

CREATE TABLE recompute_marks (
    participant_id BLOB NOT NULL PRIMARY KEY REFERENCES participants (id),
    recompute_from TEXT,
    version        INTEGER NOT NULL DEFAULT 1,
    CONSTRAINT recompute_marks_month_check CHECK (recompute_from IS NULL OR substr(recompute_from, 9, 2) = '01')
) STRICT;

INSERT INTO recompute_marks (participant_id, recompute_from)
SELECT id, '0001-01-01' FROM participants;

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

-- Every trigger below has the same shape: move the participant's mark back
-- to the first day of the month of the changed row's earliest date (a date
-- that does not parse moves it back to the beginning), and bump its version.

CREATE TRIGGER participants_mark_insert AFTER INSERT ON participants
BEGIN
    INSERT INTO recompute_marks (participant_id, recompute_from) VALUES (NEW.id, '0001-01-01');
END;

CREATE TRIGGER participants_mark_update AFTER UPDATE OF birth_date, municipality_id ON participants
BEGIN
    UPDATE recompute_marks SET recompute_from = '0001-01-01', version = version + 1
    WHERE participant_id = NEW.id;
END;

-- Timesheets: coverage (R12) and, through their entries, the quota history
-- from their first day on. Superseding one is an UPDATE of the old row.
CREATE TRIGGER timesheets_mark_insert AFTER INSERT ON timesheets
BEGIN
    UPDATE recompute_marks
    SET recompute_from = min(coalesce(recompute_from, '9999-12-01'), coalesce(date(NEW.period_from, 'start of month'), '0001-01-01')),
        version = version + 1
    WHERE participant_id = NEW.participant_id;
END;

CREATE TRIGGER timesheets_mark_update AFTER UPDATE ON timesheets
BEGIN
    UPDATE recompute_marks
    SET recompute_from = min(coalesce(recompute_from, '9999-12-01'), coalesce(date(OLD.period_from, 'start of month'), '0001-01-01')),
        version = version + 1
    WHERE participant_id = OLD.participant_id;
    UPDATE recompute_marks
    SET recompute_from = min(coalesce(recompute_from, '9999-12-01'), coalesce(date(NEW.period_from, 'start of month'), '0001-01-01')),
        version = version + 1
    WHERE participant_id = NEW.participant_id;
END;

CREATE TRIGGER timesheets_mark_delete AFTER DELETE ON timesheets
BEGIN
    UPDATE recompute_marks
    SET recompute_from = min(coalesce(recompute_from, '9999-12-01'), coalesce(date(OLD.period_from, 'start of month'), '0001-01-01')),
        version = version + 1
    WHERE participant_id = OLD.participant_id;
END;

-- Day entries: their month, and the quotas of every later entry.
CREATE TRIGGER day_entries_mark_insert AFTER INSERT ON day_entries
BEGIN
    UPDATE recompute_marks
    SET recompute_from = min(coalesce(recompute_from, '9999-12-01'), coalesce(date(NEW.date, 'start of month'), '0001-01-01')),
        version = version + 1
    WHERE participant_id = NEW.participant_id;
END;

CREATE TRIGGER day_entries_mark_update AFTER UPDATE ON day_entries
BEGIN
    UPDATE recompute_marks
    SET recompute_from = min(coalesce(recompute_from, '9999-12-01'), coalesce(date(OLD.date, 'start of month'), '0001-01-01')),
        version = version + 1
    WHERE participant_id = OLD.participant_id;
    UPDATE recompute_marks
    SET recompute_from = min(coalesce(recompute_from, '9999-12-01'), coalesce(date(NEW.date, 'start of month'), '0001-01-01')),
        version = version + 1
    WHERE participant_id = NEW.participant_id;
END;

CREATE TRIGGER day_entries_mark_delete AFTER DELETE ON day_entries
BEGIN
    UPDATE recompute_marks
    SET recompute_from = min(coalesce(recompute_from, '9999-12-01'), coalesce(date(OLD.date, 'start of month'), '0001-01-01')),
        version = version + 1
    WHERE participant_id = OLD.participant_id;
END;

-- Sanction decisions: the month of the day decided.
CREATE TRIGGER sanction_decisions_mark_insert AFTER INSERT ON sanction_decisions
BEGIN
    UPDATE recompute_marks
    SET recompute_from = min(coalesce(recompute_from, '9999-12-01'), coalesce(date(NEW.date, 'start of month'), '0001-01-01')),
        version = version + 1
    WHERE participant_id = NEW.participant_id;
END;

CREATE TRIGGER sanction_decisions_mark_update AFTER UPDATE ON sanction_decisions
BEGIN
    UPDATE recompute_marks
    SET recompute_from = min(coalesce(recompute_from, '9999-12-01'), coalesce(date(OLD.date, 'start of month'), '0001-01-01')),
        version = version + 1
    WHERE participant_id = OLD.participant_id;
    UPDATE recompute_marks
    SET recompute_from = min(coalesce(recompute_from, '9999-12-01'), coalesce(date(NEW.date, 'start of month'), '0001-01-01')),
        version = version + 1
    WHERE participant_id = NEW.participant_id;
END;

CREATE TRIGGER sanction_decisions_mark_delete AFTER DELETE ON sanction_decisions
BEGIN
    UPDATE recompute_marks
    SET recompute_from = min(coalesce(recompute_from, '9999-12-01'), coalesce(date(OLD.date, 'start of month'), '0001-01-01')),
        version = version + 1
    WHERE participant_id = OLD.participant_id;
END;

-- Other-benefit offsets: their month.
CREATE TRIGGER benefit_offsets_mark_insert AFTER INSERT ON benefit_offsets
BEGIN
    UPDATE recompute_marks
    SET recompute_from = min(coalesce(recompute_from, '9999-12-01'), coalesce(date(NEW.month, 'start of month'), '0001-01-01')),
        version = version + 1
    WHERE participant_id = NEW.participant_id;
END;

CREATE TRIGGER benefit_offsets_mark_update AFTER UPDATE ON benefit_offsets
BEGIN
    UPDATE recompute_marks
    SET recompute_from = min(coalesce(recompute_from, '9999-12-01'), coalesce(date(OLD.month, 'start of month'), '0001-01-01')),
        version = version + 1
    WHERE participant_id = OLD.participant_id;
    UPDATE recompute_marks
    SET recompute_from = min(coalesce(recompute_from, '9999-12-01'), coalesce(date(NEW.month, 'start of month'), '0001-01-01')),
        version = version + 1
    WHERE participant_id = NEW.participant_id;
END;

CREATE TRIGGER benefit_offsets_mark_delete AFTER DELETE ON benefit_offsets
BEGIN
    UPDATE recompute_marks
    SET recompute_from = min(coalesce(recompute_from, '9999-12-01'), coalesce(date(OLD.month, 'start of month'), '0001-01-01')),
        version = version + 1
    WHERE participant_id = OLD.participant_id;
END;

-- Children: the supplement and the child's-sickness quota from the birth on.
CREATE TRIGGER children_mark_insert AFTER INSERT ON children
BEGIN
    UPDATE recompute_marks
    SET recompute_from = min(coalesce(recompute_from, '9999-12-01'), coalesce(date(NEW.birth_date, 'start of month'), '0001-01-01')),
        version = version + 1
    WHERE participant_id = NEW.participant_id;
END;

CREATE TRIGGER children_mark_update AFTER UPDATE ON children
BEGIN
    UPDATE recompute_marks
    SET recompute_from = min(coalesce(recompute_from, '9999-12-01'), coalesce(date(OLD.birth_date, 'start of month'), '0001-01-01')),
        version = version + 1
    WHERE participant_id = OLD.participant_id;
    UPDATE recompute_marks
    SET recompute_from = min(coalesce(recompute_from, '9999-12-01'), coalesce(date(NEW.birth_date, 'start of month'), '0001-01-01')),
        version = version + 1
    WHERE participant_id = NEW.participant_id;
END;

CREATE TRIGGER children_mark_delete AFTER DELETE ON children
BEGIN
    UPDATE recompute_marks
    SET recompute_from = min(coalesce(recompute_from, '9999-12-01'), coalesce(date(OLD.birth_date, 'start of month'), '0001-01-01')),
        version = version + 1
    WHERE participant_id = OLD.participant_id;
END;

-- Sole-carer periods: the child's-sickness quota from their first day on.
CREATE TRIGGER sole_carer_periods_mark_insert AFTER INSERT ON sole_carer_periods
BEGIN
    UPDATE recompute_marks
    SET recompute_from = min(coalesce(recompute_from, '9999-12-01'), coalesce(date(NEW.from_date, 'start of month'), '0001-01-01')),
        version = version + 1
    WHERE participant_id = NEW.participant_id;
END;

CREATE TRIGGER sole_carer_periods_mark_update AFTER UPDATE ON sole_carer_periods
BEGIN
    UPDATE recompute_marks
    SET recompute_from = min(coalesce(recompute_from, '9999-12-01'), coalesce(date(OLD.from_date, 'start of month'), '0001-01-01')),
        version = version + 1
    WHERE participant_id = OLD.participant_id;
    UPDATE recompute_marks
    SET recompute_from = min(coalesce(recompute_from, '9999-12-01'), coalesce(date(NEW.from_date, 'start of month'), '0001-01-01')),
        version = version + 1
    WHERE participant_id = NEW.participant_id;
END;

CREATE TRIGGER sole_carer_periods_mark_delete AFTER DELETE ON sole_carer_periods
BEGIN
    UPDATE recompute_marks
    SET recompute_from = min(coalesce(recompute_from, '9999-12-01'), coalesce(date(OLD.from_date, 'start of month'), '0001-01-01')),
        version = version + 1
    WHERE participant_id = OLD.participant_id;
END;

-- Programmes: a programme decides the months from its start on (the latest
-- one started by a month's end is in force; its start sets R6's first weeks).
CREATE TRIGGER programmes_mark_insert AFTER INSERT ON programmes
BEGIN
    UPDATE recompute_marks
    SET recompute_from = min(coalesce(recompute_from, '9999-12-01'), coalesce(date(NEW.start_date, 'start of month'), '0001-01-01')),
        version = version + 1
    WHERE participant_id = NEW.participant_id;
END;

CREATE TRIGGER programmes_mark_update AFTER UPDATE ON programmes
BEGIN
    UPDATE recompute_marks
    SET recompute_from = min(coalesce(recompute_from, '9999-12-01'), coalesce(date(OLD.start_date, 'start of month'), '0001-01-01')),
        version = version + 1
    WHERE participant_id = OLD.participant_id;
    UPDATE recompute_marks
    SET recompute_from = min(coalesce(recompute_from, '9999-12-01'), coalesce(date(NEW.start_date, 'start of month'), '0001-01-01')),
        version = version + 1
    WHERE participant_id = NEW.participant_id;
END;

CREATE TRIGGER programmes_mark_delete AFTER DELETE ON programmes
BEGIN
    UPDATE recompute_marks
    SET recompute_from = min(coalesce(recompute_from, '9999-12-01'), coalesce(date(OLD.start_date, 'start of month'), '0001-01-01')),
        version = version + 1
    WHERE participant_id = OLD.participant_id;
END;

-- Pauses: the months of their programme (from its start, or from the pause's
-- first day if that is earlier).
CREATE TRIGGER programme_pauses_mark_insert AFTER INSERT ON programme_pauses
BEGIN
    UPDATE recompute_marks
    SET recompute_from = min(coalesce(recompute_from, '9999-12-01'), (SELECT coalesce(date(min(g.start_date, NEW.from_date), 'start of month'), '0001-01-01')
                              FROM programmes g WHERE g.id = NEW.programme_id)),
        version = version + 1
    WHERE participant_id = (SELECT participant_id FROM programmes WHERE id = NEW.programme_id);
END;

CREATE TRIGGER programme_pauses_mark_update AFTER UPDATE ON programme_pauses
BEGIN
    UPDATE recompute_marks
    SET recompute_from = min(coalesce(recompute_from, '9999-12-01'), (SELECT coalesce(date(min(g.start_date, OLD.from_date), 'start of month'), '0001-01-01')
                              FROM programmes g WHERE g.id = OLD.programme_id)),
        version = version + 1
    WHERE participant_id = (SELECT participant_id FROM programmes WHERE id = OLD.programme_id);
    UPDATE recompute_marks
    SET recompute_from = min(coalesce(recompute_from, '9999-12-01'), (SELECT coalesce(date(min(g.start_date, NEW.from_date), 'start of month'), '0001-01-01')
                              FROM programmes g WHERE g.id = NEW.programme_id)),
        version = version + 1
    WHERE participant_id = (SELECT participant_id FROM programmes WHERE id = NEW.programme_id);
END;

CREATE TRIGGER programme_pauses_mark_delete AFTER DELETE ON programme_pauses
BEGIN
    UPDATE recompute_marks
    SET recompute_from = min(coalesce(recompute_from, '9999-12-01'), (SELECT coalesce(date(min(g.start_date, OLD.from_date), 'start of month'), '0001-01-01')
                              FROM programmes g WHERE g.id = OLD.programme_id)),
        version = version + 1
    WHERE participant_id = (SELECT participant_id FROM programmes WHERE id = OLD.programme_id);
END;

-- The ledger: a payslip confirmed as failed leaves the ledger (its lines are
-- paid again), and lines are never changed or removed; should either happen,
-- the participant's every month is recomputed.
CREATE TRIGGER payment_confirmations_mark_insert AFTER INSERT ON payment_confirmations
WHEN NEW.outcome = 'FAILED'
BEGIN
    UPDATE recompute_marks SET recompute_from = '0001-01-01', version = version + 1
    WHERE participant_id = NEW.participant_id;
END;

CREATE TRIGGER payment_confirmations_mark_update AFTER UPDATE ON payment_confirmations
BEGIN
    UPDATE recompute_marks SET recompute_from = '0001-01-01', version = version + 1
    WHERE participant_id IN (OLD.participant_id, NEW.participant_id);
END;

CREATE TRIGGER payment_confirmations_mark_delete AFTER DELETE ON payment_confirmations
BEGIN
    UPDATE recompute_marks SET recompute_from = '0001-01-01', version = version + 1
    WHERE participant_id = OLD.participant_id;
END;

CREATE TRIGGER pay_lines_mark_update AFTER UPDATE ON pay_lines
BEGIN
    UPDATE recompute_marks SET recompute_from = '0001-01-01', version = version + 1
    WHERE participant_id IN (OLD.participant_id, NEW.participant_id);
END;

CREATE TRIGGER pay_lines_mark_delete AFTER DELETE ON pay_lines
BEGIN
    UPDATE recompute_marks SET recompute_from = '0001-01-01', version = version + 1
    WHERE participant_id = OLD.participant_id;
END;
