-- A run's lines keep the codes the payroll system imports them by as they
-- were at close: the municipality's pay code (lønnsart) for the line code,
-- and the participant's employee number, so that a re-export of a closed run
-- is the same file whatever changed since. NULL on lines closed before they
-- were kept (their export reads the current settings).
ALTER TABLE pay_lines ADD COLUMN pay_code TEXT;
ALTER TABLE pay_lines ADD COLUMN employee_number TEXT;
