//! The REST handlers and the JSON documents they answer with.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::{IntoParams, OpenApi, ToSchema};
use uuid::Uuid;

use super::JsonBody;
use super::auth::Identity;
use super::openapi::ApiDoc;
use crate::error::{FieldViolation, Problem, ServiceError};
use crate::household::{Adults, HouseholdInput};
use crate::proposal::{Decision, Explanation, Proposal, ProposalCause, ProposalState};
use crate::service::{DecisionInput, Topup};
use crate::store::{HouseholdRecord, HouseholdSaved, PendingMonth, PendingReason};

/// An instant as RFC 3339 text (UTC).
fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// The service's health.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok` while the service answers.
    pub status: String,
    /// The database backend: `sqlite` or `postgres`.
    pub backend: String,
}

/// A child as registered.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ChildView {
    /// Date of birth, `YYYY-MM-DD`.
    pub birth_date: String,
    /// Still in upper secondary school (given for members of 18 and over).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub in_upper_secondary_school: bool,
}

/// An income of a household as registered.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IncomeView {
    /// The kind (`WAGE`, `HOUSING_BENEFIT`, `CHILD_SUPPORT`, `CHILD_BENEFIT`,
    /// `OTHER`).
    pub kind: String,
    /// Net (after tax), kroner per month.
    #[schema(example = "1800.00")]
    pub net_amount: String,
    /// `YYYY-MM` when received in that month only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub month: Option<String>,
}

/// A registered household.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HouseholdView {
    /// The payroll service's participant id.
    pub participant_id: Uuid,
    /// `SINGLE`, `COUPLE` or `SHARING`.
    pub adults: Adults,
    /// The children.
    pub children: Vec<ChildView>,
    /// Monthly housing cost including electricity, kroner.
    #[schema(example = "9000.00")]
    pub housing_cost: String,
    /// Other monthly income of no kind listed, net, kroner.
    #[schema(example = "500.00")]
    pub other_income: String,
    /// Income by kind, each net per month.
    pub income: Vec<IncomeView>,
    /// When it was first registered (RFC 3339).
    pub registered_at: String,
    /// When it was last changed (RFC 3339).
    pub updated_at: String,
    /// 1 when registered, one more with each change.
    pub revision: i64,
}

impl From<&HouseholdRecord> for HouseholdView {
    fn from(r: &HouseholdRecord) -> Self {
        let h = &r.household;
        Self {
            participant_id: h.participant_id,
            adults: h.adults,
            children: h
                .children
                .iter()
                .map(|c| ChildView {
                    birth_date: c.birth_date.to_string(),
                    in_upper_secondary_school: c.in_upper_secondary_school,
                })
                .collect(),
            housing_cost: h.housing_cost.to_string(),
            other_income: h.other_income.to_string(),
            income: h
                .income
                .iter()
                .map(|e| IncomeView {
                    kind: e.kind.clone(),
                    net_amount: e.net_amount.to_string(),
                    month: e.month.map(|m| m.to_string()),
                })
                .collect(),
            registered_at: rfc3339(r.registered_at),
            updated_at: rfc3339(r.updated_at),
            revision: r.revision,
        }
    }
}

/// The answer to registering or changing a household.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HouseholdSavedView {
    /// The household as stored.
    pub household: HouseholdView,
    /// True if registered now, false if changed.
    pub created: bool,
    /// Proposals made because of it: for paid months that had none, and
    /// replacing open proposals whose figures changed.
    pub proposals_made: Vec<Uuid>,
}

impl From<&HouseholdSaved> for HouseholdSavedView {
    fn from(s: &HouseholdSaved) -> Self {
        Self {
            household: (&s.record).into(),
            created: s.created,
            proposals_made: s.proposals.clone(),
        }
    }
}

/// A proposal of supplementary social assistance for one month.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ProposalView {
    /// Its id.
    pub id: Uuid,
    /// The participant.
    pub participant_id: Uuid,
    /// The month, `YYYY-MM`.
    #[schema(example = "2024-03")]
    pub month: String,
    /// Where it stands.
    pub state: ProposalState,
    /// The proposed amount, kroner.
    #[schema(example = "6200.00")]
    pub amount: String,
    /// What made the service propose.
    pub cause: ProposalCause,
    /// What the caseworker must check before deciding (norm rates older than
    /// the month's year); also in the explanation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The earlier proposal for the month this one replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supersedes: Option<Uuid>,
    /// The proposal that replaced this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub superseded_by: Option<Uuid>,
    /// When it was made (RFC 3339).
    pub created_at: String,
    /// When it was decided (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<String>,
    /// Who decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_reason: Option<String>,
    /// The line-by-line explanation (on single proposals; lists leave it out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explanation: Option<Explanation>,
}

impl ProposalView {
    fn new(p: &Proposal, with_explanation: bool) -> Self {
        Self {
            id: p.id,
            participant_id: p.participant_id,
            month: p.month.to_string(),
            state: p.state,
            amount: p.amount.to_string(),
            cause: p.cause,
            warnings: p.explanation.warnings.clone(),
            supersedes: p.supersedes,
            superseded_by: p.superseded_by,
            created_at: rfc3339(p.created_at),
            decided_at: p.decided_at.map(rfc3339),
            decided_by: p.decided_by.clone(),
            decision_reason: p.decision_reason.clone(),
            explanation: with_explanation.then(|| p.explanation.clone()),
        }
    }
}

/// A list of proposals.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ProposalList {
    /// Oldest month first.
    pub proposals: Vec<ProposalView>,
}

/// Which proposals to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only proposals in this state: PROPOSED (the worklist: a decision is
    /// due), NO_SHORTFALL (0.00, nothing to decide), ACCEPTED, REJECTED or
    /// SUPERSEDED.
    pub state: Option<String>,
    /// Only proposals of this participant (UUID).
    pub participant_id: Option<String>,
    /// At most this many (1–1000, default 100).
    pub limit: Option<String>,
}

/// A caseworker's decision.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    /// Why (required).
    pub reason: String,
    /// The caseworker's id (optional; never a national identity number).
    /// With bearer tokens the decision is recorded under the token's `sub`,
    /// and another name here is refused.
    #[serde(default)]
    pub decided_by: Option<String>,
}

/// A paid month without a proposal.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PendingMonthView {
    /// The participant.
    pub participant_id: Uuid,
    /// The month, `YYYY-MM`.
    pub month: String,
    /// Net stipend paid for it, kroner.
    pub net_paid: String,
    /// `AWAITING_HOUSEHOLD` (no household registered) or `NO_NORM_RATES`
    /// (no rates in force in the month).
    pub reason: String,
}

impl From<&PendingMonth> for PendingMonthView {
    fn from(p: &PendingMonth) -> Self {
        Self {
            participant_id: p.participant_id,
            month: p.month.to_string(),
            net_paid: p.net_paid.to_string(),
            reason: match p.reason {
                PendingReason::AwaitingHousehold => "AWAITING_HOUSEHOLD",
                PendingReason::NoNormRates => "NO_NORM_RATES",
            }
            .into(),
        }
    }
}

/// Paid months without a proposal.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PendingMonthList {
    /// Oldest month first.
    pub pending: Vec<PendingMonthView>,
}

/// Liveness and the backend in use.
#[utoipa::path(get, path = "/healthz", tag = "service",
    responses((status = 200, description = "The service answers", body = Health)))]
pub async fn healthz(State(topup): State<Topup>) -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        backend: topup.backend().to_string(),
    })
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "service",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn openapi_document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// Registers or replaces a participant's household. Paid months without a
/// proposal get one now; open proposals whose figures change are superseded.
#[utoipa::path(put, path = "/households/{participant_id}", tag = "households",
    params(("participant_id" = Uuid, Path, description = "The payroll participant id")),
    request_body = HouseholdInput,
    responses(
        (status = 201, description = "Registered", body = HouseholdSavedView),
        (status = 200, description = "Changed", body = HouseholdSavedView),
        (status = 400, description = "Invalid; the fields at fault are named", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn put_household(
    State(topup): State<Topup>,
    identity: Identity,
    Path(participant_id): Path<String>,
    JsonBody(input): JsonBody<HouseholdInput>,
) -> Result<impl IntoResponse, ServiceError> {
    let saved = topup
        .put_household(&identity.scope(), &participant_id, &input)
        .await?;
    for _ in &saved.proposals {
        crate::metrics::record_proposal(ProposalState::Proposed);
    }
    let status = if saved.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(HouseholdSavedView::from(&saved))))
}

/// A participant's household.
#[utoipa::path(get, path = "/households/{participant_id}", tag = "households",
    params(("participant_id" = Uuid, Path, description = "The payroll participant id")),
    responses(
        (status = 200, description = "The household", body = HouseholdView),
        (status = 404, description = "None registered", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_household(
    State(topup): State<Topup>,
    identity: Identity,
    Path(participant_id): Path<String>,
) -> Result<Json<HouseholdView>, ServiceError> {
    let record = topup.household(&identity.scope(), &participant_id).await?;
    Ok(Json((&record).into()))
}

/// The caseworkers' worklist: proposals, oldest month first, without their
/// explanations (get one proposal for its explanation).
#[utoipa::path(get, path = "/proposals", tag = "proposals",
    params(ListQuery),
    responses(
        (status = 200, description = "The proposals", body = ProposalList),
        (status = 400, description = "Invalid query", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_proposals(
    State(topup): State<Topup>,
    identity: Identity,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<ProposalList>, ServiceError> {
    // The parser's words would quote the refused text: name the field only.
    let Query(query) = query.map_err(|_| {
        ServiceError::invalid(
            "the query is invalid",
            vec![FieldViolation::new(
                "query",
                "is not a query string of state, participant_id and limit",
            )],
        )
    })?;
    let limit = match query.limit.as_deref().map(str::parse::<u32>) {
        None => None,
        Some(Ok(limit)) => Some(limit),
        Some(Err(_)) => {
            return Err(ServiceError::invalid(
                "the query is invalid",
                vec![FieldViolation::new("limit", "is not a whole number")],
            ));
        }
    };
    let proposals = topup
        .proposals(
            &identity.scope(),
            query.state.as_deref(),
            query.participant_id.as_deref(),
            limit,
        )
        .await?;
    Ok(Json(ProposalList {
        proposals: proposals
            .iter()
            .map(|p| ProposalView::new(p, false))
            .collect(),
    }))
}

/// One proposal with its line-by-line explanation.
#[utoipa::path(get, path = "/proposals/{id}", tag = "proposals",
    params(("id" = Uuid, Path, description = "The proposal id")),
    responses(
        (status = 200, description = "The proposal", body = ProposalView),
        (status = 404, description = "No such proposal", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_proposal(
    State(topup): State<Topup>,
    identity: Identity,
    Path(id): Path<String>,
) -> Result<Json<ProposalView>, ServiceError> {
    let proposal = topup.proposal(&identity.scope(), &id).await?;
    Ok(Json(ProposalView::new(&proposal, true)))
}

/// Accepts an open proposal, once. Nothing is paid by this service: the
/// municipality grants and pays the assistance through its own process.
#[utoipa::path(post, path = "/proposals/{id}/accept", tag = "proposals",
    params(("id" = Uuid, Path, description = "The proposal id")),
    request_body = DecisionRequest,
    responses(
        (status = 200, description = "Accepted", body = ProposalView),
        (status = 400, description = "Invalid decision", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such proposal", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Decided or superseded already", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn accept_proposal(
    State(topup): State<Topup>,
    identity: Identity,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<DecisionRequest>,
) -> Result<Json<ProposalView>, ServiceError> {
    decide(&topup, &identity, &id, Decision::Accept, body).await
}

/// Rejects an open proposal, once.
#[utoipa::path(post, path = "/proposals/{id}/reject", tag = "proposals",
    params(("id" = Uuid, Path, description = "The proposal id")),
    request_body = DecisionRequest,
    responses(
        (status = 200, description = "Rejected", body = ProposalView),
        (status = 400, description = "Invalid decision", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such proposal", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Decided or superseded already", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn reject_proposal(
    State(topup): State<Topup>,
    identity: Identity,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<DecisionRequest>,
) -> Result<Json<ProposalView>, ServiceError> {
    decide(&topup, &identity, &id, Decision::Reject, body).await
}

async fn decide(
    topup: &Topup,
    identity: &Identity,
    id: &str,
    decision: Decision,
    body: DecisionRequest,
) -> Result<Json<ProposalView>, ServiceError> {
    let input = DecisionInput {
        reason: body.reason,
        decided_by: identity.decided_by(body.decided_by)?,
    };
    let proposal = topup
        .decide(&identity.scope(), id, decision, &input)
        .await?;
    crate::metrics::record_proposal(proposal.state);
    Ok(Json(ProposalView::new(&proposal, true)))
}

/// Paid months that have no proposal yet (no household registered, or no
/// norm rates in force), oldest first.
#[utoipa::path(get, path = "/pending-months", tag = "proposals",
    responses((status = 200, description = "The paid months waiting", body = PendingMonthList)))]
pub async fn pending_months(
    State(topup): State<Topup>,
    identity: Identity,
) -> Result<Json<PendingMonthList>, ServiceError> {
    let pending = topup.pending_months(&identity.scope()).await?;
    Ok(Json(PendingMonthList {
        pending: pending.iter().map(PendingMonthView::from).collect(),
    }))
}

/// Any other path.
pub async fn not_found() -> ServiceError {
    ServiceError::NotFound {
        entity: "resource",
        id: "at this path".into(),
    }
}

/// A known path with another method.
pub async fn method_not_allowed() -> ServiceError {
    ServiceError::MethodNotAllowed
}
