//! Municipalities: their name, policy overrides and pay codes.

use axum::Json;
use axum::extract::{Path, State};
use kvp_store::Municipality;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::Caller;
use super::extract::Body;
use super::{ApiResult, AppState};
use crate::error::Problem;
use crate::payroll::MunicipalitySettings;

/// A municipality's settings.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MunicipalityBody {
    /// Name.
    pub name: String,
    /// Policy values overriding the national defaults (RULES.md R5–R9).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub policy_overrides: Option<serde_json::Value>,
    /// Product line code → the municipality's pay code (lønnsart).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub pay_codes: Option<serde_json::Value>,
}

impl From<Municipality> for MunicipalityBody {
    fn from(m: Municipality) -> Self {
        Self {
            name: m.name,
            policy_overrides: Some(m.policy_overrides),
            pay_codes: Some(m.pay_codes),
        }
    }
}

/// Registers or updates a municipality and its policy.
#[utoipa::path(put, path = "/v1/municipalities/{id}", request_body = MunicipalityBody,
    responses((status = 200, body = MunicipalityBody), (status = 400, body = Problem)))]
pub async fn put_municipality(
    State(payroll): AppState,
    Path(id): Path<String>,
    caller: Caller,
    Body(body): Body<MunicipalityBody>,
) -> ApiResult<Json<MunicipalityBody>> {
    let settings = MunicipalitySettings {
        name: body.name,
        policy_overrides: body.policy_overrides,
        pay_codes: body.pay_codes,
    };
    let municipality = payroll
        .upsert_municipality(&id, settings, &caller.actor())
        .await?;
    Ok(Json(municipality.into()))
}

/// Reads a municipality's settings.
#[utoipa::path(get, path = "/v1/municipalities/{id}", responses((status = 200, body = MunicipalityBody), (status = 404, body = Problem)))]
pub async fn get_municipality(
    State(payroll): AppState,
    Path(id): Path<String>,
) -> ApiResult<Json<MunicipalityBody>> {
    Ok(Json(payroll.municipality(&id).await?.into()))
}
