//! A qualification run: the fault-injecting TCP proxy the device connects through, the plan's
//! clock, the hub's orders for the device under test, and the [`Record`] the checks judge.

use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, watch};

use crate::broker::Departures;
use crate::broker::deliver::Flow;
use crate::broker::door::{Conditions, Door, DoorLimits, DoorNews, Gate, Greeting};
use crate::broker::mqtt_frame::{Connect, Refusal, connack_refusing};
use crate::broker::tls::{CertFault, DoorTls, HandshakeFailure, TlsSession};
use crate::hub::{Decision, HubPolicy};
use crate::model::{Registry, SessionEffect};
use crate::protocol::{
    DeviceId, EpochMs, ReplyCode, Secret, SignError, device_of_username, parse_topic,
    verify_connect,
};

use super::desk::{Desk, SentCommand};
use super::error::{QualifyError, Unsigned};
use super::judge::{Record, Seen, SeenRequest};
use super::judge_link::{SeenLink, SeenTls};
use super::plan::{Answer, Network, Plan};

/// Publishes a command (`topic`, `payload`) to the device as the platform does: from a client
/// of thingbench's own, never the device's identity.
pub type Courier = Box<dyn Fn(&str, &[u8]) + Send + Sync>;

/// What a running qualification reports as it goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QualifyEvent {
    /// The plan clock started: the device's first CONNECT was accepted.
    Started,
    /// Phase `index` began.
    Phase { index: usize },
    /// The device connected (connection `conn`).
    Connected { conn: u64 },
    /// A CONNECT of the device was refused: its signature is wrong.
    Refused { conn: u64, why: String },
    /// The device's connection `conn` ended; `departed` when it was the device's last open
    /// one (the hub then logs its sub-devices out).
    Disconnected { conn: u64, departed: bool },
    /// A connection attempt while the network was down, closed at once.
    Attempt,
    /// Command `index` of phase `phase` went out (`sent`), or fell due while its target was
    /// offline and is held until it is back.
    Command {
        phase: usize,
        index: usize,
        sent: bool,
    },
    /// The last phase ended; the device's connections are closed and the record is final.
    Finished,
    /// News of the proxy itself (it cannot accept connections, or reach the broker).
    Door { words: String },
    /// A TLS handshake that failed, or that completed with a bad certificate shown.
    Tls {
        shown: Option<CertFault>,
        failure: Option<HandshakeFailure>,
    },
}

/// What the proxy and the clock share with the hub.
struct State {
    plan: Plan,
    /// The device's secret, to check its CONNECT signatures.
    secret: Secret,
    start: Option<Instant>,
    record: Record,
    /// Requests the proxy recorded that the hub has not answered yet, by a hash of topic and
    /// payload: their index in the record and the answer of their phase.
    unanswered: HashMap<u64, VecDeque<(usize, Answer)>>,
    next_conn: u64,
    requests: usize,
    finished: bool,
    /// Who the platform can send commands to now.
    desk: Desk,
    /// Where in the record each TLS session is, by its number.
    tls_sessions: HashMap<u64, usize>,
    /// Where in the record each accepted connection's link is, by connection.
    links: HashMap<u64, usize>,
    /// The keep-alive each CONNECT named, until the broker accepts it.
    keep_alive: HashMap<u64, u16>,
}

/// A qualification's shared state: the hub's [`HubPolicy`] and the proxy's record.
pub struct Steering {
    state: Mutex<State>,
    /// The device's open connections through the proxy: whether an end is a departure.
    departures: Arc<Departures>,
    events: std::sync::mpsc::Sender<QualifyEvent>,
    /// What the proxy applies to the device's connections now.
    now: watch::Sender<Conditions>,
    started: Notify,
    wake: Box<dyn Fn() + Send + Sync>,
    /// Sends the plan's commands; `None` when the plan has none.
    courier: Option<Courier>,
    /// Tells the clock that who is online changed: a held command may soon go out.
    poke: Notify,
}

fn key(topic: &str, payload: &[u8]) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    topic.hash(&mut hasher);
    payload.hash(&mut hasher);
    hasher.finish()
}

impl Steering {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves the record as it was: keep using it.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn tell(&self, event: QualifyEvent) {
        let _ = self.events.send(event);
        (self.wake)();
    }

    fn at_ms(state: &State) -> u64 {
        state.start.map_or(0, |s| {
            u64::try_from(s.elapsed().as_millis()).unwrap_or(u64::MAX)
        })
    }

    /// Whether `connect` is the device's own: its username names the plan's device.
    fn is_device(&self, connect: &Connect) -> bool {
        let device = connect.username.as_deref().and_then(device_of_username);
        device.is_some_and(|device| device == self.state().plan.device)
    }

    /// Checks a CONNECT's signature with the device's secret (protocol.md, "Login and
    /// signing"): the same check as the embedded broker's door.
    fn verify(&self, connect: &Connect) -> Result<(), SignError> {
        let state = self.state();
        verify_connect(
            &connect.client_id,
            connect.password.as_deref(),
            &state.plan.device,
            state.secret.expose(),
        )
    }

    fn new_conn(&self) -> u64 {
        let mut state = self.state();
        state.next_conn += 1;
        state.next_conn
    }

    fn refused(&self, conn: u64, why: Unsigned) {
        {
            let mut state = self.state();
            if state.finished {
                return;
            }
            let at_ms = Self::at_ms(&state);
            state.record.seen.push(Seen::Connect {
                at_ms,
                conn,
                signed: Err(why.clone()),
            });
        }
        let why = why.to_string();
        self.tell(QualifyEvent::Refused { conn, why });
    }

    /// The broker accepted the device's connection `conn` (CONNACK 0); the first starts the
    /// plan clock.
    fn connected(&self, conn: u64) {
        let first = {
            let mut state = self.state();
            if state.finished {
                return;
            }
            let first = state.start.is_none();
            if first {
                state.start = Some(Instant::now());
                state.record.start_epoch_ms = EpochMs::now().0;
                if let Some(phase) = state.plan.phases.first() {
                    self.now.send_replace(conditions_of(phase));
                    let down = phase.network == Network::Down;
                    state.desk.network(down);
                }
            }
            let at_ms = Self::at_ms(&state);
            state.record.seen.push(Seen::Connect {
                at_ms,
                conn,
                signed: Ok(()),
            });
            state.desk.connected(at_ms);
            let keep_alive_s = state.keep_alive.remove(&conn).unwrap_or_default();
            let index = state.record.seen.len();
            state.record.seen.push(Seen::Link(SeenLink {
                conn,
                keep_alive_s,
                connected_ms: at_ms,
                ended_ms: None,
                silence: None,
            }));
            state.links.insert(conn, index);
            first
        };
        if first {
            self.started.notify_one();
            self.tell(QualifyEvent::Started);
        }
        self.tell(QualifyEvent::Connected { conn });
        self.poke.notify_one();
    }

    fn ended(&self, conn: u64) {
        let departed = {
            let mut state = self.state();
            // Counted even after the plan: the hub follows the device's connections to the end.
            let departed = self.departures.ended(&state.plan.device);
            if state.finished {
                return;
            }
            let at_ms = Self::at_ms(&state);
            state.keep_alive.remove(&conn);
            if let Some(&index) = state.links.get(&conn)
                && let Some(Seen::Link(link)) = state.record.seen.get_mut(index)
            {
                link.ended_ms = Some(at_ms);
            }
            state.record.seen.push(Seen::Disconnect {
                at_ms,
                conn,
                departed,
            });
            if departed {
                state.desk.departed();
            }
            departed
        };
        self.tell(QualifyEvent::Disconnected { conn, departed });
        self.poke.notify_one();
    }

    fn attempt(&self) {
        {
            let mut state = self.state();
            if state.finished {
                return;
            }
            let at_ms = Self::at_ms(&state);
            state.record.seen.push(Seen::Attempt { at_ms });
        }
        self.tell(QualifyEvent::Attempt);
    }

    /// The proxy saw the device publish `payload` on `topic`.
    fn request(&self, conn: u64, topic: String, payload: Vec<u8>) {
        let mut state = self.state();
        let Some(start) = state.start.filter(|_| !state.finished) else {
            return;
        };
        let Some((_, phase, _)) = state.plan.phase_at(start.elapsed()) else {
            return;
        };
        let answer = phase.answer;
        let at_ms = Self::at_ms(&state);
        state.requests += 1;
        let row = Some(state.requests);
        let index = state.record.seen.len();
        let k = key(&topic, &payload);
        // A reply to a command (or one on a command topic) passes the hub by: nothing answers it.
        let answerable = !parse_topic(&topic).is_some_and(|t| t.method.is_command());
        state.record.seen.push(Seen::Request(SeenRequest {
            at_ms,
            conn,
            row,
            topic,
            payload,
            answered: None,
        }));
        if answerable {
            state
                .unanswered
                .entry(k)
                .or_default()
                .push_back((index, answer));
        }
    }

    /// Sends the commands that are due to targets online long enough, and says which ones fell
    /// due while their target was offline. Returns when to look again (plan-clock ms), unless
    /// who is online changes before.
    fn dispatch(&self) -> Option<u64> {
        let (out, news, wake) = {
            let mut guard = self.state();
            let state = &mut *guard;
            if state.finished || state.start.is_none() {
                return None;
            }
            let now = Self::at_ms(state);
            let mut out = Vec::new();
            let mut news = Vec::new();
            if self.courier.is_some() {
                for i in state.desk.to_send(&state.record.commands, now) {
                    let command = &mut state.record.commands[i];
                    command.delivered_ms = Some(now);
                    out.push((command.topic.clone(), command.payload.clone()));
                    news.push(QualifyEvent::Command {
                        phase: command.phase,
                        index: command.index,
                        sent: true,
                    });
                }
            }
            for command in &mut state.record.commands {
                if command.delivered_ms.is_none()
                    && !command.held
                    && command.due_ms <= now
                    && !state.desk.online(&command.target)
                {
                    command.held = true;
                    news.push(QualifyEvent::Command {
                        phase: command.phase,
                        index: command.index,
                        sent: false,
                    });
                }
            }
            // With the same `now` as the sending: a target settling at `now` went out above.
            let wake = self
                .courier
                .as_ref()
                .and_then(|_| state.desk.next_wake(&state.record.commands, now));
            (out, news, wake)
        };
        if let Some(courier) = &self.courier {
            for (topic, payload) in &out {
                courier(topic, payload);
            }
        }
        for event in news {
            self.tell(event);
        }
        wake
    }

    /// A TLS handshake on the proxy ended.
    fn shook(&self, tls: &TlsSession, outcome: Result<(), &HandshakeFailure>) {
        {
            let mut state = self.state();
            if state.finished {
                return;
            }
            let at_ms = Self::at_ms(&state);
            let index = state.record.seen.len();
            state.record.seen.push(Seen::Tls(SeenTls {
                at_ms,
                session: tls.number,
                shown: tls.shown,
                handshake: outcome.map_err(Clone::clone),
                conn: None,
            }));
            state.tls_sessions.insert(tls.number, index);
        }
        if outcome.is_err() || tls.shown.is_some() {
            self.tell(QualifyEvent::Tls {
                shown: tls.shown,
                failure: outcome.err().cloned(),
            });
        }
    }

    /// The device's connection `conn` sent nothing for `length` from `from`: kept when it is
    /// the longest silence so far (also after the plan: the cut at its end tells the last).
    fn silence(&self, conn: u64, from: Instant, length: Duration) {
        let mut state = self.state();
        let Some(start) = state.start else { return };
        let from_ms =
            u64::try_from(from.saturating_duration_since(start).as_millis()).unwrap_or(u64::MAX);
        let Some(&index) = state.links.get(&conn) else {
            return;
        };
        if let Some(Seen::Link(link)) = state.record.seen.get_mut(index)
            && link.silence.is_none_or(|(_, longest)| length > longest)
        {
            link.silence = Some((from_ms, length));
        }
    }

    /// A copy of the record so far.
    pub fn record(&self) -> Record {
        self.state().record.clone()
    }

    /// The plan clock, once started.
    pub fn elapsed(&self) -> Option<Duration> {
        self.state().start.map(|s| s.elapsed())
    }

    /// Whether `device` is online through the proxy now: the plan's device with a connection
    /// open, or a sub-device it logged in over one (the proxy delivers to it from then on).
    pub fn online(&self, device: &DeviceId) -> bool {
        self.departures.online(device)
    }
}

impl HubPolicy for Steering {
    fn decide(&self, topic: &str, payload: &[u8]) -> Decision {
        let state = self.state();
        match state
            .unanswered
            .get(&key(topic, payload))
            .and_then(|q| q.front())
        {
            Some((_, Answer::Code(code))) => Decision::Code(*code),
            Some((_, Answer::None)) => Decision::Silent,
            Some((_, Answer::Normal)) | None => Decision::Normal,
        }
    }

    fn answered(&self, topic: &str, payload: &[u8], code: Option<ReplyCode>) {
        let mut state = self.state();
        let k = key(topic, payload);
        let Some((index, _)) = state.unanswered.get_mut(&k).and_then(VecDeque::pop_front) else {
            return;
        };
        if state.unanswered.get(&k).is_some_and(VecDeque::is_empty) {
            state.unanswered.remove(&k);
        }
        if let Some(Seen::Request(request)) = state.record.seen.get_mut(index) {
            request.answered = code;
        }
    }

    fn departures(&self) -> Arc<Departures> {
        Arc::clone(&self.departures)
    }

    fn session(&self, effect: &SessionEffect) {
        {
            let mut state = self.state();
            let at_ms = Self::at_ms(&state);
            match effect {
                SessionEffect::Login(device) => state.desk.logged_in(device.clone(), at_ms),
                SessionEffect::Logout(device) => state.desk.logged_out(device),
            }
        }
        self.poke.notify_one();
    }
}

/// The proxy's side: the device's connections are followed, its CONNECTs checked, its requests
/// recorded, and the phase's network and delay applied to it alone.
impl Gate for Steering {
    /// The device's connection number.
    type Guest = u64;

    fn admit(&self) -> bool {
        if self.now.borrow().cut {
            // While the network is down each attempt is counted and closed at once (after the
            // plan, nothing is counted).
            self.attempt();
            return false;
        }
        true
    }

    fn greet(&self, connect: &Connect) -> Greeting<u64> {
        self.greet_device(connect, None)
    }

    fn greet_tls(&self, connect: &Connect, tls: &TlsSession) -> Greeting<u64> {
        self.greet_device(connect, Some(tls))
    }

    fn shook(&self, tls: &TlsSession, outcome: Result<(), &HandshakeFailure>) {
        Steering::shook(self, tls, outcome);
    }

    fn times_silences(&self) -> bool {
        true
    }

    fn silent(&self, conn: &u64, from: Instant, length: Duration) {
        self.silence(*conn, from, length);
    }

    fn accepted(&self, conn: &u64) {
        self.connected(*conn);
    }

    fn reads_publishes(&self) -> bool {
        true
    }

    fn published(&self, conn: &u64, topic: String, payload: Vec<u8>) {
        self.request(*conn, topic, payload);
    }

    fn left(&self, conn: u64) {
        self.ended(conn);
    }

    /// The device gets delivery without a subscription, on any broker behind the proxy; its
    /// sub-devices' logins are told to the departures ([`Steering::online`]). Commands are
    /// qualify's own, so nobody is answered "device offline" here.
    fn flow(&self, connect: &Connect, conn: Option<&u64>) -> Option<Flow> {
        conn?;
        let device = self.state().plan.device.clone();
        let departures: Arc<dyn crate::broker::deliver::Roster> = self.departures.clone();
        Some(Flow::new(connect.level, Some(device), departures, false))
    }

    fn conditions(&self) -> Option<watch::Receiver<Conditions>> {
        Some(self.now.subscribe())
    }

    fn told(&self, door: SocketAddr, news: DoorNews) {
        self.tell(QualifyEvent::Door {
            words: news.words(door),
        });
    }
}

impl Steering {
    /// The device's CONNECT, over TLS session `tls` if it came by one: followed as connection
    /// `conn`, or refused when it is not signed (or, with `--tls-client-ca`, not certified).
    fn greet_device(&self, connect: &Connect, tls: Option<&TlsSession>) -> Greeting<u64> {
        if !self.is_device(connect) {
            return Greeting::Pass;
        }
        let conn = self.new_conn();
        if let Some(tls) = tls {
            let mut state = self.state();
            if let Some(&index) = state.tls_sessions.get(&tls.number)
                && let Some(Seen::Tls(seen)) = state.record.seen.get_mut(index)
            {
                seen.conn = Some(conn);
            }
        }
        let uncertified = tls.is_some_and(|t| t.client_ca_required && !t.client_certified);
        let refusal = if uncertified {
            Some(Unsigned::Uncertified)
        } else {
            self.verify(connect).err().map(Unsigned::Sign)
        };
        if let Some(why) = refusal {
            self.refused(conn, why);
            return Greeting::Refuse(connack_refusing(connect.level, Refusal::NotAuthorized));
        }
        self.state().keep_alive.insert(conn, connect.keep_alive);
        // Before the broker sees the CONNECT, so that a takeover counts two open connections
        // before the broker throws the older one off.
        self.departures.arrived(&self.state().plan.device);
        Greeting::Watch(conn)
    }
}

/// What the proxy applies to the device in `phase`.
fn conditions_of(phase: &super::plan::Phase) -> Conditions {
    Conditions {
        delay: phase.delay,
        cut: phase.network == Network::Down,
        shown: phase.tls,
    }
}

/// A running qualification: the proxy on its own thread, the clock, and the events.
pub struct Qualification {
    pub steering: Arc<Steering>,
    pub events: std::sync::mpsc::Receiver<QualifyEvent>,
    /// Where the device must connect.
    pub listen: SocketAddr,
    door: Door,
    created: Instant,
}

impl Qualification {
    /// How long since it started listening (the device has `connectWithinS` to connect).
    pub fn since_start(&self) -> Duration {
        self.created.elapsed()
    }

    /// Listens on `listen` for the device and forwards it to the broker at `upstream`, playing
    /// `plan` once the device first connects, its commands sent by `courier`. `registry` gives
    /// the device's secret. `wake` is called after every event.
    pub fn start(
        plan: Plan,
        registry: &Registry,
        listen: SocketAddr,
        upstream: SocketAddr,
        courier: Option<Courier>,
        wake: Box<dyn Fn() + Send + Sync>,
    ) -> Result<Self, QualifyError> {
        Self::start_tls(plan, registry, listen, upstream, courier, None, wake)
    }

    /// [`Qualification::start`], the proxy speaking TLS with the device when `tls` is given.
    pub fn start_tls(
        plan: Plan,
        registry: &Registry,
        listen: SocketAddr,
        upstream: SocketAddr,
        courier: Option<Courier>,
        tls: Option<Arc<DoorTls>>,
        wake: Box<dyn Fn() + Send + Sync>,
    ) -> Result<Self, QualifyError> {
        let secret = registry
            .devices
            .get(&plan.device)
            .and_then(|d| d.secret.clone())
            .ok_or_else(|| QualifyError::NoSecret(plan.device.clone()))?;
        let (events_tx, events) = std::sync::mpsc::channel();
        let (now, _) = watch::channel(Conditions::default());
        let record = Record {
            commands: SentCommand::all_of(&plan),
            ..Record::default()
        };
        let desk = Desk::new(plan.device.clone());
        let steering = Arc::new(Steering {
            state: Mutex::new(State {
                plan,
                secret,
                start: None,
                record,
                unanswered: HashMap::new(),
                next_conn: 0,
                requests: 0,
                finished: false,
                desk,
                tls_sessions: HashMap::new(),
                links: HashMap::new(),
                keep_alive: HashMap::new(),
            }),
            departures: Arc::default(),
            events: events_tx,
            now,
            started: Notify::new(),
            wake,
            courier,
            poke: Notify::new(),
        });
        let door = Door::open_tls(
            listen,
            upstream,
            Arc::clone(&steering),
            DoorLimits::default(),
            tls,
            clock(Arc::clone(&steering)),
        )
        .map_err(QualifyError::Listen)?;
        Ok(Self {
            steering,
            events,
            listen: door.addr,
            door,
            created: Instant::now(),
        })
    }

    /// Stops the proxy (closing every connection through it) and waits for its thread.
    pub fn stop(&mut self) {
        self.door.close();
    }
}

/// Walks the phases once the clock started, sends the plan's commands as they fall due and
/// their targets come online, then closes the device's connections.
async fn clock(steering: Arc<Steering>) {
    steering.started.notified().await;
    let (phases, start, end) = {
        let state = steering.state();
        let start = state.start.unwrap_or_else(Instant::now);
        let phases: Vec<_> = state
            .plan
            .schedule()
            .map(|(index, phase, begins)| (index, phase.clone(), start + begins))
            .collect();
        (phases, start, start + state.plan.length())
    };
    let mut next = 0;
    loop {
        let now = Instant::now();
        while let Some((index, phase, begins)) = phases.get(next)
            && *begins <= now
        {
            steering.now.send_replace(conditions_of(phase));
            let down = phase.network == Network::Down;
            steering.state().desk.network(down);
            steering.tell(QualifyEvent::Phase { index: *index });
            next += 1;
        }
        if now >= end {
            break;
        }
        let mut wake = end;
        if let Some(at_ms) = steering.dispatch() {
            wake = wake.min(start + Duration::from_millis(at_ms));
        }
        if let Some((_, _, begins)) = phases.get(next) {
            wake = wake.min(*begins);
        }
        tokio::select! {
            () = tokio::time::sleep_until(wake.into()) => {}
            () = steering.poke.notified() => {}
        }
    }
    steering.state().finished = true;
    steering.now.send_replace(Conditions {
        delay: Duration::ZERO,
        cut: true,
        shown: None,
    });
    steering.tell(QualifyEvent::Finished);
    // The door lives on (refusing everything) until the run is stopped.
}
