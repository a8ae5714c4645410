//! Delivery without a subscription, and "device offline": the door's state machine for one
//! connection, fed the bytes read both ways, answering with the bytes to write each way. It
//! knows no socket (the door drives it) and is tested with scripted packets.
//!
//! **Delivery.** The platform pushes to a device's connection what is addressed to it,
//! subscribed or not (protocol.md, "Commands to the device"). So on a connection of a
//! workspace device, once the broker accepts it (CONNACK 0), the door subscribes the
//! connection itself to the device's commands and session replies
//! (`/sys/{pk}/{dk}/thing/service/#`, `/ext/session/{pk}/{dk}/#`), and the same for each
//! sub-device whose `combine.login` (sent on this connection) is answered 200; it unsubscribes
//! those after the sub-device's accepted logout. The device hears neither those SUBSCRIBEs'
//! SUBACKs nor its CONNACK or login reply before they hold: they and whatever follows them
//! wait for the SUBACK, so a device that knows it is connected (or its sub-device logged in)
//! receives every command sent from then on. Replies to its requests (posts, events, on any
//! device's topic) come on the request's topic + `_reply`: before the device's first publish
//! on a topic goes on, the door subscribes the connection to that reply topic, unless a filter
//! of its own or of the device's brings it already; the broker takes the SUBSCRIBE before the
//! publish, so no reply can come first. After an unexpected reconnect the new connection gets
//! the same again. Not `/sys/{pk}/{dk}/#` for all of it: that brings every post of the device
//! back to the door, and holding that echo back cost 0.013 ms of a 0.135 ms round trip
//! (`bench --inflight 1`, median of 6 runs each).
//!
//! **What goes down.** On the protocol's topics (`/sys/...`, `/ext/session/...`) what only the
//! door's subscriptions bring goes down only if the platform sends it: a topic under
//! `thing/service/` that does not end in `_reply` (a command) or any other that ends in `_reply`
//! (a reply); not another client's posts as the same device. What a filter of the device's own
//! matches it gets, as from any broker (thingbench's window watches other clients' posts so),
//! but for its own publishes: the door remembers (by topic and payload) the last 256 it
//! published on topics its own filters match, and holds back their echoes. So a device never
//! gets its own publishes back (MQTT 3.1.1 has no "no local", and the Python SDK takes its own
//! `set_reply` for a new set, for ever). What the door holds back it acknowledges to the broker
//! itself (PUBACK; PUBREC then PUBCOMP at QoS 2). Other topics pass untouched.
//!
//! **Each message once.** A device that subscribes by itself (the C SDK, thingbench's test
//! gateway) to filters the door's own cover (`/sys/{pk}/{dk}/thing/service/+`, a reply topic
//! the door holds) gets its SUBACK from the door, and the broker holds one subscription, so one
//! copy, on any broker. A reply topic the device subscribes to before its first request there
//! (the Python SDK, thingbench's session) is the device's: the door does not add its own. A filter the door's do not cover goes to the
//! broker (for several filters in one SUBSCRIBE, only those, and the broker's SUBACK gets the
//! door's codes spliced back in place). Where such a filter overlaps the door's (`#`,
//! `/sys/+/+/thing/service/+`), rumqttd sends one copy per matching subscription (mosquitto
//! one in all): the door forwards the first and holds back as many more identical copies
//! (same topic and payload) as there are other matching subscriptions, remembering the last 64
//! such messages. On mosquitto those copies never come, and a later message identical to one
//! of the 64 down to its id would be taken for one: the platform never sends two commands with
//! one id. An UNSUBSCRIBE of filters the door answered is answered by the door too.
//!
//! **Acknowledgements in order.** MQTT 3.1.1 (4.6) has a receiver acknowledge publishes in
//! the order they came, and rumqttd drops a connection that does not. So the acknowledgements
//! of each direction (the receiver's and the door's for what it held back) leave the door in
//! the order their publishes came: one the door gives waits for the receiver's of earlier
//! publishes.
//!
//! **Packet ids.** The door's SUBSCRIBEs and UNSUBSCRIBEs share the client's packet-id space on
//! the connection. The door numbers them from 65535 down to 65280 (the SDKs count up from 1:
//! rumqttc below its inflight limit, paho up to 65535 and around), skipping ids it still waits
//! on, and it pairs each SUBACK or UNSUBACK with the oldest subscription in flight of that id,
//! in the order sent (brokers answer a connection in order), so even a device that used the
//! same id at the same time gets its own answer. The broker's ids on held-back publishes are
//! the broker's; the device never sees them.
//!
//! **MQTT 5.** Its packets carry properties, which the door reads past and keeps. Its own
//! subscriptions set "no local", so its own publishes never even come back. A PUBLISH carrying
//! a topic alias is never held back (the device would lose the alias); the door reads alias-
//! only topics through the aliases it saw. Retained messages and subscription identifiers are
//! not replayed for filters the door answered.
//!
//! **Device offline.** A command (`/sys/{pk}/{dk}/thing/service/...`, not `_reply`) that any
//! client publishes for a device of the workspace that is not online ([`Roster::offline`]) is
//! not forwarded: the door acknowledges it to the sender and publishes, through the broker on
//! the sender's own connection, `{"id", "code": 11900, "message": "device offline", "data":
//! null}` on the command's `_reply` topic, as the platform answers. Through the broker, so that
//! it reaches whoever subscribed to replies (the sender, a watcher) as any reply would, and it
//! follows the sender's subscription on the same connection in order: thingbench's session
//! subscribes to a `_reply` topic before its first request on it.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::protocol::{DeviceId, ReplyCode};

use super::mqtt_frame::{FrameError, Framer, Packet, connack_code};
use super::mqtt_packets::{
    Ack, Filter, Publish, Subscription, ack_into, kind, packet_into, publish_into, read_ack,
    read_pkid, read_publish, read_subscription, write_ack, write_subscription,
};

mod delivery;
mod topics;

use delivery::{Delivery, Outstanding, Owner, Session};
use topics::is_protocol;
pub use topics::{command_target, covers, filters_of, matches, platform_sends};

/// The platform's code for a command whose device is not online.
pub const DEVICE_OFFLINE: ReplyCode = ReplyCode(11900);

/// Who is online, shared by every connection of a door.
pub trait Roster: Send + Sync {
    /// Whether a command for `device` is answered "device offline" instead of delivered: a
    /// device the door answers for, not online now.
    fn offline(&self, _device: &DeviceId) -> bool {
        false
    }
    /// `sub` came online over a delivered connection: its login was accepted and the door's
    /// subscription to its topics holds.
    fn logged_in(&self, sub: &DeviceId);
    /// `sub`, which [`Roster::logged_in`] told, went offline: logged out, or its gateway's
    /// connection ended.
    fn logged_out(&self, sub: &DeviceId);
}

/// One connection through the door: what it reads both ways, and what to write each way.
pub struct Flow {
    v5: bool,
    roster: Arc<dyn Roster>,
    /// Whether commands for offline devices are answered 11900 (the embedded broker's door;
    /// a qualification's commands are sent by qualify itself).
    answer_offline: bool,
    delivery: Option<Delivery>,
    up: Framer,
    down: Framer,
    to_broker: Vec<u8>,
    to_client: Vec<u8>,
    /// The door's subscriptions the client must not hear of before they hold.
    hold: Vec<u16>,
    /// What goes to the client once `hold` is empty.
    held: Vec<u8>,
    /// QoS 2 publishes the door took from the client (a command for an offline device).
    own_qos2_up: HashSet<u16>,
    /// QoS 2 publishes of the broker's that the door held back from the client.
    own_qos2_down: HashSet<u16>,
    /// MQTT 5 topic aliases the broker set for this client.
    aliases: HashMap<u16, String>,
    /// The acknowledgements of the broker's publishes, to the broker.
    acks_down: InOrder,
    /// The acknowledgements of the client's publishes, to the client.
    acks_up: InOrder,
    /// The packet being read, its allocation kept from one to the next.
    scratch: Packet,
}

/// The publishes (QoS 1 and 2) of one direction not acknowledged yet, in the order they came,
/// each with its acknowledgement (the packet, as the receiver or the door wrote it) once given:
/// acknowledgements leave in that order.
#[derive(Default)]
struct InOrder {
    queue: VecDeque<(u16, Option<Vec<u8>>)>,
}

impl InOrder {
    /// A publish went on: its receiver acknowledges it.
    fn expect(&mut self, pkid: u16) {
        self.queue.push_back((pkid, None));
    }

    /// The door acknowledges (with `kind`: PUBACK or PUBREC) a publish it held back.
    fn door(&mut self, pkid: u16, kind: u8, out: &mut Vec<u8>) {
        let mut ack = Vec::with_capacity(4);
        ack_into(&mut ack, kind, pkid);
        self.queue.push_back((pkid, Some(ack)));
        self.flush(out);
    }

    /// The receiver acknowledged `pkid` with `packet`: false when no publish waits for it (the
    /// acknowledgement then goes on as it came).
    fn acked(&mut self, pkid: u16, packet: &Packet, out: &mut Vec<u8>) -> bool {
        if self.queue.front() == Some(&(pkid, None)) {
            // The usual case: the oldest, acknowledged in order.
            self.queue.pop_front();
            packet_into(out, packet);
            self.flush(out);
            return true;
        }
        let Some(entry) = self
            .queue
            .iter_mut()
            .find(|(id, ack)| *id == pkid && ack.is_none())
        else {
            return false;
        };
        let mut ack = Vec::with_capacity(4);
        packet_into(&mut ack, packet);
        entry.1 = Some(ack);
        self.flush(out);
        true
    }

    /// Writes the acknowledgements at the front that are given.
    fn flush(&mut self, out: &mut Vec<u8>) {
        while self.queue.front().is_some_and(|(_, ack)| ack.is_some()) {
            if let Some((_, Some(ack))) = self.queue.pop_front() {
                out.extend_from_slice(&ack);
            }
        }
    }
}

impl Flow {
    /// A flow for a connection of protocol `level`, delivering to `device` when given.
    pub fn new(
        level: u8,
        device: Option<DeviceId>,
        roster: Arc<dyn Roster>,
        answer_offline: bool,
    ) -> Self {
        Self {
            v5: level == 5,
            roster,
            answer_offline,
            delivery: device.map(Delivery::new),
            up: Framer::default(),
            down: Framer::default(),
            to_broker: Vec::new(),
            to_client: Vec::new(),
            hold: Vec::new(),
            held: Vec::new(),
            own_qos2_up: HashSet::new(),
            own_qos2_down: HashSet::new(),
            aliases: HashMap::new(),
            acks_down: InOrder::default(),
            acks_up: InOrder::default(),
            scratch: Packet::default(),
        }
    }

    /// Bytes the client sent (its CONNECT first); an error when they are not MQTT.
    pub fn from_client(&mut self, bytes: &[u8]) -> Result<(), FrameError> {
        self.up.push(bytes);
        let mut packet = std::mem::take(&mut self.scratch);
        while self.up.next_packet_into(&mut packet)? {
            self.client_packet(&packet);
        }
        self.scratch = packet;
        Ok(())
    }

    /// Bytes the broker sent; an error when they are not MQTT.
    pub fn from_broker(&mut self, bytes: &[u8]) -> Result<(), FrameError> {
        self.down.push(bytes);
        let mut packet = std::mem::take(&mut self.scratch);
        while self.down.next_packet_into(&mut packet)? {
            self.broker_packet(&packet);
        }
        self.scratch = packet;
        Ok(())
    }

    /// What to write to the broker now.
    pub fn take_to_broker(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.to_broker)
    }

    /// What to write to the client now.
    pub fn take_to_client(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.to_client)
    }

    /// Appends what to write to the broker now to `out`.
    pub fn move_to_broker(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_broker);
        self.to_broker.clear();
    }

    /// Appends what to write to the client now to `out`.
    pub fn move_to_client(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_client);
        self.to_client.clear();
    }

    /// Whether there are bytes to write to the broker.
    pub fn has_to_broker(&self) -> bool {
        !self.to_broker.is_empty()
    }

    /// Whether there are bytes to write to the client.
    pub fn has_to_client(&self) -> bool {
        !self.to_client.is_empty()
    }

    /// Where bytes for the client go now: held while the door's subscriptions are pending.
    fn client_out(&mut self) -> &mut Vec<u8> {
        if self.hold.is_empty() {
            &mut self.to_client
        } else {
            &mut self.held
        }
    }

    fn client_packet(&mut self, packet: &Packet) {
        match packet.kind() {
            kind::PUBLISH => {
                if let Some(publish) = read_publish(packet, self.v5) {
                    if self.answer_offline && self.answered_offline(&publish, packet) {
                        return;
                    }
                    if let Some(delivery) = &mut self.delivery {
                        delivery.note_session_request(&publish, packet);
                        delivery.note_publish(&publish.topic, publish.payload(packet));
                        delivery.ensure_reply(&publish.topic, &mut self.to_broker, self.v5);
                    }
                    if publish.qos > 0 {
                        self.acks_up.expect(publish.pkid);
                    }
                }
            }
            kind::PUBACK | kind::PUBREC => {
                if let Some(pkid) = read_pkid(packet)
                    && self.acks_down.acked(pkid, packet, &mut self.to_broker)
                {
                    return;
                }
            }
            kind::PUBREL => {
                if let Some(pkid) = read_pkid(packet)
                    && self.own_qos2_up.remove(&pkid)
                {
                    let out = self.client_out();
                    ack_into(out, kind::PUBCOMP, pkid);
                    return;
                }
            }
            kind::SUBSCRIBE if self.delivery.is_some() => {
                if let Some(subscription) = read_subscription(packet, self.v5) {
                    self.client_subscribe(subscription);
                    return;
                }
            }
            kind::UNSUBSCRIBE if self.delivery.is_some() => {
                if let Some(subscription) = read_subscription(packet, self.v5) {
                    self.client_unsubscribe(subscription, packet);
                    return;
                }
            }
            _ => {}
        }
        packet_into(&mut self.to_broker, packet);
    }

    /// Answers a command for an offline device of the workspace, as the platform does: true
    /// when it was (and is not to be forwarded).
    fn answered_offline(&mut self, publish: &Publish, packet: &Packet) -> bool {
        let Some(device) = command_target(&publish.topic) else {
            return false;
        };
        if !self.roster.offline(&device) {
            return false;
        }
        let id = serde_json::from_slice::<Map<String, Value>>(publish.payload(packet))
            .ok()
            .and_then(|body| body.get("id").cloned())
            .unwrap_or(Value::Null);
        let reply = serde_json::json!({
            "id": id,
            "code": DEVICE_OFFLINE.0,
            "message": "device offline",
            "data": null,
        });
        let reply_topic = crate::protocol::reply_topic(&publish.topic);
        publish_into(
            &mut self.to_broker,
            &reply_topic,
            reply.to_string().as_bytes(),
            self.v5,
        );
        let pkid = publish.pkid;
        let ack = match publish.qos {
            1 => kind::PUBACK,
            2 => {
                self.own_qos2_up.insert(pkid);
                kind::PUBREC
            }
            _ => return true,
        };
        let out = if self.hold.is_empty() {
            &mut self.to_client
        } else {
            &mut self.held
        };
        self.acks_up.door(pkid, ack, out);
        true
    }

    fn client_subscribe(&mut self, subscription: Subscription) {
        let Some(delivery) = &mut self.delivery else {
            return;
        };
        let mut local = Vec::new();
        let mut forwarded = Vec::new();
        for (at, filter) in subscription.filters.iter().enumerate() {
            if delivery.covers(&filter.filter) {
                // The door's subscription is at QoS 1: never grant more.
                local.push((at, filter.qos().min(1)));
                delivery.local_filters.push(filter.filter.clone());
            } else {
                delivery.device_filters.push(filter.filter.clone());
                forwarded.push(filter.clone());
            }
        }
        let pkid = subscription.pkid;
        if forwarded.is_empty() {
            let ack = Ack {
                pkid,
                properties: self.no_properties(),
                codes: local.iter().map(|(_, code)| *code).collect(),
            };
            write_ack(self.client_out(), true, &ack);
            return;
        }
        let owner = if local.is_empty() {
            Owner::Device
        } else {
            Owner::Spliced {
                total: subscription.filters.len(),
                local,
            }
        };
        delivery.outstanding.push_back(Outstanding {
            subscribe: true,
            pkid,
            owner,
        });
        let rewritten = Subscription {
            filters: forwarded,
            ..subscription
        };
        write_subscription(&mut self.to_broker, true, &rewritten);
    }

    fn client_unsubscribe(&mut self, subscription: Subscription, packet: &Packet) {
        let Some(delivery) = &mut self.delivery else {
            return;
        };
        let mut all_local = true;
        for Filter { filter, .. } in &subscription.filters {
            if let Some(at) = delivery.local_filters.iter().position(|f| f == filter) {
                delivery.local_filters.remove(at);
            } else {
                all_local = false;
                if let Some(at) = delivery.device_filters.iter().position(|f| f == filter) {
                    delivery.device_filters.remove(at);
                    delivery.forget_ensured();
                }
            }
        }
        if all_local {
            let codes = if self.v5 {
                vec![0; subscription.filters.len()]
            } else {
                Vec::new()
            };
            let ack = Ack {
                pkid: subscription.pkid,
                properties: self.no_properties(),
                codes,
            };
            write_ack(self.client_out(), false, &ack);
            return;
        }
        // Forwarded whole: a broker answers an unsubscription of what it does not hold with
        // success (MQTT 5: "no subscription existed"), so no splicing is needed.
        delivery.outstanding.push_back(Outstanding {
            subscribe: false,
            pkid: subscription.pkid,
            owner: Owner::Device,
        });
        packet_into(&mut self.to_broker, packet);
    }

    fn no_properties(&self) -> Vec<u8> {
        if self.v5 { vec![0] } else { Vec::new() }
    }

    fn broker_packet(&mut self, packet: &Packet) {
        match packet.kind() {
            kind::CONNACK => {
                if connack_code(packet) == Some(0) && self.subscribe_device() {
                    packet_into(&mut self.held, packet);
                    return;
                }
                // A refusal ends the connection: nothing the door waits for will come.
                self.release();
            }
            kind::PUBLISH => {
                if let Some(publish) = read_publish(packet, self.v5) {
                    let (qos, pkid) = (publish.qos, publish.pkid);
                    if self.held_back(publish, packet) {
                        return;
                    }
                    if qos > 0 {
                        self.acks_down.expect(pkid);
                    }
                }
            }
            kind::PUBACK | kind::PUBREC => {
                if let Some(pkid) = read_pkid(packet) {
                    let out = if self.hold.is_empty() {
                        &mut self.to_client
                    } else {
                        &mut self.held
                    };
                    if self.acks_up.acked(pkid, packet, out) {
                        return;
                    }
                }
            }
            kind::PUBREL => {
                if let Some(pkid) = read_pkid(packet)
                    && self.own_qos2_down.remove(&pkid)
                {
                    ack_into(&mut self.to_broker, kind::PUBCOMP, pkid);
                    return;
                }
            }
            kind::SUBACK | kind::UNSUBACK if self.delivery.is_some() => {
                if let Some(ack) = read_ack(packet, self.v5) {
                    self.broker_ack(packet.kind() == kind::SUBACK, ack, packet);
                    return;
                }
            }
            _ => {}
        }
        packet_into(self.client_out(), packet);
    }

    /// Subscribes for the device once the broker accepted it: true when the client must wait
    /// for it.
    fn subscribe_device(&mut self) -> bool {
        let v5 = self.v5;
        let Some(delivery) = &mut self.delivery else {
            return false;
        };
        if delivery.subscribed {
            return false;
        }
        delivery.subscribed = true;
        let device = delivery.device.clone();
        let pkid = delivery.subscribe(&mut self.to_broker, &device, v5);
        self.hold.push(pkid);
        true
    }

    /// Sends everything held to the client.
    fn release(&mut self) {
        self.hold.clear();
        let held = std::mem::take(&mut self.held);
        self.to_client.extend_from_slice(&held);
    }

    fn broker_ack(&mut self, suback: bool, ack: Ack, packet: &Packet) {
        let Some(delivery) = &mut self.delivery else {
            return;
        };
        let Some(at) = delivery
            .outstanding
            .iter()
            .position(|o| o.subscribe == suback && o.pkid == ack.pkid)
        else {
            packet_into(self.client_out(), packet);
            return;
        };
        let Some(outstanding) = delivery.outstanding.remove(at) else {
            return;
        };
        match outstanding.owner {
            Owner::Door => {
                if suback {
                    for (sub, (pkid, holds)) in &mut delivery.subs {
                        if *pkid == ack.pkid && !*holds {
                            *holds = true;
                            self.roster.logged_in(sub);
                        }
                    }
                }
                if let Some(at) = self.hold.iter().position(|p| *p == ack.pkid) {
                    self.hold.remove(at);
                    if self.hold.is_empty() {
                        self.release();
                    }
                }
            }
            Owner::Device => packet_into(self.client_out(), packet),
            Owner::Spliced { total, local } => {
                let mut broker = ack.codes.into_iter();
                let codes = (0..total)
                    .map(|at| match local.iter().find(|(l, _)| *l == at) {
                        Some((_, code)) => *code,
                        None => broker.next().unwrap_or(0x80),
                    })
                    .collect();
                let spliced = Ack { codes, ..ack };
                write_ack(self.client_out(), true, &spliced);
            }
        }
    }

    /// Reads a PUBLISH from the broker: true when the door holds it back (acknowledged).
    fn held_back(&mut self, publish: Publish, packet: &Packet) -> bool {
        let v5 = self.v5;
        let topic: std::borrow::Cow<'_, str> = match (publish.alias, publish.topic.is_empty()) {
            (Some(alias), true) => match self.aliases.get(&alias) {
                Some(topic) => topic.clone().into(),
                None => return false,
            },
            (Some(alias), false) => {
                self.aliases.insert(alias, publish.topic.clone());
                publish.topic.as_str().into()
            }
            (None, _) => publish.topic.as_str().into(),
        };
        let Some(delivery) = &mut self.delivery else {
            return false;
        };
        if !is_protocol(&topic) {
            return false;
        }
        let payload = publish.payload(packet);
        // The device would lose the alias with the message: forwarded whatever it is.
        let keep = publish.alias.is_some();
        let copy = !keep && delivery.is_copy(&topic, payload);
        // What the device subscribed to itself it gets, as from any broker, but for its own
        // publishes; what only the door's subscriptions bring, only if the platform sends it.
        let wanted = if delivery.asked(&topic) {
            !delivery.own_echo(&topic, payload)
        } else {
            platform_sends(&topic)
        };
        if !copy && (keep || wanted) {
            match delivery.session_reply(&topic, payload, &mut self.to_broker, v5) {
                // The reply waits for the sub-device's subscription, as the CONNACK did.
                Some(Session::Subscribing(pkid)) => self.hold.push(pkid),
                Some(Session::Left(sub)) => self.roster.logged_out(&sub),
                None => {}
            }
            return false;
        }
        let ack = match publish.qos {
            1 => kind::PUBACK,
            2 => {
                self.own_qos2_down.insert(publish.pkid);
                kind::PUBREC
            }
            _ => return true,
        };
        self.acks_down.door(publish.pkid, ack, &mut self.to_broker);
        true
    }
}

impl Drop for Flow {
    fn drop(&mut self) {
        // The connection ended: its sub-devices are offline with it.
        if let Some(delivery) = &self.delivery {
            for (sub, (_, holds)) in &delivery.subs {
                if *holds {
                    self.roster.logged_out(sub);
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "deliver_tests.rs"]
mod tests;
