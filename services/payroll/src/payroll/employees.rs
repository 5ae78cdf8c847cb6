//! Employee numbers (ansattnummer): what the municipality's payroll system
//! knows a participant by, registered once per participant and unique in the
//! municipality. Pay lines and exports carry it; a participant without one
//! still closes, and the export lists them.

use std::collections::HashMap;

use kvp_store::{EmployeeNumber, Expected};
use serde_json::json;
use uuid::Uuid;

use super::{Actor, Payroll, Precondition, audit};
use crate::error::ServiceError;

/// The longest employee number kept.
const MAX_LENGTH: usize = 32;

impl Payroll {
    /// A participant's employee number (not found when none is registered).
    pub async fn employee_number(
        &self,
        participant_id: Uuid,
    ) -> Result<EmployeeNumber, ServiceError> {
        self.store.get_participant(participant_id).await?;
        self.store
            .employee_number(participant_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound {
                what: format!("an employee number of participant {participant_id}"),
            })
    }

    /// Registers (no precondition, or `If-None-Match: *`) or changes (the
    /// version read) a participant's employee number: 1–32 letters, digits,
    /// `-`, `_`, `.` or `/`, unique in the municipality (409 naming the
    /// participant that has it).
    pub async fn set_employee_number(
        &self,
        participant_id: Uuid,
        number: &str,
        precondition: Precondition,
        actor: &Actor,
    ) -> Result<EmployeeNumber, ServiceError> {
        let number = number.trim();
        let allowed = |c: char| c.is_ascii_alphanumeric() || "-_./".contains(c);
        if number.is_empty() || number.len() > MAX_LENGTH || !number.chars().all(allowed) {
            return Err(ServiceError::field(
                "employee_number",
                format!("must be 1–{MAX_LENGTH} letters, digits, '-', '_', '.' or '/'"),
            ));
        }
        let participant = self.store.get_participant(participant_id).await?;
        let current = self.store.employee_number(participant_id).await?;
        let expected = match (precondition, &current) {
            (Precondition::None | Precondition::Absent, None) => Expected::Absent,
            (Precondition::None, Some(_)) => {
                return Err(ServiceError::PreconditionRequired {
                    what: "the participant has an employee number: a change needs If-Match \
                           with the ETag read"
                        .into(),
                });
            }
            (Precondition::Absent, Some(_)) => {
                return Err(ServiceError::PreconditionFailed {
                    what: "the participant has an employee number already".into(),
                });
            }
            (Precondition::Existing, _) => Expected::Existing,
            (Precondition::Version(version), _) => Expected::Version(version),
        };
        let entry = audit(
            actor,
            if current.is_some() {
                "employee_number.changed"
            } else {
                "employee_number.registered"
            },
            "participant",
            &participant_id.to_string(),
            json!({"employee_number": number}),
        );
        let new = EmployeeNumber {
            participant_id,
            municipality_id: participant.municipality_id,
            employee_number: number.to_owned(),
            version: 0,
            registered_at: crate::clock::now(),
            registered_by: actor.name.clone(),
        };
        self.store
            .set_employee_number(&new, expected, &entry)
            .await
            .map_err(|e| match e {
                kvp_store::StoreError::VersionMismatch { current } => {
                    ServiceError::PreconditionFailed {
                        what: format!(
                            "the employee number is at version {}: read it again",
                            current.unwrap_or_default()
                        ),
                    }
                }
                kvp_store::StoreError::Duplicate { what, existing } => ServiceError::Duplicate {
                    what: format!("{what} {number} is another participant's"),
                    existing: existing.to_string(),
                    href: format!("/v1/participants/{existing}"),
                },
                other => other.into(),
            })
    }

    /// The employee numbers of a municipality, by participant.
    pub async fn employee_numbers(
        &self,
        municipality_id: &str,
    ) -> Result<HashMap<Uuid, String>, ServiceError> {
        Ok(self
            .store
            .employee_numbers(municipality_id)
            .await?
            .into_iter()
            .map(|n| (n.participant_id, n.employee_number))
            .collect())
    }
}
