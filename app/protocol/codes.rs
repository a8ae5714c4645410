//! The reply-code table: one place for every code and its meaning.

use std::fmt;

/// A reply code, as carried in a reply's `code`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct ReplyCode(pub i64);

impl ReplyCode {
    pub const SUCCESS: Self = Self(200);
    pub const TOO_LARGE: Self = Self(1008);
    pub const EMPTY: Self = Self(1251);
    pub const FORMAT: Self = Self(1220);
    pub const NO_PERMISSION: Self = Self(1009);
    pub const METHOD_MISMATCH: Self = Self(1260);
    pub const SHAPE: Self = Self(1206);
    pub const SUB_DEVICE: Self = Self(1212);
    pub const MODEL: Self = Self(1204);
    pub const DEVICE_NOT_FOUND: Self = Self(705);
    pub const NOT_SUB_DEVICE: Self = Self(740);
    pub const SIGN_FAILED: Self = Self(742);

    /// Every code of the table, in the table's order.
    pub const ALL: [Self; 12] = [
        Self::SUCCESS,
        Self::TOO_LARGE,
        Self::EMPTY,
        Self::FORMAT,
        Self::NO_PERMISSION,
        Self::METHOD_MISMATCH,
        Self::SHAPE,
        Self::SUB_DEVICE,
        Self::MODEL,
        Self::DEVICE_NOT_FOUND,
        Self::NOT_SUB_DEVICE,
        Self::SIGN_FAILED,
    ];

    /// What the code means, in the words of the protocol's table.
    pub fn meaning(self) -> &'static str {
        match self.0 {
            200 => "success",
            1008 => "message too large",
            1251 => "payload is empty",
            1220 => "payload format error",
            1009 => "no write permission",
            1260 => "methods not consistent",
            1206 => "measure point data format error",
            1212 => "no sub-device permission",
            1204 => "model validation failed",
            705 => "device not found",
            740 => "sub-device does not belong to the gateway",
            742 => "sign check failed",
            _ => "unknown code",
        }
    }

    /// True for 200.
    pub fn is_success(self) -> bool {
        self == Self::SUCCESS
    }
}

impl fmt::Display for ReplyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_meaning() {
        for code in ReplyCode::ALL {
            assert_ne!(code.meaning(), "unknown code", "{code}");
        }
        assert_eq!(ReplyCode(4242).meaning(), "unknown code");
        assert!(ReplyCode(200).is_success());
        assert!(!ReplyCode(1204).is_success());
    }
}
