//! The window's state and its routing, without egui: the controllers, the commands the panels
//! push, and the events of the window's one gateway session, applied once per frame. The rules
//! that cross controllers live here (a suite's login changes what the draft predicts, watch and
//! the suite are fed by the window's session) and are tested without a window.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::history::{ExportJob, NewRow, RowKind, Timeline};
use crate::protocol::{DeviceId, EpochMs};
use crate::runner::suite::Effect;
use crate::runner::{load_fixture, load_fixtures, login_message};
use crate::workspace::{
    Draft, DraftMode, Fixture, LoginState, OpenError, SampleCopy, SamplePlaces, Workspace,
};

use super::command::{BottomTab, Command, DialogPurpose, LeftTab};
use super::connection::{Purpose, Request, Routed};
use super::draft::starter_batch;
use super::traffic::fixture_of_row;
use super::{
    Connection, ConnectionForm, DraftCtl, Notice, PlotCtl, QualifyCtl, SendState, SuiteCtl, Wake,
    WatchCtl, WorkspaceCtl,
};

/// Everything the window shows and changes, and the rules between its parts.
pub struct Workbench {
    wake: Wake,
    pub workspace: WorkspaceCtl,
    pub connection: Connection,
    pub draft: DraftCtl,
    pub suite: SuiteCtl,
    pub watch: Option<WatchCtl>,
    pub qualify: QualifyCtl,
    pub plot: PlotCtl,
    pub timeline: Timeline,
    /// The tab shown on the left, and at the bottom.
    pub left_tab: LeftTab,
    pub bottom_tab: BottomTab,
    /// The timeline's export under way, if any.
    pub timeline_export: Option<ExportJob>,
    /// The installed sample and where its copy goes, offered when no workspace is open.
    pub sample: Option<SamplePlaces>,
    /// The last thing that happened, in words, for the status line.
    status: Option<Notice>,
}

impl Workbench {
    /// The workbench on `workspace` (or why there is none), with the connection form and draft
    /// as the user last left them; it does not connect yet ([`Workbench::connect`]).
    pub fn new(
        workspace: Result<Workspace, OpenError>,
        form: ConnectionForm,
        draft: Option<Draft>,
        wake: Wake,
    ) -> Self {
        let (workspace, notices) = WorkspaceCtl::live(workspace, &wake);
        let draft = draft.unwrap_or_else(|| {
            Draft::from_batch(starter_batch(workspace.get().ok(), workspace.registry()))
        });
        let mut bench = Self {
            wake,
            workspace,
            connection: Connection::new(form),
            draft: DraftCtl::new(draft, String::new(), "200".into()),
            suite: SuiteCtl::default(),
            watch: None,
            qualify: QualifyCtl::default(),
            plot: PlotCtl::default(),
            timeline: Timeline::default(),
            left_tab: LeftTab::Devices,
            bottom_tab: BottomTab::Timeline,
            timeline_export: None,
            sample: None,
            status: notices.into_iter().next(),
        };
        if let Ok(ws) = bench.workspace.get() {
            bench.qualify.load_plans(ws);
        }
        bench
    }

    /// Shows `notice` in the status line.
    pub fn say(&mut self, notice: Notice) {
        self.status = Some(notice);
    }

    /// The last thing that happened, in words, and whether it was an error.
    pub fn status(&self) -> Option<&Notice> {
        self.status.as_ref()
    }

    /// Connects as the connection form says (again, when connected).
    pub fn connect(&mut self) {
        let routed = self
            .connection
            .connect(&self.workspace, &mut self.timeline, &self.wake);
        self.route(routed);
        if self.suite.running()
            && let Some(suite) = self.suite.runner()
        {
            // The run waits for the new session as for an outage.
            let effects = suite.disconnected("connecting again", Instant::now());
            self.drive_suite(effects);
        }
    }

    fn disconnect(&mut self) {
        let routed = self.connection.disconnect(&mut self.timeline);
        self.route(routed);
    }

    /// Applies one command of a panel.
    pub fn apply(&mut self, command: Command) {
        match command {
            Command::Connect => self.connect(),
            Command::Disconnect => self.disconnect(),
            // The window opens dialogs; their answers come back through `chosen`.
            Command::AskFile(_) => {}
            Command::Send => self.send_draft(),
            Command::Login(device, login) => self.login(device, login),
            Command::LogInAll => self.log_in_all(),
            Command::OpenFixture(path) => self.open_fixture(&path),
            Command::SaveDraft => self.save_draft(),
            Command::RunSuite(paths) => self.run_suite(paths),
            Command::StopSuite => {
                let effects = self.suite.stop(Instant::now());
                self.drive_suite(effects);
            }
            Command::SaveRow(index) => self.save_row(index),
            Command::ReloadWorkspace => self.reload_workspace(),
            Command::SwitchEnv(env) => self.switch_env(env),
            Command::SetFilter(filter) => self.timeline.change_filter(filter),
            Command::StartWatch => self.start_watch(),
            Command::StopWatch => {
                if let Some(watch) = &mut self.watch {
                    watch.stop(&mut self.connection);
                }
            }
            Command::SaveWatched(index) => self.save_watched(index),
            Command::StartQualify => self.start_qualify(),
            Command::StopQualify => self.qualify.stop(&mut self.timeline),
            Command::ClearTimeline => self.timeline.clear(),
            Command::TrySample => self.try_sample(),
        }
    }

    /// Applies the background's news: the session's events, the embedded broker's start, the
    /// hub's news, qualification, reloads, an export's end. Called once per frame.
    pub fn poll(&mut self) {
        if let Ok(ws) = self.workspace.get() {
            self.connection.poll(ws, &self.wake);
        }
        if let Some(news) = self.connection.broker_news(&mut self.timeline).pop() {
            self.say(news);
        }
        for event in self.connection.take_events() {
            let routed = self.connection.apply(event, &mut self.timeline);
            self.route(routed);
        }
        if let Some(suite) = self.suite.runner()
            && suite.deadline().is_some_and(|at| Instant::now() >= at)
        {
            let effects = suite.tick(Instant::now());
            self.drive_suite(effects);
        }
        if let Some(notice) = self.qualify.poll(&mut self.timeline) {
            self.say(notice);
        }
        if let Some(job) = &mut self.timeline_export
            && let Some(result) = job.poll()
        {
            self.timeline_export = None;
            match result {
                Ok(exported) => self.say(Notice::info(exported.to_string())),
                Err(e) => self.say(Notice::error(e.to_string())),
            }
        }
        if let Some(notices) = self.workspace.poll() {
            self.workspace_changed();
            if let Some(notice) = notices.into_iter().next() {
                self.say(notice);
            }
        }
        if let Ok(ws) = self.workspace.get() {
            self.draft.refresh(ws, self.workspace.registry());
        }
    }

    /// True while work is under way that wants frames without input (a suite waiting out an
    /// outage, a running plan, an export).
    pub fn wants_frames(&self) -> bool {
        self.qualify.running() || self.timeline_export.is_some() || self.suite.running()
    }

    /// The workspace was read again: everyone who checks follows it.
    fn workspace_changed(&mut self) {
        self.draft.registry_changed();
        if let Ok(ws) = self.workspace.get() {
            self.qualify.load_plans(ws);
        }
        if let Some(ws) = self.workspace.shared() {
            if let Some(watch) = &mut self.watch {
                watch.replace_registry(ws.registry(&LoginState::All));
            }
            if let Some(suite) = self.suite.runner() {
                suite.set_workspace(ws);
            }
        }
    }

    /// Applies what the connection says the rest of the window must hear.
    fn route(&mut self, routed: impl IntoIterator<Item = Routed>) {
        for routed in routed {
            if let Some(watch) = &mut self.watch
                && let Some(notice) = watch.apply(&routed, &mut self.timeline)
            {
                self.status = Some(notice);
            }
            let now = Instant::now();
            match routed {
                Routed::Connected => {
                    self.log_in_all();
                    if let Some(suite) = self.suite.runner() {
                        let effects = suite.connected(now);
                        self.drive_suite(effects);
                    }
                }
                Routed::Disconnected { reason } => {
                    if let Some(suite) = self.suite.runner() {
                        let effects = suite.disconnected(&reason, now);
                        self.drive_suite(effects);
                    }
                }
                Routed::Closed { reason } => {
                    self.say(Notice::error(reason));
                    if let Some(suite) = self.suite.runner() {
                        let effects = suite.closed(now);
                        self.drive_suite(effects);
                    }
                }
                Routed::Draft(state) => self.draft.send_state = Some(state),
                Routed::Command {
                    outcome,
                    reply,
                    reply_topic,
                } => {
                    let registry = self.workspace.registry();
                    let topic = reply_topic.as_deref();
                    self.draft.command_ended(outcome, &reply, topic, registry);
                }
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
                Routed::Suite {
                    outcome,
                    reply,
                    reply_topic,
                    effect,
                } => {
                    if effect.is_some() {
                        self.workspace.registry_mut().apply(effect.as_ref());
                        self.draft.registry_changed();
                    }
                    if let Some(suite) = self.suite.runner() {
                        let effects = suite.ended_on(outcome, reply, reply_topic, now);
                        self.drive_suite(effects);
                    }
                }
                Routed::Notice(notice) => self.say(notice),
                Routed::Unpaired {
                    topic,
                    payload,
                    why,
                } => {
                    self.timeline.push(
                        EpochMs::now(),
                        RowKind::Unpaired,
                        NewRow {
                            topic: &topic,
                            payload: &payload,
                            note: &why,
                            ..NewRow::default()
                        },
                    );
                }
                Routed::Subscribed {
                    granted: Err(reason),
                    ..
                } if self.watch.is_none() => {
                    self.say(Notice::error(reason.to_string()));
                }
                Routed::Subscribed { .. } | Routed::Message { .. } => {}
            }
        }
    }

    /// Carries out what the suite runner asks: its requests go out on the window's session,
    /// marked `suite` in the timeline; its results, news and evidence reach the suite table.
    fn drive_suite(&mut self, effects: Vec<Effect>) {
        let mut effects: VecDeque<Effect> = effects.into();
        while !effects.is_empty() {
            let batch: Vec<Effect> = effects.drain(..).collect();
            let sends = self.suite.record(batch, self.workspace.registry());
            for send in sends {
                let sent = self.connection.request(
                    Request {
                        topic: send.topic,
                        payload: send.payload,
                        msg_id: send.msg_id,
                        purpose: Purpose::Suite,
                        device: None,
                        timeout: Some(send.timeout),
                        platform: send.side == crate::runner::suite::Side::Platform,
                    },
                    self.workspace.registry(),
                    &mut self.timeline,
                );
                if let Err(notice) = sent {
                    effects.extend(self.suite.not_sent(notice.text, Instant::now()));
                }
            }
        }
    }

    /// Sends the draft: a batch or an event post as the gateway, a command from the platform
    /// side (not sent, as the platform does, when no device could answer it: "device offline").
    fn send_draft(&mut self) {
        let Ok(ws) = self.workspace.get() else { return };
        let command = self.draft.draft().mode() == DraftMode::Command;
        if command && let Some(why) = self.connection.no_device_for_commands(&ws.gateway()) {
            let offline = format!("device offline (11900): {why}");
            self.draft.send_state = Some(SendState::NotSent(offline));
            return;
        }
        let Some((message, device)) = self.draft.to_send(ws, self.workspace.registry()) else {
            return;
        };
        let sent = self.connection.request(
            Request {
                topic: message.topic,
                payload: message.payload,
                msg_id: message.id,
                purpose: if command {
                    Purpose::Command
                } else {
                    Purpose::Draft
                },
                device: Some(device),
                timeout: None,
                platform: command,
            },
            self.workspace.registry(),
            &mut self.timeline,
        );
        match sent {
            Ok(()) => self.draft.send_state = Some(SendState::Waiting),
            Err(notice) => self.say(notice),
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
        let sent = self.connection.request(
            Request {
                topic: message.topic,
                payload: message.payload,
                msg_id: message.id,
                purpose: Purpose::Login(device.clone(), login),
                device: Some(device),
                timeout: None,
                platform: false,
            },
            registry,
            &mut self.timeline,
        );
        if let Err(notice) = sent {
            self.say(notice);
        }
    }

    /// Logs in every sub-device that has a secret, as `thingbench run` does before a suite.
    fn log_in_all(&mut self) {
        for device in self.workspace.loginable() {
            self.login(device, true);
        }
    }

    /// Saves `fixture` as `messages/<stem>.json` and says where.
    fn save_fixture(&mut self, fixture: &Fixture, stem: &str) {
        let saved = self.workspace.save_fixture(fixture, stem);
        self.draft.registry_changed();
        match saved {
            Ok(path) => self.say(Notice::info(format!("saved {}", path.display()))),
            Err(notice) => self.say(notice),
        }
    }

    fn save_draft(&mut self) {
        let Ok(ws) = self.workspace.get() else { return };
        match self
            .draft
            .fixture_to_save(self.workspace.registry().max_payload, &ws.gateway())
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

    /// Watches every device's traffic on the window's own session.
    fn start_watch(&mut self) {
        let Ok(ws) = self.workspace.get() else { return };
        if !self.connection.has_session() {
            self.say(Notice::error(
                "cannot watch: not connected; connect first (left panel, Connection)",
            ));
            return;
        }
        if self.watch.as_ref().is_some_and(WatchCtl::running) {
            return;
        }
        let watcher = crate::runner::watch::Watcher::new(ws.registry(&LoginState::All));
        self.watch = Some(WatchCtl::start(&mut self.connection, watcher));
        self.bottom_tab = BottomTab::Watch;
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
            Ok(()) => self.bottom_tab = BottomTab::Qualify,
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

    /// Replays fixture files on the window's own session, after the run in progress.
    fn run_suite(&mut self, paths: Vec<PathBuf>) {
        let Some(ws) = self.workspace.shared() else {
            return;
        };
        let Some(broker) = self.connection.broker_url().cloned() else {
            self.say(Notice::error(
                "not connected: connect first (left panel, Connection); then run the suite",
            ));
            return;
        };
        let files = load_fixtures(paths);
        let skip = self.connection.no_device_for_commands(&ws.gateway());
        let effects = self.suite.run(
            files,
            ws,
            self.draft.ids().clone(),
            &broker,
            self.connection.connected(),
            skip,
            Instant::now(),
        );
        self.bottom_tab = BottomTab::Suite;
        self.drive_suite(effects);
    }

    fn reload_workspace(&mut self) {
        match self.workspace.reload() {
            Ok(()) => self.workspace_changed(),
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
        self.suite.forget_runner();
        self.workspace_changed();
        let name = env.as_deref().unwrap_or("none (the workspace as it is)");
        self.say(Notice::info(format!("environment {name}")));
        self.connect();
    }

    fn open_fixture(&mut self, path: &Path) {
        match load_fixture(path) {
            Ok(fixture) => {
                self.draft.open_fixture(&fixture);
                self.say(Notice::info(format!("opened {}", path.display())));
            }
            Err(e) => self.say(Notice::error(e.to_string())),
        }
    }

    /// Opens the user's copy of the installed sample, copying it first when there is none.
    fn try_sample(&mut self) {
        let Some(sample) = &self.sample else {
            return;
        };
        match crate::workspace::copy_sample(sample) {
            Ok(copy) => {
                let what = match &copy {
                    SampleCopy::Copied(_) => "copied the sample workspace to",
                    SampleCopy::Existing(_) => "opened your copy of the sample workspace in",
                };
                let root = copy.root();
                // Said first, so that what the load has to say (a model that failed) wins.
                self.say(Notice::info(format!("{what} {}", root.display())));
                self.open_workspace(root);
            }
            Err(e) => self.say(Notice::error(e.to_string())),
        }
    }

    /// Opens the workspace at `root` when the window started without one, and connects.
    pub fn open_workspace(&mut self, root: &Path) {
        match self.workspace.open(root, &self.wake) {
            Ok(notices) => {
                let ws = self.workspace.get().ok();
                let batch = starter_batch(ws, self.workspace.registry());
                self.draft.replace(Draft::from_batch(batch));
                self.draft.registry_changed();
                self.suite.forget_runner();
                if let Ok(ws) = self.workspace.get() {
                    self.qualify.load_plans(ws);
                }
                if let Some(notice) = notices.into_iter().next() {
                    self.say(notice);
                }
                self.connect();
            }
            Err(notice) => self.say(notice),
        }
    }

    /// What a file dialog answered, for `purpose`.
    pub fn chosen(&mut self, purpose: DialogPurpose, path: PathBuf) {
        let form = &mut self.connection.form;
        match purpose {
            DialogPurpose::CaFile => form.ca_file = path.display().to_string(),
            DialogPurpose::ClientCert => form.client_cert = path.display().to_string(),
            DialogPurpose::ClientKey => form.client_key = path.display().to_string(),
            DialogPurpose::ExportTimeline => {
                self.timeline_export = Some(ExportJob::start(&self.timeline, path));
            }
            DialogPurpose::ExportJunit => {
                let env = self.workspace.get().ok().and_then(|ws| ws.env.clone());
                match self.suite.export_junit_in(&path, env.as_deref()) {
                    Ok(cases) => self.say(Notice::info(format!(
                        "wrote {cases} test cases to {}",
                        path.display()
                    ))),
                    Err(e) => self.say(Notice::error(e.to_string())),
                }
            }
            DialogPurpose::ExportReport => self.export_report(&path),
            DialogPurpose::ExportQualifyReport => {
                let written = match self.workspace.get() {
                    Ok(ws) => self.qualify.export_report(ws, &path),
                    Err(e) => Err(Notice::error(e.to_string())),
                };
                match written {
                    Ok(()) => self.say(Notice::info(format!(
                        "wrote the qualification's report to {}",
                        path.display()
                    ))),
                    Err(notice) => self.say(notice),
                }
            }
            DialogPurpose::SuiteFolder => match crate::runner::collect_fixture_files(&[path]) {
                Ok(found) => {
                    if let Some(notice) = super::skipped_notice(&found.skipped) {
                        self.say(notice);
                    }
                    self.run_suite(found.files);
                }
                Err(e) => self.say(Notice::error(e.to_string())),
            },
            DialogPurpose::Workspace => self.open_workspace(&path),
        }
    }

    /// Writes the suite's report (results, requests and replies, coverage) to `path`.
    fn export_report(&mut self, path: &Path) {
        let Ok(ws) = self.workspace.get() else {
            return;
        };
        let broker = self
            .connection
            .broker_url()
            .map_or("(not connected)".to_owned(), ToString::to_string);
        let written = self
            .suite
            .evidence
            .export(&self.suite.results, ws, &broker, path);
        match written {
            Ok(count) => self.say(Notice::info(format!(
                "wrote the report of {count} fixtures to {}",
                path.display()
            ))),
            Err(e) => self.say(Notice::error(e.to_string())),
        }
    }

    /// The suite table.
    pub fn suite(&self) -> &SuiteCtl {
        &self.suite
    }

    /// The timeline.
    pub fn timeline(&self) -> &Timeline {
        &self.timeline
    }

    /// The Qualify tab's state.
    pub fn qualifying(&self) -> &QualifyCtl {
        &self.qualify
    }

    /// Watch mode, once started.
    pub fn watching(&self) -> Option<&WatchCtl> {
        self.watch.as_ref()
    }

    /// The plot's chosen points and their samples.
    pub fn plot(&self) -> &PlotCtl {
        &self.plot
    }

    /// Where the connection stands.
    pub fn link(&self) -> &super::LinkState {
        self.connection.link()
    }

    /// The broker the window is connected to (the embedded one by default).
    pub fn broker_url(&self) -> Option<&crate::transport::BrokerUrl> {
        self.connection.broker_url()
    }

    /// The text the builder would send.
    pub fn draft_text(&self) -> &str {
        self.draft.draft().text()
    }

    /// The folder of the open workspace, if one is open.
    pub fn workspace_root(&self) -> Option<&Path> {
        self.workspace.root()
    }

    /// The checker's registry as the window believes it (models and logins).
    pub fn registry(&self) -> &crate::model::Registry {
        self.workspace.registry()
    }
}

#[cfg(test)]
#[path = "workbench_tests.rs"]
mod tests;
