//! The models browser: each product's measure points with type, definition, unit and quality,
//! a search box, and the load error of each model that failed. Only the rows on screen are
//! drawn, and the search reads text prepared once per workspace load.

use std::collections::HashSet;

use crate::control::WorkspaceCtl;
use crate::workspace::Workspace;

use super::theme;

/// The browser's own state: the search, the models folded away, and what they select.
#[derive(Default)]
pub struct ModelsPanel {
    search: String,
    /// Models folded away, by model id.
    folded: HashSet<String>,
    index: Index,
    /// The rows shown, for the search and folds they were found for.
    lines: Vec<Line>,
    lines_for: Option<(u64, String)>,
}

/// The workspace's points with their search text, made once per load.
#[derive(Default)]
struct Index {
    generation: Option<u64>,
    models: Vec<IndexedModel>,
}

struct IndexedModel {
    /// The model's place in `Workspace::models`.
    file: usize,
    model_id: String,
    /// `wb_inverter (invPk)`.
    title: String,
    /// Per point: identifier, name and type, lower-cased.
    haystacks: Vec<String>,
    /// Per point: its definition in a few words.
    definitions: Vec<String>,
    /// The longest identifier, in characters, to size the point column.
    longest: usize,
}

/// One row of the browser.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Line {
    /// A model's title, with how many of its points match.
    Model {
        model: usize,
        shown: usize,
    },
    Point {
        model: usize,
        point: usize,
    },
}

impl Index {
    fn of(ws: &Workspace, generation: u64) -> Self {
        let models = ws
            .models
            .iter()
            .enumerate()
            .filter_map(|(file, entry)| {
                let model = entry.model.as_ref().ok()?;
                let products: Vec<&str> = ws
                    .file
                    .products
                    .iter()
                    .filter(|(_, id)| **id == model.model_id)
                    .map(|(pk, _)| pk.as_str())
                    .collect();
                Some(IndexedModel {
                    file,
                    model_id: model.model_id.clone(),
                    title: format!("{} ({})", model.model_id, products.join(", ")),
                    haystacks: model
                        .points
                        .iter()
                        .map(|p| {
                            format!("{}\n{}\n{}", p.identifier, p.name, p.data_type.name())
                                .to_lowercase()
                        })
                        .collect(),
                    definitions: model
                        .points
                        .iter()
                        .map(|p| p.data_type.definition_summary())
                        .collect(),
                    longest: model
                        .points
                        .iter()
                        .map(|p| p.identifier.chars().count())
                        .max()
                        .unwrap_or(0),
                })
            })
            .collect();
        Self {
            generation: Some(generation),
            models,
        }
    }
}

impl ModelsPanel {
    /// Draws the browser.
    pub fn ui(&mut self, ui: &mut egui::Ui, workspace: &WorkspaceCtl) {
        let Ok(ws) = workspace.get() else { return };
        let generation = workspace.generation();
        if self.index.generation != Some(generation) {
            self.index = Index::of(ws, generation);
            self.lines_for = None;
        }
        let label = ui.label("Search points");
        ui.add(egui::TextEdit::singleline(&mut self.search).hint_text("identifier, name or type"))
            .labelled_by(label.id);
        for problem in &ws.problems {
            ui.colored_label(theme::warn(ui), problem);
        }
        for file in &ws.models {
            if let Err(e) = &file.model {
                ui.colored_label(theme::error(ui), e.to_string());
            }
        }
        let key = (generation, self.search.trim().to_lowercase());
        if self.lines_for.as_ref() != Some(&key) {
            self.lines = self.find_lines(&key.1);
            self.lines_for = Some(key);
        }
        self.table_ui(ui, ws);
    }

    /// The rows for `needle`: every model's title, and its matching points unless folded.
    fn find_lines(&self, needle: &str) -> Vec<Line> {
        let mut lines = Vec::new();
        for (m, model) in self.index.models.iter().enumerate() {
            let at = lines.len();
            lines.push(Line::Model { model: m, shown: 0 });
            let folded = self.folded.contains(&model.model_id);
            let mut shown = 0;
            for (p, haystack) in model.haystacks.iter().enumerate() {
                if needle.is_empty() || haystack.contains(needle) {
                    shown += 1;
                    if !folded {
                        lines.push(Line::Point { model: m, point: p });
                    }
                }
            }
            lines[at] = Line::Model { model: m, shown };
        }
        lines
    }

    fn table_ui(&mut self, ui: &mut egui::Ui, ws: &Workspace) {
        let row_height = ui.spacing().interact_size.y;
        let longest = self
            .index
            .models
            .iter()
            .map(|m| m.longest)
            .max()
            .unwrap_or(0);
        let widths = Widths::of(ui.available_width(), longest as f32 * 7.5);
        // The definition comes last, cut to the panel's width (a STRUCT's can be long);
        // hovering a point shows it whole.
        ui.horizontal(|ui| {
            for (title, width) in ["point", "type", "unit", "quality", "definition"]
                .into_iter()
                .zip(widths.all())
            {
                cell(
                    ui,
                    width,
                    row_height,
                    egui::Label::new(egui::RichText::new(title).strong()),
                );
            }
        });
        let mut toggled = None;
        egui::ScrollArea::vertical()
            .id_salt("models")
            .auto_shrink([false, false])
            .show_rows(ui, row_height, self.lines.len(), |ui, range| {
                for line in self.lines.get(range).unwrap_or_default() {
                    match *line {
                        Line::Model { model, shown } => {
                            let Some(indexed) = self.index.models.get(model) else {
                                continue;
                            };
                            let folded = self.folded.contains(&indexed.model_id);
                            let total = indexed.haystacks.len();
                            let count = if shown == total {
                                format!("{total} points")
                            } else {
                                format!("{shown} of {total} points")
                            };
                            let text = format!("{} · {count}", indexed.title);
                            let clicked = ui
                                .horizontal(|ui| {
                                    // The fold arrow as egui draws a collapsing header's.
                                    let side = row_height * 0.6;
                                    let (_, arrow) = ui.allocate_exact_size(
                                        egui::vec2(side, side),
                                        egui::Sense::hover(),
                                    );
                                    let openness = if folded { 0.0 } else { 1.0 };
                                    egui::collapsing_header::paint_default_icon(
                                        ui, openness, &arrow,
                                    );
                                    ui.add(
                                        egui::Button::new(egui::RichText::new(text).strong())
                                            .frame(false)
                                            .truncate(),
                                    )
                                    .on_hover_text("Fold or unfold this model")
                                    .clicked()
                                })
                                .inner;
                            if clicked {
                                toggled = Some(indexed.model_id.clone());
                            }
                        }
                        Line::Point { model, point } => {
                            let Some(indexed) = self.index.models.get(model) else {
                                continue;
                            };
                            let Some(Ok(thing)) = ws.models.get(indexed.file).map(|f| &f.model)
                            else {
                                continue;
                            };
                            let (Some(p), Some(definition)) =
                                (thing.points.get(point), indexed.definitions.get(point))
                            else {
                                continue;
                            };
                            ui.horizontal(|ui| {
                                cell(
                                    ui,
                                    widths.point,
                                    row_height,
                                    egui::Label::new(&p.identifier).truncate(),
                                )
                                .on_hover_text(format!(
                                    "{}\n{}\n{} {definition}",
                                    p.name,
                                    p.desc,
                                    p.data_type.name()
                                ));
                                cell(
                                    ui,
                                    widths.kind,
                                    row_height,
                                    egui::Label::new(p.data_type.name()),
                                );
                                let unit = p.unit.as_ref().map_or("", |u| u.unit_id.as_str());
                                cell(
                                    ui,
                                    widths.unit,
                                    row_height,
                                    egui::Label::new(unit).truncate(),
                                );
                                let quality = if p.has_quality { "yes" } else { "" };
                                cell(ui, widths.quality, row_height, egui::Label::new(quality));
                                cell(
                                    ui,
                                    widths.definition,
                                    row_height,
                                    egui::Label::new(definition).truncate(),
                                )
                                .on_hover_text(definition);
                            });
                        }
                    }
                }
            });
        if let Some(model_id) = toggled {
            if !self.folded.remove(&model_id) {
                self.folded.insert(model_id);
            }
            self.lines_for = None;
        }
    }
}

/// The columns' widths for a panel this wide.
struct Widths {
    point: f32,
    kind: f32,
    unit: f32,
    quality: f32,
    definition: f32,
}

impl Widths {
    /// Widths for a panel this wide, whose identifiers want `point` points: the identifier
    /// first, the definition gets what is left.
    fn of(width: f32, point: f32) -> Self {
        let (kind, unit, quality) = (72.0, 36.0, 48.0);
        let rest = (width - kind - unit - quality - 40.0).max(100.0);
        let point = point.clamp(60.0, (rest - 40.0).max(60.0));
        Self {
            point,
            kind,
            unit,
            quality,
            definition: (rest - point).max(40.0),
        }
    }

    fn all(&self) -> [f32; 5] {
        [
            self.point,
            self.kind,
            self.unit,
            self.quality,
            self.definition,
        ]
    }
}

/// A widget in a cell of a fixed width, left-aligned.
fn cell(ui: &mut egui::Ui, width: f32, height: f32, widget: impl egui::Widget) -> egui::Response {
    ui.allocate_ui_with_layout(
        egui::vec2(width, height),
        egui::Layout::left_to_right(egui::Align::Center),
        |ui| {
            ui.set_width(width);
            ui.add(widget)
        },
    )
    .inner
}
