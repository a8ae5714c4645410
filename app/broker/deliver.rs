//! Delivery without a subscription, and "device offline": the door's state machine for one
//! connection, fed the bytes read both ways, answering with the bytes to write each way. It
//! knows no socket (the door drives it) and is tested with scripted packets.
//!
//! **Delivery.** The platform pushes to a device's connection what is addressed to it,
//! subscribed or not (protocol.md, "Commands to the device"). So on a connection of a
//! workspace device, once the broker accepts it (CONNACK 0), the door subscribes the
//! connection itself to `/sys/{pk}/{dk}/#` and `/ext/session/{pk}/{dk}/#`, and again for each
//! sub-device whose `combine.login` (sent on this connection) is answered 200; it unsubscribes
//! them after the sub-device's accepted logout. The device hears neither those SUBSCRIBEs'
//! SUBACKs nor its CONNACK or login reply before they hold: they and whatever follows them
//! wait for the SUBACK, so a device that knows it is connected (or its sub-device logged in)
//! receives every command sent from then on.
//!
//! **What goes down.** On the protocol's topics (`/sys/...`, `/ext/session/...`) a delivered
//! connection gets only what the platform sends: a topic under `thing/service/` that does not
//! end in `_reply` (a command) or any other that ends in `_reply` (a reply). Never its own
//! publishes (MQTT 3.1.1 has no "no local", and the Python SDK takes its own `set_reply` for a
//! new set, for ever), nor another client's posts as the same device. The rule holds whichever
//! subscription brought the message. What the door holds back it acknowledges to the broker
//! itself (PUBACK; PUBREC then PUBCOMP at QoS 2). Other topics pass untouched.
//!
//! **Each message once.** A device that subscribes by itself (the C SDK, thingbench's test
//! gateway, the Python SDK's reply topics) to filters the door's own cover (`/sys/{pk}/{dk}/
//! thing/service/+`, a `_reply` topic) gets its SUBACK from the door, and the broker holds one
//! subscription, so one copy, on any broker. A filter the door's do not cover goes to the
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
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::protocol::{DeviceId, MsgId, ReplyCode, id_of};

use super::mqtt_frame::{FrameError, Framer, Packet, connack_code};
use super::mqtt_packets::{
    Ack, Filter, Publish, Subscription, ack_into, kind, packet_into, publish_into, read_ack,
    read_pkid, read_publish, read_subscription, subscription_into, write_ack, write_subscription,
};

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

/// The door's filters for `device`'s topics.
pub fn filters_of(device: &DeviceId) -> [String; 2] {
    let (pk, dk) = (&device.product_key.0, &device.device_key.0);
    [format!("/sys/{pk}/{dk}/#"), format!("/ext/session/{pk}/{dk}/#")]
}

/// The door's ids for its own subscriptions: the top of the range, away from the SDKs'.
const DOOR_PKIDS: std::ops::RangeInclusive<u16> = 0xFF00..=0xFFFF;

/// How many messages delivered through overlapping subscriptions are remembered, to hold back
/// their other copies.
const COPIES_KEPT: usize = 64;

/// How many logins and logouts of the connection may wait for their replies.
const SESSIONS_KEPT: usize = 64;

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
    /// QoS 2 publishes the door held back from the client.
    own_qos2_down: HashSet<u16>,
    /// MQTT 5 topic aliases the broker set for this client.
    aliases: HashMap<u16, String>,
    /// The acknowledgements of the broker's publishes, to the broker.
    acks_down: InOrder,
    /// The acknowledgements of the client's publishes, to the client.
    acks_up: InOrder,
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

/// A connection of a device that gets delivery.
struct Delivery {
    /// The gateway or directly connected device.
    device: DeviceId,
    /// Filters the door holds at the broker.
    door_filters: Vec<String>,
    /// The device's own filters that the door answered (its own cover them).
    local_filters: Vec<String>,
    /// The device's own filters the broker holds.
    device_filters: Vec<String>,
    /// Sub-devices logged in on this connection: the door's SUBSCRIBE for each, and whether
    /// it holds yet.
    subs: HashMap<DeviceId, (u16, bool)>,
    /// Subscriptions and unsubscriptions sent to the broker, in order, until answered.
    outstanding: VecDeque<Outstanding>,
    next_pkid: u16,
    /// Logins and logouts sent on this connection, until their replies.
    sessions: VecDeque<(Option<MsgId>, SessionKind, DeviceId)>,
    /// Messages delivered through overlapping subscriptions, and how many more copies of each
    /// to hold back.
    copies: VecDeque<(u64, usize)>,
    /// Whether the door subscribed for the device (after CONNACK 0).
    subscribed: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SessionKind {
    Login,
    Logout,
}

/// What an accepted login or logout of a sub-device does.
enum Session {
    /// The door subscribes to the sub-device with this SUBSCRIBE.
    Subscribing(u16),
    /// The sub-device, online until now, left.
    Left(DeviceId),
}

/// A SUBSCRIBE or UNSUBSCRIBE in flight to the broker.
struct Outstanding {
    subscribe: bool,
    pkid: u16,
    owner: Owner,
}

enum Owner {
    /// The door's own.
    Door,
    /// The device's, forwarded whole.
    Device,
    /// The device's, with the filters the door answered left out: their positions in the
    /// device's packet and the codes the door gives them.
    Spliced { total: usize, local: Vec<(usize, u8)> },
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
            delivery: device.map(|device| Delivery {
                device,
                door_filters: Vec::new(),
                local_filters: Vec::new(),
                device_filters: Vec::new(),
                subs: HashMap::new(),
                outstanding: VecDeque::new(),
                next_pkid: *DOOR_PKIDS.end(),
                sessions: VecDeque::new(),
                copies: VecDeque::new(),
                subscribed: false,
            }),
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
        }
    }

    /// Bytes the client sent (its CONNECT first); an error when they are not MQTT.
    pub fn from_client(&mut self, bytes: &[u8]) -> Result<(), FrameError> {
        self.up.push(bytes);
        while let Some(packet) = self.up.next_packet()? {
            self.client_packet(packet);
        }
        Ok(())
    }

    /// Bytes the broker sent; an error when they are not MQTT.
    pub fn from_broker(&mut self, bytes: &[u8]) -> Result<(), FrameError> {
        self.down.push(bytes);
        while let Some(packet) = self.down.next_packet()? {
            self.broker_packet(packet);
        }
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

    fn client_packet(&mut self, packet: Packet) {
        match packet.kind() {
            kind::PUBLISH => {
                if let Some(publish) = read_publish(&packet, self.v5) {
                    if self.answer_offline && self.answered_offline(&publish, &packet) {
                        return;
                    }
                    if let Some(delivery) = &mut self.delivery {
                        delivery.note_session_request(&publish, &packet);
                    }
                    if publish.qos > 0 {
                        self.acks_up.expect(publish.pkid);
                    }
                }
            }
            kind::PUBACK | kind::PUBREC => {
                if let Some(pkid) = read_pkid(&packet)
                    && self.acks_down.acked(pkid, &packet, &mut self.to_broker)
                {
                    return;
                }
            }
            kind::PUBREL => {
                if let Some(pkid) = read_pkid(&packet)
                    && self.own_qos2_up.remove(&pkid)
                {
                    let out = self.client_out();
                    ack_into(out, kind::PUBCOMP, pkid);
                    return;
                }
            }
            kind::SUBSCRIBE if self.delivery.is_some() => {
                if let Some(subscription) = read_subscription(&packet, self.v5) {
                    self.client_subscribe(subscription);
                    return;
                }
            }
            kind::UNSUBSCRIBE if self.delivery.is_some() => {
                if let Some(subscription) = read_subscription(&packet, self.v5) {
                    self.client_unsubscribe(subscription, &packet);
                    return;
                }
            }
            _ => {}
        }
        packet_into(&mut self.to_broker, &packet);
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

    fn broker_packet(&mut self, packet: Packet) {
        match packet.kind() {
            kind::CONNACK => {
                if connack_code(&packet) == Some(0) && self.subscribe_device() {
                    packet_into(&mut self.held, &packet);
                    return;
                }
                // A refusal ends the connection: nothing the door waits for will come.
                self.release();
            }
            kind::PUBLISH => {
                if let Some(publish) = read_publish(&packet, self.v5) {
                    let (qos, pkid) = (publish.qos, publish.pkid);
                    if self.held_back(publish, &packet) {
                        return;
                    }
                    if qos > 0 {
                        self.acks_down.expect(pkid);
                    }
                }
            }
            kind::PUBACK | kind::PUBREC => {
                if let Some(pkid) = read_pkid(&packet) {
                    let out = if self.hold.is_empty() {
                        &mut self.to_client
                    } else {
                        &mut self.held
                    };
                    if self.acks_up.acked(pkid, &packet, out) {
                        return;
                    }
                }
            }
            kind::PUBREL => {
                if let Some(pkid) = read_pkid(&packet)
                    && self.own_qos2_down.remove(&pkid)
                {
                    ack_into(&mut self.to_broker, kind::PUBCOMP, pkid);
                    return;
                }
            }
            kind::SUBACK | kind::UNSUBACK if self.delivery.is_some() => {
                if let Some(ack) = read_ack(&packet, self.v5) {
                    self.broker_ack(packet.kind() == kind::SUBACK, ack, &packet);
                    return;
                }
            }
            _ => {}
        }
        packet_into(self.client_out(), &packet);
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
        let topic = match (publish.alias, publish.topic.is_empty()) {
            (Some(alias), true) => match self.aliases.get(&alias) {
                Some(topic) => topic.clone(),
                None => return false,
            },
            (Some(alias), false) => {
                self.aliases.insert(alias, publish.topic.clone());
                publish.topic.clone()
            }
            (None, _) => publish.topic.clone(),
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
        if !copy && (keep || platform_sends(&topic)) {
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

impl Delivery {
    /// Whether the door's own filters cover every topic `filter` matches.
    fn covers(&self, filter: &str) -> bool {
        valid_filter(filter) && self.door_filters.iter().any(|own| covers(own, filter))
    }

    /// A door id not in flight now.
    fn pkid(&mut self) -> u16 {
        loop {
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
    }

    /// Subscribes to `device`'s topics: the SUBSCRIBE's id.
    fn subscribe(&mut self, to_broker: &mut Vec<u8>, device: &DeviceId, v5: bool) -> u16 {
        let pkid = self.pkid();
        let filters = filters_of(device);
        // QoS 1; in MQTT 5 also "no local".
        let options = if v5 { 0x05 } else { 0x01 };
        subscription_into(to_broker, true, pkid, &filters, options, v5);
        self.door_filters.extend(filters);
        self.outstanding.push_back(Outstanding {
            subscribe: true,
            pkid,
            owner: Owner::Door,
        });
        pkid
    }

    fn unsubscribe(&mut self, to_broker: &mut Vec<u8>, device: &DeviceId, v5: bool) {
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

    /// Whether a message from the broker is another copy of one already delivered through
    /// overlapping subscriptions.
    fn is_copy(&mut self, topic: &str, payload: &[u8]) -> bool {
        let theirs = self
            .device_filters
            .iter()
            .filter(|f| matches(topic, f))
            .count();
        if theirs == 0 {
            return false;
        }
        let ours = self
            .door_filters
            .iter()
            .filter(|f| matches(topic, f))
            .count();
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
    fn note_session_request(&mut self, publish: &Publish, packet: &Packet) {
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
    fn session_reply(
        &mut self,
        topic: &str,
        payload: &[u8],
        to_broker: &mut Vec<u8>,
        v5: bool,
    ) -> Option<Session> {
        let kind = session_kind(&self.device, topic, true)?;
        let body = serde_json::from_slice::<Map<String, Value>>(payload).ok()?;
        let id = id_of(&body);
        let named = body.get("data").and_then(Value::as_object).and_then(keys_of);
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
fn session_kind(gateway: &DeviceId, topic: &str, reply: bool) -> Option<SessionKind> {
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
fn keys_of(object: &Map<String, Value>) -> Option<DeviceId> {
    let pk = object.get("productKey")?.as_str()?;
    let dk = object.get("deviceKey")?.as_str()?;
    (!pk.is_empty() && !dk.is_empty()).then(|| DeviceId::new(pk, dk))
}

/// Whether a reply's code is 200 (an integer, or the digits as a string).
fn accepted(body: &Map<String, Value>) -> bool {
    match body.get("code") {
        Some(Value::Number(n)) => n.as_i64() == Some(200),
        Some(Value::String(s)) => s.trim() == "200",
        _ => false,
    }
}

fn fingerprint(topic: &str, payload: &[u8]) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    topic.hash(&mut hasher);
    payload.hash(&mut hasher);
    hasher.finish()
}

/// Whether `topic` is one of the protocol's: `/sys/...` or `/ext/session/...`.
fn is_protocol(topic: &str) -> bool {
    topic.starts_with("/sys/") || topic.starts_with("/ext/session/")
}

/// The device and the rest of a protocol topic: `/sys/{pk}/{dk}/{tail}` or
/// `/ext/session/{pk}/{dk}/{tail}`.
fn split_topic(topic: &str) -> Option<(&str, &str, &str)> {
    let rest = topic
        .strip_prefix("/sys/")
        .or_else(|| topic.strip_prefix("/ext/session/"))?;
    let (pk, rest) = rest.split_once('/')?;
    let (dk, tail) = rest.split_once('/')?;
    Some((pk, dk, tail))
}

/// Whether the platform sends on `topic`: a command (under `thing/service/`, not a `_reply`)
/// or a reply to a device's request (any other `_reply`).
pub fn platform_sends(topic: &str) -> bool {
    let Some((_, _, tail)) = split_topic(topic) else {
        return false;
    };
    let reply = topic.ends_with("_reply");
    if tail.starts_with("thing/service/") {
        !reply
    } else {
        reply
    }
}

/// The device a command topic (`/sys/{pk}/{dk}/thing/service/...`, not `_reply`) is for.
pub fn command_target(topic: &str) -> Option<DeviceId> {
    if !topic.starts_with("/sys/") || topic.ends_with("_reply") {
        return None;
    }
    let (pk, dk, tail) = split_topic(topic)?;
    let service = tail.strip_prefix("thing/service/")?;
    (!pk.is_empty() && !dk.is_empty() && !service.is_empty()).then(|| DeviceId::new(pk, dk))
}

/// Whether `filter` is a valid MQTT topic filter: `#` only last and alone in its level, `+`
/// alone in its level.
fn valid_filter(filter: &str) -> bool {
    if filter.is_empty() {
        return false;
    }
    let levels: Vec<&str> = filter.split('/').collect();
    levels.iter().enumerate().all(|(at, level)| match *level {
        "#" => at + 1 == levels.len(),
        "+" => true,
        level => !level.contains(['#', '+']),
    })
}

/// Whether `topic` matches `filter` (MQTT's rules; a `$` topic matches no filter starting with
/// a wildcard). Never panics, whatever the bytes.
pub fn matches(topic: &str, filter: &str) -> bool {
    if topic.starts_with('$') && filter.starts_with(['+', '#']) {
        return false;
    }
    let mut topics = topic.split('/');
    for level in filter.split('/') {
        if level == "#" {
            return true;
        }
        match topics.next() {
            Some(t) if level == "+" || level == t => {}
            _ => return false,
        }
    }
    topics.next().is_none()
}

/// Whether every topic matching `inner` matches `outer` (both valid filters).
pub fn covers(outer: &str, inner: &str) -> bool {
    let mut outer = outer.split('/');
    let mut inner = inner.split('/');
    loop {
        match (outer.next(), inner.next()) {
            (Some("#"), _) => return true,
            (None, None) => return true,
            (Some("+"), Some(level)) if level != "#" => {}
            (Some(a), Some(b)) if a == b && b != "+" && b != "#" => {}
            _ => return false,
        }
    }
}

#[cfg(test)]
#[path = "deliver_tests.rs"]
mod tests;
