//! The signer registry: participants', supervisors' and providers' keys and their revocation: SQLite runs the statements shared with the other backend
//! (`src/shared/signer_keys.rs`) with its own dialect.

use super::dialect::*;
use super::*;

include!("../shared/signer_keys.rs");
