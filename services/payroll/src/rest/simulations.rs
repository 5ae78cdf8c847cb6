//! Simulations: the rules engine on posted facts, storing nothing.

use axum::Json;
use axum::extract::State;
use utoipa::ToSchema;
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};

use super::municipalities::{PolicyOverridesSchema, benefit_amount, entry_hours};
use super::schemas::{Lower, exact_decimal, or_null};
use super::{ApiResult, AppState};
use crate::error::{Problem, ServiceError};

// The case as the OpenAPI document describes it. Only the document reads
// these types: the body is read by `kvp_rules::Case`, which also takes a
// whole golden-vector file (`{name, rules, input, expected}`); the system
// test `bounds` holds every golden vector's `input` to this schema.

/// What `POST /v1/simulations` takes: a case, or a whole case file.
#[derive(ToSchema)]
#[allow(dead_code, reason = "describes the OpenAPI schema only")]
#[serde(untagged)]
pub enum SimulationRequest {
    /// The case itself.
    Case(CaseSchema),
    /// A golden-vector file holding the case as its `input`.
    File(CaseFileSchema),
}

/// A golden-vector file: the case as its `input`, with what it documents.
#[derive(ToSchema)]
#[allow(dead_code, reason = "describes the OpenAPI schema only")]
#[serde(deny_unknown_fields)]
pub struct CaseFileSchema {
    /// The case's name.
    name: Option<String>,
    /// The rules it exercises (R1–R15), for the reader.
    #[schema(nullable = false)]
    rules: Option<Vec<String>>,
    /// The case.
    input: CaseSchema,
    /// What the case should give, any JSON; not used to compute.
    #[schema(value_type = Option<Value>)]
    expected: Option<()>,
}

/// The facts of one participant's month, as a golden vector's `input`.
#[derive(ToSchema)]
#[allow(dead_code, reason = "describes the OpenAPI schema only")]
#[serde(deny_unknown_fields)]
pub struct CaseSchema {
    /// The month, `YYYY-MM`.
    #[schema(pattern = "^[0-9]{4}-(0[1-9]|1[0-2])$", example = "2025-03")]
    month: String,
    /// Parameters overlaying the shipped ones.
    parameters: Option<CaseParametersSchema>,
    /// The participant.
    participant: CaseParticipantSchema,
    /// One programme period (R3) …
    programme: Option<CaseProgrammeSchema>,
    /// … or several, never overlapping.
    programmes: Option<Vec<CaseProgrammeSchema>>,
    /// The days accepted timesheets cover.
    #[schema(nullable = false)]
    covered: Option<Vec<CaseRangeSchema>>,
    /// Day entries.
    #[schema(nullable = false)]
    days: Option<Vec<CaseDaySchema>>,
    /// Policy values overriding the national defaults.
    policy: Option<PolicyOverridesSchema>,
    /// Other livelihood benefits of the month (R11).
    #[schema(nullable = false)]
    offsets: Option<Vec<CaseOffsetSchema>>,
}

/// Parameters overlaying the shipped ones (`crates/rules/parameters/norway.json`
/// has every one). A table is `{date: value}` with its dates in order and at
/// least one of them (`source` beside them, and the dates under `values`, if
/// wished); a single value is the value or `{"source": …, "value": …}`.
#[derive(ToSchema)]
#[allow(dead_code, reason = "describes the OpenAPI schema only")]
#[serde(deny_unknown_fields)]
pub struct CaseParametersSchema {
    /// The G by effective date, 0 to 10 000 000.
    #[schema(schema_with = g_table)]
    g: Option<()>,
    /// G a year by effective date, 0 to 10.
    #[schema(schema_with = annual_g_factor_table)]
    annual_g_factor: Option<()>,
    /// The rate below 25 years, a fraction `"n/d"` in (0, 1] with `d` at
    /// most 1 000.
    #[schema(schema_with = under_25_factor)]
    under_25_factor: Option<()>,
    /// Kroner per child per day by effective date, 0 to 10 000.
    #[schema(schema_with = child_supplement_table)]
    child_supplement_per_day: Option<()>,
    /// Hours of a programme day, above 0 and at most 24.
    #[schema(schema_with = hours_per_day)]
    hours_per_day: Option<()>,
    /// The age from which the full rate is paid, whole years 1 to 100.
    #[schema(schema_with = age)]
    full_rate_from_age: Option<()>,
    /// The age until which a child gives the supplement, whole years 1 to 100.
    #[schema(schema_with = age)]
    child_supplement_until_age: Option<()>,
}

/// The form of a dated table: `{date: value}`, with `source` and `values`.
fn dated_table(value: Schema) -> Schema {
    let dates = || {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(DATE_KEY))
    };
    let values = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property_names(Some(dates()))
        .additional_properties(Some(value.clone()));
    or_null(
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property("source", ObjectBuilder::new().schema_type(Type::String))
            .property("values", values)
            .property_names(Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(TABLE_KEY)),
            ))
            .additional_properties(Some(value))
            .into(),
    )
}

/// The form of a single value: the value, or `{source, value}`.
fn single(value: Schema) -> Schema {
    or_null(
        OneOfBuilder::new()
            .item(value.clone())
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .property("source", ObjectBuilder::new().schema_type(Type::String))
                    .property("value", value)
                    .required("value"),
            )
            .into(),
    )
}

/// A table's date key.
const DATE_KEY: &str = "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$";
/// A table's keys: its dates, `source` and `values`.
const TABLE_KEY: &str = "^(source|values|[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01]))$";

fn g_table() -> Schema {
    dated_table(exact_decimal(
        Lower::At(0),
        10_000_000,
        r"^0*([0-9]{1,7}(\.[0-9]+)?|10000000(\.0+)?)$",
    ))
}

fn annual_g_factor_table() -> Schema {
    dated_table(exact_decimal(
        Lower::At(0),
        10,
        r"^0*([0-9](\.[0-9]+)?|10(\.0+)?)$",
    ))
}

fn child_supplement_table() -> Schema {
    dated_table(exact_decimal(
        Lower::At(0),
        10_000,
        r"^0*([0-9]{1,4}(\.[0-9]+)?|10000(\.0+)?)$",
    ))
}

fn under_25_factor() -> Schema {
    single(
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Number)
                    .exclusive_minimum(Some(0))
                    .maximum(Some(1)),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(r"^[0-9]+(\.[0-9]+)?(/[0-9]+(\.[0-9]+)?)?$")),
            )
            .into(),
    )
}

fn hours_per_day() -> Schema {
    single(exact_decimal(
        Lower::AboveZero,
        24,
        r"^0*((2[0-3]|1[0-9]|[1-9])(\.[0-9]+)?|0?\.[0-9]*[1-9][0-9]*|24(\.0+)?)$",
    ))
}

fn age() -> Schema {
    single(
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(1))
                    .maximum(Some(100)),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(r"^0*([1-9][0-9]?|100)(\.0+)?$")),
            )
            .into(),
    )
}

/// The participant of a case.
#[derive(ToSchema)]
#[allow(dead_code, reason = "describes the OpenAPI schema only")]
#[serde(deny_unknown_fields)]
pub struct CaseParticipantSchema {
    /// Birth date.
    birth_date: time::Date,
    /// Children, by birth date.
    #[schema(nullable = false)]
    children: Option<Vec<CaseChildSchema>>,
    /// Whether the participant is a sole carer (R8).
    #[schema(nullable = false)]
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
    #[schema(nullable = false)]
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
    #[schema(schema_with = entry_hours)]
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
    /// Kroner for the month, 0 to 10 000 000: a JSON number or a decimal
    /// string, read exactly.
    #[schema(schema_with = benefit_amount)]
    amount: (),
}

/// The rules engine on posted facts: a case in the golden vectors' shape.
#[utoipa::path(post, path = "/v1/simulations", request_body(content = SimulationRequest, description = "a case: month, participant, programme (or programmes: several periods, never overlapping), covered, days, policy, offsets, parameters; or a whole golden-vector file ({name, rules, input, expected})"),
    responses((status = 200, description = "lines, total, quantities, flags, explanation"), (status = 400, body = Problem)))]
pub async fn simulate(
    State(payroll): AppState,
    body: bytes::Bytes,
) -> ApiResult<Json<kvp_rules::MonthResult>> {
    let text = std::str::from_utf8(&body)
        .map_err(|_| ServiceError::field("body", "must be UTF-8 JSON"))?;
    Ok(Json(payroll.simulate(text).await?))
}
