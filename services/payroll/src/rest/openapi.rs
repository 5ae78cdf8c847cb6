//! The OpenAPI document of the REST API, served at `/openapi.json`: every
//! operation of every resource, with its roles and scope from the policy.

use utoipa::OpenApi;

use super::auth::BearerSecurity;
// Imported rather than named by module: utoipa tags an operation with the
// module path it is listed under, and the document lists them untagged.
use super::idempotency::IdempotencyKeyHeader;
#[allow(
    clippy::wildcard_imports,
    reason = "each operation and its utoipa path type"
)]
use super::{
    audit::*, decisions::*, health::*, municipalities::*, participants::*, programmes::*,
    signer_keys::*, simulations::*, timesheets::*, worklist::*,
};
use crate::error::{ExistingResource, FieldViolation, Problem};
use crate::ingest::{Assessment, QuotaSummary};
use kvp_problem::SchemaWords;

/// The words this document has always given the shared error schemas.
const PROBLEM_WORDS: SchemaWords = SchemaWords {
    problem: "RFC 9457 problem details.",
    kind: "A URI naming the kind of problem.",
    title: "A short summary of the kind.",
    detail: "What went wrong in this case.",
    errors: "The fields at fault, for validation problems.",
    field_violation: "One field that failed validation.",
    field: "The field, as a path (`entries[2].hours`).",
};

/// The OpenAPI document of this API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "KVP payroll",
        description = "Caseworker and payroll REST API of the KVP stipend payroll. Every \
            operation needs a bearer token (JWT) whose role and municipality it allows, except \
            the public /healthz, /readyz, /metrics and /openapi.json; each operation's \
            description names its roles and scope. Without configured keys (development \
            mode, loopback only) nothing is checked and x-kvp-actor names the caller."
    ),
    paths(
        put_municipality,
        get_municipality,
        create_participant,
        get_participant,
        add_child,
        add_sole_carer_period,
        add_benefit_offset,
        create_programme,
        get_programme,
        set_programme_end,
        add_pause,
        get_employee_number,
        put_employee_number,
        extend_programme,
        list_extensions,
        crate::rest::facts::get_fact,
        crate::rest::facts::correct_fact,
        crate::rest::facts::fact_versions,
        crate::rest::facts::void_fact,
        crate::rest::facts::get_g,
        crate::rest::facts::correct_g,
        crate::rest::facts::g_versions,
        crate::rest::facts::void_g,
        decide,
        list_decisions,
        warn,
        list_warnings,
        appeal,
        get_appeal,
        decide_appeal,
        absence_overview,
        month,
        list_timesheets,
        register_key,
        get_key,
        revoke_key,
        audit_trail,
        simulate,
        crate::rest::periods::register_g,
        crate::rest::periods::list_g,
        crate::rest::periods::list_runs,
        crate::rest::periods::get_run,
        crate::rest::periods::export_run,
        crate::rest::periods::payslip,
        get_worklist,
        healthz,
        readyz,
        metrics,
        openapi
    ),
    components(schemas(Problem, FieldViolation, ExistingResource, ProgrammeView, Assessment, QuotaSummary)),
    modifiers(&BearerSecurity, &IdempotencyKeyHeader, &PROBLEM_WORDS, &ProblemContentType, &PathIds, &BoundedRequests)
)]
pub struct ApiDoc;

/// What the request bounds (`rest/limits.rs`) answer on every operation: 413
/// for a body beyond the limit (operations that take one), 503 for a request
/// cut off at the time limit, nothing of it stored.
struct BoundedRequests;

impl utoipa::Modify for BoundedRequests {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::RefOr;

        for item in openapi.paths.paths.values_mut() {
            for operation in operations(item) {
                let answers = &mut operation.responses.responses;
                if operation.request_body.is_some() {
                    answers.entry("413".to_owned()).or_insert_with(|| {
                        RefOr::T(problem_response("the body exceeds the service's limit"))
                    });
                }
                answers.entry("503".to_owned()).or_insert_with(|| {
                    RefOr::T(problem_response(
                        "the request did not complete in time; nothing of it was stored",
                    ))
                });
            }
        }
    }
}

/// Every `{id}` in a path, declared as the service reads it: a
/// municipality's four-digit number under `/v1/municipalities/`, a UUID
/// everywhere else (anything else is 400 before any lookup); and every
/// `{month}` (`YYYY-MM`) and `{effective_date}` (a date).
struct PathIds;

impl utoipa::Modify for PathIds {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
        use utoipa::openapi::{KnownFormat, ObjectBuilder, RefOr, Required, SchemaFormat, Type};

        for (path, item) in openapi.paths.paths.iter_mut() {
            if !path.contains("{id}") {
                continue;
            }
            let municipality = path.starts_with("/v1/municipalities/");
            let schema = || {
                if municipality {
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .pattern(Some("^[0-9]{4}$"))
                        .description(Some("The municipality's number (kommunenummer)."))
                } else {
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
                }
            };
            for operation in operations(item) {
                // An id that is not one is refused before any lookup.
                operation
                    .responses
                    .responses
                    .entry("400".to_owned())
                    .or_insert_with(|| RefOr::T(problem_response("the id is not one")));
                let parameters = operation.parameters.get_or_insert_with(Vec::new);
                parameters.retain(|p| {
                    !matches!(p, RefOr::T(p) if p.name == "id" && p.parameter_in == ParameterIn::Path)
                });
                parameters.insert(
                    0,
                    RefOr::T(
                        ParameterBuilder::new()
                            .name("id")
                            .parameter_in(ParameterIn::Path)
                            .required(Required::True)
                            .schema(Some(schema()))
                            .build(),
                    ),
                );
            }
        }
        // A month and a date in a path, as the service reads them.
        for item in openapi.paths.paths.values_mut() {
            for operation in operations(item) {
                for parameter in operation.parameters.iter_mut().flatten() {
                    let RefOr::T(parameter) = parameter else {
                        continue;
                    };
                    if parameter.parameter_in != ParameterIn::Path {
                        continue;
                    }
                    let schema = match parameter.name.as_str() {
                        "month" => ObjectBuilder::new()
                            .schema_type(Type::String)
                            .pattern(Some("^[0-9]{4}-(0[1-9]|1[0-2])$")),
                        "effective_date" => ObjectBuilder::new()
                            .schema_type(Type::String)
                            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date))),
                        _ => continue,
                    };
                    parameter.schema = Some(schema.into());
                }
            }
        }
    }
}

/// Errors are answered as `application/problem+json` (RFC 9457): every
/// answer whose body is `Problem` is declared with that media type, whatever
/// an operation's annotation defaulted it to.
struct ProblemContentType;

impl utoipa::Modify for ProblemContentType {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::RefOr;

        const JSON: &str = "application/json";
        let problem = format!("#/components/schemas/{}", "Problem");
        for item in openapi.paths.paths.values_mut() {
            for operation in operations(item) {
                for response in operation.responses.responses.values_mut() {
                    let RefOr::T(response) = response else {
                        continue;
                    };
                    let is_problem = response.content.get(JSON).is_some_and(|content| {
                        matches!(content, RefOr::T(content)
                            if matches!(&content.schema, Some(RefOr::Ref(r)) if r.ref_location == problem))
                    });
                    if is_problem && let Some(content) = response.content.shift_remove(JSON) {
                        response
                            .content
                            .insert(kvp_problem::PROBLEM_JSON.to_owned(), content);
                    }
                }
            }
        }
    }
}

/// The operations of a path, for the modifiers that change every one.
fn operations(
    item: &mut utoipa::openapi::path::PathItem,
) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// A documented answer of problem details (`Problem`), for the modifiers that
/// add answers to many operations.
pub(crate) fn problem_response(description: &str) -> utoipa::openapi::Response {
    use utoipa::openapi::{Content, Ref, ResponseBuilder};
    ResponseBuilder::new()
        .description(description)
        .content(
            kvp_problem::PROBLEM_JSON,
            Content::new(Some(Ref::from_schema_name("Problem"))),
        )
        .build()
}
