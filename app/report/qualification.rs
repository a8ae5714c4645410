//! The report of a qualification: one item per check with its verdict and evidence (the
//! requests it names shown in full, secrets masked), and the coverage of the models by what the
//! device sent.

use std::time::Duration;

use crate::qualify::{CheckResult, Plan, Record, Seen, SeenRequest, Verdict as CheckVerdict};
use crate::runner::Outcome;
use crate::workspace::{LoginState, Workspace};

use super::coverage::{Coverage, Exchange};
use super::{Header, Item, Report, Shown, Verdict};

impl Report {
    /// The report of a qualification of `plan` on `workspace`: its checks, and the coverage of
    /// the models by every request of the device in `record`.
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
        let exchanges: Vec<Exchange> = requests
            .iter()
            .map(|r| Exchange {
                topic: r.topic.clone(),
                payload: r.payload.clone(),
                outcome: match r.answered {
                    Some(code) => Outcome::Replied {
                        code,
                        message: None,
                        rtt: Duration::ZERO,
                    },
                    None => Outcome::NoReply {
                        after: Duration::ZERO,
                    },
                },
                reply: Vec::new(),
            })
            .collect();
        let registry = workspace.registry(&LoginState::All);
        let coverage = Coverage::of_run(&registry, &exchanges, std::iter::empty());
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
            coverage: Some(coverage),
        }
    }
}
