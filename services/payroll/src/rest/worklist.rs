//! The municipality's worklist: what awaits a caseworker or a payroll
//! operator, one item per thing to do, each with its kind, the participant,
//! the month and a link.

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::extract::QueryParams;
use super::participants::AsOf;
use super::{ApiResult, AppState};
use crate::error::{Problem, ServiceError};
use crate::payroll::{WorkItem, WorkItemKind};

/// What kind of work an item is; more kinds come as the product grows, so
/// a client shows an unknown kind by its reason and link.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WorkItemKindView {
    /// The municipality's latest run held the participant: a month of theirs
    /// could not be computed (the reason names the fact at fault), so the run
    /// paid them nothing. Correct the fact; the next close pays the held
    /// months by recompute-and-diff and the item leaves the list.
    HeldParticipant,
    /// No timesheet covers entitled days of a month whose deadline (the
    /// municipality's `timesheet_deadline_day` of the next month) passed;
    /// the days are withheld until one arrives.
    MissingTimesheet,
    /// A month's timesheet arrived after the deadline; the item leaves when a
    /// close pays it.
    LateTimesheet,
    /// Unexcused hours no warning (varsel) covers yet: warn, or decide not
    /// to deduct.
    AbsenceAwaitingWarning,
    /// Unexcused hours warned about, awaiting the decision.
    AbsenceAwaitingDecision,
    /// An appeal (klage) against a deduction decision awaits its outcome.
    OpenAppeal,
    /// A programme runs past its approved period: extend it, or end it.
    ProgrammeBeyondApprovedPeriod,
    /// A programme runs past two years (policy) without an extension decided
    /// as an exception.
    ProgrammeBeyondYearsWithoutException,
    /// A programme runs past three years (policy), the most it runs.
    ProgrammeBeyondMaximumYears,
}

impl From<WorkItemKind> for WorkItemKindView {
    fn from(kind: WorkItemKind) -> Self {
        match kind {
            WorkItemKind::HeldParticipant => Self::HeldParticipant,
            WorkItemKind::MissingTimesheet => Self::MissingTimesheet,
            WorkItemKind::LateTimesheet => Self::LateTimesheet,
            WorkItemKind::AbsenceAwaitingWarning => Self::AbsenceAwaitingWarning,
            WorkItemKind::AbsenceAwaitingDecision => Self::AbsenceAwaitingDecision,
            WorkItemKind::OpenAppeal => Self::OpenAppeal,
            WorkItemKind::ProgrammeBeyondApprovedPeriod => Self::ProgrammeBeyondApprovedPeriod,
            WorkItemKind::ProgrammeBeyondYearsWithoutException => {
                Self::ProgrammeBeyondYearsWithoutException
            }
            WorkItemKind::ProgrammeBeyondMaximumYears => Self::ProgrammeBeyondMaximumYears,
        }
    }
}

/// One thing that awaits a person.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkItemView {
    /// What kind of work.
    pub kind: WorkItemKindView,
    /// The participant concerned (never their identity number).
    pub participant_id: Uuid,
    /// The month concerned, `YYYY-MM`.
    pub month: String,
    /// Why it awaits someone.
    pub reason: String,
    /// The pay run the item comes from, when there is one (the run that held the participant).
    pub run_id: Option<Uuid>,
    /// Where to look and act: a REST path (the participant's month, their
    /// decisions, the appeal).
    pub link: String,
}

impl From<WorkItem> for WorkItemView {
    fn from(item: WorkItem) -> Self {
        Self {
            kind: item.kind.into(),
            participant_id: item.participant_id,
            month: item.month.to_string(),
            reason: item.reason,
            run_id: item.run_id,
            link: item.link,
        }
    }
}

/// A municipality's worklist.
#[derive(Debug, Serialize, ToSchema)]
pub struct Worklist {
    /// The municipality.
    pub municipality_id: String,
    /// What awaits someone, by kind, month and participant; empty when nothing does.
    pub items: Vec<WorkItemView>,
}

/// What awaits a person in the municipality, as of a date (today if
/// absent): participants its latest run held, timesheets missing or late
/// past the deadline, unexcused hours awaiting a warning or a decision, open
/// appeals; each until it is done.
#[utoipa::path(get, path = "/v1/municipalities/{id}/worklist", params(("id" = String, Path), AsOf),
    responses((status = 200, body = Worklist), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn get_worklist(
    State(payroll): AppState,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<AsOf>,
) -> ApiResult<Json<Worklist>> {
    let as_of = match q.as_of {
        Some(text) => crate::ingest::parse_date(&text)
            .ok_or_else(|| ServiceError::field("as_of", "must be a date YYYY-MM-DD"))?,
        None => crate::clock::today(),
    };
    let items = payroll.worklist(&id, as_of).await?;
    Ok(Json(Worklist {
        municipality_id: id,
        items: items.into_iter().map(WorkItemView::from).collect(),
    }))
}
