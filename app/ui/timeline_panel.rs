//! The timeline: every request, reply, unpaired reply, timeout and connection event, drawn row
//! by row for only what is on screen; filters, a detail view of a row beside its partner,
//! export to JSON Lines and "save as fixture".

use egui_extras::{Column, TableBuilder};

use super::UiCommand;
use super::dialogs::DialogPurpose;
use crate::history::{Direction, ExportJob, Row, RowKind, Timeline, mask_secrets};

/// What the user chose in the timeline: the selected row and the filter being typed.
#[derive(Default)]
pub struct TimelineView {
    /// The row whose detail is shown.
    pub selected: Option<usize>,
    code_text: String,
    /// A widget had the keyboard at the end of the last frame. Escape takes the focus away
    /// before this frame's panels run, so only this says the key was meant for that widget.
    keyboard_taken: bool,
    /// The selected row's detail, decoded once per selection rather than every frame.
    detail: Option<Detail>,
}

impl TimelineView {
    /// The detail of row `selected` of `timeline`, decoded again only when the selection,
    /// its partner (a late reply) or the rows kept (a clear) changed.
    fn detail(&mut self, timeline: &Timeline, selected: usize) -> Option<&Detail> {
        let row = timeline.row(selected)?;
        let key = DetailKey {
            selected,
            partner: row.partner(),
            first: timeline.first(),
        };
        if self.detail.as_ref().is_none_or(|d| d.key != key) {
            self.detail = Some(Detail {
                key,
                this: payload_text(timeline, row),
                partner: row
                    .partner()
                    .and_then(|p| timeline.row(p))
                    .map(|p| payload_text(timeline, p)),
            });
        }
        self.detail.as_ref()
    }
}

/// What a [`Detail`] was made from: rows are never renumbered, so the same key means the
/// same text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct DetailKey {
    selected: usize,
    /// Set when a late reply pairs with the selected request.
    partner: Option<usize>,
    /// Moves on at a clear, which drops the rows shown.
    first: usize,
}

/// The payloads of the selected row and its partner, masked and pretty-printed.
struct Detail {
    key: DetailKey,
    this: String,
    /// `None` without a partner, or when it was cleared away.
    partner: Option<String>,
}

/// A row's payload as shown and copied: pretty JSON with credentials masked, as in exports,
/// so that a copy holds none either; other bytes as text.
fn payload_text(timeline: &Timeline, row: &Row) -> String {
    match timeline.json(row) {
        Some(mut json) => {
            mask_secrets(&mut json);
            serde_json::to_string_pretty(&json).unwrap_or_default()
        }
        None => String::from_utf8_lossy(&timeline.payload(row)).into_owned(),
    }
}

/// Draws the timeline, with the progress of `export` when one is under way.
pub fn timeline_ui(
    ui: &mut egui::Ui,
    timeline: &Timeline,
    view: &mut TimelineView,
    export: Option<&ExportJob>,
    commands: &mut Vec<UiCommand>,
) {
    filter_ui(ui, timeline, view, export, commands);
    ui.separator();
    // The table above, the selected row's detail below it.
    let detail_height = if view.selected.is_some() { 190.0 } else { 0.0 };
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 4.0;
    let table_height =
        (ui.available_height() - detail_height - row_height * 2.0).max(row_height * 3.0);
    // Bounded, so that the table's column lines stop at its last row.
    let width = ui.available_width();
    ui.allocate_ui(egui::vec2(width, table_height + row_height), |ui| {
        table_ui(ui, timeline, view, table_height);
    });
    if let Some(selected) = view.selected {
        ui.separator();
        detail_ui(ui, timeline, view, selected, commands);
    }
    view.keyboard_taken =
        ui.ctx().memory(|m| m.focused().is_some()) || egui::Popup::is_any_open(ui.ctx());
}

fn filter_ui(
    ui: &mut egui::Ui,
    timeline: &Timeline,
    view: &mut TimelineView,
    export: Option<&ExportJob>,
    commands: &mut Vec<UiCommand>,
) {
    let mut filter = timeline.filter().clone();
    ui.horizontal_wrapped(|ui| {
        let label = ui.label("Device");
        egui::ComboBox::from_id_salt("timeline-device")
            .selected_text(if filter.device.is_empty() {
                "all devices".to_owned()
            } else {
                filter.device.clone()
            })
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut filter.device, String::new(), "all devices");
                for device in timeline.devices() {
                    ui.selectable_value(&mut filter.device, device.to_owned(), device);
                }
            })
            .response
            .labelled_by(label.id);
        let label = ui.label("Code");
        let code = ui
            .add(egui::TextEdit::singleline(&mut view.code_text).desired_width(48.0))
            .labelled_by(label.id);
        if code.changed() {
            filter.code = view.code_text.trim().parse().ok();
        }
        for (direction, name) in [
            (None, "all"),
            (Some(Direction::Out), "sent"),
            (Some(Direction::In), "received"),
            (Some(Direction::Event), "events"),
        ] {
            ui.selectable_value(&mut filter.direction, direction, name);
        }
        let label = ui.label("Text");
        ui.add(egui::TextEdit::singleline(&mut filter.text).desired_width(140.0))
            .labelled_by(label.id);
        ui.separator();
        let progress = timeline
            .scan_progress()
            .map(|done| format!(" · filtering {:.0} %", done * 100.0))
            .unwrap_or_default();
        ui.weak(format!(
            "{} of {} rows{progress} · {:.1} MB",
            timeline.visible_len(),
            timeline.len(),
            timeline.memory() as f64 / 1e6
        ))
        .on_hover_text("Memory the rows and their payloads take (payloads are compressed)");
        match export {
            // The window repaints while it runs, so the share written moves on.
            Some(job) => {
                ui.label(format!("exporting {:.0} %", job.progress() * 100.0))
                    .on_hover_text(format!("Writing {}", job.path().display()));
            }
            None => {
                if ui
                    .button("Export…")
                    .on_hover_text("Save the rows shown as JSON Lines (credentials masked)")
                    .clicked()
                {
                    commands.push(UiCommand::AskFile(DialogPurpose::ExportTimeline));
                }
            }
        }
        if ui.button("Clear").clicked() {
            commands.push(UiCommand::ClearTimeline);
        }
    });
    if &filter != timeline.filter() {
        commands.push(UiCommand::SetFilter(filter));
    }
}

fn kind_color(ui: &egui::Ui, row: &Row) -> egui::Color32 {
    match row.kind {
        RowKind::Request => ui.visuals().text_color(),
        RowKind::Command => egui::Color32::from_rgb(200, 150, 255),
        RowKind::Reply | RowKind::CommandReply if row.code().is_some_and(|c| c.is_success()) => {
            egui::Color32::from_rgb(80, 200, 120)
        }
        RowKind::Reply
        | RowKind::CommandReply
        | RowKind::Lost
        | RowKind::Disconnected
        | RowKind::Refused => ui.visuals().error_fg_color,
        RowKind::Unpaired | RowKind::NoReply => ui.visuals().warn_fg_color,
        RowKind::Connected => ui.visuals().weak_text_color(),
        RowKind::Watched | RowKind::Dut => ui.visuals().hyperlink_color,
        RowKind::WatchedReply if row.code().is_some_and(|c| c.is_success()) => {
            egui::Color32::from_rgb(80, 200, 120)
        }
        RowKind::WatchedReply => ui.visuals().error_fg_color,
    }
}

fn table_ui(ui: &mut egui::Ui, timeline: &Timeline, view: &mut TimelineView, height: f32) {
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 4.0;
    let mut clicked = None;
    // A click anywhere on a row selects it; selectable labels would take the click.
    ui.style_mut().interaction.selectable_labels = false;
    let scroll_to = keyboard_ui(ui, timeline, view);
    let mut table = TableBuilder::new(ui);
    if let Some(position) = scroll_to {
        table = table.scroll_to_row(position, None);
    }
    table
        .id_salt("timeline-table")
        .striped(true)
        .stick_to_bottom(true)
        .min_scrolled_height(height)
        .max_scroll_height(height)
        .sense(egui::Sense::click())
        .column(Column::exact(90.0))
        .column(Column::exact(110.0))
        .column(Column::initial(120.0).resizable(true).clip(true))
        .column(Column::initial(200.0).resizable(true).clip(true))
        .column(Column::exact(60.0))
        .column(Column::remainder().clip(true))
        .header(row_height, |mut header| {
            for title in ["time", "kind", "device", "code", "RTT ms", "topic / note"] {
                header.col(|ui| {
                    ui.strong(title);
                });
            }
        })
        .body(|body| {
            body.rows(row_height, timeline.visible_len(), |mut table_row| {
                let Some(index) = timeline.visible(table_row.index()) else {
                    return;
                };
                let Some(row) = timeline.row(index) else {
                    return;
                };
                let selected = view.selected == Some(index);
                table_row.set_selected(selected);
                // On the selection's fill the kind's colour would be hard to read.
                let color = |ui: &egui::Ui| {
                    if selected {
                        ui.visuals().strong_text_color()
                    } else {
                        kind_color(ui, row)
                    }
                };
                table_row.col(|ui| {
                    ui.label(clock(row.at.0));
                });
                table_row.col(|ui| {
                    ui.colored_label(color(ui), row.kind.name());
                });
                table_row.col(|ui| {
                    ui.label(timeline.device(row).unwrap_or_default());
                });
                table_row.col(|ui| {
                    let text = match (timeline.code(row), row.predicted()) {
                        (Some(code), Some(predicted)) if code != predicted => {
                            format!("{code}, predicted {predicted}")
                        }
                        (Some(code), _) => format!("{code} {}", code.meaning()),
                        (None, Some(predicted)) => format!("predicted {predicted}"),
                        (None, None) => String::new(),
                    };
                    ui.colored_label(color(ui), text);
                });
                table_row.col(|ui| {
                    if let Some(rtt) = row.rtt() {
                        ui.label(format!("{:.2}", rtt.as_secs_f64() * 1000.0));
                    }
                });
                table_row.col(|ui| {
                    let note = timeline.note(row);
                    let topic = timeline.topic(row);
                    ui.label(match (topic.is_empty(), note.is_empty()) {
                        (false, false) => format!("{topic} · {note}"),
                        (false, true) => topic.to_owned(),
                        _ => note.to_owned(),
                    });
                });
                if table_row.response().clicked() {
                    clicked = Some(index);
                }
            });
        });
    if let Some(index) = clicked {
        view.selected = Some(index);
    }
}

/// Up and Down move the selection through the rows shown, Escape closes the detail; not while
/// a text field has the keyboard. Returns the position to scroll to.
fn keyboard_ui(ui: &egui::Ui, timeline: &Timeline, view: &mut TimelineView) -> Option<usize> {
    let selected = view.selected?;
    let busy = ui.ctx().memory(|m| m.focused().is_some()) || egui::Popup::is_any_open(ui.ctx());
    if busy || view.keyboard_taken {
        return None;
    }
    let (down, up, escape) = ui.input(|i| {
        (
            i.key_pressed(egui::Key::ArrowDown),
            i.key_pressed(egui::Key::ArrowUp),
            i.key_pressed(egui::Key::Escape),
        )
    });
    if escape {
        view.selected = None;
        return None;
    }
    let position = timeline.position_of(selected)?;
    let next = match (down, up) {
        (true, false) => position.checked_add(1)?,
        (false, true) => position.checked_sub(1)?,
        _ => return None,
    };
    let row = timeline.visible(next)?;
    view.selected = Some(row);
    Some(next)
}

/// `HH:MM:SS.mmm` of an epoch-ms time, in UTC.
pub(super) fn clock(ms: i64) -> String {
    let day_ms = ms.rem_euclid(86_400_000);
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        day_ms / 3_600_000,
        day_ms / 60_000 % 60,
        day_ms / 1000 % 60,
        day_ms % 1000
    )
}

fn detail_ui(
    ui: &mut egui::Ui,
    timeline: &Timeline,
    view: &mut TimelineView,
    selected: usize,
    commands: &mut Vec<UiCommand>,
) {
    let (Some(row), Some(detail)) = (timeline.row(selected), view.detail(timeline, selected))
    else {
        return;
    };
    let mut close = false;
    ui.horizontal(|ui| {
        ui.strong(format!("Row {selected}: {}", row.kind.name()));
        close = ui.small_button("Close").clicked();
        let is_request = |kind: RowKind| {
            matches!(
                kind,
                RowKind::Request | RowKind::Watched | RowKind::Dut | RowKind::Command
            )
        };
        let has_request = is_request(row.kind)
            || row
                .partner()
                .and_then(|p| timeline.row(p))
                .is_some_and(|p| is_request(p.kind));
        if ui
            .add_enabled(has_request, egui::Button::new("Save as fixture"))
            .on_hover_text(
                "Save the request into messages/, expecting the code it got (a command as a command fixture)",
            )
            .clicked()
        {
            commands.push(UiCommand::SaveRow(selected));
        }
    });
    let partner = row.partner().and_then(|p| timeline.row(p).map(|r| (p, r)));
    ui.columns(2, |columns| {
        payload_ui(
            &mut columns[0],
            timeline.note(row),
            &detail.this,
            "this row",
        );
        match (partner, &detail.partner) {
            (Some((index, partner)), Some(text)) => {
                payload_ui(
                    &mut columns[1],
                    timeline.note(partner),
                    text,
                    &format!("partner: row {index}, {}", partner.kind.name()),
                );
            }
            _ => {
                columns[1].weak("no partner");
            }
        }
    });
    if close {
        view.selected = None;
    }
}

fn payload_ui(ui: &mut egui::Ui, note: &str, text: &str, title: &str) {
    ui.horizontal(|ui| {
        ui.weak(title);
        if !text.is_empty()
            && ui
                .small_button("Copy")
                .on_hover_text("Copy this payload to the clipboard")
                .clicked()
        {
            ui.ctx().copy_text(text.to_owned());
        }
    });
    if !note.is_empty() {
        ui.label(note);
    }
    egui::ScrollArea::both()
        .id_salt(("payload", title))
        .auto_shrink([false, false])
        .show(ui, |ui| {
            ui.add(egui::Label::new(egui::RichText::new(text).monospace()).extend());
        });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::NewRow;
    use crate::protocol::{EpochMs, ReplyCode};

    #[test]
    fn the_detail_is_decoded_once_per_selection_and_again_when_the_reply_comes() {
        let mut t = Timeline::default();
        let request = t.push(
            EpochMs(1),
            RowKind::Request,
            NewRow {
                topic: "/ext/session/gwPk/gw01/combine/login",
                payload: br#"{"id":"1","params":{"deviceKey":"inv01","sign":"abcdef0123"}}"#,
                ..NewRow::default()
            },
        );
        let mut view = TimelineView::default();
        let text = |view: &mut TimelineView, t: &Timeline, row| {
            view.detail(t, row)
                .map(|d| (d.this.as_ptr(), d.this.clone(), d.partner.clone()))
        };
        let first = text(&mut view, &t, request).expect("the request's detail");
        assert!(first.1.contains("\"sign\": \"***\"") && !first.1.contains("abcdef0123"));
        assert_eq!(first.2, None, "no reply yet");
        // The next frames reuse the text made for the first.
        assert_eq!(text(&mut view, &t, request), Some(first.clone()));
        // The reply comes while the request is selected: its payload shows up beside it.
        let reply = t.push(
            EpochMs(2),
            RowKind::Reply,
            NewRow {
                payload: br#"{"id":"1","code":200,"data":{}}"#,
                code: Some(ReplyCode(200)),
                partner: Some(request),
                ..NewRow::default()
            },
        );
        assert_eq!(text(&mut view, &t, request), Some(first.clone()));
        t.answer(request, reply, Some(ReplyCode(200)), None);
        let answered = text(&mut view, &t, request).expect("the request's detail");
        assert_eq!(answered.1, first.1);
        assert!(answered.2.is_some_and(|p| p.contains("\"code\": 200")));
        // Another row selected shows its own, with the request as its partner.
        let other = text(&mut view, &t, reply).expect("the reply's detail");
        assert!(other.1.contains("\"code\": 200"));
        assert!(other.2.is_some_and(|p| p.contains("\"sign\": \"***\"")));
        // After a clear the numbers name no row, and nothing is shown.
        t.clear();
        assert_eq!(text(&mut view, &t, reply), None);
    }
}
