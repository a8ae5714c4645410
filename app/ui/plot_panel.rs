//! The values of a chosen point over time, from the requests in the timeline (egui_plot).

use serde_json::Value;

use crate::model::{DataType, Registry};
use crate::protocol::DeviceId;

use super::timeline::{RowKind, Timeline};

/// The chosen point and the samples found so far.
#[derive(Default)]
pub struct PlotView {
    device: Option<DeviceId>,
    point: String,
    /// `[epoch s, value]` of every sample sent.
    samples: Vec<[f64; 2]>,
    /// Rows already read, so that new rows are read once.
    scanned: usize,
}

/// Draws the chooser and the plot.
pub fn plot_ui(ui: &mut egui::Ui, timeline: &Timeline, view: &mut PlotView, registry: &Registry) {
    let before = (view.device.clone(), view.point.clone());
    ui.horizontal(|ui| {
        let mut devices: Vec<&DeviceId> = registry.devices.keys().collect();
        devices.sort_by_key(|d| d.to_string());
        let label = ui.label("Device");
        egui::ComboBox::from_id_salt("plot-device")
            .selected_text(
                view.device
                    .as_ref()
                    .map_or("choose a device".to_owned(), ToString::to_string),
            )
            .show_ui(ui, |ui| {
                for device in devices {
                    ui.selectable_value(&mut view.device, Some(device.clone()), device.to_string());
                }
            })
            .response
            .labelled_by(label.id);
        let points: Vec<String> = view
            .device
            .as_ref()
            .and_then(|d| registry.model_of(&d.product_key))
            .map(|m| {
                m.points
                    .iter()
                    .filter(|p| {
                        matches!(
                            p.data_type,
                            DataType::Int
                                | DataType::Float
                                | DataType::Double
                                | DataType::Bool
                                | DataType::Timestamp
                        )
                    })
                    .map(|p| p.identifier.clone())
                    .collect()
            })
            .unwrap_or_default();
        let label = ui.label("Point");
        egui::ComboBox::from_id_salt("plot-point")
            .selected_text(if view.point.is_empty() {
                "choose a point"
            } else {
                view.point.as_str()
            })
            .show_ui(ui, |ui| {
                for point in points {
                    ui.selectable_value(&mut view.point, point.clone(), point);
                }
            })
            .response
            .labelled_by(label.id);
        ui.weak(format!("{} samples sent", view.samples.len()));
    });
    if (view.device.clone(), view.point.clone()) != before || timeline.len() < view.scanned {
        view.samples.clear();
        view.scanned = 0;
    }
    if let Some(device) = view.device.clone() {
        scan(timeline, view, &device);
    }
    let line = egui_plot::Line::new(
        view.point.clone(),
        egui_plot::PlotPoints::from(view.samples.clone()),
    );
    egui_plot::Plot::new("values")
        .x_axis_label("time (s since epoch)")
        .legend(egui_plot::Legend::default())
        .show(ui, |plot| {
            plot.line(line);
            plot.points(
                egui_plot::Points::new(
                    "samples",
                    egui_plot::PlotPoints::from(view.samples.clone()),
                )
                .radius(3.0),
            );
        });
}

/// Reads the rows not read yet for samples of the chosen point.
fn scan(timeline: &Timeline, view: &mut PlotView, device: &DeviceId) {
    let pk = device.product_key.0.as_str();
    let dk = device.device_key.0.as_str();
    for index in view.scanned..timeline.len() {
        let Some(row) = timeline.row(index) else {
            break;
        };
        if row.kind != RowKind::Request {
            continue;
        }
        let Some(json) = timeline.json(row) else {
            continue;
        };
        let Some(params) = json.get("params").and_then(Value::as_array) else {
            continue;
        };
        for element in params {
            let same = element.get("productKey").and_then(Value::as_str) == Some(pk)
                && element.get("deviceKey").and_then(Value::as_str) == Some(dk);
            if !same {
                continue;
            }
            let Some(value) = element
                .get("measurepoints")
                .and_then(|m| m.get(&view.point))
            else {
                continue;
            };
            let value = value.get("value").unwrap_or(value);
            let y = match value {
                Value::Number(n) => n.as_f64(),
                Value::Bool(b) => Some(f64::from(u8::from(*b))),
                Value::String(s) => s.parse().ok(),
                _ => None,
            };
            let t = element
                .get("time")
                .and_then(Value::as_i64)
                .unwrap_or(row.at.0);
            if let Some(y) = y {
                view.samples.push([t as f64 / 1000.0, y]);
            }
        }
    }
    view.scanned = timeline.len();
    view.samples.sort_by(|a, b| a[0].total_cmp(&b[0]));
}
