//! Checkpoints of the audit chain, kept outside the database.
//!
//! The audit log is hash-chained, but whoever owns its tables can cut the
//! chain short or rewrite its tail and chain it anew: the database alone
//! cannot tell. So the service writes the chain's head — the number and hash
//! of its last entry — to its log (target `kvp::audit`, collected away from
//! the database) and as a metric (`kvp_audit_chain_entries`) every
//! `audit_checkpoint_ms`, and `verify-audit --checkpoint LINE` checks the
//! database against such a line: the chain must still hold that entry with
//! that hash (a shorter chain was truncated, another hash was rewritten).
//!
//! With `audit_checkpoint_key` configured each checkpoint carries an
//! HMAC-SHA256 over its number and hash, so a checkpoint cannot be forged by
//! whoever can write a log line; verification then requires the key.

use std::fmt;
use std::str::FromStr;

use hmac::{Hmac, Mac};
use kvp_store::Repository;
use kvp_store::audit_chain::hex;
use sha2::Sha256;

/// The chain's head at some moment: entry `seq` had hash `head`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The chain sequence number of the entry.
    pub seq: u64,
    /// Its hash.
    pub head: [u8; 32],
    /// HMAC-SHA256 over both, with the checkpoint key, if one is configured.
    pub mac: Option<[u8; 32]>,
}

/// A checkpoint line that cannot be read, or one that does not verify.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CheckpointError {
    /// Not `seq=N head=HEX [mac=HEX]`.
    #[error(
        "a checkpoint reads `seq=N head=<64 hex digits>` with an optional `mac=<64 hex digits>`"
    )]
    Malformed,
    /// The checkpoint carries a MAC but no key is configured to verify it.
    #[error("the checkpoint is signed: configure audit_checkpoint_key to verify it")]
    NoKey,
    /// A key is configured but the checkpoint is unsigned or its MAC differs.
    #[error("the checkpoint's MAC does not verify with the configured audit_checkpoint_key")]
    Forged,
}

/// What the database says against a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Against {
    /// The chain holds the checkpoint's entry with its hash.
    Holds,
    /// The chain ends before the checkpoint's entry: it was cut short.
    Truncated {
        /// Its last entry now (`None`: empty).
        last: Option<u64>,
    },
    /// The chain's entry has another hash: it was rewritten.
    Rewritten,
}

/// The MAC of a checkpoint, before it is finalised or compared.
fn mac(key: &[u8], seq: u64, head: &[u8; 32]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(b"kvp audit checkpoint v1\n");
    mac.update(&seq.to_be_bytes());
    mac.update(head);
    mac
}

impl Checkpoint {
    /// The checkpoint of entry `seq` with hash `head`, signed with `key` if given.
    pub fn new(seq: u64, head: [u8; 32], key: Option<&[u8]>) -> Self {
        Self {
            seq,
            head,
            mac: key.map(|key| mac(key, seq, &head).finalize().into_bytes().into()),
        }
    }

    /// The database's chain head now, if the chain has an entry.
    pub async fn current(
        store: &dyn Repository,
        key: Option<&[u8]>,
    ) -> Result<Option<Self>, kvp_store::StoreError> {
        Ok(store
            .audit_chain_hash(None)
            .await?
            .map(|(seq, head)| Self::new(seq, head, key)))
    }

    /// Checks the signature: required and valid when `key` is given, absent
    /// otherwise (an unsigned checkpoint with a key configured is refused).
    pub fn authenticate(&self, key: Option<&[u8]>) -> Result<(), CheckpointError> {
        match (key, self.mac) {
            (None, None) => Ok(()),
            (None, Some(_)) => Err(CheckpointError::NoKey),
            // Compared through the MAC type: in constant time.
            (Some(key), Some(given)) => mac(key, self.seq, &self.head)
                .verify_slice(&given)
                .map_err(|_| CheckpointError::Forged),
            (Some(_), None) => Err(CheckpointError::Forged),
        }
    }

    /// What the database's chain says against this checkpoint (the caller
    /// verifies the chain itself with `verify_audit_chain`).
    pub async fn against(&self, store: &dyn Repository) -> Result<Against, kvp_store::StoreError> {
        if store
            .audit_chain_hash(Some(self.seq))
            .await?
            .is_some_and(|(_, hash)| hash == self.head)
        {
            return Ok(Against::Holds);
        }
        let last = store.audit_chain_hash(None).await?.map(|(seq, _)| seq);
        Ok(if last.is_none_or(|last| last < self.seq) {
            Against::Truncated { last }
        } else {
            Against::Rewritten
        })
    }
}

impl fmt::Display for Checkpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "seq={} head={}", self.seq, hex(&self.head))?;
        if let Some(mac) = &self.mac {
            write!(f, " mac={}", hex(mac))?;
        }
        Ok(())
    }
}

fn hash_from_hex(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    let mut bytes = [0; 32];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(bytes)
}

impl FromStr for Checkpoint {
    type Err = CheckpointError;

    fn from_str(text: &str) -> Result<Self, CheckpointError> {
        let (mut seq, mut head, mut mac) = (None, None, None);
        for part in text.split_whitespace() {
            match part.split_once('=') {
                Some(("seq", v)) if seq.is_none() => seq = v.parse().ok(),
                Some(("head", v)) if head.is_none() => head = hash_from_hex(v),
                Some(("mac", v)) if mac.is_none() => {
                    mac = Some(hash_from_hex(v).ok_or(CheckpointError::Malformed)?);
                }
                _ => return Err(CheckpointError::Malformed),
            }
        }
        Ok(Self {
            seq: seq.ok_or(CheckpointError::Malformed)?,
            head: head.ok_or(CheckpointError::Malformed)?,
            mac,
        })
    }
}

/// Writes a checkpoint to the log and the metric every `interval` while the
/// head moves, until `stop` turns true.
pub async fn run(
    store: std::sync::Arc<dyn Repository>,
    key: Option<Vec<u8>>,
    interval: std::time::Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut last = None;
    while !*stop.borrow() {
        match Checkpoint::current(store.as_ref(), key.as_deref()).await {
            Ok(Some(checkpoint)) if last != Some(checkpoint.seq) => {
                crate::metrics::record_audit_chain_entries(checkpoint.seq);
                tracing::info!(
                    target: "kvp::audit",
                    checkpoint = %checkpoint,
                    "audit checkpoint (verify-audit --checkpoint takes this line)"
                );
                last = Some(checkpoint.seq);
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "reading the audit chain's head failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            _ = stop.changed() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_line_reads_back_and_its_mac_needs_the_key() {
        let key = [9u8; 32];
        let signed = Checkpoint::new(42, [7; 32], Some(&key));
        let line = signed.to_string();
        assert!(
            line.starts_with(&format!("seq=42 head={} mac=", "07".repeat(32))),
            "{line}"
        );
        let read: Checkpoint = line.parse().unwrap();
        assert_eq!(read, signed);
        assert_eq!(read.authenticate(Some(&key)), Ok(()));
        assert_eq!(read.authenticate(None), Err(CheckpointError::NoKey));
        assert_eq!(
            read.authenticate(Some(&[8u8; 32])),
            Err(CheckpointError::Forged)
        );
        // Another number under the same MAC is a forgery.
        let moved = Checkpoint { seq: 41, ..read };
        assert_eq!(moved.authenticate(Some(&key)), Err(CheckpointError::Forged));
        let unsigned = Checkpoint::new(42, [7; 32], None);
        assert_eq!(unsigned.authenticate(None), Ok(()));
        assert_eq!(
            unsigned.authenticate(Some(&key)),
            Err(CheckpointError::Forged)
        );
        for bad in [
            "",
            "seq=1",
            "seq=x head=00",
            "seq=1 head=zz",
            "seq=1 seq=2 head=00",
            "foo",
        ] {
            assert_eq!(
                bad.parse::<Checkpoint>(),
                Err(CheckpointError::Malformed),
                "{bad}"
            );
        }
    }
}
