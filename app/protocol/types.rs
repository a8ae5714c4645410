//! Small types that say what a value is.

use std::fmt;

/// The product key of a device, as the hub knows it.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct ProductKey(pub String);

/// The device key of a device, unique within its product.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct DeviceKey(pub String);

/// A device, named by product key and device key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceId {
    pub product_key: ProductKey,
    pub device_key: DeviceKey,
}

impl DeviceId {
    /// A device from its two keys.
    pub fn new(product_key: impl Into<String>, device_key: impl Into<String>) -> Self {
        Self {
            product_key: ProductKey(product_key.into()),
            device_key: DeviceKey(device_key.into()),
        }
    }

    /// Parses the `"pk/dk"` form used in fixtures' `login` lists.
    pub fn parse_slash(text: &str) -> Option<Self> {
        let (pk, dk) = text.split_once('/')?;
        if pk.is_empty() || dk.is_empty() || dk.contains('/') {
            return None;
        }
        Some(Self::new(pk, dk))
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.product_key.0, self.device_key.0)
    }
}

impl fmt::Display for ProductKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Milliseconds since the Unix epoch, UTC.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct EpochMs(pub i64);

impl EpochMs {
    /// The current time of this machine.
    pub fn now() -> Self {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Self(ms)
    }
}

/// A measure point's data quality, 0 to 9.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Quality(u8);

impl Quality {
    /// The highest quality value the protocol allows.
    pub const MAX: u8 = 9;

    /// A quality, if `value` is in 0..=9.
    pub fn new(value: u8) -> Option<Self> {
        (value <= Self::MAX).then_some(Self(value))
    }

    /// True when `value`, as read from JSON, is a quality the protocol allows.
    pub fn fits(value: u64) -> bool {
        value <= u64::from(Self::MAX)
    }

    /// The number sent on the wire.
    pub fn get(self) -> u8 {
        self.0
    }
}

/// A message id, as sent in a request and echoed by its reply.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct MsgId(pub String);

impl fmt::Display for MsgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quality_range() {
        assert_eq!(Quality::new(9).map(Quality::get), Some(9));
        assert_eq!(Quality::new(0).map(Quality::get), Some(0));
        assert!(Quality::new(10).is_none());
    }

    #[test]
    fn device_slash_form() {
        assert_eq!(
            DeviceId::parse_slash("invPk/inv01"),
            Some(DeviceId::new("invPk", "inv01"))
        );
        assert_eq!(DeviceId::parse_slash("invPk"), None);
        assert_eq!(DeviceId::parse_slash("/inv01"), None);
        assert_eq!(DeviceId::parse_slash("a/b/c"), None);
        assert_eq!(DeviceId::new("a", "b").to_string(), "a/b");
    }
}

/// A device secret. Its `Debug` never shows the value, so it cannot leak into logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for signing only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<masked>)")
    }
}
