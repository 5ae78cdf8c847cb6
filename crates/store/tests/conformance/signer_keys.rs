//! Signer keys: registration, lookup, revocation.

use std::sync::Arc;

use kvp_store::{AcceptOutcome, Repository, SignerKey, SignerRole, StoreError, TimesheetStatus};
use time::Duration;
use time::macros::{date, datetime};

use crate::support::{
    AT, audit, given_oslo, given_participant, participant_of, supervisor_key, timesheet_for,
};

pub async fn a_signer_key_is_registered_and_read_back(store: Arc<dyn Repository>) {
    let participant = given_participant(&store).await;
    let supervisor = supervisor_key("k-sup-1");
    let own = SignerKey {
        keyid: "k-part-1".into(),
        person_id: participant.id.to_string(),
        participant_id: Some(participant.id),
        role: SignerRole::Participant,
        public_key: (0..32).collect(),
        valid_until: None,
        registered_at: AT + Duration::seconds(1),
        ..supervisor_key("k-part-1")
    };
    for key in [&own, &supervisor] {
        store
            .register_signer_key(key, &audit("key.registered", "signer_key", &key.keyid))
            .await
            .unwrap();
    }

    assert_eq!(store.get_signer_key("k-sup-1").await.unwrap(), supervisor);
    assert_eq!(store.get_signer_key("k-part-1").await.unwrap(), own);
    // An envelope's keyids at once: unknown ones are left out, the order is the ids'.
    assert_eq!(
        store
            .find_signer_keys(&["k-part-1", "k-unknown", "k-sup-1"])
            .await
            .unwrap(),
        vec![own.clone(), supervisor.clone()]
    );
    assert_eq!(store.find_signer_keys(&[]).await.unwrap(), vec![]);
    assert_eq!(
        store.list_signer_keys().await.unwrap(),
        vec![supervisor, own]
    );
}

pub async fn a_national_supervisor_key_is_assigned_to_a_municipality_once(
    store: Arc<dyn Repository>,
) {
    let participant = given_participant(&store).await;
    let oslo = participant.municipality_id.clone();
    let national = supervisor_key("k-sup-national");
    let own = SignerKey {
        keyid: "k-part-1".into(),
        person_id: participant.id.to_string(),
        participant_id: Some(participant.id),
        role: SignerRole::Participant,
        ..supervisor_key("k-part-1")
    };
    for key in [&national, &own] {
        store
            .register_signer_key(key, &audit("key.registered", "signer_key", &key.keyid))
            .await
            .unwrap();
    }
    let assign = |keyid: &'static str, municipality: &str| {
        let store = store.clone();
        let municipality = municipality.to_owned();
        async move {
            store
                .assign_signer_key(
                    keyid,
                    &municipality,
                    &audit("key.assigned", "signer_key", keyid),
                )
                .await
        }
    };
    // A municipality nobody registered is not found, and nothing changes.
    assert!(matches!(
        assign("k-sup-national", "9999").await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(
        store
            .get_signer_key("k-sup-national")
            .await
            .unwrap()
            .municipality_id,
        None
    );
    let assigned = assign("k-sup-national", &oslo).await.unwrap();
    assert_eq!(assigned.municipality_id.as_deref(), Some(oslo.as_str()));
    assert_eq!(
        store.get_signer_key("k-sup-national").await.unwrap(),
        assigned
    );
    // Once: a second assignment, or a participant's key, is refused.
    assert!(matches!(
        assign("k-sup-national", &oslo).await,
        Err(StoreError::InvalidState { .. })
    ));
    assert!(matches!(
        assign("k-part-1", &oslo).await,
        Err(StoreError::InvalidState { .. })
    ));
    assert!(matches!(
        assign("k-unknown", &oslo).await,
        Err(StoreError::NotFound { .. })
    ));
}

pub async fn registering_a_taken_keyid_is_a_conflict(store: Arc<dyn Repository>) {
    given_oslo(&store).await;
    let first = supervisor_key("k-sup-1");
    store
        .register_signer_key(&first, &audit("key.registered", "signer_key", "k-sup-1"))
        .await
        .unwrap();
    let second = SignerKey {
        public_key: vec![9; 32],
        ..supervisor_key("k-sup-1")
    };

    let err = store
        .register_signer_key(&second, &audit("key.registered", "signer_key", "k-sup-1"))
        .await
        .unwrap_err();

    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    assert_eq!(
        store.get_signer_key("k-sup-1").await.unwrap().public_key,
        vec![7; 32]
    );
    assert_eq!(
        store
            .list_audit("signer_key", "k-sup-1")
            .await
            .unwrap()
            .len(),
        1
    );
}

pub async fn a_key_of_an_unknown_participant_is_not_found(store: Arc<dyn Repository>) {
    given_oslo(&store).await;
    let stranger = participant_of("0301");
    let key = SignerKey {
        participant_id: Some(stranger.id),
        role: SignerRole::Participant,
        ..supervisor_key("k-part-9")
    };

    let err = store
        .register_signer_key(&key, &audit("key.registered", "signer_key", "k-part-9"))
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
    assert!(matches!(
        store.get_signer_key("k-part-9").await,
        Err(StoreError::NotFound {
            entity: "signer key",
            ..
        })
    ));
}

pub async fn a_public_key_must_be_32_bytes(store: Arc<dyn Repository>) {
    let key = SignerKey {
        public_key: vec![7; 31],
        ..supervisor_key("k-short")
    };

    let err = store
        .register_signer_key(&key, &audit("key.registered", "signer_key", "k-short"))
        .await
        .unwrap_err();

    assert!(matches!(err, StoreError::InvalidInput { .. }), "{err:?}");
    assert!(store.list_signer_keys().await.unwrap().is_empty());
}

pub async fn revoking_a_key_records_when_and_why_and_leaves_timesheets_alone(
    store: Arc<dyn Repository>,
) {
    let participant = given_participant(&store).await;
    let key = supervisor_key("k-sup-1");
    store
        .register_signer_key(&key, &audit("key.registered", "signer_key", "k-sup-1"))
        .await
        .unwrap();
    let accepted = timesheet_for(&participant, date!(2025 - 03 - 03), date!(2025 - 03 - 07));
    assert!(matches!(
        store.accept_timesheet(&accepted).await.unwrap(),
        AcceptOutcome::Accepted(_)
    ));
    let revoked_at = datetime!(2025-03-10 12:00 UTC);

    let revoked = store
        .revoke_signer_key(
            "k-sup-1",
            revoked_at,
            "phone lost",
            &audit("key.revoked", "signer_key", "k-sup-1"),
        )
        .await
        .unwrap();

    let expected = SignerKey {
        revoked_at: Some(revoked_at),
        revocation_reason: Some("phone lost".into()),
        ..key
    };
    assert_eq!(revoked, expected);
    assert_eq!(store.get_signer_key("k-sup-1").await.unwrap(), expected);
    let timesheet = store.get_timesheet(accepted.timesheet.id).await.unwrap();
    assert_eq!(timesheet.status, TimesheetStatus::Accepted);
    assert_eq!(
        store
            .list_current_timesheets(participant.id)
            .await
            .unwrap()
            .len(),
        1
    );
    let actions: Vec<String> = store
        .list_audit("signer_key", "k-sup-1")
        .await
        .unwrap()
        .into_iter()
        .map(|entry| entry.action)
        .collect();
    assert_eq!(actions, ["key.registered", "key.revoked"]);
}

pub async fn revoking_twice_is_refused(store: Arc<dyn Repository>) {
    store
        .register_signer_key(
            &supervisor_key("k-sup-1"),
            &audit("key.registered", "signer_key", "k-sup-1"),
        )
        .await
        .unwrap();
    let first = datetime!(2025-03-10 12:00 UTC);
    store
        .revoke_signer_key(
            "k-sup-1",
            first,
            "phone lost",
            &audit("key.revoked", "signer_key", "k-sup-1"),
        )
        .await
        .unwrap();

    let err = store
        .revoke_signer_key(
            "k-sup-1",
            datetime!(2025-03-11 08:00 UTC),
            "again",
            &audit("key.revoked", "signer_key", "k-sup-1"),
        )
        .await
        .unwrap_err();

    assert!(matches!(err, StoreError::InvalidState { .. }), "{err:?}");
    let key = store.get_signer_key("k-sup-1").await.unwrap();
    assert_eq!(key.revoked_at, Some(first));
    assert_eq!(key.revocation_reason.as_deref(), Some("phone lost"));
    assert_eq!(
        store
            .list_audit("signer_key", "k-sup-1")
            .await
            .unwrap()
            .len(),
        2
    );
}

pub async fn revoking_an_unknown_key_is_not_found(store: Arc<dyn Repository>) {
    let err = store
        .revoke_signer_key(
            "k-none",
            AT,
            "why",
            &audit("key.revoked", "signer_key", "k-none"),
        )
        .await
        .unwrap_err();

    assert!(
        matches!(&err, StoreError::NotFound { entity: "signer key", id } if id == "k-none"),
        "{err:?}"
    );
    assert!(
        store
            .list_audit("signer_key", "k-none")
            .await
            .unwrap()
            .is_empty()
    );
}
