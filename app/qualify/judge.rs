//! The verdicts: what the device did, as the proxy and the hub recorded it, judged check by
//! check against the plan. A pure function of the record, so that every rule is tested here
//! without a network.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use serde_json::{Map, Value};

use crate::model::{Registry, check};
use crate::protocol::{DeviceId, Method, ReplyCode};

use super::checks::{CheckId, CheckResult, Evidence, Level, Verdict};
use super::desk::SentCommand;
use super::judge_link::{SeenLink, SeenTls};
use super::plan::{Network, Plan};

#[path = "judge_commands.rs"]
mod commands;

pub use commands::{CommandExchange, CommandReply, CommandStatus, pair_replies};

/// The login failure code: the element names a sub-device that is not logged in.
const NOT_LOGGED_IN: ReplyCode = ReplyCode(1212);

/// How far ahead of the hub's clock an element's time may be.
const AHEAD_LIMIT_MS: i64 = 5_000;

/// How many times a rejected request may be sent again.
const RESENDS_ALLOWED: usize = 3;

/// The least mean gap between connection attempts while the network is down.
const BACKOFF_MIN: Duration = Duration::from_secs(1);

/// Most evidence items kept per check.
const EVIDENCE_CAP: usize = 20;

/// One thing the proxy or the hub saw, on the plan clock (ms since the clock started).
#[derive(Clone, Debug, PartialEq)]
pub enum Seen {
    /// A CONNECT of the device; `signed` says why its signature is not valid, if it is not.
    Connect {
        at_ms: u64,
        conn: u64,
        signed: Result<(), super::Unsigned>,
    },
    /// The device's connection `conn` ended; `departed` when it was the device's last open
    /// connection (by [`crate::broker::Departures`], the model the hub follows too).
    Disconnect {
        at_ms: u64,
        conn: u64,
        departed: bool,
    },
    /// A connection accepted and closed at once while the network was down.
    Attempt { at_ms: u64 },
    /// A request of the device.
    Request(SeenRequest),
    /// A TLS session on the proxy (with `--tls`).
    Tls(SeenTls),
    /// How an accepted connection was kept alive, updated while it lasts.
    Link(SeenLink),
}

/// A request of the device under test, as the hub received it.
#[derive(Clone, Debug, PartialEq)]
pub struct SeenRequest {
    pub at_ms: u64,
    pub conn: u64,
    /// Its row in the timeline, when it has one.
    pub row: Option<usize>,
    pub topic: String,
    pub payload: Vec<u8>,
    /// The code the hub sent back; `None` when it sent no reply.
    pub answered: Option<ReplyCode>,
}

/// Everything seen in one qualification run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Record {
    /// The hub's clock (epoch ms) when the plan clock started.
    pub start_epoch_ms: i64,
    /// In the order seen.
    pub seen: Vec<Seen>,
    /// The plan's commands, in the order they fall due, with when each went out.
    pub commands: Vec<SentCommand>,
}

impl Record {
    /// Plan-clock ms of an epoch time.
    fn plan_ms(&self, epoch_ms: i64) -> i64 {
        epoch_ms - self.start_epoch_ms
    }
}

/// The verdict of every check, in [`CheckId::ALL`]'s order, once the plan is over. `registry`
/// is the workspace's, with nobody logged in.
pub fn judge(plan: &Plan, registry: &Registry, record: &Record) -> Vec<CheckResult> {
    judge_until(plan, registry, record, None)
}

/// The verdicts while the plan runs, `now_ms` into it: nothing after now counts against the
/// device, and what it may still do before the plan ends is [`Verdict::Pending`].
pub fn judge_so_far(
    plan: &Plan,
    registry: &Registry,
    record: &Record,
    now_ms: u64,
) -> Vec<CheckResult> {
    judge_until(plan, registry, record, Some(now_ms))
}

fn judge_until(
    plan: &Plan,
    registry: &Registry,
    record: &Record,
    now_ms: Option<u64>,
) -> Vec<CheckResult> {
    let posts = Posts::read(plan, registry, record);
    let commands = commands::judge_commands(plan, registry, record, &posts, now_ms);
    CheckId::ALL
        .into_iter()
        .map(|check| {
            let level = plan.level(check);
            if level == Level::Off {
                return CheckResult {
                    check,
                    level,
                    verdict: Verdict::NotApplicable,
                    evidence: Vec::new(),
                    summary: "off in this plan".into(),
                };
            }
            let (verdict, summary, evidence) = match check {
                CheckId::Connects => connects(record),
                CheckId::Conforms => failures_or_pass(
                    &posts.nonconforming,
                    "every request was valid",
                    "requests broke the hub's rules",
                ),
                CheckId::LogsInFirst => failures_or_pass(
                    &posts.not_logged_in,
                    "every element named a logged-in sub-device",
                    "requests named a sub-device that was not logged in",
                ),
                CheckId::ReportsEveryPeriod => reports_every_period(plan, &posts, now_ms),
                CheckId::Backfills => match backfills(plan, record, &posts) {
                    (Verdict::Fail, _, missing) if now_ms.is_some() => (
                        Verdict::Pending,
                        format!(
                            "{} device slots not back-filled yet: the device may still back-fill them before the plan ends",
                            missing.len()
                        ),
                        Vec::new(),
                    ),
                    judged => judged,
                },
                CheckId::IdsUnique => failures_or_pass(
                    &posts.repeated_ids,
                    "no id was used twice on a connection",
                    "requests reused an id on the same connection",
                ),
                CheckId::TimesSane => failures_or_pass(
                    &posts.insane_times,
                    "every element time was sane",
                    "element times were ahead of the hub's clock or went back",
                ),
                CheckId::BacksOff => backs_off(plan, record),
                CheckId::GivesUpOnRejects => failures_or_pass(
                    &posts.resent_rejects,
                    "no rejected request was sent again more than 3 times",
                    "rejected requests were sent again more than 3 times",
                ),
                CheckId::AnswersCommands => commands.answers.clone(),
                CheckId::ReplyCodes => commands.codes.clone(),
                CheckId::AppliesSet => commands.applies.clone(),
                CheckId::OutputsMatch => commands.outputs.clone(),
                CheckId::KeepsAlive => super::judge_link::keeps_alive(plan, record, now_ms),
                CheckId::RefusesBadCertificates => {
                    super::judge_link::refuses_bad_certificates(plan, record)
                }
            };
            let mut evidence = evidence;
            if evidence.len() > EVIDENCE_CAP {
                let more = evidence.len() - EVIDENCE_CAP;
                evidence.truncate(EVIDENCE_CAP);
                evidence.push(Evidence {
                    at_ms: evidence.last().map_or(0, |e| e.at_ms),
                    row: None,
                    text: format!("and {more} more like these"),
                });
            }
            CheckResult {
                check,
                level,
                verdict,
                evidence,
                summary,
            }
        })
        .collect()
}

type Judged = (Verdict, String, Vec<Evidence>);

fn failures_or_pass(failures: &[Evidence], pass: &str, fail: &str) -> Judged {
    if failures.is_empty() {
        (Verdict::Pass, pass.to_owned(), Vec::new())
    } else {
        (
            Verdict::Fail,
            format!("{} {fail}", failures.len()),
            failures.to_vec(),
        )
    }
}

fn connects(record: &Record) -> Judged {
    let mut connects = 0;
    let mut bad = Vec::new();
    for seen in &record.seen {
        if let Seen::Connect { at_ms, signed, .. } = seen {
            connects += 1;
            if let Err(why) = signed {
                bad.push(Evidence {
                    at_ms: *at_ms,
                    row: None,
                    text: format!(
                        "a CONNECT was refused with CONNACK 5: {why}; expected a signature made with the device's secret (and a client certificate with --tls-client-ca)"
                    ),
                });
            }
        }
    }
    // Handshakes refused for the client certificate are CONNECTs that could not be made.
    let refused_tls = super::judge_link::refused_client_certificates(record);
    connects += refused_tls.len();
    bad.extend(refused_tls);
    if connects == 0 {
        return (
            Verdict::NotApplicable,
            "the device never connected".into(),
            Vec::new(),
        );
    }
    if bad.is_empty() {
        (
            Verdict::Pass,
            format!("{connects} CONNECT(s), each signed correctly"),
            Vec::new(),
        )
    } else {
        (
            Verdict::Fail,
            format!(
                "{} of {connects} CONNECTs were not signed correctly",
                bad.len()
            ),
            bad,
        )
    }
}

/// One element of a post: the device it reports for, and its time if it gives one.
#[derive(Clone, Debug)]
struct Element {
    device: DeviceId,
    time: Option<i64>,
    /// Its `measurepoints` as written.
    points: Map<String, Value>,
}

/// A post (batch, resume batch or single post), as the time-based checks need it.
#[derive(Clone, Debug)]
struct Post {
    at_ms: u64,
    conn: u64,
    row: Option<usize>,
    elements: Vec<Element>,
}

/// The requests read once, in order, following logins and connections as the hub did; with
/// the failures of the checks that look at one request at a time.
struct Posts {
    posts: Vec<Post>,
    /// Connections: (conn, connected at, disconnected at).
    connections: Vec<(u64, u64, Option<u64>)>,
    nonconforming: Vec<Evidence>,
    not_logged_in: Vec<Evidence>,
    repeated_ids: Vec<Evidence>,
    insane_times: Vec<Evidence>,
    resent_rejects: Vec<Evidence>,
}

impl Posts {
    fn read(plan: &Plan, registry: &Registry, record: &Record) -> Self {
        let mut actual = registry.clone();
        actual.logged_in.clear();
        let mut everyone = registry.clone();
        everyone.log_in_all();
        let mut out = Self {
            posts: Vec::new(),
            connections: Vec::new(),
            nonconforming: Vec::new(),
            not_logged_in: Vec::new(),
            repeated_ids: Vec::new(),
            insane_times: Vec::new(),
            resent_rejects: Vec::new(),
        };
        let mut ids: HashMap<(u64, String), (u64, Option<usize>)> = HashMap::new();
        let mut last_time: HashMap<DeviceId, i64> = HashMap::new();
        // Rejected requests by topic and canonical params: how often sent since rejected.
        let mut rejected: HashMap<(String, String), usize> = HashMap::new();
        let backfill_windows: Vec<(i64, i64)> = plan
            .schedule()
            .filter(|(_, phase, _)| phase.wants_backfill())
            .map(|(_, phase, start)| {
                let start = record.start_epoch_ms + millis(start);
                (start, start + millis(phase.length))
            })
            .collect();
        for seen in &record.seen {
            match seen {
                Seen::Connect {
                    at_ms,
                    conn,
                    signed,
                } if signed.is_ok() => {
                    out.connections.push((*conn, *at_ms, None));
                }
                Seen::Disconnect {
                    at_ms,
                    conn,
                    departed,
                } => {
                    // The platform logs a gateway's sub-devices out when it goes offline: its
                    // last connection ended (a session takeover logs nobody out).
                    if *departed {
                        actual.logged_in.clear();
                    }
                    if let Some(c) = out.connections.iter_mut().find(|c| c.0 == *conn) {
                        c.2.get_or_insert(*at_ms);
                    }
                }
                // Replies to commands are the command checks' business.
                Seen::Request(request) if commands::on_command_topic(&request.topic) => {}
                Seen::Request(request) => {
                    let place = |text: String| Evidence {
                        at_ms: request.at_ms,
                        row: request.row,
                        text,
                    };
                    let as_if_in = check(&everyone, &request.topic, &request.payload);
                    if !as_if_in.code.is_success() {
                        let why = as_if_in.reply_message().unwrap_or_default();
                        out.nonconforming.push(place(format!(
                            "{} would be answered {}: {why}; expected a valid request",
                            request.topic, as_if_in.code
                        )));
                    }
                    let report = check(&actual, &request.topic, &request.payload);
                    for finding in report.findings.iter().filter(|f| f.code == NOT_LOGGED_IN) {
                        out.not_logged_in.push(place(format!(
                            "{}: {}; expected a login (combine.login) first",
                            finding.path, finding.message
                        )));
                    }
                    actual.apply(report.effect.as_ref());
                    if let Some(id) = &report.id {
                        let key = (request.conn, id.0.clone());
                        match ids.get(&key) {
                            Some((first_at, first_row)) => {
                                let first = first_row
                                    .map_or(format!("at {first_at} ms"), |r| format!("row {r}"));
                                out.repeated_ids.push(place(format!(
                                    "id {} was already used on this connection ({first}); expected a fresh id per request",
                                    id.0
                                )));
                            }
                            None => {
                                ids.insert(key, (request.at_ms, request.row));
                            }
                        }
                    }
                    let body = serde_json::from_slice::<Value>(&request.payload).ok();
                    let key = (
                        request.topic.clone(),
                        body.as_ref()
                            .and_then(|b| b.get("params"))
                            .map_or(String::new(), canonical),
                    );
                    if let Some(sent) = rejected.get_mut(&key) {
                        *sent += 1;
                        if *sent > RESENDS_ALLOWED {
                            out.resent_rejects.push(place(format!(
                                "the same params were sent again on {} for the {} time after a 12xx reply; expected at most {RESENDS_ALLOWED} resends",
                                request.topic,
                                ordinal(*sent)
                            )));
                        }
                    }
                    if request
                        .answered
                        .is_some_and(|c| (1200..1300).contains(&c.0))
                    {
                        rejected.entry(key).or_insert(0);
                    }
                    let Some(method) = report.view.method.filter(|m| m.carries_points()) else {
                        continue;
                    };
                    let arrived = record.start_epoch_ms + to_i64(request.at_ms);
                    let mut post = Post {
                        at_ms: request.at_ms,
                        conn: request.conn,
                        row: request.row,
                        elements: Vec::new(),
                    };
                    for element in report.view.elements {
                        let device = element.device;
                        let time = element.time.map(|t| t.0);
                        if let Some(time) = time {
                            if time > arrived + AHEAD_LIMIT_MS {
                                out.insane_times.push(place(format!(
                                    "{device}'s element time {time} is {} ms ahead of the hub's clock; expected at most {AHEAD_LIMIT_MS} ms",
                                    time - arrived
                                )));
                            }
                            let in_backfill = backfill_windows
                                .iter()
                                .any(|(from, to)| (*from..*to).contains(&time));
                            if method != Method::ResumeBatch && !in_backfill {
                                let last = last_time.entry(device.clone()).or_insert(time);
                                if time < *last {
                                    out.insane_times.push(place(format!(
                                        "{device}'s element time {time} is {} ms before its previous one; expected times that never go back",
                                        *last - time
                                    )));
                                }
                                *last = (*last).max(time);
                            }
                        }
                        post.elements.push(Element {
                            device,
                            time,
                            points: element.points,
                        });
                    }
                    out.posts.push(post);
                }
                Seen::Connect { .. } | Seen::Attempt { .. } | Seen::Tls(_) | Seen::Link(_) => {}
            }
        }
        out
    }

    /// Every device named by a post.
    fn reporting_devices(&self) -> Vec<DeviceId> {
        let mut devices: Vec<DeviceId> = self
            .posts
            .iter()
            .flat_map(|p| p.elements.iter().map(|e| e.device.clone()))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        devices.sort_by_key(ToString::to_string);
        devices
    }
}

fn reports_every_period(plan: &Plan, posts: &Posts, now_ms: Option<u64>) -> Judged {
    let limit = millis(plan.period) * 3 / 2;
    let end = millis(plan.length()).min(now_ms.map_or(i64::MAX, to_i64));
    let normal: Vec<(i64, i64)> = plan
        .schedule()
        .filter(|(_, phase, _)| phase.is_normal())
        .map(|(_, phase, start)| (millis(start), millis(start + phase.length)))
        .collect();
    if normal.is_empty() {
        return (
            Verdict::NotApplicable,
            "the plan has no normal phase".into(),
            Vec::new(),
        );
    }
    let devices = posts.reporting_devices();
    if devices.is_empty() {
        return (
            Verdict::NotApplicable,
            "no device posted".into(),
            Vec::new(),
        );
    }
    let mut failures = Vec::new();
    for device in &devices {
        for &(conn, _, disconnected) in &posts.connections {
            let conn_end = disconnected.map_or(end, to_i64).min(end);
            let times: Vec<(i64, Option<usize>)> = posts
                .posts
                .iter()
                .filter(|p| p.conn == conn && p.elements.iter().any(|e| e.device == *device))
                .map(|p| (to_i64(p.at_ms), p.row))
                .collect();
            // Counted from its first post after the connect.
            let Some(&(first, _)) = times.first() else {
                continue;
            };
            for &(from, to) in &normal {
                let from = from.max(first);
                let to = to.min(conn_end).min(end);
                if from >= to {
                    continue;
                }
                let mut last = from;
                let inside = times.iter().filter(|(t, _)| (from..to).contains(t));
                for &(t, row) in inside.chain(std::iter::once(&(to, None))) {
                    if t - last > limit {
                        failures.push(Evidence {
                            at_ms: u64::try_from(t).unwrap_or(0),
                            row,
                            text: format!(
                                "{device} posted nothing for {} ms (from {last} to {t} ms on the plan clock); expected a post at least every {limit} ms (1.5 x periodS)",
                                t - last
                            ),
                        });
                    }
                    last = t;
                }
            }
        }
    }
    if failures.is_empty() {
        (
            Verdict::Pass,
            format!(
                "{} reporting device(s) posted at least every {limit} ms in normal phases",
                devices.len()
            ),
            Vec::new(),
        )
    } else {
        (
            Verdict::Fail,
            format!(
                "{} gaps longer than {limit} ms in normal phases",
                failures.len()
            ),
            failures,
        )
    }
}

fn backfills(plan: &Plan, record: &Record, posts: &Posts) -> Judged {
    let period = millis(plan.period);
    let end = millis(plan.length());
    let mut slots = 0;
    let mut missing = Vec::new();
    let mut applies = false;
    for (_, phase, start) in plan.schedule() {
        if !phase.wants_backfill() {
            continue;
        }
        applies = true;
        let (from, to) = (millis(start), millis(start + phase.length));
        // The devices that reported before the phase.
        let before: BTreeMap<String, DeviceId> = posts
            .posts
            .iter()
            .filter(|p| to_i64(p.at_ms) < from)
            .flat_map(|p| {
                p.elements
                    .iter()
                    .map(|e| (e.device.to_string(), e.device.clone()))
            })
            .collect();
        // What they posted after the phase, before the plan ended, by element time on the
        // plan clock.
        let after: Vec<(&DeviceId, i64)> = posts
            .posts
            .iter()
            .filter(|p| (to..end).contains(&to_i64(p.at_ms)))
            .flat_map(|p| p.elements.iter())
            .filter_map(|e| e.time.map(|t| (&e.device, record.plan_ms(t))))
            .collect();
        let mut slot = from;
        while slot < to {
            let slot_end = (slot + period).min(to);
            for device in before.values() {
                slots += 1;
                let filled = after
                    .iter()
                    .any(|(d, t)| *d == device && (slot..slot_end).contains(t));
                if !filled {
                    missing.push(Evidence {
                        at_ms: u64::try_from(slot).unwrap_or(0),
                        row: None,
                        text: format!(
                            "{device} never back-filled the slot {slot}..{slot_end} ms of phase \"{}\"; expected an element with a time in it, posted after the phase",
                            phase.name
                        ),
                    });
                }
            }
            slot = slot_end;
        }
    }
    if !applies {
        return (
            Verdict::NotApplicable,
            "the plan has no silent or outage phase".into(),
            Vec::new(),
        );
    }
    if slots == 0 {
        return (
            Verdict::NotApplicable,
            "no device reported before a silent or outage phase".into(),
            Vec::new(),
        );
    }
    if missing.is_empty() {
        (
            Verdict::Pass,
            format!("all {slots} device slots of the silent and outage phases were back-filled"),
            Vec::new(),
        )
    } else {
        (
            Verdict::Fail,
            format!(
                "{} of {slots} device slots were never back-filled",
                missing.len()
            ),
            missing,
        )
    }
}

fn backs_off(plan: &Plan, record: &Record) -> Judged {
    let down: Vec<(u64, u64, &str)> = plan
        .schedule()
        .filter(|(_, phase, _)| phase.network == Network::Down)
        .map(|(_, phase, start)| {
            (
                u64::try_from(millis(start)).unwrap_or(0),
                u64::try_from(millis(start + phase.length)).unwrap_or(0),
                phase.name.as_str(),
            )
        })
        .collect();
    if down.is_empty() {
        return (
            Verdict::NotApplicable,
            "the plan has no outage".into(),
            Vec::new(),
        );
    }
    let mut failures = Vec::new();
    let mut total = 0;
    for (from, to, name) in down {
        let attempts: Vec<u64> = record
            .seen
            .iter()
            .filter_map(|s| match s {
                Seen::Attempt { at_ms } if (from..to).contains(at_ms) => Some(*at_ms),
                _ => None,
            })
            .collect();
        total += attempts.len();
        if let (Some(first), Some(last), n @ 2..) =
            (attempts.first(), attempts.last(), attempts.len())
        {
            let mean = (last - first) / (n as u64 - 1);
            if u128::from(mean) < BACKOFF_MIN.as_millis() {
                failures.push(Evidence {
                    at_ms: *first,
                    row: None,
                    text: format!(
                        "{n} connection attempts in phase \"{name}\", {mean} ms apart on average; expected at least {} ms",
                        BACKOFF_MIN.as_millis()
                    ),
                });
            }
        }
    }
    if failures.is_empty() {
        (
            Verdict::Pass,
            format!(
                "{total} connection attempt(s) while the network was down, spaced at least 1 s apart on average"
            ),
            Vec::new(),
        )
    } else {
        (
            Verdict::Fail,
            "the device retried too fast while the network was down".into(),
            failures,
        )
    }
}

/// JSON with every object's keys sorted, so that equal params compare equal as text.
fn canonical(value: &Value) -> String {
    fn sorted(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                Value::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), sorted(&map[k])))
                        .collect(),
                )
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(value).to_string()
}

fn ordinal(n: usize) -> String {
    match n {
        1 => "1st".into(),
        2 => "2nd".into(),
        3 => "3rd".into(),
        n => format!("{n}th"),
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn to_i64(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

#[cfg(test)]
#[path = "judge_tests.rs"]
mod tests;
