//! The gateway and its sub-devices, with their login state and log-in / log-out buttons.

use crate::control::WorkspaceCtl;
use crate::workspace::Workspace;

use super::{UiCommand, theme};

/// Draws the device list; logging in and out are commands, answered by the hub.
pub fn devices_ui(
    ui: &mut egui::Ui,
    ws: &Workspace,
    workspace: &WorkspaceCtl,
    connected: bool,
    commands: &mut Vec<UiCommand>,
) {
    let gateway = ws.gateway();
    ui.horizontal(|ui| {
        match &ws.env {
            Some(env) => ui.label(format!("Gateway {gateway} (environment {env})")),
            None => ui.label(format!("Gateway {gateway}")),
        };
        if ui
            .add_enabled(connected, egui::Button::new("Log in all"))
            .on_hover_text("Log in every sub-device that has a secret")
            .clicked()
        {
            commands.push(UiCommand::LogInAll);
        }
    });
    ui.label("Sub-devices (login state as thingbench last set it):");
    let registry = workspace.registry();
    egui::Grid::new("devices")
        .striped(true)
        .num_columns(3)
        .show(ui, |ui| {
            for device in ws.sub_devices() {
                let logged_in = registry.logged_in.contains(&device);
                let model = ws
                    .file
                    .products
                    .get(&device.product_key.0)
                    .map_or("no model", String::as_str);
                ui.label(device.to_string()).on_hover_text(model);
                if logged_in {
                    ui.colored_label(theme::SUCCESS, "logged in");
                } else {
                    ui.colored_label(theme::weak(ui), "logged out");
                }
                let (verb, login) = if logged_in {
                    ("Log out", false)
                } else {
                    ("Log in", true)
                };
                // The button shows the verb; its accessible name says which device.
                let name = format!("{verb} {device}");
                let button = ui
                    .add_enabled(connected, egui::Button::new(verb))
                    .on_hover_text(&name);
                button.widget_info(|| {
                    egui::WidgetInfo::labeled(egui::Role::Button, connected, &name)
                });
                if button.clicked() {
                    commands.push(UiCommand::Login(device.clone(), login));
                }
                ui.end_row();
            }
        });
}
