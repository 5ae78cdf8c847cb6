//! Domain events: built here in the same transaction as their state change (the
//! outbox), and turned into CloudEvents by the relay.

use kvp_proto::event_types;
use kvp_proto::kvp::events::v1 as ev;
use kvp_store::{NewOutboxEvent, OutboxEvent};
use prost::Message;
use time::OffsetDateTime;
use uuid::Uuid;

/// The CloudEvents `source` of a municipality's payroll.
pub fn source(municipality_id: &str) -> String {
    format!("/kvp/payroll/{municipality_id}")
}

/// The protobuf message name behind each event type.
fn message_name(event_type: &str) -> &'static str {
    match event_type {
        event_types::TIMESHEET_ACCEPTED => "kvp.events.v1.TimesheetAccepted",
        event_types::DEDUCTION_DECIDED => "kvp.events.v1.DeductionDecided",
        event_types::PERIOD_CLOSED => "kvp.events.v1.PeriodClosed",
        event_types::STIPEND_PAID => "kvp.events.v1.StipendPaid",
        event_types::STIPEND_PAYMENT_FAILED => "kvp.events.v1.StipendPaymentFailed",
        event_types::FACT_CORRECTED => "kvp.events.v1.FactCorrected",
        event_types::SANCTION_WARNED => "kvp.events.v1.SanctionWarned",
        event_types::SANCTION_APPEALED => "kvp.events.v1.SanctionAppealed",
        event_types::SANCTION_APPEAL_DECIDED => "kvp.events.v1.SanctionAppealDecided",
        _ => "",
    }
}

/// An outbox event carrying `message`.
pub fn outbox_event(
    event_type: &str,
    municipality_id: &str,
    subject: String,
    message: &impl Message,
    now: OffsetDateTime,
) -> NewOutboxEvent {
    NewOutboxEvent {
        id: Uuid::now_v7(),
        event_type: event_type.to_owned(),
        source: source(municipality_id),
        subject,
        payload: message.encode_to_vec(),
        created_at: now,
        // The request's trace, continued by the relay to the top-up service.
        traceparent: kvp_telemetry::current_traceparent(),
    }
}

/// The protobuf timestamp of an instant.
///
/// To the microsecond, as the store keeps instants: an answer made now and
/// the same answer read back later (a duplicate) give the same instant.
pub fn timestamp(at: OffsetDateTime) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.unix_timestamp(),
        nanos: i32::try_from(at.nanosecond() / 1_000 * 1_000).unwrap_or_default(),
    }
}

/// The CloudEvent the relay delivers for an outbox row: the payload packed as
/// `proto_data` (an `Any`), with `time` and `subject` attributes.
pub fn cloud_event(event: &OutboxEvent) -> ev::CloudEvent {
    use ev::cloud_event_attribute_value::Attr;
    let attribute = |attr| ev::CloudEventAttributeValue { attr: Some(attr) };
    let mut attributes = std::collections::HashMap::new();
    attributes.insert(
        "time".to_owned(),
        attribute(Attr::CeTimestamp(timestamp(event.created_at))),
    );
    attributes.insert(
        "subject".to_owned(),
        attribute(Attr::CeString(event.subject.clone())),
    );
    attributes.insert(
        "datacontenttype".to_owned(),
        attribute(Attr::CeString("application/protobuf".to_owned())),
    );
    // The delivery's own span (a child of the request that wrote the event)
    // when traced; else the writer's trace as stored.
    if let Some(traceparent) = kvp_telemetry::current_traceparent().or(event.traceparent.clone()) {
        attributes.insert(
            kvp_telemetry::TRACEPARENT.to_owned(),
            attribute(Attr::CeString(traceparent)),
        );
    }
    ev::CloudEvent {
        id: event.id.to_string(),
        source: event.source.clone(),
        spec_version: "1.0".to_owned(),
        r#type: event.event_type.clone(),
        attributes,
        data: Some(ev::cloud_event::Data::ProtoData(prost_types::Any {
            type_url: format!("type.googleapis.com/{}", message_name(&event.event_type)),
            value: event.payload.clone(),
        })),
    }
}
