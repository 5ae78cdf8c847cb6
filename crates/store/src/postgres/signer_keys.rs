//! The signer registry: participants', supervisors' and providers' keys and their revocation: the PostgreSQL implementation.

use super::*;
use crate::repository::SignerKeyStore;

#[async_trait]
impl SignerKeyStore for PostgresStore {
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

    /// One query for an envelope's keys (the submission path's round trips count).
    async fn find_signer_keys(&self, keyids: &[&str]) -> Result<Vec<SignerKey>, StoreError> {
        let found = sqlx::query(concat!(
            "SELECT ",
            signer_key_columns!(),
            " FROM signer_keys WHERE keyid = ANY($1)"
        ))
        .bind(keyids)
        .fetch_all(&self.pool)
        .await?;
        let mut found = rows::all(found, rows::signer_key)?;
        found.sort_by_key(|key| keyids.iter().position(|id| *id == key.keyid));
        Ok(found)
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
}
