//! The sanction procedure on a participant's unexcused hours (§ 36): warnings
//! (varsel), decisions (vedtak om trekk) and appeals (klage).

use axum::Json;
use axum::extract::{OriginalUri, State};
use axum::response::Response;
use kvp_store::{SanctionAppeal, SanctionDecision, SanctionWarning};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;
use uuid::Uuid;

use super::auth::Caller;
use super::extract::{Body, Id, Params, QueryParams};
use super::pages::PageQuery;
use super::{ApiResult, AppState, created};
use crate::error::Problem;
use crate::payroll::{AppealDecision, NewDecision, NewWarning};

/// A sanction decision (vedtak om trekk) on unexcused hours.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    /// The day of the hours.
    pub date: Date,
    /// The kind of the entry decided on: UNEXCUSED, or SICK_SELF, LEAVE or
    /// CHILD_SICK for hours a quota turned unexcused.
    #[schema(
        pattern = "^(UNEXCUSED|SICK_SELF|LEAVE|CHILD_SICK)$",
        example = "UNEXCUSED"
    )]
    pub entry_kind: String,
    /// APPROVED (deduct) or REJECTED (pay).
    #[schema(pattern = "^(APPROVED|REJECTED)$", example = "APPROVED")]
    pub outcome: String,
    /// The decision's reference.
    #[schema(min_length = 1, pattern = r"\S")]
    pub reference: String,
    /// The reasoning given to the participant.
    #[serde(default)]
    pub reason: String,
    /// When it was decided; now if absent.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub decided_at: Option<OffsetDateTime>,
}

/// A recorded decision.
#[derive(Debug, Serialize, ToSchema)]
pub struct DecisionView {
    /// Decision id.
    pub id: Uuid,
    /// The sanction case it decides.
    pub sanction_id: Uuid,
    /// Day.
    pub date: Date,
    /// Entry kind.
    pub entry_kind: String,
    /// APPROVED or REJECTED.
    pub outcome: String,
    /// Reference.
    pub reference: String,
    /// Who decided.
    pub decided_by: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub decided_at: OffsetDateTime,
    /// The legal basis given.
    pub legal_basis: String,
    /// The last day of appeal; null on decisions recorded before the
    /// procedure was kept.
    pub appeal_deadline: Option<Date>,
    /// The warning the decision follows; null for a rejection given without
    /// one.
    pub warning_id: Option<Uuid>,
    /// After a partly upheld appeal, the hours still deducted (two
    /// decimals); null: all the entry's hours.
    pub deducted_hours: Option<String>,
}

fn decision_view(d: &SanctionDecision) -> DecisionView {
    DecisionView {
        id: d.id,
        sanction_id: crate::ingest::sanction_id(d.participant_id, d.date, d.entry_kind.as_str()),
        date: d.date,
        entry_kind: d.entry_kind.as_str().to_owned(),
        outcome: d.outcome.as_str().to_owned(),
        reference: d.reference.clone(),
        decided_by: d.decided_by.clone(),
        decided_at: d.decided_at,
        legal_basis: d.legal_basis.clone(),
        appeal_deadline: d.appeal_deadline,
        warning_id: d.warning_id,
        deducted_hours: d.deducted_hours.map(kvp_rules::format_amount),
    }
}

/// Records a caseworker's sanction decision; the month is recomputed from it.
#[utoipa::path(post, path = "/v1/participants/{id}/sanction-decisions", params(("id" = String, Path)), request_body = DecisionBody,
    responses((status = 201, body = DecisionView), (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn decide(
    State(payroll): AppState,
    Params(Id(id)): Params<Id>,
    caller: Caller,
    Body(body): Body<DecisionBody>,
) -> ApiResult<Response> {
    let new = NewDecision {
        date: body.date,
        entry_kind: body.entry_kind,
        outcome: body.outcome,
        reference: body.reference,
        reason: body.reason,
        decided_at: body.decided_at,
    };
    let decision = payroll.decide(id, new, &caller.actor()).await?;
    Ok(created(decision_view(&decision)))
}

/// Lists a participant's sanction decisions.
/// Paged by `limit` and `after`; the next page is in the `Link` header.
#[utoipa::path(get, path = "/v1/participants/{id}/sanction-decisions", params(("id" = String, Path), PageQuery),
    responses((status = 200, body = [DecisionView], headers(("Link" = String, description = "The next page, rel=\"next\"; absent on the last."))), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn list_decisions(
    State(payroll): AppState,
    Params(Id(id)): Params<Id>,
    QueryParams(page): QueryParams<PageQuery>,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<Response> {
    let views: Vec<DecisionView> = payroll
        .decisions(id)
        .await?
        .iter()
        .map(decision_view)
        .collect();
    let limit = page.limit;
    Ok(page.page(views, |d| d.id.to_string())?.answer(&uri, limit))
}

/// A warning (varsel) before a deduction, as given.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WarningBody {
    /// The day it was given.
    pub given_on: Date,
    /// How: IN_PERSON, LETTER or DIGITAL.
    #[schema(pattern = "^(IN_PERSON|LETTER|DIGITAL)$", example = "LETTER")]
    pub channel: String,
    /// The case system's reference.
    #[schema(min_length = 1, pattern = r"\S")]
    pub reference: String,
    /// The days and entry kinds it concerns (1–62).
    #[schema(min_items = 1, max_items = 62)]
    pub days: Vec<WarnedDayBody>,
}

/// A day's hours a warning concerns.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WarnedDayBody {
    /// The day.
    pub date: Date,
    /// UNEXCUSED, or SICK_SELF, LEAVE or CHILD_SICK for hours a quota
    /// turned unexcused.
    #[schema(
        pattern = "^(UNEXCUSED|SICK_SELF|LEAVE|CHILD_SICK)$",
        example = "UNEXCUSED"
    )]
    pub entry_kind: String,
}

/// A recorded warning.
#[derive(Debug, Serialize, ToSchema)]
pub struct WarningView {
    /// Warning id.
    pub id: Uuid,
    /// The day it was given.
    pub given_on: Date,
    /// IN_PERSON, LETTER or DIGITAL.
    pub channel: String,
    /// Reference.
    pub reference: String,
    /// The days, kinds and hours (the entries' when it was given).
    pub days: Vec<WarnedDayView>,
    /// Who recorded it.
    pub recorded_by: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub recorded_at: OffsetDateTime,
}

/// A day's hours in a warning.
#[derive(Debug, Serialize, ToSchema)]
pub struct WarnedDayView {
    /// The sanction case of the hours (as decisions name it).
    pub sanction_id: Uuid,
    /// The day.
    pub date: Date,
    /// The entry kind.
    pub entry_kind: String,
    /// The hours, two decimals.
    pub hours: String,
}

fn warning_view(w: &SanctionWarning) -> WarningView {
    WarningView {
        id: w.id,
        given_on: w.given_on,
        channel: w.channel.as_str().to_owned(),
        reference: w.reference.clone(),
        days: w
            .days
            .iter()
            .map(|d| WarnedDayView {
                sanction_id: crate::ingest::sanction_id(
                    w.participant_id,
                    d.date,
                    d.entry_kind.as_str(),
                ),
                date: d.date,
                entry_kind: d.entry_kind.as_str().to_owned(),
                hours: kvp_rules::format_amount(d.hours),
            })
            .collect(),
        recorded_by: w.recorded_by.clone(),
        recorded_at: w.recorded_at,
    }
}

/// Records a warning (varsel) about unexcused hours in accepted timesheets:
/// a deduction decision on those hours may follow (§ 36).
#[utoipa::path(post, path = "/v1/participants/{id}/sanction-warnings", params(("id" = String, Path)), request_body = WarningBody,
    responses((status = 201, body = WarningView), (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem, description = "a day holds no such entry")))]
pub async fn warn(
    State(payroll): AppState,
    Params(Id(id)): Params<Id>,
    caller: Caller,
    Body(body): Body<WarningBody>,
) -> ApiResult<Response> {
    let new = NewWarning {
        given_on: body.given_on,
        channel: body.channel,
        reference: body.reference,
        days: body
            .days
            .into_iter()
            .map(|d| (d.date, d.entry_kind))
            .collect(),
    };
    let warning = payroll.warn(id, new, &caller.actor()).await?;
    Ok(created(warning_view(&warning)))
}

/// Lists a participant's warnings.
/// Paged by `limit` and `after`; the next page is in the `Link` header.
#[utoipa::path(get, path = "/v1/participants/{id}/sanction-warnings", params(("id" = String, Path), PageQuery),
    responses((status = 200, body = [WarningView], headers(("Link" = String, description = "The next page, rel=\"next\"; absent on the last."))), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn list_warnings(
    State(payroll): AppState,
    Params(Id(id)): Params<Id>,
    QueryParams(page): QueryParams<PageQuery>,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<Response> {
    let views: Vec<WarningView> = payroll
        .warnings(id)
        .await?
        .iter()
        .map(warning_view)
        .collect();
    let limit = page.limit;
    Ok(page.page(views, |w| w.id.to_string())?.answer(&uri, limit))
}

/// An appeal (klage), as received.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppealBody {
    /// The day it was received.
    pub received_on: Date,
    /// The case system's reference.
    #[schema(min_length = 1, pattern = r"\S")]
    pub reference: String,
}

/// An appeal's outcome, as decided.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppealOutcomeBody {
    /// UPHELD (the deduction is reversed), PARTLY_UPHELD (fewer hours are
    /// deducted) or DISMISSED (the decision stands).
    #[schema(pattern = "^(UPHELD|PARTLY_UPHELD|DISMISSED)$", example = "DISMISSED")]
    pub outcome: String,
    /// The day it was decided.
    pub decided_on: Date,
    /// The outcome decision's reference.
    #[schema(min_length = 1, pattern = r"\S")]
    pub reference: String,
    /// For PARTLY_UPHELD only: the hours still deducted, fewer than now.
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = r"^[0-9]+(\.[0-9]{1,2})?$", example = "3.50")]
    pub deducted_hours: Option<Decimal>,
}

/// An appeal and, once decided, its outcome.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppealView {
    /// Appeal id.
    pub id: Uuid,
    /// The decision appealed.
    pub decision_id: Uuid,
    /// The day it was received.
    pub received_on: Date,
    /// Reference.
    pub reference: String,
    /// UPHELD, PARTLY_UPHELD or DISMISSED; null while open.
    pub outcome: Option<String>,
    /// The day the outcome was decided.
    pub decided_on: Option<Date>,
    /// The outcome decision's reference.
    pub outcome_reference: Option<String>,
    /// Who recorded the appeal.
    pub recorded_by: String,
}

fn appeal_view(a: &SanctionAppeal) -> AppealView {
    AppealView {
        id: a.id,
        decision_id: a.decision_id,
        received_on: a.received_on,
        reference: a.reference.clone(),
        outcome: a.outcome.map(|o| o.as_str().to_owned()),
        decided_on: a.decided_on,
        outcome_reference: a.outcome_reference.clone(),
        recorded_by: a.recorded_by.clone(),
    }
}

/// Records an appeal against a deduction decision (one per decision).
#[utoipa::path(post, path = "/v1/sanction-decisions/{id}/appeal", params(("id" = String, Path)), request_body = AppealBody,
    responses((status = 201, body = AppealView), (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem, description = "appealed already, or the decision deducts nothing")))]
pub async fn appeal(
    State(payroll): AppState,
    Params(Id(id)): Params<Id>,
    caller: Caller,
    Body(body): Body<AppealBody>,
) -> ApiResult<Response> {
    let appeal = payroll
        .appeal(id, body.received_on, body.reference, &caller.actor())
        .await?;
    Ok(created(appeal_view(&appeal)))
}

/// Reads the appeal against a decision.
#[utoipa::path(get, path = "/v1/sanction-decisions/{id}/appeal", params(("id" = String, Path)), responses((status = 200, body = AppealView), (status = 404, body = Problem)))]
pub async fn get_appeal(
    State(payroll): AppState,
    Params(Id(id)): Params<Id>,
) -> ApiResult<Json<AppealView>> {
    Ok(Json(appeal_view(&payroll.appeal_of(id).await?)))
}

/// Decides the appeal against a decision: an upheld or partly upheld appeal
/// is a new version of the decision, and the next close pays back what is no
/// longer deducted.
#[utoipa::path(post, path = "/v1/sanction-decisions/{id}/appeal/outcome", params(("id" = String, Path)), request_body = AppealOutcomeBody,
    responses((status = 200, body = AppealView), (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem, description = "the appeal is decided already")))]
pub async fn decide_appeal(
    State(payroll): AppState,
    Params(Id(id)): Params<Id>,
    caller: Caller,
    Body(body): Body<AppealOutcomeBody>,
) -> ApiResult<Json<AppealView>> {
    let decided = AppealDecision {
        outcome: body.outcome,
        decided_on: body.decided_on,
        reference: body.reference,
        deducted_hours: body.deducted_hours,
    };
    Ok(Json(appeal_view(
        &payroll.decide_appeal(id, decided, &caller.actor()).await?,
    )))
}
