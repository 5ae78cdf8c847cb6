//! The application: binds the gRPC and HTTP listeners (port 0 in tests), wires
//! the payroll core to both surfaces, and runs until shut down.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use kvp_proto::kvp::payroll::v1::payroll_service_server::PayrollServiceServer;
use kvp_rules::{Parameters, Policy};
use tokio::net::TcpListener;
use tonic::transport::{Certificate, ClientTlsConfig, Identity};

use crate::client_identity::Gate;
use crate::config::{Config, Limits, RelayTlsConfig, redact_url};
use crate::grpc::PayrollGrpc;
use crate::identity::IdentityVault;
use crate::payroll::Payroll;
use crate::relay::RelaySettings;
use crate::rest::limits::RequestBounds;

/// A built application, listening but not yet serving.
pub struct Application {
    grpc: TcpListener,
    http: TcpListener,
    payroll: Arc<Payroll>,
    relay: Option<RelaySettings>,
    rest_auth: crate::rest::auth::Authenticator,
    /// Mutual TLS on gRPC (client certificates, revocation list).
    tls: Option<kvp_tls::Acceptor>,
    limits: Limits,
    /// The audit checkpoints' key (if any) and interval.
    checkpoints: (Option<Vec<u8>>, Duration),
    /// The sandbox's mark on every answer, REST and gRPC alike.
    sandbox_mark: Option<axum::http::HeaderValue>,
}

/// The header (REST) and metadata (gRPC) marking the sandbox's answers.
pub const SANDBOX_HEADER: &str = "kvp-sandbox";

impl Application {
    /// Checks the configuration, connects to the database (running its
    /// migrations) and binds both listeners.
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        config.check()?;
        if config.sandbox {
            crate::clock::make_movable();
        }
        if config.development_mode() {
            tracing::warn!(
                tls = config.tls.is_some(),
                auth = config.auth.is_some(),
                identity_key = config.identity_key.is_some(),
                "DEVELOPMENT MODE: not every protection is configured (see the flags); listening on loopback only"
            );
        }
        let tls = config
            .tls
            .as_ref()
            .map(|tls| {
                kvp_tls::Acceptor::new(
                    tls,
                    Duration::from_millis(config.limits.tls_handshake_timeout_ms),
                )
            })
            .transpose()?;
        let rest_auth = crate::rest::auth::Authenticator::new(config.auth.as_ref())?;
        let store = match &config.migration_database_url {
            // Migrations as the owner; the service as a role that owns nothing.
            Some(owner) => {
                kvp_store::migrate(owner, &config.database_url)
                    .await
                    .with_context(|| format!("migrating the database as {}", redact_url(owner)))?;
                kvp_store::connect_unmigrated(&config.database_url).await
            }
            None => kvp_store::connect(&config.database_url).await,
        }
        .with_context(|| format!("database {}", redact_url(&config.database_url)))?;
        tracing::info!(backend = %store.backend(), "database ready");
        let parameters = Parameters::shipped().context("shipped parameters")?;
        let policy = Policy::shipped().context("shipped policy")?;
        let vault = IdentityVault::new(&config.identity_secret()?);
        crate::identity_keys::adopt(store.as_ref(), &vault)
            .await
            .context("identity key")?;
        let payroll = Arc::new(Payroll::new(store, parameters, policy, vault));
        let grpc = TcpListener::bind(config.grpc_addr)
            .await
            .with_context(|| format!("binding gRPC to {}", config.grpc_addr))?;
        let http = TcpListener::bind(config.http_addr)
            .await
            .with_context(|| format!("binding HTTP to {}", config.http_addr))?;
        let relay_tls = config.relay_tls.as_ref().map(relay_tls).transpose()?;
        let relay = config.topup_url.clone().map(|endpoint| RelaySettings {
            endpoint,
            tls: relay_tls,
            poll_interval: std::time::Duration::from_millis(config.relay_poll_ms),
            retry_base: std::time::Duration::from_millis(config.relay_retry_base_ms),
            lease: std::time::Duration::from_millis(config.relay_lease_ms),
            batch: 100,
        });
        if relay.is_none() {
            tracing::warn!("no topup_url configured: events stay in the outbox until one is");
        }
        Ok(Self {
            grpc,
            http,
            payroll,
            relay,
            tls,
            rest_auth,
            limits: config.limits.clone(),
            checkpoints: (
                config.audit_checkpoint_secret()?,
                Duration::from_millis(config.audit_checkpoint_ms.max(1)),
            ),
            sandbox_mark: config
                .sandbox
                .then(|| axum::http::HeaderValue::from_static("true")),
        })
    }

    /// The bound gRPC address.
    pub fn grpc_addr(&self) -> std::io::Result<SocketAddr> {
        self.grpc.local_addr()
    }

    /// The bound HTTP address.
    pub fn http_addr(&self) -> std::io::Result<SocketAddr> {
        self.http.local_addr()
    }

    /// The payroll core (for tests that inspect the store).
    pub fn payroll(&self) -> Arc<Payroll> {
        self.payroll.clone()
    }

    /// Serves both surfaces until `shutdown` completes, then lets in-flight
    /// requests finish.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        });
        let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|stop| *stop).await;
        };

        let relay = self.relay.clone().map(|settings| {
            tokio::spawn(crate::relay::run(
                self.payroll.store().clone(),
                settings,
                stop_rx.clone(),
            ))
        });
        let (health_reporter, health_service) = tonic_health::server::health_reporter();
        health_reporter
            .set_serving::<PayrollServiceServer<PayrollGrpc>>()
            .await;
        let reflection_v1 = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(kvp_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()?;
        let reflection_v1alpha = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(kvp_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1alpha()?;
        tokio::spawn(crate::metrics::RECORDER.upkeep(stop_rx.clone()));
        tokio::spawn(crate::audit_checkpoint::run(
            self.payroll.store().clone(),
            self.checkpoints.0.clone(),
            self.checkpoints.1,
            stop_rx.clone(),
        ));
        tokio::spawn(crate::rest::idempotency::purge_expired_keys(
            self.payroll.store().clone(),
            stop_rx.clone(),
        ));
        let gate = Gate::new(self.tls.as_ref().map(kvp_tls::Acceptor::revocations));
        let limits = &self.limits;
        // Slow or vanished clients: every call has a deadline, and HTTP/2
        // pings find dead connections.
        let grpc = tonic::transport::Server::builder()
            .timeout(Duration::from_millis(limits.request_timeout_ms))
            .http2_keepalive_interval(Some(Duration::from_secs(30)))
            .http2_keepalive_timeout(Some(Duration::from_secs(10)))
            .trace_fn(kvp_telemetry::grpc_request_span)
            .layer(crate::metrics::grpc_layer())
            .layer(sandbox_mark(self.sandbox_mark.clone()))
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(
                PayrollServiceServer::new(PayrollGrpc::new(self.payroll.clone(), gate))
                    .max_decoding_message_size(limits.grpc_max_message_bytes),
            );
        // The builder's TCP settings apply only to listeners it binds itself:
        // without TCP_NODELAY a small answer waits for the client's delayed
        // ACK, some 40 ms a call.
        let tcp = tonic::transport::server::TcpIncoming::from(self.grpc)
            .with_nodelay(Some(true))
            .with_keepalive(Some(Duration::from_secs(60)));
        let grpc_stopped = stopped(stop_rx.clone());
        let grpc = async move {
            match self.tls {
                Some(tls) => {
                    grpc.serve_with_incoming_shutdown(tls.incoming(tcp), grpc_stopped)
                        .await
                }
                None => grpc.serve_with_incoming_shutdown(tcp, grpc_stopped).await,
            }
        };

        let bounds = RequestBounds::from(limits);
        // REST and the caseworker's page, both behind the same tokens.
        let router = crate::rest::router(self.payroll.clone(), self.rest_auth.clone())
            .merge(crate::web::router(self.payroll.clone(), self.rest_auth))
            .layer(sandbox_mark(self.sandbox_mark))
            .layer(axum::middleware::from_fn_with_state(
                bounds,
                crate::rest::limits::bound,
            ))
            .layer(axum::extract::DefaultBodyLimit::max(bounds.max_body_bytes))
            .layer(
                tower_http::trace::TraceLayer::new_for_http()
                    .make_span_with(kvp_telemetry::http_request_span)
                    .on_response(
                        |response: &axum::http::Response<_>,
                         _latency: Duration,
                         span: &tracing::Span| {
                            span.record("http.status", response.status().as_u16());
                        },
                    ),
            );
        let idle = Duration::from_millis(limits.idle_timeout_ms);
        let http = axum::serve(IdleBounded::new(self.http, idle), router)
            .with_graceful_shutdown(stopped(stop_rx));
        let (grpc, http) = tokio::join!(grpc, async { http.await });
        grpc.context("gRPC server")?;
        http.context("HTTP server")?;
        if let Some(relay) = relay {
            relay.await.context("outbox relay")?;
        }
        self.payroll.store().close().await;
        Ok(())
    }
}

/// Marks every answer with [`SANDBOX_HEADER`] when `mark` is set (in the
/// sandbox); leaves them alone otherwise.
fn sandbox_mark(
    mark: Option<axum::http::HeaderValue>,
) -> tower_http::set_header::SetResponseHeaderLayer<Option<axum::http::HeaderValue>> {
    tower_http::set_header::SetResponseHeaderLayer::overriding(
        axum::http::HeaderName::from_static(SANDBOX_HEADER),
        mark,
    )
}

/// The outbox relay's TLS: the top-up service's certificate verified
/// against `ca`, the relay's own certificate presented (mutual TLS).
fn relay_tls(tls: &RelayTlsConfig) -> anyhow::Result<ClientTlsConfig> {
    let read = |what: &str, path: &std::path::Path| {
        std::fs::read(path).with_context(|| format!("relay_tls.{what} {}", path.display()))
    };
    Ok(ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(read("ca", &tls.ca)?))
        .identity(Identity::from_pem(
            read("cert", &tls.cert)?,
            read("key", &tls.key)?,
        )))
}

/// The HTTP listener, closing connections on which the client sends or
/// accepts nothing for `idle` (a stalled upload, a client that stopped
/// reading, an idle keep-alive connection).
struct IdleBounded {
    listener: TcpListener,
    idle: Duration,
}

impl IdleBounded {
    fn new(listener: TcpListener, idle: Duration) -> Self {
        Self { listener, idle }
    }
}

impl axum::serve::Listener for IdleBounded {
    type Io = std::pin::Pin<Box<tokio_io_timeout::TimeoutStream<tokio::net::TcpStream>>>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (stream, addr) = axum::serve::Listener::accept(&mut self.listener).await;
        // Small answers go out at once rather than after the peer's delayed ACK.
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "TCP_NODELAY not set");
        }
        let mut stream = tokio_io_timeout::TimeoutStream::new(stream);
        stream.set_read_timeout(Some(self.idle));
        stream.set_write_timeout(Some(self.idle));
        (Box::pin(stream), addr)
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.listener.local_addr()
    }
}
