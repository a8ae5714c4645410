//! The command builder: the target device, the kind (set, get, invoke with a service picker of
//! the target's model) and an editor per point or input, typed by the model. A set sends bare
//! values (no quality); a get ticks the points to read; an invoke may leave an input out (the
//! live check warns).

use serde_json::{Map, Value};

use crate::control::DraftCtl;
use crate::control::draft_samples::{CommandChoice, devices, invoke_sample, sample_command, seed};
use crate::model::{CommandKind, DataType, Registry, ThingModel};
use crate::protocol::DeviceId;
use crate::workspace::{Doc, Workspace};

use super::theme;
use super::value_editor::{json_field_ui, row_controls_ui, value_ui};

/// Draws the command builder; every edit goes to `draft` in place.
pub fn command_ui(ui: &mut egui::Ui, draft: &mut DraftCtl, ws: &Workspace, registry: &Registry) {
    let device = target_of(draft, ws);
    let id = ui.make_persistent_id("command-builder");
    if let Some(chosen) = device_picker_ui(ui, id, &device, ws) {
        // What the other device's model does not know starts again from a sample of its own.
        let model = model_of(&chosen, ws, registry);
        draft.edit(|doc| match doc {
            Doc::Command(kind) if !known_to(kind, model) => {
                *kind = sample_command(CommandChoice::of(kind), model, seed());
                true
            }
            _ => false,
        });
        draft.set_device(chosen);
    }
    let model = target_model_ui(ui, draft, ws, registry);
    draft.edit(|doc| {
        let Doc::Command(kind) = doc else {
            return false;
        };
        let mut changed = kind_ui(ui, kind, model);
        ui.separator();
        changed |= match kind {
            CommandKind::Set(points) => set_ui(ui, id.with("set"), points, model),
            CommandKind::Get(ids) => get_ui(ui, ids, model),
            CommandKind::Invoke { service, params } => {
                invoke_ui(ui, id.with("invoke"), service, params, model)
            }
        };
        changed
    });
}

/// True when `model` knows every point or the service `kind` names (or there is no model to
/// say otherwise).
fn known_to(kind: &CommandKind, model: Option<&ThingModel>) -> bool {
    let Some(model) = model else {
        return true;
    };
    match kind {
        CommandKind::Set(points) => points.keys().all(|k| model.point(k).is_some()),
        CommandKind::Get(ids) => ids.iter().all(|id| model.point(id).is_some()),
        CommandKind::Invoke { service, .. } => model.service(service).is_some(),
    }
}

/// The model of `device`'s product, its `{{name}}` variables replaced.
/// The device the draft is for: the one it names, else the workspace's gateway.
pub(super) fn target_of(draft: &DraftCtl, ws: &Workspace) -> DeviceId {
    draft
        .draft()
        .device()
        .cloned()
        .unwrap_or_else(|| ws.gateway())
}

/// The model of the device the draft is for, saying so in the builder when none is loaded.
pub(super) fn target_model_ui<'a>(
    ui: &mut egui::Ui,
    draft: &DraftCtl,
    ws: &Workspace,
    registry: &'a Registry,
) -> Option<&'a ThingModel> {
    let device = target_of(draft, ws);
    let model = model_of(&device, ws, registry);
    if model.is_none() {
        ui.colored_label(
            theme::warn(ui),
            format!("no thing model for product {}", device.product_key),
        );
    }
    model
}

pub(super) fn model_of<'a>(
    device: &DeviceId,
    ws: &Workspace,
    registry: &'a Registry,
) -> Option<&'a ThingModel> {
    let vars = ws.vars();
    let product = vars
        .fill_str(&device.product_key.0)
        .unwrap_or_else(|_| device.product_key.0.clone());
    registry
        .model_of(&crate::protocol::ProductKey(product))
        .map(|m| &**m)
}

/// A device's name in a picker: the gateway says so.
fn device_label(device: &DeviceId, ws: &Workspace) -> String {
    if *device == ws.gateway() {
        format!("{device} (gateway)")
    } else {
        device.to_string()
    }
}

/// The device picker of the event and command builders; returns the device chosen.
pub(super) fn device_picker_ui(
    ui: &mut egui::Ui,
    id: egui::Id,
    current: &DeviceId,
    ws: &Workspace,
) -> Option<DeviceId> {
    let mut chosen = None;
    ui.horizontal(|ui| {
        let label = ui.label("device");
        egui::ComboBox::from_id_salt(id.with("device"))
            .selected_text(device_label(current, ws))
            .show_ui(ui, |ui| {
                for device in devices(ws) {
                    let text = device_label(&device, ws);
                    if ui.selectable_label(device == *current, text).clicked() {
                        chosen = Some(device);
                    }
                }
            })
            .response
            .labelled_by(label.id);
    });
    chosen.filter(|d| d != current)
}

/// Set, get or invoke; a new kind starts from a valid sample.
fn kind_ui(ui: &mut egui::Ui, kind: &mut CommandKind, model: Option<&ThingModel>) -> bool {
    let current = CommandChoice::of(kind);
    let mut changed = false;
    ui.horizontal(|ui| {
        ui.label("kind");
        for (choice, hover) in [
            (
                CommandChoice::Set,
                "Set measure points (thing.service.measurepoint.set)",
            ),
            (
                CommandChoice::Get,
                "Read measure points (thing.service.measurepoint.get)",
            ),
            (
                CommandChoice::Invoke,
                "Invoke a service of the model (thing.service.{id})",
            ),
        ] {
            if ui
                .selectable_label(current == choice, choice.label())
                .on_hover_text(hover)
                .clicked()
                && current != choice
            {
                *kind = sample_command(choice, model, seed());
                changed = true;
            }
        }
    });
    changed
}

/// One value per point, bare (a set carries no quality).
fn set_ui(
    ui: &mut egui::Ui,
    id: egui::Id,
    points: &mut Map<String, Value>,
    model: Option<&ThingModel>,
) -> bool {
    let mut changed = false;
    if let Some(model) = model {
        ui.horizontal_wrapped(|ui| {
            let label = ui.label("Add point");
            egui::ComboBox::from_id_salt(id.with("add"))
                .selected_text("choose…")
                .show_ui(ui, |ui| {
                    let missing: Vec<_> = model
                        .points
                        .iter()
                        .filter(|p| !points.contains_key(&p.identifier))
                        .collect();
                    for point in missing {
                        let text = format!("{} ({})", point.identifier, point.data_type.name());
                        if ui.selectable_label(false, text).clicked() {
                            let value = crate::model::sample_data_value(&point.data_type, seed());
                            points.insert(point.identifier.clone(), value);
                            changed = true;
                        }
                    }
                })
                .response
                .labelled_by(label.id);
            if ui
                .button("Fill samples")
                .on_hover_text("A valid value for every point of the set")
                .clicked()
            {
                let seed = seed();
                for (i, (key, value)) in points.iter_mut().enumerate() {
                    if let Some(point) = model.point(key) {
                        *value = crate::model::sample_data_value(
                            &point.data_type,
                            seed.wrapping_add(i as u64),
                        );
                        changed = true;
                    }
                }
            }
        });
    }
    if points.is_empty() {
        ui.weak("No points: add the points to set.");
    }
    let mut remove = None;
    egui::Grid::new(id.with("points"))
        .num_columns(4)
        .striped(true)
        .show(ui, |ui| {
            for (p, (key, value)) in points.iter_mut().enumerate() {
                let spec = model.and_then(|m| m.point(key));
                let label = ui.label(key.as_str());
                let label_id = label.id;
                match spec {
                    Some(spec) => {
                        label.on_hover_text(format!(
                            "{} · {}",
                            spec.name,
                            spec.data_type.definition_summary()
                        ));
                        ui.weak(super::builder_panel::type_and_unit(spec));
                    }
                    None => {
                        ui.colored_label(theme::warn(ui), "not in model");
                    }
                }
                let data_type = spec.map(|s| &s.data_type);
                let (remove_this, edited) =
                    value_row_ui(ui, id.with(("point", p)), &label_id, key, data_type, value);
                if remove_this {
                    remove = Some(key.clone());
                }
                changed |= edited;
                ui.end_row();
            }
        });
    if let Some(key) = remove {
        points.shift_remove(&key);
        changed = true;
    }
    changed
}

/// Remove, the JSON toggle and the value's editor: its type's, or JSON for a value of no
/// known type (or asked for); returns (remove clicked, value edited).
fn value_row_ui(
    ui: &mut egui::Ui,
    id: egui::Id,
    label: &egui::Id,
    key: &str,
    data_type: Option<&DataType>,
    value: &mut Value,
) -> (bool, bool) {
    let (remove, raw) = row_controls_ui(
        ui,
        id.with("raw"),
        data_type.is_some(),
        "Leave it out",
        &format!("Remove {key}"),
    );
    let mut edited = false;
    ui.horizontal(|ui| {
        edited = match data_type {
            Some(data_type) if !raw => value_ui(ui, id, *label, data_type, value),
            _ => json_field_ui(ui, id, *label, value),
        };
    });
    (remove, edited)
}

/// A tick per point of the model (and per id asked for that the model lacks).
fn get_ui(ui: &mut egui::Ui, ids: &mut Vec<String>, model: Option<&ThingModel>) -> bool {
    let mut changed = false;
    ui.label("Points to read");
    let known: Vec<&str> = model
        .map(|m| m.points.iter().map(|p| p.identifier.as_str()).collect())
        .unwrap_or_default();
    let unknown: Vec<String> = ids
        .iter()
        .filter(|id| !known.contains(&id.as_str()))
        .cloned()
        .collect();
    ui.horizontal_wrapped(|ui| {
        for point in known.iter().map(|k| (*k).to_owned()).chain(unknown) {
            let mut ticked = ids.contains(&point);
            let response = ui.checkbox(&mut ticked, point.as_str());
            if !known.contains(&point.as_str()) {
                response.on_hover_text("not in the device's thing model");
            }
            if ticked != ids.contains(&point) {
                if ticked {
                    ids.push(point);
                } else {
                    ids.retain(|id| *id != point);
                }
                changed = true;
            }
        }
    });
    if ids.is_empty() {
        ui.weak("No points ticked: the device is asked for none.");
    }
    changed
}

/// The service and one editor per input; a missing input is allowed (the check warns).
fn invoke_ui(
    ui: &mut egui::Ui,
    id: egui::Id,
    service: &mut String,
    params: &mut Map<String, Value>,
    model: Option<&ThingModel>,
) -> bool {
    let mut changed = false;
    let services = model.map(|m| m.services.as_slice()).unwrap_or_default();
    ui.horizontal(|ui| {
        let label = ui.label("service");
        egui::ComboBox::from_id_salt(id.with("service"))
            .selected_text(service.as_str())
            .show_ui(ui, |ui| {
                for offered in services {
                    let text = format!("{} ({})", offered.identifier, offered.name);
                    if ui
                        .selectable_label(offered.identifier == *service, text)
                        .clicked()
                        && offered.identifier != *service
                    {
                        if let CommandKind::Invoke {
                            service: s,
                            params: p,
                        } = invoke_sample(offered, seed())
                        {
                            (*service, *params) = (s, p);
                        }
                        changed = true;
                    }
                }
            })
            .response
            .labelled_by(label.id);
    });
    let spec = model.and_then(|m| m.service(service));
    match spec {
        None if services.is_empty() => {
            ui.colored_label(theme::warn(ui), "the device's model declares no service");
        }
        None => {
            ui.colored_label(
                theme::warn(ui),
                format!("{service} is not a service of the model"),
            );
        }
        Some(spec) if !spec.desc.is_empty() => {
            ui.weak(&spec.desc);
        }
        Some(_) => {}
    }
    let mut remove = None;
    let mut add = None;
    egui::Grid::new(id.with("inputs"))
        .num_columns(4)
        .striped(true)
        .show(ui, |ui| {
            for (i, input) in spec
                .map(|s| s.inputs.as_slice())
                .unwrap_or_default()
                .iter()
                .enumerate()
            {
                let label = ui
                    .label(input.identifier.as_str())
                    .on_hover_text(&input.name);
                ui.weak(input.data_type.name());
                match params.get_mut(&input.identifier) {
                    Some(value) => {
                        let (remove_this, edited) = value_row_ui(
                            ui,
                            id.with(("input", i)),
                            &label.id,
                            &input.identifier,
                            Some(&input.data_type),
                            value,
                        );
                        if remove_this {
                            remove = Some(input.identifier.clone());
                        }
                        changed |= edited;
                    }
                    None => {
                        if ui
                            .small_button("+ add")
                            .on_hover_text("Send this input")
                            .clicked()
                        {
                            add = Some(input);
                        }
                        ui.colored_label(theme::warn(ui), "left out: the check warns");
                    }
                }
                ui.end_row();
            }
            let extra: Vec<String> = params
                .keys()
                .filter(|k| spec.is_none_or(|s| s.input(k).is_none()))
                .cloned()
                .collect();
            for (i, key) in extra.iter().enumerate() {
                let label = ui.label(key.as_str());
                ui.colored_label(theme::warn(ui), "not an input");
                if let Some(value) = params.get_mut(key) {
                    let (remove_this, edited) =
                        value_row_ui(ui, id.with(("extra", i)), &label.id, key, None, value);
                    if remove_this {
                        remove = Some(key.clone());
                    }
                    changed |= edited;
                }
                ui.end_row();
            }
        });
    if let Some(input) = add {
        let value = crate::model::sample_data_value(&input.data_type, seed());
        params.insert(input.identifier.clone(), value);
        changed = true;
    }
    if let Some(key) = remove {
        params.shift_remove(&key);
        changed = true;
    }
    changed
}
