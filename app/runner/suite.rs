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
use crate::protocol::{DeviceId, MsgId};
use crate::transport::{BrokerUrl, OutageNews, OutageWatch};
use crate::workspace::{FileError, Fixture, IdSource, LoginState, Workspace};

use super::diagnosis::Diagnosis;
use super::{Outcome, SuiteResult};

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
    File(PathBuf, Result<Fixture, FileError>),
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
        files: Vec<(PathBuf, Result<Fixture, FileError>)>,
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
        loaded: Result<Fixture, FileError>,
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
}

#[path = "suite_flow.rs"]
mod flow;

#[cfg(test)]
#[path = "suite_tests.rs"]
mod tests;
