//! What a run freezes into its lines at close for the municipality's payroll
//! system (ARCHITECTURE.md, the handoff): the pay code (lønnsart) of each
//! line code, the a-melding coding in force for the month closed, and the
//! municipality's accounting dimensions. Read from the close's snapshot, so
//! the lines carry what was configured when the run closed, and a re-export
//! is the same file whatever changed since.

use std::collections::HashMap;

use kvp_rules::YearMonth;
use kvp_rules::ledger::PayLineCode;
use kvp_rules::reporting::{IncomeCodes, IncomeCoding};
use kvp_rules::{LineCode, ledger};
use kvp_store::{LineReporting, Municipality};

use crate::error::ServiceError;

/// Every code a run's lines may carry: a month's six (R15) and the recovery.
pub fn pay_line_codes() -> impl Iterator<Item = PayLineCode> {
    LineCode::ALL
        .into_iter()
        .map(PayLineCode::Month)
        .chain(std::iter::once(PayLineCode::RecoveryCarried))
}

/// The handoff settings a close writes into every line.
#[derive(Debug, Clone)]
pub struct FrozenHandoff {
    pay_codes: HashMap<PayLineCode, String>,
    /// How every line is reported and booked.
    pub reporting: LineReporting,
}

impl FrozenHandoff {
    /// What a close of `month` freezes for `municipality`. Every code a line
    /// may carry needs a pay code, unless the municipality chose the
    /// product's codes: otherwise the close stops before anything is
    /// written, naming the codes missing.
    pub fn at_close(municipality: &Municipality, month: YearMonth) -> Result<Self, ServiceError> {
        let mut pay_codes = HashMap::new();
        let mut missing = Vec::new();
        for code in pay_line_codes() {
            match municipality.pay_codes[code.as_str()].as_str() {
                Some(pay_code) => {
                    pay_codes.insert(code, pay_code.to_owned());
                }
                None if municipality.handoff.use_product_codes => {
                    pay_codes.insert(code, code.as_str().to_owned());
                }
                None => missing.push(code.as_str()),
            }
        }
        if !missing.is_empty() {
            return Err(ServiceError::FailedPrecondition {
                reason: crate::error::reason::PAY_CODES_MISSING,
                what: format!(
                    "municipality {} has no pay code for {}: register them in its pay_codes, \
                     or set use_product_codes to import lines by the product's codes",
                    municipality.id,
                    missing.join(", ")
                ),
            });
        }
        let income = income_coding(month)?;
        Ok(Self {
            pay_codes,
            reporting: LineReporting {
                income,
                employer_contribution: municipality.handoff.employer_contribution,
                accounting: municipality.handoff.accounting.clone(),
            },
        })
    }

    /// The pay code a line of `code` is imported by.
    pub fn pay_code(&self, code: ledger::PayLineCode) -> String {
        self.pay_codes
            .get(&code)
            .cloned()
            .unwrap_or_else(|| code.as_str().to_owned())
    }
}

/// The a-melding coding in force for `month` (on its first day), from the
/// shipped code file.
pub fn income_coding(month: YearMonth) -> Result<IncomeCoding, ServiceError> {
    let codes = IncomeCodes::shipped().map_err(ServiceError::internal)?;
    codes
        .at(month.first_day())
        .cloned()
        .ok_or_else(|| ServiceError::FailedPrecondition {
            reason: crate::error::reason::A_MELDING_CODING_MISSING,
            what: format!("no a-melding coding is in force for {month}"),
        })
}
