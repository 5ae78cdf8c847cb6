//! Municipalities: their settings (name, policy overrides, pay codes and the
//! rest of the handoff), checked before they are stored.

use kvp_rules::PolicyOverrides;
use kvp_store::{
    Accounting, Expected, HandoffSettings, KOSTRA_FUNCTION_KVP, Municipality, StoreError,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::handoff::pay_line_codes;
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
    /// Import lines by the product's codes where `pay_codes` names none.
    pub use_product_codes: bool,
    /// Whether the stipend triggers employer's contribution.
    pub employer_contribution: bool,
    /// Accounting dimensions; the defaults (KOSTRA function 276) when absent.
    pub accounting: Option<AccountingSettings>,
}

/// Accounting dimensions as given; a missing function is 276.
#[derive(Debug, Clone, Serialize)]
pub struct AccountingSettings {
    /// Responsibility (ansvar).
    pub ansvar: Option<String>,
    /// Service (tjeneste).
    pub tjeneste: Option<String>,
    /// KOSTRA function.
    pub function: Option<String>,
}

/// Longest pay code accepted (payroll systems' lønnsart are short codes).
const PAY_CODE_MAX_CHARS: usize = 20;
/// Longest accounting dimension accepted.
const DIMENSION_MAX_CHARS: usize = 32;

/// What is wrong with the pay codes given: they must be an object of known
/// line code to a short code.
fn pay_code_violations(pay_codes: &serde_json::Value) -> Vec<FieldViolation> {
    let Some(codes) = pay_codes.as_object() else {
        return vec![FieldViolation::new(
            "pay_codes",
            "must be an object of line code to pay code",
        )];
    };
    let known: Vec<&str> = pay_line_codes().map(|c| c.as_str()).collect();
    let mut violations = Vec::new();
    for (code, pay_code) in codes {
        let field = format!("pay_codes.{code}");
        if !known.contains(&code.as_str()) {
            violations.push(FieldViolation::new(
                field,
                format!(
                    "is not a line code; the line codes are {}",
                    known.join(", ")
                ),
            ));
            continue;
        }
        match pay_code.as_str() {
            Some(text)
                if !text.trim().is_empty()
                    && text.chars().count() <= PAY_CODE_MAX_CHARS
                    && !text.chars().any(char::is_control) => {}
            _ => violations.push(FieldViolation::new(
                field,
                format!("must be a pay code of 1 to {PAY_CODE_MAX_CHARS} characters"),
            )),
        }
    }
    violations
}

/// Accounting dimensions as given, with the default function; or what is
/// wrong with them.
fn accounting(given: Option<AccountingSettings>) -> Result<Accounting, Vec<FieldViolation>> {
    let Some(given) = given else {
        return Ok(Accounting::default());
    };
    let mut violations = Vec::new();
    for (field, value) in [
        ("accounting.ansvar", &given.ansvar),
        ("accounting.tjeneste", &given.tjeneste),
    ] {
        if let Some(text) = value
            && (text.trim().is_empty()
                || text.chars().count() > DIMENSION_MAX_CHARS
                || text.chars().any(char::is_control))
        {
            violations.push(FieldViolation::new(
                field,
                format!("must be 1 to {DIMENSION_MAX_CHARS} characters, or absent"),
            ));
        }
    }
    let function = given
        .function
        .unwrap_or_else(|| KOSTRA_FUNCTION_KVP.to_owned());
    if function.len() != 3 || !function.chars().all(|c| c.is_ascii_digit()) {
        violations.push(FieldViolation::new(
            "accounting.function",
            "must be a KOSTRA function of three digits",
        ));
    }
    if !violations.is_empty() {
        return Err(violations);
    }
    Ok(Accounting {
        ansvar: given.ansvar,
        tjeneste: given.tjeneste,
        function,
    })
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
        // Strictly: an object of the overrides, never an array of them.
        let parsed = PolicyOverrides::deserialize(kvp_rules::json::Strict(overrides.clone()))
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
        let mut violations = pay_code_violations(&pay_codes);
        let accounting = accounting(settings.accounting.clone()).unwrap_or_else(|wrong| {
            violations.extend(wrong);
            Accounting::default()
        });
        if !violations.is_empty() {
            return Err(ServiceError::InvalidArgument(violations));
        }
        let mut municipality = Municipality {
            id: id.to_owned(),
            name: settings.name.clone(),
            policy_overrides: overrides,
            pay_codes,
            handoff: HandoffSettings {
                use_product_codes: settings.use_product_codes,
                employer_contribution: settings.employer_contribution,
                accounting,
            },
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
