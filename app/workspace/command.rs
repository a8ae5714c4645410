//! Command fixtures: what the platform asks a device (set measure points, read them, invoke a
//! service), as a fixture holds it under `command`, and the request that carries it.
//!
//! ```json
//! {"device": "invPk/{{inv1}}", "set": {"Power": 3.5}}
//! {"device": "invPk/{{inv1}}", "get": ["Power", "temp"]}
//! {"device": "invPk/{{inv1}}", "invoke": "setPowerLimit", "params": {"limit": 2.5, "mode": 1}}
//! ```

use std::path::Path;

use serde_json::{Map, Value};

use crate::model::CommandKind;
use crate::protocol::{DeviceId, Method, MsgId, method_name, parse_method, topic_of};

use super::batch::NotABatch;
use super::error::FileError;
use super::template::IdSource;

/// A command a fixture sends from the platform side to a device.
#[derive(Clone, Debug, PartialEq)]
pub struct Command {
    /// The device the command is for: the gateway or one of its sub-devices.
    pub device: DeviceId,
    /// What it asks, with its params as written (a command the model refuses is still sent:
    /// a negative test of the device).
    pub kind: CommandKind,
}

impl Command {
    /// Reads a fixture's `command` object; errors name `file` and the place.
    pub fn from_json(file: &Path, value: &Value) -> Result<Self, FileError> {
        Self::from_json_at(file, "command", value)
    }

    /// Reads a command object at `place` in `file` (a fixture's `command`, a plan's
    /// `phases[0].commands[1]`); errors name the file and the place.
    pub fn from_json_at(file: &Path, place: &str, value: &Value) -> Result<Self, FileError> {
        let err = |path: &str, reason: String| {
            let path = match path.strip_prefix("command") {
                Some(rest) => format!("{place}{rest}"),
                None => path.to_owned(),
            };
            FileError::new(file, path, reason)
        };
        let Value::Object(obj) = value else {
            return Err(err(
                "command",
                format!(
                    "must be an object with \"device\" and one of \"set\", \"get\" or \"invoke\", got {value}"
                ),
            ));
        };
        let device = obj
            .get("device")
            .and_then(Value::as_str)
            .and_then(DeviceId::parse_slash)
            .ok_or_else(|| {
                err(
                    "command.device",
                    format!(
                        "must be \"productKey/deviceKey\" of the device the command is for, got {}",
                        obj.get("device").unwrap_or(&Value::Null)
                    ),
                )
            })?;
        let given: Vec<&str> = ["set", "get", "invoke"]
            .into_iter()
            .filter(|key| obj.contains_key(*key))
            .collect();
        let kind = match given.as_slice() {
            ["set"] => match &obj["set"] {
                Value::Object(points) => CommandKind::Set(points.clone()),
                other => {
                    return Err(err(
                        "command.set",
                        format!("must be an object of point id → value, got {other}"),
                    ));
                }
            },
            ["get"] => {
                let ids = string_list(&obj["get"]).ok_or_else(|| {
                    err(
                        "command.get",
                        format!("must be a list of point ids (strings), got {}", obj["get"]),
                    )
                })?;
                CommandKind::Get(ids)
            }
            ["invoke"] => {
                let service = match &obj["invoke"] {
                    Value::String(service) if !service.is_empty() => service.clone(),
                    other => {
                        return Err(err(
                            "command.invoke",
                            format!(
                                "must be the id of a service of the device's model, got {other}"
                            ),
                        ));
                    }
                };
                let params = match obj.get("params") {
                    None | Some(Value::Null) => Map::new(),
                    Some(Value::Object(params)) => params.clone(),
                    Some(other) => {
                        return Err(err(
                            "command.params",
                            format!("must be an object of input id → value, got {other}"),
                        ));
                    }
                };
                CommandKind::Invoke { service, params }
            }
            [] => {
                return Err(err(
                    "command",
                    "says nothing to do; give one of \"set\", \"get\" or \"invoke\"".into(),
                ));
            }
            _ => {
                return Err(err(
                    "command",
                    format!(
                        "gives {}; give exactly one of \"set\", \"get\" or \"invoke\"",
                        given.join(" and ")
                    ),
                ));
            }
        };
        if obj.contains_key("params") && !matches!(kind, CommandKind::Invoke { .. }) {
            return Err(err(
                "command.params",
                "goes with \"invoke\" only; a set's values are under \"set\"".into(),
            ));
        }
        Ok(Self { device, kind })
    }

    /// The `command` object as saved: device, then set, get or invoke and params.
    pub fn to_json(&self) -> Value {
        let mut obj = Map::new();
        obj.insert("device".into(), Value::String(self.device.to_string()));
        match &self.kind {
            CommandKind::Set(points) => {
                obj.insert("set".into(), Value::Object(points.clone()));
            }
            CommandKind::Get(ids) => {
                let ids = ids.iter().cloned().map(Value::String).collect();
                obj.insert("get".into(), Value::Array(ids));
            }
            CommandKind::Invoke { service, params } => {
                obj.insert("invoke".into(), Value::String(service.clone()));
                obj.insert("params".into(), Value::Object(params.clone()));
            }
        }
        Value::Object(obj)
    }

    /// The command's topic: `/sys/{pk}/{dk}/thing/service/...` of its device.
    pub fn topic(&self) -> String {
        topic_of(self.kind.method(), &self.device, self.identifier())
    }

    /// The service id of an invoke; empty for a set or a get.
    fn identifier(&self) -> &str {
        match &self.kind {
            CommandKind::Invoke { service, .. } => service,
            _ => "",
        }
    }

    /// The request the platform sends, with a fresh id from `ids`.
    pub fn request(&self, ids: &IdSource) -> (MsgId, Value) {
        let id = ids.next_id();
        let mut body = Map::new();
        body.insert("id".into(), Value::String(id.0.clone()));
        if let Value::Object(rest) = command_body(&self.kind) {
            body.extend(rest);
        }
        (id, Value::Object(body))
    }
}

/// A command's body as the builder's JSON view shows it: version, method and params; the id is
/// given at send.
pub fn command_body(kind: &CommandKind) -> Value {
    let params = match kind {
        CommandKind::Set(points) => Value::Object(points.clone()),
        CommandKind::Get(ids) => ids.iter().cloned().map(Value::String).collect(),
        CommandKind::Invoke { params, .. } => Value::Object(params.clone()),
    };
    let identifier = match kind {
        CommandKind::Invoke { service, .. } => service.as_str(),
        _ => "",
    };
    let method = method_name(kind.method(), identifier);
    serde_json::json!({"version": "1.0", "method": method, "params": params})
}

/// Reads a command's body back as the builder shows it: version 1.0, the method of a set, get or
/// invoke, and its params, nothing else; `Err` says what the builder cannot show (the text is
/// then sent as written).
pub fn command_of_body(value: &Value) -> Result<CommandKind, NotABatch> {
    let Value::Object(obj) = value else {
        return Err(NotABatch("the message is not a JSON object".into()));
    };
    if let Some(key) = obj
        .keys()
        .find(|k| !matches!(k.as_str(), "version" | "method" | "params"))
    {
        return Err(NotABatch(format!(
            "\"{key}\" is not part of a command (version, method and params; the id is given at send)"
        )));
    }
    match obj.get("version") {
        Some(Value::String(v)) if v == "1.0" => {}
        Some(other) => {
            return Err(NotABatch(format!(
                "version is {other}; a command is sent with \"1.0\""
            )));
        }
        None => return Err(NotABatch("version is missing".into())),
    }
    let name = match obj.get("method") {
        Some(Value::String(name)) => name,
        Some(other) => return Err(NotABatch(format!("method is {other}, not a string"))),
        None => return Err(NotABatch("method is missing".into())),
    };
    let params = obj.get("params").unwrap_or(&Value::Null);
    match parse_method(name) {
        Some((Method::SetPoints, _)) => match params {
            Value::Object(points) => Ok(CommandKind::Set(points.clone())),
            other => Err(NotABatch(format!(
                "params is {other}; a set's params are an object of point id → value"
            ))),
        },
        Some((Method::GetPoints, _)) => {
            string_list(params).map(CommandKind::Get).ok_or_else(|| {
                NotABatch(format!(
                    "params is {params}; a get's params are a list of point ids (strings)"
                ))
            })
        }
        Some((Method::Invoke, Some(service))) => match params {
            Value::Object(inputs) => Ok(CommandKind::Invoke {
                service: service.to_owned(),
                params: inputs.clone(),
            }),
            other => Err(NotABatch(format!(
                "params is {other}; an invoke's params are an object of input id → value"
            ))),
        },
        _ => Err(NotABatch(format!(
            "method \"{name}\" is not a command (thing.service.measurepoint.set, thing.service.measurepoint.get or thing.service.{{serviceId}})"
        ))),
    }
}

/// A get's point ids: a JSON array of strings, or `None` for anything else.
fn string_list(value: &Value) -> Option<Vec<String>> {
    value
        .as_array()?
        .iter()
        .map(|item| item.as_str().map(str::to_owned))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(value: Value) -> Result<Command, FileError> {
        Command::from_json(Path::new("messages/c.json"), &value)
    }

    #[test]
    fn each_kind_reads_and_writes_back_the_same() {
        for value in [
            serde_json::json!({"device": "invPk/inv01", "set": {"Power": 3.5}}),
            serde_json::json!({"device": "invPk/inv01", "get": ["Power", "temp"]}),
            serde_json::json!({"device": "invPk/inv01", "invoke": "setPowerLimit",
                               "params": {"limit": 2.5, "mode": 1}}),
        ] {
            let command = read(value.clone()).expect("reads");
            assert_eq!(command.to_json(), value);
        }
    }

    #[test]
    fn a_command_becomes_the_request_the_platform_sends_on_its_topic() {
        let invoke = read(
            serde_json::json!({"device": "invPk/inv01", "invoke": "setPowerLimit",
                                             "params": {"limit": 2.5}}),
        )
        .expect("reads");
        assert_eq!(
            invoke.topic(),
            "/sys/invPk/inv01/thing/service/setPowerLimit"
        );
        let (id, body) = invoke.request(&IdSource::starting_at(7));
        assert_eq!(id, MsgId("7".into()));
        assert_eq!(body["method"], "thing.service.setPowerLimit");
        assert_eq!(body["params"]["limit"], 2.5);
        let get =
            read(serde_json::json!({"device": "gwPk/gw01", "get": ["cpuLoad"]})).expect("reads");
        assert_eq!(get.topic(), "/sys/gwPk/gw01/thing/service/measurepoint/get");
        let (_, body) = get.request(&IdSource::starting_at(1));
        assert_eq!(body["method"], "thing.service.measurepoint.get");
        assert_eq!(body["params"], serde_json::json!(["cpuLoad"]));
    }

    #[test]
    fn a_body_reads_back_into_its_command_and_what_is_not_one_says_why() {
        for value in [
            serde_json::json!({"device": "invPk/inv01", "set": {"Power": 3.5}}),
            serde_json::json!({"device": "invPk/inv01", "get": ["Power", "temp"]}),
            serde_json::json!({"device": "invPk/inv01", "invoke": "setPowerLimit",
                               "params": {"limit": 2.5}}),
        ] {
            let command = read(value).expect("reads");
            let body = command_body(&command.kind);
            assert_eq!(command_of_body(&body), Ok(command.kind.clone()));
            let (_, request) = command.request(&IdSource::starting_at(3));
            let mut sent = request.as_object().cloned().expect("an object");
            assert_eq!(sent.shift_remove("id"), Some(Value::String("3".into())));
            assert_eq!(
                Value::Object(sent),
                body,
                "the body is what is sent, less the id"
            );
        }
        for (body, said) in [
            (
                serde_json::json!({"version": "1.0", "method": "thing.measurepoint.post.batch", "params": []}),
                "is not a command",
            ),
            (
                serde_json::json!({"version": "1.1", "method": "thing.service.measurepoint.get", "params": []}),
                "sent with \"1.0\"",
            ),
            (
                serde_json::json!({"id": "1", "version": "1.0", "method": "thing.service.measurepoint.get", "params": []}),
                "\"id\" is not part of a command",
            ),
            (
                serde_json::json!({"version": "1.0", "method": "thing.service.measurepoint.get", "params": [1]}),
                "list of point ids",
            ),
            (
                serde_json::json!({"version": "1.0", "method": "thing.service.measurepoint.set", "params": []}),
                "object of point id",
            ),
        ] {
            let why = command_of_body(&body).expect_err("not shown");
            assert!(why.0.contains(said), "{body}: {why}");
        }
    }

    #[test]
    fn a_malformed_command_names_the_place_and_what_to_do() {
        let cases = [
            (serde_json::json!("set"), "at command: must be an object"),
            (
                serde_json::json!({"set": {}}),
                "at command.device: must be \"productKey/deviceKey\"",
            ),
            (serde_json::json!({"device": "invPk/inv01"}), "give one of"),
            (
                serde_json::json!({"device": "invPk/inv01", "set": {}, "get": []}),
                "gives set and get; give exactly one",
            ),
            (
                serde_json::json!({"device": "invPk/inv01", "set": [1]}),
                "at command.set",
            ),
            (
                serde_json::json!({"device": "invPk/inv01", "get": [1]}),
                "at command.get",
            ),
            (
                serde_json::json!({"device": "invPk/inv01", "invoke": ""}),
                "at command.invoke",
            ),
            (
                serde_json::json!({"device": "invPk/inv01", "invoke": "s", "params": 3}),
                "at command.params",
            ),
            (
                serde_json::json!({"device": "invPk/inv01", "set": {}, "params": {}}),
                "goes with \"invoke\" only",
            ),
        ];
        for (value, said) in cases {
            let error = read(value.clone()).expect_err("refused").to_string();
            assert!(error.starts_with("messages/c.json: "), "{error}");
            assert!(error.contains(said), "{value}: {error}");
        }
    }
}
