//! Signer keys: the registry timesheet signatures are verified against.

use axum::Json;
use axum::extract::{OriginalUri, Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use kvp_store::SignerKey;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::auth::Caller;
use super::extract::{Body, QueryParams};
use super::pages::PageQuery;
use super::versions::{etag, precondition};
use super::{ApiResult, AppState, created};
use crate::error::Problem;
use crate::payroll::{NewSignerKey, key_version};

/// A signer key to register.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyBody {
    /// The key id signatures name (1 to 200 characters, not only spaces).
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub keyid: String,
    /// The person the key belongs to (a participant id for participant keys).
    pub person_id: String,
    /// PARTICIPANT, SUPERVISOR or PROVIDER.
    #[schema(
        pattern = "^(PARTICIPANT|SUPERVISOR|PROVIDER)$",
        example = "PARTICIPANT"
    )]
    pub role: String,
    /// Ed25519 public key (format `ed25519-public-key`): base64 of the 32
    /// bytes of a point on the curve (44 characters), or a PEM public key.
    #[schema(
        format = "ed25519-public-key",
        pattern = "^([A-Za-z0-9+/]{43}=|-----BEGIN PUBLIC KEY-----[\\s\\S]+-----END PUBLIC KEY-----\\s*)$"
    )]
    pub public_key: String,
    /// Start of validity.
    #[serde(with = "time::serde::rfc3339")]
    pub valid_from: OffsetDateTime,
    /// End of validity, if any.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub valid_until: Option<OffsetDateTime>,
    /// The municipality whose participants a supervisor's key approves for
    /// (four digits): required for a SUPERVISOR key, absent for the others.
    #[serde(default)]
    #[schema(pattern = "^[0-9]{4}$", example = "0301")]
    pub municipality_id: Option<String>,
}

/// A registered key.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyView {
    /// Key id.
    pub keyid: String,
    /// Owner.
    pub person_id: String,
    /// Role.
    pub role: String,
    /// Public key, base64.
    pub public_key: String,
    /// Start of validity.
    #[serde(with = "time::serde::rfc3339")]
    pub valid_from: OffsetDateTime,
    /// End of validity.
    #[serde(with = "time::serde::rfc3339::option")]
    pub valid_until: Option<OffsetDateTime>,
    /// When revoked.
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    /// A supervisor's key: the municipality it approves for; null for
    /// other keys, and for a supervisor's key from before keys had one
    /// (national until assigned).
    pub municipality_id: Option<String>,
}

fn key_view(k: &SignerKey) -> KeyView {
    use base64::Engine;
    KeyView {
        keyid: k.keyid.clone(),
        person_id: k.person_id.clone(),
        role: k.role.as_str().to_owned(),
        public_key: base64::engine::general_purpose::STANDARD.encode(&k.public_key),
        valid_from: k.valid_from,
        valid_until: k.valid_until,
        revoked_at: k.revoked_at,
        municipality_id: k.municipality_id.clone(),
    }
}

/// Registers a signer key with its role and validity window.
#[utoipa::path(post, path = "/v1/signer-keys", request_body = KeyBody,
    responses((status = 201, body = KeyView), (status = 400, body = Problem), (status = 409, body = Problem)))]
pub async fn register_key(
    State(payroll): AppState,
    caller: Caller,
    Body(body): Body<KeyBody>,
) -> ApiResult<Response> {
    let new = NewSignerKey {
        keyid: body.keyid,
        person_id: body.person_id,
        role: body.role,
        public_key: body.public_key,
        valid_from: body.valid_from,
        valid_until: body.valid_until,
        municipality_id: body.municipality_id,
    };
    let key = payroll.register_key(new, &caller.actor()).await?;
    Ok(created(key_view(&key)))
}

/// Reads a signer key, with its `ETag` ("1" while usable, "2" once revoked).
#[utoipa::path(get, path = "/v1/signer-keys/{keyid}",
    responses((status = 200, body = KeyView, headers(("ETag" = String, description = "The stored version: If-Match of a revocation."))), (status = 404, body = Problem)))]
pub async fn get_key(
    State(payroll): AppState,
    Path(keyid): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let key = payroll.signer_key(&keyid).await?;
    Ok(([etag(key_version(&key))], Json(key_view(&key))))
}

/// A revocation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevocationBody {
    /// Why the key is revoked.
    #[schema(min_length = 1, pattern = r"\S")]
    pub reason: String,
}

/// Revokes a key from now on, from the version read (`If-Match`: 428
/// without, 412 when stale); timesheets it signed before stay accepted.
#[utoipa::path(post, path = "/v1/signer-keys/{keyid}/revocation",
    params(("If-Match" = String, Header, description = "The ETag read (required).")),
    request_body = RevocationBody,
    responses(
        (status = 200, body = KeyView, headers(("ETag" = String, description = "The version recorded."))),
        (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "the key is revoked already"),
        (status = 412, body = Problem, description = "the key is not at the version If-Match names"),
        (status = 428, body = Problem, description = "If-Match is required"),
    ))]
pub async fn revoke_key(
    State(payroll): AppState,
    Path(keyid): Path<String>,
    headers: HeaderMap,
    caller: Caller,
    Body(body): Body<RevocationBody>,
) -> ApiResult<impl IntoResponse> {
    let precondition = precondition(&headers)?;
    let key = payroll
        .revoke_key(&keyid, &body.reason, precondition, &caller.actor())
        .await?;
    Ok(([etag(key_version(&key))], Json(key_view(&key))))
}

/// The supervisors' keys from before keys had a municipality, not revoked:
/// each approves for any municipality until it is assigned one.
#[utoipa::path(get, path = "/v1/unassigned-supervisor-keys", params(PageQuery),
    responses((status = 200, body = [KeyView], headers(("Link" = String, description = "The next page, rel=\"next\"; absent on the last."))), (status = 400, body = Problem)))]
pub async fn unassigned_keys(
    State(payroll): AppState,
    QueryParams(page): QueryParams<PageQuery>,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<Response> {
    let views: Vec<KeyView> = payroll
        .unassigned_supervisor_keys()
        .await?
        .iter()
        .map(key_view)
        .collect();
    let limit = page.limit;
    Ok(page.page(views, |k| k.keyid.clone())?.answer(&uri, limit))
}

/// The municipality an unassigned supervisor key is to approve for.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignmentBody {
    /// The municipality (four digits).
    #[schema(pattern = "^[0-9]{4}$", example = "0301")]
    pub municipality_id: String,
}

/// Assigns a supervisor key from before keys had a municipality to one,
/// once: from then on it approves that municipality's participants only.
#[utoipa::path(put, path = "/v1/signer-keys/{keyid}/municipality",
    request_body = AssignmentBody,
    responses(
        (status = 200, body = KeyView),
        (status = 400, body = Problem), (status = 404, body = Problem, description = "no such key or municipality"),
        (status = 409, body = Problem, description = "not a supervisor's key, or assigned already"),
    ))]
pub async fn assign_key(
    State(payroll): AppState,
    Path(keyid): Path<String>,
    caller: Caller,
    Body(body): Body<AssignmentBody>,
) -> ApiResult<Json<KeyView>> {
    let key = payroll
        .assign_key(&keyid, &body.municipality_id, &caller.actor())
        .await?;
    Ok(Json(key_view(&key)))
}
