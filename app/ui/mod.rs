//! The window. For now an overview of the workspace; the workbench panels come next.

use crate::workspace::Workspace;

/// The thingbench window.
pub struct WorkbenchApp {
    workspace: Result<Workspace, String>,
}

impl WorkbenchApp {
    /// The window on a loaded workspace (or the error that stopped it loading).
    pub fn new(workspace: Result<Workspace, String>) -> Self {
        Self { workspace }
    }
}

impl eframe::App for WorkbenchApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        egui::CentralPanel::default().show(ui, |ui| {
            ui.heading("thingbench");
            match &self.workspace {
                Err(e) => {
                    ui.colored_label(ui.visuals().error_fg_color, e);
                }
                Ok(ws) => workspace_ui(ui, ws),
            }
        });
    }
}

fn workspace_ui(ui: &mut egui::Ui, ws: &Workspace) {
    ui.label(format!("Workspace {}", ws.root.display()));
    ui.label(format!(
        "Gateway {} with {} sub-devices",
        ws.gateway(),
        ws.file.devices.len()
    ));
    ui.separator();
    egui::ScrollArea::vertical().show(ui, |ui| {
        ui.strong("Thing models");
        for file in &ws.models {
            match &file.model {
                Ok(model) => {
                    ui.label(format!(
                        "{}: {} measure points",
                        model.model_id,
                        model.points.len()
                    ));
                }
                Err(e) => {
                    ui.colored_label(ui.visuals().error_fg_color, e.to_string());
                }
            }
        }
        for problem in &ws.problems {
            ui.colored_label(ui.visuals().warn_fg_color, problem);
        }
        ui.separator();
        ui.strong("Fixtures");
        for entry in &ws.fixtures {
            match &entry.fixture {
                Ok(f) => {
                    let code = f
                        .expect
                        .code
                        .map_or("no reply".to_owned(), |c| c.to_string());
                    ui.label(format!("{}  (expects {code})", f.name));
                }
                Err(e) => {
                    ui.colored_label(ui.visuals().error_fg_color, e.to_string());
                }
            }
        }
    });
}
