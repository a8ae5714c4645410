//! Watch mode: start and stop, a summary per device, and every watched message with the
//! checker's code beside the hub's, each one saved as a fixture with one click.

use egui_extras::{Column, TableBuilder};

use super::timeline_panel::clock;
use super::{UiCommand, theme};
use crate::control::WatchCtl;

/// Draws watch mode.
pub fn watch_ui(
    ui: &mut egui::Ui,
    watching: Option<&WatchCtl>,
    connected: bool,
    commands: &mut Vec<UiCommand>,
) {
    let running = watching.is_some_and(WatchCtl::running);
    ui.horizontal(|ui| match watching.filter(|_| running) {
        None => {
            if ui
                .add_enabled(connected, egui::Button::new("Start watching"))
                .on_hover_text(
                    "Subscribe to every device's measure-point and login topics and check what arrives",
                )
                .on_disabled_hover_text("Connect first")
                .clicked()
            {
                commands.push(UiCommand::StartWatch);
            }
            ui.weak("Checks traffic thingbench did not send: a real device's, on the same broker.");
        }
        Some(watching) => {
            if ui.button("Stop watching").clicked() {
                commands.push(UiCommand::StopWatch);
            }
            let watched = watching.watched();
            let answered: Vec<_> = watched.iter().filter(|w| w.actual.is_some()).collect();
            let agree = answered.iter().filter(|w| w.agrees()).count();
            ui.label(format!(
                "{} watched · {agree} agree · {} disagree · {} waiting or silent",
                watched.len(),
                answered.len() - agree,
                watched.len() - answered.len()
            ));
        }
    });
    let Some(watching) = watching else { return };
    ui.separator();
    // The summary on the left, the messages beside it; each table cuts its cells to its width.
    egui::Panel::left("watch-summary")
        .resizable(true)
        .default_size(ui.available_width() * 0.4)
        .show(ui, |ui| summary_ui(ui, watching));
    messages_ui(ui, watching, commands);
}

fn summary_ui(ui: &mut egui::Ui, watching: &WatchCtl) {
    ui.strong("By device");
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 4.0;
    TableBuilder::new(ui)
        .id_salt("watch-devices")
        .striped(true)
        .auto_shrink([false, false])
        .column(Column::initial(100.0).clip(true))
        .columns(Column::auto(), 2)
        .column(Column::remainder().at_least(60.0).clip(true))
        .columns(Column::auto(), 2)
        .header(row_height, |mut header| {
            for title in [
                "device",
                "messages",
                "valid",
                "invalid by code",
                "interval",
                "last seen",
            ] {
                header.col(|ui| {
                    ui.strong(title);
                });
            }
        })
        .body(|mut body| {
            for (device, summary) in &watching.devices {
                body.row(row_height, |mut row| {
                    row.col(|ui| {
                        ui.label(device);
                    });
                    row.col(|ui| {
                        ui.label(summary.messages.to_string());
                    });
                    row.col(|ui| {
                        ui.label(summary.valid.to_string());
                    });
                    row.col(|ui| {
                        let invalid: Vec<String> = summary
                            .invalid
                            .iter()
                            .map(|(code, n)| format!("{code}×{n}"))
                            .collect();
                        let text = invalid.join(" ");
                        ui.add(egui::Label::new(&text).truncate())
                            .on_hover_text(&text);
                    });
                    row.col(|ui| {
                        ui.label(
                            summary
                                .mean_interval_ms()
                                .map_or("-".to_owned(), |ms| format!("{:.1} s", ms / 1000.0)),
                        );
                    });
                    row.col(|ui| {
                        let last = summary.last_seen.map_or("-".to_owned(), |at| clock(at.0));
                        // To the second; the milliseconds are in the hover.
                        ui.label(last.get(..8).unwrap_or(&last))
                            .on_hover_text(format!("{last} UTC"));
                    });
                });
            }
        });
}

fn messages_ui(ui: &mut egui::Ui, watching: &WatchCtl, commands: &mut Vec<UiCommand>) {
    ui.strong("Messages");
    let row_height = ui.spacing().interact_size.y;
    let watched = watching.watched();
    // A narrow window scrolls the table sideways rather than hiding its last columns.
    egui::ScrollArea::horizontal()
        .id_salt("watch-messages-sideways")
        .show(ui, |ui| {
            messages_table_ui(ui, watched, row_height, commands)
        });
}

fn messages_table_ui(
    ui: &mut egui::Ui,
    watched: &[crate::runner::watch::Watched],
    row_height: f32,
    commands: &mut Vec<UiCommand>,
) {
    TableBuilder::new(ui)
        .id_salt("watch-messages")
        .striped(true)
        .stick_to_bottom(true)
        .auto_shrink([false, false])
        .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
        .column(Column::exact(70.0))
        .column(Column::auto().at_least(24.0))
        .column(Column::auto())
        .column(Column::initial(100.0).clip(true))
        .column(Column::initial(110.0).clip(true))
        .columns(Column::auto().at_least(36.0), 2)
        .column(Column::remainder().at_least(60.0).clip(true))
        .header(row_height, |mut header| {
            for title in [
                "",
                "#",
                "",
                "device",
                "method",
                "predicted",
                "hub",
                "finding",
            ] {
                header.col(|ui| {
                    ui.strong(title);
                });
            }
        })
        .body(|body| {
            body.rows(row_height, watched.len(), |mut row| {
                let index = row.index();
                let Some(w) = watched.get(index) else {
                    return;
                };
                row.col(|ui| {
                    let (verdict, color) = match w.actual {
                        None => ("waiting", theme::weak(ui)),
                        Some(_) if w.agrees() => ("AGREE", theme::SUCCESS),
                        Some(_) => ("DISAGREE", theme::error(ui)),
                    };
                    ui.colored_label(color, verdict);
                });
                row.col(|ui| {
                    ui.label(format!("{}", index + 1));
                });
                row.col(|ui| {
                    if ui
                        .small_button(format!("Save #{}", index + 1))
                        .on_hover_text("Save as a fixture in messages/, expecting the hub's code")
                        .clicked()
                    {
                        commands.push(UiCommand::SaveWatched(index));
                    }
                });
                row.col(|ui| {
                    let devices: Vec<String> = w.devices.iter().map(ToString::to_string).collect();
                    let text = devices.join(", ");
                    ui.add(egui::Label::new(&text).truncate())
                        .on_hover_text(&text);
                });
                row.col(|ui| {
                    let method = crate::protocol::parse_topic(&w.topic)
                        .map_or("(not the protocol's)", |t| t.method.name());
                    ui.add(egui::Label::new(method).truncate())
                        .on_hover_text(&w.topic);
                });
                row.col(|ui| {
                    ui.label(w.predicted.0.to_string())
                        .on_hover_text(w.predicted.meaning());
                });
                row.col(|ui| match w.actual {
                    Some(code) => {
                        ui.label(code.0.to_string()).on_hover_text(code.meaning());
                    }
                    None => {
                        ui.weak("-");
                    }
                });
                row.col(|ui| {
                    let finding = w.finding.as_deref().unwrap_or_default();
                    ui.add(egui::Label::new(finding).truncate())
                        .on_hover_text(finding);
                });
            });
        });
}
