//! The municipality's worklist: what awaits a caseworker or a payroll
//! operator, one item per thing to do, each with its kind, the participant,
//! the month and a link.

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{ApiResult, AppState};
use crate::error::Problem;
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
}

impl From<WorkItemKind> for WorkItemKindView {
    fn from(kind: WorkItemKind) -> Self {
        match kind {
            WorkItemKind::HeldParticipant => Self::HeldParticipant,
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
    /// Where to look and act: the REST path of the participant's month.
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

/// What awaits a person in the municipality: participants its latest run
/// held (kind `held_participant`), each until a close pays them.
#[utoipa::path(get, path = "/v1/municipalities/{id}/worklist", params(("id" = String, Path)),
    responses((status = 200, body = Worklist), (status = 404, body = Problem)))]
pub async fn get_worklist(
    State(payroll): AppState,
    Path(id): Path<String>,
) -> ApiResult<Json<Worklist>> {
    let items = payroll.worklist(&id).await?;
    Ok(Json(Worklist {
        municipality_id: id,
        items: items.into_iter().map(WorkItemView::from).collect(),
    }))
}
