//! What a qualification says, worded once for the command line and the window alike: a line
//! per event of the run, the verdicts with their evidence, and the JUnit of the verdicts.

use super::checks::{CheckResult, Verdict};
use super::plan::Plan;
use super::run::QualifyEvent;

/// The line for `event`, `at` seconds into the plan; `None` for the start of the clock, which
/// each says in its own way.
pub fn event_line(plan: &Plan, event: &QualifyEvent, at: f64) -> Option<String> {
    Some(match event {
        QualifyEvent::Started => return None,
        QualifyEvent::Phase { index } => {
            let phase = plan.phases.get(*index)?;
            format!(
                "{at:7.1} s  phase {}/{} \"{}\" ({}) for {:.1} s",
                index + 1,
                plan.phases.len(),
                phase.name,
                phase.describe(),
                phase.length.as_secs_f64()
            )
        }
        QualifyEvent::Connected { conn } => {
            format!("{at:7.1} s  device connected (connection {conn})")
        }
        QualifyEvent::Refused { conn, why } => {
            format!("{at:7.1} s  device CONNECT refused with CONNACK 5 (connection {conn}): {why}")
        }
        QualifyEvent::Disconnected {
            conn,
            departed: true,
        } => format!(
            "{at:7.1} s  device disconnected (connection {conn}); its sub-devices are logged out"
        ),
        QualifyEvent::Disconnected {
            conn,
            departed: false,
        } => format!(
            "{at:7.1} s  device connection {conn} ended; another is open, so its sub-devices stay logged in"
        ),
        QualifyEvent::Door { words } => format!("{at:7.1} s  {words}"),
        QualifyEvent::Attempt => {
            format!("{at:7.1} s  connection attempt while the network is down: closed")
        }
        QualifyEvent::Command { phase, index, sent } => {
            let command = plan.phases.get(*phase)?.commands.get(*index)?;
            let place = format!("phases[{phase}].commands[{index}]");
            if *sent {
                format!(
                    "{at:7.1} s  command {place} to {}: {}",
                    command.target(),
                    command.describe()
                )
            } else {
                format!(
                    "{at:7.1} s  command {place} to {} held: it is offline; sent when it is back",
                    command.target()
                )
            }
        }
        QualifyEvent::Finished => {
            format!("{at:7.1} s  the plan is over: the device's connection is closed")
        }
        QualifyEvent::Tls { shown, failure } => {
            let certificate = shown.map_or("the server's certificate", |f| f.words());
            match failure {
                Some(why) => {
                    format!("{at:7.1} s  TLS handshake failed, showing {certificate}: {why}")
                }
                None => {
                    format!("{at:7.1} s  the device completed a TLS handshake with {certificate}")
                }
            }
        }
    })
}

/// One line per check, a failed check's evidence under it, and the count of each verdict.
pub fn verdicts_text(results: &[CheckResult]) -> String {
    let mut text = String::new();
    for result in results {
        text.push_str(&result.line());
        text.push('\n');
        // A failure's evidence, or the notes of another verdict (a command never delivered).
        if !result.evidence.is_empty() {
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
    let count = |verdict| results.iter().filter(|r| r.verdict == verdict).count();
    let must = results.iter().filter(|r| r.fails_the_run()).count();
    text.push_str(&format!(
        "{} checks: {} pass, {} fail ({must} must), {} n/a\n",
        results.len(),
        count(Verdict::Pass),
        count(Verdict::Fail),
        count(Verdict::NotApplicable),
    ));
    text
}

/// The verdicts as `--json` prints them: `{"plan", "checks": [{"id", "level", "verdict",
/// "summary", "evidence": [{"atMs", "request", "text"}]}]}`.
pub fn verdicts_json(plan: &Plan, results: &[CheckResult]) -> serde_json::Value {
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
    serde_json::json!({"plan": plan.name, "checks": checks})
}

/// JUnit XML of the verdicts, written as every JUnit of thingbench is: one test case per check;
/// a failure fails it, `n/a` (or a verdict still pending) skips it.
pub fn junit_xml(plan: &Plan, results: &[CheckResult]) -> Result<String, crate::runner::RunError> {
    use crate::runner::{JunitCase, JunitStatus};
    let cases = results.iter().map(|result| JunitCase {
        name: result.check.id().to_owned(),
        classname: format!("{}.{}", plan.device, result.level.name()),
        status: match result.verdict {
            Verdict::Pass => JunitStatus::Passed,
            Verdict::Fail => {
                let evidence: Vec<&str> = result.evidence.iter().map(|e| e.text.as_str()).collect();
                JunitStatus::Failed(format!(
                    "{} ({}): {}",
                    result.summary,
                    result.level.name(),
                    evidence.join("; ")
                ))
            }
            Verdict::NotApplicable | Verdict::Pending => {
                JunitStatus::Skipped(result.summary.clone())
            }
        },
        time: None,
    });
    crate::runner::junit_report(&format!("thingbench qualify: {}", plan.name), cases)
}
