//! The SQLite backend: a single file, the embedded default for one instance.
//!
//! Races are prevented by serialising writers, twice over: in the process, all
//! writes go through a pool of exactly one connection; across processes, every
//! write transaction starts with `BEGIN IMMEDIATE`, which takes SQLite's write
//! lock before the first read, so the checks a transaction makes (digest,
//! superseded status, overlap) still hold when it commits. The file runs in
//! WAL mode, so readers (a separate pool) are never blocked by the writer, and
//! a busy timeout makes a second process wait for the lock instead of failing.

mod rows;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::error::ErrorKind;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use self::rows::{decimal_text, instant_text, instant_text_opt};
use crate::records::{
    AcceptOutcome, AuditEntry, BenefitOffset, Child, DayEntry, Municipality, NewAuditEntry,
    NewTimesheet, Participant, ParticipantFacts, Pause, Programme, ProgrammeWithPauses,
    SanctionDecision, SignerKey, SoleCarerPeriod, Timesheet, TimesheetStatus, check_new_timesheet,
    check_offset, check_range, check_signer_key, group_pauses,
};
use crate::{Backend, Repository, StoreError};

/// How long a writer waits for another process's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Reader connections (WAL lets them read while the writer writes).
const READERS: u32 = 4;

macro_rules! participant_columns {
    () => {
        "id, municipality_id, nin_lookup, nin_sealed, birth_date, display_name, created_at"
    };
}
macro_rules! programme_columns {
    () => {
        "id, participant_id, start_date, end_date, decision_reference, decided_at"
    };
}
macro_rules! signer_key_columns {
    () => {
        "keyid, person_id, participant_id, role, public_key, valid_from, valid_until, \
         revoked_at, revocation_reason, registered_at"
    };
}
macro_rules! timesheet_columns {
    () => {
        "id, participant_id, municipality_id, digest, envelope, period_from, period_to, \
         version, supersedes, status, assessment, received_at"
    };
}
macro_rules! day_entry_columns {
    () => {
        "timesheet_id, participant_id, date, seq, kind, hours, note"
    };
}
macro_rules! decision_columns {
    () => {
        "id, participant_id, date, entry_kind, outcome, decided_at, decided_by, reference, reason"
    };
}

/// A violated constraint, as SQLite reports it: UNIQUE by its columns
/// (`table.a, table.b`), CHECK by its name, FOREIGN KEY without a name.
#[derive(Clone, Copy)]
enum Violation<'a> {
    Unique(&'a str),
    ForeignKey,
    Check(&'a str),
}

/// Turns a database error into the caller's typed error when `map` knows the
/// violated constraint; anything else stays a database error.
fn on_violation(
    err: sqlx::Error,
    map: impl FnOnce(Violation<'_>) -> Option<StoreError>,
) -> StoreError {
    let mapped = err.as_database_error().and_then(|db| {
        let message = db.message();
        let violation = match db.kind() {
            ErrorKind::UniqueViolation => Violation::Unique(
                message
                    .strip_prefix("UNIQUE constraint failed: ")
                    .unwrap_or(message),
            ),
            ErrorKind::ForeignKeyViolation => Violation::ForeignKey,
            ErrorKind::CheckViolation => Violation::Check(
                message
                    .strip_prefix("CHECK constraint failed: ")
                    .unwrap_or(message),
            ),
            _ => return None,
        };
        // A CHECK constraint guards the shape of a record: whatever trips
        // one is bad input, even where the call site has no special word for it.
        map(violation).or_else(|| match violation {
            Violation::Check(name) => Some(StoreError::invalid_input(format!(
                "the record violates {name}"
            ))),
            _ => None,
        })
    });
    mapped.unwrap_or(StoreError::Database(err))
}

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// Exactly one connection: all write transactions queue here.
    writer: SqlitePool,
    /// Connections for reads outside write transactions.
    reader: SqlitePool,
}

impl SqliteStore {
    /// Opens (with `mode=rwc`, creates) the database file of an `sqlite:` URL,
    /// creating its directory if missing, and applies the migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full);

        // An in-memory database lives in its one connection, so there is one
        // pool of one connection that is never closed while the store lives.
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

    /// Starts a write transaction holding SQLite's write lock from its first statement.
    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }
}

async fn insert_audit(
    conn: &mut SqliteConnection,
    audit: &NewAuditEntry,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_entries (id, at, actor, action, subject_type, subject_id, details) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(Uuid::now_v7())
    .bind(instant_text(audit.at)?)
    .bind(&audit.actor)
    .bind(&audit.action)
    .bind(&audit.subject_type)
    .bind(&audit.subject_id)
    .bind(&audit.details)
    .execute(conn)
    .await?;
    Ok(())
}

/// What a foreign-key failure means when the only reference is the participant.
fn participant_missing(id: Uuid) -> impl FnOnce(Violation<'_>) -> Option<StoreError> {
    move |violation| match violation {
        Violation::ForeignKey => Some(StoreError::not_found("participant", id)),
        _ => None,
    }
}

async fn select_participant(
    conn: &mut SqliteConnection,
    id: Uuid,
) -> Result<Participant, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        participant_columns!(),
        " FROM participants WHERE id = ?"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    match row {
        Some(row) => rows::participant(&row),
        None => Err(StoreError::not_found("participant", id)),
    }
}

async fn select_programme(conn: &mut SqliteConnection, id: Uuid) -> Result<Programme, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        programme_columns!(),
        " FROM programmes WHERE id = ?"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    match row {
        Some(row) => rows::programme(&row),
        None => Err(StoreError::not_found("programme", id)),
    }
}

async fn select_signer_key(
    conn: &mut SqliteConnection,
    keyid: &str,
) -> Result<SignerKey, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        signer_key_columns!(),
        " FROM signer_keys WHERE keyid = ?"
    ))
    .bind(keyid)
    .fetch_optional(conn)
    .await?;
    match row {
        Some(row) => rows::signer_key(&row),
        None => Err(StoreError::not_found("signer key", keyid)),
    }
}

async fn select_timesheet_by_digest(
    conn: &mut SqliteConnection,
    digest: &str,
) -> Result<Option<Timesheet>, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        timesheet_columns!(),
        " FROM timesheets WHERE digest = ?"
    ))
    .bind(digest)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(rows::timesheet).transpose()
}

async fn select_children(
    conn: &mut SqliteConnection,
    participant_id: Uuid,
) -> Result<Vec<Child>, StoreError> {
    let found = sqlx::query(
        "SELECT id, participant_id, birth_date FROM children \
         WHERE participant_id = ? ORDER BY birth_date, id",
    )
    .bind(participant_id)
    .fetch_all(conn)
    .await?;
    rows::all(found, rows::child)
}

async fn select_sole_carer_periods(
    conn: &mut SqliteConnection,
    participant_id: Uuid,
) -> Result<Vec<SoleCarerPeriod>, StoreError> {
    let found = sqlx::query(
        "SELECT id, participant_id, from_date, to_date FROM sole_carer_periods \
         WHERE participant_id = ? ORDER BY from_date, id",
    )
    .bind(participant_id)
    .fetch_all(conn)
    .await?;
    rows::all(found, rows::sole_carer_period)
}

async fn select_benefit_offsets(
    conn: &mut SqliteConnection,
    participant_id: Uuid,
) -> Result<Vec<BenefitOffset>, StoreError> {
    let found = sqlx::query(
        "SELECT id, participant_id, month, kind, amount FROM benefit_offsets \
         WHERE participant_id = ? ORDER BY month, kind, id",
    )
    .bind(participant_id)
    .fetch_all(conn)
    .await?;
    rows::all(found, rows::benefit_offset)
}

async fn select_programmes(
    conn: &mut SqliteConnection,
    participant_id: Uuid,
) -> Result<Vec<ProgrammeWithPauses>, StoreError> {
    let programmes = sqlx::query(concat!(
        "SELECT ",
        programme_columns!(),
        " FROM programmes WHERE participant_id = ? ORDER BY start_date, id"
    ))
    .bind(participant_id)
    .fetch_all(&mut *conn)
    .await?;
    let pauses = sqlx::query(
        "SELECT p.id, p.programme_id, p.from_date, p.to_date, p.kind, p.reference \
         FROM programme_pauses p JOIN programmes g ON g.id = p.programme_id \
         WHERE g.participant_id = ? ORDER BY p.from_date, p.id",
    )
    .bind(participant_id)
    .fetch_all(conn)
    .await?;
    Ok(group_pauses(
        rows::all(programmes, rows::programme)?,
        rows::all(pauses, rows::pause)?,
    ))
}

async fn select_decisions(
    conn: &mut SqliteConnection,
    participant_id: Uuid,
) -> Result<Vec<SanctionDecision>, StoreError> {
    let found = sqlx::query(concat!(
        "SELECT ",
        decision_columns!(),
        " FROM sanction_decisions WHERE participant_id = ? ORDER BY date, entry_kind"
    ))
    .bind(participant_id)
    .fetch_all(conn)
    .await?;
    rows::all(found, rows::sanction_decision)
}

#[async_trait]
impl Repository for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }

    async fn upsert_municipality(
        &self,
        municipality: &Municipality,
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO municipalities (id, name, policy_overrides, pay_codes) \
             VALUES (?, ?, ?, ?) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, \
             policy_overrides = excluded.policy_overrides, pay_codes = excluded.pay_codes",
        )
        .bind(&municipality.id)
        .bind(&municipality.name)
        .bind(&municipality.policy_overrides)
        .bind(&municipality.pay_codes)
        .execute(&mut *tx)
        .await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_municipality(&self, id: &str) -> Result<Municipality, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, policy_overrides, pay_codes FROM municipalities WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.reader)
        .await?;
        match row {
            Some(row) => rows::municipality(&row),
            None => Err(StoreError::not_found("municipality", id)),
        }
    }

    async fn list_municipalities(&self) -> Result<Vec<Municipality>, StoreError> {
        let found = sqlx::query(
            "SELECT id, name, policy_overrides, pay_codes FROM municipalities ORDER BY id",
        )
        .fetch_all(&self.reader)
        .await?;
        rows::all(found, rows::municipality)
    }

    async fn create_participant(
        &self,
        participant: &Participant,
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(concat!(
            "INSERT INTO participants (",
            participant_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(participant.id)
        .bind(&participant.municipality_id)
        .bind(&participant.nin_lookup)
        .bind(&participant.nin_sealed)
        .bind(participant.birth_date)
        .bind(&participant.display_name)
        .bind(instant_text(participant.created_at)?)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::Unique("participants.municipality_id, participants.nin_lookup") => {
                    Some(StoreError::conflict(
                        "a participant with this identity number exists in the municipality",
                    ))
                }
                Violation::Unique("participants.id") => {
                    Some(StoreError::conflict("the participant id is taken"))
                }
                Violation::ForeignKey => Some(StoreError::not_found(
                    "municipality",
                    &participant.municipality_id,
                )),
                _ => None,
            })
        })?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_participant(&self, id: Uuid) -> Result<Participant, StoreError> {
        let mut conn = self.reader.acquire().await?;
        select_participant(&mut conn, id).await
    }

    async fn find_participant_by_nin(
        &self,
        municipality_id: &str,
        nin_lookup: &[u8],
    ) -> Result<Option<Participant>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            participant_columns!(),
            " FROM participants WHERE municipality_id = ? AND nin_lookup = ?"
        ))
        .bind(municipality_id)
        .bind(nin_lookup)
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(rows::participant).transpose()
    }

    async fn list_participants(
        &self,
        municipality_id: &str,
    ) -> Result<Vec<Participant>, StoreError> {
        let found = sqlx::query(concat!(
            "SELECT ",
            participant_columns!(),
            " FROM participants WHERE municipality_id = ? ORDER BY created_at, id"
        ))
        .bind(municipality_id)
        .fetch_all(&self.reader)
        .await?;
        rows::all(found, rows::participant)
    }

    async fn add_child(&self, child: &Child, audit: &NewAuditEntry) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO children (id, participant_id, birth_date) VALUES (?, ?, ?)")
            .bind(child.id)
            .bind(child.participant_id)
            .bind(child.birth_date)
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                on_violation(e, |violation| match violation {
                    Violation::Unique("children.id") => {
                        Some(StoreError::conflict("the child id is taken"))
                    }
                    other => participant_missing(child.participant_id)(other),
                })
            })?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_children(&self, participant_id: Uuid) -> Result<Vec<Child>, StoreError> {
        let mut conn = self.reader.acquire().await?;
        select_children(&mut conn, participant_id).await
    }

    async fn add_sole_carer_period(
        &self,
        period: &SoleCarerPeriod,
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError> {
        check_range("sole-carer period", period.from, period.to)?;
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO sole_carer_periods (id, participant_id, from_date, to_date) \
             VALUES (?, ?, ?, ?)",
        )
        .bind(period.id)
        .bind(period.participant_id)
        .bind(period.from)
        .bind(period.to)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::Unique("sole_carer_periods.id") => {
                    Some(StoreError::conflict("the sole-carer period id is taken"))
                }
                other => participant_missing(period.participant_id)(other),
            })
        })?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_sole_carer_periods(
        &self,
        participant_id: Uuid,
    ) -> Result<Vec<SoleCarerPeriod>, StoreError> {
        let mut conn = self.reader.acquire().await?;
        select_sole_carer_periods(&mut conn, participant_id).await
    }

    async fn add_benefit_offset(
        &self,
        offset: &BenefitOffset,
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError> {
        check_offset(offset)?;
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO benefit_offsets (id, participant_id, month, kind, amount) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(offset.id)
        .bind(offset.participant_id)
        .bind(offset.month)
        .bind(&offset.kind)
        .bind(decimal_text(offset.amount))
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::Unique("benefit_offsets.id") => {
                    Some(StoreError::conflict("the offset id is taken"))
                }
                other => participant_missing(offset.participant_id)(other),
            })
        })?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_benefit_offsets(
        &self,
        participant_id: Uuid,
    ) -> Result<Vec<BenefitOffset>, StoreError> {
        let mut conn = self.reader.acquire().await?;
        select_benefit_offsets(&mut conn, participant_id).await
    }

    async fn create_programme(
        &self,
        programme: &Programme,
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError> {
        check_range("programme", programme.start, programme.end)?;
        let mut tx = self.begin_write().await?;
        sqlx::query(concat!(
            "INSERT INTO programmes (",
            programme_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?)"
        ))
        .bind(programme.id)
        .bind(programme.participant_id)
        .bind(programme.start)
        .bind(programme.end)
        .bind(&programme.decision_reference)
        .bind(instant_text(programme.decided_at)?)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::Unique("programmes.id") => {
                    Some(StoreError::conflict("the programme id is taken"))
                }
                other => participant_missing(programme.participant_id)(other),
            })
        })?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn set_programme_end(
        &self,
        programme_id: Uuid,
        end: Option<Date>,
        audit: &NewAuditEntry,
    ) -> Result<Programme, StoreError> {
        let mut tx = self.begin_write().await?;
        let mut programme = select_programme(&mut tx, programme_id).await?;
        check_range("programme", programme.start, end)?;
        sqlx::query("UPDATE programmes SET end_date = ? WHERE id = ?")
            .bind(end)
            .bind(programme_id)
            .execute(&mut *tx)
            .await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        programme.end = end;
        Ok(programme)
    }

    async fn add_pause(&self, pause: &Pause, audit: &NewAuditEntry) -> Result<(), StoreError> {
        check_range("pause", pause.from, pause.to)?;
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO programme_pauses (id, programme_id, from_date, to_date, kind, reference) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(pause.id)
        .bind(pause.programme_id)
        .bind(pause.from)
        .bind(pause.to)
        .bind(pause.kind.as_str())
        .bind(&pause.reference)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::Unique("programme_pauses.id") => {
                    Some(StoreError::conflict("the pause id is taken"))
                }
                Violation::ForeignKey => {
                    Some(StoreError::not_found("programme", pause.programme_id))
                }
                _ => None,
            })
        })?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_programmes(
        &self,
        participant_id: Uuid,
    ) -> Result<Vec<ProgrammeWithPauses>, StoreError> {
        // One snapshot, so that no pause is read without its programme.
        let mut tx = self.reader.begin().await?;
        let programmes = select_programmes(&mut tx, participant_id).await?;
        tx.commit().await?;
        Ok(programmes)
    }

    async fn register_signer_key(
        &self,
        key: &SignerKey,
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError> {
        check_signer_key(key)?;
        let mut tx = self.begin_write().await?;
        sqlx::query(concat!(
            "INSERT INTO signer_keys (",
            signer_key_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(&key.keyid)
        .bind(&key.person_id)
        .bind(key.participant_id)
        .bind(key.role.as_str())
        .bind(&key.public_key)
        .bind(instant_text(key.valid_from)?)
        .bind(instant_text_opt(key.valid_until)?)
        .bind(instant_text_opt(key.revoked_at)?)
        .bind(&key.revocation_reason)
        .bind(instant_text(key.registered_at)?)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::Unique("signer_keys.keyid") => Some(StoreError::conflict(format!(
                    "signer key {} is registered already",
                    key.keyid
                ))),
                Violation::ForeignKey => key
                    .participant_id
                    .map(|id| StoreError::not_found("participant", id)),
                _ => None,
            })
        })?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_signer_key(&self, keyid: &str) -> Result<SignerKey, StoreError> {
        let mut conn = self.reader.acquire().await?;
        select_signer_key(&mut conn, keyid).await
    }

    async fn list_signer_keys(&self) -> Result<Vec<SignerKey>, StoreError> {
        let found = sqlx::query(concat!(
            "SELECT ",
            signer_key_columns!(),
            " FROM signer_keys ORDER BY registered_at, keyid"
        ))
        .fetch_all(&self.reader)
        .await?;
        rows::all(found, rows::signer_key)
    }

    async fn revoke_signer_key(
        &self,
        keyid: &str,
        revoked_at: OffsetDateTime,
        reason: &str,
        audit: &NewAuditEntry,
    ) -> Result<SignerKey, StoreError> {
        let mut tx = self.begin_write().await?;
        let mut key = select_signer_key(&mut tx, keyid).await?;
        if key.revoked_at.is_some() {
            return Err(StoreError::invalid_state(format!(
                "signer key {keyid} is revoked already"
            )));
        }
        sqlx::query(
            "UPDATE signer_keys SET revoked_at = ?, revocation_reason = ? \
             WHERE keyid = ? AND revoked_at IS NULL",
        )
        .bind(instant_text(revoked_at)?)
        .bind(reason)
        .bind(keyid)
        .execute(&mut *tx)
        .await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        key.revoked_at = Some(revoked_at);
        key.revocation_reason = Some(reason.to_owned());
        Ok(key)
    }

    async fn accept_timesheet(&self, new: &NewTimesheet) -> Result<AcceptOutcome, StoreError> {
        check_new_timesheet(new)?;
        let ts = &new.timesheet;
        // BEGIN IMMEDIATE: from here on no other writer runs until commit or
        // rollback, so what is checked below is what is committed against.
        let mut tx = self.begin_write().await?;

        if let Some(stored) = select_timesheet_by_digest(&mut tx, &ts.digest).await? {
            tx.rollback().await?;
            return Ok(AcceptOutcome::Duplicate(stored));
        }

        let municipality: Option<String> =
            sqlx::query_scalar("SELECT municipality_id FROM participants WHERE id = ?")
                .bind(ts.participant_id)
                .fetch_optional(&mut *tx)
                .await?;
        match municipality {
            None => return Err(StoreError::not_found("participant", ts.participant_id)),
            Some(m) if m != ts.municipality_id => {
                return Err(StoreError::invalid_input(
                    "the timesheet's municipality is not the participant's",
                ));
            }
            Some(_) => {}
        }

        if let Some(superseded) = ts.supersedes {
            let row =
                sqlx::query("SELECT participant_id, status, version FROM timesheets WHERE id = ?")
                    .bind(superseded)
                    .fetch_optional(&mut *tx)
                    .await?;
            let Some(row) = row else {
                return Err(StoreError::not_found("timesheet", superseded));
            };
            let owner: Uuid = row.try_get("participant_id")?;
            let status: String = row.try_get("status")?;
            let version: i32 = row.try_get("version")?;
            if owner != ts.participant_id {
                return Err(StoreError::invalid_state(
                    "the superseded timesheet belongs to another participant",
                ));
            }
            if status != TimesheetStatus::Accepted.as_str() {
                return Err(StoreError::invalid_state(format!(
                    "timesheet {superseded} is superseded already"
                )));
            }
            if ts.version != version + 1 {
                return Err(StoreError::invalid_input(format!(
                    "a correction of version {version} must have version {}",
                    version + 1
                )));
            }
            sqlx::query("UPDATE timesheets SET status = 'SUPERSEDED' WHERE id = ?")
                .bind(superseded)
                .execute(&mut *tx)
                .await?;
        }

        // The superseded timesheet is no longer ACCEPTED, so it does not count.
        let overlapping: Option<Uuid> = sqlx::query_scalar(
            "SELECT id FROM timesheets \
             WHERE participant_id = ? AND status = 'ACCEPTED' \
             AND period_from <= ? AND period_to >= ? \
             ORDER BY period_from LIMIT 1",
        )
        .bind(ts.participant_id)
        .bind(ts.period_to)
        .bind(ts.period_from)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(existing) = overlapping {
            tracing::debug!(timesheet_id = %ts.id, %existing, "timesheet overlaps an accepted one");
            return Err(StoreError::Overlap { existing });
        }

        sqlx::query(concat!(
            "INSERT INTO timesheets (",
            timesheet_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(ts.id)
        .bind(ts.participant_id)
        .bind(&ts.municipality_id)
        .bind(&ts.digest)
        .bind(&ts.envelope)
        .bind(ts.period_from)
        .bind(ts.period_to)
        .bind(ts.version)
        .bind(ts.supersedes)
        .bind(ts.status.as_str())
        .bind(&ts.assessment)
        .bind(instant_text(ts.received_at)?)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::Unique("timesheets.id") => {
                    Some(StoreError::conflict("the timesheet id is taken"))
                }
                Violation::Unique("timesheets.digest") => Some(StoreError::conflict(
                    "a timesheet with this digest is stored already",
                )),
                Violation::ForeignKey => {
                    Some(StoreError::not_found("municipality", &ts.municipality_id))
                }
                _ => None,
            })
        })?;

        for entry in &new.entries {
            sqlx::query(concat!(
                "INSERT INTO day_entries (",
                day_entry_columns!(),
                ") VALUES (?, ?, ?, ?, ?, ?, ?)"
            ))
            .bind(entry.timesheet_id)
            .bind(entry.participant_id)
            .bind(entry.date)
            .bind(entry.seq)
            .bind(&entry.kind)
            .bind(decimal_text(entry.hours))
            .bind(&entry.note)
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                on_violation(e, |violation| match violation {
                    Violation::Unique(_) => Some(StoreError::invalid_input(format!(
                        "two day entries of {} have position {}",
                        entry.date, entry.seq
                    ))),
                    _ => None,
                })
            })?;
        }

        insert_audit(&mut tx, &new.audit).await?;
        tx.commit().await?;
        Ok(AcceptOutcome::Accepted(ts.clone()))
    }

    async fn get_timesheet(&self, id: Uuid) -> Result<Timesheet, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            timesheet_columns!(),
            " FROM timesheets WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(&self.reader)
        .await?;
        match row {
            Some(row) => rows::timesheet(&row),
            None => Err(StoreError::not_found("timesheet", id)),
        }
    }

    async fn find_timesheet_by_digest(
        &self,
        digest: &str,
    ) -> Result<Option<Timesheet>, StoreError> {
        let mut conn = self.reader.acquire().await?;
        select_timesheet_by_digest(&mut conn, digest).await
    }

    async fn list_current_timesheets(
        &self,
        participant_id: Uuid,
    ) -> Result<Vec<Timesheet>, StoreError> {
        let found = sqlx::query(concat!(
            "SELECT ",
            timesheet_columns!(),
            " FROM timesheets WHERE participant_id = ? AND status = 'ACCEPTED' \
             ORDER BY period_from"
        ))
        .bind(participant_id)
        .fetch_all(&self.reader)
        .await?;
        rows::all(found, rows::timesheet)
    }

    async fn list_day_entries(&self, timesheet_id: Uuid) -> Result<Vec<DayEntry>, StoreError> {
        let found = sqlx::query(concat!(
            "SELECT ",
            day_entry_columns!(),
            " FROM day_entries WHERE timesheet_id = ? ORDER BY date, seq"
        ))
        .bind(timesheet_id)
        .fetch_all(&self.reader)
        .await?;
        rows::all(found, rows::day_entry)
    }

    async fn record_decision(
        &self,
        decision: &SanctionDecision,
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(concat!(
            "INSERT INTO sanction_decisions (",
            decision_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(decision.id)
        .bind(decision.participant_id)
        .bind(decision.date)
        .bind(&decision.entry_kind)
        .bind(decision.outcome.as_str())
        .bind(instant_text(decision.decided_at)?)
        .bind(&decision.decided_by)
        .bind(&decision.reference)
        .bind(&decision.reason)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::Unique(
                    "sanction_decisions.participant_id, sanction_decisions.date, \
                     sanction_decisions.entry_kind",
                ) => Some(StoreError::conflict(
                    "a decision on this day and entry kind exists",
                )),
                Violation::Unique("sanction_decisions.id") => {
                    Some(StoreError::conflict("the decision id is taken"))
                }
                other => participant_missing(decision.participant_id)(other),
            })
        })?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_decisions(
        &self,
        participant_id: Uuid,
    ) -> Result<Vec<SanctionDecision>, StoreError> {
        let mut conn = self.reader.acquire().await?;
        select_decisions(&mut conn, participant_id).await
    }

    async fn list_audit(
        &self,
        subject_type: &str,
        subject_id: &str,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let found = sqlx::query(
            "SELECT id, at, actor, action, subject_type, subject_id, details \
             FROM audit_entries WHERE subject_type = ? AND subject_id = ? ORDER BY seq",
        )
        .bind(subject_type)
        .bind(subject_id)
        .fetch_all(&self.reader)
        .await?;
        rows::all(found, rows::audit_entry)
    }

    async fn participant_facts(
        &self,
        participant_id: Uuid,
    ) -> Result<ParticipantFacts, StoreError> {
        // A deferred read transaction in WAL mode reads one snapshot throughout.
        let mut tx = self.reader.begin().await?;
        let participant = select_participant(&mut tx, participant_id).await?;
        let children = select_children(&mut tx, participant_id).await?;
        let sole_carer_periods = select_sole_carer_periods(&mut tx, participant_id).await?;
        let offsets = select_benefit_offsets(&mut tx, participant_id).await?;
        let programmes = select_programmes(&mut tx, participant_id).await?;
        let timesheets = sqlx::query(
            "SELECT id, period_from, period_to, version FROM timesheets \
             WHERE participant_id = ? AND status = 'ACCEPTED' ORDER BY period_from",
        )
        .bind(participant_id)
        .fetch_all(&mut *tx)
        .await?;
        let entries = sqlx::query(
            "SELECT e.timesheet_id, e.participant_id, e.date, e.seq, e.kind, e.hours, e.note \
             FROM day_entries e JOIN timesheets t ON t.id = e.timesheet_id \
             WHERE e.participant_id = ? AND t.status = 'ACCEPTED' ORDER BY e.date, e.seq",
        )
        .bind(participant_id)
        .fetch_all(&mut *tx)
        .await?;
        let decisions = select_decisions(&mut tx, participant_id).await?;
        tx.commit().await?;
        Ok(ParticipantFacts {
            participant,
            children,
            sole_carer_periods,
            offsets,
            programmes,
            timesheets: rows::all(timesheets, rows::timesheet_period)?,
            entries: rows::all(entries, rows::day_entry)?,
            decisions,
        })
    }
}
