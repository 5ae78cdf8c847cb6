//! `kvp-load`: drives a running payroll service for benchmarks.
//!
//! - `submit`: registers participants and keys, then signs and submits realistic
//!   monthly timesheets over gRPC at a chosen concurrency; prints throughput and
//!   latency percentiles.
//! - `health`: the same load against the gRPC health check, the transport's ceiling.
//! - `close`: registers N participants with a month's timesheet each and times
//!   `ClosePeriod` and the streaming of its lines.
//!
//! Only loopback or the project's own test hosts are valid targets.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use kvp_client::{DayKind, PayrollClient, Retry, Timesheet, pb};
use kvp_signing::{SigningKey, public_key_to_base64};
use serde_json::json;
use tonic::transport::Channel;

mod ceiling;
mod seed;

#[derive(Debug, Parser)]
#[command(
    name = "kvp-load",
    about = "Load generator for the KVP payroll service"
)]
struct Cli {
    /// The payroll gRPC endpoint.
    #[arg(long, default_value = "http://127.0.0.1:50051", global = true)]
    grpc: String,
    /// The payroll REST endpoint.
    #[arg(long, default_value = "http://127.0.0.1:8080", global = true)]
    http: String,
    /// Concurrent requests in flight.
    #[arg(long, default_value_t = 32, global = true)]
    concurrency: usize,
    /// A process whose memory (VmRSS, VmHWM) to report, e.g. the server's pid.
    #[arg(long, global = true)]
    server_pid: Option<u32>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Submit signed timesheets.
    Submit {
        /// Participants to register.
        #[arg(long, default_value_t = 200)]
        participants: usize,
        /// Timesheets to submit (one per participant and month).
        #[arg(long, default_value_t = 5000)]
        timesheets: usize,
    },
    /// SubmitTimesheet against the storage ceiling, measured in one run:
    /// the submissions first, then pgbench committing one INSERT of a
    /// 600-byte row per transaction at the same concurrency against the
    /// same PostgreSQL; prints both rates and their ratio.
    Ingestion {
        /// Participants to register.
        #[arg(long, default_value_t = 100)]
        participants: usize,
        /// Timesheets to submit (one per participant and month).
        #[arg(long, default_value_t = 3000)]
        timesheets: usize,
        /// The PostgreSQL database pgbench writes its own table in
        /// (`kvp_load_ceiling`): the server the service's database is on.
        #[arg(long)]
        ceiling_database: String,
        /// Seconds pgbench runs.
        #[arg(long, default_value_t = 15)]
        ceiling_seconds: u64,
    },
    /// Call the gRPC health check.
    Health {
        /// Calls to make.
        #[arg(long, default_value_t = 20000)]
        requests: usize,
    },
    /// Time a pay-period close for N participants.
    Close {
        /// Participants, each with a programme since 2020-01 and timesheets.
        #[arg(long, default_value_t = 1000)]
        participants: usize,
        /// The municipality to create and close (four digits).
        #[arg(long, default_value = "4601")]
        municipality: String,
        /// Months of timesheets per participant, ending with the month
        /// closed (2025-10); more than 1 needs --seed-database.
        #[arg(long, default_value_t = 1)]
        months: usize,
        /// Seed straight into the service's database (its URL, as the
        /// service was given it) instead of through REST and gRPC; see `seed.rs`.
        #[arg(long)]
        seed_database: Option<String>,
        /// Then add every participant's 2025-11 timesheet and time the close
        /// of 2025-11 too: the monthly close of an established programme.
        #[arg(long)]
        next: bool,
        /// Before the 2025-11 close, correct this many participants'
        /// timesheets of 2025-09 (of 2025-10 with --months 1): a late
        /// correction of a closed month; needs --seed-database.
        #[arg(long, default_value_t = 0)]
        corrections: usize,
    },
}

/// Latencies in microseconds, and failures by gRPC code.
#[derive(Default)]
struct Samples {
    micros: Vec<u64>,
    failures: std::collections::BTreeMap<String, usize>,
}

/// A run's rate and 99th percentile, as reported.
struct Reported {
    per_second: u64,
    p99_micros: u64,
}

impl Samples {
    fn report(mut self, what: &str, elapsed: Duration) -> Reported {
        self.micros.sort_unstable();
        let n = self.micros.len();
        let pct = |p: usize| {
            self.micros
                .get((n * p / 100).min(n.saturating_sub(1)))
                .copied()
                .unwrap_or(0)
        };
        let ms = |us: u64| format!("{}.{:03} ms", us / 1000, us % 1000);
        let per_second = (n as u128 * 1_000_000) / elapsed.as_micros().max(1);
        println!(
            "{what}: {n} ok in {} ms = {per_second}/s; p50 {} p90 {} p99 {} max {}; failures {:?}",
            elapsed.as_millis(),
            ms(pct(50)),
            ms(pct(90)),
            ms(pct(99)),
            ms(self.micros.last().copied().unwrap_or(0)),
            self.failures
        );
        Reported {
            per_second: u64::try_from(per_second).unwrap_or(u64::MAX),
            p99_micros: pct(99),
        }
    }
}

fn memory(pid: Option<u32>, when: &str) {
    let Some(pid) = pid else { return };
    if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
                .unwrap_or_default()
        };
        println!(
            "server memory {when}: VmRSS {} VmHWM {}",
            field("VmRSS:"),
            field("VmHWM:")
        );
    }
}

/// A synthetic identity number with valid check digits; `n` picks birth date and individual number.
fn national_id(n: usize) -> String {
    let mut k = n;
    loop {
        let day = 1 + (k % 28);
        let month = 1 + ((k / 28) % 12);
        let year = 60 + ((k / 336) % 40);
        let individual = (k / 13440) % 500;
        let base = format!("{day:02}{month:02}{year:02}{individual:03}");
        let d: Vec<u32> = base.chars().filter_map(|c| c.to_digit(10)).collect();
        let check = |w: &[u32], d: &[u32]| match 11
            - w.iter().zip(d).map(|(a, b)| a * b).sum::<u32>() % 11
        {
            11 => Some(0),
            10 => None,
            x => Some(x),
        };
        if let Some(k1) = check(&[3, 7, 6, 1, 8, 9, 4, 5, 2], &d) {
            let d2: Vec<u32> = d.iter().copied().chain([k1]).collect();
            if let Some(k2) = check(&[5, 4, 3, 2, 7, 6, 5, 4, 3, 2], &d2) {
                return format!("{base}{k1}{k2}");
            }
        }
        k += 1_000_003;
    }
}

struct Setup {
    municipality: String,
    participants: Vec<(String, SigningKey)>,
    supervisor: SigningKey,
    tag: String,
}

async fn post(
    client: &reqwest::Client,
    url: String,
    body: serde_json::Value,
) -> anyhow::Result<serde_json::Value> {
    let response = client
        .post(&url)
        .header("x-kvp-actor", "kvp-load")
        .json(&body)
        .send()
        .await?;
    let status = response.status();
    let value: serde_json::Value = response.json().await.unwrap_or_default();
    if !status.is_success() {
        bail!("{url}: {status}: {value}");
    }
    Ok(value)
}

/// Registers a municipality, `n` participants with programmes and keys, and a supervisor key.
async fn setup(
    http: &str,
    municipality: &str,
    n: usize,
    concurrency: usize,
) -> anyhow::Result<Setup> {
    let client = reqwest::Client::new();
    put_municipality(http, municipality).await?;
    // Keys and identity numbers of this run, apart from those of a run a
    // moment before (two runs within one second took the same keys).
    let tag = format!(
        "{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_nanos()
    );
    let supervisor = SigningKey::from_bytes(&[7; 32]);
    post(&client, format!("{http}/v1/signer-keys"), json!({
        "keyid": format!("load-supervisor-{tag}"), "person_id": "load-supervisor", "role": "SUPERVISOR",
        "public_key": public_key_to_base64(&supervisor.verifying_key()), "valid_from": "2020-01-01T00:00:00Z",
        "municipality_id": municipality,
    })).await?;
    let offset: usize = tag.parse::<usize>().unwrap_or(0) % 1_000_000 * 7919;
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency.min(n.max(1)) {
        let (client, http, next, tag) =
            (client.clone(), http.to_owned(), next.clone(), tag.clone());
        let municipality = municipality.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut made = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<_, anyhow::Error>(made);
                }
                let participant = post(&client, format!("{http}/v1/participants"), json!({
                    "municipality_id": municipality, "national_id": national_id(offset + i), "display_name": format!("Load {i}"),
                    "children": if i % 3 == 0 { json!(["2019-05-01"]) } else { json!([]) },
                })).await?;
                let id = participant["id"].as_str().context("participant id")?.to_owned();
                post(&client, format!("{http}/v1/participants/{id}/programmes"), json!({
                    "start": "2020-01-06", "decision_reference": format!("LOAD-{i}"),
                })).await?;
                let mut seed = [0u8; 32];
                seed[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
                let key = SigningKey::from_bytes(&seed);
                post(&client, format!("{http}/v1/signer-keys"), json!({
                    "keyid": format!("load-{tag}-{i}"), "person_id": id, "role": "PARTICIPANT",
                    "public_key": public_key_to_base64(&key.verifying_key()), "valid_from": "2020-01-01T00:00:00Z",
                })).await?;
                made.push((i, id, key));
            }
        }));
    }
    let mut participants = Vec::with_capacity(n);
    for task in tasks {
        participants.extend(task.await??);
    }
    participants.sort_by_key(|(i, _, _)| *i);
    Ok(Setup {
        municipality: municipality.to_owned(),
        participants: participants
            .into_iter()
            .map(|(_, id, key)| (id, key))
            .collect(),
        supervisor,
        tag,
    })
}

/// The first and last day of month `month_index` (0 is 2020-01).
fn month_of(month_index: usize) -> anyhow::Result<(time::Date, time::Date)> {
    let year = 2020 + i32::try_from(month_index / 12)?;
    let month = time::Month::try_from(1 + u8::try_from(month_index % 12)?)?;
    Ok((
        time::Date::from_calendar_date(year, month, 1)?,
        time::Date::from_calendar_date(year, month, month.length(year))?,
    ))
}

/// A realistic month's entries for a participant: mostly attendance, some
/// sickness, leave, paid work and unexcused hours (kind as stored, hours).
fn entries(
    participant: usize,
    month_index: usize,
) -> anyhow::Result<Vec<(time::Date, &'static str, &'static str)>> {
    let (first, _) = month_of(month_index)?;
    let kinds = [
        ("SICK_SELF", "7.5"),
        ("PAID_WORK", "4"),
        ("LEAVE", "7.5"),
        ("UNEXCUSED", "2.5"),
        ("WELFARE", "3.5"),
        ("CHILD_SICK", "7.5"),
    ];
    let mut out = Vec::new();
    for (n, day) in [5u8, 9, 13, 17, 21, 25].into_iter().enumerate() {
        let date = first.replace_day(day)?;
        let weekday = !matches!(
            date.weekday(),
            time::Weekday::Saturday | time::Weekday::Sunday
        );
        if weekday && !(participant + month_index + n).is_multiple_of(3) {
            let (kind, hours) = kinds[(participant + n) % kinds.len()];
            out.push((date, kind, hours));
        }
    }
    Ok(out)
}

/// The month's timesheet of a participant, signed by them and the supervisor.
fn timesheet(setup: &Setup, participant: usize, month_index: usize) -> pb::SubmitTimesheetRequest {
    let (id, key) = &setup.participants[participant];
    let (first, last) = month_of(month_index).unwrap_or((time::Date::MIN, time::Date::MIN));
    let kind = |name: &str| match name {
        "SICK_SELF" => DayKind::SickSelf,
        "PAID_WORK" => DayKind::PaidWork,
        "LEAVE" => DayKind::Leave,
        "UNEXCUSED" => DayKind::Unexcused,
        "WELFARE" => DayKind::Welfare,
        _ => DayKind::ChildSick,
    };
    let timesheet = entries(participant, month_index)
        .unwrap_or_default()
        .into_iter()
        .fold(
            Timesheet::new(id, &setup.municipality, first, last)
                .client_reference(format!("load-{participant}-{month_index}")),
            |timesheet, (date, name, hours)| {
                timesheet.day(date, kind(name), hours.parse().unwrap_or_default())
            },
        );
    let participant_keyid = format!("load-{}-{participant}", setup.tag);
    let supervisor_keyid = format!("load-supervisor-{}", setup.tag);
    timesheet.sign(&[
        (participant_keyid.as_str(), key),
        (supervisor_keyid.as_str(), &setup.supervisor),
    ])
}

/// Creates (or renames) the municipality over REST: a change names the
/// version read (`If-Match`), a creation expects none (`If-None-Match: *`).
async fn put_municipality(http: &str, municipality: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let url = format!("{http}/v1/municipalities/{municipality}");
    let read = client
        .get(&url)
        .header("x-kvp-actor", "kvp-load")
        .send()
        .await?;
    let (header, value) = match read.headers().get("etag") {
        Some(etag) if read.status().is_success() => ("if-match", etag.to_str()?.to_owned()),
        _ => ("if-none-match", "*".to_owned()),
    };
    let response = client
        .put(&url)
        .header("x-kvp-actor", "kvp-load")
        .header(header, value)
        // A payroll system imports every line by a pay code (lønnsart) of
        // its own: a close stops naming any line code without one.
        .json(&json!({
            "name": "Load test",
            "pay_codes": {
                "KVP_BASE": "1130",
                "KVP_DEDUCTION_WAGE": "1131",
                "KVP_DEDUCTION_UNPAID_LEAVE": "1132",
                "KVP_DEDUCTION_ABSENCE": "1133",
                "KVP_CHILD_SUPPLEMENT": "1134",
                "KVP_DEDUCTION_OTHER_BENEFITS": "1135",
                "KVP_RECOVERY_CARRIED": "1139",
            },
            "accounting": {"ansvar": "1400", "tjeneste": "2760"},
        }))
        .send()
        .await?;
    if !response.status().is_success() {
        bail!("municipality: {}", response.status());
    }
    Ok(())
}

/// Submits every participant's timesheet of one month over gRPC.
async fn submit_month(
    client: &PayrollClient,
    setup: &Arc<Setup>,
    participants: usize,
    concurrency: usize,
    month_index: usize,
) {
    let (client, setup) = (client.clone(), setup.clone());
    let (samples, elapsed) = drive(participants, concurrency, move |i| {
        let (client, setup) = (client.clone(), setup.clone());
        async move {
            client
                .submit(&timesheet(&setup, i, month_index))
                .await
                .map(|_| ())
        }
    })
    .await;
    samples.report("setup: SubmitTimesheet", elapsed);
}

/// Times `ClosePeriod` of a month over gRPC and the streaming of its lines,
/// with the server's memory before and after.
async fn close_and_stream(
    client: &PayrollClient,
    municipality: &str,
    month: &str,
    server_pid: Option<u32>,
) -> anyhow::Result<()> {
    memory(server_pid, "before close");
    let started = Instant::now();
    let closed = client.close_period(municipality, month).await?;
    let close_time = started.elapsed();
    let run = closed.run.context("run")?;
    println!(
        "ClosePeriod {municipality} {month}: {} participants, {} lines, total {} kr in {} ms (created: {})",
        run.participant_count,
        run.line_count,
        run.total_amount,
        close_time.as_millis(),
        closed.created
    );
    memory(server_pid, "after close");
    let started = Instant::now();
    let mut stream = client.pay_lines(&run.run_id);
    let mut lines = 0usize;
    while stream.next().await?.is_some() {
        lines += 1;
    }
    println!(
        "StreamPayLines: {lines} lines in {} ms",
        started.elapsed().as_millis()
    );
    memory(server_pid, "after stream");
    Ok(())
}

/// Runs `requests` calls of `call` over `concurrency` workers sharing one channel.
/// Registers `participants` and submits `timesheets` signed months at the
/// chosen concurrency, reporting the rate and latencies.
async fn submit_load(
    cli: &Cli,
    channel: Channel,
    participants: usize,
    timesheets: usize,
) -> anyhow::Result<Reported> {
    let setup = Arc::new(setup(&cli.http, "4602", participants, cli.concurrency).await?);
    println!("registered {} participants", setup.participants.len());
    let months = timesheets.div_ceil(participants.max(1));
    if months > 72 {
        bail!("at most 72 months per participant: use more participants");
    }
    let requests: Arc<Vec<pb::SubmitTimesheetRequest>> = Arc::new(
        (0..timesheets)
            .map(|i| timesheet(&setup, i % participants, i / participants))
            .collect(),
    );
    // No retries: a benchmark counts every UNAVAILABLE as a failure.
    let client = PayrollClient::new(channel).with_retry(Retry::NONE);
    memory(cli.server_pid, "before");
    let (samples, elapsed) = drive(timesheets, cli.concurrency, move |i| {
        let (client, requests) = (client.clone(), requests.clone());
        async move { client.submit(&requests[i]).await.map(|_| ()) }
    })
    .await;
    let reported = samples.report("SubmitTimesheet", elapsed);
    memory(cli.server_pid, "after");
    Ok(reported)
}

async fn drive<F, Fut>(requests: usize, concurrency: usize, call: F) -> (Samples, Duration)
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<(), tonic::Status>> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (next, call) = (next.clone(), call.clone());
        workers.push(tokio::spawn(async move {
            let mut samples = Samples::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests {
                    return samples;
                }
                let t = Instant::now();
                match call(i).await {
                    Ok(()) => samples
                        .micros
                        .push(u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX)),
                    Err(status) => {
                        *samples
                            .failures
                            .entry(format!("{:?}", status.code()))
                            .or_default() += 1
                    }
                }
            }
        }));
    }
    let mut all = Samples::default();
    for worker in workers {
        if let Ok(samples) = worker.await {
            all.micros.extend(samples.micros);
            for (code, n) in samples.failures {
                *all.failures.entry(code).or_default() += n;
            }
        }
    }
    (all, started.elapsed())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let channel = Channel::from_shared(cli.grpc.clone())?
        .connect()
        .await
        .context("connecting to gRPC")?;
    match cli.command {
        Command::Health { requests } => {
            let client = tonic_health::pb::health_client::HealthClient::new(channel);
            memory(cli.server_pid, "before");
            let (samples, elapsed) = drive(requests, cli.concurrency, move |_| {
                let mut client = client.clone();
                async move {
                    client
                        .check(tonic_health::pb::HealthCheckRequest {
                            service: String::new(),
                        })
                        .await
                        .map(|_| ())
                }
            })
            .await;
            let _ = samples.report("grpc health check", elapsed);
            memory(cli.server_pid, "after");
        }
        Command::Submit {
            participants,
            timesheets,
        } => {
            submit_load(&cli, channel, participants, timesheets).await?;
        }
        Command::Ingestion {
            participants,
            timesheets,
            ref ceiling_database,
            ceiling_seconds,
        } => {
            let submitted = submit_load(&cli, channel, participants, timesheets).await?;
            let ceiling = ceiling::measure(
                ceiling_database,
                cli.concurrency,
                Duration::from_secs(ceiling_seconds),
            )
            .await?;
            let ms = |us: u64| format!("{}.{:03} ms", us / 1000, us % 1000);
            println!(
                "pgbench, one INSERT of a 600-byte row per transaction, {} clients: {}/s, mean latency {}",
                cli.concurrency,
                ceiling.per_second,
                ms(ceiling.latency_micros)
            );
            let per_mille = submitted.per_second * 1000 / ceiling.per_second.max(1);
            println!(
                "ratio SubmitTimesheet / storage ceiling: {}.{} % ({}/s of {}/s; SubmitTimesheet p99 {})",
                per_mille / 10,
                per_mille % 10,
                submitted.per_second,
                ceiling.per_second,
                ms(submitted.p99_micros)
            );
        }
        Command::Close {
            participants,
            municipality,
            months,
            seed_database,
            next,
            corrections,
        } => {
            // 2025-10 is month index 69 from 2020-01.
            const OCTOBER: usize = 69;
            // Seeded participants have no employee number: the run's answer
            // lists them all.
            let client = PayrollClient::new(channel)
                .with_retry(Retry::NONE)
                .with_max_answer_bytes(64 << 20);
            let seeded = match &seed_database {
                Some(url) => {
                    if months == 0 || months > OCTOBER {
                        bail!("--months must be 1 to {OCTOBER}");
                    }
                    let started = Instant::now();
                    put_municipality(&cli.http, &municipality).await?;
                    let db = seed::Db::open(url).await?;
                    let seeded = seed::participants(
                        &db,
                        &municipality,
                        participants,
                        OCTOBER + 1 - months..OCTOBER + 1,
                    )
                    .await?;
                    println!(
                        "setup: seeded {participants} participants with {months} month(s) of timesheets in the database in {} ms",
                        started.elapsed().as_millis()
                    );
                    Some((db, seeded))
                }
                None => {
                    if months != 1 || corrections != 0 {
                        bail!("--months above 1 and --corrections need --seed-database");
                    }
                    None
                }
            };
            let setup = match seeded {
                Some(_) => None,
                None => {
                    let setup = Arc::new(
                        setup(&cli.http, &municipality, participants, cli.concurrency).await?,
                    );
                    submit_month(&client, &setup, participants, cli.concurrency, OCTOBER).await;
                    Some(setup)
                }
            };
            close_and_stream(&client, &municipality, "2025-10", cli.server_pid).await?;
            if next {
                let started = Instant::now();
                match (&seeded, &setup) {
                    (Some((db, seeded)), _) => {
                        seed::timesheets(
                            db,
                            &municipality,
                            seeded,
                            0..participants,
                            OCTOBER + 1,
                            false,
                        )
                        .await?;
                        // The month before the one closed, if they have it.
                        let corrected = if months > 1 { OCTOBER - 1 } else { OCTOBER };
                        seed::timesheets(
                            db,
                            &municipality,
                            seeded,
                            0..corrections,
                            corrected,
                            true,
                        )
                        .await?;
                        db.analyze().await?;
                        println!(
                            "setup: seeded 2025-11 timesheets and {corrections} corrections of {} in {} ms",
                            if months > 1 { "2025-09" } else { "2025-10" },
                            started.elapsed().as_millis()
                        );
                    }
                    (None, Some(setup)) => {
                        submit_month(&client, setup, participants, cli.concurrency, OCTOBER + 1)
                            .await;
                    }
                    (None, None) => bail!("nothing was set up"),
                }
                close_and_stream(&client, &municipality, "2025-11", cli.server_pid).await?;
            }
        }
    }
    Ok(())
}
