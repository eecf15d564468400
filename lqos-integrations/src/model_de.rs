//! Lenient field readers for CRM JSON: ids and numbers that arrive as numbers or as strings,
//! flags as 0/1, "true" or booleans; `null` or garbage reads as absent.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// Text of a string or a number; `None` for null, empty or anything else.
pub fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

/// A number, or a string holding one.
pub fn number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

/// true, 1, "1", "true", "yes".
pub fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Bool(b) => Some(b),
        Value::Number(n) => Some(n.as_f64().is_some_and(|x| x != 0.0)),
        Value::String(s) => Some(matches!(
            s.trim().to_ascii_lowercase().as_str(),
            "1" | "true" | "yes"
        )),
        _ => None,
    })
}
