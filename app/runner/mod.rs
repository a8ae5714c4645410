//! Suites: replay fixtures over a session, judge them against `expect`, write JUnit XML;
//! and the round-trip benchmark.

pub mod bench;
pub mod bench_commands;
pub mod command;
pub mod connect;
pub mod diagnosis;
mod error;
pub mod shard;
pub mod suite;
pub mod watch;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use crate::model::Registry;
use crate::protocol::{DeviceId, EpochMs, Method, ReplyCode, request_topic};
use crate::transport::{BrokerUrl, RequestId, Session, SessionCommand, SessionEvent};
use crate::workspace::{Fixture, IdSource, JsonFiles, LoginState, ResolvedMessage, Workspace};

pub use error::{ConnectError, RunError};
pub use suite::{OUTAGE_PATIENCE, Suite};

/// How one fixture ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Replied {
        code: ReplyCode,
        message: Option<String>,
        rtt: Duration,
    },
    NoReply {
        after: Duration,
    },
    Lost {
        reason: String,
    },
    /// Refused before sending (a payload over the limit).
    NotSent {
        reason: String,
    },
    /// Not run here, for `reason` (a command with no device that could answer it).
    Skipped {
        reason: String,
    },
}

impl Outcome {
    /// What happened, in words: `200 success  0.41 ms`, `no reply within 5000 ms`, ...
    pub fn describe(&self) -> String {
        match self {
            Self::Replied { code, rtt, .. } => format!(
                "{code} {}  {:.2} ms",
                code.meaning(),
                rtt.as_secs_f64() * 1000.0
            ),
            Self::NoReply { after } => format!("no reply within {} ms", after.as_millis()),
            Self::Lost { reason } => format!("lost: {reason}"),
            Self::NotSent { reason } => reason.clone(),
            Self::Skipped { reason } => format!("skipped: {reason}"),
        }
    }
}

/// A request of a run as it goes out and as it ends, for a window that shows the run's traffic.
#[derive(Debug)]
pub enum Traffic<'m> {
    /// About to be published.
    Sent { topic: &'m str, payload: &'m [u8] },
    /// How the request sent last ended; `reply` is the reply's payload, empty without one.
    Ended {
        outcome: &'m Outcome,
        reply: &'m [u8],
    },
}

/// What [`Runner::observe`] calls.
type Observer<'a> = Box<dyn FnMut(Traffic<'_>) + 'a>;

/// What [`Runner::tell`] calls with each line of news.
type Teller<'a> = Box<dyn FnMut(&str) + 'a>;

/// One fixture's result.
#[derive(Clone, Debug, PartialEq)]
pub struct CaseResult {
    pub name: String,
    pub path: PathBuf,
    pub expected: Option<ReplyCode>,
    pub outcome: Outcome,
    pub passed: bool,
    /// Setup problems (a sub-device that could not be logged in...), and what a command's
    /// reply only notes.
    pub notes: Vec<String>,
    /// What is wrong with a command's reply beyond its code; any fails the fixture.
    pub findings: Vec<String>,
}

impl CaseResult {
    /// True when it was not run here (see [`Outcome::Skipped`]): neither passed nor failed.
    pub fn skipped(&self) -> bool {
        matches!(self.outcome, Outcome::Skipped { .. })
    }

    /// One line for the terminal.
    pub fn line(&self) -> String {
        if let Outcome::Skipped { reason } = &self.outcome {
            return format!("SKIP  {}  ({reason})", self.name);
        }
        let verdict = if self.passed { "PASS" } else { "FAIL" };
        let expected = self
            .expected
            .map_or("no reply".to_owned(), |c| c.to_string());
        let actual = match &self.outcome {
            Outcome::Replied { code, rtt, .. } => {
                format!("{code}  {:.2} ms", rtt.as_secs_f64() * 1000.0)
            }
            other => other.describe(),
        };
        format!(
            "{verdict}  {}  expected {expected}  got {actual}",
            self.name
        )
    }

    /// Why it failed, for JUnit.
    pub fn failure_message(&self) -> String {
        let expected = self
            .expected
            .map_or("no reply".to_owned(), |c| c.to_string());
        let code_matched =
            matches!(&self.outcome, Outcome::Replied { code, .. } if Some(*code) == self.expected);
        if code_matched && !self.findings.is_empty() {
            return format!(
                "expected {expected}, got it, but {}",
                self.findings.join("; ")
            );
        }
        match &self.outcome {
            Outcome::Replied { code, message, .. } => format!(
                "expected {expected}, got {code}{}",
                message
                    .as_ref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            ),
            Outcome::NoReply { after } => {
                format!(
                    "expected {expected}, got no reply within {} ms",
                    after.as_millis()
                )
            }
            Outcome::Lost { reason } => {
                format!("expected {expected}, the request was lost: {reason}")
            }
            Outcome::NotSent { reason } => format!("expected {expected}, {reason}"),
            Outcome::Skipped { reason } => format!("skipped: {reason}"),
        }
    }
}

/// A fixture file that could not be loaded: a failed case of its run, with why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unloadable {
    pub path: PathBuf,
    pub error: String,
}

impl Unloadable {
    /// One line for the terminal, like a failed fixture's.
    pub fn line(&self) -> String {
        format!("FAIL  {}  {}", self.path.display(), self.failure_message())
    }

    /// Why it failed, for JUnit.
    pub fn failure_message(&self) -> String {
        format!("could not load the fixture: {}", self.error)
    }
}

/// How one fixture file of a run ended: its result, or why it could not be loaded.
pub type SuiteResult = Result<CaseResult, Unloadable>;

/// The terminal line of a result.
pub fn result_line(result: &SuiteResult) -> String {
    match result {
        Ok(result) => result.line(),
        Err(unloadable) => unloadable.line(),
    }
}

/// The fixture files named by `paths`: files as given, folders searched recursively (links
/// followed), each folder's files in name order; with what the search skipped, by name.
pub fn collect_fixture_files(paths: &[PathBuf]) -> Result<JsonFiles, RunError> {
    let mut files = JsonFiles::default();
    for path in paths {
        if path.is_dir() {
            let found = crate::workspace::json_files_under(path);
            files.files.extend(found.files);
            files.skipped.extend(found.skipped);
        } else if path.is_file() {
            files.files.push(path.clone());
        } else {
            return Err(RunError::NoSuchPath(path.clone()));
        }
    }
    Ok(files)
}

/// Replays fixtures over connected sessions: the blocking driver of a [`Suite`], for the
/// command line. It publishes what the suite asks for, as the gateway or as the platform (a
/// command), and feeds it the sessions' events until the work asked for is done.
pub struct Runner<'a> {
    suite: Suite,
    /// The session as the workspace's gateway, when the run sends as it.
    gateway: Option<&'a Session>,
    /// The platform client's session, when the run sends commands.
    platform: Option<&'a Session>,
    next_request: u64,
    /// The suite's request in flight: whose session, its id, and when to stop believing the
    /// session will end it.
    in_flight: Option<(suite::Side, RequestId, Instant)>,
    /// Told of every request sent and of how it ended.
    on_traffic: Option<Observer<'a>>,
    /// Told of outages and hints, each once.
    on_news: Option<Teller<'a>>,
    /// Each reply waits this long instead of each fixture's own `expect.withinMs`.
    pub timeout_override: Option<Duration>,
}

/// What the work asked of a [`Runner`] came to.
#[derive(Default)]
struct Done {
    result: Option<SuiteResult>,
    notes: Option<Vec<String>>,
    answer: Option<Outcome>,
}

/// The margin past a request's own timeout after which a session that has not ended it is
/// taken for dead: the session ends every request itself.
const SESSION_GUARD: Duration = Duration::from_secs(10);

impl<'a> Runner<'a> {
    /// A runner over `session`, which must be connected as the workspace's gateway.
    pub fn new(workspace: Arc<Workspace>, session: &'a Session) -> Self {
        Self::with_sessions(workspace, Some(session), None)
    }

    /// A runner sending as the gateway over `gateway` and commands over `platform`, either of
    /// which may be absent (a run of command fixtures alone needs no gateway session: the
    /// device under test is the gateway).
    pub fn with_sessions(
        workspace: Arc<Workspace>,
        gateway: Option<&'a Session>,
        platform: Option<&'a Session>,
    ) -> Self {
        Self {
            suite: Suite::new(workspace, IdSource::from_clock()),
            gateway,
            platform,
            next_request: 1,
            in_flight: None,
            on_news: None,
            on_traffic: None,
            timeout_override: None,
        }
    }

    /// Skips command fixtures, saying `why` (no device can be connected where they go).
    pub fn skip_commands(mut self, why: impl Into<String>) -> Self {
        self.suite = self.suite.skip_commands(why);
        self
    }

    /// Tells `say` of what goes wrong with the link to `broker`, each once, in one line: an
    /// outage when it starts and when it ends (or when the run stops waiting for it), round
    /// trips slowed by Nagle's algorithm, and no hub answering.
    pub fn tell(mut self, broker: &BrokerUrl, say: impl FnMut(&str) + 'a) -> Self {
        self.suite = self.suite.on_broker(broker);
        self.on_news = Some(Box::new(say));
        self
    }

    /// Tells `observe` of every request this runner sends (fixtures and logins) and of how each
    /// ended.
    pub fn observe(mut self, observe: impl FnMut(Traffic<'_>) + 'a) -> Self {
        self.on_traffic = Some(Box::new(observe));
        self
    }

    /// True once any request of this runner got a reply: a hub answers on the broker.
    pub fn hub_seen(&self) -> bool {
        self.suite.hub_seen()
    }

    /// Says what is still unsaid at the end of a run: the Nagle hint of a short run, and a
    /// connection that is still lost.
    pub fn finish(&mut self) {
        let effects = self.suite.finish(Instant::now());
        self.pump(effects);
    }

    /// Uses `workspace` (a reload of the same folder) from the next fixture on; the devices
    /// this runner logged in stay logged in, as the hub keeps them across a reload.
    pub fn set_workspace(&mut self, workspace: Arc<Workspace>) {
        self.suite.set_workspace(workspace);
    }

    /// Loads the fixture file `path` and runs it; a file that cannot be loaded is a failed case
    /// of the run, and the run goes on.
    pub fn run_file(&mut self, path: &Path) -> SuiteResult {
        self.sync_timeout();
        let loaded = load_fixture(path);
        let effects = self.suite.file(path.to_owned(), loaded, Instant::now());
        self.pump(effects).result.unwrap_or_else(|| {
            Err(Unloadable {
                path: path.to_owned(),
                error: "the run ended before this fixture".into(),
            })
        })
    }

    /// Runs one fixture: its login list, then its send, judged against its `expect`. Its
    /// `{{name}}` variables are filled from the workspace's environment first; an unknown one
    /// fails the fixture unsent.
    pub fn run_fixture(&mut self, path: &Path, fixture: &Fixture) -> CaseResult {
        self.sync_timeout();
        let effects = self
            .suite
            .run_fixture(path, fixture.clone(), Instant::now());
        let outcome = match self.pump(effects).result {
            Some(Ok(result)) => return result,
            Some(Err(unloadable)) => Outcome::NotSent {
                reason: unloadable.error,
            },
            None => Outcome::Lost {
                reason: "the session has ended".into(),
            },
        };
        CaseResult {
            name: fixture.name.clone(),
            path: path.to_owned(),
            expected: fixture.expect.code,
            outcome,
            passed: false,
            notes: Vec::new(),
            findings: Vec::new(),
        }
    }

    /// Sends one request as the gateway and waits for how it ends.
    pub fn request(
        &mut self,
        topic: String,
        payload: Vec<u8>,
        msg_id: Option<crate::protocol::MsgId>,
        timeout: Duration,
    ) -> Outcome {
        let send = suite::Send {
            side: suite::Side::Gateway,
            topic,
            payload,
            msg_id,
            timeout,
        };
        let effects = self.suite.request(send, Instant::now());
        self.pump(effects).answer.unwrap_or_else(|| Outcome::Lost {
            reason: "the session has ended".into(),
        })
    }

    /// Logs sub-devices in or out so that exactly those of `state` are logged in. Says nothing
    /// of logins lost to an outage or unanswered while no hub has ever replied: the outage and
    /// the missing hub are said once, not once per device.
    pub fn apply_login(&mut self, state: &LoginState) -> Vec<String> {
        let effects = self.suite.log_in(state.clone(), Instant::now());
        self.pump(effects).notes.unwrap_or_default()
    }

    fn sync_timeout(&mut self) {
        self.suite.timeout_override = self.timeout_override;
    }

    /// The session of `side`.
    fn session(&self, side: suite::Side) -> Option<&'a Session> {
        match side {
            suite::Side::Gateway => self.gateway,
            suite::Side::Platform => self.platform,
        }
    }

    /// The session whose link the suite follows: the gateway's, else the platform's.
    fn primary(&self) -> suite::Side {
        if self.gateway.is_some() {
            suite::Side::Gateway
        } else {
            suite::Side::Platform
        }
    }

    /// Carries out the suite's effects and feeds it the sessions' events until it has nothing
    /// left to do.
    fn pump(&mut self, effects: Vec<suite::Effect>) -> Done {
        let mut done = Done::default();
        let mut queue: VecDeque<suite::Effect> = effects.into();
        loop {
            while let Some(effect) = queue.pop_front() {
                queue.extend(self.carry_out(effect, &mut done));
            }
            if !self.suite.busy() {
                return done;
            }
            // What the other session said meanwhile (its replies come to nobody; a command's
            // reply is the platform's, a post's the gateway's).
            let waiting_on = self.in_flight.map_or(self.primary(), |(side, ..)| side);
            for side in [suite::Side::Gateway, suite::Side::Platform] {
                if side == waiting_on {
                    continue;
                }
                if let Some(session) = self.session(side) {
                    let events: Vec<SessionEvent> = session.events.try_iter().collect();
                    for event in events {
                        queue.extend(self.feed(side, event));
                    }
                }
            }
            if !queue.is_empty() {
                continue;
            }
            let Some(session) = self.session(waiting_on) else {
                self.in_flight = None;
                queue.extend(self.suite.closed(Instant::now()));
                continue;
            };
            let now = Instant::now();
            let wake = [
                self.suite.deadline(),
                self.in_flight.map(|(_, _, guard)| guard),
            ]
            .into_iter()
            .flatten()
            .min();
            // Bounded, so that the other session is read now and then.
            let wait = wake
                .map_or(SESSION_GUARD, |at| at.saturating_duration_since(now))
                .min(Duration::from_millis(200));
            let more = match session.events.recv_timeout(wait) {
                Ok(event) => self.feed(waiting_on, event),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let now = Instant::now();
                    if self.in_flight.is_some_and(|(_, _, guard)| now >= guard) {
                        self.in_flight = None;
                        let lost = Outcome::Lost {
                            reason: "the session stopped answering".into(),
                        };
                        self.suite.ended(lost, Vec::new(), now)
                    } else {
                        self.suite.tick(now)
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    self.in_flight = None;
                    self.suite.closed(Instant::now())
                }
            };
            queue.extend(more);
        }
    }

    /// Does what one effect says; returns the suite's answer when it has one at once.
    fn carry_out(&mut self, effect: suite::Effect, done: &mut Done) -> Vec<suite::Effect> {
        use suite::Effect;
        match effect {
            Effect::Send(send) => {
                if let Some(observe) = &mut self.on_traffic {
                    observe(Traffic::Sent {
                        topic: &send.topic,
                        payload: &send.payload,
                    });
                }
                let request = RequestId(self.next_request);
                self.next_request += 1;
                let guard = Instant::now() + send.timeout + SESSION_GUARD;
                let side = send.side;
                let sent = self.session(side).is_some_and(|session| {
                    session.send(SessionCommand::Request {
                        request,
                        topic: send.topic,
                        payload: send.payload,
                        msg_id: send.msg_id,
                        timeout: send.timeout,
                    })
                });
                if sent {
                    self.in_flight = Some((side, request, guard));
                    Vec::new()
                } else {
                    let reason = match side {
                        suite::Side::Platform if self.platform.is_none() => {
                            "this run has no platform client to send commands from"
                        }
                        suite::Side::Gateway if self.gateway.is_none() => {
                            "this run has no session as the gateway"
                        }
                        _ => "the session has ended",
                    };
                    let lost = Outcome::Lost {
                        reason: reason.into(),
                    };
                    self.suite.ended(lost, Vec::new(), Instant::now())
                }
            }
            Effect::Ended { outcome, reply } => {
                if let Some(observe) = &mut self.on_traffic {
                    observe(Traffic::Ended {
                        outcome: &outcome,
                        reply: &reply,
                    });
                }
                Vec::new()
            }
            Effect::Result(result) => {
                done.result = Some(result);
                Vec::new()
            }
            Effect::LoggedIn { notes } => {
                done.notes = Some(notes);
                Vec::new()
            }
            Effect::Answered(outcome) => {
                done.answer = Some(outcome);
                Vec::new()
            }
            Effect::News(line) => {
                if let Some(say) = &mut self.on_news {
                    say(&line);
                }
                Vec::new()
            }
            Effect::Finished { .. } => Vec::new(),
        }
    }

    /// Feeds one event of `side`'s session to the suite: how its request ended, and, from the
    /// session whose link the suite follows, the link's news.
    fn feed(&mut self, side: suite::Side, event: SessionEvent) -> Vec<suite::Effect> {
        let now = Instant::now();
        let in_flight = self.in_flight;
        let mine =
            |request: RequestId| in_flight.is_some_and(|(s, r, _)| s == side && r == request);
        let primary = side == self.primary();
        match event {
            SessionEvent::Replied {
                request,
                reply,
                payload,
                topic,
                rtt,
                ..
            } if mine(request) => {
                self.in_flight = None;
                let outcome = Outcome::Replied {
                    code: reply.code,
                    message: reply.message,
                    rtt,
                };
                self.suite.ended_on(outcome, payload, Some(topic), now)
            }
            SessionEvent::NoReply { request, after } if mine(request) => {
                self.in_flight = None;
                self.suite
                    .ended(Outcome::NoReply { after }, Vec::new(), now)
            }
            SessionEvent::Lost { request, reason } if mine(request) => {
                self.in_flight = None;
                self.suite.ended(Outcome::Lost { reason }, Vec::new(), now)
            }
            SessionEvent::Connected if primary => self.suite.connected(now),
            SessionEvent::Disconnected { reason } if primary => {
                self.suite.disconnected(&reason, now)
            }
            SessionEvent::Subscribed {
                granted: Err(reason),
                ..
            } => {
                self.suite.refused(reason.to_string());
                Vec::new()
            }
            SessionEvent::Closed if primary => {
                self.in_flight = None;
                self.suite.closed(now)
            }
            SessionEvent::Closed if in_flight.is_some_and(|(s, ..)| s == side) => {
                self.in_flight = None;
                let lost = Outcome::Lost {
                    reason: "the session has ended".into(),
                };
                self.suite.ended(lost, Vec::new(), now)
            }
            _ => Vec::new(),
        }
    }
}

/// The request that logs `device` in (`login`) or out through `gateway`, signed with the
/// device's secret from `registry` and with a fresh id.
pub fn login_message(
    gateway: &DeviceId,
    registry: &Registry,
    device: &DeviceId,
    login: bool,
    ids: &IdSource,
) -> ResolvedMessage {
    let method = if login { Method::Login } else { Method::Logout };
    let request = serde_json::json!({
        "version": "1.0",
        "method": method.name(),
        "params": {"productKey": device.product_key.0, "deviceKey": device.device_key.0},
    });
    let fixture = Fixture::new("login", request, ReplyCode::SUCCESS);
    let mut message = fixture.resolve(gateway, registry, EpochMs::now(), ids);
    message.topic = request_topic(method, gateway);
    message
}

/// One JUnit test case: its name, class name, how it ended and its time.
pub struct JunitCase {
    pub name: String,
    pub classname: String,
    pub status: JunitStatus,
    pub time: Option<Duration>,
}

/// How a JUnit test case ended.
pub enum JunitStatus {
    Passed,
    /// Failed, with why.
    Failed(String),
    /// Not run, with why.
    Skipped(String),
}

/// JUnit XML of one suite of cases: the one writer of every JUnit file thingbench makes (`run`,
/// `watch`, `qualify`, the window's exports).
pub fn junit_report(
    suite_name: &str,
    cases: impl IntoIterator<Item = JunitCase>,
) -> Result<String, RunError> {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut suite = TestSuite::new(suite_name);
    for case in cases {
        let status = match case.status {
            JunitStatus::Passed => TestCaseStatus::success(),
            JunitStatus::Failed(message) => {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                status.set_message(message);
                status
            }
            JunitStatus::Skipped(message) => {
                let mut status = TestCaseStatus::skipped();
                status.set_message(message);
                status
            }
        };
        let mut test_case = TestCase::new(case.name, status);
        test_case.set_classname(case.classname);
        if let Some(time) = case.time {
            test_case.set_time(time);
        }
        suite.add_test_case(test_case);
    }
    let mut report = Report::new("thingbench");
    report.add_test_suite(suite);
    Ok(report.to_string()?)
}

/// The JUnit XML of a suite: one `testcase` per fixture, `classname` its path.
pub fn junit_xml(suite_name: &str, results: &[CaseResult]) -> Result<String, RunError> {
    junit_report(suite_name, results.iter().map(junit_case))
}

/// JUnit XML of a run (`run --junit`, the window's export), where a fixture that could not be
/// loaded is a result too (a failing case named by its file).
pub fn junit_xml_of_run(suite_name: &str, results: &[SuiteResult]) -> Result<String, RunError> {
    junit_report(
        suite_name,
        results.iter().map(|result| match result {
            Ok(result) => junit_case(result),
            Err(unloadable) => JunitCase {
                name: unloadable.path.display().to_string(),
                classname: unloadable.path.display().to_string(),
                status: JunitStatus::Failed(unloadable.failure_message()),
                time: None,
            },
        }),
    )
}

/// Writes the JUnit XML of a run to `path` (atomically), as `run --junit` and the window's
/// export do.
pub fn write_junit(path: &Path, suite_name: &str, results: &[SuiteResult]) -> Result<(), RunError> {
    let xml = junit_xml_of_run(suite_name, results)?;
    crate::workspace::write_atomic(path, xml.as_bytes())
        .map_err(|e| RunError::File(crate::workspace::FileError::io(path, &e)))
}

/// One fixture's JUnit case: `name` the fixture's name, `classname` its path.
fn junit_case(result: &CaseResult) -> JunitCase {
    JunitCase {
        name: result.name.clone(),
        classname: result.path.display().to_string(),
        status: if result.skipped() {
            JunitStatus::Skipped(result.failure_message())
        } else if result.passed {
            JunitStatus::Passed
        } else {
            JunitStatus::Failed(result.failure_message())
        },
        time: match result.outcome {
            Outcome::Replied { rtt, .. } => Some(rtt),
            _ => None,
        },
    }
}

/// True when every result passed.
pub fn all_passed(results: &[CaseResult]) -> bool {
    results.iter().all(|r| r.passed)
}

/// The number of results that passed; an unloadable fixture is a failure.
pub fn passed_count(results: &[SuiteResult]) -> usize {
    results
        .iter()
        .filter(|r| r.as_ref().is_ok_and(|r| r.passed))
        .count()
}

/// The number of results skipped (commands with no device to answer them).
pub fn skipped_count(results: &[SuiteResult]) -> usize {
    results
        .iter()
        .filter(|r| r.as_ref().is_ok_and(CaseResult::skipped))
        .count()
}

/// Loads a fixture file as written, `{{name}}` variables kept (for the builder); the error
/// names the file, the place and the reason.
pub fn load_fixture(path: &Path) -> Result<Fixture, crate::workspace::FileError> {
    let bytes = std::fs::read(path).map_err(|e| crate::workspace::FileError::io(path, &e))?;
    Fixture::from_slice(path, &bytes)
}

/// Loads each fixture file of a run, as written (its variables are filled when it runs).
pub fn load_fixtures(
    paths: Vec<PathBuf>,
) -> Vec<(PathBuf, Result<Fixture, crate::workspace::FileError>)> {
    paths
        .into_iter()
        .map(|path| {
            let loaded = load_fixture(&path);
            (path, loaded)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_code_outside_the_table_is_printed_as_sent() {
        for code in [-1, 70_000, 1 << 40] {
            let result = CaseResult {
                name: "odd".into(),
                path: PathBuf::from("messages/odd.json"),
                expected: Some(ReplyCode::SUCCESS),
                outcome: Outcome::Replied {
                    code: ReplyCode(code),
                    message: None,
                    rtt: Duration::from_micros(300),
                },
                passed: false,
                notes: Vec::new(),
                findings: Vec::new(),
            };
            assert_eq!(
                result.line(),
                format!("FAIL  odd  expected 200  got {code}  0.30 ms")
            );
            assert_eq!(
                result.failure_message(),
                format!("expected 200, got {code}")
            );
        }
    }

    #[test]
    fn a_run_in_the_window_exports_unloadable_fixtures_as_failures() {
        let passed = CaseResult {
            name: "fine".into(),
            path: PathBuf::from("messages/fine.json"),
            expected: Some(ReplyCode::SUCCESS),
            outcome: Outcome::Replied {
                code: ReplyCode::SUCCESS,
                message: None,
                rtt: Duration::from_micros(300),
            },
            passed: true,
            notes: Vec::new(),
            findings: Vec::new(),
        };
        let broken = Unloadable {
            path: PathBuf::from("messages/broken.json"),
            error: "is not valid JSON".to_owned(),
        };
        let xml = junit_xml_of_run("thingbench", &[Ok(passed), Err(broken)]).expect("xml");
        assert_eq!(xml.matches("<testcase ").count(), 2, "{xml}");
        assert_eq!(xml.matches("<failure").count(), 1, "{xml}");
        assert!(
            xml.contains("could not load the fixture: is not valid JSON"),
            "{xml}"
        );
        assert!(xml.contains("name=\"fine\""), "{xml}");
    }
}
