//! Municipalities: upsert, read, list.

use std::sync::Arc;

use kvp_store::{Municipality, Repository, StoreError};
use serde_json::json;

use crate::support::{audit, given_oslo};

pub async fn a_municipality_is_upserted_and_read_back(store: Arc<dyn Repository>) {
    let mut oslo = given_oslo(&store).await;
    assert_eq!(store.get_municipality("0301").await.unwrap(), oslo);

    oslo.name = "Oslo kommune".into();
    oslo.policy_overrides = json!({ "leave_days_per_year": 30 });
    oslo.pay_codes = json!({ "KVP_BASE": "2000" });
    store
        .upsert_municipality(
            &oslo,
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
        };
        store
            .upsert_municipality(
                &municipality,
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
