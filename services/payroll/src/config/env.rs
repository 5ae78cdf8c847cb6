//! The `KVP_…` environment variables: one table of settings that loading
//! applies and `print-config` lists, and the typing-error check that stops
//! start-up on a variable within two edits of a setting's.

use std::fmt;

use kvp_auth::TokenKeysFile;

use super::{Config, LogFormat, auth_part, relay_tls_part, tls_part};

/// One setting that an environment variable sets.
pub struct EnvSetting {
    /// The variable, `KVP_…`.
    pub variable: &'static str,
    /// The setting's path in the configuration file (`limits.idle_timeout_ms`).
    pub setting: &'static str,
    /// Sets it from the variable's value, or says what is wrong with the value.
    pub(super) apply: fn(&mut Config, String) -> Result<(), String>,
}

/// The variable naming a configuration file (read by the command line).
pub const CONFIG_FILE_VARIABLE: &str = "KVP_CONFIG";

/// The top-up service's prefix: a variable under it is never this service's,
/// so one environment can hold both services' settings.
pub const TOPUP_PREFIX: &str = "KVP_TOPUP_";

/// Settings renamed, `(old, new)`: the old name is still applied (the new one
/// wins when both are set) and warned about, for one release.
pub const RENAMED: &[(&str, &str)] = &[
    // It lay under the top-up service's prefix.
    ("KVP_TOPUP_URL", "KVP_RELAY_TOPUP_URL"),
];

/// Parses a value with `FromStr`, quoting its error.
fn parsed<T: std::str::FromStr>(value: &str) -> Result<T, String>
where
    T::Err: fmt::Display,
{
    value.parse().map_err(|e| format!("`{value}`: {e}"))
}

/// Every setting with its environment variable: `Config::load` applies them,
/// `print-config` lists them, and a variable within two edits of one of them
/// is taken for a typing error.
pub const ENV_SETTINGS: &[EnvSetting] = &[
    EnvSetting {
        variable: "KVP_GRPC_ADDR",
        setting: "grpc_addr",
        apply: |c, v| {
            c.grpc_addr = parsed(&v)?;
            Ok(())
        },
    },
    EnvSetting {
        variable: "KVP_HTTP_ADDR",
        setting: "http_addr",
        apply: |c, v| {
            c.http_addr = parsed(&v)?;
            Ok(())
        },
    },
    EnvSetting {
        variable: "KVP_DATABASE_URL",
        setting: "database_url",
        apply: |c, v| {
            c.database_url = v;
            Ok(())
        },
    },
    EnvSetting {
        variable: "KVP_MIGRATION_DATABASE_URL",
        setting: "migration_database_url",
        apply: |c, v| {
            c.migration_database_url = (!v.trim().is_empty()).then_some(v);
            Ok(())
        },
    },
    EnvSetting {
        variable: "KVP_IDENTITY_KEY",
        setting: "identity_key",
        apply: |c, v| {
            c.identity_key = Some(v);
            Ok(())
        },
    },
    EnvSetting {
        variable: "KVP_LOG_FORMAT",
        setting: "log_format",
        apply: |c, v| {
            c.log_format = match v.as_str() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                _ => return Err("must be text or json".into()),
            };
            Ok(())
        },
    },
    EnvSetting {
        variable: "KVP_RELAY_TOPUP_URL",
        setting: "topup_url",
        apply: |c, v| {
            c.topup_url = Some(v);
            Ok(())
        },
    },
    EnvSetting {
        variable: "KVP_RELAY_TLS_CA",
        setting: "relay_tls.ca",
        apply: |c, v| {
            relay_tls_part(c).ca = v.into();
            Ok(())
        },
    },
    EnvSetting {
        variable: "KVP_RELAY_TLS_CERT",
        setting: "relay_tls.cert",
        apply: |c, v| {
            relay_tls_part(c).cert = v.into();
            Ok(())
        },
    },
    EnvSetting {
        variable: "KVP_RELAY_TLS_KEY",
        setting: "relay_tls.key",
        apply: |c, v| {
            relay_tls_part(c).key = v.into();
            Ok(())
        },
    },
    EnvSetting {
        variable: "KVP_RELAY_POLL_MS",
        setting: "relay_poll_ms",
        apply: |c, v| {
            c.relay_poll_ms = parsed(&v)?;
            Ok(())
        },
    },
    EnvSetting {
        variable: "KVP_RELAY_RETRY_BASE_MS",
        setting: "relay_retry_base_ms",
        apply: |c, v| {
            c.relay_retry_base_ms = parsed(&v)?;
            Ok(())
        },
    },
    EnvSetting {
        variable: "KVP_RELAY_LEASE_MS",
        setting: "relay_lease_ms",
        apply: |c, v| {
            c.relay_lease_ms = parsed(&v)?;
            Ok(())
        },
    },
    EnvSetting {
        variable: "KVP_AUDIT_CHECKPOINT_KEY",
        setting: "audit_checkpoint_key",
        apply: |c, v| {
            c.audit_checkpoint_key = Some(v);
            Ok(())
        },
    },
    EnvSetting {
        variable: "KVP_AUDIT_CHECKPOINT_MS",
        setting: "audit_checkpoint_ms",
        apply: |c, v| {
            c.audit_checkpoint_ms = parsed(&v)?;
            Ok(())
        },
    },
    EnvSetting {
        variable: "KVP_DEV",
        setting: "dev",
        apply: |c, v| {
            c.dev = match v.as_str() {
                "1" | "true" => true,
                "0" | "false" | "" => false,
                _ => return Err("must be 1 or 0 (true or false)".into()),
            };
            Ok(())
        },
    },
    EnvSetting {
        variable: "KVP_OTLP_ENDPOINT",
        setting: "otlp_endpoint",
        apply: |c, v| {
            c.otlp_endpoint = (!v.trim().is_empty()).then_some(v);
            Ok(())
        },
    },
    EnvSetting {
        variable: "KVP_TLS_CERT",
        setting: "tls.cert",
        apply: |c, v| {
            tls_part(c).cert = v.into();
            Ok(())
        },
    },
    EnvSetting {
        variable: "KVP_TLS_KEY",
        setting: "tls.key",
        apply: |c, v| {
            tls_part(c).key = v.into();
            Ok(())
        },
    },
    EnvSetting {
        variable: "KVP_TLS_CLIENT_CA",
        setting: "tls.client_ca",
        apply: |c, v| {
            tls_part(c).client_ca = v.into();
            Ok(())
        },
    },
    EnvSetting {
        variable: "KVP_TLS_CLIENT_CRL",
        setting: "tls.client_crl",
        apply: |c, v| {
            tls_part(c).client_crl = (!v.trim().is_empty()).then(|| v.into());
            Ok(())
        },
    },
    EnvSetting {
        variable: "KVP_AUTH_ISSUER",
        setting: "auth.issuer",
        apply: |c, v| {
            auth_part(c).issuer = v;
            Ok(())
        },
    },
    EnvSetting {
        variable: "KVP_AUTH_AUDIENCE",
        setting: "auth.audience",
        apply: |c, v| {
            auth_part(c).audience = v;
            Ok(())
        },
    },
    EnvSetting {
        variable: "KVP_AUTH_KEYS_FILE",
        setting: "auth.keys (a TOML file of [[keys]] tables)",
        apply: |c, v| {
            let text = std::fs::read_to_string(&v).map_err(|e| format!("{v}: {e}"))?;
            let file: TokenKeysFile = toml::from_str(&text).map_err(|e| format!("{v}: {e}"))?;
            auth_part(c).keys = file.keys;
            Ok(())
        },
    },
    EnvSetting {
        variable: "KVP_GRPC_MAX_MESSAGE_BYTES",
        setting: "limits.grpc_max_message_bytes",
        apply: |c, v| {
            c.limits.grpc_max_message_bytes = parsed(&v)?;
            Ok(())
        },
    },
    EnvSetting {
        variable: "KVP_HTTP_MAX_BODY_BYTES",
        setting: "limits.http_max_body_bytes",
        apply: |c, v| {
            c.limits.http_max_body_bytes = parsed(&v)?;
            Ok(())
        },
    },
    EnvSetting {
        variable: "KVP_REQUEST_TIMEOUT_MS",
        setting: "limits.request_timeout_ms",
        apply: |c, v| {
            c.limits.request_timeout_ms = parsed(&v)?;
            Ok(())
        },
    },
    EnvSetting {
        variable: "KVP_IDLE_TIMEOUT_MS",
        setting: "limits.idle_timeout_ms",
        apply: |c, v| {
            c.limits.idle_timeout_ms = parsed(&v)?;
            Ok(())
        },
    },
    EnvSetting {
        variable: "KVP_TLS_HANDSHAKE_TIMEOUT_MS",
        setting: "limits.tls_handshake_timeout_ms",
        apply: |c, v| {
            c.limits.tls_handshake_timeout_ms = parsed(&v)?;
            Ok(())
        },
    },
];

/// What an environment variable is to this service.
pub(super) enum Variable {
    /// One of its settings.
    Setting(&'static EnvSetting),
    /// `KVP_CONFIG`, read by the command line.
    ConfigFile,
    /// The old name of a renamed setting (see [`RENAMED`]).
    Renamed(&'static EnvSetting),
    /// A `KVP_TOPUP_…` variable: the top-up service's.
    OtherService,
    /// A `KVP_…` variable within two edits of this known one: a typing error.
    Misspelt(&'static str),
    /// Another `KVP_…` variable (another service's, a test's, a script's).
    Unrecognised,
    /// Not a `KVP_…` variable.
    Other,
}

/// Edits (insertions, deletions, substitutions, swaps of neighbours) within
/// which an unknown `KVP_…` variable is taken for a known one mistyped.
const TYPO_DISTANCE: usize = 2;

pub(super) fn classify(name: &str) -> Variable {
    if !name.starts_with("KVP_") {
        return Variable::Other;
    }
    if name == CONFIG_FILE_VARIABLE {
        return Variable::ConfigFile;
    }
    if let Some(setting) = RENAMED
        .iter()
        .find(|(old, _)| *old == name)
        .and_then(|(_, new)| ENV_SETTINGS.iter().find(|s| s.variable == *new))
    {
        return Variable::Renamed(setting);
    }
    if name.starts_with(TOPUP_PREFIX) {
        return Variable::OtherService;
    }
    if let Some(setting) = ENV_SETTINGS.iter().find(|s| s.variable == name) {
        return Variable::Setting(setting);
    }
    ENV_SETTINGS
        .iter()
        .map(|s| s.variable)
        .chain([CONFIG_FILE_VARIABLE])
        .map(|known| (edit_distance(name, known), known))
        .filter(|(distance, _)| *distance <= TYPO_DISTANCE)
        .min()
        .map_or(Variable::Unrecognised, |(_, known)| {
            Variable::Misspelt(known)
        })
}

/// The optimal-string-alignment distance: insertions, deletions,
/// substitutions and swaps of two neighbouring characters, one edit each.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // rows[i][j]: the distance between a[..i] and b[..j].
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let substitution = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + substitution);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

/// The renamed settings set by their old name in `env`, `(old, new)`, for a
/// warning at start-up.
pub fn renamed_variables(
    env: impl IntoIterator<Item = (String, String)>,
) -> Vec<(&'static str, &'static str)> {
    let names: Vec<String> = env.into_iter().map(|(name, _)| name).collect();
    RENAMED
        .iter()
        .filter(|(old, _)| names.iter().any(|n| n == old))
        .copied()
        .collect()
}

/// The `KVP_…` variables in `env` that are none of this service's, not the
/// top-up service's (`KVP_TOPUP_…`) and not a typing error of one
/// (`Config::load` refuses those): the tests' and the deploy scripts'.
/// Sorted, for one start-up warning.
pub fn unrecognised_variables(env: impl IntoIterator<Item = (String, String)>) -> Vec<String> {
    let mut names: Vec<String> = env
        .into_iter()
        .map(|(name, _)| name)
        .filter(|name| matches!(classify(name), Variable::Unrecognised))
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::config::{AuthConfig, RelayTlsConfig, TlsConfig};

    #[test]
    fn a_mistyped_variable_stops_start_up_naming_the_setting_it_resembles() {
        for (typed, known) in [
            ("KVP_IDENTTY_KEY", "KVP_IDENTITY_KEY"),
            ("KVP_IDENTITY_KYE", "KVP_IDENTITY_KEY"),
            ("KVP_DATABASE_ULR", "KVP_DATABASE_URL"),
            ("KVP_TLS_CLIENTCA", "KVP_TLS_CLIENT_CA"),
            ("KVP_CONFG", "KVP_CONFIG"),
        ] {
            let env = vec![(typed.to_owned(), "value".to_owned())];
            let err = Config::load(None, env).err().unwrap().to_string();
            assert!(
                err.starts_with(&format!(
                    "environment variable {typed} is not a setting of this service; \
                     did you mean {known}?"
                )),
                "{err}"
            );
            assert!(!err.contains("value"), "the value is not echoed: {err}");
        }
    }

    #[test]
    fn other_services_and_ci_variables_are_only_listed_for_a_warning() {
        let env: Vec<(String, String)> = [
            (
                "KVP_TEST_DATABASE_URL",
                "postgres://postgres@127.0.0.1/postgres",
            ),
            ("KVP_TOPUP_GRPC_ADDR", "127.0.0.1:50061"),
            ("KVP_TOPUP_DATABASE_URL", "sqlite://x"),
            ("KVP_DEV_PKI", "deploy/compose/pki"),
            ("KVP_HTTP_ADDR", "127.0.0.1:9002"),
            ("PATH", "/usr/bin"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let config = Config::load(None, env.clone()).unwrap();
        assert_eq!(config.http_addr.port(), 9002);
        assert_eq!(
            unrecognised_variables(env),
            ["KVP_DEV_PKI", "KVP_TEST_DATABASE_URL"]
        );
    }

    #[test]
    fn a_renamed_setting_is_applied_under_its_old_name_and_reported() {
        let env = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        let old = env(&[("KVP_TOPUP_URL", "http://old:50061")]);
        assert_eq!(
            Config::load(None, old.clone())
                .unwrap()
                .topup_url
                .as_deref(),
            Some("http://old:50061")
        );
        assert_eq!(
            renamed_variables(old),
            [("KVP_TOPUP_URL", "KVP_RELAY_TOPUP_URL")]
        );
        // With both, the new name wins, in whichever order they come.
        for both in [
            env(&[
                ("KVP_TOPUP_URL", "http://old:50061"),
                ("KVP_RELAY_TOPUP_URL", "http://new:50061"),
            ]),
            env(&[
                ("KVP_RELAY_TOPUP_URL", "http://new:50061"),
                ("KVP_TOPUP_URL", "http://old:50061"),
            ]),
        ] {
            assert_eq!(
                Config::load(None, both).unwrap().topup_url.as_deref(),
                Some("http://new:50061")
            );
        }
    }

    #[test]
    fn edit_distance_counts_insertions_deletions_substitutions_and_swaps() {
        assert_eq!(edit_distance("KVP_TLS_KEY", "KVP_TLS_KEY"), 0);
        assert_eq!(edit_distance("KVP_TLS_KY", "KVP_TLS_KEY"), 1);
        assert_eq!(edit_distance("KVP_TLS_KEYS", "KVP_TLS_KEY"), 1);
        assert_eq!(edit_distance("KVP_TLS_KEX", "KVP_TLS_KEY"), 1);
        assert_eq!(edit_distance("KVP_TLS_KYE", "KVP_TLS_KEY"), 1);
        assert_eq!(edit_distance("KVP_TLS_YKX", "KVP_TLS_KEY"), 3);
        assert_eq!(
            edit_distance("KVP_TEST_DATABASE_URL", "KVP_DATABASE_URL"),
            5
        );
    }

    #[test]
    fn every_setting_has_a_variable_and_print_config_lists_them_all() {
        let everything = Config {
            identity_key: Some(String::new()),
            migration_database_url: Some(String::new()),
            audit_checkpoint_key: Some(String::new()),
            topup_url: Some(String::new()),
            relay_tls: Some(RelayTlsConfig {
                ca: PathBuf::new(),
                cert: PathBuf::new(),
                key: PathBuf::new(),
            }),
            otlp_endpoint: Some(String::new()),
            tls: Some(TlsConfig {
                cert: PathBuf::new(),
                key: PathBuf::new(),
                client_ca: PathBuf::new(),
                client_crl: Some(PathBuf::new()),
            }),
            auth: Some(AuthConfig {
                issuer: String::new(),
                audience: String::new(),
                keys: Vec::new(),
            }),
            ..Config::default()
        };
        let toml::Value::Table(table) = toml::Value::try_from(&everything).unwrap() else {
            panic!("a configuration is a table");
        };
        let mut settings = Vec::new();
        for (key, value) in table {
            match value {
                toml::Value::Table(inner) => {
                    settings.extend(inner.keys().map(|k| format!("{key}.{k}")));
                }
                _ => settings.push(key),
            }
        }
        settings.sort();
        let mut with_variable: Vec<String> = ENV_SETTINGS
            .iter()
            .map(|s| s.setting.split(' ').next().unwrap_or_default().to_owned())
            .collect();
        with_variable.sort();
        assert_eq!(settings, with_variable);

        let example = Config::example();
        for setting in ENV_SETTINGS {
            assert!(example.contains(setting.variable), "{}", setting.variable);
        }
        assert!(example.contains(CONFIG_FILE_VARIABLE));
    }

    #[test]
    fn relay_and_limit_settings_come_from_their_variables() {
        let env: Vec<(String, String)> = [
            ("KVP_RELAY_POLL_MS", "250"),
            ("KVP_RELAY_RETRY_BASE_MS", "2000"),
            ("KVP_RELAY_LEASE_MS", "45000"),
            ("KVP_GRPC_MAX_MESSAGE_BYTES", "65536"),
            ("KVP_HTTP_MAX_BODY_BYTES", "4096"),
            ("KVP_IDLE_TIMEOUT_MS", "5000"),
            ("KVP_TLS_HANDSHAKE_TIMEOUT_MS", "3000"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let config = Config::load(None, env).unwrap();
        assert_eq!(
            (
                config.relay_poll_ms,
                config.relay_retry_base_ms,
                config.relay_lease_ms
            ),
            (250, 2000, 45_000)
        );
        assert_eq!(config.limits.grpc_max_message_bytes, 65_536);
        assert_eq!(config.limits.http_max_body_bytes, 4096);
        assert_eq!(config.limits.idle_timeout_ms, 5000);
        assert_eq!(config.limits.tls_handshake_timeout_ms, 3000);
        let bad = vec![("KVP_IDLE_TIMEOUT_MS".to_owned(), "soon".to_owned())];
        let err = Config::load(None, bad).err().unwrap().to_string();
        assert!(
            err.starts_with("environment variable KVP_IDLE_TIMEOUT_MS: `soon`"),
            "{err}"
        );
    }
}
