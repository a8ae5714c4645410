//! The one rule for telling a person about a lost connection: once when it is lost, with why,
//! and once when it is back, with how long it was away. The retries in between (refused while
//! the broker is down, a reset while it starts) are the same outage and say nothing new.
//!
//! `run`, `watch`, the hub's log and the window's timeline all follow a session through one
//! [`OutageWatch`]; each words its news for its own reader.

use std::time::{Duration, Instant};

/// News of an outage: it began, or it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutageNews {
    /// The connection was lost (or could not be made), for `reason`.
    Lost { reason: String },
    /// The connection is back after `after`; `reason` is the latest word on why it was away.
    Back { after: Duration, reason: String },
}

/// A lost connection, from the moment it was heard of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outage {
    /// When the loss was heard of.
    pub since: Instant,
    /// The latest word on why the connection is away.
    pub reason: String,
}

/// Follows one connection's losses and returns, and says each outage once.
#[derive(Clone, Debug, Default)]
pub struct OutageWatch {
    outage: Option<Outage>,
}

impl OutageWatch {
    /// The connection was lost, or a retry failed, for `reason`: news only for the first.
    pub fn disconnected(&mut self, reason: &str, now: Instant) -> Option<OutageNews> {
        match &mut self.outage {
            Some(outage) => {
                // The newest reason is the one a caller that gives up ends with.
                reason.clone_into(&mut outage.reason);
                None
            }
            None => {
                self.outage = Some(Outage {
                    since: now,
                    reason: reason.to_owned(),
                });
                Some(OutageNews::Lost {
                    reason: reason.to_owned(),
                })
            }
        }
    }

    /// The connection is up: news when it ends an outage.
    pub fn connected(&mut self, now: Instant) -> Option<OutageNews> {
        self.outage.take().map(|outage| OutageNews::Back {
            after: now.saturating_duration_since(outage.since),
            reason: outage.reason,
        })
    }

    /// The outage in progress, if any.
    pub fn outage(&self) -> Option<&Outage> {
        self.outage.as_ref()
    }

    /// True while the connection is away.
    pub fn is_lost(&self) -> bool {
        self.outage.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_is_news_once_when_it_begins_and_once_when_it_ends() {
        let start = Instant::now();
        let mut watch = OutageWatch::default();
        assert_eq!(watch.connected(start), None, "a first connect is no news");
        assert_eq!(
            watch.disconnected("reset", start),
            Some(OutageNews::Lost {
                reason: "reset".into()
            })
        );
        // Retries that fail for another reason are the same outage.
        assert_eq!(watch.disconnected("refused", start), None);
        assert_eq!(watch.disconnected("refused", start), None);
        assert_eq!(watch.outage().map(|o| o.reason.as_str()), Some("refused"));
        let back = start + Duration::from_millis(1500);
        assert_eq!(
            watch.connected(back),
            Some(OutageNews::Back {
                after: Duration::from_millis(1500),
                reason: "refused".into()
            })
        );
        assert!(!watch.is_lost());
        assert_eq!(watch.connected(back), None);
    }
}
