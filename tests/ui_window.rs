//! The window driven by label, against the embedded broker and hub: build a batch, send it, read
//! the reply codes, save a fixture and replay it, log a sub-device out, keep the draft across a
//! restart.

mod common;

use common::copy_dir;
use common::window::{step_until, wait_for_label};

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use serde_json::{Value, json};
use thingbench::control::{LinkState, SendState};
use thingbench::history::RowKind;
use thingbench::runner::{CaseResult, Outcome, load_fixture};
use thingbench::ui::dialogs::FixedDialogs;
use thingbench::ui::{Startup, WorkbenchApp};
use thingbench::workspace::{SamplePlaces, Workspace};

/// A copy of the sample workspace, so that saving fixtures leaves `fixtures/` alone.
fn sample_workspace() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ws");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures"),
        &root,
    );
    (dir, root)
}

fn open(root: &Path, storage: Option<&dyn eframe::Storage>) -> Harness<'static, WorkbenchApp> {
    open_on(root, storage, None)
}

/// The window on `root`, connected to `broker` or to the embedded broker and hub.
fn open_on(
    root: &Path,
    storage: Option<&dyn eframe::Storage>,
    broker: Option<String>,
) -> Harness<'static, WorkbenchApp> {
    open_with_rows(root, storage, broker, 0, [1400.0, 900.0])
}

/// The window on `root`, with `demo_rows` made-up rows in its timeline before the real ones.
fn open_with_rows(
    root: &Path,
    storage: Option<&dyn eframe::Storage>,
    broker: Option<String>,
    demo_rows: usize,
    size: [f32; 2],
) -> Harness<'static, WorkbenchApp> {
    let ws = Workspace::load(root).expect("sample workspace");
    let export = root.join("export.jsonl");
    let storage = storage.map(MemoryStorage::copy_of);
    let mut harness = Harness::builder().with_size(size).build_eframe(move |cc| {
        let startup = Startup {
            workspace: Ok(ws),
            broker,
            dialogs: Box::new(FixedDialogs(export)),
            timing: None,
            demo_rows,
        };
        WorkbenchApp::new(
            startup,
            &cc.egui_ctx,
            storage.as_ref().map(|s| s as &dyn eframe::Storage),
        )
    });
    wait_until_ready(&mut harness);
    harness
}

/// Waits for the window to connect and to log the sub-devices in (it sends the logins as it
/// connects), and for the starter batch to check clean.
fn wait_until_ready(harness: &mut Harness<'_, WorkbenchApp>) {
    step_until(harness, Duration::from_secs(20), "the connection", |h| {
        *h.state().link() == LinkState::Connected && h.state().connection.pending() == 0
    });
    wait_for_label(harness, "Predicted: 200 success");
}

fn draft(harness: &Harness<'_, WorkbenchApp>) -> Value {
    serde_json::from_str(harness.state().draft_text()).expect("draft is JSON")
}

/// The last request in the timeline and the code of its reply.
fn last_exchange(harness: &Harness<'_, WorkbenchApp>) -> (Value, Option<i64>) {
    let timeline = harness.state().timeline();
    let index = (0..timeline.len())
        .rev()
        .find(|i| timeline.row(*i).is_some_and(|r| r.kind == RowKind::Request))
        .expect("a request in the timeline");
    let row = timeline.row(index).unwrap();
    let reply = row
        .partner()
        .and_then(|p| timeline.row(p))
        .expect("a reply");
    assert_eq!(reply.kind, RowKind::Reply);
    (timeline.json(row).unwrap(), reply.code().map(|c| c.0))
}

#[test]
fn build_send_valid_and_invalid_then_save_and_replay() {
    let (_dir, root) = sample_workspace();
    let mut harness = open(&root, None);

    // A fresh entry with one quality point.
    harness.get_by_label("Remove entry").click();
    harness.run();
    harness.get_by_label("+ Entry").click();
    harness.run();
    harness.get_by_label("Add point").click();
    harness.run();
    harness.get_by_label("Power (FLOAT)").click();
    harness.run();
    harness.get_by_label("Power").set_value_accesskit(42.5);
    harness.run();
    harness.get_by_label("quality").click();
    harness.run();
    harness.get_by_label("quality 7").click();
    harness.run();
    assert_eq!(
        draft(&harness)["params"][0]["measurepoints"],
        json!({"Power": {"value": 42.5, "quality": 7}})
    );
    wait_for_label(&mut harness, "Predicted: 200 success");

    harness.get_by_label("Send").click();
    wait_for_label(&mut harness, "Reply: 200 success");
    let (request, code) = last_exchange(&harness);
    assert_eq!(code, Some(200));
    assert_eq!(
        request["params"][0]["measurepoints"]["Power"],
        json!({"value": 42.5, "quality": 7})
    );
    // Resolved at send: a real time and a fresh id.
    assert!(request["params"][0]["time"].is_i64());
    assert!(request["id"].is_string());
    assert!(
        harness.query_all_by_label("200 success").count() >= 2,
        "the timeline shows the code beside the request and the reply"
    );

    // The wrong type: typed as JSON, predicted 1204, and the hub says 1204 too.
    harness.get_by_label("{ }").click();
    harness.run();
    let field = harness.get_by_label("Power");
    field.focus();
    field.type_text("\"hot\"");
    harness.run();
    wait_for_label(&mut harness, "Predicted: 1204 model validation failed");
    // Sent from the keyboard this time.
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Enter);
    wait_for_label(&mut harness, "Reply: 1204 model validation failed");
    // Held down, the key repeats: one more send, not one per repeat.
    let requests = |h: &Harness<'_, WorkbenchApp>| {
        let rows = h.state().timeline().export_jsonl();
        rows.matches("\"kind\":\"request\"").count()
    };
    let before = requests(&harness);
    harness.key_down_modifiers(egui::Modifiers::COMMAND, egui::Key::Enter);
    harness.step();
    for _ in 0..3 {
        // While the key is down, egui takes another press as a repeat.
        harness.key_down_modifiers(egui::Modifiers::COMMAND, egui::Key::Enter);
        harness.step();
    }
    harness.key_up_modifiers(egui::Modifiers::COMMAND, egui::Key::Enter);
    wait_for_label(&mut harness, "Reply: 1204 model validation failed");
    assert_eq!(requests(&harness), before + 1);
    let (request, code) = last_exchange(&harness);
    assert_eq!(code, Some(1204));
    assert!(!request["params"][0]["measurepoints"]["Power"]["value"].is_number());

    // Save it as a fixture expecting 1204, then replay every fixture as a suite.
    harness.get_by_label("Fixtures").click();
    harness.run();
    harness.get_by_label("Fixture name").focus();
    harness
        .get_by_label("Fixture name")
        .type_text("ui hot power");
    harness
        .get_by_label("Expected code")
        .set_text_value_accesskit("1204");
    harness.run();
    harness.get_by_label("Save fixture").click();
    let saved = root.join("messages/ui-hot-power.json");
    // Saving reloads the workspace on its own thread, and the window repaints until it is in:
    // wait for the file and the reload rather than a fixed number of frames.
    step_until(
        &mut harness,
        Duration::from_secs(10),
        "the saved fixture",
        |_| saved.is_file(),
    );
    let fixture: Value = serde_json::from_slice(&std::fs::read(&saved).expect("saved fixture"))
        .expect("fixture is JSON");
    assert_eq!(fixture["name"], "ui hot power");
    assert_eq!(fixture["expect"]["code"], 1204);
    assert_eq!(
        fixture["request"]["params"][0]["time"], "now",
        "templates are kept"
    );

    let ws = Workspace::load(&root).unwrap();
    // No device is connected to the window's embedded broker: its commands are skipped, said.
    let commands = ws
        .fixtures
        .iter()
        .filter(|f| f.fixture.as_ref().is_ok_and(|f| f.command().is_some()))
        .count();
    assert!(commands >= 3);
    let total = ws.fixtures.len() - commands;
    harness.get_by_label("Run all").click();
    let summary = format!("{total} passed, 0 failed, {commands} skipped");
    step_until(&mut harness, Duration::from_secs(60), &summary, |h| {
        h.query_by_label(&summary).is_some()
    });
    let results = &harness.state().suite().results;
    let got = |wanted: i64| {
        results
            .iter()
            .filter(|r| {
                matches!(r, Ok(CaseResult { outcome: Outcome::Replied { code, .. }, .. })
                    if code.0 == wanted)
            })
            .count()
    };
    assert_eq!(got(1204), 10);
    assert_eq!(got(742), 1);
    let last = results.last().unwrap().as_ref().unwrap();
    assert_eq!(
        (last.name.as_str(), last.passed),
        ("ui hot power", true),
        "the saved fixture ran last"
    );
    // The table sticks to its newest rows: the saved fixture's, with code, meaning and round trip.
    harness.run();
    assert!(
        harness
            .query_all_by_label_contains("1204 model validation failed  ")
            .count()
            >= 1
    );
}

#[test]
fn a_window_started_without_a_workspace_opens_one_and_connects() {
    let (_dir, root) = sample_workspace();
    let missing = root.join("no-such-folder");
    let mut harness = Harness::builder()
        .with_size([1400.0, 900.0])
        .build_eframe(move |cc| {
            let startup = Startup {
                workspace: Workspace::load(&missing).map_err(Into::into),
                broker: None,
                // The folder dialog answers with the sample workspace.
                dialogs: Box::new(FixedDialogs(root.clone())),
                timing: None,
                demo_rows: 0,
            };
            WorkbenchApp::new(startup, &cc.egui_ctx, None)
        });
    harness.run();
    assert!(harness.query_by_label("No workspace").is_some());
    assert_eq!(*harness.state().link(), LinkState::Off);
    harness.get_by_label("Open workspace…").click();
    wait_until_ready(&mut harness);
    harness.get_by_label("Send").click();
    wait_for_label(&mut harness, "Reply: 200 success");
}

/// The window as started from the desktop's menu: no workspace, the sample installed at
/// `installed`, its copy to go to `copy`.
fn open_from_menu(dir: &Path, installed: &Path, copy: &Path) -> Harness<'static, WorkbenchApp> {
    let missing = dir.join("no-such-folder");
    let sample = SamplePlaces {
        installed: installed.to_owned(),
        copy: copy.to_owned(),
    };
    let mut harness = Harness::builder()
        .with_size([1400.0, 900.0])
        .build_eframe(move |cc| {
            let startup = Startup {
                workspace: Workspace::load(&missing).map_err(Into::into),
                broker: None,
                dialogs: Box::new(FixedDialogs(missing.clone())),
                timing: None,
                demo_rows: 0,
            };
            WorkbenchApp::new(startup, &cc.egui_ctx, None).with_sample(Some(sample))
        });
    harness.run();
    assert!(harness.query_by_label("No workspace").is_some());
    harness
}

#[test]
fn started_from_the_menu_the_window_opens_a_copy_of_the_sample_and_keeps_its_changes() {
    let (dir, installed) = sample_workspace();
    let copy = dir.path().join("data/thingbench/sample");
    let mut harness = open_from_menu(dir.path(), &installed, &copy);
    harness.get_by_label("Try the sample workspace").click();
    wait_until_ready(&mut harness);
    assert_eq!(harness.state().workspace_root(), Some(copy.as_path()));
    assert!(copy.join("workspace.json").is_file());
    harness.get_by_label("Send").click();
    wait_for_label(&mut harness, "Reply: 200 success");
    drop(harness);

    // The user changes their copy; the next start opens it as it is, and the installed
    // sample never changes.
    let mine = copy.join("messages/zz-mine.json");
    let fixture = r#"{"name": "mine", "raw": "x", "expect": {"code": 1220}}"#;
    std::fs::write(&mine, fixture).unwrap();
    let mut harness = open_from_menu(dir.path(), &installed, &copy);
    harness.get_by_label("Try the sample workspace").click();
    wait_until_ready(&mut harness);
    assert_eq!(harness.state().workspace_root(), Some(copy.as_path()));
    assert_eq!(std::fs::read_to_string(&mine).unwrap(), fixture);
    assert!(!installed.join("messages/zz-mine.json").exists());
}

#[test]
fn with_every_point_added_each_row_keeps_its_quality_and_buttons_in_view() {
    let (_dir, root) = sample_workspace();
    // The window's own default size.
    let mut harness = open_with_rows(&root, None, None, 0, [1280.0, 800.0]);
    harness.get_by_label("Add all points").click();
    harness.run();
    // The builder ends where the check panel (with "JSON to send") begins.
    let builder_right = harness.get_by_label("JSON to send").rect().min.x;
    // Rows scrolled out of view are not in the accessibility tree: those in view are enough,
    // as the grid gives every row the same columns.
    let in_view = |what: &str, rects: Vec<egui::Rect>, at_least: usize| {
        assert!(rects.len() >= at_least, "{} {what} in view", rects.len());
        for rect in rects {
            assert!(
                rect.max.x <= builder_right,
                "a {what} at {rect:?} is hidden"
            );
        }
    };
    // The point rows' own remove buttons (an ARRAY's items have theirs inside the value).
    let removes = harness.get_all_by_label_contains("Remove point ");
    in_view("remove button", removes.map(|n| n.rect()).collect(), 5);
    let qualities = harness.get_all_by_label("quality");
    in_view("quality selector", qualities.map(|n| n.rect()).collect(), 3);
    // A value several lines high (an ARRAY's items) stays in its own row: the rows' remove
    // buttons come top to bottom, each below the one before.
    let tops: Vec<f32> = harness
        .get_all_by_label_contains("Remove point ")
        .map(|n| n.rect().min.y)
        .collect();
    let items: Vec<egui::Rect> = harness
        .get_all_by_label("+ item")
        .map(|n| n.rect())
        .collect();
    assert!(items.len() >= 2, "{} ARRAY editors in view", items.len());
    for pair in items.windows(2) {
        assert!(
            pair[0].max.y <= pair[1].min.y,
            "one ARRAY editor runs into the next: {pair:?}"
        );
    }
    assert!(
        tops.windows(2).all(|pair| pair[0] < pair[1]),
        "rows out of order: {tops:?}"
    );
}

#[test]
fn the_keyboard_moves_through_the_timeline_and_closes_the_detail() {
    let (_dir, root) = sample_workspace();
    let mut harness = open(&root, None);
    // The connection and three logins with their replies: ready means inv01's reply came,
    // the other two may still be on their way.
    step_until(
        &mut harness,
        Duration::from_secs(10),
        "every login's reply",
        |h| h.state().timeline().len() >= 7,
    );
    assert!(harness.state().timeline().len() >= 7);
    harness.state_mut().select_row(3);
    harness.run();
    assert!(harness.query_by_label_contains("Row 3:").is_some());
    harness.key_press(egui::Key::ArrowDown);
    harness.run();
    assert_eq!(harness.state().selected_row(), Some(4));
    assert!(harness.query_by_label_contains("Row 4:").is_some());
    for _ in 0..2 {
        harness.key_press(egui::Key::ArrowUp);
        harness.run();
    }
    assert_eq!(harness.state().selected_row(), Some(2));
    // Keys meant for a text field leave the selection alone, Escape included (it takes the
    // focus away from the field first).
    harness.get_by_label("Text").focus();
    harness.run();
    harness.key_press(egui::Key::ArrowDown);
    harness.run();
    harness.key_press(egui::Key::Escape);
    harness.run();
    assert_eq!(harness.state().selected_row(), Some(2));
    // Now nothing has the keyboard: Escape closes the detail.
    harness.key_press(egui::Key::Escape);
    harness.run();
    assert_eq!(harness.state().selected_row(), None);
    assert!(harness.query_by_label_contains("Row 2:").is_none());
}

#[test]
fn the_fixture_list_narrows_to_a_search_and_runs_what_it_shows() {
    let (_dir, root) = sample_workspace();
    let ws = Workspace::load(&root).unwrap();
    // What a search for "1204" finds: the fixtures expecting 1204, and any that name it.
    let about_1204 = |name: &str, path: &Path, code: Option<i64>| {
        code == Some(1204) || name.contains("1204") || path.to_string_lossy().contains("1204")
    };
    let found = ws
        .fixtures
        .iter()
        .filter(|f| {
            f.fixture
                .as_ref()
                .is_ok_and(|x| about_1204(&x.name, &f.path, x.expect.code.map(|c| c.0)))
        })
        .count();
    assert!(found > 1);
    let mut harness = open(&root, None);
    harness.get_by_label("Fixtures").click();
    harness.run();
    harness.get_by_label("Search fixtures").focus();
    harness.get_by_label("Search fixtures").type_text("1204");
    harness.run();
    let heading = format!("Fixtures ({found} of {})", ws.fixtures.len());
    assert!(harness.query_by_label(&heading).is_some(), "{heading}");
    assert!(
        harness
            .query_by_label("Run 001-valid-two-inverters.json")
            .is_none()
    );
    harness.get_by_label("Run shown").click();
    let summary = format!("{found} passed, 0 failed");
    step_until(&mut harness, Duration::from_secs(30), &summary, |h| {
        h.query_by_label(&summary).is_some()
    });
    assert!(harness.state().suite().results.iter().all(|r| {
        r.as_ref()
            .is_ok_and(|r| about_1204(&r.name, &r.path, r.expected.map(|c| c.0)))
    }));
    // A result's name opens its fixture in the builder (the list above shows the name too).
    let first = harness.state().suite().results[0].as_ref().unwrap().clone();
    harness
        .get_all_by_label(&first.name)
        .last()
        .unwrap()
        .click();
    harness.run();
    let fixture: Value = serde_json::from_slice(&std::fs::read(&first.path).unwrap()).unwrap();
    let draft = draft(&harness);
    assert_eq!(draft["params"], fixture["request"]["params"]);
}

#[test]
fn a_suite_shows_its_traffic_and_the_window_follows_its_logins() {
    let (_dir, root) = sample_workspace();
    let mut harness = open(&root, None);
    // Send once, so that the window's own session listens on the batch reply topic as well.
    harness.get_by_label("Send").click();
    wait_for_label(&mut harness, "Reply: 200 success");
    harness.get_by_label("Fixtures").click();
    harness.run();
    // A batch for inv01 and inv02, then a logout of inv01.
    harness
        .get_by_label("Run 001-valid-two-inverters.json")
        .click();
    step_until(&mut harness, Duration::from_secs(10), "the batch", |h| {
        h.state().suite().results.len() == 1
    });
    // Replies without an id: to an empty payload and to one that is not JSON.
    for file in ["021-1251-empty-payload.json", "022-1220-not-json.json"] {
        let button = format!("Run {file}");
        harness.get_by_label(&button).scroll_to_me();
        harness.run();
        harness.get_by_label(&button).click();
        let name = load_fixture(&root.join("messages").join(file))
            .unwrap()
            .name;
        step_until(&mut harness, Duration::from_secs(10), file, |h| {
            h.state()
                .suite()
                .results
                .iter()
                .any(|r| r.as_ref().is_ok_and(|r| r.name == name && r.passed))
        });
    }
    // Far down the list: scrolled to first, as a user would.
    harness
        .get_by_label("Run 061-200-logout.json")
        .scroll_to_me();
    harness.run();
    harness.get_by_label("Run 061-200-logout.json").click();
    step_until(&mut harness, Duration::from_secs(10), "the logout", |h| {
        h.state().suite().results.iter().any(|r| {
            r.as_ref()
                .is_ok_and(|r| r.name == "Logging out inv01 succeeds." && r.passed)
        })
    });
    harness.run();
    let export = harness.state().timeline().export_jsonl();
    let rows: Vec<Value> = export
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let suite_requests: Vec<&Value> = rows
        .iter()
        .filter(|r| r["kind"] == "request" && r["note"] == "suite")
        .collect();
    let batch = suite_requests
        .iter()
        .find(|r| r["topic"] == "/sys/gwPk/gw01/thing/measurepoint/post/batch")
        .expect("the suite's batch is in the timeline");
    assert_eq!(
        (batch["code"].as_i64(), batch["predicted"].as_i64()),
        (Some(200), Some(200))
    );
    let logout = suite_requests
        .iter()
        .find(|r| {
            r["topic"] == "/ext/session/gwPk/gw01/combine/logout" && r["device"] == "invPk/inv01"
        })
        .expect("the suite's logout is in the timeline");
    assert_eq!(logout["code"], 200);
    // The window's own session hears the suite's replies too; none of them is 'unpaired'.
    assert!(
        rows.iter().all(|r| r["kind"] != "unpaired reply"),
        "{export}"
    );
    // The window believes what the hub now believes: inv01 is logged out, so the starter batch
    // for inv01 is predicted 1212, and the hub answers 1212.
    harness.get_by_label("Devices").click();
    harness.run();
    assert!(harness.query_by_label("Log in invPk/inv01").is_some());
    wait_for_label(&mut harness, "Predicted: 1212");
    harness.get_by_label("Send").click();
    wait_for_label(&mut harness, "Reply: 1212");
}

#[test]
fn a_suite_and_the_builder_share_the_windows_one_gateway_connection() {
    let (_dir, root) = sample_workspace();
    let mut harness = open(&root, None);
    wait_until_ready(&mut harness);
    let gateway = thingbench::protocol::DeviceId::new("gwPk", "gw01");
    harness.get_by_label("Fixtures").click();
    harness.run();
    harness.get_by_label("Run all").click();
    step_until(
        &mut harness,
        Duration::from_secs(10),
        "the suite's start",
        |h| h.state().suite().running(),
    );
    // The builder sends while the suite runs, on the same connection; each reply comes back
    // to it (200, or 1212 once the suite logged inv01 out), none to the suite.
    let mut sent = Vec::new();
    while harness.state().suite().running() && sent.len() < 5 {
        let before = harness.state().draft.send_state.clone();
        harness.get_by_label("Send").click();
        // Until the send ends (its reply, or why not): a new state, not `Waiting`.
        step_until(
            &mut harness,
            Duration::from_secs(15),
            "the builder's reply",
            |h| {
                let now = &h.state().draft.send_state;
                *now != before && !matches!(now, Some(SendState::Waiting))
            },
        );
        match &harness.state().draft.send_state {
            Some(SendState::Replied { code, .. }) => sent.push(code.0),
            other => panic!("the builder's send ended as {other:?}"),
        }
    }
    assert!(
        sent.iter().all(|code| [200, 1212].contains(code)),
        "{sent:?}"
    );
    assert!(
        sent.len() > 1,
        "the suite ended before the builder sent twice"
    );
    step_until(
        &mut harness,
        Duration::from_secs(60),
        "the suite's end",
        |h| !h.state().suite().running(),
    );
    let suite = harness.state().suite();
    let ran = &suite.results;
    assert!(ran.len() > 30, "{} results", ran.len());
    for result in ran {
        let result = result.as_ref().expect("every fixture loads");
        assert!(
            result.passed || result.skipped(),
            "{} failed: {:?}",
            result.name,
            result.outcome
        );
    }
    let export = harness.state().timeline().export_jsonl();
    assert!(!export.contains("\"unpaired reply\""), "{export}");
    // One connection per role: the door saw the gateway come once, and it is still there.
    assert_eq!(
        harness.state().connection.connections_seen(&gateway),
        Some(1)
    );
    assert_eq!(*harness.state().link(), LinkState::Connected);
}

#[test]
fn a_logged_out_sub_device_gets_1212_and_the_timeline_exports_without_secrets() {
    let (_dir, root) = sample_workspace();
    let mut harness = open(&root, None);
    // The starter batch is for inv01.
    assert_eq!(draft(&harness)["params"][0]["deviceKey"], "inv01");
    harness.get_by_label("Devices").click();
    harness.run();
    harness.get_by_label("Log out invPk/inv01").click();
    wait_for_label(&mut harness, "invPk/inv01 logged out");
    wait_for_label(&mut harness, "Predicted: 1212 no sub-device permission");
    harness.get_by_label("Send").click();
    wait_for_label(&mut harness, "Reply: 1212 no sub-device permission");
    assert_eq!(last_exchange(&harness).1, Some(1212));

    // Log in again: the login request carries a sign, which the export must not.
    harness.get_by_label("Log in invPk/inv01").click();
    wait_for_label(&mut harness, "invPk/inv01 logged in");
    harness.get_by_label("Send").click();
    wait_for_label(&mut harness, "Reply: 200 success");

    harness.get_by_label("Export…").click();
    // The export writes on a thread of its own, and says so when it has finished.
    wait_for_label(&mut harness, "exported ");
    let export = std::fs::read_to_string(root.join("export.jsonl")).expect("export written");
    let lines: Vec<Value> = export
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let login = lines
        .iter()
        .find(|l| {
            l["topic"]
                .as_str()
                .is_some_and(|t| t.ends_with("combine/login"))
        })
        .expect("the login in the export");
    assert_eq!(login["payload"]["params"]["sign"], "***");
    assert!(!export.contains("inv01-secret"));
    assert!(lines.iter().any(|l| l["code"] == 1212));

    // The login saved as a fixture from its timeline row carries no sign and no secret: the
    // sign is made again from the workspace at replay.
    let timeline = harness.state().timeline();
    let login_row = (0..timeline.len())
        .rev()
        .find(|i| {
            timeline.row(*i).is_some_and(|r| {
                r.kind == RowKind::Request && timeline.topic(r).ends_with("combine/login")
            })
        })
        .expect("a login row");
    let login_id = timeline.msg_id(timeline.row(login_row).unwrap()).unwrap();
    harness.state_mut().select_row(login_row);
    harness.run();
    // Its payload copied to the clipboard is masked like the export.
    harness.get_all_by_label("Copy").next().unwrap().click();
    harness.step();
    let copied: Vec<&String> = harness
        .output()
        .platform_output
        .commands
        .iter()
        .filter_map(|c| match c {
            egui::OutputCommand::CopyText(text) => Some(text),
            _ => None,
        })
        .collect();
    assert_eq!(copied.len(), 1);
    let copied: Value = serde_json::from_str(copied[0]).expect("the payload as JSON");
    assert_eq!(copied["params"]["sign"], "***");
    assert_eq!(copied["id"], login_id);
    harness.get_by_label("Save as fixture").click();
    harness.run();
    let saved = std::fs::read_to_string(root.join(format!("messages/timeline-{login_id}.json")))
        .expect("the login saved as a fixture");
    assert!(!saved.contains("\"sign\""), "{saved}");
    assert!(
        !saved.contains("inv01-secret") && !saved.contains("gw-secret"),
        "{saved}"
    );
}

/// An in-memory `eframe::Storage`, to restart the app.
#[derive(Default, Clone)]
struct MemoryStorage(HashMap<String, String>);

impl MemoryStorage {
    fn copy_of(storage: &dyn eframe::Storage) -> Self {
        let mut copy = Self::default();
        if let Some(value) = storage.get_string("thingbench") {
            copy.0.insert("thingbench".into(), value);
        }
        copy
    }
}

impl eframe::Storage for MemoryStorage {
    fn get_string(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }
    fn set_string(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
    fn remove_string(&mut self, key: &str) {
        self.0.remove(key);
    }
    fn flush(&mut self) {}
}

#[test]
fn an_unsaved_draft_survives_a_restart() {
    let (_dir, root) = sample_workspace();
    let mut harness = open(&root, None);
    harness.get_by_label("skipInvalidMeasurepoints").click();
    harness.run();
    let before = harness.state().draft_text().to_owned();
    assert!(before.contains("\"skipInvalidMeasurepoints\": true"));
    let mut storage = MemoryStorage::default();
    eframe::App::save(harness.state_mut(), &mut storage);
    let saved = storage.get_string_for_test();
    assert!(!saved.contains("gw-secret"), "no secret is persisted");
    drop(harness);

    let harness = open(&root, Some(&storage));
    assert_eq!(harness.state().draft_text(), before);
}

impl MemoryStorage {
    fn get_string_for_test(&self) -> String {
        self.0.get("thingbench").cloned().unwrap_or_default()
    }
}

#[test]
fn a_timeline_row_saved_as_a_fixture_replays_with_run() {
    let (_dir, root) = sample_workspace();
    let mut harness = open(&root, None);
    harness.get_by_label("Send").click();
    wait_for_label(&mut harness, "Reply: 200 success");
    // The last request row is the batch just sent.
    harness.get_all_by_label("request").last().unwrap().click();
    harness.run();
    harness.get_by_label("Save as fixture").click();
    harness.run();
    let saved: Vec<PathBuf> = std::fs::read_dir(root.join("messages"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("timeline-")
        })
        .collect();
    assert_eq!(saved.len(), 1, "{saved:?}");
    let fixture: Value = serde_json::from_slice(&std::fs::read(&saved[0]).unwrap()).unwrap();
    assert_eq!(fixture["expect"]["code"], 200);
    assert!(
        fixture["request"].get("id").is_none(),
        "a fresh id is given at replay"
    );
    drop(harness);

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_thingbench"))
        .args([
            "run",
            saved[0].to_str().unwrap(),
            "--workspace",
            root.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("PASS"), "{text}");
}

#[test]
fn files_changed_on_disk_are_picked_up() {
    let (_dir, root) = sample_workspace();
    let mut harness = open(&root, None);
    harness.get_by_label("Fixtures").click();
    harness.run();
    let fixture = json!({
        "name": "appeared on disk",
        "request": {"version": "1.0", "method": "thing.measurepoint.post.batch", "params": []},
        "expect": {"code": 200}
    });
    std::fs::write(
        root.join("messages/zz-appeared.json"),
        serde_json::to_vec_pretty(&fixture).unwrap(),
    )
    .unwrap();
    wait_for_label(&mut harness, "appeared on disk");
    // A model broken on disk is reported by file, and the others stay.
    std::fs::write(root.join("models/wb_meter.json"), "{ not json").unwrap();
    harness.get_by_label("Models").click();
    wait_for_label(&mut harness, "wb_meter.json");
    assert!(
        harness
            .query_by_label_contains("wb_inverter (invPk)")
            .is_some()
    );
}

#[test]
fn watch_mode_checks_another_clients_traffic_and_saves_it_as_a_fixture() {
    use thingbench::runner::{Outcome, Runner};
    use thingbench::transport::{Auth, Session, SessionConfig, SessionEvent, TlsOptions};
    use thingbench::workspace::LoginState;

    let (_dir, root) = sample_workspace();
    let mut harness = open(&root, None);
    harness.get_by_label("Watch").click();
    harness.run();
    harness.get_by_label("Start watching").click();
    wait_for_label(&mut harness, "watching every device's traffic");

    // A device under test on the same broker: another client, not the window.
    let ws = Workspace::load(&root).unwrap();
    let url = harness.state().broker_url().cloned().expect("connected");
    let config = SessionConfig {
        broker: url,
        client_id: "device-under-test".into(),
        auth: Auth::None,
        keep_alive: Duration::from_secs(30),
        tls: TlsOptions::default(),
        platform: false,
    };
    let session = Session::start(config, Box::new(|| {})).unwrap();
    assert!(matches!(
        session.events.recv_timeout(Duration::from_secs(10)),
        Ok(SessionEvent::Connected)
    ));
    let mut device = Runner::new(std::sync::Arc::new(ws), &session);
    let notes = device.apply_login(&LoginState::All);
    assert_eq!(notes.len(), 1, "meter02 has no secret: {notes:?}");
    for (file, code) in [
        ("001-valid-two-inverters.json", 200),
        ("040-1204-wrong-type.json", 1204),
    ] {
        let path = root.join("messages").join(file);
        let fixture = thingbench::runner::load_fixture(&path).unwrap();
        let result = device.run_fixture(&path, &fixture);
        assert!(
            matches!(result.outcome, Outcome::Replied { code: c, .. } if c.0 == code),
            "{}",
            result.line()
        );
    }
    drop(device);
    drop(session);

    // Three logins and meter02's logout (it has no secret), then the two batches, each with
    // the checker's code beside the hub's.
    step_until(
        &mut harness,
        Duration::from_secs(10),
        "6 watched messages",
        |h| h.query_by_label_contains("6 watched · 6 agree").is_some(),
    );
    // One message of the six is invalid: predicted 1204 and answered 1204; the others 200.
    let codes: Vec<(i64, Option<i64>)> = harness
        .state()
        .watching()
        .expect("watching")
        .watched()
        .iter()
        .map(|w| (w.predicted.0, w.actual.map(|c| c.0)))
        .collect();
    let mut expected = vec![(200, Some(200)); 5];
    expected.push((1204, Some(1204)));
    assert_eq!(codes, expected);
    // In the table: the invalid message's two codes, each once.
    assert_eq!(harness.query_all_by_label("1204").count(), 2);
    // inv01's summary: a login and two batches, one of them invalid.
    assert!(
        harness.query_by_label("1204×1").is_some(),
        "invalid by code in the summary"
    );
    harness.get_by_label("Save #6").click();
    harness.run();
    let saved = root.join("messages/watched-0006-1204.json");
    let fixture: Value = serde_json::from_slice(&std::fs::read(&saved).expect("saved")).unwrap();
    assert_eq!(fixture["expect"]["code"], 1204);
    drop(harness);

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_thingbench"))
        .args([
            "run",
            saved.to_str().unwrap(),
            "--workspace",
            root.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
}

#[test]
fn the_window_says_when_the_broker_goes_and_reconnects_when_it_returns() {
    let (_dir, root) = sample_workspace();
    let port = common::free_port();
    let serve = common::serve_on(port);
    let mut harness = open_on(&root, None, Some(format!("mqtt://127.0.0.1:{port}")));
    drop(serve);
    // In words, at the top, while the session retries by itself.
    wait_for_label(&mut harness, "retrying");
    // Long enough for several attempts (50, 100, 200, 400 ms apart), each refused.
    let outage = Instant::now() + Duration::from_millis(1200);
    while Instant::now() < outage {
        std::thread::sleep(Duration::from_millis(10));
        harness.step();
    }
    let _serve = common::serve_on(port);
    step_until(&mut harness, Duration::from_secs(15), "reconnected", |h| {
        *h.state().link() == LinkState::Connected
    });
    // The fresh hub forgot the logins; the window logs in again and the send gets a 200.
    wait_for_label(&mut harness, "meterPk/meter01 logged in");
    harness.get_by_label("Send").click();
    wait_for_label(&mut harness, "Reply: 200 success");
    let rows = harness.state().timeline().export_jsonl();
    // The outage is in the timeline once, with why it began, not once per failed attempt.
    let notes: Vec<String> = rows
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["kind"] == "disconnected")
        .map(|r| r["note"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(notes.len(), 1, "{notes:#?}");
}

#[test]
fn a_runaway_suite_stops_from_the_window_and_keeps_its_results() {
    let (_dir, root) = sample_workspace();
    // Sixty fixtures that each wait 200 ms for a silence: twelve seconds unless stopped.
    for i in 0..60 {
        let fixture = json!({"name": format!("slow {i:02}"), "topic": "/sys/gwPk/gw01/thing/event/post",
            "request": {"version": "1.0"}, "expect": {"noReply": true, "withinMs": 200}});
        std::fs::write(
            root.join(format!("messages/slow-{i:02}.json")),
            fixture.to_string(),
        )
        .unwrap();
    }
    let mut harness = open(&root, None);
    harness.get_by_label("Fixtures").click();
    harness.run();
    harness.get_by_label("Run all").click();
    step_until(&mut harness, Duration::from_secs(20), "some results", |h| {
        h.state().suite().results.len() > 45
    });
    harness.get_by_label("Stop").click();
    step_until(&mut harness, Duration::from_secs(5), "stopped", |h| {
        h.state()
            .suite()
            .note
            .as_deref()
            .is_some_and(|n| n.starts_with("stopped"))
    });
    let suite = harness.state().suite();
    let total = common::all_sample_fixtures().len() + 60;
    assert!(suite.results.len() < total, "{} ran", suite.results.len());
    assert_eq!(suite.queued, 0);
    let note = suite.note.clone().unwrap();
    assert_eq!(
        note,
        format!("stopped: {} fixtures not run", total - suite.results.len())
    );
    // What ran before the stop is kept, and exports as JUnit (the test's dialog answers with
    // the workspace's export.jsonl).
    let ran = suite.results.len();
    harness.get_by_label("Export JUnit…").click();
    harness.run();
    let xml = std::fs::read_to_string(root.join("export.jsonl")).expect("JUnit written");
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert_eq!(xml.matches("<testcase ").count(), ran, "{xml}");
    assert_eq!(
        xml.matches("<failure").count(),
        harness
            .state()
            .suite()
            .results
            .iter()
            .filter(|r| !r.as_ref().is_ok_and(|r| r.passed || r.skipped()))
            .count()
    );
}

#[test]
fn the_plot_shows_the_values_sent_for_a_point() {
    let (_dir, root) = sample_workspace();
    let mut harness = open(&root, None);
    harness.get_by_label("Power").set_value_accesskit(7.5);
    harness.run();
    harness.get_by_label("Send").click();
    wait_for_label(&mut harness, "Reply: 200 success");
    harness.get_by_label("Power").set_value_accesskit(9.25);
    harness.run();
    harness.get_by_label("Send").click();
    step_until(
        &mut harness,
        Duration::from_secs(10),
        "the second reply",
        |h| {
            h.state()
                .timeline()
                .export_jsonl()
                .matches("\"kind\":\"reply\"")
                .count()
                == 5
        },
    );
    // Away from the panels that list devices and points, so that each name is found once.
    harness.get_by_label("Connection").click();
    harness.get_by_label("Plot").click();
    harness.run();
    harness.get_by_label("Device").click();
    harness.run();
    harness.get_by_label("invPk/inv01").click();
    harness.run();
    harness.get_by_label("Points").click();
    harness.run();
    // The menu's checkboxes, not the builder's fields of the same names.
    for point in ["Power", "INV.GenActivePW"] {
        harness
            .get_by_role_and_label(egui::accesskit::Role::CheckBox, point)
            .click();
        harness.run();
    }
    wait_for_label(&mut harness, "2 points, 4 samples sent");
    let series = harness.state().plot().series();
    let values = |point: &str| -> Vec<f64> {
        let s = series.iter().find(|s| s.point == point).expect(point);
        s.samples.iter().map(|[_, y]| *y).collect()
    };
    assert_eq!(values("Power"), [7.5, 9.25]);
    assert_eq!(values("INV.GenActivePW"), [0.0, 0.0]);
    // At the times the entries carried, in order.
    let times: Vec<f64> = series[0].samples.iter().map(|[t, _]| *t).collect();
    assert!(times[0] <= times[1] && times[0] > 1.7e9, "{times:?}");
}

#[test]
fn an_oversized_draft_is_refused_until_sent_on_purpose() {
    let (_dir, root) = sample_workspace();
    // A small limit keeps the oversized batch (about 2 KiB as sent) quick to edit.
    let config = root.join("workspace.json");
    let mut workspace: Value = serde_json::from_slice(&std::fs::read(&config).unwrap()).unwrap();
    workspace["limits"] = json!({"maxPayload": 1500});
    std::fs::write(&config, workspace.to_string()).unwrap();
    let mut harness = open(&root, None);
    let two: Value = serde_json::from_slice(
        &std::fs::read(root.join("messages/001-valid-two-inverters.json")).unwrap(),
    )
    .unwrap();
    let mut request = two["request"].clone();
    let params = request["params"].as_array().unwrap();
    request["params"] = Value::Array(params.iter().cycle().take(12).cloned().collect());
    let text = serde_json::to_string_pretty(&request).unwrap();
    harness
        .get_by_label("JSON to send")
        .set_text_value_accesskit(&text);
    harness.step();
    wait_for_label(&mut harness, "Predicted: 1008");
    let rows_before = harness.state().timeline().len();

    // Refused in words, and nothing goes out.
    harness.get_by_label("Send").click();
    wait_for_label(&mut harness, "not sent: the payload is");
    assert!(
        harness
            .query_by_label_contains("tick \"Send over the limit\"")
            .is_some()
    );
    assert_eq!(harness.state().timeline().len(), rows_before);

    // Asked for, it goes, and the hub answers 1008.
    harness.get_by_label("Send over the limit").click();
    harness.run();
    harness.get_by_label("Send").click();
    wait_for_label(&mut harness, "Reply: 1008");
    assert_eq!(last_exchange(&harness).1, Some(1008));

    // Saved as a fixture, it keeps the choice, so that `run` sends it too.
    harness.get_by_label("Fixtures").click();
    harness.run();
    harness.get_by_label("Fixture name").focus();
    harness
        .get_by_label("Fixture name")
        .type_text("big on purpose");
    harness
        .get_by_label("Expected code")
        .set_text_value_accesskit("1008");
    harness.run();
    harness.get_by_label("Save fixture").click();
    let big = root.join("messages/big-on-purpose.json");
    step_until(
        &mut harness,
        Duration::from_secs(10),
        "the saved fixture",
        |_| big.is_file(),
    );
    let saved: Value =
        serde_json::from_slice(&std::fs::read(&big).expect("saved fixture")).unwrap();
    assert_eq!(saved["sendOversize"], true);
    assert_eq!(saved["expect"]["code"], 1008);
}

#[test]
fn a_text_filter_over_many_rows_is_found_a_slice_per_frame() {
    let (_dir, root) = sample_workspace();
    let mut harness = open_with_rows(&root, None, None, 100_000, [1400.0, 900.0]);
    let text = "\"deviceKey\":\"inv01\"";
    let field = harness.get_by_label("Text");
    field.focus();
    field.type_text(text);
    step_until(&mut harness, Duration::from_secs(10), "the filter", |h| {
        h.state().timeline().filter().text == text
    });
    // Until every row is matched, the window draws the rows found so far and says so.
    let mut frames = 0;
    while harness.state().timeline().scan_progress().is_some() {
        frames += 1;
        assert!(
            harness.query_by_label_contains("filtering").is_some(),
            "a scan is under way and the window does not say so"
        );
        harness.step();
        assert!(frames < 10_000, "the scan does not end");
    }
    harness.step();
    assert!(harness.query_by_label_contains("filtering").is_none());
    let timeline = harness.state().timeline();
    let expected: Vec<usize> = (0..timeline.len())
        .filter(|&i| {
            let row = timeline.row(i).unwrap();
            memchr_contains(&timeline.payload(row), text.as_bytes())
        })
        .collect();
    // A quarter of the 50,000 made-up requests, and any real ones that say so.
    assert!(expected.len() >= 50_000 / 4, "{}", expected.len());
    let shown: Vec<usize> = (0..timeline.visible_len())
        .map(|n| timeline.visible(n).unwrap())
        .collect();
    assert!(
        shown == expected,
        "{} rows shown, {} expected",
        shown.len(),
        expected.len()
    );
    assert!(
        harness
            .query_by_label_contains(&format!("{} of {} rows", shown.len(), timeline.len()))
            .is_some()
    );
}

fn memchr_contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Makes `point` in `models/<file>` on disk a STRING without quality.
fn make_text_point(root: &Path, file: &str, point: &str) {
    let path = root.join("models").join(file);
    let mut model: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    model["measurepoints"][point]["dataType"] = json!("STRING");
    model["measurepoints"][point]["hasQuality"] = json!(false);
    std::fs::write(&path, serde_json::to_vec_pretty(&model).unwrap()).unwrap();
}

#[test]
fn a_model_changed_on_disk_reaches_the_check_and_the_embedded_hub_alike() {
    let (_dir, root) = sample_workspace();
    let mut harness = open(&root, None);
    harness.get_by_label("Send").click();
    wait_for_label(&mut harness, "Reply: 200 success");
    // Power becomes a text without quality: the starter batch's number no longer fits.
    make_text_point(&root, "wb_inverter.json", "Power");
    wait_for_label(&mut harness, "Predicted: 1204");
    harness.get_by_label("Send").click();
    wait_for_label(&mut harness, "Reply: 1204");
    let (_, code) = last_exchange(&harness);
    assert_eq!(code, Some(1204), "the hub answers with the new model");
    // A broken edit: the last good model stays in use, in the window and in the hub, and
    // the Models tab names the file.
    std::fs::write(root.join("models/wb_inverter.json"), "{ not json").unwrap();
    harness.get_by_label("Models").click();
    wait_for_label(&mut harness, "wb_inverter.json");
    assert!(
        harness
            .query_by_label_contains("wb_inverter (invPk)")
            .is_some(),
        "the last good model is still listed"
    );
    wait_for_label(&mut harness, "Predicted: 1204");
    let sent = harness.state().timeline().len();
    harness.get_by_label("Send").click();
    step_until(&mut harness, Duration::from_secs(10), "the reply", |h| {
        h.state().timeline().len() >= sent + 2
    });
    let (_, code) = last_exchange(&harness);
    assert_eq!(code, Some(1204), "the hub kept the last good model");
}

/// Writes `plans/window.json`: the workspace's plan `name` with a period of 1 s, not 0.5 s.
fn slower_plan(root: &Path, name: &str) {
    let plan = std::fs::read_to_string(root.join("plans").join(name)).expect("the plan");
    assert!(plan.contains(r#""periodS": 0.5"#), "{plan}");
    std::fs::write(
        root.join("plans/window.json"),
        plan.replace(r#""periodS": 0.5"#, r#""periodS": 1"#),
    )
    .expect("a plan written");
}

fn open_qualify_tab(harness: &mut Harness<'_, WorkbenchApp>) {
    harness.get_by_label("Qualify").click();
    harness.run();
}

/// Starts the chosen plan on a free port (port 0: the tab shows which): that port.
fn start_qualifying(harness: &mut Harness<'_, WorkbenchApp>) -> u16 {
    harness
        .get_by_label("Device connects to")
        .set_text_value_accesskit("127.0.0.1:0");
    harness.run();
    harness.get_by_label("Start qualifying").click();
    harness.run();
    let port = harness
        .state()
        .qualifying()
        .run
        .as_ref()
        .expect("a run")
        .listen
        .port();
    assert_ne!(port, 0);
    port
}

fn wait_for_the_plans_end(harness: &mut Harness<'_, WorkbenchApp>) {
    step_until(harness, Duration::from_secs(60), "the plan's end", |h| {
        h.state()
            .qualifying()
            .run
            .as_ref()
            .is_some_and(|r| r.state == thingbench::control::RunState::Done)
    });
}

#[test]
fn the_qualify_tab_plays_a_plan_against_a_device_and_shows_every_verdict() {
    let (_dir, root) = sample_workspace();
    // The short plan's phases with a period of 1 s instead of 0.5 s: this test is about the
    // tab, and the device shares the test process with the window and the other tests, so its
    // reports get the slack of a slower period (tests/qualify.rs holds the device to 0.5 s).
    slower_plan(&root, "short.json");
    let mut harness = open(&root, None);
    open_qualify_tab(&mut harness);
    // The plans of the workspace, by file.
    harness.get_by_label("Plan").click();
    harness.run();
    assert!(harness.query_by_label("short.json").is_some());
    harness.get_by_label("window.json").click();
    harness.run();
    let port = start_qualifying(&mut harness);
    wait_for_label(&mut harness, &format!("to mqtt://127.0.0.1:{port}"));
    let device = common::device::RunningDevice::start(port, common::device::Flaw::None);
    wait_for_the_plans_end(&mut harness);
    drop(device);
    harness.run();
    let run = harness.state().qualifying().run.as_ref().expect("a run");
    let verdicts: Vec<(&str, &str)> = run
        .results
        .iter()
        .map(|r| (r.check.id(), r.verdict.name()))
        .collect();
    assert_eq!(verdicts.len(), thingbench::qualify::CheckId::ALL.len());
    // The plan sends no command and shows no bad certificate: those five checks are n/a, every
    // other one passes.
    let not_passed: Vec<_> = run
        .results
        .iter()
        .filter(|r| r.verdict.name() != "pass")
        .filter(|r| {
            let not_played = [
                "answers-commands",
                "reply-codes",
                "applies-set",
                "outputs-match",
                "refuses-bad-certificates",
            ];
            !(not_played.contains(&r.check.id()) && r.verdict.name() == "n/a")
        })
        .collect();
    assert!(
        not_passed.is_empty(),
        "{verdicts:?}\n{not_passed:#?}\n{:#?}",
        run.log
    );
    // In the tab and on the status line.
    assert_eq!(
        harness
            .query_all_by_label_contains("no MUST check failed")
            .count(),
        2
    );
    // The short plan sends no command and shows no bad certificate: five checks are n/a.
    assert_eq!(
        harness.query_all_by_label("PASS").count(),
        thingbench::qualify::CheckId::ALL.len() - 5
    );
    // The device's traffic is in the timeline, marked dut, with the codes it was answered.
    let timeline = harness.state().timeline();
    let dut: Vec<_> = (0..timeline.len())
        .filter_map(|i| timeline.row(i))
        .filter(|r| r.kind == RowKind::Dut)
        .collect();
    assert!(dut.len() > 10, "{} dut rows", dut.len());
    assert!(dut.iter().any(|r| r.code().is_some_and(|c| c.0 == 1204)));
    assert!(
        dut.iter().any(|r| r.code().is_none()),
        "the silent phase's requests"
    );
    // Its report, exported from the tab (the test's dialog answers export.jsonl).
    harness.get_by_label("Export report…").click();
    let exported = root.join("export.jsonl");
    step_until(&mut harness, Duration::from_secs(10), "the report", |_| {
        std::fs::read_to_string(&exported).is_ok_and(|html| html.contains("gives-up-on-rejects"))
    });
}

#[test]
fn the_qualify_tab_lists_the_plans_commands_shows_where_each_stands_and_draws_the_run() {
    use thingbench::qualify::CommandStatus;
    use thingbench::qualify::picture::{BandKind, MarkKind};
    let (_dir, root) = sample_workspace();
    // The commands plan with a period of 1 s, for the slack a shared process needs (see above).
    slower_plan(&root, "commands.json");
    let mut harness = open(&root, None);
    open_qualify_tab(&mut harness);
    harness.get_by_label("Plan").click();
    harness.run();
    harness.get_by_label("window.json").click();
    harness.run();
    // Before it runs: the plan's commands beside its phases, in the order they fall due.
    assert!(harness.query_by_label("Commands").is_some());
    for line in [
        "1.2 s  invPk/inv01: set Power = 3.5",
        "1.4 s  gwPk/gw01: get cpuLoad",
        "3.5 s  gwPk/gw01: get cpuLoad",
        "4.0 s  invPk/inv01: set Power = 4.5",
    ] {
        assert!(
            harness.query_by_label_contains(line).is_some(),
            "{line} in the preview"
        );
    }
    let port = start_qualifying(&mut harness);
    let device = common::device::RunningDevice::start(port, common::device::Flaw::None);
    // Live: the picture follows the plan's clock, the commands their state.
    step_until(
        &mut harness,
        Duration::from_secs(60),
        "the outage's commands held",
        |h| {
            h.state().qualifying().run.as_ref().is_some_and(|r| {
                r.commands.iter().any(|c| c.status == CommandStatus::Held)
                    && r.picture.as_ref().is_some_and(|p| p.now_ms.is_some())
            })
        },
    );
    wait_for_label(&mut harness, "held: its target is offline");
    wait_for_the_plans_end(&mut harness);
    drop(device);
    harness.run();
    let run = harness.state().qualifying().run.as_ref().expect("a run");
    let verdicts: Vec<(&str, &str)> = run
        .results
        .iter()
        .map(|r| (r.check.id(), r.verdict.name()))
        .collect();
    assert_eq!(verdicts.len(), thingbench::qualify::CheckId::ALL.len());
    // The plan shows no bad certificate; everything else passes.
    assert!(
        verdicts
            .iter()
            .all(|(id, v)| *v == "pass" || (*id == "refuses-bad-certificates" && *v == "n/a")),
        "{verdicts:?}\n{:#?}",
        run.log
    );
    // Every command answered, the outage's after it.
    assert_eq!(run.commands.len(), 6);
    assert!(run.commands.iter().all(|c| c.good), "{:#?}", run.commands);
    assert_eq!(
        run.commands[3].status,
        CommandStatus::Answered(Some(thingbench::protocol::ReplyCode(2001)))
    );
    assert!(harness.query_all_by_label("answered 200 (success)").count() >= 5);
    assert!(
        harness
            .query_by_label("answered 2001 (the device's own error)")
            .is_some()
    );
    // The picture: a band per phase, the connection, both reporting devices, the commands.
    let picture = run.picture.as_ref().expect("a picture");
    assert_eq!(picture.now_ms, None, "final once the plan is over");
    let bands: Vec<BandKind> = picture.bands.iter().map(|b| b.kind).collect();
    assert_eq!(
        bands,
        [BandKind::Normal, BandKind::Outage, BandKind::Normal]
    );
    let lanes: Vec<&str> = picture.lanes.iter().map(|l| l.label.as_str()).collect();
    assert_eq!(
        lanes,
        ["connection", "gwPk/gw01", "invPk/inv01", "commands"]
    );
    let commands = &picture.lanes[3].marks;
    let held = commands
        .iter()
        .filter(|m| m.kind == MarkKind::CommandHeld)
        .count();
    let answered = commands
        .iter()
        .filter(|m| m.kind == MarkKind::CommandAnswered)
        .count();
    assert_eq!((held, answered), (2, 6), "{commands:#?}");
    assert!(
        picture.lanes[2]
            .marks
            .iter()
            .any(|m| m.kind == MarkKind::Backfill)
    );
    assert!(picture.pins.is_empty());
    // The device's replies join the timeline as its rows, with their codes.
    let timeline = harness.state().timeline();
    let replies = (0..timeline.len())
        .filter_map(|i| timeline.row(i))
        .filter(|r| r.kind == RowKind::Dut && timeline.note(r).contains("reply to a command"))
        .filter(|r| r.code().is_some_and(|c| c.0 == 200 || c.0 == 2001))
        .count();
    assert_eq!(replies, 6);
}

#[test]
fn a_device_signing_wrong_is_refused_by_the_embedded_broker_and_the_window_says_so() {
    use std::io::{Read as _, Write as _};
    use thingbench::protocol::{DeviceId, EpochMs, connect_credentials};

    let (_dir, root) = sample_workspace();
    let mut harness = open(&root, None);
    let url = harness.state().broker_url().cloned().expect("connected");
    // A CONNECT as the gateway with the wrong secret, as a device with broken signing sends it.
    let gw = DeviceId::new("gwPk", "gw01");
    let creds = connect_credentials("gw01", &gw, "wrong-secret", EpochMs::now());
    let mut body = Vec::new();
    for (i, field) in ["MQTT", &creds.client_id, &creds.username, &creds.password]
        .iter()
        .enumerate()
    {
        body.extend_from_slice(&u16::try_from(field.len()).unwrap().to_be_bytes());
        body.extend_from_slice(field.as_bytes());
        if i == 0 {
            body.extend_from_slice(&[4, 0xC2, 0, 30]);
        }
    }
    // The remaining length, in MQTT's 7-bit groups (the body is under 16 KiB).
    let length = body.len();
    let mut packet = vec![0x10];
    if length < 128 {
        packet.push(u8::try_from(length).unwrap());
    } else {
        packet.push(u8::try_from(length % 128).unwrap() | 0x80);
        packet.push(u8::try_from(length / 128).unwrap());
    }
    packet.extend(body);
    let mut device = std::net::TcpStream::connect((url.host.as_str(), url.port)).unwrap();
    device.write_all(&packet).unwrap();
    device
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut connack = [0u8; 4];
    device.read_exact(&mut connack).unwrap();
    assert_eq!(connack, [0x20, 2, 0, 5], "CONNACK 5: not authorized");
    // One row in the timeline and the status line name the device and the reason.
    step_until(
        &mut harness,
        Duration::from_secs(10),
        "the refusal's row",
        |h| {
            h.state()
                .timeline()
                .export_jsonl()
                .contains("\"kind\":\"refused\"")
        },
    );
    let export = harness.state().timeline().export_jsonl();
    let row = export
        .lines()
        .find(|l| l.contains("\"kind\":\"refused\""))
        .expect("a refused row");
    assert!(
        row.contains("gwPk/gw01") && row.contains("does not match the device's secret"),
        "{row}"
    );
    let status = harness.state().status().cloned().expect("a status");
    assert!(
        status.error && status.text.contains("gwPk/gw01"),
        "{status:?}"
    );
    // The window's own session, signed right, is still connected.
    assert_eq!(*harness.state().link(), LinkState::Connected);
}

#[test]
fn tls_for_devices_makes_the_embedded_broker_speak_tls_and_the_window_still_gets_a_200() {
    use std::io::{Read as _, Write as _};

    let (_dir, root) = sample_workspace();
    let mut harness = open(&root, None);
    let plain = harness.state().broker_url().cloned().expect("connected");
    assert_eq!(plain.scheme, thingbench::transport::Scheme::Mqtt);
    harness.get_by_label("Connection").click();
    harness.run();
    harness.get_by_label("TLS for devices").click();
    harness.run();
    harness.get_by_label("Connect").click();
    // A spinner turns while the broker starts again: step, do not wait for a still frame.
    harness.step();
    step_until(
        &mut harness,
        Duration::from_secs(20),
        "a connection over TLS",
        |h| {
            *h.state().link() == LinkState::Connected
                && h.state()
                    .broker_url()
                    .is_some_and(|u| u.scheme == thingbench::transport::Scheme::Mqtts)
        },
    );
    // The local CA, made in the workspace, is the one the panel names for devices.
    let ca = root.join(".thingbench/tls/ca.pem");
    assert!(ca.is_file());
    wait_for_label(&mut harness, "trusting");
    wait_for_label(&mut harness, "Predicted: 200 success");
    harness.get_by_label("Send").click();
    wait_for_label(&mut harness, "Reply: 200 success");
    let (_, code) = last_exchange(&harness);
    assert_eq!(code, Some(200));
    // The door speaks TLS only: a plain CONNECT gets no CONNACK.
    let url = harness.state().broker_url().cloned().expect("connected");
    let mut plain = std::net::TcpStream::connect((url.host.as_str(), url.port)).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut connect = vec![0x10, 12, 0, 4];
    connect.extend_from_slice(b"MQTT");
    connect.extend_from_slice(&[4, 0x02, 0, 30, 0, 0]);
    plain.write_all(&connect).unwrap();
    let mut answer = [0u8; 4];
    let read = plain.read(&mut answer).unwrap_or(0);
    assert!(
        read == 0 || answer[0] != 0x20,
        "a plain client got {:?}",
        &answer[..read]
    );
}
