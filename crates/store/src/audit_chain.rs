//! The hash chain over the audit log: the canonical encoding of an entry, its
//! SHA-256 link, and the verification walk that both backends share.
//!
//! Each entry carries a chain sequence number (`chain_seq`: 1, 2, 3, … with no
//! gaps), the hash of the entry before it (`prev_hash`; [`GENESIS`] for the
//! first entry) and its own `hash`, which is SHA-256 over [`link_hash`]'s
//! encoding of the sequence number, `prev_hash` and the entry's content. Changing any
//! entry's content changes its hash; deleting one leaves a gap in the
//! sequence and a `prev_hash` that no longer matches; both are found by
//! [`crate::AuditStore::verify_audit_chain`], which recomputes every hash in order.
//!
//! The chain has one head, so appends are serialised: each backend computes
//! the link inside the transaction that writes the entry, under a lock that
//! every audited write takes (see the backends), and a unique index on
//! `chain_seq` refuses a second entry with the same number should a writer
//! ever bypass the lock. A fork cannot be committed.
//!
//! What the chain does not do: the hash is not keyed, so someone who can
//! write to the database can rewrite the chain from the altered entry on, and
//! deleting the newest entries leaves a shorter, valid chain. Record the head
//! ([`AuditVerification::head`]) outside the database to detect that.
//!
//! Entries written before migration 0003 have no link; the store chains them,
//! oldest first from [`GENESIS`], when it opens a database whose chain is
//! still empty (SQL cannot produce the canonical encoding, so the migration
//! cannot). After that an entry without a link is a break.

use sha2::{Digest, Sha256};
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

use crate::StoreError;

/// The `prev_hash` of the first entry: 32 zero bytes.
pub const GENESIS: [u8; 32] = [0; 32];

/// The version tag that starts every encoded entry, so that a later encoding
/// can never produce the same bytes as this one.
const DOMAIN: &[u8] = b"kvp.audit.v1\n";

/// `2025-03-01T08:15:00.000000Z`: RFC 3339, UTC, always six fraction digits
/// (the text SQLite stores, to the microsecond PostgreSQL keeps).
const INSTANT: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");

/// The outcome of [`crate::AuditStore::verify_audit_chain`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditVerification {
    /// Chained entries whose link and hash were recomputed and found intact,
    /// in order, up to the first break (all of them when there is none).
    pub entries: u64,
    /// Entries written before the chain existed that the store has not
    /// chained yet (only while the chain is still empty; they are not checked).
    pub unchained: u64,
    /// The hash of the last intact entry: record it elsewhere to detect a
    /// truncated or wholly rewritten log later. `None` for an empty chain.
    pub head: Option<[u8; 32]>,
    /// The first broken entry, by chain sequence number, and why; `None` when
    /// the whole chain verifies.
    pub first_broken: Option<(u64, String)>,
}

impl AuditVerification {
    /// Whether the whole chain verified.
    pub fn is_intact(&self) -> bool {
        self.first_broken.is_none()
    }
}

/// The content of an entry that its hash covers, in canonical text form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainContent {
    /// When it happened: [`canonical_instant`].
    pub at: String,
    /// Who did it.
    pub actor: String,
    /// What was done.
    pub action: String,
    /// Kind of record acted on.
    pub subject_type: String,
    /// Id of the record acted on.
    pub subject_id: String,
    /// Its details: [`canonical_json`].
    pub details: String,
}

/// The hash of entry `seq` whose predecessor's hash is `prev_hash`:
/// SHA-256 over
///
/// ```text
/// "kvp.audit.v1\n" ‖ u64be(seq) ‖ prev_hash (32 bytes)
///   ‖ field(at) ‖ field(actor) ‖ field(action) ‖ field(subject_type)
///   ‖ field(subject_id) ‖ field(details)
/// ```
///
/// where `field(s) = u64be(byte length of s) ‖ UTF-8 bytes of s`, so no two
/// different entries encode alike, whatever their texts contain.
pub fn link_hash(seq: u64, prev_hash: &[u8; 32], content: &ChainContent) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(DOMAIN);
    hasher.update(seq.to_be_bytes());
    hasher.update(prev_hash);
    for field in [
        &content.at,
        &content.actor,
        &content.action,
        &content.subject_type,
        &content.subject_id,
        &content.details,
    ] {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field.as_bytes());
    }
    hasher.finalize().into()
}

/// An instant cut to the microsecond, which is what both backends store (and
/// so what the hash must cover). Cutting, not rounding: the instant never
/// moves into the next microsecond, second or day.
pub fn to_microsecond(at: OffsetDateTime) -> OffsetDateTime {
    let micros = at.nanosecond() / 1_000 * 1_000;
    at.replace_nanosecond(micros).unwrap_or(at)
}

/// An instant as the hash covers it: RFC 3339 in UTC with six fraction
/// digits, e.g. `2025-03-03T08:15:30.123456Z`.
pub fn canonical_instant(at: OffsetDateTime) -> Result<String, StoreError> {
    at.to_offset(UtcOffset::UTC)
        .format(INSTANT)
        .map_err(|_| StoreError::invalid_input("an audit instant outside the years 0000–9999"))
}

/// JSON as the hash covers it: no whitespace, object keys sorted by their
/// UTF-8 bytes (code point order), strings escaped as `serde_json` writes
/// them (`"`, `\` and control characters only), numbers as their stored text.
///
/// Numbers are not rewritten: each backend hashes the details as it will read
/// them back (PostgreSQL's `jsonb` normalises numbers, so the PostgreSQL
/// backend hashes the `jsonb` form).
pub fn canonical_json(value: &serde_json::Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(number) => out.push_str(&number.to_string()),
        Value::String(text) => write_string(text, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            // Sorted here, not by the map: serde_json keeps insertion order
            // when any crate in the build enables its `preserve_order`.
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                write_canonical(&map[key.as_str()], out);
            }
            out.push('}');
        }
    }
}

fn write_string(text: &str, out: &mut String) {
    // serde_json writes a string infallibly; its escaping is the canonical one.
    out.push_str(&serde_json::Value::String(text.to_owned()).to_string());
}

/// Lower-case hexadecimal of a hash, for messages and the command line.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

/// The number and `prev_hash` of the entry after the head `(chain_seq, hash)`
/// (or of the first entry, after [`GENESIS`]).
pub(crate) fn next_link(head: Option<(i64, Vec<u8>)>) -> Result<(u64, [u8; 32]), StoreError> {
    let Some((seq, hash)) = head else {
        return Ok((1, GENESIS));
    };
    let seq = u64::try_from(seq)
        .map_err(|_| StoreError::corrupt("audit_entries.chain_seq is negative"))?;
    let hash: [u8; 32] = hash
        .try_into()
        .map_err(|_| StoreError::corrupt("audit_entries.hash is not 32 bytes"))?;
    Ok((seq + 1, hash))
}

/// One stored entry as the verification reads it, in row order.
pub(crate) struct StoredLink {
    /// The row's own sequence number (order of insertion).
    pub row_seq: i64,
    /// Its chain number, `None` when it was written without a link.
    pub chain_seq: Option<i64>,
    /// Its stored `prev_hash`.
    pub prev_hash: Option<Vec<u8>>,
    /// Its stored `hash`.
    pub hash: Option<Vec<u8>>,
    /// Its content in canonical form, or why it cannot be read.
    pub content: Result<ChainContent, &'static str>,
}

/// The verification walk: feed it every entry in row order, then [`ChainWalk::finish`].
pub(crate) struct ChainWalk {
    expected: u64,
    prev: [u8; 32],
    started: bool,
    verification: AuditVerification,
}

impl ChainWalk {
    pub(crate) fn new() -> Self {
        Self {
            expected: 1,
            prev: GENESIS,
            started: false,
            verification: AuditVerification {
                entries: 0,
                unchained: 0,
                head: None,
                first_broken: None,
            },
        }
    }

    /// Whether a break was found (nothing after it is looked at).
    pub(crate) fn is_broken(&self) -> bool {
        self.verification.first_broken.is_some()
    }

    /// Checks the next entry in row order.
    pub(crate) fn visit(&mut self, entry: StoredLink) {
        if self.is_broken() {
            return;
        }
        let Some(chain_seq) = entry.chain_seq else {
            if self.started {
                self.break_at(
                    self.expected,
                    format!(
                        "an entry without a hash (row {}) was written after the chain began",
                        entry.row_seq
                    ),
                );
            } else {
                self.verification.unchained += 1;
            }
            return;
        };
        self.started = true;
        let seq = match u64::try_from(chain_seq) {
            Ok(seq) if seq == self.expected => seq,
            Ok(seq) if seq > self.expected => {
                let missing = self.expected;
                return self.break_at(
                    missing,
                    format!("entry {missing} is missing: the chain continues with entry {seq}"),
                );
            }
            _ => {
                return self.break_at(
                    self.expected,
                    format!(
                        "entry {} is followed by entry {chain_seq} (out of order or duplicated)",
                        self.expected - 1
                    ),
                );
            }
        };
        if entry.prev_hash.as_deref() != Some(self.prev.as_slice()) {
            let reason = if seq == 1 {
                "its prev_hash is not the genesis hash".to_owned()
            } else {
                format!("its prev_hash is not the hash of entry {}", seq - 1)
            };
            return self.break_at(seq, reason);
        }
        let content = match entry.content {
            Ok(content) => content,
            Err(why) => return self.break_at(seq, format!("its content cannot be read: {why}")),
        };
        let hash = link_hash(seq, &self.prev, &content);
        if entry.hash.as_deref() != Some(hash.as_slice()) {
            return self.break_at(seq, "its content does not match its hash".to_owned());
        }
        self.prev = hash;
        self.expected = seq + 1;
        self.verification.entries += 1;
        self.verification.head = Some(hash);
    }

    fn break_at(&mut self, seq: u64, reason: String) {
        self.verification.first_broken = Some((seq, reason));
    }

    /// The result, once every entry was visited (or a break found).
    pub(crate) fn finish(self) -> AuditVerification {
        self.verification
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::macros::datetime;

    use super::*;

    fn content() -> ChainContent {
        ChainContent {
            at: "2025-03-03T08:15:30.123456Z".into(),
            actor: "caseworker:k123".into(),
            action: "participant.created".into(),
            subject_type: "participant".into(),
            subject_id: "0192f3c4-0000-7000-8000-000000000001".into(),
            details: "{}".into(),
        }
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level_and_drops_whitespace() {
        let value: serde_json::Value =
            serde_json::from_str(r#"{ "b": [ {"z": 1, "a": "x\ny"} ], "a": null, "é": 1.50 }"#)
                .unwrap();
        assert_eq!(
            canonical_json(&value),
            r#"{"a":null,"b":[{"a":"x\ny","z":1}],"é":1.50}"#
        );
    }

    #[test]
    fn instants_are_written_in_utc_to_the_microsecond() {
        let at = datetime!(2025-03-03 09:15:30.123456789 +01:00);
        assert_eq!(
            canonical_instant(to_microsecond(at)).unwrap(),
            "2025-03-03T08:15:30.123456Z"
        );
    }

    #[test]
    fn the_hash_covers_every_field_and_the_link() {
        let base = link_hash(1, &GENESIS, &content());
        assert_eq!(base, link_hash(1, &GENESIS, &content()));
        assert_ne!(base, link_hash(2, &GENESIS, &content()));
        assert_ne!(base, link_hash(1, &[1; 32], &content()));
        let mut moved = content();
        // The same characters split differently between two fields.
        moved.actor = "caseworker:k12".into();
        moved.action = "3participant.created".into();
        assert_ne!(base, link_hash(1, &GENESIS, &moved));
        let mut detailed = content();
        detailed.details = canonical_json(&json!({ "reason": "x" }));
        assert_ne!(base, link_hash(1, &GENESIS, &detailed));
    }

    #[test]
    fn a_walk_finds_a_gap_at_the_missing_entry() {
        let mut walk = ChainWalk::new();
        let mut prev = GENESIS;
        for seq in [1u64, 2, 4] {
            let hash = link_hash(seq, &prev, &content());
            walk.visit(StoredLink {
                row_seq: i64::try_from(seq).unwrap(),
                chain_seq: Some(i64::try_from(seq).unwrap()),
                prev_hash: Some(prev.to_vec()),
                hash: Some(hash.to_vec()),
                content: Ok(content()),
            });
            prev = hash;
        }
        let verification = walk.finish();
        assert_eq!(verification.entries, 2);
        assert_eq!(verification.first_broken.map(|(seq, _)| seq), Some(3));
    }

    #[test]
    fn hex_is_lower_case() {
        assert_eq!(hex(&[0x00, 0xab, 0x0f]), "00ab0f");
    }
}
