//! The rows a request and its ending leave in the timeline, one way for the window's own
//! requests, the suite's and the watched ones.

use std::time::Duration;

use crate::history::{NewRow, RowKind, Timeline};
use crate::model::CheckReport;
use crate::protocol::{DeviceId, EpochMs, ReplyCode, reply_topic};
use crate::workspace::{Expect, Fixture};

/// What came back for a request.
pub struct Reply<'a> {
    pub payload: &'a [u8],
    pub code: ReplyCode,
    pub message: Option<&'a str>,
    pub rtt: Duration,
}

/// Adds a request going out now, with what the checker says of it kept beside what the hub will
/// say; returns its row. Its device is `device`, or else the first its view speaks for.
pub fn push_request(
    timeline: &mut Timeline,
    device: Option<&DeviceId>,
    topic: &str,
    payload: &[u8],
    report: &CheckReport,
    note: &str,
) -> usize {
    timeline.push(
        EpochMs::now(),
        RowKind::Request,
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

/// Adds the reply to the request at row `request` on `topic`, and answers the request.
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
    let row = timeline.push(
        at,
        RowKind::Reply,
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
/// reply got, with its file's stem.
pub fn fixture_of_row(
    timeline: &Timeline,
    index: usize,
    gateway: &DeviceId,
) -> Option<(Fixture, String)> {
    let row = timeline.row(index).copied()?;
    let is_request =
        |kind: RowKind| matches!(kind, RowKind::Request | RowKind::Watched | RowKind::Dut);
    let partner = row.partner().and_then(|p| timeline.row(p).copied());
    let (request, reply) = if is_request(row.kind) {
        (Some(row), partner)
    } else {
        (partner, Some(row))
    };
    let request = request.filter(|r| is_request(r.kind))?;
    let code = reply.and_then(|r| r.code());
    let id = timeline
        .msg_id(&request)
        .unwrap_or_else(|| index.to_string());
    let name = format!(
        "timeline {id} {}",
        code.map_or("no reply".to_owned(), |c| c.to_string())
    );
    let fixture = Fixture::from_message(
        name,
        timeline.topic(&request),
        &timeline.payload(&request),
        Expect::code_or_silence(code),
        gateway,
    );
    Some((fixture, format!("timeline-{id}")))
}
