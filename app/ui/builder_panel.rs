//! The builder: its Method row (batch, resume batch, event, command), and for a batch its
//! entries (device, time, points), one editor per point with its quality, and the two flags;
//! the event and command builders draw the other two modes. Edits go straight to the draft;
//! only the entries on screen are drawn, so a batch of a thousand entries costs a frame what a
//! few do.

use crate::control::DraftCtl;
use crate::model::{PointRef, Registry};
use crate::protocol::DeviceId;
use crate::workspace::{Batch, BatchMethod, DraftMode, Entry, EntryTime, PointEntry, Workspace};

use super::value_editor::{json_field_ui, row_controls_ui, value_ui};
use super::{command_builder, event_builder, theme};

/// The builder's own state: how tall each entry was when last drawn.
#[derive(Default)]
pub struct BuilderPanel {
    /// By entry; `0.0` for an entry never drawn, whose height is estimated.
    heights: Vec<f32>,
}

/// What every entry's drawing needs to know.
struct EntryCx<'a> {
    devices: &'a [Option<DeviceId>],
    ws: &'a Workspace,
    registry: &'a Registry,
    /// The point a finding was clicked for, and whether to scroll to it.
    focus: Option<&'a PointRef>,
    scroll: bool,
}

/// What an entry's buttons asked for.
#[derive(Default)]
struct EntryOutcome {
    changed: bool,
    remove: bool,
    /// Repeat over this many timestamps, this many ms apart.
    repeat: Option<(usize, i64)>,
    /// The focused point was scrolled into view.
    scrolled: bool,
}

impl BuilderPanel {
    /// Draws the builder; every edit goes to `draft` in place.
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        draft: &mut DraftCtl,
        ws: &Workspace,
        registry: &Registry,
    ) {
        let mode = draft.draft().mode();
        ui.heading(match mode {
            DraftMode::Batch => "Batch builder",
            DraftMode::Event => "Event builder",
            DraftMode::Command => "Command builder",
        });
        method_row_ui(ui, draft, ws, registry);
        if let Err(why) = draft.draft().doc() {
            ui.colored_label(
                theme::warn(ui),
                format!("The builder cannot show this message: {why}."),
            );
            ui.label(
                "It is sent exactly as the JSON on the right says. Edit it there, or start again:",
            );
            if ui.button(format!("New {}", mode.label())).clicked() {
                draft.start_over(ws, registry);
            }
            return;
        }
        match mode {
            DraftMode::Batch => {}
            DraftMode::Event => return event_builder::event_ui(ui, draft, ws, registry),
            DraftMode::Command => return command_builder::command_ui(ui, draft, ws, registry),
        }
        let focus = draft.focused().cloned();
        let devices = device_choices(ws);
        let cx = EntryCx {
            devices: &devices,
            ws,
            registry,
            focus: focus.as_ref(),
            scroll: draft.wants_scroll(),
        };
        let mut scrolled = false;
        draft.edit_batch(|batch| {
            let changed = header_ui(ui, batch, ws);
            ui.separator();
            let outcome = self.entries_ui(ui, batch, &cx);
            scrolled = outcome.scrolled;
            changed | outcome.changed
        });
        if scrolled {
            draft.scrolled();
        }
    }

    /// Draws the entries in view, with space for the others; applies their buttons.
    fn entries_ui(
        &mut self,
        ui: &mut egui::Ui,
        batch: &mut Batch,
        cx: &EntryCx<'_>,
    ) -> EntryOutcome {
        let spacing = ui.spacing().item_spacing.y;
        let row = ui.spacing().interact_size.y + spacing;
        self.heights.resize(batch.entries.len(), 0.0);
        let heights: Vec<f32> = batch
            .entries
            .iter()
            .zip(&self.heights)
            .map(|(entry, &known)| {
                if known > 0.0 {
                    known
                } else {
                    // A frame, its two lines of buttons, and a row per point.
                    2.0 * row + entry.points.len() as f32 * row + 16.0
                }
            })
            .collect();
        let focus_entry = cx.focus.and_then(|f| f.element);
        let mut outcome = EntryOutcome::default();
        let mut action = None;
        egui::ScrollArea::both()
            .id_salt("entries")
            .auto_shrink([false, false])
            .show_viewport(ui, |ui, viewport| {
                let top = ui.max_rect().top();
                let mut y = 0.0;
                let mut index = 0;
                while index < heights.len() && y + heights[index] < viewport.min.y {
                    y += heights[index] + spacing;
                    index += 1;
                }
                ui.add_space(y);
                while index < heights.len() && y <= viewport.max.y {
                    let Some(entry) = batch.entries.get_mut(index) else {
                        break;
                    };
                    let (drawn, height) = entry_ui(ui, index, entry, cx);
                    if let Some(h) = self.heights.get_mut(index) {
                        *h = height;
                    }
                    outcome.changed |= drawn.changed;
                    outcome.scrolled |= drawn.scrolled;
                    if drawn.remove || drawn.repeat.is_some() {
                        action = Some((index, drawn.remove, drawn.repeat));
                    }
                    y += height + spacing;
                    index += 1;
                }
                // The focused entry is out of view: bring it in, and its point next frame.
                if cx.scroll
                    && !outcome.scrolled
                    && let Some(e) = focus_entry.filter(|&e| e < heights.len())
                {
                    let at: f32 = heights[..e].iter().map(|h| h + spacing).sum();
                    let rect = egui::Rect::from_min_size(
                        egui::pos2(ui.max_rect().left(), top + at),
                        egui::vec2(1.0, heights[e]),
                    );
                    ui.scroll_to_rect(rect, Some(egui::Align::Center));
                }
                let rest: f32 = heights[index.min(heights.len())..]
                    .iter()
                    .map(|h| h + spacing)
                    .sum();
                ui.add_space(rest);
            });
        match action {
            Some((index, true, _)) => {
                batch.entries.remove(index);
                self.heights
                    .remove(index.min(self.heights.len().saturating_sub(1)));
                outcome.changed = true;
            }
            Some((index, false, Some((count, step)))) => {
                batch.repeat_entry(index, count, step);
                outcome.changed = true;
            }
            _ => {}
        }
        outcome
    }
}

/// The Method row: batch and resume batch (the batch builder's two methods), event and command
/// (a mode each; each mode keeps its draft while another is shown).
fn method_row_ui(ui: &mut egui::Ui, draft: &mut DraftCtl, ws: &Workspace, registry: &Registry) {
    let mode = draft.draft().mode();
    let batch_method = draft.draft().batch().ok().map(|batch| batch.method);
    ui.horizontal_wrapped(|ui| {
        ui.label("Method");
        for method in [BatchMethod::Batch, BatchMethod::ResumeBatch] {
            let selected = mode == DraftMode::Batch && batch_method == Some(method);
            if ui.selectable_label(selected, method.label()).clicked() {
                draft.switch_mode(DraftMode::Batch, ws, registry);
                draft.edit_batch(|batch| {
                    let changed = batch.method != method;
                    batch.method = method;
                    changed
                });
            }
        }
        for (other, hover) in [
            (
                DraftMode::Event,
                "An event post of a device (thing.event.{id}.post), sent as the gateway",
            ),
            (
                DraftMode::Command,
                "A command to a device (set, get, invoke), sent from the platform side; the device replies",
            ),
        ] {
            if ui
                .selectable_label(mode == other, other.label())
                .on_hover_text(hover)
                .clicked()
            {
                draft.switch_mode(other, ws, registry);
            }
        }
    });
    ui.separator();
}

/// The flags and "+ Entry"; returns whether anything changed.
fn header_ui(ui: &mut egui::Ui, batch: &mut Batch, ws: &Workspace) -> bool {
    let mut changed = false;
    ui.horizontal_wrapped(|ui| {
        changed |= flag_ui(ui, &mut batch.allow_offline, "allowOfflineSubDevice");
        changed |= flag_ui(ui, &mut batch.skip_invalid, "skipInvalidMeasurepoints");
    });
    ui.horizontal(|ui| {
        if ui
            .button("+ Entry")
            .on_hover_text("Add an entry for a sub-device")
            .clicked()
        {
            batch
                .entries
                .push(Entry::new(ws.sub_devices().into_iter().next()));
            changed = true;
        }
        ui.weak(match batch.entries.len() {
            1 => "1 entry".to_owned(),
            n => format!("{n} entries"),
        });
    });
    changed
}

fn flag_ui(ui: &mut egui::Ui, flag: &mut Option<bool>, name: &str) -> bool {
    let mut on = flag.unwrap_or(false);
    if ui.checkbox(&mut on, name).changed() {
        *flag = Some(on);
        return true;
    }
    false
}

/// The devices an entry may name: the topic's device (no keys) and every workspace device.
fn device_choices(ws: &Workspace) -> Vec<Option<DeviceId>> {
    let mut devices = vec![None];
    devices.extend(ws.sub_devices().into_iter().map(Some));
    devices.push(Some(ws.gateway()));
    devices
}

fn device_name(device: &Option<DeviceId>) -> String {
    match device {
        None => "(the gateway: no keys)".to_owned(),
        Some(d) => d.to_string(),
    }
}

/// Draws entry `index`; returns what its buttons asked for and the height it took.
fn entry_ui(
    ui: &mut egui::Ui,
    index: usize,
    entry: &mut Entry,
    cx: &EntryCx<'_>,
) -> (EntryOutcome, f32) {
    let EntryCx {
        devices,
        ws,
        registry,
        focus,
        scroll,
    } = *cx;
    let mut outcome = EntryOutcome::default();
    let changed = &mut outcome.changed;
    let mut remove_entry = false;
    let mut repeat = None;
    let mut scrolled = false;
    let id = ui.make_persistent_id(("entry", index));
    let frame = egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.horizontal(|ui| {
            ui.strong(format!("params[{index}]"));
            let label = ui.label("device");
            egui::ComboBox::from_id_salt(id.with("device"))
                .selected_text(device_name(&entry.device))
                .show_ui(ui, |ui| {
                    for device in devices {
                        *changed |= ui
                            .selectable_value(
                                &mut entry.device,
                                device.clone(),
                                device_name(device),
                            )
                            .changed();
                    }
                })
                .response
                .labelled_by(label.id);
            *changed |= time_ui(ui, id, &mut entry.time);
            if ui.small_button("Remove entry").clicked() {
                remove_entry = true;
            }
        });
        let device = entry.device.clone().unwrap_or_else(|| ws.gateway());
        let model = registry.model_of(&device.product_key);
        ui.horizontal_wrapped(|ui| {
            match model {
                Some(model) => {
                    let seed = crate::protocol::EpochMs::now().0 as u64;
                    if ui.button("Add all points").clicked() {
                        entry.add_all_points(model, seed);
                        *changed = true;
                    }
                    let label = ui.label("Add point");
                    egui::ComboBox::from_id_salt(id.with("add"))
                        .selected_text("choose…")
                        .show_ui(ui, |ui| {
                            // Found only while the list is open: a model may have many points.
                            let present: std::collections::HashSet<&str> =
                                entry.points.iter().map(|e| e.identifier.as_str()).collect();
                            let missing: Vec<_> = model
                                .points
                                .iter()
                                .filter(|p| !present.contains(p.identifier.as_str()))
                                .collect();
                            drop(present);
                            for point in missing {
                                let text =
                                    format!("{} ({})", point.identifier, point.data_type.name());
                                if ui.selectable_label(false, text).clicked() {
                                    entry.points.push(PointEntry::sample(point, seed));
                                    *changed = true;
                                }
                            }
                        })
                        .response
                        .labelled_by(label.id);
                    if ui.button("Fill samples").clicked() {
                        entry.fill_samples(model, seed);
                        *changed = true;
                    }
                }
                None => {
                    ui.colored_label(
                        theme::warn(ui),
                        format!("no thing model for product {}", device.product_key),
                    );
                }
            }
            repeat = repeat_ui(ui, id);
        });
        let mut remove = None;
        // Quality and the buttons come before the value, so a wide editor (a long text, an
        // ARRAY, a STRUCT) never pushes them out of sight.
        egui::Grid::new(id.with("points"))
            .num_columns(5)
            .striped(true)
            .show(ui, |ui| {
                for (p, point) in entry.points.iter_mut().enumerate() {
                    let focused = focus.is_some_and(|f| {
                        f.identifier == point.identifier && f.element.is_none_or(|e| e == index)
                    });
                    let spec = model.and_then(|m| m.point(&point.identifier));
                    let mut label = egui::RichText::new(&point.identifier);
                    if focused {
                        label = label.background_color(ui.visuals().selection.bg_fill);
                    }
                    let label = ui.label(label);
                    if focused && scroll {
                        label.scroll_to_me(Some(egui::Align::Center));
                        scrolled = true;
                    }
                    let label = match spec {
                        Some(spec) => label.on_hover_text(format!(
                            "{} · {}{}",
                            spec.name,
                            spec.data_type.definition_summary(),
                            if spec.has_quality {
                                " · with quality"
                            } else {
                                ""
                            }
                        )),
                        None => label.on_hover_text("not in the device's thing model"),
                    };
                    match spec {
                        Some(spec) => ui.weak(type_and_unit(spec)),
                        None => ui.colored_label(theme::warn(ui), "not in model"),
                    };
                    let point_id = id.with(("point", p));
                    ui.horizontal(|ui| {
                        *changed |= quality_ui(
                            ui,
                            point_id,
                            &point.identifier,
                            &mut point.quality,
                            spec.is_some_and(|s| s.has_quality),
                        );
                    });
                    let (removed, raw) = row_controls_ui(
                        ui,
                        point_id.with("raw"),
                        spec.is_some(),
                        "Remove this point",
                        &format!("Remove point {}", point.identifier),
                    );
                    if removed {
                        remove = Some(p);
                    }
                    // From the row's top: an ARRAY or STRUCT editor is several lines high, and
                    // centred it would start halfway down and run into the next row.
                    ui.horizontal_top(|ui| {
                        *changed |= match spec {
                            Some(spec) if !raw => {
                                value_ui(ui, point_id, label.id, &spec.data_type, &mut point.value)
                            }
                            _ => json_field_ui(ui, point_id, label.id, &mut point.value),
                        };
                    });
                    ui.end_row();
                }
            });
        if let Some(p) = remove {
            entry.points.remove(p);
            *changed = true;
        }
    });
    outcome.remove = remove_entry;
    outcome.repeat = repeat;
    outcome.scrolled = scrolled;
    (outcome, frame.response.rect.height())
}

/// A point's type and unit in a few characters: `FLOAT · kW`.
pub(super) fn type_and_unit(spec: &crate::model::MeasurePoint) -> String {
    match &spec.unit {
        Some(unit) if !unit.unit_id.is_empty() => {
            format!("{} · {}", spec.data_type.name(), unit.unit_id)
        }
        _ => spec.data_type.name().to_owned(),
    }
}

/// The time of an entry or an event post: the hub's, now, now ± an offset, or epoch ms.
pub(super) fn time_ui(ui: &mut egui::Ui, id: egui::Id, time: &mut EntryTime) -> bool {
    let names = ["hub's time", "now", "now + offset", "epoch ms"];
    let current = match time {
        EntryTime::Absent => 0,
        EntryTime::Now => 1,
        EntryTime::Offset(_) => 2,
        EntryTime::Absolute(_) => 3,
    };
    let mut chosen = current;
    let label = ui.label("time");
    egui::ComboBox::from_id_salt(id.with("time"))
        .selected_text(names[current])
        .show_ui(ui, |ui| {
            for (i, name) in names.iter().enumerate() {
                ui.selectable_value(&mut chosen, i, *name);
            }
        })
        .response
        .labelled_by(label.id);
    let mut changed = false;
    if chosen != current {
        *time = match chosen {
            0 => EntryTime::Absent,
            1 => EntryTime::Now,
            2 => EntryTime::Offset(-60_000),
            _ => EntryTime::Absolute(crate::protocol::EpochMs::now().0),
        };
        changed = true;
    }
    match time {
        EntryTime::Offset(ms) => {
            let mut seconds = *ms as f64 / 1000.0;
            if ui
                .add(egui::DragValue::new(&mut seconds).suffix(" s").speed(1.0))
                .changed()
            {
                *ms = (seconds * 1000.0).round() as i64;
                changed = true;
            }
        }
        EntryTime::Absolute(ms) => {
            changed |= ui
                .add(egui::DragValue::new(ms).speed(1000.0).suffix(" ms"))
                .changed();
        }
        EntryTime::Absent | EntryTime::Now => {}
    }
    changed
}

/// The quality of a point or output sent as `{value, quality}`, or the button that adds it
/// when the model wants one.
pub(super) fn quality_ui(
    ui: &mut egui::Ui,
    id: egui::Id,
    identifier: &str,
    quality: &mut Option<u8>,
    model_has_quality: bool,
) -> bool {
    match quality {
        Some(q) => {
            let mut chosen = *q;
            let label = ui.label("quality");
            egui::ComboBox::from_id_salt(id.with("quality"))
                .width(44.0)
                .selected_text(q.to_string())
                .show_ui(ui, |ui| {
                    for value in 0..=crate::protocol::Quality::MAX {
                        ui.selectable_value(&mut chosen, value, format!("quality {value}"));
                    }
                })
                .response
                .labelled_by(label.id)
                .on_hover_text(format!("Quality of {identifier}, 0 to 9"));
            let mut changed = chosen != *q;
            *q = chosen;
            if !model_has_quality
                && ui
                    .small_button("no quality")
                    .on_hover_text("The model gives this point no quality: send the bare value")
                    .clicked()
            {
                *quality = None;
                changed = true;
            }
            changed
        }
        None if model_has_quality => {
            if ui
                .small_button("+ quality")
                .on_hover_text("The model wants {\"value\", \"quality\"} for this point")
                .clicked()
            {
                *quality = Some(0);
                return true;
            }
            false
        }
        None => false,
    }
}

fn repeat_ui(ui: &mut egui::Ui, id: egui::Id) -> Option<(usize, i64)> {
    let count_id = id.with("repeat-count");
    let step_id = id.with("repeat-step");
    let mut count: usize = ui.data(|d| d.get_temp(count_id)).unwrap_or(5);
    let mut step_s: f64 = ui.data(|d| d.get_temp(step_id)).unwrap_or(60.0);
    let clicked = ui
        .button("Repeat")
        .on_hover_text("Copy this entry so it covers N timestamps, a step apart")
        .clicked();
    ui.add(
        egui::DragValue::new(&mut count)
            .range(2..=1000)
            .prefix("× "),
    );
    ui.add(
        egui::DragValue::new(&mut step_s)
            .prefix("every ")
            .suffix(" s"),
    );
    ui.data_mut(|d| {
        d.insert_temp(count_id, count);
        d.insert_temp(step_id, step_s);
    });
    clicked.then(|| (count, (step_s * 1000.0).round() as i64))
}
