//! REST authentication and authorisation: bearer tokens (JWT) with a role,
//! scoped to a municipality, checked per route from one table, [`POLICY`].
//!
//! Decisions (README, "Security"):
//!
//! - **Tokens** are JWTs signed by a key from the configuration, named by the
//!   `kid` header; the header's `alg` must be that key's configured algorithm
//!   (EdDSA, ES256 or RS256: no HMAC, no `none`, no algorithm confusion).
//!   `iss`, `aud`, `exp` and `sub` are required, `nbf` is honoured, with
//!   [`LEEWAY_SECONDS`] of clock skew. Claims: `sub`, `role` (`caseworker`,
//!   `payroll_operator`, `auditor`, `administrator`) and `municipality` (four
//!   digits).
//! - **National callers**: `caseworker` and `payroll_operator` tokens must
//!   name their municipality. `auditor` and `administrator` tokens may leave
//!   it out and are then national: they reach every municipality, and only
//!   they may change national resources — the G table and the signer keys of
//!   supervisors and providers, which sign for any municipality. Everyone
//!   allowed on a route may read national resources.
//! - **Scope** comes from the resource: a participant's municipality, a
//!   programme's participant's, a run's, a participant key's participant's, an
//!   audit subject's; for new participants and keys, from the body.
//! - **Codes**: no token, or one that fails any check, is 401 with
//!   `WWW-Authenticate: Bearer` (`error="invalid_token"` when a token was
//!   given). A valid token whose role the route does not allow is 403, and so
//!   is a resource of another municipality: ids are random UUIDs, so 403
//!   discloses little, and it tells a caller with a wrong token what is wrong
//!   where a 404 would mislead. A missing resource is 404 as before. Checks run
//!   in that order — token, role, scope — before the handler sees the request.
//! - **Public** without a token: `/healthz`, `/readyz`, `/metrics`,
//!   `/openapi.json`. A route missing from [`POLICY`] is refused to every
//!   token (and a test enumerating the OpenAPI paths fails).
//! - **Audit actor**: `<role>:<sub>` from the token. The `x-kvp-actor` header
//!   is honoured only in development mode (no `auth` configured), where no
//!   check runs at all.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, MatchedPath, RawPathParams, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use kvp_store::{Repository, SignerKey, SignerRole, StoreError};
use serde::Deserialize;
use uuid::Uuid;

use crate::config::{AuthConfig, ConfigError};
use crate::error::ServiceError;
use crate::payroll::{Actor, Payroll};

/// Seconds of clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY_SECONDS: u64 = 30;
/// The realm named in `WWW-Authenticate` challenges.
const REALM: &str = "kvp-payroll";
/// The longest `sub` accepted (it is written into the audit log).
const MAX_SUBJECT: usize = 100;

/// What a caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A veileder: registers participants and their facts, decides sanctions.
    Caseworker,
    /// Runs the municipality's payroll: pay runs, their export, payslips.
    PayrollOperator,
    /// Reads everything, the audit trail included; changes nothing.
    Auditor,
    /// Municipalities and their policy, signer keys, the G.
    Administrator,
}

impl Role {
    /// The claim value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Caseworker => "caseworker",
            Self::PayrollOperator => "payroll_operator",
            Self::Auditor => "auditor",
            Self::Administrator => "administrator",
        }
    }

    /// Whether a token of this role may leave out `municipality` and act nationally.
    pub fn may_be_national(self) -> bool {
        matches!(self, Self::Auditor | Self::Administrator)
    }
}

/// Who is calling, as the handlers see it.
#[derive(Debug, Clone)]
pub enum Caller {
    /// Development mode: nothing is checked; `x-kvp-actor` names the caller.
    Development {
        /// The header's value, or `development-mode`.
        actor: String,
    },
    /// A verified bearer token.
    Token {
        /// `sub`.
        subject: String,
        /// `role`.
        role: Role,
        /// `municipality`; `None` for a national auditor or administrator.
        municipality: Option<String>,
    },
}

impl Caller {
    /// The caller as the audit log names it: `<role>:<sub>` for a token.
    pub fn actor(&self) -> Actor {
        match self {
            Self::Development { actor } => Actor(actor.clone()),
            Self::Token { subject, role, .. } => Actor(format!("{}:{subject}", role.as_str())),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ServiceError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // The guard puts it there on every route; a handler outside the guard
        // is a wiring fault, refused rather than run anonymously.
        parts.extensions.get::<Caller>().cloned().ok_or_else(|| {
            ServiceError::internal(anyhow::anyhow!(
                "no caller: the route is not behind the guard"
            ))
        })
    }
}

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
    fn matches(self, method: &Method) -> bool {
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
}

/// Whose data a route touches: how the municipality a token must be for is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// Nobody's: computations and the G table as read.
    Nobody,
    /// The nation's: changing it needs a national token.
    Nation,
    /// The municipality `{id}`.
    Municipality,
    /// The participant `{id}`'s municipality.
    Participant,
    /// The programme `{id}`'s participant's municipality.
    Programme,
    /// The pay run `{id}`'s municipality.
    Run,
    /// The signer key `{keyid}`: a participant key's participant's
    /// municipality; supervisor and provider keys are national.
    SignerKey,
    /// The audit subject `{subject_type}/{subject_id}`'s municipality.
    AuditSubject,
    /// The body's `municipality_id` (a new participant).
    NewParticipant,
    /// The body's key, as for [`Owner::SignerKey`] (a new signer key).
    NewSignerKey,
}

impl Owner {
    fn describe(self) -> &'static str {
        match self {
            Self::Nobody => "any municipality",
            Self::Nation => "national tokens only",
            Self::Municipality => "the municipality in the path",
            Self::Participant => "the participant's municipality",
            Self::Programme => "the programme's participant's municipality",
            Self::Run => "the run's municipality",
            Self::SignerKey => {
                "a participant key's municipality; supervisor and provider keys: national to change"
            }
            Self::AuditSubject => "the subject's municipality",
            Self::NewParticipant => "the body's municipality_id",
            Self::NewSignerKey => {
                "a participant key's municipality; supervisor and provider keys: national tokens only"
            }
        }
    }
}

/// Who may call a route.
#[derive(Debug, Clone, Copy)]
pub enum Access {
    /// No token needed.
    Public,
    /// A token of one of these roles, for the owner's municipality.
    Roles(&'static [Role], Owner),
}

/// One route's rule.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// The method.
    pub verb: Verb,
    /// The route template, as the router and the OpenAPI document spell it.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
}

const fn rule(verb: Verb, path: &'static str, access: Access) -> Rule {
    Rule { verb, path, access }
}

use Access::{Public, Roles};
use Role::{Administrator, Auditor, Caseworker, PayrollOperator};
use Verb::{Get, Post, Put};

/// Every role: reads of a municipality's data, national reads, computations.
const EVERYONE: &[Role] = &[Caseworker, PayrollOperator, Auditor, Administrator];
/// Pay runs and their export: the payroll file of a whole municipality, not
/// a caseworker's business (payslips of one participant are).
const PAYROLL: &[Role] = &[PayrollOperator, Auditor, Administrator];
/// Participants and their facts, decisions.
const CASEWORKER: &[Role] = &[Caseworker];
/// Municipalities and their policy, signer keys, the G.
const ADMINISTRATOR: &[Role] = &[Administrator];
/// The audit trail is the check on every other role, administrators
/// included: only auditors read it.
const AUDITOR: &[Role] = &[Auditor];

/// Every REST route: who may call it and whose data it touches.
#[rustfmt::skip]
pub const POLICY: &[Rule] = &[
    rule(Get,  "/healthz",                                   Public),
    rule(Get,  "/readyz",                                    Public),
    rule(Get,  "/metrics",                                   Public),
    rule(Get,  "/openapi.json",                              Public),
    rule(Put,  "/v1/municipalities/{id}",                    Roles(ADMINISTRATOR, Owner::Municipality)),
    rule(Get,  "/v1/municipalities/{id}",                    Roles(EVERYONE,      Owner::Municipality)),
    rule(Get,  "/v1/municipalities/{id}/runs",               Roles(PAYROLL,       Owner::Municipality)),
    rule(Post, "/v1/participants",                           Roles(CASEWORKER,    Owner::NewParticipant)),
    rule(Get,  "/v1/participants/{id}",                      Roles(EVERYONE,      Owner::Participant)),
    rule(Post, "/v1/participants/{id}/children",             Roles(CASEWORKER,    Owner::Participant)),
    rule(Post, "/v1/participants/{id}/sole-carer-periods",   Roles(CASEWORKER,    Owner::Participant)),
    rule(Post, "/v1/participants/{id}/benefit-offsets",      Roles(CASEWORKER,    Owner::Participant)),
    rule(Post, "/v1/participants/{id}/programmes",           Roles(CASEWORKER,    Owner::Participant)),
    rule(Post, "/v1/participants/{id}/sanction-decisions",   Roles(CASEWORKER,    Owner::Participant)),
    rule(Get,  "/v1/participants/{id}/sanction-decisions",   Roles(EVERYONE,      Owner::Participant)),
    rule(Get,  "/v1/participants/{id}/absence-overview",     Roles(EVERYONE,      Owner::Participant)),
    rule(Get,  "/v1/participants/{id}/months/{month}",       Roles(EVERYONE,      Owner::Participant)),
    rule(Get,  "/v1/participants/{id}/timesheets",           Roles(EVERYONE,      Owner::Participant)),
    rule(Get,  "/v1/participants/{id}/payslips/{month}",     Roles(EVERYONE,      Owner::Participant)),
    rule(Put,  "/v1/programmes/{id}/end",                    Roles(CASEWORKER,    Owner::Programme)),
    rule(Post, "/v1/programmes/{id}/pauses",                 Roles(CASEWORKER,    Owner::Programme)),
    rule(Post, "/v1/signer-keys",                            Roles(ADMINISTRATOR, Owner::NewSignerKey)),
    rule(Get,  "/v1/signer-keys/{keyid}",                    Roles(EVERYONE,      Owner::SignerKey)),
    rule(Post, "/v1/signer-keys/{keyid}/revocation",         Roles(ADMINISTRATOR, Owner::SignerKey)),
    rule(Get,  "/v1/audit/{subject_type}/{subject_id}",      Roles(AUDITOR,       Owner::AuditSubject)),
    rule(Post, "/v1/simulations",                            Roles(EVERYONE,      Owner::Nobody)),
    rule(Get,  "/v1/parameters/g",                           Roles(EVERYONE,      Owner::Nobody)),
    rule(Post, "/v1/parameters/g",                           Roles(ADMINISTRATOR, Owner::Nation)),
    rule(Get,  "/v1/runs/{id}/export",                       Roles(PAYROLL,       Owner::Run)),
];

/// The rule of a route template and method, if there is one.
pub fn rule_for(method: &Method, path: &str) -> Option<&'static Rule> {
    POLICY
        .iter()
        .find(|r| r.path == path && r.verb.matches(method))
}

/// Verifies bearer tokens; in development mode (no `auth` configured) it
/// checks nothing and lets `x-kvp-actor` name the caller.
#[derive(Clone)]
pub struct Authenticator(Option<Arc<Verifier>>);

struct Verifier {
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
    fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, Refusal> {
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

    fn verify(&self, token: &str) -> Result<Caller, Refusal> {
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
        Ok(Caller::Token {
            subject: claims.sub,
            role: claims.role,
            municipality: claims.municipality,
        })
    }
}

/// Why a request was refused before its handler.
#[derive(Debug)]
enum Refusal {
    /// No bearer credentials at all: 401 with a bare challenge.
    NoToken,
    /// A token that fails a check: 401 `invalid_token`.
    InvalidToken(&'static str),
    /// Role or municipality not allowed: 403.
    Forbidden(String),
    /// Resolving the owner failed (a bad id, a missing resource): as the handler would answer.
    Service(ServiceError),
}

impl From<ServiceError> for Refusal {
    fn from(error: ServiceError) -> Self {
        Self::Service(error)
    }
}

impl From<StoreError> for Refusal {
    fn from(error: StoreError) -> Self {
        Self::Service(error.into())
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (error, challenge) = match self {
            Self::NoToken => (
                ServiceError::Unauthenticated {
                    what: "a bearer token is required".into(),
                },
                format!("Bearer realm=\"{REALM}\""),
            ),
            Self::InvalidToken(why) => (
                ServiceError::Unauthenticated { what: why.into() },
                format!(
                    "Bearer realm=\"{REALM}\", error=\"invalid_token\", error_description=\"{why}\""
                ),
            ),
            Self::Forbidden(what) => (
                ServiceError::PermissionDenied { what },
                format!("Bearer realm=\"{REALM}\", error=\"insufficient_scope\""),
            ),
            Self::Service(error) => return error.into_response(),
        };
        let mut response = error.into_response();
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

/// The guard's state: the token verifier and the store that tells whose a
/// resource is.
#[derive(Clone)]
pub struct Guard {
    auth: Authenticator,
    payroll: Arc<Payroll>,
}

impl Guard {
    /// A guard over `payroll`'s resources.
    pub fn new(auth: Authenticator, payroll: Arc<Payroll>) -> Self {
        Self { auth, payroll }
    }
}

/// Middleware on every route: authenticates, checks the route's rule and the
/// resource's municipality, and hands the [`Caller`] to the handler.
pub async fn guard(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    match admit(&guard, request).await {
        Ok(request) => next.run(request).await,
        Err(refusal) => {
            if !matches!(refusal, Refusal::Service(_)) {
                tracing::info!(refusal = ?refusal, "request refused");
            }
            refusal.into_response()
        }
    }
}

async fn admit(guard: &Guard, mut request: Request) -> Result<Request, Refusal> {
    let Some(verifier) = &guard.auth.0 else {
        let actor = development_actor(request.headers());
        request
            .extensions_mut()
            .insert(Caller::Development { actor });
        return Ok(request);
    };
    let template = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let Some(rule) = rule_for(request.method(), &template) else {
        tracing::error!(route = %template, "no access rule for this route: refused");
        return Err(Refusal::Forbidden(
            "no access rule covers this route".into(),
        ));
    };
    let Access::Roles(roles, owner) = rule.access else {
        return Ok(request);
    };
    let caller = verifier.authenticate(request.headers())?;
    let Caller::Token {
        role, municipality, ..
    } = &caller
    else {
        return Err(Refusal::NoToken);
    };
    if !roles.contains(role) {
        return Err(Refusal::Forbidden(format!(
            "the {} role may not call {} {template}",
            role.as_str(),
            request.method()
        )));
    }
    // National tokens reach every municipality: nothing to look up.
    if let Some(municipality) = municipality {
        let changes = !matches!(rule.verb, Verb::Get);
        let (jurisdiction, back) =
            jurisdiction(owner, guard.payroll.store().as_ref(), request).await?;
        request = back;
        jurisdiction.admits(municipality, changes)?;
    }
    request.extensions_mut().insert(caller);
    Ok(request)
}

/// The `x-kvp-actor` header (development mode only).
fn development_actor(headers: &HeaderMap) -> String {
    headers
        .get("x-kvp-actor")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= MAX_SUBJECT)
        .unwrap_or("development-mode")
        .to_owned()
}

/// Whose a resource is.
#[derive(Debug, PartialEq, Eq)]
enum Jurisdiction {
    /// Nobody's: open to every allowed role.
    Open,
    /// The nation's: readable by all, changed by national tokens only.
    National,
    /// One municipality's.
    Municipal(String),
}

impl Jurisdiction {
    /// Whether a token for `municipality` may read (or change) it.
    fn admits(&self, municipality: &str, changes: bool) -> Result<(), Refusal> {
        match self {
            Self::Open => Ok(()),
            Self::National if !changes => Ok(()),
            Self::National => Err(Refusal::Forbidden(format!(
                "this is a national resource: the token is for municipality {municipality}; \
                 changing it needs a national token"
            ))),
            Self::Municipal(owner) if owner == municipality => Ok(()),
            Self::Municipal(_) => Err(Refusal::Forbidden(format!(
                "the resource is outside the token's municipality {municipality}"
            ))),
        }
    }
}

/// Finds whose the request's resource is; hands the request back (with its
/// body restored when the body had to be read).
async fn jurisdiction(
    owner: Owner,
    store: &dyn Repository,
    request: Request,
) -> Result<(Jurisdiction, Request), Refusal> {
    let (mut parts, body) = request.into_parts();
    let params = RawPathParams::from_request_parts(&mut parts, &())
        .await
        .ok();
    let param = |name: &str| -> Result<String, Refusal> {
        params
            .as_ref()
            .and_then(|p| {
                p.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_owned())
            })
            .ok_or_else(|| {
                Refusal::Service(ServiceError::internal(anyhow::anyhow!(
                    "the route has no {name} parameter"
                )))
            })
    };
    let mut body = Some(body);
    let found = match owner {
        Owner::Nobody => Jurisdiction::Open,
        Owner::Nation => Jurisdiction::National,
        Owner::Municipality => Jurisdiction::Municipal(param("id")?),
        Owner::Participant => of_participant(store, uuid(&param("id")?, "id")?).await?,
        Owner::Programme => of_programme(store, uuid(&param("id")?, "id")?).await?,
        Owner::Run => Jurisdiction::Municipal(
            store
                .get_run(uuid(&param("id")?, "id")?)
                .await?
                .municipality_id,
        ),
        Owner::SignerKey => of_key(store, &store.get_signer_key(&param("keyid")?).await?).await?,
        Owner::AuditSubject => {
            of_audit_subject(store, &param("subject_type")?, &param("subject_id")?).await?
        }
        Owner::NewParticipant | Owner::NewSignerKey => {
            // Read as the handler's extractor reads it: the router's body
            // limit applies and is reported as 413.
            let limit = parts
                .extensions
                .get::<super::limits::RequestBounds>()
                .map(|b| b.max_body_bytes);
            let whole = Request::from_parts(parts.clone(), body.take().unwrap_or_default());
            let bytes = Bytes::from_request(whole, &())
                .await
                .map_err(|e| match e.status() {
                    StatusCode::PAYLOAD_TOO_LARGE => ServiceError::TooLarge {
                        limit: limit.unwrap_or_default(),
                    },
                    _ => ServiceError::field("body", e.body_text()),
                })?;
            let found = if owner == Owner::NewParticipant {
                #[derive(Deserialize)]
                struct NewParticipant {
                    municipality_id: String,
                }
                let new: NewParticipant = super::extract::parse(&bytes)?;
                Jurisdiction::Municipal(new.municipality_id)
            } else {
                of_new_key(store, &super::extract::parse(&bytes)?).await?
            };
            body = Some(Body::from(bytes));
            found
        }
    };
    let request = Request::from_parts(parts, body.unwrap_or_default());
    Ok((found, request))
}

fn uuid(text: &str, field: &str) -> Result<Uuid, ServiceError> {
    Uuid::parse_str(text).map_err(|_| ServiceError::field(field, "must be a UUID"))
}

async fn of_participant(store: &dyn Repository, id: Uuid) -> Result<Jurisdiction, Refusal> {
    Ok(Jurisdiction::Municipal(
        store.get_participant(id).await?.municipality_id,
    ))
}

async fn of_programme(store: &dyn Repository, id: Uuid) -> Result<Jurisdiction, Refusal> {
    of_participant(store, store.get_programme(id).await?.participant_id).await
}

async fn of_key(store: &dyn Repository, key: &SignerKey) -> Result<Jurisdiction, Refusal> {
    match key.participant_id {
        Some(participant) => of_participant(store, participant).await,
        None => Ok(Jurisdiction::National),
    }
}

/// The part of a new signer key that says whose it is.
#[derive(Deserialize)]
struct NewKey {
    role: String,
    person_id: String,
}

async fn of_new_key(store: &dyn Repository, key: &NewKey) -> Result<Jurisdiction, Refusal> {
    let role: SignerRole = key
        .role
        .parse()
        .map_err(|_| ServiceError::field("role", "must be PARTICIPANT, SUPERVISOR or PROVIDER"))?;
    if role != SignerRole::Participant {
        return Ok(Jurisdiction::National);
    }
    let participant = store
        .get_participant(uuid(&key.person_id, "person_id")?)
        .await
        .map_err(|_| ServiceError::field("person_id", "is not a registered participant"))?;
    Ok(Jurisdiction::Municipal(participant.municipality_id))
}

/// Whose audit trail it is, by the subject types the service writes.
async fn of_audit_subject(
    store: &dyn Repository,
    subject_type: &str,
    subject_id: &str,
) -> Result<Jurisdiction, Refusal> {
    let id = || uuid(subject_id, "subject_id");
    Ok(match subject_type {
        "municipality" => Jurisdiction::Municipal(subject_id.to_owned()),
        "participant" => of_participant(store, id()?).await?,
        "programme" => of_programme(store, id()?).await?,
        "timesheet" => Jurisdiction::Municipal(store.get_timesheet(id()?).await?.municipality_id),
        "pay_run" => Jurisdiction::Municipal(store.get_run(id()?).await?.municipality_id),
        "signer_key" => of_key(store, &store.get_signer_key(subject_id).await?).await?,
        "parameter" => Jurisdiction::National,
        // A subject type added later is closed until it is placed here.
        _ => {
            return Err(Refusal::Forbidden(
                "the audit trail of this subject type is open to national auditors only".into(),
            ));
        }
    })
}

/// Adds the bearer scheme to the OpenAPI document and, from [`POLICY`], each
/// operation's security, roles and scope (and its 401 and 403 answers).
pub struct BearerSecurity;

impl utoipa::Modify for BearerSecurity {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        use utoipa::openapi::{Content, Ref, ResponseBuilder, security::SecurityRequirement};

        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A JWT signed by a configured key (kid; EdDSA, ES256 or RS256) with iss, \
                         aud, exp, sub, role (caseworker, payroll_operator, auditor, \
                         administrator) and municipality (four digits; auditors and \
                         administrators may omit it to act nationally).",
                    ))
                    .build(),
            ),
        );
        let bearer = || vec![SecurityRequirement::new("bearer", Vec::<String>::new())];
        openapi.security = Some(bearer());
        let problem = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/problem+json",
                    Content::new(Some(Ref::from_schema_name("Problem"))),
                )
                .build()
        };
        for (path, item) in &mut openapi.paths.paths {
            for (verb, operation) in [
                (Verb::Get, &mut item.get),
                (Verb::Post, &mut item.post),
                (Verb::Put, &mut item.put),
            ] {
                let Some(operation) = operation else { continue };
                let method = match verb {
                    Verb::Get => Method::GET,
                    Verb::Post => Method::POST,
                    Verb::Put => Method::PUT,
                };
                match rule_for(&method, path).map(|r| r.access) {
                    Some(Access::Roles(roles, owner)) => {
                        operation.security = Some(bearer());
                        let names: Vec<_> = roles.iter().map(|r| r.as_str()).collect();
                        let access =
                            format!("Roles: {}. Scope: {}.", names.join(", "), owner.describe());
                        operation.description = Some(match operation.description.take() {
                            Some(text) if !text.is_empty() => format!("{text}\n\n{access}"),
                            _ => access,
                        });
                        let responses = &mut operation.responses.responses;
                        responses.insert(
                            "401".into(),
                            problem("no valid bearer token (WWW-Authenticate: Bearer)").into(),
                        );
                        responses.insert(
                            "403".into(),
                            problem("the role or the municipality is not allowed").into(),
                        );
                    }
                    // Public, or (a fault the tests catch) no rule: no token listed.
                    _ => operation.security = Some(Vec::new()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

    use super::*;
    use crate::config::TokenKey;
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::json;
    use utoipa::OpenApi;

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
                    include_str!("../../testdata/auth/eddsa-public.pem"),
                ),
                key(
                    "ec",
                    "ES256",
                    include_str!("../../testdata/auth/es256-public.pem"),
                ),
                key(
                    "rsa",
                    "RS256",
                    include_str!("../../testdata/auth/rs256-public.pem"),
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
                EncodingKey::from_ed_pem(include_bytes!("../../testdata/auth/eddsa-private.pem"))
            }
            Algorithm::ES256 => {
                EncodingKey::from_ec_pem(include_bytes!("../../testdata/auth/es256-private.pem"))
            }
            _ => EncodingKey::from_rsa_pem(include_bytes!("../../testdata/auth/rs256-private.pem")),
        }
        .unwrap();
        let mut header = Header::new(algorithm);
        header.kid = Some(kid.into());
        encode(&header, claims, &key).unwrap()
    }

    fn refused(result: Result<Caller, Refusal>) -> &'static str {
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
            assert_eq!(caller.actor().0, "caseworker:kari", "{kid}");
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
            &EncodingKey::from_secret(include_bytes!("../../testdata/auth/rs256-public.pem")),
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
            Caller::Token {
                role: Role::Administrator,
                municipality: None,
                ..
            }
        ));
    }

    #[test]
    fn national_resources_are_read_by_all_and_changed_by_national_tokens_only() {
        assert!(Jurisdiction::National.admits("0301", false).is_ok());
        assert!(Jurisdiction::National.admits("0301", true).is_err());
        assert!(Jurisdiction::Open.admits("0301", true).is_ok());
        assert!(
            Jurisdiction::Municipal("0301".into())
                .admits("0301", true)
                .is_ok()
        );
        assert!(
            Jurisdiction::Municipal("0301".into())
                .admits("4601", false)
                .is_err()
        );
    }

    #[test]
    fn every_documented_operation_has_exactly_one_rule_and_every_rule_an_operation() {
        let doc = serde_json::to_value(super::super::ApiDoc::openapi()).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        let mut documented = Vec::new();
        for (path, item) in paths {
            for verb in ["get", "post", "put", "delete", "patch"] {
                if let Some(operation) = item.get(verb) {
                    documented.push((verb, path.clone()));
                    let method: Method = verb.to_uppercase().parse().unwrap();
                    let matching = POLICY
                        .iter()
                        .filter(|r| r.path == path && r.verb.matches(&method))
                        .count();
                    assert_eq!(matching, 1, "{verb} {path}");
                    let public = operation["security"] == json!([]);
                    assert_eq!(
                        public,
                        matches!(rule_for(&method, path).unwrap().access, Access::Public),
                        "{verb} {path}"
                    );
                }
            }
        }
        for rule in POLICY {
            assert!(
                documented.contains(&(rule.verb.as_str(), rule.path.to_owned())),
                "{} {} is not in the OpenAPI document",
                rule.verb.as_str(),
                rule.path
            );
        }
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
    }
}
