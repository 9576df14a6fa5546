//! Strict JSON for everything a client or an admin sends: a document with a key twice in one
//! object (at any depth) or a U+0000 in any string (key or value) is refused before anything
//! reads it. With duplicates allowed, a filter that reads the first `type` would see another
//! command than the one run; a NUL is text PostgreSQL cannot store and SQLite can, so refusing
//! it here keeps the two backends in agreement.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Why a document was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    #[error("not JSON: {0}")]
    Syntax(String),
    #[error("the key {key:?} appears twice in one object")]
    DuplicateKey {
        key: String,
        /// The key is one of the document's own (top-level) keys.
        top_level: bool,
    },
    #[error("a string holds U+0000 (NUL), which cannot be stored")]
    Nul,
}

impl JsonError {
    /// Whether the top-level `id` can still be trusted in a lenient reading of the document.
    pub fn spoils_id(&self) -> bool {
        match self {
            JsonError::Syntax(_) => true,
            JsonError::DuplicateKey { key, top_level } => *top_level && key == "id",
            JsonError::Nul => false,
        }
    }
}

/// Parses `text` as JSON, refusing duplicate keys and NULs.
pub fn parse(text: &str) -> Result<Value, JsonError> {
    parse_slice(text.as_bytes())
}

/// [`parse`] for bytes (an HTTP body); invalid UTF-8 is a syntax error.
pub fn parse_slice(bytes: &[u8]) -> Result<Value, JsonError> {
    let problem = Cell::new(None);
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed = Strict {
        depth: 0,
        problem: &problem,
    }
    .deserialize(&mut deserializer)
    .and_then(|value| deserializer.end().map(|()| value));
    match (parsed, problem.take()) {
        (_, Some(problem)) => Err(problem),
        (Ok(value), None) => Ok(value),
        (Err(err), None) => Err(JsonError::Syntax(err.to_string())),
    }
}

/// Builds a [`Value`] like serde_json's own visitor, noting the first problem it meets.
#[derive(Clone, Copy)]
struct Strict<'p> {
    depth: usize,
    problem: &'p Cell<Option<JsonError>>,
}

impl Strict<'_> {
    fn refuse<E: de::Error>(&self, problem: JsonError) -> E {
        let message = problem.to_string();
        self.problem.set(Some(problem));
        E::custom(message)
    }

    fn text<E: de::Error>(&self, text: &str) -> Result<(), E> {
        if text.contains('\0') {
            return Err(self.refuse(JsonError::Nul));
        }
        Ok(())
    }

    fn inner(&self) -> Strict<'_> {
        Strict {
            depth: self.depth + 1,
            problem: self.problem,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Value, E> {
        self.text(value)?;
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Value, E> {
        self.text(&value)?;
        Ok(Value::String(value))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self.inner())? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            self.text(&key)?;
            if object.contains_key(&key) {
                return Err(self.refuse(JsonError::DuplicateKey {
                    key,
                    top_level: self.depth == 0,
                }));
            }
            let value = map.next_value_seed(self.inner())?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_serde_json_reads() {
        let text = r#"{"a":[1,-2,3.5,true,null,{"b":"c"}],"d":{"e":{}},"f":"\u00e9"}"#;
        assert_eq!(
            parse(text),
            Ok(serde_json::from_str::<Value>(text).expect("json"))
        );
    }

    #[test]
    fn refuses_duplicate_keys_at_any_depth() {
        assert_eq!(
            parse(r#"{"type":"ping","type":"send"}"#),
            Err(JsonError::DuplicateKey {
                key: "type".into(),
                top_level: true
            })
        );
        assert_eq!(
            parse(r#"{"a":[{"x":1,"y":{"z":1,"z":2}}]}"#),
            Err(JsonError::DuplicateKey {
                key: "z".into(),
                top_level: false
            })
        );
        // The same key in sibling objects is fine.
        assert!(parse(r#"[{"a":1},{"a":2}]"#).is_ok());
    }

    #[test]
    fn refuses_nul_in_keys_and_values() {
        assert_eq!(parse(r#"{"body":"a\u0000b"}"#), Err(JsonError::Nul));
        assert_eq!(parse(r#"{"a\u0000":1}"#), Err(JsonError::Nul));
        assert_eq!(parse(r#"[["\u0000"]]"#), Err(JsonError::Nul));
        // An escaped backslash followed by "u0000" is six plain characters.
        assert!(parse(r#"{"body":"\\u0000"}"#).is_ok());
    }

    #[test]
    fn refuses_trailing_data_and_bad_utf8() {
        assert!(matches!(parse("{} {}"), Err(JsonError::Syntax(_))));
        assert!(matches!(
            parse_slice(b"{\"a\":\"\xff\"}"),
            Err(JsonError::Syntax(_))
        ));
    }
}
