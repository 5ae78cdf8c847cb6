//! Base64 as DSSE uses it: standard alphabet with padding when writing; standard or
//! URL-safe, padded or not, when reading (protocol.md: "verifiers MUST accept either").

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::{DecodePaddingMode, Engine};

/// Reads the standard alphabet with or without padding. Trailing bits must be zero, so
/// every byte string has exactly one accepted spelling per alphabet and padding choice.
const READ_STANDARD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Reads the URL-safe alphabet with or without padding.
const READ_URL_SAFE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Standard base64 with padding: what securesystemslib and most DSSE tools write.
pub(crate) fn encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Decodes standard or URL-safe base64. The two alphabets differ only in `+/` versus
/// `-_`, so the presence of `-` or `_` selects the URL-safe reading; a text mixing both
/// alphabets is rejected.
pub(crate) fn decode(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    if text.contains(['-', '_']) {
        READ_URL_SAFE.decode(text)
    } else {
        READ_STANDARD.decode(text)
    }
}

/// `#[serde(with = "...")]` for byte fields written as base64 text.
pub(crate) mod serde_bytes {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::encode(bytes))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        super::decode(&text)
            .map_err(|error| D::Error::custom(format_args!("invalid base64: {error}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_alphabets_with_and_without_padding_read_the_same_bytes() {
        let bytes = [0xfb, 0xff, 0xbf, 0x00];
        assert_eq!(encode(&bytes), "+/+/AA==");
        for text in ["+/+/AA==", "+/+/AA", "-_-_AA==", "-_-_AA"] {
            assert_eq!(decode(text).unwrap(), bytes, "{text}");
        }
    }

    #[test]
    fn mixed_alphabets_and_non_canonical_trailing_bits_are_refused() {
        assert!(decode("+_+/AA==").is_err());
        // "AB==" has non-zero trailing bits; the canonical spelling of [0x00] is "AA==".
        assert!(decode("AB==").is_err());
    }
}
