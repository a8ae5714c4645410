//! TLS for `mqtts://`: rustls with ring, a custom CA or the system's roots, an optional
//! client certificate, and verification that is on unless the user turns it off.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rumqttc::tokio_rustls::rustls;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use super::TlsConfigError;

/// TLS settings of a session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsOptions {
    /// PEM file of the CA that signed the broker's certificate; `None` uses the system's roots.
    pub ca_file: Option<PathBuf>,
    /// PEM files of a client certificate and its key.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// Verify the broker's certificate. Off only when the user asks, with a warning.
    pub verify: bool,
}

impl Default for TlsOptions {
    fn default() -> Self {
        Self {
            ca_file: None,
            client_cert: None,
            verify: true,
        }
    }
}

fn read(path: &Path, what: &'static str) -> Result<Vec<u8>, TlsConfigError> {
    std::fs::read(path).map_err(|source| TlsConfigError::Read {
        path: path.to_owned(),
        what,
        source,
    })
}

fn certs(path: &Path, what: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsConfigError> {
    let pem = read(path, what)?;
    let certs = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsConfigError::NotPem {
            path: path.to_owned(),
            what,
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsConfigError::NoCertificate {
            path: path.to_owned(),
            what,
        });
    }
    Ok(certs)
}

/// The rustls client configuration for `options`.
pub fn client_config(options: &TlsOptions) -> Result<rustls::ClientConfig, TlsConfigError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(TlsConfigError::Setup)?;
    let builder = if options.verify {
        let mut roots = rustls::RootCertStore::empty();
        match &options.ca_file {
            Some(path) => {
                for cert in certs(path, "CA certificate")? {
                    roots
                        .add(cert)
                        .map_err(|source| TlsConfigError::CaUnusable {
                            path: path.clone(),
                            source,
                        })?;
                }
            }
            None => {
                let native = rustls_native_certs::load_native_certs();
                for cert in native.certs {
                    let _ = roots.add(cert);
                }
                if roots.is_empty() {
                    return Err(TlsConfigError::NoSystemRoots);
                }
            }
        }
        builder.with_root_certificates(roots)
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
    };
    match &options.client_cert {
        None => Ok(builder.with_no_client_auth()),
        Some((cert_path, key_path)) => {
            let chain = certs(cert_path, "client certificate")?;
            let key_pem = read(key_path, "client key")?;
            let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut key_pem.as_slice())
                .map_err(|source| TlsConfigError::KeyNotPem {
                    path: key_path.clone(),
                    source,
                })?
                .ok_or_else(|| TlsConfigError::NoKey(key_path.clone()))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(TlsConfigError::KeyMismatch)
        }
    }
}

/// Accepts any certificate: only when the user turned verification off.
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_files_are_named() {
        let options = TlsOptions {
            ca_file: Some(PathBuf::from("/no/such/ca.pem")),
            ..TlsOptions::default()
        };
        let err = client_config(&options).expect_err("missing CA").to_string();
        assert!(
            err.contains("/no/such/ca.pem") && err.contains("CA certificate"),
            "{err}"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let not_pem = dir.path().join("ca.pem");
        std::fs::write(&not_pem, "hello").expect("write");
        let options = TlsOptions {
            ca_file: Some(not_pem),
            ..TlsOptions::default()
        };
        let err = client_config(&options).expect_err("not PEM").to_string();
        assert!(err.contains("no PEM certificate"), "{err}");
    }

    #[test]
    fn verification_off_builds() {
        let options = TlsOptions {
            verify: false,
            ..TlsOptions::default()
        };
        assert!(client_config(&options).is_ok());
    }
}
