//! Suites: replay fixtures over a session, judge them against `expect`, write JUnit XML;
//! and the round-trip benchmark.

pub mod bench;
pub mod connect;
pub mod diagnosis;
pub mod shard;
pub mod watch;
pub mod worker;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::model::Registry;
use crate::protocol::{DeviceId, EpochMs, Method, ReplyCode, request_topic};
use crate::transport::{BrokerUrl, RequestId, Session, SessionCommand, SessionEvent};
use crate::workspace::{Fixture, IdSource, JsonFiles, LoginState, ResolvedMessage, Workspace};

use diagnosis::{Diagnosis, Hint};

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

/// A lost connection, from the moment the runner heard of it.
#[derive(Debug)]
struct Outage {
    since: Instant,
    /// The session's latest word on why it cannot connect.
    reason: String,
    /// The run stopped waiting for this outage to end.
    gave_up: bool,
}

/// One fixture's result.
#[derive(Clone, Debug)]
pub struct CaseResult {
    pub name: String,
    pub path: PathBuf,
    pub expected: Option<ReplyCode>,
    pub outcome: Outcome,
    pub passed: bool,
    /// Setup problems (a sub-device that could not be logged in...).
    pub notes: Vec<String>,
}

impl CaseResult {
    /// One line for the terminal.
    pub fn line(&self) -> String {
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
pub fn collect_fixture_files(paths: &[PathBuf]) -> Result<JsonFiles, String> {
    let mut files = JsonFiles::default();
    for path in paths {
        if path.is_dir() {
            let found = crate::workspace::json_files_under(path);
            files.files.extend(found.files);
            files.skipped.extend(found.skipped);
        } else if path.is_file() {
            files.files.push(path.clone());
        } else {
            return Err(format!(
                "{}: no such file or folder; check the path",
                path.display()
            ));
        }
    }
    Ok(files)
}

/// How a fixture asks for a payload over the limit to be sent.
const OVER_LIMIT_HINT: &str = "a fixture expecting 1008 is sent anyway; to send it while expecting another code, add \"sendOversize\": true to the fixture";

/// Replays fixtures one by one over a connected session.
pub struct Runner<'a> {
    workspace: Arc<Workspace>,
    session: &'a Session,
    ids: IdSource,
    next_request: u64,
    /// What we believe the hub thinks of each sub-device; `None` until first set.
    logged_in: Option<Vec<DeviceId>>,
    pub timeout_override: Option<Duration>,
    /// The workspace's devices and secrets, for signing logins (read once per workspace).
    registry: Registry,
    /// Sub-devices without a usable secret, already reported once.
    unsigned_reported: Vec<DeviceId>,
    /// Whether the session was connected at its last word.
    connected: bool,
    /// The connection lost and not yet back.
    outage: Option<Outage>,
    /// How long the requests not yet sent or reported have waited for the connection.
    link_wait: Duration,
    /// What the replies and silences so far say about the broker and the hub.
    diagnosis: Diagnosis,
    /// The broker, for the words of news.
    broker: Option<BrokerUrl>,
    /// Told of every request sent and of how it ended.
    on_traffic: Option<Observer<'a>>,
    /// Subscriptions the broker refused since the last fixture (its replies cannot arrive).
    refused: Vec<String>,
    /// Told of outages and hints, each once.
    on_news: Option<Teller<'a>>,
}

/// How long a run waits, from the moment it hears of a lost connection, for the connection to
/// come back before its sends fail at once: long enough for a broker restart, short enough for a
/// broker gone for good. The request that finds the connection lost waits for it, whatever its
/// own timeout: a fixture after a restart passes instead of failing for want of patience.
const OUTAGE_PATIENCE: Duration = Duration::from_secs(10);

/// How long a login waits for its reply once a hub has answered.
const LOGIN_WAIT: Duration = Duration::from_secs(5);

/// How long a login waits while nothing has ever replied: a hub answers a login within
/// milliseconds, and a broker without one should not cost every fixture seconds per login.
const FIRST_LOGIN_WAIT: Duration = Duration::from_secs(2);

/// How long a login waits once no hub seems to be answering (said once): long enough for a hub
/// that has started since.
const NO_HUB_LOGIN_WAIT: Duration = Duration::from_millis(500);

impl<'a> Runner<'a> {
    /// A runner over `session`, which must be connected as the workspace's gateway.
    pub fn new(workspace: Arc<Workspace>, session: &'a Session) -> Self {
        Self {
            registry: workspace.registry(&LoginState::All),
            workspace,
            session,
            ids: IdSource::from_clock(),
            next_request: 1,
            logged_in: None,
            timeout_override: None,
            unsigned_reported: Vec::new(),
            connected: true,
            outage: None,
            link_wait: Duration::ZERO,
            diagnosis: Diagnosis::default(),
            broker: None,
            on_traffic: None,
            refused: Vec::new(),
            on_news: None,
        }
    }

    /// Tells `say` of what goes wrong with the link to `broker`, each once, in one line: an
    /// outage when it starts and when it ends (or when the run stops waiting for it), round
    /// trips slowed by Nagle's algorithm, and no hub answering.
    pub fn tell(mut self, broker: &BrokerUrl, say: impl FnMut(&str) + 'a) -> Self {
        self.broker = Some(broker.clone());
        self.on_news = Some(Box::new(say));
        self
    }

    /// True once any request of this runner got a reply: a hub answers on the broker.
    pub fn hub_seen(&self) -> bool {
        self.diagnosis.hub_seen()
    }

    /// Says what is still unsaid at the end of a run: the Nagle hint of a short run, and a
    /// connection that is still lost.
    pub fn finish(&mut self) {
        if let Some(hint) = self.diagnosis.finish() {
            self.hint(&hint);
        }
        if let Some(outage) = &self.outage
            && !outage.gave_up
        {
            let line = format!(
                "the run ends without the broker, lost {:.1} s ago: {}",
                outage.since.elapsed().as_secs_f64(),
                outage.reason
            );
            self.say(&line);
        }
    }

    fn say(&mut self, line: &str) {
        if let Some(say) = &mut self.on_news {
            say(line);
        }
    }

    fn hint(&mut self, hint: &Hint) {
        let line = hint.words(self.broker.as_ref());
        self.say(&line);
    }

    /// Uses `workspace` (a reload of the same folder) from the next fixture on; the devices
    /// this runner logged in stay logged in, as the hub keeps them across a reload.
    pub fn set_workspace(&mut self, workspace: Arc<Workspace>) {
        self.registry = workspace.registry(&LoginState::All);
        self.workspace = workspace;
    }

    /// Tells `observe` of every request this runner sends (fixtures and logins) and of how each
    /// ended.
    pub fn observe(mut self, observe: impl FnMut(Traffic<'_>) + 'a) -> Self {
        self.on_traffic = Some(Box::new(observe));
        self
    }

    /// Loads the fixture file `path` and runs it; a file that cannot be loaded is a failed case
    /// of the run, and the run goes on.
    pub fn run_file(&mut self, path: &Path) -> SuiteResult {
        match load_fixture_vars(path, &self.workspace.vars()) {
            Ok(fixture) => Ok(self.run_fixture(path, &fixture)),
            Err(error) => Err(Unloadable {
                path: path.to_owned(),
                error,
            }),
        }
    }

    /// Runs one fixture: its login list, then its send, judged against its `expect`. Its
    /// `{{name}}` variables are filled from the workspace's environment first; an unknown one
    /// fails the fixture unsent.
    pub fn run_fixture(&mut self, path: &Path, fixture: &Fixture) -> CaseResult {
        let fixture = match fixture.with_vars(path, &self.workspace.vars()) {
            Ok(filled) => filled,
            Err(e) => {
                return CaseResult {
                    name: fixture.name.clone(),
                    path: path.to_owned(),
                    expected: fixture.expect.code,
                    outcome: Outcome::NotSent {
                        reason: e.to_string(),
                    },
                    passed: false,
                    notes: Vec::new(),
                };
            }
        };
        let fixture = &fixture;
        let mut notes = self.apply_login(&LoginState::of_fixture(fixture));
        let message = fixture.resolve(
            &self.workspace.gateway(),
            &self.registry,
            EpochMs::now(),
            &self.ids,
        );
        let timeout = self
            .timeout_override
            .unwrap_or(Duration::from_millis(fixture.expect.wait_ms()));
        let refusal = message.oversize_refusal(
            self.registry.max_payload,
            fixture.sends_over_limit(),
            OVER_LIMIT_HINT,
        );
        let outcome = match refusal {
            Some(reason) => Outcome::NotSent { reason },
            None => self.request(message.topic, message.payload, message.id, timeout),
        };
        if matches!(fixture.method(), Some(Method::Login | Method::Logout)) {
            // The fixture itself changed who is logged in: ask again before the next one.
            self.logged_in = None;
        }
        notes.append(&mut self.refused);
        let passed = match (&outcome, fixture.expect.no_reply, fixture.expect.code) {
            (Outcome::NoReply { .. }, true, _) => true,
            (Outcome::Replied { code, .. }, false, Some(expected)) => *code == expected,
            _ => false,
        };
        CaseResult {
            name: fixture.name.clone(),
            path: path.to_owned(),
            expected: fixture.expect.code,
            outcome,
            passed,
            notes,
        }
    }

    /// Sends one request and waits for how it ends.
    pub fn request(
        &mut self,
        topic: String,
        payload: Vec<u8>,
        msg_id: Option<crate::protocol::MsgId>,
        timeout: Duration,
    ) -> Outcome {
        let request = RequestId(self.next_request);
        self.next_request += 1;
        if !self.connected && !self.wait_for_connection() {
            let waited = std::mem::take(&mut self.link_wait);
            return Outcome::Lost {
                reason: self.not_connected(waited),
            };
        }
        self.link_wait = Duration::ZERO;
        if let Some(observe) = &mut self.on_traffic {
            observe(Traffic::Sent {
                topic: &topic,
                payload: &payload,
            });
        }
        let (outcome, reply) = self.send_and_wait(request, topic, payload, msg_id, timeout);
        let hint = match &outcome {
            Outcome::Replied { rtt, .. } => self.diagnosis.replied(*rtt),
            Outcome::NoReply { .. } => self.diagnosis.unanswered(),
            _ => None,
        };
        if let Some(hint) = hint {
            self.hint(&hint);
        }
        if let Some(observe) = &mut self.on_traffic {
            observe(Traffic::Ended {
                outcome: &outcome,
                reply: &reply,
            });
        }
        outcome
    }

    /// Sends one request and waits for how it ends, with the reply's payload (empty without one).
    fn send_and_wait(
        &mut self,
        request: RequestId,
        topic: String,
        payload: Vec<u8>,
        msg_id: Option<crate::protocol::MsgId>,
        timeout: Duration,
    ) -> (Outcome, Vec<u8>) {
        let ended = |outcome| (outcome, Vec::new());
        if !self.session.send(SessionCommand::Request {
            request,
            topic,
            payload,
            msg_id,
            timeout,
        }) {
            return ended(Outcome::Lost {
                reason: "the session has ended".into(),
            });
        }
        // The session ends every request itself; the margin only guards against a dead thread.
        let guard = timeout + Duration::from_secs(10);
        let deadline = std::time::Instant::now() + guard;
        loop {
            let remaining = deadline.saturating_duration_since(std::time::Instant::now());
            match self.session.events.recv_timeout(remaining) {
                Ok(SessionEvent::Replied {
                    request: r,
                    reply,
                    payload,
                    rtt,
                    ..
                }) if r == request => {
                    let outcome = Outcome::Replied {
                        code: reply.code,
                        message: reply.message,
                        rtt,
                    };
                    return (outcome, payload);
                }
                Ok(SessionEvent::NoReply { request: r, after }) if r == request => {
                    return ended(Outcome::NoReply { after });
                }
                Ok(SessionEvent::Lost { request: r, reason }) if r == request => {
                    return ended(Outcome::Lost { reason });
                }
                Ok(SessionEvent::Closed) => {
                    return ended(Outcome::Lost {
                        reason: "the session has ended".into(),
                    });
                }
                Ok(event) => self.follow(&event),
                Err(_) => {
                    return ended(Outcome::Lost {
                        reason: "the session stopped answering".into(),
                    });
                }
            }
        }
    }

    /// Why a request could not go out: the connection is lost, after `waited` of waiting.
    fn not_connected(&self, waited: Duration) -> String {
        let gave_up = self.outage.as_ref().is_some_and(|o| o.gave_up);
        if waited.as_millis() == 0 && gave_up {
            format!(
                "not connected to the broker (not waited: the run stopped waiting for it after {} s)",
                OUTAGE_PATIENCE.as_secs()
            )
        } else {
            format!(
                "not connected to the broker (waited {} ms for it to come back)",
                waited.as_millis()
            )
        }
    }

    /// Follows the connection: after a reconnect the hub may have forgotten every login. An
    /// outage is said when it starts and when it ends.
    fn follow(&mut self, event: &SessionEvent) {
        match event {
            SessionEvent::Connected => {
                self.connected = true;
                if let Some(outage) = self.outage.take() {
                    let line = format!(
                        "connected to the broker again after {:.1} s",
                        outage.since.elapsed().as_secs_f64()
                    );
                    self.say(&line);
                }
            }
            SessionEvent::Disconnected { reason } => {
                self.connected = false;
                self.logged_in = None;
                match &mut self.outage {
                    // Each failed retry says why again: keep the latest, say nothing new.
                    Some(outage) => outage.reason.clone_from(reason),
                    None => {
                        self.outage = Some(Outage {
                            since: Instant::now(),
                            reason: reason.clone(),
                            gave_up: false,
                        });
                        let line = format!(
                            "lost the connection: {reason}; waiting up to {} s for it to come back",
                            OUTAGE_PATIENCE.as_secs()
                        );
                        self.say(&line);
                    }
                }
            }
            SessionEvent::Subscribed {
                granted: Err(reason),
                ..
            } => self.refused.push(reason.clone()),
            _ => {}
        }
    }

    /// Waits for the session to reconnect, no later than [`OUTAGE_PATIENCE`] into the outage;
    /// true when it did. Says once when the run stops waiting.
    fn wait_for_connection(&mut self) -> bool {
        let started = Instant::now();
        let deadline = self
            .outage
            .as_ref()
            .map_or(started, |o| o.since + OUTAGE_PATIENCE);
        while !self.connected {
            let remaining = deadline.saturating_duration_since(Instant::now());
            // `recv_timeout(0)` still takes events already waiting.
            match self.session.events.recv_timeout(remaining) {
                Ok(event) => self.follow(&event),
                Err(_) => break,
            }
        }
        self.link_wait += started.elapsed();
        if !self.connected
            && Instant::now() >= deadline
            && let Some(outage) = &mut self.outage
            && !outage.gave_up
        {
            outage.gave_up = true;
            let line = format!(
                "still no connection after {} s ({}); the remaining fixtures fail at once until it comes back",
                OUTAGE_PATIENCE.as_secs(),
                outage.reason
            );
            self.say(&line);
        }
        self.connected
    }

    /// How long a login waits for its reply: less while no hub has ever answered.
    fn login_wait(&self) -> Duration {
        if self.diagnosis.no_hub() {
            NO_HUB_LOGIN_WAIT
        } else if self.diagnosis.hub_seen() {
            LOGIN_WAIT
        } else {
            FIRST_LOGIN_WAIT
        }
    }

    /// Logs sub-devices in or out so that exactly those of `state` are logged in. Says nothing
    /// of logins lost to an outage or unanswered while no hub has ever replied: the outage and
    /// the missing hub are said once, not once per device.
    pub fn apply_login(&mut self, state: &LoginState) -> Vec<String> {
        let mut notes = Vec::new();
        if !self.connected && !self.wait_for_connection() {
            // The fixture's own send says it, with the whole wait.
            return notes;
        }
        let all = self.workspace.sub_devices();
        let wanted: Vec<DeviceId> = match state {
            LoginState::All => all.clone(),
            LoginState::Only(list) => list.clone(),
        };
        let gateway = self.workspace.gateway();
        let mut now_in = Vec::new();
        for device in &all {
            let has_secret = self
                .registry
                .devices
                .get(device)
                .is_some_and(|d| d.secret.is_some());
            let want = wanted.contains(device) && has_secret;
            if wanted.contains(device) && !has_secret && !self.unsigned_reported.contains(device) {
                self.unsigned_reported.push(device.clone());
                notes.push(format!(
                    "{device} has no usable secret (see workspace.json), so it stays logged out"
                ));
            }
            let known = self.logged_in.as_ref().map(|list| list.contains(device));
            if known == Some(want) {
                if want {
                    now_in.push(device.clone());
                }
                continue;
            }
            let message = login_message(&gateway, &self.registry, device, want, &self.ids);
            let wait = self.login_wait();
            match self.request(message.topic, message.payload, message.id, wait) {
                Outcome::Replied { code, .. } if code.is_success() => {
                    if want {
                        now_in.push(device.clone());
                    }
                }
                Outcome::Lost { .. } if !self.connected => {
                    // The outage is said once; after it the hub may have forgotten every login.
                    self.logged_in = None;
                    return notes;
                }
                Outcome::NoReply { .. } if !self.diagnosis.hub_seen() => {
                    // No hub has answered anything: said once, not per device.
                }
                other => {
                    let verb = if want { "log in" } else { "log out" };
                    let why = match other {
                        Outcome::Replied { code, message, .. } => {
                            format!("{code} {}", message.unwrap_or_default())
                        }
                        other => other.describe(),
                    };
                    notes.push(format!("could not {verb} {device}: {why}"));
                    // Unknown state: ask again next time.
                }
            }
        }
        self.logged_in = Some(now_in);
        notes
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

/// One JUnit test case: its name, class name, failure message (if it failed) and time.
pub(crate) struct JunitCase {
    pub name: String,
    pub classname: String,
    pub failure: Option<String>,
    pub time: Option<Duration>,
}

/// JUnit XML of one suite of cases.
pub(crate) fn junit_report(
    suite_name: &str,
    cases: impl IntoIterator<Item = JunitCase>,
) -> Result<String, String> {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut suite = TestSuite::new(suite_name);
    for case in cases {
        let status = match case.failure {
            None => TestCaseStatus::success(),
            Some(message) => {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
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
    report
        .to_string()
        .map_err(|e| format!("cannot write JUnit XML: {e}"))
}

/// The JUnit XML of a suite: one `testcase` per fixture, `classname` its path.
pub fn junit_xml(suite_name: &str, results: &[CaseResult]) -> Result<String, String> {
    junit_report(suite_name, results.iter().map(junit_case))
}

/// JUnit XML of a run (`run --junit`, the window's export), where a fixture that could not be
/// loaded is a result too (a failing case named by its file).
pub fn junit_xml_of_run(suite_name: &str, results: &[SuiteResult]) -> Result<String, String> {
    junit_report(
        suite_name,
        results.iter().map(|result| match result {
            Ok(result) => junit_case(result),
            Err(unloadable) => JunitCase {
                name: unloadable.path.display().to_string(),
                classname: unloadable.path.display().to_string(),
                failure: Some(unloadable.failure_message()),
                time: None,
            },
        }),
    )
}

/// One fixture's JUnit case: `name` the fixture's name, `classname` its path.
fn junit_case(result: &CaseResult) -> JunitCase {
    JunitCase {
        name: result.name.clone(),
        classname: result.path.display().to_string(),
        failure: (!result.passed).then(|| result.failure_message()),
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

/// Loads a fixture file as written, `{{name}}` variables kept (for the builder); the error
/// names the file, the place and the reason.
pub fn load_fixture(path: &Path) -> Result<Fixture, String> {
    let bytes =
        std::fs::read(path).map_err(|e| crate::workspace::FileError::io(path, &e).to_string())?;
    Fixture::from_slice(path, &bytes).map_err(|e| e.to_string())
}

/// Loads a fixture file for a run, its variables replaced from `vars`.
pub fn load_fixture_vars(path: &Path, vars: &crate::workspace::Vars) -> Result<Fixture, String> {
    let bytes =
        std::fs::read(path).map_err(|e| crate::workspace::FileError::io(path, &e).to_string())?;
    Fixture::from_slice_vars(path, &bytes, vars).map_err(|e| e.to_string())
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
