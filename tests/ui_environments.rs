//! The window's environment picker: switching environment reconnects to the environment's
//! broker, and the next send goes out as its gateway, with the builder's `{{name}}` filled
//! from its variables.

mod common;

use common::copy_dir;
use common::window::{open_connected, step_until, wait_for_label};

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use egui_kittest::kittest::Queryable as _;
use thingbench::control::LinkState;
use thingbench::history::RowKind;
use thingbench::workspace::{Workspace, WorkspaceFeed};

/// A copy of the sample workspace whose `lab` environment names the broker at `lab_url`.
fn sample_with_lab_at(lab_url: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("ws");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures"),
        &root,
    );
    let file = root.join("workspace.json");
    let mut value: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).expect("read")).expect("json");
    value["environments"]["lab"]["connection"]["broker"] = serde_json::json!(lab_url);
    std::fs::write(&file, serde_json::to_vec_pretty(&value).expect("json")).expect("write");
    (dir, root)
}

#[test]
fn switching_environment_reconnects_to_its_broker_and_sends_as_its_gateway() {
    // The lab: a second broker, with the reference hub answering as the lab environment.
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let lab = Workspace::load_env(&sample, Some("lab")).expect("the lab loads");
    let (lab_broker, _lab_hub) =
        thingbench::runner::connect::start_embedded(WorkspaceFeed::fixed(Arc::new(lab)), None)
            .expect("the lab's broker and hub start");
    let lab_url = lab_broker.url();
    let (_dir, root) = sample_with_lab_at(&lab_url.to_string());

    let mut harness = open_connected(&root, [1400.0, 900.0], root.join("export.jsonl"));
    let embedded = harness.state().broker_url().cloned().expect("a broker");
    assert_ne!(embedded, lab_url);
    assert!(
        harness
            .query_by_label_contains("as the gateway gwPk/gw01")
            .is_some(),
        "no environment yet"
    );

    // A fixture written with variables, opened in the builder: the names stay names.
    harness.get_by_label("Fixtures").click();
    harness.run();
    harness
        .get_by_label("Open 001-valid-two-inverters.json")
        .click();
    harness.run();
    assert!(harness.state().draft_text().contains("{{inv1}}"));

    harness.get_by_label("Environment").click();
    harness.run();
    harness.get_by_label("lab").click();
    step_until(
        &mut harness,
        Duration::from_secs(20),
        "the lab's broker",
        |h| *h.state().link() == LinkState::Connected && h.state().broker_url() == Some(&lab_url),
    );
    wait_for_label(
        &mut harness,
        &format!("connected to {lab_url} as the gateway gwPk/gw-lab of environment lab"),
    );
    // Its sub-devices logged in by their lab keys: the check predicts success.
    wait_for_label(&mut harness, "Predicted: 200 success");

    harness.get_by_label("Send").click();
    wait_for_label(&mut harness, "Reply: 200 success");
    let timeline = harness.state().timeline();
    let request = (0..timeline.len())
        .rev()
        .filter_map(|i| timeline.row(i))
        .find(|r| r.kind == RowKind::Request)
        .expect("a request");
    assert_eq!(
        timeline.topic(request),
        "/sys/gwPk/gw-lab/thing/measurepoint/post/batch"
    );
    let sent = timeline.json(request).expect("JSON");
    assert_eq!(sent["params"][0]["deviceKey"], "inv-lab-1");
    assert_eq!(sent["params"][1]["deviceKey"], "inv-lab-2");
    assert!(
        harness.state().draft_text().contains("{{inv1}}"),
        "the builder still shows the name, not the value"
    );
}
