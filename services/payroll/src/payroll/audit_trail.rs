//! The audit trail as read back, one subject at a time.

use kvp_store::AuditEntry;

use super::Payroll;
use crate::error::ServiceError;

impl Payroll {
    /// The audit trail of one subject (participant, programme, signer_key,
    /// timesheet, pay_run, municipality, parameter), oldest first.
    pub async fn audit_trail(
        &self,
        subject_type: &str,
        subject_id: &str,
    ) -> Result<Vec<AuditEntry>, ServiceError> {
        Ok(self.store.list_audit(subject_type, subject_id).await?)
    }
}
