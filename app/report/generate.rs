//! Suites generated from the models (`thingbench generate`): per product, one valid fixture
//! with every point, and for each point one fixture per way it can be wrong, each named for
//! what it tests and expecting the code the checker predicts. The same models give the same
//! bytes.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::model::{
    ArrayItem, DataType, EnumDef, EnumKey, EnumKind, MeasurePoint, Registry, ThingModel, WrongKind,
    check, sample_value,
};
use crate::protocol::{DeviceId, EpochMs, ProductKey};
use crate::workspace::{Fixture, IdSource, LoginState, Workspace, write_atomic};

/// The identifier sent as an unknown point: no model is expected to have it.
const UNKNOWN_POINT: &str = "thingbench.notAPoint";

/// One generated fixture and where it goes, relative to the output folder.
#[derive(Clone, Debug, PartialEq)]
pub struct Generated {
    pub file: PathBuf,
    pub fixture: Fixture,
}

/// The suite for `products` of `workspace` (all of them when empty), with a note for each
/// product that gets nothing and why. An unknown product is an error naming it.
pub fn generate(
    workspace: &Workspace,
    products: &[String],
) -> Result<(Vec<Generated>, Vec<String>), super::ReportError> {
    let registry = workspace.registry(&LoginState::All);
    let mut keys: Vec<&String> = workspace.file.products.keys().collect();
    keys.sort();
    for wanted in products {
        if !keys.contains(&wanted) {
            return Err(super::ReportError::UnknownProduct {
                file: workspace.root.join("workspace.json"),
                product: wanted.clone(),
                known: keys.iter().map(|k| (*k).clone()).collect(),
            });
        }
    }
    let mut out = Vec::new();
    let mut notes = Vec::new();
    for pk in keys {
        if !products.is_empty() && !products.contains(pk) {
            continue;
        }
        let Some(model) = registry.model_of(&ProductKey(pk.clone())) else {
            notes.push(format!("{pk}: no model is loaded for it, so no fixtures"));
            continue;
        };
        let gateway = workspace.gateway();
        let device = std::iter::once(gateway.clone())
            .chain(workspace.sub_devices())
            .find(|d| d.product_key.0 == *pk);
        let Some(device) = device else {
            notes.push(format!(
                "{pk}: no device of workspace.json has this product, so no fixtures"
            ));
            continue;
        };
        let posts = product_suite(&registry, &gateway, &device, model);
        let next = posts.len();
        out.extend(posts);
        out.extend(event_posts(&registry, &gateway, &device, model, next));
        out.extend(invokes(&device, model));
    }
    Ok((out, notes))
}

/// Per event of `model`, one valid post of it by `device` (sent over the gateway's connection,
/// on the device's event topic), expecting the code the checker predicts; numbered from `next`.
fn event_posts(
    registry: &Registry,
    gateway: &DeviceId,
    device: &DeviceId,
    model: &ThingModel,
    next: usize,
) -> Vec<Generated> {
    let pk = &device.product_key.0;
    model
        .events
        .iter()
        .enumerate()
        .map(|(n, event)| {
            let outputs: Map<String, Value> = event
                .outputs
                .iter()
                .map(|output| (output.identifier.clone(), valid_of(&output.data_type)))
                .collect();
            let request = json!({
                "version": "1.0",
                "method": format!("thing.event.{}.post", event.identifier),
                "params": {"events": outputs, "time": "now"},
            });
            let topic = crate::protocol::topic_of(
                crate::protocol::Method::EventPost,
                device,
                &event.identifier,
            );
            let mut fixture = Fixture::new(
                format!("{pk}: event {} posted valid", event.identifier),
                request,
                crate::protocol::ReplyCode::SUCCESS,
            );
            fixture.topic = Some(topic);
            let message = fixture.resolve(
                gateway,
                registry,
                EpochMs(1_700_000_000_000),
                &IdSource::from_clock(),
            );
            fixture.expect.code = Some(check(registry, &message.topic, &message.payload).code);
            let what = format!("event {} valid", event.identifier);
            Generated {
                file: PathBuf::from(pk).join(format!("{:03}-{}.json", next + n, slug(&what))),
                fixture,
            }
        })
        .collect()
}

/// Per service of `model`, one valid invoke of it on `device`, every input typed, expecting
/// 200: a command fixture, in `commands/` of its own (a device must answer it).
fn invokes(device: &DeviceId, model: &ThingModel) -> Vec<Generated> {
    let pk = &device.product_key.0;
    model
        .services
        .iter()
        .enumerate()
        .map(|(n, service)| {
            let params: Map<String, Value> = service
                .inputs
                .iter()
                .map(|input| (input.identifier.clone(), valid_of(&input.data_type)))
                .collect();
            let command = crate::workspace::Command {
                device: device.clone(),
                kind: crate::model::CommandKind::Invoke {
                    service: service.identifier.clone(),
                    params,
                },
            };
            let fixture = Fixture {
                name: format!("{pk}: invoke {} with every input valid", service.identifier),
                topic: None,
                login: None,
                body: crate::workspace::FixtureBody::Command(command),
                expect: crate::workspace::Expect::code(crate::protocol::ReplyCode::SUCCESS),
                send_oversize: false,
                extra: Map::new(),
            };
            let what = format!("invoke {}", service.identifier);
            Generated {
                file: PathBuf::from("commands")
                    .join(pk)
                    .join(format!("{n:03}-{}.json", slug(&what))),
                fixture,
            }
        })
        .collect()
}

/// Writes the suite under `out`, one folder per product; returns the files written.
pub fn write_suite(out: &Path, suite: &[Generated]) -> Result<usize, super::ReportError> {
    use super::ReportError;
    for generated in suite {
        let path = out.join(&generated.file);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| ReportError::CreateFolder {
                folder: dir.to_owned(),
                source,
            })?;
        }
        write_atomic(&path, generated.fixture.to_pretty().as_bytes()).map_err(|source| {
            ReportError::WriteFixture {
                file: path.clone(),
                source,
            }
        })?;
    }
    Ok(suite.len())
}

/// A product's fixtures: the valid one first, then each point's wrong ones in model order, then
/// an unknown identifier.
fn product_suite(
    registry: &Registry,
    gateway: &DeviceId,
    device: &DeviceId,
    model: &ThingModel,
) -> Vec<Generated> {
    let pk = &device.product_key.0;
    let mut cases: Vec<(String, Map<String, Value>)> = Vec::new();
    let every: Map<String, Value> = model
        .points
        .iter()
        .enumerate()
        .map(|(i, p)| (p.identifier.clone(), sample_value(p, i as u64 + 1)))
        .collect();
    cases.push(("every point valid".to_owned(), every));
    for point in &model.points {
        for (what, value) in wrong_values(point) {
            let mut points = Map::new();
            points.insert(point.identifier.clone(), value);
            cases.push((what, points));
        }
    }
    let mut unknown = Map::new();
    unknown.insert(UNKNOWN_POINT.to_owned(), json!(1));
    cases.push((format!("unknown identifier {UNKNOWN_POINT}"), unknown));
    cases
        .into_iter()
        .enumerate()
        .map(|(n, (what, points))| {
            let request = json!({
                "version": "1.0",
                "method": "thing.measurepoint.post.batch",
                "params": [{
                    "productKey": device.product_key.0,
                    "deviceKey": device.device_key.0,
                    "time": "now",
                    "measurepoints": points,
                }],
            });
            let probe = Fixture::new(
                String::new(),
                request.clone(),
                crate::protocol::ReplyCode::SUCCESS,
            );
            let message = probe.resolve(
                gateway,
                registry,
                EpochMs(1_700_000_000_000),
                &IdSource::from_clock(),
            );
            let code = check(registry, &message.topic, &message.payload).code;
            let fixture = Fixture::new(format!("{pk}: {what}"), request, code);
            Generated {
                file: PathBuf::from(pk).join(format!("{n:03}-{}.json", slug(&what))),
                fixture,
            }
        })
        .collect()
}

/// Lower-case letters, digits and single dashes.
fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').chars().take(80).collect()
}

/// A valid value of `data_type`, every STRUCT item present.
fn valid_of(data_type: &DataType) -> Value {
    match data_type {
        DataType::Struct { items } => Value::Object(
            items
                .iter()
                .map(|item| (item.identifier.clone(), valid_of(&item.data_type)))
                .collect(),
        ),
        other => sample_value(&plain(other), 1),
    }
}

fn plain(data_type: &DataType) -> MeasurePoint {
    MeasurePoint {
        identifier: String::new(),
        name: String::new(),
        desc: String::new(),
        data_type: data_type.clone(),
        has_quality: false,
        signal_type: String::new(),
        unit: None,
    }
}

/// Each wrong value of `point`, described, one per kind that applies (and for a STRUCT, one per
/// way each item can be wrong); a quality point's wrong values sit in a good quality object.
fn wrong_values(point: &MeasurePoint) -> Vec<(String, Value)> {
    let id = &point.identifier;
    let mut out = Vec::new();
    for kind in WrongKind::of_point(point) {
        if kind == WrongKind::BadQuality {
            let valid = valid_of(&point.data_type);
            if point.has_quality {
                out.push((
                    format!("{id} with quality 10"),
                    json!({"value": valid, "quality": 10}),
                ));
            } else {
                out.push((
                    format!("{id} with a quality it does not have"),
                    json!({"value": valid, "quality": 0}),
                ));
            }
            continue;
        }
        for (what, value) in wrong_of_type(id, &point.data_type, kind) {
            let value = if point.has_quality {
                json!({"value": value, "quality": 0})
            } else {
                value
            };
            out.push((what, value));
        }
    }
    out
}

/// The wrong values of kind `kind` for a value of `data_type` named `id`, described.
fn wrong_of_type(id: &str, data_type: &DataType, kind: WrongKind) -> Vec<(String, Value)> {
    let one = |what: String, value: Value| vec![(what, value)];
    if let DataType::Struct { items } = data_type {
        return wrong_struct(id, data_type, items, kind);
    }
    match (kind, data_type) {
        (WrongKind::WrongType, DataType::String { .. } | DataType::Date | DataType::File)
        | (
            WrongKind::WrongType,
            DataType::Enum(EnumDef {
                kind: EnumKind::String,
                ..
            }),
        ) => one(format!("{id} as a number"), json!(7)),
        (WrongKind::WrongType, DataType::Array { .. }) => {
            one(format!("{id} as a string, not an array"), json!("x"))
        }
        (WrongKind::WrongType, _) => one(format!("{id} as a string"), json!("not a number")),
        (WrongKind::OutOfRange, DataType::Int) => one(
            format!("{id} out of range (2147483648)"),
            json!(2_147_483_648_i64),
        ),
        (WrongKind::OutOfRange, DataType::Float) => {
            one(format!("{id} out of range (1e300)"), json!(1e300))
        }
        (WrongKind::NotInEnum, DataType::Enum(def)) => {
            let key = match def.kind {
                EnumKind::Int => {
                    let max = def
                        .values
                        .iter()
                        .filter_map(|(k, _)| match k {
                            EnumKey::Int(i) => Some(*i),
                            EnumKey::Str(_) => None,
                        })
                        .max()
                        .unwrap_or(0);
                    json!(max.saturating_add(1))
                }
                EnumKind::String => {
                    let mut key = "X".to_owned();
                    while def
                        .values
                        .iter()
                        .any(|(k, _)| *k == EnumKey::Str(key.clone()))
                    {
                        key.push('X');
                    }
                    json!(key)
                }
            };
            one(format!("{id} not in the enum ({key})"), key)
        }
        (WrongKind::TooLong, DataType::String { max_length }) => one(
            format!(
                "{id} too long ({} characters, maxLength {max_length})",
                max_length + 1
            ),
            Value::String("x".repeat(max_length + 1)),
        ),
        (WrongKind::TooLong, DataType::Array { item }) => {
            let items = crate::model::MAX_ARRAY_LENGTH + 1;
            one(
                format!(
                    "{id} too long ({items} items, over {})",
                    crate::model::MAX_ARRAY_LENGTH
                ),
                Value::Array(vec![array_item(*item); items]),
            )
        }
        (WrongKind::BadArrayItem, DataType::Array { item }) => {
            let wrong = match item {
                ArrayItem::String => json!(1),
                ArrayItem::Int | ArrayItem::Float | ArrayItem::Double => json!("x"),
            };
            one(
                format!("{id} with item [1] of the wrong type"),
                json!([array_item(*item), wrong]),
            )
        }
        _ => Vec::new(),
    }
}

/// A STRUCT's wrong values of kind `kind`: its own (not an object, a required item missing),
/// then its items', each in an otherwise valid STRUCT.
fn wrong_struct(
    id: &str,
    data_type: &DataType,
    items: &[crate::model::StructItem],
    kind: WrongKind,
) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let Value::Object(full) = valid_of(data_type) else {
        return out;
    };
    match kind {
        WrongKind::WrongType => {
            out.push((format!("{id} as a string, not an object"), json!("x")));
        }
        WrongKind::MissingStructItem => {
            if let Some(required) = items.iter().find(|item| item.required) {
                let mut value = full.clone();
                value.shift_remove(&required.identifier);
                out.push((
                    format!("{id} without its required item {}", required.identifier),
                    Value::Object(value),
                ));
            }
        }
        _ => {}
    }
    for item in items {
        if !WrongKind::of_type(&item.data_type).contains(&kind) {
            continue;
        }
        let item_id = format!("{id}.{}", item.identifier);
        for (what, bad) in wrong_of_type(&item_id, &item.data_type, kind) {
            let mut value = full.clone();
            value.insert(item.identifier.clone(), bad);
            out.push((what, Value::Object(value)));
        }
    }
    out
}

/// A valid ARRAY item.
fn array_item(item: ArrayItem) -> Value {
    match item {
        ArrayItem::Int => json!(1),
        ArrayItem::Float | ArrayItem::Double => json!(1.5),
        ArrayItem::String => json!("a"),
    }
}
