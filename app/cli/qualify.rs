//! `thingbench qualify`: the hub plays a plan of faults against a real device connected
//! through the proxy, and each check gives its verdict.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::qualify::{CheckResult, Plan, Qualification, QualifyEvent, Stand, Verdict, judge};
use crate::transport::BrokerUrl;
use crate::workspace::{LoginState, write_atomic};

use super::run::{TlsArgs, follow_files, print_notices, say};
use super::{UsageError, open_workspace_env};

/// Options of `thingbench qualify`.
#[derive(Debug, clap::Args)]
pub struct QualifyArgs {
    /// The plan: a JSON file, usually in the workspace's plans/ folder.
    pub plan: PathBuf,
    /// The workspace folder with workspace.json (default: the one around the plan, else ./fixtures).
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// The environment of workspace.json to use: its gateway, devices and variables.
    #[arg(long, value_name = "NAME")]
    pub env: Option<String>,
    /// Where the device connects: the fault-injecting proxy listens here.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:1883")]
    pub listen: SocketAddr,
    /// A plain MQTT broker to put the proxy and the hub in front of (default: the embedded one).
    #[arg(long, value_name = "URL")]
    pub broker: Option<String>,
    /// Write one JUnit test case per check.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write an HTML report: every check with its evidence, and the coverage of the models by
    /// what the device sent.
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
    /// Print only {"plan", "checks": [{"id", "level", "verdict", "summary", "evidence"}]} on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub tls: TlsArgs,
}

/// Runs `thingbench qualify`: exit 0 when no MUST check failed, 1 when one did, 2 on a bad
/// plan or when the device never connected.
pub fn qualify(args: &QualifyArgs, out: &mut dyn std::io::Write) -> Result<ExitCode, UsageError> {
    let ws = open_workspace_env(
        args.workspace.as_deref(),
        Some(&args.plan),
        args.env.as_deref(),
    )?;
    let plan = Plan::load(&args.plan, &ws).map_err(|e| UsageError(e.to_string()))?;
    if let Some(report) = &args.report {
        crate::report::check_output(report).map_err(UsageError)?;
    }
    let live = follow_files(ws);
    print_notices(&live.snapshot());
    let feed = live.subscribe();
    let workspace = feed.workspace();
    let registry = workspace.registry(&LoginState::Only(Vec::new()));
    let broker = args
        .broker
        .as_deref()
        .map(BrokerUrl::parse)
        .transpose()
        .map_err(UsageError)?;
    let mut stand = Stand::start(
        plan.clone(),
        feed,
        args.listen,
        broker,
        args.tls.options(),
        Box::new(|| {}),
    )
    .map_err(UsageError)?;
    let qualification = &stand.qualification;
    say(&format!(
        "qualifying {} with plan \"{}\" ({} phases, {:.0} s): connect the device to mqtt://{} as {}, signed with its secret; waiting up to {} s",
        plan.device,
        plan.name,
        plan.phases.len(),
        plan.length().as_secs_f64(),
        qualification.listen,
        plan.device,
        plan.connect_within.as_secs()
    ));
    let waited = follow(&plan, qualification)?;
    let record = qualification.steering.record();
    stand.stop();
    let results = judge(&plan, &registry, &record);
    if let Some(stopped) = waited {
        say(&stopped);
    }
    print_results(&plan, &results, args.json, out)?;
    if let Some(path) = &args.report {
        let broker = args
            .broker
            .clone()
            .unwrap_or_else(|| "the embedded broker".into());
        let mut header = crate::report::Header::now(
            &format!("qualification: {}", plan.name),
            &workspace.root,
            &format!("{broker}, the device on mqtt://{}", args.listen),
        );
        header.environment.clone_from(&workspace.env);
        crate::report::Report::of_qualification(header, &workspace, &plan, &results, &record)
            .write(path)
            .map_err(UsageError)?;
    }
    if let Some(junit) = &args.junit {
        let xml = junit_xml(&plan, &results)?;
        write_atomic(junit, xml.as_bytes())
            .map_err(|e| UsageError(crate::workspace::FileError::io(junit, &e).to_string()))?;
    }
    Ok(if results.iter().any(CheckResult::fails_the_run) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Says the run's progress on stderr until the plan ends; `Some(why)` when it was cut short by
/// Ctrl-C.
fn follow(plan: &Plan, qualification: &Qualification) -> Result<Option<String>, UsageError> {
    let connect_by = Instant::now() + plan.connect_within;
    let mut started = false;
    loop {
        if super::interrupted() {
            return Ok(Some(
                "stopped by Ctrl-C: the verdicts judge what was seen so far".into(),
            ));
        }
        let event = match qualification
            .events
            .recv_timeout(Duration::from_millis(100))
        {
            Ok(event) => event,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if !started && Instant::now() >= connect_by {
                    return Err(UsageError(format!(
                        "the device never connected to mqtt://{} within connectWithinS ({} s): check its broker address, client id and credentials",
                        qualification.listen,
                        plan.connect_within.as_secs()
                    )));
                }
                continue;
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return Err(UsageError("the proxy stopped unexpectedly".into()));
            }
        };
        let at = qualification
            .steering
            .elapsed()
            .map_or(0.0, |d| d.as_secs_f64());
        match event {
            QualifyEvent::Started => {
                started = true;
                say("the device connected: the plan's clock starts");
            }
            QualifyEvent::Phase { index } => {
                if let Some(phase) = plan.phases.get(index) {
                    say(&format!(
                        "{at:7.1} s  phase {}/{} \"{}\" ({}) for {:.1} s",
                        index + 1,
                        plan.phases.len(),
                        phase.name,
                        phase.describe(),
                        phase.length.as_secs_f64()
                    ));
                }
            }
            QualifyEvent::Connected { conn } => {
                say(&format!("{at:7.1} s  device connected (connection {conn})"))
            }
            QualifyEvent::Refused { conn, why } => say(&format!(
                "{at:7.1} s  device CONNECT refused with CONNACK 5 (connection {conn}): {why}"
            )),
            QualifyEvent::Disconnected {
                conn,
                departed: true,
            } => {
                say(&format!(
                    "{at:7.1} s  device disconnected (connection {conn}); its sub-devices are logged out"
                ));
            }
            QualifyEvent::Disconnected {
                conn,
                departed: false,
            } => {
                say(&format!(
                    "{at:7.1} s  device connection {conn} ended; another is open, so its sub-devices stay logged in"
                ));
            }
            QualifyEvent::Door { words } => say(&format!("{at:7.1} s  {words}")),
            QualifyEvent::Attempt => say(&format!(
                "{at:7.1} s  connection attempt while the network is down: closed"
            )),
            QualifyEvent::Finished => {
                say(&format!(
                    "{at:7.1} s  the plan is over: the device's connection is closed"
                ));
                return Ok(None);
            }
        }
    }
}

fn print_results(
    plan: &Plan,
    results: &[CheckResult],
    json: bool,
    out: &mut dyn std::io::Write,
) -> Result<(), UsageError> {
    let written = if json {
        let checks: Vec<serde_json::Value> = results
            .iter()
            .map(|r| {
                serde_json::json!({
                    "id": r.check.id(),
                    "level": r.level.name(),
                    "verdict": r.verdict.name(),
                    "summary": r.summary,
                    "evidence": r.evidence.iter().map(|e| serde_json::json!({
                        "atMs": e.at_ms, "request": e.row, "text": e.text,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        writeln!(
            out,
            "{}",
            serde_json::json!({"plan": plan.name, "checks": checks})
        )
    } else {
        let mut text = String::new();
        for result in results {
            text.push_str(&result.line());
            text.push('\n');
            if result.verdict == Verdict::Fail {
                for e in &result.evidence {
                    let request = e.row.map_or(String::new(), |r| format!("request #{r}, "));
                    text.push_str(&format!(
                        "      {request}at {:.1} s: {}\n",
                        e.at_ms as f64 / 1000.0,
                        e.text
                    ));
                }
            }
        }
        let failed = results
            .iter()
            .filter(|r| r.verdict == Verdict::Fail)
            .count();
        let must = results.iter().filter(|r| r.fails_the_run()).count();
        text.push_str(&format!(
            "{} checks: {} pass, {failed} fail ({must} must), {} n/a\n",
            results.len(),
            results
                .iter()
                .filter(|r| r.verdict == Verdict::Pass)
                .count(),
            results
                .iter()
                .filter(|r| r.verdict == Verdict::NotApplicable)
                .count(),
        ));
        out.write_all(text.as_bytes())
    };
    written.map_err(|e| UsageError(format!("cannot write the output: {e}")))
}

/// JUnit XML: one test case per check; a failure fails it, `n/a` skips it.
fn junit_xml(plan: &Plan, results: &[CheckResult]) -> Result<String, UsageError> {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut suite = TestSuite::new(format!("thingbench qualify: {}", plan.name));
    for result in results {
        let status = match result.verdict {
            Verdict::Pass => TestCaseStatus::success(),
            Verdict::Fail => {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                let evidence: Vec<&str> = result.evidence.iter().map(|e| e.text.as_str()).collect();
                status.set_message(format!(
                    "{} ({}): {}",
                    result.summary,
                    result.level.name(),
                    evidence.join("; ")
                ));
                status
            }
            // The command line judges once the plan is over: never pending.
            Verdict::NotApplicable | Verdict::Pending => {
                let mut status = TestCaseStatus::skipped();
                status.set_message(result.summary.clone());
                status
            }
        };
        let mut case = TestCase::new(result.check.id(), status);
        case.set_classname(format!("{}.{}", plan.device, result.level.name()));
        suite.add_test_case(case);
    }
    let mut report = Report::new("thingbench");
    report.add_test_suite(suite);
    report
        .to_string()
        .map_err(|e| UsageError(format!("cannot write JUnit XML: {e}")))
}
