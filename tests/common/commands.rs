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

impl CommandFlaw {
    /// The flaw named on a command line: `answers-500`, `no-apply`...
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "ignores-sub-devices" => Self::IgnoresSubDevices,
            "answers-500" => Self::Answers500,
            "no-apply" => Self::NoApply,
            "no-outputs" => Self::NoOutputs,
            "wrong-id" => Self::WrongId,
            "wrong-topic" => Self::WrongTopic,
            "wrong-type" => Self::WrongType,
            "silent" => Self::Silent,
            _ => return None,
        })
    }
}

/// One measure point a device reports: its id, whether it goes with a quality, and its value
/// before any set. Every point here is a number.
struct Point {
    id: &'static str,
    quality: bool,
    default: f64,
}

/// The points each device of the sample reports, by device key.
fn points_of(device_key: &str) -> &'static [Point] {
    match device_key {
        "gw01" => &[Point {
            id: "cpuLoad",
            quality: false,
            default: 1.5,
        }],
        "inv01" | "inv02" => &[
            Point {
                id: "temp",
                quality: false,
                default: 21.5,
            },
            Point {
                id: "Power",
                quality: true,
                default: 3.2,
            },
        ],
        _ => &[],
    }
}

/// The values a device holds, by device key then point.
#[derive(Clone, Debug, Default)]
pub struct Values {
    set: BTreeMap<String, BTreeMap<String, f64>>,
}

impl Values {
    /// The value of `point` of `device_key` now: what it was set to, else its default.
    fn value(&self, device_key: &str, point: &Point) -> f64 {
        self.set
            .get(device_key)
            .and_then(|points| points.get(point.id))
            .copied()
            .unwrap_or(point.default)
    }

    /// The `measurepoints` of a post for `device_key`: each point it reports, a quality point
    /// as `{value, quality}`.
    pub fn measurepoints(&self, device_key: &str) -> Value {
        let map: Map<String, Value> = points_of(device_key)
            .iter()
            .map(|point| {
                let value = self.value(device_key, point);
                let shown = if point.quality {
                    json!({"value": value, "quality": 0})
                } else {
                    json!(value)
                };
                (point.id.to_owned(), shown)
            })
            .collect();
        Value::Object(map)
    }
}

/// The command a publish on `topic` is, if it is one: (device key, what it asks).
fn command_of(topic: &str) -> Option<(&str, &str)> {
    let rest = topic.strip_prefix("/sys/")?;
    let mut levels = rest.splitn(3, '/');
    let _product_key = levels.next()?;
    let device_key = levels.next()?;
    let what = levels.next()?.strip_prefix("thing/service/")?;
    (!what.ends_with("_reply")).then_some((device_key, what))
}

/// The reply (topic and body) the device sends to the command published on `topic`, applying
/// a set to `values`; `None` for what is not a command, or what the flaw leaves unanswered.
pub fn answer(
    topic: &str,
    payload: &[u8],
    flaw: CommandFlaw,
    gateway_key: &str,
    values: &mut Values,
) -> Option<(String, Value)> {
    let (device_key, what) = command_of(topic)?;
    let request: Value = serde_json::from_slice(payload).ok()?;
    let sub_device = device_key != gateway_key;
    if flaw == CommandFlaw::Silent || (flaw == CommandFlaw::IgnoresSubDevices && sub_device) {
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
    let points = points_of(device_key);
    let known = |id: &str| points.iter().find(|p| p.id == id);
    let params = &request["params"];
    let (code, data) = match what {
        "measurepoint/set" => {
            let asked = params.as_object().cloned().unwrap_or_default();
            // Firmware refuses what it cannot apply: its own error codes, 2000 and above.
            let refused = asked
                .iter()
                .find(|(id, value)| known(id).is_none() || !value.is_number());
            match refused {
                Some((id, _)) => (2001, json!({"refused": id})),
                None => {
                    if flaw != CommandFlaw::NoApply {
                        let held = values.set.entry(device_key.to_owned()).or_default();
                        for (id, value) in &asked {
                            held.insert(id.clone(), value.as_f64().unwrap_or_default());
                        }
                    }
                    (200, json!({}))
                }
            }
        }
        "measurepoint/get" => {
            let asked: Vec<&str> = params
                .as_array()
                .map(|ids| ids.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            match asked.iter().find(|id| known(id).is_none()) {
                Some(unknown) => (2002, json!({"unknown": unknown})),
                None => {
                    let data: Map<String, Value> = asked
                        .iter()
                        .filter_map(|id| known(id))
                        .map(|point| {
                            let value = match flaw {
                                CommandFlaw::WrongType => json!("text"),
                                _ => json!(values.value(device_key, point)),
                            };
                            (point.id.to_owned(), value)
                        })
                        .collect();
                    (200, Value::Object(data))
                }
            }
        }
        "setPowerLimit" if !sub_device || device_key.starts_with("inv") => {
            match params["limit"].as_f64() {
                Some(limit) => {
                    let applied = match flaw {
                        CommandFlaw::WrongType => json!("all of it"),
                        _ => json!(limit),
                    };
                    (200, json!({"applied": applied}))
                }
                None => (2003, json!({})),
            }
        }
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
