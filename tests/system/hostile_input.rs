//! Hostile timesheet bodies, always run (the proptest side of a fuzz target
//! for the timesheet validator): whatever bytes arrive as a signed payload,
//! decoding them as a `TimesheetBody` answers a body or an error, and the
//! content checks answer a valid timesheet or field violations, never a
//! panic. What they accept keeps the promises the rest of ingestion relies on.

use kvp_payroll::ingest;
use kvp_proto::kvp::payroll::v1 as pb;
use kvp_store::{Participant, ParticipantFacts, Pause, PauseKind, Programme, ProgrammeWithPauses};
use proptest::prelude::*;
use prost::Message;
use rust_decimal::Decimal;
use time::macros::{date, datetime};
use time::{Date, Duration};
use uuid::Uuid;

/// Cases per property: quick enough for every CI run.
const CASES: u32 = 256;

const PARTICIPANT: Uuid = Uuid::from_u128(0x0192_f3c4_0000_7000_8000_0000_0000_0001);
const FIRST_DAY: Date = date!(2025 - 01 - 06);

/// A participant of Oslo in a programme through 2025 with an interruption in
/// April and a stop from November.
fn facts() -> ParticipantFacts {
    let programme = Uuid::from_u128(2);
    ParticipantFacts {
        participant: Participant {
            id: PARTICIPANT,
            municipality_id: "0301".into(),
            nin_lookup: vec![1; 32],
            nin_sealed: vec![2; 48],
            birth_date: date!(2001 - 05 - 17),
            display_name: "Kari Nordmann".into(),
            created_at: datetime!(2025-01-02 08:00 UTC),
        },
        children: Vec::new(),
        sole_carer_periods: Vec::new(),
        offsets: Vec::new(),
        programmes: vec![ProgrammeWithPauses {
            programme: Programme {
                id: programme,
                participant_id: PARTICIPANT,
                start: FIRST_DAY,
                end: Some(date!(2025 - 12 - 31)),
                decision_reference: "KVP-2025-0042".into(),
                decided_at: datetime!(2025-01-02 08:00 UTC),
                version: 1,
            },
            pauses: vec![
                Pause {
                    id: Uuid::from_u128(3),
                    programme_id: programme,
                    from: date!(2025 - 04 - 07),
                    to: Some(date!(2025 - 04 - 11)),
                    kind: PauseKind::Interrupted,
                    reference: "P-1".into(),
                },
                Pause {
                    id: Uuid::from_u128(4),
                    programme_id: programme,
                    from: date!(2025 - 11 - 03),
                    to: None,
                    kind: PauseKind::Stopped,
                    reference: "P-2".into(),
                },
            ],
        }],
        timesheets: Vec::new(),
        entries: Vec::new(),
        decisions: Vec::new(),
    }
}

fn date_text() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => (-30i64..400).prop_map(|d| (FIRST_DAY + Duration::days(d)).to_string()),
        1 => prop_oneof![
            Just("2025-02-29"),
            Just("2025-02-30"),
            Just("2025-13-01"),
            Just("0000-01-01"),
            Just("9999-12-31"),
            Just("-0001-01-01"),
            Just("+10000-01-01"),
            Just("2025-1-6"),
            Just(" 2025-01-06"),
            Just(""),
        ]
        .prop_map(str::to_owned),
        1 => any::<String>(),
    ]
}

fn hours_text() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => (0u32..=100).prop_map(|quarters| Decimal::new(i64::from(quarters) * 25, 2).to_string()),
        2 => prop_oneof![
            Just("24"),
            Just("24.00"),
            Just("24.25"),
            Just("0.1"),
            Just("-0"),
            Just("-0.25"),
            Just("1e1"),
            Just("NaN"),
            Just(" 7.5 "),
            Just("79228162514264337593543950335"),
            Just("79228162514264337593543950336"),
            Just("0.0000000000000000000000000001"),
            Just("7,5"),
            Just(""),
        ]
        .prop_map(str::to_owned),
        1 => any::<String>(),
    ]
}

fn entry() -> impl Strategy<Value = pb::DayEntry> {
    (
        date_text(),
        prop_oneof![4 => 0i32..12, 1 => any::<i32>()],
        hours_text(),
        prop_oneof![Just(String::new()), any::<String>()],
    )
        .prop_map(|(date, kind, hours, note)| pb::DayEntry {
            date,
            kind,
            hours,
            note,
        })
}

/// Either a plausible body (valid dates, known kinds, quarter hours, most of
/// it inside the programme), so that the checks of accepted bodies are
/// exercised, or a hostile one.
fn body() -> impl Strategy<Value = pb::TimesheetBody> {
    prop_oneof![plausible_body(), hostile_body()]
}

fn plausible_body() -> impl Strategy<Value = pb::TimesheetBody> {
    (
        0i64..360,
        0i64..70,
        prop::collection::vec((0i64..75, 1i32..=9, 0i64..=40, any::<bool>()), 0..6),
    )
        .prop_map(|(start, days, entries)| {
            let from = FIRST_DAY + Duration::days(start);
            let to = from + Duration::days(days);
            let entries = entries
                .into_iter()
                .map(|(day, kind, quarters, noted)| {
                    let mut date = from + Duration::days(day.min(days + 1));
                    // Weekend days would only be refused: move them to Friday.
                    while !kvp_rules::calendar::is_weekday(date) {
                        date -= Duration::days(1);
                    }
                    pb::DayEntry {
                        date: date.to_string(),
                        kind,
                        hours: Decimal::new(quarters * 25, 2).to_string(),
                        note: if noted { "note".into() } else { String::new() },
                    }
                })
                .collect();
            pb::TimesheetBody {
                participant_id: PARTICIPANT.to_string(),
                municipality_id: "0301".into(),
                period: Some(pb::DateRange {
                    from_date: from.to_string(),
                    to_date: to.to_string(),
                }),
                supersedes_timesheet_id: String::new(),
                entries,
                issued_at: None,
                client_reference: "ref".into(),
            }
        })
}

fn hostile_body() -> impl Strategy<Value = pb::TimesheetBody> {
    (
        prop_oneof![4 => Just(PARTICIPANT.to_string()), 1 => any::<String>()],
        prop_oneof![4 => Just("0301".to_owned()), 1 => any::<String>()],
        prop::option::of((date_text(), date_text())),
        prop_oneof![
            3 => Just(String::new()),
            1 => Just(Uuid::from_u128(9).to_string()),
            1 => any::<String>(),
        ],
        prop::collection::vec(entry(), 0..40),
        any::<String>(),
    )
        .prop_map(
            |(participant_id, municipality_id, period, supersedes, entries, client_reference)| {
                pb::TimesheetBody {
                    participant_id,
                    municipality_id,
                    period: period.map(|(from_date, to_date)| pb::DateRange { from_date, to_date }),
                    supersedes_timesheet_id: supersedes,
                    entries,
                    issued_at: None,
                    client_reference,
                }
            },
        )
}

/// Validates a decoded body and checks what an accepted one promises.
fn validate_and_check(body: &pb::TimesheetBody, facts: &ParticipantFacts) {
    let _ = ingest::participant_id(body);
    let Ok(valid) = ingest::validate(body, facts) else {
        return;
    };
    assert!(valid.from <= valid.to);
    assert!(valid.to - valid.from < Duration::days(62));
    assert_eq!(valid.municipality_id, facts.participant.municipality_id);
    let mut per_day: std::collections::BTreeMap<Date, Decimal> = Default::default();
    for (date, _, hours, _) in &valid.entries {
        assert!(valid.from <= *date && *date <= valid.to, "{date}");
        assert!(
            *hours >= Decimal::ZERO && *hours <= Decimal::from(24),
            "{hours}"
        );
        assert!((*hours * Decimal::from(4)).fract().is_zero(), "{hours}");
        *per_day.entry(*date).or_default() += *hours;
    }
    assert!(per_day.values().all(|total| *total <= Decimal::from(24)));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn any_bytes_as_a_timesheet_body_decode_and_validate_or_fail(
        bytes in prop::collection::vec(any::<u8>(), 0..512)
    ) {
        let facts = facts();
        if let Ok(body) = pb::TimesheetBody::decode(bytes.as_slice()) {
            validate_and_check(&body, &facts);
        }
    }

    #[test]
    fn a_hostile_timesheet_body_is_accepted_only_within_the_rules(body in body()) {
        let facts = facts();
        let decoded = pb::TimesheetBody::decode(body.encode_to_vec().as_slice()).unwrap();
        prop_assert_eq!(&decoded, &body);
        validate_and_check(&decoded, &facts);
    }

    #[test]
    fn a_damaged_encoding_of_a_body_decodes_and_validates_or_fails(
        body in body(),
        damage in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let facts = facts();
        let mut bytes = body.encode_to_vec();
        if !bytes.is_empty() {
            for (at, byte) in &damage {
                let i = at.index(bytes.len());
                bytes[i] = *byte;
            }
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        if let Ok(body) = pb::TimesheetBody::decode(bytes.as_slice()) {
            validate_and_check(&body, &facts);
        }
    }
}
