//! Made-up traffic for benchmarks and `--demo-rows`: a timeline of any size, shaped like a
//! gateway's batches.

use std::time::Duration;

use serde_json::Value;

use crate::protocol::{DeviceId, EpochMs, ReplyCode};

use super::Timeline;
use super::rows::{NewRow, RowKind};

/// A timeline of `rows` synthetic rows: batch requests of ten quality points from four
/// devices, each followed by its reply, one in fifty a 1204. For benchmarks and `--demo-rows`.
pub fn synthetic(rows: usize) -> Timeline {
    let mut timeline = Timeline::default();
    let devices: Vec<DeviceId> = (0..4)
        .map(|i| DeviceId::new("invPk", format!("inv{i:02}")))
        .collect();
    let topic = "/sys/gwPk/gw01/thing/measurepoint/post/batch";
    let reply_topic = "/sys/gwPk/gw01/thing/measurepoint/post/batch_reply";
    for n in 0..rows.div_ceil(2) {
        let device = &devices[n % devices.len()];
        let points: serde_json::Map<String, Value> = (0..10)
            .map(|p| {
                let value =
                    serde_json::json!({"value": n as f64 / 4.0 + p as f64, "quality": p % 10});
                (format!("point{p}"), value)
            })
            .collect();
        let at = EpochMs(1_700_000_000_000 + n as i64);
        let request = serde_json::json!({"id": n.to_string(), "version": "1.0",
            "method": "thing.measurepoint.post.batch",
            "params": [{"productKey": "invPk", "deviceKey": device.device_key.0, "time": at.0,
                        "measurepoints": points}]});
        let code = if n % 50 == 0 {
            ReplyCode(1204)
        } else {
            ReplyCode(200)
        };
        let row = timeline.push(
            at,
            RowKind::Request,
            NewRow {
                device: Some(device),
                topic,
                payload: &serde_json::to_vec(&request).unwrap_or_default(),
                predicted: Some(code),
                ..NewRow::default()
            },
        );
        if timeline.len() == rows {
            break;
        }
        let reply = serde_json::json!({"id": n.to_string(), "code": code.0, "data": {}});
        let rtt = Duration::from_micros(400);
        let reply_row = timeline.push(
            at,
            RowKind::Reply,
            NewRow {
                device: Some(device),
                topic: reply_topic,
                payload: &serde_json::to_vec(&reply).unwrap_or_default(),
                code: Some(code),
                rtt: Some(rtt),
                partner: Some(row),
                ..NewRow::default()
            },
        );
        timeline.answer(row, reply_row, Some(code), Some(rtt));
    }
    timeline
}
