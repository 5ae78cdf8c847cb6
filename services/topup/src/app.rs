//! The application: the store, the norm rates, and the gRPC and HTTP
//! listeners, built from a [`Config`] and run until a shutdown signal.
//!
//! [`Application::build`] binds both listeners before anything is served,
//! so a test can build with port 0 and read the ports back. Shutdown is
//! graceful: on the signal, gRPC health turns NOT_SERVING, both servers stop
//! accepting and finish the requests in flight, then the store is closed.

use std::future::Future;
use std::net::SocketAddr;

use kvp_proto::kvp::topup::v1::event_sink_service_server::EventSinkServiceServer;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::transport::server::TcpIncoming;

use crate::config::Config;
use crate::grpc::DeliverySink;
use crate::http::auth::Authenticator;
use crate::norms::{Norms, NormsError};
use crate::service::Topup;
use crate::store::{self, Backend, StoreError};

/// The gRPC service name of the event sink, as health and reflection report it.
pub const EVENT_SINK_SERVICE: &str = "kvp.topup.v1.EventSinkService";

/// The service cannot start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The bearer token settings are unusable.
    #[error(transparent)]
    Auth(#[from] kvp_auth::SettingsError),
    /// The norm rates file is unusable.
    #[error(transparent)]
    Norms(#[from] NormsError),
    /// The income kinds compiled in do not load.
    #[error("{0}")]
    IncomeKinds(String),
    /// The database cannot be opened or migrated.
    #[error("database: {0}")]
    Store(#[from] StoreError),
    /// A listener cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The reflection service cannot be built from the descriptor sets.
    #[error("gRPC reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// The gRPC server failed.
    #[error("gRPC server: {0}")]
    Grpc(#[from] tonic::transport::Error),
    /// The HTTP server failed.
    #[error("HTTP server: {0}")]
    Http(#[source] std::io::Error),
    /// The TLS settings are unusable.
    #[error(transparent)]
    Tls(#[from] kvp_tls::TlsError),
}

/// Longest a TLS handshake may take.
const TLS_HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The built, bound application.
pub struct Application {
    topup: Topup,
    /// Mutual TLS on the event sink: a client may connect without a
    /// certificate (health checks; a refusal then carries a gRPC status), but
    /// `Deliver` needs the payroll service's (`grpc::DeliverySink`).
    tls: Option<kvp_tls::Acceptor>,
    auth: Authenticator,
    grpc: TcpListener,
    http: TcpListener,
    grpc_addr: SocketAddr,
    http_addr: SocketAddr,
}

impl Application {
    /// Loads the norm rates, opens the store (applying migrations) and binds
    /// both listeners.
    pub async fn build(config: &Config) -> Result<Self, StartupError> {
        let norms = match &config.norms_file {
            Some(path) => Norms::load_file(path)?,
            None => Norms::shipped()?,
        };
        crate::income::IncomeKinds::check_shipped().map_err(StartupError::IncomeKinds)?;
        let auth = Authenticator::new(config.auth.as_ref())?;
        let store = store::connect(config.database_url.expose()).await?;
        let bind = |addr: SocketAddr| async move {
            TcpListener::bind(addr)
                .await
                .map_err(|source| StartupError::Bind { addr, source })
        };
        let grpc = bind(config.grpc_addr).await?;
        let http = bind(config.http_addr).await?;
        let local = |listener: &TcpListener, addr| {
            listener
                .local_addr()
                .map_err(|source| StartupError::Bind { addr, source })
        };
        let grpc_addr = local(&grpc, config.grpc_addr)?;
        let http_addr = local(&http, config.http_addr)?;
        let tls = config
            .tls
            .as_ref()
            .map(|tls| kvp_tls::Acceptor::new(tls, TLS_HANDSHAKE_TIMEOUT))
            .transpose()?;
        let topup = Topup::new(store, norms);
        topup.record_norm_rates();
        Ok(Self {
            tls,
            topup,
            auth,
            grpc,
            http,
            grpc_addr,
            http_addr,
        })
    }

    /// The bound gRPC address (the real port when built with port 0).
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    /// The bound HTTP address.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The database backend in use.
    pub fn backend(&self) -> Backend {
        self.topup.backend()
    }

    /// Serves until SIGTERM or ctrl-c.
    pub async fn run_until_stopped(self) -> Result<(), StartupError> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `shutdown` completes, then stops gracefully.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartupError> {
        let Self {
            topup,
            tls,
            auth,
            grpc,
            http,
            grpc_addr,
            http_addr,
        } = self;

        let (health, health_service) = tonic_health::server::health_reporter();
        health
            .set_serving::<EventSinkServiceServer<DeliverySink>>()
            .await;
        let reflection = || {
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(kvp_proto::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
                .with_service_name(EVENT_SINK_SERVICE)
                .with_service_name("grpc.health.v1.Health")
                .with_service_name("grpc.reflection.v1.ServerReflection")
                .with_service_name("grpc.reflection.v1alpha.ServerReflection")
        };
        let reflection_v1 = reflection().build_v1()?;
        let reflection_v1alpha = reflection().build_v1alpha()?;

        let (stop_tx, stop_rx) = watch::channel(false);
        let stopped = move |mut rx: watch::Receiver<bool>| async move {
            // An error means the sender is gone: stop as well.
            let _closed = rx.wait_for(|stop| *stop).await;
        };
        tokio::spawn({
            let health = health.clone();
            async move {
                shutdown.await;
                tracing::info!("shutdown requested: finishing requests in flight");
                health
                    .set_not_serving::<EventSinkServiceServer<DeliverySink>>()
                    .await;
                let _receivers_gone = stop_tx.send(true);
            }
        });

        tokio::spawn(crate::metrics::RECORDER.upkeep(stop_rx.clone()));
        let sink = DeliverySink::new(
            topup.clone(),
            tls.as_ref().map(kvp_tls::Acceptor::revocations),
        );
        let grpc_server = tonic::transport::Server::builder()
            .trace_fn(kvp_telemetry::grpc_request_span)
            .layer(crate::metrics::grpc_layer())
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(EventSinkServiceServer::new(sink));
        // Without TCP_NODELAY an answer waits for the delayed ACK.
        let tcp = TcpIncoming::from(grpc).with_nodelay(Some(true));
        let grpc_stopped = stopped(stop_rx.clone());
        let grpc_server = async move {
            match tls {
                Some(tls) => {
                    grpc_server
                        .serve_with_incoming_shutdown(tls.incoming(tcp), grpc_stopped)
                        .await
                }
                None => {
                    grpc_server
                        .serve_with_incoming_shutdown(tcp, grpc_stopped)
                        .await
                }
            }
        };
        let http_server = axum::serve(http, crate::http::router(topup.clone(), auth))
            .with_graceful_shutdown(stopped(stop_rx));

        tracing::info!(
            grpc.addr = %grpc_addr,
            http.addr = %http_addr,
            backend = topup.backend().as_str(),
            "kvp-topup listening"
        );
        let (grpc_result, http_result) = tokio::join!(grpc_server, async {
            http_server.await.map_err(StartupError::Http)
        });
        topup.close().await;
        tracing::info!("kvp-topup stopped");
        grpc_result?;
        http_result
    }
}

/// Completes on SIGTERM or ctrl-c (SIGINT).
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
