//! Facts over time — every version of a fact that changes money, its corrections and voids: PostgreSQL runs the statements shared with the other backend
//! (`src/shared/facts.rs`) with its own dialect.

use super::dialect::*;
use super::*;

include!("../shared/facts.rs");
