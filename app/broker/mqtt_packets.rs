//! The MQTT packets the door reads and writes to deliver without a subscription: a PUBLISH
//! with its QoS and packet id, SUBSCRIBE and UNSUBSCRIBE with their filters, their
//! acknowledgements, and the packets the door sends itself (its own subscriptions, PUBACKs for
//! what it holds back, a reply it answers for the platform). MQTT 3.1.1 and 5 (whose packets
//! carry properties). Every read is of bytes nobody vouches for: it never panics, and `None`
//! means "not this packet, or not readable": the door then forwards it untouched.

use super::mqtt_frame::{Packet, field, skip, varint};

/// The control packet types the door handles.
pub mod kind {
    pub const CONNACK: u8 = 2;
    pub const PUBLISH: u8 = 3;
    pub const PUBACK: u8 = 4;
    pub const PUBREC: u8 = 5;
    pub const PUBREL: u8 = 6;
    pub const PUBCOMP: u8 = 7;
    pub const SUBSCRIBE: u8 = 8;
    pub const SUBACK: u8 = 9;
    pub const UNSUBSCRIBE: u8 = 10;
    pub const UNSUBACK: u8 = 11;
}

/// MQTT 5's property of a PUBLISH that names a topic alias.
const TOPIC_ALIAS: u8 = 0x23;

/// A PUBLISH, as far as the door needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Publish {
    /// The topic name; empty when an MQTT 5 PUBLISH names its topic by alias only.
    pub topic: String,
    pub qos: u8,
    /// The packet id; 0 at QoS 0.
    pub pkid: u16,
    /// MQTT 5's topic alias, when the PUBLISH carries one.
    pub alias: Option<u16>,
    /// Where the payload starts in the packet's body.
    pub payload_at: usize,
}

impl Publish {
    /// The payload, in the `packet` this was read from.
    pub fn payload<'p>(&self, packet: &'p Packet) -> &'p [u8] {
        packet.body.get(self.payload_at..).unwrap_or_default()
    }
}

/// Reads a big-endian u16 at `*at`.
fn u16_at(body: &[u8], at: &mut usize) -> Option<u16> {
    let value = u16::from_be_bytes([*body.get(*at)?, *body.get(at.checked_add(1)?)?]);
    *at += 2;
    Some(value)
}

/// The PUBLISH in `packet`, if it is one and reads well; `v5` when the connection speaks
/// MQTT 5.
pub fn read_publish(packet: &Packet, v5: bool) -> Option<Publish> {
    if packet.kind() != kind::PUBLISH {
        return None;
    }
    let qos = (packet.header >> 1) & 0x03;
    if qos > 2 {
        return None;
    }
    let body = &packet.body;
    let mut at = 0;
    let topic = String::from_utf8_lossy(field(body, &mut at)?).into_owned();
    let pkid = if qos > 0 { u16_at(body, &mut at)? } else { 0 };
    let mut alias = None;
    if v5 {
        let length = varint(body, &mut at)?;
        let end = at.checked_add(length)?;
        let properties = body.get(at..end)?;
        alias = topic_alias(properties);
        at = end;
    }
    (at <= body.len()).then_some(Publish {
        topic,
        qos,
        pkid,
        alias,
        payload_at: at,
    })
}

/// The topic alias among MQTT 5 PUBLISH `properties`, if there is one.
fn topic_alias(properties: &[u8]) -> Option<u16> {
    let mut at = 0;
    while at < properties.len() {
        let id = varint(properties, &mut at)?;
        let id = u8::try_from(id).ok()?;
        match id {
            TOPIC_ALIAS => return u16_at(properties, &mut at),
            // Byte properties of a PUBLISH: payload format indicator.
            0x01 => skip(properties, &mut at, 1)?,
            // Four-byte: message expiry interval.
            0x02 => skip(properties, &mut at, 4)?,
            // Strings and binary data: content type, response topic, correlation data.
            0x03 | 0x08 | 0x09 => {
                field(properties, &mut at)?;
            }
            // Variable byte integer: subscription identifier.
            0x0B => {
                varint(properties, &mut at)?;
            }
            // A string pair: user property.
            0x26 => {
                field(properties, &mut at)?;
                field(properties, &mut at)?;
            }
            _ => return None,
        }
    }
    None
}

/// One filter of a SUBSCRIBE, with its options byte (MQTT 3.1.1: the requested QoS alone).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    pub filter: String,
    pub options: u8,
}

impl Filter {
    /// The QoS the subscriber asks for.
    pub fn qos(&self) -> u8 {
        self.options & 0x03
    }
}

/// A SUBSCRIBE or UNSUBSCRIBE: its packet id, MQTT 5 properties (raw, empty otherwise) and
/// filters (an UNSUBSCRIBE's options are 0).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscription {
    pub pkid: u16,
    pub properties: Vec<u8>,
    pub filters: Vec<Filter>,
}

/// The SUBSCRIBE (or, with `kind::UNSUBSCRIBE`, the UNSUBSCRIBE) in `packet`, if it is one
/// and reads well.
pub fn read_subscription(packet: &Packet, v5: bool) -> Option<Subscription> {
    let subscribe = match packet.kind() {
        kind::SUBSCRIBE => true,
        kind::UNSUBSCRIBE => false,
        _ => return None,
    };
    let body = &packet.body;
    let mut at = 0;
    let (pkid, properties) = pkid_and_properties(body, &mut at, v5)?;
    let mut filters = Vec::new();
    while at < body.len() {
        let filter = std::str::from_utf8(field(body, &mut at)?).ok()?.to_owned();
        let options = if subscribe {
            let options = *body.get(at)?;
            at += 1;
            options
        } else {
            0
        };
        filters.push(Filter { filter, options });
    }
    (!filters.is_empty()).then_some(Subscription {
        pkid,
        properties,
        filters,
    })
}

/// A SUBACK or UNSUBACK: its packet id, MQTT 5 properties (raw) and return or reason codes
/// (an MQTT 3.1.1 UNSUBACK has none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ack {
    pub pkid: u16,
    pub properties: Vec<u8>,
    pub codes: Vec<u8>,
}

/// The packet id at the start of a (UN)SUBSCRIBE's or (UN)SUBACK's body, and its MQTT 5
/// properties (raw, with their length; empty for MQTT 3.1.1); `at` is left after them.
fn pkid_and_properties(body: &[u8], at: &mut usize, v5: bool) -> Option<(u16, Vec<u8>)> {
    let pkid = u16_at(body, at)?;
    if !v5 {
        return Some((pkid, Vec::new()));
    }
    let start = *at;
    let length = varint(body, at)?;
    skip(body, at, length)?;
    Some((pkid, body.get(start..*at)?.to_vec()))
}

/// The SUBACK or UNSUBACK in `packet`, if it is one and reads well.
pub fn read_ack(packet: &Packet, v5: bool) -> Option<Ack> {
    if !matches!(packet.kind(), kind::SUBACK | kind::UNSUBACK) {
        return None;
    }
    let body = &packet.body;
    let mut at = 0;
    let (pkid, properties) = pkid_and_properties(body, &mut at, v5)?;
    Some(Ack {
        pkid,
        properties,
        codes: body.get(at..)?.to_vec(),
    })
}

/// The packet id of a PUBACK, PUBREC, PUBREL or PUBCOMP.
pub fn read_pkid(packet: &Packet) -> Option<u16> {
    let mut at = 0;
    u16_at(&packet.body, &mut at)
}

/// Appends a packet of `header` around `body` to `out`, with its remaining length.
pub fn encode_into(out: &mut Vec<u8>, header: u8, body: &[u8]) {
    out.push(header);
    let mut length = body.len();
    loop {
        let byte = u8::try_from(length % 128).unwrap_or(0);
        length /= 128;
        out.push(if length > 0 { byte | 0x80 } else { byte });
        if length == 0 {
            break;
        }
    }
    out.extend_from_slice(body);
}

/// Appends `packet`, as it was read, to `out`.
pub fn packet_into(out: &mut Vec<u8>, packet: &Packet) {
    encode_into(out, packet.header, &packet.body);
}

fn put_str(body: &mut Vec<u8>, text: &str) {
    // Filters and topics the door writes are its own, far below 64 KiB.
    let length = u16::try_from(text.len()).unwrap_or(u16::MAX);
    body.extend_from_slice(&length.to_be_bytes());
    body.extend_from_slice(&text.as_bytes()[..usize::from(length)]);
}

/// Appends a PUBACK, PUBREC, PUBREL or PUBCOMP (`kind`) of `pkid`: success, no properties
/// (MQTT 5 lets both be left out).
pub fn ack_into(out: &mut Vec<u8>, kind: u8, pkid: u16) {
    // PUBREL's fixed header carries the flags 0b0010.
    let flags = if kind == kind::PUBREL { 0x02 } else { 0x00 };
    encode_into(out, (kind << 4) | flags, &pkid.to_be_bytes());
}

/// Appends a SUBSCRIBE (or UNSUBSCRIBE, `subscribe` false) of the door's own, `filters` at
/// `options` (QoS, and in MQTT 5 "no local").
pub fn subscription_into(
    out: &mut Vec<u8>,
    subscribe: bool,
    pkid: u16,
    filters: &[String],
    options: u8,
    v5: bool,
) {
    let subscription = Subscription {
        pkid,
        properties: if v5 { vec![0] } else { Vec::new() },
        filters: filters
            .iter()
            .map(|filter| Filter {
                filter: filter.clone(),
                options,
            })
            .collect(),
    };
    write_subscription(out, subscribe, &subscription);
}

/// Appends `subscription` as a SUBSCRIBE (`subscribe`) or UNSUBSCRIBE; its properties are
/// written as read (an MQTT 5 one holds at least their length).
pub fn write_subscription(out: &mut Vec<u8>, subscribe: bool, subscription: &Subscription) {
    let mut body = subscription.pkid.to_be_bytes().to_vec();
    body.extend_from_slice(&subscription.properties);
    for filter in &subscription.filters {
        put_str(&mut body, &filter.filter);
        if subscribe {
            body.push(filter.options);
        }
    }
    let header = if subscribe {
        (kind::SUBSCRIBE << 4) | 0x02
    } else {
        (kind::UNSUBSCRIBE << 4) | 0x02
    };
    encode_into(out, header, &body);
}

/// Appends `ack` as a SUBACK (`suback`) or UNSUBACK; in MQTT 5 `ack.properties` holds at
/// least their length.
pub fn write_ack(out: &mut Vec<u8>, suback: bool, ack: &Ack) {
    let mut body = ack.pkid.to_be_bytes().to_vec();
    body.extend_from_slice(&ack.properties);
    body.extend_from_slice(&ack.codes);
    let header = if suback {
        kind::SUBACK << 4
    } else {
        kind::UNSUBACK << 4
    };
    encode_into(out, header, &body);
}

/// Appends a QoS 0 PUBLISH of `payload` on `topic`.
pub fn publish_into(out: &mut Vec<u8>, topic: &str, payload: &[u8], v5: bool) {
    let mut body = Vec::with_capacity(topic.len() + payload.len() + 3);
    put_str(&mut body, topic);
    if v5 {
        body.push(0);
    }
    body.extend_from_slice(payload);
    encode_into(out, kind::PUBLISH << 4, &body);
}

/// Reads a packet of every kind the door handles, both versions: for the fuzz target and the
/// property tests. Never panics.
pub fn read_everything(packet: &Packet) {
    for v5 in [false, true] {
        let _ = read_publish(packet, v5);
        let _ = read_subscription(packet, v5);
        let _ = read_ack(packet, v5);
    }
    let _ = read_pkid(packet);
}

#[cfg(test)]
mod tests {
    use super::super::mqtt_frame::Framer;
    use super::*;

    fn one(bytes: &[u8]) -> Packet {
        let mut framer = Framer::default();
        framer.push(bytes);
        framer.next_packet().expect("MQTT").expect("whole")
    }

    #[test]
    fn what_the_door_writes_it_reads_back() {
        for v5 in [false, true] {
            let mut out = Vec::new();
            let filters = vec!["/sys/a/b/#".to_owned(), "/ext/session/a/b/#".to_owned()];
            subscription_into(&mut out, true, 0xFFFF, &filters, 0x01, v5);
            let read = read_subscription(&one(&out), v5).expect("a SUBSCRIBE");
            assert_eq!(read.pkid, 0xFFFF);
            assert_eq!(
                read.filters.iter().map(|f| &f.filter).collect::<Vec<_>>(),
                filters.iter().collect::<Vec<_>>()
            );
            assert!(read.filters.iter().all(|f| f.qos() == 1));

            let mut out = Vec::new();
            publish_into(&mut out, "t/x_reply", b"{}", v5);
            let packet = one(&out);
            let publish = read_publish(&packet, v5).expect("a PUBLISH");
            assert_eq!(
                (
                    publish.topic.as_str(),
                    publish.qos,
                    publish.payload(&packet)
                ),
                ("t/x_reply", 0, &b"{}"[..])
            );

            let ack = Ack {
                pkid: 9,
                properties: if v5 { vec![0] } else { Vec::new() },
                codes: vec![1, 0x80],
            };
            let mut out = Vec::new();
            write_ack(&mut out, true, &ack);
            assert_eq!(read_ack(&one(&out), v5), Some(ack));
        }
        let mut out = Vec::new();
        ack_into(&mut out, kind::PUBREL, 7);
        assert_eq!(out, [0x62, 0x02, 0x00, 0x07]);
        assert_eq!(read_pkid(&one(&out)), Some(7));
    }

    #[test]
    fn an_mqtt5_publish_gives_its_topic_alias() {
        // QoS 1, topic "a", pkid 5, properties: user property ("k", "v"), topic alias 3.
        let mut body = vec![0, 1, b'a', 0, 5];
        let properties = [0x26, 0, 1, b'k', 0, 1, b'v', 0x23, 0, 3];
        body.push(u8::try_from(properties.len()).unwrap_or(0));
        body.extend_from_slice(&properties);
        body.extend_from_slice(b"hi");
        let mut out = Vec::new();
        encode_into(&mut out, 0x32, &body);
        let packet = one(&out);
        let publish = read_publish(&packet, true).expect("a PUBLISH");
        assert_eq!(publish.alias, Some(3));
        assert_eq!(publish.pkid, 5);
        assert_eq!(publish.payload(&packet), b"hi");
    }
}
