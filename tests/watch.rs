//! `thingbench watch`: traffic sent by another client (the sample suite, replayed by
//! `thingbench run` as a device would send it) is checked message by message, and every
//! prediction is compared with the hub's actual reply.

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::LineReader;

/// How long a test waits for a line before it fails.
const WAIT: Duration = Duration::from_secs(60);

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
    // No --for: it watches until Ctrl-C, then prints its summary and writes its files.
    let mut watcher = common::Killed(
        thingbench()
            .args([
                "watch",
                "--broker",
                &url,
                "--junit",
                junit.to_str().expect("utf-8"),
                "--save",
                saved.to_str().expect("utf-8"),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("watch"),
    );
    let mut stdout = LineReader::new(watcher.0.stdout.take().expect("stdout"));
    let mut stderr = LineReader::new(watcher.0.stderr.take().expect("stderr"));
    // Said once the broker granted the subscriptions: nothing sent after it is missed.
    stderr.wait_for(WAIT, |l| l.contains("watching"));

    // The fixtures that need no device: no device answers commands on this broker.
    let run = thingbench()
        .arg("run")
        .args(common::sample_fixtures())
        .args(["--broker", &url])
        .output()
        .expect("run");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stdout)
    );
    // One more request with an id of its own: the broker hands the watcher messages in order,
    // so once its reply is seen, every reply before it was seen too.
    let sentinel = dir.path().join("sentinel.json");
    let first = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/messages/001-valid-two-inverters.json"),
    )
    .expect("a sample fixture");
    std::fs::write(
        &sentinel,
        first.replacen("\"request\": {", "\"request\": {\"id\": \"sentinel-1\",", 1),
    )
    .expect("write");
    let last = thingbench()
        .args([
            "run",
            sentinel.to_str().expect("utf-8"),
            "--workspace",
            "fixtures",
            "--broker",
            &url,
        ])
        .output()
        .expect("run");
    assert!(
        last.status.success(),
        "{}",
        String::from_utf8_lossy(&last.stdout)
    );
    stdout.wait_for(WAIT, |l| l.contains("id sentinel-1"));
    common::interrupt(watcher.0.id());
    let status = watcher.0.wait().expect("watch ends");
    let all = stdout.rest(WAIT);
    let errors = stderr.rest(WAIT).join("\n");
    drop(serve);

    let text = all.join("\n");
    assert_eq!(status.code(), Some(0), "{text}\n{errors}");
    let lines: Vec<&str> = all
        .iter()
        .map(String::as_str)
        .filter(|l| l.contains(" predicted "))
        .collect();
    let fixtures = common::sample_fixtures().len();
    // Every fixture and the sentinel, plus the logins and logouts the runner sent before them.
    assert!(
        lines.len() > fixtures + 1,
        "{} lines for {fixtures} fixtures:\n{text}",
        lines.len()
    );
    assert!(lines.iter().all(|l| l.starts_with("AGREE")), "{text}");
    // The summary, printed at Ctrl-C, counts every line.
    assert!(
        text.contains(&format!("{} watched, ", lines.len())),
        "the summary:\n{text}"
    );
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
        text.clone(),
        errors.clone(),
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

#[test]
fn a_watch_whose_broker_goes_away_says_so_and_comes_back() {
    let port = common::free_port();
    let url = format!("mqtt://127.0.0.1:{port}");
    let serve = common::serve_on(port);
    let mut watcher = common::Killed(
        thingbench()
            .args(["watch", "--broker", &url])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("watch"),
    );
    let mut stderr = LineReader::new(watcher.0.stderr.take().expect("stderr"));
    stderr.wait_for(WAIT, |l| l.contains("watching"));
    drop(serve);
    let lost = stderr.wait_for(WAIT, |l| l.contains("lost the broker"));
    assert!(lost.contains("retrying"), "{lost}");
    let _serve = common::serve_on(port);
    stderr.wait_for(Duration::from_secs(30), |l| {
        l.contains("the broker is back")
    });
    // One line for the outage, however many retries it took.
    let outage_lines = stderr
        .seen
        .iter()
        .filter(|l| l.contains("lost the broker"))
        .count();
    assert_eq!(outage_lines, 1, "{:#?}", stderr.seen);
    common::interrupt(watcher.0.id());
    let status = watcher.0.wait().expect("watch ends");
    assert_eq!(status.code(), Some(0), "{:#?}", stderr.rest(WAIT));
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
