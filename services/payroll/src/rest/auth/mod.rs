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
//!
//! This module is the guard; the table is in `policy`, token verification in
//! `token`, and whose a resource is (its jurisdiction) in `jurisdiction`.

mod jurisdiction;
mod policy;
mod token;

use std::sync::Arc;

use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::error::ServiceError;
use kvp_store::IdempotencyClaim;

use crate::payroll::{Actor, Payroll};

pub use kvp_auth::LEEWAY_SECONDS;
use kvp_auth::{Claims, MAX_SUBJECT, TokenRefusal};
pub use policy::{
    Access, BearerSecurity, CASEWORKER, EVERYONE, Owner, POLICY, Rule, Verb, methods_of, rule,
    rule_for,
};
pub use token::Authenticator;

/// The realm named in `WWW-Authenticate` challenges.
const REALM: &str = "kvp-payroll";

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

/// Who is calling, as the guard established it.
#[derive(Debug, Clone)]
pub enum Identity {
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

impl Identity {
    /// The caller as the audit log names it: `<role>:<sub>` for a token.
    pub fn actor_name(&self) -> String {
        match self {
            Self::Development { actor } => actor.clone(),
            Self::Token { subject, role, .. } => format!("{}:{subject}", role.as_str()),
        }
    }

    /// Whose idempotency keys the caller's are: its municipality (or
    /// `national`, or `development`) and its audit name.
    pub fn idempotency_scope(&self) -> String {
        let municipality = match self {
            Self::Development { .. } => "development",
            Self::Token {
                municipality: Some(municipality),
                ..
            } => municipality,
            Self::Token { .. } => "national",
        };
        format!("{municipality}/{}", self.actor_name())
    }
}

/// Who is calling, as the handlers see it: the identity, and the idempotency
/// key its request claims (see `rest::idempotency`).
#[derive(Debug, Clone)]
pub struct Caller {
    /// Who.
    pub identity: Identity,
    /// The request's claim on its `Idempotency-Key`, if it carries one.
    pub idempotency: Option<IdempotencyClaim>,
}

impl Caller {
    /// The caller as the audit log names it, carrying the request's claim.
    pub fn actor(&self) -> Actor {
        Actor {
            name: self.identity.actor_name(),
            idempotency: self.idempotency.clone(),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ServiceError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // The guard puts the identity there on every route; a handler outside
        // the guard is a wiring fault, refused rather than run anonymously.
        let identity = parts.extensions.get::<Identity>().cloned().ok_or_else(|| {
            ServiceError::internal(anyhow::anyhow!(
                "no caller: the route is not behind the guard"
            ))
        })?;
        Ok(Self {
            identity,
            idempotency: parts.extensions.get::<IdempotencyClaim>().cloned(),
        })
    }
}

/// Why a request was refused before its handler.
#[derive(Debug)]
pub enum Refusal {
    /// No token, or one that fails a check: 401 with a challenge.
    Token(TokenRefusal),
    /// Role or municipality not allowed: 403.
    Forbidden(String),
    /// Resolving the owner failed (a bad id, a missing resource): as the handler would answer.
    Service(ServiceError),
    /// A method the route is not served with: 405 with the `Allow` given.
    MethodNotAllowed(String),
}

impl From<ServiceError> for Refusal {
    fn from(error: ServiceError) -> Self {
        Self::Service(error)
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (error, challenge) = match self {
            Self::Token(refusal) => (
                ServiceError::Unauthenticated {
                    what: refusal.reason().into(),
                },
                refusal.challenge(REALM),
            ),
            Self::Forbidden(what) => (
                ServiceError::PermissionDenied { what },
                kvp_auth::insufficient_scope(REALM),
            ),
            Self::Service(error) => return error.into_response(),
            Self::MethodNotAllowed(allow) => {
                let mut response = crate::error::method_not_allowed(&allow).into_response();
                if let Ok(value) = HeaderValue::from_str(&allow) {
                    response.headers_mut().insert(header::ALLOW, value);
                }
                return response;
            }
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

/// The guard's state: the token verifier, the payroll core that tells
/// whose a resource is, and the table of rules it enforces.
#[derive(Clone)]
pub struct Guard {
    auth: Authenticator,
    payroll: Arc<Payroll>,
    policy: &'static [Rule],
}

impl Guard {
    /// A guard over `payroll`'s resources by the REST table, [`POLICY`].
    pub fn new(auth: Authenticator, payroll: Arc<Payroll>) -> Self {
        Self::with_policy(auth, payroll, POLICY)
    }

    /// A guard by another table of rules (the caseworker's page has its own
    /// routes, checked exactly as REST's are).
    pub fn with_policy(
        auth: Authenticator,
        payroll: Arc<Payroll>,
        policy: &'static [Rule],
    ) -> Self {
        Self {
            auth,
            payroll,
            policy,
        }
    }

    /// Whether tokens are checked (false in development mode).
    pub fn checks_tokens(&self) -> bool {
        self.auth.verifier().is_some()
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

/// Authenticates a request and checks it against the guard's table: the
/// request with its [`Identity`], or why it is refused.
pub async fn admit(guard: &Guard, mut request: Request) -> Result<Request, Refusal> {
    let Some(verifier) = guard.auth.verifier() else {
        let actor = development_actor(request.headers());
        request
            .extensions_mut()
            .insert(Identity::Development { actor });
        return Ok(request);
    };
    let template = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let Some(rule) = policy::rule_in(guard.policy, request.method(), &template) else {
        // A route known with other methods: 405, whoever asks.
        let allowed = policy::methods_in(guard.policy, &template);
        if !allowed.is_empty() {
            return Err(Refusal::MethodNotAllowed(allowed.join(", ")));
        }
        tracing::error!(route = %template, "no access rule for this route: refused");
        return Err(Refusal::Forbidden(
            "no access rule covers this route".into(),
        ));
    };
    let Access::Roles(roles, owner) = rule.access else {
        return Ok(request);
    };
    let Claims {
        subject,
        role,
        municipality,
    } = verifier
        .authenticate(request.headers())
        .map_err(Refusal::Token)?;
    if !roles.contains(&role) {
        return Err(Refusal::Forbidden(format!(
            "the {} role may not call {} {template}",
            role.as_str(),
            request.method()
        )));
    }
    // National tokens reach every municipality: nothing to look up.
    if let Some(municipality) = &municipality {
        let changes = !matches!(rule.verb, Verb::Get);
        let (jurisdiction, back) =
            jurisdiction::jurisdiction(owner, &guard.payroll, request).await?;
        request = back;
        jurisdiction.admits(municipality, changes)?;
    }
    request.extensions_mut().insert(Identity::Token {
        subject,
        role,
        municipality,
    });
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
