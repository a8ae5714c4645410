//! `thingbench qualify` against devices written for it: a well-behaved gateway passes every
//! check, and each misbehaving variant fails exactly the check it breaks, in its uplink or in
//! how it obeys commands. The devices are real MQTT clients (rumqttc) connecting through the
//! proxy, as firmware would.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use common::commands::CommandFlaw;
use common::device::{Flaw, RunningDevice};
use common::{free_port, root};

/// How long a test waits for a line before it fails.
const WAIT: Duration = Duration::from_secs(60);

/// Runs `thingbench qualify PLAN` with `flaw`'s device; returns the exit code, stdout and stderr.
fn qualify(
    plan: &str,
    flaw: Flaw,
    broker: Option<&str>,
    extra: &[&str],
) -> (Option<i32>, String, String) {
    qualify_with(plan, flaw, CommandFlaw::None, broker, extra)
}

/// [`qualify`] with a device that has `command_flaw` in how it obeys commands.
fn qualify_with(
    plan: &str,
    flaw: Flaw,
    command_flaw: CommandFlaw,
    broker: Option<&str>,
    extra: &[&str],
) -> (Option<i32>, String, String) {
    let mut args = Vec::new();
    if let Some(url) = broker {
        args.extend(["--broker".to_owned(), url.to_owned()]);
    }
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    let common::Qualifying {
        mut child,
        mut stdout,
        mut stderr,
        port,
    } = common::start_qualify(
        Path::new(&format!("fixtures/plans/{plan}")),
        &args,
        &root(),
        WAIT,
    );
    let device = RunningDevice::start_with(port, flaw, command_flaw);
    let status = child.0.wait().expect("qualify ends");
    drop(device);
    let out = stdout.rest(WAIT).join("\n");
    let err = stderr.rest(WAIT).join("\n");
    (status.code(), out, err)
}

/// The ids of the checks with `verdict` in qualify's output.
fn with_verdict<'o>(out: &'o str, verdict: &str) -> Vec<&'o str> {
    out.lines()
        .filter(|l| l.starts_with(verdict))
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect()
}

#[test]
fn a_well_behaved_gateway_passes_the_short_plan() {
    let dir = tempfile::tempdir().expect("tempdir");
    let junit = dir.path().join("qualify.xml");
    let junit_arg = junit.to_str().expect("utf-8");
    let report = dir.path().join("qualification.html");
    let report_arg = report.to_str().expect("utf-8");
    let (code, out, err) = qualify(
        "short.json",
        Flaw::None,
        None,
        &["--junit", junit_arg, "--report", report_arg],
    );
    assert_eq!(
        with_verdict(&out, "FAIL"),
        Vec::<&str>::new(),
        "{out}\n{err}"
    );
    assert_eq!(code, Some(0), "{out}\n{err}");
    // Every phase kind was played, and the device lived through each.
    for line in [
        "\"rejected\" (answers 1204)",
        "\"no replies\" (no replies)",
        "\"outage\" (network down)",
        "(+150 ms each way)",
    ] {
        assert!(err.contains(line), "{line} missing:\n{err}");
    }
    assert!(
        err.contains("connection attempt while the network is down"),
        "{err}"
    );
    // Every check but the command checks (the plan sends no command) and
    // refuses-bad-certificates (it needs a phase with a tls fault).
    assert_eq!(with_verdict(&out, "PASS").len(), 10, "{out}");
    assert_eq!(
        with_verdict(&out, "N/A"),
        vec![
            "answers-commands",
            "reply-codes",
            "applies-set",
            "outputs-match",
            "refuses-bad-certificates"
        ],
        "{out}"
    );
    let xml = std::fs::read_to_string(&junit).expect("JUnit written");
    assert_eq!(xml.matches("<testcase ").count(), 15, "{xml}");
    assert_eq!(xml.matches("<skipped").count(), 5, "{xml}");
    assert_eq!(xml.matches("<failure").count(), 0, "{xml}");
    assert!(xml.contains("name=\"backfills\""), "{xml}");
    // The report: every check with its verdict, the models' coverage, nothing to fetch.
    let html = std::fs::read_to_string(&report).expect("report written");
    for check in [
        "connects",
        "logs-in-first",
        "backfills",
        "gives-up-on-rejects",
    ] {
        assert!(html.contains(check), "{check} in the report");
    }
    assert!(html.contains("Every phase kind in ten seconds"));
    assert!(html.contains("wb_inverter"), "coverage of the models");
    assert!(!html.contains("<script") && !html.contains("src=\""));
    assert!(!html.contains("gw-secret") && !html.contains("inv01-secret"));
}

#[test]
fn each_flawed_gateway_fails_exactly_its_check() {
    let cases = [
        (Flaw::BadSignature, "connects"),
        (Flaw::Invalid, "conforms"),
        (Flaw::NoLoginAfterReconnect, "logs-in-first"),
        (Flaw::Gap, "reports-every-period"),
        (Flaw::NoBackfill, "backfills"),
        (Flaw::ReusedId, "ids-unique"),
        (Flaw::Future, "times-sane"),
        (Flaw::FastRetry, "backs-off"),
        (Flaw::Resends, "gives-up-on-rejects"),
    ];
    let runs: Vec<_> = cases
        .iter()
        .map(|&(flaw, check)| {
            std::thread::spawn(move || {
                // One of them speaks JSON.
                let extra: &[&str] = if flaw == Flaw::Resends {
                    &["--json"]
                } else {
                    &[]
                };
                (flaw, check, qualify("short.json", flaw, None, extra))
            })
        })
        .collect();
    for run in runs {
        let (flaw, check, (code, out, err)) = run.join().expect("a run");
        if flaw == Flaw::Resends {
            let json: Value = serde_json::from_str(&out).expect("only JSON on stdout");
            assert_eq!(json["plan"], "Every phase kind in ten seconds");
            let checks = json["checks"].as_array().expect("checks");
            assert_eq!(checks.len(), 15, "{out}");
            let failed: Vec<&Value> = checks.iter().filter(|c| c["verdict"] == "fail").collect();
            assert_eq!(failed.len(), 1, "{out}");
            assert_eq!(failed[0]["id"], check);
            assert_eq!(failed[0]["level"], "should");
            assert!(
                failed[0]["evidence"][0]["text"]
                    .as_str()
                    .is_some_and(|t| t.contains("expected")),
                "{out}"
            );
            assert_eq!(
                code,
                Some(0),
                "a should-level failure does not fail the run\n{err}"
            );
            continue;
        }
        let failed = with_verdict(&out, "FAIL");
        if flaw == Flaw::BadSignature {
            assert!(err.contains("CONNACK 5"), "{flaw:?}\n{err}");
        }
        assert_eq!(failed, vec![check], "{flaw:?}\n{out}\n{err}");
        let must = matches!(check, "connects" | "conforms" | "logs-in-first");
        assert_eq!(
            code,
            Some(if must { 1 } else { 0 }),
            "{flaw:?}\n{out}\n{err}"
        );
        assert!(out.contains("expected"), "{flaw:?}: evidence\n{out}");
    }
}

#[test]
fn a_gateway_that_takes_its_own_session_over_keeps_its_sub_devices_logged_in() {
    // The device opens a second connection, then closes the first, and goes on posting for
    // inv01 without logging it in again: it never went offline, so nobody is logged out.
    let (code, out, err) = qualify("short.json", Flaw::Takeover, None, &[]);
    assert!(
        err.contains("another is open, so its sub-devices stay logged in"),
        "no takeover seen:\n{err}"
    );
    assert_eq!(
        with_verdict(&out, "FAIL"),
        Vec::<&str>::new(),
        "{out}\n{err}"
    );
    assert!(
        with_verdict(&out, "PASS").contains(&"logs-in-first"),
        "{out}"
    );
    assert_eq!(code, Some(0), "{out}\n{err}");
}

#[test]
fn qualify_works_in_front_of_mosquitto() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let Some(_mosquitto) =
        common::start_mosquitto_configured(dir.path(), port, None, "set_tcp_nodelay true\n")
    else {
        return;
    };
    let url = format!("mqtt://127.0.0.1:{port}");
    let (code, out, err) = qualify("short.json", Flaw::None, Some(&url), &[]);
    assert_eq!(
        with_verdict(&out, "FAIL"),
        Vec::<&str>::new(),
        "{out}\n{err}"
    );
    assert_eq!(code, Some(0), "{out}\n{err}");
    // The hub logs the sub-devices out when the device's connection ends, on any broker.
    let (code, out, err) = qualify("short.json", Flaw::NoLoginAfterReconnect, Some(&url), &[]);
    assert_eq!(
        with_verdict(&out, "FAIL"),
        vec!["logs-in-first"],
        "{out}\n{err}"
    );
    assert_eq!(code, Some(1), "{out}\n{err}");
}

#[test]
fn the_reference_gateway_obeys_every_command_also_those_held_through_an_outage() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = dir.path().join("commands.html");
    let junit = dir.path().join("commands.xml");
    let (code, out, err) = qualify_with(
        "commands.json",
        Flaw::None,
        CommandFlaw::None,
        None,
        &[
            "--report",
            report.to_str().expect("utf-8"),
            "--junit",
            junit.to_str().expect("utf-8"),
        ],
    );
    // Every check but refuses-bad-certificates: the plan shows no bad certificate.
    assert_eq!(with_verdict(&out, "PASS").len(), 14, "{out}\n{err}");
    assert_eq!(
        with_verdict(&out, "N/A"),
        ["refuses-bad-certificates"],
        "{out}"
    );
    assert_eq!(code, Some(0), "{out}\n{err}");
    // The outage's commands were held and sent once the device was back.
    for line in [
        "command phases[0].commands[0] to invPk/inv01: set Power = 3.5",
        "command phases[1].commands[0] to gwPk/gw01 held: it is offline; sent when it is back",
        "command phases[1].commands[1] to invPk/inv01 held",
        "command phases[1].commands[1] to invPk/inv01: set Power = 4.5",
    ] {
        assert!(err.contains(line), "{line} missing:\n{err}");
    }
    let held = err
        .lines()
        .position(|l| l.contains("commands[1] to invPk/inv01 held"));
    let back = err
        .lines()
        .position(|l| l.contains("device connected (connection 2)"));
    let sent = err
        .lines()
        .position(|l| l.contains("commands[1] to invPk/inv01: set Power = 4.5"));
    assert!(held < back && back < sent, "{err}");
    assert!(
        out.contains("answers-commands      6 command(s) answered once each within 2 s"),
        "{out}"
    );
    let xml = std::fs::read_to_string(&junit).expect("JUnit written");
    assert!(xml.contains("name=\"applies-set\""), "{xml}");
    // The report: the picture, every command with its reply, the device's coverage.
    let html = std::fs::read_to_string(&report).expect("report written");
    assert!(html.contains("<svg"), "the picture");
    assert_eq!(html.matches("<tr class=\"cmd good\"").count(), 6, "{html}");
    assert!(
        html.contains("answered 2001 (the device's own error)"),
        "{html}"
    );
    assert!(html.contains("services invoked"), "the device's coverage");
    assert!(
        !html.contains("ways to be wrong"),
        "a device's report judges no negative tests"
    );
    assert!(!html.contains("<script") && !html.contains("src=\""));
    assert!(!html.contains("gw-secret") && !html.contains("inv01-secret"));
}

#[test]
fn each_gateway_that_gets_commands_wrong_fails_exactly_its_check() {
    let cases = [
        (
            CommandFlaw::IgnoresSubDevices,
            "answers-commands",
            "got no reply within 2 s",
        ),
        (CommandFlaw::Answers500, "reply-codes", "was answered 500"),
        (
            CommandFlaw::NoApply,
            "applies-set",
            "holds 3.2; expected the value set, 3.5",
        ),
        (
            CommandFlaw::NoOutputs,
            "outputs-match",
            "data.cpuLoad: is missing",
        ),
    ];
    let runs: Vec<_> = cases
        .iter()
        .map(|&(flaw, check, evidence)| {
            std::thread::spawn(move || {
                let run = qualify_with("commands.json", Flaw::None, flaw, None, &[]);
                (flaw, check, evidence, run)
            })
        })
        .collect();
    for run in runs {
        let (flaw, check, evidence, (code, out, err)) = run.join().expect("a run");
        assert_eq!(
            with_verdict(&out, "FAIL"),
            vec![check],
            "{flaw:?}\n{out}\n{err}"
        );
        assert!(out.contains(evidence), "{flaw:?}: evidence\n{out}");
        // answers-commands is a must.
        let must = check == "answers-commands";
        assert_eq!(
            code,
            Some(if must { 1 } else { 0 }),
            "{flaw:?}\n{out}\n{err}"
        );
    }
}

#[test]
fn a_gateway_that_subscribes_itself_obeys_commands_through_mosquitto() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let Some(_mosquitto) =
        common::start_mosquitto_configured(dir.path(), port, None, "set_tcp_nodelay true\n")
    else {
        return;
    };
    let url = format!("mqtt://127.0.0.1:{port}");
    let (code, out, err) = qualify("commands.json", Flaw::None, Some(&url), &[]);
    // Every check but refuses-bad-certificates: the plan shows no bad certificate.
    assert_eq!(with_verdict(&out, "PASS").len(), 14, "{out}\n{err}");
    assert_eq!(
        with_verdict(&out, "N/A"),
        ["refuses-bad-certificates"],
        "{out}"
    );
    assert_eq!(code, Some(0), "{out}\n{err}");
}

#[test]
fn a_plan_with_a_wrong_command_exits_2_naming_the_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = [
        (
            r#"{"atS": 1, "device": "invPk/{{inv1}}", "invoke": "reboot"}"#,
            "at phases[0].commands[0]: invoke reboot would be refused (1204 model validation failed): (topic): service \"reboot\" of the topic is not a service of model wb_inverter",
        ),
        (
            r#"{"atS": 1, "device": "invPk/{{inv1}}", "set": {"Power": "hot"}}"#,
            "at phases[0].commands[0]: set Power = \"hot\" would be refused (1204 model validation failed)",
        ),
        (
            r#"{"atS": 3, "device": "gwPk/{{gw}}", "get": ["cpuLoad"]}"#,
            "at phases[0].commands[0].atS: 3 is not within the phase: give 0 <= atS < forS (2 s)",
        ),
    ];
    for (command, expected) in cases {
        let plan = dir.path().join("wrong.json");
        std::fs::write(
            &plan,
            format!(
                r#"{{"name": "wrong", "device": "gwPk/gw01", "periodS": 1,
                    "phases": [{{"forS": 2, "commands": [{command}]}}]}}"#
            ),
        )
        .expect("write");
        let err = qualify_refused(&plan);
        assert!(err.contains("wrong.json: "), "{err}");
        assert!(err.contains(expected), "{err}\nwanted: {expected}");
        assert_eq!(err.lines().count(), 1, "one sentence: {err}");
    }
}

/// `thingbench qualify PLAN` on the sample workspace, on a free port, expected to end with
/// exit 2: what it said on stderr.
fn qualify_refused(plan: &std::path::Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_thingbench"))
        .arg("qualify")
        .arg(plan)
        .args(["--workspace", "fixtures", "--listen", "127.0.0.1:0"])
        .current_dir(root())
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{err}");
    err
}

#[test]
fn a_bad_plan_and_a_device_that_never_connects_exit_2_with_a_sentence() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"name": "bad", "device": "gwPk/gw01", "periodS": 1, "phases": [{"name": "a"}]}"#,
    )
    .expect("write");
    let err = qualify_refused(&bad);
    assert!(
        err.contains("bad.json: at phases[0]: missing field `forS`"),
        "{err}"
    );

    let never = dir.path().join("never.json");
    std::fs::write(
        &never,
        r#"{"name": "never", "device": "gwPk/gw01", "connectWithinS": 1, "periodS": 1, "phases": [{"forS": 1}]}"#,
    )
    .expect("write");
    let err = qualify_refused(&never);
    assert!(err.contains("the device never connected"), "{err}");
}
