//! The connection panel: broker, client id, authentication, TLS, connect and disconnect.

use crate::control::{Connection, ConnectionForm};
use crate::workspace::{AuthMode, Workspace};

use super::dialogs::DialogPurpose;
use super::{UiCommand, theme};

/// Draws the connection form; fields are edited in place, Connect and Disconnect are commands.
pub fn connection_ui(
    ui: &mut egui::Ui,
    connection: &mut Connection,
    ws: &Workspace,
    commands: &mut Vec<UiCommand>,
) {
    let local_ca = connection.local_ca().map(std::path::Path::to_owned);
    let ConnectionForm {
        embedded,
        broker,
        client_id,
        auth,
        username,
        password,
        keep_alive_s,
        timeout_ms,
        ca_file,
        client_cert,
        client_key,
        verify,
        tls_for_devices,
    } = &mut connection.form;
    ui.checkbox(embedded, "Embedded broker and reference hub");
    if *embedded {
        ui.weak(
            "Like the platform, it lets a device of the workspace in only with its valid signature (username deviceKey&productKey); other clients come in without.",
        );
        ui.checkbox(tls_for_devices, "TLS for devices")
            .on_hover_text("Its door speaks TLS (mqtts://) with a certificate of the workspace's local CA, made once in .thingbench/tls/; devices trust its ca.pem. Press Connect to apply.");
        if let Some(ca) = local_ca.filter(|_| *tls_for_devices) {
            ui.weak(format!(
                "Devices connect with mqtts://, trusting {}",
                ca.display()
            ));
        }
    }
    // Labels in one column, fields in the other, so the form reads down a narrow panel.
    egui::Grid::new("connection-form")
        .num_columns(2)
        .spacing([8.0, 6.0])
        .show(ui, |ui| {
            let label = ui.add_enabled(!*embedded, egui::Label::new("Broker URL"));
            ui.add_enabled(
                !*embedded,
                egui::TextEdit::singleline(broker)
                    .hint_text("mqtt://host:1883 or mqtts://host:8883")
                    .desired_width(170.0),
            )
            .labelled_by(label.id);
            ui.end_row();
            let label = ui.label("Client id");
            ui.add(
                egui::TextEdit::singleline(client_id)
                    .hint_text(ws.gateway().device_key.0.as_str())
                    .desired_width(170.0),
            )
            .labelled_by(label.id);
            ui.end_row();
            let label = ui.label("Authentication");
            let name = |mode: AuthMode| match mode {
                AuthMode::None => "none",
                AuthMode::Password => "username and password",
                AuthMode::Sign => "device secret (signed)",
            };
            egui::ComboBox::from_id_salt("auth")
                .selected_text(name(*auth))
                .show_ui(ui, |ui| {
                    for mode in [AuthMode::None, AuthMode::Password, AuthMode::Sign] {
                        ui.selectable_value(auth, mode, name(mode));
                    }
                })
                .response
                .labelled_by(label.id);
            ui.end_row();
            if *auth == AuthMode::Password {
                let label = ui.label("Username");
                ui.add(egui::TextEdit::singleline(username).desired_width(170.0))
                    .labelled_by(label.id);
                ui.end_row();
                let label = ui
                    .label("Password")
                    .on_hover_text("Never saved: type it again after a restart");
                ui.add(
                    egui::TextEdit::singleline(password)
                        .password(true)
                        .hint_text("never saved")
                        .desired_width(170.0),
                )
                .labelled_by(label.id);
                ui.end_row();
            }
            let label = ui.label("Keep-alive (s)");
            ui.add(egui::DragValue::new(keep_alive_s).range(5..=3600))
                .labelled_by(label.id);
            ui.end_row();
            let label = ui.label("Reply timeout (ms)");
            ui.add(egui::DragValue::new(timeout_ms).range(1..=600_000))
                .labelled_by(label.id);
            ui.end_row();
        });
    if *auth == AuthMode::Sign {
        let source = match &ws.gateway_entry().secret {
            Some(crate::workspace::SecretSpec::Env { env }) => {
                format!("secret from the environment variable {env}")
            }
            Some(_) => "secret from workspace.json".to_owned(),
            None => "no secret in workspace.json".to_owned(),
        };
        let env = ws
            .env
            .as_ref()
            .map_or(String::new(), |env| format!(" (environment {env})"));
        ui.weak(format!("Signs as {}{env} with its {source}", ws.gateway()));
    }
    ui.add_enabled_ui(!*embedded, |ui| {
        egui::CollapsingHeader::new("TLS (mqtts://)").show(ui, |ui| {
            file_row(ui, "CA file", ca_file, DialogPurpose::CaFile, commands);
            file_row(
                ui,
                "Client certificate",
                client_cert,
                DialogPurpose::ClientCert,
                commands,
            );
            file_row(
                ui,
                "Client key",
                client_key,
                DialogPurpose::ClientKey,
                commands,
            );
            ui.checkbox(verify, "Verify the broker's certificate");
            if !*verify {
                ui.colored_label(
                    theme::warn(ui),
                    "Warning: not verifying: anyone on the path can read and change the traffic.",
                );
            }
        });
    });
    ui.separator();
    ui.horizontal(|ui| {
        if ui.button("Connect").clicked() {
            commands.push(UiCommand::Connect);
        }
        if ui.button("Disconnect").clicked() {
            commands.push(UiCommand::Disconnect);
        }
    });
    let (words, error) = connection.link().words();
    theme::notice_ui(ui, words, error);
}

fn file_row(
    ui: &mut egui::Ui,
    label: &str,
    value: &mut String,
    purpose: DialogPurpose,
    commands: &mut Vec<UiCommand>,
) {
    let label = ui.label(label);
    ui.horizontal(|ui| {
        ui.add(egui::TextEdit::singleline(value).desired_width(170.0))
            .labelled_by(label.id);
        if ui.button("Browse…").clicked() {
            commands.push(UiCommand::AskFile(purpose));
        }
    });
}
