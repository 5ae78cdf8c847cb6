// The column lists of the tables, in the order the statements bind them,
// written once for both backends (`postgres/mod.rs` and `sqlite/mod.rs`
// include this before their modules, which use the macros).

macro_rules! participant_columns {
    () => {
        "id, municipality_id, nin_lookup, nin_sealed, birth_date, display_name, created_at"
    };
}
macro_rules! programme_columns {
    () => {
        "id, participant_id, start_date, end_date, decision_reference, decided_at, version"
    };
}
macro_rules! signer_key_columns {
    () => {
        "keyid, person_id, participant_id, role, public_key, valid_from, valid_until, \
         revoked_at, revocation_reason, registered_at, municipality_id"
    };
}
macro_rules! timesheet_columns {
    () => {
        "id, participant_id, municipality_id, digest, envelope, period_from, period_to, \
         version, supersedes, status, assessment, received_at"
    };
}
macro_rules! day_entry_columns {
    () => {
        "timesheet_id, participant_id, date, seq, kind, hours, note"
    };
}
macro_rules! decision_columns {
    () => {
        "id, participant_id, date, entry_kind, outcome, decided_at, decided_by, reference, reason, \
         legal_basis, appeal_deadline, warning_id, deducted_hours"
    };
}

macro_rules! pay_run_columns {
    () => {
        "id, municipality_id, month, state, closed_at, participant_count, total, held_count"
    };
}
macro_rules! pay_line_columns {
    () => {
        "id, run_id, participant_id, seq, line_code, attributed_month, quantity, rate, amount, \
         explanation, pay_code, employee_number, quantity_unit, income_type, income_description, \
         benefit_kind, employer_contribution, withholding_basis, ansvar, tjeneste, kostra_function"
    };
}
macro_rules! held_participant_columns {
    () => {
        "run_id, participant_id, month, reason"
    };
}
macro_rules! confirmation_columns {
    () => {
        "run_id, participant_id, gross, tax_withheld, net_paid, outcome, failure_reason, \
         payment_date, confirmed_at"
    };
}
macro_rules! outbox_columns {
    () => {
        "id, event_type, source, subject, payload, created_at, attempts, available_at, \
         delivered_at, last_error, traceparent"
    };
}
