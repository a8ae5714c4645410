//! Fixtures: the workspace's fixtures with Open and Run, "save the builder as a fixture", and the
//! suite table with pass/fail per fixture.

use crate::workspace::Workspace;

use super::dialogs::DialogPurpose;
use super::{SuiteState, UiCommand};

/// Draws the fixture list and the save form.
pub fn fixtures_ui(
    ui: &mut egui::Ui,
    ws: &Workspace,
    fixture_name: &mut String,
    expect_code: &mut String,
    commands: &mut Vec<UiCommand>,
) {
    ui.strong("Save the builder as a fixture");
    egui::Grid::new("save-fixture")
        .num_columns(2)
        .show(ui, |ui| {
            let label = ui.label("Fixture name");
            ui.add(
                egui::TextEdit::singleline(fixture_name).hint_text("inverter: one quality point"),
            )
            .labelled_by(label.id);
            ui.end_row();
            let label = ui.label("Expected code");
            ui.add(
                egui::TextEdit::singleline(expect_code)
                    .hint_text("200, 1204… or \"no reply\"")
                    .desired_width(80.0),
            )
            .labelled_by(label.id);
            ui.end_row();
        });
    if ui
        .button("Save fixture")
        .on_hover_text("Write messages/<name>.json")
        .clicked()
    {
        commands.push(UiCommand::SaveDraft);
    }
    ui.separator();
    let paths: Vec<_> = ws.fixtures.iter().map(|f| f.path.clone()).collect();
    ui.horizontal(|ui| {
        ui.strong(format!("Fixtures ({})", ws.fixtures.len()));
        if ui.button("Run all").clicked() {
            commands.push(UiCommand::RunSuite(paths));
        }
        if ui.button("Run folder…").clicked() {
            commands.push(UiCommand::AskFile(DialogPurpose::SuiteFolder));
        }
    });
    let messages = ws.root.join("messages");
    egui::ScrollArea::vertical().show(ui, |ui| {
        egui::Grid::new("fixtures")
            .striped(true)
            .num_columns(3)
            .show(ui, |ui| {
                for entry in &ws.fixtures {
                    let file = entry
                        .path
                        .strip_prefix(&messages)
                        .unwrap_or(&entry.path)
                        .display()
                        .to_string();
                    match &entry.fixture {
                        Ok(fixture) => {
                            let expect = fixture
                                .expect
                                .code
                                .map_or("no reply".to_owned(), |c| c.to_string());
                            ui.label(format!("{}  (expects {expect})", fixture.name))
                                .on_hover_text(&file);
                        }
                        Err(e) => {
                            ui.colored_label(ui.visuals().error_fg_color, e.to_string());
                        }
                    }
                    ui.horizontal(|ui| {
                        if ui
                            .add_enabled(entry.fixture.is_ok(), egui::Button::new("Open").small())
                            .on_hover_text(format!("Open {file} in the builder"))
                            .clicked()
                        {
                            commands.push(UiCommand::OpenFixture(entry.path.clone()));
                        }
                        if ui
                            .add(egui::Button::new("Run").small())
                            .on_hover_text(format!("Run {file} as a suite of one"))
                            .clicked()
                        {
                            commands.push(UiCommand::RunSuite(vec![entry.path.clone()]));
                        }
                    });
                    ui.end_row();
                }
            });
    });
}

/// Draws the suite table.
pub fn suite_ui(ui: &mut egui::Ui, suite: &SuiteState, commands: &mut Vec<UiCommand>) {
    let passed = suite
        .results
        .iter()
        .filter(|r| r.as_ref().is_ok_and(|r| r.passed))
        .count();
    ui.horizontal(|ui| {
        if suite.queued > 0 {
            ui.spinner();
            ui.label(format!("{} to go", suite.queued));
            if ui.button("Stop").clicked() {
                commands.push(UiCommand::StopSuite);
            }
        }
        if !suite.results.is_empty() {
            ui.strong(format!(
                "{passed} passed, {} failed",
                suite.results.len() - passed
            ));
        }
        if let Some(note) = &suite.note {
            ui.colored_label(ui.visuals().warn_fg_color, note);
        }
    });
    egui::ScrollArea::vertical()
        .stick_to_bottom(true)
        .auto_shrink([false, false])
        .show(ui, |ui| {
            egui::Grid::new("suite")
                .striped(true)
                .num_columns(4)
                .show(ui, |ui| {
                    ui.strong("");
                    ui.strong("fixture");
                    ui.strong("expected");
                    ui.strong("got");
                    ui.end_row();
                    for result in &suite.results {
                        match result {
                            Ok(result) => {
                                if result.passed {
                                    ui.colored_label(egui::Color32::from_rgb(80, 200, 120), "PASS");
                                } else {
                                    ui.colored_label(ui.visuals().error_fg_color, "FAIL");
                                }
                                ui.label(&result.name)
                                    .on_hover_text(result.path.display().to_string());
                                ui.label(result.expected.map_or("no reply".to_owned(), |c| {
                                    format!("{c} {}", c.meaning())
                                }));
                                let response = ui.label(result.outcome.describe());
                                if !result.notes.is_empty() {
                                    response.on_hover_text(result.notes.join("\n"));
                                }
                            }
                            Err((path, error)) => {
                                ui.colored_label(ui.visuals().error_fg_color, "ERROR");
                                ui.label(path.display().to_string());
                                ui.label("");
                                ui.colored_label(ui.visuals().error_fg_color, error);
                            }
                        }
                        ui.end_row();
                    }
                });
        });
}
