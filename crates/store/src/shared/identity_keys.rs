// The identity key the database's identity numbers are sealed with: the
// statements of both backends, written once.
//
// Included by `postgres/identity_keys.rs` and `sqlite/identity_keys.rs`, each
// of which brings into scope what this code names: its store and row types,
// how it binds values and its row locks (`<backend>/mod.rs`).
use crate::records::{ResealedIdentity, SealedIdentity};
use crate::repository::IdentityKeyStore;

#[async_trait]
impl IdentityKeyStore for Store {
    async fn identity_key_id(&self) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT key_id FROM identity_key WHERE id = 1")
                .fetch_optional(self.write_pool())
                .await?,
        )
    }

    async fn sealed_identities(&self) -> Result<Vec<SealedIdentity>, StoreError> {
        sqlx::query("SELECT id, nin_sealed FROM participants ORDER BY id")
            .fetch_all(self.write_pool())
            .await?
            .iter()
            .map(|row| {
                Ok(SealedIdentity {
                    participant_id: row.try_get("id")?,
                    nin_sealed: row.try_get("nin_sealed")?,
                })
            })
            .collect()
    }

    async fn reseal_identities(
        &self,
        expected: Option<&str>,
        key_id: &str,
        resealed: &[ResealedIdentity],
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let current: Option<String> = sqlx::query_scalar(concat!(
            "SELECT key_id FROM identity_key WHERE id = 1",
            for_update!()
        ))
        .fetch_optional(&mut *tx)
        .await?;
        if current.as_deref() != expected {
            return Err(StoreError::conflict(
                "the database's identity key changed meanwhile; nothing was re-sealed",
            ));
        }
        for identity in resealed {
            let updated = sqlx::query(
                "UPDATE participants SET nin_lookup = $1, nin_sealed = $2 WHERE id = $3",
            )
            .bind(&identity.nin_lookup)
            .bind(&identity.nin_sealed)
            .bind(identity.participant_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if updated != 1 {
                return Err(StoreError::not_found(
                    "participant",
                    identity.participant_id,
                ));
            }
        }
        sqlx::query(
            "INSERT INTO identity_key (id, key_id, sealed_at) VALUES (1, $1, $2) \
             ON CONFLICT (id) DO UPDATE SET key_id = excluded.key_id, \
             sealed_at = excluded.sealed_at",
        )
        .bind(key_id)
        .bind(instant(audit.at)?)
        .execute(&mut *tx)
        .await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }
}
