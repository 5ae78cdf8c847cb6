//! Typed, layered configuration: defaults, then an optional TOML file, then
//! `KVP_TOPUP_*` environment variables.
//!
//! With no configuration the service runs on an SQLite file under `./data`
//! and listens on 127.0.0.1 only (gRPC 50061, HTTP 8081), in development
//! mode: REST without tokens, the event sink without TLS. The REST API
//! listens beyond loopback only with bearer tokens configured (`[auth]`,
//! `KVP_TOPUP_AUTH_*`); the gRPC event sink only with mutual TLS (`[tls]`,
//! `KVP_TOPUP_TLS_*`), which admits the payroll service's certificate alone.
//! The database URL's password is never printed.

use std::collections::HashMap;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use kvp_auth::{TokenKeysFile, TokenSettings};
use serde::Deserialize;

/// The example configuration file (`kvp-topup --print-example-config`).
pub const EXAMPLE: &str = include_str!("../kvp-topup.example.toml");

/// Prefix of the environment variables read.
pub const ENV_PREFIX: &str = "KVP_TOPUP_";

/// The environment variable naming a configuration file.
pub const ENV_CONFIG_FILE: &str = "KVP_TOPUP_CONFIG";

/// The service's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the gRPC event sink listens (`KVP_TOPUP_GRPC_ADDR`).
    pub grpc_addr: SocketAddr,
    /// Where the REST API listens (`KVP_TOPUP_HTTP_ADDR`).
    pub http_addr: SocketAddr,
    /// The database (`KVP_TOPUP_DATABASE_URL`): `sqlite://…` or `postgres://…`.
    pub database_url: DatabaseUrl,
    /// A norm rates file replacing the shipped one (`KVP_TOPUP_NORMS_FILE`).
    pub norms_file: Option<PathBuf>,
    /// Log lines as `text` or `json` (`KVP_TOPUP_LOG_FORMAT`).
    pub log_format: LogFormat,
    /// Mutual TLS for the gRPC event sink: only the payroll service's
    /// certificate may deliver (`KVP_TOPUP_TLS_CERT`, `KVP_TOPUP_TLS_KEY`,
    /// `KVP_TOPUP_TLS_CLIENT_CA`, optionally a revocation list re-read when it
    /// changes: `KVP_TOPUP_TLS_CLIENT_CRL`); unset means plain TCP on loopback
    /// only.
    pub tls: Option<TlsConfig>,
    /// REST bearer tokens (JWT): who issues them and the keys that verify
    /// them (`KVP_TOPUP_AUTH_ISSUER`, `KVP_TOPUP_AUTH_AUDIENCE`,
    /// `KVP_TOPUP_AUTH_KEYS_FILE`); unset means development mode.
    pub auth: Option<TokenSettings>,
    /// An OpenTelemetry collector's OTLP/gRPC endpoint, e.g.
    /// `http://127.0.0.1:4317` (`KVP_TOPUP_OTLP_ENDPOINT`): spans are exported
    /// there when set, and not at all otherwise.
    pub otlp_endpoint: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            grpc_addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 50061)),
            http_addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 8081)),
            database_url: DatabaseUrl("sqlite://data/kvp-topup.db?mode=rwc".into()),
            norms_file: None,
            log_format: LogFormat::Text,
            tls: None,
            auth: None,
            otlp_endpoint: None,
        }
    }
}

/// The event sink's TLS: this service's certificate, the CA that issues the
/// payroll service's relay certificate and optionally its revocation list.
pub use kvp_tls::TlsConfig;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// A database URL; its `Debug` and `Display` hide the password.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// A URL.
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    /// The URL itself, password included: for connecting only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with any password replaced by `***`.
    pub fn redacted(&self) -> String {
        let url = &self.0;
        let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
            return url.clone();
        };
        let rest = &url[scheme_end..];
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        match authority.rfind('@') {
            Some(at) => match authority[..at].split_once(':') {
                Some((user, _)) => format!(
                    "{}{user}:***{}",
                    &url[..scheme_end],
                    &url[scheme_end + at..]
                ),
                None => url.clone(),
            },
            None => url.clone(),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.redacted())
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// The configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid configuration.
    #[error("the configuration file {path} is invalid: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, as the TOML reader says.
        message: String,
    },
    /// An environment variable is not valid.
    #[error("environment variable {name}: {message}")]
    Env {
        /// The variable.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// The REST API on a non-loopback address without bearer tokens.
    #[error(
        "http_addr {0} is not a loopback address, but no bearer tokens are configured \
         (KVP_TOPUP_AUTH_ISSUER, KVP_TOPUP_AUTH_AUDIENCE, KVP_TOPUP_AUTH_KEYS_FILE): \
         refusing to expose households and proposals. Bind to 127.0.0.1 for development."
    )]
    UnauthenticatedRest(SocketAddr),
    /// The gRPC event sink on a non-loopback address without TLS.
    #[error(
        "grpc_addr {0} is not a loopback address, but no TLS is configured \
         (KVP_TOPUP_TLS_CERT, KVP_TOPUP_TLS_KEY, KVP_TOPUP_TLS_CLIENT_CA): refusing to take \
         events in clear. Bind to 127.0.0.1 for development."
    )]
    InsecureBind(SocketAddr),
    /// A TLS setting is missing.
    #[error("{0} is required when TLS is configured")]
    IncompleteTls(&'static str),
    /// The bearer token settings cannot be used.
    #[error(transparent)]
    Auth(#[from] kvp_auth::SettingsError),
}

impl Config {
    /// Defaults, overlaid by the file (`file`, else `KVP_TOPUP_CONFIG`, else
    /// none), overlaid by the `KVP_TOPUP_*` variables of `env`; then checked.
    pub fn load(file: Option<&Path>, env: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let file = file
            .map(Path::to_path_buf)
            .or_else(|| env.get(ENV_CONFIG_FILE).map(PathBuf::from));
        let mut config = match file {
            Some(path) => Self::from_file(&path)?,
            None => Self::default(),
        };
        config.apply_env(env)?;
        config.check()?;
        Ok(config)
    }

    /// Defaults overlaid by a TOML file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// Overlays the `KVP_TOPUP_*` variables; an unknown one is an error (a
    /// typing mistake should not silently leave a default in place).
    pub fn apply_env(&mut self, env: &HashMap<String, String>) -> Result<(), ConfigError> {
        let mut names: Vec<&String> = env.keys().filter(|k| k.starts_with(ENV_PREFIX)).collect();
        names.sort();
        for name in names {
            let value = &env[name];
            let bad = |message: String| ConfigError::Env {
                name: name.clone(),
                message,
            };
            match &name[ENV_PREFIX.len()..] {
                "CONFIG" => {}
                // The payroll service's old name of KVP_RELAY_TOPUP_URL, which
                // it still accepts for a release (and warns about): left to it,
                // so that one environment serves both services meanwhile.
                "URL" => {}
                "GRPC_ADDR" => {
                    self.grpc_addr = value
                        .parse()
                        .map_err(|_| bad(format!("`{value}` is not an address host:port")))?;
                }
                "HTTP_ADDR" => {
                    self.http_addr = value
                        .parse()
                        .map_err(|_| bad(format!("`{value}` is not an address host:port")))?;
                }
                "DATABASE_URL" => self.database_url = DatabaseUrl::new(value.clone()),
                "NORMS_FILE" => {
                    self.norms_file = (!value.is_empty()).then(|| PathBuf::from(value));
                }
                "LOG_FORMAT" => {
                    self.log_format = match value.as_str() {
                        "text" => LogFormat::Text,
                        "json" => LogFormat::Json,
                        _ => return Err(bad("must be `text` or `json`".into())),
                    };
                }
                "OTLP_ENDPOINT" => {
                    self.otlp_endpoint = (!value.trim().is_empty()).then(|| value.clone());
                }
                "AUTH_ISSUER" => auth_part(self).issuer = value.clone(),
                "AUTH_AUDIENCE" => auth_part(self).audience = value.clone(),
                "AUTH_KEYS_FILE" => {
                    let text = std::fs::read_to_string(value)
                        .map_err(|e| bad(format!("cannot read {value}: {e}")))?;
                    let file: TokenKeysFile = toml::from_str(&text)
                        .map_err(|e| bad(format!("{value} is not a keys file: {e}")))?;
                    auth_part(self).keys = file.keys;
                }
                "TLS_CERT" => tls_part(self).cert = PathBuf::from(value),
                "TLS_KEY" => tls_part(self).key = PathBuf::from(value),
                "TLS_CLIENT_CA" => tls_part(self).client_ca = PathBuf::from(value),
                "TLS_CLIENT_CRL" => {
                    tls_part(self).client_crl =
                        (!value.trim().is_empty()).then(|| PathBuf::from(value));
                }
                _ => return Err(bad("is not a setting of this service".into())),
            }
        }
        Ok(())
    }

    /// Refuses unusable token and TLS settings, REST beyond loopback
    /// without tokens, and gRPC beyond loopback without TLS.
    pub fn check(&self) -> Result<(), ConfigError> {
        if let Some(auth) = &self.auth {
            auth.check("auth")?;
        } else if !self.http_addr.ip().is_loopback() {
            return Err(ConfigError::UnauthenticatedRest(self.http_addr));
        }
        if let Some(tls) = &self.tls {
            if let Some(what) = tls.first_missing() {
                return Err(ConfigError::IncompleteTls(what));
            }
        } else if !self.grpc_addr.ip().is_loopback() {
            return Err(ConfigError::InsecureBind(self.grpc_addr));
        }
        Ok(())
    }
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

/// The token settings being assembled from environment variables.
fn auth_part(config: &mut Config) -> &mut TokenSettings {
    config.auth.get_or_insert_with(TokenSettings::default)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_listen_on_loopback_with_sqlite() {
        let config = Config::load(None, &env(&[])).unwrap();
        assert_eq!(config.grpc_addr.to_string(), "127.0.0.1:50061");
        assert_eq!(config.http_addr.to_string(), "127.0.0.1:8081");
        assert_eq!(
            config.database_url.expose(),
            "sqlite://data/kvp-topup.db?mode=rwc"
        );
    }

    #[test]
    fn the_file_is_overlaid_by_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("topup.toml");
        std::fs::write(
            &path,
            "http_addr = \"127.0.0.1:9000\"\ndatabase_url = \"postgres://u:secret@db/topup\"\n",
        )
        .unwrap();
        let config = Config::load(
            Some(&path),
            &env(&[("KVP_TOPUP_HTTP_ADDR", "127.0.0.1:9100")]),
        )
        .unwrap();
        assert_eq!(config.http_addr.to_string(), "127.0.0.1:9100");
        assert_eq!(config.grpc_addr.to_string(), "127.0.0.1:50061");
        assert_eq!(
            format!("{:?}", config.database_url),
            "\"postgres://u:***@db/topup\""
        );
        assert!(!format!("{config:?}").contains("secret"));
    }

    #[test]
    fn span_export_is_off_unless_an_otlp_endpoint_is_configured() {
        assert_eq!(Config::load(None, &env(&[])).unwrap().otlp_endpoint, None);
        let config = Config::load(
            None,
            &env(&[("KVP_TOPUP_OTLP_ENDPOINT", "http://collector:4317")]),
        )
        .unwrap();
        assert_eq!(
            config.otlp_endpoint.as_deref(),
            Some("http://collector:4317")
        );
        let blank = Config::load(None, &env(&[("KVP_TOPUP_OTLP_ENDPOINT", "")])).unwrap();
        assert_eq!(blank.otlp_endpoint, None);
    }

    #[test]
    fn tokens_come_from_variables_and_a_keys_file_and_open_rest_beyond_loopback() {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys.toml");
        std::fs::write(
            &keys,
            format!(
                "[[keys]]\nkid = \"2026-01\"\nalgorithm = \"EdDSA\"\npublic_key_pem = \"\"\"\n{ED_PUBLIC}\"\"\"\n"
            ),
        )
        .unwrap();
        let keys = keys.display().to_string();
        let config = Config::load(
            None,
            &env(&[
                ("KVP_TOPUP_AUTH_ISSUER", "https://login.test"),
                ("KVP_TOPUP_AUTH_AUDIENCE", "kvp-topup"),
                ("KVP_TOPUP_AUTH_KEYS_FILE", &keys),
                ("KVP_TOPUP_HTTP_ADDR", "0.0.0.0:8081"),
            ]),
        )
        .unwrap();
        let auth = config.auth.as_ref().unwrap();
        assert_eq!(
            (
                auth.issuer.as_str(),
                auth.audience.as_str(),
                auth.keys[0].kid.as_str()
            ),
            ("https://login.test", "kvp-topup", "2026-01")
        );
        assert!(!format!("{config:?}").contains("BEGIN PUBLIC KEY"));
        let e = Config::load(None, &env(&[("KVP_TOPUP_AUTH_KEYS_FILE", &keys)])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "auth.issuer is required when auth is configured"
        );
        let e = Config::load(
            None,
            &env(&[("KVP_TOPUP_AUTH_KEYS_FILE", "/nonexistent/keys.toml")]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("KVP_TOPUP_AUTH_KEYS_FILE"), "{e}");
    }

    #[test]
    fn the_example_file_is_valid_and_says_the_defaults() {
        let config: Config = toml::from_str(EXAMPLE).unwrap();
        assert_eq!(config, Config::default());
    }

    const ED_PUBLIC: &str = include_str!("../../../crates/auth/testdata/eddsa-public.pem");

    #[test]
    fn remote_binding_and_unknown_variables_are_refused() {
        let e = Config::load(None, &env(&[("KVP_TOPUP_HTTP_ADDR", "0.0.0.0:8081")])).unwrap_err();
        assert!(matches!(e, ConfigError::UnauthenticatedRest(_)), "{e}");
        // TLS on gRPC does not stand in for tokens on REST.
        let e = Config::load(
            None,
            &env(&[
                ("KVP_TOPUP_HTTP_ADDR", "0.0.0.0:8081"),
                ("KVP_TOPUP_TLS_CERT", "server.pem"),
                ("KVP_TOPUP_TLS_KEY", "server.key"),
                ("KVP_TOPUP_TLS_CLIENT_CA", "ca.pem"),
            ]),
        )
        .unwrap_err();
        assert!(matches!(e, ConfigError::UnauthenticatedRest(_)), "{e}");
        let e = Config::load(None, &env(&[("KVP_TOPUP_GRPC_ADDR", "0.0.0.0:50061")])).unwrap_err();
        assert!(matches!(e, ConfigError::InsecureBind(_)), "{e}");
        let e = Config::load(
            None,
            &env(&[
                ("KVP_TOPUP_GRPC_ADDR", "0.0.0.0:50061"),
                ("KVP_TOPUP_TLS_CERT", "server.pem"),
                ("KVP_TOPUP_TLS_KEY", "server.key"),
            ]),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "tls.client_ca is required when TLS is configured"
        );
        let config = Config::load(
            None,
            &env(&[
                ("KVP_TOPUP_GRPC_ADDR", "0.0.0.0:50061"),
                ("KVP_TOPUP_TLS_CERT", "server.pem"),
                ("KVP_TOPUP_TLS_KEY", "server.key"),
                ("KVP_TOPUP_TLS_CLIENT_CA", "ca.pem"),
            ]),
        )
        .unwrap();
        assert_eq!(
            config.tls.as_ref().map(|t| t.client_ca.clone()),
            Some(PathBuf::from("ca.pem"))
        );
        assert!(config.tls.is_some());
        let e = Config::load(None, &env(&[("KVP_TOPUP_DATABSE_URL", "x")])).unwrap_err();
        assert!(e.to_string().contains("KVP_TOPUP_DATABSE_URL"), "{e}");
        let beside_payroll = env(&[("KVP_TOPUP_URL", "http://127.0.0.1:50061")]);
        assert_eq!(
            Config::load(None, &beside_payroll).unwrap(),
            Config::default()
        );
    }
}
