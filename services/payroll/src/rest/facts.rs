//! Facts over time over HTTP: every fact that changes money — a child, a
//! sole-carer period, another benefit, a programme, a pause, a sanction
//! decision (`/v1/facts/{kind}/{id}`), a registered G
//! (`/v1/parameters/g/{effective_date}`) — read with its `ETag`, corrected
//! (`PUT`) or voided (`POST …/void`) from the version read (`If-Match`) with a
//! reason, and its versions listed with who recorded each, when and why.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use kvp_rules::{AbsenceKind, OffsetKind, YearMonth};
use kvp_store::{DecisionOutcome, FactContent, FactKind, FactVersion, PauseKind};
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;
use uuid::Uuid;

use super::auth::Caller;
use super::extract::{Body, Params};
use super::versions::{etag, precondition};
use super::{ApiResult, AppState};
use crate::error::{Problem, ServiceError};
use crate::payroll::{FactCorrection, kind_of_segment};

/// One version of a fact.
#[derive(Debug, Serialize, ToSchema)]
pub struct FactView {
    /// child, sole_carer_period, benefit_offset, programme, pause,
    /// sanction_decision or registered_g.
    pub kind: String,
    /// The fact's id (a G's: its effective date).
    pub id: String,
    /// The participant; null for a G.
    pub participant_id: Option<Uuid>,
    /// 1 when registered, one more at every correction or void: the `ETag`.
    pub version: i64,
    /// RECORDED, CORRECTED or VOIDED.
    pub change: String,
    /// Whether the fact is void from this version on (void is final).
    pub void: bool,
    /// The fact as of this version (for a void, what was voided), in the
    /// shape its correction takes.
    #[schema(value_type = Object)]
    pub fact: Value,
    /// Why it was corrected or voided; null when registered.
    pub reason: Option<String>,
    /// Who recorded the version.
    pub recorded_by: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub recorded_at: OffsetDateTime,
}

impl From<FactVersion> for FactView {
    fn from(version: FactVersion) -> Self {
        Self {
            kind: version.kind.as_str().to_owned(),
            id: version.fact_id,
            participant_id: version.participant_id,
            version: version.version,
            change: version.change.as_str().to_owned(),
            void: version.change == kvp_store::FactChangeKind::Voided,
            fact: fact_json(&version.content),
            reason: version.reason,
            recorded_by: version.recorded_by,
            recorded_at: version.recorded_at,
        }
    }
}

/// A fact's versions, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct FactHistory {
    /// Every version, 1 first.
    pub versions: Vec<FactView>,
}

/// A correction: the whole fact as it should be, and why.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectionBody {
    /// Why (1–1000 characters; kept in the fact's history and the audit
    /// trail, never sent in an event).
    #[schema(min_length = 1, max_length = 1000)]
    pub reason: String,
    /// The fact's fields, as its kind takes them: children `{birth_date,
    /// reference}`, sole-carer periods `{from, to}`, benefit offsets
    /// `{month, kind, amount}`, programmes `{start, end,
    /// decision_reference}`, pauses `{from, to, kind, reference}`, sanction
    /// decisions `{date, entry_kind, outcome, reference, reason,
    /// deducted_hours}` (the day and entry kind never change; hours deducted
    /// of the day, null for all).
    #[schema(value_type = ParticipantFact)]
    pub fact: Value,
}

/// A correction of a G: the G as it should be, and why.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GCorrectionBody {
    /// Why (1–1000 characters; kept in the G's history and the audit trail).
    #[schema(min_length = 1, max_length = 1000)]
    pub reason: String,
    /// The G's fields.
    #[schema(value_type = GFact)]
    pub fact: Value,
}

/// A participant's fact as a correction takes it: the shape of the path's
/// kind (a shape of another kind is 400).
#[derive(ToSchema)]
#[allow(dead_code, reason = "describes the OpenAPI schema only")]
#[serde(untagged)]
enum ParticipantFact {
    /// `children`.
    Child(ChildFact),
    /// `sole-carer-periods`.
    Period(PeriodFact),
    /// `benefit-offsets`.
    Offset(OffsetFact),
    /// `programmes`.
    Programme(ProgrammeFact),
    /// `pauses`.
    Pause(PauseFact),
    /// `sanction-decisions`.
    Decision(DecisionFact),
}

/// A void: why.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoidBody {
    /// Why (1–1000 characters).
    #[schema(min_length = 1, max_length = 1000)]
    pub reason: String,
}

/// A fact kind as a path names it under `/v1/facts` (another is 404).
#[derive(ToSchema)]
#[allow(dead_code, reason = "describes the OpenAPI schema only")]
pub enum FactKindSegment {
    #[schema(rename = "children")]
    Children,
    #[schema(rename = "sole-carer-periods")]
    SoleCarerPeriods,
    #[schema(rename = "benefit-offsets")]
    BenefitOffsets,
    #[schema(rename = "programmes")]
    Programmes,
    #[schema(rename = "pauses")]
    Pauses,
    #[schema(rename = "sanction-decisions")]
    SanctionDecisions,
}

/// The fact kinds under `/v1/facts` (a G is under `/v1/parameters/g`).
pub(crate) fn participant_fact(segment: &str) -> Result<FactKind, ServiceError> {
    kind_of_segment(segment)
        .filter(|kind| *kind != FactKind::RegisteredG)
        .ok_or_else(|| ServiceError::NotFound {
            what: format!(
                "fact kind {segment:?}: children, sole-carer-periods, benefit-offsets, \
                 programmes, pauses or sanction-decisions"
            ),
        })
}

/// A G's id: its effective date.
fn g_id(text: &str) -> Result<String, ServiceError> {
    crate::ingest::parse_date(text)
        .map(|date| date.to_string())
        .ok_or_else(|| ServiceError::field("effective_date", "must be a date YYYY-MM-DD"))
}

fn answer(version: FactVersion) -> impl IntoResponse {
    ([etag(version.version)], Json(FactView::from(version)))
}

/// Reads a fact's latest version, with its `ETag`.
#[utoipa::path(get, path = "/v1/facts/{kind}/{id}",
    params(("kind" = FactKindSegment, Path), ("id" = String, Path)),
    responses((status = 200, body = FactView, headers(("ETag" = String, description = "The latest version: If-Match of a correction or void."))), (status = 404, body = Problem)))]
pub async fn get_fact(
    State(payroll): AppState,
    Params((kind, id)): Params<(String, String)>,
) -> ApiResult<impl IntoResponse> {
    let kind = participant_fact(&kind)?;
    Ok(answer(payroll.fact(kind, &id).await?))
}

/// Lists a fact's versions: who recorded each, when and why.
#[utoipa::path(get, path = "/v1/facts/{kind}/{id}/versions",
    params(("kind" = FactKindSegment, Path), ("id" = String, Path)),
    responses((status = 200, body = FactHistory), (status = 404, body = Problem)))]
pub async fn fact_versions(
    State(payroll): AppState,
    Params((kind, id)): Params<(String, String)>,
) -> ApiResult<Json<FactHistory>> {
    let kind = participant_fact(&kind)?;
    history(payroll.fact_versions(kind, &id).await?)
}

fn history(versions: Vec<FactVersion>) -> ApiResult<Json<FactHistory>> {
    Ok(Json(FactHistory {
        versions: versions.into_iter().map(FactView::from).collect(),
    }))
}

/// Corrects a fact: the whole fact as it should be, from the version read
/// (`If-Match`: 428 without, 412 when stale), with a reason. The next close
/// pays or recovers the difference, attributed to the months corrected.
#[utoipa::path(put, path = "/v1/facts/{kind}/{id}",
    params(("kind" = FactKindSegment, Path), ("id" = String, Path), ("If-Match" = String, Header, description = "The ETag read (required).")),
    request_body = CorrectionBody,
    responses(
        (status = 200, body = FactView, headers(("ETag" = String, description = "The version recorded."))),
        (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "the fact is void, or the correction duplicates or overlaps another fact"),
        (status = 412, body = Problem, description = "the fact is not at the version If-Match names"),
        (status = 428, body = Problem, description = "If-Match is required"),
    ))]
pub async fn correct_fact(
    State(payroll): AppState,
    Params((kind, id)): Params<(String, String)>,
    headers: HeaderMap,
    caller: Caller,
    Body(body): Body<CorrectionBody>,
) -> ApiResult<impl IntoResponse> {
    let kind = participant_fact(&kind)?;
    change(
        &payroll,
        (kind, &id),
        &headers,
        &caller,
        body.reason,
        Some(body.fact),
    )
    .await
}

/// Voids a fact from the version read (`If-Match`), with a reason: it no
/// longer counts, from the first month it reached; its versions stay.
#[utoipa::path(post, path = "/v1/facts/{kind}/{id}/void",
    params(("kind" = FactKindSegment, Path), ("id" = String, Path), ("If-Match" = String, Header, description = "The ETag read (required).")),
    request_body = VoidBody,
    responses(
        (status = 200, body = FactView, headers(("ETag" = String, description = "The version recorded."))),
        (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "the fact is void already"),
        (status = 412, body = Problem, description = "the fact is not at the version If-Match names"),
        (status = 428, body = Problem, description = "If-Match is required"),
    ))]
pub async fn void_fact(
    State(payroll): AppState,
    Params((kind, id)): Params<(String, String)>,
    headers: HeaderMap,
    caller: Caller,
    Body(body): Body<VoidBody>,
) -> ApiResult<impl IntoResponse> {
    let kind = participant_fact(&kind)?;
    change(&payroll, (kind, &id), &headers, &caller, body.reason, None).await
}

/// Reads a registered G's latest version, with its `ETag`.
#[utoipa::path(get, path = "/v1/parameters/g/{effective_date}",
    params(("effective_date" = String, Path, description = "YYYY-MM-DD")),
    responses((status = 200, body = FactView, headers(("ETag" = String, description = "The latest version."))), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn get_g(
    State(payroll): AppState,
    Params(date): Params<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(answer(
        payroll.fact(FactKind::RegisteredG, &g_id(&date)?).await?,
    ))
}

/// Lists a registered G's versions.
#[utoipa::path(get, path = "/v1/parameters/g/{effective_date}/versions",
    params(("effective_date" = String, Path, description = "YYYY-MM-DD")),
    responses((status = 200, body = FactHistory), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn g_versions(
    State(payroll): AppState,
    Params(date): Params<String>,
) -> ApiResult<Json<FactHistory>> {
    history(
        payroll
            .fact_versions(FactKind::RegisteredG, &g_id(&date)?)
            .await?,
    )
}

/// Corrects a registered G (`{value, reference}`) from the version read;
/// the next close recomputes every month from its effective date.
#[utoipa::path(put, path = "/v1/parameters/g/{effective_date}",
    params(("effective_date" = String, Path, description = "YYYY-MM-DD"), ("If-Match" = String, Header, description = "The ETag read (required).")),
    request_body = GCorrectionBody,
    responses(
        (status = 200, body = FactView, headers(("ETag" = String, description = "The version recorded."))),
        (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "the G is void"),
        (status = 412, body = Problem, description = "the G is not at the version If-Match names"),
        (status = 428, body = Problem, description = "If-Match is required"),
    ))]
pub async fn correct_g(
    State(payroll): AppState,
    Params(date): Params<String>,
    headers: HeaderMap,
    caller: Caller,
    Body(body): Body<GCorrectionBody>,
) -> ApiResult<impl IntoResponse> {
    let id = g_id(&date)?;
    let fact = Some(body.fact);
    change(
        &payroll,
        (FactKind::RegisteredG, &id),
        &headers,
        &caller,
        body.reason,
        fact,
    )
    .await
}

/// Voids a registered G from the version read: the shipped table holds
/// again from its effective date (a G may be registered anew after).
#[utoipa::path(post, path = "/v1/parameters/g/{effective_date}/void",
    params(("effective_date" = String, Path, description = "YYYY-MM-DD"), ("If-Match" = String, Header, description = "The ETag read (required).")),
    request_body = VoidBody,
    responses(
        (status = 200, body = FactView, headers(("ETag" = String, description = "The version recorded."))),
        (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "the G is void already"),
        (status = 412, body = Problem, description = "the G is not at the version If-Match names"),
        (status = 428, body = Problem, description = "If-Match is required"),
    ))]
pub async fn void_g(
    State(payroll): AppState,
    Params(date): Params<String>,
    headers: HeaderMap,
    caller: Caller,
    Body(body): Body<VoidBody>,
) -> ApiResult<impl IntoResponse> {
    let id = g_id(&date)?;
    change(
        &payroll,
        (FactKind::RegisteredG, &id),
        &headers,
        &caller,
        body.reason,
        None,
    )
    .await
}

/// Corrects (`fact`: the fact as it should be) or voids (`None`) a fact from
/// the version `If-Match` names; answers the version recorded.
async fn change(
    payroll: &crate::payroll::Payroll,
    (kind, id): (FactKind, &str),
    headers: &HeaderMap,
    caller: &Caller,
    reason: String,
    fact: Option<Value>,
) -> ApiResult<impl IntoResponse + use<>> {
    let correction = FactCorrection {
        precondition: precondition(headers)?,
        content: fact.map(|fact| fact_content(kind, fact)).transpose()?,
        reason,
    };
    let version = payroll
        .correct_fact(kind, id, correction, &caller.actor())
        .await?;
    Ok(answer(version))
}

/// A fact's fields as the API shows them and a correction takes them:
/// months `YYYY-MM`, amounts with two decimals.
pub(crate) fn fact_json(content: &FactContent) -> Value {
    let amount = |a: Decimal| kvp_rules::format_amount(a);
    match content {
        FactContent::Child {
            birth_date,
            reference,
        } => json!({"birth_date": birth_date, "reference": reference}),
        FactContent::SoleCarerPeriod { from, to } => json!({"from": from, "to": to}),
        FactContent::BenefitOffset {
            month,
            kind,
            amount: value,
        } => json!({
            "month": YearMonth::of(*month).to_string(), "kind": kind, "amount": amount(*value),
        }),
        FactContent::Programme {
            start,
            end,
            decision_reference,
        } => json!({"start": start, "end": end, "decision_reference": decision_reference}),
        FactContent::Pause {
            from,
            to,
            kind,
            reference,
        } => json!({"from": from, "to": to, "kind": kind, "reference": reference}),
        FactContent::SanctionDecision {
            date,
            entry_kind,
            outcome,
            reference,
            reason,
            deducted_hours,
        } => json!({
            "date": date, "entry_kind": entry_kind, "outcome": outcome,
            "reference": reference, "reason": reason,
            "deducted_hours": deducted_hours.map(amount),
        }),
        FactContent::RegisteredG { value, reference } => {
            json!({"value": amount(*value), "reference": reference})
        }
    }
}

/// Reads a correction's `fact` as its kind takes it; a field error names
/// the field under `fact`.
pub(crate) fn fact_content(kind: FactKind, fact: Value) -> Result<FactContent, ServiceError> {
    fn read<T: DeserializeOwned>(fact: &Value) -> Result<T, ServiceError> {
        let bytes = serde_json::to_vec(fact).map_err(ServiceError::internal)?;
        super::extract::parse(&bytes).map_err(|e| match e {
            ServiceError::InvalidArgument(violations) => ServiceError::InvalidArgument(
                violations
                    .into_iter()
                    .map(|mut v| {
                        v.field = if v.field == "body" {
                            "fact".to_owned()
                        } else {
                            format!("fact.{}", v.field)
                        };
                        v
                    })
                    .collect(),
            ),
            other => other,
        })
    }
    fn parsed<T: std::str::FromStr>(
        text: &str,
        field: &str,
        what: &str,
    ) -> Result<T, ServiceError> {
        text.parse()
            .map_err(|_| ServiceError::field(format!("fact.{field}"), format!("must be {what}")))
    }
    Ok(match kind {
        FactKind::Child => {
            let f: ChildFact = read(&fact)?;
            FactContent::Child {
                birth_date: f.birth_date,
                reference: f.reference,
            }
        }
        FactKind::SoleCarerPeriod => {
            let f: PeriodFact = read(&fact)?;
            FactContent::SoleCarerPeriod {
                from: f.from,
                to: f.to,
            }
        }
        FactKind::BenefitOffset => {
            let f: OffsetFact = read(&fact)?;
            FactContent::BenefitOffset {
                month: f.month.first_day(),
                kind: f.kind,
                amount: f.amount,
            }
        }
        FactKind::Programme => {
            let f: ProgrammeFact = read(&fact)?;
            FactContent::Programme {
                start: f.start,
                end: f.end,
                decision_reference: f.decision_reference,
            }
        }
        FactKind::Pause => {
            let f: PauseFact = read(&fact)?;
            FactContent::Pause {
                from: f.from,
                to: f.to,
                kind: parsed::<PauseKind>(&f.kind, "kind", "INTERRUPTED or STOPPED")?,
                reference: f.reference,
            }
        }
        FactKind::SanctionDecision => {
            let f: DecisionFact = read(&fact)?;
            FactContent::SanctionDecision {
                date: f.date,
                entry_kind: parsed::<AbsenceKind>(&f.entry_kind, "entry_kind", "an entry kind")?,
                outcome: parsed::<DecisionOutcome>(&f.outcome, "outcome", "APPROVED or REJECTED")?,
                reference: f.reference,
                reason: f.reason,
                deducted_hours: f.deducted_hours,
            }
        }
        FactKind::RegisteredG => {
            let f: GFact = read(&fact)?;
            FactContent::RegisteredG {
                value: f.value,
                reference: f.reference,
            }
        }
    })
}

/// A child, as corrected.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ChildFact {
    /// Birth date.
    birth_date: Date,
    /// The case system's reference, 1–100 characters.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    reference: Option<String>,
}

/// A sole-carer period, as corrected.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PeriodFact {
    /// First day.
    from: Date,
    /// Last day (not before `from`); null while open-ended.
    #[serde(default)]
    to: Option<Date>,
}

/// Another benefit, as corrected.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct OffsetFact {
    /// The month, `YYYY-MM`.
    #[schema(value_type = String, pattern = "^[0-9]{4}-(0[1-9]|1[0-2])$")]
    month: YearMonth,
    /// SYKEPENGER, DAGPENGER, FORELDREPENGER or OTHER_LIVELIHOOD.
    #[schema(
        value_type = String,
        pattern = "^(SYKEPENGER|DAGPENGER|FORELDREPENGER|OTHER_LIVELIHOOD)$"
    )]
    kind: OffsetKind,
    /// Kroner and øre, 0 to 10 000 000.
    #[schema(
        value_type = String,
        pattern = r"^0*([0-9]{1,7}(\.[0-9]{1,2})?|10000000(\.0{1,2})?)$"
    )]
    amount: Decimal,
}

/// A programme, as corrected.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ProgrammeFact {
    /// First day.
    start: Date,
    /// Last day (not before `start`); null while undecided.
    #[serde(default)]
    end: Option<Date>,
    /// The decision's reference.
    #[schema(min_length = 1, pattern = r"\S")]
    decision_reference: String,
}

/// A pause, as corrected.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PauseFact {
    /// First day.
    from: Date,
    /// Last day (not before `from`); null while open-ended.
    #[serde(default)]
    to: Option<Date>,
    /// INTERRUPTED or STOPPED.
    #[schema(pattern = "^(INTERRUPTED|STOPPED)$")]
    kind: String,
    /// The decision's reference.
    #[schema(min_length = 1)]
    reference: String,
}

/// A sanction decision, as corrected.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct DecisionFact {
    /// The day (never changes).
    date: Date,
    /// The entry kind decided on (never changes).
    #[schema(pattern = "^(UNEXCUSED|SICK_SELF|LEAVE|CHILD_SICK)$")]
    entry_kind: String,
    /// APPROVED or REJECTED.
    #[schema(pattern = "^(APPROVED|REJECTED)$")]
    outcome: String,
    /// The decision's reference.
    #[schema(min_length = 1, pattern = r"\S")]
    reference: String,
    /// The grounds.
    #[serde(default)]
    #[schema(nullable = false)]
    reason: String,
    /// Hours of the day deducted; null for all.
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = r"^[0-9]+(\.[0-9]{1,2})?$")]
    deducted_hours: Option<Decimal>,
}

/// A G, as corrected.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct GFact {
    /// Kroner and øre, above 0 and at most 10 000 000.
    #[schema(
        value_type = String,
        pattern = r"^0*([1-9][0-9]{0,6}(\.[0-9]{1,2})?|10000000(\.0{1,2})?)$"
    )]
    value: Decimal,
    /// The decision it comes from.
    #[schema(min_length = 1, pattern = r"\S")]
    reference: String,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use kvp_store::FactKind;
    use utoipa::OpenApi;

    #[test]
    fn the_documented_fact_kinds_are_the_paths_kinds() {
        let doc = serde_json::to_value(crate::rest::ApiDoc::openapi()).unwrap();
        let documented: Vec<String> =
            serde_json::from_value(doc["components"]["schemas"]["FactKindSegment"]["enum"].clone())
                .unwrap();
        let served: Vec<&str> = FactKind::ALL
            .into_iter()
            .filter(|kind| *kind != FactKind::RegisteredG)
            .map(crate::payroll::path_segment)
            .collect();
        assert_eq!(documented, served);
    }
}
