//! The door's delivery, fed scripted packets both ways.

use std::sync::Mutex;

use super::super::mqtt_packets::{encode_into, write_ack};
use super::*;

/// Who is offline, and who the flows said came online and left.
#[derive(Default)]
struct Seen {
    offline: Mutex<HashSet<DeviceId>>,
    told: Mutex<Vec<String>>,
}

impl Roster for Seen {
    fn offline(&self, device: &DeviceId) -> bool {
        self.offline
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(device)
    }
    fn logged_in(&self, sub: &DeviceId) {
        self.told().push(format!("in {sub}"));
    }
    fn logged_out(&self, sub: &DeviceId) {
        self.told().push(format!("out {sub}"));
    }
}

impl Seen {
    fn told(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        self.told
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

const GW_POST_BATCH: &str = "/sys/gwPk/gw01/thing/measurepoint/post/batch";

fn gw() -> DeviceId {
    DeviceId::new("gwPk", "gw01")
}

fn inv() -> DeviceId {
    DeviceId::new("invPk", "inv01")
}

fn connect(level: u8) -> Vec<u8> {
    let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', level, 0x02, 0, 30];
    if level == 5 {
        body.push(0);
    }
    body.extend_from_slice(&[0, 2, b'g', b'w']);
    let mut out = Vec::new();
    encode_into(&mut out, 0x10, &body);
    out
}

fn connack(code: u8, v5: bool) -> Vec<u8> {
    let mut body = vec![0, code];
    if v5 {
        body.push(0);
    }
    let mut out = Vec::new();
    encode_into(&mut out, 0x20, &body);
    out
}

fn publish(topic: &str, qos: u8, pkid: u16, payload: &str, v5: bool) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&u16::try_from(topic.len()).unwrap_or(0).to_be_bytes());
    body.extend_from_slice(topic.as_bytes());
    if qos > 0 {
        body.extend_from_slice(&pkid.to_be_bytes());
    }
    if v5 {
        body.push(0);
    }
    body.extend_from_slice(payload.as_bytes());
    let mut out = Vec::new();
    encode_into(&mut out, 0x30 | (qos << 1), &body);
    out
}

fn subscribe(pkid: u16, filters: &[(&str, u8)], v5: bool) -> Vec<u8> {
    let subscription = Subscription {
        pkid,
        properties: if v5 { vec![0] } else { Vec::new() },
        filters: filters
            .iter()
            .map(|(filter, options)| Filter {
                filter: (*filter).to_owned(),
                options: *options,
            })
            .collect(),
    };
    let mut out = Vec::new();
    write_subscription(&mut out, true, &subscription);
    out
}

fn unsubscribe(pkid: u16, filters: &[&str]) -> Vec<u8> {
    let subscription = Subscription {
        pkid,
        properties: Vec::new(),
        filters: filters
            .iter()
            .map(|filter| Filter {
                filter: (*filter).to_owned(),
                options: 0,
            })
            .collect(),
    };
    let mut out = Vec::new();
    write_subscription(&mut out, false, &subscription);
    out
}

fn ack(suback: bool, pkid: u16, codes: &[u8], v5: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let ack = Ack {
        pkid,
        properties: if v5 { vec![0] } else { Vec::new() },
        codes: codes.to_vec(),
    };
    write_ack(&mut out, suback, &ack);
    out
}

/// The packets in `bytes`.
fn packets(bytes: &[u8]) -> Vec<Packet> {
    let mut framer = Framer::default();
    framer.push(bytes);
    let mut all = Vec::new();
    while let Ok(Some(packet)) = framer.next_packet() {
        all.push(packet);
    }
    assert_eq!(framer.buffered(), 0, "only whole packets are written");
    all
}

/// The topics of the PUBLISHes in `bytes`.
fn topics(bytes: &[u8], v5: bool) -> Vec<String> {
    packets(bytes)
        .iter()
        .filter_map(|p| read_publish(p, v5))
        .map(|p| p.topic)
        .collect()
}

/// A flow for gw01's connection, CONNECTed and accepted, its own subscription answered:
/// the flow, the roster, and the CONNACK the client finally got.
fn connected(v5: bool) -> (Flow, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let level = if v5 { 5 } else { 4 };
    let mut flow = Flow::new(level, Some(gw()), seen.clone(), true);
    flow.from_client(&connect(level)).expect("MQTT");
    assert_eq!(flow.take_to_broker(), connect(level), "the CONNECT goes on");
    flow.from_broker(&connack(0, v5)).expect("MQTT");
    assert!(
        !flow.has_to_client(),
        "the CONNACK waits for the door's subscription"
    );
    let sent = packets(&flow.take_to_broker());
    let [door] = &sent[..] else {
        panic!("one SUBSCRIBE: {sent:?}")
    };
    let door = read_subscription(door, v5).expect("a SUBSCRIBE");
    assert_eq!(door.pkid, 0xFFFF);
    let filters: Vec<&str> = door.filters.iter().map(|f| f.filter.as_str()).collect();
    assert_eq!(
        filters,
        ["/sys/gwPk/gw01/thing/service/#", "/ext/session/gwPk/gw01/#"]
    );
    let options = if v5 { 0x05 } else { 0x01 };
    assert!(door.filters.iter().all(|f| f.options == options));
    flow.from_broker(&ack(true, 0xFFFF, &[1, 1], v5))
        .expect("MQTT");
    assert_eq!(
        flow.take_to_client(),
        connack(0, v5),
        "the SUBACK stays with the door"
    );
    (flow, seen)
}

#[test]
fn a_device_that_subscribes_to_nothing_gets_commands_and_replies_never_its_own() {
    let (mut flow, _) = connected(false);
    let command = publish(
        "/sys/gwPk/gw01/thing/service/measurepoint/set",
        1,
        7,
        r#"{"id":"1"}"#,
        false,
    );
    flow.from_broker(&command).expect("MQTT");
    assert_eq!(
        flow.take_to_client(),
        command,
        "a command goes down as it came"
    );
    // Its first post: the door subscribes to the reply topic ahead of it, once.
    let post = |id: &str| publish(GW_POST_BATCH, 1, 2, &format!(r#"{{"id":"{id}"}}"#), false);
    flow.from_client(&post("2")).expect("MQTT");
    let sent = packets(&flow.take_to_broker());
    let kinds: Vec<u8> = sent.iter().map(Packet::kind).collect();
    assert_eq!(
        kinds,
        [kind::SUBSCRIBE, kind::PUBLISH],
        "the SUBSCRIBE first"
    );
    let door = read_subscription(&sent[0], false).expect("a SUBSCRIBE");
    assert_eq!(door.pkid, 0xFFFE);
    assert_eq!(door.filters[0].filter, format!("{GW_POST_BATCH}_reply"));
    flow.from_broker(&ack(true, 0xFFFE, &[1], false))
        .expect("MQTT");
    assert!(!flow.has_to_client(), "the SUBACK stays with the door");
    flow.from_client(&post("3")).expect("MQTT");
    assert_eq!(flow.take_to_broker(), post("3"), "subscribed already");
    let mut puback = Vec::new();
    ack_into(&mut puback, kind::PUBACK, 2);
    flow.from_broker(&puback).expect("MQTT");
    flow.from_broker(&puback).expect("MQTT");
    assert_eq!(flow.take_to_client(), [puback.clone(), puback].concat());
    let reply = publish(
        &format!("{GW_POST_BATCH}_reply"),
        0,
        0,
        r#"{"id":"2","code":200}"#,
        false,
    );
    flow.from_broker(&reply).expect("MQTT");
    assert_eq!(flow.take_to_client(), reply, "a reply goes down");
    assert!(!flow.has_to_broker());

    // Its own post and its own set_reply come back from the broker: held back, acknowledged.
    let own_post = publish(
        "/sys/gwPk/gw01/thing/measurepoint/post/batch",
        1,
        8,
        "{}",
        false,
    );
    let own_reply = publish(
        "/sys/gwPk/gw01/thing/service/measurepoint/set_reply",
        1,
        9,
        "{}",
        false,
    );
    let mut both = own_post.clone();
    both.extend_from_slice(&own_reply);
    // Split anywhere: the door reads whole packets.
    let (a, b) = both.split_at(5);
    flow.from_broker(a).expect("MQTT");
    flow.from_broker(b).expect("MQTT");
    assert!(!flow.has_to_client(), "nothing of its own comes back");
    // The door's acknowledgements wait for the device's of the command before them: a broker
    // takes them in order only (rumqttd drops the connection otherwise).
    assert!(!flow.has_to_broker());
    let mut puback = Vec::new();
    ack_into(&mut puback, kind::PUBACK, 7);
    flow.from_client(&puback).expect("MQTT");
    let acks: Vec<Option<u16>> = packets(&flow.take_to_broker())
        .iter()
        .map(|p| (p.kind() == kind::PUBACK).then(|| read_pkid(p)).flatten())
        .collect();
    assert_eq!(acks, [Some(7), Some(8), Some(9)]);

    // Another client's post as gw01 (no filter of the device's asked for it) stays too.
    flow.from_broker(&publish(GW_POST_BATCH, 0, 0, r#"{"id":"theirs"}"#, false))
        .expect("MQTT");
    assert!(!flow.has_to_client());

    // Other topics pass untouched, whatever they are.
    let other = publish("factory/line1", 0, 0, "x", false);
    flow.from_broker(&other).expect("MQTT");
    assert_eq!(flow.take_to_client(), other);
}

/// Logs `inv01` in on `flow` with id `id` and the hub's 200.
fn log_in(flow: &mut Flow, id: &str) -> Vec<Packet> {
    let login = publish(
        "/ext/session/gwPk/gw01/combine/login",
        1,
        3,
        &format!(r#"{{"id":"{id}","params":{{"productKey":"invPk","deviceKey":"inv01"}}}}"#),
        false,
    );
    flow.from_client(&login).expect("MQTT");
    assert_eq!(flow.take_to_broker(), login);
    let reply = publish(
        "/ext/session/gwPk/gw01/combine/login_reply",
        0,
        0,
        &format!(
            r#"{{"id":"{id}","code":200,"data":{{"productKey":"invPk","deviceKey":"inv01"}}}}"#
        ),
        false,
    );
    flow.from_broker(&reply).expect("MQTT");
    packets(&flow.take_to_broker())
}

#[test]
fn an_accepted_login_subscribes_to_the_sub_device_before_the_gateway_hears_of_it() {
    let (mut flow, seen) = connected(false);
    // A command for inv01 before its login: it is not subscribed, and goes nowhere here.
    let sent = log_in(&mut flow, "5");
    let [sub] = &sent[..] else {
        panic!("one SUBSCRIBE: {sent:?}")
    };
    let sub = read_subscription(sub, false).expect("a SUBSCRIBE");
    assert_eq!(sub.pkid, 0xFFFE, "the next of the door's ids");
    let filters: Vec<&str> = sub.filters.iter().map(|f| f.filter.as_str()).collect();
    assert_eq!(
        filters,
        [
            "/sys/invPk/inv01/thing/service/#",
            "/ext/session/invPk/inv01/#"
        ]
    );
    assert!(
        !flow.has_to_client(),
        "the login reply waits for the subscription"
    );
    assert!(seen.told().is_empty());
    flow.from_broker(&ack(true, 0xFFFE, &[1, 1], false))
        .expect("MQTT");
    assert_eq!(
        topics(&flow.take_to_client(), false),
        ["/ext/session/gwPk/gw01/combine/login_reply"]
    );
    assert_eq!(*seen.told(), ["in invPk/inv01"]);
    let command = publish(
        "/sys/invPk/inv01/thing/service/setPowerLimit",
        1,
        4,
        "{}",
        false,
    );
    flow.from_broker(&command).expect("MQTT");
    assert_eq!(flow.take_to_client(), command);
    // The gateway's own single post for inv01 never comes back.
    flow.from_broker(&publish(
        "/sys/invPk/inv01/thing/measurepoint/post",
        0,
        0,
        "{}",
        false,
    ))
    .expect("MQTT");
    assert!(!flow.has_to_client());

    // A logout answered 200: offline, unsubscribed; the UNSUBACK stays with the door.
    flow.from_client(&publish(
        "/ext/session/gwPk/gw01/combine/logout",
        0,
        0,
        r#"{"id":"6","params":{"productKey":"invPk","deviceKey":"inv01"}}"#,
        false,
    ))
    .expect("MQTT");
    flow.take_to_broker();
    flow.from_broker(&publish(
        "/ext/session/gwPk/gw01/combine/logout_reply",
        0,
        0,
        r#"{"id":"6","code":200,"data":{}}"#,
        false,
    ))
    .expect("MQTT");
    assert_eq!(
        topics(&flow.take_to_client(), false),
        ["/ext/session/gwPk/gw01/combine/logout_reply"]
    );
    let sent = packets(&flow.take_to_broker());
    let [unsub] = &sent[..] else {
        panic!("one UNSUBSCRIBE: {sent:?}")
    };
    assert_eq!(unsub.kind(), kind::UNSUBSCRIBE);
    let pkid = read_subscription(unsub, false).expect("read").pkid;
    flow.from_broker(&ack(false, pkid, &[], false))
        .expect("MQTT");
    assert!(!flow.has_to_client());
    assert_eq!(*seen.told(), ["in invPk/inv01", "out invPk/inv01"]);
    drop(flow);
    assert_eq!(seen.told().len(), 2, "told once");
}

#[test]
fn a_refused_login_and_another_connections_login_subscribe_nothing() {
    let (mut flow, seen) = connected(false);
    flow.from_client(&publish(
        "/ext/session/gwPk/gw01/combine/login",
        0,
        0,
        r#"{"id":"7","params":{"productKey":"invPk","deviceKey":"inv01"}}"#,
        false,
    ))
    .expect("MQTT");
    flow.take_to_broker();
    // Refused (a string code, as the Python SDK's are): no subscription.
    let refused = publish(
        "/ext/session/gwPk/gw01/combine/login_reply",
        0,
        0,
        r#"{"id":"7","code":"742"}"#,
        false,
    );
    flow.from_broker(&refused).expect("MQTT");
    assert_eq!(flow.take_to_client(), refused);
    // Accepted, but for a login this connection never sent (another connection as gw01).
    let theirs = publish(
        "/ext/session/gwPk/gw01/combine/login_reply",
        0,
        0,
        r#"{"id":"99","code":200,"data":{"productKey":"invPk","deviceKey":"inv01"}}"#,
        false,
    );
    flow.from_broker(&theirs).expect("MQTT");
    assert_eq!(flow.take_to_client(), theirs);
    assert!(!flow.has_to_broker());
    drop(flow);
    assert!(seen.told().is_empty());
}

#[test]
fn a_connection_that_ends_takes_its_sub_devices_offline() {
    let (mut flow, seen) = connected(false);
    log_in(&mut flow, "5");
    flow.from_broker(&ack(true, 0xFFFE, &[1, 1], false))
        .expect("MQTT");
    drop(flow);
    assert_eq!(*seen.told(), ["in invPk/inv01", "out invPk/inv01"]);
}

#[test]
fn a_device_that_subscribes_itself_holds_one_subscription_per_message() {
    let (mut flow, _) = connected(false);
    // The C SDK's filter: covered by the door's, answered by the door.
    flow.from_client(&subscribe(
        1,
        &[("/sys/gwPk/gw01/thing/service/+", 1)],
        false,
    ))
    .expect("MQTT");
    assert!(!flow.has_to_broker(), "the broker holds one subscription");
    assert_eq!(flow.take_to_client(), ack(true, 1, &[1], false));
    // A reply topic the door holds since the device's first post there.
    flow.from_client(&publish(GW_POST_BATCH, 0, 0, "{}", false))
        .expect("MQTT");
    flow.take_to_broker();
    // Mixed: only what the door does not cover goes to the broker, with the device's id.
    flow.from_client(&subscribe(
        2,
        &[
            ("factory/#", 0),
            ("/sys/gwPk/gw01/thing/measurepoint/post/batch_reply", 2),
            ("other", 1),
        ],
        false,
    ))
    .expect("MQTT");
    assert_eq!(
        flow.take_to_broker(),
        subscribe(2, &[("factory/#", 0), ("other", 1)], false)
    );
    flow.from_broker(&ack(true, 2, &[0, 0x80], false))
        .expect("MQTT");
    assert_eq!(
        flow.take_to_client(),
        ack(true, 2, &[0, 1, 0x80], false),
        "the door's code in its place, QoS 2 granted as 1"
    );
    // A command comes once.
    let command = publish("/sys/gwPk/gw01/thing/service/getState", 1, 11, "{}", false);
    flow.from_broker(&command).expect("MQTT");
    assert_eq!(flow.take_to_client(), command);
    // Unsubscribing what the door answered is answered by the door; the rest goes on.
    flow.from_client(&unsubscribe(3, &["/sys/gwPk/gw01/thing/service/+"]))
        .expect("MQTT");
    assert!(!flow.has_to_broker());
    assert_eq!(flow.take_to_client(), ack(false, 3, &[], false));
    flow.from_client(&unsubscribe(4, &["factory/#"]))
        .expect("MQTT");
    assert_eq!(flow.take_to_broker(), unsubscribe(4, &["factory/#"]));
    flow.from_broker(&ack(false, 4, &[], false)).expect("MQTT");
    assert_eq!(flow.take_to_client(), ack(false, 4, &[], false));
}

#[test]
fn overlapping_filters_give_each_message_once() {
    let (mut flow, _) = connected(false);
    // `#` is not the door's to answer: the broker holds it beside the door's filters.
    flow.from_client(&subscribe(1, &[("#", 1)], false))
        .expect("MQTT");
    assert_eq!(flow.take_to_broker(), subscribe(1, &[("#", 1)], false));
    flow.from_broker(&ack(true, 1, &[1], false)).expect("MQTT");
    flow.take_to_client();
    // rumqttd sends a copy per matching subscription: two here, and only one goes down.
    let command = |pkid| {
        publish(
            "/sys/gwPk/gw01/thing/service/measurepoint/get",
            1,
            pkid,
            r#"{"id":"1"}"#,
            false,
        )
    };
    flow.from_broker(&command(20)).expect("MQTT");
    flow.from_broker(&command(21)).expect("MQTT");
    assert_eq!(flow.take_to_client(), command(20));
    // The copy is acknowledged by the door, after the device acknowledged the first.
    assert!(!flow.has_to_broker());
    let mut device_ack = Vec::new();
    ack_into(&mut device_ack, kind::PUBACK, 20);
    flow.from_client(&device_ack).expect("MQTT");
    assert_eq!(flow.take_to_broker(), {
        let mut out = device_ack.clone();
        ack_into(&mut out, kind::PUBACK, 21);
        out
    });
    // A new command with another id is not a copy.
    let next = publish(
        "/sys/gwPk/gw01/thing/service/measurepoint/get",
        0,
        0,
        r#"{"id":"2"}"#,
        false,
    );
    flow.from_broker(&next).expect("MQTT");
    assert_eq!(flow.take_to_client(), next);
    // Its `#` asked for posts: another client's as gw01 go down (a watcher sees them), its
    // own never come back, whichever subscription brings them.
    let own_post = publish(
        "/sys/gwPk/gw01/thing/measurepoint/post/batch",
        0,
        0,
        r#"{"id":"mine"}"#,
        false,
    );
    flow.from_client(&own_post).expect("MQTT");
    let sent = packets(&flow.take_to_broker());
    assert_eq!(sent.last().map(Packet::kind), Some(kind::PUBLISH));
    flow.from_broker(&own_post).expect("MQTT");
    assert!(!flow.has_to_client(), "its own post, through its own `#`");
    let theirs = publish(
        "/sys/gwPk/gw01/thing/measurepoint/post/batch",
        0,
        0,
        r#"{"id":"theirs"}"#,
        false,
    );
    flow.from_broker(&theirs).expect("MQTT");
    assert_eq!(flow.take_to_client(), theirs);
    // What only its own `#` brings, outside the protocol, goes down as on any broker.
    let other = publish("factory/line1", 0, 0, "x", false);
    flow.from_broker(&other).expect("MQTT");
    assert_eq!(flow.take_to_client(), other);
}

#[test]
fn the_doors_packet_ids_never_take_the_devices_answers() {
    let seen = Arc::new(Seen::default());
    let mut flow = Flow::new(4, Some(gw()), seen, true);
    flow.from_client(&connect(4)).expect("MQTT");
    // The device subscribes with the door's first id before its CONNACK came.
    flow.from_client(&subscribe(
        0xFFFF,
        &[("/sys/gwPk/gw01/thing/service/+", 1)],
        false,
    ))
    .expect("MQTT");
    flow.take_to_broker();
    flow.from_broker(&connack(0, false)).expect("MQTT");
    let sent = packets(&flow.take_to_broker());
    let door = read_subscription(&sent[0], false).expect("a SUBSCRIBE");
    assert_eq!(door.pkid, 0xFFFE, "an id in flight is skipped");
    // Both answered; each answer reaches its own: the device's SUBACK goes down, after the
    // CONNACK, once the door's own holds.
    flow.from_broker(&ack(true, 0xFFFF, &[1], false))
        .expect("MQTT");
    assert!(!flow.has_to_client());
    flow.from_broker(&ack(true, 0xFFFE, &[1, 1], false))
        .expect("MQTT");
    let down = packets(&flow.take_to_client());
    let kinds: Vec<u8> = down.iter().map(Packet::kind).collect();
    assert_eq!(kinds, [kind::CONNACK, kind::SUBACK]);
    assert_eq!(read_ack(&down[1], false).map(|a| a.pkid), Some(0xFFFF));

    // The same id in flight twice, the door's first: answers pair in order.
    let mut flow = Flow::new(4, Some(gw()), Arc::new(Seen::default()), true);
    flow.from_client(&connect(4)).expect("MQTT");
    flow.from_broker(&connack(0, false)).expect("MQTT");
    flow.from_client(&subscribe(0xFFFF, &[("elsewhere", 0)], false))
        .expect("MQTT");
    flow.take_to_broker();
    flow.from_broker(&ack(true, 0xFFFF, &[1, 1], false))
        .expect("MQTT");
    assert_eq!(packets(&flow.take_to_client())[0].kind(), kind::CONNACK);
    flow.from_broker(&ack(true, 0xFFFF, &[0], false))
        .expect("MQTT");
    assert_eq!(flow.take_to_client(), ack(true, 0xFFFF, &[0], false));
}

#[test]
fn a_login_sent_before_the_connack_gets_its_reply_once() {
    let seen = Arc::new(Seen::default());
    let mut flow = Flow::new(4, Some(gw()), seen, true);
    flow.from_client(&connect(4)).expect("MQTT");
    flow.take_to_broker();
    // Sent at once after the CONNECT, as MQTT allows: the door subscribes to its reply topic.
    let login = publish(
        "/ext/session/gwPk/gw01/combine/login",
        0,
        0,
        r#"{"id":"9","params":{"productKey":"invPk","deviceKey":"inv01"}}"#,
        false,
    );
    flow.from_client(&login).expect("MQTT");
    let sent = packets(&flow.take_to_broker());
    assert_eq!(sent[0].kind(), kind::SUBSCRIBE);
    let exact = read_subscription(&sent[0], false)
        .expect("a SUBSCRIBE")
        .pkid;
    // Then the CONNACK brings the session filter, which covers that reply topic too.
    flow.from_broker(&connack(0, false)).expect("MQTT");
    let session = read_subscription(&packets(&flow.take_to_broker())[0], false)
        .expect("a SUBSCRIBE")
        .pkid;
    flow.from_broker(&ack(true, exact, &[1], false))
        .expect("MQTT");
    flow.from_broker(&ack(true, session, &[1, 1], false))
        .expect("MQTT");
    assert_eq!(flow.take_to_client(), connack(0, false));
    // rumqttd sends the reply once per matching subscription: it goes down once.
    let reply = publish(
        "/ext/session/gwPk/gw01/combine/login_reply",
        0,
        0,
        r#"{"id":"9","code":742}"#,
        false,
    );
    flow.from_broker(&reply).expect("MQTT");
    flow.from_broker(&reply).expect("MQTT");
    assert_eq!(flow.take_to_client(), reply);
}

#[test]
fn a_refused_connect_is_told_at_once() {
    let seen = Arc::new(Seen::default());
    let mut flow = Flow::new(4, Some(gw()), seen, true);
    flow.from_client(&connect(4)).expect("MQTT");
    flow.take_to_broker();
    flow.from_broker(&connack(5, false)).expect("MQTT");
    assert_eq!(flow.take_to_client(), connack(5, false));
    assert!(!flow.has_to_broker(), "nothing to subscribe for");
}

#[test]
fn a_command_for_an_offline_device_is_answered_11900_through_the_broker() {
    let seen = Arc::new(Seen::default());
    seen.offline
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(inv());
    // A platform client: no device of its own.
    let mut flow = Flow::new(4, None, seen, true);
    flow.from_client(&connect(4)).expect("MQTT");
    flow.take_to_broker();
    let topic = "/sys/invPk/inv01/thing/service/measurepoint/set";
    flow.from_client(&publish(topic, 1, 12, r#"{"id":"42","params":{}}"#, false))
        .expect("MQTT");
    assert_eq!(flow.take_to_client(), {
        let mut out = Vec::new();
        ack_into(&mut out, kind::PUBACK, 12);
        out
    });
    let up = packets(&flow.take_to_broker());
    let [reply] = &up[..] else {
        panic!("only the reply goes to the broker: {up:?}")
    };
    let reply_publish = read_publish(reply, false).expect("a PUBLISH");
    assert_eq!(reply_publish.topic, format!("{topic}_reply"));
    assert_eq!(reply_publish.qos, 0);
    let body: Value =
        serde_json::from_slice(reply_publish.payload(reply)).expect("the reply is JSON");
    assert_eq!(
        body,
        serde_json::json!({"id": "42", "code": 11900, "message": "device offline", "data": null})
    );
    // QoS 2: PUBREC, and the PUBREL is the door's to complete.
    flow.from_client(&publish(topic, 2, 13, r#"{"id":7}"#, false))
        .expect("MQTT");
    let down = packets(&flow.take_to_client());
    assert_eq!(down[0].kind(), kind::PUBREC);
    let body: Value = {
        let up = packets(&flow.take_to_broker());
        let publish = read_publish(&up[0], false).expect("a PUBLISH");
        serde_json::from_slice(publish.payload(&up[0])).expect("JSON")
    };
    assert_eq!(body["id"], 7, "a number id is echoed as a number");
    let mut pubrel = Vec::new();
    ack_into(&mut pubrel, kind::PUBREL, 13);
    flow.from_client(&pubrel).expect("MQTT");
    assert!(!flow.has_to_broker());
    assert_eq!(packets(&flow.take_to_client())[0].kind(), kind::PUBCOMP);
    // The gateway is online: its command goes on untouched, as does everything else.
    let online = publish(
        "/sys/gwPk/gw01/thing/service/measurepoint/set",
        1,
        14,
        "{}",
        false,
    );
    flow.from_client(&online).expect("MQTT");
    assert_eq!(flow.take_to_broker(), online);
    assert!(!flow.has_to_client());
}

#[test]
fn mqtt5_subscriptions_carry_no_local_and_properties_survive() {
    let (mut flow, _) = connected(true);
    let command = publish(
        "/sys/gwPk/gw01/thing/service/measurepoint/set",
        1,
        3,
        "{}",
        true,
    );
    flow.from_broker(&command).expect("MQTT");
    assert_eq!(flow.take_to_client(), command);
    flow.from_broker(&publish(
        "/sys/gwPk/gw01/thing/measurepoint/post",
        1,
        4,
        "{}",
        true,
    ))
    .expect("MQTT");
    assert!(!flow.has_to_client());
    flow.take_to_broker();
    // A covered subscription answered in MQTT 5's form.
    flow.from_client(&subscribe(
        5,
        &[("/sys/gwPk/gw01/thing/service/#", 1)],
        true,
    ))
    .expect("MQTT");
    assert_eq!(flow.take_to_client(), ack(true, 5, &[1], true));
    flow.from_client(&unsubscribe_v5(6, "/sys/gwPk/gw01/thing/service/#"))
        .expect("MQTT");
    assert_eq!(flow.take_to_client(), ack(false, 6, &[0], true));
}

fn unsubscribe_v5(pkid: u16, filter: &str) -> Vec<u8> {
    let subscription = Subscription {
        pkid,
        properties: vec![0],
        filters: vec![Filter {
            filter: filter.to_owned(),
            options: 0,
        }],
    };
    let mut out = Vec::new();
    write_subscription(&mut out, false, &subscription);
    out
}

#[path = "deliver_properties_tests.rs"]
mod properties;
