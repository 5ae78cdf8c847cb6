//! Participant-months per second for a month with a realistic mix of entries:
//! a young parent with two children, a year of history (leave, self-certified
//! and certified sickness, a child's sickness), paid work, unexcused hours with
//! and without decisions, a timesheet gap, and another benefit.

#![allow(
    clippy::expect_used,
    reason = "a benchmark without its inputs cannot run"
)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kvp_rules::{
    AbsenceKind, Child, DateRange, DayEntry, Decision, Explain, MonthFacts, Offset, OffsetKind,
    Parameters, Participant, Policy, Programme, YearMonth, compute_month, compute_month_explained,
};
use rust_decimal::Decimal;
use time::macros::date;
use time::{Date, Duration, Month};

fn entry(date: Date, kind: AbsenceKind, hours: i64, decision: Option<Decision>) -> DayEntry {
    DayEntry {
        date,
        kind,
        hours: Decimal::new(hours, 1),
        decision,
    }
}

fn realistic_month() -> MonthFacts {
    let mut days = Vec::new();
    // A year of history: a leave week a quarter, a self-certified day a month,
    // a child's sick day every six weeks.
    let mut day = date!(2024 - 10 - 01);
    while day < date!(2025 - 10 - 01) {
        if day.day() == 10 && day.weekday() != time::Weekday::Saturday {
            days.push(entry(day, AbsenceKind::SickSelf, 75, None));
        }
        if day.ordinal() % 42 == 0 {
            days.push(entry(day, AbsenceKind::ChildSick, 75, None));
        }
        if day.ordinal() % 91 < 5 {
            days.push(entry(day, AbsenceKind::Leave, 75, None));
        }
        day += Duration::days(1);
    }
    // The month itself.
    days.extend([
        entry(date!(2025 - 10 - 02), AbsenceKind::PaidWork, 40, None),
        entry(
            date!(2025 - 10 - 03),
            AbsenceKind::Unexcused,
            30,
            Some(Decision::Approved),
        ),
        entry(date!(2025 - 10 - 07), AbsenceKind::Unexcused, 75, None),
        entry(date!(2025 - 10 - 08), AbsenceKind::SickSelf, 75, None),
        entry(date!(2025 - 10 - 09), AbsenceKind::SickSelf, 75, None),
        entry(date!(2025 - 10 - 14), AbsenceKind::Welfare, 35, None),
        entry(date!(2025 - 10 - 15), AbsenceKind::ApprovedUnpaid, 75, None),
        entry(date!(2025 - 10 - 16), AbsenceKind::ChildSick, 75, None),
        entry(date!(2025 - 10 - 20), AbsenceKind::SickCertified, 75, None),
        entry(date!(2025 - 10 - 21), AbsenceKind::SickCertified, 75, None),
        entry(date!(2025 - 10 - 22), AbsenceKind::PaidWork, 60, None),
        entry(
            date!(2025 - 10 - 22),
            AbsenceKind::Unexcused,
            30,
            Some(Decision::Approved),
        ),
    ]);
    MonthFacts {
        month: YearMonth::new(2025, Month::October),
        participant: Participant {
            birth_date: date!(2001 - 10 - 21),
            children: vec![
                Child {
                    birth_date: date!(2019 - 04 - 02),
                },
                Child {
                    birth_date: date!(2023 - 01 - 09),
                },
            ],
            sole_carer: vec![DateRange {
                from: date!(2024 - 01 - 01),
                to: None,
            }],
        },
        programmes: vec![Programme {
            start: date!(2024 - 09 - 02),
            end: Some(date!(2026 - 08 - 31)),
            pauses: Vec::new(),
        }],
        covered: vec![DateRange {
            from: date!(2025 - 10 - 01),
            to: Some(date!(2025 - 10 - 24)),
        }],
        days,
        offsets: vec![Offset {
            kind: OffsetKind::Dagpenger,
            amount: Decimal::new(150_000, 2),
        }],
    }
}

fn month_calculation(c: &mut Criterion) {
    let parameters = Parameters::shipped().expect("shipped parameters load");
    let policy = Policy::shipped().expect("shipped policy loads");
    let facts = realistic_month();
    let mut group = c.benchmark_group("month");
    group.throughput(Throughput::Elements(1));
    // As a month statement shows it: every line's details, day by day.
    group.bench_function("realistic_participant_month", |b| {
        b.iter(|| compute_month(std::hint::black_box(&facts), &parameters, &policy))
    });
    // As a close computes it: the lines' summaries, which the run's lines keep.
    group.bench_function("realistic_participant_month_for_close", |b| {
        b.iter(|| {
            compute_month_explained(
                std::hint::black_box(&facts),
                &parameters,
                &policy,
                Explain::Summaries,
            )
        })
    });
    group.finish();
}

criterion_group!(benches, month_calculation);
criterion_main!(benches);
