//! The values of chosen points of a device over time, from the requests in the timeline (sent
//! by the window or a suite, or watched), drawn with egui_plot.

use serde_json::Value;

use crate::model::{DataType, Registry};
use crate::protocol::DeviceId;
use crate::runner::watch::{element_device, elements};

use super::timeline_panel::clock;
use crate::history::{RowKind, Timeline};

/// One chosen point and its samples.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub point: String,
    /// `[epoch s, value]`, in time order.
    pub samples: Vec<[f64; 2]>,
}

/// The chosen device and points, and the samples found so far.
#[derive(Default)]
pub struct PlotView {
    device: Option<DeviceId>,
    series: Vec<Series>,
    /// The number of the next row to read, so that each row is read once.
    scanned: usize,
    /// The timeline's first row when last read: it moves on when the timeline is cleared.
    first: usize,
}

impl PlotView {
    /// The chosen points with their samples, in the order chosen.
    pub fn series(&self) -> &[Series] {
        &self.series
    }
}

/// Draws the chooser and the plot.
pub fn plot_ui(ui: &mut egui::Ui, timeline: &Timeline, view: &mut PlotView, registry: &Registry) {
    let PlotView {
        device,
        series,
        scanned,
        first,
    } = view;
    let before_device = device.clone();
    let before_points: Vec<String> = series.iter().map(|s| s.point.clone()).collect();
    ui.horizontal(|ui| {
        let mut devices: Vec<&DeviceId> = registry.devices.keys().collect();
        devices.sort_by_key(|d| d.to_string());
        let label = ui.label("Device");
        egui::ComboBox::from_id_salt("plot-device")
            .selected_text(
                device
                    .as_ref()
                    .map_or("choose a device".to_owned(), ToString::to_string),
            )
            .show_ui(ui, |ui| {
                for d in devices {
                    ui.selectable_value(device, Some(d.clone()), d.to_string());
                }
            })
            .response
            .labelled_by(label.id);
        let plottable: Vec<String> = device
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
        // Stays open while points are ticked, until a click outside it.
        let config = egui::containers::menu::MenuConfig::new()
            .close_behavior(egui::PopupCloseBehavior::CloseOnClickOutside);
        egui::containers::menu::MenuButton::new("Points")
            .config(config)
            .ui(ui, |ui| {
                if plottable.is_empty() {
                    ui.weak("choose a device with numeric points first");
                }
                for point in &plottable {
                    let mut chosen = series.iter().any(|s| s.point == *point);
                    if ui.checkbox(&mut chosen, point).changed() {
                        if chosen {
                            series.push(Series {
                                point: point.clone(),
                                samples: Vec::new(),
                            });
                        } else {
                            series.retain(|s| s.point != *point);
                        }
                    }
                }
            });
        let samples: usize = series.iter().map(|s| s.samples.len()).sum();
        ui.weak(match series.len() {
            0 => "no point chosen".to_owned(),
            1 => format!("{samples} samples sent"),
            n => format!("{n} points, {samples} samples sent"),
        });
    });
    if *device != before_device {
        // Another device's model: keep only the points it has too.
        let model = device
            .as_ref()
            .and_then(|d| registry.model_of(&d.product_key));
        series.retain(|s| model.is_some_and(|m| m.point(&s.point).is_some()));
    }
    let points_now: Vec<&str> = series.iter().map(|s| s.point.as_str()).collect();
    if *device != before_device || points_now != before_points || timeline.first() != *first {
        for s in series.iter_mut() {
            s.samples.clear();
        }
        *first = timeline.first();
        *scanned = *first;
    }
    if let Some(device) = device.as_ref()
        && !series.is_empty()
    {
        scan(timeline, series, *scanned, device);
    }
    *scanned = timeline.end();
    egui_plot::Plot::new("values")
        .x_axis_label("time (UTC)")
        .x_axis_formatter(|mark, _range| {
            let clock = clock_of_seconds(mark.value);
            // Milliseconds only when the marks are closer than a second.
            if mark.step_size >= 1.0 {
                clock.get(..8).unwrap_or(&clock).to_owned()
            } else {
                clock
            }
        })
        .label_formatter(|hover| {
            let (name, point) = match hover {
                egui_plot::HoverPosition::NearDataPoint {
                    plot_name,
                    position,
                    ..
                } => (*plot_name, position),
                egui_plot::HoverPosition::Elsewhere { position } => ("", position),
            };
            Some(format!(
                "{name}\n{}\n{}",
                clock_of_seconds(point.x),
                point.y
            ))
        })
        .legend(egui_plot::Legend::default())
        .show(ui, |plot| {
            for (i, s) in series.iter().enumerate() {
                // The line and its samples in one colour, so that they read as one series.
                let color = PALETTE[i % PALETTE.len()];
                let points = egui_plot::PlotPoints::from(s.samples.clone());
                plot.line(egui_plot::Line::new(s.point.clone(), points).color(color));
                let points = egui_plot::PlotPoints::from(s.samples.clone());
                plot.points(
                    egui_plot::Points::new(s.point.clone(), points)
                        .color(color)
                        .radius(3.0),
                );
            }
        });
}

/// One colour per chosen point, told apart on a dark background.
const PALETTE: [egui::Color32; 6] = [
    egui::Color32::from_rgb(90, 170, 255),
    egui::Color32::from_rgb(255, 160, 60),
    egui::Color32::from_rgb(110, 210, 120),
    egui::Color32::from_rgb(230, 100, 200),
    egui::Color32::from_rgb(240, 220, 90),
    egui::Color32::from_rgb(160, 140, 255),
];

/// `HH:MM:SS.mmm` (UTC) of a time in epoch seconds.
fn clock_of_seconds(seconds: f64) -> String {
    clock((seconds * 1000.0).round() as i64)
}

/// Reads rows from number `first` on for samples of each series' point sent for `device`.
fn scan(timeline: &Timeline, series: &mut [Series], first: usize, device: &DeviceId) {
    let mut added = false;
    for index in first.max(timeline.first())..timeline.end() {
        let Some(row) = timeline.row(index) else {
            break;
        };
        if !matches!(row.kind, RowKind::Request | RowKind::Watched) {
            continue;
        }
        // A row names the first device of its message; an element may name another.
        let Some(json) = timeline.json(row) else {
            continue;
        };
        // Off the protocol's topics only elements that name their device count.
        let topic_device = crate::protocol::parse_topic(timeline.topic(row))
            .map_or_else(|| DeviceId::new("", ""), |t| t.device);
        // A batch's params are a list of elements; a single post's are one element.
        for element in elements(&json) {
            if element_device(element, &topic_device) != *device {
                continue;
            }
            let t = element
                .get("time")
                .and_then(Value::as_i64)
                .unwrap_or(row.at.0) as f64
                / 1000.0;
            let Some(points) = element.get("measurepoints") else {
                continue;
            };
            for s in series.iter_mut() {
                if let Some(y) = points.get(&s.point).and_then(number_of) {
                    s.samples.push([t, y]);
                    added = true;
                }
            }
        }
    }
    if added {
        for s in series.iter_mut() {
            s.samples.sort_by(|a, b| a[0].total_cmp(&b[0]));
        }
    }
}

/// A point's value as a number: the value itself or the `value` of `{value, quality}`.
fn number_of(value: &Value) -> Option<f64> {
    let value = value.get("value").unwrap_or(value);
    match value {
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_are_read_bare_or_with_quality() {
        assert_eq!(number_of(&json!(2.5)), Some(2.5));
        assert_eq!(number_of(&json!({"value": 7, "quality": 1})), Some(7.0));
        assert_eq!(number_of(&json!(true)), Some(1.0));
        assert_eq!(number_of(&json!("1.25")), Some(1.25));
        assert_eq!(number_of(&json!("hot")), None);
    }

    #[test]
    fn a_batch_and_a_single_post_both_give_samples() {
        use crate::history::NewRow;
        let mut timeline = Timeline::default();
        let gw = DeviceId::new("gwPk", "gw01");
        let inv = DeviceId::new("invPk", "inv01");
        let batch = json!({"id": "1", "params": [
            {"productKey": "invPk", "deviceKey": "inv01", "time": 2000,
             "measurepoints": {"Power": {"value": 4.5, "quality": 0}}},
            {"time": 3000, "measurepoints": {"cpuLoad": 7}}]});
        let post = json!({"id": "2", "params": {"time": 1000, "measurepoints": {"cpuLoad": 3.5}}});
        for (topic, payload) in [
            ("/sys/gwPk/gw01/thing/measurepoint/post/batch", batch),
            ("/sys/gwPk/gw01/thing/measurepoint/post", post),
        ] {
            timeline.push(
                crate::protocol::EpochMs(0),
                RowKind::Request,
                NewRow {
                    device: Some(&inv),
                    topic,
                    payload: payload.to_string().as_bytes(),
                    ..NewRow::default()
                },
            );
        }
        let mut series = vec![Series {
            point: "cpuLoad".into(),
            samples: Vec::new(),
        }];
        scan(&timeline, &mut series, 0, &gw);
        assert_eq!(series[0].samples, [[1.0, 3.5], [3.0, 7.0]], "in time order");
        let mut series = vec![Series {
            point: "Power".into(),
            samples: Vec::new(),
        }];
        scan(&timeline, &mut series, 0, &inv);
        assert_eq!(series[0].samples, [[2.0, 4.5]]);
    }
}
