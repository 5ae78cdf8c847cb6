//! Idempotency keys: SQLite runs the statements shared with the other backend
//! (`src/shared/idempotency.rs`) with its own dialect.

use super::dialect::*;
use super::*;

include!("../shared/idempotency.rs");
