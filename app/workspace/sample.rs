//! The sample workspace a package installs, and the user's own copy of it: the installed files
//! stay read-only, and the window opens a copy in the user's data folder.

use std::io;
use std::path::{Path, PathBuf};

/// Where the installed sample is, and where the user's copy of it goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SamplePlaces {
    /// The installed sample workspace (read-only), e.g. `/usr/share/thingbench/fixtures`.
    pub installed: PathBuf,
    /// The user's copy, e.g. `~/.local/share/thingbench/sample`.
    pub copy: PathBuf,
}

/// What [`copy_sample`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum SampleCopy {
    /// The sample was copied to this folder.
    Copied(PathBuf),
    /// A copy was already there (perhaps changed by the user): it was left as it is.
    Existing(PathBuf),
}

impl SampleCopy {
    /// The workspace folder to open.
    pub fn root(&self) -> &Path {
        match self {
            Self::Copied(root) | Self::Existing(root) => root,
        }
    }
}

/// Why the sample could not be copied.
#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    #[error("no sample workspace at {}; reinstall thingbench, or open a workspace of your own", .0.display())]
    NotInstalled(PathBuf),
    #[error("{} exists but holds no workspace.json; move it away to copy the sample again, or open a workspace of your own", .0.display())]
    NotAWorkspace(PathBuf),
    #[error("cannot copy the sample workspace to {}: {source}; check that the folder is writable", path.display())]
    Copy { path: PathBuf, source: io::Error },
}

/// The installed sample for a binary at `exe`: `../share/thingbench/fixtures` from the
/// binary's folder (`/usr/bin` → `/usr/share`, `/usr/local/bin` → `/usr/local/share`), else
/// `fixtures/` of the source tree the binary was built from (a development build).
pub fn installed_sample(exe: &Path) -> Option<PathBuf> {
    let beside = exe
        .parent()
        .and_then(Path::parent)
        .map(|prefix| prefix.join("share/thingbench/fixtures"));
    let source_tree = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    beside
        .into_iter()
        .chain([source_tree])
        .find(|dir| dir.join("workspace.json").is_file())
}

/// Copies the installed sample to `places.copy`, unless a copy is already there: that one is
/// the user's, maybe changed, and is kept. Dot files and folders (a local TLS CA in
/// `.thingbench/`) and links are not copied. The copy appears whole or not at all: it is made
/// beside `places.copy` and renamed into place.
pub fn copy_sample(places: &SamplePlaces) -> Result<SampleCopy, SampleError> {
    let SamplePlaces { installed, copy } = places;
    if copy.exists() {
        return if copy.join("workspace.json").is_file() {
            Ok(SampleCopy::Existing(copy.clone()))
        } else {
            Err(SampleError::NotAWorkspace(copy.clone()))
        };
    }
    if !installed.join("workspace.json").is_file() {
        return Err(SampleError::NotInstalled(installed.clone()));
    }
    let name = copy
        .file_name()
        .map_or_else(|| "sample".into(), |n| n.to_string_lossy().into_owned());
    let partial = copy.with_file_name(format!(".{name}.partial-{}", std::process::id()));
    let failed = |path: &Path, source: io::Error| SampleError::Copy {
        path: path.to_owned(),
        source,
    };
    // A partial copy left by a run that died is started afresh.
    if partial.exists() {
        std::fs::remove_dir_all(&partial).map_err(|e| failed(&partial, e))?;
    }
    let copied = copy_tree(installed, &partial).and_then(|()| std::fs::rename(&partial, copy));
    if let Err(e) = copied {
        // Best effort: the error that matters is the copy's.
        let _ = std::fs::remove_dir_all(&partial);
        return Err(failed(copy, e));
    }
    Ok(SampleCopy::Copied(copy.clone()))
}

/// Copies the regular files and folders under `from` to `to`, skipping dot entries and links.
/// Files are written anew rather than copied with their permissions, so the copy is the user's
/// to change even when the installed files are read-only.
fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    std::fs::create_dir_all(to)?;
    let entries = walkdir::WalkDir::new(from)
        .min_depth(1)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| !e.file_name().to_string_lossy().starts_with('.'));
    for entry in entries {
        let entry = entry.map_err(io::Error::other)?;
        let Ok(relative) = entry.path().strip_prefix(from) else {
            continue;
        };
        let target = to.join(relative);
        let kind = entry.file_type();
        if kind.is_dir() {
            std::fs::create_dir_all(&target)?;
        } else if kind.is_file() {
            std::fs::write(&target, std::fs::read(entry.path())?)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small installed sample in `dir/installed`, with a local CA that must not be copied.
    fn installed(dir: &Path) -> PathBuf {
        let root = dir.join("installed");
        std::fs::create_dir_all(root.join("messages/nested")).unwrap();
        std::fs::create_dir_all(root.join(".thingbench/tls")).unwrap();
        std::fs::write(root.join("workspace.json"), "{}").unwrap();
        std::fs::write(root.join("messages/nested/a.json"), "{\"a\": 1}").unwrap();
        std::fs::write(root.join(".thingbench/tls/ca.pem"), "key").unwrap();
        root
    }

    fn places(dir: &Path) -> SamplePlaces {
        SamplePlaces {
            installed: installed(dir),
            copy: dir.join("data/thingbench/sample"),
        }
    }

    #[test]
    fn the_sample_is_copied_whole_without_dot_folders() {
        let dir = tempfile::tempdir().unwrap();
        let places = places(dir.path());
        let copied = copy_sample(&places).unwrap();
        assert_eq!(copied, SampleCopy::Copied(places.copy.clone()));
        assert_eq!(
            std::fs::read_to_string(places.copy.join("messages/nested/a.json")).unwrap(),
            "{\"a\": 1}"
        );
        assert!(places.copy.join("workspace.json").is_file());
        assert!(!places.copy.join(".thingbench").exists());
        // No partial copy is left beside it.
        let beside: Vec<_> = std::fs::read_dir(places.copy.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(beside, vec![std::ffi::OsString::from("sample")]);
    }

    #[test]
    fn a_copy_the_user_changed_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let places = places(dir.path());
        copy_sample(&places).unwrap();
        let changed = places.copy.join("messages/nested/a.json");
        std::fs::write(&changed, "{\"mine\": true}").unwrap();
        let again = copy_sample(&places).unwrap();
        assert_eq!(again, SampleCopy::Existing(places.copy.clone()));
        assert_eq!(again.root(), places.copy);
        assert_eq!(
            std::fs::read_to_string(changed).unwrap(),
            "{\"mine\": true}"
        );
    }

    #[test]
    fn a_folder_in_the_way_or_a_missing_sample_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let places = places(dir.path());
        std::fs::create_dir_all(&places.copy).unwrap();
        let err = copy_sample(&places).unwrap_err();
        assert!(matches!(err, SampleError::NotAWorkspace(_)), "{err}");
        assert!(err.to_string().contains("holds no workspace.json"), "{err}");

        let missing = SamplePlaces {
            installed: dir.path().join("nowhere"),
            copy: dir.path().join("copy"),
        };
        let err = copy_sample(&missing).unwrap_err();
        assert!(err.to_string().contains("nowhere"), "{err}");
        assert!(err.to_string().contains("reinstall thingbench"), "{err}");
        assert!(!missing.copy.exists());
    }

    #[test]
    fn a_copy_that_cannot_be_written_says_where() {
        let dir = tempfile::tempdir().unwrap();
        let mut places = places(dir.path());
        // A file where the data folder must go.
        std::fs::write(dir.path().join("blocked"), "").unwrap();
        places.copy = dir.path().join("blocked/sample");
        let err = copy_sample(&places).unwrap_err();
        assert!(matches!(err, SampleError::Copy { .. }), "{err}");
        assert!(err.to_string().contains("blocked/sample"), "{err}");
    }

    #[test]
    fn the_installed_sample_is_found_beside_the_binary() {
        let dir = tempfile::tempdir().unwrap();
        let share = dir.path().join("usr/share/thingbench/fixtures");
        std::fs::create_dir_all(&share).unwrap();
        std::fs::write(share.join("workspace.json"), "{}").unwrap();
        let exe = dir.path().join("usr/bin/thingbench");
        assert_eq!(installed_sample(&exe), Some(share));
        // A binary elsewhere falls back to the source tree's sample.
        let elsewhere = dir.path().join("opt/thingbench");
        let fallback = installed_sample(&elsewhere).unwrap();
        assert!(fallback.ends_with("fixtures"), "{}", fallback.display());
    }
}
