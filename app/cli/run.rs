//! `thingbench run`, `serve` and `hub`: the commands that need a broker.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use crate::runner::connect::{broker_or_embedded, gateway_session, start_embedded, start_hub};
use crate::runner::{
    CaseResult, Runner, all_passed, collect_fixture_files, junit_xml, load_fixture,
};
use crate::transport::{BrokerUrl, TlsOptions};
use crate::workspace::{
    LiveWorkspace, LoginState, Snapshot, Workspace, WorkspaceFeed, write_atomic,
};

use super::{UsageError, open_workspace};

/// Options of `thingbench run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Fixture files or folders of fixtures (a folder is a suite).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// The workspace folder with workspace.json (default: the one around the first path, else ./fixtures).
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// A broker with a hub on it; without it, the embedded broker and hub are started.
    #[arg(long, value_name = "URL")]
    pub broker: Option<String>,
    /// Write JUnit XML here.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Wait this long for each reply instead of each fixture's own `expect.withinMs`.
    #[arg(long, value_name = "N")]
    pub timeout_ms: Option<u64>,
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

/// Options of `thingbench serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Where the embedded broker listens.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:1883")]
    pub listen: SocketAddr,
    /// The workspace folder with workspace.json (default: ./fixtures).
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
}

/// Options of `thingbench hub`.
#[derive(Debug, clap::Args)]
pub struct HubArgs {
    /// The broker to serve on.
    #[arg(long, value_name = "URL")]
    pub broker: String,
    /// The workspace folder with workspace.json (default: ./fixtures).
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    #[command(flatten)]
    pub tls: TlsArgs,
}

/// Runs `thingbench run`; exit 0 all passed, 1 a fixture failed, 2 bad input or no connection.
pub fn run_suite(args: &RunArgs, out: &mut dyn std::io::Write) -> Result<ExitCode, UsageError> {
    let files = collect_fixture_files(&args.paths).map_err(UsageError)?;
    if files.is_empty() {
        return Err(UsageError(
            "no fixture files (*.json) found in the given paths".into(),
        ));
    }
    let fixtures = files
        .iter()
        .map(|path| load_fixture(path).map(|f| (path.clone(), f)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(UsageError)?;
    let ws = open_workspace(
        args.workspace.as_deref(),
        args.paths.first().map(PathBuf::as_path),
    )?;
    let live = follow_files(ws);
    print_notices(&live.snapshot());
    let mut feed = live.subscribe();
    let (_embedded, url) = broker_or_embedded(&feed, args.broker.as_deref()).map_err(UsageError)?;
    if args.tls.insecure {
        eprintln!("thingbench: warning: --insecure: the broker's TLS certificate is NOT verified");
    }
    let ws = feed.workspace();
    let session = gateway_session(&ws, url, args.tls.options()).map_err(UsageError)?;
    let mut runner = Runner::new(ws, &session);
    runner.timeout_override = args.timeout_ms.map(Duration::from_millis);
    let mut results: Vec<CaseResult> = Vec::with_capacity(fixtures.len());
    for (path, fixture) in &fixtures {
        if super::interrupted() {
            let _ = writeln!(
                out,
                "stopped by Ctrl-C: {} of {} fixtures not run",
                fixtures.len() - results.len(),
                fixtures.len()
            );
            break;
        }
        if let Some(snapshot) = feed.newest() {
            runner.set_workspace(snapshot.workspace);
        }
        let result = runner.run_fixture(path, fixture);
        let _ = writeln!(out, "{}", result.line());
        for note in &result.notes {
            let _ = writeln!(out, "      note: {note}");
        }
        results.push(result);
    }
    let passed = results.iter().filter(|r| r.passed).count();
    let _ = writeln!(out, "{passed} passed, {} failed", results.len() - passed);
    if let Some(junit) = &args.junit {
        let xml = junit_xml("thingbench", &results).map_err(UsageError)?;
        write_atomic(junit, xml.as_bytes())
            .map_err(|e| UsageError(crate::workspace::FileError::io(junit, &e).to_string()))?;
    }
    Ok(if all_passed(&results) && results.len() == fixtures.len() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Follows the files of `ws`, printing one line on stderr per reload: `reloaded models from
/// DIR`, or each file that failed to load, where, and what was kept instead.
fn follow_files(ws: Workspace) -> LiveWorkspace {
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
fn print_notices(snapshot: &Snapshot) {
    for notice in snapshot.notices.iter() {
        say(notice);
    }
}

/// One line on stderr. Unlike `eprintln!` it does not panic when nobody reads stderr any more
/// (a test that only waited for the first line).
fn say(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "thingbench: {line}");
}

/// Runs `thingbench serve` until the process is stopped.
pub fn serve(args: &ServeArgs) -> Result<ExitCode, UsageError> {
    let ws = open_workspace(args.workspace.as_deref(), None)?;
    let live = follow_files(ws);
    let (broker, _hub) = start_embedded(live.subscribe(), Some(args.listen)).map_err(UsageError)?;
    eprintln!(
        "thingbench: broker on {} with the reference hub for gateway {}; Ctrl-C stops",
        broker.url(),
        live.snapshot().workspace.gateway()
    );
    print_notices(&live.snapshot());
    loop {
        std::thread::park();
    }
}

/// Runs `thingbench hub` until the process is stopped.
pub fn hub(args: &HubArgs) -> Result<ExitCode, UsageError> {
    let ws = open_workspace(args.workspace.as_deref(), None)?;
    let url = BrokerUrl::parse(&args.broker).map_err(UsageError)?;
    if args.tls.insecure {
        eprintln!("thingbench: warning: --insecure: the broker's TLS certificate is NOT verified");
    }
    let live = follow_files(ws);
    let _hub = start_hub(live.subscribe(), url.clone(), args.tls.options()).map_err(UsageError)?;
    eprintln!(
        "thingbench: reference hub for gateway {} on {url}; Ctrl-C stops",
        live.snapshot().workspace.gateway()
    );
    print_notices(&live.snapshot());
    loop {
        std::thread::park();
    }
}

/// Options of `thingbench bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// A broker with a hub on it (default: the embedded broker and hub).
    #[arg(long, value_name = "URL")]
    pub broker: Option<String>,
    /// The workspace folder with workspace.json (default: ./fixtures).
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// How many batch requests to send.
    #[arg(long, value_name = "N", default_value_t = 20_000)]
    pub requests: usize,
    /// How many requests in flight at once.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub inflight: usize,
    /// Measure points per batch.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub points: usize,
    /// Print {"requests", "req_per_s", "p50_ms", "p99_ms", "publish_per_s", "lost"}.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub tls: TlsArgs,
}

/// Runs `thingbench bench`.
pub fn bench(args: &BenchArgs, out: &mut dyn std::io::Write) -> Result<ExitCode, UsageError> {
    use crate::runner::bench::{BenchConfig, bench_body, run_bench};
    if args.requests == 0 || args.inflight == 0 || args.points == 0 {
        return Err(UsageError(
            "--requests, --inflight and --points must be at least 1".into(),
        ));
    }
    let ws = Arc::new(open_workspace(args.workspace.as_deref(), None)?);
    let feed = WorkspaceFeed::fixed(Arc::clone(&ws));
    let (_embedded, url) = broker_or_embedded(&feed, args.broker.as_deref()).map_err(UsageError)?;
    let session = gateway_session(&ws, url.clone(), args.tls.options()).map_err(UsageError)?;
    let registry = ws.registry(&LoginState::All);
    let device = ws
        .sub_devices()
        .into_iter()
        .find(|d| registry.model_of(&d.product_key).is_some())
        .unwrap_or_else(|| ws.gateway());
    let mut runner = Runner::new(Arc::clone(&ws), &session);
    runner.apply_login(&LoginState::Only(vec![device.clone()]));
    drop(runner);
    let body = bench_body(&registry, &device, args.points).map_err(UsageError)?;
    let config = BenchConfig {
        requests: args.requests,
        inflight: args.inflight,
        points: args.points,
    };
    let report = run_bench(&session, &ws.gateway(), &body, config);
    let written = if args.json {
        writeln!(out, "{}", report.to_json())
    } else {
        writeln!(out, "broker          {url}")
            .and_then(|_| {
                writeln!(
                    out,
                    "requests        {} of {} points, {} in flight, as {device}",
                    report.requests, args.points, args.inflight
                )
            })
            .and_then(|_| writeln!(out, "round trips/s   {:.0}", report.req_per_s))
            .and_then(|_| writeln!(out, "round trip p50  {:.3} ms", report.p50_ms))
            .and_then(|_| writeln!(out, "round trip p99  {:.3} ms", report.p99_ms))
            .and_then(|_| {
                writeln!(
                    out,
                    "publishes/s     {:.0} (same payloads, broker PUBACK only)",
                    report.publish_per_s
                )
            })
            .and_then(|_| {
                writeln!(
                    out,
                    "ratio           {:.2} (round trips / publishes)",
                    report.req_per_s / report.publish_per_s
                )
            })
            .and_then(|_| writeln!(out, "lost            {}", report.lost))
            .and_then(|_| writeln!(out, "not 200         {}", report.not_200))
    };
    written.map_err(|e| UsageError(format!("cannot write the output: {e}")))?;
    Ok(if report.lost == 0 && report.not_200 == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Options of `thingbench watch`.
#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    /// The broker the devices and the hub use (default: the embedded broker and hub).
    #[arg(long, value_name = "URL")]
    pub broker: Option<String>,
    /// The workspace folder with workspace.json (default: ./fixtures).
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// Write one JUnit test case per watched message (needs --for).
    #[arg(long, value_name = "FILE", requires = "seconds")]
    pub junit: Option<PathBuf>,
    /// Save each watched message as a fixture in DIR, expecting the hub's code (needs --for).
    #[arg(long, value_name = "DIR", requires = "seconds")]
    pub save: Option<PathBuf>,
    /// Watch this many seconds, then print a summary (default: until stopped).
    #[arg(long = "for", value_name = "SECONDS", id = "seconds")]
    pub seconds: Option<u64>,
    #[command(flatten)]
    pub tls: TlsArgs,
}

/// Runs `thingbench watch`: exit 0 when every watched message got the predicted code, 1 when
/// the hub disagreed or was silent, 2 on bad input.
pub fn watch(args: &WatchArgs, out: &mut dyn std::io::Write) -> Result<ExitCode, UsageError> {
    let ws = open_workspace(args.workspace.as_deref(), None)?;
    let live = follow_files(ws);
    let feed = live.subscribe();
    let (_embedded, url) = broker_or_embedded(&feed, args.broker.as_deref()).map_err(UsageError)?;
    let session = crate::runner::connect::watcher_session(url.clone(), args.tls.options())
        .map_err(UsageError)?;
    eprintln!("thingbench: watching {url} for gateway traffic; devices may connect now");
    print_notices(&live.snapshot());
    let duration = Duration::from_secs(args.seconds.unwrap_or(u64::MAX / 4));
    let watched = crate::runner::watch::watch(&session, feed, duration, |w| {
        let _ = writeln!(out, "{}", w.line());
    });
    let agreed = watched.iter().filter(|w| w.agrees()).count();
    let invalid = watched.iter().filter(|w| !w.predicted.is_success()).count();
    let _ = writeln!(
        out,
        "{} watched, {invalid} invalid, {agreed} agreed with the hub, {} did not",
        watched.len(),
        watched.len() - agreed
    );
    if let Some(dir) = &args.save {
        std::fs::create_dir_all(dir)
            .map_err(|e| UsageError(crate::workspace::FileError::io(dir, &e).to_string()))?;
        let gateway = live.snapshot().workspace.gateway();
        for (i, w) in watched.iter().enumerate() {
            let id = w.id.as_ref().map_or("-".to_owned(), |id| id.0.clone());
            let fixture = w.to_fixture(format!("watched {:04} id {id}", i + 1), &gateway);
            let path = dir.join(w.file_name(i + 1));
            write_atomic(&path, fixture.to_pretty().as_bytes())
                .map_err(|e| UsageError(crate::workspace::FileError::io(&path, &e).to_string()))?;
        }
        let _ = writeln!(out, "saved {} fixtures in {}", watched.len(), dir.display());
    }
    if let Some(junit) = &args.junit {
        let xml = crate::runner::watch::watch_junit(&watched).map_err(UsageError)?;
        write_atomic(junit, xml.as_bytes())
            .map_err(|e| UsageError(crate::workspace::FileError::io(junit, &e).to_string()))?;
    }
    Ok(if agreed == watched.len() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
