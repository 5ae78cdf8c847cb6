//! The gRPC `Simulate` RPC: every public golden vector comes out exactly, bad
//! facts are refused naming the proto field, and a municipality's policy profile
//! is the base for the case's own policy.
//!
//! The vectors' JSON input is turned into a `MonthCase` here, field by field,
//! independently of the service's own conversion, so that a mistake in either
//! shows as a mismatch.

use std::path::{Path, PathBuf};

use kvp_proto::kvp::payroll::v1 as pb;
use kvp_system_tests::{TestApp, violations};
use serde_json::{Value, json};

fn vector_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/rules/tests/vectors/public");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

fn vector(name: &str) -> Value {
    let file = vector_files()
        .into_iter()
        .find(|f| {
            f.file_name()
                .is_some_and(|n| n.to_string_lossy().contains(name))
        })
        .unwrap_or_else(|| panic!("no vector {name}"));
    serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap()
}

/// A JSON string or number as the proto's decimal or date string; absent is
/// empty. Numbers keep their written text (serde_json's arbitrary precision).
fn text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => panic!("expected a string or number, found {other}"),
    }
}

/// Panics on a key the conversion below does not carry, so a vector using a
/// new field cannot pass by having it dropped.
fn only_keys(object: &Value, known: &[&str]) {
    for key in object.as_object().unwrap().keys() {
        assert!(known.contains(&key.as_str()), "unconverted field {key}");
    }
}

fn table(value: &Value) -> Vec<pb::DatedValue> {
    value
        .as_object()
        .map(|entries| {
            entries
                .iter()
                .map(|(date, value)| pb::DatedValue {
                    effective_from: date.clone(),
                    value: text(value),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn enum_value(prefix: &str, name: &Value, lookup: fn(&str) -> Option<i32>) -> i32 {
    let name = format!("{prefix}_{}", name.as_str().unwrap());
    lookup(&name).unwrap_or_else(|| panic!("no enum value {name}"))
}

fn day_kind(name: &str) -> Option<i32> {
    pb::DayKind::from_str_name(name).map(|k| k as i32)
}

fn pause_kind(name: &str) -> Option<i32> {
    pb::PauseKind::from_str_name(name).map(|k| k as i32)
}

fn offset_kind(name: &str) -> Option<i32> {
    pb::OffsetKind::from_str_name(name).map(|k| k as i32)
}

fn decision(name: &str) -> Option<i32> {
    pb::SanctionDecision::from_str_name(name).map(|k| k as i32)
}

fn list(value: &Value) -> &[Value] {
    value.as_array().map(Vec::as_slice).unwrap_or_default()
}

fn policy_value(value: &Value) -> Option<u32> {
    value.as_u64().map(|v| u32::try_from(v).unwrap())
}

/// The vector's `input` as the proto `MonthCase`.
fn month_case(input: &Value) -> pb::MonthCase {
    only_keys(
        input,
        &[
            "month",
            "parameters",
            "participant",
            "programme",
            "programmes",
            "covered",
            "days",
            "policy",
            "offsets",
        ],
    );
    let participant = &input["participant"];
    only_keys(participant, &["birth_date", "children", "sole_carer"]);
    let programme = |programme: &Value| {
        only_keys(programme, &["start", "end", "pauses"]);
        pb::Programme {
            start_date: text(&programme["start"]),
            end_date: text(&programme["end"]),
            pauses: list(&programme["pauses"])
                .iter()
                .map(|p| {
                    only_keys(p, &["from", "to", "kind"]);
                    pb::Pause {
                        from_date: text(&p["from"]),
                        to_date: text(&p["to"]),
                        kind: enum_value("PAUSE_KIND", &p["kind"], pause_kind),
                    }
                })
                .collect(),
        }
    };
    pb::MonthCase {
        month: text(&input["month"]),
        participant: Some(pb::Participant {
            birth_date: text(&participant["birth_date"]),
            children: list(&participant["children"])
                .iter()
                .map(|c| {
                    only_keys(c, &["birth_date"]);
                    pb::Child {
                        birth_date: text(&c["birth_date"]),
                    }
                })
                .collect(),
            sole_carer: participant["sole_carer"].as_bool().unwrap_or(false),
        }),
        programme: input.get("programme").map(programme),
        programmes: list(&input["programmes"]).iter().map(programme).collect(),
        covered: list(&input["covered"])
            .iter()
            .map(|r| {
                only_keys(r, &["from", "to"]);
                pb::DateRange {
                    from_date: text(&r["from"]),
                    to_date: text(&r["to"]),
                }
            })
            .collect(),
        days: list(&input["days"])
            .iter()
            .map(|d| {
                only_keys(d, &["date", "kind", "hours", "decision"]);
                pb::CaseDayEntry {
                    date: text(&d["date"]),
                    kind: enum_value("DAY_KIND", &d["kind"], day_kind),
                    hours: text(&d["hours"]),
                    decision: if d["decision"].is_null() {
                        pb::SanctionDecision::Pending as i32
                    } else {
                        enum_value("SANCTION_DECISION", &d["decision"], decision)
                    },
                }
            })
            .collect(),
        policy: input.get("policy").map(|p| {
            only_keys(
                p,
                &[
                    "auto_apply_unexcused",
                    "self_cert_min_weeks",
                    "self_cert_max_days",
                    "self_cert_max_occurrences",
                    "leave_days_per_year",
                    "child_sick_days_per_year",
                    "child_sick_days_many_children",
                    "long_sickness_days",
                ],
            );
            pb::PolicyOverrides {
                auto_apply_unexcused: p["auto_apply_unexcused"].as_bool(),
                self_cert_min_weeks: policy_value(&p["self_cert_min_weeks"]),
                self_cert_max_days: policy_value(&p["self_cert_max_days"]),
                self_cert_max_occurrences: policy_value(&p["self_cert_max_occurrences"]),
                leave_days_per_year: policy_value(&p["leave_days_per_year"]),
                child_sick_days_per_year: policy_value(&p["child_sick_days_per_year"]),
                child_sick_days_many_children: policy_value(&p["child_sick_days_many_children"]),
                long_sickness_days: policy_value(&p["long_sickness_days"]),
            }
        }),
        offsets: list(&input["offsets"])
            .iter()
            .map(|o| {
                only_keys(o, &["kind", "amount"]);
                pb::Offset {
                    kind: enum_value("OFFSET_KIND", &o["kind"], offset_kind),
                    amount: text(&o["amount"]),
                }
            })
            .collect(),
        parameters: input.get("parameters").map(|p| {
            only_keys(
                p,
                &[
                    "g",
                    "annual_g_factor",
                    "under_25_factor",
                    "child_supplement_per_day",
                ],
            );
            pb::Parameters {
                g: table(&p["g"]),
                annual_g_factor: table(&p["annual_g_factor"]),
                under_25_factor: text(&p["under_25_factor"]),
                child_supplement_per_day: table(&p["child_supplement_per_day"]),
            }
        }),
    }
}

/// The response in the shape of a vector's `expected` block.
fn expected_shape(result: &pb::MonthResult) -> Value {
    let lines: serde_json::Map<String, Value> = result
        .lines
        .iter()
        .map(|l| {
            let code = pb::LineCode::try_from(l.code).unwrap().as_str_name();
            let code = code.strip_prefix("LINE_CODE_").unwrap().to_owned();
            (code, Value::String(l.amount.clone()))
        })
        .collect();
    let q = result.quantities.as_ref().unwrap();
    let flags: Vec<&str> = result
        .flags
        .iter()
        .map(|f| {
            let name = pb::Flag::try_from(*f).unwrap().as_str_name();
            name.strip_prefix("FLAG_").unwrap()
        })
        .collect();
    json!({
        "lines": lines,
        "total": result.total,
        "quantities": {
            "base_days": q.base_days,
            "absence_hours": q.absence_hours,
            "unpaid_hours": q.unpaid_hours,
            "wage_hours": q.wage_hours,
        },
        "flags": flags,
    })
}

async fn simulate(
    app: &TestApp,
    facts: pb::MonthCase,
    municipality_id: &str,
) -> Result<pb::MonthResult, tonic::Status> {
    let response = app
        .grpc
        .clone()
        .simulate(pb::SimulateRequest {
            facts: Some(facts),
            municipality_id: municipality_id.to_owned(),
        })
        .await?;
    Ok(response.into_inner().result.unwrap())
}

#[tokio::test]
async fn every_public_vector_computes_exactly_over_grpc() {
    let app = TestApp::spawn().await;
    let files = vector_files();
    assert_eq!(files.len(), 44, "the public vector set has 44 cases");
    let mut failures = Vec::new();
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let vector: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        let result = simulate(&app, month_case(&vector["input"]), "")
            .await
            .unwrap_or_else(|status| panic!("{name}: {status:?}"));
        let actual = expected_shape(&result);
        for key in ["lines", "total", "quantities", "flags"] {
            if actual[key] != vector["expected"][key] {
                failures.push(format!(
                    "{name} {key}:\n  expected {}\n  actual   {}",
                    vector["expected"][key], actual[key]
                ));
            }
        }
        assert_eq!(result.month, vector["input"]["month"], "{name}");
        let order: Vec<i32> = result.lines.iter().map(|l| l.code).collect();
        assert_eq!(
            order,
            [
                pb::LineCode::KvpBase,
                pb::LineCode::KvpDeductionAbsence,
                pb::LineCode::KvpDeductionUnpaidLeave,
                pb::LineCode::KvpDeductionWage,
                pb::LineCode::KvpChildSupplement,
                pb::LineCode::KvpDeductionOtherBenefits,
            ]
            .map(|c| c as i32),
            "{name}: lines in the order of R15"
        );
        for line in &result.lines {
            let first = line.explanation.first();
            assert!(
                first.is_some_and(|e| !e.text.is_empty() && !e.legal_reference.is_empty()),
                "{name}: line {} has no explanation with a legal reference",
                line.code
            );
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    app.stop().await;
}

#[tokio::test]
async fn a_line_explains_itself_with_rule_and_law() {
    let app = TestApp::spawn().await;
    let vector = vector("36-mixed-young-parent");
    let result = simulate(&app, month_case(&vector["input"]), "")
        .await
        .unwrap();
    let absence = result
        .lines
        .iter()
        .find(|l| l.code == pb::LineCode::KvpDeductionAbsence as i32)
        .unwrap();
    assert_eq!(absence.amount, "-251.52");
    assert_eq!(absence.explanation.len(), 2, "{:?}", absence.explanation);
    assert_eq!(absence.explanation[0].rule, "R5–R8, R10, R15");
    assert_eq!(
        absence.explanation[0].legal_reference,
        "sosialtjenesteloven § 36"
    );
    assert!(
        absence.explanation[1]
            .text
            .starts_with("2025-10-14: 3 h sanctioned"),
        "{:?}",
        absence.explanation[1]
    );
    app.stop().await;
}

#[tokio::test]
async fn values_beyond_their_bounds_are_refused_naming_the_proto_field() {
    let app = TestApp::spawn().await;
    let good = month_case(&vector("36-mixed-young-parent")["input"]);
    let refused = |status: tonic::Status| {
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
        violations(&status)
    };
    let one = |field: &str, description: &str| vec![(field.to_owned(), description.to_owned())];

    let mut facts = good.clone();
    let huge = "79228162514264337593543950335";
    facts.offsets = [pb::OffsetKind::Sykepenger, pb::OffsetKind::Dagpenger]
        .map(|kind| pb::Offset {
            kind: kind as i32,
            amount: huge.into(),
        })
        .to_vec();
    let status = simulate(&app, facts, "").await.unwrap_err();
    assert_eq!(
        refused(status),
        one(
            "facts.offsets[0].amount",
            &format!("{huge} is above 10000000 kr, the largest monthly benefit of sense")
        )
    );

    let mut facts = good.clone();
    facts.parameters.as_mut().unwrap().g[6].value = "10000000.01".into();
    let status = simulate(&app, facts, "").await.unwrap_err();
    assert_eq!(
        refused(status),
        one(
            "facts.parameters.g[6].value",
            "10000000.01 is above 10000000, the largest value of sense"
        )
    );

    let mut facts = good.clone();
    facts.parameters.as_mut().unwrap().child_supplement_per_day[0].value = "10000.5".into();
    let status = simulate(&app, facts, "").await.unwrap_err();
    assert_eq!(
        refused(status),
        one(
            "facts.parameters.child_supplement_per_day[0].value",
            "10000.5 is above 10000, the largest value of sense"
        )
    );

    let mut facts = good.clone();
    facts.parameters.as_mut().unwrap().under_25_factor =
        "79228162514264337593543950335/79228162514264337593543950335".into();
    let status = simulate(&app, facts, "").await.unwrap_err();
    let (field, description) = refused(status).remove(0);
    assert_eq!(field, "facts.parameters.under_25_factor");
    assert!(
        description.ends_with("is above 1000, the largest of sense"),
        "{description}"
    );

    let mut facts = good.clone();
    facts.policy = Some(pb::PolicyOverrides {
        leave_days_per_year: Some(367),
        ..Default::default()
    });
    let status = simulate(&app, facts, "").await.unwrap_err();
    assert_eq!(
        refused(status),
        one(
            "facts.policy.leave_days_per_year",
            "must be between 0 and 366 days"
        )
    );

    let mut facts = good.clone();
    let mut twin = facts.days[0].clone();
    facts.days[0].hours = "20".into();
    twin.hours = "4.25".into();
    facts.days.push(twin);
    let last = facts.days.len() - 1;
    let status = simulate(&app, facts, "").await.unwrap_err();
    assert_eq!(
        refused(status),
        one(
            &format!("facts.days[{last}].hours"),
            "the day's entries add up to more than 24 hours"
        )
    );
    app.stop().await;
}

#[tokio::test]
async fn bad_facts_are_refused_naming_the_proto_field() {
    let app = TestApp::spawn().await;
    let good = month_case(&vector("36-mixed-young-parent")["input"]);
    let refused = |status: tonic::Status| {
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
        violations(&status)
    };

    let mut facts = good.clone();
    facts.days[1].hours = "25".into();
    let status = simulate(&app, facts, "").await.unwrap_err();
    assert_eq!(
        refused(status),
        [(
            "facts.days[1].hours".to_owned(),
            "25 is outside 0–24".to_owned()
        )]
    );

    let mut facts = good.clone();
    facts.days[2].hours = "three".into();
    let status = simulate(&app, facts, "").await.unwrap_err();
    assert_eq!(refused(status)[0].0, "facts.days[2].hours");

    let mut facts = good.clone();
    facts.days[0].kind = pb::DayKind::Unspecified as i32;
    facts.offsets.push(pb::Offset {
        kind: pb::OffsetKind::Unspecified as i32,
        amount: "100".into(),
    });
    let status = simulate(&app, facts, "").await.unwrap_err();
    let fields: Vec<String> = refused(status).into_iter().map(|v| v.0).collect();
    assert_eq!(fields, ["facts.days[0].kind", "facts.offsets[0].kind"]);

    let mut facts = good.clone();
    facts.programme.as_mut().unwrap().start_date = "2024-02-30".into();
    let status = simulate(&app, facts, "").await.unwrap_err();
    assert_eq!(refused(status)[0].0, "facts.programme.start_date");

    let mut facts = good.clone();
    facts.covered[0].to_date = "soon".into();
    let status = simulate(&app, facts, "").await.unwrap_err();
    assert_eq!(refused(status)[0].0, "facts.covered[0].to_date");

    let mut facts = good.clone();
    facts.participant = None;
    let status = simulate(&app, facts, "").await.unwrap_err();
    assert_eq!(
        refused(status),
        [("facts.participant".to_owned(), "is required".to_owned())]
    );

    let mut facts = good.clone();
    facts.month = "2025-13".into();
    let status = simulate(&app, facts, "").await.unwrap_err();
    assert_eq!(refused(status)[0].0, "facts.month");

    // The G table's seventh entry (index 6) moved before its predecessor.
    let mut facts = good.clone();
    let g = &mut facts.parameters.as_mut().unwrap().g;
    g[6].effective_from = "2019-06-01".into();
    let status = simulate(&app, facts, "").await.unwrap_err();
    let (field, description) = refused(status).remove(0);
    assert_eq!(field, "facts.parameters.g[6].effective_from");
    assert!(description.contains("date order"), "{description}");

    let mut facts = good.clone();
    facts.parameters.as_mut().unwrap().annual_g_factor[0].value = "two".into();
    let status = simulate(&app, facts, "").await.unwrap_err();
    assert_eq!(
        refused(status)[0].0,
        "facts.parameters.annual_g_factor[0].value"
    );

    let status = app
        .grpc
        .clone()
        .simulate(pb::SimulateRequest::default())
        .await
        .unwrap_err();
    assert_eq!(
        refused(status),
        [("facts".to_owned(), "is required".to_owned())]
    );
    app.stop().await;
}

#[tokio::test]
async fn a_municipality_policy_profile_is_the_base_for_the_case_policy() {
    let app = TestApp::spawn().await;
    // The vector's policy, taken out of the case and made the municipality's.
    let vector = vector("40-municipal-policy-overrides");
    let mut input = vector["input"].clone();
    let policy = input.as_object_mut().unwrap().remove("policy").unwrap();
    let (status, body) = app
        .call(
            reqwest::Method::PUT,
            "/v1/municipalities/4601",
            Some(json!({"name": "Bergen", "policy_overrides": policy})),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let national = simulate(&app, month_case(&input), "").await.unwrap();
    assert_ne!(
        expected_shape(&national)["total"],
        vector["expected"]["total"],
        "the national defaults must give another month, or the test proves nothing"
    );

    let bergen = simulate(&app, month_case(&input), "4601").await.unwrap();
    let actual = expected_shape(&bergen);
    for key in ["lines", "total", "quantities", "flags"] {
        assert_eq!(actual[key], vector["expected"][key], "{key}");
    }

    // The case's own policy still overrides the profile: back to the national
    // leave quota of 25 days, the 21st day of leave is within it.
    let mut facts = month_case(&input);
    facts.policy = Some(pb::PolicyOverrides {
        leave_days_per_year: Some(25),
        ..Default::default()
    });
    let layered = expected_shape(&simulate(&app, facts, "4601").await.unwrap());
    assert_eq!(
        layered["flags"],
        json!(["SELF_CERT_QUOTA_EXCEEDED", "UNEXCUSED_PENDING_DECISION"])
    );
    assert_eq!(layered["quantities"]["absence_hours"], "0");
    assert_eq!(layered["total"], vector["expected"]["lines"]["KVP_BASE"]);

    let status = simulate(&app, month_case(&input), "9999")
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::NotFound, "{status:?}");
    app.stop().await;
}
