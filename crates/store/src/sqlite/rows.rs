//! SQLite row mapping and the conversions SQLite needs at the boundary.
//!
//! SQLite has no decimal and no timestamp type: decimals are stored as their
//! canonical text (a bound `Decimal` would fail), instants as fixed-width UTC
//! text that sorts chronologically (sqlx's own RFC 3339 text varies in width
//! and offset, and so would not).

use rust_decimal::Decimal;
use sqlx::Row;
pub(super) use sqlx::sqlite::SqliteRow as DbRow;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

use crate::StoreError;
use crate::audit_chain::{ChainContent, StoredLink, canonical_json};
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

fn read_decimal(row: &DbRow, column: &str) -> Result<Decimal, StoreError> {
    let text: String = row.try_get(column)?;
    Decimal::from_str_exact(&text)
        .map_err(|_| StoreError::corrupt(format!("column {column} is not a decimal")))
}

/// A nullable decimal column (exact text).
fn read_optional_decimal(row: &DbRow, column: &str) -> Result<Option<Decimal>, StoreError> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|text| {
        Decimal::from_str_exact(&text)
            .map_err(|_| StoreError::corrupt(format!("column {column} is not a decimal")))
    })
    .transpose()
}

fn parse_instant(text: &str, column: &str) -> Result<OffsetDateTime, StoreError> {
    PrimitiveDateTime::parse(text, INSTANT)
        .map(PrimitiveDateTime::assume_utc)
        .map_err(|_| StoreError::corrupt(format!("column {column} is not an instant")))
}

fn read_instant(row: &DbRow, column: &str) -> Result<OffsetDateTime, StoreError> {
    let text: String = row.try_get(column)?;
    parse_instant(&text, column)
}

fn read_instant_opt(row: &DbRow, column: &str) -> Result<Option<OffsetDateTime>, StoreError> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|text| parse_instant(&text, column)).transpose()
}

/// A summed quantity: ten-thousandths summed exactly (`quantity_scaled`),
/// none when a line summed has no quantity.
fn read_summed_quantity(row: &DbRow) -> Result<Option<Decimal>, StoreError> {
    let scaled: Option<i64> = row.try_get("quantity_sum")?;
    Ok(scaled.map(|scaled| Decimal::new(scaled, kvp_rules::month::QUANTITY_DECIMALS)))
}

/// The `amount_ore` of a sum of lines (`sum_of_amounts!`): whole øre.
fn read_summed_amount(row: &DbRow) -> Result<Decimal, StoreError> {
    let ore: i64 = row.try_get("amount_ore")?;
    Ok(Decimal::new(ore, 2))
}

/// An audit entry as the chain verification reads it (`seq`, `chain_seq`,
/// `prev_hash`, `hash` and the content columns). The instant is hashed as
/// the text stored, which is the canonical text, so any change to it shows.
pub(super) fn audit_link(row: &DbRow) -> Result<StoredLink, StoreError> {
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

// The mappers of every other record, written once for both backends.
include!("../shared/rows.rs");
