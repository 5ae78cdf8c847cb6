//! A timesheet as the service takes it: a `TimesheetBody`, built from typed
//! values, encoded and signed as a DSSE envelope.

use kvp_proto::kvp::payroll::v1 as pb;
use kvp_signing::{SigningKey, TIMESHEET_PAYLOAD_TYPE};
use prost::Message as _;
use rust_decimal::Decimal;
use time::{Date, Month, OffsetDateTime};

/// A timesheet body under construction: one participant, one period (a
/// calendar month, or part of one for a programme that begins or ends in it),
/// a day entry per day that was not an ordinary day of attendance.
///
/// The builder writes dates as `YYYY-MM-DD` and hours as the decimal given
/// (at most two decimals are meaningful to the service); what the service
/// checks (entries inside the period, a day at most once, hours within a day)
/// it answers with INVALID_ARGUMENT and field violations, so the builder does
/// not repeat those rules.
#[derive(Debug, Clone, PartialEq)]
pub struct Timesheet {
    body: pb::TimesheetBody,
}

impl Timesheet {
    /// A timesheet of `participant_id` (the service's participant id) in
    /// `municipality_id` for the days `from` to `to`, both included.
    pub fn new(
        participant_id: impl Into<String>,
        municipality_id: impl Into<String>,
        from: Date,
        to: Date,
    ) -> Self {
        Self {
            body: pb::TimesheetBody {
                participant_id: participant_id.into(),
                municipality_id: municipality_id.into(),
                period: Some(pb::DateRange {
                    from_date: from.to_string(),
                    to_date: to.to_string(),
                }),
                ..Default::default()
            },
        }
    }

    /// A timesheet of a whole calendar month.
    pub fn for_month(
        participant_id: impl Into<String>,
        municipality_id: impl Into<String>,
        year: i32,
        month: Month,
    ) -> Self {
        let first = Date::from_calendar_date(year, month, 1).unwrap_or(Date::MIN);
        let last = Date::from_calendar_date(year, month, month.length(year)).unwrap_or(Date::MIN);
        Self::new(participant_id, municipality_id, first, last)
    }

    /// The client's own reference (shown to caseworkers, never an
    /// idempotency key: the service keys on the payload's digest).
    #[must_use]
    pub fn client_reference(mut self, reference: impl Into<String>) -> Self {
        self.body.client_reference = reference.into();
        self
    }

    /// Makes this timesheet a correction of an accepted one (its id).
    #[must_use]
    pub fn supersedes(mut self, timesheet_id: impl Into<String>) -> Self {
        self.body.supersedes_timesheet_id = timesheet_id.into();
        self
    }

    /// When the participant and supervisor signed it.
    #[must_use]
    pub fn issued_at(mut self, at: OffsetDateTime) -> Self {
        self.body.issued_at = Some(prost_types::Timestamp {
            seconds: at.unix_timestamp(),
            nanos: i32::try_from(at.nanosecond()).unwrap_or(0),
        });
        self
    }

    /// A day of `kind` with `hours` (the hours of paid work, unexcused
    /// absence or leave that count; a whole day of sickness is the day's
    /// hours).
    #[must_use]
    pub fn day(self, date: Date, kind: pb::DayKind, hours: Decimal) -> Self {
        self.day_with_note(date, kind, hours, "")
    }

    /// A day with a note for the caseworker.
    #[must_use]
    pub fn day_with_note(
        mut self,
        date: Date,
        kind: pb::DayKind,
        hours: Decimal,
        note: impl Into<String>,
    ) -> Self {
        self.body.entries.push(pb::DayEntry {
            date: date.to_string(),
            kind: kind as i32,
            hours: hours.normalize().to_string(),
            note: note.into(),
        });
        self
    }

    /// The body as built.
    pub fn body(&self) -> &pb::TimesheetBody {
        &self.body
    }

    /// The body, to sign or change by hand.
    pub fn into_body(self) -> pb::TimesheetBody {
        self.body
    }

    /// The `SubmitTimesheet` request, signed by each `(keyid, key)`.
    pub fn sign(&self, signers: &[(&str, &SigningKey)]) -> pb::SubmitTimesheetRequest {
        signed_timesheet(&self.body, signers)
    }
}

/// The `SubmitTimesheet` request for `body`, signed by each `(keyid, key)`
/// (the participant's and the supervisor's registered keys).
pub fn signed_timesheet(
    body: &pb::TimesheetBody,
    signers: &[(&str, &SigningKey)],
) -> pb::SubmitTimesheetRequest {
    signed_payload(body.encode_to_vec(), signers)
}

/// The `SubmitTimesheet` request carrying `payload` as it is, signed by each
/// `(keyid, key)`: for payloads that are not a well-formed body (tests of the
/// service's refusals).
pub fn signed_payload(
    payload: Vec<u8>,
    signers: &[(&str, &SigningKey)],
) -> pb::SubmitTimesheetRequest {
    let envelope = kvp_signing::sign(TIMESHEET_PAYLOAD_TYPE, payload, signers);
    pb::SubmitTimesheetRequest {
        envelope: Some(pb::Envelope {
            payload: envelope.payload,
            payload_type: envelope.payload_type,
            signatures: envelope
                .signatures
                .into_iter()
                .map(|s| pb::Signature {
                    sig: s.sig,
                    keyid: s.keyid,
                })
                .collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

    use super::*;

    #[test]
    fn the_envelope_carries_the_encoded_body_and_a_signature_per_signer() {
        let body = pb::TimesheetBody {
            participant_id: "p-1".into(),
            municipality_id: "0301".into(),
            client_reference: "ref".into(),
            ..Default::default()
        };
        let participant = SigningKey::from_bytes(&[1; 32]);
        let supervisor = SigningKey::from_bytes(&[2; 32]);
        let request = signed_timesheet(&body, &[("p-key", &participant), ("s-key", &supervisor)]);
        let envelope = request.envelope.unwrap();
        assert_eq!(envelope.payload_type, TIMESHEET_PAYLOAD_TYPE);
        assert_eq!(
            pb::TimesheetBody::decode(envelope.payload.as_slice()).unwrap(),
            body
        );
        let keyids: Vec<_> = envelope
            .signatures
            .iter()
            .map(|s| s.keyid.as_str())
            .collect();
        assert_eq!(keyids, ["p-key", "s-key"]);
        // Each signature verifies over the DSSE pre-authentication encoding.
        let pae = kvp_signing::pae(&envelope.payload_type, &envelope.payload);
        for (signature, key) in envelope.signatures.iter().zip([&participant, &supervisor]) {
            let signature = ed25519_dalek::Signature::from_slice(&signature.sig).unwrap();
            key.verifying_key().verify_strict(&pae, &signature).unwrap();
        }
    }

    #[test]
    fn the_builder_writes_dates_and_hours_as_the_contract_spells_them() {
        let date = |d| Date::from_calendar_date(2026, Month::February, d).unwrap();
        let timesheet = Timesheet::for_month("p-1", "0301", 2026, Month::February)
            .client_reference("ref-1")
            .supersedes("t-0")
            .day(date(3), pb::DayKind::SickSelf, Decimal::new(750, 2))
            .day_with_note(date(4), pb::DayKind::Unexcused, Decimal::new(25, 1), "late");
        let body = timesheet.body();
        assert_eq!(
            body.period,
            Some(pb::DateRange {
                from_date: "2026-02-01".into(),
                to_date: "2026-02-28".into(),
            })
        );
        assert_eq!(
            (
                body.client_reference.as_str(),
                body.supersedes_timesheet_id.as_str()
            ),
            ("ref-1", "t-0")
        );
        let entries: Vec<_> = body
            .entries
            .iter()
            .map(|e| (e.date.as_str(), e.kind, e.hours.as_str(), e.note.as_str()))
            .collect();
        assert_eq!(
            entries,
            [
                ("2026-02-03", pb::DayKind::SickSelf as i32, "7.5", ""),
                ("2026-02-04", pb::DayKind::Unexcused as i32, "2.5", "late"),
            ]
        );
        let key = SigningKey::from_bytes(&[3; 32]);
        let request = timesheet.sign(&[("k", &key)]);
        assert_eq!(
            pb::TimesheetBody::decode(request.envelope.unwrap().payload.as_slice()).unwrap(),
            *body
        );
    }
}
