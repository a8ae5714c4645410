//! `thingbench watch`: traffic sent by another client (the sample suite, replayed by
//! `thingbench run` as a device would send it) is checked message by message, and every
//! prediction is compared with the hub's actual reply.

mod common;

use std::io::BufRead as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn thingbench() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_thingbench"));
    command.current_dir(env!("CARGO_MANIFEST_DIR"));
    command
}

#[test]
fn watch_checks_every_message_and_agrees_with_the_hub() {
    let port = common::free_port();
    let url = format!("mqtt://127.0.0.1:{port}");
    let serve = common::serve_on(port);

    let dir = tempfile::tempdir().expect("tempdir");
    let junit: PathBuf = dir.path().join("watch.xml");
    let saved: PathBuf = dir.path().join("saved");
    let mut watcher = thingbench()
        .args([
            "watch",
            "--broker",
            &url,
            "--for",
            "10",
            "--junit",
            junit.to_str().expect("utf-8"),
            "--save",
            saved.to_str().expect("utf-8"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("watch");
    let mut ready = String::new();
    std::io::BufReader::new(watcher.stderr.take().expect("stderr"))
        .read_line(&mut ready)
        .expect("watching");
    assert!(ready.contains("watching"), "{ready}");

    let run = thingbench()
        .args(["run", "fixtures/messages", "--broker", &url])
        .output()
        .expect("run");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stdout)
    );
    let watched = watcher.wait_with_output().expect("watch ends");
    drop(serve);

    let text = String::from_utf8_lossy(&watched.stdout);
    assert_eq!(watched.status.code(), Some(0), "{text}");
    let lines: Vec<&str> = text.lines().filter(|l| l.contains(" predicted ")).collect();
    let fixtures = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/messages"))
        .expect("dir")
        .count();
    // Every fixture, plus the logins and logouts the runner sent before them.
    assert!(
        lines.len() > fixtures,
        "{} lines for {fixtures} fixtures:\n{text}",
        lines.len()
    );
    assert!(lines.iter().all(|l| l.starts_with("AGREE")), "{text}");
    for code in [
        "1204", "1206", "1212", "1220", "1251", "1008", "1009", "1260", "705", "740", "742",
    ] {
        assert!(
            lines
                .iter()
                .any(|l| l.contains(&format!("predicted {code}  hub {code}"))),
            "{code} missing:\n{text}"
        );
    }
    assert!(
        text.contains("params[0].measurepoints.temp: expected FLOAT"),
        "findings are shown:\n{text}"
    );
    let xml = std::fs::read_to_string(&junit).expect("junit");
    assert_eq!(xml.matches("<testcase ").count(), lines.len());
    assert_eq!(xml.matches("<failure").count(), 0);

    // The logins went by signed, yet no secret and no sign is in what the tools printed or wrote.
    let printed = [
        text.to_string(),
        String::from_utf8_lossy(&watched.stderr).into_owned(),
        String::from_utf8_lossy(&run.stdout).into_owned(),
        String::from_utf8_lossy(&run.stderr).into_owned(),
        xml.clone(),
    ];
    assert!(
        text.contains("/combine/login"),
        "logins were watched:\n{text}"
    );
    for output in &printed {
        assert_no_secret(output);
    }

    // The watched traffic, saved as fixtures, is a regression suite that passes on replay.
    assert_eq!(
        std::fs::read_dir(&saved).expect("saved fixtures").count(),
        lines.len()
    );
    let replay = thingbench()
        .args(["run", saved.to_str().expect("utf-8")])
        .output()
        .expect("run");
    let replayed = String::from_utf8_lossy(&replay.stdout);
    assert!(replay.status.success(), "{replayed}");
    assert_eq!(replayed.matches("PASS").count(), lines.len(), "{replayed}");
}

/// Fails when `output` holds a secret of the sample workspace or a SHA-256 sign (64 hex digits).
fn assert_no_secret(output: &str) {
    for secret in [
        "gw-secret",
        "inv01-secret",
        "inv02-secret",
        "meter01-secret",
    ] {
        assert!(!output.contains(secret), "{secret} in:\n{output}");
    }
    let hex_run = output
        .split(|c: char| !c.is_ascii_hexdigit())
        .map(str::len)
        .max()
        .unwrap_or(0);
    assert!(hex_run < 64, "a sign-like hex string in:\n{output}");
}
