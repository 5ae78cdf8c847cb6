//! The payload digest: the idempotency key of a submitted timesheet.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest as _, Sha256};

/// SHA-256 of the signed payload bytes, and nothing else.
///
/// Signatures and the payload type are deliberately left out: the same timesheet
/// re-submitted with an extra (provider) signature, or with its signatures in another
/// order, has the same digest, so `SubmitTimesheet` recognises it as the same
/// submission (ARCHITECTURE.md, key decision 8).
///
/// Displayed (and parsed) as 64 lowercase hexadecimal digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PayloadDigest([u8; 32]);

impl PayloadDigest {
    /// Digest of `payload`.
    pub fn of(payload: &[u8]) -> Self {
        Self(Sha256::digest(payload).into())
    }

    /// Wraps digest bytes computed elsewhere (for example read back from storage).
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The 32 digest bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for PayloadDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

impl fmt::Debug for PayloadDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PayloadDigest({self})")
    }
}

/// A text that is not 64 lowercase hexadecimal digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a payload digest is 64 lowercase hexadecimal digits (SHA-256)")]
pub struct DigestParseError;

impl FromStr for PayloadDigest {
    type Err = DigestParseError;

    /// Parses the [`Display`](fmt::Display) form. Only lowercase is accepted, so a digest
    /// has one spelling and can be compared as text wherever it is stored.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        fn nibble(digit: u8) -> Result<u8, DigestParseError> {
            match digit {
                b'0'..=b'9' => Ok(digit - b'0'),
                b'a'..=b'f' => Ok(digit - b'a' + 10),
                _ => Err(DigestParseError),
            }
        }
        let digits = text.as_bytes();
        if digits.len() != 64 {
            return Err(DigestParseError);
        }
        let mut bytes = [0_u8; 32];
        for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
            *byte = (nibble(pair[0])? << 4) | nibble(pair[1])?;
        }
        Ok(Self(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_of_abc_is_the_fips_180_test_vector() {
        let digest = PayloadDigest::of(b"abc");
        assert_eq!(
            digest.to_string(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn the_hex_form_round_trips_and_refuses_other_spellings() {
        let digest = PayloadDigest::of(b"timesheet");
        assert_eq!(digest.to_string().parse::<PayloadDigest>(), Ok(digest));
        assert_eq!(
            digest.to_string().to_uppercase().parse::<PayloadDigest>(),
            Err(DigestParseError)
        );
        assert_eq!("abc".parse::<PayloadDigest>(), Err(DigestParseError));
    }
}
