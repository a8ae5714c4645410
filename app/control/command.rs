//! What the window's panels ask of the [`super::Workbench`] when it involves more than the
//! controller they draw, and what a file dialog is asked for. Applied once per frame.

use std::path::PathBuf;

use crate::history::Filter;
use crate::protocol::DeviceId;

/// A panel's request to the workbench.
#[derive(Debug)]
pub enum Command {
    Connect,
    Disconnect,
    /// Ask the desktop for a file or folder, for this purpose.
    AskFile(DialogPurpose),
    Send,
    /// Log a sub-device in (`true`) or out.
    Login(DeviceId, bool),
    /// Log in every sub-device that has a secret.
    LogInAll,
    OpenFixture(PathBuf),
    /// Save the draft as `messages/<file>.json`.
    SaveDraft,
    RunSuite(Vec<PathBuf>),
    StopSuite,
    /// Save the request of a timeline row, with its reply's code as expect.
    SaveRow(usize),
    ReloadWorkspace,
    /// Use this environment of workspace.json (`None`: the workspace as it is) and reconnect.
    SwitchEnv(Option<String>),
    SetFilter(Filter),
    ClearTimeline,
    StartWatch,
    StopWatch,
    /// Save watched message `n` as a fixture expecting the hub's code.
    SaveWatched(usize),
    StartQualify,
    StopQualify,
    /// Copy the installed sample workspace to the user's data folder (unless a copy is there
    /// already) and open the copy.
    TrySample,
}

/// What a file is picked for; the answer comes back with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialogPurpose {
    CaFile,
    ClientCert,
    ClientKey,
    ExportTimeline,
    ExportJunit,
    ExportReport,
    ExportQualifyReport,
    SuiteFolder,
    Workspace,
}

impl DialogPurpose {
    /// The dialog's title.
    pub fn title(self) -> &'static str {
        match self {
            Self::CaFile => "CA certificate (PEM)",
            Self::ClientCert => "Client certificate (PEM)",
            Self::ClientKey => "Client private key (PEM)",
            Self::ExportTimeline => "Export the timeline as JSON Lines",
            Self::ExportJunit => "Export the suite's results as JUnit XML",
            Self::ExportReport => "Export the suite's report as HTML",
            Self::ExportQualifyReport => "Export the qualification's report as HTML",
            Self::SuiteFolder => "Folder of fixtures to run",
            Self::Workspace => "Workspace folder (the one with workspace.json)",
        }
    }
}

/// The tabs of the left panel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum LeftTab {
    Connection,
    Models,
    Devices,
    Fixtures,
}

/// The tabs of the bottom panel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum BottomTab {
    Timeline,
    Watch,
    Qualify,
    Suite,
    Plot,
}
