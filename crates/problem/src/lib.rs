//! The error vocabulary the KVP services share: what a caller sees when a
//! request fails, over HTTP and over gRPC.
//!
//! # What this crate owns
//!
//! - [`FieldViolation`]: one field at fault in a request.
//! - [`Problem`]: the RFC 9457 problem details body ([`PROBLEM_JSON`]), with
//!   the fields at fault as the extension member `errors`; as an axum
//!   response it carries its own status and media type.
//! - [`status`]: a gRPC status with its stable reason as
//!   `google.rpc.ErrorInfo` and the fields at fault as `google.rpc.BadRequest`.
//! - [`SchemaWords`]: how a service's OpenAPI document describes the two
//!   schemas.
//!
//! # What it must not do
//!
//! Decide what an error means: each service keeps its own error enum, its
//! problem types, titles and status codes, and maps through this crate.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tonic_types::{ErrorDetails, StatusExt};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::{OpenApi, RefOr};

/// The media type of a problem details body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// One field at fault in a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldViolation {
    /// The field, as a path (`entries[2].hours`, `children[1].birth_date`).
    pub field: String,
    /// What is wrong with it.
    pub description: String,
}

impl FieldViolation {
    /// A violation of `field`.
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }
}

/// RFC 9457 problem details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI reference naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong in this case.
    pub detail: String,
    /// The fields at fault, for invalid input (an extension member).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldViolation>,
    /// The resource the request would have duplicated, for a duplicate (an
    /// extension member).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub existing: Option<ExistingResource>,
    /// The stable, machine-readable reason of the problem (an extension
    /// member; the same as gRPC's `google.rpc.ErrorInfo.reason`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A resource that exists already, named in a duplicate's problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExistingResource {
    /// Its id.
    pub id: String,
    /// Where it is read (the resource that holds it).
    pub href: String,
}

impl Problem {
    /// A problem of `kind` answered with `status`, no field at fault.
    pub fn new(
        status: StatusCode,
        kind: impl Into<String>,
        title: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            kind: kind.into(),
            title: title.into(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
            existing: None,
            reason: None,
        }
    }

    /// The same problem, with its stable reason.
    #[must_use]
    pub fn with_reason(mut self, reason: &str) -> Self {
        self.reason = Some(reason.to_owned());
        self
    }

    /// The same problem, naming the resource that exists already.
    #[must_use]
    pub fn with_existing(mut self, existing: ExistingResource) -> Self {
        self.existing = Some(existing);
        self
    }

    /// The same problem, with the fields at fault.
    #[must_use]
    pub fn with_errors(mut self, errors: Vec<FieldViolation>) -> Self {
        self.errors = errors;
        self
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (status, body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        response
    }
}

/// A status of `code` with `message`, a stable machine-readable `reason` of
/// `domain` as `google.rpc.ErrorInfo`, and the fields at fault (when there
/// are any) as `google.rpc.BadRequest`.
pub fn status(
    code: tonic::Code,
    message: impl Into<String>,
    reason: &str,
    domain: &str,
    violations: Vec<FieldViolation>,
) -> tonic::Status {
    let mut details = ErrorDetails::new();
    details.set_error_info(reason, domain, std::collections::HashMap::new());
    if !violations.is_empty() {
        details.set_bad_request(
            violations
                .into_iter()
                .map(|v| tonic_types::FieldViolation::new(v.field, v.description))
                .collect::<Vec<_>>(),
        );
    }
    tonic::Status::with_error_details(code, message, details)
}

/// How a service's OpenAPI document describes the [`Problem`] and
/// [`FieldViolation`] schemas, as a utoipa modifier. The schemas are shared;
/// the words are each service's own, published in its document before the
/// types were shared, and a published document does not change with a
/// refactoring. The status and the violation's description read alike in
/// both and keep the words of the doc comments here.
#[derive(Debug, Clone, Copy)]
pub struct SchemaWords {
    /// The `Problem` schema.
    pub problem: &'static str,
    /// Its `type` member.
    pub kind: &'static str,
    /// Its `title` member.
    pub title: &'static str,
    /// Its `detail` member.
    pub detail: &'static str,
    /// Its `errors` member.
    pub errors: &'static str,
    /// The `FieldViolation` schema.
    pub field_violation: &'static str,
    /// Its `field` member.
    pub field: &'static str,
}

impl utoipa::Modify for SchemaWords {
    fn modify(&self, openapi: &mut OpenApi) {
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        let schemas = &mut components.schemas;
        describe(
            schemas.get_mut("Problem"),
            self.problem,
            &[
                ("type", self.kind),
                ("title", self.title),
                ("detail", self.detail),
                ("errors", self.errors),
            ],
        );
        describe(
            schemas.get_mut("FieldViolation"),
            self.field_violation,
            &[("field", self.field)],
        );
    }
}

/// Puts `words` on an object schema and on the named properties of it.
fn describe(schema: Option<&mut RefOr<Schema>>, words: &str, members: &[(&str, &str)]) {
    let Some(RefOr::T(Schema::Object(object))) = schema else {
        return;
    };
    object.description = Some(words.to_owned());
    for (name, words) in members {
        match object.properties.get_mut(*name) {
            Some(RefOr::T(Schema::Object(member))) => {
                member.description = Some((*words).to_owned())
            }
            Some(RefOr::T(Schema::Array(member))) => member.description = Some((*words).to_owned()),
            _ => {}
        }
    }
}

/// An OpenAPI response whose body is a problem document (the `Problem`
/// schema), described by `description`.
pub fn problem_response(description: &str) -> utoipa::openapi::Response {
    use utoipa::openapi::{Content, Ref, ResponseBuilder};
    ResponseBuilder::new()
        .description(description)
        .content(
            PROBLEM_JSON,
            Content::new(Some(Ref::from_schema_name("Problem"))),
        )
        .build()
}

/// Who may call one documented operation, as [`secure_operations`] writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperationAccess {
    /// No token needed.
    Public,
    /// A bearer token of one of these roles, and (for the payroll service)
    /// the scope's machine name and words.
    Roles {
        /// The role claim values.
        roles: Vec<&'static str>,
        /// `x-kvp-scope` and its description, if the service has scopes.
        scope: Option<(&'static str, &'static str)>,
    },
}

/// Adds the `bearer` JWT scheme (described by `scheme_words`) to an OpenAPI
/// document and, per operation as `access` says (`None`: a route no rule
/// covers, listed as public for a test to catch), its security, its roles
/// (`x-kvp-roles`, for clients that pick their token by machine), its scope
/// (`x-kvp-scope`), the same in its description, and its 401 and 403 answers.
pub fn secure_operations(
    openapi: &mut OpenApi,
    scheme_words: &str,
    access: impl Fn(&axum::http::Method, &str) -> Option<OperationAccess>,
) {
    use axum::http::Method;
    use utoipa::openapi::security::{
        HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
    };

    let components = openapi.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .description(Some(scheme_words))
                .build(),
        ),
    );
    let bearer = || vec![SecurityRequirement::new("bearer", Vec::<String>::new())];
    openapi.security = Some(bearer());
    for (path, item) in &mut openapi.paths.paths {
        for (method, operation) in [
            (Method::GET, &mut item.get),
            (Method::POST, &mut item.post),
            (Method::PUT, &mut item.put),
        ] {
            let Some(operation) = operation else { continue };
            let Some(OperationAccess::Roles { roles, scope }) = access(&method, path) else {
                operation.security = Some(Vec::new());
                continue;
            };
            operation.security = Some(bearer());
            let mut words = format!("Roles: {}.", roles.join(", "));
            if let Some((_, described)) = scope {
                words.push_str(&format!(" Scope: {described}."));
            }
            operation.description = Some(match operation.description.take() {
                Some(text) if !text.is_empty() => format!("{text}\n\n{words}"),
                _ => words,
            });
            let extensions = operation.extensions.get_or_insert_with(Default::default);
            extensions.insert("x-kvp-roles".into(), roles.into());
            if let Some((name, _)) = scope {
                extensions.insert("x-kvp-scope".into(), name.into());
            }
            let responses = &mut operation.responses.responses;
            for (status, described) in [
                ("401", "no valid bearer token (WWW-Authenticate: Bearer)"),
                ("403", "the role or the municipality is not allowed"),
            ] {
                responses.insert(status.into(), problem_response(described).into());
            }
        }
    }
}

/// Whether a character is a control character no text of ours carries:
/// every C0 and C1 control but tab, line feed and carriage return (they
/// garble what a caseworker or a payroll file shows, and PostgreSQL cannot
/// store NUL at all).
pub fn is_refused_control(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r')
}

/// The violation of free text at `field` with a refused control character
/// or more than `max_chars` characters, if it has one (the text is never
/// quoted).
pub fn text_violation(field: &str, text: &str, max_chars: usize) -> Option<FieldViolation> {
    if text.chars().any(is_refused_control) {
        Some(FieldViolation::new(
            field,
            "must not contain control characters but tab and line breaks",
        ))
    } else if text.chars().count() > max_chars {
        Some(FieldViolation::new(
            field,
            format!("must be at most {max_chars} characters"),
        ))
    } else {
        None
    }
}

/// What serde refused, without the value refused. serde quotes the value it
/// could not take (``invalid type: integer `15019012345`, expected a
/// string``, ``unknown variant `…` ``, ``unknown field `…` ``), and whatever a
/// client sent may be an identity number, which is never put in an error.
/// The part naming what was expected comes from the schema and is kept.
pub fn without_values(error: &serde_json::Error) -> String {
    let message = error.to_string();
    if error.classify() != serde_json::error::Category::Data {
        // Syntax and end-of-input errors name a position, never a value.
        return message;
    }
    let (refused, expected) = match message.find(", expected") {
        Some(at) => message.split_at(at),
        None => (message.as_str(), ""),
    };
    if expected.is_empty() {
        // `missing field `x``, `duplicate field `x``: names from the schema.
        return message;
    }
    let mut kept = String::new();
    let mut quote = None;
    for c in refused.chars() {
        match (quote, c) {
            (None, '`' | '"') => quote = Some(c),
            (Some(open), _) if c == open => quote = None,
            (None, _) => kept.push(c),
            (Some(_), _) => {}
        }
    }
    format!("{}{expected}", kept.trim_end())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn free_text_is_refused_for_control_characters_and_length_only() {
        use super::text_violation;
        assert_eq!(text_violation("note", "sick\tday\r\nback", 20), None);
        assert_eq!(text_violation("note", "æøå", 3), None);
        for text in ["a\u{0}b", "bell\u{7}", "esc\u{1b}[31m", "c1\u{85}"] {
            let violation = text_violation("note", text, 100).unwrap();
            assert_eq!(violation.field, "note");
            assert!(violation.description.contains("control"), "{text:?}");
            assert!(!violation.description.contains(text));
        }
        let long = text_violation("reason", "æøåæ", 3).unwrap();
        assert_eq!(long.description, "must be at most 3 characters");
    }
    use utoipa::OpenApi as _;

    #[test]
    fn a_problem_body_names_its_members_in_order_and_omits_no_errors() {
        let plain = Problem::new(
            StatusCode::NOT_FOUND,
            "/problems/not-found",
            "Not found",
            "x",
        );
        assert_eq!(
            serde_json::to_string(&plain).unwrap(),
            r#"{"type":"/problems/not-found","title":"Not found","status":404,"detail":"x"}"#
        );
        let invalid = Problem::new(StatusCode::BAD_REQUEST, "t", "T", "d")
            .with_errors(vec![FieldViolation::new("a.b", "is required")]);
        assert_eq!(
            serde_json::to_string(&invalid).unwrap(),
            r#"{"type":"t","title":"T","status":400,"detail":"d","errors":[{"field":"a.b","description":"is required"}]}"#
        );
    }

    #[test]
    fn a_problem_response_has_its_status_and_media_type() {
        let response = Problem::new(StatusCode::CONFLICT, "t", "T", "d").into_response();
        assert_eq!(response.status(), StatusCode::CONFLICT);
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
    }

    #[test]
    fn a_status_carries_its_reason_and_the_fields_at_fault() {
        let status = status(
            tonic::Code::InvalidArgument,
            "invalid",
            "INVALID_FIELDS",
            "test.kvp",
            vec![FieldViolation::new("a", "x"), FieldViolation::new("b", "y")],
        );
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert_eq!(status.message(), "invalid");
        let info = status.get_details_error_info().unwrap();
        assert_eq!(
            (info.reason.as_str(), info.domain.as_str()),
            ("INVALID_FIELDS", "test.kvp")
        );
        let bad_request = status.get_details_bad_request().unwrap();
        let fields: Vec<_> = bad_request
            .field_violations
            .iter()
            .map(|v| (v.field.as_str(), v.description.as_str()))
            .collect();
        assert_eq!(fields, [("a", "x"), ("b", "y")]);

        let plain = super::status(
            tonic::Code::NotFound,
            "gone",
            "NOT_FOUND",
            "test.kvp",
            Vec::new(),
        );
        assert!(plain.get_details_bad_request().is_none());
        assert_eq!(plain.get_details_error_info().unwrap().reason, "NOT_FOUND");
    }

    #[test]
    fn schema_words_describe_every_member_they_name() {
        #[derive(utoipa::OpenApi)]
        #[openapi(components(schemas(Problem, FieldViolation)), modifiers(&WORDS))]
        struct Doc;
        const WORDS: SchemaWords = SchemaWords {
            problem: "p",
            kind: "k",
            title: "t",
            detail: "d",
            errors: "e",
            field_violation: "v",
            field: "f",
        };
        let doc = serde_json::to_value(Doc::openapi()).unwrap();
        let schemas = &doc["components"]["schemas"];
        let problem = &schemas["Problem"];
        assert_eq!(problem["description"], "p");
        for (member, words) in [
            ("type", "k"),
            ("title", "t"),
            ("status", "The HTTP status code."),
            ("detail", "d"),
            ("errors", "e"),
        ] {
            assert_eq!(
                problem["properties"][member]["description"], words,
                "{member}"
            );
        }
        let violation = &schemas["FieldViolation"];
        assert_eq!(violation["description"], "v");
        assert_eq!(violation["properties"]["field"]["description"], "f");
        assert_eq!(
            violation["properties"]["description"]["description"],
            "What is wrong with it."
        );
    }
}
