//! The commands a plan's phases send to the device (set, get, invoke), read from the plan file
//! and checked at load with the one checker, as the platform would check them before sending.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::model::{Registry, check};
use crate::protocol::{DeviceId, Method, MsgId, method_name, topic_of};
use crate::workspace::{FileError, Workspace};

/// A command a phase sends: when, to which device, what it asks.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanCommand {
    /// After the phase starts.
    pub at: Duration,
    /// The gateway or one of its sub-devices.
    pub target: DeviceId,
    /// [`Method::SetPoints`], [`Method::GetPoints`] or [`Method::Invoke`].
    pub method: Method,
    /// The service of an invoke; empty for a set or a get.
    pub service: String,
    /// `params` as sent: point id → value (set), point ids (get), input id → value (invoke).
    pub params: Value,
    /// Sent on purpose though the checker refuses it: the device must refuse it too, with its
    /// own code.
    pub invalid: bool,
}

impl PlanCommand {
    /// The target's command topic (`/sys/{pk}/{dk}/thing/service/...`).
    pub fn topic(&self) -> String {
        topic_of(self.method, &self.target, &self.service)
    }

    /// The command's body with `id`, as the platform sends it.
    pub fn payload(&self, id: &MsgId) -> Vec<u8> {
        json!({
            "id": id.0,
            "version": "1.0",
            "method": method_name(self.method, &self.service),
            "params": self.params,
        })
        .to_string()
        .into_bytes()
    }

    /// What it asks, in a few words: `set Power = 3.5`, `get cpuLoad`, `invoke setPowerLimit`.
    pub fn describe(&self) -> String {
        let asked = match self.method {
            Method::SetPoints => {
                let values: Vec<String> = self
                    .params
                    .as_object()
                    .map(|points| {
                        points
                            .iter()
                            .map(|(id, value)| format!("{id} = {value}"))
                            .collect()
                    })
                    .unwrap_or_else(|| vec![self.params.to_string()]);
                format!("set {}", values.join(", "))
            }
            Method::GetPoints => {
                let ids: Vec<String> = self
                    .params
                    .as_array()
                    .map(|ids| {
                        ids.iter()
                            .map(|id| id.as_str().map_or(id.to_string(), str::to_owned))
                            .collect()
                    })
                    .unwrap_or_else(|| vec![self.params.to_string()]);
                format!("get {}", ids.join(", "))
            }
            _ => format!("invoke {}", self.service),
        };
        if self.invalid {
            format!("{asked} (invalid on purpose)")
        } else {
            asked
        }
    }
}

/// A command as the plan file writes it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct CommandFile {
    at_s: f64,
    device: String,
    set: Option<Value>,
    get: Option<Value>,
    invoke: Option<String>,
    params: Option<Value>,
    #[serde(default)]
    invalid: bool,
}

impl CommandFile {
    /// The command at `place` (`phases[0].commands[3]`) of the plan in `path`, in a phase of
    /// `phase_length`: its target a device of `workspace`, its time within the phase, exactly
    /// one of set, get and invoke, and valid by the checker unless it says `"invalid": true`.
    pub(super) fn read(
        self,
        path: &Path,
        place: &str,
        phase_length: Duration,
        workspace: &Workspace,
        registry: &Registry,
    ) -> Result<PlanCommand, FileError> {
        let error = |at: &str, reason: String| {
            let at = if at.is_empty() {
                place.to_owned()
            } else {
                format!("{place}.{at}")
            };
            FileError::new(path, at, reason)
        };
        if !(self.at_s.is_finite() && self.at_s >= 0.0 && self.at_s < phase_length.as_secs_f64()) {
            return Err(error(
                "atS",
                format!(
                    "{} is not within the phase: give 0 <= atS < forS ({} s)",
                    self.at_s,
                    phase_length.as_secs_f64()
                ),
            ));
        }
        let vars = workspace.vars();
        let device =
            vars.fill_str(&self.device)
                .map_err(|crate::workspace::UnknownName(name)| {
                    let unknown = crate::workspace::UnknownVar {
                        place: format!("{place}.device"),
                        name,
                    };
                    error("device", vars.reason(&unknown))
                })?;
        let target = DeviceId::parse_slash(&device)
            .filter(|d| registry.devices.contains_key(d))
            .ok_or_else(|| {
                let mut known: Vec<String> =
                    registry.devices.keys().map(ToString::to_string).collect();
                known.sort();
                error(
                    "device",
                    format!(
                        "{device:?} is not a device of the workspace; the devices are {}",
                        known.join(", ")
                    ),
                )
            })?;
        if self.params.is_some() && self.invoke.is_none() {
            return Err(error(
                "params",
                "goes with \"invoke\" only: a set's values and a get's point ids are its own"
                    .into(),
            ));
        }
        let (method, service, params) = match (self.set, self.get, self.invoke) {
            (Some(set), None, None) => (Method::SetPoints, String::new(), set),
            (None, Some(get), None) => (Method::GetPoints, String::new(), get),
            (None, None, Some(service)) => (
                Method::Invoke,
                service,
                self.params.unwrap_or_else(|| json!({})),
            ),
            (set, get, invoke) => {
                let given: Vec<&str> = [
                    set.map(|_| "set"),
                    get.map(|_| "get"),
                    invoke.map(|_| "invoke"),
                ]
                .into_iter()
                .flatten()
                .collect();
                let reason = if given.is_empty() {
                    "says neither \"set\", \"get\" nor \"invoke\": give exactly one".to_owned()
                } else {
                    format!("gives {}: give exactly one", given.join(" and "))
                };
                return Err(error("", reason));
            }
        };
        if method == Method::Invoke && (service.is_empty() || service.contains(['/', '+', '#'])) {
            return Err(error(
                "invoke",
                format!("{service:?} is not a service id: no \"/\", \"+\" or \"#\""),
            ));
        }
        let command = PlanCommand {
            at: Duration::from_secs_f64(self.at_s),
            target,
            method,
            service,
            params,
            invalid: self.invalid,
        };
        // Checked as the platform checks a command before sending it: the one checker.
        let report = check(
            registry,
            &command.topic(),
            &command.payload(&MsgId("1".into())),
        );
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
