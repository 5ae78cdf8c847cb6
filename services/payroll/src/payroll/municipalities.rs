//! Municipalities: their settings (name, policy overrides, pay codes), checked
//! before they are stored.

use kvp_rules::PolicyOverrides;
use kvp_store::Municipality;
use serde::Serialize;
use serde_json::json;

use super::{Actor, Payroll, audit};
use crate::error::{FieldViolation, ServiceError, without_values};

/// A municipality's settings as given (the audit entry records them so).
#[derive(Debug, Clone, Serialize)]
pub struct MunicipalitySettings {
    /// Name.
    pub name: String,
    /// Policy values overriding the national defaults; none when absent.
    pub policy_overrides: Option<serde_json::Value>,
    /// Product line code → the municipality's pay code; none when absent.
    pub pay_codes: Option<serde_json::Value>,
}

impl Payroll {
    /// Registers or updates a municipality: a four-digit number, a name, policy
    /// overrides the rules accept and within their ranges, and pay codes as an
    /// object. Nothing is stored on any error.
    pub async fn upsert_municipality(
        &self,
        id: &str,
        settings: MunicipalitySettings,
        actor: &Actor,
    ) -> Result<Municipality, ServiceError> {
        if id.len() != 4 || !id.chars().all(|c| c.is_ascii_digit()) {
            return Err(ServiceError::field(
                "id",
                "must be a four-digit municipality number",
            ));
        }
        if settings.name.trim().is_empty() {
            return Err(ServiceError::field("name", "must not be empty"));
        }
        let overrides = settings
            .policy_overrides
            .clone()
            .unwrap_or_else(|| json!({}));
        let parsed = serde_json::from_value::<PolicyOverrides>(overrides.clone())
            .map_err(|e| ServiceError::field("policy_overrides", without_values(&e)))?;
        let out_of_range: Vec<_> = parsed
            .out_of_range()
            .into_iter()
            .map(|(field, why)| FieldViolation::new(format!("policy_overrides.{field}"), why))
            .collect();
        if !out_of_range.is_empty() {
            return Err(ServiceError::InvalidArgument(out_of_range));
        }
        let pay_codes = settings.pay_codes.clone().unwrap_or_else(|| json!({}));
        if !pay_codes.is_object() {
            return Err(ServiceError::field(
                "pay_codes",
                "must be an object of line code to pay code",
            ));
        }
        let municipality = Municipality {
            id: id.to_owned(),
            name: settings.name.clone(),
            policy_overrides: overrides,
            pay_codes,
        };
        let entry = audit(
            actor,
            "municipality.upserted",
            "municipality",
            id,
            json!(settings),
        );
        self.store
            .upsert_municipality(&municipality, &entry)
            .await?;
        Ok(municipality)
    }

    /// A municipality's settings.
    pub async fn municipality(&self, id: &str) -> Result<Municipality, ServiceError> {
        Ok(self.store.get_municipality(id).await?)
    }
}
