//! The report of a qualification: one item per check with its verdict and evidence (the
//! requests it names shown in full, secrets masked), the picture of the run, the commands the
//! plan sent with the device's replies and their findings, and the coverage of the models by
//! what the device posted, was set, invoked and evented.

use crate::model::Registry;
use crate::qualify::{
    CheckResult, CommandExchange, Picture, Plan, Record, Seen, SeenRequest,
    Verdict as CheckVerdict, pair_replies,
};
use crate::workspace::{LoginState, Workspace};

use super::device_coverage::DeviceCoverage;
use super::{Header, Item, Report, Shown, Verdict};

/// One command of the plan as the run sent it, with the device's reply.
#[derive(Clone, Debug, PartialEq)]
pub struct CommandRow {
    /// `phases[1].commands[0]`.
    pub place: String,
    /// `set Power = 3.5`.
    pub asked: String,
    pub target: String,
    pub id: String,
    /// When it was due, plan-clock seconds.
    pub due_s: f64,
    /// When it went out; `None`: never.
    pub sent_s: Option<f64>,
    /// Where it stands: `answered 200 (success)`, `never delivered...`.
    pub status: String,
    /// The reply's round trip, in ms.
    pub round_trip_ms: Option<u64>,
    /// The reply's findings: `data.cpuLoad: is missing ... (error)`.
    pub findings: Vec<String>,
    /// Replies after the first: each is a fault.
    pub more_replies: usize,
    /// Answered once, with a fitting code and nothing wrong in the reply.
    pub good: bool,
    pub command: Shown,
    pub reply: Option<Shown>,
}

impl CommandRow {
    fn of(plan: &Plan, exchange: &CommandExchange) -> Self {
        let command = &exchange.command;
        let asked = command.asked(plan);
        let first = exchange.replies.first();
        Self {
            place: command.place(),
            asked,
            target: command.target.to_string(),
            id: command.id.0.clone(),
            due_s: seconds(command.due_ms),
            sent_s: command.delivered_ms.map(seconds),
            status: exchange.status(plan, None).words(),
            round_trip_ms: first
                .zip(command.delivered_ms)
                .map(|(reply, sent)| reply.at_ms.saturating_sub(sent)),
            findings: exchange.findings(),
            more_replies: exchange.replies.len().saturating_sub(1),
            good: exchange.answered_well(),
            command: Shown::new(&command.topic, &command.payload),
            reply: first.map(|r| Shown::new(&r.topic, &r.payload)),
        }
    }
}

fn seconds(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

/// What a qualification's report shows of the device's run, beside the checks.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceSection {
    pub picture: Picture,
    pub commands: Vec<CommandRow>,
    pub coverage: DeviceCoverage,
}

impl Report {
    /// The report of a qualification of `plan` on `workspace`: its checks, the picture of the
    /// run, its commands, and the coverage of the models by what the device did in `record`.
    pub fn of_qualification(
        mut header: Header,
        workspace: &Workspace,
        plan: &Plan,
        results: &[CheckResult],
        record: &Record,
    ) -> Self {
        header.items = "checks".into();
        let requests: Vec<&SeenRequest> = record
            .seen
            .iter()
            .filter_map(|s| match s {
                Seen::Request(request) => Some(request),
                _ => None,
            })
            .collect();
        let registry: Registry = workspace.registry(&LoginState::All);
        let exchanges = pair_replies(&registry, record);
        let device = DeviceSection {
            picture: Picture::of_run(plan, &registry, record, results, None),
            commands: exchanges.iter().map(|e| CommandRow::of(plan, e)).collect(),
            coverage: DeviceCoverage::of_run(&registry, record, &exchanges),
        };
        let items = results
            .iter()
            .map(|result| {
                // The first request the evidence names, shown in full.
                let request = result
                    .evidence
                    .iter()
                    .find_map(|e| e.row)
                    .and_then(|n| requests.iter().find(|r| r.row == Some(n)))
                    .map(|r| Shown::new(&r.topic, &r.payload));
                Item {
                    name: result.check.id().to_owned(),
                    source: format!("{} of plan \"{}\"", result.level.name(), plan.name),
                    verdict: match result.verdict {
                        CheckVerdict::Pass => Verdict::Pass,
                        CheckVerdict::Fail => Verdict::Fail,
                        CheckVerdict::NotApplicable | CheckVerdict::Pending => {
                            Verdict::NotApplicable
                        }
                    },
                    expected: result.check.rule().to_owned(),
                    actual: result.summary.clone(),
                    rtt: None,
                    findings: Vec::new(),
                    notes: result
                        .evidence
                        .iter()
                        .map(|e| {
                            let request =
                                e.row.map_or(String::new(), |r| format!("request #{r}, "));
                            format!("{request}at {:.1} s: {}", e.at_ms as f64 / 1000.0, e.text)
                        })
                        .collect(),
                    request,
                    reply: None,
                }
            })
            .collect();
        Self {
            header,
            items,
            // A device's report has no "ways to be wrong": it is meant to send only valid data.
            coverage: None,
            device: Some(device),
        }
    }
}

#[cfg(test)]
#[path = "qualification_tests.rs"]
mod tests;
