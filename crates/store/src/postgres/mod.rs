//! The PostgreSQL backend, for deployments with several instances.
//!
//! Races are prevented inside the database, so that they are prevented across
//! instances too: a timesheet is accepted in a transaction that first locks
//! the participant's row (`SELECT … FOR UPDATE`), so concurrent submissions
//! for one participant run one after the other and each sees what the one
//! before committed (READ COMMITTED takes a fresh snapshot per statement).
//! Rows that a transaction reads and then changes (a key being revoked, a
//! programme being ended) are locked the same way. Unique constraints (digest,
//! superseded timesheet, one decision per day and kind) are the last line.
//! Constraint names are those of `migrations/postgres` and are mapped to typed
//! errors where each statement runs.

mod rows;

use std::time::Duration;

use async_trait::async_trait;
use sqlx::Row;
use sqlx::error::ErrorKind;
use sqlx::postgres::{PgConnection, PgPool, PgPoolOptions};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::records::{
    AcceptOutcome, AuditEntry, BenefitOffset, Child, DayEntry, Municipality, NewAuditEntry,
    NewTimesheet, Participant, ParticipantFacts, Pause, Programme, ProgrammeWithPauses,
    SanctionDecision, SignerKey, SoleCarerPeriod, Timesheet, TimesheetStatus, check_new_timesheet,
    check_offset, check_range, check_signer_key, group_pauses,
};
use crate::{Backend, Repository, StoreError};

/// Connections per instance.
const MAX_CONNECTIONS: u32 = 10;
/// How long a call waits for a free connection (or the first connection) before failing.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

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

/// A violated constraint, by the name PostgreSQL reports.
#[derive(Clone, Copy)]
enum Violation<'a> {
    Unique(&'a str),
    ForeignKey(&'a str),
    Check(&'a str),
}

/// Turns a database error into the caller's typed error when `map` knows the
/// violated constraint; anything else stays a database error.
fn on_violation(
    err: sqlx::Error,
    map: impl FnOnce(Violation<'_>) -> Option<StoreError>,
) -> StoreError {
    let mapped = err.as_database_error().and_then(|db| {
        let constraint = db.constraint().unwrap_or("");
        let violation = match db.kind() {
            ErrorKind::UniqueViolation => Violation::Unique(constraint),
            ErrorKind::ForeignKeyViolation => Violation::ForeignKey(constraint),
            ErrorKind::CheckViolation => Violation::Check(constraint),
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

/// The PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to the database of a `postgres:` URL and applies the migrations
    /// (sqlx takes an advisory lock, so instances starting together apply them once).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(url)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(Self { pool })
    }
}

async fn insert_audit(conn: &mut PgConnection, audit: &NewAuditEntry) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_entries (id, at, actor, action, subject_type, subject_id, details) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(Uuid::now_v7())
    .bind(audit.at)
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
        Violation::ForeignKey(_) => Some(StoreError::not_found("participant", id)),
        _ => None,
    }
}

async fn select_participant(conn: &mut PgConnection, id: Uuid) -> Result<Participant, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        participant_columns!(),
        " FROM participants WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    match row {
        Some(row) => rows::participant(&row),
        None => Err(StoreError::not_found("participant", id)),
    }
}

async fn select_programme(conn: &mut PgConnection, id: Uuid) -> Result<Programme, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        programme_columns!(),
        " FROM programmes WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    match row {
        Some(row) => rows::programme(&row),
        None => Err(StoreError::not_found("programme", id)),
    }
}

async fn select_signer_key(conn: &mut PgConnection, keyid: &str) -> Result<SignerKey, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        signer_key_columns!(),
        " FROM signer_keys WHERE keyid = $1"
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
    conn: &mut PgConnection,
    digest: &str,
) -> Result<Option<Timesheet>, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        timesheet_columns!(),
        " FROM timesheets WHERE digest = $1"
    ))
    .bind(digest)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(rows::timesheet).transpose()
}

async fn select_children(
    conn: &mut PgConnection,
    participant_id: Uuid,
) -> Result<Vec<Child>, StoreError> {
    let found = sqlx::query(
        "SELECT id, participant_id, birth_date FROM children \
         WHERE participant_id = $1 ORDER BY birth_date, id",
    )
    .bind(participant_id)
    .fetch_all(conn)
    .await?;
    rows::all(found, rows::child)
}

async fn select_sole_carer_periods(
    conn: &mut PgConnection,
    participant_id: Uuid,
) -> Result<Vec<SoleCarerPeriod>, StoreError> {
    let found = sqlx::query(
        "SELECT id, participant_id, from_date, to_date FROM sole_carer_periods \
         WHERE participant_id = $1 ORDER BY from_date, id",
    )
    .bind(participant_id)
    .fetch_all(conn)
    .await?;
    rows::all(found, rows::sole_carer_period)
}

async fn select_benefit_offsets(
    conn: &mut PgConnection,
    participant_id: Uuid,
) -> Result<Vec<BenefitOffset>, StoreError> {
    let found = sqlx::query(
        "SELECT id, participant_id, month, kind, amount FROM benefit_offsets \
         WHERE participant_id = $1 ORDER BY month, kind, id",
    )
    .bind(participant_id)
    .fetch_all(conn)
    .await?;
    rows::all(found, rows::benefit_offset)
}

async fn select_programmes(
    conn: &mut PgConnection,
    participant_id: Uuid,
) -> Result<Vec<ProgrammeWithPauses>, StoreError> {
    let programmes = sqlx::query(concat!(
        "SELECT ",
        programme_columns!(),
        " FROM programmes WHERE participant_id = $1 ORDER BY start_date, id"
    ))
    .bind(participant_id)
    .fetch_all(&mut *conn)
    .await?;
    let pauses = sqlx::query(
        "SELECT p.id, p.programme_id, p.from_date, p.to_date, p.kind, p.reference \
         FROM programme_pauses p JOIN programmes g ON g.id = p.programme_id \
         WHERE g.participant_id = $1 ORDER BY p.from_date, p.id",
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
    conn: &mut PgConnection,
    participant_id: Uuid,
) -> Result<Vec<SanctionDecision>, StoreError> {
    let found = sqlx::query(concat!(
        "SELECT ",
        decision_columns!(),
        " FROM sanction_decisions WHERE participant_id = $1 ORDER BY date, entry_kind"
    ))
    .bind(participant_id)
    .fetch_all(conn)
    .await?;
    rows::all(found, rows::sanction_decision)
}

#[async_trait]
impl Repository for PostgresStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    async fn upsert_municipality(
        &self,
        municipality: &Municipality,
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO municipalities (id, name, policy_overrides, pay_codes) \
             VALUES ($1, $2, $3, $4) \
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
            "SELECT id, name, policy_overrides, pay_codes FROM municipalities WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
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
        .fetch_all(&self.pool)
        .await?;
        rows::all(found, rows::municipality)
    }

    async fn create_participant(
        &self,
        participant: &Participant,
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(concat!(
            "INSERT INTO participants (",
            participant_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ))
        .bind(participant.id)
        .bind(&participant.municipality_id)
        .bind(&participant.nin_lookup)
        .bind(&participant.nin_sealed)
        .bind(participant.birth_date)
        .bind(&participant.display_name)
        .bind(participant.created_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::Unique("participants_nin_lookup_key") => Some(StoreError::conflict(
                    "a participant with this identity number exists in the municipality",
                )),
                Violation::Unique("participants_pkey") => {
                    Some(StoreError::conflict("the participant id is taken"))
                }
                Violation::ForeignKey("participants_municipality_fkey") => Some(
                    StoreError::not_found("municipality", &participant.municipality_id),
                ),
                _ => None,
            })
        })?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_participant(&self, id: Uuid) -> Result<Participant, StoreError> {
        let mut conn = self.pool.acquire().await?;
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
            " FROM participants WHERE municipality_id = $1 AND nin_lookup = $2"
        ))
        .bind(municipality_id)
        .bind(nin_lookup)
        .fetch_optional(&self.pool)
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
            " FROM participants WHERE municipality_id = $1 ORDER BY created_at, id"
        ))
        .bind(municipality_id)
        .fetch_all(&self.pool)
        .await?;
        rows::all(found, rows::participant)
    }

    async fn add_child(&self, child: &Child, audit: &NewAuditEntry) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO children (id, participant_id, birth_date) VALUES ($1, $2, $3)")
            .bind(child.id)
            .bind(child.participant_id)
            .bind(child.birth_date)
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                on_violation(e, |violation| match violation {
                    Violation::Unique("children_pkey") => {
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
        let mut conn = self.pool.acquire().await?;
        select_children(&mut conn, participant_id).await
    }

    async fn add_sole_carer_period(
        &self,
        period: &SoleCarerPeriod,
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError> {
        check_range("sole-carer period", period.from, period.to)?;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO sole_carer_periods (id, participant_id, from_date, to_date) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(period.id)
        .bind(period.participant_id)
        .bind(period.from)
        .bind(period.to)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::Unique("sole_carer_periods_pkey") => {
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
        let mut conn = self.pool.acquire().await?;
        select_sole_carer_periods(&mut conn, participant_id).await
    }

    async fn add_benefit_offset(
        &self,
        offset: &BenefitOffset,
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError> {
        check_offset(offset)?;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO benefit_offsets (id, participant_id, month, kind, amount) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(offset.id)
        .bind(offset.participant_id)
        .bind(offset.month)
        .bind(&offset.kind)
        .bind(offset.amount)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::Unique("benefit_offsets_pkey") => {
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
        let mut conn = self.pool.acquire().await?;
        select_benefit_offsets(&mut conn, participant_id).await
    }

    async fn create_programme(
        &self,
        programme: &Programme,
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError> {
        check_range("programme", programme.start, programme.end)?;
        let mut tx = self.pool.begin().await?;
        sqlx::query(concat!(
            "INSERT INTO programmes (",
            programme_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .bind(programme.id)
        .bind(programme.participant_id)
        .bind(programme.start)
        .bind(programme.end)
        .bind(&programme.decision_reference)
        .bind(programme.decided_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::Unique("programmes_pkey") => {
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
        let mut tx = self.pool.begin().await?;
        // Lock the programme so that a concurrent change waits for this one.
        sqlx::query("SELECT 1 FROM programmes WHERE id = $1 FOR UPDATE")
            .bind(programme_id)
            .execute(&mut *tx)
            .await?;
        let mut programme = select_programme(&mut tx, programme_id).await?;
        check_range("programme", programme.start, end)?;
        sqlx::query("UPDATE programmes SET end_date = $1 WHERE id = $2")
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
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO programme_pauses (id, programme_id, from_date, to_date, kind, reference) \
             VALUES ($1, $2, $3, $4, $5, $6)",
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
                Violation::Unique("programme_pauses_pkey") => {
                    Some(StoreError::conflict("the pause id is taken"))
                }
                Violation::ForeignKey("programme_pauses_programme_fkey") => {
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
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await?;
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
        let mut tx = self.pool.begin().await?;
        sqlx::query(concat!(
            "INSERT INTO signer_keys (",
            signer_key_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(&key.keyid)
        .bind(&key.person_id)
        .bind(key.participant_id)
        .bind(key.role.as_str())
        .bind(&key.public_key)
        .bind(key.valid_from)
        .bind(key.valid_until)
        .bind(key.revoked_at)
        .bind(&key.revocation_reason)
        .bind(key.registered_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::Unique("signer_keys_pkey") => Some(StoreError::conflict(format!(
                    "signer key {} is registered already",
                    key.keyid
                ))),
                Violation::ForeignKey("signer_keys_participant_fkey") => key
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
        let mut conn = self.pool.acquire().await?;
        select_signer_key(&mut conn, keyid).await
    }

    async fn list_signer_keys(&self) -> Result<Vec<SignerKey>, StoreError> {
        let found = sqlx::query(concat!(
            "SELECT ",
            signer_key_columns!(),
            " FROM signer_keys ORDER BY registered_at, keyid"
        ))
        .fetch_all(&self.pool)
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
        let mut tx = self.pool.begin().await?;
        // Lock the key so that a concurrent revocation waits and then sees this one.
        sqlx::query("SELECT 1 FROM signer_keys WHERE keyid = $1 FOR UPDATE")
            .bind(keyid)
            .execute(&mut *tx)
            .await?;
        let mut key = select_signer_key(&mut tx, keyid).await?;
        if key.revoked_at.is_some() {
            return Err(StoreError::invalid_state(format!(
                "signer key {keyid} is revoked already"
            )));
        }
        sqlx::query(
            "UPDATE signer_keys SET revoked_at = $1, revocation_reason = $2 \
             WHERE keyid = $3 AND revoked_at IS NULL",
        )
        .bind(revoked_at)
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
        let mut tx = self.pool.begin().await?;

        // Lock the participant: concurrent accepts for them queue here, and
        // each one's checks below see what the ones before it committed.
        let municipality: Option<String> =
            sqlx::query_scalar("SELECT municipality_id FROM participants WHERE id = $1 FOR UPDATE")
                .bind(ts.participant_id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(municipality) = municipality else {
            return Err(StoreError::not_found("participant", ts.participant_id));
        };

        if let Some(stored) = select_timesheet_by_digest(&mut tx, &ts.digest).await? {
            tx.rollback().await?;
            return Ok(AcceptOutcome::Duplicate(stored));
        }

        if municipality != ts.municipality_id {
            return Err(StoreError::invalid_input(
                "the timesheet's municipality is not the participant's",
            ));
        }

        if let Some(superseded) = ts.supersedes {
            let row = sqlx::query(
                "SELECT participant_id, status, version FROM timesheets WHERE id = $1 FOR UPDATE",
            )
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
            sqlx::query("UPDATE timesheets SET status = 'SUPERSEDED' WHERE id = $1")
                .bind(superseded)
                .execute(&mut *tx)
                .await?;
        }

        // The superseded timesheet is no longer ACCEPTED, so it does not count.
        let overlapping: Option<Uuid> = sqlx::query_scalar(
            "SELECT id FROM timesheets \
             WHERE participant_id = $1 AND status = 'ACCEPTED' \
             AND period_from <= $2 AND period_to >= $3 \
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
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
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
        .bind(ts.received_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::Unique("timesheets_pkey") => {
                    Some(StoreError::conflict("the timesheet id is taken"))
                }
                Violation::Unique("timesheets_digest_key") => Some(StoreError::conflict(
                    "a timesheet with this digest is stored already",
                )),
                Violation::ForeignKey("timesheets_municipality_fkey") => {
                    Some(StoreError::not_found("municipality", &ts.municipality_id))
                }
                _ => None,
            })
        })?;

        for entry in &new.entries {
            sqlx::query(concat!(
                "INSERT INTO day_entries (",
                day_entry_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7)"
            ))
            .bind(entry.timesheet_id)
            .bind(entry.participant_id)
            .bind(entry.date)
            .bind(entry.seq)
            .bind(&entry.kind)
            .bind(entry.hours)
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
            " FROM timesheets WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
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
        let mut conn = self.pool.acquire().await?;
        select_timesheet_by_digest(&mut conn, digest).await
    }

    async fn list_current_timesheets(
        &self,
        participant_id: Uuid,
    ) -> Result<Vec<Timesheet>, StoreError> {
        let found = sqlx::query(concat!(
            "SELECT ",
            timesheet_columns!(),
            " FROM timesheets WHERE participant_id = $1 AND status = 'ACCEPTED' \
             ORDER BY period_from"
        ))
        .bind(participant_id)
        .fetch_all(&self.pool)
        .await?;
        rows::all(found, rows::timesheet)
    }

    async fn list_day_entries(&self, timesheet_id: Uuid) -> Result<Vec<DayEntry>, StoreError> {
        let found = sqlx::query(concat!(
            "SELECT ",
            day_entry_columns!(),
            " FROM day_entries WHERE timesheet_id = $1 ORDER BY date, seq"
        ))
        .bind(timesheet_id)
        .fetch_all(&self.pool)
        .await?;
        rows::all(found, rows::day_entry)
    }

    async fn record_decision(
        &self,
        decision: &SanctionDecision,
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(concat!(
            "INSERT INTO sanction_decisions (",
            decision_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(decision.id)
        .bind(decision.participant_id)
        .bind(decision.date)
        .bind(&decision.entry_kind)
        .bind(decision.outcome.as_str())
        .bind(decision.decided_at)
        .bind(&decision.decided_by)
        .bind(&decision.reference)
        .bind(&decision.reason)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::Unique("sanction_decisions_day_key") => Some(StoreError::conflict(
                    "a decision on this day and entry kind exists",
                )),
                Violation::Unique("sanction_decisions_pkey") => {
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
        let mut conn = self.pool.acquire().await?;
        select_decisions(&mut conn, participant_id).await
    }

    async fn list_audit(
        &self,
        subject_type: &str,
        subject_id: &str,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let found = sqlx::query(
            "SELECT id, at, actor, action, subject_type, subject_id, details \
             FROM audit_entries WHERE subject_type = $1 AND subject_id = $2 ORDER BY seq",
        )
        .bind(subject_type)
        .bind(subject_id)
        .fetch_all(&self.pool)
        .await?;
        rows::all(found, rows::audit_entry)
    }

    async fn participant_facts(
        &self,
        participant_id: Uuid,
    ) -> Result<ParticipantFacts, StoreError> {
        // One snapshot for every query: the facts agree with each other.
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await?;
        let participant = select_participant(&mut tx, participant_id).await?;
        let children = select_children(&mut tx, participant_id).await?;
        let sole_carer_periods = select_sole_carer_periods(&mut tx, participant_id).await?;
        let offsets = select_benefit_offsets(&mut tx, participant_id).await?;
        let programmes = select_programmes(&mut tx, participant_id).await?;
        let timesheets = sqlx::query(
            "SELECT id, period_from, period_to, version FROM timesheets \
             WHERE participant_id = $1 AND status = 'ACCEPTED' ORDER BY period_from",
        )
        .bind(participant_id)
        .fetch_all(&mut *tx)
        .await?;
        let entries = sqlx::query(
            "SELECT e.timesheet_id, e.participant_id, e.date, e.seq, e.kind, e.hours, e.note \
             FROM day_entries e JOIN timesheets t ON t.id = e.timesheet_id \
             WHERE e.participant_id = $1 AND t.status = 'ACCEPTED' ORDER BY e.date, e.seq",
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
