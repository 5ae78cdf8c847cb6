//! SQLite row mapping and the conversions SQLite needs at the boundary.
//!
//! SQLite has no decimal and no timestamp type: decimals are stored as their
//! canonical text (a bound `Decimal` would fail), instants as fixed-width UTC
//! text that sorts chronologically (sqlx's own RFC 3339 text varies in width
//! and offset, and so would not).

use rust_decimal::Decimal;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

use crate::StoreError;
use crate::audit_chain::{ChainContent, StoredLink, canonical_json};
use crate::records::{
    AuditEntry, BenefitOffset, Child, Confirmation, DayEntry, LedgerEntry, LineTotal, Municipality,
    OutboxEvent, Participant, Pause, PayLine, PayRun, Programme, RegisteredG, SanctionDecision,
    SignerKey, SoleCarerPeriod, Timesheet, TimesheetPeriod, parse_stored,
};

/// `2025-03-01T08:15:00.000000Z`: UTC, microseconds, fixed width.
const INSTANT: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");

/// A decimal as stored: its canonical text, scale kept (`7.50` stays `7.50`).
pub(super) fn decimal_text(value: Decimal) -> String {
    value.to_string()
}

/// An instant as stored: UTC, to the microsecond (as PostgreSQL keeps it).
pub(super) fn instant_text(value: OffsetDateTime) -> Result<String, StoreError> {
    value
        .to_offset(UtcOffset::UTC)
        .format(INSTANT)
        .map_err(|_| StoreError::invalid_input("an instant outside the years 0000–9999"))
}

/// An optional instant as stored.
pub(super) fn instant_text_opt(
    value: Option<OffsetDateTime>,
) -> Result<Option<String>, StoreError> {
    value.map(instant_text).transpose()
}

fn decimal(row: &SqliteRow, column: &str) -> Result<Decimal, StoreError> {
    let text: String = row.try_get(column)?;
    Decimal::from_str_exact(&text)
        .map_err(|_| StoreError::corrupt(format!("column {column} is not a decimal")))
}

fn parse_instant(text: &str, column: &str) -> Result<OffsetDateTime, StoreError> {
    PrimitiveDateTime::parse(text, INSTANT)
        .map(PrimitiveDateTime::assume_utc)
        .map_err(|_| StoreError::corrupt(format!("column {column} is not an instant")))
}

fn instant(row: &SqliteRow, column: &str) -> Result<OffsetDateTime, StoreError> {
    let text: String = row.try_get(column)?;
    parse_instant(&text, column)
}

fn instant_opt(row: &SqliteRow, column: &str) -> Result<Option<OffsetDateTime>, StoreError> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|text| parse_instant(&text, column)).transpose()
}

fn stored<T>(row: &SqliteRow, column: &str) -> Result<T, StoreError>
where
    T: std::str::FromStr<Err = crate::records::UnknownValue>,
{
    let text: String = row.try_get(column)?;
    parse_stored(&text)
}

pub(super) fn municipality(row: &SqliteRow) -> Result<Municipality, StoreError> {
    Ok(Municipality {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        policy_overrides: row.try_get("policy_overrides")?,
        pay_codes: row.try_get("pay_codes")?,
    })
}

pub(super) fn participant(row: &SqliteRow) -> Result<Participant, StoreError> {
    Ok(Participant {
        id: row.try_get("id")?,
        municipality_id: row.try_get("municipality_id")?,
        nin_lookup: row.try_get("nin_lookup")?,
        nin_sealed: row.try_get("nin_sealed")?,
        birth_date: row.try_get("birth_date")?,
        display_name: row.try_get("display_name")?,
        created_at: instant(row, "created_at")?,
    })
}

pub(super) fn child(row: &SqliteRow) -> Result<Child, StoreError> {
    Ok(Child {
        id: row.try_get("id")?,
        participant_id: row.try_get("participant_id")?,
        birth_date: row.try_get("birth_date")?,
    })
}

pub(super) fn sole_carer_period(row: &SqliteRow) -> Result<SoleCarerPeriod, StoreError> {
    Ok(SoleCarerPeriod {
        id: row.try_get("id")?,
        participant_id: row.try_get("participant_id")?,
        from: row.try_get("from_date")?,
        to: row.try_get("to_date")?,
    })
}

pub(super) fn benefit_offset(row: &SqliteRow) -> Result<BenefitOffset, StoreError> {
    Ok(BenefitOffset {
        id: row.try_get("id")?,
        participant_id: row.try_get("participant_id")?,
        month: row.try_get("month")?,
        kind: row.try_get("kind")?,
        amount: decimal(row, "amount")?,
    })
}

pub(super) fn programme(row: &SqliteRow) -> Result<Programme, StoreError> {
    Ok(Programme {
        id: row.try_get("id")?,
        participant_id: row.try_get("participant_id")?,
        start: row.try_get("start_date")?,
        end: row.try_get("end_date")?,
        decision_reference: row.try_get("decision_reference")?,
        decided_at: instant(row, "decided_at")?,
    })
}

pub(super) fn pause(row: &SqliteRow) -> Result<Pause, StoreError> {
    Ok(Pause {
        id: row.try_get("id")?,
        programme_id: row.try_get("programme_id")?,
        from: row.try_get("from_date")?,
        to: row.try_get("to_date")?,
        kind: stored(row, "kind")?,
        reference: row.try_get("reference")?,
    })
}

pub(super) fn signer_key(row: &SqliteRow) -> Result<SignerKey, StoreError> {
    Ok(SignerKey {
        keyid: row.try_get("keyid")?,
        person_id: row.try_get("person_id")?,
        participant_id: row.try_get("participant_id")?,
        role: stored(row, "role")?,
        public_key: row.try_get("public_key")?,
        valid_from: instant(row, "valid_from")?,
        valid_until: instant_opt(row, "valid_until")?,
        revoked_at: instant_opt(row, "revoked_at")?,
        revocation_reason: row.try_get("revocation_reason")?,
        registered_at: instant(row, "registered_at")?,
    })
}

pub(super) fn timesheet(row: &SqliteRow) -> Result<Timesheet, StoreError> {
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
        received_at: instant(row, "received_at")?,
    })
}

pub(super) fn timesheet_period(row: &SqliteRow) -> Result<TimesheetPeriod, StoreError> {
    Ok(TimesheetPeriod {
        id: row.try_get("id")?,
        period_from: row.try_get("period_from")?,
        period_to: row.try_get("period_to")?,
        version: row.try_get("version")?,
    })
}

pub(super) fn day_entry(row: &SqliteRow) -> Result<DayEntry, StoreError> {
    Ok(DayEntry {
        timesheet_id: row.try_get("timesheet_id")?,
        participant_id: row.try_get("participant_id")?,
        date: row.try_get("date")?,
        seq: row.try_get("seq")?,
        kind: row.try_get("kind")?,
        hours: decimal(row, "hours")?,
        note: row.try_get("note")?,
    })
}

pub(super) fn sanction_decision(row: &SqliteRow) -> Result<SanctionDecision, StoreError> {
    Ok(SanctionDecision {
        id: row.try_get("id")?,
        participant_id: row.try_get("participant_id")?,
        date: row.try_get("date")?,
        entry_kind: row.try_get("entry_kind")?,
        outcome: stored(row, "outcome")?,
        decided_at: instant(row, "decided_at")?,
        decided_by: row.try_get("decided_by")?,
        reference: row.try_get("reference")?,
        reason: row.try_get("reason")?,
    })
}

pub(super) fn audit_entry(row: &SqliteRow) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        id: row.try_get("id")?,
        at: instant(row, "at")?,
        actor: row.try_get("actor")?,
        action: row.try_get("action")?,
        subject_type: row.try_get("subject_type")?,
        subject_id: row.try_get("subject_id")?,
        details: row.try_get("details")?,
    })
}

/// An audit entry as the chain verification reads it (`seq`, `chain_seq`,
/// `prev_hash`, `hash` and the content columns). The instant is hashed as
/// the text stored, which is the canonical text, so any change to it shows.
pub(super) fn audit_link(row: &SqliteRow) -> Result<StoredLink, StoreError> {
    let details: String = row.try_get("details")?;
    let content = match serde_json::from_str::<serde_json::Value>(&details) {
        Ok(details) => Ok(ChainContent {
            at: row.try_get("at")?,
            actor: row.try_get("actor")?,
            action: row.try_get("action")?,
            subject_type: row.try_get("subject_type")?,
            subject_id: row.try_get("subject_id")?,
            details: canonical_json(&details),
        }),
        Err(_) => Err("the details are not JSON"),
    };
    Ok(StoredLink {
        row_seq: row.try_get("seq")?,
        chain_seq: row.try_get("chain_seq")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
        content,
    })
}

pub(super) fn pay_run(row: &SqliteRow) -> Result<PayRun, StoreError> {
    Ok(PayRun {
        id: row.try_get("id")?,
        municipality_id: row.try_get("municipality_id")?,
        month: row.try_get("month")?,
        state: stored(row, "state")?,
        closed_at: instant(row, "closed_at")?,
        participant_count: row.try_get("participant_count")?,
        total: decimal(row, "total")?,
    })
}

pub(super) fn pay_line(row: &SqliteRow) -> Result<PayLine, StoreError> {
    Ok(PayLine {
        id: row.try_get("id")?,
        run_id: row.try_get("run_id")?,
        participant_id: row.try_get("participant_id")?,
        seq: row.try_get("seq")?,
        line_code: row.try_get("line_code")?,
        attributed_month: row.try_get("attributed_month")?,
        quantity: decimal(row, "quantity")?,
        rate: decimal(row, "rate")?,
        amount: decimal(row, "amount")?,
        explanation: row.try_get("explanation")?,
    })
}

/// A ledger row: the amount comes as a sum of whole øre.
pub(super) fn ledger_entry(row: &SqliteRow) -> Result<LedgerEntry, StoreError> {
    let ore: i64 = row.try_get("amount_ore")?;
    Ok(LedgerEntry {
        participant_id: row.try_get("participant_id")?,
        attributed_month: row.try_get("attributed_month")?,
        line_code: row.try_get("line_code")?,
        amount: Decimal::new(ore, 2),
    })
}

pub(super) fn line_total(row: &SqliteRow) -> Result<LineTotal, StoreError> {
    let ore: i64 = row.try_get("amount_ore")?;
    Ok(LineTotal {
        line_code: row.try_get("line_code")?,
        of_run_month: row.try_get("of_run_month")?,
        line_count: row.try_get("line_count")?,
        amount: Decimal::new(ore, 2),
    })
}

pub(super) fn confirmation(row: &SqliteRow) -> Result<Confirmation, StoreError> {
    Ok(Confirmation {
        run_id: row.try_get("run_id")?,
        participant_id: row.try_get("participant_id")?,
        gross: decimal(row, "gross")?,
        tax_withheld: decimal(row, "tax_withheld")?,
        net_paid: decimal(row, "net_paid")?,
        outcome: stored(row, "outcome")?,
        failure_reason: row.try_get("failure_reason")?,
        payment_date: row.try_get("payment_date")?,
        confirmed_at: instant(row, "confirmed_at")?,
    })
}

pub(super) fn registered_g(row: &SqliteRow) -> Result<RegisteredG, StoreError> {
    Ok(RegisteredG {
        effective_date: row.try_get("effective_date")?,
        value: decimal(row, "value")?,
        reference: row.try_get("reference")?,
        registered_at: instant(row, "registered_at")?,
    })
}

pub(super) fn outbox_event(row: &SqliteRow) -> Result<OutboxEvent, StoreError> {
    Ok(OutboxEvent {
        id: row.try_get("id")?,
        event_type: row.try_get("event_type")?,
        source: row.try_get("source")?,
        subject: row.try_get("subject")?,
        payload: row.try_get("payload")?,
        created_at: instant(row, "created_at")?,
        attempts: row.try_get("attempts")?,
        available_at: instant(row, "available_at")?,
        delivered_at: instant_opt(row, "delivered_at")?,
        last_error: row.try_get("last_error")?,
    })
}

/// Maps every row, stopping at the first that cannot be read.
pub(super) fn all<T>(
    rows: Vec<SqliteRow>,
    map: fn(&SqliteRow) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    rows.iter().map(map).collect()
}
