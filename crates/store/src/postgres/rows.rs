//! PostgreSQL row mapping: columns have native types (UUID, DATE,
//! TIMESTAMPTZ, NUMERIC, JSONB), so only the enums stored as text need parsing.

use rust_decimal::Decimal;
use sqlx::Row;
pub(super) use sqlx::postgres::PgRow as DbRow;
use time::OffsetDateTime;

use crate::StoreError;
use crate::audit_chain::{ChainContent, StoredLink, canonical_instant, canonical_json};
use kvp_rules::reporting::IncomeCoding;
use kvp_rules::{LineQuantity, QuantityUnit};

use crate::records::{
    Accounting, AuditEntry, BenefitOffset, Child, Confirmation, DayEntry, EmployeeNumber,
    FactVersion, HandoffSettings, HeldParticipant, IdempotencyRecord, IdempotentAnswer,
    LedgerEntry, LineReporting, LineTotal, Municipality, OutboxEvent, Participant, Pause, PayLine,
    PayRun, Programme, ProgrammeExtension, RegisteredG, SanctionAppeal, SanctionDecision,
    SanctionWarning, SignerKey, SoleCarerPeriod, Timesheet, TimesheetPeriod, WarnedDay,
    parse_stored,
};
use uuid::Uuid;

/// A decimal column (NUMERIC).
fn read_decimal(row: &DbRow, column: &str) -> Result<Decimal, StoreError> {
    Ok(row.try_get(column)?)
}

/// A nullable decimal column (NUMERIC).
fn read_optional_decimal(row: &DbRow, column: &str) -> Result<Option<Decimal>, StoreError> {
    Ok(row.try_get(column)?)
}

/// An instant column (TIMESTAMPTZ).
fn read_instant(row: &DbRow, column: &str) -> Result<OffsetDateTime, StoreError> {
    Ok(row.try_get(column)?)
}

/// An optional instant column.
fn read_instant_opt(row: &DbRow, column: &str) -> Result<Option<OffsetDateTime>, StoreError> {
    Ok(row.try_get(column)?)
}

/// A summed quantity (NUMERIC), none when a line summed has no quantity.
fn read_summed_quantity(row: &DbRow) -> Result<Option<Decimal>, StoreError> {
    Ok(row.try_get("quantity_sum")?)
}

/// The `amount` of a sum of lines (`sum_of_amounts!`), rounded to the øre.
fn read_summed_amount(row: &DbRow) -> Result<Decimal, StoreError> {
    Ok(row.try_get("amount")?)
}

/// An audit entry as the chain verification reads it (`seq`, `chain_seq`,
/// `prev_hash`, `hash` and the content columns), in canonical form.
pub(super) fn audit_link(row: &DbRow) -> Result<StoredLink, StoreError> {
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

// The mappers of every other record, written once for both backends.
include!("../shared/rows.rs");
