//! Accepting timesheets: idempotency, overlap, corrections, atomicity, races.

use kvp_rules::AbsenceKind;
use std::sync::Arc;

use kvp_store::{
    AcceptOutcome, DayEntry, NewTimesheet, Repository, StoreError, Timesheet, TimesheetStatus,
};
use serde_json::json;
use time::macros::date;
use time::{Date, Duration};
use tokio::sync::Barrier;
use uuid::Uuid;

use crate::support::{correction_of, dec, given_participant, participant_of, timesheet_for};

async fn accept(store: &Arc<dyn Repository>, new: &NewTimesheet) -> Timesheet {
    match store.accept_timesheet(new).await {
        Ok(AcceptOutcome::Accepted(timesheet)) => timesheet,
        other => panic!("expected the timesheet to be accepted, got {other:?}"),
    }
}

/// Asserts that nothing of `new` reached the database.
async fn assert_not_stored(store: &Arc<dyn Repository>, new: &NewTimesheet) {
    let id = new.timesheet.id;
    assert!(matches!(
        store.get_timesheet(id).await,
        Err(StoreError::NotFound {
            entity: "timesheet",
            ..
        })
    ));
    assert!(store.list_day_entries(id).await.unwrap().is_empty());
    assert!(
        store
            .list_audit("timesheet", &id.to_string())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .find_timesheet_by_digest(&new.timesheet.digest)
            .await
            .unwrap(),
        None
    );
}

fn ids(timesheets: &[Timesheet]) -> Vec<Uuid> {
    timesheets.iter().map(|t| t.id).collect()
}

pub async fn a_timesheet_is_accepted_with_its_entries_and_audit_entry(store: Arc<dyn Repository>) {
    let participant = given_participant(&store).await;
    let new = timesheet_for(&participant, date!(2025 - 03 - 03), date!(2025 - 03 - 07));

    let accepted = accept(&store, &new).await;

    assert_eq!(accepted, new.timesheet);
    assert_eq!(
        store.get_timesheet(new.timesheet.id).await.unwrap(),
        new.timesheet
    );
    assert_eq!(
        store
            .find_timesheet_by_digest(&new.timesheet.digest)
            .await
            .unwrap(),
        Some(new.timesheet.clone())
    );
    assert_eq!(
        store.list_current_timesheets(participant.id).await.unwrap(),
        vec![new.timesheet.clone()]
    );
    assert_eq!(
        store.list_day_entries(new.timesheet.id).await.unwrap(),
        new.entries
    );
    let trail = store
        .list_audit("timesheet", &new.timesheet.id.to_string())
        .await
        .unwrap();
    assert_eq!(trail.len(), 1);
    assert_eq!(trail[0].action, "timesheet.accepted");
    assert_eq!(trail[0].actor, "client:0301");
}

pub async fn a_duplicate_digest_returns_the_stored_timesheet_and_writes_nothing(
    store: Arc<dyn Repository>,
) {
    let participant = given_participant(&store).await;
    let original = timesheet_for(&participant, date!(2025 - 03 - 03), date!(2025 - 03 - 07));
    accept(&store, &original).await;

    // The same payload again, with other signatures around it: another
    // envelope, a fresh id, and an assessment computed anew.
    let mut retry = timesheet_for(&participant, date!(2025 - 03 - 03), date!(2025 - 03 - 07));
    retry.timesheet.digest = original.timesheet.digest.clone();
    retry.timesheet.envelope = b"same payload, one more signature".to_vec();
    retry.timesheet.assessment = json!({ "recomputed": true });

    let outcome = store.accept_timesheet(&retry).await.unwrap();

    assert_eq!(
        outcome,
        AcceptOutcome::Duplicate(original.timesheet.clone())
    );
    assert_eq!(
        store.accept_timesheet(&original).await.unwrap(),
        AcceptOutcome::Duplicate(original.timesheet.clone())
    );
    assert!(matches!(
        store.get_timesheet(retry.timesheet.id).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(
        store
            .list_day_entries(retry.timesheet.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .list_audit("timesheet", &retry.timesheet.id.to_string())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        ids(&store.list_current_timesheets(participant.id).await.unwrap()),
        [original.timesheet.id]
    );
    assert_eq!(
        store
            .list_day_entries(original.timesheet.id)
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        store
            .list_audit("timesheet", &original.timesheet.id.to_string())
            .await
            .unwrap()
            .len(),
        1
    );
}

pub async fn overlapping_timesheets_are_refused_and_nothing_is_stored(store: Arc<dyn Repository>) {
    let participant = given_participant(&store).await;
    let first = timesheet_for(&participant, date!(2025 - 03 - 03), date!(2025 - 03 - 07));
    accept(&store, &first).await;

    let overlapping: [(Date, Date); 4] = [
        (date!(2025 - 03 - 07), date!(2025 - 03 - 14)), // shares the last day
        (date!(2025 - 02 - 24), date!(2025 - 03 - 03)), // shares the first day
        (date!(2025 - 03 - 04), date!(2025 - 03 - 05)), // inside
        (date!(2025 - 03 - 01), date!(2025 - 03 - 31)), // around
    ];
    for (from, to) in overlapping {
        let attempt = timesheet_for(&participant, from, to);
        let err = store.accept_timesheet(&attempt).await.unwrap_err();
        assert!(
            matches!(err, StoreError::Overlap { existing } if existing == first.timesheet.id),
            "{from}..{to}: {err:?}"
        );
        assert_not_stored(&store, &attempt).await;
    }

    assert_eq!(
        ids(&store.list_current_timesheets(participant.id).await.unwrap()),
        [first.timesheet.id]
    );
    assert_eq!(
        store.list_day_entries(first.timesheet.id).await.unwrap(),
        first.entries
    );
}

pub async fn adjacent_timesheets_and_other_participants_do_not_overlap(store: Arc<dyn Repository>) {
    let participant = given_participant(&store).await;
    let week_one = timesheet_for(&participant, date!(2025 - 03 - 03), date!(2025 - 03 - 09));
    let week_two = timesheet_for(&participant, date!(2025 - 03 - 10), date!(2025 - 03 - 16));
    let someone_else = participant_of("0301");
    store
        .create_participant(
            &someone_else,
            &crate::support::audit("participant.created", "participant", someone_else.id),
        )
        .await
        .unwrap();
    let their_week = timesheet_for(&someone_else, date!(2025 - 03 - 03), date!(2025 - 03 - 09));

    accept(&store, &week_two).await;
    accept(&store, &week_one).await;
    accept(&store, &their_week).await;

    assert_eq!(
        ids(&store.list_current_timesheets(participant.id).await.unwrap()),
        [week_one.timesheet.id, week_two.timesheet.id]
    );
    assert_eq!(
        ids(&store
            .list_current_timesheets(someone_else.id)
            .await
            .unwrap()),
        [their_week.timesheet.id]
    );
}

pub async fn a_correction_supersedes_and_bumps_the_version(store: Arc<dyn Repository>) {
    let participant = given_participant(&store).await;
    let original = accept(
        &store,
        &timesheet_for(&participant, date!(2025 - 03 - 03), date!(2025 - 03 - 07)),
    )
    .await;

    // Same period: it overlaps only the timesheet it supersedes.
    let second = correction_of(
        &original,
        &participant,
        date!(2025 - 03 - 03),
        date!(2025 - 03 - 07),
    );
    let corrected = accept(&store, &second).await;
    assert_eq!(corrected.version, 2);
    assert_eq!(corrected.supersedes, Some(original.id));
    assert_eq!(corrected.status, TimesheetStatus::Accepted);
    assert_eq!(
        store.get_timesheet(original.id).await.unwrap(),
        Timesheet {
            status: TimesheetStatus::Superseded,
            ..original.clone()
        }
    );

    // A correction may also widen the period.
    let third = correction_of(
        &corrected,
        &participant,
        date!(2025 - 03 - 03),
        date!(2025 - 03 - 14),
    );
    let widened = accept(&store, &third).await;
    assert_eq!(widened.version, 3);
    assert_eq!(widened.supersedes, Some(corrected.id));

    assert_eq!(
        ids(&store.list_current_timesheets(participant.id).await.unwrap()),
        [widened.id]
    );
    assert_eq!(
        store.get_timesheet(corrected.id).await.unwrap().status,
        TimesheetStatus::Superseded
    );
    // Entries of superseded timesheets stay stored, for the record.
    assert_eq!(store.list_day_entries(original.id).await.unwrap().len(), 2);
}

pub async fn a_superseded_timesheet_cannot_be_superseded_again(store: Arc<dyn Repository>) {
    let participant = given_participant(&store).await;
    let original = accept(
        &store,
        &timesheet_for(&participant, date!(2025 - 03 - 03), date!(2025 - 03 - 07)),
    )
    .await;
    let winner = accept(
        &store,
        &correction_of(
            &original,
            &participant,
            date!(2025 - 03 - 03),
            date!(2025 - 03 - 07),
        ),
    )
    .await;

    let late = correction_of(
        &original,
        &participant,
        date!(2025 - 03 - 03),
        date!(2025 - 03 - 07),
    );
    let err = store.accept_timesheet(&late).await.unwrap_err();

    assert!(matches!(err, StoreError::InvalidState { .. }), "{err:?}");
    assert_not_stored(&store, &late).await;
    assert_eq!(
        ids(&store.list_current_timesheets(participant.id).await.unwrap()),
        [winner.id]
    );
}

pub async fn a_correction_must_carry_the_next_version(store: Arc<dyn Repository>) {
    let participant = given_participant(&store).await;
    let original = accept(
        &store,
        &timesheet_for(&participant, date!(2025 - 03 - 03), date!(2025 - 03 - 07)),
    )
    .await;
    let mut skipping = correction_of(
        &original,
        &participant,
        date!(2025 - 03 - 03),
        date!(2025 - 03 - 07),
    );
    skipping.timesheet.version = 3;

    let err = store.accept_timesheet(&skipping).await.unwrap_err();

    assert!(matches!(err, StoreError::InvalidInput { .. }), "{err:?}");
    assert_not_stored(&store, &skipping).await;
    assert_eq!(
        store.get_timesheet(original.id).await.unwrap().status,
        TimesheetStatus::Accepted
    );
}

pub async fn a_correction_of_another_participants_timesheet_is_refused(store: Arc<dyn Repository>) {
    let participant = given_participant(&store).await;
    let original = accept(
        &store,
        &timesheet_for(&participant, date!(2025 - 03 - 03), date!(2025 - 03 - 07)),
    )
    .await;
    let other = participant_of("0301");
    store
        .create_participant(
            &other,
            &crate::support::audit("participant.created", "participant", other.id),
        )
        .await
        .unwrap();
    let foreign = correction_of(
        &original,
        &other,
        date!(2025 - 03 - 03),
        date!(2025 - 03 - 07),
    );

    let err = store.accept_timesheet(&foreign).await.unwrap_err();

    assert!(matches!(err, StoreError::InvalidState { .. }), "{err:?}");
    assert_not_stored(&store, &foreign).await;
    assert_eq!(
        store.get_timesheet(original.id).await.unwrap().status,
        TimesheetStatus::Accepted
    );
}

pub async fn a_correction_of_an_unknown_timesheet_is_not_found(store: Arc<dyn Repository>) {
    let participant = given_participant(&store).await;
    let mut orphan = timesheet_for(&participant, date!(2025 - 03 - 03), date!(2025 - 03 - 07));
    let unknown = Uuid::now_v7();
    orphan.timesheet.supersedes = Some(unknown);
    orphan.timesheet.version = 2;

    let err = store.accept_timesheet(&orphan).await.unwrap_err();

    assert!(
        matches!(&err, StoreError::NotFound { entity: "timesheet", id } if *id == unknown.to_string()),
        "{err:?}"
    );
    assert_not_stored(&store, &orphan).await;
}

pub async fn a_timesheet_for_an_unknown_participant_is_not_found(store: Arc<dyn Repository>) {
    given_participant(&store).await;
    let stranger = participant_of("0301");
    let new = timesheet_for(&stranger, date!(2025 - 03 - 03), date!(2025 - 03 - 07));

    let err = store.accept_timesheet(&new).await.unwrap_err();

    assert!(
        matches!(
            err,
            StoreError::NotFound {
                entity: "participant",
                ..
            }
        ),
        "{err:?}"
    );
    assert_not_stored(&store, &new).await;
}

pub async fn an_entry_outside_the_period_or_of_another_timesheet_is_refused(
    store: Arc<dyn Repository>,
) {
    let participant = given_participant(&store).await;
    let mut outside = timesheet_for(&participant, date!(2025 - 03 - 03), date!(2025 - 03 - 07));
    outside.entries[1].date = date!(2025 - 03 - 08);
    let mut foreign = timesheet_for(&participant, date!(2025 - 03 - 03), date!(2025 - 03 - 07));
    foreign.entries[0].timesheet_id = Uuid::now_v7();

    for new in [outside, foreign] {
        let err = store.accept_timesheet(&new).await.unwrap_err();
        assert!(matches!(err, StoreError::InvalidInput { .. }), "{err:?}");
        assert_not_stored(&store, &new).await;
    }
}

pub async fn a_failure_after_the_first_writes_leaves_nothing_half_stored(
    store: Arc<dyn Repository>,
) {
    let participant = given_participant(&store).await;
    let original = accept(
        &store,
        &timesheet_for(&participant, date!(2025 - 03 - 03), date!(2025 - 03 - 07)),
    )
    .await;
    // The second entry repeats the first one's day and position: the database
    // refuses it only after the superseded timesheet was marked and the new
    // timesheet and first entry were inserted.
    let mut broken = correction_of(
        &original,
        &participant,
        date!(2025 - 03 - 03),
        date!(2025 - 03 - 07),
    );
    let repeated = broken.entries[0].clone();
    broken.entries.push(repeated);

    let err = store.accept_timesheet(&broken).await.unwrap_err();

    assert!(matches!(err, StoreError::InvalidInput { .. }), "{err:?}");
    assert_not_stored(&store, &broken).await;
    assert_eq!(store.get_timesheet(original.id).await.unwrap(), original);
    assert_eq!(
        ids(&store.list_current_timesheets(participant.id).await.unwrap()),
        [original.id]
    );
}

pub async fn decimals_round_trip_exactly(store: Arc<dyn Repository>) {
    let participant = given_participant(&store).await;
    let mut new = timesheet_for(&participant, date!(2025 - 03 - 03), date!(2025 - 03 - 07));
    let hours = ["7.25", "1234.56", "7.50", "0.25", "0"];
    new.entries = hours
        .iter()
        .zip(0..)
        .map(|(text, seq)| DayEntry {
            timesheet_id: new.timesheet.id,
            participant_id: participant.id,
            date: date!(2025 - 03 - 04),
            seq,
            kind: AbsenceKind::PaidWork,
            hours: dec(text),
            note: None,
        })
        .collect();
    accept(&store, &new).await;

    let stored = store.list_day_entries(new.timesheet.id).await.unwrap();

    let stored_hours: Vec<String> = stored.iter().map(|e| e.hours.to_string()).collect();
    assert_eq!(stored_hours, hours);
    assert_eq!(stored, new.entries);
    let amount = &store
        .get_timesheet(new.timesheet.id)
        .await
        .unwrap()
        .assessment["proposed_deductions"][0]["amount"];
    assert_eq!(amount.to_string(), "1234.56");
}

pub async fn the_envelope_comes_back_byte_for_byte(store: Arc<dyn Repository>) {
    let participant = given_participant(&store).await;
    let mut new = timesheet_for(&participant, date!(2025 - 03 - 03), date!(2025 - 03 - 07));
    new.timesheet.envelope = (0..=255u8).chain([0, 0, 255]).collect();
    accept(&store, &new).await;

    let stored = store.get_timesheet(new.timesheet.id).await.unwrap();

    assert_eq!(stored.envelope, new.timesheet.envelope);
    assert_eq!(stored.assessment, new.timesheet.assessment);
}

pub async fn concurrent_overlapping_accepts_let_exactly_one_win(store: Arc<dyn Repository>) {
    const CONTENDERS: usize = 6;
    let participant = given_participant(&store).await;
    // Every pair of these periods overlaps on 2025-03-14.
    let contenders = (0..CONTENDERS)
        .map(|i| {
            let offset = Duration::days(i64::try_from(i).unwrap());
            timesheet_for(
                &participant,
                date!(2025 - 03 - 03) + offset,
                date!(2025 - 03 - 14) + offset,
            )
        })
        .collect();
    let results = accept_together(&store, contenders).await;

    let winners: Vec<Uuid> = results
        .iter()
        .filter_map(|(_, outcome)| match outcome {
            Ok(AcceptOutcome::Accepted(t)) => Some(t.id),
            _ => None,
        })
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for (new, outcome) in &results {
        if new.timesheet.id != winners[0] {
            assert!(
                matches!(outcome, Err(StoreError::Overlap { existing }) if *existing == winners[0]),
                "{outcome:?}"
            );
            assert_not_stored(&store, new).await;
        }
    }
    assert_eq!(
        ids(&store.list_current_timesheets(participant.id).await.unwrap()),
        winners
    );
}

pub async fn concurrent_submissions_of_one_timesheet_store_it_once(store: Arc<dyn Repository>) {
    const RETRIES: usize = 6;
    let participant = given_participant(&store).await;
    let new = timesheet_for(&participant, date!(2025 - 03 - 03), date!(2025 - 03 - 07));
    let start = Arc::new(Barrier::new(RETRIES));
    let mut tasks = Vec::new();
    for _ in 0..RETRIES {
        let (store, start, new) = (store.clone(), start.clone(), new.clone());
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            store.accept_timesheet(&new).await.unwrap()
        }));
    }
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }

    let accepted = outcomes
        .iter()
        .filter(|o| **o == AcceptOutcome::Accepted(new.timesheet.clone()))
        .count();
    let duplicates = outcomes
        .iter()
        .filter(|o| **o == AcceptOutcome::Duplicate(new.timesheet.clone()))
        .count();
    assert_eq!((accepted, duplicates), (1, RETRIES - 1));
    assert_eq!(
        store
            .list_day_entries(new.timesheet.id)
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        store
            .list_audit("timesheet", &new.timesheet.id.to_string())
            .await
            .unwrap()
            .len(),
        1
    );
}

pub async fn concurrent_corrections_of_one_timesheet_let_exactly_one_win(
    store: Arc<dyn Repository>,
) {
    const CONTENDERS: usize = 4;
    let participant = given_participant(&store).await;
    let original = accept(
        &store,
        &timesheet_for(&participant, date!(2025 - 03 - 03), date!(2025 - 03 - 07)),
    )
    .await;
    let start = Arc::new(Barrier::new(CONTENDERS));
    let mut tasks = Vec::new();
    for _ in 0..CONTENDERS {
        let new = correction_of(
            &original,
            &participant,
            date!(2025 - 03 - 03),
            date!(2025 - 03 - 07),
        );
        let (store, start) = (store.clone(), start.clone());
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            store.accept_timesheet(&new).await
        }));
    }
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }

    let winners: Vec<Uuid> = outcomes
        .iter()
        .filter_map(|o| match o {
            Ok(AcceptOutcome::Accepted(t)) => Some(t.id),
            _ => None,
        })
        .collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    let refused = outcomes
        .iter()
        .filter(|o| matches!(o, Err(StoreError::InvalidState { .. })))
        .count();
    assert_eq!(refused, CONTENDERS - 1, "{outcomes:?}");
    assert_eq!(
        ids(&store.list_current_timesheets(participant.id).await.unwrap()),
        winners
    );
}

/// Submissions of many participants arriving together: each is checked on
/// its own, a refused one leaves the others, and each accepted one is its
/// own link of an unbroken audit chain.
pub async fn concurrent_submissions_of_many_participants_are_each_stored_or_refused_alone(
    store: Arc<dyn Repository>,
) {
    const PARTICIPANTS: usize = 8;
    let mut submissions = Vec::new();
    for _ in 0..PARTICIPANTS {
        let participant = given_participant(&store).await;
        // Two overlapping periods each: exactly one of the two is stored.
        for (from, to) in [
            (date!(2025 - 03 - 03), date!(2025 - 03 - 14)),
            (date!(2025 - 03 - 10), date!(2025 - 03 - 21)),
        ] {
            submissions.push(timesheet_for(&participant, from, to));
        }
    }
    let audit_before = store.verify_audit_chain().await.unwrap().entries;
    let results = accept_together(&store, submissions).await;

    let mut accepted = 0;
    for (new, outcome) in &results {
        match outcome {
            Ok(AcceptOutcome::Accepted(stored)) => {
                accepted += 1;
                assert_eq!(stored, &new.timesheet);
                assert_eq!(store.get_timesheet(stored.id).await.unwrap(), new.timesheet);
                let audit = store
                    .list_audit("timesheet", &stored.id.to_string())
                    .await
                    .unwrap();
                assert_eq!(audit.len(), 1, "{audit:?}");
            }
            Err(StoreError::Overlap { existing }) => {
                let winner = results
                    .iter()
                    .find(|(other, _)| other.timesheet.id == *existing)
                    .map(|(other, _)| other);
                assert_eq!(
                    winner.map(|w| w.timesheet.participant_id),
                    Some(new.timesheet.participant_id),
                    "refused for another participant's timesheet"
                );
                assert_not_stored(&store, new).await;
            }
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!(accepted, PARTICIPANTS, "{results:?}");
    let verification = store.verify_audit_chain().await.unwrap();
    assert!(verification.is_intact(), "{verification:?}");
    assert_eq!(verification.entries, audit_before + PARTICIPANTS as u64);
}

/// Submits every timesheet at once, each from a task of its own released
/// together, and returns each with its outcome.
async fn accept_together(
    store: &Arc<dyn Repository>,
    submissions: Vec<NewTimesheet>,
) -> Vec<(NewTimesheet, Result<AcceptOutcome, StoreError>)> {
    let start = Arc::new(Barrier::new(submissions.len()));
    let mut tasks = Vec::new();
    for new in submissions {
        let (store, start) = (store.clone(), start.clone());
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            let outcome = store.accept_timesheet(&new).await;
            (new, outcome)
        }));
    }
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    results
}
