//! What goes wrong in the runner layer, as a type the command line and the window word once.

use std::path::PathBuf;

use crate::workspace::FileError;

/// An error of a run: its inputs, or writing its results.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A path given to a run names nothing.
    #[error("{}: no such file or folder; check the path", .0.display())]
    NoSuchPath(PathBuf),
    /// The JUnit XML could not be made.
    #[error("cannot write JUnit XML: {0}")]
    Junit(#[from] quick_junit::SerializeError),
    /// A file could not be read or written.
    #[error(transparent)]
    File(#[from] FileError),
}
