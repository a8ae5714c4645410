//! The message as JSON (editable, in sync with the builder), the live check's predicted code and
//! findings (each one jumps to its point), the Send button (Send to device, for a command) and
//! the reply: the hub's, or the device's read as the platform reads it.

use crate::control::{DeviceReply, DraftCtl, SendState};
use crate::model::{CheckReport, PointRef, Severity};
use crate::workspace::DraftMode;

use super::{UiCommand, theme};

/// Draws the JSON view, the check and the reply. The draft is edited in place; Send is a command.
pub fn check_ui(
    ui: &mut egui::Ui,
    draft: &mut DraftCtl,
    max_payload: usize,
    connected: bool,
    commands: &mut Vec<UiCommand>,
) {
    let (bytes, limit) = (draft.bytes(), max_payload);
    let command = draft.draft().mode() == DraftMode::Command;
    ui.horizontal(|ui| {
        let shortcut = egui::KeyboardShortcut::new(egui::Modifiers::COMMAND, egui::Key::Enter);
        let (label, hover) = if command {
            (
                "Send to device",
                "Send the command from the platform side, valid or not, and wait for the device's reply",
            )
        } else {
            (
                "Send",
                "Publish the message as it is, valid or not, and wait for the reply",
            )
        };
        let send = ui
            .add_enabled(
                connected,
                egui::Button::new(egui::RichText::new(label).strong()),
            )
            .on_hover_text(format!("{hover} ({})", ui.ctx().format_shortcut(&shortcut)))
            .on_disabled_hover_text("Connect first");
        // Taken before the JSON editor below can read it as a new line; a held key repeats,
        // but sends once.
        let pressed = connected
            && ui.input_mut(|i| {
                let fresh = i.events.iter().any(|e| {
                    matches!(e, egui::Event::Key { key: egui::Key::Enter, pressed: true,
                        repeat: false, modifiers, .. } if modifiers.command)
                });
                i.consume_shortcut(&shortcut) && fresh
            });
        if send.clicked() || pressed {
            commands.push(UiCommand::Send);
        }
        // Beside Send, not above it, so that Send stays where it was.
        if bytes > limit {
            ui.checkbox(&mut draft.send_oversize, "Send over the limit")
                .on_hover_text(format!(
                    "The payload is {}, over the limit of {} (limits.maxPayload in workspace.json). Tick to send it anyway; a draft expecting 1008 in the save form is sent anyway. A fixture saved from here keeps the choice.",
                    byte_size(bytes),
                    byte_size(limit)
                ));
        }
        match &draft.send_state {
            None => {}
            Some(SendState::Waiting) => {
                ui.spinner();
                ui.label("waiting for the reply…");
            }
            Some(SendState::Replied { code, message, rtt }) => {
                let response = ui.colored_label(
                    theme::code(ui, *code),
                    format!(
                        "Reply: {code} {} · {:.2} ms",
                        code.meaning(),
                        rtt.as_secs_f64() * 1000.0
                    ),
                );
                if let Some(message) = message {
                    response.on_hover_text(message);
                }
            }
            Some(SendState::NoReply(after)) => {
                ui.colored_label(
                    theme::warn(ui),
                    format!("No reply within {} ms", after.as_millis()),
                );
            }
            Some(SendState::DeviceReplied(reply)) => {
                let response = ui.colored_label(
                    theme::code(ui, reply.code),
                    format!(
                        "Reply: {} {} · {:.2} ms",
                        reply.code,
                        reply.meaning.words(),
                        reply.rtt.as_secs_f64() * 1000.0
                    ),
                );
                if let Some(message) = &reply.message {
                    response.on_hover_text(message);
                }
            }
            Some(SendState::Lost(reason)) => {
                ui.colored_label(theme::error(ui), format!("Lost: {reason}"));
            }
            Some(SendState::NotSent(why)) => {
                let what = if why.starts_with("device offline") {
                    "Not sent: device offline"
                } else {
                    "Not sent"
                };
                ui.colored_label(theme::error(ui), what);
            }
        }
    });
    match &draft.send_state {
        Some(SendState::Replied {
            message: Some(message),
            ..
        }) => {
            ui.weak(format!("hub: {message}"));
        }
        Some(SendState::DeviceReplied(reply)) => device_reply_ui(ui, reply),
        // Why, in full, under the Send row.
        Some(SendState::NotSent(reason)) => {
            ui.add(egui::Label::new(egui::RichText::new(reason).color(theme::error(ui))).wrap());
        }
        _ => {}
    }
    ui.separator();
    if let Some(point) = draft
        .report()
        .and_then(|report| report_ui(ui, report, command))
    {
        draft.focus(point);
    }
    ui.separator();
    json_ui(ui, draft);
}

/// Above this size the JSON is shown line by line, only the lines in view, until the user asks
/// to edit it: a text field lays out and hashes its whole text every frame.
const EDITED_WHOLE: usize = 64 * 1024;

/// The JSON to send: a text field, or for a large draft a viewer with "Edit as text".
fn json_ui(ui: &mut egui::Ui, draft: &mut DraftCtl) {
    let text_len = draft.draft().text().len();
    let edit_id = ui.make_persistent_id("edit-large-json");
    let mut edit_large = ui.data(|d| d.get_temp::<bool>(edit_id)).unwrap_or(false);
    let large = text_len > EDITED_WHOLE;
    let label = ui
        .horizontal(|ui| {
            let label = ui.strong("JSON to send");
            if large {
                ui.weak(byte_size(text_len));
                let verb = if edit_large { "View" } else { "Edit as text" };
                if ui
                    .small_button(verb)
                    .on_hover_text("A text this large is slow to edit as a whole")
                    .clicked()
                {
                    edit_large = !edit_large;
                    ui.data_mut(|d| d.insert_temp(edit_id, edit_large));
                }
            }
            // Last: cut to the panel's width, it never pushes the buttons out.
            ui.add(
                egui::Label::new(egui::RichText::new(format!("on {}", draft.topic())).weak())
                    .truncate(),
            )
            .on_hover_text(draft.topic());
            label
        })
        .inner;
    if large && !edit_large {
        lines_ui(ui, draft);
        return;
    }
    egui::ScrollArea::vertical()
        .id_salt("json")
        .auto_shrink([false, false])
        .show(ui, |ui| {
            // Edited in place: the text is not copied every frame, only on an edit. Its id is
            // its own: an automatic one moved when the check above it grew, and the editor lost
            // the keyboard in the middle of typing.
            ui.add(
                egui::TextEdit::multiline(&mut DraftText(draft))
                    .id(egui::Id::unique("thingbench-json-to-send"))
                    .code_editor()
                    .desired_width(f32::INFINITY)
                    .desired_rows(20),
            )
            .labelled_by(label.id);
        });
}

/// The draft's text, only the lines in view; where its lines start is found once per revision.
fn lines_ui(ui: &mut egui::Ui, draft: &DraftCtl) {
    let text = draft.draft().text();
    let revision = draft.draft().revision();
    let starts_id = ui.make_persistent_id("json-line-starts");
    let cached: Option<(u64, std::sync::Arc<Vec<usize>>)> = ui.data(|d| d.get_temp(starts_id));
    let starts = match cached {
        Some((at, starts)) if at == revision => starts,
        _ => {
            let starts: Vec<usize> = std::iter::once(0)
                .chain(text.match_indices('\n').map(|(i, _)| i + 1))
                .collect();
            let starts = std::sync::Arc::new(starts);
            ui.data_mut(|d| d.insert_temp(starts_id, (revision, starts.clone())));
            starts
        }
    };
    let row_height = ui.text_style_height(&egui::TextStyle::Monospace);
    egui::Frame::canvas(ui.style()).show(ui, |ui| {
        egui::ScrollArea::both()
            .id_salt("json-lines")
            .auto_shrink([false, false])
            .show_rows(ui, row_height, starts.len(), |ui, range| {
                for i in range {
                    let start = starts.get(i).copied().unwrap_or(text.len());
                    let end = starts.get(i + 1).map_or(text.len(), |next| next - 1);
                    let line = text.get(start..end).unwrap_or_default();
                    ui.add(
                        egui::Label::new(egui::RichText::new(line).monospace())
                            .extend()
                            .selectable(true),
                    );
                }
            });
    });
}

/// The draft's text as a [`egui::TextBuffer`]: an edit goes straight to the draft, which reads
/// it as a batch again.
struct DraftText<'a>(&'a mut DraftCtl);

impl egui::TextBuffer for DraftText<'_> {
    fn is_mutable(&self) -> bool {
        true
    }

    fn as_str(&self) -> &str {
        self.0.draft().text()
    }

    fn insert_text(&mut self, text: &str, char_index: egui::text::CharIndex) -> usize {
        let mut edited = self.as_str().to_owned();
        let inserted = egui::TextBuffer::insert_text(&mut edited, text, char_index);
        self.0.set_text(edited);
        inserted
    }

    fn delete_char_range(&mut self, char_range: std::ops::Range<egui::text::CharIndex>) {
        let mut edited = self.as_str().to_owned();
        egui::TextBuffer::delete_char_range(&mut edited, char_range);
        self.0.set_text(edited);
    }

    fn type_id(&self) -> std::any::TypeId {
        std::any::TypeId::of::<DraftText<'static>>()
    }
}

/// What the device said beside its code: its message, and what is wrong with the reply.
fn device_reply_ui(ui: &mut egui::Ui, reply: &DeviceReply) {
    if let Some(message) = &reply.message {
        ui.weak(format!("device: {message}"));
    }
    if let Some(data) = &reply.data {
        ui.add(egui::Label::new(egui::RichText::new(format!("data: {data}")).monospace()).wrap());
    }
    for error in &reply.errors {
        ui.colored_label(theme::error(ui), format!("error {error}"));
    }
    for warning in &reply.warnings {
        ui.colored_label(theme::warn(ui), format!("warning {warning}"));
    }
    if reply.errors.is_empty() && reply.warnings.is_empty() {
        ui.weak("No findings in the reply: its id, topic and data are as the command asks.");
    }
}

/// Draws the predicted code (for a command, whether it matches the model: the device answers
/// it, not the hub) and the findings; returns the point of a finding clicked.
fn report_ui(ui: &mut egui::Ui, report: &CheckReport, command: bool) -> Option<PointRef> {
    let code = report.code;
    let mut clicked = None;
    let heading = match (command, code.is_success()) {
        (false, _) => format!("Predicted: {code} {}", code.meaning()),
        (true, true) => "Check: the command matches the model".to_owned(),
        (true, false) => format!(
            "Check: {code} {}; the device should refuse it",
            code.meaning()
        ),
    };
    ui.colored_label(theme::code(ui, code), egui::RichText::new(heading).strong());
    if report.findings.is_empty() {
        ui.weak("No findings: the message matches the models.");
        return None;
    }
    if report.findings.len() <= WRAPPED_FINDINGS {
        egui::ScrollArea::vertical()
            .id_salt("findings")
            .max_height(160.0)
            .show(ui, |ui| {
                for finding in &report.findings {
                    ui.horizontal_wrapped(|ui| {
                        if let Some(point) = finding_ui(ui, finding) {
                            clicked = Some(point);
                        }
                    });
                }
            });
    } else {
        // One line each, only those in view: a batch of many elements can have thousands.
        ui.weak(format!("{} findings", report.findings.len()));
        let row_height = ui.spacing().interact_size.y;
        egui::ScrollArea::both()
            .id_salt("findings")
            .max_height(160.0)
            .show_rows(ui, row_height, report.findings.len(), |ui, range| {
                for finding in report.findings.get(range).unwrap_or_default() {
                    ui.horizontal(|ui| {
                        if let Some(point) = finding_ui(ui, finding) {
                            clicked = Some(point);
                        }
                    });
                }
            });
    }
    clicked
}

/// Up to this many findings are drawn whole, wrapped to the panel.
const WRAPPED_FINDINGS: usize = 50;

/// One finding: its severity and code, and its place and message as a link to the point.
fn finding_ui(ui: &mut egui::Ui, finding: &crate::model::Finding) -> Option<PointRef> {
    let color = match finding.severity {
        Severity::Error => theme::error(ui),
        Severity::Warning | Severity::Skipped => theme::warn(ui),
    };
    ui.colored_label(
        color,
        format!("{} {}", finding.severity.name(), finding.code),
    );
    let text = format!("{}: {}", finding.path, finding.message);
    match &finding.point {
        Some(point) => ui
            .link(text)
            .on_hover_text("Show this point in the builder")
            .clicked()
            .then(|| point.clone()),
        None => {
            ui.label(text);
            None
        }
    }
}

/// A size in words: `569 bytes`, `12.5 KiB`, `540.2 KiB`, `5.0 MiB`.
fn byte_size(bytes: usize) -> String {
    const KIB: f64 = 1024.0;
    let b = bytes as f64;
    if bytes < 1024 {
        format!("{bytes} bytes")
    } else if b < KIB * KIB {
        format!("{:.1} KiB", b / KIB)
    } else {
        format!("{:.1} MiB", b / KIB / KIB)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_read_in_the_right_unit() {
        assert_eq!(super::byte_size(569), "569 bytes");
        assert_eq!(super::byte_size(540 * 1024 + 200), "540.2 KiB");
        assert_eq!(super::byte_size(5 * 1024 * 1024), "5.0 MiB");
    }
}
