//! Unit tests of the checker's rules for event posts and commands, and of reading a command's
//! reply.

use std::sync::Arc;

use serde_json::{Value, json};

use super::*;
use crate::protocol::{DeviceId, Method, MsgId, ProductKey, ReplyCode, request_topic, topic_of};

const MODEL: &str = r#"{
  "modelId": "inv",
  "measurepoints": {
    "Power": {"dataType": "FLOAT", "hasQuality": true},
    "temp": {"dataType": "FLOAT"},
    "count": {"dataType": "INT"},
    "fault": {"dataType": "STRUCT", "dataDefinition": {"items": [
      {"identifier": "code", "dataType": "INT", "required": true},
      {"identifier": "quality", "dataType": "STRING"}]}}
  },
  "services": {
    "setPowerLimit": {"callType": "SYNC",
      "inputData": [{"identifier": "limit", "dataType": "float"}, {"identifier": "mode", "dataType": "INT"}],
      "outputData": [{"identifier": "applied", "dataType": "FLOAT"}]}
  },
  "events": {
    "overTemp": {"eventType": "WARN", "outputData": [
      {"identifier": "temp", "dataType": "FLOAT"},
      {"identifier": "level", "dataType": "INT"},
      {"identifier": "note", "dataType": "STRING", "dataDefinition": {"maxLength": 4}}]}
  }
}"#;

fn gw() -> DeviceId {
    DeviceId::new("gwPk", "gw01")
}

fn inv() -> DeviceId {
    DeviceId::new("invPk", "inv01")
}

/// A gateway and inv01 (logged in), both of the model above.
fn registry() -> Registry {
    let mut r = Registry::new();
    let model = Arc::new(ThingModel::from_slice(MODEL.as_bytes()).expect("test model"));
    r.add_product(ProductKey("invPk".into()), model);
    r.products.insert(ProductKey("gwPk".into()), "inv".into());
    r.add_gateway(gw(), None);
    r.add_sub_device(&gw(), inv(), None);
    r.log_in_all();
    r
}

fn event(id: &str, params: Value) -> CheckReport {
    let body = json!({"id": "1", "version": "1.0", "method": format!("thing.event.{id}.post"),
                      "params": params});
    check(
        &registry(),
        &topic_of(Method::EventPost, &inv(), id),
        body.to_string().as_bytes(),
    )
}

fn event_body() -> Value {
    json!({"version": "1.0", "method": "thing.event.overTemp.post",
           "params": {"events": {"temp": 1.5, "level": 1, "note": "ok"}}})
}

fn only_error(report: &CheckReport) -> &Finding {
    let errors: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .collect();
    assert_eq!(errors.len(), 1, "{:?}", report.findings);
    errors[0]
}

#[test]
fn a_valid_event_post_is_200() {
    let report = event(
        "overTemp",
        json!({"events": {"temp": 80.5, "level": 2, "note": "hot"}, "time": 1_700_000_000_000_i64}),
    );
    assert_eq!(report.code, ReplyCode::SUCCESS, "{:?}", report.findings);
    assert!(report.findings.is_empty());
    assert_eq!(report.reply().data, json!({}));
    // A number output may carry its quality; a string output may not.
    let report = event(
        "overTemp",
        json!({"events": {"temp": {"value": 80.5, "quality": 0}, "level": {"value": 2, "quality": 9},
                          "note": "hot"}}),
    );
    assert_eq!(report.code, ReplyCode::SUCCESS, "{:?}", report.findings);
    let report = event(
        "overTemp",
        json!({"events": {"temp": 1.0, "level": 2, "note": {"value": "hot", "quality": 0}}}),
    );
    assert_eq!(only_error(&report).path, "params.events.note");
}

#[test]
fn a_wrong_output_is_1204_with_its_place() {
    let report = event(
        "overTemp",
        json!({"events": {"temp": 80.5, "level": "high", "note": "hot"}}),
    );
    assert_eq!(report.code, ReplyCode::MODEL);
    let error = only_error(&report);
    assert_eq!(error.path, "params.events.level");
    assert_eq!(error.wrong, Some(WrongKind::WrongType));
    let message = report.reply().message.expect("a message");
    assert!(
        message.starts_with("params.events.level: expected INT"),
        "{message}"
    );
    // Too long, and a quality out of range.
    let report = event(
        "overTemp",
        json!({"events": {"temp": 1, "level": 1, "note": "hotter"}}),
    );
    assert_eq!(only_error(&report).wrong, Some(WrongKind::TooLong));
    let report = event(
        "overTemp",
        json!({"events": {"temp": {"value": 1, "quality": 10}, "level": 1, "note": "x"}}),
    );
    assert_eq!(only_error(&report).wrong, Some(WrongKind::BadQuality));
}

#[test]
fn an_unknown_event_is_refused_1204_and_unknown_outputs_too() {
    let report = event("meltdown", json!({"events": {"temp": 1}}));
    assert_eq!(report.code, ReplyCode::MODEL);
    let error = only_error(&report);
    assert_eq!(error.path, "(topic)");
    assert_eq!(error.wrong, Some(WrongKind::UnknownIdentifier));
    assert!(error.message.contains("\"meltdown\""), "{}", error.message);
    let report = event(
        "overTemp",
        json!({"events": {"temp": 1, "level": 1, "note": "x", "smoke": true}}),
    );
    assert_eq!(only_error(&report).path, "params.events.smoke");
    // An output left out is only a warning.
    let report = event("overTemp", json!({"events": {"temp": 1}}));
    assert_eq!(report.code, ReplyCode::SUCCESS);
    let warned: Vec<_> = report
        .findings
        .iter()
        .map(|f| (f.path.as_str(), f.severity))
        .collect();
    assert_eq!(
        warned,
        [
            ("params.events.level", Severity::Warning),
            ("params.events.note", Severity::Warning)
        ]
    );
}

#[test]
fn an_event_posts_shape_is_checked_first() {
    for (params, path) in [
        (json!([1]), "params"),
        (json!({"time": 5}), "params.events"),
        (json!({"events": [1]}), "params.events"),
        (
            json!({"events": {"level": "x"}, "time": "now"}),
            "params.time",
        ),
    ] {
        let report = event("overTemp", params.clone());
        assert_eq!(report.code, ReplyCode::SHAPE, "{params}");
        assert_eq!(
            report.first_error().map(|f| f.path.as_str()),
            Some(path),
            "{params}"
        );
    }
    // The method names the topic's event.
    let body =
        json!({"version": "1.0", "method": "thing.event.other.post", "params": {"events": {}}});
    let report = check(
        &registry(),
        &topic_of(Method::EventPost, &inv(), "overTemp"),
        body.to_string().as_bytes(),
    );
    assert_eq!(report.code, ReplyCode::METHOD_MISMATCH);
    // A sub-device's event while it is logged out: 1212, before its outputs are looked at.
    let mut logged_out = registry();
    logged_out.logged_in.clear();
    let wrong = json!({"version": "1.0", "method": "thing.event.overTemp.post",
                       "params": {"events": {"level": "x"}}});
    let report = check(
        &logged_out,
        &topic_of(Method::EventPost, &inv(), "overTemp"),
        wrong.to_string().as_bytes(),
    );
    assert_eq!(report.code, ReplyCode::SUB_DEVICE);
    assert_eq!(
        report.first_error().map(|f| f.path.as_str()),
        Some("(topic)")
    );
    // The gateway's own event needs no login.
    let gateway = check(
        &logged_out,
        &topic_of(Method::EventPost, &gw(), "overTemp"),
        event_body().to_string().as_bytes(),
    );
    assert_eq!(gateway.code, ReplyCode::SUCCESS, "{:?}", gateway.findings);
    // An event of a device the hub does not know: 1009, as for a post.
    let report = check(
        &registry(),
        &topic_of(
            Method::EventPost,
            &DeviceId::new("invPk", "ghost"),
            "overTemp",
        ),
        body.to_string().as_bytes(),
    );
    assert_eq!(report.code, ReplyCode::NO_PERMISSION);
}

fn command(method: Method, identifier: &str, params: Value) -> CheckReport {
    let body = json!({"id": "7", "version": "1.0", "method": crate::protocol::method_name(method, identifier),
                      "params": params});
    check(
        &registry(),
        &topic_of(method, &inv(), identifier),
        body.to_string().as_bytes(),
    )
}

#[test]
fn a_set_takes_bare_values_of_known_points() {
    let report = command(
        Method::SetPoints,
        "",
        json!({"Power": 3.5, "count": 2, "fault": {"code": 1, "quality": "x"}}),
    );
    assert_eq!(report.code, ReplyCode::SUCCESS, "{:?}", report.findings);
    assert!(report.findings.is_empty());
    let cases = [
        (
            json!({"nope": 1}),
            "params.nope",
            WrongKind::UnknownIdentifier,
        ),
        (
            json!({"Power": {"value": 3.5, "quality": 0}}),
            "params.Power",
            WrongKind::BadQuality,
        ),
        (json!({"count": 1.5}), "params.count", WrongKind::WrongType),
    ];
    for (params, path, wrong) in cases {
        let report = command(Method::SetPoints, "", params.clone());
        assert_eq!(report.code, ReplyCode::MODEL, "{params}");
        let error = only_error(&report);
        assert_eq!(
            (error.path.as_str(), error.wrong),
            (path, Some(wrong)),
            "{params}"
        );
    }
    assert_eq!(
        command(Method::SetPoints, "", json!(["Power"])).code,
        ReplyCode::SHAPE
    );
    let empty = command(Method::SetPoints, "", json!({}));
    assert_eq!(empty.code, ReplyCode::SUCCESS);
    assert_eq!(empty.count(Severity::Warning), 1);
}

#[test]
fn a_get_names_known_points() {
    let report = command(Method::GetPoints, "", json!(["Power", "temp"]));
    assert_eq!(report.code, ReplyCode::SUCCESS, "{:?}", report.findings);
    let report = command(Method::GetPoints, "", json!(["Power", "nope"]));
    let error = only_error(&report);
    assert_eq!(
        (report.code, error.path.as_str(), error.wrong),
        (
            ReplyCode::MODEL,
            "params[1]",
            Some(WrongKind::UnknownIdentifier)
        )
    );
    let report = command(Method::GetPoints, "", json!(["Power", 3]));
    assert_eq!(
        (report.code, only_error(&report).path.as_str()),
        (ReplyCode::SHAPE, "params[1]")
    );
    assert_eq!(
        command(Method::GetPoints, "", json!({"Power": 1})).code,
        ReplyCode::SHAPE
    );
}

#[test]
fn an_invoke_names_a_service_and_types_its_inputs() {
    let report = command(
        Method::Invoke,
        "setPowerLimit",
        json!({"limit": 2.5, "mode": 1}),
    );
    assert_eq!(report.code, ReplyCode::SUCCESS, "{:?}", report.findings);
    assert!(
        report.findings.is_empty(),
        "an input typed `float` in the model reads as FLOAT"
    );
    let report = command(Method::Invoke, "reboot", json!({}));
    let error = only_error(&report);
    assert_eq!(
        (error.path.as_str(), error.wrong),
        ("(topic)", Some(WrongKind::UnknownIdentifier))
    );
    let report = command(
        Method::Invoke,
        "setPowerLimit",
        json!({"limit": 2.5, "mode": 1, "x": 0}),
    );
    assert_eq!(only_error(&report).path, "params.x");
    let report = command(
        Method::Invoke,
        "setPowerLimit",
        json!({"limit": "high", "mode": 1}),
    );
    assert_eq!(only_error(&report).wrong, Some(WrongKind::WrongType));
    // A missing input is a warning.
    let report = command(Method::Invoke, "setPowerLimit", json!({"limit": 2.5}));
    assert_eq!(report.code, ReplyCode::SUCCESS);
    let warning = report.findings.first().expect("a warning");
    assert_eq!(
        (warning.path.as_str(), warning.severity),
        ("params.mode", Severity::Warning)
    );
    assert_eq!(
        command(Method::Invoke, "setPowerLimit", json!(5)).code,
        ReplyCode::SHAPE
    );
    // A command for a device the hub does not know.
    let body = json!({"version": "1.0", "method": "thing.service.measurepoint.get", "params": []});
    let report = check(
        &registry(),
        &request_topic(Method::GetPoints, &DeviceId::new("invPk", "ghost")),
        body.to_string().as_bytes(),
    );
    assert_eq!(report.code, ReplyCode::NO_PERMISSION);
}

#[test]
fn reply_codes_have_meanings() {
    for (code, meaning) in [
        (200, CodeMeaning::Success),
        (2000, CodeMeaning::DeviceError),
        (4321, CodeMeaning::DeviceError),
        (11900, CodeMeaning::DeviceOffline),
        (1101, CodeMeaning::NoHandler),
        (1102, CodeMeaning::HandlerFailed),
        (500, CodeMeaning::HandlerFailed),
        (1204, CodeMeaning::NotADeviceCode),
        (1999, CodeMeaning::NotADeviceCode),
        (-1, CodeMeaning::NotADeviceCode),
    ] {
        assert_eq!(CodeMeaning::of(ReplyCode(code)), meaning, "{code}");
        assert!(!meaning.words().is_empty());
    }
}

/// The command sent with id 7 and how its reply reads.
fn reply_to(kind: CommandKind, topic: Option<&str>, reply: Value) -> ReplyReading {
    let command = CommandView {
        target: inv(),
        kind,
    };
    let identifier = match &command.kind {
        CommandKind::Invoke { service, .. } => service.clone(),
        _ => String::new(),
    };
    let expected = format!(
        "{}_reply",
        topic_of(command.kind.method(), &command.target, &identifier)
    );
    read_reply(
        &registry(),
        &command,
        Some(&MsgId("7".into())),
        topic.unwrap_or(&expected),
        reply.to_string().as_bytes(),
    )
}

fn set() -> CommandKind {
    CommandKind::Set(
        json!({"Power": 3.5})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    )
}

fn faults(reading: &ReplyReading) -> Vec<(ReplyFault, &str, Severity)> {
    reading
        .findings
        .iter()
        .map(|f| (f.fault, f.path.as_str(), f.severity))
        .collect()
}

#[test]
fn a_good_reply_to_a_set_has_no_finding() {
    for data in [
        json!({"id": "7", "code": 200, "data": {}}),
        json!({"id": "7", "code": 200, "data": null}),
        json!({"id": "7", "code": 200}),
    ] {
        let reading = reply_to(set(), None, data.clone());
        assert!(
            reading.findings.is_empty(),
            "{data}: {:?}",
            reading.findings
        );
        assert_eq!(reading.code, Some(ReplyCode::SUCCESS));
        assert_eq!(reading.meaning, Some(CodeMeaning::Success));
        assert!(reading.is_clean());
    }
    let reading = reply_to(
        set(),
        None,
        json!({"id": "7", "code": 200, "data": {"Power": 3.5}}),
    );
    assert_eq!(
        faults(&reading),
        [(ReplyFault::DataMismatch, "data", Severity::Error)]
    );
}

#[test]
fn an_id_not_echoed_and_a_wrong_topic_are_found() {
    let reading = reply_to(set(), None, json!({"id": "8", "code": 200, "data": {}}));
    assert_eq!(
        faults(&reading),
        [(ReplyFault::IdNotEchoed, "id", Severity::Error)]
    );
    assert!(!reading.is_clean());
    let reading = reply_to(set(), None, json!({"code": 200, "data": {}}));
    assert_eq!(
        faults(&reading),
        [(ReplyFault::IdNotEchoed, "id", Severity::Error)]
    );
    let reading = reply_to(
        set(),
        Some("/sys/gwPk/gw01/thing/service/measurepoint/set_reply"),
        json!({"id": "7", "code": 200, "data": {}}),
    );
    assert_eq!(
        faults(&reading),
        [(ReplyFault::WrongTopic, "(topic)", Severity::Error)]
    );
    assert!(
        reading.findings[0].message.contains("invPk/inv01"),
        "{:?}",
        reading.findings
    );
}

#[test]
fn a_code_sent_as_a_string_is_read_and_warned_about() {
    let reading = reply_to(
        set(),
        None,
        json!({"id": "7", "code": "1101", "data": null}),
    );
    assert_eq!(reading.code, Some(ReplyCode(1101)));
    assert_eq!(reading.meaning, Some(CodeMeaning::NoHandler));
    assert_eq!(
        faults(&reading),
        [(ReplyFault::CodeAsString, "code", Severity::Warning)]
    );
    assert!(reading.is_clean(), "a warning does not fail");
}

#[test]
fn an_unreadable_reply_says_why_and_still_reads_the_id() {
    let reading = reply_to(set(), None, json!({"id": "8", "code": "ok"}));
    assert_eq!(reading.code, None);
    assert_eq!(
        faults(&reading),
        [
            (ReplyFault::Unreadable, "code", Severity::Error),
            (ReplyFault::IdNotEchoed, "id", Severity::Error)
        ]
    );
    let command = CommandView {
        target: inv(),
        kind: set(),
    };
    let reading = read_reply(
        &registry(),
        &command,
        None,
        "/sys/invPk/inv01/thing/service/measurepoint/set_reply",
        b"not json",
    );
    assert_eq!(
        faults(&reading),
        [(ReplyFault::Unreadable, "(payload)", Severity::Error)]
    );
}

#[test]
fn a_get_reply_carries_every_point_asked_for_typed() {
    let get = || CommandKind::Get(vec!["Power".into(), "count".into()]);
    let good = json!({"id": "7", "code": 200, "data": {"Power": {"value": 3.5, "quality": 0}, "count": 2}});
    assert!(reply_to(get(), None, good).findings.is_empty());
    let bare = json!({"id": "7", "code": 200, "data": {"Power": 3.5, "count": 2}});
    assert!(
        reply_to(get(), None, bare).findings.is_empty(),
        "a quality point may come back bare"
    );
    let reading = reply_to(
        get(),
        None,
        json!({"id": "7", "code": 200, "data": {"count": "many", "temp": 1.0}}),
    );
    assert_eq!(
        faults(&reading),
        [
            (ReplyFault::DataMismatch, "data.Power", Severity::Error),
            (ReplyFault::DataMismatch, "data.count", Severity::Error),
            (ReplyFault::DataMismatch, "data.temp", Severity::Warning)
        ]
    );
    let reading = reply_to(get(), None, json!({"id": "7", "code": 200, "data": [1]}));
    assert_eq!(
        faults(&reading),
        [(ReplyFault::DataMismatch, "data", Severity::Error)]
    );
}

#[test]
fn an_invoke_reply_carries_every_output_typed_and_no_other() {
    let invoke = || CommandKind::Invoke {
        service: "setPowerLimit".into(),
        params: serde_json::Map::new(),
    };
    let good = json!({"id": "7", "code": 200, "data": {"applied": 2.5}});
    assert!(reply_to(invoke(), None, good).findings.is_empty());
    let reading = reply_to(
        invoke(),
        None,
        json!({"id": "7", "code": 200, "data": {"applied": "2.5x", "extra": 1}}),
    );
    assert_eq!(
        faults(&reading),
        [
            (ReplyFault::DataMismatch, "data.applied", Severity::Error),
            (ReplyFault::DataMismatch, "data.extra", Severity::Error)
        ]
    );
    let reading = reply_to(invoke(), None, json!({"id": "7", "code": 200, "data": {}}));
    assert_eq!(
        faults(&reading),
        [(ReplyFault::DataMismatch, "data.applied", Severity::Error)]
    );
    // The device's own error: its data is not the model's business.
    let reading = reply_to(
        invoke(),
        None,
        json!({"id": "7", "code": 2001, "data": {"why": "busy"}, "message": "busy"}),
    );
    assert!(reading.findings.is_empty(), "{:?}", reading.findings);
    assert_eq!(reading.meaning, Some(CodeMeaning::DeviceError));
    assert_eq!(reading.message.as_deref(), Some("busy"));
}

#[test]
fn hostile_bodies_on_event_and_command_topics_never_panic() {
    let topics = [
        topic_of(Method::EventPost, &inv(), "overTemp"),
        request_topic(Method::SetPoints, &inv()),
        request_topic(Method::GetPoints, &inv()),
        topic_of(Method::Invoke, &inv(), "setPowerLimit"),
    ];
    let values = [
        json!(null),
        json!(1),
        json!("x"),
        json!([]),
        json!([null, {}, [1]]),
        json!({}),
        json!({"events": null, "time": -1}),
        json!({"events": {"temp": [], "level": {"value": null}}}),
        json!({"limit": {"value": 1, "quality": 0}, "mode": "1"}),
    ];
    let registry = registry();
    for topic in &topics {
        for params in &values {
            for body in [json!({"version": "1.0", "params": params}), params.clone()] {
                let report = check(&registry, topic, body.to_string().as_bytes());
                assert!(
                    report.code == ReplyCode::SUCCESS || report.first_error().is_some(),
                    "{topic} {body}"
                );
                assert_eq!(view(topic, body.to_string().as_bytes()), report.view);
            }
        }
    }
}
