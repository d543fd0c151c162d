//! JSON numbers that may be infinite: `inf`, `-inf` and `nan` travel as strings (the golden
//! vectors' convention), finite values as numbers. Use with `#[serde(with = "...")]`.

use serde::{Deserialize, Deserializer, Serializer};

/// Parses a JSON value as an f64 where `"inf"`, `"-inf"`, `"nan"` (and `null` → `null_as`) are allowed.
pub fn from_value(v: &serde_json::Value) -> Option<f64> {
    match v {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => match s.as_str() {
            "inf" | "Infinity" | "+inf" => Some(f64::INFINITY),
            "-inf" | "-Infinity" => Some(f64::NEG_INFINITY),
            "nan" | "NaN" => Some(f64::NAN),
            _ => None,
        },
        _ => None,
    }
}

/// The JSON value of an f64 (`"inf"` etc. for non-finite values).
pub fn to_value(x: f64) -> serde_json::Value {
    if x.is_nan() {
        "nan".into()
    } else if x == f64::INFINITY {
        "inf".into()
    } else if x == f64::NEG_INFINITY {
        "-inf".into()
    } else {
        serde_json::Value::from(x)
    }
}

pub fn serialize<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
    if x.is_nan() {
        s.serialize_str("nan")
    } else if x.is_infinite() {
        s.serialize_str(if *x > 0.0 { "inf" } else { "-inf" })
    } else {
        s.serialize_f64(*x)
    }
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    from_value(&v)
        .ok_or_else(|| serde::de::Error::custom(format!("expected a number or \"inf\", got {v}")))
}
