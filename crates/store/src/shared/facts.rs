// Facts over time — every version of a fact that changes money, its
// corrections and voids: the statements of both backends, written once.
//
// Included by `postgres/facts.rs` and `sqlite/facts.rs`, each of which brings
// into scope what this code names: its store, connection and row types, how
// it binds values, its locks (`<backend>/dialect.rs`), and its row mappers and
// helpers (`<backend>/mod.rs`, `rows.rs`).
use crate::records::{FactChange, FactChangeKind, FactContent, FactKind, FactVersion};
use crate::repository::FactStore;

#[async_trait]
impl FactStore for Store {
    async fn fact_versions(
        &self,
        kind: FactKind,
        fact_id: &str,
    ) -> Result<Vec<FactVersion>, StoreError> {
        let found = sqlx::query(
            "SELECT fact_type, fact_id, version, participant_id, change, content, reason, \
             recorded_by, recorded_at FROM fact_versions WHERE fact_type = $1 AND fact_id = $2 \
             ORDER BY version",
        )
        .bind(kind.as_str())
        .bind(fact_id)
        .fetch_all(self.read_pool())
        .await?;
        if found.is_empty() {
            return Err(StoreError::not_found(kind.as_str(), fact_id));
        }
        rows::all(found, rows::fact_version)
    }

    async fn change_fact(
        &self,
        change: &FactChange,
        events: &[NewOutboxEvent],
        audit: &NewAuditEntry,
    ) -> Result<FactVersion, StoreError> {
        let mut tx = self.begin_write().await?;
        let next = apply_change(&mut tx, change, audit).await?;
        commit_with(tx, events, audit).await?;
        Ok(next)
    }
}

/// Records `change` as the fact's next version and applies it to the fact's
/// row, in the caller's transaction (after locking the participant): the
/// version answered. A void fact, or a version other than the one expected,
/// changes nothing.
pub(super) async fn apply_change(
    conn: &mut Conn,
    change: &FactChange,
    audit: &NewAuditEntry,
) -> Result<FactVersion, StoreError> {
    if let Some(content) = &change.content
        && content.kind() != change.kind
    {
        return Err(StoreError::invalid_input(format!(
            "a {} cannot be corrected into a {}",
            change.kind,
            content.kind()
        )));
    }
    let unlocked = latest_version(&mut *conn, change.kind, &change.fact_id).await?;
    // The participant's facts change one at a time (a G has no
    // participant: two changes from one version collide on the next
    // version's number instead).
    if let Some(participant_id) = unlocked.participant_id {
        lock_participant(&mut *conn, participant_id).await?;
    }
    let latest = latest_version(&mut *conn, change.kind, &change.fact_id).await?;
    if latest.is_void() {
        return Err(StoreError::invalid_state(format!(
            "{} {} is void; a void is final: register the fact anew",
            change.kind, change.fact_id
        )));
    }
    let expected_holds = match change.expected {
        Expected::Existing => true,
        Expected::Absent => false,
        Expected::Version(version) => version == latest.version,
    };
    if !expected_holds {
        return Err(StoreError::VersionMismatch {
            current: Some(latest.version),
        });
    }
    let next = FactVersion {
        kind: change.kind,
        fact_id: change.fact_id.clone(),
        participant_id: latest.participant_id,
        version: latest.version + 1,
        change: if change.content.is_some() {
            FactChangeKind::Corrected
        } else {
            FactChangeKind::Voided
        },
        content: change.content.clone().unwrap_or(latest.content.clone()),
        reason: Some(change.reason.clone()),
        recorded_by: audit.actor.clone(),
        recorded_at: audit.at,
    };
    match &change.content {
        Some(content) => correct_row(&mut *conn, &latest, content, next.version).await?,
        None => void_row(&mut *conn, &latest, &change.reason, audit).await?,
    }
    insert_version(&mut *conn, &next).await?;
    Ok(next)
}

/// Writes a fact's first version (or, for a G registered again after a
/// void, its next), in the transaction that registers it.
pub(super) async fn record_registered(
    conn: &mut Conn,
    fact_id: &str,
    participant_id: Option<Uuid>,
    content: FactContent,
    audit: &NewAuditEntry,
) -> Result<(), StoreError> {
    let kind = content.kind();
    let last: Option<i64> = sqlx::query_scalar(
        "SELECT MAX(version) FROM fact_versions WHERE fact_type = $1 AND fact_id = $2",
    )
    .bind(kind.as_str())
    .bind(fact_id)
    .fetch_one(&mut *conn)
    .await?;
    let version = FactVersion {
        kind,
        fact_id: fact_id.to_owned(),
        participant_id,
        version: last.unwrap_or(0) + 1,
        change: FactChangeKind::Recorded,
        content,
        reason: None,
        recorded_by: audit.actor.clone(),
        recorded_at: audit.at,
    };
    insert_version(conn, &version).await
}

async fn insert_version(conn: &mut Conn, version: &FactVersion) -> Result<(), StoreError> {
    let content = serde_json::to_string(&version.content)
        .map_err(|e| StoreError::invalid_input(format!("a fact that cannot be stored: {e}")))?;
    sqlx::query(
        "INSERT INTO fact_versions (fact_type, fact_id, version, participant_id, change, \
         content, reason, recorded_by, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(version.kind.as_str())
    .bind(&version.fact_id)
    .bind(version.version)
    .bind(version.participant_id)
    .bind(version.change.as_str())
    .bind(content)
    .bind(version.reason.as_deref())
    .bind(&version.recorded_by)
    .bind(instant(version.recorded_at)?)
    .execute(&mut *conn)
    .await
    .map_err(|e| {
        on_violation(e, |violation| match violation {
            // Another change from the same version committed first.
            Violation::Unique(constraint::FACT_VERSIONS_PKEY) => {
                Some(StoreError::VersionMismatch {
                    current: Some(version.version),
                })
            }
            _ => None,
        })
    })?;
    Ok(())
}

async fn latest_version(
    conn: &mut Conn,
    kind: FactKind,
    fact_id: &str,
) -> Result<FactVersion, StoreError> {
    let row = sqlx::query(
        "SELECT fact_type, fact_id, version, participant_id, change, content, reason, \
         recorded_by, recorded_at FROM fact_versions WHERE fact_type = $1 AND fact_id = $2 \
         ORDER BY version DESC LIMIT 1",
    )
    .bind(kind.as_str())
    .bind(fact_id)
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        Some(row) => rows::fact_version(&row),
        None => Err(StoreError::not_found(kind.as_str(), fact_id)),
    }
}

/// The id of a fact kept under a UUID.
fn fact_uuid(version: &FactVersion) -> Result<Uuid, StoreError> {
    Uuid::parse_str(&version.fact_id)
        .map_err(|_| StoreError::corrupt(format!("{} id is not a UUID", version.kind)))
}

/// The effective date a G is kept under.
fn g_date(version: &FactVersion) -> Result<Date, StoreError> {
    Date::parse(
        &version.fact_id,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map_err(|_| StoreError::corrupt("a registered G's id is not a date"))
}

/// The one row a current fact has in its table, changed: anything else is corrupt data.
fn one_row(changed: u64, version: &FactVersion) -> Result<(), StoreError> {
    if changed == 1 {
        Ok(())
    } else {
        Err(StoreError::corrupt(format!(
            "{} {} has no current row",
            version.kind, version.fact_id
        )))
    }
}

/// Applies a correction to the fact's row.
async fn correct_row(
    conn: &mut Conn,
    latest: &FactVersion,
    content: &FactContent,
    version: i64,
) -> Result<(), StoreError> {
    let participant_id = latest.participant_id.unwrap_or_default();
    let changed = match content {
        FactContent::Child {
            birth_date,
            reference,
        } => {
            let id = fact_uuid(latest)?;
            if reference.is_some() {
                let taken: Option<Uuid> = sqlx::query_scalar(
                    "SELECT id FROM children WHERE participant_id = $1 AND reference = $2 \
                     AND id <> $3",
                )
                .bind(participant_id)
                .bind(reference.as_deref())
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?;
                if let Some(existing) = taken {
                    return Err(StoreError::Duplicate {
                        what: "a child with this reference is registered".into(),
                        existing,
                    });
                }
            }
            sqlx::query("UPDATE children SET birth_date = $1, reference = $2 WHERE id = $3")
                .bind(*birth_date)
                .bind(reference.as_deref())
                .bind(id)
                .execute(&mut *conn)
                .await?
        }
        FactContent::SoleCarerPeriod { from, to } => {
            check_range("sole-carer period", *from, *to)?;
            sqlx::query("UPDATE sole_carer_periods SET from_date = $1, to_date = $2 WHERE id = $3")
                .bind(*from)
                .bind(*to)
                .bind(fact_uuid(latest)?)
                .execute(&mut *conn)
                .await?
        }
        FactContent::BenefitOffset {
            month,
            kind,
            amount,
        } => {
            let id = fact_uuid(latest)?;
            check_offset(&BenefitOffset {
                id,
                participant_id,
                month: *month,
                kind: *kind,
                amount: *amount,
            })?;
            let taken: Option<Uuid> = sqlx::query_scalar(
                "SELECT id FROM benefit_offsets WHERE participant_id = $1 AND month = $2 \
                 AND kind = $3 AND id <> $4",
            )
            .bind(participant_id)
            .bind(*month)
            .bind(kind.as_str())
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
            if let Some(existing) = taken {
                return Err(StoreError::Duplicate {
                    what: format!(
                        "a {} benefit is registered for the month already",
                        kind.as_str()
                    ),
                    existing,
                });
            }
            sqlx::query(
                "UPDATE benefit_offsets SET month = $1, kind = $2, amount = $3 WHERE id = $4",
            )
            .bind(*month)
            .bind(kind.as_str())
            .bind(decimal(*amount))
            .bind(id)
            .execute(&mut *conn)
            .await?
        }
        FactContent::Programme {
            start,
            end,
            decision_reference,
        } => {
            let id = fact_uuid(latest)?;
            check_range("programme", *start, *end)?;
            super::participants::refuse_overlapping_programme(conn, participant_id, id, *start, *end).await?;
            sqlx::query(
                "UPDATE programmes SET start_date = $1, end_date = $2, decision_reference = $3, \
                 version = $4 WHERE id = $5",
            )
            .bind(*start)
            .bind(*end)
            .bind(decision_reference)
            .bind(version)
            .bind(id)
            .execute(&mut *conn)
            .await?
        }
        FactContent::Pause {
            from,
            to,
            kind,
            reference,
        } => {
            check_range("pause", *from, *to)?;
            sqlx::query(
                "UPDATE programme_pauses SET from_date = $1, to_date = $2, kind = $3, \
                 reference = $4 WHERE id = $5",
            )
            .bind(*from)
            .bind(*to)
            .bind(kind.as_str())
            .bind(reference)
            .bind(fact_uuid(latest)?)
            .execute(&mut *conn)
            .await?
        }
        FactContent::SanctionDecision {
            date,
            entry_kind,
            outcome,
            reference,
            reason,
            deducted_hours,
        } => {
            let FactContent::SanctionDecision {
                date: decided_date,
                entry_kind: decided_kind,
                ..
            } = &latest.content
            else {
                return Err(StoreError::corrupt("a decision's version is not a decision"));
            };
            if date != decided_date || entry_kind != decided_kind {
                return Err(StoreError::invalid_input(
                    "a decision's day and entry kind never change: void it and decide the \
                     other hours",
                ));
            }
            sqlx::query(
                "UPDATE sanction_decisions SET outcome = $1, reference = $2, reason = $3, \
                 deducted_hours = $4 WHERE id = $5",
            )
            .bind(outcome.as_str())
            .bind(reference)
            .bind(reason)
            .bind(deducted_hours.map(decimal))
            .bind(fact_uuid(latest)?)
            .execute(&mut *conn)
            .await?
        }
        FactContent::RegisteredG { value, reference } => {
            sqlx::query(
                "UPDATE registered_g SET value = $1, reference = $2 WHERE effective_date = $3",
            )
            .bind(decimal(*value))
            .bind(reference)
            .bind(g_date(latest)?)
            .execute(&mut *conn)
            .await?
        }
    };
    one_row(changed.rows_affected(), latest)
}

/// Removes a voided fact's row from its table (its versions stay); a
/// programme's pauses are voided with it.
async fn void_row(
    conn: &mut Conn,
    latest: &FactVersion,
    reason: &str,
    audit: &NewAuditEntry,
) -> Result<(), StoreError> {
    let statement = match latest.kind {
        FactKind::Child => "DELETE FROM children WHERE id = $1",
        FactKind::SoleCarerPeriod => "DELETE FROM sole_carer_periods WHERE id = $1",
        FactKind::BenefitOffset => "DELETE FROM benefit_offsets WHERE id = $1",
        FactKind::Pause => "DELETE FROM programme_pauses WHERE id = $1",
        FactKind::SanctionDecision => "DELETE FROM sanction_decisions WHERE id = $1",
        FactKind::Programme => {
            let id = fact_uuid(latest)?;
            let pauses: Vec<Uuid> = sqlx::query_scalar(
                "SELECT id FROM programme_pauses WHERE programme_id = $1 ORDER BY from_date, id",
            )
            .bind(id)
            .fetch_all(&mut *conn)
            .await?;
            for pause in pauses {
                let pause_latest = latest_version(conn, FactKind::Pause, &pause.to_string()).await?;
                let voided = FactVersion {
                    version: pause_latest.version + 1,
                    change: FactChangeKind::Voided,
                    reason: Some(format!("voided with programme {id}: {reason}")),
                    recorded_by: audit.actor.clone(),
                    recorded_at: audit.at,
                    ..pause_latest
                };
                sqlx::query("DELETE FROM programme_pauses WHERE id = $1")
                    .bind(pause)
                    .execute(&mut *conn)
                    .await?;
                insert_version(conn, &voided).await?;
            }
            "DELETE FROM programmes WHERE id = $1"
        }
        FactKind::RegisteredG => {
            let removed = sqlx::query("DELETE FROM registered_g WHERE effective_date = $1")
                .bind(g_date(latest)?)
                .execute(&mut *conn)
                .await?;
            return one_row(removed.rows_affected(), latest);
        }
    };
    let removed = sqlx::query(statement)
        .bind(fact_uuid(latest)?)
        .execute(&mut *conn)
        .await?;
    one_row(removed.rows_affected(), latest)
}
