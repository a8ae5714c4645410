//! The plot's data: the chosen device and points, and their samples, read from the requests in
//! the timeline a slice at a time so that a long history never stalls a frame.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::history::{RowKind, Timeline};
use crate::model::{DataType, Registry};
use crate::protocol::DeviceId;

/// One chosen point and its samples.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub point: String,
    /// `[epoch s, value]`, in time order.
    pub samples: Vec<[f64; 2]>,
}

/// How long one frame may spend reading rows for the plot.
pub const PLOT_BUDGET: Duration = Duration::from_millis(4);

/// The chosen device and points, and the samples found so far.
#[derive(Default)]
pub struct PlotCtl {
    device: Option<DeviceId>,
    series: Vec<Series>,
    /// The number of the next row to read, so that each row is read once.
    scanned: usize,
    /// The timeline's first row when last read: it moves on when the timeline is cleared.
    first: usize,
}

impl PlotCtl {
    /// The chosen points with their samples, in the order chosen.
    pub fn series(&self) -> &[Series] {
        &self.series
    }

    /// The chosen device.
    pub fn device(&self) -> Option<&DeviceId> {
        self.device.as_ref()
    }

    /// Chooses another device: only the points its model has too stay chosen.
    pub fn set_device(&mut self, device: DeviceId, registry: &Registry) {
        if self.device.as_ref() == Some(&device) {
            return;
        }
        let model = registry.model_of(&device.product_key);
        self.series
            .retain(|s| model.is_some_and(|m| m.point(&s.point).is_some()));
        self.device = Some(device);
        self.restart();
    }

    /// Chooses or drops a point.
    pub fn set_point(&mut self, point: &str, chosen: bool) {
        if chosen {
            if !self.series.iter().any(|s| s.point == point) {
                self.series.push(Series {
                    point: point.to_owned(),
                    samples: Vec::new(),
                });
            }
        } else {
            self.series.retain(|s| s.point != point);
        }
        self.restart();
    }

    /// The points of the chosen device's model that can be drawn.
    pub fn plottable(&self, registry: &Registry) -> Vec<String> {
        self.device
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
            .unwrap_or_default()
    }

    /// Reads the timeline from the start again.
    fn restart(&mut self) {
        for s in &mut self.series {
            s.samples.clear();
        }
        self.scanned = self.first;
    }

    /// Reads the rows added since the last call, for at most `budget`; returns true when it
    /// has read them all.
    pub fn update(&mut self, timeline: &Timeline, budget: Duration) -> bool {
        if timeline.first() != self.first {
            self.first = timeline.first();
            self.restart();
        }
        let Some(device) = self.device.clone() else {
            self.scanned = timeline.end();
            return true;
        };
        if self.series.is_empty() {
            self.scanned = timeline.end();
            return true;
        }
        let started = Instant::now();
        let mut added = false;
        let start = self.scanned.max(timeline.first());
        let mut index = start;
        while index < timeline.end() {
            // The clock is read every few rows (it costs more than a skipped row), and only after
            // some progress, so that every frame moves on.
            if index > start && (index - start).is_multiple_of(64) && started.elapsed() >= budget {
                break;
            }
            added |= read_row(timeline, index, &mut self.series, &device);
            index += 1;
        }
        self.scanned = index;
        if added {
            for s in &mut self.series {
                s.samples.sort_by(|a, b| a[0].total_cmp(&b[0]));
            }
        }
        index >= timeline.end()
    }
}

/// Reads row `index` for samples of each series' point sent for `device`.
fn read_row(timeline: &Timeline, index: usize, series: &mut [Series], device: &DeviceId) -> bool {
    let Some(row) = timeline.row(index) else {
        return false;
    };
    if !matches!(row.kind, RowKind::Request | RowKind::Watched | RowKind::Dut) {
        return false;
    }
    // A row names the first device of its message; an element may name another. Off the
    // protocol's topics the view has no elements.
    let view = crate::model::view(timeline.topic(row), &timeline.payload(row));
    let mut added = false;
    for element in view.elements.iter().filter(|e| e.device == *device) {
        let t = element.time.map_or(row.at.0, |t| t.0) as f64 / 1000.0;
        for s in series.iter_mut() {
            if let Some(y) = element.points.get(&s.point).and_then(number_of) {
                s.samples.push([t, y]);
                added = true;
            }
        }
    }
    added
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
    use crate::history::NewRow;
    use serde_json::json;

    #[test]
    fn values_are_read_bare_or_with_quality() {
        assert_eq!(number_of(&json!(2.5)), Some(2.5));
        assert_eq!(number_of(&json!({"value": 7, "quality": 1})), Some(7.0));
        assert_eq!(number_of(&json!(true)), Some(1.0));
        assert_eq!(number_of(&json!("1.25")), Some(1.25));
        assert_eq!(number_of(&json!("hot")), None);
    }

    fn timeline_with_a_batch_and_a_post() -> Timeline {
        let mut timeline = Timeline::default();
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
        timeline
    }

    #[test]
    fn a_batch_and_a_single_post_both_give_samples() {
        let timeline = timeline_with_a_batch_and_a_post();
        let registry = Registry::new();
        let mut plot = PlotCtl::default();
        plot.set_device(DeviceId::new("gwPk", "gw01"), &registry);
        plot.set_point("cpuLoad", true);
        assert!(plot.update(&timeline, Duration::from_secs(10)));
        assert_eq!(
            plot.series()[0].samples,
            [[1.0, 3.5], [3.0, 7.0]],
            "in time order"
        );
        let mut plot = PlotCtl::default();
        plot.set_device(DeviceId::new("invPk", "inv01"), &registry);
        plot.set_point("Power", true);
        plot.update(&timeline, Duration::from_secs(10));
        assert_eq!(plot.series()[0].samples, [[2.0, 4.5]]);
    }

    #[test]
    fn rows_are_read_once_and_again_after_a_clear() {
        let mut timeline = timeline_with_a_batch_and_a_post();
        let mut plot = PlotCtl::default();
        plot.set_device(DeviceId::new("gwPk", "gw01"), &Registry::new());
        plot.set_point("cpuLoad", true);
        plot.update(&timeline, Duration::from_secs(10));
        plot.update(&timeline, Duration::from_secs(10));
        assert_eq!(plot.series()[0].samples.len(), 2, "no row read twice");
        timeline.clear();
        plot.update(&timeline, Duration::from_secs(10));
        assert!(
            plot.series()[0].samples.is_empty(),
            "a clear empties the plot"
        );
    }

    #[test]
    fn a_zero_budget_still_makes_progress_and_finishes_later() {
        let timeline = timeline_with_a_batch_and_a_post();
        let mut plot = PlotCtl::default();
        plot.set_device(DeviceId::new("gwPk", "gw01"), &Registry::new());
        plot.set_point("cpuLoad", true);
        let mut rounds = 0;
        while !plot.update(&timeline, Duration::ZERO) {
            rounds += 1;
            assert!(rounds < 10, "the scan never ends");
        }
        assert_eq!(plot.series()[0].samples.len(), 2);
    }
}
