//! Participants and the facts about them a caseworker registers: children,
//! periods as a sole carer, other livelihood benefits.

use kvp_rules::{OffsetKind, YearMonth};
use kvp_store::{BenefitOffset, Child, Participant, ParticipantFacts, SoleCarerPeriod};
use rust_decimal::Decimal;
use serde_json::json;
use time::Date;
use uuid::Uuid;

use super::{Actor, Payroll, audit};
use crate::error::ServiceError;
use crate::identity::NationalId;

/// A participant to register.
#[derive(Debug, Clone)]
pub struct NewParticipant {
    /// The municipality (four digits).
    pub municipality_id: String,
    /// National identity number or D-number, as given; stored only protected.
    pub national_id: String,
    /// Name shown to caseworkers.
    pub display_name: String,
    /// Children's birth dates.
    pub children: Vec<Date>,
}

/// A child to add to a participant.
#[derive(Debug, Clone)]
pub struct NewChild {
    /// Birth date.
    pub birth_date: Date,
    /// The case system's reference for the child, which tells twins apart.
    pub reference: Option<String>,
    /// Confirms a child born the same day as one registered (twins) when no reference is given.
    pub twin: bool,
}

/// The longest case-system reference kept.
const MAX_REFERENCE: usize = 100;

pub(super) fn valid_reference(reference: &str) -> Result<String, ServiceError> {
    let reference = reference.trim();
    if reference.is_empty() || reference.chars().count() > MAX_REFERENCE {
        return Err(ServiceError::field(
            "reference",
            format!("must be 1–{MAX_REFERENCE} characters"),
        ));
    }
    Ok(reference.to_owned())
}

/// A duplicate of a participant's fact, named by the participant that holds it.
fn duplicate_of(error: kvp_store::StoreError, participant_id: Uuid) -> ServiceError {
    match error {
        kvp_store::StoreError::Duplicate { what, existing } => ServiceError::Duplicate {
            what,
            existing: existing.to_string(),
            href: format!("/v1/participants/{participant_id}"),
        },
        other => other.into(),
    }
}

impl Payroll {
    /// Registers a participant with their children: the identity number is
    /// validated (mod 11), the birth date derived from it, and it is stored
    /// only as a lookup and sealed. Answers the participant's facts.
    pub async fn register_participant(
        &self,
        new: NewParticipant,
        actor: &Actor,
    ) -> Result<ParticipantFacts, ServiceError> {
        let id = NationalId::parse(new.national_id.trim())
            .map_err(|e| ServiceError::field("national_id", e.to_string()))?;
        let birth_date = id
            .birth_date()
            .map_err(|e| ServiceError::field("national_id", e.to_string()))?;
        if new.display_name.trim().is_empty() {
            return Err(ServiceError::field("display_name", "must not be empty"));
        }
        self.store
            .get_municipality(&new.municipality_id)
            .await
            .map_err(|_| {
                ServiceError::field("municipality_id", "is not a registered municipality")
            })?;
        if let Some(i) = new.children.iter().position(|c| *c < birth_date) {
            return Err(ServiceError::field(
                format!("children[{i}]"),
                "is before the participant's birth date",
            ));
        }
        let participant_id = Uuid::now_v7();
        let participant = Participant {
            id: participant_id,
            municipality_id: new.municipality_id.clone(),
            nin_lookup: self.vault.lookup(&id),
            nin_sealed: self.vault.seal(&id, participant_id),
            birth_date,
            display_name: new.display_name.trim().to_owned(),
            created_at: crate::clock::now(),
        };
        let pid = participant.id.to_string();
        let entry = audit(
            actor,
            "participant.registered",
            "participant",
            &pid,
            json!({"municipality_id": new.municipality_id}),
        );
        self.store
            .create_participant(&participant, &entry)
            .await
            .map_err(|e| match e {
                kvp_store::StoreError::Conflict { .. } => ServiceError::AlreadyExists {
                    what: "a participant with this identity number is already registered in \
                           the municipality"
                        .into(),
                },
                other => other.into(),
            })?;
        for birth in &new.children {
            let child = Child {
                id: Uuid::now_v7(),
                participant_id: participant.id,
                birth_date: *birth,
                reference: None,
            };
            let entry = audit(
                actor,
                "child.added",
                "participant",
                &pid,
                json!({"birth_date": birth}),
            );
            // One request names them all: children born the same day are twins.
            self.store.add_child(&child, true, &entry).await?;
        }
        self.facts(participant.id).await
    }

    /// A participant.
    pub async fn participant(&self, id: Uuid) -> Result<Participant, ServiceError> {
        Ok(self.store.get_participant(id).await?)
    }

    /// The participant's facts.
    pub async fn facts(&self, participant_id: Uuid) -> Result<ParticipantFacts, ServiceError> {
        Ok(self.store.participant_facts(participant_id).await?)
    }

    /// Adds a child (child supplement, child's-sickness quota); answers the
    /// participant's facts. A child born the same day as one registered is
    /// refused as a duplicate (a retried request, most likely) unless the
    /// case system's `reference` tells it apart or `twin` confirms it.
    pub async fn add_child(
        &self,
        participant_id: Uuid,
        child: NewChild,
        actor: &Actor,
    ) -> Result<ParticipantFacts, ServiceError> {
        let participant = self.store.get_participant(participant_id).await?;
        if child.birth_date < participant.birth_date {
            return Err(ServiceError::field(
                "birth_date",
                "is before the participant's birth date",
            ));
        }
        let reference = match child.reference {
            Some(reference) => Some(valid_reference(&reference)?),
            None => None,
        };
        let record = Child {
            id: Uuid::now_v7(),
            participant_id,
            birth_date: child.birth_date,
            reference,
        };
        let entry = audit(
            actor,
            "child.added",
            "participant",
            &participant_id.to_string(),
            json!({"child_id": record.id, "birth_date": record.birth_date, "reference": record.reference, "twin": child.twin}),
        );
        self.store
            .add_child(&record, child.twin, &entry)
            .await
            .map_err(|e| duplicate_of(e, participant_id))?;
        self.facts(participant_id).await
    }

    /// Registers a period in which the participant is a sole carer; answers its id.
    pub async fn add_sole_carer_period(
        &self,
        participant_id: Uuid,
        from: Date,
        to: Option<Date>,
        actor: &Actor,
    ) -> Result<Uuid, ServiceError> {
        if to.is_some_and(|to| to < from) {
            return Err(ServiceError::field("to", "must not be before from"));
        }
        self.store.get_participant(participant_id).await?;
        let period = SoleCarerPeriod {
            id: Uuid::now_v7(),
            participant_id,
            from,
            to,
        };
        let entry = audit(
            actor,
            "sole_carer.registered",
            "participant",
            &participant_id.to_string(),
            json!({"from": from, "to": to}),
        );
        self.store.add_sole_carer_period(&period, &entry).await?;
        Ok(period.id)
    }

    /// Registers another livelihood benefit that reduces a month's stipend
    /// (R11): a non-negative amount in kroner and øre, at most
    /// `kvp_rules::bounds::OFFSET_MAX`. Answers its id.
    pub async fn add_benefit_offset(
        &self,
        participant_id: Uuid,
        month: YearMonth,
        kind: OffsetKind,
        amount: Decimal,
        actor: &Actor,
    ) -> Result<Uuid, ServiceError> {
        super::corrections::check_offset_amount(amount, "amount")?;
        self.store.get_participant(participant_id).await?;
        let offset = BenefitOffset {
            id: Uuid::now_v7(),
            participant_id,
            month: month.first_day(),
            kind,
            amount,
        };
        let entry = audit(
            actor,
            "benefit_offset.registered",
            "participant",
            &participant_id.to_string(),
            json!({"month": month, "kind": offset.kind, "amount": amount}),
        );
        self.store
            .add_benefit_offset(&offset, &entry)
            .await
            .map_err(|e| duplicate_of(e, participant_id))?;
        Ok(offset.id)
    }
}

/// A participant as a caseworker finds them: name and employee number,
/// never the identity number.
#[derive(Debug, Clone)]
pub struct ParticipantListing {
    /// The participant.
    pub participant: Participant,
    /// Their employee number, when registered.
    pub employee_number: Option<String>,
}

impl Payroll {
    /// A municipality's participants by name, whose name contains `query`
    /// (any case) or, for a query of digits, whose employee number ends with
    /// it; every participant for an empty query. Identity numbers are never
    /// searched: a caseworker finds a person without typing one.
    pub async fn find_participants(
        &self,
        municipality_id: &str,
        query: &str,
    ) -> Result<Vec<ParticipantListing>, ServiceError> {
        let query = query.trim().to_lowercase();
        let digits = !query.is_empty() && query.chars().all(|c| c.is_ascii_digit());
        let mut numbers = self.employee_numbers(municipality_id).await?;
        let mut found: Vec<ParticipantListing> = self
            .store
            .list_participants(municipality_id)
            .await?
            .into_iter()
            .map(|participant| ParticipantListing {
                employee_number: numbers.remove(&participant.id),
                participant,
            })
            .filter(|listing| {
                if digits {
                    listing
                        .employee_number
                        .as_deref()
                        .is_some_and(|n| n.ends_with(&query))
                } else {
                    listing
                        .participant
                        .display_name
                        .to_lowercase()
                        .contains(&query)
                }
            })
            .collect();
        found.sort_by(|a, b| {
            a.participant
                .display_name
                .cmp(&b.participant.display_name)
                .then(a.participant.id.cmp(&b.participant.id))
        });
        Ok(found)
    }
}
