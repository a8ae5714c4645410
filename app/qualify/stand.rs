//! Everything a qualification runs on: the broker (embedded, or one given), the proxy in
//! front of it, and the hub steered by the proxy's record. One constructor for the command line
//! and the window.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::broker::tls::DoorTls;
use crate::broker::{BrokerOptions, EmbeddedBroker};
use crate::hub::{Hub, HubPolicy};
use crate::transport::{BrokerUrl, Scheme, SessionCommand, TlsOptions};
use crate::workspace::{LoginState, WorkspaceFeed};

use super::QualifyError;
use super::plan::Plan;
use super::run::{Courier, Qualification};

/// A running qualification with its broker and hub; stopping (or dropping) it stops them all.
pub struct Stand {
    pub qualification: Qualification,
    /// Stopped before the broker.
    hub: Option<Hub>,
    broker: Option<EmbeddedBroker>,
    /// The broker behind the proxy.
    url: BrokerUrl,
}

impl Stand {
    /// Starts the broker (`broker`, or an embedded one on a free loopback port), the proxy on
    /// `listen` and the hub answering with the newest workspace of `feed`. `wake` is called
    /// after each of the qualification's events.
    pub fn start(
        plan: Plan,
        feed: WorkspaceFeed,
        listen: SocketAddr,
        broker: Option<BrokerUrl>,
        tls: TlsOptions,
        wake: Box<dyn Fn() + Send + Sync>,
    ) -> Result<Self, QualifyError> {
        Self::start_tls(plan, feed, listen, broker, tls, None, wake)
    }

    /// [`Stand::start`] with the proxy speaking TLS with the device when `door_tls` is given
    /// (`tls` is the hub's, for an `mqtts://` broker).
    pub fn start_tls(
        plan: Plan,
        feed: WorkspaceFeed,
        listen: SocketAddr,
        broker: Option<BrokerUrl>,
        tls: TlsOptions,
        door_tls: Option<Arc<DoorTls>>,
        wake: Box<dyn Fn() + Send + Sync>,
    ) -> Result<Self, QualifyError> {
        let ws = feed.workspace();
        // An unreadable secret is named with its variable, not taken for a missing one.
        if let Some(entry) = std::iter::once(ws.gateway_entry())
            .chain(ws.device_entries())
            .find(|entry| entry.id() == plan.device)
        {
            entry.secret()?;
        }
        let registry = ws.registry(&LoginState::Only(Vec::new()));
        let (embedded, upstream, url, courier_url) = match &broker {
            Some(url) => {
                if url.scheme == Scheme::Mqtts {
                    return Err(QualifyError::TlsBroker(url.clone()));
                }
                (None, resolve(url)?, url.clone(), url.clone())
            }
            None => {
                // On a free loopback port: only the proxy and the hub talk to it.
                let options = BrokerOptions {
                    workspace: Some(feed.clone()),
                    ..BrokerOptions::default()
                };
                let (broker, links) = EmbeddedBroker::start_with(options, &["thingbench-hub"])?;
                let url = broker.url();
                // The proxy is the door here: it reaches rumqttd itself, not the broker's door.
                let inner = broker.inner_url();
                // The commands too: the broker's door knows nobody online (the device comes
                // by the proxy) and would answer every command "device offline". The proxy
                // holds a command for an offline target itself.
                (Some((broker, links)), resolve(&inner)?, url, inner)
            }
        };
        // The platform's side sends the plan's commands from a client of its own.
        let courier = if plan.phases.iter().any(|p| !p.commands.is_empty()) {
            let session = crate::runner::connect::platform_session(courier_url, tls.clone())
                .map_err(QualifyError::Courier)?;
            let session = Mutex::new(session);
            let courier: Courier = Box::new(move |topic: &str, payload: &[u8]| {
                let session = session
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                session.send(SessionCommand::Publish {
                    topic: topic.to_owned(),
                    payload: payload.to_vec(),
                });
            });
            Some(courier)
        } else {
            None
        };
        let qualification =
            Qualification::start_tls(plan, &registry, listen, upstream, courier, door_tls, wake)?;
        let policy: Arc<dyn HubPolicy> = qualification.steering.clone();
        let (broker, hub) = match (embedded, broker) {
            (Some((broker, mut links)), _) => {
                let link = links.pop().ok_or(QualifyError::NoHubLink)?;
                (
                    Some(broker),
                    Hub::start_on_link_steered(link, feed, policy)?,
                )
            }
            (None, Some(url)) => (None, Hub::start_steered(url, tls, feed, Some(policy))?),
            (None, None) => return Err(QualifyError::NoBroker),
        };
        hub.wait_connected(Duration::from_secs(10))?;
        Ok(Self {
            qualification,
            hub: Some(hub),
            broker,
            url,
        })
    }

    /// The broker behind the proxy (the hub's): for the embedded broker, its door.
    pub fn broker_url(&self) -> &BrokerUrl {
        &self.url
    }

    /// The embedded broker itself, behind its door (as the proxy reaches it); `None` for a
    /// broker given by URL.
    pub fn inner_url(&self) -> Option<BrokerUrl> {
        self.broker.as_ref().map(EmbeddedBroker::inner_url)
    }

    /// Stops the proxy, the hub and the broker.
    pub fn stop(&mut self) {
        self.qualification.stop();
        if let Some(mut hub) = self.hub.take() {
            hub.stop();
        }
        self.broker.take();
    }
}

impl Drop for Stand {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The first address of `url`'s host and port.
fn resolve(url: &BrokerUrl) -> Result<SocketAddr, QualifyError> {
    (url.host.as_str(), url.port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| QualifyError::UnknownHost(url.clone()))
}
