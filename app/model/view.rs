//! One parsed view of a request: its id, method, the devices it speaks for, each element's
//! time and points, a command's target and params, an event's id and outputs. Made once by the
//! checker ([`super::check`] keeps it in its report) or without the findings by [`view`], with
//! the same code and the same rules, and read by coverage, the plot, watch, qualify's judge and
//! the timeline instead of walking the JSON again.

use serde_json::{Map, Value};

use crate::protocol::{DeviceId, EpochMs, Method, MsgId};

/// A request as read once.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RequestView {
    /// The request's id: a string as sent, an integer in decimal.
    pub id: Option<MsgId>,
    /// The topic's method; `None` off the protocol's topics.
    pub method: Option<Method>,
    /// The device of the topic: the connected gateway or device, or a command's target.
    pub device: Option<DeviceId>,
    /// The elements of a batch's (or resume batch's) `params`, or a single post's one, in
    /// order. An element that is not a JSON object is left out: it names nothing.
    pub elements: Vec<ElementView>,
    /// The device a login or logout names by its `params`, when both keys are readable.
    pub session_device: Option<DeviceId>,
    /// An event post's event.
    pub event: Option<EventView>,
    /// A command to a device.
    pub command: Option<CommandView>,
}

/// One element of a post: one device at one time.
#[derive(Clone, Debug, PartialEq)]
pub struct ElementView {
    /// Its place in `params`; `None` for a single post, whose `params` is one object.
    pub index: Option<usize>,
    /// The device it reports for: its `productKey` and `deviceKey`, or the topic's device when
    /// they are absent or empty (or not both readable: then the element is not well formed).
    pub device: DeviceId,
    /// Its `time`, when that is an integer; absent means the hub's time.
    pub time: Option<EpochMs>,
    /// Its `measurepoints` as written (a value, or `{value, quality}`); empty when missing or
    /// not an object.
    pub points: Map<String, Value>,
    /// False when its shape is wrong (the hub answers 1206): a key that is not a string, one
    /// key without the other, a `time` that is not an integer, `measurepoints` missing or not
    /// an object. Its points are then not checked.
    pub well_formed: bool,
}

/// An event post: `/sys/{pk}/{dk}/thing/event/{eventId}/post`.
#[derive(Clone, Debug, PartialEq)]
pub struct EventView {
    /// The event id, from the topic.
    pub event: String,
    /// `params.events` as written; empty when missing or not an object.
    pub outputs: Map<String, Value>,
    /// `params.time`, when that is an integer.
    pub time: Option<EpochMs>,
}

/// A command from the platform to a device.
#[derive(Clone, Debug, PartialEq)]
pub struct CommandView {
    /// The device the command is for (the topic's).
    pub target: DeviceId,
    pub kind: CommandKind,
}

/// What a command asks, with its params as written.
#[derive(Clone, Debug, PartialEq)]
pub enum CommandKind {
    /// `thing.service.measurepoint.set`: point id → value; empty when `params` is not an object.
    Set(Map<String, Value>),
    /// `thing.service.measurepoint.get`: the point ids asked for (those that are strings).
    Get(Vec<String>),
    /// `thing.service.{serviceId}`: the service and its inputs by id.
    Invoke {
        service: String,
        params: Map<String, Value>,
    },
}

impl CommandKind {
    /// The method of the command.
    pub fn method(&self) -> Method {
        match self {
            Self::Set(_) => Method::SetPoints,
            Self::Get(_) => Method::GetPoints,
            Self::Invoke { .. } => Method::Invoke,
        }
    }
}

impl RequestView {
    /// The devices the request speaks for, in order and without repeats next to each other:
    /// each element's device, else the device a login names, else the topic's device. Empty off
    /// the protocol's topics.
    pub fn devices(&self) -> Vec<DeviceId> {
        let mut devices: Vec<DeviceId> = self.elements.iter().map(|e| e.device.clone()).collect();
        devices.dedup();
        if devices.is_empty()
            && let Some(device) = self.session_device.as_ref().or(self.device.as_ref())
        {
            devices.push(device.clone());
        }
        devices
    }

    /// The first device the request speaks for (see [`RequestView::devices`]).
    pub fn first_device(&self) -> Option<&DeviceId> {
        self.elements
            .first()
            .map(|e| &e.device)
            .or(self.session_device.as_ref())
            .or(self.device.as_ref())
    }
}

/// The view of `payload` published on `topic`, read as the checker reads it but without a
/// registry: no size limit, and no device or value is looked up. For a reader with no
/// [`super::CheckReport`] at hand.
pub fn view(topic: &str, payload: &[u8]) -> RequestView {
    super::check::read(topic, payload)
}
