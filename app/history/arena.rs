//! Payloads kept once: appended in arrival order, compressed 64 KiB at a time, decoded on
//! demand.

use std::cell::RefCell;
use std::sync::Arc;

use super::filter::{GRAM_BITS, Grams, grams_of};

/// Where a payload sits: its chunk of the arena, and its place in the chunk's raw bytes.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Span {
    pub(super) chunk: u32,
    pub(super) start: u32,
    pub(super) len: u32,
}

/// Raw bytes gathered before a chunk is compressed.
const CHUNK: usize = 64 * 1024;

/// Payloads, appended in arrival order and compressed 64 KiB at a time (lz4): messages of one
/// device integration repeat their keys, so a chunk shrinks several times over.
#[derive(Default)]
pub(super) struct Arena {
    /// The chunk being filled, uncompressed.
    open: Vec<u8>,
    /// Compressed chunks, each with its raw size in front; shared with exports under way.
    pub(super) sealed: Vec<Arc<[u8]>>,
    /// Each sealed chunk's grams.
    grams: Vec<Grams>,
    /// The last chunk decompressed, as `(chunk, bytes)`: reads go in order, so most hit it.
    cache: RefCell<Option<(u32, Vec<u8>)>>,
}

impl Arena {
    pub(super) fn store(&mut self, bytes: &[u8]) -> Span {
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
        self.sealed.push(Arc::from(compressed));
        self.grams.push(grams_of(&self.open));
        self.open.clear();
    }

    /// The arena to read from, shareable between threads.
    pub(super) fn reader(&self) -> ArenaReader<'_> {
        ArenaReader {
            open: &self.open,
            sealed: &self.sealed,
            grams: &self.grams,
        }
    }

    /// A copy to read from on another thread: the sealed chunks are shared, not copied, so
    /// only the open chunk (at most 64 KiB) is.
    pub(super) fn share(&self) -> SharedArena {
        SharedArena {
            open: self.open.clone(),
            sealed: self.sealed.clone(),
            grams: self.grams.clone(),
        }
    }

    /// Calls `f` with the bytes of `span`, decompressing its chunk when it is sealed.
    pub(super) fn with<R>(&self, span: Span, f: impl FnOnce(&[u8]) -> R) -> R {
        self.reader().with(span, &mut self.cache.borrow_mut(), f)
    }

    /// Bytes held, compressed or not, with the gram filters.
    pub(super) fn size(&self) -> usize {
        self.open.capacity()
            + self.sealed.iter().map(|c| c.len()).sum::<usize>()
            + self.grams.len() * GRAM_BITS / 8
    }
}

/// The payloads of an [`Arena`] as they were when shared, owned by another thread.
pub(super) struct SharedArena {
    open: Vec<u8>,
    sealed: Vec<Arc<[u8]>>,
    grams: Vec<Grams>,
}

impl SharedArena {
    /// The payloads to read from.
    pub(super) fn reader(&self) -> ArenaReader<'_> {
        ArenaReader {
            open: &self.open,
            sealed: &self.sealed,
            grams: &self.grams,
        }
    }
}

/// A read-only view of an [`Arena`]; each reader keeps its own last decompressed chunk.
#[derive(Clone, Copy)]
pub(super) struct ArenaReader<'a> {
    open: &'a [u8],
    sealed: &'a [Arc<[u8]>],
    grams: &'a [Grams],
}

impl ArenaReader<'_> {
    /// False when the chunk of `span` cannot hold a text with these gram bits.
    pub(super) fn may_hold(&self, span: Span, bits: &[usize]) -> bool {
        self.grams
            .get(span.chunk as usize)
            .is_none_or(|grams| bits.iter().all(|b| grams[b / 64] & (1 << (b % 64)) != 0))
    }

    /// Calls `f` with the bytes of `span`, decompressing its chunk into `cache` when it is
    /// sealed and not already there.
    pub(super) fn with<R>(
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

#[cfg(test)]
mod tests {
    use crate::history::{Filter, NewRow, RowKind, Timeline};
    use crate::protocol::EpochMs;

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
}
