//! Workspace files: `workspace.json`, `models/*.json` and the fixtures in `messages/`.
//!
//! Loads and saves files (atomically), follows them as they change ([`LiveWorkspace`]), and
//! fills the model layer's registry. No MQTT, no window.

mod atomic;
mod batch;
mod command;
mod draft;
mod error;
mod event_post;
mod fixture;
mod live;
mod load;
mod sample;
mod template;
mod vars;
mod walk;
mod workspace_file;

pub use atomic::{write_atomic, write_atomic_with};
pub use batch::{Batch, BatchMethod, Entry, EntryTime, NotABatch, PointEntry};
pub use command::{Command, command_body, command_of_body};
pub use draft::{Doc, Draft, DraftMode};
pub use error::{FileError, OpenError};
pub use event_post::{EventPost, output_sample};
pub use fixture::{Expect, Fixture, FixtureBody, FixtureEntry, ResolvedMessage};
pub use live::{LiveWorkspace, Snapshot, WorkspaceFeed, merge_reload};
pub use load::{LoginState, ModelFile, Workspace, find_workspace_root};
pub use sample::{SampleCopy, SampleError, SamplePlaces, copy_sample, installed_sample};
pub use vars::{UnknownName, UnknownVar, Vars};
pub use walk::{JsonFiles, json_files};

/// Every `*.json` under `dir`, recursively, in path order, with what the walk skipped.
pub fn json_files_under(dir: &std::path::Path) -> JsonFiles {
    json_files(dir, true)
}
pub use template::{IdSource, resolve_time_template};
pub use workspace_file::{
    AuthMode, ConnectionEntry, DeviceEntry, DeviceSecretError, EnvironmentEntry, Limits,
    SecretError, SecretSpec, WorkspaceFile,
};

#[cfg(test)]
pub(crate) mod testing;
