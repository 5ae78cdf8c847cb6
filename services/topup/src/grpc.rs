//! The gRPC surface: `kvp.topup.v1.EventSinkService`, delegating to
//! [`Topup::deliver`](crate::service::Topup::deliver). Errors become
//! `tonic::Status` in `error` (INVALID_ARGUMENT with `google.rpc.BadRequest`
//! field violations for a malformed event; UNAVAILABLE or INTERNAL, which the
//! sender retries, for a storage failure).

use kvp_proto::kvp::topup::v1::event_sink_service_server::EventSinkService;
use kvp_proto::kvp::topup::v1::{DeliverRequest, DeliverResponse};
use tonic::{Request, Response, Status};

use crate::service::Topup;
use crate::store::Received;

/// The event sink.
#[derive(Clone)]
pub struct DeliverySink {
    topup: Topup,
}

impl DeliverySink {
    /// The sink over the service's operations.
    pub fn new(topup: Topup) -> Self {
        Self { topup }
    }
}

#[tonic::async_trait]
impl EventSinkService for DeliverySink {
    async fn deliver(
        &self,
        request: Request<DeliverRequest>,
    ) -> Result<Response<DeliverResponse>, Status> {
        let request = request.into_inner();
        let event_type = crate::metrics::event_type_label(request.event.as_ref());
        let received = self.topup.deliver(request.event.as_ref()).await;
        crate::metrics::record_delivery(event_type, &received);
        let received = received?;
        Ok(Response::new(DeliverResponse {
            duplicate: received == Received::Duplicate,
        }))
    }
}
