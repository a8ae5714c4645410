//! `thingbench bench --commands`: set commands from thingbench's platform client, answered by a
//! device running in the same process, paired and timed as posts are.

use std::time::Duration;

use rumqttc::{AsyncClient, Event, EventLoop, Packet, QoS};

use crate::protocol::{DeviceId, Method, MsgId, topic_of};
use crate::transport::{RequestId, Session, SessionCommand, SessionConfig};

use super::ConnectError;
use super::bench::{BenchConfig, BenchReport, percentile};

/// A device in this process that answers every set command for it at once, with 200, as
/// firmware with a handler would: an MQTT client of its own as `device`, subscribed to its
/// command topics (where the broker is fronted by thingbench's door they come without it too).
/// It answers inside the task that reads the command, on its own thread: no hop to another
/// thread and back per command, which a [`Session`] and a thread reading its events would cost
/// (0.367 ms a set at p50 with that, `bench --commands --inflight 1`).
pub struct InProcessDevice {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl InProcessDevice {
    /// Connects as `config` says (the device's identity) and answers until dropped; returns
    /// once it is subscribed to the commands of `device`.
    pub fn start(config: SessionConfig, device: &DeviceId) -> Result<Self, ConnectError> {
        let (client, eventloop) = crate::transport::new_event_loop(&config)?;
        let filter = format!(
            "/sys/{}/{}/thing/service/#",
            device.product_key.0, device.device_key.0
        );
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(ConnectError::DeviceThread)?;
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
        let broker = config.broker.clone();
        let thread = std::thread::Builder::new()
            .name("thingbench-bench-device".into())
            .spawn(move || {
                runtime.block_on(answer_commands(
                    client, eventloop, filter, &broker, ready_tx, stop_rx,
                ));
            })
            .map_err(ConnectError::DeviceThread)?;
        let device = Self {
            stop: Some(stop_tx),
            thread: Some(thread),
        };
        match ready_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(())) => Ok(device),
            Ok(Err(why)) => Err(why),
            Err(_) => Err(ConnectError::DeviceUnsubscribed),
        }
    }
}

impl Drop for InProcessDevice {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Subscribes to `filter` at each connect (saying on `ready` when the first holds, or why it
/// cannot), then answers each command heard with 200, echoing its id, until `stop`.
async fn answer_commands(
    client: AsyncClient,
    mut eventloop: EventLoop,
    filter: String,
    broker: &crate::transport::BrokerUrl,
    ready: std::sync::mpsc::Sender<Result<(), ConnectError>>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let mut ready = Some(ready);
    loop {
        let polled = tokio::select! {
            _ = &mut stop => {
                let _ = client.try_disconnect();
                return;
            }
            polled = eventloop.poll() => polled,
        };
        match polled {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                if let Err(e) = client.try_subscribe(filter.clone(), QoS::AtLeastOnce)
                    && let Some(ready) = ready.take()
                {
                    let _ = ready.send(Err(ConnectError::DeviceSubscribe(e)));
                }
            }
            Ok(Event::Incoming(Packet::SubAck(ack))) => {
                if let Some(ready) = ready.take() {
                    let granted = matches!(
                        ack.return_codes.first(),
                        Some(rumqttc::SubscribeReasonCode::Success(_))
                    );
                    let _ = ready.send(if granted {
                        Ok(())
                    } else {
                        Err(ConnectError::DeviceRefused {
                            filter: filter.clone(),
                        })
                    });
                }
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                if publish.topic.ends_with("_reply") {
                    continue;
                }
                let id = serde_json::from_slice::<serde_json::Value>(&publish.payload)
                    .ok()
                    .and_then(|body| body.get("id").cloned())
                    .unwrap_or(serde_json::Value::Null);
                let reply = serde_json::json!({"id": id, "code": 200, "data": {}});
                let topic = format!("{}_reply", publish.topic);
                let _ = client.try_publish(topic, QoS::AtLeastOnce, false, reply.to_string());
            }
            Ok(_) => {}
            Err(e) => {
                if let Some(ready) = ready.take() {
                    let why = crate::transport::connection_error_words(broker, &e);
                    let _ = ready.send(Err(ConnectError::DeviceConnect(why)));
                    return;
                }
                // Reconnects at the next poll; not at once over and over.
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Sends `config.requests` set commands to `target` from `platform` (a platform client), with
/// `config.inflight` in flight, and times each until its reply.
pub fn run_command_bench(
    platform: &Session,
    target: &DeviceId,
    point: &str,
    config: BenchConfig,
) -> BenchReport {
    let topic = topic_of(Method::SetPoints, target, "");
    let timeout = Duration::from_secs(10);
    let send = |n: u64| {
        let body = format!(
            "{{\"id\":\"{n}\",\"version\":\"1.0\",\"method\":\"thing.service.measurepoint.set\",\"params\":{{\"{point}\":{}}}}}",
            n % 100
        );
        platform.send(SessionCommand::Request {
            request: RequestId(n),
            topic: topic.clone(),
            payload: body.into_bytes(),
            msg_id: Some(MsgId(n.to_string())),
            timeout,
        });
    };
    let paired = super::bench::paired_loop(platform, config, timeout, send);
    BenchReport {
        requests: config.requests,
        req_per_s: paired.rtts.len() as f64 / paired.elapsed.as_secs_f64(),
        p50_ms: percentile(&paired.rtts, 0.50),
        p99_ms: percentile(&paired.rtts, 0.99),
        publish_per_s: f64::NAN,
        lost: paired.lost,
        not_200: paired.not_200,
    }
}
