//! The timeline's rows: what each records, kept small and fixed-size, and a new row before it is
//! stored.

use std::time::Duration;

use crate::protocol::{DeviceId, EpochMs, ReplyCode};

use super::arena::Span;

/// What a row records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum RowKind {
    /// A request we sent.
    Request,
    /// A reply paired with its request.
    Reply,
    /// A reply that pairs with nothing.
    Unpaired,
    /// A request whose reply did not come in time.
    NoReply,
    /// A request that ended without a reply because the connection went.
    Lost,
    /// The session connected.
    Connected,
    /// The session lost its connection or could not connect.
    Disconnected,
    /// A request seen on the broker while watching, checked on arrival.
    Watched,
    /// The hub's reply to a watched request.
    WatchedReply,
    /// A request of the device under test, in a qualification, with the code it was answered.
    Dut,
    /// A CONNECT the embedded broker refused (a workspace device's signature did not match).
    Refused,
    /// A command the platform side sent to a device.
    Command,
    /// A device's reply to a command, paired with it.
    CommandReply,
}

impl RowKind {
    /// The name shown in the window and in exports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::Reply => "reply",
            Self::Unpaired => "unpaired reply",
            Self::NoReply => "no reply",
            Self::Lost => "lost",
            Self::Connected => "connected",
            Self::Disconnected => "disconnected",
            Self::Watched => "watched request",
            Self::WatchedReply => "watched reply",
            Self::Dut => "dut",
            Self::Refused => "refused",
            Self::Command => "command",
            Self::CommandReply => "command reply",
        }
    }

    /// Which way the row went.
    pub fn direction(self) -> Direction {
        match self {
            Self::Request | Self::Command => Direction::Out,
            Self::Reply
            | Self::Unpaired
            | Self::Watched
            | Self::WatchedReply
            | Self::Dut
            | Self::CommandReply => Direction::In,
            Self::NoReply | Self::Lost | Self::Connected | Self::Disconnected | Self::Refused => {
                Direction::Event
            }
        }
    }
}

/// Which way a row went, for the direction filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Direction {
    /// Sent by the window (as the gateway, or as the platform: a command).
    Out,
    /// Received from the broker.
    In,
    /// Neither: a timeout or a connection event.
    Event,
}

/// A string kept once; rows hold its number.
pub(super) type Sym = u32;
pub(super) const NO_SYM: Sym = u32::MAX;
pub(super) const NO_ROW: u32 = u32::MAX;

/// One timeline row, small and fixed-size.
#[derive(Clone, Copy, Debug)]
pub struct Row {
    /// When the row was recorded.
    pub at: EpochMs,
    /// What the row records.
    pub kind: RowKind,
    pub(super) device: Sym,
    pub(super) topic: Sym,
    /// The reply code as sent, whatever its sign or size ([`NO_CODE`] when the row has none,
    /// [`WIDE_CODE`] when it does not fit in 32 bits: the reply's payload has it).
    pub(super) code: i32,
    /// The checker's code for a request; 0 when not checked.
    pub(super) predicted: u16,
    /// Round trip in microseconds; `u32::MAX` when unknown.
    pub(super) rtt_us: u32,
    pub(super) partner: u32,
    pub(super) payload: Span,
    /// A note in words (why a reply paired with nothing, why the connection dropped), as an
    /// index into the notes; most rows have none.
    pub(super) note: u32,
}

impl Row {
    /// The reply code, for replies and for requests once answered; `None` too for a code that
    /// does not fit in 32 bits, which [`super::Timeline::code`] reads from the reply.
    pub fn code(&self) -> Option<ReplyCode> {
        (self.code > WIDE_CODE).then_some(ReplyCode(i64::from(self.code)))
    }

    /// True when the reply's code does not fit in 32 bits (beyond ±2,147,483,647).
    pub fn has_wide_code(&self) -> bool {
        self.code == WIDE_CODE
    }

    /// The code the checker predicted, for checked requests.
    pub fn predicted(&self) -> Option<ReplyCode> {
        (self.predicted != 0).then_some(ReplyCode(i64::from(self.predicted)))
    }

    /// The round trip, for replies and answered requests.
    pub fn rtt(&self) -> Option<Duration> {
        (self.rtt_us != u32::MAX).then(|| Duration::from_micros(u64::from(self.rtt_us)))
    }

    /// The row at the other end of the exchange.
    pub fn partner(&self) -> Option<usize> {
        (self.partner != NO_ROW).then_some(self.partner as usize)
    }
}

/// A new row, before it is stored.
#[derive(Clone, Debug, Default)]
pub struct NewRow<'a> {
    /// The device it is for, when it names one.
    pub device: Option<&'a DeviceId>,
    /// Its topic; empty for connection events.
    pub topic: &'a str,
    /// Its payload, as sent or received.
    pub payload: &'a [u8],
    /// The reply code, for replies.
    pub code: Option<ReplyCode>,
    /// The checker's code, for checked requests.
    pub predicted: Option<ReplyCode>,
    /// The round trip, for replies.
    pub rtt: Option<Duration>,
    /// The row at the other end of the exchange.
    pub partner: Option<usize>,
    /// Why it happened, in words; empty for most rows.
    pub note: &'a str,
}

/// [`Row`]'s code when it has none.
pub(super) const NO_CODE: i32 = i32::MIN;
/// [`Row`]'s code when it does not fit in 32 bits: the reply's payload holds it. Codes that
/// large are rare enough to be read again from the reply when shown.
pub(super) const WIDE_CODE: i32 = i32::MIN + 1;

/// A reply code as a row stores it: every code of 32 bits as it is, negative ones too.
pub(super) fn code_i32(code: Option<ReplyCode>) -> i32 {
    match code {
        None => NO_CODE,
        Some(code) => i32::try_from(code.0)
            .ok()
            .filter(|c| *c > WIDE_CODE)
            .unwrap_or(WIDE_CODE),
    }
}

/// A code the checker predicts: always one of the table's, so 16 bits hold it (0: none).
pub(super) fn code_u16(code: Option<ReplyCode>) -> u16 {
    code.and_then(|c| u16::try_from(c.0).ok()).unwrap_or(0)
}

pub(super) fn rtt_u32(rtt: Option<Duration>) -> u32 {
    rtt.map_or(u32::MAX, |d| {
        d.as_micros().min(u128::from(u32::MAX - 1)) as u32
    })
}
