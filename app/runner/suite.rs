//! The suite runner as a state machine, without I/O: it is told how each request it asked for
//! ended and how the session's link goes, and answers with what to send next and what to
//! report. `thingbench run` drives it with a blocking loop over its session ([`super::Runner`]);
//! the window drives it from its frame over the window's one gateway session. Either way the
//! same rules log sub-devices in, wait out an outage and judge each fixture.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::model::Registry;
use crate::protocol::{DeviceId, EpochMs, Method, MsgId, ReplyCode};
use crate::transport::{BrokerUrl, OutageNews, OutageWatch};
use crate::workspace::{Fixture, IdSource, LoginState, Workspace};

use super::diagnosis::{Diagnosis, Hint};
use super::{CaseResult, Outcome, SuiteResult, Unloadable, login_message};

/// How long a run waits, from the moment it hears of a lost connection, for the connection to
/// come back before its sends fail at once: long enough for a broker restart, short enough for a
/// broker gone for good. The request that finds the connection lost waits for it, whatever its
/// own timeout: a fixture after a restart passes instead of failing for want of patience.
pub const OUTAGE_PATIENCE: Duration = Duration::from_secs(10);

/// How long a login waits for its reply once a hub has answered.
const LOGIN_WAIT: Duration = Duration::from_secs(5);

/// How long a login waits while nothing has ever replied: a hub answers a login within
/// milliseconds, and a broker without one should not cost every fixture seconds per login.
const FIRST_LOGIN_WAIT: Duration = Duration::from_secs(2);

/// How long a login waits once no hub seems to be answering (said once): long enough for a hub
/// that has started since.
const NO_HUB_LOGIN_WAIT: Duration = Duration::from_millis(500);

/// How a fixture asks for a payload over the limit to be sent.
const OVER_LIMIT_HINT: &str = "a fixture expecting 1008 is sent anyway; to send it while expecting another code, add \"sendOversize\": true to the fixture";

/// Which side of the platform a request goes out from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Side {
    /// As the workspace's gateway: posts, logins, events.
    #[default]
    Gateway,
    /// As the platform, to a device: commands, answered by the device.
    Platform,
}

/// A request the suite wants published, its reply awaited for `timeout`.
#[derive(Clone, Debug, PartialEq)]
pub struct Send {
    /// Whose session publishes it.
    pub side: Side,
    pub topic: String,
    pub payload: Vec<u8>,
    /// The id the reply must echo, when the payload has one.
    pub msg_id: Option<MsgId>,
    pub timeout: Duration,
}

/// What the suite asks its driver to do, or tells it, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Publish this request and report how it ended with [`Suite::ended`].
    Send(Send),
    /// The request sent last ended so; `reply` is the reply's payload, empty without one.
    Ended { outcome: Outcome, reply: Vec<u8> },
    /// A fixture file of the run is done.
    Result(SuiteResult),
    /// The logins asked for with [`Suite::log_in`] are done, with what went wrong.
    LoggedIn { notes: Vec<String> },
    /// The request asked for with [`Suite::request`] ended so.
    Answered(Outcome),
    /// Something said once: an outage starting or ending, a hint about the broker or hub.
    News(String),
    /// The run asked for with [`Suite::run`] is over; `stopped` fixtures were not run.
    Finished { stopped: usize },
}

/// One piece of work, in the order asked for.
#[derive(Debug)]
enum Job {
    /// A fixture file of a run, loaded by the driver (or why it could not be).
    File(PathBuf, Result<Fixture, String>),
    /// A fixture given as it is, its result reported like a file's.
    Fixture(PathBuf, Fixture),
    /// Make exactly these sub-devices logged in.
    Logins(LoginState),
    /// One request, its outcome reported as [`Effect::Answered`].
    Request(Send),
    /// The end of a run: its hints, and [`Effect::Finished`] counting the fixtures stopped.
    EndOfRun { stopped: usize },
}

/// The fixture (or login set) in progress.
#[derive(Debug)]
struct Case {
    path: PathBuf,
    /// The fixture, its variables filled; `None` for logins asked for alone.
    fixture: Option<Fixture>,
    notes: Vec<String>,
    stage: Stage,
    /// The id the fixture's request went out with, for reading a command's reply.
    sent_id: Option<MsgId>,
}

#[derive(Debug)]
enum Stage {
    /// Logging sub-devices in or out before the send.
    Logins(LoginPass),
    /// The fixture's own send is next.
    Send,
}

/// Walking the workspace's sub-devices, logging each in or out as wanted.
#[derive(Debug)]
struct LoginPass {
    wanted: Vec<DeviceId>,
    /// The sub-devices not looked at yet.
    todo: VecDeque<DeviceId>,
    /// Those logged in so far.
    now_in: Vec<DeviceId>,
    /// Waited for the link before the first login.
    started: bool,
}

/// What the request in flight is for.
#[derive(Debug)]
enum Flight {
    Login { device: DeviceId, want: bool },
    Fixture,
    Request,
}

/// Waiting for the connection to come back before going on.
#[derive(Debug)]
struct LinkWait {
    started: Instant,
    deadline: Instant,
    /// The send that waits for it; `None` when the logins wait before starting.
    pending: Option<(Flight, Send)>,
}

/// The suite runner: fixtures in, requests out, results reported.
pub struct Suite {
    workspace: Arc<Workspace>,
    /// The workspace's devices and secrets, for signing logins (read once per workspace).
    registry: Registry,
    ids: IdSource,
    /// Each reply waits this long instead of each fixture's own `expect.withinMs`.
    pub timeout_override: Option<Duration>,
    /// What we believe the hub thinks of each sub-device; `None` until first set.
    logged_in: Option<Vec<DeviceId>>,
    /// Sub-devices without a usable secret, already reported once.
    unsigned_reported: Vec<DeviceId>,
    /// Whether the session was connected at its last word.
    connected: bool,
    outage: OutageWatch,
    /// The run stopped waiting for the outage in progress.
    gave_up: bool,
    /// How long the requests not yet sent or reported have waited for the connection.
    link_wait: Duration,
    waiting: Option<LinkWait>,
    /// What the replies and silences so far say about the broker and the hub.
    diagnosis: Diagnosis,
    /// The broker, for the words of news.
    broker: Option<BrokerUrl>,
    /// Subscriptions the broker refused since the last fixture (its replies cannot arrive).
    refused: Vec<String>,
    jobs: VecDeque<Job>,
    case: Option<Case>,
    flight: Option<Flight>,
    /// The session is gone: every send fails at once.
    closed: bool,
    /// Why command fixtures are skipped here (no device can be connected), if they are.
    skip_commands: Option<String>,
    /// The topic the last reply came on, when the driver said.
    reply_topic: Option<String>,
    effects: Vec<Effect>,
}

impl Suite {
    /// A suite over a session that is connected as the workspace's gateway, its message ids
    /// from `ids` (shared with whoever else sends on the session).
    pub fn new(workspace: Arc<Workspace>, ids: IdSource) -> Self {
        Self {
            registry: workspace.registry(&LoginState::All),
            workspace,
            ids,
            timeout_override: None,
            logged_in: None,
            unsigned_reported: Vec::new(),
            connected: true,
            outage: OutageWatch::default(),
            gave_up: false,
            link_wait: Duration::ZERO,
            waiting: None,
            diagnosis: Diagnosis::default(),
            broker: None,
            refused: Vec::new(),
            jobs: VecDeque::new(),
            case: None,
            flight: None,
            closed: false,
            skip_commands: None,
            reply_topic: None,
            effects: Vec::new(),
        }
    }

    /// Skips command fixtures, saying `why`: no device can be connected where they would go
    /// (`run` on a broker of its own).
    pub fn skip_commands(mut self, why: impl Into<String>) -> Self {
        self.skip_commands = Some(why.into());
        self
    }

    /// Skips command fixtures from now on for `why`, or runs them again (`None`).
    pub fn set_skip_commands(&mut self, why: Option<String>) {
        self.skip_commands = why;
    }

    /// Names `broker` in the words of its news.
    pub fn on_broker(mut self, broker: &BrokerUrl) -> Self {
        self.broker = Some(broker.clone());
        self
    }

    /// A suite whose session is not connected now: its first send waits for the connection, up
    /// to [`OUTAGE_PATIENCE`] from `now`.
    pub fn not_connected_yet(mut self, now: Instant) -> Self {
        self.connected = false;
        let _ = self.outage.disconnected("not connected yet", now);
        self
    }

    /// Uses `workspace` (a reload of the same folder) from the next fixture on; the devices
    /// logged in stay logged in, as the hub keeps them across a reload.
    pub fn set_workspace(&mut self, workspace: Arc<Workspace>) {
        self.registry = workspace.registry(&LoginState::All);
        self.workspace = workspace;
    }

    /// True once any request got a reply: a hub answers on the broker.
    pub fn hub_seen(&self) -> bool {
        self.diagnosis.hub_seen()
    }

    /// True while there is work to do or a request in flight.
    pub fn busy(&self) -> bool {
        self.case.is_some() || self.flight.is_some() || !self.jobs.is_empty()
    }

    /// When [`Suite::tick`] must be called next, if a wait is in progress.
    pub fn deadline(&self) -> Option<Instant> {
        self.waiting.as_ref().map(|w| w.deadline)
    }

    /// Replays these fixture files, each loaded by the driver (or why not), after the work in
    /// progress; ends with [`Effect::Finished`].
    pub fn run(
        &mut self,
        files: Vec<(PathBuf, Result<Fixture, String>)>,
        now: Instant,
    ) -> Vec<Effect> {
        self.jobs.extend(
            files
                .into_iter()
                .map(|(path, fixture)| Job::File(path, fixture)),
        );
        self.jobs.push_back(Job::EndOfRun { stopped: 0 });
        self.advance(now)
    }

    /// Replays one fixture file, loaded by the driver (or why not), after the work in
    /// progress; its result comes as [`Effect::Result`].
    pub fn file(
        &mut self,
        path: PathBuf,
        loaded: Result<Fixture, String>,
        now: Instant,
    ) -> Vec<Effect> {
        self.jobs.push_back(Job::File(path, loaded));
        self.advance(now)
    }

    /// Ends a run of [`Suite::file`]s: says what is still unsaid (the Nagle hint of a short run,
    /// a connection that is still lost), then [`Effect::Finished`].
    pub fn finish(&mut self, now: Instant) -> Vec<Effect> {
        self.jobs.push_back(Job::EndOfRun { stopped: 0 });
        self.advance(now)
    }

    /// Runs one fixture as given; its result comes as [`Effect::Result`].
    pub fn run_fixture(&mut self, path: &Path, fixture: Fixture, now: Instant) -> Vec<Effect> {
        self.jobs.push_back(Job::Fixture(path.to_owned(), fixture));
        self.advance(now)
    }

    /// Logs sub-devices in or out so that exactly those of `state` are logged in; the notes come
    /// as [`Effect::LoggedIn`].
    pub fn log_in(&mut self, state: LoginState, now: Instant) -> Vec<Effect> {
        self.jobs.push_back(Job::Logins(state));
        self.advance(now)
    }

    /// Sends one request; how it ended comes as [`Effect::Answered`].
    pub fn request(&mut self, send: Send, now: Instant) -> Vec<Effect> {
        self.jobs.push_back(Job::Request(send));
        self.advance(now)
    }

    /// Stops the run after the fixture in flight: the fixtures not started are dropped and
    /// counted in the run's [`Effect::Finished`], which comes once the one in flight ended.
    pub fn stop(&mut self, now: Instant) -> Vec<Effect> {
        let mut dropped = 0;
        let jobs = std::mem::take(&mut self.jobs);
        for job in jobs {
            match job {
                Job::File(..) => dropped += 1,
                Job::EndOfRun { stopped } => {
                    self.jobs.push_back(Job::EndOfRun {
                        stopped: stopped + std::mem::take(&mut dropped),
                    });
                }
                other => self.jobs.push_back(other),
            }
        }
        self.advance(now)
    }

    /// The request asked for last ended so; `reply` is the reply's payload, empty without one.
    pub fn ended(&mut self, outcome: Outcome, reply: Vec<u8>, now: Instant) -> Vec<Effect> {
        self.ended_on(outcome, reply, None, now)
    }

    /// [`Suite::ended`], with the topic the reply came on when the driver knows it (a device
    /// may answer a command on the wrong topic).
    pub fn ended_on(
        &mut self,
        outcome: Outcome,
        reply: Vec<u8>,
        reply_topic: Option<String>,
        now: Instant,
    ) -> Vec<Effect> {
        let Some(flight) = self.flight.take() else {
            return self.advance(now);
        };
        self.reply_topic = reply_topic;
        self.finish_flight(flight, outcome, reply, true);
        self.advance(now)
    }

    /// The session connected (again).
    pub fn connected(&mut self, now: Instant) -> Vec<Effect> {
        self.connected = true;
        self.gave_up = false;
        if let Some(OutageNews::Back { after, .. }) = self.outage.connected(now) {
            self.say(format!(
                "connected to the broker again after {:.1} s",
                after.as_secs_f64()
            ));
        }
        if let Some(wait) = self.waiting.take() {
            self.link_wait += now.saturating_duration_since(wait.started);
            self.resume(wait.pending);
        }
        self.advance(now)
    }

    /// The session lost its connection, or a retry failed, for `reason`.
    pub fn disconnected(&mut self, reason: &str, now: Instant) -> Vec<Effect> {
        self.connected = false;
        // After a reconnect the hub may have forgotten every login.
        self.logged_in = None;
        if let Some(OutageNews::Lost { reason }) = self.outage.disconnected(reason, now) {
            self.say(format!(
                "lost the connection: {reason}; waiting up to {} s for it to come back",
                OUTAGE_PATIENCE.as_secs()
            ));
        }
        self.advance(now)
    }

    /// The broker refused a subscription: its replies cannot arrive (a note of the next result).
    pub fn refused(&mut self, reason: String) {
        self.refused.push(reason);
    }

    /// The session is gone for good: the request in flight is lost, and every later one.
    pub fn closed(&mut self, now: Instant) -> Vec<Effect> {
        self.closed = true;
        self.connected = false;
        if let Some(wait) = self.waiting.take() {
            self.resume(wait.pending);
        }
        if let Some(flight) = self.flight.take() {
            let outcome = Outcome::Lost {
                reason: "the session has ended".into(),
            };
            self.finish_flight(flight, outcome, Vec::new(), true);
        }
        self.advance(now)
    }

    /// Time passed: a wait for the connection may be over.
    pub fn tick(&mut self, now: Instant) -> Vec<Effect> {
        if self.waiting.as_ref().is_some_and(|w| now >= w.deadline)
            && let Some(wait) = self.waiting.take()
        {
            self.link_wait += now.saturating_duration_since(wait.started);
            if !self.gave_up
                && let Some(outage) = self.outage.outage()
            {
                let reason = outage.reason.clone();
                self.gave_up = true;
                self.say(format!(
                    "still no connection after {} s ({reason}); the remaining fixtures fail at once until it comes back",
                    OUTAGE_PATIENCE.as_secs()
                ));
            }
            self.resume(wait.pending);
        }
        self.advance(now)
    }

    /// Says what is still unsaid at the end of a run: the Nagle hint of a short run, and a
    /// connection that is still lost.
    fn end_of_run(&mut self) {
        if let Some(hint) = self.diagnosis.finish() {
            self.hint(&hint);
        }
        if let Some(outage) = self.outage.outage()
            && !self.gave_up
        {
            let line = format!(
                "the run ends without the broker, lost {:.1} s ago: {}",
                outage.since.elapsed().as_secs_f64(),
                outage.reason
            );
            self.say(line);
        }
    }

    fn say(&mut self, line: String) {
        self.effects.push(Effect::News(line));
    }

    fn hint(&mut self, hint: &Hint) {
        let line = hint.words(self.broker.as_ref());
        self.say(line);
    }

    /// Goes on as far as it can without an answer, and hands over what to do.
    fn advance(&mut self, now: Instant) -> Vec<Effect> {
        while self.flight.is_none() && self.waiting.is_none() {
            if self.case.is_none() && !self.start_next_job(now) {
                break;
            }
            self.step_case(now);
        }
        std::mem::take(&mut self.effects)
    }

    /// Takes up the next job; false when there is none.
    fn start_next_job(&mut self, now: Instant) -> bool {
        loop {
            let Some(job) = self.jobs.pop_front() else {
                return false;
            };
            match job {
                Job::EndOfRun { stopped } => {
                    self.end_of_run();
                    self.effects.push(Effect::Finished { stopped });
                }
                Job::Request(send) => {
                    self.send(Flight::Request, send, now);
                    return true;
                }
                Job::Logins(state) => {
                    self.case = Some(Case {
                        path: PathBuf::new(),
                        fixture: None,
                        notes: Vec::new(),
                        stage: Stage::Logins(self.login_pass(&state)),
                        sent_id: None,
                    });
                    return true;
                }
                Job::File(path, Err(error)) => {
                    self.effects
                        .push(Effect::Result(Err(Unloadable { path, error })));
                }
                Job::File(path, Ok(fixture)) => {
                    match fixture.with_vars(&path, &self.workspace.vars()) {
                        Ok(filled) => self.start_case(path, filled),
                        Err(e) => self.effects.push(Effect::Result(Err(Unloadable {
                            path,
                            error: e.to_string(),
                        }))),
                    }
                    if self.case.is_some() {
                        return true;
                    }
                }
                Job::Fixture(path, fixture) => {
                    match fixture.with_vars(&path, &self.workspace.vars()) {
                        Ok(filled) => self.start_case(path, filled),
                        Err(e) => {
                            let result = CaseResult {
                                name: fixture.name.clone(),
                                path,
                                expected: fixture.expect.code,
                                outcome: Outcome::NotSent {
                                    reason: e.to_string(),
                                },
                                passed: false,
                                notes: Vec::new(),
                                findings: Vec::new(),
                            };
                            self.effects.push(Effect::Result(Ok(result)));
                        }
                    }
                    if self.case.is_some() {
                        return true;
                    }
                }
            }
        }
    }

    fn start_case(&mut self, path: PathBuf, fixture: Fixture) {
        if fixture.command().is_some() {
            if let Some(why) = &self.skip_commands {
                let result = CaseResult {
                    name: fixture.name.clone(),
                    path,
                    expected: fixture.expect.code,
                    outcome: Outcome::Skipped {
                        reason: why.clone(),
                    },
                    passed: false,
                    notes: Vec::new(),
                    findings: Vec::new(),
                };
                self.effects.push(Effect::Result(Ok(result)));
                return;
            }
            // A command goes from the platform side: the device logs its own sub-devices in.
            self.case = Some(Case {
                path,
                fixture: Some(fixture),
                notes: Vec::new(),
                stage: Stage::Send,
                sent_id: None,
            });
            return;
        }
        let pass = self.login_pass(&LoginState::of_fixture(&fixture));
        self.case = Some(Case {
            path,
            fixture: Some(fixture),
            notes: Vec::new(),
            stage: Stage::Logins(pass),
            sent_id: None,
        });
    }

    fn login_pass(&self, state: &LoginState) -> LoginPass {
        let all = self.workspace.sub_devices();
        let wanted = match state {
            LoginState::All => all.clone(),
            LoginState::Only(list) => list.clone(),
        };
        LoginPass {
            wanted,
            todo: all.into(),
            now_in: Vec::new(),
            started: false,
        }
    }

    /// One step of the case in progress: a login, the fixture's send, or its end.
    fn step_case(&mut self, now: Instant) {
        let link_away = !self.connected && !self.closed;
        let deadline = self.wait_deadline(now);
        let Some(case) = &mut self.case else { return };
        match &mut case.stage {
            Stage::Logins(pass) => {
                if !pass.started {
                    pass.started = true;
                    if link_away {
                        if now < deadline {
                            self.waiting = Some(LinkWait {
                                started: now,
                                deadline,
                                pending: None,
                            });
                        } else {
                            // The fixture's own send says it, with the whole wait.
                            case.stage = Stage::Send;
                        }
                        return;
                    }
                }
                self.next_login(now);
            }
            Stage::Send => self.send_fixture(now),
        }
    }

    /// Sends the next login or logout the case needs, or ends its logins.
    fn next_login(&mut self, now: Instant) {
        let Some(Case {
            stage: Stage::Logins(pass),
            notes,
            ..
        }) = &mut self.case
        else {
            return;
        };
        while let Some(device) = pass.todo.pop_front() {
            let has_secret = self
                .registry
                .devices
                .get(&device)
                .is_some_and(|d| d.secret.is_some());
            let wanted = pass.wanted.contains(&device);
            let want = wanted && has_secret;
            if wanted && !has_secret && !self.unsigned_reported.contains(&device) {
                self.unsigned_reported.push(device.clone());
                notes.push(format!(
                    "{device} has no usable secret (see workspace.json), so it stays logged out"
                ));
            }
            let known = self.logged_in.as_ref().map(|list| list.contains(&device));
            if known == Some(want) {
                if want {
                    pass.now_in.push(device);
                }
                continue;
            }
            let message = login_message(
                &self.workspace.gateway(),
                &self.registry,
                &device,
                want,
                &self.ids,
            );
            let send = Send {
                side: Side::Gateway,
                topic: message.topic,
                payload: message.payload,
                msg_id: message.id,
                timeout: self.login_wait(),
            };
            self.send(Flight::Login { device, want }, send, now);
            return;
        }
        let now_in = std::mem::take(&mut pass.now_in);
        self.logged_in = Some(now_in);
        if let Some(case) = &mut self.case {
            case.stage = Stage::Send;
        }
        self.end_logins_alone();
    }

    /// A case of logins alone ends with its notes.
    fn end_logins_alone(&mut self) {
        if self.case.as_ref().is_some_and(|c| c.fixture.is_none())
            && let Some(case) = self.case.take()
        {
            self.effects.push(Effect::LoggedIn { notes: case.notes });
        }
    }

    /// Sends the fixture of the case in progress, or ends it unsent.
    fn send_fixture(&mut self, now: Instant) {
        let Some(fixture) = self.case.as_ref().and_then(|c| c.fixture.as_ref()) else {
            self.end_logins_alone();
            return;
        };
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
        let side = if fixture.command().is_some() {
            Side::Platform
        } else {
            Side::Gateway
        };
        let msg_id = message.id.clone();
        if let Some(case) = &mut self.case {
            case.sent_id = msg_id;
        }
        match refusal {
            Some(reason) => self.end_case(Outcome::NotSent { reason }, &[]),
            None => self.send(
                Flight::Fixture,
                Send {
                    side,
                    topic: message.topic,
                    payload: message.payload,
                    msg_id: message.id,
                    timeout,
                },
                now,
            ),
        }
    }

    /// Hands `send` to the driver, or waits for the connection first; once the run has
    /// stopped waiting for it, the send is lost at once.
    fn send(&mut self, flight: Flight, send: Send, now: Instant) {
        if !self.connected && !self.closed {
            let deadline = self.wait_deadline(now);
            if now < deadline {
                self.waiting = Some(LinkWait {
                    started: now,
                    deadline,
                    pending: Some((flight, send)),
                });
                return;
            }
        }
        self.go(flight, send);
    }

    /// Publishes, or reports the send lost when the connection is away.
    fn go(&mut self, flight: Flight, send: Send) {
        if !self.connected {
            let waited = std::mem::take(&mut self.link_wait);
            let reason = if self.closed {
                "the session has ended".to_owned()
            } else {
                self.not_connected(waited)
            };
            self.finish_flight(flight, Outcome::Lost { reason }, Vec::new(), false);
            return;
        }
        self.link_wait = Duration::ZERO;
        self.flight = Some(flight);
        self.effects.push(Effect::Send(send));
    }

    /// How long to wait for the connection: no later than [`OUTAGE_PATIENCE`] into the outage.
    fn wait_deadline(&self, now: Instant) -> Instant {
        self.outage
            .outage()
            .map_or(now, |o| o.since + OUTAGE_PATIENCE)
    }

    /// The wait for the connection is over, one way or the other: the send that waited goes
    /// out or is lost; logins that waited start (or are skipped when the link is still away).
    fn resume(&mut self, pending: Option<(Flight, Send)>) {
        match pending {
            Some((flight, send)) => self.go(flight, send),
            None => {
                if !self.connected
                    && let Some(case) = &mut self.case
                {
                    case.stage = Stage::Send;
                }
            }
        }
    }

    /// Why a request could not go out: the connection is lost, after `waited` of waiting.
    fn not_connected(&self, waited: Duration) -> String {
        if waited.as_millis() == 0 && self.gave_up {
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

    /// A request of the suite ended: what it means for the case in progress.
    fn finish_flight(&mut self, flight: Flight, outcome: Outcome, reply: Vec<u8>, published: bool) {
        let hint = match &outcome {
            Outcome::Replied { rtt, .. } => self.diagnosis.replied(*rtt),
            Outcome::NoReply { .. } => self.diagnosis.unanswered(),
            _ => None,
        };
        if let Some(hint) = hint {
            self.hint(&hint);
        }
        // A request that never went out has no traffic to end.
        // A request that never went out has no traffic to end.
        if published {
            self.effects.push(Effect::Ended {
                outcome: outcome.clone(),
                reply: reply.clone(),
            });
        }
        match flight {
            Flight::Request => self.effects.push(Effect::Answered(outcome)),
            Flight::Fixture => self.end_case(outcome, &reply),
            Flight::Login { device, want } => self.login_ended(device, want, outcome),
        }
    }

    /// A login or logout of the case in progress ended.
    fn login_ended(&mut self, device: DeviceId, want: bool, outcome: Outcome) {
        let hub_seen = self.diagnosis.hub_seen();
        let connected = self.connected;
        let Some(Case {
            stage: Stage::Logins(pass),
            notes,
            ..
        }) = &mut self.case
        else {
            return;
        };
        match outcome {
            Outcome::Replied { code, .. } if code.is_success() => {
                if want {
                    pass.now_in.push(device);
                }
            }
            Outcome::Lost { .. } if !connected => {
                // The outage is said once; after it the hub may have forgotten every login.
                self.logged_in = None;
                if let Some(case) = &mut self.case {
                    case.stage = Stage::Send;
                }
                self.end_logins_alone();
            }
            Outcome::NoReply { .. } if !hub_seen => {
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

    /// The fixture of the case in progress ended with `outcome` (and `reply`, the reply's
    /// payload, empty without one): its result. A command's reply is read as the platform
    /// reads it: a finding in it fails the fixture even when the code matches.
    fn end_case(&mut self, outcome: Outcome, reply: &[u8]) {
        let Some(case) = self.case.take() else { return };
        let Some(fixture) = case.fixture else { return };
        if matches!(fixture.method(), Some(Method::Login | Method::Logout)) {
            // The fixture itself changed who is logged in: ask again before the next one.
            self.logged_in = None;
        }
        let mut notes = case.notes;
        notes.append(&mut self.refused);
        let mut findings = Vec::new();
        if let (Some(command), Outcome::Replied { .. }) = (fixture.command(), &outcome) {
            let read = super::command::judge_reply(
                &self.registry,
                command,
                case.sent_id.as_ref(),
                self.reply_topic.take().as_deref(),
                reply,
                fixture.expect.data.as_ref(),
            );
            findings = read.errors;
            notes.extend(read.warnings);
        }
        let passed =
            judge(&outcome, fixture.expect.no_reply, fixture.expect.code) && findings.is_empty();
        self.effects.push(Effect::Result(Ok(CaseResult {
            name: fixture.name,
            path: case.path,
            expected: fixture.expect.code,
            outcome,
            passed,
            notes,
            findings,
        })));
    }
}

/// Whether `outcome` is what a fixture expecting `code` (or silence) asked for.
fn judge(outcome: &Outcome, no_reply: bool, code: Option<ReplyCode>) -> bool {
    match (outcome, no_reply, code) {
        (Outcome::NoReply { .. }, true, _) => true,
        (Outcome::Replied { code, .. }, false, Some(expected)) => *code == expected,
        _ => false,
    }
}

#[cfg(test)]
#[path = "suite_tests.rs"]
mod tests;
