//! Timesheet intake: a signed timesheet verified against the signer registry,
//! checked, assessed and stored with its audit entry and event; and the
//! timesheets in force, as read back.

use kvp_proto::kvp::payroll::v1 as pb;
use kvp_signing::{KeyRing, Requirement, Role, TIMESHEET_PAYLOAD_TYPE};
use kvp_store::{AcceptOutcome, NewAuditEntry, NewTimesheet, Timesheet, TimesheetStatus};
use prost::Message;
use serde_json::json;
use time::OffsetDateTime;
use tracing::instrument;
use uuid::Uuid;

use super::{Payroll, registered_key};
use crate::client_identity::Scope;
use crate::error::ServiceError;
use crate::ingest::{self, Assessment};

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

impl Payroll {
    /// Receives a signed timesheet: idempotent on the payload digest, verified
    /// against the signer registry at receipt, checked, assessed and stored in one
    /// transaction with its audit entry. Nothing is stored on any error.
    /// Counted in `kvp_timesheets_accepted_total` / `…_rejected_total{reason}`.
    #[instrument(
        name = "payroll.submit_timesheet",
        skip_all,
        fields(participant_id, timesheet_id, digest)
    )]
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
        // The envelope's form before any lookup: a flood of signatures or
        // huge keyids costs nothing but this check.
        kvp_signing::check_form(&envelope, TIMESHEET_PAYLOAD_TYPE)?;
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

        let keys = self.store.find_signer_keys(&envelope.keyids()).await?;
        let mut ring = KeyRing::new();
        for key in &keys {
            ring.insert(registered_key(key)?);
        }
        let requirement =
            Requirement::timesheet().with_person(Role::Participant, participant_id.to_string());
        let verified =
            kvp_signing::verify(&envelope, TIMESHEET_PAYLOAD_TYPE, &ring, now, &requirement)?;
        // A supervisor approves for the municipality their key belongs to;
        // a key from before keys had one is national until assigned.
        for signer in verified.signers_in_role(Role::Supervisor) {
            let belongs_to = keys
                .iter()
                .find(|key| key.keyid == signer.keyid)
                .and_then(|key| key.municipality_id.as_deref());
            if belongs_to.is_some_and(|m| m != stored.participant.municipality_id) {
                return Err(ServiceError::PermissionDenied {
                    what: format!(
                        "supervisor key {:?} approves for another municipality's participants",
                        signer.keyid
                    ),
                });
            }
        }

        let timesheet = ingest::validate(&body, &stored)?;
        let version = match timesheet.supersedes {
            None => 1,
            Some(old) => {
                let old = self.store.get_timesheet(old).await.map_err(|e| match e {
                    kvp_store::StoreError::NotFound { .. } => ServiceError::FailedPrecondition {
                        reason: crate::error::reason::TIMESHEET_NOT_CURRENT,
                        what: "the timesheet to supersede does not exist".into(),
                    },
                    other => other.into(),
                })?;
                if old.participant_id != participant_id || old.status != TimesheetStatus::Accepted {
                    return Err(ServiceError::FailedPrecondition {
                        reason: crate::error::reason::TIMESHEET_NOT_CURRENT,
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
            idempotency: None,
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

    /// A stored timesheet.
    pub async fn timesheet(&self, id: Uuid) -> Result<Timesheet, ServiceError> {
        Ok(self.store.get_timesheet(id).await?)
    }

    /// A participant's current timesheets, each with the assessment given at
    /// receipt (NOT_FOUND for an unknown participant).
    pub async fn current_timesheets(
        &self,
        participant_id: Uuid,
    ) -> Result<Vec<(Timesheet, Assessment)>, ServiceError> {
        self.store.get_participant(participant_id).await?;
        self.store
            .list_current_timesheets(participant_id)
            .await?
            .into_iter()
            .map(|t| {
                let assessment =
                    serde_json::from_value(t.assessment.clone()).map_err(ServiceError::internal)?;
                Ok((t, assessment))
            })
            .collect()
    }
}

fn keys_summary(envelope: &kvp_signing::Envelope) -> String {
    envelope.keyids().join(",")
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
