//! The payroll service as a real operating-system process, for the tests that
//! kill it: the `kvp-payroll-under-test` binary of this package is the
//! service's own `main.rs` (see `tests/Cargo.toml`), run with `serve` over a
//! database that outlives it.
//!
//! Its stdout and stderr (JSON logs at a verbose `RUST_LOG`) are read line by
//! line by two threads, kept for the personal-data check
//! ([`PayrollProcess::check_output`]) and matched against tripwires
//! ([`PayrollProcess::kill_when`]): the reading thread sends SIGKILL itself,
//! within a moment of the line being written. `Child::kill` is SIGKILL on
//! Unix. Dropping a [`PayrollProcess`] kills the process, so a failing test
//! never leaves one behind.

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use kvp_proto::kvp::payroll::v1::payroll_service_client::PayrollServiceClient;
use serde_json::Value;
use tonic::transport::Channel;

use crate::Rest;

/// What the service logs once both listeners are bound.
const LISTENING: &str = "kvp-payroll listening";

/// The log filter of the process: everything, at TRACE (the service's own
/// spans and events, sqlx's statements, h2's and hyper's frames).
pub const PROCESS_RUST_LOG: &str = "trace";

/// A line predicate that kills the process when it matches.
type KillSwitch = Box<dyn Fn(&str) -> bool + Send>;

/// What the reading threads share with the test.
#[derive(Default)]
struct Shared {
    /// Every line of every run, stdout and stderr interleaved as read.
    output: Mutex<String>,
    /// The addresses the current run logged, once it is listening.
    listening: Mutex<Option<(SocketAddr, SocketAddr)>>,
    /// Armed kill switches.
    kill_switches: Mutex<Vec<KillSwitch>>,
    /// The line that tripped a kill switch, once one did.
    tripped_by: Mutex<Option<String>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running (or killed) `kvp-payroll serve` process.
pub struct PayrollProcess {
    /// The binary.
    exe: PathBuf,
    /// Holds the configuration file.
    dir: tempfile::TempDir,
    /// The database, kept across restarts.
    database_url: String,
    /// The process; `None` once reaped.
    child: Arc<Mutex<Option<Child>>>,
    /// Output and kill switches.
    shared: Arc<Shared>,
    /// The threads reading the current run's stdout and stderr.
    readers: Vec<JoinHandle<()>>,
    /// Where the current run's gRPC listens.
    pub grpc_addr: SocketAddr,
    /// The current run's REST base URL.
    pub http: String,
    /// HTTP client.
    client: reqwest::Client,
}

impl PayrollProcess {
    /// Starts `exe serve` (see [`PayrollProcess::configure`]) and waits until
    /// `/readyz` answers.
    pub async fn start(exe: &str, database_url: &str, topup_url: Option<&str>) -> Self {
        let mut process = Self::configure(exe, database_url, topup_url);
        process.launch().await;
        process
    }

    /// The process, not started yet ([`PayrollProcess::launch`] starts it):
    /// `exe serve` on free ports (port 0; the addresses are read from its
    /// log) over `database_url`, relaying to `topup_url` if given. Relay
    /// timings are the kit's fast ones, with a one-second lease so that a
    /// killed relay's claims come back quickly.
    pub fn configure(exe: &str, database_url: &str, topup_url: Option<&str>) -> Self {
        crate::capture::install();
        let dir = tempfile::tempdir().unwrap();
        let mut config = String::from(concat!(
            "relay_poll_ms = 20\n",
            "relay_retry_base_ms = 50\n",
            "relay_lease_ms = 1000\n",
            "log_format = \"json\"\n",
            // A configuration file and (maybe) PostgreSQL are production
            // settings: development mode is asked for, and the database has
            // a key of its own.
            "dev = true\n",
        ));
        config.push_str(&format!("identity_key = {:?}\n", crate::TEST_IDENTITY_KEY));
        if let Some(url) = topup_url {
            config.push_str(&format!("topup_url = {url:?}\n"));
        }
        std::fs::write(dir.path().join("kvp-payroll.toml"), config).unwrap();
        Self {
            exe: PathBuf::from(exe),
            dir,
            database_url: database_url.to_owned(),
            child: Arc::new(Mutex::new(None)),
            shared: Arc::new(Shared::default()),
            readers: Vec::new(),
            grpc_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            http: String::new(),
            client: reqwest::Client::new(),
        }
    }

    /// Starts the process again on the same database, after it was killed.
    pub async fn restart(&mut self) {
        self.kill();
        self.launch().await;
    }

    /// Starts the process and waits until `/readyz` answers.
    pub async fn launch(&mut self) {
        assert!(lock(&self.child).is_none(), "the process is still running");
        *lock(&self.shared.listening) = None;
        let mut command = Command::new(&self.exe);
        // Only what is given here configures it (flags win over the file).
        for (name, _) in std::env::vars() {
            if name.starts_with("KVP_") || name == "RUST_LOG" {
                command.env_remove(name);
            }
        }
        command
            .arg("serve")
            .arg("--config")
            .arg(self.dir.path().join("kvp-payroll.toml"))
            .args(["--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"])
            .arg("--database-url")
            .arg(&self.database_url)
            .env("KVP_LOG_FORMAT", "json")
            .env("RUST_LOG", PROCESS_RUST_LOG)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        *lock(&self.child) = Some(child);
        self.readers = vec![
            self.reader(Box::new(std::io::BufReader::new(stdout))),
            self.reader(Box::new(std::io::BufReader::new(stderr))),
        ];

        let deadline = Instant::now() + Duration::from_secs(60);
        let (grpc, http) = loop {
            if let Some(addresses) = *lock(&self.shared.listening) {
                break addresses;
            }
            let exited = lock(&self.child)
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "kvp-payroll did not start ({exited:?}):\n{}",
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        self.grpc_addr = grpc;
        self.http = format!("http://{http}");
        loop {
            let ready = self
                .client
                .get(format!("{}/readyz", self.http))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                break;
            }
            assert!(Instant::now() < deadline, "kvp-payroll is not ready");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A thread copying `pipe` into the output line by line, noting the
    /// listening addresses and firing kill switches.
    fn reader(&self, mut pipe: Box<dyn BufRead + Send>) -> JoinHandle<()> {
        let shared = Arc::clone(&self.shared);
        let child = Arc::clone(&self.child);
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            loop {
                bytes.clear();
                match pipe.read_until(b'\n', &mut bytes) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                let line = String::from_utf8_lossy(&bytes);
                {
                    let mut switches = lock(&shared.kill_switches);
                    if let Some(i) = switches.iter().position(|matches| matches(&line)) {
                        drop(switches.remove(i));
                        drop(switches);
                        if let Some(child) = lock(&child).as_mut() {
                            let _ = child.kill();
                        }
                        *lock(&shared.tripped_by) = Some(line.trim_end().to_owned());
                    }
                }
                if line.contains(LISTENING)
                    && let Some(addresses) = listening_addresses(&line)
                {
                    *lock(&shared.listening) = Some(addresses);
                }
                lock(&shared.output).push_str(&line);
            }
        })
    }

    /// Arms a kill switch: the first output line for which `matches` is true
    /// makes the reading thread SIGKILL the process at once.
    pub fn kill_when(&self, matches: impl Fn(&str) -> bool + Send + 'static) {
        *lock(&self.shared.tripped_by) = None;
        lock(&self.shared.kill_switches).push(Box::new(matches));
    }

    /// The line that tripped the last kill switch, if one did.
    pub fn tripped_by(&self) -> Option<String> {
        lock(&self.shared.tripped_by).clone()
    }

    /// A handle that SIGKILLs the process from anywhere (a capture tripwire).
    pub fn killer(&self) -> impl Fn() + Send + Sync + 'static {
        let child = Arc::clone(&self.child);
        move || {
            if let Some(child) = lock(&child).as_mut() {
                let _ = child.kill();
            }
        }
    }

    /// SIGKILLs the process (if it still runs), reaps it and waits until its
    /// output is read; returns how it ended.
    pub fn kill(&mut self) -> Option<std::process::ExitStatus> {
        let status = lock(&self.child).take().map(|mut child| {
            let _ = child.kill();
            child.wait().unwrap()
        });
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        lock(&self.shared.kill_switches).clear();
        status
    }

    /// Waits until the process has died (a kill switch fired), reaps it and
    /// returns how it ended.
    pub async fn wait_for_death(&mut self, seconds: u64) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        loop {
            let exited = lock(&self.child)
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                self.kill();
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "kvp-payroll still runs after {seconds} s"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Everything the process (every run of it) wrote so far.
    pub fn output(&self) -> String {
        lock(&self.shared.output).clone()
    }

    /// Stops the process and fails the test if a registered identity number
    /// appears in anything it wrote; also that it did write its logs (the
    /// check is not vacuous). Returns the output.
    pub fn check_output(&mut self) -> String {
        self.kill();
        let output = self.output();
        assert!(
            output.contains(LISTENING) && output.contains("\"target\":\"sqlx::query\""),
            "kvp-payroll's logs were not captured:\n{output}"
        );
        crate::capture::assert_clean("the output of a kvp-payroll process", &output);
        output
    }

    /// A gRPC client of the current run.
    pub async fn grpc(&self) -> PayrollServiceClient<Channel> {
        PayrollServiceClient::connect(format!("http://{}", self.grpc_addr))
            .await
            .unwrap()
    }

    /// A REST client of the current run.
    pub fn rest(&self) -> Rest {
        Rest::new(self.client.clone(), self.http.clone())
    }
}

impl Drop for PayrollProcess {
    fn drop(&mut self) {
        if let Some(mut child) = lock(&self.child).take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The gRPC and HTTP addresses of the service's "listening" log line (JSON).
fn listening_addresses(line: &str) -> Option<(SocketAddr, SocketAddr)> {
    let value: Value = serde_json::from_str(line.trim()).ok()?;
    let fields = value.get("fields")?;
    let address = |name: &str| fields.get(name)?.as_str()?.parse().ok();
    Some((address("grpc")?, address("http")?))
}
