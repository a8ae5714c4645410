//! TLS on the device's side of a door: the server certificate it shows (given, or signed by a
//! local CA made once in the workspace's `.thingbench/tls/`), the bad certificates a
//! qualification shows on purpose (made in memory, never written), and the client certificates
//! it may require. rcgen makes every certificate; rustls (ring) speaks TLS.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, date_time_ymd,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::workspace::write_atomic;

/// A certificate a device must refuse, shown on purpose by a qualification's phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CertFault {
    /// Signed by another CA than the one the device trusts.
    Untrusted,
    /// Signed by the right CA, for another host name.
    WrongHost,
    /// Signed by the right CA for the right names, its validity over.
    Expired,
}

impl CertFault {
    /// Every fault, in the order plans list them.
    pub const ALL: [Self; 3] = [Self::Untrusted, Self::WrongHost, Self::Expired];

    /// The name plans use: `untrusted`, `wrong-host`, `expired`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Untrusted => "untrusted",
            Self::WrongHost => "wrong-host",
            Self::Expired => "expired",
        }
    }

    /// The fault named `name` in a plan.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

    /// What the certificate is, in a few words.
    pub fn words(self) -> &'static str {
        match self {
            Self::Untrusted => "a certificate from another CA",
            Self::WrongHost => "a certificate of the right CA for another host name",
            Self::Expired => "an expired certificate of the right CA",
        }
    }
}

/// Why the door's TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("{}: cannot read the {what}: {source}; check the path", path.display())]
    Read {
        path: PathBuf,
        what: &'static str,
        source: std::io::Error,
    },
    /// A file holds no usable PEM of what it should.
    #[error("{}: {why}; give the {what} in PEM form", path.display())]
    Pem {
        path: PathBuf,
        what: &'static str,
        why: String,
    },
    /// The local CA's folder could not be written.
    #[error("{}: cannot write the local CA: {source}; check the folder's permissions", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The local CA's folder exists without its CA.
    #[error("{}: the local CA's folder lacks {file}; remove the folder to make a new CA (devices must then trust the new ca.pem)", dir.display())]
    Incomplete { dir: PathBuf, file: &'static str },
    /// rcgen could not make a certificate.
    #[error("cannot make a certificate: {0}")]
    Make(#[from] rcgen::Error),
    /// rustls refused the certificate, key or client CA.
    #[error("the TLS setup is refused: {0}")]
    Rustls(String),
    /// A bad certificate of the right CA is asked for, and thingbench does not hold that CA.
    #[error(
        "the plan's \"{}\" fault needs a certificate signed by the CA the device trusts, and only thingbench's local CA is at hand: run without --tls-cert and --tls-key", fault.name()
    )]
    NoCaForFault { fault: CertFault },
}

/// How a TLS handshake on the door failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeFailure {
    /// The client sent an alert: it refused the certificate shown (or something else of ours).
    #[error("the client aborted the handshake ({0})")]
    Refused(String),
    /// The client closed the connection during the handshake.
    #[error("the client closed the connection during the handshake")]
    Closed,
    /// The client's certificate is missing or not signed by the client CA.
    #[error("its client certificate was not accepted: {0}")]
    ClientCertificate(String),
    /// The handshake did not end within the CONNECT deadline.
    #[error("the handshake did not end in time")]
    TimedOut,
    /// Not TLS, or the connection failed.
    #[error("{0}")]
    Other(String),
}

impl HandshakeFailure {
    fn of(e: &std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            return Self::Closed;
        }
        match e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            Some(rustls::Error::AlertReceived(alert)) => Self::Refused(format!("{alert:?}")),
            Some(
                e @ (rustls::Error::NoCertificatesPresented | rustls::Error::InvalidCertificate(_)),
            ) => Self::ClientCertificate(e.to_string()),
            Some(other) => Self::Other(other.to_string()),
            None => Self::Other(e.to_string()),
        }
    }
}

/// One TLS session on the door, as its gate hears of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlsSession {
    /// Counts the door's TLS sessions from 1.
    pub number: u64,
    /// The bad certificate shown, or `None` for the server's own.
    pub shown: Option<CertFault>,
    /// The client presented a certificate signed by the client CA.
    pub client_certified: bool,
    /// The door requires one (`--tls-client-ca`).
    pub client_ca_required: bool,
}

/// Where the door's server certificate comes from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsSetup {
    /// A certificate chain and its key (PEM); `None`: signed by the workspace's local CA.
    pub cert: Option<(PathBuf, PathBuf)>,
    /// Clients must present a certificate signed by this CA (PEM).
    pub client_ca: Option<PathBuf>,
    /// Make the bad certificates of [`CertFault`] too (a qualification with `tls` phases).
    pub faults: Vec<CertFault>,
}

/// The door's TLS: the acceptor for the server's certificate and one per bad certificate.
pub struct DoorTls {
    server: TlsAcceptor,
    faults: Vec<(CertFault, TlsAcceptor)>,
    client_ca_required: bool,
    /// The CA a device must trust, when thingbench made it (the local CA's `ca.pem`).
    pub ca_file: Option<PathBuf>,
    sessions: AtomicU64,
}

impl std::fmt::Debug for DoorTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the keys.
        f.debug_struct("DoorTls")
            .field(
                "faults",
                &self.faults.iter().map(|(f, _)| *f).collect::<Vec<_>>(),
            )
            .field("client_ca_required", &self.client_ca_required)
            .field("ca_file", &self.ca_file)
            .finish_non_exhaustive()
    }
}

impl DoorTls {
    /// TLS as `setup` says, for a door on `listen`, with the local CA of the workspace at
    /// `workspace_root` when no certificate is given.
    pub fn new(setup: &TlsSetup, workspace_root: &Path, listen: IpAddr) -> Result<Self, TlsError> {
        let client_roots = setup
            .client_ca
            .as_deref()
            .map(|path| certs(path, "client CA certificate"))
            .transpose()?;
        let config = |chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>| {
            server_config(chain, key, client_roots.clone()).map(|c| TlsAcceptor::from(Arc::new(c)))
        };
        let names = server_names(listen);
        let (server, ca, ca_file) = match &setup.cert {
            Some((cert, key)) => {
                let chain = certs(cert, "server certificate")?;
                let key = private_key(key)?;
                (config(chain, key)?, None, None)
            }
            None => {
                let ca = LocalCa::open(workspace_root)?;
                let (cert, key) = ca.issue(&names, Validity::Current)?;
                ca.write_server(&cert, &key)?;
                let ca_file = ca.ca_file();
                (
                    config(vec![cert.der().clone()], pkcs8(&key))?,
                    Some(ca),
                    Some(ca_file),
                )
            }
        };
        let mut faults = Vec::new();
        for &fault in &setup.faults {
            let (cert, key) = match (fault, &ca) {
                (CertFault::Untrusted, _) => {
                    let other = LocalCa::make("thingbench untrusted CA")?;
                    other.issue(&names, Validity::Current)?
                }
                (CertFault::WrongHost, Some(ca)) => {
                    ca.issue(&["wrong-host.invalid".to_owned()], Validity::Current)?
                }
                (CertFault::Expired, Some(ca)) => ca.issue(&names, Validity::Expired)?,
                (_, None) => return Err(TlsError::NoCaForFault { fault }),
            };
            faults.push((fault, config(vec![cert.der().clone()], pkcs8(&key))?));
        }
        Ok(Self {
            server,
            faults,
            client_ca_required: setup.client_ca.is_some(),
            ca_file,
            sessions: AtomicU64::new(0),
        })
    }

    /// The TLS handshake with a client that just connected, showing the bad certificate
    /// `shown` or the server's own.
    pub async fn accept(
        &self,
        shown: Option<CertFault>,
        client: TcpStream,
    ) -> (TlsSession, Result<TlsStream<TcpStream>, HandshakeFailure>) {
        let acceptor = shown
            .and_then(|fault| self.faults.iter().find(|(f, _)| *f == fault))
            .map_or(&self.server, |(_, acceptor)| acceptor);
        let mut session = TlsSession {
            number: self.sessions.fetch_add(1, Ordering::Relaxed) + 1,
            shown,
            client_certified: false,
            client_ca_required: self.client_ca_required,
        };
        let accepted = acceptor
            .accept(client)
            .await
            .map_err(|e| HandshakeFailure::of(&e));
        if let Ok(stream) = &accepted {
            session.client_certified = stream.get_ref().1.peer_certificates().is_some();
        }
        (session, accepted)
    }
}

/// The names the server certificate covers: `localhost`, `127.0.0.1` and the listen address.
fn server_names(listen: IpAddr) -> Vec<String> {
    let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    if !listen.is_unspecified() && !listen.is_loopback() {
        names.push(listen.to_string());
    }
    names
}

fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_roots: Option<Vec<CertificateDer<'static>>>,
) -> Result<rustls::ServerConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let refused = |e: &dyn std::fmt::Display| TlsError::Rustls(e.to_string());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| refused(&e))?;
    let builder = match client_roots {
        None => builder.with_no_client_auth(),
        Some(certs) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in certs {
                roots.add(cert).map_err(|e| refused(&e))?;
            }
            // A certificate that is shown must be the CA's; one that is not shown is the
            // gate's business (CONNACK 5 for a device, as the platform answers).
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .allow_unauthenticated()
            .build()
            .map_err(|e| refused(&e))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    builder
        .with_single_cert(chain, key)
        .map_err(|e| refused(&e))
}

fn read(path: &Path, what: &'static str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        what,
        source,
    })
}

fn certs(path: &Path, what: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(path, what)?;
    let certs = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            path: path.to_owned(),
            what,
            why: format!("not valid PEM: {e}"),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            path: path.to_owned(),
            what,
            why: "holds no PEM certificate".into(),
        });
    }
    Ok(certs)
}

fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let what = "server key";
    let pem = read(path, what)?;
    let bad = |why: String| TlsError::Pem {
        path: path.to_owned(),
        what,
        why,
    };
    rustls_pemfile::private_key(&mut pem.as_slice())
        .map_err(|e| bad(format!("not valid PEM: {e}")))?
        .ok_or_else(|| bad("holds no private key".into()))
}

fn pkcs8(key: &KeyPair) -> PrivateKeyDer<'static> {
    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()))
}

/// How long a certificate is valid.
#[derive(Clone, Copy)]
enum Validity {
    /// From 2020 to 2100.
    Current,
    /// Over since 2001.
    Expired,
}

/// A CA of thingbench's own: the workspace's local CA, or one made in memory.
pub struct LocalCa {
    /// Where it is kept; `None` for one made in memory.
    dir: Option<PathBuf>,
    /// Its common name.
    name: &'static str,
    key: KeyPair,
    cert_pem: String,
}

/// The local CA's files in `.thingbench/tls/`.
const CA_PEM: &str = "ca.pem";
/// The local CA's common name.
const LOCAL_CA: &str = "thingbench local CA";
const CA_KEY: &str = "ca.key";
const SERVER_PEM: &str = "server.pem";
const SERVER_KEY: &str = "server.key";

impl LocalCa {
    /// The folder of the workspace at `root` that holds its local CA.
    pub fn dir_of(root: &Path) -> PathBuf {
        root.join(".thingbench").join("tls")
    }

    /// The CA's certificate, for devices to trust.
    pub fn ca_file(&self) -> PathBuf {
        self.dir
            .as_deref()
            .map_or_else(PathBuf::new, |dir| dir.join(CA_PEM))
    }

    /// The CA's certificate in PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Opens the local CA of the workspace at `root`, making it the first time. Made in a
    /// folder of its own and renamed into place, so that two processes starting at once agree
    /// on one CA.
    pub fn open(root: &Path) -> Result<Self, TlsError> {
        let dir = Self::dir_of(root);
        if !dir.exists() {
            let made = Self::make(LOCAL_CA)?;
            let parent = dir.parent().unwrap_or(root);
            let write_error = |path: &Path| {
                let path = path.to_owned();
                move |source| TlsError::Write { path, source }
            };
            std::fs::create_dir_all(parent).map_err(write_error(parent))?;
            let tmp = parent.join(format!(".tls-{}-{}", std::process::id(), next_tmp()));
            private_dir(&tmp).map_err(write_error(&tmp))?;
            let files = [
                (CA_PEM, made.cert_pem.clone()),
                (CA_KEY, made.key.serialize_pem()),
                // Keys and certificates of this machine never go into git.
                (".gitignore", "*\n".to_owned()),
            ];
            for (name, text) in files {
                let path = tmp.join(name);
                write_atomic(&path, text.as_bytes()).map_err(write_error(&path))?;
            }
            if std::fs::rename(&tmp, &dir).is_err() {
                // Another process made it first: its CA is the one.
                let _ = std::fs::remove_dir_all(&tmp);
            }
        }
        let cert_pem =
            std::fs::read_to_string(dir.join(CA_PEM)).map_err(|_| TlsError::Incomplete {
                dir: dir.clone(),
                file: CA_PEM,
            })?;
        let key_pem =
            std::fs::read_to_string(dir.join(CA_KEY)).map_err(|_| TlsError::Incomplete {
                dir: dir.clone(),
                file: CA_KEY,
            })?;
        let key = KeyPair::from_pem(&key_pem).map_err(|_| TlsError::Incomplete {
            dir: dir.clone(),
            file: CA_KEY,
        })?;
        Ok(Self {
            dir: Some(dir),
            name: LOCAL_CA,
            key,
            cert_pem,
        })
    }

    /// A new CA in memory, named `name` (a device finds a certificate's CA by its name).
    pub fn make(name: &'static str) -> Result<Self, TlsError> {
        let key = KeyPair::generate()?;
        let cert = ca_params(name).self_signed(&key)?;
        Ok(Self {
            dir: None,
            name,
            key,
            cert_pem: cert.pem(),
        })
    }

    /// A certificate for `names` signed by this CA, with its new key.
    fn issue(
        &self,
        names: &[String],
        validity: Validity,
    ) -> Result<(rcgen::Certificate, KeyPair), TlsError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(names.to_vec())?;
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().cloned().unwrap_or_default(),
        );
        (params.not_before, params.not_after) = match validity {
            Validity::Current => (date_time_ymd(2020, 1, 1), date_time_ymd(2100, 1, 1)),
            Validity::Expired => (date_time_ymd(2000, 1, 1), date_time_ymd(2001, 1, 1)),
        };
        // The CA's certificate is ours, made from these same parameters.
        let issuer = Issuer::new(ca_params(self.name), &self.key);
        Ok((params.signed_by(&key, &issuer)?, key))
    }

    /// A client certificate for `name` signed by this CA, as PEM (certificate, key): for
    /// tests and devices of `--tls-client-ca`.
    pub fn client_pem(&self, name: &str) -> Result<(String, String), TlsError> {
        let (cert, key) = self.issue(&[name.to_owned()], Validity::Current)?;
        Ok((cert.pem(), key.serialize_pem()))
    }

    /// Writes the server's certificate and key beside the CA (each start writes its own: the
    /// device trusts the CA, not them).
    fn write_server(&self, cert: &rcgen::Certificate, key: &KeyPair) -> Result<(), TlsError> {
        let Some(dir) = &self.dir else { return Ok(()) };
        for (name, bytes) in [(SERVER_PEM, cert.pem()), (SERVER_KEY, key.serialize_pem())] {
            let path = dir.join(name);
            write_atomic(&path, bytes.as_bytes())
                .map_err(|source| TlsError::Write { path, source })?;
        }
        Ok(())
    }
}

/// The parameters of every CA thingbench makes: its certificate and its issuer come from them.
fn ca_params(common_name: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    name.push(DnType::OrganizationName, "thingbench");
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = date_time_ymd(2020, 1, 1);
    params.not_after = date_time_ymd(2100, 1, 1);
    params
}

/// A folder only this user can read: it holds private keys.
fn private_dir(path: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)
}

fn next_tmp() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[cfg(test)]
#[path = "tls_tests.rs"]
mod tests;
