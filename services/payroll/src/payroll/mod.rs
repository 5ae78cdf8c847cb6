//! The payroll core: every operation the gRPC and REST surfaces offer, over the
//! repository, the signer registry and the rules engine. Transport-free, and
//! the surfaces' only way to the repository: a REST or gRPC handler parses,
//! authorizes, calls one method here and maps its answer. One file per
//! resource, each an `impl Payroll` block; closing periods and confirming
//! payments are in [`periods`], what awaits caseworkers in `worklist`.

mod audit_trail;
mod corrections;
mod decisions;
mod employees;
pub mod handoff;
mod months;
mod municipalities;
mod participants;
pub mod periods;
mod procedure;
mod programmes;
mod runs;
mod signer_keys;
mod timesheets;
mod worklist;

use std::sync::Arc;

use kvp_rules::{Parameters, Policy, PolicyOverrides};
use kvp_store::{IdempotencyClaim, NewAuditEntry, Repository};

use crate::error::ServiceError;
use crate::identity::IdentityVault;

pub use corrections::{FactCorrection, kind_of_segment, path_segment};
pub use decisions::{LEGAL_BASIS, NewDecision};
pub use municipalities::{AccountingSettings, MunicipalitySettings, Precondition};
pub use participants::{NewChild, NewParticipant, ParticipantListing};
pub use procedure::{AppealDecision, NewWarning};
pub use programmes::NewPause;
pub use runs::{
    ClosedPeriod, HandedOffLine, LineReader, MonthStatement, PaidForMonth, ParticipantGroups,
    PayLinePages, RunSummary,
};
pub use signer_keys::{NewSignerKey, key_version, registered_key};
pub use timesheets::Submitted;
pub use worklist::{WorkItem, WorkItemKind};

/// Who did something, for the audit trail, and the idempotency key their
/// request claims with its change, if it carries one.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The name the audit trail records.
    pub name: String,
    /// Claimed by every audit entry the request writes (see
    /// [`kvp_store::IdempotencyStore`]).
    pub idempotency: Option<IdempotencyClaim>,
}

impl Actor {
    /// An actor whose request carries no idempotency key.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            idempotency: None,
        }
    }
}

/// The payroll core shared by both surfaces.
pub struct Payroll {
    store: Arc<dyn Repository>,
    parameters: Parameters,
    policy: Policy,
    vault: IdentityVault,
}

impl Payroll {
    /// A core over a store, with the shipped parameters and national policy.
    pub fn new(
        store: Arc<dyn Repository>,
        parameters: Parameters,
        policy: Policy,
        vault: IdentityVault,
    ) -> Self {
        Self {
            store,
            parameters,
            policy,
            vault,
        }
    }

    /// The repository, for the application's wiring (the outbox relay,
    /// shutdown) and for tests; the surfaces go through the methods here.
    pub fn store(&self) -> &Arc<dyn Repository> {
        &self.store
    }

    /// The migrations of this build the database does not hold yet (readiness).
    pub async fn pending_migrations(&self) -> Result<Vec<String>, ServiceError> {
        Ok(self.store.pending_migrations().await?)
    }

    /// The key of the caseworker's page's form tokens (from the identity secret).
    pub fn form_token_key(&self) -> [u8; 32] {
        self.vault.form_token_key()
    }

    /// The shipped parameters (see `effective_parameters` for those in force).
    pub fn parameters(&self) -> &Parameters {
        &self.parameters
    }

    /// The national policy overlaid with the municipality's overrides.
    pub async fn policy_for(&self, municipality_id: &str) -> Result<Policy, ServiceError> {
        match self.store.get_municipality(municipality_id).await {
            Ok(m) => self.municipal_policy(m.policy_overrides),
            Err(kvp_store::StoreError::NotFound { .. }) => Ok(self.policy.clone()),
            Err(e) => Err(e.into()),
        }
    }

    /// The national policy overlaid with a municipality's stored overrides.
    pub(crate) fn municipal_policy(
        &self,
        overrides: serde_json::Value,
    ) -> Result<Policy, ServiceError> {
        let overrides: PolicyOverrides =
            serde_json::from_value(overrides).map_err(ServiceError::internal)?;
        Ok(self.policy.with_overrides(&overrides))
    }
}

/// An audit entry by `actor` now.
pub fn audit(
    actor: &Actor,
    action: &str,
    subject_type: &str,
    subject_id: &str,
    details: serde_json::Value,
) -> NewAuditEntry {
    NewAuditEntry {
        at: crate::clock::now(),
        actor: actor.name.clone(),
        action: action.into(),
        subject_type: subject_type.into(),
        subject_id: subject_id.into(),
        details,
        idempotency: actor.idempotency.clone(),
    }
}
