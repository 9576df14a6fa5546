//! Reads the fields of a client frame, turning every missing, ill-typed or out-of-range
//! value into a `bad_request` that names the field.

use serde_json::{Map, Value};

use crate::error::ProtoError;

pub struct Fields<'a>(pub &'a Map<String, Value>);

/// Longest id a client may give (rooms, users, messages, `client_msg_id`).
pub const MAX_ID_CHARS: usize = 64;

fn missing(name: &str) -> ProtoError {
    ProtoError::bad_request(format!("missing field `{name}`"))
}

pub fn char_count(text: &str) -> usize {
    text.chars().count()
}

impl<'a> Fields<'a> {
    fn get(&self, name: &str) -> Option<&'a Value> {
        self.0.get(name).filter(|value| !value.is_null())
    }

    /// Whether the field is there (and not `null`).
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn string(&self, name: &str) -> Result<&'a str, ProtoError> {
        self.opt_string(name)?.ok_or_else(|| missing(name))
    }

    pub fn opt_string(&self, name: &str) -> Result<Option<&'a str>, ProtoError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(_) => Err(ProtoError::bad_request(format!(
                "field `{name}` must be a string"
            ))),
        }
    }

    /// A string naming something (a room, user, message or button): 1 to 64 characters.
    pub fn id(&self, name: &str) -> Result<&'a str, ProtoError> {
        let text = self.string(name)?;
        check_id(name, text)?;
        Ok(text)
    }

    pub fn opt_id(&self, name: &str) -> Result<Option<&'a str>, ProtoError> {
        let text = self.opt_string(name)?;
        if let Some(text) = text {
            check_id(name, text)?;
        }
        Ok(text)
    }

    pub fn bool_or(&self, name: &str, default: bool) -> Result<bool, ProtoError> {
        match self.get(name) {
            None => Ok(default),
            Some(Value::Bool(flag)) => Ok(*flag),
            Some(_) => Err(ProtoError::bad_request(format!(
                "field `{name}` must be true or false"
            ))),
        }
    }

    /// A `seq`: an integer from 0 that fits in 64 bits.
    pub fn seq(&self, name: &str) -> Result<i64, ProtoError> {
        self.opt_seq(name)?.ok_or_else(|| missing(name))
    }

    pub fn opt_seq(&self, name: &str) -> Result<Option<i64>, ProtoError> {
        match self.get(name) {
            None => Ok(None),
            Some(value) => {
                let number = integer(name, value)?;
                if number < 0 {
                    return Err(ProtoError::bad_request(format!(
                        "field `{name}` must not be negative"
                    )));
                }
                Ok(Some(number))
            }
        }
    }

    /// A page size: 1 to 200, `default` when absent.
    pub fn limit(&self, name: &str, default: i64, max: i64) -> Result<i64, ProtoError> {
        match self.get(name) {
            None => Ok(default),
            Some(value) => {
                let number = integer(name, value)?;
                if !(1..=max).contains(&number) {
                    return Err(ProtoError::bad_request(format!(
                        "field `{name}` must be from 1 to {max}"
                    )));
                }
                Ok(number)
            }
        }
    }

    /// A list of ids, `max` at most; empty when absent.
    pub fn id_list(&self, name: &str, max: usize) -> Result<Vec<&'a str>, ProtoError> {
        let items = match self.get(name) {
            None => return Ok(Vec::new()),
            Some(Value::Array(items)) => items,
            Some(_) => {
                return Err(ProtoError::bad_request(format!(
                    "field `{name}` must be a list of ids"
                )))
            }
        };
        if items.len() > max {
            return Err(ProtoError::bad_request(format!(
                "field `{name}` holds more than {max} ids"
            )));
        }
        items
            .iter()
            .map(|item| match item {
                Value::String(text) => {
                    check_id(name, text)?;
                    Ok(text.as_str())
                }
                _ => Err(ProtoError::bad_request(format!(
                    "field `{name}` must be a list of ids"
                ))),
            })
            .collect()
    }
}

fn check_id(name: &str, text: &str) -> Result<(), ProtoError> {
    let chars = char_count(text);
    if chars == 0 || chars > MAX_ID_CHARS {
        return Err(ProtoError::bad_request(format!(
            "field `{name}` must be 1 to {MAX_ID_CHARS} characters"
        )));
    }
    Ok(())
}

fn integer(name: &str, value: &Value) -> Result<i64, ProtoError> {
    let Value::Number(number) = value else {
        return Err(ProtoError::bad_request(format!(
            "field `{name}` must be an integer"
        )));
    };
    if let Some(signed) = number.as_i64() {
        return Ok(signed);
    }
    let too_big = number.is_u64()
        || number
            .as_f64()
            .is_some_and(|float| float.fract() == 0.0 && float.abs() >= 9.2e18);
    if too_big {
        Err(ProtoError::bad_request(format!(
            "field `{name}` does not fit in 64 bits"
        )))
    } else {
        Err(ProtoError::bad_request(format!(
            "field `{name}` must be an integer"
        )))
    }
}
