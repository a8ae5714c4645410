//! What goes wrong in the runner layer, as a type the command line and the window word once.

use std::path::PathBuf;

use crate::broker::BrokerError;
use crate::hub::HubError;
use crate::transport::{BrokerUrlError, SubscribeError, TlsConfigError, TransportError};
use crate::workspace::{DeviceSecretError, FileError};

/// An error of a run: its inputs, or writing its results.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A path given to a run names nothing.
    #[error("{}: no such file or folder; check the path", .0.display())]
    NoSuchPath(PathBuf),
    /// The JUnit XML could not be made.
    #[error("cannot write JUnit XML: {0}")]
    Junit(#[from] quick_junit::SerializeError),
    /// A file could not be read or written.
    #[error(transparent)]
    File(#[from] FileError),
    /// `--shard` is not K/N with 1 <= K <= N.
    #[error(
        "--shard: expected K/N with 1 <= K <= N (like 2/4: the second of four slices), got \"{0}\""
    )]
    BadShard(String),
    /// The bench found no model, or no point, to build its batch from.
    #[error("{0}; the bench needs a thing model with measure points")]
    NothingToBench(String),
    /// The bench's warm-up request got no reply.
    #[error("no reply to the bench's warm-up request within {0} ms; nothing to measure")]
    WarmUpUnanswered(u128),
    /// The bench's warm-up request was lost.
    #[error("the bench's warm-up request was lost: {0}")]
    WarmUpLost(String),
    /// The bench's warm-up request was not sent.
    #[error("the bench's warm-up request was not sent: {0}")]
    WarmUpNotSent(String),
}

/// Why a suite, a watch or a bench has no broker or session to work with.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The session could not start or connect, or its URL or TLS settings cannot be used.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The embedded broker could not start.
    #[error(transparent)]
    Broker(#[from] BrokerError),
    /// The embedded broker's TLS (its certificate, the local CA) could not be set up.
    #[error(transparent)]
    DoorTls(#[from] crate::broker::tls::TlsError),
    /// The reference hub could not start or connect.
    #[error(transparent)]
    Hub(#[from] HubError),
    /// The gateway's secret cannot be read: never a connection without it.
    #[error(transparent)]
    Secret(#[from] DeviceSecretError),
    /// The gateway signs, and has no secret.
    #[error(
        "the gateway has no secret in workspace.json; add one or choose another authentication"
    )]
    NoSecret,
    /// The embedded broker gave no in-process link for the hub.
    #[error("the embedded broker gave no link for the hub")]
    NoHubLink,
    /// The thread that starts the embedded broker could not be started.
    #[error("cannot start the embedded broker's thread: {0}")]
    Thread(#[source] std::io::Error),
    /// A subscription the run depends on is not in place.
    #[error(transparent)]
    Subscribe(#[from] SubscribeError),
    /// The session ended before the broker granted what the run subscribed to.
    #[error("the session ended before the broker granted the subscriptions")]
    Ended,
    /// The broker did not answer these subscriptions in time.
    #[error("the broker did not answer the subscription to {} within {} s", .filters.join(" and "), .within_s)]
    Unanswered { filters: Vec<String>, within_s: u64 },
    /// The bench's in-process device did not get its command subscription in time.
    #[error("the in-process device did not subscribe within 10 s")]
    DeviceUnsubscribed,
    /// The bench's in-process device's thread (or its runtime) could not be started.
    #[error("cannot start the in-process device: {0}")]
    DeviceThread(#[source] std::io::Error),
    /// The bench's in-process device could not ask for its command subscription.
    #[error("the in-process device could not subscribe: {0}")]
    DeviceSubscribe(#[source] rumqttc::ClientError),
    /// The broker refused the bench's in-process device its command subscription.
    #[error("the broker refused the in-process device's subscription to {filter}")]
    DeviceRefused { filter: String },
    /// The bench's in-process device could not connect, and why in words.
    #[error("the in-process device could not connect: {0}")]
    DeviceConnect(String),
}

impl From<BrokerUrlError> for ConnectError {
    fn from(e: BrokerUrlError) -> Self {
        Self::Transport(e.into())
    }
}

impl From<TlsConfigError> for ConnectError {
    fn from(e: TlsConfigError) -> Self {
        Self::Transport(e.into())
    }
}
