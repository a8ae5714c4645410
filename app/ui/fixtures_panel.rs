//! Fixtures: the workspace's fixtures with Open and Run, narrowed by a search, and "save the
//! builder as a fixture".

use crate::control::DraftCtl;
use crate::workspace::Workspace;

use super::dialogs::DialogPurpose;
use super::{UiCommand, theme};

/// The fixture list's own state: what it is narrowed to.
#[derive(Default)]
pub struct FixturesPanel {
    search: String,
}

impl FixturesPanel {
    /// Draws the save form (edited in place) and the fixture list (Open and Run are commands).
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        ws: &Workspace,
        draft: &mut DraftCtl,
        commands: &mut Vec<UiCommand>,
    ) {
        let Self { search } = self;
        fixtures_ui(ui, ws, draft, search, commands);
    }
}

fn fixtures_ui(
    ui: &mut egui::Ui,
    ws: &Workspace,
    draft: &mut DraftCtl,
    search: &mut String,
    commands: &mut Vec<UiCommand>,
) {
    let DraftCtl {
        fixture_name,
        expect_code,
        ..
    } = draft;
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
    ui.horizontal(|ui| {
        let label = ui.label("Search fixtures");
        ui.add(
            egui::TextEdit::singleline(search)
                .hint_text("name, file or code")
                .desired_width(160.0),
        )
        .labelled_by(label.id);
    });
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
    // A link loop or an unreadable folder in messages/ is named where its fixtures would be.
    for skipped in &ws.skipped {
        ui.add(egui::Label::new(egui::RichText::new(skipped).color(theme::error(ui))).truncate())
            .on_hover_text(skipped);
    }
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
                                    egui::RichText::new(e.to_string()).color(theme::error(ui)),
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
