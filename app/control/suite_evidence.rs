//! What the window's suite run sent and was answered, kept for its coverage and its report.

use std::path::Path;

use crate::model::Registry;
use crate::protocol::ReplyCode;
use crate::report::{Coverage, Exchange, Header, Recorder, Report, RunCase};
use crate::runner::{Outcome, SuiteResult};
use crate::workspace::Workspace;

/// The suite's traffic, each fixture's own request, and the coverage so far.
#[derive(Debug, Default)]
pub struct SuiteEvidence {
    recorder: Recorder,
    /// Each result's own request, in the order of the results.
    own: Vec<Option<Exchange>>,
    /// The coverage of what was sent so far; `None` before the first reply or silence.
    pub coverage: Option<Coverage>,
}

impl SuiteEvidence {
    /// A request of the suite goes out.
    pub fn sent(&mut self, topic: &str, payload: &[u8]) {
        self.recorder.sent(topic, payload);
    }

    /// The request sent last ended; it counts toward the coverage at once.
    pub fn ended(&mut self, outcome: &Outcome, reply: &[u8], registry: &Registry) {
        self.recorder.ended(outcome, reply);
        if let Some(exchange) = self.recorder.exchanges.last() {
            self.coverage
                .get_or_insert_with(|| Coverage::new(registry))
                .add(registry, exchange);
        }
    }

    /// A fixture ended with `outcome` expecting `expected` (`None` for both: it did not load).
    pub fn fixture_ended(&mut self, outcome: Option<&Outcome>, expected: Option<ReplyCode>) {
        let own = self.recorder.fixture_ended(outcome).cloned();
        self.own.push(own);
        if let (Some(coverage), Some(code)) = (&mut self.coverage, expected) {
            coverage.expect(code);
        }
    }

    /// Writes the report of `results` (the suite's, in order) to `path`; returns how many
    /// fixtures it holds.
    pub fn export(
        &self,
        results: &[SuiteResult],
        workspace: &Workspace,
        broker: &str,
        path: &Path,
    ) -> Result<usize, crate::report::ReportError> {
        let cases: Vec<RunCase> = results
            .iter()
            .enumerate()
            .map(|(i, result)| RunCase {
                result: result.clone(),
                exchange: self.own.get(i).cloned().flatten(),
            })
            .collect();
        let mut header = Header::now("suite run", &workspace.root, broker);
        header.environment.clone_from(&workspace.env);
        Report::of_run(header, workspace, &cases, &self.recorder.exchanges).write(path)?;
        Ok(cases.len())
    }
}
