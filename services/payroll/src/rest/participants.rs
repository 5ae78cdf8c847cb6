//! Participants and the facts a caseworker registers about them (children,
//! sole-carer periods, other benefits), and what the rules give for them now:
//! the quota overview and a month.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use kvp_rules::{OffsetKind, YearMonth};
use kvp_store::{ParticipantFacts, ProgrammeWithPauses};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::{Date, OffsetDateTime};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::auth::Caller;
use super::extract::{Body, Id, Month, Params, QueryParams};
use super::{ApiResult, AppState, created};
use crate::error::{Problem, ServiceError};
use crate::ingest::QuotaSummary;
use crate::payroll;

/// A new participant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewParticipant {
    /// The municipality (four digits).
    #[schema(pattern = "^[0-9]{4}$", example = "0301")]
    pub municipality_id: String,
    /// National identity number or D-number (11 digits: a real birth date,
    /// day + 40 for a D-number, and both modulus-11 check digits; format
    /// `no-national-id`); stored only protected.
    #[schema(pattern = "^[0-9]{11}$", format = "no-national-id")]
    pub national_id: String,
    /// Name shown to caseworkers.
    #[schema(min_length = 1, pattern = r"\S")]
    pub display_name: String,
    /// Children's birth dates.
    #[serde(default)]
    pub children: Vec<Date>,
}

/// A participant as the API shows it: never the identity number.
#[derive(Debug, Serialize, ToSchema)]
pub struct ParticipantView {
    /// Participant id.
    pub id: Uuid,
    /// Municipality.
    pub municipality_id: String,
    /// Birth date, derived from the identity number.
    pub birth_date: Date,
    /// Name.
    pub display_name: String,
    /// Children, by birth date.
    pub children: Vec<ChildView>,
    /// Periods as a sole carer, by first day.
    pub sole_carer_periods: Vec<SoleCarerView>,
    /// Other livelihood benefits, by month and kind.
    pub benefit_offsets: Vec<OffsetView>,
    /// Programme decisions with their pauses.
    pub programmes: Vec<ProgrammeView>,
}

/// A period as a sole carer (correct or void it at
/// `/v1/facts/sole-carer-periods/{id}`).
#[derive(Debug, Serialize, ToSchema)]
pub struct SoleCarerView {
    /// Period id.
    pub id: Uuid,
    /// First day.
    pub from: Date,
    /// Last day; null while open-ended.
    pub to: Option<Date>,
}

/// Another livelihood benefit of a month (correct or void it at
/// `/v1/facts/benefit-offsets/{id}`).
#[derive(Debug, Serialize, ToSchema)]
pub struct OffsetView {
    /// Offset id.
    pub id: Uuid,
    /// The month, `YYYY-MM`.
    pub month: String,
    /// SYKEPENGER, DAGPENGER, FORELDREPENGER or OTHER_LIVELIHOOD.
    #[schema(value_type = String)]
    pub kind: OffsetKind,
    /// Amount in kroner, two decimals.
    #[schema(value_type = String, example = "4500.00")]
    pub amount: String,
}

/// A pause of a programme (correct or void it at `/v1/facts/pauses/{id}`).
#[derive(Debug, Serialize, ToSchema)]
pub struct PauseView {
    /// Pause id.
    pub id: Uuid,
    /// First day.
    pub from: Date,
    /// Last day; null while open-ended.
    pub to: Option<Date>,
    /// INTERRUPTED or STOPPED.
    pub kind: String,
    /// The decision's reference.
    pub reference: String,
}

/// A child of a participant (correct or void it at `/v1/facts/children/{id}`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ChildView {
    /// Child id.
    pub id: Uuid,
    /// Birth date.
    pub birth_date: Date,
    /// The case system's reference for the child, if given.
    pub reference: Option<String>,
}

/// A programme decision (correct or void it at `/v1/facts/programmes/{id}`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ProgrammeView {
    /// Programme id.
    pub id: Uuid,
    /// First day.
    pub start: Date,
    /// Last day, if decided.
    pub end: Option<Date>,
    /// The decision's reference.
    pub decision_reference: String,
    /// Interruptions and stops.
    pub pauses: Vec<PauseView>,
}

impl From<ParticipantFacts> for ParticipantView {
    fn from(facts: ParticipantFacts) -> Self {
        Self {
            id: facts.participant.id,
            municipality_id: facts.participant.municipality_id,
            birth_date: facts.participant.birth_date,
            display_name: facts.participant.display_name,
            children: facts
                .children
                .into_iter()
                .map(|c| ChildView {
                    id: c.id,
                    birth_date: c.birth_date,
                    reference: c.reference,
                })
                .collect(),
            sole_carer_periods: facts
                .sole_carer_periods
                .into_iter()
                .map(|p| SoleCarerView {
                    id: p.id,
                    from: p.from,
                    to: p.to,
                })
                .collect(),
            benefit_offsets: facts
                .offsets
                .into_iter()
                .map(|o| OffsetView {
                    id: o.id,
                    month: YearMonth::of(o.month).to_string(),
                    kind: o.kind,
                    amount: kvp_rules::format_amount(o.amount),
                })
                .collect(),
            programmes: facts.programmes.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<ProgrammeWithPauses> for ProgrammeView {
    fn from(p: ProgrammeWithPauses) -> Self {
        Self {
            id: p.programme.id,
            start: p.programme.start,
            end: p.programme.end,
            decision_reference: p.programme.decision_reference,
            pauses: p
                .pauses
                .into_iter()
                .map(|x| PauseView {
                    id: x.id,
                    from: x.from,
                    to: x.to,
                    kind: x.kind.as_str().to_owned(),
                    reference: x.reference,
                })
                .collect(),
        }
    }
}

/// Registers a participant; the identity number is validated (mod 11) and the
/// birth date derived from it.
#[utoipa::path(post, path = "/v1/participants", request_body = NewParticipant,
    responses((status = 201, body = ParticipantView), (status = 400, body = Problem), (status = 409, body = Problem)))]
pub async fn create_participant(
    State(payroll): AppState,
    caller: Caller,
    Body(body): Body<NewParticipant>,
) -> ApiResult<Response> {
    let new = payroll::NewParticipant {
        municipality_id: body.municipality_id,
        national_id: body.national_id,
        display_name: body.display_name,
        children: body.children,
    };
    let facts = payroll.register_participant(new, &caller.actor()).await?;
    Ok(created(ParticipantView::from(facts)))
}

/// Reads a participant.
#[utoipa::path(get, path = "/v1/participants/{id}", params(("id" = String, Path)), responses((status = 200, body = ParticipantView), (status = 404, body = Problem)))]
pub async fn get_participant(
    State(payroll): AppState,
    Params(Id(id)): Params<Id>,
) -> ApiResult<Json<ParticipantView>> {
    Ok(Json(payroll.facts(id).await?.into()))
}

/// A child.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChildBody {
    /// Birth date.
    pub birth_date: Date,
    /// The case system's reference for the child (1–100 characters): tells
    /// twins apart, and a reference registered already is a duplicate.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub reference: Option<String>,
    /// Confirms a child born the same day as one registered (twins) when no
    /// reference is given.
    #[serde(default)]
    pub twin: bool,
}

/// Adds a child (child supplement, child's-sickness quota). A child born the
/// same day as one registered is refused with 409 naming it (a retry, most
/// likely) unless `reference` tells it apart or `twin` confirms it.
#[utoipa::path(post, path = "/v1/participants/{id}/children", params(("id" = String, Path)), request_body = ChildBody,
    responses((status = 201, body = ParticipantView), (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn add_child(
    State(payroll): AppState,
    Params(Id(id)): Params<Id>,
    caller: Caller,
    Body(body): Body<ChildBody>,
) -> ApiResult<Response> {
    let child = payroll::NewChild {
        birth_date: body.birth_date,
        reference: body.reference,
        twin: body.twin,
    };
    let facts = payroll.add_child(id, child, &caller.actor()).await?;
    Ok(created(ParticipantView::from(facts)))
}

/// A period as a sole carer (doubles the child's-sickness quota).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PeriodBody {
    /// First day.
    pub from: Date,
    /// Last day, if known.
    #[serde(default)]
    pub to: Option<Date>,
}

/// Registers a period in which the participant is a sole carer.
#[utoipa::path(post, path = "/v1/participants/{id}/sole-carer-periods", params(("id" = String, Path)), request_body = PeriodBody,
    responses((status = 201, description = "registered"), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn add_sole_carer_period(
    State(payroll): AppState,
    Params(Id(id)): Params<Id>,
    caller: Caller,
    Body(body): Body<PeriodBody>,
) -> ApiResult<Response> {
    let period = payroll
        .add_sole_carer_period(id, body.from, body.to, &caller.actor())
        .await?;
    Ok(created(json!({"id": period})))
}

/// Another livelihood benefit for a month (R11).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OffsetBody {
    /// The month, `YYYY-MM`.
    #[schema(value_type = String, pattern = "^[0-9]{4}-(0[1-9]|1[0-2])$", example = "2025-03")]
    pub month: YearMonth,
    /// SYKEPENGER, DAGPENGER, FORELDREPENGER or OTHER_LIVELIHOOD.
    #[schema(
        value_type = String,
        pattern = "^(SYKEPENGER|DAGPENGER|FORELDREPENGER|OTHER_LIVELIHOOD)$",
        example = "DAGPENGER"
    )]
    pub kind: OffsetKind,
    /// Amount in kroner and øre, from 0 to 10 000 000 (the largest monthly
    /// benefit of sense, `kvp_rules::bounds::OFFSET_MAX`).
    #[schema(
        value_type = String,
        pattern = r"^0*([0-9]{1,7}(\.[0-9]{1,2})?|10000000(\.0{1,2})?)$",
        example = "4500.00"
    )]
    pub amount: Decimal,
}

/// Registers another livelihood benefit that reduces a month's stipend: one
/// per month and kind, a second is refused with 409 naming the first.
#[utoipa::path(post, path = "/v1/participants/{id}/benefit-offsets", params(("id" = String, Path)), request_body = OffsetBody,
    responses((status = 201, description = "registered"), (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn add_benefit_offset(
    State(payroll): AppState,
    Params(Id(id)): Params<Id>,
    caller: Caller,
    Body(body): Body<OffsetBody>,
) -> ApiResult<Response> {
    let offset = payroll
        .add_benefit_offset(id, body.month, body.kind, body.amount, &caller.actor())
        .await?;
    Ok(created(json!({"id": offset})))
}

/// The date an overview holds for.
#[derive(Debug, Deserialize, IntoParams)]
pub struct AsOf {
    /// The date, `YYYY-MM-DD`; today if absent.
    pub as_of: Option<String>,
}

/// The quotas used and left on a date: the count caseworkers keep by hand today.
#[utoipa::path(get, path = "/v1/participants/{id}/absence-overview", params(AsOf, ("id" = String, Path)),
    responses((status = 200, body = QuotaSummary), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "the participant has no programme decision (reason NO_PROGRAMME)", body = Problem)))]
pub async fn absence_overview(
    State(payroll): AppState,
    Params(Id(id)): Params<Id>,
    QueryParams(q): QueryParams<AsOf>,
) -> ApiResult<Json<QuotaSummary>> {
    let as_of = match q.as_of {
        Some(text) => crate::ingest::parse_date(&text)
            .ok_or_else(|| ServiceError::field("as_of", "must be a date YYYY-MM-DD"))?,
        None => crate::clock::today(),
    };
    Ok(Json(payroll.absence_overview(id, as_of).await?))
}

/// A participant's month as the rules compute it now, line by line with its explanation.
#[utoipa::path(get, path = "/v1/participants/{id}/months/{month}", params(("id" = String, Path), ("month" = String, Path)),
    responses((status = 200, description = "lines, total, quantities, flags, explanation"), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "no programme decision, or a stored fact the rules refuse (the reason a close holds the participant with)", body = Problem)))]
pub async fn month(
    State(payroll): AppState,
    Params(path): Params<(Id, Month)>,
) -> ApiResult<Json<kvp_rules::MonthResult>> {
    let (Id(id), Month(month)) = path;
    Ok(Json(payroll.month(id, month).await?))
}

/// A participant's employee number, as given.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmployeeNumberBody {
    /// The payroll system's employee number (ansattnummer): 1–32 letters,
    /// digits, `-`, `_`, `.` or `/`, unique in the municipality.
    #[schema(pattern = "^[A-Za-z0-9._/-]{1,32}$", example = "100234")]
    pub employee_number: String,
}

/// A participant's employee number.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmployeeNumberView {
    /// The participant.
    pub participant_id: Uuid,
    /// The employee number.
    pub employee_number: String,
    /// Its version: the `ETag`.
    pub version: i64,
    /// Who registered this version.
    pub registered_by: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub registered_at: OffsetDateTime,
}

fn employee_number_answer(number: kvp_store::EmployeeNumber) -> impl IntoResponse {
    (
        [super::versions::etag(number.version)],
        Json(EmployeeNumberView {
            participant_id: number.participant_id,
            employee_number: number.employee_number,
            version: number.version,
            registered_by: number.registered_by,
            registered_at: number.registered_at,
        }),
    )
}

/// Reads a participant's employee number, with its `ETag`.
#[utoipa::path(get, path = "/v1/participants/{id}/employee-number", params(("id" = String, Path)),
    responses((status = 200, body = EmployeeNumberView, headers(("ETag" = String, description = "The stored version: If-Match of a change."))), (status = 404, body = Problem)))]
pub async fn get_employee_number(
    State(payroll): AppState,
    Params(Id(id)): Params<Id>,
) -> ApiResult<impl IntoResponse> {
    Ok(employee_number_answer(payroll.employee_number(id).await?))
}

/// Registers a participant's employee number (no precondition, or
/// `If-None-Match: *`), or changes it from the version read (`If-Match`:
/// 428 without, 412 when stale). Pay lines and exports carry it.
#[utoipa::path(put, path = "/v1/participants/{id}/employee-number",
    params(("id" = String, Path), ("If-Match" = Option<String>, Header, description = "The ETag read: required to change a registered number.")),
    request_body = EmployeeNumberBody,
    responses(
        (status = 200, body = EmployeeNumberView, headers(("ETag" = String, description = "The version stored."))),
        (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "another participant of the municipality has the number"),
        (status = 412, body = Problem, description = "not at the version If-Match names, or registered despite If-None-Match"),
        (status = 428, body = Problem, description = "a number is registered: If-Match is required"),
    ))]
pub async fn put_employee_number(
    State(payroll): AppState,
    Params(Id(id)): Params<Id>,
    headers: axum::http::HeaderMap,
    caller: Caller,
    Body(body): Body<EmployeeNumberBody>,
) -> ApiResult<impl IntoResponse> {
    let precondition = super::versions::precondition(&headers)?;
    let number = payroll
        .set_employee_number(id, &body.employee_number, precondition, &caller.actor())
        .await?;
    Ok(employee_number_answer(number))
}
