-- Income counts in the month it can be used (sosialtjenesteloven § 18): a
-- stipend payment is income in the month of its payment date, not of the run
-- that paid it (the stipend is paid in arrears). Every confirmation outcome is
-- recorded: a failed payment as FAILED with nothing paid, so that the month it
-- was due in is proposed on what was actually received.
--
-- income_month: the month of payment_date; existing rows without a payment
-- date keep the run's month they were counted in. attributed: the payslip's
-- gross by the month its lines pay for, as JSON [{"month", "gross"}].
ALTER TABLE stipend_payments ADD COLUMN outcome TEXT NOT NULL DEFAULT 'PAID'
    CHECK (outcome IN ('PAID', 'FAILED'));
ALTER TABLE stipend_payments ADD COLUMN income_month TEXT;
ALTER TABLE stipend_payments ADD COLUMN attributed TEXT NOT NULL DEFAULT '[]';

UPDATE stipend_payments SET income_month = COALESCE(substr(payment_date, 1, 7), month);

CREATE INDEX stipend_payments_by_income_month
    ON stipend_payments (participant_id, income_month);
