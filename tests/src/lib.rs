//! The test kit of the cross-service tests: both services started for real on
//! port 0, each over a fresh database (SQLite, or PostgreSQL when
//! `KVP_TEST_DATABASE_URL` is set — then unreachable means failure, never a
//! skip), and the fixtures a timesheet needs: a municipality, a participant with
//! a programme, and signer keys. For the REST API with bearer tokens, a
//! [`TokenIssuer`] mints tokens with a fresh Ed25519 key and
//! [`TestApp::call_as`] sends them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test kit: a failure is a failed test"
)]

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::Signer as _;
use kvp_payroll::app::Application;
use kvp_payroll::config::{AuthConfig, Config, TokenKey};
use kvp_payroll::payroll::Payroll;
use kvp_proto::kvp::payroll::v1 as pb;
use kvp_signing::{SigningKey, public_key_to_base64};
use pb::payroll_service_client::PayrollServiceClient;
use prost::Message;
use serde_json::{Value, json};
use sqlx::Connection;
use tonic::transport::Channel;

pub mod capture;
pub mod process;

/// The PostgreSQL server tests run against, when set.
pub fn postgres_url() -> Option<String> {
    std::env::var("KVP_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// A database backend a test can run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestBackend {
    /// An SQLite file in a temporary directory.
    Sqlite,
    /// A fresh database on the server `KVP_TEST_DATABASE_URL` names.
    Postgres,
}

impl TestBackend {
    /// The backend the tests run on: PostgreSQL when `KVP_TEST_DATABASE_URL`
    /// is set, else SQLite.
    pub fn configured() -> Self {
        if postgres_url().is_some() {
            Self::Postgres
        } else {
            Self::Sqlite
        }
    }

    /// Every backend a test that must hold on both runs on: SQLite always,
    /// and PostgreSQL when `KVP_TEST_DATABASE_URL` is set.
    pub fn all() -> Vec<Self> {
        let mut all = vec![Self::Sqlite];
        if postgres_url().is_some() {
            all.push(Self::Postgres);
        }
        all
    }
}

/// A database for one test: a temporary SQLite file or a fresh PostgreSQL database.
pub enum TestDb {
    /// SQLite in a temporary directory.
    Sqlite {
        /// Removed with the test.
        _dir: tempfile::TempDir,
    },
    /// A PostgreSQL database created for the test.
    Postgres {
        /// The server's URL.
        server: String,
        /// The database created for the test.
        name: String,
    },
}

impl TestDb {
    /// Creates the database on the configured backend
    /// ([`TestBackend::configured`]); returns it with its URL.
    pub async fn create() -> (Self, String) {
        Self::create_on(TestBackend::configured()).await
    }

    /// Creates the database on `backend`; returns it with its URL.
    /// PostgreSQL needs `KVP_TEST_DATABASE_URL`.
    pub async fn create_on(backend: TestBackend) -> (Self, String) {
        let server = match backend {
            TestBackend::Postgres => {
                Some(postgres_url().expect("PostgreSQL tests need KVP_TEST_DATABASE_URL"))
            }
            TestBackend::Sqlite => None,
        };
        match server {
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

    /// Drops a PostgreSQL database (a SQLite file goes with its directory).
    pub async fn drop_database(&self) {
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
    /// Where gRPC listens.
    pub grpc_addr: std::net::SocketAddr,
    /// REST base URL.
    pub http: String,
    /// HTTP client.
    pub client: reqwest::Client,
    /// The core, to look into the store.
    pub payroll: Arc<Payroll>,
    config: Config,
    db: TestDb,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<()>,
}

impl TestApp {
    /// Starts the payroll service on port 0 over a fresh database, without a
    /// top-up service (events wait in the outbox).
    pub async fn spawn() -> Self {
        Self::spawn_with(None).await
    }

    /// Starts the payroll service relaying events to `topup_url`.
    pub async fn spawn_with(topup_url: Option<String>) -> Self {
        Self::spawn_configured(|config| config.topup_url = topup_url).await
    }

    /// Starts the payroll service on port 0 over a fresh database, with the
    /// test defaults (fast relay polling) changed by `configure` — for example
    /// TLS client certificates or bearer-token authentication. When TLS is
    /// configured, `grpc` is a client without a certificate (every call on it
    /// fails); tests build their own clients for `grpc_addr`.
    pub async fn spawn_configured(configure: impl FnOnce(&mut Config)) -> Self {
        Self::spawn_configured_on(TestBackend::configured(), configure).await
    }

    /// Starts the payroll service on port 0 over a fresh database of
    /// `backend`, with the test defaults (for a test that runs on every
    /// backend, see [`TestBackend::all`]).
    pub async fn spawn_on(backend: TestBackend) -> Self {
        Self::spawn_configured_on(backend, |_| {}).await
    }

    /// [`TestApp::spawn_configured`] over a fresh database of `backend`.
    pub async fn spawn_configured_on(
        backend: TestBackend,
        configure: impl FnOnce(&mut Config),
    ) -> Self {
        capture::install();
        kvp_payroll::metrics::install();
        let (db, url) = TestDb::create_on(backend).await;
        let mut config = Config {
            grpc_addr: "127.0.0.1:0".parse().unwrap(),
            http_addr: "127.0.0.1:0".parse().unwrap(),
            database_url: url,
            // The test database has a key of its own (the development key
            // never protects PostgreSQL); tests configure TLS and tokens
            // where they test them, in development mode otherwise.
            identity_key: Some(TEST_IDENTITY_KEY.into()),
            dev: true,
            relay_poll_ms: 20,
            relay_retry_base_ms: 50,
            ..Config::default()
        };
        configure(&mut config);
        let app = Application::build(&config).await.unwrap();
        let grpc_addr = app.grpc_addr().unwrap();
        let config = Config {
            topup_url: None,
            ..config
        };
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
        let endpoint = Channel::from_shared(format!("http://{grpc_addr}")).unwrap();
        let channel = if config.tls.is_some() {
            endpoint.connect_lazy()
        } else {
            endpoint.connect().await.unwrap()
        };
        Self {
            grpc: PayrollServiceClient::new(channel),
            grpc_addr,
            http,
            client: reqwest::Client::new(),
            payroll,
            config,
            db,
            stop,
            server,
        }
    }

    /// A second instance of the service on the same database, as in a
    /// deployment of several instances; it runs until the test ends.
    pub async fn second_instance(&self) -> PayrollServiceClient<Channel> {
        let app = Application::build(&self.config).await.unwrap();
        let grpc_addr = app.grpc_addr().unwrap();
        tokio::spawn(async move { app.run_until(std::future::pending()).await.unwrap() });
        PayrollServiceClient::connect(format!("http://{grpc_addr}"))
            .await
            .unwrap()
    }

    /// Stops the service and drops its database; then fails the test if an
    /// identity number appears in the metrics or in anything logged so far
    /// (see [`capture`]).
    pub async fn stop(self) {
        if let Ok(response) = self
            .client
            .get(format!("{}/metrics", self.http))
            .send()
            .await
        {
            let metrics = response.text().await.unwrap_or_default();
            capture::assert_clean("GET /metrics", &metrics);
        }
        let _ = self.stop.send(());
        self.server.await.unwrap();
        self.db.drop_database().await;
        capture::check("after TestApp::stop");
    }

    /// Runs one SQL statement on the service's database, behind its back (a
    /// migration job, an operator); returns the first column of the first
    /// row as text, if the statement returns rows.
    pub async fn sql(&self, statement: &str) -> Option<String> {
        let url = &self.config.database_url;
        let statement = sqlx::AssertSqlSafe(statement.to_owned());
        if url.starts_with("sqlite:") {
            let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
            sqlx::query_scalar::<_, String>(statement)
                .fetch_optional(&mut conn)
                .await
                .unwrap()
        } else {
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query_scalar::<_, String>(statement)
                .fetch_optional(&mut conn)
                .await
                .unwrap()
        }
    }

    /// Starts the payroll service requiring bearer tokens from `issuer` on REST.
    pub async fn spawn_authenticated(issuer: &TokenIssuer) -> Self {
        Self::spawn_configured(|config| config.auth = Some(issuer.auth_config())).await
    }

    /// A REST client of this instance (cheap to clone into tasks).
    pub fn rest(&self) -> Rest {
        Rest::new(self.client.clone(), self.http.clone())
    }

    /// A REST call as a caseworker; see [`Rest::call`].
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.rest().call(method, path, body).await
    }

    /// A REST call with a bearer token; see [`Rest::call_as`].
    pub async fn call_as(
        &self,
        token: Option<&str>,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Reply {
        self.rest().call_as(token, method, path, body).await
    }

    /// Closes Oslo's (0301) month over gRPC.
    pub async fn close_oslo(&mut self, month: &str) -> pb::ClosePeriodResponse {
        self.grpc
            .close_period(pb::ClosePeriodRequest {
                municipality_id: "0301".into(),
                month: month.into(),
            })
            .await
            .unwrap()
            .into_inner()
    }

    /// Every pay line of a run, as `StreamPayLines` streams them.
    pub async fn pay_lines(&mut self, run_id: &str) -> Vec<pb::PayLine> {
        let mut stream = self
            .grpc
            .stream_pay_lines(pb::StreamPayLinesRequest {
                run_id: run_id.into(),
                after_line_id: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        let mut out = Vec::new();
        while let Some(message) = stream.message().await.unwrap() {
            out.push(message.pay_line.unwrap());
        }
        out
    }

    /// POST, expecting `expected` status.
    pub async fn post(&self, path: &str, body: Value, expected: u16) -> Value {
        self.rest().post(path, body, expected).await
    }

    /// Stores a supervisor's key as one registered before keys had a
    /// municipality (which the API no longer registers): national until
    /// an administrator assigns it.
    pub async fn seed_unassigned_supervisor_key(&self, keyid: &str, key: &SigningKey) {
        let legacy = kvp_store::SignerKey {
            keyid: keyid.into(),
            person_id: format!("{keyid}-holder"),
            participant_id: None,
            role: kvp_store::SignerRole::Supervisor,
            public_key: key.verifying_key().to_bytes().to_vec(),
            valid_from: time::macros::datetime!(2025-01-01 00:00 UTC),
            valid_until: None,
            revoked_at: None,
            revocation_reason: None,
            registered_at: time::OffsetDateTime::now_utc(),
            municipality_id: None,
        };
        let registered = kvp_store::NewAuditEntry {
            at: legacy.registered_at,
            actor: "administrator:earlier".into(),
            action: "signer_key.registered".into(),
            subject_type: "signer_key".into(),
            subject_id: legacy.keyid.clone(),
            details: json!({}),
            idempotency: None,
        };
        self.payroll
            .store()
            .register_signer_key(&legacy, &registered)
            .await
            .unwrap();
    }

    /// GET, expecting 200.
    pub async fn get(&self, path: &str) -> Value {
        self.rest().get(path).await
    }

    /// Registers, as a caseworker, a programme for `participant` from
    /// `start` (open-ended) with `reference`; answers its id.
    pub async fn add_programme(&self, participant: &str, start: &str, reference: &str) -> String {
        let answer = self
            .post(
                &format!("/v1/participants/{participant}/programmes"),
                json!({"start": start, "decision_reference": reference}),
                201,
            )
            .await;
        answer["programmes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["decision_reference"] == reference)
            .and_then(|q| q["id"].as_str())
            .unwrap()
            .to_owned()
    }

    /// Records, as a caseworker, a warning (varsel) given on `date` about
    /// the participant's `kind` hours of that day: what a decision to deduct
    /// them needs first (§ 36). The warning as answered.
    pub async fn warn(&self, participant: &str, date: &str, kind: &str) -> Value {
        self.post(
            &format!("/v1/participants/{participant}/sanction-warnings"),
            json!({
                "given_on": date, "channel": "LETTER", "reference": format!("VARSEL-{date}"),
                "days": [{"date": date, "entry_kind": kind}],
            }),
            201,
        )
        .await
    }
}

/// A REST client of a running service, in process or not.
#[derive(Clone)]
pub struct Rest {
    client: reqwest::Client,
    base: String,
}

impl Rest {
    /// A client of the service at `base` (`http://host:port`).
    pub fn new(client: reqwest::Client, base: String) -> Self {
        Self { client, base }
    }

    /// A REST call as a caseworker; returns status and JSON body. Identity
    /// numbers in the body are registered for the personal-data check, and
    /// the answer is searched for every registered one.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let request = self
            .request(method, path, body)
            .header("x-kvp-actor", "caseworker-1");
        let reply = Reply::of(request).await;
        (reply.status, reply.body)
    }

    /// A REST call with `Authorization: Bearer <token>` (no header for
    /// `None`), with the same checks as [`Rest::call`].
    pub async fn call_as(
        &self,
        token: Option<&str>,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Reply {
        self.call_as_with(token, method, path, body, &[]).await
    }

    /// [`Rest::call_as`] with more request headers (`If-Match`, …).
    pub async fn call_as_with(
        &self,
        token: Option<&str>,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = self.request(method, path, body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Reply::of(request).await
    }

    /// Changes a resource as a client that read it first: a PUT with
    /// `If-Match` naming the `ETag` read (as a caseworker; see [`Rest::call`]).
    pub async fn put_read(&self, path: &str, body: Value) -> (u16, Value) {
        let read = self
            .client
            .get(format!("{}{path}", self.base))
            .header("x-kvp-actor", "caseworker-1")
            .send()
            .await
            .unwrap();
        let etag = read.headers()["etag"].to_str().unwrap().to_owned();
        let reply = self
            .call_as_with(
                None,
                reqwest::Method::PUT,
                path,
                Some(body),
                &[("x-kvp-actor", "caseworker-1"), ("if-match", &etag)],
            )
            .await;
        (reply.status, reply.body)
    }

    /// The request, its body's identity numbers registered.
    fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::RequestBuilder {
        let request = self.client.request(method, format!("{}{path}", self.base));
        match body {
            Some(body) => {
                register_identity_numbers_in(&body);
                request.json(&body)
            }
            None => request,
        }
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

/// A REST answer.
#[derive(Debug)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The JSON body, or the text as a JSON string when it is not JSON.
    pub body: Value,
    /// The `WWW-Authenticate` challenge, if any.
    pub challenge: Option<String>,
    /// The `ETag`, if any.
    pub etag: Option<String>,
}

impl Reply {
    /// Sends `request`; an error status must come as problem details.
    async fn of(request: reqwest::RequestBuilder) -> Self {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        let content_type = header("content-type");
        let challenge = header("www-authenticate");
        let etag = header("etag");
        let path = response.url().path().to_owned();
        let text = response.text().await.unwrap();
        capture::assert_clean(&format!("the answer to {path}"), &text);
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status >= 400 {
            assert_eq!(
                content_type.as_deref(),
                Some("application/problem+json"),
                "{body}"
            );
        }
        Self {
            status,
            body,
            challenge,
            etag,
        }
    }
}

/// An identity provider for tests: a fresh Ed25519 key that the service is
/// configured to trust, and tokens signed with it (by hand, not with the
/// library the service verifies them with).
pub struct TokenIssuer {
    key: SigningKey,
    kid: String,
}

impl TokenIssuer {
    /// The `iss` the service is configured with.
    pub const ISSUER: &str = "https://login.kvp.test";
    /// The `aud` the service is configured with.
    pub const AUDIENCE: &str = "kvp-payroll";
    /// The `sub` of every token minted by [`TokenIssuer::token`].
    pub const SUBJECT: &str = "kari";

    /// A fresh random key named `kid`.
    pub fn generate(kid: &str) -> Self {
        let mut seed = [0; 32];
        seed[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        seed[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        Self {
            key: SigningKey::from_bytes(&seed),
            kid: kid.to_owned(),
        }
    }

    /// The public key as a PEM SubjectPublicKeyInfo.
    pub fn public_key_pem(&self) -> String {
        // SEQUENCE { SEQUENCE { OID 1.3.101.112 (Ed25519) }, BIT STRING key }
        let mut der = vec![
            0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
        ];
        der.extend_from_slice(self.key.verifying_key().as_bytes());
        format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            STANDARD.encode(der)
        )
    }

    /// The service's `auth` settings trusting this key.
    pub fn auth_config(&self) -> AuthConfig {
        AuthConfig {
            issuer: Self::ISSUER.into(),
            audience: Self::AUDIENCE.into(),
            keys: vec![TokenKey {
                kid: self.kid.clone(),
                algorithm: "EdDSA".into(),
                public_key_pem: self.public_key_pem(),
            }],
        }
    }

    /// Valid claims for `role` in `municipality` (`None`: national), for
    /// five minutes from now.
    pub fn claims(role: &str, municipality: Option<&str>) -> Value {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let mut claims = json!({
            "iss": Self::ISSUER, "aud": Self::AUDIENCE, "sub": Self::SUBJECT,
            "iat": now, "exp": now + 300, "role": role,
        });
        if let Some(municipality) = municipality {
            claims["municipality"] = json!(municipality);
        }
        claims
    }

    /// A valid token for `role` in `municipality` (`None`: national).
    pub fn token(&self, role: &str, municipality: Option<&str>) -> String {
        self.sign_claims(&Self::claims(role, municipality))
    }

    /// `claims` signed under this key's id with EdDSA.
    pub fn sign_claims(&self, claims: &Value) -> String {
        self.sign(
            &json!({"alg": "EdDSA", "typ": "JWT", "kid": self.kid}),
            claims,
        )
    }

    /// A compact JWS of exactly this header and these claims, signed with
    /// this key whatever the header says (for forged tokens).
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        let part = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
        let input = format!("{}.{}", part(header), part(claims));
        let signature = self.key.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }
}

/// A synthetic national identity number with valid check digits (not a real
/// person), registered for the personal-data check ([`capture`]).
pub fn national_id(birth: &str, individual: u32) -> String {
    let number = kvp_payroll::identity::synthetic_national_id(birth, individual).unwrap();
    capture::install();
    capture::register(&number);
    number
}

/// Registers for the personal-data check every `national_id` a request body
/// carries (a string or a number, anywhere in it), valid or not: a mistyped
/// number is as personal as a correct one.
pub fn register_identity_numbers_in(body: &Value) {
    match body {
        Value::Object(fields) => {
            for (name, value) in fields {
                match value {
                    Value::String(text) if name == "national_id" => capture::register(text),
                    Value::Number(number) if name == "national_id" => {
                        capture::register(&number.to_string());
                    }
                    other => register_identity_numbers_in(other),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(register_identity_numbers_in),
        _ => {}
    }
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
                Some(json!({"name": "Oslo", "use_product_codes": true})),
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
            // A supervisor approves for their municipality, the fixture's.
            let municipality = (role == "SUPERVISOR").then_some("0301");
            app.post(
                "/v1/signer-keys",
                json!({
                    "keyid": keyid, "person_id": person, "role": role,
                    "public_key": public_key_to_base64(&key.verifying_key()),
                    "valid_from": "2025-01-01T00:00:00Z",
                    "municipality_id": municipality,
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
    kvp_client::signed_payload(payload, signers)
}

/// The field violations of an INVALID_ARGUMENT status.
pub fn violations(status: &tonic::Status) -> Vec<(String, String)> {
    use tonic_types::StatusExt;
    check_status(status);
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

/// Fails the test if a registered identity number appears in a gRPC status:
/// its message, its details or its metadata.
pub fn check_status(status: &tonic::Status) {
    capture::assert_clean(
        "a gRPC status",
        &format!(
            "{} {} {:?}",
            status.message(),
            String::from_utf8_lossy(status.details()),
            status.metadata()
        ),
    );
}

/// The identity key of the test kit's databases (base64 of 32 bytes; it
/// protects nothing real).
pub const TEST_IDENTITY_KEY: &str = "a3ZwLXRlc3Qta2l0LWlkZW50aXR5LWtleS0zMi1ieXQ=";

/// A running top-up service.
pub struct TopupApp {
    /// Its gRPC endpoint, for the payroll relay.
    pub grpc_url: String,
    /// REST base URL.
    pub http: String,
    /// The backend it runs on.
    pub backend: kvp_store::Backend,
    /// Its database (to look into its inbox).
    pub database_url: String,
    db: TestDb,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<()>,
}

impl TopupApp {
    /// Starts the top-up service over a fresh database, on `grpc_addr` (port 0
    /// for any free port).
    pub async fn spawn(grpc_addr: std::net::SocketAddr) -> Self {
        Self::spawn_configured(grpc_addr, |_| {}).await
    }

    /// Starts the top-up service as [`TopupApp::spawn`] does, with its
    /// configuration changed by `configure` (with `tls`, `grpc_url` is
    /// `https://localhost:PORT`).
    pub async fn spawn_configured(
        grpc_addr: std::net::SocketAddr,
        configure: impl FnOnce(&mut kvp_topup::Config),
    ) -> Self {
        capture::install();
        let (db, url) = TestDb::create().await;
        let mut config = kvp_topup::Config {
            grpc_addr,
            http_addr: "127.0.0.1:0".parse().unwrap(),
            database_url: kvp_topup::config::DatabaseUrl::new(url.clone()),
            ..kvp_topup::Config::default()
        };
        configure(&mut config);
        let app = kvp_topup::Application::build(&config).await.unwrap();
        let grpc_url = match config.tls {
            Some(_) => format!("https://localhost:{}", app.grpc_addr().port()),
            None => format!("http://{}", app.grpc_addr()),
        };
        let http = format!("http://{}", app.http_addr());
        let backend = match app.backend() {
            kvp_topup::store::Backend::Sqlite => kvp_store::Backend::Sqlite,
            kvp_topup::store::Backend::Postgres => kvp_store::Backend::Postgres,
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            app.run_until(async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        Self {
            grpc_url,
            http,
            backend,
            database_url: url,
            db,
            stop,
            server,
        }
    }

    /// Stops the service and drops its database; then fails the test if an
    /// identity number appears in anything logged so far.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.server.await.unwrap();
        self.db.drop_database().await;
        capture::check("after TopupApp::stop");
    }

    /// A REST call; returns status and JSON body.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = reqwest::Client::new().request(method, format!("{}{path}", self.http));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        capture::assert_clean(&format!("the top-up's answer to {path}"), &text);
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

/// Polls `check` every 20 ms until it returns `Some`, for at most `seconds`.
pub async fn eventually<T, F, Fut>(seconds: u64, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "condition not reached within {seconds} s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Whether `text` is an amount as the contract writes it: two decimals.
pub fn two_decimals(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    digits.split_once('.').is_some_and(|(kroner, ore)| {
        !kroner.is_empty()
            && kroner.bytes().all(|b| b.is_ascii_digit())
            && ore.len() == 2
            && ore.bytes().all(|b| b.is_ascii_digit())
    })
}
