//! The window's connection: the form that describes it, the session as the gateway, the
//! embedded broker and hub it may start, and the requests waiting for their replies.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use crate::history::{RowKind, Timeline};
use crate::model::{Registry, SessionEffect, check};
use crate::protocol::{DeviceId, ReplyCode};
use crate::runner::connect::Embedded;
use crate::runner::connect::spawn_embedded_tls;
use crate::runner::diagnosis::{Diagnosis, Hint};
use crate::runner::{ConnectError, Outcome};
use crate::transport::{
    Auth, BrokerUrl, OutageWatch, RequestId, Scheme, Session, SessionCommand, SessionConfig,
    SessionEvent, SubscribeError, TlsConfigError, TlsOptions,
};
use crate::workspace::{AuthMode, Workspace};

use super::Wake;
use super::draft::SendState;
pub use super::link_state::LinkState;
use super::notice::Notice;
pub use super::request::Request;
use super::request::routed_end;
use super::traffic::{Reply, end_unanswered, push_event, push_reply, push_request};
use super::workspace::WorkspaceCtl;

/// The connection form. Persisted between runs, except the password, which never is.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ConnectionForm {
    /// Use the embedded broker and hub instead of `broker`.
    pub embedded: bool,
    pub broker: String,
    /// The free part of the client id; empty means the gateway's device key.
    pub client_id: String,
    pub auth: AuthMode,
    pub username: String,
    #[serde(skip)]
    pub password: String,
    pub keep_alive_s: u64,
    /// How long a send waits for its reply.
    pub timeout_ms: u64,
    pub ca_file: String,
    pub client_cert: String,
    pub client_key: String,
    pub verify: bool,
    /// With the embedded broker: its door speaks TLS with devices (a certificate of the
    /// workspace's local CA), and the window's session trusts that CA.
    pub tls_for_devices: bool,
}

impl Default for ConnectionForm {
    fn default() -> Self {
        Self {
            embedded: true,
            broker: "mqtt://127.0.0.1:1883".into(),
            client_id: String::new(),
            auth: AuthMode::Sign,
            username: String::new(),
            password: String::new(),
            keep_alive_s: 30,
            timeout_ms: 5000,
            ca_file: String::new(),
            client_cert: String::new(),
            client_key: String::new(),
            verify: true,
            tls_for_devices: false,
        }
    }
}

impl ConnectionForm {
    /// The session this form describes, for `ws`'s gateway at `url`.
    pub fn session_config(
        &self,
        ws: &Workspace,
        url: BrokerUrl,
    ) -> Result<SessionConfig, ConnectError> {
        let gateway = ws.gateway();
        let auth = match self.auth {
            AuthMode::None => Auth::None,
            AuthMode::Password => Auth::Password {
                username: self.username.clone(),
                password: crate::protocol::Secret::new(self.password.clone()),
            },
            AuthMode::Sign => {
                let secret = ws.gateway_entry().secret()?.ok_or(ConnectError::NoSecret)?;
                Auth::Sign {
                    device: gateway.clone(),
                    secret,
                }
            }
        };
        let client_id = if self.client_id.trim().is_empty() {
            gateway.device_key.0.clone()
        } else {
            self.client_id.trim().to_owned()
        };
        Ok(SessionConfig {
            broker: url,
            client_id,
            auth,
            keep_alive: Duration::from_secs(self.keep_alive_s.clamp(5, 3600)),
            tls: self.tls_options()?,
            platform: false,
        })
    }

    /// The TLS files and verification of the form, for `mqtts://`.
    pub fn tls_options(&self) -> Result<TlsOptions, TlsConfigError> {
        let path = |text: &str| (!text.trim().is_empty()).then(|| PathBuf::from(text.trim()));
        let client_cert = match (path(&self.client_cert), path(&self.client_key)) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => {
                return Err(TlsConfigError::HalfClientCert);
            }
        };
        Ok(TlsOptions {
            ca_file: path(&self.ca_file),
            client_cert,
            verify: self.verify,
        })
    }

    /// Points the form at `ws`'s connection (its environment's when one is in use): its
    /// broker, or the embedded one when it names none, and its authentication if it says.
    pub fn follow_workspace(&mut self, ws: &Workspace) {
        match ws.broker() {
            Some(url) => {
                self.embedded = false;
                self.broker = url.to_owned();
            }
            None => self.embedded = true,
        }
        if let Some(auth) = ws.connection().and_then(|c| c.auth) {
            self.auth = auth;
        }
    }

    /// How long a request waits for its reply.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms.max(1))
    }
}

/// Why a request was sent, to know what its reply changes.
#[derive(Clone, Debug, PartialEq)]
pub enum Purpose {
    Draft,
    /// A login (`true`) or logout of a sub-device.
    Login(DeviceId, bool),
    /// A request of the suite runner (a fixture's, or a login before it).
    Suite,
    /// The builder's command to a device, sent by the platform client.
    Command,
}

struct Pending {
    row: usize,
    purpose: Purpose,
    device: Option<DeviceId>,
    topic: String,
    /// The login or logout it makes when the hub accepts it.
    effect: Option<SessionEffect>,
}

/// What the rest of the window must hear of a session event.
#[derive(Debug, PartialEq)]
pub enum Routed {
    /// Connected (again): log the sub-devices in, run what waited for the connection.
    Connected,
    /// The draft's request ended.
    Draft(SendState),
    /// The builder's command ended; `reply` is the device's reply, when one came, on
    /// `reply_topic`.
    Command {
        outcome: Outcome,
        reply: Vec<u8>,
        reply_topic: Option<String>,
    },
    /// A login or logout was answered.
    Login {
        device: DeviceId,
        login: bool,
        code: ReplyCode,
        message: Option<String>,
    },
    /// Something for the status line.
    Notice(Notice),
    /// A reply that pairs with none of this session's requests.
    Unpaired {
        topic: String,
        payload: Vec<u8>,
        why: String,
    },
    /// A suite request ended; `effect` is the login or logout it made, when accepted;
    /// `reply_topic` the topic its reply came on.
    Suite {
        outcome: Outcome,
        reply: Vec<u8>,
        reply_topic: Option<String>,
        effect: Option<SessionEffect>,
    },
    /// The connection was lost, or a retry failed.
    Disconnected { reason: String },
    /// The session ended for good: it will not reconnect by itself.
    Closed { reason: String },
    /// The broker answered a subscription made with [`Connection::subscribe`].
    Subscribed {
        filter: String,
        granted: Result<(), SubscribeError>,
    },
    /// A message on a filter subscribed with [`Connection::subscribe`].
    Message { topic: String, payload: Vec<u8> },
}

/// The window's connection as the workspace's gateway.
pub struct Connection {
    pub form: ConnectionForm,
    link: LinkState,
    broker_url: Option<BrokerUrl>,
    session: Option<Session>,
    /// The embedded broker and hub, kept running while held.
    embedded: Embedded,
    embedded_rx: Option<mpsc::Receiver<Result<(Embedded, BrokerUrl), ConnectError>>>,
    pending: HashMap<RequestId, Pending>,
    next_request: u64,
    /// What this session's replies and silences say about the broker and the hub.
    diagnosis: Diagnosis,
    /// The hint the status line shows, said once per session.
    hint: Option<Hint>,
    /// What the embedded hub said so far (losing its link, replies it could not send).
    hub_log: crate::hub::HubLog,
    /// The session's outages, one timeline row each.
    outage: OutageWatch,
    /// Filters subscribed for others (watch mode), again on every new session.
    filters: Vec<String>,
    /// The platform side's own session, for commands to devices.
    platform: super::platform::PlatformClient,
    /// Wakes the window; kept for the platform client it starts later.
    wake: Option<Wake>,
}

impl Connection {
    /// Not connected yet, with `form` as the user last left it.
    pub fn new(form: ConnectionForm) -> Self {
        Self {
            form,
            link: LinkState::Off,
            broker_url: None,
            session: None,
            embedded: None,
            embedded_rx: None,
            pending: HashMap::new(),
            next_request: 1,
            diagnosis: Diagnosis::default(),
            hint: None,
            hub_log: crate::hub::HubLog::new("the embedded broker"),
            outage: OutageWatch::default(),
            filters: Vec::new(),
            platform: super::platform::PlatformClient::default(),
            wake: None,
        }
    }

    /// Subscribes the session to `filter`, now and on every session after it; its messages come
    /// as [`Routed::Message`].
    pub fn subscribe(&mut self, filter: &str) {
        if !self.filters.iter().any(|f| f == filter) {
            self.filters.push(filter.to_owned());
        }
        if let Some(session) = &self.session {
            session.send(SessionCommand::Subscribe(filter.to_owned()));
        }
    }

    /// Ends a subscription made with [`Connection::subscribe`].
    pub fn unsubscribe(&mut self, filter: &str) {
        self.filters.retain(|f| f != filter);
        if let Some(session) = &self.session {
            session.send(SessionCommand::Unsubscribe(filter.to_owned()));
        }
    }

    /// What the embedded broker and hub reported since the last call that a person should hear
    /// (a refused CONNECT, also a row of the timeline; the door's troubles; a reply the hub
    /// could not send), newest last.
    pub fn broker_news(&mut self, timeline: &mut Timeline) -> Vec<Notice> {
        let Some((broker, hub)) = &self.embedded else {
            return Vec::new();
        };
        let mut news = Vec::new();
        for told in broker.news.try_iter() {
            let words = told.words();
            if matches!(told, crate::broker::BrokerNews::Refused { .. }) {
                push_event(timeline, RowKind::Refused, &words);
            }
            news.push(Notice::error(words));
        }
        news.extend(
            hub.status
                .try_iter()
                .filter_map(|status| self.hub_log.line(&status))
                .map(Notice::error),
        );
        news
    }

    /// What looks wrong with the broker or the hub (round trips held up by Nagle's algorithm,
    /// no hub answering), in words for the status line.
    pub fn hint(&self) -> Option<String> {
        self.hint
            .as_ref()
            .map(|hint| hint.words(self.broker_url.as_ref()))
    }

    /// Where the connection stands.
    pub fn link(&self) -> &LinkState {
        &self.link
    }

    /// Why commands to `gateway` and its sub-devices cannot be answered now, when the window
    /// knows: on its embedded broker, no connection as `gateway` is open but the window's own.
    /// `None` when a device may answer (or, on another broker, when the window cannot know).
    pub fn no_device_for_commands(&self, gateway: &DeviceId) -> Option<String> {
        let (broker, _) = self.embedded.as_ref()?;
        let own = usize::from(self.form.auth == AuthMode::Sign);
        (broker.departures.open_count(gateway) <= own).then(|| {
            format!(
                "no device is connected as {gateway} to the embedded broker ({}) besides this window; connect the device to answer commands",
                broker.url()
            )
        })
    }

    /// How many connections as `device` the embedded broker's door has seen since it started
    /// (`None` on another broker).
    pub fn connections_seen(&self, device: &DeviceId) -> Option<usize> {
        let (broker, _) = self.embedded.as_ref()?;
        Some(broker.departures.arrivals(device))
    }

    /// The CA devices trust when the embedded broker's door speaks TLS.
    pub fn local_ca(&self) -> Option<&std::path::Path> {
        self.embedded
            .as_ref()
            .and_then(|(broker, _)| broker.ca_file())
    }

    /// The broker of the session (the embedded one by default).
    pub fn broker_url(&self) -> Option<&BrokerUrl> {
        self.broker_url.as_ref()
    }

    /// True when a session exists, connected or retrying.
    pub fn has_session(&self) -> bool {
        self.session.is_some()
    }

    /// True when requests can go out now.
    pub fn connected(&self) -> bool {
        self.session.is_some() && self.link == LinkState::Connected
    }

    /// The requests waiting for a reply.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Connects as the form says: to its broker, or to the embedded broker with a hub that
    /// follows `workspace`, started on a thread (then [`Connection::poll`] opens the session).
    pub fn connect(
        &mut self,
        workspace: &WorkspaceCtl,
        timeline: &mut Timeline,
        wake: &Wake,
    ) -> Vec<Routed> {
        let routed = self.disconnect(timeline);
        let (Ok(ws), Some(feed)) = (workspace.get(), workspace.feed()) else {
            return routed;
        };
        if self.form.embedded {
            // A broker whose door speaks otherwise than the form says makes way for a new one.
            let tls = self.form.tls_for_devices;
            if self
                .embedded
                .as_ref()
                .is_some_and(|(broker, _)| (broker.url().scheme == Scheme::Mqtts) != tls)
            {
                self.embedded = None;
            }
            match self.embedded.as_ref().map(|(broker, _)| broker.url()) {
                Some(url) => self.open_session(ws, url, wake),
                None => {
                    self.link = LinkState::StartingEmbedded;
                    let wake = wake.clone();
                    self.embedded_rx =
                        Some(spawn_embedded_tls(feed, tls, Box::new(move || wake())));
                }
            }
        } else {
            match BrokerUrl::parse(self.form.broker.trim()) {
                Ok(url) => self.open_session(ws, url, wake),
                Err(e) => self.link = LinkState::Failed(format!("broker URL: {e}")),
            }
        }
        routed
    }

    /// Opens the session once the embedded broker has started.
    pub fn poll(&mut self, ws: &Workspace, wake: &Wake) {
        let Some(rx) = &self.embedded_rx else { return };
        let Ok(started) = rx.try_recv() else { return };
        self.embedded_rx = None;
        match started {
            Ok((embedded, url)) => {
                if let Some((broker, _)) = &embedded {
                    let wake = wake.clone();
                    broker.wake_with(Box::new(move || wake()));
                }
                self.embedded = embedded;
                self.open_session(ws, url, wake);
            }
            Err(e) => self.link = LinkState::Failed(e.to_string()),
        }
    }

    fn open_session(&mut self, ws: &Workspace, url: BrokerUrl, wake: &Wake) {
        self.wake = Some(wake.clone());
        let wake = wake.clone();
        // The embedded broker's TLS door: the session trusts the local CA it was made with.
        let local_ca = self
            .embedded
            .as_ref()
            .filter(|_| self.form.embedded)
            .and_then(|(broker, _)| broker.ca_file())
            .map(std::path::Path::to_owned);
        let started = self
            .form
            .session_config(ws, url.clone())
            .map(|mut config| {
                if let Some(ca) = local_ca {
                    config.tls = TlsOptions {
                        ca_file: Some(ca),
                        client_cert: None,
                        verify: true,
                    };
                }
                config
            })
            .and_then(|config| {
                Session::start(config, Box::new(move || wake())).map_err(ConnectError::from)
            });
        match started {
            Ok(session) => {
                for filter in &self.filters {
                    session.send(SessionCommand::Subscribe(filter.clone()));
                }
                self.outage = OutageWatch::default();
                self.session = Some(session);
                self.broker_url = Some(url);
                self.link = LinkState::Connecting;
                self.diagnosis = Diagnosis::default();
                self.hint = None;
            }
            Err(e) => self.link = LinkState::Failed(e.to_string()),
        }
    }

    /// Closes the session; every request waiting for a reply ends as lost.
    pub fn disconnect(&mut self, timeline: &mut Timeline) -> Vec<Routed> {
        if let Some(session) = self.session.take() {
            close_in_background(session);
        }
        self.platform.close();
        self.link = LinkState::Off;
        self.end_pending("disconnected before the reply", timeline)
    }

    /// Ends every request waiting for a reply as lost, for `reason`.
    fn end_pending(&mut self, reason: &str, timeline: &mut Timeline) -> Vec<Routed> {
        let mut pending: Vec<(RequestId, Pending)> = self.pending.drain().collect();
        // In the order they were sent, as the suite expects its own.
        pending.sort_by_key(|(request, _)| *request);
        pending
            .into_iter()
            .filter_map(|(_, pending)| {
                end_unanswered(
                    timeline,
                    pending.row,
                    pending.device.as_ref(),
                    &pending.topic,
                    RowKind::Lost,
                    reason,
                );
                let outcome = Outcome::Lost {
                    reason: reason.to_owned(),
                };
                routed_end(pending.purpose, outcome, Vec::new(), None, None)
            })
            .collect()
    }

    /// Sends a request, checked against `registry`, with a row for it in the timeline.
    pub fn request(
        &mut self,
        message: Request,
        registry: &Registry,
        timeline: &mut Timeline,
    ) -> Result<(), Notice> {
        let (Some(gateway), Some(url)) = (&self.session, &self.broker_url) else {
            return Err(Notice::error(
                "not connected: connect first (left panel, Connection)",
            ));
        };
        if message.platform {
            let wake = self
                .wake
                .clone()
                .unwrap_or_else(|| std::sync::Arc::new(|| {}));
            let tls = self
                .form
                .tls_options()
                .map_err(|e| Notice::error(format!("the platform client: {e}")))?;
            self.platform
                .start(url, &tls, &wake)
                .map_err(|e| Notice::error(format!("the platform client: {e}")))?;
        }
        let request = RequestId(self.next_request);
        self.next_request += 1;
        let Request {
            topic,
            payload,
            msg_id,
            purpose,
            device,
            timeout,
            platform,
        } = message;
        let report = check(registry, &topic, &payload);
        let device = device.or_else(|| report.view.first_device().cloned());
        let note = if purpose == Purpose::Suite {
            "suite"
        } else {
            ""
        };
        let row = push_request(
            timeline,
            device.as_ref(),
            &topic,
            &payload,
            &report,
            note,
            platform,
        );
        let command = SessionCommand::Request {
            request,
            topic: topic.clone(),
            payload,
            msg_id,
            timeout: timeout.unwrap_or_else(|| self.form.timeout()),
        };
        // A command waits for the platform client's first connection, made with the first.
        let sent = if platform {
            self.platform.send(command)
        } else {
            gateway.send(command)
        };
        if !sent {
            end_unanswered(
                timeline,
                row,
                device.as_ref(),
                &topic,
                RowKind::Lost,
                "the session has ended",
            );
            return Err(Notice::error("the session has ended; connect again"));
        }
        self.pending.insert(
            request,
            Pending {
                row,
                purpose,
                device,
                topic,
                effect: report.effect,
            },
        );
        Ok(())
    }

    /// The sessions' events since the last frame: the gateway session's, then how the
    /// platform client's commands ended.
    pub fn take_events(&mut self) -> Vec<SessionEvent> {
        let mut events: Vec<SessionEvent> = self
            .session
            .as_ref()
            .map(|s| s.events.try_iter().collect())
            .unwrap_or_default();
        events.extend(self.platform.take_events());
        events
    }

    /// Applies one session event: rows in the timeline, and what others must hear of it.
    pub fn apply(&mut self, event: SessionEvent, timeline: &mut Timeline) -> Vec<Routed> {
        match event {
            SessionEvent::Connected => {
                self.link = LinkState::Connected;
                let _ = self.outage.connected(std::time::Instant::now());
                let note = format!(
                    "connected to {}",
                    self.broker_url
                        .as_ref()
                        .map_or(String::new(), ToString::to_string)
                );
                push_event(timeline, RowKind::Connected, &note);
                vec![Routed::Connected]
            }
            SessionEvent::Disconnected { reason } => {
                // A broker that stays away fails every retry: one row for the outage.
                if self
                    .outage
                    .disconnected(&reason, std::time::Instant::now())
                    .is_some()
                {
                    push_event(timeline, RowKind::Disconnected, &reason);
                }
                self.link = LinkState::Retrying(reason.clone());
                vec![Routed::Disconnected { reason }]
            }
            SessionEvent::Replied {
                request,
                reply,
                payload,
                topic,
                rtt,
                ..
            } => {
                if matches!(self.hint, Some(Hint::NoHub { .. })) {
                    // A reply after all: a hub answers.
                    self.hint = None;
                }
                if let Some(hint) = self.diagnosis.replied(rtt) {
                    self.hint = Some(hint);
                }
                let Some(pending) = self.pending.remove(&request) else {
                    return Vec::new();
                };
                push_reply(
                    timeline,
                    pending.row,
                    pending.device.as_ref(),
                    &pending.topic,
                    &Reply {
                        payload: &payload,
                        code: reply.code,
                        message: reply.message.as_deref(),
                        rtt,
                    },
                );
                let effect = pending.effect.filter(|_| reply.code.is_success());
                let outcome = Outcome::Replied {
                    code: reply.code,
                    message: reply.message,
                    rtt,
                };
                routed_end(pending.purpose, outcome, payload, Some(topic), effect)
                    .into_iter()
                    .collect()
            }
            SessionEvent::NoReply { request, after } => {
                if let Some(hint) = self.diagnosis.unanswered() {
                    self.hint = Some(hint);
                }
                let Some(pending) = self.pending.remove(&request) else {
                    return Vec::new();
                };
                let note = format!("no reply within {} ms", after.as_millis());
                end_unanswered(
                    timeline,
                    pending.row,
                    pending.device.as_ref(),
                    &pending.topic,
                    RowKind::NoReply,
                    &note,
                );
                routed_end(
                    pending.purpose,
                    Outcome::NoReply { after },
                    Vec::new(),
                    None,
                    None,
                )
                .into_iter()
                .collect()
            }
            SessionEvent::Lost { request, reason } => {
                let Some(pending) = self.pending.remove(&request) else {
                    return Vec::new();
                };
                end_unanswered(
                    timeline,
                    pending.row,
                    pending.device.as_ref(),
                    &pending.topic,
                    RowKind::Lost,
                    &reason,
                );
                routed_end(
                    pending.purpose,
                    Outcome::Lost { reason },
                    Vec::new(),
                    None,
                    None,
                )
                .into_iter()
                .collect()
            }
            SessionEvent::Unpaired {
                topic,
                payload,
                why,
            } => vec![Routed::Unpaired {
                topic,
                payload,
                why,
            }],
            SessionEvent::Closed => {
                if self.session.take().is_none() {
                    return Vec::new();
                }
                // The session ended by itself: the last reason it gave is why.
                let reason = match self.outage.outage() {
                    Some(outage) => format!("disconnected: {}", outage.reason),
                    None => "the session ended".to_owned(),
                };
                self.link = LinkState::Failed(reason.clone());
                let mut routed = self.end_pending(&reason, timeline);
                routed.push(Routed::Closed { reason });
                routed
            }
            SessionEvent::Subscribed { filter, granted } => {
                let granted = granted.map(|_| ());
                if self.filters.contains(&filter) {
                    vec![Routed::Subscribed { filter, granted }]
                } else {
                    // A reply topic: refused, none of its replies can arrive.
                    granted
                        .err()
                        .map(|reason| Routed::Notice(Notice::error(reason.to_string())))
                        .into_iter()
                        .collect()
                }
            }
            SessionEvent::Message { topic, payload } => vec![Routed::Message { topic, payload }],
            SessionEvent::Acked | SessionEvent::PublishFailed { .. } => Vec::new(),
        }
    }
}

/// Closes a session off the UI thread: dropping it joins the session's thread.
pub fn close_in_background(session: Session) {
    let spawned = std::thread::Builder::new()
        .name("thingbench-close".into())
        .spawn(move || drop(session));
    // Without a thread, the session is dropped here, which only blocks for a moment.
    drop(spawned);
}

#[cfg(test)]
mod tests {
    use crate::control::testing::sample;
    use std::sync::Arc;
    use std::time::Instant;

    use super::*;
    use crate::runner::connect::start_embedded;
    use crate::runner::login_message;
    use crate::workspace::{IdSource, LoginState};

    /// The sample workspace, and the embedded broker with its hub.
    fn sample_on_a_broker() -> (
        WorkspaceCtl,
        crate::runner::connect::Embedded,
        ConnectionForm,
    ) {
        let workspace = WorkspaceCtl::fixed(Ok(sample()));
        let feed = workspace.feed().expect("a feed");
        let (broker, hub) = start_embedded(feed, None).expect("embedded broker and hub");
        let form = ConnectionForm {
            embedded: false,
            broker: broker.url().to_string(),
            ..ConnectionForm::default()
        };
        (workspace, Some((broker, hub)), form)
    }

    /// Applies the connection's events until `done` says so, failing after ten seconds.
    fn until(
        connection: &mut Connection,
        timeline: &mut Timeline,
        what: &str,
        mut done: impl FnMut(&Routed) -> bool,
    ) -> Routed {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            for event in connection.take_events() {
                for routed in connection.apply(event, timeline) {
                    if done(&routed) {
                        return routed;
                    }
                }
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn requests_pair_with_their_replies_and_logins_are_routed() {
        let (workspace, _embedded, form) = sample_on_a_broker();
        let ws = workspace.get().expect("workspace");
        let mut connection = Connection::new(form);
        let mut timeline = Timeline::default();
        let wake: Wake = Arc::new(|| {});
        assert!(
            connection
                .connect(&workspace, &mut timeline, &wake)
                .is_empty()
        );
        assert_eq!(*connection.link(), LinkState::Connecting);
        until(&mut connection, &mut timeline, "the connection", |r| {
            *r == Routed::Connected
        });
        assert!(connection.connected());
        // A login, answered by the hub and routed with its device.
        let registry = ws.registry(&LoginState::Only(Vec::new()));
        let inv = DeviceId::new("invPk", "inv01");
        let message = login_message(
            &ws.gateway(),
            &registry,
            &inv,
            true,
            &IdSource::from_clock(),
        );
        connection
            .request(
                Request {
                    topic: message.topic,
                    payload: message.payload,
                    msg_id: message.id,
                    purpose: Purpose::Login(inv.clone(), true),
                    device: Some(inv.clone()),
                    timeout: None,
                    platform: false,
                },
                &registry,
                &mut timeline,
            )
            .expect("sent");
        assert_eq!(connection.pending(), 1);
        let routed = until(&mut connection, &mut timeline, "the login's reply", |r| {
            matches!(r, Routed::Login { .. })
        });
        assert_eq!(
            routed,
            Routed::Login {
                device: inv.clone(),
                login: true,
                code: ReplyCode::SUCCESS,
                message: None,
            }
        );
        assert_eq!(connection.pending(), 0);
        // The request's row and the reply's, each the other's partner.
        let request = timeline
            .row(timeline.end() - 2)
            .copied()
            .expect("request row");
        let reply = timeline
            .row(timeline.end() - 1)
            .copied()
            .expect("reply row");
        assert_eq!(request.kind, RowKind::Request);
        assert_eq!(reply.kind, RowKind::Reply);
        assert_eq!(request.partner(), Some(timeline.end() - 1));
        assert_eq!(request.code(), Some(ReplyCode::SUCCESS));
    }

    #[test]
    fn a_request_cut_off_by_a_disconnect_ends_as_lost() {
        let (workspace, _embedded, form) = sample_on_a_broker();
        let ws = workspace.get().expect("workspace");
        let mut connection = Connection::new(form);
        let mut timeline = Timeline::default();
        let wake: Wake = Arc::new(|| {});
        connection.connect(&workspace, &mut timeline, &wake);
        until(&mut connection, &mut timeline, "the connection", |r| {
            *r == Routed::Connected
        });
        let registry = ws.registry(&LoginState::All);
        connection
            .request(
                Request {
                    topic: "/sys/gwPk/gw01/thing/measurepoint/post/batch".into(),
                    payload: b"{}".to_vec(),
                    msg_id: None,
                    purpose: Purpose::Draft,
                    device: None,
                    timeout: None,
                    platform: false,
                },
                &registry,
                &mut timeline,
            )
            .expect("sent");
        // Cut before the events are read: the request is still waiting.
        let routed = connection.disconnect(&mut timeline);
        assert_eq!(
            routed,
            [Routed::Draft(SendState::Lost(
                "disconnected before the reply".into()
            ))]
        );
        assert_eq!(*connection.link(), LinkState::Off);
        let last = timeline.row(timeline.end() - 1).copied().expect("a row");
        assert_eq!(last.kind, RowKind::Lost);
        let refused = connection
            .request(
                Request {
                    topic: "/x".into(),
                    payload: Vec::new(),
                    msg_id: None,
                    purpose: Purpose::Draft,
                    device: None,
                    timeout: None,
                    platform: false,
                },
                &registry,
                &mut timeline,
            )
            .expect_err("not connected");
        assert!(refused.text.contains("connect first"), "{refused:?}");
    }

    #[test]
    fn a_session_thread_that_panics_shows_as_disconnected_with_the_reason() {
        let (workspace, _embedded, form) = sample_on_a_broker();
        let ws = workspace.get().expect("workspace");
        let mut connection = Connection::new(form);
        let mut timeline = Timeline::default();
        let wake: Wake = Arc::new(|| {});
        connection.connect(&workspace, &mut timeline, &wake);
        until(&mut connection, &mut timeline, "the connection", |r| {
            *r == Routed::Connected
        });
        // A request nobody answers, waiting when the session dies.
        connection
            .request(
                Request {
                    topic: "/nobody/answers/this".into(),
                    payload: b"{}".to_vec(),
                    msg_id: None,
                    purpose: Purpose::Draft,
                    device: None,
                    timeout: None,
                    platform: false,
                },
                &ws.registry(&LoginState::All),
                &mut timeline,
            )
            .expect("sent");
        let session = connection.session.as_ref().expect("a session");
        assert!(session.send(SessionCommand::Panic));
        let routed = until(&mut connection, &mut timeline, "the draft's end", |r| {
            matches!(r, Routed::Draft(_))
        });
        let (words, error) = connection.link().words();
        assert!(error, "{words}");
        assert!(
            words.starts_with("disconnected: internal error")
                && words.contains("the session was told to panic"),
            "{words}"
        );
        assert!(
            matches!(&routed, Routed::Draft(SendState::Lost(why)) if why.contains("internal error")),
            "{routed:?}"
        );
        assert_eq!(connection.pending(), 0);
        assert!(!connection.has_session());
    }

    #[test]
    fn a_broker_without_a_hub_is_said_in_the_status_line() {
        let workspace = WorkspaceCtl::fixed(Ok(sample()));
        let ws = workspace.get().expect("workspace");
        // A broker and nobody answering on it.
        let broker = crate::broker::EmbeddedBroker::start(None).expect("embedded broker");
        let mut connection = Connection::new(ConnectionForm {
            embedded: false,
            broker: broker.url().to_string(),
            timeout_ms: 200,
            ..ConnectionForm::default()
        });
        let mut timeline = Timeline::default();
        let wake: Wake = Arc::new(|| {});
        connection.connect(&workspace, &mut timeline, &wake);
        until(&mut connection, &mut timeline, "the connection", |r| {
            *r == Routed::Connected
        });
        let registry = ws.registry(&LoginState::All);
        let topic = "/sys/gwPk/gw01/thing/measurepoint/post/batch";
        for n in 1..=crate::runner::diagnosis::NO_HUB_AFTER {
            assert_eq!(connection.hint(), None, "not before {n} requests");
            connection
                .request(
                    Request {
                        topic: topic.into(),
                        payload: b"{}".to_vec(),
                        msg_id: None,
                        purpose: Purpose::Draft,
                        device: None,
                        timeout: None,
                        platform: false,
                    },
                    &registry,
                    &mut timeline,
                )
                .expect("sent");
            until(&mut connection, &mut timeline, "no reply", |r| {
                matches!(r, Routed::Draft(SendState::NoReply(_)))
            });
        }
        let hint = connection
            .hint()
            .expect("a hint once three requests went unanswered");
        assert!(
            hint.contains(&format!("no hub seems to be answering on {}", broker.url()))
                && hint.contains("thingbench hub --broker"),
            "{hint}"
        );
    }

    #[test]
    fn a_broker_with_a_hub_gets_no_hint() {
        let (workspace, _embedded, form) = sample_on_a_broker();
        let ws = workspace.get().expect("workspace");
        let mut connection = Connection::new(ConnectionForm {
            timeout_ms: 200,
            ..form
        });
        let mut timeline = Timeline::default();
        let wake: Wake = Arc::new(|| {});
        connection.connect(&workspace, &mut timeline, &wake);
        until(&mut connection, &mut timeline, "the connection", |r| {
            *r == Routed::Connected
        });
        let registry = ws.registry(&LoginState::All);
        // One answered request, then more unanswered than the rule needs: a hub is there.
        let inv = DeviceId::new("invPk", "inv01");
        let login = login_message(
            &ws.gateway(),
            &registry,
            &inv,
            true,
            &IdSource::from_clock(),
        );
        connection
            .request(
                Request {
                    topic: login.topic,
                    payload: login.payload,
                    msg_id: login.id,
                    purpose: Purpose::Login(inv.clone(), true),
                    device: Some(inv),
                    timeout: None,
                    platform: false,
                },
                &registry,
                &mut timeline,
            )
            .expect("sent");
        until(&mut connection, &mut timeline, "the login's reply", |r| {
            matches!(r, Routed::Login { .. })
        });
        for _ in 0..=crate::runner::diagnosis::NO_HUB_AFTER {
            connection
                .request(
                    Request {
                        topic: "/sys/gwPk/gw01/thing/event/post".into(),
                        payload: b"{}".to_vec(),
                        msg_id: None,
                        purpose: Purpose::Draft,
                        device: None,
                        timeout: None,
                        platform: false,
                    },
                    &registry,
                    &mut timeline,
                )
                .expect("sent");
            until(&mut connection, &mut timeline, "no reply", |r| {
                matches!(r, Routed::Draft(SendState::NoReply(_)))
            });
        }
        assert_eq!(connection.hint(), None);
    }

    #[test]
    fn a_bad_broker_url_fails_in_words() {
        let workspace = WorkspaceCtl::fixed(Ok(sample()));
        let mut connection = Connection::new(ConnectionForm {
            embedded: false,
            broker: "http://nowhere".into(),
            ..ConnectionForm::default()
        });
        let wake: Wake = Arc::new(|| {});
        connection.connect(&workspace, &mut Timeline::default(), &wake);
        let LinkState::Failed(why) = connection.link() else {
            panic!("{:?}", connection.link());
        };
        assert!(why.starts_with("broker URL:"), "{why}");
        assert!(connection.link().words().1, "said as an error");
    }
}
