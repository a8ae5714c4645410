//! Valid sample values for any point: the builder's "fill" and the property tests use them.

use serde_json::{Map, Value, json};

use super::thing_model::{ArrayItem, DataType, MeasurePoint};

/// A valid value for `point`, varied by `seed`; a quality object for quality points.
pub fn sample_value(point: &MeasurePoint, seed: u64) -> Value {
    let value = sample_data_value(&point.data_type, seed);
    if point.has_quality {
        json!({"value": value, "quality": seed % 10})
    } else {
        value
    }
}

/// A valid value of `data_type`, varied by `seed`: for a service's input or an event's output.
pub fn sample_data_value(data_type: &DataType, seed: u64) -> Value {
    let small = (seed % 1000) as i64;
    match data_type {
        DataType::Int => json!(small - 500),
        DataType::Float | DataType::Double => json!(small as f64 / 4.0),
        DataType::Bool => json!(seed.is_multiple_of(2)),
        DataType::Enum(def) => match def.values.get(seed as usize % def.values.len().max(1)) {
            Some((key, _)) => key.to_json(),
            None => Value::Null,
        },
        DataType::String { max_length } => {
            let text = format!("sample-{seed}");
            Value::String(text.chars().take(*max_length).collect())
        }
        DataType::Date => {
            let day = 1 + seed % 28;
            let hour = seed % 24;
            Value::String(format!("2024-05-{day:02} {hour:02}:30:00"))
        }
        DataType::Timestamp => json!(1_700_000_000_000_i64 + small * 1000),
        DataType::File => json!("file:///tmp/sample.csv"),
        DataType::Array { item } => {
            let len = (seed % 4) as usize + 1;
            let values = (0..len as u64).map(|i| {
                let v = (small + i as i64) % 100;
                match item {
                    ArrayItem::Int => json!(v),
                    ArrayItem::Float | ArrayItem::Double => json!(v as f64 + 0.5),
                    ArrayItem::String => json!(format!("s{v}")),
                }
            });
            Value::Array(values.collect())
        }
        DataType::Struct { items } => {
            let mut obj = Map::new();
            for (i, item) in items.iter().enumerate() {
                if item.required || (seed + i as u64).is_multiple_of(2) {
                    obj.insert(
                        item.identifier.clone(),
                        sample_data_value(&item.data_type, seed + i as u64),
                    );
                }
            }
            Value::Object(obj)
        }
    }
}
