//! The identity key the database's numbers are sealed with: PostgreSQL runs the
//! statements shared with the other backend (`src/shared/identity_keys.rs`).

use super::dialect::*;
use super::*;

include!("../shared/identity_keys.rs");
