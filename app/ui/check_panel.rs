//! The message as JSON (editable, in sync with the builder), the live check's predicted code and
//! findings (each one jumps to its point), the Send button and the reply.

use crate::model::{CheckReport, Severity};
use crate::workspace::Draft;

use super::{SendState, UiCommand};

/// The draft's payload size against the workspace's limit.
pub struct Size {
    pub bytes: usize,
    pub limit: usize,
    /// The user asked to send it even when over the limit.
    pub send_anyway: bool,
}

/// Draws the JSON view, the check and the reply.
pub fn check_ui(
    ui: &mut egui::Ui,
    draft: &Draft,
    report: Option<&CheckReport>,
    send_state: Option<&SendState>,
    connected: bool,
    size: Size,
    commands: &mut Vec<UiCommand>,
) {
    ui.horizontal(|ui| {
        let shortcut = egui::KeyboardShortcut::new(egui::Modifiers::COMMAND, egui::Key::Enter);
        let send = ui
            .add_enabled(
                connected,
                egui::Button::new(egui::RichText::new("Send").strong()),
            )
            .on_hover_text(format!(
                "Publish the message as it is, valid or not, and wait for the reply ({})",
                ui.ctx().format_shortcut(&shortcut)
            ))
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
        if size.bytes > size.limit {
            let mut on = size.send_anyway;
            if ui
                .checkbox(&mut on, "Send over the limit")
                .on_hover_text(format!(
                    "The payload is {}, over the limit of {} (limits.maxPayload in workspace.json). Tick to send it anyway, for a 1008 test; a fixture saved from here keeps the choice.",
                    byte_size(size.bytes),
                    byte_size(size.limit)
                ))
                .changed()
            {
                commands.push(UiCommand::SetSendOversize(on));
            }
        }
        match send_state {
            None => {}
            Some(SendState::Waiting) => {
                ui.spinner();
                ui.label("waiting for the reply…");
            }
            Some(SendState::Replied { code, message, rtt }) => {
                let color = if code.is_success() {
                    egui::Color32::from_rgb(80, 200, 120)
                } else {
                    ui.visuals().error_fg_color
                };
                let response = ui.colored_label(
                    color,
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
                    ui.visuals().warn_fg_color,
                    format!("Reply: none within {} ms", after.as_millis()),
                );
            }
            Some(SendState::Lost(reason)) => {
                ui.colored_label(ui.visuals().error_fg_color, format!("Lost: {reason}"));
            }
            Some(SendState::NotSent(_)) => {
                ui.colored_label(ui.visuals().error_fg_color, "Not sent");
            }
        }
    });
    match send_state {
        Some(SendState::Replied {
            message: Some(message),
            ..
        }) => {
            ui.weak(format!("hub: {message}"));
        }
        // Why, in full, under the Send row.
        Some(SendState::NotSent(reason)) => {
            ui.add(
                egui::Label::new(egui::RichText::new(reason).color(ui.visuals().error_fg_color))
                    .wrap(),
            );
        }
        _ => {}
    }
    ui.separator();
    if let Some(report) = report {
        report_ui(ui, report, commands);
    }
    ui.separator();
    let label = ui.strong("JSON to send");
    egui::ScrollArea::vertical()
        .id_salt("json")
        .auto_shrink([false, false])
        .show(ui, |ui| {
            let mut text = draft.text().to_owned();
            let response = ui
                .add(
                    egui::TextEdit::multiline(&mut text)
                        .code_editor()
                        .desired_width(f32::INFINITY)
                        .desired_rows(20),
                )
                .labelled_by(label.id);
            if response.changed() {
                commands.push(UiCommand::SetText(text));
            }
        });
}

fn report_ui(ui: &mut egui::Ui, report: &CheckReport, commands: &mut Vec<UiCommand>) {
    let code = report.code;
    let color = if code.is_success() {
        egui::Color32::from_rgb(80, 200, 120)
    } else {
        ui.visuals().error_fg_color
    };
    ui.colored_label(
        color,
        egui::RichText::new(format!("Predicted: {code} {}", code.meaning())).strong(),
    );
    if report.findings.is_empty() {
        ui.weak("No findings: the message matches the models.");
        return;
    }
    egui::ScrollArea::vertical()
        .id_salt("findings")
        .max_height(160.0)
        .show(ui, |ui| {
            for finding in &report.findings {
                let color = match finding.severity {
                    Severity::Error => ui.visuals().error_fg_color,
                    Severity::Warning | Severity::Skipped => ui.visuals().warn_fg_color,
                };
                ui.horizontal_wrapped(|ui| {
                    ui.colored_label(
                        color,
                        format!("{} {}", finding.severity.name(), finding.code),
                    );
                    let text = format!("{}: {}", finding.path, finding.message);
                    match &finding.point {
                        Some(point) => {
                            if ui
                                .link(text)
                                .on_hover_text("Show this point in the builder")
                                .clicked()
                            {
                                commands.push(UiCommand::FocusPoint(point.clone()));
                            }
                        }
                        None => {
                            ui.label(text);
                        }
                    }
                });
            }
        });
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
