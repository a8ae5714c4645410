//! The MQTT session: one connection on a background thread with its own runtime.
//!
//! Callers send [`SessionCommand`]s and receive [`SessionEvent`]s over channels. Every request
//! ends as exactly one of: replied, no reply within its timeout, or lost to a disconnect.

mod backoff;
mod broker_url;
mod echoes;
mod error;
mod outage;
mod session;
mod tls;

pub use crate::protocol::MAX_PACKET;
pub use backoff::Backoff;
pub use broker_url::{BrokerUrl, Scheme};
pub use echoes::{OwnPublishes, fingerprint};
pub use error::{BrokerUrlError, SubscribeError, TlsConfigError, TooLarge, TransportError};
pub use outage::{Outage, OutageNews, OutageWatch};
pub use session::{
    Auth, PairedBy, RequestId, Session, SessionCommand, SessionConfig, SessionEvent,
    client_event_loop, connection_error_words, new_event_loop,
};
pub use tls::{TlsOptions, client_config};

/// What a panic said, for the line that tells a person a thread died of it.
pub fn panic_words(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}
