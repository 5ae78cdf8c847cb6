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
    sandbox::*, signer_keys::*, simulations::*, timesheets::*, worklist::*,
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
            description names its roles and scope, and so do its x-kvp-roles (the roles' \
            names) and x-kvp-scope (whose municipality the token must be for: \
            any-municipality, national, or the resource the name gives). No text \
            in a request carries a control character but tab, line feed and carriage \
            return (C0 and C1 controls, U+007F): it is a field violation. Without configured keys (development \
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
        assign_key,
        unassigned_keys,
        audit_trail,
        simulate,
        crate::rest::periods::register_g,
        crate::rest::periods::list_g,
        crate::rest::periods::list_runs,
        crate::rest::periods::get_run,
        crate::rest::periods::export_run,
        crate::rest::periods::payslip,
        get_worklist,
        get_clock,
        put_clock,
        healthz,
        readyz,
        metrics,
        openapi
    ),
    components(schemas(SandboxClock, Problem, FieldViolation, ExistingResource, ProgrammeView, Assessment, QuotaSummary, CreateOnly, crate::rest::facts::FactKindSegment)),
    modifiers(&BearerSecurity, &IdempotencyKeyHeader, &PROBLEM_WORDS, &ProblemContentType, &ParametersAsRead, &BoundedRequests, &OneProgrammeForm, &DatesSpelledOut)
)]
pub struct ApiDoc;

/// Dates and instants as the service reads them: `format` is only an
/// annotation in JSON Schema 2020-12, so every `date` and `date-time` string
/// also carries the pattern of its RFC 3339 form (a day the calendar lacks,
/// `2025-02-30`, is still 400).
struct DatesSpelledOut;

/// `full-date` of RFC 3339.
const DATE_PATTERN: &str = "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$";
/// `date-time` of RFC 3339.
const DATE_TIME_PATTERN: &str = "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt]\
    ([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\\.[0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$";

impl utoipa::Modify for DatesSpelledOut {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::RefOr;

        fn spell(schema: &mut utoipa::openapi::schema::Schema) {
            use utoipa::openapi::schema::{ArrayItems, Schema};
            use utoipa::openapi::{KnownFormat, SchemaFormat};
            let within = |items: &mut Vec<RefOr<Schema>>| {
                for item in items {
                    if let RefOr::T(schema) = item {
                        spell(schema);
                    }
                }
            };
            match schema {
                Schema::Object(object) => {
                    match &object.format {
                        Some(SchemaFormat::KnownFormat(KnownFormat::Date)) => {
                            object
                                .pattern
                                .get_or_insert_with(|| DATE_PATTERN.to_owned());
                        }
                        Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)) => {
                            object
                                .pattern
                                .get_or_insert_with(|| DATE_TIME_PATTERN.to_owned());
                        }
                        _ => {}
                    }
                    for property in object.properties.values_mut() {
                        if let RefOr::T(schema) = property {
                            spell(schema);
                        }
                    }
                }
                Schema::Array(array) => {
                    if let ArrayItems::RefOrSchema(item) = &mut array.items
                        && let RefOr::T(schema) = item.as_mut()
                    {
                        spell(schema);
                    }
                }
                Schema::OneOf(one_of) => within(&mut one_of.items),
                Schema::AllOf(all_of) => within(&mut all_of.items),
                Schema::AnyOf(any_of) => within(&mut any_of.items),
                _ => {}
            }
        }

        if let Some(components) = openapi.components.as_mut() {
            for schema in components.schemas.values_mut() {
                if let RefOr::T(schema) = schema {
                    spell(schema);
                }
            }
        }
        for item in openapi.paths.paths.values_mut() {
            for operation in operations(item) {
                for parameter in operation.parameters.iter_mut().flatten() {
                    if let RefOr::T(parameter) = parameter
                        && let Some(RefOr::T(schema)) = &mut parameter.schema
                    {
                        spell(schema);
                    }
                }
                if let Some(RefOr::T(body)) = &mut operation.request_body {
                    for content in body.content.values_mut() {
                        if let RefOr::T(content) = content
                            && let Some(RefOr::T(schema)) = &mut content.schema
                        {
                            spell(schema);
                        }
                    }
                }
            }
        }
    }
}

/// A case gives its programme periods one way: `programme` (one period) or
/// `programmes` (several, possibly none), never both; `null` counts as
/// absent. The case schema says so with a `oneOf` beside its properties.
struct OneProgrammeForm;

impl utoipa::Modify for OneProgrammeForm {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};
        use utoipa::openapi::{Ref, RefOr};

        let Some(schemas) = openapi.components.as_mut().map(|c| &mut c.schemas) else {
            return;
        };
        let Some(case) = schemas.remove("CaseSchema") else {
            return;
        };
        let given = |field: &str, shape: RefOr<Schema>| {
            ObjectBuilder::new()
                .required(field)
                .property(field, shape)
                .build()
        };
        let one_form = OneOfBuilder::new()
            .item(given(
                "programme",
                Ref::from_schema_name("CaseProgrammeSchema").into(),
            ))
            .item(given(
                "programmes",
                ObjectBuilder::new().schema_type(Type::Array).into(),
            ));
        let whole = AllOfBuilder::new().item(case).item(one_form).build();
        schemas.insert("CaseSchema".to_owned(), Schema::AllOf(whole).into());
    }
}

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

/// Parameters declared as the service reads them: every `{id}` in a path a
/// municipality's four-digit number under `/v1/municipalities/`, a UUID
/// everywhere else (anything else is 400 before any lookup); every
/// `{month}` (`YYYY-MM`) and `{effective_date}` (a date); every header
/// present or absent, never `null`; and every `after` a cursor of the list.
struct ParametersAsRead;

impl utoipa::Modify for ParametersAsRead {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
        use utoipa::openapi::schema::{Schema, SchemaType};
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
                    let schema = match (&parameter.parameter_in, parameter.name.as_str()) {
                        (ParameterIn::Path, "month") => ObjectBuilder::new()
                            .schema_type(Type::String)
                            .pattern(Some("^[0-9]{4}-(0[1-9]|1[0-2])$")),
                        (ParameterIn::Path, "effective_date") => ObjectBuilder::new()
                            .schema_type(Type::String)
                            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date))),
                        // Issued by the service only (a page's `Link:
                        // rel="next"`): base64url naming the last item read.
                        (ParameterIn::Query, "after") => ObjectBuilder::new()
                            .schema_type(Type::String)
                            .format(Some(SchemaFormat::Custom("kvp-cursor".to_owned())))
                            .pattern(Some("^[A-Za-z0-9_-]+$")),
                        (ParameterIn::Header, _) => {
                            // A header has no null: it is sent or not.
                            let is_null = |item: &RefOr<Schema>| {
                                matches!(item, RefOr::T(Schema::Object(o))
                                    if o.schema_type == SchemaType::Type(Type::Null))
                            };
                            if let Some(RefOr::T(Schema::OneOf(one_of))) = &parameter.schema
                                && let [only] = one_of
                                    .items
                                    .iter()
                                    .filter(|item| !is_null(item))
                                    .collect::<Vec<_>>()[..]
                            {
                                parameter.schema = Some(only.clone());
                            }
                            if let Some(RefOr::T(Schema::Object(object))) = &mut parameter.schema
                                && let SchemaType::Array(types) = &object.schema_type
                                && let [only] = types
                                    .iter()
                                    .filter(|t| **t != Type::Null)
                                    .collect::<Vec<_>>()[..]
                            {
                                object.schema_type = SchemaType::Type(only.clone());
                            }
                            continue;
                        }
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

pub(crate) use kvp_problem::problem_response;
