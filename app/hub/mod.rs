//! The reference hub: answers batch, resume batch, single post, login and logout on a broker
//! with the one checker's code and message, remembering which sub-devices are logged in.

use std::time::Duration;

use rumqttc::{Event, Packet, QoS};

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

/// A running hub on its own thread. It stops when the process ends or [`Hub::stop`] is called.
pub struct Hub {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
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
            stop: Some(stop_tx),
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
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
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
