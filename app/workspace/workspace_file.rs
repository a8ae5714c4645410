//! `workspace.json`: products, the gateway, its sub-devices, the connection, variables and
//! environments.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::protocol::{DeviceId, Secret};

/// The contents of `workspace.json`. Unknown keys are kept and written back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkspaceFile {
    /// Product key to model id.
    pub products: IndexMap<String, String>,
    pub gateway: DeviceEntry,
    /// The gateway's sub-devices.
    #[serde(default)]
    pub devices: Vec<DeviceEntry>,
    /// Absent: the embedded broker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<ConnectionEntry>,
    /// Absent: the protocol's defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
    /// Values of the `{{name}}` variables in fixtures; an environment's override them.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub vars: IndexMap<String, String>,
    /// Named targets (a lab broker, a staging tenant), each overriding some of the above.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub environments: IndexMap<String, EnvironmentEntry>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One environment of `workspace.json`: what it overrides; `{}` is the workspace as it is.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EnvironmentEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<ConnectionEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<DeviceEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub devices: Option<Vec<DeviceEntry>>,
    /// Overrides the workspace's variables of the same names.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub vars: IndexMap<String, String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Limits the hub enforces and thingbench sends within.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    /// The largest payload, in bytes, that the hub accepts (1008 above it) and that thingbench
    /// sends unless a fixture asks to send more on purpose. Absent: 512 KiB, as the SDKs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_payload: Option<u64>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A device of the workspace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceEntry {
    pub product_key: String,
    pub device_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretSpec>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl DeviceEntry {
    /// The device's id.
    pub fn id(&self) -> DeviceId {
        DeviceId::new(&self.product_key, &self.device_key)
    }

    /// The device's secret, read now: `None` when the workspace gives it none; an error, naming
    /// the device, when the secret it names cannot be read.
    pub fn secret(&self) -> Result<Option<Secret>, DeviceSecretError> {
        self.secret
            .as_ref()
            .map(SecretSpec::resolve)
            .transpose()
            .map_err(|source| DeviceSecretError {
                device: self.id(),
                source,
            })
    }
}

/// Why a secret given in `workspace.json` cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum SecretError {
    /// `{"env": NAME}`, and NAME is not set (or not Unicode).
    #[error("environment variable {variable} is not set; export it to use this secret")]
    Unset { variable: String },
}

/// A device's secret that cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the secret of device {device} cannot be read: {source}")]
pub struct DeviceSecretError {
    pub device: DeviceId,
    pub source: SecretError,
}

/// A secret written in the file, or the name of the environment variable that holds it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SecretSpec {
    Env { env: String },
    Literal(String),
}

impl std::fmt::Debug for SecretSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Env { env } => write!(f, "SecretSpec::Env({env})"),
            Self::Literal(_) => f.write_str("SecretSpec::Literal(<masked>)"),
        }
    }
}

impl SecretSpec {
    /// The secret, read from the environment at use for `{"env": NAME}`.
    pub fn resolve(&self) -> Result<Secret, SecretError> {
        match self {
            Self::Literal(s) => Ok(Secret::new(s.clone())),
            Self::Env { env } => {
                std::env::var(env)
                    .map(Secret::new)
                    .map_err(|_| SecretError::Unset {
                        variable: env.clone(),
                    })
            }
        }
    }
}

/// How the window connects, when not to the embedded broker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConnectionEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthMode>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// How a client authenticates to the broker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// No credentials.
    None,
    /// A username and password.
    Password,
    /// Device-secret signing, as the protocol describes.
    #[default]
    Sign,
}
