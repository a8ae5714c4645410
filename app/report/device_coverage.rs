//! Coverage of a qualified device: per model, the measure points it posted, the points the
//! plan set, the services it invoked (and the outputs seen in their replies) and the events the
//! device posted. No "ways to be wrong": a device is meant to send only valid data.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::model::{CommandKind, Registry, view};
use crate::protocol::DeviceId;
use crate::qualify::{CommandExchange, Record, Seen};

use super::coverage::Share;

/// One measure point: how often the device posted it, and how often the plan set it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DevicePoint {
    pub identifier: String,
    /// `FLOAT`, `STRUCT`...
    pub data_type: &'static str,
    pub posted: usize,
    pub set: usize,
}

/// One service: how often it was invoked, and each output with whether a 200 reply carried it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceService {
    pub identifier: String,
    pub invoked: usize,
    pub outputs: Vec<(String, bool)>,
}

/// One event: how often the device posted it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceEvent {
    pub identifier: String,
    pub posted: usize,
}

/// One product model's coverage by the device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceModel {
    pub model_id: String,
    pub name: String,
    /// The product keys that use this model, sorted.
    pub products: Vec<String>,
    /// In the model's order.
    pub points: Vec<DevicePoint>,
    pub services: Vec<DeviceService>,
    pub events: Vec<DeviceEvent>,
}

impl DeviceModel {
    /// Points posted at least once.
    pub fn posted(&self) -> Share {
        share(
            self.points.iter().filter(|p| p.posted > 0).count(),
            self.points.len(),
        )
    }

    /// Points set at least once.
    pub fn set(&self) -> Share {
        share(
            self.points.iter().filter(|p| p.set > 0).count(),
            self.points.len(),
        )
    }

    /// Services invoked at least once.
    pub fn invoked(&self) -> Share {
        share(
            self.services.iter().filter(|s| s.invoked > 0).count(),
            self.services.len(),
        )
    }

    /// Events posted at least once.
    pub fn evented(&self) -> Share {
        share(
            self.events.iter().filter(|e| e.posted > 0).count(),
            self.events.len(),
        )
    }

    /// `(what, identifiers)` never exercised: points never posted, never set, services never
    /// invoked, events never posted.
    pub fn never(&self) -> Vec<(&'static str, Vec<&str>)> {
        let points = |unused: fn(&DevicePoint) -> bool| -> Vec<&str> {
            self.points
                .iter()
                .filter(|p| unused(p))
                .map(|p| p.identifier.as_str())
                .collect()
        };
        vec![
            ("never posted", points(|p| p.posted == 0)),
            ("never set", points(|p| p.set == 0)),
            (
                "never invoked",
                self.services
                    .iter()
                    .filter(|s| s.invoked == 0)
                    .map(|s| s.identifier.as_str())
                    .collect(),
            ),
            (
                "events never posted",
                self.events
                    .iter()
                    .filter(|e| e.posted == 0)
                    .map(|e| e.identifier.as_str())
                    .collect(),
            ),
        ]
    }
}

fn share(done: usize, total: usize) -> Share {
    Share { done, total }
}

/// What a qualified device exercised of each model of the workspace, by model id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceCoverage {
    pub models: Vec<DeviceModel>,
}

impl DeviceCoverage {
    /// The coverage of `record`: its device's posts and event posts (whatever their replies),
    /// the commands delivered, and the outputs in the replies that came 200 (`exchanges`).
    pub fn of_run(registry: &Registry, record: &Record, exchanges: &[CommandExchange]) -> Self {
        let mut models: BTreeMap<String, DeviceModel> = registry
            .models
            .values()
            .map(|model| {
                let products = registry.products_of(&model.model_id);
                let table = DeviceModel {
                    model_id: model.model_id.clone(),
                    name: model.name.clone(),
                    products,
                    points: model
                        .points
                        .iter()
                        .map(|p| DevicePoint {
                            identifier: p.identifier.clone(),
                            data_type: p.data_type.name(),
                            posted: 0,
                            set: 0,
                        })
                        .collect(),
                    services: model
                        .services
                        .iter()
                        .map(|s| DeviceService {
                            identifier: s.identifier.clone(),
                            invoked: 0,
                            outputs: s
                                .outputs
                                .iter()
                                .map(|o| (o.identifier.clone(), false))
                                .collect(),
                        })
                        .collect(),
                    events: model
                        .events
                        .iter()
                        .map(|e| DeviceEvent {
                            identifier: e.identifier.clone(),
                            posted: 0,
                        })
                        .collect(),
                };
                (model.model_id.clone(), table)
            })
            .collect();
        for seen in &record.seen {
            let Seen::Request(request) = seen else {
                continue;
            };
            let read = view(&request.topic, &request.payload);
            for element in &read.elements {
                let Some(table) = table_of(&mut models, registry, &element.device) else {
                    continue;
                };
                for id in element.points.keys() {
                    if let Some(point) = table.points.iter_mut().find(|p| p.identifier == *id) {
                        point.posted += 1;
                    }
                }
            }
            if let (Some(event), Some(device)) = (&read.event, &read.device)
                && let Some(table) = table_of(&mut models, registry, device)
                && let Some(posted) = table
                    .events
                    .iter_mut()
                    .find(|e| e.identifier == event.event)
            {
                posted.posted += 1;
            }
        }
        for exchange in exchanges {
            if exchange.command.delivered_ms.is_none() {
                continue;
            }
            let Some(command) = view(&exchange.command.topic, &exchange.command.payload).command
            else {
                continue;
            };
            let Some(table) = table_of(&mut models, registry, &command.target) else {
                continue;
            };
            match &command.kind {
                CommandKind::Set(points) => {
                    for id in points.keys() {
                        if let Some(point) = table.points.iter_mut().find(|p| p.identifier == *id) {
                            point.set += 1;
                        }
                    }
                }
                CommandKind::Invoke { service, .. } => {
                    let Some(invoked) =
                        table.services.iter_mut().find(|s| s.identifier == *service)
                    else {
                        continue;
                    };
                    invoked.invoked += 1;
                    let data = exchange
                        .replies
                        .first()
                        .filter(|r| r.reading.code.is_some_and(|c| c.is_success()))
                        .map(|r| &r.reading.data);
                    if let Some(Value::Object(outputs)) = data {
                        for (id, seen) in &mut invoked.outputs {
                            *seen |= outputs.contains_key(id.as_str());
                        }
                    }
                }
                CommandKind::Get(_) => {}
            }
        }
        Self {
            models: models.into_values().collect(),
        }
    }
}

/// The table of `device`'s model.
fn table_of<'m>(
    models: &'m mut BTreeMap<String, DeviceModel>,
    registry: &Registry,
    device: &DeviceId,
) -> Option<&'m mut DeviceModel> {
    let model = registry.model_of(&device.product_key)?;
    models.get_mut(&model.model_id)
}
