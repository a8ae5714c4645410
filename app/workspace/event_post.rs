//! An event post as the builder sees it: the event, its outputs (a number may carry a quality,
//! as protocol.md's rule allows) and its time. The device posting it is the topic's, which the
//! draft keeps beside the text.

use serde_json::{Map, Value};

use crate::model::{DataPoint, Event, sample_data_value};
use crate::protocol::{Method, method_name, parse_method};

use super::batch::{EntryTime, NotABatch, PointEntry};

/// `thing.event.{eventId}.post`: `{"events": {output: value}, "time": ms}`.
#[derive(Clone, Debug, PartialEq)]
pub struct EventPost {
    /// The event id, as the method names it.
    pub event: String,
    pub version: String,
    pub time: EntryTime,
    /// The outputs as sent; `quality` is `Some` for an output sent as `{value, quality}`.
    pub outputs: Vec<PointEntry>,
    /// Keys of `params` the builder does not edit, kept as they are.
    pub params_extra: Map<String, Value>,
    /// Top-level keys the builder does not edit (a fixed `id`...), kept as they are.
    pub extra: Map<String, Value>,
}

impl EventPost {
    /// A post of `event` at "now" with no outputs.
    pub fn new(event: impl Into<String>) -> Self {
        Self {
            event: event.into(),
            version: "1.0".into(),
            time: EntryTime::Now,
            outputs: Vec::new(),
            params_extra: Map::new(),
            extra: Map::new(),
        }
    }

    /// A post of `event` at "now" with a valid sample of every output, varied by `seed`.
    pub fn sample(event: &Event, seed: u64) -> Self {
        let mut post = Self::new(event.identifier.clone());
        post.fill_samples(event, seed);
        post
    }

    /// Replaces the outputs with a valid sample of every output of `event`.
    pub fn fill_samples(&mut self, event: &Event, seed: u64) {
        self.outputs = event
            .outputs
            .iter()
            .enumerate()
            .map(|(i, output)| output_sample(output, seed.wrapping_add(i as u64)))
            .collect();
    }

    /// The request body, as the JSON view shows it.
    pub fn to_json(&self) -> Value {
        let mut params = Map::new();
        let events = self
            .outputs
            .iter()
            .map(|o| (o.identifier.clone(), o.to_json()))
            .collect();
        params.insert("events".into(), Value::Object(events));
        if let Some(time) = self.time.to_json() {
            params.insert("time".into(), time);
        }
        params.extend(self.params_extra.clone());
        let mut obj = Map::new();
        obj.insert("version".into(), Value::from(self.version.clone()));
        let method = method_name(Method::EventPost, &self.event);
        obj.insert("method".into(), Value::from(method.into_owned()));
        obj.insert("params".into(), Value::Object(params));
        obj.extend(self.extra.clone());
        Value::Object(obj)
    }

    /// Reads a body back; `Err` says what the builder cannot show.
    pub fn from_json(value: &Value) -> Result<Self, NotABatch> {
        let mut obj = value
            .as_object()
            .cloned()
            .ok_or_else(|| NotABatch("the message is not a JSON object".into()))?;
        let event = match obj.shift_remove("method") {
            Some(Value::String(name)) => match parse_method(&name) {
                Some((Method::EventPost, Some(event))) => event.to_owned(),
                _ => {
                    return Err(NotABatch(format!(
                        "method \"{name}\" is not an event post (thing.event.{{eventId}}.post)"
                    )));
                }
            },
            None => return Err(NotABatch("method is missing".into())),
            Some(other) => return Err(NotABatch(format!("method is {other}, not a string"))),
        };
        let version = match obj.shift_remove("version") {
            Some(Value::String(v)) => v,
            None => return Err(NotABatch("version is missing".into())),
            Some(other) => return Err(NotABatch(format!("version is {other}, not a string"))),
        };
        let mut params = match obj.shift_remove("params") {
            Some(Value::Object(params)) => params,
            None => return Err(NotABatch("params is missing".into())),
            Some(other) => return Err(NotABatch(format!("params is {other}, not an object"))),
        };
        let outputs = PointEntry::all_from_json(params.shift_remove("events"), "params.events")?;
        let time = EntryTime::from_json(params.shift_remove("time").as_ref())
            .map_err(|e| NotABatch(format!("params: {e}")))?;
        Ok(Self {
            event,
            version,
            time,
            outputs,
            params_extra: params,
            extra: obj,
        })
    }
}

/// A valid sample of an event's output: a bare value (quality is the user's to add).
pub fn output_sample(output: &DataPoint, seed: u64) -> PointEntry {
    PointEntry {
        identifier: output.identifier.clone(),
        value: sample_data_value(&output.data_type, seed),
        quality: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_post_reads_back_what_it_writes_with_quality_and_extras() {
        let text = json!({"version": "1.0", "method": "thing.event.overTemp.post",
            "params": {"events": {"temp": {"value": 80.5, "quality": 2}, "level": 2},
                       "time": "now-90s", "note": "kept"},
            "id": "7"});
        let post = EventPost::from_json(&text).expect("an event post");
        assert_eq!(post.event, "overTemp");
        assert_eq!(post.time, EntryTime::Offset(-90_000));
        assert_eq!(post.outputs[0].quality, Some(2));
        assert_eq!(post.outputs[1].value, json!(2));
        assert_eq!(post.to_json(), text);
    }

    #[test]
    fn what_is_not_an_event_post_says_why() {
        for (body, said) in [
            (
                json!({"version": "1.0", "method": "thing.measurepoint.post.batch", "params": []}),
                "not an event post",
            ),
            (
                json!({"version": "1.0", "method": "thing.event.x.post", "params": []}),
                "params is [], not an object",
            ),
            (
                json!({"version": "1.0", "method": "thing.event.x.post",
                       "params": {"events": 3}}),
                "params.events",
            ),
            (
                json!({"method": "thing.event.x.post", "params": {}}),
                "version is missing",
            ),
        ] {
            let why = EventPost::from_json(&body).expect_err("not shown");
            assert!(why.0.contains(said), "{body}: {why}");
        }
    }
}
