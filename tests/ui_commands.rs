//! The builder's event and command modes, driven by label against the window's embedded broker
//! and hub: an event post answered by the hub, a set built in the command mode sent to a test
//! gateway on rumqttc (tests/common/device.rs) and its reply read as the platform reads it, the
//! timeline's command rows, and the command saved as a fixture and replayed, from the Suite tab
//! and with `thingbench run`.

mod common;

use common::window::{open_connected, step_until, wait_for_label};

use std::path::PathBuf;
use std::time::Duration;

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use serde_json::{Value, json};
use thingbench::history::RowKind;
use thingbench::protocol::DeviceId;
use thingbench::ui::WorkbenchApp;

/// The window on a copy of the sample workspace, connected to its embedded broker and hub,
/// its sub-devices logged in.
fn open() -> (tempfile::TempDir, PathBuf, Harness<'static, WorkbenchApp>) {
    let dir = common::copy_workspace();
    let root = dir.path().to_path_buf();
    let mut harness = open_connected(&root, [1600.0, 1000.0], root.join("export.jsonl"));
    wait_for_label(&mut harness, "Predicted: 200 success");
    (dir, root, harness)
}

/// The rows of the timeline of `kind`, by index.
fn rows_of(harness: &Harness<'_, WorkbenchApp>, kind: RowKind) -> Vec<usize> {
    let timeline = harness.state().timeline();
    (0..timeline.len())
        .filter(|i| timeline.row(*i).is_some_and(|r| r.kind == kind))
        .collect()
}

/// The JSON of timeline row `index`.
fn row_json(harness: &Harness<'_, WorkbenchApp>, index: usize) -> Value {
    let timeline = harness.state().timeline();
    let row = timeline.row(index).expect("the row");
    timeline.json(row).expect("JSON")
}

#[test]
fn an_event_post_from_the_event_mode_gets_200_and_a_wrong_output_1204() {
    let (_dir, _root, mut harness) = open();
    harness.get_by_label("event").click();
    harness.run();
    wait_for_label(&mut harness, "Event builder");
    // The topic is the sub-device's, beside the JSON.
    wait_for_label(
        &mut harness,
        "on /sys/invPk/inv01/thing/event/overTemp/post",
    );
    // The first device whose model declares an event, with every output sampled.
    let draft: Value = serde_json::from_str(harness.state().draft_text()).expect("JSON");
    assert_eq!(draft["method"], "thing.event.overTemp.post");
    assert_eq!(draft["params"]["time"], "now");
    let outputs = draft["params"]["events"].as_object().expect("outputs");
    assert_eq!(outputs.keys().collect::<Vec<_>>(), ["temp", "level"]);
    // temp with a quality, as protocol.md allows a number.
    harness
        .get_all_by_label("+ quality")
        .next()
        .expect("temp's quality button")
        .click();
    harness.run();
    harness.get_by_label("temp").set_value_accesskit(81.5);
    harness.run();
    let draft: Value = serde_json::from_str(harness.state().draft_text()).expect("JSON");
    assert_eq!(
        draft["params"]["events"]["temp"],
        json!({"value": 81.5, "quality": 0})
    );
    wait_for_label(&mut harness, "Predicted: 200 success");
    harness.get_by_label("Send").click();
    wait_for_label(&mut harness, "Reply: 200 success");
    let request = *rows_of(&harness, RowKind::Request)
        .last()
        .expect("a request");
    let sent = row_json(&harness, request);
    assert_eq!(
        harness.state().timeline().topic(
            harness
                .state()
                .timeline()
                .row(request)
                .expect("the request")
        ),
        "/sys/invPk/inv01/thing/event/overTemp/post",
        "the sub-device's keys, over the gateway's connection"
    );
    assert!(sent["params"]["time"].is_i64(), "resolved at send: {sent}");

    // level given a word: the hub refuses it with 1204 and says where.
    let raw = harness
        .get_all_by_label("{ }")
        .nth(1)
        .expect("level's JSON toggle");
    raw.click();
    harness.run();
    let field = harness.get_by_label("level");
    field.focus();
    field.type_text("\"high\"");
    harness.run();
    wait_for_label(&mut harness, "Predicted: 1204 model validation failed");
    harness.get_by_label("Send").click();
    wait_for_label(&mut harness, "Reply: 1204 model validation failed");
    let reply = *rows_of(&harness, RowKind::Reply).last().expect("a reply");
    let answered = row_json(&harness, reply);
    assert_eq!(answered["code"], 1204);
    assert!(
        answered["message"]
            .as_str()
            .is_some_and(|m| m.contains("params.events.level")),
        "{answered}"
    );
}

#[test]
fn a_set_built_in_the_command_mode_reaches_the_device_and_replays_as_a_fixture() {
    let (_dir, root, mut harness) = open();
    let url = harness.state().broker_url().cloned().expect("connected");
    harness.get_by_label("command").click();
    harness.run();
    wait_for_label(&mut harness, "Command builder");
    // A set of inv01's Power, in place of the starter's first point.
    let starter: Value = serde_json::from_str(harness.state().draft_text()).expect("JSON");
    assert_eq!(starter["method"], "thing.service.measurepoint.set");
    let first = starter["params"]
        .as_object()
        .and_then(|p| p.keys().next().cloned())
        .expect("a point");
    harness.get_by_label(&format!("Remove {first}")).click();
    harness.run();
    harness.get_by_label("Add point").click();
    harness.run();
    harness.get_by_label("Power (FLOAT)").click();
    harness.run();
    harness.get_by_label("Power").set_value_accesskit(4.5);
    harness.run();
    let draft: Value = serde_json::from_str(harness.state().draft_text()).expect("JSON");
    assert_eq!(
        draft,
        json!({"version": "1.0", "method": "thing.service.measurepoint.set",
               "params": {"Power": 4.5}}),
        "a bare value: a set carries no quality"
    );
    wait_for_label(&mut harness, "Check: the command matches the model");
    wait_for_label(
        &mut harness,
        "on /sys/invPk/inv01/thing/service/measurepoint/set",
    );

    // No device but the window is connected: not sent, as the platform says it.
    harness.get_by_label("Send to device").click();
    harness.run();
    wait_for_label(&mut harness, "Not sent: device offline");
    wait_for_label(&mut harness, "device offline (11900)");
    assert!(rows_of(&harness, RowKind::Command).is_empty());

    // The test gateway connects to the window's embedded broker and obeys commands.
    let device = common::device::RunningDevice::start(url.port, common::device::Flaw::None);
    let gateway = DeviceId::new("gwPk", "gw01");
    step_until(
        &mut harness,
        Duration::from_secs(20),
        "the device's connection",
        |h| {
            h.state()
                .connection
                .no_device_for_commands(&gateway)
                .is_none()
        },
    );
    harness.get_by_label("Send to device").click();
    wait_for_label(&mut harness, "Reply: 200 success");
    wait_for_label(&mut harness, "No findings in the reply");
    // The timeline: the command and the device's reply, each the other's partner.
    let command = *rows_of(&harness, RowKind::Command)
        .last()
        .expect("a command row");
    let timeline = harness.state().timeline();
    let row = timeline.row(command).expect("the command");
    assert_eq!(timeline.device(row), Some("invPk/inv01"));
    assert_eq!(
        timeline.topic(row),
        "/sys/invPk/inv01/thing/service/measurepoint/set"
    );
    let reply = row.partner().expect("answered");
    assert_eq!(
        timeline.row(reply).map(|r| r.kind),
        Some(RowKind::CommandReply)
    );
    assert_eq!(row.code().map(|c| c.0), Some(200));
    let sent = row_json(&harness, command);
    assert_eq!(row_json(&harness, reply)["id"], sent["id"], "the id echoed");
    assert!(harness.query_by_label("command reply").is_some());

    // Read back: the value set is the value the device holds.
    harness.get_by_label("get").click();
    harness.run();
    let ticked: Value = serde_json::from_str(harness.state().draft_text()).expect("JSON");
    if let Some(point) = ticked["params"][0].as_str() {
        harness.get_by_label(point).click();
        harness.run();
    }
    harness.get_by_label("Power").click();
    harness.run();
    let draft: Value = serde_json::from_str(harness.state().draft_text()).expect("JSON");
    assert_eq!(draft["params"], json!(["Power"]));
    harness.get_by_label("Send to device").click();
    step_until(
        &mut harness,
        Duration::from_secs(10),
        "the get's reply",
        |h| rows_of(h, RowKind::CommandReply).len() == 2,
    );
    let got = *rows_of(&harness, RowKind::CommandReply)
        .last()
        .expect("a reply");
    assert_eq!(row_json(&harness, got)["data"], json!({"Power": 4.5}));
    wait_for_label(&mut harness, "Reply: 200 success");

    // The set's row saved as a fixture from the timeline: a command fixture expecting 200.
    harness.state_mut().select_row(command);
    harness.run();
    harness.get_by_label("Save as fixture").click();
    harness.run();
    let id = sent["id"].as_str().expect("a string id").to_owned();
    let from_row = root.join(format!("messages/command-{id}.json"));
    step_until(
        &mut harness,
        Duration::from_secs(10),
        "the saved row",
        |_| from_row.is_file(),
    );
    let fixture: Value =
        serde_json::from_slice(&std::fs::read(&from_row).expect("saved")).expect("JSON");
    assert_eq!(
        fixture["command"],
        json!({"device": "invPk/inv01", "set": {"Power": 4.5}})
    );
    assert_eq!(fixture["expect"], json!({"code": 200}));

    // The draft saved from the Fixtures panel (the get), then run from it in the Suite tab.
    harness.get_by_label("Fixtures").click();
    harness.run();
    harness.get_by_label("Fixture name").focus();
    harness
        .get_by_label("Fixture name")
        .type_text("ui read power");
    harness.run();
    harness.get_by_label("Save fixture").click();
    let saved = root.join("messages/ui-read-power.json");
    step_until(
        &mut harness,
        Duration::from_secs(10),
        "the saved draft",
        |h| {
            saved.is_file()
                && h.query_by_label("Run ui-read-power.json").is_some()
                && h.query_by_label(&format!("Run command-{id}.json"))
                    .is_some()
        },
    );
    let fixture: Value =
        serde_json::from_slice(&std::fs::read(&saved).expect("saved")).expect("JSON");
    assert_eq!(
        fixture["command"],
        json!({"device": "invPk/inv01", "get": ["Power"]})
    );
    // Narrowed to the saved ones, so that their buttons are in view.
    harness.get_by_label("Search fixtures").focus();
    harness.get_by_label("Search fixtures").type_text("ui-read");
    harness.run();
    harness.get_by_label("Run ui-read-power.json").click();
    step_until(&mut harness, Duration::from_secs(20), "the suite", |h| {
        h.state().suite().results.len() == 1 && !h.state().suite().running()
    });
    let result = harness.state().suite().results[0]
        .as_ref()
        .expect("a result")
        .clone();
    assert!(result.passed, "{result:?}");
    harness
        .get_by_label("Search fixtures")
        .set_text_value_accesskit(&format!("command-{id}"));
    harness.run();
    harness
        .get_by_label(&format!("Run command-{id}.json"))
        .click();
    step_until(&mut harness, Duration::from_secs(20), "the suite", |h| {
        h.state().suite().results.len() == 1
            && !h.state().suite().running()
            && h.state().suite().results[0]
                .as_ref()
                .is_ok_and(|r| r.name.starts_with("command"))
    });
    let result = harness.state().suite().results[0]
        .as_ref()
        .expect("a result")
        .clone();
    assert!(result.passed, "{result:?}");
    // Opened again from the list, it is a command in the builder.
    harness.get_by_label("batch").click();
    harness
        .get_by_label("Search fixtures")
        .set_text_value_accesskit("ui-read");
    harness.run();
    wait_for_label(&mut harness, "Batch builder");
    harness.get_by_label("Open ui-read-power.json").click();
    harness.run();
    wait_for_label(&mut harness, "Command builder");
    assert_eq!(
        harness.state().draft.draft().device(),
        Some(&DeviceId::new("invPk", "inv01"))
    );

    // And with `thingbench run` on the window's broker, as CI would.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_thingbench"))
        .args([
            "run",
            from_row.to_str().expect("a path"),
            "--workspace",
            root.to_str().expect("a path"),
            "--broker",
            &url.to_string(),
        ])
        .output()
        .expect("thingbench runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("PASS"), "{text}");
    drop(device);
}

#[test]
fn the_json_view_keeps_the_keyboard_when_its_text_stops_parsing() {
    let (_dir, _root, mut harness) = open();
    harness.get_by_label("command").click();
    harness.run();
    wait_for_label(&mut harness, "Command builder");
    harness.get_by_label("JSON to send").focus();
    harness.run();
    // The first key makes the text unreadable: the builder and the check change their layout.
    harness.get_by_label("JSON to send").type_text("x");
    harness.run();
    wait_for_label(&mut harness, "The builder cannot show this message");
    assert!(
        harness.get_by_label("JSON to send").is_focused(),
        "the editor lost the keyboard"
    );
    harness.get_by_label("JSON to send").type_text("y");
    harness.run();
    assert!(
        harness.state().draft_text().contains("xy"),
        "{}",
        harness.state().draft_text()
    );
}
