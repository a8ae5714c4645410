//! Evidence a QA engineer can hand over: the coverage of the models by a run, one
//! self-contained HTML report, and suites generated from the models.
//!
//! A report is a header, items with a verdict each, and coverage. A suite run fills the items
//! with fixtures ([`Report::of_run`]); a qualification can fill them with checks the same way.

pub mod coverage;
pub mod device_coverage;
mod error;
pub mod generate;
mod html;
mod picture_svg;
mod qualification;

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::history::mask_secrets;
use crate::model::{Registry, Severity, check};
use crate::protocol::EpochMs;
use crate::runner::{Outcome, SuiteResult, load_fixture};
use crate::workspace::{LoginState, Workspace, write_atomic};

pub use coverage::{
    CodeCoverage, Coverage, EventCoverage, Exchange, ModelCoverage, PointCoverage, Recorder,
    ServiceCoverage, Share,
};
pub use device_coverage::DeviceCoverage;
pub use error::ReportError;
pub use qualification::{CommandRow, DeviceSection};

/// Where and when a report was made.
#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    /// What was done: `Suite run`.
    pub title: String,
    /// thingbench's version.
    pub version: String,
    /// When the report was made, UTC: `2026-12-02 18:40:12 UTC`.
    pub date: String,
    /// The workspace folder.
    pub workspace: String,
    /// The environment the run used; `None`: the workspace as it is.
    pub environment: Option<String>,
    /// The broker, without credentials.
    pub broker: String,
    /// What the items are, plural: `fixtures` (a qualification's are `checks`).
    pub items: String,
}

impl Header {
    /// A header for a run made now.
    pub fn now(title: &str, workspace: &Path, broker: &str) -> Self {
        Self {
            title: title.to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            date: utc_date(EpochMs::now()),
            workspace: workspace.display().to_string(),
            environment: None,
            broker: broker.to_owned(),
            items: "fixtures".to_owned(),
        }
    }
}

/// An item's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
    /// Not judged (a check that is off).
    NotApplicable,
    /// Not run here (a command with no device connected to answer it).
    Skipped,
}

impl Verdict {
    /// `PASS`, `FAIL`, `N/A`.
    pub fn word(self) -> &'static str {
        match self {
            Self::Pass => "PASS",
            Self::Fail => "FAIL",
            Self::NotApplicable => "N/A",
            Self::Skipped => "SKIP",
        }
    }
}

/// A message shown in a report: its topic and its body, secrets masked.
#[derive(Clone, Debug, PartialEq)]
pub struct Shown {
    pub topic: String,
    /// Pretty JSON, or the payload as text when it is not JSON.
    pub body: String,
}

impl Shown {
    /// `payload` on `topic`, credentials masked as in exports.
    pub fn new(topic: &str, payload: &[u8]) -> Self {
        let body = match serde_json::from_slice::<Value>(payload) {
            Ok(mut json) => {
                mask_secrets(&mut json);
                serde_json::to_string_pretty(&json).unwrap_or_default()
            }
            Err(_) if payload.is_empty() => "(empty payload)".to_owned(),
            Err(_) => String::from_utf8_lossy(payload).into_owned(),
        };
        Self {
            topic: topic.to_owned(),
            body,
        }
    }
}

/// One judged thing: a fixture of a suite (or, later, a check of a qualification).
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub name: String,
    /// Where it comes from: the fixture's file.
    pub source: String,
    pub verdict: Verdict,
    pub expected: String,
    pub actual: String,
    pub rtt: Option<Duration>,
    /// The checker's findings on what was sent: `path: message (code)`.
    pub findings: Vec<String>,
    /// Setup notes and other evidence, one sentence each.
    pub notes: Vec<String>,
    pub request: Option<Shown>,
    pub reply: Option<Shown>,
}

/// Counts of verdicts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub not_applicable: usize,
    pub skipped: usize,
}

/// A report: header, items, coverage; a qualification's also the device's run.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    pub header: Header,
    pub items: Vec<Item>,
    /// A suite run's coverage, with the ways to be wrong it sent.
    pub coverage: Option<Coverage>,
    /// A qualified device's run: the picture, the commands and what it exercised.
    pub device: Option<DeviceSection>,
}

/// One fixture of a run: its result and its own request, when it went out.
#[derive(Clone, Debug)]
pub struct RunCase {
    pub result: SuiteResult,
    pub exchange: Option<Exchange>,
}

impl Report {
    /// The report of a suite run of `workspace`: one item per fixture, and the coverage
    /// computed from every request the run sent (`exchanges`, logins included).
    pub fn of_run(
        header: Header,
        workspace: &Workspace,
        cases: &[RunCase],
        exchanges: &[Exchange],
    ) -> Self {
        let registry = workspace.registry(&LoginState::All);
        let expected = cases
            .iter()
            .filter_map(|case| case.result.as_ref().ok()?.expected);
        let coverage = Coverage::of_run(&registry, exchanges, expected);
        let items = cases.iter().map(|case| run_item(workspace, case)).collect();
        Self {
            header,
            items,
            coverage: Some(coverage),
            device: None,
        }
    }

    /// How many items passed, failed, were not judged.
    pub fn summary(&self) -> Summary {
        let mut summary = Summary::default();
        for item in &self.items {
            match item.verdict {
                Verdict::Pass => summary.passed += 1,
                Verdict::Fail => summary.failed += 1,
                Verdict::NotApplicable => summary.not_applicable += 1,
                Verdict::Skipped => summary.skipped += 1,
            }
        }
        summary
    }

    /// The report as one self-contained HTML page.
    pub fn to_html(&self) -> String {
        html::page(self)
    }

    /// Writes the page to `path` atomically; the error names the file.
    pub fn write(&self, path: &Path) -> Result<(), ReportError> {
        write_atomic(path, self.to_html().as_bytes()).map_err(|source| ReportError::Write {
            path: path.to_owned(),
            source,
        })
    }
}

/// A fixture's item: verdict, codes, round trip, the checker's findings on what it sent (with
/// the logins it asked for), and its request and reply.
fn run_item(workspace: &Workspace, case: &RunCase) -> Item {
    let result = match &case.result {
        Ok(result) => result,
        Err(unloadable) => {
            return Item {
                name: unloadable.path.display().to_string(),
                source: unloadable.path.display().to_string(),
                verdict: Verdict::Fail,
                expected: String::new(),
                actual: unloadable.failure_message(),
                rtt: None,
                findings: Vec::new(),
                notes: Vec::new(),
                request: None,
                reply: None,
            };
        }
    };
    let login = load_fixture(&result.path)
        .map(|fixture| LoginState::of_fixture(&fixture))
        .unwrap_or(LoginState::All);
    let registry: Registry = workspace.registry(&login);
    let exchange = case.exchange.as_ref();
    let findings = exchange
        .map(|e| {
            check(&registry, &e.topic, &e.payload)
                .findings
                .iter()
                .map(|f| match f.severity {
                    Severity::Error => format!("{}: {} ({})", f.path, f.message, f.code),
                    other => format!("{}: {} ({})", f.path, f.message, other.name()),
                })
                .collect()
        })
        .unwrap_or_default();
    let (actual, rtt) = match &result.outcome {
        Outcome::Replied { code, message, rtt } => (
            match message {
                Some(message) => format!("{code} {}: {message}", code.meaning()),
                None => format!("{code} {}", code.meaning()),
            },
            Some(*rtt),
        ),
        other => (other.describe(), None),
    };
    Item {
        name: result.name.clone(),
        source: result.path.display().to_string(),
        verdict: if result.skipped() {
            Verdict::Skipped
        } else if result.passed {
            Verdict::Pass
        } else {
            Verdict::Fail
        },
        expected: result
            .expected
            .map_or("no reply".to_owned(), |c| format!("{c} {}", c.meaning())),
        actual,
        rtt,
        findings,
        notes: result.notes.clone(),
        request: exchange.map(|e| Shown::new(&e.topic, &e.payload)),
        reply: exchange
            .filter(|e| !e.reply.is_empty())
            .map(|e| Shown::new(&crate::protocol::reply_topic(&e.topic), &e.reply)),
    }
}

/// Writes the report of a suite run to `path`: `results` in order, each with its own request
/// from `own` (see [`Recorder::fixture_ended`]), and every request of the run in `exchanges`.
pub fn write_run_report(
    path: &Path,
    workspace: &Workspace,
    broker: &crate::transport::BrokerUrl,
    results: Vec<SuiteResult>,
    own: Vec<Option<Exchange>>,
    exchanges: &[Exchange],
) -> Result<(), ReportError> {
    let mut header = Header::now("suite run", &workspace.root, &broker.to_string());
    header.environment.clone_from(&workspace.env);
    let cases: Vec<RunCase> = results
        .into_iter()
        .zip(own)
        .map(|(result, exchange)| RunCase { result, exchange })
        .collect();
    Report::of_run(header, workspace, &cases, exchanges).write(path)
}

/// Says, before a run, why a report could not be written to `path` at its end.
pub fn check_output(path: &Path) -> Result<(), ReportError> {
    let folder = match path.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => Path::new("."),
    };
    if path.is_dir() {
        return Err(ReportError::IsAFolder(path.to_owned()));
    }
    if !folder.is_dir() {
        return Err(ReportError::NoFolder {
            path: path.to_owned(),
            folder: folder.to_owned(),
        });
    }
    Ok(())
}

/// `2026-12-02 18:40:12 UTC`.
pub fn utc_date(at: EpochMs) -> String {
    let secs = at.0.div_euclid(1000);
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests;
