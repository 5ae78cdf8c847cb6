//! Retries of creating requests: the `Idempotency-Key` header (ARCHITECTURE.md,
//! "Facts over time").
//!
//! A POST may carry `Idempotency-Key` (1–255 printable ASCII characters). Keys
//! are the caller's own (scope: its municipality and its audit name) and are
//! kept at least [`KEY_RETENTION_DAYS`] days. Before the handler runs, the key is looked up:
//!
//! - **unknown**: the handler runs with a claim on the key (a request id and
//!   the SHA-256 of method, path and body). The request's first change claims
//!   the key in that change's own transaction, so a claimed key means the
//!   change was made; the answer is recorded just after.
//! - **the same request again**: its recorded answer, with
//!   `Idempotent-Replayed: true`. Nothing runs, nothing is stored.
//! - **another request** (another body, or another path): 422.
//! - **the same request, without an answer**: 409 `idempotency-key-in-use`,
//!   naming what it changed. Either it is still running, or its answer was
//!   lost after its change was made; either way running it again could
//!   double it.
//!
//! Only 2xx answers are recorded. A refused request changed nothing (its
//! transaction rolled back) and may be retried under the same key.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kvp_store::{IdempotencyClaim, IdempotencyRecord, IdempotentAnswer};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::auth::Identity;
use crate::error::ServiceError;
use crate::payroll::Payroll;

/// The request header a creating request names its key in.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// The response header that marks a recorded answer given again.
pub const REPLAYED: &str = "idempotent-replayed";
/// The longest key accepted.
pub const MAX_KEY_LENGTH: usize = 255;
/// How long a key is kept, at least.
pub const KEY_RETENTION_DAYS: i64 = 30;
/// The largest answer recorded; a larger one is given but not kept, and a
/// retry of its request is told the key is in use.
const MAX_RECORDED_ANSWER: usize = 1 << 20;

/// Middleware on every route, inside the guard (it needs the caller): runs a
/// POST that carries `Idempotency-Key` at most once per key.
pub async fn idempotent(
    State(payroll): State<std::sync::Arc<Payroll>>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != Method::POST || !request.headers().contains_key(IDEMPOTENCY_KEY) {
        return next.run(request).await;
    }
    match run_once(&payroll, request, next).await {
        Ok(response) | Err(response) => response,
    }
}

async fn run_once(payroll: &Payroll, request: Request, next: Next) -> Result<Response, Response> {
    let key = key_of(&request).map_err(IntoResponse::into_response)?;
    let scope = request
        .extensions()
        .get::<Identity>()
        .map(Identity::idempotency_scope)
        .ok_or_else(|| {
            ServiceError::internal(anyhow::anyhow!("an idempotent route outside the guard"))
                .into_response()
        })?;
    let (request, request_hash) = hash_request(request).await?;
    let store = payroll.store();
    let found = store
        .find_idempotency(&scope, &key)
        .await
        .map_err(|e| ServiceError::from(e).into_response())?;
    if let Some(record) = found {
        return Err(answer_from(&record, &request_hash));
    }
    let claim = IdempotencyClaim {
        scope,
        key,
        request_hash,
        request_id: Uuid::now_v7(),
    };
    let mut request = request;
    request.extensions_mut().insert(claim.clone());
    let response = next.run(request).await;
    if !response.status().is_success() {
        // Refused: perhaps because another request took the key meanwhile,
        // in which case that request's answer is the one to give.
        return match store.find_idempotency(&claim.scope, &claim.key).await {
            Ok(Some(record)) if record.request_id != claim.request_id => {
                Ok(answer_from(&record, &claim.request_hash))
            }
            _ => Ok(response),
        };
    }
    record(payroll, &claim, response).await
}

/// The key, checked: 1–255 printable ASCII characters.
fn key_of(request: &Request) -> Result<String, ServiceError> {
    let refused = || {
        ServiceError::field(
            "Idempotency-Key",
            format!("must be 1–{MAX_KEY_LENGTH} printable ASCII characters"),
        )
    };
    let value = request
        .headers()
        .get(IDEMPOTENCY_KEY)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(refused)?;
    if value.is_empty()
        || value.len() > MAX_KEY_LENGTH
        || !value.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
    {
        return Err(refused());
    }
    Ok(value.to_owned())
}

/// The request's hash (method, path with query, body) and the request, its
/// body read as the handler's extractor reads it (the body limit applies).
async fn hash_request(request: Request) -> Result<(Request, Vec<u8>), Response> {
    let (parts, body) = request.into_parts();
    let limit = parts
        .extensions
        .get::<super::limits::RequestBounds>()
        .map(|b| b.max_body_bytes);
    let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), &())
        .await
        .map_err(|e| {
            match e.status() {
                StatusCode::PAYLOAD_TOO_LARGE => ServiceError::TooLarge {
                    limit: limit.unwrap_or_default(),
                },
                _ => ServiceError::field("body", e.body_text()),
            }
            .into_response()
        })?;
    let mut hash = Sha256::new();
    hash.update(parts.method.as_str().as_bytes());
    hash.update(b"\n");
    hash.update(
        parts
            .uri
            .path_and_query()
            .map_or("", |p| p.as_str())
            .as_bytes(),
    );
    hash.update(b"\n");
    hash.update(&bytes);
    Ok((
        Request::from_parts(parts, Body::from(bytes)),
        hash.finalize().to_vec(),
    ))
}

/// What a stored key answers a request with this hash.
fn answer_from(record: &IdempotencyRecord, request_hash: &[u8]) -> Response {
    if record.request_hash != request_hash {
        return ServiceError::IdempotencyKeyReused.into_response();
    }
    let Some(answer) = &record.answer else {
        let what = match &record.subject {
            Some((kind, id)) => format!(
                "the request with this Idempotency-Key changed {kind} {id}, but its answer is \
                 not recorded: it is in progress, or its answer was lost; read the {kind} \
                 rather than send it again"
            ),
            None => "the request with this Idempotency-Key is in progress".into(),
        };
        return ServiceError::IdempotencyKeyInUse { what }.into_response();
    };
    let mut response = Response::new(Body::from(answer.body.clone()));
    *response.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    if let Ok(content_type) = HeaderValue::from_str(&answer.content_type) {
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, content_type);
    }
    response
        .headers_mut()
        .insert(REPLAYED, HeaderValue::from_static("true"));
    response
}

/// Records a successful answer under the claim, and gives it.
async fn record(
    payroll: &Payroll,
    claim: &IdempotencyClaim,
    response: Response,
) -> Result<Response, Response> {
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_RECORDED_ANSWER).await else {
        return Err(ServiceError::internal(anyhow::anyhow!(
            "an answer larger than {MAX_RECORDED_ANSWER} bytes cannot be recorded"
        ))
        .into_response());
    };
    let answer = IdempotentAnswer {
        status: parts.status.as_u16(),
        content_type: parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        body: bytes.to_vec(),
    };
    match payroll
        .store()
        .record_idempotent_answer(claim, &answer, crate::clock::now())
        .await
    {
        Ok(true) => {}
        // The change is made; only the answer's recording failed or lost a
        // race. The caller still gets the answer; a retry is told the key is
        // in use rather than run twice.
        Ok(false) => tracing::warn!("an idempotency key was taken by another request"),
        Err(error) => {
            tracing::warn!(%error, "the answer of an idempotent request was not recorded")
        }
    }
    Ok(Response::from_parts(parts, Body::from(bytes)))
}

/// Forgets keys older than [`KEY_RETENTION_DAYS`], hourly, until `stop`.
pub async fn purge_expired_keys(
    store: std::sync::Arc<dyn kvp_store::Repository>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
        let before = crate::clock::now() - time::Duration::days(KEY_RETENTION_DAYS);
        match store.purge_idempotency_keys(before).await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "expired idempotency keys forgotten"),
            Err(error) => tracing::warn!(%error, "expired idempotency keys were not purged"),
        }
    }
}

/// Documents `Idempotency-Key` on every POST of the OpenAPI document, with
/// the answers it adds: 409 for a key whose request has no answer to give,
/// 422 for a key used with another request.
pub struct IdempotencyKeyHeader;

impl utoipa::Modify for IdempotencyKeyHeader {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
        use utoipa::openapi::{ObjectBuilder, Required, Type};

        for item in openapi.paths.paths.values_mut() {
            let Some(operation) = item.post.as_mut() else {
                continue;
            };
            let header = ParameterBuilder::new()
                .name("Idempotency-Key")
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some(format!(
                    "Makes a retry safe: the same key with the same request gives the first \
                     answer again (with `Idempotent-Replayed: true`) and changes nothing; with \
                     another request it is 422. 1–{MAX_KEY_LENGTH} printable ASCII characters, \
                     the caller's own (per municipality and actor), kept at least \
                     {KEY_RETENTION_DAYS} days."
                )))
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .min_length(Some(1))
                        .max_length(Some(MAX_KEY_LENGTH))
                        .pattern(Some("^[ -~]+$")),
                ))
                .build();
            operation
                .parameters
                .get_or_insert_with(Vec::new)
                .push(header.into());
            let responses = &mut operation.responses.responses;
            responses.entry("409".into()).or_insert_with(|| {
                crate::rest::openapi::problem_response(
                    "a duplicate, or an Idempotency-Key whose request is in progress or lost \
                     its answer",
                )
                .into()
            });
            responses.insert(
                "422".into(),
                crate::rest::openapi::problem_response(
                    "the Idempotency-Key was used with another request",
                )
                .into(),
            );
        }
    }
}
