//! Finding the rows that pass a new filter: a slice at a time, so that the window can spread a
//! scan of a million rows over several frames, and over several threads when there are many.

use std::time::{Duration, Instant};

use super::Timeline;
use super::arena::ArenaReader;
use super::filter::Query;
use super::rows::Row;

/// Rows below which a scan stays on one thread.
const PARALLEL_SCAN: usize = 32_768;

/// Rows a window's scan takes at a time before it looks at the clock: a few milliseconds even
/// for a text that is in every chunk.
const SCAN_SLICE: usize = 65_536;

/// How long one frame of the window may spend finding the rows of a new filter; the scan goes
/// on in the next frames, and the rows found so far are shown meanwhile.
pub const SCAN_BUDGET: Duration = Duration::from_millis(8);

impl Query {
    /// The rows of `rows` (numbered from `first`) that pass, read through their own cache.
    pub(super) fn scan(
        &self,
        rows: &[Row],
        first: usize,
        arena: ArenaReader<'_>,
        notes: &[Box<str>],
    ) -> Vec<u32> {
        let mut cache = None;
        let mut found = Vec::new();
        for (i, row) in rows.iter().enumerate() {
            let note = notes.get(row.note as usize).map_or("", |n| n);
            if self.passes_in(row, note, arena, &mut cache) {
                found.push((first + i) as u32);
            }
        }
        found
    }
}

impl Timeline {
    /// Goes on finding the rows that pass the filter for about `budget`, or to the end with
    /// `None`; true once every row has been matched.
    pub fn scan_for(&mut self, budget: Option<Duration>) -> bool {
        let Some(budget) = budget else {
            return self.scan_slice(usize::MAX);
        };
        let started = Instant::now();
        while !self.scan_slice(SCAN_SLICE) {
            if started.elapsed() >= budget {
                return false;
            }
        }
        true
    }

    /// How far the scan for the filter has got, from 0 to 1, while it is under way.
    pub fn scan_progress(&self) -> Option<f32> {
        (self.matching.is_some() && self.scanned < self.rows.len())
            .then(|| self.scanned as f32 / self.rows.len() as f32)
    }

    /// Matches the next `rows` rows against the filter; true when none is left.
    pub(super) fn scan_slice(&mut self, rows: usize) -> bool {
        if self.matching.is_none() || self.scanned >= self.rows.len() {
            return true;
        }
        let end = self.scanned.saturating_add(rows).min(self.rows.len());
        let found = self.scan_rows(self.scanned..end);
        match &mut self.matching {
            Some(matching) if !matching.is_empty() => matching.extend(found),
            matching => *matching = Some(found),
        }
        self.scanned = end;
        end == self.rows.len()
    }

    /// The rows in `range` that pass the filter, scanned on as many threads as there are cores
    /// when there are many: a text filter decompresses every chunk its grams do not rule out.
    pub(super) fn scan_rows(&self, range: std::ops::Range<usize>) -> Vec<u32> {
        let threads = if range.len() < PARALLEL_SCAN {
            1
        } else {
            std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
        };
        self.scan_on(range, threads)
    }

    /// The rows in `range` that pass the filter, scanned on `threads` threads.
    pub(super) fn scan_on(&self, range: std::ops::Range<usize>, threads: usize) -> Vec<u32> {
        let query = &self.query;
        let arena = self.arena.reader();
        let first = range.start;
        let rows = self.rows.get(range).unwrap_or_default();
        let threads = threads.max(1);
        let per_thread = rows.len().div_ceil(threads).max(1);
        std::thread::scope(|scope| {
            let parts: Vec<_> = rows
                .chunks(per_thread)
                .enumerate()
                .map(|(n, rows)| {
                    let notes = &self.notes;
                    scope.spawn(move || query.scan(rows, first + n * per_thread, arena, notes))
                })
                .collect();
            let mut all = Vec::new();
            for part in parts {
                // A scan thread only reads; if one panicked, its rows are simply not listed.
                all.extend(part.join().unwrap_or_default());
            }
            all
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::history::{Filter, NewRow, RowKind, synthetic};
    use crate::protocol::{DeviceId, EpochMs, ReplyCode};

    #[test]
    fn a_scan_in_slices_takes_in_rows_that_arrive_and_are_answered_meanwhile() {
        let mut t = synthetic(5_000);
        let filter = Filter {
            code: Some(1204),
            ..Filter::default()
        };
        t.change_filter(filter.clone());
        assert_eq!(
            t.visible_len(),
            0,
            "nothing is found before the scan starts"
        );
        assert_eq!(t.scan_progress(), Some(0.0));
        // An export does not wait for the scan: 1 exchange in 50 has 1204.
        assert_eq!(t.export_jsonl().lines().count(), 2 * 2_500 / 50);
        let device = DeviceId::new("invPk", "inv00");
        let mut slices = 0;
        let mut waiting = Vec::new();
        while !t.scan_slice(700) {
            slices += 1;
            let progress = t.scan_progress().unwrap_or(1.0);
            assert!(progress > 0.0 && progress < 1.0, "{progress}");
            // Rows arrive behind the scan; requests sent earlier are answered, some with 1204.
            let request = t.push(
                EpochMs(slices),
                RowKind::Request,
                NewRow {
                    device: Some(&device),
                    payload: b"{}",
                    ..NewRow::default()
                },
            );
            waiting.push(request);
            if slices % 2 == 0
                && let Some(request) = waiting.pop()
            {
                let code = ReplyCode(if slices % 4 == 0 { 1204 } else { 200 });
                let reply = t.push(
                    EpochMs(slices),
                    RowKind::Reply,
                    NewRow {
                        device: Some(&device),
                        payload: b"{}",
                        code: Some(code),
                        partner: Some(request),
                        ..NewRow::default()
                    },
                );
                t.answer(request, reply, Some(code), None);
            }
        }
        assert!(slices >= 5, "{slices} slices");
        assert_eq!(t.scan_progress(), None);
        // Rows after the scan are matched as they come, and old requests as they are answered.
        for request in waiting {
            let reply = t.push(
                EpochMs(0),
                RowKind::Reply,
                NewRow {
                    code: Some(ReplyCode(1204)),
                    partner: Some(request),
                    ..NewRow::default()
                },
            );
            t.answer(request, reply, Some(ReplyCode(1204)), None);
        }
        let sliced: Vec<usize> = (0..t.visible_len()).filter_map(|n| t.visible(n)).collect();
        t.set_filter(Filter::default());
        t.set_filter(filter);
        let whole: Vec<usize> = (0..t.visible_len()).filter_map(|n| t.visible(n)).collect();
        assert!(whole.len() > 100, "{} rows", whole.len());
        assert_eq!(sliced, whole);
    }
}
