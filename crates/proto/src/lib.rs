//! The product's wire contracts: Rust code generated from the protobuf files
//! in `<workspace>/proto/kvp/...` (packages `kvp.payroll.v1`, `kvp.topup.v1`
//! and `kvp.events.v1`), with tonic clients and servers, and the encoded
//! descriptor set for gRPC reflection.
//!
//! This crate owns the generated types and nothing else: no conversions to
//! domain types, no validation, no I/O. The `.proto` files are the source of
//! truth; their field numbers never change once released. The build needs no
//! system `protoc` (protox compiles the files in `build.rs`).

/// Generated code for the `kvp.*` protobuf packages.
pub mod kvp {
    /// The payroll service (`kvp.payroll.*`).
    pub mod payroll {
        /// `kvp.payroll.v1`: signed timesheets (DSSE envelope and
        /// `TimesheetBody`), assessments, month cases and results, pay runs
        /// and lines, and the `PayrollService` client and server.
        #[allow(
            missing_docs,
            clippy::all,
            clippy::pedantic,
            clippy::nursery,
            clippy::unwrap_used,
            clippy::expect_used
        )]
        pub mod v1 {
            tonic::include_proto!("kvp.payroll.v1");
        }
    }

    /// The top-up service (`kvp.topup.*`).
    pub mod topup {
        /// `kvp.topup.v1`: the `EventSinkService` client and server through which
        /// the payroll service delivers its events.
        #[allow(
            missing_docs,
            clippy::all,
            clippy::pedantic,
            clippy::nursery,
            clippy::unwrap_used,
            clippy::expect_used
        )]
        pub mod v1 {
            tonic::include_proto!("kvp.topup.v1");
        }
    }

    /// Domain events (`kvp.events.*`).
    pub mod events {
        /// `kvp.events.v1`: the CloudEvent envelope (mirrors
        /// `io.cloudevents.v1`) and the payroll service's event payloads.
        #[allow(
            missing_docs,
            clippy::all,
            clippy::pedantic,
            clippy::nursery,
            clippy::unwrap_used,
            clippy::expect_used
        )]
        pub mod v1 {
            tonic::include_proto!("kvp.events.v1");
        }
    }
}

/// The encoded `google.protobuf.FileDescriptorSet` of every `kvp.*` file and
/// its imports (with comments), for `tonic-reflection`.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/kvp_descriptor.bin"));

/// DSSE payload type of a signed timesheet: the envelope's payload is a
/// serialized [`kvp::payroll::v1::TimesheetBody`].
pub const TIMESHEET_PAYLOAD_TYPE: &str = "application/vnd.kvp.timesheet.v1+protobuf";

/// CloudEvent `type` strings of the payroll service's events, one per payload
/// message of `kvp.events.v1` (documented there too).
pub mod event_types {
    /// [`TimesheetAccepted`](crate::kvp::events::v1::TimesheetAccepted).
    pub const TIMESHEET_ACCEPTED: &str = "no.kvp.payroll.timesheet.accepted.v1";
    /// [`DeductionDecided`](crate::kvp::events::v1::DeductionDecided).
    pub const DEDUCTION_DECIDED: &str = "no.kvp.payroll.deduction.decided.v1";
    /// [`PeriodClosed`](crate::kvp::events::v1::PeriodClosed).
    pub const PERIOD_CLOSED: &str = "no.kvp.payroll.period.closed.v1";
    /// [`StipendPaid`](crate::kvp::events::v1::StipendPaid).
    pub const STIPEND_PAID: &str = "no.kvp.payroll.stipend.paid.v1";
    /// [`StipendPaymentFailed`](crate::kvp::events::v1::StipendPaymentFailed).
    pub const STIPEND_PAYMENT_FAILED: &str = "no.kvp.payroll.stipend.payment_failed.v1";
    /// [`FactCorrected`](crate::kvp::events::v1::FactCorrected).
    pub const FACT_CORRECTED: &str = "no.kvp.payroll.fact.corrected.v1";
    /// [`SanctionWarned`](crate::kvp::events::v1::SanctionWarned).
    pub const SANCTION_WARNED: &str = "no.kvp.payroll.sanction.warned.v1";
    /// [`SanctionAppealed`](crate::kvp::events::v1::SanctionAppealed).
    pub const SANCTION_APPEALED: &str = "no.kvp.payroll.sanction.appealed.v1";
    /// [`SanctionAppealDecided`](crate::kvp::events::v1::SanctionAppealDecided).
    pub const SANCTION_APPEAL_DECIDED: &str = "no.kvp.payroll.sanction.appeal_decided.v1";
}

#[cfg(test)]
mod tests {
    use prost::Message;
    use prost_types::field_descriptor_proto::Type;
    use prost_types::{FileDescriptorSet, Timestamp};

    use super::FILE_DESCRIPTOR_SET;
    use super::kvp::payroll::v1::{
        DateRange, DayEntry, DayKind, Envelope, Signature, TimesheetBody,
    };

    fn kvp_files() -> Vec<prost_types::FileDescriptorProto> {
        FileDescriptorSet::decode(FILE_DESCRIPTOR_SET)
            .unwrap()
            .file
            .into_iter()
            .filter(|f| f.package().starts_with("kvp."))
            .collect()
    }

    #[test]
    fn a_timesheet_body_survives_encode_and_decode() {
        let body = TimesheetBody {
            participant_id: "4f1c2a7e-9b3d-4c51-8e2a-0d6f7b9c1a23".into(),
            municipality_id: "0301".into(),
            period: Some(DateRange {
                from_date: "2025-03-01".into(),
                to_date: "2025-03-31".into(),
            }),
            supersedes_timesheet_id: "b2a9d0c4-1e7f-4a36-9c58-3f0e2d1b7a64".into(),
            entries: vec![
                DayEntry {
                    date: "2025-03-03".into(),
                    kind: DayKind::SickSelf.into(),
                    hours: "7.5".into(),
                    note: String::new(),
                },
                DayEntry {
                    date: "2025-03-04".into(),
                    kind: DayKind::PaidWork.into(),
                    hours: "3.75".into(),
                    note: "apprentice shift".into(),
                },
            ],
            issued_at: Some(Timestamp {
                seconds: 1_743_465_600,
                nanos: 0,
            }),
            client_reference: "app-2025-03-0042".into(),
        };

        let bytes = body.encode_to_vec();
        let decoded = TimesheetBody::decode(bytes.as_slice()).unwrap();

        assert_eq!(decoded, body);
        assert_eq!(decoded.municipality_id, "0301");
        let period = decoded.period.unwrap();
        assert_eq!(
            (period.from_date.as_str(), period.to_date.as_str()),
            ("2025-03-01", "2025-03-31")
        );
        assert_eq!(decoded.entries.len(), 2);
        assert_eq!(decoded.entries[0].kind(), DayKind::SickSelf);
        assert_eq!(decoded.entries[1].kind(), DayKind::PaidWork);
        assert_eq!(decoded.entries[1].hours, "3.75");
        assert_eq!(decoded.entries[1].note, "apprentice shift");
        assert_eq!(decoded.issued_at.unwrap().seconds, 1_743_465_600);
        assert_eq!(decoded.client_reference, "app-2025-03-0042");
        // Day kinds keep the RULES.md names behind their prefix.
        assert_eq!(DayKind::SickSelf.as_str_name(), "DAY_KIND_SICK_SELF");
    }

    #[test]
    fn the_envelope_has_the_dsse_wire_format() {
        // io.intoto.Envelope { bytes payload = 1; string payloadType = 2;
        // repeated Signature signatures = 3 } with Signature { bytes sig = 1;
        // string keyid = 2 }, encoded by hand.
        let envelope = Envelope {
            payload: b"hi".to_vec(),
            payload_type: "t".into(),
            signatures: vec![Signature {
                sig: vec![0xAB],
                keyid: "k".into(),
            }],
        };
        let expected = [
            0x0A, 2, b'h', b'i', // payload
            0x12, 1, b't', // payload_type
            0x1A, 6, 0x0A, 1, 0xAB, 0x12, 1, b'k', // signatures[0]
        ];
        assert_eq!(envelope.encode_to_vec(), expected);
        assert_eq!(Envelope::decode(expected.as_slice()).unwrap(), envelope);
    }

    #[test]
    fn the_descriptor_set_holds_the_three_packages_and_both_services() {
        let files = kvp_files();
        let packages: std::collections::BTreeSet<&str> =
            files.iter().map(|f| f.package()).collect();
        assert_eq!(
            packages.into_iter().collect::<Vec<_>>(),
            ["kvp.events.v1", "kvp.payroll.v1", "kvp.topup.v1"]
        );

        let services: Vec<String> = files
            .iter()
            .flat_map(|f| {
                f.service
                    .iter()
                    .map(move |s| format!("{}.{}", f.package(), s.name()))
            })
            .collect();
        assert!(services.contains(&"kvp.payroll.v1.PayrollService".to_owned()));
        assert!(services.contains(&"kvp.topup.v1.EventSinkService".to_owned()));

        let payroll_rpcs: Vec<&str> = files
            .iter()
            .flat_map(|f| &f.service)
            .filter(|s| s.name() == "PayrollService")
            .flat_map(|s| s.method.iter().map(|m| m.name()))
            .collect();
        assert_eq!(
            payroll_rpcs,
            [
                "SubmitTimesheet",
                "ClosePeriod",
                "StreamPayLines",
                "GetPayRun",
                "ListPayRuns",
                "ConfirmPayment",
                "BatchConfirmPayments",
                "Simulate"
            ]
        );
    }

    #[test]
    fn no_contract_field_is_a_float() {
        fn check(message: &prost_types::DescriptorProto, path: &str) {
            for field in &message.field {
                assert!(
                    !matches!(field.r#type(), Type::Float | Type::Double),
                    "{path}.{} is a float: money and hours are decimal strings",
                    field.name()
                );
            }
            for nested in &message.nested_type {
                check(nested, &format!("{path}.{}", nested.name()));
            }
        }
        for file in kvp_files() {
            for message in &file.message_type {
                check(message, &format!("{}.{}", file.package(), message.name()));
            }
        }
    }
}
