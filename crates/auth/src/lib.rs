//! Who is calling, as both KVP services establish it: bearer tokens (JWT) —
//! the settings (who issues tokens, the keys that verify them) and a verifier
//! generic over a service's own roles — and the URI names of a TLS client
//! certificate ([`certificate_uris`]), which say what a certificate's holder
//! is (`urn:kvp:…`).
//!
//! - A token is signed by a configured key named by its `kid` header; the
//!   header's `alg` must be that key's configured algorithm (EdDSA, ES256 or
//!   RS256: no HMAC, no `none`, no algorithm confusion).
//! - `iss`, `aud`, `exp` and `sub` are required, `nbf` is honoured, with
//!   [`LEEWAY_SECONDS`] of clock skew.
//! - Claims read: `sub` (1–100 printable characters: it names the caller in
//!   audit trails), `role` (the service's [`Role`]) and `municipality` (four
//!   digits), which only roles that [`Role::may_be_national`] may leave out.
//!
//! What a role may do, and where, is each service's policy; this crate only
//! says who is calling.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::marker::PhantomData;

use http::{HeaderMap, Method, header};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// An HTTP method as the policy names it (GET also covers HEAD).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// GET (and HEAD).
    Get,
    /// POST.
    Post,
    /// PUT.
    Put,
}

impl Verb {
    /// Whether a request's method is this one (HEAD is served as GET).
    pub fn matches(self, method: &Method) -> bool {
        match self {
            Self::Get => method == Method::GET || method == Method::HEAD,
            Self::Post => method == Method::POST,
            Self::Put => method == Method::PUT,
        }
    }

    /// The method's name, lower case (as OpenAPI keys operations).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "get",
            Self::Post => "post",
            Self::Put => "put",
        }
    }

    /// The methods a route served with `verbs` allows, for the `Allow` of a
    /// 405 (GET with HEAD).
    pub fn allow(verbs: impl IntoIterator<Item = Self>) -> Vec<&'static str> {
        let mut methods = Vec::new();
        for verb in verbs {
            match verb {
                Self::Get => methods.extend(["GET", "HEAD"]),
                Self::Post => methods.push("POST"),
                Self::Put => methods.push("PUT"),
            }
        }
        methods
    }
}

/// The URI subject alternative names of a DER certificate (the TLS handshake
/// already proved its chain and key), or why they cannot be read.
pub fn certificate_uris(der: &[u8]) -> Result<Vec<String>, &'static str> {
    use x509_parser::extensions::GeneralName;
    use x509_parser::prelude::{FromDer, X509Certificate};

    let (_, certificate) =
        X509Certificate::from_der(der).map_err(|_| "the client certificate cannot be parsed")?;
    let names = certificate
        .subject_alternative_name()
        .map_err(|_| "the client certificate's alternative names are malformed")?
        .map(|extension| extension.value.general_names.clone())
        .unwrap_or_default();
    Ok(names
        .into_iter()
        .filter_map(|name| match name {
            GeneralName::URI(uri) => Some(uri.to_owned()),
            _ => None,
        })
        .collect())
}

/// Seconds of clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY_SECONDS: u64 = 30;

/// The longest `sub` accepted (it is written into audit trails).
pub const MAX_SUBJECT: usize = 100;

/// Who issues tokens and the keys that verify them.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSettings {
    /// The required `iss` claim.
    pub issuer: String,
    /// The required `aud` claim.
    pub audience: String,
    /// Verification keys; a token names its key with the `kid` header.
    pub keys: Vec<TokenKey>,
}

/// One token verification key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenKey {
    /// The key id tokens carry in their `kid` header.
    pub kid: String,
    /// `EdDSA`, `ES256` or `RS256`.
    pub algorithm: String,
    /// The public key, PEM (SubjectPublicKeyInfo).
    pub public_key_pem: String,
}

/// A keys file: one `[[keys]]` table per key (`kid`, `algorithm`,
/// `public_key_pem`), as the `*_AUTH_KEYS_FILE` variables name.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenKeysFile {
    /// The keys.
    pub keys: Vec<TokenKey>,
}

/// The token settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A required setting is missing.
    #[error("{0}")]
    Incomplete(String),
    /// A verification key cannot be used.
    #[error("auth key {kid}: {message}")]
    Key {
        /// The key's id.
        kid: String,
        /// What is wrong with it.
        message: String,
    },
}

impl fmt::Debug for TokenSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSettings")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field(
                "keys",
                &self.keys.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// The algorithms a token key may be configured with. HMAC is not offered:
/// a shared secret would let the service mint tokens it accepts.
const TOKEN_ALGORITHMS: [(&str, Algorithm); 3] = [
    ("EdDSA", Algorithm::EdDSA),
    ("ES256", Algorithm::ES256),
    ("RS256", Algorithm::RS256),
];

impl TokenKey {
    /// The key's algorithm and verification key, checked now so that a bad key
    /// stops the service at start-up rather than failing every request: the
    /// algorithm must be one of `EdDSA`, `ES256`, `RS256` and the PEM a public
    /// key of that kind (Ed25519 and P-256 points are decoded; an RSA key is
    /// checked for its shape, as the verifier decodes it per use).
    pub fn verification_key(&self) -> Result<(Algorithm, DecodingKey), SettingsError> {
        let bad = |message: String| SettingsError::Key {
            kid: self.kid.clone(),
            message,
        };
        let algorithm = TOKEN_ALGORITHMS
            .iter()
            .find(|(name, _)| *name == self.algorithm)
            .map(|(_, algorithm)| *algorithm)
            .ok_or_else(|| {
                bad(format!(
                    "algorithm {:?} is not one of EdDSA, ES256, RS256",
                    self.algorithm
                ))
            })?;
        let pem = self.public_key_pem.as_bytes();
        let key = match algorithm {
            Algorithm::EdDSA => DecodingKey::from_ed_pem(pem),
            Algorithm::ES256 => DecodingKey::from_ec_pem(pem),
            _ => DecodingKey::from_rsa_pem(pem),
        }
        .map_err(|e| {
            bad(format!(
                "public_key_pem is not a PEM {} public key ({e})",
                self.algorithm
            ))
        })?;
        // The EdDSA verifier slices 32 bytes without checking the length.
        let length = key.try_get_as_bytes().map_or(0, <[u8]>::len);
        if algorithm == Algorithm::EdDSA && length != 32 {
            return Err(bad(format!(
                "public_key_pem holds {length} key bytes, an Ed25519 key has 32"
            )));
        }
        // Building a verifier decodes the point (Ed25519, P-256); a dummy
        // signature then merely fails to verify.
        jsonwebtoken::crypto::verify("AA", b"", &key, algorithm)
            .map_err(|e| bad(format!("public_key_pem is not a usable key ({e})")))?;
        Ok((algorithm, key))
    }
}

impl TokenSettings {
    /// Refuses incomplete settings and unusable keys, naming the key at fault
    /// (`section` is where the settings live, e.g. `auth`).
    pub fn check(&self, section: &str) -> Result<(), SettingsError> {
        for (what, value) in [("issuer", &self.issuer), ("audience", &self.audience)] {
            if value.trim().is_empty() {
                return Err(SettingsError::Incomplete(format!(
                    "{section}.{what} is required when {section} is configured"
                )));
            }
        }
        if self.keys.is_empty() {
            return Err(SettingsError::Incomplete(format!(
                "{section}.keys must hold at least one key"
            )));
        }
        let mut seen = BTreeSet::new();
        for key in &self.keys {
            if key.kid.trim().is_empty() {
                return Err(SettingsError::Incomplete(format!(
                    "{section}.keys: a key has an empty kid"
                )));
            }
            if !seen.insert(key.kid.as_str()) {
                return Err(SettingsError::Key {
                    kid: key.kid.clone(),
                    message: "the kid is given twice".into(),
                });
            }
            key.verification_key()?;
        }
        Ok(())
    }
}

/// A service's roles, as the `role` claim names them.
pub trait Role: DeserializeOwned + Copy {
    /// The refusal when the claims do not have the shape this service reads,
    /// naming the role values it knows.
    const CLAIMS_SHAPE: &'static str;
    /// The refusal when a role that must name its municipality does not.
    const MUST_NAME_MUNICIPALITY: &'static str;

    /// Whether a token of this role may leave out `municipality` and act
    /// nationally.
    fn may_be_national(self) -> bool;
}

/// Who a verified token says is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims<R> {
    /// `sub`.
    pub subject: String,
    /// `role`.
    pub role: R,
    /// `municipality`; `None` for a national role.
    pub municipality: Option<String>,
}

/// Why a request's credentials prove no caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRefusal {
    /// No bearer credentials at all: a bare challenge.
    Missing,
    /// A token that fails a check (`error="invalid_token"`), and why.
    Invalid(&'static str),
}

impl TokenRefusal {
    /// What the refusal says to the caller.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Missing => "a bearer token is required",
            Self::Invalid(why) => why,
        }
    }

    /// The `WWW-Authenticate` challenge for the refusal (RFC 6750).
    pub fn challenge(self, realm: &str) -> String {
        match self {
            Self::Missing => format!("Bearer realm=\"{realm}\""),
            Self::Invalid(why) => format!(
                "Bearer realm=\"{realm}\", error=\"invalid_token\", error_description=\"{why}\""
            ),
        }
    }
}

/// The `WWW-Authenticate` challenge of a valid token that may not do what it
/// asks (RFC 6750 `insufficient_scope`).
pub fn insufficient_scope(realm: &str) -> String {
    format!("Bearer realm=\"{realm}\", error=\"insufficient_scope\"")
}

/// Verifies bearer tokens against configured settings.
pub struct Verifier<R> {
    issuer: String,
    audience: String,
    keys: HashMap<String, (Algorithm, DecodingKey)>,
    role: PhantomData<fn() -> R>,
}

/// The claims read beyond the registered ones the library checks.
#[derive(Deserialize)]
#[serde(bound = "R: DeserializeOwned")]
struct ClaimsRead<R> {
    sub: String,
    role: R,
    #[serde(default)]
    municipality: Option<String>,
}

impl<R: Role> Verifier<R> {
    /// A verifier for the settings, every key checked (see
    /// [`TokenSettings::check`]; `section` names the settings in errors).
    pub fn new(settings: &TokenSettings, section: &str) -> Result<Self, SettingsError> {
        settings.check(section)?;
        let keys = settings
            .keys
            .iter()
            .map(|k| Ok((k.kid.clone(), k.verification_key()?)))
            .collect::<Result<_, SettingsError>>()?;
        Ok(Self {
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            keys,
            role: PhantomData,
        })
    }

    /// The caller a request's bearer token proves, or why not.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Claims<R>, TokenRefusal> {
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Err(TokenRefusal::Missing);
        };
        let text = value
            .to_str()
            .map_err(|_| TokenRefusal::Invalid("the authorization header is not text"))?;
        let (scheme, token) = text.split_once(' ').unwrap_or((text, ""));
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(TokenRefusal::Missing);
        }
        self.verify(token.trim())
    }

    /// The caller a compact JWS proves, or why not.
    pub fn verify(&self, token: &str) -> Result<Claims<R>, TokenRefusal> {
        use TokenRefusal::Invalid as invalid;
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
        let claims: ClaimsRead<R> =
            serde_json::from_value(data.claims).map_err(|_| invalid(R::CLAIMS_SHAPE))?;
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
                return Err(invalid(R::MUST_NAME_MUNICIPALITY));
            }
            _ => {}
        }
        Ok(Claims {
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
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::json;

    const ISSUER: &str = "https://login.test";
    const AUDIENCE: &str = "kvp-test";
    const ED_PUBLIC: &str = include_str!("../testdata/eddsa-public.pem");
    const EC_PUBLIC: &str = include_str!("../testdata/es256-public.pem");
    const RSA_PUBLIC: &str = include_str!("../testdata/rs256-public.pem");

    #[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum TestRole {
        Clerk,
        Auditor,
    }

    impl Role for TestRole {
        const CLAIMS_SHAPE: &'static str = "role clerk or auditor";
        const MUST_NAME_MUNICIPALITY: &'static str = "a clerk token must name its municipality";
        fn may_be_national(self) -> bool {
            self == Self::Auditor
        }
    }

    fn key(kid: &str, algorithm: &str, public: &str) -> TokenKey {
        TokenKey {
            kid: kid.into(),
            algorithm: algorithm.into(),
            public_key_pem: public.into(),
        }
    }

    fn settings(keys: Vec<TokenKey>) -> TokenSettings {
        TokenSettings {
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
            keys,
        }
    }

    fn verifier() -> Verifier<TestRole> {
        let all = settings(vec![
            key("ed", "EdDSA", ED_PUBLIC),
            key("ec", "ES256", EC_PUBLIC),
            key("rsa", "RS256", RSA_PUBLIC),
        ]);
        Verifier::new(&all, "auth").unwrap()
    }

    fn now() -> u64 {
        jsonwebtoken::get_current_timestamp()
    }

    fn claims() -> serde_json::Value {
        json!({
            "iss": ISSUER, "aud": AUDIENCE, "sub": "kari", "exp": now() + 300,
            "role": "clerk", "municipality": "0301",
        })
    }

    fn token(kid: &str, algorithm: Algorithm, claims: &serde_json::Value) -> String {
        let key = match algorithm {
            Algorithm::EdDSA => {
                EncodingKey::from_ed_pem(include_bytes!("../testdata/eddsa-private.pem"))
            }
            Algorithm::ES256 => {
                EncodingKey::from_ec_pem(include_bytes!("../testdata/es256-private.pem"))
            }
            _ => EncodingKey::from_rsa_pem(include_bytes!("../testdata/rs256-private.pem")),
        }
        .unwrap();
        let mut header = Header::new(algorithm);
        header.kid = Some(kid.into());
        encode(&header, claims, &key).unwrap()
    }

    fn refused(result: Result<Claims<TestRole>, TokenRefusal>) -> &'static str {
        match result {
            Err(TokenRefusal::Invalid(why)) => why,
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
            assert_eq!(
                caller,
                Claims {
                    subject: "kari".into(),
                    role: TestRole::Clerk,
                    municipality: Some("0301".into()),
                },
                "{kid}"
            );
        }
    }

    #[test]
    fn the_authorization_header_must_carry_a_bearer_token() {
        let verifier = verifier();
        let mut headers = HeaderMap::new();
        assert_eq!(
            verifier.authenticate(&headers).unwrap_err(),
            TokenRefusal::Missing
        );
        headers.insert(header::AUTHORIZATION, "Basic a2FyaTpw".parse().unwrap());
        assert_eq!(
            verifier.authenticate(&headers).unwrap_err(),
            TokenRefusal::Missing
        );
        headers.insert(header::AUTHORIZATION, "Bearer ".parse().unwrap());
        assert_eq!(
            refused(verifier.authenticate(&headers)),
            "the bearer token is empty"
        );
        let good = format!("bearer {}", token("ed", Algorithm::EdDSA, &claims()));
        headers.insert(header::AUTHORIZATION, good.parse().unwrap());
        assert_eq!(verifier.authenticate(&headers).unwrap().subject, "kari");
        assert_eq!(
            TokenRefusal::Invalid("the token has expired").challenge("kvp"),
            "Bearer realm=\"kvp\", error=\"invalid_token\", \
             error_description=\"the token has expired\""
        );
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
            &EncodingKey::from_secret(RSA_PUBLIC.as_bytes()),
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
        assert_eq!(
            refused(with(json!({"role": "superuser"}))),
            TestRole::CLAIMS_SHAPE
        );
        assert!(refused(with(json!({"municipality": "301"}))).contains("four-digit"));
        assert_eq!(
            refused(with(json!({"municipality": null}))),
            TestRole::MUST_NAME_MUNICIPALITY
        );
        assert!(refused(with(json!({"sub": " "}))).contains("sub"));
        let national = with(json!({"role": "auditor", "municipality": null})).unwrap();
        assert_eq!(
            (national.role, national.municipality),
            (TestRole::Auditor, None)
        );
    }

    #[test]
    fn an_unusable_key_is_refused_naming_its_kid() {
        assert!(
            settings(vec![
                key("ed", "EdDSA", ED_PUBLIC),
                key("ec", "ES256", EC_PUBLIC)
            ])
            .check("auth")
            .is_ok()
        );
        for (keys, expected) in [
            (
                vec![key("k1", "HS256", ED_PUBLIC)],
                "auth key k1: algorithm \"HS256\" is not one of",
            ),
            (
                vec![key("k2", "EdDSA", "not a pem")],
                "auth key k2: public_key_pem is not a PEM EdDSA",
            ),
            (
                vec![key("k3", "EdDSA", EC_PUBLIC)],
                "auth key k3: public_key_pem is not a PEM EdDSA",
            ),
            (
                vec![key("k4", "RS256", EC_PUBLIC)],
                "auth key k4: public_key_pem is not a PEM RS256",
            ),
            (
                vec![key("k5", "ES256", ED_PUBLIC)],
                "auth key k5: public_key_pem is not a PEM ES256",
            ),
            (
                vec![key("k6", "EdDSA", ED_PUBLIC), key("k6", "EdDSA", ED_PUBLIC)],
                "auth key k6: the kid is given twice",
            ),
            (vec![], "auth.keys must hold at least one key"),
        ] {
            let err = settings(keys).check("auth").unwrap_err().to_string();
            assert!(err.starts_with(expected), "{err}");
        }
        let mut unnamed = settings(vec![key("k", "EdDSA", ED_PUBLIC)]);
        unnamed.issuer = " ".into();
        assert_eq!(
            unnamed.check("auth").unwrap_err().to_string(),
            "auth.issuer is required when auth is configured"
        );
    }

    #[test]
    fn a_keys_file_is_read_and_the_settings_print_no_key_material() {
        let text = format!(
            "[[keys]]\nkid = \"2026-01\"\nalgorithm = \"EdDSA\"\npublic_key_pem = \"\"\"\n{ED_PUBLIC}\"\"\"\n"
        );
        let file: TokenKeysFile = toml::from_str(&text).unwrap();
        let settings = settings(file.keys);
        settings.check("auth").unwrap();
        let printed = format!("{settings:?}");
        assert!(printed.contains("2026-01"), "{printed}");
        assert!(!printed.contains("BEGIN PUBLIC KEY"), "{printed}");
    }
}
