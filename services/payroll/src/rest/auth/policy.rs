//! The access policy: for every REST route, the roles that may call it and
//! whose data it touches ([`POLICY`]), and the same in the OpenAPI document
//! ([`BearerSecurity`]).

use axum::http::Method;

use super::Role;

pub use kvp_auth::Verb;

/// Whose data a route touches: how the municipality a token must be for is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// Nobody's: computations and the G table as read.
    Nobody,
    /// The nation's: changing it needs a national token.
    Nation,
    /// The municipality `{id}`.
    Municipality,
    /// The participant `{id}`'s municipality.
    Participant,
    /// The programme `{id}`'s participant's municipality.
    Programme,
    /// The fact `{kind}/{id}`'s participant's municipality.
    Fact,
    /// The sanction decision `{id}`'s participant's municipality.
    Decision,
    /// The pay run `{id}`'s municipality.
    Run,
    /// The signer key `{keyid}`: a participant key's participant's
    /// municipality; supervisor and provider keys are national.
    SignerKey,
    /// The audit subject `{subject_type}/{subject_id}`'s municipality.
    AuditSubject,
    /// The body's `municipality_id` (a new participant).
    NewParticipant,
    /// The body's key, as for [`Owner::SignerKey`] (a new signer key).
    NewSignerKey,
}

impl Owner {
    /// The scope's name in the OpenAPI document (`x-kvp-scope`), for clients
    /// that pick their token by machine.
    fn name(self) -> &'static str {
        match self {
            Self::Nobody => "any-municipality",
            Self::Nation => "national",
            Self::Municipality => "municipality",
            Self::Participant => "participant",
            Self::Programme => "programme",
            Self::Fact => "fact",
            Self::Decision => "decision",
            Self::Run => "run",
            Self::SignerKey => "signer-key",
            Self::AuditSubject => "audit-subject",
            Self::NewParticipant => "new-participant",
            Self::NewSignerKey => "new-signer-key",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Self::Nobody => "any municipality",
            Self::Nation => "national tokens only",
            Self::Municipality => "the municipality in the path",
            Self::Participant => "the participant's municipality",
            Self::Programme => "the programme's participant's municipality",
            Self::Fact => "the fact's participant's municipality",
            Self::Decision => "the decision's participant's municipality",
            Self::Run => "the run's municipality",
            Self::SignerKey => {
                "a participant key's or supervisor key's municipality; provider keys and \
                 unassigned supervisor keys: national to change"
            }
            Self::AuditSubject => "the subject's municipality",
            Self::NewParticipant => "the body's municipality_id",
            Self::NewSignerKey => {
                "a participant key's municipality, a supervisor key's body municipality_id; \
                 provider keys: national tokens only"
            }
        }
    }
}

/// Who may call a route.
#[derive(Debug, Clone, Copy)]
pub enum Access {
    /// No token needed.
    Public,
    /// A token of one of these roles, for the owner's municipality.
    Roles(&'static [Role], Owner),
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

/// A rule of a table (`POLICY`, the page's `PAGE_POLICY`).
pub const fn rule(verb: Verb, path: &'static str, access: Access) -> Rule {
    Rule { verb, path, access }
}

use Access::{Public, Roles};
use Role::{Administrator, Auditor, Caseworker, PayrollOperator};
use Verb::{Get, Post, Put};

/// Every role: reads of a municipality's data, national reads, computations.
pub const EVERYONE: &[Role] = &[Caseworker, PayrollOperator, Auditor, Administrator];
/// Pay runs and their export: the payroll file of a whole municipality, not
/// a caseworker's business (payslips of one participant are).
const PAYROLL: &[Role] = &[PayrollOperator, Auditor, Administrator];
/// Participants and their facts, decisions.
pub const CASEWORKER: &[Role] = &[Caseworker];
/// Municipalities and their policy, signer keys, the G.
const ADMINISTRATOR: &[Role] = &[Administrator];
/// The audit trail is the check on every other role, administrators
/// included: only auditors read it.
const AUDITOR: &[Role] = &[Auditor];
/// The keys still to be assigned: the administrators who assign them, and
/// auditors.
const KEY_AUDIT: &[Role] = &[Administrator, Auditor];

/// Every REST route: who may call it and whose data it touches.
#[rustfmt::skip]
pub const POLICY: &[Rule] = &[
    rule(Get,  "/healthz",                                   Public),
    rule(Get,  "/readyz",                                    Public),
    rule(Get,  "/metrics",                                   Public),
    rule(Get,  "/openapi.json",                              Public),
    rule(Put,  "/v1/municipalities/{id}",                    Roles(ADMINISTRATOR, Owner::Municipality)),
    rule(Get,  "/v1/municipalities/{id}",                    Roles(EVERYONE,      Owner::Municipality)),
    rule(Get,  "/v1/municipalities/{id}/runs",               Roles(PAYROLL,       Owner::Municipality)),
    rule(Get,  "/v1/municipalities/{id}/worklist",           Roles(EVERYONE,      Owner::Municipality)),
    rule(Get,  "/v1/facts/{kind}/{id}",                      Roles(EVERYONE,      Owner::Fact)),
    rule(Put,  "/v1/facts/{kind}/{id}",                      Roles(CASEWORKER,    Owner::Fact)),
    rule(Get,  "/v1/facts/{kind}/{id}/versions",             Roles(EVERYONE,      Owner::Fact)),
    rule(Post, "/v1/facts/{kind}/{id}/void",                 Roles(CASEWORKER,    Owner::Fact)),
    rule(Post, "/v1/participants",                           Roles(CASEWORKER,    Owner::NewParticipant)),
    rule(Get,  "/v1/participants/{id}",                      Roles(EVERYONE,      Owner::Participant)),
    rule(Get,  "/v1/participants/{id}/employee-number",      Roles(EVERYONE,      Owner::Participant)),
    rule(Put,  "/v1/participants/{id}/employee-number",      Roles(CASEWORKER,    Owner::Participant)),
    rule(Post, "/v1/participants/{id}/children",             Roles(CASEWORKER,    Owner::Participant)),
    rule(Post, "/v1/participants/{id}/sole-carer-periods",   Roles(CASEWORKER,    Owner::Participant)),
    rule(Post, "/v1/participants/{id}/benefit-offsets",      Roles(CASEWORKER,    Owner::Participant)),
    rule(Post, "/v1/participants/{id}/programmes",           Roles(CASEWORKER,    Owner::Participant)),
    rule(Post, "/v1/participants/{id}/sanction-decisions",   Roles(CASEWORKER,    Owner::Participant)),
    rule(Get,  "/v1/participants/{id}/sanction-decisions",   Roles(EVERYONE,      Owner::Participant)),
    rule(Post, "/v1/participants/{id}/sanction-warnings",    Roles(CASEWORKER,    Owner::Participant)),
    rule(Get,  "/v1/participants/{id}/sanction-warnings",    Roles(EVERYONE,      Owner::Participant)),
    rule(Post, "/v1/sanction-decisions/{id}/appeal",         Roles(CASEWORKER,    Owner::Decision)),
    rule(Get,  "/v1/sanction-decisions/{id}/appeal",         Roles(EVERYONE,      Owner::Decision)),
    rule(Post, "/v1/sanction-decisions/{id}/appeal/outcome", Roles(CASEWORKER,    Owner::Decision)),
    rule(Get,  "/v1/participants/{id}/absence-overview",     Roles(EVERYONE,      Owner::Participant)),
    rule(Get,  "/v1/participants/{id}/months/{month}",       Roles(EVERYONE,      Owner::Participant)),
    rule(Get,  "/v1/participants/{id}/timesheets",           Roles(EVERYONE,      Owner::Participant)),
    rule(Get,  "/v1/participants/{id}/payslips/{month}",     Roles(EVERYONE,      Owner::Participant)),
    rule(Get,  "/v1/programmes/{id}",                        Roles(EVERYONE,      Owner::Programme)),
    rule(Put,  "/v1/programmes/{id}/end",                    Roles(CASEWORKER,    Owner::Programme)),
    rule(Post, "/v1/programmes/{id}/pauses",                 Roles(CASEWORKER,    Owner::Programme)),
    rule(Post, "/v1/programmes/{id}/extensions",             Roles(CASEWORKER,    Owner::Programme)),
    rule(Get,  "/v1/programmes/{id}/extensions",             Roles(EVERYONE,      Owner::Programme)),
    rule(Post, "/v1/signer-keys",                            Roles(ADMINISTRATOR, Owner::NewSignerKey)),
    rule(Get,  "/v1/signer-keys/{keyid}",                    Roles(EVERYONE,      Owner::SignerKey)),
    rule(Post, "/v1/signer-keys/{keyid}/revocation",         Roles(ADMINISTRATOR, Owner::SignerKey)),
    rule(Put,  "/v1/signer-keys/{keyid}/municipality",       Roles(ADMINISTRATOR, Owner::Nation)),
    rule(Get,  "/v1/unassigned-supervisor-keys",             Roles(KEY_AUDIT,     Owner::Nation)),
    rule(Get,  "/v1/audit/{subject_type}/{subject_id}",      Roles(AUDITOR,       Owner::AuditSubject)),
    rule(Post, "/v1/simulations",                            Roles(EVERYONE,      Owner::Nobody)),
    rule(Get,  "/v1/parameters/g",                           Roles(EVERYONE,      Owner::Nobody)),
    rule(Post, "/v1/parameters/g",                           Roles(ADMINISTRATOR, Owner::Nation)),
    rule(Get,  "/v1/parameters/g/{effective_date}",          Roles(EVERYONE,      Owner::Nobody)),
    rule(Put,  "/v1/parameters/g/{effective_date}",          Roles(ADMINISTRATOR, Owner::Nation)),
    rule(Get,  "/v1/parameters/g/{effective_date}/versions", Roles(EVERYONE,      Owner::Nobody)),
    rule(Post, "/v1/parameters/g/{effective_date}/void",     Roles(ADMINISTRATOR, Owner::Nation)),
    rule(Get,  "/v1/sandbox/clock",                          Roles(EVERYONE,      Owner::Nobody)),
    rule(Put,  "/v1/sandbox/clock",                          Roles(ADMINISTRATOR, Owner::Nation)),
    rule(Get,  "/v1/runs/{id}",                              Roles(PAYROLL,       Owner::Run)),
    rule(Get,  "/v1/runs/{id}/export",                       Roles(PAYROLL,       Owner::Run)),
];

/// The rule of a route template and method, if there is one.
pub fn rule_for(method: &Method, path: &str) -> Option<&'static Rule> {
    rule_in(POLICY, method, path)
}

/// The rule of a route template and method in a table, if there is one.
pub fn rule_in(policy: &'static [Rule], method: &Method, path: &str) -> Option<&'static Rule> {
    policy
        .iter()
        .find(|r| r.path == path && r.verb.matches(method))
}

/// The methods a route template is served with (GET with HEAD), for the
/// `Allow` of a 405; empty for a template the policy does not know.
pub fn methods_of(path: &str) -> Vec<&'static str> {
    methods_in(POLICY, path)
}

/// [`methods_of`] in a table.
pub fn methods_in(policy: &'static [Rule], path: &str) -> Vec<&'static str> {
    Verb::allow(policy.iter().filter(|r| r.path == path).map(|r| r.verb))
}

/// Adds the bearer scheme to the OpenAPI document and, from [`POLICY`], each
/// operation's security, roles and scope (and its 401 and 403 answers).
pub struct BearerSecurity;

impl utoipa::Modify for BearerSecurity {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        kvp_problem::secure_operations(
            openapi,
            "A JWT signed by a configured key (kid; EdDSA, ES256 or RS256) with iss, aud, exp, \
             sub, role (caseworker, payroll_operator, auditor, administrator) and municipality \
             (four digits; auditors and administrators may omit it to act nationally).",
            |method, path| {
                rule_for(method, path).map(|rule| match rule.access {
                    Access::Public => kvp_problem::OperationAccess::Public,
                    Access::Roles(roles, owner) => kvp_problem::OperationAccess::Roles {
                        roles: roles.iter().map(|r| r.as_str()).collect(),
                        scope: Some((owner.name(), owner.describe())),
                    },
                })
            },
        );
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

    use super::*;
    use serde_json::json;
    use utoipa::OpenApi;

    #[test]
    fn every_documented_operation_has_exactly_one_rule_and_every_rule_an_operation() {
        let doc = serde_json::to_value(crate::rest::ApiDoc::openapi()).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        let mut documented = Vec::new();
        for (path, item) in paths {
            for verb in ["get", "post", "put", "delete", "patch"] {
                if let Some(operation) = item.get(verb) {
                    documented.push((verb, path.clone()));
                    let method: Method = verb.to_uppercase().parse().unwrap();
                    let matching = POLICY
                        .iter()
                        .filter(|r| r.path == path && r.verb.matches(&method))
                        .count();
                    assert_eq!(matching, 1, "{verb} {path}");
                    let public = operation["security"] == json!([]);
                    let access = rule_for(&method, path).unwrap().access;
                    assert_eq!(public, matches!(access, Access::Public), "{verb} {path}");
                    if let Access::Roles(roles, owner) = access {
                        let names: Vec<_> = roles.iter().map(|r| r.as_str()).collect();
                        assert_eq!(operation["x-kvp-roles"], json!(names), "{verb} {path}");
                        assert_eq!(operation["x-kvp-scope"], owner.name(), "{verb} {path}");
                    }
                }
            }
        }
        for rule in POLICY {
            assert!(
                documented.contains(&(rule.verb.as_str(), rule.path.to_owned())),
                "{} {} is not in the OpenAPI document",
                rule.verb.as_str(),
                rule.path
            );
        }
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
    }
}
