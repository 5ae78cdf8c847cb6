//! The store's one conformance suite.
//!
//! Every suite function takes an `Arc<dyn Repository>` and knows nothing of
//! the backend. `conformance!` instantiates each one twice: `sqlite::name`
//! on a fresh temporary file (always), and `postgres::name` on a fresh,
//! uniquely named database that is dropped afterwards, when
//! `KVP_TEST_DATABASE_URL` names a PostgreSQL server (for example
//! `postgres://postgres@127.0.0.1:5432/postgres`). With the variable set, an
//! unreachable server fails the tests; they are never skipped.

// clippy.toml allows unwrap in `#[test]` functions; the suite functions are
// plain async functions that the generated tests call, and a panic in them is
// the same failed assertion.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is a failed assertion"
)]

mod audit_chain;
mod close_session;
mod decisions;
mod facts;
mod idempotency;
mod ledger;
mod municipalities;
mod outbox;
mod participants;
mod pay_runs;
mod programmes;
mod signer_keys;
mod store;
mod support;
mod timesheets;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use kvp_store::{Backend, StoreError};

macro_rules! conformance {
    ($($module:ident :: $test:ident),+ $(,)?) => {
        /// The suite on SQLite.
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    crate::support::on_sqlite(crate::$module::$test).await;
                }
            )+
        }

        /// The suite on PostgreSQL (when `KVP_TEST_DATABASE_URL` is set).
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    crate::support::on_postgres(crate::$module::$test).await;
                }
            )+
        }
    };
}

conformance! {
    idempotency::a_key_is_claimed_with_its_change_and_keeps_the_answer,
    idempotency::a_request_that_changes_nothing_claims_its_key_with_its_answer,
    idempotency::keys_older_than_the_retention_are_purged,
    idempotency::a_second_benefit_for_the_month_and_kind_is_a_duplicate_naming_the_first,
    idempotency::a_child_born_the_same_day_needs_a_reference_or_a_confirmation,
    store::a_migrated_store_has_no_pending_migration,
    store::an_audit_entry_keeps_who_what_when_and_its_details,
    municipalities::a_municipality_is_upserted_and_read_back,
    municipalities::municipalities_are_listed_by_number,
    municipalities::an_unknown_municipality_is_not_found,
    municipalities::a_change_expecting_another_version_is_refused_and_writes_nothing,
    participants::a_participant_is_created_and_found_by_id_and_by_nin_lookup,
    participants::a_second_participant_with_the_same_nin_lookup_is_a_conflict_and_leaves_no_trace,
    participants::a_participant_of_an_unknown_municipality_is_not_found,
    participants::instants_round_trip_to_the_microsecond_whatever_their_offset,
    participants::children_sole_carer_periods_and_offsets_are_stored_and_listed_in_order,
    participants::an_offset_month_must_be_given_as_its_first_day,
    participants::a_sole_carer_period_cannot_end_before_it_starts,
    participants::facts_about_an_unknown_participant_are_refused,
    programmes::a_programme_is_created_ended_and_paused,
    programmes::a_participants_programmes_never_overlap,
    programmes::programmes_are_listed_by_start_and_an_end_can_be_cleared,
    programmes::a_programme_cannot_end_before_it_starts,
    programmes::ending_or_pausing_an_unknown_programme_is_not_found,
    signer_keys::a_signer_key_is_registered_and_read_back,
    signer_keys::registering_a_taken_keyid_is_a_conflict,
    signer_keys::a_national_supervisor_key_is_assigned_to_a_municipality_once,
    signer_keys::a_key_of_an_unknown_participant_is_not_found,
    signer_keys::a_public_key_must_be_32_bytes,
    signer_keys::revoking_a_key_records_when_and_why_and_leaves_timesheets_alone,
    signer_keys::revoking_twice_is_refused,
    signer_keys::revoking_an_unknown_key_is_not_found,
    timesheets::a_timesheet_is_accepted_with_its_entries_and_audit_entry,
    timesheets::a_duplicate_digest_returns_the_stored_timesheet_and_writes_nothing,
    timesheets::overlapping_timesheets_are_refused_and_nothing_is_stored,
    timesheets::adjacent_timesheets_and_other_participants_do_not_overlap,
    timesheets::a_correction_supersedes_and_bumps_the_version,
    timesheets::a_superseded_timesheet_cannot_be_superseded_again,
    timesheets::a_correction_must_carry_the_next_version,
    timesheets::a_correction_of_another_participants_timesheet_is_refused,
    timesheets::a_correction_of_an_unknown_timesheet_is_not_found,
    timesheets::a_timesheet_for_an_unknown_participant_is_not_found,
    timesheets::an_entry_outside_the_period_or_of_another_timesheet_is_refused,
    timesheets::a_failure_after_the_first_writes_leaves_nothing_half_stored,
    timesheets::decimals_round_trip_exactly,
    timesheets::the_envelope_comes_back_byte_for_byte,
    timesheets::concurrent_overlapping_accepts_let_exactly_one_win,
    timesheets::concurrent_submissions_of_one_timesheet_store_it_once,
    timesheets::concurrent_corrections_of_one_timesheet_let_exactly_one_win,
    timesheets::concurrent_submissions_of_many_participants_are_each_stored_or_refused_alone,
    decisions::a_sanction_decision_is_recorded_with_its_audit_entry,
    decisions::a_second_decision_for_the_same_day_and_kind_is_a_conflict,
    decisions::a_decision_for_an_unknown_participant_is_not_found,
    decisions::a_warning_is_kept_with_its_days_and_hours,
    decisions::an_upheld_appeal_is_the_decisions_next_version_written_with_it,
    facts::participant_facts_gather_everything_the_rules_engine_needs,
    facts::facts_of_an_unknown_participant_are_not_found,
    pay_runs::a_run_is_closed_with_its_lines_events_and_audit_entry,
    pay_runs::runs_are_listed_by_month_per_municipality,
    pay_runs::closing_a_month_again_returns_the_existing_run_and_writes_nothing,
    pay_runs::concurrent_closes_of_one_month_yield_one_run_and_one_set_of_lines,
    pay_runs::pay_lines_stream_in_pages_in_participant_and_seq_order,
    pay_runs::a_run_that_does_not_add_up_is_refused_and_nothing_is_stored,
    pay_runs::a_failure_after_the_first_writes_leaves_no_run,
    pay_runs::a_run_of_an_unknown_municipality_is_not_found,
    pay_runs::a_month_without_lines_closes_as_an_empty_run,
    pay_runs::pay_line_decimals_round_trip_exactly,
    close_session::a_session_reads_every_participant_in_chunks_as_participant_facts_has_them,
    close_session::a_session_writes_its_run_lines_events_audit_and_basis_together,
    close_session::a_month_closed_before_is_answered_and_nothing_is_held,
    close_session::lines_or_totals_that_do_not_add_up_are_refused_and_nothing_is_stored,
    close_session::a_second_close_of_the_municipality_waits_for_the_first_and_finds_its_run,
    close_session::a_change_to_any_fact_moves_the_mark_back_to_the_first_month_it_reaches,
    close_session::a_mark_moved_on_during_a_close_is_left_for_the_next_close,
    close_session::a_chunks_ledger_starts_at_the_earlier_of_the_mark_and_the_floor,
    close_session::a_runs_lines_are_summed_per_code_and_month_in_one_query,
    close_session::a_close_records_its_held_participants_and_moves_their_marks_back_never_forward,
    close_session::holds_that_do_not_fit_the_run_are_refused_and_nothing_is_stored,
    ledger::the_ledger_sums_lines_over_runs_and_leaves_out_failed_payslips,
    ledger::the_ledger_sums_quantities_exactly_and_none_where_a_line_has_none,
    ledger::a_confirmation_moves_the_run_from_closed_to_confirmed,
    ledger::confirming_again_is_idempotent_and_other_values_conflict,
    ledger::a_confirmation_needs_the_run_and_the_participants_lines,
    ledger::concurrent_confirmations_of_a_run_leave_it_confirmed,
    ledger::confirmation_decimals_round_trip_exactly,
    outbox::registered_g_values_are_listed_by_date_and_one_per_date,
    outbox::claimed_events_come_in_creation_order_with_their_fields,
    outbox::an_expired_lease_makes_an_event_claimable_again,
    outbox::delivered_events_are_never_claimed_again,
    outbox::a_failed_delivery_counts_the_attempt_and_waits_for_the_retry,
    outbox::concurrent_claimers_never_get_the_same_event,
    outbox::events_are_written_with_timesheets_and_decisions,
    outbox::events_of_a_refused_timesheet_are_rolled_back_with_it,
    audit_chain::an_empty_audit_log_verifies,
    audit_chain::the_audit_chain_verifies_after_a_mix_of_operations,
    audit_chain::concurrent_audited_writes_never_fork_the_chain,
    audit_chain::changing_an_entrys_details_is_detected_at_that_entry,
    audit_chain::changing_who_or_when_is_detected_at_that_entry,
    audit_chain::deleting_a_middle_entry_is_detected_at_the_missing_entry,
    audit_chain::renumbering_after_a_delete_is_detected_by_the_broken_link,
    audit_chain::the_audit_log_refuses_updates_and_deletes,
    audit_chain::entries_from_before_the_chain_are_chained_when_the_store_opens,
    audit_chain::an_entry_without_a_link_after_the_chain_began_is_a_break,
}

// --- which backend ran, and connecting ---

#[tokio::test]
async fn the_sqlite_instantiation_runs_on_sqlite() {
    let ran = Arc::new(AtomicBool::new(false));
    let seen = ran.clone();
    support::on_sqlite(move |store| async move {
        assert_eq!(store.backend(), Backend::Sqlite);
        seen.store(true, Ordering::SeqCst);
    })
    .await;
    assert!(ran.load(Ordering::SeqCst));
}

#[tokio::test]
async fn the_postgres_instantiation_runs_on_postgres_exactly_when_the_url_is_set() {
    let ran = Arc::new(AtomicBool::new(false));
    let seen = ran.clone();
    support::on_postgres(move |store| async move {
        assert_eq!(store.backend(), Backend::Postgres);
        seen.store(true, Ordering::SeqCst);
    })
    .await;
    assert_eq!(
        ran.load(Ordering::SeqCst),
        support::postgres_url().is_some()
    );
}

#[tokio::test]
async fn connecting_creates_the_directory_of_a_new_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("data").join("nested").join("kvp.db");
    let url = format!("sqlite://{}?mode=rwc", file.display());

    let store = kvp_store::connect(&url).await.unwrap();

    assert_eq!(
        store.pending_migrations().await.unwrap(),
        Vec::<String>::new()
    );
    assert!(file.exists());
    store.close().await;

    // Opening it again finds the migrations applied and the data kept.
    let reopened = kvp_store::connect(&url).await.unwrap();
    assert!(reopened.list_municipalities().await.unwrap().is_empty());
    reopened.close().await;
}

#[tokio::test]
async fn an_in_memory_sqlite_store_works() {
    let store = kvp_store::connect("sqlite::memory:").await.unwrap();

    let oslo = support::given_oslo(&store).await;

    assert_eq!(store.list_municipalities().await.unwrap(), vec![oslo]);
    store.close().await;
}

#[tokio::test]
async fn a_url_of_another_database_is_refused_without_echoing_it() {
    let err = kvp_store::connect("mysql://root:secret@localhost/kvp")
        .await
        .map(|_| ())
        .unwrap_err();

    assert!(
        matches!(&err, StoreError::UnsupportedUrl { scheme } if scheme == "mysql"),
        "{err:?}"
    );
    assert!(!err.to_string().contains("secret"));
}
