//! A device using the official EnOS Python SDK (`enos-mqtt-sdk-python`) logs sub-devices in and
//! posts to `thingbench serve`: the hub must answer it as the IoT hub would.
//!
//! `.ci/run` installs the SDK into `target/sdk-venv`; set `THINGBENCH_SDK_PYTHON` to use another
//! interpreter. Without either, the test says so and skips.

mod common;

use std::path::PathBuf;
use std::process::Command;

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
