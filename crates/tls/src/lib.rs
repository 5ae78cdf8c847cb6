//! Mutual TLS for the KVP gRPC servers.
//!
//! Both services serve gRPC with a certificate of their own and verify the
//! client's against a CA; a client may connect without one (health checks,
//! and a refusal that carries a gRPC status), and each service decides per
//! RPC which certificates it admits. What tonic's own TLS cannot do is
//! revoke: here a certificate revocation list (CRL) of the client CA may be
//! configured, and it is re-read whenever the file changes, so a revoked
//! certificate fails its next handshake without a restart.
//!
//! The handshake is only the first check: an HTTP/2 connection lives for
//! hours, so the list in force is also offered per request
//! ([`Revocations`]), and a certificate revoked after its connection was
//! opened is refused at its next call.
//!
//! The acceptor yields tokio-rustls streams, for which tonic records the
//! peer's certificates: `Request::peer_certs` works as with tonic's TLS.

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{
    CertificateDer, CertificateRevocationListDer, PrivateKeyDer,
};
use tokio_rustls::server::TlsStream;
use tokio_stream::{Stream, StreamExt};

/// A gRPC server's TLS settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain presented by the service.
    pub cert: PathBuf,
    /// PEM private key of that certificate.
    pub key: PathBuf,
    /// PEM certificate(s) of the CA(s) issuing client certificates.
    pub client_ca: PathBuf,
    /// PEM certificate revocation list(s) of the client CA(s), re-read when
    /// the file changes. When set, it must hold a CRL of every CA that
    /// issues client certificates: a certificate whose issuer has none is
    /// refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_crl: Option<PathBuf>,
}

impl TlsConfig {
    /// The first required setting left empty, by its name in the
    /// configuration file (`tls.cert`, `tls.key`, `tls.client_ca`).
    pub fn first_missing(&self) -> Option<&'static str> {
        [
            ("tls.cert", &self.cert),
            ("tls.key", &self.key),
            ("tls.client_ca", &self.client_ca),
        ]
        .into_iter()
        .find(|(_, path)| path.as_os_str().is_empty())
        .map(|(what, _)| what)
    }
}

/// Why the TLS settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file cannot be read.
    #[error("tls.{what} {path}: {source}")]
    Read {
        /// Which setting.
        what: &'static str,
        /// The file.
        path: String,
        /// Why.
        source: io::Error,
    },
    /// A file holds no usable PEM item of the expected kind.
    #[error("tls.{what} {path}: {why}")]
    Pem {
        /// Which setting.
        what: &'static str,
        /// The file.
        path: String,
        /// Why.
        why: String,
    },
    /// The certificates, key or revocation lists do not make a configuration.
    #[error("tls: {0}")]
    Config(String),
}

/// The certificates the revocation list in force revokes, for the check of
/// each request (a connection may have been opened before the list changed).
#[derive(Debug, Clone, Default)]
pub struct Revocations(Arc<RwLock<RevokedSet>>);

/// Revoked certificates by issuer (DER name) and serial number (DER integer).
type RevokedSet = HashSet<(Vec<u8>, Vec<u8>)>;

impl Revocations {
    /// Whether the list in force revokes `certificate` (DER). A certificate
    /// that does not parse is not revoked here: the handshake verified it.
    pub fn is_revoked(&self, certificate: &[u8]) -> bool {
        let Ok((_, parsed)) = x509_parser::parse_x509_certificate(certificate) else {
            return false;
        };
        let key = (
            parsed.issuer().as_raw().to_vec(),
            parsed.raw_serial().to_vec(),
        );
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&key)
    }

    /// The leaf certificate `request` was made with, unless there is none
    /// or the list in force revokes it; the refusal says which, for an
    /// UNAUTHENTICATED status.
    pub fn client_certificate<T>(
        &self,
        request: &tonic::Request<T>,
    ) -> Result<CertificateDer<'static>, &'static str> {
        let leaf = request
            .peer_certs()
            .and_then(|certificates| certificates.first().cloned())
            .ok_or("a client certificate is required")?;
        if self.is_revoked(&leaf) {
            return Err("the client certificate has been revoked");
        }
        Ok(leaf)
    }

    fn replace(&self, revoked: RevokedSet) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = revoked;
    }
}

/// How often the revocation list's file is looked at.
const CRL_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Accepts TLS connections with the current settings: the revocation list
/// is re-read when its file changes.
#[derive(Clone)]
pub struct Acceptor {
    settings: TlsConfig,
    handshake_timeout: Duration,
    current: Arc<RwLock<Current>>,
    revocations: Revocations,
}

/// The configuration in force, and the revocation list file it was built from.
struct Current {
    config: Arc<rustls::ServerConfig>,
    crl_file: Option<FileStamp>,
}

/// What identifies a version of a file without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
}

impl FileStamp {
    fn of(path: &Path) -> io::Result<Self> {
        let metadata = std::fs::metadata(path)?;
        Ok(Self {
            modified: metadata.modified().ok(),
            len: metadata.len(),
        })
    }
}

impl Acceptor {
    /// Reads the certificate, key, client CA and revocation list; fails if
    /// any is missing or unusable.
    pub fn new(settings: &TlsConfig, handshake_timeout: Duration) -> Result<Self, TlsError> {
        let crl_file = match &settings.client_crl {
            Some(path) => Some(FileStamp::of(path).map_err(|source| TlsError::Read {
                what: "client_crl",
                path: path.display().to_string(),
                source,
            })?),
            None => None,
        };
        let (config, revoked) = server_config(settings)?;
        let revocations = Revocations::default();
        revocations.replace(revoked);
        Ok(Self {
            settings: settings.clone(),
            handshake_timeout,
            current: Arc::new(RwLock::new(Current { config, crl_file })),
            revocations,
        })
    }

    /// The revocation list in force, as it changes, for per-request checks.
    pub fn revocations(&self) -> Revocations {
        self.revocations.clone()
    }

    /// The configuration new connections get.
    fn config(&self) -> Arc<rustls::ServerConfig> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .config
            .clone()
    }

    /// Re-reads the revocation list if its file changed since it was last
    /// read. An unreadable or invalid new list is logged and the one in
    /// force is kept: connections go on being checked against the last good
    /// list rather than against none.
    fn reload_if_changed(&self) {
        let Some(path) = &self.settings.client_crl else {
            return;
        };
        let stamp = FileStamp::of(path).ok();
        let unchanged = self
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .crl_file
            == stamp;
        if unchanged {
            return;
        }
        match server_config(&self.settings) {
            Ok((config, revoked)) => {
                let count = revoked.len();
                self.revocations.replace(revoked);
                let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
                *current = Current {
                    config,
                    crl_file: stamp,
                };
                tracing::info!(
                    file = %path.display(),
                    revoked = count,
                    "client certificate revocation list reloaded"
                );
            }
            Err(error) => {
                // Remember the stamp so that the error is logged once per change.
                let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
                current.crl_file = stamp;
                tracing::error!(
                    %error,
                    "the changed client certificate revocation list is unusable; \
                     the previous one stays in force"
                );
            }
        }
    }

    /// The TLS connections made over `tcp`: each handshake runs on its own
    /// (bounded by the handshake timeout), a failed one is logged and
    /// dropped, and the revocation list is looked at for changes while the
    /// stream lives. Dropping the stream stops accepting.
    pub fn incoming<S>(self, tcp: S) -> impl Stream<Item = io::Result<TlsStream<TcpStream>>>
    where
        S: Stream<Item = io::Result<TcpStream>> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        tokio::spawn(async move {
            let mut tcp = std::pin::pin!(tcp);
            let mut handshakes = JoinSet::new();
            let mut poll = tokio::time::interval(CRL_POLL_INTERVAL);
            poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = tx.closed() => break,
                    _ = poll.tick() => self.reload_if_changed(),
                    next = tcp.next() => match next {
                        Some(Ok(stream)) => {
                            let acceptor = tokio_rustls::TlsAcceptor::from(self.config());
                            let timeout = self.handshake_timeout;
                            handshakes.spawn(async move {
                                tokio::time::timeout(timeout, acceptor.accept(stream)).await
                            });
                        }
                        Some(Err(error)) => {
                            // Out of descriptors and the like: do not spin.
                            tracing::warn!(%error, "accepting a TCP connection failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        None => break,
                    },
                    Some(done) = handshakes.join_next(), if !handshakes.is_empty() => {
                        match done {
                            Ok(Ok(Ok(stream))) => {
                                if tx.send(Ok(stream)).await.is_err() {
                                    break;
                                }
                            }
                            Ok(Ok(Err(error))) => log_refused_handshake(&error),
                            Ok(Err(_elapsed)) => {
                                tracing::debug!("TLS handshake timed out");
                            }
                            Err(error) => tracing::warn!(%error, "TLS handshake task failed"),
                        }
                    }
                }
            }
        });
        tokio_stream::wrappers::ReceiverStream::new(rx)
    }
}

/// A refused client certificate (revoked, unknown issuer, expired) is worth
/// an operator's attention; other handshake failures (port scans, clients
/// that hang up) are not.
fn log_refused_handshake(error: &io::Error) {
    let certificate = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .and_then(|tls| match tls {
            rustls::Error::InvalidCertificate(why) => Some(why),
            _ => None,
        });
    match certificate {
        Some(why) => tracing::info!(reason = ?why, "client certificate refused at the handshake"),
        None => tracing::debug!(%error, "TLS handshake failed"),
    }
}

/// The server configuration the settings describe, read from their files,
/// and the certificates its revocation list revokes.
fn server_config(
    settings: &TlsConfig,
) -> Result<(Arc<rustls::ServerConfig>, RevokedSet), TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certificates = pem_items::<CertificateDer>("cert", &settings.cert)?;
    let key = PrivateKeyDer::from_pem_slice(&read("key", &settings.key)?).map_err(|error| {
        TlsError::Pem {
            what: "key",
            path: settings.key.display().to_string(),
            why: error.to_string(),
        }
    })?;
    let mut roots = rustls::RootCertStore::empty();
    for ca in pem_items::<CertificateDer>("client_ca", &settings.client_ca)? {
        roots
            .add(ca)
            .map_err(|error| TlsError::Config(format!("client_ca: {error}")))?;
    }
    let mut verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .allow_unauthenticated();
    let mut revoked = RevokedSet::new();
    if let Some(path) = &settings.client_crl {
        let lists = pem_items::<CertificateRevocationListDer>("client_crl", path)?;
        for list in &lists {
            let (_, parsed) = x509_parser::parse_x509_crl(list).map_err(|error| TlsError::Pem {
                what: "client_crl",
                path: path.display().to_string(),
                why: error.to_string(),
            })?;
            let issuer = parsed.issuer().as_raw();
            revoked.extend(
                parsed
                    .iter_revoked_certificates()
                    .map(|entry| (issuer.to_vec(), entry.raw_serial().to_vec())),
            );
        }
        // The CRLs are those of the CAs that issue client certificates; the
        // CAs themselves are trust anchors, revoked by removing them.
        verifier = verifier.with_crls(lists).only_check_end_entity_revocation();
    }
    let verifier = verifier
        .build()
        .map_err(|error| TlsError::Config(format!("client verification: {error}")))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| TlsError::Config(error.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certificates, key)
        .map_err(|error| TlsError::Config(format!("cert and key: {error}")))?;
    // gRPC is HTTP/2.
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok((Arc::new(config), revoked))
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        what,
        path: path.display().to_string(),
        source,
    })
}

/// Every PEM item of one kind in a file; at least one.
fn pem_items<T: PemObject>(what: &'static str, path: &Path) -> Result<Vec<T>, TlsError> {
    let pem_error = |why: String| TlsError::Pem {
        what,
        path: path.display().to_string(),
        why,
    };
    let items = T::pem_slice_iter(&read(what, path)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| pem_error(error.to_string()))?;
    if items.is_empty() {
        return Err(pem_error("no PEM item of the expected kind".into()));
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// A self-signed server certificate, its key and itself as client CA,
    /// written to a directory; and the settings naming them.
    fn settings(dir: &Path) -> TlsConfig {
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        std::fs::write(dir.join("cert.pem"), certified.cert.pem()).unwrap();
        std::fs::write(dir.join("key.pem"), certified.signing_key.serialize_pem()).unwrap();
        TlsConfig {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
            client_ca: dir.join("cert.pem"),
            client_crl: None,
        }
    }

    #[test]
    fn an_unusable_revocation_list_is_refused_at_start_up_naming_the_setting() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = settings(dir.path());
        assert!(Acceptor::new(&settings, Duration::from_secs(1)).is_ok());

        settings.client_crl = Some(dir.path().join("missing.crl"));
        let missing = Acceptor::new(&settings, Duration::from_secs(1))
            .err()
            .unwrap();
        assert!(
            matches!(
                missing,
                TlsError::Read {
                    what: "client_crl",
                    ..
                }
            ),
            "{missing}"
        );

        // A certificate is not a revocation list.
        settings.client_crl = Some(dir.path().join("cert.pem"));
        let wrong = Acceptor::new(&settings, Duration::from_secs(1))
            .err()
            .unwrap();
        assert_eq!(
            wrong.to_string(),
            format!(
                "tls.client_crl {}: no PEM item of the expected kind",
                dir.path().join("cert.pem").display()
            )
        );
    }

    #[test]
    fn the_first_missing_setting_is_named_as_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = settings(dir.path());
        assert_eq!(settings.first_missing(), None);
        settings.key = PathBuf::new();
        assert_eq!(settings.first_missing(), Some("tls.key"));
        settings.cert = PathBuf::new();
        assert_eq!(settings.first_missing(), Some("tls.cert"));
    }
}
