//! Watch mode's state: a session of its own subscribed to the protocol's topics, the
//! [`Watcher`] that checks what it sees, and a summary per device.

use std::collections::BTreeMap;

use crate::protocol::{EpochMs, ReplyCode};
use crate::runner::watch::{WatchUpdate, Watched, Watcher};
use crate::transport::Session;

/// What watch mode has seen of one device.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DeviceSummary {
    pub messages: usize,
    /// Messages the checker found nothing wrong with.
    pub valid: usize,
    /// Invalid messages by the code the checker predicted.
    pub invalid: BTreeMap<i64, usize>,
    pub first_seen: Option<EpochMs>,
    pub last_seen: Option<EpochMs>,
}

impl DeviceSummary {
    /// The mean time between two messages, once there are two.
    pub fn mean_interval_ms(&self) -> Option<f64> {
        match (self.first_seen, self.last_seen) {
            (Some(first), Some(last)) if self.messages > 1 => {
                Some((last.0 - first.0) as f64 / (self.messages - 1) as f64)
            }
            _ => None,
        }
    }

    fn add(&mut self, at: EpochMs, predicted: ReplyCode) {
        self.messages += 1;
        if predicted.is_success() {
            self.valid += 1;
        } else {
            *self.invalid.entry(predicted.0).or_default() += 1;
        }
        self.first_seen.get_or_insert(at);
        self.last_seen = Some(at);
    }
}

/// Watch mode while it runs.
pub struct Watching {
    /// `None` once stopped; what was seen stays.
    pub session: Option<Session>,
    pub watcher: Watcher,
    /// The timeline row of each watched request, by its index in the watcher.
    pub rows: Vec<usize>,
    /// By device, `"pk/dk"`.
    pub devices: BTreeMap<String, DeviceSummary>,
}

impl Watching {
    /// Watch mode over `session`, which must already be subscribed.
    pub fn new(session: Session, watcher: Watcher) -> Self {
        Self {
            session: Some(session),
            watcher,
            rows: Vec::new(),
            devices: BTreeMap::new(),
        }
    }

    /// Feeds one message; a new request also counts for each device it names.
    pub fn feed(&mut self, topic: &str, payload: Vec<u8>) -> Option<WatchUpdate> {
        let update = self.watcher.feed(topic, payload)?;
        if let WatchUpdate::Request(index) = update
            && let Some(w) = self.watcher.watched().get(index)
        {
            for device in &w.devices {
                self.devices
                    .entry(device.to_string())
                    .or_default()
                    .add(w.at, w.predicted);
            }
        }
        Some(update)
    }

    /// Every watched request.
    pub fn watched(&self) -> &[Watched] {
        self.watcher.watched()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_counts_valid_and_invalid_and_the_mean_interval() {
        let mut summary = DeviceSummary::default();
        assert_eq!(summary.mean_interval_ms(), None);
        summary.add(EpochMs(1000), ReplyCode(200));
        summary.add(EpochMs(2000), ReplyCode(1204));
        summary.add(EpochMs(4000), ReplyCode(1204));
        assert_eq!(summary.messages, 3);
        assert_eq!(summary.valid, 1);
        assert_eq!(summary.invalid.get(&1204), Some(&2));
        assert_eq!(summary.mean_interval_ms(), Some(1500.0));
        assert_eq!(summary.last_seen, Some(EpochMs(4000)));
    }
}
