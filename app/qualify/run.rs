//! A qualification run: the fault-injecting TCP proxy the device connects through, the plan's
//! clock, the hub's orders for the device under test, and the [`Record`] the checks judge.

use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};

use crate::hub::{Decision, HubPolicy};
use crate::model::Registry;
use crate::protocol::{DeviceId, EpochMs, ReplyCode, Secret, is_sha256_sign_method, sign};

use super::judge::{Record, Seen, SeenRequest};
use super::mqtt_frame::{
    CONNACK_NOT_AUTHORIZED, Framer, connack_code, connect_level, parse_connect, parse_publish,
};
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
    /// The device's connection `conn` ended.
    Disconnected { conn: u64 },
    /// A connection attempt while the network was down, closed at once.
    Attempt,
    /// The last phase ended; the device's connections are closed and the record is final.
    Finished,
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
    logouts: Vec<DeviceId>,
    next_conn: u64,
    requests: usize,
    finished: bool,
}

/// The network and delay the proxy applies now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Now {
    network: Network,
    delay: Duration,
    started: bool,
    over: bool,
}

/// A qualification's shared state: the hub's [`HubPolicy`] and the proxy's record.
pub struct Steering {
    state: Mutex<State>,
    events: std::sync::mpsc::Sender<QualifyEvent>,
    now: watch::Sender<Now>,
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

    /// The device's own username: `{deviceKey}&{productKey}`.
    fn is_device(&self, username: Option<&str>) -> bool {
        let state = self.state();
        let device = &state.plan.device;
        username == Some(&format!("{}&{}", device.device_key.0, device.product_key.0))
    }

    /// Checks a CONNECT's signature (protocol.md, "Login and signing").
    fn verify(&self, client_id: &str, password: Option<&str>) -> Result<(), String> {
        let state = self.state();
        let Some((id, rest)) = client_id.split_once('|') else {
            return Err(format!(
                "client id {client_id:?} is not `{{id}}|securemode=2,signmethod=sha256,timestamp={{ms}}|`"
            ));
        };
        let options: HashMap<&str, &str> = rest
            .trim_end_matches('|')
            .split(',')
            .filter_map(|kv| kv.split_once('='))
            .collect();
        let method = options.get("signmethod").copied().unwrap_or_default();
        if !is_sha256_sign_method(method) {
            return Err(format!("sign method {method:?} is not sha256"));
        }
        let Some(timestamp) = options.get("timestamp") else {
            return Err("the client id has no timestamp".into());
        };
        let expected = sign(id, &state.plan.device, timestamp, state.secret.expose());
        match password {
            Some(p) if p.eq_ignore_ascii_case(&expected) => Ok(()),
            Some(_) => Err(
                "the password is not the signature of the client id with the device's secret"
                    .into(),
            ),
            None => Err("the CONNECT has no password".into()),
        }
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
    fn accepted(&self, conn: u64) {
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
                    self.now.send_replace(Now {
                        network: phase.network,
                        delay: phase.delay,
                        started: true,
                        over: false,
                    });
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
        {
            let mut state = self.state();
            if state.finished {
                return;
            }
            let at_ms = Self::at_ms(&state);
            state.record.seen.push(Seen::Disconnect { at_ms, conn });
            let device = state.plan.device.clone();
            state.logouts.push(device);
        }
        self.tell(QualifyEvent::Disconnected { conn });
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

    fn take_logouts(&self) -> Vec<DeviceId> {
        std::mem::take(&mut self.state().logouts)
    }
}

/// A running qualification: the proxy on its own thread, the clock, and the events.
pub struct Qualification {
    pub steering: Arc<Steering>,
    pub events: std::sync::mpsc::Receiver<QualifyEvent>,
    /// Where the device must connect.
    pub listen: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
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
        let std_listener = std::net::TcpListener::bind(listen).map_err(|e| {
            format!("cannot listen on {listen} for the device: {e} (choose another --listen)")
        })?;
        let listen = std_listener
            .local_addr()
            .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        std_listener
            .set_nonblocking(true)
            .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        let (events_tx, events) = std::sync::mpsc::channel();
        let (now, _) = watch::channel(Now {
            network: Network::Up,
            delay: Duration::ZERO,
            started: false,
            over: false,
        });
        let steering = Arc::new(Steering {
            state: Mutex::new(State {
                plan,
                secret,
                start: None,
                record: Record::default(),
                unanswered: HashMap::new(),
                logouts: Vec::new(),
                next_conn: 0,
                requests: 0,
                finished: false,
            }),
            events: events_tx,
            now,
            started: Notify::new(),
            wake,
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the proxy's runtime: {e}"))?;
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("thingbench-proxy".into())
            .spawn({
                let steering = Arc::clone(&steering);
                move || {
                    runtime.block_on(async move {
                        let Ok(listener) = TcpListener::from_std(std_listener) else {
                            return;
                        };
                        tokio::select! {
                            () = accept_loop(listener, upstream, Arc::clone(&steering)) => {}
                            () = clock(Arc::clone(&steering)) => {}
                            _ = stop_rx => {}
                        }
                    });
                }
            })
            .map_err(|e| format!("cannot start the proxy thread: {e}"))?;
        Ok(Self {
            steering,
            events,
            listen,
            stop: Some(stop_tx),
            thread: Some(thread),
            created: Instant::now(),
        })
    }

    /// Stops the proxy (closing every connection through it) and waits for its thread.
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Qualification {
    fn drop(&mut self) {
        self.stop();
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
        steering.now.send_replace(Now {
            network: phase.network,
            delay: phase.delay,
            started: true,
            over: false,
        });
        steering.tell(QualifyEvent::Phase { index });
    }
    let end = start + steering.state().plan.length();
    tokio::time::sleep_until(end.into()).await;
    steering.state().finished = true;
    steering.now.send_replace(Now {
        network: Network::Down,
        delay: Duration::ZERO,
        started: true,
        over: true,
    });
    steering.tell(QualifyEvent::Finished);
    // The accept loop lives on (refusing everything) until the run is stopped.
    std::future::pending::<()>().await;
}

async fn accept_loop(listener: TcpListener, upstream: SocketAddr, steering: Arc<Steering>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        let _ = client.set_nodelay(true);
        let now = *steering.now.borrow();
        if now.over {
            continue;
        }
        if now.started && now.network == Network::Down {
            steering.attempt();
            continue;
        }
        tokio::spawn(connection(client, upstream, Arc::clone(&steering)));
    }
}

/// Waits until the network goes down (or the plan ends).
async fn until_down(mut now: watch::Receiver<Now>) {
    loop {
        {
            let n = *now.borrow_and_update();
            if n.over || (n.started && n.network == Network::Down) {
                return;
            }
        }
        if now.changed().await.is_err() {
            return;
        }
    }
}

/// One connection through the proxy.
async fn connection(client: TcpStream, upstream: SocketAddr, steering: Arc<Steering>) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = server.set_nodelay(true);
    let (mut client_rx, mut client_tx) = client.into_split();
    let (server_rx, server_tx) = server.into_split();
    // The first packet says who connects.
    let mut framer = Framer::default();
    let mut buf = vec![0u8; 64 * 1024];
    let mut held = Vec::new();
    let first = loop {
        let n = match client_rx.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        held.extend_from_slice(&buf[..n]);
        framer.push(&buf[..n]);
        match framer.next_packet() {
            Ok(Some(packet)) => break packet,
            Ok(None) => {}
            Err(_) => {
                break super::mqtt_frame::Packet {
                    header: 0,
                    body: Vec::new(),
                };
            }
        }
    };
    let connect = parse_connect(&first);
    let device = connect
        .as_ref()
        .filter(|c| steering.is_device(c.username.as_deref()));
    let conn = match device {
        Some(connect) => {
            let conn = steering.new_conn();
            if let Err(why) = steering.verify(&connect.client_id, connect.password.as_deref()) {
                let _ = client_tx.write_all(&CONNACK_NOT_AUTHORIZED).await;
                steering.refused(conn, why);
                return;
            }
            Some(conn)
        }
        None => None,
    };
    let v5 = connect_level(&first) == Some(5);
    let down = until_down(steering.now.subscribe());
    let up = forward_up(
        client_rx,
        server_tx,
        framer,
        held,
        conn.map(|c| (c, Arc::clone(&steering))),
        v5,
        steering.now.subscribe(),
    );
    let back = forward_back(
        server_rx,
        client_tx,
        conn.map(|c| (c, Arc::clone(&steering))),
        steering.now.subscribe(),
    );
    tokio::select! {
        () = up => {}
        () = back => {}
        () = async {
            // Only the device's connections are cut.
            if conn.is_some() { down.await } else { std::future::pending().await }
        } => {}
    }
    if let Some(conn) = conn {
        steering.ended(conn);
    }
}

/// Forwards `rx` to `tx` on one task, `first` ahead of what is read: each chunk is held for
/// the phase's delay at its arrival, in order, and goes at once when there is none (no channel,
/// no timer: the proxy must cost well under 0.1 ms a round trip). `inspect` sees each chunk as
/// it arrives, before it is sent on.
async fn pipe(
    mut rx: tokio::net::tcp::OwnedReadHalf,
    mut tx: tokio::net::tcp::OwnedWriteHalf,
    first: Vec<u8>,
    now: watch::Receiver<Now>,
    mut inspect: impl FnMut(&[u8]),
) {
    let mut queue: VecDeque<(Instant, Vec<u8>)> = VecDeque::new();
    let delay = now.borrow().delay;
    if !first.is_empty() {
        queue.push_back((Instant::now() + delay, first));
    }
    let mut buf = vec![0u8; 64 * 1024];
    let mut open = true;
    loop {
        let due = queue.front().map(|(at, _)| *at);
        tokio::select! {
            read = rx.read(&mut buf), if open => {
                let n = match read {
                    Ok(0) | Err(_) => {
                        open = false;
                        if queue.is_empty() {
                            return;
                        }
                        continue;
                    }
                    Ok(n) => n,
                };
                let arrived = Instant::now();
                let chunk = &buf[..n];
                inspect(chunk);
                let delay = now.borrow().delay;
                if delay.is_zero() && queue.is_empty() {
                    if tx.write_all(chunk).await.is_err() {
                        return;
                    }
                } else {
                    queue.push_back((arrived + delay, chunk.to_vec()));
                }
            }
            () = tokio::time::sleep_until(due.unwrap_or_else(Instant::now).into()), if due.is_some() => {
                let now = Instant::now();
                while queue.front().is_some_and(|(at, _)| *at <= now) {
                    let Some((_, chunk)) = queue.pop_front() else { break };
                    if tx.write_all(&chunk).await.is_err() {
                        return;
                    }
                }
                if !open && queue.is_empty() {
                    return;
                }
            }
        }
    }
}

/// Device to broker: records the device's requests as they arrive, then forwards them.
async fn forward_up(
    rx: tokio::net::tcp::OwnedReadHalf,
    tx: tokio::net::tcp::OwnedWriteHalf,
    mut framer: Framer,
    held: Vec<u8>,
    device: Option<(u64, Arc<Steering>)>,
    v5: bool,
    now: watch::Receiver<Now>,
) {
    let mut record = move |chunk: &[u8]| {
        if let Some((conn, steering)) = &device {
            framer.push(chunk);
            while let Ok(Some(packet)) = framer.next_packet() {
                if let Some((topic, payload)) = parse_publish(&packet, v5) {
                    steering.request(*conn, topic, payload);
                }
            }
        }
    };
    // What came with the CONNECT is already in the framer.
    record(&[]);
    pipe(rx, tx, held, now, record).await;
}

/// Broker to device: notes the CONNACK that accepts the device, then forwards.
async fn forward_back(
    rx: tokio::net::tcp::OwnedReadHalf,
    tx: tokio::net::tcp::OwnedWriteHalf,
    device: Option<(u64, Arc<Steering>)>,
    now: watch::Receiver<Now>,
) {
    let mut framer = device.as_ref().map(|_| Framer::default());
    let watch_connack = move |chunk: &[u8]| {
        if let (Some(f), Some((conn, steering))) = (framer.as_mut(), &device) {
            f.push(chunk);
            if let Ok(Some(packet)) = f.next_packet() {
                if connack_code(&packet) == Some(0) {
                    steering.accepted(*conn);
                }
                // Only the first packet matters.
                framer = None;
            }
        }
    };
    pipe(rx, tx, Vec::new(), now, watch_connack).await;
}
