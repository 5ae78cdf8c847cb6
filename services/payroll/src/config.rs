//! Typed, layered configuration: defaults → TOML file → `KVP_*` environment →
//! command-line flags. Secrets are redacted when the configuration is printed.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use base64::Engine;
use serde::{Deserialize, Serialize};

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
    /// Base64 of at least 32 secret bytes protecting identity numbers at rest;
    /// unset means development mode's fixed key.
    pub identity_key: Option<String>,
    /// `text` or `json` logs.
    pub log_format: LogFormat,
    /// The top-up service's gRPC endpoint; unset keeps events in the outbox.
    pub topup_url: Option<String>,
    /// Milliseconds between outbox polls when it is empty.
    pub relay_poll_ms: u64,
    /// Milliseconds before the first retry of a failed delivery (doubling).
    pub relay_retry_base_ms: u64,
    /// An OpenTelemetry collector's OTLP/gRPC endpoint (`http://host:4317`);
    /// spans are exported there when set, and not at all otherwise.
    pub otlp_endpoint: Option<String>,
    /// TLS for gRPC with client certificates; unset means plain TCP, which is
    /// allowed on loopback only (development).
    pub tls: Option<TlsConfig>,
    /// Bearer-token authentication for REST; unset means development mode
    /// (loopback only, the caller named by the `x-kvp-actor` header).
    pub auth: Option<AuthConfig>,
}

/// gRPC TLS: the server's certificate and the CA that issues municipal client
/// certificates. Every client must present a certificate chaining to
/// `client_ca`; its URI names carry the municipality and the client's role
/// (see `crate::client_identity`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain presented by the service.
    pub cert: PathBuf,
    /// PEM private key of that certificate.
    pub key: PathBuf,
    /// PEM certificate(s) of the CA issuing client certificates.
    pub client_ca: PathBuf,
}

/// REST bearer tokens (JWT): who issues them and the keys that verify them.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// The required `iss` claim.
    pub issuer: String,
    /// The required `aud` claim.
    pub audience: String,
    /// Verification keys; a token names its key with the `kid` header.
    pub keys: Vec<TokenKey>,
}

/// One token verification key.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenKey {
    /// The key id tokens carry in their `kid` header.
    pub kid: String,
    /// `EdDSA`, `ES256` or `RS256`.
    pub algorithm: String,
    /// The public key, PEM (SubjectPublicKeyInfo).
    pub public_key_pem: String,
}

impl fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthConfig")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field(
                "keys",
                &self.keys.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(),
            )
            .finish()
    }
}

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
            identity_key: None,
            log_format: LogFormat::Text,
            topup_url: None,
            relay_poll_ms: 500,
            relay_retry_base_ms: 1000,
            otlp_endpoint: None,
            tls: None,
            auth: None,
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
                "identity_key",
                &self.identity_key.as_ref().map(|_| "<redacted>"),
            )
            .field("log_format", &self.log_format)
            .field("topup_url", &self.topup_url)
            .field(
                "otlp_endpoint",
                &self.otlp_endpoint.as_deref().map(redact_url),
            )
            .field("tls", &self.tls)
            .field("auth", &self.auth)
            .finish()
    }
}

/// The TLS settings being assembled from environment variables.
fn tls_part(config: &mut Config) -> &mut TlsConfig {
    config.tls.get_or_insert_with(|| TlsConfig {
        cert: PathBuf::new(),
        key: PathBuf::new(),
        client_ca: PathBuf::new(),
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
    /// The combination is not safe to run.
    #[error("{0}")]
    Unsafe(String),
}

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
        for (name, value) in env {
            let bad = |message: String| ConfigError::Env {
                name: name.clone(),
                message,
            };
            match name.as_str() {
                "KVP_GRPC_ADDR" => {
                    config.grpc_addr = value.parse().map_err(|e| bad(format!("{e}")))?
                }
                "KVP_HTTP_ADDR" => {
                    config.http_addr = value.parse().map_err(|e| bad(format!("{e}")))?
                }
                "KVP_DATABASE_URL" => config.database_url = value,
                "KVP_IDENTITY_KEY" => config.identity_key = Some(value),
                "KVP_TOPUP_URL" => config.topup_url = Some(value),
                "KVP_OTLP_ENDPOINT" => {
                    config.otlp_endpoint = (!value.trim().is_empty()).then_some(value)
                }
                "KVP_TLS_CERT" => tls_part(&mut config).cert = value.into(),
                "KVP_TLS_KEY" => tls_part(&mut config).key = value.into(),
                "KVP_TLS_CLIENT_CA" => tls_part(&mut config).client_ca = value.into(),
                "KVP_LOG_FORMAT" => {
                    config.log_format = match value.as_str() {
                        "text" => LogFormat::Text,
                        "json" => LogFormat::Json,
                        _ => return Err(bad("must be text or json".into())),
                    }
                }
                _ => {}
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
        if let Some(tls) = &self.tls {
            for (what, path) in [
                ("tls.cert", &tls.cert),
                ("tls.key", &tls.key),
                ("tls.client_ca", &tls.client_ca),
            ] {
                if path.as_os_str().is_empty() {
                    return Err(ConfigError::Unsafe(format!(
                        "{what} is required when TLS is configured"
                    )));
                }
            }
        }
        let missing: Vec<_> = self.missing_protection().collect();
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
        self.identity_secret().map(|_| ())
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
        format!(
            "# kvp-payroll configuration. Every setting may also be given as a KVP_… \
             environment variable\n# (KVP_GRPC_ADDR, KVP_HTTP_ADDR, KVP_DATABASE_URL, \
             KVP_IDENTITY_KEY, KVP_LOG_FORMAT, KVP_TOPUP_URL, \
             KVP_OTLP_ENDPOINT).\n\n{defaults}\n# identity_key = \
             \"<base64 of 32 random bytes>\"   # unset: development mode\n# topup_url = \"http://127.0.0.1:50061\"   # unset: events wait in the outbox\n\
             # otlp_endpoint = \"http://127.0.0.1:4317\"   # unset: no span export\n"
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
