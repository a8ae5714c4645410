//! Reading a device's reply to a command: what its code means, and what is wrong with the reply
//! (design.md, "Reading the reply"). Findings are shown like the checker's.

use serde_json::{Map, Value};

use crate::protocol::{
    CodeForm, MsgId, ReplyCode, ReplyParseError, id_of, parse_reply_form, reply_topic, topic_of,
};

use super::check::Severity;
use super::registry::Registry;
use super::thing_model::ThingModel;
use super::value::{Verdict, check_value, check_with_quality, describe};
use super::view::{CommandKind, CommandView};

/// What a device's reply code means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeMeaning {
    /// 200.
    Success,
    /// 2000 and above: the device's own error.
    DeviceError,
    /// 1101: the device (its SDK) has no handler registered for the command.
    NoHandler,
    /// 1102 (Java SDK) or 500 (Python SDK): the device's handler failed.
    HandlerFailed,
    /// Any other code below 2000: not a code a device sends.
    NotADeviceCode,
    /// 11900: not the device's answer but the platform's, which did not send the command
    /// because the device is not online (thingbench's door answers so, as the platform does).
    DeviceOffline,
}

impl CodeMeaning {
    /// The meaning of `code` in a device's reply.
    pub fn of(code: ReplyCode) -> Self {
        match code.0 {
            200 => Self::Success,
            1101 => Self::NoHandler,
            1102 | 500 => Self::HandlerFailed,
            11900 => Self::DeviceOffline,
            c if c >= 2000 => Self::DeviceError,
            _ => Self::NotADeviceCode,
        }
    }

    /// The meaning in words.
    pub fn words(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::DeviceError => "the device's own error",
            Self::NoHandler => "no handler registered for the command",
            Self::HandlerFailed => "the device's handler failed",
            Self::NotADeviceCode => "not a device code",
            Self::DeviceOffline => "device offline: the command was not sent",
        }
    }
}

/// What is wrong with a reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReplyFault {
    /// Not JSON, not an object, or no code that reads as an integer.
    Unreadable,
    /// The reply's id is missing or not the command's.
    IdNotEchoed,
    /// The reply came on another topic than the command's topic + `_reply`.
    WrongTopic,
    /// The code is a string of digits: read, and noted (a warning).
    CodeAsString,
    /// `data` does not match the model (get: every point asked for, typed; invoke: every output
    /// of the service, typed, no other key; set: `{}`, `null` or absent).
    DataMismatch,
}

/// One thing found in a reply, at a place in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplyFinding {
    pub fault: ReplyFault,
    /// Where: `id`, `code`, `data.Power`, `(topic)`, `(payload)`.
    pub path: String,
    /// [`Severity::Error`] fails a command fixture; [`Severity::Warning`] only notes.
    pub severity: Severity,
    pub message: String,
}

/// A reply as read against its command.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplyReading {
    /// The code, when it reads as an integer.
    pub code: Option<ReplyCode>,
    pub meaning: Option<CodeMeaning>,
    /// The reply's `message`, if any.
    pub message: Option<String>,
    /// The reply's `data` (`null` when absent).
    pub data: Value,
    pub findings: Vec<ReplyFinding>,
}

impl ReplyReading {
    /// True when nothing but warnings was found.
    pub fn is_clean(&self) -> bool {
        self.findings.iter().all(|f| f.severity != Severity::Error)
    }
}

/// Reads the reply `payload` that came on `topic` to `command`, sent with id `id`. Its `data`
/// is checked against the target's model only when the code is 200.
pub fn read_reply(
    registry: &Registry,
    command: &CommandView,
    id: Option<&MsgId>,
    topic: &str,
    payload: &[u8],
) -> ReplyReading {
    let mut reading = ReplyReading {
        code: None,
        meaning: None,
        message: None,
        data: Value::Null,
        findings: Vec::new(),
    };
    let mut found = |fault, severity, path: &str, message: String| {
        reading.findings.push(ReplyFinding {
            fault,
            path: path.to_owned(),
            severity,
            message,
        });
    };
    let identifier = match &command.kind {
        CommandKind::Invoke { service, .. } => service.as_str(),
        _ => "",
    };
    let expected_topic = reply_topic(&topic_of(
        command.kind.method(),
        &command.target,
        identifier,
    ));
    if topic != expected_topic {
        found(
            ReplyFault::WrongTopic,
            Severity::Error,
            "(topic)",
            format!("the reply came on {topic}; expected {expected_topic}"),
        );
    }
    let (reply, form) = match parse_reply_form(payload) {
        Ok(read) => read,
        Err(e) => {
            let path = match e {
                ReplyParseError::NoCode => "code",
                _ => "(payload)",
            };
            found(
                ReplyFault::Unreadable,
                Severity::Error,
                path,
                format!("{e}; a reply is {{\"id\", \"code\": integer, \"data\"}}"),
            );
            // The id may still be readable.
            let body = serde_json::from_slice::<Value>(payload).ok();
            let echoed = body.as_ref().and_then(Value::as_object).and_then(id_of);
            reading.findings.extend(id_finding(id, echoed.as_ref()));
            return reading;
        }
    };
    if let Some(finding) = id_finding(id, reply.id.as_ref()) {
        reading.findings.push(finding);
    }
    if form == CodeForm::String {
        reading.findings.push(ReplyFinding {
            fault: ReplyFault::CodeAsString,
            path: "code".into(),
            severity: Severity::Warning,
            message: format!(
                "is the string \"{}\", read as {}; send an integer",
                reply.code, reply.code
            ),
        });
    }
    reading.code = Some(reply.code);
    reading.meaning = Some(CodeMeaning::of(reply.code));
    reading.message = reply.message;
    if reply.code.is_success() {
        let model = registry.model_of(&command.target.product_key);
        for (path, severity, message) in data_findings(&command.kind, model, &reply.data) {
            reading.findings.push(ReplyFinding {
                fault: ReplyFault::DataMismatch,
                path,
                severity,
                message,
            });
        }
    }
    reading.data = reply.data;
    reading
}

/// The finding when the reply's id is not the command's.
fn id_finding(sent: Option<&MsgId>, echoed: Option<&MsgId>) -> Option<ReplyFinding> {
    let sent = sent?;
    let message = match echoed {
        Some(echoed) if echoed == sent => return None,
        Some(echoed) => format!("is \"{echoed}\"; expected the command's id \"{sent}\""),
        None => format!("is missing; expected the command's id \"{sent}\""),
    };
    Some(ReplyFinding {
        fault: ReplyFault::IdNotEchoed,
        path: "id".into(),
        severity: Severity::Error,
        message,
    })
}

/// How `data` of a 200 reply fails to match the model: `(path, severity, message)`.
fn data_findings(
    kind: &CommandKind,
    model: Option<&std::sync::Arc<ThingModel>>,
    data: &Value,
) -> Vec<(String, Severity, String)> {
    let mut findings = Vec::new();
    let mut error = |path: String, message: String| {
        findings.push((path, Severity::Error, message));
    };
    let object = |what: &str| -> Result<&Map<String, Value>, String> {
        data.as_object()
            .ok_or_else(|| format!("must be an object of {what}, got {}", describe(data)))
    };
    match kind {
        CommandKind::Set(_) => match data {
            Value::Null => {}
            Value::Object(map) if map.is_empty() => {}
            other => error(
                "data".into(),
                format!(
                    "must be {{}}, null or absent for a set, got {}",
                    describe(other)
                ),
            ),
        },
        CommandKind::Get(asked) => {
            let points = match object("point id → value") {
                Ok(points) => points,
                Err(message) => {
                    error("data".into(), message);
                    return findings;
                }
            };
            for id in asked {
                let Some(value) = points.get(id) else {
                    error(
                        format!("data.{id}"),
                        "is missing: the get asked for it".into(),
                    );
                    continue;
                };
                let Some(point) = model.and_then(|m| m.point(id)) else {
                    continue;
                };
                // A quality point may come back with its quality or bare.
                let verdict: Verdict = if point.has_quality && value.is_object() {
                    check_with_quality(&point.data_type, value)
                } else {
                    check_value(&point.data_type, value)
                };
                if let Err(invalid) = verdict {
                    error(format!("data.{id}"), invalid.message);
                }
            }
            for id in points.keys().filter(|k| !asked.contains(k)) {
                findings.push((
                    format!("data.{id}"),
                    Severity::Warning,
                    "was not asked for".into(),
                ));
            }
        }
        CommandKind::Invoke { service, .. } => {
            let Some(declared) = model.and_then(|m| m.service(service)) else {
                // The checker refused the command for it already.
                return findings;
            };
            let outputs = match object("output id → value") {
                Ok(outputs) => outputs,
                Err(message) => {
                    error("data".into(), message);
                    return findings;
                }
            };
            for point in &declared.outputs {
                match outputs.get(&point.identifier) {
                    None => error(
                        format!("data.{}", point.identifier),
                        format!("is missing: service {service} declares the output"),
                    ),
                    Some(value) => {
                        if let Err(invalid) = check_value(&point.data_type, value) {
                            error(format!("data.{}", point.identifier), invalid.message);
                        }
                    }
                }
            }
            for id in outputs.keys().filter(|k| declared.output(k).is_none()) {
                error(
                    format!("data.{id}"),
                    format!("is not an output of service {service}"),
                );
            }
        }
    }
    findings
}
