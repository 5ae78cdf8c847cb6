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
use kvp_proto::kvp::payroll::v1 as pb;
use kvp_signing::{SigningKey, TIMESHEET_PAYLOAD_TYPE, public_key_to_base64};
use pb::payroll_service_client::PayrollServiceClient;
use prost::Message;
use serde_json::json;
use tonic::transport::Channel;

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
    /// Call the gRPC health check.
    Health {
        /// Calls to make.
        #[arg(long, default_value_t = 20000)]
        requests: usize,
    },
    /// Time a pay-period close for N participants.
    Close {
        /// Participants, each with one month's timesheet.
        #[arg(long, default_value_t = 1000)]
        participants: usize,
        /// The municipality to create and close (four digits).
        #[arg(long, default_value = "4601")]
        municipality: String,
    },
}

/// Latencies in microseconds, and failures by gRPC code.
#[derive(Default)]
struct Samples {
    micros: Vec<u64>,
    failures: std::collections::BTreeMap<String, usize>,
}

impl Samples {
    fn report(mut self, what: &str, elapsed: Duration) {
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
    let response = client
        .put(format!("{http}/v1/municipalities/{municipality}"))
        .json(&json!({"name": "Load test"}))
        .send()
        .await?;
    if !response.status().is_success() {
        bail!("municipality: {}", response.status());
    }
    let tag = format!(
        "{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs()
    );
    let supervisor = SigningKey::from_bytes(&[7; 32]);
    post(&client, format!("{http}/v1/signer-keys"), json!({
        "keyid": format!("load-supervisor-{tag}"), "person_id": "load-supervisor", "role": "SUPERVISOR",
        "public_key": public_key_to_base64(&supervisor.verifying_key()), "valid_from": "2020-01-01T00:00:00Z",
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

/// A realistic month: mostly attendance, some sickness, leave, paid work and unexcused hours.
fn timesheet(setup: &Setup, participant: usize, month_index: usize) -> pb::SubmitTimesheetRequest {
    let (id, key) = &setup.participants[participant];
    let year = 2020 + i32::try_from(month_index / 12).unwrap_or(0);
    let month = time::Month::try_from(1 + (month_index % 12) as u8).unwrap_or(time::Month::January);
    let first = time::Date::from_calendar_date(year, month, 1).unwrap_or(time::Date::MIN);
    let last = month.length(year);
    let on = |day: u8| time::Date::from_calendar_date(year, month, day).unwrap_or(first);
    let date = |day: u8| on(day).to_string();
    let weekday = |day: u8| {
        !matches!(
            on(day).weekday(),
            time::Weekday::Saturday | time::Weekday::Sunday
        )
    };
    let mut entries = Vec::new();
    let kinds = [
        (pb::DayKind::SickSelf, "7.5"),
        (pb::DayKind::PaidWork, "4"),
        (pb::DayKind::Leave, "7.5"),
        (pb::DayKind::Unexcused, "2.5"),
        (pb::DayKind::Welfare, "3.5"),
        (pb::DayKind::ChildSick, "7.5"),
    ];
    for (n, day) in [5, 9, 13, 17, 21, 25].into_iter().enumerate() {
        if weekday(day) && !(participant + month_index + n).is_multiple_of(3) {
            let (kind, hours) = kinds[(participant + n) % kinds.len()];
            entries.push(pb::DayEntry {
                date: date(day),
                kind: kind as i32,
                hours: hours.into(),
                note: String::new(),
            });
        }
    }
    let body = pb::TimesheetBody {
        participant_id: id.clone(),
        municipality_id: setup.municipality.clone(),
        period: Some(pb::DateRange {
            from_date: date(1),
            to_date: date(last),
        }),
        supersedes_timesheet_id: String::new(),
        entries,
        issued_at: None,
        client_reference: format!("load-{participant}-{month_index}"),
    };
    let participant_keyid = format!("load-{}-{participant}", setup.tag);
    let supervisor_keyid = format!("load-supervisor-{}", setup.tag);
    let envelope = kvp_signing::sign(
        TIMESHEET_PAYLOAD_TYPE,
        body.encode_to_vec(),
        &[
            (participant_keyid.as_str(), key),
            (supervisor_keyid.as_str(), &setup.supervisor),
        ],
    );
    pb::SubmitTimesheetRequest {
        envelope: Some(pb::Envelope {
            payload: envelope.payload,
            payload_type: envelope.payload_type,
            signatures: envelope
                .signatures
                .into_iter()
                .map(|s| pb::Signature {
                    sig: s.sig,
                    keyid: s.keyid,
                })
                .collect(),
        }),
    }
}

/// Runs `requests` calls of `call` over `concurrency` workers sharing one channel.
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
            samples.report("grpc health check", elapsed);
            memory(cli.server_pid, "after");
        }
        Command::Submit {
            participants,
            timesheets,
        } => {
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
            let client = PayrollServiceClient::new(channel);
            memory(cli.server_pid, "before");
            let (samples, elapsed) = drive(timesheets, cli.concurrency, move |i| {
                let (mut client, requests) = (client.clone(), requests.clone());
                async move {
                    client
                        .submit_timesheet(requests[i].clone())
                        .await
                        .map(|_| ())
                }
            })
            .await;
            samples.report("SubmitTimesheet", elapsed);
            memory(cli.server_pid, "after");
        }
        Command::Close {
            participants,
            municipality,
        } => {
            let setup =
                Arc::new(setup(&cli.http, &municipality, participants, cli.concurrency).await?);
            // One month's timesheet each: 2025-10 is month index 69 from 2020-01.
            let client = PayrollServiceClient::new(channel);
            let submit_client = client.clone();
            let setup_for_submit = setup.clone();
            let (samples, elapsed) = drive(participants, cli.concurrency, move |i| {
                let (mut client, setup) = (submit_client.clone(), setup_for_submit.clone());
                async move {
                    client
                        .submit_timesheet(timesheet(&setup, i, 69))
                        .await
                        .map(|_| ())
                }
            })
            .await;
            samples.report("setup: SubmitTimesheet", elapsed);
            memory(cli.server_pid, "before close");
            let mut client = client;
            let started = Instant::now();
            let closed = client
                .close_period(pb::ClosePeriodRequest {
                    municipality_id: municipality.clone(),
                    month: "2025-10".into(),
                })
                .await?
                .into_inner();
            let close_time = started.elapsed();
            let run = closed.run.context("run")?;
            println!(
                "ClosePeriod {municipality} 2025-10: {} participants, {} lines, total {} kr in {} ms (created: {})",
                run.participant_count,
                run.line_count,
                run.total_amount,
                close_time.as_millis(),
                closed.created
            );
            memory(cli.server_pid, "after close");
            let started = Instant::now();
            let mut stream = client
                .stream_pay_lines(pb::StreamPayLinesRequest { run_id: run.run_id })
                .await?
                .into_inner();
            let mut lines = 0usize;
            while stream.message().await?.is_some() {
                lines += 1;
            }
            println!(
                "StreamPayLines: {lines} lines in {} ms",
                started.elapsed().as_millis()
            );
            memory(cli.server_pid, "after stream");
        }
    }
    Ok(())
}
