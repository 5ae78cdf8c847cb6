//! Closing pay periods: one run per municipality and month, whatever races.

use std::sync::Arc;

use kvp_rules::{LineQuantity, QuantityUnit};
use kvp_store::{Municipality, PayLine, Repository, RunState, StoreError};
use serde_json::json;
use time::macros::date;
use tokio::sync::Barrier;
use uuid::Uuid;

use crate::support::{
    CloseOutcome, NewPayRun, audit, close_period, closed, dec, frozen_reporting,
    given_another_participant, given_participant, participant_of, pay_run,
};

const MARCH: time::Date = date!(2025 - 03 - 01);
const APRIL: time::Date = date!(2025 - 04 - 01);

/// Asserts that nothing of `new` reached the database.
async fn assert_not_stored(store: &Arc<dyn Repository>, new: &NewPayRun) {
    assert!(matches!(
        store.get_run(new.run.id).await,
        Err(StoreError::NotFound {
            entity: "pay run",
            ..
        })
    ));
    assert_eq!(
        store
            .find_run(&new.run.municipality_id, new.run.month)
            .await
            .unwrap(),
        None
    );
    assert!(store.list_pay_lines(new.run.id).await.unwrap().is_empty());
    assert!(
        store
            .list_audit("pay_run", &new.run.id.to_string())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.outbox_backlog().await.unwrap(), 0);
}

/// The lines of `new` in the store's order: by participant, then seq.
fn in_stream_order(new: &NewPayRun) -> Vec<PayLine> {
    let mut lines = new.lines.clone();
    lines.sort_by_key(|l| (l.participant_id, l.seq));
    lines
}

pub async fn a_run_is_closed_with_its_lines_events_and_audit_entry(store: Arc<dyn Repository>) {
    let kari = given_participant(&store).await;
    let ola = given_another_participant(&store).await;
    let new = pay_run(
        MARCH,
        &[
            (ola.id, "KVP_BASE", Some(MARCH), "21000.00"),
            (kari.id, "KVP_BASE", Some(MARCH), "20500.50"),
            (kari.id, "KVP_CHILD_SUPPLEMENT", Some(MARCH), "1201.25"),
            (ola.id, "KVP_BASE", Some(date!(2025 - 02 - 01)), "-300.00"),
        ],
    );

    let run = closed(&store, &new).await;

    assert_eq!(run, new.run);
    assert_eq!(run.state, RunState::Closed);
    assert_eq!(run.participant_count, 2);
    assert_eq!(run.total.to_string(), "42401.75");
    assert_eq!(store.get_run(run.id).await.unwrap(), run);
    assert_eq!(
        store.find_run("0301", MARCH).await.unwrap(),
        Some(run.clone())
    );
    assert_eq!(store.find_run("0301", APRIL).await.unwrap(), None);
    assert_eq!(store.list_runs("0301").await.unwrap(), vec![run.clone()]);
    assert_eq!(
        store.list_pay_lines(run.id).await.unwrap(),
        in_stream_order(&new)
    );
    let trail = store
        .list_audit("pay_run", &run.id.to_string())
        .await
        .unwrap();
    assert_eq!(trail.len(), 1);
    assert_eq!(trail[0].action, "period.closed");
    assert_eq!(store.outbox_backlog().await.unwrap(), 1);
}

pub async fn runs_are_listed_by_month_per_municipality(store: Arc<dyn Repository>) {
    let kari = given_participant(&store).await;
    let april = closed(
        &store,
        &pay_run(APRIL, &[(kari.id, "KVP_BASE", Some(APRIL), "100.00")]),
    )
    .await;
    let march = closed(
        &store,
        &pay_run(MARCH, &[(kari.id, "KVP_BASE", Some(MARCH), "100.00")]),
    )
    .await;

    assert_eq!(store.list_runs("0301").await.unwrap(), vec![march, april]);
    assert!(store.list_runs("4601").await.unwrap().is_empty());
}

pub async fn closing_a_month_again_returns_the_existing_run_and_writes_nothing(
    store: Arc<dyn Repository>,
) {
    let kari = given_participant(&store).await;
    let first = pay_run(MARCH, &[(kari.id, "KVP_BASE", Some(MARCH), "20500.50")]);
    let run = closed(&store, &first).await;

    // A retry computed anew: another run id, other amounts, other events.
    let retry = pay_run(MARCH, &[(kari.id, "KVP_BASE", Some(MARCH), "99999.99")]);
    let outcome = close_period(&store, &retry).await.unwrap();

    assert_eq!(outcome, CloseOutcome::Existing(run.clone()));
    assert_eq!(outcome.run(), &run);
    // The very same request again is the same answer.
    assert_eq!(
        close_period(&store, &first).await.unwrap(),
        CloseOutcome::Existing(run.clone())
    );
    assert_eq!(
        store.list_pay_lines(run.id).await.unwrap(),
        in_stream_order(&first)
    );
    assert!(store.list_pay_lines(retry.run.id).await.unwrap().is_empty());
    assert!(matches!(
        store.get_run(retry.run.id).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(
        store
            .list_audit("pay_run", &retry.run.id.to_string())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.list_runs("0301").await.unwrap(), vec![run]);
    assert_eq!(store.outbox_backlog().await.unwrap(), 1);
}

pub async fn concurrent_closes_of_one_month_yield_one_run_and_one_set_of_lines(
    store: Arc<dyn Repository>,
) {
    const INSTANCES: usize = 4;
    let kari = given_participant(&store).await;
    let ola = given_another_participant(&store).await;
    let start = Arc::new(Barrier::new(INSTANCES));
    let mut tasks = Vec::new();
    for i in 0..INSTANCES {
        // Each contender computed its own run (own ids, own events).
        let amount = format!("{}.00", 20000 + i);
        let new = pay_run(
            MARCH,
            &[
                (kari.id, "KVP_BASE", Some(MARCH), amount.as_str()),
                (ola.id, "KVP_BASE", Some(MARCH), "21000.00"),
                (ola.id, "KVP_CHILD_SUPPLEMENT", Some(MARCH), "1201.25"),
            ],
        );
        let (store, start) = (store.clone(), start.clone());
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            let outcome = close_period(&store, &new).await.unwrap();
            (new, outcome)
        }));
    }
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }

    let winners: Vec<&NewPayRun> = results
        .iter()
        .filter(|(_, outcome)| matches!(outcome, CloseOutcome::Created(_)))
        .map(|(new, _)| new)
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    let winner = winners[0];
    for (new, outcome) in &results {
        assert_eq!(outcome.run(), &winner.run);
        if new.run.id != winner.run.id {
            assert!(store.list_pay_lines(new.run.id).await.unwrap().is_empty());
            assert!(
                store
                    .list_audit("pay_run", &new.run.id.to_string())
                    .await
                    .unwrap()
                    .is_empty()
            );
        }
    }
    assert_eq!(
        store.list_runs("0301").await.unwrap(),
        vec![winner.run.clone()]
    );
    assert_eq!(
        store.list_pay_lines(winner.run.id).await.unwrap(),
        in_stream_order(winner)
    );
    assert_eq!(store.outbox_backlog().await.unwrap(), 1);
}

pub async fn pay_lines_stream_in_pages_in_participant_and_seq_order(store: Arc<dyn Repository>) {
    let kari = given_participant(&store).await;
    let mut spec = Vec::new();
    let mut participants = vec![kari.id];
    for _ in 0..4 {
        participants.push(given_another_participant(&store).await.id);
    }
    for &p in &participants {
        spec.push((p, "KVP_BASE", Some(MARCH), "20000.00"));
        spec.push((p, "KVP_CHILD_SUPPLEMENT", Some(MARCH), "1201.25"));
        spec.push((p, "KVP_BASE", Some(date!(2025 - 02 - 01)), "-12.50"));
    }
    let new = pay_run(MARCH, &spec);
    let run = closed(&store, &new).await;
    let all = store.list_pay_lines(run.id).await.unwrap();
    assert_eq!(all, in_stream_order(&new));
    assert_eq!(all.len(), 15);

    for page_size in [1, 2, 4, 15, 100] {
        let mut streamed = Vec::new();
        let mut after = None;
        loop {
            let page = store
                .list_pay_lines_after(run.id, after, page_size)
                .await
                .unwrap();
            assert!(page.len() <= usize::try_from(page_size).unwrap());
            let Some(last) = page.last() else { break };
            after = Some((last.participant_id, last.seq));
            streamed.extend(page);
        }
        assert_eq!(streamed, all, "page size {page_size}");
    }
    assert!(
        store
            .list_pay_lines_after(Uuid::now_v7(), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn a_run_that_does_not_add_up_is_refused_and_nothing_is_stored(
    store: Arc<dyn Repository>,
) {
    let kari = given_participant(&store).await;
    let valid = || pay_run(MARCH, &[(kari.id, "KVP_BASE", Some(MARCH), "20500.50")]);
    let mut broken: Vec<(&str, NewPayRun)> = Vec::new();

    let mut mid_month = valid();
    mid_month.run.month = date!(2025 - 03 - 15);
    broken.push(("month not a first day", mid_month));
    let mut wrong_total = valid();
    wrong_total.run.total = dec("20500.51");
    broken.push(("total", wrong_total));
    let mut wrong_count = valid();
    wrong_count.run.participant_count = 2;
    broken.push(("participant count", wrong_count));
    let mut other_run = valid();
    other_run.lines[0].run_id = Uuid::now_v7();
    broken.push(("line of another run", other_run));
    let mut mid_month_line = valid();
    mid_month_line.lines[0].attributed_month = Some(date!(2025 - 03 - 02));
    broken.push(("attributed month not a first day", mid_month_line));
    let mut fraction = valid();
    fraction.lines[0].amount = dec("20500.505");
    fraction.run.total = dec("20500.505");
    broken.push(("fraction of an øre", fraction));

    for (what, new) in broken {
        let err = close_period(&store, &new).await.unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidInput { .. }),
            "{what}: {err:?}"
        );
        assert_not_stored(&store, &new).await;
    }
}

pub async fn a_failure_after_the_first_writes_leaves_no_run(store: Arc<dyn Repository>) {
    let kari = given_participant(&store).await;
    let ola = given_another_participant(&store).await;

    // Two lines of Kari at the same position: refused only once the run
    // and the lines before were inserted.
    let mut repeated = pay_run(
        MARCH,
        &[
            (ola.id, "KVP_BASE", Some(MARCH), "100.00"),
            (kari.id, "KVP_BASE", Some(MARCH), "100.00"),
            (kari.id, "KVP_CHILD_SUPPLEMENT", Some(MARCH), "100.00"),
        ],
    );
    repeated.lines[2].seq = repeated.lines[1].seq;
    let err = close_period(&store, &repeated).await.unwrap_err();
    assert!(matches!(err, StoreError::InvalidInput { .. }), "{err:?}");
    assert_not_stored(&store, &repeated).await;

    // A participant nobody registered.
    let stranger = participant_of("0301");
    let unknown = pay_run(
        MARCH,
        &[
            (kari.id, "KVP_BASE", Some(MARCH), "100.00"),
            (stranger.id, "KVP_BASE", Some(MARCH), "100.00"),
        ],
    );
    let err = close_period(&store, &unknown).await.unwrap_err();
    assert!(matches!(err, StoreError::InvalidInput { .. }), "{err:?}");
    assert_not_stored(&store, &unknown).await;

    // A participant of another municipality.
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
    let outsider = participant_of("4601");
    store
        .create_participant(
            &outsider,
            &audit("participant.created", "participant", outsider.id),
        )
        .await
        .unwrap();
    let foreign = pay_run(
        MARCH,
        &[
            (kari.id, "KVP_BASE", Some(MARCH), "100.00"),
            (outsider.id, "KVP_BASE", Some(MARCH), "100.00"),
        ],
    );
    let err = close_period(&store, &foreign).await.unwrap_err();
    assert!(matches!(err, StoreError::InvalidInput { .. }), "{err:?}");
    assert_not_stored(&store, &foreign).await;

    // The month is still open.
    closed(
        &store,
        &pay_run(MARCH, &[(kari.id, "KVP_BASE", Some(MARCH), "100.00")]),
    )
    .await;
}

pub async fn a_run_of_an_unknown_municipality_is_not_found(store: Arc<dyn Repository>) {
    let kari = given_participant(&store).await;
    let mut new = pay_run(MARCH, &[(kari.id, "KVP_BASE", Some(MARCH), "100.00")]);
    new.run.municipality_id = "9999".into();

    let err = close_period(&store, &new).await.unwrap_err();

    assert!(
        matches!(
            err,
            StoreError::NotFound {
                entity: "municipality",
                ..
            }
        ),
        "{err:?}"
    );
    assert_not_stored(&store, &new).await;
    assert!(matches!(
        store.get_run(Uuid::now_v7()).await,
        Err(StoreError::NotFound {
            entity: "pay run",
            ..
        })
    ));
}

pub async fn a_month_without_lines_closes_as_an_empty_run(store: Arc<dyn Repository>) {
    given_participant(&store).await;
    let new = pay_run(MARCH, &[]);

    let run = closed(&store, &new).await;

    assert_eq!((run.participant_count, run.total), (0, dec("0")));
    assert!(store.list_pay_lines(run.id).await.unwrap().is_empty());
    assert_eq!(
        close_period(&store, &pay_run(MARCH, &[])).await.unwrap(),
        CloseOutcome::Existing(run)
    );
}

pub async fn pay_line_decimals_round_trip_exactly(store: Arc<dyn Repository>) {
    let kari = given_participant(&store).await;
    let mut new = pay_run(
        MARCH,
        &[
            (kari.id, "KVP_BASE", Some(MARCH), "20500.50"),
            (kari.id, "KVP_BASE", Some(date!(2025 - 02 - 01)), "-0.01"),
            (kari.id, "KVP_CHILD_SUPPLEMENT", Some(MARCH), "0"),
            (kari.id, "KVP_RECOVERY_CARRIED", None, "1234567890123.40"),
        ],
    );
    new.lines[0].quantity = Some(LineQuantity {
        value: dec("21.6667"),
        unit: QuantityUnit::Days,
        rate: Some(dec("946.18")),
    });
    new.lines[0].reporting = Some(frozen_reporting());
    new.lines[1].quantity = Some(LineQuantity {
        value: dec("-7.25"),
        unit: QuantityUnit::Hours,
        rate: Some(dec("-0.01")),
    });
    new.lines[2].quantity = Some(LineQuantity {
        value: dec("0"),
        unit: QuantityUnit::ChildDays,
        rate: None,
    });
    new.run.total = new.lines.iter().map(|l| l.amount).sum();
    let run = closed(&store, &new).await;

    let stored = store.list_pay_lines(run.id).await.unwrap();

    assert_eq!(stored, in_stream_order(&new));
    let texts = |f: fn(&PayLine) -> String| -> Vec<String> {
        let mut by_seq = stored.clone();
        by_seq.sort_by_key(|l| l.seq);
        by_seq.iter().map(f).collect()
    };
    assert_eq!(
        texts(|l| l.amount.to_string()),
        ["20500.50", "-0.01", "0", "1234567890123.40"]
    );
    let quantity = |l: &PayLine| {
        l.quantity.map_or("none".to_owned(), |q| {
            format!(
                "{} {} at {:?}",
                q.value,
                q.unit.as_str(),
                q.rate.map(|r| r.to_string())
            )
        })
    };
    assert_eq!(
        texts(quantity),
        [
            "21.6667 DAYS at Some(\"946.18\")",
            "-7.25 HOURS at Some(\"-0.01\")",
            "0 CHILD_DAYS at None",
            "none"
        ]
    );
    let stored_run = store.get_run(run.id).await.unwrap();
    assert_eq!(stored_run.total.to_string(), "1234567910623.89");
}
