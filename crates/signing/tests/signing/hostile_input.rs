//! Hostile input, always run (the proptest side of `crates/signing/fuzz`):
//! whatever bytes arrive as a DSSE JSON envelope, decoding answers a typed
//! error or an envelope that re-encodes to itself, and verification answers a
//! typed error and never panics; damaged genuine envelopes are never accepted.

use proptest::prelude::*;

use super::{RECEIVED, registry, timesheet, verify_timesheet};
use kvp_signing::{Envelope, ErrorClass, Signature, VerifyError};

/// Cases per property: enough to walk the decoder's branches on every CI run,
/// few enough to stay well under a second each.
const CASES: u32 = 256;

/// Text that looks like base64 often enough to reach the byte decoding.
fn base64ish() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9+/=_-]{0,100}",
        Just(String::new()),
        any::<String>(),
        // A genuine signature's length, in both alphabets, and broken padding.
        "[A-Za-z0-9+/]{86}==",
        "[A-Za-z0-9_-]{86}",
        "[A-Za-z0-9+/]{85}=",
    ]
}

fn keyid() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("p-1".to_owned()),
        Just("s-1".to_owned()),
        Just("c-1".to_owned()),
        Just(String::new()),
        any::<String>(),
    ]
}

/// A JSON string literal of `text` (escaped by serde_json).
fn quoted(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// Envelope-shaped JSON with hostile field values, fields left out and
/// unknown fields added.
fn envelope_json() -> impl Strategy<Value = String> {
    let signature = (keyid(), base64ish(), any::<bool>(), any::<bool>()).prop_map(
        |(keyid, sig, with_keyid, extra)| {
            let mut fields = vec![format!("\"sig\":{}", quoted(&sig))];
            if with_keyid {
                fields.push(format!("\"keyid\":{}", quoted(&keyid)));
            }
            if extra {
                fields.push("\"cert\":null".to_owned());
            }
            format!("{{{}}}", fields.join(","))
        },
    );
    (
        base64ish(),
        prop_oneof![
            Just(kvp_signing::TIMESHEET_PAYLOAD_TYPE.to_owned()),
            any::<String>()
        ],
        prop::collection::vec(signature, 0..5),
        any::<u8>(),
    )
        .prop_map(|(payload, payload_type, signatures, shape)| {
            let mut fields = Vec::new();
            if shape & 1 == 0 {
                fields.push(format!("\"payload\":{}", quoted(&payload)));
            }
            if shape & 2 == 0 {
                fields.push(format!("\"payloadType\":{}", quoted(&payload_type)));
            }
            if shape & 4 == 0 {
                fields.push(format!("\"signatures\":[{}]", signatures.join(",")));
            }
            if shape & 8 != 0 {
                fields.push("\"payload\":\"AA==\"".to_owned());
            }
            if shape & 16 != 0 {
                fields.push("\"unknown\":{\"deep\":[1,2,{}]}".to_owned());
            }
            format!("{{{}}}", fields.join(","))
        })
}

/// Decodes, checks the round trip, and verifies: the whole path a submitted
/// JSON envelope takes. Panics only on a broken invariant.
fn decode_and_verify(bytes: &[u8]) -> Option<Result<(), VerifyError>> {
    let envelope: Envelope = serde_json::from_slice(bytes).ok()?;
    let encoded = serde_json::to_vec(&envelope).unwrap();
    let decoded: Envelope = serde_json::from_slice(&encoded).unwrap();
    assert_eq!(decoded, envelope, "a decoded envelope re-encodes to itself");
    Some(verify_timesheet(&envelope, &registry(), RECEIVED).map(|_| ()))
}

/// One way of damaging a genuine envelope.
#[derive(Debug, Clone)]
enum Damage {
    FlipPayloadBit(usize),
    AppendToPayload(u8),
    ChangeType(String),
    RenameKey(usize, String),
    FlipSignatureBit(usize, usize),
    TruncateSignature(usize, usize),
    Duplicate(usize),
    Remove(usize),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        any::<usize>().prop_map(Damage::FlipPayloadBit),
        any::<u8>().prop_map(Damage::AppendToPayload),
        any::<String>().prop_map(Damage::ChangeType),
        (any::<usize>(), keyid()).prop_map(|(i, k)| Damage::RenameKey(i, k)),
        (any::<usize>(), any::<usize>()).prop_map(|(i, b)| Damage::FlipSignatureBit(i, b)),
        (any::<usize>(), 0usize..64).prop_map(|(i, n)| Damage::TruncateSignature(i, n)),
        any::<usize>().prop_map(Damage::Duplicate),
        any::<usize>().prop_map(Damage::Remove),
    ]
}

fn apply(envelope: &mut Envelope, damage: &Damage) {
    let signatures = &mut envelope.signatures;
    let count = signatures.len();
    match damage {
        Damage::FlipPayloadBit(bit) if !envelope.payload.is_empty() => {
            let len = envelope.payload.len();
            envelope.payload[(bit / 8) % len] ^= 1 << (bit % 8);
        }
        Damage::AppendToPayload(byte) => envelope.payload.push(*byte),
        Damage::ChangeType(payload_type) => envelope.payload_type.clone_from(payload_type),
        Damage::RenameKey(i, keyid) if count > 0 => signatures[i % count].keyid.clone_from(keyid),
        Damage::FlipSignatureBit(i, bit) if count > 0 && !signatures[i % count].sig.is_empty() => {
            let sig = &mut signatures[i % count].sig;
            let len = sig.len();
            sig[(bit / 8) % len] ^= 1 << (bit % 8);
        }
        Damage::TruncateSignature(i, len) if count > 0 => signatures[i % count].sig.truncate(*len),
        Damage::Duplicate(i) if count > 0 => {
            let copy: Signature = signatures[i % count].clone();
            signatures.push(copy);
        }
        Damage::Remove(i) if count > 0 => {
            signatures.remove(i % count);
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn any_bytes_as_an_envelope_decode_or_fail_with_a_typed_error(
        bytes in prop::collection::vec(any::<u8>(), 0..512)
    ) {
        if let Some(Err(error)) = decode_and_verify(&bytes) {
            // Every refusal has a status class for the gRPC and REST layers.
            let _: ErrorClass = error.class();
        }
    }

    #[test]
    fn any_envelope_shaped_json_decodes_or_fails_and_never_verifies(json in envelope_json()) {
        // No signature generated here is genuine, so nothing may verify.
        if let Some(outcome) = decode_and_verify(json.as_bytes()) {
            prop_assert!(outcome.is_err(), "{json}");
        }
    }

    #[test]
    fn a_damaged_genuine_envelope_is_never_accepted(
        damages in prop::collection::vec(damage(), 1..4)
    ) {
        let genuine = timesheet();
        let mut envelope = genuine.clone();
        for damage in &damages {
            apply(&mut envelope, damage);
        }
        let outcome = verify_timesheet(&envelope, &registry(), RECEIVED);
        // Duplicating a genuine signature (or renaming a key to its own id)
        // changes nothing that is signed: accepted exactly as the original.
        let unchanged = envelope.payload == genuine.payload
            && envelope.payload_type == genuine.payload_type
            && envelope.signatures.iter().all(|s| genuine.signatures.contains(s))
            && genuine.signatures.iter().all(|s| envelope.signatures.contains(s));
        prop_assert_eq!(outcome.is_ok(), unchanged, "{:?}", damages);
    }
}
