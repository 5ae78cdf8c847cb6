//! Whose a request's resource is: the municipality a token must be for,
//! read through the payroll core.

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::StatusCode;
use bytes::Bytes;
use kvp_store::{SignerKey, SignerRole};
use serde::Deserialize;
use uuid::Uuid;

use super::{Owner, Refusal};
use crate::error::ServiceError;
use crate::payroll::Payroll;

/// Whose a resource is.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Jurisdiction {
    /// Nobody's: open to every allowed role.
    Open,
    /// The nation's: readable by all, changed by national tokens only.
    National,
    /// One municipality's.
    Municipal(String),
}

impl Jurisdiction {
    /// Whether a token for `municipality` may read (or change) it.
    pub(super) fn admits(&self, municipality: &str, changes: bool) -> Result<(), Refusal> {
        match self {
            Self::Open => Ok(()),
            Self::National if !changes => Ok(()),
            Self::National => Err(Refusal::Forbidden(format!(
                "this is a national resource: the token is for municipality {municipality}; \
                 changing it needs a national token"
            ))),
            Self::Municipal(owner) if owner == municipality => Ok(()),
            Self::Municipal(_) => Err(Refusal::Forbidden(format!(
                "the resource is outside the token's municipality {municipality}"
            ))),
        }
    }
}

/// Finds whose the request's resource is; hands the request back (with its
/// body restored when the body had to be read).
pub(super) async fn jurisdiction(
    owner: Owner,
    payroll: &Payroll,
    request: Request,
) -> Result<(Jurisdiction, Request), Refusal> {
    let (mut parts, body) = request.into_parts();
    let params = RawPathParams::from_request_parts(&mut parts, &())
        .await
        .ok();
    let param = |name: &str| -> Result<String, Refusal> {
        params
            .as_ref()
            .and_then(|p| {
                p.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_owned())
            })
            .ok_or_else(|| {
                Refusal::Service(ServiceError::internal(anyhow::anyhow!(
                    "the route has no {name} parameter"
                )))
            })
    };
    let mut body = Some(body);
    let found = match owner {
        Owner::Nobody => Jurisdiction::Open,
        Owner::Nation => Jurisdiction::National,
        Owner::Municipality => Jurisdiction::Municipal(param("id")?),
        Owner::Participant => of_participant(payroll, uuid(&param("id")?, "id")?).await?,
        Owner::Programme => of_programme(payroll, uuid(&param("id")?, "id")?).await?,
        Owner::Fact => {
            let kind = crate::payroll::kind_of_segment(&param("kind")?).ok_or_else(|| {
                ServiceError::NotFound {
                    what: "this kind of fact".into(),
                }
            })?;
            match payroll.fact(kind, &param("id")?).await?.participant_id {
                Some(participant) => of_participant(payroll, participant).await?,
                None => Jurisdiction::National,
            }
        }
        Owner::Decision => {
            let id = param("id")?;
            match payroll
                .fact(kvp_store::FactKind::SanctionDecision, &id)
                .await?
                .participant_id
            {
                Some(participant) => of_participant(payroll, participant).await?,
                None => Jurisdiction::National,
            }
        }
        Owner::Run => Jurisdiction::Municipal(
            payroll
                .run(uuid(&param("id")?, "id")?)
                .await?
                .municipality_id,
        ),
        Owner::SignerKey => of_key(payroll, &payroll.signer_key(&param("keyid")?).await?).await?,
        Owner::AuditSubject => {
            of_audit_subject(payroll, &param("subject_type")?, &param("subject_id")?).await?
        }
        Owner::NewParticipant | Owner::NewSignerKey => {
            // Read as the handler's extractor reads it: the router's body
            // limit applies and is reported as 413.
            let limit = parts
                .extensions
                .get::<crate::rest::limits::RequestBounds>()
                .map(|b| b.max_body_bytes);
            let whole = Request::from_parts(parts.clone(), body.take().unwrap_or_default());
            let bytes = Bytes::from_request(whole, &())
                .await
                .map_err(|e| match e.status() {
                    StatusCode::PAYLOAD_TOO_LARGE => ServiceError::TooLarge {
                        limit: limit.unwrap_or_default(),
                    },
                    _ => ServiceError::field("body", e.body_text()),
                })?;
            let found = if owner == Owner::NewParticipant {
                #[derive(Deserialize)]
                struct NewParticipant {
                    municipality_id: String,
                }
                let new: NewParticipant = crate::rest::extract::parse(&bytes)?;
                Jurisdiction::Municipal(new.municipality_id)
            } else {
                of_new_key(payroll, &crate::rest::extract::parse(&bytes)?).await?
            };
            body = Some(Body::from(bytes));
            found
        }
    };
    let request = Request::from_parts(parts, body.unwrap_or_default());
    Ok((found, request))
}

fn uuid(text: &str, field: &str) -> Result<Uuid, ServiceError> {
    Uuid::parse_str(text).map_err(|_| ServiceError::field(field, "must be a UUID"))
}

async fn of_participant(payroll: &Payroll, id: Uuid) -> Result<Jurisdiction, Refusal> {
    Ok(Jurisdiction::Municipal(
        payroll.participant(id).await?.municipality_id,
    ))
}

async fn of_programme(payroll: &Payroll, id: Uuid) -> Result<Jurisdiction, Refusal> {
    of_participant(payroll, payroll.programme(id).await?.participant_id).await
}

async fn of_key(payroll: &Payroll, key: &SignerKey) -> Result<Jurisdiction, Refusal> {
    match (key.participant_id, &key.municipality_id) {
        (Some(participant), _) => of_participant(payroll, participant).await,
        (None, Some(municipality)) => Ok(Jurisdiction::Municipal(municipality.clone())),
        (None, None) => Ok(Jurisdiction::National),
    }
}

/// The part of a new signer key that says whose it is.
#[derive(Deserialize)]
struct NewKey {
    role: String,
    person_id: String,
    #[serde(default)]
    municipality_id: Option<String>,
}

async fn of_new_key(payroll: &Payroll, key: &NewKey) -> Result<Jurisdiction, Refusal> {
    let role: SignerRole = key
        .role
        .parse()
        .map_err(|_| ServiceError::field("role", "must be PARTICIPANT, SUPERVISOR or PROVIDER"))?;
    match (role, &key.municipality_id) {
        (SignerRole::Participant, _) => {}
        // A supervisor's key approves for its municipality: that
        // municipality's administrators register it.
        (SignerRole::Supervisor, Some(municipality)) => {
            return Ok(Jurisdiction::Municipal(municipality.clone()));
        }
        _ => return Ok(Jurisdiction::National),
    }
    let participant = payroll
        .participant(uuid(&key.person_id, "person_id")?)
        .await
        .map_err(|_| ServiceError::field("person_id", "is not a registered participant"))?;
    Ok(Jurisdiction::Municipal(participant.municipality_id))
}

/// Whose audit trail it is, by the subject types the service writes.
async fn of_audit_subject(
    payroll: &Payroll,
    subject_type: &str,
    subject_id: &str,
) -> Result<Jurisdiction, Refusal> {
    let id = || uuid(subject_id, "subject_id");
    Ok(match subject_type {
        "municipality" => Jurisdiction::Municipal(subject_id.to_owned()),
        "participant" => of_participant(payroll, id()?).await?,
        "programme" => of_programme(payroll, id()?).await?,
        "timesheet" => Jurisdiction::Municipal(payroll.timesheet(id()?).await?.municipality_id),
        "pay_run" => Jurisdiction::Municipal(payroll.run(id()?).await?.municipality_id),
        "signer_key" => of_key(payroll, &payroll.signer_key(subject_id).await?).await?,
        "parameter" => Jurisdiction::National,
        // A subject type added later is closed until it is placed here.
        _ => {
            return Err(Refusal::Forbidden(
                "the audit trail of this subject type is open to national auditors only".into(),
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

    use super::*;

    #[test]
    fn national_resources_are_read_by_all_and_changed_by_national_tokens_only() {
        assert!(Jurisdiction::National.admits("0301", false).is_ok());
        assert!(Jurisdiction::National.admits("0301", true).is_err());
        assert!(Jurisdiction::Open.admits("0301", true).is_ok());
        assert!(
            Jurisdiction::Municipal("0301".into())
                .admits("0301", true)
                .is_ok()
        );
        assert!(
            Jurisdiction::Municipal("0301".into())
                .admits("4601", false)
                .is_err()
        );
    }
}
