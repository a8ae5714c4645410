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
    /// `--shard` is not K/N with 1 <= K <= N.
    #[error(
        "--shard: expected K/N with 1 <= K <= N (like 2/4: the second of four slices), got \"{0}\""
    )]
    BadShard(String),
    /// The bench found no model, or no point, to build its batch from.
    #[error("{0}; the bench needs a thing model with measure points")]
    NothingToBench(String),
    /// The bench's warm-up request got no reply.
    #[error("no reply to the bench's warm-up request within {0} ms; nothing to measure")]
    WarmUpUnanswered(u128),
    /// The bench's warm-up request was lost.
    #[error("the bench's warm-up request was lost: {0}")]
    WarmUpLost(String),
    /// The bench's warm-up request was not sent.
    #[error("the bench's warm-up request was not sent: {0}")]
    WarmUpNotSent(String),
}
