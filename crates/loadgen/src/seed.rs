//! The fast path for a large close: participants, programmes, children and
//! accepted timesheets written straight into the service's database in
//! multi-row statements, instead of one REST or gRPC call each (100 000
//! participants with a year of timesheets would take hours through the API).
//!
//! What is written is what the service would store for the same requests
//! (the same day entries as `timesheet()` signs), except what a close never
//! reads: identity numbers (random bytes stand in for the keyed hash and the
//! ciphertext), signer keys, signed envelopes (a placeholder) and audit
//! entries. The database's own triggers keep the recompute marks as for any
//! other write. The close itself still goes through gRPC `ClosePeriod`.

use anyhow::{Context, bail};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::{Postgres, QueryBuilder, Sqlite};
use time::{Date, Month};
use uuid::Uuid;

use crate::{entries, month_of};

/// Rows per multi-row INSERT (at most 12 columns: under SQLite's 32 766
/// parameters per statement).
const ROWS: usize = 2_000;

/// One value to write; each backend binds it its own way.
#[derive(Clone)]
enum Value {
    Id(Uuid),
    Text(String),
    Bytes(Vec<u8>),
    Day(Date),
    Int(i64),
    /// A decimal, as its text.
    Numeric(String),
    /// A JSON document, as its text.
    Json(String),
    /// An instant, as UTC text to the microsecond.
    Instant(&'static str),
    Null,
}

/// A database the service uses.
pub enum Db {
    /// The SQLite file.
    Sqlite(SqlitePool),
    /// The PostgreSQL database.
    Postgres(PgPool),
}

impl Db {
    /// Opens the database of a `sqlite:` or `postgres:` URL; the service must
    /// have created it (its migrations ran).
    pub async fn open(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("sqlite:") {
            let options: SqliteConnectOptions = url.parse()?;
            let options = options
                .foreign_keys(true)
                .busy_timeout(std::time::Duration::from_secs(60));
            Ok(Self::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect_with(options)
                    .await?,
            ))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Self::Postgres(
                PgPoolOptions::new().max_connections(2).connect(url).await?,
            ))
        } else {
            bail!("--seed-database must be a sqlite: or postgres: URL")
        }
    }

    /// Inserts rows into `table`, `ROWS` at a time, in one transaction.
    async fn insert(&self, table: &str, columns: &str, rows: &[Vec<Value>]) -> anyhow::Result<()> {
        match self {
            Self::Sqlite(pool) => {
                let mut tx = pool.begin().await?;
                for chunk in rows.chunks(ROWS) {
                    let mut insert =
                        QueryBuilder::<Sqlite>::new(format!("INSERT INTO {table} ({columns}) "));
                    insert.push_values(chunk, |mut row, values| {
                        for value in values {
                            match value.clone() {
                                Value::Id(v) => row.push_bind(v),
                                Value::Text(v) | Value::Numeric(v) | Value::Json(v) => {
                                    row.push_bind(v)
                                }
                                Value::Bytes(v) => row.push_bind(v),
                                Value::Day(v) => row.push_bind(v),
                                Value::Int(v) => row.push_bind(v),
                                Value::Instant(v) => row.push_bind(v),
                                Value::Null => row.push("NULL"),
                            };
                        }
                    });
                    insert
                        .build()
                        .execute(&mut *tx)
                        .await
                        .with_context(|| format!("seeding {table}"))?;
                }
                tx.commit().await?;
            }
            Self::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                for chunk in rows.chunks(ROWS) {
                    let mut insert =
                        QueryBuilder::<Postgres>::new(format!("INSERT INTO {table} ({columns}) "));
                    insert.push_values(chunk, |mut row, values| {
                        for value in values {
                            match value.clone() {
                                Value::Id(v) => row.push_bind(v),
                                Value::Text(v) => row.push_bind(v),
                                Value::Numeric(v) => row
                                    .push("CAST(")
                                    .push_bind_unseparated(v)
                                    .push_unseparated(" AS NUMERIC)"),
                                Value::Json(v) => row
                                    .push("CAST(")
                                    .push_bind_unseparated(v)
                                    .push_unseparated(" AS JSONB)"),
                                Value::Bytes(v) => row.push_bind(v),
                                Value::Day(v) => row.push_bind(v),
                                Value::Int(v) => row
                                    .push("CAST(")
                                    .push_bind_unseparated(v)
                                    .push_unseparated(" AS INTEGER)"),
                                Value::Instant(v) => row
                                    .push("CAST(")
                                    .push_bind_unseparated(v)
                                    .push_unseparated(" AS TIMESTAMPTZ)"),
                                Value::Null => row.push("NULL"),
                            };
                        }
                    });
                    insert
                        .build()
                        .execute(&mut *tx)
                        .await
                        .with_context(|| format!("seeding {table}"))?;
                }
                tx.commit().await?;
            }
        }
        Ok(())
    }

    /// Refreshes PostgreSQL's planner statistics after a bulk load, as
    /// autovacuum would soon after; SQLite's planner keeps none by default.
    pub async fn analyze(&self) -> anyhow::Result<()> {
        if let Self::Postgres(pool) = self {
            sqlx::query("ANALYZE").execute(pool).await?;
        }
        Ok(())
    }

    /// Marks timesheets superseded.
    async fn supersede(&self, ids: &[Uuid]) -> anyhow::Result<()> {
        match self {
            Self::Sqlite(pool) => {
                let mut tx = pool.begin().await?;
                for chunk in ids.chunks(ROWS) {
                    let mut update = QueryBuilder::<Sqlite>::new(
                        "UPDATE timesheets SET status = 'SUPERSEDED' WHERE id IN ",
                    );
                    update.push_tuples(chunk, |mut row, id| {
                        row.push_bind(*id);
                    });
                    update.build().execute(&mut *tx).await?;
                }
                tx.commit().await?;
            }
            Self::Postgres(pool) => {
                sqlx::query("UPDATE timesheets SET status = 'SUPERSEDED' WHERE id = ANY($1)")
                    .bind(ids)
                    .execute(pool)
                    .await?;
            }
        }
        Ok(())
    }
}

/// Participants seeded directly, with the ids of their current timesheets.
pub struct Seeded {
    /// Participant ids, in the order of their numbers.
    pub participants: Vec<Uuid>,
}

const AT: &str = "2025-01-01T00:00:00.000000Z";

/// Writes `n` participants of the municipality (which must exist), each with
/// the load generator's programme (from 2020-01-06), a child for every third,
/// and a timesheet for every month of `months` (indices from 2020-01).
pub async fn participants(
    db: &Db,
    municipality: &str,
    n: usize,
    months: std::ops::Range<usize>,
) -> anyhow::Result<Seeded> {
    let mut ids = Vec::with_capacity(n);
    for start in (0..n).step_by(10_000) {
        let end = (start + 10_000).min(n);
        let mut participants = Vec::new();
        let mut children = Vec::new();
        let mut programmes = Vec::new();
        for i in start..end {
            let id = Uuid::now_v7();
            ids.push(id);
            let birth = Date::from_calendar_date(1960 + (i % 40) as i32, Month::March, 14)?;
            participants.push(vec![
                Value::Id(id),
                Value::Text(municipality.to_owned()),
                Value::Bytes(Uuid::new_v4().as_bytes().to_vec()),
                Value::Bytes(Uuid::new_v4().as_bytes().to_vec()),
                Value::Day(birth),
                Value::Text(format!("Load {i}")),
                Value::Instant(AT),
            ]);
            if i % 3 == 0 {
                children.push(vec![
                    Value::Id(Uuid::now_v7()),
                    Value::Id(id),
                    Value::Day(Date::from_calendar_date(2019, Month::May, 1)?),
                ]);
            }
            programmes.push(vec![
                Value::Id(Uuid::now_v7()),
                Value::Id(id),
                Value::Day(Date::from_calendar_date(2020, Month::January, 6)?),
                Value::Null,
                Value::Text(format!("LOAD-{i}")),
                Value::Instant(AT),
            ]);
        }
        db.insert(
            "participants",
            "id, municipality_id, nin_lookup, nin_sealed, birth_date, display_name, created_at",
            &participants,
        )
        .await?;
        db.insert("children", "id, participant_id, birth_date", &children)
            .await?;
        db.insert(
            "programmes",
            "id, participant_id, start_date, end_date, decision_reference, decided_at",
            &programmes,
        )
        .await?;
    }
    let seeded = Seeded { participants: ids };
    for month in months {
        timesheets(db, municipality, &seeded, 0..n, month, false).await?;
    }
    db.analyze().await?;
    Ok(seeded)
}

/// Writes a timesheet of month `month_index` for the participants numbered
/// `which`; with `correct`, each supersedes the participant's timesheet of
/// that month (version 2, another set of entries).
pub async fn timesheets(
    db: &Db,
    municipality: &str,
    seeded: &Seeded,
    which: std::ops::Range<usize>,
    month_index: usize,
    correct: bool,
) -> anyhow::Result<Vec<Uuid>> {
    let (first, last) = month_of(month_index)?;
    let mut written = Vec::new();
    let mut superseded = Vec::new();
    for start in which.clone().step_by(10_000) {
        let end = (start + 10_000).min(which.end);
        let mut timesheets = Vec::new();
        let mut day_entries = Vec::new();
        for i in start..end {
            let participant = seeded.participants[i];
            let id = Uuid::now_v7();
            written.push(id);
            let supersedes = if correct {
                let old = current_timesheet(db, participant, first).await?;
                superseded.push(old);
                Value::Id(old)
            } else {
                Value::Null
            };
            timesheets.push(vec![
                Value::Id(id),
                Value::Id(participant),
                Value::Text(municipality.to_owned()),
                Value::Text(format!(
                    "{:032x}{:032x}",
                    id.as_u128(),
                    Uuid::new_v4().as_u128()
                )),
                Value::Bytes(b"seeded by kvp-load".to_vec()),
                Value::Day(first),
                Value::Day(last),
                Value::Int(if correct { 2 } else { 1 }),
                supersedes,
                Value::Text("ACCEPTED".into()),
                Value::Json("{}".into()),
                Value::Instant(AT),
            ]);
            // A correction shifts the entries by a participant number.
            let pattern = if correct { i + 1 } else { i };
            for (seq, (date, kind, hours)) in entries(pattern, month_index)?.into_iter().enumerate()
            {
                day_entries.push(vec![
                    Value::Id(id),
                    Value::Id(participant),
                    Value::Day(date),
                    Value::Int(i64::try_from(seq)?),
                    Value::Text(kind.to_owned()),
                    Value::Numeric(hours.to_owned()),
                    Value::Null,
                ]);
            }
        }
        if correct {
            db.supersede(&superseded).await?;
            superseded.clear();
        }
        db.insert(
            "timesheets",
            "id, participant_id, municipality_id, digest, envelope, period_from, period_to, \
             version, supersedes, status, assessment, received_at",
            &timesheets,
        )
        .await?;
        db.insert(
            "day_entries",
            "timesheet_id, participant_id, date, seq, kind, hours, note",
            &day_entries,
        )
        .await?;
    }
    Ok(written)
}

/// The participant's accepted timesheet starting on `first`.
async fn current_timesheet(db: &Db, participant: Uuid, first: Date) -> anyhow::Result<Uuid> {
    let id = match db {
        Db::Sqlite(pool) => {
            sqlx::query_scalar(
                "SELECT id FROM timesheets WHERE participant_id = ? AND period_from = ? \
                 AND status = 'ACCEPTED'",
            )
            .bind(participant)
            .bind(first)
            .fetch_optional(pool)
            .await?
        }
        Db::Postgres(pool) => {
            sqlx::query_scalar(
                "SELECT id FROM timesheets WHERE participant_id = $1 AND period_from = $2 \
                 AND status = 'ACCEPTED'",
            )
            .bind(participant)
            .bind(first)
            .fetch_optional(pool)
            .await?
        }
    };
    id.context("the timesheet to correct")
}
