//! The reference hub answers event posts with the checker's code and place (a sub-device's once
//! it is logged in), and never answers a command: against the embedded broker, and against
//! mosquitto with `thingbench hub`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use thingbench::protocol::{DeviceId, Method, MsgId, ReplyCode, request_topic, topic_of};
use thingbench::runner::connect::{gateway_session, start_embedded};
use thingbench::runner::{Outcome, Runner};
use thingbench::transport::{BrokerUrl, Session, TlsOptions};
use thingbench::workspace::{LoginState, Workspace, WorkspaceFeed};

fn sample() -> Arc<Workspace> {
    Arc::new(Workspace::load(&common::root().join("fixtures")).expect("the sample workspace"))
}

/// Publishes `body` (with id `id`) on `topic` and waits up to `within` for the reply.
fn send(
    ws: &Arc<Workspace>,
    session: &Session,
    topic: String,
    id: &str,
    mut body: serde_json::Value,
    within: Duration,
) -> Outcome {
    body["id"] = json!(id);
    let mut runner = Runner::new(Arc::clone(ws), session);
    runner.request(
        topic,
        body.to_string().into_bytes(),
        Some(MsgId(id.into())),
        within,
    )
}

fn event(event: &str, outputs: serde_json::Value) -> serde_json::Value {
    json!({"version": "1.0", "method": format!("thing.event.{event}.post"),
           "params": {"events": outputs, "time": 1_700_000_000_000_i64}})
}

/// The code and message of a reply; fails on anything else.
fn replied(outcome: Outcome) -> (ReplyCode, String) {
    match outcome {
        Outcome::Replied { code, message, .. } => (code, message.unwrap_or_default()),
        other => panic!("no reply: {other:?}"),
    }
}

/// What every hub must do, whichever broker it serves on.
fn events_are_answered_and_commands_are_not(ws: &Arc<Workspace>, session: &Session) {
    let inv01 = DeviceId::new("invPk", "inv01");
    let wait = Duration::from_secs(5);
    let topic = |id: &str| topic_of(Method::EventPost, &inv01, id);
    let valid = || event("overTemp", json!({"temp": 81.5, "level": 2}));
    // A sub-device posts events once its gateway logged it in.
    let (code, message) = replied(send(ws, session, topic("overTemp"), "e0", valid(), wait));
    assert_eq!(code, ReplyCode::SUB_DEVICE, "{message}");
    let notes =
        Runner::new(Arc::clone(ws), session).apply_login(&LoginState::Only(vec![inv01.clone()]));
    assert!(notes.is_empty(), "{notes:?}");
    let (code, message) = replied(send(ws, session, topic("overTemp"), "e1", valid(), wait));
    assert_eq!(code, ReplyCode::SUCCESS, "{message}");

    let wrong = event("overTemp", json!({"temp": 81.5, "level": "high"}));
    let (code, message) = replied(send(ws, session, topic("overTemp"), "e2", wrong, wait));
    assert_eq!(code, ReplyCode::MODEL);
    assert!(
        message.starts_with("params.events.level: expected INT"),
        "the reply names the place: {message}"
    );

    let unknown = event("meltdown", json!({"temp": 81.5}));
    let (code, message) = replied(send(ws, session, topic("meltdown"), "e3", unknown, wait));
    assert_eq!(
        code,
        ReplyCode::MODEL,
        "an unknown event is refused: {message}"
    );
    assert!(message.contains("\"meltdown\""), "{message}");

    // A command is the device's to answer: the hub stays silent. Silence is waited for with a
    // deadline; the event answered after it shows the hub was there all along.
    let set = json!({"version": "1.0", "method": "thing.service.measurepoint.set",
                     "params": {"Power": 3.5}});
    let silent = send(
        ws,
        session,
        request_topic(Method::SetPoints, &inv01),
        "c1",
        set,
        Duration::from_millis(600),
    );
    assert!(
        matches!(silent, Outcome::NoReply { .. }),
        "the hub answered a command: {silent:?}"
    );
    let again = event("overTemp", json!({"temp": 80.0, "level": 1}));
    assert_eq!(
        replied(send(ws, session, topic("overTemp"), "e4", again, wait)).0,
        ReplyCode::SUCCESS
    );
}

#[test]
fn the_embedded_hub_answers_event_posts() {
    let ws = sample();
    let (broker, _hub) =
        start_embedded(WorkspaceFeed::fixed(Arc::clone(&ws)), None).expect("broker and hub");
    let session = gateway_session(&ws, broker.url(), TlsOptions::default()).expect("connects");
    events_are_answered_and_commands_are_not(&ws, &session);
}

#[test]
fn thingbench_hub_on_mosquitto_answers_event_posts() {
    let Some(mosquitto) = common::stock_mosquitto() else {
        return;
    };
    let url = mosquitto.url.clone();
    let _hub = common::start_hub(&url);
    let ws = sample();
    let broker = BrokerUrl::parse(&url).expect("a URL");
    let session = gateway_session(&ws, broker, TlsOptions::default()).expect("connects");
    events_are_answered_and_commands_are_not(&ws, &session);
}
