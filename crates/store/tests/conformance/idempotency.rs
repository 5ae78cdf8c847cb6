//! Idempotency keys and natural duplicates: a key is claimed in the
//! transaction of the change it guards, answers are recorded under it, and a
//! second child or benefit that is the first again is refused.

use std::sync::Arc;

use kvp_rules::OffsetKind;
use kvp_store::{
    BenefitOffset, IdempotencyClaim, IdempotentAnswer, NewAuditEntry, Repository, StoreError,
};
use time::Duration;
use time::macros::date;
use uuid::Uuid;

use crate::support::{AT, audit, child_of, dec, given_participant};

fn claim(key: &str, request_hash: &[u8]) -> IdempotencyClaim {
    IdempotencyClaim {
        scope: "0301/caseworker:k123".into(),
        key: key.into(),
        request_hash: request_hash.to_vec(),
        request_id: Uuid::now_v7(),
    }
}

fn claiming(entry: NewAuditEntry, claim: &IdempotencyClaim) -> NewAuditEntry {
    NewAuditEntry {
        idempotency: Some(claim.clone()),
        ..entry
    }
}

fn offset(participant_id: Uuid, kind: OffsetKind, amount: &str) -> BenefitOffset {
    BenefitOffset {
        id: Uuid::now_v7(),
        participant_id,
        month: date!(2025 - 03 - 01),
        kind,
        amount: dec(amount),
    }
}

pub async fn a_key_is_claimed_with_its_change_and_keeps_the_answer(store: Arc<dyn Repository>) {
    let participant = given_participant(&store).await;
    let first = claim("k-1", b"hash-1");
    let entry = claiming(
        audit("benefit_offset.registered", "participant", participant.id),
        &first,
    );
    store
        .add_benefit_offset(
            &offset(participant.id, OffsetKind::Dagpenger, "10.00"),
            &entry,
        )
        .await
        .unwrap();
    let found = store
        .find_idempotency(&first.scope, "k-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.request_hash, b"hash-1");
    assert_eq!(found.request_id, first.request_id);
    assert_eq!(
        found.subject,
        Some(("participant".into(), participant.id.to_string()))
    );
    assert_eq!(found.created_at, AT);
    assert_eq!(found.answer, None, "claimed, not yet answered");

    // The same request's second write finds the key its own.
    store
        .add_benefit_offset(
            &offset(participant.id, OffsetKind::Sykepenger, "20.00"),
            &entry,
        )
        .await
        .unwrap();

    let answer = IdempotentAnswer {
        status: 201,
        content_type: "application/json".into(),
        body: br#"{"id":"x"}"#.to_vec(),
    };
    assert!(
        store
            .record_idempotent_answer(&first, &answer, AT)
            .await
            .unwrap()
    );
    let found = store
        .find_idempotency(&first.scope, "k-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.answer, Some(answer.clone()));
    // Another scope's key of the same name is another key.
    assert_eq!(
        store
            .find_idempotency("0302/caseworker:k123", "k-1")
            .await
            .unwrap(),
        None
    );

    // Another request under the key: its change is refused and not written,
    // and it records no answer.
    let second = claim("k-1", b"hash-1");
    let refused = store
        .add_benefit_offset(
            &offset(participant.id, OffsetKind::Foreldrepenger, "30.00"),
            &claiming(
                audit("benefit_offset.registered", "participant", participant.id),
                &second,
            ),
        )
        .await;
    assert!(matches!(refused, Err(StoreError::KeyInUse)), "{refused:?}");
    assert!(
        !store
            .record_idempotent_answer(&second, &answer, AT)
            .await
            .unwrap()
    );
    let kinds: Vec<_> = store
        .list_benefit_offsets(participant.id)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.kind)
        .collect();
    assert_eq!(kinds, [OffsetKind::Dagpenger, OffsetKind::Sykepenger]);
    let audited = store
        .list_audit("participant", &participant.id.to_string())
        .await
        .unwrap();
    assert_eq!(
        audited
            .iter()
            .filter(|e| e.action == "benefit_offset.registered")
            .count(),
        2,
        "the refused change left no audit entry"
    );
}

pub async fn a_request_that_changes_nothing_claims_its_key_with_its_answer(
    store: Arc<dyn Repository>,
) {
    let simulation = claim("sim-1", b"hash-s");
    let answer = IdempotentAnswer {
        status: 200,
        content_type: "application/json".into(),
        body: b"{}".to_vec(),
    };
    assert!(
        store
            .record_idempotent_answer(&simulation, &answer, AT)
            .await
            .unwrap()
    );
    let found = store
        .find_idempotency(&simulation.scope, "sim-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.subject, None);
    assert_eq!(found.answer, Some(answer));
}

pub async fn keys_older_than_the_retention_are_purged(store: Arc<dyn Repository>) {
    let answer = IdempotentAnswer {
        status: 200,
        content_type: "application/json".into(),
        body: b"{}".to_vec(),
    };
    for (key, at) in [("old", AT - Duration::days(31)), ("new", AT)] {
        store
            .record_idempotent_answer(&claim(key, b"h"), &answer, at)
            .await
            .unwrap();
    }
    let purged = store
        .purge_idempotency_keys(AT - Duration::days(30))
        .await
        .unwrap();
    assert_eq!(purged, 1);
    let scope = "0301/caseworker:k123";
    assert_eq!(store.find_idempotency(scope, "old").await.unwrap(), None);
    assert!(
        store
            .find_idempotency(scope, "new")
            .await
            .unwrap()
            .is_some()
    );
}

pub async fn a_second_benefit_for_the_month_and_kind_is_a_duplicate_naming_the_first(
    store: Arc<dyn Repository>,
) {
    let participant = given_participant(&store).await;
    let first = offset(participant.id, OffsetKind::Dagpenger, "10.00");
    let entry = audit("benefit_offset.registered", "participant", participant.id);
    store.add_benefit_offset(&first, &entry).await.unwrap();
    let again = store
        .add_benefit_offset(
            &offset(participant.id, OffsetKind::Dagpenger, "11.00"),
            &entry,
        )
        .await;
    match again {
        Err(StoreError::Duplicate { existing, .. }) => assert_eq!(existing, first.id),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        store.list_benefit_offsets(participant.id).await.unwrap(),
        [first]
    );
}

pub async fn a_child_born_the_same_day_needs_a_reference_or_a_confirmation(
    store: Arc<dyn Repository>,
) {
    let participant = given_participant(&store).await;
    let entry = audit("child.added", "participant", participant.id);
    let born = date!(2020 - 06 - 01);
    let first = child_of(&participant, born);
    store.add_child(&first, false, &entry).await.unwrap();
    let duplicate = |result: Result<(), StoreError>| match result {
        Err(StoreError::Duplicate { existing, .. }) => existing,
        other => panic!("{other:?}"),
    };
    let retried = store
        .add_child(&child_of(&participant, born), false, &entry)
        .await;
    assert_eq!(duplicate(retried), first.id);

    let twin = child_of(&participant, born);
    store.add_child(&twin, true, &entry).await.unwrap();
    let referenced = kvp_store::Child {
        reference: Some("BARN-3".into()),
        ..child_of(&participant, born)
    };
    store.add_child(&referenced, false, &entry).await.unwrap();
    // A reference registered is a duplicate, whatever the birth date.
    let same_reference = kvp_store::Child {
        reference: Some("BARN-3".into()),
        ..child_of(&participant, date!(2022 - 01 - 01))
    };
    assert_eq!(
        duplicate(store.add_child(&same_reference, true, &entry).await),
        referenced.id
    );
    let children = store.list_children(participant.id).await.unwrap();
    let mut ids: Vec<_> = children.iter().map(|c| c.id).collect();
    ids.sort();
    let mut expected = vec![first.id, twin.id, referenced.id];
    expected.sort();
    assert_eq!(ids, expected);
    assert_eq!(
        children
            .iter()
            .find(|c| c.id == referenced.id)
            .unwrap()
            .reference
            .as_deref(),
        Some("BARN-3")
    );
}
