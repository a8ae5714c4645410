//! The commands a plan's phases send to the device (set, get, invoke): a command as a fixture
//! writes it ([`Command`]), with when it goes out and whether it is invalid on purpose, read
//! from the plan file and checked at load with the one checker, as the platform checks a
//! command before sending it.

use std::path::Path;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::model::{CommandKind, Registry, check};
use crate::protocol::{DeviceId, MsgId};
use crate::workspace::{Command, FileError, IdSource, Workspace};

/// A command a phase sends: when, to which device, what it asks.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanCommand {
    /// After the phase starts.
    pub at: Duration,
    /// The device (the gateway or one of its sub-devices) and what it is asked.
    pub command: Command,
    /// Sent on purpose though the checker refuses it: the device must refuse it too, with its
    /// own code.
    pub invalid: bool,
}

/// The keys a plan's command may have.
const KEYS: [&str; 7] = ["atS", "device", "set", "get", "invoke", "params", "invalid"];

impl PlanCommand {
    /// The device it is for.
    pub fn target(&self) -> &DeviceId {
        &self.command.device
    }

    /// The target's command topic (`/sys/{pk}/{dk}/thing/service/...`).
    pub fn topic(&self) -> String {
        self.command.topic()
    }

    /// The command's body with the next id of `ids`, as the platform sends it.
    pub fn payload(&self, ids: &IdSource) -> (MsgId, Vec<u8>) {
        let (id, body) = self.command.request(ids);
        (id, body.to_string().into_bytes())
    }

    /// What it asks, in a few words: `set Power = 3.5`, `get cpuLoad`, `invoke setPowerLimit`.
    pub fn describe(&self) -> String {
        let asked = match &self.command.kind {
            CommandKind::Set(points) => {
                let values: Vec<String> = points
                    .iter()
                    .map(|(id, value)| format!("{id} = {value}"))
                    .collect();
                format!("set {}", values.join(", "))
            }
            CommandKind::Get(ids) => format!("get {}", ids.join(", ")),
            CommandKind::Invoke { service, .. } => format!("invoke {service}"),
        };
        if self.invalid {
            format!("{asked} (invalid on purpose)")
        } else {
            asked
        }
    }

    /// The command at `place` (`phases[0].commands[3]`) of the plan in `path`, in a phase of
    /// `phase_length`: its target a device of `workspace` (`{{name}}` filled from its
    /// variables), its time within the phase, exactly one of set, get and invoke, and valid by
    /// the checker unless it says `"invalid": true`.
    pub(super) fn read(
        path: &Path,
        place: &str,
        value: &Value,
        phase_length: Duration,
        workspace: &Workspace,
        registry: &Registry,
    ) -> Result<Self, FileError> {
        let error = |at: &str, reason: String| {
            let at = if at.is_empty() {
                place.to_owned()
            } else {
                format!("{place}.{at}")
            };
            FileError::new(path, at, reason)
        };
        let Value::Object(fields) = value else {
            return Err(error(
                "",
                format!(
                    "must be an object with \"atS\", \"device\" and one of \"set\", \"get\" or \"invoke\", got {value}"
                ),
            ));
        };
        if let Some(unknown) = fields.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(error(
                unknown,
                format!(
                    "is not a field of a plan's command; the fields are {}",
                    KEYS.join(", ")
                ),
            ));
        }
        let at_s = fields.get("atS").and_then(Value::as_f64).ok_or_else(|| {
            error(
                "atS",
                "must be the seconds after the phase's start when it is sent".into(),
            )
        })?;
        if !(at_s >= 0.0 && at_s < phase_length.as_secs_f64()) {
            return Err(error(
                "atS",
                format!(
                    "{at_s} is not within the phase: give 0 <= atS < forS ({} s)",
                    phase_length.as_secs_f64()
                ),
            ));
        }
        let invalid = match fields.get("invalid") {
            None => false,
            Some(Value::Bool(invalid)) => *invalid,
            Some(other) => {
                return Err(error(
                    "invalid",
                    format!("must be true or false, got {other}"),
                ));
            }
        };
        // The command itself as a fixture writes it, its device's variables filled.
        let mut shape: Map<String, Value> = fields
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "atS" | "invalid"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if let Some(Value::String(device)) = shape.get("device") {
            let vars = workspace.vars();
            let filled = vars
                .fill_str(device)
                .map_err(|crate::workspace::UnknownName(name)| {
                    let unknown = crate::workspace::UnknownVar {
                        place: format!("{place}.device"),
                        name,
                    };
                    error("device", vars.reason(&unknown))
                })?;
            shape.insert("device".into(), Value::String(filled));
        }
        let command = Command::from_json_at(path, place, &Value::Object(shape))?;
        if !registry.devices.contains_key(&command.device) {
            let mut known: Vec<String> = registry.devices.keys().map(ToString::to_string).collect();
            known.sort();
            return Err(error(
                "device",
                format!(
                    "{} is not a device of the workspace; the devices are {}",
                    command.device,
                    known.join(", ")
                ),
            ));
        }
        let command = Self {
            at: Duration::from_secs_f64(at_s),
            command,
            invalid,
        };
        // Checked as the platform checks a command before sending it: the one checker.
        let (_, payload) = command.payload(&IdSource::starting_at(1));
        let report = check(registry, &command.topic(), &payload);
        match (report.code.is_success(), command.invalid) {
            (true, true) => Err(error(
                "invalid",
                format!(
                    "is true, but the checker finds {} valid: remove \"invalid\", or make it invalid on purpose",
                    command.describe()
                ),
            )),
            (false, false) => Err(error(
                "",
                format!(
                    "{} would be refused ({} {}): {}; fix it, or mark it \"invalid\": true to send it on purpose",
                    command.describe(),
                    report.code,
                    report.code.meaning(),
                    report.reply_message().unwrap_or_default()
                ),
            )),
            _ => Ok(command),
        }
    }
}
