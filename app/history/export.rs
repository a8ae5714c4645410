//! The rows shown, as JSON Lines with credentials masked: for a file a user can attach to a
//! bug report without leaking a device's secret. A file export runs on a thread of its own
//! from a snapshot that shares the timeline's compressed payloads.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};

use serde_json::Value;

use super::Timeline;
use super::arena::SharedArena;
use super::filter::Query;
use super::rows::{NO_ROW, Row};

/// Rows an export thread formats between two updates of its progress.
const PROGRESS_STEP: usize = 1024;

impl Timeline {
    /// Row number `index` as one JSON line, with credentials masked.
    pub fn export_line(&self, index: usize) -> Option<String> {
        let row = self.row(index)?;
        let payload = self.payload(row);
        line_of(
            row,
            self.device(row),
            self.topic(row),
            &payload,
            self.note(row),
        )
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

    /// What an export of the rows shown needs, copied cheaply: the rows themselves and their
    /// notes, the symbols, and the payload arena with its sealed chunks shared.
    fn export_snapshot(&self) -> Snapshot {
        let mut notes = Vec::new();
        // Only the notes of the rows exported are copied, renumbered for the snapshot.
        let mut take = |local: usize| -> Option<Row> {
            let mut row = *self.rows.get(local)?;
            if let Some(note) = self.notes.get(row.note as usize) {
                notes.push(note.clone());
                row.note = (notes.len() - 1) as u32;
            } else {
                row.note = NO_ROW;
            }
            Some(row)
        };
        let shown: Vec<Row> = match &self.matching {
            None => (0..self.rows.len()).filter_map(&mut take).collect(),
            Some(list) => list
                .iter()
                .filter_map(|&local| take(local as usize))
                .collect(),
        };
        // Rows a scan under way has not reached yet are matched on the export's thread.
        let unscanned: Vec<Row> = match &self.matching {
            None => Vec::new(),
            Some(_) => (self.scanned..self.rows.len())
                .filter_map(&mut take)
                .collect(),
        };
        Snapshot {
            shown,
            unscanned,
            query: self.query.clone(),
            symbols: self.symbols.clone(),
            notes,
            arena: self.arena.share(),
        }
    }
}

/// One row as a JSON line, with credentials masked: the one format of every export.
fn line_of(
    row: &Row,
    device: Option<&str>,
    topic: &str,
    payload: &[u8],
    note: &str,
) -> Option<String> {
    let mut obj = serde_json::Map::new();
    obj.insert("at".into(), Value::from(row.at.0));
    obj.insert("kind".into(), Value::from(row.kind.name()));
    if let Some(device) = device {
        obj.insert("device".into(), Value::from(device));
    }
    if !topic.is_empty() {
        obj.insert("topic".into(), Value::from(topic));
    }
    // A code too wide for the row is read from the reply's own payload; a request's line leaves
    // it to its reply's.
    let wide = || {
        row.has_wide_code()
            .then(|| crate::protocol::parse_reply(payload).ok())
            .flatten()
            .map(|reply| reply.code)
    };
    if let Some(code) = row.code().or_else(wide) {
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
    if !payload.is_empty() {
        match serde_json::from_slice::<Value>(payload) {
            Ok(mut json) => {
                mask_secrets(&mut json);
                obj.insert("payload".into(), json);
            }
            Err(_) => {
                obj.insert(
                    "raw".into(),
                    Value::from(String::from_utf8_lossy(payload).into_owned()),
                );
            }
        }
    }
    if !note.is_empty() {
        obj.insert("note".into(), Value::from(note));
    }
    serde_json::to_string(&Value::Object(obj)).ok()
}

/// The rows of an export, taken from the timeline on the window's thread.
struct Snapshot {
    /// The rows shown; each row's note numbers into `notes`.
    shown: Vec<Row>,
    /// The rows a scan under way has not reached: those that pass `query` are exported after
    /// the rows shown, as [`Timeline::export_jsonl`] does.
    unscanned: Vec<Row>,
    query: Query,
    symbols: Vec<String>,
    notes: Vec<Box<str>>,
    arena: SharedArena,
}

impl Snapshot {
    /// Rows the export goes through.
    fn total(&self) -> usize {
        self.shown.len() + self.unscanned.len()
    }

    /// Writes the rows as JSON Lines to `out`, counting the rows gone through in `done`;
    /// returns the number of lines written.
    fn write(&self, out: &mut dyn std::io::Write, done: &AtomicUsize) -> std::io::Result<usize> {
        let arena = self.arena.reader();
        let mut cache = None;
        let mut lines = 0;
        let shown = self.shown.iter().map(|row| (row, true));
        let unscanned = self.unscanned.iter().map(|row| (row, false));
        for (n, (row, passed)) in shown.chain(unscanned).enumerate() {
            let note = self.notes.get(row.note as usize).map_or("", |n| n);
            if passed || self.query.passes_in(row, note, arena, &mut cache) {
                let device = self.symbols.get(row.device as usize).map(String::as_str);
                let topic = self
                    .symbols
                    .get(row.topic as usize)
                    .map_or("", String::as_str);
                let line = arena.with(row.payload, &mut cache, |payload| {
                    line_of(row, device, topic, payload, note)
                });
                if let Some(line) = line {
                    out.write_all(line.as_bytes())?;
                    out.write_all(b"\n")?;
                    lines += 1;
                }
            }
            if (n + 1) % PROGRESS_STEP == 0 {
                done.store(n + 1, Ordering::Relaxed);
            }
        }
        done.store(self.total(), Ordering::Relaxed);
        Ok(lines)
    }
}

/// A finished export: how many rows went to which file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exported {
    /// Lines written, one per row.
    pub rows: usize,
    /// The file written.
    pub path: PathBuf,
}

impl std::fmt::Display for Exported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exported {} rows to {}", self.rows, self.path.display())
    }
}

/// Why an export wrote no file; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The file could not be written; the old one, if any, is left as it was.
    #[error("{}: cannot write: {source}", path.display())]
    Write {
        /// The file the export was for.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// No thread could be started for the export.
    #[error("{}: cannot start the export: {source}", path.display())]
    Start {
        /// The file the export was for.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The export's thread ended without a result.
    #[error("{}: the export stopped before it finished", path.display())]
    Stopped {
        /// The file the export was for.
        path: PathBuf,
    },
}

/// An export of the rows shown to a file, running on a thread of its own so that formatting
/// a million rows and syncing the file never stall the window. The window starts it, reads
/// [`ExportJob::progress`] each frame and [`ExportJob::poll`]s for the result.
pub struct ExportJob {
    path: PathBuf,
    total: usize,
    done: Arc<AtomicUsize>,
    /// `None` once the result was taken.
    result: Option<mpsc::Receiver<Result<usize, ExportError>>>,
}

impl ExportJob {
    /// Starts exporting the rows `timeline` shows (as [`Timeline::export_jsonl`] would give
    /// them) to `path`, replacing it atomically; returns at once.
    pub fn start(timeline: &Timeline, path: PathBuf) -> Self {
        let snapshot = timeline.export_snapshot();
        let total = snapshot.total();
        let done = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = mpsc::channel();
        let thread_done = Arc::clone(&done);
        let thread_path = path.clone();
        let thread_tx = tx.clone();
        let spawned = std::thread::Builder::new()
            .name("thingbench-export".into())
            .spawn(move || {
                let mut lines = 0;
                let written = crate::workspace::write_atomic_with(&thread_path, |out| {
                    lines = snapshot.write(out, &thread_done)?;
                    Ok(())
                });
                let result = written
                    .map(|()| lines)
                    .map_err(|source| ExportError::Write {
                        path: thread_path,
                        source,
                    });
                // The window may have dropped the job; then nobody is waiting for the result.
                let _ = thread_tx.send(result);
            });
        if let Err(source) = spawned {
            let _ = tx.send(Err(ExportError::Start {
                path: path.clone(),
                source,
            }));
        }
        Self {
            path,
            total,
            done,
            result: Some(rx),
        }
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How far the export has got, from 0 to 1.
    pub fn progress(&self) -> f32 {
        if self.total == 0 {
            return 1.0;
        }
        self.done.load(Ordering::Relaxed).min(self.total) as f32 / self.total as f32
    }

    /// True until [`ExportJob::poll`] has given the result.
    pub fn is_running(&self) -> bool {
        self.result.is_some()
    }

    /// The result once the export has finished, given once; `None` while it runs and after.
    pub fn poll(&mut self) -> Option<Result<Exported, ExportError>> {
        let received = match self.result.as_ref()?.try_recv() {
            Ok(result) => Some(result),
            Err(mpsc::TryRecvError::Empty) => return None,
            Err(mpsc::TryRecvError::Disconnected) => None,
        };
        Some(self.finish(received))
    }

    /// Waits up to `limit` for the result, for tests and for callers without a window.
    pub fn wait(&mut self, limit: std::time::Duration) -> Option<Result<Exported, ExportError>> {
        let received = match self.result.as_ref()?.recv_timeout(limit) {
            Ok(result) => Some(result),
            Err(mpsc::RecvTimeoutError::Timeout) => return None,
            Err(mpsc::RecvTimeoutError::Disconnected) => None,
        };
        Some(self.finish(received))
    }

    /// Ends the job with what its thread sent, or with `None` when the thread is gone
    /// without a word (it panicked).
    fn finish(
        &mut self,
        received: Option<Result<usize, ExportError>>,
    ) -> Result<Exported, ExportError> {
        self.result = None;
        let path = self.path.clone();
        match received {
            Some(Ok(rows)) => Ok(Exported { rows, path }),
            Some(Err(e)) => Err(e),
            None => Err(ExportError::Stopped { path }),
        }
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
    use crate::history::{Filter, NewRow, RowKind};
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

    /// The job's result, failing after a time limit.
    fn finish(job: &mut ExportJob) -> Result<Exported, ExportError> {
        job.wait(std::time::Duration::from_secs(30))
            .expect("the export finished in time")
    }

    #[test]
    fn an_export_job_writes_what_export_jsonl_gives_with_credentials_masked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut t = crate::history::synthetic(3_000);
        t.push(
            EpochMs(1),
            RowKind::Request,
            NewRow {
                topic: "/ext/session/gwPk/gw01/combine/login",
                payload: br#"{"id":"1","params":{"deviceKey":"inv01","sign":"abcdef0123"}}"#,
                note: "logging inv01 in",
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
        assert!(t.arena.sealed.len() > 3, "payloads in sealed chunks too");
        let mut exports = 0;
        let mut export = |t: &Timeline, what: &str| {
            exports += 1;
            let path = dir.path().join(format!("{exports}.jsonl"));
            let mut job = ExportJob::start(t, path.clone());
            let done = finish(&mut job).expect("written");
            let expected = t.export_jsonl();
            let written = std::fs::read_to_string(&path).expect("read");
            assert!(
                written == expected,
                "{what}: the file differs from export_jsonl"
            );
            assert_eq!(
                done,
                Exported {
                    rows: expected.lines().count(),
                    path
                }
            );
            assert_eq!(job.progress(), 1.0);
            assert!(!job.is_running() && job.poll().is_none(), "given once");
            written
        };
        let all = export(&t, "every row");
        assert_eq!(all.lines().count(), 3_002);
        assert!(!all.contains("abcdef0123"), "the sign is masked");
        assert!(all.contains("\"sign\":\"***\""));
        // A filter whose scan is under way: rows it has not reached are matched on the thread.
        t.change_filter(Filter {
            text: "inv01".into(),
            ..Filter::default()
        });
        t.scan_slice(700);
        assert!(t.scan_progress().is_some());
        let some = export(&t, "a scan under way");
        assert!(some.contains("\"sign\":\"***\"") && !some.contains("abcdef0123"));
        // A filter not scanned at all, found in a note only.
        t.change_filter(Filter {
            text: "no request with".into(),
            ..Filter::default()
        });
        assert_eq!(export(&t, "a note").lines().count(), 1);
        // The same filter scanned to the end.
        t.scan_for(None);
        assert_eq!(export(&t, "a scan done").lines().count(), 1);
    }

    #[test]
    fn an_export_that_cannot_write_names_its_file_and_leaves_none() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("no-such-folder").join("out.jsonl");
        let mut job = ExportJob::start(&crate::history::synthetic(100), path.clone());
        assert_eq!(job.path(), path);
        let error = finish(&mut job).expect_err("there is no folder to write in");
        let text = error.to_string();
        assert!(
            text.starts_with(&format!("{}: cannot write: ", path.display())),
            "{text}"
        );
        assert!(!path.exists());
        assert!(job.poll().is_none());
    }
}
