//! Unit tests of the one view of a request: what the checker reads once for every other reader.

use std::sync::Arc;

use serde_json::{Value, json};

use super::*;
use crate::protocol::{DeviceId, EpochMs, Method, MsgId, ProductKey, request_topic, topic_of};

fn gw() -> DeviceId {
    DeviceId::new("gwPk", "gw01")
}

fn inv(dk: &str) -> DeviceId {
    DeviceId::new("invPk", dk)
}

/// A gateway with inv01 (logged in), and a model with a FLOAT `temp` for both products.
fn registry() -> Registry {
    let mut r = Registry::new();
    let model = ThingModel::from_slice(
        br#"{"modelId": "m", "measurepoints": {"temp": {"dataType": "FLOAT"}}}"#,
    )
    .expect("test model");
    r.add_product(ProductKey("invPk".into()), Arc::new(model));
    r.products.insert(ProductKey("gwPk".into()), "m".into());
    r.add_gateway(gw(), None);
    r.add_sub_device(&gw(), inv("inv01"), None);
    r.log_in_all();
    r
}

fn bytes(body: &Value) -> Vec<u8> {
    body.to_string().into_bytes()
}

/// The view as the checker makes it, after checking that [`view`] makes the same one.
fn both(topic: &str, body: &Value) -> RequestView {
    let report = check(&registry(), topic, &bytes(body));
    let read = view(topic, &bytes(body));
    assert_eq!(
        report.view, read,
        "the checker and view() read {body} alike"
    );
    assert_eq!(report.id, read.id);
    read
}

fn points(value: Value) -> serde_json::Map<String, Value> {
    value.as_object().cloned().expect("an object")
}

#[test]
fn a_batch_is_read_into_its_elements() {
    let body = json!({"id": "17", "version": "1.0", "method": "thing.measurepoint.post.batch",
        "params": [
            {"productKey": "invPk", "deviceKey": "inv01", "time": 1_700_000_000_000_i64,
             "measurepoints": {"temp": 21.5, "Power": {"value": 3.2, "quality": 0}}},
            {"productKey": "invPk", "deviceKey": "inv02", "measurepoints": {"temp": 20}}]});
    let view = both(&request_topic(Method::PostBatch, &gw()), &body);
    assert_eq!(view.id, Some(MsgId("17".into())));
    assert_eq!(view.method, Some(Method::PostBatch));
    assert_eq!(view.device, Some(gw()));
    assert_eq!(
        view.elements,
        vec![
            ElementView {
                index: Some(0),
                device: inv("inv01"),
                time: Some(EpochMs(1_700_000_000_000)),
                points: points(json!({"temp": 21.5, "Power": {"value": 3.2, "quality": 0}})),
                well_formed: true,
            },
            ElementView {
                index: Some(1),
                device: inv("inv02"),
                time: None,
                points: points(json!({"temp": 20})),
                well_formed: true,
            },
        ]
    );
    assert_eq!(view.devices(), vec![inv("inv01"), inv("inv02")]);
    assert_eq!(view.first_device(), Some(&inv("inv01")));
    assert_eq!(
        (view.session_device, view.event, view.command),
        (None, None, None)
    );
}

#[test]
fn a_single_post_is_one_element_without_an_index() {
    let body = json!({"id": 5, "version": "1.0", "method": "thing.measurepoint.post",
        "params": {"time": 1000, "measurepoints": {"temp": 1.5}}});
    let view = both(&request_topic(Method::Post, &gw()), &body);
    assert_eq!(view.id, Some(MsgId("5".into())), "an integer id in decimal");
    assert_eq!(view.elements.len(), 1);
    let element = &view.elements[0];
    assert_eq!(element.index, None);
    assert_eq!(
        element.device,
        gw(),
        "a single post is for the topic's device"
    );
    assert_eq!(element.time, Some(EpochMs(1000)));
    assert_eq!(element.points, points(json!({"temp": 1.5})));
}

#[test]
fn a_resume_batch_reads_like_a_batch() {
    let body = json!({"id": "9", "version": "1.0", "method": "thing.measurepoint.resume.batch",
        "params": [{"time": 500, "measurepoints": {"temp": 2}},
                   {"time": 400, "measurepoints": {"temp": 3}}]});
    let view = both(&request_topic(Method::ResumeBatch, &gw()), &body);
    assert_eq!(view.method, Some(Method::ResumeBatch));
    let times: Vec<_> = view.elements.iter().map(|e| e.time).collect();
    assert_eq!(
        times,
        [Some(EpochMs(500)), Some(EpochMs(400))],
        "in the order sent"
    );
    assert_eq!(
        view.devices(),
        vec![gw()],
        "two elements of one device are one device"
    );
}

#[test]
fn an_element_without_keys_or_with_empty_keys_is_the_topic_devices() {
    let body = json!({"version": "1.0", "method": "thing.measurepoint.post.batch",
        "params": [{"measurepoints": {"temp": 1}},
                   {"productKey": "", "deviceKey": "", "measurepoints": {"temp": 2}},
                   {"productKey": null, "deviceKey": null, "measurepoints": {"temp": 3}}]});
    let view = both(&request_topic(Method::PostBatch, &gw()), &body);
    assert_eq!(view.id, None);
    assert!(
        view.elements
            .iter()
            .all(|e| e.device == gw() && e.well_formed)
    );
    assert_eq!(view.elements.len(), 3);
}

#[test]
fn a_malformed_element_is_kept_with_what_could_be_read() {
    let body = json!({"version": "1.0", "method": "thing.measurepoint.post.batch",
        "params": [
            {"productKey": "invPk", "measurepoints": {"temp": 1}},
            {"productKey": "invPk", "deviceKey": "inv01", "time": "now", "measurepoints": {"temp": 2}},
            {"productKey": 7, "deviceKey": "inv01", "measurepoints": [1]},
            "not an object",
            {"measurepoints": {"temp": 5}}]});
    let topic = request_topic(Method::PostBatch, &gw());
    let view = both(&topic, &body);
    // The string is left out: it names nothing. The others are kept, in order.
    let indexes: Vec<_> = view.elements.iter().map(|e| e.index).collect();
    assert_eq!(indexes, [Some(0), Some(1), Some(2), Some(4)]);
    let [one_key, bad_time, bad_points, fine] = view.elements.as_slice() else {
        panic!("four elements: {:?}", view.elements)
    };
    // One key without the other names no device: the topic's stands in.
    assert_eq!((&one_key.device, one_key.well_formed), (&gw(), false));
    assert_eq!(one_key.points, points(json!({"temp": 1})));
    // Both keys read: the device is known even though the time is not an integer.
    assert_eq!(
        (&bad_time.device, bad_time.time, bad_time.well_formed),
        (&inv("inv01"), None, false)
    );
    // A key that is not a string, and points that are not an object: nothing of them is read.
    assert_eq!((&bad_points.device, bad_points.well_formed), (&gw(), false));
    assert!(bad_points.points.is_empty());
    assert!(fine.well_formed);
    // The checker found each, and did not check the points of the malformed ones.
    let report = check(&registry(), &topic, &bytes(&body));
    assert_eq!(report.code.0, 1206);
    assert!(
        report.findings.iter().all(|f| f.code.0 == 1206),
        "{:?}",
        report.findings
    );
}

#[test]
fn a_login_names_its_sub_device() {
    let body = json!({"id": "3", "version": "1.0", "method": "combine.login",
        "params": {"productKey": "invPk", "deviceKey": "inv01", "clientId": "inv01",
                   "timestamp": "1", "signMethod": "sha256", "sign": "00"}});
    let view = both(&request_topic(Method::Login, &gw()), &body);
    assert_eq!(view.method, Some(Method::Login));
    assert!(view.elements.is_empty());
    assert_eq!(view.session_device, Some(inv("inv01")));
    assert_eq!(view.devices(), vec![inv("inv01")]);
    // A logout without readable keys speaks for the topic's device.
    let body = json!({"version": "1.0", "method": "combine.logout", "params": {"productKey": 1}});
    let view = both(&request_topic(Method::Logout, &gw()), &body);
    assert_eq!(view.session_device, None);
    assert_eq!(view.devices(), vec![gw()]);
}

#[test]
fn what_is_not_a_request_has_an_empty_view() {
    let body = json!({"id": "1", "params": [{"measurepoints": {"temp": 1}}]});
    // Off the protocol's topics nothing is read but the id.
    let off = both("/not/the/protocol", &body);
    assert_eq!((off.method, off.device.as_ref()), (None, None));
    assert_eq!(off.id, Some(MsgId("1".into())));
    assert!(off.elements.is_empty() && off.devices().is_empty());
    assert_eq!(off.first_device(), None);
    // Not JSON: the topic's method, nothing else.
    let broken = view(&request_topic(Method::PostBatch, &gw()), b"{oops");
    assert_eq!(broken.method, Some(Method::PostBatch));
    assert_eq!(broken.id, None);
    assert!(broken.elements.is_empty());
}

#[test]
fn only_the_checker_applies_the_size_limit() {
    let mut registry = registry();
    registry.max_payload = 10;
    let topic = request_topic(Method::PostBatch, &gw());
    let body = bytes(
        &json!({"version": "1.0", "method": "thing.measurepoint.post.batch",
        "params": [{"measurepoints": {"temp": 1}}]}),
    );
    let report = check(&registry, &topic, &body);
    assert_eq!(report.code.0, 1008);
    assert!(
        report.view.elements.is_empty(),
        "the hub does not read what it refuses"
    );
    assert_eq!(
        view(&topic, &body).elements.len(),
        1,
        "a reader without a hub does"
    );
}

#[test]
fn an_event_post_and_commands_have_their_parts() {
    let inv01 = inv("inv01");
    let event = json!({"id": "1", "version": "1.0", "method": "thing.event.overTemp.post",
        "params": {"events": {"temp": 80.5}, "time": 42}});
    let view = both(&topic_of(Method::EventPost, &inv01, "overTemp"), &event);
    assert_eq!(
        view.event,
        Some(EventView {
            event: "overTemp".into(),
            outputs: points(json!({"temp": 80.5})),
            time: Some(EpochMs(42)),
        })
    );
    assert_eq!(view.devices(), vec![inv01.clone()]);

    let set = json!({"id": "2", "version": "1.0", "method": "thing.service.measurepoint.set",
        "params": {"temp": 3.5}});
    let view = both(&request_topic(Method::SetPoints, &inv01), &set);
    assert_eq!(
        view.command,
        Some(CommandView {
            target: inv01.clone(),
            kind: CommandKind::Set(points(json!({"temp": 3.5}))),
        })
    );
    let get = json!({"id": "3", "version": "1.0", "method": "thing.service.measurepoint.get",
        "params": ["temp", 5, "Power"]});
    let view = both(&request_topic(Method::GetPoints, &inv01), &get);
    assert_eq!(
        view.command.map(|c| c.kind),
        Some(CommandKind::Get(vec!["temp".into(), "Power".into()]))
    );
    let invoke = json!({"id": "4", "version": "1.0", "method": "thing.service.setPowerLimit",
        "params": {"limit": 2.5, "mode": 1}});
    let view = both(&topic_of(Method::Invoke, &inv01, "setPowerLimit"), &invoke);
    assert_eq!(
        view.command.map(|c| c.kind),
        Some(CommandKind::Invoke {
            service: "setPowerLimit".into(),
            params: points(json!({"limit": 2.5, "mode": 1})),
        })
    );
}
