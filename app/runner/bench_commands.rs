//! `thingbench bench --commands`: set commands from thingbench's platform client, answered by a
//! device running in the same process, paired and timed as posts are.

use std::time::{Duration, Instant};

use crate::protocol::{DeviceId, Method, MsgId, topic_of};
use crate::transport::{RequestId, Session, SessionCommand, SessionConfig, SessionEvent};

use super::ConnectError;
use super::bench::{BenchConfig, BenchReport, percentile};

/// A device in this process that answers every set command for it at once, with 200, as
/// firmware with a handler would: a session of its own as `device`, subscribed to its command
/// topics (where the broker is fronted by thingbench's door they come without it too).
pub struct InProcessDevice {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl InProcessDevice {
    /// Connects as `config` says (the device's identity) and answers until dropped; returns
    /// once it is subscribed to the commands of `device`.
    pub fn start(config: SessionConfig, device: &DeviceId) -> Result<Self, ConnectError> {
        let session = Session::start(config, Box::new(|| {}))?;
        let filter = format!(
            "/sys/{}/{}/thing/service/#",
            device.product_key.0, device.device_key.0
        );
        session.send(SessionCommand::Subscribe(filter));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match session.events.recv_timeout(left) {
                Ok(SessionEvent::Subscribed { granted: Ok(_), .. }) => break,
                Ok(SessionEvent::Subscribed {
                    granted: Err(why), ..
                }) => return Err(why.into()),
                Ok(_) => {}
                Err(_) => return Err(ConnectError::DeviceUnsubscribed),
            }
        }
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopping = std::sync::Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("thingbench-bench-device".into())
            .spawn(move || answer_commands(&session, &stopping))
            .map_err(ConnectError::DeviceThread)?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for InProcessDevice {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Answers each command `session` hears with 200, echoing its id, until `stop`.
fn answer_commands(session: &Session, stop: &std::sync::atomic::AtomicBool) {
    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
        let Ok(event) = session.events.recv_timeout(Duration::from_millis(100)) else {
            continue;
        };
        let SessionEvent::Message { topic, payload } = event else {
            continue;
        };
        if topic.ends_with("_reply") {
            continue;
        }
        let id = serde_json::from_slice::<serde_json::Value>(&payload)
            .ok()
            .and_then(|body| body.get("id").cloned())
            .unwrap_or(serde_json::Value::Null);
        let reply = serde_json::json!({"id": id, "code": 200, "data": {}});
        session.send(SessionCommand::Publish {
            topic: format!("{topic}_reply"),
            payload: reply.to_string().into_bytes(),
        });
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
    let mut rtts = Vec::with_capacity(config.requests);
    let (mut lost, mut not_200, mut done, mut sent) = (0usize, 0usize, 0usize, 0usize);
    let started = Instant::now();
    while sent < config.requests.min(config.inflight) {
        send(sent as u64);
        sent += 1;
    }
    while done < config.requests {
        let Ok(event) = platform.events.recv_timeout(timeout * 2) else {
            lost += config.requests - done;
            break;
        };
        match event {
            SessionEvent::Replied { reply, rtt, .. } => {
                rtts.push(rtt);
                if !reply.code.is_success() {
                    not_200 += 1;
                }
            }
            SessionEvent::NoReply { .. } | SessionEvent::Lost { .. } => lost += 1,
            SessionEvent::Closed => {
                lost += config.requests - done;
                break;
            }
            _ => continue,
        }
        done += 1;
        if sent < config.requests {
            send(sent as u64);
            sent += 1;
        }
    }
    let elapsed = started.elapsed();
    rtts.sort_unstable();
    BenchReport {
        requests: config.requests,
        req_per_s: rtts.len() as f64 / elapsed.as_secs_f64(),
        p50_ms: percentile(&rtts, 0.50),
        p99_ms: percentile(&rtts, 0.99),
        publish_per_s: f64::NAN,
        lost,
        not_200,
    }
}
