//! `--tls`, `--tls-cert`, `--tls-key` and `--tls-client-ca`: TLS on the device's side of
//! `serve`'s broker and `qualify`'s proxy.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::broker::tls::{CertFault, DoorTls, TlsSetup};

use super::UsageError;

/// TLS for the devices that connect (the broker behind stays plain).
#[derive(Debug, Default, clap::Args)]
pub struct DoorTlsArgs {
    /// Speak TLS with devices: with --tls-cert and --tls-key, or else with a certificate of the
    /// workspace's local CA (made once in .thingbench/tls/; devices trust its ca.pem).
    #[arg(long)]
    pub tls: bool,
    /// PEM file of the server certificate (chain) devices see (with --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM file of the server certificate's private key.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Require devices to present a certificate signed by this CA (PEM): a device's CONNECT
    /// without one is refused with CONNACK 5.
    #[arg(long, value_name = "FILE", requires = "tls")]
    pub tls_client_ca: Option<PathBuf>,
}

impl DoorTlsArgs {
    /// The door's TLS for a workspace at `root` listening on `listen`, showing `faults` when a
    /// plan asks; `None` without `--tls`.
    pub fn door_tls(
        &self,
        root: &Path,
        listen: SocketAddr,
        faults: Vec<CertFault>,
    ) -> Result<Option<Arc<DoorTls>>, UsageError> {
        if !self.tls {
            return Ok(None);
        }
        let setup = TlsSetup {
            cert: self.tls_cert.clone().zip(self.tls_key.clone()),
            client_ca: self.tls_client_ca.clone(),
            faults,
        };
        let tls = DoorTls::new(&setup, root, listen.ip()).map_err(|e| UsageError(e.to_string()))?;
        Ok(Some(Arc::new(tls)))
    }
}

/// What a device needs to hear to connect over `tls`: the CA to trust, and a client
/// certificate when one is required.
pub fn trust_words(tls: &DoorTls, args: &DoorTlsArgs) -> String {
    let mut words = match &tls.ca_file {
        Some(ca) => format!("trusting the CA in {}", ca.display()),
        None => "trusting the CA of --tls-cert".to_owned(),
    };
    if let Some(client_ca) = &args.tls_client_ca {
        words.push_str(&format!(
            ", with a client certificate signed by {}",
            client_ca.display()
        ));
    }
    words
}
