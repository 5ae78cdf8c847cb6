//! Both services from one environment file: every `KVP_TOPUP_*` variable is
//! the top-up service's and every other `KVP_*` variable the payroll
//! service's, so `deploy/examples/kvp.env` starts both, each taking its own
//! settings, neither refusing nor warning about the other's.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `NAME=value` lines of an environment file, without comments or blanks.
fn parse(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (name, value) = line.split_once('=').expect("NAME=value");
            (name.to_owned(), value.to_owned())
        })
        .collect()
}

fn set(env: &mut [(String, String)], name: &str, value: String) {
    let entry = env
        .iter_mut()
        .find(|(k, _)| k == name)
        .unwrap_or_else(|| panic!("the file sets {name}"));
    entry.1 = value;
}

/// A loopback address with a port free now.
fn free_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

#[tokio::test]
async fn both_services_start_from_one_environment_file() {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/examples/kvp.env");
    let mut env = parse(&std::fs::read_to_string(file).unwrap());

    // Each service takes its own settings from the one file.
    let payroll = kvp_payroll::config::Config::load(None, env.clone()).unwrap();
    let topup = kvp_topup::Config::load(None, &env.iter().cloned().collect()).unwrap();
    assert_eq!(
        (payroll.http_addr.to_string(), topup.http_addr.to_string()),
        ("127.0.0.1:8080".to_owned(), "127.0.0.1:8081".to_owned())
    );
    assert_eq!(
        payroll.topup_url,
        Some(format!("http://{}", topup.grpc_addr)),
        "the payroll service relays to the top-up service the file starts"
    );
    assert_eq!(
        kvp_payroll::config::unrecognised_variables(env.clone()),
        Vec::<String>::new()
    );
    assert!(kvp_payroll::config::renamed_variables(env.clone()).is_empty());

    // Started as the file says, on free ports and over databases in a
    // temporary folder: the top-up service in this process, the payroll
    // service as its binary with exactly the file's environment.
    let dir = tempfile::tempdir().unwrap();
    let database = |name: &str| format!("sqlite://{}?mode=rwc", dir.path().join(name).display());
    let topup_grpc = free_addr();
    set(&mut env, "KVP_GRPC_ADDR", free_addr());
    set(&mut env, "KVP_HTTP_ADDR", free_addr());
    set(&mut env, "KVP_DATABASE_URL", database("payroll.db"));
    set(
        &mut env,
        "KVP_RELAY_TOPUP_URL",
        format!("http://{topup_grpc}"),
    );
    set(&mut env, "KVP_TOPUP_GRPC_ADDR", topup_grpc);
    set(&mut env, "KVP_TOPUP_HTTP_ADDR", free_addr());
    set(&mut env, "KVP_TOPUP_DATABASE_URL", database("topup.db"));

    let topup_config = kvp_topup::Config::load(None, &env.iter().cloned().collect()).unwrap();
    let topup = kvp_topup::Application::build(&topup_config).await.unwrap();
    let topup_http = format!("http://{}", topup.http_addr());
    let (stop_topup, stopped) = tokio::sync::oneshot::channel::<()>();
    let topup = tokio::spawn(async move {
        topup
            .run_until(async {
                let _ = stopped.await;
            })
            .await
    });
    let payroll_http = format!(
        "http://{}",
        env.iter().find(|(k, _)| k == "KVP_HTTP_ADDR").unwrap().1
    );
    let mut payroll = Command::new(env!("CARGO_BIN_EXE_kvp-payroll-under-test"))
        .env_clear()
        .envs(env.iter().cloned())
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = client
            .get(format!("{payroll_http}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200);
        if ready {
            break;
        }
        if let Some(status) = payroll.try_wait().unwrap() {
            panic!("kvp-payroll exited: {status}");
        }
        assert!(Instant::now() < deadline, "kvp-payroll not ready in 60 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let topup_health = client
        .get(format!("{topup_http}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(topup_health.status(), 200);

    payroll.kill().unwrap();
    let output = payroll.wait_with_output().unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(log.contains("kvp-payroll listening"), "{log}");
    // Nothing of the file is the other's, or an old name.
    assert!(!log.contains("ignoring KVP_"), "{log}");
    assert!(!log.contains("old name"), "{log}");
    let _ = stop_topup.send(());
    topup.await.unwrap().unwrap();
}
