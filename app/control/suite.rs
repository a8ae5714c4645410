//! The window's suite: the runner's state machine driven from the frame over the window's own
//! gateway session, its results so far, and its evidence for coverage and the report. Its
//! requests join the timeline through the window's connection, marked `suite`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crate::model::Registry;
use crate::runner::suite::{Effect, Send};
use crate::runner::{Outcome, Suite};
use crate::transport::BrokerUrl;
use crate::workspace::{FileError, Fixture, IdSource, Workspace};

/// One line of the suite table: a result, or a fixture that could not be loaded (a failure,
/// as in `thingbench run`).
pub use crate::runner::SuiteResult;

/// The suite table and the runner behind it.
#[derive(Default)]
pub struct SuiteCtl {
    pub results: Vec<SuiteResult>,
    /// Fixtures asked for and not run yet.
    pub queued: usize,
    /// Why the suite stopped short, or the latest thing the run said once.
    pub note: Option<String>,
    /// The runner; kept between runs, so it remembers whom it logged in.
    suite: Option<Suite>,
    /// The run's traffic for its coverage and report.
    pub evidence: super::suite_evidence::SuiteEvidence,
}

impl SuiteCtl {
    /// Replays `files` (each loaded, or why not) after the run in progress, over a session to
    /// `broker` as `workspace`'s gateway; `connected` says whether it is up now; command
    /// fixtures are skipped for `skip_commands` when no device can answer them. Returns what
    /// the runner asks for first.
    #[allow(clippy::too_many_arguments)]
    pub fn run(
        &mut self,
        files: Vec<(PathBuf, Result<Fixture, FileError>)>,
        workspace: Arc<Workspace>,
        ids: IdSource,
        broker: &BrokerUrl,
        connected: bool,
        skip_commands: Option<String>,
        now: Instant,
    ) -> Vec<Effect> {
        if !self.running() {
            self.results.clear();
            self.evidence = Default::default();
            self.note = None;
        }
        self.queued += files.len();
        let suite = self.suite.get_or_insert_with(|| {
            let suite = Suite::new(Arc::clone(&workspace), ids).on_broker(broker);
            if connected {
                suite
            } else {
                suite.not_connected_yet(now)
            }
        });
        suite.set_workspace(workspace);
        suite.set_skip_commands(skip_commands);
        suite.run(files, now)
    }

    /// True while fixtures are queued or in flight.
    pub fn running(&self) -> bool {
        self.suite.as_ref().is_some_and(Suite::busy)
    }

    /// The runner, while there is one.
    pub fn runner(&mut self) -> Option<&mut Suite> {
        self.suite.as_mut()
    }

    /// Forgets the runner (a new workspace or environment): the next run starts afresh.
    pub fn forget_runner(&mut self) {
        if !self.running() {
            self.suite = None;
        }
    }

    /// Stops the run after the fixture in flight; what ran is kept.
    pub fn stop(&mut self, now: Instant) -> Vec<Effect> {
        self.suite
            .as_mut()
            .map(|suite| suite.stop(now))
            .unwrap_or_default()
    }

    /// Takes in what the runner reports, and hands back the requests it wants sent, in order.
    pub fn record(&mut self, effects: Vec<Effect>, registry: &Registry) -> Vec<Send> {
        let mut sends = Vec::new();
        for effect in effects {
            match effect {
                Effect::Send(send) => {
                    self.evidence.sent(&send.topic, &send.payload);
                    sends.push(send);
                }
                Effect::Ended { outcome, reply } => self.evidence.ended(&outcome, &reply, registry),
                Effect::Result(Ok(result)) => {
                    self.queued = self.queued.saturating_sub(1);
                    self.evidence
                        .fixture_ended(Some(&result.outcome), result.expected);
                    self.results.push(Ok(result));
                }
                Effect::Result(Err(unloadable)) => {
                    self.queued = self.queued.saturating_sub(1);
                    self.evidence.fixture_ended(None, None);
                    self.results.push(Err(unloadable));
                }
                Effect::Finished { stopped } => {
                    self.queued = self.queued.saturating_sub(stopped);
                    if stopped > 0 {
                        self.note = Some(format!("stopped: {stopped} fixtures not run"));
                    }
                }
                Effect::News(line) => self.note = Some(line),
                Effect::LoggedIn { .. } | Effect::Answered(_) => {}
            }
        }
        sends
    }

    /// The request the runner asked for could not go out at all: it ends lost.
    pub fn not_sent(&mut self, reason: String, now: Instant) -> Vec<Effect> {
        let lost = Outcome::Lost { reason };
        self.suite
            .as_mut()
            .map(|suite| suite.ended(lost, Vec::new(), now))
            .unwrap_or_default()
    }

    /// Writes the results so far as JUnit XML, as `thingbench run --junit` does; returns the
    /// number of test cases.
    pub fn export_junit(&self, path: &std::path::Path) -> Result<usize, crate::runner::RunError> {
        self.export_junit_in(path, None)
    }

    /// [`SuiteCtl::export_junit`], the suite named for environment `env` as `run --env` names it.
    pub fn export_junit_in(
        &self,
        path: &std::path::Path,
        env: Option<&str>,
    ) -> Result<usize, crate::runner::RunError> {
        let name = crate::runner::shard::suite_name(env, None);
        crate::runner::write_junit(path, &name, &self.results)?;
        Ok(self.results.len())
    }

    /// The number of fixtures that passed so far.
    pub fn passed(&self) -> usize {
        crate::runner::passed_count(&self.results)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::control::testing::sample;
    use crate::protocol::ReplyCode;
    use crate::runner::{CaseResult, Unloadable};
    use crate::workspace::LoginState;

    fn result(name: &str, passed: bool) -> Effect {
        Effect::Result(Ok(CaseResult {
            name: name.into(),
            path: format!("messages/{name}.json").into(),
            expected: Some(ReplyCode::SUCCESS),
            outcome: Outcome::Replied {
                code: ReplyCode(if passed { 200 } else { 1204 }),
                message: None,
                rtt: Duration::from_micros(300),
            },
            passed,
            notes: Vec::new(),
            findings: Vec::new(),
        }))
    }

    #[test]
    fn what_the_runner_reports_fills_the_table_and_its_sends_come_back_in_order() {
        let registry = sample().registry(&LoginState::All);
        let mut suite = SuiteCtl {
            queued: 3,
            ..SuiteCtl::default()
        };
        let send = |topic: &str| {
            Effect::Send(Send {
                side: crate::runner::suite::Side::Gateway,
                topic: topic.into(),
                payload: b"{}".to_vec(),
                msg_id: None,
                timeout: Duration::from_secs(1),
            })
        };
        let sends = suite.record(
            vec![
                send("/ext/session/gwPk/gw01/combine/login"),
                Effect::Ended {
                    outcome: Outcome::NoReply {
                        after: Duration::from_secs(1),
                    },
                    reply: Vec::new(),
                },
                result("fine", true),
                Effect::News("lost the connection: reset".into()),
                send("/sys/gwPk/gw01/thing/measurepoint/post/batch"),
            ],
            &registry,
        );
        let topics: Vec<&str> = sends.iter().map(|s| s.topic.as_str()).collect();
        assert_eq!(
            topics,
            [
                "/ext/session/gwPk/gw01/combine/login",
                "/sys/gwPk/gw01/thing/measurepoint/post/batch"
            ]
        );
        assert_eq!(suite.queued, 2);
        assert_eq!(suite.passed(), 1);
        assert_eq!(suite.note.as_deref(), Some("lost the connection: reset"));
        suite.record(
            vec![
                Effect::Result(Err(Unloadable {
                    path: "messages/broken.json".into(),
                    error: "messages/broken.json: at name: must be a string".into(),
                })),
                Effect::Finished { stopped: 1 },
            ],
            &registry,
        );
        assert_eq!(suite.queued, 0);
        assert_eq!(suite.results.len(), 2);
        assert_eq!(suite.note.as_deref(), Some("stopped: 1 fixtures not run"));
        // The results so far as JUnit: the unloadable fixture is a failed case with its error.
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("junit.xml");
        assert_eq!(suite.export_junit(&path).expect("written"), 2);
        let xml = std::fs::read_to_string(&path).expect("written");
        assert!(xml.contains("messages/broken.json"), "{xml}");
        assert_eq!(xml.matches("<failure").count(), 1, "{xml}");
        let refused = suite
            .export_junit(&dir.path().join("no/such/folder/junit.xml"))
            .expect_err("no folder")
            .to_string();
        assert!(refused.contains("junit.xml"), "{refused}");
    }
}
