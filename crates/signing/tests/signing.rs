//! Behaviour of signed timesheets, and interoperability with securesystemslib's DSSE
//! implementation through the published vectors in the repository's `tests/interop/`
//! (made by `make_vectors.py`; these tests read only the JSON, so they need no Python).

// clippy.toml allows unwrap inside #[test] functions only; the fixture helpers here
// unwrap too, and a panic in them is a failed test as well.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use kvp_signing::{
    Envelope, ErrorClass, KeyRing, KeyUnusable, PayloadDigest, RegisteredKey, Requirement, Role,
    Signature, Signer, SigningKey, TIMESHEET_PAYLOAD_TYPE, VerifiedEnvelope, VerifyError,
    VerifyingKey, pae, parse_public_key, public_key_to_base64, public_key_to_pem, sign, verify,
};
use serde_json::Value;
use time::OffsetDateTime;
use time::macros::datetime;

#[path = "signing/hostile_input.rs"]
mod hostile_input;

// ---------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------

const PARTICIPANT: &str = "participant-0001";
const SUPERVISOR: &str = "caseworker-17";
const PROVIDER: &str = "course-holder-3";

/// The instant timesheets are received in these tests.
const RECEIVED: OffsetDateTime = datetime!(2024-10-01 12:00 UTC);

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn participant_key() -> SigningKey {
    key(1)
}
fn supervisor_key() -> SigningKey {
    key(2)
}
fn provider_key() -> SigningKey {
    key(3)
}
fn other_participant_key() -> SigningKey {
    key(4)
}

fn registered(keyid: &str, person: &str, role: Role, key: &SigningKey) -> RegisteredKey {
    RegisteredKey::new(
        keyid,
        person,
        role,
        key.verifying_key(),
        datetime!(2024-01-01 00:00 UTC),
    )
}

/// The registry the service would hold: one key per signer, all valid through 2024.
fn registry() -> KeyRing {
    [
        registered("p-1", PARTICIPANT, Role::Participant, &participant_key()),
        registered("s-1", SUPERVISOR, Role::Supervisor, &supervisor_key())
            .valid_until(datetime!(2024-12-31 23:59:59 UTC)),
        registered("c-1", PROVIDER, Role::Provider, &provider_key()),
        registered(
            "p-2",
            "participant-0002",
            Role::Participant,
            &other_participant_key(),
        ),
    ]
    .into_iter()
    .collect()
}

const BODY: &[u8] = b"\x0a\x10participant-0001\x12\x072024-09";

fn timesheet() -> Envelope {
    sign(
        TIMESHEET_PAYLOAD_TYPE,
        BODY,
        &[("p-1", &participant_key()), ("s-1", &supervisor_key())],
    )
}

fn verify_timesheet(
    envelope: &Envelope,
    keys: &KeyRing,
    at: OffsetDateTime,
) -> Result<VerifiedEnvelope, VerifyError> {
    verify(
        envelope,
        TIMESHEET_PAYLOAD_TYPE,
        keys,
        at,
        &Requirement::timesheet().with_person(Role::Participant, PARTICIPANT),
    )
}

fn signer(keyid: &str, person: &str, role: Role) -> Signer {
    Signer {
        keyid: keyid.to_owned(),
        person_id: person.to_owned(),
        role,
    }
}

// ---------------------------------------------------------------------------------------
// Accepting a timesheet
// ---------------------------------------------------------------------------------------

#[test]
fn a_timesheet_signed_by_participant_and_supervisor_is_accepted() {
    let verified = verify_timesheet(&timesheet(), &registry(), RECEIVED).unwrap();

    assert_eq!(verified.payload(), BODY);
    assert_eq!(verified.payload_type(), TIMESHEET_PAYLOAD_TYPE);
    assert_eq!(
        verified.signers(),
        [
            signer("p-1", PARTICIPANT, Role::Participant),
            signer("s-1", SUPERVISOR, Role::Supervisor),
        ]
    );
    assert_eq!(
        verified
            .signer(Role::Participant)
            .map(|s| s.person_id.as_str()),
        Some(PARTICIPANT)
    );
    assert_eq!(verified.signer(Role::Provider), None);
    assert_eq!(verified.digest(), PayloadDigest::of(BODY));
    assert_eq!(verified.verified_at(), RECEIVED);
    assert_eq!(verified.into_envelope(), timesheet());
}

#[test]
fn a_supervisor_can_co_sign_an_envelope_the_participant_signed() {
    let mut envelope = Envelope::new(TIMESHEET_PAYLOAD_TYPE, BODY);
    envelope.add_signature("p-1", &participant_key());
    envelope.add_signature("s-1", &supervisor_key());
    assert_eq!(envelope, timesheet());
    assert!(verify_timesheet(&envelope, &registry(), RECEIVED).is_ok());
}

#[test]
fn extra_provider_signature_keeps_the_same_digest() {
    let mut with_provider = timesheet();
    with_provider.add_signature("c-1", &provider_key());

    let plain = verify_timesheet(&timesheet(), &registry(), RECEIVED).unwrap();
    let co_signed = verify_timesheet(&with_provider, &registry(), RECEIVED).unwrap();

    assert_eq!(co_signed.digest(), plain.digest());
    assert_eq!(
        co_signed.digest().to_string(),
        "46dd356019d56946b9c360eed0197c7bc99c5f411efc8e71bc1296d37fac8288"
    );
    assert_eq!(
        co_signed.signer(Role::Provider),
        Some(&signer("c-1", PROVIDER, Role::Provider))
    );
}

#[test]
fn signature_order_does_not_matter() {
    let reversed = sign(
        TIMESHEET_PAYLOAD_TYPE,
        BODY,
        &[("s-1", &supervisor_key()), ("p-1", &participant_key())],
    );
    let verified = verify_timesheet(&reversed, &registry(), RECEIVED).unwrap();
    assert_eq!(verified.digest(), timesheet().digest());
    assert_eq!(
        verified.signer(Role::Supervisor).map(|s| s.keyid.as_str()),
        Some("s-1")
    );
}

#[test]
fn duplicate_signatures_by_the_same_key_are_counted_once() {
    let envelope = sign(
        TIMESHEET_PAYLOAD_TYPE,
        BODY,
        &[
            ("p-1", &participant_key()),
            ("s-1", &supervisor_key()),
            ("p-1", &participant_key()),
        ],
    );
    let verified = verify_timesheet(&envelope, &registry(), RECEIVED).unwrap();
    assert_eq!(
        verified.signers(),
        [
            signer("p-1", PARTICIPANT, Role::Participant),
            signer("s-1", SUPERVISOR, Role::Supervisor),
        ]
    );
}

#[test]
fn two_signatures_by_one_participant_key_do_not_make_a_supervisor() {
    let envelope = sign(
        TIMESHEET_PAYLOAD_TYPE,
        BODY,
        &[("p-1", &participant_key()), ("p-1", &participant_key())],
    );
    assert_eq!(
        verify_timesheet(&envelope, &registry(), RECEIVED),
        Err(VerifyError::MissingRole {
            role: Role::Supervisor
        })
    );
}

// ---------------------------------------------------------------------------------------
// Rejections: not made by the registered key (UNAUTHENTICATED)
// ---------------------------------------------------------------------------------------

#[test]
fn a_tampered_payload_is_rejected() {
    let mut envelope = timesheet();
    // 2024-09 becomes 2024-08: every signature still "looks" fine, none verifies.
    let last = envelope.payload.len() - 1;
    envelope.payload[last] = b'8';

    let error = verify_timesheet(&envelope, &registry(), RECEIVED).unwrap_err();
    assert_eq!(
        error,
        VerifyError::BadSignature {
            keyid: "p-1".to_owned()
        }
    );
    assert_eq!(error.class(), ErrorClass::Unauthenticated);
}

#[test]
fn a_tampered_payload_is_rejected_even_when_the_other_signatures_are_fine() {
    // The supervisor signed the altered payload; the participant's signature is over the
    // original, so the envelope mixes a good and a bad signature.
    let mut envelope = Envelope::new(TIMESHEET_PAYLOAD_TYPE, b"altered hours".as_slice());
    envelope.add_signature("s-1", &supervisor_key());
    envelope.signatures.push(timesheet().signatures[0].clone());

    assert_eq!(
        verify_timesheet(&envelope, &registry(), RECEIVED),
        Err(VerifyError::BadSignature {
            keyid: "p-1".to_owned()
        })
    );
}

#[test]
fn one_bad_optional_signature_rejects_the_whole_envelope() {
    let mut envelope = timesheet();
    envelope.signatures.push(Signature {
        keyid: "c-1".to_owned(),
        sig: vec![0x5a; 64],
    });
    assert_eq!(
        verify_timesheet(&envelope, &registry(), RECEIVED),
        Err(VerifyError::BadSignature {
            keyid: "c-1".to_owned()
        })
    );
}

#[test]
fn a_signature_relabelled_with_the_timesheet_type_does_not_verify() {
    // Signed as some other document type, then presented as a timesheet: the type is
    // inside the signed PAE, so the signatures break.
    let mut envelope = sign(
        "application/vnd.kvp.other+json",
        BODY,
        &[("p-1", &participant_key()), ("s-1", &supervisor_key())],
    );
    envelope.payload_type = TIMESHEET_PAYLOAD_TYPE.to_owned();
    assert_eq!(
        verify_timesheet(&envelope, &registry(), RECEIVED),
        Err(VerifyError::BadSignature {
            keyid: "p-1".to_owned()
        })
    );
}

#[test]
fn a_signature_by_an_unregistered_key_is_rejected() {
    let envelope = sign(
        TIMESHEET_PAYLOAD_TYPE,
        BODY,
        &[("p-1", &participant_key()), ("s-9", &key(9))],
    );
    let error = verify_timesheet(&envelope, &registry(), RECEIVED).unwrap_err();
    assert_eq!(
        error,
        VerifyError::UnknownKey {
            keyid: "s-9".to_owned()
        }
    );
    assert_eq!(error.class(), ErrorClass::Unauthenticated);
}

#[test]
fn a_signature_by_another_key_under_a_registered_keyid_is_rejected() {
    // Someone signs with their own key but claims the supervisor's keyid.
    let envelope = sign(
        TIMESHEET_PAYLOAD_TYPE,
        BODY,
        &[("p-1", &participant_key()), ("s-1", &key(9))],
    );
    assert_eq!(
        verify_timesheet(&envelope, &registry(), RECEIVED),
        Err(VerifyError::BadSignature {
            keyid: "s-1".to_owned()
        })
    );
}

#[test]
fn a_bad_signature_is_reported_before_a_revoked_key_whatever_the_order() {
    let keys: KeyRing = registry()
        .iter()
        .cloned()
        .map(|key| match key.keyid.as_str() {
            "p-1" => key.revoked_at(datetime!(2024-06-01 00:00 UTC)),
            _ => key,
        })
        .collect();
    let mut envelope = timesheet();
    envelope.signatures[1].sig[0] ^= 1;
    assert_eq!(
        verify_timesheet(&envelope, &keys, RECEIVED),
        Err(VerifyError::BadSignature {
            keyid: "s-1".to_owned()
        })
    );
}

// ---------------------------------------------------------------------------------------
// Rejections: a genuine signature by a key that may not sign this (PERMISSION_DENIED)
// ---------------------------------------------------------------------------------------

fn with_key(keyid: &str, change: impl Fn(RegisteredKey) -> RegisteredKey) -> KeyRing {
    registry()
        .iter()
        .cloned()
        .map(|key| if key.keyid == keyid { change(key) } else { key })
        .collect()
}

#[test]
fn a_revoked_key_cannot_sign_a_timesheet() {
    let revoked_at = datetime!(2024-09-15 08:30 UTC);
    let keys = with_key("p-1", |key| key.revoked_at(revoked_at));

    let error = verify_timesheet(&timesheet(), &keys, RECEIVED).unwrap_err();
    assert_eq!(
        error,
        VerifyError::KeyNotUsable {
            keyid: "p-1".to_owned(),
            role: Role::Participant,
            reason: KeyUnusable::Revoked { revoked_at },
        }
    );
    assert_eq!(error.class(), ErrorClass::PermissionDenied);
    assert_eq!(
        error.to_string(),
        "participant key \"p-1\" cannot sign at this instant: revoked at 2024-09-15T08:30:00Z"
    );
}

#[test]
fn a_key_revoked_at_the_instant_of_receipt_is_already_revoked() {
    let keys = with_key("s-1", |key| key.revoked_at(RECEIVED));
    assert!(matches!(
        verify_timesheet(&timesheet(), &keys, RECEIVED),
        Err(VerifyError::KeyNotUsable {
            reason: KeyUnusable::Revoked { .. },
            ..
        })
    ));
}

#[test]
fn revoking_a_key_later_does_not_reach_back_to_an_earlier_receipt() {
    let keys = with_key("p-1", |key| key.revoked_at(datetime!(2024-11-01 00:00 UTC)));
    assert!(verify_timesheet(&timesheet(), &keys, RECEIVED).is_ok());
}

#[test]
fn a_key_outside_its_validity_window_is_refused() {
    let too_early = datetime!(2023-12-31 23:59:59 UTC);
    assert_eq!(
        verify_timesheet(&timesheet(), &registry(), too_early),
        Err(VerifyError::KeyNotUsable {
            keyid: "p-1".to_owned(),
            role: Role::Participant,
            reason: KeyUnusable::NotYetValid {
                valid_from: datetime!(2024-01-01 00:00 UTC)
            },
        })
    );

    let too_late = datetime!(2025-01-01 00:00 UTC);
    let error = verify_timesheet(&timesheet(), &registry(), too_late).unwrap_err();
    assert_eq!(
        error,
        VerifyError::KeyNotUsable {
            keyid: "s-1".to_owned(),
            role: Role::Supervisor,
            reason: KeyUnusable::Expired {
                valid_until: datetime!(2024-12-31 23:59:59 UTC)
            },
        }
    );
    assert_eq!(error.class(), ErrorClass::PermissionDenied);
}

#[test]
fn the_last_second_of_the_window_is_still_inside_it() {
    assert!(
        verify_timesheet(
            &timesheet(),
            &registry(),
            datetime!(2024-12-31 23:59:59 UTC)
        )
        .is_ok()
    );
}

#[test]
fn an_expired_optional_provider_key_also_rejects_the_envelope() {
    let keys = with_key("c-1", |key| {
        key.valid_until(datetime!(2024-06-30 23:59:59 UTC))
    });
    let mut envelope = timesheet();
    envelope.add_signature("c-1", &provider_key());
    assert!(matches!(
        verify_timesheet(&envelope, &keys, RECEIVED),
        Err(VerifyError::KeyNotUsable { ref keyid, reason: KeyUnusable::Expired { .. }, .. })
            if keyid == "c-1"
    ));
}

#[test]
fn another_participants_key_cannot_sign_this_participants_timesheet() {
    let envelope = sign(
        TIMESHEET_PAYLOAD_TYPE,
        BODY,
        &[
            ("p-2", &other_participant_key()),
            ("s-1", &supervisor_key()),
        ],
    );
    let error = verify_timesheet(&envelope, &registry(), RECEIVED).unwrap_err();
    assert_eq!(
        error,
        VerifyError::UnexpectedSigner {
            role: Role::Participant,
            keyid: "p-2".to_owned()
        }
    );
    assert_eq!(error.class(), ErrorClass::PermissionDenied);
    // The message names the key, not the people involved.
    assert!(!error.to_string().contains("participant-000"));
}

#[test]
fn a_second_participant_signing_along_is_refused_too() {
    let mut envelope = timesheet();
    envelope.add_signature("p-2", &other_participant_key());
    assert_eq!(
        verify_timesheet(&envelope, &registry(), RECEIVED),
        Err(VerifyError::UnexpectedSigner {
            role: Role::Participant,
            keyid: "p-2".to_owned()
        })
    );
}

// ---------------------------------------------------------------------------------------
// Rejections: malformed or incomplete envelopes (INVALID_ARGUMENT)
// ---------------------------------------------------------------------------------------

#[test]
fn a_missing_supervisor_signature_is_rejected() {
    let envelope = sign(TIMESHEET_PAYLOAD_TYPE, BODY, &[("p-1", &participant_key())]);
    let error = verify_timesheet(&envelope, &registry(), RECEIVED).unwrap_err();
    assert_eq!(
        error,
        VerifyError::MissingRole {
            role: Role::Supervisor
        }
    );
    assert_eq!(error.class(), ErrorClass::Unauthenticated);
    assert_eq!(
        error.to_string(),
        "the envelope has no supervisor signature"
    );
}

#[test]
fn a_missing_participant_signature_is_rejected() {
    let envelope = sign(
        TIMESHEET_PAYLOAD_TYPE,
        BODY,
        &[("s-1", &supervisor_key()), ("c-1", &provider_key())],
    );
    assert_eq!(
        verify_timesheet(&envelope, &registry(), RECEIVED),
        Err(VerifyError::MissingRole {
            role: Role::Participant
        })
    );
}

#[test]
fn another_payload_type_is_rejected_before_any_signature_is_checked() {
    let envelope = sign("application/json", BODY, &[("p-1", &participant_key())]);
    let error = verify_timesheet(&envelope, &registry(), RECEIVED).unwrap_err();
    assert_eq!(
        error,
        VerifyError::WrongPayloadType {
            expected: TIMESHEET_PAYLOAD_TYPE.to_owned(),
            actual: "application/json".to_owned(),
        }
    );
    assert_eq!(error.class(), ErrorClass::InvalidArgument);
}

#[test]
fn an_envelope_without_signatures_is_rejected() {
    let error = verify_timesheet(
        &Envelope::new(TIMESHEET_PAYLOAD_TYPE, BODY),
        &registry(),
        RECEIVED,
    )
    .unwrap_err();
    assert_eq!(error, VerifyError::NoSignatures);
    assert_eq!(error.class(), ErrorClass::InvalidArgument);
}

#[test]
fn a_flood_of_signatures_or_a_huge_keyid_is_refused_by_its_form_before_any_lookup() {
    let mut flood = timesheet();
    let extra = flood.signatures[0].clone();
    while flood.signatures.len() <= kvp_signing::MAX_SIGNATURES {
        flood.signatures.push(extra.clone());
    }
    let error = kvp_signing::check_form(&flood, TIMESHEET_PAYLOAD_TYPE).unwrap_err();
    assert_eq!(error, VerifyError::TooManySignatures { count: 9 });
    assert_eq!(error.class(), ErrorClass::InvalidArgument);
    // verify refuses it alike, whatever keys there are.
    assert_eq!(
        verify_timesheet(&flood, &registry(), RECEIVED).unwrap_err(),
        error
    );
    // Eight is the most read.
    flood.signatures.truncate(kvp_signing::MAX_SIGNATURES);
    assert!(kvp_signing::check_form(&flood, TIMESHEET_PAYLOAD_TYPE).is_ok());

    let mut long = timesheet();
    long.signatures[1].keyid = "k".repeat(kvp_signing::MAX_KEYID_BYTES + 1);
    assert_eq!(
        kvp_signing::check_form(&long, TIMESHEET_PAYLOAD_TYPE).unwrap_err(),
        VerifyError::KeyIdTooLong { index: 1 }
    );
    long.signatures[1].keyid = "k".repeat(kvp_signing::MAX_KEYID_BYTES);
    assert!(kvp_signing::check_form(&long, TIMESHEET_PAYLOAD_TYPE).is_ok());

    // The keys to load are the distinct keyids, in order of first appearance.
    let mut repeated = timesheet();
    let first = repeated.signatures[0].clone();
    repeated.signatures.push(first);
    assert_eq!(repeated.keyids(), vec!["p-1", "s-1"]);
}

#[test]
fn a_truncated_signature_is_malformed() {
    let mut envelope = timesheet();
    envelope.signatures[1].sig.pop();
    let error = verify_timesheet(&envelope, &registry(), RECEIVED).unwrap_err();
    assert_eq!(
        error,
        VerifyError::MalformedSignature {
            keyid: "s-1".to_owned(),
            len: 63
        }
    );
    assert_eq!(error.class(), ErrorClass::InvalidArgument);
}

#[test]
fn a_signature_without_keyid_is_rejected() {
    let mut envelope = timesheet();
    envelope.signatures[1].keyid.clear();
    assert_eq!(
        verify_timesheet(&envelope, &registry(), RECEIVED),
        Err(VerifyError::MissingKeyId { index: 1 })
    );
}

#[test]
fn every_error_has_the_class_the_service_maps_to_a_status_code() {
    let keyid = || "k".to_owned();
    let cases = [
        (
            VerifyError::WrongPayloadType {
                expected: "a".to_owned(),
                actual: "b".to_owned(),
            },
            ErrorClass::InvalidArgument,
        ),
        (VerifyError::NoSignatures, ErrorClass::InvalidArgument),
        (
            VerifyError::TooManySignatures { count: 9 },
            ErrorClass::InvalidArgument,
        ),
        (
            VerifyError::KeyIdTooLong { index: 0 },
            ErrorClass::InvalidArgument,
        ),
        (
            VerifyError::MissingKeyId { index: 0 },
            ErrorClass::InvalidArgument,
        ),
        (
            VerifyError::MalformedSignature {
                keyid: keyid(),
                len: 3,
            },
            ErrorClass::InvalidArgument,
        ),
        (
            VerifyError::MissingRole {
                role: Role::Supervisor,
            },
            ErrorClass::Unauthenticated,
        ),
        (
            VerifyError::UnknownKey { keyid: keyid() },
            ErrorClass::Unauthenticated,
        ),
        (
            VerifyError::BadSignature { keyid: keyid() },
            ErrorClass::Unauthenticated,
        ),
        (
            VerifyError::KeyNotUsable {
                keyid: keyid(),
                role: Role::Provider,
                reason: KeyUnusable::Expired {
                    valid_until: RECEIVED,
                },
            },
            ErrorClass::PermissionDenied,
        ),
        (
            VerifyError::UnexpectedSigner {
                role: Role::Participant,
                keyid: keyid(),
            },
            ErrorClass::PermissionDenied,
        ),
    ];
    for (error, class) in cases {
        assert_eq!(error.class(), class, "{error}");
    }
}

// ---------------------------------------------------------------------------------------
// The DSSE JSON form
// ---------------------------------------------------------------------------------------

#[test]
fn the_json_form_uses_the_dsse_field_names_and_standard_base64() {
    let envelope = Envelope {
        payload: vec![0xfb, 0xff, 0xbf],
        payload_type: "t".to_owned(),
        signatures: vec![Signature {
            keyid: "k".to_owned(),
            sig: vec![0xff; 2],
        }],
    };
    let json = serde_json::to_string(&envelope).unwrap();
    assert_eq!(
        json,
        r#"{"payload":"+/+/","payloadType":"t","signatures":[{"keyid":"k","sig":"//8="}]}"#
    );
    assert_eq!(serde_json::from_str::<Envelope>(&json).unwrap(), envelope);
}

#[test]
fn the_dsse_specification_example_reads_with_an_empty_keyid_and_extra_fields_ignored() {
    // From protocol.md ("Test Vectors"), plus a field a future producer might add.
    let json = r#"{"payload": "aGVsbG8gd29ybGQ=",
        "payloadType": "http://example.com/HelloWorld",
        "signatures": [{"sig": "A3JqsQGtVsJ2O2xqrI5IcnXip5GToJ3F+FnZ+O88SjtR6rDAajabZKciJTfUiHqJPcIAriEGAHTVeCUjW2JIZA=="}],
        "future": 1}"#;
    let envelope: Envelope = serde_json::from_str(json).unwrap();
    assert_eq!(envelope.payload, b"hello world");
    assert_eq!(envelope.signatures[0].keyid, "");
    assert_eq!(envelope.signatures[0].sig.len(), 64);
    // This registry needs keyids, so such an envelope cannot be verified here.
    assert_eq!(
        verify(
            &envelope,
            "http://example.com/HelloWorld",
            &registry(),
            RECEIVED,
            &Requirement::roles([])
        ),
        Err(VerifyError::MissingKeyId { index: 0 })
    );
}

#[test]
fn json_with_a_missing_field_or_bad_base64_is_refused() {
    assert!(serde_json::from_str::<Envelope>(r#"{"payload":"","payloadType":"t"}"#).is_err());
    let bad =
        serde_json::from_str::<Envelope>(r#"{"payload":"%%","payloadType":"t","signatures":[]}"#)
            .unwrap_err();
    assert!(bad.to_string().starts_with("invalid base64"), "{bad}");
}

// ---------------------------------------------------------------------------------------
// Public keys in their REST text form
// ---------------------------------------------------------------------------------------

#[test]
fn a_public_key_reads_from_base64_or_pem_and_writes_back() {
    let key = participant_key().verifying_key();
    let text = public_key_to_base64(&key);
    assert_eq!(text.len(), 44);
    assert_eq!(parse_public_key(&text), Ok(key));
    assert_eq!(parse_public_key(&public_key_to_pem(&key)), Ok(key));
    assert_eq!(
        parse_public_key("AAAA").unwrap_err().to_string(),
        "public key is 3 bytes; an Ed25519 public key is 32 bytes, written as 44 base64 \
         characters or a PEM PUBLIC KEY block"
    );
}

#[test]
fn a_rest_body_carries_the_key_as_base64() {
    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct NewKey {
        #[serde(with = "kvp_signing::serde_public_key")]
        public_key: VerifyingKey,
    }
    let body = NewKey {
        public_key: participant_key().verifying_key(),
    };
    let json = serde_json::to_string(&body).unwrap();
    assert_eq!(
        json,
        format!(
            r#"{{"public_key":"{}"}}"#,
            public_key_to_base64(&body.public_key)
        )
    );
    assert_eq!(serde_json::from_str::<NewKey>(&json).unwrap(), body);
    let error = serde_json::from_str::<NewKey>(r#"{"public_key":"AAAA"}"#).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("an Ed25519 public key is 32 bytes"),
        "{error}"
    );
}

// ---------------------------------------------------------------------------------------
// Interoperability with securesystemslib (tests/interop/dsse_vectors.json at the repository root)
// ---------------------------------------------------------------------------------------

fn vectors() -> Value {
    serde_json::from_str(include_str!("../../../tests/interop/dsse_vectors.json")).unwrap()
}

fn hex(text: &str) -> Vec<u8> {
    assert_eq!(text.len() % 2, 0, "odd-length hex");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn base64(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

fn text<'a>(value: &'a Value, field: &str) -> &'a str {
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} is not a string"))
}

/// One vector key: its name (which is also its role), keyid, seed and public key.
struct VectorKey {
    role: Role,
    keyid: String,
    signing: SigningKey,
    public: VerifyingKey,
}

fn vector_keys() -> Vec<VectorKey> {
    vectors()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| VectorKey {
            role: text(key, "name").parse().unwrap(),
            keyid: text(key, "keyid").to_owned(),
            signing: SigningKey::from_bytes(&hex(text(key, "seed_hex")).try_into().unwrap()),
            public: VerifyingKey::from_bytes(&hex(text(key, "public_key_hex")).try_into().unwrap())
                .unwrap(),
        })
        .collect()
}

fn vector_registry() -> KeyRing {
    vector_keys()
        .into_iter()
        .map(|key| {
            RegisteredKey::new(
                key.keyid,
                format!("{}-person", key.role),
                key.role,
                key.public,
                datetime!(2024-01-01 00:00 UTC),
            )
        })
        .collect()
}

fn vector_envelopes() -> Vec<Value> {
    vectors()["envelopes"].as_array().unwrap().clone()
}

fn roles_of(vector: &Value) -> Vec<Role> {
    vector["signers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|name| name.as_str().unwrap().parse().unwrap())
        .collect()
}

#[test]
fn the_vectors_cover_one_two_and_three_signers() {
    let counts: Vec<usize> = vector_envelopes()
        .iter()
        .map(|v| roles_of(v).len())
        .collect();
    assert_eq!(counts, [1, 2, 3]);
}

#[test]
fn envelopes_signed_by_securesystemslib_verify() {
    for vector in vector_envelopes() {
        let envelope: Envelope = serde_json::from_str(text(&vector, "envelope_json")).unwrap();
        let roles = roles_of(&vector);

        let verified = verify(
            &envelope,
            TIMESHEET_PAYLOAD_TYPE,
            &vector_registry(),
            RECEIVED,
            &Requirement::roles(roles.clone()),
        )
        .unwrap_or_else(|error| panic!("{}: {error}", text(&vector, "name")));

        assert_eq!(verified.payload(), base64(text(&vector, "payload_base64")));
        assert_eq!(
            verified
                .signers()
                .iter()
                .map(|s| s.role)
                .collect::<Vec<_>>(),
            roles
        );
    }
}

#[test]
fn the_securesystemslib_timesheet_vectors_satisfy_the_timesheet_requirement() {
    let vector = &vector_envelopes()[1];
    let envelope: Envelope = serde_json::from_value(vector["envelope"].clone()).unwrap();
    assert!(
        verify(
            &envelope,
            TIMESHEET_PAYLOAD_TYPE,
            &vector_registry(),
            RECEIVED,
            &Requirement::timesheet()
        )
        .is_ok()
    );
}

#[test]
fn a_tampered_securesystemslib_envelope_is_rejected() {
    let vector = &vector_envelopes()[2];
    let mut envelope: Envelope = serde_json::from_str(text(vector, "envelope_json")).unwrap();
    envelope.payload[2] ^= 0x20; // "participant" becomes "Participant"
    assert_eq!(
        verify(
            &envelope,
            TIMESHEET_PAYLOAD_TYPE,
            &vector_registry(),
            RECEIVED,
            &Requirement::timesheet()
        ),
        Err(VerifyError::BadSignature {
            keyid: "participant-1".to_owned()
        })
    );
}

#[test]
fn our_pae_is_byte_for_byte_the_securesystemslib_pae() {
    let vectors = vectors();
    let cases = vectors["pae_cases"].as_array().unwrap();
    assert_eq!(cases.len(), 4);
    for case in cases {
        assert_eq!(
            pae(
                text(case, "payload_type"),
                &base64(text(case, "payload_base64"))
            ),
            hex(text(case, "pae_hex")),
            "{}",
            text(case, "payload_type")
        );
    }
    for vector in vector_envelopes() {
        let envelope: Envelope = serde_json::from_str(text(&vector, "envelope_json")).unwrap();
        assert_eq!(envelope.pae(), hex(text(&vector, "pae_hex")));
    }
    // The protocol.md example, readable.
    assert_eq!(
        hex(text(&cases[0], "pae_hex")),
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    );
}

#[test]
fn signing_with_the_same_seeds_reproduces_the_securesystemslib_envelopes_exactly() {
    let keys = vector_keys();
    for vector in vector_envelopes() {
        let signers: Vec<(&str, &SigningKey)> = roles_of(&vector)
            .into_iter()
            .map(|role| {
                let key = keys.iter().find(|key| key.role == role).unwrap();
                (key.keyid.as_str(), &key.signing)
            })
            .collect();
        let ours = sign(
            TIMESHEET_PAYLOAD_TYPE,
            base64(text(&vector, "payload_base64")),
            &signers,
        );
        let theirs: Envelope = serde_json::from_str(text(&vector, "envelope_json")).unwrap();

        // Ed25519 is deterministic: equal signature bytes mean securesystemslib accepts
        // ours exactly as it accepted its own.
        assert_eq!(
            ours.signatures,
            theirs.signatures,
            "{}",
            text(&vector, "name")
        );
        assert_eq!(ours, theirs);
        // And the JSON text is the same, character for character.
        assert_eq!(
            serde_json::to_string(&ours).unwrap(),
            text(&vector, "envelope_json")
        );
        assert_eq!(serde_json::to_value(&ours).unwrap(), vector["envelope"]);
    }
}

#[test]
fn our_digest_is_the_sha256_python_computed() {
    for vector in vector_envelopes() {
        let envelope: Envelope = serde_json::from_str(text(&vector, "envelope_json")).unwrap();
        assert_eq!(
            envelope.digest().to_string(),
            text(&vector, "payload_sha256")
        );
    }
}

#[test]
fn the_vector_keys_come_from_their_seeds_and_parse_from_their_base64_and_pem() {
    let vectors = vectors();
    for (key, json) in vector_keys()
        .iter()
        .zip(vectors["keys"].as_array().unwrap())
    {
        assert_eq!(key.signing.verifying_key(), key.public);
        assert_eq!(
            parse_public_key(text(json, "public_key_base64")),
            Ok(key.public)
        );
        assert_eq!(
            parse_public_key(text(json, "public_key_pem")),
            Ok(key.public)
        );
        assert_eq!(
            public_key_to_base64(&key.public),
            text(json, "public_key_base64")
        );
        // Our SPKI/PEM writer matches pyca/cryptography's output exactly.
        assert_eq!(public_key_to_pem(&key.public), text(json, "public_key_pem"));
    }
}

#[test]
fn a_url_safe_unpadded_copy_of_a_securesystemslib_envelope_reads_the_same() {
    let vector = &vector_envelopes()[1];
    let standard = text(vector, "envelope_json");
    let mut json: Value = serde_json::from_str(standard).unwrap();
    let to_url_safe = |value: &mut Value| {
        let text = value.as_str().unwrap();
        *value = Value::from(text.replace('+', "-").replace('/', "_").replace('=', ""));
    };
    to_url_safe(&mut json["payload"]);
    for signature in json["signatures"].as_array_mut().unwrap() {
        to_url_safe(&mut signature["sig"]);
    }
    let url_safe = json.to_string();
    // The payload holds both characters in which the two alphabets differ.
    assert!(url_safe.contains("-_"), "{url_safe}");

    let from_standard: Envelope = serde_json::from_str(standard).unwrap();
    let from_url_safe: Envelope = serde_json::from_str(&url_safe).unwrap();
    assert_eq!(from_url_safe, from_standard);
}

#[test]
fn every_failing_vector_is_refused() {
    let failing = vectors()["failing"].as_array().unwrap().clone();
    let names: Vec<&str> = failing.iter().map(|v| text(v, "name")).collect();
    assert_eq!(
        names,
        [
            "payload_changed_after_signing",
            "payload_type_changed_after_signing",
            "signed_without_pae",
            "pae_counting_characters",
            "keyid_of_another_key",
            "signature_truncated",
            "no_signatures",
        ]
    );
    for vector in &failing {
        let name = text(vector, "name");
        assert!(!text(vector, "must_fail").is_empty(), "{name} says why");
        // Refused when read (a signature of the wrong length) or when verified.
        if let Ok(envelope) = serde_json::from_str::<Envelope>(text(vector, "envelope_json")) {
            let payload_type = envelope.payload_type.clone();
            let verified = verify(
                &envelope,
                &payload_type,
                &vector_registry(),
                RECEIVED,
                &Requirement::roles(roles_of(vector)),
            );
            assert!(verified.is_err(), "{name} was accepted");
        }
    }
}
