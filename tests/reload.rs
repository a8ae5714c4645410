//! One workspace truth: a model changed on disk reaches the hub of `thingbench serve` and the
//! embedded hub of a live workspace within 2 s, and a broken edit keeps the last good model
//! and is reported, naming the file.

mod common;

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use thingbench::runner::connect::{gateway_session, start_embedded};
use thingbench::runner::{Outcome, Runner, load_fixture};
use thingbench::transport::{BrokerUrl, Session, TlsOptions};
use thingbench::workspace::{Fixture, LiveWorkspace, Snapshot, Workspace};

/// How soon a change on disk must reach the hub.
const WITHIN: Duration = Duration::from_secs(2);

/// The inverter model's file in workspace `ws`.
fn inverter_model(ws: &Path) -> PathBuf {
    ws.join("models/wb_inverter.json")
}

/// Makes the inverter's `Power` an INT: the sample batch's `3.2` then gets 1204.
fn make_power_an_int(ws: &Path) {
    let file = inverter_model(ws);
    let mut model: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).expect("read")).expect("json");
    assert_eq!(model["measurepoints"]["Power"]["dataType"], "FLOAT");
    model["measurepoints"]["Power"]["dataType"] = "INT".into();
    std::fs::write(&file, model.to_string()).expect("write");
}

/// A device sending the sample two-inverter batch, as the workspace's gateway.
struct Device {
    session: Session,
    workspace: Arc<Workspace>,
    fixture: Fixture,
    path: PathBuf,
}

impl Device {
    fn connect(ws: &Path, url: BrokerUrl) -> Self {
        let workspace = Arc::new(Workspace::load(ws).expect("workspace loads"));
        let session =
            gateway_session(&workspace, url, TlsOptions::default()).expect("device connects");
        let path = ws.join("messages/001-valid-two-inverters.json");
        let fixture = load_fixture(&path).expect("fixture loads");
        Self {
            session,
            workspace,
            fixture,
            path,
        }
    }

    /// Sends the batch (logging the inverters in the first time) and returns the reply's code
    /// and message.
    fn send(&self, runner: &mut Runner<'_>) -> (i64, String) {
        match runner.run_fixture(&self.path, &self.fixture).outcome {
            Outcome::Replied { code, message, .. } => (code.0, message.unwrap_or_default()),
            other => panic!("no reply: {}", other.describe()),
        }
    }

    fn runner(&self) -> Runner<'_> {
        Runner::new(Arc::clone(&self.workspace), &self.session)
    }
}

/// Does `change` to the files and waits for the live workspace's first publish after it that
/// `wanted` accepts, for at most `limit`: a reload is an event, not a time.
fn publish_after(
    live: &LiveWorkspace,
    change: impl FnOnce(),
    limit: Duration,
    wanted: impl Fn(&Snapshot) -> bool,
) -> Snapshot {
    let (tx, published) = mpsc::channel();
    let mut feed = live.subscribe_waking(move || {
        // The receiver is gone once the test has what it waited for.
        let _ = tx.send(());
    });
    let deadline = Instant::now() + limit;
    change();
    loop {
        if let Some(snapshot) = feed.newest().filter(|s| wanted(s)) {
            return snapshot;
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        published
            .recv_timeout(remaining)
            .unwrap_or_else(|_| panic!("no such reload within {} ms", limit.as_millis()));
    }
}

/// The reply of a hub that still uses the INT model: 1204 for the type, not for a lost model.
fn assert_answers_with_the_int_model(device: &Device, runner: &mut Runner<'_>) {
    let (code, message) = device.send(runner);
    assert_eq!(code, 1204, "{message}");
    assert!(
        message.contains("Power") && !message.contains("no thing model"),
        "{message}"
    );
}

#[test]
fn serve_answers_with_a_changed_model_within_2_s_and_keeps_it_when_the_file_breaks() {
    let ws = common::copy_workspace();
    let port = common::free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut serve = common::Killed(
        Command::new(env!("CARGO_BIN_EXE_thingbench"))
            .args(["serve", "--listen", &listen, "--workspace"])
            .arg(ws.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("serve starts"),
    );
    let (lines_tx, lines) = mpsc::channel();
    let stderr = serve.0.stderr.take().expect("stderr");
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { return };
            if lines_tx.send(line).is_err() {
                return;
            }
        }
    });
    let ready = lines
        .recv_timeout(Duration::from_secs(30))
        .expect("serve says it is ready");
    assert!(ready.contains("with the reference hub"), "{ready}");

    let url = BrokerUrl::parse(&format!("mqtt://{listen}")).expect("url");
    let device = Device::connect(ws.path(), url);
    let mut runner = device.runner();
    assert_eq!(device.send(&mut runner).0, 200);

    make_power_an_int(ws.path());
    // serve says so once its hub has the new model, for the next request.
    let reloaded = lines
        .recv_timeout(WITHIN)
        .expect("serve reports the reload within 2 s");
    assert!(reloaded.contains("reloaded models from"), "{reloaded}");
    let (code, message) = device.send(&mut runner);
    assert_eq!(code, 1204, "the changed model answers: {message}");

    std::fs::write(inverter_model(ws.path()), "{\"modelId\": \"wb_inverter\",").expect("write");
    let deadline = Instant::now() + Duration::from_secs(5);
    let said = loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let line = lines
            .recv_timeout(remaining)
            .expect("serve reports the broken model within 5 s");
        if line.contains("keeping") {
            break line;
        }
    };
    assert!(
        said.contains("models/wb_inverter.json")
            && said.contains("keeping the version loaded before"),
        "{said}"
    );
    assert_answers_with_the_int_model(&device, &mut runner);
}

#[test]
fn the_embedded_hub_of_a_live_workspace_follows_the_files() {
    let ws = common::copy_workspace();
    let live = LiveWorkspace::open(ws.path()).expect("workspace loads");
    let (broker, _hub) = start_embedded(live.subscribe(), None).expect("embedded starts");
    let device = Device::connect(ws.path(), broker.url());
    let mut runner = device.runner();
    assert_eq!(device.send(&mut runner).0, 200);

    publish_after(&live, || make_power_an_int(ws.path()), WITHIN, |_| true);
    let (code, message) = device.send(&mut runner);
    assert_eq!(code, 1204, "the changed model answers: {message}");

    let broken = || std::fs::write(inverter_model(ws.path()), "not json").expect("write");
    let notices = publish_after(&live, broken, Duration::from_secs(5), |s| {
        !s.notices.is_empty()
    })
    .notices;
    assert!(
        notices[0].contains("wb_inverter.json") && notices[0].contains("keeping"),
        "{notices:?}"
    );
    assert_answers_with_the_int_model(&device, &mut runner);
}

#[test]
fn a_running_suite_takes_up_a_reload_at_its_next_fixture() {
    use thingbench::control::{Command, ConnectionForm, Workbench};
    let ws = common::copy_workspace();
    let workspace = Workspace::load(ws.path()).expect("workspace loads");
    // The window's workbench: the embedded broker and hub, its one gateway session.
    let (woken_tx, woken) = mpsc::channel::<()>();
    let wake: thingbench::control::Wake = Arc::new(move || {
        let _ = woken_tx.send(());
    });
    let mut bench = Workbench::new(Ok(workspace), ConnectionForm::default(), None, wake);
    bench.connect();
    let until = |bench: &mut Workbench, what: &str, done: &dyn Fn(&Workbench) -> bool| {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            bench.poll();
            if done(bench) {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no {what} within 20 s");
            // Woken by any news of the background; a tick for the suite's own clock.
            let _ = woken.recv_timeout(left.min(Duration::from_millis(250)));
        }
    };
    until(&mut bench, "connection", &|b| b.connection.connected());
    let fixture = ws.path().join("messages/001-valid-two-inverters.json");
    bench.apply(Command::RunSuite(vec![fixture.clone()]));
    until(&mut bench, "result", &|b| b.suite.results.len() == 1);
    let first = bench.suite.results[0].as_ref().expect("loaded");
    assert!(
        matches!(first.outcome, Outcome::Replied { code, .. } if code.0 == 200),
        "{first:?}"
    );

    // A payload limit below the batch's size: the suite must now refuse to send it.
    let file = ws.path().join("workspace.json");
    let mut value: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).expect("read")).expect("json");
    value["limits"] = serde_json::json!({"maxPayload": 100});
    std::fs::write(&file, value.to_string()).expect("write");
    until(&mut bench, "reload", &|b| b.registry().max_payload == 100);
    bench.apply(Command::RunSuite(vec![fixture]));
    until(&mut bench, "second result", &|b| {
        b.suite.results.len() == 1 && !b.suite.running()
    });
    let outcome = &bench.suite.results[0].as_ref().expect("loaded").outcome;
    assert!(
        matches!(outcome, Outcome::NotSent { .. }),
        "{}",
        outcome.describe()
    );
}
