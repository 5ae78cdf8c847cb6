//! Facts over time (ARCHITECTURE.md, "Facts over time"): every fact that
//! changes money is kept as a history of versions. The first is recorded
//! when the fact is registered; a correction or a void is a new version
//! with who, when and why, and nothing is ever deleted from the history.
//! The fact tables hold the current version of each fact that is not void:
//! what the month calculation reads.

use std::fmt;
use std::str::FromStr;

use kvp_rules::{AbsenceKind, OffsetKind};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::{DecisionOutcome, PauseKind};

/// The kinds of fact that change money, each correctable and voidable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FactKind {
    /// A child (child supplement, child's-sickness quota).
    Child,
    /// A period as a sole carer.
    SoleCarerPeriod,
    /// Another livelihood benefit of a month (R11).
    BenefitOffset,
    /// A programme decision: its period and reference.
    Programme,
    /// An interruption or stop of a programme.
    Pause,
    /// A decision on unexcused hours.
    SanctionDecision,
    /// A grunnbeløp registered at run time; its id is its effective date.
    RegisteredG,
}

impl FactKind {
    /// Every kind.
    pub const ALL: [Self; 7] = [
        Self::Child,
        Self::SoleCarerPeriod,
        Self::BenefitOffset,
        Self::Programme,
        Self::Pause,
        Self::SanctionDecision,
        Self::RegisteredG,
    ];

    /// The stored name (`fact_versions.fact_type`), also its name in audit
    /// entries and events.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Child => "child",
            Self::SoleCarerPeriod => "sole_carer_period",
            Self::BenefitOffset => "benefit_offset",
            Self::Programme => "programme",
            Self::Pause => "pause",
            Self::SanctionDecision => "sanction_decision",
            Self::RegisteredG => "registered_g",
        }
    }
}

impl fmt::Display for FactKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FactKind {
    type Err = super::UnknownValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| super::UnknownValue {
                what: "fact kind",
                value: s.to_owned(),
            })
    }
}

/// What one version of a fact says: the fact's own fields, without its id
/// and owner (which never change).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "fact", rename_all = "snake_case")]
pub enum FactContent {
    /// A child.
    Child {
        /// Birth date.
        birth_date: Date,
        /// The case system's reference, which tells twins apart.
        reference: Option<String>,
    },
    /// A period as a sole carer.
    SoleCarerPeriod {
        /// First day.
        from: Date,
        /// Last day; `None` while open-ended.
        to: Option<Date>,
    },
    /// Another livelihood benefit of a month.
    BenefitOffset {
        /// The month, as its first day.
        month: Date,
        /// Which benefit.
        kind: OffsetKind,
        /// Amount in kroner.
        amount: Decimal,
    },
    /// A programme decision.
    Programme {
        /// First day.
        start: Date,
        /// Last day; `None` while open-ended.
        end: Option<Date>,
        /// The decision's reference.
        decision_reference: String,
    },
    /// A pause of a programme.
    Pause {
        /// First day.
        from: Date,
        /// Last day; `None` while open-ended.
        to: Option<Date>,
        /// Interruption or stop.
        kind: PauseKind,
        /// The decision's reference.
        reference: String,
    },
    /// A decision on the unexcused hours of one day and kind.
    SanctionDecision {
        /// The day (never changes).
        date: Date,
        /// The kind of the hours decided on (never changes).
        entry_kind: AbsenceKind,
        /// Approved (deduct) or rejected (pay).
        outcome: DecisionOutcome,
        /// The decision's reference.
        reference: String,
        /// The reasons given to the participant.
        reason: String,
        /// The hours still deducted after a partly upheld appeal; none: all
        /// the entry's hours.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deducted_hours: Option<Decimal>,
    },
    /// A grunnbeløp registered at run time.
    RegisteredG {
        /// The G in kroner.
        value: Decimal,
        /// The regulation's reference.
        reference: String,
    },
}

impl FactContent {
    /// The kind of fact this is the content of.
    pub fn kind(&self) -> FactKind {
        match self {
            Self::Child { .. } => FactKind::Child,
            Self::SoleCarerPeriod { .. } => FactKind::SoleCarerPeriod,
            Self::BenefitOffset { .. } => FactKind::BenefitOffset,
            Self::Programme { .. } => FactKind::Programme,
            Self::Pause { .. } => FactKind::Pause,
            Self::SanctionDecision { .. } => FactKind::SanctionDecision,
            Self::RegisteredG { .. } => FactKind::RegisteredG,
        }
    }

    /// The first day whose pay this content can change: the earliest month
    /// a change of it must be recomputed from.
    pub fn first_day(&self) -> Option<Date> {
        match self {
            Self::Child { birth_date, .. } => Some(*birth_date),
            Self::SoleCarerPeriod { from, .. } | Self::Pause { from, .. } => Some(*from),
            Self::BenefitOffset { month, .. } => Some(*month),
            Self::Programme { start, .. } => Some(*start),
            Self::SanctionDecision { date, .. } => Some(*date),
            Self::RegisteredG { .. } => None,
        }
    }
}

/// How a version came about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FactChangeKind {
    /// The fact was registered (version 1, or again after a void of a G).
    Recorded,
    /// The fact was corrected: the content is the new one.
    Corrected,
    /// The fact was voided: the content is what was voided.
    Voided,
}

impl FactChangeKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Recorded => "RECORDED",
            Self::Corrected => "CORRECTED",
            Self::Voided => "VOIDED",
        }
    }
}

impl FromStr for FactChangeKind {
    type Err = super::UnknownValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::Recorded, Self::Corrected, Self::Voided]
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| super::UnknownValue {
                what: "fact change",
                value: s.to_owned(),
            })
    }
}

/// One version of a fact, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct FactVersion {
    /// The kind of fact.
    pub kind: FactKind,
    /// The fact's id: a UUID, or a G's effective date.
    pub fact_id: String,
    /// The participant the fact is about (`None` for a G).
    pub participant_id: Option<Uuid>,
    /// 1, 2, … in the order of the changes.
    pub version: i64,
    /// Registered, corrected or voided.
    pub change: FactChangeKind,
    /// The fact as of this version (for a void, what was voided).
    pub content: FactContent,
    /// Why it was corrected or voided (`None` when registered).
    pub reason: Option<String>,
    /// Who recorded the version.
    pub recorded_by: String,
    /// When.
    pub recorded_at: OffsetDateTime,
}

impl FactVersion {
    /// Whether the fact is void from this version on.
    pub fn is_void(&self) -> bool {
        self.change == FactChangeKind::Voided
    }
}

/// A correction or void of a fact (the next version; the audit entry names
/// who and when).
#[derive(Debug, Clone, PartialEq)]
pub struct FactChange {
    /// The kind of fact.
    pub kind: FactKind,
    /// The fact's id.
    pub fact_id: String,
    /// The version the change was made from (`If-Match`).
    pub expected: super::Expected,
    /// The corrected content, or `None` to void the fact.
    pub content: Option<FactContent>,
    /// Why.
    pub reason: String,
}
