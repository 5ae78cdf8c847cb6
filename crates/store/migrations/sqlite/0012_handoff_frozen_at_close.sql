-- What a payroll system imports a line by, frozen when the run closes (the
-- handoff, ARCHITECTURE.md): the quantity's unit (NULL: the line has no
-- quantity, and `quantity` and `rate` are not read), the a-melding coding and the
-- accounting dimensions. `quantity_scaled` is the quantity in ten-thousandths,
-- so that the ledger sums quantities exactly, as `amount_ore` sums amounts.
-- Lines closed before these were kept have them NULL: no quantity, and an
-- export that reads the codes as the municipality has them now.
ALTER TABLE pay_lines ADD COLUMN quantity_unit TEXT
    CHECK (quantity_unit IS NULL OR quantity_unit IN ('DAYS', 'HOURS', 'CHILD_DAYS'));
ALTER TABLE pay_lines ADD COLUMN quantity_scaled INTEGER;
ALTER TABLE pay_lines ADD COLUMN income_type TEXT;
ALTER TABLE pay_lines ADD COLUMN income_description TEXT;
ALTER TABLE pay_lines ADD COLUMN benefit_kind TEXT;
ALTER TABLE pay_lines ADD COLUMN employer_contribution INTEGER;
ALTER TABLE pay_lines ADD COLUMN withholding_basis INTEGER;
ALTER TABLE pay_lines ADD COLUMN ansvar TEXT;
ALTER TABLE pay_lines ADD COLUMN tjeneste TEXT;
ALTER TABLE pay_lines ADD COLUMN kostra_function TEXT;

-- A municipality's handoff settings: whether the product's line codes are
-- its pay codes, whether the stipend triggers employer's contribution, and
-- its accounting dimensions (ansvar, tjeneste, KOSTRA function).
ALTER TABLE municipalities ADD COLUMN handoff TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(handoff));
