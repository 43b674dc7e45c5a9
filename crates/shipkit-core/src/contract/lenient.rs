//! Reading a contract value that may have travelled through an environment variable.
//!
//! The JSON form keeps types (`"major": 1`, `"services": [{…}]`); the env forms flatten every value into
//! text (`MAJOR=1`, `DOCKER_TAGS=1.2.3,1.2`, `SERVICES='[{…}]'`, `BRANCH=` for null). [`Lenient`] deserializes
//! either into the typed field: a JSON value as is, a string by what the field expects — a number or a
//! boolean parsed, a list split on commas (or parsed when it is a JSON array), an object parsed from its
//! compact JSON, an empty string as `None`.

use serde::de::value::{BorrowedStrDeserializer, Error, SeqDeserializer};
use serde::de::{self, Deserializer, IntoDeserializer, Visitor};
use serde_json::Value;

/// A contract value as read from `--input` or the environment: JSON-typed, or text from an env form.
#[derive(Clone, Copy)]
pub struct Lenient<'a>(pub &'a Value);

impl<'de> IntoDeserializer<'de, Error> for Lenient<'de> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

/// Run `f` on `value`'s deserializer, converting serde_json's error into ours.
fn json<'de, V: Visitor<'de>>(
    value: &'de Value,
    f: impl FnOnce(&'de Value) -> Result<V::Value, serde_json::Error>,
) -> Result<V::Value, Error> {
    f(value).map_err(de::Error::custom)
}

macro_rules! forward_typed {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            match self.0 {
                Value::String(s) => EnvText(s).$method(visitor),
                v => json::<V>(v, |v| v.$method(visitor)),
            }
        }
    )*};
}

impl<'de> Deserializer<'de> for Lenient<'de> {
    type Error = Error;

    forward_typed! {
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_f32 deserialize_f64
        deserialize_char deserialize_str deserialize_string deserialize_bytes deserialize_byte_buf
        deserialize_option deserialize_unit deserialize_seq deserialize_map deserialize_identifier
        deserialize_ignored_any
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, name: &'static str, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::String(s) => EnvText(s).deserialize_unit_struct(name, visitor),
            v => json::<V>(v, |v| v.deserialize_unit_struct(name, visitor)),
        }
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }
    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::String(s) => EnvText(s).deserialize_tuple(len, visitor),
            v => json::<V>(v, |v| v.deserialize_tuple(len, visitor)),
        }
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.0 {
            Value::String(s) => EnvText(s).deserialize_tuple_struct(name, len, visitor),
            v => json::<V>(v, |v| v.deserialize_tuple_struct(name, len, visitor)),
        }
    }
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.0 {
            Value::String(s) => EnvText(s).deserialize_struct(name, fields, visitor),
            v => json::<V>(v, |v| v.deserialize_struct(name, fields, visitor)),
        }
    }
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.0 {
            Value::String(s) => EnvText(s).deserialize_enum(name, variants, visitor),
            v => json::<V>(v, |v| v.deserialize_enum(name, variants, visitor)),
        }
    }
}

/// One value as an env form wrote it.
struct EnvText<'a>(&'a str);

impl<'de> EnvText<'de> {
    fn parse<T: std::str::FromStr>(&self, what: &str) -> Result<T, Error> {
        self.0
            .trim()
            .parse()
            .map_err(|_| de::Error::custom(format!("`{}` is not {what}", self.0)))
    }

    /// A JSON text (an array or object written as compact JSON), deserialized with `f`.
    fn parsed_json<V: Visitor<'de>>(
        &self,
        f: impl FnOnce(Value) -> Result<V::Value, serde_json::Error>,
    ) -> Result<V::Value, Error> {
        let value: Value = serde_json::from_str(self.0.trim())
            .map_err(|e| de::Error::custom(format!("`{}` is not the JSON this key holds: {e}", self.0)))?;
        f(value).map_err(de::Error::custom)
    }

    fn looks_like_json(&self) -> bool {
        let t = self.0.trim_start();
        t.starts_with('[') || t.starts_with('{')
    }
}

macro_rules! parse_number {
    ($($method:ident => $visit:ident: $ty:ty,)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            visitor.$visit(self.parse::<$ty>("a number")?)
        }
    )*};
}

impl<'de> Deserializer<'de> for EnvText<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_borrowed_str(self.0)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match crate::cli::parse_bool(self.0) {
            Ok(Some(b)) => visitor.visit_bool(b),
            _ => Err(de::Error::custom(format!("`{}` is not true or false", self.0))),
        }
    }

    parse_number! {
        deserialize_i8 => visit_i8: i8,
        deserialize_i16 => visit_i16: i16,
        deserialize_i32 => visit_i32: i32,
        deserialize_i64 => visit_i64: i64,
        deserialize_u8 => visit_u8: u8,
        deserialize_u16 => visit_u16: u16,
        deserialize_u32 => visit_u32: u32,
        deserialize_u64 => visit_u64: u64,
        deserialize_f32 => visit_f32: f32,
        deserialize_f64 => visit_f64: f64,
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.0.trim().is_empty() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    /// `a,b,c` (the env form of a list of plain values) or a JSON array (a list of objects).
    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.looks_like_json() {
            return self.parsed_json::<V>(|v| v.deserialize_seq(visitor));
        }
        let items = self.0.split(',').map(str::trim).filter(|s| !s.is_empty()).map(EnvText);
        let mut seq = SeqDeserializer::new(items);
        let value = visitor.visit_seq(&mut seq)?;
        seq.end()?;
        Ok(value)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.0.trim().is_empty() {
            return Value::Object(serde_json::Map::new())
                .deserialize_map(visitor)
                .map_err(de::Error::custom);
        }
        self.parsed_json::<V>(|v| v.deserialize_map(visitor))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.parsed_json::<V>(|v| v.deserialize_struct(name, fields, visitor))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        if self.looks_like_json() {
            return self.parsed_json::<V>(|v| v.deserialize_enum(name, variants, visitor));
        }
        BorrowedStrDeserializer::<Error>::new(self.0.trim()).deserialize_enum(name, variants, visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    serde::forward_to_deserialize_any! {
        char str string bytes byte_buf unit_struct identifier ignored_any
    }
}

impl<'de> IntoDeserializer<'de, Error> for EnvText<'de> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use std::collections::BTreeMap;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Item {
        name: String,
        n: u32,
    }

    fn read<T: for<'de> Deserialize<'de>>(v: &Value) -> Result<T, Error> {
        T::deserialize(Lenient(v))
    }

    #[test]
    fn env_text_takes_the_type_the_field_wants() {
        let s = |t: &str| Value::String(t.into());
        assert_eq!(read::<u64>(&s("42")).unwrap(), 42);
        assert!(read::<u64>(&s("4x"))
            .unwrap_err()
            .to_string()
            .contains("`4x` is not a number"));
        assert!(read::<bool>(&s("true")).unwrap());
        assert!(read::<bool>(&s("maybe")).is_err());
        assert_eq!(read::<Option<String>>(&s("")).unwrap(), None);
        assert_eq!(read::<Option<u64>>(&s("7")).unwrap(), Some(7));
        assert_eq!(
            read::<Vec<String>>(&s("1.2.3, 1.2,,latest")).unwrap(),
            ["1.2.3", "1.2", "latest"]
        );
        assert_eq!(read::<Vec<String>>(&s("")).unwrap(), Vec::<String>::new());
        assert_eq!(read::<Vec<String>>(&s(r#"["a,b","c"]"#)).unwrap(), ["a,b", "c"]);
        let items: Vec<Item> = read(&s(r#"[{"name":"web","n":1}]"#)).unwrap();
        assert_eq!(
            items,
            [Item {
                name: "web".into(),
                n: 1
            }]
        );
        let map: BTreeMap<String, String> = read(&s(r#"{"a":"b"}"#)).unwrap();
        assert_eq!(map["a"], "b");
        assert!(read::<BTreeMap<String, String>>(&s("")).unwrap().is_empty());
        assert!(read::<Vec<Item>>(&s("[{"))
            .unwrap_err()
            .to_string()
            .contains("is not the JSON"));
    }

    #[test]
    fn json_values_pass_through() {
        let v = serde_json::json!([{"name": "web", "n": 2}]);
        assert_eq!(
            read::<Vec<Item>>(&v).unwrap(),
            [Item {
                name: "web".into(),
                n: 2
            }]
        );
        assert_eq!(read::<Option<u64>>(&Value::Null).unwrap(), None);
        assert_eq!(read::<u64>(&serde_json::json!(3)).unwrap(), 3);
    }
}
