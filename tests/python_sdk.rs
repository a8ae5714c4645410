//! A device using the official EnOS Python SDK (`enos-mqtt-sdk-python`) logs sub-devices in and
//! posts to `thingbench serve`: the hub must answer it as the IoT hub would; and, subscribed to
//! nothing, it receives the platform's commands and its replies come back, from a platform
//! client, from `thingbench run` of command fixtures, and through `thingbench qualify`'s proxy
//! across an outage.
//!
//! `.ci/run` installs the SDK into `target/sdk-venv`; set `THINGBENCH_SDK_PYTHON` to use another
//! interpreter. Without either, the test says so and skips.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;
use thingbench::protocol::ReplyCode;
use thingbench::transport::BrokerUrl;

use common::platform::{Platform, WAIT};
use common::{Killed, LineReader};

/// The SDK's interpreter, or `None` once the test said it skips (failing instead under
/// `THINGBENCH_REQUIRE_PEERS=1`).
fn sdk() -> Option<PathBuf> {
    let python = sdk_python();
    if python.is_none() {
        common::missing_peer(
            "the EnOS Python SDK",
            "install it as .ci/run does, into target/sdk-venv",
        );
    }
    python
}

fn sdk_python() -> Option<PathBuf> {
    let candidate = std::env::var_os("THINGBENCH_SDK_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/sdk-venv/bin/python")
        });
    let works = Command::new(&candidate)
        .args(["-c", "import enos.core.MqttClient"])
        .output()
        .is_ok_and(|o| o.status.success());
    works.then_some(candidate)
}

#[test]
fn official_python_sdk_logs_in_and_posts() {
    let Some(python) = sdk() else {
        return;
    };
    let root = common::root();
    let port = common::free_port();
    let serve = common::serve_on(port);
    let out = Command::new(python)
        .arg(root.join("tests/python/enos_sdk_client.py"))
        .arg(port.to_string())
        .output()
        .expect("python runs");
    drop(serve);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("ALL OK"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn official_python_sdk_receives_commands_without_subscribing() {
    let Some(python) = sdk() else {
        return;
    };
    let port = common::free_port();
    let _serve = common::serve_on(port);
    // Connected, inv01 logged in; it registered handlers and subscribed to nothing.
    let (_device, mut said) = commanded_device(&python, port, &[]);

    let url = BrokerUrl::parse(&format!("mqtt://127.0.0.1:{port}")).expect("url");
    let mut platform = Platform::connect(url);
    let set = platform.command(
        "/sys/gwPk/gw01/thing/service/measurepoint/set",
        "py-set-1",
        json!({"cpuLoad": 2.5}),
    );
    assert_eq!(set.code, ReplyCode::SUCCESS, "{set:?}");
    assert!(
        set.data.is_null(),
        "the SDK answers a set with data null: {set:?}"
    );
    let invoke = platform.command(
        "/sys/invPk/inv01/thing/service/setPowerLimit",
        "py-invoke-1",
        json!({"limit": 2.5, "mode": 1}),
    );
    assert_eq!(invoke.code, ReplyCode::SUCCESS, "{invoke:?}");
    assert_eq!(invoke.data, json!({"applied": 2.5}), "{invoke:?}");
    said.wait_for(WAIT, |line| line.starts_with("GOT invoke"));
    // Each command reached its handler once: its own set_reply never came back to be taken
    // for a new set (it would have come before the invoke, which was sent after the reply).
    let got = handled(said.seen.iter());
    assert_eq!(
        got,
        [
            r#"GOT set gwPk/gw01 {"cpuLoad": 2.5}"#,
            r#"GOT invoke invPk/inv01 setPowerLimit {"limit": 2.5, "mode": 1}"#,
        ],
        "{:?}",
        said.seen
    );
    platform.no_unpaired();
}

/// The SDK device with command handlers (`enos_sdk_commands.py`) on `port` with `args`, once it
/// says it is connected with inv01 logged in; what it says from then on.
fn commanded_device(python: &Path, port: u16, args: &[&str]) -> (Killed, LineReader) {
    let mut device = Killed(
        Command::new(python)
            .arg(common::root().join("tests/python/enos_sdk_commands.py"))
            .arg(port.to_string())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python runs"),
    );
    let mut said = LineReader::new(device.0.stdout.take().expect("stdout"));
    said.wait_for(WAIT, |line| line == "READY" || line.starts_with("ERROR"));
    assert_eq!(
        said.seen.last().map(String::as_str),
        Some("READY"),
        "{:?}",
        said.seen
    );
    (device, said)
}

/// The commands the device's handlers got, in order, from what it said.
fn handled<'a>(said: impl Iterator<Item = &'a String>) -> Vec<&'a str> {
    said.filter(|line| line.starts_with("GOT"))
        .map(String::as_str)
        .collect()
}

/// Writes `fixture` as `folder/name`.
fn write_fixture(folder: &Path, name: &str, fixture: &serde_json::Value) {
    let text = serde_json::to_string_pretty(fixture).expect("JSON");
    std::fs::write(folder.join(name), text).expect("write a fixture");
}

/// `thingbench run FOLDER` of the workspace at `ws` against `url`, with JUnit to `junit`: its
/// exit code, output (stdout and stderr) and JUnit.
fn run_folder(ws: &Path, folder: &str, url: &str, junit: &Path) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_thingbench"))
        .arg("run")
        .arg(ws.join(folder))
        .arg("--workspace")
        .arg(ws)
        .args(["--broker", url])
        .arg("--junit")
        .arg(junit)
        .output()
        .expect("thingbench runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let xml = std::fs::read_to_string(junit).unwrap_or_default();
    (out.status.code(), text, xml)
}

#[test]
fn run_replays_command_fixtures_to_the_official_python_sdk_and_a_wrong_expectation_fails() {
    let Some(python) = sdk() else {
        return;
    };
    // The sample's command fixtures (inv01: set, get, invoke; the gateway: get), and more for
    // the gateway and for what the SDK answers by itself, in a folder of a workspace copy.
    let ws = common::copy_workspace();
    let suite = ws.path().join("sdk-commands");
    std::fs::create_dir(&suite).expect("mkdir");
    for file in common::sample_commands() {
        let from = common::root().join(&file);
        let name = from.file_name().expect("a name").to_owned();
        std::fs::copy(&from, suite.join(name)).expect("copy a fixture");
    }
    write_fixture(
        &suite,
        "074-set-gateway-cpu.json",
        &json!({"name": "The platform sets the gateway's own CPU load.",
                "command": {"device": "gwPk/{{gw}}", "set": {"cpuLoad": 40.5}},
                "expect": {"code": 200}}),
    );
    write_fixture(
        &suite,
        "075-get-gateway-cpu-as-set.json",
        &json!({"name": "The gateway's CPU load reads back as set.",
                "command": {"device": "gwPk/{{gw}}", "get": ["cpuLoad"]},
                "expect": {"code": 200, "data": {"cpuLoad": 40.5}}}),
    );
    write_fixture(
        &suite,
        "076-set-inverter-power-hot.json",
        &json!({"name": "A word for inv01's FLOAT power is refused with the device's own code.",
                "command": {"device": "invPk/{{inv1}}", "set": {"Power": "hot"}},
                "expect": {"code": 2001}}),
    );
    // The device's handler raises on a mode it does not know; the SDK answers "500" for it.
    write_fixture(
        &suite,
        "077-invoke-unknown-mode.json",
        &json!({"name": "A power limit in a mode the handler does not know: the SDK's own 500.",
                "command": {"device": "invPk/{{inv1}}", "invoke": "setPowerLimit",
                            "params": {"limit": 2.5, "mode": 7}},
                "expect": {"code": 500}}),
    );
    let wrong = ws.path().join("wrong-code");
    std::fs::create_dir(&wrong).expect("mkdir");
    write_fixture(
        &wrong,
        "080-set-expects-a-refusal.json",
        &json!({"name": "A set inv01 accepts, expected refused.",
                "command": {"device": "invPk/{{inv1}}", "set": {"Power": 3.5}},
                "expect": {"code": 2001}}),
    );

    let port = common::free_port();
    let _serve = common::serve_on(port);
    let (_device, mut said) = commanded_device(&python, port, &["--budget", "50"]);
    let url = format!("mqtt://127.0.0.1:{port}");

    let junit = ws.path().join("commands.xml");
    let (code, out, xml) = run_folder(ws.path(), "sdk-commands", &url, &junit);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("8 passed, 0 failed"), "{out}");
    for line in [
        "PASS  The platform sets inv01's power",
        "PASS  The platform reads two of inv01's points",
        "PASS  The platform limits inv01's power",
        "PASS  The platform reads the gateway's own CPU load",
        "PASS  The platform sets the gateway's own CPU load",
        "PASS  The gateway's CPU load reads back as set",
        "PASS  A word for inv01's FLOAT power is refused",
        "PASS  A power limit in a mode the handler does not know",
    ] {
        assert!(out.contains(line), "{line}:\n{out}");
    }
    // The SDK answers a set with `"data": null` (no finding) and sends its own codes as
    // strings: a note, not a failure.
    assert!(!out.contains("finding:"), "{out}");
    assert_eq!(
        out.matches("note: reply code: is the string \"500\", read as 500")
            .count(),
        1,
        "{out}"
    );
    // The command the model does not allow went out as it is, and the run says why.
    assert!(
        out.contains(
            "note: the command itself: params.Power: expected FLOAT, got string \"hot\" (1204)"
        ),
        "{out}"
    );
    // The SDK's replies come 40 ms late (paho leaves Nagle's algorithm on): the device's
    // doing, not the embedded broker's.
    assert!(!out.contains("Nagle"), "{out}");
    assert!(xml.contains("tests=\"8\""), "{xml}");
    assert!(xml.contains("failures=\"0\""), "{xml}");
    assert!(!xml.contains("<failure"), "{xml}");
    // Each command reached its handler once, for the gateway and for inv01.
    said.wait_for(WAIT, |line| line.contains("\"mode\": 7"));
    let got = handled(said.seen.iter());
    assert_eq!(
        got,
        [
            r#"GOT set invPk/inv01 {"Power": 3.5}"#,
            r#"GOT get invPk/inv01 ["Power", "temp"]"#,
            r#"GOT invoke invPk/inv01 setPowerLimit {"limit": 2.5, "mode": 1}"#,
            r#"GOT get gwPk/gw01 ["cpuLoad"]"#,
            r#"GOT set gwPk/gw01 {"cpuLoad": 40.5}"#,
            r#"GOT get gwPk/gw01 ["cpuLoad"]"#,
            r#"GOT set invPk/inv01 {"Power": "hot"}"#,
            r#"GOT invoke invPk/inv01 setPowerLimit {"limit": 2.5, "mode": 7}"#,
        ],
        "{:?}",
        said.seen
    );

    let junit = ws.path().join("wrong.xml");
    let (code, out, xml) = run_folder(ws.path(), "wrong-code", &url, &junit);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("FAIL  A set inv01 accepts, expected refused.  expected 2001  got 200"),
        "{out}"
    );
    assert!(out.contains("0 passed, 1 failed"), "{out}");
    assert_eq!(xml.matches("<failure").count(), 1, "{xml}");
    assert!(xml.contains("080-set-expects-a-refusal.json"), "{xml}");
    assert!(xml.contains("expected 2001, got 200"), "{xml}");
}

/// A short plan: commands for the gateway and inv01 while all is well, and two while the
/// network is down, held and delivered once the device is back.
const SDK_PLAN: &str = r#"{
  "name": "The official Python SDK obeys commands, also after an outage",
  "device": "gwPk/{{gw}}",
  "connectWithinS": 20,
  "periodS": 0.5,
  "commandTimeoutS": 3,
  "phases": [
    {"name": "steady", "forS": 3, "commands": [
      {"atS": 1, "device": "invPk/{{inv1}}", "set": {"Power": 3.5}},
      {"atS": 1.3, "device": "gwPk/{{gw}}", "get": ["cpuLoad"]},
      {"atS": 1.6, "device": "invPk/{{inv1}}", "invoke": "setPowerLimit",
       "params": {"limit": 2.5, "mode": 1}},
      {"atS": 1.9, "device": "invPk/{{inv1}}", "set": {"Power": "hot"}, "invalid": true}]},
    {"name": "outage", "forS": 2, "network": "down", "commands": [
      {"atS": 0.5, "device": "gwPk/{{gw}}", "get": ["cpuLoad"]},
      {"atS": 1, "device": "invPk/{{inv1}}", "set": {"Power": 4.5}}]},
    {"name": "recovery", "forS": 7}
  ]
}"#;

#[test]
fn qualify_through_the_proxy_the_official_python_sdk_answers_commands_also_after_an_outage() {
    let Some(python) = sdk() else {
        return;
    };
    let ws = common::copy_workspace();
    let plan = ws.path().join("plans/sdk-commands.json");
    std::fs::write(&plan, SDK_PLAN).expect("write the plan");
    let common::Qualifying {
        child: _qualify,
        mut stdout,
        mut stderr,
        port,
    } = common::start_qualify(&plan, &[], &common::root(), WAIT);
    // The SDK's own reconnect; it posts for itself and inv01 as a vendor's application would.
    let (_device, mut said) = commanded_device(
        &python,
        port,
        &["--budget", "50", "--reconnect", "--post-every", "0.5"],
    );
    let out = stdout.rest(Duration::from_secs(40)).join("\n");
    let err = stderr.rest(WAIT).join("\n");
    let verdict = |check: &str| {
        out.lines()
            .find(|l| l.split_whitespace().nth(2) == Some(check))
            .and_then(|l| l.split_whitespace().next())
            .unwrap_or("missing")
            .to_owned()
    };
    // Every command was answered once, on its reply topic with its id, also the two held
    // through the outage and delivered on the connection the SDK made again by itself.
    assert_eq!(verdict("answers-commands"), "PASS", "{out}\n{err}");
    assert!(
        err.contains("device connected (connection 2)"),
        "{out}\n{err}"
    );
    assert!(out.contains("6 command(s) answered once each"), "{out}");
    // 200 or the device's own 2001 for the invalid set; gets and the invoke as the model says.
    assert_eq!(verdict("reply-codes"), "PASS", "{out}\n{err}");
    assert_eq!(verdict("outputs-match"), "PASS", "{out}\n{err}");
    said.wait_for(WAIT, |line| line.contains(r#"{"Power": 4.5}"#));
    let after_reconnect = handled(said.seen.iter().skip_while(|line| *line != "CONNECTED 2"));
    assert_eq!(
        after_reconnect,
        [
            r#"GOT get gwPk/gw01 ["cpuLoad"]"#,
            r#"GOT set invPk/inv01 {"Power": 4.5}"#,
        ],
        "{:?}",
        said.seen
    );
}
