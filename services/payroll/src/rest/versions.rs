//! Optimistic concurrency over HTTP: a changeable resource's version is its
//! `ETag` (`"<version>"`, strong), and a change of an existing resource names
//! the version it was made from in `If-Match` (RFC 9110 §13.1). Without one
//! the change is 428; with a stale one, 412. `If-None-Match: *` makes a PUT
//! create only.

use axum::http::header::{ETAG, IF_MATCH, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue};

use crate::error::ServiceError;
use crate::payroll::Precondition;

/// The `ETag` of a resource at `version`.
pub fn etag(version: i64) -> (axum::http::HeaderName, HeaderValue) {
    let value = HeaderValue::from_str(&format!("\"{version}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("\"0\""));
    (ETAG, value)
}

/// The request's precondition: `If-Match` (one strong tag of ours, or `*`)
/// or `If-None-Match: *`. A tag that is not ours can never match: 412.
pub fn precondition(headers: &HeaderMap) -> Result<Precondition, ServiceError> {
    let text = |name: &axum::http::HeaderName| {
        headers
            .get(name)
            .map(|v: &HeaderValue| {
                v.to_str()
                    .map(str::trim)
                    .map_err(|_| ServiceError::field(name.as_str(), "must be ASCII"))
            })
            .transpose()
    };
    match (text(&IF_MATCH)?, text(&IF_NONE_MATCH)?) {
        (Some(_), Some(_)) => Err(ServiceError::field(
            "If-None-Match",
            "is not to be sent with If-Match",
        )),
        (None, Some("*")) => Ok(Precondition::Absent),
        (None, Some(_)) => Err(ServiceError::field(
            "If-None-Match",
            "only `*` is understood on a change",
        )),
        (Some("*"), None) => Ok(Precondition::Existing),
        (Some(tag), None) => Ok(tag
            .strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .and_then(|t| t.parse::<i64>().ok())
            .map_or(Precondition::Version(-1), Precondition::Version)),
        (None, None) => Ok(Precondition::None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(name: &str, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
        headers
    }

    #[test]
    fn preconditions_are_read_from_if_match_and_if_none_match() {
        assert_eq!(precondition(&HeaderMap::new()).unwrap(), Precondition::None);
        assert_eq!(
            precondition(&with("if-match", "\"7\"")).unwrap(),
            Precondition::Version(7)
        );
        assert_eq!(
            precondition(&with("if-match", "*")).unwrap(),
            Precondition::Existing
        );
        assert_eq!(
            precondition(&with("if-none-match", "*")).unwrap(),
            Precondition::Absent
        );
        // Weak or foreign tags never match a version.
        assert_eq!(
            precondition(&with("if-match", "W/\"7\"")).unwrap(),
            Precondition::Version(-1)
        );
        assert!(precondition(&with("if-none-match", "\"7\"")).is_err());
        assert_eq!(etag(7).1, "\"7\"");
    }
}
