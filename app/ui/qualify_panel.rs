//! The Qualify tab: pick a plan, start it, see where the device must connect, the phase in
//! force, the plan's commands and where each stands, the picture of the run, and each check's
//! verdict as it forms, with its evidence.

use super::{UiCommand, qualify_picture, theme};
use crate::control::{CommandLine, QualifyCtl, RunState};
use crate::qualify::{CommandStatus, Verdict};

/// Draws the Qualify tab.
pub fn qualify_ui(ui: &mut egui::Ui, qualify: &mut QualifyCtl, commands: &mut Vec<UiCommand>) {
    let running = qualify.running();
    ui.horizontal(|ui| {
        if running {
            if ui.button("Stop qualifying").clicked() {
                commands.push(UiCommand::StopQualify);
            }
        } else {
            plan_picker(ui, qualify);
            let label = ui.label("Device connects to");
            ui.add(
                egui::TextEdit::singleline(&mut qualify.listen)
                    .desired_width(140.0)
                    .hint_text("127.0.0.1:1884"),
            )
            .labelled_by(label.id);
            let ready = qualify
                .plans
                .get(qualify.selected)
                .is_some_and(|p| p.plan.is_ok());
            if ui
                .add_enabled(ready, egui::Button::new("Start qualifying"))
                .on_hover_text("Listen for the device and play the plan once it connects")
                .on_disabled_hover_text("Pick a plan that loads")
                .clicked()
            {
                commands.push(UiCommand::StartQualify);
            }
        }
    });
    if let Some(Err(error)) = qualify.plans.get(qualify.selected).map(|p| &p.plan) {
        ui.colored_label(theme::error(ui), error.to_string());
    }
    if qualify.plans.is_empty() {
        ui.weak("No plans: add one to the workspace's plans/ folder (see the README, \"Qualify a device\").");
    }
    let Some(run) = &qualify.run else {
        if let Some(Ok(plan)) = qualify.plans.get(qualify.selected).map(|p| &p.plan) {
            ui.separator();
            plan_preview(ui, plan);
        }
        return;
    };
    ui.separator();
    match run.state {
        RunState::Waiting => {
            ui.strong(format!(
                "Connect {} to mqtt://{} (signed with its secret): the plan starts at its first CONNECT",
                run.plan.device, run.listen
            ));
        }
        RunState::Running => {
            ui.label(format!(
                "{} on mqtt://{}: {:.1} of {:.1} s",
                run.plan.device,
                run.listen,
                run.elapsed().as_secs_f64(),
                run.plan.length().as_secs_f64()
            ));
        }
        RunState::Done => {
            let must = run.results.iter().filter(|r| r.fails_the_run()).count();
            let text = if must == 0 {
                format!("\"{}\": no MUST check failed", run.plan.name)
            } else {
                format!("\"{}\": {must} MUST check(s) failed", run.plan.name)
            };
            ui.horizontal(|ui| {
                ui.colored_label(theme::outcome(ui, must == 0), text);
                if ui.button("Export report…").clicked() {
                    commands.push(UiCommand::AskFile(
                        super::dialogs::DialogPurpose::ExportQualifyReport,
                    ));
                }
            });
        }
    }
    ui.add(egui::ProgressBar::new(run.progress()).desired_height(6.0));
    egui::Panel::left("qualify-phases")
        .resizable(true)
        .default_size(ui.available_width() * 0.35)
        .show(ui, |ui| {
            ui.strong("Phases");
            for (index, phase, begins) in run.plan.schedule() {
                let current = run.phase == Some(index) && run.state == RunState::Running;
                let text = format!(
                    "{:>5.1} s  {}  ({}, {:.1} s)",
                    begins.as_secs_f64(),
                    phase.name,
                    phase.describe(),
                    phase.length.as_secs_f64()
                );
                if current {
                    ui.strong(text);
                } else {
                    ui.label(text);
                }
            }
            if !run.commands.is_empty() {
                ui.separator();
                ui.strong("Commands");
                egui::ScrollArea::vertical()
                    .id_salt("qualify-commands")
                    .max_height(ui.available_height() * 0.5)
                    .show(ui, |ui| {
                        for command in &run.commands {
                            command_ui(ui, command);
                        }
                    });
            }
            ui.separator();
            egui::ScrollArea::vertical()
                .id_salt("qualify-log")
                .stick_to_bottom(true)
                .show(ui, |ui| {
                    for line in &run.log {
                        ui.weak(line);
                    }
                });
        });
    if let Some(picture) = &run.picture {
        let height = (ui.available_height() * 0.4).clamp(120.0, 260.0);
        qualify_picture::picture_ui(ui, picture, height);
    }
    ui.strong(if run.state == RunState::Done {
        "Verdicts"
    } else {
        "Verdicts so far"
    });
    // Long summaries and evidence wrap at the panel's edge instead of running past it.
    egui::ScrollArea::vertical()
        .id_salt("qualify-checks")
        .auto_shrink([false, false])
        .show(ui, |ui| {
            for result in &run.results {
                let color = match result.verdict {
                    Verdict::Pass => theme::SUCCESS,
                    Verdict::Fail => theme::error(ui),
                    Verdict::NotApplicable | Verdict::Pending => theme::weak(ui),
                };
                ui.horizontal_top(|ui| {
                    cell(
                        ui,
                        44.0,
                        egui::Label::new(
                            egui::RichText::new(result.verdict.name().to_uppercase()).color(color),
                        ),
                    );
                    cell(ui, 48.0, egui::Label::new(result.level.name()));
                    cell(ui, 170.0, egui::Label::new(result.check.id()).truncate())
                        .on_hover_text(result.check.rule());
                    ui.add(egui::Label::new(&result.summary).wrap());
                });
                if result.verdict == Verdict::Fail {
                    ui.indent(("evidence", result.check.id()), |ui| {
                        for evidence in &result.evidence {
                            let request = evidence.row.and_then(|n| run.row_of(n));
                            let place = request.map_or(String::new(), |r| format!("row {r}, "));
                            let text = format!(
                                "{place}{:.1} s: {}",
                                evidence.at_ms as f64 / 1000.0,
                                evidence.text
                            );
                            ui.add(egui::Label::new(egui::RichText::new(text).weak()).wrap());
                        }
                    });
                }
            }
        });
}

/// `label` at the left of a column `width` wide, so that the columns line up row after row.
fn cell(ui: &mut egui::Ui, width: f32, label: egui::Label) -> egui::Response {
    let height = ui.text_style_height(&egui::TextStyle::Body);
    ui.allocate_ui_with_layout(
        egui::vec2(width, height),
        egui::Layout::left_to_right(egui::Align::Center),
        |ui| {
            ui.set_min_width(width);
            ui.add(label)
        },
    )
    .inner
}

fn plan_picker(ui: &mut egui::Ui, qualify: &mut QualifyCtl) {
    let name = |i: usize| {
        qualify.plans.get(i).map_or("(no plans)".to_owned(), |p| {
            p.path
                .file_name()
                .map_or(String::new(), |n| n.to_string_lossy().into_owned())
        })
    };
    let label = ui.label("Plan");
    let selected = name(qualify.selected);
    let mut chosen = qualify.selected;
    egui::ComboBox::from_id_salt("qualify-plan")
        .selected_text(selected)
        .show_ui(ui, |ui| {
            for i in 0..qualify.plans.len() {
                ui.selectable_value(&mut chosen, i, name(i));
            }
        })
        .response
        .labelled_by(label.id);
    qualify.selected = chosen;
}

/// The selected plan before it runs: what the hub will do, and what is judged.
fn plan_preview(ui: &mut egui::Ui, plan: &crate::qualify::Plan) {
    ui.strong(format!(
        "\"{}\" for {}: {} phases, {:.0} s; the device reports every {:.1} s",
        plan.name,
        plan.device,
        plan.phases.len(),
        plan.length().as_secs_f64(),
        plan.period.as_secs_f64()
    ));
    let commands = CommandLine::of_plan(plan);
    // A line that wraps keeps its spacing: a column's own layout is justified, which would
    // stretch it.
    let left = egui::Layout::top_down(egui::Align::Min);
    ui.columns(3, |columns| {
        columns[0].with_layout(left, |ui| {
            ui.label("Phases");
            for (index, phase, begins) in plan.schedule() {
                ui.weak(format!(
                    "{}. {:>5.1} s  {}  ({}, {:.1} s)",
                    index + 1,
                    begins.as_secs_f64(),
                    phase.name,
                    phase.describe(),
                    phase.length.as_secs_f64()
                ));
            }
        });
        columns[1].with_layout(left, |ui| {
            ui.label("Commands");
            if commands.is_empty() {
                ui.weak("none: the command checks will be n/a");
            }
            for command in &commands {
                ui.weak(format!(
                    "{:>5.1} s  {}: {}",
                    command.due.as_secs_f64(),
                    command.target,
                    command.asked
                ));
            }
        });
        columns[2].with_layout(left, |ui| {
            ui.label("Checks");
            for check in crate::qualify::CheckId::ALL {
                ui.weak(format!("{:<6}  {}", plan.level(check).name(), check.id()))
                    .on_hover_text(check.rule());
            }
        });
    });
}

/// One command: when, to whom, what, and where it stands (held, sent, answered with its code),
/// with the reply's findings under it.
fn command_ui(ui: &mut egui::Ui, command: &CommandLine) {
    let color = match &command.status {
        CommandStatus::Answered(_) => theme::outcome(ui, command.good),
        CommandStatus::NoReply | CommandStatus::Never => theme::error(ui),
        CommandStatus::Held | CommandStatus::Sent => theme::warn(ui),
        CommandStatus::Waiting => theme::weak(ui),
    };
    ui.label(format!(
        "{:>5.1} s  {}: {}",
        command.due.as_secs_f64(),
        command.target,
        command.asked
    ))
    .on_hover_text(&command.place);
    ui.indent(("command", &command.place), |ui| {
        ui.colored_label(color, command.status.words());
        for finding in &command.findings {
            ui.add(egui::Label::new(egui::RichText::new(finding).weak()).wrap());
        }
    });
}
