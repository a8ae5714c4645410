//! What goes wrong writing a report or a generated suite, as a type the command line and the
//! window word once.

use std::path::PathBuf;

/// An error of the report layer: a file or folder it cannot write.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The report's file could not be written.
    #[error("{}: cannot write the report ({source}); check the folder exists and is writable", .path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    /// `--report` names a folder.
    #[error("--report {}: is a folder; give a file name such as report.html", .0.display())]
    IsAFolder(PathBuf),
    /// The folder of `--report` does not exist.
    #[error("--report {}: the folder {} does not exist; create it or choose another path", .path.display(), .folder.display())]
    NoFolder { path: PathBuf, folder: PathBuf },
    /// A folder of a generated suite could not be made.
    #[error("{}: cannot create the folder ({source}); check --out", .folder.display())]
    CreateFolder {
        folder: PathBuf,
        source: std::io::Error,
    },
    /// `--product` names a product that `workspace.json` does not list.
    #[error("{}: product \"{product}\" is not in products; use one of {}", .file.display(), .known.join(", "))]
    UnknownProduct {
        file: PathBuf,
        product: String,
        known: Vec<String>,
    },
    /// A file of a generated suite could not be written.
    #[error("{}: cannot write ({source}); check --out", .file.display())]
    WriteFixture {
        file: PathBuf,
        source: std::io::Error,
    },
}
