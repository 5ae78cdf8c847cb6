//! REST handlers: parse, call the payroll core, answer. Bodies and answers are
//! their own types (never storage records), and no answer carries an identity number.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kvp_rules::{AbsenceKind, OffsetKind, PolicyOverrides, YearMonth};
use kvp_store::{
    BenefitOffset, Child, DecisionOutcome, Municipality, Participant, Pause, PauseKind, Programme,
    SanctionDecision, SignerKey, SignerRole, SoleCarerPeriod,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::{Date, OffsetDateTime};
use utoipa::{IntoParams, OpenApi, ToSchema};
use uuid::Uuid;

use super::auth::{BearerSecurity, Caller};
use super::extract::Body;
use crate::error::{FieldViolation, Problem, ServiceError};
use crate::identity::NationalId;
use crate::ingest::{Assessment, QuotaSummary};
use crate::payroll::{Payroll, audit};

type AppState = State<Arc<Payroll>>;
type ApiResult<T> = Result<T, ServiceError>;

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
        set_programme_end,
        add_pause,
        decide,
        list_decisions,
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
        crate::rest::periods::export_run,
        crate::rest::periods::payslip,
        healthz,
        readyz,
        metrics,
        openapi
    ),
    components(schemas(Problem, FieldViolation, Assessment, QuotaSummary)),
    modifiers(&BearerSecurity)
)]
pub struct ApiDoc;

fn created<T: Serialize>(body: T) -> Response {
    (StatusCode::CREATED, Json(body)).into_response()
}

fn parse_id(text: &str, field: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(text).map_err(|_| ServiceError::field(field, "must be a UUID"))
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "alive")))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// Prometheus metrics (text exposition format); public, like the probes.
#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics() -> Response {
    crate::metrics::RECORDER.render()
}

/// This OpenAPI document; public.
#[utoipa::path(get, path = "/openapi.json", responses((status = 200, description = "the OpenAPI document")))]
pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// Readiness: the database answers and holds every migration of this build.
#[utoipa::path(get, path = "/readyz", responses((status = 200, description = "ready"), (status = 503, body = Problem)))]
pub async fn readyz(State(payroll): AppState) -> Response {
    let not_ready = |detail: String| {
        crate::error::problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "not-ready",
            "Not ready",
            detail,
            Vec::new(),
        )
    };
    match payroll.store().pending_migrations().await {
        Ok(pending) if pending.is_empty() => "ready".into_response(),
        Ok(pending) => not_ready(format!("migrations pending: {}", pending.join(", "))),
        Err(_) => not_ready("the database does not answer".into()),
    }
}

/// A municipality's settings.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MunicipalityBody {
    /// Name.
    pub name: String,
    /// Policy values overriding the national defaults (RULES.md R5–R9).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub policy_overrides: Option<serde_json::Value>,
    /// Product line code → the municipality's pay code (lønnsart).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub pay_codes: Option<serde_json::Value>,
}

/// Registers or updates a municipality and its policy.
#[utoipa::path(put, path = "/v1/municipalities/{id}", request_body = MunicipalityBody,
    responses((status = 200, body = MunicipalityBody), (status = 400, body = Problem)))]
pub async fn put_municipality(
    State(payroll): AppState,
    Path(id): Path<String>,
    caller: Caller,
    Body(body): Body<MunicipalityBody>,
) -> ApiResult<Json<MunicipalityBody>> {
    if id.len() != 4 || !id.chars().all(|c| c.is_ascii_digit()) {
        return Err(ServiceError::field(
            "id",
            "must be a four-digit municipality number",
        ));
    }
    if body.name.trim().is_empty() {
        return Err(ServiceError::field("name", "must not be empty"));
    }
    let overrides = body.policy_overrides.clone().unwrap_or_else(|| json!({}));
    let parsed = serde_json::from_value::<PolicyOverrides>(overrides.clone())
        .map_err(|e| ServiceError::field("policy_overrides", super::extract::without_values(&e)))?;
    let out_of_range: Vec<_> = parsed
        .out_of_range()
        .into_iter()
        .map(|(field, why)| FieldViolation::new(format!("policy_overrides.{field}"), why))
        .collect();
    if !out_of_range.is_empty() {
        return Err(ServiceError::InvalidArgument(out_of_range));
    }
    let pay_codes = body.pay_codes.clone().unwrap_or_else(|| json!({}));
    if !pay_codes.is_object() {
        return Err(ServiceError::field(
            "pay_codes",
            "must be an object of line code to pay code",
        ));
    }
    let municipality = Municipality {
        id: id.clone(),
        name: body.name.clone(),
        policy_overrides: overrides,
        pay_codes,
    };
    let entry = audit(
        &caller.actor(),
        "municipality.upserted",
        "municipality",
        &id,
        json!(body),
    );
    payroll
        .store()
        .upsert_municipality(&municipality, &entry)
        .await?;
    Ok(Json(MunicipalityBody {
        name: municipality.name,
        policy_overrides: Some(municipality.policy_overrides),
        pay_codes: Some(municipality.pay_codes),
    }))
}

/// Reads a municipality's settings.
#[utoipa::path(get, path = "/v1/municipalities/{id}", responses((status = 200, body = MunicipalityBody), (status = 404, body = Problem)))]
pub async fn get_municipality(
    State(payroll): AppState,
    Path(id): Path<String>,
) -> ApiResult<Json<MunicipalityBody>> {
    let m = payroll.store().get_municipality(&id).await?;
    Ok(Json(MunicipalityBody {
        name: m.name,
        policy_overrides: Some(m.policy_overrides),
        pay_codes: Some(m.pay_codes),
    }))
}

/// A new participant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewParticipant {
    /// The municipality (four digits).
    pub municipality_id: String,
    /// National identity number or D-number (11 digits); stored only protected.
    pub national_id: String,
    /// Name shown to caseworkers.
    pub display_name: String,
    /// Children's birth dates.
    #[serde(default)]
    pub children: Vec<Date>,
}

/// A participant as the API shows it: never the identity number.
#[derive(Debug, Serialize, ToSchema)]
pub struct ParticipantView {
    /// Participant id.
    pub id: Uuid,
    /// Municipality.
    pub municipality_id: String,
    /// Birth date, derived from the identity number.
    pub birth_date: Date,
    /// Name.
    pub display_name: String,
    /// Children's birth dates.
    pub children: Vec<Date>,
    /// Programme decisions with their pauses.
    pub programmes: Vec<ProgrammeView>,
}

/// A programme decision.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProgrammeView {
    /// Programme id.
    pub id: Uuid,
    /// First day.
    pub start: Date,
    /// Last day, if decided.
    pub end: Option<Date>,
    /// The decision's reference.
    pub decision_reference: String,
    /// Interruptions and stops.
    pub pauses: Vec<PauseBody>,
}

/// Registers a participant; the identity number is validated (mod 11) and the
/// birth date derived from it.
#[utoipa::path(post, path = "/v1/participants", request_body = NewParticipant,
    responses((status = 201, body = ParticipantView), (status = 400, body = Problem), (status = 409, body = Problem)))]
pub async fn create_participant(
    State(payroll): AppState,
    caller: Caller,
    Body(body): Body<NewParticipant>,
) -> ApiResult<Response> {
    let id = NationalId::parse(body.national_id.trim())
        .map_err(|e| ServiceError::field("national_id", e.to_string()))?;
    let birth_date = id
        .birth_date()
        .map_err(|e| ServiceError::field("national_id", e.to_string()))?;
    if body.display_name.trim().is_empty() {
        return Err(ServiceError::field("display_name", "must not be empty"));
    }
    payroll
        .store()
        .get_municipality(&body.municipality_id)
        .await
        .map_err(|_| ServiceError::field("municipality_id", "is not a registered municipality"))?;
    if let Some(i) = body.children.iter().position(|c| *c < birth_date) {
        return Err(ServiceError::field(
            format!("children[{i}]"),
            "is before the participant's birth date",
        ));
    }
    let participant = Participant {
        id: Uuid::now_v7(),
        municipality_id: body.municipality_id.clone(),
        nin_lookup: payroll.vault().lookup(&id),
        nin_sealed: payroll.vault().seal(&id),
        birth_date,
        display_name: body.display_name.trim().to_owned(),
        created_at: OffsetDateTime::now_utc(),
    };
    let actor = caller.actor();
    let pid = participant.id.to_string();
    payroll
        .store()
        .create_participant(&participant, &audit(&actor, "participant.registered", "participant", &pid, json!({"municipality_id": body.municipality_id})))
        .await
        .map_err(|e| match e {
            kvp_store::StoreError::Conflict { .. } => ServiceError::AlreadyExists {
                what: "a participant with this identity number is already registered in the municipality".into(),
            },
            other => other.into(),
        })?;
    for birth in &body.children {
        let child = Child {
            id: Uuid::now_v7(),
            participant_id: participant.id,
            birth_date: *birth,
        };
        payroll
            .store()
            .add_child(
                &child,
                &audit(
                    &actor,
                    "child.added",
                    "participant",
                    &pid,
                    json!({"birth_date": birth}),
                ),
            )
            .await?;
    }
    Ok(created(view(&payroll, participant.id).await?))
}

async fn view(payroll: &Payroll, id: Uuid) -> ApiResult<ParticipantView> {
    let facts = payroll.facts(id).await?;
    Ok(ParticipantView {
        id,
        municipality_id: facts.participant.municipality_id.clone(),
        birth_date: facts.participant.birth_date,
        display_name: facts.participant.display_name.clone(),
        children: facts.children.iter().map(|c| c.birth_date).collect(),
        programmes: facts
            .programmes
            .iter()
            .map(|p| ProgrammeView {
                id: p.programme.id,
                start: p.programme.start,
                end: p.programme.end,
                decision_reference: p.programme.decision_reference.clone(),
                pauses: p
                    .pauses
                    .iter()
                    .map(|x| PauseBody {
                        from: x.from,
                        to: x.to,
                        kind: x.kind.as_str().to_owned(),
                        reference: x.reference.clone(),
                    })
                    .collect(),
            })
            .collect(),
    })
}

/// Reads a participant.
#[utoipa::path(get, path = "/v1/participants/{id}", responses((status = 200, body = ParticipantView), (status = 404, body = Problem)))]
pub async fn get_participant(
    State(payroll): AppState,
    Path(id): Path<String>,
) -> ApiResult<Json<ParticipantView>> {
    let id = parse_id(&id, "id")?;
    Ok(Json(view(&payroll, id).await?))
}

/// A child.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChildBody {
    /// Birth date.
    pub birth_date: Date,
}

/// Adds a child (child supplement, child's-sickness quota).
#[utoipa::path(post, path = "/v1/participants/{id}/children", request_body = ChildBody,
    responses((status = 201, body = ParticipantView), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn add_child(
    State(payroll): AppState,
    Path(id): Path<String>,
    caller: Caller,
    Body(body): Body<ChildBody>,
) -> ApiResult<Response> {
    let id = parse_id(&id, "id")?;
    let participant = payroll.store().get_participant(id).await?;
    if body.birth_date < participant.birth_date {
        return Err(ServiceError::field(
            "birth_date",
            "is before the participant's birth date",
        ));
    }
    let child = Child {
        id: Uuid::now_v7(),
        participant_id: id,
        birth_date: body.birth_date,
    };
    payroll
        .store()
        .add_child(
            &child,
            &audit(
                &caller.actor(),
                "child.added",
                "participant",
                &id.to_string(),
                json!({"birth_date": body.birth_date}),
            ),
        )
        .await?;
    Ok(created(view(&payroll, id).await?))
}

/// A period as a sole carer (doubles the child's-sickness quota).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PeriodBody {
    /// First day.
    pub from: Date,
    /// Last day, if known.
    #[serde(default)]
    pub to: Option<Date>,
}

/// Registers a period in which the participant is a sole carer.
#[utoipa::path(post, path = "/v1/participants/{id}/sole-carer-periods", request_body = PeriodBody,
    responses((status = 201, description = "registered"), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn add_sole_carer_period(
    State(payroll): AppState,
    Path(id): Path<String>,
    caller: Caller,
    Body(body): Body<PeriodBody>,
) -> ApiResult<Response> {
    let id = parse_id(&id, "id")?;
    if body.to.is_some_and(|to| to < body.from) {
        return Err(ServiceError::field("to", "must not be before from"));
    }
    payroll.store().get_participant(id).await?;
    let period = SoleCarerPeriod {
        id: Uuid::now_v7(),
        participant_id: id,
        from: body.from,
        to: body.to,
    };
    payroll
        .store()
        .add_sole_carer_period(
            &period,
            &audit(
                &caller.actor(),
                "sole_carer.registered",
                "participant",
                &id.to_string(),
                json!({"from": body.from, "to": body.to}),
            ),
        )
        .await?;
    Ok(created(json!({"id": period.id})))
}

/// Another livelihood benefit for a month (R11).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OffsetBody {
    /// The month, `YYYY-MM`.
    #[schema(value_type = String)]
    pub month: YearMonth,
    /// SYKEPENGER, DAGPENGER, FORELDREPENGER or OTHER_LIVELIHOOD.
    #[schema(value_type = String)]
    pub kind: OffsetKind,
    /// Amount in kroner.
    #[schema(value_type = String)]
    pub amount: Decimal,
}

/// Registers another livelihood benefit that reduces a month's stipend.
#[utoipa::path(post, path = "/v1/participants/{id}/benefit-offsets", request_body = OffsetBody,
    responses((status = 201, description = "registered"), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn add_benefit_offset(
    State(payroll): AppState,
    Path(id): Path<String>,
    caller: Caller,
    Body(body): Body<OffsetBody>,
) -> ApiResult<Response> {
    let id = parse_id(&id, "id")?;
    if body.amount.is_sign_negative() || body.amount.round_dp(2) != body.amount {
        return Err(ServiceError::field(
            "amount",
            "must be a non-negative amount in kroner and øre",
        ));
    }
    payroll.store().get_participant(id).await?;
    let offset = BenefitOffset {
        id: Uuid::now_v7(),
        participant_id: id,
        month: body.month.first_day(),
        kind: body.kind.as_str().to_owned(),
        amount: body.amount,
    };
    payroll
        .store()
        .add_benefit_offset(
            &offset,
            &audit(
                &caller.actor(),
                "benefit_offset.registered",
                "participant",
                &id.to_string(),
                json!({"month": body.month, "kind": offset.kind, "amount": body.amount}),
            ),
        )
        .await?;
    Ok(created(json!({"id": offset.id})))
}

/// A programme decision.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgrammeBody {
    /// First day.
    pub start: Date,
    /// Last day, if decided.
    #[serde(default)]
    pub end: Option<Date>,
    /// The decision's reference (vedtak).
    pub decision_reference: String,
}

/// Registers a programme decision.
#[utoipa::path(post, path = "/v1/participants/{id}/programmes", request_body = ProgrammeBody,
    responses((status = 201, body = ParticipantView), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn create_programme(
    State(payroll): AppState,
    Path(id): Path<String>,
    caller: Caller,
    Body(body): Body<ProgrammeBody>,
) -> ApiResult<Response> {
    let id = parse_id(&id, "id")?;
    if body.end.is_some_and(|end| end < body.start) {
        return Err(ServiceError::field("end", "must not be before start"));
    }
    if body.decision_reference.trim().is_empty() {
        return Err(ServiceError::field(
            "decision_reference",
            "must not be empty",
        ));
    }
    payroll.store().get_participant(id).await?;
    let programme = Programme {
        id: Uuid::now_v7(),
        participant_id: id,
        start: body.start,
        end: body.end,
        decision_reference: body.decision_reference.clone(),
        decided_at: OffsetDateTime::now_utc(),
    };
    payroll.store().create_programme(&programme, &audit(&caller.actor(), "programme.decided", "participant", &id.to_string(), json!({"programme_id": programme.id, "start": body.start, "end": body.end, "reference": body.decision_reference}))).await?;
    Ok(created(view(&payroll, id).await?))
}

/// A programme's end.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndBody {
    /// The last day, or null for open-ended.
    pub end: Option<Date>,
}

/// Sets or clears a programme's end.
#[utoipa::path(put, path = "/v1/programmes/{id}/end", request_body = EndBody,
    responses((status = 200, description = "updated"), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn set_programme_end(
    State(payroll): AppState,
    Path(id): Path<String>,
    caller: Caller,
    Body(body): Body<EndBody>,
) -> ApiResult<Json<serde_json::Value>> {
    let id = parse_id(&id, "id")?;
    let programme = payroll
        .store()
        .set_programme_end(
            id,
            body.end,
            &audit(
                &caller.actor(),
                "programme.end_set",
                "programme",
                &id.to_string(),
                json!({"end": body.end}),
            ),
        )
        .await?;
    Ok(Json(
        json!({"id": programme.id, "start": programme.start, "end": programme.end}),
    ))
}

/// A pause in a programme.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PauseBody {
    /// First day.
    pub from: Date,
    /// Last day; null while open-ended.
    #[serde(default)]
    pub to: Option<Date>,
    /// INTERRUPTED (midlertidig avbrudd) or STOPPED (stans, § 34).
    pub kind: String,
    /// The decision's reference.
    pub reference: String,
}

/// Registers an interruption or a stop.
#[utoipa::path(post, path = "/v1/programmes/{id}/pauses", request_body = PauseBody,
    responses((status = 201, description = "registered"), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn add_pause(
    State(payroll): AppState,
    Path(id): Path<String>,
    caller: Caller,
    Body(body): Body<PauseBody>,
) -> ApiResult<Response> {
    let id = parse_id(&id, "id")?;
    let kind: PauseKind = body
        .kind
        .parse()
        .map_err(|_| ServiceError::field("kind", "must be INTERRUPTED or STOPPED"))?;
    if body.to.is_some_and(|to| to < body.from) {
        return Err(ServiceError::field("to", "must not be before from"));
    }
    let pause = Pause {
        id: Uuid::now_v7(),
        programme_id: id,
        from: body.from,
        to: body.to,
        kind,
        reference: body.reference.clone(),
    };
    payroll
        .store()
        .add_pause(
            &pause,
            &audit(
                &caller.actor(),
                "programme.paused",
                "programme",
                &id.to_string(),
                json!(body),
            ),
        )
        .await?;
    Ok(created(json!({"id": pause.id})))
}

/// A sanction decision (vedtak om trekk) on unexcused hours.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    /// The day of the hours.
    pub date: Date,
    /// The kind of the entry decided on: UNEXCUSED, or SICK_SELF, LEAVE or
    /// CHILD_SICK for hours a quota turned unexcused.
    pub entry_kind: String,
    /// APPROVED (deduct) or REJECTED (pay).
    pub outcome: String,
    /// The decision's reference.
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
}

fn decision_view(d: &SanctionDecision) -> DecisionView {
    DecisionView {
        id: d.id,
        sanction_id: crate::ingest::sanction_id(d.participant_id, d.date, &d.entry_kind),
        date: d.date,
        entry_kind: d.entry_kind.clone(),
        outcome: d.outcome.as_str().to_owned(),
        reference: d.reference.clone(),
        decided_by: d.decided_by.clone(),
        decided_at: d.decided_at,
    }
}

/// Records a caseworker's sanction decision; the month is recomputed from it.
#[utoipa::path(post, path = "/v1/participants/{id}/sanction-decisions", request_body = DecisionBody,
    responses((status = 201, body = DecisionView), (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn decide(
    State(payroll): AppState,
    Path(id): Path<String>,
    caller: Caller,
    Body(body): Body<DecisionBody>,
) -> ApiResult<Response> {
    let id = parse_id(&id, "id")?;
    let kind: AbsenceKind = body
        .entry_kind
        .parse()
        .map_err(|e: String| ServiceError::field("entry_kind", e))?;
    if !matches!(
        kind,
        AbsenceKind::Unexcused
            | AbsenceKind::SickSelf
            | AbsenceKind::Leave
            | AbsenceKind::ChildSick
    ) {
        return Err(ServiceError::field(
            "entry_kind",
            "only unexcused hours (given so, or turned so by a quota) are decided",
        ));
    }
    let outcome: DecisionOutcome = body
        .outcome
        .parse()
        .map_err(|_| ServiceError::field("outcome", "must be APPROVED or REJECTED"))?;
    if body.reference.trim().is_empty() {
        return Err(ServiceError::field("reference", "must not be empty"));
    }
    let facts = payroll.facts(id).await?;
    if !facts
        .entries
        .iter()
        .any(|e| e.date == body.date && e.kind == kind.as_str())
    {
        return Err(ServiceError::FailedPrecondition {
            what: format!(
                "no {} entry on {} in an accepted timesheet",
                kind.as_str(),
                body.date
            ),
        });
    }
    let actor = caller.actor();
    let decision = SanctionDecision {
        id: Uuid::now_v7(),
        participant_id: id,
        date: body.date,
        entry_kind: kind.as_str().to_owned(),
        outcome,
        decided_at: body.decided_at.unwrap_or_else(OffsetDateTime::now_utc),
        decided_by: actor.0.clone(),
        reference: body.reference.clone(),
        reason: body.reason.clone(),
    };
    let hours: Decimal = facts
        .entries
        .iter()
        .filter(|e| e.date == body.date && e.kind == kind.as_str())
        .map(|e| e.hours)
        .sum();
    let sanction_id = crate::ingest::sanction_id(id, body.date, kind.as_str());
    let event = crate::events::outbox_event(
        kvp_proto::event_types::DEDUCTION_DECIDED,
        &facts.participant.municipality_id,
        id.to_string(),
        &kvp_proto::kvp::events::v1::DeductionDecided {
            sanction_id: sanction_id.to_string(),
            participant_id: id.to_string(),
            municipality_id: facts.participant.municipality_id.clone(),
            date: body.date.to_string(),
            hours: hours.normalize().to_string(),
            decision: match outcome {
                DecisionOutcome::Approved => {
                    kvp_proto::kvp::events::v1::DeductionDecision::Approved
                }
                DecisionOutcome::Rejected => {
                    kvp_proto::kvp::events::v1::DeductionDecision::Rejected
                }
            } as i32,
            decided_on: decision.decided_at.date().to_string(),
            decision_reference: body.reference.clone(),
            decided_at: Some(crate::events::timestamp(decision.decided_at)),
        },
        OffsetDateTime::now_utc(),
    );
    let entry = audit(
        &actor,
        "sanction.decided",
        "participant",
        &id.to_string(),
        json!({
            "decision_id": decision.id, "sanction_id": sanction_id, "date": body.date,
            "entry_kind": decision.entry_kind, "outcome": body.outcome, "reference": body.reference,
        }),
    );
    payroll
        .store()
        .record_decision(&decision, &[event], &entry)
        .await
        .map_err(|e| match e {
            kvp_store::StoreError::Conflict { .. } => ServiceError::AlreadyExists {
                what: "a decision on these hours is already recorded".into(),
            },
            other => other.into(),
        })?;
    Ok(created(decision_view(&decision)))
}

/// Lists a participant's sanction decisions.
#[utoipa::path(get, path = "/v1/participants/{id}/sanction-decisions", responses((status = 200, body = [DecisionView]), (status = 404, body = Problem)))]
pub async fn list_decisions(
    State(payroll): AppState,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<DecisionView>>> {
    let id = parse_id(&id, "id")?;
    payroll.store().get_participant(id).await?;
    Ok(Json(
        payroll
            .store()
            .list_decisions(id)
            .await?
            .iter()
            .map(decision_view)
            .collect(),
    ))
}

/// The date an overview holds for.
#[derive(Debug, Deserialize, IntoParams)]
pub struct AsOf {
    /// The date, `YYYY-MM-DD`; today if absent.
    pub as_of: Option<String>,
}

/// The quotas used and left on a date: the count caseworkers keep by hand today.
#[utoipa::path(get, path = "/v1/participants/{id}/absence-overview", params(AsOf),
    responses((status = 200, body = QuotaSummary), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn absence_overview(
    State(payroll): AppState,
    Path(id): Path<String>,
    Query(q): Query<AsOf>,
) -> ApiResult<Json<QuotaSummary>> {
    let id = parse_id(&id, "id")?;
    let as_of = match q.as_of {
        Some(text) => crate::ingest::parse_date(&text)
            .ok_or_else(|| ServiceError::field("as_of", "must be a date YYYY-MM-DD"))?,
        None => OffsetDateTime::now_utc().date(),
    };
    Ok(Json(payroll.absence_overview(id, as_of).await?))
}

/// A participant's month as the rules compute it now, line by line with its explanation.
#[utoipa::path(get, path = "/v1/participants/{id}/months/{month}",
    responses((status = 200, description = "lines, total, quantities, flags, explanation"), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn month(
    State(payroll): AppState,
    Path((id, month)): Path<(String, String)>,
) -> ApiResult<Json<kvp_rules::MonthResult>> {
    let id = parse_id(&id, "id")?;
    let month: YearMonth = month
        .parse()
        .map_err(|_| ServiceError::field("month", "must be YYYY-MM"))?;
    Ok(Json(payroll.month(id, month).await?))
}

/// An accepted timesheet.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimesheetView {
    /// Timesheet id.
    pub id: Uuid,
    /// First covered day.
    pub period_from: Date,
    /// Last covered day.
    pub period_to: Date,
    /// 1, or one more than the timesheet it superseded.
    pub version: i32,
    /// SHA-256 of the signed payload.
    pub digest: String,
    /// The assessment given at receipt.
    pub assessment: Assessment,
}

/// Lists a participant's current timesheets with their assessments.
#[utoipa::path(get, path = "/v1/participants/{id}/timesheets", responses((status = 200, body = [TimesheetView]), (status = 404, body = Problem)))]
pub async fn list_timesheets(
    State(payroll): AppState,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<TimesheetView>>> {
    let id = parse_id(&id, "id")?;
    payroll.store().get_participant(id).await?;
    let mut out = Vec::new();
    for t in payroll.store().list_current_timesheets(id).await? {
        out.push(TimesheetView {
            id: t.id,
            period_from: t.period_from,
            period_to: t.period_to,
            version: t.version,
            digest: t.digest.clone(),
            assessment: serde_json::from_value(t.assessment).map_err(ServiceError::internal)?,
        });
    }
    Ok(Json(out))
}

/// A signer key to register.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyBody {
    /// The key id signatures name.
    pub keyid: String,
    /// The person the key belongs to (a participant id for participant keys).
    pub person_id: String,
    /// PARTICIPANT, SUPERVISOR or PROVIDER.
    pub role: String,
    /// Ed25519 public key: base64 of 32 bytes, or a PEM public key.
    pub public_key: String,
    /// Start of validity.
    #[serde(with = "time::serde::rfc3339")]
    pub valid_from: OffsetDateTime,
    /// End of validity, if any.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub valid_until: Option<OffsetDateTime>,
}

/// A registered key.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyView {
    /// Key id.
    pub keyid: String,
    /// Owner.
    pub person_id: String,
    /// Role.
    pub role: String,
    /// Public key, base64.
    pub public_key: String,
    /// Start of validity.
    #[serde(with = "time::serde::rfc3339")]
    pub valid_from: OffsetDateTime,
    /// End of validity.
    #[serde(with = "time::serde::rfc3339::option")]
    pub valid_until: Option<OffsetDateTime>,
    /// When revoked.
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

fn key_view(k: &SignerKey) -> KeyView {
    use base64::Engine;
    KeyView {
        keyid: k.keyid.clone(),
        person_id: k.person_id.clone(),
        role: k.role.as_str().to_owned(),
        public_key: base64::engine::general_purpose::STANDARD.encode(&k.public_key),
        valid_from: k.valid_from,
        valid_until: k.valid_until,
        revoked_at: k.revoked_at,
    }
}

/// Registers a signer key with its role and validity window.
#[utoipa::path(post, path = "/v1/signer-keys", request_body = KeyBody,
    responses((status = 201, body = KeyView), (status = 400, body = Problem), (status = 409, body = Problem)))]
pub async fn register_key(
    State(payroll): AppState,
    caller: Caller,
    Body(body): Body<KeyBody>,
) -> ApiResult<Response> {
    let role: SignerRole = body
        .role
        .parse()
        .map_err(|_| ServiceError::field("role", "must be PARTICIPANT, SUPERVISOR or PROVIDER"))?;
    let public_key = kvp_signing::parse_public_key(&body.public_key)
        .map_err(|e| ServiceError::field("public_key", e.to_string()))?;
    if body.keyid.trim().is_empty() || body.keyid.len() > 200 {
        return Err(ServiceError::field("keyid", "must be 1–200 characters"));
    }
    if body.valid_until.is_some_and(|u| u <= body.valid_from) {
        return Err(ServiceError::field(
            "valid_until",
            "must be after valid_from",
        ));
    }
    let participant_id = if role == SignerRole::Participant {
        let id = parse_id(&body.person_id, "person_id")?;
        payroll
            .store()
            .get_participant(id)
            .await
            .map_err(|_| ServiceError::field("person_id", "is not a registered participant"))?;
        Some(id)
    } else {
        None
    };
    let key = SignerKey {
        keyid: body.keyid.clone(),
        person_id: body.person_id.clone(),
        participant_id,
        role,
        public_key: public_key.to_bytes().to_vec(),
        valid_from: body.valid_from,
        valid_until: body.valid_until,
        revoked_at: None,
        revocation_reason: None,
        registered_at: OffsetDateTime::now_utc(),
    };
    let key = payroll
        .register_key(key, &caller.actor())
        .await
        .map_err(|e| match e {
            ServiceError::AlreadyExists { .. } => ServiceError::AlreadyExists {
                what: format!("key {} is already registered", body.keyid),
            },
            other => other,
        })?;
    Ok(created(key_view(&key)))
}

/// Reads a signer key.
#[utoipa::path(get, path = "/v1/signer-keys/{keyid}", responses((status = 200, body = KeyView), (status = 404, body = Problem)))]
pub async fn get_key(
    State(payroll): AppState,
    Path(keyid): Path<String>,
) -> ApiResult<Json<KeyView>> {
    Ok(Json(key_view(
        &payroll.store().get_signer_key(&keyid).await?,
    )))
}

/// A revocation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevocationBody {
    /// Why the key is revoked.
    pub reason: String,
}

/// Revokes a key from now on; timesheets it signed before stay accepted.
#[utoipa::path(post, path = "/v1/signer-keys/{keyid}/revocation", request_body = RevocationBody,
    responses((status = 200, body = KeyView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn revoke_key(
    State(payroll): AppState,
    Path(keyid): Path<String>,
    caller: Caller,
    Body(body): Body<RevocationBody>,
) -> ApiResult<Json<KeyView>> {
    if body.reason.trim().is_empty() {
        return Err(ServiceError::field("reason", "must not be empty"));
    }
    let now = OffsetDateTime::now_utc();
    let key = payroll
        .store()
        .revoke_signer_key(
            &keyid,
            now,
            &body.reason,
            &audit(
                &caller.actor(),
                "signer_key.revoked",
                "signer_key",
                &keyid,
                json!({"reason": body.reason}),
            ),
        )
        .await?;
    Ok(Json(key_view(&key)))
}

/// An audit entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// Details.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

/// The audit trail of one subject (participant, programme, signer_key, timesheet, municipality).
#[utoipa::path(get, path = "/v1/audit/{subject_type}/{subject_id}", responses((status = 200, body = [AuditView])))]
pub async fn audit_trail(
    State(payroll): AppState,
    Path((subject_type, subject_id)): Path<(String, String)>,
) -> ApiResult<Json<Vec<AuditView>>> {
    let entries = payroll
        .store()
        .list_audit(&subject_type, &subject_id)
        .await?;
    Ok(Json(
        entries
            .into_iter()
            .map(|e| AuditView {
                at: e.at,
                actor: e.actor,
                action: e.action,
                details: e.details,
            })
            .collect(),
    ))
}

/// The rules engine on posted facts: a case in the golden vectors' shape.
#[utoipa::path(post, path = "/v1/simulations", request_body(content = Object, description = "a case: month, participant, programme, covered, days, policy, offsets, parameters"),
    responses((status = 200, description = "lines, total, quantities, flags, explanation"), (status = 400, body = Problem)))]
pub async fn simulate(
    State(payroll): AppState,
    body: bytes::Bytes,
) -> ApiResult<Json<kvp_rules::MonthResult>> {
    let text = std::str::from_utf8(&body)
        .map_err(|_| ServiceError::field("body", "must be UTF-8 JSON"))?;
    Ok(Json(payroll.simulate(text).await?))
}
