//! What the statements shared with PostgreSQL (`src/shared/`) name, as SQLite
//! has it: the store and its connection, how values are bound (instants and
//! amounts as text), the names SQLite reports for constraints (UNIQUE by its
//! columns, FOREIGN KEY without a name), and locks, which it needs none of:
//! every write transaction holds the database's write lock (`BEGIN IMMEDIATE`).

use sqlx::sqlite::{SqliteConnection, SqlitePool};
use sqlx::{Sqlite, Transaction};

pub(super) use super::rows::{
    decimal_text as decimal, instant_text as instant, instant_text_opt as instant_opt,
};
use super::{SqliteStore, rows};
use crate::StoreError;
use crate::records::SignerKey;

/// The store the shared statements are implemented for.
pub(super) type Store = SqliteStore;
/// A connection, inside or outside a transaction.
pub(super) type Conn = SqliteConnection;

impl SqliteStore {
    /// The pool reads outside a write transaction use.
    pub(super) fn read_pool(&self) -> &SqlitePool {
        &self.reader
    }

    /// A read transaction: deferred, in WAL mode it reads one snapshot throughout.
    pub(super) async fn begin_snapshot(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        Ok(self.reader.begin().await?)
    }
}

/// Nothing to lock: the write transaction holds the database's write lock.
pub(super) async fn lock_signer_key(_conn: &mut Conn, _keyid: &str) -> Result<(), StoreError> {
    Ok(())
}

/// The registered keys among `keyids`, in their order.
pub(super) async fn select_signer_keys(
    store: &Store,
    keyids: &[&str],
) -> Result<Vec<SignerKey>, StoreError> {
    let mut found = Vec::with_capacity(keyids.len());
    for keyid in keyids {
        let row = sqlx::query(concat!(
            "SELECT ",
            signer_key_columns!(),
            " FROM signer_keys WHERE keyid = $1"
        ))
        .bind(keyid)
        .fetch_optional(store.read_pool())
        .await?;
        if let Some(row) = row {
            found.push(rows::signer_key(&row)?);
        }
    }
    Ok(found)
}

/// Constraint names as SQLite reports them: UNIQUE by `table.column, …`,
/// FOREIGN KEY without a name (so each is the empty name).
pub(super) mod constraint {
    pub(in super::super) const SANCTION_DECISIONS_DAY_KEY: &str =
        "sanction_decisions.participant_id, sanction_decisions.date, sanction_decisions.entry_kind";
    pub(in super::super) const SANCTION_DECISIONS_PKEY: &str = "sanction_decisions.id";
    pub(in super::super) const REGISTERED_G_PKEY: &str = "registered_g.effective_date";
    pub(in super::super) const SIGNER_KEYS_PKEY: &str = "signer_keys.keyid";
    pub(in super::super) const SIGNER_KEYS_PARTICIPANT_FKEY: &str = "";
}
