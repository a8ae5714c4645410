//! The window: it lays out the panels. The state and its routing live in
//! [`crate::control::Workbench`]; a panel draws a controller and edits its fields in place, or
//! pushes a [`UiCommand`] for what involves several; [`WorkbenchApp`] hands the commands and
//! the dialogs' answers to the workbench once per frame in `App::logic`.

mod builder_panel;
mod check_panel;
mod command_builder;
mod connection_panel;
mod coverage_panel;
mod devices_panel;
pub mod dialogs;
mod event_builder;
mod fixtures_panel;
mod layout;
pub mod models_panel;
pub mod plot_panel;
mod qualify_panel;
mod qualify_picture;
mod suite_panel;
pub mod theme;
pub mod timeline_panel;
mod top_panel;
pub mod value_editor;
mod watch_panel;

pub use builder_panel::BuilderPanel;
pub use check_panel::check_ui;
pub use models_panel::ModelsPanel;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};
use std::time::Instant;

use crate::control::plot::PLOT_BUDGET;
use crate::control::saved::{PerWorkspace, Persisted, restore_draft, saved_draft};
pub use crate::control::{BottomTab, Command as UiCommand, LeftTab};
use crate::control::{Wake, Workbench};
use crate::history::{SCAN_BUDGET, synthetic};
use crate::workspace::{OpenError, Workspace};

use dialogs::{DialogPurpose, FileDialogs, NativeDialogs};
use fixtures_panel::FixturesPanel;

/// How the app starts: the workspace, a broker URL instead of the embedded one, dialogs.
pub struct Startup {
    pub workspace: Result<Workspace, OpenError>,
    pub broker: Option<String>,
    pub dialogs: Box<dyn FileDialogs>,
    /// When the process started, to report the time to the first frame; `None` stays quiet.
    pub timing: Option<Instant>,
    /// Synthetic rows to fill the timeline with, for measuring.
    pub demo_rows: usize,
}

impl Startup {
    /// The window on `workspace`, with the desktop's file dialogs.
    pub fn new(workspace: Result<Workspace, OpenError>, broker: Option<String>) -> Self {
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
    models: ModelsPanel,
    builder: BuilderPanel,
    fixtures: FixturesPanel,
    timeline: timeline_panel::TimelineView,
}

/// The thingbench window: the workbench's state, the panels that draw it, and the dialogs.
pub struct WorkbenchApp {
    bench: Workbench,
    panels: Panels,
    dialogs: Box<dyn FileDialogs>,
    dialog_tx: mpsc::Sender<(DialogPurpose, PathBuf)>,
    dialog_rx: mpsc::Receiver<(DialogPurpose, PathBuf)>,
    commands: Vec<UiCommand>,
    /// What was saved of other workspaces, kept for the next save.
    others: BTreeMap<PathBuf, PerWorkspace>,
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
        let mut persisted: Persisted = storage
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
            (Err(given), Some(last)) => {
                Workspace::load(last).map_err(|last| OpenError::NorTheLast {
                    given: Box::new(given),
                    last,
                })
            }
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
        let mine = workspace
            .as_ref()
            .ok()
            .and_then(|ws| persisted.workspaces.remove(&ws.root))
            .unwrap_or_default();
        let draft = workspace
            .as_ref()
            .ok()
            .and_then(|ws| restore_draft(&mine, ws));
        let mut bench = Workbench::new(workspace, form, draft, wake);
        bench.draft.fixture_name = mine.fixture_name;
        bench.draft.expect_code = mine.expect_code;
        bench.left_tab = mine.left_tab;
        bench.bottom_tab = mine.bottom_tab;
        if let Some(plan) = &mine.plan {
            bench.qualify.select_named(plan);
        }
        if demo_rows > 0 {
            bench.timeline = synthetic(demo_rows);
        }
        bench.timeline.set_filter(persisted.filter);
        let (dialog_tx, dialog_rx) = mpsc::channel();
        let mut app = Self {
            bench,
            panels: Panels {
                models: ModelsPanel::default(),
                builder: BuilderPanel::default(),
                fixtures: FixturesPanel::default(),
                timeline: timeline_panel::TimelineView::default(),
            },
            dialogs,
            dialog_tx,
            dialog_rx,
            commands: Vec::new(),
            others: persisted.workspaces,
            timing: timing.map(|started| (started, 0)),
        };
        app.bench.connect();
        app
    }

    /// Offers the sample at `sample` when there is no workspace (**Try the sample workspace**).
    pub fn with_sample(mut self, sample: Option<crate::workspace::SamplePlaces>) -> Self {
        self.bench.sample = sample;
        self
    }

    /// Selects a timeline row, as a click on it does.
    pub fn select_row(&mut self, row: usize) {
        self.panels.timeline.selected = Some(row);
    }

    /// The timeline row selected for its detail.
    pub fn selected_row(&self) -> Option<usize> {
        self.panels.timeline.selected
    }

    /// Applies the panels' commands and the dialogs' answers, then the background's news;
    /// called once per frame.
    fn apply_all(&mut self) {
        for command in std::mem::take(&mut self.commands) {
            match command {
                UiCommand::AskFile(purpose) => self.dialogs.ask(purpose, self.dialog_tx.clone()),
                UiCommand::ClearTimeline => {
                    self.panels.timeline.selected = None;
                    self.bench.apply(UiCommand::ClearTimeline);
                }
                command => self.bench.apply(command),
            }
        }
        while let Ok((purpose, path)) = self.dialog_rx.try_recv() {
            self.bench.chosen(purpose, path);
        }
        self.bench.poll();
    }

    fn persisted(&self) -> Persisted {
        let mut workspaces = self.others.clone();
        if let Some(root) = self.bench.workspace.root() {
            let bench = &self.bench;
            let (draft, mode, device) = saved_draft(bench.draft.draft());
            workspaces.insert(
                root.to_path_buf(),
                PerWorkspace {
                    draft,
                    mode,
                    device,
                    fixture_name: bench.draft.fixture_name.clone(),
                    expect_code: bench.draft.expect_code.clone(),
                    left_tab: bench.left_tab,
                    bottom_tab: bench.bottom_tab,
                    plan: bench.qualify.selected_name().map(str::to_owned),
                },
            );
        }
        Persisted {
            workspace: self.bench.workspace.root().map(Path::to_path_buf),
            connection: self.bench.connection.form.clone(),
            filter: self.bench.timeline.filter().clone(),
            workspaces,
        }
    }
}

/// The workbench's state, read without a frame: for tests and whoever embeds the window.
impl std::ops::Deref for WorkbenchApp {
    type Target = Workbench;

    fn deref(&self) -> &Workbench {
        &self.bench
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
        let bench = &mut self.bench;
        // A new filter's rows are found a slice at a time, so typing in the filter never
        // stalls the window; the rows found so far are drawn meanwhile.
        if !bench.timeline.scan_for(Some(SCAN_BUDGET)) {
            ctx.request_repaint();
        }
        // The plot reads new rows the same way, outside the panel.
        if !bench.plot.update(&bench.timeline, PLOT_BUDGET) {
            ctx.request_repaint();
        }
        // A running plan's clock, an export's progress, a suite waiting out an outage move on
        // between events.
        if bench.wants_frames() {
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
                    bench.timeline.len(),
                    bench.timeline.memory() as f64 / 1e6,
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
