//! A client of the payroll service's gRPC contract (`kvp.payroll.v1`), for
//! timesheet clients and payroll systems written in Rust.
//!
//! - [`Timesheet`]: a typed builder of a timesheet body (dates as dates, hours
//!   as decimals), signed as a DSSE envelope (Ed25519, the payload type the
//!   service verifies) by the participant and the supervisor into the request
//!   `SubmitTimesheet` takes.
//! - [`PayrollClient`]: a connection (mutual TLS from PEM files, or plain
//!   HTTP/2 in development) with the calls a payroll system makes: submit,
//!   close, list runs, stream a run's lines and confirm payments. Every call of
//!   the contract is idempotent, so each is retried when the service is
//!   UNAVAILABLE (a restart, a dropped connection), with growing pauses; a
//!   broken line stream resumes after the last line received.
//! - [`SandboxFolder`]: the credentials and synthetic municipality that
//!   `kvp-payroll sandbox` writes, read from its folder.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use kvp_client::{ClientRole, DayKind, SandboxFolder, Timesheet};
//! use rust_decimal::Decimal;
//!
//! let sandbox = SandboxFolder::open("sandbox")?;
//! let participant = &sandbox.participants()[1];
//! let today = sandbox.today();
//! let request = Timesheet::for_month(&participant.id, sandbox.municipality_id(), today.year(), today.month())
//!     .client_reference("my-first-timesheet")
//!     .day(today.replace_day(1)?, DayKind::SickSelf, Decimal::new(75, 1))
//!     .sign(&[
//!         (participant.signer.keyid.as_str(), &sandbox.signing_key(&participant.signer)?),
//!         (sandbox.supervisor().keyid.as_str(), &sandbox.signing_key(sandbox.supervisor())?),
//!     ]);
//! let client = sandbox.connect(ClientRole::TimesheetClient).await?;
//! let accepted = client.submit(&request).await?;
//! println!("timesheet {} (duplicate: {})", accepted.timesheet_id, accepted.duplicate);
//! # Ok(())
//! # }
//! ```

mod connection;
mod retry;
mod sandbox;
mod timesheet;

pub use connection::{ClientTls, ConnectError, PayLines, PayrollClient};
pub use kvp_proto::kvp::payroll::v1 as pb;
pub use kvp_signing::SigningKey;
pub use pb::DayKind;
pub use retry::Retry;
pub use sandbox::{
    CertificateFiles, ClientCertificates, ClientRole, MANIFEST, Manifest, Programme, SandboxError,
    SandboxFolder, SandboxParticipant, SandboxSigner,
};
pub use timesheet::{Timesheet, signed_payload, signed_timesheet};
