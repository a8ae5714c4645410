//! The rows shown, as JSON Lines with credentials masked: for a file a user can attach to a
//! bug report without leaking a device's secret.

use serde_json::Value;

use super::Timeline;

impl Timeline {
    /// Row number `index` as one JSON line, with credentials masked.
    pub fn export_line(&self, index: usize) -> Option<String> {
        let row = self.row(index)?;
        let mut obj = serde_json::Map::new();
        obj.insert("at".into(), Value::from(row.at.0));
        obj.insert("kind".into(), Value::from(row.kind.name()));
        if let Some(device) = self.device(row) {
            obj.insert("device".into(), Value::from(device));
        }
        if !self.topic(row).is_empty() {
            obj.insert("topic".into(), Value::from(self.topic(row)));
        }
        if let Some(code) = row.code() {
            obj.insert("code".into(), Value::from(code.0));
        }
        if let Some(code) = row.predicted() {
            obj.insert("predicted".into(), Value::from(code.0));
        }
        if let Some(rtt) = row.rtt() {
            obj.insert("rttMs".into(), Value::from(rtt.as_secs_f64() * 1000.0));
        }
        if let Some(partner) = row.partner() {
            obj.insert("partner".into(), Value::from(partner));
        }
        let payload = self.payload(row);
        if !payload.is_empty() {
            match serde_json::from_slice::<Value>(&payload) {
                Ok(mut json) => {
                    mask_secrets(&mut json);
                    obj.insert("payload".into(), json);
                }
                Err(_) => {
                    obj.insert(
                        "raw".into(),
                        Value::from(String::from_utf8_lossy(&payload).into_owned()),
                    );
                }
            }
        }
        if !self.note(row).is_empty() {
            obj.insert("note".into(), Value::from(self.note(row)));
        }
        serde_json::to_string(&Value::Object(obj)).ok()
    }

    /// The visible rows as JSON Lines; the rows a scan under way has not reached yet are
    /// matched here, so that every row that passes the filter is in.
    pub fn export_jsonl(&self) -> String {
        let unscanned = match &self.matching {
            Some(_) => self.scan_rows(self.scanned..self.rows.len()),
            None => Vec::new(),
        };
        let visible = (0..self.visible_len()).filter_map(|n| self.visible(n));
        let mut out = String::new();
        let unscanned = unscanned.iter().map(|&i| self.base + i as usize);
        for index in visible.chain(unscanned) {
            if let Some(line) = self.export_line(index) {
                out.push_str(&line);
                out.push('\n');
            }
        }
        out
    }
}

/// Replaces credentials (a login's `sign`, any `password` or `secret`) with `"***"`.
pub fn mask_secrets(value: &mut Value) {
    match value {
        Value::Object(obj) => {
            for (key, v) in obj.iter_mut() {
                if matches!(
                    key.as_str(),
                    "sign" | "password" | "secret" | "deviceSecret"
                ) {
                    *v = Value::from("***");
                } else {
                    mask_secrets(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_secrets),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use crate::history::{NewRow, RowKind};
    use crate::protocol::EpochMs;

    use super::*;

    #[test]
    fn export_masks_credentials_and_keeps_raw_payloads() {
        let mut t = Timeline::default();
        t.push(
            EpochMs(1),
            RowKind::Request,
            NewRow {
                topic: "/ext/session/gwPk/gw01/combine/login",
                payload: br#"{"id":"1","params":{"deviceKey":"inv01","sign":"abcdef0123"}}"#,
                ..NewRow::default()
            },
        );
        t.push(
            EpochMs(2),
            RowKind::Unpaired,
            NewRow {
                payload: b"not json",
                note: "no request with this id",
                ..NewRow::default()
            },
        );
        let out = t.export_jsonl();
        assert!(!out.contains("abcdef0123"), "{out}");
        assert!(out.contains("\"sign\":\"***\""));
        let lines: Vec<Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1]["raw"], "not json");
        assert_eq!(lines[1]["kind"], "unpaired reply");
        assert_eq!(t.msg_id(t.row(0).unwrap()).as_deref(), Some("1"));
    }
}
