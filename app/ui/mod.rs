//! The window: it lays out the panels and routes. The state lives in the controllers of
//! [`crate::control`]; a panel draws one and edits its fields in place, or pushes a
//! [`UiCommand`] for what involves several; [`WorkbenchApp`] applies the commands, and the
//! transport's and workers' events, once per frame in `App::logic`.

mod builder_panel;
mod check_panel;
mod connection_panel;
mod coverage_panel;
mod devices_panel;
mod dialog_results;
pub mod dialogs;
mod fixtures_panel;
mod inspect;
mod layout;
pub mod models_panel;
pub mod plot_panel;
mod qualify_panel;
mod suite_panel;
pub mod theme;
pub mod timeline_panel;
mod top_panel;
pub mod value_editor;
mod watch_panel;

pub use builder_panel::BuilderPanel;
pub use check_panel::check_ui;
pub use models_panel::ModelsPanel;

use std::path::PathBuf;
use std::sync::{Arc, mpsc};
use std::time::Instant;

use crate::control::connection::Request;
use crate::control::draft::starter_batch;
use crate::control::plot::PLOT_BUDGET;
use crate::control::traffic::fixture_of_row;
use crate::control::{
    Connection, ConnectionForm, DraftCtl, Notice, PlotCtl, QualifyCtl, Routed, SuiteCtl, Wake,
    WatchCtl, WorkspaceCtl,
};
use crate::history::{Filter, NewRow, RowKind, SCAN_BUDGET, Timeline, synthetic};
use crate::protocol::DeviceId;
use crate::runner::login_message;
use crate::workspace::{Draft, Fixture, LoginState, Workspace};

use dialogs::{DialogPurpose, FileDialogs, NativeDialogs};
use fixtures_panel::FixturesPanel;

/// What a panel asks the app to do when it involves more than the controller it draws;
/// applied once per frame.
#[derive(Debug)]
pub enum UiCommand {
    Connect,
    Disconnect,
    AskFile(DialogPurpose),
    Send,
    /// Log a sub-device in (`true`) or out.
    Login(DeviceId, bool),
    /// Log in every sub-device that has a secret.
    LogInAll,
    OpenFixture(PathBuf),
    /// Save the draft as `messages/<file>.json`.
    SaveDraft,
    RunSuite(Vec<PathBuf>),
    StopSuite,
    /// Save the request of a timeline row, with its reply's code as expect.
    SaveRow(usize),
    ReloadWorkspace,
    /// Use this environment of workspace.json (`None`: the workspace as it is) and reconnect.
    SwitchEnv(Option<String>),
    SetFilter(Filter),
    ClearTimeline,
    StartWatch,
    StopWatch,
    /// Save watched message `n` as a fixture expecting the hub's code.
    SaveWatched(usize),
    StartQualify,
    StopQualify,
}

/// The tabs of the left panel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum LeftTab {
    Connection,
    Models,
    Devices,
    Fixtures,
}

/// The tabs of the bottom panel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum BottomTab {
    Timeline,
    Watch,
    Qualify,
    Suite,
    Plot,
}

/// What survives a restart: never a secret.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
struct Persisted {
    workspace: Option<PathBuf>,
    connection: ConnectionForm,
    draft: String,
    fixture_name: String,
    expect_code: String,
    filter: Filter,
    left_tab: LeftTab,
    bottom_tab: BottomTab,
}

impl Default for Persisted {
    fn default() -> Self {
        Self {
            workspace: None,
            connection: ConnectionForm::default(),
            draft: String::new(),
            fixture_name: String::new(),
            expect_code: "200".into(),
            filter: Filter::default(),
            left_tab: LeftTab::Devices,
            bottom_tab: BottomTab::Timeline,
        }
    }
}

/// How the app starts: the workspace, a broker URL instead of the embedded one, dialogs.
pub struct Startup {
    pub workspace: Result<Workspace, String>,
    pub broker: Option<String>,
    pub dialogs: Box<dyn FileDialogs>,
    /// When the process started, to report the time to the first frame; `None` stays quiet.
    pub timing: Option<Instant>,
    /// Synthetic rows to fill the timeline with, for measuring.
    pub demo_rows: usize,
}

impl Startup {
    /// The window on `workspace`, with the desktop's file dialogs.
    pub fn new(workspace: Result<Workspace, String>, broker: Option<String>) -> Self {
        Self {
            workspace,
            broker,
            dialogs: Box::new(NativeDialogs),
            timing: None,
            demo_rows: 0,
        }
    }
}

/// The panels' own widget state.
struct Panels {
    left_tab: LeftTab,
    bottom_tab: BottomTab,
    models: ModelsPanel,
    builder: BuilderPanel,
    fixtures: FixturesPanel,
    timeline: timeline_panel::TimelineView,
}

/// The thingbench window: the controllers, the panels that draw them, and the routing.
pub struct WorkbenchApp {
    wake: Wake,
    workspace: WorkspaceCtl,
    connection: Connection,
    draft: DraftCtl,
    suite: SuiteCtl,
    watch: Option<WatchCtl>,
    qualify: QualifyCtl,
    plot: PlotCtl,
    timeline: Timeline,
    panels: Panels,
    dialogs: Box<dyn FileDialogs>,
    dialog_tx: mpsc::Sender<(DialogPurpose, PathBuf)>,
    dialog_rx: mpsc::Receiver<(DialogPurpose, PathBuf)>,
    commands: Vec<UiCommand>,
    /// The last thing that happened, in words, for the status line.
    status: Option<Notice>,
    /// Process start and frames drawn, when reporting timing.
    timing: Option<(Instant, u32)>,
}

const STORAGE_KEY: &str = "thingbench";

impl WorkbenchApp {
    /// The window; it connects at once, to `startup.broker` or to the embedded broker and hub.
    pub fn new(
        startup: Startup,
        ctx: &egui::Context,
        storage: Option<&dyn eframe::Storage>,
    ) -> Self {
        let persisted: Persisted = storage
            .and_then(|s| eframe::get_value(s, STORAGE_KEY))
            .unwrap_or_default();
        let Startup {
            workspace,
            broker,
            dialogs,
            timing,
            demo_rows,
        } = startup;
        // Without a workspace here, the last one used.
        let workspace = match (workspace, &persisted.workspace) {
            (Err(e), Some(last)) => Workspace::load(last).map_err(|e2| format!("{e}; {e2}")),
            (ws, _) => ws,
        };
        let mut form = persisted.connection.clone();
        if let Ok(ws) = &workspace
            && ws.env.is_some()
        {
            form.follow_workspace(ws);
        }
        if let Some(url) = broker {
            form.embedded = false;
            form.broker = url;
        }
        let wake: Wake = {
            let ctx = ctx.clone();
            Arc::new(move || ctx.request_repaint())
        };
        let (workspace, notices) = WorkspaceCtl::live(workspace, &wake);
        let draft = if persisted.draft.is_empty() {
            Draft::from_batch(starter_batch(workspace.get().ok(), workspace.registry()))
        } else {
            Draft::from_text(persisted.draft.clone())
        };
        let mut timeline = if demo_rows > 0 {
            synthetic(demo_rows)
        } else {
            Timeline::default()
        };
        timeline.set_filter(persisted.filter);
        let (dialog_tx, dialog_rx) = mpsc::channel();
        let mut app = Self {
            wake,
            workspace,
            connection: Connection::new(form),
            draft: DraftCtl::new(draft, persisted.fixture_name, persisted.expect_code),
            suite: SuiteCtl::default(),
            watch: None,
            qualify: QualifyCtl::default(),
            plot: PlotCtl::default(),
            timeline,
            panels: Panels {
                left_tab: persisted.left_tab,
                bottom_tab: persisted.bottom_tab,
                models: ModelsPanel::default(),
                builder: BuilderPanel::default(),
                fixtures: FixturesPanel::default(),
                timeline: timeline_panel::TimelineView::default(),
            },
            dialogs,
            dialog_tx,
            dialog_rx,
            commands: Vec::new(),
            status: notices.into_iter().next(),
            timing: timing.map(|started| (started, 0)),
        };
        if let Ok(ws) = app.workspace.get() {
            app.qualify.load_plans(ws);
        }
        app.connect();
        app
    }

    fn say(&mut self, notice: Notice) {
        self.status = Some(notice);
    }

    fn connect(&mut self) {
        let routed = self
            .connection
            .connect(&self.workspace, &mut self.timeline, &self.wake);
        self.route(routed);
    }

    fn disconnect(&mut self) {
        let routed = self.connection.disconnect(&mut self.timeline);
        self.route(routed);
    }

    fn request(&mut self, request: Request) -> bool {
        let sent = self
            .connection
            .request(request, self.workspace.registry(), &mut self.timeline);
        match sent {
            Ok(()) => true,
            Err(notice) => {
                self.say(notice);
                false
            }
        }
    }

    fn send_draft(&mut self) {
        let Ok(ws) = self.workspace.get() else { return };
        let Some((message, device)) = self.draft.to_send(ws, self.workspace.registry()) else {
            return;
        };
        let sent = self.request(Request {
            topic: message.topic,
            payload: message.payload,
            msg_id: message.id,
            purpose: crate::control::Purpose::Draft,
            device: Some(device),
        });
        if sent {
            self.draft.send_state = Some(crate::control::SendState::Waiting);
        }
    }

    fn login(&mut self, device: DeviceId, login: bool) {
        let Ok(ws) = self.workspace.get() else { return };
        let registry = self.workspace.registry();
        let has_secret = registry
            .devices
            .get(&device)
            .is_some_and(|d| d.secret.is_some());
        if login && !has_secret {
            self.say(Notice::error(format!(
                "{device} has no usable secret: set it in workspace.json (or its environment variable)"
            )));
            return;
        }
        let message = login_message(&ws.gateway(), registry, &device, login, self.draft.ids());
        self.request(Request {
            topic: message.topic,
            payload: message.payload,
            msg_id: message.id,
            purpose: crate::control::Purpose::Login(device.clone(), login),
            device: Some(device),
        });
    }

    /// Logs in every sub-device that has a secret, as `thingbench run` does before a suite.
    fn log_in_all(&mut self) {
        for device in self.workspace.loginable() {
            self.login(device, true);
        }
    }

    fn save_fixture(&mut self, fixture: &Fixture, stem: &str) {
        let saved = self.workspace.save_fixture(fixture, stem);
        self.draft.registry_changed();
        match saved {
            Ok(path) => self.say(Notice::info(format!("saved {}", path.display()))),
            Err(notice) => self.say(notice),
        }
    }

    fn save_draft(&mut self) {
        match self
            .draft
            .fixture_to_save(self.workspace.registry().max_payload)
        {
            Ok(fixture) => {
                let stem = fixture.name.clone();
                self.save_fixture(&fixture, &stem);
            }
            Err(notice) => self.say(notice),
        }
    }

    fn save_row(&mut self, index: usize) {
        let Ok(ws) = self.workspace.get() else { return };
        match fixture_of_row(&self.timeline, index, &ws.gateway()) {
            Some((fixture, stem)) => self.save_fixture(&fixture, &stem),
            None => self.say(Notice::error("this row has no request to save")),
        }
    }

    fn start_watch(&mut self) {
        let Ok(ws) = self.workspace.get() else { return };
        let watcher = crate::runner::watch::Watcher::new(ws.registry(&LoginState::All));
        let started = self
            .connection
            .sibling_config(ws, "-watch")
            .and_then(|config| WatchCtl::start(config, watcher, &self.wake));
        match started {
            Ok(watch) => {
                self.watch = Some(watch);
                self.panels.bottom_tab = BottomTab::Watch;
            }
            Err(e) => self.say(Notice::error(format!("cannot watch: {e}"))),
        }
    }

    fn start_qualify(&mut self) {
        if let Ok(ws) = self.workspace.get() {
            // Plans edited since are read again.
            self.qualify.load_plans(ws);
        }
        let Some(feed) = self.workspace.feed() else {
            self.say(Notice::error("cannot qualify: no workspace is open"));
            return;
        };
        match self.qualify.start(
            feed,
            None,
            crate::transport::TlsOptions::default(),
            &self.wake,
        ) {
            Ok(()) => self.panels.bottom_tab = BottomTab::Qualify,
            Err(notice) => self.say(notice),
        }
    }

    fn save_watched(&mut self, index: usize) {
        let (Ok(ws), Some(watch)) = (self.workspace.get(), &self.watch) else {
            return;
        };
        match watch.fixture_of(index, &self.timeline, &ws.gateway()) {
            Ok((fixture, stem)) => self.save_fixture(&fixture, &stem),
            Err(notice) => self.say(notice),
        }
    }

    fn run_suite(&mut self, paths: Vec<PathBuf>) {
        let (Ok(ws), Some(feed)) = (self.workspace.get(), self.workspace.feed()) else {
            return;
        };
        match self.connection.sibling_config(ws, "-suite") {
            Ok(config) => {
                self.suite
                    .run(paths, config, feed, &mut self.timeline, &self.wake);
                self.panels.bottom_tab = BottomTab::Suite;
            }
            Err(e) => self.say(Notice::error(format!("{e}; then run the suite"))),
        }
    }

    fn reload_workspace(&mut self) {
        match self.workspace.reload() {
            Ok(()) => self.draft.registry_changed(),
            Err(notice) => self.say(notice),
        }
    }

    /// Switches to environment `env` and reconnects: to its broker, as its gateway.
    fn switch_env(&mut self, env: Option<String>) {
        if let Err(notice) = self.workspace.switch_env(env.as_deref()) {
            self.say(notice);
            return;
        }
        if let Ok(ws) = self.workspace.get() {
            self.connection.form.follow_workspace(ws);
        }
        self.draft.registry_changed();
        let name = env.as_deref().unwrap_or("none (the workspace as it is)");
        self.say(Notice::info(format!("environment {name}")));
        self.connect();
    }

    fn open_fixture(&mut self, path: &std::path::Path) {
        match crate::runner::load_fixture(path) {
            Ok(fixture) => {
                self.draft.open_fixture(&fixture);
                self.say(Notice::info(format!("opened {}", path.display())));
            }
            Err(e) => self.say(Notice::error(e)),
        }
    }

    fn apply_command(&mut self, command: UiCommand) {
        match command {
            UiCommand::Connect => self.connect(),
            UiCommand::Disconnect => self.disconnect(),
            UiCommand::AskFile(purpose) => self.dialogs.ask(purpose, self.dialog_tx.clone()),
            UiCommand::Send => self.send_draft(),
            UiCommand::Login(device, login) => self.login(device, login),
            UiCommand::LogInAll => self.log_in_all(),
            UiCommand::OpenFixture(path) => self.open_fixture(&path),
            UiCommand::SaveDraft => self.save_draft(),
            UiCommand::RunSuite(paths) => self.run_suite(paths),
            UiCommand::StopSuite => self.suite.stop(),
            UiCommand::SaveRow(index) => self.save_row(index),
            UiCommand::ReloadWorkspace => self.reload_workspace(),
            UiCommand::SwitchEnv(env) => self.switch_env(env),
            UiCommand::SetFilter(filter) => self.timeline.change_filter(filter),
            UiCommand::StartWatch => self.start_watch(),
            UiCommand::StopWatch => {
                if let Some(watch) = &mut self.watch {
                    watch.stop();
                }
            }
            UiCommand::SaveWatched(index) => self.save_watched(index),
            UiCommand::StartQualify => self.start_qualify(),
            UiCommand::StopQualify => self.qualify.stop(&mut self.timeline),
            UiCommand::ClearTimeline => {
                self.timeline.clear();
                self.panels.timeline.selected = None;
            }
        }
    }

    /// Applies what the connection says the rest of the window must hear.
    fn route(&mut self, routed: impl IntoIterator<Item = Routed>) {
        for routed in routed {
            match routed {
                Routed::Connected => self.log_in_all(),
                Routed::Draft(state) => self.draft.send_state = Some(state),
                Routed::Login {
                    device,
                    login,
                    code,
                    message,
                } => {
                    if code.is_success() {
                        self.workspace.set_login(&device, login);
                        self.draft.registry_changed();
                        let verb = if login { "logged in" } else { "logged out" };
                        self.say(Notice::info(format!("{device} {verb}")));
                    } else {
                        self.say(Notice::error(format!(
                            "{device}: {code} {} {}",
                            code.meaning(),
                            message.unwrap_or_default()
                        )));
                    }
                }
                Routed::Notice(notice) => self.say(notice),
                Routed::Unpaired {
                    topic,
                    payload,
                    why,
                } => {
                    if !self.suite.claims_reply(&topic, &payload) {
                        self.timeline.push(
                            crate::protocol::EpochMs::now(),
                            RowKind::Unpaired,
                            NewRow {
                                topic: &topic,
                                payload: &payload,
                                note: &why,
                                ..NewRow::default()
                            },
                        );
                    }
                }
            }
        }
    }

    /// Applies commands and background events; called once per frame.
    fn apply_all(&mut self) {
        for command in std::mem::take(&mut self.commands) {
            self.apply_command(command);
        }
        if let Ok(ws) = self.workspace.get() {
            self.connection.poll(ws, &self.wake);
        }
        if let Some(news) = self.connection.broker_news(&mut self.timeline).pop() {
            self.say(news);
        }
        // The window's session hears the suite's replies too (both speak as the gateway). A
        // suite request is announced before it is published, so every reply among the session
        // events taken here belongs to a request already among the worker events taken after
        // them: the worker's are applied first, and the reply is known as the suite's.
        let events = self.connection.take_events();
        for event in self.suite.take_events() {
            let registry = self.workspace.registry_mut();
            if self.suite.apply(event, registry, &mut self.timeline) {
                self.draft.registry_changed();
            }
        }
        for event in events {
            let routed = self.connection.apply(event, &mut self.timeline);
            self.route(routed);
        }
        if let Some(watch) = &mut self.watch {
            let mut notices = Vec::new();
            for event in watch.take_events() {
                notices.extend(watch.apply(event, &mut self.timeline));
            }
            if let Some(notice) = notices.pop() {
                self.say(notice);
            }
        }
        if let Some(notice) = self.qualify.poll(&mut self.timeline) {
            self.say(notice);
        }
        while let Ok((purpose, path)) = self.dialog_rx.try_recv() {
            self.apply_dialog(purpose, path);
        }
        match self.panels.timeline.finished_export() {
            Some(Ok(exported)) => self.say(Notice::info(exported.to_string())),
            Some(Err(e)) => self.say(Notice::error(e.to_string())),
            None => {}
        }
        if let Some(notices) = self.workspace.poll() {
            self.draft.registry_changed();
            if let Ok(ws) = self.workspace.get() {
                self.qualify.load_plans(ws);
            }
            if let Some(notice) = notices.into_iter().next() {
                self.say(notice);
            }
        }
        if let Ok(ws) = self.workspace.get() {
            self.draft.refresh(ws, self.workspace.registry());
        }
    }

    /// Opens the workspace at `root` when the window started without one, and connects.
    fn open_workspace(&mut self, root: &std::path::Path) {
        match self.workspace.open(root, &self.wake) {
            Ok(notices) => {
                let ws = self.workspace.get().ok();
                let batch = starter_batch(ws, self.workspace.registry());
                self.draft.replace(Draft::from_batch(batch));
                self.draft.registry_changed();
                if let Some(notice) = notices.into_iter().next() {
                    self.say(notice);
                }
                self.connect();
            }
            Err(notice) => self.say(notice),
        }
    }

    fn persisted(&self) -> Persisted {
        Persisted {
            workspace: self.workspace.root().map(std::path::Path::to_path_buf),
            connection: self.connection.form.clone(),
            draft: self.draft.draft().text().to_owned(),
            fixture_name: self.draft.fixture_name.clone(),
            expect_code: self.draft.expect_code.clone(),
            filter: self.timeline.filter().clone(),
            left_tab: self.panels.left_tab,
            bottom_tab: self.panels.bottom_tab,
        }
    }
}

/// The process's resident memory, from /proc (Linux).
fn resident_memory() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    Some(line.trim_start_matches("VmRSS:").trim().to_owned())
}

impl eframe::App for WorkbenchApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.apply_all();
        // A new filter's rows are found a slice at a time, so typing in the filter never
        // stalls the window; the rows found so far are drawn meanwhile.
        if !self.timeline.scan_for(Some(SCAN_BUDGET)) {
            ctx.request_repaint();
        }
        // The plot reads new rows the same way, outside the panel.
        if !self.plot.update(&self.timeline, PLOT_BUDGET) {
            ctx.request_repaint();
        }
        // An export's result reaches the status line even while another tab is shown.
        if self.panels.timeline.export.is_some() {
            ctx.request_repaint_after(std::time::Duration::from_millis(100));
        }
        // A running plan's clock, phase and verdicts move on between its events.
        if self.qualify.running() {
            ctx.request_repaint_after(std::time::Duration::from_millis(250));
        }
        if let Some((started, frames)) = &mut self.timing {
            *frames += 1;
            // The first frame, then one a few seconds in, once the timeline has been drawn.
            if *frames == 2 || *frames == 200 {
                eprintln!(
                    "thingbench: frame {} after {} ms, {} rows in {:.1} MB, resident {}",
                    *frames - 1,
                    started.elapsed().as_millis(),
                    self.timeline.len(),
                    self.timeline.memory() as f64 / 1e6,
                    resident_memory().unwrap_or_else(|| "unknown".into())
                );
            }
            ctx.request_repaint();
        }
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, STORAGE_KEY, &self.persisted());
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let mut commands = Vec::new();
        self.layout_ui(ui, &mut commands);
        if !commands.is_empty() {
            ui.ctx().request_repaint();
        }
        self.commands.extend(commands);
    }
}
