//! Sanction decisions: one per participant, day and entry kind.

use kvp_rules::AbsenceKind;
use std::sync::Arc;

use kvp_store::{DecisionOutcome, Participant, Repository, SanctionDecision, StoreError};
use time::Date;
use time::macros::{date, datetime};
use uuid::Uuid;

use crate::support::{audit, given_participant, participant_of};

fn decision(participant: &Participant, date: Date, entry_kind: AbsenceKind) -> SanctionDecision {
    SanctionDecision {
        id: Uuid::now_v7(),
        participant_id: participant.id,
        date,
        entry_kind,
        outcome: DecisionOutcome::Approved,
        decided_at: datetime!(2025-04-02 10:30:00.5 UTC),
        decided_by: "caseworker:k123".into(),
        reference: "VEDTAK-2025-117".into(),
        reason: "no valid reason given for the absence".into(),
        legal_basis: "sosialtjenesteloven § 36".into(),
        appeal_deadline: None,
        warning_id: None,
        deducted_hours: None,
    }
}

pub async fn a_sanction_decision_is_recorded_with_its_audit_entry(store: Arc<dyn Repository>) {
    let participant = given_participant(&store).await;
    let approved = decision(&participant, date!(2025 - 03 - 12), AbsenceKind::Unexcused);

    store
        .record_decision(
            &approved,
            &[],
            &audit("decision.recorded", "decision", approved.id),
        )
        .await
        .unwrap();

    assert_eq!(
        store.list_decisions(participant.id).await.unwrap(),
        vec![approved.clone()]
    );
    let trail = store
        .list_audit("decision", &approved.id.to_string())
        .await
        .unwrap();
    assert_eq!(trail.len(), 1);
    assert_eq!(trail[0].action, "decision.recorded");
}

pub async fn a_second_decision_for_the_same_day_and_kind_is_a_conflict(store: Arc<dyn Repository>) {
    let participant = given_participant(&store).await;
    let first = decision(&participant, date!(2025 - 03 - 12), AbsenceKind::SickSelf);
    store
        .record_decision(
            &first,
            &[],
            &audit("decision.recorded", "decision", first.id),
        )
        .await
        .unwrap();
    let second = SanctionDecision {
        outcome: DecisionOutcome::Rejected,
        ..decision(&participant, date!(2025 - 03 - 12), AbsenceKind::SickSelf)
    };

    let err = store
        .record_decision(
            &second,
            &[],
            &audit("decision.recorded", "decision", second.id),
        )
        .await
        .unwrap_err();

    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    assert!(
        store
            .list_audit("decision", &second.id.to_string())
            .await
            .unwrap()
            .is_empty()
    );

    // Another kind on the same day, or the same kind on another day, is another decision.
    let other_kind = decision(&participant, date!(2025 - 03 - 12), AbsenceKind::Unexcused);
    let other_day = decision(&participant, date!(2025 - 03 - 11), AbsenceKind::SickSelf);
    for d in [&other_kind, &other_day] {
        store
            .record_decision(d, &[], &audit("decision.recorded", "decision", d.id))
            .await
            .unwrap();
    }
    assert_eq!(
        store.list_decisions(participant.id).await.unwrap(),
        vec![other_day, first, other_kind]
    );
}

pub async fn a_decision_for_an_unknown_participant_is_not_found(store: Arc<dyn Repository>) {
    given_participant(&store).await;
    let stranger = participant_of("0301");
    let orphan = decision(&stranger, date!(2025 - 03 - 12), AbsenceKind::Unexcused);

    let err = store
        .record_decision(
            &orphan,
            &[],
            &audit("decision.recorded", "decision", orphan.id),
        )
        .await
        .unwrap_err();

    assert!(
        matches!(
            err,
            StoreError::NotFound {
                entity: "participant",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(store.list_decisions(stranger.id).await.unwrap().is_empty());
}
