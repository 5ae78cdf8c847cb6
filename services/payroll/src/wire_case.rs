//! The wire form of a simulated month (`kvp.payroll.v1.MonthCase` in,
//! `kvp.payroll.v1.MonthResult` out).
//!
//! A `MonthCase` is turned into the JSON case shape of the golden vectors and
//! handed to [`Payroll::simulate_case`](crate::payroll::Payroll::simulate_case), so
//! that gRPC, REST and the command line share one parser and one validation
//! (`kvp_rules::Case::from_json`). The conversion itself checks only what the JSON
//! shape cannot say: enum values that are unset or unknown. The JSON paths of the
//! violations that come back (`programme.start`, `parameters.g.2025-05-01`) are
//! renamed to the proto's fields (`facts.programme.start_date`,
//! `facts.parameters.g[6].effective_from`).
//!
//! Nothing here computes: amounts and hours are carried as decimal strings both
//! ways, formatted by the rules crate.

use kvp_proto::kvp::payroll::v1 as pb;
use kvp_rules::{
    AbsenceKind, Flag, LineCode, MonthResult, OffsetKind, format_amount, format_hours,
};
use serde::Serialize;
use serde::ser::SerializeMap;

use crate::error::{FieldViolation, ServiceError};

/// The JSON case (the golden vectors' `input` shape) for `facts`, where `facts`
/// is the request's field of that name (used to name violations). Refuses, with
/// every violation at once, enum values that are unset or unknown.
pub fn case_json(facts: &pb::MonthCase, field: &str) -> Result<String, ServiceError> {
    let mut wire = Violations {
        field,
        violations: Vec::new(),
    };
    let case = CaseJson {
        month: non_empty(&facts.month),
        parameters: facts.parameters.as_ref().map(|p| ParametersJson {
            g: table(&p.g),
            annual_g_factor: table(&p.annual_g_factor),
            under_25_factor: non_empty(&p.under_25_factor),
            child_supplement_per_day: table(&p.child_supplement_per_day),
        }),
        participant: facts.participant.as_ref().map(|p| ParticipantJson {
            birth_date: non_empty(&p.birth_date),
            children: p
                .children
                .iter()
                .map(|c| ChildJson {
                    birth_date: non_empty(&c.birth_date),
                })
                .collect(),
            sole_carer: p.sole_carer,
        }),
        programme: facts
            .programme
            .as_ref()
            .map(|p| programme_json(p, "programme", &mut wire)),
        programmes: (!facts.programmes.is_empty()).then(|| {
            facts
                .programmes
                .iter()
                .enumerate()
                .map(|(i, p)| programme_json(p, &format!("programmes[{i}]"), &mut wire))
                .collect()
        }),
        covered: facts
            .covered
            .iter()
            .map(|r| RangeJson {
                from: non_empty(&r.from_date),
                to: non_empty(&r.to_date),
            })
            .collect(),
        days: facts
            .days
            .iter()
            .enumerate()
            .map(|(i, day)| DayJson {
                date: non_empty(&day.date),
                kind: wire.check(day_kind(day.kind), || format!("days[{i}].kind")),
                hours: non_empty(&day.hours),
                decision: wire.check(decision(day.decision), || format!("days[{i}].decision")),
            })
            .collect(),
        policy: facts.policy.as_ref().map(|p| PolicyJson {
            auto_apply_unexcused: p.auto_apply_unexcused,
            self_cert_min_weeks: p.self_cert_min_weeks,
            self_cert_max_days: p.self_cert_max_days,
            self_cert_max_occurrences: p.self_cert_max_occurrences,
            leave_days_per_year: p.leave_days_per_year,
            child_sick_days_per_year: p.child_sick_days_per_year,
            child_sick_days_many_children: p.child_sick_days_many_children,
            long_sickness_days: p.long_sickness_days,
        }),
        offsets: facts
            .offsets
            .iter()
            .enumerate()
            .map(|(i, offset)| OffsetJson {
                kind: wire.check(offset_kind(offset.kind), || format!("offsets[{i}].kind")),
                amount: non_empty(&offset.amount),
            })
            .collect(),
    };
    if !wire.violations.is_empty() {
        return Err(ServiceError::InvalidArgument(wire.violations));
    }
    serde_json::to_string(&case).map_err(ServiceError::internal)
}

/// The violations found while converting, named under the request's field.
struct Violations<'a> {
    field: &'a str,
    violations: Vec<FieldViolation>,
}

impl Violations<'_> {
    /// The value, or its default after recording why `path` has none.
    fn check<T: Default>(&mut self, value: Result<T, String>, path: impl FnOnce() -> String) -> T {
        value.unwrap_or_else(|description| {
            let field = format!("{}.{}", self.field, path());
            self.violations
                .push(FieldViolation::new(field, description));
            T::default()
        })
    }
}

/// Renames the JSON paths of a simulation's field violations (those of
/// [`case_json`]'s output) to the proto fields of `facts`, the request's field
/// of that name; other errors pass unchanged.
pub fn name_proto_fields(error: ServiceError, facts: &pb::MonthCase, field: &str) -> ServiceError {
    match error {
        ServiceError::InvalidArgument(violations) => ServiceError::InvalidArgument(
            violations
                .into_iter()
                .map(|v| proto_violation(v, facts, field))
                .collect(),
        ),
        other => other,
    }
}

/// The wire form of a computed month: the six lines in the order of R15's
/// table, each with its explanation and legal reference, flags sorted by name.
pub fn month_result_to_proto(result: &MonthResult) -> pb::MonthResult {
    let mut lines: Vec<_> = result.lines.iter().collect();
    lines.sort_by_key(|l| r15_position(l.code));
    let mut flags: Vec<Flag> = result.flags.iter().copied().collect();
    flags.sort_by_key(|f| f.as_str());
    pb::MonthResult {
        month: result.month.to_string(),
        lines: lines
            .into_iter()
            .map(|line| {
                let (rule, legal_reference) = split_reference(line.code.reference());
                let step = |text: &str| pb::ExplanationLine {
                    text: text.to_owned(),
                    rule: rule.to_owned(),
                    legal_reference: legal_reference.to_owned(),
                    ..pb::ExplanationLine::default()
                };
                pb::MonthLine {
                    code: line_code(line.code) as i32,
                    amount: format_amount(line.amount),
                    explanation: std::iter::once(line.summary.as_str())
                        .chain(line.details.iter().map(String::as_str))
                        .map(step)
                        .collect(),
                }
            })
            .collect(),
        total: format_amount(result.total),
        quantities: Some(pb::Quantities {
            base_days: result.quantities.base_days,
            absence_hours: format_hours(result.quantities.absence_hours),
            unpaid_hours: format_hours(result.quantities.unpaid_hours),
            wage_hours: format_hours(result.quantities.wage_hours),
        }),
        flags: flags.into_iter().map(|f| flag(f) as i32).collect(),
    }
}

// ---- proto -> JSON case -------------------------------------------------------

/// The case file shape read by `kvp_rules::Case::from_json` (vectors README).
/// A required field left empty on the wire is left out here, so that the parser
/// reports it as missing.
#[derive(Serialize)]
struct CaseJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    month: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters: Option<ParametersJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    participant: Option<ParticipantJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    programme: Option<ProgrammeJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    programmes: Option<Vec<ProgrammeJson<'a>>>,
    covered: Vec<RangeJson<'a>>,
    days: Vec<DayJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    policy: Option<PolicyJson>,
    offsets: Vec<OffsetJson<'a>>,
}

/// A parameter overlay: the tables given replace those in force. An empty table
/// on the wire (proto3 cannot tell it from an absent one) keeps the one in force.
#[derive(Serialize)]
struct ParametersJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    g: Option<Table<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    annual_g_factor: Option<Table<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    under_25_factor: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    child_supplement_per_day: Option<Table<'a>>,
}

/// A dated table written as `{date: value, …}` in the order given, duplicates
/// kept, so that the parameter loader sees (and refuses) disorder and
/// duplicates exactly as in a JSON file. A `serde_json::Map` would sort them.
struct Table<'a>(&'a [pb::DatedValue]);

impl Serialize for Table<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for entry in self.0 {
            map.serialize_entry(&entry.effective_from, &entry.value)?;
        }
        map.end()
    }
}

#[derive(Serialize)]
struct ParticipantJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    birth_date: Option<&'a str>,
    children: Vec<ChildJson<'a>>,
    sole_carer: bool,
}

#[derive(Serialize)]
struct ChildJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    birth_date: Option<&'a str>,
}

#[derive(Serialize)]
struct ProgrammeJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    start: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end: Option<&'a str>,
    pauses: Vec<PauseJson<'a>>,
}

#[derive(Serialize)]
struct PauseJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<&'a str>,
    kind: &'static str,
}

#[derive(Serialize)]
struct RangeJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<&'a str>,
}

/// Hours go as a decimal string: the parser reads strings and numbers alike,
/// exactly.
#[derive(Serialize)]
struct DayJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    date: Option<&'a str>,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    hours: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    decision: Option<&'static str>,
}

#[derive(Serialize)]
struct PolicyJson {
    #[serde(skip_serializing_if = "Option::is_none")]
    auto_apply_unexcused: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    self_cert_min_weeks: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    self_cert_max_days: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    self_cert_max_occurrences: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    leave_days_per_year: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    child_sick_days_per_year: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    child_sick_days_many_children: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    long_sickness_days: Option<u32>,
}

#[derive(Serialize)]
struct OffsetJson<'a> {
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    amount: Option<&'a str>,
}

fn non_empty(text: &str) -> Option<&str> {
    (!text.is_empty()).then_some(text)
}

fn table(entries: &[pb::DatedValue]) -> Option<Table<'_>> {
    (!entries.is_empty()).then_some(Table(entries))
}

/// Why an enum field's value has no name in the case shape.
fn unnamed(value: i32, unspecified: &str, known: &str) -> String {
    if value == 0 {
        format!("is required: {unspecified} is not a value")
    } else {
        format!("{value} is not a known {known}")
    }
}

fn day_kind(value: i32) -> Result<&'static str, String> {
    let kind = match pb::DayKind::try_from(value) {
        Ok(pb::DayKind::Attended) => AbsenceKind::Attended,
        Ok(pb::DayKind::PaidWork) => AbsenceKind::PaidWork,
        Ok(pb::DayKind::SickSelf) => AbsenceKind::SickSelf,
        Ok(pb::DayKind::SickCertified) => AbsenceKind::SickCertified,
        Ok(pb::DayKind::ChildSick) => AbsenceKind::ChildSick,
        Ok(pb::DayKind::Welfare) => AbsenceKind::Welfare,
        Ok(pb::DayKind::Leave) => AbsenceKind::Leave,
        Ok(pb::DayKind::ApprovedUnpaid) => AbsenceKind::ApprovedUnpaid,
        Ok(pb::DayKind::Unexcused) => AbsenceKind::Unexcused,
        Ok(pb::DayKind::Unspecified) | Err(_) => {
            return Err(unnamed(value, "DAY_KIND_UNSPECIFIED", "DayKind"));
        }
    };
    Ok(kind.as_str())
}

fn pause_kind(value: i32) -> Result<&'static str, String> {
    match pb::PauseKind::try_from(value) {
        Ok(pb::PauseKind::Interrupted) => Ok("INTERRUPTED"),
        Ok(pb::PauseKind::Stopped) => Ok("STOPPED"),
        Ok(pb::PauseKind::Unspecified) | Err(_) => {
            Err(unnamed(value, "PAUSE_KIND_UNSPECIFIED", "PauseKind"))
        }
    }
}

fn offset_kind(value: i32) -> Result<&'static str, String> {
    let kind = match pb::OffsetKind::try_from(value) {
        Ok(pb::OffsetKind::Sykepenger) => OffsetKind::Sykepenger,
        Ok(pb::OffsetKind::Dagpenger) => OffsetKind::Dagpenger,
        Ok(pb::OffsetKind::Foreldrepenger) => OffsetKind::Foreldrepenger,
        Ok(pb::OffsetKind::OtherLivelihood) => OffsetKind::OtherLivelihood,
        Ok(pb::OffsetKind::Unspecified) | Err(_) => {
            return Err(unnamed(value, "OFFSET_KIND_UNSPECIFIED", "OffsetKind"));
        }
    };
    Ok(kind.as_str())
}

/// A sanction decision; `PENDING` is none yet. Unset is refused, as every
/// enum's zero value is: it means only "not given".
fn decision(value: i32) -> Result<Option<&'static str>, String> {
    match pb::SanctionDecision::try_from(value) {
        Ok(pb::SanctionDecision::Pending) => Ok(None),
        Ok(pb::SanctionDecision::Approved) => Ok(Some("APPROVED")),
        Ok(pb::SanctionDecision::Rejected) => Ok(Some("REJECTED")),
        Ok(pb::SanctionDecision::Unspecified) | Err(_) => Err(unnamed(
            value,
            "SANCTION_DECISION_UNSPECIFIED",
            "SanctionDecision",
        )),
    }
}

/// A programme period in the case shape; `path` names it in violations.
fn programme_json<'a>(
    programme: &'a pb::Programme,
    path: &str,
    wire: &mut Violations<'_>,
) -> ProgrammeJson<'a> {
    ProgrammeJson {
        start: non_empty(&programme.start_date),
        end: non_empty(&programme.end_date),
        pauses: programme
            .pauses
            .iter()
            .enumerate()
            .map(|(i, pause)| PauseJson {
                from: non_empty(&pause.from_date),
                to: non_empty(&pause.to_date),
                kind: wire.check(pause_kind(pause.kind), || {
                    format!("{path}.pauses[{i}].kind")
                }),
            })
            .collect(),
    }
}

// ---- JSON paths -> proto fields -----------------------------------------------

/// The violation with its JSON path renamed to the proto field under `field`.
/// A field the parser found missing (`missing field `start`` at `programme`)
/// becomes that field, required (`facts.programme.start_date: is required`).
fn proto_violation(v: FieldViolation, facts: &pb::MonthCase, field: &str) -> FieldViolation {
    let mut path: Vec<String> = v
        .field
        .split('.')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let mut description = without_position(v.description);
    if let Some(missing) = description
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'))
    {
        path.push(missing.to_owned());
        description = "is required".to_owned();
    }
    let mut renamed = vec![field.to_owned()];
    let mut parent = String::new();
    let mut segments = path.into_iter();
    while let Some(segment) = segments.next() {
        let bare = segment.split('[').next().unwrap_or_default().to_owned();
        let name = match (parent.as_str(), segment.as_str()) {
            ("programme" | "programmes", "start") => "start_date".to_owned(),
            ("programme" | "programmes", "end") => "end_date".to_owned(),
            ("pauses" | "covered", "from") => "from_date".to_owned(),
            ("pauses" | "covered", "to") => "to_date".to_owned(),
            ("parameters", "g" | "annual_g_factor" | "child_supplement_per_day") => {
                match segments.next() {
                    Some(date) => table_entry(facts, &segment, &date, &description),
                    None => segment,
                }
            }
            _ => segment,
        };
        renamed.push(name);
        parent = bare;
    }
    FieldViolation::new(renamed.join("."), description)
}

/// The description without the parser's " at line 1 column 52": a position in
/// the JSON made here, which means nothing to the caller.
fn without_position(description: String) -> String {
    let Some(at) = description.rfind(" at line ") else {
        return description;
    };
    let position = &description[at + " at line ".len()..];
    let is_position = position
        .split_once(" column ")
        .is_some_and(|(line, column)| {
            [line, column]
                .iter()
                .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        });
    if is_position {
        description[..at].to_owned()
    } else {
        description
    }
}

/// `g.2025-05-01` names a table entry by its date: the entry's index on the wire
/// (a duplicate or out-of-order entry is the later one), and which of its two
/// fields is at fault.
fn table_entry(facts: &pb::MonthCase, table: &str, date: &str, description: &str) -> String {
    let entries = facts
        .parameters
        .as_ref()
        .map(|p| match table {
            "g" => p.g.as_slice(),
            "annual_g_factor" => p.annual_g_factor.as_slice(),
            _ => p.child_supplement_per_day.as_slice(),
        })
        .unwrap_or_default();
    let field = if description.contains("date") {
        "effective_from"
    } else {
        "value"
    };
    match entries.iter().rposition(|e| e.effective_from == date) {
        Some(i) => format!("{table}[{i}].{field}"),
        None => table.to_owned(),
    }
}

// ---- MonthResult -> proto -------------------------------------------------------

/// A line's place in the table of R15 (base, absence, unpaid leave, wage, child
/// supplement, other benefits); the rules compute them in another order.
fn r15_position(code: LineCode) -> u8 {
    match code {
        LineCode::KvpBase => 0,
        LineCode::KvpDeductionAbsence => 1,
        LineCode::KvpDeductionUnpaidLeave => 2,
        LineCode::KvpDeductionWage => 3,
        LineCode::KvpChildSupplement => 4,
        LineCode::KvpDeductionOtherBenefits => 5,
    }
}

fn line_code(code: LineCode) -> pb::LineCode {
    match code {
        LineCode::KvpBase => pb::LineCode::KvpBase,
        LineCode::KvpDeductionAbsence => pb::LineCode::KvpDeductionAbsence,
        LineCode::KvpDeductionUnpaidLeave => pb::LineCode::KvpDeductionUnpaidLeave,
        LineCode::KvpDeductionWage => pb::LineCode::KvpDeductionWage,
        LineCode::KvpChildSupplement => pb::LineCode::KvpChildSupplement,
        LineCode::KvpDeductionOtherBenefits => pb::LineCode::KvpDeductionOtherBenefits,
    }
}

fn flag(flag: Flag) -> pb::Flag {
    match flag {
        Flag::ChildSickQuotaExceeded => pb::Flag::ChildSickQuotaExceeded,
        Flag::DaysWithheldNoTimesheet => pb::Flag::DaysWithheldNoTimesheet,
        Flag::GRegulationPending => pb::Flag::GRegulationPending,
        Flag::LeaveQuotaExceeded => pb::Flag::LeaveQuotaExceeded,
        Flag::LongSickness => pb::Flag::LongSickness,
        Flag::SelfCertQuotaExceeded => pb::Flag::SelfCertQuotaExceeded,
        Flag::UnexcusedPendingDecision => pb::Flag::UnexcusedPendingDecision,
    }
}

/// `"RULES R5–R8, R10, R15; sosialtjenesteloven § 36"` as its rules
/// (`"R5–R8, R10, R15"`) and its legal source (`"sosialtjenesteloven § 36"`).
fn split_reference(reference: &str) -> (&str, &str) {
    let (rules, law) = reference.split_once("; ").unwrap_or((reference, ""));
    (rules.strip_prefix("RULES ").unwrap_or(rules), law)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> pb::MonthCase {
        pb::MonthCase {
            month: "2025-03".into(),
            participant: Some(pb::Participant {
                birth_date: "1990-01-15".into(),
                ..Default::default()
            }),
            programme: Some(pb::Programme {
                start_date: "2024-09-02".into(),
                ..Default::default()
            }),
            covered: vec![pb::DateRange {
                from_date: "2025-03-01".into(),
                to_date: "2025-03-31".into(),
            }],
            days: vec![pb::CaseDayEntry {
                date: "2025-03-04".into(),
                kind: pb::DayKind::Unexcused as i32,
                hours: "7.5".into(),
                decision: pb::SanctionDecision::Approved as i32,
            }],
            ..Default::default()
        }
    }

    fn field(error: ServiceError) -> Vec<(String, String)> {
        match error {
            ServiceError::InvalidArgument(v) => {
                v.into_iter().map(|v| (v.field, v.description)).collect()
            }
            other => panic!("not a field violation: {other}"),
        }
    }

    #[test]
    fn a_case_becomes_the_vectors_json_shape() {
        let json: serde_json::Value =
            serde_json::from_str(&case_json(&facts(), "facts").unwrap()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "month": "2025-03",
                "participant": {"birth_date": "1990-01-15", "children": [], "sole_carer": false},
                "programme": {"start": "2024-09-02", "pauses": []},
                "covered": [{"from": "2025-03-01", "to": "2025-03-31"}],
                "days": [{"date": "2025-03-04", "kind": "UNEXCUSED", "hours": "7.5", "decision": "APPROVED"}],
                "offsets": [],
            })
        );
    }

    #[test]
    fn unset_enums_are_refused_all_at_once() {
        let mut f = facts();
        f.days[0].kind = 0;
        f.offsets.push(pb::Offset {
            kind: 99,
            amount: "1".into(),
        });
        let violations = field(case_json(&f, "facts").unwrap_err());
        assert_eq!(
            violations,
            [
                (
                    "facts.days[0].kind".to_owned(),
                    "is required: DAY_KIND_UNSPECIFIED is not a value".to_owned()
                ),
                (
                    "facts.offsets[0].kind".to_owned(),
                    "99 is not a known OffsetKind".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn table_entries_keep_their_order_and_duplicates() {
        let entries = [
            ("2020-05-01", "1"),
            ("2019-05-01", "2"),
            ("2019-05-01", "3"),
        ]
        .map(|(d, v)| pb::DatedValue {
            effective_from: d.into(),
            value: v.into(),
        });
        let text = serde_json::to_string(&Table(&entries)).unwrap();
        assert_eq!(
            text,
            r#"{"2020-05-01":"1","2019-05-01":"2","2019-05-01":"3"}"#
        );
    }

    #[test]
    fn json_paths_become_proto_fields() {
        let mut f = facts();
        f.parameters = Some(pb::Parameters {
            g: [("2019-05-01", "1"), ("2020-05-01", "x")]
                .map(|(d, v)| pb::DatedValue {
                    effective_from: d.into(),
                    value: v.into(),
                })
                .to_vec(),
            ..Default::default()
        });
        let rename = |path: &str, message: &str| {
            let error = ServiceError::field(path, message);
            field(name_proto_fields(error, &f, "facts")).remove(0)
        };
        assert_eq!(
            rename("days[0].hours", "25 is outside 0–24").0,
            "facts.days[0].hours"
        );
        assert_eq!(
            rename("programme.start", "bad").0,
            "facts.programme.start_date"
        );
        assert_eq!(
            rename("programme.pauses[1].to", "bad").0,
            "facts.programme.pauses[1].to_date"
        );
        assert_eq!(
            rename("programmes[1].start", "overlaps").0,
            "facts.programmes[1].start_date"
        );
        assert_eq!(
            rename("programmes[0].pauses[2].from", "bad").0,
            "facts.programmes[0].pauses[2].from_date"
        );
        assert_eq!(
            rename("covered[0].from", "bad").0,
            "facts.covered[0].from_date"
        );
        assert_eq!(
            rename("programme", "missing field `start`"),
            (
                "facts.programme.start_date".to_owned(),
                "is required".to_owned()
            )
        );
        assert_eq!(
            rename("", "missing field `month` at line 1 column 80"),
            ("facts.month".to_owned(), "is required".to_owned())
        );
        assert_eq!(
            rename(
                "month",
                "`2025-13` is not a month of the form YYYY-MM at line 1 column 19"
            )
            .1,
            "`2025-13` is not a month of the form YYYY-MM"
        );
        assert_eq!(
            rename("parameters.g.2020-05-01", "`x` is not a decimal number").0,
            "facts.parameters.g[1].value"
        );
        assert_eq!(
            rename(
                "parameters.g.2020-05-01",
                "entries must be in date order, but 2020-05-01 follows 2021-05-01"
            )
            .0,
            "facts.parameters.g[1].effective_from"
        );
        assert_eq!(
            rename("parameters.under_25_factor", "bad").0,
            "facts.parameters.under_25_factor"
        );
    }

    #[test]
    fn references_split_into_rules_and_law() {
        assert_eq!(
            split_reference(LineCode::KvpDeductionAbsence.reference()),
            ("R5–R8, R10, R15", "sosialtjenesteloven § 36")
        );
    }
}
