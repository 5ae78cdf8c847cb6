//! National identity numbers (fødselsnummer and D-number): validated on
//! construction, never printed, and stored only as a keyed hash (for lookup) and
//! a sealed ciphertext.

use std::fmt;

use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use time::{Date, Month};
use uuid::Uuid;

/// A validated national identity number. `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct NationalId(String);

/// Why a text is not a national identity number. Never contains the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NationalIdError {
    /// Not eleven digits.
    #[error("must be eleven digits")]
    Format,
    /// A check digit does not match (modulus 11).
    #[error("the check digits do not match")]
    CheckDigits,
    /// The first six digits are not a date.
    #[error("does not hold a valid birth date")]
    BirthDate,
}

impl NationalId {
    /// Validates eleven digits with both modulus-11 check digits; D-numbers
    /// (day + 40) are accepted.
    pub fn parse(text: &str) -> Result<Self, NationalIdError> {
        let digits: Vec<u32> = text.chars().filter_map(|c| c.to_digit(10)).collect();
        if text.len() != 11 || digits.len() != 11 {
            return Err(NationalIdError::Format);
        }
        if check_digits(&digits[..9]) != Some([digits[9], digits[10]]) {
            return Err(NationalIdError::CheckDigits);
        }
        let id = Self(text.to_owned());
        id.birth_date()?;
        Ok(id)
    }

    /// The birth date the number encodes (the century from the individual number).
    pub fn birth_date(&self) -> Result<Date, NationalIdError> {
        let n =
            |range: std::ops::Range<usize>| -> u32 { self.0[range].parse().unwrap_or(u32::MAX) };
        let mut day = n(0..2);
        if day > 40 {
            day -= 40; // D-number
        }
        let month = n(2..4);
        let year = n(4..6) as i32;
        let individual = n(6..9);
        let century = match (individual, year) {
            (0..=499, _) => 1900,
            (500..=749, 54..=99) => 1800,
            (500..=999, 0..=39) => 2000,
            (900..=999, 40..=99) => 1900,
            _ => return Err(NationalIdError::BirthDate),
        };
        let month = Month::try_from(month as u8).map_err(|_| NationalIdError::BirthDate)?;
        Date::from_calendar_date(century + year, month, day as u8)
            .map_err(|_| NationalIdError::BirthDate)
    }

    fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for NationalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NationalId(<redacted>)")
    }
}

/// The two modulus-11 check digits of a number's first nine digits, or `None`
/// when one would be 10 (then no valid number starts with these nine digits).
pub fn check_digits(first_nine: &[u32]) -> Option<[u32; 2]> {
    let digit = |weights: &[u32], digits: &[u32]| -> Option<u32> {
        let sum: u32 = weights.iter().zip(digits).map(|(w, d)| w * d).sum();
        match 11 - sum % 11 {
            11 => Some(0),
            10 => None,
            k => Some(k),
        }
    };
    let k1 = digit(&[3, 7, 6, 1, 8, 9, 4, 5, 2], first_nine)?;
    let with_k1: Vec<u32> = first_nine.iter().copied().chain([k1]).collect();
    let k2 = digit(&[5, 4, 3, 2, 7, 6, 5, 4, 3, 2], &with_k1)?;
    Some([k1, k2])
}

/// A synthetic number for examples, tests and load generation (not a real
/// person): birth date `ddmmyy` and the first individual number from `first`
/// (modulo 1000) that has check digits. Individual numbers 000–499 mean the
/// 1900s, 500–999 the 2000s for years 00–39.
pub fn synthetic_national_id(birth: &str, first: u32) -> Option<String> {
    (first..first + 1000).find_map(|n| {
        let base = format!("{birth}{:03}", n % 1000);
        let digits: Option<Vec<u32>> = base.chars().map(|c| c.to_digit(10)).collect();
        let [k1, k2] = check_digits(&digits?)?;
        Some(format!("{base}{k1}{k2}"))
    })
}

/// Keys for protecting identity numbers at rest: a keyed hash to find a person
/// again, and authenticated encryption to read the number back for payroll.
///
/// A sealed number names the key that sealed it and is bound to its
/// participant: `0x01 ‖ key id (16 bytes) ‖ nonce (12) ‖ ciphertext`, the
/// participant id and key id as associated data, so a sealed value copied to
/// another participant's row no longer opens. Numbers sealed before key ids
/// (`nonce ‖ ciphertext`, no associated data) still open, and are re-sealed
/// when the service first adopts its key (`identity_keys`).
pub struct IdentityVault {
    lookup_key: [u8; 32],
    form_key: [u8; 32],
    cipher: ChaCha20Poly1305,
    key_id: [u8; KEY_ID_LEN],
}

/// The format byte of a sealed number with a key id and associated data.
const SEALED_V1: u8 = 1;
/// Bytes of a key id.
const KEY_ID_LEN: usize = 16;
/// Bytes of a nonce.
const NONCE_LEN: usize = 12;
/// Bytes of a sealed number (eleven digits and a 16-byte tag): with a key id,
/// and from before key ids. The formats are told apart by length, never by a
/// first byte alone (an earlier nonce may begin with any byte).
const SEALED_V1_LEN: usize = 1 + KEY_ID_LEN + NONCE_LEN + 11 + 16;
const UNMARKED_LEN: usize = NONCE_LEN + 11 + 16;

impl IdentityVault {
    /// Derives the lookup and sealing keys from one secret of at least 32 bytes.
    pub fn new(secret: &[u8]) -> Self {
        let derive = |label: &[u8]| -> [u8; 32] {
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
                .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
            mac.update(label);
            mac.finalize().into_bytes().into()
        };
        let seal_key = derive(b"kvp identity seal v1");
        let mut key_id = [0; KEY_ID_LEN];
        key_id.copy_from_slice(&derive(b"kvp identity key id v1")[..KEY_ID_LEN]);
        Self {
            lookup_key: derive(b"kvp identity lookup v1"),
            form_key: derive(b"kvp web form token v1"),
            cipher: ChaCha20Poly1305::new(Key::from_slice(&seal_key)),
            key_id,
        }
    }

    /// The key of the caseworker's page's form tokens: derived from the same
    /// secret, so every instance that shares it accepts the others' forms.
    pub fn form_token_key(&self) -> [u8; 32] {
        self.form_key
    }

    /// The key's public id: a keyed hash of the secret, which names the key
    /// in sealed numbers and in the database without revealing it.
    pub fn key_id(&self) -> String {
        self.key_id.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn associated_data(&self, participant_id: Uuid) -> Vec<u8> {
        let mut aad = b"kvp identity v1".to_vec();
        aad.extend_from_slice(participant_id.as_bytes());
        aad.extend_from_slice(&self.key_id);
        aad
    }

    /// The keyed hash under which a number is found again.
    pub fn lookup(&self, id: &NationalId) -> Vec<u8> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.lookup_key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(id.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// A participant's number encrypted with a fresh nonce, naming this key
    /// and bound to the participant.
    pub fn seal(&self, id: &NationalId, participant_id: Uuid) -> Vec<u8> {
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        let mut sealed = vec![SEALED_V1];
        sealed.extend_from_slice(&self.key_id);
        sealed.extend_from_slice(&nonce);
        let payload = Payload {
            msg: id.as_bytes(),
            aad: &self.associated_data(participant_id),
        };
        // Encryption with a valid key and nonce cannot fail for short messages.
        sealed.extend(self.cipher.encrypt(&nonce, payload).unwrap_or_default());
        sealed
    }

    /// Reads a participant's sealed number back; `None` when it was not
    /// sealed with this key for this participant. A number sealed before key
    /// ids opens with its key alone.
    pub fn open(&self, sealed: &[u8], participant_id: Uuid) -> Option<NationalId> {
        let plain = match sealed.split_first() {
            Some((&SEALED_V1, rest)) if sealed.len() == SEALED_V1_LEN => {
                let (key_id, rest) = rest.split_at(KEY_ID_LEN);
                if key_id != self.key_id {
                    return None;
                }
                let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
                let payload = Payload {
                    msg: ciphertext,
                    aad: &self.associated_data(participant_id),
                };
                self.cipher
                    .decrypt(Nonce::from_slice(nonce), payload)
                    .ok()?
            }
            _ if sealed.len() == UNMARKED_LEN => {
                let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
                self.cipher
                    .decrypt(Nonce::from_slice(nonce), ciphertext)
                    .ok()?
            }
            _ => return None,
        };
        NationalId::parse(std::str::from_utf8(&plain).ok()?).ok()
    }

    /// Whether a sealed number names this key (numbers sealed before key
    /// ids name none).
    pub fn sealed_by_this_key(&self, sealed: &[u8]) -> bool {
        sealed.len() == SEALED_V1_LEN
            && sealed.first() == Some(&SEALED_V1)
            && sealed.get(1..=KEY_ID_LEN) == Some(self.key_id.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    // Synthetic numbers with valid check digits (not real people).
    const FNR: &str = "15019012345";

    fn valid(birth: &str, first: u32) -> String {
        synthetic_national_id(birth, first).unwrap()
    }

    #[test]
    fn check_digits_and_birth_dates() {
        let id = NationalId::parse(&valid("150190", 123)).unwrap();
        assert_eq!(id.birth_date().unwrap(), date!(1990 - 01 - 15));
        let young = NationalId::parse(&valid("091022", 512)).unwrap();
        assert_eq!(young.birth_date().unwrap(), date!(2022 - 10 - 09));
        let d_number = NationalId::parse(&valid("550190", 123)).unwrap();
        assert_eq!(d_number.birth_date().unwrap(), date!(1990 - 01 - 15));
        assert_eq!(
            NationalId::parse(FNR).err(),
            Some(NationalIdError::CheckDigits)
        );
        assert_eq!(
            NationalId::parse("1501901234").err(),
            Some(NationalIdError::Format)
        );
        assert_eq!(
            NationalId::parse("1501901234x").err(),
            Some(NationalIdError::Format)
        );
        assert_eq!(
            NationalId::parse(&valid("320190", 123)).err(),
            Some(NationalIdError::BirthDate)
        );
    }

    #[test]
    fn numbers_never_print() {
        let id = NationalId::parse(&valid("150190", 123)).unwrap();
        assert_eq!(format!("{id:?}"), "NationalId(<redacted>)");
    }

    #[test]
    fn sealed_numbers_open_only_with_their_key_for_their_participant() {
        let id = NationalId::parse(&valid("150190", 123)).unwrap();
        let participant = Uuid::now_v7();
        let vault = IdentityVault::new(&[7; 32]);
        let sealed = vault.seal(&id, participant);
        assert!(!sealed.windows(11).any(|w| w == id.as_bytes()));
        assert_eq!(sealed.len(), SEALED_V1_LEN);
        assert_eq!(sealed[0], SEALED_V1);
        assert!(vault.sealed_by_this_key(&sealed));
        assert_eq!(vault.open(&sealed, participant), Some(id.clone()));
        assert_ne!(
            vault.seal(&id, participant),
            sealed,
            "a fresh nonce each time"
        );
        // Swapped to another participant's row, it does not open.
        assert_eq!(vault.open(&sealed, Uuid::now_v7()), None);
        assert_eq!(vault.lookup(&id), vault.lookup(&id));
        let other = IdentityVault::new(&[8; 32]);
        assert_eq!(other.open(&sealed, participant), None);
        assert!(!other.sealed_by_this_key(&sealed));
        assert_ne!(other.lookup(&id), vault.lookup(&id));
        assert_ne!(other.key_id(), vault.key_id());
        assert_eq!(vault.key_id().len(), 32);
        assert_eq!(IdentityVault::new(&[7; 32]).key_id(), vault.key_id());
    }

    #[test]
    fn a_number_sealed_before_key_ids_opens_with_its_key_alone() {
        let id = NationalId::parse(&valid("150190", 123)).unwrap();
        let vault = IdentityVault::new(&[7; 32]);
        // The earlier format: nonce ‖ ciphertext, no associated data.
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        let mut unmarked = nonce.to_vec();
        unmarked.extend(vault.cipher.encrypt(&nonce, id.as_bytes()).unwrap());
        assert_eq!(unmarked.len(), UNMARKED_LEN);
        assert!(!vault.sealed_by_this_key(&unmarked));
        assert_eq!(vault.open(&unmarked, Uuid::now_v7()), Some(id));
        assert_eq!(
            IdentityVault::new(&[8; 32]).open(&unmarked, Uuid::nil()),
            None
        );
    }
}
