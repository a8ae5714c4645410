//! A device using the official EnOS Python SDK (`enos-mqtt-sdk-python`) logs sub-devices in and
//! posts to `thingbench serve`: the hub must answer it as the IoT hub would.
//!
//! `.ci/run` installs the SDK into `target/sdk-venv`; set `THINGBENCH_SDK_PYTHON` to use another
//! interpreter. Without either, the test says so and skips.

use std::io::BufRead as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

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
        eprintln!("SKIPPED: the EnOS Python SDK is not installed (see .ci/run: target/sdk-venv)");
        return;
    };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let mut serve = Command::new(env!("CARGO_BIN_EXE_thingbench"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--workspace",
            "fixtures",
        ])
        .current_dir(&root)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let mut line = String::new();
    let stderr = serve.stderr.take().expect("stderr");
    std::io::BufReader::new(stderr)
        .read_line(&mut line)
        .expect("serve output");
    let out = Command::new(python)
        .arg(root.join("tests/python/enos_sdk_client.py"))
        .arg(port.to_string())
        .output()
        .expect("python runs");
    let _ = serve.kill();
    let _ = serve.wait();
    assert!(line.contains("reference hub"), "{line}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("ALL OK"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
