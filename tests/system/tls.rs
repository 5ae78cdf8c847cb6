//! gRPC over TLS with client certificates: every payroll RPC refuses a caller
//! without a certificate (UNAUTHENTICATED), with a certificate outside the
//! profile (UNAUTHENTICATED), of the wrong client kind or of another
//! municipality (PERMISSION_DENIED), and serves the right one; a certificate
//! from another CA does not get through the handshake. The outbox relay
//! reaches a top-up service with TLS of its own over mutual TLS, and that
//! service takes events from the payroll service's certificate alone. A
//! certificate revoked in the client CA's revocation list fails its next
//! handshake as soon as the service has re-read the changed file.

use kvp_proto::kvp::payroll::v1 as pb;
use kvp_proto::kvp::topup::v1::DeliverRequest;
use kvp_proto::kvp::topup::v1::event_sink_service_client::EventSinkServiceClient;
use kvp_system_tests::{Fixture, TestApp, TopupApp, eventually};
use pb::payroll_service_client::PayrollServiceClient;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, RevocationReason,
    RevokedCertParams, SanType, SerialNumber, date_time_ymd,
};
use tonic::Code;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

/// A certificate authority that signs the service's and the clients' certificates.
struct Authority {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Authority {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().unwrap();
        let pem = params.self_signed(&key).unwrap().pem();
        Self {
            pem,
            issuer: Issuer::new(params, key),
        }
    }

    /// A leaf certificate and its key, both PEM.
    fn issue(&self, params: CertificateParams) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    fn server(&self) -> (String, String) {
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params
            .subject_alt_names
            .push(SanType::IpAddress([127, 0, 0, 1].into()));
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.issue(params)
    }

    /// A client certificate carrying `uris` as URI alternative names.
    fn client(&self, uris: &[&str]) -> Identity {
        self.numbered_client(next_serial(), uris)
    }

    /// A client certificate with the serial number `serial`.
    fn numbered_client(&self, serial: u64, uris: &[&str]) -> Identity {
        let mut params = CertificateParams::new(Vec::new()).unwrap();
        params.serial_number = Some(SerialNumber::from(serial));
        params
            .distinguished_name
            .push(DnType::CommonName, "payroll client");
        params.subject_alt_names = uris
            .iter()
            .map(|uri| SanType::URI((*uri).try_into().unwrap()))
            .collect();
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let (cert, key) = self.issue(params);
        Identity::from_pem(cert, key)
    }

    /// The CA's revocation list (PEM) revoking the certificates numbered
    /// `serials`; `number` orders successive lists.
    fn revocation_list(&self, number: u64, serials: &[u64]) -> String {
        CertificateRevocationListParams {
            this_update: date_time_ymd(2025, 1, 1),
            next_update: date_time_ymd(2099, 1, 1),
            crl_number: SerialNumber::from(number),
            issuing_distribution_point: None,
            revoked_certs: serials
                .iter()
                .map(|serial| RevokedCertParams {
                    serial_number: SerialNumber::from(*serial),
                    revocation_time: date_time_ymd(2025, 6, 1),
                    reason_code: Some(RevocationReason::KeyCompromise),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        }
        .signed_by(&self.issuer)
        .unwrap()
        .pem()
        .unwrap()
    }
}

/// A serial number no other certificate of the test shares.
fn next_serial() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1_000);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// A service with TLS on, the directory holding its PEM files, and its CA.
async fn spawn_with_tls() -> (TestApp, tempfile::TempDir, Authority) {
    let ca = Authority::new("KVP municipal clients");
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = ca.server();
    let path = |name: &str| dir.path().join(name);
    std::fs::write(path("server.pem"), cert).unwrap();
    std::fs::write(path("server.key"), key).unwrap();
    std::fs::write(path("clients-ca.pem"), &ca.pem).unwrap();
    let tls = kvp_payroll::config::TlsConfig {
        cert: path("server.pem"),
        key: path("server.key"),
        client_ca: path("clients-ca.pem"),
        client_crl: None,
    };
    let app = TestApp::spawn_configured(|config| config.tls = Some(tls)).await;
    (app, dir, ca)
}

/// A TLS client trusting `ca`, presenting `identity` if any.
async fn client(
    app: &TestApp,
    ca: &Authority,
    identity: Option<Identity>,
) -> Result<PayrollServiceClient<Channel>, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&ca.pem))
        .domain_name("localhost");
    if let Some(identity) = identity {
        tls = tls.identity(identity);
    }
    let channel = Channel::from_shared(format!("https://{}", app.grpc_addr))
        .unwrap()
        .tls_config(tls)?
        .connect()
        .await?;
    Ok(PayrollServiceClient::new(channel))
}

const PAYROLL_SYSTEM: &str = "urn:kvp:client:payroll-system";
const TIMESHEET_CLIENT: &str = "urn:kvp:client:timesheet-client";
const OSLO: &str = "urn:kvp:municipality:0301";
const BERGEN: &str = "urn:kvp:municipality:4601";

/// Every payroll RPC against one client, by name, with its status code.
async fn every_rpc(
    client: &mut PayrollServiceClient<Channel>,
    fixture: &Fixture,
    run: &pb::PayRun,
) -> Vec<(&'static str, Code)> {
    let run_id = run.run_id.as_str();
    let code = |result: Result<Code, tonic::Status>| result.unwrap_or_else(|s| s.code());
    let timesheet = fixture.signed(&fixture.body("2025-10-01", "2025-10-31", &[]));
    let mut codes = vec![(
        "SubmitTimesheet",
        code(client.submit_timesheet(timesheet).await.map(|_| Code::Ok)),
    )];
    codes.push((
        "ClosePeriod",
        code(
            client
                .close_period(pb::ClosePeriodRequest {
                    municipality_id: "0301".into(),
                    month: "2025-10".into(),
                })
                .await
                .map(|_| Code::Ok),
        ),
    ));
    let stream = client
        .stream_pay_lines(pb::StreamPayLinesRequest {
            run_id: run_id.to_owned(),
            after_line_id: String::new(),
        })
        .await;
    let streamed = match stream {
        Ok(response) => {
            let mut lines = response.into_inner();
            let mut count = 0;
            while let Some(line) = lines.message().await.unwrap() {
                assert_eq!(line.pay_line.unwrap().run_id, run_id);
                count += 1;
            }
            assert!(count > 0, "a served stream carries the run's lines");
            Ok(Code::Ok)
        }
        Err(status) => Err(status),
    };
    codes.push(("StreamPayLines", code(streamed)));
    codes.push((
        "ConfirmPayment",
        code(
            client
                .confirm_payment(pb::ConfirmPaymentRequest {
                    run_id: run_id.to_owned(),
                    participant_id: fixture.participant_id.clone(),
                    // One participant: the payslip's gross is the run's total.
                    gross: run.total_amount.clone(),
                    tax_withheld: "0.00".into(),
                    net_paid: run.total_amount.clone(),
                    outcome: pb::PaymentOutcome::Paid as i32,
                    failure_reason: String::new(),
                    payment_date: "2025-11-12".into(),
                })
                .await
                .map(|_| Code::Ok),
        ),
    ));
    codes.push((
        "GetPayRun",
        code(
            client
                .get_pay_run(pb::GetPayRunRequest {
                    run_id: run_id.to_owned(),
                })
                .await
                .map(|_| Code::Ok),
        ),
    ));
    codes.push((
        "ListPayRuns",
        code(
            client
                .list_pay_runs(pb::ListPayRunsRequest {
                    municipality_id: "0301".into(),
                    ..Default::default()
                })
                .await
                .map(|_| Code::Ok),
        ),
    ));
    // The confirmation above again, in a batch: a duplicate.
    codes.push((
        "BatchConfirmPayments",
        code(
            client
                .batch_confirm_payments(pb::BatchConfirmPaymentsRequest {
                    run_id: run_id.to_owned(),
                    payments: vec![pb::PayslipPayment {
                        participant_id: fixture.participant_id.clone(),
                        gross: run.total_amount.clone(),
                        tax_withheld: "0.00".into(),
                        net_paid: run.total_amount.clone(),
                        outcome: pb::PaymentOutcome::Paid as i32,
                        failure_reason: String::new(),
                        payment_date: "2025-11-12".into(),
                    }],
                })
                .await
                .map(|_| Code::Ok),
        ),
    ));
    codes
}

/// Who calls, with which certificate, and the code each RPC answers.
type Case = (&'static str, Option<Identity>, Vec<(&'static str, Code)>);

#[tokio::test]
async fn every_rpc_requires_a_certificate_of_the_right_kind_and_municipality() {
    let (app, _dir, ca) = spawn_with_tls().await;
    let fixture = Fixture::new(&app).await;

    // The legitimate clients of Oslo: a timesheet client submits, the payroll
    // system closes; the run is then the object of the payroll calls below.
    let mut timesheets = client(&app, &ca, Some(ca.client(&[OSLO, TIMESHEET_CLIENT])))
        .await
        .unwrap();
    let accepted = timesheets
        .submit_timesheet(fixture.signed(&fixture.body("2025-10-01", "2025-10-31", &[])))
        .await
        .unwrap()
        .into_inner();
    assert!(!accepted.duplicate);
    let mut payroll = client(&app, &ca, Some(ca.client(&[OSLO, PAYROLL_SYSTEM])))
        .await
        .unwrap();
    let run = payroll
        .close_period(pb::ClosePeriodRequest {
            municipality_id: "0301".into(),
            month: "2025-10".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .run
        .unwrap();
    assert_eq!(run.participant_count, 1);

    let refused = |code: Code| {
        vec![
            ("SubmitTimesheet", code),
            ("ClosePeriod", code),
            ("StreamPayLines", code),
            ("ConfirmPayment", code),
            ("GetPayRun", code),
            ("ListPayRuns", code),
            ("BatchConfirmPayments", code),
        ]
    };
    let cases: Vec<Case> = vec![
        ("no certificate", None, refused(Code::Unauthenticated)),
        (
            "no municipality in the certificate",
            Some(ca.client(&[PAYROLL_SYSTEM, TIMESHEET_CLIENT])),
            refused(Code::Unauthenticated),
        ),
        (
            "no client kind in the certificate",
            Some(ca.client(&[OSLO])),
            refused(Code::Unauthenticated),
        ),
        (
            "two municipalities in the certificate",
            Some(ca.client(&[OSLO, BERGEN, PAYROLL_SYSTEM])),
            refused(Code::Unauthenticated),
        ),
        (
            "a municipality that is not a municipality number",
            Some(ca.client(&["urn:kvp:municipality:Oslo", PAYROLL_SYSTEM])),
            refused(Code::Unauthenticated),
        ),
        (
            "an unknown client kind",
            Some(ca.client(&[OSLO, PAYROLL_SYSTEM, "urn:kvp:client:bank"])),
            refused(Code::Unauthenticated),
        ),
        (
            "another municipality's clients",
            Some(ca.client(&[BERGEN, PAYROLL_SYSTEM, TIMESHEET_CLIENT])),
            refused(Code::PermissionDenied),
        ),
        (
            "Oslo's timesheet client",
            Some(ca.client(&[OSLO, TIMESHEET_CLIENT])),
            vec![
                // The same payload again: the stored answer (idempotent).
                ("SubmitTimesheet", Code::Ok),
                ("ClosePeriod", Code::PermissionDenied),
                ("StreamPayLines", Code::PermissionDenied),
                ("ConfirmPayment", Code::PermissionDenied),
                ("GetPayRun", Code::PermissionDenied),
                ("ListPayRuns", Code::PermissionDenied),
                ("BatchConfirmPayments", Code::PermissionDenied),
            ],
        ),
        (
            "Oslo's payroll system",
            Some(ca.client(&[OSLO, PAYROLL_SYSTEM])),
            vec![
                ("SubmitTimesheet", Code::PermissionDenied),
                ("ClosePeriod", Code::Ok),
                ("StreamPayLines", Code::Ok),
                ("ConfirmPayment", Code::Ok),
                ("GetPayRun", Code::Ok),
                ("ListPayRuns", Code::Ok),
                ("BatchConfirmPayments", Code::Ok),
            ],
        ),
    ];
    for (who, identity, expected) in cases {
        let mut caller = client(&app, &ca, identity).await.unwrap();
        let codes = every_rpc(&mut caller, &fixture, &run).await;
        assert_eq!(codes, expected, "{who}");
    }

    // Nothing the refused callers sent was stored: one timesheet, one run, and
    // the one confirmation is Oslo's payroll system's.
    let timesheets = app
        .get(&format!(
            "/v1/participants/{}/timesheets",
            fixture.participant_id
        ))
        .await;
    assert_eq!(timesheets.as_array().unwrap().len(), 1);
    let runs = app.get("/v1/municipalities/0301/runs").await;
    assert_eq!(runs.as_array().unwrap().len(), 1);
    let trail = app.get(&format!("/v1/audit/pay_run/{}", run.run_id)).await;
    let entries: Vec<(&str, &str)> = trail
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["actor"].as_str().unwrap()))
        .collect();
    assert_eq!(
        entries,
        vec![
            ("period.closed", "payroll-system:0301"),
            ("payment.confirmed", "payroll-system:0301"),
        ]
    );
    app.stop().await;
}

#[tokio::test]
async fn a_certificate_from_another_authority_or_plain_tcp_does_not_connect() {
    let (app, _dir, ca) = spawn_with_tls().await;
    let rogue = Authority::new("Not the municipal client CA");
    // The server's certificate is trusted, the client's is signed by a CA the
    // service does not know: the handshake fails before any RPC.
    let outcome = match client(&app, &ca, Some(rogue.client(&[OSLO, PAYROLL_SYSTEM]))).await {
        Err(e) => Err(e.to_string()),
        Ok(mut c) => c
            .close_period(pb::ClosePeriodRequest {
                municipality_id: "0301".into(),
                month: "2025-10".into(),
            })
            .await
            .map(|_| ())
            .map_err(|s| format!("{:?}", s.code())),
    };
    let error = outcome.unwrap_err();
    assert!(
        !error.contains("PermissionDenied") && !error.contains("Unauthenticated"),
        "refused at the handshake, not by the service: {error}"
    );

    // Plain HTTP/2 to the TLS port fails as a transport error too.
    let mut plain = app.grpc.clone();
    let status = plain
        .close_period(pb::ClosePeriodRequest {
            municipality_id: "0301".into(),
            month: "2025-10".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        (status.code(), status.message()),
        (Code::Unknown, "transport error"),
        "{status:?}"
    );

    // A client without a certificate may still ask whether the service is up.
    let channel = Channel::from_shared(format!("https://{}", app.grpc_addr))
        .unwrap()
        .tls_config(
            ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(&ca.pem))
                .domain_name("localhost"),
        )
        .unwrap()
        .connect()
        .await
        .unwrap();
    let health = tonic_health::pb::health_client::HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest {
            service: "kvp.payroll.v1.PayrollService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        health.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    app.stop().await;
}

#[tokio::test]
async fn a_revoked_client_certificate_fails_its_next_handshake_once_the_list_changes() {
    let ca = Authority::new("KVP municipal clients");
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    let (cert, key) = ca.server();
    std::fs::write(path("server.pem"), cert).unwrap();
    std::fs::write(path("server.key"), key).unwrap();
    std::fs::write(path("clients-ca.pem"), &ca.pem).unwrap();
    std::fs::write(path("clients-ca.crl"), ca.revocation_list(1, &[])).unwrap();
    let tls = kvp_payroll::config::TlsConfig {
        cert: path("server.pem"),
        key: path("server.key"),
        client_ca: path("clients-ca.pem"),
        client_crl: Some(path("clients-ca.crl")),
    };
    let app = TestApp::spawn_configured(|config| config.tls = Some(tls)).await;
    // Oslo, registered, so that its month can be closed.
    let _oslo = Fixture::new(&app).await;
    let (kept, lost) = (2001, 2002);
    let answer = |serial: u64| {
        answer(
            &app,
            &ca,
            ca.numbered_client(serial, &[OSLO, PAYROLL_SYSTEM]),
        )
    };

    // Neither is revoked: both reach the service, which closes the month.
    assert_eq!(answer(kept).await, Some(Code::Ok));
    assert_eq!(answer(lost).await, Some(Code::Ok));
    // A connection opened now outlives the revocation below.
    let mut open = client(
        &app,
        &ca,
        Some(ca.numbered_client(lost, &[OSLO, PAYROLL_SYSTEM])),
    )
    .await
    .unwrap();
    let close = pb::ClosePeriodRequest {
        municipality_id: "0301".into(),
        month: "2025-10".into(),
    };
    open.close_period(close.clone()).await.unwrap();

    // The CA revokes one; the service re-reads the list without a restart.
    std::fs::write(path("clients-ca.crl"), ca.revocation_list(2, &[lost])).unwrap();
    eventually(10, || async { answer(lost).await.is_none().then_some(()) }).await;
    assert_eq!(
        answer(kept).await,
        Some(Code::Ok),
        "only the revoked one is refused"
    );
    // The connection opened before is refused at its next call.
    let refused = open.close_period(close).await.unwrap_err();
    assert_eq!(
        (refused.code(), refused.message()),
        (
            Code::Unauthenticated,
            "the client certificate has been revoked"
        ),
    );

    // A list that does not parse leaves the last good one in force.
    std::fs::write(path("clients-ca.crl"), "not a revocation list").unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    assert_eq!(answer(lost).await, None, "still revoked");
    assert_eq!(answer(kept).await, Some(Code::Ok));

    // Reinstated (a list without it): it connects again.
    std::fs::write(path("clients-ca.crl"), ca.revocation_list(3, &[])).unwrap();
    eventually(10, || async { answer(lost).await.map(|_| ()) }).await;
    app.stop().await;
}

/// What a payroll system presenting `identity` gets from ClosePeriod: the
/// service's answer, or `None` when the TLS handshake refused it.
async fn answer(app: &TestApp, ca: &Authority, identity: Identity) -> Option<Code> {
    let mut client = client(app, ca, Some(identity)).await.ok()?;
    match client
        .close_period(pb::ClosePeriodRequest {
            municipality_id: "0301".into(),
            month: "2025-10".into(),
        })
        .await
    {
        Ok(_) => Some(Code::Ok),
        Err(status) if status.message() == "transport error" => None,
        Err(status) => Some(status.code()),
    }
}

/// The payroll service's certificate, as the top-up service admits it.
const PAYROLL_SERVICE: &str = "urn:kvp:service:payroll";

#[tokio::test]
async fn the_relay_delivers_over_mutual_tls_and_the_top_up_service_admits_only_payroll() {
    let ca = Authority::new("KVP services");
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    let write = |name: &str, text: &str| std::fs::write(path(name), text).unwrap();
    let (cert, key) = ca.server();
    write("topup.pem", &cert);
    write("topup.key", &key);
    write("ca.pem", &ca.pem);
    let relay = {
        let mut params = CertificateParams::new(Vec::new()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "kvp-payroll");
        params.subject_alt_names = vec![SanType::URI(PAYROLL_SERVICE.try_into().unwrap())];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        ca.issue(params)
    };
    write("relay.pem", &relay.0);
    write("relay.key", &relay.1);

    let topup = TopupApp::spawn_configured("127.0.0.1:0".parse().unwrap(), |config| {
        config.tls = Some(kvp_topup::config::TlsConfig {
            cert: path("topup.pem"),
            key: path("topup.key"),
            client_ca: path("ca.pem"),
            client_crl: None,
        });
    })
    .await;
    assert!(
        topup.grpc_url.starts_with("https://localhost:"),
        "{}",
        topup.grpc_url
    );
    let mut app = TestApp::spawn_configured(|config| {
        config.topup_url = Some(topup.grpc_url.clone());
        config.relay_tls = Some(kvp_payroll::config::RelayTlsConfig {
            ca: path("ca.pem"),
            cert: path("relay.pem"),
            key: path("relay.key"),
        });
    })
    .await;
    submit_and_see_it_delivered(&mut app).await;

    // Anyone else the CA certified, or no certificate at all, delivers nothing.
    let sink = |identity: Option<Identity>| {
        let url = topup.grpc_url.clone();
        let mut tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&ca.pem))
            .domain_name("localhost");
        if let Some(identity) = identity {
            tls = tls.identity(identity);
        }
        async move {
            let channel = Channel::from_shared(url)
                .unwrap()
                .tls_config(tls)
                .unwrap()
                .connect()
                .await
                .unwrap();
            EventSinkServiceClient::new(channel)
                .deliver(DeliverRequest { event: None })
                .await
                .unwrap_err()
        }
    };
    let stranger = sink(Some(ca.client(&[OSLO, PAYROLL_SYSTEM]))).await;
    assert_eq!(stranger.code(), Code::PermissionDenied, "{stranger:?}");
    assert!(stranger.message().contains(PAYROLL_SERVICE), "{stranger:?}");
    let anonymous = sink(None).await;
    assert_eq!(anonymous.code(), Code::Unauthenticated, "{anonymous:?}");
    // The payroll service's certificate passes the gate (and the empty
    // event is then refused as malformed).
    let payroll = sink(Some(Identity::from_pem(&relay.0, &relay.1))).await;
    assert_eq!(payroll.code(), Code::InvalidArgument, "{payroll:?}");

    app.stop().await;
    topup.stop().await;
}

/// Submits a timesheet and waits until its event is delivered (a delivery is
/// marked only when the top-up service answered).
async fn submit_and_see_it_delivered(app: &mut TestApp) {
    let fixture = Fixture::new(app).await;
    let body = fixture.body(
        "2025-10-01",
        "2025-10-31",
        &[("2025-10-14", pb::DayKind::Unexcused, "3")],
    );
    app.grpc
        .submit_timesheet(fixture.signed(&body))
        .await
        .unwrap();
    let store = app.payroll.store().clone();
    eventually(10, || async {
        (store.outbox_backlog().await.unwrap() == 0).then_some(())
    })
    .await;
}

#[tokio::test]
async fn the_compose_dev_pki_connects_the_relay_to_kvp_topup_and_signs_its_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path();
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/compose/dev-pki.sh");
    let run = |args: &[&str]| {
        let output = std::process::Command::new("bash")
            .arg(&script)
            .args(args)
            .env("KVP_DEV_PKI", pki)
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap()
    };
    run(&[]);

    // Settings as compose.yaml gives them, the paths in the folder made.
    let topup = TopupApp::spawn_configured("127.0.0.1:0".parse().unwrap(), |config| {
        config.tls = Some(kvp_topup::config::TlsConfig {
            cert: pki.join("topup/tls/tls.crt"),
            key: pki.join("topup/tls/tls.key"),
            client_ca: pki.join("topup/tls/client-ca.crt"),
            client_crl: None,
        });
        let keys = std::fs::read_to_string(pki.join("topup/auth/keys.toml")).unwrap();
        let keys: kvp_auth::TokenKeysFile = toml::from_str(&keys).unwrap();
        config.auth = Some(kvp_auth::TokenSettings {
            issuer: "https://issuer.kvp-compose.invalid".into(),
            audience: "kvp-topup".into(),
            keys: keys.keys,
        });
    })
    .await;
    let mut app = TestApp::spawn_configured(|config| {
        config.topup_url = Some(topup.grpc_url.clone());
        config.relay_tls = Some(kvp_payroll::config::RelayTlsConfig {
            ca: pki.join("payroll/relay-tls/ca.crt"),
            cert: pki.join("payroll/relay-tls/tls.crt"),
            key: pki.join("payroll/relay-tls/tls.key"),
        });
    })
    .await;
    submit_and_see_it_delivered(&mut app).await;

    let token = run(&["token", "social_assistance_caseworker", "0301"]);
    let answer = reqwest::Client::new()
        .get(format!("{}/proposals", topup.http))
        .bearer_auth(token.trim())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let payroll_token = run(&["token", "auditor"]);
    let refused = reqwest::Client::new()
        .get(format!("{}/proposals", topup.http))
        .bearer_auth(payroll_token.trim())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401, "a token for kvp-payroll's audience");

    app.stop().await;
    topup.stop().await;
}
