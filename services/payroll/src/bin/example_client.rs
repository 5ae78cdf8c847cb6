//! An example client of the payroll service, end to end: registers a
//! municipality, a participant, a programme and two signer keys over REST, signs
//! a month's timesheet as a DSSE envelope, submits it over gRPC, submits it again
//! (idempotent), and reads the assessment and the caseworker's absence overview.
//!
//! ```sh
//! cargo run -p kvp-payroll                       # in one terminal
//! cargo run -p kvp-payroll --bin kvp-example-client
//! ```

use anyhow::{Context, bail};
use clap::Parser;
use kvp_client::{DayKind, PayrollClient, Timesheet};
use kvp_payroll::identity::synthetic_national_id;
use kvp_signing::{SigningKey, public_key_to_base64};
use rust_decimal::Decimal;
use serde_json::{Value, json};

/// Example client: registers, signs, submits and reads back.
#[derive(Debug, Parser)]
struct Args {
    /// The REST API.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    http: String,
    /// The gRPC endpoint.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    grpc: String,
}

/// A REST call as `example-client`. Every POST carries an `Idempotency-Key`
/// (a fresh one unless `key` is given), so that a retry of it, after a lost
/// answer, is safe.
async fn rest(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: Value,
) -> anyhow::Result<Value> {
    let key = (method == reqwest::Method::POST).then(|| uuid::Uuid::new_v4().to_string());
    rest_with_key(client, method, url, body, key.as_deref()).await
}

async fn rest_with_key(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: Value,
    key: Option<&str>,
) -> anyhow::Result<Value> {
    let mut request = client
        .request(method, &url)
        .header("x-kvp-actor", "example-client")
        .json(&body);
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    let response = request.send().await?;
    let status = response.status();
    let value: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("{url}: {status}: {value}");
    }
    Ok(value)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let http = reqwest::Client::new();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .subsec_nanos();

    // A municipality's settings change only from the version read (ETag and
    // If-Match); a new one is created with If-None-Match: *.
    let municipality = format!("{}/v1/municipalities/0301", args.http);
    let read = http
        .get(&municipality)
        .header("x-kvp-actor", "example-client")
        .send()
        .await?;
    let (precondition, value) = match read.headers().get("etag") {
        Some(etag) if read.status().is_success() => ("if-match", etag.to_str()?.to_owned()),
        _ => ("if-none-match", "*".to_owned()),
    };
    let response = http
        .put(&municipality)
        .header("x-kvp-actor", "example-client")
        .header(precondition, value)
        // The payroll system imports each line by a pay code (lønnsart) of
        // its own, frozen into the run's lines at close: a close stops,
        // naming the line codes without one, until all are registered.
        .json(&json!({
            "name": "Oslo",
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
        bail!("{municipality}: {}", response.status());
    }
    let registration = json!({
        "municipality_id": "0301",
        "national_id": synthetic_national_id("150190", seed % 500).context("synthetic identity number")?,
        "display_name": "Example Participant",
        "children": ["2021-03-14"],
    });
    let key = format!("example-registration-{seed}");
    let participant = rest_with_key(
        &http,
        reqwest::Method::POST,
        format!("{}/v1/participants", args.http),
        registration.clone(),
        Some(&key),
    )
    .await?;
    let participant_id = participant["id"]
        .as_str()
        .context("participant id")?
        .to_owned();
    println!("registered participant {participant_id}");
    // As a payroll system retries after a lost answer: the same key gives
    // the first answer again and registers nobody twice.
    let retried = rest_with_key(
        &http,
        reqwest::Method::POST,
        format!("{}/v1/participants", args.http),
        registration,
        Some(&key),
    )
    .await?;
    if retried["id"] != participant["id"] {
        bail!("the retried registration answered another participant: {retried}");
    }
    println!("retried the registration under its Idempotency-Key: the same participant");
    rest(
        &http,
        reqwest::Method::POST,
        format!("{}/v1/participants/{participant_id}/programmes", args.http),
        json!({
            "start": "2025-01-06", "end": "2026-12-31", "decision_reference": "KVP-2025-0001",
        }),
    )
    .await?;
    // What the municipality's payroll system knows the participant by: every
    // pay line carries it.
    let employee = rest(
        &http,
        reqwest::Method::PUT,
        format!(
            "{}/v1/participants/{participant_id}/employee-number",
            args.http
        ),
        json!({"employee_number": format!("EX-{seed}")}),
    )
    .await?;
    println!(
        "registered employee number {}",
        employee["employee_number"].as_str().unwrap_or_default()
    );

    let participant_key = SigningKey::from_bytes(&[seed.to_le_bytes()[0] | 1; 32]);
    let supervisor_key = SigningKey::from_bytes(&[seed.to_le_bytes()[1] | 2; 32]);
    let supervisor_id = format!("supervisor-{seed}");
    for (keyid, person, role, key) in [
        (
            format!("participant-{seed}"),
            participant_id.clone(),
            "PARTICIPANT",
            &participant_key,
        ),
        (
            format!("supervisor-{seed}"),
            supervisor_id.clone(),
            "SUPERVISOR",
            &supervisor_key,
        ),
    ] {
        rest(
            &http,
            reqwest::Method::POST,
            format!("{}/v1/signer-keys", args.http),
            json!({
                "keyid": keyid, "person_id": person, "role": role,
                "public_key": public_key_to_base64(&key.verifying_key()),
                "valid_from": "2025-01-01T00:00:00Z",
                // A supervisor approves for their municipality's participants.
                "municipality_id": (role == "SUPERVISOR").then_some("0301"),
            }),
        )
        .await?;
    }
    println!("registered participant and supervisor keys");

    let october = |day| time::Date::from_calendar_date(2025, time::Month::October, day);
    let mut timesheet = Timesheet::for_month(&participant_id, "0301", 2025, time::Month::October)
        .client_reference(format!("example-{seed}"));
    for day in 6..=9 {
        timesheet = timesheet.day(october(day)?, DayKind::SickSelf, Decimal::new(75, 1));
    }
    let request = timesheet
        .day(october(14)?, DayKind::Unexcused, Decimal::from(3))
        .day(october(21)?, DayKind::PaidWork, Decimal::from(4))
        .sign(&[
            (format!("participant-{seed}").as_str(), &participant_key),
            (format!("supervisor-{seed}").as_str(), &supervisor_key),
        ]);
    // Submissions are retried while the service is unavailable (a restart):
    // the service keys them on the payload's digest, so a retry is safe.
    let grpc = PayrollClient::connect(&args.grpc, None).await?;
    let first = grpc.submit(&request).await?;
    println!(
        "submitted timesheet {} (digest {}, duplicate: {})",
        first.timesheet_id, first.digest, first.duplicate
    );
    let assessment = first.assessment.context("assessment")?;
    println!("{assessment:#?}");
    let again = grpc.submit(&request).await?;
    println!(
        "submitted again: same timesheet {} (duplicate: {})",
        again.timesheet_id == first.timesheet_id,
        again.duplicate
    );

    let overview = http
        .get(format!(
            "{}/v1/participants/{participant_id}/absence-overview?as_of=2025-10-31",
            args.http
        ))
        .send()
        .await?
        .json::<Value>()
        .await?;
    println!(
        "absence overview: {}",
        serde_json::to_string_pretty(&overview)?
    );
    let month = http
        .get(format!(
            "{}/v1/participants/{participant_id}/months/2025-10",
            args.http
        ))
        .send()
        .await?
        .json::<Value>()
        .await?;
    println!(
        "October 2025: lines {} total {} flags {}",
        month["lines"], month["total"], month["flags"]
    );
    Ok(())
}
