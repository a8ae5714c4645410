//! What rows to show: the filter as the user sets it, made ready once per change (symbols
//! resolved, the text's searcher, its 4-byte grams), and the list of the rows that pass.

use std::sync::Arc;

use super::Timeline;
use super::arena::ArenaReader;
use super::rows::{Direction, Row, Sym};

/// Bits in a sealed chunk's filter of 4-byte grams: 1 KiB beside each 64 KiB chunk.
pub(super) const GRAM_BITS: usize = 8192;

/// Which 4-byte grams a chunk holds, as a one-hash Bloom filter: a text whose grams are not all
/// there is not in the chunk, and the chunk need not be decompressed to know it. Shared, as
/// the chunks are, with exports under way.
pub(super) type Grams = Arc<[u64; GRAM_BITS / 64]>;

fn gram_bit(gram: &[u8]) -> usize {
    let word = u32::from_le_bytes([gram[0], gram[1], gram[2], gram[3]]);
    (word.wrapping_mul(0x9E37_79B1) >> (32 - GRAM_BITS.trailing_zeros())) as usize
}

pub(super) fn grams_of(bytes: &[u8]) -> Grams {
    let mut bits = Box::new([0_u64; GRAM_BITS / 64]);
    for gram in bytes.windows(4) {
        let bit = gram_bit(gram);
        bits[bit / 64] |= 1 << (bit % 64);
    }
    Arc::from(bits)
}

/// What rows to show.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Filter {
    /// `"pk/dk"`; empty for every device.
    pub device: String,
    /// The reply code rows must have; `None` for any.
    pub code: Option<i64>,
    /// Which way rows must have gone; `None` for any.
    pub direction: Option<Direction>,
    /// Found in the topic, payload or note; case-sensitive.
    pub text: String,
}

impl Filter {
    /// True when the filter lets every row through.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// A filter made ready for a scan: symbols resolved, the text's searcher and grams, and which
/// topics hold the text. Made once per filter change, kept up as symbols are added, and shared
/// by the threads of a scan, and copied for an export's.
#[derive(Clone, Default)]
pub(super) struct Query {
    /// The device's symbol; `None` for every device.
    device: Option<Sym>,
    /// The filter names a device no row has: nothing passes.
    unknown_device: bool,
    code: Option<i64>,
    direction: Option<Direction>,
    /// `None` when there is no text to find.
    pub(super) text: Option<memchr::memmem::Finder<'static>>,
    pub(super) gram_bits: Vec<usize>,
    /// By symbol: whether the text is in it.
    topics: Vec<bool>,
}

impl Query {
    /// Takes in symbol `sym`, just added with `text`, as the filter `filter` sees it.
    pub(super) fn learn_symbol(&mut self, sym: Sym, text: &str, filter: &Filter) {
        if let Some(finder) = &self.text {
            debug_assert_eq!(self.topics.len(), sym as usize);
            self.topics.push(finder.find(text.as_bytes()).is_some());
        }
        if self.unknown_device && text == filter.device {
            self.unknown_device = false;
            self.device = Some(sym);
        }
    }

    /// Whether `row`, with its `note`, passes; `payload_has` looks for the text in its payload.
    pub(super) fn passes(
        &self,
        row: &Row,
        note: &str,
        payload_has: impl FnOnce(&Row) -> bool,
    ) -> bool {
        if self.unknown_device || self.device.is_some_and(|d| row.device != d) {
            return false;
        }
        if let Some(code) = self.code
            && row.code().map(|c| c.0) != Some(code)
        {
            return false;
        }
        if let Some(direction) = self.direction
            && row.kind.direction() != direction
        {
            return false;
        }
        let Some(finder) = &self.text else {
            return true;
        };
        self.topics.get(row.topic as usize) == Some(&true)
            || payload_has(row)
            || finder.find(note.as_bytes()).is_some()
    }

    /// Whether `row` passes, its payload read from `arena` through `cache`.
    pub(super) fn passes_in(
        &self,
        row: &Row,
        note: &str,
        arena: ArenaReader<'_>,
        cache: &mut Option<(u32, Vec<u8>)>,
    ) -> bool {
        self.passes(row, note, |row| {
            self.text.as_ref().is_some_and(|finder| {
                arena.may_hold(row.payload, &self.gram_bits)
                    && arena.with(row.payload, cache, |b| finder.find(b).is_some())
            })
        })
    }
}

impl Timeline {
    /// The active filter.
    pub fn filter(&self) -> &Filter {
        &self.filter
    }

    /// Changes the filter and finds every matching row before it returns.
    pub fn set_filter(&mut self, filter: Filter) {
        self.change_filter(filter);
        self.scan_for(None);
    }

    /// Changes the filter; the matching rows are then found by [`Self::scan_for`], so that the
    /// window can spread a scan of a million rows over several frames.
    pub fn change_filter(&mut self, filter: Filter) {
        if filter == self.filter && (self.matching.is_some() || filter.is_empty()) {
            return;
        }
        self.filter = filter;
        self.query = self.query();
        self.scanned = 0;
        self.matching = (!self.filter.is_empty()).then(Vec::new);
    }

    /// Number of rows that pass the filter.
    pub fn visible_len(&self) -> usize {
        self.matching.as_ref().map_or(self.rows.len(), Vec::len)
    }

    /// The number of the `n`th row that passes the filter.
    pub fn visible(&self, n: usize) -> Option<usize> {
        let local = match &self.matching {
            None => (n < self.rows.len()).then_some(n),
            Some(list) => list.get(n).map(|i| *i as usize),
        };
        local.map(|i| self.base + i)
    }

    /// Where row number `index` sits among the visible rows.
    pub fn position_of(&self, index: usize) -> Option<usize> {
        let index = index.checked_sub(self.base)?;
        match &self.matching {
            None => (index < self.rows.len()).then_some(index),
            Some(list) => list.binary_search(&(index as u32)).ok(),
        }
    }

    /// The filter made ready for a scan.
    fn query(&self) -> Query {
        let filter = &self.filter;
        let text = filter.text.as_bytes();
        let finder = (!text.is_empty()).then(|| memchr::memmem::Finder::new(text).into_owned());
        let topics = finder.as_ref().map_or_else(Vec::new, |finder| {
            self.symbols
                .iter()
                .map(|s| finder.find(s.as_bytes()).is_some())
                .collect()
        });
        let device = (!filter.device.is_empty()).then(|| self.symbol_of.get(&filter.device));
        Query {
            device: device.flatten().copied(),
            unknown_device: device.is_some_and(|sym| sym.is_none()),
            code: filter.code,
            direction: filter.direction,
            text: finder,
            gram_bits: text.windows(4).map(gram_bit).collect(),
            topics,
        }
    }

    /// Whether local row `index` passes; for single rows as they come.
    pub(super) fn passes(&self, index: usize) -> bool {
        let Some(row) = self.rows.get(index) else {
            return false;
        };
        let query = &self.query;
        query.passes(row, self.note(row), |row| {
            query.text.as_ref().is_some_and(|finder| {
                self.arena.reader().may_hold(row.payload, &query.gram_bits)
                    && self.arena.with(row.payload, |b| finder.find(b).is_some())
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::history::tests::sample;
    use crate::history::{NewRow, RowKind, synthetic};
    use crate::protocol::{DeviceId, EpochMs};

    use super::*;

    #[test]
    fn filters_select_rows_and_follow_new_ones() {
        let mut t = sample();
        assert_eq!(t.visible_len(), 6);
        t.set_filter(Filter {
            device: "invPk/inv01".into(),
            ..Filter::default()
        });
        assert_eq!(t.visible_len(), 4);
        t.set_filter(Filter {
            device: "invPk/nobody".into(),
            ..Filter::default()
        });
        assert_eq!(
            t.visible_len(),
            0,
            "rows without a device do not pass either"
        );
        t.set_filter(Filter {
            code: Some(1204),
            ..Filter::default()
        });
        // The request and its reply both carry the code.
        assert_eq!(t.visible_len(), 2);
        assert_eq!(t.visible(0), Some(2));
        t.set_filter(Filter {
            direction: Some(Direction::Out),
            text: "\"id\":\"2\"".into(),
            ..Filter::default()
        });
        assert_eq!(t.visible_len(), 1);
        assert_eq!(t.visible(0), Some(4));
        // A new row is matched as it arrives.
        t.push(
            EpochMs(9),
            RowKind::Request,
            NewRow {
                topic: "t",
                payload: b"{\"id\":\"2\"}",
                ..NewRow::default()
            },
        );
        assert_eq!(t.visible_len(), 2);
        assert_eq!(t.position_of(6), Some(1));
        // A filter on a device nobody is does not let rows without a device through.
        t.push(
            EpochMs(10),
            RowKind::Connected,
            NewRow {
                note: "connected",
                ..NewRow::default()
            },
        );
        t.set_filter(Filter {
            device: "invPk/nobody".into(),
            ..Filter::default()
        });
        assert_eq!(t.visible_len(), 0);
        // Until that device's first row comes, which then passes, as does a new topic that
        // holds a text filter's text.
        let nobody = DeviceId::new("invPk", "nobody");
        let row = t.push(
            EpochMs(11),
            RowKind::Request,
            NewRow {
                device: Some(&nobody),
                topic: "a/new/topic",
                ..NewRow::default()
            },
        );
        assert_eq!(t.visible(0), Some(row));
        t.set_filter(Filter {
            text: "newer/topic".into(),
            ..Filter::default()
        });
        let row = t.push(
            EpochMs(12),
            RowKind::Request,
            NewRow {
                topic: "a/newer/topic",
                ..NewRow::default()
            },
        );
        assert_eq!((t.visible_len(), t.visible(0)), (1, Some(row)));
    }

    #[test]
    fn the_gram_filters_never_hide_a_match() {
        let t = synthetic(20_000);
        assert!(t.arena.sealed.len() > 10, "{} chunks", t.arena.sealed.len());
        // Every piece of some payloads, short and long, across sealed chunks: each finds its row.
        let mut t = t;
        for index in [0, 1, 777, 5_001, 12_345, 19_998] {
            let row = *t.row(index).unwrap();
            let payload = t.payload(&row);
            for (start, len) in [
                (0, 1),
                (3, 4),
                (10, 5),
                (20, 17),
                (41, 60),
                (0, payload.len()),
            ] {
                let Some(piece) = payload.get(start..start + len) else {
                    continue;
                };
                let text = String::from_utf8_lossy(piece).into_owned();
                t.set_filter(Filter {
                    text: text.clone(),
                    ..Filter::default()
                });
                assert!(
                    t.position_of(index).is_some(),
                    "row {index} is not found by {text:?}"
                );
            }
        }
        // A text in no payload is in no row, and rare ones are found where they are.
        t.set_filter(Filter {
            text: "\"id\":\"20001\"".into(),
            ..Filter::default()
        });
        assert_eq!(t.visible_len(), 0);
        t.set_filter(Filter {
            text: "\"id\":\"4242\"".into(),
            ..Filter::default()
        });
        assert_eq!(t.visible_len(), 2, "the request and its reply");
        // A text in the topic only.
        t.set_filter(Filter {
            text: "batch_reply".into(),
            ..Filter::default()
        });
        assert_eq!(t.visible_len(), 10_000);
        // Split over threads, a scan finds the same rows in the same order.
        for filter in [
            Filter {
                text: "\"deviceKey\":\"inv01\"".into(),
                ..Filter::default()
            },
            Filter {
                device: "invPk/inv02".into(),
                code: Some(1204),
                ..Filter::default()
            },
        ] {
            t.set_filter(filter);
            let one = t.scan_on(0..t.len(), 1);
            assert!(!one.is_empty());
            assert_eq!(t.scan_on(0..t.len(), 3), one);
            assert_eq!(t.scan_on(0..t.len(), 7), one);
        }
    }

    #[test]
    fn a_text_filter_finds_exactly_the_payloads_that_hold_it() {
        // Payloads of runs of `a` and `b` put matches across payload ends, overlapping
        // matches and matches at either end of a payload, in sealed chunks and the open one.
        let mut t = Timeline::default();
        let mut seed = 7_u32;
        let mut payloads = Vec::new();
        for n in 0..3_000 {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let len = 1 + (seed >> 16) as usize % 40;
            let payload: Vec<u8> = (0..len)
                .map(|i| {
                    if (seed >> (i % 13)) & 3 == 0 {
                        b'b'
                    } else {
                        b'a'
                    }
                })
                .collect();
            t.push(
                EpochMs(n),
                RowKind::Request,
                NewRow {
                    payload: &payload,
                    ..NewRow::default()
                },
            );
            payloads.push(payload);
        }
        assert!(
            t.arena.sealed.is_empty(),
            "small payloads fill no chunk yet"
        );
        while t.arena.sealed.len() < 2 {
            let n = t.len();
            t.push(
                EpochMs(n as i64),
                RowKind::Request,
                NewRow {
                    payload: &[b'a'; 1000],
                    ..NewRow::default()
                },
            );
            payloads.push(vec![b'a'; 1000]);
        }
        for text in ["aaaa", "ab", "ba", "bab", "aaaab", "baaaaaaaa", "bbbb", "c"] {
            t.set_filter(Filter {
                text: text.into(),
                ..Filter::default()
            });
            let expected: Vec<u32> = (0..payloads.len() as u32)
                .filter(|&i| memchr::memmem::find(&payloads[i as usize], text.as_bytes()).is_some())
                .collect();
            for threads in [1, 2] {
                let found = t.scan_on(0..t.len(), threads);
                let first_difference = found.iter().zip(&expected).position(|(a, b)| a != b);
                assert!(
                    found == expected,
                    "{text:?} on {threads} threads: {} rows found, {} expected, first difference \
                     at {first_difference:?}",
                    found.len(),
                    expected.len()
                );
            }
        }
    }
}
