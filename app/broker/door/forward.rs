//! The door's forwarding, once a connection's CONNECT is read: two pipes, client to broker and
//! back, that write each chunk as soon as it is read, or hold it for the gate's delay, or write
//! what the connection's [`Flow`] says; and the gate's cut that ends them.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;

use super::super::deliver::Flow;
use super::super::mqtt_frame::{Framer, connack_code, parse_publish};
use super::super::tls::CertFault;
use super::shared::{Shared, Side};
use super::{Conditions, Gate};

/// Forwards both ways until either side ends, or the gate's conditions cut a guest. `first`
/// holds the framer that read the CONNECT, the bytes read so far, and whether the client
/// speaks MQTT 5. `shown` is the certificate of a TLS connection: it ends when another is
/// shown. `flow`, when given, decides what is written each way.
pub(super) async fn forward<G: Gate>(
    (client_rx, client_tx): (impl AsyncRead + Unpin, impl AsyncWrite + Unpin),
    (server_rx, server_tx): (impl AsyncRead + Unpin, impl AsyncWrite + Unpin),
    gate: &G,
    guest: Option<&G::Guest>,
    (framer, held, v5): (Framer, Vec<u8>, bool),
    shown: Option<Option<CertFault>>,
    flow: Option<Flow>,
) {
    let shared = flow.map(Shared::new);
    let conditions = guest.and_then(|_| gate.conditions());
    let mut up_framer = (guest.is_some() && gate.reads_publishes()).then_some(framer);
    let mut silence = guest.filter(|_| gate.times_silences()).map(Silences::new);
    let mut read_publishes = |chunk: &[u8]| {
        if let Some(silence) = silence.as_mut() {
            silence.heard(gate);
        }
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
        shared.as_ref().map(|shared| (shared, Side::Up)),
    );
    let back = pipe(
        server_rx,
        client_tx,
        Vec::new(),
        conditions.clone(),
        watch_connack,
        shared.as_ref().map(|shared| (shared, Side::Back)),
    );
    tokio::select! {
        () = up => {}
        () = back => {}
        () = async {
            match conditions {
                Some(conditions) => until_cut(conditions, shown).await,
                None => std::future::pending().await,
            }
        } => {}
    }
    if let Some(silence) = silence.as_mut() {
        // The silence until the connection ended counts too.
        silence.heard(gate);
    }
}

/// The longest time a guest sent nothing, told to the gate each time it grows.
struct Silences<'g, T> {
    guest: &'g T,
    last: Instant,
    longest: Duration,
}

impl<'g, T> Silences<'g, T> {
    fn new(guest: &'g T) -> Self {
        Self {
            guest,
            last: Instant::now(),
            longest: Duration::ZERO,
        }
    }

    /// The guest sent a chunk now (or its connection ended).
    fn heard<G: Gate<Guest = T>>(&mut self, gate: &G) {
        let now = Instant::now();
        let gap = now.saturating_duration_since(self.last);
        if gap > self.longest {
            self.longest = gap;
            gate.silent(self.guest, self.last, gap);
        }
        self.last = now;
    }
}

/// Waits until the conditions cut the guests' connections, or, for a TLS connection made
/// under certificate `shown`, show another.
async fn until_cut(mut conditions: watch::Receiver<Conditions>, shown: Option<Option<CertFault>>) {
    loop {
        let now = *conditions.borrow_and_update();
        if now.cut || shown.is_some_and(|shown| shown != now.shown) {
            return;
        }
        if conditions.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// What a pipe waited for.
enum Turn {
    Read(usize),
    Closed,
    Woken,
    Due,
}

/// Forwards `rx` to `tx`, `first` ahead of what is read. Without conditions each chunk is
/// written as soon as it is read. With them, each chunk is held for the delay in force at its
/// arrival, in order (no channel, no timer when there is no delay: the door must cost well
/// under 0.1 ms a round trip). `inspect` sees each chunk as it arrives, before it is sent on.
/// With a `flow`, what is written is what the flow says, for this side, as soon as it says it.
async fn pipe(
    mut rx: impl AsyncRead + Unpin,
    mut tx: impl AsyncWrite + Unpin,
    first: Vec<u8>,
    conditions: Option<watch::Receiver<Conditions>>,
    mut inspect: impl FnMut(&[u8]),
    flow: Option<(&Shared, Side)>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    let delay_now = || {
        conditions
            .as_ref()
            .map_or(Duration::ZERO, |c| c.borrow().delay)
    };
    let mut queue: VecDeque<(Instant, Vec<u8>)> = VecDeque::new();
    // `first` was inspected with the CONNECT; the flow reads it from the CONNECT on.
    let first = match flow {
        Some((shared, side)) => {
            let mut out = Vec::new();
            if !shared.feed(side, &first, &mut out) {
                return;
            }
            out
        }
        None => first,
    };
    // What the flow says to write, its allocation kept from one turn to the next.
    let mut out: Vec<u8> = Vec::new();
    if !first.is_empty() {
        queue.push_back((Instant::now() + delay_now(), first));
    }
    let mut open = true;
    loop {
        let due = queue.front().map(|(at, _)| *at);
        if due.is_none() && !open {
            return;
        }
        if due.is_none() && flow.is_none() {
            // Nothing held and nothing to decide: the plain path.
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
        }
        let turn = tokio::select! {
            read = rx.read(&mut buf), if open => match read {
                Ok(0) | Err(_) => Turn::Closed,
                Ok(n) => Turn::Read(n),
            },
            () = async {
                match flow {
                    Some((shared, side)) => shared.woken(side).await,
                    None => std::future::pending().await,
                }
            } => Turn::Woken,
            () = tokio::time::sleep_until(due.unwrap_or_else(Instant::now).into()), if due.is_some() => Turn::Due,
        };
        let arrived = Instant::now();
        out.clear();
        match turn {
            Turn::Closed => {
                open = false;
                continue;
            }
            Turn::Read(n) => {
                inspect(&buf[..n]);
                match flow {
                    Some((shared, side)) => {
                        if !shared.feed(side, &buf[..n], &mut out) {
                            return;
                        }
                    }
                    None => out.extend_from_slice(&buf[..n]),
                }
            }
            Turn::Woken => match flow {
                Some((shared, side)) => shared.take(side, &mut out),
                None => continue,
            },
            Turn::Due => {
                while queue.front().is_some_and(|(at, _)| *at <= arrived) {
                    let Some((_, chunk)) = queue.pop_front() else {
                        break;
                    };
                    if tx.write_all(&chunk).await.is_err() {
                        return;
                    }
                }
                continue;
            }
        }
        if out.is_empty() {
            continue;
        }
        let delay = delay_now();
        if delay.is_zero() && queue.is_empty() {
            if tx.write_all(&out).await.is_err() {
                return;
            }
        } else {
            queue.push_back((arrived + delay, std::mem::take(&mut out)));
        }
    }
}
