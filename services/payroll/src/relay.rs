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
use time::OffsetDateTime;
use tonic::transport::{Channel, Endpoint};

use crate::events::cloud_event;

/// How the relay paces itself.
#[derive(Debug, Clone)]
pub struct RelaySettings {
    /// The top-up service's gRPC endpoint, e.g. `http://127.0.0.1:50061`.
    pub endpoint: String,
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

/// Delivers outbox events until `stop` turns true.
pub async fn run(
    store: Arc<dyn Repository>,
    settings: RelaySettings,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let lease = time::Duration::try_from(settings.lease).unwrap_or(time::Duration::seconds(30));
    let mut client: Option<EventSinkServiceClient<Channel>> = None;
    while !*stop.borrow() {
        let now = OffsetDateTime::now_utc();
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
            let span = tracing::info_span!("outbox_delivery", event_id = %event.id, event_type = %event.event_type);
            let _guard = span.enter();
            let result = match client.as_mut() {
                Some(c) => c
                    .deliver(DeliverRequest {
                        event: Some(cloud_event(&event)),
                    })
                    .await
                    .map(|_| ()),
                None => match Endpoint::from_shared(settings.endpoint.clone()) {
                    Ok(endpoint) => match endpoint
                        .connect_timeout(Duration::from_secs(2))
                        .connect()
                        .await
                    {
                        Ok(channel) => {
                            let mut c = EventSinkServiceClient::new(channel);
                            let r = c
                                .deliver(DeliverRequest {
                                    event: Some(cloud_event(&event)),
                                })
                                .await
                                .map(|_| ());
                            client = Some(c);
                            r
                        }
                        Err(e) => Err(tonic::Status::unavailable(e.to_string())),
                    },
                    Err(e) => Err(tonic::Status::invalid_argument(e.to_string())),
                },
            };
            let now = OffsetDateTime::now_utc();
            match result {
                Ok(()) => {
                    crate::metrics::record_outbox_delivered();
                    if let Err(e) = store.mark_delivered(event.id, now).await {
                        tracing::warn!(error = %e, "marking an event delivered failed; it will be delivered again and deduplicated");
                    }
                }
                Err(status) => {
                    crate::metrics::record_outbox_delivery_failure();
                    if status.code() == tonic::Code::Unavailable {
                        client = None;
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
    }
}
