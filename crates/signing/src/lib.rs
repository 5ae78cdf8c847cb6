//! Signed timesheets: DSSE envelopes with Ed25519 signatures, and the signer-registry
//! rules a signature must satisfy before the payroll service believes it.
//!
//! # What this crate owns
//!
//! - The DSSE v1 envelope ([`Envelope`]): the pre-authentication encoding ([`pae`]) that
//!   is signed, the standard JSON form (for interoperability with other DSSE tools), and a
//!   signing helper ([`sign`]) for clients, tests and the load generator.
//! - The payload digest ([`PayloadDigest`]): SHA-256 of the signed payload bytes, the
//!   idempotency key of `SubmitTimesheet`.
//! - The signer registry model ([`Role`], [`RegisteredKey`], [`KeyLookup`]) and the one
//!   verification rule set ([`verify`]): every signature verifies, every key is registered
//!   and usable at the given instant, and the required roles (and persons) have signed.
//! - The text form of public keys used by the REST API ([`parse_public_key`]).
//!
//! # What it must not do
//!
//! It is pure and synchronous: no I/O, no async runtime, no clock (the instant of
//! verification is an argument), no logging of keys or payloads. It does not know the
//! protobuf schema and must not depend on the proto crate: the service converts its
//! protobuf envelope into [`Envelope`] and decodes the payload only after [`verify`] has
//! accepted it. Key storage belongs to the store; this crate only sees keys through
//! [`KeyLookup`].
//!
//! # Example
//!
//! ```
//! use kvp_signing::{
//!     sign, verify, KeyRing, RegisteredKey, Requirement, Role, SigningKey,
//!     TIMESHEET_PAYLOAD_TYPE,
//! };
//! use time::macros::datetime;
//!
//! let participant = SigningKey::from_bytes(&[1; 32]);
//! let supervisor = SigningKey::from_bytes(&[2; 32]);
//! let since = datetime!(2024-01-01 00:00 UTC);
//! let keys: KeyRing = [
//!     RegisteredKey::new("p-key", "participant-17", Role::Participant, participant.verifying_key(), since),
//!     RegisteredKey::new("s-key", "caseworker-3", Role::Supervisor, supervisor.verifying_key(), since),
//! ]
//! .into_iter()
//! .collect();
//!
//! let envelope = sign(
//!     TIMESHEET_PAYLOAD_TYPE,
//!     b"serialized TimesheetBody".as_slice(),
//!     &[("p-key", &participant), ("s-key", &supervisor)],
//! );
//! let requirement = Requirement::timesheet().with_person(Role::Participant, "participant-17");
//! let verified = verify(
//!     &envelope,
//!     TIMESHEET_PAYLOAD_TYPE,
//!     &keys,
//!     datetime!(2024-10-01 12:00 UTC),
//!     &requirement,
//! )?;
//! assert_eq!(verified.signer(Role::Supervisor).map(|s| s.person_id.as_str()), Some("caseworker-3"));
//! # Ok::<(), kvp_signing::VerifyError>(())
//! ```

mod base64_text;
mod digest;
mod envelope;
mod public_key;
mod registry;
mod verify;

pub use digest::{DigestParseError, PayloadDigest};
pub use envelope::{Envelope, Signature, TIMESHEET_PAYLOAD_TYPE, pae, sign};
pub use public_key::{
    PublicKeyError, parse_public_key, public_key_to_base64, public_key_to_pem, serde_public_key,
};
pub use registry::{KeyLookup, KeyRing, KeyUnusable, RegisteredKey, Role, UnknownRole};
pub use verify::{
    ErrorClass, MAX_KEYID_BYTES, MAX_SIGNATURES, Requirement, Signer, VerifiedEnvelope,
    VerifyError, check_form, verify,
};

/// The Ed25519 types of the signing API, re-exported so that callers need no direct
/// dependency on `ed25519-dalek` (and cannot drift to another major version of it).
pub use ed25519_dalek::{SigningKey, VerifyingKey};
