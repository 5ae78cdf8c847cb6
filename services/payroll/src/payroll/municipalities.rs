//! Municipalities: their settings (name, policy overrides, pay codes), checked
//! before they are stored.

use kvp_rules::PolicyOverrides;
use kvp_store::{Expected, Municipality, StoreError};
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

/// What a change of a resource expects of it (optimistic concurrency: the
/// request's `If-Match` / `If-None-Match`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// None given: the change may only create; an existing resource needs
    /// its version named (428).
    None,
    /// `If-None-Match: *`: only if there is none (412 otherwise).
    Absent,
    /// `If-Match: *`: only if there is one, at any version.
    Existing,
    /// `If-Match: "<version>"`: only at this version (412 otherwise).
    Version(i64),
}

impl Payroll {
    /// Registers or updates a municipality: a four-digit number, a name, policy
    /// overrides the rules accept and within their ranges, and pay codes as an
    /// object. Creating needs no precondition; changing needs the version
    /// read (`precondition`). Nothing is stored on any error.
    pub async fn upsert_municipality(
        &self,
        id: &str,
        settings: MunicipalitySettings,
        precondition: Precondition,
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
        let mut municipality = Municipality {
            id: id.to_owned(),
            name: settings.name.clone(),
            policy_overrides: overrides,
            pay_codes,
            version: 0,
        };
        let entry = audit(
            actor,
            "municipality.upserted",
            "municipality",
            id,
            json!(settings),
        );
        let expected = match precondition {
            Precondition::None | Precondition::Absent => Expected::Absent,
            Precondition::Existing => Expected::Existing,
            Precondition::Version(version) => Expected::Version(version),
        };
        municipality.version = self
            .store
            .upsert_municipality(&municipality, Some(expected), &entry)
            .await
            .map_err(|e| match e {
                StoreError::VersionMismatch {
                    current: Some(current),
                } if precondition == Precondition::None => ServiceError::PreconditionRequired {
                    what: format!(
                        "municipality {id} exists (version {current}): a change needs If-Match \
                         with the ETag read"
                    ),
                },
                StoreError::VersionMismatch { current } => ServiceError::PreconditionFailed {
                    what: match current {
                        Some(current) => format!(
                            "municipality {id} is at version {current}: read it again and \
                             apply the change to what is stored"
                        ),
                        None => format!("municipality {id} does not exist"),
                    },
                },
                other => other.into(),
            })?;
        Ok(municipality)
    }

    /// A municipality's settings.
    pub async fn municipality(&self, id: &str) -> Result<Municipality, ServiceError> {
        Ok(self.store.get_municipality(id).await?)
    }
}
