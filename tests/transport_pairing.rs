//! Pairing over a real broker: replies pair by topic and id, a reply without an id pairs with
//! the oldest pending request (marked so), and anything else is shown as unpaired, never dropped.

mod common;

use std::time::Duration;

use thingbench::broker::EmbeddedBroker;
use thingbench::protocol::{DeviceId, MsgId, ReplyCode, Secret};
use thingbench::transport::{
    Auth, BrokerUrl, PairedBy, RequestId, Session, SessionCommand, SessionConfig, SessionEvent,
    TlsOptions,
};

fn session(broker: &EmbeddedBroker, id: &str) -> Session {
    session_at(broker.url(), id)
}

fn session_at(url: BrokerUrl, id: &str) -> Session {
    let config = SessionConfig {
        broker: url,
        client_id: id.to_owned(),
        auth: Auth::None,
        keep_alive: Duration::from_secs(30),
        tls: TlsOptions::default(),
        platform: false,
    };
    let session = Session::start(config, Box::new(|| {})).expect("session starts");
    wait_for(&session, |e| matches!(e, SessionEvent::Connected));
    session
}

fn wait_for(session: &Session, mut wanted: impl FnMut(&SessionEvent) -> bool) -> SessionEvent {
    loop {
        let event = session
            .events
            .recv_timeout(Duration::from_secs(5))
            .expect("the expected event arrives within 5 s");
        if wanted(&event) {
            return event;
        }
    }
}

/// Subscribes `session` to `filter` and waits for the broker's SUBACK.
fn subscribed(session: &Session, filter: &str) {
    session.send(SessionCommand::Subscribe(filter.to_owned()));
    let event = wait_for(
        session,
        |e| matches!(e, SessionEvent::Subscribed { filter: f, .. } if f == filter),
    );
    assert!(
        matches!(&event, SessionEvent::Subscribed { granted: Ok(_), .. }),
        "{event:?}"
    );
}

/// `device` publishes `payload` on `topic` (via a request whose own reply nobody sends).
fn publish(device: &Session, n: u64, topic: &str, payload: &str) {
    device.send(SessionCommand::Request {
        request: RequestId(1000 + n),
        topic: topic.to_owned(),
        payload: payload.as_bytes().to_vec(),
        msg_id: None,
        timeout: Duration::from_secs(30),
    });
}

#[test]
fn replies_pair_by_id_then_oldest_and_the_rest_is_unpaired() {
    let broker = EmbeddedBroker::start(None).expect("embedded broker");
    let client = session(&broker, "pairing-client");
    let responder = session(&broker, "pairing-responder");
    subscribed(&responder, "lab/req");

    // Two requests in flight on the same topic.
    for (n, id) in [(1, "a1"), (2, "a2")] {
        client.send(SessionCommand::Request {
            request: RequestId(n),
            topic: "lab/req".into(),
            payload: format!(r#"{{"id": "{id}"}}"#).into_bytes(),
            msg_id: Some(MsgId(id.into())),
            timeout: Duration::from_secs(10),
        });
    }
    for _ in 0..2 {
        wait_for(
            &responder,
            |e| matches!(e, SessionEvent::Message { topic, .. } if topic == "lab/req"),
        );
    }

    // The second request's reply, by id.
    publish(
        &responder,
        1,
        "lab/req_reply",
        r#"{"id": "a2", "code": 1204, "message": "bad"}"#,
    );
    let SessionEvent::Replied {
        request,
        reply,
        paired_by,
        ..
    } = wait_for(&client, |e| matches!(e, SessionEvent::Replied { .. }))
    else {
        unreachable!()
    };
    assert_eq!(
        (request, reply.code, paired_by),
        (RequestId(2), ReplyCode::MODEL, PairedBy::Id)
    );

    // The same reply again pairs with nothing.
    publish(
        &responder,
        2,
        "lab/req_reply",
        r#"{"id": "a2", "code": 1204}"#,
    );
    let event = wait_for(&client, |e| matches!(e, SessionEvent::Unpaired { .. }));
    assert!(matches!(event, SessionEvent::Unpaired { why, .. } if why.contains("a2")));

    // A reply without an id pairs with the oldest pending request, marked as such.
    publish(&responder, 3, "lab/req_reply", r#"{"code": 200}"#);
    let SessionEvent::Replied {
        request, paired_by, ..
    } = wait_for(&client, |e| matches!(e, SessionEvent::Replied { .. }))
    else {
        unreachable!()
    };
    assert_eq!((request, paired_by), (RequestId(1), PairedBy::Oldest));

    // Not JSON, and an id nobody waits for: shown, not dropped, nothing pairs wrongly.
    publish(&responder, 4, "lab/req_reply", "not json");
    let event = wait_for(&client, |e| matches!(e, SessionEvent::Unpaired { .. }));
    assert!(matches!(event, SessionEvent::Unpaired { why, .. } if why.contains("not JSON")));
    publish(&responder, 5, "lab/req_reply", r#"{"code": 200}"#);
    let event = wait_for(&client, |e| matches!(e, SessionEvent::Unpaired { .. }));
    assert!(matches!(event, SessionEvent::Unpaired { why, .. } if why.contains("no id")));
}

#[test]
fn a_request_nobody_answers_ends_as_no_reply() {
    let broker = EmbeddedBroker::start(None).expect("embedded broker");
    let client = session(&broker, "silence-client");
    let started = std::time::Instant::now();
    client.send(SessionCommand::Request {
        request: RequestId(7),
        topic: "lab/nobody".into(),
        payload: b"{}".to_vec(),
        msg_id: Some(MsgId("7".into())),
        timeout: Duration::from_millis(200),
    });
    let event = wait_for(&client, |e| {
        matches!(
            e,
            SessionEvent::NoReply { .. } | SessionEvent::Replied { .. }
        )
    });
    assert!(
        matches!(
            event,
            SessionEvent::NoReply {
                request: RequestId(7),
                ..
            }
        ),
        "{event:?}"
    );
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[test]
fn a_port_in_use_is_refused_with_a_sentence() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr");
    let err = EmbeddedBroker::start(Some(addr))
        .expect_err("the port is taken")
        .to_string();
    assert!(
        err.contains(&addr.to_string()) && err.contains("--listen"),
        "{err}"
    );
}

#[test]
fn an_oversized_request_is_refused_and_the_session_lives_on() {
    let broker = EmbeddedBroker::start(None).expect("embedded broker");
    let client = session(&broker, "oversize-client");
    let huge = vec![b'x'; thingbench::transport::MAX_PACKET + 1];
    client.send(SessionCommand::Request {
        request: RequestId(1),
        topic: "lab/big".into(),
        payload: huge,
        msg_id: None,
        timeout: Duration::from_secs(5),
    });
    let event = wait_for(&client, |e| matches!(e, SessionEvent::Lost { .. }));
    assert!(
        matches!(&event, SessionEvent::Lost { request: RequestId(1), reason } if reason.contains("over thingbench's MQTT limit")),
        "{event:?}"
    );
    // Still connected: a normal request goes out and times out normally (nobody answers).
    client.send(SessionCommand::Request {
        request: RequestId(2),
        topic: "lab/small".into(),
        payload: b"{}".to_vec(),
        msg_id: None,
        timeout: Duration::from_millis(100),
    });
    let event = wait_for(&client, |e| {
        matches!(
            e,
            SessionEvent::NoReply { .. }
                | SessionEvent::Lost { .. }
                | SessionEvent::Disconnected { .. }
        )
    });
    assert!(
        matches!(
            event,
            SessionEvent::NoReply {
                request: RequestId(2),
                ..
            }
        ),
        "{event:?}"
    );
}

#[test]
fn hostile_replies_are_shown_for_what_they_are() {
    let broker = EmbeddedBroker::start(None).expect("embedded broker");
    let client = session(&broker, "hostile-client");
    let responder = session(&broker, "hostile-responder");
    subscribed(&responder, "lab/h");
    client.send(SessionCommand::Request {
        request: RequestId(1),
        topic: "lab/h".into(),
        payload: br#"{"id": "h1"}"#.to_vec(),
        msg_id: Some(MsgId("h1".into())),
        timeout: Duration::from_secs(10),
    });
    wait_for(&responder, |e| matches!(e, SessionEvent::Message { .. }));

    // JSON with the right id but no code: it is not a reply, and the request still waits.
    publish(&responder, 1, "lab/h_reply", r#"{"id": "h1", "data": {}}"#);
    let event = wait_for(&client, |e| matches!(e, SessionEvent::Unpaired { .. }));
    assert!(
        matches!(&event, SessionEvent::Unpaired { why, .. } if why.contains("code")),
        "{event:?}"
    );
    // A JSON array: not an object.
    publish(&responder, 2, "lab/h_reply", "[1, 2]");
    let event = wait_for(&client, |e| matches!(e, SessionEvent::Unpaired { .. }));
    assert!(
        matches!(&event, SessionEvent::Unpaired { why, .. } if why.contains("not an object")),
        "{event:?}"
    );
    // A 5 MiB reply carrying the id pairs like any other, and the session lives on.
    let padding = "x".repeat(5 * 1024 * 1024);
    publish(
        &responder,
        3,
        "lab/h_reply",
        &format!(r#"{{"id": "h1", "code": 1204, "message": "{padding}"}}"#),
    );
    let event = wait_for(&client, |e| matches!(e, SessionEvent::Replied { .. }));
    let SessionEvent::Replied {
        request,
        reply,
        payload,
        ..
    } = event
    else {
        unreachable!()
    };
    assert_eq!((request, reply.code), (RequestId(1), ReplyCode(1204)));
    assert!(payload.len() > 5 * 1024 * 1024);
    // A reply on a reply topic the client never asked about does not reach it at all; one on
    // its own topic after the request was answered pairs with nothing.
    publish(
        &responder,
        4,
        "lab/other_reply",
        r#"{"id": "h1", "code": 200}"#,
    );
    publish(&responder, 5, "lab/h_reply", r#"{"id": "h1", "code": 200}"#);
    let event = wait_for(&client, |e| matches!(e, SessionEvent::Unpaired { .. }));
    assert!(
        matches!(&event, SessionEvent::Unpaired { topic, .. } if topic == "lab/h_reply"),
        "{event:?}"
    );
}

#[test]
fn only_a_plain_publish_reports_its_puback() {
    let broker = EmbeddedBroker::start(None).expect("embedded broker");
    let client = session(&broker, "acked-client");
    // A request's PUBACK wakes nobody; it ends with its reply or its timeout.
    for n in 1..=2 {
        publish(&client, n, "lab/acked/request", "{}");
        client.send(SessionCommand::Publish {
            topic: "lab/acked/plain".into(),
            payload: b"{}".to_vec(),
        });
    }
    // The broker answers one client's packets in order: once the SUBACK of a later
    // subscription is in, every PUBACK before it is too.
    client.send(SessionCommand::Subscribe("lab/acked/sentinel".into()));
    let mut seen = Vec::new();
    loop {
        let event = wait_for(&client, |_| true);
        if matches!(&event, SessionEvent::Subscribed { filter, .. } if filter == "lab/acked/sentinel")
        {
            break;
        }
        seen.push(event);
    }
    let acked = seen
        .iter()
        .filter(|e| matches!(e, SessionEvent::Acked))
        .count();
    assert_eq!(
        acked, 2,
        "one Acked per plain publish, none for requests: {seen:?}"
    );
}

#[test]
fn a_subscription_that_cannot_be_made_is_reported_not_dropped() {
    let broker = EmbeddedBroker::start(None).expect("embedded broker");
    let client = session(&broker, "refused-client");
    client.send(SessionCommand::Subscribe("lab/#/bad".into()));
    let event = wait_for(&client, |e| matches!(e, SessionEvent::Subscribed { .. }));
    let SessionEvent::Subscribed { filter, granted } = event else {
        unreachable!()
    };
    assert_eq!(filter, "lab/#/bad");
    let reason = granted
        .expect_err("an invalid filter is refused")
        .to_string();
    assert!(reason.contains("not a valid MQTT topic filter"), "{reason}");
    // The session lives on: a good subscription after it is granted.
    subscribed(&client, "lab/good");
}

#[test]
fn a_reconnect_that_cannot_sign_anew_says_so() {
    let bundle = std::path::Path::new("/etc/ssl/certs/ca-certificates.crt");
    if !bundle.is_file() {
        common::missing_peer(
            "the system CA bundle /etc/ssl/certs/ca-certificates.crt",
            "apt-get install ca-certificates",
        );
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path().join("ca.pem");
    std::fs::copy(bundle, &ca).expect("copy the CA bundle");
    // Nobody listens there: every connect fails and the session retries, signing anew each time.
    let url = format!("mqtts://127.0.0.1:{}", common::free_port());
    let config = SessionConfig {
        broker: thingbench::transport::BrokerUrl::parse(&url).expect("a URL"),
        client_id: "gw01".into(),
        auth: Auth::Sign {
            device: DeviceId::new("gwPk", "gw01"),
            secret: Secret::new("gw-secret".to_owned()),
        },
        keep_alive: Duration::from_secs(30),
        tls: TlsOptions {
            ca_file: Some(ca.clone()),
            ..TlsOptions::default()
        },
        platform: false,
    };
    let session = Session::start(config, Box::new(|| {})).expect("session starts");
    wait_for(&session, |e| matches!(e, SessionEvent::Disconnected { .. }));
    // The CA file goes away: the next sign-in cannot build its TLS settings.
    std::fs::remove_file(&ca).expect("remove");
    let event = wait_for(
        &session,
        |e| matches!(e, SessionEvent::Disconnected { reason } if reason.contains("cannot sign")),
    );
    let SessionEvent::Disconnected { reason } = event else {
        unreachable!()
    };
    assert!(reason.contains("ca.pem"), "names the file: {reason}");
    assert!(reason.contains("previous credentials"), "{reason}");
}

/// A session watching a filter that covers its own topics, and another client on the same
/// broker: the other's publish and the reply to its request come as messages; the session's
/// own publish, which the broker sends back (MQTT 3.1.1 has no "no local"), does not, and the
/// reply to another's request is no unpaired reply of its own.
fn watching_hears_the_others_and_not_itself(url: BrokerUrl) {
    const TOPIC: &str = "/sys/gwPk/gw01/thing/measurepoint/post";
    let watcher = session_at(url.clone(), "watching-tool");
    let other = session_at(url, "other-client");
    subscribed(&watcher, "/sys/+/+/thing/measurepoint/#");
    // Its own publish, acknowledged before the other's goes out: one filter, one order, so
    // its echo would come first.
    watcher.send(SessionCommand::Publish {
        topic: TOPIC.into(),
        payload: br#"{"id":"own-1"}"#.to_vec(),
    });
    wait_for(&watcher, |e| matches!(e, SessionEvent::Acked));
    // A request of its own makes the reply topic one of its own; the other client answers
    // a request of its own there.
    publish(&watcher, 1, TOPIC, r#"{"id":"own-2"}"#);
    let reply_topic = format!("{TOPIC}_reply");
    let others = [
        (TOPIC.to_owned(), r#"{"id":"other-1"}"#),
        (
            reply_topic.clone(),
            r#"{"id":"other-2","code":200,"data":null}"#,
        ),
        (TOPIC.to_owned(), r#"{"id":"marker"}"#),
    ];
    for (topic, payload) in &others {
        other.send(SessionCommand::Publish {
            topic: topic.clone(),
            payload: payload.as_bytes().to_vec(),
        });
    }
    let mut seen = Vec::new();
    loop {
        match wait_for(&watcher, |e| {
            matches!(
                e,
                SessionEvent::Message { .. } | SessionEvent::Unpaired { .. }
            )
        }) {
            SessionEvent::Message { topic, payload } => {
                let payload = String::from_utf8(payload).expect("text");
                let marker = payload.contains("marker");
                seen.push((topic, payload));
                if marker {
                    break;
                }
            }
            unpaired => panic!("another's reply taken for the session's: {unpaired:?}"),
        }
    }
    let theirs: Vec<(String, String)> = others
        .iter()
        .map(|(t, p)| (t.clone(), (*p).to_owned()))
        .collect();
    assert_eq!(
        seen, theirs,
        "the others' messages, in order, none of its own"
    );
}

#[test]
fn a_watching_session_hears_the_others_and_not_itself_on_the_embedded_broker() {
    let broker = EmbeddedBroker::start(None).expect("embedded broker");
    watching_hears_the_others_and_not_itself(broker.url());
}

#[test]
fn a_watching_session_hears_the_others_and_not_itself_on_mosquitto() {
    let Some(mosquitto) = common::stock_mosquitto() else {
        return;
    };
    let url = BrokerUrl::parse(&mosquitto.url).expect("url");
    watching_hears_the_others_and_not_itself(url);
}
