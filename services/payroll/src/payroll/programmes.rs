//! Programme decisions: registering one, setting its end, pausing it,
//! extending its approved period.

use kvp_store::{
    FactContent, FactKind, ParticipantFacts, Pause, PauseKind, Programme, ProgrammeExtension,
    ProgrammeWithPauses,
};
use serde::Serialize;
use serde_json::json;
use time::Date;
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
            decided_at: crate::clock::now(),
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

    /// A programme's approved period's last day and its extensions, by until.
    pub async fn extensions(
        &self,
        programme_id: Uuid,
    ) -> Result<(Date, Vec<ProgrammeExtension>), ServiceError> {
        let programme = self.store.get_programme(programme_id).await?;
        let participant = self.store.get_participant(programme.participant_id).await?;
        let policy = self.policy_for(&participant.municipality_id).await?;
        let extensions: Vec<ProgrammeExtension> = self
            .store
            .list_extensions(programme.participant_id)
            .await?
            .into_iter()
            .filter(|e| e.programme_id == programme_id)
            .collect();
        let until = approved_until(
            programme.start,
            &extensions,
            policy.programme_approved_months,
        );
        Ok((until, extensions))
    }

    /// Extends a programme's approved period to `until` (after the current
    /// end of it), as an exception when it reaches past the years a programme
    /// runs without one. Answers the approved period's end and the extensions.
    pub async fn extend_programme(
        &self,
        programme_id: Uuid,
        until: Date,
        exception: bool,
        reference: String,
        actor: &Actor,
    ) -> Result<(Date, Vec<ProgrammeExtension>), ServiceError> {
        if reference.trim().is_empty() {
            return Err(ServiceError::field("reference", "must not be empty"));
        }
        let (approved, mut extensions) = self.extensions(programme_id).await?;
        if until <= approved {
            return Err(ServiceError::field(
                "until",
                format!("must be after the approved period's end, {approved}"),
            ));
        }
        let participant_id = self.store.get_programme(programme_id).await?.participant_id;
        let extension = ProgrammeExtension {
            id: Uuid::now_v7(),
            programme_id,
            until,
            exception,
            reference: reference.trim().to_owned(),
            decided_at: crate::clock::now(),
            decided_by: actor.name.clone(),
        };
        let entry = audit(
            actor,
            "programme.extended",
            "participant",
            &participant_id.to_string(),
            json!({
                "programme_id": programme_id, "extension_id": extension.id, "until": until,
                "exception": exception, "reference": extension.reference,
            }),
        );
        self.store.add_extension(&extension, &entry).await?;
        // The new until is the latest: the approved period ends there.
        extensions.push(extension);
        Ok((until, extensions))
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

/// The last day of a programme's approved period: `months` from its start,
/// or the latest extension's until.
pub(crate) fn approved_until(start: Date, extensions: &[ProgrammeExtension], months: u32) -> Date {
    // The day before the start, `months` on: a start on 31 January runs a
    // month to 28 (or 29) February.
    let first = months_after(start.previous_day().unwrap_or(start), months);
    extensions
        .iter()
        .map(|e| e.until)
        .fold(first, std::cmp::max)
}

/// The same day `months` later (the month's last day where it has none).
fn months_after(date: Date, months: u32) -> Date {
    let index =
        i64::from(date.year()) * 12 + i64::from(u8::from(date.month())) - 1 + i64::from(months);
    let (Ok(year), Ok(month)) = (
        i32::try_from(index.div_euclid(12)),
        u8::try_from(index.rem_euclid(12) + 1),
    ) else {
        return Date::MAX;
    };
    let Ok(month) = time::Month::try_from(month) else {
        return Date::MAX;
    };
    (0..4)
        .find_map(|back| Date::from_calendar_date(year, month, date.day() - back).ok())
        .unwrap_or(Date::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn a_programme_is_approved_for_its_first_months_then_as_extended() {
        assert_eq!(
            approved_until(date!(2025 - 01 - 06), &[], 12),
            date!(2026 - 01 - 05)
        );
        assert_eq!(
            approved_until(date!(2024 - 03 - 31), &[], 11),
            date!(2025 - 02 - 28),
            "eleven months from 31 March run to the last of February"
        );
        assert_eq!(
            approved_until(date!(2024 - 02 - 01), &[], 1),
            date!(2024 - 02 - 29)
        );
        let extension = |until| ProgrammeExtension {
            id: Uuid::nil(),
            programme_id: Uuid::nil(),
            until,
            exception: false,
            reference: "F".into(),
            decided_at: time::OffsetDateTime::UNIX_EPOCH,
            decided_by: "k".into(),
        };
        assert_eq!(
            approved_until(
                date!(2025 - 01 - 06),
                &[
                    extension(date!(2026 - 07 - 05)),
                    extension(date!(2027 - 01 - 05))
                ],
                12
            ),
            date!(2027 - 01 - 05)
        );
    }
}
