//! `thingbench check` as a user runs it: output, `--json`, and exit codes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn thingbench(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_thingbench"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("thingbench runs")
}

fn fixture_files() -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(root().join("fixtures/messages"))
        .expect("messages folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

#[test]
fn json_output_matches_every_fixtures_expect() {
    let files = fixture_files();
    assert!(files.len() >= 20);
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read fixture");
        let fixture: Value = serde_json::from_str(&text).expect("fixture is JSON");
        let expected = fixture["expect"]["code"].as_i64().expect("expect.code");
        let out = thingbench(
            &["check", file.to_str().expect("utf-8 path"), "--json"],
            &root(),
        );
        assert!(
            out.status.success(),
            "{}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let report: Value = serde_json::from_slice(&out.stdout).expect("--json prints JSON");
        assert_eq!(
            report["code"].as_i64(),
            Some(expected),
            "{}",
            file.display()
        );
        assert!(report["meaning"].as_str().is_some_and(|m| !m.is_empty()));
        let findings = report["findings"].as_array().expect("findings array");
        if expected != 200 {
            let first = findings.first().expect("a failing check has a finding");
            assert!(first["path"].is_string() && first["message"].is_string());
            assert!(
                findings
                    .iter()
                    .any(|f| f["code"].as_i64() == Some(expected))
            );
        }
    }
}

#[test]
fn text_output_names_code_meaning_and_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    let body = dir.path().join("hot.json");
    std::fs::write(
        &body,
        r#"{"version": "1.0", "method": "thing.measurepoint.post.batch",
            "params": [{"productKey": "invPk", "deviceKey": "inv01", "time": "now",
                        "measurepoints": {"temp": "hot"}}]}"#,
    )
    .expect("write body");
    let ws = root().join("fixtures");
    let out = thingbench(
        &[
            "check",
            body.to_str().expect("utf-8"),
            "--workspace",
            ws.to_str().expect("utf-8"),
        ],
        dir.path(),
    );
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("1204 model validation failed"), "{text}");
    assert!(text.contains("params[0].measurepoints.temp"), "{text}");
    assert!(
        text.contains("/sys/gwPk/gw01/thing/measurepoint/post/batch"),
        "{text}"
    );
}

#[test]
fn not_json_body_is_checked_as_1220() {
    let dir = tempfile::tempdir().expect("tempdir");
    let body = dir.path().join("garbage.bin");
    std::fs::write(&body, b"\x00\x01 not json").expect("write");
    let ws = root().join("fixtures");
    let out = thingbench(
        &[
            "check",
            body.to_str().expect("utf-8"),
            "--workspace",
            ws.to_str().expect("utf-8"),
            "--json",
        ],
        dir.path(),
    );
    assert!(out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["code"], 1220);
}

#[test]
fn bad_input_exits_2_with_one_clear_sentence() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A file that does not exist.
    let out = thingbench(&["check", "nope.json", "--workspace", "../x"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nope.json") && err.contains("no such file"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    // A broken fixture names the file and the field.
    let fixture = dir.path().join("broken.json");
    std::fs::write(
        &fixture,
        r#"{"name": "x", "request": {}, "expect": {"code": "two hundred"}}"#,
    )
    .expect("write");
    let ws = root().join("fixtures");
    let out = thingbench(
        &[
            "check",
            fixture.to_str().expect("utf-8"),
            "--workspace",
            ws.to_str().expect("utf-8"),
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("broken.json") && err.contains("expect.code"),
        "{err}"
    );

    // A workspace.json that is not valid.
    let wsdir = dir.path().join("ws");
    std::fs::create_dir_all(&wsdir).expect("mkdir");
    std::fs::write(
        wsdir.join("workspace.json"),
        r#"{"products": {}, "gateway": {"productKey": 1}}"#,
    )
    .expect("write");
    let out = thingbench(
        &[
            "check",
            fixture.to_str().expect("utf-8"),
            "--workspace",
            wsdir.to_str().expect("utf-8"),
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("workspace.json") && err.contains("gateway.productKey"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");

    // No workspace anywhere.
    let out = thingbench(&["check", fixture.to_str().expect("utf-8")], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--workspace"));
}

#[test]
fn workspace_is_found_around_the_file() {
    // Run from a folder that has no ./fixtures: the workspace comes from the file's path.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = fixture_files().into_iter().next().expect("a fixture");
    let out = thingbench(
        &["check", file.to_str().expect("utf-8"), "--json"],
        dir.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
