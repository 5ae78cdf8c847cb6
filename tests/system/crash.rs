//! Crash safety: the payroll service as a real process (its own `main.rs`,
//! built as `kvp-payroll-under-test`), SIGKILLed in the middle of a pay-period
//! close and in the middle of outbox delivery, restarted on the same database
//! (a SQLite file, or a PostgreSQL database of its own).
//!
//! Kills are precise: the service logs JSON at a verbose `RUST_LOG`, and the
//! thread reading its output sends SIGKILL the moment a chosen line appears
//! (`PayrollProcess::kill_when`); the top-up service runs in this process, and
//! a capture tripwire kills the payroll process from inside the top-up's
//! handler (`capture::on_record`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::os::unix::process::ExitStatusExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use kvp_proto::kvp::payroll::v1 as pb;
use kvp_signing::{SigningKey, public_key_to_base64};
use kvp_system_tests::Rest;
use kvp_system_tests::process::PayrollProcess;
use kvp_system_tests::{Fixture, TestDb, TopupApp, capture, eventually, national_id};
use pb::DayKind;
use pb::payroll_service_client::PayrollServiceClient;
use rust_decimal::Decimal;
use serde_json::json;
use tonic::transport::Channel;
use uuid::Uuid;

/// The payroll service's binary (its `main.rs`, built in this package).
const EXE: &str = env!("CARGO_BIN_EXE_kvp-payroll-under-test");

/// The month closed.
const MONTH: &str = "2025-10";

/// Participants seeded for the close: enough that the close's read and
/// compute phase takes a good part of a second in a debug build and its
/// write transaction inserts hundreds of lines.
const CLOSE_PARTICIPANTS: usize = 120;

fn dec(text: &str) -> Decimal {
    text.parse().unwrap()
}

/// What a participant needs to sign timesheets: the kit's fixture shape, with
/// a key of its own.
fn fixture(participant_id: String, i: usize) -> Fixture {
    let mut seed = [7u8; 32];
    seed[..8].copy_from_slice(&u64::try_from(i).unwrap().to_le_bytes());
    Fixture {
        participant_id,
        participant_key: SigningKey::from_bytes(&seed),
        supervisor_key: SigningKey::from_bytes(&[2; 32]),
        provider_key: SigningKey::from_bytes(&[3; 32]),
    }
}

/// The municipality and the supervisor's key, once.
async fn seed_municipality(rest: &Rest) {
    let (status, _) = rest
        .call(
            reqwest::Method::PUT,
            "/v1/municipalities/0301",
            Some(json!({"name": "Oslo", "use_product_codes": true})),
        )
        .await;
    assert_eq!(status, 200);
    rest.post(
        "/v1/signer-keys",
        json!({
            "keyid": "supervisor-key", "person_id": "supervisor-7", "role": "SUPERVISOR",
            "municipality_id": "0301",
            "public_key": public_key_to_base64(&SigningKey::from_bytes(&[2; 32]).verifying_key()),
            "valid_from": "2025-01-01T00:00:00Z",
        }),
        201,
    )
    .await;
}

/// Participant `i`: registered over REST with an identity number (ages and
/// children vary), a programme from `programme_start`, a key of its own, and
/// one signed timesheet per month in `months`, accepted over gRPC. Entries
/// vary with `i` (paid work, unexcused hours pending a decision), so the
/// participants' months differ.
async fn seed_participant(
    rest: Rest,
    mut grpc: PayrollServiceClient<Channel>,
    i: usize,
    programme_start: &'static str,
    months: &'static [(&'static str, &'static str)],
) -> Fixture {
    let young = i.is_multiple_of(3);
    let birth = format!(
        "{:02}{:02}{}",
        1 + i % 28,
        1 + (i / 28) % 12,
        if young { "02" } else { "85" }
    );
    let number = national_id(&birth, if young { 500 } else { 100 });
    let children: Vec<&str> = ["2021-03-14", "2016-08-02"][..i % 3].to_vec();
    let participant = rest
        .post(
            "/v1/participants",
            json!({
                "municipality_id": "0301", "national_id": number,
                "display_name": format!("Deltaker {i}"), "children": children,
            }),
            201,
        )
        .await;
    let fixture = fixture(participant["id"].as_str().unwrap().to_owned(), i);
    let id = &fixture.participant_id;
    rest.post(
        &format!("/v1/participants/{id}/programmes"),
        json!({
            "start": programme_start, "end": "2026-12-31", "decision_reference": format!("KVP-{i}"),
        }),
        201,
    )
    .await;
    rest.post(
        "/v1/signer-keys",
        json!({
            "keyid": format!("participant-key-{i}"), "person_id": id, "role": "PARTICIPANT",
            "public_key": public_key_to_base64(&fixture.participant_key.verifying_key()),
            "valid_from": "2025-01-01T00:00:00Z",
        }),
        201,
    )
    .await;
    let work = format!("{}", i % 4 * 2);
    for (from, to) in months {
        let mut entries = vec![(weekday_from(from, 21), DayKind::PaidWork, work.as_str())];
        if i.is_multiple_of(5) {
            entries.push((weekday_from(from, 14), DayKind::Unexcused, "3"));
        }
        let entries: Vec<(&str, DayKind, &str)> = entries
            .iter()
            .map(|(d, k, h)| (d.as_str(), *k, *h))
            .collect();
        let body = fixture.body(from, to, &entries);
        let request = sign_as(&fixture, i, &body);
        grpc.submit_timesheet(request).await.unwrap();
    }
    fixture
}

/// The first weekday on or after `day` of the month `first` (`YYYY-MM-01`)
/// begins, as `YYYY-MM-DD`.
fn weekday_from(first: &str, day: u8) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let mut date = time::Date::parse(first, format)
        .unwrap()
        .replace_day(day)
        .unwrap();
    while matches!(
        date.weekday(),
        time::Weekday::Saturday | time::Weekday::Sunday
    ) {
        date = date.next_day().unwrap();
    }
    date.format(format).unwrap()
}

/// The body signed by participant `i`'s own key and the supervisor's.
fn sign_as(fixture: &Fixture, i: usize, body: &pb::TimesheetBody) -> pb::SubmitTimesheetRequest {
    use prost::Message;
    let keyid = format!("participant-key-{i}");
    kvp_system_tests::sign(
        body.encode_to_vec(),
        &[
            (keyid.as_str(), &fixture.participant_key),
            ("supervisor-key", &fixture.supervisor_key),
        ],
    )
}

/// Seeds `count` participants, four at a time.
async fn seed(
    process: &PayrollProcess,
    count: usize,
    programme_start: &'static str,
    months: &'static [(&'static str, &'static str)],
) -> Vec<Fixture> {
    let rest = process.rest();
    seed_municipality(&rest).await;
    let grpc = process.grpc().await;
    let permits = Arc::new(tokio::sync::Semaphore::new(4));
    let mut tasks = Vec::new();
    for i in 0..count {
        let (rest, grpc, permits) = (rest.clone(), grpc.clone(), Arc::clone(&permits));
        tasks.push(tokio::spawn(async move {
            let _permit = permits.acquire().await.unwrap();
            seed_participant(rest, grpc, i, programme_start, months).await
        }));
    }
    let mut fixtures = Vec::new();
    for task in tasks {
        fixtures.push(task.await.unwrap());
    }
    fixtures
}

async fn close(process: &PayrollProcess) -> Result<pb::ClosePeriodResponse, tonic::Status> {
    process
        .grpc()
        .await
        .close_period(pb::ClosePeriodRequest {
            municipality_id: "0301".into(),
            month: MONTH.into(),
        })
        .await
        .map(tonic::Response::into_inner)
}

/// A status the client made from a broken connection (it carries the
/// transport's error as its source), not one the server answered with.
fn assert_transport_error(status: &tonic::Status) {
    assert!(
        matches!(
            status.code(),
            tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Cancelled
        ),
        "not a transport failure: {status:?}"
    );
    assert!(
        std::error::Error::source(status).is_some(),
        "the server answered, the connection did not break: {status:?}"
    );
}

/// The database as it is, read directly (what the service's API would not
/// show: half-written rows, every outbox event, every audit action).
enum Inspect {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

macro_rules! fetch_all {
    ($inspect:expr, $row:ty, $sql:literal) => {
        match $inspect {
            Inspect::Sqlite(pool) => sqlx::query_as::<_, $row>($sql)
                .fetch_all(pool)
                .await
                .unwrap(),
            Inspect::Postgres(pool) => sqlx::query_as::<_, $row>($sql)
                .fetch_all(pool)
                .await
                .unwrap(),
        }
    };
}

/// One outbox event: id, type, subject, delivered.
type OutboxRow = (Uuid, String, String, bool);

impl Inspect {
    async fn connect(url: &str) -> Self {
        if url.starts_with("sqlite:") {
            Self::Sqlite(sqlx::SqlitePool::connect(url).await.unwrap())
        } else {
            Self::Postgres(sqlx::PgPool::connect(url).await.unwrap())
        }
    }

    async fn runs(&self) -> Vec<Uuid> {
        fetch_all!(self, (Uuid,), "SELECT id FROM pay_runs")
            .into_iter()
            .map(|(id,)| id)
            .collect()
    }

    /// Pay lines per run id.
    async fn lines_by_run(&self) -> BTreeMap<Uuid, usize> {
        let mut out = BTreeMap::new();
        for (run,) in fetch_all!(self, (Uuid,), "SELECT run_id FROM pay_lines") {
            *out.entry(run).or_default() += 1;
        }
        out
    }

    async fn outbox(&self) -> Vec<OutboxRow> {
        fetch_all!(
            self,
            OutboxRow,
            "SELECT id, event_type, subject, delivered_at IS NOT NULL FROM outbox_events"
        )
    }

    async fn audit_actions(&self, action: &str) -> usize {
        fetch_all!(self, (String,), "SELECT action FROM audit_entries")
            .iter()
            .filter(|(a,)| a == action)
            .count()
    }

    /// The top-up service's inbox: event ids as received.
    async fn inbox(&self) -> Vec<String> {
        fetch_all!(self, (String,), "SELECT event_id FROM inbox_events")
            .into_iter()
            .map(|(id,)| id)
            .collect()
    }

    async fn close(self) {
        match self {
            Self::Sqlite(pool) => pool.close().await,
            Self::Postgres(pool) => pool.close().await,
        }
    }
}

/// What a close left in the database: runs, lines per run, `PeriodClosed`
/// events and `period.closed` audit entries.
#[derive(Debug, PartialEq)]
struct CloseTrace {
    runs: Vec<Uuid>,
    lines: BTreeMap<Uuid, usize>,
    period_closed_events: Vec<String>,
    audit_entries: usize,
}

async fn close_trace(inspect: &Inspect) -> CloseTrace {
    CloseTrace {
        runs: inspect.runs().await,
        lines: inspect.lines_by_run().await,
        period_closed_events: inspect
            .outbox()
            .await
            .into_iter()
            .filter(|(_, kind, _, _)| kind == kvp_proto::event_types::PERIOD_CLOSED)
            .map(|(_, _, subject, _)| subject)
            .collect(),
        audit_entries: inspect.audit_actions("period.closed").await,
    }
}

/// Whether a killed close left nothing, or (killed after its commit) exactly
/// one whole run: never a part of one. Returns whether the run is there.
fn assert_nothing_or_one_whole_run(trace: &CloseTrace) -> bool {
    if trace.runs.is_empty() {
        assert_eq!(
            trace,
            &CloseTrace {
                runs: Vec::new(),
                lines: BTreeMap::new(),
                period_closed_events: Vec::new(),
                audit_entries: 0,
            },
            "a partial run is visible after the crash"
        );
        false
    } else {
        assert_eq!(trace.runs.len(), 1, "{trace:?}");
        let run = trace.runs[0];
        assert_eq!(trace.lines.keys().collect::<Vec<_>>(), [&run], "{trace:?}");
        assert_eq!(trace.period_closed_events, [run.to_string()], "{trace:?}");
        assert_eq!(trace.audit_entries, 1, "{trace:?}");
        true
    }
}

/// Kills the process on the first output line `trigger` matches while a
/// close is in flight; checks the close failed on the broken connection and
/// what the crash left. Returns whether the close had committed.
async fn close_killed_when(
    process: &mut PayrollProcess,
    inspect: &Inspect,
    point: &str,
    trigger: impl Fn(&str) -> bool + Send + 'static,
) -> bool {
    process.kill_when(trigger);
    let started = Instant::now();
    let failed = close(process)
        .await
        .expect_err("the close answered: the kill came too late");
    assert_transport_error(&failed);
    let status = process.wait_for_death(10).await;
    assert_eq!(status.signal(), Some(9), "killed by SIGKILL: {status:?}");
    let line = process.tripped_by().expect("a kill switch fired");
    process.restart().await;
    let trace = close_trace(inspect).await;
    let committed = assert_nothing_or_one_whole_run(&trace);
    let listed = process.rest().get("/v1/municipalities/0301/runs").await;
    assert_eq!(
        listed.as_array().unwrap().len(),
        trace.runs.len(),
        "{listed}"
    );
    eprintln!(
        "crash: killed {point} after {} ms; the close had {}committed (trigger: {})",
        started.elapsed().as_millis(),
        if committed { "" } else { "not " },
        line.chars().take(160).collect::<String>()
    );
    committed
}

#[tokio::test]
async fn a_close_killed_midway_leaves_no_partial_run_and_the_next_close_pays_exactly_once() {
    let mark = capture::mark();
    let (db, url) = TestDb::create().await;
    let mut payroll = PayrollProcess::start(EXE, &url, None).await;
    let started = Instant::now();
    let participants = seed(
        &payroll,
        CLOSE_PARTICIPANTS,
        "2025-01-06",
        &[("2025-10-01", "2025-10-31")],
    )
    .await;
    eprintln!(
        "crash: seeded {} participants in {} ms",
        participants.len(),
        started.elapsed().as_millis()
    );

    // The expectation, computed without closing: each participant's October
    // as the month endpoint computes it (months without a timesheet withhold
    // every day, so October is all a first run pays).
    let rest = payroll.rest();
    let mut expected: HashMap<String, Decimal> = HashMap::new();
    for fixture in &participants {
        let id = &fixture.participant_id;
        let month = rest
            .get(&format!("/v1/participants/{id}/months/{MONTH}"))
            .await;
        let total = dec(month["total"].as_str().unwrap());
        assert!(total > Decimal::ZERO, "{month}");
        expected.insert(id.clone(), total);
    }
    let expected_total: Decimal = expected.values().sum();
    let inspect = Inspect::connect(&url).await;
    let timesheet_events = inspect.outbox().await.len();
    assert_eq!(timesheet_events, CLOSE_PARTICIPANTS);

    // How we know the kills land mid-close: each is sent by the thread
    // reading the service's log the moment a line from inside the close
    // appears; the close call must then fail on the broken connection (it
    // did not answer), and the database after the restart tells whether the
    // close had committed — the test prints which, and holds either way.
    //
    // First killed at its very start: at the first line logged inside the
    // close's span (its first query). The close then still has to read and
    // compute 120 participants, and write their lines, before it commits.
    let mut committed = close_killed_when(&mut payroll, &inspect, "at its start", |line| {
        line.contains("\"name\":\"payroll.close_period\"")
    })
    .await;
    // Then killed inside the write transaction: right after the run's row
    // is inserted (sqlx logs a statement once it has run). Before it commits,
    // the transaction still writes some 300 lines, the event and the audit
    // entry (and, where the store computes chunk by chunk inside the
    // transaction, computes them first): much longer than the reading thread
    // takes to send the kill. The run's row, written and then lost, must
    // leave no trace.
    if !committed {
        committed = close_killed_when(
            &mut payroll,
            &inspect,
            "inside the write transaction",
            |line| {
                line.contains("\"target\":\"sqlx::query\"") && line.contains("INSERT INTO pay_runs")
            },
        )
        .await;
    }

    let closed = close(&payroll).await.unwrap();
    assert_eq!(closed.created, !committed, "{closed:?}");
    let run = closed.run.unwrap();
    let again = close(&payroll).await.unwrap();
    assert!(!again.created);
    assert_eq!(again.run.as_ref().unwrap().run_id, run.run_id);

    // The run pays every participant's October once: totals from the month
    // endpoint, line by line from the stream.
    assert_eq!(
        run.participant_count,
        u32::try_from(CLOSE_PARTICIPANTS).unwrap()
    );
    assert_eq!(dec(&run.total_amount), expected_total);
    let mut stream = payroll
        .grpc()
        .await
        .stream_pay_lines(pb::StreamPayLinesRequest {
            run_id: run.run_id.clone(),
            after_line_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut paid: HashMap<String, Decimal> = HashMap::new();
    let mut streamed = 0;
    while let Some(message) = stream.message().await.unwrap() {
        let line = message.pay_line.unwrap();
        assert_eq!(line.attributed_month, MONTH, "{line:?}");
        *paid.entry(line.participant_id).or_default() += dec(&line.amount);
        streamed += 1;
    }
    assert_eq!(paid, expected);
    assert_eq!(streamed, run.line_count);

    // In the database: one run, its lines only, one PeriodClosed event and
    // one audit entry; the timesheets' events neither lost nor doubled.
    let trace = close_trace(&inspect).await;
    let run_id: Uuid = run.run_id.parse().unwrap();
    assert_eq!(trace.runs, [run_id]);
    assert_eq!(
        trace.lines,
        BTreeMap::from([(run_id, usize::try_from(run.line_count).unwrap())])
    );
    assert_eq!(
        trace.period_closed_events,
        std::slice::from_ref(&run.run_id)
    );
    assert_eq!(trace.audit_entries, 1);
    assert_eq!(inspect.outbox().await.len(), timesheet_events + 1);
    inspect.close().await;

    // The audit chain survived the crashes (the binary's own check).
    let verify = std::process::Command::new(EXE)
        .args(["verify-audit", "--database-url", &url])
        .env_remove("KVP_DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );

    payroll.check_output();
    drop(payroll);
    db.drop_database().await;
    assert!(!capture::since(mark).is_empty());
    capture::check("after the close crash test");
}

/// Months of timesheets per participant in the delivery test.
const DELIVERY_MONTHS: &[(&str, &str)] = &[
    ("2025-01-01", "2025-01-31"),
    ("2025-02-01", "2025-02-28"),
    ("2025-03-01", "2025-03-31"),
    ("2025-04-01", "2025-04-30"),
    ("2025-05-01", "2025-05-31"),
    ("2025-06-01", "2025-06-30"),
    ("2025-07-01", "2025-07-31"),
    ("2025-08-01", "2025-08-31"),
    ("2025-09-01", "2025-09-30"),
    ("2025-10-01", "2025-10-31"),
    ("2025-11-01", "2025-11-30"),
    ("2025-12-01", "2025-12-31"),
];

/// The `event.id` a top-up log record is about (its `deliver` span's field).
fn event_id_of(record: &str) -> Option<&str> {
    let start = record.find("event.id=")? + "event.id=".len();
    let id = record[start..].trim_start_matches('"');
    id.get(..36)
}

#[tokio::test]
async fn delivery_killed_midway_delivers_every_event_to_the_topup_inbox_exactly_once() {
    let mark = capture::mark();
    let (db, url) = TestDb::create().await;
    // Events first, with no relay: accepted timesheets wait in the outbox.
    let mut seeding = PayrollProcess::start(EXE, &url, None).await;
    let participants = seed(&seeding, 10, "2025-01-01", DELIVERY_MONTHS).await;
    seeding.check_output();
    drop(seeding);
    let inspect = Inspect::connect(&url).await;
    let events: BTreeSet<String> = inspect
        .outbox()
        .await
        .into_iter()
        .map(|(id, _, _, delivered)| {
            assert!(!delivered);
            id.to_string()
        })
        .collect();
    assert_eq!(events.len(), participants.len() * DELIVERY_MONTHS.len());

    // The top-up service, in this process. When it has stored a third of
    // the events, the payroll process is killed from inside the handler that
    // stored the last of them — before the answer goes back, so that event is
    // in the inbox but not marked delivered: it must be delivered again.
    let topup = TopupApp::spawn("127.0.0.1:0".parse().unwrap()).await;
    let topup_inbox = Inspect::connect(&topup.database_url).await;
    let mut payroll = PayrollProcess::configure(EXE, &url, Some(&topup.grpc_url));
    let kill_at = events.len() / 3;
    let stored = Arc::new(AtomicUsize::new(0));
    let (ids, counted) = (events.clone(), Arc::clone(&stored));
    let killed_inside = Arc::new(std::sync::Mutex::new(None::<String>));
    let noted = Arc::clone(&killed_inside);
    let kill = payroll.killer();
    let tripwire = capture::on_record(
        move |record| {
            // Text lines only (each record is also written as JSON).
            !record.starts_with('{')
                && record.contains("event stored")
                && event_id_of(record).is_some_and(|id| ids.contains(id))
                && counted.fetch_add(1, Ordering::SeqCst) + 1 == kill_at
                && {
                    *noted.lock().unwrap() = event_id_of(record).map(str::to_owned);
                    true
                }
        },
        kill,
    );
    payroll.launch().await;
    let status = payroll.wait_for_death(20).await;
    drop(tripwire);
    assert_eq!(status.signal(), Some(9), "killed by SIGKILL: {status:?}");
    let repeated = killed_inside.lock().unwrap().clone().unwrap();

    // At the kill: the inbox holds exactly the events stored so far; the
    // outbox marks all of them delivered but the last.
    let inbox = topup_inbox.inbox().await;
    assert_eq!(inbox.len(), kill_at);
    assert!(inbox.contains(&repeated));
    let delivered: BTreeSet<String> = inspect
        .outbox()
        .await
        .into_iter()
        .filter(|(_, _, _, delivered)| *delivered)
        .map(|(id, ..)| id.to_string())
        .collect();
    assert_eq!(delivered.len(), kill_at - 1);
    assert!(!delivered.contains(&repeated));

    // Restarted: the relay claims what is left (its dead predecessor's
    // claims after their one-second lease) until nothing is pending.
    payroll.restart().await;
    eventually(20, || async {
        let pending = inspect
            .outbox()
            .await
            .iter()
            .filter(|(_, _, _, delivered)| !delivered)
            .count();
        (pending == 0).then_some(())
    })
    .await;
    let inbox = topup_inbox.inbox().await;
    let unique: BTreeSet<String> = inbox.iter().cloned().collect();
    assert_eq!(inbox.len(), unique.len(), "an event stored twice");
    assert_eq!(
        unique, events,
        "the inbox holds exactly the outbox's events"
    );

    // The top-up answered the repeated deliveries as duplicates ("nothing
    // applied"): at least the one killed before its answer went back.
    let log = capture::since(mark);
    let duplicates: Vec<&str> = log
        .lines()
        .filter(|l| !l.starts_with('{') && l.contains("duplicate event: nothing applied"))
        .filter_map(event_id_of)
        .filter(|id| events.contains(*id))
        .collect();
    assert!(duplicates.contains(&repeated.as_str()), "{duplicates:?}");
    let stored_once = log
        .lines()
        .filter(|l| !l.starts_with('{') && l.contains("event stored"))
        .filter_map(event_id_of)
        .filter(|id| events.contains(*id))
        .count();
    assert_eq!(stored_once, events.len(), "each event applied once");
    eprintln!(
        "crash: {} events, killed at the {kill_at}th, {} repeated deliveries absorbed",
        events.len(),
        duplicates.len()
    );

    payroll.check_output();
    drop(payroll);
    inspect.close().await;
    topup_inbox.close().await;
    topup.stop().await;
    db.drop_database().await;
}
