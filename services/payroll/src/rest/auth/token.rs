//! Bearer token verification: `kvp_auth`'s verifier over this service's
//! [`Role`]s, or nothing at all in development mode.

use std::sync::Arc;

use kvp_auth::Verifier;

use super::Role;
use crate::config::{AuthConfig, ConfigError};

impl kvp_auth::Role for Role {
    const CLAIMS_SHAPE: &'static str = "the token's claims do not fit: sub a string; role \
         caseworker, payroll_operator, auditor or administrator; municipality a string";
    const MUST_NAME_MUNICIPALITY: &'static str =
        "a caseworker or payroll_operator token must name its municipality";

    fn may_be_national(self) -> bool {
        Role::may_be_national(self)
    }
}

/// Verifies bearer tokens; in development mode (no `auth` configured) it
/// checks nothing and lets `x-kvp-actor` name the caller.
#[derive(Clone)]
pub struct Authenticator(Option<Arc<Verifier<Role>>>);

impl Authenticator {
    /// Development mode for `None`; otherwise the configured issuer, audience
    /// and keys (every key checked).
    pub fn new(config: Option<&AuthConfig>) -> Result<Self, ConfigError> {
        let Some(config) = config else {
            return Ok(Self(None));
        };
        Ok(Self(Some(Arc::new(Verifier::new(config, "auth")?))))
    }

    /// The verifier; none in development mode.
    pub(super) fn verifier(&self) -> Option<&Verifier<Role>> {
        self.0.as_deref()
    }
}
