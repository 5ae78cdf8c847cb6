//! Municipalities, participants and the facts that change their pay: children, sole-carer periods, other benefits, programmes and pauses: the PostgreSQL implementation.

use super::*;
use crate::repository::ParticipantStore;

#[async_trait]
impl ParticipantStore for PostgresStore {
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

    async fn get_programme(&self, id: Uuid) -> Result<Programme, StoreError> {
        let mut conn = self.pool.acquire().await?;
        select_programme(&mut conn, id).await
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

    async fn participant_facts(
        &self,
        participant_id: Uuid,
    ) -> Result<ParticipantFacts, StoreError> {
        // One statement, so one snapshot, and one round trip: the facts of
        // every table as one JSON array each (see `json_rows`). Every
        // subquery goes by the participant's own index.
        let row = sqlx::query(concat!(
            "SELECT ",
            participant_columns!(),
            ", (SELECT json_agg(json_build_array(id, birth_date) ORDER BY birth_date, id) \
                FROM children WHERE participant_id = $1)::text AS children, \
              (SELECT json_agg(json_build_array(id, from_date, to_date) ORDER BY from_date, id) \
                FROM sole_carer_periods WHERE participant_id = $1)::text AS sole_carer_periods, \
              (SELECT json_agg(json_build_array(id, month, kind, amount::text) \
                               ORDER BY month, kind, id) \
                FROM benefit_offsets WHERE participant_id = $1)::text AS offsets, \
              (SELECT json_agg(json_build_array(g.id, g.start_date, g.end_date, \
                                 g.decision_reference, ",
            epoch_micros!("g.decided_at"),
            ", \
                                 (SELECT json_agg(json_build_array(x.id, x.from_date, x.to_date, \
                                                                   x.kind, x.reference) \
                                                  ORDER BY x.from_date, x.id) \
                                  FROM programme_pauses x WHERE x.programme_id = g.id)) \
                               ORDER BY g.start_date, g.id) \
                FROM programmes g WHERE g.participant_id = $1)::text AS programmes, \
              (SELECT json_agg(json_build_array(id, period_from, period_to, version) \
                               ORDER BY period_from) \
                FROM timesheets WHERE participant_id = $1 AND status = 'ACCEPTED')::text \
                AS timesheets, \
              (SELECT json_agg(json_build_array(timesheet_id, date, seq, kind, hours::text, note) \
                               ORDER BY date, seq) \
                FROM day_entries WHERE participant_id = $1)::text AS entries, \
              (SELECT json_agg(json_build_array(id, date, entry_kind, outcome, ",
            epoch_micros!("decided_at"),
            ", \
                                                decided_by, reference, reason) \
                               ORDER BY date, entry_kind) \
                FROM sanction_decisions WHERE participant_id = $1)::text AS decisions \
             FROM participants WHERE id = $1"
        ))
        .bind(participant_id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Err(StoreError::not_found("participant", participant_id));
        };
        let text = |column: &str| -> Result<Option<String>, StoreError> {
            Ok(row.try_get::<Option<String>, _>(column)?)
        };
        let id = participant_id;
        let timesheets = json_rows::timesheet_periods(text("timesheets")?.as_deref())?;
        // The entries of superseded timesheets came too (by the participant's
        // index alone); they are left out here.
        let entries = json_rows::day_entries(id, text("entries")?.as_deref())?;
        Ok(ParticipantFacts {
            participant: rows::participant(&row)?,
            children: json_rows::children(id, text("children")?.as_deref())?,
            sole_carer_periods: json_rows::sole_carer_periods(
                id,
                text("sole_carer_periods")?.as_deref(),
            )?,
            offsets: json_rows::benefit_offsets(id, text("offsets")?.as_deref())?,
            programmes: json_rows::programmes(id, text("programmes")?.as_deref())?,
            entries: current_entries(&timesheets, entries),
            timesheets,
            decisions: json_rows::sanction_decisions(id, text("decisions")?.as_deref())?,
        })
    }
}
