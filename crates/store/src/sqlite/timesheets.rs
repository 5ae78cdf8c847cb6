//! Signed timesheets and their day entries: SQLite runs the statements shared with the other backend
//! (`src/shared/timesheets.rs`) with its own dialect.

use super::dialect::*;
use super::*;

include!("../shared/timesheets.rs");
