//! The gRPC surface: `kvp.topup.v1.EventSinkService`, delegating to
//! [`Topup::deliver`](crate::service::Topup::deliver). Errors become
//! `tonic::Status` in `error` (INVALID_ARGUMENT with `google.rpc.BadRequest`
//! field violations for a malformed event; UNAVAILABLE or INTERNAL, which the
//! sender retries, for a storage failure).

use kvp_proto::kvp::events::v1::CloudEvent;
use kvp_proto::kvp::events::v1::cloud_event_attribute_value::Attr;
use kvp_proto::kvp::topup::v1::event_sink_service_server::EventSinkService;
use kvp_proto::kvp::topup::v1::{DeliverRequest, DeliverResponse};
use tonic::{Request, Response, Status};
use tracing::Instrument as _;

use crate::error::ServiceError;
use crate::service::Topup;

/// The CloudEvents extension `traceparent`, if the event carries one as text.
fn traceparent(event: &CloudEvent) -> Option<&str> {
    match event
        .attributes
        .get(kvp_telemetry::TRACEPARENT)?
        .attr
        .as_ref()?
    {
        Attr::CeString(text) => Some(text),
        _ => None,
    }
}
use crate::store::Received;

/// The URI name of the payroll service's certificate: the one sender of events.
pub const PAYROLL_SERVICE_URI: &str = "urn:kvp:service:payroll";

/// The event sink.
#[derive(Clone)]
pub struct DeliverySink {
    topup: Topup,
    /// With TLS on, the client CA's revocation list in force.
    tls: Option<kvp_tls::Revocations>,
}

impl DeliverySink {
    /// The sink over the service's operations; with `tls`, only a client
    /// certificate naming [`PAYROLL_SERVICE_URI`], not revoked, may deliver.
    pub fn new(topup: Topup, tls: Option<kvp_tls::Revocations>) -> Self {
        Self { topup, tls }
    }

    /// Refuses a sender that is not the payroll service (with TLS on).
    fn admit<T>(&self, request: &Request<T>) -> Result<(), Status> {
        let Some(revocations) = &self.tls else {
            return Ok(());
        };
        let unauthenticated = |what| Status::from(ServiceError::Unauthenticated { what });
        let leaf = revocations
            .client_certificate(request)
            .map_err(unauthenticated)?;
        let uris = kvp_auth::certificate_uris(&leaf).map_err(unauthenticated)?;
        if uris.iter().any(|uri| uri == PAYROLL_SERVICE_URI) {
            Ok(())
        } else {
            Err(ServiceError::PermissionDenied {
                what: format!("only a certificate naming {PAYROLL_SERVICE_URI} delivers events"),
            }
            .into())
        }
    }
}

#[tonic::async_trait]
impl EventSinkService for DeliverySink {
    async fn deliver(
        &self,
        request: Request<DeliverRequest>,
    ) -> Result<Response<DeliverResponse>, Status> {
        self.admit(&request)?;
        let request = request.into_inner();
        let event = request.event.as_ref();
        let event_type = crate::metrics::event_type_label(event);
        let span = tracing::info_span!(
            "topup.deliver",
            event.source = event.map_or("", |e| e.source.as_str()),
            event.id = event.map_or("", |e| e.id.as_str()),
            event.kind = event.map_or("", |e| e.r#type.as_str()),
        );
        // The sender's trace: the request that wrote the event, through the relay.
        if let Some(traceparent) = event.and_then(traceparent) {
            kvp_telemetry::adopt_traceparent(&span, traceparent);
        }
        let received = self.topup.deliver(event).instrument(span).await;
        crate::metrics::record_delivery(event_type, &received);
        let received = received?;
        Ok(Response::new(DeliverResponse {
            duplicate: received == Received::Duplicate,
        }))
    }
}
