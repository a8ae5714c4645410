//! The suite's state machine, fed scripted events: no broker, no session, no clock but the one
//! the test moves.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Effect, OUTAGE_PATIENCE, Send, Suite};
use crate::protocol::{DeviceId, ReplyCode};
use crate::runner::{Outcome, SuiteResult};
use crate::workspace::{FileError, Fixture, IdSource, LoginState, Workspace};

fn sample() -> Arc<Workspace> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    Arc::new(Workspace::load(&root).expect("the sample workspace loads"))
}

/// A fixture that logs in `login` and posts for inv01, expecting `code`.
fn post(name: &str, login: &[&str], code: i64) -> Fixture {
    let value = serde_json::json!({
        "name": name,
        "login": login,
        "request": {"version": "1.0", "method": "thing.measurepoint.post.batch",
                    "params": [{"productKey": "invPk", "deviceKey": "inv01",
                                "measurepoints": {"temp": 21.5}}]},
        "expect": {"code": code, "withinMs": 1000}
    });
    Fixture::from_value(Path::new("messages/post.json"), value).expect("a fixture")
}

fn replied(code: i64) -> Outcome {
    Outcome::Replied {
        code: ReplyCode(code),
        message: None,
        rtt: Duration::from_micros(400),
    }
}

fn sends(effects: &[Effect]) -> Vec<&Send> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send(send) => Some(send),
            _ => None,
        })
        .collect()
}

fn results(effects: &[Effect]) -> Vec<&SuiteResult> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Result(result) => Some(result),
            _ => None,
        })
        .collect()
}

fn news(effects: &[Effect]) -> Vec<&str> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::News(line) => Some(line.as_str()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_fixture_logs_in_what_it_names_then_sends_and_is_judged_by_the_reply() {
    let now = Instant::now();
    let mut suite = Suite::new(sample(), IdSource::starting_at(1));
    let effects = suite.run_fixture(Path::new("a.json"), post("a", &["invPk/inv01"], 200), now);
    // Nothing is known of the hub's logins: inv01 is logged in, the others logged out.
    let first = sends(&effects);
    assert_eq!(first.len(), 1, "one request at a time: {effects:?}");
    assert!(
        first[0].topic.ends_with("combine/login"),
        "{}",
        first[0].topic
    );
    assert!(String::from_utf8_lossy(&first[0].payload).contains("inv01"));
    let mut logouts = 0;
    let mut effects = suite.ended(replied(200), Vec::new(), now);
    loop {
        let out = sends(&effects);
        assert_eq!(out.len(), 1, "{effects:?}");
        if out[0].topic.ends_with("combine/logout") {
            logouts += 1;
            effects = suite.ended(replied(200), Vec::new(), now);
            continue;
        }
        assert!(
            out[0].topic.ends_with("measurepoint/post/batch"),
            "{}",
            out[0].topic
        );
        assert_eq!(
            out[0].timeout,
            Duration::from_millis(1000),
            "the fixture's own wait"
        );
        break;
    }
    assert_eq!(logouts, 3, "inv02, meter01 and meter02");
    let effects = suite.ended(replied(200), b"{}".to_vec(), now);
    let [Ok(result)] = results(&effects)[..] else {
        panic!("one result: {effects:?}");
    };
    assert!(result.passed, "{result:?}");
    assert!(!suite.busy());
    // The logins are known now: the same fixture again sends only its post.
    let again = suite.run_fixture(Path::new("a.json"), post("a", &["invPk/inv01"], 1204), now);
    let out = sends(&again);
    assert!(
        out[0].topic.ends_with("measurepoint/post/batch"),
        "{again:?}"
    );
    let effects = suite.ended(replied(200), Vec::new(), now);
    let [Ok(result)] = results(&effects)[..] else {
        panic!("one result: {effects:?}");
    };
    assert!(!result.passed, "expected 1204, got 200");
}

#[test]
fn a_timeout_fails_a_fixture_that_expects_a_code_and_passes_one_that_expects_silence() {
    let now = Instant::now();
    let mut suite = Suite::new(sample(), IdSource::starting_at(1));
    let mut silent = post("silent", &[], 200);
    silent.expect.no_reply = true;
    silent.expect.code = None;
    let effects = suite.log_in(LoginState::Only(Vec::new()), now);
    // Logging everyone out from an unknown state: one logout per sub-device with a secret.
    let mut effects = effects;
    while let [send] = sends(&effects)[..] {
        assert!(send.topic.ends_with("combine/logout"));
        effects = suite.ended(replied(200), Vec::new(), now);
    }
    assert!(
        effects.iter().any(|e| matches!(e, Effect::LoggedIn { .. })),
        "{effects:?}"
    );
    let effects = suite.run_fixture(Path::new("s.json"), silent, now);
    assert_eq!(sends(&effects).len(), 1, "only the post: {effects:?}");
    let after = Duration::from_millis(1000);
    let effects = suite.ended(Outcome::NoReply { after }, Vec::new(), now);
    let [Ok(result)] = results(&effects)[..] else {
        panic!("{effects:?}");
    };
    assert!(result.passed);
    let effects = suite.run_fixture(Path::new("p.json"), post("p", &[], 200), now);
    assert_eq!(sends(&effects).len(), 1);
    let effects = suite.ended(Outcome::NoReply { after }, Vec::new(), now);
    let [Ok(result)] = results(&effects)[..] else {
        panic!("{effects:?}");
    };
    assert!(!result.passed);
    assert_eq!(
        result.failure_message(),
        "expected 200, got no reply within 1000 ms"
    );
}

#[test]
fn a_disconnect_mid_suite_waits_for_the_reconnect_and_logs_in_again() {
    let start = Instant::now();
    let mut suite = Suite::new(sample(), IdSource::starting_at(1));
    let files: Vec<(PathBuf, Result<Fixture, FileError>)> = vec![
        ("one.json".into(), Ok(post("one", &[], 200))),
        ("two.json".into(), Ok(post("two", &["invPk/inv01"], 200))),
    ];
    let mut effects = suite.run(files, start);
    // Fixture one: its logouts, then its post, answered.
    while let [send] = sends(&effects)[..] {
        let last = send.topic.ends_with("post/batch");
        effects = suite.ended(replied(200), Vec::new(), start);
        if last {
            break;
        }
    }
    assert_eq!(results(&effects).len(), 1, "{effects:?}");
    // Fixture two starts with its login; the connection drops while it is in flight.
    let [login] = sends(&effects)[..] else {
        panic!("{effects:?}")
    };
    assert!(login.topic.ends_with("combine/login"));
    let lost_at = start + Duration::from_millis(10);
    let effects = suite.disconnected("the broker reset the connection", lost_at);
    assert_eq!(
        news(&effects),
        [
            "lost the connection: the broker reset the connection; waiting up to 10 s for it to come back"
        ]
    );
    let effects = suite.ended(
        Outcome::Lost {
            reason: "the broker reset the connection".into(),
        },
        Vec::new(),
        lost_at,
    );
    // The login was lost to the outage: the post waits for the connection, sending nothing.
    assert!(sends(&effects).is_empty(), "{effects:?}");
    assert_eq!(suite.deadline(), Some(lost_at + OUTAGE_PATIENCE));
    let effects = suite.disconnected("connection refused", lost_at + Duration::from_secs(1));
    assert!(news(&effects).is_empty(), "a retry is the same outage");
    let back = lost_at + Duration::from_secs(2);
    let effects = suite.connected(back);
    assert_eq!(
        news(&effects),
        ["connected to the broker again after 2.0 s"]
    );
    let [batch] = sends(&effects)[..] else {
        panic!("the post goes out once connected: {effects:?}")
    };
    assert!(batch.topic.ends_with("post/batch"));
    let effects = suite.ended(replied(200), Vec::new(), back);
    assert_eq!(results(&effects).len(), 1);
    assert!(
        effects.contains(&Effect::Finished { stopped: 0 }),
        "{effects:?}"
    );
    // The hub may have forgotten every login: the next fixture logs in again.
    let effects = suite.run_fixture(Path::new("t.json"), post("t", &["invPk/inv01"], 200), back);
    let [again] = sends(&effects)[..] else {
        panic!("{effects:?}")
    };
    assert!(again.topic.ends_with("combine/login"), "{}", again.topic);
}

#[test]
fn an_outage_past_its_patience_fails_what_is_left_at_once_and_says_so_once() {
    let start = Instant::now();
    let mut suite = Suite::new(sample(), IdSource::starting_at(1));
    let effects = suite.disconnected("connection refused", start);
    assert_eq!(news(&effects).len(), 1);
    let files: Vec<(PathBuf, Result<Fixture, FileError>)> = vec![
        ("one.json".into(), Ok(post("one", &[], 200))),
        ("two.json".into(), Ok(post("two", &[], 200))),
    ];
    let effects = suite.run(files, start);
    assert!(
        sends(&effects).is_empty(),
        "waits for the link: {effects:?}"
    );
    // Ticks before the deadline change nothing.
    assert!(suite.tick(start + Duration::from_secs(3)).is_empty());
    let late = start + OUTAGE_PATIENCE;
    let effects = suite.tick(late);
    assert_eq!(
        news(&effects)[0],
        "still no connection after 10 s (connection refused); the remaining fixtures fail at once until it comes back"
    );
    let failed = results(&effects);
    assert_eq!(
        failed.len(),
        2,
        "both fail without waiting again: {effects:?}"
    );
    let Ok(first) = failed[0] else { panic!() };
    assert_eq!(
        first.outcome,
        Outcome::Lost {
            reason: "not connected to the broker (waited 10000 ms for it to come back)".into()
        }
    );
    let Ok(second) = failed[1] else { panic!() };
    assert_eq!(
        second.outcome,
        Outcome::Lost {
            reason: "not connected to the broker (not waited: the run stopped waiting for it after 10 s)".into()
        }
    );
    // Said once; a run that ends without the broker says nothing more of it.
    assert_eq!(news(&effects).len(), 1, "{effects:?}");
    assert!(effects.contains(&Effect::Finished { stopped: 0 }));
    assert!(!suite.busy());
}

#[test]
fn a_stop_drops_the_fixtures_not_started_and_counts_them() {
    let now = Instant::now();
    let mut suite = Suite::new(sample(), IdSource::starting_at(1));
    let mut effects = suite.log_in(LoginState::All, now);
    while let [_] = sends(&effects)[..] {
        effects = suite.ended(replied(200), Vec::new(), now);
    }
    let files: Vec<(PathBuf, Result<Fixture, FileError>)> = (0..4)
        .map(|i| (PathBuf::from(format!("{i}.json")), Ok(post("n", &[], 200))))
        .collect();
    let effects = suite.run(files, now);
    assert!(!sends(&effects).is_empty());
    let effects = suite.stop(now);
    assert!(
        effects.is_empty(),
        "the fixture in flight goes on: {effects:?}"
    );
    // The fixture in flight still ends with its result, then the run with what it dropped.
    let mut effects = suite.ended(replied(200), Vec::new(), now);
    while results(&effects).is_empty() {
        assert_eq!(sends(&effects).len(), 1, "{effects:?}");
        effects = suite.ended(replied(200), Vec::new(), now);
    }
    assert!(
        effects.contains(&Effect::Finished { stopped: 3 }),
        "{effects:?}"
    );
    assert!(!suite.busy());
}

#[test]
fn an_unloadable_file_is_a_failed_result_and_the_run_goes_on() {
    let now = Instant::now();
    let mut suite = Suite::new(sample(), IdSource::starting_at(1));
    let files: Vec<(PathBuf, Result<Fixture, FileError>)> = vec![
        (
            "bad.json".into(),
            Err(FileError::new(
                Path::new("bad.json"),
                "",
                "is not valid JSON",
            )),
        ),
        ("good.json".into(), Ok(post("good", &[], 200))),
    ];
    let effects = suite.run(files, now);
    let [Err(unloadable)] = results(&effects)[..] else {
        panic!("{effects:?}")
    };
    assert_eq!(unloadable.path, PathBuf::from("bad.json"));
    assert_eq!(unloadable.error, "bad.json: is not valid JSON");
    assert_eq!(
        sends(&effects).len(),
        1,
        "the next fixture starts: {effects:?}"
    );
}

#[test]
fn a_refused_subscription_is_a_note_of_the_next_result_and_the_session_closing_ends_the_flight() {
    let now = Instant::now();
    let mut suite = Suite::new(sample(), IdSource::starting_at(1));
    let _ = suite.log_in(LoginState::Only(vec![DeviceId::new("invPk", "inv01")]), now);
    let mut effects = suite.ended(replied(200), Vec::new(), now);
    while let [_] = sends(&effects)[..] {
        effects = suite.ended(replied(200), Vec::new(), now);
    }
    let effects = suite.run_fixture(Path::new("a.json"), post("a", &["invPk/inv01"], 200), now);
    assert_eq!(sends(&effects).len(), 1);
    suite.refused("the broker refused the subscription to x_reply".into());
    let effects = suite.closed(now);
    let [Ok(result)] = results(&effects)[..] else {
        panic!("{effects:?}")
    };
    assert_eq!(
        result.outcome,
        Outcome::Lost {
            reason: "the session has ended".into()
        }
    );
    assert_eq!(
        result.notes,
        ["the broker refused the subscription to x_reply"]
    );
    // Later work fails at once.
    let effects = suite.run_fixture(Path::new("b.json"), post("b", &[], 200), now);
    assert!(sends(&effects).is_empty());
    assert_eq!(results(&effects).len(), 1);
}

/// A command fixture for inv01, as `run` reads one from a file.
fn command(name: &str) -> Fixture {
    let value = serde_json::json!({
        "name": name,
        "command": {"device": "invPk/inv01", "set": {"Power": 3.5}},
        "expect": {"code": 200, "withinMs": 1000}
    });
    Fixture::from_value(Path::new("messages/commands/set.json"), value).expect("a fixture")
}

#[test]
fn a_device_answering_commands_slowly_or_not_at_all_says_nothing_of_the_broker_or_the_hub() {
    let now = Instant::now();
    let slow = Outcome::Replied {
        code: ReplyCode(200),
        message: None,
        rtt: Duration::from_millis(43),
    };
    // A device that never answers, before any reply at all.
    let mut suite = Suite::new(sample(), IdSource::starting_at(1));
    let mut said = Vec::new();
    for n in 0..3 {
        let _ = suite.run_fixture(Path::new("s.json"), command(&format!("s{n}")), now);
        let after = Duration::from_millis(1000);
        let effects = suite.ended(Outcome::NoReply { after }, Vec::new(), now);
        said.extend(news(&effects).into_iter().map(str::to_owned));
    }
    // Then it answers, as the Python SDK does: its paho leaves Nagle's algorithm on, so its
    // replies take 43 ms.
    for n in 0..5 {
        let effects = suite.run_fixture(Path::new("c.json"), command(&format!("c{n}")), now);
        assert_eq!(sends(&effects).len(), 1, "{effects:?}");
        let effects = suite.ended(slow.clone(), br#"{"id":"1","code":200}"#.to_vec(), now);
        said.extend(news(&effects).into_iter().map(str::to_owned));
    }
    said.extend(news(&suite.finish(now)).into_iter().map(str::to_owned));
    assert_eq!(said, Vec::<String>::new());
    // The same round trips of the hub's own replies are the broker's Nagle.
    let mut suite = Suite::new(sample(), IdSource::starting_at(1));
    let mut said = Vec::new();
    for _ in 0..5 {
        let send = Send {
            side: super::Side::Gateway,
            topic: "/sys/gwPk/gw01/thing/measurepoint/post".into(),
            payload: b"{}".to_vec(),
            msg_id: None,
            timeout: Duration::from_secs(1),
        };
        let _ = suite.request(send, now);
        let effects = suite.ended(slow.clone(), Vec::new(), now);
        said.extend(news(&effects).into_iter().map(str::to_owned));
    }
    assert!(
        said.iter().any(|line| line.contains("Nagle's algorithm")),
        "{said:?}"
    );
}
