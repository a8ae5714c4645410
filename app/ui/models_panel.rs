//! The models browser: each product's measure points with type, definition, unit and quality,
//! then its services (call type, inputs and outputs) and events (type, outputs) with their
//! data points' types, a search box, and the load error of each model that failed. Only the
//! rows on screen are drawn, and the search reads text prepared once per workspace load.

use std::collections::HashSet;

use crate::control::WorkspaceCtl;
use crate::model::{DataPoint, ThingModel};
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
    /// Its services, then its events.
    members: Vec<Member>,
    /// ` · 1 service · 2 events`, or nothing for a model without.
    members_note: String,
}

/// A service or an event of a model, with its rows' text made once.
struct Member {
    /// `service setPowerLimit`, `event overTemp`.
    title: String,
    /// The call type of a service, the type of an event.
    kind: &'static str,
    /// Its name and description.
    about: String,
    /// Identifier, name and kind of the member and of its data points, lower-cased.
    haystack: String,
    data: Vec<DataRow>,
}

/// One input or output of a service, or output of an event.
struct DataRow {
    /// `input limit`, `output applied`.
    label: String,
    kind: &'static str,
    unit: String,
    definition: String,
}

impl Member {
    fn new(
        title: String,
        kind: &'static str,
        about: [&str; 2],
        data: &[(&str, &[DataPoint])],
    ) -> Self {
        let data: Vec<DataRow> = data
            .iter()
            .flat_map(|(role, points)| {
                points.iter().map(move |p| DataRow {
                    label: format!("{role} {}", p.identifier),
                    kind: p.data_type.name(),
                    unit: p.unit.as_ref().map_or(String::new(), |u| u.unit_id.clone()),
                    definition: p.data_type.definition_summary(),
                })
            })
            .collect();
        let about = about
            .into_iter()
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join(" · ");
        let mut haystack = format!("{title}\n{about}\n{kind}");
        for row in &data {
            haystack.push('\n');
            haystack.push_str(&row.label);
            haystack.push('\n');
            haystack.push_str(row.kind);
        }
        Self {
            title,
            kind,
            about,
            haystack: haystack.to_lowercase(),
            data,
        }
    }

    /// The services and events of `model`, in that order.
    fn of(model: &ThingModel) -> Vec<Self> {
        let services = model.services.iter().map(|s| {
            Self::new(
                format!("service {}", s.identifier),
                s.call_type.name(),
                [&s.name, &s.desc],
                &[("input", &s.inputs), ("output", &s.outputs)],
            )
        });
        let events = model.events.iter().map(|e| {
            Self::new(
                format!("event {}", e.identifier),
                e.event_type.name(),
                [&e.name, &e.desc],
                &[("output", &e.outputs)],
            )
        });
        services.chain(events).collect()
    }
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
    /// A service's or an event's title.
    Member {
        model: usize,
        member: usize,
    },
    /// One of its inputs or outputs.
    Data {
        model: usize,
        member: usize,
        data: usize,
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
                    members: Member::of(model),
                    members_note: [
                        (model.services.len(), "service"),
                        (model.events.len(), "event"),
                    ]
                    .into_iter()
                    .map(|(n, what)| match n {
                        0 => String::new(),
                        1 => format!(" · 1 {what}"),
                        n => format!(" · {n} {what}s"),
                    })
                    .collect(),
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
            if folded {
                continue;
            }
            for (member, entry) in model.members.iter().enumerate() {
                if needle.is_empty() || entry.haystack.contains(needle) {
                    lines.push(Line::Member { model: m, member });
                    lines.extend((0..entry.data.len()).map(|data| Line::Data {
                        model: m,
                        member,
                        data,
                    }));
                }
            }
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
                            let text =
                                format!("{} · {count}{}", indexed.title, indexed.members_note);
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
                        Line::Member { model, member } => {
                            let Some(m) = self
                                .index
                                .models
                                .get(model)
                                .and_then(|m| m.members.get(member))
                            else {
                                continue;
                            };
                            ui.horizontal(|ui| {
                                cell(
                                    ui,
                                    widths.point,
                                    row_height,
                                    egui::Label::new(egui::RichText::new(&m.title).strong())
                                        .truncate(),
                                )
                                .on_hover_text(&m.about);
                                cell(ui, widths.kind, row_height, egui::Label::new(m.kind));
                                cell(ui, widths.unit, row_height, egui::Label::new(""));
                                cell(ui, widths.quality, row_height, egui::Label::new(""));
                                cell(
                                    ui,
                                    widths.definition,
                                    row_height,
                                    egui::Label::new(&m.about).truncate(),
                                );
                            });
                        }
                        Line::Data {
                            model,
                            member,
                            data,
                        } => {
                            let Some(d) = self
                                .index
                                .models
                                .get(model)
                                .and_then(|m| m.members.get(member))
                                .and_then(|m| m.data.get(data))
                            else {
                                continue;
                            };
                            ui.horizontal(|ui| {
                                cell(
                                    ui,
                                    widths.point,
                                    row_height,
                                    egui::Label::new(&d.label).truncate(),
                                );
                                cell(ui, widths.kind, row_height, egui::Label::new(d.kind));
                                cell(
                                    ui,
                                    widths.unit,
                                    row_height,
                                    egui::Label::new(&d.unit).truncate(),
                                );
                                cell(ui, widths.quality, row_height, egui::Label::new(""));
                                cell(
                                    ui,
                                    widths.definition,
                                    row_height,
                                    egui::Label::new(&d.definition).truncate(),
                                )
                                .on_hover_text(&d.definition);
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

#[cfg(test)]
mod tests {
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable as _;

    use super::*;

    fn harness() -> Harness<'static, (ModelsPanel, WorkspaceCtl)> {
        let workspace = WorkspaceCtl::fixed(Ok(crate::control::testing::sample()));
        Harness::builder()
            .with_size([900.0, 1400.0])
            .build_ui_state(
                |ui, (panel, workspace): &mut (ModelsPanel, WorkspaceCtl)| panel.ui(ui, workspace),
                (ModelsPanel::default(), workspace),
            )
    }

    #[test]
    fn services_and_events_show_under_their_model_with_their_data_points() {
        let mut harness = harness();
        harness.run();
        harness.get_by_label_contains("wb_inverter (invPk) · 15 points · 1 service · 1 event");
        harness.get_by_label("service setPowerLimit");
        harness.get_by_label("input limit");
        harness.get_by_label("input mode");
        harness.get_by_label("output applied");
        harness.get_by_label("SYNC");
        harness.get_by_label("event overTemp");
        harness.get_by_label("WARN");
        harness.get_by_label("output temp");
        harness.get_by_label("output level");
        // The search finds a service by an input's name, with all its data points.
        harness.get_by_label("Search points").focus();
        harness.get_by_label("Search points").type_text("limit");
        harness.run();
        harness.get_by_label("service setPowerLimit");
        harness.get_by_label("output applied");
        assert!(harness.query_by_label("event overTemp").is_none());
        assert!(harness.query_by_label("Power").is_none());
    }

    #[test]
    fn a_folded_model_hides_its_services_and_events() {
        let mut harness = harness();
        harness.run();
        harness.get_by_label_contains("wb_inverter (invPk)").click();
        harness.run();
        assert!(harness.query_by_label("service setPowerLimit").is_none());
        assert!(harness.query_by_label("event overTemp").is_none());
        harness.get_by_label_contains("wb_meter (meterPk)");
    }
}
