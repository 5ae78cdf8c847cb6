//! Signer keys: registering, reading and revoking the keys timesheets are
//! signed with, and turning a stored key into the signing crate's entry.

use kvp_signing::{RegisteredKey, Role, VerifyingKey};
use kvp_store::{SignerKey, SignerRole};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Actor, Payroll, Precondition, audit};
use crate::error::ServiceError;

/// A key's version, its `ETag`: 1 while usable, 2 once revoked (the one
/// change a key ever takes).
pub fn key_version(key: &SignerKey) -> i64 {
    if key.revoked_at.is_some() { 2 } else { 1 }
}

/// Turns a stored key into the signing crate's registry entry.
pub fn registered_key(key: &SignerKey) -> Result<RegisteredKey, ServiceError> {
    let bytes: [u8; 32] =
        key.public_key.as_slice().try_into().map_err(|_| {
            ServiceError::field("public_key", "must be 32 bytes of Ed25519 public key")
        })?;
    let public_key = VerifyingKey::from_bytes(&bytes)
        .map_err(|_| ServiceError::field("public_key", "is not an Ed25519 public key"))?;
    let role = match key.role {
        SignerRole::Participant => Role::Participant,
        SignerRole::Supervisor => Role::Supervisor,
        SignerRole::Provider => Role::Provider,
    };
    Ok(RegisteredKey {
        keyid: key.keyid.clone(),
        person_id: key.person_id.clone(),
        role,
        public_key,
        valid_from: key.valid_from,
        valid_until: key.valid_until,
        revoked_at: key.revoked_at,
    })
}

/// A signer key to register, as given.
#[derive(Debug, Clone)]
pub struct NewSignerKey {
    /// The key id signatures name.
    pub keyid: String,
    /// The person the key belongs to (a participant id for participant keys).
    pub person_id: String,
    /// PARTICIPANT, SUPERVISOR or PROVIDER.
    pub role: String,
    /// Ed25519 public key: base64 of 32 bytes, or a PEM public key.
    pub public_key: String,
    /// Start of validity.
    pub valid_from: OffsetDateTime,
    /// End of validity, if any.
    pub valid_until: Option<OffsetDateTime>,
    /// The municipality a supervisor's key approves for (required for
    /// supervisors; none for other keys).
    pub municipality_id: Option<String>,
}

impl Payroll {
    /// Registers a signer key with its role and validity window; a participant
    /// key must name a registered participant.
    pub async fn register_key(
        &self,
        new: NewSignerKey,
        actor: &Actor,
    ) -> Result<SignerKey, ServiceError> {
        let role: SignerRole = new.role.parse().map_err(|_| {
            ServiceError::field("role", "must be PARTICIPANT, SUPERVISOR or PROVIDER")
        })?;
        let public_key = kvp_signing::parse_public_key(&new.public_key)
            .map_err(|e| ServiceError::field("public_key", e.to_string()))?;
        if new.keyid.trim().is_empty() || new.keyid.chars().count() > 200 {
            return Err(ServiceError::field("keyid", "must be 1–200 characters"));
        }
        if new.valid_until.is_some_and(|u| u <= new.valid_from) {
            return Err(ServiceError::field(
                "valid_until",
                "must be after valid_from",
            ));
        }
        let municipality_id = match (role, new.municipality_id.as_deref()) {
            (SignerRole::Supervisor, Some(municipality)) => {
                self.store
                    .get_municipality(municipality)
                    .await
                    .map_err(|_| {
                        ServiceError::field("municipality_id", "is not a registered municipality")
                    })?;
                Some(municipality.to_owned())
            }
            (SignerRole::Supervisor, None) => {
                return Err(ServiceError::field(
                    "municipality_id",
                    "is required for a supervisor's key: it approves that municipality's \
                     participants only",
                ));
            }
            (_, Some(_)) => {
                return Err(ServiceError::field(
                    "municipality_id",
                    "is a supervisor key's only (a participant's key is the participant's \
                     municipality's; a provider's is national)",
                ));
            }
            (_, None) => None,
        };
        let participant_id = if role == SignerRole::Participant {
            let id = Uuid::parse_str(&new.person_id)
                .map_err(|_| ServiceError::field("person_id", "must be a UUID"))?;
            self.store
                .get_participant(id)
                .await
                .map_err(|_| ServiceError::field("person_id", "is not a registered participant"))?;
            Some(id)
        } else {
            None
        };
        let key = SignerKey {
            keyid: new.keyid,
            person_id: new.person_id,
            participant_id,
            role,
            public_key: public_key.to_bytes().to_vec(),
            valid_from: new.valid_from,
            valid_until: new.valid_until,
            revoked_at: None,
            revocation_reason: None,
            registered_at: crate::clock::now(),
            municipality_id,
        };
        registered_key(&key)?;
        let audit = audit(
            actor,
            "signer_key.registered",
            "signer_key",
            &key.keyid,
            json!({
                "role": key.role.as_str(), "person_id": key.person_id,
                "valid_from": key.valid_from, "valid_until": key.valid_until,
                "municipality_id": key.municipality_id,
            }),
        );
        self.store.register_signer_key(&key, &audit).await.map_err(
            |e| match ServiceError::from(e) {
                ServiceError::AlreadyExists { .. } => ServiceError::AlreadyExists {
                    what: format!("key {} is already registered", key.keyid),
                },
                other => other,
            },
        )?;
        Ok(key)
    }

    /// A signer key.
    pub async fn signer_key(&self, keyid: &str) -> Result<SignerKey, ServiceError> {
        Ok(self.store.get_signer_key(keyid).await?)
    }

    /// The supervisors' keys registered before keys had a municipality and
    /// not revoked: national until an administrator assigns each one.
    pub async fn unassigned_supervisor_keys(&self) -> Result<Vec<SignerKey>, ServiceError> {
        let mut keys = self.store.list_signer_keys().await?;
        keys.retain(|key| {
            key.role == SignerRole::Supervisor
                && key.municipality_id.is_none()
                && key.revoked_at.is_none()
        });
        Ok(keys)
    }

    /// Assigns an unassigned supervisor key to a municipality, once: from
    /// then on it approves that municipality's participants only.
    pub async fn assign_key(
        &self,
        keyid: &str,
        municipality_id: &str,
        actor: &Actor,
    ) -> Result<SignerKey, ServiceError> {
        let entry = audit(
            actor,
            "signer_key.assigned",
            "signer_key",
            keyid,
            json!({"municipality_id": municipality_id}),
        );
        Ok(self
            .store
            .assign_signer_key(keyid, municipality_id, &entry)
            .await?)
    }

    /// Revokes a key from now on, for a reason; timesheets it signed before
    /// stay accepted. Answers the key as it is now.
    pub async fn revoke_key(
        &self,
        keyid: &str,
        reason: &str,
        precondition: Precondition,
        actor: &Actor,
    ) -> Result<SignerKey, ServiceError> {
        if reason.trim().is_empty() {
            return Err(ServiceError::field("reason", "must not be empty"));
        }
        // A revocation names the key as read: an administrator acting on a
        // key another has changed since learns so (412) instead of acting
        // blind.
        let current = key_version(&self.signer_key(keyid).await?);
        match precondition {
            Precondition::None => {
                return Err(ServiceError::PreconditionRequired {
                    what: format!("key {keyid}: a revocation needs If-Match with the ETag read"),
                });
            }
            Precondition::Absent => {
                return Err(ServiceError::PreconditionFailed {
                    what: format!("key {keyid} exists: a revocation changes what exists"),
                });
            }
            Precondition::Version(version) if version != current => {
                return Err(ServiceError::PreconditionFailed {
                    what: format!("key {keyid} is at version {current}: read it again"),
                });
            }
            Precondition::Version(_) | Precondition::Existing => {}
        }
        let now = crate::clock::now();
        let entry = audit(
            actor,
            "signer_key.revoked",
            "signer_key",
            keyid,
            json!({"reason": reason}),
        );
        Ok(self
            .store
            .revoke_signer_key(keyid, now, reason, &entry)
            .await?)
    }
}
