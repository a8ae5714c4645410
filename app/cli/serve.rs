//! `thingbench serve` and `hub`: the reference hub, headless, until SIGTERM or Ctrl-C, saying
//! when it loses its broker, gets it back, or cannot send a reply.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

use crate::broker::EmbeddedBroker;
use crate::hub::{Hub, HubLog, HubStatus};
use crate::runner::connect::{start_embedded_tls, start_hub};
use crate::transport::BrokerUrl;

use super::door_tls::{DoorTlsArgs, trust_words};
use super::run::{TlsArgs, follow_files, print_notices, say};
use super::{UsageError, open_workspace_env};

/// Options of `thingbench serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Where the embedded broker listens.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:1883")]
    pub listen: SocketAddr,
    /// The workspace folder with workspace.json (default: ./fixtures).
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// The environment of workspace.json to use: its broker, devices and variables.
    #[arg(long, value_name = "NAME")]
    pub env: Option<String>,
    #[command(flatten)]
    pub door_tls: DoorTlsArgs,
}

/// Options of `thingbench hub`.
#[derive(Debug, clap::Args)]
pub struct HubArgs {
    /// The broker to serve on (default: the broker of the environment, or of workspace.json).
    #[arg(long, value_name = "URL")]
    pub broker: Option<String>,
    /// The workspace folder with workspace.json (default: ./fixtures).
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// The environment of workspace.json to use: its broker, devices and variables.
    #[arg(long, value_name = "NAME")]
    pub env: Option<String>,
    #[command(flatten)]
    pub tls: TlsArgs,
}

/// Runs `thingbench serve` until SIGTERM or Ctrl-C, then stops with one line and exit 0; exit
/// 1 with the reason when the broker or the hub stops by itself; exit 2 when the gateway's
/// secret cannot be read (no CONNECT as the gateway could pass).
pub fn serve(args: &ServeArgs) -> Result<ExitCode, UsageError> {
    let stop = stop_signals();
    let ws = open_workspace_env(args.workspace.as_deref(), None, args.env.as_deref())?;
    ws.gateway_entry()
        .secret()
        .map_err(|e| UsageError(e.to_string()))?;
    let tls = args.door_tls.door_tls(&ws.root, args.listen, Vec::new())?;
    let trust = tls
        .as_deref()
        .map(|tls| format!(" (devices connect {})", trust_words(tls, &args.door_tls)));
    let live = follow_files(ws);
    let (broker, mut hub) =
        start_embedded_tls(live.subscribe(), Some(args.listen), tls).map_err(UsageError::from)?;
    eprintln!(
        "thingbench: broker on {} with the reference hub for gateway {}{}; Ctrl-C stops",
        broker.url(),
        gateway_words(&live.snapshot().workspace),
        trust.unwrap_or_default()
    );
    print_notices(&live.snapshot());
    Ok(run_until_stopped(
        &mut hub,
        &stop,
        &broker.url().to_string(),
        Some(&broker),
    ))
}

/// Runs `thingbench hub` until SIGTERM or Ctrl-C, saying when it loses its broker and when it
/// gets it back; then stops with one line and exit 0.
pub fn hub(args: &HubArgs) -> Result<ExitCode, UsageError> {
    let stop = stop_signals();
    let ws = open_workspace_env(args.workspace.as_deref(), None, args.env.as_deref())?;
    let broker = args.broker.as_deref().or(ws.broker()).ok_or_else(|| {
        UsageError(
            "the hub needs a broker: pass --broker URL, or --env NAME of an environment whose connection names one"
                .into(),
        )
    })?;
    let url = BrokerUrl::parse(broker).map_err(UsageError::from)?;
    if args.tls.insecure {
        eprintln!("thingbench: warning: --insecure: the broker's TLS certificate is NOT verified");
    }
    let live = follow_files(ws);
    let mut hub =
        start_hub(live.subscribe(), url.clone(), args.tls.options()).map_err(UsageError::from)?;
    eprintln!(
        "thingbench: reference hub for gateway {} on {url}; Ctrl-C stops",
        gateway_words(&live.snapshot().workspace)
    );
    print_notices(&live.snapshot());
    Ok(run_until_stopped(&mut hub, &stop, &url.to_string(), None))
}

/// The gateway, and the environment it comes from when one is in use.
fn gateway_words(ws: &crate::workspace::Workspace) -> String {
    match &ws.env {
        Some(env) => format!("{} of environment {env}", ws.gateway()),
        None => ws.gateway().to_string(),
    }
}

/// Makes SIGTERM and Ctrl-C stop a command that runs until stopped: the channel gets one
/// message per signal. Without a handler they end the process at once, as before.
fn stop_signals() -> mpsc::Receiver<()> {
    let (tx, rx) = mpsc::channel();
    if let Err(e) = ctrlc::set_handler(move || {
        let _ = tx.send(());
    }) {
        say(&format!(
            "warning: SIGTERM and Ctrl-C will end it at once, without a word ({e})"
        ));
    }
    rx
}

/// How long the wait for the hub's news lasts before looking for a stop signal again.
const STOP_CHECK: Duration = Duration::from_millis(100);

/// Says what the hub (and the embedded `broker`, for `serve`) report until a stop signal
/// comes, then stops the hub and says so: exit 0. When the hub or the broker stops by itself,
/// says why and exits 1 at once rather than wait for a signal while serving nothing.
fn run_until_stopped(
    hub: &mut Hub,
    stop: &mpsc::Receiver<()>,
    url: &str,
    broker: Option<&EmbeddedBroker>,
) -> ExitCode {
    let mut log = HubLog::new(url);
    let mut died = None;
    while died.is_none() && stop.try_recv().is_err() {
        // What ends `serve` is said once, in its last line.
        for news in broker.into_iter().flat_map(|b| b.news.try_iter()) {
            if news.is_fatal() {
                died = Some(news.words());
            } else {
                say(&news.words());
            }
        }
        match hub.status.recv_timeout(STOP_CHECK) {
            Ok(HubStatus::Stopped(why)) => died = Some(format!("the hub stopped: {why}")),
            Ok(status) => say_hub(&mut log, &status),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                died = Some("the hub's thread ended without a word".into());
            }
        }
    }
    hub.stop();
    for status in hub.status.try_iter() {
        say_hub(&mut log, &status);
    }
    match died {
        Some(why) => {
            say(&format!("stopped: {why}"));
            ExitCode::from(1)
        }
        None => {
            say("stopped (SIGTERM or Ctrl-C)");
            ExitCode::SUCCESS
        }
    }
}

/// Says `status` on stderr if it is news.
pub(super) fn say_hub(log: &mut HubLog, status: &HubStatus) {
    if let Some(line) = log.line(status) {
        say(&line);
    }
}
