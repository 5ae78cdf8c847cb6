//! OpenAPI schemas built rather than derived: where a value's form comes
//! from a list the service checks against (the line codes), or takes more
//! than one JSON type (an exact decimal as a number or its text).

use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, OneOfBuilder, Schema, Type};

use crate::payroll::handoff::pay_line_codes;

/// Text with something besides spaces and no control characters.
const NOT_BLANK: &str = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$";

/// Where a decimal's range starts.
#[derive(Debug, Clone, Copy)]
pub enum Lower {
    /// At this value, included.
    At(u32),
    /// Above zero.
    AboveZero,
}

/// A decimal read exactly from a JSON number or a decimal string, from
/// `from` to `max`; `pattern` spells the same range for the string.
pub fn exact_decimal(from: Lower, max: u32, pattern: &str) -> Schema {
    let number = ObjectBuilder::new()
        .schema_type(Type::Number)
        .maximum(Some(max));
    let number = match from {
        Lower::At(min) => number.minimum(Some(min)),
        Lower::AboveZero => number.exclusive_minimum(Some(0)),
    };
    OneOfBuilder::new()
        .item(number)
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(pattern)),
        )
        .into()
}

/// The schema, or `null`.
pub fn or_null(schema: Schema) -> Schema {
    OneOfBuilder::new()
        .item(schema)
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .into()
}

/// Text of 1 to `max` characters, not blank, without control characters.
fn text(max: usize) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(max))
        .pattern(Some(NOT_BLANK))
}

/// A municipality's pay codes: each line code it names (from the line codes
/// a close books) to its pay code (lønnsart), 1–20 characters; `null` or a
/// line code left out has none.
pub fn pay_codes() -> Schema {
    let codes = pay_line_codes().fold(
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .additional_properties(Some(AdditionalProperties::FreeForm(false))),
        |codes, code| codes.property(code.as_str(), text(20)),
    );
    or_null(codes.into())
}

/// An accounting dimension (ansvar, tjeneste), 1–32 characters, or `null`.
pub fn dimension() -> Schema {
    or_null(text(32).into())
}
