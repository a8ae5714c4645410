//! The door MQTT clients come in by, in front of a broker: a tokio accept loop that sets
//! TCP_NODELAY on every socket it accepts (on any OS), reads each client's CONNECT to know who
//! it is, and only then opens a connection to the broker behind it and forwards bytes both
//! ways (`forward.rs`). The broker behind is a TCP address, or the embedded rumqttd, serving
//! one end of an in-memory stream per connection on the door's thread ([`Behind`]). It is a plain TCP forwarder, not a broker: a [`Gate`] decides what happens at each
//! step. The embedded broker's gate checks signatures and notes the gateways whose connection
//! ended; a qualification's gate adds the plan's faults. A gate may give a connection a
//! [`Flow`] (`deliver.rs`): its packets are then read both ways and what is written is what
//! the flow says (delivery without a subscription, "device offline").
//!
//! The door is bounded: a client has [`DoorLimits::connect_within`] to send its whole CONNECT,
//! at most [`DoorLimits::waiting`] clients wait for theirs at once, a first byte that is not a
//! CONNECT or a CONNECT over [`CONNECT_LIMIT`] closes the connection at once, and a failing
//! accept (out of file descriptors) waits a growing pause instead of spinning.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};

use super::deliver::Flow;
use super::mqtt_frame::{
    CONNECT_HEADER, CONNECT_LIMIT, Connect, Framer, Packet, Refusal, connack_refusing,
    parse_connect,
};
use super::tls::{CertFault, DoorTls, HandshakeFailure, TlsSession};
use super::waiting_room::{Ticket, WaitingRoom};

mod forward;
mod shared;

use forward::forward;

/// The faults a gate applies to the connections it follows (its guests).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Conditions {
    /// Added to every chunk, both ways.
    pub delay: Duration,
    /// Close the guests' connections (the network is down, or the run is over).
    pub cut: bool,
    /// The bad certificate a TLS door shows new connections; a TLS connection made under
    /// another certificate than this is closed.
    pub shown: Option<CertFault>,
}

/// How the door bounds the clients that have not said who they are yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DoorLimits {
    /// How long a client has to send its whole CONNECT (rumqttd's own limit is 10 s too).
    pub connect_within: Duration,
    /// How many clients may wait for their CONNECT at once: one more closes the one that has
    /// waited longest, so a flood of idle connections never locks a real client out.
    pub waiting: usize,
}

impl Default for DoorLimits {
    fn default() -> Self {
        Self {
            connect_within: Duration::from_secs(10),
            waiting: 1000,
        }
    }
}

/// What the door has to tell a person, through its gate's [`Gate::told`]. Each trouble is told
/// once when it starts and once when it ends, however often it happens in between.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DoorNews {
    /// Accepting connections fails (out of file descriptors, most likely): new clients wait
    /// in the listen queue until it works again.
    AcceptFailing { why: String },
    /// Accepting has worked again for a few seconds, after `failed` failed accepts.
    AcceptingAgain { failed: u64 },
    /// The broker behind the door cannot be reached: clients are refused (server unavailable).
    UpstreamFailing { why: String },
    /// The broker behind the door is reached again.
    UpstreamBack,
    /// The door stopped by itself (an internal error): nobody can connect through it any more.
    Stopped { why: String },
}

impl DoorNews {
    /// The news in one sentence, naming the door's address.
    pub fn words(&self, door: SocketAddr) -> String {
        match self {
            Self::AcceptFailing { why } => format!(
                "the door on {door} cannot accept connections: {why}; new clients wait until it can (if it is out of file descriptors, raise `ulimit -n` or close idle connections)"
            ),
            Self::AcceptingAgain { failed } => format!(
                "the door on {door} accepts connections again (after {failed} failed accepts)"
            ),
            Self::UpstreamFailing { why } => format!(
                "the door on {door} cannot reach the broker behind it: {why}; clients are refused with CONNACK 3 (server unavailable)"
            ),
            Self::UpstreamBack => format!("the door on {door} reaches the broker behind it again"),
            Self::Stopped { why } => format!(
                "the door on {door} stopped: internal error: {why}; nobody can connect any more"
            ),
        }
    }

    /// True when the door can no longer serve at all.
    pub fn is_fatal(&self) -> bool {
        matches!(self, Self::Stopped { .. })
    }
}

/// What the door does with a connection, once its CONNECT is read.
pub enum Greeting<G> {
    /// Forward it untouched and unwatched.
    Pass,
    /// Follow it as this guest: its publishes, its CONNACK and its end are told to the gate,
    /// and the gate's conditions apply to it.
    Watch(G),
    /// Answer these bytes (a CONNACK refusing it) and close, without opening anything upstream.
    Refuse(Vec<u8>),
}

/// Decides, for a [`Door`], who comes in and what is told about them.
pub trait Gate: Send + Sync + 'static {
    /// Who a followed connection is.
    type Guest: Send + Sync + 'static;

    /// A TCP connection arrived: `false` closes it at once.
    fn admit(&self) -> bool {
        true
    }

    /// The connection's CONNECT.
    fn greet(&self, connect: &Connect) -> Greeting<Self::Guest>;

    /// The CONNECT of a connection that came by TLS session `tls`.
    fn greet_tls(&self, connect: &Connect, _tls: &TlsSession) -> Greeting<Self::Guest> {
        self.greet(connect)
    }

    /// A TLS handshake ended (before any CONNECT): `Err` says how it failed.
    fn shook(&self, _tls: &TlsSession, _outcome: Result<(), &HandshakeFailure>) {}

    /// Whether [`Gate::silent`] wants to hear of the guests' silences (timing them costs a
    /// clock read per chunk).
    fn times_silences(&self) -> bool {
        false
    }

    /// The guest's longest silence so far grew: it sent nothing for `length` from `from` (its
    /// CONNECT or its packet before). Told again at its end, for the silence until then.
    fn silent(&self, _guest: &Self::Guest, _from: Instant, _length: Duration) {}

    /// The broker accepted the guest's CONNECT (CONNACK 0).
    fn accepted(&self, _guest: &Self::Guest) {}

    /// The guest published `payload` on `topic`. Only called when [`Gate::reads_publishes`].
    fn published(&self, _guest: &Self::Guest, _topic: String, _payload: Vec<u8>) {}

    /// Whether [`Gate::published`] wants the guests' publishes (reading them costs time).
    fn reads_publishes(&self) -> bool {
        false
    }

    /// The guest's connection ended (also when the broker behind could not be reached).
    fn left(&self, guest: Self::Guest);

    /// How the door reads this connection's packets both ways (delivery to the device it
    /// names, commands for offline devices answered: [`Flow`]); `None` forwards its bytes
    /// untouched.
    fn flow(&self, _connect: &Connect, _guest: Option<&Self::Guest>) -> Option<Flow> {
        None
    }

    /// The faults in force for guests, when the gate has any.
    fn conditions(&self) -> Option<watch::Receiver<Conditions>> {
        None
    }

    /// News of the door on `door` itself, for a person.
    fn told(&self, _door: SocketAddr, _news: DoorNews) {}
}

/// The broker behind a door.
#[derive(Clone)]
pub enum Behind {
    /// A broker's TCP listener (rumqttd's own port, mosquitto, a broker given by URL).
    Tcp(SocketAddr),
    /// The embedded rumqttd, serving one end of an in-memory stream for each connection on the
    /// door's own thread: no socket (no kernel TCP) and no thread hop between door and rumqttd.
    Handover(rumqttd::Handover),
}

impl From<SocketAddr> for Behind {
    fn from(addr: SocketAddr) -> Self {
        Self::Tcp(addr)
    }
}

/// Why a door could not open.
#[derive(Debug, thiserror::Error)]
pub enum DoorError {
    /// The address cannot be listened on (taken, or not this machine's).
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    /// The door's runtime or thread could not be started.
    #[error("cannot start the door on {addr}: {source}")]
    Start {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A running door: its accept loop on a thread of its own. Dropping it stops the loop and
/// closes every connection through it.
#[derive(Debug)]
pub struct Door {
    /// Where clients connect.
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Door {
    /// Listens on `listen` and forwards every admitted connection to `upstream`, within
    /// `limits`. `beside` runs on the door's runtime too, until it ends or the door stops (a
    /// qualification's clock).
    pub fn open<G: Gate>(
        listen: SocketAddr,
        upstream: impl Into<Behind>,
        gate: Arc<G>,
        limits: DoorLimits,
        beside: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<Self, DoorError> {
        Self::open_tls(listen, upstream, gate, limits, None, beside)
    }

    /// [`Door::open`], speaking TLS with clients when `tls` is given (the broker behind stays
    /// plain).
    pub fn open_tls<G: Gate>(
        listen: SocketAddr,
        upstream: impl Into<Behind>,
        gate: Arc<G>,
        limits: DoorLimits,
        tls: Option<Arc<DoorTls>>,
        beside: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<Self, DoorError> {
        let listen_error = |source| DoorError::Listen {
            addr: listen,
            source,
        };
        let std_listener = std::net::TcpListener::bind(listen).map_err(listen_error)?;
        let addr = std_listener.local_addr().map_err(listen_error)?;
        std_listener.set_nonblocking(true).map_err(listen_error)?;
        let start_error = |source| DoorError::Start { addr, source };
        let upstream = upstream.into();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(start_error)?;
        // Registered here, so that a failure is this call's error, not a thread's silent end.
        let listener = {
            let _entered = runtime.enter();
            TcpListener::from_std(std_listener).map_err(listen_error)?
        };
        let (stop_tx, stop_rx) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name(format!("thingbench-door-{}", addr.port()))
            .spawn(move || {
                let serving = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    runtime.block_on(async {
                        tokio::select! {
                            () = accept_loop(listener, upstream, Arc::clone(&gate), limits, tls) => {}
                            () = async { beside.await; std::future::pending::<()>().await } => {}
                            _ = stop_rx => {}
                        }
                    });
                }));
                if let Err(panic) = serving {
                    gate.told(
                        addr,
                        DoorNews::Stopped {
                            why: crate::transport::panic_words(panic.as_ref()),
                        },
                    );
                }
            })
            .map_err(start_error)?;
        Ok(Self {
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// Stops the accept loop, closes every connection through the door and waits for it.
    pub fn close(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            // A panic was caught on the thread and told to the gate.
            let _ = thread.join();
        }
    }
}

impl Drop for Door {
    fn drop(&mut self) {
        self.close();
    }
}

/// The first pause after a failed accept; it doubles with each failure in a row.
const ACCEPT_PAUSE_MIN: Duration = Duration::from_millis(5);
/// The longest pause after a failed accept: how late, at most, the door serves again once
/// descriptors are free.
const ACCEPT_PAUSE_MAX: Duration = Duration::from_millis(500);

/// How long accepting must work again before a trouble is over: a flood that keeps the process
/// out of descriptors frees some now and then (each idle client's deadline), and that is one
/// trouble, told once, not one per gap.
const ACCEPT_SETTLE: Duration = Duration::from_secs(5);

/// Accepting connections fails, or failed not long ago.
struct AcceptTrouble {
    /// Failed accepts so far.
    failed: u64,
    /// Since when accepting works again, if it does.
    working_since: Option<Instant>,
}

impl AcceptTrouble {
    fn failed_again(&mut self) {
        self.failed += 1;
        self.working_since = None;
    }

    /// When the trouble is over, if accepting keeps working until then.
    fn settles_at(&self) -> Option<Instant> {
        self.working_since.map(|since| since + ACCEPT_SETTLE)
    }
}

/// Errors of one connection, gone before it was accepted: the next accept is not affected.
fn transient(e: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        e.kind(),
        ErrorKind::ConnectionAborted
            | ErrorKind::ConnectionReset
            | ErrorKind::Interrupted
            | ErrorKind::WouldBlock
    )
}

async fn accept_loop<G: Gate>(
    listener: TcpListener,
    upstream: Behind,
    gate: Arc<G>,
    limits: DoorLimits,
    tls: Option<Arc<DoorTls>>,
) {
    let Ok(door) = listener.local_addr() else {
        return;
    };
    let room = Arc::new(WaitingRoom::new(limits.waiting));
    let upstream_failing = Arc::new(AtomicBool::new(false));
    let mut trouble: Option<AcceptTrouble> = None;
    let mut pause = Duration::ZERO;
    loop {
        let settled_at = trouble.as_ref().and_then(AcceptTrouble::settles_at);
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = tokio::time::sleep_until(settled_at.unwrap_or_else(Instant::now).into()),
                if settled_at.is_some() => {
                if let Some(AcceptTrouble { failed, .. }) = trouble.take() {
                    gate.told(door, DoorNews::AcceptingAgain { failed });
                }
                continue;
            }
        };
        let client = match accepted {
            Ok((client, _)) => client,
            Err(e) if transient(&e) => continue,
            Err(e) => {
                match &mut trouble {
                    Some(trouble) => trouble.failed_again(),
                    None => {
                        trouble = Some(AcceptTrouble {
                            failed: 1,
                            working_since: None,
                        });
                        gate.told(door, DoorNews::AcceptFailing { why: e.to_string() });
                    }
                }
                // Out of descriptors, accept fails at once for as long as a client waits in
                // the listen queue: retrying at once would spin a core.
                pause = (pause * 2).clamp(ACCEPT_PAUSE_MIN, ACCEPT_PAUSE_MAX);
                tokio::time::sleep(pause).await;
                continue;
            }
        };
        pause = Duration::ZERO;
        if let Some(trouble) = &mut trouble {
            trouble.working_since.get_or_insert_with(Instant::now);
        }
        // Every socket this process accepts: without it a round trip waits out Nagle's
        // algorithm (about 40 ms).
        let _ = client.set_nodelay(true);
        if !gate.admit() {
            continue;
        }
        let ticket = room.enter();
        let upstream = Upstream {
            door,
            behind: upstream.clone(),
            failing: Arc::clone(&upstream_failing),
        };
        let gate = Arc::clone(&gate);
        let within = limits.connect_within;
        match &tls {
            None => {
                let (rx, tx) = client.into_split();
                tokio::spawn(connection((rx, tx), None, upstream, gate, ticket, within));
            }
            Some(tls) => {
                tokio::spawn(tls_connection(
                    client,
                    Arc::clone(tls),
                    upstream,
                    gate,
                    ticket,
                    within,
                ));
            }
        }
    }
}

/// The broker behind the door, and whether reaching it fails now (told once per trouble).
struct Upstream {
    /// The door's own address, for its news.
    door: SocketAddr,
    behind: Behind,
    failing: Arc<AtomicBool>,
}

/// How much one direction of an in-memory connection to rumqttd holds before its writer waits
/// (allocated as it fills): a large reply passes in a few turns.
const HANDOVER_BUFFER: usize = 256 * 1024;

/// A connection to the broker behind the door.
enum Server {
    Tcp(TcpStream),
    Memory(DuplexStream),
}

impl Upstream {
    /// A connection to the broker (over TCP with TCP_NODELAY); a failure is told when it is
    /// news.
    async fn connect<G: Gate>(&self, gate: &G) -> Option<Server> {
        let server = match &self.behind {
            Behind::Tcp(addr) => TcpStream::connect(addr).await.map(|server| {
                let _ = server.set_nodelay(true);
                Server::Tcp(server)
            }),
            Behind::Handover(handover) => {
                if handover.is_stopped() {
                    Err(std::io::Error::other(
                        "the embedded broker's router stopped",
                    ))
                } else {
                    // rumqttd's side of the connection runs on the door's thread: no thread
                    // hop between the two.
                    let (ours, rumqttds) = tokio::io::duplex(HANDOVER_BUFFER);
                    tokio::spawn(handover.serve(rumqttds));
                    Ok(Server::Memory(ours))
                }
            }
        };
        match server {
            Ok(server) => {
                if self.failing.swap(false, Ordering::Relaxed) {
                    gate.told(self.door, DoorNews::UpstreamBack);
                }
                Some(server)
            }
            Err(e) => {
                if !self.failing.swap(true, Ordering::Relaxed) {
                    gate.told(self.door, DoorNews::UpstreamFailing { why: e.to_string() });
                }
                None
            }
        }
    }
}

/// Reads the client's CONNECT: the packet, the framer that read it (holding whatever came
/// after it) and every byte read so far. `None` when the stream closed first, or is not MQTT:
/// a first byte that is not a CONNECT's, or a CONNECT announced larger than [`CONNECT_LIMIT`],
/// ends it at once, before anything more is read.
async fn read_connect(rx: &mut (impl AsyncRead + Unpin)) -> Option<(Packet, Framer, Vec<u8>)> {
    let mut framer = Framer::with_limit(CONNECT_LIMIT);
    let mut buf = vec![0u8; 4 * 1024];
    let mut held = Vec::new();
    loop {
        let n = match rx.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => n,
        };
        if held.is_empty() && buf[0] != CONNECT_HEADER {
            return None;
        }
        held.extend_from_slice(&buf[..n]);
        framer.push(&buf[..n]);
        match framer.next_packet() {
            Ok(Some(packet)) => return Some((packet, framer, held)),
            Ok(None) => {}
            Err(_) => return None,
        }
    }
}

/// Answers `reply` and closes, reading what the client still sends for a moment: closing
/// with unread bytes resets the connection, and the client might never see the answer.
async fn refuse(mut rx: impl AsyncRead + Unpin, mut tx: impl AsyncWrite + Unpin, reply: &[u8]) {
    if tx.write_all(reply).await.is_err() {
        return;
    }
    let _ = tx.shutdown().await;
    let mut sink = [0u8; 1024];
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while matches!(rx.read(&mut sink).await, Ok(n) if n > 0) {}
    })
    .await;
}

/// One connection through a TLS door: the handshake (within the CONNECT's deadline), told to
/// the gate, then the connection as over plain TCP.
async fn tls_connection<G: Gate>(
    client: TcpStream,
    tls: Arc<DoorTls>,
    upstream: Upstream,
    gate: Arc<G>,
    mut ticket: Ticket,
    connect_within: Duration,
) {
    let shown = gate.conditions().and_then(|c| c.borrow().shown);
    let shaken = tokio::select! {
        shaken = tokio::time::timeout(connect_within, tls.accept(shown, client)) => shaken,
        _ = &mut ticket.sent_away => return,
    };
    let (session, stream) = match shaken {
        Ok((session, Ok(stream))) => {
            gate.shook(&session, Ok(()));
            (session, stream)
        }
        Ok((session, Err(failure))) => {
            gate.shook(&session, Err(&failure));
            return;
        }
        // The session's number is the door's business: a handshake that never ended is told
        // with the certificate it was shown.
        Err(_) => {
            let session = TlsSession {
                number: 0,
                shown,
                client_certified: false,
                client_ca_required: false,
            };
            gate.shook(&session, Err(&HandshakeFailure::TimedOut));
            return;
        }
    };
    let halves = tokio::io::split(stream);
    connection(
        halves,
        Some(session),
        upstream,
        gate,
        ticket,
        connect_within,
    )
    .await;
}

/// One connection through the door, `tls` when it came by a TLS session.
async fn connection<G: Gate>(
    (mut client_rx, client_tx): (
        impl AsyncRead + Unpin + Send,
        impl AsyncWrite + Unpin + Send,
    ),
    tls: Option<TlsSession>,
    upstream: Upstream,
    gate: Arc<G>,
    mut ticket: Ticket,
    connect_within: Duration,
) {
    let first = tokio::select! {
        read = tokio::time::timeout(connect_within, read_connect(&mut client_rx)) => read,
        _ = &mut ticket.sent_away => return,
    };
    drop(ticket);
    // Too late, gone, or not MQTT: closed without a word, nothing upstream was opened.
    let Ok(Some((first, framer, held))) = first else {
        return;
    };
    let Some(connect) = parse_connect(&first) else {
        return;
    };
    let greeting = match &tls {
        Some(session) => gate.greet_tls(&connect, session),
        None => gate.greet(&connect),
    };
    let guest = match greeting {
        Greeting::Pass => None,
        Greeting::Watch(guest) => Some(guest),
        Greeting::Refuse(reply) => {
            refuse(client_rx, client_tx, &reply).await;
            return;
        }
    };
    let gate = gate.as_ref();
    let Some(server) = upstream.connect(gate).await else {
        let reply = connack_refusing(connect.level, Refusal::ServerUnavailable);
        refuse(client_rx, client_tx, &reply).await;
        if let Some(guest) = guest {
            gate.left(guest);
        }
        return;
    };
    let flow = gate.flow(&connect, guest.as_ref());
    let first = (framer, held, connect.level == 5);
    let shown = tls.map(|session| session.shown);
    let client = (client_rx, client_tx);
    let guest_ref = guest.as_ref();
    match server {
        Server::Tcp(server) => {
            let halves = server.into_split();
            forward(client, halves, gate, guest_ref, first, shown, flow).await;
        }
        Server::Memory(server) => {
            let halves = tokio::io::split(server);
            forward(client, halves, gate, guest_ref, first, shown, flow).await;
        }
    }
    if let Some(guest) = guest {
        gate.left(guest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn news_names_the_door_and_what_to_do() {
        let door = SocketAddr::from(([127, 0, 0, 1], 1883));
        let failing = DoorNews::AcceptFailing {
            why: "Too many open files (os error 24)".into(),
        }
        .words(door);
        assert!(
            failing.contains("127.0.0.1:1883")
                && failing.contains("Too many open files")
                && failing.contains("ulimit -n"),
            "{failing}"
        );
        let stopped = DoorNews::Stopped { why: "boom".into() };
        assert!(stopped.is_fatal());
        assert!(stopped.words(door).contains("internal error: boom"));
    }
}
