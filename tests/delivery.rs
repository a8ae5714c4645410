//! Delivery without a subscription, and "device offline", as a device meets them wherever
//! thingbench fronts its connection: the embedded broker's door, and the qualification proxy in
//! front of mosquitto. The device is a raw rumqttc client signing as gw01, as firmware would;
//! the platform side is thingbench's own session, which pairs each command with its reply.

mod common;

use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
use serde_json::{Value, json};
use thingbench::broker::EmbeddedBroker;
use thingbench::hub::Hub;
use thingbench::protocol::{DeviceId, EpochMs, MsgId, Reply, ReplyCode, connect_credentials, sign};
use thingbench::qualify::{Plan, Stand};
use thingbench::runner::connect::{gateway_session, start_embedded};
use thingbench::transport::{BrokerUrl, RequestId, SessionCommand, SessionEvent, TlsOptions};
use thingbench::workspace::{Workspace, WorkspaceFeed};

use common::platform::{Platform, WAIT};

const GW_SET: &str = "/sys/gwPk/gw01/thing/service/measurepoint/set";
const INV_SET: &str = "/sys/invPk/inv01/thing/service/measurepoint/set";
const INV_INVOKE: &str = "/sys/invPk/inv01/thing/service/setPowerLimit";
const GW_BATCH: &str = "/sys/gwPk/gw01/thing/measurepoint/post/batch";

fn sample() -> Arc<Workspace> {
    Arc::new(Workspace::load(&common::root().join("fixtures")).expect("the sample"))
}

fn gw() -> DeviceId {
    DeviceId::new("gwPk", "gw01")
}

/// What the device heard.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Heard {
    ConnAck,
    SubAck,
    Message { topic: String, body: Value },
    Lost,
}

impl Heard {
    fn topic(&self) -> Option<&str> {
        match self {
            Self::Message { topic, .. } => Some(topic),
            _ => None,
        }
    }

    fn id(&self) -> Option<&str> {
        match self {
            Self::Message { body, .. } => body["id"].as_str(),
            _ => None,
        }
    }
}

/// A gateway on rumqttc signing as gw01 with its secret, subscribed to nothing unless told.
/// When `answers`, it replies 200 to every command as firmware would, on the command's
/// `_reply` topic with its id.
struct Device {
    client: Client,
    heard: mpsc::Receiver<Heard>,
    /// Dropped with the device: its thread ends at once, whatever it waits for.
    _stop: mpsc::Sender<()>,
    /// Everything heard so far, in order.
    log: Vec<Heard>,
}

impl Device {
    fn connect(port: u16, answers: bool) -> Self {
        let creds = connect_credentials("gw01", &gw(), "gw-secret", EpochMs::now());
        let mut options = MqttOptions::new(creds.client_id, "127.0.0.1", port);
        options
            .set_credentials(creds.username, creds.password)
            .set_keep_alive(Duration::from_secs(5))
            .set_clean_session(true);
        let (client, mut connection) = Client::new(options, 100);
        let (tx, heard) = mpsc::channel();
        let (stop, stopped) = mpsc::channel::<()>();
        std::thread::spawn({
            let client = client.clone();
            move || {
                for event in connection.iter() {
                    if matches!(stopped.try_recv(), Err(mpsc::TryRecvError::Disconnected)) {
                        return;
                    }
                    if std::env::var("DELIVERY_DEBUG").is_ok() {
                        eprintln!("DEVICE {event:?}");
                    }
                    let heard = match event {
                        Ok(Event::Incoming(Packet::ConnAck(_))) => Heard::ConnAck,
                        Ok(Event::Incoming(Packet::SubAck(_))) => Heard::SubAck,
                        Ok(Event::Incoming(Packet::Publish(publish))) => {
                            let body =
                                serde_json::from_slice(&publish.payload).unwrap_or(Value::Null);
                            let command = publish.topic.contains("/thing/service/")
                                && !publish.topic.ends_with("_reply");
                            if answers && command {
                                let reply = json!({"id": body["id"], "code": 200, "data": {}});
                                let _ = client.try_publish(
                                    format!("{}_reply", publish.topic),
                                    QoS::AtLeastOnce,
                                    false,
                                    reply.to_string(),
                                );
                            }
                            Heard::Message {
                                topic: publish.topic.clone(),
                                body,
                            }
                        }
                        Ok(_) => continue,
                        Err(_) => {
                            // rumqttc connects again on the next turn: not at once, as a
                            // device backs off (and not at all once the test is done).
                            match stopped.recv_timeout(Duration::from_millis(100)) {
                                Err(mpsc::RecvTimeoutError::Timeout) => Heard::Lost,
                                _ => return,
                            }
                        }
                    };
                    if tx.send(heard).is_err() {
                        return;
                    }
                }
            }
        });
        let mut device = Self {
            client,
            heard,
            _stop: stop,
            log: Vec::new(),
        };
        device.until(|h| *h == Heard::ConnAck);
        device
    }

    /// Waits for what `wanted` accepts, and returns it; everything heard stays in `log`.
    fn until(&mut self, mut wanted: impl FnMut(&Heard) -> bool) -> Heard {
        let deadline = Instant::now() + WAIT;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            match self.heard.recv_timeout(remaining) {
                Ok(heard) => {
                    self.log.push(heard.clone());
                    if wanted(&heard) {
                        return heard;
                    }
                }
                Err(_) => panic!(
                    "the device did not hear it within {WAIT:?}; it heard {:#?}",
                    self.log
                ),
            }
        }
    }

    fn publish(&self, topic: &str, body: &Value) {
        self.client
            .try_publish(topic, QoS::AtLeastOnce, false, body.to_string())
            .expect("queued");
    }

    fn subscribe(&mut self, filter: &str) {
        self.client
            .try_subscribe(filter, QoS::AtLeastOnce)
            .expect("queued");
        self.until(|h| *h == Heard::SubAck);
    }

    /// Logs inv01 in and waits for the hub's answer: its code.
    fn log_in_inv01(&mut self) -> i64 {
        let sub = DeviceId::new("invPk", "inv01");
        let timestamp = EpochMs::now().0.to_string();
        let body = json!({"id": "login-1", "version": "1.0", "method": "combine.login",
            "params": {"productKey": "invPk", "deviceKey": "inv01", "clientId": "inv01",
                       "timestamp": timestamp, "signMethod": "sha256",
                       "sign": sign("inv01", &sub, &timestamp, "inv01-secret")}});
        self.publish("/ext/session/gwPk/gw01/combine/login", &body);
        let reply = self.until(|h| h.topic() == Some("/ext/session/gwPk/gw01/combine/login_reply"));
        match reply {
            Heard::Message { body, .. } => body["code"].as_i64().unwrap_or(-1),
            _ => -1,
        }
    }

    /// Posts a batch for itself with `id` and waits for its reply.
    fn post(&mut self, id: &str) {
        let body = json!({"id": id, "version": "1.0", "method": "thing.measurepoint.post.batch",
            "params": [{"measurepoints": {"cpuLoad": 1.5}}]});
        self.publish(GW_BATCH, &body);
        self.until(|h| h.topic() == Some(&format!("{GW_BATCH}_reply")) && h.id() == Some(id));
    }

    /// The messages heard so far on `topic`.
    fn heard_on(&self, topic: &str) -> Vec<&Heard> {
        self.log
            .iter()
            .filter(|h| h.topic() == Some(topic))
            .collect()
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        let _ = self.client.try_disconnect();
    }
}

fn embedded() -> (EmbeddedBroker, Hub) {
    start_embedded(WorkspaceFeed::fixed(sample()), None).expect("broker and hub")
}

fn assert_offline(reply: &Reply, id: &str) {
    assert_eq!(reply.code, ReplyCode(11900), "{reply:?}");
    assert_eq!(reply.id, Some(MsgId(id.to_owned())));
    assert_eq!(reply.message.as_deref(), Some("device offline"));
}

#[test]
fn a_device_that_subscribes_to_nothing_gets_commands_for_itself_and_its_logged_in_sub_device() {
    let (broker, _hub) = embedded();
    let mut platform = Platform::connect(broker.url());
    let mut device = Device::connect(broker.addr.port(), true);

    let reply = platform.command(GW_SET, "c1", json!({"cpuLoad": 2.5}));
    assert_eq!(reply.code, ReplyCode::SUCCESS, "{reply:?}");
    // inv01 is not logged in: not sent, and the platform hears so.
    assert_offline(
        &platform.command(INV_SET, "c2", json!({"temp": 20.0})),
        "c2",
    );
    assert!(!broker.departures.online(&DeviceId::new("invPk", "inv01")));

    // The login reply reaches it unsubscribed too; from then on inv01's commands do.
    assert_eq!(device.log_in_inv01(), 200);
    assert!(broker.departures.online(&DeviceId::new("invPk", "inv01")));
    let reply = platform.command(INV_INVOKE, "c3", json!({"limit": 2.5, "mode": 1}));
    assert_eq!(reply.code, ReplyCode::SUCCESS, "{reply:?}");
    device.until(|h| h.id() == Some("c3"));
    assert_eq!(device.heard_on(GW_SET).len(), 1);
    assert!(
        device.heard_on(INV_SET).is_empty(),
        "the command for inv01 before its login never came: {:#?}",
        device.log
    );
    assert_eq!(device.heard_on(INV_INVOKE).len(), 1);
    platform.no_unpaired();
}

#[test]
fn no_device_ever_gets_its_own_publish_back() {
    let (broker, _hub) = embedded();
    let platform = Platform::connect(broker.url());
    let mut device = Device::connect(broker.addr.port(), false);
    // An unasked set_reply (the Python SDK would take it for a new set), then a post. The
    // broker routes the device's publishes in order, and the hub answers the post after it
    // read it: once the post's reply is here, an echo of either would have come before it.
    device.publish(
        &format!("{GW_SET}_reply"),
        &json!({"id": "s1", "code": 200, "data": null}),
    );
    device.post("p1");
    let heard: Vec<&str> = device.log.iter().filter_map(Heard::topic).collect();
    assert_eq!(heard, [format!("{GW_BATCH}_reply")], "{:#?}", device.log);
    // And a later command, to be sure nothing was on its way.
    platform.session.send(SessionCommand::Publish {
        topic: GW_SET.to_owned(),
        payload: json!({"id": "m1", "version": "1.0", "method": "thing.service.measurepoint.set",
                        "params": {"cpuLoad": 1.0}})
        .to_string()
        .into_bytes(),
    });
    device.until(|h| h.id() == Some("m1"));
    let heard: Vec<&str> = device.log.iter().filter_map(Heard::topic).collect();
    assert_eq!(heard, [format!("{GW_BATCH}_reply").as_str(), GW_SET]);
}

#[test]
fn a_device_that_subscribes_by_itself_gets_each_message_once() {
    let (broker, _hub) = embedded();
    let mut platform = Platform::connect(broker.url());
    let mut device = Device::connect(broker.addr.port(), true);
    // As the C SDK does, and its reply topic as the Python SDK does: the door's cover them.
    device.subscribe("/sys/gwPk/gw01/thing/service/+");
    device.subscribe(&format!("{GW_BATCH}_reply"));
    // One the door's do not cover, overlapping them: rumqttd sends a copy per subscription.
    device.subscribe("/sys/+/+/thing/service/+");
    assert_eq!(device.log_in_inv01(), 200);

    for (topic, id) in [(GW_SET, "c1"), (INV_INVOKE, "c2"), (INV_SET, "c3")] {
        let reply = platform.command(topic, id, json!({}));
        while let Ok(heard) = device.heard.try_recv() {
            device.log.push(heard);
        }
        assert_eq!(
            reply.code,
            ReplyCode::SUCCESS,
            "{reply:?} {:#?}",
            device.log
        );
    }
    device.post("p1");
    // A last command: once it is here, every copy of the earlier ones would be too.
    platform.command(GW_SET, "last", json!({}));
    device.until(|h| h.id() == Some("last"));
    for id in ["c1", "c2", "c3", "p1", "last", "login-1"] {
        let times = device.log.iter().filter(|h| h.id() == Some(id)).count();
        assert_eq!(times, 1, "{id} came {times} times: {:#?}", device.log);
    }
    // Its own replies match its `/sys/+/+/thing/service/+`, and never come back.
    let own: Vec<&Heard> = device
        .log
        .iter()
        .filter(|h| {
            h.topic()
                .is_some_and(|t| t.ends_with("_reply") && t.contains("/thing/service/"))
        })
        .collect();
    assert!(own.is_empty(), "its own replies came back: {own:#?}");
    platform.no_unpaired();
}

#[test]
fn a_command_for_a_gateway_that_is_not_connected_gets_11900() {
    let (broker, _hub) = embedded();
    let mut platform = Platform::connect(broker.url());
    assert_offline(
        &platform.command(GW_SET, "o1", json!({"cpuLoad": 1.0})),
        "o1",
    );
    // Online, then gone: offline again once the door saw its connection end.
    let device = Device::connect(broker.addr.port(), true);
    assert_eq!(
        platform.command(GW_SET, "o2", json!({})).code,
        ReplyCode::SUCCESS
    );
    drop(device);
    assert!(
        broker.departures.wait_offline(&gw(), WAIT),
        "gw01 still online after it left"
    );
    assert_offline(&platform.command(GW_SET, "o3", json!({})), "o3");
}

#[test]
fn the_gateway_session_of_the_window_and_run_gets_each_reply_once() {
    let (broker, _hub) = embedded();
    // thingbench's own session as the gateway, signing: it gets delivery, and subscribes to
    // each reply topic itself before its first request there; the door answers that.
    let session =
        gateway_session(&sample(), broker.url(), TlsOptions::default()).expect("connects");
    for n in 1..=3u64 {
        let id = format!("s{n}");
        let body = json!({"id": id, "version": "1.0", "method": "thing.measurepoint.post.batch",
            "params": [{"measurepoints": {"cpuLoad": 1.5}}]});
        session.send(SessionCommand::Request {
            request: RequestId(n),
            topic: GW_BATCH.to_owned(),
            payload: body.to_string().into_bytes(),
            msg_id: Some(MsgId(id)),
            timeout: WAIT,
        });
    }
    let mut replied = Vec::new();
    let deadline = Instant::now() + WAIT;
    while replied.len() < 3 {
        let remaining = deadline.saturating_duration_since(Instant::now());
        match session.events.recv_timeout(remaining) {
            Ok(SessionEvent::Replied { request, .. }) => replied.push(request.0),
            Ok(event @ (SessionEvent::Unpaired { .. } | SessionEvent::Message { .. })) => {
                panic!("a reply came twice, or unasked: {event:?}")
            }
            Ok(SessionEvent::NoReply { request, .. }) => panic!("no reply to {request:?}"),
            Ok(_) => {}
            Err(_) => panic!("only {replied:?} were answered within {WAIT:?}"),
        }
    }
    replied.sort_unstable();
    assert_eq!(replied, [1, 2, 3]);
    // A last request: once its reply is here, a second copy of the others would be too.
    session.send(SessionCommand::Request {
        request: RequestId(4),
        topic: GW_BATCH.to_owned(),
        payload: json!({"id": "s4", "version": "1.0", "method": "thing.measurepoint.post.batch",
            "params": [{"measurepoints": {"cpuLoad": 1.5}}]})
        .to_string()
        .into_bytes(),
        msg_id: Some(MsgId("s4".into())),
        timeout: WAIT,
    });
    loop {
        match session.events.recv_timeout(WAIT) {
            Ok(SessionEvent::Replied { request, .. }) if request.0 == 4 => break,
            Ok(event @ (SessionEvent::Unpaired { .. } | SessionEvent::Message { .. })) => {
                panic!("a reply came twice, or unasked: {event:?}")
            }
            Ok(_) => {}
            Err(_) => panic!("no reply to the last request"),
        }
    }
}

/// A TCP relay in front of `upstream` whose connections the test can cut, as a network would.
struct Relay {
    port: u16,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Relay {
    fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let open = Arc::new(Mutex::new(Vec::<TcpStream>::new()));
        std::thread::spawn({
            let open = Arc::clone(&open);
            move || {
                for client in listener.incoming() {
                    let Ok(client) = client else { continue };
                    let Ok(server) = TcpStream::connect(upstream) else {
                        continue;
                    };
                    let pipes = [
                        (client.try_clone(), server.try_clone()),
                        (server.try_clone(), client.try_clone()),
                    ];
                    if let Ok(mut held) = open.lock() {
                        held.extend(client.try_clone());
                        held.extend(server.try_clone());
                    }
                    for (from, to) in pipes {
                        if let (Ok(mut from), Ok(mut to)) = (from, to) {
                            std::thread::spawn(move || {
                                let _ = std::io::copy(&mut from, &mut to);
                                let _ = to.shutdown(Shutdown::Both);
                            });
                        }
                    }
                }
            }
        });
        Self { port, open }
    }

    /// Cuts every connection through the relay.
    fn cut(&self) {
        if let Ok(mut held) = self.open.lock() {
            for stream in held.drain(..) {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
    }
}

#[test]
fn a_device_that_subscribed_to_nothing_gets_its_replies_after_an_unexpected_reconnect() {
    let (broker, _hub) = embedded();
    let relay = Relay::start(broker.addr);
    let mut device = Device::connect(relay.port, false);
    device.post("before");
    relay.cut();
    device.until(|h| *h == Heard::Lost);
    // rumqttc connects again by itself, and subscribes to nothing, as the Python SDK does.
    device.until(|h| *h == Heard::ConnAck);
    device.post("after");
}

#[test]
fn delivery_through_the_qualification_proxy_in_front_of_mosquitto() {
    let Some(mosquitto) = common::stock_mosquitto() else {
        return;
    };
    let ws = sample();
    let plan = Plan::from_slice(
        std::path::Path::new("delivery.json"),
        br#"{"name": "delivery", "device": "gwPk/gw01", "connectWithinS": 30, "periodS": 1,
             "phases": [{"name": "up", "forS": 120}]}"#,
        &ws,
    )
    .expect("the plan");
    let url = BrokerUrl::parse(&mosquitto.url).expect("url");
    let stand = Stand::start(
        plan,
        WorkspaceFeed::fixed(Arc::clone(&ws)),
        SocketAddr::from(([127, 0, 0, 1], 0)),
        Some(url.clone()),
        TlsOptions::default(),
        Box::new(|| {}),
    )
    .expect("the stand");
    // A network between the device and the proxy, for the test to cut.
    let relay = Relay::start(stand.qualification.listen);
    let steering = Arc::clone(&stand.qualification.steering);
    let mut device = Device::connect(relay.port, true);
    assert!(steering.online(&gw()));
    // Replies reach it on mosquitto without a subscription; commands from a platform client on
    // mosquitto itself too.
    device.post("p1");
    let mut platform = Platform::connect(url);
    assert_eq!(
        platform.command(GW_SET, "q1", json!({})).code,
        ReplyCode::SUCCESS
    );
    assert_eq!(device.log_in_inv01(), 200);
    assert!(steering.online(&DeviceId::new("invPk", "inv01")));
    // The network cuts it; it connects again and, still subscribed to nothing, gets its
    // replies and its commands.
    relay.cut();
    device.until(|h| *h == Heard::Lost);
    device.until(|h| *h == Heard::ConnAck);
    assert!(
        !steering.online(&DeviceId::new("invPk", "inv01")),
        "its sub-device went offline with the connection"
    );
    device.post("p2");
    assert_eq!(
        platform.command(GW_SET, "q2", json!({})).code,
        ReplyCode::SUCCESS
    );
    let own: Vec<&Heard> = device
        .log
        .iter()
        .filter(|h| h.topic() == Some(GW_BATCH) || h.topic() == Some(&format!("{GW_SET}_reply")))
        .collect();
    assert!(own.is_empty(), "its own publishes came back: {own:?}");
    platform.no_unpaired();
}

#[test]
fn plan_commands_reach_a_device_subscribed_to_nothing_via_the_proxy_on_the_embedded_broker() {
    let ws = sample();
    let plan = Plan::from_slice(
        std::path::Path::new("delivery.json"),
        br#"{"name": "delivery", "device": "gwPk/gw01", "connectWithinS": 30, "periodS": 1,
             "phases": [{"name": "up", "forS": 120, "commands": [
               {"atS": 0.2, "device": "gwPk/gw01", "set": {"cpuLoad": 2.5}}]}]}"#,
        &ws,
    )
    .expect("the plan");
    // No broker given: the embedded one, its door beside the proxy.
    let stand = Stand::start(
        plan,
        WorkspaceFeed::fixed(Arc::clone(&ws)),
        SocketAddr::from(([127, 0, 0, 1], 0)),
        None,
        TlsOptions::default(),
        Box::new(|| {}),
    )
    .expect("the stand");
    let mut device = Device::connect(stand.qualification.listen.port(), true);
    // The plan's command, sent by the platform's client once the clock started: not taken for
    // one to an offline device by the embedded broker's door, which never sees the device.
    let command = device.until(|h| h.topic() == Some(GW_SET));
    assert_eq!(command.id(), Some("700001"), "{command:?}");
}
