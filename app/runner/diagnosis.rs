//! What a session's round trips and silences say about the broker and the hub, each said once:
//! round trips held up by Nagle's algorithm on the broker, and no hub answering at all.

use std::time::Duration;

use crate::transport::BrokerUrl;

/// How many round trips, from the first, the Nagle rule looks at.
pub const NAGLE_SAMPLE: usize = 5;

/// The band where a median round trip points at Nagle's algorithm: on Linux a delayed ACK
/// holds the broker's second write for at least 40 ms, so such round trips sit at 40–44 ms;
/// far above it, a slow network or hub explains the time better.
const NAGLE_BAND: (Duration, Duration) = (Duration::from_millis(38), Duration::from_millis(100));

/// How many requests must go unanswered, with no reply to any request before them, before the
/// hub is said to be missing.
pub const NO_HUB_AFTER: usize = 3;

/// Something wrong with the broker or hub that a person should hear of once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hint {
    /// The median of the first round trips sits in the Nagle band.
    Nagle { median: Duration },
    /// Requests went unanswered and nothing has ever replied.
    NoHub { unanswered: usize },
}

impl Hint {
    /// The hint in words, for `broker` when it is known.
    pub fn words(&self, broker: Option<&BrokerUrl>) -> String {
        let on = broker.map_or_else(|| "the broker".to_owned(), |url| url.to_string());
        match self {
            Self::Nagle { median } => {
                let near = if broker.is_some_and(is_local) {
                    ""
                } else {
                    " (unless the broker is far away)"
                };
                format!(
                    "round trips take about {:.0} ms (median of the first {NAGLE_SAMPLE}): Nagle's algorithm on {on} is the likely cause{near}; \
                     turn it off in the broker's settings (mosquitto: `set_tcp_nodelay true` in mosquitto.conf)",
                    median.as_secs_f64() * 1000.0
                )
            }
            Self::NoHub { unanswered } => {
                let start = broker.map_or_else(
                    || "thingbench hub --broker URL".to_owned(),
                    |url| format!("thingbench hub --broker {url}"),
                );
                format!(
                    "no reply to any of the {unanswered} requests so far: no hub seems to be answering on {on}; \
                     start one there (`{start}`) or check that yours serves this gateway"
                )
            }
        }
    }
}

/// True when `broker` is on this machine, where no network explains a 40 ms round trip.
fn is_local(broker: &BrokerUrl) -> bool {
    broker.host == "localhost"
        || broker
            .host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Follows one session's requests as they end and gives each [`Hint`] once.
#[derive(Debug, Default)]
pub struct Diagnosis {
    /// The first round trips, up to [`NAGLE_SAMPLE`].
    first: Vec<Duration>,
    nagle_judged: bool,
    replies: usize,
    unanswered: usize,
    no_hub_said: bool,
}

impl Diagnosis {
    /// A request was answered after `rtt`; the Nagle hint once the sample is complete.
    pub fn replied(&mut self, rtt: Duration) -> Option<Hint> {
        self.replies += 1;
        if self.first.len() < NAGLE_SAMPLE {
            self.first.push(rtt);
        }
        if self.first.len() == NAGLE_SAMPLE {
            self.judge_nagle()
        } else {
            None
        }
    }

    /// A request got no reply in time; the no-hub hint when nothing has ever replied and
    /// [`NO_HUB_AFTER`] requests went unanswered.
    pub fn unanswered(&mut self) -> Option<Hint> {
        self.unanswered += 1;
        let due = self.replies == 0 && self.unanswered >= NO_HUB_AFTER && !self.no_hub_said;
        self.no_hub_said |= due;
        due.then_some(Hint::NoHub {
            unanswered: self.unanswered,
        })
    }

    /// At the end of a run: the Nagle hint of a run shorter than the sample, judged on what
    /// there is (at least three round trips), or the no-hub hint of a run with fewer unanswered
    /// requests than [`NO_HUB_AFTER`] and no reply at all.
    pub fn finish(&mut self) -> Option<Hint> {
        if self.replies == 0 && self.unanswered > 0 && !self.no_hub_said {
            self.no_hub_said = true;
            return Some(Hint::NoHub {
                unanswered: self.unanswered,
            });
        }
        if self.first.len() >= 3 {
            self.judge_nagle()
        } else {
            None
        }
    }

    /// True once any request got a reply: a hub is there.
    pub fn hub_seen(&self) -> bool {
        self.replies > 0
    }

    /// True when the no-hub hint was given and nothing has replied since.
    pub fn no_hub(&self) -> bool {
        self.no_hub_said && self.replies == 0
    }

    fn judge_nagle(&mut self) -> Option<Hint> {
        if self.nagle_judged {
            return None;
        }
        self.nagle_judged = true;
        let mut sorted = self.first.clone();
        sorted.sort_unstable();
        let median = sorted[sorted.len() / 2];
        (NAGLE_BAND.0..=NAGLE_BAND.1)
            .contains(&median)
            .then_some(Hint::Nagle { median })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|&v| Duration::from_millis(v)).collect()
    }

    /// Feeds round trips and returns every hint given.
    fn feed(diagnosis: &mut Diagnosis, rtts: &[Duration]) -> Vec<Hint> {
        rtts.iter().filter_map(|&r| diagnosis.replied(r)).collect()
    }

    #[test]
    fn round_trips_at_44_ms_get_the_nagle_hint_once() {
        let mut diagnosis = Diagnosis::default();
        let hints = feed(
            &mut diagnosis,
            &ms(&[44, 43, 45, 42, 44, 44, 43, 44, 44, 44]),
        );
        assert_eq!(
            hints,
            [Hint::Nagle {
                median: Duration::from_millis(44)
            }]
        );
        assert_eq!(diagnosis.finish(), None, "said once");
    }

    #[test]
    fn fast_round_trips_and_slow_ones_get_no_nagle_hint() {
        for rtts in [
            ms(&[0, 1, 0, 1, 0]),
            ms(&[5, 9, 12, 7, 30]),
            ms(&[150, 160, 140, 155, 170]),
            // A slow first round trip (a subscription on the way) is not the median.
            ms(&[44, 1, 1, 2, 1]),
        ] {
            let mut diagnosis = Diagnosis::default();
            assert_eq!(feed(&mut diagnosis, &rtts), [], "{rtts:?}");
            assert_eq!(diagnosis.finish(), None, "{rtts:?}");
        }
    }

    #[test]
    fn only_the_first_round_trips_count() {
        // Fast at first, 44 ms later (a loaded network, not the broker's setting): no hint.
        let mut diagnosis = Diagnosis::default();
        let mut rtts = ms(&[1, 1, 1, 1, 1]);
        rtts.extend(ms(&[44; 20]));
        assert_eq!(feed(&mut diagnosis, &rtts), []);
    }

    #[test]
    fn the_band_edges_are_inclusive() {
        for (value, hinted) in [(37, false), (38, true), (100, true), (101, false)] {
            let mut diagnosis = Diagnosis::default();
            let hints = feed(&mut diagnosis, &ms(&[value; NAGLE_SAMPLE]));
            assert_eq!(!hints.is_empty(), hinted, "{value} ms");
        }
    }

    #[test]
    fn a_short_run_is_judged_at_its_end_with_three_round_trips() {
        let mut diagnosis = Diagnosis::default();
        assert_eq!(feed(&mut diagnosis, &ms(&[43, 44])), []);
        assert_eq!(diagnosis.finish(), None, "two are too few");
        let mut diagnosis = Diagnosis::default();
        assert_eq!(feed(&mut diagnosis, &ms(&[43, 44, 45])), []);
        assert_eq!(
            diagnosis.finish(),
            Some(Hint::Nagle {
                median: Duration::from_millis(44)
            })
        );
    }

    #[test]
    fn unanswered_requests_with_no_reply_ever_mean_no_hub_once() {
        let mut diagnosis = Diagnosis::default();
        assert_eq!(diagnosis.unanswered(), None);
        assert_eq!(diagnosis.unanswered(), None);
        assert_eq!(diagnosis.unanswered(), Some(Hint::NoHub { unanswered: 3 }));
        assert!(diagnosis.no_hub());
        assert_eq!(diagnosis.unanswered(), None, "said once");
        // A reply after all: a hub is there.
        diagnosis.replied(Duration::from_millis(1));
        assert!(diagnosis.hub_seen() && !diagnosis.no_hub());
    }

    #[test]
    fn a_run_too_short_for_the_rule_hears_of_the_missing_hub_at_its_end() {
        let mut diagnosis = Diagnosis::default();
        assert_eq!(diagnosis.unanswered(), None);
        assert_eq!(diagnosis.finish(), Some(Hint::NoHub { unanswered: 1 }));
        assert_eq!(diagnosis.finish(), None, "said once");
        let mut nothing_sent = Diagnosis::default();
        assert_eq!(nothing_sent.finish(), None);
    }

    #[test]
    fn silence_after_a_reply_is_not_a_missing_hub() {
        let mut diagnosis = Diagnosis::default();
        diagnosis.replied(Duration::from_millis(1));
        for _ in 0..10 {
            assert_eq!(diagnosis.unanswered(), None);
        }
        assert_eq!(diagnosis.finish(), None);
    }

    #[test]
    fn the_words_name_the_setting_and_the_broker() {
        let local = BrokerUrl::parse("mqtt://127.0.0.1:1883").expect("url");
        let far = BrokerUrl::parse("mqtt://broker.example.com").expect("url");
        let nagle = Hint::Nagle {
            median: Duration::from_micros(44_300),
        };
        let words = nagle.words(Some(&local));
        assert!(
            words.contains("about 44 ms")
                && words.contains("Nagle's algorithm on mqtt://127.0.0.1:1883")
                && words.contains("set_tcp_nodelay true")
                && !words.contains("far away"),
            "{words}"
        );
        assert!(
            nagle
                .words(Some(&far))
                .contains("unless the broker is far away")
        );
        let words = Hint::NoHub { unanswered: 3 }.words(Some(&local));
        assert!(
            words.contains("no hub seems to be answering on mqtt://127.0.0.1:1883")
                && words.contains("thingbench hub --broker mqtt://127.0.0.1:1883"),
            "{words}"
        );
    }
}
