//! The platform's side in tests: a session of its own (no device's identity) that sends
//! commands to devices and pairs each with its reply, as thingbench's platform client does.

use std::time::Duration;

use serde_json::{Value, json};
use thingbench::protocol::{EpochMs, MsgId, Reply};
use thingbench::transport::{
    Auth, BrokerUrl, RequestId, Session, SessionCommand, SessionConfig, SessionEvent, TlsOptions,
};

/// How long a test waits for anything before it fails.
pub const WAIT: Duration = Duration::from_secs(10);

/// The platform side: a session of its own (no device's identity) that sends commands and
/// pairs their replies.
pub struct Platform {
    pub session: Session,
    next: u64,
}

impl Platform {
    /// A platform client connected to the broker at `url`.
    pub fn connect(url: BrokerUrl) -> Self {
        let session = Session::start(
            SessionConfig {
                broker: url,
                client_id: format!("delivery-platform-{}", EpochMs::now().0),
                auth: Auth::None,
                keep_alive: Duration::from_secs(30),
                tls: TlsOptions::default(),
                platform: true,
            },
            Box::new(|| {}),
        )
        .expect("the session starts");
        loop {
            match session.events.recv_timeout(WAIT) {
                Ok(SessionEvent::Connected) => break,
                Ok(_) => {}
                Err(_) => panic!("the platform session did not connect"),
            }
        }
        Self { session, next: 0 }
    }

    /// Sends a command with `id` on `topic`: the reply that pairs with it.
    pub fn command(&mut self, topic: &str, id: &str, params: Value) -> Reply {
        self.next += 1;
        let method = if topic.ends_with("measurepoint/set") {
            "thing.service.measurepoint.set".to_owned()
        } else {
            format!(
                "thing.service.{}",
                topic.rsplit('/').next().unwrap_or_default()
            )
        };
        let body = json!({"id": id, "version": "1.0", "method": method, "params": params});
        let request = RequestId(self.next);
        self.session.send(SessionCommand::Request {
            request,
            topic: topic.to_owned(),
            payload: body.to_string().into_bytes(),
            msg_id: Some(MsgId(id.to_owned())),
            timeout: WAIT,
        });
        loop {
            match self.session.events.recv_timeout(WAIT * 2) {
                Ok(SessionEvent::Replied {
                    request: r, reply, ..
                }) if r == request => {
                    return reply;
                }
                Ok(SessionEvent::NoReply { request: r, .. }) if r == request => {
                    panic!("no reply to the command {id} on {topic}")
                }
                Ok(SessionEvent::Unpaired {
                    topic,
                    payload,
                    why,
                }) => panic!(
                    "a reply that pairs with nothing on {topic}: {} ({why})",
                    String::from_utf8_lossy(&payload)
                ),
                Ok(_) => {}
                Err(_) => panic!("the platform session said nothing about {id}"),
            }
        }
    }

    /// Nothing unpaired came (a reply delivered twice would be).
    pub fn no_unpaired(&self) {
        for event in self.session.events.try_iter() {
            assert!(
                !matches!(event, SessionEvent::Unpaired { .. }),
                "unpaired: {event:?}"
            );
        }
    }
}
