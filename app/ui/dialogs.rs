//! File dialogs behind a trait, so that tests never open one.
//!
//! A dialog runs on its own thread and its answer comes back as an event, so the window keeps
//! drawing while it is open.

use std::path::PathBuf;
use std::sync::mpsc;

pub use crate::control::DialogPurpose;

/// Opens file dialogs.
pub trait FileDialogs {
    /// Asks for a path; the answer, if any, is sent on `answer` with its purpose.
    fn ask(&self, purpose: DialogPurpose, answer: mpsc::Sender<(DialogPurpose, PathBuf)>);
}

/// The desktop's own dialogs, through rfd.
pub struct NativeDialogs;

impl FileDialogs for NativeDialogs {
    fn ask(&self, purpose: DialogPurpose, answer: mpsc::Sender<(DialogPurpose, PathBuf)>) {
        let spawned = std::thread::Builder::new()
            .name("thingbench-dialog".into())
            .spawn(move || {
                let dialog = rfd::FileDialog::new().set_title(purpose.title());
                let path = match purpose {
                    DialogPurpose::CaFile
                    | DialogPurpose::ClientCert
                    | DialogPurpose::ClientKey => {
                        dialog.add_filter("PEM", &["pem", "crt", "key"]).pick_file()
                    }
                    DialogPurpose::ExportTimeline => dialog
                        .add_filter("JSON Lines", &["jsonl"])
                        .set_file_name("timeline.jsonl")
                        .save_file(),
                    DialogPurpose::ExportReport => dialog
                        .add_filter("HTML", &["html"])
                        .set_file_name("report.html")
                        .save_file(),
                    DialogPurpose::ExportQualifyReport => dialog
                        .add_filter("HTML", &["html"])
                        .set_file_name("qualification.html")
                        .save_file(),
                    DialogPurpose::ExportJunit => dialog
                        .add_filter("JUnit XML", &["xml"])
                        .set_file_name("junit.xml")
                        .save_file(),
                    DialogPurpose::SuiteFolder | DialogPurpose::Workspace => dialog.pick_folder(),
                };
                if let Some(path) = path {
                    let _ = answer.send((purpose, path));
                }
            });
        // Without a thread there is no dialog; the button simply does nothing more.
        drop(spawned);
    }
}

/// Answers every dialog with a fixed path, for tests.
pub struct FixedDialogs(pub PathBuf);

impl FileDialogs for FixedDialogs {
    fn ask(&self, purpose: DialogPurpose, answer: mpsc::Sender<(DialogPurpose, PathBuf)>) {
        let _ = answer.send((purpose, self.0.clone()));
    }
}
