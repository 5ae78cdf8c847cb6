//! Participants and the facts registered about them: children, sole-carer
//! periods, other-benefit offsets.

use kvp_rules::OffsetKind;
use std::sync::Arc;

use kvp_store::{BenefitOffset, Municipality, Repository, SoleCarerPeriod, StoreError};
use serde_json::json;
use time::macros::{date, datetime};
use uuid::Uuid;

use crate::support::{AT, audit, child_of, dec, given_oslo, given_participant, participant_of};

pub async fn a_participant_is_created_and_found_by_id_and_by_nin_lookup(
    store: Arc<dyn Repository>,
) {
    let participant = given_participant(&store).await;

    assert_eq!(
        store.get_participant(participant.id).await.unwrap(),
        participant
    );
    assert_eq!(
        store
            .find_participant_by_nin("0301", &participant.nin_lookup)
            .await
            .unwrap(),
        Some(participant.clone())
    );
    assert_eq!(
        store
            .find_participant_by_nin("0301", b"someone else")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .find_participant_by_nin("4601", &participant.nin_lookup)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.list_participants("0301").await.unwrap(),
        vec![participant.clone()]
    );

    let trail = store
        .list_audit("participant", &participant.id.to_string())
        .await
        .unwrap();
    assert_eq!(trail.len(), 1);
    assert_eq!(trail[0].action, "participant.created");
    assert_eq!(trail[0].actor, "caseworker:k123");
    assert_eq!(trail[0].at, AT);
}

pub async fn a_second_participant_with_the_same_nin_lookup_is_a_conflict_and_leaves_no_trace(
    store: Arc<dyn Repository>,
) {
    let first = given_participant(&store).await;
    let mut second = participant_of("0301");
    second.nin_lookup = first.nin_lookup.clone();

    let err = store
        .create_participant(
            &second,
            &audit("participant.created", "participant", second.id),
        )
        .await
        .unwrap_err();

    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    let message = err.to_string();
    assert!(!message.contains("Kari"), "no personal data in: {message}");
    assert!(!message.contains("1990"), "no personal data in: {message}");
    assert!(matches!(
        store.get_participant(second.id).await,
        Err(StoreError::NotFound {
            entity: "participant",
            ..
        })
    ));
    assert!(
        store
            .list_audit("participant", &second.id.to_string())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.list_participants("0301").await.unwrap(),
        vec![first.clone()]
    );

    // The same person in another municipality is another participant there.
    let bergen = Municipality {
        id: "4601".into(),
        name: "Bergen".into(),
        policy_overrides: json!({}),
        pay_codes: json!({}),
        handoff: Default::default(),
        version: 1,
    };
    store
        .upsert_municipality(
            &bergen,
            None,
            &audit("municipality.upserted", "municipality", "4601"),
        )
        .await
        .unwrap();
    let mut elsewhere = participant_of("4601");
    elsewhere.nin_lookup = first.nin_lookup.clone();
    store
        .create_participant(
            &elsewhere,
            &audit("participant.created", "participant", elsewhere.id),
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .find_participant_by_nin("4601", &first.nin_lookup)
            .await
            .unwrap(),
        Some(elsewhere)
    );
}

pub async fn a_participant_of_an_unknown_municipality_is_not_found(store: Arc<dyn Repository>) {
    given_oslo(&store).await;
    let participant = participant_of("9999");

    let err = store
        .create_participant(
            &participant,
            &audit("participant.created", "participant", participant.id),
        )
        .await
        .unwrap_err();

    assert!(
        matches!(&err, StoreError::NotFound { entity: "municipality", id } if id == "9999"),
        "{err:?}"
    );
}

pub async fn instants_round_trip_to_the_microsecond_whatever_their_offset(
    store: Arc<dyn Repository>,
) {
    given_oslo(&store).await;
    let mut participant = participant_of("0301");
    participant.created_at = datetime!(2025-06-30 23:59:59.999999 +02:00);

    store
        .create_participant(
            &participant,
            &audit("participant.created", "participant", participant.id),
        )
        .await
        .unwrap();

    let stored = store.get_participant(participant.id).await.unwrap();
    assert_eq!(stored.created_at, datetime!(2025-06-30 21:59:59.999999 UTC));
}

pub async fn children_sole_carer_periods_and_offsets_are_stored_and_listed_in_order(
    store: Arc<dyn Repository>,
) {
    let participant = given_participant(&store).await;
    let younger = child_of(&participant, date!(2020 - 11 - 01));
    let older = child_of(&participant, date!(2016 - 02 - 29));
    for child in [&younger, &older] {
        store
            .add_child(
                child,
                false,
                &audit("child.added", "participant", participant.id),
            )
            .await
            .unwrap();
    }

    let open = SoleCarerPeriod {
        id: Uuid::now_v7(),
        participant_id: participant.id,
        from: date!(2025 - 01 - 01),
        to: None,
    };
    let closed = SoleCarerPeriod {
        id: Uuid::now_v7(),
        participant_id: participant.id,
        from: date!(2024 - 01 - 01),
        to: Some(date!(2024 - 06 - 30)),
    };
    for period in [&open, &closed] {
        store
            .add_sole_carer_period(
                period,
                &audit("sole_carer.added", "participant", participant.id),
            )
            .await
            .unwrap();
    }

    let march = BenefitOffset {
        id: Uuid::now_v7(),
        participant_id: participant.id,
        month: date!(2025 - 03 - 01),
        kind: OffsetKind::Sykepenger,
        amount: dec("1234.56"),
    };
    let february = BenefitOffset {
        id: Uuid::now_v7(),
        participant_id: participant.id,
        month: date!(2025 - 02 - 01),
        kind: OffsetKind::Dagpenger,
        amount: dec("0.01"),
    };
    for offset in [&march, &february] {
        store
            .add_benefit_offset(
                offset,
                &audit("offset.added", "participant", participant.id),
            )
            .await
            .unwrap();
    }

    assert_eq!(
        store.list_children(participant.id).await.unwrap(),
        vec![older, younger]
    );
    assert_eq!(
        store.list_sole_carer_periods(participant.id).await.unwrap(),
        vec![closed, open]
    );
    assert_eq!(
        store.list_benefit_offsets(participant.id).await.unwrap(),
        vec![february, march]
    );
    let actions: Vec<String> = store
        .list_audit("participant", &participant.id.to_string())
        .await
        .unwrap()
        .into_iter()
        .map(|entry| entry.action)
        .collect();
    assert_eq!(
        actions,
        [
            "participant.created",
            "child.added",
            "child.added",
            "sole_carer.added",
            "sole_carer.added",
            "offset.added",
            "offset.added"
        ]
    );
}

pub async fn an_offset_month_must_be_given_as_its_first_day(store: Arc<dyn Repository>) {
    let participant = given_participant(&store).await;
    let offset = BenefitOffset {
        id: Uuid::now_v7(),
        participant_id: participant.id,
        month: date!(2025 - 03 - 15),
        kind: OffsetKind::Sykepenger,
        amount: dec("100"),
    };

    let err = store
        .add_benefit_offset(&offset, &audit("offset.added", "offset", offset.id))
        .await
        .unwrap_err();

    assert!(matches!(err, StoreError::InvalidInput { .. }), "{err:?}");
    assert!(
        store
            .list_benefit_offsets(participant.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .list_audit("offset", &offset.id.to_string())
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn a_sole_carer_period_cannot_end_before_it_starts(store: Arc<dyn Repository>) {
    let participant = given_participant(&store).await;
    let period = SoleCarerPeriod {
        id: Uuid::now_v7(),
        participant_id: participant.id,
        from: date!(2025 - 03 - 01),
        to: Some(date!(2025 - 02 - 28)),
    };

    let err = store
        .add_sole_carer_period(
            &period,
            &audit("sole_carer.added", "participant", participant.id),
        )
        .await
        .unwrap_err();

    assert!(matches!(err, StoreError::InvalidInput { .. }), "{err:?}");
    assert!(
        store
            .list_sole_carer_periods(participant.id)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn facts_about_an_unknown_participant_are_refused(store: Arc<dyn Repository>) {
    let participant = given_participant(&store).await;
    let mut stranger = participant_of("0301");
    stranger.id = Uuid::now_v7();
    let child = child_of(&stranger, date!(2019 - 04 - 01));

    let err = store
        .add_child(
            &child,
            false,
            &audit("child.added", "participant", stranger.id),
        )
        .await
        .unwrap_err();

    assert!(
        matches!(&err, StoreError::NotFound { entity: "participant", id } if *id == stranger.id.to_string()),
        "{err:?}"
    );
    assert!(
        store
            .list_children(participant.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .list_audit("participant", &stranger.id.to_string())
            .await
            .unwrap()
            .is_empty()
    );
}
