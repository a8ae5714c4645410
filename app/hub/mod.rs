//! The reference hub: answers batch, resume batch, single post, event post, login and logout on
//! a broker with the one checker's code and message, remembering which sub-devices are logged
//! in, and following its live workspace so that it always answers with the models on disk. It
//! never answers a command or a reply: those pass between the platform side and the device.

mod error;

pub use error::HubError;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rumqttc::{Event, Packet, QoS};

use crate::broker::{Departures, Link};
use crate::model::{Registry, SessionEffect, accepted, check};
use crate::protocol::{DeviceId, Method, Reply, ReplyCode, reply_topic};
use crate::transport::{
    BrokerUrl, Scheme, TlsOptions, client_config, client_event_loop, connection_error_words,
};
use crate::workspace::{LoginState, Workspace, WorkspaceFeed};

/// The topic filters the hub serves: every request topic a device sends, for any device. The
/// commands to a device (`thing/service/...`) and every `_reply` topic are left out.
pub fn hub_filters() -> Vec<String> {
    [
        "/sys/+/+/thing/measurepoint/post/batch",
        "/sys/+/+/thing/measurepoint/post",
        "/sys/+/+/thing/measurepoint/resume/batch",
        "/sys/+/+/thing/event/+/post",
        "/ext/session/+/+/combine/login",
        "/ext/session/+/+/combine/logout",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

/// What the hub reports while it runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HubStatus {
    /// Connected and subscribed (again, after a loss).
    Connected,
    /// Lost the broker, or could not reach it, with why in words; the hub keeps trying.
    Disconnected(String),
    /// Replies could not be sent for `cause`: `count` in all so far. The first of a cause is
    /// reported at once, later ones as a count now and then, so that a failure never floods.
    RepliesNotSent { cause: String, count: u64 },
    /// The hub stopped for good, with why (its link to the broker ended, or an internal
    /// error): nothing is answered any more.
    Stopped(String),
}

/// The hub's news as lines for a person: losing the broker and getting it back, once each,
/// and replies that could not be sent.
pub struct HubLog {
    broker: String,
    outage: crate::transport::OutageWatch,
}

impl HubLog {
    /// News of the hub serving on `broker`.
    pub fn new(broker: &str) -> Self {
        Self {
            broker: broker.to_owned(),
            outage: crate::transport::OutageWatch::default(),
        }
    }

    /// The line for `status`, if it says something new.
    pub fn line(&mut self, status: &HubStatus) -> Option<String> {
        let now = Instant::now();
        match status {
            HubStatus::Connected => self
                .outage
                .connected(now)
                .map(|_| format!("hub: connected to {} again; answering", self.broker)),
            HubStatus::Disconnected(why) => self
                .outage
                .disconnected(why, now)
                .map(|_| format!("hub: lost the broker: {why}; retrying until it is back")),
            HubStatus::RepliesNotSent { cause, count: 1 } => Some(format!(
                "hub: a reply could not be sent: {cause} (more of this kind are counted, not listed)"
            )),
            HubStatus::RepliesNotSent { cause, count } => Some(format!(
                "hub: {count} replies in all could not be sent: {cause}"
            )),
            HubStatus::Stopped(why) => Some(format!("hub: stopped: {why}")),
        }
    }
}

/// How often, at most, a count of failed replies of one cause is reported again.
const FAILURE_REPORT_EVERY: Duration = Duration::from_secs(10);

/// Replies that could not be sent, counted by cause.
#[derive(Debug, Default)]
struct ReplyFailures {
    causes: Vec<FailureCount>,
}

#[derive(Debug)]
struct FailureCount {
    cause: String,
    count: u64,
    reported: u64,
    reported_at: Instant,
}

impl ReplyFailures {
    /// Counts one failure; returns what to report now: the first of its cause, or the count
    /// when it was last reported long enough ago.
    fn failed(&mut self, cause: String, now: Instant) -> Option<HubStatus> {
        let Some(known) = self.causes.iter_mut().find(|c| c.cause == cause) else {
            self.causes.push(FailureCount {
                cause: cause.clone(),
                count: 1,
                reported: 1,
                reported_at: now,
            });
            return Some(HubStatus::RepliesNotSent { cause, count: 1 });
        };
        known.count += 1;
        (now.duration_since(known.reported_at) >= FAILURE_REPORT_EVERY).then(|| known.report(now))
    }

    /// The counts not reported yet (said when the connection comes back and when the hub stops).
    fn unreported(&mut self, now: Instant) -> Vec<HubStatus> {
        self.causes
            .iter_mut()
            .filter(|c| c.count > c.reported)
            .map(|c| c.report(now))
            .collect()
    }
}

impl FailureCount {
    fn report(&mut self, now: Instant) -> HubStatus {
        self.reported = self.count;
        self.reported_at = now;
        HubStatus::RepliesNotSent {
            cause: self.cause.clone(),
            count: self.count,
        }
    }
}

/// Why the hub is not connected, in words. A connection that was up and then broke was closed
/// by the broker's side (it stopped, or dropped the hub), not refused at login.
fn lost_words(broker: &BrokerUrl, err: &rumqttc::ConnectionError, was_up: bool) -> String {
    use rumqttc::{ConnectionError, StateError};
    let broke = matches!(
        err,
        ConnectionError::MqttState(
            StateError::ConnectionAborted | StateError::Io(_) | StateError::Deserialization(_)
        ) | ConnectionError::Io(_)
    );
    if was_up && broke {
        format!("{broker} closed the connection (the broker stopped, restarted or dropped the hub)")
    } else {
        connection_error_words(broker, err)
    }
}

/// Why the MQTT client would not take a reply, in words.
fn publish_error_words(error: &rumqttc::ClientError) -> String {
    match error {
        rumqttc::ClientError::Request(_) => "the hub's MQTT client has stopped".into(),
        rumqttc::ClientError::TryRequest(_) => {
            "the hub's queue of outgoing replies is full: the broker does not take them as fast as requests come".into()
        }
    }
}

/// How a running hub is told to stop.
enum StopSwitch {
    /// The MQTT hub's runtime waits on this.
    Runtime(tokio::sync::oneshot::Sender<()>),
    /// The in-process hub checks this between messages.
    Flag(Arc<AtomicBool>),
}

/// A running hub on its own thread. It stops when the process ends or [`Hub::stop`] is called.
pub struct Hub {
    stop: Option<StopSwitch>,
    thread: Option<std::thread::JoinHandle<()>>,
    pub status: std::sync::mpsc::Receiver<HubStatus>,
}

impl Hub {
    /// Connects to `broker` and serves the devices of the workspace `feed` follows. Every
    /// sub-device starts logged out, as on a real hub.
    pub fn start(
        broker: BrokerUrl,
        tls: TlsOptions,
        feed: WorkspaceFeed,
    ) -> Result<Self, HubError> {
        Self::start_steered(broker, tls, feed, None)
    }

    /// [`Hub::start`], steered by `policy` (a qualification's plan) when given.
    pub fn start_steered(
        broker: BrokerUrl,
        tls: TlsOptions,
        feed: WorkspaceFeed,
        policy: Option<Arc<dyn HubPolicy>>,
    ) -> Result<Self, HubError> {
        if broker.scheme == Scheme::Mqtts {
            // Fail now, with the file named, rather than on every reconnect.
            client_config(&tls)?;
        }
        let served = Served::new(feed, policy, None);
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
        let (status_tx, status_rx) = std::sync::mpsc::channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(HubError::Runtime)?;
        let thread = std::thread::Builder::new()
            .name("thingbench-hub".into())
            .spawn(move || {
                let stopped = status_tx.clone();
                let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    runtime.block_on(serve(broker, tls, served, stop_rx, status_tx));
                }));
                if let Err(panic) = ran {
                    let _ = stopped.send(HubStatus::Stopped(format!(
                        "internal error: {}",
                        crate::transport::panic_words(panic.as_ref())
                    )));
                }
            })
            .map_err(HubError::Thread)?;
        Ok(Self {
            stop: Some(StopSwitch::Runtime(stop_tx)),
            thread: Some(thread),
            status: status_rx,
        })
    }

    /// Serves the devices of the workspace `feed` follows over an in-process link to the
    /// embedded broker: the same checker and replies as over MQTT, without a socket between
    /// broker and hub. The sub-devices of a gateway in `departures` (its last connection
    /// ended) are logged out, as on the platform.
    pub fn start_on_link(
        link: Link,
        feed: WorkspaceFeed,
        departures: Arc<Departures>,
    ) -> Result<Self, HubError> {
        Self::start_link(link, Served::new(feed, None, Some(departures)))
    }

    /// [`Hub::start_on_link`] steered by `policy` (a qualification's plan), whose departures
    /// say when the device under test left.
    pub fn start_on_link_steered(
        link: Link,
        feed: WorkspaceFeed,
        policy: Arc<dyn HubPolicy>,
    ) -> Result<Self, HubError> {
        Self::start_link(link, Served::new(feed, Some(policy), None))
    }

    fn start_link(link: Link, served: Served) -> Result<Self, HubError> {
        let stop = Arc::new(AtomicBool::new(false));
        let (status_tx, status_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("thingbench-hub".into())
            .spawn({
                let stop = stop.clone();
                move || {
                    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        serve_link(link, served, &stop, &status_tx);
                    }));
                    if let Err(panic) = ran {
                        let _ = status_tx.send(HubStatus::Stopped(format!(
                            "internal error: {}",
                            crate::transport::panic_words(panic.as_ref())
                        )));
                    }
                }
            })
            .map_err(HubError::Thread)?;
        Ok(Self {
            stop: Some(StopSwitch::Flag(stop)),
            thread: Some(thread),
            status: status_rx,
        })
    }

    /// Waits until the hub is connected and subscribed, or says why not.
    pub fn wait_connected(&self, within: Duration) -> Result<(), HubError> {
        let deadline = std::time::Instant::now() + within;
        let mut last = String::from("no answer from the broker");
        loop {
            let remaining = deadline.saturating_duration_since(std::time::Instant::now());
            match self.status.recv_timeout(remaining) {
                Ok(HubStatus::Connected) => return Ok(()),
                Ok(HubStatus::Disconnected(reason)) => last = reason,
                // Nothing is answered before the hub is subscribed.
                Ok(HubStatus::RepliesNotSent { .. }) => {}
                Ok(HubStatus::Stopped(reason)) => return Err(HubError::Stopped(reason)),
                Err(_) => return Err(HubError::NotConnected(last)),
            }
        }
    }

    /// Stops the hub and waits for its thread.
    pub fn stop(&mut self) {
        match self.stop.take() {
            Some(StopSwitch::Runtime(stop)) => {
                let _ = stop.send(());
            }
            Some(StopSwitch::Flag(stop)) => stop.store(true, Ordering::SeqCst),
            None => {}
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.stop();
    }
}

/// How the hub treats one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The checker's code, as always.
    Normal,
    /// This code for a measure-point request (a login or logout is answered normally).
    Code(ReplyCode),
    /// Processed (a login takes effect) but not answered.
    Silent,
}

/// Steers the hub for a qualification: how it answers the device under test, and when that
/// device went offline (the platform then logs its sub-devices out).
pub trait HubPolicy: Send + Sync {
    /// What to do with a request, before it is answered.
    fn decide(&self, topic: &str, payload: &[u8]) -> Decision;
    /// The code sent for it; `None` when no reply was sent.
    fn answered(&self, topic: &str, payload: &[u8], code: Option<ReplyCode>);
    /// The device's connections through the qualification's proxy: when its last one ends,
    /// its sub-devices are logged out.
    fn departures(&self) -> Arc<Departures>;
    /// A login or logout the hub accepted (answered or not): who the platform can command.
    fn session(&self, _effect: &SessionEffect) {}
}

/// What the hub answers with: the registry of the newest workspace, with who is logged in.
struct Served {
    feed: WorkspaceFeed,
    workspace: Arc<Workspace>,
    registry: Registry,
    policy: Option<Arc<dyn HubPolicy>>,
    departures: Option<Arc<Departures>>,
}

impl Served {
    /// The newest workspace of `feed`, with every sub-device logged out.
    fn new(
        feed: WorkspaceFeed,
        policy: Option<Arc<dyn HubPolicy>>,
        departures: Option<Arc<Departures>>,
    ) -> Self {
        let workspace = feed.workspace();
        let registry = workspace.registry(&LoginState::Only(Vec::new()));
        let departures = departures.or_else(|| policy.as_ref().map(|p| p.departures()));
        Self {
            feed,
            workspace,
            registry,
            policy,
            departures,
        }
    }

    /// Takes up a workspace published since the last request, keeping who is logged in.
    fn follow(&mut self) {
        let Some(snapshot) = self.feed.newest() else {
            return;
        };
        // A reload that kept the whole workspace publishes the same one with its notices.
        if Arc::ptr_eq(&snapshot.workspace, &self.workspace) {
            return;
        }
        let fresh = snapshot.workspace.registry(&LoginState::Only(Vec::new()));
        self.registry.replace_keeping_logins(fresh);
        self.workspace = snapshot.workspace;
    }

    /// Logs out the sub-devices of every gateway whose last connection ended since the last
    /// request.
    fn log_out_departed(&mut self) {
        let gone = self
            .departures
            .as_ref()
            .map(|d| d.take())
            .unwrap_or_default();
        for gateway in gone {
            let registry = &self.registry;
            let subs: Vec<DeviceId> = registry
                .logged_in
                .iter()
                .filter(|d| registry.is_sub_device_of(d, &gateway))
                .cloned()
                .collect();
            for device in subs {
                self.registry.logged_in.remove(&device);
            }
        }
    }

    /// The reply to a request, its topic and payload; `None` when the policy silences it, and
    /// for a command or a reply, which the hub never answers.
    fn answer(&mut self, topic: &str, payload: &[u8]) -> Option<(String, Vec<u8>)> {
        if passes_by(topic) {
            return None;
        }
        self.follow();
        self.log_out_departed();
        if self.policy.is_none()
            && let Some(reply) = accepted(&self.registry, topic, payload)
        {
            // A measure-point message with nothing wrong in it: 200, without the full check's
            // tree (which changes nothing for it: it logs no one in or out).
            return Some((reply_topic(topic), reply.to_bytes()));
        }
        let report = check(&self.registry, topic, payload);
        self.registry.apply(report.effect.as_ref());
        let Some(policy) = self.policy.clone() else {
            return Some((reply_topic(topic), report.reply().to_bytes()));
        };
        if let Some(effect) = &report.effect {
            policy.session(effect);
        }
        let points = report.view.method.is_some_and(Method::carries_points);
        let reply = match policy.decide(topic, payload) {
            Decision::Normal => Some(report.reply()),
            Decision::Code(code) if points => Some(Reply::new(
                report.id.clone(),
                code,
                Some(format!("answered {code} by the qualification plan")),
                serde_json::Value::Null,
            )),
            Decision::Code(_) => Some(report.reply()),
            Decision::Silent => None,
        };
        policy.answered(topic, payload, reply.as_ref().map(|r| r.code));
        reply.map(|r| (reply_topic(topic), r.to_bytes()))
    }
}

/// True for a command to a device or any reply: they pass between the platform side and the
/// device (a command sent through another thingbench's hub gets one reply: the device's).
fn passes_by(topic: &str) -> bool {
    topic.ends_with("_reply") || topic.contains("/thing/service/")
}

async fn serve(
    broker: BrokerUrl,
    tls: TlsOptions,
    mut served: Served,
    mut stop: tokio::sync::oneshot::Receiver<()>,
    status: std::sync::mpsc::Sender<HubStatus>,
) {
    let client_id = format!(
        "thingbench-hub-{}-{}",
        std::process::id(),
        crate::protocol::EpochMs::now().0
    );
    let (client, mut eventloop) =
        match client_event_loop(client_id, &broker, Duration::from_secs(30), None, &tls) {
            Ok(pair) => pair,
            Err(e) => {
                let _ = status.send(HubStatus::Stopped(e.to_string()));
                return;
            }
        };
    let mut backoff = crate::transport::Backoff::default();
    let mut subscribed_pkids = 0usize;
    let mut failures = ReplyFailures::default();
    let report = |statuses: Vec<HubStatus>| {
        for report in statuses {
            let _ = status.send(report);
        }
    };
    loop {
        tokio::select! {
            _ = &mut stop => {
                let _ = client.try_disconnect();
                report(failures.unreported(Instant::now()));
                return;
            }
            polled = eventloop.poll() => match polled {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    backoff.reset();
                    subscribed_pkids = 0;
                    report(failures.unreported(Instant::now()));
                    for filter in hub_filters() {
                        if let Err(e) = client.try_subscribe(filter.clone(), QoS::AtLeastOnce) {
                            let why = publish_error_words(&e);
                            let _ = status.send(HubStatus::Disconnected(format!(
                                "cannot subscribe to {filter}: {why}"
                            )));
                        }
                    }
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    subscribed_pkids += 1;
                    if subscribed_pkids == hub_filters().len() {
                        let _ = status.send(HubStatus::Connected);
                    }
                }
                Ok(Event::Incoming(Packet::Publish(publish))) => {
                    let Some((topic, reply)) = served.answer(&publish.topic, &publish.payload) else {
                        continue;
                    };
                    if let Err(e) = client.try_publish(topic, QoS::AtLeastOnce, false, reply) {
                        report(failures.failed(publish_error_words(&e), Instant::now()).into_iter().collect());
                    }
                }
                Ok(_) => {}
                Err(err) => {
                    let words = lost_words(&broker, &err, subscribed_pkids > 0);
                    subscribed_pkids = 0;
                    let _ = status.send(HubStatus::Disconnected(words));
                    tokio::time::sleep(backoff.next_wait()).await;
                }
            }
        }
    }
}

/// Replies queued on the link before the router is woken for them.
const LINK_BATCH: usize = 32;

/// Publishes `newest`, which wakes the router for it and for every reply queued before it.
/// Fails only when the router has gone: those replies are lost, and the error says how many.
fn send_replies(
    link_tx: &mut rumqttd::local::LinkTx,
    newest: &mut Option<(String, Vec<u8>)>,
    queued: &mut usize,
) -> Result<(), HubError> {
    let lost = std::mem::take(queued) + 1;
    match newest.take() {
        Some((topic, payload)) => link_tx
            .publish(topic, payload)
            .map(|_| ())
            .map_err(|source| HubError::RepliesLost {
                lost,
                source: Box::new(source),
            }),
        None => Ok(()),
    }
}

/// The hub's loop on an in-process link. Replies go out at QoS 0, as the link publishes.
fn serve_link(
    (mut link_tx, mut link_rx): Link,
    mut served: Served,
    stop: &AtomicBool,
    status: &std::sync::mpsc::Sender<HubStatus>,
) {
    let filters = hub_filters();
    for filter in &filters {
        if let Err(e) = link_tx.subscribe(filter.clone()) {
            let _ = status.send(HubStatus::Stopped(format!(
                "cannot subscribe to {filter}: {e}"
            )));
            return;
        }
    }
    let mut acks = 0;
    // Replies to requests that arrived together go to the router together: all but the newest
    // are queued on the link without waking the router, and the newest wakes it for all of them
    // once no more requests are waiting (or after a batch of them).
    let mut newest: Option<(String, Vec<u8>)> = None;
    let mut queued = 0;
    while !stop.load(Ordering::SeqCst) {
        let wait = if newest.is_some() {
            Duration::ZERO
        } else {
            Duration::from_millis(200)
        };
        match link_rx.recv_deadline(Instant::now() + wait) {
            Ok(Some(rumqttd::Notification::Forward(forward))) => {
                let topic = String::from_utf8_lossy(&forward.publish.topic);
                let Some(reply) = served.answer(&topic, &forward.publish.payload) else {
                    continue;
                };
                if let Some((topic, payload)) = newest.replace(reply) {
                    let publish =
                        rumqttd::protocol::Publish::new(topic.into_bytes(), payload, false);
                    link_tx
                        .buffer()
                        .push_back(rumqttd::protocol::Packet::Publish(publish, None));
                    queued += 1;
                }
                if queued >= LINK_BATCH
                    && let Err(e) = send_replies(&mut link_tx, &mut newest, &mut queued)
                {
                    let _ = status.send(HubStatus::Stopped(e.to_string()));
                    return;
                }
            }
            Err(rumqttd::local::LinkError::RecvTimeout(_)) if newest.is_some() => {
                if let Err(e) = send_replies(&mut link_tx, &mut newest, &mut queued) {
                    let _ = status.send(HubStatus::Stopped(e.to_string()));
                    return;
                }
            }
            Ok(Some(rumqttd::Notification::DeviceAck(_))) => {
                acks += 1;
                if acks == filters.len() {
                    let _ = status.send(HubStatus::Connected);
                }
            }
            Ok(Some(rumqttd::Notification::Unschedule)) => {
                // The router paused this link until it says it is ready again.
                let _ = link_rx.ready();
            }
            Ok(_) => {}
            Err(rumqttd::local::LinkError::RecvTimeout(_)) => {}
            Err(e) => {
                let _ = status.send(HubStatus::Stopped(format!(
                    "the embedded broker went away: {e}"
                )));
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_broker_is_said_once_and_its_return_once() {
        let mut log = HubLog::new("mqtt://127.0.0.1:1883");
        assert_eq!(
            log.line(&HubStatus::Connected),
            None,
            "the start says it already"
        );
        let refused = HubStatus::Disconnected("connection refused".into());
        let lost = log.line(&refused).expect("said");
        assert!(
            lost.contains("lost the broker: connection refused"),
            "{lost}"
        );
        assert_eq!(log.line(&refused), None, "each retry is not said again");
        let back = log.line(&HubStatus::Connected).expect("said");
        assert!(back.contains("mqtt://127.0.0.1:1883 again"), "{back}");
        assert_eq!(log.line(&HubStatus::Connected), None);
        let first = HubStatus::RepliesNotSent {
            cause: "full".into(),
            count: 1,
        };
        assert!(
            log.line(&first)
                .is_some_and(|l| l.contains("a reply could not be sent: full"))
        );
        let more = HubStatus::RepliesNotSent {
            cause: "full".into(),
            count: 40,
        };
        assert!(
            log.line(&more)
                .is_some_and(|l| l.contains("40 replies in all"))
        );
    }
    use crate::protocol::{DeviceId, ReplyCode};
    use crate::workspace::LiveWorkspace;

    const WORKSPACE: &str = r#"{
  "products": {"gwPk": "gw", "invPk": "inv"},
  "gateway": {"productKey": "gwPk", "deviceKey": "gw01", "secret": "s"},
  "devices": [{"productKey": "invPk", "deviceKey": "inv01", "secret": "s1"},
              {"productKey": "invPk", "deviceKey": "inv02", "secret": "s2"}]
}"#;

    fn model(id: &str, data_type: &str) -> String {
        format!(
            r#"{{"modelId": "{id}", "measurepoints": {{"Power": {{"identifier": "Power", "dataType": "{data_type}", "hasQuality": false}}}}}}"#
        )
    }

    fn code(reply: &[u8]) -> ReplyCode {
        crate::protocol::parse_reply(reply).expect("a reply").code
    }

    const BATCH_TOPIC: &str = "/sys/gwPk/gw01/thing/measurepoint/post/batch";
    const BATCH: &str = r#"{"id": "1", "version": "1.0", "method": "thing.measurepoint.post.batch",
        "params": [{"productKey": "invPk", "deviceKey": "inv01", "measurepoints": {"Power": 3.2}}]}"#;

    #[test]
    fn commands_and_replies_pass_by_and_requests_and_events_do_not() {
        for topic in [
            "/sys/invPk/inv01/thing/service/measurepoint/set",
            "/sys/invPk/inv01/thing/service/measurepoint/get",
            "/sys/invPk/inv01/thing/service/setPowerLimit",
            "/sys/invPk/inv01/thing/service/setPowerLimit_reply",
            "/sys/gwPk/gw01/thing/measurepoint/post/batch_reply",
            "/sys/invPk/inv01/thing/event/overTemp/post_reply",
        ] {
            assert!(passes_by(topic), "{topic}");
        }
        for topic in [
            BATCH_TOPIC,
            "/sys/invPk/inv01/thing/event/overTemp/post",
            "/ext/session/gwPk/gw01/combine/login",
        ] {
            assert!(!passes_by(topic), "{topic}");
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let models = dir.path().join("models");
        std::fs::create_dir_all(&models).expect("mkdir");
        std::fs::write(dir.path().join("workspace.json"), WORKSPACE).expect("write");
        std::fs::write(models.join("gw.json"), model("gw", "FLOAT")).expect("write");
        std::fs::write(models.join("inv.json"), model("inv", "FLOAT")).expect("write");
        let live = LiveWorkspace::open(dir.path()).expect("opens");
        let mut served = Served::new(live.subscribe(), None, None);
        let set = br#"{"id": "1", "version": "1.0", "method": "thing.service.measurepoint.set", "params": {"Power": 1}}"#;
        assert_eq!(
            served.answer("/sys/invPk/inv01/thing/service/measurepoint/set", set),
            None
        );
        // The gateway's event, of a model without events: refused with the place, not 1009.
        let event = br#"{"id": "2", "version": "1.0", "method": "thing.event.hot.post", "params": {"events": {}}}"#;
        let (topic, reply) = served
            .answer("/sys/gwPk/gw01/thing/event/hot/post", event)
            .expect("a reply");
        assert_eq!(topic, "/sys/gwPk/gw01/thing/event/hot/post_reply");
        assert_eq!(code(&reply), ReplyCode::MODEL);
        let message = crate::protocol::parse_reply(&reply)
            .ok()
            .and_then(|r| r.message);
        assert!(
            message
                .as_deref()
                .is_some_and(|m| m.starts_with("(topic): event \"hot\"")),
            "{message:?}"
        );
    }

    #[test]
    fn failed_replies_are_reported_once_per_cause_then_counted() {
        let mut failures = ReplyFailures::default();
        let start = Instant::now();
        let full = "the queue is full".to_owned();
        let said = failures.failed(full.clone(), start);
        assert_eq!(
            said,
            Some(HubStatus::RepliesNotSent {
                cause: full.clone(),
                count: 1
            })
        );
        for n in 0..1000 {
            let at = start + Duration::from_millis(n);
            assert_eq!(failures.failed(full.clone(), at), None, "counted, not said");
        }
        let other = failures.failed("stopped".into(), start);
        assert!(
            matches!(&other, Some(HubStatus::RepliesNotSent { count: 1, .. })),
            "another cause is said at once: {other:?}"
        );
        let later = start + FAILURE_REPORT_EVERY + Duration::from_secs(1);
        assert_eq!(
            failures.failed(full.clone(), later),
            Some(HubStatus::RepliesNotSent {
                cause: full.clone(),
                count: 1002
            }),
            "the count, now and then"
        );
        assert_eq!(failures.unreported(later), Vec::new());
        assert_eq!(failures.failed(full.clone(), later), None);
        assert_eq!(
            failures.unreported(later),
            vec![HubStatus::RepliesNotSent {
                cause: full,
                count: 1003
            }],
            "what is left is said at a reconnect or at the end"
        );
    }

    #[test]
    fn a_refused_publish_is_said_in_words() {
        let (client, eventloop) = rumqttc::AsyncClient::new(
            rumqttc::MqttOptions::new("thingbench-test", "127.0.0.1", 1),
            1,
        );
        client
            .try_publish("a", QoS::AtMostOnce, false, "1")
            .expect("room for one");
        let full = client
            .try_publish("a", QoS::AtMostOnce, false, "2")
            .expect_err("the queue holds one");
        assert!(publish_error_words(&full).contains("queue of outgoing replies is full"));
        drop(eventloop);
        let stopped = client
            .try_publish("a", QoS::AtMostOnce, false, "3")
            .expect_err("nobody takes it");
        assert!(!publish_error_words(&stopped).is_empty());
    }

    #[test]
    fn a_reloaded_workspace_is_used_at_the_next_request_and_logins_stay() {
        let dir = tempfile::tempdir().expect("tempdir");
        let models = dir.path().join("models");
        std::fs::create_dir_all(&models).expect("mkdir");
        std::fs::write(dir.path().join("workspace.json"), WORKSPACE).expect("write");
        std::fs::write(models.join("gw.json"), model("gw", "FLOAT")).expect("write");
        std::fs::write(models.join("inv.json"), model("inv", "FLOAT")).expect("write");
        let live = LiveWorkspace::open(dir.path()).expect("opens");
        let mut served = Served::new(live.subscribe(), None, None);
        assert_eq!(
            code(
                &served
                    .answer(BATCH_TOPIC, BATCH.as_bytes())
                    .expect("a reply")
                    .1
            )
            .0,
            1212
        );
        let inv01 = DeviceId::new("invPk", "inv01");
        let inv02 = DeviceId::new("invPk", "inv02");
        served.registry.logged_in = [inv01.clone(), inv02].into_iter().collect();
        assert_eq!(
            code(
                &served
                    .answer(BATCH_TOPIC, BATCH.as_bytes())
                    .expect("a reply")
                    .1
            ),
            ReplyCode::SUCCESS
        );

        // Power becomes an INT and inv02 leaves the workspace.
        std::fs::write(models.join("inv.json"), model("inv", "INT")).expect("write");
        let one_device = WORKSPACE.replace(
            r#",
              {"productKey": "invPk", "deviceKey": "inv02", "secret": "s2"}"#,
            "",
        );
        std::fs::write(dir.path().join("workspace.json"), one_device).expect("write");
        live.reload();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let (_, reply) = served
                .answer(BATCH_TOPIC, BATCH.as_bytes())
                .expect("a reply");
            if code(&reply).0 == 1204 && served.registry.devices.len() == 2 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the hub still answers {} after 5 s",
                code(&reply)
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let logged_in: Vec<_> = served.registry.logged_in.iter().collect();
        assert_eq!(logged_in, [&inv01]);
    }
}
