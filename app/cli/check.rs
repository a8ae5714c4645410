//! `thingbench check FILE`: the predicted reply for a message body or a fixture, offline.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::model::{CheckReport, check};
use crate::protocol::{EpochMs, Method, request_topic};
use crate::workspace::{Fixture, IdSource, LoginState, Workspace};

use super::{UsageError, open_workspace_env};

/// Options of `thingbench check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// A message body (sent as it is) or a fixture (checked with its own topic, raw and login).
    pub file: PathBuf,
    /// The workspace folder (default: the one around FILE, else ./fixtures).
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// The environment of workspace.json to use: its broker, devices and variables.
    #[arg(long, value_name = "NAME")]
    pub env: Option<String>,
    /// The topic to check a message body on (default: the topic of its method).
    #[arg(long, value_name = "TOPIC")]
    pub topic: Option<String>,
    /// Print {"code", "meaning", "findings": [...]} as JSON.
    #[arg(long)]
    pub json: bool,
}

/// What was checked and what came of it.
pub struct CheckOutcome {
    pub topic: String,
    pub report: CheckReport,
    /// The fixture's expected code, when FILE is a fixture.
    pub expected: Option<crate::protocol::ReplyCode>,
    /// True for a command fixture: its expected code is the device's answer, which the check
    /// cannot predict; the check says whether the command is valid by the model.
    pub command: bool,
}

/// Runs `check`, printing to `out`. Errors are for the user (exit 2).
pub fn run_check(
    args: &CheckArgs,
    out: &mut dyn std::io::Write,
) -> Result<CheckOutcome, UsageError> {
    let bytes = std::fs::read(&args.file)
        .map_err(|e| UsageError(crate::workspace::FileError::io(&args.file, &e).to_string()))?;
    let ws = open_workspace_env(
        args.workspace.as_deref(),
        Some(&args.file),
        args.env.as_deref(),
    )?;
    let outcome = check_bytes(&ws, &args.file, &bytes, args.topic.as_deref())?;
    let written = if args.json {
        print_json(out, &outcome.report)
    } else {
        print_text(out, &args.file, &outcome)
    };
    written.map_err(|e| UsageError(format!("cannot write the output: {e}")))?;
    Ok(outcome)
}

/// Checks a file's bytes: a fixture when it is an object with `request`, `raw` or `command`
/// (a command is checked as sent to its device, before any device answers), else a body.
pub fn check_bytes(
    ws: &Workspace,
    file: &Path,
    bytes: &[u8],
    topic: Option<&str>,
) -> Result<CheckOutcome, UsageError> {
    let now = EpochMs::now();
    let ids = IdSource::from_clock();
    let gateway = ws.gateway();
    let parsed: Option<Value> = serde_json::from_slice(bytes).ok();
    let is_fixture = parsed.as_ref().and_then(Value::as_object).is_some_and(|o| {
        ["request", "raw", "command"]
            .iter()
            .any(|k| o.contains_key(*k))
    });
    if is_fixture {
        let fixture = Fixture::from_slice_vars(file, bytes, &ws.vars())
            .map_err(|e| UsageError(e.to_string()))?;
        let registry = ws.registry(&LoginState::of_fixture(&fixture));
        let mut message = fixture.resolve(&gateway, &registry, now, &ids);
        if let Some(topic) = topic {
            message.topic = topic.to_owned();
        }
        let report = check(&registry, &message.topic, &message.payload);
        return Ok(CheckOutcome {
            topic: message.topic,
            report,
            expected: fixture.expect.code,
            command: fixture.command().is_some(),
        });
    }
    let registry = ws.registry(&LoginState::All);
    let (topic, payload) = match parsed {
        Some(value @ Value::Object(_)) => {
            let fixture = Fixture::new("body", value, crate::protocol::ReplyCode::SUCCESS);
            let message = fixture.resolve(&gateway, &registry, now, &ids);
            (topic.map_or(message.topic, str::to_owned), message.payload)
        }
        _ => (
            topic.map_or_else(|| request_topic(Method::PostBatch, &gateway), str::to_owned),
            bytes.to_vec(),
        ),
    };
    let report = check(&registry, &topic, &payload);
    Ok(CheckOutcome {
        topic,
        report,
        expected: None,
        command: false,
    })
}

fn print_json(out: &mut dyn std::io::Write, report: &CheckReport) -> std::io::Result<()> {
    let findings: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            json!({
                "path": f.path,
                "code": f.code.0,
                "message": f.message,
                "severity": f.severity.name(),
            })
        })
        .collect();
    let body = json!({
        "code": report.code.0,
        "meaning": report.code.meaning(),
        "findings": findings,
    });
    writeln!(
        out,
        "{}",
        serde_json::to_string_pretty(&body).unwrap_or_default()
    )
}

fn print_text(
    out: &mut dyn std::io::Write,
    file: &Path,
    outcome: &CheckOutcome,
) -> std::io::Result<()> {
    let report = &outcome.report;
    writeln!(out, "{} {}", report.code, report.code.meaning())?;
    writeln!(out, "  file   {}", file.display())?;
    writeln!(out, "  topic  {}", outcome.topic)?;
    if let (Some(expected), true) = (outcome.expected, outcome.command) {
        let valid = if report.code.is_success() {
            "a valid command"
        } else {
            "an invalid command: a negative test of the device"
        };
        writeln!(out, "  expect {expected} from the device ({valid})")?;
    } else if let Some(expected) = outcome.expected {
        let verdict = if expected == report.code {
            "matches"
        } else {
            "DIFFERS"
        };
        writeln!(out, "  expect {expected} ({verdict})")?;
    }
    if report.findings.is_empty() {
        writeln!(out, "  no findings")?;
    }
    for f in &report.findings {
        writeln!(
            out,
            "  {:<8} {} [{}] {}",
            f.severity.name(),
            f.path,
            f.code,
            f.message
        )?;
    }
    Ok(())
}
