//! The caseworker's page: server-rendered HTML under `/ui`, served by the
//! payroll service itself (templates compiled into the binary, no script).
//!
//! It is a second surface over the payroll core, like REST and gRPC: every
//! handler reads or changes through the same core call the REST route of the
//! same resource makes, so a figure on the page is the figure the API
//! answers, and every change is audited with the caseworker as actor.
//!
//! - **Access** is REST's: the same bearer tokens (in production forwarded by
//!   the municipality's OpenID Connect proxy as `Authorization: Bearer`),
//!   roles and municipality scope, checked by REST's guard over the page's
//!   own table, [`PAGE_POLICY`]. The page keeps no login. In development mode
//!   (no tokens configured) a plain role picker names the caller.
//! - **Forms** carry a token bound to the caller ([`csrf`]); a cross-site
//!   POST is refused before that. Every answer has a strict
//!   Content-Security-Policy (no script at all, styles from this origin) and
//!   is never cached.
//! - **Errors** are the API's problem details rendered as a page with the
//!   same status (one mechanism: [`frame`]).
//! - **Language**: Norwegian bokmål, or English by `?lang=en` (kept in a
//!   cookie) or the browser's `Accept-Language`.

mod csrf;
mod forms;
mod pages;
mod text;

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};

use crate::error::ServiceError;
use crate::payroll::{Actor, Payroll};
use crate::rest::auth::{
    self, Access, Authenticator, CASEWORKER, EVERYONE, Guard, Identity, Owner, Role, Rule, Verb,
    rule,
};
pub use text::Lang;
use text::Text;

/// Every route of the page: who may call it and whose data it touches,
/// checked exactly as REST's [`auth::POLICY`].
#[rustfmt::skip]
pub const PAGE_POLICY: &[Rule] = &[
    rule(Verb::Get,  "/ui",                                       Access::Roles(EVERYONE,   Owner::Nobody)),
    rule(Verb::Post, "/ui/development-role",                      Access::Roles(EVERYONE,   Owner::Nobody)),
    rule(Verb::Get,  "/ui/static/app.css",                        Access::Public),
    rule(Verb::Get,  "/ui/static/icon.svg",                       Access::Public),
    rule(Verb::Get,  "/ui/municipalities/{id}/worklist",          Access::Roles(EVERYONE,   Owner::Municipality)),
    rule(Verb::Get,  "/ui/municipalities/{id}/participants",      Access::Roles(EVERYONE,   Owner::Municipality)),
    rule(Verb::Get,  "/ui/participants/{id}",                     Access::Roles(EVERYONE,   Owner::Participant)),
    rule(Verb::Get,  "/ui/participants/{id}/months/{month}",      Access::Roles(EVERYONE,   Owner::Participant)),
    rule(Verb::Post, "/ui/participants/{id}/sanction-warnings",   Access::Roles(CASEWORKER, Owner::Participant)),
    rule(Verb::Post, "/ui/participants/{id}/sanction-decisions",  Access::Roles(CASEWORKER, Owner::Participant)),
    rule(Verb::Post, "/ui/sanction-decisions/{id}/appeal",        Access::Roles(CASEWORKER, Owner::Decision)),
    rule(Verb::Post, "/ui/sanction-decisions/{id}/appeal/outcome", Access::Roles(CASEWORKER, Owner::Decision)),
    rule(Verb::Get,  "/ui/facts/{kind}/{id}",                     Access::Roles(EVERYONE,   Owner::Fact)),
    rule(Verb::Post, "/ui/facts/{kind}/{id}",                     Access::Roles(CASEWORKER, Owner::Fact)),
    rule(Verb::Post, "/ui/facts/{kind}/{id}/void",                Access::Roles(CASEWORKER, Owner::Fact)),
];

/// The policy every answer of the page carries: nothing but this origin's
/// style sheet; no script, no frames, forms only to this origin.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The page's language cookie.
const LANG_COOKIE: &str = "kvp_lang";
/// The development role picker's cookie: `role/municipality/name`.
const DEVELOPMENT_COOKIE: &str = "kvp_development_caller";

/// What every handler of the page is given.
pub struct Web {
    payroll: Arc<Payroll>,
    tokens: csrf::FormTokens,
    guard: Guard,
}

type WebState = State<Arc<Web>>;

/// The page's router over the payroll core, guarded as REST is by `auth`
/// (development mode when it checks nothing).
pub fn router(payroll: Arc<Payroll>, auth: Authenticator) -> Router {
    let web = Arc::new(Web {
        tokens: csrf::FormTokens::new(payroll.form_token_key()),
        guard: Guard::with_policy(auth, payroll.clone(), PAGE_POLICY),
        payroll,
    });
    Router::new()
        .route("/ui", get(pages::home))
        .route("/ui/development-role", post(forms::development_role))
        .route("/ui/static/app.css", get(style_sheet))
        .route("/ui/static/icon.svg", get(icon))
        .route("/ui/municipalities/{id}/worklist", get(pages::worklist))
        .route("/ui/municipalities/{id}/participants", get(pages::find))
        .route("/ui/participants/{id}", get(pages::participant))
        .route("/ui/participants/{id}/months/{month}", get(pages::month))
        .route("/ui/participants/{id}/sanction-warnings", post(forms::warn))
        .route(
            "/ui/participants/{id}/sanction-decisions",
            post(forms::decide),
        )
        .route("/ui/sanction-decisions/{id}/appeal", post(forms::appeal))
        .route(
            "/ui/sanction-decisions/{id}/appeal/outcome",
            post(forms::decide_appeal),
        )
        .route(
            "/ui/facts/{kind}/{id}",
            get(pages::fact).post(forms::correct),
        )
        .route("/ui/facts/{kind}/{id}/void", post(forms::void))
        .route_layer(axum::middleware::from_fn_with_state(web.clone(), guard))
        .layer(axum::middleware::from_fn(frame))
        .layer(axum::middleware::from_fn_with_state(
            crate::metrics::REQUEST_METRICS,
            kvp_telemetry::track_http,
        ))
        .with_state(web)
}

/// REST's guard over the page's table.
async fn guard(State(web): WebState, request: Request, next: Next) -> Response {
    match auth::admit(&web.guard, request).await {
        Ok(request) => next.run(request).await,
        Err(refusal) => {
            tracing::info!(refusal = ?refusal, "page request refused");
            refusal.into_response()
        }
    }
}

/// Around every page: picks the language, refuses a cross-site form, sets
/// the security headers, and renders an error (the API's problem details)
/// as a page with the same status.
async fn frame(mut request: Request, next: Next) -> Response {
    let (lang, chosen) = language(&request);
    request.extensions_mut().insert(lang);
    let cross_site = request.method() == Method::POST
        && request
            .headers()
            .get("sec-fetch-site")
            .is_some_and(|v| v.as_bytes() == b"cross-site");
    let mut response = if cross_site {
        ServiceError::PermissionDenied {
            what: "a form from another site is refused".into(),
        }
        .into_response()
    } else {
        next.run(request).await
    };
    let problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if problem {
        response = error_page(response, lang).await;
    }
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if chosen
        && let Ok(cookie) = HeaderValue::from_str(&format!(
            "{LANG_COOKIE}={}; Path=/ui; SameSite=Lax; HttpOnly",
            lang.code()
        ))
    {
        headers.append(header::SET_COOKIE, cookie);
    }
    response
}

/// The language of a request, and whether the query chose it (to keep).
fn language(request: &Request) -> (Lang, bool) {
    if let Some(lang) = request
        .uri()
        .query()
        .and_then(|q| query_value(q, "lang"))
        .and_then(Lang::parse)
    {
        return (lang, true);
    }
    let headers = request.headers();
    let lang = cookie(headers, LANG_COOKIE)
        .and_then(|v| Lang::parse(&v))
        .or_else(|| {
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(Lang::from_accept_language)
        })
        .unwrap_or(Lang::Nb);
    (lang, false)
}

/// A query parameter's value, as written (the page's own are plain words).
fn query_value<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// A cookie's value.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// The problem details of an error answer, rendered as a page.
async fn error_page(response: Response, lang: Lang) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 16)
        .await
        .unwrap_or_default();
    let problem: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let text_of = |key: &str| problem[key].as_str().unwrap_or_default().to_owned();
    let page = pages::ErrorPage {
        t: lang.text(),
        lang: lang.code(),
        status: parts.status.as_u16(),
        title: text_of("title"),
        detail: text_of("detail"),
        fields: problem["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .map(|e| {
                        format!(
                            "{}: {}",
                            e["field"].as_str().unwrap_or_default(),
                            e["description"].as_str().unwrap_or_default()
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
    };
    let html = page.render().unwrap_or_default();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    Response::from_parts(parts, axum::body::Body::from(html))
}

/// The page's one style sheet, compiled in.
async fn style_sheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/app.css"),
    )
}

/// The page's icon (the browser asks for one; without it, a 404 a page).
async fn icon() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        include_str!("../../static/icon.svg"),
    )
}

/// Who is looking at the page, as the guard established it.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// The name the audit trail records.
    actor: String,
    /// The role; every role in development mode is the picker's.
    role: Role,
    /// The municipality the caller works for; none for a national token
    /// (and in development mode until picked).
    municipality: Option<String>,
    /// Development mode: nothing is checked.
    development: bool,
    /// The page's language.
    lang: Lang,
    /// What the form before this page did (`?done=`), to confirm it.
    done: Option<Done>,
}

/// What a form did, confirmed on the page it leads back to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Done {
    Warning,
    Decision,
    Appeal,
    AppealOutcome,
    Correction,
    Void,
}

impl Done {
    fn parse(query: Option<&str>) -> Option<Self> {
        match query_value(query?, "done")? {
            "warning" => Some(Self::Warning),
            "decision" => Some(Self::Decision),
            "appeal" => Some(Self::Appeal),
            "appeal-outcome" => Some(Self::AppealOutcome),
            "correction" => Some(Self::Correction),
            "void" => Some(Self::Void),
            _ => None,
        }
    }

    fn words(self, t: &Text) -> &'static str {
        match self {
            Self::Warning => t.saved_warning,
            Self::Decision => t.saved_decision,
            Self::Appeal => t.saved_appeal,
            Self::AppealOutcome => t.saved_appeal_outcome,
            Self::Correction => t.saved_correction,
            Self::Void => t.saved_void,
        }
    }
}

impl Viewer {
    /// The caller as the core's audit trail names it.
    fn actor(&self) -> Actor {
        Actor::named(self.actor.clone())
    }

    /// Whether the role may change what the page shows (REST's caseworker routes).
    fn may_change(&self) -> bool {
        self.role == Role::Caseworker
    }

    /// The words of the viewer's language.
    fn text(&self) -> &'static Text {
        self.lang.text()
    }

    /// Refuses a form whose token is not this caller's.
    fn check_form(&self, web: &Web, token: &str) -> Result<(), ServiceError> {
        if web.tokens.check(&self.actor, token, crate::clock::now()) {
            Ok(())
        } else {
            Err(ServiceError::PermissionDenied {
                what: "the form's token is missing, expired or another caller's: open the page \
                       again and resend"
                    .into(),
            })
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Viewer {
    type Rejection = ServiceError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let lang = parts.extensions.get::<Lang>().copied().unwrap_or(Lang::Nb);
        let done = Done::parse(parts.uri.query());
        let identity = parts.extensions.get::<Identity>().cloned().ok_or_else(|| {
            ServiceError::internal(anyhow::anyhow!(
                "no caller: the page is not behind the guard"
            ))
        })?;
        Ok(match identity {
            Identity::Token {
                subject,
                role,
                municipality,
            } => Self {
                actor: format!("{}:{subject}", role.as_str()),
                role,
                municipality,
                development: false,
                lang,
                done,
            },
            Identity::Development { .. } => {
                let picked = cookie(&parts.headers, DEVELOPMENT_COOKIE)
                    .and_then(|v| DevelopmentCaller::parse(&v))
                    .unwrap_or_default();
                Self {
                    actor: format!("{}:{}", picked.role.as_str(), picked.name),
                    role: picked.role,
                    municipality: picked.municipality,
                    development: true,
                    lang,
                    done,
                }
            }
        })
    }
}

/// The roles the development role picker offers, in its order.
const ROLES: [Role; 4] = [
    Role::Caseworker,
    Role::PayrollOperator,
    Role::Auditor,
    Role::Administrator,
];

/// The caller the development role picker names.
#[derive(Debug, Clone, PartialEq)]
struct DevelopmentCaller {
    role: Role,
    municipality: Option<String>,
    name: String,
}

impl Default for DevelopmentCaller {
    fn default() -> Self {
        Self {
            role: Role::Caseworker,
            municipality: None,
            name: "development".into(),
        }
    }
}

impl DevelopmentCaller {
    /// From the picker's form: a known role, four digits or nothing, and a
    /// name of 1–64 letters, digits, `.`, `-` or `_`.
    fn new(role: &str, municipality: &str, name: &str) -> Option<Self> {
        let role = ROLES.into_iter().find(|r| r.as_str() == role)?;
        let municipality = municipality.trim();
        let municipality = match municipality {
            "" => None,
            m if m.len() == 4 && m.bytes().all(|b| b.is_ascii_digit()) => Some(m.to_owned()),
            _ => return None,
        };
        let name = name.trim();
        let fits = (1..=64).contains(&name.chars().count())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        fits.then(|| Self {
            role,
            municipality,
            name: name.to_owned(),
        })
    }

    fn parse(cookie: &str) -> Option<Self> {
        let mut parts = cookie.splitn(3, '/');
        let (role, municipality, name) = (parts.next()?, parts.next()?, parts.next()?);
        Self::new(role, municipality, name)
    }

    fn cookie(&self) -> String {
        format!(
            "{DEVELOPMENT_COOKIE}={}/{}/{}; Path=/ui; SameSite=Strict; HttpOnly",
            self.role.as_str(),
            self.municipality.as_deref().unwrap_or(""),
            self.name
        )
    }
}

/// An HTML answer from a template.
fn html<T: Template>(page: &T) -> Result<Response, ServiceError> {
    let body = page.render().map_err(ServiceError::internal)?;
    Ok(Html(body).into_response())
}

/// A redirect after a form (POST, then GET the page it changed).
fn see_other(location: &str) -> Response {
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, location.to_owned())],
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_development_picker_takes_only_what_fits_a_cookie() {
        let caller =
            DevelopmentCaller::new("caseworker", "0301", "kari.nordmann").unwrap_or_default();
        assert_eq!(caller.municipality.as_deref(), Some("0301"));
        let cookie = caller.cookie();
        let value = cookie
            .split(';')
            .next()
            .and_then(|c| c.split_once('='))
            .map(|(_, v)| v)
            .unwrap_or_default();
        assert_eq!(DevelopmentCaller::parse(value), Some(caller));
        assert_eq!(DevelopmentCaller::new("root", "0301", "kari"), None);
        assert_eq!(DevelopmentCaller::new("auditor", "301", "kari"), None);
        assert_eq!(DevelopmentCaller::new("auditor", "", "kari; Path=/"), None);
        assert_eq!(DevelopmentCaller::new("auditor", "", ""), None);
        assert!(DevelopmentCaller::new("auditor", "", "revisor").is_some());
    }

    #[test]
    fn every_page_route_has_a_rule_and_only_the_static_files_are_public() {
        let public: Vec<&str> = PAGE_POLICY
            .iter()
            .filter(|r| matches!(r.access, Access::Public))
            .map(|r| r.path)
            .collect();
        assert_eq!(public, ["/ui/static/app.css", "/ui/static/icon.svg"]);
        // Every change is a caseworker's, as on REST (the development
        // picker changes nothing but the caller).
        for rule in PAGE_POLICY {
            if rule.verb == Verb::Post && rule.path != "/ui/development-role" {
                assert!(
                    matches!(rule.access, Access::Roles(roles, _) if roles == CASEWORKER),
                    "{}",
                    rule.path
                );
            }
        }
    }
}
