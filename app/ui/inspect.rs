//! What the window shows, read without a frame: for tests and for whoever embeds the window.

use super::WorkbenchApp;
use crate::control::{LinkState, Notice, PlotCtl, QualifyCtl, SuiteCtl, WatchCtl};
use crate::history::Timeline;

impl WorkbenchApp {
    /// Where the connection stands.
    pub fn link(&self) -> &LinkState {
        self.connection.link()
    }

    /// The last thing that happened, in words, and whether it was an error.
    pub fn status(&self) -> Option<&Notice> {
        self.status.as_ref()
    }

    /// Selects a timeline row, as a click on it does.
    pub fn select_row(&mut self, row: usize) {
        self.panels.timeline.selected = Some(row);
    }

    /// The suite table.
    pub fn suite(&self) -> &SuiteCtl {
        &self.suite
    }

    /// The broker the window is connected to (the embedded one by default).
    pub fn broker_url(&self) -> Option<&crate::transport::BrokerUrl> {
        self.connection.broker_url()
    }

    /// The text the builder would send.
    pub fn draft_text(&self) -> &str {
        self.draft.draft().text()
    }

    /// The Qualify tab's state.
    pub fn qualifying(&self) -> &QualifyCtl {
        &self.qualify
    }

    /// Watch mode, once started.
    pub fn watching(&self) -> Option<&WatchCtl> {
        self.watch.as_ref()
    }

    /// The timeline row selected for its detail.
    pub fn selected_row(&self) -> Option<usize> {
        self.panels.timeline.selected
    }

    /// The plot's chosen points and their samples.
    pub fn plot(&self) -> &PlotCtl {
        &self.plot
    }

    /// The timeline.
    pub fn timeline(&self) -> &Timeline {
        &self.timeline
    }

    /// The folder of the open workspace, if one is open.
    pub fn workspace_root(&self) -> Option<&std::path::Path> {
        self.workspace.root()
    }

    /// The checker's registry as the window believes it (models and logins).
    pub fn registry(&self) -> &crate::model::Registry {
        self.workspace.registry()
    }
}
