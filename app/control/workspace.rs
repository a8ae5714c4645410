//! The open workspace, the checker's registry built from it with the logins the window
//! believes in, and its reloads when files change on disk or on request.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::model::Registry;
use crate::protocol::DeviceId;
use crate::workspace::{Fixture, LoginState, Workspace};

use super::Wake;
use super::notice::Notice;

/// How long to wait after a file change for the burst of changes to end.
const SETTLE: Duration = Duration::from_millis(200);

/// The workspace, or why there is none, with its registry and file watch.
pub struct WorkspaceCtl {
    workspace: Result<Workspace, String>,
    /// The checker's view of the workspace, with the logins we believe in.
    registry: Registry,
    file_watch: Option<(notify::RecommendedWatcher, mpsc::Receiver<()>)>,
    reload_at: Option<Instant>,
    /// Grows with every load, so that views know when to prepare their text again.
    generation: u64,
}

impl WorkspaceCtl {
    /// The controller of `workspace`; nobody is logged in until the window logs them in.
    pub fn new(workspace: Result<Workspace, String>) -> Self {
        let registry = match &workspace {
            Ok(ws) => ws.registry(&LoginState::Only(Vec::new())),
            Err(_) => Registry::new(),
        };
        Self {
            workspace,
            registry,
            file_watch: None,
            reload_at: None,
            generation: 0,
        }
    }

    /// The workspace, or why none is open.
    pub fn get(&self) -> Result<&Workspace, &str> {
        self.workspace.as_ref().map_err(String::as_str)
    }

    /// The number of the current load: it changes with every reload.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The folder of the open workspace.
    pub fn root(&self) -> Option<&Path> {
        self.workspace.as_ref().ok().map(|ws| ws.root.as_path())
    }

    /// The checker's registry, with the logins the window believes in.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The registry, for what changes logins (a suite's accepted login).
    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// Records an accepted login (`true`) or logout.
    pub fn set_login(&mut self, device: &DeviceId, login: bool) {
        if login {
            self.registry.logged_in.insert(device.clone());
        } else {
            self.registry.logged_in.remove(device);
        }
    }

    /// Watches the workspace's files; changes reload it (see [`WorkspaceCtl::poll`]).
    pub fn watch_files(&mut self, wake: &Wake) -> Result<(), Notice> {
        use notify::Watcher as _;
        let Ok(ws) = &self.workspace else {
            return Ok(());
        };
        let (tx, rx) = mpsc::channel();
        let wake = wake.clone();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                if event.is_ok_and(|e| !e.kind.is_access()) {
                    let _ = tx.send(());
                    wake();
                }
            })
            .map_err(|e| Notice::error(format!("cannot watch files for changes: {e}")))?;
        watcher
            .watch(&ws.root, notify::RecursiveMode::Recursive)
            .map_err(|e| {
                Notice::error(format!(
                    "cannot watch {} for changes ({e}); use Reload after editing files",
                    ws.root.display()
                ))
            })?;
        self.file_watch = Some((watcher, rx));
        Ok(())
    }

    /// Reloads once files have settled after a change; returns what came of it, if anything.
    pub fn poll(&mut self) -> Option<Result<(), Notice>> {
        if let Some((_, rx)) = &self.file_watch
            && rx.try_iter().count() > 0
        {
            self.reload_at = Some(Instant::now() + SETTLE);
        }
        let due = self.reload_at.is_some_and(|at| Instant::now() >= at);
        if !due {
            return None;
        }
        self.reload_at = None;
        Some(self.reload())
    }

    /// When the next reload is due, to wake the window then.
    pub fn reload_due(&self) -> Option<Duration> {
        self.reload_at
            .map(|at| at.saturating_duration_since(Instant::now()))
    }

    /// Reads the workspace again, keeping who is logged in.
    pub fn reload(&mut self) -> Result<(), Notice> {
        let Ok(ws) = &mut self.workspace else {
            return Ok(());
        };
        let fresh = Workspace::load(&ws.root)
            .map_err(|e| Notice::error(format!("reload failed, keeping what was loaded: {e}")))?;
        let logged_in = std::mem::take(&mut self.registry.logged_in);
        self.registry = fresh.registry(&LoginState::All);
        self.registry.logged_in.retain(|d| logged_in.contains(d));
        *ws = fresh;
        self.generation += 1;
        Ok(())
    }

    /// Opens the workspace at `root` when none is open.
    pub fn open(&mut self, root: &Path) -> Result<(), Notice> {
        if self.workspace.is_ok() {
            return Err(Notice::error(
                "a workspace is open; to change it, start thingbench with --workspace DIR",
            ));
        }
        match Workspace::load(root) {
            Ok(ws) => {
                self.registry = ws.registry(&LoginState::Only(Vec::new()));
                self.workspace = Ok(ws);
                self.generation += 1;
                Ok(())
            }
            Err(e) => {
                self.workspace = Err(e.to_string());
                Err(Notice::error(e.to_string()))
            }
        }
    }

    /// Saves `fixture` as `messages/<stem>.json` (the stem cut to safe characters) and reloads.
    pub fn save_fixture(&mut self, fixture: &Fixture, stem: &str) -> Result<PathBuf, Notice> {
        let Ok(ws) = &self.workspace else {
            return Err(Notice::error("no workspace is open"));
        };
        let stem: String = stem
            .trim()
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        let path = ws
            .save_fixture(&format!("{stem}.json"), fixture)
            .map_err(|e| Notice::error(e.to_string()))?;
        self.reload()?;
        Ok(path)
    }

    /// The sub-devices that can be logged in: those with a usable secret.
    pub fn loginable(&self) -> Vec<DeviceId> {
        let Ok(ws) = &self.workspace else {
            return Vec::new();
        };
        ws.sub_devices()
            .into_iter()
            .filter(|d| {
                self.registry
                    .devices
                    .get(d)
                    .is_some_and(|r| r.secret.is_some())
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (tempfile::TempDir, PathBuf) {
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

    #[test]
    fn a_reload_keeps_who_is_logged_in() {
        let (_dir, root) = sample();
        let mut ctl = WorkspaceCtl::new(Workspace::load(&root).map_err(|e| e.to_string()));
        let inv = DeviceId::new("invPk", "inv01");
        ctl.set_login(&inv, true);
        ctl.reload().expect("reloads");
        assert!(ctl.registry().logged_in.contains(&inv));
        assert_eq!(ctl.registry().logged_in.len(), 1, "nobody else logged in");
    }

    #[test]
    fn a_saved_fixture_is_listed_at_once() {
        let (_dir, root) = sample();
        let mut ctl = WorkspaceCtl::new(Workspace::load(&root).map_err(|e| e.to_string()));
        let before = ctl.get().expect("workspace").fixtures.len();
        let fixture = crate::workspace::Draft::default().to_fixture(
            "a new one",
            crate::workspace::Expect::code(crate::protocol::ReplyCode(200)),
        );
        let path = ctl.save_fixture(&fixture, "a new/one").expect("saved");
        assert!(
            path.ends_with("messages/a-new-one.json"),
            "{}",
            path.display()
        );
        assert_eq!(ctl.get().expect("workspace").fixtures.len(), before + 1);
    }

    #[test]
    fn a_second_workspace_is_refused_by_name() {
        let (_dir, root) = sample();
        let mut ctl = WorkspaceCtl::new(Workspace::load(&root).map_err(|e| e.to_string()));
        let refused = ctl.open(&root).expect_err("one workspace at a time");
        assert!(refused.text.contains("--workspace"), "{}", refused.text);
    }
}
