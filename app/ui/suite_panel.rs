//! The suite table: pass or fail per fixture as the run goes, Stop, Export JUnit… and Export
//! report…, and the run's coverage.

use egui_extras::{Column, TableBuilder};

use crate::control::SuiteCtl;

use super::dialogs::DialogPurpose;
use super::{UiCommand, theme};

/// Draws the suite table.
pub fn suite_ui(ui: &mut egui::Ui, suite: &SuiteCtl, commands: &mut Vec<UiCommand>) {
    let passed = suite.passed();
    ui.horizontal(|ui| {
        if suite.queued > 0 {
            ui.spinner();
            ui.label(format!("{} to go", suite.queued));
            if ui.button("Stop").clicked() {
                commands.push(UiCommand::StopSuite);
            }
        }
        if !suite.results.is_empty() {
            let skipped = crate::runner::skipped_count(&suite.results);
            let failed = suite.results.len() - passed - skipped;
            ui.strong(if skipped > 0 {
                format!("{passed} passed, {failed} failed, {skipped} skipped")
            } else {
                format!("{passed} passed, {failed} failed")
            });
        }
        if let Some(note) = &suite.note {
            ui.colored_label(theme::warn(ui), note);
        }
        if !suite.results.is_empty()
            && ui
                .button("Export JUnit…")
                .on_hover_text(
                    "The results so far as JUnit XML, as `thingbench run --junit` writes",
                )
                .clicked()
        {
            commands.push(UiCommand::AskFile(DialogPurpose::ExportJunit));
        }
        if !suite.results.is_empty()
            && ui
                .button("Export report…")
                .on_hover_text(
                    "One HTML file with every result, its request and reply, and the coverage, as `thingbench run --report` writes",
                )
                .clicked()
        {
            commands.push(UiCommand::AskFile(DialogPurpose::ExportReport));
        }
    });
    // Which view is shown is throw-away widget state.
    let view = ui.make_persistent_id("suite-shows-coverage");
    let mut coverage = ui.data_mut(|d| *d.get_temp_mut_or_default::<bool>(view));
    ui.horizontal(|ui| {
        ui.selectable_value(&mut coverage, false, "Results");
        ui.selectable_value(&mut coverage, true, "Coverage");
    });
    ui.data_mut(|d| d.insert_temp(view, coverage));
    if coverage {
        super::coverage_panel::coverage_ui(ui, suite.evidence.coverage.as_ref());
        return;
    }
    let text_height = ui.text_style_height(&egui::TextStyle::Body) + 4.0;
    TableBuilder::new(ui)
        .id_salt("suite-table")
        .striped(true)
        .stick_to_bottom(true)
        .auto_shrink([false, false])
        .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
        .column(Column::exact(48.0))
        .column(Column::remainder().at_least(160.0).clip(true))
        .column(Column::auto().at_least(150.0))
        .column(Column::auto().at_least(220.0))
        .header(text_height, |mut header| {
            for title in ["", "fixture", "expected", "got"] {
                header.col(|ui| {
                    ui.strong(title);
                });
            }
        })
        .body(|body| {
            body.rows(text_height, suite.results.len(), |mut row| {
                let Some(result) = suite.results.get(row.index()) else {
                    return;
                };
                match result {
                    Ok(result) => {
                        row.col(|ui| {
                            let verdict = if result.passed { "PASS" } else { "FAIL" };
                            ui.colored_label(theme::outcome(ui, result.passed), verdict);
                        });
                        row.col(|ui| {
                            // A click opens the fixture in the builder, to see why it failed.
                            let name = ui
                                .add(
                                    egui::Label::new(&result.name)
                                        .truncate()
                                        .sense(egui::Sense::click()),
                                )
                                .on_hover_text(format!(
                                    "{}\n{}\nClick to open it in the builder",
                                    result.name,
                                    result.path.display()
                                ));
                            if name.clicked() {
                                commands.push(UiCommand::OpenFixture(result.path.clone()));
                            }
                        });
                        row.col(|ui| {
                            ui.label(
                                result.expected.map_or("no reply".to_owned(), |c| {
                                    format!("{c} {}", c.meaning())
                                }),
                            );
                        });
                        row.col(|ui| {
                            let response = ui.label(result.outcome.describe());
                            if !result.notes.is_empty() {
                                response.on_hover_text(result.notes.join("\n"));
                            }
                        });
                    }
                    Err(unloadable) => {
                        row.col(|ui| {
                            ui.colored_label(theme::error(ui), "FAIL");
                        });
                        row.col(|ui| {
                            let file = unloadable.path.display().to_string();
                            ui.add(egui::Label::new(file).truncate());
                        });
                        row.col(|_| {});
                        row.col(|ui| {
                            let message = unloadable.failure_message();
                            ui.colored_label(theme::error(ui), &message)
                                .on_hover_text(&message);
                        });
                    }
                }
            });
        });
}
