//! The event builder: the device posting it (the gateway or a sub-device, over the gateway's
//! connection), the event (a picker of the device's model's events), the time and an editor
//! per output; an INT, FLOAT or DOUBLE output may carry a quality.

use crate::control::DraftCtl;
use crate::control::draft_samples::seed;
use crate::model::{DataType, Event, Registry, ThingModel};
use crate::workspace::{Doc, EventPost, PointEntry, Workspace, output_sample};

use super::builder_panel::{quality_ui, time_ui};
use super::command_builder::{device_picker_ui, model_of, target_model_ui, target_of};
use super::theme;
use super::value_editor::{json_field_ui, row_controls_ui, value_ui};

/// Draws the event builder; every edit goes to `draft` in place.
pub fn event_ui(ui: &mut egui::Ui, draft: &mut DraftCtl, ws: &Workspace, registry: &Registry) {
    let device = target_of(draft, ws);
    let id = ui.make_persistent_id("event-builder");
    if let Some(chosen) = device_picker_ui(ui, id, &device, ws) {
        // Another device's model may not declare the event: post its first one instead.
        if let Some(first) = model_of(&chosen, ws, registry).and_then(|m| m.events.first()) {
            draft.edit(|doc| match doc {
                Doc::Event(post) if post.event != first.identifier => {
                    let has_it = model_of(&chosen, ws, registry)
                        .is_some_and(|m| m.event(&post.event).is_some());
                    if !has_it {
                        *post = EventPost::sample(first, seed());
                    }
                    !has_it
                }
                _ => false,
            });
        }
        draft.set_device(chosen);
    }
    let model = target_model_ui(ui, draft, ws, registry);
    if model.is_some_and(|m| m.events.is_empty()) {
        ui.colored_label(
            theme::warn(ui),
            format!(
                "the model of {} declares no event",
                target_of(draft, ws).product_key
            ),
        );
    }
    draft.edit(|doc| {
        let Doc::Event(post) = doc else {
            return false;
        };
        post_ui(ui, id, post, model)
    });
}

/// The event, the time, the outputs; returns whether anything changed.
fn post_ui(
    ui: &mut egui::Ui,
    id: egui::Id,
    post: &mut EventPost,
    model: Option<&ThingModel>,
) -> bool {
    let mut changed = false;
    let events = model.map(|m| m.events.as_slice()).unwrap_or_default();
    ui.horizontal(|ui| {
        let label = ui.label("event");
        egui::ComboBox::from_id_salt(id.with("event"))
            .selected_text(post.event.as_str())
            .show_ui(ui, |ui| {
                for event in events {
                    let text = format!("{} ({})", event.identifier, event.event_type.name());
                    if ui
                        .selectable_label(event.identifier == post.event, text)
                        .clicked()
                        && event.identifier != post.event
                    {
                        post.event = event.identifier.clone();
                        post.fill_samples(event, seed());
                        changed = true;
                    }
                }
            })
            .response
            .labelled_by(label.id);
        changed |= time_ui(ui, id, &mut post.time);
    });
    let event = model.and_then(|m| m.event(&post.event));
    match event {
        Some(event) if !event.desc.is_empty() => {
            ui.weak(&event.desc);
        }
        Some(_) => {}
        None if !events.is_empty() => {
            ui.colored_label(
                theme::warn(ui),
                format!("{} is not an event of the model", post.event),
            );
        }
        None => {}
    }
    if let Some(event) = event {
        changed |= add_output_ui(ui, id, post, event);
    }
    ui.separator();
    changed | outputs_ui(ui, id, post, event)
}

/// "Add output" (the outputs the post leaves out) and "Fill samples".
fn add_output_ui(ui: &mut egui::Ui, id: egui::Id, post: &mut EventPost, event: &Event) -> bool {
    let mut changed = false;
    ui.horizontal_wrapped(|ui| {
        let label = ui.label("Add output");
        egui::ComboBox::from_id_salt(id.with("add"))
            .selected_text("choose…")
            .show_ui(ui, |ui| {
                for output in &event.outputs {
                    if post
                        .outputs
                        .iter()
                        .any(|o| o.identifier == output.identifier)
                    {
                        continue;
                    }
                    let text = format!("{} ({})", output.identifier, output.data_type.name());
                    if ui.selectable_label(false, text).clicked() {
                        post.outputs.push(output_sample(output, seed()));
                        changed = true;
                    }
                }
            })
            .response
            .labelled_by(label.id);
        if ui
            .button("Fill samples")
            .on_hover_text("A valid value for every output of the event")
            .clicked()
        {
            post.fill_samples(event, seed());
            changed = true;
        }
    });
    changed
}

/// One row per output: its name and type, its quality (numbers only), remove, JSON, the value.
fn outputs_ui(
    ui: &mut egui::Ui,
    id: egui::Id,
    post: &mut EventPost,
    event: Option<&Event>,
) -> bool {
    let mut changed = false;
    if post.outputs.is_empty() {
        ui.weak("No outputs: add the event's outputs.");
    }
    let mut remove = None;
    egui::Grid::new(id.with("outputs"))
        .num_columns(5)
        .striped(true)
        .show(ui, |ui| {
            for (o, output) in post.outputs.iter_mut().enumerate() {
                let spec = event.and_then(|e| e.output(&output.identifier));
                let label = ui.label(output.identifier.as_str());
                let label = match spec {
                    Some(spec) => {
                        ui.weak(spec.data_type.name());
                        label.on_hover_text(&spec.name)
                    }
                    None => {
                        ui.colored_label(theme::warn(ui), "not in event");
                        label
                    }
                };
                let numeric = spec.is_some_and(|s| {
                    matches!(
                        s.data_type,
                        DataType::Int | DataType::Float | DataType::Double
                    )
                });
                let row_id = id.with(("output", o));
                ui.horizontal(|ui| {
                    changed |= output_quality_ui(ui, row_id, output, numeric);
                });
                let (removed, raw) = row_controls_ui(
                    ui,
                    row_id.with("raw"),
                    spec.is_some(),
                    "Leave this output out",
                    &format!("Remove output {}", output.identifier),
                );
                if removed {
                    remove = Some(o);
                }
                ui.horizontal(|ui| {
                    changed |= match spec {
                        Some(spec) if !raw => {
                            value_ui(ui, row_id, label.id, &spec.data_type, &mut output.value)
                        }
                        _ => json_field_ui(ui, row_id, label.id, &mut output.value),
                    };
                });
                ui.end_row();
            }
        });
    if let Some(o) = remove {
        post.outputs.remove(o);
        changed = true;
    }
    changed
}

/// A number's quality: offered (it is optional for an event), or shown to be taken off.
fn output_quality_ui(
    ui: &mut egui::Ui,
    id: egui::Id,
    output: &mut PointEntry,
    numeric: bool,
) -> bool {
    if output.quality.is_none() && numeric {
        let add = ui
            .small_button("+ quality")
            .on_hover_text("Send this output as {\"value\", \"quality\"} (numbers may carry one)");
        if add.clicked() {
            output.quality = Some(0);
            return true;
        }
        return false;
    }
    quality_ui(ui, id, &output.identifier, &mut output.quality, false)
}
