//! Fixtures: the workspace's fixtures with Open and Run, "save the builder as a fixture", and the
//! suite table with pass/fail per fixture.

use egui_extras::{Column, TableBuilder};

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
    let messages = ws.root.join("messages");
    let file_of = |path: &std::path::Path| {
        path.strip_prefix(&messages)
            .unwrap_or(path)
            .display()
            .to_string()
    };
    // Throw-away view state: what the list is narrowed to.
    let search_id = ui.make_persistent_id("fixture-search");
    let mut search: String = ui.data(|d| d.get_temp(search_id)).unwrap_or_default();
    ui.horizontal(|ui| {
        let label = ui.label("Search fixtures");
        ui.add(
            egui::TextEdit::singleline(&mut search)
                .hint_text("name, file or code")
                .desired_width(160.0),
        )
        .labelled_by(label.id);
    });
    ui.data_mut(|d| d.insert_temp(search_id, search.clone()));
    let needle = search.trim().to_lowercase();
    let shown: Vec<_> = ws
        .fixtures
        .iter()
        .filter(|entry| {
            needle.is_empty()
                || file_of(&entry.path).to_lowercase().contains(&needle)
                || entry.fixture.as_ref().is_ok_and(|f| {
                    f.name.to_lowercase().contains(&needle)
                        || f.expect
                            .code
                            .map_or(needle == "none", |c| c.to_string() == needle)
                })
        })
        .collect();
    ui.horizontal(|ui| {
        if needle.is_empty() {
            ui.strong(format!("Fixtures ({})", ws.fixtures.len()));
        } else {
            ui.strong(format!(
                "Fixtures ({} of {})",
                shown.len(),
                ws.fixtures.len()
            ));
        }
        let paths: Vec<_> = shown.iter().map(|f| f.path.clone()).collect();
        let run = if needle.is_empty() {
            "Run all"
        } else {
            "Run shown"
        };
        if ui
            .add_enabled(!paths.is_empty(), egui::Button::new(run))
            .clicked()
        {
            commands.push(UiCommand::RunSuite(paths));
        }
        if ui.button("Run folder…").clicked() {
            commands.push(UiCommand::AskFile(DialogPurpose::SuiteFolder));
        }
    });
    // The buttons and the code first, the name last and cut to the panel's width: a long name
    // never widens the panel over the builder.
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            for entry in shown {
                let file = file_of(&entry.path);
                ui.horizontal(|ui| {
                    let loaded = entry.fixture.is_ok();
                    if file_button(ui, "Open", &file, loaded)
                        .on_hover_text(format!("Open {file} in the builder"))
                        .clicked()
                    {
                        commands.push(UiCommand::OpenFixture(entry.path.clone()));
                    }
                    if file_button(ui, "Run", &file, true)
                        .on_hover_text(format!("Run {file} as a suite of one"))
                        .clicked()
                    {
                        commands.push(UiCommand::RunSuite(vec![entry.path.clone()]));
                    }
                    match &entry.fixture {
                        Ok(fixture) => {
                            let (expect, hover) = match fixture.expect.code {
                                Some(code) => (
                                    code.to_string(),
                                    format!("expects {code} {}", code.meaning()),
                                ),
                                None => ("none".to_owned(), "expects no reply".to_owned()),
                            };
                            ui.add_sized(
                                [44.0, ui.spacing().interact_size.y],
                                egui::Label::new(egui::RichText::new(expect).monospace()),
                            )
                            .on_hover_text(hover);
                            ui.add(egui::Label::new(&fixture.name).truncate())
                                .on_hover_text(format!("{}\n{file}", fixture.name));
                        }
                        Err(e) => {
                            ui.add(
                                egui::Label::new(
                                    egui::RichText::new(e.to_string())
                                        .color(ui.visuals().error_fg_color),
                                )
                                .truncate(),
                            )
                            .on_hover_text(e.to_string());
                        }
                    }
                });
            }
        });
}

/// A small button showing `verb`, whose accessible name also says which file it acts on.
fn file_button(ui: &mut egui::Ui, verb: &str, file: &str, enabled: bool) -> egui::Response {
    let response = ui.add_enabled(enabled, egui::Button::new(verb).small());
    let name = format!("{verb} {file}");
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, enabled, &name));
    response
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
    });
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
                            if result.passed {
                                ui.colored_label(egui::Color32::from_rgb(80, 200, 120), "PASS");
                            } else {
                                ui.colored_label(ui.visuals().error_fg_color, "FAIL");
                            }
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
                    Err((path, error)) => {
                        row.col(|ui| {
                            ui.colored_label(ui.visuals().error_fg_color, "ERROR");
                        });
                        row.col(|ui| {
                            ui.add(egui::Label::new(path.display().to_string()).truncate());
                        });
                        row.col(|_| {});
                        row.col(|ui| {
                            ui.colored_label(ui.visuals().error_fg_color, error)
                                .on_hover_text(error);
                        });
                    }
                }
            });
        });
}
