//! The SQLite backend: a single file, the embedded default for one instance.
//!
//! Writers are serialised twice over: in the process, every write goes
//! through a pool of exactly one connection; across processes, every write
//! transaction starts with `BEGIN IMMEDIATE`, which takes SQLite's write lock
//! before the first read. So the inbox check (`INSERT … ON CONFLICT DO
//! NOTHING` on the primary key `(source, event_id)`) and the effect it guards
//! run with no other writer in between, and a second delivery of an event
//! finds the first's row. The file runs in WAL mode so that readers (a
//! separate pool) never wait for the writer.
//!
//! SQLite has no decimal, date, timestamp or UUID type: money is stored as
//! its canonical decimal text (a bound `Decimal` would fail), instants as
//! fixed-width UTC text, ids as hyphenated text; the conversions are here.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite, Transaction};
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime, UtcOffset};
use uuid::Uuid;

use super::flows::{self, WriteTx};
use super::{
    Backend, CountedPayment, DecideProposal, Effect, HouseholdRecord, HouseholdSaved, InboxEvent,
    InboxOutcome, PaymentOutcome, PendingMonth, PendingReason, ProposalFilter, Received, Scope,
    StipendPayment, Store, StoreError, attributed_from_json, attributed_json, income_from_json,
    income_json,
};
use crate::household::{Adults, Child, Household, parse_date};
use crate::money::Kroner;
use crate::month::Month;
use crate::proposal::{Explanation, Proposal, ProposalCause, ProposalState, Proposer};

/// How long a writer waits for another process's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Reader connections.
const READERS: u32 = 4;

/// `2025-03-01T08:15:00.000000Z`: UTC, microseconds, fixed width.
const INSTANT: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");

const PROPOSAL_COLUMNS: &str = "id, participant_id, month, state, amount, explanation, cause, \
     supersedes, superseded_by, created_at, decided_at, decided_by, decision_reason, \
     municipality_id";

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// Exactly one connection: all write transactions queue here.
    writer: SqlitePool,
    /// Connections for reads outside write transactions.
    reader: SqlitePool,
}

impl SqliteStore {
    /// Opens (with `mode=rwc`, creates) the file of an `sqlite:` URL,
    /// creating its directory if missing, and applies the migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full);

        // An in-memory database lives in its one connection.
        if url.contains(":memory:") || url.contains("mode=memory") {
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await?;
            sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
            return Ok(Self {
                writer: pool.clone(),
                reader: pool,
            });
        }

        if let Some(directory) = options.get_filename().parent()
            && directory != Path::new("")
        {
            std::fs::create_dir_all(directory).map_err(StoreError::CreateDirectory)?;
        }
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(READERS)
            .connect_with(options)
            .await?;
        Ok(Self { writer, reader })
    }

    /// A write transaction holding SQLite's write lock from its first statement.
    async fn begin_write(&self) -> Result<SqliteTx, StoreError> {
        Ok(SqliteTx(self.writer.begin_with("BEGIN IMMEDIATE").await?))
    }
}

/// A write transaction.
struct SqliteTx(Transaction<'static, Sqlite>);

// --- conversions at the boundary ---

fn instant_text(value: OffsetDateTime) -> Result<String, StoreError> {
    value
        .to_offset(UtcOffset::UTC)
        .format(INSTANT)
        .map_err(|_| StoreError::corrupt("an instant outside the years 0000–9999"))
}

fn text(row: &SqliteRow, column: &str) -> Result<String, StoreError> {
    Ok(row.try_get(column)?)
}

fn text_opt(row: &SqliteRow, column: &str) -> Result<Option<String>, StoreError> {
    Ok(row.try_get(column)?)
}

fn corrupt(column: &str, kind: &str) -> StoreError {
    StoreError::corrupt(format!("column {column} is not {kind}"))
}

fn instant(row: &SqliteRow, column: &str) -> Result<OffsetDateTime, StoreError> {
    parse_instant(&text(row, column)?, column)
}

fn parse_instant(value: &str, column: &str) -> Result<OffsetDateTime, StoreError> {
    PrimitiveDateTime::parse(value, INSTANT)
        .map(PrimitiveDateTime::assume_utc)
        .map_err(|_| corrupt(column, "an instant"))
}

fn instant_opt(row: &SqliteRow, column: &str) -> Result<Option<OffsetDateTime>, StoreError> {
    text_opt(row, column)?
        .map(|t| parse_instant(&t, column))
        .transpose()
}

fn uuid(row: &SqliteRow, column: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(&text(row, column)?).map_err(|_| corrupt(column, "a UUID"))
}

fn uuid_opt(row: &SqliteRow, column: &str) -> Result<Option<Uuid>, StoreError> {
    text_opt(row, column)?
        .map(|t| Uuid::parse_str(&t).map_err(|_| corrupt(column, "a UUID")))
        .transpose()
}

fn kroner(row: &SqliteRow, column: &str) -> Result<Kroner, StoreError> {
    text(row, column)?
        .parse()
        .map_err(|_| corrupt(column, "an amount"))
}

fn month(row: &SqliteRow, column: &str) -> Result<Month, StoreError> {
    text(row, column)?
        .parse()
        .map_err(|_| corrupt(column, "a month"))
}

fn date(row: &SqliteRow, column: &str) -> Result<Date, StoreError> {
    parse_date(&text(row, column)?).ok_or_else(|| corrupt(column, "a date"))
}

fn proposal(row: &SqliteRow) -> Result<Proposal, StoreError> {
    let state = text(row, "state")?;
    let cause = text(row, "cause")?;
    let explanation: Explanation = serde_json::from_str(&text(row, "explanation")?)
        .map_err(|_| corrupt("explanation", "an explanation"))?;
    Ok(Proposal {
        id: uuid(row, "id")?,
        participant_id: uuid(row, "participant_id")?,
        month: month(row, "month")?,
        state: ProposalState::parse(&state).ok_or_else(|| corrupt("state", "a state"))?,
        amount: kroner(row, "amount")?,
        explanation,
        cause: ProposalCause::parse(&cause).ok_or_else(|| corrupt("cause", "a cause"))?,
        supersedes: uuid_opt(row, "supersedes")?,
        superseded_by: uuid_opt(row, "superseded_by")?,
        created_at: instant(row, "created_at")?,
        decided_at: instant_opt(row, "decided_at")?,
        decided_by: text_opt(row, "decided_by")?,
        decision_reason: text_opt(row, "decision_reason")?,
        municipality_id: text_opt(row, "municipality_id")?,
    })
}

fn household_record(row: &SqliteRow, children: Vec<Child>) -> Result<HouseholdRecord, StoreError> {
    let adults = text(row, "adults")?;
    Ok(HouseholdRecord {
        household: Household {
            participant_id: uuid(row, "participant_id")?,
            adults: Adults::parse(&adults).ok_or_else(|| corrupt("adults", "a composition"))?,
            children,
            housing_cost: kroner(row, "housing_cost")?,
            other_income: kroner(row, "other_income")?,
            income: income_from_json(&text(row, "income")?)?,
        },
        registered_at: instant(row, "registered_at")?,
        updated_at: instant(row, "updated_at")?,
        revision: row.try_get("revision")?,
        municipality_id: text_opt(row, "municipality_id")?,
    })
}

async fn load_household(
    conn: &mut SqliteConnection,
    participant_id: Uuid,
) -> Result<Option<HouseholdRecord>, StoreError> {
    let id = participant_id.to_string();
    let Some(row) = sqlx::query(
        "SELECT participant_id, adults, housing_cost, other_income, income, registered_at, \
         updated_at, revision, municipality_id FROM households WHERE participant_id = ?",
    )
    .bind(&id)
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let children = sqlx::query(
        "SELECT birth_date, in_upper_secondary_school FROM household_children \
         WHERE participant_id = ? ORDER BY position",
    )
    .bind(&id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| {
        Ok(Child {
            birth_date: date(r, "birth_date")?,
            in_upper_secondary_school: r.try_get("in_upper_secondary_school")?,
        })
    })
    .collect::<Result<Vec<_>, StoreError>>()?;
    household_record(&row, children).map(Some)
}

/// The municipality of the latest payment for a participant (for a month, if given).
async fn paying_municipality(
    conn: &mut SqliteConnection,
    participant_id: Uuid,
    month: Option<Month>,
) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT municipality_id FROM stipend_payments \
         WHERE participant_id = ? AND (? IS NULL OR income_month = ?) \
         ORDER BY income_month DESC, recorded_at DESC, run_id DESC LIMIT 1",
    )
    .bind(participant_id.to_string())
    .bind(month.map(|m| m.to_string()))
    .bind(month.map(|m| m.to_string()))
    .fetch_optional(&mut *conn)
    .await?)
}

#[async_trait]
impl WriteTx for SqliteTx {
    async fn insert_inbox(
        &mut self,
        event: &InboxEvent,
        outcome: InboxOutcome,
    ) -> Result<bool, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO inbox_events (source, event_id, event_type, spec_version, subject, \
             envelope, outcome, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (source, event_id) DO NOTHING",
        )
        .bind(&event.source)
        .bind(&event.id)
        .bind(&event.event_type)
        .bind(&event.spec_version)
        .bind(&event.subject)
        .bind(&event.envelope)
        .bind(outcome.as_str())
        .bind(instant_text(event.received_at)?)
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
        sqlx::query("UPDATE inbox_events SET outcome = ? WHERE source = ? AND event_id = ?")
            .bind(outcome.as_str())
            .bind(&event.source)
            .bind(&event.id)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn lock_participant(&mut self, _participant_id: Uuid) -> Result<(), StoreError> {
        // BEGIN IMMEDIATE holds the database's write lock already.
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
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (participant_id, month, run_id) DO NOTHING",
        )
        .bind(payment.participant_id.to_string())
        .bind(payment.month.to_string())
        .bind(payment.run_id.to_string())
        .bind(&payment.municipality_id)
        .bind(payment.gross.to_string())
        .bind(payment.tax_withheld.to_string())
        .bind(payment.net_paid.to_string())
        .bind(payment.payment_date.map(|d| d.to_string()))
        .bind(&event.source)
        .bind(&event.id)
        .bind(instant_text(event.received_at)?)
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
        let id = h.participant_id.to_string();
        let sql = if created {
            "INSERT INTO households (adults, housing_cost, other_income, registered_at, \
             updated_at, revision, municipality_id, participant_id, income) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        } else {
            "UPDATE households SET adults = ?, housing_cost = ?, other_income = ?, \
             registered_at = ?, updated_at = ?, revision = ?, municipality_id = ?, \
             income = ?9 WHERE participant_id = ?8"
        };
        sqlx::query(sql)
            .bind(h.adults.as_str())
            .bind(h.housing_cost.to_string())
            .bind(h.other_income.to_string())
            .bind(instant_text(record.registered_at)?)
            .bind(instant_text(record.updated_at)?)
            .bind(record.revision)
            .bind(&record.municipality_id)
            .bind(&id)
            .bind(income_json(&h.income)?)
            .execute(&mut *self.0)
            .await?;
        sqlx::query("DELETE FROM household_children WHERE participant_id = ?")
            .bind(&id)
            .execute(&mut *self.0)
            .await?;
        if !h.children.is_empty() {
            let mut insert = QueryBuilder::<Sqlite>::new(
                "INSERT INTO household_children (participant_id, position, birth_date, \
                 in_upper_secondary_school) ",
            );
            insert.push_values(h.children.iter().enumerate(), |mut row, (i, child)| {
                row.push_bind(id.clone())
                    .push_bind(i64::try_from(i).unwrap_or(i64::MAX))
                    .push_bind(child.birth_date.to_string())
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
             WHERE participant_id = ? AND income_month = ? \
             ORDER BY payment_date, month, run_id",
        )
        .bind(participant_id.to_string())
        .bind(income_month.to_string())
        .fetch_all(&mut *self.0)
        .await?
        .iter()
        .map(|row| {
            let outcome = text(row, "outcome")?;
            Ok(CountedPayment {
                run_month: month(row, "month")?,
                outcome: PaymentOutcome::from_stored(&outcome)
                    .ok_or_else(|| corrupt("outcome", "an outcome"))?,
                net_paid: kroner(row, "net_paid")?,
                payment_date: text_opt(row, "payment_date")?
                    .map(|d| parse_date(&d).ok_or_else(|| corrupt("payment_date", "a date")))
                    .transpose()?,
                attributed: attributed_from_json(&text(row, "attributed")?)?,
            })
        })
        .collect()
    }

    async fn income_months(&mut self, participant_id: Uuid) -> Result<Vec<Month>, StoreError> {
        sqlx::query(
            "SELECT DISTINCT income_month FROM stipend_payments WHERE participant_id = ? \
             ORDER BY income_month",
        )
        .bind(participant_id.to_string())
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
            "SELECT {PROPOSAL_COLUMNS} FROM proposals WHERE participant_id = ? AND month = ? \
             ORDER BY created_at, id"
        )))
        .bind(participant_id.to_string())
        .bind(month.to_string())
        .fetch_all(&mut *self.0)
        .await?
        .iter()
        .map(proposal)
        .collect()
    }

    async fn supersede(&mut self, id: Uuid, by: Uuid) -> Result<bool, StoreError> {
        let changed = sqlx::query(
            "UPDATE proposals SET state = 'SUPERSEDED', superseded_by = ? \
             WHERE id = ? AND state IN ('PROPOSED', 'NO_SHORTFALL')",
        )
        .bind(by.to_string())
        .bind(id.to_string())
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
        let explanation = serde_json::to_string(&p.explanation)
            .map_err(|_| StoreError::corrupt("an explanation that cannot be written as JSON"))?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO proposals ({PROPOSAL_COLUMNS}, event_source, event_id) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )))
        .bind(p.id.to_string())
        .bind(p.participant_id.to_string())
        .bind(p.month.to_string())
        .bind(p.state.as_str())
        .bind(p.amount.to_string())
        .bind(explanation)
        .bind(p.cause.as_str())
        .bind(p.supersedes.map(|id| id.to_string()))
        .bind(p.superseded_by.map(|id| id.to_string()))
        .bind(instant_text(p.created_at)?)
        .bind(p.decided_at.map(instant_text).transpose()?)
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
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
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
        // One read transaction, so that the household and its children are
        // read from one snapshot.
        let mut tx = self.reader.begin().await?;
        let found = load_household(&mut tx, participant_id).await;
        tx.commit().await?;
        found
    }

    async fn paying_municipality(
        &self,
        participant_id: Uuid,
    ) -> Result<Option<String>, StoreError> {
        let mut conn = self.reader.acquire().await?;
        paying_municipality(&mut conn, participant_id, None).await
    }

    async fn proposals(&self, filter: &ProposalFilter) -> Result<Vec<Proposal>, StoreError> {
        let mut query = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {PROPOSAL_COLUMNS} FROM proposals WHERE 1 = 1"
        ));
        if let Some(state) = filter.state {
            query.push(" AND state = ").push_bind(state.as_str());
        }
        if let Some(participant_id) = filter.participant_id {
            query
                .push(" AND participant_id = ")
                .push_bind(participant_id.to_string());
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
            .fetch_all(&self.reader)
            .await?
            .iter()
            .map(proposal)
            .collect()
    }

    async fn proposal(&self, id: Uuid) -> Result<Option<Proposal>, StoreError> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PROPOSAL_COLUMNS} FROM proposals WHERE id = ?"
        )))
        .bind(id.to_string())
        .fetch_optional(&self.reader)
        .await?
        .as_ref()
        .map(proposal)
        .transpose()
    }

    async fn decide(&self, d: &DecideProposal) -> Result<Proposal, StoreError> {
        let mut tx = self.begin_write().await?;
        let id = d.id.to_string();
        let changed = sqlx::query(
            "UPDATE proposals SET state = ?, decided_at = ?, decided_by = ?, decision_reason = ? \
             WHERE id = ? AND state = 'PROPOSED'",
        )
        .bind(d.decision.state().as_str())
        .bind(instant_text(d.at)?)
        .bind(&d.decided_by)
        .bind(&d.reason)
        .bind(&id)
        .execute(&mut *tx.0)
        .await?
        .rows_affected();
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PROPOSAL_COLUMNS} FROM proposals WHERE id = ?"
        )))
        .bind(&id)
        .fetch_optional(&mut *tx.0)
        .await?;
        let Some(row) = row else {
            return Err(StoreError::NotFound {
                entity: "proposal",
                id,
            });
        };
        let found = proposal(&row)?;
        if changed == 0 {
            return Err(StoreError::AlreadyDecided {
                id: d.id,
                state: found.state,
            });
        }
        tx.0.commit().await?;
        Ok(found)
    }

    async fn pending_months(
        &self,
        municipality_id: Option<&str>,
    ) -> Result<Vec<PendingMonth>, StoreError> {
        let rows = sqlx::query(
            "SELECT s.participant_id, s.income_month AS month, s.net_paid, \
             EXISTS (SELECT 1 FROM households h WHERE h.participant_id = s.participant_id) \
               AS has_household \
             FROM stipend_payments s \
             WHERE NOT EXISTS (SELECT 1 FROM proposals p \
                               WHERE p.participant_id = s.participant_id \
                                 AND p.month = s.income_month) \
               AND (? IS NULL OR s.municipality_id = ?) \
             ORDER BY s.income_month, s.participant_id, s.run_id",
        )
        .bind(municipality_id)
        .bind(municipality_id)
        .fetch_all(&self.reader)
        .await?;
        let mut pending: Vec<PendingMonth> = Vec::new();
        for row in &rows {
            let participant_id = uuid(row, "participant_id")?;
            let month = month(row, "month")?;
            let net = kroner(row, "net_paid")?;
            let has_household: bool = row.try_get("has_household")?;
            match pending.last_mut() {
                Some(last) if last.participant_id == participant_id && last.month == month => {
                    last.net_paid = last.net_paid + net;
                }
                _ => pending.push(PendingMonth {
                    participant_id,
                    month,
                    net_paid: net,
                    reason: if has_household {
                        PendingReason::NoNormRates
                    } else {
                        PendingReason::AwaitingHousehold
                    },
                }),
            }
        }
        Ok(pending)
    }

    async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }
}
