//! Municipalities: upsert, read, list.

use std::sync::Arc;

use kvp_store::{Accounting, Expected, HandoffSettings, Municipality, Repository, StoreError};
use serde_json::json;

use crate::support::{audit, given_oslo, oslo};

pub async fn a_municipality_is_upserted_and_read_back(store: Arc<dyn Repository>) {
    let mut oslo = given_oslo(&store).await;
    assert_eq!(store.get_municipality("0301").await.unwrap(), oslo);

    oslo.name = "Oslo kommune".into();
    oslo.policy_overrides = json!({ "leave_days_per_year": 30 });
    oslo.pay_codes = json!({ "KVP_BASE": "2000" });
    let handoff = HandoffSettings {
        use_product_codes: true,
        employer_contribution: true,
        accounting: Accounting {
            ansvar: Some("1400".into()),
            tjeneste: None,
            function: "276".into(),
        },
    };
    oslo.handoff = handoff.clone();
    store
        .upsert_municipality(
            &oslo,
            None,
            &audit("municipality.upserted", "municipality", "0301"),
        )
        .await
        .unwrap();

    let stored = store.get_municipality("0301").await.unwrap();
    assert_eq!(stored.name, "Oslo kommune");
    assert_eq!(
        stored.policy_overrides,
        json!({ "leave_days_per_year": 30 })
    );
    assert_eq!(stored.pay_codes, json!({ "KVP_BASE": "2000" }));
    assert_eq!(stored.handoff, handoff);
    assert_eq!(store.list_municipalities().await.unwrap().len(), 1);
    assert_eq!(
        store
            .list_audit("municipality", "0301")
            .await
            .unwrap()
            .len(),
        2
    );
}

pub async fn municipalities_are_listed_by_number(store: Arc<dyn Repository>) {
    for (id, name) in [("4601", "Bergen"), ("0301", "Oslo"), ("5001", "Trondheim")] {
        let municipality = Municipality {
            id: id.into(),
            name: name.into(),
            policy_overrides: json!({}),
            pay_codes: json!({}),
            handoff: Default::default(),
            version: 1,
        };
        store
            .upsert_municipality(
                &municipality,
                None,
                &audit("municipality.upserted", "municipality", id),
            )
            .await
            .unwrap();
    }

    let listed = store.list_municipalities().await.unwrap();
    let names: Vec<&str> = listed.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["Oslo", "Bergen", "Trondheim"]);
}

pub async fn an_unknown_municipality_is_not_found(store: Arc<dyn Repository>) {
    let err = store.get_municipality("9999").await.unwrap_err();
    assert!(
        matches!(&err, StoreError::NotFound { entity: "municipality", id } if id == "9999"),
        "{err:?}"
    );
}

pub async fn a_change_expecting_another_version_is_refused_and_writes_nothing(
    store: Arc<dyn Repository>,
) {
    let entry = || audit("municipality.upserted", "municipality", "0301");
    let created = store
        .upsert_municipality(&oslo(), Some(Expected::Absent), &entry())
        .await
        .unwrap();
    assert_eq!(created, 1);
    let again = store
        .upsert_municipality(&oslo(), Some(Expected::Absent), &entry())
        .await;
    assert!(
        matches!(again, Err(StoreError::VersionMismatch { current: Some(1) })),
        "{again:?}"
    );

    let renamed = Municipality {
        name: "Oslo kommune".into(),
        ..oslo()
    };
    let changed = store
        .upsert_municipality(&renamed, Some(Expected::Version(1)), &entry())
        .await
        .unwrap();
    assert_eq!(changed, 2);
    // A change made from version 1 comes too late.
    let stale = Municipality {
        name: "Christiania".into(),
        ..oslo()
    };
    let refused = store
        .upsert_municipality(&stale, Some(Expected::Version(1)), &entry())
        .await;
    assert!(
        matches!(
            refused,
            Err(StoreError::VersionMismatch { current: Some(2) })
        ),
        "{refused:?}"
    );
    let stored = store.get_municipality("0301").await.unwrap();
    assert_eq!((stored.name.as_str(), stored.version), ("Oslo kommune", 2));
    assert_eq!(
        store
            .list_audit("municipality", "0301")
            .await
            .unwrap()
            .len(),
        2,
        "refused changes leave no audit entry"
    );

    assert_eq!(
        store
            .upsert_municipality(&stale, Some(Expected::Existing), &entry())
            .await
            .unwrap(),
        3
    );
    let missing = Municipality {
        id: "4601".into(),
        ..oslo()
    };
    let refused = store
        .upsert_municipality(&missing, Some(Expected::Existing), &entry())
        .await;
    assert!(
        matches!(refused, Err(StoreError::VersionMismatch { current: None })),
        "{refused:?}"
    );
}
