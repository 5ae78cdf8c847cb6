//! `participant_facts`: everything the rules engine needs, in one call.

use kvp_rules::{AbsenceKind, OffsetKind};
use std::sync::Arc;

use kvp_store::{
    BenefitOffset, DecisionOutcome, Pause, PauseKind, ProgrammeWithPauses, Repository,
    SanctionDecision, SoleCarerPeriod, StoreError, TimesheetPeriod,
};
use time::macros::date;
use uuid::Uuid;

use crate::support::{
    AT, audit, child_of, correction_of, dec, given_participant, participant_of, programme_of,
    timesheet_for,
};

pub async fn participant_facts_gather_everything_the_rules_engine_needs(
    store: Arc<dyn Repository>,
) {
    let participant = given_participant(&store).await;
    let child = child_of(&participant, date!(2016 - 02 - 29));
    store
        .add_child(
            &child,
            false,
            &audit("child.added", "participant", participant.id),
        )
        .await
        .unwrap();
    let sole_carer = SoleCarerPeriod {
        id: Uuid::now_v7(),
        participant_id: participant.id,
        from: date!(2025 - 01 - 01),
        to: None,
    };
    store
        .add_sole_carer_period(
            &sole_carer,
            &audit("sole_carer.added", "participant", participant.id),
        )
        .await
        .unwrap();
    let offset = BenefitOffset {
        id: Uuid::now_v7(),
        participant_id: participant.id,
        month: date!(2025 - 03 - 01),
        kind: OffsetKind::Sykepenger,
        amount: dec("1234.56"),
    };
    store
        .add_benefit_offset(
            &offset,
            &audit("offset.added", "participant", participant.id),
        )
        .await
        .unwrap();
    let programme = programme_of(&participant);
    store
        .create_programme(
            &programme,
            &audit("programme.created", "programme", programme.id),
        )
        .await
        .unwrap();
    let pause = Pause {
        id: Uuid::now_v7(),
        programme_id: programme.id,
        from: date!(2025 - 05 - 01),
        to: Some(date!(2025 - 05 - 31)),
        kind: PauseKind::Interrupted,
        reference: "KVP-2025-0042-A".into(),
    };
    store
        .add_pause(
            &pause,
            &audit("programme.paused", "programme", programme.id),
        )
        .await
        .unwrap();

    let original = timesheet_for(&participant, date!(2025 - 03 - 03), date!(2025 - 03 - 07));
    store.accept_timesheet(&original).await.unwrap();
    let corrected = correction_of(
        &original.timesheet,
        &participant,
        date!(2025 - 03 - 03),
        date!(2025 - 03 - 07),
    );
    store.accept_timesheet(&corrected).await.unwrap();
    let next_week = timesheet_for(&participant, date!(2025 - 03 - 10), date!(2025 - 03 - 14));
    store.accept_timesheet(&next_week).await.unwrap();
    let decision = SanctionDecision {
        id: Uuid::now_v7(),
        participant_id: participant.id,
        date: date!(2025 - 03 - 07),
        entry_kind: AbsenceKind::SickSelf,
        outcome: DecisionOutcome::Rejected,
        decided_at: AT,
        decided_by: "caseworker:k123".into(),
        reference: "VEDTAK-2025-118".into(),
        reason: "doctor's note handed in late".into(),
        legal_basis: "sosialtjenesteloven § 36".into(),
        appeal_deadline: None,
        warning_id: None,
        deducted_hours: None,
    };
    store
        .record_decision(
            &decision,
            &[],
            &audit("decision.recorded", "decision", decision.id),
        )
        .await
        .unwrap();

    // Someone else's facts stay out.
    let other = participant_of("0301");
    store
        .create_participant(
            &other,
            &audit("participant.created", "participant", other.id),
        )
        .await
        .unwrap();
    store
        .accept_timesheet(&timesheet_for(
            &other,
            date!(2025 - 03 - 03),
            date!(2025 - 03 - 07),
        ))
        .await
        .unwrap();

    let facts = store.participant_facts(participant.id).await.unwrap();

    assert_eq!(facts.participant, participant);
    assert_eq!(facts.children, vec![child]);
    assert_eq!(facts.sole_carer_periods, vec![sole_carer]);
    assert_eq!(facts.offsets, vec![offset]);
    assert_eq!(
        facts.programmes,
        vec![ProgrammeWithPauses {
            // A pause is a fact of its own with its own versions: the
            // programme it falls in keeps its version 1.
            programme,
            pauses: vec![pause],
        }]
    );
    assert_eq!(
        facts.timesheets,
        vec![
            TimesheetPeriod {
                id: corrected.timesheet.id,
                period_from: date!(2025 - 03 - 03),
                period_to: date!(2025 - 03 - 07),
                version: 2,
            },
            TimesheetPeriod {
                id: next_week.timesheet.id,
                period_from: date!(2025 - 03 - 10),
                period_to: date!(2025 - 03 - 14),
                version: 1,
            },
        ]
    );
    let expected_entries: Vec<_> = corrected
        .entries
        .iter()
        .chain(&next_week.entries)
        .cloned()
        .collect();
    assert_eq!(facts.entries, expected_entries);
    assert_eq!(facts.decisions, vec![decision]);

    let theirs = store.participant_facts(other.id).await.unwrap();
    assert!(theirs.children.is_empty() && theirs.programmes.is_empty());
    assert!(theirs.decisions.is_empty() && theirs.offsets.is_empty());
    assert_eq!(theirs.timesheets.len(), 1);
    assert_eq!(theirs.entries.len(), 2);
}

pub async fn facts_of_an_unknown_participant_are_not_found(store: Arc<dyn Repository>) {
    let unknown = Uuid::now_v7();

    let err = store.participant_facts(unknown).await.unwrap_err();

    assert!(
        matches!(&err, StoreError::NotFound { entity: "participant", id } if *id == unknown.to_string()),
        "{err:?}"
    );
}
