//! Device-secret signing: the CONNECT credentials and the sub-device login `sign`.

use sha2::{Digest, Sha256};

use super::types::{DeviceId, EpochMs};

/// The sign method thingbench sends.
pub const SIGN_METHOD: &str = "sha256";

/// True for the names the SDKs give the plain SHA-256 digest: `sha256`, and `hmacsha256`
/// (the Python SDK's name, though it computes the same plain digest, not an HMAC).
pub fn is_sha256_sign_method(name: &str) -> bool {
    name.eq_ignore_ascii_case("sha256") || name.eq_ignore_ascii_case("hmacsha256")
}

/// Lower-case hex SHA-256 of `clientId{id}deviceKey{dk}productKey{pk}timestamp{ts}{secret}`.
///
/// A plain digest, not an HMAC, exactly as the device SDKs compute it.
pub fn sign(client_id: &str, device: &DeviceId, timestamp: &str, secret: &str) -> String {
    let mut hasher = Sha256::new();
    for part in [
        "clientId",
        client_id,
        "deviceKey",
        &device.device_key.0,
        "productKey",
        &device.product_key.0,
        "timestamp",
        timestamp,
        secret,
    ] {
        hasher.update(part.as_bytes());
    }
    let digest = hasher.finalize();
    let mut hex = String::with_capacity(64);
    for byte in digest {
        use std::fmt::Write as _;
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// What a device sends in its MQTT CONNECT when it signs with its secret.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectCredentials {
    pub client_id: String,
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for ConnectCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectCredentials")
            .field("client_id", &self.client_id)
            .field("username", &self.username)
            .field("password", &"<masked>")
            .finish()
    }
}

/// The CONNECT client id, username and password of `device` signing with `secret`.
///
/// `id` is the free part of the client id (the SDKs use the device key).
pub fn connect_credentials(
    id: &str,
    device: &DeviceId,
    secret: &str,
    now: EpochMs,
) -> ConnectCredentials {
    let timestamp = now.0.to_string();
    ConnectCredentials {
        client_id: format!("{id}|securemode=2,signmethod={SIGN_METHOD},timestamp={timestamp}|"),
        username: format!("{}&{}", device.device_key.0, device.product_key.0),
        password: sign(id, device, &timestamp, secret),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_vector_from_the_protocol_page() {
        let device = DeviceId::new("654321", "test");
        assert_eq!(
            sign("123456", &device, "1548753362502", "abcdefg"),
            "b99032d49c706f7b27b22ab5cd2dd3c56a31e1bcbbc83ba0a2a6bb3272fbb166"
        );
    }

    #[test]
    fn connect_credentials_shape() {
        let device = DeviceId::new("654321", "test");
        let creds = connect_credentials("123456", &device, "abcdefg", EpochMs(1548753362502));
        assert_eq!(creds.username, "test&654321");
        assert_eq!(
            creds.client_id,
            "123456|securemode=2,signmethod=sha256,timestamp=1548753362502|"
        );
        assert_eq!(
            creds.password,
            "b99032d49c706f7b27b22ab5cd2dd3c56a31e1bcbbc83ba0a2a6bb3272fbb166"
        );
        assert!(
            !format!("{creds:?}").contains("b99032"),
            "password is masked in Debug"
        );
    }

    #[test]
    fn sign_method_names() {
        for name in ["sha256", "SHA256", "hmacsha256", "HmacSHA256"] {
            assert!(is_sha256_sign_method(name), "{name}");
        }
        for name in ["", "md5", "hmacmd5", "hmacsha1", "sha1"] {
            assert!(!is_sha256_sign_method(name), "{name}");
        }
    }

    #[test]
    fn secret_changes_the_sign() {
        let device = DeviceId::new("pk", "dk");
        assert_ne!(sign("c", &device, "1", "a"), sign("c", &device, "1", "b"));
    }
}
