//! The top bar: the workspace and its environment, where the connection stands, and the last
//! thing that happened.

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
            environment_ui(ui, ws, commands);
        }
        let link = connection.link();
        let (words, error) = link.words();
        let text = match (link, connection.broker_url(), ws) {
            (LinkState::Connected, Some(url), Some(ws)) => match &ws.env {
                Some(env) => format!(
                    "connected to {url} as the gateway {} of environment {env}",
                    ws.gateway()
                ),
                None => format!("connected to {url} as the gateway {}", ws.gateway()),
            },
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

/// What the environment picker shows for the workspace as it is.
pub const NO_ENVIRONMENT: &str = "(none)";

/// The environment picker, when `workspace.json` names environments; choosing one reconnects.
fn environment_ui(
    ui: &mut egui::Ui,
    ws: &crate::workspace::Workspace,
    commands: &mut Vec<UiCommand>,
) {
    let names = ws.environment_names();
    if names.is_empty() {
        return;
    }
    let label = ui.label("Environment");
    let mut chosen = ws.env.clone();
    egui::ComboBox::from_id_salt("environment")
        .selected_text(chosen.as_deref().unwrap_or(NO_ENVIRONMENT))
        .show_ui(ui, |ui| {
            ui.selectable_value(&mut chosen, None, NO_ENVIRONMENT)
                .on_hover_text("The workspace as it is, without an environment's overrides");
            for name in names {
                let text = name.clone();
                ui.selectable_value(&mut chosen, Some(name), text);
            }
        })
        .response
        .labelled_by(label.id)
        .on_hover_text("Broker, gateway, sub-devices and variables of workspace.json's environments; choosing one reconnects");
    if chosen != ws.env {
        commands.push(UiCommand::SwitchEnv(chosen));
    }
    ui.separator();
}
