-- What a payroll system imports a line by, frozen when the run closes (the
-- handoff, ARCHITECTURE.md): the quantity's unit (NULL: the line has no
-- quantity, and `quantity` and `rate` are not read), the a-melding coding and the
-- accounting dimensions. Lines closed before these were kept have them NULL:
-- no quantity, and an export that reads the codes as the municipality has
-- them now.
ALTER TABLE pay_lines
    ADD COLUMN quantity_unit TEXT CONSTRAINT pay_lines_quantity_unit_check
        CHECK (quantity_unit IN ('DAYS', 'HOURS', 'CHILD_DAYS')),
    ADD COLUMN income_type TEXT,
    ADD COLUMN income_description TEXT,
    ADD COLUMN benefit_kind TEXT,
    ADD COLUMN employer_contribution BOOLEAN,
    ADD COLUMN withholding_basis BOOLEAN,
    ADD COLUMN ansvar TEXT,
    ADD COLUMN tjeneste TEXT,
    ADD COLUMN kostra_function TEXT;

-- A municipality's handoff settings: whether the product's line codes are
-- its pay codes, whether the stipend triggers employer's contribution, and
-- its accounting dimensions (ansvar, tjeneste, KOSTRA function).
ALTER TABLE municipalities ADD COLUMN handoff JSONB NOT NULL DEFAULT '{}';
