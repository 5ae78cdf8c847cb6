-- Household income by kind (sosialtjenesteloven § 18): each entry a kind, a
-- net amount per month and, for income of one month only, that month; as
-- JSON [{"kind", "net_amount", "month"}]. Whether a kind counts is data
-- (parameters/income_kinds.json), applied when a proposal is computed.
ALTER TABLE households ADD COLUMN income TEXT NOT NULL DEFAULT '[]';
