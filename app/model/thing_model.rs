//! EnOS thing models (TSL): loaded from JSON with errors that name the place.

use std::borrow::Cow;

use hashbrown::hash_table::{Entry, HashTable};

use serde::Deserialize;
use serde_json::Value;

use super::services::{Event, Service, parse_events, parse_services};

/// A product's thing model: its measure points, services and events in the order the file
/// lists them.
#[derive(Clone, Debug)]
pub struct ThingModel {
    pub model_id: String,
    pub name: String,
    pub desc: String,
    pub points: Vec<MeasurePoint>,
    pub services: Vec<Service>,
    pub events: Vec<Event>,
    /// Positions in `points`, found by identifier (the first point of each identifier).
    index: HashTable<u32>,
}

impl PartialEq for ThingModel {
    fn eq(&self, other: &Self) -> bool {
        // The index follows from the points.
        (
            &self.model_id,
            &self.name,
            &self.desc,
            &self.points,
            &self.services,
            &self.events,
        ) == (
            &other.model_id,
            &other.name,
            &other.desc,
            &other.points,
            &other.services,
            &other.events,
        )
    }
}

fn identifier_hash(identifier: &str) -> u64 {
    use std::hash::BuildHasher as _;
    foldhash::fast::FixedState::with_seed(0x7468_696e_6762_656e).hash_one(identifier)
}

/// One measure point of a model.
#[derive(Clone, Debug, PartialEq)]
pub struct MeasurePoint {
    pub identifier: String,
    pub name: String,
    pub desc: String,
    pub data_type: DataType,
    pub has_quality: bool,
    pub signal_type: String,
    pub unit: Option<Unit>,
}

/// A point's unit, as the model gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unit {
    pub unit_id: String,
    pub multiplier: String,
}

/// A data type with its definition.
#[derive(Clone, Debug, PartialEq)]
pub enum DataType {
    Int,
    Float,
    Double,
    Bool,
    Enum(EnumDef),
    String { max_length: usize },
    Date,
    Timestamp,
    Array { item: ArrayItem },
    Struct { items: Vec<StructItem> },
    File,
}

/// The item type of an ARRAY.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArrayItem {
    Int,
    Float,
    Double,
    String,
}

/// An ENUM's values: key (as sent) and name (as shown).
#[derive(Clone, Debug, PartialEq)]
pub struct EnumDef {
    pub kind: EnumKind,
    pub values: Vec<(EnumKey, String)>,
}

/// Whether an ENUM is sent as integers or strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnumKind {
    Int,
    String,
}

/// One key of an ENUM.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum EnumKey {
    Int(i64),
    Str(String),
}

impl EnumKey {
    /// The JSON value sent for this key.
    pub fn to_json(&self) -> Value {
        match self {
            Self::Int(i) => Value::from(*i),
            Self::Str(s) => Value::from(s.as_str()),
        }
    }
}

/// One item of a STRUCT.
#[derive(Clone, Debug, PartialEq)]
pub struct StructItem {
    pub identifier: String,
    pub name: String,
    pub data_type: DataType,
    pub required: bool,
}

/// The longest STRING the protocol allows.
pub const MAX_STRING_LENGTH: usize = 1024;

/// Why a model did not load: the JSON path of the place and the reason.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct ModelError {
    /// JSON path inside the model file, e.g. `measurepoints.temp.dataType`.
    pub path: String,
    pub reason: String,
}

impl ModelError {
    pub(super) fn new(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

impl DataType {
    /// The name used in the model file.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Int => "INT",
            Self::Float => "FLOAT",
            Self::Double => "DOUBLE",
            Self::Bool => "BOOL",
            Self::Enum(_) => "ENUM",
            Self::String { .. } => "STRING",
            Self::Date => "DATE",
            Self::Timestamp => "TIMESTAMP",
            Self::Array { .. } => "ARRAY",
            Self::Struct { .. } => "STRUCT",
            Self::File => "FILE",
        }
    }

    /// A short description of the definition for the model browser.
    pub fn definition_summary(&self) -> String {
        match self {
            Self::Enum(def) => def
                .values
                .iter()
                .map(|(key, name)| match key {
                    EnumKey::Int(i) => format!("{i}={name}"),
                    EnumKey::Str(s) => format!("{s}={name}"),
                })
                .collect::<Vec<_>>()
                .join(", "),
            Self::String { max_length } => format!("maxLength {max_length}"),
            Self::Array { item } => format!("of {}", item.name()),
            Self::Struct { items } => items
                .iter()
                .map(|item| {
                    let required = if item.required { "" } else { "?" };
                    format!("{}{required}: {}", item.identifier, item.data_type.name())
                })
                .collect::<Vec<_>>()
                .join(", "),
            Self::Date => "yyyy-MM-dd HH:mm:ss".to_owned(),
            Self::Timestamp => "epoch ms".to_owned(),
            Self::Bool => "true/false or 1/0".to_owned(),
            _ => String::new(),
        }
    }
}

impl ArrayItem {
    /// The name used in the model file.
    pub fn name(self) -> &'static str {
        match self {
            Self::Int => "INT",
            Self::Float => "FLOAT",
            Self::Double => "DOUBLE",
            Self::String => "STRING",
        }
    }
}

impl ThingModel {
    /// Parses a model file's bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, ModelError> {
        // The fast path; only a file that fails is read again to find the place. UTF-8 is
        // checked once for the whole file rather than string by string.
        if let Ok(text) = std::str::from_utf8(bytes)
            && let Ok(raw) = serde_json::from_str::<RawModel>(text)
        {
            return raw.into_model();
        }
        let de = &mut serde_json::Deserializer::from_slice(bytes);
        let raw: RawModel = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let path = if path == "." {
                "(top level)".to_owned()
            } else {
                path
            };
            ModelError::new(path, e.into_inner().to_string())
        })?;
        raw.into_model()
    }

    /// A model built in code, for tests and benchmarks.
    pub fn new(model_id: impl Into<String>, points: Vec<MeasurePoint>) -> Self {
        let mut index = HashTable::with_capacity(points.len());
        let rehash = |&i: &u32| identifier_hash(&points[i as usize].identifier);
        for (i, point) in points.iter().enumerate() {
            let same = |&j: &u32| points[j as usize].identifier == point.identifier;
            if let Entry::Vacant(slot) =
                index.entry(identifier_hash(&point.identifier), same, rehash)
            {
                slot.insert(i as u32);
            }
        }
        Self {
            model_id: model_id.into(),
            name: String::new(),
            desc: String::new(),
            points,
            services: Vec::new(),
            events: Vec::new(),
            index,
        }
    }

    /// The service named `identifier`.
    pub fn service(&self, identifier: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.identifier == identifier)
    }

    /// The event named `identifier`.
    pub fn event(&self, identifier: &str) -> Option<&Event> {
        self.events.iter().find(|e| e.identifier == identifier)
    }

    /// The point named `identifier`.
    pub fn point(&self, identifier: &str) -> Option<&MeasurePoint> {
        self.index
            .find(identifier_hash(identifier), |&i| {
                self.points[i as usize].identifier == identifier
            })
            .map(|&i| &self.points[i as usize])
    }
}

// ---------------------------------------------------------------------------
// The file format, as loosely as the documentation shows it.

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawModel<'a> {
    model_id: String,
    #[serde(default)]
    name: Option<RawName>,
    #[serde(default)]
    desc: Option<String>,
    #[serde(default, borrow)]
    measurepoints: Option<PointList<'a>>,
    /// Read as JSON and then by hand, to name the place of an error: a model has few.
    #[serde(default)]
    services: Option<Value>,
    #[serde(default)]
    events: Option<Value>,
}

/// The `measurepoints` object, in file order. A plain list: no hashing while reading, and a
/// key listed twice is reported instead of silently replacing the first.
struct PointList<'a>(Vec<(String, RawPoint<'a>)>);

impl<'de: 'a, 'a> Deserialize<'de> for PointList<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ListVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for ListVisitor<'a> {
            type Value = PointList<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of measure points by identifier")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<PointList<'a>, A::Error> {
                let mut points = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(entry) = map.next_entry::<String, RawPoint<'a>>()? {
                    points.push(entry);
                }
                Ok(PointList(points))
            }
        }
        deserializer.deserialize_map(ListVisitor(std::marker::PhantomData))
    }
}

/// A name: a plain string, or `{"defaultValue": ..., "i18nValue": {...}}`.
enum RawName {
    Text(String),
    I18n { default_value: Option<String> },
}

impl<'de> Deserialize<'de> for RawName {
    // By hand: an untagged enum would buffer every name before trying each form.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameVisitor;
        impl<'de> serde::de::Visitor<'de> for NameVisitor {
            type Value = RawName;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string or an object with defaultValue")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<RawName, E> {
                Ok(RawName::Text(text.to_owned()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<RawName, A::Error> {
                let mut default_value = None;
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    if key == "defaultValue" {
                        default_value = map.next_value::<Option<String>>()?;
                    } else {
                        map.next_value::<serde::de::IgnoredAny>()?;
                    }
                }
                Ok(RawName::I18n { default_value })
            }
        }
        deserializer.deserialize_any(NameVisitor)
    }
}

impl RawName {
    fn text(name: Option<Self>) -> String {
        match name {
            Some(Self::Text(s)) => s,
            Some(Self::I18n { default_value }) => default_value.unwrap_or_default(),
            None => String::new(),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPoint<'a> {
    /// Borrowed: only compared with the key.
    #[serde(default, borrow)]
    identifier: Option<Cow<'a, str>>,
    #[serde(default)]
    name: Option<RawName>,
    #[serde(default)]
    desc: Option<String>,
    #[serde(borrow)]
    data_type: Cow<'a, str>,
    #[serde(default)]
    data_definition: Value,
    #[serde(default)]
    has_quality: bool,
    #[serde(default)]
    signal_type: Option<String>,
    #[serde(default)]
    unit: Option<RawUnit>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawUnit {
    #[serde(default)]
    unit_id: Option<String>,
    #[serde(default)]
    multiplier: Option<Value>,
}

impl RawModel<'_> {
    fn into_model(self) -> Result<ThingModel, ModelError> {
        if self.model_id.trim().is_empty() {
            return Err(ModelError::new("modelId", "is empty; give the model an id"));
        }
        let raw_points = self.measurepoints.map(|list| list.0).unwrap_or_default();
        let mut points = Vec::with_capacity(raw_points.len());
        for (key, raw) in raw_points {
            // Places are written out only for an error: most points have none.
            let path = || format!("measurepoints.{key}");
            if let Some(identifier) = &raw.identifier
                && *identifier != key
            {
                return Err(ModelError::new(
                    format!("{}.identifier", path()),
                    format!(
                        "is \"{identifier}\" but the point is listed under \"{key}\"; make them equal"
                    ),
                ));
            }
            let data_type = parse_data_type(
                &raw.data_type,
                &raw.data_definition,
                &path,
                TypeRules {
                    struct_allowed: true,
                    any_case: false,
                },
            )?;
            if raw.has_quality
                && !matches!(
                    data_type,
                    DataType::Int | DataType::Float | DataType::Double
                )
            {
                return Err(ModelError::new(
                    format!("{}.hasQuality", path()),
                    format!(
                        "is true for a {} point; only INT, FLOAT and DOUBLE points can have quality",
                        data_type.name()
                    ),
                ));
            }
            points.push(MeasurePoint {
                identifier: key,
                name: RawName::text(raw.name),
                desc: raw.desc.unwrap_or_default(),
                data_type,
                has_quality: raw.has_quality,
                signal_type: raw.signal_type.unwrap_or_else(|| "Generic".to_owned()),
                unit: raw.unit.map(|u| Unit {
                    unit_id: u.unit_id.unwrap_or_default(),
                    multiplier: match u.multiplier {
                        Some(Value::String(s)) => s,
                        Some(Value::Null) | None => String::new(),
                        Some(other) => other.to_string(),
                    },
                }),
            });
        }
        let mut model = ThingModel::new(self.model_id, points);
        if model.index.len() < model.points.len() {
            let mut seen = std::collections::HashSet::new();
            let twice = model
                .points
                .iter()
                .find(|p| !seen.insert(p.identifier.as_str()))
                .map_or(String::new(), |p| p.identifier.clone());
            return Err(ModelError::new(
                format!("measurepoints.{twice}"),
                "is listed twice; keep one",
            ));
        }
        model.name = RawName::text(self.name);
        model.desc = self.desc.unwrap_or_default();
        model.services = parse_services(self.services.as_ref())?;
        model.events = parse_events(self.events.as_ref())?;
        Ok(model)
    }
}

/// `dataDefinition` may be null, an object, or a string holding JSON.
fn definition_object<'v>(
    definition: &'v Value,
    path: &dyn Fn() -> String,
) -> Result<Option<Cow<'v, serde_json::Map<String, Value>>>, ModelError> {
    match definition {
        Value::Null => Ok(None),
        Value::Object(map) => Ok(Some(Cow::Borrowed(map))),
        Value::String(text) if text.trim().is_empty() || text.trim() == "null" => Ok(None),
        Value::String(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => Ok(Some(Cow::Owned(map))),
            Ok(Value::Null) => Ok(None),
            Ok(_) => Err(ModelError::new(
                path(),
                "is a string whose JSON is not an object; write an object or null",
            )),
            Err(e) => Err(ModelError::new(
                path(),
                format!("is a string that is not valid JSON ({e}); write an object or null"),
            )),
        },
        _ => Err(ModelError::new(
            path(),
            "must be null, an object, or a string holding a JSON object",
        )),
    }
}

/// How a data type is read where it is written.
#[derive(Clone, Copy, Debug)]
pub(super) struct TypeRules {
    /// False for a STRUCT's items: no struct inside a struct.
    pub struct_allowed: bool,
    /// True for the data points of services and events, whose `dataType` is read in any case.
    pub any_case: bool,
}

pub(super) fn parse_data_type(
    name: &str,
    definition: &Value,
    path: &dyn Fn() -> String,
    rules: TypeRules,
) -> Result<DataType, ModelError> {
    let def_path = || format!("{}.dataDefinition", path());
    let def = definition_object(definition, &def_path)?;
    let field = |key: &str| def.as_ref().and_then(|d| d.get(key));
    let name = if rules.any_case {
        Cow::Owned(name.to_ascii_uppercase())
    } else {
        Cow::Borrowed(name)
    };
    Ok(match name.as_ref() {
        "INT" => DataType::Int,
        "FLOAT" => DataType::Float,
        "DOUBLE" => DataType::Double,
        "BOOL" => DataType::Bool,
        "DATE" => DataType::Date,
        "TIMESTAMP" => DataType::Timestamp,
        "FILE" => DataType::File,
        "STRING" => {
            let max_length = match field("maxLength") {
                None | Some(Value::Null) => MAX_STRING_LENGTH,
                Some(v) => v
                    .as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                    .filter(|n| (1..=MAX_STRING_LENGTH as u64).contains(n))
                    .ok_or_else(|| {
                        ModelError::new(
                            format!("{}.maxLength", def_path()),
                            format!("is {v}; it must be an integer from 1 to {MAX_STRING_LENGTH}"),
                        )
                    })? as usize,
            };
            DataType::String { max_length }
        }
        "ARRAY" => {
            let item = match field("itemType").and_then(Value::as_str) {
                Some("INT") => ArrayItem::Int,
                Some("FLOAT") => ArrayItem::Float,
                Some("DOUBLE") => ArrayItem::Double,
                Some("STRING") => ArrayItem::String,
                other => {
                    return Err(ModelError::new(
                        format!("{}.itemType", def_path()),
                        format!(
                            "is {}; it must be one of INT, FLOAT, DOUBLE, STRING",
                            other.map_or("missing".to_owned(), |s| format!("\"{s}\""))
                        ),
                    ));
                }
            };
            DataType::Array { item }
        }
        "ENUM" => DataType::Enum(parse_enum(def.as_deref(), &def_path)?),
        "STRUCT" if !rules.struct_allowed => {
            return Err(ModelError::new(
                format!("{}.dataType", path()),
                "is STRUCT inside a STRUCT; a struct item cannot be a struct",
            ));
        }
        "STRUCT" => {
            let items = match field("items") {
                Some(Value::Array(items)) => items,
                _ => {
                    return Err(ModelError::new(
                        format!("{}.items", def_path()),
                        "is missing or not an array; list the struct's items",
                    ));
                }
            };
            let mut parsed = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let item_path = || format!("{}.items[{i}]", def_path());
                let Value::Object(item) = item else {
                    return Err(ModelError::new(item_path(), "is not an object"));
                };
                let identifier = match item.get("identifier") {
                    Some(Value::String(s)) if !s.is_empty() => s.clone(),
                    _ => {
                        return Err(ModelError::new(
                            format!("{}.identifier", item_path()),
                            "is missing or empty",
                        ));
                    }
                };
                let Some(type_name) = item.get("dataType").and_then(Value::as_str) else {
                    return Err(ModelError::new(
                        format!("{}.dataType", item_path()),
                        "is missing or not a string",
                    ));
                };
                let data_type = parse_data_type(
                    type_name,
                    item.get("dataDefinition").unwrap_or(&Value::Null),
                    &item_path,
                    TypeRules {
                        struct_allowed: false,
                        ..rules
                    },
                )?;
                let name = match item.get("name") {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Object(o)) => o
                        .get("defaultValue")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    _ => String::new(),
                };
                let required = item
                    .get("required")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                parsed.push(StructItem {
                    identifier,
                    name,
                    data_type,
                    required,
                });
            }
            DataType::Struct { items: parsed }
        }
        other => {
            return Err(ModelError::new(
                format!("{}.dataType", path()),
                format!(
                    "is \"{other}\"; use one of INT, FLOAT, DOUBLE, STRING, BOOL, ENUM, DATE, TIMESTAMP, STRUCT, ARRAY, FILE"
                ),
            ));
        }
    })
}

fn parse_enum(
    def: Option<&serde_json::Map<String, Value>>,
    def_path: &dyn Fn() -> String,
) -> Result<EnumDef, ModelError> {
    let kind = match def.and_then(|d| d.get("enumType")).and_then(Value::as_str) {
        Some("INT") | None => EnumKind::Int,
        Some("STRING") => EnumKind::String,
        Some(other) => {
            return Err(ModelError::new(
                format!("{}.enumType", def_path()),
                format!("is \"{other}\"; it must be INT or STRING"),
            ));
        }
    };
    let Some(Value::Object(desc)) = def.and_then(|d| d.get("enumDesc")) else {
        return Err(ModelError::new(
            format!("{}.enumDesc", def_path()),
            "is missing or not an object; map each value to its name",
        ));
    };
    let mut values = Vec::with_capacity(desc.len());
    for (key, name) in desc {
        let enum_key = match kind {
            EnumKind::Int => EnumKey::Int(key.trim().parse().map_err(|_| {
                ModelError::new(
                    format!("{}.enumDesc.{key}", def_path()),
                    "is not an integer key, but enumType is INT",
                )
            })?),
            EnumKind::String => EnumKey::Str(key.clone()),
        };
        let name = match name {
            Value::String(s) => s.clone(),
            Value::Object(o) => o
                .get("defaultValue")
                .and_then(Value::as_str)
                .unwrap_or(key)
                .to_owned(),
            _ => key.clone(),
        };
        values.push((enum_key, name));
    }
    Ok(EnumDef { kind, values })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../fixtures/models/wb_inverter.json");

    fn model_with_point(point: &str) -> Result<ThingModel, ModelError> {
        let text = format!(r#"{{"modelId": "m", "measurepoints": {{"p": {point}}}}}"#);
        ThingModel::from_slice(text.as_bytes())
    }

    #[test]
    fn sample_inverter_loads_every_type() {
        let model = ThingModel::from_slice(EXAMPLE.as_bytes()).expect("sample model loads");
        assert_eq!(model.model_id, "wb_inverter");
        let names: std::collections::HashSet<_> =
            model.points.iter().map(|p| p.data_type.name()).collect();
        for ty in [
            "INT",
            "FLOAT",
            "DOUBLE",
            "STRING",
            "BOOL",
            "ENUM",
            "DATE",
            "TIMESTAMP",
            "STRUCT",
            "ARRAY",
            "FILE",
        ] {
            assert!(names.contains(ty), "sample inverter lacks {ty}");
        }
        assert!(model.points.iter().any(|p| p.has_quality));
    }

    #[test]
    fn definition_as_object_string_or_null() {
        let object =
            model_with_point(r#"{"dataType": "STRING", "dataDefinition": {"maxLength": 8}}"#)
                .expect("object");
        let string =
            model_with_point(r#"{"dataType": "STRING", "dataDefinition": "{\"maxLength\": 8}"}"#)
                .expect("string");
        assert_eq!(
            object.points[0].data_type,
            DataType::String { max_length: 8 }
        );
        assert_eq!(object.points, string.points);
        let null =
            model_with_point(r#"{"dataType": "STRING", "dataDefinition": null}"#).expect("null");
        assert_eq!(
            null.points[0].data_type,
            DataType::String {
                max_length: MAX_STRING_LENGTH
            }
        );
    }

    #[test]
    fn enums_of_both_kinds() {
        let int = model_with_point(
            r#"{"dataType": "ENUM", "dataDefinition": {"enumType": "INT", "enumDesc": {"0": {"defaultValue": "off"}, "1": "on"}}}"#,
        )
        .expect("int enum");
        let DataType::Enum(def) = &int.points[0].data_type else {
            panic!("not an enum")
        };
        assert_eq!(def.kind, EnumKind::Int);
        assert_eq!(
            def.values,
            vec![
                (EnumKey::Int(0), "off".into()),
                (EnumKey::Int(1), "on".into())
            ]
        );
        let string = model_with_point(
            r#"{"dataType": "ENUM", "dataDefinition": {"enumType": "STRING", "enumDesc": {"a": "auto"}}}"#,
        )
        .expect("string enum");
        let DataType::Enum(def) = &string.points[0].data_type else {
            panic!("not an enum")
        };
        assert_eq!(def.values, vec![(EnumKey::Str("a".into()), "auto".into())]);
    }

    #[test]
    fn errors_name_the_place() {
        let cases = [
            (r#"{"dataType": "COMPLEX"}"#, "measurepoints.p.dataType"),
            (
                r#"{"dataType": "ARRAY", "dataDefinition": {"itemType": "BOOL"}}"#,
                "measurepoints.p.dataDefinition.itemType",
            ),
            (
                r#"{"dataType": "STRING", "dataDefinition": {"maxLength": 5000}}"#,
                "measurepoints.p.dataDefinition.maxLength",
            ),
            (
                r#"{"dataType": "STRING", "dataDefinition": "{oops"}"#,
                "measurepoints.p.dataDefinition",
            ),
            (
                r#"{"dataType": "ENUM", "dataDefinition": {"enumType": "INT", "enumDesc": {"x": "y"}}}"#,
                "measurepoints.p.dataDefinition.enumDesc.x",
            ),
            (
                r#"{"dataType": "BOOL", "hasQuality": true}"#,
                "measurepoints.p.hasQuality",
            ),
            (
                r#"{"dataType": "STRUCT", "dataDefinition": {"items": [{"identifier": "a", "dataType": "STRUCT", "dataDefinition": {"items": []}}]}}"#,
                "measurepoints.p.dataDefinition.items[0].dataType",
            ),
            (
                r#"{"identifier": "q", "dataType": "INT"}"#,
                "measurepoints.p.identifier",
            ),
            (r#"{"dataType": 5}"#, "measurepoints.p.dataType"),
        ];
        for (point, path) in cases {
            let err = model_with_point(point).expect_err(point);
            assert_eq!(err.path, path, "{point}: {err}");
            assert!(!err.reason.is_empty());
        }
    }

    #[test]
    fn a_point_listed_twice_is_an_error() {
        let text = r#"{"modelId": "m", "measurepoints": {
            "p": {"dataType": "INT"}, "p": {"dataType": "FLOAT"}}}"#;
        let err = ThingModel::from_slice(text.as_bytes()).unwrap_err();
        assert_eq!(err.path, "measurepoints.p");
        assert!(err.reason.contains("twice"), "{err}");
    }

    #[test]
    fn broken_json_is_an_error() {
        let err = ThingModel::from_slice(b"{\"modelId\": ").expect_err("truncated");
        assert!(!err.reason.is_empty());
        let err = ThingModel::from_slice(b"{}").expect_err("no modelId");
        assert!(err.reason.contains("modelId"), "{err}");
    }

    #[test]
    fn points_keep_file_order() {
        let text = r#"{"modelId": "m", "measurepoints": {"z": {"dataType": "INT"}, "a": {"dataType": "INT"}, "m": {"dataType": "INT"}}}"#;
        let model = ThingModel::from_slice(text.as_bytes()).expect("loads");
        let ids: Vec<_> = model.points.iter().map(|p| p.identifier.as_str()).collect();
        assert_eq!(ids, ["z", "a", "m"]);
        assert!(model.point("a").is_some());
        assert!(model.point("b").is_none());
    }
}
