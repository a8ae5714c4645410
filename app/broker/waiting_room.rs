//! The door's waiting room: the clients that have not sent their CONNECT yet, oldest first,
//! so that one more than the limit sends the longest waiting away.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

/// The clients waiting for their CONNECT, oldest first: each holds a [`Ticket`], and one more
/// than the limit closes the oldest.
pub(super) struct WaitingRoom {
    limit: usize,
    /// Ticket numbers, rising, with what closes each when dropped.
    queue: Mutex<VecDeque<(u64, oneshot::Sender<()>)>>,
    next: AtomicU64,
}

/// A client's place in the [`WaitingRoom`]; dropping it leaves the room.
pub(super) struct Ticket {
    room: Arc<WaitingRoom>,
    number: u64,
    /// Ends (with an error) when the client is sent away to make room.
    pub(super) sent_away: oneshot::Receiver<()>,
}

impl WaitingRoom {
    pub(super) fn new(limit: usize) -> Self {
        Self {
            limit: limit.max(1),
            queue: Mutex::new(VecDeque::new()),
            next: AtomicU64::new(0),
        }
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, VecDeque<(u64, oneshot::Sender<()>)>> {
        self.queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A place for a new client, sending away the oldest when the room is full.
    pub(super) fn enter(self: &Arc<Self>) -> Ticket {
        let (tx, sent_away) = oneshot::channel();
        let number = self.next.fetch_add(1, Ordering::Relaxed);
        let mut queue = self.queue();
        while queue.len() >= self.limit {
            // Dropping its sender ends the oldest client's wait.
            queue.pop_front();
        }
        queue.push_back((number, tx));
        Ticket {
            room: Arc::clone(self),
            number,
            sent_away,
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut queue = self.room.queue();
        if let Ok(at) = queue.binary_search_by_key(&self.number, |(number, _)| *number) {
            queue.remove(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_waiting_room_sends_the_oldest_away() {
        let room = Arc::new(WaitingRoom::new(2));
        let mut first = room.enter();
        let mut second = room.enter();
        assert_eq!(
            first.sent_away.try_recv(),
            Err(oneshot::error::TryRecvError::Empty)
        );
        let mut third = room.enter();
        assert_eq!(
            first.sent_away.try_recv(),
            Err(oneshot::error::TryRecvError::Closed),
            "the oldest makes room"
        );
        assert_eq!(
            second.sent_away.try_recv(),
            Err(oneshot::error::TryRecvError::Empty)
        );
        // A client that leaves frees its place: the next one sends nobody away.
        drop(second);
        let _fourth = room.enter();
        assert_eq!(
            third.sent_away.try_recv(),
            Err(oneshot::error::TryRecvError::Empty)
        );
        drop(first);
        assert_eq!(room.queue().len(), 2);
    }
}
