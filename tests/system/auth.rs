//! REST bearer tokens with roles, scoped to a municipality, over real HTTP.
//!
//! One table names every route with a real request, the roles it allows and
//! whose data it touches; the table test runs, for every route: no token,
//! a bad signature, an expired token, a wrong issuer and a wrong audience
//! (401 with a `Bearer` challenge); every role not allowed (403); every
//! allowed role of another municipality, or of a municipality where a
//! national token is needed (403); and every allowed role in scope (the real
//! success answer). A second test checks the table covers every operation of
//! `/openapi.json`, so a new route cannot skip the check.

use std::collections::BTreeSet;

use kvp_proto::kvp::payroll::v1 as pb;
use kvp_signing::{SigningKey, public_key_to_base64};
use kvp_system_tests::{Fixture, Reply, TestApp, TokenIssuer, national_id};
use pb::DayKind;
use reqwest::Method;
use serde_json::{Value, json};

const ROLES: [&str; 4] = ["caseworker", "payroll_operator", "auditor", "administrator"];
const HOME: &str = "0301";
const OTHER: &str = "4601";

/// Whose data a route touches, as the test exercises it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// No token needed.
    Public,
    /// Nobody's data: any municipality's token of an allowed role.
    Open,
    /// Oslo's data: a token for Bergen is refused.
    Home,
    /// A national resource changed: a municipal token is refused, a national one serves.
    National,
}

/// What the success answer must hold.
#[derive(Debug, Clone)]
enum Expect {
    /// The value at a JSON pointer.
    Field(&'static str, Value),
    /// Something at a JSON pointer.
    Present(&'static str),
    /// A text body containing this.
    Text(&'static str),
}

/// One route, with a request that succeeds for an allowed caller.
#[derive(Debug, Clone)]
struct Route {
    method: Method,
    /// The template as the OpenAPI document spells it.
    template: &'static str,
    path: String,
    body: Option<Value>,
    allowed: &'static [&'static str],
    scope: Scope,
    status: u16,
    expect: Expect,
}

const EVERYONE: &[&str] = &ROLES;
const PAYROLL: &[&str] = &["payroll_operator", "auditor", "administrator"];
const CASEWORKER: &[&str] = &["caseworker"];
const ADMINISTRATOR: &[&str] = &["administrator"];
const AUDITOR: &[&str] = &["auditor"];
const KEY_AUDIT: &[&str] = &["administrator", "auditor"];
const NOBODY: &[&str] = &[];

/// The ids the requests need.
struct Ids {
    participant: String,
    child: String,
    /// A decision to deduct, for its appeal.
    decision: String,
    programme: String,
    run: String,
    month_base: &'static str,
    simulation: Value,
    simulation_total: Value,
}

impl Ids {
    /// Ids that only fill the templates (for the coverage test).
    fn placeholders() -> Self {
        Self {
            participant: "p".into(),
            child: "c".into(),
            decision: "d".into(),
            programme: "q".into(),
            run: "r".into(),
            month_base: "",
            simulation: json!({}),
            simulation_total: json!(""),
        }
    }
}

/// Every route, one row each (kept as a table by hand).
#[rustfmt::skip]
fn routes(ids: &Ids) -> Vec<Route> {
    use Expect::{Field, Present, Text};
    use Scope::{Home, National, Open, Public};
    let (get, post, put) = (Method::GET, Method::POST, Method::PUT);
    let route = |method: &Method, template: &'static str, path: String, body: Option<Value>,
                 (allowed, scope): (&'static [&'static str], Scope),
                 (status, expect): (u16, Expect)| Route {
        method: method.clone(), template, path, body, allowed, scope, status, expect,
    };
    let p = &ids.participant;
    let new_key = json!({
        "keyid": "participant-key-2", "person_id": p, "role": "PARTICIPANT",
        "public_key": public_key_to_base64(&SigningKey::from_bytes(&[9; 32]).verifying_key()),
        "valid_from": "2025-01-01T00:00:00Z",
    });
    vec![
        route(&get, "/healthz", "/healthz".into(), None,
            (NOBODY, Public), (200, Text("ok"))),
        route(&get, "/readyz", "/readyz".into(), None,
            (NOBODY, Public), (200, Text("ready"))),
        route(&get, "/metrics", "/metrics".into(), None,
            (NOBODY, Public), (200, Text("# "))),
        route(&get, "/openapi.json", "/openapi.json".into(), None,
            (NOBODY, Public), (200, Field("/info/title", json!("KVP payroll")))),
        route(&put, "/v1/municipalities/{id}", format!("/v1/municipalities/{HOME}"),
            Some(json!({"name": "Oslo", "pay_codes": {"KVP_BASE": "1101"}, "use_product_codes": true})),
            (ADMINISTRATOR, Home), (200, Field("/pay_codes/KVP_BASE", json!("1101")))),
        route(&get, "/v1/municipalities/{id}", format!("/v1/municipalities/{HOME}"), None,
            (EVERYONE, Home), (200, Field("/name", json!("Oslo")))),
        route(&get, "/v1/municipalities/{id}/runs", format!("/v1/municipalities/{HOME}/runs"), None,
            (PAYROLL, Home), (200, Field("/0/id", json!(ids.run)))),
        route(&get, "/v1/municipalities/{id}/worklist", format!("/v1/municipalities/{HOME}/worklist"), None,
            (EVERYONE, Home), (200, Field("/municipality_id", json!(HOME)))),
        route(&get, "/v1/runs/{id}", format!("/v1/runs/{}", ids.run), None,
            (PAYROLL, Home), (200, Field("/id", json!(ids.run)))),
        route(&get, "/v1/runs/{id}/export", format!("/v1/runs/{}/export?format=json", ids.run), None,
            (PAYROLL, Home), (200, Field("/lines/0/run_id", json!(ids.run)))),
        route(&post, "/v1/participants", "/v1/participants".into(),
            Some(json!({"municipality_id": HOME, "national_id": national_id("010285", 400), "display_name": "Ola"})),
            (CASEWORKER, Home), (201, Field("/birth_date", json!("1985-02-01")))),
        route(&get, "/v1/participants/{id}", format!("/v1/participants/{p}"), None,
            (EVERYONE, Home), (200, Field("/municipality_id", json!(HOME)))),
        route(&put, "/v1/participants/{id}/employee-number", format!("/v1/participants/{p}/employee-number"),
            Some(json!({"employee_number": "A-1001"})),
            (CASEWORKER, Home), (200, Field("/employee_number", json!("A-1001")))),
        route(&get, "/v1/participants/{id}/employee-number", format!("/v1/participants/{p}/employee-number"), None,
            (EVERYONE, Home), (200, Field("/version", json!(2)))),
        route(&post, "/v1/participants/{id}/children", format!("/v1/participants/{p}/children"),
            Some(json!({"birth_date": "2022-05-01"})),
            (CASEWORKER, Home), (201, Field("/children/1/birth_date", json!("2022-05-01")))),
        route(&post, "/v1/participants/{id}/sole-carer-periods", format!("/v1/participants/{p}/sole-carer-periods"),
            Some(json!({"from": "2025-01-01"})),
            (CASEWORKER, Home), (201, Present("/id"))),
        route(&post, "/v1/participants/{id}/benefit-offsets", format!("/v1/participants/{p}/benefit-offsets"),
            Some(json!({"month": "2025-11", "kind": "DAGPENGER", "amount": "1000.00"})),
            (CASEWORKER, Home), (201, Present("/id"))),
        route(&post, "/v1/participants/{id}/programmes", format!("/v1/participants/{p}/programmes"),
            Some(json!({"start": "2027-01-01", "decision_reference": "KVP-2"})),
            (CASEWORKER, Home), (201, Field("/programmes/1/decision_reference", json!("KVP-2")))),
        route(&post, "/v1/participants/{id}/sanction-decisions", format!("/v1/participants/{p}/sanction-decisions"),
            Some(json!({"date": "2025-10-14", "entry_kind": "UNEXCUSED", "outcome": "APPROVED", "reference": "VEDTAK-1"})),
            (CASEWORKER, Home), (201, Field("/decided_by", json!("caseworker:kari")))),
        route(&get, "/v1/participants/{id}/sanction-decisions", format!("/v1/participants/{p}/sanction-decisions"), None,
            (EVERYONE, Home), (200, Field("/0/reference", json!("VEDTAK-1")))),
        route(&post, "/v1/participants/{id}/sanction-warnings", format!("/v1/participants/{p}/sanction-warnings"),
            Some(json!({"given_on": "2025-11-03", "channel": "IN_PERSON", "reference": "VARSEL-2",
                        "days": [{"date": "2025-10-14", "entry_kind": "UNEXCUSED"}]})),
            (CASEWORKER, Home), (201, Field("/days/0/hours", json!("3.00")))),
        route(&get, "/v1/participants/{id}/sanction-warnings", format!("/v1/participants/{p}/sanction-warnings"), None,
            (EVERYONE, Home), (200, Field("/0/reference", json!("VARSEL-1")))),
        route(&post, "/v1/sanction-decisions/{id}/appeal", format!("/v1/sanction-decisions/{}/appeal", ids.decision),
            Some(json!({"received_on": "2025-11-20", "reference": "KLAGE-1"})),
            (CASEWORKER, Home), (201, Field("/reference", json!("KLAGE-1")))),
        route(&get, "/v1/sanction-decisions/{id}/appeal", format!("/v1/sanction-decisions/{}/appeal", ids.decision), None,
            (EVERYONE, Home), (200, Field("/outcome", Value::Null))),
        route(&post, "/v1/sanction-decisions/{id}/appeal/outcome", format!("/v1/sanction-decisions/{}/appeal/outcome", ids.decision),
            Some(json!({"outcome": "DISMISSED", "decided_on": "2025-12-01", "reference": "KLAGEVEDTAK-1"})),
            (CASEWORKER, Home), (200, Field("/outcome", json!("DISMISSED")))),
        route(&get, "/v1/participants/{id}/absence-overview", format!("/v1/participants/{p}/absence-overview?as_of=2025-10-31"), None,
            (EVERYONE, Home), (200, Field("/leave_days_left", json!("25")))),
        route(&get, "/v1/participants/{id}/months/{month}", format!("/v1/participants/{p}/months/2025-10"), None,
            (EVERYONE, Home), (200, Field("/lines/KVP_BASE", json!(ids.month_base)))),
        route(&get, "/v1/participants/{id}/timesheets", format!("/v1/participants/{p}/timesheets"), None,
            (EVERYONE, Home), (200, Field("/0/version", json!(1)))),
        route(&get, "/v1/participants/{id}/payslips/{month}", format!("/v1/participants/{p}/payslips/2025-10"), None,
            (EVERYONE, Home), (200, Field("/month", json!("2025-10")))),
        route(&get, "/v1/programmes/{id}", format!("/v1/programmes/{}", ids.programme), None,
            (EVERYONE, Home), (200, Field("/decision_reference", json!("KVP-1")))),
        route(&put, "/v1/programmes/{id}/end", format!("/v1/programmes/{}/end", ids.programme),
            Some(json!({"end": "2026-06-30"})),
            (CASEWORKER, Home), (200, Field("/end", json!("2026-06-30")))),
        route(&post, "/v1/programmes/{id}/pauses", format!("/v1/programmes/{}/pauses", ids.programme),
            Some(json!({"from": "2026-01-01", "to": "2026-01-31", "kind": "INTERRUPTED", "reference": "KVP-P"})),
            (CASEWORKER, Home), (201, Present("/id"))),
        route(&get, "/v1/facts/{kind}/{id}", format!("/v1/facts/children/{}", ids.child), None,
            (EVERYONE, Home), (200, Field("/fact/birth_date", json!("2021-03-14")))),
        route(&put, "/v1/facts/{kind}/{id}", format!("/v1/facts/children/{}", ids.child),
            Some(json!({"reason": "typing error", "fact": {"birth_date": "2021-03-15"}})),
            (CASEWORKER, Home), (200, Field("/version", json!(2)))),
        route(&get, "/v1/facts/{kind}/{id}/versions", format!("/v1/facts/children/{}/versions", ids.child), None,
            (EVERYONE, Home), (200, Field("/versions/1/change", json!("CORRECTED")))),
        route(&post, "/v1/facts/{kind}/{id}/void", format!("/v1/facts/children/{}/void", ids.child),
            Some(json!({"reason": "registered on the wrong participant"})),
            (CASEWORKER, Home), (200, Field("/change", json!("VOIDED")))),
        route(&post, "/v1/programmes/{id}/extensions", format!("/v1/programmes/{}/extensions", ids.programme),
            Some(json!({"until": "2026-12-31", "reference": "KVP-1-F"})),
            (CASEWORKER, Home), (201, Field("/approved_until", json!("2026-12-31")))),
        route(&get, "/v1/programmes/{id}/extensions", format!("/v1/programmes/{}/extensions", ids.programme), None,
            (EVERYONE, Home), (200, Field("/extensions/0/reference", json!("KVP-1-F")))),
        route(&post, "/v1/signer-keys", "/v1/signer-keys".into(), Some(new_key),
            (ADMINISTRATOR, Home), (201, Field("/keyid", json!("participant-key-2")))),
        route(&get, "/v1/signer-keys/{keyid}", "/v1/signer-keys/participant-key".into(), None,
            (EVERYONE, Home), (200, Field("/role", json!("PARTICIPANT")))),
        route(&post, "/v1/signer-keys/{keyid}/revocation", "/v1/signer-keys/participant-key-old/revocation".into(),
            Some(json!({"reason": "phone lost"})),
            (ADMINISTRATOR, Home), (200, Present("/revoked_at"))),
        route(&get, "/v1/unassigned-supervisor-keys", "/v1/unassigned-supervisor-keys".into(), None,
            (KEY_AUDIT, Open), (200, Field("/0/keyid", json!("supervisor-legacy")))),
        route(&put, "/v1/signer-keys/{keyid}/municipality", "/v1/signer-keys/supervisor-legacy/municipality".into(),
            Some(json!({"municipality_id": HOME})),
            (ADMINISTRATOR, National), (200, Field("/municipality_id", json!(HOME)))),
        route(&get, "/v1/audit/{subject_type}/{subject_id}", format!("/v1/audit/participant/{p}"), None,
            (AUDITOR, Home), (200, Field("/0/actor", json!("caseworker:kari")))),
        route(&post, "/v1/simulations", "/v1/simulations".into(), Some(ids.simulation.clone()),
            (EVERYONE, Open), (200, Field("/total", ids.simulation_total.clone()))),
        // The sandbox's clock: outside the sandbox (here) it does not exist.
        route(&get, "/v1/sandbox/clock", "/v1/sandbox/clock".into(), None,
            (EVERYONE, Open), (404, Field("/status", json!(404)))),
        route(&put, "/v1/sandbox/clock", "/v1/sandbox/clock".into(), Some(json!({"today": "2030-01-01"})),
            (ADMINISTRATOR, National), (404, Field("/status", json!(404)))),
        route(&get, "/v1/parameters/g", "/v1/parameters/g".into(), None,
            (EVERYONE, Open), (200, Present("/0/1"))),
        route(&post, "/v1/parameters/g", "/v1/parameters/g".into(),
            Some(json!({"effective_date": "2030-05-01", "value": "150000", "reference": "Test-G"})),
            (ADMINISTRATOR, National), (201, Field("/effective_date", json!("2030-05-01")))),
        route(&get, "/v1/parameters/g/{effective_date}", "/v1/parameters/g/2030-05-01".into(), None,
            (EVERYONE, Open), (200, Field("/fact/value", json!("150000.00")))),
        route(&put, "/v1/parameters/g/{effective_date}", "/v1/parameters/g/2030-05-01".into(),
            Some(json!({"reason": "a digit too few", "fact": {"value": "151000", "reference": "Test-G"}})),
            (ADMINISTRATOR, National), (200, Field("/fact/value", json!("151000.00")))),
        route(&get, "/v1/parameters/g/{effective_date}/versions", "/v1/parameters/g/2030-05-01/versions".into(), None,
            (EVERYONE, Open), (200, Field("/versions/1/reason", json!("a digit too few")))),
        route(&post, "/v1/parameters/g/{effective_date}/void", "/v1/parameters/g/2030-05-01/void".into(),
            Some(json!({"reason": "not yet decided"})),
            (ADMINISTRATOR, National), (200, Field("/void", json!(true)))),
    ]
}

/// Oslo and Bergen, an Oslo participant with a programme, keys, an accepted
/// October timesheet with unexcused hours, and October closed.
async fn world(issuer: &TokenIssuer) -> (TestApp, Ids) {
    let mut app = TestApp::spawn_authenticated(issuer).await;
    let national_admin = issuer.token("administrator", None);
    let caseworker = issuer.token("caseworker", Some(HOME));
    for (id, name) in [(HOME, "Oslo"), (OTHER, "Bergen")] {
        let reply = app
            .call_as(
                Some(&national_admin),
                Method::PUT,
                &format!("/v1/municipalities/{id}"),
                Some(json!({"name": name, "use_product_codes": true})),
            )
            .await;
        assert_eq!(reply.status, 200, "{reply:?}");
    }
    let participant = app
        .call_as(
            Some(&caseworker),
            Method::POST,
            "/v1/participants",
            Some(json!({
                "municipality_id": HOME, "national_id": national_id("150190", 123),
                "display_name": "Kari Nordmann", "children": ["2021-03-14"],
            })),
        )
        .await;
    assert_eq!(participant.status, 201, "{participant:?}");
    let participant_id = participant.body["id"].as_str().unwrap().to_owned();
    let child_id = participant.body["children"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let programme = app
        .call_as(
            Some(&caseworker),
            Method::POST,
            &format!("/v1/participants/{participant_id}/programmes"),
            Some(
                json!({"start": "2025-01-06", "end": "2026-12-31", "decision_reference": "KVP-1"}),
            ),
        )
        .await;
    assert_eq!(programme.status, 201, "{programme:?}");
    let programme_id = programme.body["programmes"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let fixture = Fixture {
        participant_id: participant_id.clone(),
        participant_key: SigningKey::from_bytes(&[1; 32]),
        supervisor_key: SigningKey::from_bytes(&[2; 32]),
        provider_key: SigningKey::from_bytes(&[3; 32]),
    };
    for (keyid, person, role, key) in [
        (
            "participant-key",
            participant_id.as_str(),
            "PARTICIPANT",
            &fixture.participant_key,
        ),
        (
            "participant-key-old",
            participant_id.as_str(),
            "PARTICIPANT",
            &SigningKey::from_bytes(&[4; 32]),
        ),
        (
            "supervisor-key",
            "supervisor-7",
            "SUPERVISOR",
            &fixture.supervisor_key,
        ),
    ] {
        let reply = app
            .call_as(
                Some(&national_admin),
                Method::POST,
                "/v1/signer-keys",
                Some(json!({
                    "keyid": keyid, "person_id": person, "role": role,
                    "public_key": public_key_to_base64(&key.verifying_key()),
                    "valid_from": "2025-01-01T00:00:00Z",
                    "municipality_id": (role == "SUPERVISOR").then_some(HOME),
                })),
            )
            .await;
        assert_eq!(reply.status, 201, "{reply:?}");
    }
    // A supervisor's key from before keys had a municipality: national
    // until an administrator assigns it.
    app.seed_unassigned_supervisor_key("supervisor-legacy", &SigningKey::from_bytes(&[6; 32]))
        .await;
    let body = fixture.body(
        "2025-10-01",
        "2025-10-31",
        &[
            ("2025-10-14", DayKind::Unexcused, "3"),
            ("2025-10-15", DayKind::Unexcused, "2"),
        ],
    );
    app.grpc
        .submit_timesheet(fixture.signed(&body))
        .await
        .unwrap();
    let numbered = app
        .call_as(
            Some(&caseworker),
            Method::PUT,
            &format!("/v1/participants/{participant_id}/employee-number"),
            Some(json!({"employee_number": "A-1000"})),
        )
        .await;
    assert_eq!(numbered.status, 200, "{numbered:?}");
    // The unexcused hours warned about, and those of the 15th decided (the
    // table decides the 14th, and appeals the 15th's decision).
    let warned = app
        .call_as(
            Some(&caseworker),
            Method::POST,
            &format!("/v1/participants/{participant_id}/sanction-warnings"),
            Some(json!({
                "given_on": "2025-10-20", "channel": "LETTER", "reference": "VARSEL-1",
                "days": [{"date": "2025-10-14", "entry_kind": "UNEXCUSED"},
                         {"date": "2025-10-15", "entry_kind": "UNEXCUSED"}],
            })),
        )
        .await;
    assert_eq!(warned.status, 201, "{warned:?}");
    let decided = app
        .call_as(
            Some(&caseworker),
            Method::POST,
            &format!("/v1/participants/{participant_id}/sanction-decisions"),
            Some(json!({
                "date": "2025-10-15", "entry_kind": "UNEXCUSED", "outcome": "APPROVED",
                "reference": "VEDTAK-0",
            })),
        )
        .await;
    assert_eq!(decided.status, 201, "{decided:?}");
    let run = app
        .grpc
        .close_period(pb::ClosePeriodRequest {
            municipality_id: HOME.into(),
            month: "2025-10".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .run
        .unwrap();
    let vector: Value = serde_json::from_str(include_str!(
        "../../crates/rules/tests/vectors/public/36-mixed-young-parent.json"
    ))
    .unwrap();
    let ids = Ids {
        participant: participant_id,
        child: child_id,
        decision: decided.body["id"].as_str().unwrap().to_owned(),
        programme: programme_id,
        run: run.run_id,
        // October 2025 for a participant born 1990 (see rest.rs).
        month_base: "22138.05",
        simulation: vector["input"].clone(),
        simulation_total: vector["expected"]["total"].clone(),
    };
    (app, ids)
}

/// The route's request with `token` as its bearer token.
/// A PUT, a void or a revocation changes what exists (`If-Match: *`: this
/// test is about access, not versions).
async fn send(app: &TestApp, route: &Route, token: Option<String>) -> Reply {
    let changes_what_exists = route.method == Method::PUT
        || route.path.ends_with("/void")
        || route.path.ends_with("/revocation");
    let headers: &[(&str, &str)] = if changes_what_exists {
        &[("if-match", "*")]
    } else {
        &[]
    };
    app.rest()
        .call_as_with(
            token.as_deref(),
            route.method.clone(),
            &route.path,
            route.body.clone(),
            headers,
        )
        .await
}

fn expect_unauthenticated(route: &Route, what: &str, reply: &Reply, error_code: bool) {
    let context = format!("{} {} with {what}: {reply:?}", route.method, route.path);
    assert_eq!(reply.status, 401, "{context}");
    assert_eq!(reply.body["status"], 401, "{context}");
    let challenge = reply.challenge.as_deref().unwrap_or_default();
    assert!(
        challenge.starts_with("Bearer realm=\"kvp-payroll\""),
        "{context}"
    );
    assert_eq!(
        challenge.contains("error=\"invalid_token\""),
        error_code,
        "{context}"
    );
}

fn expect_forbidden(route: &Route, what: &str, reply: &Reply, because: &str) {
    let context = format!("{} {} as {what}: {reply:?}", route.method, route.path);
    assert_eq!(reply.status, 403, "{context}");
    assert_eq!(
        reply.body["type"], "https://kvp.example/problems/forbidden",
        "{context}"
    );
    assert!(
        reply.body["detail"].as_str().unwrap().contains(because),
        "{context}"
    );
}

fn expect_success(route: &Route, what: &str, reply: &Reply) {
    let context = format!("{} {} as {what}: {reply:?}", route.method, route.path);
    assert_eq!(reply.status, route.status, "{context}");
    match &route.expect {
        Expect::Field(pointer, value) => {
            assert_eq!(reply.body.pointer(pointer), Some(value), "{context}");
        }
        Expect::Present(pointer) => {
            assert!(reply.body.pointer(pointer).is_some(), "{context}");
        }
        Expect::Text(text) => {
            assert!(reply.body.as_str().unwrap().contains(text), "{context}");
        }
    }
}

#[tokio::test]
async fn every_route_refuses_whom_it_must_and_serves_whom_it_may() {
    // The payroll recorder, unless another service's came first in this
    // process: `/metrics` answers "# TYPE …" or "# no metrics recorder …".
    kvp_payroll::metrics::install();
    let issuer = TokenIssuer::generate("test-key");
    let (app, ids) = world(&issuer).await;
    let impostor = TokenIssuer::generate("test-key");
    let mut checked = 0;
    for route in routes(&ids) {
        let call = |token: Option<String>| send(&app, &route, token);
        if route.scope == Scope::Public {
            // Public routes ignore tokens, good or bad.
            expect_success(&route, "nobody", &call(None).await);
            let expired = issuer.sign_claims(&json!({"exp": 1, "iss": "x"}));
            expect_success(&route, "an expired token", &call(Some(expired)).await);
            checked += 2;
            continue;
        }
        // The tokens that fail, each otherwise right for the route.
        let home = (route.scope != Scope::National).then_some(HOME);
        let good = TokenIssuer::claims(route.allowed[0], home);
        let with = |change: Value| {
            let mut claims = good.clone();
            for (k, v) in change.as_object().unwrap() {
                claims[k] = v.clone();
            }
            claims
        };
        let now = good["iat"].as_u64().unwrap();
        expect_unauthenticated(&route, "no token", &call(None).await, false);
        for (what, token) in [
            ("a bad signature", impostor.sign_claims(&good)),
            (
                "an expired token",
                issuer.sign_claims(&with(json!({"exp": now - 120}))),
            ),
            (
                "a wrong issuer",
                issuer.sign_claims(&with(json!({"iss": "https://evil.test"}))),
            ),
            (
                "a wrong audience",
                issuer.sign_claims(&with(json!({"aud": "kvp-topup"}))),
            ),
        ] {
            expect_unauthenticated(&route, what, &call(Some(token)).await, true);
        }
        checked += 5;

        for role in ROLES.iter().filter(|r| !route.allowed.contains(r)) {
            let reply = call(Some(issuer.token(role, Some(HOME)))).await;
            expect_forbidden(&route, role, &reply, "role may not call");
            checked += 1;
        }
        for role in route.allowed {
            match route.scope {
                Scope::Home => {
                    let reply = call(Some(issuer.token(role, Some(OTHER)))).await;
                    expect_forbidden(&route, &format!("{role} of {OTHER}"), &reply, OTHER);
                    checked += 1;
                }
                Scope::National => {
                    let reply = call(Some(issuer.token(role, Some(HOME)))).await;
                    expect_forbidden(&route, &format!("{role} of {HOME}"), &reply, "national");
                    checked += 1;
                }
                Scope::Open | Scope::Public => {}
            }
        }
        // Every allowed role in scope is served (routes that change state
        // allow exactly one role, so each change happens once).
        for role in route.allowed {
            let token = issuer.token(role, home);
            expect_success(&route, role, &call(Some(token)).await);
            checked += 1;
        }
    }
    assert!(checked > 250, "{checked} checks");
    app.stop().await;
}

#[tokio::test]
async fn the_route_table_covers_every_operation_in_the_openapi_document() {
    let issuer = TokenIssuer::generate("test-key");
    let app = TestApp::spawn_authenticated(&issuer).await;
    let doc = app.call_as(None, Method::GET, "/openapi.json", None).await;
    assert_eq!(doc.status, 200);
    let mut documented = BTreeSet::new();
    for (path, item) in doc.body["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if ["get", "put", "post", "delete", "patch", "head", "options"]
                .contains(&method.as_str())
            {
                documented.insert((method.to_uppercase(), path.clone()));
                // The document says which operations need the token.
                let public =
                    ["/healthz", "/readyz", "/metrics", "/openapi.json"].contains(&path.as_str());
                let security = &operation["security"];
                if public {
                    assert_eq!(security, &json!([]), "{method} {path}");
                } else {
                    assert_eq!(security, &json!([{"bearer": []}]), "{method} {path}");
                    assert!(operation["responses"]["401"].is_object(), "{method} {path}");
                    assert!(operation["responses"]["403"].is_object(), "{method} {path}");
                    assert!(
                        operation["description"]
                            .as_str()
                            .unwrap()
                            .contains("Roles: "),
                        "{method} {path}"
                    );
                }
            }
        }
    }
    let tested: BTreeSet<_> = routes(&Ids::placeholders())
        .into_iter()
        .map(|r| (r.method.to_string(), r.template.to_owned()))
        .collect();
    let untested: Vec<_> = documented.difference(&tested).collect();
    let undocumented: Vec<_> = tested.difference(&documented).collect();
    assert!(
        untested.is_empty(),
        "routes without auth checks in this test: {untested:?}"
    );
    assert!(
        undocumented.is_empty(),
        "tested routes missing from the document: {undocumented:?}"
    );
    let scheme = &doc.body["components"]["securitySchemes"]["bearer"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    assert_eq!(scheme["bearerFormat"], "JWT");
    app.stop().await;
}

#[tokio::test]
async fn a_method_no_route_serves_is_405_with_allow_with_or_without_a_token() {
    let issuer = TokenIssuer::generate("test-key");
    let app = TestApp::spawn_authenticated(&issuer).await;
    let admin = issuer.sign_claims(&TokenIssuer::claims("administrator", None));
    for path in ["/healthz", "/v1/parameters/g"] {
        for token in [None, Some(&admin)] {
            let mut request = app
                .client
                .request(Method::DELETE, format!("{}{path}", app.http));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status().as_u16(), 405, "DELETE {path}");
            let allow = response.headers()["allow"].to_str().unwrap().to_owned();
            assert!(allow.contains("GET"), "DELETE {path}: Allow {allow}");
        }
    }
    // A method a route serves still needs its token.
    let reply = app
        .call_as(None, Method::GET, "/v1/parameters/g", None)
        .await;
    assert_eq!(reply.status, 401);
    app.stop().await;
}

#[tokio::test]
async fn forged_and_malformed_tokens_are_refused_as_invalid() {
    let issuer = TokenIssuer::generate("test-key");
    let app = TestApp::spawn_authenticated(&issuer).await;
    let good = TokenIssuer::claims("administrator", Some(HOME));
    let now = good["iat"].as_u64().unwrap();
    let with = |change: Value| {
        let mut claims = good.clone();
        for (k, v) in change.as_object().unwrap() {
            if v.is_null() {
                claims.as_object_mut().unwrap().remove(k);
            } else {
                claims[k] = v.clone();
            }
        }
        claims
    };
    let unsigned = {
        let signed = issuer.sign(&json!({"alg": "none", "kid": "test-key"}), &good);
        let (input, _) = signed.rsplit_once('.').unwrap();
        format!("{input}.")
    };
    let cases: Vec<(&str, String, &str)> = vec![
        ("alg none", unsigned, "malformed"),
        (
            "alg HS256 (the public key as secret)",
            issuer.sign(&json!({"alg": "HS256", "kid": "test-key"}), &good),
            "algorithm",
        ),
        (
            "alg ES256 under an EdDSA key",
            issuer.sign(&json!({"alg": "ES256", "kid": "test-key"}), &good),
            "algorithm",
        ),
        (
            "no kid",
            issuer.sign(&json!({"alg": "EdDSA"}), &good),
            "names no key",
        ),
        (
            "an unknown kid",
            TokenIssuer::generate("other-key").sign_claims(&good),
            "not known",
        ),
        ("garbage", "not.a.token".into(), "malformed"),
        (
            "not yet valid",
            issuer.sign_claims(&with(json!({"nbf": now + 600}))),
            "not valid yet",
        ),
        (
            "no exp",
            issuer.sign_claims(&with(json!({"exp": null}))),
            "required claim",
        ),
        (
            "no sub",
            issuer.sign_claims(&with(json!({"sub": null}))),
            "required claim",
        ),
        (
            "an unknown role",
            issuer.sign_claims(&with(json!({"role": "superuser"}))),
            "claims do not fit",
        ),
        (
            "a bad municipality",
            issuer.sign_claims(&with(json!({"municipality": "Oslo"}))),
            "four-digit",
        ),
        (
            "a caseworker without a municipality",
            issuer.sign_claims(&with(json!({"role": "caseworker", "municipality": null}))),
            "must name",
        ),
    ];
    for (what, token, why) in cases {
        let reply = app
            .call_as(Some(&token), Method::GET, "/v1/municipalities/0301", None)
            .await;
        assert_eq!(reply.status, 401, "{what}: {reply:?}");
        assert!(
            reply
                .challenge
                .as_deref()
                .unwrap()
                .contains("error=\"invalid_token\""),
            "{what}: {reply:?}"
        );
        assert!(
            reply.body["detail"].as_str().unwrap().contains(why),
            "{what}: {reply:?}"
        );
    }
    // Another scheme is no bearer token at all; an empty one is invalid.
    for (authorization, code) in [("Basic a2FyaTpzZWNyZXQ=", false), ("Bearer ", true)] {
        let response = app
            .client
            .get(format!("{}/v1/municipalities/0301", app.http))
            .header("authorization", authorization)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{authorization}");
        let challenge = response.headers()["www-authenticate"].to_str().unwrap();
        assert_eq!(challenge.contains("invalid_token"), code, "{challenge}");
    }
    app.stop().await;
}

#[tokio::test]
async fn the_audit_actor_is_the_token_subject_and_the_actor_header_is_ignored() {
    let issuer = TokenIssuer::generate("test-key");
    let app = TestApp::spawn_authenticated(&issuer).await;
    let admin = issuer.token("administrator", Some(HOME));
    // The development header alone is no credential.
    let (status, _) = app
        .call(
            Method::PUT,
            "/v1/municipalities/0301",
            Some(json!({"name": "Oslo", "use_product_codes": true})),
        )
        .await;
    assert_eq!(status, 401);
    let response = app
        .client
        .put(format!("{}/v1/municipalities/0301", app.http))
        .bearer_auth(&admin)
        .header("x-kvp-actor", "mallory")
        .json(&json!({"name": "Oslo", "use_product_codes": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let auditor = issuer.token("auditor", Some(HOME));
    let trail = app
        .call_as(
            Some(&auditor),
            Method::GET,
            "/v1/audit/municipality/0301",
            None,
        )
        .await;
    assert_eq!(trail.status, 200, "{trail:?}");
    assert_eq!(trail.body[0]["actor"], "administrator:kari");
    assert_eq!(trail.body[0]["action"], "municipality.upserted");
    app.stop().await;
}

#[tokio::test]
async fn national_tokens_reach_every_municipality_and_only_they_change_national_keys() {
    let issuer = TokenIssuer::generate("test-key");
    let app = TestApp::spawn_authenticated(&issuer).await;
    let national_admin = issuer.token("administrator", None);
    let oslo_admin = issuer.token("administrator", Some(HOME));
    for id in [HOME, OTHER] {
        let reply = app
            .call_as(
                Some(&national_admin),
                Method::PUT,
                &format!("/v1/municipalities/{id}"),
                Some(json!({"name": format!("Kommune {id}"), "use_product_codes": true})),
            )
            .await;
        assert_eq!(reply.status, 200, "{reply:?}");
    }
    let bergen = issuer.token("caseworker", Some(OTHER));
    let created = app
        .call_as(
            Some(&bergen),
            Method::POST,
            "/v1/participants",
            Some(json!({"municipality_id": OTHER, "national_id": national_id("150190", 123), "display_name": "Per"})),
        )
        .await;
    assert_eq!(created.status, 201, "{created:?}");
    let id = created.body["id"].as_str().unwrap();
    let national_auditor = issuer.token("auditor", None);
    let read = app
        .call_as(
            Some(&national_auditor),
            Method::GET,
            &format!("/v1/participants/{id}"),
            None,
        )
        .await;
    assert_eq!(read.status, 200, "{read:?}");
    assert_eq!(read.body["municipality_id"], OTHER);
    let trail = app
        .call_as(
            Some(&national_auditor),
            Method::GET,
            &format!("/v1/audit/participant/{id}"),
            None,
        )
        .await;
    assert_eq!(trail.body[0]["actor"], "caseworker:kari", "{trail:?}");

    // A supervisor's key approves for its municipality: that municipality's
    // administrators register it, another's may not.
    let key = json!({
        "keyid": "supervisor-9", "person_id": "supervisor-9", "role": "SUPERVISOR",
        "public_key": public_key_to_base64(&SigningKey::from_bytes(&[5; 32]).verifying_key()),
        "valid_from": "2025-01-01T00:00:00Z", "municipality_id": OTHER,
    });
    let refused = app
        .call_as(
            Some(&oslo_admin),
            Method::POST,
            "/v1/signer-keys",
            Some(key.clone()),
        )
        .await;
    assert_eq!(refused.status, 403, "{refused:?}");
    let bergen_admin = issuer.token("administrator", Some(OTHER));
    let registered = app
        .call_as(
            Some(&bergen_admin),
            Method::POST,
            "/v1/signer-keys",
            Some(key),
        )
        .await;
    assert_eq!(registered.status, 201, "{registered:?}");
    assert_eq!(registered.body["municipality_id"], OTHER);
    // Its municipality reads it, another does not; only its municipality's
    // or a national token may revoke it.
    let caseworker = issuer.token("caseworker", Some(HOME));
    let bergen_caseworker = issuer.token("caseworker", Some(OTHER));
    let read = app
        .call_as(
            Some(&bergen_caseworker),
            Method::GET,
            "/v1/signer-keys/supervisor-9",
            None,
        )
        .await;
    assert_eq!(read.body["role"], "SUPERVISOR", "{read:?}");
    let unread = app
        .call_as(
            Some(&caseworker),
            Method::GET,
            "/v1/signer-keys/supervisor-9",
            None,
        )
        .await;
    assert_eq!(unread.status, 403, "{unread:?}");
    let revocation = json!({"reason": "left the job"});
    let refused = app
        .call_as(
            Some(&oslo_admin),
            Method::POST,
            "/v1/signer-keys/supervisor-9/revocation",
            Some(revocation.clone()),
        )
        .await;
    assert_eq!(refused.status, 403, "{refused:?}");
    let revoked = app
        .rest()
        .call_as_with(
            Some(&national_admin),
            Method::POST,
            "/v1/signer-keys/supervisor-9/revocation",
            Some(revocation),
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(revoked.status, 200, "{revoked:?}");
    assert!(revoked.body["revoked_at"].is_string());

    // A resource that does not exist is 404 for a scoped caller too.
    let missing = app
        .call_as(
            Some(&caseworker),
            Method::GET,
            "/v1/participants/0190a0a0-0000-7000-8000-000000000000",
            None,
        )
        .await;
    assert_eq!(missing.status, 404, "{missing:?}");
    app.stop().await;
}

#[tokio::test]
async fn an_unusable_token_key_stops_the_service_at_start_up() {
    let issuer = TokenIssuer::generate("test-key");
    let mut auth = issuer.auth_config();
    auth.keys[0].kid = "broken-key".into();
    auth.keys[0].public_key_pem =
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n".into();
    let config = kvp_payroll::config::Config {
        grpc_addr: "127.0.0.1:0".parse().unwrap(),
        http_addr: "127.0.0.1:0".parse().unwrap(),
        auth: Some(auth),
        ..kvp_payroll::config::Config::default()
    };
    let err = kvp_payroll::app::Application::build(&config)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.starts_with("auth key broken-key: public_key_pem"),
        "{err}"
    );
}
