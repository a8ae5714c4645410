//! What goes wrong in the transport layer, as types the command line and the window word once.

use std::path::PathBuf;

use rumqttc::tokio_rustls::rustls;

/// A broker URL that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BrokerUrlError {
    /// Neither `mqtt://` nor `mqtts://`.
    #[error("broker URL {0:?} must start with mqtt:// or mqtts:// (e.g. mqtt://127.0.0.1:1883)")]
    Scheme(String),
    /// The port is not a number from 1 to 65535.
    #[error("broker URL {0:?} has a port that is not a number from 1 to 65535")]
    Port(String),
    /// Nothing between the scheme and the port.
    #[error("broker URL {0:?} has no host")]
    NoHost(String),
}

/// TLS settings of a client that cannot be used: a file that cannot be read, or certificates
/// that do not fit.
#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    /// A PEM file could not be read.
    #[error("{}: cannot read the {what}: {source}; check the path", .path.display())]
    Read {
        path: PathBuf,
        what: &'static str,
        source: std::io::Error,
    },
    /// A PEM file of certificates is not valid PEM.
    #[error("{}: the {what} is not valid PEM: {source}", .path.display())]
    NotPem {
        path: PathBuf,
        what: &'static str,
        source: std::io::Error,
    },
    /// A PEM file holds no certificate.
    #[error("{}: holds no PEM certificate; give the {what} in PEM form", .path.display())]
    NoCertificate { path: PathBuf, what: &'static str },
    /// rustls refused its own defaults.
    #[error("TLS setup failed: {0}")]
    Setup(#[source] rustls::Error),
    /// The CA file's certificate cannot be a root.
    #[error("{}: the CA certificate is not usable: {source}", .path.display())]
    CaUnusable {
        path: PathBuf,
        source: rustls::Error,
    },
    /// No CA file given, and the system has none.
    #[error("no CA certificates found on this system; give the broker's CA file")]
    NoSystemRoots,
    /// The client key file is not valid PEM.
    #[error("{}: the client key is not valid PEM: {source}", .path.display())]
    KeyNotPem {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The client key file holds no key.
    #[error("{}: holds no private key", .0.display())]
    NoKey(PathBuf),
    /// The client certificate is not the key's.
    #[error("the client certificate and key do not fit together: {0}")]
    KeyMismatch(#[source] rustls::Error),
    /// A client certificate was given without its key, or a key without its certificate.
    #[error("a client certificate needs both its certificate and its key file")]
    HalfClientCert,
}

/// Why a session (or another MQTT client of thingbench's) cannot start.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The broker URL cannot be used.
    #[error(transparent)]
    BrokerUrl(#[from] BrokerUrlError),
    /// The TLS settings cannot be used.
    #[error(transparent)]
    Tls(#[from] TlsConfigError),
    /// The session's async runtime could not be made.
    #[error("cannot start the network runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// The session's thread could not be started.
    #[error("cannot start the session thread: {0}")]
    Thread(#[source] std::io::Error),
    /// The session ended, or the time ran out, before the broker accepted it.
    #[error("could not connect to {broker}: {last}")]
    NotConnected {
        broker: super::BrokerUrl,
        /// The last reason the session gave.
        last: String,
    },
}

/// Why a subscription is not in place: never sent, or refused by the broker.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SubscribeError {
    /// The filter breaks MQTT's wildcard rules.
    #[error(
        "could not subscribe to {0}: not a valid MQTT topic filter ('#' only last, '+' and '#' only as whole levels)"
    )]
    InvalidFilter(String),
    /// rumqttc could not queue the SUBSCRIBE.
    #[error("could not subscribe to {filter}: {why}")]
    NotSent { filter: String, why: String },
    /// The broker's SUBACK refused it.
    #[error("the broker refused the subscription to {0} (check its access rules)")]
    Refused(String),
    /// The broker's SUBACK carried no code.
    #[error("the broker answered the subscription to {0} with no code")]
    NoCode(String),
}

/// A publish over thingbench's MQTT packet limit, refused before rumqttc would drop the
/// connection for it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "not sent: a packet of {size} bytes is over thingbench's MQTT limit of {} bytes",
    super::MAX_PACKET
)]
pub struct TooLarge {
    /// The packet's size in bytes.
    pub size: usize,
}
