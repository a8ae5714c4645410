//! Watch mode: the window's session subscribed to the protocol's topics, the [`Watcher`] that
//! checks what it sees, a summary per device, and a timeline row for each watched message.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::history::{NewRow, RowKind, Timeline};
use crate::protocol::{DeviceId, EpochMs, ReplyCode, reply_topic};
use crate::runner::watch::{WatchUpdate, Watched, Watcher, watch_filters};
use crate::workspace::Fixture;

use super::connection::{Connection, Routed};
use super::notice::Notice;

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

/// Watch mode, once started; what was seen stays after it stops. It subscribes the window's
/// own session (no session of its own) and is fed that session's messages.
pub struct WatchCtl {
    running: bool,
    watcher: Watcher,
    /// The timeline row of each watched request, by its index in the watcher.
    rows: Vec<usize>,
    /// By device, `"pk/dk"`.
    pub devices: BTreeMap<String, DeviceSummary>,
    /// The filters the broker has not granted since the session last connected: watching
    /// starts when none is left.
    waiting: Vec<String>,
    /// The connection went away while watching, and has not been granted the filters again.
    lost: bool,
}

impl WatchCtl {
    /// Starts watching over `connection`'s session, checking with `watcher`: the session
    /// subscribes to the watched filters now and after every reconnect.
    pub fn start(connection: &mut Connection, watcher: Watcher) -> Self {
        for filter in watch_filters() {
            connection.subscribe(&filter);
        }
        Self {
            running: true,
            watcher,
            rows: Vec::new(),
            devices: BTreeMap::new(),
            waiting: watch_filters(),
            lost: false,
        }
    }

    /// True once the broker granted every watched filter, so that no message is missed.
    pub fn ready(&self) -> bool {
        self.running() && self.waiting.is_empty()
    }

    /// True until stopped.
    pub fn running(&self) -> bool {
        self.running
    }

    /// Stops watching; what was seen stays.
    pub fn stop(&mut self, connection: &mut Connection) {
        if std::mem::take(&mut self.running) {
            for filter in watch_filters() {
                connection.unsubscribe(&filter);
            }
        }
    }

    /// Every watched request.
    pub fn watched(&self) -> &[Watched] {
        self.watcher.watched()
    }

    /// Checks with `fresh` (a reloaded workspace's registry) from now on, keeping the logins
    /// seen so far.
    pub fn replace_registry(&mut self, fresh: crate::model::Registry) {
        self.watcher.replace_registry(fresh);
    }

    /// Feeds one message; a new request also counts for each device it names.
    pub fn feed(&mut self, topic: &str, payload: Vec<u8>) -> Option<WatchUpdate> {
        let update = self.watcher.feed(topic, payload)?;
        if let WatchUpdate::Request(index) | WatchUpdate::Answered(index) = update
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

    /// Applies what the window's connection routed: rows in the timeline, and a notice when
    /// watching starts, stops or is held up.
    pub fn apply(&mut self, routed: &Routed, timeline: &mut Timeline) -> Option<Notice> {
        if !self.running {
            return None;
        }
        match routed {
            Routed::Connected => {
                // The session subscribes again by itself; watching resumes at the SUBACKs.
                self.waiting = watch_filters();
                None
            }
            Routed::Subscribed {
                filter,
                granted: Ok(()),
            } => {
                let before = self.waiting.len();
                self.waiting.retain(|f| f != filter);
                (before > 0 && self.waiting.is_empty()).then(|| {
                    if std::mem::take(&mut self.lost) {
                        Notice::info("watching every device's traffic again")
                    } else {
                        Notice::info("watching every device's traffic")
                    }
                })
            }
            Routed::Subscribed {
                granted: Err(reason),
                ..
            } => Some(Notice::error(format!("watch: {reason}"))),
            Routed::Disconnected { .. } => {
                // The connection says the outage once; watching resumes when it is back.
                self.lost = true;
                None
            }
            Routed::Closed { reason } => {
                self.running = false;
                Some(Notice::error(format!("watch stopped: {reason}")))
            }
            Routed::Message { topic, payload } => {
                match self.feed(topic, payload.clone())? {
                    WatchUpdate::Request(index) => self.request_row(index, timeline),
                    WatchUpdate::Reply(index) => self.reply_row(index, timeline),
                    WatchUpdate::Answered(index) => {
                        self.request_row(index, timeline);
                        self.reply_row(index, timeline);
                    }
                }
                None
            }
            _ => None,
        }
    }

    fn request_row(&mut self, index: usize, timeline: &mut Timeline) {
        let Some(w) = self.watcher.watched().get(index) else {
            return;
        };
        let note: Vec<String> = w
            .findings
            .iter()
            .map(|f| format!("{} {}: {}", f.severity.name(), f.path, f.message))
            .collect();
        let row = timeline.push(
            w.at,
            RowKind::Watched,
            NewRow {
                device: w.devices.first(),
                topic: &w.topic,
                payload: &w.payload(),
                predicted: Some(w.predicted),
                note: &note.join("; "),
                ..NewRow::default()
            },
        );
        self.rows.push(row);
        // The timeline keeps the payload now: the watcher need not keep a second copy.
        if let Some(w) = self.watcher.watched_mut(index) {
            w.drop_payload();
        }
    }

    fn reply_row(&mut self, index: usize, timeline: &mut Timeline) {
        let (Some(w), Some(&request_row)) =
            (self.watcher.watched().get(index), self.rows.get(index))
        else {
            return;
        };
        let now = EpochMs::now();
        let rtt = Duration::from_millis(u64::try_from(now.0 - w.at.0).unwrap_or(0));
        let reply_row = timeline.push(
            now,
            RowKind::WatchedReply,
            NewRow {
                device: w.devices.first(),
                topic: &reply_topic(&w.topic),
                code: w.actual,
                rtt: Some(rtt),
                partner: Some(request_row),
                ..NewRow::default()
            },
        );
        timeline.answer(request_row, reply_row, w.actual, Some(rtt));
    }

    /// Watched message `index` as a fixture expecting the hub's code, with its file's stem.
    /// Its payload is kept once, in its timeline row.
    pub fn fixture_of(
        &self,
        index: usize,
        timeline: &Timeline,
        gateway: &DeviceId,
    ) -> Result<(Fixture, String), Notice> {
        let number = index + 1;
        let w = self
            .watcher
            .watched()
            .get(index)
            .ok_or_else(|| Notice::error(format!("watched #{number}: no such message")))?;
        let row = self.rows.get(index).and_then(|&r| timeline.row(r));
        let payload = row
            .map(|row| timeline.payload(row))
            .ok_or_else(|| Notice::error(format!("watched #{number}: its row was cleared")))?;
        let id = w.id.as_ref().map_or("-".to_owned(), |id| id.0.clone());
        let name = format!("watched {number:04} id {id}");
        let fixture = w.to_fixture_with(&payload, name, gateway);
        let stem = w.file_name(number).trim_end_matches(".json").to_owned();
        Ok((fixture, stem))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::SubscribeError;
    use crate::workspace::{LoginState, Workspace};

    /// Watch mode with no session: what it is fed by hand.
    fn watching() -> (WatchCtl, DeviceId) {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let ws = Workspace::load(&root).expect("the sample workspace loads");
        let watch = WatchCtl {
            running: true,
            watcher: Watcher::new(ws.registry(&LoginState::All)),
            rows: Vec::new(),
            devices: BTreeMap::new(),
            waiting: Vec::new(),
            lost: false,
        };
        (watch, ws.gateway())
    }

    #[test]
    fn a_watched_exchange_is_two_rows_and_its_payload_is_kept_once() {
        let (mut watch, gateway) = watching();
        let mut timeline = Timeline::default();
        let topic = "/sys/gwPk/gw01/thing/measurepoint/post/batch";
        let request = br#"{"id":"7","version":"1.0","method":"thing.measurepoint.post.batch","params":[{"measurepoints":{"cpuLoad":1.5}}]}"#;
        let event = Routed::Message {
            topic: topic.into(),
            payload: request.to_vec(),
        };
        assert_eq!(watch.apply(&event, &mut timeline), None);
        assert_eq!(timeline.len(), 1);
        assert!(
            watch.watched()[0].payload().is_empty(),
            "the timeline holds the payload; the watcher dropped its copy"
        );
        let reply = Routed::Message {
            topic: reply_topic(topic),
            payload: br#"{"id":"7","code":200,"data":null}"#.to_vec(),
        };
        watch.apply(&reply, &mut timeline);
        assert_eq!(timeline.len(), 2);
        let request_row = timeline
            .row(timeline.first())
            .copied()
            .expect("request row");
        assert_eq!(request_row.kind, RowKind::Watched);
        assert_eq!(request_row.code(), Some(ReplyCode::SUCCESS));
        assert_eq!(watch.devices.get("gwPk/gw01").map(|d| d.messages), Some(1));
        // Saved as a fixture, the payload comes back from the timeline, byte for byte.
        let (fixture, stem) = watch.fixture_of(0, &timeline, &gateway).expect("a fixture");
        assert_eq!(stem, "watched-0001-200");
        assert_eq!(fixture.expect.code, Some(ReplyCode::SUCCESS));
        let crate::workspace::FixtureBody::Request(body) = &fixture.body else {
            panic!("a JSON request: {:?}", fixture.body);
        };
        assert_eq!(body["params"][0]["measurepoints"]["cpuLoad"], 1.5);
        // Once the timeline is cleared the row is gone, and saving says so.
        timeline.clear();
        let refused = watch
            .fixture_of(0, &timeline, &gateway)
            .expect_err("its row was cleared");
        assert!(refused.text.contains("cleared"), "{refused:?}");
    }

    #[test]
    fn a_reply_seen_before_its_request_still_makes_an_answered_pair_of_rows() {
        let (mut watch, _) = watching();
        let mut timeline = Timeline::default();
        let topic = "/sys/gwPk/gw01/thing/measurepoint/post/batch";
        let reply = Routed::Message {
            topic: reply_topic(topic),
            payload: br#"{"id":"8","code":200,"data":null}"#.to_vec(),
        };
        watch.apply(&reply, &mut timeline);
        assert_eq!(timeline.len(), 0, "a reply alone is no row yet");
        let request = Routed::Message {
            topic: topic.into(),
            payload: br#"{"id":"8","version":"1.0","method":"thing.measurepoint.post.batch","params":[{"measurepoints":{"cpuLoad":1.5}}]}"#.to_vec(),
        };
        watch.apply(&request, &mut timeline);
        assert_eq!(timeline.len(), 2);
        let rows: Vec<_> = (timeline.first()..timeline.end())
            .filter_map(|i| timeline.row(i).copied())
            .collect();
        assert_eq!(rows[0].kind, RowKind::Watched);
        assert_eq!(rows[0].code(), Some(ReplyCode::SUCCESS));
        assert_eq!(rows[1].kind, RowKind::WatchedReply);
        assert_eq!(watch.devices.get("gwPk/gw01").map(|d| d.messages), Some(1));
        assert!(watch.watched()[0].agrees());
    }

    #[test]
    fn watching_is_said_once_every_filter_is_granted_and_again_after_an_outage() {
        let (mut watch, _) = watching();
        let mut timeline = Timeline::default();
        let mut apply = |watch: &mut WatchCtl, event| watch.apply(&event, &mut timeline);
        let granted = |filter: &str| Routed::Subscribed {
            filter: filter.to_owned(),
            granted: Ok(()),
        };
        let filters = watch_filters();
        assert_eq!(apply(&mut watch, Routed::Connected), None);
        assert_eq!(apply(&mut watch, granted(&filters[0])), None);
        let ready = apply(&mut watch, granted(&filters[1])).expect("a notice");
        assert_eq!(ready.text, "watching every device's traffic");
        // A refused subscription is an error the person sees.
        let refused = apply(
            &mut watch,
            Routed::Subscribed {
                filter: filters[0].clone(),
                granted: Err(SubscribeError::Refused(filters[0].clone())),
            },
        )
        .expect("a notice");
        assert!(refused.text.contains("refused"), "{refused:?}");
        // The connection says the outage (once, in the timeline); the way back is watch's news.
        let lost = || Routed::Disconnected {
            reason: "connection refused".into(),
        };
        assert_eq!(apply(&mut watch, lost()), None);
        assert_eq!(apply(&mut watch, lost()), None);
        assert_eq!(apply(&mut watch, Routed::Connected), None);
        assert_eq!(apply(&mut watch, granted(&filters[0])), None);
        let back = apply(&mut watch, granted(&filters[1])).expect("a notice");
        assert_eq!(back.text, "watching every device's traffic again");
    }

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
