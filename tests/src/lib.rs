//! A running service per test, with a fresh database, and the fixtures a
//! timesheet needs: a municipality, a participant with a programme, and keys.

use std::sync::Arc;

use kvp_payroll::app::Application;
use kvp_payroll::config::Config;
use kvp_payroll::payroll::Payroll;
use kvp_proto::kvp::payroll::v1 as pb;
use kvp_signing::{SigningKey, TIMESHEET_PAYLOAD_TYPE, public_key_to_base64};
use pb::payroll_service_client::PayrollServiceClient;
use prost::Message;
use serde_json::{Value, json};
use sqlx::Connection;
use tonic::transport::Channel;

/// The PostgreSQL server tests run against, when set.
pub fn postgres_url() -> Option<String> {
    std::env::var("KVP_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// A database for one test: a temporary SQLite file or a fresh PostgreSQL database.
pub enum TestDb {
    /// SQLite in a temporary directory.
    Sqlite {
        /// Removed with the test.
        _dir: tempfile::TempDir,
    },
    /// A PostgreSQL database created for the test.
    Postgres { server: String, name: String },
}

impl TestDb {
    async fn create() -> (Self, String) {
        match postgres_url() {
            Some(server) => {
                let name = format!("kvp_payroll_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn = sqlx::PgConnection::connect(&server)
                    .await
                    .expect("KVP_TEST_DATABASE_URL is set but PostgreSQL is unreachable");
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                let base = server
                    .rsplit_once('/')
                    .map_or(server.as_str(), |(b, _)| b)
                    .to_owned();
                (
                    Self::Postgres {
                        server,
                        name: name.clone(),
                    },
                    format!("{base}/{name}"),
                )
            }
            None => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("payroll.db").display()
                );
                (Self::Sqlite { _dir: dir }, url)
            }
        }
    }

    async fn drop_database(&self) {
        if let Self::Postgres { server, name } = self {
            let mut conn = sqlx::PgConnection::connect(server).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut conn)
            .await
            .unwrap();
        }
    }
}

/// A running service.
pub struct TestApp {
    /// gRPC client.
    pub grpc: PayrollServiceClient<Channel>,
    /// REST base URL.
    pub http: String,
    /// HTTP client.
    pub client: reqwest::Client,
    /// The core, to look into the store.
    pub payroll: Arc<Payroll>,
    db: TestDb,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<()>,
}

impl TestApp {
    /// Starts the application on port 0 over a fresh database.
    pub async fn spawn() -> Self {
        let (db, url) = TestDb::create().await;
        let config = Config {
            grpc_addr: "127.0.0.1:0".parse().unwrap(),
            http_addr: "127.0.0.1:0".parse().unwrap(),
            database_url: url,
            ..Config::default()
        };
        let app = Application::build(&config).await.unwrap();
        let grpc_addr = app.grpc_addr().unwrap();
        let http = format!("http://{}", app.http_addr().unwrap());
        let payroll = app.payroll();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            app.run_until(async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        let grpc = PayrollServiceClient::connect(format!("http://{grpc_addr}"))
            .await
            .unwrap();
        Self {
            grpc,
            http,
            client: reqwest::Client::new(),
            payroll,
            db,
            stop,
            server,
        }
    }

    /// Stops the service and drops its database.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.server.await.unwrap();
        self.db.drop_database().await;
    }

    /// A REST call; returns status and JSON body.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.http))
            .header("x-kvp-actor", "caseworker-1");
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned());
        let text = response.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status >= 400 {
            assert_eq!(
                content_type.as_deref(),
                Some("application/problem+json"),
                "{value}"
            );
        }
        (status, value)
    }

    /// POST, expecting `expected` status.
    pub async fn post(&self, path: &str, body: Value, expected: u16) -> Value {
        let (status, value) = self.call(reqwest::Method::POST, path, Some(body)).await;
        assert_eq!(status, expected, "POST {path}: {value}");
        value
    }

    /// GET, expecting 200.
    pub async fn get(&self, path: &str) -> Value {
        let (status, value) = self.call(reqwest::Method::GET, path, None).await;
        assert_eq!(status, 200, "GET {path}: {value}");
        value
    }
}

/// A synthetic national identity number with valid check digits (not a real person).
pub fn national_id(birth: &str, individual: u32) -> String {
    for n in individual..individual + 500 {
        let base = format!("{birth}{:03}", n % 500);
        let d: Vec<u32> = base.chars().map(|c| c.to_digit(10).unwrap()).collect();
        let check = |w: &[u32], d: &[u32]| match 11
            - w.iter().zip(d).map(|(a, b)| a * b).sum::<u32>() % 11
        {
            11 => Some(0),
            10 => None,
            k => Some(k),
        };
        let Some(k1) = check(&[3, 7, 6, 1, 8, 9, 4, 5, 2], &d) else {
            continue;
        };
        let d2: Vec<u32> = d.iter().copied().chain([k1]).collect();
        let Some(k2) = check(&[5, 4, 3, 2, 7, 6, 5, 4, 3, 2], &d2) else {
            continue;
        };
        return format!("{base}{k1}{k2}");
    }
    unreachable!()
}

/// A participant ready to submit timesheets: programme from 2025-01-06, one
/// child, participant and supervisor keys valid from 2025.
pub struct Fixture {
    /// Participant id.
    pub participant_id: String,
    /// The participant's key.
    pub participant_key: SigningKey,
    /// The supervisor's key.
    pub supervisor_key: SigningKey,
    /// A provider's key.
    pub provider_key: SigningKey,
}

impl Fixture {
    /// Registers everything over REST.
    pub async fn new(app: &TestApp) -> Self {
        let (status, _) = app
            .call(
                reqwest::Method::PUT,
                "/v1/municipalities/0301",
                Some(json!({"name": "Oslo"})),
            )
            .await;
        assert_eq!(status, 200);
        let participant = app
            .post(
                "/v1/participants",
                json!({
                    "municipality_id": "0301",
                    "national_id": national_id("150190", 123),
                    "display_name": "Kari Nordmann",
                    "children": ["2021-03-14"],
                }),
                201,
            )
            .await;
        let participant_id = participant["id"].as_str().unwrap().to_owned();
        app.post(
            &format!("/v1/participants/{participant_id}/programmes"),
            json!({
                "start": "2025-01-06", "end": "2026-12-31", "decision_reference": "KVP-1",
            }),
            201,
        )
        .await;
        let fixture = Self {
            participant_id,
            participant_key: SigningKey::from_bytes(&[1; 32]),
            supervisor_key: SigningKey::from_bytes(&[2; 32]),
            provider_key: SigningKey::from_bytes(&[3; 32]),
        };
        for (keyid, person, role, key) in [
            (
                "participant-key",
                fixture.participant_id.as_str(),
                "PARTICIPANT",
                &fixture.participant_key,
            ),
            (
                "supervisor-key",
                "supervisor-7",
                "SUPERVISOR",
                &fixture.supervisor_key,
            ),
            (
                "provider-key",
                "provider-3",
                "PROVIDER",
                &fixture.provider_key,
            ),
        ] {
            app.post(
                "/v1/signer-keys",
                json!({
                    "keyid": keyid, "person_id": person, "role": role,
                    "public_key": public_key_to_base64(&key.verifying_key()),
                    "valid_from": "2025-01-01T00:00:00Z",
                }),
                201,
            )
            .await;
        }
        fixture
    }

    /// A timesheet body for a period with entries `(date, kind, hours)`.
    pub fn body(
        &self,
        from: &str,
        to: &str,
        entries: &[(&str, pb::DayKind, &str)],
    ) -> pb::TimesheetBody {
        pb::TimesheetBody {
            participant_id: self.participant_id.clone(),
            municipality_id: "0301".into(),
            period: Some(pb::DateRange {
                from_date: from.into(),
                to_date: to.into(),
            }),
            supersedes_timesheet_id: String::new(),
            entries: entries
                .iter()
                .map(|(date, kind, hours)| pb::DayEntry {
                    date: (*date).into(),
                    kind: *kind as i32,
                    hours: (*hours).into(),
                    note: String::new(),
                })
                .collect(),
            issued_at: None,
            client_reference: "test".into(),
        }
    }

    /// The body signed by the participant and the supervisor.
    pub fn signed(&self, body: &pb::TimesheetBody) -> pb::SubmitTimesheetRequest {
        sign(
            body.encode_to_vec(),
            &[
                ("participant-key", &self.participant_key),
                ("supervisor-key", &self.supervisor_key),
            ],
        )
    }
}

/// A submit request carrying `payload` signed by `signers`.
pub fn sign(payload: Vec<u8>, signers: &[(&str, &SigningKey)]) -> pb::SubmitTimesheetRequest {
    let envelope = kvp_signing::sign(TIMESHEET_PAYLOAD_TYPE, payload, signers);
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

/// The field violations of an INVALID_ARGUMENT status.
pub fn violations(status: &tonic::Status) -> Vec<(String, String)> {
    use tonic_types::StatusExt;
    status
        .get_details_bad_request()
        .map(|b| {
            b.field_violations
                .into_iter()
                .map(|v| (v.field, v.description))
                .collect()
        })
        .unwrap_or_default()
}
