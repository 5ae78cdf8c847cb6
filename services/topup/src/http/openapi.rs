//! The OpenAPI 3.1 document of the REST surface, derived with utoipa from
//! the handlers' annotations and the documents' types.

use utoipa::OpenApi;

use super::auth::{Access, rule_for};
use super::routes;
use crate::error::{FieldViolation, Problem};
use crate::household::{Adults, ChildInput, HouseholdInput, IncomeInput};
use crate::proposal::{Explanation, ExplanationLine, LineCode, ProposalCause, ProposalState};
use kvp_problem::SchemaWords;

/// The words this document has always given the shared error schemas.
const PROBLEM_WORDS: SchemaWords = SchemaWords {
    problem: "An RFC 9457 problem details document.",
    kind: "URI reference identifying the problem type (relative to the service).",
    title: "Short summary of the problem type.",
    detail: "This occurrence, in words.",
    errors: "The fields at fault, for invalid input (an extension member).",
    field_violation: "One field at fault in a request.",
    field: "Path of the field, e.g. `children[1].birth_date` or `event.id`.",
};

/// The REST API's OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "KVP top-up service",
        description = "Household register and caseworker worklist for proposals of supplementary \
                       social assistance (økonomisk stønad, sosialtjenesteloven § 18) when the KVP \
                       stipend falls short of the state guideline norm. Proposals are never paid \
                       automatically. Errors are RFC 9457 problem details (application/problem+json). \
                       Amounts are kroner as decimal strings with two decimals."
    ),
    paths(
        routes::healthz,
        routes::openapi_document,
        routes::put_household,
        routes::get_household,
        routes::list_proposals,
        routes::get_proposal,
        routes::accept_proposal,
        routes::reject_proposal,
        routes::pending_months,
    ),
    components(schemas(
        Problem,
        FieldViolation,
        Adults,
        HouseholdInput,
        ChildInput,
        IncomeInput,
        routes::Health,
        routes::HouseholdView,
        routes::ChildView,
        routes::IncomeView,
        routes::HouseholdSavedView,
        routes::ProposalView,
        routes::ProposalList,
        routes::DecisionRequest,
        routes::PendingMonthView,
        routes::PendingMonthList,
        ProposalState,
        ProposalCause,
        Explanation,
        ExplanationLine,
        LineCode,
    )),
    tags(
        (name = "households", description = "The household register, keyed by the payroll participant id"),
        (name = "proposals", description = "The caseworkers' worklist"),
        (name = "service", description = "Health and this document"),
    ),
    modifiers(&PROBLEM_WORDS, &BearerSecurity)
)]
pub struct ApiDoc;

/// Adds the bearer scheme to the document and, from [`POLICY`], each
/// operation's security and roles (`x-kvp-roles`, for clients that pick
/// their token by machine) and its 401 and 403 answers.
struct BearerSecurity;

impl utoipa::Modify for BearerSecurity {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        kvp_problem::secure_operations(
            openapi,
            "A JWT signed by a configured key (kid; EdDSA, ES256 or RS256) with iss, aud, exp, \
             sub, role (social_assistance_caseworker, auditor, administrator) and municipality \
             (four digits; auditors and administrators may omit it to act nationally). Records \
             of another municipality are 403; lists hold the token's municipality only.",
            |method, path| {
                rule_for(method, path).map(|rule| match rule.access {
                    Access::Public => kvp_problem::OperationAccess::Public,
                    Access::Roles(roles) => kvp_problem::OperationAccess::Roles {
                        roles: roles.iter().map(|r| r.as_str()).collect(),
                        scope: None,
                    },
                })
            },
        );
    }
}
