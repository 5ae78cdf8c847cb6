//! The KVP stipend rules (kvalifiseringsstønad), as numbered in `RULES.md` R1–R15.
//!
//! This crate owns the exact month calculation: dated parameters (grunnbeløp, the
//! annual factor, the under-25 fraction, the child supplement), municipal policy
//! values, the Norwegian public-holiday calendar, the absence quotas and the month
//! formula with its line-by-line explanation; and the pay-run arithmetic
//! ([`ledger`]: what closed runs paid, what a run pays, the recovery carried).
//!
//! It is a pure core: it does no I/O, reads no clock, spawns nothing and knows
//! nothing of storage or transport. Every fact, the month and the parameters are
//! arguments; results are values. Money and hours are [`rust_decimal::Decimal`],
//! never floats, and every pay line is rounded exactly once (R15).

pub mod bounds;
pub mod calendar;
pub mod case;
mod decimal;
pub mod facts;
pub mod json;
pub mod ledger;
pub mod month;
pub mod parameters;
pub mod policy;
pub mod quotas;
pub mod reporting;

pub use case::{Case, CaseError};
pub use decimal::{format_amount, format_hours};
pub use facts::{
    AbsenceKind, Child, DateRange, DayEntry, Decision, MonthFacts, Offset, OffsetKind, Participant,
    Pause, PauseKind, Programme, YearMonth, is_entitled_on,
};
pub use month::{
    Explain, Flag, LineCode, LineQuantity, MonthResult, PayLine, Quantities, QuantityUnit,
    RulesError, compute_month, compute_month_explained,
};
pub use parameters::{ParameterError, Parameters};
pub use policy::{Policy, PolicyError, PolicyOverrides};
