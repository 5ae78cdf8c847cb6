//! The ledger invariant: for every participant and month, the lines of all
//! closed runs sum to the rules engine's current result for that month, after
//! any sequence of late timesheets, late decisions and G changes.

use std::collections::HashMap;

use kvp_proto::kvp::payroll::v1 as pb;
use kvp_rules::YearMonth;
use kvp_system_tests::{Fixture, TestApp};
use pb::DayKind;
use rust_decimal::Decimal;
use serde_json::json;
use time::{Date, Month};

/// A small deterministic generator, so a failing sequence can be replayed by its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

fn weekdays(month: YearMonth) -> Vec<Date> {
    month
        .days()
        .filter(|d| kvp_rules::calendar::is_weekday(*d))
        .collect()
}

async fn check_invariant(app: &TestApp, participant: uuid::Uuid, upto: YearMonth, seed: u64) {
    let mut paid: HashMap<Date, Decimal> = HashMap::new();
    let mut recovery = Decimal::ZERO;
    for entry in app.payroll.store().ledger("0301").await.unwrap() {
        match entry.attributed_month {
            Some(m) => *paid.entry(m).or_default() += entry.amount,
            None => recovery += entry.amount,
        }
    }
    assert!(
        recovery >= Decimal::ZERO,
        "seed {seed}: the recovery balance is never negative"
    );
    let mut month = YearMonth::new(2025, Month::January);
    while month <= upto {
        let result = app.payroll.month(participant, month).await.unwrap();
        let sum = paid.get(&month.first_day()).copied().unwrap_or_default();
        assert_eq!(
            sum, result.total,
            "seed {seed}: lines paid for {month} after closing {upto}"
        );
        month = month.next();
    }
    for run in app.payroll.store().list_runs("0301").await.unwrap() {
        let net: Decimal = app
            .payroll
            .store()
            .list_pay_lines(run.id)
            .await
            .unwrap()
            .iter()
            .map(|l| l.amount)
            .sum();
        assert!(
            net >= Decimal::ZERO,
            "seed {seed}: a payslip never goes below zero"
        );
    }
}

#[tokio::test]
async fn closed_runs_always_sum_to_the_current_result_of_every_month() {
    for seed in [0x9E37_79B9_7F4A_7C15_u64, 0xD1B5_4A32_D192_ED03] {
        let mut rng = Rng(seed);
        let mut app = TestApp::spawn().await;
        let fixture = Fixture::new(&app).await;
        let participant: uuid::Uuid = fixture.participant_id.parse().unwrap();
        let kinds = [
            DayKind::Unexcused,
            DayKind::PaidWork,
            DayKind::ApprovedUnpaid,
            DayKind::SickSelf,
            DayKind::Leave,
            DayKind::ChildSick,
        ];
        let mut unsubmitted: Vec<YearMonth> = Vec::new();
        let mut pending: Vec<(Date, &str)> = Vec::new();
        let mut month = YearMonth::new(2025, Month::September);
        let mut g_changed = false;
        while month <= YearMonth::new(2026, Month::February) {
            // This month's timesheet arrives on time, late (after the close), or in a later month.
            let mut to_submit = Vec::new();
            if rng.next(3) > 0 {
                to_submit.push(month);
            } else {
                unsubmitted.push(month);
            }
            if !unsubmitted.is_empty() && rng.next(2) == 0 {
                to_submit.push(unsubmitted.remove(0));
            }
            for m in to_submit {
                let days = weekdays(m);
                let mut entries = Vec::new();
                for _ in 0..rng.next(5) {
                    let date = days[rng.next(days.len() as u64) as usize];
                    let kind = kinds[rng.next(kinds.len() as u64) as usize];
                    let hours = ["1.5", "3", "4.25", "7.5"][rng.next(4) as usize];
                    if entries
                        .iter()
                        .any(|(d, k, _): &(Date, DayKind, &str)| *d == date && *k == kind)
                    {
                        continue;
                    }
                    entries.push((date, kind, hours));
                    if kind == DayKind::Unexcused {
                        pending.push((date, "UNEXCUSED"));
                    }
                }
                let texts: Vec<(String, DayKind, &str)> = entries
                    .iter()
                    .map(|(d, k, h)| (d.to_string(), *k, *h))
                    .collect();
                let refs: Vec<(&str, DayKind, &str)> =
                    texts.iter().map(|(d, k, h)| (d.as_str(), *k, *h)).collect();
                let body =
                    fixture.body(&m.first_day().to_string(), &m.last_day().to_string(), &refs);
                app.grpc
                    .submit_timesheet(fixture.signed(&body))
                    .await
                    .unwrap();
            }
            // Some pending deductions are decided late.
            while !pending.is_empty() && rng.next(2) == 0 {
                let (date, kind) = pending.remove(rng.next(pending.len() as u64) as usize);
                let outcome = if rng.next(3) == 0 {
                    "REJECTED"
                } else {
                    "APPROVED"
                };
                app.warn(&participant.to_string(), &date.to_string(), kind)
                    .await;
                app.post(&format!("/v1/participants/{participant}/sanction-decisions"), json!({
                    "date": date, "entry_kind": kind, "outcome": outcome, "reference": format!("V-{date}"),
                }), 201).await;
            }
            // Once, the 2025 G is corrected late.
            if !g_changed && rng.next(3) == 0 {
                g_changed = true;
                app.post(
                    "/v1/parameters/g",
                    json!({"effective_date": "2025-05-01", "value": "130500", "reference": "late"}),
                    201,
                )
                .await;
            }
            app.grpc
                .close_period(pb::ClosePeriodRequest {
                    municipality_id: "0301".into(),
                    month: month.to_string(),
                })
                .await
                .unwrap();
            check_invariant(&app, participant, month, seed).await;
            month = month.next();
        }
        app.stop().await;
    }
}

/// Every month's lines summed per line code, and the recovery balance.
async fn paid_by_code(app: &TestApp) -> (HashMap<(Date, String), Decimal>, Decimal) {
    let mut paid = HashMap::new();
    let mut recovery = Decimal::ZERO;
    for entry in app.payroll.store().ledger("0301").await.unwrap() {
        match entry.attributed_month {
            Some(m) => {
                *paid
                    .entry((m, entry.line_code.as_str().to_owned()))
                    .or_default() += entry.amount
            }
            None => recovery += entry.amount,
        }
    }
    (paid, recovery)
}

/// The invariant line code by line code, for every month since 2025.
async fn check_every_line(app: &TestApp, participant: uuid::Uuid, upto: YearMonth, seed: u64) {
    let (paid, recovery) = paid_by_code(app).await;
    assert!(recovery >= Decimal::ZERO, "seed {seed}: recovery balance");
    let mut month = YearMonth::new(2025, Month::January);
    while month <= upto {
        let result = app.payroll.month(participant, month).await.unwrap();
        for line in &result.lines {
            let sum = paid
                .get(&(month.first_day(), line.code.as_str().to_owned()))
                .copied()
                .unwrap_or_default();
            assert_eq!(
                sum, line.amount,
                "seed {seed}: {} paid for {month} after closing {upto}",
                line.code
            );
        }
        month = month.next();
    }
}

/// The kinds of late fact the test below sends, one a month.
const LATE_FACTS: [&str; 12] = [
    "none",
    "corrected timesheet",
    "decision",
    "offset",
    "child",
    "sole-carer period",
    "pause",
    "G",
    "municipal policy",
    "failed payslip",
    "fact corrected",
    "fact voided",
];

/// A close recomputes only what changed since the last one: every kind of late
/// fact (a corrected timesheet, a decision, an offset, a child, a sole-carer
/// period, a pause, a G, a municipal policy, a payslip that failed, a fact
/// corrected or voided) must still reach every month it changes, whenever it
/// arrives. One late fact a month, so that no other change hides a missed one.
#[tokio::test]
async fn a_late_fact_of_any_kind_reaches_every_month_it_changes() {
    use kvp_payroll::client_identity::Scope;
    use kvp_payroll::payroll::periods::PaymentReport;
    use kvp_payroll::payroll::{FactCorrection, Precondition};
    use kvp_store::{
        BenefitOffset, Child, DecisionOutcome, FactContent, FactKind, HandoffSettings,
        Municipality, NewAuditEntry, Pause, PauseKind, PaymentOutcome, SanctionDecision,
        SoleCarerPeriod,
    };
    use time::OffsetDateTime;

    let mut sent: HashMap<&str, usize> = HashMap::new();
    // Corrections and voids made (one needs a fact recorded before it).
    let mut changed: HashMap<&str, usize> = HashMap::new();
    for seed in [
        0x2545_F491_4F6C_DD1D_u64,
        0x9E37_79B9_7F4A_7C15,
        0x5851_F42D_4C95_7F2D,
        0x1405_7B7E_F767_814F,
        0xD6E8_FEB8_6659_FD93,
    ] {
        let mut rng = Rng(seed);
        let mut app = TestApp::spawn().await;
        let fixture = Fixture::new(&app).await;
        let participant: uuid::Uuid = fixture.participant_id.parse().unwrap();
        let store = app.payroll.store().clone();
        let actor = kvp_payroll::payroll::Actor::named("invariant-test");
        let audit = || {
            NewAuditEntry::new(
                OffsetDateTime::now_utc(),
                "test",
                "test.change",
                "participant",
                participant,
            )
        };
        let programme = store.list_programmes(participant).await.unwrap()[0]
            .programme
            .id;
        // Small quotas, with hours beyond them deducted at once, so that the
        // facts quotas hang on (a sole-carer period doubles the child's-
        // sickness quota) change amounts.
        let small_quotas = |auto_apply: bool, leave_days: u64| Municipality {
            id: "0301".into(),
            name: "Oslo".into(),
            policy_overrides: json!({
                "auto_apply_unexcused": auto_apply,
                "leave_days_per_year": leave_days,
                "child_sick_days_per_year": 1,
            }),
            pay_codes: json!({}),
            handoff: HandoffSettings {
                use_product_codes: true,
                ..HandoffSettings::default()
            },
            version: 1,
        };
        store
            .upsert_municipality(&small_quotas(true, 3), None, &audit())
            .await
            .unwrap();
        let kinds = [
            DayKind::Unexcused,
            DayKind::PaidWork,
            DayKind::ApprovedUnpaid,
            DayKind::SickSelf,
            DayKind::Leave,
            DayKind::ChildSick,
        ];
        // The current timesheet of each submitted month, and the paused days.
        let mut current: HashMap<YearMonth, String> = HashMap::new();
        let mut paused: Vec<(Date, Date)> = Vec::new();
        let mut decided: Vec<Date> = Vec::new();
        // The facts recorded so far and not void: what a correction or a
        // void can pick.
        let mut recorded: Vec<(FactKind, String)> = Vec::new();
        let mut month = YearMonth::new(2025, Month::September);
        while month <= YearMonth::new(2026, Month::April) {
            let fact = LATE_FACTS[rng.next(LATE_FACTS.len() as u64) as usize];
            *sent.entry(fact).or_default() += 1;
            // This month's timesheet; for a correction, an earlier month's again.
            let mut to_submit = vec![month];
            let mut earlier: Vec<YearMonth> = current.keys().copied().collect();
            earlier.sort();
            if fact == "corrected timesheet" && !earlier.is_empty() {
                to_submit.push(earlier[rng.next(earlier.len() as u64) as usize]);
            }
            for m in to_submit {
                let days: Vec<Date> = weekdays(m)
                    .into_iter()
                    .filter(|d| !paused.iter().any(|(from, to)| from <= d && d <= to))
                    .collect();
                let mut entries: Vec<(String, DayKind, &str)> = Vec::new();
                for _ in 0..1 + rng.next(6) {
                    let date = days[rng.next(days.len() as u64) as usize].to_string();
                    let kind = kinds[rng.next(kinds.len() as u64) as usize];
                    let hours = ["1.5", "3", "4.25", "7.5"][rng.next(4) as usize];
                    if !entries.iter().any(|(d, k, _)| *d == date && *k == kind) {
                        entries.push((date, kind, hours));
                    }
                }
                let refs: Vec<(&str, DayKind, &str)> = entries
                    .iter()
                    .map(|(d, k, h)| (d.as_str(), *k, *h))
                    .collect();
                let mut body =
                    fixture.body(&m.first_day().to_string(), &m.last_day().to_string(), &refs);
                if let Some(old) = current.get(&m) {
                    body.supersedes_timesheet_id = old.clone();
                }
                body.client_reference = format!("{seed}-{month}-{m}");
                let accepted = app
                    .grpc
                    .submit_timesheet(fixture.signed(&body))
                    .await
                    .unwrap();
                current.insert(m, accepted.into_inner().timesheet_id);
            }
            // A day one to eight months back.
            let back = 1 + rng.next(8);
            let mut earlier = month;
            for _ in 0..back {
                earlier = earlier.previous();
            }
            let days = weekdays(earlier);
            let day = days[rng.next(days.len() as u64) as usize];
            match fact {
                "decision" if !decided.contains(&day) => {
                    decided.push(day);
                    let outcome = if rng.next(2) == 0 {
                        DecisionOutcome::Approved
                    } else {
                        DecisionOutcome::Rejected
                    };
                    let decision = SanctionDecision {
                        id: uuid::Uuid::now_v7(),
                        participant_id: participant,
                        date: day,
                        entry_kind: kvp_rules::AbsenceKind::Unexcused,
                        outcome,
                        decided_at: OffsetDateTime::now_utc(),
                        decided_by: "caseworker".into(),
                        reference: format!("V-{day}"),
                        reason: "late".into(),
                        legal_basis: "sosialtjenesteloven § 36".into(),
                        appeal_deadline: None,
                        warning_id: None,
                        deducted_hours: None,
                    };
                    store
                        .record_decision(&decision, &[], &audit())
                        .await
                        .unwrap();
                    recorded.push((FactKind::SanctionDecision, decision.id.to_string()));
                }
                "offset" => {
                    let offset = BenefitOffset {
                        id: uuid::Uuid::now_v7(),
                        participant_id: participant,
                        month: earlier.first_day(),
                        kind: kvp_rules::OffsetKind::ALL
                            [rng.next(kvp_rules::OffsetKind::ALL.len() as u64) as usize],
                        amount: Decimal::new(1_000 + rng.next(900_000) as i64, 2),
                    };
                    // One record per month and kind: a second is refused
                    // and changes nothing.
                    match store.add_benefit_offset(&offset, &audit()).await {
                        Ok(()) => recorded.push((FactKind::BenefitOffset, offset.id.to_string())),
                        Err(kvp_store::StoreError::Duplicate { .. }) => {}
                        Err(other) => panic!("{other}"),
                    }
                }
                "child" => {
                    let child = Child {
                        id: uuid::Uuid::now_v7(),
                        participant_id: participant,
                        birth_date: day,
                        reference: None,
                    };
                    // Random days may repeat: twins, confirmed.
                    store.add_child(&child, true, &audit()).await.unwrap();
                    recorded.push((FactKind::Child, child.id.to_string()));
                }
                "sole-carer period" => {
                    let period = SoleCarerPeriod {
                        id: uuid::Uuid::now_v7(),
                        participant_id: participant,
                        from: day,
                        to: None,
                    };
                    store
                        .add_sole_carer_period(&period, &audit())
                        .await
                        .unwrap();
                    recorded.push((FactKind::SoleCarerPeriod, period.id.to_string()));
                }
                "pause" => {
                    let to = day + time::Duration::days(rng.next(10) as i64);
                    paused.push((day, to));
                    let pause = Pause {
                        id: uuid::Uuid::now_v7(),
                        programme_id: programme,
                        from: day,
                        to: Some(to),
                        kind: if rng.next(2) == 0 {
                            PauseKind::Interrupted
                        } else {
                            PauseKind::Stopped
                        },
                        reference: format!("P-{day}"),
                    };
                    store.add_pause(&pause, &audit()).await.unwrap();
                    recorded.push((FactKind::Pause, pause.id.to_string()));
                }
                "G" => {
                    // One value per date: a second registration is refused.
                    let value = Decimal::new(13_000_000 + rng.next(100_000) as i64, 2);
                    if app
                        .payroll
                        .register_g(earlier.first_day(), value, "late".into(), &actor)
                        .await
                        .is_ok()
                    {
                        recorded.push((FactKind::RegisteredG, earlier.first_day().to_string()));
                    }
                }
                "municipal policy" => {
                    let oslo = small_quotas(rng.next(2) == 0, 2 + rng.next(4));
                    store
                        .upsert_municipality(&oslo, None, &audit())
                        .await
                        .unwrap();
                }
                "failed payslip" if month > YearMonth::new(2025, Month::September) => {
                    let runs = store.list_runs("0301").await.unwrap();
                    let run = runs.last().unwrap();
                    let gross: Decimal = store
                        .list_pay_lines(run.id)
                        .await
                        .unwrap()
                        .iter()
                        .map(|l| l.amount)
                        .sum();
                    let report = PaymentReport {
                        run_id: run.id,
                        participant_id: participant,
                        gross,
                        tax_withheld: Decimal::ZERO,
                        net_paid: Decimal::ZERO,
                        outcome: PaymentOutcome::Failed,
                        failure_reason: Some("closed account".into()),
                        payment_date: None,
                    };
                    if run.participant_count > 0 {
                        let scope = Scope::Municipality("0301".into());
                        app.payroll
                            .confirm_payment(report, &scope, &actor)
                            .await
                            .unwrap();
                    }
                }
                "fact corrected" | "fact voided" if !recorded.is_empty() => {
                    let at = rng.next(recorded.len() as u64) as usize;
                    let (kind, id) = recorded[at].clone();
                    let content = if fact == "fact voided" {
                        recorded.remove(at);
                        None
                    } else {
                        // What a caseworker corrects: the day a child was
                        // born or a period began, an amount, a pause's kind,
                        // a decision's outcome (an appeal), a G's value.
                        let latest = app.payroll.fact(kind, &id).await.unwrap().content;
                        Some(match latest {
                            FactContent::Child { reference, .. } => FactContent::Child {
                                birth_date: day,
                                reference,
                            },
                            FactContent::SoleCarerPeriod { .. } => FactContent::SoleCarerPeriod {
                                from: day,
                                to: None,
                            },
                            FactContent::BenefitOffset { month, kind, .. } => {
                                FactContent::BenefitOffset {
                                    month,
                                    kind,
                                    amount: Decimal::new(rng.next(900_000) as i64, 2),
                                }
                            }
                            FactContent::Pause {
                                from,
                                to,
                                kind,
                                reference,
                            } => FactContent::Pause {
                                from,
                                to,
                                kind: match kind {
                                    PauseKind::Interrupted => PauseKind::Stopped,
                                    PauseKind::Stopped => PauseKind::Interrupted,
                                },
                                reference,
                            },
                            FactContent::SanctionDecision {
                                date,
                                entry_kind,
                                outcome,
                                reference,
                                reason,
                                deducted_hours,
                            } => FactContent::SanctionDecision {
                                date,
                                entry_kind,
                                outcome: match outcome {
                                    DecisionOutcome::Approved => DecisionOutcome::Rejected,
                                    _ => DecisionOutcome::Approved,
                                },
                                reference,
                                reason,
                                deducted_hours,
                            },
                            FactContent::RegisteredG { reference, .. } => {
                                FactContent::RegisteredG {
                                    value: Decimal::new(12_900_000 + rng.next(300_000) as i64, 2),
                                    reference,
                                }
                            }
                            other @ FactContent::Programme { .. } => other,
                        })
                    };
                    let correction = FactCorrection {
                        content,
                        reason: "late correction".into(),
                        precondition: Precondition::Existing,
                    };
                    app.payroll
                        .correct_fact(kind, &id, correction, &actor)
                        .await
                        .unwrap();
                    *changed.entry(fact).or_default() += 1;
                }
                _ => {}
            }
            app.grpc
                .close_period(pb::ClosePeriodRequest {
                    municipality_id: "0301".into(),
                    month: month.to_string(),
                })
                .await
                .unwrap();
            check_every_line(&app, participant, month, seed).await;
            month = month.next();
        }
        app.stop().await;
    }
    for fact in LATE_FACTS {
        assert!(sent.contains_key(fact), "no {fact} was sent: {sent:?}");
    }
    for fact in ["fact corrected", "fact voided"] {
        assert!(
            changed.contains_key(fact),
            "no {fact} was made: {changed:?}"
        );
    }
}
