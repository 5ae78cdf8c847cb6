//! The harness that runs one suite function on a backend, and the fixtures
//! the suite builds its records from.

use kvp_rules::AbsenceKind;
use std::collections::HashMap;
use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;

use kvp_store::{
    BeginClose, Child, Confirmation, DayEntry, FinishClose, Municipality, NewAuditEntry,
    NewOutboxEvent, NewTimesheet, OpenRun, Participant, PayLine, PayRun, PaymentOutcome, Programme,
    Repository, RunState, SignerKey, SignerRole, StoreError, Timesheet, TimesheetStatus,
};
use rust_decimal::Decimal;
use serde_json::json;
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use time::macros::{date, datetime};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

/// The variable that points the suite at a PostgreSQL server.
pub const DATABASE_URL_VAR: &str = "KVP_TEST_DATABASE_URL";

/// The PostgreSQL server URL, if the suite should run there too.
pub fn postgres_url() -> Option<String> {
    std::env::var(DATABASE_URL_VAR)
        .ok()
        .filter(|url| !url.is_empty())
}

/// Runs a suite function on a fresh SQLite file in a temporary directory.
pub async fn on_sqlite<F, Fut>(test: F)
where
    F: FnOnce(Arc<dyn Repository>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}/kvp.db?mode=rwc", dir.path().display());
    let store = kvp_store::connect(&url)
        .await
        .expect("the SQLite store opens");
    run(store, url, test).await;
}

/// Runs a suite function on a fresh, uniquely named PostgreSQL database that
/// is dropped afterwards. Without `KVP_TEST_DATABASE_URL` it does nothing;
/// with it, an unreachable server fails the test.
pub async fn on_postgres<F, Fut>(test: F)
where
    F: FnOnce(Arc<dyn Repository>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(server) = postgres_url() else {
        eprintln!("{DATABASE_URL_VAR} is not set: the PostgreSQL instantiation does not run");
        return;
    };
    let name = format!("kvp_test_{}", Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&server).await.unwrap_or_else(|e| {
        panic!("{DATABASE_URL_VAR} is set but PostgreSQL cannot be reached: {e}")
    });
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("the test database is created");

    let url = database_url(&server, &name);
    let connected = kvp_store::connect(&url).await;
    let outcome = match connected {
        Ok(store) => Ok(run_catching(store, url, test).await),
        Err(e) => Err(e),
    };

    sqlx::query(AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await
    .expect("the test database is dropped");
    admin.close().await.expect("the admin connection closes");

    match outcome {
        Err(e) => panic!("the PostgreSQL store does not open: {e}"),
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Ok(Ok(())) => {}
    }
}

/// The server URL with its database replaced by `name`, query kept.
fn database_url(server: &str, name: &str) -> String {
    let (base, query) = match server.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (server, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let root = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{root}/{name}?{query}"),
        None => format!("{root}/{name}"),
    }
}

async fn run<F, Fut>(store: Arc<dyn Repository>, url: String, test: F)
where
    F: FnOnce(Arc<dyn Repository>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    if let Err(panic) = run_catching(store, url, test).await {
        std::panic::resume_unwind(panic);
    }
}

/// Runs the test in its own task, so that a failing assertion comes back as
/// a value and the database can still be cleaned up; closes the store after.
async fn run_catching<F, Fut>(
    store: Arc<dyn Repository>,
    url: String,
    test: F,
) -> Result<(), Box<dyn std::any::Any + Send>>
where
    F: FnOnce(Arc<dyn Repository>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let handle = store.clone();
    let joined = tokio::spawn(DATABASE_URL.scope(url, test(store))).await;
    handle.close().await;
    match joined {
        Ok(()) => Ok(()),
        Err(e) if e.is_panic() => Err(e.into_panic()),
        Err(e) => panic!("the test task did not finish: {e}"),
    }
}

tokio::task_local! {
    /// The URL of the database the running suite function's store uses.
    static DATABASE_URL: String;
}

/// Runs SQL (several statements allowed) on the running test's database
/// behind the store's back, over a connection of its own: how a test plays
/// someone with direct access to the database.
pub async fn execute_raw(sql: &str) {
    if let Err(e) = try_execute_raw(sql).await {
        panic!("raw SQL fails: {e}");
    }
}

/// Like [`execute_raw`], but answers the database's error text instead of
/// failing the test.
pub async fn try_execute_raw(sql: &str) -> Result<(), String> {
    let url = DATABASE_URL.with(Clone::clone);
    let outcome = if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(&url)
            .await
            .expect("a raw SQLite connection");
        sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
            .execute(&mut conn)
            .await
            .map(|_| ())
    } else {
        let mut conn = PgConnection::connect(&url)
            .await
            .expect("a raw PostgreSQL connection");
        sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
            .execute(&mut conn)
            .await
            .map(|_| ())
    };
    outcome.map_err(|e| e.to_string())
}

/// Opens another store on the running test's database (as a restarted
/// instance would).
pub async fn reopen() -> Arc<dyn Repository> {
    let url = DATABASE_URL.with(Clone::clone);
    kvp_store::connect(&url)
        .await
        .expect("the store opens again")
}

// --- fixtures ---

/// A fixed instant with microseconds, as both backends keep them.
pub const AT: OffsetDateTime = datetime!(2025-03-03 09:15:30.123456 UTC);

/// A decimal from its text.
pub fn dec(text: &str) -> Decimal {
    Decimal::from_str(text).expect("a decimal literal")
}

/// An audit entry by a caseworker.
pub fn audit(action: &str, subject_type: &str, subject_id: impl ToString) -> NewAuditEntry {
    NewAuditEntry::new(AT, "caseworker:k123", action, subject_type, subject_id)
}

/// Oslo, with a policy override and a pay code.
pub fn oslo() -> Municipality {
    Municipality {
        id: "0301".into(),
        name: "Oslo".into(),
        policy_overrides: json!({ "self_cert_max_days": 8, "auto_apply_unexcused": false }),
        pay_codes: json!({ "KVP_BASE": "1130", "KVP_CHILD_SUPPLEMENT": "1131" }),
        handoff: Default::default(),
        version: 1,
    }
}

/// Stores Oslo and returns it.
pub async fn given_oslo(store: &Arc<dyn Repository>) -> Municipality {
    let municipality = oslo();
    store
        .upsert_municipality(
            &municipality,
            None,
            &audit("municipality.upserted", "municipality", &municipality.id),
        )
        .await
        .expect("the municipality is stored");
    municipality
}

/// A participant of a municipality with a fresh, random identity-number hash.
pub fn participant_of(municipality_id: &str) -> Participant {
    Participant {
        id: Uuid::now_v7(),
        municipality_id: municipality_id.into(),
        nin_lookup: Uuid::new_v4().as_bytes().to_vec(),
        nin_sealed: vec![0xA5; 48],
        birth_date: date!(1990 - 05 - 17),
        display_name: "Kari Nordmann".into(),
        created_at: AT,
    }
}

/// Stores Oslo and a participant of it, and returns the participant.
pub async fn given_participant(store: &Arc<dyn Repository>) -> Participant {
    given_oslo(store).await;
    let participant = participant_of("0301");
    store
        .create_participant(
            &participant,
            &audit("participant.created", "participant", participant.id),
        )
        .await
        .expect("the participant is stored");
    participant
}

/// A child of a participant.
pub fn child_of(participant: &Participant, birth_date: Date) -> Child {
    Child {
        id: Uuid::now_v7(),
        participant_id: participant.id,
        birth_date,
        reference: None,
    }
}

/// An open-ended programme from 2025-01-06.
pub fn programme_of(participant: &Participant) -> Programme {
    Programme {
        id: Uuid::now_v7(),
        participant_id: participant.id,
        start: date!(2025 - 01 - 06),
        end: None,
        decision_reference: "KVP-2025-0042".into(),
        decided_at: AT,
        version: 1,
    }
}

/// A supervisor's key valid from 2025-01-01.
pub fn supervisor_key(keyid: &str) -> SignerKey {
    SignerKey {
        keyid: keyid.into(),
        person_id: "caseworker:k123".into(),
        participant_id: None,
        role: SignerRole::Supervisor,
        public_key: vec![7; 32],
        valid_from: datetime!(2025-01-01 00:00 UTC),
        valid_until: Some(datetime!(2027-01-01 00:00 UTC)),
        revoked_at: None,
        revocation_reason: None,
        registered_at: AT,
        municipality_id: None,
    }
}

/// A fresh random hex SHA-256-shaped digest.
pub fn digest() -> String {
    format!(
        "{:032x}{:032x}",
        Uuid::new_v4().as_u128(),
        Uuid::new_v4().as_u128()
    )
}

/// A new timesheet (version 1) for `from..=to` (from < to) with an entry on
/// each end: attended 7.5 h on the first day, self-certified sickness 7.25 h
/// on the last.
pub fn timesheet_for(participant: &Participant, from: Date, to: Date) -> NewTimesheet {
    let id = Uuid::now_v7();
    let timesheet = Timesheet {
        id,
        participant_id: participant.id,
        municipality_id: participant.municipality_id.clone(),
        digest: digest(),
        envelope: format!("envelope of {id}").into_bytes(),
        period_from: from,
        period_to: to,
        version: 1,
        supersedes: None,
        status: TimesheetStatus::Accepted,
        assessment: assessment(to),
        received_at: AT,
    };
    let entries = vec![
        DayEntry {
            timesheet_id: id,
            participant_id: participant.id,
            date: from,
            seq: 0,
            kind: AbsenceKind::Attended,
            hours: dec("7.5"),
            note: None,
        },
        DayEntry {
            timesheet_id: id,
            participant_id: participant.id,
            date: to,
            seq: 0,
            kind: AbsenceKind::SickSelf,
            hours: dec("7.25"),
            note: Some("fever".into()),
        },
    ];
    NewTimesheet {
        audit: NewAuditEntry::new(AT, "client:0301", "timesheet.accepted", "timesheet", id),
        timesheet,
        entries,
        events: Vec::new(),
    }
}

/// An assessment as the service answers it, numbers written as decimals
/// (parsed from text: no float is involved anywhere).
pub fn assessment(day: Date) -> serde_json::Value {
    let text = format!(
        r#"{{"self_cert_days_left": 2, "flags": ["UNEXCUSED_PENDING_DECISION"],
            "proposed_deductions": [{{"date": "{day}", "hours": 7.25, "amount": 1234.56}}]}}"#
    );
    serde_json::from_str(&text).expect("an assessment")
}

/// A correction of `of` covering `from..=to`.
pub fn correction_of(
    of: &Timesheet,
    participant: &Participant,
    from: Date,
    to: Date,
) -> NewTimesheet {
    let mut new = timesheet_for(participant, from, to);
    new.timesheet.version = of.version + 1;
    new.timesheet.supersedes = Some(of.id);
    new
}

/// A domain event created at `created_at`, with a payload that is not text
/// and the trace context of a request that wrote it.
pub fn event_at(
    event_type: &str,
    subject: impl ToString,
    created_at: OffsetDateTime,
) -> NewOutboxEvent {
    let id = Uuid::now_v7();
    let mut payload = vec![0x0A, 0x00, 0xFF, 0x80];
    payload.extend_from_slice(id.as_bytes());
    NewOutboxEvent {
        id,
        event_type: event_type.into(),
        source: "/kvp/payroll/0301".into(),
        subject: subject.to_string(),
        payload,
        created_at,
        traceparent: Some(format!(
            "00-{}-{}-01",
            id.simple(),
            &id.simple().to_string()[16..]
        )),
    }
}

/// Stores another participant of Oslo (Oslo must exist) and returns it.
pub async fn given_another_participant(store: &Arc<dyn Repository>) -> Participant {
    let participant = participant_of("0301");
    store
        .create_participant(
            &participant,
            &audit("participant.created", "participant", participant.id),
        )
        .await
        .expect("the participant is stored");
    participant
}

/// How a line closed with the handoff frozen is reported and booked.
pub fn frozen_reporting() -> kvp_store::LineReporting {
    kvp_store::LineReporting {
        income: kvp_rules::reporting::IncomeCoding {
            income_type: "pensjonEllerTrygd".into(),
            description: "kvalifiseringstoenad".into(),
            benefit_kind: "kontantytelse".into(),
            withholding_basis: true,
        },
        employer_contribution: false,
        accounting: kvp_store::Accounting {
            ansvar: Some("1400".into()),
            tjeneste: None,
            function: "276".into(),
        },
    }
}

/// One pay line to be: participant, line code, attributed month, amount.
pub type LineSpec<'a> = (Uuid, &'a str, Option<Date>, &'a str);

/// A consistent close of Oslo's `month`: the lines in the order given (each
/// participant's `seq` counting from 0), the participant count and total
/// computed, one "period closed" event and an audit entry.
pub fn pay_run(month: Date, lines: &[LineSpec<'_>]) -> NewPayRun {
    let run_id = Uuid::now_v7();
    let mut seqs: HashMap<Uuid, i32> = HashMap::new();
    let lines: Vec<PayLine> = lines
        .iter()
        .map(|&(participant_id, code, attributed_month, amount)| {
            let seq = seqs.entry(participant_id).or_insert(0);
            let line = PayLine {
                id: Uuid::now_v7(),
                run_id,
                participant_id,
                seq: *seq,
                line_code: code.parse().unwrap(),
                attributed_month,
                quantity: None,
                amount: dec(amount),
                explanation: format!("{code} for {attributed_month:?}"),
                pay_code: None,
                employee_number: None,
                reporting: None,
            };
            *seq += 1;
            line
        })
        .collect();
    let run = PayRun {
        id: run_id,
        municipality_id: "0301".into(),
        month,
        state: RunState::Closed,
        closed_at: AT,
        participant_count: i32::try_from(seqs.len()).expect("few participants"),
        held_count: 0,
        total: lines.iter().map(|l| l.amount).sum(),
    };
    NewPayRun {
        events: vec![event_at("no.kvp.payroll.period.closed.v1", run_id, AT)],
        audit: NewAuditEntry::new(AT, "client:0301", "period.closed", "pay_run", run_id),
        run,
        lines,
    }
}

/// A close in one piece, as the tests state it: the run with its count and
/// total, its lines, events and audit entry.
#[derive(Debug, Clone)]
pub struct NewPayRun {
    /// The run (its id, municipality, month, instant, count and total).
    pub run: PayRun,
    /// Its lines.
    pub lines: Vec<PayLine>,
    /// The close's events.
    pub events: Vec<NewOutboxEvent>,
    /// The close's audit entry.
    pub audit: NewAuditEntry,
}

/// The basis `close_period` records with its runs.
pub const TEST_BASIS: &str = "conformance-basis";

/// What a close did.
#[derive(Debug, Clone, PartialEq)]
pub enum CloseOutcome {
    /// The run was created.
    Created(PayRun),
    /// The month was closed already: its run, nothing written.
    Existing(PayRun),
}

impl CloseOutcome {
    /// The run, created or found.
    pub fn run(&self) -> &PayRun {
        match self {
            Self::Created(run) | Self::Existing(run) => run,
        }
    }
}

/// Closes a month through a close session, as the service does: begin, write
/// every line, finish with the run's count, total, events and audit entry.
pub async fn close_period(
    store: &Arc<dyn Repository>,
    new: &NewPayRun,
) -> Result<CloseOutcome, StoreError> {
    let open = OpenRun {
        id: new.run.id,
        municipality_id: new.run.municipality_id.clone(),
        month: new.run.month,
        closed_at: new.run.closed_at,
    };
    match store.begin_close(&open).await? {
        BeginClose::Closed(run) => Ok(CloseOutcome::Existing(run)),
        BeginClose::Open(mut session) => {
            session.write_lines(&new.lines).await?;
            let run = session
                .finish(FinishClose {
                    participant_count: new.run.participant_count,
                    total: new.run.total,
                    events: new.events.clone(),
                    audit: new.audit.clone(),
                    basis: TEST_BASIS.into(),
                    recomputed: Vec::new(),
                    held: Vec::new(),
                })
                .await?;
            Ok(CloseOutcome::Created(run))
        }
    }
}

/// Closes a month that must not have been closed yet and returns the run.
pub async fn closed(store: &Arc<dyn Repository>, new: &NewPayRun) -> PayRun {
    match close_period(store, new).await {
        Ok(CloseOutcome::Created(run)) => run,
        other => panic!("expected the run to be created, got {other:?}"),
    }
}

/// A successful payment of a payslip.
pub fn paid(run: &PayRun, participant_id: Uuid, gross: &str) -> Confirmation {
    Confirmation {
        run_id: run.id,
        participant_id,
        gross: dec(gross),
        tax_withheld: dec("1234.00"),
        net_paid: dec(gross) - dec("1234.00"),
        outcome: PaymentOutcome::Paid,
        failure_reason: None,
        payment_date: Some(date!(2025 - 04 - 12)),
        confirmed_at: AT,
    }
}

/// A failed payment of a payslip.
pub fn failed(run: &PayRun, participant_id: Uuid) -> Confirmation {
    Confirmation {
        run_id: run.id,
        participant_id,
        gross: dec("0"),
        tax_withheld: dec("0"),
        net_paid: dec("0"),
        outcome: PaymentOutcome::Failed,
        failure_reason: Some("the account is closed".into()),
        payment_date: None,
        confirmed_at: AT,
    }
}

/// Sets a programme's end as the service does: a correction of the
/// programme from `expected` (any version with `None`).
pub async fn set_programme_end(
    store: &Arc<dyn Repository>,
    id: Uuid,
    end: Option<Date>,
    expected: Option<kvp_store::Expected>,
    audit: &NewAuditEntry,
) -> Result<Programme, kvp_store::StoreError> {
    let programme = store.get_programme(id).await?;
    let change = kvp_store::FactChange {
        kind: kvp_store::FactKind::Programme,
        fact_id: id.to_string(),
        expected: expected.unwrap_or(kvp_store::Expected::Existing),
        content: Some(kvp_store::FactContent::Programme {
            start: programme.start,
            end,
            decision_reference: programme.decision_reference,
        }),
        reason: "the end is set".into(),
    };
    store.change_fact(&change, &[], audit).await?;
    store.get_programme(id).await
}
