//! Programme decisions and their pauses.

use std::sync::Arc;

use kvp_store::{Pause, PauseKind, Programme, ProgrammeWithPauses, Repository, StoreError};
use time::macros::date;
use uuid::Uuid;

use crate::support::{audit, given_participant, programme_of};

pub async fn a_programme_is_created_ended_and_paused(store: Arc<dyn Repository>) {
    let participant = given_participant(&store).await;
    let programme = programme_of(&participant);
    let subject = programme.id.to_string();
    store
        .create_programme(
            &programme,
            &audit("programme.created", "programme", &subject),
        )
        .await
        .unwrap();

    let ended = crate::support::set_programme_end(
        &store,
        programme.id,
        Some(date!(2025 - 12 - 31)),
        None,
        &audit("programme.ended", "programme", &subject),
    )
    .await
    .unwrap();
    assert_eq!(
        ended,
        Programme {
            end: Some(date!(2025 - 12 - 31)),
            version: 2,
            ..programme.clone()
        }
    );
    assert_eq!(store.get_programme(programme.id).await.unwrap(), ended);

    let stop = Pause {
        id: Uuid::now_v7(),
        programme_id: programme.id,
        from: date!(2025 - 09 - 01),
        to: None,
        kind: PauseKind::Stopped,
        reference: "KVP-2025-0042-S".into(),
    };
    let interruption = Pause {
        id: Uuid::now_v7(),
        programme_id: programme.id,
        from: date!(2025 - 04 - 01),
        to: Some(date!(2025 - 04 - 30)),
        kind: PauseKind::Interrupted,
        reference: "KVP-2025-0042-A".into(),
    };
    for pause in [&stop, &interruption] {
        store
            .add_pause(pause, &audit("programme.paused", "programme", &subject))
            .await
            .unwrap();
    }

    assert_eq!(
        store.list_programmes(participant.id).await.unwrap(),
        vec![ProgrammeWithPauses {
            // A pause is a fact of its own: the programme's version stays.
            programme: ended.clone(),
            pauses: vec![interruption, stop],
        }]
    );
    // An end set from a version before the last end is refused, and changes nothing.
    let stale = crate::support::set_programme_end(
        &store,
        programme.id,
        None,
        Some(kvp_store::Expected::Version(1)),
        &audit("programme.ended", "programme", &subject),
    )
    .await;
    assert!(
        matches!(
            stale,
            Err(kvp_store::StoreError::VersionMismatch { current: Some(2) })
        ),
        "{stale:?}"
    );
    assert_eq!(
        store.get_programme(programme.id).await.unwrap().end,
        Some(date!(2025 - 12 - 31))
    );
    let actions: Vec<String> = store
        .list_audit("programme", &subject)
        .await
        .unwrap()
        .into_iter()
        .map(|entry| entry.action)
        .collect();
    assert_eq!(
        actions,
        [
            "programme.created",
            "programme.ended",
            "programme.paused",
            "programme.paused"
        ]
    );
}

pub async fn programmes_are_listed_by_start_and_an_end_can_be_cleared(store: Arc<dyn Repository>) {
    let participant = given_participant(&store).await;
    let later = Programme {
        start: date!(2026 - 01 - 05),
        end: Some(date!(2026 - 12 - 31)),
        ..programme_of(&participant)
    };
    let earlier = Programme {
        end: Some(date!(2025 - 06 - 30)),
        ..programme_of(&participant)
    };
    for programme in [&later, &earlier] {
        store
            .create_programme(
                programme,
                &audit("programme.created", "programme", programme.id),
            )
            .await
            .unwrap();
    }

    let reopened = crate::support::set_programme_end(
        &store,
        later.id,
        None,
        None,
        &audit("programme.ended", "programme", later.id),
    )
    .await
    .unwrap();

    assert_eq!(reopened.end, None);
    let listed: Vec<Programme> = store
        .list_programmes(participant.id)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.programme)
        .collect();
    assert_eq!(listed, vec![earlier, reopened]);
}

pub async fn a_programme_cannot_end_before_it_starts(store: Arc<dyn Repository>) {
    let participant = given_participant(&store).await;
    let programme = programme_of(&participant);
    store
        .create_programme(
            &programme,
            &audit("programme.created", "programme", programme.id),
        )
        .await
        .unwrap();

    let err = crate::support::set_programme_end(
        &store,
        programme.id,
        Some(date!(2025 - 01 - 05)),
        None,
        &audit("programme.ended", "programme", programme.id),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, StoreError::InvalidInput { .. }), "{err:?}");

    let backwards = Programme {
        end: Some(date!(2024 - 12 - 31)),
        ..programme_of(&participant)
    };
    let err = store
        .create_programme(
            &backwards,
            &audit("programme.created", "programme", backwards.id),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidInput { .. }), "{err:?}");

    let listed = store.list_programmes(participant.id).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].programme.end, None);
    assert_eq!(
        store
            .list_audit("programme", &programme.id.to_string())
            .await
            .unwrap()
            .len(),
        1
    );
}

pub async fn ending_or_pausing_an_unknown_programme_is_not_found(store: Arc<dyn Repository>) {
    given_participant(&store).await;
    let unknown = Uuid::now_v7();

    let err = store.get_programme(unknown).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NotFound {
                entity: "programme",
                ..
            }
        ),
        "{err:?}"
    );

    let err = crate::support::set_programme_end(
        &store,
        unknown,
        None,
        None,
        &audit("programme.ended", "programme", unknown),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NotFound {
                entity: "programme",
                ..
            }
        ),
        "{err:?}"
    );

    let pause = Pause {
        id: Uuid::now_v7(),
        programme_id: unknown,
        from: date!(2025 - 04 - 01),
        to: None,
        kind: PauseKind::Interrupted,
        reference: "KVP-X".into(),
    };
    let err = store
        .add_pause(&pause, &audit("programme.paused", "programme", unknown))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NotFound {
                entity: "programme",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        store
            .list_audit("programme", &unknown.to_string())
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn a_participants_programmes_never_overlap(store: Arc<dyn Repository>) {
    let participant = given_participant(&store).await;
    let entry = |id: Uuid| audit("programme.created", "programme", id);
    let first = Programme {
        end: Some(date!(2025 - 12 - 31)),
        ..programme_of(&participant)
    };
    store
        .create_programme(&first, &entry(first.id))
        .await
        .unwrap();
    let sharing_a_day = Programme {
        start: date!(2025 - 12 - 31),
        ..programme_of(&participant)
    };
    let refused = store
        .create_programme(&sharing_a_day, &entry(sharing_a_day.id))
        .await;
    assert!(
        matches!(refused, Err(StoreError::Conflict { .. })),
        "{refused:?}"
    );
    let next = Programme {
        start: date!(2026 - 01 - 01),
        ..programme_of(&participant)
    };
    store
        .create_programme(&next, &entry(next.id))
        .await
        .unwrap();

    // Nor may an end reach into the next programme, or leave the first open.
    for end in [Some(date!(2026 - 02 - 01)), None] {
        let refused =
            crate::support::set_programme_end(&store, first.id, end, None, &entry(first.id)).await;
        assert!(
            matches!(refused, Err(StoreError::Conflict { .. })),
            "{refused:?}"
        );
    }
    let shortened = crate::support::set_programme_end(
        &store,
        first.id,
        Some(date!(2025 - 11 - 30)),
        None,
        &entry(first.id),
    )
    .await
    .unwrap();
    assert_eq!(shortened.end, Some(date!(2025 - 11 - 30)));
    let starts: Vec<_> = store
        .list_programmes(participant.id)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.programme.start)
        .collect();
    assert_eq!(starts, [date!(2025 - 01 - 06), date!(2026 - 01 - 01)]);
}
