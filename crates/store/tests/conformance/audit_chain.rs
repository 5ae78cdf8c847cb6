//! The audit log's hash chain: every audited write links into one chain that
//! verifies, concurrent writers never fork it, and tampering behind the
//! store's back is found at the right entry.

use kvp_rules::AbsenceKind;
use std::sync::Arc;

use kvp_store::{
    AcceptOutcome, Backend, DecisionOutcome, Municipality, RegisteredG, Repository,
    SanctionDecision, StoreError,
};
use serde_json::json;
use time::macros::date;
use tokio::sync::Barrier;
use uuid::Uuid;

use crate::support::{
    AT, CloseOutcome, audit, close_period, closed, dec, event_at, execute_raw, given_oslo,
    given_participant, oslo, paid, participant_of, pay_run, programme_of, reopen, supervisor_key,
    timesheet_for, try_execute_raw,
};

/// Writes `count` audit entries (municipality upserts), one after the other.
async fn given_entries(store: &Arc<dyn Repository>, count: usize) {
    for n in 0..count {
        let municipality = Municipality {
            id: format!("{:04}", 1000 + n),
            ..oslo()
        };
        store
            .upsert_municipality(
                &municipality,
                None,
                &audit("municipality.upserted", "municipality", &municipality.id)
                    .with_details(json!({ "n": n })),
            )
            .await
            .unwrap();
    }
}

/// SQL that removes the append-only guard the way someone with direct access
/// to the database would, then runs `tampering`.
fn unguarded(backend: Backend, tampering: &str) -> String {
    match backend {
        Backend::Sqlite => format!(
            "DROP TRIGGER IF EXISTS audit_entries_no_update; \
             DROP TRIGGER IF EXISTS audit_entries_no_delete; \
             {tampering}"
        ),
        Backend::Postgres => format!("ALTER TABLE audit_entries DISABLE TRIGGER USER; {tampering}"),
    }
}

/// An audit row as a binary from before the chain wrote it: no link.
fn unlinked_row_sql(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => {
            "INSERT INTO audit_entries (id, at, actor, action, subject_type, subject_id, details) \
             VALUES (randomblob(16), '2024-12-31T23:59:59.999999Z', 'caseworker:old', \
                     'municipality.upserted', 'municipality', '0301', '{\"b\": [1, 2.50], \"a\": null}')"
        }
        Backend::Postgres => {
            "INSERT INTO audit_entries (id, at, actor, action, subject_type, subject_id, details) \
             VALUES (gen_random_uuid(), '2024-12-31T23:59:59.999999Z', 'caseworker:old', \
                     'municipality.upserted', 'municipality', '0301', '{\"b\": [1, 2.50], \"a\": null}')"
        }
    }
}

pub async fn an_empty_audit_log_verifies(store: Arc<dyn Repository>) {
    let verification = store.verify_audit_chain().await.unwrap();

    assert_eq!(verification.entries, 0);
    assert_eq!(verification.unchained, 0);
    assert_eq!(verification.head, None);
    assert!(verification.is_intact(), "{verification:?}");
}

pub async fn the_audit_chain_verifies_after_a_mix_of_operations(store: Arc<dyn Repository>) {
    let mut written = 0u64;
    // Details whose numbers and keys a database might rewrite: PostgreSQL's
    // jsonb writes 1e20 out in full and drops the sign of -0.
    let awkward = json!({
        "z": { "b": 1, "a": [true, null, "ø 😀 \"quoted\"\n"] },
        "big": serde_json::from_str::<serde_json::Value>("1e20").unwrap(),
        "scale": serde_json::from_str::<serde_json::Value>("1.50").unwrap(),
        "negative_zero": serde_json::from_str::<serde_json::Value>("-0").unwrap(),
        "Å": "",
    });
    store
        .upsert_municipality(
            &oslo(),
            None,
            &audit("municipality.upserted", "municipality", "0301").with_details(awkward),
        )
        .await
        .unwrap();
    written += 1;
    let kari = participant_of("0301");
    store
        .create_participant(&kari, &audit("participant.created", "participant", kari.id))
        .await
        .unwrap();
    written += 1;

    // Refused writes leave no entry and no gap.
    let twin = participant_of("0301");
    let twin = kvp_store::Participant {
        nin_lookup: kari.nin_lookup.clone(),
        ..twin
    };
    assert!(matches!(
        store
            .create_participant(&twin, &audit("participant.created", "participant", twin.id))
            .await,
        Err(StoreError::Conflict { .. })
    ));

    let programme = programme_of(&kari);
    store
        .create_programme(
            &programme,
            &audit("programme.created", "programme", programme.id),
        )
        .await
        .unwrap();
    crate::support::set_programme_end(
        &store,
        programme.id,
        Some(date!(2025 - 12 - 31)),
        None,
        &audit("programme.ended", "programme", programme.id),
    )
    .await
    .unwrap();
    written += 2;

    let key = supervisor_key("s-1");
    store
        .register_signer_key(&key, &audit("key.registered", "signer_key", "s-1"))
        .await
        .unwrap();
    store
        .revoke_signer_key(
            "s-1",
            AT,
            "lost",
            &audit("key.revoked", "signer_key", "s-1"),
        )
        .await
        .unwrap();
    written += 2;

    let sheet = timesheet_for(&kari, date!(2025 - 03 - 03), date!(2025 - 03 - 07));
    assert!(matches!(
        store.accept_timesheet(&sheet).await.unwrap(),
        AcceptOutcome::Accepted(_)
    ));
    written += 1;
    // A duplicate writes nothing; an overlap is refused.
    assert!(matches!(
        store.accept_timesheet(&sheet).await.unwrap(),
        AcceptOutcome::Duplicate(_)
    ));
    let overlapping = timesheet_for(&kari, date!(2025 - 03 - 05), date!(2025 - 03 - 10));
    assert!(matches!(
        store.accept_timesheet(&overlapping).await,
        Err(StoreError::Overlap { .. })
    ));

    let decision = SanctionDecision {
        id: Uuid::now_v7(),
        participant_id: kari.id,
        date: date!(2025 - 03 - 04),
        entry_kind: AbsenceKind::Unexcused,
        outcome: DecisionOutcome::Approved,
        decided_at: AT,
        decided_by: "caseworker:k123".into(),
        reference: "V-1".into(),
        reason: "no notice".into(),
        legal_basis: "sosialtjenesteloven § 36".into(),
        appeal_deadline: None,
        warning_id: None,
        deducted_hours: None,
    };
    store
        .record_decision(
            &decision,
            &[event_at(
                "no.kvp.payroll.deduction.decided.v1",
                decision.id,
                AT,
            )],
            &audit("decision.recorded", "sanction_decision", decision.id),
        )
        .await
        .unwrap();
    written += 1;

    let march = date!(2025 - 03 - 01);
    let new_run = pay_run(march, &[(kari.id, "KVP_BASE", Some(march), "20500.50")]);
    let run = closed(&store, &new_run).await;
    assert!(matches!(
        close_period(&store, &pay_run(march, &[])).await.unwrap(),
        CloseOutcome::Existing(_)
    ));
    store
        .confirm_payment(
            &paid(&run, kari.id, "20500.50"),
            &[],
            &audit("payment.confirmed", "pay_run", run.id),
        )
        .await
        .unwrap();
    written += 2;

    store
        .register_g(
            &RegisteredG {
                effective_date: date!(2025 - 05 - 01),
                value: dec("130160"),
                reference: "FOR-2025-05-23-1000".into(),
                registered_at: AT,
            },
            &[],
            &audit("g.registered", "registered_g", "2025-05-01"),
        )
        .await
        .unwrap();
    written += 1;

    let verification = store.verify_audit_chain().await.unwrap();
    assert!(verification.is_intact(), "{verification:?}");
    assert_eq!(verification.entries, written);
    assert_eq!(verification.unchained, 0);
    assert!(verification.head.is_some());

    // Another instance opening the database sees the same chain and extends it.
    let other = reopen().await;
    given_entries(&other, 1).await;
    let extended = other.verify_audit_chain().await.unwrap();
    other.close().await;
    assert!(extended.is_intact(), "{extended:?}");
    assert_eq!(extended.entries, written + 1);
    assert_ne!(extended.head, verification.head);
}

pub async fn concurrent_audited_writes_never_fork_the_chain(store: Arc<dyn Repository>) {
    given_oslo(&store).await;
    const WRITERS: usize = 12;
    let barrier = Arc::new(Barrier::new(WRITERS));
    let mut tasks = Vec::new();
    for _ in 0..WRITERS {
        let store = store.clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            let participant = participant_of("0301");
            barrier.wait().await;
            store
                .create_participant(
                    &participant,
                    &audit("participant.created", "participant", participant.id),
                )
                .await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }

    let verification = store.verify_audit_chain().await.unwrap();
    assert!(verification.is_intact(), "{verification:?}");
    assert_eq!(verification.entries, 1 + WRITERS as u64);
}

pub async fn changing_an_entrys_details_is_detected_at_that_entry(store: Arc<dyn Repository>) {
    given_entries(&store, 5).await;
    assert!(store.verify_audit_chain().await.unwrap().is_intact());

    execute_raw(&unguarded(
        store.backend(),
        "UPDATE audit_entries SET details = '{\"n\": 99}' WHERE chain_seq = 3",
    ))
    .await;

    let verification = store.verify_audit_chain().await.unwrap();
    let (seq, reason) = verification.first_broken.clone().unwrap();
    assert_eq!(seq, 3, "{reason}");
    assert!(reason.contains("does not match its hash"), "{reason}");
    assert_eq!(verification.entries, 2);
}

pub async fn changing_who_or_when_is_detected_at_that_entry(store: Arc<dyn Repository>) {
    given_entries(&store, 5).await;

    execute_raw(&unguarded(
        store.backend(),
        "UPDATE audit_entries SET actor = 'caseworker:someone-else' WHERE chain_seq = 4",
    ))
    .await;
    let verification = store.verify_audit_chain().await.unwrap();
    assert_eq!(verification.first_broken.map(|(seq, _)| seq), Some(4));

    let earlier = match store.backend() {
        Backend::Sqlite => {
            "UPDATE audit_entries SET at = '2025-03-03T09:15:30.123455Z' \
                            WHERE chain_seq = 2"
        }
        Backend::Postgres => {
            "UPDATE audit_entries SET at = at - interval '1 microsecond' \
                              WHERE chain_seq = 2"
        }
    };
    execute_raw(&unguarded(store.backend(), earlier)).await;
    let verification = store.verify_audit_chain().await.unwrap();
    assert_eq!(verification.first_broken.map(|(seq, _)| seq), Some(2));
    assert_eq!(verification.entries, 1);
}

pub async fn deleting_a_middle_entry_is_detected_at_the_missing_entry(store: Arc<dyn Repository>) {
    given_entries(&store, 5).await;

    execute_raw(&unguarded(
        store.backend(),
        "DELETE FROM audit_entries WHERE chain_seq = 3",
    ))
    .await;

    let verification = store.verify_audit_chain().await.unwrap();
    let (seq, reason) = verification.first_broken.clone().unwrap();
    assert_eq!(seq, 3, "{reason}");
    assert!(reason.contains("missing"), "{reason}");
    assert_eq!(verification.entries, 2);
}

pub async fn renumbering_after_a_delete_is_detected_by_the_broken_link(store: Arc<dyn Repository>) {
    given_entries(&store, 5).await;

    // Close the gap, as a careful forger would: entry 4 becomes 3, 5 becomes 4.
    execute_raw(&unguarded(
        store.backend(),
        "DELETE FROM audit_entries WHERE chain_seq = 3; \
         UPDATE audit_entries SET chain_seq = chain_seq + 100 WHERE chain_seq > 3; \
         UPDATE audit_entries SET chain_seq = chain_seq - 101 WHERE chain_seq > 100",
    ))
    .await;

    let verification = store.verify_audit_chain().await.unwrap();
    let (seq, reason) = verification.first_broken.clone().unwrap();
    assert_eq!(seq, 3, "{reason}");
    assert!(reason.contains("prev_hash"), "{reason}");
}

pub async fn the_audit_log_refuses_updates_and_deletes(store: Arc<dyn Repository>) {
    given_entries(&store, 3).await;

    for sql in [
        "UPDATE audit_entries SET details = '{}' WHERE chain_seq = 2",
        "UPDATE audit_entries SET hash = prev_hash WHERE chain_seq = 3",
        "DELETE FROM audit_entries WHERE chain_seq = 3",
        "DELETE FROM audit_entries",
    ] {
        let refused = try_execute_raw(sql).await.unwrap_err();
        assert!(refused.contains("append-only"), "{sql}: {refused}");
    }
    if store.backend() == Backend::Postgres {
        let refused = try_execute_raw("TRUNCATE audit_entries").await.unwrap_err();
        assert!(refused.contains("append-only"), "{refused}");
    }

    let verification = store.verify_audit_chain().await.unwrap();
    assert!(verification.is_intact(), "{verification:?}");
    assert_eq!(verification.entries, 3);
}

pub async fn entries_from_before_the_chain_are_chained_when_the_store_opens(
    store: Arc<dyn Repository>,
) {
    execute_raw(unlinked_row_sql(store.backend())).await;
    execute_raw(unlinked_row_sql(store.backend())).await;

    let before = store.verify_audit_chain().await.unwrap();
    assert!(before.is_intact(), "{before:?}");
    assert_eq!((before.entries, before.unchained), (0, 2));

    let reopened = reopen().await;
    let after = reopened.verify_audit_chain().await.unwrap();
    assert!(after.is_intact(), "{after:?}");
    assert_eq!((after.entries, after.unchained), (2, 0));

    // New entries continue the chain after them.
    given_participant(&reopened).await;
    let extended = reopened.verify_audit_chain().await.unwrap();
    reopened.close().await;
    assert!(extended.is_intact(), "{extended:?}");
    assert_eq!(extended.entries, 4);
}

pub async fn an_entry_without_a_link_after_the_chain_began_is_a_break(store: Arc<dyn Repository>) {
    given_entries(&store, 2).await;
    execute_raw(unlinked_row_sql(store.backend())).await;
    given_entries(&store, 1).await;

    let verification = store.verify_audit_chain().await.unwrap();
    let (seq, reason) = verification.first_broken.clone().unwrap();
    assert_eq!(seq, 3, "{reason}");
    assert!(reason.contains("without a hash"), "{reason}");

    // Opening the store again does not launder it into the chain.
    let reopened = reopen().await;
    let again = reopened.verify_audit_chain().await.unwrap();
    reopened.close().await;
    assert_eq!(again.first_broken.map(|(seq, _)| seq), Some(3));
}
