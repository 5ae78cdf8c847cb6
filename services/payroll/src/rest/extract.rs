//! Request extraction that reports bad bodies and path parameters as problem
//! details naming the field.

use std::fmt;

use axum::extract::path::ErrorKind;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use kvp_rules::YearMonth;
use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use uuid::Uuid;

use crate::error::{ServiceError, without_values};

/// Like `axum::Json`, but a body that does not fit names the field at fault.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ServiceError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json") || v.ends_with("+json"));
        if !json {
            return Err(ServiceError::field(
                "content-type",
                "must be application/json",
            ));
        }
        let limit = req
            .extensions()
            .get::<super::limits::RequestBounds>()
            .map(|b| b.max_body_bytes);
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| match e.status() {
                // The router's body limit, hit while reading an undeclared length.
                axum::http::StatusCode::PAYLOAD_TOO_LARGE => ServiceError::TooLarge {
                    limit: limit.unwrap_or_default(),
                },
                _ => ServiceError::field("body", e.body_text()),
            })?;
        parse(&bytes).map(Body)
    }
}

/// Typed path parameters: like `axum::extract::Path`, but a parameter that
/// does not parse is a field violation naming the parameter (400, problem
/// details), as a body field would be. Other rejections answer as axum's.
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Params<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(Self(value)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => match e.kind() {
                // What the parameter's type says it must be (see `Id`, `Month`).
                ErrorKind::DeserializeError { key, message, .. } => {
                    Err(ServiceError::field(key.as_str(), message.as_str()).into_response())
                }
                _ => Err(PathRejection::FailedToDeserializePathParams(e).into_response()),
            },
            Err(other) => Err(other.into_response()),
        }
    }
}

/// Typed query parameters: like `axum::extract::Query`, but a query that
/// does not parse is a field violation (400, problem details) rather than
/// axum's plain-text answer.
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for QueryParams<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(rejection) => {
                Err(ServiceError::field("query", rejection.body_text()).into_response())
            }
        }
    }
}

/// A UUID path parameter (`{id}`); any other text "must be a UUID".
#[derive(Debug, Clone, Copy)]
pub struct Id(pub Uuid);

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_str(Text::new("must be a UUID", |s| Uuid::parse_str(s).ok()))
            .map(Self)
    }
}

/// A month path parameter (`{month}`); any other text "must be YYYY-MM".
#[derive(Debug, Clone, Copy)]
pub struct Month(pub YearMonth);

impl<'de> Deserialize<'de> for Month {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_str(Text::new("must be YYYY-MM", |s| s.parse().ok()))
            .map(Self)
    }
}

/// Parses a path parameter's text; what it must be is the whole error
/// message, so the violation never echoes the text a client sent.
struct Text<T> {
    must: &'static str,
    parse: fn(&str) -> Option<T>,
}

impl<T> Text<T> {
    fn new(must: &'static str, parse: fn(&str) -> Option<T>) -> Self {
        Self { must, parse }
    }
}

impl<T> Visitor<'_> for Text<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.must)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<T, E> {
        (self.parse)(text).ok_or_else(|| E::custom(self.must))
    }
}

/// Deserializes JSON, naming the path of the first field that does not fit.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ServiceError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(kvp_rules::json::Strict(&mut de)).map_err(|e| {
        let mut path = e.path().to_string();
        // An unknown field's path ends in the client's key: name its parent.
        if let Some(serde_path_to_error::Segment::Map { key }) = e.path().iter().next_back()
            && e.inner().to_string().starts_with("unknown field")
        {
            path = path
                .strip_suffix(key.as_str())
                .map_or_else(String::new, |parent| {
                    parent.trim_end_matches('.').to_owned()
                });
        }
        let field = if path.is_empty() || path == "." {
            "body".to_owned()
        } else {
            path
        };
        ServiceError::field(field, without_values(e.inner()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message<T: DeserializeOwned>(json: &str) -> String {
        match serde_json::from_str::<T>(json) {
            Ok(_) => String::new(),
            Err(e) => without_values(&e),
        }
    }

    #[test]
    fn refused_values_are_never_echoed_and_the_expectation_is_kept() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code, reason = "only deserialized")]
        struct Person {
            national_id: String,
            kind: Option<Kind>,
        }
        #[derive(Debug, serde::Deserialize)]
        enum Kind {
            A,
        }
        assert_eq!(
            message::<Person>(r#"{"national_id": 15019012345}"#),
            "invalid type: integer, expected a string at line 1 column 27"
        );
        assert_eq!(
            message::<Person>(r#"{"national_id": "x", "kind": "15019012345"}"#),
            "unknown variant, expected `A` at line 1 column 42"
        );
        assert_eq!(
            message::<Person>(r#"{"15019012345": 1}"#),
            "unknown field, expected `national_id` or `kind` at line 1 column 14"
        );
        assert_eq!(
            message::<Person>(r#"{}"#),
            "missing field `national_id` at line 1 column 2"
        );
        let unknown = |json: &str| match parse::<Person>(json.as_bytes()) {
            Err(ServiceError::InvalidArgument(violations)) => format!("{violations:?}"),
            other => panic!("{other:?}"),
        };
        let refused = unknown(r#"{"15019012345": 1}"#);
        assert!(
            refused.contains("\"body\"") && !refused.contains("15019012345"),
            "{refused}"
        );
        assert_eq!(
            message::<Person>(r#"{"national_id": "#),
            "EOF while parsing a value at line 1 column 16"
        );
    }
}
