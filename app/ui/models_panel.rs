//! The models browser: each product's measure points with type, definition, unit and quality,
//! a search box, and the load error of each model that failed.

use crate::workspace::Workspace;

/// The browser's search text.
#[derive(Default)]
pub struct ModelsView {
    pub search: String,
}

/// Draws the browser.
pub fn models_ui(ui: &mut egui::Ui, view: &mut ModelsView, ws: &Workspace) {
    let ModelsView { search } = view;
    let label = ui.label("Search points");
    ui.add(egui::TextEdit::singleline(search).hint_text("identifier, name or type"))
        .labelled_by(label.id);
    let needle = search.trim().to_lowercase();
    for problem in &ws.problems {
        ui.colored_label(ui.visuals().warn_fg_color, problem);
    }
    egui::ScrollArea::vertical().show(ui, |ui| {
        for file in &ws.models {
            let model = match &file.model {
                Ok(model) => model,
                Err(e) => {
                    ui.colored_label(ui.visuals().error_fg_color, format!("{e}"));
                    continue;
                }
            };
            let products: Vec<&str> = ws
                .file
                .products
                .iter()
                .filter(|(_, id)| **id == model.model_id)
                .map(|(pk, _)| pk.as_str())
                .collect();
            let points: Vec<_> = model
                .points
                .iter()
                .filter(|p| {
                    needle.is_empty()
                        || p.identifier.to_lowercase().contains(&needle)
                        || p.name.to_lowercase().contains(&needle)
                        || p.data_type.name().to_lowercase().contains(&needle)
                })
                .collect();
            let title = format!(
                "{} ({}) · {} points",
                model.model_id,
                products.join(", "),
                model.points.len()
            );
            egui::CollapsingHeader::new(title)
                .id_salt(&model.model_id)
                .default_open(true)
                .open((!needle.is_empty()).then_some(!points.is_empty()))
                .show(ui, |ui| {
                    // The definition comes last, cut to the panel's width (a STRUCT's can be
                    // long); hovering a point shows it whole.
                    egui::Grid::new(("points", &model.model_id))
                        .striped(true)
                        .num_columns(5)
                        .show(ui, |ui| {
                            for title in ["point", "type", "unit", "quality", "definition"] {
                                ui.strong(title);
                            }
                            ui.end_row();
                            for point in points {
                                let definition = point.data_type.definition_summary();
                                ui.label(&point.identifier).on_hover_text(format!(
                                    "{}\n{}\n{} {definition}",
                                    point.name,
                                    point.desc,
                                    point.data_type.name()
                                ));
                                ui.label(point.data_type.name());
                                ui.label(point.unit.as_ref().map_or("", |u| u.unit_id.as_str()));
                                ui.label(if point.has_quality { "yes" } else { "" });
                                ui.add(egui::Label::new(&definition).truncate())
                                    .on_hover_text(&definition);
                                ui.end_row();
                            }
                        });
                });
        }
    });
}
