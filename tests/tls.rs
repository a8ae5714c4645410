//! TLS on the device's side and the device's link: `qualify --tls` qualifies a gateway that
//! trusts the local CA and shows it each bad certificate; a device that trusts another CA, or
//! presents no client certificate where one is required, is told why; each flawed link fails
//! exactly its check; `serve --tls` answers a client trusting the CA it printed.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::commands::CommandFlaw;
use common::device::{Flaw, RunningDevice};
use common::link::{Link, LinkFlaw};
use common::{Killed, LineReader, copy_workspace, free_port, root, spawn_ready};
use thingbench::broker::tls::LocalCa;

/// How long a test waits for a line before it fails.
const WAIT: Duration = Duration::from_secs(60);

/// What one qualification said.
struct Run {
    code: Option<i32>,
    out: String,
    err: String,
}

impl Run {
    /// The ids of the checks with `verdict` (`PASS`, `FAIL`, `N/A`).
    fn with_verdict(&self, verdict: &str) -> Vec<&str> {
        self.out
            .lines()
            .filter(|l| l.starts_with(verdict))
            .filter_map(|l| l.split_whitespace().nth(2))
            .collect()
    }
}

/// Runs `thingbench qualify PLAN ARGS` with a device on `link` (its CA, when it trusts the one
/// qualify prints, filled in by `trust_printed`).
fn qualify(plan: &Path, args: &[&str], mut link: Link, trust_printed: bool) -> Run {
    let mut command = vec![
        "qualify".to_owned(),
        plan.to_str().expect("utf-8").to_owned(),
        "--workspace".into(),
        "fixtures".into(),
        "--listen".into(),
        "127.0.0.1:0".into(),
    ];
    command.extend(args.iter().map(|a| (*a).to_owned()));
    let mut child = Killed(
        Command::new(env!("CARGO_BIN_EXE_thingbench"))
            .args(&command)
            .current_dir(root())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("thingbench qualify starts"),
    );
    let mut stdout = LineReader::new(child.0.stdout.take().expect("stdout"));
    let mut stderr = LineReader::new(child.0.stderr.take().expect("stderr"));
    let line = stderr.wait_for(WAIT, |l| l.contains("connect the device to"));
    let port: u16 = line
        .split("://127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    if trust_printed {
        let ca = line
            .split("trusting the CA in ")
            .nth(1)
            .and_then(|rest| rest.split([';', ',']).next())
            .unwrap_or_else(|| panic!("no CA in {line:?}"));
        assert!(line.contains("mqtts://"), "{line}");
        link.tls_ca = Some(PathBuf::from(ca));
    }
    let device = RunningDevice::start_linked(port, Flaw::None, CommandFlaw::None, link);
    let status = child.0.wait().expect("qualify ends");
    drop(device);
    Run {
        code: status.code(),
        out: stdout.rest(WAIT).join("\n"),
        err: stderr.rest(WAIT).join("\n"),
    }
}

fn plan(name: &str) -> PathBuf {
    root().join("fixtures/plans").join(name)
}

/// A plan of one normal phase whose device must connect within 3 s, in `dir`.
fn impatient_plan(dir: &Path) -> PathBuf {
    let path = dir.join("impatient.json");
    std::fs::write(
        &path,
        r#"{"name": "impatient", "device": "gwPk/{{gw}}", "connectWithinS": 3, "periodS": 0.5,
            "phases": [{"name": "steady", "forS": 2}]}"#,
    )
    .expect("write the plan");
    path
}

#[test]
fn a_gateway_trusting_the_local_ca_is_qualified_on_commands_and_refuses_every_bad_certificate() {
    // The whole device over TLS: commands in a steady phase and during an outage, each bad
    // certificate, with --tls-client-ca too (the device presents a certificate of that CA).
    let dir = tempfile::tempdir().expect("tempdir");
    let clients = LocalCa::make("test devices CA").expect("a CA");
    let client_ca = dir.path().join("devices-ca.pem");
    std::fs::write(&client_ca, clients.cert_pem()).expect("write");
    let link = Link {
        client_cert: Some(clients.client_pem("gw01").expect("a certificate")),
        ..Link::default()
    };
    let client_ca = client_ca.to_str().expect("utf-8");
    let run = qualify(
        &plan("whole-device.json"),
        &["--tls", "--tls-client-ca", client_ca],
        link,
        true,
    );
    let Run { code, out, err } = &run;
    assert_eq!(run.with_verdict("FAIL"), Vec::<&str>::new(), "{out}\n{err}");
    assert_eq!(*code, Some(0), "{out}\n{err}");
    for check in [
        "keeps-alive",
        "refuses-bad-certificates",
        "connects",
        "answers-commands",
        "reply-codes",
        "applies-set",
        "outputs-match",
        "backs-off",
    ] {
        assert!(run.with_verdict("PASS").contains(&check), "{check}\n{out}");
    }
    for shown in [
        "TLS handshake failed, showing a certificate from another CA",
        "TLS handshake failed, showing a certificate of the right CA for another host name",
        "TLS handshake failed, showing an expired certificate of the right CA",
    ] {
        assert!(err.contains(shown), "{shown} missing:\n{err}");
    }
    assert!(err.contains("with a client certificate signed by"), "{err}");
    // The CA's key stays in the workspace and out of what qualify says.
    assert!(!err.contains("PRIVATE KEY") && !out.contains("PRIVATE KEY"));
}

#[test]
fn each_flawed_link_fails_exactly_its_check() {
    let cases = [
        (LinkFlaw::KeepAliveZero, "short.json", "keeps-alive", false),
        (LinkFlaw::Silent, "short.json", "keeps-alive", false),
        (
            LinkFlaw::AcceptsAnyCertificate,
            "tls.json",
            "refuses-bad-certificates",
            true,
        ),
    ];
    let runs: Vec<_> = cases
        .into_iter()
        .map(|(flaw, plan_name, check, tls)| {
            std::thread::spawn(move || {
                let args: &[&str] = if tls { &["--tls"] } else { &[] };
                let run = qualify(&plan(plan_name), args, Link::with_flaw(flaw), tls);
                (flaw, check, run)
            })
        })
        .collect();
    for run in runs {
        let (flaw, check, run) = run.join().expect("a run");
        let Run { code, out, err } = &run;
        assert_eq!(
            run.with_verdict("FAIL"),
            vec![check],
            "{flaw:?}\n{out}\n{err}"
        );
        let must = check == "refuses-bad-certificates";
        assert_eq!(
            *code,
            Some(if must { 1 } else { 0 }),
            "{flaw:?}\n{out}\n{err}"
        );
        let evidence = match flaw {
            LinkFlaw::KeepAliveZero => "named a keep-alive of 0",
            LinkFlaw::Silent => "expected some packet at least every 1500 ms",
            _ => "expected the device to abort the handshake",
        };
        assert!(out.contains(evidence), "{flaw:?}: evidence\n{out}");
    }
}

#[test]
fn a_device_that_trusts_another_ca_never_connects_and_is_told_why() {
    let dir = tempfile::tempdir().expect("tempdir");
    let other = LocalCa::make("some other CA").expect("a CA");
    let other_ca = dir.path().join("other-ca.pem");
    std::fs::write(&other_ca, other.cert_pem()).expect("write");
    let link = Link {
        tls_ca: Some(other_ca),
        ..Link::default()
    };
    let run = qualify(&impatient_plan(dir.path()), &["--tls"], link, false);
    assert_eq!(run.code, Some(2), "{}\n{}", run.out, run.err);
    let last = run.err.lines().last().unwrap_or_default();
    assert!(
        last.contains("never connected to mqtts://")
            && last.contains("TLS handshake(s) failed")
            && last.contains("must trust")
            && last.contains(".thingbench/tls/ca.pem"),
        "{}",
        run.err
    );
}

#[test]
fn with_a_client_ca_a_device_without_a_certificate_fails_connects() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clients = LocalCa::make("test devices CA").expect("a CA");
    let client_ca = dir.path().join("devices-ca.pem");
    std::fs::write(&client_ca, clients.cert_pem()).expect("write");
    let run = qualify(
        &impatient_plan(dir.path()),
        &[
            "--tls",
            "--tls-client-ca",
            client_ca.to_str().expect("utf-8"),
        ],
        Link::default(),
        true,
    );
    assert_eq!(run.code, Some(2), "{}\n{}", run.out, run.err);
    assert_eq!(run.with_verdict("FAIL"), vec!["connects"], "{}", run.out);
    assert!(
        run.out.contains("without a client certificate"),
        "{}",
        run.out
    );
    assert!(
        run.err.contains("CONNACK 5") && run.err.contains("never connected"),
        "{}",
        run.err
    );
}

#[test]
fn a_plan_with_a_tls_fault_needs_tls() {
    let out = Command::new(env!("CARGO_BIN_EXE_thingbench"))
        .args([
            "qualify",
            "fixtures/plans/tls.json",
            "--listen",
            "127.0.0.1:0",
        ])
        .current_dir(root())
        .output()
        .expect("thingbench runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("tls.json") && err.contains("\"untrusted\"") && err.contains("--tls"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn serve_tls_answers_a_client_that_trusts_the_printed_ca() {
    let ws = copy_workspace();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let workspace = ws.path().to_str().expect("utf-8");
    let serve = spawn_ready(
        &[
            "serve",
            "--tls",
            "--listen",
            &listen,
            "--workspace",
            workspace,
        ],
        "with the reference hub",
    );
    let ca = ws.path().join(".thingbench/tls/ca.pem");
    assert!(ca.is_file(), "the local CA is made in the workspace");
    let fixture = ws.path().join("messages/001-valid-two-inverters.json");
    let broker = format!("mqtts://127.0.0.1:{port}");
    let run = |ca: &Path| {
        Command::new(env!("CARGO_BIN_EXE_thingbench"))
            .args([
                "run",
                fixture.to_str().expect("utf-8"),
                "--workspace",
                workspace,
                "--broker",
                &broker,
                "--ca",
                ca.to_str().expect("utf-8"),
            ])
            .current_dir(root())
            .output()
            .expect("thingbench run")
    };
    let out = run(&ca);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("200"), "{text}");
    // A client trusting another CA does not get in.
    let other = LocalCa::make("some other CA").expect("a CA");
    let other_ca = ws.path().join("other-ca.pem");
    std::fs::write(&other_ca, other.cert_pem()).expect("write");
    let out = run(&other_ca);
    assert_eq!(out.status.code(), Some(2));
    drop(serve);
}
