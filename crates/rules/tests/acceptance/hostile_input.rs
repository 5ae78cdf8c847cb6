//! Hostile input, always run (the proptest side of `crates/rules/fuzz`): any
//! text given to the parameter loader or the case loader is refused with a
//! typed error naming the field, or loaded; a case that loads is computed to
//! a result or a typed error. Nothing panics.
//!
//! Random text almost never gets past the JSON parser, so most cases here
//! start from real files (the shipped parameters, the golden vectors) and
//! replace one value with a hostile one: a wrong type, an extreme number, an
//! impossible date, a huge or empty collection. Numbers around the bounds of
//! sense (`kvp_rules::bounds`) and the edge of the decimal range are among the
//! hostile values; and parameters, policies, facts and ledgers built in code,
//! which no loader checked, hold any decimal at all: the rules' checked
//! arithmetic answers them with a result or a `RulesError`.

use std::path::Path;
use std::sync::LazyLock;

use kvp_rules::ledger::{self, LedgerEntry, Paid, PayLineCode};
use kvp_rules::parameters::{DatedTable, Fraction};
use kvp_rules::{
    AbsenceKind, Case, DayEntry, Decision, LineCode, Offset, OffsetKind, Parameters, Policy,
    RulesError, compute_month,
};
use proptest::prelude::*;
use proptest::sample::Index;
use rust_decimal::Decimal;
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
        // Around the bounds of sense, and ages written with many decimals.
        prop_oneof![
            Just("10000000"),
            Just("10000000.01"),
            Just("1000000000.01"),
            Just("1001"),
            Just("24.00000000000000000000001"),
            Just("25.00000000"),
            Just("18.000000000000000000000000"),
            Just("25.5"),
            Just("1e30"),
            Just("1e28"),
            Just("9999999999999999999999999999"),
            Just("-79228162514264337593543950335"),
        ]
        .prop_map(number),
        prop_oneof![
            Just("10000000.01"),
            Just("25.00000000"),
            Just("1e30"),
            Just("1/1001"),
            Just("79228162514264337593543950335/79228162514264337593543950335"),
            Just("0.0000000000000000000000000001/1"),
        ]
        .prop_map(Value::from),
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

/// Any decimal at all, the edges of the range and zero included.
fn any_decimal() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        Just(Decimal::MAX),
        Just(Decimal::MIN),
        Just(Decimal::ZERO),
        Just(Decimal::new(1, 28)),
        (
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            any::<bool>(),
            0u32..=28
        )
            .prop_map(|(lo, mid, hi, negative, scale)| Decimal::from_parts(
                lo, mid, hi, negative, scale
            )),
        (0i64..=100_000, 0u32..=2).prop_map(|(m, s)| Decimal::new(m, s)),
    ]
}

fn any_kind() -> impl Strategy<Value = AbsenceKind> {
    prop::sample::select(AbsenceKind::ALL.to_vec())
}

/// A golden vector's case with values no loader would let through, put in
/// place in code: any decimal as G, factor, fraction, child rate, hours per
/// day, entry hours, benefit and policy quota, any age.
#[derive(Debug, Clone)]
struct Bypass {
    vector: Index,
    g: Decimal,
    factor: Decimal,
    fraction: (Decimal, Decimal),
    child_rate: Decimal,
    hours_per_day: Decimal,
    ages: (i32, i32),
    quotas: (Decimal, Decimal, Decimal),
    entries: Vec<(Index, AbsenceKind, Decimal)>,
    offsets: Vec<Decimal>,
}

fn bypass() -> impl Strategy<Value = Bypass> {
    (
        (any::<Index>(), any_decimal(), any_decimal()),
        (any_decimal(), any_decimal(), any_decimal(), any_decimal()),
        (any::<i32>(), any::<i32>()),
        (any_decimal(), any_decimal(), any_decimal()),
        prop::collection::vec((any::<Index>(), any_kind(), any_decimal()), 0..6),
        prop::collection::vec(any_decimal(), 0..4),
    )
        .prop_map(
            |((vector, g, factor), (num, den, child_rate, hpd), ages, quotas, entries, offsets)| {
                Bypass {
                    vector,
                    g,
                    factor,
                    fraction: (num, den),
                    child_rate,
                    hours_per_day: hpd,
                    ages,
                    quotas,
                    entries,
                    offsets,
                }
            },
        )
}

/// Puts `bypass` in place, one value at a time, so that some cases keep
/// enough sane values to get deep into the month.
fn apply_bypass(bypass: &Bypass, which: u8) -> Option<(kvp_rules::MonthFacts, Parameters, Policy)> {
    let (defaults, default_policy) = &*DEFAULTS;
    let case = Case::from_json(
        &bypass.vector.get(&VECTORS).to_string(),
        defaults,
        default_policy,
    )
    .ok()?;
    let (mut facts, mut parameters, mut policy) = (case.facts, case.parameters, case.policy);
    let table = |value| DatedTable::new("unbounded", vec![(time::Date::MIN, value)], None).ok();
    match which % 8 {
        0 => parameters.g = table(bypass.g)?,
        1 => parameters.annual_g_factor = table(bypass.factor)?,
        2 => {
            parameters.under_25_factor = Fraction {
                numerator: bypass.fraction.0,
                denominator: bypass.fraction.1,
            }
        }
        3 => parameters.child_supplement_per_day = table(bypass.child_rate)?,
        4 => parameters.hours_per_day = bypass.hours_per_day,
        5 => {
            (
                parameters.full_rate_from_age,
                parameters.child_supplement_until_age,
            ) = bypass.ages;
        }
        6 => {
            (
                policy.leave_days_per_year,
                policy.child_sick_days_per_year,
                policy.sole_carer_quota_multiplier,
            ) = bypass.quotas;
        }
        _ => {
            let days: Vec<_> = facts.month.days().collect();
            facts
                .days
                .extend(bypass.entries.iter().map(|(at, kind, hours)| DayEntry {
                    date: *at.get(&days),
                    kind: *kind,
                    hours: *hours,
                    decision: Some(Decision::Approved),
                }));
            facts
                .offsets
                .extend(bypass.offsets.iter().map(|amount| Offset {
                    kind: OffsetKind::OtherLivelihood,
                    amount: *amount,
                }));
        }
    }
    Some((facts, parameters, policy))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn values_no_loader_let_through_compute_or_are_a_rules_error(
        bypass in bypass(),
        which in any::<u8>(),
    ) {
        if let Some((facts, parameters, policy)) = apply_bypass(&bypass, which) {
            match compute_month(&facts, &parameters, &policy) {
                Ok(month) => {
                    // What computes keeps the month's own arithmetic: the
                    // lines sum to the total.
                    let sum = month
                        .lines
                        .iter()
                        .try_fold(Decimal::ZERO, |sum, line| sum.checked_add(line.amount));
                    prop_assert_eq!(sum, Some(month.total));
                }
                Err(RulesError::Overflow { what }) => prop_assert!(!what.is_empty()),
                Err(RulesError::InvalidInput { field, .. }) => {
                    prop_assert!(field.starts_with("days[") || field.starts_with("offsets["));
                }
                Err(RulesError::MissingParameter { .. }) => {}
            }
        }
    }

    #[test]
    fn any_ledger_and_any_month_give_lines_or_a_rules_error(
        rows in prop::collection::vec((any::<bool>(), any_decimal(), any_decimal()), 0..6),
        amounts in prop::collection::vec(any_decimal(), 6),
        quantity in any_decimal(),
    ) {
        let month = kvp_rules::YearMonth::new(2025, time::Month::October);
        let base = PayLineCode::Month(LineCode::KvpBase);
        let paid = Paid::from_entries(rows.iter().map(|(recovery, amount, quantity)| {
            if *recovery {
                LedgerEntry { month: None, code: PayLineCode::RecoveryCarried, amount: *amount, quantity: None }
            } else {
                LedgerEntry { month: Some(month), code: base, amount: *amount, quantity: Some(*quantity) }
            }
        }));
        if let Ok(paid) = paid {
            let mut result = ledger::empty_month(month);
            for (line, amount) in result.lines.iter_mut().zip(&amounts) {
                line.amount = *amount;
            }
            if let Some(q) = result.lines[0].quantity.as_mut() {
                q.value = quantity;
            }
            if let Ok(lines) = ledger::run_lines(month, &[(month, result)], &paid) {
                prop_assert!(lines.len() <= 7);
            }
        }
    }
}
