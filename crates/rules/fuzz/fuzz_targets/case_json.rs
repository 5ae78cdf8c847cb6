//! Any text as a case file (what `kvp-payroll simulate` reads): `Case::from_json`
//! answers a case or a typed error, and a case that loads is computed to a
//! result or a typed error; nothing panics.

#![no_main]

use std::sync::LazyLock;

use kvp_rules::{Case, Parameters, Policy, compute_month};
use libfuzzer_sys::fuzz_target;

static DEFAULTS: LazyLock<(Parameters, Policy)> = LazyLock::new(|| {
    (
        Parameters::shipped().expect("the shipped parameters load"),
        Policy::shipped().expect("the shipped policy loads"),
    )
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (parameters, policy) = &*DEFAULTS;
    if let Ok(case) = Case::from_json(text, parameters, policy) {
        let _ = compute_month(&case.facts, &case.parameters, &case.policy);
    }
});
