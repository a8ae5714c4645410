//! `thingbench qualify`: the hub plays a plan of faults against a real device connected
//! through the proxy, and each check gives its verdict.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::qualify::{CheckResult, Plan, Qualification, QualifyEvent, Stand, judge};
use crate::transport::BrokerUrl;
use crate::workspace::{LoginState, write_atomic};

use super::door_tls::{DoorTlsArgs, trust_words};
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
    #[command(flatten)]
    pub door_tls: DoorTlsArgs,
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
    if let Some(phase) = plan
        .phases
        .iter()
        .find(|p| p.tls.is_some())
        .filter(|_| !args.door_tls.tls)
    {
        return Err(UsageError(format!(
            "{}: phase \"{}\" shows a bad certificate (\"tls\"), which needs TLS: run qualify with --tls",
            args.plan.display(),
            phase.name
        )));
    }
    let door_tls = args
        .door_tls
        .door_tls(&ws.root, args.listen, plan.tls_faults())?;
    if let Some(report) = &args.report {
        crate::report::check_output(report)?;
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
        .map_err(UsageError::from)?;
    let scheme = if door_tls.is_some() { "mqtts" } else { "mqtt" };
    let trust = door_tls
        .as_deref()
        .map(|tls| format!(", {}", trust_words(tls, &args.door_tls)))
        .unwrap_or_default();
    let ca_file = door_tls.as_ref().and_then(|tls| tls.ca_file.clone());
    let mut stand = Stand::start_tls(
        plan.clone(),
        feed,
        args.listen,
        broker,
        args.tls.options(),
        door_tls,
        Box::new(|| {}),
    )
    .map_err(UsageError::from)?;
    let qualification = &stand.qualification;
    say(&format!(
        "qualifying {} with plan \"{}\" ({} phases, {:.0} s): connect the device to {scheme}://{} as {}, signed with its secret{trust}; waiting up to {} s",
        plan.device,
        plan.name,
        plan.phases.len(),
        plan.length().as_secs_f64(),
        qualification.listen,
        plan.device,
        plan.connect_within.as_secs()
    ));
    let waited = match follow(&plan, qualification, scheme) {
        Ok(waited) => waited,
        Err(Never(words)) => {
            // Only `connects` can be judged: say its verdict when the device tried and failed.
            let record = qualification.steering.record();
            stand.stop();
            let why = crate::qualify::judge_link::why_never_connected(&record, ca_file.as_deref());
            let connects: Vec<CheckResult> = judge(&plan, &registry, &record)
                .into_iter()
                .filter(|r| r.check == crate::qualify::CheckId::Connects)
                .filter(|r| r.verdict == crate::qualify::Verdict::Fail)
                .collect();
            if !connects.is_empty() {
                print_results(&plan, &connects, args.json, out)?;
            }
            return Err(UsageError(match why {
                Some(why) => format!("{words}: {why}"),
                None => format!("{words}: check its broker address, client id and credentials"),
            }));
        }
        Err(Other(e)) => return Err(e),
    };
    let record = qualification.steering.record();
    stand.stop();
    let results = judge(&plan, &registry, &record);
    if waited == Followed::Interrupted {
        say("stopped by Ctrl-C: the verdicts judge what was seen so far");
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
            .write(path)?;
    }
    if let Some(junit) = &args.junit {
        let xml = crate::qualify::words::junit_xml(&plan, &results)?;
        write_atomic(junit, xml.as_bytes())
            .map_err(|e| UsageError(crate::workspace::FileError::io(junit, &e).to_string()))?;
    }
    Ok(if results.iter().any(CheckResult::fails_the_run) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// How following a run ended, when the verdicts can be judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Followed {
    /// The plan ran to its end.
    PlanOver,
    /// Ctrl-C cut it short: the verdicts judge what was seen so far.
    Interrupted,
}

/// Why following a run ended early.
enum Cut {
    /// The device never connected within `connectWithinS`: the sentence saying so.
    Never(String),
    Other(UsageError),
}
use Cut::{Never, Other};

/// Says the run's progress on stderr until the plan ends, or Ctrl-C cuts it short.
fn follow(plan: &Plan, qualification: &Qualification, scheme: &str) -> Result<Followed, Cut> {
    let connect_by = Instant::now() + plan.connect_within;
    let mut started = false;
    loop {
        if super::interrupted() {
            return Ok(Followed::Interrupted);
        }
        let event = match qualification
            .events
            .recv_timeout(Duration::from_millis(100))
        {
            Ok(event) => event,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if !started && Instant::now() >= connect_by {
                    return Err(Never(format!(
                        "the device never connected to {scheme}://{} within connectWithinS ({} s)",
                        qualification.listen,
                        plan.connect_within.as_secs()
                    )));
                }
                continue;
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return Err(Other(UsageError("the proxy stopped unexpectedly".into())));
            }
        };
        let at = qualification
            .steering
            .elapsed()
            .map_or(0.0, |d| d.as_secs_f64());
        if event == QualifyEvent::Started {
            started = true;
            say("the device connected: the plan's clock starts");
        }
        if let Some(line) = crate::qualify::words::event_line(plan, &event, at) {
            say(&line);
        }
        if event == QualifyEvent::Finished {
            return Ok(Followed::PlanOver);
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
        writeln!(
            out,
            "{}",
            crate::qualify::words::verdicts_json(plan, results)
        )
    } else {
        out.write_all(crate::qualify::words::verdicts_text(results).as_bytes())
    };
    written.map_err(|e| UsageError(format!("cannot write the output: {e}")))
}
