//! Typed, layered configuration: defaults → TOML file → `KVP_*` environment →
//! command-line flags. Secrets are redacted when the configuration is printed.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use base64::Engine;
use serde::{Deserialize, Serialize};

mod env;

/// The outbox relay's mutual TLS to the top-up service: the CA that issued
/// the top-up service's certificate, and the relay's own certificate, which
/// names this service (`urn:kvp:service:payroll`) for the top-up service to
/// admit it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelayTlsConfig {
    /// PEM certificate(s) of the CA that issued the top-up service's certificate.
    pub ca: PathBuf,
    /// PEM certificate chain the relay presents.
    pub cert: PathBuf,
    /// PEM private key of that certificate.
    pub key: PathBuf,
}

/// REST bearer tokens (JWT): who issues them and the keys that verify them.
pub use kvp_auth::{TokenKey, TokenSettings as AuthConfig};

pub use env::{
    CONFIG_FILE_VARIABLE, ENV_SETTINGS, EnvSetting, RENAMED, TOPUP_PREFIX, renamed_variables,
    unrecognised_variables,
};
use env::{Variable, classify};

/// The development key for identity numbers: used only in development mode,
/// where the service listens on loopback and says so loudly.
const DEVELOPMENT_IDENTITY_KEY: [u8; 32] = *b"kvp-development-identity-key-32b";

/// The service configuration.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where gRPC listens (payroll systems, timesheet clients).
    pub grpc_addr: SocketAddr,
    /// Where the REST API listens (caseworkers, operators, health, OpenAPI).
    pub http_addr: SocketAddr,
    /// The database: `sqlite://path?mode=rwc` (default, embedded) or `postgres://…`.
    pub database_url: String,
    /// The database as its schema's owner (`KVP_MIGRATION_DATABASE_URL`,
    /// PostgreSQL only): migrations run with it, and the service then serves
    /// as `database_url`'s role, which owns no table and so cannot alter one
    /// or switch its triggers off. Unset: `database_url` does both.
    pub migration_database_url: Option<String>,
    /// Base64 of at least 32 secret bytes protecting identity numbers at rest;
    /// unset means development mode's fixed key.
    pub identity_key: Option<String>,
    /// `text` or `json` logs.
    pub log_format: LogFormat,
    /// The top-up service's gRPC endpoint; unset keeps events in the outbox.
    /// `http://` to a loopback address, or `https://` with `relay_tls`.
    pub topup_url: Option<String>,
    /// Mutual TLS for the outbox relay's calls to a top-up service on
    /// another host (`https://` `topup_url`).
    pub relay_tls: Option<RelayTlsConfig>,
    /// Milliseconds between outbox polls when it is empty.
    pub relay_poll_ms: u64,
    /// Milliseconds before the first retry of a failed delivery (doubling).
    pub relay_retry_base_ms: u64,
    /// Milliseconds the relay leases the events it claims: if it dies, they
    /// are claimed again (and delivered again, deduplicated by the consumer)
    /// when the lease runs out. Longer than any one delivery takes.
    pub relay_lease_ms: u64,
    /// An OpenTelemetry collector's OTLP/gRPC endpoint (`http://host:4317`);
    /// spans are exported there when set, and not at all otherwise.
    pub otlp_endpoint: Option<String>,
    /// TLS for gRPC with client certificates; unset means plain TCP, which is
    /// allowed on loopback only (development).
    pub tls: Option<TlsConfig>,
    /// Bearer-token authentication for REST; unset means development mode
    /// (loopback only, the caller named by the `x-kvp-actor` header).
    pub auth: Option<AuthConfig>,
    /// Base64 of at least 32 secret bytes signing the audit checkpoints the
    /// service logs (see `audit_checkpoint`); unset: unsigned checkpoints.
    pub audit_checkpoint_key: Option<String>,
    /// Milliseconds between audit checkpoints (each logged only when the
    /// chain grew).
    pub audit_checkpoint_ms: u64,
    /// Development mode asked for explicitly (`--dev`, `KVP_DEV=1`): missing
    /// protections are then allowed on loopback even though production
    /// settings are given. Without any production setting it is implied.
    pub dev: bool,
    /// Bounds on request size and time, so that oversized messages and slow
    /// clients cannot tie the service up.
    pub limits: Limits,
    /// Whether a configuration file was read (a production setting in itself).
    #[serde(skip)]
    pub from_file: bool,
    /// The sandbox (`kvp-payroll sandbox`, never a setting): every answer is
    /// marked as the sandbox's and its clock can be moved.
    #[serde(skip)]
    pub sandbox: bool,
}

/// Request size and time limits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest gRPC message accepted, in bytes (a month's signed timesheet is a
    /// few kilobytes). Larger ones are refused with OUT_OF_RANGE.
    pub grpc_max_message_bytes: usize,
    /// Largest REST request body, in bytes. Larger ones get 413.
    pub http_max_body_bytes: usize,
    /// Longest a request may take, from its headers to its answer, in
    /// milliseconds (`KVP_REQUEST_TIMEOUT_MS`). A request cut off is rolled
    /// back, never half-stored. It must exceed the longest pay-period close.
    pub request_timeout_ms: u64,
    /// Longest a connection may wait for the client's next bytes, in
    /// milliseconds: idle or stalled connections are closed after it.
    pub idle_timeout_ms: u64,
    /// Longest a TLS handshake may take, in milliseconds.
    pub tls_handshake_timeout_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            grpc_max_message_bytes: 1024 * 1024,
            http_max_body_bytes: 256 * 1024,
            request_timeout_ms: 120_000,
            idle_timeout_ms: 60_000,
            tls_handshake_timeout_ms: 10_000,
        }
    }
}

/// gRPC TLS: the server's certificate, the CA that issues municipal client
/// certificates and optionally its revocation list. Every payroll RPC needs a
/// certificate chaining to `client_ca`; its URI names carry the municipality
/// and the client's role (see `crate::client_identity`).
pub use kvp_tls::TlsConfig;

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            grpc_addr: SocketAddr::from(([127, 0, 0, 1], 50051)),
            http_addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: "sqlite://data/kvp-payroll.db?mode=rwc".into(),
            migration_database_url: None,
            identity_key: None,
            log_format: LogFormat::Text,
            topup_url: None,
            relay_tls: None,
            relay_poll_ms: 500,
            relay_retry_base_ms: 1000,
            relay_lease_ms: 30_000,
            otlp_endpoint: None,
            tls: None,
            auth: None,
            audit_checkpoint_key: None,
            audit_checkpoint_ms: 300_000,
            dev: false,
            limits: Limits::default(),
            from_file: false,
            sandbox: false,
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("grpc_addr", &self.grpc_addr)
            .field("http_addr", &self.http_addr)
            .field("database_url", &redact_url(&self.database_url))
            .field(
                "migration_database_url",
                &self.migration_database_url.as_deref().map(redact_url),
            )
            .field(
                "identity_key",
                &self.identity_key.as_ref().map(|_| "<redacted>"),
            )
            .field("log_format", &self.log_format)
            .field("topup_url", &self.topup_url)
            .field("relay_tls", &self.relay_tls)
            .field(
                "otlp_endpoint",
                &self.otlp_endpoint.as_deref().map(redact_url),
            )
            .field("tls", &self.tls)
            .field("sandbox", &self.sandbox)
            .field("limits", &self.limits)
            .field("auth", &self.auth)
            .field(
                "audit_checkpoint_key",
                &self.audit_checkpoint_key.as_ref().map(|_| "<redacted>"),
            )
            .field("audit_checkpoint_ms", &self.audit_checkpoint_ms)
            .field("dev", &self.dev)
            .finish()
    }
}

/// An event never crosses a network in clear: the top-up service is reached
/// over plain gRPC on this host only, and anywhere with mutual TLS
/// (`https://` and `relay_tls`).
fn check_topup_url(url: &str, relay_tls: Option<&RelayTlsConfig>) -> Result<(), ConfigError> {
    let refused = |why: &str| {
        ConfigError::Unsafe(format!(
            "topup_url must be http:// to a loopback address (127.0.0.1, ::1 or localhost), \
             or https:// with relay_tls (KVP_RELAY_TLS_CA, KVP_RELAY_TLS_CERT, \
             KVP_RELAY_TLS_KEY): {why}"
        ))
    };
    let uri: axum::http::Uri = url.parse().map_err(|_| refused("it is not a URL"))?;
    let host = uri.host().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match (uri.scheme_str(), relay_tls) {
        (Some("http"), None) if loopback => Ok(()),
        (Some("http"), None) => Err(refused("a remote top-up service needs mutual TLS")),
        (Some("http"), Some(_)) => Err(refused("relay_tls is set, but the URL is plain http://")),
        (Some("https"), Some(tls)) => {
            for (what, path) in [
                ("relay_tls.ca", &tls.ca),
                ("relay_tls.cert", &tls.cert),
                ("relay_tls.key", &tls.key),
            ] {
                if path.as_os_str().is_empty() {
                    return Err(ConfigError::Unsafe(format!(
                        "{what} is required when relay_tls is configured"
                    )));
                }
            }
            Ok(())
        }
        (Some("https"), None) => Err(refused("https:// needs relay_tls")),
        _ => Err(refused("the scheme is neither http nor https")),
    }
}

/// The REST token settings being assembled from environment variables.
fn auth_part(config: &mut Config) -> &mut AuthConfig {
    config.auth.get_or_insert_with(AuthConfig::default)
}

/// The relay's TLS settings being assembled from environment variables.
fn relay_tls_part(config: &mut Config) -> &mut RelayTlsConfig {
    config.relay_tls.get_or_insert_with(|| RelayTlsConfig {
        ca: PathBuf::new(),
        cert: PathBuf::new(),
        key: PathBuf::new(),
    })
}

/// The TLS settings being assembled from environment variables.
fn tls_part(config: &mut Config) -> &mut TlsConfig {
    config.tls.get_or_insert_with(|| TlsConfig {
        cert: PathBuf::new(),
        key: PathBuf::new(),
        client_ca: PathBuf::new(),
        client_crl: None,
    })
}

/// A URL with its password replaced.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:<redacted>{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Why the configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read or parsed.
    #[error("configuration file {path}: {message}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// An environment variable has a bad value.
    #[error("environment variable {name}: {message}")]
    Env {
        /// The variable.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// A `KVP_…` variable that is no setting but close to one: refused, so a
    /// mistyped `KVP_IDENTITY_KEY` never leaves the development key in place.
    #[error(
        "environment variable {name} is not a setting of this service; did you mean {known}? \
         (refusing to start rather than ignore it)"
    )]
    Misspelt {
        /// The variable as given.
        name: String,
        /// The known variable it resembles.
        known: &'static str,
    },
    /// The combination is not safe to run.
    #[error("{0}")]
    Unsafe(String),
    /// The REST token settings cannot be used.
    #[error(transparent)]
    Auth(#[from] kvp_auth::SettingsError),
}

/// The commented `[auth]` section of the example configuration.
const AUTH_EXAMPLE: &str = r#"
# REST bearer tokens (JWT); unset: development mode (loopback only). Also
# KVP_AUTH_ISSUER, KVP_AUTH_AUDIENCE and KVP_AUTH_KEYS_FILE, a TOML file of
# [[keys]] tables (kid, algorithm, public_key_pem). Roles and scoping: README.
# [auth]
# issuer = "https://login.example.no"
# audience = "kvp-payroll"
# [[auth.keys]]
# kid = "2026-01"
# algorithm = "EdDSA"   # or ES256, RS256
# public_key_pem = """
# -----BEGIN PUBLIC KEY-----
# MCowBQYDK2VwAyEA…
# -----END PUBLIC KEY-----
# """
"#;

impl Config {
    /// Loads defaults, then the file (if any), then `KVP_*` variables from `env`.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
                    path: path.display().to_string(),
                    message: e.to_string(),
                })?;
                toml::from_str(&text).map_err(|e| ConfigError::File {
                    path: path.display().to_string(),
                    message: e.to_string(),
                })?
            }
            None => Config::default(),
        };
        config.from_file = file.is_some();
        // Old names first, so that a setting's new name wins when both are set.
        let (renamed, current): (Vec<_>, Vec<_>) = env
            .into_iter()
            .map(|(name, value)| (classify(&name), name, value))
            .partition(|(variable, _, _)| matches!(variable, Variable::Renamed(_)));
        for (variable, name, value) in renamed.into_iter().chain(current) {
            match variable {
                Variable::Setting(setting) | Variable::Renamed(setting) => {
                    (setting.apply)(&mut config, value)
                        .map_err(|message| ConfigError::Env { name, message })?;
                }
                Variable::Misspelt(known) => {
                    return Err(ConfigError::Misspelt { name, known });
                }
                Variable::ConfigFile
                | Variable::OtherService
                | Variable::Unrecognised
                | Variable::Other => {}
            }
        }
        Ok(config)
    }

    /// True when something is unprotected: gRPC without TLS, REST without
    /// bearer tokens, or the development identity key. The service may then
    /// listen on loopback only.
    pub fn development_mode(&self) -> bool {
        self.missing_protection().next().is_some()
    }

    /// The production settings given, by name: once any is, every missing
    /// protection is an error unless development mode is asked for.
    fn production_settings(&self) -> Vec<&'static str> {
        [
            ("a configuration file", self.from_file),
            ("a PostgreSQL database", self.is_postgres()),
            ("tls", self.tls.is_some()),
            ("auth", self.auth.is_some()),
            ("identity_key", self.identity_key.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, given)| given.then_some(name))
        .collect()
    }

    fn is_postgres(&self) -> bool {
        self.database_url.starts_with("postgres:") || self.database_url.starts_with("postgresql:")
    }

    /// The protections not configured, by setting name.
    fn missing_protection(&self) -> impl Iterator<Item = &'static str> {
        [
            ("tls (gRPC client certificates)", self.tls.is_none()),
            ("auth (REST bearer tokens)", self.auth.is_none()),
            ("identity_key", self.identity_key.is_none()),
        ]
        .into_iter()
        .filter_map(|(name, missing)| missing.then_some(name))
    }

    /// Refuses configurations that would expose an unprotected service.
    pub fn check(&self) -> Result<(), ConfigError> {
        if let Some(what) = self.tls.as_ref().and_then(TlsConfig::first_missing) {
            return Err(ConfigError::Unsafe(format!(
                "{what} is required when TLS is configured"
            )));
        }
        if let Some(auth) = &self.auth {
            auth.check("auth")?;
        }
        let missing: Vec<_> = self.missing_protection().collect();
        let given = self.production_settings();
        if !self.dev && !given.is_empty() && !missing.is_empty() {
            return Err(ConfigError::Unsafe(format!(
                "{} given, so this is not development mode, but {} not configured: refusing to \
                 start unprotected. Configure it, or ask for development mode explicitly with \
                 --dev or KVP_DEV=1 (loopback only).",
                given.join(", "),
                missing.join(", ")
            )));
        }
        // Its key is in this source code: it never protects a database that
        // outlives a developer's machine.
        if self.is_postgres() && self.identity_key.is_none() {
            return Err(ConfigError::Unsafe(
                "the development identity key never protects a PostgreSQL database: set \
                 identity_key (KVP_IDENTITY_KEY, base64 of at least 32 bytes)"
                    .into(),
            ));
        }
        if !missing.is_empty() {
            for (what, addr) in [("grpc_addr", self.grpc_addr), ("http_addr", self.http_addr)] {
                if !addr.ip().is_loopback() {
                    return Err(ConfigError::Unsafe(format!(
                        "{what} {addr} is not a loopback address, but {} not configured: \
                         refusing to expose the service. Bind to 127.0.0.1 for development.",
                        missing.join(", ")
                    )));
                }
            }
        }
        match (&self.topup_url, &self.relay_tls) {
            (Some(url), tls) => check_topup_url(url, tls.as_ref())?,
            (None, Some(_)) => {
                return Err(ConfigError::Unsafe(
                    "relay_tls is set, but no topup_url to use it for".into(),
                ));
            }
            (None, None) => {}
        }
        if let Some(url) = &self.migration_database_url {
            let postgres = |u: &str| u.starts_with("postgres:") || u.starts_with("postgresql:");
            if !postgres(url) || !self.is_postgres() {
                return Err(ConfigError::Unsafe(
                    "migration_database_url is for PostgreSQL: both it and database_url must be \
                     postgres:// URLs"
                        .into(),
                ));
            }
        }
        self.audit_checkpoint_secret()?;
        self.identity_secret().map(|_| ())
    }

    /// The key signing audit checkpoints, if one is configured.
    pub fn audit_checkpoint_secret(&self) -> Result<Option<Vec<u8>>, ConfigError> {
        let Some(text) = &self.audit_checkpoint_key else {
            return Ok(None);
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| ConfigError::Unsafe("audit_checkpoint_key must be base64".into()))?;
        if bytes.len() < 32 {
            return Err(ConfigError::Unsafe(
                "audit_checkpoint_key must hold at least 32 bytes".into(),
            ));
        }
        Ok(Some(bytes))
    }

    /// The secret protecting identity numbers.
    pub fn identity_secret(&self) -> Result<Vec<u8>, ConfigError> {
        match &self.identity_key {
            None => Ok(DEVELOPMENT_IDENTITY_KEY.to_vec()),
            Some(text) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(text.trim())
                    .map_err(|_| ConfigError::Unsafe("identity_key must be base64".into()))?;
                if bytes.len() < 32 {
                    return Err(ConfigError::Unsafe(
                        "identity_key must hold at least 32 bytes".into(),
                    ));
                }
                Ok(bytes)
            }
        }
    }

    /// An example configuration file with every setting and its default.
    pub fn example() -> String {
        let defaults = toml::to_string_pretty(&Config::default()).unwrap_or_default();
        // The optional top-level keys come before the defaults, whose tables
        // ([limits]) must come last in TOML.
        let variables: String = ENV_SETTINGS
            .iter()
            .map(|s| format!("#   {:<44} {}\n", s.setting, s.variable))
            .collect();
        format!(
            "# kvp-payroll configuration (this file: --config or {CONFIG_FILE_VARIABLE}). Every \
             setting may\n# also be given as an environment variable, which overrides the file:\n\
             {variables}\n\
             # identity_key = \"<base64 of 32 random bytes>\"   # unset: development mode\n\
             # topup_url = \"http://127.0.0.1:50061\"   # unset: events wait in the outbox\n\
             # otlp_endpoint = \"http://127.0.0.1:4317\"   # unset: no span export\n\n\
             {defaults}\n\
             # gRPC over TLS with municipal client certificates (unset: plain TCP, loopback only)\n\
             # [tls]\n# cert = \"/etc/kvp/tls/server.crt\"\n# key = \"/etc/kvp/tls/server.key\"\n\
             # client_ca = \"/etc/kvp/tls/clients-ca.crt\"\n\
             # client_crl = \"/etc/kvp/tls/clients-ca.crl\"   # re-read when it changes\n\n\
             {AUTH_EXAMPLE}"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_apply_in_order_and_secrets_are_redacted() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("kvp.toml");
        std::fs::write(
            &file,
            "http_addr = \"127.0.0.1:9000\"\ndatabase_url = \"postgres://u:secret@db/kvp\"\n",
        )
        .unwrap();
        let env = vec![("KVP_HTTP_ADDR".to_owned(), "127.0.0.1:9001".to_owned())];
        let config = Config::load(Some(&file), env).unwrap();
        assert_eq!(config.http_addr.port(), 9001);
        assert_eq!(config.grpc_addr.port(), 50051);
        let debug = format!("{config:?}");
        assert!(!debug.contains("secret"), "{debug}");
        assert!(debug.contains("postgres://u:<redacted>@db/kvp"), "{debug}");
    }

    #[test]
    fn an_exposed_unprotected_service_is_refused() {
        let env = vec![("KVP_GRPC_ADDR".to_owned(), "0.0.0.0:50051".to_owned())];
        let config = Config::load(None, env).unwrap();
        let err = config.check().unwrap_err().to_string();
        assert!(
            err.contains("0.0.0.0:50051") && err.contains("refusing"),
            "{err}"
        );
        assert!(Config::default().check().is_ok());
        assert!(Config::default().development_mode());
    }

    #[test]
    fn development_mode_is_the_absence_of_production_settings_never_an_accident() {
        let tls = TlsConfig {
            cert: "server.pem".into(),
            key: "server.key".into(),
            client_ca: "ca.pem".into(),
            client_crl: None,
        };
        let key = "a3ZwLXRlc3Qta2V5LW9mLXRoaXJ0eS10d28tYnl0ZXM=".to_owned();
        // Each production setting alone leaves protections missing: refused.
        for (config, given) in [
            (
                Config {
                    database_url: "postgres://kvp@db/kvp".into(),
                    identity_key: Some(key.clone()),
                    ..Config::default()
                },
                "a PostgreSQL database, identity_key given",
            ),
            (
                Config {
                    tls: Some(tls.clone()),
                    ..Config::default()
                },
                "tls given",
            ),
            (
                Config {
                    identity_key: Some(key.clone()),
                    ..Config::default()
                },
                "identity_key given",
            ),
            (
                Config {
                    from_file: true,
                    ..Config::default()
                },
                "a configuration file given",
            ),
        ] {
            let err = config.check().unwrap_err().to_string();
            assert!(err.starts_with(given), "{err}");
            assert!(err.contains("--dev or KVP_DEV=1"), "{err}");
            // Asked for explicitly, development mode runs (on loopback).
            let dev = Config {
                dev: true,
                ..config
            };
            dev.check().unwrap();
            assert!(dev.development_mode());
        }
        // The development key never protects PostgreSQL, --dev or not.
        let postgres = Config {
            database_url: "postgresql://kvp@db/kvp".into(),
            ..Config::default()
        };
        let err = postgres.clone().check().unwrap_err().to_string();
        assert!(err.contains("identity_key not configured"), "{err}");
        let err = Config {
            dev: true,
            ..postgres
        }
        .check()
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("development identity key never protects a PostgreSQL"),
            "{err}"
        );
        // Nothing at all: development mode by absence. Everything: production.
        assert!(Config::default().check().is_ok());
        let env = vec![("KVP_DEV".to_owned(), "yes".to_owned())];
        let err = Config::load(None, env).err().unwrap().to_string();
        assert!(err.contains("KVP_DEV"), "{err}");
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), "log_format = \"json\"\n").unwrap();
        assert!(
            Config::load(Some(file.path()), Vec::new())
                .unwrap()
                .from_file
        );
    }

    #[test]
    fn the_top_up_service_is_reached_in_clear_on_this_host_only() {
        let with = |url: &str| Config {
            topup_url: Some(url.to_owned()),
            ..Config::default()
        };
        let tls = RelayTlsConfig {
            ca: "ca.pem".into(),
            cert: "relay.pem".into(),
            key: "relay.key".into(),
        };
        let with_tls = |url: &str| Config {
            relay_tls: Some(tls.clone()),
            ..with(url)
        };
        for remote in ["https://kvp-topup.kvp.svc:50061", "https://127.0.0.1:50061"] {
            assert!(with_tls(remote).check().is_ok(), "{remote}");
        }
        for (config, why) in [
            (with_tls("http://127.0.0.1:50061"), "plain http://"),
            (with_tls("http://kvp-topup:50061"), "plain http://"),
            (with("https://topup.example:443"), "needs relay_tls"),
            (
                Config {
                    topup_url: None,
                    ..with_tls("")
                },
                "no topup_url",
            ),
        ] {
            let err = config.check().unwrap_err().to_string();
            assert!(err.contains(why), "{err}");
        }
        for local in [
            "http://127.0.0.1:50061",
            "http://127.0.0.1:15061",
            "http://[::1]:50061",
            "http://localhost:50061",
        ] {
            assert!(with(local).check().is_ok(), "{local}");
        }
        for remote in [
            "http://kvp-topup:50061",
            "http://10.0.0.7:50061",
            "127.0.0.1:50061",
            "",
        ] {
            let err = with(remote).check().unwrap_err().to_string();
            assert!(
                err.contains("topup_url") && err.contains("loopback"),
                "{remote}: {err}"
            );
        }
    }

    #[test]
    fn span_export_is_off_unless_an_otlp_endpoint_is_configured() {
        assert_eq!(Config::default().otlp_endpoint, None);
        let blank = vec![("KVP_OTLP_ENDPOINT".to_owned(), " ".to_owned())];
        assert_eq!(Config::load(None, blank).unwrap().otlp_endpoint, None);
        let env = vec![(
            "KVP_OTLP_ENDPOINT".to_owned(),
            "http://collector:4317".to_owned(),
        )];
        let config = Config::load(None, env).unwrap();
        assert_eq!(
            config.otlp_endpoint.as_deref(),
            Some("http://collector:4317")
        );
        let file: Config = toml::from_str("otlp_endpoint = \"http://otel:4317\"\n").unwrap();
        assert_eq!(file.otlp_endpoint.as_deref(), Some("http://otel:4317"));
    }

    const ED_PUBLIC: &str = include_str!("../../../../crates/auth/testdata/eddsa-public.pem");

    #[test]
    fn token_settings_come_from_variables_and_a_keys_file() {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys.toml");
        std::fs::write(
            &keys,
            format!(
                "[[keys]]\nkid = \"2026-01\"\nalgorithm = \"EdDSA\"\npublic_key_pem = \"\"\"\n{ED_PUBLIC}\"\"\"\n"
            ),
        )
        .unwrap();
        let env = vec![
            (
                "KVP_AUTH_ISSUER".to_owned(),
                "https://login.test".to_owned(),
            ),
            ("KVP_AUTH_AUDIENCE".to_owned(), "kvp-payroll".to_owned()),
            ("KVP_AUTH_KEYS_FILE".to_owned(), keys.display().to_string()),
            ("KVP_DEV".to_owned(), "1".to_owned()),
        ];
        let config = Config::load(None, env).unwrap();
        let auth = config.auth.as_ref().unwrap();
        assert_eq!(auth.issuer, "https://login.test");
        assert_eq!(auth.keys[0].kid, "2026-01");
        config.check().unwrap();
        assert!(format!("{config:?}").contains("2026-01"));
        assert!(!format!("{config:?}").contains("BEGIN PUBLIC KEY"));

        let missing = vec![(
            "KVP_AUTH_KEYS_FILE".to_owned(),
            "/nonexistent/keys.toml".to_owned(),
        )];
        let err = Config::load(None, missing).err().unwrap().to_string();
        assert!(err.contains("KVP_AUTH_KEYS_FILE"), "{err}");
        let partial = vec![("KVP_AUTH_AUDIENCE".to_owned(), "kvp-payroll".to_owned())];
        let err = Config::load(None, partial)
            .unwrap()
            .check()
            .unwrap_err()
            .to_string();
        assert!(err.contains("auth.issuer is required"), "{err}");
    }

    #[test]
    fn bad_values_name_their_variable() {
        let env = vec![("KVP_LOG_FORMAT".to_owned(), "xml".to_owned())];
        let err = Config::load(None, env).err().unwrap().to_string();
        assert!(err.contains("KVP_LOG_FORMAT"), "{err}");
        let example = Config::example();
        let parsed: Config = toml::from_str(&example).unwrap();
        assert_eq!(parsed.http_addr, Config::default().http_addr);
    }
}
