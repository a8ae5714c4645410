//! The checks on records made by hand: a well-behaved gateway passes everything, and each
//! misbehaviour fails exactly its check.

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use super::*;
use crate::qualify::plan::{Answer, Phase};
use crate::workspace::{IdSource, LoginState, Workspace};

const START: i64 = 1_700_000_000_000;
const PERIOD_MS: u64 = 2_000;

fn workspace() -> Workspace {
    Workspace::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures"))
        .expect("the sample workspace loads")
}

fn phase(name: &str, secs: u64) -> Phase {
    Phase {
        name: name.into(),
        length: Duration::from_secs(secs),
        answer: Answer::Normal,
        network: Network::Up,
        delay: Duration::ZERO,
        commands: Vec::new(),
        tls: None,
    }
}

/// steady 0..10 s, silent 10..14 s, outage 14..18 s, recovery 18..28 s; a report every 2 s.
fn plan(ws: &Workspace) -> Plan {
    Plan {
        name: "test".into(),
        device: ws.gateway(),
        connect_within: Duration::from_secs(10),
        period: Duration::from_millis(PERIOD_MS),
        phases: vec![
            phase("steady", 10),
            Phase {
                answer: Answer::None,
                ..phase("silent", 4)
            },
            Phase {
                network: Network::Down,
                ..phase("outage", 4)
            },
            phase("recovery", 10),
        ],
        levels: BTreeMap::new(),
        command_timeout: Duration::from_secs(2),
    }
}

/// A device under test, writing what the proxy and hub would record of it.
struct Device {
    ws: Workspace,
    registry: Registry,
    record: Record,
    conn: u64,
    next_id: u64,
    ids: IdSource,
}

impl Device {
    fn new() -> Self {
        let ws = workspace();
        let registry = ws.registry(&LoginState::All);
        Self {
            ws,
            registry,
            record: Record {
                start_epoch_ms: START,
                seen: Vec::new(),
                commands: Vec::new(),
            },
            conn: 0,
            next_id: 1,
            ids: IdSource::from_clock(),
        }
    }

    fn connect(&mut self, at_ms: u64) {
        self.conn += 1;
        self.record.seen.push(Seen::Connect {
            at_ms,
            conn: self.conn,
            signed: Ok(()),
        });
        self.record.seen.push(Seen::Link(crate::qualify::SeenLink {
            conn: self.conn,
            keep_alive_s: 5,
            connected_ms: at_ms,
            ended_ms: None,
            silence: None,
        }));
    }

    fn disconnect(&mut self, at_ms: u64) {
        self.record.seen.push(Seen::Disconnect {
            at_ms,
            conn: self.conn,
            departed: true,
        });
    }

    fn request(&mut self, at_ms: u64, topic: String, payload: Vec<u8>, answered: Option<i64>) {
        // Rows count what the timeline shows: not the links' keep-alive records.
        let row = self
            .record
            .seen
            .iter()
            .filter(|s| !matches!(s, Seen::Link(_)))
            .count();
        self.record.seen.push(Seen::Request(SeenRequest {
            at_ms,
            conn: self.conn,
            row: Some(row),
            topic,
            payload,
            answered: answered.map(ReplyCode),
        }));
    }

    fn login(&mut self, at_ms: u64, device: &str) {
        let device = DeviceId::new("invPk", device);
        let message = crate::runner::login_message(
            &self.ws.gateway(),
            &self.registry,
            &device,
            true,
            &self.ids,
        );
        self.request(at_ms, message.topic, message.payload, Some(200));
    }

    /// A batch (or resume batch) from inv01 with one element per plan-clock time in `times`.
    fn post(&mut self, at_ms: u64, times: &[u64], resume: bool, answered: Option<i64>) {
        let (method, path) = if resume {
            ("thing.measurepoint.resume.batch", "resume/batch")
        } else {
            ("thing.measurepoint.post.batch", "post/batch")
        };
        let params: Vec<_> = times
            .iter()
            .map(|t| {
                json!({"productKey": "invPk", "deviceKey": "inv01",
                       "time": START + i64::try_from(*t).unwrap_or(0),
                       "measurepoints": {"temp": 41.5}})
            })
            .collect();
        let id = self.next_id;
        self.next_id += 1;
        let body =
            json!({"id": id.to_string(), "version": "1.0", "method": method, "params": params});
        let topic = format!("/sys/gwPk/gw01/thing/measurepoint/{path}");
        self.request(at_ms, topic, body.to_string().into_bytes(), answered);
    }

    /// The well-behaved gateway: reports every period, is silent-tolerant, backs off while the
    /// network is down, logs in again after the reconnect and back-fills by resume batch.
    /// `tweak` changes one thing.
    fn well_behaved(tweak: Tweak) -> Self {
        let mut d = Self::new();
        d.connect(0);
        d.login(5, "inv01");
        for t in (10..10_000).step_by(2_000) {
            d.post(t, &[t], false, Some(200));
        }
        // Silent: it keeps posting, unanswered.
        for t in (10_010..14_000).step_by(2_000) {
            d.post(t, &[t], false, None);
        }
        d.disconnect(14_000);
        let attempts: &[u64] = if tweak == Tweak::RetriesFast {
            &[14_100, 14_200, 14_300, 14_400, 14_500]
        } else {
            &[14_500, 16_000, 17_500]
        };
        for at in attempts {
            d.record.seen.push(Seen::Attempt { at_ms: *at });
        }
        d.connect(18_050);
        if tweak != Tweak::NoLoginAfterReconnect {
            d.login(18_060, "inv01");
        }
        // Back-fill: one element per slot of the silent and outage phases.
        let slots: &[u64] = if tweak == Tweak::NoBackfill {
            &[]
        } else {
            &[10_010, 12_010, 14_010, 16_010]
        };
        if !slots.is_empty() {
            d.post(18_100, slots, true, Some(200));
        }
        let mut last = 18_200;
        while last < 28_000 {
            let answered = if tweak == Tweak::NoLoginAfterReconnect {
                1212
            } else {
                200
            };
            d.post(last, &[last], false, Some(answered));
            last += if tweak == Tweak::Slow && last > 20_000 {
                3_500
            } else {
                2_000
            };
        }
        d
    }

    fn judge(&self) -> Vec<CheckResult> {
        self.judge_with(&plan(&self.ws))
    }

    fn judge_with(&self, plan: &Plan) -> Vec<CheckResult> {
        let mut registry = self.registry.clone();
        registry.logged_in.clear();
        judge(plan, &registry, &self.record)
    }

    /// Judged by a plan of one normal phase of a second, for records that end there.
    fn judge_short(&self) -> Vec<CheckResult> {
        let mut plan = plan(&self.ws);
        plan.phases = vec![phase("steady", 1)];
        self.judge_with(&plan)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tweak {
    None,
    RetriesFast,
    NoLoginAfterReconnect,
    NoBackfill,
    Slow,
}

/// The ids of the checks that failed.
fn failed(results: &[CheckResult]) -> Vec<&'static str> {
    results
        .iter()
        .filter(|r| r.verdict == Verdict::Fail)
        .map(|r| r.check.id())
        .collect()
}

#[test]
fn a_well_behaved_gateway_passes_every_check() {
    let results = Device::well_behaved(Tweak::None).judge();
    let lines: Vec<String> = results.iter().map(CheckResult::line).collect();
    assert_eq!(failed(&results), Vec::<&str>::new(), "{lines:#?}");
    assert_eq!(results.len(), CheckId::ALL.len());
    // It rode out everything the plan did: nothing is left `n/a` but the command checks, as the
    // plan sends no command, and the certificates, which it never shows (judge_link_tests.rs).
    for result in &results {
        let not_played = matches!(
            result.check,
            CheckId::AnswersCommands
                | CheckId::ReplyCodes
                | CheckId::AppliesSet
                | CheckId::OutputsMatch
                | CheckId::RefusesBadCertificates
        );
        if !not_played {
            assert_eq!(result.verdict, Verdict::Pass, "{lines:#?}");
        }
    }
}

#[test]
fn each_misbehaviour_fails_exactly_its_check() {
    for (tweak, check) in [
        (Tweak::RetriesFast, "backs-off"),
        (Tweak::NoLoginAfterReconnect, "logs-in-first"),
        (Tweak::NoBackfill, "backfills"),
        (Tweak::Slow, "reports-every-period"),
    ] {
        let results = Device::well_behaved(tweak).judge();
        let lines: Vec<String> = results.iter().map(CheckResult::line).collect();
        assert_eq!(failed(&results), vec![check], "{lines:#?}");
        let result = results
            .iter()
            .find(|r| r.check.id() == check)
            .expect("judged");
        assert!(!result.evidence.is_empty(), "{check}: evidence");
        assert!(
            result.evidence.iter().all(|e| e.text.contains("expected")),
            "{check}: each piece of evidence says what was expected: {:#?}",
            result.evidence
        );
    }
}

#[test]
fn a_bad_signature_an_invalid_request_a_reused_id_and_a_time_ahead_are_caught() {
    let mut d = Device::new();
    d.record.seen.push(Seen::Connect {
        at_ms: 0,
        conn: 1,
        signed: Err(crate::protocol::SignError::Mismatch.into()),
    });
    d.connect(100);
    d.login(110, "inv01");
    // A string where the model wants a FLOAT: not valid, whoever is logged in.
    let body = json!({"id": "7", "version": "1.0", "method": "thing.measurepoint.post.batch",
        "params": [{"productKey": "invPk", "deviceKey": "inv01", "time": START + 200,
                    "measurepoints": {"temp": "hot"}}]});
    let topic = "/sys/gwPk/gw01/thing/measurepoint/post/batch".to_owned();
    d.request(
        200,
        topic.clone(),
        body.to_string().into_bytes(),
        Some(1204),
    );
    // The same id again, with a time a minute ahead.
    let ahead = json!({"id": "7", "version": "1.0", "method": "thing.measurepoint.post.batch",
        "params": [{"productKey": "invPk", "deviceKey": "inv01", "time": START + 60_300,
                    "measurepoints": {"temp": 1.5}}]});
    d.request(
        300,
        topic.clone(),
        ahead.to_string().into_bytes(),
        Some(200),
    );
    let results = d.judge_short();
    let lines: Vec<String> = results.iter().map(CheckResult::line).collect();
    assert_eq!(
        failed(&results),
        vec!["connects", "conforms", "ids-unique", "times-sane"],
        "{lines:#?}"
    );
    let conforms = &results[1];
    assert!(conforms.fails_the_run());
    assert_eq!(conforms.evidence[0].row, Some(3));
}

#[test]
fn a_rejected_request_sent_again_and_again_fails_gives_up_on_rejects() {
    let mut d = Device::new();
    d.connect(0);
    d.login(5, "inv01");
    let body = json!({"id": "1", "version": "1.0", "method": "thing.measurepoint.post.batch",
        "params": [{"productKey": "invPk", "deviceKey": "inv01", "time": START + 10,
                    "measurepoints": {"temp": 1.5}}]});
    let topic = "/sys/gwPk/gw01/thing/measurepoint/post/batch".to_owned();
    for (i, at) in [10, 20, 30, 40].into_iter().enumerate() {
        let mut body = body.clone();
        // Fresh ids, same params: a retry of the rejected request.
        body["id"] = json!(format!("r{i}"));
        d.request(at, topic.clone(), body.to_string().into_bytes(), Some(1204));
    }
    let results = d.judge_short();
    assert_eq!(
        failed(&results),
        Vec::<&str>::new(),
        "3 resends are allowed"
    );
    let mut body = body;
    body["id"] = json!("r5");
    d.request(50, topic, body.to_string().into_bytes(), Some(1204));
    let results = d.judge_short();
    assert_eq!(failed(&results), vec!["gives-up-on-rejects"]);
}

#[test]
fn checks_the_plan_never_exercised_are_not_applicable_and_off_is_off() {
    let mut d = Device::new();
    d.connect(0);
    d.login(5, "inv01");
    d.post(10, &[10], false, Some(200));
    let mut plan = plan(&d.ws);
    plan.phases = vec![phase("steady", 1)];
    plan.levels.insert(CheckId::IdsUnique, Level::Off);
    let mut registry = d.registry.clone();
    registry.logged_in.clear();
    let results = judge(&plan, &registry, &d.record);
    let verdict = |id: &str| {
        results
            .iter()
            .find(|r| r.check.id() == id)
            .map(|r| r.verdict)
    };
    assert_eq!(verdict("backs-off"), Some(Verdict::NotApplicable));
    assert_eq!(verdict("backfills"), Some(Verdict::NotApplicable));
    assert_eq!(verdict("ids-unique"), Some(Verdict::NotApplicable));
    assert_eq!(verdict("conforms"), Some(Verdict::Pass));
}

#[test]
fn while_the_plan_runs_nothing_ahead_counts_and_a_backfill_is_pending() {
    let d = Device::well_behaved(Tweak::NoBackfill);
    let mut registry = d.registry.clone();
    registry.logged_in.clear();
    let plan = plan(&d.ws);
    // Mid-outage: the record so far, judged at 5 s.
    let mut so_far = d.record.clone();
    so_far.seen.retain(|s| match s {
        Seen::Connect { at_ms, .. } | Seen::Disconnect { at_ms, .. } | Seen::Attempt { at_ms } => {
            *at_ms <= 5_000
        }
        Seen::Request(r) => r.at_ms <= 5_000,
        Seen::Tls(t) => t.at_ms <= 5_000,
        Seen::Link(l) => l.connected_ms <= 5_000,
    });
    let results = judge_so_far(&plan, &registry, &so_far, 5_000);
    let verdict = |results: &[CheckResult], id: &str| {
        results
            .iter()
            .find(|r| r.check.id() == id)
            .map(|r| r.verdict)
    };
    assert_eq!(verdict(&results, "backfills"), Some(Verdict::Pending));
    assert_eq!(
        verdict(&results, "reports-every-period"),
        Some(Verdict::Pass)
    );
    assert_eq!(failed(&results), Vec::<&str>::new());
    // Once over, what was never back-filled fails.
    let results = judge(&plan, &registry, &d.record);
    assert_eq!(verdict(&results, "backfills"), Some(Verdict::Fail));
}
