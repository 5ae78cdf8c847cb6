//! Who a gRPC client is: read from the TLS client certificate it presented.
//!
//! Client certificates are issued by the CA configured as `tls.client_ca` (the
//! handshake already proved the chain and the private key). Our profile puts
//! two kinds of URI subject alternative names in them:
//!
//! - exactly one `urn:kvp:municipality:<number>`: the municipality the client
//!   acts for (kommunenummer, four digits);
//! - one or more `urn:kvp:client:<kind>`: `payroll-system` (ClosePeriod,
//!   GetPayRun, ListPayRuns, StreamPayLines, ConfirmPayment,
//!   BatchConfirmPayments) or `timesheet-client` (SubmitTimesheet).
//!
//! A certificate that does not follow the profile is refused as
//! unauthenticated; a valid one asking for another municipality's data, or for
//! an RPC its kind may not call, is refused as permission denied.

use std::collections::BTreeSet;

use tonic::Request;

use crate::error::ServiceError;

const MUNICIPALITY_URI: &str = "urn:kvp:municipality:";
const CLIENT_KIND_URI: &str = "urn:kvp:client:";

/// What a client is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ClientKind {
    /// A municipal payroll system: closes periods, streams lines, confirms payments.
    PayrollSystem,
    /// The timesheet app or case system: submits signed timesheets.
    TimesheetClient,
}

impl ClientKind {
    fn from_uri_suffix(text: &str) -> Option<Self> {
        match text {
            "payroll-system" => Some(Self::PayrollSystem),
            "timesheet-client" => Some(Self::TimesheetClient),
            _ => None,
        }
    }

    /// The name used in certificates and audit entries.
    pub fn name(self) -> &'static str {
        match self {
            Self::PayrollSystem => "payroll-system",
            Self::TimesheetClient => "timesheet-client",
        }
    }
}

/// A client identified by its certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdentity {
    /// The municipality it acts for.
    pub municipality_id: String,
    /// What it may do.
    pub kinds: BTreeSet<ClientKind>,
}

impl ClientIdentity {
    /// Reads the identity from a DER certificate following the profile above.
    pub fn from_certificate(der: &[u8]) -> Result<Self, String> {
        let mut municipalities = Vec::new();
        let mut kinds = BTreeSet::new();
        for uri in kvp_auth::certificate_uris(der)? {
            if let Some(number) = uri.strip_prefix(MUNICIPALITY_URI) {
                municipalities.push(number.to_owned());
            } else if let Some(kind) = uri.strip_prefix(CLIENT_KIND_URI) {
                kinds.insert(ClientKind::from_uri_suffix(kind).ok_or_else(|| {
                    format!("the client certificate names an unknown client kind {kind:?}")
                })?);
            }
        }
        let municipality_id = match municipalities.as_slice() {
            [one] if is_municipality_number(one) => one.clone(),
            [_] => {
                return Err(
                    "the client certificate's municipality is not a four-digit number".into(),
                );
            }
            [] => {
                return Err(format!(
                    "the client certificate names no {MUNICIPALITY_URI}…"
                ));
            }
            _ => return Err("the client certificate names more than one municipality".into()),
        };
        if kinds.is_empty() {
            return Err(format!(
                "the client certificate names no {CLIENT_KIND_URI}…"
            ));
        }
        Ok(Self {
            municipality_id,
            kinds,
        })
    }
}

fn is_municipality_number(text: &str) -> bool {
    text.len() == 4 && text.bytes().all(|b| b.is_ascii_digit())
}

/// Whose data a call may touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Development mode (no TLS): every municipality, and the caller is trusted.
    Unrestricted,
    /// One municipality, proven by a client certificate.
    Municipality(String),
}

impl Scope {
    /// Refuses data of another municipality. The answer does not say whether
    /// the data exists.
    pub fn permit(&self, municipality_id: &str) -> Result<(), ServiceError> {
        match self {
            Self::Municipality(own) if own != municipality_id => {
                Err(ServiceError::PermissionDenied {
                    what: "the client certificate is for another municipality".into(),
                })
            }
            _ => Ok(()),
        }
    }
}

/// The caller of an RPC, as far as authorization is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Whose data it may touch.
    pub scope: Scope,
    /// Who it is, for the audit trail (`payroll-system:0301`).
    pub actor: String,
}

/// Decides who may call what. With TLS configured every call must carry a
/// client certificate of the right kind; without it (development mode, loopback
/// only) every call is allowed.
#[derive(Debug, Clone)]
pub struct Gate {
    /// With TLS on, the client CA's revocation list in force.
    tls: Option<kvp_tls::Revocations>,
}

impl Gate {
    /// A gate that requires client certificates, not revoked by the list in
    /// force, when `tls` is on.
    pub fn new(tls: Option<kvp_tls::Revocations>) -> Self {
        Self { tls }
    }

    /// The caller of `request`, if it may call an RPC open to `allowed` kinds
    /// of client.
    pub fn admit<T>(
        &self,
        request: &Request<T>,
        allowed: &[ClientKind],
    ) -> Result<Caller, ServiceError> {
        let Some(revocations) = &self.tls else {
            return Ok(Caller {
                scope: Scope::Unrestricted,
                actor: "development-mode".into(),
            });
        };
        let unauthenticated = |what: String| ServiceError::Unauthenticated { what };
        let leaf = revocations
            .client_certificate(request)
            .map_err(|why| unauthenticated(why.into()))?;
        let identity = ClientIdentity::from_certificate(&leaf).map_err(unauthenticated)?;
        let Some(kind) = allowed.iter().find(|k| identity.kinds.contains(k)) else {
            let wanted: Vec<_> = allowed.iter().map(|k| k.name()).collect();
            return Err(ServiceError::PermissionDenied {
                what: format!("this call needs a {} certificate", wanted.join(" or ")),
            });
        };
        Ok(Caller {
            actor: format!("{}:{}", kind.name(), identity.municipality_id),
            scope: Scope::Municipality(identity.municipality_id),
        })
    }
}
