//! The embedded broker's door, as every client of `serve`, `run`, `bench` and the window meets
//! it: when a gateway's last connection ends, the reference hub logs its sub-devices out, as
//! the platform does; a device of the workspace must sign, other clients pass; a client that
//! sends no CONNECT in time, or bytes that cannot be MQTT, is closed; out of file descriptors,
//! the door waits instead of spinning and serves again by itself; closing the door ends its
//! clients inside rumqttd too (their wills go out).

mod common;

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use thingbench::broker::door::{Door, DoorLimits, Gate, Greeting};
use thingbench::broker::mqtt_frame::Connect;
use thingbench::broker::{BrokerOptions, EmbeddedBroker};
use thingbench::protocol::{
    DeviceId, EpochMs, Method, MsgId, ReplyCode, connect_credentials, request_topic,
};
use thingbench::runner::bench::bench_body;
use thingbench::runner::connect::{gateway_session, start_embedded};
use thingbench::runner::{Outcome, Runner};
use thingbench::transport::{Session, TlsOptions};
use thingbench::workspace::{LoginState, Workspace, WorkspaceFeed};

/// One batch for `device` over `session`: the code the hub answered.
fn batch(ws: &Arc<Workspace>, session: &Session, device: &DeviceId, n: u32) -> ReplyCode {
    let registry = ws.registry(&LoginState::All);
    let body = bench_body(&registry, device, 1).expect("a body");
    let id = format!("door-{n}");
    let payload = format!("{{\"id\":\"{id}\",{body}").into_bytes();
    let mut runner = Runner::new(Arc::clone(ws), session);
    match runner.request(
        request_topic(Method::PostBatch, &ws.gateway()),
        payload,
        Some(MsgId(id)),
        Duration::from_secs(5),
    ) {
        Outcome::Replied { code, .. } => code,
        other => panic!("no reply to the batch: {other:?}"),
    }
}

#[test]
fn a_gateway_that_disconnects_has_its_sub_devices_logged_out() {
    let ws = Arc::new(Workspace::load(&common::root().join("fixtures")).expect("the sample"));
    let (broker, _hub) =
        start_embedded(WorkspaceFeed::fixed(Arc::clone(&ws)), None).expect("broker and hub");
    let inv01 = DeviceId::new("invPk", "inv01");

    let first = gateway_session(&ws, broker.url(), TlsOptions::default()).expect("connects");
    let notes =
        Runner::new(Arc::clone(&ws), &first).apply_login(&LoginState::Only(vec![inv01.clone()]));
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(batch(&ws, &first, &inv01, 1), ReplyCode::SUCCESS);
    // A watcher that is no device comes and goes: nobody is logged out for it.
    let watcher = thingbench::runner::connect::watcher_session(broker.url(), TlsOptions::default())
        .expect("a watcher connects");
    drop(watcher);
    assert_eq!(batch(&ws, &first, &inv01, 2), ReplyCode::SUCCESS);
    drop(first);

    // Connected again, without logging in: the hub has logged inv01 out. The door hears of the
    // old connection's end as soon as its socket closes; wait for that, with a deadline.
    let again = gateway_session(&ws, broker.url(), TlsOptions::default()).expect("connects");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut n = 3;
    loop {
        let code = batch(&ws, &again, &inv01, n);
        if code.0 == 1212 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "inv01 is still logged in 10 s after its gateway left (answered {code})"
        );
        n += 1;
    }
    // Logging in again works as before.
    let notes =
        Runner::new(Arc::clone(&ws), &again).apply_login(&LoginState::Only(vec![inv01.clone()]));
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(batch(&ws, &again, &inv01, 100), ReplyCode::SUCCESS);
}

#[test]
fn the_door_forwards_to_the_embedded_broker_and_closing_it_frees_the_port() {
    let mut broker = EmbeddedBroker::start(None).expect("starts");
    let addr = broker.addr;
    // Clients reach the door, not rumqttd's own port.
    assert_ne!(broker.url(), broker.inner_url());
    assert!(std::net::TcpStream::connect(addr).is_ok());
    broker.close();
    // The public port is free again: a new broker can take it.
    let again = EmbeddedBroker::start(Some(addr)).expect("the door's port is free again");
    assert_eq!(again.addr, addr);
}

/// A CONNECT (MQTT 3.1.1) as a client writes it, with a username and password when given.
fn connect_packet(client_id: &str, credentials: Option<(&str, &str)>) -> Vec<u8> {
    let put = |b: &mut Vec<u8>, s: &[u8]| {
        b.extend_from_slice(&u16::try_from(s.len()).expect("short").to_be_bytes());
        b.extend_from_slice(s);
    };
    let mut body = Vec::new();
    put(&mut body, b"MQTT");
    let flags = if credentials.is_some() { 0xC2 } else { 0x02 };
    body.extend_from_slice(&[4, flags, 0, 30]);
    put(&mut body, client_id.as_bytes());
    if let Some((user, pass)) = credentials {
        put(&mut body, user.as_bytes());
        put(&mut body, pass.as_bytes());
    }
    let mut packet = vec![0x10];
    let mut length = body.len();
    loop {
        let byte = u8::try_from(length % 128).expect("7 bits");
        length /= 128;
        packet.push(if length > 0 { byte | 0x80 } else { byte });
        if length == 0 {
            break;
        }
    }
    packet.extend(body);
    packet
}

/// Sends `packet` to `addr` and returns the server's first four bytes (a CONNACK).
fn connack(addr: SocketAddr, packet: &[u8]) -> [u8; 4] {
    let mut stream = TcpStream::connect(addr).expect("connects");
    stream.write_all(packet).expect("sent");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut answer = [0u8; 4];
    stream
        .read_exact(&mut answer)
        .expect("a CONNACK within 10 s");
    answer
}

/// Waits until the server closes `stream`, failing after `within`; how long that took.
fn closed_within(stream: &mut TcpStream, within: Duration) -> Duration {
    let started = Instant::now();
    stream.set_read_timeout(Some(within)).expect("timeout");
    let mut buf = [0u8; 64];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return started.elapsed(),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return started.elapsed(),
            Err(e) => panic!("still open after {:?}: {e}", started.elapsed()),
        }
    }
}

/// True when `stream` is still open: nothing to read yet, and no end.
fn still_open(stream: &TcpStream) -> bool {
    stream.set_nonblocking(true).expect("nonblocking");
    let mut buf = [0u8; 1];
    let open = matches!(
        (&*stream).read(&mut buf),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
    );
    stream.set_nonblocking(false).expect("blocking");
    open
}

/// An embedded broker (no hub, nobody's signature checked) whose door has these limits.
fn broker_with(limits: DoorLimits) -> EmbeddedBroker {
    let options = BrokerOptions {
        limits,
        ..BrokerOptions::default()
    };
    EmbeddedBroker::start_with(options, &[]).expect("starts").0
}

#[test]
fn a_client_that_never_sends_its_connect_is_closed_at_the_deadline() {
    let within = Duration::from_millis(300);
    let broker = broker_with(DoorLimits {
        connect_within: within,
        ..DoorLimits::default()
    });
    // Silent, and slow: half a CONNECT is no CONNECT.
    let opened = Instant::now();
    let mut silent = TcpStream::connect(broker.addr).expect("connects");
    let mut slow = TcpStream::connect(broker.addr).expect("connects");
    slow.write_all(&connect_packet("slow", None)[..5])
        .expect("sent");
    for stream in [&mut silent, &mut slow] {
        closed_within(stream, Duration::from_secs(10));
        let took = opened.elapsed();
        assert!(took >= within, "closed before the deadline: {took:?}");
    }
    // A client that sends its CONNECT in time is served as ever.
    assert_eq!(
        connack(broker.addr, &connect_packet("quick", None)),
        [0x20, 2, 0, 0]
    );
}

#[test]
fn bytes_that_cannot_be_mqtt_close_the_connection_at_once() {
    // The default deadline is 10 s: "at once" is well under it.
    let broker = broker_with(DoorLimits::default());
    let at_once = Duration::from_secs(3);
    let mut http = TcpStream::connect(broker.addr).expect("connects");
    http.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("sent");
    closed_within(&mut http, at_once);
    // A CONNECT announcing 256 MiB.
    let mut huge = TcpStream::connect(broker.addr).expect("connects");
    huge.write_all(&[0x10, 0xff, 0xff, 0xff, 0x7f])
        .expect("sent");
    closed_within(&mut huge, at_once);
    // 200 clients of random bytes: every one closed.
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut random = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut garbage: Vec<TcpStream> = (0..200)
        .map(|_| {
            let mut bytes: Vec<u8> = (0..64).map(|_| random().to_le_bytes()[0]).collect();
            if bytes[0] == 0x10 {
                bytes[0] = 0x11;
            }
            let mut stream = TcpStream::connect(broker.addr).expect("connects");
            stream.write_all(&bytes).expect("sent");
            stream
        })
        .collect();
    for stream in &mut garbage {
        closed_within(stream, at_once);
    }
    assert_eq!(
        connack(broker.addr, &connect_packet("after", None)),
        [0x20, 2, 0, 0]
    );
}

#[test]
fn a_full_waiting_room_sends_the_longest_waiting_client_away() {
    let broker = broker_with(DoorLimits {
        connect_within: Duration::from_secs(30),
        waiting: 3,
    });
    // Accepted in the order they connect.
    let mut idle: Vec<TcpStream> = (0..5)
        .map(|_| TcpStream::connect(broker.addr).expect("connects"))
        .collect();
    // The two oldest made room for the last two, long before their deadline.
    for stream in &mut idle[..2] {
        closed_within(stream, Duration::from_secs(10));
    }
    // A real client among idle ones still gets in (the oldest idle one makes room again).
    assert_eq!(
        connack(broker.addr, &connect_packet("real", None)),
        [0x20, 2, 0, 0]
    );
    closed_within(&mut idle[2], Duration::from_secs(10));
    assert!(
        still_open(&idle[4]),
        "the newest idle client keeps its place"
    );
}

/// A gate that lets everyone through, for a door of the test's own.
struct Open;

impl Gate for Open {
    type Guest = ();

    fn greet(&self, _connect: &Connect) -> Greeting<()> {
        Greeting::Pass
    }

    fn left(&self, (): ()) {}
}

#[test]
fn nothing_is_opened_upstream_before_a_connect_is_read() {
    let upstream = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let upstream_addr = upstream.local_addr().expect("addr");
    // Whatever reaches the upstream, in order, handed over as it is accepted.
    let (arrived_tx, arrived) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in upstream.incoming() {
            if arrived_tx.send(stream).is_err() {
                return;
            }
        }
    });
    let door = Door::open(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        upstream_addr,
        Arc::new(Open),
        DoorLimits::default(),
        std::future::pending(),
    )
    .expect("opens");
    let idle = TcpStream::connect(door.addr).expect("connects");
    let mut talker = TcpStream::connect(door.addr).expect("connects");
    let packet = connect_packet("talker", None);
    talker.write_all(&packet).expect("sent");
    // The first connection upstream is the talker's, with its CONNECT; the idle client has none.
    let mut forwarded = arrived
        .recv_timeout(Duration::from_secs(10))
        .expect("nothing reached the upstream")
        .expect("accepted");
    forwarded
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut got = vec![0u8; packet.len()];
    forwarded.read_exact(&mut got).expect("the CONNECT");
    assert_eq!(got, packet);
    assert!(
        arrived.try_recv().is_err(),
        "a connection upstream for a client that sent nothing"
    );
    assert!(
        still_open(&idle),
        "the idle client waits, within its deadline"
    );
}

/// `thingbench serve` on a free port with the sample workspace (or `workspace`), started in
/// `sh` with `ulimit -n` set to `files` when given: the child, its address, its stderr.
fn serve(
    workspace: Option<&Path>,
    files: Option<u32>,
) -> (common::Killed, SocketAddr, common::LineReader) {
    let bin = env!("CARGO_BIN_EXE_thingbench");
    let workspace = workspace.map_or_else(|| "fixtures".to_owned(), |p| p.display().to_string());
    let serve = [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--workspace",
        &workspace,
    ];
    let mut command = match files {
        Some(files) => {
            let mut command = Command::new("sh");
            command
                .arg("-c")
                .arg(format!("ulimit -n {files} && exec \"$0\" \"$@\""))
                .arg(bin)
                .args(serve);
            command
        }
        None => {
            let mut command = Command::new(bin);
            command.args(serve);
            command
        }
    };
    let mut child = common::Killed(
        command
            .current_dir(common::root())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("serve starts"),
    );
    let mut stderr = common::LineReader::new(child.0.stderr.take().expect("stderr"));
    let line = stderr.wait_for(Duration::from_secs(30), |l| {
        l.contains("with the reference hub")
    });
    let addr = line
        .split("broker on mqtt://")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    (child, addr, stderr)
}

#[test]
fn a_wrong_signature_gets_connack_5_from_serve_and_an_anonymous_tool_connects() {
    let (_serve, addr, mut stderr) = serve(None, None);
    let gw = DeviceId::new("gwPk", "gw01");
    let wrong = connect_credentials("gw01", &gw, "not-the-secret", EpochMs::now());
    let packet = connect_packet(&wrong.client_id, Some((&wrong.username, &wrong.password)));
    assert_eq!(
        connack(addr, &packet),
        [0x20, 2, 0, 5],
        "refused: not authorized"
    );
    let line = stderr.wait_for(Duration::from_secs(10), |l| l.contains("refused"));
    assert!(
        line.contains("gwPk/gw01") && line.contains("does not match the device's secret"),
        "{line}"
    );
    // Signed with its secret, the gateway gets in; so does a tool that names no device.
    let right = connect_credentials("gw01", &gw, "gw-secret", EpochMs::now());
    let packet = connect_packet(&right.client_id, Some((&right.username, &right.password)));
    assert_eq!(connack(addr, &packet), [0x20, 2, 0, 0]);
    assert_eq!(
        connack(addr, &connect_packet("a-tool", None)),
        [0x20, 2, 0, 0]
    );
    assert_eq!(
        connack(addr, &connect_packet("a-tool", Some(("someone", "pw")))),
        [0x20, 2, 0, 0]
    );
}

#[test]
fn run_and_serve_with_an_unset_secret_variable_exit_2_naming_it() {
    let dir = common::copy_workspace();
    let file = dir.path().join("workspace.json");
    let text = std::fs::read_to_string(&file).expect("workspace.json");
    let changed = text.replacen(
        "\"secret\": \"gw-secret\"",
        "\"secret\": {\"env\": \"THINGBENCH_TEST_UNSET_GW_SECRET\"}",
        1,
    );
    assert_ne!(changed, text, "the gateway's secret is in the sample");
    std::fs::write(&file, changed).expect("write");
    let workspace = dir.path().to_str().expect("utf-8");
    let messages = dir.path().join("messages");
    for args in [
        vec![
            "run",
            messages.to_str().expect("utf-8"),
            "--workspace",
            workspace,
        ],
        vec!["serve", "--listen", "127.0.0.1:0", "--workspace", workspace],
        vec!["bench", "--requests", "10", "--workspace", workspace],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_thingbench"))
            .args(&args)
            .env_remove("THINGBENCH_TEST_UNSET_GW_SECRET")
            .output()
            .expect("runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("gwPk/gw01") && err.contains("THINGBENCH_TEST_UNSET_GW_SECRET is not set"),
            "{args:?}: {err}"
        );
        assert!(!err.contains(" passed"), "{args:?} ran anyway: {err}");
    }
}

/// CPU time used so far by process `pid`, from /proc.
#[cfg(target_os = "linux")]
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/PID/stat");
    // After the command name, in parentheses, fields 14 and 15 are utime and stime in ticks.
    let after = stat.rsplit_once(')').expect("a command name").1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 =
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    let hz: u64 = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100);
    Duration::from_millis(ticks * 1000 / hz)
}

#[cfg(target_os = "linux")]
#[test]
fn serve_out_of_descriptors_stays_quiet_and_serves_again_by_itself() {
    // 256 descriptors, 300 clients that never send a CONNECT: the door runs out.
    let (serve, addr, mut stderr) = serve(None, Some(256));
    let pid = serve.0.id();
    let mut idle: Vec<TcpStream> = (0..300)
        .filter_map(|_| TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok())
        .collect();
    assert!(idle.len() >= 260, "only {} connections opened", idle.len());
    let line = stderr.wait_for(Duration::from_secs(20), |l| {
        l.contains("cannot accept connections")
    });
    assert!(line.contains("ulimit -n"), "{line}");
    // Exhausted, it waits instead of spinning: under a fifth of a core over two seconds.
    let (cpu, wall) = (cpu_time(pid), Instant::now());
    std::thread::sleep(Duration::from_secs(2));
    let share = (cpu_time(pid) - cpu).as_secs_f64() / wall.elapsed().as_secs_f64();
    assert!(
        share < 0.2,
        "{:.0} % of a core while out of descriptors",
        share * 100.0
    );
    // The idle clients leave: a real client gets in and round-trips, and it is said once.
    idle.clear();
    let ws = Arc::new(Workspace::load(&common::root().join("fixtures")).expect("the sample"));
    let url = thingbench::transport::BrokerUrl::parse(&format!("mqtt://{addr}")).expect("url");
    let session = gateway_session(&ws, url, TlsOptions::default()).expect("connects again");
    let inv01 = DeviceId::new("invPk", "inv01");
    let notes =
        Runner::new(Arc::clone(&ws), &session).apply_login(&LoginState::Only(vec![inv01.clone()]));
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(batch(&ws, &session, &inv01, 1), ReplyCode::SUCCESS);
    // Said once accepting has worked for a few seconds.
    stderr.wait_for(Duration::from_secs(30), |l| {
        l.contains("accepts connections again")
    });
    // Hundreds of failed accepts, one line for the trouble and one for its end.
    let told = stderr
        .seen
        .iter()
        .take_while(|l| !l.contains("accepts connections again"))
        .filter(|l| l.contains("cannot accept connections"))
        .count();
    assert_eq!(
        told,
        1,
        "said once per trouble:\n{}",
        stderr.seen.join("\n")
    );
}

/// A client of the door with a last will on `topic`, driven on a thread of its own until its
/// connection ends: the receiver hears once when the broker has accepted it.
fn willing_client(
    url: &thingbench::transport::BrokerUrl,
    topic: &str,
) -> std::sync::mpsc::Receiver<()> {
    let mut opts = rumqttc::MqttOptions::new("willing", url.host.clone(), url.port);
    opts.set_last_will(rumqttc::LastWill::new(
        topic,
        "gone",
        rumqttc::QoS::AtMostOnce,
        false,
    ));
    let (client, mut connection) = rumqttc::Client::new(opts, 10);
    let (accepted, heard) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _client = client;
        for event in connection.iter() {
            match event {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_))) => {
                    let _ = accepted.send(());
                }
                Ok(_) => {}
                // The door closed: no reconnecting.
                Err(_) => return,
            }
        }
    });
    heard
}

#[test]
fn closing_the_door_ends_its_clients_in_rumqttd_too_and_their_wills_are_published() {
    let mut broker = EmbeddedBroker::start(None).expect("starts");
    // A watcher on rumqttd's own listener, which stays when the door closes.
    let inner = broker.inner_url();
    let (watcher, mut watching) = rumqttc::Client::new(
        rumqttc::MqttOptions::new("watcher", inner.host.clone(), inner.port),
        10,
    );
    watcher
        .subscribe("door-test/will", rumqttc::QoS::AtMostOnce)
        .expect("subscribes");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut next = || {
        let left = deadline.saturating_duration_since(Instant::now());
        match watching.recv_timeout(left) {
            Ok(Ok(event)) => event,
            other => panic!("the watcher heard nothing more in time: {other:?}"),
        }
    };
    while !matches!(next(), rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_))) {}
    let accepted = willing_client(&broker.url(), "door-test/will");
    accepted
        .recv_timeout(Duration::from_secs(10))
        .expect("the willing client is connected through the door");
    broker.close();
    // rumqttd's side of each connection ended with the door: the client's will goes out.
    loop {
        if let rumqttc::Event::Incoming(rumqttc::Packet::Publish(publish)) = next() {
            assert_eq!(publish.topic, "door-test/will");
            assert_eq!(publish.payload.as_ref(), b"gone");
            break;
        }
    }
}
