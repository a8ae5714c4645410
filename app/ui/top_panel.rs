//! The top bar: the workspace, where the connection stands, and the last thing that happened.

use crate::control::{Connection, LinkState, Notice, WorkspaceCtl};

use super::{UiCommand, theme};

/// Draws the top bar.
pub fn top_panel_ui(
    ui: &mut egui::Ui,
    workspace: &WorkspaceCtl,
    connection: &Connection,
    status: Option<&Notice>,
    commands: &mut Vec<UiCommand>,
) {
    ui.horizontal(|ui| {
        ui.heading("thingbench");
        ui.separator();
        let ws = workspace.get().ok();
        if let Some(ws) = ws {
            ui.label(format!("workspace {}", ws.root.display()));
            if ui
                .small_button("Reload")
                .on_hover_text("Read models, fixtures and workspace.json again")
                .clicked()
            {
                commands.push(UiCommand::ReloadWorkspace);
            }
            ui.separator();
        }
        let link = connection.link();
        let (words, error) = link.words();
        let text = match (link, connection.broker_url(), ws) {
            (LinkState::Connected, Some(url), Some(ws)) => {
                format!("connected to {url} as the gateway {}", ws.gateway())
            }
            (LinkState::Connected, Some(url), None) => format!("connected to {url}"),
            _ => words,
        };
        if link.busy() {
            ui.spinner();
        }
        theme::notice_ui(ui, text, error);
        if let Some(hint) = connection.hint() {
            ui.separator();
            ui.colored_label(theme::warn(ui), hint);
        }
        if let Some(status) = status {
            ui.separator();
            if status.error {
                ui.colored_label(theme::warn(ui), &status.text);
            } else {
                ui.label(&status.text);
            }
        }
    });
}
