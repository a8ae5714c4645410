//! The hub's quick way with a measure-point message it accepts as it stands: read straight from
//! the bytes into borrowed fields, with no tree of the whole body, and answered 200 when nothing
//! in it could be an error. Anything it is not sure of (a type it does not expect, a key twice,
//! a point the model refuses or warns of, a device not allowed) is left to [`check`], which
//! finds what is wrong and says it. So this never decides a code of its own: it only spares the
//! tree where the answer is 200 anyway, which is the reference hub's answer to nearly every
//! request under load.
//!
//! [`check`]: super::check

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::Value;

use crate::protocol::{DeviceId, Method, ParsedTopic, Reply, ReplyCode, id_of_value, parse_topic};

use super::check::{epoch_ms, read_flag};
use super::registry::Registry;
use super::value::check_point_value;

/// The reply [`check`](super::check) gives `payload` on `topic`, when it is a measure-point
/// message (batch, resume batch or single post) with no error in it; `None` when it is not sure,
/// and then only the full check can say.
pub fn accepted(registry: &Registry, topic: &str, payload: &[u8]) -> Option<Reply> {
    if payload.len() > registry.max_payload {
        return None;
    }
    let topic = parse_topic(topic).filter(|t| !t.reply && t.method.carries_points())?;
    if !registry.devices.contains_key(&topic.device) {
        return None;
    }
    if topic.method == Method::Post {
        let Object(body) = serde_json::from_slice::<Object<Body<Object<Element>>>>(payload).ok()?;
        accepts(registry, &topic, &body, [&body.params.0])
    } else {
        let Object(body) =
            serde_json::from_slice::<Object<Body<Vec<Object<Element>>>>>(payload).ok()?;
        accepts(registry, &topic, &body, body.params.iter().map(|e| &e.0))
    }
}

/// The 200 reply to `body` on `topic`, when neither the whole message nor any of its
/// `elements` holds an error.
fn accepts<'e, 'p: 'e, P>(
    registry: &Registry,
    topic: &ParsedTopic,
    body: &Body<P>,
    elements: impl IntoIterator<Item = &'e Element<'p>>,
) -> Option<Reply> {
    let method = body.method.as_ref().map(|m| m.0.as_ref());
    let version = body.version.as_ref().map(|v| v.0.as_ref());
    if method != Some(topic.method_name().as_ref()) || version.is_none_or(str::is_empty) {
        return None;
    }
    let allow_offline = read_flag(body.allow_offline.as_ref())?;
    read_flag(body.skip_invalid.as_ref())?;
    for element in elements {
        accepts_element(registry, topic, element, allow_offline)?;
    }
    Some(Reply::new(
        body.id.as_ref().and_then(id_of_value),
        ReplyCode::SUCCESS,
        None,
        Value::Object(serde_json::Map::new()),
    ))
}

/// `Some(())` when one element (its device, time and each point) holds no error.
fn accepts_element(
    registry: &Registry,
    topic: &ParsedTopic,
    element: &Element,
    allow_offline: bool,
) -> Option<()> {
    let named;
    let device = match (
        named_key(&element.product_key),
        named_key(&element.device_key),
    ) {
        (None, None) => &topic.device,
        (Some(pk), Some(dk))
            if pk == topic.device.product_key.0 && dk == topic.device.device_key.0 =>
        {
            &topic.device
        }
        (Some(pk), Some(dk)) => {
            named = DeviceId::new(pk, dk);
            let logged_in = allow_offline || registry.logged_in.contains(&named);
            if !registry.is_sub_device_of(&named, &topic.device) || !logged_in {
                return None;
            }
            &named
        }
        _ => return None,
    };
    if let Time::Given(time) = &element.time {
        epoch_ms(time)?;
    }
    let model = registry.model_of(&device.product_key)?;
    for (identifier, value) in &element.measurepoints.0.0 {
        let point = model.point(identifier)?;
        check_point_value(point, value).ok()?;
    }
    Some(())
}

/// A productKey or deviceKey as the checker reads it: absent, `null` and `""` name no key.
fn named_key<'k>(key: &'k Option<Key>) -> Option<&'k str> {
    key.as_ref().map(|k| k.0.as_ref()).filter(|k| !k.is_empty())
}

/// The fields of a measure-point message the checker reads; `params` as the topic's method has
/// it. Any other key is skipped, as the checker skips it; a key twice is an error, so the
/// message goes to the checker.
#[derive(Deserialize)]
struct Body<'a, P> {
    id: Option<Value>,
    #[serde(borrow)]
    version: Option<Key<'a>>,
    #[serde(borrow)]
    method: Option<Key<'a>>,
    #[serde(rename = "allowOfflineSubDevice")]
    allow_offline: Option<Value>,
    #[serde(rename = "skipInvalidMeasurepoints")]
    skip_invalid: Option<Value>,
    params: P,
}

/// One element of `params`.
#[derive(Deserialize)]
struct Element<'a> {
    #[serde(rename = "productKey", borrow)]
    product_key: Option<Key<'a>>,
    #[serde(rename = "deviceKey", borrow)]
    device_key: Option<Key<'a>>,
    #[serde(default)]
    time: Time,
    #[serde(borrow)]
    measurepoints: Object<Points<'a>>,
}

/// An element's `time`: absent, or given (`null` included, which is not a time).
#[derive(Default)]
enum Time {
    #[default]
    Absent,
    Given(Value),
}

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(Time::Given)
    }
}

/// The points of an element as written, each identifier with its value.
struct Points<'a>(Vec<(Cow<'a, str>, Value)>);

impl<'de: 'a, 'a> Deserialize<'de> for Points<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PointsVisitor;
        impl<'de> Visitor<'de> for PointsVisitor {
            type Value = Points<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of measure points")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut points = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(Key(identifier)) = map.next_key()? {
                    points.push((identifier, map.next_value()?));
                }
                Ok(Points(points))
            }
        }
        deserializer.deserialize_map(PointsVisitor)
    }
}

/// A string, borrowed from the payload unless it has escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Key<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(key)))
            }
            fn visit_str<E>(self, key: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(key.to_owned())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// A `T` read only from a JSON object: serde reads a struct from an array too, and the checker
/// takes an array where an object belongs for a shape error.
struct Object<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
            type Value = Object<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(Object)
            }
        }
        deserializer.deserialize_map(ObjectVisitor(PhantomData))
    }
}
