//! A connection's [`Flow`] between the door's two pipes.

use std::sync::Mutex;

use tokio::sync::Notify;

use super::super::deliver::Flow;

/// The two directions of a connection: client to broker, and back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Side {
    Up,
    Back,
}

/// A connection's [`Flow`], shared by its two pipes: each feeds it what it reads, writes what
/// the flow has for its own socket, and wakes the other when the flow has bytes for that one.
pub(super) struct Shared {
    flow: Mutex<Flow>,
    /// Woken when the flow has bytes for the broker (`[0]`) or the client (`[1]`).
    wake: [Notify; 2],
}

impl Shared {
    /// `flow`, for the two pipes of its connection.
    pub(super) fn new(flow: Flow) -> Self {
        Self {
            flow: Mutex::new(flow),
            wake: [Notify::new(), Notify::new()],
        }
    }

    fn flow(&self) -> std::sync::MutexGuard<'_, Flow> {
        // A flow whose lock a panic poisoned is whole between packets: keep using it.
        self.flow
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Feeds `bytes` read on `side`, and appends to `out` what to write on that side now:
    /// false when the bytes are not MQTT (the connection ends).
    pub(super) fn feed(&self, side: Side, bytes: &[u8], out: &mut Vec<u8>) -> bool {
        let mut flow = self.flow();
        let fed = match side {
            Side::Up => flow.from_client(bytes),
            Side::Back => flow.from_broker(bytes),
        };
        if fed.is_err() {
            return false;
        }
        let other = match side {
            Side::Up => {
                flow.move_to_broker(out);
                flow.has_to_client()
            }
            Side::Back => {
                flow.move_to_client(out);
                flow.has_to_broker()
            }
        };
        drop(flow);
        if other {
            self.wake[Self::index(Self::other(side))].notify_one();
        }
        true
    }

    /// Appends to `out` what the flow has for `side`'s socket now.
    pub(super) fn take(&self, side: Side, out: &mut Vec<u8>) {
        let mut flow = self.flow();
        match side {
            Side::Up => flow.move_to_broker(out),
            Side::Back => flow.move_to_client(out),
        }
    }

    fn other(side: Side) -> Side {
        match side {
            Side::Up => Side::Back,
            Side::Back => Side::Up,
        }
    }

    fn index(side: Side) -> usize {
        match side {
            Side::Up => 0,
            Side::Back => 1,
        }
    }

    pub(super) async fn woken(&self, side: Side) {
        self.wake[Self::index(side)].notified().await;
    }
}
