//! The multi-statement write paths, written once for both backends over the
//! transaction primitives each backend implements ([`WriteTx`]).
//!
//! Each function runs inside a transaction the backend opened; the backend
//! commits when the function returns `Ok` (rolls back on a duplicate or an
//! error). Before touching a participant's household, payments or proposals
//! a path takes the backend's per-participant write lock, so that a stipend
//! payment and a household registration for the same participant never
//! both miss each other.
//!
//! A payment is income in the month of its payment date (its income month),
//! when the money can be used; a failed one is recorded with nothing paid, so
//! that the month it was due in is proposed on what was received.

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{
    CountedPayment, Effect, HouseholdRecord, HouseholdSaved, InboxEvent, InboxOutcome,
    PaymentOutcome, Received, Scope, StipendPayment, StoreError,
};
use crate::household::Household;
use crate::money::Kroner;
use crate::month::Month;
use crate::proposal::{Proposal, ProposalCause, ProposalState, Proposer};

/// One write transaction's primitives, implemented per backend with its own SQL.
#[async_trait]
pub trait WriteTx: Send {
    /// Inserts an inbox entry unless its source and id are stored; true if inserted.
    async fn insert_inbox(
        &mut self,
        event: &InboxEvent,
        outcome: InboxOutcome,
    ) -> Result<bool, StoreError>;

    /// Sets the outcome of an inbox entry inserted in this transaction.
    async fn set_inbox_outcome(
        &mut self,
        event: &InboxEvent,
        outcome: InboxOutcome,
    ) -> Result<(), StoreError>;

    /// Serialises writers for one participant until the transaction ends.
    async fn lock_participant(&mut self, participant_id: Uuid) -> Result<(), StoreError>;

    /// Records a payment unless the same run paid the participant for the
    /// month already; true if recorded.
    async fn insert_payment(
        &mut self,
        payment: &StipendPayment,
        event: &InboxEvent,
    ) -> Result<bool, StoreError>;

    /// The municipality of the latest payment recorded for a participant,
    /// for `month` or, without one, for any month.
    async fn paying_municipality(
        &mut self,
        participant_id: Uuid,
        month: Option<Month>,
    ) -> Result<Option<String>, StoreError>;

    /// The participant's household, if registered.
    async fn household(
        &mut self,
        participant_id: Uuid,
    ) -> Result<Option<HouseholdRecord>, StoreError>;

    /// Inserts (`created`) or replaces a household with its children.
    async fn save_household(
        &mut self,
        record: &HouseholdRecord,
        created: bool,
    ) -> Result<(), StoreError>;

    /// The payments counted as a participant's income in a month (those
    /// whose income month it is, failed ones included), by payment date.
    async fn counted_payments(
        &mut self,
        participant_id: Uuid,
        income_month: Month,
    ) -> Result<Vec<CountedPayment>, StoreError>;

    /// The income months of a participant's payments, oldest first.
    async fn income_months(&mut self, participant_id: Uuid) -> Result<Vec<Month>, StoreError>;

    /// The proposals for a participant's month, any state.
    async fn month_proposals(
        &mut self,
        participant_id: Uuid,
        month: Month,
    ) -> Result<Vec<Proposal>, StoreError>;

    /// Marks an open proposal superseded by `by`; false if it is not open.
    async fn supersede(&mut self, id: Uuid, by: Uuid) -> Result<bool, StoreError>;

    /// Inserts a proposal; `event` is the inbox entry that caused it, if any.
    async fn insert_proposal(
        &mut self,
        proposal: &Proposal,
        event: Option<&InboxEvent>,
    ) -> Result<(), StoreError>;
}

/// What refreshing a month's proposal did.
enum Refreshed {
    Made(Uuid),
    Unchanged,
    NoNormRates,
}

/// Stores an event and applies its effect; see [`super::Store::receive`].
pub async fn receive<T: WriteTx>(
    tx: &mut T,
    event: &InboxEvent,
    effect: Effect<'_>,
) -> Result<Received, StoreError> {
    let (payment, proposer) = match effect {
        Effect::None => {
            return Ok(
                if tx.insert_inbox(event, InboxOutcome::NotConsumed).await? {
                    Received::Stored {
                        outcome: InboxOutcome::NotConsumed,
                        proposal: None,
                    }
                } else {
                    Received::Duplicate
                },
            );
        }
        Effect::Payment { payment, proposer } => (payment, proposer),
    };

    // The inbox row first: a concurrent delivery of the same event waits on
    // it (PostgreSQL) or on the write lock (SQLite), then finds it.
    if !tx
        .insert_inbox(event, InboxOutcome::AwaitingHousehold)
        .await?
    {
        return Ok(Received::Duplicate);
    }
    tx.lock_participant(payment.participant_id).await?;

    let (outcome, proposal) = if !tx.insert_payment(payment, event).await? {
        (InboxOutcome::RepeatedPayment, None)
    } else if let Some(record) = tx.household(payment.participant_id).await? {
        match refresh_month(
            tx,
            &record.household,
            payment.income_month,
            proposer,
            match payment.outcome {
                PaymentOutcome::Paid => ProposalCause::StipendPaid,
                PaymentOutcome::Failed => ProposalCause::PaymentFailed,
            },
            Some(event),
            event.received_at,
        )
        .await?
        {
            Refreshed::Made(id) => (InboxOutcome::ProposalMade, Some(id)),
            Refreshed::Unchanged => (InboxOutcome::ProposalUnchanged, None),
            Refreshed::NoNormRates => (InboxOutcome::NoNormRates, None),
        }
    } else {
        (InboxOutcome::AwaitingHousehold, None)
    };
    if outcome != InboxOutcome::AwaitingHousehold {
        tx.set_inbox_outcome(event, outcome).await?;
    }
    Ok(Received::Stored { outcome, proposal })
}

/// Registers or replaces a household; see [`super::Store::put_household`].
pub async fn put_household<T: WriteTx>(
    tx: &mut T,
    household: &Household,
    scope: &Scope,
    at: OffsetDateTime,
    proposer: &dyn Proposer,
) -> Result<HouseholdSaved, StoreError> {
    let participant_id = household.participant_id;
    tx.lock_participant(participant_id).await?;
    let existing = tx.household(participant_id).await?;
    let paid_by = tx.paying_municipality(participant_id, None).await?;
    let registered_by = existing.as_ref().and_then(|e| e.municipality_id.clone());
    // A participant nobody owns yet is the caller's; one a municipality
    // registered or paid is reached by that municipality (the paying one
    // takes over when a participant moves).
    let owners = [registered_by.as_deref(), paid_by.as_deref()];
    if owners.iter().any(Option::is_some) && !scope.reaches(&owners) {
        return Err(StoreError::OtherMunicipality);
    }
    let created = existing.is_none();
    let record = HouseholdRecord {
        household: household.clone(),
        registered_at: existing.as_ref().map_or(at, |e| e.registered_at),
        updated_at: at,
        revision: existing.as_ref().map_or(1, |e| e.revision + 1),
        municipality_id: scope
            .municipality()
            .map(str::to_owned)
            .or(registered_by)
            .or(paid_by),
    };
    tx.save_household(&record, created).await?;

    let mut proposals = Vec::new();
    for month in tx.income_months(participant_id).await? {
        let existing = tx.month_proposals(participant_id, month).await?;
        let open = existing.iter().any(|p| p.state.is_open());
        // A month a caseworker has decided is left as decided; a month
        // with an open proposal, or none yet, follows the household.
        if !open && !existing.is_empty() {
            continue;
        }
        if let Refreshed::Made(id) = refresh_month(
            tx,
            household,
            month,
            proposer,
            ProposalCause::HouseholdChanged,
            None,
            at,
        )
        .await?
        {
            proposals.push(id);
        }
    }
    Ok(HouseholdSaved {
        record,
        created,
        proposals,
    })
}

/// Computes a month's proposal from the household and every payment counted
/// as income in the month, and stores it unless the open proposal already
/// says the same; an open proposal that differs is superseded by the new one.
async fn refresh_month<T: WriteTx>(
    tx: &mut T,
    household: &Household,
    month: Month,
    proposer: &dyn Proposer,
    cause: ProposalCause,
    event: Option<&InboxEvent>,
    at: OffsetDateTime,
) -> Result<Refreshed, StoreError> {
    let participant_id = household.participant_id;
    let payments = tx.counted_payments(participant_id, month).await?;
    let Ok(draft) = proposer.propose(household, month, &payments) else {
        return Ok(Refreshed::NoNormRates);
    };
    let open = tx
        .month_proposals(participant_id, month)
        .await?
        .into_iter()
        .find(|p| p.state.is_open());
    if open
        .as_ref()
        .is_some_and(|p| p.amount == draft.amount && p.explanation == draft.explanation)
    {
        return Ok(Refreshed::Unchanged);
    }

    let municipality_id = tx.paying_municipality(participant_id, Some(month)).await?;
    let id = Uuid::now_v7();
    // The open proposal leaves the PROPOSED state before the new one enters
    // it: at most one open proposal per participant and month (a unique
    // index holds the line).
    let mut supersedes = None;
    if let Some(open) = open
        && tx.supersede(open.id, id).await?
    {
        supersedes = Some(open.id);
    }
    tx.insert_proposal(
        &Proposal {
            id,
            participant_id,
            month,
            // Nothing to decide at 0.00: recorded, not put on the worklist.
            state: if draft.amount == Kroner::ZERO {
                ProposalState::NoShortfall
            } else {
                ProposalState::Proposed
            },
            amount: draft.amount,
            explanation: draft.explanation,
            cause,
            supersedes,
            superseded_by: None,
            created_at: at,
            decided_at: None,
            decided_by: None,
            decision_reason: None,
            municipality_id,
        },
        event,
    )
    .await?;
    Ok(Refreshed::Made(id))
}
