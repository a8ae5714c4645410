//! The window. For now: the workspace's models and fixtures, each fixture sent with one click
//! through the same runner as `thingbench run`, with its reply code beside it. The workbench
//! panels (batch builder, live check, timeline) come next.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc;

use crate::runner::worker::{WorkerCommand, WorkerEvent, start_worker};
use crate::runner::{CaseResult, Outcome};
use crate::workspace::Workspace;

/// Where the connection stands.
enum Connection {
    Connecting,
    Ready(String),
    Failed(String),
}

/// The thingbench window.
pub struct WorkbenchApp {
    workspace: Result<Workspace, String>,
    connection: Connection,
    commands: Option<mpsc::Sender<WorkerCommand>>,
    events: Option<mpsc::Receiver<WorkerEvent>>,
    results: HashMap<PathBuf, Result<CaseResult, String>>,
    running: usize,
}

impl WorkbenchApp {
    /// The window on a workspace, connecting to `broker` or to the embedded broker and hub.
    pub fn new(
        workspace: Result<Workspace, String>,
        broker: Option<String>,
        ctx: &egui::Context,
    ) -> Self {
        let (commands, events, connection) = match &workspace {
            Ok(ws) => {
                let ctx = ctx.clone();
                let (tx, rx) = start_worker(
                    ws.root.clone(),
                    broker,
                    Box::new(move || ctx.request_repaint()),
                );
                (Some(tx), Some(rx), Connection::Connecting)
            }
            Err(e) => (None, None, Connection::Failed(e.clone())),
        };
        Self {
            workspace,
            connection,
            commands,
            events,
            results: HashMap::new(),
            running: 0,
        }
    }

    fn run(&mut self, paths: Vec<PathBuf>) {
        if let Some(commands) = &self.commands {
            self.running += paths.len();
            for path in &paths {
                self.results.remove(path);
            }
            let _ = commands.send(WorkerCommand::Run(paths));
        }
    }

    fn apply_events(&mut self) {
        let Some(events) = &self.events else { return };
        for event in events.try_iter() {
            match event {
                WorkerEvent::Ready { broker } => self.connection = Connection::Ready(broker),
                WorkerEvent::Failed(e) => self.connection = Connection::Failed(e),
                WorkerEvent::BadFixture { path, error } => {
                    self.running = self.running.saturating_sub(1);
                    self.results.insert(path, Err(error));
                }
                WorkerEvent::Result(result) => {
                    self.running = self.running.saturating_sub(1);
                    self.results.insert(result.path.clone(), Ok(result));
                }
            }
        }
    }
}

impl eframe::App for WorkbenchApp {
    fn logic(&mut self, _ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.apply_events();
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        egui::Panel::top("connection").show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.heading("thingbench");
                ui.separator();
                match &self.connection {
                    Connection::Connecting => {
                        ui.spinner();
                        ui.label("starting the embedded broker and hub, connecting…");
                    }
                    Connection::Ready(url) => {
                        ui.label(format!("connected to {url} as the gateway"));
                    }
                    Connection::Failed(e) => {
                        ui.colored_label(ui.visuals().error_fg_color, e);
                    }
                }
            });
        });
        let mut to_run = Vec::new();
        egui::CentralPanel::default().show(ui, |ui| match &self.workspace {
            Err(e) => {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
            Ok(ws) => {
                let ready = matches!(self.connection, Connection::Ready(_));
                workspace_ui(ui, ws, &self.results, ready, self.running, &mut to_run);
            }
        });
        if !to_run.is_empty() {
            self.run(to_run);
        }
    }
}

fn workspace_ui(
    ui: &mut egui::Ui,
    ws: &Workspace,
    results: &HashMap<PathBuf, Result<CaseResult, String>>,
    ready: bool,
    running: usize,
    to_run: &mut Vec<PathBuf>,
) {
    ui.label(format!(
        "Workspace {} · gateway {} with {} sub-devices",
        ws.root.display(),
        ws.gateway(),
        ws.file.devices.len()
    ));
    ui.horizontal_wrapped(|ui| {
        ui.strong("Thing models:");
        for file in &ws.models {
            match &file.model {
                Ok(model) => {
                    ui.label(format!(
                        "{} ({} points)",
                        model.model_id,
                        model.points.len()
                    ));
                }
                Err(e) => {
                    ui.colored_label(ui.visuals().error_fg_color, e.to_string());
                }
            }
        }
    });
    for problem in &ws.problems {
        ui.colored_label(ui.visuals().warn_fg_color, problem);
    }
    ui.separator();
    ui.horizontal(|ui| {
        ui.strong(format!("Fixtures ({})", ws.fixtures.len()));
        if ui
            .add_enabled(ready, egui::Button::new("Run all"))
            .clicked()
        {
            to_run.extend(ws.fixtures.iter().map(|f| f.path.clone()));
        }
        if running > 0 {
            ui.spinner();
            ui.label(format!("{running} to go"));
        }
        let passed = results
            .values()
            .filter(|r| r.as_ref().is_ok_and(|r| r.passed))
            .count();
        if !results.is_empty() {
            ui.label(format!(
                "{passed} passed, {} failed",
                results.len() - passed
            ));
        }
    });
    egui::ScrollArea::vertical().show(ui, |ui| {
        egui::Grid::new("fixtures")
            .striped(true)
            .num_columns(4)
            .show(ui, |ui| {
                ui.strong("");
                ui.strong("fixture");
                ui.strong("expects");
                ui.strong("reply");
                ui.end_row();
                for entry in &ws.fixtures {
                    if ui.add_enabled(ready, egui::Button::new("Send")).clicked() {
                        to_run.push(entry.path.clone());
                    }
                    match &entry.fixture {
                        Ok(f) => {
                            ui.label(&f.name);
                            ui.label(
                                f.expect.code.map_or("no reply".to_owned(), |c| {
                                    format!("{c} {}", c.meaning())
                                }),
                            );
                        }
                        Err(e) => {
                            ui.colored_label(ui.visuals().error_fg_color, e.to_string());
                            ui.label("");
                        }
                    }
                    match results.get(&entry.path) {
                        None => {
                            ui.label("");
                        }
                        Some(Err(e)) => {
                            ui.colored_label(ui.visuals().error_fg_color, e);
                        }
                        Some(Ok(result)) => {
                            let color = if result.passed {
                                egui::Color32::from_rgb(80, 200, 120)
                            } else {
                                ui.visuals().error_fg_color
                            };
                            let (text, detail) = match &result.outcome {
                                Outcome::Replied { code, rtt, message } => (
                                    format!(
                                        "{code} {}  {:.2} ms",
                                        code.meaning(),
                                        rtt.as_secs_f64() * 1000.0
                                    ),
                                    message.clone().unwrap_or_default(),
                                ),
                                Outcome::NoReply { after } => (
                                    format!("no reply within {} ms", after.as_millis()),
                                    String::new(),
                                ),
                                Outcome::Lost { reason } => ("lost".to_owned(), reason.clone()),
                            };
                            let response = ui.colored_label(color, text);
                            if !detail.is_empty() {
                                response.on_hover_text(detail);
                            }
                        }
                    }
                    ui.end_row();
                }
            });
    });
}
