//! The door MQTT clients come in by, in front of a broker: a tokio accept loop that sets
//! TCP_NODELAY on every socket it accepts (on any OS), reads each client's CONNECT to know who
//! it is, and forwards bytes both ways to the broker behind it. It is a plain TCP forwarder,
//! not a broker: a [`Gate`] decides what happens at each step. The embedded broker's gate notes
//! the gateways whose connection ended (the hub logs their sub-devices out, as the platform
//! does); a qualification's gate adds the plan's faults.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::mqtt_frame::{
    Connect, Framer, Packet, connack_code, connect_level, parse_connect, parse_publish,
};

/// The faults a gate applies to the connections it follows (its guests).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Conditions {
    /// Added to every chunk, both ways.
    pub delay: Duration,
    /// Close the guests' connections (the network is down, or the run is over).
    pub cut: bool,
}

/// What the door does with a connection, once its first packet is read.
pub enum Greeting<G> {
    /// Forward it untouched and unwatched.
    Pass,
    /// Follow it as this guest: its publishes, its CONNACK and its end are told to the gate,
    /// and the gate's conditions apply to it.
    Watch(G),
    /// Answer these bytes (a CONNACK refusing it) and close.
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

    /// The connection's first packet, read as a CONNECT (`None` when it is not one).
    fn greet(&self, connect: Option<&Connect>) -> Greeting<Self::Guest>;

    /// The broker accepted the guest's CONNECT (CONNACK 0).
    fn accepted(&self, _guest: &Self::Guest) {}

    /// The guest published `payload` on `topic`. Only called when [`Gate::reads_publishes`].
    fn published(&self, _guest: &Self::Guest, _topic: String, _payload: Vec<u8>) {}

    /// Whether [`Gate::published`] wants the guests' publishes (reading them costs time).
    fn reads_publishes(&self) -> bool {
        false
    }

    /// The guest's connection ended.
    fn left(&self, guest: Self::Guest);

    /// The faults in force for guests, when the gate has any.
    fn conditions(&self) -> Option<watch::Receiver<Conditions>> {
        None
    }
}

/// A running door: its accept loop on a thread of its own. Dropping it stops the loop and
/// closes every connection through it.
#[derive(Debug)]
pub struct Door {
    /// Where clients connect.
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Door {
    /// Listens on `listen` and forwards every admitted connection to `upstream`. `beside`
    /// runs on the door's runtime too, until it ends or the door stops (a qualification's
    /// clock).
    pub fn open<G: Gate>(
        listen: SocketAddr,
        upstream: SocketAddr,
        gate: Arc<G>,
        beside: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<Self, String> {
        let std_listener = std::net::TcpListener::bind(listen)
            .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        let addr = std_listener
            .local_addr()
            .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        std_listener
            .set_nonblocking(true)
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the runtime for {addr}: {e}"))?;
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
        let thread = std::thread::Builder::new()
            .name(format!("thingbench-door-{}", addr.port()))
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = TcpListener::from_std(std_listener) else {
                        return;
                    };
                    tokio::select! {
                        () = accept_loop(listener, upstream, gate) => {}
                        () = async { beside.await; std::future::pending::<()>().await } => {}
                        _ = stop_rx => {}
                    }
                });
            })
            .map_err(|e| format!("cannot start the thread for {addr}: {e}"))?;
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
            let _ = thread.join();
        }
    }
}

impl Drop for Door {
    fn drop(&mut self) {
        self.close();
    }
}

async fn accept_loop<G: Gate>(listener: TcpListener, upstream: SocketAddr, gate: Arc<G>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        // Every socket this process accepts: without it a round trip waits out Nagle's
        // algorithm (about 40 ms).
        let _ = client.set_nodelay(true);
        if !gate.admit() {
            continue;
        }
        tokio::spawn(connection(client, upstream, Arc::clone(&gate)));
    }
}

/// Waits until the conditions cut the guests' connections.
async fn until_cut(mut conditions: watch::Receiver<Conditions>) {
    loop {
        if conditions.borrow_and_update().cut {
            return;
        }
        if conditions.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Reads until the first whole packet: the packet (`None` when the stream is not MQTT) and
/// every byte read so far. `None` overall when the client left first.
async fn first_packet(rx: &mut OwnedReadHalf) -> Option<(Option<Packet>, Framer, Vec<u8>)> {
    let mut framer = Framer::default();
    let mut buf = vec![0u8; 16 * 1024];
    let mut held = Vec::new();
    loop {
        let n = match rx.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => n,
        };
        held.extend_from_slice(&buf[..n]);
        framer.push(&buf[..n]);
        match framer.next_packet() {
            Ok(Some(packet)) => return Some((Some(packet), framer, held)),
            Ok(None) => {}
            Err(_) => return Some((None, framer, held)),
        }
    }
}

/// One connection through the door.
async fn connection<G: Gate>(client: TcpStream, upstream: SocketAddr, gate: Arc<G>) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = server.set_nodelay(true);
    let (mut client_rx, mut client_tx) = client.into_split();
    let (server_rx, server_tx) = server.into_split();
    let Some((first, framer, held)) = first_packet(&mut client_rx).await else {
        return;
    };
    let connect = first.as_ref().and_then(parse_connect);
    let guest = match gate.greet(connect.as_ref()) {
        Greeting::Pass => None,
        Greeting::Watch(guest) => Some(guest),
        Greeting::Refuse(reply) => {
            let _ = client_tx.write_all(&reply).await;
            return;
        }
    };
    let v5 = first.as_ref().and_then(connect_level) == Some(5);
    let conditions = guest.as_ref().and_then(|_| gate.conditions());
    let owned = guest;
    let guest = owned.as_ref();
    let gate = gate.as_ref();

    let mut up_framer = (guest.is_some() && gate.reads_publishes()).then_some(framer);
    let mut read_publishes = |chunk: &[u8]| {
        if let (Some(framer), Some(guest)) = (up_framer.as_mut(), guest) {
            framer.push(chunk);
            while let Ok(Some(packet)) = framer.next_packet() {
                if let Some((topic, payload)) = parse_publish(&packet, v5) {
                    gate.published(guest, topic, payload);
                }
            }
        }
    };
    // What came with the CONNECT is already in the framer.
    read_publishes(&[]);
    let mut back_framer = guest.map(|_| Framer::default());
    let watch_connack = |chunk: &[u8]| {
        if let (Some(framer), Some(guest)) = (back_framer.as_mut(), guest) {
            framer.push(chunk);
            if let Ok(Some(packet)) = framer.next_packet() {
                if connack_code(&packet) == Some(0) {
                    gate.accepted(guest);
                }
                // Only the first packet matters.
                back_framer = None;
            }
        }
    };
    let up = pipe(
        client_rx,
        server_tx,
        held,
        conditions.clone(),
        read_publishes,
    );
    let back = pipe(
        server_rx,
        client_tx,
        Vec::new(),
        conditions.clone(),
        watch_connack,
    );
    tokio::select! {
        () = up => {}
        () = back => {}
        () = async {
            match conditions {
                Some(conditions) => until_cut(conditions).await,
                None => std::future::pending().await,
            }
        } => {}
    }
    if let Some(guest) = owned {
        gate.left(guest);
    }
}

/// Forwards `rx` to `tx`, `first` ahead of what is read. Without conditions each chunk is
/// written as soon as it is read. With them, each chunk is held for the delay in force at its
/// arrival, in order (no channel, no timer when there is no delay: the door must cost well
/// under 0.1 ms a round trip). `inspect` sees each chunk as it arrives, before it is sent on.
async fn pipe(
    mut rx: OwnedReadHalf,
    mut tx: OwnedWriteHalf,
    first: Vec<u8>,
    conditions: Option<watch::Receiver<Conditions>>,
    mut inspect: impl FnMut(&[u8]),
) {
    let mut buf = vec![0u8; 64 * 1024];
    let delay_now = || {
        conditions
            .as_ref()
            .map_or(Duration::ZERO, |c| c.borrow().delay)
    };
    let mut queue: VecDeque<(Instant, Vec<u8>)> = VecDeque::new();
    if !first.is_empty() {
        queue.push_back((Instant::now() + delay_now(), first));
    }
    let mut open = true;
    loop {
        let Some(due) = queue.front().map(|(at, _)| *at) else {
            // Nothing held: the plain path.
            if !open {
                return;
            }
            let n = match rx.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let arrived = Instant::now();
            inspect(&buf[..n]);
            let delay = delay_now();
            if delay.is_zero() {
                if tx.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            } else {
                queue.push_back((arrived + delay, buf[..n].to_vec()));
            }
            continue;
        };
        tokio::select! {
            read = rx.read(&mut buf), if open => {
                match read {
                    Ok(0) | Err(_) => open = false,
                    Ok(n) => {
                        let arrived = Instant::now();
                        inspect(&buf[..n]);
                        queue.push_back((arrived + delay_now(), buf[..n].to_vec()));
                    }
                }
            }
            () = tokio::time::sleep_until(due.into()) => {
                let now = Instant::now();
                while queue.front().is_some_and(|(at, _)| *at <= now) {
                    let Some((_, chunk)) = queue.pop_front() else { break };
                    if tx.write_all(&chunk).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}
