//! The caseworker's page from outside, on the sandbox (every protection on):
//! the same tokens, roles and scope as REST, a strict policy on every
//! answer, forms refused without the caller's token, and a warning and a
//! deduction decided through the page whose figures are the API's; in
//! development mode, the role picker and a correction of a fact.

use kvp_system_tests::{Fixture, TestApp};
use reqwest::header::{
    CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE, WWW_AUTHENTICATE,
};
use reqwest::{Method, StatusCode, redirect};
use serde_json::{Value, json};

use crate::sandbox::{Sandbox, previous_month};

/// How a page request names its caller.
enum Caller<'a> {
    /// Nobody.
    Anonymous,
    /// A bearer token, as the OpenID Connect proxy forwards it.
    Token(String),
    /// The development role picker's cookie.
    Cookie(&'a str),
}

/// A page request to `base`; redirects are not followed, so a form's 303 is seen.
async fn send(
    base: &str,
    method: Method,
    path: &str,
    caller: Caller<'_>,
    form: Option<&[(&str, &str)]>,
) -> reqwest::Response {
    let client = reqwest::Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap();
    let mut request = client.request(method, format!("{base}{path}"));
    request = match caller {
        Caller::Anonymous => request,
        Caller::Token(token) => request.bearer_auth(token),
        Caller::Cookie(cookie) => request.header(COOKIE, cookie),
    };
    if let Some(form) = form {
        request = request
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(urlencoded(form));
    }
    request.send().await.unwrap()
}

/// A page request to the sandbox with `role`'s token (none for `None`).
async fn page(
    sandbox: &Sandbox,
    method: Method,
    path: &str,
    role: Option<&str>,
    form: Option<&[(&str, &str)]>,
) -> reqwest::Response {
    let caller = match role {
        Some(role) => Caller::Token(sandbox.folder.token(role).unwrap()),
        None => Caller::Anonymous,
    };
    send(
        &sandbox.folder.manifest().http_url,
        method,
        path,
        caller,
        form,
    )
    .await
}

/// A form as a browser sends it.
fn urlencoded(fields: &[(&str, &str)]) -> String {
    let encode = |text: &str| -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    char::from(b).to_string()
                }
                b' ' => "+".to_owned(),
                other => format!("%{other:02X}"),
            })
            .collect()
    };
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

async fn html(sandbox: &Sandbox, path: &str, role: &str) -> String {
    let response = page(sandbox, Method::GET, path, Some(role), None).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    assert_eq!(
        response.headers()[CONTENT_TYPE],
        "text/html; charset=utf-8",
        "{path}"
    );
    response.text().await.unwrap()
}

/// A caseworker's form the page must accept: the 303's `Location`.
async fn submit(sandbox: &Sandbox, path: &str, form: &[(&str, &str)]) -> String {
    let response = page(sandbox, Method::POST, path, Some("caseworker"), Some(form)).await;
    let status = response.status();
    let location = response
        .headers()
        .get(LOCATION)
        .map(|l| l.to_str().unwrap().to_owned());
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "{path}: {}",
        response.text().await.unwrap()
    );
    location.unwrap()
}

/// A REST read as a caseworker, which must answer 200.
async fn api(sandbox: &Sandbox, path: &str) -> Value {
    let (status, _, body) = sandbox.rest(Method::GET, path, "caseworker", None).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

/// The text of the element marked `marker` (`data-figure="…"`).
fn marked(html: &str, marker: &str) -> String {
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} is not on the page"));
    let rest = &html[start..];
    let open = rest.find('>').unwrap() + 1;
    let close = rest[open..].find('<').unwrap();
    rest[open..open + close].trim().to_owned()
}

/// The form token on a page.
fn form_token(html: &str) -> String {
    let start = html.find("name=\"csrf\" value=\"").unwrap() + "name=\"csrf\" value=\"".len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

#[tokio::test]
async fn the_page_is_guarded_as_rest_is_and_every_answer_is_strict() {
    let sandbox = Sandbox::start(3).await;
    let worklist = "/ui/municipalities/9999/worklist";

    // No token: 401 with the bearer challenge, as a page.
    let response = page(&sandbox, Method::GET, worklist, None, None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        response.headers()[WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    assert_eq!(response.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
    let policy = response.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(policy.contains("default-src 'none'"), "{policy}");
    assert!(!policy.contains("unsafe"), "{policy}");
    assert!(response.text().await.unwrap().contains("(401)"));

    // Every role reads the worklist; only a caseworker changes anything.
    for role in ["caseworker", "payroll_operator", "auditor", "administrator"] {
        let response = page(&sandbox, Method::GET, worklist, Some(role), None).await;
        assert_eq!(response.status(), StatusCode::OK, "{role}");
        assert_eq!(
            response.headers()["cache-control"],
            "no-store",
            "personal data is never cached"
        );
    }
    let participant = sandbox.folder.participants()[0].id.clone();
    let decide = format!("/ui/participants/{participant}/sanction-decisions");
    let response = page(
        &sandbox,
        Method::POST,
        &decide,
        Some("payroll_operator"),
        Some(&[("csrf", "x")]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    // A municipality other than the token's: 403, as on REST.
    let response = page(
        &sandbox,
        Method::GET,
        "/ui/municipalities/0301/worklist",
        Some("caseworker"),
        None,
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    // The start page sends the caller to their municipality's worklist.
    let response = page(&sandbox, Method::GET, "/ui", Some("caseworker"), None).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], worklist);

    // The development role picker does not exist with tokens on.
    let response = page(
        &sandbox,
        Method::POST,
        "/ui/development-role",
        Some("caseworker"),
        Some(&[("role", "administrator"), ("name", "x")]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_caseworker_finds_warns_and_decides_and_the_page_shows_what_the_api_answers() {
    let sandbox = Sandbox::start(4).await;
    let participants = sandbox.folder.participants();
    let first = &participants[0];
    let id = first.id.as_str();
    let month = previous_month(sandbox.folder.today());

    // Found by the last digits of the employee number, and by a part of the name.
    let number = api(&sandbox, &format!("/v1/participants/{id}/employee-number")).await;
    let number = number["employee_number"].as_str().unwrap().to_owned();
    let digits: String = number
        .chars()
        .rev()
        .take(3)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let found = html(
        &sandbox,
        &format!("/ui/municipalities/9999/participants?q={digits}"),
        "caseworker",
    )
    .await;
    assert!(
        found.contains(&format!("/ui/participants/{id}\"")),
        "{found}"
    );
    let view = api(&sandbox, &format!("/v1/participants/{id}")).await;
    let name = view["display_name"].as_str().unwrap().to_owned();
    let part: String = name
        .chars()
        .skip(1)
        .take(4)
        .collect::<String>()
        .to_uppercase();
    let found = html(
        &sandbox,
        &format!("/ui/municipalities/9999/participants?q={part}"),
        "caseworker",
    )
    .await;
    assert!(found.contains(&name), "{found}");
    let none = html(
        &sandbox,
        "/ui/municipalities/9999/participants?q=zzzz",
        "caseworker",
    )
    .await;
    assert!(!none.contains("/ui/participants/"), "{none}");

    // The absence overview: the figures of the REST answer, and the
    // self-certification quota exceeded on the fourth day in a row.
    let overview = html(&sandbox, &format!("/ui/participants/{id}"), "caseworker").await;
    let overview_api = api(&sandbox, &format!("/v1/participants/{id}/absence-overview")).await;
    for (figure, value) in [
        (
            "self_cert_occurrences_left",
            &overview_api["self_cert_occurrences_left"],
        ),
        (
            "days_used",
            &overview_api["self_certification"]["days_used"],
        ),
        ("leave_hours_left", &overview_api["leave_hours_left"]),
        ("leave_days_left", &overview_api["leave_days_left"]),
        (
            "child_sick_hours_left",
            &overview_api["child_sick_hours_left"],
        ),
    ] {
        let expected = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        assert_eq!(
            marked(&overview, &format!("data-figure=\"{figure}\"")),
            expected,
            "{figure}"
        );
    }
    assert_eq!(
        overview_api["self_certification"]["days_used"], 4,
        "{overview_api}"
    );
    let exceeded: Vec<&Value> = overview_api["self_certification"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["flag"] == "SELF_CERT_QUOTA_EXCEEDED")
        .collect();
    assert_eq!(exceeded.len(), 1, "{overview_api}");
    assert_eq!(exceeded[0]["turned_unexcused_hours"], "7.5");
    let day = exceeded[0]["date"].as_str().unwrap().to_owned();
    assert!(overview.contains("Egenmeldingskvoten er overskredet"));

    // The month: awaiting a warning; a form without the caller's token is
    // refused, and nothing is stored.
    let month_path = format!("/ui/participants/{id}/months/{month}");
    let before = html(&sandbox, &month_path, "caseworker").await;
    let token = form_token(&before);
    let warn = format!("/ui/participants/{id}/sanction-warnings");
    let warning = |csrf: String| {
        vec![
            ("csrf", csrf),
            ("month", month.clone()),
            ("date", day.clone()),
            ("entry_kind", "SICK_SELF".to_owned()),
            ("given_on", sandbox.folder.today().to_string()),
            ("channel", "LETTER".to_owned()),
            ("reference", "PAGE-VARSEL-1".to_owned()),
        ]
    };
    let forged = warning("1.00".to_owned());
    let forged: Vec<(&str, &str)> = forged.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let response = page(
        &sandbox,
        Method::POST,
        &warn,
        Some("caseworker"),
        Some(&forged),
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let warnings = api(
        &sandbox,
        &format!("/v1/participants/{id}/sanction-warnings"),
    )
    .await;
    let warned_before = warnings.as_array().unwrap().len();

    let fields = warning(token.clone());
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(
        submit(&sandbox, &warn, &fields).await,
        format!("{month_path}?done=warning")
    );
    let warnings = api(
        &sandbox,
        &format!("/v1/participants/{id}/sanction-warnings"),
    )
    .await;
    assert_eq!(warnings.as_array().unwrap().len(), warned_before + 1);

    // The decision: a deduction of the day's hours, audited as the caseworker's.
    let decision = [
        ("csrf", token.as_str()),
        ("month", month.as_str()),
        ("date", day.as_str()),
        ("entry_kind", "SICK_SELF"),
        ("outcome", "APPROVED"),
        ("reference", "PAGE-VEDTAK-1"),
        ("reason", "more than three days in a row"),
    ];
    let decide = format!("/ui/participants/{id}/sanction-decisions");
    assert_eq!(
        submit(&sandbox, &decide, &decision).await,
        format!("{month_path}?done=decision")
    );
    let after = html(
        &sandbox,
        &format!("{month_path}?done=decision"),
        "caseworker",
    )
    .await;
    let api_month = api(&sandbox, &format!("/v1/participants/{id}/months/{month}")).await;
    for code in ["KVP_BASE", "KVP_DEDUCTION_ABSENCE", "KVP_CHILD_SUPPLEMENT"] {
        let row = &after[after.find(&format!("data-line=\"{code}\"")).unwrap()..];
        assert_eq!(
            marked(row, "data-amount"),
            api_month["lines"][code].as_str().unwrap(),
            "{code}"
        );
    }
    assert_eq!(
        marked(&after, "data-total"),
        api_month["total"].as_str().unwrap()
    );
    let absence = &api_month["explanation"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["code"] == "KVP_DEDUCTION_ABSENCE")
        .unwrap()["details"];
    assert!(
        absence
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d.as_str().unwrap().starts_with(&day)),
        "{absence}"
    );
    assert!(after.contains(&day));
    assert!(after.contains("Vedtaket er registrert"));
    let decisions = api(
        &sandbox,
        &format!("/v1/participants/{id}/sanction-decisions"),
    )
    .await;
    let ours = decisions
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["reference"] == "PAGE-VEDTAK-1")
        .unwrap();
    assert_eq!(ours["decided_by"], "caseworker:sandbox-caseworker");
    assert_eq!(ours["date"], day.as_str());

    // An appeal against the deduction, recorded and partly upheld on the page.
    let decision_id = ours["id"].as_str().unwrap().to_owned();
    let today = sandbox.folder.today().to_string();
    let participant_page = html(&sandbox, &format!("/ui/participants/{id}"), "caseworker").await;
    let appeal_path = format!("/ui/sanction-decisions/{decision_id}/appeal");
    assert!(participant_page.contains(&format!("action=\"{appeal_path}\"")));
    let appeal = [
        ("csrf", token.as_str()),
        ("received_on", today.as_str()),
        ("reference", "PAGE-KLAGE-1"),
    ];
    assert_eq!(
        submit(&sandbox, &appeal_path, &appeal).await,
        format!("/ui/participants/{id}?done=appeal#decisions")
    );
    let outcome = [
        ("csrf", token.as_str()),
        ("outcome", "PARTLY_UPHELD"),
        ("deducted_hours", "3.5"),
        ("decided_on", today.as_str()),
        ("reference", "PAGE-KLAGE-VEDTAK-1"),
    ];
    let outcome_path = format!("{appeal_path}/outcome");
    assert_eq!(
        submit(&sandbox, &outcome_path, &outcome).await,
        format!("/ui/participants/{id}?done=appeal-outcome#decisions")
    );
    let appealed = api(
        &sandbox,
        &format!("/v1/sanction-decisions/{decision_id}/appeal"),
    )
    .await;
    assert_eq!(appealed["reference"], "PAGE-KLAGE-1");
    assert_eq!(appealed["outcome"], "PARTLY_UPHELD");
    assert_eq!(appealed["outcome_reference"], "PAGE-KLAGE-VEDTAK-1");
    assert_eq!(appealed["recorded_by"], "caseworker:sandbox-caseworker");
    let api_month = api(&sandbox, &format!("/v1/participants/{id}/months/{month}")).await;
    let appealed_month = html(&sandbox, &month_path, "caseworker").await;
    let row = &appealed_month[appealed_month
        .find("data-line=\"KVP_DEDUCTION_ABSENCE\"")
        .unwrap()..];
    let deduction = marked(row, "data-amount");
    assert_eq!(
        deduction,
        api_month["lines"]["KVP_DEDUCTION_ABSENCE"]
            .as_str()
            .unwrap()
    );
    // 3.5 of the day's 7.5 hours are still deducted: less than before the appeal.
    let before_appeal = marked(
        &after[after.find("data-line=\"KVP_DEDUCTION_ABSENCE\"").unwrap()..],
        "data-amount",
    );
    let amount = |text: &str| text.parse::<rust_decimal::Decimal>().unwrap();
    assert!(
        amount(&before_appeal) < amount(&deduction),
        "{before_appeal} → {deduction}"
    );

    // In English on asking, with the same figures.
    let english = html(&sandbox, &format!("{month_path}?lang=en"), "caseworker").await;
    assert!(english.contains("<html lang=\"en\">"));
    assert!(english.contains("Deduction for unexcused absence"));
    assert_eq!(
        marked(&english, "data-total"),
        api_month["total"].as_str().unwrap()
    );
}

/// A page request to an in-process service in development mode, with the
/// role picker's cookie when one is given.
async fn development_page(
    app: &TestApp,
    method: Method,
    path: &str,
    cookie: Option<&str>,
    form: Option<&[(&str, &str)]>,
) -> reqwest::Response {
    let caller = cookie.map_or(Caller::Anonymous, Caller::Cookie);
    send(&app.http, method, path, caller, form).await
}

#[tokio::test]
async fn in_development_mode_a_role_picker_names_the_caller_who_corrects_a_fact_on_the_page() {
    let app = TestApp::spawn().await;
    let fixture = Fixture::new(&app).await;
    let p = fixture.participant_id.clone();
    let offset = app
        .post(
            &format!("/v1/participants/{p}/benefit-offsets"),
            json!({"month": "2025-03", "kind": "DAGPENGER", "amount": "1000.00"}),
            201,
        )
        .await;
    let offset_id = offset["id"].as_str().unwrap().to_owned();

    // No caller picked: the start page offers the picker.
    let start = development_page(&app, Method::GET, "/ui", None, None).await;
    assert_eq!(start.status(), StatusCode::OK);
    assert!(
        start
            .text()
            .await
            .unwrap()
            .contains("action=\"/ui/development-role\"")
    );
    let refused = development_page(
        &app,
        Method::POST,
        "/ui/development-role",
        None,
        Some(&[("role", "root"), ("municipality", "0301"), ("name", "kari")]),
    )
    .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let picked = development_page(
        &app,
        Method::POST,
        "/ui/development-role",
        None,
        Some(&[
            ("role", "caseworker"),
            ("municipality", "0301"),
            ("name", "kari"),
        ]),
    )
    .await;
    assert_eq!(picked.status(), StatusCode::SEE_OTHER);
    let cookie = picked.headers()[SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(cookie, "kvp_development_caller=caseworker/0301/kari");
    let start = development_page(&app, Method::GET, "/ui", Some(&cookie), None).await;
    assert_eq!(
        start.headers()[LOCATION],
        "/ui/municipalities/0301/worklist"
    );

    // The correction form: the fact's fields as the API writes them.
    let fact_path = format!("/ui/facts/benefit-offsets/{offset_id}");
    let form = development_page(&app, Method::GET, &fact_path, Some(&cookie), None)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        form.contains("name=\"f.amount\" value=\"1000.00\""),
        "{form}"
    );
    let token = form_token(&form);
    let correction = [
        ("csrf", token.as_str()),
        ("version", "1"),
        ("f.month", "2025-03"),
        ("f.kind", "DAGPENGER"),
        ("f.amount", "1250.50"),
        ("reason", "the NAV decision was for 1 250,50"),
    ];
    // Another caller's token does not carry the form.
    let ola = "kvp_development_caller=caseworker/0301/ola";
    let response =
        development_page(&app, Method::POST, &fact_path, Some(ola), Some(&correction)).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = development_page(
        &app,
        Method::POST,
        &fact_path,
        Some(&cookie),
        Some(&correction),
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let fact = app
        .get(&format!("/v1/facts/benefit-offsets/{offset_id}"))
        .await;
    assert_eq!(fact["version"], 2, "{fact}");
    assert_eq!(fact["fact"]["amount"], "1250.50");
    assert_eq!(fact["recorded_by"], "caseworker:kari");
    assert_eq!(fact["reason"], "the NAV decision was for 1 250,50");

    // The same form again (a stale version): 412, shown as a page.
    let response = development_page(
        &app,
        Method::POST,
        &fact_path,
        Some(&cookie),
        Some(&correction),
    )
    .await;
    assert_eq!(response.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(response.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
    let fact = app
        .get(&format!("/v1/facts/benefit-offsets/{offset_id}"))
        .await;
    assert_eq!(fact["version"], 2, "nothing more is stored: {fact}");
    app.stop().await;
}
