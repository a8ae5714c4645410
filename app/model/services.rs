//! The services and events of a thing model: their data points (inputs and outputs), loaded
//! with errors that name the place, as measure points are.

use serde_json::{Map, Value};

use super::thing_model::{DataType, ModelError, TypeRules, Unit, parse_data_type};

/// One input or output of a service, or an output of an event: a measure point's type and
/// definition, without quality or signal type.
#[derive(Clone, Debug, PartialEq)]
pub struct DataPoint {
    pub identifier: String,
    pub name: String,
    pub desc: String,
    pub data_type: DataType,
    pub unit: Option<Unit>,
}

/// Whether the platform waits for a service's outputs; the wire is the same for both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallType {
    Sync,
    Async,
}

impl CallType {
    /// The name used in the model file.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sync => "SYNC",
            Self::Async => "ASYNC",
        }
    }
}

/// A service the platform can invoke on a device.
#[derive(Clone, Debug, PartialEq)]
pub struct Service {
    pub identifier: String,
    pub name: String,
    pub desc: String,
    pub call_type: CallType,
    /// `inputData`, in file order.
    pub inputs: Vec<DataPoint>,
    /// `outputData`, in file order.
    pub outputs: Vec<DataPoint>,
}

impl Service {
    /// The input named `identifier`.
    pub fn input(&self, identifier: &str) -> Option<&DataPoint> {
        self.inputs.iter().find(|d| d.identifier == identifier)
    }

    /// The output named `identifier`.
    pub fn output(&self, identifier: &str) -> Option<&DataPoint> {
        self.outputs.iter().find(|d| d.identifier == identifier)
    }
}

/// How much an event matters, as the model declares it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Info,
    Warn,
    Error,
}

impl EventType {
    /// The name used in the model file.
    pub fn name(self) -> &'static str {
        match self {
            Self::Info => "INFO",
            Self::Warn => "WARN",
            Self::Error => "ERROR",
        }
    }
}

/// An event a device posts.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub identifier: String,
    pub name: String,
    pub desc: String,
    pub event_type: EventType,
    /// `outputData`, in file order.
    pub outputs: Vec<DataPoint>,
}

impl Event {
    /// The output named `identifier`.
    pub fn output(&self, identifier: &str) -> Option<&DataPoint> {
        self.outputs.iter().find(|d| d.identifier == identifier)
    }
}

/// Reads the `services` map; absent or null means none.
pub(super) fn parse_services(raw: Option<&Value>) -> Result<Vec<Service>, ModelError> {
    entries(raw, "services")?
        .map(|(key, entry)| {
            let path = format!("services.{key}");
            let call_type = match entry.get("callType") {
                None | Some(Value::Null) => CallType::Sync,
                Some(Value::String(s)) if s.eq_ignore_ascii_case("SYNC") => CallType::Sync,
                Some(Value::String(s)) if s.eq_ignore_ascii_case("ASYNC") => CallType::Async,
                Some(other) => {
                    return Err(ModelError::new(
                        format!("{path}.callType"),
                        format!("is {other}; it must be \"SYNC\" or \"ASYNC\""),
                    ));
                }
            };
            Ok(Service {
                identifier: identifier(key, entry, &path)?,
                name: text_of(entry.get("name")),
                desc: text_of(entry.get("desc")),
                call_type,
                inputs: data_points(entry.get("inputData"), &format!("{path}.inputData"))?,
                outputs: data_points(entry.get("outputData"), &format!("{path}.outputData"))?,
            })
        })
        .collect()
}

/// Reads the `events` map; absent or null means none.
pub(super) fn parse_events(raw: Option<&Value>) -> Result<Vec<Event>, ModelError> {
    entries(raw, "events")?
        .map(|(key, entry)| {
            let path = format!("events.{key}");
            let event_type = match entry.get("eventType") {
                None | Some(Value::Null) => EventType::Info,
                Some(Value::String(s)) if s.eq_ignore_ascii_case("INFO") => EventType::Info,
                Some(Value::String(s)) if s.eq_ignore_ascii_case("WARN") => EventType::Warn,
                Some(Value::String(s)) if s.eq_ignore_ascii_case("ERROR") => EventType::Error,
                Some(other) => {
                    return Err(ModelError::new(
                        format!("{path}.eventType"),
                        format!("is {other}; it must be \"INFO\", \"WARN\" or \"ERROR\""),
                    ));
                }
            };
            Ok(Event {
                identifier: identifier(key, entry, &path)?,
                name: text_of(entry.get("name")),
                desc: text_of(entry.get("desc")),
                event_type,
                outputs: data_points(entry.get("outputData"), &format!("{path}.outputData"))?,
            })
        })
        .collect()
}

/// The entries of a map keyed by identifier, each an object.
fn entries<'v>(
    raw: Option<&'v Value>,
    path: &'static str,
) -> Result<impl Iterator<Item = (&'v String, &'v Map<String, Value>)>, ModelError> {
    let map = match raw {
        None | Some(Value::Null) => None,
        Some(Value::Object(map)) => Some(map),
        Some(_) => {
            return Err(ModelError::new(
                path,
                format!("must be an object of {path} by identifier"),
            ));
        }
    };
    if let Some((key, _)) = map
        .into_iter()
        .flatten()
        .find(|(_, entry)| !entry.is_object())
    {
        return Err(ModelError::new(format!("{path}.{key}"), "is not an object"));
    }
    Ok(map
        .into_iter()
        .flatten()
        .filter_map(|(key, entry)| entry.as_object().map(|entry| (key, entry))))
}

/// An entry's `identifier`, which, when given, must be its key.
fn identifier(key: &str, entry: &Map<String, Value>, path: &str) -> Result<String, ModelError> {
    match entry.get("identifier") {
        None | Some(Value::Null) => Ok(key.to_owned()),
        Some(Value::String(id)) if id == key => Ok(key.to_owned()),
        Some(other) => Err(ModelError::new(
            format!("{path}.identifier"),
            format!("is {other} but the entry is listed under \"{key}\"; make them equal"),
        )),
    }
}

/// A name or description: a string, or `{"defaultValue": ...}`.
fn text_of(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Object(o)) => o
            .get("defaultValue")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        _ => String::new(),
    }
}

/// An `inputData` or `outputData` array; absent or null means none. `dataType` is read
/// case-insensitively (the standard-element files write `int`).
fn data_points(raw: Option<&Value>, path: &str) -> Result<Vec<DataPoint>, ModelError> {
    let items = match raw {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(ModelError::new(path, "must be an array of data points"));
        }
    };
    let mut points: Vec<DataPoint> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let item_path = || format!("{path}[{i}]");
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
        if points.iter().any(|p| p.identifier == identifier) {
            return Err(ModelError::new(
                format!("{}.identifier", item_path()),
                format!("\"{identifier}\" is listed twice; keep one"),
            ));
        }
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
                struct_allowed: true,
                any_case: true,
            },
        )?;
        let unit = match item.get("unit") {
            Some(Value::Object(unit)) => Some(Unit {
                unit_id: unit
                    .get("unitId")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                multiplier: match unit.get("multiplier") {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Null) | None => String::new(),
                    Some(other) => other.to_string(),
                },
            }),
            _ => None,
        };
        points.push(DataPoint {
            identifier,
            name: text_of(item.get("name")),
            desc: text_of(item.get("desc")),
            data_type,
            unit,
        });
    }
    Ok(points)
}

#[cfg(test)]
mod tests {
    use super::super::thing_model::ThingModel;
    use super::*;

    const INVERTER: &str = include_str!("../../fixtures/models/wb_inverter.json");

    fn model(services: &str, events: &str) -> Result<ThingModel, ModelError> {
        let text = format!(
            r#"{{"modelId": "m", "measurepoints": {{}}, "services": {services}, "events": {events}}}"#
        );
        ThingModel::from_slice(text.as_bytes())
    }

    #[test]
    fn the_sample_inverter_has_a_service_and_an_event() {
        let model = ThingModel::from_slice(INVERTER.as_bytes()).expect("the sample loads");
        let service = model.service("setPowerLimit").expect("the service");
        assert_eq!(service.call_type, CallType::Sync);
        let inputs: Vec<_> = service
            .inputs
            .iter()
            .map(|d| (d.identifier.as_str(), d.data_type.name()))
            .collect();
        assert_eq!(inputs, [("limit", "FLOAT"), ("mode", "INT")]);
        assert_eq!(
            service.output("applied").map(|d| d.data_type.name()),
            Some("FLOAT")
        );
        let event = model.event("overTemp").expect("the event");
        assert_eq!(event.event_type, EventType::Warn);
        let outputs: Vec<_> = event
            .outputs
            .iter()
            .map(|d| d.identifier.as_str())
            .collect();
        assert_eq!(outputs, ["temp", "level"]);
        assert_eq!(event.name, "Over temperature");
    }

    #[test]
    fn a_model_without_services_or_events_loads() {
        let bare = ThingModel::from_slice(br#"{"modelId": "m"}"#).expect("loads");
        assert!(bare.services.is_empty() && bare.events.is_empty());
        let null = model("null", "{}").expect("loads");
        assert!(null.services.is_empty() && null.events.is_empty());
    }

    #[test]
    fn data_types_are_read_in_any_case_with_their_definitions() {
        let loaded = model(
            r#"{"s": {"callType": "async", "inputData": [
                {"identifier": "a", "dataType": "int"},
                {"identifier": "b", "dataType": "String", "dataDefinition": "{\"maxLength\": 3}"},
                {"identifier": "c", "dataType": "struct", "dataDefinition": {"items": [
                    {"identifier": "x", "dataType": "double"}]}}]}}"#,
            r#"{"e": {"eventType": "error", "outputData": [{"identifier": "o", "dataType": "bool"}]}}"#,
        )
        .expect("loads");
        let service = loaded.service("s").expect("the service");
        assert_eq!(service.call_type, CallType::Async);
        assert!(service.outputs.is_empty());
        assert_eq!(service.inputs[0].data_type, DataType::Int);
        assert_eq!(
            service.inputs[1].data_type,
            DataType::String { max_length: 3 }
        );
        assert_eq!(service.inputs[2].data_type.name(), "STRUCT");
        let event = loaded.event("e").expect("the event");
        assert_eq!(event.event_type, EventType::Error);
        assert_eq!(event.outputs[0].data_type, DataType::Bool);
    }

    #[test]
    fn errors_name_the_place() {
        let cases = [
            (r#"[]"#, "{}", "services"),
            (r#"{"s": 5}"#, "{}", "services.s"),
            (
                r#"{"s": {"identifier": "t"}}"#,
                "{}",
                "services.s.identifier",
            ),
            (
                r#"{"s": {"callType": "SOMETIMES"}}"#,
                "{}",
                "services.s.callType",
            ),
            (r#"{"s": {"inputData": {}}}"#, "{}", "services.s.inputData"),
            (
                r#"{"s": {"inputData": [5]}}"#,
                "{}",
                "services.s.inputData[0]",
            ),
            (
                r#"{"s": {"inputData": [{"dataType": "INT"}]}}"#,
                "{}",
                "services.s.inputData[0].identifier",
            ),
            (
                r#"{"s": {"outputData": [{"identifier": "a", "dataType": "COMPLEX"}]}}"#,
                "{}",
                "services.s.outputData[0].dataType",
            ),
            (
                r#"{"s": {"outputData": [{"identifier": "a", "dataType": "INT"}, {"identifier": "a", "dataType": "INT"}]}}"#,
                "{}",
                "services.s.outputData[1].identifier",
            ),
            (
                r#"{"s": {"inputData": [{"identifier": "a", "dataType": "ARRAY", "dataDefinition": {"itemType": "BOOL"}}]}}"#,
                "{}",
                "services.s.inputData[0].dataDefinition.itemType",
            ),
            (
                "{}",
                r#"{"e": {"eventType": "PANIC"}}"#,
                "events.e.eventType",
            ),
            (
                "{}",
                r#"{"e": {"outputData": [{"identifier": "o"}]}}"#,
                "events.e.outputData[0].dataType",
            ),
            ("{}", "7", "events"),
        ];
        for (services, events, path) in cases {
            let err = model(services, events).expect_err(path);
            assert_eq!(err.path, path, "{services} {events}: {err}");
            assert!(!err.reason.is_empty());
        }
    }
}
