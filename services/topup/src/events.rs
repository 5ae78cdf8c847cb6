//! Incoming CloudEvents: the envelope checks and the payloads this service
//! consumes, turned into store records or field violations.
//!
//! The envelope must carry `id`, `source`, `spec_version` "1.0" and `type`.
//! Of the payroll service's event types two have an effect here, the
//! outcomes of a payslip:
//! [`STIPEND_PAID`](kvp_proto::event_types::STIPEND_PAID) and
//! [`STIPEND_PAYMENT_FAILED`](kvp_proto::event_types::STIPEND_PAYMENT_FAILED);
//! their payloads are checked field by field, since a malformed one must be
//! refused before anything is stored. Every other type, known or not, is
//! stored as received and acknowledged (forward compatibility), its payload
//! unread.

use kvp_proto::event_types;
use kvp_proto::kvp::events::v1::cloud_event::Data;
use kvp_proto::kvp::events::v1::cloud_event_attribute_value::Attr;
use kvp_proto::kvp::events::v1::{AttributedAmount, CloudEvent, StipendPaid, StipendPaymentFailed};
use prost::Message;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::FieldViolation;
use crate::household::parse_date;
use crate::money::Kroner;
use crate::month::Month;
use crate::store::{AttributedGross, InboxEvent, PaymentOutcome, StipendPayment};

/// The CloudEvents specification version accepted.
pub const SPEC_VERSION: &str = "1.0";

/// The longest `id` or `source` accepted (both are keys of the inbox).
pub const MAX_KEY_LEN: usize = 512;

/// The type URL suffix of a packed [`StipendPaid`].
const STIPEND_PAID_MESSAGE: &str = "kvp.events.v1.StipendPaid";

/// The type URL suffix of a packed [`StipendPaymentFailed`].
const STIPEND_PAYMENT_FAILED_MESSAGE: &str = "kvp.events.v1.StipendPaymentFailed";

/// A checked event, ready to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    /// The inbox entry.
    pub inbox: InboxEvent,
    /// The payslip's outcome it carries, for a StipendPaid or
    /// StipendPaymentFailed event.
    pub payment: Option<StipendPayment>,
}

/// Checks a delivered event; every fault found is named, with its path from
/// the request (`event.id`, `event.proto_data.net_paid`, …).
pub fn check(
    event: Option<&CloudEvent>,
    received_at: OffsetDateTime,
) -> Result<Incoming, Vec<FieldViolation>> {
    let Some(event) = event else {
        return Err(vec![FieldViolation::new("event", "is required")]);
    };
    let mut violations = Vec::new();
    for (field, value) in [
        ("event.id", &event.id),
        ("event.source", &event.source),
        ("event.type", &event.r#type),
    ] {
        if value.is_empty() {
            violations.push(FieldViolation::new(field, "is required"));
        } else if value.len() > MAX_KEY_LEN {
            violations.push(FieldViolation::new(
                field,
                format!("is longer than {MAX_KEY_LEN} bytes"),
            ));
        } else if let Some(violation) = kvp_problem::text_violation(field, value, MAX_KEY_LEN) {
            violations.push(violation);
        }
    }
    let subject = match event
        .attributes
        .get("subject")
        .and_then(|v| v.attr.as_ref())
    {
        Some(Attr::CeString(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    };
    if let Some(violation) = subject
        .as_deref()
        .and_then(|s| kvp_problem::text_violation("event.subject", s, MAX_KEY_LEN))
    {
        violations.push(violation);
    }
    if event.spec_version != SPEC_VERSION {
        violations.push(FieldViolation::new(
            "event.spec_version",
            format!("must be \"{SPEC_VERSION}\""),
        ));
    }

    let payment = match event.r#type.as_str() {
        event_types::STIPEND_PAID => {
            unpack::<StipendPaid>(event, STIPEND_PAID_MESSAGE, &mut violations).and_then(|paid| {
                payment(
                    Published {
                        participant_id: paid.participant_id,
                        municipality_id: paid.municipality_id,
                        month: paid.month,
                        run_id: paid.run_id,
                        outcome: PaymentOutcome::Paid,
                        gross: paid.gross,
                        tax_withheld: paid.tax_withheld,
                        net_paid: paid.net_paid,
                        payment_date: paid.payment_date,
                        attributed: paid.attributed,
                    },
                    &mut violations,
                )
            })
        }
        event_types::STIPEND_PAYMENT_FAILED => {
            unpack::<StipendPaymentFailed>(event, STIPEND_PAYMENT_FAILED_MESSAGE, &mut violations)
                .and_then(|failed| {
                    payment(
                        Published {
                            participant_id: failed.participant_id,
                            municipality_id: failed.municipality_id,
                            month: failed.month,
                            run_id: failed.run_id,
                            outcome: PaymentOutcome::Failed,
                            gross: failed.gross,
                            // Nothing reached the participant.
                            tax_withheld: "0.00".into(),
                            net_paid: "0.00".into(),
                            payment_date: failed.payment_date,
                            attributed: failed.attributed,
                        },
                        &mut violations,
                    )
                })
        }
        _ => None,
    };
    if !violations.is_empty() {
        return Err(violations);
    }
    Ok(Incoming {
        inbox: InboxEvent {
            source: event.source.clone(),
            id: event.id.clone(),
            event_type: event.r#type.clone(),
            spec_version: event.spec_version.clone(),
            subject,
            envelope: event.encode_to_vec(),
            received_at,
        },
        payment,
    })
}

/// The message packed in the event's `proto_data` as `name`, or the fault in
/// `violations`.
fn unpack<M: Message + Default>(
    event: &CloudEvent,
    name: &str,
    violations: &mut Vec<FieldViolation>,
) -> Option<M> {
    let any = match &event.data {
        Some(Data::ProtoData(any)) => any,
        _ => {
            violations.push(FieldViolation::new(
                "event.proto_data",
                format!("must hold a packed {name}"),
            ));
            return None;
        }
    };
    let named = any
        .type_url
        .rsplit_once('/')
        .is_some_and(|(_, packed)| packed == name);
    if !named {
        violations.push(FieldViolation::new(
            "event.proto_data.type_url",
            format!("must name {name}"),
        ));
        return None;
    }
    let Ok(message) = M::decode(any.value.as_slice()) else {
        violations.push(FieldViolation::new(
            "event.proto_data.value",
            format!("is not a {name}"),
        ));
        return None;
    };
    Some(message)
}

/// The fields both payment events carry, as published.
struct Published {
    participant_id: String,
    municipality_id: String,
    month: String,
    run_id: String,
    outcome: PaymentOutcome,
    gross: String,
    tax_withheld: String,
    net_paid: String,
    payment_date: String,
    attributed: Vec<AttributedAmount>,
}

/// The payment an event carries, or its faults in `violations`.
fn payment(paid: Published, violations: &mut Vec<FieldViolation>) -> Option<StipendPayment> {
    let before = violations.len();
    let mut at = |field: &str, description: String| {
        violations.push(FieldViolation::new(
            format!("event.proto_data.{field}"),
            description,
        ));
    };
    let uuid = |field: &str, text: &str, at: &mut dyn FnMut(&str, String)| {
        let parsed = Uuid::parse_str(text).ok();
        if parsed.is_none() {
            at(field, "is not a UUID".into());
        }
        parsed
    };
    let amount = |field: &str, text: &str, at: &mut dyn FnMut(&str, String)| {
        let parsed = Kroner::parse_non_negative(text);
        match parsed {
            Ok(amount) => Some(amount),
            Err(e) => {
                at(field, e.to_string());
                None
            }
        }
    };

    let participant_id = uuid("participant_id", &paid.participant_id, &mut at);
    let run_id = uuid("run_id", &paid.run_id, &mut at);
    // The municipality decides who may see the payment's proposal.
    if paid.municipality_id.len() != 4 || !paid.municipality_id.bytes().all(|b| b.is_ascii_digit())
    {
        at(
            "municipality_id",
            "must be a four-digit municipality number".into(),
        );
    }
    let month = paid.month.parse::<Month>().ok();
    if month.is_none() {
        at("month", "is not a month \"YYYY-MM\"".into());
    }
    let gross = amount("gross", &paid.gross, &mut at);
    let tax_withheld = amount("tax_withheld", &paid.tax_withheld, &mut at);
    let net_paid = amount("net_paid", &paid.net_paid, &mut at);
    let payment_date = if paid.payment_date.is_empty() {
        None
    } else {
        let date = parse_date(&paid.payment_date);
        if date.is_none() {
            at("payment_date", "is not a date \"YYYY-MM-DD\"".into());
        }
        date
    };
    let mut attributed = Vec::with_capacity(paid.attributed.len());
    for (i, part) in paid.attributed.iter().enumerate() {
        let month = part.month.parse::<Month>().ok();
        if month.is_none() {
            at(
                &format!("attributed[{i}].month"),
                "is not a month \"YYYY-MM\"".into(),
            );
        }
        let gross = part
            .gross
            .parse::<rust_decimal::Decimal>()
            .ok()
            .filter(|g| g.scale() <= 2);
        if gross.is_none() {
            at(
                &format!("attributed[{i}].gross"),
                "is not an amount with at most two decimals".into(),
            );
        }
        if let (Some(month), Some(gross)) = (month, gross) {
            attributed.push(AttributedGross { month, gross });
        }
    }

    if violations.len() > before {
        return None;
    }
    let month = month?;
    Some(StipendPayment {
        participant_id: participant_id?,
        municipality_id: paid.municipality_id,
        month,
        run_id: run_id?,
        outcome: paid.outcome,
        gross: gross?,
        tax_withheld: tax_withheld?,
        net_paid: net_paid?,
        payment_date,
        // Income counts when it can be used: in the month it is paid.
        income_month: payment_date.and_then(Month::containing).unwrap_or(month),
        attributed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost_types::Any;

    fn stipend_event(paid: &StipendPaid) -> CloudEvent {
        CloudEvent {
            id: "e1".into(),
            source: "/kvp/payroll/0301".into(),
            spec_version: "1.0".into(),
            r#type: event_types::STIPEND_PAID.into(),
            attributes: Default::default(),
            data: Some(Data::ProtoData(Any {
                type_url: format!("type.googleapis.com/{STIPEND_PAID_MESSAGE}"),
                value: paid.encode_to_vec(),
            })),
        }
    }

    fn paid() -> StipendPaid {
        StipendPaid {
            participant_id: Uuid::nil().to_string(),
            municipality_id: "0301".into(),
            month: "2024-03".into(),
            gross: "17000.00".into(),
            tax_withheld: "3000.00".into(),
            net_paid: "14000.00".into(),
            run_id: Uuid::max().to_string(),
            payment_date: "2024-04-12".into(),
            confirmed_at: None,
            attributed: vec![
                AttributedAmount {
                    month: "2024-02".into(),
                    gross: "-500.00".into(),
                },
                AttributedAmount {
                    month: "2024-03".into(),
                    gross: "17500.00".into(),
                },
            ],
        }
    }

    #[test]
    fn a_well_formed_stipend_paid_becomes_a_payment() {
        let incoming = check(Some(&stipend_event(&paid())), OffsetDateTime::UNIX_EPOCH).unwrap();
        let payment = incoming.payment.unwrap();
        assert_eq!(payment.net_paid.to_string(), "14000.00");
        assert_eq!(payment.month.to_string(), "2024-03");
        assert_eq!(payment.outcome, PaymentOutcome::Paid);
        // Paid on 12 April: April's income.
        assert_eq!(payment.income_month.to_string(), "2024-04");
        let attributed: Vec<String> = payment
            .attributed
            .iter()
            .map(|a| format!("{} {}", a.month, a.gross))
            .collect();
        assert_eq!(attributed, ["2024-02 -500.00", "2024-03 17500.00"]);
        assert_eq!(incoming.inbox.source, "/kvp/payroll/0301");
    }

    #[test]
    fn a_failed_payment_is_a_payment_of_nothing_in_the_month_it_was_due() {
        let failed = StipendPaymentFailed {
            participant_id: Uuid::nil().to_string(),
            municipality_id: "0301".into(),
            month: "2024-03".into(),
            gross: "17000.00".into(),
            run_id: Uuid::max().to_string(),
            payment_date: "2024-04-01".into(),
            confirmed_at: None,
            attributed: Vec::new(),
        };
        let mut event = stipend_event(&paid());
        event.r#type = event_types::STIPEND_PAYMENT_FAILED.into();
        event.data = Some(Data::ProtoData(Any {
            type_url: format!("type.googleapis.com/{STIPEND_PAYMENT_FAILED_MESSAGE}"),
            value: failed.encode_to_vec(),
        }));
        let payment = check(Some(&event), OffsetDateTime::UNIX_EPOCH)
            .unwrap()
            .payment
            .unwrap();
        assert_eq!(payment.outcome, PaymentOutcome::Failed);
        assert_eq!(
            (payment.gross.to_string(), payment.net_paid.to_string()),
            ("17000.00".into(), "0.00".into())
        );
        assert_eq!(payment.income_month.to_string(), "2024-04");

        // A StipendPaid packed under the failure's type is refused.
        let mut mislabelled = stipend_event(&paid());
        mislabelled.r#type = event_types::STIPEND_PAYMENT_FAILED.into();
        let fields: Vec<String> = check(Some(&mislabelled), OffsetDateTime::UNIX_EPOCH)
            .unwrap_err()
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(fields, ["event.proto_data.type_url"]);
    }

    #[test]
    fn every_malformed_payload_field_is_named() {
        let mut bad = paid();
        bad.participant_id = "P-1".into();
        bad.month = "2024-3".into();
        bad.net_paid = "fourteen thousand".into();
        bad.attributed[1].gross = "17500.005".into();
        let fields: Vec<String> = check(Some(&stipend_event(&bad)), OffsetDateTime::UNIX_EPOCH)
            .unwrap_err()
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(
            fields,
            [
                "event.proto_data.participant_id",
                "event.proto_data.month",
                "event.proto_data.net_paid",
                "event.proto_data.attributed[1].gross"
            ]
        );
    }

    #[test]
    fn envelope_faults_are_named_and_unknown_types_pass_unread() {
        let mut event = stipend_event(&paid());
        event.id.clear();
        event.spec_version = "0.3".into();
        let fields: Vec<String> = check(Some(&event), OffsetDateTime::UNIX_EPOCH)
            .unwrap_err()
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(fields, ["event.id", "event.spec_version"]);

        let mut future = stipend_event(&paid());
        future.r#type = "no.kvp.payroll.something.new.v1".into();
        future.data = Some(Data::BinaryData(vec![1, 2, 3]));
        let incoming = check(Some(&future), OffsetDateTime::UNIX_EPOCH).unwrap();
        assert!(incoming.payment.is_none());
    }
}
