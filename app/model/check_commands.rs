//! The checker's rules for event posts (as the hub receives them) and for commands to a device
//! (before they are sent).

use serde_json::{Map, Value};

use crate::protocol::{DeviceId, Method, ParsedTopic, ReplyCode};

use super::check::Checker;
use super::services::DataPoint;
use super::thing_model::{DataType, ThingModel};
use super::value::{Invalid, Verdict, check_value, check_with_quality, describe};
use super::view::{CommandKind, CommandView, EventView};
use super::wrong::WrongKind;

/// An identifier the model does not know.
fn unknown(message: String) -> Verdict {
    Err(Invalid {
        kind: WrongKind::UnknownIdentifier,
        message,
    })
}

/// An event output's value: bare, or for an INT, FLOAT or DOUBLE output `{value, quality}`
/// (protocol.md's rule: the platform's own example sends one so).
pub fn check_output(point: &DataPoint, value: &Value) -> Verdict {
    let numeric = matches!(
        point.data_type,
        DataType::Int | DataType::Float | DataType::Double
    );
    if numeric && value.is_object() {
        check_with_quality(&point.data_type, value)
    } else {
        check_value(&point.data_type, value)
    }
}

impl<'a> Checker<'a> {
    /// The model of the topic's device when the hub knows the device; a 1204 finding at `path`
    /// when it knows the device but no model is loaded for its product. `None` also when only
    /// reading the view, or when the device is unknown (1009 said so already).
    fn model_of_topic(&mut self, device: &DeviceId, path: &str) -> Option<&'a ThingModel> {
        let registry = self.registry?;
        if !registry.devices.contains_key(device) {
            return None;
        }
        let model = registry.model_of(&device.product_key);
        if model.is_none() {
            self.push(
                path,
                ReplyCode::MODEL,
                format!(
                    "no thing model is loaded for product {}",
                    device.product_key
                ),
            );
        }
        model.map(|m| &**m)
    }

    /// `thing.event.{eventId}.post`: params `{"events": {output: value}, "time": ms}`.
    ///
    /// Shape errors are 1206 as for a post. The event is the topic's device's: a sub-device
    /// that is not logged in gets 1212, as an element naming it would (it is online only
    /// through its gateway's login). An event id that is not an event of the device's model is
    /// refused with 1204, the code the hub gives an identifier its model does not know (as for
    /// an unknown measure point); so is an output the event does not declare, and a value not
    /// of its output's type. An output the event declares and the post leaves out is a
    /// warning: the model does not say outputs are required.
    pub(super) fn check_event_post(&mut self, topic: &ParsedTopic, mut body: Map<String, Value>) {
        self.check_version(&body);
        let event = topic.identifier.clone().unwrap_or_default();
        let mut params = match body.remove("params") {
            Some(Value::Object(params)) => params,
            other => {
                self.push(
                    "params",
                    ReplyCode::SHAPE,
                    format!(
                        "must be an object {{\"events\": {{...}}, \"time\": ms}} for an event post, got {}",
                        other.as_ref().map_or("nothing".to_owned(), describe)
                    ),
                );
                self.view.event = Some(EventView {
                    event,
                    outputs: Map::new(),
                    time: None,
                });
                return;
            }
        };
        let time = self.time_of(&params, "params");
        let outputs = match params.remove("events") {
            Some(Value::Object(outputs)) => Some(outputs),
            None => {
                self.push("params.events", ReplyCode::SHAPE, "is missing");
                None
            }
            Some(other) => {
                self.push(
                    "params.events",
                    ReplyCode::SHAPE,
                    format!("must be an object, got {}", describe(&other)),
                );
                None
            }
        };
        if let Some(registry) = self.registry
            && registry
                .devices
                .get(&topic.device)
                .is_some_and(|d| d.gateway.is_some())
            && !registry.logged_in.contains(&topic.device)
        {
            self.push(
                "(topic)",
                ReplyCode::SUB_DEVICE,
                format!(
                    "sub-device {} is not logged in; log it in before it posts events",
                    topic.device
                ),
            );
        }
        if let Some(outputs) = &outputs
            && let Some(model) = self.model_of_topic(&topic.device, "params.events")
        {
            match model.event(&event) {
                None => {
                    let message = format!(
                        "event \"{event}\" of the topic is not an event of model {}",
                        model.model_id
                    );
                    self.push_value("(topic)".into(), unknown(message));
                }
                Some(declared) => {
                    let mut found = Vec::new();
                    for (id, value) in outputs {
                        let verdict = match declared.output(id) {
                            None => unknown(format!("\"{id}\" is not an output of event {event}")),
                            Some(point) => check_output(point, value),
                        };
                        found.push((format!("params.events.{id}"), verdict));
                    }
                    for point in &declared.outputs {
                        if !outputs.contains_key(&point.identifier) {
                            found.push((
                                format!("params.events.{}", point.identifier),
                                Ok(Some(format!(
                                    "is missing: event {event} declares the output"
                                ))),
                            ));
                        }
                    }
                    for (path, verdict) in found {
                        self.push_value(path, verdict);
                    }
                }
            }
        }
        self.view.event = Some(EventView {
            event,
            outputs: outputs.unwrap_or_default(),
            time,
        });
    }

    /// A command to the topic's device, checked before it is sent: set (each key a measure
    /// point of the target's model, a bare value of its type), get (known point ids), invoke
    /// (a service of the model, its inputs typed; an unknown input is an error, a missing one
    /// a warning).
    ///
    /// The hub never answers a command: the code predicted is the one the platform gives a
    /// command it would refuse to send, in the hub's words: 1206 for a wrong shape, 1204 for
    /// what the model does not allow; 200 means the device is expected to accept it.
    pub(super) fn check_command(&mut self, topic: &ParsedTopic, mut body: Map<String, Value>) {
        self.check_version(&body);
        let params = body.remove("params");
        let kind = match topic.method {
            Method::SetPoints => CommandKind::Set(self.set_params(topic, params)),
            Method::GetPoints => CommandKind::Get(self.get_params(topic, params)),
            _ => {
                let service = topic.identifier.clone().unwrap_or_default();
                let params = self.invoke_params(topic, &service, params);
                CommandKind::Invoke { service, params }
            }
        };
        self.view.command = Some(CommandView {
            target: topic.device.clone(),
            kind,
        });
    }

    fn set_params(&mut self, topic: &ParsedTopic, params: Option<Value>) -> Map<String, Value> {
        let points = match params {
            Some(Value::Object(points)) => points,
            other => {
                self.push(
                    "params",
                    ReplyCode::SHAPE,
                    format!(
                        "must be an object of point id → value for a set, got {}",
                        other.as_ref().map_or("nothing".to_owned(), describe)
                    ),
                );
                return Map::new();
            }
        };
        if points.is_empty() {
            self.warn("params", "is empty: the command sets nothing");
        }
        if let Some(model) = self.model_of_topic(&topic.device, "params") {
            let mut found = Vec::new();
            for (id, value) in &points {
                let verdict = match model.point(id) {
                    None => unknown(format!(
                        "\"{id}\" is not a measure point of model {}",
                        model.model_id
                    )),
                    // Nothing documents quality on a set (protocol.md's rule).
                    Some(point)
                        if value.get("quality").is_some()
                            && !matches!(point.data_type, DataType::Struct { .. }) =>
                    {
                        Err(Invalid {
                            kind: WrongKind::BadQuality,
                            message: format!(
                                "a set value is bare: send the {} value alone, not {}",
                                point.data_type.name(),
                                describe(value)
                            ),
                        })
                    }
                    Some(point) => check_value(&point.data_type, value),
                };
                found.push((format!("params.{id}"), verdict));
            }
            for (path, verdict) in found {
                self.push_value(path, verdict);
            }
        }
        points
    }

    fn get_params(&mut self, topic: &ParsedTopic, params: Option<Value>) -> Vec<String> {
        let ids = match params {
            Some(Value::Array(ids)) => ids,
            other => {
                self.push(
                    "params",
                    ReplyCode::SHAPE,
                    format!(
                        "must be an array of point ids for a get, got {}",
                        other.as_ref().map_or("nothing".to_owned(), describe)
                    ),
                );
                return Vec::new();
            }
        };
        if ids.is_empty() {
            self.warn("params", "is empty: the command reads nothing");
        }
        let mut points = Vec::with_capacity(ids.len());
        for (i, id) in ids.into_iter().enumerate() {
            match id {
                Value::String(id) => points.push((i, id)),
                other => self.push(
                    format!("params[{i}]"),
                    ReplyCode::SHAPE,
                    format!("must be a point id (a string), got {}", describe(&other)),
                ),
            }
        }
        if let Some(model) = self.model_of_topic(&topic.device, "params") {
            for (i, id) in &points {
                if model.point(id).is_none() {
                    let message = format!(
                        "\"{id}\" is not a measure point of model {}",
                        model.model_id
                    );
                    self.push_value(format!("params[{i}]"), unknown(message));
                }
            }
        }
        points.into_iter().map(|(_, id)| id).collect()
    }

    fn invoke_params(
        &mut self,
        topic: &ParsedTopic,
        service: &str,
        params: Option<Value>,
    ) -> Map<String, Value> {
        let inputs = match params {
            // A service without inputs may be invoked without params.
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(inputs)) => inputs,
            Some(other) => {
                self.push(
                    "params",
                    ReplyCode::SHAPE,
                    format!(
                        "must be an object of input id → value for an invoke, got {}",
                        describe(&other)
                    ),
                );
                return Map::new();
            }
        };
        let Some(model) = self.model_of_topic(&topic.device, "params") else {
            return inputs;
        };
        let Some(declared) = model.service(service) else {
            let message = format!(
                "service \"{service}\" of the topic is not a service of model {}",
                model.model_id
            );
            self.push_value("(topic)".into(), unknown(message));
            return inputs;
        };
        let mut found = Vec::new();
        for (id, value) in &inputs {
            let verdict = match declared.input(id) {
                None => unknown(format!("\"{id}\" is not an input of service {service}")),
                Some(point) => check_value(&point.data_type, value),
            };
            found.push((format!("params.{id}"), verdict));
        }
        for point in &declared.inputs {
            if !inputs.contains_key(&point.identifier) {
                found.push((
                    format!("params.{}", point.identifier),
                    Ok(Some(format!(
                        "is missing: service {service} declares the input"
                    ))),
                ));
            }
        }
        for (path, verdict) in found {
            self.push_value(path, verdict);
        }
        inputs
    }
}
