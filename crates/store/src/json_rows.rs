//! A participant's rows of one table as one JSON array of arrays, as a query
//! aggregating them hands them back (`json_agg(json_build_array(…))` on
//! PostgreSQL, `json_group_array(json_array(…))` on SQLite): one value per
//! participant and table instead of a row each, so that PostgreSQL reads a
//! participant's facts in one statement and SQLite (whose rows sqlx hands
//! across threads one by one) reads a close's history at SQLite's own speed.
//!
//! In the arrays ids are UUID text (hyphenated, or 32 hex digits), dates
//! `YYYY-MM-DD`, decimals text (exact), instants whole microseconds since
//! the Unix epoch, and a missing optional value `null`. A SQL `NULL` for the
//! whole array (no rows) reads as empty.

use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::StoreError;
use crate::records::{
    BenefitOffset, Child, DayEntry, Pause, Programme, ProgrammeWithPauses, SanctionDecision,
    SoleCarerPeriod, TimesheetPeriod, parse_stored,
};

fn corrupt(table: &str) -> StoreError {
    StoreError::corrupt(format!("a row of {table} cannot be read"))
}

/// Parses the array of one table's rows (`None`: no rows).
fn rows<T: DeserializeOwned>(table: &str, text: Option<&str>) -> Result<Vec<T>, StoreError> {
    match text {
        None => Ok(Vec::new()),
        Some(text) => serde_json::from_str(text).map_err(|_| corrupt(table)),
    }
}

fn decimal(table: &str, text: &str) -> Result<Decimal, StoreError> {
    Decimal::from_str_exact(text).map_err(|_| corrupt(table))
}

fn instant(table: &str, micros: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .map_err(|_| corrupt(table))
}

/// `[id, birth date, reference or null]`.
pub(crate) fn children(participant_id: Uuid, text: Option<&str>) -> Result<Vec<Child>, StoreError> {
    let found: Vec<(Uuid, Date, Option<String>)> = rows("children", text)?;
    Ok(found
        .into_iter()
        .map(|(id, birth_date, reference)| Child {
            id,
            participant_id,
            birth_date,
            reference,
        })
        .collect())
}

/// `[id, first day, last day or null]`.
pub(crate) fn sole_carer_periods(
    participant_id: Uuid,
    text: Option<&str>,
) -> Result<Vec<SoleCarerPeriod>, StoreError> {
    let found: Vec<(Uuid, Date, Option<Date>)> = rows("sole_carer_periods", text)?;
    Ok(found
        .into_iter()
        .map(|(id, from, to)| SoleCarerPeriod {
            id,
            participant_id,
            from,
            to,
        })
        .collect())
}

/// `[id, month, kind, amount]`.
pub(crate) fn benefit_offsets(
    participant_id: Uuid,
    text: Option<&str>,
) -> Result<Vec<BenefitOffset>, StoreError> {
    let found: Vec<(Uuid, Date, String, String)> = rows("benefit_offsets", text)?;
    found
        .into_iter()
        .map(|(id, month, kind, amount)| {
            Ok(BenefitOffset {
                id,
                participant_id,
                month,
                kind: parse_stored(&kind)?,
                amount: decimal("benefit_offsets", &amount)?,
            })
        })
        .collect()
}

/// A programme's row and its pauses' rows.
type ProgrammeRow = (
    Uuid,
    Date,
    Option<Date>,
    String,
    i64,
    Option<Vec<(Uuid, Date, Option<Date>, String, String)>>,
    i64,
);

/// `[id, start, end or null, decision reference, decided at, pauses, version]`, the
/// pauses an array (or null) of `[id, first day, last day or null, kind, reference]`.
pub(crate) fn programmes(
    participant_id: Uuid,
    text: Option<&str>,
) -> Result<Vec<ProgrammeWithPauses>, StoreError> {
    let found: Vec<ProgrammeRow> = rows("programmes", text)?;
    found
        .into_iter()
        .map(
            |(id, start, end, decision_reference, decided_at, pauses, version)| {
                let pauses = pauses
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(pause_id, from, to, kind, reference)| {
                        Ok(Pause {
                            id: pause_id,
                            programme_id: id,
                            from,
                            to,
                            kind: parse_stored(&kind)?,
                            reference,
                        })
                    })
                    .collect::<Result<_, StoreError>>()?;
                Ok(ProgrammeWithPauses {
                    programme: Programme {
                        id,
                        participant_id,
                        start,
                        end,
                        decision_reference,
                        decided_at: instant("programmes", decided_at)?,
                        version,
                    },
                    pauses,
                })
            },
        )
        .collect()
}

/// `[id, first day, last day, version]`.
pub(crate) fn timesheet_periods(text: Option<&str>) -> Result<Vec<TimesheetPeriod>, StoreError> {
    let found: Vec<(Uuid, Date, Date, i32)> = rows("timesheets", text)?;
    Ok(found
        .into_iter()
        .map(|(id, period_from, period_to, version)| TimesheetPeriod {
            id,
            period_from,
            period_to,
            version,
        })
        .collect())
}

/// `[timesheet id, date, position, kind, hours, note or null]`.
pub(crate) fn day_entries(
    participant_id: Uuid,
    text: Option<&str>,
) -> Result<Vec<DayEntry>, StoreError> {
    type Row = (Uuid, Date, i32, String, String, Option<String>);
    let found: Vec<Row> = rows("day_entries", text)?;
    found
        .into_iter()
        .map(|(timesheet_id, date, seq, kind, hours, note)| {
            Ok(DayEntry {
                timesheet_id,
                participant_id,
                date,
                seq,
                kind: parse_stored(&kind)?,
                hours: decimal("day_entries", &hours)?,
                note,
            })
        })
        .collect()
}

/// `[id, date, entry kind, outcome, decided at, decided by, reference,
/// reason, legal basis, appeal deadline or null, warning id or null, deducted
/// hours or null]`.
pub(crate) fn sanction_decisions(
    participant_id: Uuid,
    text: Option<&str>,
) -> Result<Vec<SanctionDecision>, StoreError> {
    type Row = (
        Uuid,
        Date,
        String,
        String,
        i64,
        String,
        String,
        String,
        String,
        Option<Date>,
        Option<Uuid>,
        Option<String>,
    );
    let found: Vec<Row> = rows("sanction_decisions", text)?;
    found
        .into_iter()
        .map(|row| {
            let (id, date, entry_kind, outcome, decided_at, decided_by, reference, reason) =
                (row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7);
            Ok(SanctionDecision {
                id,
                participant_id,
                date,
                entry_kind: parse_stored(&entry_kind)?,
                outcome: parse_stored(&outcome)?,
                decided_at: instant("sanction_decisions", decided_at)?,
                decided_by,
                reference,
                reason,
                legal_basis: row.8,
                appeal_deadline: row.9,
                warning_id: row.10,
                deducted_hours: row
                    .11
                    .map(|hours| decimal("sanction_decisions", &hours))
                    .transpose()?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn rows_read_with_their_nulls_exact_decimals_and_instants() {
        let participant = Uuid::from_u128(7);
        let entries = day_entries(
            participant,
            Some(
                r#"[["00000000000000000000000000000001","2025-03-03",0,"LEAVE","7.50",null],
                    ["00000000-0000-0000-0000-000000000001","2025-03-04",1,"UNEXCUSED","0.25","late"]]"#,
            ),
        )
        .unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].timesheet_id, Uuid::from_u128(1));
        assert_eq!(entries[1].timesheet_id, Uuid::from_u128(1));
        assert_eq!(entries[0].date, date!(2025 - 03 - 03));
        assert_eq!(entries[0].hours.to_string(), "7.50");
        assert_eq!(entries[0].note, None);
        assert_eq!(entries[1].note.as_deref(), Some("late"));
        assert_eq!(entries[1].participant_id, participant);

        let decisions = sanction_decisions(
            participant,
            Some(
                r#"[["00000000-0000-0000-0000-000000000002","2025-03-04","UNEXCUSED","APPROVED",1741000530000001,"k1","V-1","r","sosialtjenesteloven § 36",null,null,null],
                    ["00000000-0000-0000-0000-000000000003","2025-03-05","UNEXCUSED","APPROVED",1741000530000001,"k1","V-2","r","sosialtjenesteloven § 36","2025-03-26","00000000-0000-0000-0000-000000000004","1.50"]]"#,
            ),
        )
        .unwrap();
        assert_eq!(decisions[0].appeal_deadline, None);
        assert_eq!(decisions[0].deducted_hours, None);
        assert_eq!(decisions[1].appeal_deadline, Some(date!(2025 - 03 - 26)));
        assert_eq!(decisions[1].warning_id, Some(Uuid::from_u128(4)));
        assert_eq!(decisions[1].deducted_hours.unwrap().to_string(), "1.50");
        assert_eq!(
            decisions[0].decided_at,
            datetime!(2025-03-03 11:15:30.000001 UTC)
        );
        assert_eq!(
            decisions[0].outcome,
            crate::records::DecisionOutcome::Approved
        );
        assert!(children(participant, None).unwrap().is_empty());
    }

    #[test]
    fn a_malformed_row_is_corrupt_and_quotes_nothing_of_it() {
        let err = day_entries(
            Uuid::nil(),
            Some(r#"[["x","2025-03-03",0,"LEAVE","7.5",null]]"#),
        )
        .unwrap_err();
        assert_eq!(err.to_string(), corrupt("day_entries").to_string());
        let err = benefit_offsets(
            Uuid::nil(),
            Some(r#"[["00000000000000000000000000000001","2025-03-01","X","1e3"]]"#),
        )
        .unwrap_err();
        assert!(!err.to_string().contains("1e3"));
    }
}
