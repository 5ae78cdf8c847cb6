//! The signer registry: participants', supervisors' and providers' keys and their revocation: the SQLite implementation.

use super::*;
use crate::repository::SignerKeyStore;

#[async_trait]
impl SignerKeyStore for SqliteStore {
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
}
