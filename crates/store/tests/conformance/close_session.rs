//! Closing a month in chunks: `begin_close` and its session, and the
//! recompute marks the database keeps for it.

use kvp_rules::{AbsenceKind, OffsetKind};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kvp_store::{
    BeginClose, BenefitOffset, CloseParticipant, CloseSession, DecisionOutcome, FinishClose,
    HeldParticipant, Hold, LedgerEntry, NewAuditEntry, OpenRun, Participant, Pause, PauseKind,
    PayLine, PayRun, RECOMPUTE_EVERYTHING, RecomputeMark, Repository, RunState, SanctionDecision,
    SoleCarerPeriod, StoreError,
};
use rust_decimal::Decimal;
use time::Date;
use time::macros::date;
use uuid::Uuid;

use kvp_rules::{LineQuantity, QuantityUnit};

use crate::support::{
    AT, TEST_BASIS, audit, child_of, closed, correction_of, dec, event_at, failed,
    given_another_participant, given_participant, participant_of, pay_run, programme_of,
    timesheet_for,
};

const JANUARY: Date = date!(2025 - 01 - 01);
const FEBRUARY: Date = date!(2025 - 02 - 01);
const MARCH: Date = date!(2025 - 03 - 01);
const APRIL: Date = date!(2025 - 04 - 01);
const MAY: Date = date!(2025 - 05 - 01);

fn open_run(month: Date) -> OpenRun {
    OpenRun {
        id: Uuid::now_v7(),
        municipality_id: "0301".into(),
        month,
        closed_at: AT,
    }
}

async fn open(store: &Arc<dyn Repository>, month: Date) -> Box<dyn CloseSession> {
    match store.begin_close(&open_run(month)).await.unwrap() {
        BeginClose::Open(session) => session,
        BeginClose::Closed(run) => panic!("{month} is closed already: {run:?}"),
    }
}

/// Every participant of the session, chunk by chunk.
async fn read_all(
    session: &mut Box<dyn CloseSession>,
    limit: u32,
    floor: Option<Date>,
) -> Vec<CloseParticipant> {
    let mut all: Vec<CloseParticipant> = Vec::new();
    loop {
        let after = all.last().map(|p| p.facts.participant.id);
        let chunk = session.participants(after, limit, floor).await.unwrap();
        if chunk.is_empty() {
            return all;
        }
        assert!(chunk.len() <= limit as usize);
        all.extend(chunk);
    }
}

/// A close finish without lines, clearing the marks read.
fn finish_clearing(read: &[CloseParticipant], basis: &str) -> FinishClose {
    FinishClose {
        participant_count: 0,
        total: Decimal::ZERO,
        events: Vec::new(),
        audit: NewAuditEntry::new(AT, "client:0301", "period.closed", "pay_run", "test"),
        basis: basis.into(),
        recomputed: read
            .iter()
            .map(|p| (p.facts.participant.id, p.mark.version))
            .collect(),
        held: Vec::new(),
    }
}

/// Every Oslo participant's mark, read through a session that writes nothing.
async fn marks(store: &Arc<dyn Repository>) -> BTreeMap<Uuid, RecomputeMark> {
    let mut session = open(store, date!(2099 - 01 - 01)).await;
    let read = read_all(&mut session, 100, None).await;
    drop(session);
    read.into_iter()
        .map(|p| (p.facts.participant.id, p.mark))
        .collect()
}

/// Clears every Oslo participant's mark with an empty close of `month`.
async fn clear_marks(store: &Arc<dyn Repository>, month: Date) {
    let mut session = open(store, month).await;
    let read = read_all(&mut session, 100, None).await;
    session
        .finish(finish_clearing(&read, "basis"))
        .await
        .unwrap();
    for (_, mark) in marks(store).await {
        assert_eq!(mark.from, None);
    }
}

fn line(run: &OpenRun, participant: Uuid, seq: i32, month: Option<Date>, amount: &str) -> PayLine {
    PayLine {
        id: Uuid::now_v7(),
        run_id: run.id,
        participant_id: participant,
        seq,
        line_code: "KVP_BASE".parse().unwrap(),
        attributed_month: month,
        quantity: Some(LineQuantity {
            value: dec("21"),
            unit: QuantityUnit::Days,
            rate: Some(dec(amount) / dec("21")).map(|r| r.round_dp(2)),
        }),
        amount: dec(amount),
        explanation: format!("line {seq}"),
        // Frozen codes read back as written; a participant without an
        // employee number has none.
        pay_code: Some("1101".into()),
        employee_number: (seq % 2 == 0).then(|| format!("E-{participant}")),
        reporting: Some(crate::support::frozen_reporting()),
    }
}

pub async fn a_session_reads_every_participant_in_chunks_as_participant_facts_has_them(
    store: Arc<dyn Repository>,
) {
    let kari = given_participant(&store).await;
    let ola = given_another_participant(&store).await;
    let per = given_another_participant(&store).await;
    store
        .upsert_municipality(
            &kvp_store::Municipality {
                id: "4601".into(),
                name: "Bergen".into(),
                policy_overrides: serde_json::json!({}),
                pay_codes: serde_json::json!({}),
                handoff: Default::default(),
                version: 1,
            },
            None,
            &audit("municipality.upserted", "municipality", "4601"),
        )
        .await
        .unwrap();
    let bergen = participant_of("4601");
    store
        .create_participant(
            &bergen,
            &audit("participant.created", "participant", bergen.id),
        )
        .await
        .unwrap();
    for p in [&kari, &ola, &bergen] {
        let programme = programme_of(p);
        store
            .create_programme(
                &programme,
                &audit("programme.created", "programme", programme.id),
            )
            .await
            .unwrap();
        store
            .add_pause(
                &Pause {
                    id: Uuid::now_v7(),
                    programme_id: programme.id,
                    from: date!(2025 - 05 - 01),
                    to: Some(date!(2025 - 05 - 31)),
                    kind: PauseKind::Interrupted,
                    reference: "P".into(),
                },
                &audit("programme.paused", "programme", programme.id),
            )
            .await
            .unwrap();
        store
            .add_child(
                &child_of(p, date!(2016 - 02 - 29)),
                false,
                &audit("child.added", "participant", p.id),
            )
            .await
            .unwrap();
        let march = timesheet_for(p, date!(2025 - 03 - 03), date!(2025 - 03 - 07));
        store.accept_timesheet(&march).await.unwrap();
        store
            .accept_timesheet(&correction_of(
                &march.timesheet,
                p,
                date!(2025 - 03 - 03),
                date!(2025 - 03 - 10),
            ))
            .await
            .unwrap();
        store
            .accept_timesheet(&timesheet_for(
                p,
                date!(2025 - 02 - 03),
                date!(2025 - 02 - 07),
            ))
            .await
            .unwrap();
        store
            .record_decision(
                &SanctionDecision {
                    id: Uuid::now_v7(),
                    participant_id: p.id,
                    date: date!(2025 - 03 - 10),
                    entry_kind: AbsenceKind::SickSelf,
                    outcome: DecisionOutcome::Approved,
                    decided_at: AT,
                    decided_by: "caseworker:k123".into(),
                    reference: "V".into(),
                    reason: "r".into(),
                    legal_basis: "sosialtjenesteloven § 36".into(),
                    appeal_deadline: None,
                    warning_id: None,
                    deducted_hours: None,
                },
                &[],
                &audit("decision.recorded", "participant", p.id),
            )
            .await
            .unwrap();
        for (month, kind) in [
            (MARCH, OffsetKind::Sykepenger),
            (FEBRUARY, OffsetKind::Dagpenger),
        ] {
            store
                .add_benefit_offset(
                    &BenefitOffset {
                        id: Uuid::now_v7(),
                        participant_id: p.id,
                        month,
                        kind,
                        amount: dec("100.50"),
                    },
                    &audit("offset.added", "participant", p.id),
                )
                .await
                .unwrap();
        }
        store
            .add_sole_carer_period(
                &SoleCarerPeriod {
                    id: Uuid::now_v7(),
                    participant_id: p.id,
                    from: date!(2025 - 01 - 01),
                    to: None,
                },
                &audit("sole_carer.added", "participant", p.id),
            )
            .await
            .unwrap();
    }

    let mut session = open(&store, MARCH).await;
    let context = session.context().clone();
    assert_eq!(
        context.municipality,
        store.get_municipality("0301").await.unwrap()
    );
    assert!(context.runs.is_empty());
    assert_eq!(context.basis, None);
    assert_eq!(
        context.registered_g,
        store.list_registered_g().await.unwrap()
    );

    let read = read_all(&mut session, 2, None).await;
    let mut oslo = vec![kari.id, ola.id, per.id];
    oslo.sort();
    let ids: Vec<Uuid> = read.iter().map(|p| p.facts.participant.id).collect();
    assert_eq!(
        ids, oslo,
        "Oslo's participants in id order, Bergen's left out"
    );
    for participant in &read {
        let id = participant.facts.participant.id;
        assert_eq!(
            participant.facts,
            store.participant_facts(id).await.unwrap(),
            "the facts of {id}"
        );
        assert_eq!(participant.mark.from, Some(RECOMPUTE_EVERYTHING));
        assert!(participant.ledger.is_empty());
    }
    let ready = read
        .iter()
        .find(|p| p.facts.participant.id == kari.id)
        .unwrap();
    assert_eq!(ready.facts.timesheets.len(), 2);
    assert_eq!(ready.facts.programmes[0].pauses.len(), 1);

    // Dropped unfinished: nothing was written, and nothing is held.
    drop(session);
    assert_eq!(store.find_run("0301", MARCH).await.unwrap(), None);
    assert!(store.list_runs("0301").await.unwrap().is_empty());
    drop(open(&store, MARCH).await);
}

pub async fn a_session_writes_its_run_lines_events_audit_and_basis_together(
    store: Arc<dyn Repository>,
) {
    let kari = given_participant(&store).await;
    let ola = given_another_participant(&store).await;
    let run = open_run(MARCH);
    let BeginClose::Open(mut session) = store.begin_close(&run).await.unwrap() else {
        panic!("March is free");
    };
    let read = read_all(&mut session, 1, None).await;
    assert_eq!(read.len(), 2);
    let first = vec![
        line(&run, kari.id, 0, Some(MARCH), "20500.50"),
        line(&run, kari.id, 1, None, "-100.25"),
    ];
    let second = vec![line(&run, ola.id, 0, Some(FEBRUARY), "1000.00")];
    session.write_lines(&first).await.unwrap();
    session.write_lines(&second).await.unwrap();
    let mut finish = finish_clearing(&read, "basis-1");
    finish.participant_count = 2;
    finish.total = dec("21400.25");
    finish.events = vec![event_at("no.kvp.payroll.period.closed.v1", run.id, AT)];
    finish.audit = NewAuditEntry::new(AT, "client:0301", "period.closed", "pay_run", run.id);
    let stored = session.finish(finish).await.unwrap();

    let expected = PayRun {
        id: run.id,
        municipality_id: "0301".into(),
        month: MARCH,
        state: RunState::Closed,
        closed_at: AT,
        participant_count: 2,
        held_count: 0,
        total: dec("21400.25"),
    };
    assert_eq!(stored, expected);
    assert_eq!(store.get_run(run.id).await.unwrap(), expected);
    let mut lines: Vec<PayLine> = first.into_iter().chain(second).collect();
    lines.sort_by_key(|l| (l.participant_id, l.seq));
    assert_eq!(store.list_pay_lines(run.id).await.unwrap(), lines);
    assert_eq!(
        store
            .list_audit("pay_run", &run.id.to_string())
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(store.outbox_backlog().await.unwrap(), 1);
    for (_, mark) in marks(&store).await {
        assert_eq!(
            mark.from, None,
            "recomputed participants' marks are cleared"
        );
    }

    // The next close sees the run and its basis.
    let session = open(&store, APRIL).await;
    assert_eq!(session.context().runs, vec![expected]);
    assert_eq!(session.context().basis.as_deref(), Some("basis-1"));
}

pub async fn a_month_closed_before_is_answered_and_nothing_is_held(store: Arc<dyn Repository>) {
    let kari = given_participant(&store).await;
    let new = pay_run(MARCH, &[(kari.id, "KVP_BASE", Some(MARCH), "100.00")]);
    let run = closed(&store, &new).await;

    match store.begin_close(&open_run(MARCH)).await.unwrap() {
        BeginClose::Closed(existing) => assert_eq!(existing, run),
        BeginClose::Open(_) => panic!("March is closed"),
    }
    // The next close reads the basis that run recorded.
    let session = open(&store, APRIL).await;
    assert_eq!(session.context().basis.as_deref(), Some(TEST_BASIS));
    assert_eq!(session.context().runs, vec![run]);
    drop(session);

    let err = store
        .begin_close(&OpenRun {
            municipality_id: "9999".into(),
            ..open_run(APRIL)
        })
        .await
        .unwrap_err();
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
}

pub async fn lines_or_totals_that_do_not_add_up_are_refused_and_nothing_is_stored(
    store: Arc<dyn Repository>,
) {
    let kari = given_participant(&store).await;
    let run = open_run(MARCH);

    let BeginClose::Open(mut session) = store.begin_close(&run).await.unwrap() else {
        panic!("March is free");
    };
    let other_run = open_run(MARCH);
    let err = session
        .write_lines(&[line(&other_run, kari.id, 0, Some(MARCH), "1.00")])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidInput { .. }), "{err:?}");
    let err = session
        .write_lines(&[line(&run, kari.id, 0, Some(date!(2025 - 03 - 02)), "1.00")])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidInput { .. }), "{err:?}");
    drop(session);

    let BeginClose::Open(mut session) = store.begin_close(&run).await.unwrap() else {
        panic!("March is free");
    };
    session
        .write_lines(&[line(&run, kari.id, 0, Some(MARCH), "10.00")])
        .await
        .unwrap();
    let mut finish = finish_clearing(&[], "basis");
    finish.participant_count = 1;
    finish.total = dec("10.01");
    let err = session.finish(finish).await.unwrap_err();
    assert!(matches!(err, StoreError::InvalidInput { .. }), "{err:?}");
    assert_eq!(store.find_run("0301", MARCH).await.unwrap(), None);
    assert!(store.list_pay_lines(run.id).await.unwrap().is_empty());

    let BeginClose::Open(mut session) = store.begin_close(&run).await.unwrap() else {
        panic!("March is free");
    };
    let ghost = Uuid::now_v7();
    let err = session
        .write_lines(&[line(&run, ghost, 0, Some(MARCH), "10.00")])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidInput { .. }), "{err:?}");
    drop(session);
    assert_eq!(store.find_run("0301", MARCH).await.unwrap(), None);
    assert_eq!(store.outbox_backlog().await.unwrap(), 0);
}

pub async fn a_second_close_of_the_municipality_waits_for_the_first_and_finds_its_run(
    store: Arc<dyn Repository>,
) {
    given_participant(&store).await;
    let mut first = open(&store, MARCH).await;
    let read = read_all(&mut first, 10, None).await;

    let second = {
        let store = store.clone();
        tokio::spawn(async move { store.begin_close(&open_run(MARCH)).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !second.is_finished(),
        "the second close waits for the first"
    );

    let run = first.finish(finish_clearing(&read, "basis")).await.unwrap();
    match second.await.unwrap().unwrap() {
        BeginClose::Closed(existing) => assert_eq!(existing, run),
        BeginClose::Open(_) => panic!("the month was closed by the first"),
    }
    assert_eq!(store.list_runs("0301").await.unwrap(), vec![run]);
}

pub async fn a_change_to_any_fact_moves_the_mark_back_to_the_first_month_it_reaches(
    store: Arc<dyn Repository>,
) {
    let kari = given_participant(&store).await;
    let ola = given_another_participant(&store).await;
    assert!(
        marks(&store)
            .await
            .values()
            .all(|m| m.from == Some(RECOMPUTE_EVERYTHING)),
        "a new participant is recomputed from the beginning"
    );
    let programme = programme_of(&kari);
    let mut month = date!(2030 - 01 - 01);
    let mut next_month = || {
        month = kvp_month_after(month);
        month
    };

    // Each change, then the mark it leaves on Kari (Ola's stays clear).
    clear_marks(&store, next_month()).await;
    let march = timesheet_for(&kari, date!(2025 - 03 - 03), date!(2025 - 03 - 07));
    store.accept_timesheet(&march).await.unwrap();
    expect_mark(
        &store,
        &kari,
        &ola,
        Some(MARCH),
        "a timesheet: its first month",
    )
    .await;

    clear_marks(&store, next_month()).await;
    store
        .accept_timesheet(&correction_of(
            &march.timesheet,
            &kari,
            date!(2025 - 02 - 24),
            date!(2025 - 03 - 07),
        ))
        .await
        .unwrap();
    expect_mark(
        &store,
        &kari,
        &ola,
        Some(FEBRUARY),
        "a correction: the earlier period",
    )
    .await;

    clear_marks(&store, next_month()).await;
    store
        .record_decision(
            &SanctionDecision {
                id: Uuid::now_v7(),
                participant_id: kari.id,
                date: date!(2025 - 04 - 15),
                entry_kind: AbsenceKind::Unexcused,
                outcome: DecisionOutcome::Approved,
                decided_at: AT,
                decided_by: "caseworker:k123".into(),
                reference: "V".into(),
                reason: "r".into(),
                legal_basis: "sosialtjenesteloven § 36".into(),
                appeal_deadline: None,
                warning_id: None,
                deducted_hours: None,
            },
            &[],
            &audit("decision.recorded", "participant", kari.id),
        )
        .await
        .unwrap();
    expect_mark(
        &store,
        &kari,
        &ola,
        Some(APRIL),
        "a decision: its day's month",
    )
    .await;

    clear_marks(&store, next_month()).await;
    store
        .add_benefit_offset(
            &BenefitOffset {
                id: Uuid::now_v7(),
                participant_id: kari.id,
                month: MAY,
                kind: OffsetKind::Sykepenger,
                amount: dec("10.00"),
            },
            &audit("offset.added", "participant", kari.id),
        )
        .await
        .unwrap();
    expect_mark(&store, &kari, &ola, Some(MAY), "an offset: its month").await;

    clear_marks(&store, next_month()).await;
    store
        .add_child(
            &child_of(&kari, date!(2016 - 02 - 29)),
            false,
            &audit("child.added", "participant", kari.id),
        )
        .await
        .unwrap();
    expect_mark(
        &store,
        &kari,
        &ola,
        Some(date!(2016 - 02 - 01)),
        "a child: the birth month",
    )
    .await;

    clear_marks(&store, next_month()).await;
    store
        .add_sole_carer_period(
            &SoleCarerPeriod {
                id: Uuid::now_v7(),
                participant_id: kari.id,
                from: date!(2025 - 06 - 10),
                to: None,
            },
            &audit("sole_carer.added", "participant", kari.id),
        )
        .await
        .unwrap();
    expect_mark(
        &store,
        &kari,
        &ola,
        Some(date!(2025 - 06 - 01)),
        "a sole-carer period",
    )
    .await;

    clear_marks(&store, next_month()).await;
    store
        .create_programme(
            &programme,
            &audit("programme.created", "programme", programme.id),
        )
        .await
        .unwrap();
    expect_mark(&store, &kari, &ola, Some(JANUARY), "a programme: its start").await;

    clear_marks(&store, next_month()).await;
    crate::support::set_programme_end(
        &store,
        programme.id,
        Some(date!(2025 - 12 - 31)),
        None,
        &audit("programme.end_set", "programme", programme.id),
    )
    .await
    .unwrap();
    expect_mark(
        &store,
        &kari,
        &ola,
        Some(JANUARY),
        "a programme's end: its start",
    )
    .await;

    clear_marks(&store, next_month()).await;
    store
        .add_pause(
            &Pause {
                id: Uuid::now_v7(),
                programme_id: programme.id,
                from: date!(2025 - 08 - 01),
                to: None,
                kind: PauseKind::Stopped,
                reference: "P".into(),
            },
            &audit("programme.paused", "programme", programme.id),
        )
        .await
        .unwrap();
    expect_mark(
        &store,
        &kari,
        &ola,
        Some(JANUARY),
        "a pause: its programme's start",
    )
    .await;

    // The earliest of several changes wins.
    clear_marks(&store, next_month()).await;
    store
        .accept_timesheet(&timesheet_for(
            &kari,
            date!(2025 - 09 - 01),
            date!(2025 - 09 - 05),
        ))
        .await
        .unwrap();
    store
        .accept_timesheet(&timesheet_for(
            &kari,
            date!(2025 - 04 - 21),
            date!(2025 - 04 - 25),
        ))
        .await
        .unwrap();
    expect_mark(
        &store,
        &kari,
        &ola,
        Some(APRIL),
        "two timesheets: the earlier",
    )
    .await;

    // A payslip confirmed as failed leaves the ledger: every month again.
    let new = pay_run(
        next_month(),
        &[(kari.id, "KVP_BASE", Some(MARCH), "100.00")],
    );
    let run = closed(&store, &new).await;
    clear_marks(&store, next_month()).await;
    store
        .confirm_payment(
            &failed(&run, kari.id),
            &[],
            &audit("payment.confirmed", "pay_run", run.id),
        )
        .await
        .unwrap();
    expect_mark(
        &store,
        &kari,
        &ola,
        Some(RECOMPUTE_EVERYTHING),
        "a failed payslip",
    )
    .await;
}

/// The first day of the month after `month`.
fn kvp_month_after(month: Date) -> Date {
    let next = month.replace_day(28).unwrap() + time::Duration::days(4);
    next.replace_day(1).unwrap()
}

/// Kari's mark is back at `expected`; Ola's is untouched.
async fn expect_mark(
    store: &Arc<dyn Repository>,
    kari: &Participant,
    ola: &Participant,
    expected: Option<Date>,
    what: &str,
) {
    let marks = marks(store).await;
    assert_eq!(marks[&kari.id].from, expected, "{what}");
    assert_eq!(
        marks[&ola.id].from, None,
        "{what}: another participant's mark"
    );
}

pub async fn a_mark_moved_on_during_a_close_is_left_for_the_next_close(store: Arc<dyn Repository>) {
    let kari = given_participant(&store).await;
    clear_marks(&store, JANUARY).await;
    store
        .accept_timesheet(&timesheet_for(
            &kari,
            date!(2025 - 03 - 03),
            date!(2025 - 03 - 07),
        ))
        .await
        .unwrap();
    let mut session = open(&store, APRIL).await;
    let read = read_all(&mut session, 10, None).await;
    assert_eq!(read[0].mark.from, Some(MARCH));

    // A child is registered while the close computes. PostgreSQL lets the
    // change commit meanwhile; SQLite makes it wait for the close's write lock.
    let change = {
        let store = store.clone();
        let child = child_of(&kari, date!(2025 - 02 - 14));
        tokio::spawn(async move {
            store
                .add_child(
                    &child,
                    false,
                    &audit("child.added", "participant", child.participant_id),
                )
                .await
        })
    };
    if store.backend() == kvp_store::Backend::Postgres {
        tokio::time::timeout(Duration::from_secs(10), change)
            .await
            .expect("the change does not wait for the close")
            .unwrap()
            .unwrap();
        session
            .finish(finish_clearing(&read, "basis"))
            .await
            .unwrap();
    } else {
        session
            .finish(finish_clearing(&read, "basis"))
            .await
            .unwrap();
        change.await.unwrap().unwrap();
    }
    // Either way the close did not clear what it did not see.
    assert_eq!(marks(&store).await[&kari.id].from, Some(FEBRUARY));

    // A version that is not the one stored clears nothing either.
    let mut session = open(&store, MAY).await;
    let read = read_all(&mut session, 10, None).await;
    let mut finish = finish_clearing(&read, "basis");
    finish.recomputed[0].1 += 1;
    session.finish(finish).await.unwrap();
    assert_eq!(marks(&store).await[&kari.id].from, Some(FEBRUARY));
}

pub async fn a_chunks_ledger_starts_at_the_earlier_of_the_mark_and_the_floor(
    store: Arc<dyn Repository>,
) {
    let kari = given_participant(&store).await;
    let ola = given_another_participant(&store).await;
    let mut runs = Vec::new();
    for month in [JANUARY, FEBRUARY, MARCH] {
        runs.push(
            closed(
                &store,
                &pay_run(
                    month,
                    &[
                        (kari.id, "KVP_BASE", Some(month), "1000.00"),
                        (kari.id, "KVP_RECOVERY_CARRIED", None, "5.00"),
                        (ola.id, "KVP_BASE", Some(month), "2000.00"),
                        (ola.id, "KVP_BASE", Some(JANUARY), "-10.00"),
                    ],
                ),
            )
            .await,
        );
    }
    clear_marks(&store, APRIL).await;
    // Ola's February changes: Ola is recomputed from February.
    store
        .record_decision(
            &SanctionDecision {
                id: Uuid::now_v7(),
                participant_id: ola.id,
                date: date!(2025 - 02 - 10),
                entry_kind: AbsenceKind::Unexcused,
                outcome: DecisionOutcome::Approved,
                decided_at: AT,
                decided_by: "caseworker:k123".into(),
                reference: "V".into(),
                reason: "r".into(),
                legal_basis: "sosialtjenesteloven § 36".into(),
                appeal_deadline: None,
                warning_id: None,
                deducted_hours: None,
            },
            &[],
            &audit("decision.recorded", "participant", ola.id),
        )
        .await
        .unwrap();

    let ledger = store.ledger("0301").await.unwrap();
    let expect = |participant: Uuid, from: Option<Date>| -> Vec<LedgerEntry> {
        ledger
            .iter()
            .filter(|e| e.participant_id == participant)
            .filter(|e| match (e.attributed_month, from) {
                (None, _) | (_, None) => true,
                (Some(month), Some(from)) => month >= from,
            })
            .cloned()
            .collect()
    };
    let mut session = open(&store, MAY).await;
    for (floor, kari_from, ola_from) in [
        (Some(MARCH), Some(MARCH), Some(FEBRUARY)),
        (Some(JANUARY), Some(JANUARY), Some(JANUARY)),
        (None, None, None),
    ] {
        let read = read_all(&mut session, 1, floor).await;
        for participant in &read {
            let (id, from) = if participant.facts.participant.id == kari.id {
                (kari.id, kari_from)
            } else {
                (ola.id, ola_from)
            };
            assert_eq!(participant.ledger, expect(id, from), "floor {floor:?}");
        }
    }
    drop(session);

    // A failed payslip leaves the ledger, and the participant's mark goes
    // back to the beginning: the chunk's ledger leaves the payslip out too.
    store
        .confirm_payment(
            &failed(&runs[2], kari.id),
            &[],
            &audit("payment.confirmed", "pay_run", runs[2].id),
        )
        .await
        .unwrap();
    let ledger = store.ledger("0301").await.unwrap();
    let mut session = open(&store, MAY).await;
    let read = read_all(&mut session, 10, Some(APRIL)).await;
    let kari_read = read
        .iter()
        .find(|p| p.facts.participant.id == kari.id)
        .unwrap();
    assert_eq!(kari_read.mark.from, Some(RECOMPUTE_EVERYTHING));
    let kari_ledger: Vec<LedgerEntry> = ledger
        .iter()
        .filter(|e| e.participant_id == kari.id)
        .cloned()
        .collect();
    assert_eq!(kari_read.ledger, kari_ledger);
    assert_eq!(
        kari_read.ledger[0].amount,
        dec("10.00"),
        "two recovery lines left"
    );
}

pub async fn a_runs_lines_are_summed_per_code_and_month_in_one_query(store: Arc<dyn Repository>) {
    let kari = given_participant(&store).await;
    let ola = given_another_participant(&store).await;
    let run = closed(
        &store,
        &pay_run(
            MARCH,
            &[
                (kari.id, "KVP_BASE", Some(MARCH), "20500.50"),
                (ola.id, "KVP_BASE", Some(MARCH), "21000.00"),
                (kari.id, "KVP_BASE", Some(FEBRUARY), "-300.25"),
                (kari.id, "KVP_DEDUCTION_ABSENCE", Some(JANUARY), "-100.00"),
                (ola.id, "KVP_DEDUCTION_ABSENCE", Some(FEBRUARY), "-0.75"),
                (kari.id, "KVP_RECOVERY_CARRIED", None, "400.25"),
            ],
        ),
    )
    .await;

    let totals: Vec<(String, bool, i64, Decimal)> = store
        .run_totals(run.id)
        .await
        .unwrap()
        .into_iter()
        .map(|t| {
            (
                t.line_code.as_str().to_owned(),
                t.of_run_month,
                t.line_count,
                t.amount,
            )
        })
        .collect();
    assert_eq!(
        totals,
        vec![
            ("KVP_BASE".into(), false, 1, dec("-300.25")),
            ("KVP_BASE".into(), true, 2, dec("41500.50")),
            ("KVP_DEDUCTION_ABSENCE".into(), false, 2, dec("-100.75")),
            ("KVP_RECOVERY_CARRIED".into(), false, 1, dec("400.25")),
        ]
    );
    assert_eq!(totals.iter().map(|t| t.3).sum::<Decimal>(), run.total);
    assert!(store.run_totals(Uuid::now_v7()).await.unwrap().is_empty());
}

/// A hold of `participant` by `run`, its mark to go back to `recompute_from`.
fn hold(run: &OpenRun, participant: Uuid, month: Date, recompute_from: Date) -> Hold {
    Hold {
        held: HeldParticipant {
            run_id: run.id,
            participant_id: participant,
            month,
            reason: format!("offsets[0].amount: 20000000 is above the bound ({month})"),
        },
        recompute_from,
    }
}

pub async fn a_close_records_its_held_participants_and_moves_their_marks_back_never_forward(
    store: Arc<dyn Repository>,
) {
    let kari = given_participant(&store).await;
    let ola = given_another_participant(&store).await;
    let per = given_another_participant(&store).await;
    clear_marks(&store, JANUARY).await;
    // Ola's mark stands at March (a timesheet); Per's and Kari's are clear.
    store
        .accept_timesheet(&timesheet_for(
            &ola,
            date!(2025 - 03 - 03),
            date!(2025 - 03 - 07),
        ))
        .await
        .unwrap();
    let before = marks(&store).await;
    assert_eq!(before[&ola.id].from, Some(MARCH));
    assert_eq!(before[&per.id].from, None);

    let run = open_run(APRIL);
    let BeginClose::Open(mut session) = store.begin_close(&run).await.unwrap() else {
        panic!("April is free");
    };
    let read = read_all(&mut session, 10, None).await;
    let paid = vec![line(&run, kari.id, 0, Some(APRIL), "20500.50")];
    session.write_lines(&paid).await.unwrap();
    let mut finish = finish_clearing(&read, "basis-held");
    finish.recomputed.retain(|(id, _)| *id == kari.id);
    finish.participant_count = 1;
    finish.total = dec("20500.50");
    // Ola's hold would move the mark forward to April: it stays at March.
    // Per's clear mark goes back to February.
    finish.held = vec![
        hold(&run, ola.id, APRIL, APRIL),
        hold(&run, per.id, MARCH, FEBRUARY),
    ];
    let stored = session.finish(finish).await.unwrap();

    assert_eq!(stored.held_count, 2);
    assert_eq!(stored.participant_count, 1);
    assert_eq!(store.get_run(run.id).await.unwrap(), stored);
    assert_eq!(store.list_runs("0301").await.unwrap()[1], stored);
    let mut expected = vec![
        hold(&run, ola.id, APRIL, APRIL).held,
        hold(&run, per.id, MARCH, FEBRUARY).held,
    ];
    expected.sort_by_key(|h| h.participant_id);
    assert_eq!(store.list_held(run.id).await.unwrap(), expected);
    expected.sort_by_key(|h| (h.month, h.participant_id));
    assert_eq!(
        store.current_holds("0301").await.unwrap(),
        expected,
        "the latest run's holds, by month"
    );
    assert_eq!(store.list_pay_lines(run.id).await.unwrap(), paid);

    let after = marks(&store).await;
    assert_eq!(
        after[&kari.id].from, None,
        "a paid participant's mark clears"
    );
    assert_eq!(after[&ola.id].from, Some(MARCH), "never moved forward");
    assert_eq!(after[&per.id].from, Some(FEBRUARY), "moved back");
    assert!(after[&per.id].version > before[&per.id].version);

    // The next close reads the held participants' ledgers from their marks,
    // whatever the floor, so it recomputes the months held.
    let mut session = open(&store, MAY).await;
    let read = read_all(&mut session, 10, Some(MAY)).await;
    let marks_read: BTreeMap<Uuid, Option<Date>> = read
        .iter()
        .map(|p| (p.facts.participant.id, p.mark.from))
        .collect();
    assert_eq!(marks_read[&per.id], Some(FEBRUARY));
    assert_eq!(marks_read[&ola.id], Some(MARCH));
    // It holds nobody: the holds are history, and the worklist is empty.
    session
        .finish(finish_clearing(&read, "basis-held"))
        .await
        .unwrap();
    let may = store.find_run("0301", MAY).await.unwrap().unwrap();
    assert_eq!(may.held_count, 0);
    assert!(store.list_held(may.id).await.unwrap().is_empty());
    assert_eq!(store.current_holds("0301").await.unwrap(), Vec::new());
    assert_eq!(store.list_held(run.id).await.unwrap().len(), 2);
    assert!(store.list_held(Uuid::now_v7()).await.unwrap().is_empty());
    assert!(store.current_holds("4601").await.unwrap().is_empty());
}

/// What makes a finish wrong.
type Spoil<'a> = dyn Fn(&mut FinishClose) + Send + Sync + 'a;

pub async fn holds_that_do_not_fit_the_run_are_refused_and_nothing_is_stored(
    store: Arc<dyn Repository>,
) {
    let kari = given_participant(&store).await;
    let ola = given_another_participant(&store).await;
    let run = open_run(MARCH);
    let bad_finishes: Vec<(&str, Box<Spoil<'_>>)> = vec![
        (
            "a held participant with lines",
            Box::new(|f| f.held = vec![hold(&run, kari.id, MARCH, MARCH)]),
        ),
        (
            "a held participant whose mark would be cleared",
            Box::new(|f| {
                f.held = vec![hold(&run, ola.id, MARCH, MARCH)];
                f.recomputed.push((ola.id, 1));
            }),
        ),
        (
            "a hold of another run",
            Box::new(|f| f.held = vec![hold(&open_run(MARCH), ola.id, MARCH, MARCH)]),
        ),
        (
            "a month not given as its first day",
            Box::new(|f| f.held = vec![hold(&run, ola.id, date!(2025 - 03 - 02), MARCH)]),
        ),
        (
            "a recompute month not given as its first day",
            Box::new(|f| f.held = vec![hold(&run, ola.id, MARCH, date!(2025 - 02 - 02))]),
        ),
        (
            "a hold without a reason",
            Box::new(|f| {
                let mut h = hold(&run, ola.id, MARCH, MARCH);
                h.held.reason = " ".into();
                f.held = vec![h];
            }),
        ),
        (
            "a participant held twice",
            Box::new(|f| {
                f.held = vec![
                    hold(&run, ola.id, MARCH, MARCH),
                    hold(&run, ola.id, FEBRUARY, FEBRUARY),
                ];
            }),
        ),
    ];
    let marks_before = marks(&store).await;
    for (what, spoil) in bad_finishes {
        let BeginClose::Open(mut session) = store.begin_close(&run).await.unwrap() else {
            panic!("March is free");
        };
        session
            .write_lines(&[line(&run, kari.id, 0, Some(MARCH), "10.00")])
            .await
            .unwrap();
        let mut finish = finish_clearing(&[], "basis");
        finish.participant_count = 1;
        finish.total = dec("10.00");
        spoil(&mut finish);
        let err = session.finish(finish).await.unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidInput { .. }),
            "{what}: {err:?}"
        );
        assert_eq!(store.find_run("0301", MARCH).await.unwrap(), None, "{what}");
        assert!(store.list_held(run.id).await.unwrap().is_empty(), "{what}");
        assert_eq!(marks(&store).await, marks_before, "{what}");
    }

    // A participant of another municipality, or none at all.
    store
        .upsert_municipality(
            &kvp_store::Municipality {
                id: "4601".into(),
                name: "Bergen".into(),
                policy_overrides: serde_json::json!({}),
                pay_codes: serde_json::json!({}),
                handoff: Default::default(),
                version: 1,
            },
            None,
            &audit("municipality.upserted", "municipality", "4601"),
        )
        .await
        .unwrap();
    let bergen = participant_of("4601");
    store
        .create_participant(
            &bergen,
            &audit("participant.created", "participant", bergen.id),
        )
        .await
        .unwrap();
    for (who, expected) in [(bergen.id, "InvalidInput"), (Uuid::now_v7(), "NotFound")] {
        let BeginClose::Open(session) = store.begin_close(&run).await.unwrap() else {
            panic!("March is free");
        };
        let mut finish = finish_clearing(&[], "basis");
        finish.held = vec![hold(&run, who, MARCH, MARCH)];
        let err = session.finish(finish).await.unwrap_err();
        let kind = match err {
            StoreError::InvalidInput { .. } => "InvalidInput",
            StoreError::NotFound { .. } => "NotFound",
            ref other => panic!("{other:?}"),
        };
        assert_eq!(kind, expected, "{err:?}");
        assert_eq!(store.find_run("0301", MARCH).await.unwrap(), None);
    }
    assert!(store.current_holds("0301").await.unwrap().is_empty());
}
