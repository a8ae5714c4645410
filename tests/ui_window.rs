//! The window driven by label, against the embedded broker and hub: it connects by itself,
//! "Run all" replays every fixture, and each reply code appears beside its fixture.

use std::path::Path;
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use thingbench::ui::WorkbenchApp;
use thingbench::workspace::Workspace;

/// Steps the app until `found` holds, failing after `limit`.
fn step_until(
    harness: &mut Harness<'_, WorkbenchApp>,
    limit: Duration,
    what: &str,
    found: impl Fn(&Harness<'_, WorkbenchApp>) -> bool,
) {
    let deadline = Instant::now() + limit;
    while !found(harness) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
        harness.step();
    }
}

#[test]
fn run_all_shows_every_reply_code() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let ws = Workspace::load(&root).expect("sample workspace");
    let fixtures = ws.fixtures.len();
    let mut harness = Harness::builder()
        .with_size([1280.0, 800.0])
        .build_eframe(|cc| WorkbenchApp::new(Ok(ws), None, &cc.egui_ctx));
    step_until(
        &mut harness,
        Duration::from_secs(20),
        "the connection",
        |h| h.query_by_label_contains("as the gateway").is_some(),
    );
    harness.get_by_label("Run all").click();
    let summary = format!("{fixtures} passed, 0 failed");
    step_until(&mut harness, Duration::from_secs(60), &summary, |h| {
        h.query_by_label(&summary).is_some()
    });
    // Each code shows beside its fixture, with its meaning and round trip.
    let replies = |text: &str| harness.query_all_by_label_contains(text).count();
    assert_eq!(replies("1204 model validation failed  "), 9);
    assert_eq!(replies("742 sign check failed  "), 1);
    assert_eq!(replies("1212 no sub-device permission  "), 2);
}
