//! What the tests of every layer share: the sample workspace, read as it is or copied to write to.

use std::path::{Path, PathBuf};

use crate::workspace::Workspace;

/// The sample workspace in `fixtures/`, read only.
pub fn sample() -> Workspace {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    Workspace::load(&root).expect("the sample workspace loads")
}

/// A copy of the sample workspace to change, and its folder (gone with the first element).
pub fn sample_copy() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("ws");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures"),
        &root,
    );
    (dir, root)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}
