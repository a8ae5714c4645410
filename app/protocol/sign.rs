//! Device-secret signing: the CONNECT credentials and the sub-device login `sign`, made and
//! checked (one check for the door, qualify and the hub).

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

/// Why a signature (a CONNECT's password, or a login's `sign`) is not valid.
#[derive(Clone, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum SignError {
    /// The client id does not have the protocol's shape.
    #[error("the client id {0:?} is not `{{id}}|securemode=2,signmethod=sha256,timestamp={{ms}}|`")]
    ClientId(String),
    /// The sign method is not the plain SHA-256 digest the platform checks.
    #[error("the sign method {0:?} is not sha256 (nor hmacsha256)")]
    Method(String),
    /// The client id names no timestamp.
    #[error("the client id has no timestamp")]
    NoTimestamp,
    /// The CONNECT carries no password.
    #[error("the CONNECT has no password")]
    NoPassword,
    /// The signature is not the one the device's secret gives.
    #[error("the signature does not match the device's secret")]
    Mismatch,
}

/// Checks `given` against the signature of `device` with `secret` over `client_id` and
/// `timestamp`, made with sign method `method`: the one check of every signature.
pub fn check_sign(
    method: &str,
    client_id: &str,
    device: &DeviceId,
    timestamp: &str,
    secret: &str,
    given: &str,
) -> Result<(), SignError> {
    if !is_sha256_sign_method(method) {
        return Err(SignError::Method(method.to_owned()));
    }
    let expected = sign(client_id, device, timestamp, secret);
    // The hub compares the hex case-insensitively; every byte is looked at, whatever differs.
    let same = given.len() == expected.len()
        && given
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |diff, (a, b)| {
                diff | (a.to_ascii_lowercase() ^ b.to_ascii_lowercase())
            })
            == 0;
    if same {
        Ok(())
    } else {
        Err(SignError::Mismatch)
    }
}

/// Checks a CONNECT of `device` signed with `secret`: its client id
/// `{id}|securemode=2,signmethod=sha256,timestamp={ms}|` and its password, the signature of
/// `{id}` and the timestamp (protocol.md, "Login and signing").
pub fn verify_connect(
    client_id: &str,
    password: Option<&str>,
    device: &DeviceId,
    secret: &str,
) -> Result<(), SignError> {
    let Some((id, rest)) = client_id.split_once('|') else {
        return Err(SignError::ClientId(client_id.to_owned()));
    };
    let option = |name: &str| {
        rest.trim_end_matches('|')
            .split(',')
            .filter_map(|kv| kv.split_once('='))
            .find(|(key, _)| key.trim().eq_ignore_ascii_case(name))
            .map(|(_, value)| value.trim())
    };
    let method = option("signmethod").unwrap_or_default();
    let timestamp = option("timestamp").ok_or(SignError::NoTimestamp)?;
    let password = password.ok_or(SignError::NoPassword)?;
    check_sign(method, id, device, timestamp, secret, password)
}

/// The device a CONNECT's username names: `{deviceKey}&{productKey}`.
pub fn device_of_username(username: &str) -> Option<DeviceId> {
    let (device_key, product_key) = username.split_once('&')?;
    (!device_key.is_empty() && !product_key.is_empty() && !product_key.contains('&'))
        .then(|| DeviceId::new(product_key, device_key))
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
    fn a_connect_is_checked_against_the_devices_secret() {
        let device = DeviceId::new("gwPk", "gw01");
        let creds = connect_credentials("gw01", &device, "gw-secret", EpochMs(1700000000000));
        let check = |client_id: &str, password: Option<&str>, secret: &str| {
            verify_connect(client_id, password, &device, secret)
        };
        assert_eq!(
            check(&creds.client_id, Some(&creds.password), "gw-secret"),
            Ok(())
        );
        // The hex is compared case-insensitively.
        let upper = creds.password.to_ascii_uppercase();
        assert_eq!(check(&creds.client_id, Some(&upper), "gw-secret"), Ok(()));
        assert_eq!(
            check(&creds.client_id, Some(&creds.password), "other"),
            Err(SignError::Mismatch)
        );
        assert_eq!(
            check(&creds.client_id, None, "gw-secret"),
            Err(SignError::NoPassword)
        );
        assert_eq!(
            check("gw01", Some(&creds.password), "gw-secret"),
            Err(SignError::ClientId("gw01".into()))
        );
        assert_eq!(
            check(
                "gw01|securemode=2,signmethod=sha256|",
                Some("x"),
                "gw-secret"
            ),
            Err(SignError::NoTimestamp)
        );
        let md5 = creds.client_id.replace("sha256", "md5");
        assert_eq!(
            check(&md5, Some(&creds.password), "gw-secret"),
            Err(SignError::Method("md5".into()))
        );
        // The Python SDK's name for the same digest.
        let python = creds.client_id.replace("sha256", "hmacsha256");
        assert_eq!(check(&python, Some(&creds.password), "gw-secret"), Ok(()));
        // A password of another length, even a prefix of the signature, never matches.
        assert_eq!(
            check(&creds.client_id, Some(&creds.password[..10]), "gw-secret"),
            Err(SignError::Mismatch)
        );
    }

    #[test]
    fn a_username_names_a_device_as_the_protocol_writes_it() {
        assert_eq!(
            device_of_username("gw01&gwPk"),
            Some(DeviceId::new("gwPk", "gw01"))
        );
        for not_one in ["gw01", "&gwPk", "gw01&", "a&b&c", ""] {
            assert_eq!(device_of_username(not_one), None, "{not_one}");
        }
    }

    #[test]
    fn secret_changes_the_sign() {
        let device = DeviceId::new("pk", "dk");
        assert_ne!(sign("c", &device, "1", "a"), sign("c", &device, "1", "b"));
    }
}
