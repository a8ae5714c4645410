//! Finding `*.json` files in a folder tree: links followed, loops and unreadable folders
//! skipped and named.

use std::path::{Path, PathBuf};

/// The `*.json` files a walk found, in path order (each folder's entries by name), and what it
/// had to skip, one sentence each naming the path.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JsonFiles {
    pub files: Vec<PathBuf>,
    pub skipped: Vec<String>,
}

/// `*.json` files of `dir` (and below when `recursive`), following links; hidden files and
/// folders are left out. A missing `dir` has none.
///
/// A link to a folder that holds the walk (`messages/loop -> ..`) is a loop even when it
/// points above `dir`: following it would read the whole workspace (models too) as fixtures.
pub fn json_files(dir: &Path, recursive: bool) -> JsonFiles {
    let mut found = JsonFiles::default();
    if !dir.exists() {
        return found;
    }
    let top = std::fs::canonicalize(dir).ok();
    let mut looping = Vec::new();
    let walk = walkdir::WalkDir::new(dir)
        .follow_links(true)
        .min_depth(1)
        .max_depth(if recursive { usize::MAX } else { 1 })
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|entry| {
            if entry.file_name().to_string_lossy().starts_with('.') {
                return false;
            }
            let holds_the_walk = entry.path_is_symlink()
                && entry.file_type().is_dir()
                && std::fs::canonicalize(entry.path())
                    .ok()
                    .zip(top.as_ref())
                    .is_some_and(|(target, top)| top.starts_with(&target));
            if holds_the_walk {
                looping.push(loop_skipped(entry.path()));
            }
            !holds_the_walk
        });
    for entry in walk {
        match entry {
            Ok(entry) if entry.file_type().is_file() => {
                if entry.path().extension().is_some_and(|e| e == "json") {
                    found.files.push(entry.into_path());
                }
            }
            Ok(_) => {}
            Err(e) => found.skipped.push(skipped(&e, dir)),
        }
    }
    found.skipped.extend(looping);
    found.skipped.sort();
    found
}

/// What a walk error skipped, in words.
fn skipped(error: &walkdir::Error, dir: &Path) -> String {
    let path = error.path().unwrap_or(dir);
    if error.loop_ancestor().is_some() {
        return loop_skipped(path);
    }
    match error.io_error().map(std::io::Error::kind) {
        Some(std::io::ErrorKind::NotFound) => format!(
            "{}: a link to something that does not exist; skipped (remove or fix the link)",
            path.display()
        ),
        Some(std::io::ErrorKind::PermissionDenied) => format!(
            "{}: cannot be read (permission denied); skipped (check its permissions)",
            path.display()
        ),
        _ => format!("{}: cannot be read ({error}); skipped", path.display()),
    }
}

fn loop_skipped(path: &Path) -> String {
    format!(
        "{}: a link back to a folder that holds it (a loop); skipped (remove the link or point it elsewhere)",
        path.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(found: &JsonFiles, base: &Path) -> Vec<String> {
        found
            .files
            .iter()
            .map(|p| p.strip_prefix(base).unwrap_or(p).display().to_string())
            .collect()
    }

    #[test]
    fn folders_are_walked_in_name_order_and_hidden_files_left_out() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        for file in [
            "b.json",
            "a.json",
            "a/z.json",
            "a/c.json",
            "c.txt",
            ".hidden.json",
        ] {
            let path = root.join(file);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, "{}").expect("write");
        }
        std::fs::create_dir_all(root.join(".git")).expect("mkdir");
        std::fs::write(root.join(".git/x.json"), "{}").expect("write");
        let found = json_files(root, true);
        assert_eq!(
            names(&found, root),
            ["a/c.json", "a/z.json", "a.json", "b.json"]
        );
        assert!(found.skipped.is_empty(), "{:?}", found.skipped);
        assert_eq!(names(&json_files(root, false), root), ["a.json", "b.json"]);
        assert_eq!(json_files(&root.join("none"), true), JsonFiles::default());
    }

    #[cfg(unix)]
    #[test]
    fn a_link_back_up_is_skipped_by_name_and_other_links_are_followed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        let messages = root.join("messages");
        std::fs::create_dir_all(messages.join("inner")).expect("mkdir");
        std::fs::create_dir_all(root.join("models")).expect("mkdir");
        std::fs::create_dir_all(root.join("shared")).expect("mkdir");
        std::fs::write(root.join("models/model.json"), "{}").expect("write");
        std::fs::write(root.join("shared/s.json"), "{}").expect("write");
        std::fs::write(messages.join("m.json"), "{}").expect("write");
        std::os::unix::fs::symlink("..", messages.join("loop")).expect("link");
        std::os::unix::fs::symlink("..", messages.join("inner/up")).expect("link");
        std::os::unix::fs::symlink("../shared", messages.join("shared")).expect("link");
        std::os::unix::fs::symlink("nowhere.json", messages.join("gone.json")).expect("link");
        let found = json_files(&messages, true);
        assert_eq!(names(&found, &messages), ["m.json", "shared/s.json"]);
        assert_eq!(found.skipped.len(), 3, "{:?}", found.skipped);
        let said = found.skipped.join("\n");
        for name in [
            "messages/loop: ",
            "messages/inner/up: ",
            "messages/gone.json: ",
        ] {
            assert!(said.contains(name), "{name} named: {said}");
        }
        assert!(
            said.contains("(a loop)") && said.contains("does not exist"),
            "{said}"
        );
    }
}
