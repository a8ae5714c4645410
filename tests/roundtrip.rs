//! Real round trips: the sample suite over the embedded broker and over mosquitto with
//! `thingbench hub`, JUnit output, failures, silence and a broker that goes away.

mod common;

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{
    Killed, copy_workspace, free_port, mosquitto_binary, root, serve_on, start_hub,
    start_mosquitto_configured,
};

fn thingbench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_thingbench"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("thingbench runs")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

fn fixture_count() -> usize {
    common::sample_fixtures().len()
}

#[test]
fn sample_suite_passes_against_the_embedded_broker() {
    let dir = tempfile::tempdir().expect("tempdir");
    let junit = dir.path().join("junit.xml");
    let out = thingbench(&[
        "run",
        "fixtures/messages",
        "--junit",
        junit.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let n = fixture_count();
    // The commands need a device, which a broker of the run's own cannot have: skipped, said.
    let k = common::sample_commands().len();
    assert!(k >= 3, "a set, a get and an invoke");
    assert!(
        text(&out).contains(&format!("{n} passed, 0 failed, {k} skipped")),
        "{}",
        text(&out)
    );
    assert_eq!(count(&text(&out), "SKIP  "), k, "{}", text(&out));
    let xml = std::fs::read_to_string(&junit).expect("junit written");
    assert_eq!(count(&xml, "<testcase "), n + k, "{xml}");
    assert_eq!(count(&xml, "<skipped"), k, "{xml}");
    assert_eq!(count(&xml, "<failure"), 0);
    assert!(
        xml.contains("classname=\"fixtures/messages/040-1204-wrong-type.json\""),
        "{xml}"
    );
}

#[test]
fn a_wrong_expect_fails_with_exit_1_and_a_junit_failure() {
    let ws = copy_workspace();
    let file = ws.path().join("messages/040-1204-wrong-type.json");
    let fixture = std::fs::read_to_string(&file).expect("read");
    std::fs::write(&file, fixture.replace("\"code\": 1204", "\"code\": 200")).expect("write");
    let junit = ws.path().join("junit.xml");
    let messages = ws.path().join("messages");
    let out = thingbench(&[
        "run",
        messages.to_str().expect("utf-8"),
        "--workspace",
        ws.path().to_str().expect("utf-8"),
        "--junit",
        junit.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("FAIL"), "{}", text(&out));
    let xml = std::fs::read_to_string(&junit).expect("junit written");
    assert_eq!(count(&xml, "<failure"), 1, "{xml}");
    assert!(xml.contains("expected 200, got 1204"), "{xml}");
}

#[test]
fn a_fixture_after_a_logout_fixture_finds_its_device_logged_in_again() {
    let ws = copy_workspace();
    let messages = ws.path().join("messages");
    let valid = messages.join("001-valid-two-inverters.json");
    std::fs::copy(&valid, messages.join("099-valid-after-logout.json")).expect("copy");
    let logout = messages.join("061-200-logout.json");
    let after = messages.join("099-valid-after-logout.json");
    let out = thingbench(&[
        "run",
        logout.to_str().expect("utf-8"),
        after.to_str().expect("utf-8"),
        "--workspace",
        ws.path().to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(count(&text(&out), "PASS"), 2, "{}", text(&out));
}

/// The workspace's `limits.maxPayload` is the hub's 1008 limit and thingbench's own: a payload
/// over it is sent when the fixture expects 1008 (it has said what it wants) or says
/// `sendOversize`, and refused before sending otherwise.
#[test]
fn a_payload_over_the_configured_limit_is_sent_when_expecting_1008_or_on_purpose() {
    let ws = copy_workspace();
    let file = ws.path().join("workspace.json");
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).expect("read")).expect("JSON");
    config["limits"] = serde_json::json!({"maxPayload": 300});
    std::fs::write(&file, config.to_string()).expect("write");
    let messages = ws.path().join("messages");
    // About 165 and 430 bytes as sent, id included.
    let small = messages.join("006-valid-single-post.json");
    let big = messages.join("001-valid-two-inverters.json");
    let variant = |file: &str, name: &str, code: u16, on_purpose: bool| {
        let mut fixture: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&big).expect("read")).expect("JSON");
        fixture["name"] = name.into();
        fixture["expect"]["code"] = code.into();
        if on_purpose {
            fixture["sendOversize"] = true.into();
        }
        let path = messages.join(file);
        std::fs::write(&path, fixture.to_string()).expect("write");
        path
    };
    let expecting_1008 = variant("097-expects-1008.json", "expects 1008", 1008, false);
    let on_purpose = variant("098-on-purpose.json", "on purpose, expects 200", 200, true);
    let junit = ws.path().join("junit.xml");
    let out = thingbench(&[
        "run",
        small.to_str().expect("utf-8"),
        big.to_str().expect("utf-8"),
        expecting_1008.to_str().expect("utf-8"),
        on_purpose.to_str().expect("utf-8"),
        "--workspace",
        ws.path().to_str().expect("utf-8"),
        "--junit",
        junit.to_str().expect("utf-8"),
    ]);
    let printed = text(&out);
    assert_eq!(out.status.code(), Some(1), "{printed}");
    // Under the limit: sent and answered. Over it, expecting 200: refused with what to do.
    // Expecting 1008, without being told: sent, and the embedded hub applies the same limit.
    // On purpose while expecting 200: sent, and answered 1008.
    assert_eq!(count(&printed, "PASS"), 2, "{printed}");
    assert!(
        printed.contains("PASS  expects 1008  expected 1008  got 1008"),
        "{printed}"
    );
    assert!(
        printed.contains("not sent: the payload is")
            && printed.contains("over the limit of 300")
            && printed.contains("a fixture expecting 1008 is sent anyway")
            && printed.contains("\"sendOversize\": true"),
        "{printed}"
    );
    assert!(
        printed.contains("FAIL  on purpose, expects 200  expected 200  got 1008"),
        "{printed}"
    );
    let xml = std::fs::read_to_string(&junit).expect("junit written");
    assert_eq!(count(&xml, "<failure"), 2, "{xml}");
    assert!(xml.contains("limits.maxPayload"), "{xml}");
}

#[test]
fn silence_ends_as_no_reply_in_bounded_time() {
    let ws = copy_workspace();
    let messages = ws.path().join("messages");
    std::fs::remove_dir_all(&messages).expect("clear");
    std::fs::create_dir_all(&messages).expect("mkdir");
    let body = r#"{"version": "1.0", "method": "thing.event.post", "params": {}}"#;
    std::fs::write(
        messages.join("1-expects-a-reply.json"),
        format!(r#"{{"name": "nobody serves this topic", "topic": "/sys/gwPk/gw01/thing/event/post", "request": {body}, "expect": {{"code": 200, "withinMs": 300}}}}"#),
    )
    .expect("write");
    std::fs::write(
        messages.join("2-expects-silence.json"),
        format!(r#"{{"name": "silence is required", "topic": "/sys/gwPk/gw01/thing/event/post", "request": {body}, "expect": {{"noReply": true, "withinMs": 300}}}}"#),
    )
    .expect("write");
    let started = Instant::now();
    let out = thingbench(&[
        "run",
        messages.to_str().expect("utf-8"),
        "--workspace",
        ws.path().to_str().expect("utf-8"),
    ]);
    assert!(started.elapsed() < Duration::from_secs(20), "bounded time");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let output = text(&out);
    assert!(
        output.contains("FAIL  nobody serves this topic  expected 200  got no reply within 300 ms"),
        "{output}"
    );
    assert!(output.contains("PASS  silence is required"), "{output}");
}

#[test]
fn unreachable_broker_exits_2_with_a_sentence() {
    let port = free_port();
    let url = format!("mqtt://127.0.0.1:{port}");
    let out = thingbench(&["run", "fixtures/messages", "--broker", &url]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("could not connect") && err.contains("refused"),
        "{err}"
    );
}

// --- mosquitto -------------------------------------------------------------------------

/// mosquitto as found on `PATH` (Debian puts it in /usr/sbin, on root's `PATH`).
fn start_mosquitto(dir: &Path, port: u16) -> Option<Killed> {
    start_mosquitto_with(dir, port, None)
}

/// mosquitto on `port`, plus a TLS listener `(port, certificate folder)` when given; `None`
/// (with a note) when mosquitto is not installed.
fn start_mosquitto_with(dir: &Path, port: u16, tls: Option<(u16, &Path)>) -> Option<Killed> {
    start_mosquitto_configured(dir, port, tls, "set_tcp_nodelay true\n")
}

/// mosquitto as installed, with Nagle's algorithm left on for the sockets it accepts.
fn start_stock_mosquitto(dir: &Path, port: u16) -> Option<Killed> {
    start_mosquitto_configured(dir, port, None, "")
}

#[test]
fn sample_suite_passes_against_mosquitto_with_thingbench_hub() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let Some(_mosquitto) = start_mosquitto(dir.path(), port) else {
        return;
    };
    let url = format!("mqtt://127.0.0.1:{port}");
    let _hub = start_hub(&url);
    let junit = dir.path().join("junit.xml");
    // The fixtures that need no device: no device is connected to this mosquitto.
    let mut args = vec!["run".to_owned()];
    args.extend(common::sample_fixtures());
    args.extend([
        "--broker".to_owned(),
        url.clone(),
        "--junit".to_owned(),
        junit.to_str().expect("utf-8").to_owned(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = thingbench(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let xml = std::fs::read_to_string(&junit).expect("junit");
    assert_eq!(count(&xml, "<testcase "), fixture_count());
    assert_eq!(count(&xml, "<failure"), 0);
    // With `set_tcp_nodelay true` round trips are fast: no hint about them.
    assert_eq!(count(&text(&out), "Nagle"), 0, "{}", text(&out));
}

/// A stock mosquitto leaves Nagle's algorithm on: every round trip waits for a delayed ACK.
/// `run` and `bench` say so once, naming the broker setting.
#[test]
fn round_trips_held_up_by_nagle_on_the_broker_get_one_hint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let Some(_mosquitto) = start_stock_mosquitto(dir.path(), port) else {
        return;
    };
    let url = format!("mqtt://127.0.0.1:{port}");
    let _hub = start_hub(&url);
    let out = thingbench(&[
        "run",
        "fixtures/messages/001-valid-two-inverters.json",
        "fixtures/messages/002-valid-every-data-type.json",
        "fixtures/messages/003-valid-meter.json",
        "--broker",
        &url,
    ]);
    let output = text(&out);
    assert_eq!(out.status.code(), Some(0), "{output}");
    let hint = format!("Nagle's algorithm on {url} is the likely cause");
    assert_eq!(count(&output, &hint), 1, "{output}");
    assert!(output.contains("set_tcp_nodelay true"), "{output}");

    let out = thingbench(&["bench", "--broker", &url, "--requests", "50", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // The hint goes to stderr; stdout stays the JSON.
    serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("--json prints JSON");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(count(&err, &hint), 1, "{err}");
}

/// A broker with nobody answering on it: `run` says so once, without a note per login and in
/// seconds rather than five per login, and `bench` stops at its warm-up instead of counting
/// every request lost.
#[test]
fn a_broker_without_a_hub_is_said_once_and_soon() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let Some(_mosquitto) = start_mosquitto(dir.path(), port) else {
        return;
    };
    let url = format!("mqtt://127.0.0.1:{port}");
    let started = Instant::now();
    let out = thingbench(&[
        "run",
        "fixtures/messages/001-valid-two-inverters.json",
        "fixtures/messages/002-valid-every-data-type.json",
        "--broker",
        &url,
        "--timeout-ms",
        "300",
    ]);
    let took = started.elapsed();
    let output = text(&out);
    assert_eq!(out.status.code(), Some(1), "{output}");
    let said = format!("no hub seems to be answering on {url}");
    assert_eq!(count(&output, &said), 1, "{output}");
    assert!(
        output.contains(&format!("thingbench hub --broker {url}")),
        "{output}"
    );
    assert_eq!(count(&output, "could not log in"), 0, "{output}");
    assert_eq!(count(&output, "got no reply within 300 ms"), 2, "{output}");
    // Three logins of 5 s each per fixture took 30 s; now the first wait 2 s and the rest less.
    assert!(took < Duration::from_secs(20), "took {took:?}:\n{output}");

    let started = Instant::now();
    let out = thingbench(&["bench", "--broker", &url, "--requests", "200", "--json"]);
    let took = started.elapsed();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(count(&err, &said), 1, "{err}");
    assert!(err.contains("nothing to measure"), "{err}");
    assert!(took < Duration::from_secs(20), "took {took:?}: {err}");
}

#[test]
fn a_broker_stopped_mid_run_ends_requests_as_lost_and_exit_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let Some(mut mosquitto) = start_mosquitto(dir.path(), port) else {
        return;
    };
    let url = format!("mqtt://127.0.0.1:{port}");
    let _hub = start_hub(&url);
    let ws = copy_workspace();
    let messages = ws.path().join("messages");
    // A first fixture that passes, then one that waits in silence while the broker dies under
    // it: the broker is killed once the first has passed.
    let first: serde_json::Value = serde_json::from_slice(
        &std::fs::read(messages.join("001-valid-two-inverters.json")).expect("read"),
    )
    .expect("json");
    let first = serde_json::json!({"name": "passes before the broker dies",
        "request": first["request"], "expect": {"code": 200}});
    std::fs::write(messages.join("000-a-first.json"), first.to_string()).expect("write");
    std::fs::write(
        messages.join("000-b-wait.json"),
        r#"{"name": "waits while the broker dies", "topic": "/sys/gwPk/gw01/thing/event/post", "request": {"version": "1.0"}, "expect": {"code": 200, "withinMs": 4000}}"#,
    )
    .expect("write");
    // Every fixture file, the commands among them (no device answers them here either).
    let json = |dir: &Path| {
        std::fs::read_dir(dir)
            .expect("a folder")
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "json"))
            })
            .count()
    };
    let fixtures = json(&messages) + json(&messages.join("commands"));
    let mut run = Running::run(&messages, ws.path(), &url, &ws.path().join("junit.xml"));
    run.wait_for("the first fixture's PASS", Duration::from_secs(30), |l| {
        l.starts_with("PASS  passes before the broker dies")
    });
    let _ = mosquitto.0.kill();
    let _ = mosquitto.0.wait();
    let killed = Instant::now();
    let (code, output) = run.finish(Duration::from_secs(60));
    let after_kill = killed.elapsed();
    assert_eq!(code, Some(1), "{output}");
    assert!(
        output.contains("FAIL  waits while the broker dies"),
        "{output}"
    );
    assert!(output.contains(" failed"), "{output}");
    // Every fixture has its line, and every one after the first failed as lost.
    let results: Vec<&str> = output
        .lines()
        .filter(|l| l.starts_with("PASS ") || l.starts_with("FAIL "))
        .collect();
    assert_eq!(results.len(), fixtures, "{output}");
    assert!(
        results[1..]
            .iter()
            .all(|l| l.starts_with("FAIL ") && l.contains("lost: ")),
        "{output}"
    );
    // The outage: one line when it starts, one when the run stops waiting, in plain words.
    assert_eq!(count(&output, "lost the connection: "), 1, "{output}");
    assert_eq!(
        count(&output, "still no connection after 10 s"),
        1,
        "{output}"
    );
    for jargon in ["serialization", "os error", "Mqtt state", "IO:"] {
        assert!(!output.contains(jargon), "{jargon:?} in:\n{output}");
    }
    // Each fixture after it: one line, no notes, with the time it really waited. The waits
    // add up to no more than the run lasted after the kill.
    let first_fail = output.find("FAIL ").expect("a failure");
    assert!(!output[first_fail..].contains("note:"), "{output}");
    let waited: u64 = results
        .iter()
        .filter_map(|l| l.split("(waited ").nth(1))
        .filter_map(|rest| rest.split(" ms").next()?.parse::<u64>().ok())
        .sum();
    assert!(
        Duration::from_millis(waited) <= after_kill,
        "{waited} ms of waits claimed in {after_kill:?}:\n{output}"
    );
    assert!(
        count(
            &output,
            "(not waited: the run stopped waiting for it after 10 s)"
        ) > 0,
        "{output}"
    );
}

// --- TLS ---------------------------------------------------------------------------------

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl runs");
    assert!(status.success(), "openssl {args:?}");
}

/// A CA and a server certificate for 127.0.0.1 signed by it.
fn make_certificates(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=thingbench test CA",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    std::fs::write(
        dir.join("ext.cnf"),
        "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\n",
    )
    .expect("write ext");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
}

#[test]
fn mqtts_verifies_the_broker_certificate() {
    let openssl_present = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if mosquitto_binary().is_none() {
        common::missing_peer("mosquitto", "apt-get install mosquitto");
        return;
    }
    if !openssl_present {
        common::missing_peer("openssl", "apt-get install openssl");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    make_certificates(dir.path());
    let (plain, tls) = (free_port(), free_port());
    let _mosquitto =
        start_mosquitto_with(dir.path(), plain, Some((tls, dir.path()))).expect("checked above");
    let _hub = start_hub(&format!("mqtt://127.0.0.1:{plain}"));
    let url = format!("mqtts://127.0.0.1:{tls}");
    let fixture = "fixtures/messages/001-valid-two-inverters.json";
    let ca = dir.path().join("ca.pem");

    let out = thingbench(&[
        "run",
        fixture,
        "--broker",
        &url,
        "--ca",
        ca.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(0), "trusted CA: {}", text(&out));

    let out = thingbench(&["run", fixture, "--broker", &url]);
    assert_eq!(out.status.code(), Some(2), "untrusted: {}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("TLS") && err.contains("certificate"), "{err}");

    let out = thingbench(&["run", fixture, "--broker", &url, "--insecure"]);
    assert_eq!(out.status.code(), Some(0), "insecure: {}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("NOT verified"));
}

#[test]
fn bench_pairs_every_reply_and_prints_json() {
    let out = thingbench(&[
        "bench",
        "--requests",
        "300",
        "--inflight",
        "16",
        "--points",
        "12",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("--json prints JSON");
    assert_eq!(report["requests"], 300);
    assert_eq!(report["lost"], 0);
    assert_eq!(report["not_200"], 0);
    for key in ["req_per_s", "p50_ms", "p99_ms", "publish_per_s", "ratio"] {
        assert!(
            report[key].as_f64().is_some_and(|v| v > 0.0),
            "{key}: {report}"
        );
    }
}

#[test]
fn bench_times_commands_answered_by_a_device_and_repeats_with_medians() {
    let out = thingbench(&[
        "bench",
        "--requests",
        "100",
        "--inflight",
        "4",
        "--commands",
        "--repeat",
        "2",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("--json prints JSON");
    assert_eq!(report["repeat"], 2);
    let runs = report["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 2);
    for run in runs {
        assert_eq!(run["bench"]["lost"], 0, "{run}");
        assert_eq!(run["commands"]["lost"], 0, "every set was answered: {run}");
        assert_eq!(run["commands"]["requests"], 100);
    }
    for (label, key) in [
        ("bench", "req_per_s"),
        ("bench", "ratio"),
        ("commands", "p50_ms"),
        ("commands", "p99_ms"),
    ] {
        let median = report["median"][label][key].as_f64();
        let (min, max) = (
            report["min"][label][key].as_f64(),
            report["max"][label][key].as_f64(),
        );
        assert!(
            median.is_some_and(|m| m > 0.0) && min <= median && median <= max,
            "{label}.{key}: {report}"
        );
    }
}

#[test]
fn bench_over_tls_repeated_says_what_tls_adds_in_json() {
    let ws = copy_workspace();
    let workspace = ws.path().to_str().expect("utf-8");
    let out = thingbench(&[
        "bench",
        "--workspace",
        workspace,
        "--tls",
        "--requests",
        "40",
        "--inflight",
        "1",
        "--repeat",
        "2",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("--json prints JSON");
    for run in report["runs"].as_array().expect("runs") {
        for label in ["plain", "tls"] {
            assert_eq!(run[label]["lost"], 0, "{run}");
            assert_eq!(run[label]["not_200"], 0, "{run}");
        }
    }
    for key in ["p50_ms", "p99_ms"] {
        let of = |at: &str| report[at]["tls_adds"][key].as_f64();
        let (min, median, max) = (of("min"), of("median"), of("max"));
        assert!(
            [min, median, max].iter().all(Option::is_some) && min <= median && median <= max,
            "tls_adds.{key}: {report}"
        );
    }
}

#[test]
fn the_session_reconnects_and_resubscribes_after_a_broker_restart() {
    use thingbench::protocol::MsgId;
    use thingbench::transport::{
        Auth, BrokerUrl, RequestId, Session, SessionCommand, SessionConfig, SessionEvent,
    };

    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let Some(mut mosquitto) = start_mosquitto(dir.path(), port) else {
        return;
    };
    let url = format!("mqtt://127.0.0.1:{port}");
    let _hub = start_hub(&url);
    let config = SessionConfig {
        broker: BrokerUrl::parse(&url).expect("url"),
        client_id: "reconnect-test".into(),
        auth: Auth::None,
        keep_alive: Duration::from_secs(5),
        tls: Default::default(),
        platform: false,
    };
    let session = Session::start(config, Box::new(|| {})).expect("session");
    let next = |wanted: &dyn Fn(&SessionEvent) -> bool| loop {
        let event = session
            .events
            .recv_timeout(Duration::from_secs(15))
            .expect("event in time");
        if wanted(&event) {
            return event;
        }
    };
    let request = |n: u64| {
        SessionCommand::Request {
        request: RequestId(n),
        topic: "/sys/gwPk/gw01/thing/measurepoint/post/batch".into(),
        payload: format!(r#"{{"id": "{n}", "version": "1.0", "method": "thing.measurepoint.post.batch", "params": [{{"measurepoints": {{"cpuLoad": 1.5}}}}]}}"#).into_bytes(),
        msg_id: Some(MsgId(n.to_string())),
        timeout: Duration::from_secs(5),
    }
    };
    next(&|e| matches!(e, SessionEvent::Connected));
    session.send(request(1));
    let replied = next(&|e| {
        matches!(
            e,
            SessionEvent::Replied { .. } | SessionEvent::NoReply { .. }
        )
    });
    assert!(
        matches!(replied, SessionEvent::Replied { .. }),
        "{replied:?}"
    );

    // The broker goes away and comes back on the same port.
    let _ = mosquitto.0.kill();
    let _ = mosquitto.0.wait();
    let event = next(&|e| matches!(e, SessionEvent::Disconnected { .. }));
    assert!(matches!(event, SessionEvent::Disconnected { reason } if !reason.is_empty()));
    let _mosquitto = start_mosquitto(dir.path(), port).expect("mosquitto restarts");
    next(&|e| matches!(e, SessionEvent::Connected));
    // The hub reconnects too; retry until it answers on the re-subscribed reply topic.
    let deadline = Instant::now() + Duration::from_secs(15);
    for n in 2.. {
        assert!(Instant::now() < deadline, "no reply after the restart");
        session.send(request(n));
        let event = next(&|e| {
            matches!(
                e,
                SessionEvent::Replied { .. }
                    | SessionEvent::NoReply { .. }
                    | SessionEvent::Lost { .. }
            )
        });
        if let SessionEvent::Replied { reply, .. } = event {
            assert_eq!(reply.code.0, 200);
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

// --- Faults: a broker that dies and comes back, a hub that stops answering, Ctrl-C -------

/// 200 fixtures in `messages/suite`: four valid batches (each waits up to 300 ms) for every
/// request sent to a topic nobody answers, which must stay silent for 40 ms.
fn long_suite(ws: &Path) -> PathBuf {
    let suite = ws.join("messages/suite");
    std::fs::create_dir_all(&suite).expect("mkdir");
    let valid: serde_json::Value = serde_json::from_slice(
        &std::fs::read(ws.join("messages/001-valid-two-inverters.json")).expect("read"),
    )
    .expect("json");
    for i in 0..200 {
        let fixture = if i % 5 == 0 {
            serde_json::json!({"name": format!("{i:03} silence"), "topic": "/sys/gwPk/gw01/thing/event/post",
                "request": {"version": "1.0"}, "expect": {"noReply": true, "withinMs": 40}})
        } else {
            serde_json::json!({"name": format!("{i:03} valid"), "request": valid["request"],
                "expect": {"code": 200, "withinMs": 300}})
        };
        std::fs::write(suite.join(format!("{i:03}.json")), fixture.to_string()).expect("write");
    }
    suite
}

/// A `thingbench run` in the background whose output is read line by line as it comes:
/// stdout and stderr in one stream, in the order they arrive.
struct Running {
    child: Killed,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    /// `thingbench run SUITE --workspace WS --junit JUNIT`, against `url` when given.
    fn run(suite: &Path, ws: &Path, url: &str, junit: &Path) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_thingbench"));
        command.args([
            "run",
            suite.to_str().expect("utf-8"),
            "--workspace",
            ws.to_str().expect("utf-8"),
            "--junit",
            junit.to_str().expect("utf-8"),
        ]);
        if !url.is_empty() {
            command.args(["--broker", url]);
        }
        Self::spawn(command)
    }

    fn spawn(mut command: Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("thingbench starts");
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let child = Killed(child);
        let forward = |stream: Box<dyn std::io::Read + Send>, tx: mpsc::Sender<String>| {
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        };
        forward(Box::new(stdout), tx.clone());
        forward(Box::new(stderr), tx);
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for the first line `wanted` accepts, failing with everything seen after `within`.
    fn wait_for(&mut self, what: &str, within: Duration, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + within;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(remaining) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if wanted(&line) {
                        return line;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => panic!(
                    "no {what} within {within:?}; the output so far:\n{}",
                    self.seen.join("\n")
                ),
                Err(mpsc::RecvTimeoutError::Disconnected) => panic!(
                    "the run ended without {what}; its output:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// How many result lines (PASS or FAIL) were seen so far.
    fn results(&self) -> usize {
        self.seen
            .iter()
            .filter(|l| l.starts_with("PASS ") || l.starts_with("FAIL "))
            .count()
    }

    /// Reads to the end of the output and waits for the exit, failing after `within`: the exit
    /// code and every line.
    fn finish(mut self, within: Duration) -> (Option<i32>, String) {
        let deadline = Instant::now() + within;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(remaining) {
                Ok(line) => self.seen.push(line),
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => panic!(
                    "the run did not end within {within:?}; its output:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
        let status = self.child.0.wait().expect("the run ends");
        (status.code(), self.seen.join("\n"))
    }
}

/// Checks a suite that lived through a fault: every fixture ended as something, in the output
/// and in the JUnit file, some failed, and the run says so with exit code 1.
fn assert_every_fixture_accounted(code: Option<i32>, output: &str, junit: &Path, failure: &str) {
    assert_eq!(code, Some(1), "{output}");
    let results = output
        .lines()
        .filter(|l| l.starts_with("PASS ") || l.starts_with("FAIL "))
        .count();
    assert_eq!(
        results, 200,
        "every request ends as replied, no reply or lost:\n{output}"
    );
    assert!(output.contains(failure), "{failure} expected:\n{output}");
    let xml = std::fs::read_to_string(junit).expect("junit");
    assert_eq!(count(&xml, "<testcase "), 200);
    assert!(count(&xml, "<failure") > 0);
}

/// Runs the long suite against `url`, kills the broker once 20 fixtures are done, starts it
/// again once the run has said it lost the connection, and checks that every fixture was
/// accounted for, the outage was said in two lines, and the suite passed again by its end.
fn suite_through_a_restart(url: &str, broker: Killed, restart: impl FnOnce() -> Option<Killed>) {
    let ws = copy_workspace();
    let suite = long_suite(ws.path());
    let junit = ws.path().join("junit.xml");
    let mut run = Running::run(&suite, ws.path(), url, &junit);
    while run.results() < 20 {
        run.wait_for("20 results", Duration::from_secs(60), |l| {
            l.starts_with("PASS ") || l.starts_with("FAIL ")
        });
    }
    drop(broker);
    run.wait_for("the outage's line", Duration::from_secs(30), |l| {
        l.contains("lost the connection: ")
    });
    let _broker = restart();
    let (code, output) = run.finish(Duration::from_secs(120));
    assert_every_fixture_accounted(code, &output, &junit, "lost");
    // One line when the outage starts, one when it ends, and the run never stopped waiting.
    assert_eq!(count(&output, "lost the connection: "), 1, "{output}");
    assert_eq!(
        count(&output, "connected to the broker again after"),
        1,
        "{output}"
    );
    assert_eq!(count(&output, "still no connection"), 0, "{output}");
    // The session reconnected by itself: the suite passes again at its end.
    let last = output
        .lines()
        .rfind(|l| l.starts_with("PASS ") || l.starts_with("FAIL "));
    assert!(last.is_some_and(|l| l.starts_with("PASS ")), "{output}");
}

#[test]
fn a_suite_outlives_the_embedded_broker_dying_and_coming_back() {
    let port = free_port();
    let url = format!("mqtt://127.0.0.1:{port}");
    suite_through_a_restart(&url, serve_on(port), || Some(serve_on(port)));
}

#[test]
fn a_suite_outlives_mosquitto_dying_and_coming_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let Some(mosquitto) = start_mosquitto(dir.path(), port) else {
        return;
    };
    let url = format!("mqtt://127.0.0.1:{port}");
    let _hub = start_hub(&url);
    suite_through_a_restart(&url, mosquitto, || start_mosquitto(dir.path(), port));
}

#[test]
fn a_hub_that_stops_answering_turns_sends_into_no_reply() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let Some(_mosquitto) = start_mosquitto(dir.path(), port) else {
        return;
    };
    let url = format!("mqtt://127.0.0.1:{port}");
    let hub = start_hub(&url);
    let ws = copy_workspace();
    let suite = long_suite(ws.path());
    // Shorter waits, so that 150 silent sends take seconds, not a minute.
    for entry in std::fs::read_dir(&suite).expect("suite") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("read");
        std::fs::write(&path, text.replace("\"withinMs\":300", "\"withinMs\":60")).expect("write");
    }
    let junit = ws.path().join("junit.xml");
    let mut run = Running::run(&suite, ws.path(), &url, &junit);
    // The hub answers until a valid batch has passed.
    run.wait_for("a valid batch's PASS", Duration::from_secs(60), |l| {
        l.starts_with("PASS ") && l.contains("valid")
    });
    drop(hub);
    let (code, output) = run.finish(Duration::from_secs(120));
    assert_every_fixture_accounted(code, &output, &junit, "no reply within 60 ms");
    // A hub that answered and then stopped is not "no hub".
    assert_eq!(count(&output, "no hub seems"), 0, "{output}");
}

#[test]
fn ctrl_c_stops_a_suite_and_keeps_the_results_so_far() {
    let ws = copy_workspace();
    let suite = long_suite(ws.path());
    // Every fixture waits, so that the run is still going when Ctrl-C comes.
    for entry in std::fs::read_dir(&suite).expect("suite") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("read");
        std::fs::write(&path, text.replace("\"withinMs\":40", "\"withinMs\":200")).expect("write");
    }
    let junit = ws.path().join("junit.xml");
    let mut run = Running::run(&suite, ws.path(), "", &junit);
    // Ctrl-C once five fixtures are done: the run is under way, its handler installed.
    while run.results() < 5 {
        run.wait_for("five results", Duration::from_secs(60), |l| {
            l.starts_with("PASS ") || l.starts_with("FAIL ")
        });
    }
    let status = Command::new("kill")
        .args(["-INT", &run.child.0.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let started = Instant::now();
    let (code, output) = run.finish(Duration::from_secs(30));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "stops after the fixture in flight, not after {:?}",
        started.elapsed()
    );
    assert_eq!(code, Some(1), "{output}");
    let ran = output
        .lines()
        .filter(|l| l.starts_with("PASS ") || l.starts_with("FAIL "))
        .count();
    assert!((5..200).contains(&ran), "{ran} ran:\n{output}");
    assert!(
        output.contains(&format!(
            "stopped by Ctrl-C: {} of 200 fixtures not run",
            200 - ran
        )),
        "{output}"
    );
    let xml = std::fs::read_to_string(&junit).expect("the results so far are written");
    assert_eq!(count(&xml, "<testcase "), ran);
}
