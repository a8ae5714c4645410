//! The window's platform client: the session thingbench's platform side sends commands to
//! devices from, as the platform does (a client id of its own, never a device's identity). It
//! starts with the first command and follows the window's broker.

use std::time::Duration;

use crate::runner::connect::platform_client_id;
use crate::transport::{Auth, BrokerUrl, Session, SessionConfig, SessionEvent, TlsOptions};

use super::Wake;
use super::connection::close_in_background;

/// The platform's session, once a command needed it.
#[derive(Default)]
pub struct PlatformClient {
    session: Option<(Session, BrokerUrl)>,
}

impl PlatformClient {
    /// The session to `url`, started now when there is none for it.
    pub fn session(
        &mut self,
        url: &BrokerUrl,
        tls: &TlsOptions,
        wake: &Wake,
    ) -> Result<&Session, String> {
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
        self.session
            .as_ref()
            .map(|(session, _)| session)
            .ok_or_else(|| "the platform client could not start".to_owned())
    }

    /// What the session said since the last frame about the requests it carries: how each
    /// ended. Its own link comes and goes unseen: a command it cannot send ends as lost.
    pub fn take_events(&mut self) -> Vec<SessionEvent> {
        let Some((session, _)) = &self.session else {
            return Vec::new();
        };
        let events: Vec<SessionEvent> = session.events.try_iter().collect();
        if events.iter().any(|e| matches!(e, SessionEvent::Closed)) {
            self.session = None;
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
            .collect()
    }

    /// Closes the session, off the window's thread.
    pub fn close(&mut self) {
        if let Some((session, _)) = self.session.take() {
            close_in_background(session);
        }
    }
}
