//! The session loop: connect, publish, pair replies, time out, reconnect.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rumqttc::{
    AsyncClient, ConnectReturnCode, ConnectionError, Event, EventLoop, MqttOptions, NetworkOptions,
    Outgoing, Packet, QoS, StateError, SubscribeReasonCode,
};
use tokio::sync::mpsc as tokio_mpsc;

use crate::protocol::{
    DeviceId, EpochMs, MsgId, Reply, Secret, connect_credentials, parse_reply, reply_topic,
};

use super::MAX_PACKET;
use super::broker_url::{BrokerUrl, Scheme};
use super::tls::{TlsOptions, client_config};
use super::{SubscribeError, TooLarge, TransportError};

/// How the session authenticates.
#[derive(Clone, Debug)]
pub enum Auth {
    None,
    Password {
        username: String,
        password: Secret,
    },
    /// Device-secret signing: client id, username and password computed at each connect.
    Sign {
        device: DeviceId,
        secret: Secret,
    },
}

/// Everything needed to open a session.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    pub broker: BrokerUrl,
    /// The free part of the client id (signing wraps it).
    pub client_id: String,
    pub auth: Auth,
    pub keep_alive: Duration,
    /// Used for `mqtts://`.
    pub tls: TlsOptions,
    /// A client of thingbench's platform side, which sends commands to devices: it pairs a
    /// device's reply with its command even when the reply echoes another id, or comes on the
    /// command's own topic instead of its `_reply`, so that what is wrong can be shown rather
    /// than lost as "no reply".
    pub platform: bool,
}

/// A caller's handle on one request, unique within a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// How a reply found its request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PairedBy {
    /// Reply topic and id.
    Id,
    /// The reply had no usable id (or, for a platform client, not the id of any request):
    /// the oldest pending request on its topic.
    Oldest,
    /// A platform client's command answered on the command's own topic, not its `_reply`.
    WrongTopic,
}

/// What the caller asks of the session.
#[derive(Debug)]
pub enum SessionCommand {
    /// Publish a request and wait for its reply on the `_reply` topic.
    Request {
        request: RequestId,
        topic: String,
        payload: Vec<u8>,
        /// The id the reply must echo, if the payload has one.
        msg_id: Option<MsgId>,
        timeout: Duration,
    },
    /// Subscribe to a filter, now and after every reconnect; its messages come as
    /// [`SessionEvent::Message`] (a reply to one of the session's requests as well as
    /// [`SessionEvent::Replied`]), but for the session's own publishes, which a broker sends
    /// back; the broker's answer comes as [`SessionEvent::Subscribed`].
    Subscribe(String),
    /// Stop the subscription made with [`SessionCommand::Subscribe`].
    Unsubscribe(String),
    /// Publish without waiting for a reply (QoS 1); the broker's PUBACK comes as
    /// [`SessionEvent::Acked`].
    Publish { topic: String, payload: Vec<u8> },
    /// Close the session and end the thread.
    Disconnect,
    /// Make the session thread panic: how tests see what a person is told when it dies.
    #[cfg(test)]
    Panic,
}

/// What the session tells the caller.
#[derive(Clone, Debug)]
pub enum SessionEvent {
    Connected,
    /// The connection ended; the session retries with backoff unless told to disconnect.
    Disconnected {
        reason: String,
    },
    Replied {
        request: RequestId,
        reply: Reply,
        payload: Vec<u8>,
        /// The topic the reply came on.
        topic: String,
        rtt: Duration,
        paired_by: PairedBy,
    },
    NoReply {
        request: RequestId,
        after: Duration,
    },
    Lost {
        request: RequestId,
        reason: String,
    },
    /// A message on a reply topic that pairs with no pending request.
    Unpaired {
        topic: String,
        payload: Vec<u8>,
        why: String,
    },
    /// A message on a filter subscribed with [`SessionCommand::Subscribe`].
    Message {
        topic: String,
        payload: Vec<u8>,
    },
    /// The broker answered a subscription (its SUBACK), or the subscription could not be sent:
    /// the QoS granted, or why not. Reply topics are subscribed too; a refused one means its
    /// replies cannot arrive.
    Subscribed {
        filter: String,
        granted: Result<QoS, SubscribeError>,
    },
    /// The broker acknowledged a QoS 1 publish.
    Acked,
    /// A [`SessionCommand::Publish`] could not go out.
    PublishFailed {
        reason: String,
    },
    /// The session thread ended.
    Closed,
}

struct Pending {
    /// The topic the request went out on.
    topic: String,
    reply_topic: String,
    msg_id: Option<MsgId>,
    sent: Instant,
    deadline: Instant,
    timeout: Duration,
}

/// A running session: commands in, events out.
pub struct Session {
    commands: tokio_mpsc::UnboundedSender<SessionCommand>,
    pub events: mpsc::Receiver<SessionEvent>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Session {
    /// Starts the session thread; it connects at once and reconnects by itself.
    ///
    /// `wake` is called after every event (the window requests a repaint with it).
    pub fn start(
        config: SessionConfig,
        wake: Box<dyn Fn() + Send>,
    ) -> Result<Self, TransportError> {
        let (cmd_tx, cmd_rx) = tokio_mpsc::unbounded_channel();
        let (event_tx, event_rx) = mpsc::channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(TransportError::Runtime)?;
        let thread = std::thread::Builder::new()
            .name("thingbench-session".into())
            .spawn(move || {
                let events = EventSink { tx: event_tx, wake };
                let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    runtime.block_on(run(config, cmd_rx, &events));
                }));
                if let Err(panic) = ran {
                    // Said before `Closed`, so that whoever shows the session says why it ended.
                    let reason = format!("internal error: {}", super::panic_words(panic.as_ref()));
                    events.send(SessionEvent::Disconnected { reason });
                }
                events.send(SessionEvent::Closed);
            })
            .map_err(TransportError::Thread)?;
        Ok(Self {
            commands: cmd_tx,
            events: event_rx,
            thread: Some(thread),
        })
    }

    /// Sends a command; false when the session has ended.
    pub fn send(&self, command: SessionCommand) -> bool {
        self.commands.send(command).is_ok()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.commands.send(SessionCommand::Disconnect);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct EventSink {
    tx: mpsc::Sender<SessionEvent>,
    wake: Box<dyn Fn() + Send>,
}

impl EventSink {
    fn send(&self, event: SessionEvent) {
        let _ = self.tx.send(event);
        (self.wake)();
    }
}

/// The rumqttc client a session as `config` says connects with: its identity, signed when it
/// signs, and [`client_event_loop`]'s settings.
pub fn new_event_loop(config: &SessionConfig) -> Result<(AsyncClient, EventLoop), TransportError> {
    let (client_id, credentials) = match &config.auth {
        Auth::None => (config.client_id.clone(), None),
        Auth::Password { username, password } => (
            config.client_id.clone(),
            Some((username.clone(), password.expose().to_owned())),
        ),
        Auth::Sign { device, secret } => {
            let creds =
                connect_credentials(&config.client_id, device, secret.expose(), EpochMs::now());
            (creds.client_id, Some((creds.username, creds.password)))
        }
    };
    client_event_loop(
        client_id,
        &config.broker,
        config.keep_alive,
        credentials,
        &config.tls,
    )
}

/// A rumqttc client as thingbench wants every one: large packets, TCP_NODELAY, TLS for
/// `mqtts://`, clean session.
pub fn client_event_loop(
    client_id: String,
    broker: &BrokerUrl,
    keep_alive: Duration,
    credentials: Option<(String, String)>,
    tls: &TlsOptions,
) -> Result<(AsyncClient, EventLoop), TransportError> {
    let mut opts = MqttOptions::new(client_id, broker.host.clone(), broker.port);
    opts.set_keep_alive(keep_alive.max(Duration::from_secs(1)))
        .set_clean_session(true)
        .set_max_packet_size(MAX_PACKET, MAX_PACKET)
        .set_inflight(1000);
    if let Some((user, pass)) = credentials {
        opts.set_credentials(user, pass);
    }
    if broker.scheme == Scheme::Mqtts {
        let tls = client_config(tls)?;
        opts.set_transport(rumqttc::Transport::tls_with_config(
            rumqttc::TlsConfiguration::Rustls(std::sync::Arc::new(tls)),
        ));
    }
    let (client, mut eventloop) = AsyncClient::new(opts, 8192);
    let mut net = NetworkOptions::new();
    net.set_tcp_nodelay(true);
    net.set_connection_timeout(5);
    eventloop.set_network_options(net);
    Ok((client, eventloop))
}

/// Refuses a publish that rumqttc would answer by dropping the whole connection.
fn check_size(topic: &str, payload: &[u8]) -> Result<(), TooLarge> {
    // Fixed header, topic length prefix and packet id.
    let size = payload.len() + topic.len() + 16;
    if size > MAX_PACKET {
        Err(TooLarge { size })
    } else {
        Ok(())
    }
}

/// A connection error in words a person can act on: what happened, and where to look.
pub fn connection_error_words(broker: &BrokerUrl, err: &ConnectionError) -> String {
    match err {
        ConnectionError::ConnectionRefused(code) => refusal_words(broker, *code),
        ConnectionError::Io(e) => connect_io_words(broker, e),
        ConnectionError::NetworkTimeout => {
            format!(
                "timed out connecting to {broker}: the host is unreachable or not an MQTT broker"
            )
        }
        ConnectionError::FlushTimeout => format!(
            "{broker} did not take what was sent in time: the broker or the network is stalled"
        ),
        ConnectionError::Tls(e) => tls_words(broker, e),
        ConnectionError::MqttState(e) => state_words(broker, e),
        ConnectionError::NotConnAck(packet) => format!(
            "{broker} answered the login with something other than CONNACK ({packet:?}): is it an MQTT broker?"
        ),
        ConnectionError::RequestsDone => "the session was closed".to_owned(),
    }
}

/// The broker answered the CONNECT with a refusal.
fn refusal_words(broker: &BrokerUrl, code: ConnectReturnCode) -> String {
    match code {
        ConnectReturnCode::BadUserNamePassword => format!(
            "{broker} refused the login: bad username or password (check the credentials or secret)"
        ),
        ConnectReturnCode::NotAuthorized => {
            format!("{broker} refused the login: not authorized (check the credentials or secret)")
        }
        ConnectReturnCode::BadClientId => format!(
            "{broker} refused the client id (try another, or check the broker's client id rules)"
        ),
        ConnectReturnCode::RefusedProtocolVersion => format!(
            "{broker} refused MQTT 3.1.1, the version thingbench speaks (does the broker allow it?)"
        ),
        ConnectReturnCode::ServiceUnavailable => {
            format!("{broker} refused the connection: the service is unavailable; try again later")
        }
        ConnectReturnCode::Success => format!("{broker} accepted the connection, then failed it"),
    }
}

/// Opening the TCP connection failed (or the name did not resolve).
fn connect_io_words(broker: &BrokerUrl, e: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::ConnectionRefused => {
            format!("connection refused by {broker}: is a broker running there?")
        }
        ErrorKind::HostUnreachable | ErrorKind::NetworkUnreachable => {
            format!("{broker} is unreachable from here: check the host and the network")
        }
        ErrorKind::TimedOut => format!(
            "timed out connecting to {broker}: the host is unreachable or a firewall drops the connection"
        ),
        ErrorKind::AddrNotAvailable => {
            format!("cannot connect to {broker}: the address is not available from this machine")
        }
        ErrorKind::PermissionDenied => {
            format!("not allowed to connect to {broker} (a firewall or a security policy?)")
        }
        ErrorKind::ConnectionReset
        | ErrorKind::ConnectionAborted
        | ErrorKind::BrokenPipe
        | ErrorKind::UnexpectedEof => broken_words(broker, e),
        // Name resolution fails without a kind of its own.
        _ if e.to_string().contains("lookup address") => format!(
            "cannot find the host {:?} of {broker}: check the broker's name",
            broker.host
        ),
        _ => format!("cannot reach {broker}: {e} (check the host and the network)"),
    }
}

/// An open connection broke.
fn broken_words(broker: &BrokerUrl, e: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted => format!(
            "{broker} reset the connection (the broker stopped or restarted, or it dropped this client)"
        ),
        ErrorKind::BrokenPipe => format!(
            "the connection to {broker} was cut while sending (the broker stopped or closed it)"
        ),
        ErrorKind::UnexpectedEof => format!(
            "{broker} closed the connection (the broker stopped, or it dropped this client)"
        ),
        ErrorKind::TimedOut => {
            format!("the connection to {broker} timed out: the broker or the network is down")
        }
        _ => format!("the connection to {broker} broke: {e}"),
    }
}

/// The MQTT exchange on an open connection failed.
fn state_words(broker: &BrokerUrl, e: &StateError) -> String {
    use rumqttc::mqttbytes::Error as Bytes;
    match e {
        StateError::Io(e) | StateError::Deserialization(Bytes::Io(e)) => broken_words(broker, e),
        StateError::ConnectionAborted => format!(
            "{broker} closed the connection (the broker stopped, or it refused this client: check the credentials and client id)"
        ),
        StateError::AwaitPingResp => format!(
            "{broker} stopped answering (no answer to the keep-alive ping): the broker or the network is down"
        ),
        StateError::Deserialization(Bytes::PayloadSizeLimitExceeded(size)) => format!(
            "{broker} sent a packet of {size} bytes, over thingbench's limit of {MAX_PACKET} bytes"
        ),
        StateError::Deserialization(Bytes::OutgoingPacketTooLarge { pkt_size, max }) => format!(
            "a packet of {pkt_size} bytes is over {broker}'s limit of {max} bytes: send a smaller one"
        ),
        StateError::Deserialization(other) => format!(
            "{broker} sent something that is not MQTT ({other}): is it an MQTT broker, and does the scheme fit the port (mqtt:// or mqtts://)?"
        ),
        other => format!("{broker} broke the MQTT exchange ({other}); reconnecting"),
    }
}

/// The TLS handshake failed.
fn tls_words(broker: &BrokerUrl, e: &rumqttc::TlsError) -> String {
    use rumqttc::TlsError;
    match e {
        TlsError::TLS(rustls::Error::InvalidCertificate(why)) => format!(
            "TLS with {broker} failed: its certificate is not trusted ({why:?}); give the CA that signed it (--ca, or the CA file of the connection form)"
        ),
        TlsError::TLS(rustls::Error::InvalidMessage(_)) => format!(
            "TLS with {broker} failed: the broker did not answer in TLS; is the port a plain MQTT one (then use mqtt://)?"
        ),
        TlsError::Io(e) => format!(
            "TLS with {broker} broke off: {} (is the port a TLS one?)",
            broken_words(broker, e)
        ),
        other => format!("TLS with {broker} failed: {other} (is the certificate trusted?)"),
    }
}

#[cfg(test)]
#[path = "session_words_tests.rs"]
mod words_tests;

async fn run(
    config: SessionConfig,
    mut commands: tokio_mpsc::UnboundedReceiver<SessionCommand>,
    events: &EventSink,
) {
    let (mut client, eventloop) = match new_event_loop(&config) {
        Ok(pair) => pair,
        Err(e) => {
            events.send(SessionEvent::Disconnected {
                reason: e.to_string(),
            });
            return;
        }
    };
    let mut connected = false;
    let mut pending: HashMap<RequestId, Pending> = HashMap::new();
    let mut by_id: HashMap<(String, MsgId), RequestId> = HashMap::new();
    // Replies paired lately: the same reply again (a broker delivers one per matching
    // subscription while a caller's filter and a reply topic's own overlap) is no news.
    let mut recent = Recent::default();
    let mut reply_topics: HashSet<String> = HashSet::new();
    // The command topics a platform client listens on for replies on the wrong topic.
    let mut command_topics: HashSet<String> = HashSet::new();
    let mut filters: Vec<String> = Vec::new();
    // Its own publishes on topics the caller's filters cover: the broker sends them back, and
    // the caller (watch mode) is told of others' messages, not of its own sends again.
    let mut own = super::OwnPublishes::default();
    // What each publish handed to rumqttc is, in order, until rumqttc numbers it.
    let mut queued: VecDeque<Queued> = VecDeque::new();
    let mut plain_pkids: HashSet<u16> = HashSet::new();
    // The filter of each subscription handed to rumqttc, in order, until rumqttc numbers it;
    // then by packet id until the broker's SUBACK.
    let mut subscribing: VecDeque<String> = VecDeque::new();
    let mut sub_pkids: HashMap<u16, String> = HashMap::new();
    let mut backoff = super::Backoff::default();
    let mut retry_at: Option<Instant> = None;
    let mut tick = tokio::time::interval(Duration::from_millis(5));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    // The poll in progress lives across loop turns: rumqttc's `poll` is not cancel-safe, and a
    // poll dropped halfway through writing a large publish leaves the rest unsent until the
    // next write. `idle` holds the event loop while a reconnect waits out its backoff.
    let mut polling = Some(poll_owned(eventloop));
    let mut idle: Option<EventLoop> = None;

    loop {
        tokio::select! {
            command = commands.recv() => match command {
                None | Some(SessionCommand::Disconnect) => {
                    let _ = client.try_disconnect();
                    for (request, _) in pending.drain() {
                        events.send(SessionEvent::Lost { request, reason: "the session was closed".into() });
                    }
                    return;
                }
                #[cfg(test)]
                Some(SessionCommand::Panic) => panic!("the session was told to panic"),
                Some(SessionCommand::Subscribe(filter)) => {
                    if filters.contains(&filter) {
                        continue;
                    }
                    if !rumqttc::valid_filter(&filter) {
                        let granted = Err(SubscribeError::InvalidFilter(filter.clone()));
                        events.send(SessionEvent::Subscribed { filter, granted });
                        continue;
                    }
                    if connected && let Err(reason) = subscribe(&client, &filter, &mut subscribing) {
                        events.send(SessionEvent::Subscribed { filter: filter.clone(), granted: Err(reason) });
                    }
                    filters.push(filter);
                    // A reply topic the filter covers now comes through it: its own subscription
                    // would make a broker deliver each reply twice. The broker takes the new
                    // subscription before the unsubscription, so no reply falls between.
                    if connected {
                        for reply in reply_topics.iter().filter(|t| covered(&filters, t)) {
                            if client.try_unsubscribe(reply.clone()).is_ok() {
                                recent.overlaps += 1;
                            }
                        }
                    }
                }
                Some(SessionCommand::Unsubscribe(filter)) => {
                    let Some(at) = filters.iter().position(|f| *f == filter) else {
                        continue;
                    };
                    filters.remove(at);
                    if connected {
                        // The reply topics it covered get their own subscriptions back first.
                        for reply in reply_topics.iter().filter(|t| !covered(&filters, t) && rumqttc::matches(t, &filter)) {
                            if let Err(reason) = subscribe(&client, reply, &mut subscribing) {
                                events.send(SessionEvent::Subscribed { filter: reply.clone(), granted: Err(reason) });
                            }
                        }
                        if client.try_unsubscribe(filter).is_ok() {
                            recent.overlaps += 1;
                        }
                    }
                }
                Some(SessionCommand::Publish { topic, payload }) => {
                    let result = if connected {
                        check_size(&topic, &payload).map_err(|e| e.to_string()).and_then(|()| {
                            if covered(&filters, &topic) {
                                own.note(&topic, &payload);
                            }
                            client
                                .try_publish(topic, QoS::AtLeastOnce, false, payload)
                                .map_err(|e| format!("not sent: {e}"))
                        })
                    } else {
                        Err("not sent: not connected to the broker".to_owned())
                    };
                    match result {
                        Ok(()) => queued.push_back(Queued::Publish),
                        Err(reason) => events.send(SessionEvent::PublishFailed { reason }),
                    }
                }
                Some(SessionCommand::Request { request, topic, payload, msg_id, timeout }) => {
                    if !connected {
                        events.send(SessionEvent::Lost { request, reason: "not connected to the broker".into() });
                        continue;
                    }
                    if let Err(e) = check_size(&topic, &payload) {
                        events.send(SessionEvent::Lost { request, reason: e.to_string() });
                        continue;
                    }
                    let reply = reply_topic(&topic);
                    if !reply_topics.contains(&reply) {
                        // Subscribed before the first publish on this topic; the broker keeps the
                        // order. A filter of the caller's that covers it brings its replies already.
                        if !covered(&filters, &reply) && let Err(e) = subscribe(&client, &reply, &mut subscribing) {
                            events.send(SessionEvent::Lost { request, reason: e.to_string() });
                            continue;
                        }
                        reply_topics.insert(reply.clone());
                    }
                    // A platform client also hears a command's own topic, where a device may
                    // answer by mistake (its own command comes back there too, and is dropped).
                    if config.platform && !command_topics.contains(&topic) {
                        if let Err(e) = subscribe(&client, &topic, &mut subscribing) {
                            events.send(SessionEvent::Lost { request, reason: e.to_string() });
                            continue;
                        }
                        command_topics.insert(topic.clone());
                    }
                    let request_topic = topic.clone();
                    if covered(&filters, &topic) {
                        own.note(&topic, &payload);
                    }
                    if let Err(e) = client.try_publish(topic, QoS::AtLeastOnce, false, payload) {
                        events.send(SessionEvent::Lost { request, reason: format!("could not queue the publish: {e}") });
                        continue;
                    }
                    queued.push_back(Queued::Request);
                    let now = Instant::now();
                    if let Some(id) = &msg_id {
                        by_id.insert((reply.clone(), id.clone()), request);
                    }
                    pending.insert(request, Pending { topic: request_topic, reply_topic: reply, msg_id, sent: now, deadline: now + timeout, timeout });
                }
            },
            (eventloop, polled) = async {
                match polling.as_mut() {
                    Some(poll) => poll.await,
                    None => std::future::pending().await,
                }
            } => {
                polling = None;
                match polled {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        connected = true;
                        backoff.reset();
                        let own = reply_topics.iter().filter(|t| !covered(&filters, t));
                        for filter in own.chain(filters.iter()).chain(command_topics.iter()) {
                            if let Err(reason) = subscribe(&client, filter, &mut subscribing) {
                                events.send(SessionEvent::Subscribed { filter: filter.clone(), granted: Err(reason) });
                            }
                        }
                        events.send(SessionEvent::Connected);
                    }
                    Ok(Event::Incoming(Packet::Publish(publish))) => {
                        let topic = publish.topic.clone();
                        let payload = publish.payload.to_vec();
                        if reply_topics.contains(&topic) {
                            // Watched, a reply to another client's request is the caller's
                            // message, not a reply of the session's gone astray.
                            let watched = covered(&filters, &topic);
                            if watched {
                                events.send(SessionEvent::Message { topic: topic.clone(), payload: payload.clone() });
                            }
                            let unpaired = pair_reply(topic, payload, config.platform, &mut pending, &mut by_id, &mut recent, events);
                            if let Some(unpaired) = unpaired.filter(|_| !watched) {
                                events.send(unpaired);
                            }
                        } else if command_topics.contains(&topic) {
                            pair_on_command_topic(topic, payload, &mut pending, &mut by_id, events);
                        } else if !own.is_echo(&topic, &payload) {
                            events.send(SessionEvent::Message { topic, payload });
                        }
                    }
                    // Only a plain publish's PUBACK is news: a request waits for its reply instead,
                    // and nobody is woken for its PUBACK.
                    Ok(Event::Outgoing(Outgoing::Publish(pkid))) => {
                        if queued.pop_front() == Some(Queued::Publish) {
                            plain_pkids.insert(pkid);
                        }
                    }
                    Ok(Event::Incoming(Packet::UnsubAck(_))) => {
                        recent.overlaps = recent.overlaps.saturating_sub(1);
                    }
                    Ok(Event::Outgoing(Outgoing::Subscribe(pkid))) => {
                        if let Some(filter) = subscribing.pop_front() {
                            sub_pkids.insert(pkid, filter);
                        }
                    }
                    Ok(Event::Incoming(Packet::SubAck(ack))) => {
                        if let Some(filter) = sub_pkids.remove(&ack.pkid) {
                            let granted = match ack.return_codes.first() {
                                Some(SubscribeReasonCode::Success(qos)) => Ok(*qos),
                                Some(SubscribeReasonCode::Failure) => Err(SubscribeError::Refused(filter.clone())),
                                None => Err(SubscribeError::NoCode(filter.clone())),
                            };
                            if granted.is_err() && let Some(at) = filters.iter().position(|f| *f == filter) {
                                // The reply topics it was to cover need their own again.
                                filters.remove(at);
                                for reply in reply_topics.iter().filter(|t| !covered(&filters, t) && rumqttc::matches(t, &filter)) {
                                    let _ = subscribe(&client, reply, &mut subscribing);
                                }
                            }
                            events.send(SessionEvent::Subscribed { filter, granted });
                        }
                    }
                    Ok(Event::Incoming(Packet::PubAck(ack))) => {
                        if plain_pkids.remove(&ack.pkid) {
                            events.send(SessionEvent::Acked);
                        }
                    }
                    Ok(_) => {}
                    Err(err) => {
                        let reason = connection_error_words(&config.broker, &err);
                        connected = false;
                        queued.clear();
                        plain_pkids.clear();
                        recent.overlaps = 0;
                        subscribing.clear();
                        sub_pkids.clear();
                        events.send(SessionEvent::Disconnected { reason: reason.clone() });
                        by_id.clear();
                        for (request, _) in pending.drain() {
                            events.send(SessionEvent::Lost { request, reason: reason.clone() });
                        }
                        if matches!(err, ConnectionError::RequestsDone) {
                            return;
                        }
                        retry_at = Some(Instant::now() + backoff.next_wait());
                    }
                }
                if retry_at.is_some() {
                    idle = Some(eventloop);
                } else {
                    polling = Some(poll_owned(eventloop));
                }
            },
            _ = tick.tick() => {
                let now = Instant::now();
                if retry_at.is_some_and(|at| now >= at) {
                    retry_at = None;
                    let mut eventloop = idle.take();
                    // A fresh event loop signs anew (the timestamp is part of the credentials).
                    if matches!(config.auth, Auth::Sign { .. }) {
                        match new_event_loop(&config) {
                            Ok((c, e)) => {
                                client = c;
                                eventloop = Some(e);
                            }
                            Err(e) => events.send(SessionEvent::Disconnected {
                                reason: format!("cannot sign the reconnect anew ({e}); retrying with the previous credentials"),
                            }),
                        }
                    }
                    polling = eventloop.map(poll_owned);
                }
                if !pending.is_empty() {
                    let expired: Vec<RequestId> = pending.iter().filter(|(_, p)| p.deadline <= now).map(|(r, _)| *r).collect();
                    for request in expired {
                        if let Some(p) = pending.remove(&request) {
                            if let Some(id) = p.msg_id {
                                by_id.remove(&(p.reply_topic, id));
                            }
                            events.send(SessionEvent::NoReply { request, after: p.timeout });
                        }
                    }
                }
            }
        }
    }
}

/// True when one of the caller's `filters` covers `topic`.
fn covered(filters: &[String], topic: &str) -> bool {
    filters.iter().any(|filter| rumqttc::matches(topic, filter))
}

/// Hands a subscription to rumqttc, or says why it cannot.
fn subscribe(
    client: &AsyncClient,
    filter: &str,
    subscribing: &mut VecDeque<String>,
) -> Result<(), SubscribeError> {
    match client.try_subscribe(filter, QoS::AtLeastOnce) {
        Ok(()) => {
            subscribing.push_back(filter.to_owned());
            Ok(())
        }
        Err(e) => {
            if rumqttc::valid_filter(filter) {
                Err(SubscribeError::NotSent {
                    filter: filter.to_owned(),
                    why: e.to_string(),
                })
            } else {
                Err(SubscribeError::InvalidFilter(filter.to_owned()))
            }
        }
    }
}

/// What a publish handed to rumqttc was for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Queued {
    Request,
    Publish,
}

/// A poll of `eventloop` that owns it, so that it can be kept across `select!` turns and give
/// the event loop back when it ends.
fn poll_owned(mut eventloop: EventLoop) -> Polling {
    Box::pin(async move {
        let polled = eventloop.poll().await;
        (eventloop, polled)
    })
}

type Polling = std::pin::Pin<
    Box<dyn std::future::Future<Output = (EventLoop, Result<Event, ConnectionError>)> + Send>,
>;

/// A publish on a command topic a platform client sent on: a device's reply there (one with a
/// code) pairs with its command by id, else with the oldest on the topic; anything else (the
/// command itself, heard back) is dropped.
fn pair_on_command_topic(
    topic: String,
    payload: Vec<u8>,
    pending: &mut HashMap<RequestId, Pending>,
    by_id: &mut HashMap<(String, MsgId), RequestId>,
    events: &EventSink,
) {
    let Ok(reply) = parse_reply(&payload) else {
        return;
    };
    let on_topic = || pending.iter().filter(|(_, p)| p.topic == topic);
    let request = reply
        .id
        .as_ref()
        .and_then(|id| {
            on_topic()
                .find(|(_, p)| p.msg_id.as_ref() == Some(id))
                .map(|(r, _)| *r)
        })
        .or_else(|| on_topic().min_by_key(|(_, p)| p.sent).map(|(r, _)| *r));
    let Some(p) = request.and_then(|r| pending.remove(&r).map(|p| (r, p))) else {
        return;
    };
    let (request, p) = p;
    if let Some(id) = p.msg_id {
        by_id.remove(&(p.reply_topic, id));
    }
    events.send(SessionEvent::Replied {
        request,
        reply,
        payload,
        topic,
        rtt: p.sent.elapsed(),
        paired_by: PairedBy::WrongTopic,
    });
}

/// The replies paired lately, by topic and id, to know one when it comes again while two of
/// the session's subscriptions overlap (from a SUBSCRIBE that covers a reply topic to the
/// UNSUBACK of the one it replaces, a broker delivers such a reply once per subscription). A
/// reply sent twice at other times is shown as unpaired.
#[derive(Default)]
struct Recent {
    paired: VecDeque<(String, MsgId)>,
    /// Unsubscriptions sent that leave an overlap until their UNSUBACK.
    overlaps: usize,
}

impl Recent {
    /// How many paired replies are remembered.
    const KEPT: usize = 256;

    fn paired(&mut self, topic: &str, id: &MsgId) {
        if self.paired.len() == Self::KEPT {
            self.paired.pop_front();
        }
        self.paired.push_back((topic.to_owned(), id.clone()));
    }

    fn seen(&self, topic: &str, id: &MsgId) -> bool {
        self.paired.iter().any(|(t, i)| t == topic && i == id)
    }
}

/// Pairs a reply on one of the session's reply topics with its pending request, and says so;
/// a reply that pairs with none comes back as [`SessionEvent::Unpaired`], for the caller to
/// tell unless it watches that topic.
#[allow(clippy::too_many_arguments)]
fn pair_reply(
    topic: String,
    payload: Vec<u8>,
    platform: bool,
    pending: &mut HashMap<RequestId, Pending>,
    by_id: &mut HashMap<(String, MsgId), RequestId>,
    recent: &mut Recent,
    events: &EventSink,
) -> Option<SessionEvent> {
    let reply = match parse_reply(&payload) {
        Ok(reply) => reply,
        Err(e) => {
            return Some(SessionEvent::Unpaired {
                topic,
                payload,
                why: e.to_string(),
            });
        }
    };
    let oldest_on = |pending: &HashMap<RequestId, Pending>, topic: &str| {
        pending
            .iter()
            .filter(|(_, p)| p.reply_topic == topic)
            .min_by_key(|(_, p)| p.sent)
            .map(|(r, _)| *r)
    };
    if let Some(id) = &reply.id
        && recent.overlaps > 0
        && !by_id.contains_key(&(topic.clone(), id.clone()))
        && recent.seen(&topic, id)
    {
        return None;
    }
    let (request, paired_by) = match &reply.id {
        Some(id) => match by_id.remove(&(topic.clone(), id.clone())) {
            Some(request) => (request, PairedBy::Id),
            // A device that echoes another id: a platform client shows it as such.
            None => match oldest_on(pending, &topic).filter(|_| platform) {
                Some(request) => (request, PairedBy::Oldest),
                None => {
                    let why = format!("id {id} matches no pending request on this topic");
                    return Some(SessionEvent::Unpaired {
                        topic,
                        payload,
                        why,
                    });
                }
            },
        },
        None => match oldest_on(pending, &topic) {
            Some(request) => (request, PairedBy::Oldest),
            None => {
                let why = "reply has no id and no request is pending on this topic".to_owned();
                return Some(SessionEvent::Unpaired {
                    topic,
                    payload,
                    why,
                });
            }
        },
    };
    let p = pending.remove(&request)?;
    if let Some(id) = &reply.id {
        recent.paired(&topic, id);
    }
    if let Some(id) = p.msg_id {
        by_id.remove(&(p.reply_topic, id));
    }
    events.send(SessionEvent::Replied {
        request,
        reply,
        payload,
        topic,
        rtt: p.sent.elapsed(),
        paired_by,
    });
    None
}
