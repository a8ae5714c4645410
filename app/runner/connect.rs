//! Connecting for suites: the embedded broker and hub, and a session as the gateway.

use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::Duration;

use crate::broker::{BrokerOptions, EmbeddedBroker};
use crate::hub::Hub;
use crate::runner::ConnectError;
use crate::transport::{
    Auth, BrokerUrl, Session, SessionConfig, SessionEvent, TlsOptions, TransportError,
};
use crate::workspace::{Workspace, WorkspaceFeed};

/// The embedded broker with the reference hub on it, answering with the newest workspace of
/// `feed` (a [`crate::workspace::LiveWorkspace`]'s, to follow the files), whose devices must
/// sign their CONNECTs.
pub fn start_embedded(
    feed: WorkspaceFeed,
    listen: Option<SocketAddr>,
) -> Result<(EmbeddedBroker, Hub), ConnectError> {
    start_embedded_tls(feed, listen, None)
}

/// [`start_embedded`], its door speaking TLS with clients when `tls` is given.
pub fn start_embedded_tls(
    feed: WorkspaceFeed,
    listen: Option<SocketAddr>,
    tls: Option<std::sync::Arc<crate::broker::tls::DoorTls>>,
) -> Result<(EmbeddedBroker, Hub), ConnectError> {
    let options = BrokerOptions {
        listen,
        workspace: Some(feed.clone()),
        tls,
        ..BrokerOptions::default()
    };
    let (broker, mut links) = EmbeddedBroker::start_with(options, &["thingbench-hub"])?;
    let link = links.pop().ok_or(ConnectError::NoHubLink)?;
    let hub = Hub::start_on_link(link, feed, std::sync::Arc::clone(&broker.departures))?;
    hub.wait_connected(Duration::from_secs(10))?;
    Ok((broker, hub))
}

/// The reference hub on the broker at `url`, connected and subscribed, answering with the
/// newest workspace of `feed`.
pub fn start_hub(
    feed: WorkspaceFeed,
    url: BrokerUrl,
    tls: TlsOptions,
) -> Result<Hub, ConnectError> {
    let hub = Hub::start(url, tls, feed)?;
    hub.wait_connected(Duration::from_secs(10))?;
    Ok(hub)
}

/// A session connected as the workspace's gateway, signing with its secret when it has one. A
/// secret that cannot be read is an error, never a connection without it.
pub fn gateway_session(
    ws: &Workspace,
    url: BrokerUrl,
    tls: TlsOptions,
) -> Result<Session, ConnectError> {
    Ok(connected_session(device_config(ws, url, tls)?)?)
}

/// The session configuration of the workspace's gateway at `url`, signing with its secret when
/// it has one (an unreadable secret is an error).
pub fn device_config(
    ws: &Workspace,
    url: BrokerUrl,
    tls: TlsOptions,
) -> Result<SessionConfig, ConnectError> {
    let gateway = ws.gateway();
    let auth = match ws.gateway_entry().secret()? {
        Some(secret) => Auth::Sign {
            device: gateway.clone(),
            secret,
        },
        None => Auth::None,
    };
    Ok(SessionConfig {
        broker: url,
        client_id: gateway.device_key.0.clone(),
        auth,
        keep_alive: Duration::from_secs(30),
        tls,
        platform: false,
    })
}

/// A session of thingbench's platform side, which sends commands to devices as the platform
/// does: a client id of its own (never a device's identity), no credentials.
pub fn platform_session(url: BrokerUrl, tls: TlsOptions) -> Result<Session, TransportError> {
    connected_session(SessionConfig {
        broker: url,
        client_id: platform_client_id(),
        auth: Auth::None,
        keep_alive: Duration::from_secs(30),
        tls,
        platform: true,
    })
}

/// A client id for thingbench's platform side, unique among its processes and sessions.
pub fn platform_client_id() -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("thingbench-platform-{}-{n}", std::process::id())
}

/// A session that only watches: its own client id, no credentials.
pub fn watcher_session(url: BrokerUrl, tls: TlsOptions) -> Result<Session, TransportError> {
    connected_session(SessionConfig {
        broker: url,
        client_id: format!("thingbench-watch-{}", std::process::id()),
        auth: Auth::None,
        keep_alive: Duration::from_secs(30),
        tls,
        platform: false,
    })
}

/// Starts a session and waits until it is connected, or says why not.
pub(crate) fn connected_session(config: SessionConfig) -> Result<Session, TransportError> {
    let url = config.broker.clone();
    let session = Session::start(config, Box::new(|| {}))?;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut last = "no answer".to_owned();
    loop {
        let remaining = deadline.saturating_duration_since(std::time::Instant::now());
        match session.events.recv_timeout(remaining) {
            Ok(SessionEvent::Connected) => return Ok(session),
            Ok(SessionEvent::Disconnected { reason }) => last = reason,
            Ok(SessionEvent::Closed) | Err(_) => {
                return Err(TransportError::NotConnected { broker: url, last });
            }
            Ok(_) => {}
        }
    }
}

/// The embedded broker and hub, kept running while held.
pub type Embedded = Option<(EmbeddedBroker, Hub)>;

/// The broker at `url`, or, without one, the embedded broker with the reference hub of `feed`
/// on it. Keep the first element alive for as long as the broker is used.
pub fn broker_or_embedded(
    feed: &WorkspaceFeed,
    url: Option<&str>,
) -> Result<(Embedded, BrokerUrl), ConnectError> {
    match url {
        Some(url) => Ok((None, BrokerUrl::parse(url)?)),
        None => {
            let (broker, hub) = start_embedded(feed.clone(), None)?;
            let url = broker.url();
            Ok((Some((broker, hub)), url))
        }
    }
}

/// Starts the embedded broker and the hub of the workspace `feed` follows on a thread; the
/// answer comes on the returned channel, after which `wake` is called. The hub answers with
/// the newest workspace of `feed` at every request.
pub fn spawn_embedded(
    feed: WorkspaceFeed,
    wake: Box<dyn Fn() + Send>,
) -> mpsc::Receiver<Result<(Embedded, BrokerUrl), ConnectError>> {
    spawn_embedded_tls(feed, false, wake)
}

/// [`spawn_embedded`], its door speaking TLS with a certificate of the workspace's local CA
/// when `tls` (made once in its `.thingbench/tls/`).
pub fn spawn_embedded_tls(
    feed: WorkspaceFeed,
    tls: bool,
    wake: Box<dyn Fn() + Send>,
) -> mpsc::Receiver<Result<(Embedded, BrokerUrl), ConnectError>> {
    let (tx, rx) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("thingbench-embedded".into())
        .spawn({
            let tx = tx.clone();
            move || {
                let door_tls = if tls {
                    let root = feed.workspace().root.clone();
                    let loopback = std::net::IpAddr::from([127, 0, 0, 1]);
                    crate::broker::tls::DoorTls::new(&Default::default(), &root, loopback)
                        .map(|tls| Some(std::sync::Arc::new(tls)))
                        .map_err(ConnectError::from)
                } else {
                    Ok(None)
                };
                let started = door_tls
                    .and_then(|door_tls| start_embedded_tls(feed, None, door_tls))
                    .map(|(broker, hub)| {
                        let url = broker.url();
                        (Some((broker, hub)), url)
                    });
                let _ = tx.send(started);
                wake();
            }
        });
    if let Err(e) = spawned {
        let _ = tx.send(Err(ConnectError::Thread(e)));
    }
    rx
}
