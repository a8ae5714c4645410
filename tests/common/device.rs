//! A gateway written for the qualification tests, on rumqttc as firmware would be: it logs
//! its sub-device in after each connect, reports every half period, back-fills what went
//! unanswered, and reconnects with a back-off; each [`Flaw`] breaks one of those habits.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::{Value, json};
use thingbench::protocol::{DeviceId, EpochMs, connect_credentials, sign};

use super::commands::{CommandFlaw, Values, answer};
use super::link::Link;

/// What a test device does wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flaw {
    None,
    /// Signs its first CONNECT after the outage with the wrong secret.
    BadSignature,
    /// Sends one batch with a string where the model wants a FLOAT.
    Invalid,
    /// Does not log its sub-device in again after a reconnect.
    NoLoginAfterReconnect,
    /// Stops reporting for 1.6 s in the first normal phase.
    Gap,
    /// Never back-fills what went unanswered.
    NoBackfill,
    /// Sends two requests with the same id.
    ReusedId,
    /// Stamps one element a minute ahead.
    Future,
    /// Retries every 100 ms while the network is down.
    FastRetry,
    /// Sends a rejected request again and again.
    Resends,
    /// Not a flaw: takes its own session over once in the first normal phase (a new connection,
    /// then the old one closed, as an SDK that reconnects on a hunch does) and goes on posting
    /// for its sub-device without logging it in again, as it is still online.
    Takeover,
}

impl Flaw {
    /// The flaw named on a command line: `gap`, `fast-retry`...
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "bad-signature" => Self::BadSignature,
            "invalid" => Self::Invalid,
            "no-login-after-reconnect" => Self::NoLoginAfterReconnect,
            "gap" => Self::Gap,
            "no-backfill" => Self::NoBackfill,
            "reused-id" => Self::ReusedId,
            "future" => Self::Future,
            "fast-retry" => Self::FastRetry,
            "resends" => Self::Resends,
            "takeover" => Self::Takeover,
            _ => return None,
        })
    }
}

const PERIOD: Duration = Duration::from_millis(500);
const GATEWAY: (&str, &str, &str) = ("gwPk", "gw01", "gw-secret");
const SUB: (&str, &str, &str) = ("invPk", "inv01", "inv01-secret");

/// A gateway on rumqttc: it logs `inv01` in after each connect, samples every half period
/// for itself and `inv01`, posts each sample (or buffers it while offline), back-fills
/// unanswered and buffered samples by resume batch once it is answered again, reconnects with a
/// 1.2 s back-off, and obeys commands for itself and `inv01` (subscribing to them itself, as the
/// C SDK does): a value set shows in its next post.
struct Device {
    flaw: Flaw,
    command_flaw: CommandFlaw,
    /// TLS and keep-alive.
    link: Link,
    /// What commands set.
    values: Values,
    next_id: u64,
    /// Samples never answered, by element time.
    backlog: Vec<i64>,
    /// Requests waiting for a reply: id → (element times, sent, body).
    pending: Vec<(String, Vec<i64>, Instant, Value)>,
    connects: u32,
    logged_in: bool,
    flaw_done: bool,
}

impl Device {
    fn new(flaw: Flaw, command_flaw: CommandFlaw, link: Link) -> Self {
        Self {
            flaw,
            command_flaw,
            link,
            values: Values::default(),
            next_id: 1,
            backlog: Vec::new(),
            pending: Vec::new(),
            connects: 0,
            logged_in: false,
            flaw_done: false,
        }
    }

    fn id(&mut self) -> String {
        self.next_id += 1;
        format!("d{}", self.next_id)
    }

    fn topic(path: &str) -> String {
        format!("/sys/{}/{}/thing/measurepoint/{path}", GATEWAY.0, GATEWAY.1)
    }

    /// The elements of one sample at `time`: the sub-device's, then the gateway's own.
    fn elements(&self, time: i64) -> [Value; 2] {
        [
            json!({"productKey": SUB.0, "deviceKey": SUB.1, "time": time,
                   "measurepoints": self.values.measurepoints(SUB.1)}),
            json!({"productKey": GATEWAY.0, "deviceKey": GATEWAY.1, "time": time,
                   "measurepoints": self.values.measurepoints(GATEWAY.1)}),
        ]
    }

    /// The command topics of `device_key`, to subscribe to.
    fn commands_of(product_key: &str, device_key: &str) -> String {
        format!("/sys/{product_key}/{device_key}/thing/service/#")
    }

    fn login_body(&mut self) -> Value {
        let device = DeviceId::new(SUB.0, SUB.1);
        let timestamp = EpochMs::now().0.to_string();
        json!({"id": self.id(), "version": "1.0", "method": "combine.login",
               "params": {"productKey": SUB.0, "deviceKey": SUB.1, "clientId": SUB.1,
                          "timestamp": timestamp, "signMethod": "sha256",
                          "sign": sign(SUB.1, &device, &timestamp, SUB.2)}})
    }

    async fn send(client: &AsyncClient, topic: String, body: &Value) {
        let _ = client
            .publish(topic, QoS::AtLeastOnce, false, body.to_string())
            .await;
    }

    async fn post(
        &mut self,
        client: &AsyncClient,
        times: Vec<i64>,
        resume: bool,
        started: Instant,
    ) {
        let (method, path) = if resume {
            ("thing.measurepoint.resume.batch", "resume/batch")
        } else {
            ("thing.measurepoint.post.batch", "post/batch")
        };
        let mut elements: Vec<Value> = times.iter().flat_map(|t| self.elements(*t)).collect();
        let mut id = self.id();
        let late = started.elapsed() > Duration::from_millis(600);
        if !resume && late && !self.flaw_done {
            match self.flaw {
                Flaw::Invalid => {
                    elements[0]["measurepoints"]["temp"] = json!("hot");
                    self.flaw_done = true;
                }
                Flaw::Future => {
                    elements[0]["time"] = json!(times[0] + 60_000);
                    self.flaw_done = true;
                }
                Flaw::ReusedId => {
                    id = "d2".into();
                    self.flaw_done = true;
                }
                _ => {}
            }
        }
        let body = json!({"id": id, "version": "1.0", "method": method, "params": elements});
        Self::send(client, Self::topic(path), &body).await;
        // A back-fill that goes unanswered is back-filled again, like any other sample (a
        // reply that slips through just before an outage starts a back-fill that the cut
        // then loses).
        self.pending.push((id, times, Instant::now(), body));
    }

    /// Runs until `stop` is set.
    async fn run(mut self, port: u16, stop: Arc<AtomicBool>) {
        let gateway = DeviceId::new(GATEWAY.0, GATEWAY.1);
        let started = Instant::now();
        let started_epoch = EpochMs::now().0;
        let mut sample = tokio::time::interval(PERIOD / 2);
        let mut signed_wrong = false;
        let mut took_over = false;
        while !stop.load(Ordering::SeqCst) {
            let secret = if self.flaw == Flaw::BadSignature
                && self.connects == 1
                && !signed_wrong
                && started.elapsed() > Duration::from_millis(7_200)
            {
                signed_wrong = true;
                "wrong"
            } else {
                GATEWAY.2
            };
            let (mut client, mut poller, mut events) =
                open(&gateway, secret, port, &self.link, started);
            // After an error: when to try again (it keeps sampling meanwhile).
            let mut retry: Option<tokio::time::Instant> = None;
            loop {
                if self.flaw == Flaw::Takeover
                    && !took_over
                    && self.connects == 1
                    && self.logged_in
                    && started.elapsed() > Duration::from_millis(1_000)
                {
                    took_over = true;
                    // The new connection first, and once it is accepted, the old one closed.
                    let (new_client, new_poller, mut new_events) =
                        open(&gateway, GATEWAY.2, port, &self.link, started);
                    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
                    while let Ok(Some(polled)) =
                        tokio::time::timeout_at(deadline, new_events.recv()).await
                    {
                        if matches!(polled, Ok(Event::Incoming(Packet::ConnAck(_)))) {
                            break;
                        }
                    }
                    for path in ["post/batch_reply", "resume/batch_reply"] {
                        let _ = new_client
                            .subscribe(Self::topic(path), QoS::AtLeastOnce)
                            .await;
                    }
                    poller.abort();
                    (client, poller, events) = (new_client, new_poller, new_events);
                }

                if stop.load(Ordering::SeqCst) {
                    poller.abort();
                    return;
                }
                tokio::select! {
                    () = async { if let Some(at) = retry { tokio::time::sleep_until(at).await } else { std::future::pending().await } } => {
                        // A fresh client signs anew.
                        break;
                    }
                    Some(polled) = events.recv() => match polled {
                        Ok(Event::Incoming(Packet::ConnAck(_))) => {
                            self.connects += 1;
                            for path in ["post/batch_reply", "resume/batch_reply"] {
                                let _ = client.subscribe(Self::topic(path), QoS::AtLeastOnce).await;
                            }
                            let _ = client.subscribe(Self::commands_of(GATEWAY.0, GATEWAY.1), QoS::AtLeastOnce).await;
                            let login_topic = format!("/ext/session/{}/{}/combine/login", GATEWAY.0, GATEWAY.1);
                            let _ = client.subscribe(format!("{login_topic}_reply"), QoS::AtLeastOnce).await;
                            if self.connects > 1 && self.flaw == Flaw::NoLoginAfterReconnect {
                                self.logged_in = true;
                                self.flush(&client, started).await;
                            } else {
                                let body = self.login_body();
                                Self::send(&client, login_topic, &body).await;
                            }
                        }
                        Ok(Event::Incoming(Packet::Publish(publish))) => {
                            if let Some((topic, body)) = answer(&publish.topic, &publish.payload, self.command_flaw, GATEWAY.1, &mut self.values) {
                                Self::send(&client, topic, &body).await;
                                continue;
                            }
                            let Ok(reply) = serde_json::from_slice::<Value>(&publish.payload) else { continue };
                            let code = reply["code"].as_i64().unwrap_or(0);
                            if publish.topic.ends_with("combine/login_reply") {
                                self.logged_in = code == 200;
                                if self.logged_in {
                                    let _ = client.subscribe(Self::commands_of(SUB.0, SUB.1), QoS::AtLeastOnce).await;
                                    self.flush(&client, started).await;
                                }
                                continue;
                            }
                            let id = reply["id"].as_str().unwrap_or_default().to_owned();
                            if let Some(at) = self.pending.iter().position(|p| p.0 == id) {
                                let (_, _, _, body) = self.pending.remove(at);
                                let resumed = body["method"] == "thing.measurepoint.resume.batch";
                                if (1200..1300).contains(&code) && self.flaw == Flaw::Resends && !resumed {
                                    // Again and again, same params, fresh ids.
                                    for _ in 0..5 {
                                        let mut again = body.clone();
                                        again["id"] = json!(self.id());
                                        Self::send(&client, Self::topic("post/batch"), &again).await;
                                    }
                                }
                                if code == 200 {
                                    self.flush(&client, started).await;
                                }
                            }
                        }
                        Ok(_) => {}
                        Err(_) => {
                            // Offline: what was not answered is back-filled later.
                            for (_, times, _, _) in self.pending.drain(..) {
                                self.backlog.extend(times);
                            }
                            self.logged_in = false;
                            let wait = if self.flaw == Flaw::FastRetry {
                                Duration::from_millis(100)
                            } else {
                                Duration::from_millis(1200)
                            };
                            retry = Some(tokio::time::Instant::now() + wait);
                        }
                    },
                    scheduled = sample.tick() => {
                        // Stamped with when the sample was due, as a device sampling on a
                        // schedule does, however late a busy machine runs the tick.
                        let due = scheduled.into_std().saturating_duration_since(started);
                        let now = started_epoch + i64::try_from(due.as_millis()).unwrap_or(0);
                        // Unanswered for a period: back-filled once answered again.
                        let expired: Vec<usize> = self.pending.iter().enumerate()
                            .filter(|(_, p)| p.2.elapsed() > PERIOD * 2).map(|(i, _)| i).collect();
                        for i in expired.into_iter().rev() {
                            let (_, times, _, _) = self.pending.remove(i);
                            self.backlog.extend(times);
                        }
                        let gap = self.flaw == Flaw::Gap
                            && (Duration::from_millis(400)..Duration::from_millis(2_000)).contains(&started.elapsed());
                        if gap {
                            continue;
                        }
                        if self.logged_in {
                            self.post(&client, vec![now], false, started).await;
                        } else {
                            self.backlog.push(now);
                        }
                    }
                }
            }
        }
    }

    /// Back-fills the backlog by resume batch.
    async fn flush(&mut self, client: &AsyncClient, started: Instant) {
        if self.backlog.is_empty() || self.flaw == Flaw::NoBackfill {
            return;
        }
        let times = std::mem::take(&mut self.backlog);
        self.post(client, times, true, started).await;
    }
}

/// A new MQTT connection as the gateway signing with `secret`: its client, the task polling it
/// (rumqttc's poll must not be dropped halfway, or a connect in progress is lost; it runs
/// until its first error) and the events it polled.
fn open(
    gateway: &DeviceId,
    secret: &str,
    port: u16,
    link: &Link,
    started: Instant,
) -> (
    AsyncClient,
    tokio::task::JoinHandle<()>,
    tokio::sync::mpsc::UnboundedReceiver<Result<Event, rumqttc::ConnectionError>>,
) {
    let creds = connect_credentials(GATEWAY.1, gateway, secret, EpochMs::now());
    let mut options = MqttOptions::new(creds.client_id, "127.0.0.1", port);
    options
        .set_credentials(creds.username, creds.password)
        .set_clean_session(true);
    link.apply(&mut options);
    let (client, mut eventloop) = AsyncClient::new(options, 100);
    // Firmware that answers commands quickly turns Nagle's algorithm off (each reply would wait
    // for the broker's delayed ACK, about 40 ms).
    let mut network = rumqttc::NetworkOptions::new();
    network.set_tcp_nodelay(true);
    eventloop.set_network_options(network);
    let (events_tx, events) = tokio::sync::mpsc::unbounded_channel();
    let link = link.clone();
    let poller = tokio::spawn(async move {
        loop {
            if let Some(silence) = link.silence(started) {
                tokio::time::sleep(silence).await;
            }
            let polled = eventloop.poll().await;
            let failed = polled.is_err();
            if events_tx.send(polled).is_err() || failed {
                return;
            }
        }
    });
    (client, poller, events)
}

/// A device running on its own thread until dropped.
pub struct RunningDevice {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RunningDevice {
    /// The device with `flaw`, connecting to 127.0.0.1:`port`.
    pub fn start(port: u16, flaw: Flaw) -> Self {
        Self::start_with(port, flaw, CommandFlaw::None)
    }

    /// The device with `flaw` in its uplink and `command_flaw` in how it obeys commands.
    pub fn start_with(port: u16, flaw: Flaw, command_flaw: CommandFlaw) -> Self {
        Self::start_linked(port, flaw, command_flaw, Link::default())
    }

    /// [`RunningDevice::start_with`], connecting over `link` (TLS, its keep-alive and flaws).
    pub fn start_linked(port: u16, flaw: Flaw, command_flaw: CommandFlaw, link: Link) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::spawn({
            let stop = Arc::clone(&stop);
            move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime");
                runtime.block_on(Device::new(flaw, command_flaw, link).run(port, stop));
            }
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for RunningDevice {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
