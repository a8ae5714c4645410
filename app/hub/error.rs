//! What goes wrong starting or running the reference hub, as a type the command line and the
//! window word once.

use crate::transport::TlsConfigError;

/// Why the hub cannot start, connect, or send its replies.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// The TLS settings for an `mqtts://` broker cannot be used.
    #[error(transparent)]
    Tls(#[from] TlsConfigError),
    /// The hub's async runtime could not be made.
    #[error("cannot start the hub's runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// The hub's thread could not be started.
    #[error("cannot start the hub thread: {0}")]
    Thread(#[source] std::io::Error),
    /// The hub stopped before it was connected and subscribed.
    #[error("the hub could not start: {0}")]
    Stopped(String),
    /// The time ran out before the hub was connected and subscribed; the last reason it gave.
    #[error("the hub could not connect: {0}")]
    NotConnected(String),
    /// The embedded broker's router has gone: the replies queued on the link are lost.
    #[error("the embedded broker stopped taking replies ({source}); {lost} replies were not sent")]
    RepliesLost {
        lost: usize,
        source: Box<rumqttd::local::LinkError>,
    },
}
