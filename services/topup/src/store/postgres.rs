//! The PostgreSQL backend, for deployments with several instances.
//!
//! Duplicates are prevented inside the database, so across instances too:
//! an event's inbox row is inserted first, with `ON CONFLICT (source,
//! event_id) DO NOTHING`, in the transaction that applies it. A concurrent
//! delivery of the same event blocks on the uncommitted row of the primary
//! key until the first transaction ends, then inserts nothing (the first
//! committed) or proceeds (it rolled back): the effect is applied once.
//! Writers touching one participant's household, payments or proposals are
//! serialised with a transaction-scoped advisory lock on the participant, so
//! a payment and a household registration racing each other never both miss
//! each other. A decision is one conditional `UPDATE … WHERE state =
//! 'PROPOSED'`: of two racing decisions exactly one changes the row.

use std::time::Duration;

use async_trait::async_trait;
use rust_decimal::Decimal;
use sqlx::postgres::{PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::types::Json;
use sqlx::{Postgres, QueryBuilder, Row, Transaction};
use time::OffsetDateTime;
use uuid::Uuid;

use super::flows::{self, WriteTx};
use super::{
    Backend, CountedPayment, DecideProposal, Effect, HouseholdRecord, HouseholdSaved, InboxEvent,
    InboxOutcome, PaymentOutcome, PendingMonth, PendingReason, ProposalFilter, Received, Scope,
    StipendPayment, Store, StoreError, attributed_from_json, attributed_json, income_from_json,
    income_json,
};
use crate::household::{Adults, Child, Household};
use crate::money::Kroner;
use crate::month::Month;
use crate::proposal::{Explanation, Proposal, ProposalCause, ProposalState, Proposer};

/// Connections per instance.
const MAX_CONNECTIONS: u32 = 10;
/// How long a call waits for a connection before failing.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// First key of this service's advisory locks (the second is the participant's hash).
const PARTICIPANT_LOCK_SPACE: i32 = 0x4B56_5054; // "KVPT"

const PROPOSAL_COLUMNS: &str = "id, participant_id, month, state, amount, explanation, cause, \
     supersedes, superseded_by, created_at, decided_at, decided_by, decision_reason, \
     municipality_id";

/// The PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to the database of a `postgres:` URL and applies the
    /// migrations (sqlx takes an advisory lock, so instances starting
    /// together apply them once).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(url)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(Self { pool })
    }

    async fn begin_write(&self) -> Result<PgTx, StoreError> {
        Ok(PgTx(self.pool.begin().await?))
    }
}

/// A write transaction.
struct PgTx(Transaction<'static, Postgres>);

// --- conversions at the boundary ---

fn corrupt(column: &str, kind: &str) -> StoreError {
    StoreError::corrupt(format!("column {column} is not {kind}"))
}

fn kroner(row: &PgRow, column: &str) -> Result<Kroner, StoreError> {
    let value: Decimal = row.try_get(column)?;
    Kroner::from_decimal(value).ok_or_else(|| corrupt(column, "whole øre"))
}

fn month(row: &PgRow, column: &str) -> Result<Month, StoreError> {
    let text: String = row.try_get(column)?;
    text.parse().map_err(|_| corrupt(column, "a month"))
}

fn proposal(row: &PgRow) -> Result<Proposal, StoreError> {
    let state: String = row.try_get("state")?;
    let cause: String = row.try_get("cause")?;
    let Json(explanation): Json<Explanation> = row
        .try_get("explanation")
        .map_err(|_| corrupt("explanation", "an explanation"))?;
    Ok(Proposal {
        id: row.try_get("id")?,
        participant_id: row.try_get("participant_id")?,
        month: month(row, "month")?,
        state: ProposalState::parse(&state).ok_or_else(|| corrupt("state", "a state"))?,
        amount: kroner(row, "amount")?,
        explanation,
        cause: ProposalCause::parse(&cause).ok_or_else(|| corrupt("cause", "a cause"))?,
        supersedes: row.try_get("supersedes")?,
        superseded_by: row.try_get("superseded_by")?,
        created_at: row.try_get("created_at")?,
        decided_at: row.try_get("decided_at")?,
        decided_by: row.try_get("decided_by")?,
        decision_reason: row.try_get("decision_reason")?,
        municipality_id: row.try_get("municipality_id")?,
    })
}

async fn load_household(
    conn: &mut PgConnection,
    participant_id: Uuid,
) -> Result<Option<HouseholdRecord>, StoreError> {
    let Some(row) = sqlx::query(
        "SELECT participant_id, adults, housing_cost, other_income, income, registered_at, \
         updated_at, revision, municipality_id FROM households WHERE participant_id = $1",
    )
    .bind(participant_id)
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let children = sqlx::query(
        "SELECT birth_date, in_upper_secondary_school FROM household_children \
         WHERE participant_id = $1 ORDER BY position",
    )
    .bind(participant_id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| {
        Ok(Child {
            birth_date: r.try_get("birth_date")?,
            in_upper_secondary_school: r.try_get("in_upper_secondary_school")?,
        })
    })
    .collect::<Result<Vec<_>, StoreError>>()?;
    let adults: String = row.try_get("adults")?;
    Ok(Some(HouseholdRecord {
        household: Household {
            participant_id: row.try_get("participant_id")?,
            adults: Adults::parse(&adults).ok_or_else(|| corrupt("adults", "a composition"))?,
            children,
            housing_cost: kroner(&row, "housing_cost")?,
            other_income: kroner(&row, "other_income")?,
            income: income_from_json(&row.try_get::<String, _>("income")?)?,
        },
        registered_at: row.try_get("registered_at")?,
        updated_at: row.try_get("updated_at")?,
        revision: row.try_get("revision")?,
        municipality_id: row.try_get("municipality_id")?,
    }))
}

/// The municipality of the latest payment for a participant (for a month, if given).
async fn paying_municipality(
    conn: &mut PgConnection,
    participant_id: Uuid,
    month: Option<Month>,
) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT municipality_id FROM stipend_payments \
         WHERE participant_id = $1 AND ($2::text IS NULL OR income_month = $2) \
         ORDER BY income_month DESC, recorded_at DESC, run_id DESC LIMIT 1",
    )
    .bind(participant_id)
    .bind(month.map(|m| m.to_string()))
    .fetch_optional(&mut *conn)
    .await?)
}

#[async_trait]
impl WriteTx for PgTx {
    async fn insert_inbox(
        &mut self,
        event: &InboxEvent,
        outcome: InboxOutcome,
    ) -> Result<bool, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO inbox_events (source, event_id, event_type, spec_version, subject, \
             envelope, outcome, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (source, event_id) DO NOTHING",
        )
        .bind(&event.source)
        .bind(&event.id)
        .bind(&event.event_type)
        .bind(&event.spec_version)
        .bind(&event.subject)
        .bind(&event.envelope)
        .bind(outcome.as_str())
        .bind(event.received_at)
        .execute(&mut *self.0)
        .await?
        .rows_affected();
        Ok(inserted == 1)
    }

    async fn set_inbox_outcome(
        &mut self,
        event: &InboxEvent,
        outcome: InboxOutcome,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE inbox_events SET outcome = $1 WHERE source = $2 AND event_id = $3")
            .bind(outcome.as_str())
            .bind(&event.source)
            .bind(&event.id)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn lock_participant(&mut self, participant_id: Uuid) -> Result<(), StoreError> {
        sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
            .bind(PARTICIPANT_LOCK_SPACE)
            .bind(participant_id.to_string())
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn insert_payment(
        &mut self,
        payment: &StipendPayment,
        event: &InboxEvent,
    ) -> Result<bool, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO stipend_payments (participant_id, month, run_id, municipality_id, gross, \
             tax_withheld, net_paid, payment_date, event_source, event_id, recorded_at, \
             outcome, income_month, attributed) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
             ON CONFLICT (participant_id, month, run_id) DO NOTHING",
        )
        .bind(payment.participant_id)
        .bind(payment.month.to_string())
        .bind(payment.run_id)
        .bind(&payment.municipality_id)
        .bind(payment.gross.value())
        .bind(payment.tax_withheld.value())
        .bind(payment.net_paid.value())
        .bind(payment.payment_date)
        .bind(&event.source)
        .bind(&event.id)
        .bind(event.received_at)
        .bind(payment.outcome.as_str())
        .bind(payment.income_month.to_string())
        .bind(attributed_json(&payment.attributed)?)
        .execute(&mut *self.0)
        .await?
        .rows_affected();
        Ok(inserted == 1)
    }

    async fn household(
        &mut self,
        participant_id: Uuid,
    ) -> Result<Option<HouseholdRecord>, StoreError> {
        load_household(&mut self.0, participant_id).await
    }

    async fn paying_municipality(
        &mut self,
        participant_id: Uuid,
        month: Option<Month>,
    ) -> Result<Option<String>, StoreError> {
        paying_municipality(&mut self.0, participant_id, month).await
    }

    async fn save_household(
        &mut self,
        record: &HouseholdRecord,
        created: bool,
    ) -> Result<(), StoreError> {
        let h = &record.household;
        let sql = if created {
            "INSERT INTO households (adults, housing_cost, other_income, registered_at, \
             updated_at, revision, municipality_id, participant_id, income) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        } else {
            "UPDATE households SET adults = $1, housing_cost = $2, other_income = $3, \
             registered_at = $4, updated_at = $5, revision = $6, municipality_id = $7, \
             income = $9 WHERE participant_id = $8"
        };
        sqlx::query(sql)
            .bind(h.adults.as_str())
            .bind(h.housing_cost.value())
            .bind(h.other_income.value())
            .bind(record.registered_at)
            .bind(record.updated_at)
            .bind(record.revision)
            .bind(&record.municipality_id)
            .bind(h.participant_id)
            .bind(income_json(&h.income)?)
            .execute(&mut *self.0)
            .await?;
        sqlx::query("DELETE FROM household_children WHERE participant_id = $1")
            .bind(h.participant_id)
            .execute(&mut *self.0)
            .await?;
        if !h.children.is_empty() {
            let mut insert = QueryBuilder::<Postgres>::new(
                "INSERT INTO household_children (participant_id, position, birth_date, \
                 in_upper_secondary_school) ",
            );
            insert.push_values(h.children.iter().enumerate(), |mut row, (i, child)| {
                row.push_bind(h.participant_id)
                    .push_bind(i32::try_from(i).unwrap_or(i32::MAX))
                    .push_bind(child.birth_date)
                    .push_bind(child.in_upper_secondary_school);
            });
            insert.build().execute(&mut *self.0).await?;
        }
        Ok(())
    }

    async fn counted_payments(
        &mut self,
        participant_id: Uuid,
        income_month: Month,
    ) -> Result<Vec<CountedPayment>, StoreError> {
        sqlx::query(
            "SELECT month, outcome, net_paid, payment_date, attributed FROM stipend_payments \
             WHERE participant_id = $1 AND income_month = $2 \
             ORDER BY payment_date, month, run_id",
        )
        .bind(participant_id)
        .bind(income_month.to_string())
        .fetch_all(&mut *self.0)
        .await?
        .iter()
        .map(|row| {
            let outcome: String = row.try_get("outcome")?;
            let attributed: String = row.try_get("attributed")?;
            Ok(CountedPayment {
                run_month: month(row, "month")?,
                outcome: PaymentOutcome::from_stored(&outcome)
                    .ok_or_else(|| corrupt("outcome", "an outcome"))?,
                net_paid: kroner(row, "net_paid")?,
                payment_date: row.try_get("payment_date")?,
                attributed: attributed_from_json(&attributed)?,
            })
        })
        .collect()
    }

    async fn income_months(&mut self, participant_id: Uuid) -> Result<Vec<Month>, StoreError> {
        sqlx::query(
            "SELECT DISTINCT income_month FROM stipend_payments WHERE participant_id = $1 \
             ORDER BY income_month",
        )
        .bind(participant_id)
        .fetch_all(&mut *self.0)
        .await?
        .iter()
        .map(|r| self::month(r, "income_month"))
        .collect()
    }

    async fn month_proposals(
        &mut self,
        participant_id: Uuid,
        month: Month,
    ) -> Result<Vec<Proposal>, StoreError> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PROPOSAL_COLUMNS} FROM proposals WHERE participant_id = $1 AND month = $2 \
             ORDER BY created_at, id"
        )))
        .bind(participant_id)
        .bind(month.to_string())
        .fetch_all(&mut *self.0)
        .await?
        .iter()
        .map(proposal)
        .collect()
    }

    async fn supersede(&mut self, id: Uuid, by: Uuid) -> Result<bool, StoreError> {
        let changed = sqlx::query(
            "UPDATE proposals SET state = 'SUPERSEDED', superseded_by = $1 \
             WHERE id = $2 AND state IN ('PROPOSED', 'NO_SHORTFALL')",
        )
        .bind(by)
        .bind(id)
        .execute(&mut *self.0)
        .await?
        .rows_affected();
        Ok(changed == 1)
    }

    async fn insert_proposal(
        &mut self,
        p: &Proposal,
        event: Option<&InboxEvent>,
    ) -> Result<(), StoreError> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO proposals ({PROPOSAL_COLUMNS}, event_source, event_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
        )))
        .bind(p.id)
        .bind(p.participant_id)
        .bind(p.month.to_string())
        .bind(p.state.as_str())
        .bind(p.amount.value())
        .bind(Json(&p.explanation))
        .bind(p.cause.as_str())
        .bind(p.supersedes)
        .bind(p.superseded_by)
        .bind(p.created_at)
        .bind(p.decided_at)
        .bind(&p.decided_by)
        .bind(&p.decision_reason)
        .bind(&p.municipality_id)
        .bind(event.map(|e| e.source.clone()))
        .bind(event.map(|e| e.id.clone()))
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }
}

#[async_trait]
impl Store for PostgresStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn receive(
        &self,
        event: &InboxEvent,
        effect: Effect<'_>,
    ) -> Result<Received, StoreError> {
        let mut tx = self.begin_write().await?;
        let received = flows::receive(&mut tx, event, effect).await?;
        match received {
            Received::Duplicate => tx.0.rollback().await?,
            Received::Stored { .. } => tx.0.commit().await?,
        }
        Ok(received)
    }

    async fn put_household(
        &self,
        household: &Household,
        scope: &Scope,
        at: OffsetDateTime,
        proposer: &dyn Proposer,
    ) -> Result<HouseholdSaved, StoreError> {
        let mut tx = self.begin_write().await?;
        let saved = flows::put_household(&mut tx, household, scope, at, proposer).await?;
        tx.0.commit().await?;
        Ok(saved)
    }

    async fn household(&self, participant_id: Uuid) -> Result<Option<HouseholdRecord>, StoreError> {
        // REPEATABLE READ: the household and its children from one snapshot.
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .execute(&mut *tx)
            .await?;
        let found = load_household(&mut tx, participant_id).await;
        tx.commit().await?;
        found
    }

    async fn paying_municipality(
        &self,
        participant_id: Uuid,
    ) -> Result<Option<String>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        paying_municipality(&mut conn, participant_id, None).await
    }

    async fn proposals(&self, filter: &ProposalFilter) -> Result<Vec<Proposal>, StoreError> {
        let mut query = QueryBuilder::<Postgres>::new(format!(
            "SELECT {PROPOSAL_COLUMNS} FROM proposals WHERE TRUE"
        ));
        if let Some(state) = filter.state {
            query.push(" AND state = ").push_bind(state.as_str());
        }
        if let Some(participant_id) = filter.participant_id {
            query
                .push(" AND participant_id = ")
                .push_bind(participant_id);
        }
        if let Some(municipality_id) = &filter.municipality_id {
            query
                .push(" AND municipality_id = ")
                .push_bind(municipality_id.clone());
        }
        query
            .push(" ORDER BY month, created_at, id LIMIT ")
            .push_bind(i64::from(filter.limit));
        query
            .build()
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(proposal)
            .collect()
    }

    async fn proposal(&self, id: Uuid) -> Result<Option<Proposal>, StoreError> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PROPOSAL_COLUMNS} FROM proposals WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(proposal)
        .transpose()
    }

    async fn decide(&self, d: &DecideProposal) -> Result<Proposal, StoreError> {
        let decided = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE proposals SET state = $1, decided_at = $2, decided_by = $3, \
             decision_reason = $4 WHERE id = $5 AND state = 'PROPOSED' \
             RETURNING {PROPOSAL_COLUMNS}"
        )))
        .bind(d.decision.state().as_str())
        .bind(d.at)
        .bind(&d.decided_by)
        .bind(&d.reason)
        .bind(d.id)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = decided {
            return proposal(&row);
        }
        match self.proposal(d.id).await? {
            Some(found) => Err(StoreError::AlreadyDecided {
                id: d.id,
                state: found.state,
            }),
            None => Err(StoreError::NotFound {
                entity: "proposal",
                id: d.id.to_string(),
            }),
        }
    }

    async fn pending_months(
        &self,
        municipality_id: Option<&str>,
    ) -> Result<Vec<PendingMonth>, StoreError> {
        let rows = sqlx::query(
            "SELECT s.participant_id, s.income_month AS month, SUM(s.net_paid) AS net_paid, \
             EXISTS (SELECT 1 FROM households h WHERE h.participant_id = s.participant_id) \
               AS has_household \
             FROM stipend_payments s \
             WHERE NOT EXISTS (SELECT 1 FROM proposals p \
                               WHERE p.participant_id = s.participant_id \
                                 AND p.month = s.income_month) \
               AND ($1::text IS NULL OR s.municipality_id = $1) \
             GROUP BY s.participant_id, s.income_month \
             ORDER BY s.income_month, s.participant_id",
        )
        .bind(municipality_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let has_household: bool = row.try_get("has_household")?;
                Ok(PendingMonth {
                    participant_id: row.try_get("participant_id")?,
                    month: month(row, "month")?,
                    net_paid: kroner(row, "net_paid")?,
                    reason: if has_household {
                        PendingReason::NoNormRates
                    } else {
                        PendingReason::AwaitingHousehold
                    },
                })
            })
            .collect()
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}
