//! The embedded MQTT broker (rumqttd) on a loopback port, proven to be ours before use, with
//! the door its clients come in by.

pub mod door;
pub mod mqtt_frame;

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings};

use crate::protocol::DeviceId;
use crate::transport::{BrokerUrl, MAX_PACKET, Scheme};

use door::{Door, Gate, Greeting};
use mqtt_frame::Connect;

/// A running embedded broker: rumqttd on a loopback port of its own, and the [`Door`] its
/// clients come in by. rumqttd has no shutdown: it lives until the process ends; dropping this
/// closes the door (and every client connection).
#[derive(Debug)]
pub struct EmbeddedBroker {
    /// Where clients connect: the door.
    pub addr: SocketAddr,
    /// rumqttd's own listener, for a door of this process (a qualification's proxy).
    inner: SocketAddr,
    /// Whether the sockets rumqttd accepts from the door get TCP_NODELAY, or why not.
    pub nodelay: Result<(), String>,
    /// The gateways whose last connection ended, for the hub.
    pub departures: Arc<Departures>,
    door: Door,
}

/// An in-process connection to the embedded broker: no socket, no MQTT encoding.
pub type Link = (rumqttd::local::LinkTx, rumqttd::local::LinkRx);

impl EmbeddedBroker {
    /// Starts a broker on `listen`, or on a free loopback port when `None`.
    pub fn start(listen: Option<SocketAddr>) -> Result<Self, String> {
        Self::start_with_links(listen, &[]).map(|(broker, _)| broker)
    }

    /// Starts a broker with an in-process link for each of `names` (the embedded hub uses one).
    pub fn start_with_links(
        listen: Option<SocketAddr>,
        names: &[&str],
    ) -> Result<(Self, Vec<Link>), String> {
        let listen = listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
        let inner = free_loopback_port()?;
        let mut broker = Broker::new(config(inner));
        let (mut probe_tx, mut probe_rx) = broker
            .link("thingbench-probe")
            .map_err(|e| format!("cannot start the embedded broker: {e}"))?;
        let links = names
            .iter()
            .map(|name| {
                broker
                    .link(name)
                    .map_err(|e| format!("cannot start the embedded broker: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        std::thread::Builder::new()
            .name("thingbench-broker".into())
            .spawn(move || {
                let _ = broker.start();
            })
            .map_err(|e| format!("cannot start the embedded broker thread: {e}"))?;
        wait_until_listening(inner)?;
        // The door sets TCP_NODELAY on the clients' sockets; rumqttd never sets it on the
        // door's connections to it, which inherit it from its listener on Linux. Without it a
        // round trip costs 40 ms of Nagle delay.
        let nodelay = set_nodelay_on_listener(inner.port());
        let departures = Arc::new(Departures::default());
        let door = Door::open(
            listen,
            inner,
            Arc::clone(&departures),
            std::future::pending(),
        )
        .map_err(|e| format!("{e}; choose another address with --listen"))?;
        let addr = door.addr;
        prove_ours(addr, &mut probe_tx, &mut probe_rx)?;
        Ok((
            Self {
                addr,
                inner,
                nodelay,
                departures,
                door,
            },
            links,
        ))
    }

    /// What a person must be told once about this broker's round trips: that TCP_NODELAY could
    /// not be set, so that Nagle's algorithm makes each one take about 40 ms.
    pub fn latency_warning(&self) -> Option<String> {
        let why = self.nodelay.as_ref().err()?;
        Some(nagle_warning(self.inner.port(), why))
    }

    /// The URL clients connect to: the door.
    pub fn url(&self) -> BrokerUrl {
        url_of(self.addr)
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

fn nagle_warning(port: u16, why: &str) -> String {
    format!(
        "TCP_NODELAY could not be set on the embedded broker's own port {port} ({why}): round trips will take about 40 ms because Nagle's algorithm is on"
    )
}

fn url_of(addr: SocketAddr) -> BrokerUrl {
    BrokerUrl {
        scheme: Scheme::Mqtt,
        host: addr.ip().to_string(),
        port: addr.port(),
    }
}

/// The gateways (and directly connected devices) whose last connection through the embedded
/// broker's door ended since the hub last looked: the hub logs their sub-devices out, as the
/// platform does when a gateway goes offline. A device is known by its CONNECT's username,
/// `{deviceKey}&{productKey}` (protocol.md, "Login and signing").
#[derive(Debug, Default)]
pub struct Departures {
    state: Mutex<DepartureState>,
}

#[derive(Debug, Default)]
struct DepartureState {
    /// Open connections per device: a device that opens a new connection before its old one
    /// ends (a session takeover) has not left.
    open: HashMap<DeviceId, usize>,
    left: Vec<DeviceId>,
}

impl Departures {
    fn state(&self) -> std::sync::MutexGuard<'_, DepartureState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The devices that left since the last call.
    pub fn take(&self) -> Vec<DeviceId> {
        std::mem::take(&mut self.state().left)
    }
}

/// The device a CONNECT's username names: `{deviceKey}&{productKey}`.
pub fn device_of_username(username: &str) -> Option<DeviceId> {
    let (device_key, product_key) = username.split_once('&')?;
    (!device_key.is_empty() && !product_key.is_empty() && !product_key.contains('&'))
        .then(|| DeviceId::new(product_key, device_key))
}

impl Gate for Departures {
    type Guest = DeviceId;

    fn greet(&self, connect: Option<&Connect>) -> Greeting<DeviceId> {
        let Some(device) = connect
            .and_then(|c| c.username.as_deref())
            .and_then(device_of_username)
        else {
            return Greeting::Pass;
        };
        *self.state().open.entry(device.clone()).or_default() += 1;
        Greeting::Watch(device)
    }

    fn left(&self, device: DeviceId) {
        let mut state = self.state();
        let open = state.open.entry(device.clone()).or_default();
        *open = open.saturating_sub(1);
        if *open == 0 {
            state.open.remove(&device);
            state.left.push(device);
        }
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

fn free_loopback_port() -> Result<SocketAddr, String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .map_err(|e| format!("cannot find a free loopback port: {e}"))?;
    listener
        .local_addr()
        .map_err(|e| format!("cannot find a free loopback port: {e}"))
}

fn wait_until_listening(addr: SocketAddr) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Err(format!(
        "the embedded broker did not start listening on {addr} within 5 s"
    ))
}

/// Sets TCP_NODELAY on the listening socket of `port` in this process, or says why it could not.
/// The socket is found through `/proc/self/fd` on Linux, by trying each descriptor number on
/// other Unix systems.
#[cfg(target_os = "linux")]
fn set_nodelay_on_listener(port: u16) -> Result<(), String> {
    set_nodelay_in(std::path::Path::new("/proc/self/fd"), port)
}

#[cfg(all(unix, not(target_os = "linux")))]
fn set_nodelay_on_listener(port: u16) -> Result<(), String> {
    set_nodelay_by_scan(port)
}

#[cfg(not(unix))]
fn set_nodelay_on_listener(_port: u16) -> Result<(), String> {
    Err("this system gives no way to find the broker's listening socket".into())
}

/// Sets TCP_NODELAY on `fd` when it is a listening socket on `port`: `None` when it is not one.
#[cfg(unix)]
fn nodelay_if_listener(fd: std::os::fd::BorrowedFd<'_>, port: u16) -> Option<Result<(), String>> {
    let socket = socket2::SockRef::from(&fd);
    let listening = socket.peer_addr().is_err();
    let local_port = socket
        .local_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .map(|a| a.port());
    (listening && local_port == Some(port)).then(|| {
        socket
            .set_tcp_nodelay(true)
            .map_err(|e| format!("the system refused it: {e}"))
    })
}

/// Sets TCP_NODELAY on the first listening socket on `port` among `open_fds`; `none` is the
/// error when there is none.
///
/// # Safety
/// Every descriptor `open_fds` yields must be open in this process when it is yielded. Each is
/// only borrowed for two socket-option calls and never closed here.
#[cfg(unix)]
unsafe fn nodelay_on_listener_among(
    open_fds: impl Iterator<Item = std::os::fd::RawFd>,
    port: u16,
    none: String,
) -> Result<(), String> {
    let mut found = Err(none);
    for fd in open_fds {
        // SAFETY: open, by this function's contract.
        let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        if let Some(result) = nodelay_if_listener(fd, port) {
            found = result;
            if found.is_ok() {
                break;
            }
        }
    }
    found
}

/// Sets TCP_NODELAY on the listening socket of `port` among the open files listed in `fd_dir`
/// (this process's `/proc/self/fd`).
#[cfg(target_os = "linux")]
fn set_nodelay_in(fd_dir: &std::path::Path, port: u16) -> Result<(), String> {
    let entries = std::fs::read_dir(fd_dir)
        .map_err(|e| format!("cannot list {} to find its socket: {e}", fd_dir.display()))?;
    let sockets = entries.flatten().filter_map(|entry| {
        let fd = entry.file_name().to_string_lossy().parse().ok()?;
        std::fs::read_link(entry.path())
            .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"))
            .then_some(fd)
    });
    let none = format!("no listening socket on port {port} in {}", fd_dir.display());
    // SAFETY: each fd is listed in /proc/self/fd: open in this process.
    unsafe { nodelay_on_listener_among(sockets, port, none) }
}

/// Sets TCP_NODELAY on the listening socket of `port` by trying every descriptor number below
/// the process's limit (at most 65,536): for Unix systems without `/proc`.
#[cfg(unix)]
#[cfg_attr(target_os = "linux", allow(dead_code))]
fn set_nodelay_by_scan(port: u16) -> Result<(), String> {
    use std::os::fd::RawFd;
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct it is given.
    let known = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &raw mut limit) } == 0;
    let highest: RawFd = if known {
        RawFd::try_from(limit.rlim_cur.min(65_536)).unwrap_or(65_536)
    } else {
        1024
    };
    // SAFETY: F_GETFD only asks whether the number is an open descriptor.
    let open = (0..highest).filter(|&fd| unsafe { libc::fcntl(fd, libc::F_GETFD) } != -1);
    let none = format!("no listening socket on port {port} among the first {highest} descriptors");
    // SAFETY: each fd was just found open in this process.
    unsafe { nodelay_on_listener_among(open, port, none) }
}

/// Publishes a nonce over TCP and checks that it arrives through our own in-process link.
fn prove_ours(
    addr: SocketAddr,
    link_tx: &mut rumqttd::local::LinkTx,
    link_rx: &mut rumqttd::local::LinkRx,
) -> Result<(), String> {
    let nonce = format!(
        "{}-{}",
        std::process::id(),
        crate::protocol::EpochMs::now().0
    );
    let topic = format!("thingbench/probe/{nonce}");
    link_tx
        .subscribe(topic.clone())
        .map_err(|e| format!("embedded broker probe failed: {e}"))?;
    let mut opts = rumqttc::MqttOptions::new(
        format!("thingbench-probe-{nonce}"),
        addr.ip().to_string(),
        addr.port(),
    );
    opts.set_keep_alive(Duration::from_secs(5));
    let (client, mut connection) = rumqttc::Client::new(opts, 10);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut published = false;
    let not_ours = || {
        format!(
            "the broker on {addr} is not thingbench's embedded broker (another program holds the port); choose another port"
        )
    };
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
                    .map_err(|e| format!("embedded broker probe failed: {e}"))?;
                published = true;
            }
            Ok(rumqttc::Event::Outgoing(rumqttc::Outgoing::Publish(_))) => break,
            Ok(_) => {}
            Err(e) => {
                return Err(format!(
                    "cannot connect to the embedded broker on {addr}: {e}"
                ));
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

    #[cfg(target_os = "linux")]
    #[test]
    fn nodelay_is_set_on_the_listener_or_the_reason_is_kept() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let socket = socket2::SockRef::from(&listener);
        assert!(!socket.tcp_nodelay().expect("nodelay"), "off to begin with");
        assert_eq!(set_nodelay_on_listener(port), Ok(()));
        assert!(socket.tcp_nodelay().expect("nodelay"));

        let missing = std::path::Path::new("/nonexistent/fd");
        let why = set_nodelay_in(missing, port).expect_err("no such folder");
        assert!(why.contains("/nonexistent/fd"), "{why}");
        drop(listener);
        let why = set_nodelay_on_listener(port).expect_err("nobody listens");
        assert!(why.contains(&format!("port {port}")), "{why}");
    }

    #[test]
    fn a_broker_without_nodelay_says_why_its_round_trips_are_slow() {
        let warning = nagle_warning(1883, "no listening socket on port 1883 in /proc/self/fd");
        assert!(
            warning.contains("TCP_NODELAY")
                && warning.contains("40 ms")
                && warning.contains("Nagle's algorithm is on")
                && warning.contains("no listening socket on port 1883"),
            "{warning}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn without_proc_the_listener_is_found_by_its_descriptor_number() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let socket = socket2::SockRef::from(&listener);
        assert!(!socket.tcp_nodelay().expect("nodelay"), "off to begin with");
        assert_eq!(set_nodelay_by_scan(port), Ok(()));
        assert!(socket.tcp_nodelay().expect("nodelay"));
        drop(listener);
        let why = set_nodelay_by_scan(port).expect_err("nobody listens");
        assert!(why.contains(&format!("port {port}")), "{why}");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_embedded_broker_sets_nodelay_here() {
        let broker = EmbeddedBroker::start(None).expect("starts");
        assert_eq!(broker.nodelay, Ok(()));
        assert_eq!(broker.latency_warning(), None);
    }

    fn connect(username: Option<&str>) -> Connect {
        Connect {
            client_id: "c".into(),
            username: username.map(str::to_owned),
            password: None,
        }
    }

    #[test]
    fn a_gateway_departs_when_its_last_connection_ends() {
        let departures = Departures::default();
        let gw = DeviceId::new("gwPk", "gw01");
        let watch = |username| match departures.greet(Some(&connect(username))) {
            Greeting::Watch(device) => Some(device),
            Greeting::Pass => None,
            Greeting::Refuse(_) => panic!("the embedded broker refuses nobody"),
        };
        // Who is not a device passes unwatched: a watcher, a probe, a non-MQTT stream.
        assert_eq!(watch(None), None);
        assert_eq!(watch(Some("someone")), None);
        assert!(matches!(departures.greet(None), Greeting::Pass));
        // A session takeover: the new connection opens before the old one ends.
        let old = watch(Some("gw01&gwPk")).expect("watched");
        assert_eq!(old, gw);
        let new = watch(Some("gw01&gwPk")).expect("watched");
        departures.left(old);
        assert_eq!(departures.take(), Vec::<DeviceId>::new());
        departures.left(new);
        assert_eq!(departures.take(), vec![gw]);
        assert_eq!(departures.take(), Vec::<DeviceId>::new(), "told once");
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
}
