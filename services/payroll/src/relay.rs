//! The outbox relay: delivers domain events as CloudEvents to the top-up
//! service over gRPC, with retries and exponential backoff. Events are claimed
//! with a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL), so several instances
//! can relay at once and a crashed relay's claims come back; the consumer
//! deduplicates by event id, so delivery is effectively exactly once.

use std::sync::Arc;
use std::time::Duration;

use kvp_proto::kvp::topup::v1::DeliverRequest;
use kvp_proto::kvp::topup::v1::event_sink_service_client::EventSinkServiceClient;
use kvp_store::Repository;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};
use tracing::Instrument as _;

use crate::events::cloud_event;

/// How the relay paces itself.
#[derive(Debug, Clone)]
pub struct RelaySettings {
    /// The top-up service's gRPC endpoint, e.g. `http://127.0.0.1:50061`,
    /// or `https://kvp-topup.kvp.svc:50061` with `tls`.
    pub endpoint: String,
    /// Mutual TLS for an `https://` endpoint: the CA that issued the top-up
    /// service's certificate and the relay's own.
    pub tls: Option<ClientTlsConfig>,
    /// Pause between polls when the outbox is empty.
    pub poll_interval: Duration,
    /// The first retry delay; doubled per failed attempt, at most five minutes.
    pub retry_base: Duration,
    /// How long claimed events stay leased to this relay; when it dies, its
    /// undelivered claims come back after this.
    pub lease: Duration,
    /// Events claimed at a time.
    pub batch: u32,
}

/// How long the relay waits for the top-up service to connect, and to
/// answer one delivery: a peer that accepts and never answers does not hold
/// the outbox up (the event is retried later).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// One event to the top-up service, connecting first when there is no
/// connection yet.
async fn deliver(
    client: &mut Option<EventSinkServiceClient<Channel>>,
    settings: &RelaySettings,
    event: &kvp_store::OutboxEvent,
) -> Result<(), tonic::Status> {
    if client.is_none() {
        let mut endpoint = Endpoint::from_shared(settings.endpoint.clone())
            .map_err(|e| tonic::Status::invalid_argument(e.to_string()))?
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(CALL_TIMEOUT);
        if let Some(tls) = &settings.tls {
            endpoint = endpoint
                .tls_config(tls.clone())
                .map_err(|e| tonic::Status::invalid_argument(e.to_string()))?;
        }
        let channel = tokio::time::timeout(CALL_TIMEOUT, endpoint.connect())
            .await
            .map_err(|_| tonic::Status::deadline_exceeded("connecting timed out"))?
            .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
        *client = Some(EventSinkServiceClient::new(channel));
    }
    let Some(connected) = client.as_mut() else {
        return Err(tonic::Status::unavailable("not connected"));
    };
    connected
        .deliver(DeliverRequest {
            event: Some(cloud_event(event)),
        })
        .await
        .map(|_| ())
}

/// Delivers outbox events until `stop` turns true.
pub async fn run(
    store: Arc<dyn Repository>,
    settings: RelaySettings,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let lease = time::Duration::try_from(settings.lease).unwrap_or(time::Duration::seconds(30));
    let mut client: Option<EventSinkServiceClient<Channel>> = None;
    while !*stop.borrow() {
        let now = crate::clock::now();
        let events = match store.claim_outbox(now, now + lease, settings.batch).await {
            Ok(events) => events,
            Err(e) => {
                tracing::warn!(error = %e, "outbox claim failed");
                Vec::new()
            }
        };
        match store.outbox_backlog().await {
            Ok(backlog) => crate::metrics::record_outbox_backlog(backlog),
            Err(e) => tracing::warn!(error = %e, "reading the outbox backlog failed"),
        }
        if events.is_empty() {
            tokio::select! {
                () = tokio::time::sleep(settings.poll_interval) => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        for event in events {
            let span = tracing::info_span!(
                "relay.deliver",
                event_id = %event.id,
                event_type = %event.event_type
            );
            // The delivery continues the trace of the request that wrote
            // the event, and carries it on (`events::cloud_event`).
            if let Some(traceparent) = &event.traceparent {
                kvp_telemetry::adopt_traceparent(&span, traceparent);
            }
            // The span covers the delivery's awaits by instrumenting them,
            // never by a guard held across them.
            relay_one(store.as_ref(), &settings, &mut client, &event)
                .instrument(span)
                .await;
        }
    }
}

/// Delivers one event and records the outcome: delivered, or failed with
/// the time of its next attempt (exponential backoff, at most five minutes).
async fn relay_one(
    store: &dyn Repository,
    settings: &RelaySettings,
    client: &mut Option<EventSinkServiceClient<Channel>>,
    event: &kvp_store::OutboxEvent,
) {
    let result = deliver(client, settings, event).await;
    let now = crate::clock::now();
    match result {
        Ok(()) => {
            crate::metrics::record_outbox_delivered();
            if let Err(e) = store.mark_delivered(event.id, now).await {
                tracing::warn!(error = %e, "marking an event delivered failed; it will be delivered again and deduplicated");
            }
        }
        Err(status) => {
            crate::metrics::record_outbox_delivery_failure();
            // A peer gone, or one that did not answer in time: connect anew.
            if matches!(
                status.code(),
                tonic::Code::Unavailable | tonic::Code::Cancelled | tonic::Code::DeadlineExceeded
            ) {
                *client = None;
            }
            let shift = u32::try_from(event.attempts.clamp(0, 16)).unwrap_or(16);
            let delay = settings
                .retry_base
                .saturating_mul(1 << shift)
                .min(Duration::from_secs(300));
            let retry_at =
                now + time::Duration::try_from(delay).unwrap_or(time::Duration::minutes(5));
            tracing::warn!(code = ?status.code(), attempts = event.attempts + 1, "event delivery failed; will retry");
            if let Err(e) = store
                .mark_failed(event.id, status.message(), retry_at)
                .await
            {
                tracing::warn!(error = %e, "recording a failed delivery failed");
            }
        }
    }
}
