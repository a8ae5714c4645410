//! `thingbench bench`: paired round trips with K in flight, beside a publish-only loop of the
//! same payloads on the same broker, so the cost of pairing and checking shows as a ratio.

use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use crate::model::{Registry, sample_value};
use crate::protocol::{DeviceId, Method, MsgId, request_topic};
use crate::transport::{RequestId, Session, SessionCommand, SessionEvent};

use super::diagnosis::NAGLE_SAMPLE;
use super::{Outcome, Runner};

/// What to measure.
#[derive(Clone, Copy, Debug)]
pub struct BenchConfig {
    pub requests: usize,
    pub inflight: usize,
    pub points: usize,
}

/// What was measured.
#[derive(Clone, Debug, PartialEq)]
pub struct BenchReport {
    pub requests: usize,
    pub req_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub publish_per_s: f64,
    /// Requests without a reply (no reply in time, or lost).
    pub lost: usize,
    /// Replies whose code was not 200 (a sign the payload or the hub is wrong).
    pub not_200: usize,
}

impl BenchReport {
    /// The `--json` form: every figure the text form shows (`ratio` and `publish_per_s` are
    /// null where no publish-only loop ran, as for commands).
    pub fn to_json(&self) -> Value {
        json!({
            "requests": self.requests,
            "req_per_s": self.req_per_s,
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "publish_per_s": self.publish_per_s,
            "ratio": self.req_per_s / self.publish_per_s,
            "lost": self.lost,
            "not_200": self.not_200,
        })
    }
}

/// The body of a valid batch of `points` points for `device` (elements of the model's points,
/// repeated over timestamps), without its id.
pub fn bench_body(
    registry: &Registry,
    device: &DeviceId,
    points: usize,
) -> Result<String, super::RunError> {
    use super::RunError::NothingToBench;
    let model = registry
        .model_of(&device.product_key)
        .ok_or_else(|| NothingToBench(format!("no thing model is loaded for {device}")))?;
    if model.points.is_empty() {
        return Err(NothingToBench(format!(
            "the model of {device} has no measure points"
        )));
    }
    let mut params = Vec::new();
    let mut left = points.max(1);
    let mut element = 0;
    while left > 0 {
        let mut map = Map::new();
        for (i, point) in model.points.iter().take(left).enumerate() {
            map.insert(
                point.identifier.clone(),
                sample_value(point, (element * 31 + i) as u64),
            );
        }
        left -= map.len();
        params.push(json!({
            "productKey": device.product_key.0,
            "deviceKey": device.device_key.0,
            "time": 1_700_000_000_000_i64 + element as i64 * 1000,
            "measurepoints": map,
        }));
        element += 1;
    }
    let body = json!({"version": "1.0", "method": Method::PostBatch.name(), "params": params});
    let text = body.to_string();
    // Without the opening brace, so that each request puts its own id first.
    Ok(text[1..].to_owned())
}

/// The `p` quantile of `sorted` round trips, in milliseconds; NaN of none.
pub(crate) fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn with_id(body: &str, id: u64) -> Vec<u8> {
    format!("{{\"id\":\"{id}\",{body}").into_bytes()
}

/// Sequential round trips before the measure, through `runner`: the reply subscription and the
/// first allocations stay out of the figure, and the runner judges from them whether a hub
/// answers and whether Nagle's algorithm on the broker holds each round trip up (each said once
/// through [`Runner::tell`]). An error when a warm-up request gets no reply or is lost.
pub fn warm_up(runner: &mut Runner, gateway: &DeviceId, body: &str) -> Result<(), super::RunError> {
    let topic = request_topic(Method::PostBatch, gateway);
    for n in 0..NAGLE_SAMPLE {
        // A hub that has answered gets the bench's full wait; before that, a live hub answers
        // in milliseconds, and a broker without one should not keep the bench for long.
        let wait = if runner.hub_seen() {
            REPLY_WAIT
        } else {
            FIRST_REPLY_WAIT
        };
        let id = format!("warm-up-{n}");
        let payload = format!("{{\"id\":\"{id}\",{body}").into_bytes();
        match runner.request(topic.clone(), payload, Some(MsgId(id)), wait) {
            Outcome::Replied { .. } => {}
            Outcome::NoReply { after } => {
                // Says that no hub answers, when nothing ever did.
                runner.finish();
                return Err(super::RunError::WarmUpUnanswered(after.as_millis()));
            }
            Outcome::Lost { reason } => return Err(super::RunError::WarmUpLost(reason)),
            Outcome::NotSent { reason } | Outcome::Skipped { reason } => {
                return Err(super::RunError::WarmUpNotSent(reason));
            }
        }
    }
    Ok(())
}

/// How long a request of the bench waits for its reply.
const REPLY_WAIT: Duration = Duration::from_secs(10);

/// How long the first warm-up request waits while nothing has ever replied.
const FIRST_REPLY_WAIT: Duration = Duration::from_secs(2);

/// What a paired loop measured: each reply's round trip (sorted), and what did not come back
/// as 200.
pub(super) struct Paired {
    pub rtts: Vec<Duration>,
    pub lost: usize,
    pub not_200: usize,
    pub elapsed: Duration,
}

/// Sends `config.requests` requests with `send(n)` (request `n`, `RequestId(n)`), keeping
/// `config.inflight` in flight, and times each until `session` says how it ended.
pub(super) fn paired_loop(
    session: &Session,
    config: BenchConfig,
    timeout: Duration,
    mut send: impl FnMut(u64),
) -> Paired {
    let mut rtts = Vec::with_capacity(config.requests);
    let (mut lost, mut not_200, mut done, mut sent) = (0usize, 0usize, 0usize, 0usize);
    let started = Instant::now();
    while sent < config.requests.min(config.inflight) {
        send(sent as u64);
        sent += 1;
    }
    while done < config.requests {
        let Ok(event) = session.events.recv_timeout(timeout * 2) else {
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
    Paired {
        rtts,
        lost,
        not_200,
        elapsed,
    }
}

/// Runs both loops over `session`, connected as `gateway` with `device` logged in and warmed up
/// by [`warm_up`].
pub fn run_bench(
    session: &Session,
    gateway: &DeviceId,
    body: &str,
    config: BenchConfig,
) -> BenchReport {
    let topic = request_topic(Method::PostBatch, gateway);
    let timeout = REPLY_WAIT;
    let send = |n: u64| {
        session.send(SessionCommand::Request {
            request: RequestId(n),
            topic: topic.clone(),
            payload: with_id(body, n),
            msg_id: Some(MsgId(n.to_string())),
            timeout,
        });
    };

    let paired = paired_loop(session, config, timeout, send);
    let next = config.requests as u64;

    // The same payloads, published with the same window, acknowledged by the broker only.
    let sink = "thingbench/bench/sink".to_owned();
    let publish_started = Instant::now();
    let (mut published, mut acked) = (0usize, 0usize);
    while published < config.requests.min(config.inflight) {
        session.send(SessionCommand::Publish {
            topic: sink.clone(),
            payload: with_id(body, next + published as u64),
        });
        published += 1;
    }
    while acked < config.requests {
        match session.events.recv_timeout(timeout) {
            Ok(SessionEvent::Acked) => {
                acked += 1;
                if published < config.requests {
                    session.send(SessionCommand::Publish {
                        topic: sink.clone(),
                        payload: with_id(body, next + published as u64),
                    });
                    published += 1;
                }
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    let publish_elapsed = publish_started.elapsed();
    BenchReport {
        requests: config.requests,
        req_per_s: paired.rtts.len() as f64 / paired.elapsed.as_secs_f64(),
        p50_ms: percentile(&paired.rtts, 0.50),
        p99_ms: percentile(&paired.rtts, 0.99),
        publish_per_s: acked as f64 / publish_elapsed.as_secs_f64(),
        lost: paired.lost,
        not_200: paired.not_200,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn bench_body_is_a_valid_batch_of_the_asked_size() {
        let model = crate::model::ThingModel::from_slice(
            br#"{"modelId": "m", "measurepoints": {"a": {"dataType": "INT"}, "b": {"dataType": "FLOAT"}, "c": {"dataType": "BOOL"}}}"#,
        )
        .expect("model");
        let mut registry = Registry::new();
        let gw = DeviceId::new("pk", "gw");
        registry.add_product(crate::protocol::ProductKey("pk".into()), Arc::new(model));
        registry.add_gateway(gw.clone(), None);
        let body = bench_body(&registry, &gw, 7).expect("body");
        let payload = with_id(&body, 42);
        let report =
            crate::model::check(&registry, &request_topic(Method::PostBatch, &gw), &payload);
        assert_eq!(
            report.code,
            crate::protocol::ReplyCode::SUCCESS,
            "{:?}",
            report.findings
        );
        let value: Value = serde_json::from_slice(&payload).expect("json");
        assert_eq!(value["id"], "42");
        let count: usize = value["params"]
            .as_array()
            .expect("params")
            .iter()
            .map(|e| e["measurepoints"].as_object().map_or(0, Map::len))
            .sum();
        assert_eq!(count, 7);
    }
}
