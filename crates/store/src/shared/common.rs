// What both backends share outside the areas: how a violated constraint
// becomes the caller's typed error, and the chaining of audit entries written
// before the chain existed. Included by `postgres/mod.rs` and `sqlite/mod.rs`,
// whose dialects name the violated constraint (`violation_of`) and open the
// chain's write transaction (`begin_chain_write`).

/// A violated constraint, by the name the backend reports (`constraint`
/// in its dialect names them; SQLite names no foreign key: the name is empty).
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
        let violation = violation_of(db)?;
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

/// Links the audit entries written before migration 0003, oldest first from
/// the genesis hash, when the chain has not begun yet; otherwise does nothing
/// (an unlinked entry after the chain began is for verification to report).
/// Instances opening the store together queue on the chain's lock, and the
/// later ones find the work done.
async fn chain_unlinked_entries(pool: &Pool) -> Result<(), StoreError> {
    const PENDING: &str = "SELECT EXISTS (SELECT 1 FROM audit_entries WHERE chain_seq IS NULL) \
         AND NOT EXISTS (SELECT 1 FROM audit_entries WHERE chain_seq IS NOT NULL)";
    // Checked before taking the chain's lock, so that opening a store usually writes nothing.
    let pending: bool = sqlx::query_scalar(PENDING).fetch_one(pool).await?;
    if !pending {
        return Ok(());
    }
    let mut tx = begin_chain_write(pool).await?;
    let pending: bool = sqlx::query_scalar(PENDING).fetch_one(&mut *tx).await?;
    if !pending {
        tx.rollback().await?;
        return Ok(());
    }
    let found = sqlx::query(
        "SELECT seq, chain_seq, prev_hash, hash, at, actor, action, subject_type, subject_id, \
         details FROM audit_entries ORDER BY seq",
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut prev_hash = GENESIS;
    for (chain_seq, row) in (1u64..).zip(&found) {
        let link = rows::audit_link(row)?;
        let content = link.content.map_err(|why| {
            StoreError::corrupt(format!(
                "audit entry {} cannot be chained: {why}",
                link.row_seq
            ))
        })?;
        let hash = link_hash(chain_seq, &prev_hash, &content);
        sqlx::query(
            "UPDATE audit_entries SET chain_seq = $1, prev_hash = $2, hash = $3 WHERE seq = $4",
        )
        .bind(chain_seq_value(chain_seq)?)
        .bind(prev_hash.as_slice())
        .bind(hash.as_slice())
        .bind(link.row_seq)
        .execute(&mut *tx)
        .await?;
        prev_hash = hash;
    }
    tx.commit().await?;
    tracing::info!(
        entries = found.len(),
        "audit entries from before the chain were chained"
    );
    Ok(())
}

/// The end of every change: its events and its audit entry (with the
/// request's idempotency claim) written in its transaction, and the commit.
async fn commit_with(
    mut tx: WriteTx,
    events: &[NewOutboxEvent],
    audit: &NewAuditEntry,
) -> Result<(), StoreError> {
    insert_events(&mut tx, events).await?;
    insert_audit(&mut tx, audit).await?;
    tx.commit().await?;
    Ok(())
}
