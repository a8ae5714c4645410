//! Watching traffic thingbench did not send: every request on the protocol's topics is checked
//! with the one checker, and the hub's reply is paired with it, so that a device's mistakes and
//! any disagreement between the checker and the hub show up.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::ConnectError;
use crate::model::{Finding, Registry, check};
use crate::protocol::{DeviceId, EpochMs, MsgId, ReplyCode, parse_reply, parse_topic};
use crate::transport::{OutageNews, OutageWatch, Session, SessionCommand, SessionEvent};
use crate::workspace::{Expect, Fixture, LoginState, WorkspaceFeed};

/// The filters watched: requests and replies of every method, for any device.
pub fn watch_filters() -> Vec<String> {
    vec![
        "/sys/+/+/thing/measurepoint/#".to_owned(),
        "/ext/session/+/+/combine/#".to_owned(),
    ]
}

/// One watched request and what became of it.
#[derive(Clone, Debug, PartialEq)]
pub struct Watched {
    pub topic: String,
    pub id: Option<MsgId>,
    /// The payload lz4-compressed, its size in front; `None` once dropped. A long watch keeps
    /// every request, and their payloads repeat their keys.
    payload: Option<Box<[u8]>>,
    pub predicted: ReplyCode,
    /// The first finding that decides the predicted code.
    pub finding: Option<String>,
    /// The hub's code, once its reply came.
    pub actual: Option<ReplyCode>,
    /// Everything the checker found.
    pub findings: Vec<Finding>,
    /// The sub-devices logged in when it was seen, as the watcher followed them (and as the
    /// hub's reply settled the unknown ones).
    pub logged_in: Vec<DeviceId>,
    /// Sub-devices it speaks for whose login the watcher never saw: predicted as logged in.
    pub unknown_logins: Vec<DeviceId>,
    /// The code had those devices been logged out, when it differs: the hub's reply settles
    /// which it was, and either code agrees.
    pub if_logged_out: Option<ReplyCode>,
    /// The devices it speaks for.
    pub devices: Vec<DeviceId>,
    pub at: EpochMs,
}

impl Watched {
    /// The payload as seen on the broker; empty once [`Watched::drop_payload`] was called.
    pub fn payload(&self) -> Vec<u8> {
        self.payload
            .as_deref()
            // It was compressed here, so it decompresses; an empty payload is the fallback.
            .and_then(|packed| lz4_flex::decompress_size_prepended(packed).ok())
            .unwrap_or_default()
    }

    /// Forgets the payload, for a caller that keeps its own copy (the window's timeline), so
    /// that it is kept once.
    pub fn drop_payload(&mut self) {
        self.payload = None;
    }

    /// True when the hub answered and agreed with the checker (with either prediction, when a
    /// login state was unknown).
    pub fn agrees(&self) -> bool {
        self.actual.is_some()
            && (self.actual == Some(self.predicted) || self.actual == self.if_logged_out)
    }

    /// What the watcher could not know, in words: `login of invPk/inv01 unknown (not seen since
    /// the watch began): predicted as logged in, 1212 if logged out`.
    pub fn unknown_note(&self) -> Option<String> {
        let out = self.if_logged_out?;
        let devices: Vec<String> = self
            .unknown_logins
            .iter()
            .map(ToString::to_string)
            .collect();
        Some(format!(
            "login of {} unknown (not seen since the watch began): predicted as logged in, {out} if logged out",
            devices.join(", ")
        ))
    }

    /// One line for the terminal.
    pub fn line(&self) -> String {
        let id = self.id.as_ref().map_or("-".to_owned(), |i| i.0.clone());
        let actual = self.actual.map_or("no reply".to_owned(), |c| c.to_string());
        let verdict = match self.actual {
            None => "NO REPLY",
            Some(_) if self.agrees() => "AGREE",
            Some(_) => "DISAGREE",
        };
        let finding = self
            .finding
            .iter()
            .chain(self.unknown_note().as_ref())
            .map(|f| format!("  {f}"))
            .collect::<String>();
        format!(
            "{verdict:<8}  {}  id {id}  predicted {}  hub {actual}{finding}",
            self.topic, self.predicted
        )
    }
}

/// What a message fed to the [`Watcher`] turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchUpdate {
    /// A request, now `watched()[n]`.
    Request(usize),
    /// The hub's reply to `watched()[n]`.
    Reply(usize),
    /// A request whose reply was seen first, now `watched()[n]` with its reply: a broker keeps
    /// no order between two clients' messages (rumqttd sends a client's subscriptions in turn).
    Answered(usize),
}

impl WatchUpdate {
    /// The request that now has its reply, if this update gave it one.
    pub fn answered(self) -> Option<usize> {
        match self {
            Self::Request(_) => None,
            Self::Reply(index) | Self::Answered(index) => Some(index),
        }
    }
}

/// How long a reply seen before its request waits for it.
const EARLY_FOR: Duration = Duration::from_secs(5);
/// At most this many replies wait for their requests; the oldest goes first.
const EARLY_AT_MOST: usize = 256;

/// A reply seen before its request.
struct EarlyReply {
    /// The request's topic.
    topic: String,
    id: Option<MsgId>,
    code: ReplyCode,
    seen: Instant,
}

/// Checks requests as they are seen and pairs the hub's replies with them, following logins.
pub struct Watcher {
    registry: Registry,
    watched: Vec<Watched>,
    open: HashMap<(String, MsgId), usize>,
    /// Requests without an id, per topic, oldest first: a reply without an id pairs with the oldest.
    open_without_id: HashMap<String, VecDeque<usize>>,
    /// Sub-devices whose login state is known: a login or logout was seen, or a hub's reply
    /// settled it. The others may have logged in before the watch began.
    known_logins: HashSet<DeviceId>,
    /// Replies seen before their requests, oldest first, for [`EARLY_FOR`].
    early: VecDeque<EarlyReply>,
}

impl Watcher {
    /// A watcher checking against `registry`; nobody is logged in until a login is seen.
    pub fn new(mut registry: Registry) -> Self {
        registry.logged_in.clear();
        Self {
            registry,
            watched: Vec::new(),
            open: HashMap::new(),
            open_without_id: HashMap::new(),
            known_logins: HashSet::new(),
            early: VecDeque::new(),
        }
    }

    /// Checks with `fresh` (a reloaded workspace's registry) from now on, keeping the logins
    /// seen so far.
    pub fn replace_registry(&mut self, fresh: Registry) {
        self.registry.replace_keeping_logins(fresh);
    }

    /// Every request seen so far.
    pub fn watched(&self) -> &[Watched] {
        &self.watched
    }

    /// Request `index`, to change (to drop its payload once copied elsewhere).
    pub fn watched_mut(&mut self, index: usize) -> Option<&mut Watched> {
        self.watched.get_mut(index)
    }

    /// Takes one message seen on the broker.
    pub fn feed(&mut self, topic: &str, payload: Vec<u8>) -> Option<WatchUpdate> {
        let parsed = parse_topic(topic)?;
        if parsed.reply {
            let request_topic = topic.trim_end_matches("_reply").to_owned();
            let reply = parse_reply(&payload).ok()?;
            let open = match &reply.id {
                Some(id) => self.open.remove(&(request_topic.clone(), id.clone())),
                None => self
                    .open_without_id
                    .get_mut(&request_topic)
                    .and_then(VecDeque::pop_front),
            };
            let Some(index) = open else {
                self.hold_early(request_topic, reply.id, reply.code);
                return None;
            };
            self.watched[index].actual = Some(reply.code);
            self.settle(index);
            return Some(WatchUpdate::Reply(index));
        }
        let mut logged_in: Vec<_> = self.registry.logged_in.iter().cloned().collect();
        logged_in.sort_by_key(ToString::to_string);
        // Checked as the logins stand; its view names the devices it speaks for.
        let first = check(&self.registry, topic, &payload);
        let devices = first.view.devices();
        let unknown: Vec<DeviceId> = devices
            .iter()
            .filter(|d| !self.known_logins.contains(*d))
            .filter(|d| {
                self.registry
                    .devices
                    .get(*d)
                    .is_some_and(|r| r.gateway.is_some())
            })
            .cloned()
            .collect();
        // Predicted as logged in; had they been out, the code may differ.
        let (report, if_logged_out) = if unknown.is_empty() {
            (first, None)
        } else {
            self.registry.logged_in.extend(unknown.iter().cloned());
            let report = check(&self.registry, topic, &payload);
            for device in &unknown {
                self.registry.logged_in.remove(device);
            }
            (report, Some(first.code))
        };
        if let Some(
            crate::model::SessionEffect::Login(d) | crate::model::SessionEffect::Logout(d),
        ) = &report.effect
        {
            self.known_logins.insert(d.clone());
        }
        self.registry.apply(report.effect.as_ref());
        let if_logged_out = if_logged_out.filter(|out| *out != report.code);
        let unknown_logins = if if_logged_out.is_some() {
            unknown
        } else {
            Vec::new()
        };
        let index = self.watched.len();
        self.watched.push(Watched {
            topic: topic.to_owned(),
            id: report.id.clone(),
            payload: Some(lz4_flex::compress_prepend_size(&payload).into_boxed_slice()),
            predicted: report.code,
            finding: report.reply_message(),
            actual: None,
            findings: report.findings,
            logged_in,
            unknown_logins,
            if_logged_out,
            devices,
            at: EpochMs::now(),
        });
        if let Some(code) = self.take_early(topic, report.id.as_ref()) {
            self.watched[index].actual = Some(code);
            self.settle(index);
            return Some(WatchUpdate::Answered(index));
        }
        match report.id {
            Some(id) => {
                self.open.insert((topic.to_owned(), id), index);
            }
            None => self
                .open_without_id
                .entry(topic.to_owned())
                .or_default()
                .push_back(index),
        }
        Some(WatchUpdate::Request(index))
    }

    /// Keeps a reply that pairs with no request seen, for a request still on its way. Not a
    /// second copy of a reply already paired (a session subscribed to the reply topic twice
    /// gets two): that would pair with the next request to reuse the id.
    fn hold_early(&mut self, topic: String, id: Option<MsgId>, code: ReplyCode) {
        let now = Instant::now();
        let recent = EpochMs::now().0 - i64::try_from(EARLY_FOR.as_millis()).unwrap_or(i64::MAX);
        let copy = self
            .watched
            .iter()
            .rev()
            .take(EARLY_AT_MOST)
            .take_while(|w| w.at.0 >= recent)
            .any(|w| w.actual == Some(code) && w.id == id && w.topic == topic);
        if copy {
            return;
        }
        self.forget_early(now);
        if self.early.len() == EARLY_AT_MOST {
            self.early.pop_front();
        }
        self.early.push_back(EarlyReply {
            topic,
            id,
            code,
            seen: now,
        });
    }

    /// The code of the reply seen before this request (on `topic`, with `id`), if one was.
    fn take_early(&mut self, topic: &str, id: Option<&MsgId>) -> Option<ReplyCode> {
        self.forget_early(Instant::now());
        let at = self
            .early
            .iter()
            .position(|e| e.topic == topic && e.id.as_ref() == id)?;
        self.early.remove(at).map(|e| e.code)
    }

    /// Lets go of the replies that waited [`EARLY_FOR`] for their requests.
    fn forget_early(&mut self, now: Instant) {
        while self
            .early
            .front()
            .is_some_and(|e| now.duration_since(e.seen) > EARLY_FOR)
        {
            self.early.pop_front();
        }
    }

    /// Lets the hub's reply to request `index` settle the unknown logins it depended on: the
    /// predicted code says they were logged in; the other says logged out, which tells which
    /// device only when there was one.
    fn settle(&mut self, index: usize) {
        let w = &mut self.watched[index];
        if w.unknown_logins.is_empty() || w.actual.is_none() {
            return;
        }
        if w.actual == Some(w.predicted) {
            for device in &w.unknown_logins {
                if self.known_logins.insert(device.clone()) {
                    self.registry.logged_in.insert(device.clone());
                }
                if !w.logged_in.contains(device) {
                    w.logged_in.push(device.clone());
                }
            }
            w.logged_in.sort_by_key(ToString::to_string);
        } else if w.actual == w.if_logged_out
            && let [device] = w.unknown_logins.as_slice()
        {
            self.known_logins.insert(device.clone());
        }
    }

    /// Requests still waiting for a reply, in the order seen.
    pub fn silent(&self) -> Vec<usize> {
        let mut silent: Vec<usize> = self
            .open
            .values()
            .copied()
            .chain(self.open_without_id.values().flatten().copied())
            .collect();
        silent.sort_unstable();
        silent
    }
}

/// Subscribes `session` to the [`watch_filters`] and waits until the broker granted each, or
/// says which it refused and why.
pub fn subscribe_watch(session: &Session, within: Duration) -> Result<(), ConnectError> {
    let mut waiting = watch_filters();
    for filter in &waiting {
        session.send(SessionCommand::Subscribe(filter.clone()));
    }
    let deadline = Instant::now() + within;
    while !waiting.is_empty() {
        let remaining = deadline.saturating_duration_since(Instant::now());
        match session.events.recv_timeout(remaining) {
            Ok(SessionEvent::Subscribed { filter, granted }) => {
                granted?;
                waiting.retain(|f| *f != filter);
            }
            Ok(SessionEvent::Closed) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(ConnectError::Ended);
            }
            Ok(_) => {}
            Err(mpsc::RecvTimeoutError::Timeout) => {
                return Err(ConnectError::Unanswered {
                    filters: waiting,
                    within_s: within.as_secs(),
                });
            }
        }
    }
    Ok(())
}

/// Why a watch ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatchEnd {
    /// Its time was up.
    Elapsed,
    /// It was told to stop (Ctrl-C).
    Stopped,
    /// The session ended under it: the reason.
    SessionEnded(String),
}

/// What [`watch`] tells as it goes.
pub trait WatchReport {
    /// A watched message, once its reply came (or when watching ends without one).
    fn watched(&mut self, watched: &Watched);
    /// A change in the connection, in words: lost, back, a refused subscription.
    fn connection(&mut self, note: &str);
}

/// Watches over `session` (subscribed with [`subscribe_watch`]) until `deadline` (`None`:
/// forever) or until `stop()` says so, checking each request against the newest workspace of
/// `feed`.
pub fn watch(
    session: &Session,
    mut feed: WorkspaceFeed,
    deadline: Option<Instant>,
    stop: impl Fn() -> bool,
    report: &mut dyn WatchReport,
) -> (Vec<Watched>, WatchEnd) {
    // How often `stop` is asked while nothing arrives.
    const STOP_CHECK: Duration = Duration::from_millis(100);
    let mut watcher = Watcher::new(feed.workspace().registry(&LoginState::All));
    let mut outage = OutageWatch::default();
    let end = loop {
        if stop() {
            break WatchEnd::Stopped;
        }
        let slice = match deadline {
            Some(at) => {
                let remaining = at.saturating_duration_since(Instant::now());
                if remaining.is_zero() {
                    break WatchEnd::Elapsed;
                }
                remaining.min(STOP_CHECK)
            }
            None => STOP_CHECK,
        };
        let event = match session.events.recv_timeout(slice) {
            Ok(event) => event,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                break WatchEnd::SessionEnded("the session thread stopped".into());
            }
        };
        match event {
            SessionEvent::Message { topic, payload } => {
                if let Some(snapshot) = feed.newest() {
                    watcher.replace_registry(snapshot.workspace.registry(&LoginState::All));
                }
                if let Some(index) = watcher
                    .feed(&topic, payload)
                    .and_then(WatchUpdate::answered)
                {
                    report.watched(&watcher.watched()[index]);
                }
            }
            // One line per outage, with why it began: the retries that follow (refused while
            // the broker is down, a reset while it starts) are the same outage.
            SessionEvent::Disconnected { reason } => {
                if let Some(OutageNews::Lost { reason }) =
                    outage.disconnected(&reason, Instant::now())
                {
                    report.connection(&format!("lost the broker: {reason}; retrying"));
                }
            }
            SessionEvent::Connected => {
                if let Some(OutageNews::Back { .. }) = outage.connected(Instant::now()) {
                    report.connection("the broker is back; watching again");
                }
            }
            SessionEvent::Subscribed {
                granted: Err(reason),
                ..
            } => report.connection(&reason.to_string()),
            SessionEvent::Closed => {
                // The newest reason is the one a session that gives up ends with.
                let reason = outage
                    .outage()
                    .map_or_else(|| "the session closed".into(), |o| o.reason.clone());
                break WatchEnd::SessionEnded(reason);
            }
            _ => {}
        }
    };
    for index in watcher.silent() {
        report.watched(&watcher.watched()[index]);
    }
    (watcher.watched, end)
}

impl Watched {
    /// The fixture that replays this message and expects the hub's code (or silence), with the
    /// sub-devices logged in as they were when it was seen.
    pub fn to_fixture(&self, name: impl Into<String>, gateway: &DeviceId) -> Fixture {
        self.to_fixture_with(&self.payload(), name, gateway)
    }

    /// [`Watched::to_fixture`] with `payload` kept elsewhere, once this one's was dropped.
    pub fn to_fixture_with(
        &self,
        payload: &[u8],
        name: impl Into<String>,
        gateway: &DeviceId,
    ) -> Fixture {
        let mut fixture = Fixture::from_message(
            name,
            &self.topic,
            payload,
            Expect::code_or_silence(self.actual),
            gateway,
        );
        fixture.login = Some(self.logged_in.clone());
        fixture
    }

    /// A file name for its fixture: `watched-0001-1204.json`.
    pub fn file_name(&self, number: usize) -> String {
        let code = self
            .actual
            .map_or("no-reply".to_owned(), |c| c.0.to_string());
        format!("watched-{number:04}-{code}.json")
    }
}

/// JUnit XML: one test case per watched message; it fails when the hub disagreed or was silent.
pub fn watch_junit(watched: &[Watched]) -> Result<String, super::RunError> {
    super::junit_report(
        "thingbench watch",
        watched.iter().enumerate().map(|(i, w)| {
            let id = w.id.as_ref().map_or("-".to_owned(), |id| id.0.clone());
            let actual = w.actual.map_or("no reply".to_owned(), |c| c.to_string());
            super::JunitCase {
                name: format!("{:04} id {id}", i + 1),
                classname: w.topic.clone(),
                status: if w.agrees() {
                    super::JunitStatus::Passed
                } else {
                    super::JunitStatus::Failed(format!("predicted {}, hub {actual}", w.predicted))
                },
                time: None,
            }
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_watched_payload_is_kept_compressed_and_reads_back_until_dropped() {
        let mut watcher = Watcher::new(Registry::new());
        let topic = "/sys/gwPk/gw01/thing/measurepoint/post/batch";
        let points: serde_json::Map<String, serde_json::Value> = (0..50)
            .map(|i| (format!("point{i}"), json!({"value": i, "quality": 0})))
            .collect();
        let payload = serde_json::to_vec(&json!({"id": "7", "version": "1.0",
            "method": "thing.measurepoint.post.batch",
            "params": [{"productKey": "invPk", "deviceKey": "inv01", "measurepoints": points}]}))
        .expect("a JSON payload");
        assert_eq!(
            watcher.feed(topic, payload.clone()),
            Some(WatchUpdate::Request(0))
        );
        let w = &watcher.watched()[0];
        assert_eq!(w.payload(), payload);
        let stored = w.payload.as_deref().map_or(0, <[u8]>::len);
        assert!(
            stored < payload.len() / 2,
            "{stored} bytes stored for {}",
            payload.len()
        );
        let gateway = DeviceId::new("gwPk", "gw01");
        let fixture = w.to_fixture("kept", &gateway);
        let dropped = watcher.watched_mut(0).map(|w| {
            w.drop_payload();
            w.payload()
        });
        assert_eq!(dropped, Some(Vec::new()));
        // Given the payload kept elsewhere, the same fixture.
        let w = &watcher.watched()[0];
        assert_eq!(w.to_fixture_with(&payload, "kept", &gateway), fixture);
        // An empty payload reads back empty too.
        watcher.feed(topic, Vec::new());
        assert_eq!(watcher.watched()[1].payload(), Vec::<u8>::new());
    }

    /// The sample workspace's registry.
    fn sample_registry() -> Registry {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        crate::workspace::Workspace::load(&root)
            .expect("the sample workspace loads")
            .registry(&LoginState::All)
    }

    fn batch(id: u32, device: &str) -> Vec<u8> {
        serde_json::to_vec(&json!({"id": id.to_string(), "version": "1.0",
            "method": "thing.measurepoint.post.batch",
            "params": [{"productKey": "invPk", "deviceKey": device,
                        "measurepoints": {"temp": 41.5}}]}))
        .expect("a JSON payload")
    }

    fn reply(id: u32, code: i64) -> Vec<u8> {
        serde_json::to_vec(&json!({"id": id.to_string(), "code": code, "data": null}))
            .expect("a JSON payload")
    }

    #[test]
    fn a_login_never_seen_is_unknown_and_the_hub_settles_it() {
        const TOPIC: &str = "/sys/gwPk/gw01/thing/measurepoint/post/batch";
        const REPLY: &str = "/sys/gwPk/gw01/thing/measurepoint/post/batch_reply";
        let mut watcher = Watcher::new(sample_registry());
        // inv01 logged in before the watch began: predicted as logged in, and the hub's 200
        // agrees and settles it.
        watcher.feed(TOPIC, batch(1, "inv01"));
        let w = &watcher.watched()[0];
        assert_eq!(w.predicted, ReplyCode::SUCCESS);
        assert_eq!(w.if_logged_out, Some(ReplyCode(1212)));
        assert!(
            w.line().contains("login of invPk/inv01 unknown"),
            "{}",
            w.line()
        );
        watcher.feed(REPLY, reply(1, 200));
        let w = &watcher.watched()[0];
        assert!(w.agrees(), "{}", w.line());
        assert!(w.line().starts_with("AGREE"), "{}", w.line());
        assert_eq!(w.logged_in, vec![DeviceId::new("invPk", "inv01")]);
        // Now it is known to be in: no doubt left.
        watcher.feed(TOPIC, batch(2, "inv01"));
        let w = &watcher.watched()[1];
        assert_eq!((w.predicted, w.if_logged_out), (ReplyCode::SUCCESS, None));

        // inv02 was out: the hub's 1212 agrees too, and settles it as out.
        watcher.feed(TOPIC, batch(3, "inv02"));
        watcher.feed(REPLY, reply(3, 1212));
        assert!(
            watcher.watched()[2].agrees(),
            "{}",
            watcher.watched()[2].line()
        );
        watcher.feed(TOPIC, batch(4, "inv02"));
        let w = &watcher.watched()[3];
        assert_eq!((w.predicted, w.if_logged_out), (ReplyCode(1212), None));
        // A code that is neither still disagrees.
        watcher.feed(REPLY, reply(4, 200));
        assert!(!watcher.watched()[3].agrees());
        assert!(watcher.watched()[3].line().starts_with("DISAGREE"));
    }

    #[test]
    fn a_reply_seen_before_its_request_pairs_with_it_and_a_second_copy_with_nothing() {
        const TOPIC: &str = "/sys/gwPk/gw01/thing/measurepoint/post/batch";
        const REPLY: &str = "/sys/gwPk/gw01/thing/measurepoint/post/batch_reply";
        let mut watcher = Watcher::new(sample_registry());
        // The hub's reply first, as a broker may send it to a client watching both topics.
        assert_eq!(watcher.feed(REPLY, reply(1, 200)), None);
        assert_eq!(
            watcher.feed(TOPIC, batch(1, "inv01")),
            Some(WatchUpdate::Answered(0))
        );
        assert_eq!(watcher.watched()[0].actual, Some(ReplyCode(200)));
        assert!(watcher.silent().is_empty());
        // A second copy of that reply waits for nothing: the next request to reuse id 1 is
        // not answered by it, but by its own reply.
        assert_eq!(watcher.feed(REPLY, reply(1, 200)), None);
        assert_eq!(
            watcher.feed(TOPIC, batch(1, "inv01")),
            Some(WatchUpdate::Request(1))
        );
        assert_eq!(watcher.watched()[1].actual, None);
        assert_eq!(
            watcher.feed(REPLY, reply(1, 1212)),
            Some(WatchUpdate::Reply(1))
        );
        assert_eq!(watcher.watched()[1].actual, Some(ReplyCode(1212)));
        // An early reply waits for its own id only.
        assert_eq!(watcher.feed(REPLY, reply(3, 200)), None);
        assert_eq!(
            watcher.feed(TOPIC, batch(2, "inv01")),
            Some(WatchUpdate::Request(2))
        );
        assert_eq!(
            watcher.feed(TOPIC, batch(3, "inv01")),
            Some(WatchUpdate::Answered(3))
        );
        assert_eq!(watcher.silent(), vec![2]);
    }

    #[test]
    fn an_event_post_is_checked_and_paired_with_its_reply() {
        const TOPIC: &str = "/sys/invPk/inv01/thing/event/overTemp/post";
        let mut watcher = Watcher::new(sample_registry());
        let post = serde_json::to_vec(&json!({"id": "5", "version": "1.0",
            "method": "thing.event.overTemp.post",
            "params": {"events": {"temp": 90.5, "level": "high"}}}))
        .expect("a JSON payload");
        assert_eq!(watcher.feed(TOPIC, post), Some(WatchUpdate::Request(0)));
        let w = &watcher.watched()[0];
        assert_eq!(w.predicted, ReplyCode(1204));
        assert_eq!(w.devices, vec![DeviceId::new("invPk", "inv01")]);
        assert!(
            w.finding
                .as_deref()
                .is_some_and(|f| f.starts_with("params.events.level")),
            "{:?}",
            w.finding
        );
        let answered = format!("{TOPIC}_reply");
        assert_eq!(
            watcher.feed(&answered, reply(5, 1204)),
            Some(WatchUpdate::Reply(0))
        );
        assert!(watcher.watched()[0].agrees());
    }

    struct Collect(Vec<String>);

    impl WatchReport for Collect {
        fn watched(&mut self, watched: &Watched) {
            self.0.push(watched.line());
        }
        fn connection(&mut self, note: &str) {
            self.0.push(note.to_owned());
        }
    }

    #[test]
    fn a_session_that_ends_under_a_watch_ends_it_with_the_reason() {
        use crate::transport::{Auth, BrokerUrl, SessionConfig, TlsOptions};
        // A CA file that is not there: the session cannot even start to connect, and ends.
        let config = SessionConfig {
            broker: BrokerUrl::parse("mqtts://127.0.0.1:1").expect("a URL"),
            client_id: "watch-test".into(),
            auth: Auth::None,
            keep_alive: Duration::from_secs(30),
            tls: TlsOptions {
                ca_file: Some("/nonexistent/ca.pem".into()),
                ..TlsOptions::default()
            },
            platform: false,
        };
        let session = Session::start(config, Box::new(|| {})).expect("the thread starts");
        let feed = WorkspaceFeed::fixed(std::sync::Arc::new(
            crate::workspace::Workspace::load(
                &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures"),
            )
            .expect("the sample workspace"),
        ));
        let mut report = Collect(Vec::new());
        // No deadline and never stopped: only the session's end can end it.
        let (watched, end) = watch(&session, feed, None, || false, &mut report);
        assert!(watched.is_empty());
        let WatchEnd::SessionEnded(reason) = end else {
            panic!("{end:?}")
        };
        assert!(reason.contains("/nonexistent/ca.pem"), "{reason}");
    }
}
