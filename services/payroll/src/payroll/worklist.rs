//! The municipality's worklist: what awaits a person (ARCHITECTURE.md,
//! Worklists), one list per municipality, each item with its kind, the
//! participant, the month and a link to where the person acts.
//!
//! Kinds are added by the issues that need them; today there is one: a
//! participant the latest close held because a month could not be computed.
//! The item leaves the list when a later close pays that month (its run then
//! holds the participant no more).

use kvp_rules::YearMonth;
use uuid::Uuid;

use super::Payroll;
use crate::error::ServiceError;

/// What kind of work an item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum WorkItemKind {
    /// The latest close held the participant: a month of theirs could not be
    /// computed, so the run paid them nothing. Correct the fact the reason
    /// names; the next close pays the held months by recompute-and-diff.
    HeldParticipant,
}

impl WorkItemKind {
    /// The kind as the API writes it (`held_participant`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HeldParticipant => "held_participant",
        }
    }
}

/// One thing that awaits a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkItem {
    /// What kind of work.
    pub kind: WorkItemKind,
    /// The participant concerned (never their identity number).
    pub participant_id: Uuid,
    /// The month concerned.
    pub month: YearMonth,
    /// Why it awaits someone, in words.
    pub reason: String,
    /// The pay run the item comes from, if any (the run that held the participant).
    pub run_id: Option<Uuid>,
    /// Where the person looks and acts: the REST path of the participant's month.
    pub link: String,
}

impl Payroll {
    /// A municipality's worklist, by kind, month and participant. An unknown
    /// municipality is not found.
    pub async fn worklist(&self, municipality_id: &str) -> Result<Vec<WorkItem>, ServiceError> {
        self.store.get_municipality(municipality_id).await?;
        let mut items: Vec<WorkItem> = self
            .store
            .current_holds(municipality_id)
            .await?
            .into_iter()
            .map(|held| {
                let month = YearMonth::of(held.month);
                WorkItem {
                    kind: WorkItemKind::HeldParticipant,
                    participant_id: held.participant_id,
                    month,
                    reason: held.reason,
                    run_id: Some(held.run_id),
                    link: format!("/v1/participants/{}/months/{month}", held.participant_id),
                }
            })
            .collect();
        items.sort_by(|a, b| {
            (a.kind, a.month, a.participant_id).cmp(&(b.kind, b.month, b.participant_id))
        });
        Ok(items)
    }
}
