//! The signer registry as verification sees it: who holds a key, in which role, and when
//! the key may sign.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The capacity in which a person signs a timesheet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The programme participant whose hours the timesheet records. Always required.
    Participant,
    /// The supervisor (veileder) who approves the timesheet. Always required.
    Supervisor,
    /// A course holder or employer who may co-sign the hours spent with them. Optional.
    Provider,
}

impl Role {
    /// Every role, in a fixed order.
    pub const ALL: [Role; 3] = [Role::Participant, Role::Supervisor, Role::Provider];

    /// The lowercase name used in JSON, storage and messages: `participant`,
    /// `supervisor` or `provider`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Participant => "participant",
            Role::Supervisor => "supervisor",
            Role::Provider => "provider",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not `participant`, `supervisor` or `provider`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown signer role {0:?}: expected participant, supervisor or provider")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == name)
            .ok_or_else(|| UnknownRole(name.to_owned()))
    }
}

/// A public key registered for one person in one role, with the window in which it may
/// sign.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegisteredKey {
    /// The identifier signatures carry in their DSSE `keyid` field; unique in the registry.
    pub keyid: String,
    /// The person the key belongs to (a participant or caseworker id, never a national
    /// identity number).
    pub person_id: String,
    /// The only role this key can sign in.
    pub role: Role,
    /// The Ed25519 public key.
    pub public_key: VerifyingKey,
    /// First instant the key may sign (inclusive).
    pub valid_from: OffsetDateTime,
    /// Last instant the key may sign (inclusive); `None` for no planned expiry.
    pub valid_until: Option<OffsetDateTime>,
    /// When the key was revoked, if it was: from that instant on it cannot sign.
    /// Revocation does not reach back: timesheets accepted before it stay accepted.
    pub revoked_at: Option<OffsetDateTime>,
}

/// Why a registered key may not sign at a given instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyUnusable {
    /// The key was revoked at or before the instant.
    Revoked {
        /// When it was revoked.
        revoked_at: OffsetDateTime,
    },
    /// The instant is before the key's validity window opens.
    NotYetValid {
        /// When the window opens.
        valid_from: OffsetDateTime,
    },
    /// The instant is after the key's validity window closed.
    Expired {
        /// The last instant the key could sign.
        valid_until: OffsetDateTime,
    },
}

impl fmt::Display for KeyUnusable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (what, instant) = match self {
            KeyUnusable::Revoked { revoked_at } => ("revoked at", revoked_at),
            KeyUnusable::NotYetValid { valid_from } => ("not valid before", valid_from),
            KeyUnusable::Expired { valid_until } => ("expired after", valid_until),
        };
        match instant.format(&Rfc3339) {
            Ok(text) => write!(f, "{what} {text}"),
            // Only years outside 0..=9999 cannot be written as RFC 3339.
            Err(_) => write!(f, "{what} {instant}"),
        }
    }
}

impl RegisteredKey {
    /// A key valid from `valid_from` with no expiry and no revocation.
    pub fn new(
        keyid: impl Into<String>,
        person_id: impl Into<String>,
        role: Role,
        public_key: VerifyingKey,
        valid_from: OffsetDateTime,
    ) -> Self {
        Self {
            keyid: keyid.into(),
            person_id: person_id.into(),
            role,
            public_key,
            valid_from,
            valid_until: None,
            revoked_at: None,
        }
    }

    /// The same key with its window closing at `valid_until` (inclusive).
    #[must_use]
    pub fn valid_until(mut self, valid_until: OffsetDateTime) -> Self {
        self.valid_until = Some(valid_until);
        self
    }

    /// The same key revoked at `revoked_at`.
    #[must_use]
    pub fn revoked_at(mut self, revoked_at: OffsetDateTime) -> Self {
        self.revoked_at = Some(revoked_at);
        self
    }

    /// Whether the key may sign at `at`: `valid_from <= at <= valid_until` and not revoked
    /// at or before `at`.
    pub fn is_usable_at(&self, at: OffsetDateTime) -> bool {
        self.check_usable_at(at).is_ok()
    }

    /// Like [`RegisteredKey::is_usable_at`], naming the reason when it is not. Revocation
    /// is reported first, being the one an auditor most needs to see.
    pub fn check_usable_at(&self, at: OffsetDateTime) -> Result<(), KeyUnusable> {
        if let Some(revoked_at) = self.revoked_at.filter(|revoked_at| *revoked_at <= at) {
            return Err(KeyUnusable::Revoked { revoked_at });
        }
        if at < self.valid_from {
            return Err(KeyUnusable::NotYetValid {
                valid_from: self.valid_from,
            });
        }
        if let Some(valid_until) = self.valid_until.filter(|valid_until| at > *valid_until) {
            return Err(KeyUnusable::Expired { valid_until });
        }
        Ok(())
    }
}

/// Where verification finds registered keys.
///
/// The trait is synchronous on purpose: a service backed by a database loads the keys
/// named by [`Envelope::keyids`](crate::Envelope::keyids) first, puts them in a
/// [`KeyRing`], and then verifies without I/O.
pub trait KeyLookup {
    /// The key registered under `keyid`, if any, including revoked and expired keys
    /// (verification reports those precisely rather than as unknown).
    fn key(&self, keyid: &str) -> Option<RegisteredKey>;
}

impl<T: KeyLookup + ?Sized> KeyLookup for &T {
    fn key(&self, keyid: &str) -> Option<RegisteredKey> {
        (**self).key(keyid)
    }
}

/// An in-memory registry keyed by each key's own `keyid`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyRing {
    keys: BTreeMap<String, RegisteredKey>,
}

impl KeyRing {
    /// An empty key ring.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `key` under its own keyid, returning the key it replaces, if any.
    pub fn insert(&mut self, key: RegisteredKey) -> Option<RegisteredKey> {
        self.keys.insert(key.keyid.clone(), key)
    }

    /// The key registered under `keyid`.
    pub fn get(&self, keyid: &str) -> Option<&RegisteredKey> {
        self.keys.get(keyid)
    }

    /// How many keys the ring holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the ring holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys, ordered by keyid.
    pub fn iter(&self) -> impl Iterator<Item = &RegisteredKey> {
        self.keys.values()
    }
}

impl KeyLookup for KeyRing {
    fn key(&self, keyid: &str) -> Option<RegisteredKey> {
        self.keys.get(keyid).cloned()
    }
}

impl FromIterator<RegisteredKey> for KeyRing {
    fn from_iter<I: IntoIterator<Item = RegisteredKey>>(keys: I) -> Self {
        let mut ring = Self::new();
        ring.extend(keys);
        ring
    }
}

impl Extend<RegisteredKey> for KeyRing {
    fn extend<I: IntoIterator<Item = RegisteredKey>>(&mut self, keys: I) {
        for key in keys {
            self.insert(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn key() -> RegisteredKey {
        RegisteredKey::new(
            "k",
            "p",
            Role::Participant,
            ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key(),
            datetime!(2024-01-01 00:00 UTC),
        )
        .valid_until(datetime!(2024-12-31 23:59:59 UTC))
    }

    #[test]
    fn the_validity_window_includes_both_ends() {
        let key = key();
        assert!(key.is_usable_at(datetime!(2024-01-01 00:00 UTC)));
        assert!(key.is_usable_at(datetime!(2024-12-31 23:59:59 UTC)));
        assert_eq!(
            key.check_usable_at(datetime!(2023-12-31 23:59:59 UTC)),
            Err(KeyUnusable::NotYetValid {
                valid_from: datetime!(2024-01-01 00:00 UTC)
            })
        );
        assert_eq!(
            key.check_usable_at(datetime!(2025-01-01 00:00 UTC)),
            Err(KeyUnusable::Expired {
                valid_until: datetime!(2024-12-31 23:59:59 UTC)
            })
        );
    }

    #[test]
    fn a_key_is_unusable_from_the_instant_of_its_revocation() {
        let key = key().revoked_at(datetime!(2024-06-01 12:00 UTC));
        assert!(key.is_usable_at(datetime!(2024-06-01 11:59:59 UTC)));
        assert_eq!(
            key.check_usable_at(datetime!(2024-06-01 12:00 UTC)),
            Err(KeyUnusable::Revoked {
                revoked_at: datetime!(2024-06-01 12:00 UTC)
            })
        );
    }

    #[test]
    fn the_reason_names_the_instant_in_rfc_3339() {
        let reason = KeyUnusable::Revoked {
            revoked_at: datetime!(2024-06-01 12:00 +02:00),
        };
        assert_eq!(reason.to_string(), "revoked at 2024-06-01T12:00:00+02:00");
    }

    #[test]
    fn roles_read_and_write_their_lowercase_names() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert_eq!(
            "Supervisor".parse::<Role>(),
            Err(UnknownRole("Supervisor".to_owned()))
        );
    }
}
