//! Every golden vector (computed independently from RULES.md) must come out
//! exactly: lines, total, quantities and flags.

use std::path::{Path, PathBuf};

use kvp_rules::{Case, Parameters, Policy, compute_month};

fn vector_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/public");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_public_vector_computes_exactly() {
    let parameters = Parameters::shipped().unwrap();
    let policy = Policy::shipped().unwrap();
    let files = vector_files();
    assert_eq!(files.len(), 44, "the public vector set has 44 cases");
    let mut failures = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let case = Case::from_json(&text, &parameters, &policy)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let expected = case
            .expected
            .clone()
            .expect("a vector has an expected block");
        let result = compute_month(&case.facts, &case.parameters, &case.policy)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let actual = serde_json::to_value(&result).unwrap();
        for key in ["lines", "total", "quantities", "flags"] {
            if actual[key] != expected[key] {
                failures.push(format!(
                    "{} {key}:\n  expected {}\n  actual   {}",
                    file.file_name().unwrap().to_string_lossy(),
                    expected[key],
                    actual[key]
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_line_carries_an_explanation_with_its_legal_reference() {
    let parameters = Parameters::shipped().unwrap();
    let policy = Policy::shipped().unwrap();
    let file = vector_files()
        .into_iter()
        .find(|f| f.ends_with("36-mixed-young-parent.json"))
        .unwrap();
    let case = Case::from_json(
        &std::fs::read_to_string(file).unwrap(),
        &parameters,
        &policy,
    )
    .unwrap();
    let result =
        serde_json::to_value(compute_month(&case.facts, &case.parameters, &case.policy).unwrap())
            .unwrap();
    let explanation = result["explanation"].as_array().unwrap();
    assert_eq!(explanation.len(), 6);
    let absence = explanation
        .iter()
        .find(|e| e["code"] == "KVP_DEDUCTION_ABSENCE")
        .unwrap();
    assert_eq!(absence["amount"], "-251.52");
    assert!(absence["reference"].as_str().unwrap().contains("§ 36"));
    assert_eq!(absence["details"].as_array().unwrap().len(), 1);
    assert!(
        absence["details"][0]
            .as_str()
            .unwrap()
            .starts_with("2025-10-14: 3 h sanctioned")
    );
    let base = explanation
        .iter()
        .find(|e| e["code"] == "KVP_BASE")
        .unwrap();
    let details: Vec<&str> = base["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    // Turns 25 on 2025-10-21: two rates, then the days withheld for want of a timesheet.
    assert!(details[0].contains("under-25"), "{details:?}");
    assert!(
        details
            .iter()
            .any(|d| d.starts_with("withheld") && d.contains("2025-10-31")),
        "{details:?}"
    );
}
