//! A client of the payroll service's gRPC contract (`kvp.payroll.v1`), for
//! timesheet clients and payroll systems written in Rust: a timesheet body is
//! encoded, signed as a DSSE envelope (Ed25519, the payload type the service
//! verifies) by the participant and the supervisor, and made the request
//! `SubmitTimesheet` takes.

use kvp_proto::kvp::payroll::v1 as pb;
use kvp_signing::{SigningKey, TIMESHEET_PAYLOAD_TYPE};
use prost::Message as _;

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
}
