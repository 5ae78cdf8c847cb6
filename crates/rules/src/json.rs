//! JSON read as the contracts write it: a struct only from an object.
//!
//! serde lets a struct be read from an array of its fields in order
//! (`["0301", "Oslo"]` for `{municipality_id, name}`, `[null, null]` for a
//! policy). No contract of ours offers that form and no client means it, so
//! [`Strict`] refuses it wherever a struct is read, at any depth. It refuses
//! text with a control character too, but tab and line breaks (PostgreSQL
//! cannot store NUL: it was a 500 there, and an event that could never be
//! stored was retried for ever), and passes everything else through to the
//! wrapped deserializer unchanged.

use std::fmt;

use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, Unexpected,
    VariantAccess, Visitor,
};

/// A deserializer that reads structs from objects only.
pub struct Strict<D>(pub D);

/// The visitor of a value read through [`Strict`]; `object_only` for a struct.
struct Wrap<V> {
    inner: V,
    object_only: bool,
}

fn wrap<V>(inner: V) -> Wrap<V> {
    Wrap {
        inner,
        object_only: false,
    }
}

/// A value's seed, its deserializer made [`Strict`].
struct Seed<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Seed<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<S::Value, D::Error> {
        self.0.deserialize(Strict(deserializer))
    }
}

macro_rules! forward {
    ($($method:ident $(, $arg:ident: $ty:ty)*);* $(;)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, D::Error> {
                self.0.$method($($arg,)* wrap(visitor))
            }
        )*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Strict<D> {
    type Error = D::Error;

    forward! {
        deserialize_any; deserialize_bool; deserialize_i8; deserialize_i16; deserialize_i32;
        deserialize_i64; deserialize_i128; deserialize_u8; deserialize_u16; deserialize_u32;
        deserialize_u64; deserialize_u128; deserialize_f32; deserialize_f64; deserialize_char;
        deserialize_str; deserialize_string; deserialize_bytes; deserialize_byte_buf;
        deserialize_option; deserialize_unit; deserialize_seq; deserialize_map;
        deserialize_identifier; deserialize_ignored_any;
        deserialize_unit_struct, name: &'static str;
        deserialize_newtype_struct, name: &'static str;
        deserialize_tuple, len: usize;
        deserialize_tuple_struct, name: &'static str, len: usize;
        deserialize_enum, name: &'static str, variants: &'static [&'static str];
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_struct(
            name,
            fields,
            Wrap {
                inner: visitor,
                object_only: true,
            },
        )
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

macro_rules! pass {
    ($($method:ident: $ty:ty);* $(;)?) => {
        $(
            fn $method<E: de::Error>(self, value: $ty) -> Result<V::Value, E> {
                self.inner.$method(value)
            }
        )*
    };
}

#[allow(
    clippy::disallowed_types,
    reason = "a transparent wrapper passes every value on, floats included; nothing here computes"
)]
impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<V> {
    type Value = V::Value;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(formatter)
    }

    pass! {
        visit_bool: bool; visit_i8: i8; visit_i16: i16; visit_i32: i32; visit_i64: i64;
        visit_i128: i128; visit_u8: u8; visit_u16: u16; visit_u32: u32; visit_u64: u64;
        visit_u128: u128; visit_f32: f32; visit_f64: f64; visit_char: char;
        visit_bytes: &[u8]; visit_borrowed_bytes: &'de [u8]; visit_byte_buf: Vec<u8>;
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<V::Value, E> {
        no_control(value, &self.inner)?;
        self.inner.visit_str(value)
    }

    fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<V::Value, E> {
        no_control(value, &self.inner)?;
        self.inner.visit_borrowed_str(value)
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<V::Value, E> {
        no_control(&value, &self.inner)?;
        self.inner.visit_string(value)
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<V::Value, D::Error> {
        self.inner.visit_some(Strict(deserializer))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<V::Value, D::Error> {
        self.inner.visit_newtype_struct(Strict(deserializer))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        if self.object_only {
            return Err(de::Error::invalid_type(Unexpected::Seq, &self.inner));
        }
        self.inner.visit_seq(Seq(seq))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.inner.visit_map(Map(map))
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.inner.visit_enum(Enum(data))
    }
}

/// Whether a character is a control character no text of ours carries:
/// every C0 and C1 control but tab, line feed and carriage return.
fn is_refused_control(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r')
}

/// Text carries no control character but tab and line breaks: NUL cannot
/// be stored in PostgreSQL, and the others only garble what a caseworker
/// or a payroll file shows.
fn no_control<E: de::Error>(text: &str, expected: &dyn de::Expected) -> Result<(), E> {
    if text.chars().any(is_refused_control) {
        return Err(E::invalid_value(
            Unexpected::Other("text with a control character"),
            expected,
        ));
    }
    Ok(())
}

struct Seq<A>(A);

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Seq<A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        self.0.next_element_seed(Seed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

struct Map<A>(A);

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Map<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        self.0.next_key_seed(seed)
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        self.0.next_value_seed(Seed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

struct Enum<A>(A);

impl<'de, A: EnumAccess<'de>> EnumAccess<'de> for Enum<A> {
    type Error = A::Error;
    type Variant = Variant<A::Variant>;

    fn variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<(T::Value, Self::Variant), A::Error> {
        let (value, variant) = self.0.variant_seed(seed)?;
        Ok((value, Variant(variant)))
    }
}

struct Variant<A>(A);

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for Variant<A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.0.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        self.0.newtype_variant_seed(Seed(seed))
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        self.0.tuple_variant(len, wrap(visitor))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.0.struct_variant(
            fields,
            Wrap {
                inner: visitor,
                object_only: true,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use serde::Deserialize;

    use super::Strict;

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Policy {
        days: Option<u32>,
        #[serde(default)]
        names: Vec<String>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Body {
        name: String,
        policy: Option<Policy>,
        #[serde(default)]
        periods: Vec<Policy>,
    }

    fn read<T: for<'de> Deserialize<'de>>(text: &str) -> Result<T, String> {
        let mut de = serde_json::Deserializer::from_str(text);
        T::deserialize(Strict(&mut de)).map_err(|e| e.to_string())
    }

    #[test]
    fn text_with_a_control_character_is_refused_at_any_depth() {
        for text in [
            r#"{"name": "Os\u0000lo"}"#,
            r#"{"name": "Os\u001blo"}"#,
            r#"{"name": "Os\u007flo"}"#,
            r#"{"name": "Os\u0085lo"}"#,
            r#"{"name": "Oslo", "policy": {"names": ["a\u0000"]}}"#,
        ] {
            let error = read::<Body>(text).unwrap_err();
            assert!(error.contains("control character"), "{text}: {error}");
        }
        let any = read::<serde_json::Value>(r#"{"free": {"text": "\u0007"}}"#);
        assert!(any.unwrap_err().contains("control character"));
        // Tab and line breaks are text.
        assert!(read::<Body>(r#"{"name": "Oslo\nwest\t\r"}"#).is_ok());
    }

    #[test]
    fn structs_come_from_objects_only_at_any_depth() {
        assert_eq!(
            read::<Body>(
                r#"{"name": "Oslo", "policy": {"days": 3, "names": ["a"]}, "periods": [{"days": null}]}"#
            ),
            Ok(Body {
                name: "Oslo".into(),
                policy: Some(Policy {
                    days: Some(3),
                    names: vec!["a".into()]
                }),
                periods: vec![Policy {
                    days: None,
                    names: Vec::new()
                }],
            })
        );
        // What plain serde takes: the fields in order, as an array.
        assert!(serde_json::from_str::<Body>(r#"["Oslo", [null, []]]"#).is_ok());
        for array in [
            r#"["Oslo", null]"#,
            r#"{"name": "Oslo", "policy": [null, []]}"#,
            r#"{"name": "Oslo", "periods": [[3, []]]}"#,
        ] {
            let error = read::<Body>(array).unwrap_err();
            assert!(
                error.starts_with("invalid type: sequence, expected struct"),
                "{array}: {error}"
            );
        }
    }
}
