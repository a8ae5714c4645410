//! Driving the window in kittest tests: step it until something holds, with a deadline.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use thingbench::control::LinkState;
use thingbench::ui::dialogs::FixedDialogs;
use thingbench::ui::{Startup, WorkbenchApp};
use thingbench::workspace::Workspace;

/// The window on the workspace at `root`, `size` points large, its file dialogs answering
/// `file`, once it is connected to its embedded broker and its logins are answered (it sends
/// them as it connects).
pub fn open_connected(
    root: &Path,
    size: [f32; 2],
    file: PathBuf,
) -> Harness<'static, WorkbenchApp> {
    let ws = Workspace::load(root).expect("the workspace loads");
    let mut harness = Harness::builder().with_size(size).build_eframe(move |cc| {
        let startup = Startup {
            dialogs: Box::new(FixedDialogs(file)),
            ..Startup::new(Ok(ws), None)
        };
        WorkbenchApp::new(startup, &cc.egui_ctx, None)
    });
    step_until(
        &mut harness,
        Duration::from_secs(20),
        "the connection",
        |h| *h.state().link() == LinkState::Connected && h.state().connection.pending() == 0,
    );
    harness
}

/// When the window next wants a frame, as its repaint requests say: those its own frames make
/// and those its background threads make when they have news.
#[derive(Default)]
struct Repaints {
    due: Mutex<Option<Instant>>,
    asked: Condvar,
}

impl Repaints {
    fn asked_for(&self, at: Instant) {
        let mut due = self.due.lock().unwrap_or_else(|e| e.into_inner());
        if due.is_none_or(|due| at < due) {
            *due = Some(at);
            self.asked.notify_all();
        }
    }

    /// Waits until a frame is due, or `deadline`; the next request is waited for anew.
    fn wait(&self, deadline: Instant) {
        let mut due = self.due.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let now = Instant::now();
            let until = due.map_or(deadline, |due| due.min(deadline));
            if until <= now {
                break;
            }
            due = match self.asked.wait_timeout(due, until - now) {
                Ok((due, _)) => due,
                Err(e) => e.into_inner().0,
            };
        }
        *due = None;
    }
}

/// Steps the app until `found` holds, failing after `limit` with what the window said. A
/// frame is drawn when the window asks for one, as an integration draws it: at once after an
/// input, when a background thread has news, or after the delay a frame asked for.
pub fn step_until(
    harness: &mut Harness<'_, WorkbenchApp>,
    limit: Duration,
    what: &str,
    found: impl Fn(&Harness<'_, WorkbenchApp>) -> bool,
) {
    let deadline = Instant::now() + limit;
    let repaints = Arc::new(Repaints::default());
    // What came before this wait (a click queued, news already in) is looked at first.
    repaints.asked_for(Instant::now());
    harness.ctx.set_repaint_observer({
        let repaints = Arc::clone(&repaints);
        move |info| repaints.asked_for(Instant::now() + info.delay)
    });
    while !found(harness) {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; status: {:?}; send state: {:?}; timeline:\n{}",
            harness.state().status(),
            harness.state().draft.send_state,
            harness.state().timeline().export_jsonl()
        );
        repaints.wait(deadline);
        harness.step();
    }
}

/// Steps the app until a widget labelled with `text` (or a label containing it) shows: one or
/// more.
pub fn wait_for_label(harness: &mut Harness<'_, WorkbenchApp>, text: &str) {
    step_until(harness, Duration::from_secs(15), text, |h| {
        h.query_all_by_label_contains(text).next().is_some()
    });
}
