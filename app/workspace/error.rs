//! One error type for files: it names the file, the place inside it, and what to do.

use std::path::{Path, PathBuf};

/// A problem with one file: which file, where in it, and why.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{}: {}{reason}", file.display(), place(path))]
pub struct FileError {
    pub file: PathBuf,
    /// JSON path inside the file; empty when the problem is the whole file.
    pub path: String,
    pub reason: String,
}

/// Why no workspace is open.
#[derive(Clone, Debug, thiserror::Error)]
pub enum OpenError {
    /// No folder was given, and none was found near the file or in `./fixtures`.
    #[error(
        "no workspace found near the file or in ./fixtures; pass --workspace DIR (a folder with workspace.json)"
    )]
    NotFound,
    /// The workspace's files cannot be loaded.
    #[error(transparent)]
    File(#[from] FileError),
    /// The window's workspace cannot be opened, nor the last one it used.
    #[error("{given}; {last}")]
    NorTheLast {
        given: Box<OpenError>,
        last: FileError,
    },
}

fn place(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!("at {path}: ")
    }
}

impl FileError {
    /// A problem at `path` inside `file`.
    pub fn new(file: &Path, path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            file: file.to_owned(),
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// A file that could not be read.
    pub fn io(file: &Path, err: &std::io::Error) -> Self {
        let reason = match err.kind() {
            std::io::ErrorKind::NotFound => "no such file; check the path".to_owned(),
            std::io::ErrorKind::PermissionDenied => {
                "permission denied; check the file's permissions".to_owned()
            }
            _ => format!("cannot be read or written: {err}"),
        };
        Self::new(file, "", reason)
    }

    /// A serde error with its path, from `serde_path_to_error`.
    pub fn serde(file: &Path, err: serde_path_to_error::Error<serde_json::Error>) -> Self {
        let path = err.path().to_string();
        let path = if path == "." { String::new() } else { path };
        let inner = err.into_inner();
        let reason = if inner.is_syntax() || inner.is_eof() {
            format!("is not valid JSON: {inner}; fix the syntax")
        } else {
            inner.to_string()
        };
        Self::new(file, path, reason)
    }
}
