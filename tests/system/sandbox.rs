//! The sandbox as an integrator's CI meets it: `kvp-payroll sandbox` started
//! as a process, its credentials read from the folder it wrote, and a month
//! gone through over mutual TLS and bearer tokens: submit a signed timesheet,
//! move the clock past the month's end, close, stream and confirm.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use kvp_proto::kvp::payroll::v1 as pb;
use kvp_signing::SigningKey;
use pb::payroll_service_client::PayrollServiceClient;
use prost::Message as _;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tonic::Code;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

/// The sandbox process; killed when dropped.
struct Sandbox {
    child: Child,
    dir: tempfile::TempDir,
    manifest: Value,
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sandbox {
    /// Starts it on free ports and waits for its `sandbox.json`.
    fn start(seed: u64) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_kvp-payroll-under-test"))
            .args(["sandbox", "--grpc-port", "0", "--http-port", "0", "--seed"])
            .arg(seed.to_string())
            .arg("--dir")
            .arg(dir.path())
            .env_remove("KVP_DATABASE_URL")
            .env_remove("KVP_CONFIG")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let manifest = dir.path().join("sandbox.json");
        let deadline = Instant::now() + Duration::from_secs(60);
        while !manifest.exists() {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("the sandbox exited: {status}");
            }
            assert!(Instant::now() < deadline, "no sandbox.json within 60 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        let manifest = serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
        Self {
            child,
            dir,
            manifest,
        }
    }

    fn path(&self, pointer: &str) -> PathBuf {
        self.dir
            .path()
            .join(self.manifest.pointer(pointer).unwrap().as_str().unwrap())
    }

    fn read(&self, pointer: &str) -> String {
        std::fs::read_to_string(self.path(pointer)).unwrap()
    }

    /// A gRPC client presenting the certificate `kind` (`payroll_system`,
    /// `timesheet_client`).
    async fn grpc(&self, kind: &str) -> PayrollServiceClient<Channel> {
        let tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(self.read("/ca")))
            .identity(Identity::from_pem(
                self.read(&format!("/certificates/{kind}/cert")),
                self.read(&format!("/certificates/{kind}/key")),
            ))
            .domain_name("localhost");
        let url = self.manifest["grpc_url"].as_str().unwrap().to_owned();
        let channel = Channel::from_shared(url)
            .unwrap()
            .tls_config(tls)
            .unwrap()
            .connect()
            .await
            .unwrap();
        PayrollServiceClient::new(channel)
    }

    /// A REST call with `role`'s token: status, the sandbox header, body.
    async fn rest(
        &self,
        method: reqwest::Method,
        path: &str,
        role: &str,
        body: Option<Value>,
    ) -> (u16, Option<String>, Value) {
        let url = format!("{}{path}", self.manifest["http_url"].as_str().unwrap());
        let token = self.read(&format!("/tokens/{role}"));
        let mut request = reqwest::Client::new()
            .request(method, url)
            .bearer_auth(token.trim());
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let mark = response
            .headers()
            .get("kvp-sandbox")
            .map(|v| v.to_str().unwrap().to_owned());
        (status, mark, response.json().await.unwrap_or(Value::Null))
    }
}

/// The participants' birth dates, as REST shows them (drawn from the seed:
/// the identity numbers never leave the service).
async fn birth_dates(sandbox: &Sandbox) -> Vec<Value> {
    let mut dates = Vec::new();
    for participant in sandbox.manifest["participants"].as_array().unwrap() {
        let path = format!("/v1/participants/{}", participant["id"].as_str().unwrap());
        let (status, _, body) = sandbox
            .rest(reqwest::Method::GET, &path, "caseworker", None)
            .await;
        assert_eq!(status, 200, "{body}");
        dates.push(body["birth_date"].clone());
    }
    dates
}

/// `YYYY-MM` of the month before `date`'s.
fn previous_month(date: time::Date) -> String {
    let last = date.replace_day(1).unwrap() - time::Duration::days(1);
    format!("{}-{:02}", last.year(), u8::from(last.month()))
}

/// A signing key as the folder keeps it (base64 of the 32 private bytes).
fn key(path: &Path) -> SigningKey {
    let bytes = STANDARD
        .decode(std::fs::read_to_string(path).unwrap().trim())
        .unwrap();
    SigningKey::from_bytes(&bytes.try_into().unwrap())
}

#[tokio::test]
async fn an_integrator_goes_through_a_month_with_the_credentials_the_sandbox_wrote() {
    let sandbox = Sandbox::start(7);
    let manifest = &sandbox.manifest;
    assert_eq!(manifest["municipality_id"], "9999");
    let participants = manifest["participants"].as_array().unwrap();
    assert_eq!(participants.len(), 3);

    // The clock starts at today's date, and every answer is marked.
    let (status, mark, clock) = sandbox
        .rest(
            reqwest::Method::GET,
            "/v1/sandbox/clock",
            "caseworker",
            None,
        )
        .await;
    assert_eq!((status, mark.as_deref()), (200, Some("true")), "{clock}");
    let today = time::Date::parse(
        clock["today"].as_str().unwrap(),
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .unwrap();
    assert_eq!(clock["today"], manifest["today"]);
    let month = format!("{}-{:02}", today.year(), u8::from(today.month()));

    // The first participant's last month holds absences: one unexcused day
    // decided (a deduction), the other awaiting its decision.
    let first_id = participants[0]["id"].as_str().unwrap();
    let (status, _, decisions) = sandbox
        .rest(
            reqwest::Method::GET,
            &format!("/v1/participants/{first_id}/sanction-decisions"),
            "caseworker",
            None,
        )
        .await;
    assert_eq!(status, 200, "{decisions}");
    assert_eq!(decisions.as_array().unwrap().len(), 1, "{decisions}");
    assert_eq!(decisions[0]["reference"], "SANDBOX-VEDTAK-1");
    let (status, _, worklist) = sandbox
        .rest(
            reqwest::Method::GET,
            "/v1/municipalities/9999/worklist",
            "caseworker",
            None,
        )
        .await;
    assert_eq!(status, 200, "{worklist}");
    let awaiting: Vec<&Value> = worklist["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|item| item["kind"] == "absence_awaiting_decision")
        .collect();
    assert_eq!(awaiting.len(), 1, "{worklist}");
    assert_eq!(awaiting[0]["participant_id"], first_id);
    assert_eq!(awaiting[0]["month"], previous_month(today));
    let first = today.replace_day(1).unwrap();
    let next_month = (first + time::Duration::days(32)).replace_day(1).unwrap();
    let last = next_month - time::Duration::days(1);

    // A timesheet for this month, signed with the keys in the folder.
    let participant = &participants[1];
    let participant_id = participant["id"].as_str().unwrap();
    let body = pb::TimesheetBody {
        participant_id: participant_id.into(),
        municipality_id: "9999".into(),
        period: Some(pb::DateRange {
            from_date: first.to_string(),
            to_date: last.to_string(),
        }),
        supersedes_timesheet_id: String::new(),
        entries: Vec::new(),
        issued_at: None,
        client_reference: "sandbox-test".into(),
    };
    let participant_key = key(&sandbox
        .dir
        .path()
        .join(participant["private_key"].as_str().unwrap()));
    let supervisor_key = key(&sandbox.path("/supervisor/private_key"));
    let request = kvp_system_tests::sign(
        body.encode_to_vec(),
        &[
            (participant["keyid"].as_str().unwrap(), &participant_key),
            (
                manifest["supervisor"]["keyid"].as_str().unwrap(),
                &supervisor_key,
            ),
        ],
    );
    let submitted = sandbox
        .grpc("timesheet_client")
        .await
        .submit_timesheet(request)
        .await
        .unwrap();
    assert_eq!(
        submitted
            .metadata()
            .get("kvp-sandbox")
            .map(|v| v.to_str().unwrap()),
        Some("true")
    );
    assert!(!submitted.into_inner().duplicate);

    // The month has not ended: it cannot be closed yet.
    let mut payroll = sandbox.grpc("payroll_system").await;
    let close = pb::ClosePeriodRequest {
        municipality_id: "9999".into(),
        month: month.clone(),
    };
    let early = payroll.close_period(close.clone()).await.unwrap_err();
    assert_eq!(early.code(), Code::FailedPrecondition, "{early:?}");

    // Only an administrator moves the clock, and only forward.
    let move_to = |date: time::Date| Some(json!({"today": date.to_string()}));
    let (status, _, _) = sandbox
        .rest(
            reqwest::Method::PUT,
            "/v1/sandbox/clock",
            "caseworker",
            move_to(next_month),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _, refused) = sandbox
        .rest(
            reqwest::Method::PUT,
            "/v1/sandbox/clock",
            "administrator",
            move_to(today - time::Duration::days(1)),
        )
        .await;
    assert_eq!(
        (status, &refused["errors"][0]["field"]),
        (400, &json!("today")),
        "{refused}"
    );
    let (status, _, moved) = sandbox
        .rest(
            reqwest::Method::PUT,
            "/v1/sandbox/clock",
            "administrator",
            move_to(next_month),
        )
        .await;
    assert_eq!(
        (status, &moved["today"]),
        (200, &json!(next_month.to_string()))
    );

    // Now the month closes, its lines stream, and a payslip is confirmed.
    let run = payroll
        .close_period(close)
        .await
        .unwrap()
        .into_inner()
        .run
        .unwrap();
    let mut stream = payroll
        .stream_pay_lines(pb::StreamPayLinesRequest {
            run_id: run.run_id.clone(),
            after_line_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut gross = Decimal::ZERO;
    let mut lines = 0;
    while let Some(message) = stream.message().await.unwrap() {
        let line = message.pay_line.unwrap();
        if line.participant_id == participant_id {
            lines += 1;
            gross += line.amount.parse::<Decimal>().unwrap();
        }
    }
    assert!(lines > 0 && gross > Decimal::ZERO, "{lines} lines, {gross}");
    let gross = format!("{gross:.2}");
    let confirmed = payroll
        .confirm_payment(pb::ConfirmPaymentRequest {
            run_id: run.run_id.clone(),
            participant_id: participant_id.into(),
            gross: gross.clone(),
            tax_withheld: "0.00".into(),
            net_paid: gross,
            outcome: pb::PaymentOutcome::Paid as i32,
            failure_reason: String::new(),
            payment_date: next_month.to_string(),
        })
        .await;
    assert!(confirmed.is_ok(), "{confirmed:?}");
    // The run is dated by the sandbox's clock: the day the month ended or later.
    let closed_at = run.closed_at.unwrap().seconds;
    let midnight = next_month.midnight().assume_utc().unix_timestamp();
    assert!(
        closed_at >= midnight - 2 * 3600,
        "closed at {closed_at}, the month ended {midnight}"
    );
}

#[test]
fn the_sandbox_refuses_a_database_of_its_own_choosing() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_kvp-payroll-under-test"))
        .args(["sandbox", "--grpc-port", "0", "--http-port", "0", "--dir"])
        .arg(dir.path())
        .env(
            "KVP_DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/postgres",
        )
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "the sandbox uses its own embedded database and settings: unset KVP_DATABASE_URL"
        ),
        "{stderr}"
    );
    assert!(!dir.path().join("sandbox.json").exists());
}

#[tokio::test]
async fn the_same_seed_makes_the_same_municipality() {
    // What a seed decides: names, birth dates, children, signing keys (the
    // ids are the service's own, made at registration).
    let drawn = |sandbox: &Sandbox| -> Vec<(Value, Value, Value, String)> {
        sandbox.manifest["participants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let key = key(&sandbox.dir.path().join(p["private_key"].as_str().unwrap()));
                (
                    p["display_name"].clone(),
                    p["children"].clone(),
                    p["keyid"].clone(),
                    STANDARD.encode(key.verifying_key().as_bytes()),
                )
            })
            .collect()
    };
    let (first, second, other) = (Sandbox::start(11), Sandbox::start(11), Sandbox::start(12));
    assert_eq!(drawn(&first), drawn(&second));
    assert_ne!(drawn(&first), drawn(&other));
    assert_eq!(birth_dates(&first).await, birth_dates(&second).await);
}
