//! Environments, variables and shards from the command line: the sample suite in its `lab`
//! environment against mosquitto with `thingbench hub --env lab`, seen on the wire; unknown
//! names refused with exit 2; `run --shard K/N` covering the suite once.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{Killed, free_port, root, spawn_ready};
use thingbench::transport::{SessionCommand, SessionEvent, TlsOptions};

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

/// Every sample fixture, the commands among them, as `run fixtures/messages` finds them.
fn fixture_paths() -> BTreeSet<String> {
    common::all_sample_fixtures().into_iter().collect()
}

/// The `classname`s (fixture paths) of a JUnit file, in order.
fn classnames(xml: &str) -> Vec<String> {
    xml.split("classname=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

/// mosquitto on `port`, or `None` (a SKIPPED line, or a failure under
/// THINGBENCH_REQUIRE_PEERS=1) when it is not installed.
fn start_mosquitto(dir: &Path, port: u16) -> Option<Killed> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let binary = std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join("mosquitto"))
        .find(|p| p.is_file());
    let Some(binary) = binary else {
        common::missing_peer("mosquitto", "apt-get install mosquitto");
        return None;
    };
    let conf = dir.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "user root\nallow_anonymous true\nset_tcp_nodelay true\nmessage_size_limit 0\npersistence false\nlistener {port} 127.0.0.1\n"
        ),
    )
    .expect("write config");
    let child = Killed(
        Command::new(binary)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mosquitto"),
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "mosquitto did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(child)
}

#[test]
fn the_sample_suite_passes_in_the_lab_environment_with_the_labs_keys_on_the_wire() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let Some(_mosquitto) = start_mosquitto(dir.path(), port) else {
        return;
    };
    let url = format!("mqtt://127.0.0.1:{port}");
    // Everything on the broker, as the hub sees it and answers it.
    let wire = thingbench::runner::connect::watcher_session(
        thingbench::transport::BrokerUrl::parse(&url).expect("url"),
        TlsOptions::default(),
    )
    .expect("the wire watcher connects");
    wire.send(SessionCommand::Subscribe("#".into()));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match wire.events.recv_timeout(left) {
            Ok(SessionEvent::Subscribed { granted, .. }) => {
                granted.expect("subscribed to #");
                break;
            }
            Ok(_) => {}
            Err(_) => panic!("no SUBACK within 10 s"),
        }
    }
    let _hub = spawn_ready(
        &[
            "hub",
            "--env",
            "lab",
            "--broker",
            &url,
            "--workspace",
            "fixtures",
        ],
        "gateway gwPk/gw-lab of environment lab",
    );
    let junit = dir.path().join("lab.xml");
    // The fixtures that need no device: the lab's gateway is not connected to this mosquitto.
    let mut args = vec!["run".to_owned()];
    args.extend(common::sample_fixtures());
    args.extend(
        ["--env", "lab", "--broker", &url, "--junit"]
            .into_iter()
            .map(str::to_owned),
    );
    args.push(junit.to_str().expect("utf-8").to_owned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = thingbench(&args);
    let n = common::sample_fixtures().len();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("{n} passed, 0 failed")),
        "{}",
        text(&out)
    );
    assert!(
        text(&out).contains("environment lab: gateway gwPk/gw-lab"),
        "{}",
        text(&out)
    );
    let xml = std::fs::read_to_string(&junit).expect("junit written");
    assert!(xml.contains("name=\"thingbench env=lab\""), "{xml}");
    assert_eq!(classnames(&xml).len(), n, "{xml}");

    // The last fixture is a login refused for its sign (742): once its reply is seen, every
    // earlier message has been delivered to the watcher too.
    let mut seen: Vec<(String, String)> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match wire.events.recv_timeout(left) {
            Ok(SessionEvent::Message { topic, payload }) => {
                let payload = String::from_utf8_lossy(&payload).into_owned();
                let last = topic.ends_with("/combine/login_reply") && payload.contains("742");
                seen.push((topic, payload));
                if last {
                    break;
                }
            }
            Ok(_) => {}
            Err(_) => panic!("the 742 reply never reached the wire; seen: {seen:#?}"),
        }
    }
    // The hub accepted the lab's sub-devices by their lab keys: it logged them in and took
    // their batch, on the lab gateway's topics.
    let replied = |topic: &str, code: &str| {
        seen.iter()
            .any(|(t, p)| t == topic && p.contains(&format!("\"code\":{code}")))
    };
    assert!(
        replied("/ext/session/gwPk/gw-lab/combine/login_reply", "200"),
        "{seen:#?}"
    );
    assert!(
        replied(
            "/sys/gwPk/gw-lab/thing/measurepoint/post/batch_reply",
            "200"
        ),
        "{seen:#?}"
    );
    assert!(
        seen.iter()
            .any(|(t, p)| !t.ends_with("_reply") && p.contains("\"deviceKey\":\"inv-lab-1\"")),
        "{seen:#?}"
    );
    for (topic, payload) in &seen {
        for base_key in ["gw01", "inv01", "inv02", "meter01"] {
            assert!(
                !topic.contains(base_key) && !payload.contains(base_key),
                "the workspace's own key {base_key} went out in the lab: {topic} {payload}"
            );
        }
        assert!(
            !payload.contains("{{"),
            "a variable went out unfilled: {payload}"
        );
        assert!(
            !payload.contains("inv-lab-1-secret"),
            "a secret on the wire: {payload}"
        );
    }
    let requests = seen.iter().filter(|(t, _)| !t.ends_with("_reply"));
    for (topic, _) in requests {
        assert!(
            topic.contains("/gw-lab/")
                || topic.contains("/inv-lab-")
                || topic.contains("/nopk/nodev/"),
            "a request outside the lab gateway's topics: {topic}"
        );
    }
}

#[test]
fn unknown_environments_and_variables_are_refused_in_one_sentence() {
    let out = thingbench(&["run", "fixtures/messages", "--env", "prod"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(said.lines().count(), 1, "{said}");
    assert!(
        said.contains("fixtures/workspace.json: at environments: has no environment \"prod\"; the environments are local, lab"),
        "{said}"
    );
    for command in [
        &["check", "fixtures/messages/001-valid-two-inverters.json"][..],
        &["hub"],
    ] {
        let mut args = command.to_vec();
        args.extend(["--env", "prod", "--workspace", "fixtures"]);
        let out = thingbench(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(text(&out).contains("\"prod\""), "{}", text(&out));
    }

    let ws = common::copy_workspace();
    let fixture = ws.path().join("messages/001-valid-two-inverters.json");
    let written = std::fs::read_to_string(&fixture).expect("read");
    std::fs::write(&fixture, written.replace("{{inv2}}", "{{inv3}}")).expect("write");
    let workspace = ws.path().to_str().expect("utf-8");
    let out = thingbench(&[
        "check",
        "--workspace",
        workspace,
        &fixture.to_string_lossy(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("001-valid-two-inverters.json: at request.params[1].deviceKey: unknown variable {{inv3}}; the variables are gw, inv1, inv2, meter1"),
        "{said}"
    );
    // In a run the fixture fails by name and the others still run.
    let out = thingbench(&[
        "run",
        "--workspace",
        workspace,
        &fixture.to_string_lossy(),
        &ws.path()
            .join("messages/003-valid-meter.json")
            .to_string_lossy(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("{{inv3}}"), "{}", text(&out));
    assert!(text(&out).contains("1 passed, 1 failed"), "{}", text(&out));
}

#[test]
fn shards_cover_the_suite_once_and_each_junit_names_its_shard() {
    let dir = tempfile::tempdir().expect("tempdir");
    let all = fixture_paths();
    for count in 1..5 {
        let mut union = Vec::new();
        let mut sizes = Vec::new();
        for index in 1..=count {
            let shard = format!("{index}/{count}");
            let junit = dir.path().join(format!("shard-{index}-of-{count}.xml"));
            let out = thingbench(&[
                "run",
                "fixtures/messages",
                "--shard",
                &shard,
                "--junit",
                junit.to_str().expect("utf-8"),
            ]);
            assert_eq!(out.status.code(), Some(0), "{shard}: {}", text(&out));
            let xml = std::fs::read_to_string(&junit).expect("junit written");
            assert!(
                xml.contains(&format!("name=\"thingbench shard={shard}\"")),
                "{xml}"
            );
            let names = classnames(&xml);
            sizes.push(names.len());
            union.extend(names);
        }
        let distinct: BTreeSet<String> = union.iter().cloned().collect();
        assert_eq!(
            distinct.len(),
            union.len(),
            "a fixture ran twice: {union:?}"
        );
        assert_eq!(distinct, all, "N = {count}");
        let (min, max) = (sizes.iter().min(), sizes.iter().max());
        assert!(
            max.zip(min).is_some_and(|(max, min)| max - min <= 1),
            "{sizes:?}"
        );
    }
    let out = thingbench(&["run", "fixtures/messages", "--shard", "4/3"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("--shard: expected K/N"),
        "{}",
        text(&out)
    );
}
