//! The test gateway's link: TLS trusting a given CA (with a client certificate when asked),
//! its keep-alive, and the ways a link goes wrong (a keep-alive of 0, silence past 1.5 times
//! the keep-alive, trusting any certificate). Written on rustls and rumqttc alone, without the
//! thingbench crate's own TLS, so that the tests judge thingbench against an independent device.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rumqttc::tokio_rustls::rustls;
use rumqttc::{MqttOptions, TlsConfiguration, Transport};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// What a test device does wrong with its link.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LinkFlaw {
    #[default]
    None,
    /// Its CONNECT names a keep-alive of 0.
    KeepAliveZero,
    /// Keep-alive 1 s, and once, about 2.3 s after it starts, nothing at all for 2.5 s
    /// (its event loop is not polled, so not even a ping goes out).
    Silent,
    /// Trusts any server certificate.
    AcceptsAnyCertificate,
}

impl LinkFlaw {
    /// The flaw named on a command line: `keep-alive-zero`, `silent-link`...
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "keep-alive-zero" => Self::KeepAliveZero,
            "silent-link" => Self::Silent,
            "accepts-any-certificate" => Self::AcceptsAnyCertificate,
            _ => return None,
        })
    }
}

/// How the device connects.
#[derive(Clone, Debug, Default)]
pub struct Link {
    pub flaw: LinkFlaw,
    /// TLS, trusting this CA (PEM file); `None`: plain MQTT.
    pub tls_ca: Option<PathBuf>,
    /// A client certificate and its key (PEM text) to present over TLS.
    pub client_cert: Option<(String, String)>,
    /// Whether the silence of [`LinkFlaw::Silent`] has been kept (shared by its clones: one
    /// silence per device).
    pub silent_done: Arc<AtomicBool>,
}

/// When [`LinkFlaw::Silent`] goes silent, after the device starts, and for how long.
const SILENT_AT: Duration = Duration::from_millis(2_300);
const SILENT_FOR: Duration = Duration::from_millis(2_500);

impl Link {
    /// Plain MQTT with `flaw`.
    pub fn with_flaw(flaw: LinkFlaw) -> Self {
        Self {
            flaw,
            ..Self::default()
        }
    }

    /// Sets the keep-alive and the transport of a new connection.
    pub fn apply(&self, options: &mut MqttOptions) {
        options.set_keep_alive(match self.flaw {
            LinkFlaw::KeepAliveZero => Duration::ZERO,
            LinkFlaw::Silent => Duration::from_secs(1),
            _ => Duration::from_secs(5),
        });
        if let Some(config) = self.tls_config() {
            options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
                Arc::new(config),
            )));
        }
    }

    /// How long the event loop must not be polled now (once, for [`LinkFlaw::Silent`]).
    pub fn silence(&self, started: Instant) -> Option<Duration> {
        let due = self.flaw == LinkFlaw::Silent && started.elapsed() >= SILENT_AT;
        (due && !self.silent_done.swap(true, Ordering::SeqCst)).then_some(SILENT_FOR)
    }

    fn tls_config(&self) -> Option<rustls::ClientConfig> {
        let ca = self.tls_ca.as_ref()?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .expect("TLS versions");
        let builder = if self.flaw == LinkFlaw::AcceptsAnyCertificate {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        } else {
            let pem = std::fs::read(ca).expect("the CA file");
            let mut roots = rustls::RootCertStore::empty();
            for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
                roots.add(cert.expect("PEM")).expect("a CA certificate");
            }
            builder.with_root_certificates(roots)
        };
        Some(match &self.client_cert {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => {
                let chain = rustls_pemfile::certs(&mut cert.as_bytes())
                    .collect::<Result<Vec<_>, _>>()
                    .expect("PEM");
                let key = rustls_pemfile::private_key(&mut key.as_bytes())
                    .expect("PEM")
                    .expect("a key");
                builder.with_client_auth_cert(chain, key).expect("fits")
            }
        })
    }
}

/// Trusts whatever certificate the server shows: the flaw `refuses-bad-certificates` catches.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
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
