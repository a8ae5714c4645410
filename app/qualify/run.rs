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
use crate::hub::{Decision, HubPolicy};
use crate::model::Registry;
use crate::protocol::{
    DeviceId, EpochMs, ReplyCode, Secret, SignError, device_of_username, verify_connect,
};

use super::judge::{Record, Seen, SeenRequest};
use super::plan::{Answer, Network, Plan};

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
    /// The last phase ended; the device's connections are closed and the record is final.
    Finished,
    /// News of the proxy itself (it cannot accept connections, or reach the broker).
    Door { words: String },
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

    fn refused(&self, conn: u64, why: String) {
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
                }
            }
            let at_ms = Self::at_ms(&state);
            state.record.seen.push(Seen::Connect {
                at_ms,
                conn,
                signed: Ok(()),
            });
            first
        };
        if first {
            self.started.notify_one();
            self.tell(QualifyEvent::Started);
        }
        self.tell(QualifyEvent::Connected { conn });
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
            state.record.seen.push(Seen::Disconnect {
                at_ms,
                conn,
                departed,
            });
            departed
        };
        self.tell(QualifyEvent::Disconnected { conn, departed });
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
        state.record.seen.push(Seen::Request(SeenRequest {
            at_ms,
            conn,
            row,
            topic,
            payload,
            answered: None,
        }));
        state
            .unanswered
            .entry(k)
            .or_default()
            .push_back((index, answer));
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
        if !self.is_device(connect) {
            return Greeting::Pass;
        }
        let conn = self.new_conn();
        if let Err(why) = self.verify(connect) {
            self.refused(conn, why.to_string());
            return Greeting::Refuse(connack_refusing(connect.level, Refusal::NotAuthorized));
        }
        // Before the broker sees the CONNECT, so that a takeover counts two open connections
        // before the broker throws the older one off.
        self.departures.arrived(&self.state().plan.device);
        Greeting::Watch(conn)
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

/// What the proxy applies to the device in `phase`.
fn conditions_of(phase: &super::plan::Phase) -> Conditions {
    Conditions {
        delay: phase.delay,
        cut: phase.network == Network::Down,
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
    /// `plan` once the device first connects. `registry` gives the device's secret. `wake` is
    /// called after every event.
    pub fn start(
        plan: Plan,
        registry: &Registry,
        listen: SocketAddr,
        upstream: SocketAddr,
        wake: Box<dyn Fn() + Send + Sync>,
    ) -> Result<Self, String> {
        let secret = registry
            .devices
            .get(&plan.device)
            .and_then(|d| d.secret.clone())
            .ok_or_else(|| {
                format!(
                    "the workspace has no usable secret for {}, so its CONNECT signatures cannot be checked; set its secret in workspace.json",
                    plan.device
                )
            })?;
        let (events_tx, events) = std::sync::mpsc::channel();
        let (now, _) = watch::channel(Conditions::default());
        let steering = Arc::new(Steering {
            state: Mutex::new(State {
                plan,
                secret,
                start: None,
                record: Record::default(),
                unanswered: HashMap::new(),
                next_conn: 0,
                requests: 0,
                finished: false,
            }),
            departures: Arc::default(),
            events: events_tx,
            now,
            started: Notify::new(),
            wake,
        });
        let door = Door::open(
            listen,
            upstream,
            Arc::clone(&steering),
            DoorLimits::default(),
            clock(Arc::clone(&steering)),
        )
        .map_err(|e| format!("{e}; the device needs it: choose another --listen"))?;
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

/// Walks the phases once the clock started, then closes the device's connections.
async fn clock(steering: Arc<Steering>) {
    steering.started.notified().await;
    let (phases, start) = {
        let state = steering.state();
        let start = state.start.unwrap_or_else(Instant::now);
        let phases: Vec<_> = state
            .plan
            .schedule()
            .map(|(index, phase, begins)| (index, phase.clone(), begins))
            .collect();
        (phases, start)
    };
    for (index, phase, begins) in phases {
        tokio::time::sleep_until((start + begins).into()).await;
        steering.now.send_replace(conditions_of(&phase));
        steering.tell(QualifyEvent::Phase { index });
    }
    let end = start + steering.state().plan.length();
    tokio::time::sleep_until(end.into()).await;
    steering.state().finished = true;
    steering.now.send_replace(Conditions {
        delay: Duration::ZERO,
        cut: true,
    });
    steering.tell(QualifyEvent::Finished);
    // The door lives on (refusing everything) until the run is stopped.
}
