//! The text forms of an Ed25519 public key, as the REST API reads and writes them.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{PUBLIC_KEY_LENGTH, VerifyingKey};

use crate::base64_text;

/// The DER SubjectPublicKeyInfo of an Ed25519 key is this fixed 12-byte header followed by
/// the 32 key bytes (RFC 8410, section 4: the algorithm identifier has no parameters, and
/// DER allows exactly one encoding). A constant is therefore a complete SPKI codec for
/// this one algorithm and spares the crate an ASN.1 parser; the interop vectors check it
/// against pyca/cryptography's PEM output.
const ED25519_SPKI_HEADER: [u8; 12] = [
    0x30, 0x2a, // SEQUENCE, 42 bytes
    0x30, 0x05, // SEQUENCE (AlgorithmIdentifier), 5 bytes
    0x06, 0x03, 0x2b, 0x65, 0x70, // OID 1.3.101.112 (id-Ed25519)
    0x03, 0x21, 0x00, // BIT STRING, 33 bytes, no unused bits
];
const PEM_BEGIN: &str = "-----BEGIN PUBLIC KEY-----";
const PEM_END: &str = "-----END PUBLIC KEY-----";

/// Why a text is not an acceptable Ed25519 public key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublicKeyError {
    /// Neither PEM nor base64.
    #[error(
        "public key is not base64: expected the 32 raw Ed25519 key bytes in base64 \
         (44 characters) or a PEM PUBLIC KEY block"
    )]
    NotBase64,
    /// Base64 of something other than 32 bytes (hex, a DER document, a private key, …).
    #[error(
        "public key is {len} bytes; an Ed25519 public key is 32 bytes, written as 44 \
         base64 characters or a PEM PUBLIC KEY block"
    )]
    WrongLength {
        /// The decoded length.
        len: usize,
    },
    /// Text that starts like PEM but is not one well-formed `PUBLIC KEY` block.
    #[error(
        "malformed PEM: expected one block between -----BEGIN PUBLIC KEY----- and \
         -----END PUBLIC KEY----- with a base64 body"
    )]
    MalformedPem,
    /// A well-formed PEM `PUBLIC KEY` block for another algorithm (RSA, ECDSA, …).
    #[error("the PEM public key is not an Ed25519 SubjectPublicKeyInfo (RFC 8410)")]
    NotEd25519,
    /// 32 bytes that do not encode a point on the Ed25519 curve.
    #[error("public key bytes are not a valid Ed25519 point")]
    InvalidPoint,
    /// A small-order point: any message "verifies" under such a key in lax verifiers, so
    /// it is never registered.
    #[error("public key is a weak (small-order) Ed25519 point and cannot be registered")]
    WeakKey,
}

/// Parses a public key from the REST text form: standard or URL-safe base64 of the 32 raw
/// key bytes (padding optional), or a PEM `PUBLIC KEY` block (SubjectPublicKeyInfo, as
/// `openssl pkey -pubout` writes). Surrounding whitespace is ignored. Weak keys are refused.
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, PublicKeyError> {
    let text = text.trim();
    let raw = if text.starts_with("-----") {
        let body = text
            .strip_prefix(PEM_BEGIN)
            .and_then(|rest| rest.strip_suffix(PEM_END))
            .ok_or(PublicKeyError::MalformedPem)?;
        let body: String = body.split_ascii_whitespace().collect();
        let der = STANDARD
            .decode(body)
            .map_err(|_| PublicKeyError::MalformedPem)?;
        der.strip_prefix(ED25519_SPKI_HEADER.as_slice())
            .filter(|key| key.len() == PUBLIC_KEY_LENGTH)
            .ok_or(PublicKeyError::NotEd25519)?
            .to_vec()
    } else {
        base64_text::decode(text).map_err(|_| PublicKeyError::NotBase64)?
    };
    let bytes: [u8; PUBLIC_KEY_LENGTH] = raw
        .as_slice()
        .try_into()
        .map_err(|_| PublicKeyError::WrongLength { len: raw.len() })?;
    let key = VerifyingKey::from_bytes(&bytes).map_err(|_| PublicKeyError::InvalidPoint)?;
    if key.is_weak() {
        return Err(PublicKeyError::WeakKey);
    }
    Ok(key)
}

/// The canonical text form: standard base64 (with padding) of the 32 raw key bytes.
pub fn public_key_to_base64(key: &VerifyingKey) -> String {
    base64_text::encode(key.as_bytes())
}

/// The PEM `PUBLIC KEY` (SubjectPublicKeyInfo) form, ending in a newline, as OpenSSL and
/// pyca/cryptography write it.
pub fn public_key_to_pem(key: &VerifyingKey) -> String {
    let mut der = Vec::with_capacity(ED25519_SPKI_HEADER.len() + PUBLIC_KEY_LENGTH);
    der.extend_from_slice(&ED25519_SPKI_HEADER);
    der.extend_from_slice(key.as_bytes());
    // 44 DER bytes are 60 base64 characters: one line under PEM's 64-column limit.
    format!("{PEM_BEGIN}\n{}\n{PEM_END}\n", STANDARD.encode(der))
}

/// `#[serde(with = "kvp_signing::serde_public_key")]` for a [`VerifyingKey`] field in a
/// REST body: written as [`public_key_to_base64`], read with [`parse_public_key`] (so
/// PEM is accepted too, and errors carry its message).
pub mod serde_public_key {
    use ed25519_dalek::VerifyingKey;
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the key as base64 of its 32 raw bytes.
    pub fn serialize<S: Serializer>(key: &VerifyingKey, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::public_key_to_base64(key))
    }

    /// Reads base64 or PEM text with [`parse_public_key`](super::parse_public_key).
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<VerifyingKey, D::Error> {
        let text = String::deserialize(deserializer)?;
        super::parse_public_key(&text).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> VerifyingKey {
        ed25519_dalek::SigningKey::from_bytes(&[9; 32]).verifying_key()
    }

    #[test]
    fn base64_and_pem_round_trip_to_the_same_key() {
        let key = key();
        assert_eq!(parse_public_key(&public_key_to_base64(&key)), Ok(key));
        assert_eq!(parse_public_key(&public_key_to_pem(&key)), Ok(key));
        let unpadded = public_key_to_base64(&key).trim_end_matches('=').to_owned();
        assert_eq!(parse_public_key(&format!("  {unpadded}\n")), Ok(key));
    }

    #[test]
    fn hex_is_refused_with_the_length_it_decoded_to() {
        let hex: String = key()
            .as_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            parse_public_key(&hex),
            Err(PublicKeyError::WrongLength { len: 48 })
        );
    }

    #[test]
    fn pem_blocks_of_other_kinds_are_refused() {
        assert_eq!(
            parse_public_key("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"),
            Err(PublicKeyError::MalformedPem)
        );
        // A P-256 SubjectPublicKeyInfo (written by pyca/cryptography).
        let p256 = "-----BEGIN PUBLIC KEY-----\n\
            MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEJu/OvQ7p40pmkYfhizqRIrL3M5Rb\n\
            ZJzJ+fkh6fna2BKQI4venMe7Mw0VDGdwTdJa5wVSBXRLbzG/QHB0WHLQ5g==\n\
            -----END PUBLIC KEY-----\n";
        assert_eq!(parse_public_key(p256), Err(PublicKeyError::NotEd25519));
        assert_eq!(
            parse_public_key("not a key!"),
            Err(PublicKeyError::NotBase64)
        );
    }

    #[test]
    fn bytes_off_the_curve_are_refused() {
        // y = 2 has no x on edwards25519: (y² − 1)/(d·y² + 1) is not a square mod p.
        let mut off_curve = [0_u8; 32];
        off_curve[0] = 2;
        assert_eq!(
            parse_public_key(&base64_text::encode(&off_curve)),
            Err(PublicKeyError::InvalidPoint)
        );
    }

    #[test]
    fn a_small_order_point_is_refused_as_weak() {
        // The identity point (0, 1) has order 1.
        let mut identity = [0_u8; 32];
        identity[0] = 1;
        assert_eq!(
            parse_public_key(&base64_text::encode(&identity)),
            Err(PublicKeyError::WeakKey)
        );
    }
}
