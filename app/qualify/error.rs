//! What goes wrong setting up a qualification, and why a device's CONNECT was refused, as
//! types the command line and the window word once.

use crate::broker::BrokerError;
use crate::broker::door::DoorError;
use crate::hub::HubError;
use crate::protocol::{DeviceId, SignError};
use crate::transport::{BrokerUrl, TransportError};
use crate::workspace::DeviceSecretError;

/// Why a qualification could not start.
#[derive(Debug, thiserror::Error)]
pub enum QualifyError {
    /// The device's secret cannot be read (not taken for a missing one).
    #[error(transparent)]
    Secret(#[from] DeviceSecretError),
    /// The device has no secret, so its signatures cannot be checked.
    #[error(
        "the workspace has no usable secret for {0}, so its CONNECT signatures cannot be checked; set its secret in workspace.json"
    )]
    NoSecret(DeviceId),
    /// The proxy forwards plain MQTT only.
    #[error(
        "qualify forwards plain MQTT and reads the device's CONNECT: give an mqtt:// broker, not {0}"
    )]
    TlsBroker(BrokerUrl),
    /// The broker's host name does not resolve.
    #[error("cannot find the host of {0}: check the broker's name")]
    UnknownHost(BrokerUrl),
    /// The embedded broker could not start.
    #[error(transparent)]
    Broker(#[from] BrokerError),
    /// The embedded broker gave no in-process link for the hub.
    #[error("the embedded broker gave no link for the hub")]
    NoHubLink,
    /// Neither a broker URL nor the embedded broker.
    #[error("no broker to qualify on")]
    NoBroker,
    /// The platform's client, which sends the plan's commands, could not connect.
    #[error("the platform's client, which sends the plan's commands: {0}")]
    Courier(#[source] TransportError),
    /// The proxy could not listen where the device connects.
    #[error("{0}; the device needs it: choose another --listen")]
    Listen(#[source] DoorError),
    /// The hub could not start or connect.
    #[error(transparent)]
    Hub(#[from] HubError),
}

/// Why the proxy refused a CONNECT of the device under test.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Unsigned {
    /// `--tls-client-ca` requires a client certificate, and none came.
    #[error(
        "it came without a client certificate, and --tls-client-ca requires one signed by that CA"
    )]
    Uncertified,
    /// The CONNECT's signature is not valid.
    #[error(transparent)]
    Sign(#[from] SignError),
}
