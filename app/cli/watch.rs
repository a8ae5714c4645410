//! `thingbench watch`: check the traffic of devices thingbench did not send.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::runner::connect::broker_or_embedded;
use crate::runner::watch::{WatchEnd, WatchReport, Watched, subscribe_watch};
use crate::workspace::write_atomic;

use super::run::{EmbeddedHubNews, TlsArgs, follow_files, print_notices, say};
use super::{UsageError, open_workspace_env};

/// Options of `thingbench watch`.
#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    /// The broker the devices and the hub use (default: the embedded broker and hub).
    #[arg(long, value_name = "URL")]
    pub broker: Option<String>,
    /// The workspace folder with workspace.json (default: ./fixtures).
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// The environment of workspace.json to use: its broker, devices and variables.
    #[arg(long, value_name = "NAME")]
    pub env: Option<String>,
    /// Write one JUnit test case per watched message when the watch ends.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Save each watched message as a fixture in DIR, expecting the hub's code, when the watch
    /// ends.
    #[arg(long, value_name = "DIR")]
    pub save: Option<PathBuf>,
    /// Watch this many seconds, then print a summary (default: until Ctrl-C, which prints it
    /// too).
    #[arg(long = "for", value_name = "SECONDS", id = "seconds")]
    pub seconds: Option<u64>,
    #[command(flatten)]
    pub tls: TlsArgs,
}

/// Runs `thingbench watch`: exit 0 when every watched message got the predicted code, 1 when
/// the hub disagreed or was silent, 2 on bad input or when the session ended under it (after
/// the summary and the files, so that nothing watched is lost).
pub fn watch(args: &WatchArgs, out: &mut dyn std::io::Write) -> Result<ExitCode, UsageError> {
    let ws = open_workspace_env(args.workspace.as_deref(), None, args.env.as_deref())?;
    let broker = args
        .broker
        .clone()
        .or_else(|| ws.broker().map(str::to_owned));
    let live = follow_files(ws);
    let feed = live.subscribe();
    let (embedded, url) = broker_or_embedded(&feed, broker.as_deref()).map_err(UsageError::from)?;
    let session = crate::runner::connect::watcher_session(url.clone(), args.tls.options())
        .map_err(UsageError::from)?;
    subscribe_watch(&session, Duration::from_secs(10))
        .map_err(|e| UsageError(format!("cannot watch {url}: {e}")))?;
    let until = match args.seconds {
        Some(seconds) => format!("for {seconds} s"),
        None => "until Ctrl-C".to_owned(),
    };
    say(&format!(
        "watching {url} for gateway traffic {until}; devices may connect now"
    ));
    print_notices(&live.snapshot());
    let deadline = args
        .seconds
        .map(|s| Instant::now() + Duration::from_secs(s));
    let mut lines = Lines { out };
    let (watched, end) =
        crate::runner::watch::watch(&session, feed, deadline, super::interrupted, &mut lines);
    let out = lines.out;
    EmbeddedHubNews::new(&embedded).say();
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
        let xml = crate::runner::watch::watch_junit(&watched)?;
        write_atomic(junit, xml.as_bytes())
            .map_err(|e| UsageError(crate::workspace::FileError::io(junit, &e).to_string()))?;
        let _ = writeln!(out, "wrote JUnit XML to {}", junit.display());
    }
    if let WatchEnd::SessionEnded(reason) = end {
        return Err(UsageError(format!("the watch ended early: {reason}")));
    }
    Ok(if agreed == watched.len() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Each watched message as a line on `out`, connection changes on stderr.
struct Lines<'o> {
    out: &'o mut dyn std::io::Write,
}

impl WatchReport for Lines<'_> {
    fn watched(&mut self, watched: &Watched) {
        let _ = writeln!(self.out, "{}", watched.line());
    }

    fn connection(&mut self, note: &str) {
        say(note);
    }
}
