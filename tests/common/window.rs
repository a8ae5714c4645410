//! Driving the window in kittest tests: step it until something holds, with a deadline.

use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use thingbench::ui::WorkbenchApp;

/// Steps the app until `found` holds, failing after `limit` with what the window said. A frame
/// every 10 ms, as a window repaints while its background works, not a spin that would starve
/// the threads it waits for.
pub fn step_until(
    harness: &mut Harness<'_, WorkbenchApp>,
    limit: Duration,
    what: &str,
    found: impl Fn(&Harness<'_, WorkbenchApp>) -> bool,
) {
    let deadline = Instant::now() + limit;
    while !found(harness) {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; status: {:?}; send state: {:?}; timeline:\n{}",
            harness.state().status(),
            harness.state().draft.send_state,
            harness.state().timeline().export_jsonl()
        );
        std::thread::sleep(Duration::from_millis(10));
        harness.step();
    }
}

/// Steps the app until a widget labelled with `text` (or a label containing it) shows.
pub fn wait_for_label(harness: &mut Harness<'_, WorkbenchApp>, text: &str) {
    step_until(harness, Duration::from_secs(15), text, |h| {
        h.query_by_label_contains(text).is_some()
    });
}
