//! The open workspace as the window sees it: the newest snapshot of the live workspace (the one
//! the embedded hub and the suite follow too), the checker's registry built from it with the
//! logins the window believes in, and reloads when files change or on request.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::model::Registry;
use crate::protocol::DeviceId;
use crate::workspace::{
    Fixture, LiveWorkspace, LoginState, OpenError, Snapshot, Workspace, WorkspaceFeed, merge_reload,
};

use super::Wake;
use super::notice::Notice;

/// The workspace, or why there is none, with its registry and its live source.
pub struct WorkspaceCtl {
    workspace: Result<Arc<Workspace>, OpenError>,
    /// Watches the files and publishes each reload to every reader; `None` for a workspace
    /// that is not followed (benchmarks, tests).
    live: Option<LiveWorkspace>,
    /// The window's own subscription to `live`.
    feed: Option<WorkspaceFeed>,
    /// The checker's view of the workspace, with the logins we believe in.
    registry: Registry,
    /// Grows with every load, so that views know when to prepare their text again.
    generation: u64,
}

impl WorkspaceCtl {
    /// The controller of `workspace`, not followed on disk; nobody is logged in until the
    /// window logs them in.
    pub fn fixed(workspace: Result<Workspace, OpenError>) -> Self {
        let workspace = workspace.map(Arc::new);
        let registry = match &workspace {
            Ok(ws) => ws.registry(&LoginState::Only(Vec::new())),
            Err(_) => Registry::new(),
        };
        Self {
            workspace,
            live: None,
            feed: None,
            registry,
            generation: 0,
        }
    }

    /// The controller of `workspace`, followed on disk: every reload reaches the window (woken
    /// by `wake`) and every reader given [`WorkspaceCtl::feed`]. Returns what stands in the way
    /// of following it, if anything.
    pub fn live(workspace: Result<Workspace, OpenError>, wake: &Wake) -> (Self, Vec<Notice>) {
        match workspace {
            Ok(ws) => {
                // Until `follow` puts the live workspace in its place, at once.
                let mut ctl = Self::fixed(Err(OpenError::NotFound));
                let notices = ctl.follow(LiveWorkspace::start(ws), wake);
                (ctl, notices)
            }
            Err(e) => (Self::fixed(Err(e)), Vec::new()),
        }
    }

    /// Takes `live` as the source of the workspace.
    fn follow(&mut self, live: LiveWorkspace, wake: &Wake) -> Vec<Notice> {
        let wake = wake.clone();
        let feed = live.subscribe_waking(move || wake());
        let snapshot = feed.snapshot();
        self.registry = snapshot.workspace.registry(&LoginState::Only(Vec::new()));
        self.workspace = Ok(snapshot.workspace.clone());
        self.generation += 1;
        self.live = Some(live);
        self.feed = Some(feed);
        let mut notices = notices_of(&snapshot);
        notices.extend(skipped_notice(&snapshot.workspace.skipped));
        notices
    }

    /// A feed of the workspace for another reader (the embedded hub, the suite runner), which
    /// then follows every reload as the window does.
    pub fn feed(&self) -> Option<WorkspaceFeed> {
        match (&self.live, &self.workspace) {
            (Some(live), _) => Some(live.subscribe()),
            (None, Ok(ws)) => Some(WorkspaceFeed::fixed(ws.clone())),
            (None, Err(_)) => None,
        }
    }

    /// The workspace, or why none is open.
    pub fn get(&self) -> Result<&Workspace, &OpenError> {
        self.workspace.as_ref().map(|ws| ws.as_ref())
    }

    /// The workspace, shared, for a reader that keeps it (the suite runner).
    pub fn shared(&self) -> Option<Arc<Workspace>> {
        self.workspace.as_ref().ok().cloned()
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

    /// Takes the newest reload, if one came since the last call: the registry follows it,
    /// keeping who is logged in. Returns what the reload had to say (a broken file, kept as it
    /// was before), or an empty list; `None` when nothing changed.
    pub fn poll(&mut self) -> Option<Vec<Notice>> {
        let snapshot = self.feed.as_mut()?.newest()?;
        // The window's own load, handed to the live workspace, comes back: nothing new.
        if matches!(&self.workspace, Ok(ws) if Arc::ptr_eq(ws, &snapshot.workspace)) {
            return None;
        }
        Some(self.adopt(&snapshot.workspace, &snapshot.notices))
    }

    /// Takes `ws` as the workspace; returns what its load had to say, for the status line.
    fn adopt(&mut self, ws: &Arc<Workspace>, notices: &[String]) -> Vec<Notice> {
        self.registry
            .replace_keeping_logins(ws.registry(&LoginState::All));
        let before = std::mem::replace(&mut self.workspace, Ok(ws.clone()));
        self.generation += 1;
        // Said once, when the folders' skips change, not at every reload.
        let skipped_before = before.as_ref().map_or(&[][..], |b| &b.skipped[..]);
        if ws.skipped != skipped_before
            && let Some(notice) = skipped_notice(&ws.skipped)
        {
            return vec![notice];
        }
        // A model file that does not load is named, with its place, in the Models tab; the
        // status line points there instead of saying it twice.
        let broken = ws
            .models
            .iter()
            .filter(|m| m.model.is_err() || m.reload_error.is_some())
            .count();
        match (broken, notices.first()) {
            (_, None) => Vec::new(),
            (0, Some(first)) => vec![Notice::error(first.clone())],
            (1, Some(_)) => vec![Notice::error(
                "a model file does not load: the Models tab says where; a version loaded before stays in use",
            )],
            (n, Some(_)) => vec![Notice::error(format!(
                "{n} model files do not load: the Models tab says where; versions loaded before stay in use"
            ))],
        }
    }

    /// Reads the workspace again at once, keeping who is logged in, and hands the load to the
    /// live workspace, so that every other reader (the embedded hub, a running suite) takes it
    /// up without reading the files again.
    pub fn reload(&mut self) -> Result<(), Notice> {
        let Ok(before) = &self.workspace else {
            return Ok(());
        };
        let (ws, notices) = merge_reload(
            before,
            Workspace::load_env(&before.root, before.env.as_deref()),
        );
        let said = self.adopt(&ws, &notices);
        if let Some(live) = &self.live {
            live.publish(ws, notices);
        }
        match said.into_iter().next() {
            Some(notice) => Err(notice),
            None => Ok(()),
        }
    }

    /// Loads the workspace again in environment `env` (`None`: as it is) and hands it to every
    /// reader; nobody is logged in in the new environment until the window logs them in.
    pub fn switch_env(&mut self, env: Option<&str>) -> Result<(), Notice> {
        let Ok(before) = &self.workspace else {
            return Err(Notice::error("no workspace is open"));
        };
        let ws =
            Workspace::load_env(&before.root, env).map_err(|e| Notice::error(e.to_string()))?;
        let ws = Arc::new(ws);
        self.registry = ws.registry(&LoginState::Only(Vec::new()));
        self.workspace = Ok(Arc::clone(&ws));
        self.generation += 1;
        if let Some(live) = &self.live {
            live.publish(ws, Vec::new());
        }
        Ok(())
    }

    /// Opens the workspace at `root` when none is open, and follows it.
    pub fn open(&mut self, root: &Path, wake: &Wake) -> Result<Vec<Notice>, Notice> {
        if self.workspace.is_ok() {
            return Err(Notice::error(
                "a workspace is open; to change it, start thingbench with --workspace DIR",
            ));
        }
        match LiveWorkspace::open(root) {
            Ok(live) => Ok(self.follow(live, wake)),
            Err(e) => {
                let notice = Notice::error(e.to_string());
                self.workspace = Err(e.into());
                Err(notice)
            }
        }
    }

    /// Saves `fixture` as `messages/<stem>.json` (the stem cut to safe characters) and reloads.
    pub fn save_fixture(&mut self, fixture: &Fixture, stem: &str) -> Result<PathBuf, Notice> {
        let Ok(ws) = &self.workspace else {
            return Err(Notice::error("no workspace is open"));
        };
        let ws = ws.clone();
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
        // Saved either way: a reload that finds another file broken says so beside it.
        self.reload().map_err(|notice| {
            Notice::error(format!("saved {}; {}", path.display(), notice.text))
        })?;
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

/// The status line's word on what a folder walk skipped (a link loop, an unreadable folder):
/// the first by name, and how many more; `None` when nothing was skipped.
pub fn skipped_notice(skipped: &[String]) -> Option<Notice> {
    let (first, rest) = skipped.split_first()?;
    Some(Notice::error(match rest.len() {
        0 => first.clone(),
        n => format!("{first}; and {n} more skipped (listed under Fixtures)"),
    }))
}

/// What a snapshot says beside the workspace, as status-line notices.
fn notices_of(snapshot: &Snapshot) -> Vec<Notice> {
    snapshot
        .notices
        .iter()
        .map(|text| Notice::error(text.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::testing::sample_copy as sample;

    #[test]
    fn a_reload_keeps_who_is_logged_in() {
        let (_dir, root) = sample();
        let mut ctl = WorkspaceCtl::fixed(Workspace::load(&root).map_err(OpenError::from));
        let inv = DeviceId::new("invPk", "inv01");
        ctl.set_login(&inv, true);
        ctl.reload().expect("reloads");
        assert!(ctl.registry().logged_in.contains(&inv));
        assert_eq!(ctl.registry().logged_in.len(), 1, "nobody else logged in");
    }

    #[test]
    fn a_saved_fixture_is_listed_at_once() {
        let (_dir, root) = sample();
        let mut ctl = WorkspaceCtl::fixed(Workspace::load(&root).map_err(OpenError::from));
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

    #[cfg(unix)]
    #[test]
    fn a_link_loop_in_messages_is_said_once_and_models_are_not_fixtures() {
        let (_dir, root) = sample();
        let fixtures = Workspace::load(&root).expect("loads").fixtures.len();
        std::os::unix::fs::symlink("..", root.join("messages/loop")).expect("link");
        let wake: Wake = Arc::new(|| {});
        let (mut ctl, notices) =
            WorkspaceCtl::live(Workspace::load(&root).map_err(OpenError::from), &wake);
        assert_eq!(notices.len(), 1, "{notices:?}");
        assert!(
            notices[0].error
                && notices[0].text.contains("messages/loop: ")
                && notices[0].text.contains("(a loop)"),
            "{notices:?}"
        );
        let ws = ctl.get().expect("workspace");
        assert_eq!(ws.fixtures.len(), fixtures, "nothing read through the link");
        assert_eq!(
            ws.skipped.len(),
            1,
            "the Fixtures tab lists it: {:?}",
            ws.skipped
        );
        // A reload that skips the same link says nothing new.
        assert_eq!(ctl.reload(), Ok(()));
        std::fs::remove_file(root.join("messages/loop")).expect("unlink");
        assert_eq!(ctl.reload(), Ok(()));
        assert!(ctl.get().expect("workspace").skipped.is_empty());
    }

    #[test]
    fn switching_environment_changes_devices_and_forgets_logins() {
        let (_dir, root) = sample();
        let mut ctl = WorkspaceCtl::fixed(Workspace::load(&root).map_err(OpenError::from));
        ctl.set_login(&DeviceId::new("invPk", "inv01"), true);
        ctl.switch_env(Some("lab")).expect("switches");
        let ws = ctl.get().expect("workspace");
        assert_eq!(ws.env.as_deref(), Some("lab"));
        assert_eq!(ws.gateway(), DeviceId::new("gwPk", "gw-lab"));
        assert!(ctl.registry().logged_in.is_empty());
        assert!(
            ctl.registry()
                .devices
                .contains_key(&DeviceId::new("invPk", "inv-lab-1"))
        );
        // A reload stays in the environment.
        ctl.reload().expect("reloads");
        assert_eq!(ctl.get().expect("workspace").env.as_deref(), Some("lab"));
        let refused = ctl
            .switch_env(Some("prod"))
            .expect_err("no such environment");
        assert!(refused.text.contains("local, lab"), "{}", refused.text);
        assert_eq!(ctl.get().expect("workspace").env.as_deref(), Some("lab"));
        ctl.switch_env(None).expect("back");
        assert_eq!(
            ctl.get().expect("workspace").gateway(),
            DeviceId::new("gwPk", "gw01")
        );
    }

    #[test]
    fn a_second_workspace_is_refused_by_name() {
        let (_dir, root) = sample();
        let mut ctl = WorkspaceCtl::fixed(Workspace::load(&root).map_err(OpenError::from));
        let wake: Wake = Arc::new(|| {});
        let refused = ctl.open(&root, &wake).expect_err("one workspace at a time");
        assert!(refused.text.contains("--workspace"), "{}", refused.text);
    }

    #[test]
    fn a_model_changed_on_disk_reaches_the_registry_and_a_broken_one_keeps_it() {
        let (_dir, root) = sample();
        // The window is woken by each reload: here the wake is a channel the test waits on.
        let (tx, woken) = std::sync::mpsc::channel();
        let wake: Wake = Arc::new(move || {
            let _ = tx.send(());
        });
        let wait = |what: &str| {
            woken
                .recv_timeout(std::time::Duration::from_secs(10))
                .unwrap_or_else(|_| panic!("{what} within 10 s"));
        };
        let (mut ctl, notices) =
            WorkspaceCtl::live(Workspace::load(&root).map_err(OpenError::from), &wake);
        assert!(notices.is_empty(), "{notices:?}");
        let inv = DeviceId::new("invPk", "inv01");
        ctl.set_login(&inv, true);
        let generation = ctl.generation();
        let path = root.join("models/wb_inverter.json");
        let mut model: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).expect("model")).expect("JSON");
        model["measurepoints"]["Power"]["dataType"] = serde_json::json!("STRING");
        model["measurepoints"]["Power"]["hasQuality"] = serde_json::json!(false);
        std::fs::write(&path, serde_json::to_vec_pretty(&model).expect("JSON")).expect("write");
        let power_type = |ctl: &WorkspaceCtl| {
            let model = ctl
                .registry()
                .model_of(&crate::protocol::ProductKey("invPk".into()))
                .cloned();
            model.and_then(|m| m.point("Power").map(|p| p.data_type.name()))
        };
        while power_type(&ctl) != Some("STRING") {
            wait("the change");
            ctl.poll();
        }
        assert!(ctl.generation() > generation);
        assert!(ctl.registry().logged_in.contains(&inv), "logins are kept");
        std::fs::write(&path, "{ not json").expect("write");
        let notices = loop {
            wait("the broken file noticed");
            if let Some(notices) = ctl.poll()
                && !notices.is_empty()
            {
                break notices;
            }
        };
        assert!(
            notices.iter().any(|n| n.error && n.text.contains("Models")),
            "{notices:?}"
        );
        let problems = &ctl.get().expect("workspace").problems;
        assert!(
            problems
                .iter()
                .any(|p| p.contains("wb_inverter.json") && p.contains("loaded before")),
            "the Models tab names the file: {problems:?}"
        );
        assert_eq!(
            power_type(&ctl),
            Some("STRING"),
            "the last good model stays"
        );
    }
}
