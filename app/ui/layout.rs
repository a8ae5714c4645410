//! The window's layout: the top bar, the tabs on the left and at the bottom, the check on the
//! right and the builder in the middle, each drawing its controller.

use super::{
    BottomTab, LeftTab, UiCommand, WorkbenchApp, check_ui, connection_panel, devices_panel,
    dialogs::DialogPurpose, plot_panel, qualify_panel, suite_panel, theme, timeline_panel,
    top_panel, watch_panel,
};
use crate::control::{LinkState, Workbench};
use crate::workspace::SamplePlaces;

impl WorkbenchApp {
    /// Lays out the panels around the builder.
    pub(super) fn layout_ui(&mut self, ui: &mut egui::Ui, commands: &mut Vec<UiCommand>) {
        let Self { bench, panels, .. } = self;
        let status = bench.status().cloned();
        let Workbench {
            workspace,
            connection,
            draft,
            suite,
            watch,
            qualify,
            plot,
            timeline,
            left_tab,
            bottom_tab,
            timeline_export,
            sample,
            ..
        } = bench;
        egui::Panel::top("top").show(ui, |ui| {
            top_panel::top_panel_ui(ui, workspace, connection, status.as_ref(), commands);
        });
        let ws = match workspace.get() {
            Ok(ws) => ws,
            Err(e) => {
                no_workspace_ui(ui, &e.to_string(), sample.as_ref(), commands);
                return;
            }
        };
        let registry = workspace.registry();
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
                        ui.selectable_value(left_tab, tab, label);
                    }
                });
                ui.separator();
                match *left_tab {
                    LeftTab::Connection => {
                        connection_panel::connection_ui(ui, connection, ws, commands);
                    }
                    LeftTab::Models => panels.models.ui(ui, workspace),
                    LeftTab::Devices => devices_panel::devices_ui(
                        ui,
                        ws,
                        workspace,
                        connection.has_session(),
                        commands,
                    ),
                    LeftTab::Fixtures => panels.fixtures.ui(ui, ws, draft, commands),
                }
            });
        egui::Panel::bottom("bottom")
            .resizable(true)
            .default_size(340.0)
            .show(ui, |ui| {
                // The panel keeps its height whatever the tab shows.
                ui.set_min_height(ui.available_height());
                ui.horizontal(|ui| {
                    let tab = &mut *bottom_tab;
                    ui.selectable_value(
                        tab,
                        BottomTab::Timeline,
                        format!("Timeline ({})", timeline.len()),
                    );
                    let suite_label = if suite.queued > 0 {
                        format!("Suite ({} to go)", suite.queued)
                    } else {
                        "Suite".to_owned()
                    };
                    ui.selectable_value(tab, BottomTab::Suite, suite_label);
                    let watch_label = match watch {
                        Some(w) if w.running() => format!("Watch ({})", w.watched().len()),
                        _ => "Watch".to_owned(),
                    };
                    ui.selectable_value(tab, BottomTab::Watch, watch_label);
                    let qualify_label = if qualify.running() {
                        "Qualify (running)"
                    } else {
                        "Qualify"
                    };
                    ui.selectable_value(tab, BottomTab::Qualify, qualify_label);
                    ui.selectable_value(tab, BottomTab::Plot, "Plot");
                });
                ui.separator();
                match *bottom_tab {
                    BottomTab::Timeline => {
                        timeline_panel::timeline_ui(
                            ui,
                            timeline,
                            &mut panels.timeline,
                            timeline_export.as_ref(),
                            commands,
                        );
                    }
                    BottomTab::Suite => suite_panel::suite_ui(ui, suite, commands),
                    BottomTab::Watch => watch_panel::watch_ui(
                        ui,
                        watch.as_ref(),
                        *connection.link() == LinkState::Connected,
                        commands,
                    ),
                    BottomTab::Qualify => qualify_panel::qualify_ui(ui, qualify, commands),
                    BottomTab::Plot => plot_panel::plot_ui(ui, plot, registry),
                }
            });
        egui::Panel::right("check")
            .resizable(true)
            .default_size(390.0)
            .show(ui, |ui| {
                check_ui(
                    ui,
                    draft,
                    registry.max_payload,
                    connection.connected(),
                    commands,
                );
            });
        egui::CentralPanel::default().show(ui, |ui| {
            panels.builder.ui(ui, draft, ws, registry);
        });
    }
}

/// The window without a workspace: why, and Open workspace…, and Try the sample workspace
/// when one is installed.
fn no_workspace_ui(
    ui: &mut egui::Ui,
    error: &str,
    sample: Option<&SamplePlaces>,
    commands: &mut Vec<UiCommand>,
) {
    egui::CentralPanel::default().show(ui, |ui| {
        ui.heading("No workspace");
        ui.colored_label(theme::error(ui), error);
        ui.label("Start thingbench in a folder with fixtures/workspace.json, or pass --workspace DIR, or open one:");
        ui.horizontal(|ui| {
            if ui.button("Open workspace…").clicked() {
                commands.push(UiCommand::AskFile(DialogPurpose::Workspace));
            }
            if let Some(sample) = sample {
                let hint = format!(
                    "Copies the sample from {} to {} and opens the copy; a copy already there is opened as it is, with your changes",
                    sample.installed.display(),
                    sample.copy.display()
                );
                if ui
                    .button("Try the sample workspace")
                    .on_hover_text(hint)
                    .clicked()
                {
                    commands.push(UiCommand::TrySample);
                }
            }
        });
    });
}
