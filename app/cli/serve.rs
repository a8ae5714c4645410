//! `thingbench serve` and `hub`: the reference hub, headless, until stopped.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::runner::connect::{start_embedded, start_hub};
use crate::transport::BrokerUrl;

use super::run::{TlsArgs, follow_files, print_notices};
use super::{UsageError, open_workspace};

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
