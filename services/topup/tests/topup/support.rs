//! The harness: starts the application on a backend, hands the scenario
//! clients, and cleans up; plus the fixtures the scenarios build from.

use std::future::Future;
use std::str::FromStr;

use kvp_proto::event_types;
use kvp_proto::kvp::events::v1::cloud_event::Data;
use kvp_proto::kvp::events::v1::{
    AttributedAmount, CloudEvent, CloudEventAttributeValue, StipendPaid,
    cloud_event_attribute_value::Attr,
};
use kvp_proto::kvp::topup::v1::DeliverRequest;
use kvp_proto::kvp::topup::v1::event_sink_service_client::EventSinkServiceClient;
use kvp_topup::config::DatabaseUrl;
use kvp_topup::{Application, Config};
use prost::Message;
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use tokio::sync::oneshot;
use tonic::transport::Channel;
use uuid::Uuid;

/// The variable that points the tests at a PostgreSQL server.
pub const DATABASE_URL_VAR: &str = "KVP_TEST_DATABASE_URL";

/// A started application and clients for it.
#[derive(Clone)]
pub struct TestApp {
    /// The backend this run is on: `sqlite` or `postgres`.
    pub expected_backend: &'static str,
    /// The gRPC address.
    pub grpc_addr: std::net::SocketAddr,
    /// The event sink client.
    pub sink: EventSinkServiceClient<Channel>,
    /// The HTTP client.
    pub http: reqwest::Client,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The bearer token sent with every REST call, if any.
    pub bearer: Option<String>,
}

/// A response's status, content type and JSON body.
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: Value,
    /// The `WWW-Authenticate` header, if any.
    pub challenge: Option<String>,
}

impl TestApp {
    /// The same application called with `token` (`None`: without one).
    pub fn calling_as(&self, token: Option<String>) -> Self {
        Self {
            bearer: token,
            ..self.clone()
        }
    }

    /// A request with the bearer token, if any; the answer.
    pub async fn send(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Answer {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.bearer {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        answer(request.send().await.expect("the HTTP request is sent")).await
    }

    /// `PUT` a JSON body.
    pub async fn put(&self, path: &str, body: &Value) -> Answer {
        self.send(reqwest::Method::PUT, path, Some(body)).await
    }

    /// `POST` a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    /// `GET`.
    pub async fn get(&self, path: &str) -> Answer {
        self.send(reqwest::Method::GET, path, None).await
    }

    /// Delivers an event; the receipt's `duplicate` flag, or the status.
    pub async fn deliver(&self, event: CloudEvent) -> Result<bool, tonic::Status> {
        self.sink
            .clone()
            .deliver(DeliverRequest { event: Some(event) })
            .await
            .map(|r| r.into_inner().duplicate)
    }

    /// Registers a household and returns the answer's body (asserting 200 or 201).
    pub async fn register(&self, participant: Uuid, household: &Value) -> Value {
        let answer = self
            .put(&format!("/households/{participant}"), household)
            .await;
        assert!(
            answer.status == 201 || answer.status == 200,
            "household not saved: {} {}",
            answer.status,
            answer.body
        );
        answer.body
    }

    /// The proposals of a participant, any state, oldest month first.
    pub async fn proposals_of(&self, participant: Uuid) -> Vec<Value> {
        let answer = self
            .get(&format!("/proposals?participant_id={participant}"))
            .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        answer.body["proposals"].as_array().unwrap().clone()
    }

    /// One proposal with its explanation.
    pub async fn proposal(&self, id: &str) -> Value {
        let answer = self.get(&format!("/proposals/{id}")).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        answer.body
    }
}

async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let challenge = response
        .headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = response.text().await.expect("the body is read");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Answer {
        status,
        content_type,
        body,
        challenge,
    }
}

/// Whether the application runs in development mode or checks tokens.
#[derive(Clone, Copy)]
pub enum Mode {
    /// No `auth` configured: no tokens.
    Development,
    /// Tokens of [`Tokens`] checked.
    Tokens,
}

/// Runs a scenario against the application on a fresh SQLite file.
pub async fn on_sqlite<F, Fut>(mode: Mode, scenario: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let dir = tempfile::tempdir().expect("a temporary directory");
    // A directory that does not exist yet: the service creates it.
    let url = format!("sqlite://{}/data/topup.db?mode=rwc", dir.path().display());
    let outcome = run(&url, "sqlite", mode, scenario).await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// Runs a scenario against the application on a fresh, uniquely named
/// PostgreSQL database, dropped afterwards. Without `KVP_TEST_DATABASE_URL`
/// it does nothing; with it, an unreachable server fails the test.
pub async fn on_postgres<F, Fut>(mode: Mode, scenario: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(server) = std::env::var(DATABASE_URL_VAR)
        .ok()
        .filter(|url| !url.is_empty())
    else {
        eprintln!("{DATABASE_URL_VAR} is not set: the PostgreSQL run is not made");
        return;
    };
    let name = format!("kvp_topup_test_{}", Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&server).await.unwrap_or_else(|e| {
        panic!("{DATABASE_URL_VAR} is set but PostgreSQL cannot be reached: {e}")
    });
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("the test database is created");

    let outcome = run(&database_url(&server, &name), "postgres", mode, scenario).await;

    sqlx::query(AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await
    .expect("the test database is dropped");
    admin.close().await.expect("the admin connection closes");
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
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

/// Builds and starts the application, runs the scenario in its own task (so
/// a failed assertion comes back as a value and clean-up still happens),
/// then shuts the application down gracefully.
async fn run<F, Fut>(
    url: &str,
    backend: &'static str,
    mode: Mode,
    scenario: F,
) -> Result<(), Box<dyn std::any::Any + Send>>
where
    F: FnOnce(TestApp) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let config = Config {
        grpc_addr: "127.0.0.1:0".parse().unwrap(),
        http_addr: "127.0.0.1:0".parse().unwrap(),
        database_url: DatabaseUrl::new(url),
        auth: match mode {
            Mode::Development => None,
            Mode::Tokens => Some(Tokens::settings()),
        },
        ..Config::default()
    };
    let app = Application::build(&config)
        .await
        .unwrap_or_else(|e| panic!("the application does not start on {backend}: {e}"));
    let grpc_addr = app.grpc_addr();
    let base = format!("http://{}", app.http_addr());
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));

    let sink = EventSinkServiceClient::connect(format!("http://{grpc_addr}"))
        .await
        .expect("the gRPC client connects");
    let test_app = TestApp {
        expected_backend: backend,
        grpc_addr,
        sink,
        http: reqwest::Client::new(),
        base,
        bearer: None,
    };
    let joined = tokio::spawn(scenario(test_app)).await;

    let _ = stop.send(());
    server
        .await
        .expect("the server task ends")
        .expect("the server stops cleanly");
    match joined {
        Ok(()) => Ok(()),
        Err(e) if e.is_panic() => Err(e.into_panic()),
        Err(e) => panic!("the scenario task did not finish: {e}"),
    }
}

// --- tokens ---

/// Mints bearer tokens the application in [`Mode::Tokens`] accepts (EdDSA,
/// with the test-only key of `crates/auth/testdata`).
pub struct Tokens;

impl Tokens {
    const ISSUER: &str = "https://login.test";
    const AUDIENCE: &str = "kvp-topup";
    const KID: &str = "test-2026";

    /// The `auth` settings trusting the key.
    pub fn settings() -> kvp_auth::TokenSettings {
        kvp_auth::TokenSettings {
            issuer: Self::ISSUER.into(),
            audience: Self::AUDIENCE.into(),
            keys: vec![kvp_auth::TokenKey {
                kid: Self::KID.into(),
                algorithm: "EdDSA".into(),
                public_key_pem: include_str!("../../../../crates/auth/testdata/eddsa-public.pem")
                    .into(),
            }],
        }
    }

    /// A token of `sub` with `role` in `municipality` (`None`: national),
    /// valid for five minutes.
    pub fn token(sub: &str, role: &str, municipality: Option<&str>) -> String {
        let now = jsonwebtoken::get_current_timestamp();
        let mut claims = json!({
            "iss": Self::ISSUER, "aud": Self::AUDIENCE, "sub": sub, "exp": now + 300,
            "role": role,
        });
        if let Some(municipality) = municipality {
            claims["municipality"] = json!(municipality);
        }
        Self::sign(&claims)
    }

    /// `claims` signed with the trusted key under its kid.
    pub fn sign(claims: &Value) -> String {
        let key = jsonwebtoken::EncodingKey::from_ed_pem(include_bytes!(
            "../../../../crates/auth/testdata/eddsa-private.pem"
        ))
        .expect("the test key is a PEM Ed25519 key");
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
        header.kid = Some(Self::KID.into());
        jsonwebtoken::encode(&header, claims, &key).expect("the token is signed")
    }
}

// --- fixtures ---

/// Oslo's municipality number.
pub const OSLO: &str = "0301";

/// The source the payroll service sends from (Oslo).
pub const SOURCE: &str = "/kvp/payroll/0301";

/// A StipendPaid payload with a net amount that is income in `month`: paid
/// by Oslo (0301) on the 12th of `month`, by the run for the month before
/// (the stipend is paid in arrears).
pub fn stipend_paid(participant: Uuid, month: &str, net: &str) -> StipendPaid {
    let first = time::Date::parse(
        &format!("{month}-01"),
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .expect("a month YYYY-MM");
    let before = first - time::Duration::days(1);
    let run_month = format!("{:04}-{:02}", before.year(), u8::from(before.month()));
    StipendPaid {
        participant_id: participant.to_string(),
        municipality_id: OSLO.into(),
        month: run_month.clone(),
        gross: "18000.00".into(),
        tax_withheld: "4000.00".into(),
        net_paid: net.into(),
        run_id: Uuid::now_v7().to_string(),
        payment_date: format!("{month}-12"),
        confirmed_at: None,
        attributed: vec![AttributedAmount {
            month: run_month,
            gross: "18000.00".into(),
        }],
    }
}

/// A CloudEvent carrying a payload, as the payroll service's relay sends it.
pub fn cloud_event(id: &str, event_type: &str, type_name: &str, payload: Vec<u8>) -> CloudEvent {
    let mut attributes = std::collections::HashMap::new();
    attributes.insert(
        "subject".to_owned(),
        CloudEventAttributeValue {
            attr: Some(Attr::CeString("subject-id".into())),
        },
    );
    attributes.insert(
        "datacontenttype".to_owned(),
        CloudEventAttributeValue {
            attr: Some(Attr::CeString("application/protobuf".into())),
        },
    );
    CloudEvent {
        id: id.into(),
        source: SOURCE.into(),
        spec_version: "1.0".into(),
        r#type: event_type.into(),
        attributes,
        data: Some(Data::ProtoData(prost_types::Any {
            type_url: format!("type.googleapis.com/kvp.events.v1.{type_name}"),
            value: payload,
        })),
    }
}

/// A StipendPaid CloudEvent with a fresh id.
pub fn stipend_event(paid: &StipendPaid) -> CloudEvent {
    cloud_event(
        &Uuid::now_v7().to_string(),
        event_types::STIPEND_PAID,
        "StipendPaid",
        paid.encode_to_vec(),
    )
}

/// A household: a single adult with one child born 2019-10-01 (aged 4 in
/// March 2024), housing 9 000, other income 500.
pub fn single_with_a_four_year_old() -> Value {
    json!({
        "adults": "SINGLE",
        "children": [{ "birth_date": "2019-10-01" }],
        "housing_cost": "9000.00",
        "other_income": "500.00"
    })
}

/// A decimal from its text (for comparing amounts exactly).
pub fn dec(text: &str) -> rust_decimal::Decimal {
    rust_decimal::Decimal::from_str(text).expect("a decimal")
}
