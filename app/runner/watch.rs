//! Watching traffic thingbench did not send: every request on the protocol's topics is checked
//! with the one checker, and the hub's reply is paired with it, so that a device's mistakes and
//! any disagreement between the checker and the hub show up.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::model::{Registry, check};
use crate::protocol::{MsgId, ReplyCode, parse_reply, parse_topic};
use crate::transport::{Session, SessionCommand, SessionEvent};

/// The filters watched: requests and replies of every method, for any device.
pub fn watch_filters() -> Vec<String> {
    vec![
        "/sys/+/+/thing/measurepoint/#".to_owned(),
        "/ext/session/+/+/combine/#".to_owned(),
    ]
}

/// One watched request and what became of it.
#[derive(Clone, Debug, PartialEq)]
pub struct Watched {
    pub topic: String,
    pub id: Option<MsgId>,
    pub payload: Vec<u8>,
    pub predicted: ReplyCode,
    /// The first finding that decides the predicted code.
    pub finding: Option<String>,
    /// The hub's code, once its reply came.
    pub actual: Option<ReplyCode>,
}

impl Watched {
    /// True when the hub answered and agreed with the checker.
    pub fn agrees(&self) -> bool {
        self.actual == Some(self.predicted)
    }

    /// One line for the terminal.
    pub fn line(&self) -> String {
        let id = self.id.as_ref().map_or("-".to_owned(), |i| i.0.clone());
        let actual = self.actual.map_or("no reply".to_owned(), |c| c.to_string());
        let verdict = match self.actual {
            None => "NO REPLY",
            Some(_) if self.agrees() => "AGREE",
            Some(_) => "DISAGREE",
        };
        let finding = self
            .finding
            .as_ref()
            .map(|f| format!("  {f}"))
            .unwrap_or_default();
        format!(
            "{verdict:<8}  {}  id {id}  predicted {}  hub {actual}{finding}",
            self.topic, self.predicted
        )
    }
}

/// Watches over `session` for `duration`, checking each request against `registry`.
/// `on_line` gets each watched message once its reply came (or when watching ends).
pub fn watch(
    session: &Session,
    mut registry: Registry,
    duration: Duration,
    mut on_line: impl FnMut(&Watched),
) -> Vec<Watched> {
    registry.logged_in.clear();
    for filter in watch_filters() {
        session.send(SessionCommand::Subscribe(filter));
    }
    let mut watched: Vec<Watched> = Vec::new();
    let mut open: HashMap<(String, MsgId), usize> = HashMap::new();
    // Requests without an id, per topic, oldest first: a reply without an id pairs with the oldest.
    let mut open_without_id: HashMap<String, VecDeque<usize>> = HashMap::new();
    let deadline = Instant::now() + duration;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            break;
        }
        let Ok(event) = session.events.recv_timeout(remaining) else {
            continue;
        };
        let SessionEvent::Message { topic, payload } = event else {
            if matches!(event, SessionEvent::Closed) {
                break;
            }
            continue;
        };
        let Some(parsed) = parse_topic(&topic) else {
            continue;
        };
        if parsed.reply {
            let request_topic = topic.trim_end_matches("_reply").to_owned();
            let Ok(reply) = parse_reply(&payload) else {
                continue;
            };
            let index = match reply.id {
                Some(id) => open.remove(&(request_topic, id)),
                None => open_without_id
                    .get_mut(&request_topic)
                    .and_then(VecDeque::pop_front),
            };
            if let Some(index) = index {
                let entry = &mut watched[index];
                entry.actual = Some(reply.code);
                on_line(entry);
            }
            continue;
        }
        let report = check(&registry, &topic, &payload);
        registry.apply(report.effect.as_ref());
        let entry = Watched {
            topic: topic.clone(),
            id: report.id.clone(),
            payload,
            predicted: report.code,
            finding: report.reply_message(),
            actual: None,
        };
        match &report.id {
            Some(id) => {
                open.insert((topic, id.clone()), watched.len());
            }
            None => open_without_id
                .entry(topic)
                .or_default()
                .push_back(watched.len()),
        }
        watched.push(entry);
    }
    let mut silent: Vec<usize> = open
        .into_values()
        .chain(open_without_id.into_values().flatten())
        .collect();
    silent.sort_unstable();
    for index in silent {
        on_line(&watched[index]);
    }
    watched
}

/// JUnit XML: one test case per watched message; it fails when the hub disagreed or was silent.
pub fn watch_junit(watched: &[Watched]) -> Result<String, String> {
    super::junit_report(
        "thingbench watch",
        watched.iter().enumerate().map(|(i, w)| {
            let id = w.id.as_ref().map_or("-".to_owned(), |id| id.0.clone());
            let actual = w.actual.map_or("no reply".to_owned(), |c| c.to_string());
            super::JunitCase {
                name: format!("{:04} id {id}", i + 1),
                classname: w.topic.clone(),
                failure: (!w.agrees()).then(|| format!("predicted {}, hub {actual}", w.predicted)),
                time: None,
            }
        }),
    )
}
