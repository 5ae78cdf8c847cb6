//! REST authentication and authorisation: bearer tokens (JWT, verified by
//! `kvp_auth` exactly as the payroll service verifies its own) with a role,
//! scoped to a municipality, checked per route from one table, [`POLICY`].
//!
//! - **Roles** (the `role` claim): `social_assistance_caseworker` registers
//!   households and decides proposals; `auditor` reads everything and
//!   changes nothing; `administrator` runs the service and reads the
//!   worklist's state (proposals, months waiting) but not households, whose
//!   children's birth dates and finances it has no need to see.
//! - **Scope**: a caseworker's token names its municipality; auditors and
//!   administrators may leave it out and are then national. A proposal
//!   belongs to the municipality that paid its month (`StipendPaid`); a
//!   household to the municipality that registered it, or that paid the
//!   participant last. Lists show the token's municipality only. The role
//!   is checked here, before the handler; the municipality by the service,
//!   which knows whose a record is.
//! - **Codes**: no token, or one that fails a check, is 401 with
//!   `WWW-Authenticate: Bearer`; a role the route does not allow, or another
//!   municipality's record, is 403. Problems name roles and rules, never a
//!   refused value.
//! - **Decisions** are recorded under the token's `sub`, whatever the body
//!   says (a different `decided_by` is refused).
//! - **Development mode** (no `auth` configured): nothing is checked, every
//!   caller is national, and `decided_by` is taken from the body; the
//!   service then listens on loopback only.
//! - **Public**: `/healthz`, `/metrics`, `/openapi.json`. A route missing
//!   from [`POLICY`] is refused to every caller.

use std::sync::Arc;

use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kvp_auth::{Claims, TokenSettings, Verb, Verifier};
use serde::Deserialize;

use crate::error::{FieldViolation, ServiceError};
use crate::store::Scope;

/// The realm named in `WWW-Authenticate` challenges.
const REALM: &str = "kvp-topup";

/// What a caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A social-assistance caseworker (saksbehandler, sosialtjenesten):
    /// registers households, decides proposals.
    SocialAssistanceCaseworker,
    /// Reads everything; changes nothing.
    Auditor,
    /// Runs the service: reads proposals and the months waiting.
    Administrator,
}

impl Role {
    /// The claim value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SocialAssistanceCaseworker => "social_assistance_caseworker",
            Self::Auditor => "auditor",
            Self::Administrator => "administrator",
        }
    }
}

impl kvp_auth::Role for Role {
    const CLAIMS_SHAPE: &'static str = "the token's claims do not fit: sub a string; role \
         social_assistance_caseworker, auditor or administrator; municipality a string";
    const MUST_NAME_MUNICIPALITY: &'static str =
        "a social_assistance_caseworker token must name its municipality";

    fn may_be_national(self) -> bool {
        matches!(self, Self::Auditor | Self::Administrator)
    }
}

/// Who may call a route.
#[derive(Debug, Clone, Copy)]
pub enum Access {
    /// No token needed.
    Public,
    /// A token of one of these roles.
    Roles(&'static [Role]),
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
use Role::{Administrator, Auditor, SocialAssistanceCaseworker as Caseworker};
use Verb::{Get, Post, Put};

/// Households: their caseworkers and auditors.
const HOUSEHOLD_READERS: &[Role] = &[Caseworker, Auditor];
/// The worklist's state: every role.
const EVERYONE: &[Role] = &[Caseworker, Auditor, Administrator];
/// Registering households and deciding proposals: casework.
const CASEWORKER: &[Role] = &[Caseworker];

/// Every REST route and who may call it.
#[rustfmt::skip]
pub const POLICY: &[Rule] = &[
    rule(Get,  "/healthz",                        Public),
    rule(Get,  "/metrics",                        Public),
    rule(Get,  "/openapi.json",                   Public),
    rule(Put,  "/households/{participant_id}",    Roles(CASEWORKER)),
    rule(Get,  "/households/{participant_id}",    Roles(HOUSEHOLD_READERS)),
    rule(Get,  "/proposals",                      Roles(EVERYONE)),
    rule(Get,  "/proposals/{id}",                 Roles(EVERYONE)),
    rule(Post, "/proposals/{id}/accept",          Roles(CASEWORKER)),
    rule(Post, "/proposals/{id}/reject",          Roles(CASEWORKER)),
    rule(Get,  "/pending-months",                 Roles(EVERYONE)),
];

/// The rule for a method on a route template, if any.
pub fn rule_for(method: &Method, path: &str) -> Option<&'static Rule> {
    POLICY
        .iter()
        .find(|r| r.path == path && r.verb.matches(method))
}

/// Who is calling, as the guard established it.
#[derive(Debug, Clone)]
pub enum Identity {
    /// Development mode: nothing is checked; every caller is national.
    Development,
    /// A verified bearer token.
    Token(Claims<Role>),
}

impl Identity {
    /// Whose data the caller reaches.
    pub fn scope(&self) -> Scope {
        match self {
            Self::Token(Claims {
                municipality: Some(municipality),
                ..
            }) => Scope::Municipality(municipality.clone()),
            _ => Scope::National,
        }
    }

    /// Who a decision is recorded under: the token's `sub`; in development
    /// mode, the body's `decided_by`. A body naming someone else than the
    /// token is refused.
    pub fn decided_by(&self, given: Option<String>) -> Result<Option<String>, ServiceError> {
        let Self::Token(claims) = self else {
            return Ok(given);
        };
        match given.as_deref().map(str::trim) {
            Some(named) if !named.is_empty() && named != claims.subject => {
                Err(ServiceError::invalid(
                    "the decision is invalid; nothing was stored",
                    vec![FieldViolation::new(
                        "decided_by",
                        "is the bearer token's subject: leave it out or give the same",
                    )],
                ))
            }
            _ => Ok(Some(claims.subject.clone())),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Identity {
    type Rejection = ServiceError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // The guard puts the identity there on every route; a handler outside
        // the guard is a wiring fault, refused rather than run unchecked.
        parts.extensions.get::<Identity>().cloned().ok_or_else(|| {
            tracing::error!("no caller: the route is not behind the guard");
            ServiceError::PermissionDenied {
                what: "no access rule covers this route".into(),
            }
        })
    }
}

/// Verifies bearer tokens; in development mode (no `auth` configured) it
/// checks nothing.
#[derive(Clone)]
pub struct Authenticator(Option<Arc<Verifier<Role>>>);

impl Authenticator {
    /// Development mode for `None`; otherwise the configured issuer,
    /// audience and keys (every key checked).
    pub fn new(settings: Option<&TokenSettings>) -> Result<Self, kvp_auth::SettingsError> {
        settings
            .map(|s| Verifier::new(s, "auth").map(Arc::new))
            .transpose()
            .map(Self)
    }
}

/// Middleware on every route: authenticates and checks the route's rule,
/// then hands the [`Identity`] to the handler.
pub async fn guard(
    State(auth): State<Authenticator>,
    route: Option<MatchedPath>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(verifier) = auth.0.as_deref() else {
        request.extensions_mut().insert(Identity::Development);
        return next.run(request).await;
    };
    let template = route.as_ref().map_or("", MatchedPath::as_str);
    let Some(rule) = rule_for(request.method(), template) else {
        let allowed = Verb::allow(POLICY.iter().filter(|r| r.path == template).map(|r| r.verb));
        if allowed.is_empty() {
            tracing::error!(route = %template, "no access rule for this route: refused");
            return ServiceError::PermissionDenied {
                what: "no access rule covers this route".into(),
            }
            .into_response();
        }
        let mut response = ServiceError::MethodNotAllowed.into_response();
        if let Ok(value) = HeaderValue::from_str(&allowed.join(", ")) {
            response.headers_mut().insert(header::ALLOW, value);
        }
        return response;
    };
    let Access::Roles(roles) = rule.access else {
        return next.run(request).await;
    };
    let claims = match verifier.authenticate(request.headers()) {
        Ok(claims) => claims,
        Err(refusal) => {
            tracing::info!(refusal = refusal.reason(), "request refused");
            return challenge(
                ServiceError::Unauthenticated {
                    what: refusal.reason(),
                },
                &refusal.challenge(REALM),
            );
        }
    };
    if !roles.contains(&claims.role) {
        tracing::info!(role = claims.role.as_str(), "request refused: role");
        return challenge(
            ServiceError::PermissionDenied {
                what: format!(
                    "the {} role may not call {} {template}",
                    claims.role.as_str(),
                    request.method()
                ),
            },
            &kvp_auth::insufficient_scope(REALM),
        );
    }
    request.extensions_mut().insert(Identity::Token(claims));
    next.run(request).await
}

/// The error's problem with a `WWW-Authenticate` challenge.
fn challenge(error: ServiceError, challenge: &str) -> Response {
    let mut response = error.into_response();
    if let Ok(value) = HeaderValue::from_str(challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}
