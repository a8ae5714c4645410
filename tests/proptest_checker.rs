//! Property tests: valid messages from every sample model get 200; one mutated point gets
//! 1204 at exactly its path; arbitrary input never panics the checker or the loaders; the hub's
//! quick answer to a measure-point message is the checker's, or none.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use thingbench::model::{DataType, Registry, Severity, ThingModel, accepted, check, sample_value};
use thingbench::protocol::{DeviceId, Method, ReplyCode, parse_reply, request_topic};
use thingbench::workspace::{Batch, Draft, Fixture, LoginState, Workspace};

struct Sample {
    registry: Registry,
    /// The same devices with no sub-device logged in.
    logged_out: Registry,
    gateway: DeviceId,
    /// Every device with the model of its product.
    devices: Vec<(DeviceId, Arc<ThingModel>)>,
}

fn sample() -> &'static Sample {
    static SAMPLE: OnceLock<Sample> = OnceLock::new();
    SAMPLE.get_or_init(|| {
        let ws = Workspace::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures"))
            .expect("sample workspace");
        let registry = ws.registry(&LoginState::All);
        let logged_out = ws.registry(&LoginState::Only(Vec::new()));
        let gateway = ws.gateway();
        let devices = std::iter::once(gateway.clone())
            .chain(ws.sub_devices())
            .filter_map(|d| Some((d.clone(), Arc::clone(registry.model_of(&d.product_key)?))))
            .collect::<Vec<_>>();
        let models: std::collections::HashSet<_> =
            devices.iter().map(|(_, m)| m.model_id.clone()).collect();
        assert_eq!(
            models.len(),
            ws.models.len(),
            "every sample model has a device"
        );
        Sample {
            registry,
            logged_out,
            gateway,
            devices,
        }
    })
}

/// One element: a device and some of its points with valid sample values.
fn element_strategy() -> impl Strategy<Value = Value> {
    let count = sample().devices.len();
    (
        0..count,
        any::<u64>(),
        prop::collection::vec(any::<bool>(), 64),
        any::<i64>(),
    )
        .prop_map(|(device, seed, picks, time)| {
            let (id, model) = &sample().devices[device];
            let mut points = Map::new();
            for (i, point) in model.points.iter().enumerate() {
                if picks[i % picks.len()] {
                    points.insert(
                        point.identifier.clone(),
                        sample_value(point, seed.wrapping_add(i as u64)),
                    );
                }
            }
            json!({
                "productKey": id.product_key.0,
                "deviceKey": id.device_key.0,
                "time": time.rem_euclid(4_000_000_000_000),
                "measurepoints": points,
            })
        })
}

fn batch(params: Vec<Value>) -> Value {
    json!({"id": "1", "version": "1.0", "method": "thing.measurepoint.post.batch", "params": params})
}

fn run(body: &Value) -> thingbench::model::CheckReport {
    let s = sample();
    check(
        &s.registry,
        &request_topic(Method::PostBatch, &s.gateway),
        body.to_string().as_bytes(),
    )
}

/// A value that no point of `data_type` accepts.
fn wrong_value(data_type: &DataType, pick: u8) -> Value {
    match pick % 3 {
        0 => Value::Null,
        1 => json!({"__wrong__": true}),
        _ => match data_type {
            DataType::String { .. } | DataType::Date | DataType::File => json!(12345),
            DataType::Enum(def) if def.kind == thingbench::model::EnumKind::String => json!(12345),
            DataType::Enum(_) => json!(-987654),
            DataType::Struct { .. } | DataType::Array { .. } => json!("not-a-container"),
            _ => json!("not a number"),
        },
    }
}

#[derive(Debug, Clone, Copy)]
enum Mutation {
    WrongType(u8),
    QualityOutOfRange(u8),
    UnknownIdentifier,
}

fn mutation_strategy() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<u8>().prop_map(Mutation::WrongType),
        (10u8..=255).prop_map(Mutation::QualityOutOfRange),
        Just(Mutation::UnknownIdentifier),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn valid_messages_get_200(params in prop::collection::vec(element_strategy(), 1..8)) {
        let report = run(&batch(params));
        prop_assert_eq!(report.code, ReplyCode::SUCCESS, "{:?}", report.findings);
        prop_assert_eq!(report.count(Severity::Error), 0);
    }

    #[test]
    fn one_mutated_point_gets_1204_at_its_path(
        params in prop::collection::vec(element_strategy(), 1..6),
        which in any::<prop::sample::Index>(),
        point_pick in any::<prop::sample::Index>(),
        mutation in mutation_strategy(),
    ) {
        let mut params = params;
        let e = which.index(params.len());
        let device = DeviceId::new(
            params[e]["productKey"].as_str().unwrap_or_default(),
            params[e]["deviceKey"].as_str().unwrap_or_default(),
        );
        let model = &sample().devices.iter().find(|(d, _)| *d == device).expect("device").1;
        let points = params[e]["measurepoints"].as_object_mut().expect("points");
        let identifier = match mutation {
            Mutation::UnknownIdentifier => {
                points.insert("__no_such_point__".into(), json!(1));
                "__no_such_point__".to_owned()
            }
            Mutation::WrongType(pick) => {
                let point = &model.points[point_pick.index(model.points.len())];
                points.insert(point.identifier.clone(), wrong_value(&point.data_type, pick));
                point.identifier.clone()
            }
            Mutation::QualityOutOfRange(q) => {
                let quality_points: Vec<_> = model.points.iter().filter(|p| p.has_quality).collect();
                prop_assume!(!quality_points.is_empty());
                let point = quality_points[point_pick.index(quality_points.len())];
                let mut value = sample_value(point, 3);
                value["quality"] = json!(q);
                points.insert(point.identifier.clone(), value);
                point.identifier.clone()
            }
        };
        let report = run(&batch(params));
        prop_assert_eq!(report.code, ReplyCode::MODEL, "{:?}", report.findings);
        let path = format!("params[{e}].measurepoints.{identifier}");
        let errors: Vec<_> = report.findings.iter().filter(|f| f.severity == Severity::Error).collect();
        prop_assert_eq!(errors.len(), 1, "{:?}", errors);
        prop_assert_eq!(&errors[0].path, &path);
        prop_assert_eq!(errors[0].code, ReplyCode::MODEL);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512), topic in ".{0,60}") {
        let s = sample();
        let _ = check(&s.registry, &topic, &bytes);
        let topic = request_topic(Method::PostBatch, &s.gateway);
        let _ = check(&s.registry, &topic, &bytes);
        let _ = accepted(&s.registry, &topic, &bytes);
        let _ = ThingModel::from_slice(&bytes);
        let _ = Fixture::from_slice(Path::new("fuzz.json"), &bytes);
        let _ = parse_reply(&bytes);
    }

    #[test]
    fn the_builder_and_the_json_view_agree(
        other in json_strategy(),
        params in prop::collection::vec(element_strategy(), 0..4),
        wrong in any::<bool>(),
    ) {
        // Whatever text the JSON view holds, the builder either shows it or says why not; what
        // it shows, written back, reads as the same batch.
        let mut body = batch(params);
        if wrong {
            body["extra"] = other.clone();
        }
        prop_assert!(Draft::from_text(body.to_string()).batch().is_ok(), "a batch always shows");
        for value in [body, other] {
            let draft = Draft::from_text(value.to_string());
            let Ok(batch) = draft.batch() else { continue };
            let mut rebuilt = Draft::default();
            rebuilt.set_batch(batch.clone());
            let again = Batch::from_json(&serde_json::from_str(rebuilt.text()).expect("the builder writes JSON"));
            prop_assert_eq!(again.as_ref(), Ok(batch));
        }
    }

    #[test]
    fn arbitrary_json_never_panics(value in json_strategy(), method in 0usize..5) {
        let s = sample();
        let topic = request_topic(Method::ALL[method], &s.gateway);
        let text = value.to_string();
        let report = check(&s.registry, &topic, text.as_bytes());
        prop_assert!(report.code == ReplyCode::SUCCESS || report.first_error().is_some());
        if let Some(quick) = accepted(&s.registry, &topic, text.as_bytes()) {
            prop_assert_eq!(quick, report.reply());
        }
        let _ = ThingModel::from_slice(text.as_bytes());
        let _ = Fixture::from_value(Path::new("fuzz.json"), value);
        let _ = parse_reply(text.as_bytes());
    }
}

proptest! {
    // Each spoiling is one of about forty: enough cases that each is met many times.
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn the_quick_answer_is_the_checkers_or_none(
        params in prop::collection::vec(element_strategy(), 1..5),
        method in 0usize..3,
        id in id_strategy(),
        faults in prop::collection::vec(fault_strategy(), 0..3),
        spoilt in prop::option::of((any::<prop::sample::Index>(), any::<prop::sample::Index>(), json_strategy())),
        allow_offline in prop_oneof![Just(None), Just(Some(json!(true))), Just(Some(json!("")))],
    ) {
        let method = [Method::PostBatch, Method::ResumeBatch, Method::Post][method];
        let mut params = params;
        // A point's value spoilt: some values are only warned of, most are 1204.
        let spoilt = spoilt.and_then(|(element, point, value)| {
            let element = element.index(params.len());
            let points = params[element]["measurepoints"].as_object_mut()?;
            let count = points.len().max(1);
            let (_, old) = points.iter_mut().nth(point.index(count))?;
            *old = value;
            Some(())
        });
        let mut body = json!({"id": id, "version": "1.0", "method": method.name()});
        body["params"] = match method {
            Method::Post => params[0].clone(),
            _ => Value::Array(params),
        };
        if let Some(flag) = allow_offline {
            body["allowOfflineSubDevice"] = flag;
        }
        let mut text = body.to_string();
        for fault in &faults {
            text = fault.apply(text);
        }
        let s = sample();
        let topic = request_topic(method, &s.gateway);
        let mut answered = false;
        for registry in [&s.registry, &s.logged_out] {
            let full = check(registry, &topic, text.as_bytes());
            if let Some(quick) = accepted(registry, &topic, text.as_bytes()) {
                prop_assert_eq!(quick.to_bytes(), full.reply().to_bytes(), "{}", text);
                answered = true;
            }
        }
        // A clean message gets the quick answer (else the hub builds a tree for every request).
        if faults.is_empty() && spoilt.is_none() {
            prop_assert!(answered, "no quick answer to a valid message: {}", text);
        }
    }
}

/// Ids of every kind the checker reads or drops.
fn id_strategy() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<u32>().prop_map(|n| json!(n.to_string())),
        any::<i64>().prop_map(Value::from),
        Just(json!("")),
        Just(json!(null)),
        Just(json!(1.5)),
        Just(json!({"id": 1})),
        Just(json!("a\"b\u{e9}")),
    ]
}

/// One way to spoil a measure-point message, in its text so that keys twice and numbers as
/// written can be had too. Some spoil nothing the checker minds (an extra key, a warning).
#[derive(Debug, Clone)]
enum Fault {
    /// The first occurrence of `from` becomes `to`.
    Replace(&'static str, String),
    /// `key: value` before the body's closing brace.
    Append(&'static str, Value),
}

impl Fault {
    fn apply(&self, text: String) -> String {
        match self {
            Fault::Replace(from, to) => text.replacen(from, to, 1),
            Fault::Append(key, value) => {
                let end = text.len() - 1;
                format!("{},{key:?}:{value}}}", &text[..end])
            }
        }
    }
}

fn fault_strategy() -> impl Strategy<Value = Fault> {
    const REPLACED: [(&str, &str); 32] = [
        ("\"version\":\"1.0\"", "\"version\":\"\""),
        ("\"version\":\"1.0\"", "\"version\":1"),
        ("\"version\":\"1.0\"", "\"version\":null"),
        ("\"version\":\"1.0\"", "\"version\":\"2\""),
        (
            "\"method\":",
            "\"method\":\"thing.measurepoint.post\",\"m\":",
        ),
        ("\"method\":", "\"method\":null,\"m\":"),
        ("\"params\":[", "\"params\":[[],"),
        ("\"params\":[", "\"params\":[{},"),
        ("\"params\":[", "\"params\":[1,"),
        // serde reads a struct from an array of its fields: the checker does not.
        ("\"params\":[", "\"params\":[[null,null,1,{}],"),
        ("\"params\":{", "\"params\":[null,null,1,{}],\"x\":{"),
        ("\"params\":{", "\"params\":[{"),
        ("\"productKey\":", "\"productKey\":null,\"p\":"),
        ("\"productKey\":", "\"productKey\":\"\",\"p\":"),
        ("\"productKey\":", "\"productKey\":7,\"p\":"),
        ("\"deviceKey\":", "\"deviceKey\":\"nope\",\"d\":"),
        ("\"deviceKey\":\"", "\"deviceKey\":\"\\u0069"),
        ("\"time\":", "\"time\":null,\"t\":"),
        ("\"time\":", "\"time\":1e3,\"t\":"),
        ("\"time\":", "\"time\":1.5,\"t\":"),
        ("\"time\":", "\"time\":\"1\",\"t\":"),
        ("\"time\":", "\"time\":18446744073709551615,\"t\":"),
        ("\"time\":", "\"time\":-1,\"t\":"),
        ("\"measurepoints\":{", "\"measurepoints\":null,\"x\":{"),
        ("\"measurepoints\":{", "\"measurepoints\":[],\"x\":{"),
        (
            "\"measurepoints\":{",
            "\"measurepoints\":{\"__no_such_point__\":1,",
        ),
        ("\"measurepoints\":{\"", "\"measurepoints\":{\"\\u0074"),
        (":{\"value\":", ":{\"value\":null,\"v\":"),
        ("\"quality\":", "\"quality\":99,\"q\":"),
        ("\"quality\":", "\"quality\":\"1\",\"q\":"),
        ("{", "["),
        ("}", "} "),
    ];
    let key = prop_oneof![
        Just("id"),
        Just("version"),
        Just("method"),
        Just("params"),
        Just("allowOfflineSubDevice"),
        Just("skipInvalidMeasurepoints"),
        Just("extra"),
    ];
    prop_oneof![
        (0..REPLACED.len()).prop_map(|i| Fault::Replace(REPLACED[i].0, REPLACED[i].1.to_owned())),
        (key, json_strategy()).prop_map(|(key, value)| Fault::Append(key, value)),
    ]
}

/// JSON values biased toward the protocol's keys, so they reach the deeper checks.
fn json_strategy() -> impl Strategy<Value = Value> {
    let keys = prop_oneof![
        Just("id".to_owned()),
        Just("version".to_owned()),
        Just("method".to_owned()),
        Just("params".to_owned()),
        Just("measurepoints".to_owned()),
        Just("time".to_owned()),
        Just("productKey".to_owned()),
        Just("deviceKey".to_owned()),
        Just("value".to_owned()),
        Just("quality".to_owned()),
        Just("temp".to_owned()),
        Just("modelId".to_owned()),
        Just("dataType".to_owned()),
        Just("request".to_owned()),
        Just("expect".to_owned()),
        Just("code".to_owned()),
        "[a-z]{1,6}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,12}".prop_map(Value::String),
        Just(json!("thing.measurepoint.post.batch")),
        Just(json!("1.0")),
        Just(json!("invPk")),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((keys.clone(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}
