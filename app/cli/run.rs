//! `thingbench run`: replay fixtures against a broker and hub; the TLS options and reload
//! reporting the other commands share.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::runner::connect::{broker_or_embedded, gateway_session, platform_session};
use crate::runner::shard::{Shard, suite_name};
use crate::runner::{
    Runner, SuiteResult, collect_fixture_files, junit_xml_of_run, passed_count, result_line,
};
use crate::transport::TlsOptions;
use crate::workspace::{LiveWorkspace, Snapshot, Workspace, write_atomic};

use super::{UsageError, open_workspace_env};

/// Options of `thingbench run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Fixture files or folders of fixtures (a folder is a suite).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// The workspace folder with workspace.json (default: the one around the first path, else ./fixtures).
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// The environment of workspace.json to use: its broker, devices and variables.
    #[arg(long, value_name = "NAME")]
    pub env: Option<String>,
    /// A broker with a hub on it (default: the environment's broker, else the embedded broker and hub).
    #[arg(long, value_name = "URL")]
    pub broker: Option<String>,
    /// Write JUnit XML here.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write a self-contained HTML report (results, request and reply, coverage) here.
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
    /// Wait this long for each reply instead of each fixture's own `expect.withinMs`.
    #[arg(long, value_name = "N")]
    pub timeout_ms: Option<u64>,
    /// Replay only the K-th of N slices of the fixtures, cut by path (for a CI matrix).
    #[arg(long, value_name = "K/N")]
    pub shard: Option<Shard>,
    #[command(flatten)]
    pub tls: TlsArgs,
}

/// TLS options for an `mqtts://` broker.
#[derive(Debug, Default, clap::Args)]
pub struct TlsArgs {
    /// PEM file of the CA that signed the broker's certificate (default: the system's roots).
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// PEM file of a client certificate (with --key).
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// PEM file of the client certificate's private key.
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// Do not verify the broker's certificate (a warning is printed).
    #[arg(long)]
    pub insecure: bool,
}

impl TlsArgs {
    /// The transport's TLS options.
    pub fn options(&self) -> TlsOptions {
        TlsOptions {
            ca_file: self.ca.clone(),
            client_cert: self.cert.clone().zip(self.key.clone()),
            verify: !self.insecure,
        }
    }
}

/// Runs `thingbench run`; exit 0 all passed, 1 a fixture failed (or could not be loaded), 2 bad
/// arguments or no connection.
pub fn run_suite(args: &RunArgs, out: &mut dyn std::io::Write) -> Result<ExitCode, UsageError> {
    let found = collect_fixture_files(&args.paths).map_err(|e| UsageError(e.to_string()))?;
    for skipped in &found.skipped {
        say(skipped);
    }
    let mut files = found.files;
    if files.is_empty() {
        return Err(UsageError(
            "no fixture files (*.json) found in the given paths".into(),
        ));
    }
    if let Some(shard) = args.shard {
        let all = files.len();
        files = shard.select(files);
        say(&format!("shard {shard}: {} of {all} fixtures", files.len()));
    }
    if let Some(report) = &args.report {
        crate::report::check_output(report)?;
    }
    let ws = open_workspace_env(
        args.workspace.as_deref(),
        args.paths.first().map(PathBuf::as_path),
        args.env.as_deref(),
    )?;
    let broker = args
        .broker
        .clone()
        .or_else(|| ws.broker().map(str::to_owned));
    let live = follow_files(ws);
    print_notices(&live.snapshot());
    let mut feed = live.subscribe();
    let (embedded, url) = broker_or_embedded(&feed, broker.as_deref()).map_err(UsageError::from)?;
    if args.tls.insecure {
        eprintln!("thingbench: warning: --insecure: the broker's TLS certificate is NOT verified");
    }
    let ws = feed.workspace();
    if let Some(env) = &ws.env {
        say(&format!(
            "environment {env}: gateway {} on {url}",
            ws.gateway()
        ));
    }
    // Commands go from a platform client of thingbench's own; posts and logins as the gateway.
    // A run of commands alone opens no session as the gateway: the device under test is it.
    let commands: Vec<bool> = files.iter().map(|path| is_command(path)).collect();
    let gateway = if commands.iter().all(|c| *c) {
        None
    } else {
        Some(gateway_session(&ws, url.clone(), args.tls.options()).map_err(UsageError::from)?)
    };
    let platform = if commands.iter().any(|c| *c) && embedded.is_none() {
        Some(platform_session(url.clone(), args.tls.options()).map_err(UsageError::from)?)
    } else {
        None
    };
    let recorder = std::cell::RefCell::new(crate::report::Recorder::default());
    let mut runner = Runner::with_sessions(ws, gateway.as_ref(), platform.as_ref()).tell(&url, say);
    if embedded.is_some() {
        // A broker of this run's own: no device can be connected to it to answer.
        runner = runner.skip_commands(
            "a command needs its device connected to answer it; run against the broker the device is connected to (thingbench serve, --broker or --env)",
        );
    }
    if args.report.is_some() {
        runner = runner.observe(|traffic| recorder.borrow_mut().traffic(traffic));
    }
    let mut own_requests = Vec::new();
    runner.timeout_override = args.timeout_ms.map(Duration::from_millis);
    let mut hub_news = EmbeddedHubNews::new(&embedded);
    let mut results: Vec<SuiteResult> = Vec::with_capacity(files.len());
    for path in &files {
        if super::interrupted() {
            let _ = writeln!(
                out,
                "stopped by Ctrl-C: {} of {} fixtures not run",
                files.len() - results.len(),
                files.len()
            );
            break;
        }
        if let Some(snapshot) = feed.newest() {
            runner.set_workspace(snapshot.workspace);
        }
        let result = runner.run_file(path);
        let outcome = result.as_ref().ok().map(|r| &r.outcome);
        own_requests.push(recorder.borrow_mut().fixture_ended(outcome).cloned());
        let _ = writeln!(out, "{}", result_line(&result));
        if let Ok(result) = &result {
            for finding in &result.findings {
                let _ = writeln!(out, "      finding: {finding}");
            }
            for note in &result.notes {
                let _ = writeln!(out, "      note: {note}");
            }
        }
        results.push(result);
        hub_news.say();
    }
    runner.finish();
    drop(runner);
    hub_news.say();
    let passed = passed_count(&results);
    let skipped = crate::runner::skipped_count(&results);
    let failed = results.len() - passed - skipped;
    let all_ran = results.len() == files.len();
    let _ = if skipped > 0 {
        writeln!(out, "{passed} passed, {failed} failed, {skipped} skipped")
    } else {
        writeln!(out, "{passed} passed, {failed} failed")
    };
    if let Some(junit) = &args.junit {
        let name = suite_name(args.env.as_deref(), args.shard);
        let xml = junit_xml_of_run(&name, &results).map_err(|e| UsageError(e.to_string()))?;
        write_atomic(junit, xml.as_bytes())
            .map_err(|e| UsageError(crate::workspace::FileError::io(junit, &e).to_string()))?;
    }
    if let Some(path) = &args.report {
        let exchanges = recorder.into_inner().exchanges;
        crate::report::write_run_report(
            path,
            &feed.workspace(),
            &url,
            results,
            own_requests,
            &exchanges,
        )?;
    }
    Ok(if failed == 0 && all_ran {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// True when the fixture file at `path` holds a command (one that cannot be read is not).
fn is_command(path: &std::path::Path) -> bool {
    crate::runner::load_fixture(path).is_ok_and(|fixture| fixture.command().is_some())
}

/// Follows the files of `ws`, printing one line on stderr per reload: `reloaded models from
/// DIR`, or each file that failed to load, where, and what was kept instead.
pub(super) fn follow_files(ws: Workspace) -> LiveWorkspace {
    let live = LiveWorkspace::start(ws);
    let (woken_tx, woken) = std::sync::mpsc::channel();
    let mut feed = live.subscribe_waking(move || {
        let _ = woken_tx.send(());
    });
    // It ends when the live workspace does, which drops the sender inside the wake.
    let printer = std::thread::Builder::new()
        .name("thingbench-reloads".into())
        .spawn(move || {
            for () in woken {
                let Some(snapshot) = feed.newest() else {
                    continue;
                };
                if snapshot.notices.is_empty() {
                    let root = snapshot.workspace.root.display();
                    say(&format!("reloaded models from {root}"));
                }
                print_notices(&snapshot);
            }
        });
    if let Err(e) = printer {
        eprintln!("thingbench: warning: reloads will not be reported ({e})");
    }
    live
}

/// Prints what went wrong in the load that published `snapshot`, one line each.
pub(super) fn print_notices(snapshot: &Snapshot) {
    for notice in snapshot.notices.iter() {
        say(notice);
    }
}

/// What the embedded broker and hub have to say (refused CONNECTs, the door's troubles,
/// replies the hub could not send), as lines on stderr.
pub(super) struct EmbeddedHubNews<'e> {
    embedded: Option<&'e (crate::broker::EmbeddedBroker, crate::hub::Hub)>,
    log: crate::hub::HubLog,
}

impl<'e> EmbeddedHubNews<'e> {
    pub(super) fn new(embedded: &'e crate::runner::connect::Embedded) -> Self {
        let broker = embedded
            .as_ref()
            .map_or(String::new(), |(broker, _)| broker.url().to_string());
        Self {
            embedded: embedded.as_ref(),
            log: crate::hub::HubLog::new(&broker),
        }
    }

    /// Says what the broker and the hub reported since the last call.
    pub(super) fn say(&mut self) {
        let Some((broker, hub)) = self.embedded else {
            return;
        };
        for news in broker.news.try_iter() {
            say(&news.words());
        }
        for status in hub.status.try_iter() {
            if let Some(line) = self.log.line(&status) {
                say(&line);
            }
        }
    }
}

/// One line on stderr. Unlike `eprintln!` it does not panic when nobody reads stderr any more
/// (a test that only waited for the first line).
pub(super) fn say(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "thingbench: {line}");
}
