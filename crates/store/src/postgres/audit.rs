//! The audit trail and its hash chain: PostgreSQL runs the statements shared with the other backend
//! (`src/shared/audit.rs`) with its own dialect.

use super::dialect::*;
use super::*;

include!("../shared/audit.rs");
