//! The application: binds the gRPC and HTTP listeners (port 0 in tests), wires
//! the payroll core to both surfaces, and runs until shut down.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use kvp_proto::kvp::payroll::v1::payroll_service_server::PayrollServiceServer;
use kvp_rules::{Parameters, Policy};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

use crate::config::{Config, redact_url};
use crate::grpc::PayrollGrpc;
use crate::identity::IdentityVault;
use crate::payroll::Payroll;
use crate::relay::RelaySettings;

/// A built application, listening but not yet serving.
pub struct Application {
    grpc: TcpListener,
    http: TcpListener,
    payroll: Arc<Payroll>,
    relay: Option<RelaySettings>,
}

impl Application {
    /// Checks the configuration, connects to the database (running its
    /// migrations) and binds both listeners.
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        config.check()?;
        if config.development_mode() {
            tracing::warn!(
                "DEVELOPMENT MODE: no TLS, no authentication, a fixed identity key; listening on loopback only"
            );
        }
        let store = kvp_store::connect(&config.database_url)
            .await
            .with_context(|| format!("database {}", redact_url(&config.database_url)))?;
        tracing::info!(backend = %store.backend(), "database ready");
        let parameters = Parameters::shipped().context("shipped parameters")?;
        let policy = Policy::shipped().context("shipped policy")?;
        let vault = IdentityVault::new(&config.identity_secret()?);
        let payroll = Arc::new(Payroll::new(store, parameters, policy, vault));
        let grpc = TcpListener::bind(config.grpc_addr)
            .await
            .with_context(|| format!("binding gRPC to {}", config.grpc_addr))?;
        let http = TcpListener::bind(config.http_addr)
            .await
            .with_context(|| format!("binding HTTP to {}", config.http_addr))?;
        let relay = config.topup_url.clone().map(|endpoint| RelaySettings {
            endpoint,
            poll_interval: std::time::Duration::from_millis(config.relay_poll_ms),
            retry_base: std::time::Duration::from_millis(config.relay_retry_base_ms),
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
        let grpc = tonic::transport::Server::builder()
            .trace_fn(|request| tracing::info_span!("grpc", path = %request.uri().path()))
            .layer(crate::metrics::grpc_layer())
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(PayrollServiceServer::new(PayrollGrpc::new(
                self.payroll.clone(),
            )))
            .serve_with_incoming_shutdown(
                TcpListenerStream::new(self.grpc),
                stopped(stop_rx.clone()),
            );

        let router = crate::rest::router(self.payroll.clone()).layer(
            tower_http::trace::TraceLayer::new_for_http().make_span_with(
                |request: &axum::http::Request<_>| {
                    let route = request
                        .extensions()
                        .get::<axum::extract::MatchedPath>()
                        .map_or("unmatched", |p| p.as_str())
                        .to_owned();
                    tracing::info_span!("http", method = %request.method(), route)
                },
            ),
        );
        let http = axum::serve(self.http, router).with_graceful_shutdown(stopped(stop_rx));
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
