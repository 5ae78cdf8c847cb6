//! Municipalities, participants and the facts that change their pay: children, sole-carer periods, other benefits, programmes and pauses: PostgreSQL runs the statements shared with the other backend
//! (`src/shared/participants.rs`) with its own dialect.

use super::dialect::*;
use super::*;

include!("../shared/participants.rs");
