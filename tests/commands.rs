//! Commands to a device, from thingbench's platform side, against the real embedded broker
//! (`thingbench serve`) and mosquitto: the sample's command fixtures replayed by `thingbench
//! run` to a test gateway on rumqttc that obeys them for itself and its sub-device, and to
//! gateways that answer wrong, each failing with the finding the design names.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::commands::CommandFlaw;
use common::device::{Flaw, RunningDevice};
use common::{free_port, root, sample_commands, serve_on, start_hub};
use thingbench::transport::{
    Auth, BrokerUrl, Session, SessionCommand, SessionConfig, SessionEvent,
};

/// Watches `url` for the gateway's sub-device logins, as a tool that names no device.
fn watch_logins(url: &str) -> Session {
    let config = SessionConfig {
        broker: BrokerUrl::parse(url).expect("a URL"),
        client_id: format!("commands-test-{}", free_port()),
        auth: Auth::None,
        keep_alive: Duration::from_secs(30),
        tls: Default::default(),
        platform: false,
    };
    let session = Session::start(config, Box::new(|| {})).expect("a session");
    session.send(SessionCommand::Subscribe(
        "/ext/session/gwPk/gw01/combine/login_reply".into(),
    ));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match session.events.recv_timeout(left) {
            Ok(SessionEvent::Subscribed { granted: Ok(_), .. }) => return session,
            Ok(_) => {}
            Err(e) => panic!("the watcher was not subscribed within 10 s: {e}"),
        }
    }
}

/// Waits until `watcher` sees the gateway's login of its sub-device accepted.
fn wait_for_login(watcher: &Session) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match watcher.events.recv_timeout(left) {
            Ok(SessionEvent::Message { payload, .. })
                if String::from_utf8_lossy(&payload).contains("\"code\":200") =>
            {
                return;
            }
            Ok(_) => {}
            Err(e) => panic!("the device did not log its sub-device in within 20 s: {e}"),
        }
    }
}

/// `thingbench run` of the sample's command fixtures on `url`; its exit code and output.
fn run_commands(url: &str, extra: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_thingbench"))
        .arg("run")
        .args(sample_commands())
        .args(["--broker", url])
        .args(extra)
        .current_dir(root())
        .output()
        .expect("thingbench runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

/// `thingbench serve`, a gateway with `flaw` connected to it and logged in, and the run of the
/// command fixtures against it.
fn commands_to(flaw: CommandFlaw, extra: &[&str]) -> (Option<i32>, String) {
    let port = free_port();
    let _serve = serve_on(port);
    let url = format!("mqtt://127.0.0.1:{port}");
    let watcher = watch_logins(&url);
    let _device = RunningDevice::start_with(port, Flaw::None, flaw);
    wait_for_login(&watcher);
    run_commands(&url, extra)
}

#[test]
fn a_device_that_obeys_passes_every_command_fixture_for_itself_and_its_sub_device() {
    let (code, out) = commands_to(CommandFlaw::None, &[]);
    let n = sample_commands().len();
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains(&format!("{n} passed, 0 failed")), "{out}");
    // The gateway's own point and the sub-device's, a set, a get and an invoke.
    for line in [
        "PASS  The platform sets inv01's power",
        "PASS  The platform reads two of inv01's points",
        "PASS  The platform limits inv01's power",
        "PASS  The platform reads the gateway's own CPU load",
    ] {
        assert!(out.contains(line), "{line}:\n{out}");
    }
    assert!(!out.contains("finding:"), "{out}");
}

#[test]
fn a_reply_with_another_id_fails_as_id_not_echoed() {
    let (code, out) = commands_to(CommandFlaw::WrongId, &[]);
    assert_eq!(code, Some(1), "{out}");
    let findings: Vec<&str> = out.lines().filter(|l| l.contains("finding: ")).collect();
    assert_eq!(findings.len(), sample_commands().len(), "{out}");
    assert!(
        findings
            .iter()
            .all(|f| f.contains("reply id: is \"not-the-id\"; expected the command's id")),
        "{out}"
    );
}

#[test]
fn a_reply_on_the_command_topic_fails_as_the_wrong_topic() {
    let (code, out) = commands_to(CommandFlaw::WrongTopic, &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(
            "finding: reply (topic): the reply came on /sys/invPk/inv01/thing/service/measurepoint/set; expected /sys/invPk/inv01/thing/service/measurepoint/set_reply"
        ),
        "{out}"
    );
    assert!(!out.contains("no reply within"), "paired, not lost: {out}");
}

#[test]
fn outputs_of_the_wrong_type_fail_and_a_set_still_passes() {
    let (code, out) = commands_to(CommandFlaw::WrongType, &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("PASS  The platform sets inv01's power"),
        "{out}"
    );
    assert!(
        out.contains("FAIL  The platform reads two of inv01's points"),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.contains("finding: reply data.Power:") && l.contains("FLOAT")),
        "{out}"
    );
    // The invoke's output is checked against the model and against expect.data.
    assert!(
        out.lines()
            .any(|l| l.contains("finding: reply data.applied: expected 2.5 (expect.data)")),
        "{out}"
    );
}

#[test]
fn a_device_that_never_answers_gives_no_reply_within_the_wait() {
    let (code, out) = commands_to(CommandFlaw::Silent, &["--timeout-ms", "500"]);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(
        out.matches("no reply within 500 ms").count(),
        sample_commands().len(),
        "{out}"
    );
}

#[test]
fn a_device_that_subscribes_itself_is_commanded_through_mosquitto() {
    let Some(mosquitto) = common::stock_mosquitto() else {
        return;
    };
    let (url, port) = (mosquitto.url.clone(), mosquitto.port);
    let _hub = start_hub(&url);
    let watcher = watch_logins(&url);
    let _device = RunningDevice::start_with(port, Flaw::None, CommandFlaw::None);
    wait_for_login(&watcher);
    let (code, out) = run_commands(&url, &[]);
    assert_eq!(code, Some(0), "{out}");
    let n = sample_commands().len();
    assert!(out.contains(&format!("{n} passed, 0 failed")), "{out}");
}
