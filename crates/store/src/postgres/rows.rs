//! PostgreSQL row mapping: columns have native types (UUID, DATE,
//! TIMESTAMPTZ, NUMERIC, JSONB), so only the enums stored as text need parsing.

use sqlx::Row;
use sqlx::postgres::PgRow;

use crate::StoreError;
use crate::audit_chain::{ChainContent, StoredLink, canonical_instant, canonical_json};
use crate::records::{
    AuditEntry, BenefitOffset, Child, Confirmation, DayEntry, LedgerEntry, LineTotal, Municipality,
    OutboxEvent, Participant, Pause, PayLine, PayRun, Programme, RegisteredG, SanctionDecision,
    SignerKey, SoleCarerPeriod, Timesheet, TimesheetPeriod, parse_stored,
};

fn stored<T>(row: &PgRow, column: &str) -> Result<T, StoreError>
where
    T: std::str::FromStr<Err = crate::records::UnknownValue>,
{
    let text: String = row.try_get(column)?;
    parse_stored(&text)
}

pub(super) fn municipality(row: &PgRow) -> Result<Municipality, StoreError> {
    Ok(Municipality {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        policy_overrides: row.try_get("policy_overrides")?,
        pay_codes: row.try_get("pay_codes")?,
    })
}

pub(super) fn participant(row: &PgRow) -> Result<Participant, StoreError> {
    Ok(Participant {
        id: row.try_get("id")?,
        municipality_id: row.try_get("municipality_id")?,
        nin_lookup: row.try_get("nin_lookup")?,
        nin_sealed: row.try_get("nin_sealed")?,
        birth_date: row.try_get("birth_date")?,
        display_name: row.try_get("display_name")?,
        created_at: row.try_get("created_at")?,
    })
}

pub(super) fn child(row: &PgRow) -> Result<Child, StoreError> {
    Ok(Child {
        id: row.try_get("id")?,
        participant_id: row.try_get("participant_id")?,
        birth_date: row.try_get("birth_date")?,
    })
}

pub(super) fn sole_carer_period(row: &PgRow) -> Result<SoleCarerPeriod, StoreError> {
    Ok(SoleCarerPeriod {
        id: row.try_get("id")?,
        participant_id: row.try_get("participant_id")?,
        from: row.try_get("from_date")?,
        to: row.try_get("to_date")?,
    })
}

pub(super) fn benefit_offset(row: &PgRow) -> Result<BenefitOffset, StoreError> {
    Ok(BenefitOffset {
        id: row.try_get("id")?,
        participant_id: row.try_get("participant_id")?,
        month: row.try_get("month")?,
        kind: row.try_get("kind")?,
        amount: row.try_get("amount")?,
    })
}

pub(super) fn programme(row: &PgRow) -> Result<Programme, StoreError> {
    Ok(Programme {
        id: row.try_get("id")?,
        participant_id: row.try_get("participant_id")?,
        start: row.try_get("start_date")?,
        end: row.try_get("end_date")?,
        decision_reference: row.try_get("decision_reference")?,
        decided_at: row.try_get("decided_at")?,
    })
}

pub(super) fn pause(row: &PgRow) -> Result<Pause, StoreError> {
    Ok(Pause {
        id: row.try_get("id")?,
        programme_id: row.try_get("programme_id")?,
        from: row.try_get("from_date")?,
        to: row.try_get("to_date")?,
        kind: stored(row, "kind")?,
        reference: row.try_get("reference")?,
    })
}

pub(super) fn signer_key(row: &PgRow) -> Result<SignerKey, StoreError> {
    Ok(SignerKey {
        keyid: row.try_get("keyid")?,
        person_id: row.try_get("person_id")?,
        participant_id: row.try_get("participant_id")?,
        role: stored(row, "role")?,
        public_key: row.try_get("public_key")?,
        valid_from: row.try_get("valid_from")?,
        valid_until: row.try_get("valid_until")?,
        revoked_at: row.try_get("revoked_at")?,
        revocation_reason: row.try_get("revocation_reason")?,
        registered_at: row.try_get("registered_at")?,
    })
}

pub(super) fn timesheet(row: &PgRow) -> Result<Timesheet, StoreError> {
    Ok(Timesheet {
        id: row.try_get("id")?,
        participant_id: row.try_get("participant_id")?,
        municipality_id: row.try_get("municipality_id")?,
        digest: row.try_get("digest")?,
        envelope: row.try_get("envelope")?,
        period_from: row.try_get("period_from")?,
        period_to: row.try_get("period_to")?,
        version: row.try_get("version")?,
        supersedes: row.try_get("supersedes")?,
        status: stored(row, "status")?,
        assessment: row.try_get("assessment")?,
        received_at: row.try_get("received_at")?,
    })
}

pub(super) fn timesheet_period(row: &PgRow) -> Result<TimesheetPeriod, StoreError> {
    Ok(TimesheetPeriod {
        id: row.try_get("id")?,
        period_from: row.try_get("period_from")?,
        period_to: row.try_get("period_to")?,
        version: row.try_get("version")?,
    })
}

pub(super) fn day_entry(row: &PgRow) -> Result<DayEntry, StoreError> {
    Ok(DayEntry {
        timesheet_id: row.try_get("timesheet_id")?,
        participant_id: row.try_get("participant_id")?,
        date: row.try_get("date")?,
        seq: row.try_get("seq")?,
        kind: row.try_get("kind")?,
        hours: row.try_get("hours")?,
        note: row.try_get("note")?,
    })
}

pub(super) fn sanction_decision(row: &PgRow) -> Result<SanctionDecision, StoreError> {
    Ok(SanctionDecision {
        id: row.try_get("id")?,
        participant_id: row.try_get("participant_id")?,
        date: row.try_get("date")?,
        entry_kind: row.try_get("entry_kind")?,
        outcome: stored(row, "outcome")?,
        decided_at: row.try_get("decided_at")?,
        decided_by: row.try_get("decided_by")?,
        reference: row.try_get("reference")?,
        reason: row.try_get("reason")?,
    })
}

pub(super) fn audit_entry(row: &PgRow) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        id: row.try_get("id")?,
        at: row.try_get("at")?,
        actor: row.try_get("actor")?,
        action: row.try_get("action")?,
        subject_type: row.try_get("subject_type")?,
        subject_id: row.try_get("subject_id")?,
        details: row.try_get("details")?,
    })
}

/// An audit entry as the chain verification reads it (`seq`, `chain_seq`,
/// `prev_hash`, `hash` and the content columns), in canonical form.
pub(super) fn audit_link(row: &PgRow) -> Result<StoredLink, StoreError> {
    let details: serde_json::Value = row.try_get("details")?;
    let content = match canonical_instant(row.try_get("at")?) {
        Ok(at) => Ok(ChainContent {
            at,
            actor: row.try_get("actor")?,
            action: row.try_get("action")?,
            subject_type: row.try_get("subject_type")?,
            subject_id: row.try_get("subject_id")?,
            details: canonical_json(&details),
        }),
        Err(_) => Err("the instant is outside the years 0000-9999"),
    };
    Ok(StoredLink {
        row_seq: row.try_get("seq")?,
        chain_seq: row.try_get("chain_seq")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
        content,
    })
}

pub(super) fn pay_run(row: &PgRow) -> Result<PayRun, StoreError> {
    Ok(PayRun {
        id: row.try_get("id")?,
        municipality_id: row.try_get("municipality_id")?,
        month: row.try_get("month")?,
        state: stored(row, "state")?,
        closed_at: row.try_get("closed_at")?,
        participant_count: row.try_get("participant_count")?,
        total: row.try_get("total")?,
    })
}

pub(super) fn pay_line(row: &PgRow) -> Result<PayLine, StoreError> {
    Ok(PayLine {
        id: row.try_get("id")?,
        run_id: row.try_get("run_id")?,
        participant_id: row.try_get("participant_id")?,
        seq: row.try_get("seq")?,
        line_code: row.try_get("line_code")?,
        attributed_month: row.try_get("attributed_month")?,
        quantity: row.try_get("quantity")?,
        rate: row.try_get("rate")?,
        amount: row.try_get("amount")?,
        explanation: row.try_get("explanation")?,
    })
}

pub(super) fn ledger_entry(row: &PgRow) -> Result<LedgerEntry, StoreError> {
    Ok(LedgerEntry {
        participant_id: row.try_get("participant_id")?,
        attributed_month: row.try_get("attributed_month")?,
        line_code: row.try_get("line_code")?,
        amount: row.try_get("amount")?,
    })
}

pub(super) fn line_total(row: &PgRow) -> Result<LineTotal, StoreError> {
    Ok(LineTotal {
        line_code: row.try_get("line_code")?,
        of_run_month: row.try_get("of_run_month")?,
        line_count: row.try_get("line_count")?,
        amount: row.try_get("amount")?,
    })
}

pub(super) fn confirmation(row: &PgRow) -> Result<Confirmation, StoreError> {
    Ok(Confirmation {
        run_id: row.try_get("run_id")?,
        participant_id: row.try_get("participant_id")?,
        gross: row.try_get("gross")?,
        tax_withheld: row.try_get("tax_withheld")?,
        net_paid: row.try_get("net_paid")?,
        outcome: stored(row, "outcome")?,
        failure_reason: row.try_get("failure_reason")?,
        payment_date: row.try_get("payment_date")?,
        confirmed_at: row.try_get("confirmed_at")?,
    })
}

pub(super) fn registered_g(row: &PgRow) -> Result<RegisteredG, StoreError> {
    Ok(RegisteredG {
        effective_date: row.try_get("effective_date")?,
        value: row.try_get("value")?,
        reference: row.try_get("reference")?,
        registered_at: row.try_get("registered_at")?,
    })
}

pub(super) fn outbox_event(row: &PgRow) -> Result<OutboxEvent, StoreError> {
    Ok(OutboxEvent {
        id: row.try_get("id")?,
        event_type: row.try_get("event_type")?,
        source: row.try_get("source")?,
        subject: row.try_get("subject")?,
        payload: row.try_get("payload")?,
        created_at: row.try_get("created_at")?,
        attempts: row.try_get("attempts")?,
        available_at: row.try_get("available_at")?,
        delivered_at: row.try_get("delivered_at")?,
        last_error: row.try_get("last_error")?,
    })
}

/// Maps every row, stopping at the first that cannot be read.
pub(super) fn all<T>(
    rows: Vec<PgRow>,
    map: fn(&PgRow) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    rows.iter().map(map).collect()
}
