//! The connection panel: broker, client id, authentication, TLS, connect and disconnect.

use std::path::PathBuf;
use std::time::Duration;

use crate::transport::{Auth, BrokerUrl, SessionConfig, TlsOptions};
use crate::workspace::{AuthMode, Workspace};

use super::dialogs::DialogPurpose;
use super::{LinkState, UiCommand};

/// The connection form. Persisted between runs, except the password, which never is.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ConnectionForm {
    /// Use the embedded broker and hub instead of `broker`.
    pub embedded: bool,
    pub broker: String,
    /// The free part of the client id; empty means the gateway's device key.
    pub client_id: String,
    pub auth: AuthMode,
    pub username: String,
    #[serde(skip)]
    pub password: String,
    pub keep_alive_s: u64,
    /// How long a send waits for its reply.
    pub timeout_ms: u64,
    pub ca_file: String,
    pub client_cert: String,
    pub client_key: String,
    pub verify: bool,
}

impl Default for ConnectionForm {
    fn default() -> Self {
        Self {
            embedded: true,
            broker: "mqtt://127.0.0.1:1883".into(),
            client_id: String::new(),
            auth: AuthMode::Sign,
            username: String::new(),
            password: String::new(),
            keep_alive_s: 30,
            timeout_ms: 5000,
            ca_file: String::new(),
            client_cert: String::new(),
            client_key: String::new(),
            verify: true,
        }
    }
}

impl ConnectionForm {
    /// The session this form describes, for `ws`'s gateway at `url`.
    pub fn session_config(&self, ws: &Workspace, url: BrokerUrl) -> Result<SessionConfig, String> {
        let gateway = ws.gateway();
        let auth = match self.auth {
            AuthMode::None => Auth::None,
            AuthMode::Password => Auth::Password {
                username: self.username.clone(),
                password: crate::protocol::Secret::new(self.password.clone()),
            },
            AuthMode::Sign => {
                let secret = ws
                    .file
                    .gateway
                    .secret
                    .as_ref()
                    .ok_or("the gateway has no secret in workspace.json; add one or choose another authentication")?
                    .resolve()
                    .map_err(|e| format!("the gateway's secret: {e}"))?;
                Auth::Sign {
                    device: gateway.clone(),
                    secret,
                }
            }
        };
        let path = |text: &str| (!text.trim().is_empty()).then(|| PathBuf::from(text.trim()));
        let client_cert = match (path(&self.client_cert), path(&self.client_key)) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => {
                return Err(
                    "a client certificate needs both its certificate and its key file".into(),
                );
            }
        };
        let client_id = if self.client_id.trim().is_empty() {
            gateway.device_key.0.clone()
        } else {
            self.client_id.trim().to_owned()
        };
        Ok(SessionConfig {
            broker: url,
            client_id,
            auth,
            keep_alive: Duration::from_secs(self.keep_alive_s.clamp(5, 3600)),
            tls: TlsOptions {
                ca_file: path(&self.ca_file),
                client_cert,
                verify: self.verify,
            },
        })
    }
}

/// The state of the connection in words, and whether it is an error.
pub fn link_words(link: &LinkState) -> (String, bool) {
    match link {
        LinkState::Off => ("not connected".into(), false),
        LinkState::StartingEmbedded => ("starting the embedded broker and hub…".into(), false),
        LinkState::Connecting => ("connecting…".into(), false),
        LinkState::Connected => ("connected".into(), false),
        LinkState::Retrying(reason) => (format!("{reason}; retrying"), true),
        LinkState::Failed(reason) => (reason.clone(), true),
    }
}

/// Draws the connection form.
pub fn connection_ui(
    ui: &mut egui::Ui,
    form: &mut ConnectionForm,
    ws: &Workspace,
    link: &LinkState,
    commands: &mut Vec<UiCommand>,
) {
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
    } = form;
    ui.checkbox(embedded, "Embedded broker and reference hub");
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
        let source = match &ws.file.gateway.secret {
            Some(crate::workspace::SecretSpec::Env { env }) => {
                format!("secret from the environment variable {env}")
            }
            Some(_) => "secret from workspace.json".to_owned(),
            None => "no secret in workspace.json".to_owned(),
        };
        ui.weak(format!("Signs as {} with its {source}", ws.gateway()));
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
                    ui.visuals().warn_fg_color,
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
    let (words, error) = link_words(link);
    if error {
        ui.colored_label(ui.visuals().error_fg_color, words);
    } else {
        ui.label(words);
    }
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
