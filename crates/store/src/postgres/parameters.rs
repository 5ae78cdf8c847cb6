//! Parameters registered at run time (the G): PostgreSQL runs the statements shared with the other backend
//! (`src/shared/parameters.rs`) with its own dialect.

use super::dialect::*;
use super::*;

include!("../shared/parameters.rs");
