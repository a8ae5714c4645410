//! Unit tests of the checker: every rule, code and the check order of the protocol.

use std::sync::Arc;

use serde_json::{Value, json};

use super::*;
use crate::protocol::{DeviceId, Method, ProductKey, ReplyCode, Secret, request_topic, sign};

const MODEL: &str = r#"{
  "modelId": "inv",
  "measurepoints": {
    "temp": {"dataType": "FLOAT", "dataDefinition": null},
    "Power": {"dataType": "FLOAT", "hasQuality": true},
    "count": {"dataType": "INT"},
    "state": {"dataType": "ENUM", "dataDefinition": {"enumType": "INT", "enumDesc": {"0": "off", "1": "on"}}},
    "branchCurr": {"dataType": "ARRAY", "dataDefinition": {"itemType": "FLOAT"}}
  }
}"#;

fn gw() -> DeviceId {
    DeviceId::new("gwPk", "gw01")
}
fn inv(n: u8) -> DeviceId {
    DeviceId::new("invPk", format!("inv0{n}"))
}

/// A gateway with two inverters (inv01, inv02), both logged in.
fn registry() -> Registry {
    let mut r = Registry::new();
    let model = Arc::new(ThingModel::from_slice(MODEL.as_bytes()).expect("test model"));
    r.add_product(ProductKey("invPk".into()), Arc::clone(&model));
    r.products.insert(ProductKey("gwPk".into()), "inv".into());
    r.add_gateway(gw(), Some(Secret::new("gw-secret")));
    r.add_sub_device(&gw(), inv(1), Some(Secret::new("inv01-secret")));
    r.add_sub_device(&gw(), inv(2), None);
    r.add_gateway(DeviceId::new("otherGw", "gw99"), None);
    r.add_sub_device(
        &DeviceId::new("otherGw", "gw99"),
        DeviceId::new("invPk", "foreign"),
        None,
    );
    r.log_in_all();
    r
}

fn batch_topic() -> String {
    request_topic(Method::PostBatch, &gw())
}

fn batch(params: Value) -> Value {
    json!({"id": "1", "version": "1.0", "method": "thing.measurepoint.post.batch", "params": params})
}

fn run(r: &Registry, body: &Value) -> CheckReport {
    check(r, &batch_topic(), body.to_string().as_bytes())
}

fn code_of(body: &Value) -> ReplyCode {
    run(&registry(), body).code
}

fn element(dk: &str, points: Value) -> Value {
    json!({"productKey": "invPk", "deviceKey": dk, "time": 1700000000000_i64, "measurepoints": points})
}

#[test]
fn valid_batch_is_200_with_no_findings() {
    let body = batch(json!([
        element(
            "inv01",
            json!({"temp": 21.5, "Power": {"value": 3.2, "quality": 0}, "count": 3, "state": 1, "branchCurr": [1.0, 2.0]})
        ),
        element("inv02", json!({"temp": 20})),
    ]));
    let report = run(&registry(), &body);
    assert_eq!(report.code, ReplyCode::SUCCESS, "{:?}", report.findings);
    assert!(report.findings.is_empty());
    assert_eq!(report.id.as_ref().map(|i| i.0.as_str()), Some("1"));
    assert_eq!(report.reply().code, ReplyCode::SUCCESS);
}

#[test]
fn whole_message_codes() {
    let r = registry();
    let big = vec![b' '; r.max_payload + 1];
    assert_eq!(check(&r, &batch_topic(), &big).code, ReplyCode::TOO_LARGE);
    assert_eq!(check(&r, &batch_topic(), b"").code, ReplyCode::EMPTY);
    assert_eq!(check(&r, &batch_topic(), b"{oops").code, ReplyCode::FORMAT);
    assert_eq!(check(&r, &batch_topic(), b"[1, 2]").code, ReplyCode::FORMAT);
    assert_eq!(
        check(&r, &batch_topic(), b"\"text\"").code,
        ReplyCode::FORMAT
    );
    let body = batch(json!([])).to_string();
    assert_eq!(
        check(
            &r,
            "/sys/nopk/nodev/thing/measurepoint/post/batch",
            body.as_bytes()
        )
        .code,
        ReplyCode::NO_PERMISSION
    );
    assert_eq!(
        check(&r, "/sys/gwPk/gw01/thing/event/post", body.as_bytes()).code,
        ReplyCode::NO_PERMISSION
    );
    assert_eq!(
        check(&r, &format!("{}_reply", batch_topic()), body.as_bytes()).code,
        ReplyCode::NO_PERMISSION
    );
}

#[test]
fn size_limit_is_exclusive() {
    let mut r = registry();
    let body = batch(json!([element("inv01", json!({"temp": 1}))])).to_string();
    r.max_payload = body.len();
    assert_eq!(
        check(&r, &batch_topic(), body.as_bytes()).code,
        ReplyCode::SUCCESS
    );
    r.max_payload = body.len() - 1;
    assert_eq!(
        check(&r, &batch_topic(), body.as_bytes()).code,
        ReplyCode::TOO_LARGE
    );
}

#[test]
fn method_must_match_the_topic() {
    let mut body = batch(json!([]));
    body["method"] = json!("thing.measurepoint.post");
    assert_eq!(code_of(&body), ReplyCode::METHOD_MISMATCH);
    body["method"] = json!(5);
    assert_eq!(code_of(&body), ReplyCode::METHOD_MISMATCH);
    body.as_object_mut().expect("object").remove("method");
    assert_eq!(code_of(&body), ReplyCode::METHOD_MISMATCH);
}

#[test]
fn order_of_whole_message_checks() {
    // 1009 before 1260 before 1206.
    let r = registry();
    let body = json!({"method": "wrong"}).to_string();
    assert_eq!(
        check(
            &r,
            "/sys/nopk/nodev/thing/measurepoint/post/batch",
            body.as_bytes()
        )
        .code,
        ReplyCode::NO_PERMISSION
    );
    assert_eq!(
        check(&r, &batch_topic(), body.as_bytes()).code,
        ReplyCode::METHOD_MISMATCH
    );
}

#[test]
fn shape_errors_are_1206() {
    let ok = || batch(json!([element("inv01", json!({"temp": 1}))]));
    let mut no_version = ok();
    no_version
        .as_object_mut()
        .expect("object")
        .remove("version");
    let mut empty_version = ok();
    empty_version["version"] = json!("");
    let mut number_version = ok();
    number_version["version"] = json!(1.0);
    let mut params_object = ok();
    params_object["params"] = json!({"measurepoints": {}});
    let cases = [
        no_version,
        empty_version,
        number_version,
        params_object,
        batch(json!(["not an object"])),
        batch(json!([{"productKey": "invPk", "deviceKey": "inv01"}])),
        batch(json!([{"measurepoints": [1, 2]}])),
        batch(json!([{"measurepoints": {}, "time": "yesterday"}])),
        batch(json!([{"measurepoints": {}, "time": 1.5}])),
        batch(json!([{"measurepoints": {}, "time": "1700000000000"}])),
        batch(json!([{"productKey": "invPk", "measurepoints": {}}])),
        batch(json!([{"deviceKey": "inv01", "measurepoints": {}}])),
        batch(json!([{"productKey": 5, "deviceKey": "inv01", "measurepoints": {}}])),
        batch(json!([{"productKey": "invPk", "deviceKey": "", "measurepoints": {}}])),
    ];
    for body in cases {
        assert_eq!(code_of(&body), ReplyCode::SHAPE, "{body}");
    }
    let mut no_params = ok();
    no_params.as_object_mut().expect("object").remove("params");
    assert_eq!(code_of(&no_params), ReplyCode::SHAPE);
}

#[test]
fn any_version_string_is_accepted() {
    let mut body = batch(json!([element("inv01", json!({"temp": 1}))]));
    body["version"] = json!("1.1");
    assert_eq!(code_of(&body), ReplyCode::SUCCESS);
}

#[test]
fn shape_error_anywhere_beats_model_errors() {
    let body = batch(json!([
        element("inv01", json!({"temp": "hot"})),
        element("inv99", json!({"temp": 1})),
        {"measurepoints": {}, "time": "later"},
    ]));
    let report = run(&registry(), &body);
    assert_eq!(report.code, ReplyCode::SHAPE);
    assert_eq!(
        report.first_error().map(|f| f.path.as_str()),
        Some("params[2].time")
    );
    // The other findings are still reported.
    assert!(report.findings.iter().any(|f| f.code == ReplyCode::MODEL));
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.code == ReplyCode::SUB_DEVICE)
    );
}

#[test]
fn element_1204_beats_later_element_1212() {
    let body = batch(json!([
        element("inv01", json!({"temp": "hot"})),
        element("inv99", json!({"temp": 1})),
    ]));
    let report = run(&registry(), &body);
    assert_eq!(report.code, ReplyCode::MODEL);
    assert_eq!(
        report.reply().message.as_deref(),
        Some("params[0].measurepoints.temp: expected FLOAT, got string \"hot\"")
    );
    // And the other way round: an element's 1212 beats a later element's 1204.
    let body = batch(json!([
        element("inv99", json!({"temp": 1})),
        element("inv01", json!({"temp": "hot"})),
    ]));
    assert_eq!(code_of(&body), ReplyCode::SUB_DEVICE);
}

#[test]
fn within_an_element_device_before_points_and_points_in_written_order() {
    let mut r = registry();
    r.logged_in.clear();
    let body = batch(json!([element("inv01", json!({"temp": "hot"}))]));
    assert_eq!(run(&r, &body).code, ReplyCode::SUB_DEVICE);
    let body = batch(json!([element("inv01", json!({"zzz": 1, "temp": "hot"}))]));
    let report = run(&registry(), &body);
    assert_eq!(
        report.first_error().map(|f| f.path.as_str()),
        Some("params[0].measurepoints.zzz")
    );
    assert_eq!(report.count(Severity::Error), 2);
}

#[test]
fn sub_device_permission() {
    // Not a sub-device at all, a sub-device of another gateway, and the other gateway itself.
    for dk in ["inv99", "foreign"] {
        assert_eq!(
            code_of(&batch(json!([element(dk, json!({"temp": 1}))]))),
            ReplyCode::SUB_DEVICE,
            "{dk}"
        );
    }
    let other_gw =
        batch(json!([{"productKey": "otherGw", "deviceKey": "gw99", "measurepoints": {}}]));
    assert_eq!(code_of(&other_gw), ReplyCode::SUB_DEVICE);
    // Logged out: 1212, unless allowOfflineSubDevice.
    let mut r = registry();
    r.logged_in.remove(&inv(2));
    let mut body = batch(json!([element("inv02", json!({"temp": 1}))]));
    assert_eq!(run(&r, &body).code, ReplyCode::SUB_DEVICE);
    body["allowOfflineSubDevice"] = json!(true);
    assert_eq!(run(&r, &body).code, ReplyCode::SUCCESS);
    // allowOfflineSubDevice never covers a device that is not a sub-device.
    let mut body = batch(json!([element("inv99", json!({"temp": 1}))]));
    body["allowOfflineSubDevice"] = json!(true);
    assert_eq!(run(&r, &body).code, ReplyCode::SUB_DEVICE);
    // Empty string flag counts as false.
    let mut body = batch(json!([element("inv02", json!({"temp": 1}))]));
    body["allowOfflineSubDevice"] = json!("");
    assert_eq!(run(&r, &body).code, ReplyCode::SUB_DEVICE);
}

#[test]
fn flags_of_other_types_are_shape_errors() {
    for flag in ["allowOfflineSubDevice", "skipInvalidMeasurepoints"] {
        for value in [json!("true"), json!(1), json!([])] {
            let mut body = batch(json!([element("inv01", json!({"temp": 1}))]));
            body[flag] = value.clone();
            assert_eq!(code_of(&body), ReplyCode::SHAPE, "{flag}={value}");
        }
        let mut body = batch(json!([element("inv01", json!({"temp": 1}))]));
        body[flag] = json!("");
        assert_eq!(code_of(&body), ReplyCode::SUCCESS, "{flag}=\"\"");
    }
}

#[test]
fn absent_or_empty_keys_mean_the_topic_device() {
    // The gateway's product maps to the same test model.
    for el in [
        json!({"measurepoints": {"temp": 1}}),
        json!({"productKey": "", "deviceKey": "", "measurepoints": {"temp": 1}}),
        json!({"productKey": null, "deviceKey": null, "measurepoints": {"temp": 1}}),
        json!({"productKey": "gwPk", "deviceKey": "gw01", "measurepoints": {"temp": 1}}),
    ] {
        let body = batch(json!([el]));
        assert_eq!(code_of(&body), ReplyCode::SUCCESS, "{body}");
    }
    // The topic device itself needs no login.
    let mut r = registry();
    r.logged_in.clear();
    assert_eq!(
        run(&r, &batch(json!([{"measurepoints": {"temp": 1}}]))).code,
        ReplyCode::SUCCESS
    );
}

#[test]
fn model_validation() {
    let cases = [
        json!({"temp": "hot"}),
        json!({"temp": null}),
        json!({"unknown": 1}),
        json!({"Power": 3.2}),
        json!({"Power": {"value": 3.2}}),
        json!({"Power": {"value": 3.2, "quality": 10}}),
        json!({"Power": {"value": 3.2, "quality": "1"}}),
        json!({"temp": {"value": 3.2, "quality": 0}}),
        json!({"count": 2147483648_i64}),
        json!({"state": 7}),
        json!({"branchCurr": [1, "x"]}),
    ];
    for points in cases {
        let body = batch(json!([element("inv01", points.clone())]));
        let report = run(&registry(), &body);
        assert_eq!(report.code, ReplyCode::MODEL, "{points}");
        let id = points
            .as_object()
            .and_then(|o| o.keys().next())
            .cloned()
            .unwrap_or_default();
        let f = report.first_error().expect("a finding");
        assert_eq!(f.path, format!("params[0].measurepoints.{id}"));
        assert_eq!(
            f.point,
            Some(PointRef {
                element: Some(0),
                identifier: id
            })
        );
    }
}

#[test]
fn numeric_strings_are_warnings() {
    let body = batch(json!([element(
        "inv01",
        json!({"temp": "1.02", "branchCurr": ["1.02", "2.02"], "count": "7", "Power": {"value": "3.5", "quality": 9}})
    )]));
    let report = run(&registry(), &body);
    assert_eq!(report.code, ReplyCode::SUCCESS);
    assert_eq!(report.count(Severity::Warning), 4);
    assert!(report.findings.iter().all(|f| f.code == ReplyCode::SUCCESS));
    // Not for ENUM.
    let body = batch(json!([element("inv01", json!({"state": "1"}))]));
    assert_eq!(code_of(&body), ReplyCode::MODEL);
}

#[test]
fn skip_invalid_drops_points_not_shape() {
    let mut body = batch(json!([element(
        "inv01",
        json!({"temp": "hot", "count": 1, "nope": 2})
    )]));
    body["skipInvalidMeasurepoints"] = json!(true);
    let report = run(&registry(), &body);
    assert_eq!(report.code, ReplyCode::SUCCESS);
    assert_eq!(report.count(Severity::Skipped), 2);
    assert!(report.findings.iter().all(|f| f.code == ReplyCode::MODEL));
    // Shape errors are not skipped.
    let mut body = batch(json!([{"measurepoints": {}, "time": "later"}]));
    body["skipInvalidMeasurepoints"] = json!(true);
    assert_eq!(code_of(&body), ReplyCode::SHAPE);
    // Nor is 1212.
    let mut body = batch(json!([element("inv99", json!({"temp": 1}))]));
    body["skipInvalidMeasurepoints"] = json!(true);
    assert_eq!(code_of(&body), ReplyCode::SUB_DEVICE);
}

#[test]
fn resume_batch_and_single_post() {
    let r = registry();
    let mut body = batch(json!([element("inv01", json!({"temp": 1}))]));
    body["method"] = json!("thing.measurepoint.resume.batch");
    let topic = request_topic(Method::ResumeBatch, &gw());
    assert_eq!(
        check(&r, &topic, body.to_string().as_bytes()).code,
        ReplyCode::SUCCESS
    );
    body["params"][0]["measurepoints"]["temp"] = json!("hot");
    assert_eq!(
        check(&r, &topic, body.to_string().as_bytes()).code,
        ReplyCode::MODEL
    );

    let topic = request_topic(Method::Post, &gw());
    let single = |params: Value| {
        json!({"id": "2", "version": "1.0", "method": "thing.measurepoint.post", "params": params})
            .to_string()
    };
    let ok = single(json!({"measurepoints": {"temp": 1}, "time": 5}));
    assert_eq!(check(&r, &topic, ok.as_bytes()).code, ReplyCode::SUCCESS);
    let report = check(
        &r,
        &topic,
        single(json!({"measurepoints": {"temp": "x"}})).as_bytes(),
    );
    assert_eq!(report.code, ReplyCode::MODEL);
    assert_eq!(report.findings[0].path, "params.measurepoints.temp");
    assert_eq!(
        report.findings[0].point.as_ref().and_then(|p| p.element),
        None
    );
    let array = single(json!([{"measurepoints": {"temp": 1}}]));
    assert_eq!(check(&r, &topic, array.as_bytes()).code, ReplyCode::SHAPE);
}

#[test]
fn product_without_model_is_1204() {
    let mut r = registry();
    r.products.remove(&ProductKey("invPk".into()));
    let body = batch(json!([element("inv01", json!({"temp": 1}))]));
    let report = run(&r, &body);
    assert_eq!(report.code, ReplyCode::MODEL);
    assert!(
        report.findings[0].message.contains("no thing model"),
        "{:?}",
        report.findings
    );
}

fn login_body(dk: &str, secret: &str) -> String {
    let device = DeviceId::new("invPk", dk);
    json!({"id": "9", "version": "1.0", "method": "combine.login", "params": {
        "productKey": "invPk", "deviceKey": dk, "clientId": dk, "timestamp": "1700000000000",
        "signMethod": "sha256", "sign": sign(dk, &device, "1700000000000", secret)}})
    .to_string()
}

#[test]
fn login_codes() {
    let r = registry();
    let topic = request_topic(Method::Login, &gw());
    let ok = check(&r, &topic, login_body("inv01", "inv01-secret").as_bytes());
    assert_eq!(ok.code, ReplyCode::SUCCESS, "{:?}", ok.findings);
    assert_eq!(ok.effect, Some(SessionEffect::Login(inv(1))));
    assert_eq!(
        ok.data,
        json!({"productKey": "invPk", "deviceKey": "inv01"})
    );
    // The hub compares the hex case-insensitively.
    let mut body: Value = serde_json::from_str(&login_body("inv01", "inv01-secret")).expect("json");
    let sign_upper = body["params"]["sign"]
        .as_str()
        .expect("sign")
        .to_uppercase();
    body["params"]["sign"] = json!(sign_upper);
    assert_eq!(
        check(&r, &topic, body.to_string().as_bytes()).code,
        ReplyCode::SUCCESS
    );

    // The Python SDK names the same plain digest "hmacsha256".
    let mut body: Value = serde_json::from_str(&login_body("inv01", "inv01-secret")).expect("json");
    body["params"]["signMethod"] = json!("hmacsha256");
    assert_eq!(
        check(&r, &topic, body.to_string().as_bytes()).code,
        ReplyCode::SUCCESS
    );
    body["params"]["signMethod"] = json!("hmacmd5");
    assert_eq!(
        check(&r, &topic, body.to_string().as_bytes()).code,
        ReplyCode::SIGN_FAILED
    );

    let wrong = check(&r, &topic, login_body("inv01", "guess").as_bytes());
    assert_eq!(wrong.code, ReplyCode::SIGN_FAILED);
    assert_eq!(wrong.effect, None);
    assert_eq!(
        check(&r, &topic, login_body("inv404", "x").as_bytes()).code,
        ReplyCode::DEVICE_NOT_FOUND
    );
    assert_eq!(
        check(&r, &topic, login_body("foreign", "x").as_bytes()).code,
        ReplyCode::NOT_SUB_DEVICE
    );
    // inv02 has no known secret: nothing can match.
    assert_eq!(
        check(&r, &topic, login_body("inv02", "").as_bytes()).code,
        ReplyCode::SIGN_FAILED
    );
    // Missing sign fields are a shape error.
    let bare = json!({"version": "1.0", "method": "combine.login", "params": {"productKey": "invPk", "deviceKey": "inv01"}});
    assert_eq!(
        check(&r, &topic, bare.to_string().as_bytes()).code,
        ReplyCode::SHAPE
    );
    // Wrong method on the login topic.
    let post = batch(json!([]));
    assert_eq!(
        check(&r, &topic, post.to_string().as_bytes()).code,
        ReplyCode::METHOD_MISMATCH
    );
}

#[test]
fn logout() {
    let r = registry();
    let topic = request_topic(Method::Logout, &gw());
    let body = |dk: &str| {
        json!({"id": "3", "version": "1.0", "method": "combine.logout", "params": {"productKey": "invPk", "deviceKey": dk}}).to_string()
    };
    let report = check(&r, &topic, body("inv01").as_bytes());
    assert_eq!(report.code, ReplyCode::SUCCESS);
    assert_eq!(report.effect, Some(SessionEffect::Logout(inv(1))));
    assert_eq!(
        check(&r, &topic, body("inv404").as_bytes()).code,
        ReplyCode::DEVICE_NOT_FOUND
    );
    assert_eq!(
        check(&r, &topic, body("foreign").as_bytes()).code,
        ReplyCode::NOT_SUB_DEVICE
    );
}

#[test]
fn ids_are_echoed_as_strings() {
    let mut body = batch(json!([]));
    body["id"] = json!(123);
    assert_eq!(run(&registry(), &body).id.map(|i| i.0), Some("123".into()));
    body.as_object_mut().expect("object").remove("id");
    assert_eq!(run(&registry(), &body).id, None);
}

#[test]
fn the_quick_answer_is_a_clean_messages_200_and_nothing_else() {
    let r = registry();
    let clean = batch(json!([
        element("inv01", json!({"temp": 1.5, "Power": {"value": 2.0, "quality": 0}})),
        {"measurepoints": {"count": 3}},
    ]));
    let text = clean.to_string();
    let quick = super::accepted(&r, &batch_topic(), text.as_bytes()).expect("answered");
    assert_eq!(quick, run(&r, &clean).reply());
    assert_eq!(quick.code, ReplyCode::SUCCESS);
    // What the checker finds wrong gets no quick answer: its reply is the checker's.
    let refused = [
        // A struct's fields in an array, at the top and as an element.
        r#"["1", "1.0", "thing.measurepoint.post.batch", null, null, []]"#.to_owned(),
        batch(json!([[null, null, 1, {}]])).to_string(),
        batch(json!([element("inv01", json!({"temp": "hot"}))])).to_string(),
        batch(json!([element("foreign", json!({"temp": 1.0}))])).to_string(),
        text.replacen("\"time\":1700000000000", "\"time\":null", 1),
        text.replacen("\"params\":", "\"params\":[],\"params\":", 1),
    ];
    for text in refused {
        assert_eq!(
            super::accepted(&r, &batch_topic(), text.as_bytes()),
            None,
            "{text}"
        );
    }
}
