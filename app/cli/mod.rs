//! The command line: argument parsing and the headless commands.

mod bench;
mod check;
mod door_tls;
mod generate;
pub mod package_files;
mod qualify;
mod run;
mod serve;
mod watch;

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

use crate::workspace::{OpenError, Workspace, find_workspace_root};

pub use bench::{BenchArgs, bench};
pub use check::{CheckArgs, run_check};
pub use door_tls::DoorTlsArgs;
pub use generate::{GenerateArgs, run_generate};
pub use qualify::{QualifyArgs, qualify};
pub use run::{RunArgs, TlsArgs, run_suite};
pub use serve::{HubArgs, ServeArgs, hub, serve};
pub use watch::{WatchArgs, watch};

/// thingbench: a test workbench for IoT devices speaking the EnOS-style protocol over MQTT.
#[derive(Debug, Parser)]
#[command(name = "thingbench", version, about, long_about = LONG_ABOUT)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What `thingbench --help` and `man thingbench` say before the commands.
const LONG_ABOUT: &str = "\
Desktop test workbench for IoT devices speaking the EnOS-style device protocol over MQTT.

Without a command, thingbench opens the window on ./fixtures when it holds a workspace, else on \
the last workspace opened; where there is none (started from the desktop's menu), the window \
offers Open workspace… and Try the sample workspace. The commands run headless, for scripts and \
CI; each has a manual page (man thingbench-run, ...).

Exit status: 0 when everything passed, 1 when a fixture or a MUST check failed, 2 on bad input \
or when a broker could not be reached.";

/// The subcommands; none opens the window.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the window on a workspace (default: ./fixtures).
    Gui(GuiArgs),
    /// Check a message or fixture offline: the predicted reply code and every finding.
    Check(CheckArgs),
    /// Replay fixtures (files or folders) against a broker and hub; JUnit XML with --junit.
    Run(RunArgs),
    /// The embedded broker and the reference hub, headless, until stopped.
    ///
    /// It authenticates like the platform: a client whose CONNECT username names a device of
    /// the workspace (`{deviceKey}&{productKey}`, the gateway or a sub-device) must sign with
    /// that device's secret, or it is refused with CONNACK 5 and one line on stderr naming the
    /// device and why. Clients that name no device of the workspace (a watcher, a tool) are let
    /// in. A client has 10 s to send its CONNECT.
    Serve(ServeArgs),
    /// The reference hub alone, on another broker.
    Hub(HubArgs),
    /// Round trips per second and latency against a broker and hub, beside a publish-only loop.
    Bench(BenchArgs),
    /// Watch device traffic on a broker: check every request, compare with the hub's reply.
    Watch(WatchArgs),
    /// Qualify a real device: the hub plays a plan of faults, and each check gives a verdict.
    Qualify(QualifyArgs),
    /// Write a suite from the models: every point valid, and each point wrong in every way.
    Generate(GenerateArgs),
}

/// Options of `thingbench gui`.
#[derive(Debug, Default, clap::Args)]
pub struct GuiArgs {
    /// The workspace folder (holds workspace.json).
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// The environment of workspace.json to use: its broker, devices and variables.
    #[arg(long, value_name = "NAME")]
    pub env: Option<String>,
    /// Connect to this broker instead of the embedded one (mqtt://host:port or mqtts://...).
    #[arg(long, value_name = "URL")]
    pub broker: Option<String>,
    /// Print the time to the first frame and the resident memory on stderr (for measuring).
    #[arg(long)]
    pub timing: bool,
    /// Fill the timeline with N synthetic rows at start (for measuring a large timeline).
    #[arg(long, value_name = "N")]
    pub demo_rows: Option<usize>,
}

static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Makes Ctrl-C stop a command gently (a suite after the fixture in flight, a watch with its
/// summary), keeping the results so far, after printing `stopping`; a second Ctrl-C ends the
/// process at once.
pub fn stop_on_ctrl_c(stopping: &'static str) {
    let installed = ctrlc::set_handler(move || {
        if INTERRUPTED.swap(true, std::sync::atomic::Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("thingbench: {stopping} (Ctrl-C again to quit now)");
    });
    if let Err(e) = installed {
        eprintln!("thingbench: warning: Ctrl-C will end the run at once: {e}");
    }
}

/// True once Ctrl-C was pressed.
pub fn interrupted() -> bool {
    INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst)
}

/// An error for the user: one sentence, exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Each layer's error is worded once, by its own `Display`; the command line adds the exit code.
macro_rules! usage_from {
    ($($error:ty),* $(,)?) => {$(
        impl From<$error> for UsageError {
            fn from(e: $error) -> Self {
                Self(e.to_string())
            }
        }
    )*};
}

usage_from!(
    crate::runner::RunError,
    crate::runner::ConnectError,
    crate::transport::TransportError,
    crate::transport::BrokerUrlError,
    crate::hub::HubError,
    crate::qualify::QualifyError,
    crate::workspace::FileError,
    crate::workspace::OpenError,
    crate::report::ReportError,
);

/// The workspace to use: the one given, else the one around `near`, else `./fixtures`.
pub fn open_workspace(given: Option<&Path>, near: Option<&Path>) -> Result<Workspace, OpenError> {
    open_workspace_env(given, near, None)
}

/// [`open_workspace`] in environment `env` of its `workspace.json`.
pub fn open_workspace_env(
    given: Option<&Path>,
    near: Option<&Path>,
    env: Option<&str>,
) -> Result<Workspace, OpenError> {
    let root = match given {
        Some(dir) => dir.to_owned(),
        None => near
            .and_then(find_workspace_root)
            .or_else(|| {
                let default = PathBuf::from("fixtures");
                default.join("workspace.json").is_file().then_some(default)
            })
            .ok_or(OpenError::NotFound)?,
    };
    Ok(Workspace::load_env(&root, env)?)
}
