//! Coverage on small hand-made runs, the report's page, and generated suites.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::*;
use crate::model::{Registry, ThingModel, WrongKind};
use crate::protocol::{DeviceId, Method, ProductKey, ReplyCode, request_topic};

const MODEL: &str = r#"{
  "modelId": "meter",
  "measurepoints": {
    "voltage": {"dataType": "FLOAT"},
    "energy": {"dataType": "DOUBLE", "hasQuality": true},
    "phase": {"dataType": "ENUM", "dataDefinition": {"enumType": "STRING", "enumDesc": {"L1": "one", "L2": "two"}}},
    "serial": {"dataType": "STRING", "dataDefinition": {"maxLength": 4}}
  }
}"#;

fn gw() -> DeviceId {
    DeviceId::new("gwPk", "gw01")
}

fn registry() -> Registry {
    let mut r = Registry::new();
    let model = Arc::new(ThingModel::from_slice(MODEL.as_bytes()).expect("test model"));
    r.add_product(ProductKey("meterPk".into()), model);
    r.add_gateway(gw(), None);
    r.add_sub_device(&gw(), DeviceId::new("meterPk", "m1"), None);
    r.log_in_all();
    r
}

/// A batch of one element for meter m1, answered with `code` (`None`: no reply).
fn sent(points: Value, code: Option<i64>) -> Exchange {
    let body = json!({"id": "1", "version": "1.0", "method": "thing.measurepoint.post.batch",
        "params": [{"productKey": "meterPk", "deviceKey": "m1", "measurepoints": points}]});
    Exchange {
        topic: request_topic(Method::PostBatch, &gw()),
        payload: body.to_string().into_bytes(),
        outcome: match code {
            Some(code) => Outcome::Replied {
                code: ReplyCode(code),
                message: None,
                rtt: Duration::from_millis(1),
            },
            None => Outcome::NoReply {
                after: Duration::from_millis(100),
            },
        },
        reply: Vec::new(),
    }
}

fn point<'c>(coverage: &'c Coverage, id: &str) -> &'c PointCoverage {
    coverage.models[0]
        .points
        .iter()
        .find(|p| p.identifier == id)
        .expect("a point of the model")
}

#[test]
fn a_point_sent_only_valid_only_invalid_or_never_is_counted_as_such() {
    let run = [
        sent(json!({"voltage": 230.5}), Some(200)),
        sent(json!({"voltage": 231}), Some(200)),
        sent(json!({"phase": "L7"}), Some(1204)),
        sent(json!({"energy": {"value": 1.0, "quality": 10}}), Some(1204)),
        sent(json!({"energy": 5.0}), Some(1204)),
        sent(json!({"noSuchPoint": 1}), Some(1204)),
    ];
    let coverage = Coverage::of_run(&registry(), &run, [ReplyCode::SUCCESS, ReplyCode::MODEL]);
    let voltage = point(&coverage, "voltage");
    assert_eq!(voltage.valid, 2);
    assert!(voltage.invalid.is_empty());
    assert_eq!(
        voltage.kinds_missing(),
        vec![
            WrongKind::WrongType,
            WrongKind::OutOfRange,
            WrongKind::BadQuality
        ]
    );
    let phase = point(&coverage, "phase");
    assert_eq!(phase.valid, 0);
    assert_eq!(phase.invalid.get(&WrongKind::NotInEnum), Some(&1));
    let energy = point(&coverage, "energy");
    assert_eq!(
        energy.invalid.get(&WrongKind::BadQuality),
        Some(&2),
        "quality 10 and a bare value"
    );
    let model = &coverage.models[0];
    assert_eq!(model.never_sent(), vec!["serial"]);
    assert_eq!(model.points(), Share { done: 3, total: 4 });
    assert_eq!(model.points().percent(), 75);
    assert_eq!(model.valid(), Share { done: 1, total: 4 });
    // voltage 3 + energy 2 + phase 3 + serial 3 kinds, and the model's unknown identifier.
    assert_eq!(model.kinds(), Share { done: 3, total: 12 });
    assert_eq!(model.unknown.get("noSuchPoint"), Some(&1));
    assert_eq!(
        model.types(),
        vec![
            ("DOUBLE", true),
            ("ENUM", true),
            ("FLOAT", true),
            ("STRING", false)
        ]
    );
    let code = |c: i64| {
        coverage
            .codes
            .iter()
            .find(|x| x.code.0 == c)
            .copied()
            .expect("code")
    };
    assert_eq!((code(200).expected, code(200).seen), (1, 2));
    assert_eq!((code(1204).expected, code(1204).seen), (1, 4));
    assert!(coverage.codes_never_seen().contains(&ReplyCode::SHAPE));
    assert!(!coverage.codes_never_seen().contains(&ReplyCode::MODEL));
}

#[test]
fn points_count_only_when_the_hub_checked_them() {
    let run = [
        // No reply: no evidence the hub saw it.
        sent(json!({"voltage": 1.0}), None),
        // Rejected as a whole before its points were looked at.
        sent(json!({"serial": "ab"}), Some(1206)),
        // A valid point beside an invalid one in a 1204 request is still sent valid.
        sent(json!({"serial": "abcdef", "voltage": "hot"}), Some(1204)),
    ];
    let coverage = Coverage::of_run(&registry(), &run, []);
    assert_eq!((coverage.requests, coverage.answered), (3, 2));
    assert_eq!(point(&coverage, "voltage").valid, 0);
    assert_eq!(
        point(&coverage, "voltage")
            .invalid
            .get(&WrongKind::WrongType),
        Some(&1)
    );
    assert_eq!(
        point(&coverage, "serial").invalid.get(&WrongKind::TooLong),
        Some(&1)
    );
    assert_eq!(
        point(&coverage, "serial").valid,
        0,
        "the 1206 request does not count"
    );
}

#[test]
fn a_fixtures_own_request_is_the_last_since_the_one_before_when_it_ended_the_same_way() {
    let mut recorder = Recorder::default();
    let login = sent(json!({}), Some(200));
    let own = sent(json!({"voltage": 1.0}), Some(200));
    for exchange in [&login, &own] {
        recorder.sent(&exchange.topic, &exchange.payload);
        recorder.ended(&exchange.outcome, &exchange.reply);
    }
    assert_eq!(recorder.fixture_ended(Some(&own.outcome)), Some(&own));
    // A fixture refused before sending: its login went out, its own request did not.
    recorder.sent(&login.topic, &login.payload);
    recorder.ended(&login.outcome, &login.reply);
    let refused = Outcome::NotSent {
        reason: "too large".into(),
    };
    assert_eq!(recorder.fixture_ended(Some(&refused)), None);
    assert_eq!(recorder.fixture_ended(None), None);
    assert_eq!(recorder.exchanges.len(), 3);
}

#[test]
fn the_checker_names_every_kind_a_generated_value_is_for() {
    // Every generated wrong value of every sample point is found wrong in exactly its kind.
    let ws = crate::workspace::testing::sample();
    let (suite, notes) = generate::generate(&ws, &[]).expect("a suite");
    assert!(notes.is_empty(), "{notes:?}");
    let registry = ws.registry(&crate::workspace::LoginState::All);
    let exchanges: Vec<Exchange> = suite
        .iter()
        .map(|g| {
            let message = g.fixture.resolve(
                &ws.gateway(),
                &registry,
                EpochMs(1_700_000_000_000),
                &crate::workspace::IdSource::from_clock(),
            );
            let code = g.fixture.expect.code.expect("a code");
            assert!(
                code == ReplyCode::SUCCESS || code == ReplyCode::MODEL,
                "{}: {code}",
                g.fixture.name
            );
            Exchange {
                topic: message.topic,
                payload: message.payload,
                outcome: Outcome::Replied {
                    code,
                    message: None,
                    rtt: Duration::from_millis(1),
                },
                reply: Vec::new(),
            }
        })
        .collect();
    let coverage = Coverage::of_run(&registry, &exchanges, []);
    assert_eq!(coverage.models.len(), 3);
    for model in &coverage.models {
        assert_eq!(model.points().percent(), 100, "{}", model.model_id);
        assert_eq!(model.valid().percent(), 100, "{}", model.model_id);
        assert_eq!(
            model.kinds().done,
            model.kinds().total,
            "{}",
            model.model_id
        );
        for p in &model.points {
            let extra: Vec<_> = p
                .invalid
                .keys()
                .filter(|k| !p.applicable.contains(k))
                .collect();
            assert!(extra.is_empty(), "{}: {extra:?}", p.identifier);
        }
    }
}

#[test]
fn generate_names_what_each_fixture_tests_and_gives_the_same_suite_twice() {
    let ws = crate::workspace::testing::sample();
    let (first, _) = generate::generate(&ws, &["meterPk".to_owned()]).expect("a suite");
    let (second, _) = generate::generate(&ws, &["meterPk".to_owned()]).expect("a suite");
    assert_eq!(first, second);
    let names: Vec<&str> = first.iter().map(|g| g.fixture.name.as_str()).collect();
    assert!(
        names.contains(&"meterPk: Meter.Voltage as a string"),
        "{names:?}"
    );
    assert!(
        names.contains(&"meterPk: Meter.Phase not in the enum (\"X\")"),
        "{names:?}"
    );
    assert!(
        names.contains(&"meterPk: Meter.EnergyImp with quality 10"),
        "{names:?}"
    );
    assert!(first.iter().all(|g| g.file.starts_with("meterPk")));
    let unknown = generate::generate(&ws, &["nopePk".to_owned()])
        .expect_err("unknown product")
        .to_string();
    assert!(
        unknown.contains("product \"nopePk\" is not in products; use one of gwPk, invPk, meterPk"),
        "{unknown}"
    );
}

#[test]
fn dates_are_utc_days() {
    assert_eq!(utc_date(EpochMs(0)), "1970-01-01 00:00:00 UTC");
    assert_eq!(
        utc_date(EpochMs(951_782_400_000)),
        "2000-02-29 00:00:00 UTC"
    );
    assert_eq!(
        utc_date(EpochMs(1_796_236_012_340)),
        "2026-12-02 18:26:52 UTC"
    );
}

#[test]
fn commands_the_device_accepted_and_events_posted_count_per_model() {
    let ws = crate::workspace::testing::sample();
    let registry = ws.registry(&crate::workspace::LoginState::All);
    let answered = |topic: &str, body: Value, code: i64, reply: Value| Exchange {
        topic: topic.into(),
        payload: body.to_string().into_bytes(),
        outcome: Outcome::Replied {
            code: ReplyCode(code),
            message: None,
            rtt: Duration::from_micros(300),
        },
        reply: reply.to_string().into_bytes(),
    };
    let exchanges = [
        answered(
            "/sys/invPk/inv01/thing/service/measurepoint/set",
            json!({"id": "1", "version": "1.0", "method": "thing.service.measurepoint.set",
                   "params": {"Power": 3.5}}),
            200,
            json!({"id": "1", "code": 200, "data": {}}),
        ),
        // Refused by the device: nothing was set.
        answered(
            "/sys/invPk/inv01/thing/service/measurepoint/set",
            json!({"id": "2", "version": "1.0", "method": "thing.service.measurepoint.set",
                   "params": {"temp": 3.5}}),
            2001,
            json!({"id": "2", "code": 2001, "data": {}}),
        ),
        answered(
            "/sys/invPk/inv01/thing/service/setPowerLimit",
            json!({"id": "3", "version": "1.0", "method": "thing.service.setPowerLimit",
                   "params": {"limit": 2.5, "mode": 1}}),
            200,
            json!({"id": "3", "code": 200, "data": {"applied": 2.5}}),
        ),
        answered(
            "/sys/invPk/inv01/thing/event/overTemp/post",
            json!({"id": "4", "version": "1.0", "method": "thing.event.overTemp.post",
                   "params": {"events": {"temp": 80.5, "level": 2}}}),
            200,
            json!({"id": "4", "code": 200, "data": {}}),
        ),
    ];
    let coverage = Coverage::of_run(&registry, &exchanges, []);
    let inverter = coverage
        .models
        .iter()
        .find(|m| m.model_id == "wb_inverter")
        .expect("the inverter's model");
    assert_eq!(inverter.set.get("Power"), Some(&1));
    assert_eq!(inverter.set.get("temp"), None, "the device refused it");
    assert_eq!(inverter.points_set().done, 1);
    assert_eq!(inverter.services_invoked().to_string(), "1 of 1 (100 %)");
    assert_eq!(inverter.services[0].outputs, [("applied".to_owned(), true)]);
    assert_eq!(inverter.events_posted().to_string(), "1 of 1 (100 %)");
    assert!(
        inverter.never_exercised().is_empty(),
        "{:?}",
        inverter.never_exercised()
    );
    // Nothing of the kind for the gateway's model, which declares no service or event.
    let nothing = Coverage::of_run(&registry, &exchanges[..1], []);
    let inverter = nothing
        .models
        .iter()
        .find(|m| m.model_id == "wb_inverter")
        .expect("the inverter's model");
    assert_eq!(
        inverter.never_exercised(),
        [
            "service setPowerLimit (never invoked)",
            "event overTemp (never posted)"
        ]
    );
}
