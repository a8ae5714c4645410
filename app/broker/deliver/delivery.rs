//! What the door keeps for a delivered device's connection: the subscriptions it holds (its
//! own and the device's), the sub-devices logged in on it, the logins and logouts waiting for
//! their replies, and the copies to hold back (`deliver.rs` says why).

use std::collections::{HashMap, HashSet, VecDeque};

use serde_json::{Map, Value};

use crate::protocol::{DeviceId, MsgId, id_of};
use crate::transport::{OwnPublishes, fingerprint};

use super::super::mqtt_frame::Packet;
use super::super::mqtt_packets::{Publish, subscription_into};
use super::topics::{covers, filters_of, matches, valid_filter, wants_reply};

/// The door's ids for its own subscriptions: the top of the range, away from the SDKs'.
const DOOR_PKIDS: std::ops::RangeInclusive<u16> = 0xFF00..=0xFFFF;

/// How many messages delivered through overlapping subscriptions are remembered, to hold back
/// their other copies.
const COPIES_KEPT: usize = 64;

/// How many logins and logouts of the connection may wait for their replies.
const SESSIONS_KEPT: usize = 64;

/// How many reply topics the door subscribes to for one connection: a device that posts to
/// more distinct topics must subscribe to the rest itself.
const REPLIES_KEPT: usize = 1024;

/// The options of the door's own subscriptions: QoS 1; in MQTT 5 also "no local".
fn door_options(v5: bool) -> u8 {
    if v5 { 0x05 } else { 0x01 }
}

/// A connection of a device that gets delivery.
pub(super) struct Delivery {
    /// The gateway or directly connected device.
    pub(super) device: DeviceId,
    /// Filters the door holds at the broker for the device and its sub-devices.
    pub(super) door_filters: Vec<String>,
    /// Reply topics the door holds at the broker, for requests the device sent. (Both sets of
    /// topics are asked of each message that passes, and kept to a bound: a fast hash.)
    pub(super) replies: HashSet<String, foldhash::fast::RandomState>,
    /// Request topics whose replies come to the connection (through the door's subscription
    /// or the device's own), as far as the door knows.
    pub(super) ensured: HashSet<String, foldhash::fast::RandomState>,
    /// The device's own filters that the door answered (its own cover them).
    pub(super) local_filters: Vec<String>,
    /// The device's own filters the broker holds.
    pub(super) device_filters: Vec<String>,
    /// Sub-devices logged in on this connection: the door's SUBSCRIBE for each, and whether
    /// it holds yet.
    pub(super) subs: HashMap<DeviceId, (u16, bool)>,
    /// Subscriptions and unsubscriptions sent to the broker, in order, until answered.
    pub(super) outstanding: VecDeque<Outstanding>,
    pub(super) next_pkid: u16,
    /// Logins and logouts sent on this connection, until their replies.
    pub(super) sessions: VecDeque<(Option<MsgId>, SessionKind, DeviceId)>,
    /// Messages delivered through overlapping subscriptions, and how many more copies of each
    /// to hold back.
    pub(super) copies: VecDeque<(u64, usize)>,
    /// Whether the door subscribed for the device (after CONNACK 0).
    pub(super) subscribed: bool,
    /// What the device published on topics its own filters match, by topic and payload.
    pub(super) published: OwnPublishes,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum SessionKind {
    Login,
    Logout,
}

/// What an accepted login or logout of a sub-device does.
pub(super) enum Session {
    /// The door subscribes to the sub-device with this SUBSCRIBE.
    Subscribing(u16),
    /// The sub-device, online until now, left.
    Left(DeviceId),
}

/// A SUBSCRIBE or UNSUBSCRIBE in flight to the broker.
pub(super) struct Outstanding {
    pub(super) subscribe: bool,
    pub(super) pkid: u16,
    pub(super) owner: Owner,
}

pub(super) enum Owner {
    /// The door's own.
    Door,
    /// The device's, forwarded whole.
    Device,
    /// The device's, with the filters the door answered left out: their positions in the
    /// device's packet and the codes the door gives them.
    Spliced {
        total: usize,
        local: Vec<(usize, u8)>,
    },
}

impl Delivery {
    /// Delivery to `device`'s connection, before anything was subscribed.
    pub(super) fn new(device: DeviceId) -> Self {
        Self {
            device,
            door_filters: Vec::new(),
            replies: HashSet::default(),
            ensured: HashSet::default(),
            local_filters: Vec::new(),
            device_filters: Vec::new(),
            subs: HashMap::new(),
            outstanding: VecDeque::new(),
            next_pkid: *DOOR_PKIDS.end(),
            sessions: VecDeque::new(),
            copies: VecDeque::new(),
            subscribed: false,
            published: OwnPublishes::default(),
        }
    }

    /// Whether the door's own filters cover every topic `filter` matches.
    pub(super) fn covers(&self, filter: &str) -> bool {
        valid_filter(filter)
            && (self.replies.contains(filter)
                || self.door_filters.iter().any(|own| covers(own, filter)))
    }

    /// How many of the door's own filters match `topic`.
    fn door_matches(&self, topic: &str) -> usize {
        let filters = self
            .door_filters
            .iter()
            .filter(|f| matches(topic, f))
            .count();
        filters + usize::from(self.replies.contains(topic))
    }

    /// A door id not in flight now (or, should the broker leave 256 unanswered, the next).
    pub(super) fn pkid(&mut self) -> u16 {
        for _ in DOOR_PKIDS {
            let pkid = self.next_pkid;
            self.next_pkid = if pkid == *DOOR_PKIDS.start() {
                *DOOR_PKIDS.end()
            } else {
                pkid - 1
            };
            if !self.outstanding.iter().any(|o| o.pkid == pkid) {
                return pkid;
            }
        }
        self.next_pkid
    }

    /// Before the device's publish on `topic` goes on: makes sure its reply comes back to the
    /// connection, subscribing to the reply topic (ahead of the publish, which the broker
    /// takes in order) when neither the door's filters nor the device's own bring it.
    pub(super) fn ensure_reply(&mut self, topic: &str, to_broker: &mut Vec<u8>, v5: bool) {
        if self.ensured.contains(topic) || !wants_reply(topic) {
            return;
        }
        let reply = crate::protocol::reply_topic(topic);
        if !self.covers(&reply) && !self.asked(&reply) {
            if self.replies.len() == REPLIES_KEPT {
                return;
            }
            let pkid = self.pkid();
            subscription_into(
                to_broker,
                true,
                pkid,
                std::slice::from_ref(&reply),
                door_options(v5),
                v5,
            );
            self.outstanding.push_back(Outstanding {
                subscribe: true,
                pkid,
                owner: Owner::Door,
            });
            self.replies.insert(reply);
        }
        if self.ensured.len() == REPLIES_KEPT {
            self.ensured.clear();
        }
        self.ensured.insert(topic.to_owned());
    }

    /// The device unsubscribed from filters of its own: the replies they brought are checked
    /// again at the next publish.
    pub(super) fn forget_ensured(&mut self) {
        self.ensured.clear();
    }

    /// Subscribes to `device`'s topics: the SUBSCRIBE's id.
    pub(super) fn subscribe(
        &mut self,
        to_broker: &mut Vec<u8>,
        device: &DeviceId,
        v5: bool,
    ) -> u16 {
        let pkid = self.pkid();
        let filters = filters_of(device);
        subscription_into(to_broker, true, pkid, &filters, door_options(v5), v5);
        self.door_filters.extend(filters);
        self.outstanding.push_back(Outstanding {
            subscribe: true,
            pkid,
            owner: Owner::Door,
        });
        pkid
    }

    pub(super) fn unsubscribe(&mut self, to_broker: &mut Vec<u8>, device: &DeviceId, v5: bool) {
        let pkid = self.pkid();
        let filters = filters_of(device);
        subscription_into(to_broker, false, pkid, &filters, 0, v5);
        self.door_filters.retain(|f| !filters.contains(f));
        self.outstanding.push_back(Outstanding {
            subscribe: false,
            pkid,
            owner: Owner::Door,
        });
    }

    /// Whether one of the device's own filters (the door's answer or the broker's) matches
    /// `topic`: it asked for what comes there.
    pub(super) fn asked(&self, topic: &str) -> bool {
        self.local_filters
            .iter()
            .chain(&self.device_filters)
            .any(|filter| matches(topic, filter))
    }

    /// Remembers a publish of the device that its own filters would bring back.
    pub(super) fn note_publish(&mut self, topic: &str, payload: &[u8]) {
        if self.asked(topic) {
            self.published.note(topic, payload);
        }
    }

    /// Whether a message from the broker is the echo of one of the device's own publishes.
    pub(super) fn own_echo(&mut self, topic: &str, payload: &[u8]) -> bool {
        self.published.is_echo(topic, payload)
    }

    /// Whether a message from the broker is another copy of one already delivered through
    /// overlapping subscriptions.
    pub(super) fn is_copy(&mut self, topic: &str, payload: &[u8]) -> bool {
        let theirs = self
            .device_filters
            .iter()
            .filter(|f| matches(topic, f))
            .count();
        // The door's own may overlap too: a reply topic it subscribed to before the CONNACK
        // brought its session filter.
        let ours = self.door_matches(topic);
        if ours + theirs < 2 {
            return false;
        }
        let print = fingerprint(topic, payload);
        if let Some(at) = self.copies.iter().position(|(p, _)| *p == print) {
            if let Some((_, more)) = self.copies.get_mut(at) {
                *more -= 1;
                if *more == 0 {
                    self.copies.remove(at);
                }
            }
            return true;
        }
        if self.copies.len() == COPIES_KEPT {
            self.copies.pop_front();
        }
        self.copies.push_back((print, ours + theirs - 1));
        false
    }

    /// Remembers a login or logout the device sends for a sub-device.
    pub(super) fn note_session_request(&mut self, publish: &Publish, packet: &Packet) {
        let Some(kind) = session_kind(&self.device, &publish.topic, false) else {
            return;
        };
        let Ok(body) = serde_json::from_slice::<Map<String, Value>>(publish.payload(packet)) else {
            return;
        };
        let Some(sub) = body
            .get("params")
            .and_then(Value::as_object)
            .and_then(keys_of)
        else {
            return;
        };
        if self.sessions.len() == SESSIONS_KEPT {
            self.sessions.pop_front();
        }
        self.sessions.push_back((id_of(&body), kind, sub));
    }

    /// Reads a login or logout reply going down: an accepted login subscribes to the
    /// sub-device, an accepted logout unsubscribes.
    pub(super) fn session_reply(
        &mut self,
        topic: &str,
        payload: &[u8],
        to_broker: &mut Vec<u8>,
        v5: bool,
    ) -> Option<Session> {
        let kind = session_kind(&self.device, topic, true)?;
        let body = serde_json::from_slice::<Map<String, Value>>(payload).ok()?;
        let id = id_of(&body);
        let named = body
            .get("data")
            .and_then(Value::as_object)
            .and_then(keys_of);
        // This connection's own request: by id, else the one for the sub-device the reply
        // names.
        let at = self
            .sessions
            .iter()
            .position(|(i, k, _)| *k == kind && id.is_some() && *i == id)
            .or_else(|| {
                self.sessions
                    .iter()
                    .position(|(_, k, s)| *k == kind && Some(s) == named.as_ref())
            })?;
        let (_, _, sub) = self.sessions.remove(at)?;
        if !accepted(&body) || sub == self.device {
            return None;
        }
        match kind {
            SessionKind::Login => {
                if self.subs.contains_key(&sub) {
                    return None;
                }
                let pkid = self.subscribe(to_broker, &sub, v5);
                self.subs.insert(sub, (pkid, false));
                Some(Session::Subscribing(pkid))
            }
            SessionKind::Logout => {
                let (_, holds) = self.subs.remove(&sub)?;
                self.unsubscribe(to_broker, &sub, v5);
                holds.then_some(Session::Left(sub))
            }
        }
    }
}

/// Whether `topic` is a login or logout (its reply when `reply`) of `gateway`.
pub(super) fn session_kind(gateway: &DeviceId, topic: &str, reply: bool) -> Option<SessionKind> {
    let topic = if reply {
        topic.strip_suffix("_reply")?
    } else {
        topic
    };
    let rest = topic.strip_prefix("/ext/session/")?;
    let (pk, rest) = rest.split_once('/')?;
    let (dk, tail) = rest.split_once('/')?;
    if pk != gateway.product_key.0 || dk != gateway.device_key.0 {
        return None;
    }
    match tail {
        "combine/login" => Some(SessionKind::Login),
        "combine/logout" => Some(SessionKind::Logout),
        _ => None,
    }
}

/// The device an object's `productKey` and `deviceKey` name.
pub(super) fn keys_of(object: &Map<String, Value>) -> Option<DeviceId> {
    let pk = object.get("productKey")?.as_str()?;
    let dk = object.get("deviceKey")?.as_str()?;
    (!pk.is_empty() && !dk.is_empty()).then(|| DeviceId::new(pk, dk))
}

/// Whether a reply's code is 200 (an integer, or the digits as a string).
pub(super) fn accepted(body: &Map<String, Value>) -> bool {
    match body.get("code") {
        Some(Value::Number(n)) => n.as_i64() == Some(200),
        Some(Value::String(s)) => s.trim() == "200",
        _ => false,
    }
}
