//! Plans: the phases the hub plays against the device under test, read from `plans/*.json`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::broker::tls::CertFault;
use crate::protocol::{DeviceId, ReplyCode};
use crate::workspace::{FileError, Workspace};

use super::checks::{CheckId, Level};
use super::plan_commands::PlanCommand;

/// How long the device has to answer a command unless the plan says (`commandTimeoutS`).
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// How the hub answers the device's measure-point requests in a phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// The checker's code, as the reference hub always answers.
    Normal,
    /// This code for every measure-point request; logins are answered normally.
    Code(ReplyCode),
    /// Every request is processed (a login takes effect) but none is answered.
    None,
}

/// The device's network in a phase.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    #[default]
    Up,
    /// Open connections are closed at the phase start; each new one is accepted, counted as an
    /// attempt and closed at once.
    Down,
}

/// One phase of a plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Phase {
    pub name: String,
    pub length: Duration,
    pub answer: Answer,
    pub network: Network,
    /// Added to every packet, both ways.
    pub delay: Duration,
    /// Sent to the device during the phase, in the file's order.
    pub commands: Vec<PlanCommand>,
    /// The bad certificate every TLS connection made in the phase is shown (the device's open
    /// connections are closed at its start and at its end).
    pub tls: Option<CertFault>,
}

impl Phase {
    /// Normal answers, the network up, no delay and the server's own certificate.
    pub fn is_normal(&self) -> bool {
        self.answer == Answer::Normal
            && self.network == Network::Up
            && self.delay.is_zero()
            && self.tls.is_none()
    }

    /// Silent (`"answer": "none"`) or an outage: the phases a device back-fills.
    pub fn wants_backfill(&self) -> bool {
        self.answer == Answer::None || self.network == Network::Down
    }

    /// What it does, in a few words: `normal`, `answers 1204`, `no replies, +800 ms`, ...
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        match self.answer {
            Answer::Normal => {}
            Answer::Code(code) => parts.push(format!("answers {code}")),
            Answer::None => parts.push("no replies".to_owned()),
        }
        if self.network == Network::Down {
            parts.push("network down".to_owned());
        }
        if !self.delay.is_zero() {
            parts.push(format!("+{} ms each way", self.delay.as_millis()));
        }
        if let Some(fault) = self.tls {
            parts.push(format!("shows {}", fault.words()));
        }
        if parts.is_empty() {
            "normal".to_owned()
        } else {
            parts.join(", ")
        }
    }
}

/// A plan, checked against its workspace.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub name: String,
    /// The gateway (or directly connected device) under test.
    pub device: DeviceId,
    pub connect_within: Duration,
    /// How often the device is meant to report.
    pub period: Duration,
    pub phases: Vec<Phase>,
    /// Levels the plan sets, over the checks' defaults.
    pub levels: BTreeMap<CheckId, Level>,
    /// How long the device has to answer a command (`commandTimeoutS`).
    pub command_timeout: Duration,
}

impl Plan {
    /// One normal phase of `length` for `device`: the proxy forwards without faults (for
    /// measuring what the proxy itself costs).
    pub fn steady(device: DeviceId, length: Duration) -> Self {
        Self {
            name: "steady".into(),
            device,
            connect_within: length,
            period: Duration::from_secs(1),
            phases: vec![Phase {
                name: "steady".into(),
                length,
                answer: Answer::Normal,
                network: Network::Up,
                delay: Duration::ZERO,
                commands: Vec::new(),
                tls: None,
            }],
            levels: BTreeMap::new(),
            command_timeout: DEFAULT_COMMAND_TIMEOUT,
        }
    }

    /// The level of `check` in this plan.
    pub fn level(&self, check: CheckId) -> Level {
        self.levels
            .get(&check)
            .copied()
            .unwrap_or(check.default_level())
    }

    /// Whether a phase shows a bad certificate (the plan then needs TLS).
    pub fn has_tls_faults(&self) -> bool {
        self.phases.iter().any(|p| p.tls.is_some())
    }

    /// The bad certificates the plan shows, each once.
    pub fn tls_faults(&self) -> Vec<CertFault> {
        let mut faults: Vec<CertFault> = self.phases.iter().filter_map(|p| p.tls).collect();
        faults.sort();
        faults.dedup();
        faults
    }

    /// The whole plan's length.
    pub fn length(&self) -> Duration {
        self.phases.iter().map(|p| p.length).sum()
    }

    /// The phase in force `since` the clock started, with its index and its start; `None` once
    /// the plan is over.
    pub fn phase_at(&self, since: Duration) -> Option<(usize, &Phase, Duration)> {
        let mut start = Duration::ZERO;
        for (index, phase) in self.phases.iter().enumerate() {
            if since < start + phase.length {
                return Some((index, phase, start));
            }
            start += phase.length;
        }
        None
    }

    /// Each phase with its start on the plan clock.
    pub fn schedule(&self) -> impl Iterator<Item = (usize, &Phase, Duration)> {
        self.phases
            .iter()
            .enumerate()
            .scan(Duration::ZERO, |start, (index, phase)| {
                let begins = *start;
                *start += phase.length;
                Some((index, phase, begins))
            })
    }

    /// Every command of the plan in the order they fall due, with its phase's index, its
    /// index in the phase and when it falls due on the plan clock.
    pub fn commands(&self) -> Vec<(usize, usize, &PlanCommand, Duration)> {
        let mut all: Vec<_> = self
            .schedule()
            .flat_map(|(p, phase, begins)| {
                phase
                    .commands
                    .iter()
                    .enumerate()
                    .map(move |(i, command)| (p, i, command, begins + command.at))
            })
            .collect();
        all.sort_by_key(|(p, i, _, due)| (*due, *p, *i));
        all
    }

    /// Loads `path` and checks it against `workspace`: bad JSON, a missing or wrong field, an
    /// unknown device, check id or level are one error naming the file and the place.
    pub fn load(path: &Path, workspace: &Workspace) -> Result<Self, FileError> {
        let bytes = std::fs::read(path).map_err(|e| FileError::io(path, &e))?;
        Self::from_slice(path, &bytes, workspace)
    }

    /// [`Plan::load`] of bytes already read from `path`.
    pub fn from_slice(path: &Path, bytes: &[u8], workspace: &Workspace) -> Result<Self, FileError> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let file: PlanFile =
            serde_path_to_error::deserialize(&mut de).map_err(|e| FileError::serde(path, e))?;
        de.end().map_err(|e| {
            FileError::new(path, "", format!("is not valid JSON: {e}; fix the syntax"))
        })?;
        let error = |place: &str, reason: String| FileError::new(path, place, reason);
        if file.name.trim().is_empty() {
            return Err(error("name", "must be a non-empty string".into()));
        }
        // `{{gw}}`: the same plan qualifies the gateway of every environment.
        let vars = workspace.vars();
        let device =
            vars.fill_str(&file.device)
                .map_err(|crate::workspace::UnknownName(name)| {
                    let unknown = crate::workspace::UnknownVar {
                        place: "device".into(),
                        name,
                    };
                    error("device", vars.reason(&unknown))
                })?;
        let device = DeviceId::parse_slash(&device).ok_or_else(|| {
            error(
                "device",
                format!(
                    "{:?} is not a device: write \"productKey/deviceKey\"",
                    file.device
                ),
            )
        })?;
        let gateway = workspace.gateway();
        if device != gateway {
            return Err(error(
                "device",
                format!(
                    "{device} is not the workspace's gateway; the device under test is {gateway} (see workspace.json)"
                ),
            ));
        }
        if file.connect_within_s == 0 {
            return Err(error("connectWithinS", "must be at least 1".into()));
        }
        if !(file.period_s.is_finite() && file.period_s > 0.0) {
            return Err(error(
                "periodS",
                "must be a number of seconds above 0".into(),
            ));
        }
        if file.phases.is_empty() {
            return Err(error("phases", "must hold at least one phase".into()));
        }
        let command_timeout = match file.command_timeout_s {
            None => DEFAULT_COMMAND_TIMEOUT,
            Some(s) if s.is_finite() && (1.0..=60.0).contains(&s) => Duration::from_secs_f64(s),
            Some(s) => {
                return Err(error(
                    "commandTimeoutS",
                    format!(
                        "{s} is not a command timeout: give 1 to 60 seconds, as the platform allows"
                    ),
                ));
            }
        };
        // Commands are checked as if every sub-device were logged in: whether one is online
        // when its command falls due is the run's business.
        let registry = workspace.registry(&crate::workspace::LoginState::All);
        let mut phases = Vec::with_capacity(file.phases.len());
        for (i, phase) in file.phases.into_iter().enumerate() {
            if !(phase.for_s.is_finite() && phase.for_s > 0.0) {
                return Err(error(
                    &format!("phases[{i}].forS"),
                    "must be a number of seconds above 0".into(),
                ));
            }
            let answer = match phase.answer {
                None => Answer::Normal,
                Some(AnswerFile::Word(word)) => match word.as_str() {
                    "normal" => Answer::Normal,
                    "none" => Answer::None,
                    other => {
                        return Err(error(
                            &format!("phases[{i}].answer"),
                            format!(
                                "{other:?} is not an answer: use \"normal\", \"none\" or a reply code such as 1204"
                            ),
                        ));
                    }
                },
                Some(AnswerFile::Code(code)) => Answer::Code(ReplyCode(code)),
            };
            let length = Duration::from_secs_f64(phase.for_s);
            let commands = phase
                .commands
                .into_iter()
                .enumerate()
                .map(|(j, command)| {
                    let place = format!("phases[{i}].commands[{j}]");
                    PlanCommand::read(path, &place, &command, length, workspace, &registry)
                })
                .collect::<Result<Vec<_>, _>>()?;
            let tls = match phase.tls.as_deref() {
                None => None,
                Some(name) => Some(CertFault::from_name(name).ok_or_else(|| {
                    error(
                        &format!("phases[{i}].tls"),
                        format!(
                            "{name:?} is not a certificate fault: use \"untrusted\", \"wrong-host\" or \"expired\""
                        ),
                    )
                })?),
            };
            phases.push(Phase {
                name: phase.name.unwrap_or_else(|| format!("phase {}", i + 1)),
                length,
                answer,
                network: phase.network,
                delay: Duration::from_millis(phase.delay_ms),
                commands,
                tls,
            });
        }
        let mut levels = BTreeMap::new();
        for (id, level) in file.levels {
            let place = format!("levels.{id}");
            let check = CheckId::from_id(&id).ok_or_else(|| {
                error(
                    &place,
                    format!(
                        "no check has this id; the checks are {}",
                        CheckId::id_list()
                    ),
                )
            })?;
            let level = Level::from_name(&level).ok_or_else(|| {
                error(
                    &place,
                    format!("{level:?} is not a level: use \"must\", \"should\" or \"off\""),
                )
            })?;
            levels.insert(check, level);
        }
        Ok(Self {
            name: file.name,
            device,
            connect_within: Duration::from_secs(file.connect_within_s),
            period: Duration::from_secs_f64(file.period_s),
            phases,
            levels,
            command_timeout,
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PlanFile {
    name: String,
    device: String,
    #[serde(default = "default_connect_within")]
    connect_within_s: u64,
    period_s: f64,
    phases: Vec<PhaseFile>,
    #[serde(default)]
    levels: BTreeMap<String, String>,
    command_timeout_s: Option<f64>,
}

fn default_connect_within() -> u64 {
    60
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PhaseFile {
    name: Option<String>,
    for_s: f64,
    answer: Option<AnswerFile>,
    #[serde(default)]
    network: Network,
    #[serde(default)]
    delay_ms: u64,
    /// Read as a fixture's command is, with its time and whether it is invalid on purpose.
    #[serde(default)]
    commands: Vec<serde_json::Value>,
    tls: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum AnswerFile {
    Code(i64),
    Word(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Workspace {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        Workspace::load(&root).expect("the sample workspace loads")
    }

    fn load(text: &str) -> Result<Plan, FileError> {
        Plan::from_slice(Path::new("plans/p.json"), text.as_bytes(), &sample())
    }

    #[test]
    fn a_plan_reads_its_phases_and_levels() {
        let plan = load(
            r#"{"name": "outage", "device": "gwPk/gw01", "periodS": 5,
                "phases": [{"name": "steady", "forS": 30},
                           {"name": "rejected", "forS": 10, "answer": 1204},
                           {"forS": 2.5, "answer": "none"},
                           {"name": "down", "forS": 20, "network": "down"},
                           {"name": "slow", "forS": 20, "delayMs": 800},
                           {"name": "bad cert", "forS": 5, "tls": "wrong-host"},
                           {"name": "old cert", "forS": 5, "tls": "expired"}],
                "levels": {"backfills": "must", "ids-unique": "off"}}"#,
        )
        .expect("a good plan");
        assert_eq!(plan.connect_within, Duration::from_secs(60));
        assert_eq!(plan.phases[1].answer, Answer::Code(ReplyCode(1204)));
        assert_eq!(plan.phases[2].name, "phase 3");
        assert_eq!(plan.phases[2].length, Duration::from_millis(2500));
        assert!(plan.phases[3].wants_backfill() && plan.phases[2].wants_backfill());
        assert!(plan.phases[0].is_normal() && !plan.phases[4].is_normal());
        assert_eq!(plan.phases[4].describe(), "+800 ms each way");
        assert_eq!(plan.phases[5].tls, Some(CertFault::WrongHost));
        assert!(!plan.phases[5].is_normal() && !plan.phases[5].wants_backfill());
        assert_eq!(
            plan.phases[6].describe(),
            "shows an expired certificate of the right CA"
        );
        assert_eq!(
            plan.tls_faults(),
            vec![CertFault::WrongHost, CertFault::Expired]
        );
        assert_eq!(plan.level(CheckId::Backfills), Level::Must);
        assert_eq!(plan.level(CheckId::IdsUnique), Level::Off);
        assert_eq!(plan.level(CheckId::Connects), Level::Must);
        assert_eq!(plan.length(), Duration::from_millis(92_500));
        let (index, _, start) = plan.phase_at(Duration::from_secs(41)).expect("in the plan");
        assert_eq!((index, start), (2, Duration::from_secs(40)));
        assert!(plan.phase_at(Duration::from_secs(93)).is_none());
    }

    #[test]
    fn a_plan_reads_its_commands_in_the_order_they_fall_due() {
        let plan = load(
            r#"{"name": "c", "device": "gwPk/gw01", "periodS": 1, "commandTimeoutS": 5,
                "phases": [{"name": "steady", "forS": 10, "commands": [
                    {"atS": 3, "device": "gwPk/{{gw}}", "get": ["cpuLoad"]},
                    {"atS": 1, "device": "invPk/{{inv1}}", "set": {"Power": 3.5}}]},
                  {"name": "outage", "forS": 4, "network": "down", "commands": [
                    {"atS": 0.5, "device": "invPk/inv01", "invoke": "setPowerLimit", "params": {"limit": 2.5, "mode": 1}},
                    {"atS": 1, "device": "invPk/inv01", "set": {"Power": "hot"}, "invalid": true}]}]}"#,
        )
        .expect("a good plan");
        assert_eq!(plan.command_timeout, Duration::from_secs(5));
        let due: Vec<(usize, usize, u128)> = plan
            .commands()
            .into_iter()
            .map(|(p, i, _, due)| (p, i, due.as_millis()))
            .collect();
        assert_eq!(
            due,
            [(0, 1, 1_000), (0, 0, 3_000), (1, 0, 10_500), (1, 1, 11_000)]
        );
        let set = &plan.phases[0].commands[1];
        assert_eq!(set.target(), &DeviceId::new("invPk", "inv01"));
        assert_eq!(
            set.topic(),
            "/sys/invPk/inv01/thing/service/measurepoint/set"
        );
        assert_eq!(set.describe(), "set Power = 3.5");
        let (id, payload) = set.payload(&crate::workspace::IdSource::starting_at(7));
        assert_eq!(id, crate::protocol::MsgId("7".into()));
        let body: serde_json::Value = serde_json::from_slice(&payload).expect("JSON");
        assert_eq!(
            body,
            serde_json::json!({"id": "7", "version": "1.0",
                "method": "thing.service.measurepoint.set", "params": {"Power": 3.5}})
        );
        let invoke = &plan.phases[1].commands[0];
        assert_eq!(
            invoke.topic(),
            "/sys/invPk/inv01/thing/service/setPowerLimit"
        );
        assert_eq!(
            plan.phases[1].commands[1].describe(),
            "set Power = \"hot\" (invalid on purpose)"
        );
        // Without commandTimeoutS: the platform's default.
        let plan =
            load(r#"{"name": "x", "device": "gwPk/gw01", "periodS": 5, "phases": [{"forS": 1}]}"#)
                .expect("a good plan");
        assert_eq!(plan.command_timeout, DEFAULT_COMMAND_TIMEOUT);
        assert!(plan.commands().is_empty());
    }

    #[test]
    fn one_plan_names_the_gateway_of_every_environment() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let text =
            br#"{"name": "x", "device": "gwPk/{{gw}}", "periodS": 5, "phases": [{"forS": 1}]}"#;
        for (env, gateway) in [(None, "gw01"), (Some("lab"), "gw-lab")] {
            let workspace = Workspace::load_env(&root, env).expect("the sample workspace loads");
            let plan =
                Plan::from_slice(Path::new("plans/p.json"), text, &workspace).expect("a good plan");
            assert_eq!(plan.device, DeviceId::new("gwPk", gateway), "{env:?}");
        }
    }

    #[test]
    fn a_bad_plan_is_refused_naming_the_place() {
        let cases = [
            (
                r#"{"name": "x", "device": "gwPk/gw01", "periodS": 5, "phases": [{"name": "a"}]}"#,
                "at phases[0]: missing field `forS`",
            ),
            (
                r#"{"name": "x", "device": "gwPk/nobody", "periodS": 5, "phases": [{"forS": 1}]}"#,
                "at device: gwPk/nobody is not the workspace's gateway; the device under test is gwPk/gw01",
            ),
            (
                r#"{"name": "x", "device": "gwPk/gw01", "periodS": 5, "phases": [{"forS": 1}], "levels": {"fast": "must"}}"#,
                "at levels.fast: no check has this id; the checks are connects, conforms",
            ),
            (
                r#"{"name": "x", "device": "gwPk/gw01", "periodS": 5, "phases": [{"forS": 1}], "levels": {"backfills": "may"}}"#,
                "at levels.backfills: \"may\" is not a level",
            ),
            (
                r#"{"name": "x", "device": "gwPk/gw01", "periodS": 5, "phases": [{"forS": 1, "answer": "later"}]}"#,
                "at phases[0].answer: \"later\" is not an answer",
            ),
            (
                r#"{"name": "x", "device": "gwPk/gw01", "periodS": 5, "phases": [{"forS": 0}]}"#,
                "at phases[0].forS: must be a number of seconds above 0",
            ),
            (
                r#"{"name": "x", "device": "gwPk/gw01", "periodS": 5, "phases": [{"forS": 1, "network": "flaky"}]}"#,
                "at phases[0].network: unknown variant `flaky`",
            ),
            (
                r#"{"name": "x", "device": "gwPk/gw01", "periodS": 5, "phases": []}"#,
                "at phases: must hold at least one phase",
            ),
            (
                r#"{"name": "x", "device": "gwPk/gw01", "periodS": 5, "phases": [{"forS": 1}, {"forS": 1, "tls": "self-signed"}]}"#,
                "at phases[1].tls: \"self-signed\" is not a certificate fault: use \"untrusted\", \"wrong-host\" or \"expired\"",
            ),
            (
                r#"{"name": "x", "device": "gwPk/gw01", "periodS": 5, "phases": [{"forS": 1}], }"#,
                "is not valid JSON",
            ),
            (
                r#"{"name": "x", "device": "gwPk/{{gateway}}", "periodS": 5, "phases": [{"forS": 1}]}"#,
                "at device: unknown variable {{gateway}}; the variables are gw, inv1",
            ),
            (
                r#"{"name": "x", "device": "gwPk/gw01", "periodS": 5, "phases": [{"forS": 1}, {"forS": 5, "commands": [
                    {"atS": 1, "device": "invPk/inv01", "get": ["Power"]},
                    {"atS": 2, "device": "invPk/inv01", "invoke": "reboot"}]}]}"#,
                "at phases[1].commands[1]: invoke reboot would be refused (1204 model validation failed): (topic): service \"reboot\" of the topic is not a service of model wb_inverter; fix it, or mark it \"invalid\": true",
            ),
            (
                r#"{"name": "x", "device": "gwPk/gw01", "periodS": 5, "phases": [{"forS": 5, "commands": [
                    {"atS": 1, "device": "invPk/{{inv1}}", "set": {"Power": "hot"}}]}]}"#,
                "at phases[0].commands[0]: set Power = \"hot\" would be refused (1204 model validation failed): params.Power:",
            ),
            (
                r#"{"name": "x", "device": "gwPk/gw01", "periodS": 5, "phases": [{"forS": 5, "commands": [
                    {"atS": 5, "device": "invPk/inv01", "get": ["Power"]}]}]}"#,
                "at phases[0].commands[0].atS: 5 is not within the phase: give 0 <= atS < forS (5 s)",
            ),
            (
                r#"{"name": "x", "device": "gwPk/gw01", "periodS": 5, "phases": [{"forS": 5, "commands": [
                    {"atS": 1, "device": "invPk/inv01", "get": ["Power"], "set": {"Power": 1}}]}]}"#,
                "at phases[0].commands[0]: gives set and get; give exactly one",
            ),
            (
                r#"{"name": "x", "device": "gwPk/gw01", "periodS": 5, "phases": [{"forS": 5, "commands": [
                    {"atS": 1, "device": "invPk/inv01"}]}]}"#,
                "at phases[0].commands[0]: says nothing to do; give one of \"set\", \"get\" or \"invoke\"",
            ),
            (
                r#"{"name": "x", "device": "gwPk/gw01", "periodS": 5, "phases": [{"forS": 5, "commands": [
                    {"atS": 1, "device": "invPk/inv09", "get": ["Power"]}]}]}"#,
                "at phases[0].commands[0].device: invPk/inv09 is not a device of the workspace; the devices are gwPk/gw01, invPk/inv01",
            ),
            (
                r#"{"name": "x", "device": "gwPk/gw01", "periodS": 5, "phases": [{"forS": 5, "commands": [
                    {"atS": 1, "device": "invPk/inv01", "get": ["Power"], "invalid": true}]}]}"#,
                "at phases[0].commands[0].invalid: is true, but the checker finds get Power (invalid on purpose) valid",
            ),
            (
                r#"{"name": "x", "device": "gwPk/gw01", "periodS": 5, "phases": [{"forS": 5, "commands": [
                    {"atS": 1, "device": "invPk/inv01", "get": ["Power"], "params": {}}]}]}"#,
                "at phases[0].commands[0].params: goes with \"invoke\" only",
            ),
            (
                r#"{"name": "x", "device": "gwPk/gw01", "periodS": 5, "phases": [{"forS": 5, "commands": [
                    {"atS": 1, "device": "invPk/inv01", "get": ["Power"], "when": 2}]}]}"#,
                "at phases[0].commands[0].when: is not a field of a plan's command; the fields are atS, device",
            ),
            (
                r#"{"name": "x", "device": "gwPk/gw01", "periodS": 5, "commandTimeoutS": 0, "phases": [{"forS": 1}]}"#,
                "at commandTimeoutS: 0 is not a command timeout: give 1 to 60 seconds",
            ),
        ];
        for (text, expected) in cases {
            let err = load(text).expect_err(text).to_string();
            assert!(err.starts_with("plans/p.json"), "{err}");
            assert!(
                err.contains(expected),
                "{text}\n  gave: {err}\n  wanted: {expected}"
            );
        }
    }
}
