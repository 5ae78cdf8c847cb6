//! Bearer token verification: a JWT signed by a configured key, with the
//! claims this service reads checked.

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::{HeaderMap, header};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::{Identity, MAX_SUBJECT, Refusal, Role};
use crate::config::{AuthConfig, ConfigError};

/// Seconds of clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY_SECONDS: u64 = 30;

/// Verifies bearer tokens; in development mode (no `auth` configured) it
/// checks nothing and lets `x-kvp-actor` name the caller.
#[derive(Clone)]
pub struct Authenticator(Option<Arc<Verifier>>);

/// A configured issuer, audience and keys.
pub(super) struct Verifier {
    issuer: String,
    audience: String,
    keys: HashMap<String, (Algorithm, DecodingKey)>,
}

impl Authenticator {
    /// Development mode for `None`; otherwise the configured issuer, audience
    /// and keys (every key checked: see [`AuthConfig::check`]).
    pub fn new(config: Option<&AuthConfig>) -> Result<Self, ConfigError> {
        let Some(config) = config else {
            return Ok(Self(None));
        };
        config.check()?;
        let keys = config
            .keys
            .iter()
            .map(|k| Ok((k.kid.clone(), k.verification_key()?)))
            .collect::<Result<_, ConfigError>>()?;
        Ok(Self(Some(Arc::new(Verifier {
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            keys,
        }))))
    }

    /// True when tokens are checked.
    pub fn enabled(&self) -> bool {
        self.0.is_some()
    }

    /// The verifier; none in development mode.
    pub(super) fn verifier(&self) -> Option<&Verifier> {
        self.0.as_deref()
    }
}

/// The claims this service reads, beyond the registered ones the library checks.
#[derive(Deserialize)]
struct Claims {
    sub: String,
    role: Role,
    #[serde(default)]
    municipality: Option<String>,
}

impl Verifier {
    /// The caller a request's bearer token proves, or why not.
    pub(super) fn authenticate(&self, headers: &HeaderMap) -> Result<Identity, Refusal> {
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Err(Refusal::NoToken);
        };
        let text = value
            .to_str()
            .map_err(|_| Refusal::InvalidToken("the authorization header is not text"))?;
        let (scheme, token) = text.split_once(' ').unwrap_or((text, ""));
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(Refusal::NoToken);
        }
        self.verify(token.trim())
    }

    fn verify(&self, token: &str) -> Result<Identity, Refusal> {
        use Refusal::InvalidToken as invalid;
        if token.is_empty() {
            return Err(invalid("the bearer token is empty"));
        }
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| invalid("the token is malformed or its algorithm is not supported"))?;
        let kid = header
            .kid
            .as_deref()
            .ok_or(invalid("the token names no key (kid)"))?;
        let (algorithm, key) = self
            .keys
            .get(kid)
            .ok_or(invalid("the token's key (kid) is not known"))?;
        if header.alg != *algorithm {
            return Err(invalid("the token's algorithm is not its key's"));
        }
        let mut validation = Validation::new(*algorithm);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECONDS;
        // Claims as plain JSON first, so an expired or foreign token is
        // reported as such before the claims are read.
        let data =
            jsonwebtoken::decode::<serde_json::Value>(token, key, &validation).map_err(|e| {
                invalid(match e.kind() {
                    ErrorKind::InvalidSignature => "the token's signature does not verify",
                    ErrorKind::ExpiredSignature => "the token has expired",
                    ErrorKind::ImmatureSignature => "the token is not valid yet (nbf)",
                    ErrorKind::InvalidIssuer => "the token's issuer is not accepted",
                    ErrorKind::InvalidAudience => "the token's audience is not accepted",
                    ErrorKind::MissingRequiredClaim(_) => {
                        "the token lacks a required claim (exp, iss, aud, sub)"
                    }
                    ErrorKind::InvalidAlgorithm => "the token's algorithm is not its key's",
                    _ => "the token is malformed",
                })
            })?;
        let claims: Claims = serde_json::from_value(data.claims).map_err(|_| {
            invalid(
                "the token's claims do not fit: sub a string; role caseworker, \
                 payroll_operator, auditor or administrator; municipality a string",
            )
        })?;
        if claims.sub.trim().is_empty()
            || claims.sub.len() > MAX_SUBJECT
            || claims.sub.chars().any(char::is_control)
        {
            return Err(invalid(
                "the token's sub must be 1-100 printable characters",
            ));
        }
        match &claims.municipality {
            Some(m) if m.len() != 4 || !m.chars().all(|c| c.is_ascii_digit()) => {
                return Err(invalid(
                    "the token's municipality must be a four-digit municipality number",
                ));
            }
            None if !claims.role.may_be_national() => {
                return Err(invalid(
                    "a caseworker or payroll_operator token must name its municipality",
                ));
            }
            _ => {}
        }
        Ok(Identity::Token {
            subject: claims.sub,
            role: claims.role,
            municipality: claims.municipality,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

    use super::*;
    use crate::config::TokenKey;
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::json;

    const ISSUER: &str = "https://login.test";
    const AUDIENCE: &str = "kvp-payroll";

    fn key(kid: &str, algorithm: &str, public: &str) -> TokenKey {
        TokenKey {
            kid: kid.into(),
            algorithm: algorithm.into(),
            public_key_pem: public.into(),
        }
    }

    fn verifier() -> Verifier {
        let config = AuthConfig {
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
            keys: vec![
                key(
                    "ed",
                    "EdDSA",
                    include_str!("../../../testdata/auth/eddsa-public.pem"),
                ),
                key(
                    "ec",
                    "ES256",
                    include_str!("../../../testdata/auth/es256-public.pem"),
                ),
                key(
                    "rsa",
                    "RS256",
                    include_str!("../../../testdata/auth/rs256-public.pem"),
                ),
            ],
        };
        let auth = Authenticator::new(Some(&config)).unwrap();
        Arc::try_unwrap(auth.0.unwrap()).ok().unwrap()
    }

    fn now() -> u64 {
        jsonwebtoken::get_current_timestamp()
    }

    fn claims() -> serde_json::Value {
        json!({
            "iss": ISSUER, "aud": AUDIENCE, "sub": "kari", "exp": now() + 300,
            "role": "caseworker", "municipality": "0301",
        })
    }

    fn token(kid: &str, algorithm: Algorithm, claims: &serde_json::Value) -> String {
        let key = match algorithm {
            Algorithm::EdDSA => {
                EncodingKey::from_ed_pem(include_bytes!("../../../testdata/auth/eddsa-private.pem"))
            }
            Algorithm::ES256 => {
                EncodingKey::from_ec_pem(include_bytes!("../../../testdata/auth/es256-private.pem"))
            }
            _ => EncodingKey::from_rsa_pem(include_bytes!(
                "../../../testdata/auth/rs256-private.pem"
            )),
        }
        .unwrap();
        let mut header = Header::new(algorithm);
        header.kid = Some(kid.into());
        encode(&header, claims, &key).unwrap()
    }

    fn refused(result: Result<Identity, Refusal>) -> &'static str {
        match result {
            Err(Refusal::InvalidToken(why)) => why,
            other => panic!("expected invalid_token, got {other:?}"),
        }
    }

    #[test]
    fn each_configured_algorithm_verifies_its_own_tokens() {
        let verifier = verifier();
        for (kid, algorithm) in [
            ("ed", Algorithm::EdDSA),
            ("ec", Algorithm::ES256),
            ("rsa", Algorithm::RS256),
        ] {
            let caller = verifier.verify(&token(kid, algorithm, &claims())).unwrap();
            assert_eq!(caller.actor_name(), "caseworker:kari", "{kid}");
        }
    }

    #[test]
    fn a_token_signed_by_another_key_or_algorithm_is_refused() {
        let verifier = verifier();
        // The EC key's token presented under the Ed key's id.
        assert_eq!(
            refused(verifier.verify(&token("ed", Algorithm::ES256, &claims()))),
            "the token's algorithm is not its key's"
        );
        // RS256 header, signed by the RSA key, but naming the EC key.
        assert_eq!(
            refused(verifier.verify(&token("ec", Algorithm::RS256, &claims()))),
            "the token's algorithm is not its key's"
        );
        // HS256 with a public key as the shared secret (algorithm confusion).
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("rsa".into());
        let forged = encode(
            &header,
            &claims(),
            &EncodingKey::from_secret(include_bytes!("../../../testdata/auth/rs256-public.pem")),
        )
        .unwrap();
        assert_eq!(
            refused(verifier.verify(&forged)),
            "the token's algorithm is not its key's"
        );
        assert_eq!(
            refused(verifier.verify(&token("nobody", Algorithm::EdDSA, &claims()))),
            "the token's key (kid) is not known"
        );
    }

    #[test]
    fn claims_are_checked_after_the_signature_and_the_dates() {
        let verifier = verifier();
        let with = |change: serde_json::Value| {
            let mut c = claims();
            for (k, v) in change.as_object().unwrap() {
                if v.is_null() {
                    c.as_object_mut().unwrap().remove(k);
                } else {
                    c[k] = v.clone();
                }
            }
            verifier.verify(&token("ed", Algorithm::EdDSA, &c))
        };
        let past = now() - LEEWAY_SECONDS - 60;
        assert_eq!(
            refused(with(json!({"exp": past, "role": "king"}))),
            "the token has expired"
        );
        assert!(with(json!({"exp": now() - 5})).is_ok(), "within the leeway");
        assert_eq!(
            refused(with(json!({"nbf": now() + LEEWAY_SECONDS + 60}))),
            "the token is not valid yet (nbf)"
        );
        for missing in ["exp", "iss", "aud", "sub"] {
            assert_eq!(
                refused(with(json!({ missing: null }))),
                "the token lacks a required claim (exp, iss, aud, sub)",
                "{missing}"
            );
        }
        assert!(refused(with(json!({"role": "superuser"}))).contains("role caseworker"));
        assert!(refused(with(json!({"municipality": "301"}))).contains("four-digit"));
        assert!(refused(with(json!({"municipality": null}))).contains("must name"));
        assert!(refused(with(json!({"sub": " "}))).contains("sub"));
        let national = with(json!({"role": "administrator", "municipality": null})).unwrap();
        assert!(matches!(
            national,
            Identity::Token {
                role: Role::Administrator,
                municipality: None,
                ..
            }
        ));
    }
}
