//! Hostile input, always run (the proptest side of `crates/rules/fuzz`): any
//! text given to the parameter loader or the case loader is refused with a
//! typed error naming the field, or loaded; a case that loads is computed to
//! a result or a typed error. Nothing panics.
//!
//! Random text almost never gets past the JSON parser, so most cases here
//! start from real files (the shipped parameters, the golden vectors) and
//! replace one value with a hostile one: a wrong type, an extreme number, an
//! impossible date, a huge or empty collection.

use std::path::Path;
use std::sync::LazyLock;

use kvp_rules::{Case, Parameters, Policy, compute_month};
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::Value;

/// Cases per property: a few seconds in all on a CI machine.
const CASES: u32 = 128;

static DEFAULTS: LazyLock<(Parameters, Policy)> =
    LazyLock::new(|| (Parameters::shipped().unwrap(), Policy::shipped().unwrap()));

static SHIPPED_PARAMETERS: LazyLock<Value> = LazyLock::new(|| {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("parameters/norway.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
});

static VECTORS: LazyLock<Vec<Value>> = LazyLock::new(|| {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/public");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap())
        .collect()
});

/// A number from its JSON text (serde_json keeps the text exactly).
fn number(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// A value a careless or malicious writer might put anywhere.
fn hostile_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        prop_oneof![
            Just("0"),
            Just("-1"),
            Just("-0"),
            Just("0.0000000000000000000000000001"),
            Just("79228162514264337593543950335"),
            Just("79228162514264337593543950336"),
            Just("-79228162514264337593543950336"),
            Just("1e400"),
            Just("1E-400"),
            Just("18446744073709551616"),
            Just("7.5"),
            Just("24.25"),
        ]
        .prop_map(number),
        prop_oneof![
            Just("2025-02-29"),
            Just("2024-02-29"),
            Just("0000-01-01"),
            Just("9999-12-31"),
            Just("-9999-01-01"),
            Just("+10000-01-01"),
            Just("2025-13-01"),
            Just("2025-03"),
            Just("2025-W10"),
            Just(""),
            Just("7.5"),
            Just("NaN"),
            Just("1e3"),
            Just("ATTENDED"),
            Just("SICK_SELF"),
        ]
        .prop_map(Value::from),
        "[ -~]{0,12}".prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ]
}

fn hostile_value() -> impl Strategy<Value = Value> {
    hostile_leaf().prop_recursive(2, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,10}", inner, 0..4)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// Every JSON pointer into `value` (the root included).
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                pointers(item, format!("{at}/{i}"), out);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                let key = key.replace('~', "~0").replace('/', "~1");
                pointers(item, format!("{at}/{key}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

/// One change to a document.
#[derive(Debug, Clone)]
enum Edit {
    /// Replace the value at a pointer.
    Replace(Index, Value),
    /// Remove the member or element at a pointer.
    Remove(Index),
    /// Repeat an array's first element many times.
    Flood(Index, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (any::<Index>(), hostile_value()).prop_map(|(at, v)| Edit::Replace(at, v)),
        2 => any::<Index>().prop_map(Edit::Remove),
        1 => (any::<Index>(), 2usize..400).prop_map(|(at, n)| Edit::Flood(at, n)),
    ]
}

fn apply(document: &mut Value, edit: &Edit) {
    let mut all = Vec::new();
    pointers(document, String::new(), &mut all);
    let (Edit::Replace(at, _) | Edit::Remove(at) | Edit::Flood(at, _)) = edit;
    let pointer: &str = at.get::<String>(&all);
    match edit {
        Edit::Replace(_, value) => {
            if let Some(slot) = document.pointer_mut(pointer) {
                *slot = value.clone();
            }
        }
        Edit::Remove(_) => {
            let Some((parent, last)) = pointer.rsplit_once('/') else {
                return;
            };
            match document.pointer_mut(parent) {
                Some(Value::Object(map)) => {
                    map.remove(&last.replace("~1", "/").replace("~0", "~"));
                }
                Some(Value::Array(items)) => {
                    if let Ok(i) = last.parse::<usize>()
                        && i < items.len()
                    {
                        items.remove(i);
                    }
                }
                _ => {}
            }
        }
        Edit::Flood(_, times) => {
            if let Some(Value::Array(items)) = document.pointer_mut(pointer)
                && let Some(first) = items.first().cloned()
            {
                items.extend(std::iter::repeat_n(first, *times));
            }
        }
    }
}

/// Loads a case and, if it loads, computes it: the path of `kvp-payroll simulate`.
fn load_and_compute(text: &str) {
    let (parameters, policy) = &*DEFAULTS;
    match Case::from_json(text, parameters, policy) {
        Ok(case) => {
            let _ = compute_month(&case.facts, &case.parameters, &case.policy);
        }
        Err(error) => {
            // A refusal says what is wrong (the field may be the whole file).
            assert!(!error.message.is_empty(), "{error:?}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn any_text_as_a_parameter_file_loads_or_is_refused(text in any::<String>()) {
        let _ = Parameters::from_json(&text);
    }

    #[test]
    fn an_edited_parameter_file_loads_or_is_refused_with_a_field(
        edits in prop::collection::vec(edit(), 1..4)
    ) {
        let mut document = SHIPPED_PARAMETERS.clone();
        for edit in &edits {
            apply(&mut document, edit);
        }
        if let Ok(parameters) = Parameters::from_json(&document.to_string()) {
            // What loads is usable as the defaults of a case.
            let (_, policy) = &*DEFAULTS;
            let case = VECTORS[0].to_string();
            let _ = Case::from_json(&case, &parameters, policy)
                .map(|case| compute_month(&case.facts, &case.parameters, &case.policy));
        }
    }

    #[test]
    fn any_text_as_a_case_file_loads_or_is_refused(text in any::<String>()) {
        load_and_compute(&text);
    }

    #[test]
    fn an_edited_golden_vector_loads_and_computes_or_is_refused(
        vector in any::<Index>(),
        edits in prop::collection::vec(edit(), 1..4),
    ) {
        let mut document = vector.get(&VECTORS).clone();
        for edit in &edits {
            apply(&mut document, edit);
        }
        load_and_compute(&document.to_string());
    }
}
