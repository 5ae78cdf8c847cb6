// The signer registry: participants', supervisors' and providers' keys and their revocation: the statements of both backends, written once.
//
// Included by `postgres/signer_keys.rs` and `sqlite/signer_keys.rs`, each of which brings
// into scope what this code names: its store, connection and row types, how
// it binds values, its constraint names and locks (`<backend>/dialect.rs`),
// and its row mappers and helpers (`<backend>/mod.rs`, `rows.rs`).
use crate::repository::SignerKeyStore;

#[async_trait]
impl SignerKeyStore for Store {
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
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(&key.keyid)
        .bind(&key.person_id)
        .bind(key.participant_id)
        .bind(key.role.as_str())
        .bind(&key.public_key)
        .bind(instant(key.valid_from)?)
        .bind(instant_opt(key.valid_until)?)
        .bind(instant_opt(key.revoked_at)?)
        .bind(&key.revocation_reason)
        .bind(instant(key.registered_at)?)
        .bind(&key.municipality_id)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::Unique(constraint::SIGNER_KEYS_PKEY) => Some(StoreError::conflict(
                    format!("signer key {} is registered already", key.keyid),
                )),
                // The key's participant or municipality (SQLite names no
                // constraint; a key has one or the other).
                Violation::ForeignKey(_) => match (&key.participant_id, &key.municipality_id) {
                    (Some(id), _) => Some(StoreError::not_found("participant", id)),
                    (None, Some(id)) => Some(StoreError::not_found("municipality", id)),
                    (None, None) => None,
                },
                _ => None,
            })
        })?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_signer_key(&self, keyid: &str) -> Result<SignerKey, StoreError> {
        let mut conn = self.read_pool().acquire().await?;
        select_signer_key(&mut conn, keyid).await
    }

    async fn find_signer_keys(&self, keyids: &[&str]) -> Result<Vec<SignerKey>, StoreError> {
        select_signer_keys(self, keyids).await
    }

    async fn list_signer_keys(&self) -> Result<Vec<SignerKey>, StoreError> {
        let found = sqlx::query(concat!(
            "SELECT ",
            signer_key_columns!(),
            " FROM signer_keys ORDER BY registered_at, keyid"
        ))
        .fetch_all(self.read_pool())
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
        lock_signer_key(&mut tx, keyid).await?;
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
        .bind(instant(revoked_at)?)
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

    async fn assign_signer_key(
        &self,
        keyid: &str,
        municipality_id: &str,
        audit: &NewAuditEntry,
    ) -> Result<SignerKey, StoreError> {
        let mut tx = self.begin_write().await?;
        lock_signer_key(&mut tx, keyid).await?;
        let mut key = select_signer_key(&mut tx, keyid).await?;
        if key.role != SignerRole::Supervisor {
            return Err(StoreError::invalid_state(format!(
                "signer key {keyid} is not a supervisor's"
            )));
        }
        if let Some(assigned) = &key.municipality_id {
            return Err(StoreError::invalid_state(format!(
                "signer key {keyid} belongs to municipality {assigned} already"
            )));
        }
        sqlx::query(
            "UPDATE signer_keys SET municipality_id = $1 \
             WHERE keyid = $2 AND municipality_id IS NULL",
        )
        .bind(municipality_id)
        .bind(keyid)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::ForeignKey(_) => {
                    Some(StoreError::not_found("municipality", municipality_id))
                }
                _ => None,
            })
        })?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        key.municipality_id = Some(municipality_id.to_owned());
        Ok(key)
    }
}
