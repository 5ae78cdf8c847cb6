//! Envelopes built from genuine signatures and then damaged in fuzzer-chosen
//! ways (payload, type, keyids, signature bytes, order, duplicates, the
//! instant): verification never panics, and it accepts only envelopes whose
//! every signature is an undamaged one over the payload and type as signed.

#![no_main]

use std::sync::LazyLock;

use arbitrary::Arbitrary;
use kvp_signing::{
    Envelope, KeyRing, RegisteredKey, Requirement, Role, Signature, SigningKey,
    TIMESHEET_PAYLOAD_TYPE, verify,
};
use libfuzzer_sys::fuzz_target;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const PARTICIPANT: [u8; 32] = [1; 32];
const SUPERVISOR: [u8; 32] = [2; 32];
const PROVIDER: [u8; 32] = [3; 32];

static KEYS: LazyLock<KeyRing> = LazyLock::new(|| {
    let since = datetime!(2024-01-01 00:00 UTC);
    [
        RegisteredKey::new(
            "p",
            "participant-1",
            Role::Participant,
            SigningKey::from_bytes(&PARTICIPANT).verifying_key(),
            since,
        ),
        RegisteredKey::new(
            "s",
            "caseworker-1",
            Role::Supervisor,
            SigningKey::from_bytes(&SUPERVISOR).verifying_key(),
            since,
        )
        .valid_until(datetime!(2026-01-01 00:00 UTC)),
        RegisteredKey::new(
            "v",
            "provider-1",
            Role::Provider,
            SigningKey::from_bytes(&PROVIDER).verifying_key(),
            since,
        )
        .revoked_at(datetime!(2025-01-01 00:00 UTC)),
    ]
    .into_iter()
    .collect()
});

#[derive(Debug, Arbitrary)]
struct Input {
    payload: Vec<u8>,
    /// Sign with these keys (0 participant, 1 supervisor, 2 provider, other: none).
    signers: Vec<u8>,
    damage: Vec<Damage>,
    /// Seconds from 2023-06-01, the verification instant.
    at_offset: u32,
}

#[derive(Debug, Arbitrary)]
enum Damage {
    FlipPayloadBit(u16),
    AppendToPayload(u8),
    ChangeType(String),
    RenameKey(u8, String),
    FlipSignatureBit(u8, u16),
    TruncateSignature(u8, u8),
    Duplicate(u8),
    Remove(u8),
    Swap(u8, u8),
}

fn key(index: u8) -> Option<(&'static str, SigningKey)> {
    match index % 4 {
        0 => Some(("p", SigningKey::from_bytes(&PARTICIPANT))),
        1 => Some(("s", SigningKey::from_bytes(&SUPERVISOR))),
        2 => Some(("v", SigningKey::from_bytes(&PROVIDER))),
        _ => None,
    }
}

fn pick(len: usize, index: u8) -> Option<usize> {
    (len > 0).then(|| usize::from(index) % len)
}

fuzz_target!(|input: Input| {
    let mut envelope = Envelope::new(TIMESHEET_PAYLOAD_TYPE, input.payload);
    for signer in input.signers.iter().take(8) {
        if let Some((keyid, key)) = key(*signer) {
            envelope.add_signature(keyid, &key);
        }
    }
    let genuine = envelope.clone();
    for damage in input.damage.into_iter().take(8) {
        let signatures = &mut envelope.signatures;
        match damage {
            Damage::FlipPayloadBit(bit) => {
                if let Some(i) = (!envelope.payload.is_empty())
                    .then(|| usize::from(bit / 8) % envelope.payload.len())
                {
                    envelope.payload[i] ^= 1 << (bit % 8);
                }
            }
            Damage::AppendToPayload(byte) => envelope.payload.push(byte),
            Damage::ChangeType(payload_type) => envelope.payload_type = payload_type,
            Damage::RenameKey(i, keyid) => {
                if let Some(i) = pick(signatures.len(), i) {
                    signatures[i].keyid = keyid;
                }
            }
            Damage::FlipSignatureBit(i, bit) => {
                if let Some(i) = pick(signatures.len(), i) {
                    let sig = &mut signatures[i].sig;
                    if !sig.is_empty() {
                        let at = usize::from(bit / 8) % sig.len();
                        sig[at] ^= 1 << (bit % 8);
                    }
                }
            }
            Damage::TruncateSignature(i, len) => {
                if let Some(i) = pick(signatures.len(), i) {
                    signatures[i].sig.truncate(usize::from(len));
                }
            }
            Damage::Duplicate(i) => {
                if let Some(i) = pick(signatures.len(), i) {
                    let copy: Signature = signatures[i].clone();
                    signatures.push(copy);
                }
            }
            Damage::Remove(i) => {
                if let Some(i) = pick(signatures.len(), i) {
                    signatures.remove(i);
                }
            }
            Damage::Swap(i, j) => {
                if let (Some(i), Some(j)) = (pick(signatures.len(), i), pick(signatures.len(), j)) {
                    signatures.swap(i, j);
                }
            }
        }
    }
    let at: OffsetDateTime =
        datetime!(2023-06-01 00:00 UTC) + Duration::seconds(i64::from(input.at_offset));
    let requirement = Requirement::timesheet().with_person(Role::Participant, "participant-1");
    let Ok(verified) = verify(&envelope, TIMESHEET_PAYLOAD_TYPE, &*KEYS, at, &requirement) else {
        return;
    };
    // Accepted: the payload and type are the signed ones, and every signature
    // is one of the genuine signatures.
    assert_eq!(verified.payload(), genuine.payload.as_slice());
    assert_eq!(envelope.payload_type, genuine.payload_type);
    for signature in &envelope.signatures {
        assert!(
            genuine.signatures.contains(signature),
            "an accepted signature was not made by a key"
        );
    }
});
