//! Registered parameters and the transactional outbox: events are written
//! with their change or not at all, claimed under a lease, delivered once.

use kvp_rules::AbsenceKind;
use std::collections::HashSet;
use std::sync::Arc;

use kvp_store::{
    AcceptOutcome, DecisionOutcome, NewOutboxEvent, OutboxEvent, RegisteredG, Repository,
    SanctionDecision, StoreError,
};
use time::macros::{date, datetime};
use time::{Duration, OffsetDateTime};
use tokio::sync::Barrier;
use uuid::Uuid;

use crate::support::{AT, audit, dec, event_at, given_participant, timesheet_for};

/// Long after every event of the tests was created.
const LATER: OffsetDateTime = datetime!(2025-06-01 00:00 UTC);

fn g(effective_date: time::Date, value: &str) -> RegisteredG {
    RegisteredG {
        effective_date,
        value: dec(value),
        reference: "FOR-2025-05-23-900".into(),
        registered_at: AT,
    }
}

/// Registers a G carrying `events` (a handy way to put events in the outbox).
async fn register_with(store: &Arc<dyn Repository>, date: time::Date, events: &[NewOutboxEvent]) {
    store
        .register_g(
            &g(date, "130160"),
            events,
            &audit("parameter.registered", "g", date),
        )
        .await
        .unwrap();
}

/// Events created one second apart from `AT` on.
fn events(count: usize) -> Vec<NewOutboxEvent> {
    (0..count)
        .map(|i| {
            let offset = Duration::seconds(i64::try_from(i).unwrap());
            event_at("no.kvp.payroll.test.v1", i, AT + offset)
        })
        .collect()
}

fn ids(events: &[OutboxEvent]) -> Vec<Uuid> {
    events.iter().map(|e| e.id).collect()
}

fn new_ids(events: &[NewOutboxEvent]) -> Vec<Uuid> {
    events.iter().map(|e| e.id).collect()
}

pub async fn registered_g_values_are_listed_by_date_and_one_per_date(store: Arc<dyn Repository>) {
    let may_2025 = g(date!(2025 - 05 - 01), "130160");
    let may_2024 = g(date!(2024 - 05 - 01), "124028.00");
    store
        .register_g(
            &may_2024,
            &[],
            &audit("parameter.registered", "g", may_2024.effective_date),
        )
        .await
        .unwrap();
    let regulation = events(1);
    store
        .register_g(
            &may_2025,
            &regulation,
            &audit("parameter.registered", "g", may_2025.effective_date),
        )
        .await
        .unwrap();

    let second = g(date!(2025 - 05 - 01), "130161");
    let err = store
        .register_g(
            &second,
            &events(1),
            &audit("parameter.registered", "g", "again"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    assert!(store.list_audit("g", "again").await.unwrap().is_empty());

    let listed = store.list_registered_g().await.unwrap();
    assert_eq!(listed, vec![may_2024, may_2025]);
    let values: Vec<String> = listed.iter().map(|g| g.value.to_string()).collect();
    assert_eq!(values, ["124028.00", "130160"]);
    // Only the first registration's event is in the outbox.
    assert_eq!(store.outbox_backlog().await.unwrap(), 1);
    let claimed = store
        .claim_outbox(LATER, LATER + Duration::minutes(1), 10)
        .await
        .unwrap();
    assert_eq!(ids(&claimed), new_ids(&regulation));
}

pub async fn claimed_events_come_in_creation_order_with_their_fields(store: Arc<dyn Repository>) {
    let mut written = events(5);
    // Written out of creation order: the claim still returns them by creation.
    written.swap(0, 4);
    written.swap(1, 2);
    register_with(&store, date!(2025 - 05 - 01), &written).await;
    let mut by_creation = written.clone();
    by_creation.sort_by_key(|e| e.created_at);

    // Only what is created by `now` is available.
    let now = AT + Duration::seconds(2);
    let lease = now + Duration::minutes(5);
    let first = store.claim_outbox(now, lease, 10).await.unwrap();
    assert_eq!(ids(&first), new_ids(&by_creation[..3]));
    for (claimed, new) in first.iter().zip(&by_creation) {
        assert_eq!(claimed.event_type, new.event_type);
        assert_eq!(claimed.source, new.source);
        assert_eq!(claimed.subject, new.subject);
        assert_eq!(claimed.payload, new.payload);
        assert_eq!(claimed.traceparent, new.traceparent);
        assert_eq!(claimed.created_at, new.created_at);
        assert_eq!(claimed.available_at, lease);
        assert_eq!(claimed.attempts, 0);
        assert_eq!(claimed.delivered_at, None);
        assert_eq!(claimed.last_error, None);
    }

    // The limit is kept, and leased events are not claimed again.
    let rest = store
        .claim_outbox(AT + Duration::seconds(4), LATER, 1)
        .await
        .unwrap();
    assert_eq!(ids(&rest), new_ids(&by_creation[3..4]));
    assert!(store.claim_outbox(now, lease, 10).await.unwrap().is_empty());
    assert_eq!(store.outbox_backlog().await.unwrap(), 5);
}

pub async fn an_expired_lease_makes_an_event_claimable_again(store: Arc<dyn Repository>) {
    let written = events(2);
    register_with(&store, date!(2025 - 05 - 01), &written).await;
    let now = LATER;
    let lease = now + Duration::seconds(30);

    let claimed = store.claim_outbox(now, lease, 10).await.unwrap();
    assert_eq!(ids(&claimed), new_ids(&written));
    // The relay that claimed them crashed. Until the lease ends, nothing …
    let during = store
        .claim_outbox(
            lease - Duration::microseconds(1),
            lease + Duration::minutes(1),
            10,
        )
        .await
        .unwrap();
    assert!(during.is_empty());
    // … from its end on, everything again, under a new lease.
    let again = store
        .claim_outbox(lease, lease + Duration::minutes(1), 10)
        .await
        .unwrap();
    assert_eq!(ids(&again), new_ids(&written));
    assert!(
        again
            .iter()
            .all(|e| e.available_at == lease + Duration::minutes(1))
    );
}

pub async fn delivered_events_are_never_claimed_again(store: Arc<dyn Repository>) {
    let written = events(3);
    register_with(&store, date!(2025 - 05 - 01), &written).await;
    let lease = LATER + Duration::seconds(30);
    let claimed = store.claim_outbox(LATER, lease, 10).await.unwrap();
    assert_eq!(claimed.len(), 3);

    let delivered_at = LATER + Duration::seconds(1);
    store
        .mark_delivered(claimed[0].id, delivered_at)
        .await
        .unwrap();
    store
        .mark_delivered(claimed[2].id, delivered_at)
        .await
        .unwrap();
    // Marking again (a relay whose lease ran out delivered it too) keeps the first instant.
    store
        .mark_delivered(claimed[0].id, delivered_at + Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(store.outbox_backlog().await.unwrap(), 1);

    // Long after every lease: only the undelivered one comes back.
    let far = LATER + Duration::days(30);
    let again = store
        .claim_outbox(far, far + Duration::seconds(30), 10)
        .await
        .unwrap();
    assert_eq!(ids(&again), [claimed[1].id]);
    // A failure reported for a delivered event does not revive it.
    store
        .mark_failed(claimed[0].id, "timeout", far)
        .await
        .unwrap();
    let much_later = far + Duration::days(1);
    let last = store
        .claim_outbox(much_later, much_later, 10)
        .await
        .unwrap();
    assert_eq!(ids(&last), [claimed[1].id]);
    assert_eq!(store.outbox_backlog().await.unwrap(), 1);

    let unknown = Uuid::now_v7();
    for err in [
        store.mark_delivered(unknown, LATER).await.unwrap_err(),
        store.mark_failed(unknown, "x", LATER).await.unwrap_err(),
    ] {
        assert!(
            matches!(
                err,
                StoreError::NotFound {
                    entity: "outbox event",
                    ..
                }
            ),
            "{err:?}"
        );
    }
}

pub async fn a_failed_delivery_counts_the_attempt_and_waits_for_the_retry(
    store: Arc<dyn Repository>,
) {
    let written = events(1);
    register_with(&store, date!(2025 - 05 - 01), &written).await;
    let id = written[0].id;

    for attempt in 1..=3 {
        // Each attempt after the previous one's retry instant.
        let now = LATER + Duration::minutes(20 * i64::from(attempt));
        let claimed = store
            .claim_outbox(now, now + Duration::seconds(30), 10)
            .await
            .unwrap();
        assert_eq!(ids(&claimed), [id]);
        assert_eq!(claimed[0].attempts, attempt - 1);
        store
            .mark_failed(
                id,
                &format!("unavailable #{attempt}"),
                now + Duration::minutes(10),
            )
            .await
            .unwrap();
        // Not before the retry instant, even after the lease.
        let early = now + Duration::minutes(10) - Duration::microseconds(1);
        assert!(
            store
                .claim_outbox(early, early, 10)
                .await
                .unwrap()
                .is_empty()
        );
    }
    let far = LATER + Duration::days(1);
    let claimed = store.claim_outbox(far, far, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].attempts, 3);
    assert_eq!(claimed[0].last_error.as_deref(), Some("unavailable #3"));
    assert_eq!(store.outbox_backlog().await.unwrap(), 1);
}

pub async fn concurrent_claimers_never_get_the_same_event(store: Arc<dyn Repository>) {
    const EVENTS: usize = 300;
    const CLAIMERS: usize = 4;
    let written = events(EVENTS);
    register_with(&store, date!(2025 - 05 - 01), &written).await;

    let start = Arc::new(Barrier::new(CLAIMERS));
    let mut tasks = Vec::new();
    for _ in 0..CLAIMERS {
        let (store, start) = (store.clone(), start.clone());
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            let mut mine = Vec::new();
            loop {
                // One lease for the whole test: nothing comes back by expiry.
                let batch = store
                    .claim_outbox(LATER, LATER + Duration::days(1), 7)
                    .await
                    .unwrap();
                if batch.is_empty() {
                    break mine;
                }
                mine.extend(batch.into_iter().map(|e| e.id));
            }
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }

    let distinct: HashSet<Uuid> = all.iter().copied().collect();
    assert_eq!(all.len(), EVENTS, "an event was claimed twice or never");
    assert_eq!(distinct, new_ids(&written).into_iter().collect());
}

pub async fn events_are_written_with_timesheets_and_decisions(store: Arc<dyn Repository>) {
    let participant = given_participant(&store).await;
    let mut new = timesheet_for(&participant, date!(2025 - 03 - 03), date!(2025 - 03 - 07));
    new.events = vec![event_at(
        "no.kvp.payroll.timesheet.accepted.v1",
        participant.id,
        AT,
    )];
    store.accept_timesheet(&new).await.unwrap();
    // A duplicate writes no event.
    let mut retry = timesheet_for(&participant, date!(2025 - 03 - 03), date!(2025 - 03 - 07));
    retry.timesheet.digest = new.timesheet.digest.clone();
    retry.events = vec![event_at("no.kvp.payroll.timesheet.accepted.v1", 1, AT)];
    assert!(matches!(
        store.accept_timesheet(&retry).await.unwrap(),
        AcceptOutcome::Duplicate(_)
    ));

    let decision = SanctionDecision {
        id: Uuid::now_v7(),
        participant_id: participant.id,
        date: date!(2025 - 03 - 05),
        entry_kind: AbsenceKind::Unexcused,
        outcome: DecisionOutcome::Approved,
        decided_at: AT,
        decided_by: "caseworker:k123".into(),
        reference: "VEDTAK-2025-117".into(),
        reason: "no valid reason".into(),
        legal_basis: "sosialtjenesteloven § 36".into(),
        appeal_deadline: None,
        warning_id: None,
        deducted_hours: None,
    };
    let decided = event_at(
        "no.kvp.payroll.deduction.decided.v1",
        participant.id,
        AT + Duration::seconds(1),
    );
    store
        .record_decision(
            &decision,
            std::slice::from_ref(&decided),
            &audit("decision.recorded", "decision", decision.id),
        )
        .await
        .unwrap();
    // A refused decision writes no event.
    let again = SanctionDecision {
        id: Uuid::now_v7(),
        ..decision.clone()
    };
    let err = store
        .record_decision(
            &again,
            &[event_at("no.kvp.payroll.deduction.decided.v1", 2, AT)],
            &audit("decision.recorded", "decision", again.id),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");

    let claimed = store.claim_outbox(LATER, LATER, 10).await.unwrap();
    assert_eq!(ids(&claimed), [new.events[0].id, decided.id]);
    assert_eq!(claimed[0].payload, new.events[0].payload);
    assert_eq!(claimed[1].event_type, "no.kvp.payroll.deduction.decided.v1");
}

pub async fn events_of_a_refused_timesheet_are_rolled_back_with_it(store: Arc<dyn Repository>) {
    let participant = given_participant(&store).await;
    let mut first = timesheet_for(&participant, date!(2025 - 03 - 03), date!(2025 - 03 - 07));
    first.events = events(1);
    store.accept_timesheet(&first).await.unwrap();

    // Overlap: refused, its event with it.
    let mut overlapping = timesheet_for(&participant, date!(2025 - 03 - 07), date!(2025 - 03 - 14));
    overlapping.events = events(2);
    let err = store.accept_timesheet(&overlapping).await.unwrap_err();
    assert!(matches!(err, StoreError::Overlap { .. }), "{err:?}");

    // A taken event id: refused after the timesheet, its entries and its
    // first event were written; all of it is rolled back.
    let mut taken = timesheet_for(&participant, date!(2025 - 03 - 10), date!(2025 - 03 - 14));
    taken.events = events(1);
    taken.events.push(first.events[0].clone());
    let err = store.accept_timesheet(&taken).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    assert!(matches!(
        store.get_timesheet(taken.timesheet.id).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(
        store
            .list_day_entries(taken.timesheet.id)
            .await
            .unwrap()
            .is_empty()
    );

    assert_eq!(store.outbox_backlog().await.unwrap(), 1);
    let claimed = store.claim_outbox(LATER, LATER, 10).await.unwrap();
    assert_eq!(ids(&claimed), new_ids(&first.events));
}
