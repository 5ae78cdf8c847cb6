//! The sandbox as an integrator's CI meets it: `kvp-payroll sandbox` started
//! as a process, its credentials read from the folder it wrote, and a month
//! gone through over mutual TLS and bearer tokens: submit a signed timesheet,
//! move the clock past the month's end, close, stream and confirm.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use kvp_client::{ClientRole, DayKind, SandboxFolder, Timesheet, pb};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tonic::Code;

/// The sandbox process; killed when dropped.
pub(crate) struct Sandbox {
    child: Child,
    pub(crate) folder: SandboxFolder,
    _dir: tempfile::TempDir,
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sandbox {
    /// Starts it on free ports and waits for its `sandbox.json`.
    pub(crate) async fn start(seed: u64) -> Self {
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
        let folder = match SandboxFolder::wait(dir.path(), Duration::from_secs(60)).await {
            Ok(folder) => folder,
            Err(e) => panic!("{e}; the process: {:?}", child.try_wait()),
        };
        Self {
            child,
            folder,
            _dir: dir,
        }
    }

    /// A REST call with `role`'s token: status, the sandbox header, body.
    pub(crate) async fn rest(
        &self,
        method: reqwest::Method,
        path: &str,
        role: &str,
        body: Option<Value>,
    ) -> (u16, Option<String>, Value) {
        let url = format!("{}{path}", self.folder.manifest().http_url);
        let mut request = reqwest::Client::new()
            .request(method, url)
            .bearer_auth(self.folder.token(role).unwrap());
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
    for participant in sandbox.folder.participants() {
        let path = format!("/v1/participants/{}", participant.id);
        let (status, _, body) = sandbox
            .rest(reqwest::Method::GET, &path, "caseworker", None)
            .await;
        assert_eq!(status, 200, "{body}");
        dates.push(body["birth_date"].clone());
    }
    dates
}

/// `YYYY-MM` of the month before `date`'s.
pub(crate) fn previous_month(date: time::Date) -> String {
    let last = date.replace_day(1).unwrap() - time::Duration::days(1);
    format!("{}-{:02}", last.year(), u8::from(last.month()))
}

#[tokio::test]
async fn an_integrator_goes_through_a_month_with_the_credentials_the_sandbox_wrote() {
    let sandbox = Sandbox::start(7).await;
    let folder = &sandbox.folder;
    assert_eq!(folder.municipality_id(), "9999");
    let participants = folder.participants();
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
    assert_eq!(today, folder.today());
    let month = format!("{}-{:02}", today.year(), u8::from(today.month()));

    // The first participant's last month holds absences: one unexcused day
    // decided (a deduction), the other awaiting its decision.
    let first_id = participants[0].id.as_str();
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

    // A timesheet for this month, signed with the keys in the folder: a day
    // of paid work, deducted hour for hour.
    let participant = &participants[1];
    let participant_id = participant.id.as_str();
    let request = Timesheet::new(participant_id, "9999", first, last)
        .client_reference("sandbox-test")
        .day(first, DayKind::PaidWork, Decimal::from(4))
        .sign(&[
            (
                participant.signer.keyid.as_str(),
                &folder.signing_key(&participant.signer).unwrap(),
            ),
            (
                folder.supervisor().keyid.as_str(),
                &folder.signing_key(folder.supervisor()).unwrap(),
            ),
        ]);
    let timesheets = folder.connect(ClientRole::TimesheetClient).await.unwrap();
    let submitted = timesheets
        .grpc()
        .submit_timesheet(request.clone())
        .await
        .unwrap();
    assert_eq!(
        submitted
            .metadata()
            .get("kvp-sandbox")
            .map(|v| v.to_str().unwrap()),
        Some("true")
    );
    let submitted = submitted.into_inner();
    assert!(!submitted.duplicate);
    // Submitted again (a retry after a lost answer): the stored answer.
    let again = timesheets.submit(&request).await.unwrap();
    assert_eq!(
        (again.timesheet_id.as_str(), again.duplicate),
        (submitted.timesheet_id.as_str(), true)
    );

    // The month has not ended: it cannot be closed yet.
    let payroll = folder.connect(ClientRole::PayrollSystem).await.unwrap();
    let early = payroll.close_period("9999", &month).await.unwrap_err();
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
    let closed = payroll.close_period("9999", &month).await.unwrap();
    assert!(closed.created);
    let run = closed.run.unwrap();
    let listed = payroll.list_pay_runs("9999", None).await.unwrap();
    assert_eq!(
        listed.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(),
        [run.run_id.as_str()]
    );
    let mut stream = payroll.pay_lines(&run.run_id);
    let mut gross = Decimal::ZERO;
    let mut wage_deduction = None;
    while let Some(line) = stream.next().await.unwrap() {
        if line.participant_id == participant_id {
            gross += line.amount.parse::<Decimal>().unwrap();
            if line.line_code == pb::LineCode::KvpDeductionWage as i32 {
                wage_deduction = Some((line.quantity, line.amount));
            }
        }
    }
    // The four hours of paid work on the timesheet are deducted hour for hour.
    let (hours, amount) = wage_deduction.expect("a wage deduction line");
    assert_eq!(hours.parse::<Decimal>().unwrap(), Decimal::from(4));
    assert!(
        amount.parse::<Decimal>().unwrap() < Decimal::ZERO,
        "{amount}"
    );
    assert!(gross > Decimal::ZERO, "{gross}");
    let gross = format!("{gross:.2}");
    let confirmed = payroll
        .confirm_payment(&pb::ConfirmPaymentRequest {
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
    let drawn = |sandbox: &Sandbox| -> Vec<(String, Vec<time::Date>, String, String)> {
        let folder = &sandbox.folder;
        folder
            .participants()
            .iter()
            .map(|p| {
                let key = folder.signing_key(&p.signer).unwrap();
                (
                    p.display_name.clone(),
                    p.children.clone(),
                    p.signer.keyid.clone(),
                    STANDARD.encode(key.verifying_key().as_bytes()),
                )
            })
            .collect()
    };
    let (first, second, other) = (
        Sandbox::start(11).await,
        Sandbox::start(11).await,
        Sandbox::start(12).await,
    );
    assert_eq!(drawn(&first), drawn(&second));
    assert_ne!(drawn(&first), drawn(&other));
    assert_eq!(birth_dates(&first).await, birth_dates(&second).await);
}
