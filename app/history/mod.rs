//! The traffic history: every row the window saw, stored compactly (payloads kept once in a
//! compressed arena, decoded on demand), the rows that pass the filter kept up as rows arrive,
//! and exports with credentials masked.

mod arena;
mod export;
mod filter;
mod rows;
mod scan;
mod synthetic;

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;

use crate::protocol::{DeviceId, EpochMs, ReplyCode};

pub use export::{ExportError, ExportJob, Exported, mask_secrets};
pub use filter::Filter;
pub use rows::{Direction, NewRow, Row, RowKind};
pub use scan::SCAN_BUDGET;
pub use synthetic::synthetic;

use arena::Arena;
use filter::Query;
use rows::{NO_ROW, NO_SYM, Sym, code_i32, code_u16, rtt_u32};

/// Every row, in arrival order.
///
/// Rows are numbered from the first one ever pushed, and a number is never reused: after a
/// clear, a number kept from before it (by a request waiting for its reply, by watch mode)
/// names no row instead of a new one.
#[derive(Default)]
pub struct Timeline {
    /// Rows cleared away: the number of the first row in `rows`.
    base: usize,
    rows: Vec<Row>,
    arena: Arena,
    notes: Vec<Box<str>>,
    symbols: Vec<String>,
    symbol_of: HashMap<String, Sym>,
    /// The symbols that name a row's device, in the order first seen.
    devices: Vec<Sym>,
    /// By symbol: whether it is in `devices`.
    is_device: Vec<bool>,
    filter: Filter,
    /// Rows that pass `filter`, ascending, among the first `scanned`; `None` when the filter
    /// is empty (all rows).
    matching: Option<Vec<u32>>,
    /// Rows matched against `filter` so far; the rest wait for [`Timeline::scan_for`].
    scanned: usize,
    /// `filter`, made ready.
    query: Query,
}

impl Timeline {
    /// Number of rows stored.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True with no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The number of the oldest row kept (0 until the timeline is cleared).
    pub fn first(&self) -> usize {
        self.base
    }

    /// The number the next row will get.
    pub fn end(&self) -> usize {
        self.base + self.rows.len()
    }

    /// Row number `index`, unless it was cleared away.
    pub fn row(&self, index: usize) -> Option<&Row> {
        self.rows.get(index.checked_sub(self.base)?)
    }

    /// Drops every row; their numbers are not given again.
    pub fn clear(&mut self) {
        let filter = std::mem::take(&mut self.filter);
        let base = self.end();
        *self = Self::default();
        self.base = base;
        self.set_filter(filter);
    }

    fn intern(&mut self, text: &str) -> Sym {
        if let Some(sym) = self.symbol_of.get(text) {
            return *sym;
        }
        let sym = self.symbols.len() as Sym;
        self.symbols.push(text.to_owned());
        self.symbol_of.insert(text.to_owned(), sym);
        self.query.learn_symbol(sym, text, &self.filter);
        sym
    }

    fn intern_device(&mut self, device: &DeviceId) -> Sym {
        let sym = self.intern(&device.to_string());
        let seen = self.is_device.len().max(sym as usize + 1);
        self.is_device.resize(seen, false);
        if !std::mem::replace(&mut self.is_device[sym as usize], true) {
            self.devices.push(sym);
        }
        sym
    }

    /// Appends a row and returns its number.
    pub fn push(&mut self, at: EpochMs, kind: RowKind, new: NewRow<'_>) -> usize {
        let device = match new.device {
            Some(d) => self.intern_device(d),
            None => NO_SYM,
        };
        let topic = if new.topic.is_empty() {
            NO_SYM
        } else {
            self.intern(new.topic)
        };
        let row = Row {
            at,
            kind,
            device,
            topic,
            code: code_i32(new.code),
            predicted: code_u16(new.predicted),
            rtt_us: rtt_u32(new.rtt),
            partner: new.partner.map_or(NO_ROW, |p| p as u32),
            payload: self.arena.store(new.payload),
            note: if new.note.is_empty() {
                NO_ROW
            } else {
                self.notes.push(new.note.into());
                (self.notes.len() - 1) as u32
            },
        };
        let index = self.rows.len();
        self.rows.push(row);
        // While a scan is under way, it reaches this row in its turn.
        if self.matching.is_some() && self.scanned == index {
            let passes = self.passes(index);
            self.scanned = index + 1;
            if passes && let Some(matching) = &mut self.matching {
                matching.push(index as u32);
            }
        }
        self.base + index
    }

    /// Records the answer to the request at `request`: its code, round trip and partner.
    pub fn answer(
        &mut self,
        request: usize,
        partner: usize,
        code: Option<ReplyCode>,
        rtt: Option<Duration>,
    ) {
        let Some(request) = request.checked_sub(self.base) else {
            return;
        };
        if let Some(row) = self.rows.get_mut(request) {
            row.partner = partner as u32;
            row.code = code_i32(code);
            row.rtt_us = rtt_u32(rtt);
        }
        // A request that now has a code may now pass a code filter (a scan under way has yet
        // to reach it, or will see its code when it does).
        if self.filter.code.is_some()
            && request < self.scanned
            && self.passes(request)
            && let Some(matching) = &mut self.matching
            && let Err(at) = matching.binary_search(&(request as u32))
        {
            matching.insert(at, request as u32);
        }
    }

    /// The reply code of a row (a reply, or a request once answered), whatever its size: a code
    /// too wide for the row is read again from the reply.
    pub fn code(&self, row: &Row) -> Option<ReplyCode> {
        if !row.has_wide_code() {
            return row.code();
        }
        let reply = match row.kind {
            RowKind::Request | RowKind::Watched | RowKind::Command => self.row(row.partner()?)?,
            _ => row,
        };
        self.arena.with(reply.payload, |bytes| {
            crate::protocol::parse_reply(bytes).ok().map(|r| r.code)
        })
    }

    /// The device of a row, as `"pk/dk"`.
    pub fn device(&self, row: &Row) -> Option<&str> {
        self.symbols.get(row.device as usize).map(String::as_str)
    }

    /// The topic of a row.
    pub fn topic(&self, row: &Row) -> &str {
        self.symbols
            .get(row.topic as usize)
            .map_or("", String::as_str)
    }

    /// The payload of a row, as received (a copy, when its chunk is compressed).
    pub fn payload(&self, row: &Row) -> Vec<u8> {
        self.arena.with(row.payload, <[u8]>::to_vec)
    }

    /// The note of a row.
    pub fn note(&self, row: &Row) -> &str {
        self.notes.get(row.note as usize).map_or("", |n| n)
    }

    /// The payload decoded as JSON, when it is.
    pub fn json(&self, row: &Row) -> Option<Value> {
        self.arena
            .with(row.payload, |bytes| serde_json::from_slice(bytes).ok())
    }

    /// Bytes of memory the rows and payloads take, roughly.
    pub fn memory(&self) -> usize {
        self.rows.capacity() * std::mem::size_of::<Row>()
            + self.arena.size()
            + self.notes.iter().map(|n| n.len() + 16).sum::<usize>()
    }

    /// The message id in the payload.
    pub fn msg_id(&self, row: &Row) -> Option<String> {
        let value = self.json(row)?;
        match value.get("id")? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// Every device seen, for the device filter.
    pub fn devices(&self) -> impl Iterator<Item = &str> {
        self.devices
            .iter()
            .filter_map(|s| self.symbols.get(*s as usize).map(String::as_str))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn sample() -> Timeline {
        let mut t = Timeline::default();
        let inv = DeviceId::new("invPk", "inv01");
        let meter = DeviceId::new("meterPk", "meter01");
        for (i, device) in [&inv, &meter, &inv].into_iter().enumerate() {
            let request = t.push(
                EpochMs(i as i64),
                RowKind::Request,
                NewRow {
                    device: Some(device),
                    topic: "/sys/gwPk/gw01/thing/measurepoint/post/batch",
                    payload: format!("{{\"id\":\"{i}\",\"params\":[]}}").as_bytes(),
                    ..NewRow::default()
                },
            );
            let code = ReplyCode(if i == 1 { 1204 } else { 200 });
            let reply = t.push(
                EpochMs(i as i64),
                RowKind::Reply,
                NewRow {
                    device: Some(device),
                    topic: "/sys/gwPk/gw01/thing/measurepoint/post/batch_reply",
                    payload: b"{\"code\":200}",
                    code: Some(code),
                    rtt: Some(Duration::from_micros(400)),
                    partner: Some(request),
                    ..NewRow::default()
                },
            );
            t.answer(request, reply, Some(code), Some(Duration::from_micros(400)));
        }
        t
    }

    #[test]
    fn a_row_stays_48_bytes() {
        assert_eq!(std::mem::size_of::<Row>(), 48);
    }

    #[test]
    fn a_reply_code_of_any_sign_or_size_is_shown_as_sent() {
        let wide = 1_i64 << 40;
        for code in [-1, 0, 65_536, 2_000_000_000, -2_147_483_646, wide, i64::MIN] {
            let mut t = Timeline::default();
            let topic = "/sys/gwPk/gw01/thing/measurepoint/post/batch";
            let request = t.push(
                EpochMs(1),
                RowKind::Request,
                NewRow {
                    topic,
                    payload: b"{\"id\":\"1\"}",
                    ..NewRow::default()
                },
            );
            let payload = format!(r#"{{"id":"1","code":{code}}}"#);
            let reply = t.push(
                EpochMs(2),
                RowKind::Reply,
                NewRow {
                    topic: "/sys/gwPk/gw01/thing/measurepoint/post/batch_reply",
                    payload: payload.as_bytes(),
                    code: Some(ReplyCode(code)),
                    partner: Some(request),
                    ..NewRow::default()
                },
            );
            t.answer(request, reply, Some(ReplyCode(code)), None);
            for index in [request, reply] {
                let row = t.row(index).copied().expect("row");
                assert_eq!(t.code(&row), Some(ReplyCode(code)), "{code} at row {index}");
            }
            let line = t.export_line(reply).expect("line");
            assert!(line.contains(&format!("\"code\":{code},")), "{line}");
            if code.unsigned_abs() < 1 << 31 {
                t.set_filter(Filter {
                    code: Some(code),
                    ..Filter::default()
                });
                assert_eq!(t.visible_len(), 2, "the code filter finds {code}");
            }
        }
    }

    #[test]
    fn numbers_from_before_a_clear_name_no_row() {
        let mut t = sample();
        let old_request = 4;
        assert!(t.row(old_request).is_some());
        let code = Some(ReplyCode(1204));
        t.set_filter(Filter {
            code: Some(1204),
            ..Filter::default()
        });
        t.clear();
        assert_eq!((t.len(), t.first(), t.end()), (0, 6, 6));
        let device = DeviceId::new("invPk", "inv09");
        let fresh = t.push(
            EpochMs(9),
            RowKind::Request,
            NewRow {
                device: Some(&device),
                topic: "/sys/gwPk/gw01/thing/measurepoint/post/batch",
                payload: b"{\"id\":\"9\"}",
                ..NewRow::default()
            },
        );
        assert_eq!(fresh, 6, "numbers go on from where the cleared rows ended");
        // A late reply to a request from before the clear changes nothing.
        t.answer(old_request, 5, code, None);
        assert!(t.row(old_request).is_none());
        assert_eq!(t.row(fresh).and_then(Row::code), None);
        assert_eq!(
            t.visible_len(),
            0,
            "the kept code filter lets no row through"
        );
        t.answer(fresh, 7, code, None);
        assert_eq!((t.visible_len(), t.visible(0)), (1, Some(fresh)));
        assert_eq!(t.position_of(fresh), Some(0));
        assert!(t.export_jsonl().contains("\"code\":1204"));
    }

    #[test]
    fn the_devices_are_listed_once_each_in_the_order_first_seen() {
        let mut t = synthetic(1_000);
        let events = t.push(EpochMs(0), RowKind::Connected, NewRow::default());
        assert_eq!(t.row(events).map(|r| r.device), Some(NO_SYM));
        t.push(
            EpochMs(0),
            RowKind::Request,
            NewRow {
                device: Some(&DeviceId::new("other", "dev")),
                topic: "not/a/device",
                ..NewRow::default()
            },
        );
        assert_eq!(
            t.devices().collect::<Vec<_>>(),
            [
                "invPk/inv00",
                "invPk/inv01",
                "invPk/inv02",
                "invPk/inv03",
                "other/dev"
            ]
        );
    }

    #[test]
    fn an_answer_moves_a_request_into_a_code_filter() {
        let mut t = Timeline::default();
        t.set_filter(Filter {
            code: Some(200),
            ..Filter::default()
        });
        let request = t.push(EpochMs(1), RowKind::Request, NewRow::default());
        assert_eq!(t.visible_len(), 0);
        let reply = t.push(
            EpochMs(2),
            RowKind::Reply,
            NewRow {
                code: Some(ReplyCode(200)),
                partner: Some(request),
                ..NewRow::default()
            },
        );
        t.answer(request, reply, Some(ReplyCode(200)), None);
        assert_eq!(t.visible_len(), 2);
        assert_eq!(t.visible(0), Some(request));
        assert_eq!(t.row(request).and_then(Row::partner), Some(reply));
    }
}
