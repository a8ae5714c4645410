//! The timeline's storage: compact rows, payloads kept once in an arena and decoded on demand,
//! and the list of rows that pass the filter, updated as rows arrive instead of every frame.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::protocol::{DeviceId, EpochMs, ReplyCode};

/// What a row records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum RowKind {
    /// A request we sent.
    Request,
    /// A reply paired with its request.
    Reply,
    /// A reply that pairs with nothing.
    Unpaired,
    /// A request whose reply did not come in time.
    NoReply,
    /// A request that ended without a reply because the connection went.
    Lost,
    /// The session connected.
    Connected,
    /// The session lost its connection or could not connect.
    Disconnected,
    /// A request seen on the broker while watching, checked on arrival.
    Watched,
    /// The hub's reply to a watched request.
    WatchedReply,
}

impl RowKind {
    /// The name shown in the window and in exports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::Reply => "reply",
            Self::Unpaired => "unpaired reply",
            Self::NoReply => "no reply",
            Self::Lost => "lost",
            Self::Connected => "connected",
            Self::Disconnected => "disconnected",
            Self::Watched => "watched request",
            Self::WatchedReply => "watched reply",
        }
    }

    /// Which way the row went.
    pub fn direction(self) -> Direction {
        match self {
            Self::Request => Direction::Out,
            Self::Reply | Self::Unpaired | Self::Watched | Self::WatchedReply => Direction::In,
            Self::NoReply | Self::Lost | Self::Connected | Self::Disconnected => Direction::Event,
        }
    }
}

/// Which way a row went, for the direction filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Direction {
    Out,
    In,
    Event,
}

/// A string kept once; rows hold its number.
type Sym = u32;
const NO_SYM: Sym = u32::MAX;
const NO_ROW: u32 = u32::MAX;

/// Where a payload sits: its chunk of the arena, and its place in the chunk's raw bytes.
#[derive(Clone, Copy, Debug, Default)]
struct Span {
    chunk: u32,
    start: u32,
    len: u32,
}

/// Raw bytes gathered before a chunk is compressed.
const CHUNK: usize = 64 * 1024;

/// Bits in a sealed chunk's filter of 4-byte grams: 1 KiB beside each 64 KiB chunk.
const GRAM_BITS: usize = 8192;

/// Which 4-byte grams a chunk holds, as a one-hash Bloom filter: a text whose grams are not all
/// there is not in the chunk, and the chunk need not be decompressed to know it.
type Grams = Box<[u64; GRAM_BITS / 64]>;

fn gram_bit(gram: &[u8]) -> usize {
    let word = u32::from_le_bytes([gram[0], gram[1], gram[2], gram[3]]);
    (word.wrapping_mul(0x9E37_79B1) >> (32 - GRAM_BITS.trailing_zeros())) as usize
}

fn grams_of(bytes: &[u8]) -> Grams {
    let mut bits: Grams = Box::new([0; GRAM_BITS / 64]);
    for gram in bytes.windows(4) {
        let bit = gram_bit(gram);
        bits[bit / 64] |= 1 << (bit % 64);
    }
    bits
}

/// Payloads, appended in arrival order and compressed 64 KiB at a time (lz4): messages of one
/// device integration repeat their keys, so a chunk shrinks several times over.
#[derive(Default)]
struct Arena {
    /// The chunk being filled, uncompressed.
    open: Vec<u8>,
    /// Compressed chunks, each with its raw size in front.
    sealed: Vec<Box<[u8]>>,
    /// Each sealed chunk's grams.
    grams: Vec<Grams>,
    /// The last chunk decompressed, as `(chunk, bytes)`: reads go in order, so most hit it.
    cache: RefCell<Option<(u32, Vec<u8>)>>,
}

impl Arena {
    fn store(&mut self, bytes: &[u8]) -> Span {
        if bytes.is_empty() {
            return Span::default();
        }
        if !self.open.is_empty() && self.open.len() + bytes.len() > CHUNK {
            self.seal();
        }
        let len = bytes.len().min(u32::MAX as usize);
        let span = Span {
            chunk: self.sealed.len() as u32,
            start: self.open.len() as u32,
            len: len as u32,
        };
        self.open.extend_from_slice(&bytes[..len]);
        span
    }

    fn seal(&mut self) {
        let compressed = lz4_flex::compress_prepend_size(&self.open);
        self.sealed.push(compressed.into_boxed_slice());
        self.grams.push(grams_of(&self.open));
        self.open.clear();
    }

    /// The arena to read from, shareable between threads.
    fn reader(&self) -> ArenaReader<'_> {
        ArenaReader {
            open: &self.open,
            sealed: &self.sealed,
            grams: &self.grams,
        }
    }

    /// Calls `f` with the bytes of `span`, decompressing its chunk when it is sealed.
    fn with<R>(&self, span: Span, f: impl FnOnce(&[u8]) -> R) -> R {
        self.reader().with(span, &mut self.cache.borrow_mut(), f)
    }

    /// Bytes held, compressed or not, with the gram filters.
    fn size(&self) -> usize {
        self.open.capacity()
            + self.sealed.iter().map(|c| c.len()).sum::<usize>()
            + self.grams.len() * GRAM_BITS / 8
    }
}

/// A read-only view of an [`Arena`]; each reader keeps its own last decompressed chunk.
#[derive(Clone, Copy)]
struct ArenaReader<'a> {
    open: &'a [u8],
    sealed: &'a [Box<[u8]>],
    grams: &'a [Grams],
}

impl ArenaReader<'_> {
    /// False when the chunk of `span` cannot hold a text with these gram bits.
    fn may_hold(&self, span: Span, bits: &[usize]) -> bool {
        self.grams
            .get(span.chunk as usize)
            .is_none_or(|grams| bits.iter().all(|b| grams[b / 64] & (1 << (b % 64)) != 0))
    }

    /// Calls `f` with the bytes of `span`, decompressing its chunk into `cache` when it is
    /// sealed and not already there.
    fn with<R>(
        &self,
        span: Span,
        cache: &mut Option<(u32, Vec<u8>)>,
        f: impl FnOnce(&[u8]) -> R,
    ) -> R {
        let range = span.start as usize..span.start as usize + span.len as usize;
        if span.len == 0 {
            return f(&[]);
        }
        if span.chunk as usize == self.sealed.len() {
            return f(self.open.get(range).unwrap_or_default());
        }
        if cache.as_ref().is_none_or(|(chunk, _)| *chunk != span.chunk) {
            let raw = self
                .sealed
                .get(span.chunk as usize)
                .and_then(|c| lz4_flex::decompress_size_prepended(c).ok())
                .unwrap_or_default();
            *cache = Some((span.chunk, raw));
        }
        let bytes = cache.as_ref().map_or(&[][..], |(_, raw)| raw.as_slice());
        f(bytes.get(range).unwrap_or_default())
    }
}

/// One timeline row, small and fixed-size.
#[derive(Clone, Copy, Debug)]
pub struct Row {
    pub at: EpochMs,
    pub kind: RowKind,
    device: Sym,
    topic: Sym,
    /// 0 when the row has no code.
    code: u16,
    /// The checker's code for a request; 0 when not checked.
    predicted: u16,
    /// Round trip in microseconds; `u32::MAX` when unknown.
    rtt_us: u32,
    partner: u32,
    payload: Span,
    /// A note in words (why a reply paired with nothing, why the connection dropped), as an
    /// index into the notes; most rows have none.
    note: u32,
}

impl Row {
    /// The reply code, for replies and for requests once answered.
    pub fn code(&self) -> Option<ReplyCode> {
        (self.code != 0).then_some(ReplyCode(i64::from(self.code)))
    }

    /// The code the checker predicted, for checked requests.
    pub fn predicted(&self) -> Option<ReplyCode> {
        (self.predicted != 0).then_some(ReplyCode(i64::from(self.predicted)))
    }

    /// The round trip, for replies and answered requests.
    pub fn rtt(&self) -> Option<Duration> {
        (self.rtt_us != u32::MAX).then(|| Duration::from_micros(u64::from(self.rtt_us)))
    }

    /// The row at the other end of the exchange.
    pub fn partner(&self) -> Option<usize> {
        (self.partner != NO_ROW).then_some(self.partner as usize)
    }
}

/// A new row, before it is stored.
#[derive(Clone, Debug, Default)]
pub struct NewRow<'a> {
    pub device: Option<&'a DeviceId>,
    pub topic: &'a str,
    pub payload: &'a [u8],
    pub code: Option<ReplyCode>,
    pub predicted: Option<ReplyCode>,
    pub rtt: Option<Duration>,
    pub partner: Option<usize>,
    pub note: &'a str,
}

/// What rows to show.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Filter {
    /// `"pk/dk"`; empty for every device.
    pub device: String,
    pub code: Option<i64>,
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
/// by the threads of a scan.
#[derive(Default)]
struct Query {
    /// The device's symbol; `None` for every device.
    device: Option<Sym>,
    /// The filter names a device no row has: nothing passes.
    unknown_device: bool,
    code: Option<i64>,
    direction: Option<Direction>,
    /// `None` when there is no text to find.
    text: Option<memchr::memmem::Finder<'static>>,
    gram_bits: Vec<usize>,
    /// By symbol: whether the text is in it.
    topics: Vec<bool>,
}

impl Query {
    /// Takes in symbol `sym`, just added with `text`, as the filter `filter` sees it.
    fn learn_symbol(&mut self, sym: Sym, text: &str, filter: &Filter) {
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
    fn passes(&self, row: &Row, note: &str, payload_has: impl FnOnce(&Row) -> bool) -> bool {
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

    /// The rows of `rows` (numbered from `first`) that pass, read through their own cache.
    fn scan(
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
            let passes = self.passes(row, note, |row| {
                self.text.as_ref().is_some_and(|finder| {
                    arena.may_hold(row.payload, &self.gram_bits)
                        && arena.with(row.payload, &mut cache, |b| finder.find(b).is_some())
                })
            });
            if passes {
                found.push((first + i) as u32);
            }
        }
        found
    }
}

/// Rows below which a scan stays on one thread.
const PARALLEL_SCAN: usize = 32_768;

/// Rows a window's scan takes at a time before it looks at the clock: a few milliseconds even
/// for a text that is in every chunk.
const SCAN_SLICE: usize = 65_536;

/// How long one frame of the window may spend finding the rows of a new filter; the scan goes
/// on in the next frames, and the rows found so far are shown meanwhile.
pub const SCAN_BUDGET: Duration = Duration::from_millis(8);

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
            code: code_u16(new.code),
            predicted: code_u16(new.predicted),
            rtt_us: new.rtt.map_or(u32::MAX, |d| {
                d.as_micros().min(u128::from(u32::MAX - 1)) as u32
            }),
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
            row.code = code_u16(code);
            row.rtt_us = rtt.map_or(u32::MAX, |d| {
                d.as_micros().min(u128::from(u32::MAX - 1)) as u32
            });
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
    fn scan_slice(&mut self, rows: usize) -> bool {
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
    fn scan_rows(&self, range: std::ops::Range<usize>) -> Vec<u32> {
        let threads = if range.len() < PARALLEL_SCAN {
            1
        } else {
            std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
        };
        self.scan_on(range, threads)
    }

    /// The rows in `range` that pass the filter, scanned on `threads` threads.
    fn scan_on(&self, range: std::ops::Range<usize>, threads: usize) -> Vec<u32> {
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

    /// Whether row `index` passes; for single rows as they come.
    fn passes(&self, index: usize) -> bool {
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

fn code_u16(code: Option<ReplyCode>) -> u16 {
    code.and_then(|c| u16::try_from(c.0).ok()).unwrap_or(0)
}

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
    use super::*;

    fn sample() -> Timeline {
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
    fn payloads_read_back_from_compressed_chunks() {
        let mut t = Timeline::default();
        let payload = |i: usize| format!("{{\"id\":\"{i}\",\"pad\":\"{}\"}}", "x".repeat(i % 300));
        for i in 0..2000 {
            t.push(
                EpochMs(i as i64),
                RowKind::Request,
                NewRow {
                    payload: payload(i).as_bytes(),
                    note: if i % 7 == 0 { "seventh" } else { "" },
                    ..NewRow::default()
                },
            );
        }
        assert!(t.arena.sealed.len() > 1, "several chunks were sealed");
        // Out of order, across chunks, and the open chunk.
        for i in [1999, 0, 1500, 3, 777, 1998] {
            let row = *t.row(i).unwrap();
            assert_eq!(t.payload(&row), payload(i).into_bytes(), "row {i}");
            assert_eq!(t.note(&row), if i % 7 == 0 { "seventh" } else { "" });
        }
        t.set_filter(Filter {
            text: "\"id\":\"1234\"".into(),
            ..Filter::default()
        });
        assert_eq!(t.visible_len(), 1);
        assert_eq!(t.visible(0), Some(1234));
        assert!(t.memory() < 2000 * 150, "compressed: {} bytes", t.memory());
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
