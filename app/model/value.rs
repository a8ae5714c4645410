//! Checks one JSON value against a data type, with the protocol's rules.

use serde_json::Value;

use crate::protocol::Quality;

use super::thing_model::{ArrayItem, DataType, EnumKey, EnumKind, MeasurePoint};
use super::wrong::WrongKind;

/// The longest ARRAY the protocol allows.
pub const MAX_ARRAY_LENGTH: usize = 128;

/// Why the hub rejects a value: how it is wrong, and the sentence that says where and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    pub kind: WrongKind,
    pub message: String,
}

impl Invalid {
    fn new(kind: WrongKind, message: String) -> Self {
        Self { kind, message }
    }

    /// The same fault, its message placed under `prefix` (`value: ...`, `[2]: ...`).
    fn under(self, prefix: &str) -> Self {
        Self {
            kind: self.kind,
            message: format!("{prefix}: {}", self.message),
        }
    }
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// What a check of one value gives: valid (with a warning, maybe) or why it is not.
pub type Verdict = Result<Option<String>, Invalid>;

/// What is wrong with a value, or what is only worth a warning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ValueIssue {
    /// The hub rejects it (1204).
    Invalid(String),
    /// The hub accepts it, but it is not what the model asks for (a numeric string).
    Warning(String),
}

/// A short description of a JSON value for messages: `string "hot"`, `number 1.5`.
pub fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) => {
            let mut shown: String = s.chars().take(40).collect();
            if shown.len() < s.len() {
                shown.push('…');
            }
            format!("string {shown:?}")
        }
        Value::Array(a) => format!("array of {}", a.len()),
        Value::Object(o) => {
            let keys: Vec<_> = o.keys().take(4).map(|k| format!("{k:?}")).collect();
            format!("object {{{}}}", keys.join(", "))
        }
    }
}

/// Checks a point's value as written in `measurepoints`, quality object included.
///
/// Returns `Ok(None)` when valid, `Ok(Some(warning))` when accepted with a warning.
pub fn check_point_value(point: &MeasurePoint, value: &Value) -> Verdict {
    if point.has_quality {
        return check_with_quality(&point.data_type, value);
    }
    if let Value::Object(obj) = value
        && !matches!(point.data_type, DataType::Struct { .. })
        && obj.contains_key("quality")
    {
        return Err(Invalid::new(
            WrongKind::BadQuality,
            format!(
                "has no quality in the model: send the bare {} value, not {}",
                point.data_type.name(),
                describe(value)
            ),
        ));
    }
    check_value(&point.data_type, value)
}

/// Checks a `{"value": v, "quality": q}` object whose value is of `data_type`: a quality point's
/// value, or an INT, FLOAT or DOUBLE output of an event sent with its quality.
pub fn check_with_quality(data_type: &DataType, value: &Value) -> Verdict {
    let Value::Object(obj) = value else {
        return Err(Invalid::new(
            WrongKind::BadQuality,
            format!(
                "has quality: expected {{\"value\": v, \"quality\": 0..9}}, got {}",
                describe(value)
            ),
        ));
    };
    let (Some(inner), Some(quality)) = (obj.get("value"), obj.get("quality")) else {
        return Err(Invalid::new(
            WrongKind::BadQuality,
            format!(
                "has quality: expected exactly the keys \"value\" and \"quality\", got {}",
                describe(value)
            ),
        ));
    };
    if obj.len() != 2 {
        return Err(Invalid::new(
            WrongKind::BadQuality,
            format!(
                "has quality: expected exactly the keys \"value\" and \"quality\", got {}",
                describe(value)
            ),
        ));
    }
    let warning = check_value(data_type, inner).map_err(|e| e.under("value"))?;
    match quality.as_u64() {
        Some(q) if Quality::fits(q) && !quality.is_f64() => {}
        _ => {
            return Err(Invalid::new(
                WrongKind::BadQuality,
                format!(
                    "quality must be an integer from 0 to 9, got {}",
                    describe(quality)
                ),
            ));
        }
    }
    Ok(warning.map(|w| format!("value: {w}")))
}

/// Checks a bare value against a data type.
pub fn check_value(data_type: &DataType, value: &Value) -> Verdict {
    let expected = |what: &str| {
        Err(Invalid::new(
            WrongKind::WrongType,
            format!("expected {what}, got {}", describe(value)),
        ))
    };
    match data_type {
        DataType::Int => check_int(value, "INT"),
        DataType::Float => check_float(value, true),
        DataType::Double => check_float(value, false),
        DataType::Timestamp => check_timestamp(value),
        DataType::Bool => match value {
            Value::Bool(_) => Ok(None),
            Value::Number(n) if n.as_u64().is_some_and(|v| v <= 1) && !n.is_f64() => Ok(None),
            _ => expected("BOOL (true, false, 0 or 1)"),
        },
        DataType::Enum(def) => {
            let key = match (def.kind, value) {
                (EnumKind::Int, Value::Number(n)) if !n.is_f64() => n.as_i64().map(EnumKey::Int),
                (EnumKind::String, Value::String(s)) => Some(EnumKey::Str(s.clone())),
                _ => None,
            };
            let Some(key) = key else {
                let kind = match def.kind {
                    EnumKind::Int => "an integer",
                    EnumKind::String => "a string",
                };
                return expected(&format!("ENUM key ({kind})"));
            };
            if def.values.iter().any(|(k, _)| *k == key) {
                Ok(None)
            } else {
                let keys: Vec<String> = def
                    .values
                    .iter()
                    .map(|(k, _)| k.to_json().to_string())
                    .collect();
                Err(Invalid::new(
                    WrongKind::NotInEnum,
                    format!(
                        "{} is not a key of the ENUM; use one of {}",
                        describe(value),
                        keys.join(", ")
                    ),
                ))
            }
        }
        DataType::String { max_length } => match value {
            Value::String(s) => {
                let count = s.chars().count();
                if count > *max_length {
                    Err(Invalid::new(
                        WrongKind::TooLong,
                        format!(
                            "string of {count} characters is longer than maxLength {max_length}"
                        ),
                    ))
                } else {
                    Ok(None)
                }
            }
            _ => expected("STRING"),
        },
        DataType::Date => match value {
            Value::String(s) if is_date(s) => Ok(None),
            _ => expected("DATE \"yyyy-MM-dd HH:mm:ss\""),
        },
        DataType::File => match value {
            Value::String(_) => Ok(None),
            _ => expected("FILE (a URI string)"),
        },
        DataType::Array { item } => {
            let Value::Array(items) = value else {
                return expected(&format!("ARRAY of {}", item.name()));
            };
            if items.len() > MAX_ARRAY_LENGTH {
                return Err(Invalid::new(
                    WrongKind::TooLong,
                    format!(
                        "array of {} items is longer than the {MAX_ARRAY_LENGTH} allowed",
                        items.len()
                    ),
                ));
            }
            let mut warning = None;
            for (i, v) in items.iter().enumerate() {
                let result = match item {
                    ArrayItem::Int => check_int(v, "INT"),
                    ArrayItem::Float => check_float(v, true),
                    ArrayItem::Double => check_float(v, false),
                    ArrayItem::String => match v {
                        Value::String(_) => Ok(None),
                        _ => Err(Invalid::new(
                            WrongKind::WrongType,
                            format!("expected STRING, got {}", describe(v)),
                        )),
                    },
                };
                match result {
                    Err(e) => {
                        return Err(Invalid::new(
                            WrongKind::BadArrayItem,
                            e.under(&format!("[{i}]")).message,
                        ));
                    }
                    Ok(Some(w)) if warning.is_none() => warning = Some(format!("[{i}]: {w}")),
                    Ok(_) => {}
                }
            }
            Ok(warning)
        }
        DataType::Struct { items } => {
            let Value::Object(obj) = value else {
                return expected("STRUCT (an object)");
            };
            for key in obj.keys() {
                if !items.iter().any(|item| &item.identifier == key) {
                    return Err(Invalid::new(
                        WrongKind::WrongType,
                        format!("\"{key}\" is not an item of the STRUCT"),
                    ));
                }
            }
            let mut warning = None;
            for item in items {
                match obj.get(&item.identifier) {
                    None if item.required => {
                        return Err(Invalid::new(
                            WrongKind::MissingStructItem,
                            format!("required item \"{}\" is missing", item.identifier),
                        ));
                    }
                    None => {}
                    Some(v) => match check_value(&item.data_type, v) {
                        Err(e) => return Err(e.under(&item.identifier)),
                        Ok(Some(w)) if warning.is_none() => {
                            warning = Some(format!("{}: {w}", item.identifier));
                        }
                        Ok(_) => {}
                    },
                }
            }
            Ok(warning)
        }
    }
}

fn numeric_string_warning(ty: &str, s: &str) -> Option<String> {
    Some(format!(
        "numeric string {s:?} for {ty}; the hub accepts it, but the model asks for a number"
    ))
}

fn check_int(value: &Value, ty: &str) -> Verdict {
    let in_range = |v: i64| i32::try_from(v).is_ok();
    match value {
        Value::Number(n) if !n.is_f64() => match n.as_i64() {
            Some(v) if in_range(v) => Ok(None),
            _ => Err(Invalid::new(
                WrongKind::OutOfRange,
                format!("{n} is outside the 32-bit range of {ty}"),
            )),
        },
        Value::String(s) if is_whole_number(s) => match s.parse::<i64>() {
            Ok(v) if in_range(v) => Ok(numeric_string_warning(ty, s)),
            _ => Err(Invalid::new(
                WrongKind::OutOfRange,
                format!("{s:?} is outside the 32-bit range of {ty}"),
            )),
        },
        _ => Err(Invalid::new(
            WrongKind::WrongType,
            format!("expected {ty}, got {}", describe(value)),
        )),
    }
}

fn check_timestamp(value: &Value) -> Verdict {
    match value {
        Value::Number(n) if n.as_i64().is_some() && !n.is_f64() => Ok(None),
        Value::String(s) if is_whole_number(s) && s.parse::<i64>().is_ok() => {
            Ok(numeric_string_warning("TIMESTAMP", s))
        }
        _ => Err(Invalid::new(
            WrongKind::WrongType,
            format!(
                "expected TIMESTAMP (integer epoch ms), got {}",
                describe(value)
            ),
        )),
    }
}

fn check_float(value: &Value, single: bool) -> Verdict {
    let ty = if single { "FLOAT" } else { "DOUBLE" };
    let (number, warning) = match value {
        Value::Number(n) => (n.as_f64(), None),
        Value::String(s) if is_json_number(s) => {
            (s.parse::<f64>().ok(), numeric_string_warning(ty, s))
        }
        _ => {
            return Err(Invalid::new(
                WrongKind::WrongType,
                format!("expected {ty}, got {}", describe(value)),
            ));
        }
    };
    match number {
        Some(v) if v.is_finite() && (!single || v.abs() <= f64::from(f32::MAX)) => Ok(warning),
        _ => Err(Invalid::new(
            WrongKind::OutOfRange,
            format!("{} is outside the range of {ty}", describe(value)),
        )),
    }
}

/// `-?digits`
fn is_whole_number(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// The JSON number grammar: `-?int(.frac)?([eE][+-]?exp)?`.
fn is_json_number(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let int_ok = digits(int) && (int == "0" || !int.starts_with('0'));
    let frac_ok = frac.is_none_or(digits);
    let exp_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['+', '-']).unwrap_or(e)));
    int_ok && frac_ok && exp_ok
}

/// `yyyy-MM-dd HH:mm:ss` with a real calendar date.
fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b' '
        || b[13] != b':'
        || b[16] != b':'
    {
        return false;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = &s[range];
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (Some(year), Some(month), Some(day), Some(hour), Some(min), Some(sec)) = (
        num(0..4),
        num(5..7),
        num(8..10),
        num(11..13),
        num(14..16),
        num(17..19),
    ) else {
        return false;
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day) && hour < 24 && min < 60 && sec < 60
}

#[cfg(test)]
mod tests {
    use super::super::thing_model::{EnumDef, StructItem};
    use super::*;
    use serde_json::json;

    fn ok(ty: &DataType, v: Value) {
        assert_eq!(
            check_value(ty, &v),
            Ok(None),
            "{} should accept {v}",
            ty.name()
        );
    }
    fn warn(ty: &DataType, v: Value) {
        assert!(
            matches!(check_value(ty, &v), Ok(Some(_))),
            "{} should accept {v} with a warning",
            ty.name()
        );
    }
    fn bad(ty: &DataType, v: Value) {
        assert!(
            check_value(ty, &v).is_err(),
            "{} should reject {v}",
            ty.name()
        );
    }

    #[test]
    fn int() {
        let t = DataType::Int;
        ok(&t, json!(0));
        ok(&t, json!(-2147483648));
        ok(&t, json!(2147483647));
        warn(&t, json!("42"));
        warn(&t, json!("-7"));
        bad(&t, json!(2147483648_i64));
        bad(&t, json!(-2147483649_i64));
        bad(&t, json!(1.5));
        bad(&t, json!(2.0));
        bad(&t, json!("1.5"));
        bad(&t, json!("99999999999"));
        bad(&t, json!(true));
        bad(&t, json!(null));
        bad(&t, json!([1]));
    }

    #[test]
    fn float_and_double() {
        for t in [DataType::Float, DataType::Double] {
            ok(&t, json!(1.02));
            ok(&t, json!(7));
            ok(&t, json!(-0.5));
            warn(&t, json!("1.02"));
            warn(&t, json!("-3e2"));
            bad(&t, json!("hot"));
            bad(&t, json!("1.02 "));
            bad(&t, json!("NaN"));
            bad(&t, json!("inf"));
            bad(&t, json!(""));
            bad(&t, json!("01"));
            bad(&t, json!(false));
            bad(&t, json!(null));
        }
        bad(&DataType::Float, json!(1e300));
        ok(&DataType::Double, json!(1e300));
    }

    #[test]
    fn bool() {
        let t = DataType::Bool;
        for v in [json!(true), json!(false), json!(0), json!(1)] {
            ok(&t, v);
        }
        for v in [
            json!(2),
            json!(-1),
            json!("true"),
            json!("1"),
            json!(1.0),
            json!(null),
        ] {
            bad(&t, v);
        }
    }

    #[test]
    fn enums() {
        let int = DataType::Enum(EnumDef {
            kind: EnumKind::Int,
            values: vec![
                (EnumKey::Int(0), "off".into()),
                (EnumKey::Int(1), "on".into()),
            ],
        });
        ok(&int, json!(1));
        bad(&int, json!(2));
        bad(&int, json!("1"));
        bad(&int, json!("on"));
        let string = DataType::Enum(EnumDef {
            kind: EnumKind::String,
            values: vec![(EnumKey::Str("auto".into()), "Automatic".into())],
        });
        ok(&string, json!("auto"));
        bad(&string, json!("Automatic"));
        bad(&string, json!(0));
    }

    #[test]
    fn strings_dates_files_timestamps() {
        let t = DataType::String { max_length: 3 };
        ok(&t, json!("abc"));
        ok(&t, json!("äöü"));
        bad(&t, json!("abcd"));
        bad(&t, json!(1));
        let d = DataType::Date;
        ok(&d, json!("2024-02-29 23:59:59"));
        bad(&d, json!("2023-02-29 00:00:00"));
        bad(&d, json!("2024-13-01 00:00:00"));
        bad(&d, json!("2024-01-01T00:00:00"));
        bad(&d, json!("2024-01-01 24:00:00"));
        bad(&d, json!(1700000000000_i64));
        ok(&DataType::File, json!("s3://bucket/report.csv"));
        bad(&DataType::File, json!(5));
        let ts = DataType::Timestamp;
        ok(&ts, json!(1700000000000_i64));
        warn(&ts, json!("1700000000000"));
        bad(&ts, json!(1.7e12));
        bad(&ts, json!("soon"));
    }

    #[test]
    fn arrays() {
        let floats = DataType::Array {
            item: ArrayItem::Float,
        };
        ok(&floats, json!([1.0, 2, 3.5]));
        ok(&floats, json!([]));
        warn(&floats, json!(["1.02", "2.02", "7.93"]));
        bad(&floats, json!([1.0, "x"]));
        bad(&floats, json!(1.0));
        bad(&floats, Value::Array(vec![json!(1); 129]));
        ok(&floats, Value::Array(vec![json!(1); 128]));
        let strings = DataType::Array {
            item: ArrayItem::String,
        };
        ok(&strings, json!(["a", "b"]));
        bad(&strings, json!(["a", 1]));
        let ints = DataType::Array {
            item: ArrayItem::Int,
        };
        bad(&ints, json!([1, 2.5]));
        assert_eq!(
            check_value(&floats, &json!([1, "x"])).map_err(|e| (e.kind, e.message)),
            Err((
                WrongKind::BadArrayItem,
                "[1]: expected FLOAT, got string \"x\"".into()
            ))
        );
    }

    #[test]
    fn structs() {
        let t = DataType::Struct {
            items: vec![
                StructItem {
                    identifier: "code".into(),
                    name: String::new(),
                    data_type: DataType::Int,
                    required: true,
                },
                StructItem {
                    identifier: "text".into(),
                    name: String::new(),
                    data_type: DataType::String { max_length: 4 },
                    required: false,
                },
            ],
        };
        ok(&t, json!({"code": 3}));
        ok(&t, json!({"code": 3, "text": "ab"}));
        bad(&t, json!({"text": "ab"}));
        bad(&t, json!({"code": 3, "other": 1}));
        bad(&t, json!({"code": "x"}));
        bad(&t, json!({"code": 3, "text": "abcde"}));
        bad(&t, json!([3]));
    }

    fn point(data_type: DataType, has_quality: bool) -> MeasurePoint {
        MeasurePoint {
            identifier: "p".into(),
            name: String::new(),
            desc: String::new(),
            data_type,
            has_quality,
            signal_type: "AI".into(),
            unit: None,
        }
    }

    #[test]
    fn quality_points() {
        let q = point(DataType::Double, true);
        assert_eq!(
            check_point_value(&q, &json!({"value": 1.0, "quality": 0})),
            Ok(None)
        );
        assert_eq!(
            check_point_value(&q, &json!({"quality": 9, "value": 3})),
            Ok(None)
        );
        assert!(matches!(
            check_point_value(&q, &json!({"value": "1.5", "quality": 0})),
            Ok(Some(_))
        ));
        for bad_value in [
            json!(1.0),
            json!({"value": 1.0}),
            json!({"value": 1.0, "quality": 10}),
            json!({"value": 1.0, "quality": -1}),
            json!({"value": 1.0, "quality": "1"}),
            json!({"value": 1.0, "quality": 1.0}),
            json!({"value": 1.0, "quality": 1, "extra": 0}),
            json!({"value": "hot", "quality": 1}),
            json!({"value": null, "quality": 1}),
        ] {
            assert!(check_point_value(&q, &bad_value).is_err(), "{bad_value}");
        }
        let plain = point(DataType::Double, false);
        assert!(check_point_value(&plain, &json!({"value": 1.0, "quality": 0})).is_err());
        assert_eq!(check_point_value(&plain, &json!(1.0)), Ok(None));
    }

    #[test]
    fn number_grammar() {
        for s in ["0", "-0", "1.5", "10", "1e5", "1E-5", "-2.5e+3"] {
            assert!(is_json_number(s), "{s}");
        }
        for s in ["", "-", "01", "1.", ".5", "1e", "+1", " 1", "0x10", "1_000"] {
            assert!(!is_json_number(s), "{s}");
        }
    }
}
