//! The DSSE v1 envelope (<https://github.com/secure-systems-lab/dsse>, protocol.md and
//! envelope.md) and its signing helper.

use ed25519_dalek::{Signer as _, SigningKey};
use serde::{Deserialize, Serialize};

use crate::base64_text::serde_bytes;
use crate::digest::PayloadDigest;

/// The payload type of a signed timesheet: the payload is a serialized
/// `kvp.payroll.v1.TimesheetBody` protobuf message.
pub const TIMESHEET_PAYLOAD_TYPE: &str = "application/vnd.kvp.timesheet.v1+protobuf";

/// The DSSE v1 pre-authentication encoding: the exact bytes an Ed25519 signature covers.
///
/// `PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, where `LEN`
/// is the byte length (not the character count) in ASCII decimal without leading zeros.
/// Binding the payload type into the signed bytes is what stops a signature over one
/// kind of document from being replayed as another.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let type_len = payload_type.len().to_string();
    let body_len = payload.len().to_string();
    let mut out = Vec::with_capacity(
        "DSSEv1".len() + 4 + type_len.len() + payload_type.len() + body_len.len() + payload.len(),
    );
    for part in [
        b"DSSEv1".as_slice(),
        type_len.as_bytes(),
        payload_type.as_bytes(),
        body_len.as_bytes(),
    ] {
        out.extend_from_slice(part);
        out.push(b' ');
    }
    out.extend_from_slice(payload);
    out
}

/// A DSSE envelope: an opaque payload, its type, and any number of signatures over
/// [`pae`]`(payload_type, payload)`.
///
/// Its serde form is the standard DSSE JSON envelope (`payload`, `payloadType`,
/// `signatures[].keyid`, `signatures[].sig`; bytes as standard base64 with padding).
/// When reading, URL-safe or unpadded base64 is accepted, a missing `keyid` reads as
/// empty, and unknown fields are ignored, as envelope.md requires of consumers.
///
/// An `Envelope` is not trusted by itself: only [`verify`](crate::verify) turns it into a
/// [`VerifiedEnvelope`](crate::VerifiedEnvelope).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The serialized body exactly as signed (for timesheets a protobuf
    /// `TimesheetBody`). Never re-encode it: the signatures cover these bytes.
    #[serde(with = "serde_bytes")]
    pub payload: Vec<u8>,
    /// How to interpret `payload`, for example [`TIMESHEET_PAYLOAD_TYPE`]. It is signed too.
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// The signatures, in the order received. Duplicates are allowed on the wire and
    /// counted once by [`verify`](crate::verify).
    pub signatures: Vec<Signature>,
}

/// One DSSE signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// Which registered key made the signature. DSSE treats it as an unauthenticated
    /// hint: it selects the key to try, and the signature must then verify under that
    /// key, so a forged keyid only makes verification fail.
    #[serde(default)]
    pub keyid: String,
    /// The raw 64-byte Ed25519 signature over the envelope's [`pae`].
    #[serde(with = "serde_bytes")]
    pub sig: Vec<u8>,
}

impl Envelope {
    /// An envelope with no signatures yet; add them with [`Envelope::add_signature`].
    pub fn new(payload_type: impl Into<String>, payload: impl Into<Vec<u8>>) -> Self {
        Self {
            payload: payload.into(),
            payload_type: payload_type.into(),
            signatures: Vec::new(),
        }
    }

    /// The bytes every signature of this envelope must cover.
    pub fn pae(&self) -> Vec<u8> {
        pae(&self.payload_type, &self.payload)
    }

    /// SHA-256 of the payload: the same for any set of signatures over it.
    pub fn digest(&self) -> PayloadDigest {
        PayloadDigest::of(&self.payload)
    }

    /// Signs the envelope with `key` and appends the signature under `keyid`. This is
    /// how a supervisor or provider co-signs an envelope the participant has signed.
    pub fn add_signature(&mut self, keyid: impl Into<String>, key: &SigningKey) {
        let sig = key.sign(&self.pae()).to_bytes().to_vec();
        self.signatures.push(Signature {
            keyid: keyid.into(),
            sig,
        });
    }

    /// The distinct keyids the envelope names, in order of first appearance: what a
    /// caller must load from its key store before calling [`verify`](crate::verify).
    pub fn keyids(&self) -> Vec<&str> {
        let mut seen = std::collections::HashSet::with_capacity(self.signatures.len());
        self.signatures
            .iter()
            .map(|signature| signature.keyid.as_str())
            .filter(|keyid| seen.insert(*keyid))
            .collect()
    }
}

/// Builds an envelope and signs it with each `(keyid, key)` in order: the helper for
/// timesheet clients, tests and the load generator.
///
/// Ed25519 signing is deterministic, so the same key over the same payload and type
/// always yields the same signature bytes.
pub fn sign(
    payload_type: &str,
    payload: impl Into<Vec<u8>>,
    signers: &[(&str, &SigningKey)],
) -> Envelope {
    let mut envelope = Envelope::new(payload_type, payload);
    for (keyid, key) in signers {
        envelope.add_signature(*keyid, key);
    }
    envelope
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_example_in_the_dsse_protocol() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
    }

    #[test]
    fn pae_counts_bytes_not_characters_and_keeps_an_empty_body() {
        // "ø" is two bytes in UTF-8.
        assert_eq!(pae("prøve", b""), "DSSEv1 6 prøve 0 ".as_bytes());
    }

    #[test]
    fn keyids_are_listed_once_in_order_of_appearance() {
        let a = SigningKey::from_bytes(&[1; 32]);
        let b = SigningKey::from_bytes(&[2; 32]);
        let envelope = sign("t", b"x".as_slice(), &[("a", &a), ("b", &b), ("a", &a)]);
        assert_eq!(envelope.keyids(), ["a", "b"]);
    }
}
