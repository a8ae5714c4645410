//! `thingbench qualify` against devices written for it: a well-behaved gateway passes every
//! check, and each misbehaving variant fails exactly the check it breaks. The devices are real
//! MQTT clients (rumqttc) connecting through the proxy, as firmware would.

mod common;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::{Value, json};
use thingbench::protocol::{DeviceId, EpochMs, connect_credentials, sign};

use common::{Killed, LineReader, free_port, root};

/// How long a test waits for a line before it fails.
const WAIT: Duration = Duration::from_secs(60);

/// What a test device does wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flaw {
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
}

const PERIOD: Duration = Duration::from_millis(500);
const GATEWAY: (&str, &str, &str) = ("gwPk", "gw01", "gw-secret");
const SUB: (&str, &str, &str) = ("invPk", "inv01", "inv01-secret");

/// A gateway on rumqttc: it logs `inv01` in after each connect, samples every half period,
/// posts each sample (or buffers it while offline), back-fills unanswered and buffered samples
/// by resume batch once it is answered again, and reconnects with a 1.2 s back-off.
struct Device {
    flaw: Flaw,
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
    fn new(flaw: Flaw) -> Self {
        Self {
            flaw,
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

    fn element(time: i64, value: Value) -> Value {
        json!({"productKey": SUB.0, "deviceKey": SUB.1, "time": time,
               "measurepoints": {"temp": value}})
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
        let mut elements: Vec<Value> = times
            .iter()
            .map(|t| Self::element(*t, json!(21.5)))
            .collect();
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
        if !resume {
            self.pending.push((id, times, Instant::now(), body));
        }
    }

    /// Runs until `stop` is set.
    async fn run(mut self, port: u16, stop: Arc<AtomicBool>) {
        let gateway = DeviceId::new(GATEWAY.0, GATEWAY.1);
        let started = Instant::now();
        let mut sample = tokio::time::interval(PERIOD / 2);
        let mut signed_wrong = false;
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
            let creds = connect_credentials(GATEWAY.1, &gateway, secret, EpochMs::now());
            let mut options = MqttOptions::new(creds.client_id, "127.0.0.1", port);
            options
                .set_credentials(creds.username, creds.password)
                .set_keep_alive(Duration::from_secs(5))
                .set_clean_session(true);
            let (client, mut eventloop) = AsyncClient::new(options, 100);
            // rumqttc's poll must not be dropped halfway (a connect in progress would be lost):
            // it runs on a task of its own, until its first error.
            let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel();
            let poller = tokio::spawn(async move {
                loop {
                    let polled = eventloop.poll().await;
                    let failed = polled.is_err();
                    if events_tx.send(polled).is_err() || failed {
                        return;
                    }
                }
            });
            // After an error: when to try again (it keeps sampling meanwhile).
            let mut retry: Option<tokio::time::Instant> = None;
            loop {
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
                            let Ok(reply) = serde_json::from_slice::<Value>(&publish.payload) else { continue };
                            let code = reply["code"].as_i64().unwrap_or(0);
                            if publish.topic.ends_with("combine/login_reply") {
                                self.logged_in = code == 200;
                                if self.logged_in {
                                    self.flush(&client, started).await;
                                }
                                continue;
                            }
                            let id = reply["id"].as_str().unwrap_or_default().to_owned();
                            if let Some(at) = self.pending.iter().position(|p| p.0 == id) {
                                let (_, _, _, body) = self.pending.remove(at);
                                if (1200..1300).contains(&code) && self.flaw == Flaw::Resends {
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
                    _ = sample.tick() => {
                        let now = EpochMs::now().0;
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

/// Runs `thingbench qualify PLAN` with `flaw`'s device; returns the exit code, stdout and stderr.
fn qualify(
    plan: &str,
    flaw: Flaw,
    broker: Option<&str>,
    extra: &[&str],
) -> (Option<i32>, String, String) {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec![
        "qualify".to_owned(),
        format!("fixtures/plans/{plan}"),
        "--listen".into(),
        listen,
    ];
    if let Some(url) = broker {
        args.extend(["--broker".to_owned(), url.to_owned()]);
    }
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    let mut child = Killed(
        Command::new(env!("CARGO_BIN_EXE_thingbench"))
            .args(&args)
            .current_dir(root())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("thingbench qualify starts"),
    );
    let mut stdout = LineReader::new(child.0.stdout.take().expect("stdout"));
    let mut stderr = LineReader::new(child.0.stderr.take().expect("stderr"));
    stderr.wait_for(WAIT, |l| l.contains("connect the device to"));
    let stop = Arc::new(AtomicBool::new(false));
    let device = std::thread::spawn({
        let stop = Arc::clone(&stop);
        move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(Device::new(flaw).run(port, stop));
        }
    });
    let status = child.0.wait().expect("qualify ends");
    stop.store(true, Ordering::SeqCst);
    let _ = device.join();
    let out = stdout.rest(WAIT).join("\n");
    let err = stderr.rest(WAIT).join("\n");
    (status.code(), out, err)
}

/// The ids of the checks with `verdict` in qualify's output.
fn with_verdict<'o>(out: &'o str, verdict: &str) -> Vec<&'o str> {
    out.lines()
        .filter(|l| l.starts_with(verdict))
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect()
}

#[test]
fn a_well_behaved_gateway_passes_the_short_plan() {
    let dir = tempfile::tempdir().expect("tempdir");
    let junit = dir.path().join("qualify.xml");
    let junit_arg = junit.to_str().expect("utf-8");
    let (code, out, err) = qualify("short.json", Flaw::None, None, &["--junit", junit_arg]);
    assert_eq!(
        with_verdict(&out, "FAIL"),
        Vec::<&str>::new(),
        "{out}\n{err}"
    );
    assert_eq!(code, Some(0), "{out}\n{err}");
    // Every phase kind was played, and the device lived through each.
    for line in [
        "\"rejected\" (answers 1204)",
        "\"no replies\" (no replies)",
        "\"outage\" (network down)",
        "(+150 ms each way)",
    ] {
        assert!(err.contains(line), "{line} missing:\n{err}");
    }
    assert!(
        err.contains("connection attempt while the network is down"),
        "{err}"
    );
    assert_eq!(with_verdict(&out, "PASS").len(), 9, "{out}");
    let xml = std::fs::read_to_string(&junit).expect("JUnit written");
    assert_eq!(xml.matches("<testcase ").count(), 9, "{xml}");
    assert_eq!(xml.matches("<failure").count(), 0, "{xml}");
    assert!(xml.contains("name=\"backfills\""), "{xml}");
}

#[test]
fn each_flawed_gateway_fails_exactly_its_check() {
    let cases = [
        (Flaw::BadSignature, "connects"),
        (Flaw::Invalid, "conforms"),
        (Flaw::NoLoginAfterReconnect, "logs-in-first"),
        (Flaw::Gap, "reports-every-period"),
        (Flaw::NoBackfill, "backfills"),
        (Flaw::ReusedId, "ids-unique"),
        (Flaw::Future, "times-sane"),
        (Flaw::FastRetry, "backs-off"),
        (Flaw::Resends, "gives-up-on-rejects"),
    ];
    let runs: Vec<_> = cases
        .iter()
        .map(|&(flaw, check)| {
            std::thread::spawn(move || {
                // One of them speaks JSON.
                let extra: &[&str] = if flaw == Flaw::Resends {
                    &["--json"]
                } else {
                    &[]
                };
                (flaw, check, qualify("short.json", flaw, None, extra))
            })
        })
        .collect();
    for run in runs {
        let (flaw, check, (code, out, err)) = run.join().expect("a run");
        if flaw == Flaw::Resends {
            let json: Value = serde_json::from_str(&out).expect("only JSON on stdout");
            assert_eq!(json["plan"], "Every phase kind in ten seconds");
            let checks = json["checks"].as_array().expect("checks");
            assert_eq!(checks.len(), 9, "{out}");
            let failed: Vec<&Value> = checks.iter().filter(|c| c["verdict"] == "fail").collect();
            assert_eq!(failed.len(), 1, "{out}");
            assert_eq!(failed[0]["id"], check);
            assert_eq!(failed[0]["level"], "should");
            assert!(
                failed[0]["evidence"][0]["text"]
                    .as_str()
                    .is_some_and(|t| t.contains("expected")),
                "{out}"
            );
            assert_eq!(
                code,
                Some(0),
                "a should-level failure does not fail the run\n{err}"
            );
            continue;
        }
        let failed = with_verdict(&out, "FAIL");
        if flaw == Flaw::BadSignature {
            assert!(err.contains("CONNACK 5"), "{flaw:?}\n{err}");
        }
        assert_eq!(failed, vec![check], "{flaw:?}\n{out}\n{err}");
        let must = matches!(check, "connects" | "conforms" | "logs-in-first");
        assert_eq!(
            code,
            Some(if must { 1 } else { 0 }),
            "{flaw:?}\n{out}\n{err}"
        );
        assert!(out.contains("expected"), "{flaw:?}: evidence\n{out}");
    }
}

#[test]
fn qualify_works_in_front_of_mosquitto() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let Some(_mosquitto) =
        common::start_mosquitto_configured(dir.path(), port, None, "set_tcp_nodelay true\n")
    else {
        return;
    };
    let url = format!("mqtt://127.0.0.1:{port}");
    let (code, out, err) = qualify("short.json", Flaw::None, Some(&url), &[]);
    assert_eq!(
        with_verdict(&out, "FAIL"),
        Vec::<&str>::new(),
        "{out}\n{err}"
    );
    assert_eq!(code, Some(0), "{out}\n{err}");
    // The hub logs the sub-devices out when the device's connection ends, on any broker.
    let (code, out, err) = qualify("short.json", Flaw::NoLoginAfterReconnect, Some(&url), &[]);
    assert_eq!(
        with_verdict(&out, "FAIL"),
        vec!["logs-in-first"],
        "{out}\n{err}"
    );
    assert_eq!(code, Some(1), "{out}\n{err}");
}

#[test]
fn a_bad_plan_and_a_device_that_never_connects_exit_2_with_a_sentence() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"name": "bad", "device": "gwPk/gw01", "periodS": 1, "phases": [{"name": "a"}]}"#,
    )
    .expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_thingbench"))
        .args([
            "qualify",
            bad.to_str().expect("utf-8"),
            "--workspace",
            "fixtures",
        ])
        .current_dir(root())
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("bad.json: at phases[0]: missing field `forS`"),
        "{err}"
    );

    let never = dir.path().join("never.json");
    std::fs::write(
        &never,
        r#"{"name": "never", "device": "gwPk/gw01", "connectWithinS": 1, "periodS": 1, "phases": [{"forS": 1}]}"#,
    )
    .expect("write");
    let listen = format!("127.0.0.1:{}", free_port());
    let out = Command::new(env!("CARGO_BIN_EXE_thingbench"))
        .args([
            "qualify",
            never.to_str().expect("utf-8"),
            "--workspace",
            "fixtures",
            "--listen",
            &listen,
        ])
        .current_dir(root())
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("the device never connected"), "{err}");
}
