//! The top bar: the workspace, where the connection stands, and the last thing that happened.

use crate::transport::BrokerUrl;
use crate::workspace::Workspace;

use super::connection_panel::link_words;
use super::{LinkState, UiCommand};

/// Draws the top bar.
pub fn top_panel_ui(
    ui: &mut egui::Ui,
    workspace: &Result<Workspace, String>,
    link: &LinkState,
    broker: Option<&BrokerUrl>,
    status: Option<&(String, bool)>,
    commands: &mut Vec<UiCommand>,
) {
    ui.horizontal(|ui| {
        ui.heading("thingbench");
        ui.separator();
        if let Ok(ws) = workspace {
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
        let (words, error) = link_words(link);
        let text = match (link, broker) {
            (LinkState::Connected, Some(url)) => match workspace {
                Ok(ws) => format!("connected to {url} as the gateway {}", ws.gateway()),
                Err(_) => format!("connected to {url}"),
            },
            _ => words,
        };
        if matches!(link, LinkState::StartingEmbedded | LinkState::Connecting) {
            ui.spinner();
        }
        if error {
            ui.colored_label(ui.visuals().error_fg_color, text);
        } else {
            ui.label(text);
        }
        if let Some((message, error)) = status {
            ui.separator();
            if *error {
                ui.colored_label(ui.visuals().warn_fg_color, message);
            } else {
                ui.label(message);
            }
        }
    });
}
