//! Saves are atomic: a process killed in the middle of saving a fixture leaves the old file or
//! the new one, never a torn one, and the workspace still loads.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;
use thingbench::protocol::ReplyCode;
use thingbench::workspace::{Fixture, Workspace, write_atomic};

const CHILD: &str = "THINGBENCH_SAVE_LOOP";

/// Two large fixtures, so that each save takes long enough to be cut off.
fn versions() -> [Fixture; 2] {
    let big = |fill: &str| {
        let points: serde_json::Map<String, serde_json::Value> = (0..20_000)
            .map(|i| (format!("p{i}"), json!(fill)))
            .collect();
        json!({"version": "1.0", "method": "thing.measurepoint.post.batch",
               "params": [{"measurepoints": points}]})
    };
    [
        Fixture::new("version a", big("aaaa"), ReplyCode(1204)),
        Fixture::new("version b", big("bbbbbbbb"), ReplyCode(1204)),
    ]
}

fn copy_workspace(to: &Path) {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    std::fs::create_dir_all(to.join("models")).unwrap();
    std::fs::create_dir_all(to.join("messages")).unwrap();
    std::fs::copy(from.join("workspace.json"), to.join("workspace.json")).unwrap();
    for entry in std::fs::read_dir(from.join("models")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join("models").join(entry.file_name())).unwrap();
    }
}

/// Two large file contents, so that each write takes long enough to be cut off.
fn contents() -> [Vec<u8>; 2] {
    let [a, b] = versions();
    let pad = |f: &Fixture| {
        let mut text = f.to_pretty().into_bytes();
        // About 4 MB each: a kill lands in the middle of a write most of the time.
        while text.len() < 4_000_000 {
            text.extend_from_slice(f.to_pretty().as_bytes());
        }
        text
    };
    [pad(&a), pad(&b)]
}

#[test]
fn a_write_killed_midway_leaves_the_old_or_the_new_file() {
    let [a, b] = contents();
    if let Ok(path) = std::env::var(CHILD) {
        // The child: say it is ready, then write the two versions in turn until killed.
        println!("writing");
        loop {
            write_atomic(Path::new(&path), &a).expect("write a");
            write_atomic(Path::new(&path), &b).expect("write b");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.json");
    write_atomic(&path, &a).unwrap();
    let exe = std::env::current_exe().unwrap();
    for round in 0..12u64 {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "a_write_killed_midway_leaves_the_old_or_the_new_file",
                "--nocapture",
            ])
            .env(CHILD, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut ready = String::new();
        let stdout = child.stdout.take().unwrap();
        let mut reader = std::io::BufReader::new(stdout);
        while !ready.contains("writing") {
            ready.clear();
            assert!(
                std::io::BufRead::read_line(&mut reader, &mut ready).unwrap() > 0,
                "child ended"
            );
        }
        // Kill at a different moment each round (SIGKILL: no destructor, no clean-up).
        std::thread::sleep(Duration::from_millis(3 + round * 3));
        child.kill().unwrap();
        child.wait().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            bytes == a || bytes == b,
            "round {round}: a torn file of {} bytes",
            bytes.len()
        );
    }
}

#[test]
fn a_fixture_saved_while_a_temporary_was_left_behind_still_loads() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ws");
    copy_workspace(&root);
    // What a save killed before its rename leaves: a hidden temporary beside the file.
    std::fs::write(root.join("messages/.big.json.tmp-999999"), b"{ torn").unwrap();
    let ws = Workspace::load(&root).unwrap();
    let [a, _] = versions();
    ws.save_fixture("big.json", &a).unwrap();
    let ws = Workspace::load(&root).unwrap();
    assert_eq!(
        ws.fixtures.len(),
        1,
        "the temporary is never loaded as a fixture"
    );
    assert_eq!(ws.fixtures[0].fixture.as_ref().ok(), Some(&a));
}
