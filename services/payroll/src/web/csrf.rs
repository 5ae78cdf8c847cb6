//! Form tokens against cross-site request forgery. The page keeps no session
//! of its own (the OpenID Connect proxy holds the login), so a token is
//! stateless: the time it was issued and a keyed hash of the caller's audit
//! name and that time, under a key derived from the service's identity
//! secret. Every instance sharing the secret accepts every instance's
//! tokens; a token names its caller, so one caseworker's token is refused
//! for another, and it lasts a working day.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use time::OffsetDateTime;

/// How long a form may stay open before it is refused.
const LIFETIME_SECONDS: i64 = 12 * 60 * 60;

/// Issues and checks form tokens.
#[derive(Clone)]
pub struct FormTokens {
    key: [u8; 32],
}

impl FormTokens {
    /// Tokens under `key`.
    pub fn new(key: [u8; 32]) -> Self {
        Self { key }
    }

    fn mac(&self, actor: &str, issued: i64) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(b"kvp web form v1\0");
        mac.update(actor.as_bytes());
        mac.update(b"\0");
        mac.update(issued.to_string().as_bytes());
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// A token for `actor`'s forms, issued `now`.
    pub fn issue(&self, actor: &str, now: OffsetDateTime) -> String {
        let issued = now.unix_timestamp();
        format!("{issued}.{}", self.mac(actor, issued))
    }

    /// Whether `token` was issued for `actor` by a holder of the key, and is
    /// neither expired nor from the future.
    pub fn check(&self, actor: &str, token: &str, now: OffsetDateTime) -> bool {
        let Some((issued, mac)) = token.split_once('.') else {
            return false;
        };
        let Ok(issued) = issued.parse::<i64>() else {
            return false;
        };
        let age = now.unix_timestamp() - issued;
        if !(-60..=LIFETIME_SECONDS).contains(&age) {
            return false;
        }
        let expected = self.mac(actor, issued);
        // Compared in constant time: the hash is a secret until it matches.
        expected.len() == mac.len()
            && expected
                .bytes()
                .zip(mac.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_token_holds_for_its_actor_and_its_lifetime_only() {
        let tokens = FormTokens::new([7; 32]);
        let now = datetime!(2026-12-07 09:00 UTC);
        let token = tokens.issue("caseworker:kari", now);
        assert!(tokens.check("caseworker:kari", &token, now));
        assert!(tokens.check("caseworker:kari", &token, now + time::Duration::hours(11)));
        assert!(!tokens.check("caseworker:kari", &token, now + time::Duration::hours(13)));
        assert!(!tokens.check("caseworker:ola", &token, now));
        assert!(!FormTokens::new([8; 32]).check("caseworker:kari", &token, now));
        let (issued, mac) = token.split_once('.').unwrap_or_default();
        let later = format!("{}.{mac}", issued.parse::<i64>().unwrap_or(0) + 3600);
        assert!(!tokens.check("caseworker:kari", &later, now));
        assert!(!tokens.check("caseworker:kari", "", now));
        assert!(!tokens.check("caseworker:kari", "x.y", now));
    }
}
