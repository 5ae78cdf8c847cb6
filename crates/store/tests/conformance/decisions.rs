//! The sanction procedure: warnings with their days, decisions (one per
//! participant, day and entry kind), appeals decided with the decision's next
//! version.

use kvp_rules::AbsenceKind;
use std::sync::Arc;

use kvp_store::{
    AppealOutcome, DecisionOutcome, Expected, FactChange, FactContent, FactKind, Participant,
    Repository, SanctionAppeal, SanctionDecision, SanctionWarning, StoreError, WarnedDay,
    WarningChannel,
};
use rust_decimal::Decimal;
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

fn warning(participant: &Participant) -> SanctionWarning {
    SanctionWarning {
        id: Uuid::now_v7(),
        participant_id: participant.id,
        given_on: date!(2025 - 03 - 20),
        channel: WarningChannel::Letter,
        reference: "VARSEL-1".into(),
        days: vec![
            WarnedDay {
                date: date!(2025 - 03 - 12),
                entry_kind: AbsenceKind::Unexcused,
                hours: Decimal::new(750, 2),
            },
            WarnedDay {
                date: date!(2025 - 03 - 13),
                entry_kind: AbsenceKind::SickSelf,
                hours: Decimal::new(3, 0),
            },
        ],
        recorded_by: "caseworker:k123".into(),
        recorded_at: datetime!(2025-03-20 09:00:00 UTC),
    }
}

pub async fn a_warning_is_kept_with_its_days_and_hours(store: Arc<dyn Repository>) {
    let participant = given_participant(&store).await;
    let warned = warning(&participant);
    store
        .record_warning(
            &warned,
            &[],
            &audit("sanction.warned", "participant", participant.id),
        )
        .await
        .unwrap();
    assert_eq!(
        store.list_warnings(participant.id).await.unwrap(),
        vec![warned]
    );
    let stranger = participant_of("0301");
    let err = store
        .record_warning(
            &warning(&stranger),
            &[],
            &audit("sanction.warned", "participant", stranger.id),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
}

pub async fn an_upheld_appeal_is_the_decisions_next_version_written_with_it(
    store: Arc<dyn Repository>,
) {
    let participant = given_participant(&store).await;
    let decided = SanctionDecision {
        appeal_deadline: Some(date!(2025 - 04 - 23)),
        ..decision(&participant, date!(2025 - 03 - 12), AbsenceKind::Unexcused)
    };
    store
        .record_decision(
            &decided,
            &[],
            &audit("sanction.decided", "participant", participant.id),
        )
        .await
        .unwrap();
    let appeal = SanctionAppeal {
        id: Uuid::now_v7(),
        decision_id: decided.id,
        participant_id: participant.id,
        received_on: date!(2025 - 04 - 10),
        reference: "KLAGE-1".into(),
        recorded_by: "caseworker:k123".into(),
        recorded_at: datetime!(2025-04-10 12:00:00 UTC),
        outcome: None,
        decided_on: None,
        outcome_reference: None,
    };
    let appealed = audit("sanction.appealed", "participant", participant.id);
    store.record_appeal(&appeal, &[], &appealed).await.unwrap();
    let again = SanctionAppeal {
        id: Uuid::now_v7(),
        ..appeal.clone()
    };
    let err = store
        .record_appeal(&again, &[], &appealed)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");

    let upheld = SanctionAppeal {
        outcome: Some(AppealOutcome::PartlyUpheld),
        decided_on: Some(date!(2025 - 05 - 02)),
        outcome_reference: Some("KLAGEVEDTAK-1".into()),
        ..appeal.clone()
    };
    let change = FactChange {
        kind: FactKind::SanctionDecision,
        fact_id: decided.id.to_string(),
        expected: Expected::Version(1),
        content: Some(FactContent::SanctionDecision {
            date: decided.date,
            entry_kind: decided.entry_kind,
            outcome: DecisionOutcome::Approved,
            reference: decided.reference.clone(),
            reason: decided.reason.clone(),
            deducted_hours: Some(Decimal::new(25, 1)),
        }),
        reason: "appeal partly upheld".into(),
    };
    let decided_audit = audit("sanction.appeal_decided", "participant", participant.id);
    // From a stale version: nothing is written, the appeal stays open.
    let stale = FactChange {
        expected: Expected::Version(7),
        ..change.clone()
    };
    let err = store
        .decide_appeal(&upheld, Some(&stale), &[], &decided_audit)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::VersionMismatch { .. }), "{err:?}");
    assert_eq!(
        store.list_appeals(participant.id).await.unwrap(),
        vec![appeal.clone()]
    );

    store
        .decide_appeal(&upheld, Some(&change), &[], &decided_audit)
        .await
        .unwrap();
    assert_eq!(
        store.list_appeals(participant.id).await.unwrap(),
        vec![upheld.clone()]
    );
    let now = store.list_decisions(participant.id).await.unwrap();
    assert_eq!(now[0].deducted_hours, Some(Decimal::new(25, 1)));
    assert_eq!(now[0].appeal_deadline, Some(date!(2025 - 04 - 23)));
    let versions = store
        .fact_versions(FactKind::SanctionDecision, &decided.id.to_string())
        .await
        .unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[1].reason.as_deref(), Some("appeal partly upheld"));
    // Decided once.
    let err = store
        .decide_appeal(&upheld, None, &[], &decided_audit)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidState { .. }), "{err:?}");
}
