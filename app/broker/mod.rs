//! The embedded MQTT broker (rumqttd) on a loopback port, proven to be ours before use, with
//! the door its clients come in by.

pub mod deliver;
pub mod departures;
pub mod door;
pub mod keeper;
pub mod mqtt_frame;
pub mod mqtt_packets;
pub mod tls;
mod waiting_room;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings};

use crate::transport::{BrokerUrl, MAX_PACKET, Scheme, panic_words};
use crate::workspace::WorkspaceFeed;

pub use departures::Departures;
pub use keeper::BrokerNews;

use door::{Behind, Door, DoorError, DoorLimits};
use keeper::Keeper;
use tls::DoorTls;

/// Why the embedded broker could not start.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// No loopback port was free for rumqttd.
    #[error("cannot find a free loopback port for the embedded broker: {0}")]
    NoPort(#[source] std::io::Error),
    /// rumqttd refused to start, or its thread could not be started.
    #[error("cannot start the embedded broker: {0}")]
    Start(String),
    /// rumqttd stopped, or never listened, on its own port.
    #[error("the embedded broker did not start listening on {addr}: {why}")]
    NotListening { addr: SocketAddr, why: String },
    /// The door could not open on the address clients use.
    #[error("{0}; choose another address with --listen")]
    Door(#[from] DoorError),
    /// Another program answered on the door's port.
    #[error(
        "the broker on {0} is not thingbench's embedded broker (another program holds the port); choose another port"
    )]
    NotOurs(SocketAddr),
    /// The probe that proves the broker ours could not get through.
    #[error("cannot reach the embedded broker on {addr}: {why}")]
    Probe { addr: SocketAddr, why: String },
}

/// How to start an embedded broker.
#[derive(Clone, Debug, Default)]
pub struct BrokerOptions {
    /// Where its door listens; `None`: a free loopback port.
    pub listen: Option<SocketAddr>,
    /// The workspace whose devices must sign their CONNECTs; `None`: nobody is checked.
    pub workspace: Option<WorkspaceFeed>,
    /// The door's bounds on clients that have not sent their CONNECT yet.
    pub limits: DoorLimits,
    /// TLS on the clients' side of the door; `None`: plain MQTT.
    pub tls: Option<Arc<DoorTls>>,
}

/// A running embedded broker: rumqttd on a loopback port of its own, and the [`Door`] its
/// clients come in by. rumqttd has no shutdown: it lives until the process ends; dropping this
/// closes the door (and every client connection).
#[derive(Debug)]
pub struct EmbeddedBroker {
    /// Where clients connect: the door.
    pub addr: SocketAddr,
    /// rumqttd's own listener, for a door of this process (a qualification's proxy).
    inner: SocketAddr,
    /// How this process's doors reach rumqttd: in memory, on the door's own thread, not
    /// through its listener.
    handover: rumqttd::Handover,
    /// The devices online through the door, and those that left, for the hub.
    pub departures: Arc<Departures>,
    /// What a person must hear: refused CONNECTs, the door's troubles, rumqttd stopping.
    pub news: mpsc::Receiver<BrokerNews>,
    keeper: Arc<Keeper>,
    door: Door,
    /// The door's TLS, when it speaks TLS.
    tls: Option<Arc<DoorTls>>,
}

/// An in-process connection to the embedded broker: no socket, no MQTT encoding.
pub type Link = (rumqttd::local::LinkTx, rumqttd::local::LinkRx);

impl std::fmt::Debug for Keeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keeper").finish_non_exhaustive()
    }
}

impl EmbeddedBroker {
    /// Starts a broker on `listen`, or on a free loopback port when `None`, that checks nobody's
    /// signature.
    pub fn start(listen: Option<SocketAddr>) -> Result<Self, BrokerError> {
        let options = BrokerOptions {
            listen,
            ..BrokerOptions::default()
        };
        Self::start_with(options, &[]).map(|(broker, _)| broker)
    }

    /// Starts a broker as `options` say, with an in-process link for each of `names` (the
    /// embedded hub uses one).
    pub fn start_with(
        options: BrokerOptions,
        names: &[&str],
    ) -> Result<(Self, Vec<Link>), BrokerError> {
        // rumqttd binds a port picked here and freed again: in between, another program's
        // outgoing connection may take it as its source port. Rare, and a new port mends it.
        let mut tries_left = 2;
        loop {
            match Self::start_once(options.clone(), names) {
                Err(BrokerError::NotListening { .. }) if tries_left > 0 => tries_left -= 1,
                started => return started,
            }
        }
    }

    fn start_once(
        options: BrokerOptions,
        names: &[&str],
    ) -> Result<(Self, Vec<Link>), BrokerError> {
        let listen = options
            .listen
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
        let inner = free_loopback_port()?;
        let mut broker = Broker::new(config(inner));
        let handover = broker.handover().ok_or_else(|| {
            BrokerError::Start("its configuration has no MQTT 3.1.1 server".into())
        })?;
        let start_error = |e: rumqttd::local::LinkError| BrokerError::Start(e.to_string());
        let (mut probe_tx, mut probe_rx) = broker.link("thingbench-probe").map_err(start_error)?;
        let links = names
            .iter()
            .map(|name| broker.link(name).map_err(start_error))
            .collect::<Result<Vec<_>, _>>()?;
        let (news_tx, news) = mpsc::channel();
        let stopped = news_tx.clone();
        std::thread::Builder::new()
            .name("thingbench-broker".into())
            .spawn(move || {
                // rumqttd's start returns only when its servers have ended: always news. Its
                // error is large; only its words are kept.
                let why = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    broker.start().map_err(|e| e.to_string())
                })) {
                    Ok(Ok(())) => {
                        "its listener stopped (another program may have taken the port)".to_owned()
                    }
                    Ok(Err(why)) => why,
                    Err(panic) => format!("internal error: {}", panic_words(panic.as_ref())),
                };
                let _ = stopped.send(BrokerNews::Stopped { why });
            })
            .map_err(|e| BrokerError::Start(format!("its thread could not start: {e}")))?;
        wait_until_listening(inner, &news)?;
        let departures = Arc::new(Departures::default());
        let keeper = Arc::new(Keeper::new(
            options.workspace,
            Arc::clone(&departures),
            news_tx,
        ));
        let door = Door::open_tls(
            listen,
            Behind::Handover(handover.clone()),
            Arc::clone(&keeper),
            options.limits,
            options.tls.clone(),
            std::future::pending(),
        )?;
        let addr = door.addr;
        // The door's port is bound by this process; through a TLS door the probe would need
        // to trust a certificate that may not be ours to read, so it goes to rumqttd itself.
        let probed = if options.tls.is_some() { inner } else { addr };
        prove_ours(probed, &mut probe_tx, &mut probe_rx)?;
        Ok((
            Self {
                addr,
                inner,
                handover,
                departures,
                news,
                keeper,
                door,
                tls: options.tls,
            },
            links,
        ))
    }

    /// Calls `wake` after each piece of news from now on (the window repaints with it).
    pub fn wake_with(&self, wake: Box<dyn Fn() + Send>) {
        self.keeper.wake_with(wake);
    }

    /// The URL clients connect to: the door (`mqtts://` when it speaks TLS).
    pub fn url(&self) -> BrokerUrl {
        let mut url = url_of(self.addr);
        if self.tls.is_some() {
            url.scheme = Scheme::Mqtts;
        }
        url
    }

    /// The CA clients must trust, when the door speaks TLS with a certificate of the local CA.
    pub fn ca_file(&self) -> Option<&std::path::Path> {
        self.tls.as_ref().and_then(|tls| tls.ca_file.as_deref())
    }

    /// Opens one more door to the same broker, on a free loopback port, speaking TLS with
    /// `tls`: the same clients' rules (for measuring what TLS costs beside a plain door).
    /// Closing it is dropping it.
    pub fn open_tls_door(&self, tls: Arc<DoorTls>) -> Result<Door, BrokerError> {
        let listen = SocketAddr::from(([127, 0, 0, 1], 0));
        Ok(Door::open_tls(
            listen,
            Behind::Handover(self.handover.clone()),
            Arc::clone(&self.keeper),
            DoorLimits::default(),
            Some(tls),
            std::future::pending(),
        )?)
    }

    /// rumqttd itself, behind the door: for another door of this process (a qualification's
    /// proxy), so that a client never passes two.
    pub fn inner_url(&self) -> BrokerUrl {
        url_of(self.inner)
    }

    /// Closes the door: every client connection ends; rumqttd stays (it has no shutdown).
    pub fn close(&mut self) {
        self.door.close();
    }
}

fn url_of(addr: SocketAddr) -> BrokerUrl {
    BrokerUrl {
        scheme: Scheme::Mqtt,
        host: addr.ip().to_string(),
        port: addr.port(),
    }
}

fn config(addr: SocketAddr) -> Config {
    let router = RouterConfig {
        max_connections: 10_000,
        max_outgoing_packet_count: 200,
        max_segment_size: 16 * 1024 * 1024,
        max_segment_count: 4,
        custom_segment: None,
        initialized_filters: None,
        shared_subscriptions_strategy: Default::default(),
    };
    let server = ServerSettings {
        name: "thingbench-v4".into(),
        listen: addr,
        tls: None,
        next_connection_delay_ms: 0,
        connections: ConnectionSettings {
            connection_timeout_ms: 10_000,
            max_payload_size: MAX_PACKET,
            max_inflight_count: 1000,
            auth: None,
            external_auth: None,
            dynamic_filters: true,
        },
    };
    let mut v4 = std::collections::HashMap::new();
    v4.insert("1".to_owned(), server);
    Config {
        id: 0,
        router,
        v4: Some(v4),
        ..Default::default()
    }
}

fn free_loopback_port() -> Result<SocketAddr, BrokerError> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(BrokerError::NoPort)?;
    listener.local_addr().map_err(BrokerError::NoPort)
}

/// Waits until rumqttd listens on `addr`, or says why it will not: it stopped (its news), or
/// 5 s went by.
fn wait_until_listening(
    addr: SocketAddr,
    news: &mpsc::Receiver<BrokerNews>,
) -> Result<(), BrokerError> {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(BrokerNews::Stopped { why }) = news.try_recv() {
            return Err(BrokerError::NotListening { addr, why });
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Err(BrokerError::NotListening {
        addr,
        why: "nothing answered within 5 s".into(),
    })
}

/// Publishes a nonce over TCP and checks that it arrives through our own in-process link.
fn prove_ours(
    addr: SocketAddr,
    link_tx: &mut rumqttd::local::LinkTx,
    link_rx: &mut rumqttd::local::LinkRx,
) -> Result<(), BrokerError> {
    let nonce = format!(
        "{}-{}",
        std::process::id(),
        crate::protocol::EpochMs::now().0
    );
    let topic = format!("thingbench/probe/{nonce}");
    link_tx
        .subscribe(topic.clone())
        .map_err(|e| BrokerError::Start(format!("its probe could not subscribe: {e}")))?;
    let mut opts = rumqttc::MqttOptions::new(
        format!("thingbench-probe-{nonce}"),
        addr.ip().to_string(),
        addr.port(),
    );
    opts.set_keep_alive(Duration::from_secs(5));
    let (client, mut connection) = rumqttc::Client::new(opts, 10);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut published = false;
    let not_ours = || BrokerError::NotOurs(addr);
    for event in connection.iter() {
        if Instant::now() > deadline {
            return Err(not_ours());
        }
        match event {
            Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_))) if !published => {
                client
                    .try_publish(
                        topic.clone(),
                        rumqttc::QoS::AtMostOnce,
                        false,
                        nonce.clone(),
                    )
                    .map_err(|e| BrokerError::Probe {
                        addr,
                        why: e.to_string(),
                    })?;
                published = true;
            }
            Ok(rumqttc::Event::Outgoing(rumqttc::Outgoing::Publish(_))) => break,
            Ok(_) => {}
            Err(e) => {
                return Err(BrokerError::Probe {
                    addr,
                    why: e.to_string(),
                });
            }
        }
    }
    let _ = client.try_disconnect();
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(not_ours());
        }
        match link_rx.recv_deadline(Instant::now() + remaining) {
            Ok(Some(rumqttd::Notification::Forward(forward))) => {
                if forward.publish.payload.as_ref() == nonce.as_bytes() {
                    let _ = link_tx.unsubscribe(topic);
                    return Ok(());
                }
            }
            Ok(Some(rumqttd::Notification::Unschedule)) => {
                let _ = link_rx.ready();
            }
            Ok(_) => {}
            Err(_) => return Err(not_ours()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_port_is_refused_naming_it_and_what_to_do() {
        let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = taken.local_addr().expect("addr");
        let err = EmbeddedBroker::start(Some(addr)).expect_err("the port is taken");
        assert!(matches!(err, BrokerError::Door(DoorError::Listen { .. })));
        let words = err.to_string();
        assert!(
            words.contains(&addr.to_string()) && words.contains("--listen"),
            "{words}"
        );
    }

    #[test]
    fn rumqttd_that_stops_before_listening_says_why() {
        let (news_tx, news) = mpsc::channel();
        let addr = SocketAddr::from(([127, 0, 0, 1], 9));
        news_tx
            .send(BrokerNews::Stopped {
                why: "Address already in use".into(),
            })
            .expect("send");
        let err = wait_until_listening(addr, &news).expect_err("stopped");
        let words = err.to_string();
        assert!(
            words.contains("127.0.0.1:9") && words.contains("Address already in use"),
            "{words}"
        );
    }
}
