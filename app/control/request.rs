//! A request the window sends (as the gateway, or from the platform client), and what the rest
//! of the window hears when it ends.

use std::time::Duration;

use crate::model::SessionEffect;
use crate::protocol::{DeviceId, MsgId};
use crate::runner::Outcome;

use super::connection::{Purpose, Routed};
use super::draft::SendState;
use super::notice::Notice;

/// What the rest of the window hears of a request of `purpose` that ended with `outcome`, its
/// reply (and the topic it came on) when one came.
pub(super) fn routed_end(
    purpose: Purpose,
    outcome: Outcome,
    reply: Vec<u8>,
    reply_topic: Option<String>,
    effect: Option<SessionEffect>,
) -> Option<Routed> {
    match purpose {
        Purpose::Suite => Some(Routed::Suite {
            outcome,
            reply,
            reply_topic,
            effect,
        }),
        Purpose::Command => Some(Routed::Command {
            outcome,
            reply,
            reply_topic,
        }),
        Purpose::Draft => Some(Routed::Draft(match outcome {
            Outcome::Replied { code, message, rtt } => SendState::Replied { code, message, rtt },
            Outcome::NoReply { after } => SendState::NoReply(after),
            Outcome::Lost { reason }
            | Outcome::NotSent { reason }
            | Outcome::Skipped { reason } => SendState::Lost(reason),
        })),
        Purpose::Login(device, login) => match outcome {
            Outcome::Replied { code, message, .. } => Some(Routed::Login {
                device,
                login,
                code,
                message,
            }),
            Outcome::NoReply { after } => Some(Routed::Notice(Notice::error(format!(
                "no reply within {} ms",
                after.as_millis()
            )))),
            Outcome::Lost { .. } | Outcome::NotSent { .. } | Outcome::Skipped { .. } => None,
        },
    }
}

/// A request to send, and why.
pub struct Request {
    pub topic: String,
    pub payload: Vec<u8>,
    pub msg_id: Option<MsgId>,
    pub purpose: Purpose,
    /// The device of its timeline row (default: the first the request names).
    pub device: Option<DeviceId>,
    /// How long to wait for the reply (default: the form's timeout).
    pub timeout: Option<Duration>,
    /// Sent by the platform client (a command to a device), not as the gateway.
    pub platform: bool,
}
