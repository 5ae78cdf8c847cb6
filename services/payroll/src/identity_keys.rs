//! Which identity key a database's identity numbers are sealed with.
//!
//! The database records the key's public id ([`IdentityVault::key_id`]). At
//! start-up the service compares it with its configured key and refuses to
//! run with another ([`adopt`]): numbers sealed with one key and looked up
//! with another would silently find nobody, and new ones would be sealed
//! under a key the others are not. A database that records no key yet (new,
//! or from before key ids) is adopted: every number must open with the
//! configured key, and is re-sealed with its key id and bound to its
//! participant, in one transaction with the record of the key.
//!
//! Moving to a new key is [`reseal`] (`kvp-payroll reseal-identities`, with
//! the new key in `KVP_NEW_IDENTITY_KEY`): every number opened with the old
//! key, its lookup hash and sealed value made anew under the new one, and the
//! new key recorded, in one transaction, audited. Run it with the service
//! stopped, then start the service with the new key.

use anyhow::{Context, bail};
use kvp_store::{NewAuditEntry, Repository, ResealedIdentity, StoreError};

use crate::identity::IdentityVault;

/// Refuses a database sealed with another key; adopts the configured key for
/// a database that records none.
pub async fn adopt(store: &dyn Repository, vault: &IdentityVault) -> anyhow::Result<()> {
    let mine = vault.key_id();
    // A second instance starting at once may adopt first: then look again.
    for _ in 0..2 {
        match store.identity_key_id().await? {
            Some(recorded) if recorded == mine => return Ok(()),
            Some(recorded) => bail!(
                "the database's identity numbers are sealed with identity key {recorded}, not \
                 with the configured one ({mine}): configure the key it was sealed with, or \
                 re-seal the numbers under the new key with `kvp-payroll reseal-identities`"
            ),
            None => {
                let resealed = resealed(store, vault, vault).await?;
                let audit = NewAuditEntry::new(
                    crate::clock::now(),
                    "kvp-payroll:start-up",
                    "identity_key.adopted",
                    "identity_key",
                    &mine,
                )
                .with_details(serde_json::json!({ "participants": resealed.len() }));
                match store
                    .reseal_identities(None, &mine, &resealed, &audit)
                    .await
                {
                    Ok(()) => {
                        tracing::info!(
                            key_id = %mine,
                            participants = resealed.len(),
                            "identity key adopted: the database's numbers are sealed with it"
                        );
                        return Ok(());
                    }
                    Err(StoreError::Conflict { .. }) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    bail!("the database's identity key kept changing while it was adopted")
}

/// Re-seals every number under `new`, opening them with `old` (the key the
/// database records, or, for a database that records none, the key its
/// numbers were sealed with). Answers how many numbers were re-sealed.
pub async fn reseal(
    store: &dyn Repository,
    old: &IdentityVault,
    new: &IdentityVault,
    actor: &str,
) -> anyhow::Result<usize> {
    let recorded = store.identity_key_id().await?;
    if let Some(recorded) = &recorded
        && *recorded != old.key_id()
    {
        bail!(
            "the database's identity numbers are sealed with identity key {recorded}, not with \
             the configured one ({}): configure the key it was sealed with as \
             KVP_IDENTITY_KEY",
            old.key_id()
        );
    }
    let resealed = resealed(store, old, new).await?;
    let audit = NewAuditEntry::new(
        crate::clock::now(),
        actor,
        "identity_key.replaced",
        "identity_key",
        new.key_id(),
    )
    .with_details(serde_json::json!({
        "participants": resealed.len(),
        "replaced_key_id": old.key_id(),
    }));
    store
        .reseal_identities(recorded.as_deref(), &new.key_id(), &resealed, &audit)
        .await
        .context("re-sealing the identity numbers; nothing was changed")?;
    Ok(resealed.len())
}

/// Every participant's number opened with `old` and sealed, with its lookup
/// hash, under `new`; an error naming the first participant whose number
/// does not open.
async fn resealed(
    store: &dyn Repository,
    old: &IdentityVault,
    new: &IdentityVault,
) -> anyhow::Result<Vec<ResealedIdentity>> {
    store
        .sealed_identities()
        .await?
        .into_iter()
        .map(|sealed| {
            let Some(number) = old.open(&sealed.nin_sealed, sealed.participant_id) else {
                bail!(
                    "participant {}'s identity number does not open with the configured \
                     identity key ({}): it was sealed with another",
                    sealed.participant_id,
                    old.key_id()
                );
            };
            Ok(ResealedIdentity {
                participant_id: sealed.participant_id,
                nin_lookup: new.lookup(&number),
                nin_sealed: new.seal(&number, sealed.participant_id),
            })
        })
        .collect()
}
