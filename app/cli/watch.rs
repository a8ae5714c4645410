//! `thingbench watch`: check the traffic of devices thingbench did not send.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::runner::connect::broker_or_embedded;
use crate::workspace::write_atomic;

use super::run::{TlsArgs, follow_files, print_notices};
use super::{UsageError, open_workspace};

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
