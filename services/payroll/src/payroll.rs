//! The payroll core: every operation the gRPC and REST surfaces offer, over the
//! repository, the signer registry and the rules engine. Transport-free.

use std::sync::Arc;

use kvp_proto::kvp::payroll::v1 as pb;
use kvp_rules::{Case, Parameters, Policy, PolicyOverrides, YearMonth, compute_month};
use kvp_signing::{
    KeyRing, RegisteredKey, Requirement, Role, TIMESHEET_PAYLOAD_TYPE, VerifyingKey,
};
use kvp_store::{
    AcceptOutcome, NewAuditEntry, NewTimesheet, ParticipantFacts, Repository, SignerKey,
    SignerRole, Timesheet, TimesheetStatus,
};
use prost::Message;
use serde_json::json;
use time::{Date, OffsetDateTime};
use tracing::instrument;
use uuid::Uuid;

use crate::client_identity::Scope;
use crate::error::ServiceError;
use crate::identity::IdentityVault;
use crate::ingest::{self, Assessment};

/// Who did something, for the audit trail.
#[derive(Debug, Clone)]
pub struct Actor(pub String);

/// The outcome of a timesheet submission.
#[derive(Debug, Clone)]
pub struct Submitted {
    /// The stored timesheet (the earlier one, for a duplicate).
    pub timesheet: Timesheet,
    /// The assessment given when it was accepted.
    pub assessment: Assessment,
    /// True when the same payload had been accepted before.
    pub duplicate: bool,
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

    /// The repository.
    pub fn store(&self) -> &Arc<dyn Repository> {
        &self.store
    }

    /// The identity vault.
    pub fn vault(&self) -> &IdentityVault {
        &self.vault
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

    /// Receives a signed timesheet: idempotent on the payload digest, verified
    /// against the signer registry at receipt, checked, assessed and stored in one
    /// transaction with its audit entry. Nothing is stored on any error.
    /// Counted in `kvp_timesheets_accepted_total` / `…_rejected_total{reason}`.
    #[instrument(skip_all, fields(participant_id, timesheet_id, digest))]
    pub async fn submit_timesheet(
        &self,
        envelope: pb::Envelope,
        scope: &Scope,
        now: OffsetDateTime,
    ) -> Result<Submitted, ServiceError> {
        // The span above is current inside: the fields recorded there land on it.
        let result = self.receive_timesheet(envelope, scope, now).await;
        crate::metrics::record_submission(&result);
        result
    }

    async fn receive_timesheet(
        &self,
        envelope: pb::Envelope,
        scope: &Scope,
        now: OffsetDateTime,
    ) -> Result<Submitted, ServiceError> {
        let received = envelope.encode_to_vec();
        let envelope = kvp_signing::Envelope {
            payload: envelope.payload,
            payload_type: envelope.payload_type,
            signatures: envelope
                .signatures
                .into_iter()
                .map(|s| kvp_signing::Signature {
                    keyid: s.keyid,
                    sig: s.sig,
                })
                .collect(),
        };
        if envelope.payload_type != TIMESHEET_PAYLOAD_TYPE {
            return Err(ServiceError::field(
                "envelope.payload_type",
                format!("must be {TIMESHEET_PAYLOAD_TYPE}"),
            ));
        }
        let digest = envelope.digest().to_string();
        tracing::Span::current().record("digest", digest.as_str());

        // The same payload again returns what was answered the first time,
        // whatever signatures it now carries.
        if let Some(existing) = self.store.find_timesheet_by_digest(&digest).await? {
            scope.permit(&existing.municipality_id)?;
            return stored_answer(existing, true);
        }

        let body = pb::TimesheetBody::decode(envelope.payload.as_slice())
            .map_err(|_| ServiceError::field("envelope.payload", "is not a TimesheetBody"))?;
        let participant_id = ingest::participant_id(&body)?;
        tracing::Span::current().record("participant_id", tracing::field::display(participant_id));
        let stored = self.store.participant_facts(participant_id).await?;
        scope.permit(&stored.participant.municipality_id)?;

        let keys = self.key_ring(&envelope).await?;
        let requirement =
            Requirement::timesheet().with_person(Role::Participant, participant_id.to_string());
        kvp_signing::verify(&envelope, TIMESHEET_PAYLOAD_TYPE, &keys, now, &requirement)?;

        let timesheet = ingest::validate(&body, &stored)?;
        let version = match timesheet.supersedes {
            None => 1,
            Some(old) => {
                let old = self.store.get_timesheet(old).await.map_err(|e| match e {
                    kvp_store::StoreError::NotFound { .. } => ServiceError::FailedPrecondition {
                        what: "the timesheet to supersede does not exist".into(),
                    },
                    other => other.into(),
                })?;
                if old.participant_id != participant_id || old.status != TimesheetStatus::Accepted {
                    return Err(ServiceError::FailedPrecondition {
                        what: "only the participant's current timesheet can be superseded".into(),
                    });
                }
                old.version + 1
            }
        };
        let id = Uuid::now_v7();
        tracing::Span::current().record("timesheet_id", tracing::field::display(id));
        let policy = self.policy_for(&timesheet.municipality_id).await?;
        let facts = ingest::with_timesheet(&stored, id, &timesheet);
        let assessment = ingest::assess(
            &facts,
            timesheet.from,
            timesheet.to,
            &self.parameters,
            &policy,
        )?;
        let entries: Vec<_> = facts
            .entries
            .iter()
            .filter(|e| e.timesheet_id == id)
            .cloned()
            .collect();
        let record = Timesheet {
            id,
            participant_id,
            municipality_id: timesheet.municipality_id.clone(),
            digest: digest.clone(),
            envelope: received,
            period_from: timesheet.from,
            period_to: timesheet.to,
            version,
            supersedes: timesheet.supersedes,
            status: TimesheetStatus::Accepted,
            assessment: serde_json::to_value(&assessment).map_err(ServiceError::internal)?,
            received_at: now,
        };
        let audit = NewAuditEntry {
            at: now,
            actor: format!("signed:{}", keys_summary(&envelope)),
            action: "timesheet.accepted".into(),
            subject_type: "timesheet".into(),
            subject_id: id.to_string(),
            details: json!({
                "participant_id": participant_id,
                "digest": digest,
                "version": version,
                "supersedes": timesheet.supersedes,
                "period": [timesheet.from, timesheet.to],
            }),
        };
        let event = crate::events::outbox_event(
            kvp_proto::event_types::TIMESHEET_ACCEPTED,
            &timesheet.municipality_id,
            participant_id.to_string(),
            &kvp_proto::kvp::events::v1::TimesheetAccepted {
                timesheet_id: id.to_string(),
                participant_id: participant_id.to_string(),
                municipality_id: timesheet.municipality_id.clone(),
                from_date: timesheet.from.to_string(),
                to_date: timesheet.to.to_string(),
                digest: digest.clone(),
                version: u32::try_from(version).unwrap_or_default(),
                supersedes_timesheet_id: timesheet
                    .supersedes
                    .map(|s| s.to_string())
                    .unwrap_or_default(),
                accepted_at: Some(crate::events::timestamp(now)),
            },
            now,
        );
        let new = NewTimesheet {
            timesheet: record,
            entries,
            audit,
            events: vec![event],
        };
        match self.store.accept_timesheet(&new).await? {
            AcceptOutcome::Accepted(stored) => {
                tracing::info!(version, "timesheet accepted");
                Ok(Submitted {
                    timesheet: stored,
                    assessment,
                    duplicate: false,
                })
            }
            // A concurrent submission of the same payload won the race.
            AcceptOutcome::Duplicate(existing) => stored_answer(existing, true),
        }
    }

    async fn key_ring(&self, envelope: &kvp_signing::Envelope) -> Result<KeyRing, ServiceError> {
        let mut ring = KeyRing::new();
        for key in self.store.find_signer_keys(&envelope.keyids()).await? {
            ring.insert(registered_key(&key)?);
        }
        Ok(ring)
    }

    /// The participant's facts.
    pub async fn facts(&self, participant_id: Uuid) -> Result<ParticipantFacts, ServiceError> {
        Ok(self.store.participant_facts(participant_id).await?)
    }

    /// What is left of the quotas on `as_of`, counting every accepted entry.
    pub async fn absence_overview(
        &self,
        participant_id: Uuid,
        as_of: Date,
    ) -> Result<ingest::QuotaSummary, ServiceError> {
        let facts = self.facts(participant_id).await?;
        let policy = self.policy_for(&facts.participant.municipality_id).await?;
        let month_facts =
            crate::facts::month_facts(&facts, YearMonth::of(as_of))?.ok_or_else(|| {
                ServiceError::FailedPrecondition {
                    what: "the participant has no programme decision".into(),
                }
            })?;
        let parameters = self.effective_parameters().await?;
        ingest::quota_summary(&facts, &month_facts.days, as_of, &parameters, &policy).ok_or_else(
            || ServiceError::FailedPrecondition {
                what: "no programme decision is in force on that date".into(),
            },
        )
    }

    /// Computes one participant's month from what is stored now.
    pub async fn month(
        &self,
        participant_id: Uuid,
        month: YearMonth,
    ) -> Result<kvp_rules::MonthResult, ServiceError> {
        let facts = self.facts(participant_id).await?;
        let policy = self.policy_for(&facts.participant.municipality_id).await?;
        let month_facts = crate::facts::month_facts(&facts, month)?.ok_or_else(|| {
            ServiceError::FailedPrecondition {
                what: "the participant has no programme decision".into(),
            }
        })?;
        let parameters = self.effective_parameters().await?;
        compute_month(&month_facts, &parameters, &policy).map_err(ServiceError::internal)
    }

    /// The rules engine on posted facts (a case in the golden vectors' shape) over
    /// the national policy: [`Payroll::simulate_case`] without a municipality.
    pub async fn simulate(&self, case: &str) -> Result<kvp_rules::MonthResult, ServiceError> {
        self.simulate_case(case, None).await
    }

    /// The rules engine on a case in the golden vectors' JSON shape, storing
    /// nothing: the one simulation behind REST and gRPC. The policy base is the
    /// national policy or, when `municipality_id` names one, that municipality's
    /// profile (an unknown municipality is NOT_FOUND); the case's own `policy`
    /// overrides apply on top. The parameters are those in force unless the case
    /// gives its own. Bad input is INVALID_ARGUMENT naming the case's JSON path
    /// (`days[2].hours`); callers with another wire form rename the paths.
    pub async fn simulate_case(
        &self,
        case: &str,
        municipality_id: Option<&str>,
    ) -> Result<kvp_rules::MonthResult, ServiceError> {
        let policy = match municipality_id {
            Some(id) => {
                let municipality = self.store.get_municipality(id).await?;
                self.municipal_policy(municipality.policy_overrides)?
            }
            None => self.policy.clone(),
        };
        let parameters = self.effective_parameters().await?;
        let case = Case::from_json(case, &parameters, &policy)
            .map_err(|e| ServiceError::field(e.field, e.message))?;
        compute_month(&case.facts, &case.parameters, &case.policy).map_err(|e| match e {
            kvp_rules::RulesError::InvalidInput { field, message } => {
                ServiceError::field(field, message)
            }
            other => ServiceError::field("parameters", other.to_string()),
        })
    }

    /// Registers a signer key.
    pub async fn register_key(
        &self,
        key: SignerKey,
        actor: &Actor,
    ) -> Result<SignerKey, ServiceError> {
        registered_key(&key)?;
        let audit = audit(
            actor,
            "signer_key.registered",
            "signer_key",
            &key.keyid,
            json!({
                "role": key.role.as_str(), "person_id": key.person_id,
                "valid_from": key.valid_from, "valid_until": key.valid_until,
            }),
        );
        self.store.register_signer_key(&key, &audit).await?;
        Ok(key)
    }
}

fn keys_summary(envelope: &kvp_signing::Envelope) -> String {
    envelope.keyids().join(",")
}

/// Turns a stored key into the signing crate's registry entry.
pub fn registered_key(key: &SignerKey) -> Result<RegisteredKey, ServiceError> {
    let bytes: [u8; 32] =
        key.public_key.as_slice().try_into().map_err(|_| {
            ServiceError::field("public_key", "must be 32 bytes of Ed25519 public key")
        })?;
    let public_key = VerifyingKey::from_bytes(&bytes)
        .map_err(|_| ServiceError::field("public_key", "is not an Ed25519 public key"))?;
    let role = match key.role {
        SignerRole::Participant => Role::Participant,
        SignerRole::Supervisor => Role::Supervisor,
        SignerRole::Provider => Role::Provider,
    };
    Ok(RegisteredKey {
        keyid: key.keyid.clone(),
        person_id: key.person_id.clone(),
        role,
        public_key,
        valid_from: key.valid_from,
        valid_until: key.valid_until,
        revoked_at: key.revoked_at,
    })
}

fn stored_answer(timesheet: Timesheet, duplicate: bool) -> Result<Submitted, ServiceError> {
    let assessment: Assessment =
        serde_json::from_value(timesheet.assessment.clone()).map_err(ServiceError::internal)?;
    Ok(Submitted {
        timesheet,
        assessment,
        duplicate,
    })
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
        at: OffsetDateTime::now_utc(),
        actor: actor.0.clone(),
        action: action.into(),
        subject_type: subject_type.into(),
        subject_id: subject_id.into(),
        details,
    }
}
