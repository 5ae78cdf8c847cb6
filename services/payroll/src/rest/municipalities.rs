//! Municipalities: their name, policy overrides, pay codes and the rest of
//! their handoff settings (employer's contribution, accounting dimensions).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use kvp_store::Municipality;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::Caller;
use super::extract::Body;
use super::schemas::{Lower, exact_decimal, or_null};
use super::versions::{etag, precondition};
use super::{ApiResult, AppState};
use crate::error::Problem;
use crate::payroll::MunicipalitySettings;

/// A municipality's settings.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MunicipalityBody {
    /// Name.
    #[schema(min_length = 1, pattern = r"\S")]
    pub name: String,
    /// Policy values overriding the national defaults (RULES.md R5–R9).
    #[serde(default)]
    #[schema(value_type = Option<PolicyOverridesSchema>)]
    pub policy_overrides: Option<serde_json::Value>,
    /// Product line code (`KVP_BASE`, …, `KVP_RECOVERY_CARRIED`) → the
    /// municipality's pay code (lønnsart), 1–20 characters. A close freezes
    /// them into the run's lines, and stops (409, failed precondition)
    /// naming any line code without one, unless `use_product_codes`.
    #[serde(default)]
    #[schema(schema_with = super::schemas::pay_codes, example = json!({"KVP_BASE": "1130"}))]
    pub pay_codes: Option<serde_json::Value>,
    /// Import lines by the product's line code where `pay_codes` names no
    /// pay code of the municipality's own (default false).
    #[serde(default)]
    pub use_product_codes: bool,
    /// Whether the stipend triggers employer's contribution (a-melding
    /// `utloeserArbeidsgiveravgift`; default false, as RULES.md says).
    #[serde(default)]
    pub employer_contribution: bool,
    /// The accounting dimensions the run's lines are booked to.
    #[serde(default)]
    pub accounting: Option<AccountingBody>,
}

/// Accounting dimensions (konteringsstreng), frozen into a run's lines at close.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountingBody {
    /// Responsibility (ansvar), 1–32 characters; none when not booked by it.
    #[serde(default)]
    #[schema(schema_with = super::schemas::dimension)]
    pub ansvar: Option<String>,
    /// Service (tjeneste), 1–32 characters; none when not booked by it.
    #[serde(default)]
    #[schema(schema_with = super::schemas::dimension)]
    pub tjeneste: Option<String>,
    /// KOSTRA function, three digits (default `276`, kvalifiseringsordningen).
    #[serde(default)]
    #[schema(pattern = "^[0-9]{3}$", example = "276")]
    pub function: Option<String>,
}

/// The policy values a municipality may override, each within its bound of
/// sense (`kvp_rules::bounds`; `crates/rules/README.md`); a value beyond one is
/// a field violation naming `policy_overrides.<name>`. Decimal day counts may
/// be given as a JSON number or a decimal string. Only the OpenAPI document
/// reads this type: the body is checked by `kvp_rules::PolicyOverrides`.
#[derive(ToSchema)]
#[allow(dead_code, reason = "describes the OpenAPI schema only")]
#[serde(deny_unknown_fields)]
pub struct PolicyOverridesSchema {
    /// R6: no self-certification in the first this many weeks.
    #[schema(minimum = 0, maximum = 52)]
    self_cert_min_weeks: Option<u32>,
    /// R6: at most this many self-certified dates per occurrence.
    #[schema(minimum = 0, maximum = 366)]
    self_cert_max_days: Option<u32>,
    /// R6: at most this many occurrences in the year before one.
    #[schema(minimum = 0, maximum = 366)]
    self_cert_max_occurrences: Option<u32>,
    /// R7: leave days per calendar year, 0 to 366.
    #[schema(schema_with = days_per_year)]
    leave_days_per_year: Option<()>,
    /// R8: child's-sickness days per calendar year, 0 to 366.
    #[schema(schema_with = days_per_year)]
    child_sick_days_per_year: Option<()>,
    /// R8: child's-sickness days with many young children, 0 to 366.
    #[schema(schema_with = days_per_year)]
    child_sick_days_many_children: Option<()>,
    /// R8: "many" means more than this many young children.
    #[schema(minimum = 0, maximum = 20)]
    child_sick_many_children_more_than: Option<u32>,
    /// R8: the age under which a child counts as young.
    #[schema(minimum = 0, maximum = 18)]
    child_sick_young_child_age: Option<i32>,
    /// R8: a sole carer's quota is multiplied by this, 1 to 10.
    #[schema(schema_with = quota_multiplier)]
    sole_carer_quota_multiplier: Option<()>,
    /// R9: a run of more certified sick dates than this raises LONG_SICKNESS.
    #[schema(minimum = 1, maximum = 366)]
    long_sickness_days: Option<u32>,
    /// R5: deduct pending unexcused hours without waiting for a decision.
    auto_apply_unexcused: Option<bool>,
    /// A month's timesheets are due by this day of the next month, 1 to 28.
    #[schema(minimum = 1, maximum = 28)]
    timesheet_deadline_day: Option<u32>,
    /// R3 (§ 30): months a programme is approved for at a time, 1 to 60.
    #[schema(minimum = 1, maximum = 60)]
    programme_approved_months: Option<u32>,
    /// R3 (§ 30): years a programme may run without an exception, 1 to 10.
    #[schema(minimum = 1, maximum = 10)]
    programme_years_without_exception: Option<u32>,
    /// R3 (§ 30): years a programme may run at most, 1 to 10.
    #[schema(minimum = 1, maximum = 10)]
    programme_years_max: Option<u32>,
}

/// Days per year in a policy, 0 to 366; `null` keeps the default.
fn days_per_year() -> utoipa::openapi::schema::Schema {
    or_null(exact_decimal(
        Lower::At(0),
        366,
        r"^0*(36[0-5]|3[0-5][0-9]|[12][0-9]{2}|[0-9]{1,2})(\.[0-9]+)?$|^0*366(\.0+)?$",
    ))
}

/// A sole carer's quota multiplier, 1 to 10; `null` keeps the default.
fn quota_multiplier() -> utoipa::openapi::schema::Schema {
    or_null(exact_decimal(
        Lower::At(1),
        10,
        r"^0*[1-9](\.[0-9]+)?$|^0*10(\.0+)?$",
    ))
}

/// A day entry's hours, 0 to 24.
pub(crate) fn entry_hours() -> utoipa::openapi::schema::Schema {
    exact_decimal(
        Lower::At(0),
        24,
        r"^0*(2[0-3]|1?[0-9])(\.[0-9]+)?$|^0*24(\.0+)?$",
    )
}

/// A month's benefit in kroner, 0 to 10 000 000.
pub(crate) fn benefit_amount() -> utoipa::openapi::schema::Schema {
    exact_decimal(
        Lower::At(0),
        10_000_000,
        r"^0*[0-9]{1,7}(\.[0-9]+)?$|^0*10000000(\.0+)?$",
    )
}

impl From<Municipality> for MunicipalityBody {
    fn from(m: Municipality) -> Self {
        Self {
            name: m.name,
            policy_overrides: Some(m.policy_overrides),
            pay_codes: Some(m.pay_codes),
            use_product_codes: m.handoff.use_product_codes,
            employer_contribution: m.handoff.employer_contribution,
            accounting: Some(AccountingBody {
                ansvar: m.handoff.accounting.ansvar,
                tjeneste: m.handoff.accounting.tjeneste,
                function: Some(m.handoff.accounting.function),
            }),
        }
    }
}

/// `If-None-Match` as a change understands it: `*`, create only.
#[derive(ToSchema)]
#[allow(dead_code, reason = "describes the OpenAPI schema only")]
pub enum CreateOnly {
    /// Only if no municipality has the number.
    #[schema(rename = "*")]
    Any,
}

/// Registers or updates a municipality and its policy. Creating needs no
/// precondition (or `If-None-Match: *`); changing one that exists needs
/// `If-Match` with the `ETag` read: 428 without it, 412 when another change
/// came first. The answer carries the new `ETag`.
#[utoipa::path(put, path = "/v1/municipalities/{id}", request_body = MunicipalityBody,
    params(
        ("id" = String, Path),
        ("If-Match" = Option<String>, Header, description = "The ETag read: required to change an existing municipality."),
        ("If-None-Match" = Option<CreateOnly>, Header, description = "`*`: create only (never with If-Match)."),
    ),
    responses(
        (status = 200, body = MunicipalityBody, headers(("ETag" = String, description = "The stored version."))),
        (status = 400, body = Problem),
        (status = 412, body = Problem, description = "the municipality is not at the version If-Match names, or exists despite If-None-Match"),
        (status = 428, body = Problem, description = "the municipality exists: If-Match is required"),
    ))]
pub async fn put_municipality(
    State(payroll): AppState,
    Path(id): Path<String>,
    headers: HeaderMap,
    caller: Caller,
    Body(body): Body<MunicipalityBody>,
) -> ApiResult<impl IntoResponse> {
    let precondition = precondition(&headers)?;
    let settings = MunicipalitySettings {
        name: body.name,
        policy_overrides: body.policy_overrides,
        pay_codes: body.pay_codes,
        use_product_codes: body.use_product_codes,
        employer_contribution: body.employer_contribution,
        accounting: body.accounting.map(|a| crate::payroll::AccountingSettings {
            ansvar: a.ansvar,
            tjeneste: a.tjeneste,
            function: a.function,
        }),
    };
    let municipality = payroll
        .upsert_municipality(&id, settings, precondition, &caller.actor())
        .await?;
    Ok((
        [etag(municipality.version)],
        Json(MunicipalityBody::from(municipality)),
    ))
}

/// Reads a municipality's settings, with their `ETag`.
#[utoipa::path(get, path = "/v1/municipalities/{id}", params(("id" = String, Path)),
    responses((status = 200, body = MunicipalityBody, headers(("ETag" = String, description = "The stored version: If-Match of a change."))), (status = 404, body = Problem)))]
pub async fn get_municipality(
    State(payroll): AppState,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let municipality = payroll.municipality(&id).await?;
    Ok((
        [etag(municipality.version)],
        Json(MunicipalityBody::from(municipality)),
    ))
}
