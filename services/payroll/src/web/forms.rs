//! The page's forms: each checks the caller's form token, makes the change
//! through the core call its REST route makes (audited with the caseworker
//! as actor), and sends the browser back to the page it changed.

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{DevelopmentCaller, Viewer, WebState, see_other};
use crate::error::ServiceError;
use crate::payroll::{AppealDecision, FactCorrection, NewDecision, NewWarning, Precondition};
use crate::rest::extract::{Id, Params};

/// A form's fields, or a 400 naming what is wrong with them.
fn fields<T>(form: Result<Form<T>, FormRejection>) -> Result<T, ServiceError> {
    form.map(|Form(fields)| fields)
        .map_err(|rejection| ServiceError::field("form", rejection.body_text()))
}

fn date(text: &str, field: &str) -> Result<time::Date, ServiceError> {
    crate::ingest::parse_date(text)
        .ok_or_else(|| ServiceError::field(field, "must be a date YYYY-MM-DD"))
}

/// The development role picker's choice.
#[derive(Debug, Deserialize)]
pub struct RoleForm {
    role: String,
    #[serde(default)]
    municipality: String,
    name: String,
}

/// Development mode only: names the caller (role, municipality, name) in a
/// cookie. With tokens configured the proxy names the caller: not found.
pub async fn development_role(
    viewer: Viewer,
    form: Result<Form<RoleForm>, FormRejection>,
) -> Result<Response, ServiceError> {
    if !viewer.development {
        return Err(ServiceError::NotFound {
            what: "the role picker (development mode only)".into(),
        });
    }
    let form = fields(form)?;
    let caller =
        DevelopmentCaller::new(&form.role, &form.municipality, &form.name).ok_or_else(|| {
            ServiceError::field(
                "role",
                "a role, a municipality of four digits (or none) and a name of 1–64 letters, \
                 digits, '.', '-' or '_'",
            )
        })?;
    let mut response = see_other("/ui");
    if let Ok(cookie) = HeaderValue::from_str(&caller.cookie()) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// A warning about one day's hours, as the month page gives it.
#[derive(Debug, Deserialize)]
pub struct WarningForm {
    csrf: String,
    month: String,
    date: String,
    entry_kind: String,
    given_on: String,
    channel: String,
    reference: String,
}

/// Records a warning (varsel) about a day's hours (REST `POST
/// /v1/participants/{id}/sanction-warnings`).
pub async fn warn(
    State(web): WebState,
    viewer: Viewer,
    Params(Id(id)): Params<Id>,
    form: Result<Form<WarningForm>, FormRejection>,
) -> Result<Response, ServiceError> {
    let form = fields(form)?;
    viewer.check_form(&web, &form.csrf)?;
    let warning = NewWarning {
        given_on: date(&form.given_on, "given_on")?,
        channel: form.channel,
        reference: form.reference,
        days: vec![(date(&form.date, "date")?, form.entry_kind)],
    };
    web.payroll.warn(id, warning, &viewer.actor()).await?;
    Ok(back_to_month(id, &form.month, "warning"))
}

/// A decision on one day's hours, as the month page gives it.
#[derive(Debug, Deserialize)]
pub struct DecisionForm {
    csrf: String,
    month: String,
    date: String,
    entry_kind: String,
    outcome: String,
    reference: String,
    #[serde(default)]
    reason: String,
}

/// Records a sanction decision (REST `POST
/// /v1/participants/{id}/sanction-decisions`); the month is computed again.
pub async fn decide(
    State(web): WebState,
    viewer: Viewer,
    Params(Id(id)): Params<Id>,
    form: Result<Form<DecisionForm>, FormRejection>,
) -> Result<Response, ServiceError> {
    let form = fields(form)?;
    viewer.check_form(&web, &form.csrf)?;
    let decision = NewDecision {
        date: date(&form.date, "date")?,
        entry_kind: form.entry_kind,
        outcome: form.outcome,
        reference: form.reference,
        reason: form.reason,
        decided_at: None,
    };
    web.payroll.decide(id, decision, &viewer.actor()).await?;
    Ok(back_to_month(id, &form.month, "decision"))
}

/// An appeal (klage) against a deduction decision, as received.
#[derive(Debug, Deserialize)]
pub struct AppealForm {
    csrf: String,
    received_on: String,
    reference: String,
}

/// Records an appeal against a deduction decision (REST `POST
/// /v1/sanction-decisions/{id}/appeal`).
pub async fn appeal(
    State(web): WebState,
    viewer: Viewer,
    Params(Id(decision_id)): Params<Id>,
    form: Result<Form<AppealForm>, FormRejection>,
) -> Result<Response, ServiceError> {
    let form = fields(form)?;
    viewer.check_form(&web, &form.csrf)?;
    let received_on = date(&form.received_on, "received_on")?;
    let appeal = web
        .payroll
        .appeal(decision_id, received_on, form.reference, &viewer.actor())
        .await?;
    Ok(see_other(&format!(
        "/ui/participants/{}?done=appeal#decisions",
        appeal.participant_id
    )))
}

/// An appeal's outcome, as decided.
#[derive(Debug, Deserialize)]
pub struct AppealOutcomeForm {
    csrf: String,
    outcome: String,
    decided_on: String,
    reference: String,
    #[serde(default)]
    deducted_hours: String,
}

/// Decides the open appeal against a decision (REST `POST
/// /v1/sanction-decisions/{id}/appeal/outcome`); the month is computed again.
pub async fn decide_appeal(
    State(web): WebState,
    viewer: Viewer,
    Params(Id(decision_id)): Params<Id>,
    form: Result<Form<AppealOutcomeForm>, FormRejection>,
) -> Result<Response, ServiceError> {
    let form = fields(form)?;
    viewer.check_form(&web, &form.csrf)?;
    let deducted_hours =
        match form.deducted_hours.trim() {
            "" => None,
            hours => Some(hours.parse().map_err(|_| {
                ServiceError::field("deducted_hours", "must be hours, such as 3.5")
            })?),
        };
    let decided = AppealDecision {
        outcome: form.outcome,
        decided_on: date(&form.decided_on, "decided_on")?,
        reference: form.reference,
        deducted_hours,
    };
    let appeal = web
        .payroll
        .decide_appeal(decision_id, decided, &viewer.actor())
        .await?;
    Ok(see_other(&format!(
        "/ui/participants/{}?done=appeal-outcome#decisions",
        appeal.participant_id
    )))
}

fn back_to_month(id: uuid::Uuid, month: &str, done: &str) -> Response {
    match month.parse::<kvp_rules::YearMonth>() {
        Ok(month) => see_other(&format!("/ui/participants/{id}/months/{month}?done={done}")),
        Err(_) => see_other(&format!("/ui/participants/{id}?done={done}")),
    }
}

/// A correction: the fact's fields as they should be (`f.<name>`), the
/// version read (`version`), why (`reason`) and the form token (`csrf`).
/// Read as a map: the fields are the fact kind's.
type CorrectionForm = std::collections::BTreeMap<String, String>;

/// Corrects a fact from the version read (REST `PUT /v1/facts/{kind}/{id}`
/// with `If-Match`). A field left empty is null, unless the fact holds an
/// empty text there.
pub async fn correct(
    State(web): WebState,
    viewer: Viewer,
    Params((kind, fact_id)): Params<(String, String)>,
    form: Result<Form<CorrectionForm>, FormRejection>,
) -> Result<Response, ServiceError> {
    let mut form = fields(form)?;
    viewer.check_form(&web, form.get("csrf").map_or("", String::as_str))?;
    let version = version(form.get("version"))?;
    let reason = form.remove("reason").unwrap_or_default();
    let fact_kind = crate::rest::facts::participant_fact(&kind)?;
    let latest = web.payroll.fact(fact_kind, &fact_id).await?;
    let current = crate::rest::facts::fact_json(&latest.content);
    let mut fact = Map::new();
    for (name, value) in form {
        let Some(name) = name.strip_prefix("f.") else {
            continue;
        };
        let kept_empty = current[name] == Value::String(String::new());
        let value = if value.is_empty() && !kept_empty {
            Value::Null
        } else {
            Value::String(value)
        };
        fact.insert(name.to_owned(), value);
    }
    let correction = FactCorrection {
        content: Some(crate::rest::facts::fact_content(
            fact_kind,
            Value::Object(fact),
        )?),
        reason,
        precondition: Precondition::Version(version),
    };
    web.payroll
        .correct_fact(fact_kind, &fact_id, correction, &viewer.actor())
        .await?;
    Ok(see_other(&format!(
        "/ui/facts/{kind}/{fact_id}?done=correction"
    )))
}

/// The version a form was read at.
fn version(text: Option<&String>) -> Result<i64, ServiceError> {
    text.and_then(|v| v.parse().ok())
        .ok_or_else(|| ServiceError::field("version", "must be the version read"))
}

/// A void: the version read and why.
#[derive(Debug, Deserialize)]
pub struct VoidForm {
    csrf: String,
    version: String,
    reason: String,
}

/// Voids a fact from the version read (REST `POST /v1/facts/{kind}/{id}/void`).
pub async fn void(
    State(web): WebState,
    viewer: Viewer,
    Params((kind, fact_id)): Params<(String, String)>,
    form: Result<Form<VoidForm>, FormRejection>,
) -> Result<Response, ServiceError> {
    let form = fields(form)?;
    viewer.check_form(&web, &form.csrf)?;
    let fact_kind = crate::rest::facts::participant_fact(&kind)?;
    let correction = FactCorrection {
        content: None,
        reason: form.reason,
        precondition: Precondition::Version(version(Some(&form.version))?),
    };
    web.payroll
        .correct_fact(fact_kind, &fact_id, correction, &viewer.actor())
        .await?;
    Ok(see_other(&format!("/ui/facts/{kind}/{fact_id}?done=void")))
}
