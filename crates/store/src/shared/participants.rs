// Municipalities, participants and the facts that change their pay: children, sole-carer periods, other benefits, programmes and pauses: the statements of both backends, written once.
//
// Included by `postgres/participants.rs` and `sqlite/participants.rs`, each of which brings
// into scope what this code names: its store, connection and row types, how
// it binds values, its constraint names, locks and the participant's facts
// read (`<backend>/dialect.rs`), and its row mappers and helpers
// (`<backend>/mod.rs`, `rows.rs`).
use crate::records::{EmployeeNumber, FactContent};
use crate::repository::ParticipantStore;

#[async_trait]
impl ParticipantStore for Store {
    async fn upsert_municipality(
        &self,
        municipality: &Municipality,
        expected: Option<Expected>,
        audit: &NewAuditEntry,
    ) -> Result<i64, StoreError> {
        let mut tx = self.begin_write().await?;
        let statement = match expected {
            None => {
                "INSERT INTO municipalities (id, name, policy_overrides, pay_codes, handoff) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, \
                 policy_overrides = excluded.policy_overrides, pay_codes = excluded.pay_codes, \
                 handoff = excluded.handoff, version = municipalities.version + 1 \
                 RETURNING version"
            }
            Some(Expected::Absent) => {
                "INSERT INTO municipalities (id, name, policy_overrides, pay_codes, handoff) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING RETURNING version"
            }
            Some(Expected::Existing | Expected::Version(_)) => {
                "UPDATE municipalities SET name = $2, policy_overrides = $3, pay_codes = $4, \
                 handoff = $5, version = version + 1 WHERE id = $1 AND ($6 IS NULL OR version = $6) \
                 RETURNING version"
            }
        };
        let mut query = sqlx::query_scalar::<_, i64>(statement)
            .bind(&municipality.id)
            .bind(&municipality.name)
            .bind(&municipality.policy_overrides)
            .bind(&municipality.pay_codes)
            .bind(serde_json::to_value(&municipality.handoff).map_err(|_| {
                StoreError::invalid_input("the handoff settings are not a JSON document")
            })?);
        if let Some(Expected::Existing | Expected::Version(_)) = expected {
            let version = match expected {
                Some(Expected::Version(version)) => Some(version),
                _ => None,
            };
            query = query.bind(version);
        }
        let Some(version) = query.fetch_optional(&mut *tx).await? else {
            let current: Option<i64> =
                sqlx::query_scalar("SELECT version FROM municipalities WHERE id = $1")
                    .bind(&municipality.id)
                    .fetch_optional(&mut *tx)
                    .await?;
            return Err(StoreError::VersionMismatch { current });
        };
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(version)
    }

    async fn get_municipality(&self, id: &str) -> Result<Municipality, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, policy_overrides, pay_codes, handoff, version FROM municipalities WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.read_pool())
        .await?;
        match row {
            Some(row) => rows::municipality(&row),
            None => Err(StoreError::not_found("municipality", id)),
        }
    }

    async fn list_municipalities(&self) -> Result<Vec<Municipality>, StoreError> {
        let found = sqlx::query(
            "SELECT id, name, policy_overrides, pay_codes, handoff, version FROM municipalities ORDER BY id",
        )
        .fetch_all(self.read_pool())
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
            ") VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ))
        .bind(participant.id)
        .bind(&participant.municipality_id)
        .bind(&participant.nin_lookup)
        .bind(&participant.nin_sealed)
        .bind(participant.birth_date)
        .bind(&participant.display_name)
        .bind(instant(participant.created_at)?)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::Unique(constraint::PARTICIPANTS_NIN_LOOKUP_KEY) => {
                    Some(StoreError::conflict(
                        "a participant with this identity number exists in the municipality",
                    ))
                }
                Violation::Unique(constraint::PARTICIPANTS_PKEY) => {
                    Some(StoreError::conflict("the participant id is taken"))
                }
                Violation::ForeignKey(constraint::PARTICIPANTS_MUNICIPALITY_FKEY) => Some(
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
        let mut conn = self.read_pool().acquire().await?;
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
        .fetch_optional(self.read_pool())
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
        .fetch_all(self.read_pool())
        .await?;
        rows::all(found, rows::participant)
    }

    async fn add_child(
        &self,
        child: &Child,
        same_birth_date_confirmed: bool,
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        lock_participant(&mut tx, child.participant_id).await?;
        let born_that_day = sqlx::query(
            "SELECT id, reference FROM children WHERE participant_id = $1 \
             AND (birth_date = $2 OR reference = $3) ORDER BY id",
        )
        .bind(child.participant_id)
        .bind(child.birth_date)
        .bind(child.reference.as_deref())
        .fetch_all(&mut *tx)
        .await?;
        for row in &born_that_day {
            let existing: Uuid = row.try_get("id")?;
            let reference: Option<String> = row.try_get("reference")?;
            if child.reference.is_some() && reference == child.reference {
                return Err(StoreError::Duplicate {
                    what: "a child with this reference is registered".into(),
                    existing,
                });
            }
            if child.reference.is_none() && !same_birth_date_confirmed {
                return Err(StoreError::Duplicate {
                    what: "a child born that day is registered; a twin needs its reference \
                           or the confirmation that it is another child"
                        .into(),
                    existing,
                });
            }
        }
        sqlx::query(
            "INSERT INTO children (id, participant_id, birth_date, reference) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(child.id)
        .bind(child.participant_id)
        .bind(child.birth_date)
        .bind(child.reference.as_deref())
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::Unique(constraint::CHILDREN_PKEY) => {
                    Some(StoreError::conflict("the child id is taken"))
                }
                other => participant_missing(child.participant_id)(other),
            })
        })?;
        super::facts::record_registered(
            &mut tx,
            &child.id.to_string(),
            Some(child.participant_id),
            FactContent::Child {
                birth_date: child.birth_date,
                reference: child.reference.clone(),
            },
            audit,
        )
        .await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_children(&self, participant_id: Uuid) -> Result<Vec<Child>, StoreError> {
        let mut conn = self.read_pool().acquire().await?;
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
                Violation::Unique(constraint::SOLE_CARER_PERIODS_PKEY) => {
                    Some(StoreError::conflict("the sole-carer period id is taken"))
                }
                other => participant_missing(period.participant_id)(other),
            })
        })?;
        super::facts::record_registered(
            &mut tx,
            &period.id.to_string(),
            Some(period.participant_id),
            FactContent::SoleCarerPeriod {
                from: period.from,
                to: period.to,
            },
            audit,
        )
        .await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_sole_carer_periods(
        &self,
        participant_id: Uuid,
    ) -> Result<Vec<SoleCarerPeriod>, StoreError> {
        let mut conn = self.read_pool().acquire().await?;
        select_sole_carer_periods(&mut conn, participant_id).await
    }

    async fn add_benefit_offset(
        &self,
        offset: &BenefitOffset,
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError> {
        check_offset(offset)?;
        let mut tx = self.begin_write().await?;
        lock_participant(&mut tx, offset.participant_id).await?;
        let existing: Option<Uuid> = sqlx::query_scalar(
            "SELECT id FROM benefit_offsets WHERE participant_id = $1 AND month = $2 AND kind = $3",
        )
        .bind(offset.participant_id)
        .bind(offset.month)
        .bind(offset.kind.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(existing) = existing {
            return Err(StoreError::Duplicate {
                what: format!(
                    "a {} benefit is registered for the month already",
                    offset.kind.as_str()
                ),
                existing,
            });
        }
        sqlx::query(
            "INSERT INTO benefit_offsets (id, participant_id, month, kind, amount) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(offset.id)
        .bind(offset.participant_id)
        .bind(offset.month)
        .bind(offset.kind.as_str())
        .bind(decimal(offset.amount))
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::Unique(constraint::BENEFIT_OFFSETS_PKEY) => {
                    Some(StoreError::conflict("the offset id is taken"))
                }
                other => participant_missing(offset.participant_id)(other),
            })
        })?;
        super::facts::record_registered(
            &mut tx,
            &offset.id.to_string(),
            Some(offset.participant_id),
            FactContent::BenefitOffset {
                month: offset.month,
                kind: offset.kind,
                amount: offset.amount,
            },
            audit,
        )
        .await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_benefit_offsets(
        &self,
        participant_id: Uuid,
    ) -> Result<Vec<BenefitOffset>, StoreError> {
        let mut conn = self.read_pool().acquire().await?;
        select_benefit_offsets(&mut conn, participant_id).await
    }

    async fn set_employee_number(
        &self,
        number: &EmployeeNumber,
        expected: Expected,
        audit: &NewAuditEntry,
    ) -> Result<EmployeeNumber, StoreError> {
        let mut tx = self.begin_write().await?;
        lock_participant(&mut tx, number.participant_id).await?;
        let current: Option<i64> =
            sqlx::query_scalar("SELECT version FROM employee_numbers WHERE participant_id = $1")
                .bind(number.participant_id)
                .fetch_optional(&mut *tx)
                .await?;
        let holds = match (expected, current) {
            (Expected::Absent, None) | (Expected::Existing, Some(_)) => true,
            (Expected::Version(v), Some(c)) => v == c,
            _ => false,
        };
        if !holds {
            return Err(StoreError::VersionMismatch { current });
        }
        let taken: Option<Uuid> = sqlx::query_scalar(
            "SELECT participant_id FROM employee_numbers \
             WHERE municipality_id = $1 AND employee_number = $2 AND participant_id <> $3",
        )
        .bind(&number.municipality_id)
        .bind(&number.employee_number)
        .bind(number.participant_id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(other) = taken {
            return Err(StoreError::Duplicate {
                what: "employee number".into(),
                existing: other,
            });
        }
        let stored = EmployeeNumber {
            version: current.unwrap_or(0) + 1,
            ..number.clone()
        };
        sqlx::query("DELETE FROM employee_numbers WHERE participant_id = $1")
            .bind(number.participant_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO employee_numbers (participant_id, municipality_id, employee_number, \
             version, registered_at, registered_by) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(stored.participant_id)
        .bind(&stored.municipality_id)
        .bind(&stored.employee_number)
        .bind(stored.version)
        .bind(instant(stored.registered_at)?)
        .bind(&stored.registered_by)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::Unique(constraint::EMPLOYEE_NUMBERS_NUMBER_KEY) => {
                    Some(StoreError::conflict("the employee number is taken"))
                }
                other => participant_missing(number.participant_id)(other),
            })
        })?;
        commit_with(tx, &[], audit).await?;
        Ok(stored)
    }

    async fn employee_number(
        &self,
        participant_id: Uuid,
    ) -> Result<Option<EmployeeNumber>, StoreError> {
        let found = sqlx::query(
            "SELECT participant_id, municipality_id, employee_number, version, registered_at, \
             registered_by FROM employee_numbers WHERE participant_id = $1",
        )
        .bind(participant_id)
        .fetch_optional(self.read_pool())
        .await?;
        found.as_ref().map(rows::employee_number).transpose()
    }

    async fn employee_numbers(
        &self,
        municipality_id: &str,
    ) -> Result<Vec<EmployeeNumber>, StoreError> {
        let found = sqlx::query(
            "SELECT participant_id, municipality_id, employee_number, version, registered_at, \
             registered_by FROM employee_numbers WHERE municipality_id = $1 \
             ORDER BY employee_number",
        )
        .bind(municipality_id)
        .fetch_all(self.read_pool())
        .await?;
        rows::all(found, rows::employee_number)
    }

    async fn add_extension(
        &self,
        extension: &ProgrammeExtension,
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO programme_extensions (id, programme_id, until, exception, reference, \
             decided_at, decided_by) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(extension.id)
        .bind(extension.programme_id)
        .bind(extension.until)
        .bind(extension.exception)
        .bind(&extension.reference)
        .bind(instant(extension.decided_at)?)
        .bind(&extension.decided_by)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::ForeignKey(_) => {
                    Some(StoreError::not_found("programme", extension.programme_id))
                }
                _ => None,
            })
        })?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_extensions(
        &self,
        participant_id: Uuid,
    ) -> Result<Vec<ProgrammeExtension>, StoreError> {
        let found = sqlx::query(
            "SELECT e.id, e.programme_id, e.until, e.exception, e.reference, e.decided_at, \
             e.decided_by FROM programme_extensions e JOIN programmes p ON p.id = e.programme_id \
             WHERE p.participant_id = $1 ORDER BY e.programme_id, e.until",
        )
        .bind(participant_id)
        .fetch_all(self.read_pool())
        .await?;
        rows::all(found, rows::programme_extension)
    }

    async fn create_programme(
        &self,
        programme: &Programme,
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError> {
        check_range("programme", programme.start, programme.end)?;
        let mut tx = self.begin_write().await?;
        lock_participant(&mut tx, programme.participant_id).await?;
        refuse_overlapping_programme(
            &mut tx,
            programme.participant_id,
            programme.id,
            programme.start,
            programme.end,
        )
        .await?;
        sqlx::query(
            "INSERT INTO programmes (id, participant_id, start_date, end_date, \
             decision_reference, decided_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(programme.id)
        .bind(programme.participant_id)
        .bind(programme.start)
        .bind(programme.end)
        .bind(&programme.decision_reference)
        .bind(instant(programme.decided_at)?)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::Unique(constraint::PROGRAMMES_PKEY) => {
                    Some(StoreError::conflict("the programme id is taken"))
                }
                other => participant_missing(programme.participant_id)(other),
            })
        })?;
        super::facts::record_registered(
            &mut tx,
            &programme.id.to_string(),
            Some(programme.participant_id),
            FactContent::Programme {
                start: programme.start,
                end: programme.end,
                decision_reference: programme.decision_reference.clone(),
            },
            audit,
        )
        .await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_programme(&self, id: Uuid) -> Result<Programme, StoreError> {
        let mut conn = self.read_pool().acquire().await?;
        select_programme(&mut conn, id).await
    }

    async fn add_pause(&self, pause: &Pause, audit: &NewAuditEntry) -> Result<(), StoreError> {
        check_range("pause", pause.from, pause.to)?;
        let mut tx = self.begin_write().await?;
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
                Violation::Unique(constraint::PROGRAMME_PAUSES_PKEY) => {
                    Some(StoreError::conflict("the pause id is taken"))
                }
                Violation::ForeignKey(constraint::PROGRAMME_PAUSES_PROGRAMME_FKEY) => {
                    Some(StoreError::not_found("programme", pause.programme_id))
                }
                _ => None,
            })
        })?;
        let participant_id: Uuid =
            sqlx::query_scalar("SELECT participant_id FROM programmes WHERE id = $1")
                .bind(pause.programme_id)
                .fetch_one(&mut *tx)
                .await?;
        super::facts::record_registered(
            &mut tx,
            &pause.id.to_string(),
            Some(participant_id),
            FactContent::Pause {
                from: pause.from,
                to: pause.to,
                kind: pause.kind,
                reference: pause.reference.clone(),
            },
            audit,
        )
        .await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_programmes(
        &self,
        participant_id: Uuid,
    ) -> Result<Vec<ProgrammeWithPauses>, StoreError> {
        // One snapshot, so that no pause is read without its programme.
        let mut tx = self.begin_snapshot().await?;
        let programmes = select_programmes(&mut tx, participant_id).await?;
        tx.commit().await?;
        Ok(programmes)
    }

    async fn participant_facts(
        &self,
        participant_id: Uuid,
    ) -> Result<ParticipantFacts, StoreError> {
        read_participant_facts(self, participant_id).await
    }
}

/// A participant's programme periods never overlap (ARCHITECTURE.md,
/// "Programme periods"): another programme of theirs that shares a day with
/// `start`–`end` (open-ended when `None`) refuses the change. Call it with the
/// participant's facts locked.
pub(super) async fn refuse_overlapping_programme(
    conn: &mut Conn,
    participant_id: Uuid,
    programme_id: Uuid,
    start: Date,
    end: Option<Date>,
) -> Result<(), StoreError> {
    let overlapping: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM programmes WHERE participant_id = $1 AND id <> $2 \
         AND (end_date IS NULL OR end_date >= $3) AND ($4 IS NULL OR start_date <= $4) \
         ORDER BY start_date LIMIT 1",
    )
    .bind(participant_id)
    .bind(programme_id)
    .bind(start)
    .bind(end)
    .fetch_optional(conn)
    .await?;
    match overlapping {
        Some(other) => Err(StoreError::conflict(format!(
            "the period overlaps programme {other}; a participant's programmes never overlap"
        ))),
        None => Ok(()),
    }
}
