//! The window's platform client: the session thingbench's platform side sends commands to
//! devices from, as the platform does (a client id of its own, never a device's identity). It
//! starts with the first command, follows the window's broker, and holds the commands sent
//! before its first connection until it is connected.

use std::time::Duration;

use crate::runner::connect::platform_client_id;
use crate::transport::{
    Auth, BrokerUrl, RequestId, Session, SessionCommand, SessionConfig, SessionEvent, TlsOptions,
    TransportError,
};

use super::Wake;
use super::connection::close_in_background;

/// The platform's session, once a command needed it.
#[derive(Default)]
pub struct PlatformClient {
    session: Option<(Session, BrokerUrl)>,
    /// The session has connected once: commands go straight to it (one it cannot send while
    /// the broker is away ends as lost, as the gateway's requests do).
    connected: bool,
    /// Commands given before the first connection, sent once it is made.
    waiting: Vec<SessionCommand>,
}

impl PlatformClient {
    /// Starts the session to `url` now when there is none for it.
    pub fn start(
        &mut self,
        url: &BrokerUrl,
        tls: &TlsOptions,
        wake: &Wake,
    ) -> Result<(), TransportError> {
        if self.session.as_ref().is_some_and(|(_, at)| at != url) {
            self.close();
        }
        if self.session.is_none() {
            let wake = wake.clone();
            let config = SessionConfig {
                broker: url.clone(),
                client_id: platform_client_id(),
                auth: Auth::None,
                keep_alive: Duration::from_secs(30),
                tls: tls.clone(),
                platform: true,
            };
            let session = Session::start(config, Box::new(move || wake()))?;
            self.session = Some((session, url.clone()));
        }
        Ok(())
    }

    /// Sends `command` on the session started with [`PlatformClient::start`], or holds it
    /// until the session's first connection; false when there is no session to send it on.
    pub fn send(&mut self, command: SessionCommand) -> bool {
        let Some((session, _)) = &self.session else {
            return false;
        };
        if self.connected {
            return session.send(command);
        }
        self.waiting.push(command);
        true
    }

    /// What the session said since the last frame about the requests it carries: how each
    /// ended. Its own link comes and goes unseen; the commands waiting for its first connection
    /// go out with it, and end as lost when it cannot be made.
    pub fn take_events(&mut self) -> Vec<SessionEvent> {
        let Some((session, _)) = &self.session else {
            return Vec::new();
        };
        let events: Vec<SessionEvent> = session.events.try_iter().collect();
        let mut ended = Vec::new();
        for event in &events {
            match event {
                SessionEvent::Connected if !self.connected => {
                    self.connected = true;
                    for command in std::mem::take(&mut self.waiting) {
                        session.send(command);
                    }
                }
                SessionEvent::Disconnected { reason } if !self.connected => {
                    ended.extend(lost(std::mem::take(&mut self.waiting), reason));
                }
                _ => {}
            }
        }
        if events.iter().any(|e| matches!(e, SessionEvent::Closed)) {
            ended.extend(lost(
                std::mem::take(&mut self.waiting),
                "the session has ended",
            ));
            self.session = None;
            self.connected = false;
        }
        events
            .into_iter()
            .filter(|e| {
                matches!(
                    e,
                    SessionEvent::Replied { .. }
                        | SessionEvent::NoReply { .. }
                        | SessionEvent::Lost { .. }
                )
            })
            .chain(ended)
            .collect()
    }

    /// Closes the session, off the window's thread.
    pub fn close(&mut self) {
        if let Some((session, _)) = self.session.take() {
            close_in_background(session);
        }
        self.connected = false;
        self.waiting.clear();
    }
}

/// The requests among `commands`, ended as lost for `reason`.
fn lost(commands: Vec<SessionCommand>, reason: &str) -> Vec<SessionEvent> {
    commands
        .into_iter()
        .filter_map(|command| match command {
            SessionCommand::Request { request, .. } => Some(request),
            _ => None,
        })
        .map(|request: RequestId| SessionEvent::Lost {
            request,
            reason: format!("the platform client could not connect: {reason}"),
        })
        .collect()
}
