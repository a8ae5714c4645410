//! The builder's batch: entries of a device at a time with their points, read from and written
//! to the JSON that is sent ([`super::Draft`] keeps the two in sync).

use serde_json::{Map, Value};

use crate::model::{MeasurePoint, ThingModel, sample_value};
use crate::protocol::{DeviceId, Method};

use super::template::resolve_time_template;

/// The two methods the builder makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum BatchMethod {
    Batch,
    ResumeBatch,
}

impl BatchMethod {
    /// The protocol method.
    pub fn method(self) -> Method {
        match self {
            Self::Batch => Method::PostBatch,
            Self::ResumeBatch => Method::ResumeBatch,
        }
    }

    /// A short label for the window.
    pub fn label(self) -> &'static str {
        match self {
            Self::Batch => "batch",
            Self::ResumeBatch => "resume batch",
        }
    }
}

/// When an entry's samples were taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryTime {
    /// No `time`: the hub uses its own clock.
    Absent,
    /// `"now"`, resolved at send.
    Now,
    /// `"now-90s"`: milliseconds from now, resolved at send.
    Offset(i64),
    /// Epoch milliseconds.
    Absolute(i64),
}

impl EntryTime {
    /// The JSON of `time`, or `None` when absent.
    pub fn to_json(self) -> Option<Value> {
        match self {
            Self::Absent => None,
            Self::Now => Some(Value::from("now")),
            Self::Offset(ms) => {
                let sign = if ms < 0 { '-' } else { '+' };
                let abs = ms.unsigned_abs();
                let text = if abs % 1000 == 0 {
                    format!("now{sign}{}s", abs / 1000)
                } else {
                    format!("now{sign}{abs}ms")
                };
                Some(Value::from(text))
            }
            Self::Absolute(ms) => Some(Value::from(ms)),
        }
    }

    pub(super) fn from_json(value: Option<&Value>) -> Result<Self, NotABatch> {
        match value {
            None => Ok(Self::Absent),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Self::Absolute)
                .ok_or_else(|| NotABatch(format!("time {n} is not whole epoch milliseconds"))),
            Some(Value::String(text)) => {
                let offset =
                    resolve_time_template(text, crate::protocol::EpochMs(0)).ok_or_else(|| {
                        NotABatch(format!("time \"{text}\" is not a number or \"now±N\""))
                    })?;
                Ok(if text == "now" {
                    Self::Now
                } else {
                    Self::Offset(offset.0)
                })
            }
            Some(other) => Err(NotABatch(format!(
                "time {other} is not a number or \"now±N\""
            ))),
        }
    }

    /// This time moved by `step_ms`.
    pub fn shifted(self, step_ms: i64) -> Self {
        match self {
            Self::Absent | Self::Now => Self::Offset(step_ms),
            Self::Offset(ms) => Self::Offset(ms.saturating_add(step_ms)),
            Self::Absolute(ms) => Self::Absolute(ms.saturating_add(step_ms)),
        }
    }
}

/// One point of an entry: its value and, for quality points, its quality.
#[derive(Clone, Debug, PartialEq)]
pub struct PointEntry {
    pub identifier: String,
    /// The value as sent; it may be of the wrong type on purpose.
    pub value: Value,
    /// `Some` when the point is sent as `{"value": v, "quality": q}`.
    pub quality: Option<u8>,
}

impl PointEntry {
    /// The point's JSON.
    pub fn to_json(&self) -> Value {
        match self.quality {
            Some(q) => {
                let mut obj = Map::new();
                obj.insert("value".into(), self.value.clone());
                obj.insert("quality".into(), Value::from(q));
                Value::Object(obj)
            }
            None => self.value.clone(),
        }
    }

    /// The entries of an object of point id → value (`measurepoints`, an event's `events`)
    /// at `place`, in written order; none when it is absent.
    pub(super) fn all_from_json(value: Option<Value>, place: &str) -> Result<Vec<Self>, NotABatch> {
        match value {
            Some(Value::Object(points)) => Ok(points
                .iter()
                .map(|(id, v)| Self::from_json(id, v))
                .collect()),
            None => Ok(Vec::new()),
            Some(other) => Err(NotABatch(format!("{place} is {other}, not an object"))),
        }
    }

    pub(super) fn from_json(identifier: &str, value: &Value) -> Self {
        if let Some(obj) = value.as_object()
            && obj.len() == 2
            && let (Some(v), Some(q)) = (obj.get("value"), obj.get("quality"))
            && let Some(q) = q.as_u64().filter(|q| crate::protocol::Quality::fits(*q))
        {
            return Self {
                identifier: identifier.to_owned(),
                value: v.clone(),
                quality: Some(q as u8),
            };
        }
        Self {
            identifier: identifier.to_owned(),
            value: value.clone(),
            quality: None,
        }
    }

    /// A valid sample for `point`, varied by `seed`.
    pub fn sample(point: &MeasurePoint, seed: u64) -> Self {
        Self::from_json(&point.identifier, &sample_value(point, seed))
    }
}

/// One element of `params`: a device at a time, with its points.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// `None`: no keys, the device of the topic (the gateway).
    pub device: Option<DeviceId>,
    pub time: EntryTime,
    pub points: Vec<PointEntry>,
    /// Keys the builder does not edit, kept as they are.
    pub extra: Map<String, Value>,
}

impl Entry {
    /// An empty entry for `device`, at "now".
    pub fn new(device: Option<DeviceId>) -> Self {
        Self {
            device,
            time: EntryTime::Now,
            points: Vec::new(),
            extra: Map::new(),
        }
    }

    /// Adds every point of `model` not already in the entry, with sample values.
    pub fn add_all_points(&mut self, model: &ThingModel, seed: u64) {
        for (i, point) in model.points.iter().enumerate() {
            if !self.points.iter().any(|p| p.identifier == point.identifier) {
                self.points
                    .push(PointEntry::sample(point, seed.wrapping_add(i as u64)));
            }
        }
    }

    /// Replaces every value that the model knows with a fresh sample.
    pub fn fill_samples(&mut self, model: &ThingModel, seed: u64) {
        for (i, entry) in self.points.iter_mut().enumerate() {
            if let Some(point) = model.point(&entry.identifier) {
                *entry = PointEntry::sample(point, seed.wrapping_add(i as u64));
            }
        }
    }

    fn to_json(&self) -> Value {
        let mut obj = Map::new();
        if let Some(device) = &self.device {
            obj.insert(
                "productKey".into(),
                Value::from(device.product_key.0.clone()),
            );
            obj.insert("deviceKey".into(), Value::from(device.device_key.0.clone()));
        }
        if let Some(time) = self.time.to_json() {
            obj.insert("time".into(), time);
        }
        let points = self
            .points
            .iter()
            .map(|p| (p.identifier.clone(), p.to_json()))
            .collect();
        obj.insert("measurepoints".into(), Value::Object(points));
        obj.extend(self.extra.clone());
        Value::Object(obj)
    }

    fn from_json(index: usize, value: &Value) -> Result<Self, NotABatch> {
        let place = format!("params[{index}]");
        let mut obj = value
            .as_object()
            .cloned()
            .ok_or_else(|| NotABatch(format!("{place} is not an object")))?;
        let key = |obj: &mut Map<String, Value>, name: &str| match obj.shift_remove(name) {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(NotABatch(format!(
                "{place}.{name} is {other}, not a string"
            ))),
        };
        let product = key(&mut obj, "productKey")?;
        let device = key(&mut obj, "deviceKey")?;
        let device = match (product, device) {
            (Some(pk), Some(dk)) => Some(DeviceId::new(pk, dk)),
            (None, None) => None,
            _ => {
                return Err(NotABatch(format!(
                    "{place} has one of productKey and deviceKey only"
                )));
            }
        };
        let time = EntryTime::from_json(obj.shift_remove("time").as_ref())
            .map_err(|e| NotABatch(format!("{place}: {e}")))?;
        let points = PointEntry::all_from_json(
            obj.shift_remove("measurepoints"),
            &format!("{place}.measurepoints"),
        )?;
        Ok(Self {
            device,
            time,
            points,
            extra: obj,
        })
    }
}

/// A batch request as the builder sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    pub method: BatchMethod,
    pub version: String,
    /// `allowOfflineSubDevice`; `None` leaves it out.
    pub allow_offline: Option<bool>,
    /// `skipInvalidMeasurepoints`; `None` leaves it out.
    pub skip_invalid: Option<bool>,
    pub entries: Vec<Entry>,
    /// Top-level keys the builder does not edit (a fixed `id`...), kept as they are.
    pub extra: Map<String, Value>,
}

impl Default for Batch {
    fn default() -> Self {
        Self {
            method: BatchMethod::Batch,
            version: "1.0".into(),
            allow_offline: None,
            skip_invalid: None,
            entries: Vec::new(),
            extra: Map::new(),
        }
    }
}

impl Batch {
    /// The request body.
    pub fn to_json(&self) -> Value {
        let mut obj = Map::new();
        obj.insert("version".into(), Value::from(self.version.clone()));
        obj.insert("method".into(), Value::from(self.method.method().name()));
        if let Some(allow) = self.allow_offline {
            obj.insert("allowOfflineSubDevice".into(), Value::Bool(allow));
        }
        if let Some(skip) = self.skip_invalid {
            obj.insert("skipInvalidMeasurepoints".into(), Value::Bool(skip));
        }
        let params = self.entries.iter().map(Entry::to_json).collect();
        obj.insert("params".into(), Value::Array(params));
        obj.extend(self.extra.clone());
        Value::Object(obj)
    }

    /// The pretty text of the body, as the JSON view shows it.
    pub fn to_text(&self) -> String {
        serde_json::to_string_pretty(&self.to_json()).unwrap_or_default()
    }

    /// Reads a body back; `Err` says what the builder cannot show.
    pub fn from_json(value: &Value) -> Result<Self, NotABatch> {
        let mut obj = value
            .as_object()
            .cloned()
            .ok_or_else(|| NotABatch("the message is not a JSON object".into()))?;
        let method = match obj.shift_remove("method") {
            None => BatchMethod::Batch,
            Some(Value::String(name)) => match Method::from_name(&name) {
                Some(Method::PostBatch) => BatchMethod::Batch,
                Some(Method::ResumeBatch) => BatchMethod::ResumeBatch,
                _ => {
                    return Err(NotABatch(format!(
                        "method \"{name}\" is not a batch method"
                    )));
                }
            },
            Some(other) => return Err(NotABatch(format!("method is {other}, not a string"))),
        };
        let version = match obj.shift_remove("version") {
            Some(Value::String(v)) => v,
            None => return Err(NotABatch("version is missing".into())),
            Some(other) => return Err(NotABatch(format!("version is {other}, not a string"))),
        };
        let flag = |obj: &mut Map<String, Value>, name: &str| match obj.shift_remove(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(other) => Err(NotABatch(format!("{name} is {other}, not true or false"))),
        };
        let allow_offline = flag(&mut obj, "allowOfflineSubDevice")?;
        let skip_invalid = flag(&mut obj, "skipInvalidMeasurepoints")?;
        let entries = match obj.shift_remove("params") {
            Some(Value::Array(params)) => params
                .iter()
                .enumerate()
                .map(|(i, p)| Entry::from_json(i, p))
                .collect::<Result<_, _>>()?,
            None => return Err(NotABatch("params is missing".into())),
            Some(other) => return Err(NotABatch(format!("params is {other}, not an array"))),
        };
        Ok(Self {
            method,
            version,
            allow_offline,
            skip_invalid,
            entries,
            extra: obj,
        })
    }

    /// Repeats entry `index` so that it covers `count` timestamps, `step_ms` apart.
    pub fn repeat_entry(&mut self, index: usize, count: usize, step_ms: i64) {
        let Some(entry) = self.entries.get(index).cloned() else {
            return;
        };
        let copies = (1..count).map(|k| {
            let mut copy = entry.clone();
            copy.time = entry.time.shifted(step_ms.saturating_mul(k as i64));
            copy
        });
        let at = index + 1;
        self.entries.splice(at..at, copies);
    }
}

/// Why the builder cannot show a text (as a batch, an event post or a command): what it found,
/// and where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotABatch(pub String);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn inverter() -> DeviceId {
        DeviceId::new("invPk", "inv01")
    }

    #[test]
    fn repeat_spreads_an_entry_over_timestamps() {
        let mut batch = Batch::default();
        let mut entry = Entry::new(Some(inverter()));
        entry.time = EntryTime::Absolute(1000);
        batch.entries.push(entry);
        batch.entries.push(Entry::new(None));
        batch.repeat_entry(0, 3, 500);
        let times: Vec<_> = batch.entries.iter().map(|e| e.time).collect();
        assert_eq!(
            times,
            [
                EntryTime::Absolute(1000),
                EntryTime::Absolute(1500),
                EntryTime::Absolute(2000),
                EntryTime::Now
            ]
        );
        let mut now = Batch::default();
        now.entries.push(Entry::new(None));
        now.repeat_entry(0, 2, -60_000);
        assert_eq!(now.entries[1].time.to_json(), Some(json!("now-60s")));
    }

    #[test]
    fn time_text_round_trips() {
        for time in [
            EntryTime::Now,
            EntryTime::Offset(-90_000),
            EntryTime::Offset(1500),
            EntryTime::Absolute(5),
        ] {
            let json = time.to_json();
            assert_eq!(EntryTime::from_json(json.as_ref()), Ok(time));
        }
        assert!(EntryTime::from_json(Some(&json!("yesterday"))).is_err());
    }
}
