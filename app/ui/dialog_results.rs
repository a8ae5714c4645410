//! What a chosen file does: the path a file dialog answered, applied to the window's state.

use std::path::{Path, PathBuf};

use super::WorkbenchApp;
use super::dialogs::DialogPurpose;
use crate::control::Notice;
use crate::history::ExportJob;
use crate::workspace::SampleCopy;

impl WorkbenchApp {
    pub(super) fn apply_dialog(&mut self, purpose: DialogPurpose, path: PathBuf) {
        let form = &mut self.connection.form;
        match purpose {
            DialogPurpose::CaFile => form.ca_file = path.display().to_string(),
            DialogPurpose::ClientCert => form.client_cert = path.display().to_string(),
            DialogPurpose::ClientKey => form.client_key = path.display().to_string(),
            DialogPurpose::ExportTimeline => {
                self.panels.timeline.export = Some(ExportJob::start(&self.timeline, path));
            }
            DialogPurpose::ExportJunit => match self.suite.export_junit_in(
                &path,
                self.workspace.get().ok().and_then(|ws| ws.env.as_deref()),
            ) {
                Ok(cases) => self.say(Notice::info(format!(
                    "wrote {cases} test cases to {}",
                    path.display()
                ))),
                Err(e) => self.say(Notice::error(e)),
            },
            DialogPurpose::ExportReport => self.export_report(&path),
            DialogPurpose::ExportQualifyReport => {
                let written = match self.workspace.get() {
                    Ok(ws) => self.qualify.export_report(ws, &path),
                    Err(e) => Err(e.to_owned()),
                };
                match written {
                    Ok(()) => self.say(Notice::info(format!(
                        "wrote the qualification's report to {}",
                        path.display()
                    ))),
                    Err(e) => self.say(Notice::error(e)),
                }
            }
            DialogPurpose::SuiteFolder => match crate::runner::collect_fixture_files(&[path]) {
                Ok(found) => {
                    if let Some(notice) = crate::control::skipped_notice(&found.skipped) {
                        self.say(notice);
                    }
                    self.run_suite(found.files);
                }
                Err(e) => self.say(Notice::error(e)),
            },
            DialogPurpose::Workspace => self.open_workspace(&path),
        }
    }

    /// Opens the user's copy of the installed sample, copying it first when there is none.
    pub(super) fn try_sample(&mut self) {
        let Some(sample) = &self.sample else {
            return;
        };
        match crate::workspace::copy_sample(sample) {
            Ok(copy) => {
                let what = match &copy {
                    SampleCopy::Copied(_) => "copied the sample workspace to",
                    SampleCopy::Existing(_) => "opened your copy of the sample workspace in",
                };
                let root = copy.root();
                // Said first, so that what the load has to say (a model that failed) wins.
                self.say(Notice::info(format!("{what} {}", root.display())));
                self.open_workspace(root);
            }
            Err(e) => self.say(Notice::error(e.to_string())),
        }
    }

    /// Writes the suite's report (results, requests and replies, coverage) to `path`.
    fn export_report(&mut self, path: &Path) {
        let Ok(ws) = self.workspace.get() else {
            return;
        };
        let broker = self
            .connection
            .broker_url()
            .map_or("(not connected)".to_owned(), ToString::to_string);
        let written = self
            .suite
            .evidence
            .export(&self.suite.results, ws, &broker, path);
        match written {
            Ok(count) => self.say(Notice::info(format!(
                "wrote the report of {count} fixtures to {}",
                path.display()
            ))),
            Err(e) => self.say(Notice::error(e)),
        }
    }
}
