//! The suite: a runner on its own thread replaying fixtures, its results so far, and its
//! traffic, shown in the timeline like the window's own.

use std::collections::VecDeque;
use std::path::PathBuf;

use crate::history::{RowKind, Timeline};
use crate::model::{Registry, SessionEffect, check};
use crate::protocol::{DeviceId, MsgId, parse_reply, reply_topic};
use crate::runner::Outcome;
use crate::runner::worker::{Worker, WorkerCommand, WorkerEvent, start_worker};
use crate::transport::{BrokerUrl, SessionConfig};
use crate::workspace::WorkspaceFeed;

use super::Wake;
use super::traffic::{Reply, end_unanswered, push_reply, push_request};

/// The suite's request in flight, shown in the timeline like the window's own.
struct SuiteRequest {
    row: usize,
    device: Option<DeviceId>,
    topic: String,
    /// The login or logout it makes when accepted.
    effect: Option<SessionEffect>,
}

/// Suite requests whose reply the window's own session may also hear (both speak as the same
/// gateway), by reply topic and id; a few are enough, as the suite sends one at a time.
const SUITE_IDS_KEPT: usize = 64;

/// One line of the suite table: a result, or a fixture that could not be loaded (a failure,
/// as in `thingbench run`).
pub use crate::runner::SuiteResult;

/// The suite table and the runner behind it.
#[derive(Default)]
pub struct SuiteCtl {
    pub results: Vec<SuiteResult>,
    /// Fixtures asked for and not run yet.
    pub queued: usize,
    /// Why the suite stopped short, when it did.
    pub note: Option<String>,
    worker: Option<(Worker, BrokerUrl)>,
    request: Option<SuiteRequest>,
    /// The latest suite requests, as `(reply topic, id)`: their replies reach the window's own
    /// session too, which must not list them as unpaired. `None` for a request without an id.
    ids: VecDeque<(String, Option<MsgId>)>,
    /// The run's traffic for its coverage and report.
    pub evidence: super::suite_evidence::SuiteEvidence,
}

impl SuiteCtl {
    /// Replays `paths` with a runner connected as `config` says (started when there is none
    /// for that broker yet), after the run in progress; the runner follows `workspace`.
    pub fn run(
        &mut self,
        paths: Vec<PathBuf>,
        config: SessionConfig,
        workspace: WorkspaceFeed,
        timeline: &mut Timeline,
        wake: &Wake,
    ) {
        let url = config.broker.clone();
        if !self.worker.as_ref().is_some_and(|(_, u)| *u == url) {
            // A runner for another broker gives way; its request in flight ends here.
            self.ended(
                &Outcome::Lost {
                    reason: "the suite runner was replaced".into(),
                },
                &[],
                timeline,
            );
            let wake = wake.clone();
            let worker = start_worker(workspace, config, Box::new(move || wake()));
            self.worker = Some((worker, url));
        }
        self.results.clear();
        self.evidence = Default::default();
        self.note = None;
        self.queued += paths.len();
        if let Some((worker, _)) = &self.worker
            && worker.commands.send(WorkerCommand::Run(paths)).is_err()
        {
            self.queued = 0;
            self.note = Some("the suite runner has stopped; connect again".into());
            self.worker = None;
        }
    }

    /// Stops the run after the fixture in flight; what ran is kept.
    pub fn stop(&self) {
        if let Some((worker, _)) = &self.worker {
            worker.stop();
        }
    }

    /// The runner's events since the last frame.
    pub fn take_events(&self) -> Vec<WorkerEvent> {
        self.worker
            .as_ref()
            .map(|(w, _)| w.events.try_iter().collect())
            .unwrap_or_default()
    }

    /// Writes the results so far as JUnit XML, as `thingbench run --junit` does; returns the
    /// number of test cases.
    pub fn export_junit(&self, path: &std::path::Path) -> Result<usize, String> {
        self.export_junit_in(path, None)
    }

    /// [`SuiteCtl::export_junit`], the suite named for environment `env` as `run --env` names it.
    pub fn export_junit_in(
        &self,
        path: &std::path::Path,
        env: Option<&str>,
    ) -> Result<usize, String> {
        let name = crate::runner::shard::suite_name(env, None);
        let xml = crate::runner::junit_xml_of_run(&name, &self.results)?;
        crate::workspace::write_atomic(path, xml.as_bytes())
            .map_err(|e| format!("{}: cannot write: {e}", path.display()))?;
        Ok(self.results.len())
    }

    /// The number of fixtures that passed so far.
    pub fn passed(&self) -> usize {
        crate::runner::passed_count(&self.results)
    }

    /// Applies one event of the runner. An accepted login or logout of the suite changes what
    /// the hub believes, so `registry` follows it; returns true when it did.
    pub fn apply(
        &mut self,
        event: WorkerEvent,
        registry: &mut Registry,
        timeline: &mut Timeline,
    ) -> bool {
        match event {
            WorkerEvent::Ready => false,
            WorkerEvent::Failed(e) => {
                self.ended(
                    &Outcome::Lost {
                        reason: "the suite runner stopped".into(),
                    },
                    &[],
                    timeline,
                );
                self.queued = 0;
                self.note = Some(format!("the suite could not run: {e}"));
                self.worker = None;
                false
            }
            WorkerEvent::BadFixture(unloadable) => {
                self.queued = self.queued.saturating_sub(1);
                self.evidence.fixture_ended(None, None);
                self.results.push(Err(unloadable));
                false
            }
            WorkerEvent::Sent { topic, payload } => {
                self.evidence.sent(&topic, &payload);
                self.sent(topic, &payload, registry, timeline);
                false
            }
            WorkerEvent::Ended { outcome, reply } => {
                self.evidence.ended(&outcome, &reply, registry);
                let effect = self.ended(&outcome, &reply, timeline);
                let changed = effect.is_some();
                registry.apply(effect.as_ref());
                changed
            }
            WorkerEvent::Result(result) => {
                self.queued = self.queued.saturating_sub(1);
                self.evidence
                    .fixture_ended(Some(&result.outcome), result.expected);
                self.results.push(Ok(result));
                false
            }
            WorkerEvent::Finished { stopped } => {
                self.queued = self.queued.saturating_sub(stopped);
                if stopped > 0 {
                    self.note = Some(format!("stopped: {stopped} fixtures not run"));
                }
                false
            }
            WorkerEvent::News(line) => {
                self.note = Some(line);
                false
            }
        }
    }

    /// A suite request goes out: a row for it, checked as the window's own are.
    fn sent(
        &mut self,
        topic: String,
        payload: &[u8],
        registry: &Registry,
        timeline: &mut Timeline,
    ) {
        let report = check(registry, &topic, payload);
        let device = report.view.first_device().cloned();
        let row = push_request(timeline, device.as_ref(), &topic, payload, &report, "suite");
        if self.ids.len() == SUITE_IDS_KEPT {
            self.ids.pop_front();
        }
        self.ids.push_back((reply_topic(&topic), report.id));
        self.request = Some(SuiteRequest {
            row,
            device,
            topic,
            effect: report.effect,
        });
    }

    /// The suite's request in flight ended; returns the login or logout it made, if accepted.
    fn ended(
        &mut self,
        outcome: &Outcome,
        reply: &[u8],
        timeline: &mut Timeline,
    ) -> Option<SessionEffect> {
        let sent = self.request.take()?;
        let device = sent.device.as_ref();
        match outcome {
            Outcome::Replied { code, message, rtt } => {
                let reply = Reply {
                    payload: reply,
                    code: *code,
                    message: message.as_deref(),
                    rtt: *rtt,
                };
                push_reply(timeline, sent.row, device, &sent.topic, &reply);
                sent.effect.filter(|_| code.is_success())
            }
            Outcome::NoReply { after } => {
                let note = format!("no reply within {} ms", after.as_millis());
                end_unanswered(
                    timeline,
                    sent.row,
                    device,
                    &sent.topic,
                    RowKind::NoReply,
                    &note,
                );
                None
            }
            Outcome::Lost { reason } | Outcome::NotSent { reason } => {
                end_unanswered(
                    timeline,
                    sent.row,
                    device,
                    &sent.topic,
                    RowKind::Lost,
                    reason,
                );
                None
            }
        }
    }

    /// True for a reply to one of the suite's requests, heard by the window's own session: by
    /// id, or for a reply without one (to a request that had none), the oldest on its topic.
    pub fn claims_reply(&mut self, topic: &str, payload: &[u8]) -> bool {
        let id = parse_reply(payload).ok().and_then(|r| r.id);
        let Some(at) = self.ids.iter().position(|(t, i)| t == topic && *i == id) else {
            return false;
        };
        self.ids.remove(at);
        true
    }
}

#[cfg(test)]
mod tests {
    use crate::control::testing::sample;
    use std::time::Duration;

    use super::*;
    use crate::protocol::ReplyCode;
    use crate::runner::login_message;
    use crate::workspace::{IdSource, LoginState};

    #[test]
    fn an_accepted_suite_login_reaches_the_registry_and_the_timeline() {
        let ws = sample();
        let mut registry = ws.registry(&LoginState::Only(Vec::new()));
        let mut timeline = Timeline::default();
        let mut suite = SuiteCtl::default();
        let inv = DeviceId::new("invPk", "inv01");
        let login = login_message(
            &ws.gateway(),
            &registry,
            &inv,
            true,
            &IdSource::from_clock(),
        );
        let sent = WorkerEvent::Sent {
            topic: login.topic.clone(),
            payload: login.payload.clone(),
        };
        assert!(!suite.apply(sent, &mut registry, &mut timeline));
        assert_eq!(timeline.len(), 1, "a row for the suite's request");
        // The window's own session hears the reply too, and must leave it to the suite.
        let id = login.id.as_ref().map(|id| id.0.clone()).expect("an id");
        let reply = format!(r#"{{"id":"{id}","code":200,"data":{{}}}}"#);
        assert!(suite.claims_reply(&reply_topic(&login.topic), reply.as_bytes()));
        assert!(
            !suite.claims_reply(&reply_topic(&login.topic), reply.as_bytes()),
            "claimed once"
        );
        let ended = WorkerEvent::Ended {
            outcome: Outcome::Replied {
                code: ReplyCode::SUCCESS,
                message: None,
                rtt: Duration::from_millis(1),
            },
            reply: reply.into_bytes(),
        };
        assert!(
            suite.apply(ended, &mut registry, &mut timeline),
            "logins changed"
        );
        assert!(registry.logged_in.contains(&inv));
        let request = timeline.row(timeline.first()).copied().expect("request");
        assert_eq!(request.code(), Some(ReplyCode::SUCCESS));
        assert_eq!(timeline.note(&request), "suite");
    }

    #[test]
    fn a_refused_login_changes_nothing_and_results_count_down() {
        let ws = sample();
        let mut registry = ws.registry(&LoginState::Only(Vec::new()));
        let mut timeline = Timeline::default();
        let mut suite = SuiteCtl {
            queued: 2,
            ..SuiteCtl::default()
        };
        let inv = DeviceId::new("invPk", "inv01");
        let login = login_message(
            &ws.gateway(),
            &registry,
            &inv,
            true,
            &IdSource::from_clock(),
        );
        suite.apply(
            WorkerEvent::Sent {
                topic: login.topic,
                payload: login.payload,
            },
            &mut registry,
            &mut timeline,
        );
        let refused = WorkerEvent::Ended {
            outcome: Outcome::Replied {
                code: ReplyCode(1203),
                message: Some("bad signature".into()),
                rtt: Duration::from_millis(1),
            },
            reply: Vec::new(),
        };
        assert!(!suite.apply(refused, &mut registry, &mut timeline));
        assert!(registry.logged_in.is_empty());
        let bad = WorkerEvent::BadFixture(crate::runner::Unloadable {
            path: "messages/broken.json".into(),
            error: "messages/broken.json: at name: must be a string".into(),
        });
        suite.apply(bad, &mut registry, &mut timeline);
        suite.apply(
            WorkerEvent::Finished { stopped: 1 },
            &mut registry,
            &mut timeline,
        );
        assert_eq!(suite.queued, 0);
        assert_eq!(suite.results.len(), 1);
        assert_eq!(suite.passed(), 0);
        assert_eq!(suite.note.as_deref(), Some("stopped: 1 fixtures not run"));
        // The results so far as JUnit: the unloadable fixture is a failed case with its error.
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("junit.xml");
        assert_eq!(suite.export_junit(&path), Ok(1));
        let xml = std::fs::read_to_string(&path).expect("written");
        assert!(xml.contains("messages/broken.json"), "{xml}");
        assert!(xml.contains("<failure"), "{xml}");
        let refused = suite
            .export_junit(&dir.path().join("no/such/folder/junit.xml"))
            .expect_err("no folder");
        assert!(refused.contains("junit.xml: cannot write"), "{refused}");
    }

    /// The window's suite says what the run says once: here, that no hub answers.
    #[test]
    fn the_window_suite_hears_that_no_hub_answers() {
        let broker = crate::broker::EmbeddedBroker::start(None).expect("a broker, no hub");
        let ws = std::sync::Arc::new(sample());
        let dir = tempfile::tempdir().expect("temp dir");
        let fixture = dir.path().join("quick.json");
        std::fs::write(
            &fixture,
            r#"{"name": "quick", "request": {"version": "1.0", "method": "thing.measurepoint.post.batch", "params": []}, "expect": {"code": 200, "withinMs": 100}}"#,
        )
        .expect("write");
        let config = crate::transport::SessionConfig {
            broker: broker.url(),
            client_id: "suite-no-hub".into(),
            auth: crate::transport::Auth::None,
            keep_alive: Duration::from_secs(30),
            tls: Default::default(),
        };
        let worker = crate::runner::worker::start_worker(
            crate::workspace::WorkspaceFeed::fixed(ws),
            config,
            Box::new(|| {}),
        );
        worker
            .commands
            .send(crate::runner::worker::WorkerCommand::Run(vec![fixture]))
            .expect("the worker listens");
        let mut suite = SuiteCtl::default();
        let mut registry = sample().registry(&LoginState::All);
        let mut timeline = Timeline::default();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let remaining = deadline.saturating_duration_since(std::time::Instant::now());
            let event = worker
                .events
                .recv_timeout(remaining)
                .expect("the run ends in time");
            let finished = matches!(event, WorkerEvent::Finished { .. });
            suite.apply(event, &mut registry, &mut timeline);
            if finished {
                break;
            }
        }
        let note = suite.note.clone().unwrap_or_default();
        assert!(
            note.contains(&format!("no hub seems to be answering on {}", broker.url())),
            "{note:?}"
        );
    }
}
