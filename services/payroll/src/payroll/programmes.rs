//! Programme decisions: registering one, setting its end, pausing it.

use kvp_store::{
    FactContent, FactKind, ParticipantFacts, Pause, PauseKind, Programme, ProgrammeWithPauses,
};
use serde::Serialize;
use serde_json::json;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::{Actor, FactCorrection, Payroll, Precondition, audit};
use crate::error::ServiceError;

/// A pause to register, as given (the audit entry records it so).
#[derive(Debug, Clone, Serialize)]
pub struct NewPause {
    /// First day.
    pub from: Date,
    /// Last day; none while open-ended.
    pub to: Option<Date>,
    /// INTERRUPTED (midlertidig avbrudd) or STOPPED (stans, § 34).
    pub kind: String,
    /// The decision's reference.
    pub reference: String,
}

impl Payroll {
    /// Registers a programme decision for a participant; answers the
    /// participant's facts.
    pub async fn create_programme(
        &self,
        participant_id: Uuid,
        start: Date,
        end: Option<Date>,
        decision_reference: String,
        actor: &Actor,
    ) -> Result<ParticipantFacts, ServiceError> {
        if end.is_some_and(|end| end < start) {
            return Err(ServiceError::field("end", "must not be before start"));
        }
        if decision_reference.trim().is_empty() {
            return Err(ServiceError::field(
                "decision_reference",
                "must not be empty",
            ));
        }
        let participant = self.store.get_participant(participant_id).await?;
        check_age_at_start(participant.birth_date, start, "start")?;
        let programme = Programme {
            id: Uuid::now_v7(),
            participant_id,
            start,
            end,
            decision_reference,
            decided_at: OffsetDateTime::now_utc(),
            version: 1,
        };
        let entry = audit(
            actor,
            "programme.decided",
            "participant",
            &participant_id.to_string(),
            json!({
                "programme_id": programme.id, "start": start, "end": end,
                "reference": programme.decision_reference,
            }),
        );
        self.store.create_programme(&programme, &entry).await?;
        self.facts(participant_id).await
    }

    /// A programme decision.
    pub async fn programme(&self, id: Uuid) -> Result<Programme, ServiceError> {
        Ok(self.store.get_programme(id).await?)
    }

    /// A programme decision with its pauses.
    pub async fn programme_with_pauses(
        &self,
        id: Uuid,
    ) -> Result<ProgrammeWithPauses, ServiceError> {
        let programme = self.store.get_programme(id).await?;
        self.store
            .list_programmes(programme.participant_id)
            .await?
            .into_iter()
            .find(|p| p.programme.id == id)
            .ok_or_else(|| ServiceError::NotFound {
                what: format!("programme {id}"),
            })
    }

    /// Sets or clears a programme's end, from the version read
    /// (`precondition`: a change of what exists needs one): a correction of
    /// the programme (see [`Payroll::correct_fact`]). Answers the programme
    /// as it is now.
    pub async fn set_programme_end(
        &self,
        id: Uuid,
        end: Option<Date>,
        precondition: Precondition,
        actor: &Actor,
    ) -> Result<Programme, ServiceError> {
        let programme = self.store.get_programme(id).await?;
        let content = FactContent::Programme {
            start: programme.start,
            end,
            decision_reference: programme.decision_reference,
        };
        let correction = FactCorrection {
            content: Some(content),
            reason: match end {
                Some(end) => format!("the programme ends {end}"),
                None => "the programme's end is cleared".to_owned(),
            },
            precondition,
        };
        self.correct_fact(FactKind::Programme, &id.to_string(), correction, actor)
            .await?;
        Ok(self.store.get_programme(id).await?)
    }

    /// Registers an interruption or a stop of a programme; answers its id.
    pub async fn add_pause(
        &self,
        programme_id: Uuid,
        new: NewPause,
        actor: &Actor,
    ) -> Result<Uuid, ServiceError> {
        let kind: PauseKind = new
            .kind
            .parse()
            .map_err(|_| ServiceError::field("kind", "must be INTERRUPTED or STOPPED"))?;
        if new.to.is_some_and(|to| to < new.from) {
            return Err(ServiceError::field("to", "must not be before from"));
        }
        let pause = Pause {
            id: Uuid::now_v7(),
            programme_id,
            from: new.from,
            to: new.to,
            kind,
            reference: new.reference.clone(),
        };
        let entry = audit(
            actor,
            "programme.paused",
            "programme",
            &programme_id.to_string(),
            json!(new),
        );
        self.store.add_pause(&pause, &entry).await?;
        Ok(pause.id)
    }
}

/// The ages the programme is for, inclusive, on its start date (sosialtjenesteloven
/// § 29: from 18 until the old-age pension at 67; policy data: VERIFY the
/// upper age against the current law before production use).
const PROGRAMME_AGES: std::ops::RangeInclusive<i32> = 18..=67;

/// Refuses a programme start on which the participant is not 18–67 years old.
pub(super) fn check_age_at_start(
    birth: Date,
    start: Date,
    field: &str,
) -> Result<(), ServiceError> {
    let mut age = start.year() - birth.year();
    if kvp_rules::calendar::anniversary(birth, age) > start {
        age -= 1;
    }
    if PROGRAMME_AGES.contains(&age) {
        return Ok(());
    }
    Err(ServiceError::field(
        field,
        format!(
            "the participant is {age} on the start date; the programme is for ages {}–{} \
             (sosialtjenesteloven § 29)",
            PROGRAMME_AGES.start(),
            PROGRAMME_AGES.end()
        ),
    ))
}
