//! Simulations: the rules engine on posted facts, storing nothing.

use axum::Json;
use axum::extract::State;
use utoipa::ToSchema;

use super::municipalities::{PolicyOverridesSchema, non_negative_decimal};
use super::{ApiResult, AppState};
use crate::error::{Problem, ServiceError};

// The case as the OpenAPI document describes it. Only the document reads
// these types: the body is read by `kvp_rules::Case`, which also takes a
// whole golden-vector file (`{name, rules, input, expected}`); the system
// test `bounds` holds every golden vector's `input` to this schema.

/// The facts of one participant's month, as a golden vector's `input`.
#[derive(ToSchema)]
#[allow(dead_code, reason = "describes the OpenAPI schema only")]
pub struct CaseSchema {
    /// The month, `YYYY-MM`.
    #[schema(pattern = "^[0-9]{4}-(0[1-9]|1[0-2])$", example = "2025-03")]
    month: String,
    /// Dated parameter tables overlaying the shipped ones (`g`,
    /// `annual_g_factor`, `child_supplement_per_day`: date → value;
    /// `under_25_factor`: `"n/d"`).
    #[schema(value_type = Option<Object>)]
    parameters: Option<()>,
    /// The participant.
    participant: CaseParticipantSchema,
    /// One programme period (R3) …
    programme: Option<CaseProgrammeSchema>,
    /// … or several, never overlapping.
    programmes: Option<Vec<CaseProgrammeSchema>>,
    /// The days accepted timesheets cover.
    covered: Option<Vec<CaseRangeSchema>>,
    /// Day entries.
    days: Option<Vec<CaseDaySchema>>,
    /// Policy values overriding the national defaults.
    policy: Option<PolicyOverridesSchema>,
    /// Other livelihood benefits of the month (R11).
    offsets: Option<Vec<CaseOffsetSchema>>,
}

/// The participant of a case.
#[derive(ToSchema)]
#[allow(dead_code, reason = "describes the OpenAPI schema only")]
pub struct CaseParticipantSchema {
    /// Birth date.
    birth_date: time::Date,
    /// Children, by birth date.
    children: Option<Vec<CaseChildSchema>>,
    /// Whether the participant is a sole carer (R8).
    sole_carer: Option<bool>,
}

/// A child of a case.
#[derive(ToSchema)]
#[allow(dead_code, reason = "describes the OpenAPI schema only")]
pub struct CaseChildSchema {
    /// Birth date.
    birth_date: time::Date,
}

/// A programme period of a case.
#[derive(ToSchema)]
#[allow(dead_code, reason = "describes the OpenAPI schema only")]
pub struct CaseProgrammeSchema {
    /// First day.
    start: time::Date,
    /// Last day, if decided.
    end: Option<time::Date>,
    /// Interruptions and stops.
    pauses: Option<Vec<CasePauseSchema>>,
}

/// A pause of a programme period.
#[derive(ToSchema)]
#[allow(dead_code, reason = "describes the OpenAPI schema only")]
pub struct CasePauseSchema {
    /// First day.
    from: time::Date,
    /// Last day; absent while open-ended.
    to: Option<time::Date>,
    /// `INTERRUPTED` or `STOPPED`.
    #[schema(pattern = "^(INTERRUPTED|STOPPED)$")]
    kind: String,
}

/// A range of days.
#[derive(ToSchema)]
#[allow(dead_code, reason = "describes the OpenAPI schema only")]
pub struct CaseRangeSchema {
    /// First day.
    from: time::Date,
    /// Last day; absent while open-ended.
    to: Option<time::Date>,
}

/// A day entry of a case.
#[derive(ToSchema)]
#[allow(dead_code, reason = "describes the OpenAPI schema only")]
pub struct CaseDaySchema {
    /// The day.
    date: time::Date,
    /// What the hours were.
    #[schema(
        pattern = "^(ATTENDED|PAID_WORK|SICK_SELF|SICK_CERTIFIED|CHILD_SICK|WELFARE|LEAVE|APPROVED_UNPAID|UNEXCUSED)$"
    )]
    kind: String,
    /// Hours, 0 to 24: a JSON number or a decimal string, read exactly.
    #[schema(schema_with = non_negative_decimal)]
    hours: (),
    /// `APPROVED` or `REJECTED`; absent while pending.
    #[schema(pattern = "^(APPROVED|REJECTED)$")]
    decision: Option<String>,
}

/// A benefit of a case (R11).
#[derive(ToSchema)]
#[allow(dead_code, reason = "describes the OpenAPI schema only")]
pub struct CaseOffsetSchema {
    /// `SYKEPENGER`, `DAGPENGER`, `FORELDREPENGER` or `OTHER_LIVELIHOOD`.
    #[schema(pattern = "^(SYKEPENGER|DAGPENGER|FORELDREPENGER|OTHER_LIVELIHOOD)$")]
    kind: String,
    /// Kroner for the month: a JSON number or a decimal string, read exactly.
    #[schema(schema_with = non_negative_decimal)]
    amount: (),
}

/// The rules engine on posted facts: a case in the golden vectors' shape.
#[utoipa::path(post, path = "/v1/simulations", request_body(content = CaseSchema, description = "a case: month, participant, programme (or programmes: several periods, never overlapping), covered, days, policy, offsets, parameters; a whole golden-vector file ({name, rules, input, expected}) is taken as well"),
    responses((status = 200, description = "lines, total, quantities, flags, explanation"), (status = 400, body = Problem)))]
pub async fn simulate(
    State(payroll): AppState,
    body: bytes::Bytes,
) -> ApiResult<Json<kvp_rules::MonthResult>> {
    let text = std::str::from_utf8(&body)
        .map_err(|_| ServiceError::field("body", "must be UTF-8 JSON"))?;
    Ok(Json(payroll.simulate(text).await?))
}
