//! The payroll binary's command line: `simulate` on every golden vector, and its errors.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a failed unwrap is a failed test"
)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kvp-payroll"))
}

fn vectors() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../crates/rules/tests/vectors/public");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

#[test]
fn simulate_prints_exactly_the_expected_result_of_every_public_vector() {
    let files = vectors();
    assert_eq!(files.len(), 44);
    for file in files {
        let output = binary().arg("simulate").arg(&file).output().unwrap();
        assert!(
            output.status.success(),
            "{}: {}",
            file.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        let actual: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let vector: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        for key in ["lines", "total", "quantities", "flags"] {
            assert_eq!(
                actual[key],
                vector["expected"][key],
                "{} {key}",
                file.display()
            );
        }
        assert_eq!(actual["explanation"].as_array().unwrap().len(), 6);
    }
}

#[test]
fn simulate_names_the_bad_field_and_exits_non_zero() {
    let dir = std::env::temp_dir().join(format!("kvp-sim-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.json");
    std::fs::write(
        &file,
        r#"{"month": "2025-03", "participant": {"birth_date": "1990-01-15"},
            "programme": {"start": "2024-09-02"},
            "days": [{"date": "2025-03-03", "kind": "SICK_SELF", "hours": "seven"}]}"#,
    )
    .unwrap();
    let output = binary().arg("simulate").arg(&file).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("days[0].hours"), "{stderr}");
    assert!(
        stderr.contains("`seven` is not a decimal number"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());

    let output = binary()
        .arg("simulate")
        .arg(dir.join("missing.json"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot read"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn simulate_refuses_values_beyond_their_bounds_naming_the_field() {
    let dir = std::env::temp_dir().join(format!("kvp-sim-bounds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let case = |extra: &str| {
        format!(
            r#"{{"month": "2025-03", "participant": {{"birth_date": "1990-01-15"}},
                "programme": {{"start": "2024-09-02"}},
                "covered": [{{"from": "2025-03-01", "to": "2025-03-31"}}]{extra}}}"#
        )
    };
    for (name, extra, expected) in [
        (
            "offsets",
            r#", "offsets": [{"kind": "SYKEPENGER", "amount": "79228162514264337593543950335"},
                            {"kind": "DAGPENGER", "amount": "79228162514264337593543950335"}]"#,
            "offsets[0].amount: 79228162514264337593543950335 is above 10000000 kr, \
             the largest monthly benefit of sense",
        ),
        (
            "age",
            r#", "parameters": {"full_rate_from_age": "25.5"}"#,
            "parameters.full_rate_from_age: 25.5 is not an age in whole years from 1 to 100",
        ),
        (
            "g",
            r#", "parameters": {"g": {"2024-05-01": "10000000.01"}}"#,
            "parameters.g.2024-05-01: 10000000.01 is above 10000000, the largest value of sense",
        ),
    ] {
        let file = dir.join(format!("{name}.json"));
        std::fs::write(&file, case(extra)).unwrap();
        let output = binary().arg("simulate").arg(&file).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{name}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{name}: {stderr}");
        assert!(output.stdout.is_empty(), "{name}");
    }
    // An age written with many decimals is that age, not a wrapped number.
    let file = dir.join("age-decimals.json");
    std::fs::write(
        &file,
        case(r#", "parameters": {"full_rate_from_age": "25.00000000"}"#),
    )
    .unwrap();
    let with_decimals = binary().arg("simulate").arg(&file).output().unwrap();
    std::fs::write(&file, case("")).unwrap();
    let plain = binary().arg("simulate").arg(&file).output().unwrap();
    assert!(with_decimals.status.success());
    let total = |out: &std::process::Output| {
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["total"].clone()
    };
    assert_eq!(total(&with_decimals), total(&plain));
    assert_eq!(total(&plain), "21095.10");
    std::fs::remove_dir_all(&dir).unwrap();
}
