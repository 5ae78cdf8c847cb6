//! The transactional outbox, relay side: PostgreSQL runs the statements shared with the other backend
//! (`src/shared/outbox.rs`) with its own dialect.

use super::dialect::*;
use super::*;

include!("../shared/outbox.rs");
