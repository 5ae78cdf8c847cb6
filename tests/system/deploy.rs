//! The deployment files against the services: every metric the Grafana
//! dashboard queries is one the services export, every Kubernetes probe asks
//! for a health path the probed service serves, and both services' settings in
//! the manifests and the compose file are ones `Config::check` accepts beyond
//! loopback once the secrets are filled in (and refuses as committed). Files
//! only: no network, no database. `deploy/validate.sh` checks the files'
//! syntax and schemas.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// The health paths each service serves (`/readyz` is the payroll service's only).
const PAYROLL_HEALTH_PATHS: &[&str] = &["/healthz", "/readyz"];
const TOPUP_HEALTH_PATHS: &[&str] = &["/healthz"];

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The names both services export, as their metrics modules list them.
fn exported_metric_names() -> BTreeSet<&'static str> {
    kvp_payroll::metrics::METRIC_NAMES
        .iter()
        .chain(kvp_topup::metrics::METRIC_NAMES)
        .copied()
        .collect()
}

/// The identifiers `kvp_[a-z_]+` in a PromQL expression, each starting where
/// no other identifier character precedes it.
fn metric_identifiers(expr: &str) -> Vec<&str> {
    let bytes = expr.as_bytes();
    let mut names = Vec::new();
    let mut from = 0;
    while let Some(found) = expr[from..].find("kvp_") {
        let start = from + found;
        let mut end = start + "kvp_".len();
        while end < bytes.len() && (bytes[end].is_ascii_lowercase() || bytes[end] == b'_') {
            end += 1;
        }
        let inside_another = start > 0
            && (bytes[start - 1].is_ascii_alphanumeric()
                || matches!(bytes[start - 1], b'_' | b':'));
        if !inside_another && end > start + "kvp_".len() {
            names.push(&expr[start..end]);
        }
        from = end;
    }
    names
}

/// A histogram's series name without its `_bucket`, `_sum` or `_count` suffix.
fn family_name(series: &str) -> &str {
    ["_bucket", "_sum", "_count"]
        .iter()
        .find_map(|suffix| series.strip_suffix(suffix))
        .unwrap_or(series)
}

/// Every (panel title, expression) of the dashboard, rows' nested panels and
/// the templating queries included.
fn dashboard_expressions(dashboard: &Value) -> Vec<(String, String)> {
    fn walk(panels: &Value, out: &mut Vec<(String, String)>) {
        for panel in panels.as_array().into_iter().flatten() {
            let title = panel["title"].as_str().unwrap_or("(untitled)").to_owned();
            for target in panel["targets"].as_array().into_iter().flatten() {
                if let Some(expr) = target["expr"].as_str() {
                    out.push((title.clone(), expr.to_owned()));
                }
            }
            walk(&panel["panels"], out);
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    for variable in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if variable["type"] == "query" {
            let query = &variable["query"];
            let text = query.as_str().or_else(|| query["query"].as_str());
            if let Some(text) = text {
                out.push((format!("variable {}", variable["name"]), text.to_owned()));
            }
        }
    }
    out
}

#[test]
fn metric_identifiers_are_whole_names_with_histogram_suffixes_removed_by_family_name() {
    let expr = "histogram_quantile(0.99, sum by (le) (rate(kvp_a_seconds_bucket[5m]))) \
                / sum(xkvp_not_this) + kvp:recorded_kvp_no + kvp_b_total{reason=\"x\"}";
    let names: Vec<&str> = metric_identifiers(expr)
        .into_iter()
        .map(family_name)
        .collect();
    assert_eq!(names, ["kvp_a_seconds", "kvp_b_total"]);
}

#[test]
fn the_dashboard_queries_only_metrics_the_services_export() {
    let path = deploy_dir().join("grafana/kvp-dashboard.json");
    let dashboard: Value = serde_json::from_str(&read(&path)).unwrap();
    let exported = exported_metric_names();
    let expressions = dashboard_expressions(&dashboard);
    assert!(
        expressions.len() >= 20,
        "the dashboard has only {} expressions",
        expressions.len()
    );

    let mut queried = BTreeSet::new();
    let mut unknown = Vec::new();
    for (panel, expr) in &expressions {
        let names = metric_identifiers(expr);
        assert!(
            !names.is_empty(),
            "panel {panel:?} queries no kvp_ metric: {expr}"
        );
        for name in names {
            let family = family_name(name);
            queried.insert(family);
            if !exported.contains(family) {
                unknown.push(format!("{panel:?}: {name}"));
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "the dashboard queries metrics no service exports:\n  {}\nexported: {exported:?}",
        unknown.join("\n  ")
    );
    // Not vacuous: the panels the operations issue asks for are all there.
    for family in [
        "kvp_grpc_requests_total",
        "kvp_grpc_request_duration_seconds",
        "kvp_timesheets_rejected_total",
        "kvp_quota_flags_total",
        "kvp_pay_period_close_duration_seconds",
        "kvp_pay_period_amount_ore_total",
        "kvp_outbox_backlog",
        "kvp_outbox_delivery_failures_total",
        "kvp_topup_events_total",
    ] {
        assert!(queried.contains(family), "no panel shows {family}");
    }
}

/// An HTTP probe found in a manifest.
#[derive(Debug)]
struct Probe {
    file: String,
    deployment: String,
    kind: String,
    path: Option<String>,
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// The `httpGet` probes of every Deployment in one manifest file, read line
/// by line (the tests have no YAML parser; the manifests are plain block YAML).
fn http_probes(file: &str, text: &str) -> Vec<Probe> {
    let mut probes = Vec::new();
    for document in text.split("\n---\n") {
        let lines: Vec<&str> = document.lines().collect();
        if !lines.iter().any(|l| l.trim_end() == "kind: Deployment") {
            continue;
        }
        let deployment = lines
            .iter()
            .skip_while(|l| l.trim_end() != "metadata:")
            .find_map(|l| l.strip_prefix("  name: "))
            .unwrap_or("(unnamed)")
            .trim()
            .to_owned();
        for (i, line) in lines.iter().enumerate() {
            let trimmed = line.trim();
            let Some(kind) = ["livenessProbe:", "readinessProbe:", "startupProbe:"]
                .into_iter()
                .find(|k| trimmed == *k)
            else {
                continue;
            };
            let body: Vec<&str> = lines[i + 1..]
                .iter()
                .take_while(|l| l.trim().is_empty() || indent(l) > indent(line))
                .copied()
                .collect();
            if !body.iter().any(|l| l.trim() == "httpGet:") {
                continue;
            }
            let path = body.iter().find_map(|l| {
                l.trim()
                    .strip_prefix("path:")
                    .map(|p| p.trim().trim_matches(['"', '\'']).to_owned())
            });
            probes.push(Probe {
                file: file.to_owned(),
                deployment: deployment.clone(),
                kind: kind.trim_end_matches(':').to_owned(),
                path,
            });
        }
    }
    probes
}

fn manifests(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            manifests(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
}

#[test]
fn every_kubernetes_probe_asks_for_a_health_path_the_service_serves() {
    let k8s = deploy_dir().join("k8s");
    let mut files = Vec::new();
    manifests(&k8s, &mut files);
    files.sort();
    let probes: Vec<Probe> = files
        .iter()
        .flat_map(|f| http_probes(&f.display().to_string(), &read(f)))
        .collect();

    for probe in &probes {
        let served = match probe.deployment.as_str() {
            "kvp-payroll" => PAYROLL_HEALTH_PATHS,
            "kvp-topup" => TOPUP_HEALTH_PATHS,
            other => panic!("{}: a Deployment of no known service: {other}", probe.file),
        };
        let path = probe.path.as_deref();
        assert!(
            path.is_some_and(|p| served.contains(&p)),
            "{probe:?}: an HTTP probe must ask for one of {served:?}"
        );
    }

    // Both services are probed, each for liveness and readiness, and the
    // payroll service's readiness is the one that checks the database.
    for deployment in ["kvp-payroll", "kvp-topup"] {
        for kind in ["livenessProbe", "readinessProbe"] {
            assert!(
                probes
                    .iter()
                    .any(|p| p.deployment == deployment && p.kind == kind),
                "{deployment} has no HTTP {kind}: {probes:?}"
            );
        }
    }
    assert!(
        probes.iter().any(|p| p.deployment == "kvp-payroll"
            && p.kind == "readinessProbe"
            && p.path.as_deref() == Some("/readyz")),
        "kvp-payroll's readiness must be /readyz: {probes:?}"
    );
}

/// The lines of the flat mapping under the line `header` (exact, indentation
/// included) in `text`, as `(key, value)` with quotes removed; comments and
/// blank lines skipped.
fn flat_mapping(text: &str, header: &str) -> Vec<(String, String)> {
    let mut lines = text.lines().skip_while(|l| *l != header);
    let depth = indent(lines.next().unwrap_or_else(|| panic!("no line {header:?}")));
    lines
        .take_while(|l| l.trim().is_empty() || indent(l) > depth)
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|l| {
            let (key, value) = l
                .trim()
                .split_once(':')
                .unwrap_or_else(|| panic!("not KEY: value: {l}"));
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            (key.trim().to_owned(), value.to_owned())
        })
        .collect()
}

/// The document of a multi-document manifest whose metadata names `name`.
fn manifest_document<'a>(text: &'a str, name: &str) -> &'a str {
    text.split("\n---\n")
        .find(|d| d.lines().any(|l| l == format!("  name: {name}")))
        .unwrap_or_else(|| panic!("no document named {name}"))
}

/// The value of `name` in a ConfigMap's flat `env` (`configmap` names it in failures).
fn setting_of(env: &[(String, String)], configmap: &str, name: &str) -> String {
    env.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("{configmap} has no {name}"))
}

/// Each of the settings `names` names a file under `dir` that the Secret
/// `secret` of the example secrets holds as a key.
fn files_are_secret_keys(
    env: &[(String, String)],
    configmap: &str,
    names: &[&str],
    dir: &str,
    secret: &str,
) {
    let secrets = read(&deploy_dir().join("k8s/secrets/secrets.example.yaml"));
    for name in names {
        let file = setting_of(env, configmap, name);
        let file = file
            .strip_prefix(dir)
            .unwrap_or_else(|| panic!("{name} {file} is not under {dir}"));
        assert!(
            manifest_document(&secrets, secret).contains(&format!("\n  {file}: ")),
            "{name}: the {secret} Secret has no key {file}"
        );
    }
}

/// A proxy configuration binds and forwards no port matching `port` (the
/// service terminates its gRPC TLS itself and reads the client certificate).
fn proxy_leaves_grpc_to_the_service(proxy: &str, port: &str) {
    let grpc_lines: Vec<&str> = proxy
        .lines()
        .map(str::trim)
        .filter(|l| (l.starts_with("bind ") || l.starts_with("server ")) && l.contains(port))
        .collect();
    assert!(
        grpc_lines.is_empty(),
        "the proxy must leave gRPC to the service: {grpc_lines:?}"
    );
}

/// A token keys file holding one freshly made Ed25519 public key.
fn usable_keys_file(dir: &Path) -> PathBuf {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let path = dir.join("usable-keys.toml");
    std::fs::write(
        &path,
        format!(
            "[[keys]]\nkid = \"k1\"\nalgorithm = \"EdDSA\"\npublic_key_pem = \"\"\"\n{}\"\"\"\n",
            key.public_key_pem()
        ),
    )
    .unwrap();
    path
}

/// `env` with `name` set to `value` (replaced or added).
fn with(mut env: Vec<(String, String)>, name: &str, value: &str) -> Vec<(String, String)> {
    env.retain(|(k, _)| k != name);
    env.push((name.to_owned(), value.to_owned()));
    env
}

fn load(env: &[(String, String)]) -> Result<kvp_payroll::config::Config, String> {
    let config =
        kvp_payroll::config::Config::load(None, env.to_vec()).map_err(|e| e.to_string())?;
    config.check().map_err(|e| e.to_string())?;
    Ok(config)
}

/// A made-up identity key, as the kvp-payroll-secrets Secret provides one.
const IDENTITY_KEY: &str = "a3ZwLWRlcGxveS10ZXN0LWlkZW50aXR5LWtleS0zMmI=";

#[test]
fn kubernetes_settings_expose_kvp_payroll_only_with_every_protection_filled_in() {
    let k8s = deploy_dir().join("k8s");
    let config_text = read(&k8s.join("10-payroll-config.yaml"));
    let env = flat_mapping(manifest_document(&config_text, "kvp-payroll-env"), "data:");
    let setting = |name: &str| setting_of(&env, "kvp-payroll-env", name);

    // The files the settings name are where the Deployment mounts them.
    let deployment = read(&k8s.join("20-payroll.yaml"));
    files_are_secret_keys(
        &env,
        "kvp-payroll-env",
        &["KVP_TLS_CERT", "KVP_TLS_KEY", "KVP_TLS_CLIENT_CA"],
        "/etc/kvp/tls/",
        "kvp-payroll-tls",
    );
    assert_eq!(setting("KVP_AUTH_KEYS_FILE"), "/etc/kvp/auth/keys.toml");
    for mount in ["mountPath: /etc/kvp/tls\n", "mountPath: /etc/kvp/auth\n"] {
        assert!(
            deployment.contains(mount),
            "20-payroll.yaml does not mount {mount}"
        );
    }
    // REST stays on loopback behind the proxy, which forwards to it.
    let http_addr = setting("KVP_HTTP_ADDR");
    assert!(
        http_addr.starts_with("127.0.0.1:"),
        "KVP_HTTP_ADDR {http_addr}"
    );
    let proxy = manifest_document(&config_text, "kvp-payroll-proxy");
    assert!(
        proxy.contains(&format!("server payroll {http_addr}\n")),
        "the proxy does not forward to {http_addr}"
    );
    proxy_leaves_grpc_to_the_service(proxy, ":50051");

    let dir = tempfile::tempdir().unwrap();
    let placeholder_keys = committed_keys_file(&config_text, "kvp-payroll-auth-keys", dir.path());
    let env = with(
        env,
        "KVP_AUTH_KEYS_FILE",
        placeholder_keys.to_str().unwrap(),
    );
    let env = with(env, "KVP_IDENTITY_KEY", IDENTITY_KEY);

    // As committed, the placeholders stop the service at start-up.
    let err = load(&env).unwrap_err();
    assert!(err.contains("auth.issuer is required"), "{err}");
    let env = with(env, "KVP_AUTH_ISSUER", "https://login.example.test");
    let err = load(&env).unwrap_err();
    assert!(err.starts_with("auth key REPLACE-ME:"), "{err}");

    // Filled in, kvp-payroll accepts gRPC on the pod's address.
    let usable = usable_keys_file(dir.path());
    let env = with(env, "KVP_AUTH_KEYS_FILE", usable.to_str().unwrap());
    let config = load(&env).unwrap();
    assert!(!config.development_mode());
    assert!(
        config.grpc_addr.ip().is_unspecified(),
        "{:?}",
        config.grpc_addr
    );

    // Without the identity key from the Secret it would refuse.
    let without: Vec<_> = env
        .into_iter()
        .filter(|(k, _)| k != "KVP_IDENTITY_KEY")
        .collect();
    let err = load(&without).unwrap_err();
    assert!(
        err.contains("identity_key") && err.contains("refusing"),
        "{err}"
    );
}

#[test]
fn compose_settings_expose_kvp_payroll_only_with_every_protection() {
    let compose = read(&deploy_dir().join("compose.yaml"));
    let payroll = compose
        .split_once("\n  payroll:\n")
        .map(|(_, rest)| rest)
        .expect("compose.yaml has no payroll service");
    let env = flat_mapping(payroll, "    environment:");
    let dir = tempfile::tempdir().unwrap();
    let usable = usable_keys_file(dir.path());
    let env = with(env, "KVP_AUTH_KEYS_FILE", usable.to_str().unwrap());
    // compose/dev-pki.sh writes the identity key into payroll.env.
    assert!(payroll.contains("env_file: ./compose/dev-pki/payroll.env\n"));
    let config = load(&with(env.clone(), "KVP_IDENTITY_KEY", IDENTITY_KEY)).unwrap();
    assert!(!config.development_mode());
    assert!(
        config.grpc_addr.ip().is_unspecified(),
        "{:?}",
        config.grpc_addr
    );
    assert!(
        config.http_addr.ip().is_loopback(),
        "{:?}",
        config.http_addr
    );
    assert!(load(&env).unwrap_err().contains("refusing"));
}

fn load_topup(env: &[(String, String)]) -> Result<kvp_topup::Config, String> {
    let env: std::collections::HashMap<String, String> = env.iter().cloned().collect();
    kvp_topup::Config::load(None, &env).map_err(|e| e.to_string())
}

/// The `keys.toml` of a keys ConfigMap, written to `dir`.
fn committed_keys_file(config_text: &str, configmap: &str, dir: &Path) -> PathBuf {
    let keys_toml: String = manifest_document(config_text, configmap)
        .lines()
        .skip_while(|l| *l != "  keys.toml: |")
        .skip(1)
        .map(|l| format!("{}\n", l.strip_prefix("    ").unwrap_or(l.trim())))
        .collect();
    let path = dir.join(format!("{configmap}.toml"));
    std::fs::write(&path, keys_toml).unwrap();
    path
}

#[test]
fn kubernetes_settings_expose_kvp_topup_only_with_mutual_tls_and_tokens() {
    let k8s = deploy_dir().join("k8s");
    let config_text = read(&k8s.join("11-topup-config.yaml"));
    let env = flat_mapping(manifest_document(&config_text, "kvp-topup-env"), "data:");
    let setting = |name: &str| setting_of(&env, "kvp-topup-env", name);
    files_are_secret_keys(
        &env,
        "kvp-topup-env",
        &[
            "KVP_TOPUP_TLS_CERT",
            "KVP_TOPUP_TLS_KEY",
            "KVP_TOPUP_TLS_CLIENT_CA",
        ],
        "/etc/kvp/tls/",
        "kvp-topup-tls",
    );
    let deployment = read(&k8s.join("30-topup.yaml"));
    let service_container = deployment.split("        - name: proxy\n").next().unwrap();
    for mount in ["mountPath: /etc/kvp/tls\n", "mountPath: /etc/kvp/auth\n"] {
        assert!(
            service_container.contains(mount),
            "30-topup.yaml does not mount {mount} in the service's container"
        );
    }
    // The proxy leaves gRPC to the service and forwards REST to its loopback port.
    let proxy = manifest_document(&config_text, "kvp-topup-proxy");
    let http_addr = setting("KVP_TOPUP_HTTP_ADDR");
    assert!(
        proxy.contains(&format!("server topup {http_addr}\n")),
        "{proxy}"
    );
    proxy_leaves_grpc_to_the_service(proxy, "5061");

    // As committed, the placeholders stop the service at start-up.
    let dir = tempfile::tempdir().unwrap();
    let placeholder = committed_keys_file(&config_text, "kvp-topup-auth-keys", dir.path());
    let env = with(
        env,
        "KVP_TOPUP_AUTH_KEYS_FILE",
        placeholder.to_str().unwrap(),
    );
    let err = load_topup(&env).unwrap_err();
    assert!(err.contains("auth.issuer is required"), "{err}");
    let env = with(env, "KVP_TOPUP_AUTH_ISSUER", "https://login.example.test");
    let err = load_topup(&env).unwrap_err();
    assert!(err.starts_with("auth key REPLACE-ME:"), "{err}");

    // Filled in, the event sink takes mutual TLS on the pod's address.
    let usable = usable_keys_file(dir.path());
    let env = with(env, "KVP_TOPUP_AUTH_KEYS_FILE", usable.to_str().unwrap());
    let config = load_topup(&env).unwrap();
    assert!(
        config.grpc_addr.ip().is_unspecified(),
        "{:?}",
        config.grpc_addr
    );
    assert!(
        config.http_addr.ip().is_loopback(),
        "{:?}",
        config.http_addr
    );
    assert!(config.tls.is_some() && config.auth.is_some());
    let without_tls: Vec<_> = env
        .into_iter()
        .filter(|(k, _)| !k.starts_with("KVP_TOPUP_TLS_"))
        .collect();
    let err = load_topup(&without_tls).unwrap_err();
    assert!(
        err.contains("grpc_addr") && err.contains("refusing"),
        "{err}"
    );

    // kvp-payroll's relay reaches it over mutual TLS, with its own files mounted.
    let payroll_text = read(&k8s.join("10-payroll-config.yaml"));
    let payroll = flat_mapping(manifest_document(&payroll_text, "kvp-payroll-env"), "data:");
    assert!(
        setting_of(&payroll, "kvp-payroll-env", "KVP_RELAY_TOPUP_URL")
            .starts_with("https://kvp-topup.kvp.svc")
    );
    files_are_secret_keys(
        &payroll,
        "kvp-payroll-env",
        &[
            "KVP_RELAY_TLS_CA",
            "KVP_RELAY_TLS_CERT",
            "KVP_RELAY_TLS_KEY",
        ],
        "/etc/kvp/relay-tls/",
        "kvp-payroll-relay-tls",
    );
    let payroll_container = read(&k8s.join("20-payroll.yaml"));
    let payroll_container = payroll_container
        .split("        - name: proxy\n")
        .next()
        .unwrap();
    assert!(payroll_container.contains("mountPath: /etc/kvp/relay-tls\n"));
}

#[test]
fn compose_settings_expose_kvp_topup_only_with_mutual_tls_and_tokens() {
    let compose = read(&deploy_dir().join("compose.yaml"));
    let topup = compose
        .split_once("\n  topup:\n")
        .map(|(_, rest)| rest)
        .expect("compose.yaml has no topup service");
    let env = flat_mapping(topup, "    environment:");
    let dir = tempfile::tempdir().unwrap();
    let usable = usable_keys_file(dir.path());
    let env = with(env, "KVP_TOPUP_AUTH_KEYS_FILE", usable.to_str().unwrap());
    let config = load_topup(&env).unwrap();
    assert!(
        config.grpc_addr.ip().is_unspecified(),
        "{:?}",
        config.grpc_addr
    );
    assert!(
        config.http_addr.ip().is_loopback(),
        "{:?}",
        config.http_addr
    );
    assert!(config.tls.is_some() && config.auth.is_some());
    let payroll = compose
        .split_once("\n  payroll:\n")
        .map(|(_, rest)| rest)
        .unwrap();
    let payroll_env = flat_mapping(payroll, "    environment:");
    let url = payroll_env
        .iter()
        .find(|(k, _)| k == "KVP_RELAY_TOPUP_URL")
        .map(|(_, v)| v.as_str());
    assert_eq!(url, Some("https://localhost:50061"));
}
