//! Any bytes as a DSSE JSON envelope: decoding answers a typed error or an
//! envelope; a decoded envelope re-encodes to itself; verification of it
//! answers a typed error (or, never in practice, a verified envelope) and
//! never panics.

#![no_main]

use std::sync::LazyLock;

use kvp_signing::{
    Envelope, KeyRing, RegisteredKey, Requirement, Role, SigningKey, TIMESHEET_PAYLOAD_TYPE, verify,
};
use libfuzzer_sys::fuzz_target;
use time::macros::datetime;

/// Keys under short ids the fuzzer can guess (`p`, `s`), one of them revoked.
static KEYS: LazyLock<KeyRing> = LazyLock::new(|| {
    let since = datetime!(2024-01-01 00:00 UTC);
    [
        RegisteredKey::new(
            "p",
            "participant-1",
            Role::Participant,
            SigningKey::from_bytes(&[1; 32]).verifying_key(),
            since,
        ),
        RegisteredKey::new(
            "s",
            "caseworker-1",
            Role::Supervisor,
            SigningKey::from_bytes(&[2; 32]).verifying_key(),
            since,
        )
        .revoked_at(datetime!(2025-01-01 00:00 UTC)),
    ]
    .into_iter()
    .collect()
});

fuzz_target!(|data: &[u8]| {
    let Ok(envelope) = serde_json::from_slice::<Envelope>(data) else {
        return;
    };
    let encoded = serde_json::to_vec(&envelope).expect("an envelope always encodes");
    let decoded: Envelope = serde_json::from_slice(&encoded).expect("its encoding decodes");
    assert_eq!(decoded, envelope);
    let requirement = Requirement::timesheet().with_person(Role::Participant, "participant-1");
    let at = datetime!(2024-06-01 12:00 UTC);
    let first = verify(&envelope, TIMESHEET_PAYLOAD_TYPE, &*KEYS, at, &requirement);
    let again = verify(&envelope, TIMESHEET_PAYLOAD_TYPE, &*KEYS, at, &requirement);
    assert_eq!(first.is_ok(), again.is_ok());
});
