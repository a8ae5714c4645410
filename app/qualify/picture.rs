//! A picture of a run, where a QA engineer would rather look than read: the plan's phases as
//! bands on the plan clock, the device's connects, disconnects and refused attempts, each
//! reporting device's posts on its own row (back-fills apart), the commands with their replies,
//! and each failed check's evidence pinned where it happened. Built once from the plan and the
//! record; the report draws it as SVG, the Qualify tab with egui_plot.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::model::{Registry, view};
use crate::protocol::{DeviceId, Method};

use super::checks::{CheckResult, Verdict};
use super::judge::{CommandStatus, Record, Seen, pair_replies};
use super::plan::{Answer, Network, Plan};

/// What a phase does, for its band's colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BandKind {
    Normal,
    /// A forced reply code.
    Code,
    /// No replies.
    Silent,
    /// The network down.
    Outage,
    /// Added latency.
    Slow,
}

/// One phase on the plan clock.
#[derive(Clone, Debug, PartialEq)]
pub struct Band {
    pub name: String,
    pub from_ms: u64,
    pub to_ms: u64,
    pub kind: BandKind,
    /// What the phase does: `normal`, `network down`...
    pub words: String,
}

/// What a mark shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarkKind {
    /// A post naming the lane's device, when the proxy saw it.
    Post,
    /// A post back-filling a silent or outage phase for the lane's device (resume batch, or an
    /// element timed in such a phase, sent after it).
    Backfill,
    /// A CONNECT accepted.
    Connect,
    /// A connection ended.
    Disconnect,
    /// A CONNECT refused (CONNACK 5).
    Refused,
    /// A connection attempt closed while the network was down.
    Attempt,
    /// A command answered as it should be, from its sending to its reply.
    CommandAnswered,
    /// A command answered with a wrong code or a faulty reply.
    CommandFaulty,
    /// A command sent and not answered (yet, or within its timeout).
    CommandUnanswered,
    /// A command held while its target was offline, from its time to its sending (or the end).
    CommandHeld,
}

/// One thing seen, on a lane.
#[derive(Clone, Debug, PartialEq)]
pub struct Mark {
    pub at_ms: u64,
    /// Where a mark with a length ends: a command's reply, a hold's end.
    pub to_ms: Option<u64>,
    pub kind: MarkKind,
    /// What it is, for a tooltip.
    pub text: String,
}

/// One row of the picture.
#[derive(Clone, Debug, PartialEq)]
pub struct Lane {
    pub label: String,
    pub marks: Vec<Mark>,
}

/// A failed check's evidence, where it happened.
#[derive(Clone, Debug, PartialEq)]
pub struct Pin {
    /// Numbered from 1, in time order, for the caption.
    pub number: usize,
    pub at_ms: u64,
    pub check: &'static str,
    pub text: String,
}

/// The picture of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Picture {
    /// The plan's length: the clock runs from 0 to here.
    pub length_ms: u64,
    /// While the plan runs, how far it got.
    pub now_ms: Option<u64>,
    pub bands: Vec<Band>,
    /// The connection's lane, each reporting device's, then the commands'.
    pub lanes: Vec<Lane>,
    pub pins: Vec<Pin>,
}

/// The label of the connection's lane.
pub const CONNECTION_LANE: &str = "connection";
/// The label of the commands' lane.
pub const COMMANDS_LANE: &str = "commands";

impl Picture {
    /// The picture of `record`, a run of `plan` judged `results`, `now_ms` into the plan
    /// (`None`: the plan is over).
    pub fn of_run(
        plan: &Plan,
        registry: &Registry,
        record: &Record,
        results: &[CheckResult],
        now_ms: Option<u64>,
    ) -> Self {
        let bands = plan
            .schedule()
            .map(|(_, phase, begins)| Band {
                name: phase.name.clone(),
                from_ms: ms(begins),
                to_ms: ms(begins + phase.length),
                kind: if phase.network == Network::Down {
                    BandKind::Outage
                } else if phase.answer == Answer::None {
                    BandKind::Silent
                } else if matches!(phase.answer, Answer::Code(_)) {
                    BandKind::Code
                } else if !phase.delay.is_zero() {
                    BandKind::Slow
                } else {
                    BandKind::Normal
                },
                words: phase.describe(),
            })
            .collect();
        let mut lanes = vec![Lane {
            label: CONNECTION_LANE.into(),
            marks: connection_marks(record),
        }];
        lanes.extend(device_lanes(plan, record));
        if !record.commands.is_empty() {
            lanes.push(Lane {
                label: COMMANDS_LANE.into(),
                marks: command_marks(plan, registry, record, now_ms),
            });
        }
        let mut pins: Vec<Pin> = results
            .iter()
            .filter(|r| r.verdict == Verdict::Fail)
            .flat_map(|r| {
                r.evidence.iter().map(|e| Pin {
                    number: 0,
                    at_ms: e.at_ms,
                    check: r.check.id(),
                    text: e.text.clone(),
                })
            })
            .collect();
        pins.sort_by_key(|p| p.at_ms);
        for (i, pin) in pins.iter_mut().enumerate() {
            pin.number = i + 1;
        }
        Self {
            length_ms: ms(plan.length()),
            now_ms,
            bands,
            lanes,
            pins,
        }
    }
}

fn connection_marks(record: &Record) -> Vec<Mark> {
    record
        .seen
        .iter()
        .filter_map(|seen| {
            let (at_ms, kind, text) = match seen {
                Seen::Connect {
                    at_ms,
                    conn,
                    signed: Ok(()),
                } => (
                    *at_ms,
                    MarkKind::Connect,
                    format!("connection {conn} accepted"),
                ),
                Seen::Connect {
                    at_ms,
                    conn,
                    signed: Err(why),
                } => (
                    *at_ms,
                    MarkKind::Refused,
                    format!("connection {conn} refused with CONNACK 5: {why}"),
                ),
                Seen::Disconnect { at_ms, conn, .. } => (
                    *at_ms,
                    MarkKind::Disconnect,
                    format!("connection {conn} ended"),
                ),
                Seen::Attempt { at_ms } => (
                    *at_ms,
                    MarkKind::Attempt,
                    "a connection attempt while the network was down".into(),
                ),
                Seen::Tls(tls) => match &tls.handshake {
                    Err(failure) => (
                        tls.at_ms,
                        MarkKind::Refused,
                        format!("TLS handshake failed: {failure}"),
                    ),
                    Ok(()) => return None,
                },
                Seen::Request(_) | Seen::Link(_) => return None,
            };
            Some(Mark {
                at_ms,
                to_ms: None,
                kind,
                text,
            })
        })
        .collect()
}

/// One lane per reporting device, the gateway first: a mark per post naming it.
fn device_lanes(plan: &Plan, record: &Record) -> Vec<Lane> {
    // Silent and outage phases in epoch ms: an element timed in one, posted after it, back-fills.
    let windows: Vec<(i64, i64)> = plan
        .schedule()
        .filter(|(_, phase, _)| phase.wants_backfill())
        .map(|(_, phase, begins)| {
            let from = record.start_epoch_ms + epoch(begins);
            (from, from + epoch(phase.length))
        })
        .collect();
    let mut lanes: BTreeMap<(bool, String), Vec<Mark>> = BTreeMap::new();
    for seen in &record.seen {
        let Seen::Request(request) = seen else {
            continue;
        };
        let read = view(&request.topic, &request.payload);
        let Some(method) = read.method.filter(|m| m.carries_points()) else {
            continue;
        };
        let arrived = record.start_epoch_ms + i64::try_from(request.at_ms).unwrap_or(i64::MAX);
        let mut devices: BTreeMap<DeviceId, bool> = BTreeMap::new();
        for element in &read.elements {
            let backfill = method == Method::ResumeBatch
                || element.time.is_some_and(|t| {
                    windows
                        .iter()
                        .any(|(from, to)| (*from..*to).contains(&t.0) && arrived >= *to)
                });
            *devices.entry(element.device.clone()).or_default() |= backfill;
        }
        for (device, backfill) in devices {
            let row = request
                .row
                .map_or(String::new(), |r| format!("request #{r}: "));
            let (kind, what) = if backfill {
                (MarkKind::Backfill, "back-fill")
            } else {
                (MarkKind::Post, "post")
            };
            let key = (device != plan.device, device.to_string());
            lanes.entry(key).or_default().push(Mark {
                at_ms: request.at_ms,
                to_ms: None,
                kind,
                text: format!("{row}{what} for {device} on {}", request.topic),
            });
        }
    }
    lanes
        .into_iter()
        .map(|((_, label), marks)| Lane { label, marks })
        .collect()
}

fn command_marks(
    plan: &Plan,
    registry: &Registry,
    record: &Record,
    now_ms: Option<u64>,
) -> Vec<Mark> {
    let end = now_ms.unwrap_or_else(|| ms(plan.length()));
    let mut marks = Vec::new();
    for exchange in pair_replies(registry, record) {
        let command = &exchange.command;
        let asked = command.asked(plan);
        let name = format!("{} {asked} to {}", command.place(), command.target);
        let status = exchange.status(plan, now_ms);
        if command.held {
            let held_until = command.delivered_ms.unwrap_or(end);
            marks.push(Mark {
                at_ms: command.due_ms,
                to_ms: Some(held_until),
                kind: MarkKind::CommandHeld,
                text: format!("{name}: held while its target was offline"),
            });
        }
        let Some(sent) = command.delivered_ms else {
            continue;
        };
        let reply = exchange.replies.first();
        let faulty = !exchange.answered_well();
        let kind = match (&status, faulty) {
            (CommandStatus::Answered(_), false) => MarkKind::CommandAnswered,
            (CommandStatus::Answered(_), true) => MarkKind::CommandFaulty,
            _ => MarkKind::CommandUnanswered,
        };
        marks.push(Mark {
            at_ms: sent,
            to_ms: reply.map(|r| r.at_ms),
            kind,
            text: format!("{name}: {}", status.words()),
        });
    }
    marks
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn epoch(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::json;

    use super::*;
    use crate::qualify::{SeenRequest, SentCommand, judge};
    use crate::workspace::{LoginState, Workspace};

    const START: i64 = 1_700_000_000_000;

    #[test]
    fn the_picture_has_a_band_per_phase_a_lane_per_device_and_pins_where_checks_failed() {
        let ws = Workspace::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures"))
            .expect("the sample workspace loads");
        let text = br#"{"name": "p", "device": "gwPk/gw01", "periodS": 1, "commandTimeoutS": 1,
            "phases": [{"name": "steady", "forS": 2, "commands": [
                         {"atS": 0.5, "device": "gwPk/gw01", "get": ["cpuLoad"]}]},
                       {"name": "outage", "forS": 2, "network": "down", "commands": [
                         {"atS": 0.5, "device": "invPk/inv01", "get": ["Power"]}]},
                       {"name": "after", "forS": 2}]}"#;
        let plan = Plan::from_slice(Path::new("plans/p.json"), text, &ws).expect("a plan");
        let mut record = Record {
            start_epoch_ms: START,
            seen: Vec::new(),
            commands: SentCommand::all_of(&plan),
        };
        record.commands[0].delivered_ms = Some(500);
        record.commands[1].held = true;
        let request = |at_ms: u64, row: usize, topic: &str, body: serde_json::Value| {
            Seen::Request(SeenRequest {
                at_ms,
                conn: 1,
                row: Some(row),
                topic: topic.into(),
                payload: body.to_string().into_bytes(),
                answered: Some(crate::protocol::ReplyCode(200)),
            })
        };
        let post = |time: i64| {
            json!({"id": "1", "version": "1.0", "method": "thing.measurepoint.post.batch",
                   "params": [{"time": START + time, "measurepoints": {"cpuLoad": 1.5}}]})
        };
        record.seen = vec![
            Seen::Connect {
                at_ms: 0,
                conn: 1,
                signed: Ok(()),
            },
            request(
                100,
                1,
                "/sys/gwPk/gw01/thing/measurepoint/post/batch",
                post(100),
            ),
            request(
                520,
                2,
                "/sys/gwPk/gw01/thing/service/measurepoint/get_reply",
                json!({"id": "700001", "code": 500, "data": null}),
            ),
            Seen::Disconnect {
                at_ms: 2_000,
                conn: 1,
                departed: true,
            },
            Seen::Attempt { at_ms: 2_500 },
            Seen::Connect {
                at_ms: 4_100,
                conn: 2,
                signed: Ok(()),
            },
            // A back-fill of the outage, and a post of now.
            request(
                4_200,
                3,
                "/sys/gwPk/gw01/thing/measurepoint/post/batch",
                post(3_000),
            ),
            request(
                4_300,
                4,
                "/sys/gwPk/gw01/thing/measurepoint/post/batch",
                post(4_300),
            ),
        ];
        let registry = ws.registry(&LoginState::Only(Vec::new()));
        let results = judge(&plan, &registry, &record);
        let picture = Picture::of_run(&plan, &registry, &record, &results, None);
        assert_eq!(picture.length_ms, 6_000);
        let kinds: Vec<BandKind> = picture.bands.iter().map(|b| b.kind).collect();
        assert_eq!(
            kinds,
            [BandKind::Normal, BandKind::Outage, BandKind::Normal]
        );
        let labels: Vec<&str> = picture.lanes.iter().map(|l| l.label.as_str()).collect();
        assert_eq!(labels, [CONNECTION_LANE, "gwPk/gw01", COMMANDS_LANE]);
        let kinds = |lane: usize| -> Vec<MarkKind> {
            picture.lanes[lane].marks.iter().map(|m| m.kind).collect()
        };
        assert_eq!(
            kinds(0),
            [
                MarkKind::Connect,
                MarkKind::Disconnect,
                MarkKind::Attempt,
                MarkKind::Connect
            ]
        );
        assert_eq!(
            kinds(1),
            [MarkKind::Post, MarkKind::Backfill, MarkKind::Post]
        );
        // The get answered 500; inv01's get was held to the end (never logged in).
        assert_eq!(kinds(2), [MarkKind::CommandFaulty, MarkKind::CommandHeld]);
        assert_eq!(picture.lanes[2].marks[0].to_ms, Some(520));
        assert_eq!(picture.lanes[2].marks[1].to_ms, Some(6_000));
        // reply-codes failed at the reply, pinned there.
        let pins: Vec<(u64, &str)> = picture.pins.iter().map(|p| (p.at_ms, p.check)).collect();
        assert!(pins.contains(&(520, "reply-codes")), "{pins:?}");
        assert_eq!(picture.pins[0].number, 1);
    }
}
