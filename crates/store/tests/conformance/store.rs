//! The store as a whole: readiness and the audit trail.

use std::sync::Arc;

use kvp_store::{NewAuditEntry, Repository};
use serde_json::json;
use time::macros::datetime;

use crate::support::{given_oslo, participant_of};

pub async fn a_migrated_store_has_no_pending_migration(store: Arc<dyn Repository>) {
    assert_eq!(
        store.pending_migrations().await.unwrap(),
        Vec::<String>::new()
    );
}

pub async fn an_audit_entry_keeps_who_what_when_and_its_details(store: Arc<dyn Repository>) {
    given_oslo(&store).await;
    let participant = participant_of("0301");
    let at = datetime!(2025-03-03 09:15:30.000001 +01:00);
    let entry = NewAuditEntry::new(
        at,
        "caseworker:k123",
        "participant.created",
        "participant",
        participant.id,
    )
    .with_details(json!({ "reason": "new decision", "hours": "7.5", "tags": ["a", "b"] }));

    store
        .create_participant(&participant, &entry)
        .await
        .unwrap();

    let trail = store
        .list_audit("participant", &participant.id.to_string())
        .await
        .unwrap();
    assert_eq!(trail.len(), 1);
    let stored = &trail[0];
    assert_eq!(stored.at, at);
    assert_eq!(
        (stored.actor.as_str(), stored.action.as_str()),
        ("caseworker:k123", "participant.created")
    );
    assert_eq!(
        (stored.subject_type.as_str(), stored.subject_id.clone()),
        ("participant", participant.id.to_string())
    );
    assert_eq!(stored.details, entry.details);
    assert_eq!(stored.id.get_version_num(), 7);
    assert!(
        store
            .list_audit("participant", "someone else")
            .await
            .unwrap()
            .is_empty()
    );
}
