//! A device using the official EnOS Python SDK (`enos-mqtt-sdk-python`) logs sub-devices in and
//! posts to `thingbench serve`: the hub must answer it as the IoT hub would; and, subscribed to
//! nothing, it receives the platform's commands and its replies come back.
//!
//! `.ci/run` installs the SDK into `target/sdk-venv`; set `THINGBENCH_SDK_PYTHON` to use another
//! interpreter. Without either, the test says so and skips.

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::json;
use thingbench::protocol::ReplyCode;
use thingbench::transport::BrokerUrl;

use common::platform::{Platform, WAIT};

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
    let Some(python) = sdk_python() else {
        common::missing_peer(
            "the EnOS Python SDK",
            "install it as .ci/run does, into target/sdk-venv",
        );
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
    let Some(python) = sdk_python() else {
        common::missing_peer(
            "the EnOS Python SDK",
            "install it as .ci/run does, into target/sdk-venv",
        );
        return;
    };
    let port = common::free_port();
    let _serve = common::serve_on(port);
    let mut device = common::Killed(
        Command::new(python)
            .arg(common::root().join("tests/python/enos_sdk_commands.py"))
            .arg(port.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python runs"),
    );
    let mut said = common::LineReader::new(device.0.stdout.take().expect("stdout"));
    // Connected, inv01 logged in; it registered handlers and subscribed to nothing.
    said.wait_for(WAIT, |line| line == "READY" || line.starts_with("ERROR"));
    assert_eq!(
        said.seen.last().map(String::as_str),
        Some("READY"),
        "{:?}",
        said.seen
    );

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
    let got: Vec<&str> = said
        .seen
        .iter()
        .filter(|line| line.starts_with("GOT"))
        .map(String::as_str)
        .collect();
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
