//! `thingbench run` on fixture folders as they are found on disk: a link loop and an unreadable
//! folder are skipped and named once, and a fixture that cannot be loaded is a failed case of a
//! run that goes on.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{copy_workspace, root};

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn run(messages: &Path, ws: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_thingbench"))
        .args(["run", messages.to_str().expect("utf-8")])
        .args(["--workspace", ws.to_str().expect("utf-8")])
        .args(extra)
        .current_dir(root())
        .output()
        .expect("thingbench runs")
}

/// The sample fixtures that get a verdict with no device (the commands are skipped).
fn fixture_count() -> usize {
    common::sample_fixtures().len()
}

fn result_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("PASS ") || l.starts_with("FAIL "))
        .map(str::to_owned)
        .collect()
}

#[cfg(unix)]
#[test]
fn a_link_back_up_in_messages_is_skipped_and_named_once() {
    let ws = copy_workspace();
    let messages = ws.path().join("messages");
    std::os::unix::fs::symlink("..", messages.join("loop")).expect("link");
    let out = run(&messages, ws.path(), &[]);
    let output = text(&out);
    assert_eq!(out.status.code(), Some(0), "{output}");
    assert_eq!(result_lines(&out).len(), fixture_count(), "{output}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let said: Vec<_> = stderr.lines().filter(|l| l.contains("skipped")).collect();
    assert_eq!(said.len(), 1, "{stderr}");
    assert!(
        said[0].contains("messages/loop: ") && said[0].contains("(a loop)"),
        "{stderr}"
    );
    assert!(
        !output.contains("models/"),
        "models read as fixtures:\n{output}"
    );
}

#[cfg(unix)]
#[test]
fn an_unreadable_folder_in_messages_is_skipped_and_named() {
    use std::os::unix::fs::PermissionsExt as _;
    let ws = copy_workspace();
    let messages = ws.path().join("messages");
    let locked = messages.join("locked");
    std::fs::create_dir_all(&locked).expect("mkdir");
    std::fs::copy(
        messages.join("001-valid-two-inverters.json"),
        locked.join("x.json"),
    )
    .expect("copy");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).expect("chmod");
    let out = if std::fs::read_dir(&locked).is_ok() {
        // Root reads any folder: run as nobody, who cannot.
        if Command::new("setpriv").arg("--version").output().is_err() {
            common::missing_peer("setpriv", "apt-get install util-linux");
            return;
        }
        std::fs::set_permissions(ws.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_thingbench"))
            .args(["run", messages.to_str().expect("utf-8")])
            .args(["--workspace", ws.path().to_str().expect("utf-8")])
            .current_dir(ws.path())
            .output()
            .expect("thingbench runs as nobody")
    } else {
        run(&messages, ws.path(), &[])
    };
    let output = text(&out);
    assert_eq!(out.status.code(), Some(0), "{output}");
    assert_eq!(result_lines(&out).len(), fixture_count(), "{output}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let said: Vec<_> = stderr.lines().filter(|l| l.contains("skipped")).collect();
    assert_eq!(said.len(), 1, "{stderr}");
    assert!(
        said[0].contains("messages/locked: cannot be read (permission denied)"),
        "{stderr}"
    );
}

#[test]
fn an_unloadable_fixture_fails_by_name_and_the_run_goes_on() {
    let ws = copy_workspace();
    let messages = ws.path().join("messages");
    let broken = messages.join("050-broken.json");
    std::fs::write(
        &broken,
        r#"{"name": "x", "request": {}, "expect": {"code": "two"}}"#,
    )
    .expect("write");
    let junit = ws.path().join("junit.xml");
    let out = run(
        &messages,
        ws.path(),
        &["--junit", junit.to_str().expect("utf-8")],
    );
    let output = text(&out);
    assert_eq!(out.status.code(), Some(1), "{output}");
    let lines = result_lines(&out);
    let n = fixture_count();
    assert_eq!(lines.len(), n + 1, "every fixture ran:\n{output}");
    let failed: Vec<_> = lines.iter().filter(|l| l.starts_with("FAIL ")).collect();
    assert_eq!(failed.len(), 1, "{output}");
    assert!(
        failed[0].contains("050-broken.json")
            && failed[0].contains("could not load the fixture")
            && failed[0].contains("expect.code"),
        "{output}"
    );
    let k = common::sample_commands().len();
    assert!(
        output.contains(&format!("{n} passed, 1 failed, {k} skipped")),
        "{output}"
    );
    let xml = std::fs::read_to_string(&junit).expect("junit written");
    assert_eq!(xml.matches("<testcase ").count(), n + 1 + k, "{xml}");
    assert_eq!(xml.matches("<failure").count(), 1, "{xml}");
    assert!(xml.contains("could not load the fixture"), "{xml}");
}
