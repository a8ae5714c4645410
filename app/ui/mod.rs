//! The window: connection, models and devices, the batch builder with its live check, sending,
//! the timeline, fixtures and suites, and a plot of sent values.
//!
//! Panels draw and push [`UiCommand`]s; [`WorkbenchApp`] applies them, and the transport's and
//! workers' events, once per frame in `App::logic`.

mod builder_panel;
mod check_panel;
mod connection_panel;
mod devices_panel;
pub mod dialogs;
mod fixtures_panel;
mod models_panel;
pub mod plot_panel;
pub mod timeline;
pub mod timeline_panel;
mod top_panel;
pub mod value_editor;
mod watch_panel;
pub mod watching;

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::model::{CheckReport, PointRef, Registry, SessionEffect, check};
use crate::protocol::{DeviceId, EpochMs, MsgId, ReplyCode, parse_reply, reply_topic};
use crate::runner::connect::Embedded;
use crate::runner::watch::first_device;
use crate::runner::worker::{Worker, WorkerCommand, WorkerEvent, spawn_embedded, start_worker};
use crate::runner::{CaseResult, Outcome, login_message};
use crate::transport::{
    BrokerUrl, RequestId, Session, SessionCommand, SessionConfig, SessionEvent,
};
use crate::workspace::{
    Batch, Draft, Expect, Fixture, IdSource, LoginState, Workspace, write_atomic,
};

use connection_panel::ConnectionForm;
use dialogs::{DialogPurpose, FileDialogs, NativeDialogs};
use timeline::{Filter, NewRow, RowKind, SCAN_BUDGET, Timeline};

/// What a panel asks the app to do; applied once per frame.
#[derive(Debug)]
pub enum UiCommand {
    Connect,
    Disconnect,
    AskFile(DialogPurpose),
    /// A builder edit.
    SetBatch(Batch),
    /// A JSON edit.
    SetText(String),
    /// Whether to send a draft over the payload limit on purpose.
    SetSendOversize(bool),
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
    FocusPoint(PointRef),
    SetFilter(Filter),
    /// Select a timeline row, or none.
    SelectRow(Option<usize>),
    ClearTimeline,
    StartWatch,
    StopWatch,
    /// Save watched message `n` as a fixture expecting the hub's code.
    SaveWatched(usize),
}

/// Where the connection stands.
#[derive(Clone, Debug, PartialEq)]
pub enum LinkState {
    Off,
    StartingEmbedded,
    Connecting,
    Connected,
    /// Lost or refused; the session retries by itself.
    Retrying(String),
    /// Could not start at all.
    Failed(String),
}

/// How the last send from the builder ended.
#[derive(Clone, Debug, PartialEq)]
pub enum SendState {
    Waiting,
    Replied {
        code: ReplyCode,
        message: Option<String>,
        rtt: Duration,
    },
    NoReply(Duration),
    Lost(String),
    /// Refused before sending, with why.
    NotSent(String),
}

/// Why a request was sent, to know what its reply changes.
#[derive(Clone, Debug)]
enum Purpose {
    Draft,
    Login(DeviceId, bool),
}

struct Pending {
    row: usize,
    purpose: Purpose,
    device: Option<DeviceId>,
    topic: String,
}

/// The suite's request in flight, shown in the timeline like the window's own.
struct SuiteRequest {
    row: usize,
    device: Option<DeviceId>,
    topic: String,
    /// The login or logout it makes when accepted.
    effect: Option<SessionEffect>,
}

/// Suite requests whose reply the window's own session may also hear (both speak as the same
/// gateway), by reply topic and id; a few are enough, as the suite sends one at a time.
const SUITE_IDS_KEPT: usize = 64;

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

/// The suite table: results so far and what is running.
#[derive(Default)]
pub struct SuiteState {
    pub results: Vec<Result<CaseResult, (PathBuf, String)>>,
    pub queued: usize,
    pub note: Option<String>,
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

/// The thingbench window.
pub struct WorkbenchApp {
    ctx: egui::Context,
    workspace: Result<Workspace, String>,
    /// The checker's view of the workspace, with the logins we believe in.
    registry: Registry,
    form: ConnectionForm,
    link: LinkState,
    broker_url: Option<BrokerUrl>,
    session: Option<Session>,
    embedded: Embedded,
    embedded_rx: Option<mpsc::Receiver<Result<(Embedded, BrokerUrl), String>>>,
    draft: Draft,
    report: Option<(u64, CheckReport)>,
    /// The registry changed since the report was made.
    report_stale: bool,
    /// The draft's payload size as it would be sent, in bytes.
    draft_bytes: usize,
    /// Send the draft even when it is over the workspace's payload limit (a 1008 test).
    send_oversize: bool,
    send_state: Option<SendState>,
    pending: HashMap<RequestId, Pending>,
    next_request: u64,
    ids: IdSource,
    timeline: Timeline,
    timeline_view: timeline_panel::TimelineView,
    fixture_name: String,
    expect_code: String,
    suite: SuiteState,
    worker: Option<(Worker, BrokerUrl)>,
    /// Suite runs asked for before the suite runner was connected.
    suite_backlog: Vec<PathBuf>,
    suite_request: Option<SuiteRequest>,
    /// The latest suite requests, as `(reply topic, id)`: their replies reach the window's own
    /// session too, which must not list them as unpaired. `None` for a request without an id.
    suite_ids: VecDeque<(String, Option<MsgId>)>,
    plot: plot_panel::PlotView,
    watching: Option<watching::Watching>,
    models_view: models_panel::ModelsView,
    dialogs: Box<dyn FileDialogs>,
    dialog_tx: mpsc::Sender<(DialogPurpose, PathBuf)>,
    dialog_rx: mpsc::Receiver<(DialogPurpose, PathBuf)>,
    file_watch: Option<(notify::RecommendedWatcher, mpsc::Receiver<()>)>,
    /// The workspace the embedded hub and the suite runner follow.
    live: Option<crate::workspace::LiveWorkspace>,
    reload_at: Option<Instant>,
    commands: Vec<UiCommand>,
    focus: Option<PointRef>,
    /// The last thing that happened, in words, for the status line.
    status: Option<(String, bool)>,
    left_tab: LeftTab,
    bottom_tab: BottomTab,
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
        if let Some(url) = broker {
            form.embedded = false;
            form.broker = url;
        }
        // Nobody is logged in until the window logs them in, once connected.
        let registry = match &workspace {
            Ok(ws) => ws.registry(&LoginState::Only(Vec::new())),
            Err(_) => Registry::new(),
        };
        let draft = if persisted.draft.is_empty() {
            Draft::from_batch(starter_batch(workspace.as_ref().ok()))
        } else {
            Draft::from_text(persisted.draft.clone())
        };
        let (dialog_tx, dialog_rx) = mpsc::channel();
        let mut app = Self {
            ctx: ctx.clone(),
            registry,
            form,
            link: LinkState::Off,
            broker_url: None,
            session: None,
            embedded: None,
            embedded_rx: None,
            draft,
            report: None,
            report_stale: true,
            draft_bytes: 0,
            send_oversize: false,
            send_state: None,
            pending: HashMap::new(),
            next_request: 1,
            ids: IdSource::from_clock(),
            timeline: Timeline::default(),
            timeline_view: timeline_panel::TimelineView::default(),
            fixture_name: persisted.fixture_name,
            expect_code: persisted.expect_code,
            suite: SuiteState::default(),
            worker: None,
            suite_backlog: Vec::new(),
            suite_request: None,
            suite_ids: VecDeque::new(),
            plot: plot_panel::PlotView::default(),
            watching: None,
            models_view: models_panel::ModelsView::default(),
            dialogs,
            dialog_tx,
            dialog_rx,
            file_watch: None,
            live: None,
            reload_at: None,
            commands: Vec::new(),
            focus: None,
            status: None,
            left_tab: persisted.left_tab,
            bottom_tab: persisted.bottom_tab,
            timing: timing.map(|started| (started, 0)),
            workspace,
        };
        if demo_rows > 0 {
            app.timeline = timeline::synthetic(demo_rows);
        }
        app.timeline.set_filter(persisted.filter);
        app.watch_files();
        if app.workspace.is_ok() {
            app.connect();
        }
        app
    }

    fn wake(&self) -> Box<dyn Fn() + Send> {
        let ctx = self.ctx.clone();
        Box::new(move || ctx.request_repaint())
    }

    fn say(&mut self, text: impl Into<String>, error: bool) {
        self.status = Some((text.into(), error));
    }

    fn watch_files(&mut self) {
        use notify::Watcher as _;
        let Ok(ws) = &self.workspace else { return };
        match crate::workspace::LiveWorkspace::open(&ws.root) {
            Ok(live) => self.live = Some(live),
            Err(e) => self.status = Some((e.to_string(), true)),
        }
        let (tx, rx) = mpsc::channel();
        let ctx = self.ctx.clone();
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            if event.is_ok_and(|e| !e.kind.is_access()) {
                let _ = tx.send(());
                ctx.request_repaint_after(Duration::from_millis(300));
            }
        });
        match watcher {
            Ok(mut watcher) => match watcher.watch(&ws.root, notify::RecursiveMode::Recursive) {
                Ok(()) => self.file_watch = Some((watcher, rx)),
                Err(e) => {
                    let text = format!(
                        "cannot watch {} for changes ({e}); use Reload after editing files",
                        ws.root.display()
                    );
                    self.say(text, true);
                }
            },
            Err(e) => self.say(format!("cannot watch files for changes: {e}"), true),
        }
    }

    fn session_config(&self, url: BrokerUrl) -> Result<SessionConfig, String> {
        let ws = self.workspace.as_ref().map_err(Clone::clone)?;
        self.form.session_config(ws, url)
    }

    fn connect(&mut self) {
        self.disconnect();
        if self.form.embedded {
            if let Some((_, url)) = self.embedded.as_ref().map(|(b, _)| ((), b.url())) {
                self.open_session(url);
            } else if let Some(live) = &self.live {
                self.link = LinkState::StartingEmbedded;
                self.embedded_rx = Some(spawn_embedded(live.subscribe(), self.wake()));
            }
        } else {
            match BrokerUrl::parse(self.form.broker.trim()) {
                Ok(url) => self.open_session(url),
                Err(e) => self.link = LinkState::Failed(format!("broker URL: {e}")),
            }
        }
    }

    fn open_session(&mut self, url: BrokerUrl) {
        let started = self
            .session_config(url.clone())
            .and_then(|config| Session::start(config, self.wake()));
        match started {
            Ok(session) => {
                self.session = Some(session);
                self.broker_url = Some(url);
                self.link = LinkState::Connecting;
            }
            Err(e) => self.link = LinkState::Failed(e),
        }
    }

    fn disconnect(&mut self) {
        if let Some(session) = self.session.take() {
            close_in_background(session);
        }
        let reason = "disconnected before the reply";
        for (_, pending) in std::mem::take(&mut self.pending) {
            self.end_unanswered(
                pending.row,
                pending.device.as_ref(),
                &pending.topic,
                RowKind::Lost,
                reason,
            );
            if matches!(pending.purpose, Purpose::Draft) {
                self.send_state = Some(SendState::Lost(reason.into()));
            }
        }
        self.link = LinkState::Off;
    }

    /// Ends the request at row `request`, on `topic` for `device`, that got no reply: a row of
    /// `kind` beside it, each the other's partner.
    fn end_unanswered(
        &mut self,
        request: usize,
        device: Option<&DeviceId>,
        topic: &str,
        kind: RowKind,
        note: &str,
    ) {
        let row = self.timeline.push(
            EpochMs::now(),
            kind,
            NewRow {
                device,
                topic,
                partner: Some(request),
                note,
                ..NewRow::default()
            },
        );
        self.timeline.answer(request, row, None, None);
    }

    /// Adds a request going out now, with what the checker says of it kept beside what the hub
    /// will say; returns its row.
    fn push_request(
        &mut self,
        device: Option<&DeviceId>,
        topic: &str,
        payload: &[u8],
        report: &CheckReport,
        note: &str,
    ) -> usize {
        self.timeline.push(
            EpochMs::now(),
            RowKind::Request,
            NewRow {
                device,
                topic,
                payload,
                predicted: Some(report.code),
                note,
                ..NewRow::default()
            },
        )
    }

    /// Adds the reply to the request at row `request` on `topic`, and answers the request.
    #[expect(clippy::too_many_arguments)]
    fn push_reply(
        &mut self,
        request: usize,
        device: Option<&DeviceId>,
        topic: &str,
        payload: &[u8],
        code: ReplyCode,
        message: Option<&str>,
        rtt: Duration,
    ) {
        // The window may read events a frame late: date the reply by its round trip.
        let sent_at = self.timeline.row(request).map_or(EpochMs::now(), |r| r.at);
        let at = EpochMs(sent_at.0 + i64::try_from(rtt.as_millis()).unwrap_or(0));
        let row = self.timeline.push(
            at,
            RowKind::Reply,
            NewRow {
                device,
                topic: &reply_topic(topic),
                payload,
                code: Some(code),
                predicted: None,
                rtt: Some(rtt),
                partner: Some(request),
                note: message.unwrap_or_default(),
            },
        );
        self.timeline.answer(request, row, Some(code), Some(rtt));
    }

    fn request(
        &mut self,
        topic: String,
        payload: Vec<u8>,
        msg_id: Option<crate::protocol::MsgId>,
        purpose: Purpose,
        device: Option<DeviceId>,
    ) -> bool {
        if self.session.is_none() {
            self.say(
                "not connected: connect first (left panel, Connection)",
                true,
            );
            return false;
        }
        let request = RequestId(self.next_request);
        self.next_request += 1;
        let report = check(&self.registry, &topic, &payload);
        let row = self.push_request(device.as_ref(), &topic, &payload, &report, "");
        let timeout = Duration::from_millis(self.form.timeout_ms.max(1));
        let sent = self.session.as_ref().is_some_and(|session| {
            session.send(SessionCommand::Request {
                request,
                topic: topic.clone(),
                payload,
                msg_id,
                timeout,
            })
        });
        if !sent {
            self.say("the session has ended; connect again", true);
            return false;
        }
        self.pending.insert(
            request,
            Pending {
                row,
                purpose,
                device,
                topic,
            },
        );
        true
    }

    fn send_draft(&mut self) {
        let Ok(ws) = &self.workspace else { return };
        let gateway = ws.gateway();
        let fixture = self
            .draft
            .to_fixture("draft", Expect::code(ReplyCode::SUCCESS));
        let message = fixture.resolve(&gateway, &self.registry, EpochMs::now(), &self.ids);
        if let Some(reason) = message.oversize_refusal(
            self.registry.max_payload,
            self.send_oversize,
            "tick \"Send over the limit\" beside Send to send it on purpose (a 1008 test)",
        ) {
            self.send_state = Some(SendState::NotSent(reason));
            return;
        }
        let device = match self.draft.batch() {
            Ok(batch) => batch
                .entries
                .first()
                .map(|e| e.device.clone().unwrap_or_else(|| gateway.clone())),
            Err(_) => None,
        }
        .or(Some(gateway));
        if self.request(
            message.topic,
            message.payload,
            message.id,
            Purpose::Draft,
            device,
        ) {
            self.send_state = Some(SendState::Waiting);
        }
    }

    fn login(&mut self, device: DeviceId, login: bool) {
        let Ok(ws) = &self.workspace else { return };
        let has_secret = self
            .registry
            .devices
            .get(&device)
            .is_some_and(|d| d.secret.is_some());
        if login && !has_secret {
            self.say(
                format!("{device} has no usable secret: set it in workspace.json (or its environment variable)"),
                true,
            );
            return;
        }
        let message = login_message(&ws.gateway(), &self.registry, &device, login, &self.ids);
        self.request(
            message.topic,
            message.payload,
            message.id,
            Purpose::Login(device.clone(), login),
            Some(device),
        );
    }

    /// Logs in every sub-device that has a secret, as `thingbench run` does before a suite.
    fn log_in_all(&mut self) {
        let Ok(ws) = &self.workspace else { return };
        let devices: Vec<DeviceId> = ws
            .sub_devices()
            .into_iter()
            .filter(|d| {
                self.registry
                    .devices
                    .get(d)
                    .is_some_and(|r| r.secret.is_some())
            })
            .collect();
        for device in devices {
            self.login(device, true);
        }
    }

    fn save_fixture(&mut self, fixture: &Fixture, file_stem: &str) {
        let Ok(ws) = &self.workspace else { return };
        let stem: String = file_stem
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
        match ws.save_fixture(&format!("{stem}.json"), fixture) {
            Ok(path) => {
                self.say(format!("saved {}", path.display()), false);
                self.reload_workspace();
            }
            Err(e) => self.say(e.to_string(), true),
        }
    }

    fn save_draft(&mut self) {
        let name = self.fixture_name.trim().to_owned();
        if name.is_empty() {
            self.say("give the fixture a name first", true);
            return;
        }
        let expect = match self.expect_code.trim() {
            "" | "none" | "no reply" => Expect {
                code: None,
                within_ms: None,
                no_reply: true,
                extra: Default::default(),
            },
            text => match text.parse::<i64>() {
                Ok(code) => Expect::code(ReplyCode(code)),
                Err(_) => {
                    self.say(
                        format!("expected code \"{text}\" is not a number; write e.g. 200 or 1204"),
                        true,
                    );
                    return;
                }
            },
        };
        let mut fixture = self.draft.to_fixture(&name, expect);
        fixture.send_oversize = self.send_oversize && self.draft_bytes > self.registry.max_payload;
        self.save_fixture(&fixture, &name);
    }

    fn save_row(&mut self, index: usize) {
        let Some(row) = self.timeline.row(index).copied() else {
            return;
        };
        let is_request = |kind: RowKind| matches!(kind, RowKind::Request | RowKind::Watched);
        let (request, reply) = if is_request(row.kind) {
            (
                Some(row),
                row.partner().and_then(|p| self.timeline.row(p).copied()),
            )
        } else {
            (
                row.partner().and_then(|p| self.timeline.row(p).copied()),
                Some(row),
            )
        };
        let Some(request) = request.filter(|r| is_request(r.kind)) else {
            self.say("this row has no request to save", true);
            return;
        };
        let Ok(ws) = &self.workspace else { return };
        let code = reply.and_then(|r| r.code());
        let id = self
            .timeline
            .msg_id(&request)
            .unwrap_or_else(|| index.to_string());
        let name = format!(
            "timeline {id} {}",
            code.map_or("no reply".to_owned(), |c| c.to_string())
        );
        let fixture = Fixture::from_message(
            name,
            self.timeline.topic(&request),
            &self.timeline.payload(&request),
            Expect::code_or_silence(code),
            &ws.gateway(),
        );
        self.save_fixture(&fixture, &format!("timeline-{id}"));
    }

    fn start_watch(&mut self) {
        let Some(url) = self.broker_url.clone() else {
            self.say("not connected: connect first, then watch", true);
            return;
        };
        let Ok(ws) = &self.workspace else { return };
        let registry = ws.registry(&LoginState::All);
        let started = self.session_config(url).and_then(|mut config| {
            config.client_id.push_str("-watch");
            Session::start(config, self.wake())
        });
        match started {
            Ok(session) => {
                let watcher = crate::runner::watch::Watcher::new(registry);
                self.watching = Some(watching::Watching::new(session, watcher));
                self.bottom_tab = BottomTab::Watch;
            }
            Err(e) => self.say(format!("cannot watch: {e}"), true),
        }
    }

    fn apply_watch_event(&mut self, event: SessionEvent) {
        use crate::runner::watch::WatchUpdate;
        let Some(watching) = &mut self.watching else {
            return;
        };
        let now = EpochMs::now();
        match event {
            SessionEvent::Connected => {
                if let Some(session) = &watching.session {
                    for filter in crate::runner::watch::watch_filters() {
                        session.send(SessionCommand::Subscribe(filter));
                    }
                }
                self.status = Some(("watching every device's traffic".into(), false));
            }
            SessionEvent::Disconnected { reason } => {
                self.status = Some((format!("watch: {reason}; retrying"), true));
            }
            SessionEvent::Message { topic, payload } => match watching.feed(&topic, payload) {
                Some(WatchUpdate::Request(index)) => {
                    let Some(w) = watching.watched().get(index) else {
                        return;
                    };
                    let note: Vec<String> = w
                        .findings
                        .iter()
                        .map(|f| format!("{} {}: {}", f.severity.name(), f.path, f.message))
                        .collect();
                    let row = self.timeline.push(
                        w.at,
                        RowKind::Watched,
                        NewRow {
                            device: w.devices.first(),
                            topic: &w.topic,
                            payload: &w.payload,
                            predicted: Some(w.predicted),
                            note: &note.join("; "),
                            ..NewRow::default()
                        },
                    );
                    watching.rows.push(row);
                }
                Some(WatchUpdate::Reply(index)) => {
                    let (Some(w), Some(&request_row)) =
                        (watching.watched().get(index), watching.rows.get(index))
                    else {
                        return;
                    };
                    let rtt = Duration::from_millis(u64::try_from(now.0 - w.at.0).unwrap_or(0));
                    let reply_row = self.timeline.push(
                        now,
                        RowKind::WatchedReply,
                        NewRow {
                            device: w.devices.first(),
                            topic: &crate::protocol::reply_topic(&w.topic),
                            code: w.actual,
                            rtt: Some(rtt),
                            partner: Some(request_row),
                            ..NewRow::default()
                        },
                    );
                    self.timeline
                        .answer(request_row, reply_row, w.actual, Some(rtt));
                }
                None => {}
            },
            _ => {}
        }
    }

    fn save_watched(&mut self, index: usize) {
        let (Ok(ws), Some(watching)) = (&self.workspace, &self.watching) else {
            return;
        };
        let Some(w) = watching.watched().get(index) else {
            return;
        };
        let id = w.id.as_ref().map_or("-".to_owned(), |id| id.0.clone());
        let fixture = w.to_fixture(format!("watched {:04} id {id}", index + 1), &ws.gateway());
        let file = w.file_name(index + 1);
        let stem = file.trim_end_matches(".json").to_owned();
        self.save_fixture(&fixture, &stem);
    }

    fn run_suite(&mut self, paths: Vec<PathBuf>) {
        let Some(url) = self.broker_url.clone() else {
            self.say("not connected: connect first, then run the suite", true);
            return;
        };
        let current = self.worker.as_ref().is_some_and(|(_, u)| *u == url);
        if !current {
            // A runner for another broker gives way; its request in flight ends here.
            self.suite_ended(
                &Outcome::Lost {
                    reason: "the suite runner was replaced".into(),
                },
                &[],
            );
            let Some(feed) = self.live.as_ref().map(|live| live.subscribe()) else {
                return;
            };
            match self.session_config(url.clone()) {
                Ok(mut config) => {
                    config.client_id.push_str("-suite");
                    let worker = start_worker(feed, config, self.wake());
                    self.worker = Some((worker, url));
                }
                Err(e) => {
                    self.say(e, true);
                    return;
                }
            }
        }
        self.suite.results.clear();
        self.suite.note = None;
        self.suite.queued += paths.len();
        self.bottom_tab = BottomTab::Suite;
        if let Some((worker, _)) = &self.worker
            && worker.commands.send(WorkerCommand::Run(paths)).is_err()
        {
            self.suite.queued = 0;
            self.suite.note = Some("the suite runner has stopped; connect again".into());
            self.worker = None;
        }
    }

    fn reload_workspace(&mut self) {
        if let Some(live) = &self.live {
            live.reload();
        }
        let Ok(ws) = &mut self.workspace else { return };
        match Workspace::load(&ws.root) {
            Ok(fresh) => {
                let logged_in = self.registry.logged_in.clone();
                self.registry = fresh.registry(&LoginState::All);
                self.registry.logged_in.retain(|d| logged_in.contains(d));
                *ws = fresh;
                self.report_stale = true;
            }
            Err(e) => self.say(format!("reload failed, keeping what was loaded: {e}"), true),
        }
    }

    fn apply_command(&mut self, command: UiCommand) {
        match command {
            UiCommand::Connect => self.connect(),
            UiCommand::Disconnect => self.disconnect(),
            UiCommand::AskFile(purpose) => self.dialogs.ask(purpose, self.dialog_tx.clone()),
            UiCommand::SetBatch(batch) => self.draft.set_batch(batch),
            UiCommand::SetText(text) => self.draft.set_text(text),
            UiCommand::SetSendOversize(on) => self.send_oversize = on,
            UiCommand::Send => self.send_draft(),
            UiCommand::Login(device, login) => self.login(device, login),
            UiCommand::LogInAll => self.log_in_all(),
            UiCommand::OpenFixture(path) => match crate::runner::load_fixture(&path) {
                Ok(fixture) => {
                    self.draft = Draft::from_fixture(&fixture);
                    self.send_oversize = fixture.send_oversize;
                    self.fixture_name = fixture.name.clone();
                    self.expect_code = fixture
                        .expect
                        .code
                        .map_or("no reply".into(), |c| c.0.to_string());
                    self.say(format!("opened {}", path.display()), false);
                }
                Err(e) => self.say(e, true),
            },
            UiCommand::SaveDraft => self.save_draft(),
            UiCommand::RunSuite(paths) => self.run_suite(paths),
            UiCommand::StopSuite => {
                if let Some((worker, _)) = &self.worker {
                    worker.stop();
                }
            }
            UiCommand::SaveRow(index) => self.save_row(index),
            UiCommand::ReloadWorkspace => self.reload_workspace(),
            UiCommand::FocusPoint(point) => {
                self.focus = Some(point);
            }
            UiCommand::SetFilter(filter) => self.timeline.change_filter(filter),
            UiCommand::SelectRow(row) => self.timeline_view.selected = row,
            UiCommand::StartWatch => self.start_watch(),
            UiCommand::StopWatch => {
                if let Some(session) = self.watching.as_mut().and_then(|w| w.session.take()) {
                    close_in_background(session);
                }
            }
            UiCommand::SaveWatched(index) => self.save_watched(index),
            UiCommand::ClearTimeline => {
                self.timeline.clear();
                self.timeline_view.selected = None;
            }
        }
    }

    fn apply_session_event(&mut self, event: SessionEvent) {
        let now = EpochMs::now();
        match event {
            SessionEvent::Connected => {
                self.link = LinkState::Connected;
                let note = format!(
                    "connected to {}",
                    self.broker_url
                        .as_ref()
                        .map_or(String::new(), ToString::to_string)
                );
                self.timeline.push(
                    now,
                    RowKind::Connected,
                    NewRow {
                        note: &note,
                        ..NewRow::default()
                    },
                );
                self.log_in_all();
                if !self.suite_backlog.is_empty() {
                    let paths = std::mem::take(&mut self.suite_backlog);
                    self.run_suite(paths);
                }
            }
            SessionEvent::Disconnected { reason } => {
                // A broker that stays away fails every retry the same way: one row for the
                // outage (and one for each new reason), not one per attempt.
                let again = matches!(&self.link, LinkState::Retrying(r) if *r == reason);
                if !again {
                    self.timeline.push(
                        now,
                        RowKind::Disconnected,
                        NewRow {
                            note: &reason,
                            ..NewRow::default()
                        },
                    );
                }
                self.link = LinkState::Retrying(reason);
            }
            SessionEvent::Replied {
                request,
                reply,
                payload,
                rtt,
                ..
            } => {
                let Some(pending) = self.pending.remove(&request) else {
                    return;
                };
                self.push_reply(
                    pending.row,
                    pending.device.as_ref(),
                    &pending.topic,
                    &payload,
                    reply.code,
                    reply.message.as_deref(),
                    rtt,
                );
                match pending.purpose {
                    Purpose::Draft => {
                        self.send_state = Some(SendState::Replied {
                            code: reply.code,
                            message: reply.message,
                            rtt,
                        });
                    }
                    Purpose::Login(device, login) => {
                        if reply.code.is_success() {
                            if login {
                                self.registry.logged_in.insert(device.clone());
                            } else {
                                self.registry.logged_in.remove(&device);
                            }
                            self.report_stale = true;
                            let verb = if login { "logged in" } else { "logged out" };
                            self.say(format!("{device} {verb}"), false);
                        } else {
                            let text = format!(
                                "{device}: {} {} {}",
                                reply.code,
                                reply.code.meaning(),
                                reply.message.unwrap_or_default()
                            );
                            self.say(text, true);
                        }
                    }
                }
            }
            SessionEvent::NoReply { request, after } => {
                let Some(pending) = self.pending.remove(&request) else {
                    return;
                };
                let note = format!("no reply within {} ms", after.as_millis());
                self.end_unanswered(
                    pending.row,
                    pending.device.as_ref(),
                    &pending.topic,
                    RowKind::NoReply,
                    &note,
                );
                if matches!(pending.purpose, Purpose::Draft) {
                    self.send_state = Some(SendState::NoReply(after));
                } else {
                    self.say(note, true);
                }
            }
            SessionEvent::Lost { request, reason } => {
                let Some(pending) = self.pending.remove(&request) else {
                    return;
                };
                self.end_unanswered(
                    pending.row,
                    pending.device.as_ref(),
                    &pending.topic,
                    RowKind::Lost,
                    &reason,
                );
                if matches!(pending.purpose, Purpose::Draft) {
                    self.send_state = Some(SendState::Lost(reason));
                }
            }
            SessionEvent::Unpaired {
                topic,
                payload,
                why,
            } => {
                if self.is_suite_reply(&topic, &payload) {
                    return;
                }
                self.timeline.push(
                    now,
                    RowKind::Unpaired,
                    NewRow {
                        topic: &topic,
                        payload: &payload,
                        note: &why,
                        ..NewRow::default()
                    },
                );
            }
            SessionEvent::Closed => {
                if self.session.is_some() {
                    self.link = LinkState::Failed("the session ended".into());
                    self.session = None;
                }
            }
            SessionEvent::Message { .. }
            | SessionEvent::Acked
            | SessionEvent::PublishFailed { .. } => {}
        }
    }

    fn apply_worker_event(&mut self, event: WorkerEvent) {
        match event {
            WorkerEvent::Ready => {}
            WorkerEvent::Failed(e) => {
                self.suite_ended(
                    &Outcome::Lost {
                        reason: "the suite runner stopped".into(),
                    },
                    &[],
                );
                self.suite.queued = 0;
                self.suite.note = Some(format!("the suite could not run: {e}"));
                self.worker = None;
            }
            WorkerEvent::BadFixture { path, error } => {
                self.suite.queued = self.suite.queued.saturating_sub(1);
                self.suite.results.push(Err((path, error)));
            }
            WorkerEvent::Sent { topic, payload } => self.suite_sent(topic, &payload),
            WorkerEvent::Ended { outcome, reply } => self.suite_ended(&outcome, &reply),
            WorkerEvent::Result(result) => {
                self.suite.queued = self.suite.queued.saturating_sub(1);
                self.suite.results.push(Ok(result));
            }
            WorkerEvent::Finished { stopped } => {
                self.suite.queued = self.suite.queued.saturating_sub(stopped);
                if stopped > 0 {
                    self.suite.note = Some(format!("stopped: {stopped} fixtures not run"));
                }
            }
        }
    }

    /// A suite request goes out: a row for it, checked as the window's own are.
    fn suite_sent(&mut self, topic: String, payload: &[u8]) {
        let report = check(&self.registry, &topic, payload);
        let device = first_device(&topic, payload);
        let row = self.push_request(device.as_ref(), &topic, payload, &report, "suite");
        if self.suite_ids.len() == SUITE_IDS_KEPT {
            self.suite_ids.pop_front();
        }
        self.suite_ids.push_back((reply_topic(&topic), report.id));
        self.suite_request = Some(SuiteRequest {
            row,
            device,
            topic,
            effect: report.effect,
        });
    }

    /// The suite's request in flight ended. An accepted login or logout changes what the hub
    /// believes, so the devices panel and the live check follow it.
    fn suite_ended(&mut self, outcome: &Outcome, reply: &[u8]) {
        let Some(sent) = self.suite_request.take() else {
            return;
        };
        let device = sent.device.as_ref();
        match outcome {
            Outcome::Replied { code, message, rtt } => {
                self.push_reply(
                    sent.row,
                    device,
                    &sent.topic,
                    reply,
                    *code,
                    message.as_deref(),
                    *rtt,
                );
                if code.is_success() && sent.effect.is_some() {
                    self.registry.apply(sent.effect.as_ref());
                    self.report_stale = true;
                }
            }
            Outcome::NoReply { after } => {
                let note = format!("no reply within {} ms", after.as_millis());
                self.end_unanswered(sent.row, device, &sent.topic, RowKind::NoReply, &note);
            }
            Outcome::Lost { reason } | Outcome::NotSent { reason } => {
                self.end_unanswered(sent.row, device, &sent.topic, RowKind::Lost, reason);
            }
        }
    }

    /// True for a reply to one of the suite's requests, heard by the window's own session: by
    /// id, or for a reply without one (to a request that had none), the oldest on its topic.
    fn is_suite_reply(&mut self, topic: &str, payload: &[u8]) -> bool {
        let id = parse_reply(payload).ok().and_then(|r| r.id);
        let Some(at) = self
            .suite_ids
            .iter()
            .position(|(t, i)| t == topic && *i == id)
        else {
            return false;
        };
        self.suite_ids.remove(at);
        true
    }

    /// Applies commands and background events; called once per frame.
    fn apply_all(&mut self) {
        for command in std::mem::take(&mut self.commands) {
            self.apply_command(command);
        }
        if let Some(rx) = &self.embedded_rx
            && let Ok(started) = rx.try_recv()
        {
            self.embedded_rx = None;
            match started {
                Ok((embedded, url)) => {
                    self.embedded = embedded;
                    self.open_session(url);
                }
                Err(e) => self.link = LinkState::Failed(e),
            }
        }
        // The window's session hears the suite's replies too (both speak as the gateway). A
        // suite request is announced before it is published, so every reply among the session
        // events taken here belongs to a request already among the worker events taken after
        // them: the worker's are applied first, and the reply is known as the suite's.
        let events: Vec<SessionEvent> = self
            .session
            .as_ref()
            .map(|s| s.events.try_iter().collect())
            .unwrap_or_default();
        let worker_events: Vec<WorkerEvent> = self
            .worker
            .as_ref()
            .map(|(w, _)| w.events.try_iter().collect())
            .unwrap_or_default();
        for event in worker_events {
            self.apply_worker_event(event);
        }
        for event in events {
            self.apply_session_event(event);
        }
        let watch_events: Vec<SessionEvent> = self
            .watching
            .as_ref()
            .and_then(|w| w.session.as_ref())
            .map(|s| s.events.try_iter().collect())
            .unwrap_or_default();
        for event in watch_events {
            self.apply_watch_event(event);
        }
        while let Ok((purpose, path)) = self.dialog_rx.try_recv() {
            self.apply_dialog(purpose, path);
        }
        if let Some((_, rx)) = &self.file_watch
            && rx.try_iter().count() > 0
        {
            self.reload_at = Some(Instant::now() + Duration::from_millis(200));
        }
        if self.reload_at.is_some_and(|at| Instant::now() >= at) {
            self.reload_at = None;
            self.reload_workspace();
        }
        self.refresh_report();
    }

    fn apply_dialog(&mut self, purpose: DialogPurpose, path: PathBuf) {
        match purpose {
            DialogPurpose::CaFile => self.form.ca_file = path.display().to_string(),
            DialogPurpose::ClientCert => self.form.client_cert = path.display().to_string(),
            DialogPurpose::ClientKey => self.form.client_key = path.display().to_string(),
            DialogPurpose::ExportTimeline => {
                let text = self.timeline.export_jsonl();
                match write_atomic(&path, text.as_bytes()) {
                    Ok(()) => {
                        let rows = text.lines().count();
                        self.say(format!("exported {rows} rows to {}", path.display()), false);
                    }
                    Err(e) => self.say(format!("{}: cannot write: {e}", path.display()), true),
                }
            }
            DialogPurpose::ExportJunit => {
                let written = crate::runner::junit_xml_of_run("thingbench", &self.suite.results)
                    .and_then(|xml| {
                        write_atomic(&path, xml.as_bytes())
                            .map_err(|e| format!("{}: cannot write: {e}", path.display()))
                    });
                match written {
                    Ok(()) => {
                        let cases = self.suite.results.len();
                        self.say(
                            format!("wrote {cases} test cases to {}", path.display()),
                            false,
                        );
                    }
                    Err(e) => self.say(e, true),
                }
            }
            DialogPurpose::SuiteFolder => match crate::runner::collect_fixture_files(&[path]) {
                Ok(files) => self.run_suite(files),
                Err(e) => self.say(e, true),
            },
            DialogPurpose::Workspace => self.open_workspace(&path),
        }
    }

    /// Opens the workspace at `root` when the window started without one, and connects.
    /// (The embedded hub serves the workspace it started with, so a loaded one stays.)
    fn open_workspace(&mut self, root: &std::path::Path) {
        if self.workspace.is_ok() {
            self.say(
                "a workspace is open; to change it, start thingbench with --workspace DIR",
                true,
            );
            return;
        }
        match Workspace::load(root) {
            Ok(ws) => {
                self.registry = ws.registry(&LoginState::Only(Vec::new()));
                self.draft = Draft::from_batch(starter_batch(Some(&ws)));
                self.report_stale = true;
                self.workspace = Ok(ws);
                self.watch_files();
                self.connect();
            }
            Err(e) => self.workspace = Err(e.to_string()),
        }
    }

    fn refresh_report(&mut self) {
        let fresh = self
            .report
            .as_ref()
            .is_some_and(|(rev, _)| *rev == self.draft.revision());
        if fresh && !self.report_stale {
            return;
        }
        let Ok(ws) = &self.workspace else { return };
        let fixture = self
            .draft
            .to_fixture("draft", Expect::code(ReplyCode::SUCCESS));
        let message = fixture.resolve(&ws.gateway(), &self.registry, EpochMs::now(), &self.ids);
        let report = check(&self.registry, &message.topic, &message.payload);
        self.draft_bytes = message.payload.len();
        self.report = Some((self.draft.revision(), report));
        self.report_stale = false;
    }

    fn persisted(&self) -> Persisted {
        Persisted {
            workspace: self.workspace.as_ref().ok().map(|ws| ws.root.clone()),
            connection: self.form.clone(),
            draft: self.draft.text().to_owned(),
            fixture_name: self.fixture_name.clone(),
            expect_code: self.expect_code.clone(),
            filter: self.timeline.filter().clone(),
            left_tab: self.left_tab,
            bottom_tab: self.bottom_tab,
        }
    }

    /// Where the connection stands.
    pub fn link(&self) -> &LinkState {
        &self.link
    }

    /// The last thing that happened, in words, and whether it was an error.
    pub fn status(&self) -> Option<&(String, bool)> {
        self.status.as_ref()
    }

    /// Selects a timeline row, as a click on it does.
    pub fn select_row(&mut self, row: usize) {
        self.timeline_view.selected = Some(row);
    }

    /// The suite table.
    pub fn suite(&self) -> &SuiteState {
        &self.suite
    }

    /// The broker the window is connected to (the embedded one by default).
    pub fn broker_url(&self) -> Option<&BrokerUrl> {
        self.broker_url.as_ref()
    }

    /// The text the builder would send.
    pub fn draft_text(&self) -> &str {
        self.draft.text()
    }

    /// Watch mode, once started.
    pub fn watching(&self) -> Option<&watching::Watching> {
        self.watching.as_ref()
    }

    /// The timeline row selected for its detail.
    pub fn selected_row(&self) -> Option<usize> {
        self.timeline_view.selected
    }

    /// The plot's chosen points and their samples.
    pub fn plot(&self) -> &plot_panel::PlotView {
        &self.plot
    }

    /// The timeline.
    pub fn timeline(&self) -> &Timeline {
        &self.timeline
    }
}

/// Closes a session off the UI thread: dropping it joins the session's thread.
fn close_in_background(session: Session) {
    let spawned = std::thread::Builder::new()
        .name("thingbench-close".into())
        .spawn(move || drop(session));
    // Without a thread, the session is dropped here, which only blocks for a moment.
    drop(spawned);
}

/// The process's resident memory, from /proc (Linux).
fn resident_memory() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    Some(line.trim_start_matches("VmRSS:").trim().to_owned())
}

/// A first batch for a fresh window: the first sub-device with two of its points.
fn starter_batch(ws: Option<&Workspace>) -> Batch {
    let mut batch = Batch::default();
    let Some(ws) = ws else { return batch };
    let registry = ws.registry(&LoginState::All);
    if let Some(device) = ws.sub_devices().into_iter().next() {
        let mut entry = crate::workspace::Entry::new(Some(device.clone()));
        if let Some(model) = registry.model_of(&device.product_key) {
            for (i, point) in model.points.iter().take(2).enumerate() {
                entry
                    .points
                    .push(crate::workspace::PointEntry::sample(point, i as u64));
            }
        }
        batch.entries.push(entry);
    }
    batch
}

impl eframe::App for WorkbenchApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.apply_all();
        // A new filter's rows are found a slice at a time, so typing in the filter never
        // stalls the window; the rows found so far are drawn meanwhile.
        if !self.timeline.scan_for(Some(SCAN_BUDGET)) {
            ctx.request_repaint();
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
        egui::Panel::top("top").show(ui, |ui| {
            top_panel::top_panel_ui(
                ui,
                &self.workspace,
                &self.link,
                self.broker_url.as_ref(),
                self.status.as_ref(),
                &mut commands,
            );
        });
        let Ok(ws) = &self.workspace else {
            egui::CentralPanel::default().show(ui, |ui| {
                ui.heading("No workspace");
                if let Err(e) = &self.workspace {
                    ui.colored_label(ui.visuals().error_fg_color, e);
                }
                ui.label("Start thingbench in a folder with fixtures/workspace.json, or pass --workspace DIR, or open one:");
                if ui.button("Open workspace…").clicked() {
                    commands.push(UiCommand::AskFile(DialogPurpose::Workspace));
                }
            });
            self.commands.extend(commands);
            return;
        };
        egui::Panel::left("left")
            .resizable(true)
            .default_size(270.0)
            .show(ui, |ui| {
                ui.horizontal(|ui| {
                    for (tab, label) in [
                        (LeftTab::Connection, "Connection"),
                        (LeftTab::Models, "Models"),
                        (LeftTab::Devices, "Devices"),
                        (LeftTab::Fixtures, "Fixtures"),
                    ] {
                        ui.selectable_value(&mut self.left_tab, tab, label);
                    }
                });
                ui.separator();
                match self.left_tab {
                    LeftTab::Connection => connection_panel::connection_ui(
                        ui,
                        &mut self.form,
                        ws,
                        &self.link,
                        &mut commands,
                    ),
                    LeftTab::Models => models_panel::models_ui(ui, &mut self.models_view, ws),
                    LeftTab::Devices => devices_panel::devices_ui(
                        ui,
                        ws,
                        &self.registry,
                        self.session.is_some(),
                        &mut commands,
                    ),
                    LeftTab::Fixtures => fixtures_panel::fixtures_ui(
                        ui,
                        ws,
                        &mut self.fixture_name,
                        &mut self.expect_code,
                        &mut commands,
                    ),
                }
            });
        egui::Panel::bottom("bottom")
            .resizable(true)
            .default_size(340.0)
            .show(ui, |ui| {
                // The panel keeps its height whatever the tab shows.
                ui.set_min_height(ui.available_height());
                ui.horizontal(|ui| {
                    ui.selectable_value(
                        &mut self.bottom_tab,
                        BottomTab::Timeline,
                        format!("Timeline ({})", self.timeline.len()),
                    );
                    let suite_label = if self.suite.queued > 0 {
                        format!("Suite ({} to go)", self.suite.queued)
                    } else {
                        "Suite".to_owned()
                    };
                    ui.selectable_value(&mut self.bottom_tab, BottomTab::Suite, suite_label);
                    let watch_label = match &self.watching {
                        Some(w) if w.session.is_some() => format!("Watch ({})", w.watched().len()),
                        _ => "Watch".to_owned(),
                    };
                    ui.selectable_value(&mut self.bottom_tab, BottomTab::Watch, watch_label);
                    ui.selectable_value(&mut self.bottom_tab, BottomTab::Plot, "Plot");
                });
                ui.separator();
                match self.bottom_tab {
                    BottomTab::Timeline => timeline_panel::timeline_ui(
                        ui,
                        &self.timeline,
                        &mut self.timeline_view,
                        &mut commands,
                    ),
                    BottomTab::Suite => fixtures_panel::suite_ui(ui, &self.suite, &mut commands),
                    BottomTab::Watch => watch_panel::watch_ui(
                        ui,
                        self.watching.as_ref(),
                        self.link == LinkState::Connected,
                        &mut commands,
                    ),
                    BottomTab::Plot => {
                        plot_panel::plot_ui(ui, &self.timeline, &mut self.plot, &self.registry)
                    }
                }
            });
        egui::Panel::right("check")
            .resizable(true)
            .default_size(390.0)
            .show(ui, |ui| {
                check_panel::check_ui(
                    ui,
                    &self.draft,
                    self.report.as_ref().map(|(_, r)| r),
                    self.send_state.as_ref(),
                    self.session.is_some() && self.link == LinkState::Connected,
                    check_panel::Size {
                        bytes: self.draft_bytes,
                        limit: self.registry.max_payload,
                        send_anyway: self.send_oversize,
                    },
                    &mut commands,
                );
            });
        egui::CentralPanel::default().show(ui, |ui| {
            builder_panel::builder_ui(
                ui,
                &self.draft,
                ws,
                &self.registry,
                self.focus.as_ref(),
                &mut commands,
            );
        });
        // A focus request is honoured by the frame that draws it, then dropped.
        if commands
            .iter()
            .all(|c| !matches!(c, UiCommand::FocusPoint(_)))
        {
            self.focus = None;
        }
        self.commands.extend(commands);
        if !self.commands.is_empty() {
            ui.ctx().request_repaint();
        }
    }
}
