//! The rows a request and its ending leave in the timeline, one way for the window's own
//! requests, the suite's and the watched ones.

use std::time::Duration;

use crate::history::{NewRow, RowKind, Timeline};
use crate::model::CheckReport;
use crate::protocol::{DeviceId, EpochMs, ReplyCode, reply_topic};
use crate::workspace::{Command, Expect, Fixture, FixtureBody};

/// What came back for a request.
pub struct Reply<'a> {
    pub payload: &'a [u8],
    pub code: ReplyCode,
    pub message: Option<&'a str>,
    pub rtt: Duration,
}

/// Adds a request going out now (a command when `command`, sent by the platform side), with what
/// the checker says of it kept beside what the hub (or device) will say; returns its row. Its
/// device is `device`, or else the first its view speaks for.
pub fn push_request(
    timeline: &mut Timeline,
    device: Option<&DeviceId>,
    topic: &str,
    payload: &[u8],
    report: &CheckReport,
    note: &str,
    command: bool,
) -> usize {
    let kind = if command {
        RowKind::Command
    } else {
        RowKind::Request
    };
    timeline.push(
        EpochMs::now(),
        kind,
        NewRow {
            device: device.or(report.view.first_device()),
            topic,
            payload,
            predicted: Some(report.code),
            note,
            ..NewRow::default()
        },
    )
}

/// Adds the reply to the request at row `request` on `topic` (a command reply to a command), and
/// answers the request.
pub fn push_reply(
    timeline: &mut Timeline,
    request: usize,
    device: Option<&DeviceId>,
    topic: &str,
    reply: &Reply<'_>,
) {
    // The window may read events a frame late: date the reply by its round trip.
    let sent_at = timeline.row(request).map_or(EpochMs::now(), |r| r.at);
    let at = EpochMs(sent_at.0 + i64::try_from(reply.rtt.as_millis()).unwrap_or(0));
    let kind = match timeline.row(request).map(|r| r.kind) {
        Some(RowKind::Command) => RowKind::CommandReply,
        _ => RowKind::Reply,
    };
    let row = timeline.push(
        at,
        kind,
        NewRow {
            device,
            topic: &reply_topic(topic),
            payload: reply.payload,
            code: Some(reply.code),
            predicted: None,
            rtt: Some(reply.rtt),
            partner: Some(request),
            note: reply.message.unwrap_or_default(),
        },
    );
    timeline.answer(request, row, Some(reply.code), Some(reply.rtt));
}

/// Ends the request at row `request`, on `topic` for `device`, that got no reply: a row of
/// `kind` beside it, each the other's partner.
pub fn end_unanswered(
    timeline: &mut Timeline,
    request: usize,
    device: Option<&DeviceId>,
    topic: &str,
    kind: RowKind,
    note: &str,
) {
    let row = timeline.push(
        EpochMs::now(),
        kind,
        NewRow {
            device,
            topic,
            partner: Some(request),
            note,
            ..NewRow::default()
        },
    );
    timeline.answer(request, row, None, None);
}

/// A row for a connection event (connected, lost), with its words.
pub fn push_event(timeline: &mut Timeline, kind: RowKind, note: &str) -> usize {
    timeline.push(
        EpochMs::now(),
        kind,
        NewRow {
            note,
            ..NewRow::default()
        },
    )
}

/// The request of timeline row `index` (or of its partner) as a fixture expecting the code its
/// reply got, with its file's stem: a command fixture for a command.
pub fn fixture_of_row(
    timeline: &Timeline,
    index: usize,
    gateway: &DeviceId,
) -> Option<(Fixture, String)> {
    let row = timeline.row(index).copied()?;
    let is_request = |kind: RowKind| {
        matches!(
            kind,
            RowKind::Request | RowKind::Watched | RowKind::Dut | RowKind::Command
        )
    };
    let partner = row.partner().and_then(|p| timeline.row(p).copied());
    let (request, reply) = if is_request(row.kind) {
        (Some(row), partner)
    } else {
        (partner, Some(row))
    };
    let request = request.filter(|r| is_request(r.kind))?;
    let code = reply.and_then(|r| timeline.code(&r));
    let id = timeline
        .msg_id(&request)
        .unwrap_or_else(|| index.to_string());
    let (topic, payload) = (timeline.topic(&request), timeline.payload(&request));
    let command = (request.kind == RowKind::Command)
        .then(|| crate::model::view(topic, &payload).command)
        .flatten();
    let what = if command.is_some() {
        "command"
    } else {
        "timeline"
    };
    let name = format!(
        "{what} {id} {}",
        code.map_or("no reply".to_owned(), |c| c.to_string())
    );
    let expect = Expect::code_or_silence(code);
    let fixture = match command {
        Some(view) => {
            let command = Command {
                device: view.target,
                kind: view.kind,
            };
            Fixture {
                name,
                topic: None,
                login: None,
                body: FixtureBody::Command(command),
                expect,
                send_oversize: false,
                extra: serde_json::Map::new(),
            }
        }
        None => Fixture::from_message(name, topic, &payload, expect, gateway),
    };
    Some((fixture, format!("{what}-{id}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Registry, check};

    #[test]
    fn a_command_row_and_its_reply_save_as_a_command_fixture_expecting_the_devices_code() {
        let mut timeline = Timeline::default();
        let topic = "/sys/invPk/inv01/thing/service/measurepoint/set";
        let payload = br#"{"id":"41","version":"1.0","method":"thing.service.measurepoint.set","params":{"Power":4.5}}"#;
        let report = check(&Registry::default(), topic, payload);
        let device = DeviceId::new("invPk", "inv01");
        let row = push_request(
            &mut timeline,
            Some(&device),
            topic,
            payload,
            &report,
            "",
            true,
        );
        let reply = Reply {
            payload: br#"{"id":"41","code":2001,"data":{}}"#,
            code: ReplyCode(2001),
            message: None,
            rtt: std::time::Duration::from_millis(3),
        };
        push_reply(&mut timeline, row, Some(&device), topic, &reply);
        let kinds: Vec<_> = (0..timeline.len())
            .filter_map(|i| timeline.row(i).map(|r| r.kind))
            .collect();
        assert_eq!(kinds, [RowKind::Command, RowKind::CommandReply]);
        assert_eq!(RowKind::Command.name(), "command");
        assert_eq!(RowKind::CommandReply.name(), "command reply");
        // The direction filter: a command goes out, its reply comes in.
        assert_eq!(RowKind::Command.direction(), crate::history::Direction::Out);
        assert_eq!(
            RowKind::CommandReply.direction(),
            crate::history::Direction::In
        );
        let gateway = DeviceId::new("gwPk", "gw01");
        // From either row: the command, expecting the device's code.
        for index in [row, row + 1] {
            let (fixture, stem) = fixture_of_row(&timeline, index, &gateway).expect("a fixture");
            assert_eq!(stem, "command-41");
            assert_eq!(fixture.expect.code, Some(ReplyCode(2001)));
            let json = fixture.to_json();
            assert_eq!(
                json["command"],
                serde_json::json!({"device": "invPk/inv01", "set": {"Power": 4.5}})
            );
            assert!(json.get("request").is_none() && json.get("topic").is_none());
        }
    }
}
