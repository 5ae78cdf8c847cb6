//! The service's operations, shared by the gRPC and the HTTP surface: both
//! are thin and delegate here. This is where input is checked, the clock is
//! read and the store is called; it returns [`ServiceError`]s that each
//! surface maps in `error`.

use std::sync::Arc;

use kvp_proto::kvp::events::v1::CloudEvent;
use time::OffsetDateTime;
use tracing::instrument;
use uuid::Uuid;

use crate::error::{FieldViolation, ServiceError};
use crate::events;
use crate::household::HouseholdInput;
use crate::income::IncomeKinds;
use crate::norms::Norms;
use crate::proposal::{Decision, Proposal, ProposalState};
use crate::store::{
    Backend, DecideProposal, Effect, HouseholdRecord, HouseholdSaved, PendingMonth, ProposalFilter,
    Received, Scope, Store,
};

/// The most proposals one list returns.
pub const MAX_LIST: u32 = 1000;
/// Proposals one list returns unless asked otherwise.
pub const DEFAULT_LIST: u32 = 100;
/// The longest decision reason accepted.
pub const MAX_REASON_LEN: usize = 4000;
/// The longest caseworker id accepted.
pub const MAX_DECIDED_BY_LEN: usize = 200;

/// The top-up service's operations.
#[derive(Clone)]
pub struct Topup {
    store: Arc<dyn Store>,
    norms: Arc<Norms>,
}

/// A caseworker's decision as received.
#[derive(Debug, Clone, Default)]
pub struct DecisionInput {
    /// Why (required, not blank).
    pub reason: String,
    /// The caseworker's id, if given (never a national identity number).
    pub decided_by: Option<String>,
}

impl Topup {
    /// The operations over a store with the given norm rates.
    pub fn new(store: Arc<dyn Store>, norms: Norms) -> Self {
        Self {
            store,
            norms: Arc::new(norms),
        }
    }

    /// Publishes whether the newest norm rates are older than this year
    /// (checked at start and at every delivery, so a new year shows).
    pub fn record_norm_rates(&self) {
        crate::metrics::record_norm_rates(
            self.norms.periods().last().map(|p| p.from),
            OffsetDateTime::now_utc().date(),
        );
    }

    /// The store's backend.
    pub fn backend(&self) -> Backend {
        self.store.backend()
    }

    /// Receives a delivered event into the inbox and applies it (in the
    /// gRPC surface's `topup.deliver` span, which joins the sender's trace).
    pub async fn deliver(&self, event: Option<&CloudEvent>) -> Result<Received, ServiceError> {
        self.record_norm_rates();
        let incoming = events::check(event, OffsetDateTime::now_utc())
            .map_err(|v| ServiceError::invalid("the event is malformed; nothing was stored", v))?;
        let effect = match &incoming.payment {
            Some(payment) => Effect::Payment {
                payment,
                proposer: self.norms.as_ref(),
            },
            None => Effect::None,
        };
        let received = self.store.receive(&incoming.inbox, effect).await?;
        match received {
            Received::Duplicate => tracing::info!("duplicate event: nothing applied"),
            Received::Stored { outcome, proposal } => tracing::info!(
                outcome = outcome.as_str(),
                proposal.id = proposal.map(|id| id.to_string()),
                "event stored"
            ),
        }
        Ok(received)
    }

    /// Registers or replaces a household, for a participant the scope
    /// reaches (or nobody owns yet).
    #[instrument(name = "topup.put_household", skip_all, fields(participant.id = participant_id))]
    pub async fn put_household(
        &self,
        scope: &Scope,
        participant_id: &str,
        input: &HouseholdInput,
    ) -> Result<HouseholdSaved, ServiceError> {
        let id = parse_id("participant_id", participant_id);
        let validated = input.validate(
            id.as_ref().copied().unwrap_or_default(),
            IncomeKinds::shipped(),
        );
        let household = match (id, validated) {
            (Ok(_), Ok(household)) => household,
            (id, household) => {
                let mut violations = id.err().into_iter().collect::<Vec<_>>();
                violations.extend(household.err().unwrap_or_default());
                return Err(ServiceError::invalid(
                    "the household is invalid; nothing was stored",
                    violations,
                ));
            }
        };
        let saved = self
            .store
            .put_household(
                &household,
                scope,
                OffsetDateTime::now_utc(),
                self.norms.as_ref(),
            )
            .await?;
        tracing::info!(
            created = saved.created,
            proposals = saved.proposals.len(),
            "household saved"
        );
        Ok(saved)
    }

    /// A participant's household, if the scope reaches it: registered by
    /// the scope's municipality, or of a participant it paid last.
    pub async fn household(
        &self,
        scope: &Scope,
        participant_id: &str,
    ) -> Result<HouseholdRecord, ServiceError> {
        let id = parse_id("participant_id", participant_id).map_err(invalid_id)?;
        let record = self
            .store
            .household(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound {
                entity: "household",
                id: id.to_string(),
            })?;
        if scope.reaches(&[record.municipality_id.as_deref()]) {
            return Ok(record);
        }
        let paid_by = self.store.paying_municipality(id).await?;
        if scope.reaches(&[paid_by.as_deref()]) {
            Ok(record)
        } else {
            Err(ServiceError::other_municipality())
        }
    }

    /// Proposals for the worklist, of the scope's municipality.
    pub async fn proposals(
        &self,
        scope: &Scope,
        state: Option<&str>,
        participant_id: Option<&str>,
        limit: Option<u32>,
    ) -> Result<Vec<Proposal>, ServiceError> {
        let mut violations = Vec::new();
        let state = state.and_then(|s| {
            let parsed = ProposalState::parse(s);
            if parsed.is_none() {
                violations.push(FieldViolation::new(
                    "state",
                    "must be one of PROPOSED, ACCEPTED, REJECTED or SUPERSEDED",
                ));
            }
            parsed
        });
        let participant_id = participant_id.and_then(|p| {
            parse_id("participant_id", p)
                .map_err(|v| violations.push(v))
                .ok()
        });
        let limit = limit.unwrap_or(DEFAULT_LIST);
        if !(1..=MAX_LIST).contains(&limit) {
            violations.push(FieldViolation::new(
                "limit",
                format!("must be from 1 to {MAX_LIST}"),
            ));
        }
        if !violations.is_empty() {
            return Err(ServiceError::invalid("the query is invalid", violations));
        }
        Ok(self
            .store
            .proposals(&ProposalFilter {
                state,
                participant_id,
                municipality_id: scope.municipality().map(str::to_owned),
                limit,
            })
            .await?)
    }

    /// One proposal, if the scope reaches its municipality.
    pub async fn proposal(&self, scope: &Scope, id: &str) -> Result<Proposal, ServiceError> {
        let id = parse_id("id", id).map_err(invalid_id)?;
        self.scoped_proposal(scope, id).await
    }

    async fn scoped_proposal(&self, scope: &Scope, id: Uuid) -> Result<Proposal, ServiceError> {
        let proposal = self
            .store
            .proposal(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound {
                entity: "proposal",
                id: id.to_string(),
            })?;
        if scope.reaches(&[proposal.municipality_id.as_deref()]) {
            Ok(proposal)
        } else {
            Err(ServiceError::other_municipality())
        }
    }

    /// Accepts or rejects an open proposal of the scope's municipality, once.
    #[instrument(name = "topup.decide", skip_all, fields(proposal.id = id, decision = ?decision))]
    pub async fn decide(
        &self,
        scope: &Scope,
        id: &str,
        decision: Decision,
        input: &DecisionInput,
    ) -> Result<Proposal, ServiceError> {
        let mut violations = Vec::new();
        let id = parse_id("id", id).map_err(|v| violations.push(v)).ok();
        let reason = input.reason.trim();
        if reason.is_empty() {
            violations.push(FieldViolation::new("reason", "is required"));
        } else if reason.len() > MAX_REASON_LEN {
            violations.push(FieldViolation::new(
                "reason",
                format!("is longer than {MAX_REASON_LEN} bytes"),
            ));
        }
        let decided_by = input
            .decided_by
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty());
        if decided_by.is_some_and(|d| d.len() > MAX_DECIDED_BY_LEN) {
            violations.push(FieldViolation::new(
                "decided_by",
                format!("is longer than {MAX_DECIDED_BY_LEN} bytes"),
            ));
        }
        // Lengths are bounded in bytes above; the characters here.
        for (field, text) in [("reason", Some(reason)), ("decided_by", decided_by)] {
            if let Some(violation) =
                text.and_then(|t| kvp_problem::text_violation(field, t, usize::MAX))
            {
                violations.push(violation);
            }
        }
        let Some(id) = id.filter(|_| violations.is_empty()) else {
            return Err(ServiceError::invalid(
                "the decision is invalid; nothing was stored",
                violations,
            ));
        };
        // A proposal's municipality never changes: checked once, before the
        // conditional update that records the decision.
        self.scoped_proposal(scope, id).await?;
        let decided = self
            .store
            .decide(&DecideProposal {
                id,
                decision,
                reason: reason.to_owned(),
                decided_by: decided_by.map(str::to_owned),
                at: OffsetDateTime::now_utc(),
            })
            .await?;
        tracing::info!(state = decided.state.as_str(), "proposal decided");
        Ok(decided)
    }

    /// Paid months without a proposal, of the scope's municipality.
    pub async fn pending_months(&self, scope: &Scope) -> Result<Vec<PendingMonth>, ServiceError> {
        Ok(self.store.pending_months(scope.municipality()).await?)
    }

    /// Closes the store.
    pub async fn close(&self) {
        self.store.close().await;
    }
}

fn parse_id(field: &str, text: &str) -> Result<Uuid, FieldViolation> {
    Uuid::parse_str(text).map_err(|_| FieldViolation::new(field, "is not a UUID"))
}

fn invalid_id(violation: FieldViolation) -> ServiceError {
    ServiceError::invalid("the id is invalid", vec![violation])
}
