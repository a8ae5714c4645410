//! Watch mode: start and stop, a summary per device, and every watched message with the
//! checker's code beside the hub's, each one saved as a fixture with one click.

use super::UiCommand;
use super::watching::Watching;

/// Draws watch mode.
pub fn watch_ui(
    ui: &mut egui::Ui,
    watching: Option<&Watching>,
    connected: bool,
    commands: &mut Vec<UiCommand>,
) {
    let running = watching.is_some_and(|w| w.session.is_some());
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
    ui.columns(2, |columns| {
        summary_ui(&mut columns[0], watching);
        messages_ui(&mut columns[1], watching, commands);
    });
}

fn summary_ui(ui: &mut egui::Ui, watching: &Watching) {
    ui.strong("By device");
    egui::ScrollArea::vertical()
        .id_salt("watch-devices")
        .show(ui, |ui| {
            egui::Grid::new("watch-devices-grid")
                .striped(true)
                .num_columns(5)
                .show(ui, |ui| {
                    for title in [
                        "device",
                        "messages",
                        "valid",
                        "invalid by code",
                        "mean interval",
                    ] {
                        ui.strong(title);
                    }
                    ui.end_row();
                    for (device, summary) in &watching.devices {
                        ui.label(device);
                        ui.label(summary.messages.to_string());
                        ui.label(summary.valid.to_string());
                        let invalid: Vec<String> = summary
                            .invalid
                            .iter()
                            .map(|(code, n)| format!("{code}×{n}"))
                            .collect();
                        ui.label(invalid.join(" "));
                        ui.label(
                            summary
                                .mean_interval_ms()
                                .map_or("-".to_owned(), |ms| format!("{:.1} s", ms / 1000.0)),
                        );
                        ui.end_row();
                    }
                });
        });
}

fn messages_ui(ui: &mut egui::Ui, watching: &Watching, commands: &mut Vec<UiCommand>) {
    ui.strong("Messages");
    let row_height = ui.spacing().interact_size.y;
    let watched = watching.watched();
    egui::ScrollArea::vertical()
        .id_salt("watch-messages")
        .stick_to_bottom(true)
        .auto_shrink([false, false])
        .show_rows(ui, row_height, watched.len(), |ui, range| {
            for index in range {
                let Some(w) = watched.get(index) else {
                    continue;
                };
                ui.horizontal(|ui| {
                    let (verdict, color) = match w.actual {
                        None => ("waiting", ui.visuals().weak_text_color()),
                        Some(_) if w.agrees() => ("AGREE", egui::Color32::from_rgb(80, 200, 120)),
                        Some(_) => ("DISAGREE", ui.visuals().error_fg_color),
                    };
                    ui.colored_label(color, verdict);
                    let method = w.topic.rsplit('/').take(2).collect::<Vec<_>>();
                    ui.label(format!(
                        "#{} {}  predicted {}  hub {}",
                        index + 1,
                        method.into_iter().rev().collect::<Vec<_>>().join("/"),
                        w.predicted,
                        w.actual.map_or("-".to_owned(), |c| c.to_string())
                    ))
                    .on_hover_text(w.finding.clone().unwrap_or_else(|| w.topic.clone()));
                    if ui
                        .small_button(format!("Save #{}", index + 1))
                        .on_hover_text("Save as a fixture in messages/, expecting the hub's code")
                        .clicked()
                    {
                        commands.push(UiCommand::SaveWatched(index));
                    }
                });
            }
        });
}
