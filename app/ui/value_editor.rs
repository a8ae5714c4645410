//! One editor per data type, reading and writing the JSON value that is sent.
//!
//! A value that does not fit its type (set by hand, for a negative test) is shown as JSON, with
//! a button that puts back a valid value: the editor never changes it behind the user's back.

use serde_json::Value;

use crate::model::{ArrayItem, DataType, EnumDef, StructItem};

/// The longest ARRAY the protocol allows.
const MAX_ARRAY: usize = 128;

/// An integer a number editor can show: a JSON integer in the 32-bit range.
pub fn int_of(value: &Value) -> Option<i64> {
    value.as_i64().filter(|n| i32::try_from(*n).is_ok())
}

/// A number a FLOAT or DOUBLE editor can show.
pub fn number_of(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

/// A BOOL as the checkbox shows it: `true`/`false` or `1`/`0`.
pub fn bool_of(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::Number(n) if n.as_i64() == Some(1) => Some(true),
        Value::Number(n) if n.as_i64() == Some(0) => Some(false),
        _ => None,
    }
}

/// The position of an ENUM value among the model's keys.
pub fn enum_index(def: &EnumDef, value: &Value) -> Option<usize> {
    def.values
        .iter()
        .position(|(key, _)| key.to_json() == *value)
}

/// A valid value to start from.
pub fn default_value(data_type: &DataType) -> Value {
    match data_type {
        DataType::Int | DataType::Timestamp => Value::from(0),
        DataType::Float | DataType::Double => Value::from(0.0),
        DataType::Bool => Value::Bool(false),
        DataType::Enum(def) => def.values.first().map_or(Value::Null, |(k, _)| k.to_json()),
        DataType::String { .. } | DataType::File => Value::from(""),
        DataType::Date => Value::from("2024-01-01 00:00:00"),
        DataType::Array { .. } => Value::Array(Vec::new()),
        DataType::Struct { items } => Value::Object(
            items
                .iter()
                .filter(|i| i.required)
                .map(|i| (i.identifier.clone(), default_value(&i.data_type)))
                .collect(),
        ),
    }
}

/// True when the type's own editor can show `value`.
pub fn fits(data_type: &DataType, value: &Value) -> bool {
    match data_type {
        DataType::Int => int_of(value).is_some(),
        DataType::Timestamp => value.as_i64().is_some(),
        DataType::Float | DataType::Double => number_of(value).is_some(),
        DataType::Bool => bool_of(value).is_some(),
        DataType::Enum(def) => enum_index(def, value).is_some(),
        DataType::String { .. } | DataType::Date | DataType::File => value.is_string(),
        DataType::Array { item } => value.as_array().is_some_and(|items| {
            items.len() <= MAX_ARRAY && items.iter().all(|v| fits(&item_type(*item), v))
        }),
        DataType::Struct { items } => value.as_object().is_some_and(|obj| {
            obj.keys().all(|k| items.iter().any(|i| i.identifier == *k))
                && items.iter().all(|i| match obj.get(&i.identifier) {
                    Some(v) => fits(&i.data_type, v),
                    None => !i.required,
                })
        }),
    }
}

fn item_type(item: ArrayItem) -> DataType {
    match item {
        ArrayItem::Int => DataType::Int,
        ArrayItem::Float => DataType::Float,
        ArrayItem::Double => DataType::Double,
        ArrayItem::String => DataType::String { max_length: 1024 },
    }
}

/// Reads what was typed in a JSON field: JSON when it parses, else the text as a string.
pub fn parse_typed(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::from(text))
}

/// The editor of `value` for `data_type`; true when it changed the value.
pub fn value_ui(
    ui: &mut egui::Ui,
    id: egui::Id,
    label: egui::Id,
    data_type: &DataType,
    value: &mut Value,
) -> bool {
    if !fits(data_type, value) {
        return mismatch_ui(ui, id, label, data_type, value);
    }
    match data_type {
        DataType::Int => {
            let mut n = int_of(value).unwrap_or_default();
            let changed = ui
                .add(egui::DragValue::new(&mut n).range(i32::MIN..=i32::MAX))
                .labelled_by(label)
                .changed();
            if changed {
                *value = Value::from(n);
            }
            changed
        }
        DataType::Timestamp => {
            let mut n = value.as_i64().unwrap_or_default();
            let mut changed = ui
                .add(egui::DragValue::new(&mut n).speed(1000.0))
                .labelled_by(label)
                .changed();
            if ui.small_button("now").clicked() {
                n = crate::protocol::EpochMs::now().0;
                changed = true;
            }
            if changed {
                *value = Value::from(n);
            }
            changed
        }
        DataType::Float | DataType::Double => {
            let mut x = number_of(value).unwrap_or_default();
            let changed = ui
                .add(egui::DragValue::new(&mut x).speed(0.1).max_decimals(6))
                .labelled_by(label)
                .changed();
            if changed {
                *value = Value::from(x);
            }
            changed
        }
        DataType::Bool => {
            let mut b = bool_of(value).unwrap_or_default();
            let changed = ui.checkbox(&mut b, "").labelled_by(label).changed();
            if changed {
                *value = Value::Bool(b);
            }
            changed
        }
        DataType::Enum(def) => {
            let current = enum_index(def, value).unwrap_or_default();
            let mut chosen = current;
            let shown = |i: usize| {
                def.values.get(i).map_or(String::new(), |(k, name)| {
                    format!("{name} ({})", k.to_json())
                })
            };
            egui::ComboBox::from_id_salt(id)
                .selected_text(shown(current))
                .show_ui(ui, |ui| {
                    for i in 0..def.values.len() {
                        ui.selectable_value(&mut chosen, i, shown(i));
                    }
                })
                .response
                .labelled_by(label);
            if chosen != current
                && let Some((key, _)) = def.values.get(chosen)
            {
                *value = key.to_json();
                return true;
            }
            false
        }
        DataType::String { max_length } => text_ui(ui, label, value, Some(*max_length), ""),
        DataType::Date => text_ui(ui, label, value, None, "yyyy-MM-dd HH:mm:ss"),
        DataType::File => text_ui(ui, label, value, None, "file URI"),
        DataType::Array { item } => array_ui(ui, id, label, *item, value),
        DataType::Struct { items } => struct_ui(ui, id, items, value),
    }
}

fn text_ui(
    ui: &mut egui::Ui,
    label: egui::Id,
    value: &mut Value,
    max_length: Option<usize>,
    hint: &str,
) -> bool {
    let mut text = value.as_str().unwrap_or_default().to_owned();
    let mut edit = egui::TextEdit::singleline(&mut text)
        .hint_text(hint)
        .desired_width(220.0);
    if let Some(max) = max_length {
        edit = edit.char_limit(max);
    }
    let changed = ui.add(edit).labelled_by(label).changed();
    if let Some(max) = max_length {
        ui.weak(format!("{}/{max}", text.chars().count()));
    }
    if changed {
        *value = Value::from(text);
    }
    changed
}

fn array_ui(
    ui: &mut egui::Ui,
    id: egui::Id,
    label: egui::Id,
    item: ArrayItem,
    value: &mut Value,
) -> bool {
    let Some(items) = value.as_array_mut() else {
        return false;
    };
    let item_type = item_type(item);
    let mut changed = false;
    let mut remove = None;
    ui.vertical(|ui| {
        for (i, v) in items.iter_mut().enumerate() {
            ui.horizontal(|ui| {
                ui.weak(format!("[{i}]"));
                changed |= value_ui(ui, id.with(i), label, &item_type, v);
                if ui
                    .small_button("×")
                    .on_hover_text("Remove this item")
                    .clicked()
                {
                    remove = Some(i);
                }
            });
        }
        ui.horizontal(|ui| {
            if ui
                .add_enabled(items.len() < MAX_ARRAY, egui::Button::new("+ item").small())
                .clicked()
            {
                items.push(default_value(&item_type));
                changed = true;
            }
            ui.weak(format!("{} of at most {MAX_ARRAY}", items.len()));
        });
    });
    if let Some(i) = remove {
        items.remove(i);
        changed = true;
    }
    changed
}

fn struct_ui(ui: &mut egui::Ui, id: egui::Id, items: &[StructItem], value: &mut Value) -> bool {
    let Some(obj) = value.as_object_mut() else {
        return false;
    };
    let mut changed = false;
    let mut remove = None;
    egui::Grid::new(id).num_columns(2).show(ui, |ui| {
        for item in items {
            let label = ui
                .label(format!(
                    "{}{}",
                    item.identifier,
                    if item.required { "" } else { "?" }
                ))
                .on_hover_text(&item.name)
                .id;
            match obj.get_mut(&item.identifier) {
                Some(v) => {
                    ui.horizontal(|ui| {
                        changed |=
                            value_ui(ui, id.with(&item.identifier), label, &item.data_type, v);
                        if !item.required
                            && ui.small_button("×").on_hover_text("Leave it out").clicked()
                        {
                            remove = Some(item.identifier.clone());
                        }
                    });
                }
                None => {
                    if ui.small_button("+ add").clicked() {
                        obj.insert(item.identifier.clone(), default_value(&item.data_type));
                        changed = true;
                    }
                }
            }
            ui.end_row();
        }
    });
    if let Some(key) = remove {
        obj.shift_remove(&key);
        changed = true;
    }
    changed
}

/// A value of the wrong type: its JSON, editable, and a way back to a valid value.
fn mismatch_ui(
    ui: &mut egui::Ui,
    id: egui::Id,
    label: egui::Id,
    data_type: &DataType,
    value: &mut Value,
) -> bool {
    let mut changed = json_field_ui(ui, id, label, value);
    ui.colored_label(
        ui.visuals().warn_fg_color,
        format!("not {}", data_type.name()),
    );
    if ui
        .small_button("reset")
        .on_hover_text("Replace it with a valid value")
        .clicked()
    {
        *value = default_value(data_type);
        changed = true;
    }
    changed
}

/// A row's remove button (`remove_name` for screen readers, `hover` on hover) and its `{ }`
/// toggle between the typed editor and JSON, remembered under `raw_id` (JSON to begin with
/// when the value has no known type); returns (remove clicked, edit as JSON).
pub fn row_controls_ui(
    ui: &mut egui::Ui,
    raw_id: egui::Id,
    typed: bool,
    hover: &str,
    remove_name: &str,
) -> (bool, bool) {
    let mut raw = ui.data(|d| d.get_temp::<bool>(raw_id)).unwrap_or(!typed);
    let mut remove = false;
    ui.horizontal(|ui| {
        let button = ui.small_button("×").on_hover_text(hover);
        button.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, remove_name));
        remove = button.clicked();
        if ui
            .selectable_label(raw, "{ }")
            .on_hover_text("Edit the value as JSON (for values of the wrong type)")
            .clicked()
        {
            raw = !raw;
            ui.data_mut(|d| d.insert_temp(raw_id, raw));
        }
    });
    (remove, raw)
}

/// A one-line JSON editor of `value`. Text that is not JSON is taken as a string.
pub fn json_field_ui(ui: &mut egui::Ui, id: egui::Id, label: egui::Id, value: &mut Value) -> bool {
    let buffer_id = id.with("json");
    let mut text: String = ui
        .data_mut(|d| d.get_temp(buffer_id))
        .unwrap_or_else(|| value.to_string());
    let response = ui
        .add(
            egui::TextEdit::singleline(&mut text)
                .id(buffer_id)
                .code_editor()
                .desired_width(160.0),
        )
        .labelled_by(label);
    if response.has_focus() {
        ui.data_mut(|d| d.insert_temp(buffer_id, text.clone()));
    } else {
        ui.data_mut(|d| d.remove::<String>(buffer_id));
    }
    if response.changed() {
        *value = parse_typed(&text);
        return true;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EnumKey, EnumKind};
    use serde_json::json;

    #[test]
    fn numbers_are_read_only_when_the_editor_can_show_them() {
        assert_eq!(int_of(&json!(42)), Some(42));
        assert_eq!(int_of(&json!(3_000_000_000_i64)), None);
        assert_eq!(int_of(&json!("42")), None);
        assert_eq!(int_of(&json!(1.5)), None);
        assert_eq!(number_of(&json!(1.5)), Some(1.5));
        assert_eq!(number_of(&json!("1.5")), None);
        assert_eq!(bool_of(&json!(1)), Some(true));
        assert_eq!(bool_of(&json!(false)), Some(false));
        assert_eq!(bool_of(&json!(2)), None);
    }

    #[test]
    fn enum_values_map_to_their_keys() {
        let def = EnumDef {
            kind: EnumKind::Int,
            values: vec![
                (EnumKey::Int(0), "off".into()),
                (EnumKey::Int(3), "on".into()),
            ],
        };
        assert_eq!(enum_index(&def, &json!(3)), Some(1));
        assert_eq!(enum_index(&def, &json!("3")), None);
        let data_type = DataType::Enum(def);
        assert_eq!(default_value(&data_type), json!(0));
        assert!(!fits(&data_type, &json!(7)));
    }

    #[test]
    fn defaults_fit_their_type_and_wrong_values_do_not() {
        let structure = DataType::Struct {
            items: vec![
                StructItem {
                    identifier: "a".into(),
                    name: "A".into(),
                    data_type: DataType::Int,
                    required: true,
                },
                StructItem {
                    identifier: "b".into(),
                    name: "B".into(),
                    data_type: DataType::String { max_length: 4 },
                    required: false,
                },
            ],
        };
        let types = [
            DataType::Int,
            DataType::Float,
            DataType::Bool,
            DataType::String { max_length: 8 },
            DataType::Date,
            DataType::Timestamp,
            DataType::Array {
                item: ArrayItem::Double,
            },
            structure.clone(),
        ];
        for t in &types {
            assert!(fits(t, &default_value(t)), "{t:?}");
        }
        assert_eq!(default_value(&structure), json!({"a": 0}));
        assert!(fits(&structure, &json!({"a": 1, "b": "x"})));
        assert!(!fits(&structure, &json!({"b": "x"})));
        assert!(!fits(&structure, &json!({"a": 1, "c": 2})));
        assert!(!fits(
            &DataType::Array {
                item: ArrayItem::Int
            },
            &json!([1, "2"])
        ));
        assert!(!fits(&DataType::Float, &json!("hot")));
    }

    #[test]
    fn typed_text_is_json_when_it_parses() {
        assert_eq!(parse_typed("12"), json!(12));
        assert_eq!(parse_typed("\"12\""), json!("12"));
        assert_eq!(parse_typed("hot"), json!("hot"));
        assert_eq!(parse_typed("[1, 2]"), json!([1, 2]));
    }
}
