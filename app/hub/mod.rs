//! The reference hub: answers batch, resume batch, single post, login and logout on a broker
//! with the one checker's code and message, remembering which sub-devices are logged in.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rumqttc::{Event, Packet, QoS};

use crate::broker::Link;
use crate::model::{Registry, check};
use crate::protocol::reply_topic;
use crate::transport::{
    BrokerUrl, Scheme, TlsOptions, client_config, client_event_loop, connection_error_words,
};

/// The topic filters the hub serves: every request topic of the protocol, for any device.
pub fn hub_filters() -> Vec<String> {
    [
        "/sys/+/+/thing/measurepoint/post/batch",
        "/sys/+/+/thing/measurepoint/post",
        "/sys/+/+/thing/measurepoint/resume/batch",
        "/ext/session/+/+/combine/login",
        "/ext/session/+/+/combine/logout",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

/// What the hub reports while it runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HubStatus {
    Connected,
    Disconnected(String),
}

/// How a running hub is told to stop.
enum StopSwitch {
    /// The MQTT hub's runtime waits on this.
    Runtime(tokio::sync::oneshot::Sender<()>),
    /// The in-process hub checks this between messages.
    Flag(Arc<AtomicBool>),
}

/// A running hub on its own thread. It stops when the process ends or [`Hub::stop`] is called.
pub struct Hub {
    stop: Option<StopSwitch>,
    thread: Option<std::thread::JoinHandle<()>>,
    pub status: std::sync::mpsc::Receiver<HubStatus>,
}

impl Hub {
    /// Connects to `broker` and serves the devices of `registry`. Every sub-device starts
    /// logged out, as on a real hub.
    pub fn start(
        broker: BrokerUrl,
        tls: TlsOptions,
        mut registry: Registry,
    ) -> Result<Self, String> {
        if broker.scheme == Scheme::Mqtts {
            // Fail now, with the file named, rather than on every reconnect.
            client_config(&tls)?;
        }
        registry.logged_in.clear();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
        let (status_tx, status_rx) = std::sync::mpsc::channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the hub's runtime: {e}"))?;
        let thread = std::thread::Builder::new()
            .name("thingbench-hub".into())
            .spawn(move || runtime.block_on(serve(broker, tls, registry, stop_rx, status_tx)))
            .map_err(|e| format!("cannot start the hub thread: {e}"))?;
        Ok(Self {
            stop: Some(StopSwitch::Runtime(stop_tx)),
            thread: Some(thread),
            status: status_rx,
        })
    }

    /// Serves the devices of `registry` over an in-process link to the embedded broker: the
    /// same checker and replies as over MQTT, without a socket between broker and hub.
    pub fn start_on_link(link: Link, mut registry: Registry) -> Result<Self, String> {
        registry.logged_in.clear();
        let stop = Arc::new(AtomicBool::new(false));
        let (status_tx, status_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("thingbench-hub".into())
            .spawn({
                let stop = stop.clone();
                move || serve_link(link, registry, &stop, &status_tx)
            })
            .map_err(|e| format!("cannot start the hub thread: {e}"))?;
        Ok(Self {
            stop: Some(StopSwitch::Flag(stop)),
            thread: Some(thread),
            status: status_rx,
        })
    }

    /// Waits until the hub is connected and subscribed, or says why not.
    pub fn wait_connected(&self, within: Duration) -> Result<(), String> {
        let deadline = std::time::Instant::now() + within;
        let mut last = String::from("no answer from the broker");
        loop {
            let remaining = deadline.saturating_duration_since(std::time::Instant::now());
            match self.status.recv_timeout(remaining) {
                Ok(HubStatus::Connected) => return Ok(()),
                Ok(HubStatus::Disconnected(reason)) => last = reason,
                Err(_) => return Err(format!("the hub could not connect: {last}")),
            }
        }
    }

    /// Stops the hub and waits for its thread.
    pub fn stop(&mut self) {
        match self.stop.take() {
            Some(StopSwitch::Runtime(stop)) => {
                let _ = stop.send(());
            }
            Some(StopSwitch::Flag(stop)) => stop.store(true, Ordering::SeqCst),
            None => {}
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn serve(
    broker: BrokerUrl,
    tls: TlsOptions,
    mut registry: Registry,
    mut stop: tokio::sync::oneshot::Receiver<()>,
    status: std::sync::mpsc::Sender<HubStatus>,
) {
    let client_id = format!(
        "thingbench-hub-{}-{}",
        std::process::id(),
        crate::protocol::EpochMs::now().0
    );
    let (client, mut eventloop) =
        match client_event_loop(client_id, &broker, Duration::from_secs(30), None, &tls) {
            Ok(pair) => pair,
            Err(e) => {
                let _ = status.send(HubStatus::Disconnected(e));
                return;
            }
        };
    let mut backoff = Duration::from_millis(50);
    let mut subscribed_pkids = 0usize;
    loop {
        tokio::select! {
            _ = &mut stop => {
                let _ = client.try_disconnect();
                return;
            }
            polled = eventloop.poll() => match polled {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    backoff = Duration::from_millis(50);
                    subscribed_pkids = 0;
                    for filter in hub_filters() {
                        let _ = client.try_subscribe(filter, QoS::AtLeastOnce);
                    }
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    subscribed_pkids += 1;
                    if subscribed_pkids == hub_filters().len() {
                        let _ = status.send(HubStatus::Connected);
                    }
                }
                Ok(Event::Incoming(Packet::Publish(publish))) => {
                    let report = check(&registry, &publish.topic, &publish.payload);
                    registry.apply(report.effect.as_ref());
                    let _ = client.try_publish(reply_topic(&publish.topic), QoS::AtLeastOnce, false, report.reply().to_bytes());
                }
                Ok(_) => {}
                Err(err) => {
                    let _ = status.send(HubStatus::Disconnected(connection_error_words(&broker, &err)));
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
}

/// Replies queued on the link before the router is woken for them.
const LINK_BATCH: usize = 32;

/// Publishes `newest`, which wakes the router for it and for every reply queued before it.
fn send_replies(
    link_tx: &mut rumqttd::local::LinkTx,
    newest: &mut Option<(String, Vec<u8>)>,
    queued: &mut usize,
) -> Result<(), String> {
    *queued = 0;
    match newest.take() {
        Some((topic, payload)) => link_tx
            .publish(topic, payload)
            .map(|_| ())
            .map_err(|e| format!("cannot publish a reply: {e}")),
        None => Ok(()),
    }
}

/// The hub's loop on an in-process link. Replies go out at QoS 0, as the link publishes.
fn serve_link(
    (mut link_tx, mut link_rx): Link,
    mut registry: Registry,
    stop: &AtomicBool,
    status: &std::sync::mpsc::Sender<HubStatus>,
) {
    let filters = hub_filters();
    for filter in &filters {
        if let Err(e) = link_tx.subscribe(filter.clone()) {
            let _ = status.send(HubStatus::Disconnected(format!(
                "cannot subscribe to {filter}: {e}"
            )));
            return;
        }
    }
    let mut acks = 0;
    // Replies to requests that arrived together go to the router together: all but the newest
    // are queued on the link without waking the router, and the newest wakes it for all of them
    // once no more requests are waiting (or after a batch of them).
    let mut newest: Option<(String, Vec<u8>)> = None;
    let mut queued = 0;
    while !stop.load(Ordering::SeqCst) {
        let wait = if newest.is_some() {
            Duration::ZERO
        } else {
            Duration::from_millis(200)
        };
        match link_rx.recv_deadline(Instant::now() + wait) {
            Ok(Some(rumqttd::Notification::Forward(forward))) => {
                let topic = String::from_utf8_lossy(&forward.publish.topic);
                let report = check(&registry, &topic, &forward.publish.payload);
                registry.apply(report.effect.as_ref());
                let reply = (reply_topic(&topic), report.reply().to_bytes());
                if let Some((topic, payload)) = newest.replace(reply) {
                    let publish =
                        rumqttd::protocol::Publish::new(topic.into_bytes(), payload, false);
                    link_tx
                        .buffer()
                        .push_back(rumqttd::protocol::Packet::Publish(publish, None));
                    queued += 1;
                }
                if queued >= LINK_BATCH
                    && let Err(e) = send_replies(&mut link_tx, &mut newest, &mut queued)
                {
                    let _ = status.send(HubStatus::Disconnected(e));
                    return;
                }
            }
            Err(rumqttd::local::LinkError::RecvTimeout(_)) if newest.is_some() => {
                if let Err(e) = send_replies(&mut link_tx, &mut newest, &mut queued) {
                    let _ = status.send(HubStatus::Disconnected(e));
                    return;
                }
            }
            Ok(Some(rumqttd::Notification::DeviceAck(_))) => {
                acks += 1;
                if acks == filters.len() {
                    let _ = status.send(HubStatus::Connected);
                }
            }
            Ok(Some(rumqttd::Notification::Unschedule)) => {
                // The router paused this link until it says it is ready again.
                let _ = link_rx.ready();
            }
            Ok(_) => {}
            Err(rumqttd::local::LinkError::RecvTimeout(_)) => {}
            Err(e) => {
                let _ = status.send(HubStatus::Disconnected(format!(
                    "the embedded broker went away: {e}"
                )));
                return;
            }
        }
    }
}
