//! The MQTT session: one connection on a background thread with its own runtime.
//!
//! Callers send [`SessionCommand`]s and receive [`SessionEvent`]s over channels. Every request
//! ends as exactly one of: replied, no reply within its timeout, or lost to a disconnect.

mod backoff;
mod broker_url;
mod outage;
mod session;
mod tls;

pub use crate::protocol::MAX_PACKET;
pub use backoff::Backoff;
pub use broker_url::{BrokerUrl, Scheme};
pub use outage::{Outage, OutageNews, OutageWatch};
pub use session::{
    Auth, PairedBy, RequestId, Session, SessionCommand, SessionConfig, SessionEvent,
    client_event_loop, connection_error_words,
};
pub use tls::{TlsOptions, client_config};
