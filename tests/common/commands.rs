//! How the test gateway obeys the platform's commands, as firmware would: a set is applied to
//! the values it reports, a get answers the values it holds, the service `setPowerLimit`
//! answers the limit it applied. Written without the thingbench crate's own rules, so that the
//! tests judge thingbench against an independent device.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

/// What a device does wrong with commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommandFlaw {
    None,
    /// Never answers a command for a sub-device.
    IgnoresSubDevices,
    /// Answers every command 500, as the Python SDK does when a handler fails.
    Answers500,
    /// Answers a set 200 without applying it.
    NoApply,
    /// Answers a get or an invoke 200 without its data.
    NoOutputs,
    /// Echoes another id.
    WrongId,
    /// Answers on the request topic instead of its `_reply`.
    WrongTopic,
    /// Answers outputs of the wrong type.
    WrongType,
    /// Never answers at all.
    Silent,
}

/// The values a device holds, by device key then point.
#[derive(Clone, Debug, Default)]
pub struct Values {
    by_device: BTreeMap<String, Map<String, Value>>,
}

impl Values {
    /// The device's values now: what it was set to, over `defaults`.
    pub fn of(&self, device_key: &str, defaults: Value) -> Map<String, Value> {
        let mut values = match defaults {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        if let Some(set) = self.by_device.get(device_key) {
            values.extend(set.clone());
        }
        values
    }

    fn set(&mut self, device_key: &str, points: &Map<String, Value>) {
        self.by_device
            .entry(device_key.to_owned())
            .or_default()
            .extend(points.clone());
    }
}

/// The command a publish on `topic` is, if it is one: (product key, device key, what).
fn command_of(topic: &str) -> Option<(&str, &str, &str)> {
    let rest = topic.strip_prefix("/sys/")?;
    let mut levels = rest.splitn(3, '/');
    let pk = levels.next()?;
    let dk = levels.next()?;
    let what = levels.next()?.strip_prefix("thing/service/")?;
    (!what.ends_with("_reply")).then_some((pk, dk, what))
}

/// The reply (topic and body) the device sends to the command published on `topic`, applying
/// a set to `values`; `None` for what is not a command, or what the flaw leaves unanswered.
/// `sub_devices` are the device keys the gateway answers for besides itself; `defaults` gives
/// each device's values before any set.
pub fn answer(
    topic: &str,
    payload: &[u8],
    flaw: CommandFlaw,
    gateway_key: &str,
    values: &mut Values,
    defaults: &dyn Fn(&str) -> Value,
) -> Option<(String, Value)> {
    let (_, dk, what) = command_of(topic)?;
    let request: Value = serde_json::from_slice(payload).ok()?;
    if flaw == CommandFlaw::Silent || (flaw == CommandFlaw::IgnoresSubDevices && dk != gateway_key)
    {
        return None;
    }
    let id = match flaw {
        CommandFlaw::WrongId => json!("not-the-id"),
        _ => request["id"].clone(),
    };
    let reply_topic = match flaw {
        CommandFlaw::WrongTopic => topic.to_owned(),
        _ => format!("{topic}_reply"),
    };
    if flaw == CommandFlaw::Answers500 {
        return Some((reply_topic, json!({"id": id, "code": 500, "data": null})));
    }
    let params = &request["params"];
    let (code, data) = match what {
        "measurepoint/set" => match params.as_object() {
            Some(points) => {
                if flaw != CommandFlaw::NoApply {
                    values.set(dk, points);
                }
                (200, json!({}))
            }
            None => (2001, json!({})),
        },
        "measurepoint/get" => {
            let held = values.of(dk, defaults(dk));
            let asked: Vec<&str> = params
                .as_array()
                .map(|ids| ids.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            match asked.iter().find(|id| !held.contains_key(**id)) {
                Some(unknown) => (2002, json!({"unknown": unknown})),
                None => {
                    let data: Map<String, Value> = asked
                        .iter()
                        .map(|id| {
                            let value = match flaw {
                                CommandFlaw::WrongType => json!("text"),
                                _ => held[*id].clone(),
                            };
                            ((*id).to_owned(), value)
                        })
                        .collect();
                    (200, Value::Object(data))
                }
            }
        }
        "setPowerLimit" => match params["limit"].as_f64() {
            Some(limit) => {
                let applied = match flaw {
                    CommandFlaw::WrongType => json!("all of it"),
                    _ => json!(limit),
                };
                (200, json!({"applied": applied}))
            }
            None => (2003, json!({})),
        },
        // A service the device does not offer: its own error.
        _ => (2004, json!({})),
    };
    let data = if flaw == CommandFlaw::NoOutputs && code == 200 && what != "measurepoint/set" {
        json!({})
    } else {
        data
    };
    Some((reply_topic, json!({"id": id, "code": code, "data": data})))
}
