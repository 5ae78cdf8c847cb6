//! The ledger (what was paid, per participant, month and line code) and the
//! confirmation of payslips.

use std::sync::Arc;

use kvp_rules::{LineQuantity, QuantityUnit};
use kvp_store::{
    ConfirmOutcome, Confirmation, LedgerEntry, Participant, PayRun, Repository, RunState,
    StoreError,
};
use time::Date;
use time::macros::{date, datetime};
use tokio::sync::Barrier;
use uuid::Uuid;

use crate::support::{
    audit, closed, dec, event_at, failed, given_another_participant, given_participant, paid,
    pay_run,
};

const FEBRUARY: Date = date!(2025 - 02 - 01);
const MARCH: Date = date!(2025 - 03 - 01);
const APRIL: Date = date!(2025 - 04 - 01);

fn entry(participant: &Participant, month: Option<Date>, code: &str, amount: &str) -> LedgerEntry {
    LedgerEntry {
        participant_id: participant.id,
        attributed_month: month,
        line_code: code.parse().unwrap(),
        amount: dec(amount),
        quantity: None,
    }
}

/// The entries of one participant, as the ledger orders them.
fn of(ledger: &[LedgerEntry], participant: &Participant) -> Vec<LedgerEntry> {
    ledger
        .iter()
        .filter(|e| e.participant_id == participant.id)
        .cloned()
        .collect()
}

async fn confirm(
    store: &Arc<dyn Repository>,
    confirmation: &Confirmation,
) -> Result<ConfirmOutcome, StoreError> {
    store
        .confirm_payment(
            confirmation,
            &[event_at(
                "no.kvp.payroll.stipend.paid.v1",
                confirmation.participant_id,
                confirmation.confirmed_at,
            )],
            &audit(
                "payment.confirmed",
                "pay_run",
                format!("{}/{}", confirmation.run_id, confirmation.participant_id),
            ),
        )
        .await
}

async fn recorded(store: &Arc<dyn Repository>, confirmation: &Confirmation) -> PayRun {
    match confirm(store, confirmation).await {
        Ok(ConfirmOutcome::Recorded(run)) => run,
        other => panic!("expected the confirmation to be recorded, got {other:?}"),
    }
}

pub async fn the_ledger_sums_quantities_exactly_and_none_where_a_line_has_none(
    store: Arc<dyn Repository>,
) {
    let kari = given_participant(&store).await;
    let quantity = |value: &str, unit| {
        Some(LineQuantity {
            value: dec(value),
            unit,
            rate: Some(dec("1.00")),
        })
    };
    let mut march = pay_run(
        MARCH,
        &[
            (kari.id, "KVP_BASE", Some(MARCH), "20500.50"),
            (kari.id, "KVP_CHILD_SUPPLEMENT", Some(MARCH), "757.27"),
            (kari.id, "KVP_DEDUCTION_ABSENCE", Some(MARCH), "-100.00"),
        ],
    );
    march.lines[0].quantity = quantity("21", QuantityUnit::Days);
    march.lines[1].quantity = quantity("20.4667", QuantityUnit::ChildDays);
    // The absence line was closed before quantities were kept.
    closed(&store, &march).await;
    let mut april = pay_run(
        APRIL,
        &[
            (kari.id, "KVP_BASE", Some(MARCH), "976.21"),
            (kari.id, "KVP_CHILD_SUPPLEMENT", Some(MARCH), "19.73"),
            (kari.id, "KVP_DEDUCTION_ABSENCE", Some(MARCH), "-50.00"),
        ],
    );
    april.lines[0].quantity = quantity("1", QuantityUnit::Days);
    april.lines[1].quantity = quantity("0.5333", QuantityUnit::ChildDays);
    april.lines[2].quantity = quantity("3.5", QuantityUnit::Hours);
    closed(&store, &april).await;

    let ledger = store.ledger("0301").await.unwrap();
    let sums: Vec<(String, Option<String>)> = of(&ledger, &kari)
        .iter()
        .map(|e| {
            (
                e.line_code.as_str().to_owned(),
                e.quantity.map(|q| q.normalize().to_string()),
            )
        })
        .collect();
    assert_eq!(
        sums,
        vec![
            ("KVP_BASE".to_owned(), Some("22".to_owned())),
            ("KVP_CHILD_SUPPLEMENT".to_owned(), Some("21".to_owned())),
            ("KVP_DEDUCTION_ABSENCE".to_owned(), None),
        ]
    );
}

pub async fn the_ledger_sums_lines_over_runs_and_leaves_out_failed_payslips(
    store: Arc<dyn Repository>,
) {
    let kari = given_participant(&store).await;
    let ola = given_another_participant(&store).await;
    let nils = given_another_participant(&store).await;

    // March: everyone paid for March; Kari also gets a February correction.
    let march = closed(
        &store,
        &pay_run(
            MARCH,
            &[
                (kari.id, "KVP_BASE", Some(MARCH), "20500.50"),
                (kari.id, "KVP_CHILD_SUPPLEMENT", Some(MARCH), "1201.25"),
                (kari.id, "KVP_BASE", Some(FEBRUARY), "150.10"),
                (ola.id, "KVP_BASE", Some(MARCH), "21000.00"),
                (nils.id, "KVP_BASE", Some(MARCH), "19000.00"),
            ],
        ),
    )
    .await;
    // Ola's March payment fails: his March lines leave the ledger.
    recorded(&store, &paid(&march, kari.id, "21851.85")).await;
    recorded(&store, &failed(&march, ola.id)).await;

    // April: Kari's March is corrected down; Ola's March is reissued; Nils's
    // negative correction exceeds what is due, so a recovery pair carries it.
    let april = closed(
        &store,
        &pay_run(
            APRIL,
            &[
                (kari.id, "KVP_BASE", Some(APRIL), "20500.50"),
                (kari.id, "KVP_BASE", Some(MARCH), "-500.25"),
                (ola.id, "KVP_BASE", Some(APRIL), "21000.00"),
                (ola.id, "KVP_BASE", Some(MARCH), "21000.00"),
                (nils.id, "KVP_BASE", Some(APRIL), "100.00"),
                (nils.id, "KVP_DEDUCTION_ABSENCE", Some(MARCH), "-400.00"),
                (nils.id, "KVP_RECOVERY_CARRIED", None, "300.00"),
            ],
        ),
    )
    .await;
    assert_ne!(march.id, april.id);
    // Each payslip by attributed month, the recovery (no month) first.
    assert_eq!(
        store.payslip_by_month(april.id, nils.id).await.unwrap(),
        [
            (None, dec("300.00")),
            (Some(MARCH), dec("-400.00")),
            (Some(APRIL), dec("100.00")),
        ]
    );
    assert_eq!(
        store.payslip_by_month(april.id, kari.id).await.unwrap(),
        [
            (Some(MARCH), dec("-500.25")),
            (Some(APRIL), dec("20500.50"))
        ]
    );

    let ledger = store.ledger("0301").await.unwrap();

    assert_eq!(
        of(&ledger, &kari),
        vec![
            entry(&kari, Some(FEBRUARY), "KVP_BASE", "150.10"),
            entry(&kari, Some(MARCH), "KVP_BASE", "20000.25"),
            entry(&kari, Some(MARCH), "KVP_CHILD_SUPPLEMENT", "1201.25"),
            entry(&kari, Some(APRIL), "KVP_BASE", "20500.50"),
        ]
    );
    // Only the reissue counts for Ola's March.
    assert_eq!(
        of(&ledger, &ola),
        vec![
            entry(&ola, Some(MARCH), "KVP_BASE", "21000.00"),
            entry(&ola, Some(APRIL), "KVP_BASE", "21000.00"),
        ]
    );
    // The recovery balance is the entry without a month, and comes first.
    assert_eq!(
        of(&ledger, &nils),
        vec![
            entry(&nils, None, "KVP_RECOVERY_CARRIED", "300.00"),
            entry(&nils, Some(MARCH), "KVP_BASE", "19000.00"),
            entry(&nils, Some(MARCH), "KVP_DEDUCTION_ABSENCE", "-400.00"),
            entry(&nils, Some(APRIL), "KVP_BASE", "100.00"),
        ]
    );
    assert_eq!(ledger.len(), 10);
    let mut order: Vec<Uuid> = ledger.iter().map(|e| e.participant_id).collect();
    order.dedup();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted, "the ledger is ordered by participant");
    // Sums are exact and to the øre on both backends.
    for e in &ledger {
        assert_eq!(e.amount.scale(), 2, "{e:?}");
    }

    // Once the reissue fails too, Ola's March is unpaid again.
    recorded(&store, &failed(&april, ola.id)).await;
    let ledger = store.ledger("0301").await.unwrap();
    assert!(of(&ledger, &ola).is_empty());
    assert!(store.ledger("4601").await.unwrap().is_empty());
}

pub async fn a_confirmation_moves_the_run_from_closed_to_confirmed(store: Arc<dyn Repository>) {
    let kari = given_participant(&store).await;
    let ola = given_another_participant(&store).await;
    let run = closed(
        &store,
        &pay_run(
            MARCH,
            &[
                (kari.id, "KVP_BASE", Some(MARCH), "20500.50"),
                (ola.id, "KVP_BASE", Some(MARCH), "21000.00"),
            ],
        ),
    )
    .await;
    // Each payslip by month, from its own lines; nobody else's is empty.
    assert_eq!(
        store.payslip_by_month(run.id, kari.id).await.unwrap(),
        [(Some(MARCH), dec("20500.50"))]
    );
    assert_eq!(
        store.payslip_by_month(run.id, ola.id).await.unwrap(),
        [(Some(MARCH), dec("21000.00"))]
    );
    assert_eq!(
        store
            .payslip_by_month(run.id, Uuid::now_v7())
            .await
            .unwrap(),
        []
    );
    let march = store.list_lines_for_month(kari.id, MARCH).await.unwrap();
    assert_eq!(
        march
            .iter()
            .map(|l| (l.run_id, l.participant_id, l.amount))
            .collect::<Vec<_>>(),
        vec![(run.id, kari.id, dec("20500.50"))]
    );
    let february = MARCH.replace_month(time::Month::February).unwrap();
    assert!(
        store
            .list_lines_for_month(kari.id, february)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(run.state, RunState::Closed);
    let backlog = store.outbox_backlog().await.unwrap();

    let first = paid(&run, kari.id, "20500.50");
    let after_first = recorded(&store, &first).await;
    assert_eq!(after_first.state, RunState::PartiallyConfirmed);
    assert_eq!(
        store.get_run(run.id).await.unwrap().state,
        RunState::PartiallyConfirmed
    );

    let second = failed(&run, ola.id);
    let after_second = recorded(&store, &second).await;
    assert_eq!(
        after_second,
        PayRun {
            state: RunState::Confirmed,
            ..run.clone()
        }
    );
    assert_eq!(store.get_run(run.id).await.unwrap(), after_second);

    assert_eq!(
        store.find_confirmation(run.id, kari.id).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        store
            .find_confirmation(run.id, Uuid::now_v7())
            .await
            .unwrap(),
        None
    );
    let mut expected = vec![first, second];
    expected.sort_by_key(|c| c.participant_id);
    assert_eq!(store.list_confirmations(run.id).await.unwrap(), expected);
    assert_eq!(store.outbox_backlog().await.unwrap(), backlog + 2);
    let trail = store
        .list_audit("pay_run", &format!("{}/{}", run.id, kari.id))
        .await
        .unwrap();
    assert_eq!(trail.len(), 1);
    assert_eq!(trail[0].action, "payment.confirmed");
}

pub async fn confirming_again_is_idempotent_and_other_values_conflict(store: Arc<dyn Repository>) {
    let kari = given_participant(&store).await;
    let ola = given_another_participant(&store).await;
    let run = closed(
        &store,
        &pay_run(
            MARCH,
            &[
                (kari.id, "KVP_BASE", Some(MARCH), "20500.50"),
                (ola.id, "KVP_BASE", Some(MARCH), "21000.00"),
            ],
        ),
    )
    .await;
    let original = paid(&run, kari.id, "20500.50");
    let partial = recorded(&store, &original).await;
    let backlog = store.outbox_backlog().await.unwrap();

    // The payroll system retries later, writing the amounts with another scale.
    let retry = Confirmation {
        confirmed_at: datetime!(2025-04-13 08:00 UTC),
        gross: dec("20500.5"),
        ..original.clone()
    };
    assert_eq!(
        confirm(&store, &retry).await.unwrap(),
        ConfirmOutcome::Duplicate(partial.clone())
    );

    let changes = [
        Confirmation {
            net_paid: original.net_paid + dec("0.01"),
            ..original.clone()
        },
        Confirmation {
            tax_withheld: dec("0"),
            ..original.clone()
        },
        failed(&run, kari.id),
        Confirmation {
            payment_date: None,
            ..original.clone()
        },
    ];
    for changed in &changes {
        let err = confirm(&store, changed).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    }

    assert_eq!(
        store.list_confirmations(run.id).await.unwrap(),
        vec![original]
    );
    assert_eq!(store.get_run(run.id).await.unwrap(), partial);
    assert_eq!(store.outbox_backlog().await.unwrap(), backlog);
    assert_eq!(
        store
            .list_audit("pay_run", &format!("{}/{}", run.id, kari.id))
            .await
            .unwrap()
            .len(),
        1
    );
}

pub async fn a_confirmation_needs_the_run_and_the_participants_lines(store: Arc<dyn Repository>) {
    let kari = given_participant(&store).await;
    let ola = given_another_participant(&store).await;
    let run = closed(
        &store,
        &pay_run(MARCH, &[(kari.id, "KVP_BASE", Some(MARCH), "20500.50")]),
    )
    .await;
    let backlog = store.outbox_backlog().await.unwrap();

    let err = confirm(&store, &paid(&run, ola.id, "100.00"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidState { .. }), "{err:?}");

    let ghost = PayRun {
        id: Uuid::now_v7(),
        ..run.clone()
    };
    let err = confirm(&store, &paid(&ghost, kari.id, "100.00"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NotFound {
                entity: "pay run",
                ..
            }
        ),
        "{err:?}"
    );

    assert!(store.list_confirmations(run.id).await.unwrap().is_empty());
    assert_eq!(store.get_run(run.id).await.unwrap().state, RunState::Closed);
    assert_eq!(store.outbox_backlog().await.unwrap(), backlog);
}

pub async fn concurrent_confirmations_of_a_run_leave_it_confirmed(store: Arc<dyn Repository>) {
    const PARTICIPANTS: usize = 6;
    let mut participants = vec![given_participant(&store).await];
    for _ in 1..PARTICIPANTS {
        participants.push(given_another_participant(&store).await);
    }
    let spec: Vec<_> = participants
        .iter()
        .map(|p| (p.id, "KVP_BASE", Some(MARCH), "20000.00"))
        .collect();
    let run = closed(&store, &pay_run(MARCH, &spec)).await;

    // Every payslip confirmed at once, each twice (a retry racing the original).
    let start = Arc::new(Barrier::new(PARTICIPANTS * 2));
    let mut tasks = Vec::new();
    for p in &participants {
        for _ in 0..2 {
            let confirmation = paid(&run, p.id, "20000.00");
            let (store, start) = (store.clone(), start.clone());
            tasks.push(tokio::spawn(async move {
                start.wait().await;
                confirm(&store, &confirmation).await.unwrap()
            }));
        }
    }
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }

    let recorded = outcomes
        .iter()
        .filter(|o| matches!(o, ConfirmOutcome::Recorded(_)))
        .count();
    assert_eq!(recorded, PARTICIPANTS, "{outcomes:?}");
    assert_eq!(
        store.get_run(run.id).await.unwrap().state,
        RunState::Confirmed
    );
    let confirmed_states = outcomes
        .iter()
        .filter(|o| matches!(o, ConfirmOutcome::Recorded(r) if r.state == RunState::Confirmed))
        .count();
    assert_eq!(confirmed_states, 1, "only the last one confirms the run");
    assert_eq!(
        store.list_confirmations(run.id).await.unwrap().len(),
        PARTICIPANTS
    );
}

pub async fn confirmation_decimals_round_trip_exactly(store: Arc<dyn Repository>) {
    let kari = given_participant(&store).await;
    let run = closed(
        &store,
        &pay_run(MARCH, &[(kari.id, "KVP_BASE", Some(MARCH), "20500.50")]),
    )
    .await;
    let confirmation = Confirmation {
        gross: dec("20500.50"),
        tax_withheld: dec("6150.15"),
        net_paid: dec("14350.35"),
        ..paid(&run, kari.id, "20500.50")
    };
    recorded(&store, &confirmation).await;

    let stored = store.list_confirmations(run.id).await.unwrap();

    assert_eq!(stored, vec![confirmation]);
    let texts: Vec<String> = [stored[0].gross, stored[0].tax_withheld, stored[0].net_paid]
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(texts, ["20500.50", "6150.15", "14350.35"]);
}
