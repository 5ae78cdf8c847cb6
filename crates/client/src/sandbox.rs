//! What `kvp-payroll sandbox` writes into its folder, and reading it back:
//! `sandbox.json` (the manifest, written last, so its presence means ready),
//! the CA and client certificates, a bearer token per REST role, and the
//! signing keys of the synthetic municipality's participants and supervisor.
//!
//! The manifest's types are the ones the sandbox writes with, so the writer
//! and every Rust reader agree on its shape.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use kvp_signing::SigningKey;
use serde::{Deserialize, Serialize};
use time::Date;

use crate::connection::{ClientTls, ConnectError, PayrollClient};

/// The manifest's file name in the folder.
pub const MANIFEST: &str = "sandbox.json";

/// `sandbox.json`: addresses, files (relative to the folder) and the
/// synthetic municipality.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The synthetic municipality every credential is scoped to.
    pub municipality_id: String,
    /// The gRPC address (`https://localhost:<port>`).
    pub grpc_url: String,
    /// The REST address.
    pub http_url: String,
    /// The sandbox clock's date when it started.
    pub today: Date,
    /// The CA of the server's and the clients' certificates (PEM).
    pub ca: PathBuf,
    /// The client certificates.
    pub certificates: ClientCertificates,
    /// A bearer token per REST role (`caseworker`, `payroll_operator`,
    /// `auditor`, `administrator`).
    pub tokens: BTreeMap<String, PathBuf>,
    /// The supervisor who co-signs every timesheet.
    pub supervisor: SandboxSigner,
    /// The participants.
    pub participants: Vec<SandboxParticipant>,
}

/// The two kinds of gRPC client, each with its own certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientCertificates {
    /// Closes periods, streams lines, confirms payments.
    pub payroll_system: CertificateFiles,
    /// Submits timesheets.
    pub timesheet_client: CertificateFiles,
}

/// A certificate and its private key (PEM files).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateFiles {
    /// The certificate.
    pub cert: PathBuf,
    /// Its private key.
    pub key: PathBuf,
}

/// A person who signs timesheets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxSigner {
    /// The person (a participant's id, or the supervisor's own id).
    pub person_id: String,
    /// The registered key's id, named in each signature.
    pub keyid: String,
    /// The Ed25519 private key: base64 of its 32 bytes.
    pub private_key: PathBuf,
}

/// A participant of the synthetic municipality.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxParticipant {
    /// The service's participant id.
    pub id: String,
    /// The name.
    pub display_name: String,
    /// What the payroll system knows them by.
    pub employee_number: String,
    /// The children's birth dates.
    pub children: Vec<Date>,
    /// The programme period.
    pub programme: Programme,
    /// The participant as a signer (`person_id` is `id`).
    pub signer: SandboxSigner,
}

/// A programme period, both days included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Programme {
    /// The first day.
    pub start: Date,
    /// The last day.
    pub end: Date,
}

/// Which client certificate to present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientRole {
    /// A municipal payroll system.
    PayrollSystem,
    /// A timesheet client.
    TimesheetClient,
}

/// Why the folder could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// A file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// What went wrong.
        source: std::io::Error,
    },
    /// `sandbox.json` is not a manifest.
    #[error("{path} is not a sandbox manifest: {source}")]
    Manifest {
        /// The file.
        path: String,
        /// What is wrong with it.
        source: serde_json::Error,
    },
    /// A key file does not hold base64 of 32 bytes.
    #[error("{path} does not hold an Ed25519 private key (base64 of 32 bytes)")]
    Key {
        /// The file.
        path: String,
    },
    /// No token of that role.
    #[error("the sandbox has no token for the role {0:?}")]
    NoToken(String),
    /// No `sandbox.json` appeared in time.
    #[error("no {MANIFEST} in {dir} after {waited:?}: is the sandbox running?")]
    NotReady {
        /// The folder.
        dir: String,
        /// How long it was waited for.
        waited: Duration,
    },
    /// The service could not be reached.
    #[error(transparent)]
    Connect(#[from] ConnectError),
}

/// A sandbox's folder, read.
#[derive(Debug, Clone)]
pub struct SandboxFolder {
    dir: PathBuf,
    manifest: Manifest,
}

impl SandboxFolder {
    /// Reads the folder's `sandbox.json`.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, SandboxError> {
        let dir = dir.as_ref().to_path_buf();
        let path = dir.join(MANIFEST);
        let bytes = read(&path)?;
        let manifest = serde_json::from_slice(&bytes).map_err(|source| SandboxError::Manifest {
            path: path.display().to_string(),
            source,
        })?;
        Ok(Self { dir, manifest })
    }

    /// Waits up to `timeout` for a starting sandbox's `sandbox.json`, then
    /// reads it.
    pub async fn wait(dir: impl AsRef<Path>, timeout: Duration) -> Result<Self, SandboxError> {
        let dir = dir.as_ref();
        let started = tokio::time::Instant::now();
        while !dir.join(MANIFEST).exists() {
            if started.elapsed() >= timeout {
                return Err(SandboxError::NotReady {
                    dir: dir.display().to_string(),
                    waited: timeout,
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self::open(dir)
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The synthetic municipality.
    pub fn municipality_id(&self) -> &str {
        &self.manifest.municipality_id
    }

    /// The sandbox clock's date when it started.
    pub fn today(&self) -> Date {
        self.manifest.today
    }

    /// The participants.
    pub fn participants(&self) -> &[SandboxParticipant] {
        &self.manifest.participants
    }

    /// The supervisor.
    pub fn supervisor(&self) -> &SandboxSigner {
        &self.manifest.supervisor
    }

    /// A file of the folder named in the manifest.
    pub fn path(&self, relative: &Path) -> PathBuf {
        self.dir.join(relative)
    }

    /// A signer's private key.
    pub fn signing_key(&self, signer: &SandboxSigner) -> Result<SigningKey, SandboxError> {
        let path = self.path(&signer.private_key);
        let text = read(&path)?;
        let bad = || SandboxError::Key {
            path: path.display().to_string(),
        };
        let bytes = STANDARD.decode(text.trim_ascii()).map_err(|_| bad())?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| bad())?;
        Ok(SigningKey::from_bytes(&bytes))
    }

    /// The mutual-TLS credentials of `role`.
    pub fn tls(&self, role: ClientRole) -> Result<ClientTls, SandboxError> {
        let files = match role {
            ClientRole::PayrollSystem => &self.manifest.certificates.payroll_system,
            ClientRole::TimesheetClient => &self.manifest.certificates.timesheet_client,
        };
        Ok(ClientTls::from_files(
            &self.path(&self.manifest.ca),
            &self.path(&files.cert),
            &self.path(&files.key),
        )?)
    }

    /// A gRPC client presenting `role`'s certificate.
    pub async fn connect(&self, role: ClientRole) -> Result<PayrollClient, SandboxError> {
        let tls = self.tls(role)?;
        Ok(PayrollClient::connect(&self.manifest.grpc_url, Some(&tls)).await?)
    }

    /// The bearer token of a REST role.
    pub fn token(&self, role: &str) -> Result<String, SandboxError> {
        let file = self
            .manifest
            .tokens
            .get(role)
            .ok_or_else(|| SandboxError::NoToken(role.to_owned()))?;
        let text = read(&self.path(file))?;
        Ok(String::from_utf8_lossy(text.trim_ascii()).into_owned())
    }
}

fn read(path: &Path) -> Result<Vec<u8>, SandboxError> {
    std::fs::read(path).map_err(|source| SandboxError::Read {
        path: path.display().to_string(),
        source,
    })
}
