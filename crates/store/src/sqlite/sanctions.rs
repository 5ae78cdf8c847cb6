//! Caseworkers' decisions on unexcused absence: SQLite runs the statements shared with the other backend
//! (`src/shared/sanctions.rs`) with its own dialect.

use super::dialect::*;
use super::*;

include!("../shared/sanctions.rs");
