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
