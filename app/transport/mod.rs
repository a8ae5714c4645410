//! The MQTT session: one connection on a background thread with its own runtime.
//!
//! Callers send [`SessionCommand`]s and receive [`SessionEvent`]s over channels. Every request
//! ends as exactly one of: replied, no reply within its timeout, or lost to a disconnect.

mod broker_url;
mod session;
mod tls;

pub use broker_url::{BrokerUrl, Scheme};
pub use session::{
    Auth, PairedBy, RequestId, Session, SessionCommand, SessionConfig, SessionEvent,
    client_event_loop, connection_error_words,
};
pub use tls::{TlsOptions, client_config};

/// The largest packet thingbench sends or accepts: well above a 512 KiB batch.
pub const MAX_PACKET: usize = 8 * 1024 * 1024;
