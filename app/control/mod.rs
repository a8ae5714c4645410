//! The window's state as plain controllers that know nothing of egui: the workspace and its
//! reloads, the connection and its pending requests, the draft and its check, the suite, watch
//! mode and the plot's samples. Each applies the commands and events of its own concern and is
//! tested without a window; [`Workbench`] holds them all and routes between them; `app/ui/`
//! only draws them.

pub mod command;
pub mod connection;
pub mod draft;
pub mod draft_samples;
pub mod link_state;
pub mod notice;
pub mod platform;
pub mod plot;
pub mod qualify;
pub mod request;
pub mod saved;
pub mod suite;
pub mod suite_evidence;
pub mod traffic;
pub mod watch;
pub mod workbench;
pub mod workspace;

pub use command::{BottomTab, Command, DialogPurpose, LeftTab};
pub use connection::{Connection, ConnectionForm, LinkState, Purpose, Routed};
pub use draft::{DeviceReply, DraftCtl, SendState};
pub use notice::Notice;
pub use plot::{PlotCtl, Series};
pub use qualify::{CommandLine, QualifyCtl, RunState};
pub use suite::SuiteCtl;
pub use watch::{DeviceSummary, WatchCtl};
pub use workbench::Workbench;
pub use workspace::{WorkspaceCtl, skipped_notice};

#[cfg(test)]
pub(crate) use crate::workspace::testing;

/// Wakes the window when background work has something for it (a repaint request).
pub type Wake = std::sync::Arc<dyn Fn() + Send + Sync>;
