//! `kvp-payroll sandbox`: the service as an integrator's CI meets it, with
//! every production protection on (gRPC mutual TLS, REST bearer tokens, an
//! identity key) and test credentials made at start into a folder: a client
//! CA with a payroll-system and a timesheet-client certificate, a token per
//! REST role, and the timesheet signing keys of a synthetic municipality
//! registered in its own embedded database. Its clock can be moved forward
//! (`PUT /v1/sandbox/clock`) and every answer carries `kvp-sandbox: true`.
//!
//! `sandbox.json` in the folder names everything (addresses, files, ids);
//! it is written last, once the service listens, so its presence means
//! ready. The database is made anew at every start; `--seed` makes the
//! municipality (names, identity numbers, ids, signing keys) the same every
//! time, while TLS and token keys are made anew.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use axum::body::Body;
use axum::http::{Method, Request, header};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::Signer as _;
use kvp_client::{
    CertificateFiles, ClientCertificates, DayKind, MANIFEST, Manifest, Programme,
    SandboxParticipant, SandboxSigner, Timesheet,
};
use kvp_signing::SigningKey;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    SanType, date_time_ymd,
};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::{Date, Duration, Month};
use tower::ServiceExt as _;

use crate::app::Application;
use crate::config::{AuthConfig, Config, TlsConfig};
use crate::identity::synthetic_national_id;

/// The synthetic municipality (not a real kommunenummer).
pub const MUNICIPALITY_ID: &str = "9999";
/// The tokens' issuer and audience.
const ISSUER: &str = "https://login.kvp-sandbox.test";
const AUDIENCE: &str = "kvp-payroll";
/// The REST roles a token is written for, and whether it names the municipality.
const ROLES: [(&str, bool); 4] = [
    ("caseworker", true),
    ("payroll_operator", true),
    ("auditor", false),
    ("administrator", false),
];

/// `kvp-payroll sandbox` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The folder for the credentials, `sandbox.json`, the README and the
    /// database (made anew at every start).
    #[arg(long, default_value = "sandbox")]
    pub dir: PathBuf,
    /// Makes the synthetic municipality reproducible.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The address both listeners bind (a container: `0.0.0.0`).
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub bind: IpAddr,
    /// The gRPC port (0: any free one; `sandbox.json` says which); not the
    /// service's own default, so that both can run side by side.
    #[arg(long, default_value_t = 50071)]
    pub grpc_port: u16,
    /// The REST port (0: any free one).
    #[arg(long, default_value_t = 8071)]
    pub http_port: u16,
    /// A further DNS name the server certificate carries (a container
    /// service's host name), besides `localhost`, `kvp-sandbox` and the
    /// bound address.
    #[arg(long)]
    pub hostname: Vec<String>,
}

/// Runs the sandbox until SIGTERM or ctrl-c.
pub async fn run(
    args: Args,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    // The sandbox keeps its own database and settings: a configuration
    // meant for a real service must not reach it, nor it a real database.
    for variable in [
        "KVP_CONFIG",
        "KVP_DATABASE_URL",
        "KVP_MIGRATION_DATABASE_URL",
    ] {
        if std::env::var_os(variable).is_some() {
            bail!("the sandbox uses its own embedded database and settings: unset {variable}");
        }
    }
    std::fs::create_dir_all(args.dir.join("keys"))
        .with_context(|| format!("creating {}", args.dir.display()))?;
    std::fs::create_dir_all(args.dir.join("tokens"))?;
    let manifest_path = args.dir.join(MANIFEST);
    for stale in [
        "sandbox.json",
        "sandbox.db",
        "sandbox.db-wal",
        "sandbox.db-shm",
    ] {
        match std::fs::remove_file(args.dir.join(stale)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("removing the previous {stale}"));
            }
            _ => {}
        }
    }
    let dir = std::path::absolute(&args.dir)?;
    let files = Files::write(&dir, &args)?;
    let config = Config {
        grpc_addr: SocketAddr::new(args.bind, args.grpc_port),
        http_addr: SocketAddr::new(args.bind, args.http_port),
        database_url: format!("sqlite://{}?mode=rwc", dir.join("sandbox.db").display()),
        identity_key: Some(STANDARD.encode(random_bytes())),
        tls: Some(files.tls.clone()),
        auth: Some(files.auth.clone()),
        sandbox: true,
        ..Config::default()
    };
    let app = Application::build(&config).await?;
    let grpc_addr = app.grpc_addr()?;
    let http_addr = app.http_addr()?;
    let seeded = Seed::new(args.seed)
        .register(app.payroll(), &config, &files.tokens, &dir)
        .await?;
    let files_of = |name: &str| CertificateFiles {
        cert: format!("{name}.pem").into(),
        key: format!("{name}.key").into(),
    };
    let manifest = Manifest {
        municipality_id: MUNICIPALITY_ID.into(),
        grpc_url: format!("https://localhost:{}", grpc_addr.port()),
        http_url: format!(
            "http://{}:{}",
            loopback_if_unspecified(http_addr.ip()),
            http_addr.port()
        ),
        today: crate::clock::today(),
        ca: "ca.pem".into(),
        certificates: ClientCertificates {
            payroll_system: files_of("payroll-system"),
            timesheet_client: files_of("timesheet-client"),
        },
        tokens: ROLES
            .iter()
            .map(|(role, _)| ((*role).to_owned(), format!("tokens/{role}.jwt").into()))
            .collect(),
        supervisor: seeded.supervisor,
        participants: seeded.participants,
    };
    std::fs::write(dir.join("README.txt"), README)?;
    // Written whole, then renamed: a reader sees no file or a complete one.
    let partial = dir.join(format!("{MANIFEST}.partial"));
    std::fs::write(&partial, serde_json::to_vec_pretty(&manifest)?)?;
    std::fs::rename(&partial, &manifest_path)?;
    tracing::info!(
        grpc = %grpc_addr,
        http = %http_addr,
        dir = %dir.display(),
        "kvp-payroll sandbox ready: credentials and sandbox.json in the folder"
    );
    app.run_until(shutdown).await
}

/// The address a client on this host reaches a listener bound to `ip` at.
fn loopback_if_unspecified(ip: IpAddr) -> IpAddr {
    if ip.is_unspecified() {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        ip
    }
}

/// What the folder's README says.
const README: &str = "\
KVP payroll sandbox
===================

Every protection of a real service is on; the credentials here are for this
sandbox only and are made anew at every start. sandbox.json names them all,
the addresses, the municipality and its participants.

gRPC (kvp.payroll.v1.PayrollService): TLS, server certificate from ca.pem.
  A payroll system presents payroll-system.pem/.key (ClosePeriod,
  StreamPayLines, ConfirmPayment); a timesheet client timesheet-client.pem/.key
  (SubmitTimesheet). Both are for municipality 9999.
REST: a bearer token per role in tokens/ (Authorization: Bearer <token>).
Timesheets: signed (DSSE, Ed25519) by the participant and the supervisor with
  the keys in keys/ (base64 of the 32-byte private key); keyids in sandbox.json.
The clock: GET /v1/sandbox/clock; PUT /v1/sandbox/clock {\"today\": \"YYYY-MM-DD\"}
  with the administrator token moves it forward, so that a month ends.
Every answer carries the header (gRPC metadata) kvp-sandbox: true.
";

/// 32 random bytes.
fn random_bytes() -> [u8; 32] {
    let mut bytes = [0; 32];
    bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes
}

/// The credentials written to the folder, and the settings that trust them.
struct Files {
    tls: TlsConfig,
    auth: AuthConfig,
    /// Each role's token.
    tokens: Vec<(&'static str, String)>,
}

impl Files {
    /// Makes the CA, the certificates and the token key, and writes them.
    fn write(dir: &Path, args: &Args) -> anyhow::Result<Self> {
        let write = |name: &str, text: &str| {
            std::fs::write(dir.join(name), text).with_context(|| format!("writing {name}"))
        };
        // Valid far beyond any date the clock may reach (five years ahead).
        let lifetime = |params: &mut CertificateParams| {
            params.not_before = date_time_ymd(2020, 1, 1);
            params.not_after = date_time_ymd(2099, 12, 31);
        };
        let mut ca = CertificateParams::new(Vec::new())?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "KVP sandbox CA");
        lifetime(&mut ca);
        let ca_key = KeyPair::generate()?;
        write("ca.pem", &ca.self_signed(&ca_key)?.pem())?;
        let issuer = Issuer::new(ca, ca_key);
        let issue = |params: CertificateParams, name: &str| -> anyhow::Result<()> {
            let key = KeyPair::generate()?;
            write(
                &format!("{name}.pem"),
                &params.signed_by(&key, &issuer)?.pem(),
            )?;
            write(&format!("{name}.key"), &key.serialize_pem())?;
            Ok(())
        };

        let mut names = vec!["localhost".to_owned(), "kvp-sandbox".to_owned()];
        names.extend(args.hostname.iter().cloned());
        let mut server = CertificateParams::new(names)?;
        server
            .subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        if !args.bind.is_unspecified() && !args.bind.is_loopback() {
            server.subject_alt_names.push(SanType::IpAddress(args.bind));
        }
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        lifetime(&mut server);
        issue(server, "server")?;
        for (name, kind) in [
            ("payroll-system", "urn:kvp:client:payroll-system"),
            ("timesheet-client", "urn:kvp:client:timesheet-client"),
        ] {
            let mut client = CertificateParams::new(Vec::new())?;
            client
                .distinguished_name
                .push(DnType::CommonName, format!("sandbox {name}"));
            client.subject_alt_names = vec![
                SanType::URI(format!("urn:kvp:municipality:{MUNICIPALITY_ID}").try_into()?),
                SanType::URI(kind.try_into()?),
            ];
            client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
            lifetime(&mut client);
            issue(client, name)?;
        }

        let token_key = SigningKey::from_bytes(&random_bytes());
        let kid = "sandbox-token-key";
        let tokens = ROLES
            .iter()
            .map(|(role, scoped)| {
                let token = sign_token(&token_key, kid, role, scoped.then_some(MUNICIPALITY_ID));
                write(&format!("tokens/{role}.jwt"), &token).map(|()| (*role, token))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self {
            tls: TlsConfig {
                cert: dir.join("server.pem"),
                key: dir.join("server.key"),
                client_ca: dir.join("ca.pem"),
                client_crl: None,
            },
            auth: AuthConfig {
                issuer: ISSUER.into(),
                audience: AUDIENCE.into(),
                keys: vec![kvp_auth::TokenKey {
                    kid: kid.into(),
                    algorithm: "EdDSA".into(),
                    public_key_pem: kvp_signing::public_key_to_pem(&token_key.verifying_key()),
                }],
            },
            tokens,
        })
    }
}

/// A token (compact JWS, EdDSA) for `role`, valid until 2099.
fn sign_token(key: &SigningKey, kid: &str, role: &str, municipality: Option<&str>) -> String {
    let mut claims = json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": format!("sandbox-{role}"), "role": role,
        "iat": 1_577_836_800_u64, // 2020-01-01
        "exp": 4_102_358_400_u64, // 2099-12-31
    });
    if let Some(municipality) = municipality {
        claims["municipality"] = json!(municipality);
    }
    let part = |value: &Value| URL_SAFE_NO_PAD.encode(value.to_string());
    let input = format!(
        "{}.{}",
        part(&json!({"alg": "EdDSA", "typ": "JWT", "kid": kid})),
        part(&claims)
    );
    let signature = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}

/// The synthetic municipality, drawn from a seed.
struct Seed {
    seed: u64,
}

/// What was registered, as `sandbox.json` tells it.
struct Seeded {
    supervisor: SandboxSigner,
    participants: Vec<SandboxParticipant>,
}

const GIVEN_NAMES: [&str; 8] = [
    "Kari", "Ola", "Ingrid", "Per", "Nora", "Jonas", "Sara", "Emil",
];
const FAMILY_NAMES: [&str; 6] = ["Nordmann", "Hansen", "Johansen", "Olsen", "Larsen", "Berg"];

impl Seed {
    fn new(seed: u64) -> Self {
        Self { seed }
    }

    /// 32 bytes that depend only on the seed and `label`.
    fn bytes(&self, label: &str) -> [u8; 32] {
        Sha256::new()
            .chain_update(self.seed.to_be_bytes())
            .chain_update(label.as_bytes())
            .finalize()
            .into()
    }

    /// A number below `below` drawn from the seed and `label`.
    fn pick(&self, label: &str, below: u64) -> u64 {
        let bytes = self.bytes(label);
        u64::from_be_bytes([
            bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
        ]) % below
    }

    /// Registers the municipality, three participants with programmes and
    /// children, and the signing keys, through the REST API's own
    /// operations (the same validation, audit and tokens as a client's).
    async fn register(
        &self,
        payroll: Arc<crate::payroll::Payroll>,
        config: &Config,
        tokens: &[(&'static str, String)],
        dir: &Path,
    ) -> anyhow::Result<Seeded> {
        let router = crate::rest::router(
            payroll.clone(),
            crate::rest::auth::Authenticator::new(config.auth.as_ref())?,
        );
        let token = |role: &str| {
            tokens
                .iter()
                .find(|(r, _)| *r == role)
                .map(|(_, t)| t.clone())
                .unwrap_or_default()
        };
        let call = |method: Method, path: String, role: &str, body: Value| {
            let router = router.clone();
            let token = token(role);
            async move {
                let request = Request::builder()
                    .method(method)
                    .uri(&path)
                    .header(header::AUTHORIZATION, format!("Bearer {token}"))
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(body.to_string()))?;
                let response = router.oneshot(request).await?;
                let status = response.status();
                let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await?;
                if !status.is_success() {
                    bail!(
                        "seeding {path}: {status} {}",
                        String::from_utf8_lossy(&bytes)
                    );
                }
                Ok::<Value, anyhow::Error>(serde_json::from_slice(&bytes).unwrap_or(Value::Null))
            }
        };

        call(
            Method::PUT,
            format!("/v1/municipalities/{MUNICIPALITY_ID}"),
            "administrator",
            json!({"name": "Sandbox kommune", "use_product_codes": true}),
        )
        .await?;
        let today = crate::clock::today();
        // The programmes began three months ago (so last month is past the
        // waiting time for self-certification) and last two years.
        let start = first_of_month(
            first_of_month(first_of_month(today) - Duration::days(1)) - Duration::days(32),
        );
        let end = start.replace_year(start.year() + 2)? - Duration::days(1);

        let supervisor_key = SigningKey::from_bytes(&self.bytes("supervisor"));
        let supervisor = SandboxSigner {
            person_id: "sandbox-supervisor-1".into(),
            keyid: "sandbox-supervisor-1-key".into(),
            private_key: "keys/supervisor.ed25519".into(),
        };
        self.register_key(
            &call,
            &supervisor,
            "SUPERVISOR",
            &supervisor_key,
            Some(MUNICIPALITY_ID),
        )
        .await?;
        std::fs::write(
            dir.join(&supervisor.private_key),
            STANDARD.encode(supervisor_key.to_bytes()),
        )?;

        let mut participants = Vec::new();
        for n in 0..3_u32 {
            let label = |what: &str| format!("participant-{n}-{what}");
            let name = format!(
                "{} {}",
                GIVEN_NAMES[self.pick(&label("given"), GIVEN_NAMES.len() as u64) as usize],
                FAMILY_NAMES[self.pick(&label("family"), FAMILY_NAMES.len() as u64) as usize],
            );
            let birth = format!(
                "{:02}{:02}{:02}",
                1 + self.pick(&label("day"), 28),
                1 + self.pick(&label("month"), 12),
                70 + self.pick(&label("year"), 30),
            );
            let national_id =
                synthetic_national_id(&birth, self.pick(&label("individual"), 500) as u32)
                    .context("a synthetic identity number")?;
            // None, one and two children.
            let children = (0..n)
                .map(|c| {
                    let month = Month::try_from(u8::try_from(1 + c)?)?;
                    Ok(Date::from_calendar_date(
                        2014 + 3 * i32::try_from(c)?,
                        month,
                        u8::try_from(10 + c)?,
                    )?)
                })
                .collect::<anyhow::Result<Vec<Date>>>()?;
            let created = call(
                Method::POST,
                "/v1/participants".into(),
                "caseworker",
                json!({
                    "municipality_id": MUNICIPALITY_ID,
                    "national_id": national_id,
                    "display_name": name,
                    "children": children,
                }),
            )
            .await?;
            let id = created["id"]
                .as_str()
                .context("a participant id")?
                .to_owned();
            call(
                Method::POST,
                format!("/v1/participants/{id}/programmes"),
                "caseworker",
                json!({"start": start.to_string(), "end": end.to_string(), "decision_reference": format!("SANDBOX-{}", n + 1)}),
            )
            .await?;
            call(
                Method::PUT,
                format!("/v1/participants/{id}/employee-number"),
                "caseworker",
                json!({"employee_number": format!("S-{}", 1001 + n)}),
            )
            .await?;
            let key = SigningKey::from_bytes(&self.bytes(&label("key")));
            let participant = SandboxParticipant {
                id: id.clone(),
                display_name: name,
                employee_number: format!("S-{}", 1001 + n),
                children,
                programme: Programme { start, end },
                signer: SandboxSigner {
                    person_id: id,
                    keyid: format!("sandbox-participant-{}-key", n + 1),
                    private_key: format!("keys/participant-{}.ed25519", n + 1).into(),
                },
            };
            self.register_key(&call, &participant.signer, "PARTICIPANT", &key, None)
                .await?;
            std::fs::write(
                dir.join(&participant.signer.private_key),
                STANDARD.encode(key.to_bytes()),
            )?;
            if n == 0 {
                self.absences(
                    &payroll,
                    &call,
                    &participant,
                    [&key, &supervisor_key],
                    &supervisor,
                )
                .await?;
            }
            participants.push(participant);
        }
        Ok(Seeded {
            supervisor,
            participants,
        })
    }

    /// Last month's timesheet of the first participant, with absences for a
    /// caseworker to find: four self-certified sick days in a row, the last
    /// beyond the three an occurrence allows (its hours await a warning on
    /// the worklist), and two days of unexcused absence, both warned about,
    /// one decided (a deduction) and one awaiting its decision.
    async fn absences<F, Fut>(
        &self,
        payroll: &crate::payroll::Payroll,
        call: &F,
        participant: &SandboxParticipant,
        [key, supervisor_key]: [&SigningKey; 2],
        supervisor: &SandboxSigner,
    ) -> anyhow::Result<()>
    where
        F: Fn(Method, String, &str, Value) -> Fut,
        Fut: Future<Output = anyhow::Result<Value>>,
    {
        let id = participant.id.as_str();
        let last = first_of_month(crate::clock::today()) - Duration::days(1);
        let first = first_of_month(last);
        let weekdays: Vec<Date> = (0..last.day())
            .map(|d| first + Duration::days(i64::from(d)))
            .filter(|d| d.weekday().number_from_monday() <= 5)
            .collect();
        let (Some(sick), Some(&unexcused_1), Some(&unexcused_2)) =
            (weekdays.get(2..6), weekdays.get(8), weekdays.get(9))
        else {
            bail!("a month without ten weekdays");
        };
        let request = sick.iter().fold(
            Timesheet::new(id, MUNICIPALITY_ID, first, last).client_reference("sandbox-seed"),
            |timesheet, day| timesheet.day(*day, DayKind::SickSelf, Decimal::new(75, 1)),
        );
        let request = request
            .day(unexcused_1, DayKind::Unexcused, Decimal::from(3))
            .day(unexcused_2, DayKind::Unexcused, Decimal::from(2))
            .sign(&[
                (participant.signer.keyid.as_str(), key),
                (supervisor.keyid.as_str(), supervisor_key),
            ]);
        let Some(envelope) = request.envelope else {
            bail!("a signed timesheet without its envelope");
        };
        payroll
            .submit_timesheet(
                envelope,
                &crate::client_identity::Scope::Municipality(MUNICIPALITY_ID.into()),
                crate::clock::now(),
            )
            .await
            .context("seeding last month's timesheet")?;
        let day = |date: Date| json!({"date": date.to_string(), "entry_kind": "UNEXCUSED"});
        call(
            Method::POST,
            format!("/v1/participants/{id}/sanction-warnings"),
            "caseworker",
            json!({
                "given_on": (unexcused_2 + Duration::days(1)).to_string(), "channel": "IN_PERSON",
                "reference": "SANDBOX-VARSEL-1", "days": [day(unexcused_1), day(unexcused_2)],
            }),
        )
        .await?;
        call(
            Method::POST,
            format!("/v1/participants/{id}/sanction-decisions"),
            "caseworker",
            json!({
                "date": unexcused_1.to_string(), "entry_kind": "UNEXCUSED", "outcome": "APPROVED",
                "reference": "SANDBOX-VEDTAK-1",
            }),
        )
        .await?;
        Ok(())
    }

    /// Registers `key` as `who`'s (its `person_id` and `keyid`).
    async fn register_key<F, Fut>(
        &self,
        call: &F,
        who: &SandboxSigner,
        role: &str,
        key: &SigningKey,
        municipality: Option<&str>,
    ) -> anyhow::Result<()>
    where
        F: Fn(Method, String, &str, Value) -> Fut,
        Fut: Future<Output = anyhow::Result<Value>>,
    {
        call(
            Method::POST,
            "/v1/signer-keys".into(),
            "administrator",
            json!({
                "keyid": who.keyid, "person_id": who.person_id, "role": role,
                "public_key": kvp_signing::public_key_to_base64(&key.verifying_key()),
                "valid_from": "2020-01-01T00:00:00Z",
                "municipality_id": municipality,
            }),
        )
        .await
        .map(|_| ())
    }
}

/// The first day of `date`'s month.
fn first_of_month(date: Date) -> Date {
    date.replace_day(1).unwrap_or(date)
}
