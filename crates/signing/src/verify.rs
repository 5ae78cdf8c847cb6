//! The one place where an envelope becomes trusted.

use std::collections::{BTreeMap, BTreeSet};

use ed25519_dalek::SIGNATURE_LENGTH;
use time::OffsetDateTime;

use crate::digest::PayloadDigest;
use crate::envelope::Envelope;
use crate::registry::{KeyLookup, KeyUnusable, RegisteredKey, Role};

/// Which roles must have signed, and optionally which person must hold a role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    required: BTreeSet<Role>,
    persons: BTreeMap<Role, String>,
}

impl Requirement {
    /// The rule for timesheets: participant and supervisor must sign; a provider may.
    pub fn timesheet() -> Self {
        Self::roles([Role::Participant, Role::Supervisor])
    }

    /// Exactly these roles must sign; any other role may.
    pub fn roles(roles: impl IntoIterator<Item = Role>) -> Self {
        Self {
            required: roles.into_iter().collect(),
            persons: BTreeMap::new(),
        }
    }

    /// Also requires a signature in `role`.
    #[must_use]
    pub fn require(mut self, role: Role) -> Self {
        self.required.insert(role);
        self
    }

    /// Requires that `role` is signed, and only by keys of `person_id`. The service uses
    /// it to check that the participant key belongs to the participant the timesheet is
    /// about, not merely to some participant.
    #[must_use]
    pub fn with_person(mut self, role: Role, person_id: impl Into<String>) -> Self {
        self.required.insert(role);
        self.persons.insert(role, person_id.into());
        self
    }

    /// The roles that must have signed, in [`Role`] order.
    pub fn required_roles(&self) -> impl Iterator<Item = Role> + '_ {
        self.required.iter().copied()
    }

    /// The person who must hold `role`, if the requirement names one.
    pub fn expected_person(&self, role: Role) -> Option<&str> {
        self.persons.get(&role).map(String::as_str)
    }
}

/// A key that made a valid signature on a verified envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signer {
    /// The registered key's id (what the service records as "signed with").
    pub keyid: String,
    /// The person the key belongs to.
    pub person_id: String,
    /// The role the key is registered for.
    pub role: Role,
}

/// An envelope whose signatures all verify under registered keys that were usable at the
/// verification instant, and whose required roles are all present.
///
/// Only [`verify`] makes one, so holding a `VerifiedEnvelope` is the proof: decode the
/// payload from here, not from the unverified envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedEnvelope {
    envelope: Envelope,
    digest: PayloadDigest,
    signers: Vec<Signer>,
    verified_at: OffsetDateTime,
}

impl VerifiedEnvelope {
    /// The signed payload bytes.
    pub fn payload(&self) -> &[u8] {
        &self.envelope.payload
    }

    /// The payload type, equal to the one verification expected.
    pub fn payload_type(&self) -> &str {
        &self.envelope.payload_type
    }

    /// SHA-256 of the payload: the idempotency key.
    pub fn digest(&self) -> PayloadDigest {
        self.digest
    }

    /// Each key that signed, once, in order of first signature.
    pub fn signers(&self) -> &[Signer] {
        &self.signers
    }

    /// The keys that signed in `role`.
    pub fn signers_in_role(&self, role: Role) -> impl Iterator<Item = &Signer> {
        self.signers
            .iter()
            .filter(move |signer| signer.role == role)
    }

    /// The first key that signed in `role` (required roles always have one).
    pub fn signer(&self, role: Role) -> Option<&Signer> {
        self.signers_in_role(role).next()
    }

    /// The instant the keys were checked against.
    pub fn verified_at(&self) -> OffsetDateTime {
        self.verified_at
    }

    /// The envelope as received.
    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }

    /// Gives the envelope back, for storage.
    pub fn into_envelope(self) -> Envelope {
        self.envelope
    }
}

/// How a caller should classify a [`VerifyError`]: the status the gRPC and REST layers
/// answer with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// The envelope is malformed or incomplete (gRPC `INVALID_ARGUMENT`, HTTP 400).
    InvalidArgument,
    /// A signature is not made by a known key (gRPC `UNAUTHENTICATED`, HTTP 401).
    Unauthenticated,
    /// A genuine signature by a key that may not sign this, now or in this role
    /// (gRPC `PERMISSION_DENIED`, HTTP 403).
    PermissionDenied,
}

/// Why an envelope was rejected. [`VerifyError::class`] says which status each maps to;
/// messages name keyids and roles, never person ids or payload content.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The payload type is not the one expected: the payload is not a timesheet.
    /// Class: [`ErrorClass::InvalidArgument`].
    #[error("payload type {actual:?} is not the expected {expected:?}")]
    WrongPayloadType {
        /// The type the caller expected.
        expected: String,
        /// The type the envelope carries.
        actual: String,
    },
    /// The envelope carries no signature at all. Class: [`ErrorClass::InvalidArgument`].
    #[error("the envelope carries no signatures")]
    NoSignatures,
    /// More signatures than any document needs ([`MAX_SIGNATURES`]): refused
    /// before any key is looked up. Class: [`ErrorClass::InvalidArgument`].
    #[error("the envelope carries {count} signatures; at most {MAX_SIGNATURES} are read")]
    TooManySignatures {
        /// How many it carries.
        count: usize,
    },
    /// A keyid longer than any registered one can be ([`MAX_KEYID_BYTES`]).
    /// Class: [`ErrorClass::InvalidArgument`].
    #[error("signature number {index} names a keyid longer than {MAX_KEYID_BYTES} bytes")]
    KeyIdTooLong {
        /// Zero-based position of the signature in the envelope.
        index: usize,
    },
    /// A signature has an empty keyid (DSSE allows it; this registry does not).
    /// Class: [`ErrorClass::InvalidArgument`].
    #[error("signature number {index} has no keyid")]
    MissingKeyId {
        /// Zero-based position of the signature in the envelope.
        index: usize,
    },
    /// A signature is not 64 bytes long, so it cannot be an Ed25519 signature.
    /// Class: [`ErrorClass::InvalidArgument`].
    #[error("signature by key {keyid:?} is {len} bytes long; an Ed25519 signature is 64")]
    MalformedSignature {
        /// The keyid the signature names.
        keyid: String,
        /// Its length in bytes.
        len: usize,
    },
    /// A signature names a keyid that is not registered.
    /// Class: [`ErrorClass::Unauthenticated`].
    #[error("key {keyid:?} is not registered")]
    UnknownKey {
        /// The unknown keyid.
        keyid: String,
    },
    /// A signature does not verify under the key it names: the payload, its type or the
    /// signature was altered, or another key made it. One bad signature rejects the
    /// envelope even when the others are good. Class: [`ErrorClass::Unauthenticated`].
    #[error("signature by key {keyid:?} does not verify")]
    BadSignature {
        /// The keyid the signature names.
        keyid: String,
    },
    /// A signature verifies, but its key was not usable at the verification instant
    /// (revoked, not yet valid, or expired). Class: [`ErrorClass::PermissionDenied`].
    #[error("{role} key {keyid:?} cannot sign at this instant: {reason}")]
    KeyNotUsable {
        /// The key.
        keyid: String,
        /// The role it is registered for.
        role: Role,
        /// Which rule the instant breaks.
        reason: KeyUnusable,
    },
    /// A signature in `role` was made by a key of another person than the requirement
    /// names (for example another participant's key).
    /// Class: [`ErrorClass::PermissionDenied`].
    #[error("{role} key {keyid:?} does not belong to the expected {role}")]
    UnexpectedSigner {
        /// The role.
        role: Role,
        /// The key that signed in it.
        keyid: String,
    },
    /// No valid signature in a required role: the document is not
    /// authenticated by everyone who must sign it.
    /// Class: [`ErrorClass::Unauthenticated`].
    #[error("the envelope has no {role} signature")]
    MissingRole {
        /// The missing role.
        role: Role,
    },
}

impl VerifyError {
    /// The status class of the error; see [`ErrorClass`] for the gRPC and HTTP codes.
    pub const fn class(&self) -> ErrorClass {
        match self {
            VerifyError::WrongPayloadType { .. }
            | VerifyError::NoSignatures
            | VerifyError::TooManySignatures { .. }
            | VerifyError::KeyIdTooLong { .. }
            | VerifyError::MissingKeyId { .. }
            | VerifyError::MalformedSignature { .. } => ErrorClass::InvalidArgument,
            VerifyError::UnknownKey { .. }
            | VerifyError::BadSignature { .. }
            | VerifyError::MissingRole { .. } => ErrorClass::Unauthenticated,
            VerifyError::KeyNotUsable { .. } | VerifyError::UnexpectedSigner { .. } => {
                ErrorClass::PermissionDenied
            }
        }
    }
}

/// The most signatures an envelope may carry: a timesheet has two or three
/// signers, and a key may sign more than once; anything far beyond is an
/// attempt to make verification expensive.
pub const MAX_SIGNATURES: usize = 8;

/// The longest keyid read (a registered keyid is at most 200 characters).
pub const MAX_KEYID_BYTES: usize = 800;

/// The envelope's form, checked before any key is looked up: the expected
/// payload type, 1 to [`MAX_SIGNATURES`] signatures, each naming a keyid of
/// at most [`MAX_KEYID_BYTES`] and 64 bytes long. [`verify`] checks it first;
/// a caller loading keys before verifying calls it before the lookup.
pub fn check_form(envelope: &Envelope, expected_payload_type: &str) -> Result<(), VerifyError> {
    if envelope.payload_type != expected_payload_type {
        return Err(VerifyError::WrongPayloadType {
            expected: expected_payload_type.to_owned(),
            actual: envelope.payload_type.clone(),
        });
    }
    if envelope.signatures.is_empty() {
        return Err(VerifyError::NoSignatures);
    }
    if envelope.signatures.len() > MAX_SIGNATURES {
        return Err(VerifyError::TooManySignatures {
            count: envelope.signatures.len(),
        });
    }
    for (index, signature) in envelope.signatures.iter().enumerate() {
        if signature.keyid.is_empty() {
            return Err(VerifyError::MissingKeyId { index });
        }
        if signature.keyid.len() > MAX_KEYID_BYTES {
            return Err(VerifyError::KeyIdTooLong { index });
        }
        if signature.sig.len() != SIGNATURE_LENGTH {
            return Err(VerifyError::MalformedSignature {
                keyid: signature.keyid.clone(),
                len: signature.sig.len(),
            });
        }
    }
    Ok(())
}

/// Verifies `envelope` as a document of `expected_payload_type`, signed under the keys
/// of `keys` as they stand at `at`, against `requirement`.
///
/// Checks run in three passes, so the class of the error does not depend on the order of
/// the signatures:
///
/// 1. **Form** (`INVALID_ARGUMENT`): the payload type is the expected one, there is at
///    least one signature, each names a keyid and is 64 bytes long.
/// 2. **Authentication** (`UNAUTHENTICATED`): each signature's key is registered and the
///    signature verifies over the DSSE [`pae`](crate::pae) (strict Ed25519: no
///    malleable signatures, no small-order keys). Unlike DSSE's threshold policy, which
///    skips bad signatures, any bad signature rejects the envelope: a timesheet carrying
///    one was altered or forged.
/// 3. **Authorisation**: each key is usable at `at` (`PERMISSION_DENIED`), signatures in a
///    role with an expected person come from that person's keys (`PERMISSION_DENIED`), and
///    every required role has signed (`UNAUTHENTICATED`: a document without all its
///    signatures is not authenticated).
///
/// Several signatures by the same keyid count as one signer (each must still verify).
pub fn verify(
    envelope: &Envelope,
    expected_payload_type: &str,
    keys: &impl KeyLookup,
    at: OffsetDateTime,
    requirement: &Requirement,
) -> Result<VerifiedEnvelope, VerifyError> {
    // 1. Form.
    check_form(envelope, expected_payload_type)?;
    let mut signatures = Vec::with_capacity(envelope.signatures.len());
    for signature in &envelope.signatures {
        let bytes: [u8; SIGNATURE_LENGTH] =
            signature
                .sig
                .as_slice()
                .try_into()
                .map_err(|_| VerifyError::MalformedSignature {
                    keyid: signature.keyid.clone(),
                    len: signature.sig.len(),
                })?;
        signatures.push((
            signature.keyid.as_str(),
            ed25519_dalek::Signature::from_bytes(&bytes),
        ));
    }

    // 2. Authentication: every signature, not just enough of them. A keyid seen before
    // reuses its key, so duplicates are one signer (and one registry lookup).
    let signed = envelope.pae();
    let mut signing_keys: Vec<(&str, RegisteredKey)> = Vec::with_capacity(signatures.len());
    for (keyid, signature) in signatures {
        let seen = signing_keys.iter().position(|(known, _)| *known == keyid);
        let key = match seen {
            Some(position) => &signing_keys[position].1,
            None => {
                let key = keys.key(keyid).ok_or_else(|| VerifyError::UnknownKey {
                    keyid: keyid.to_owned(),
                })?;
                signing_keys.push((keyid, key));
                &signing_keys[signing_keys.len() - 1].1
            }
        };
        key.public_key
            .verify_strict(&signed, &signature)
            .map_err(|_| VerifyError::BadSignature {
                keyid: keyid.to_owned(),
            })?;
    }

    // 3. Authorisation.
    for (keyid, key) in &signing_keys {
        key.check_usable_at(at)
            .map_err(|reason| VerifyError::KeyNotUsable {
                keyid: (*keyid).to_owned(),
                role: key.role,
                reason,
            })?;
    }
    for (keyid, key) in &signing_keys {
        if let Some(expected) = requirement.expected_person(key.role)
            && key.person_id != expected
        {
            return Err(VerifyError::UnexpectedSigner {
                role: key.role,
                keyid: (*keyid).to_owned(),
            });
        }
    }
    if let Some(role) = requirement
        .required_roles()
        .find(|role| !signing_keys.iter().any(|(_, key)| key.role == *role))
    {
        return Err(VerifyError::MissingRole { role });
    }

    Ok(VerifiedEnvelope {
        envelope: envelope.clone(),
        digest: envelope.digest(),
        signers: signing_keys
            .into_iter()
            .map(|(keyid, key)| Signer {
                keyid: keyid.to_owned(),
                person_id: key.person_id,
                role: key.role,
            })
            .collect(),
        verified_at: at,
    })
}
