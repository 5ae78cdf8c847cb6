//! What the statements shared with SQLite (`src/shared/`) name, as PostgreSQL
//! has it: the store and its connection, how values are bound (natively), the
//! names PostgreSQL gives the constraints, and the locks only it needs.

use rust_decimal::Decimal;
use sqlx::Postgres;
use sqlx::Transaction;
use sqlx::postgres::{PgConnection, PgPool};
use time::OffsetDateTime;

use super::{PostgresStore, rows};
use crate::StoreError;
use crate::records::SignerKey;

/// The store the shared statements are implemented for.
pub(super) type Store = PostgresStore;
/// A connection, inside or outside a transaction.
pub(super) type Conn = PgConnection;

/// An instant as bound: PostgreSQL keeps `timestamptz` natively.
pub(super) fn instant(value: OffsetDateTime) -> Result<OffsetDateTime, StoreError> {
    Ok(value)
}

/// An optional instant as bound.
pub(super) fn instant_opt(
    value: Option<OffsetDateTime>,
) -> Result<Option<OffsetDateTime>, StoreError> {
    Ok(value)
}

/// An amount as bound: PostgreSQL keeps `numeric` natively.
pub(super) fn decimal(value: Decimal) -> Decimal {
    value
}

impl PostgresStore {
    /// A write transaction (READ COMMITTED; rows are locked where read to be changed).
    pub(super) async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        Ok(self.pool.begin().await?)
    }

    /// The pool reads outside a write transaction use.
    pub(super) fn read_pool(&self) -> &PgPool {
        &self.pool
    }

    /// A read-only transaction reading one snapshot throughout.
    pub(super) async fn begin_snapshot(
        &self,
    ) -> Result<Transaction<'static, Postgres>, StoreError> {
        Ok(self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await?)
    }
}

/// Locks a signer key until the transaction ends, so that a concurrent
/// revocation waits and then sees this one.
pub(super) async fn lock_signer_key(conn: &mut Conn, keyid: &str) -> Result<(), StoreError> {
    sqlx::query("SELECT 1 FROM signer_keys WHERE keyid = $1 FOR UPDATE")
        .bind(keyid)
        .execute(conn)
        .await?;
    Ok(())
}

/// The registered keys among `keyids`, in their order: one query (the
/// submission path's round trips count).
pub(super) async fn select_signer_keys(
    store: &Store,
    keyids: &[&str],
) -> Result<Vec<SignerKey>, StoreError> {
    let found = sqlx::query(concat!(
        "SELECT ",
        signer_key_columns!(),
        " FROM signer_keys WHERE keyid = ANY($1)"
    ))
    .bind(keyids)
    .fetch_all(store.read_pool())
    .await?;
    let mut found = rows::all(found, rows::signer_key)?;
    found.sort_by_key(|key| keyids.iter().position(|id| *id == key.keyid));
    Ok(found)
}

/// Constraint names as PostgreSQL reports them (`migrations/postgres`).
pub(super) mod constraint {
    pub(in super::super) const SANCTION_DECISIONS_DAY_KEY: &str = "sanction_decisions_day_key";
    pub(in super::super) const SANCTION_DECISIONS_PKEY: &str = "sanction_decisions_pkey";
    pub(in super::super) const REGISTERED_G_PKEY: &str = "registered_g_pkey";
    pub(in super::super) const SIGNER_KEYS_PKEY: &str = "signer_keys_pkey";
    pub(in super::super) const SIGNER_KEYS_PARTICIPANT_FKEY: &str = "signer_keys_participant_fkey";
}
