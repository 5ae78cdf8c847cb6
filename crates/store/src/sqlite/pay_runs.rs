//! Pay runs, their lines, the ledger of what was paid and payment confirmations: SQLite runs the statements shared with the other backend
//! (`src/shared/pay_runs.rs`) with its own dialect.

use super::dialect::*;
use super::*;

include!("../shared/pay_runs.rs");
