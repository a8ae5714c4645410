//! A workspace that follows its files: one loader watches the folder, reloads it, and publishes
//! each good result to every reader (window, hub, suite, command line) at once.
//!
//! Readers hold a [`WorkspaceFeed`]. Asking it whether something changed is one atomic load,
//! so the hub can ask before every request. A model that stops loading keeps the version
//! loaded before, and a `workspace.json` that stops loading keeps the whole workspace, so a
//! half-saved file never takes a reader down; each reload says what it kept and why.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::error::FileError;
use super::load::Workspace;

/// How long the files must be quiet before a reload: an editor's save is several events.
const QUIET: Duration = Duration::from_millis(200);

/// The longest a reload waits for quiet while files keep changing.
const MOST_WAIT: Duration = Duration::from_secs(1);

/// One published state of a live workspace.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// The workspace every reader uses now.
    pub workspace: Arc<Workspace>,
    /// 0 for the first load, then one more for each reload published.
    pub number: u64,
    /// What went wrong in the load that published this, each naming the file and place and
    /// what was kept instead; empty when everything loaded.
    pub notices: Arc<[String]>,
}

/// What the loader thread is asked to do.
enum Request {
    /// Files changed on disk.
    Changed,
    /// Reload now (the window's Reload).
    Reload,
    /// Publish this load, made by a reader that needed it at once (the window after a save).
    Publish(Arc<Workspace>, Vec<String>),
    /// Call this after every publish.
    Wake(Box<dyn Fn() + Send>),
    Stop,
}

/// The owner of a workspace that follows its files. Dropping it stops the watching; feeds
/// keep the last workspace published.
pub struct LiveWorkspace {
    root: PathBuf,
    requests: mpsc::Sender<Request>,
    snapshots: watch::Receiver<Snapshot>,
    watcher: Option<notify::RecommendedWatcher>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LiveWorkspace {
    /// Loads the workspace in `root` and starts following it; fails when `workspace.json`
    /// cannot be used.
    pub fn open(root: &Path) -> Result<Self, FileError> {
        Workspace::load(root).map(Self::start)
    }

    /// Follows the files of `ws`, which becomes the first snapshot. When the folder cannot be
    /// watched, the first snapshot says so and only [`LiveWorkspace::reload`] reloads.
    pub fn start(ws: Workspace) -> Self {
        let root = ws.root.clone();
        let (requests, incoming) = mpsc::channel();
        let (watcher, notices) = match watch_folder(&root, requests.clone()) {
            Ok(watcher) => (Some(watcher), Vec::new()),
            Err(e) => (
                None,
                vec![format!(
                    "cannot watch {} for changes ({e}); reload by hand after editing files",
                    root.display()
                )],
            ),
        };
        let first = Snapshot {
            workspace: Arc::new(ws),
            number: 0,
            notices: notices.into(),
        };
        let (publish, snapshots) = watch::channel(first);
        let thread = std::thread::Builder::new()
            .name("thingbench-workspace".into())
            .spawn(move || follow(&publish, &incoming));
        let thread = match thread {
            Ok(thread) => Some(thread),
            Err(e) => {
                let mut stuck = snapshots.borrow().clone();
                stuck.notices = vec![format!(
                    "cannot start the thread that reloads {} ({e}); restart to see changed files",
                    root.display()
                )]
                .into();
                let (publish, snapshots) = watch::channel(stuck);
                drop(publish);
                return Self {
                    root,
                    requests,
                    snapshots,
                    watcher: None,
                    thread: None,
                };
            }
        };
        Self {
            root,
            requests,
            snapshots,
            watcher,
            thread,
        }
    }

    /// The folder followed.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A new reader; it sees changes published from now on.
    pub fn subscribe(&self) -> WorkspaceFeed {
        let mut snapshots = self.snapshots.clone();
        snapshots.borrow_and_update();
        WorkspaceFeed {
            snapshots,
            requests: Some(self.requests.clone()),
        }
    }

    /// A new reader, with `wake` called (on the loader's thread) after every publish, for as
    /// long as this live workspace lives: the window passes one that requests a repaint.
    pub fn subscribe_waking(&self, wake: impl Fn() + Send + 'static) -> WorkspaceFeed {
        let _ = self.requests.send(Request::Wake(Box::new(wake)));
        self.subscribe()
    }

    /// The newest snapshot.
    pub fn snapshot(&self) -> Snapshot {
        self.snapshots.borrow().clone()
    }

    /// Asks for a reload now, whatever the watcher saw; the result arrives as a snapshot.
    pub fn reload(&self) {
        let _ = self.requests.send(Request::Reload);
    }

    /// Publishes `workspace`, loaded (and merged with [`merge_reload`]) by a reader that could
    /// not wait, so that every other reader takes it up without loading the files again.
    pub fn publish(&self, workspace: Arc<Workspace>, notices: Vec<String>) {
        let _ = self.requests.send(Request::Publish(workspace, notices));
    }
}

impl Drop for LiveWorkspace {
    fn drop(&mut self) {
        // No more file events once the watcher is gone; then the loader can be stopped.
        self.watcher.take();
        let _ = self.requests.send(Request::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A reader of a live workspace: the workspace in use now, and whether a newer one came.
#[derive(Clone)]
pub struct WorkspaceFeed {
    snapshots: watch::Receiver<Snapshot>,
    /// `None` for a feed of a fixed workspace.
    requests: Option<mpsc::Sender<Request>>,
}

impl std::fmt::Debug for WorkspaceFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkspaceFeed")
            .field("snapshot", &self.snapshots.borrow().number)
            .finish_non_exhaustive()
    }
}

impl WorkspaceFeed {
    /// A feed that never changes, for a run that does not follow its files.
    pub fn fixed(workspace: Arc<Workspace>) -> Self {
        let (publish, snapshots) = watch::channel(Snapshot {
            workspace,
            number: 0,
            notices: Arc::new([]),
        });
        drop(publish);
        Self {
            snapshots,
            requests: None,
        }
    }

    /// The snapshot published since this feed last looked, if any; one atomic load when none.
    pub fn newest(&mut self) -> Option<Snapshot> {
        // An error means the live workspace is gone: nothing will change any more.
        if self.snapshots.has_changed().unwrap_or(false) {
            Some(self.snapshots.borrow_and_update().clone())
        } else {
            None
        }
    }

    /// The newest snapshot, seen or not.
    pub fn snapshot(&self) -> Snapshot {
        self.snapshots.borrow().clone()
    }

    /// The workspace in use now.
    pub fn workspace(&self) -> Arc<Workspace> {
        Arc::clone(&self.snapshots.borrow().workspace)
    }

    /// Asks the live workspace for a reload now; does nothing on a fixed feed.
    pub fn reload(&self) {
        if let Some(requests) = &self.requests {
            let _ = requests.send(Request::Reload);
        }
    }
}

/// Watches `root` recursively; every event but a read is a change.
fn watch_folder(
    root: &Path,
    requests: mpsc::Sender<Request>,
) -> Result<notify::RecommendedWatcher, notify::Error> {
    use notify::Watcher as _;
    let folder = root.to_owned();
    let mut watcher =
        notify::recommended_watcher(move |event: notify::Result<notify::Event>| match event {
            Ok(event) if event.kind.is_access() || only_hidden(&folder, &event.paths) => {}
            // A watcher error may have lost events: reloading is the safe answer.
            _ => {
                let _ = requests.send(Request::Changed);
            }
        })?;
    watcher.watch(root, notify::RecursiveMode::Recursive)?;
    Ok(watcher)
}

/// True when every path names a hidden file, such as the temporary of an atomic save (its
/// rename to the real name names the real file too), or a file in a hidden folder of `root`
/// (`.thingbench/`, where the local CA and thingbench's own state live).
fn only_hidden(root: &Path, paths: &[PathBuf]) -> bool {
    let hidden = |name: &std::ffi::OsStr| name.to_string_lossy().starts_with('.');
    !paths.is_empty()
        && paths.iter().all(|p| match p.strip_prefix(root) {
            Ok(inside) => inside.components().any(|c| hidden(c.as_os_str())),
            Err(_) => p.file_name().is_some_and(hidden),
        })
}

/// The loader's loop: waits for a change or a request, reloads, publishes, wakes.
fn follow(publish: &watch::Sender<Snapshot>, incoming: &mpsc::Receiver<Request>) {
    let mut wakes: Vec<Box<dyn Fn() + Send>> = Vec::new();
    loop {
        let Ok(request) = incoming.recv() else { return };
        let before = publish.borrow().clone();
        let (workspace, notices) = match request {
            Request::Stop => return,
            Request::Wake(wake) => {
                wakes.push(wake);
                continue;
            }
            Request::Publish(workspace, notices) => (workspace, notices),
            Request::Reload => load(&before),
            Request::Changed => {
                let give_up = Instant::now() + MOST_WAIT;
                loop {
                    let wait = QUIET.min(give_up.saturating_duration_since(Instant::now()));
                    match incoming.recv_timeout(wait) {
                        Ok(Request::Changed) if Instant::now() < give_up => {}
                        Ok(Request::Wake(wake)) => wakes.push(wake),
                        Ok(Request::Stop) | Err(mpsc::RecvTimeoutError::Disconnected) => return,
                        // A load made meanwhile may predate the last change: load again.
                        Ok(Request::Changed | Request::Reload | Request::Publish(..))
                        | Err(mpsc::RecvTimeoutError::Timeout) => break,
                    }
                }
                load(&before)
            }
        };
        publish.send_replace(Snapshot {
            workspace,
            number: before.number + 1,
            notices: notices.into(),
        });
        for wake in &wakes {
            wake();
        }
    }
}

/// Loads the files of `before`'s workspace again, merged with what it had.
fn load(before: &Snapshot) -> (Arc<Workspace>, Vec<String>) {
    let ws = &before.workspace;
    merge_reload(ws, Workspace::load_env(&ws.root, ws.env.as_deref()))
}

/// What a reload publishes: `fresh` as loaded, except that a model file that no longer loads
/// keeps the version `before` had of it, and a `workspace.json` that no longer loads keeps all
/// of `before`. The notices say what failed and what was kept.
pub fn merge_reload(
    before: &Arc<Workspace>,
    fresh: Result<Workspace, FileError>,
) -> (Arc<Workspace>, Vec<String>) {
    let mut fresh = match fresh {
        Ok(fresh) => fresh,
        Err(e) => {
            let notice = format!("{e}; keeping the whole workspace loaded before");
            return (Arc::clone(before), vec![notice]);
        }
    };
    let mut notices = Vec::new();
    let mut kept = Vec::new();
    for file in &mut fresh.models {
        let Err(error) = &file.model else { continue };
        let earlier = before
            .models
            .iter()
            .find(|old| old.path == file.path)
            .and_then(|old| old.model.as_ref().ok());
        match earlier {
            Some(model) => {
                let notice = format!("{error}; keeping the version loaded before");
                kept.push(notice.clone());
                notices.push(notice);
                let broken = std::mem::replace(&mut file.model, Ok(Arc::clone(model)));
                file.reload_error = broken.err();
            }
            None => notices.push(error.to_string()),
        }
    }
    if !kept.is_empty() {
        // The kept models count as loaded for the workspace's own checks.
        fresh.problems = fresh.find_problems();
        fresh.problems.extend(kept);
    }
    (Arc::new(fresh), notices)
}

#[cfg(test)]
mod tests {

    #[test]
    fn files_of_hidden_folders_in_the_workspace_are_not_changes() {
        let root = Path::new("/home/qa/.local/share/thingbench/sample");
        let hidden = |paths: &[&str]| {
            let paths: Vec<PathBuf> = paths.iter().map(PathBuf::from).collect();
            only_hidden(root, &paths)
        };
        assert!(hidden(&[
            "/home/qa/.local/share/thingbench/sample/.thingbench/tls/server.pem"
        ]));
        assert!(hidden(&[
            "/home/qa/.local/share/thingbench/sample/models/.inv.json.tmp-1-0"
        ]));
        // A hidden folder above the workspace does not hide it.
        assert!(!hidden(&[
            "/home/qa/.local/share/thingbench/sample/models/inv.json"
        ]));
        assert!(!hidden(&[]));
    }

    use super::*;

    const WORKSPACE: &str = r#"{
  "products": {"invPk": "inv"},
  "gateway": {"productKey": "invPk", "deviceKey": "gw01", "secret": "s"},
  "devices": [{"productKey": "invPk", "deviceKey": "inv01", "secret": "s1"}]
}"#;

    fn model(data_type: &str) -> String {
        format!(
            r#"{{"modelId": "inv", "measurepoints": {{"Power": {{"identifier": "Power", "dataType": "{data_type}", "hasQuality": false}}}}}}"#
        )
    }

    fn workspace_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("workspace.json"), WORKSPACE).expect("write");
        std::fs::create_dir_all(dir.path().join("models")).expect("mkdir");
        std::fs::write(dir.path().join("models/inv.json"), model("FLOAT")).expect("write");
        dir
    }

    fn power_type(ws: &Workspace) -> String {
        let models = ws.models_by_id();
        let model = models.get("inv").expect("inv loaded");
        let point = model.points.iter().find(|p| p.identifier == "Power");
        point.expect("Power").data_type.name().to_owned()
    }

    /// Polls `feed` until it publishes a snapshot that `wanted` accepts, for at most 5 s (the
    /// watcher may see one write as two changes).
    fn wait_for(feed: &mut WorkspaceFeed, wanted: impl Fn(&Snapshot) -> bool) -> Snapshot {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(snapshot) = feed.newest()
                && wanted(&snapshot)
            {
                return snapshot;
            }
            assert!(Instant::now() < deadline, "no such snapshot within 5 s");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn a_changed_model_replaces_the_old_one() {
        let dir = workspace_dir();
        let before = Arc::new(Workspace::load(dir.path()).expect("loads"));
        std::fs::write(dir.path().join("models/inv.json"), model("INT")).expect("write");
        let (after, notices) = merge_reload(&before, Workspace::load(dir.path()));
        assert!(notices.is_empty(), "{notices:?}");
        assert_eq!(power_type(&after), "INT");
        assert!(after.models[0].reload_error.is_none());
    }

    #[test]
    fn a_model_that_no_longer_loads_keeps_the_version_before_and_says_where() {
        let dir = workspace_dir();
        let before = Arc::new(Workspace::load(dir.path()).expect("loads"));
        let file = dir.path().join("models/inv.json");
        std::fs::write(&file, model("NOPE")).expect("write");
        let (after, notices) = merge_reload(&before, Workspace::load(dir.path()));
        assert_eq!(power_type(&after), "FLOAT");
        assert_eq!(notices.len(), 1, "{notices:?}");
        let notice = &notices[0];
        assert!(
            notice.contains("models/inv.json")
                && notice.contains("at measurepoints.Power.dataType")
                && notice.ends_with("keeping the version loaded before"),
            "{notice}"
        );
        assert_eq!(after.problems, notices, "the window lists it too");
        let error = after.models[0].reload_error.as_ref().expect("error kept");
        assert_eq!(error.file, file);

        // Broken again: the version kept is kept again; fixed: the new one is used.
        let (again, notices) = merge_reload(&after, Workspace::load(dir.path()));
        assert_eq!(power_type(&again), "FLOAT");
        assert_eq!(notices.len(), 1);
        std::fs::write(&file, model("INT")).expect("write");
        let (fixed, notices) = merge_reload(&again, Workspace::load(dir.path()));
        assert!(notices.is_empty(), "{notices:?}");
        assert_eq!(power_type(&fixed), "INT");
        assert!(fixed.problems.is_empty(), "{:?}", fixed.problems);
    }

    #[test]
    fn a_new_model_that_does_not_load_is_reported_and_nothing_is_kept_for_it() {
        let dir = workspace_dir();
        let before = Arc::new(Workspace::load(dir.path()).expect("loads"));
        std::fs::write(dir.path().join("models/new.json"), "{").expect("write");
        let (after, notices) = merge_reload(&before, Workspace::load(dir.path()));
        assert_eq!(notices.len(), 1, "{notices:?}");
        assert!(notices[0].contains("models/new.json"), "{notices:?}");
        assert!(!notices[0].contains("keeping"), "{notices:?}");
        assert!(after.models.iter().any(|m| m.model.is_err()));
        assert_eq!(power_type(&after), "FLOAT");
    }

    #[test]
    fn a_broken_workspace_file_keeps_the_whole_workspace() {
        let dir = workspace_dir();
        let before = Arc::new(Workspace::load(dir.path()).expect("loads"));
        std::fs::write(dir.path().join("workspace.json"), "{\"products\": ").expect("write");
        std::fs::write(dir.path().join("models/inv.json"), model("INT")).expect("write");
        let (after, notices) = merge_reload(&before, Workspace::load(dir.path()));
        assert!(Arc::ptr_eq(&before, &after));
        assert_eq!(notices.len(), 1, "{notices:?}");
        assert!(
            notices[0].contains("workspace.json")
                && notices[0].ends_with("keeping the whole workspace loaded before"),
            "{notices:?}"
        );
    }

    #[test]
    fn every_feed_follows_a_change_on_disk_and_a_reload_by_hand() {
        let dir = workspace_dir();
        let live = LiveWorkspace::open(dir.path()).expect("opens");
        let (woken_tx, woken) = mpsc::channel();
        let mut window = live.subscribe_waking(move || {
            let _ = woken_tx.send(());
        });
        let mut hub = live.subscribe();
        assert!(window.newest().is_none() && hub.newest().is_none());

        std::fs::write(dir.path().join("models/inv.json"), model("INT")).expect("write");
        wait_for(&mut window, |s| power_type(&s.workspace) == "INT");
        woken
            .recv_timeout(Duration::from_secs(5))
            .expect("the window was woken");
        wait_for(&mut hub, |s| power_type(&s.workspace) == "INT");

        std::fs::write(dir.path().join("models/inv.json"), model("NOPE")).expect("write");
        let kept = wait_for(&mut window, |s| !s.notices.is_empty());
        assert_eq!(power_type(&kept.workspace), "INT");
        assert!(kept.notices[0].contains("inv.json"), "{:?}", kept.notices);

        let number = live.snapshot().number;
        hub.reload();
        let reloaded = wait_for(&mut window, |s| s.number > number);
        assert_eq!(power_type(&reloaded.workspace), "INT");
        assert!(!reloaded.notices.is_empty(), "still broken on disk");

        // A load made elsewhere is handed on as it is, the very same workspace.
        let fresh = Arc::new(Workspace::load(dir.path()).expect("loads"));
        live.publish(Arc::clone(&fresh), vec!["said by the window".into()]);
        let published = wait_for(&mut hub, |s| Arc::ptr_eq(&s.workspace, &fresh));
        assert_eq!(&*published.notices, ["said by the window".to_owned()]);
    }

    #[test]
    fn a_fixed_feed_never_changes() {
        let dir = workspace_dir();
        let ws = Arc::new(Workspace::load(dir.path()).expect("loads"));
        let mut feed = WorkspaceFeed::fixed(Arc::clone(&ws));
        feed.reload();
        assert!(feed.newest().is_none());
        assert!(Arc::ptr_eq(&feed.workspace(), &ws));
    }
}
