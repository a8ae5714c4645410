//! The command checks on records made by hand: a device that obeys passes all four, and each
//! way of getting commands wrong fails exactly its check.

use std::path::Path;

use serde_json::{Value, json};

use super::super::super::checks::{CheckId, CheckResult, Verdict};
use super::super::{Record, Seen, SeenRequest, judge, judge_so_far};
use super::*;
use crate::workspace::{LoginState, Workspace};

const START: i64 = 1_700_000_000_000;

fn workspace() -> Workspace {
    Workspace::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures"))
        .expect("the sample workspace loads")
}

/// Ten seconds, a report every second, a reply due within 2 s; a set, a get, an invoke and an
/// invalid set, one a second from 1 s.
fn plan(ws: &Workspace) -> Plan {
    let text = br#"{"name": "commands", "device": "gwPk/gw01", "periodS": 1, "commandTimeoutS": 2,
        "phases": [{"name": "steady", "forS": 10, "commands": [
            {"atS": 1, "device": "invPk/{{inv1}}", "set": {"Power": 3.5}},
            {"atS": 2, "device": "gwPk/{{gw}}", "get": ["cpuLoad"]},
            {"atS": 3, "device": "invPk/inv01", "invoke": "setPowerLimit", "params": {"limit": 2.5, "mode": 1}},
            {"atS": 4, "device": "invPk/inv01", "set": {"Power": "hot"}, "invalid": true}]}]}"#;
    Plan::from_slice(Path::new("plans/commands.json"), text, ws).expect("a good plan")
}

/// What a device does wrong with commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flaw {
    None,
    IgnoresSubDevices,
    Answers500,
    NoApply,
    NoOutputs,
    WrongId,
    WrongTopic,
    CodeAsString,
    Late,
    Twice,
}

/// A device under test as the proxy would record it: it connects, logs inv01 in, posts every
/// second for inv01 and itself, and answers each command 20 ms after it is sent.
struct Run {
    ws: Workspace,
    plan: Plan,
    record: Record,
    rows: usize,
}

impl Run {
    fn new() -> Self {
        let ws = workspace();
        let plan = plan(&ws);
        let record = Record {
            start_epoch_ms: START,
            seen: Vec::new(),
            commands: SentCommand::all_of(&plan),
        };
        Self {
            ws,
            plan,
            record,
            rows: 0,
        }
    }

    fn publish(&mut self, at_ms: u64, topic: &str, body: &Value) {
        self.rows += 1;
        self.record.seen.push(Seen::Request(SeenRequest {
            at_ms,
            conn: 1,
            row: Some(self.rows),
            topic: topic.to_owned(),
            payload: body.to_string().into_bytes(),
            answered: None,
        }));
    }

    fn post(&mut self, at_ms: u64, power: f64) {
        let time = START + i64::try_from(at_ms).unwrap_or(0);
        let body = json!({"id": format!("p{at_ms}"), "version": "1.0",
            "method": "thing.measurepoint.post.batch",
            "params": [{"productKey": "invPk", "deviceKey": "inv01", "time": time,
                        "measurepoints": {"Power": {"value": power, "quality": 0}, "temp": 21.5}},
                       {"time": time, "measurepoints": {"cpuLoad": 1.5}}]});
        self.publish(at_ms, "/sys/gwPk/gw01/thing/measurepoint/post/batch", &body);
    }

    /// The device's reply to command `i`, sent at `sent`, with `flaw`.
    fn answer(&mut self, i: usize, flaw: Flaw) {
        let command = self.record.commands[i].clone();
        let sent = command.delivered_ms.unwrap_or(0);
        let sub = command.target.device_key.0 != "gw01";
        if flaw == Flaw::IgnoresSubDevices && sub {
            return;
        }
        let request: Value = serde_json::from_slice(&command.payload).expect("JSON");
        let (code, data) = if command.invalid {
            (json!(2001), json!({}))
        } else {
            match request["method"].as_str().unwrap_or_default() {
                "thing.service.measurepoint.get" => (json!(200), json!({"cpuLoad": 1.5})),
                "thing.service.setPowerLimit" => (json!(200), json!({"applied": 2.5})),
                _ => (json!(200), json!({})),
            }
        };
        let (code, data) = match flaw {
            Flaw::Answers500 => (json!(500), Value::Null),
            Flaw::CodeAsString => (json!(code.to_string()), data),
            Flaw::NoOutputs if code == json!(200) => (code, json!({})),
            _ => (code, data),
        };
        let id = if flaw == Flaw::WrongId && i == 1 {
            json!("not-the-id")
        } else {
            request["id"].clone()
        };
        let topic = if flaw == Flaw::WrongTopic && i == 1 {
            command.topic.clone()
        } else {
            format!("{}_reply", command.topic)
        };
        let delay = if flaw == Flaw::Late && i == 1 {
            2_500
        } else {
            20
        };
        let body = json!({"id": id, "code": code, "data": data});
        self.publish(sent + delay, &topic, &body);
        if flaw == Flaw::Twice && i == 1 {
            self.publish(sent + delay + 10, &topic, &body);
        }
    }

    /// The whole run: every command sent at its time and answered with `flaw`.
    fn with(flaw: Flaw) -> Self {
        let mut run = Self::new();
        run.record.seen.push(Seen::Connect {
            at_ms: 0,
            conn: 1,
            signed: Ok(()),
        });
        let registry = run.ws.registry(&LoginState::All);
        let login = crate::runner::login_message(
            &run.ws.gateway(),
            &registry,
            &crate::protocol::DeviceId::new("invPk", "inv01"),
            true,
            &crate::workspace::IdSource::from_clock(),
        );
        run.rows += 1;
        run.record.seen.push(Seen::Request(SeenRequest {
            at_ms: 5,
            conn: 1,
            row: Some(run.rows),
            topic: login.topic,
            payload: login.payload,
            answered: Some(ReplyCode(200)),
        }));
        for i in 0..run.record.commands.len() {
            let due = run.record.commands[i].due_ms;
            run.record.commands[i].delivered_ms = Some(due);
        }
        let mut power = 3.2;
        let mut answered = 0;
        for at in (500..10_000).step_by(1_000) {
            // Commands sent before this post are answered before it.
            while answered < run.record.commands.len() && run.record.commands[answered].due_ms < at
            {
                run.answer(answered, flaw);
                let set = answered == 0 && flaw != Flaw::NoApply && flaw != Flaw::Answers500;
                if set && flaw != Flaw::IgnoresSubDevices {
                    power = 3.5;
                }
                answered += 1;
            }
            run.post(at, power);
        }
        // Replies are recorded in the order seen.
        run.record.seen.sort_by_key(|s| match s {
            Seen::Request(r) => r.at_ms,
            _ => 0,
        });
        run
    }

    fn judge(&self) -> Vec<CheckResult> {
        judge(
            &self.plan,
            &self.ws.registry(&LoginState::Only(Vec::new())),
            &self.record,
        )
    }
}

/// The command checks' verdicts, by id.
fn verdicts(results: &[CheckResult]) -> Vec<(&'static str, Verdict)> {
    results
        .iter()
        .filter(|r| {
            matches!(
                r.check,
                CheckId::AnswersCommands
                    | CheckId::ReplyCodes
                    | CheckId::AppliesSet
                    | CheckId::OutputsMatch
            )
        })
        .map(|r| (r.check.id(), r.verdict))
        .collect()
}

fn result(results: &[CheckResult], check: CheckId) -> &CheckResult {
    results.iter().find(|r| r.check == check).expect("judged")
}

#[test]
fn a_device_that_obeys_passes_every_command_check_and_its_replies_are_not_requests() {
    let results = Run::with(Flaw::None).judge();
    let lines: Vec<String> = results.iter().map(CheckResult::line).collect();
    assert!(
        results.iter().all(|r| r.verdict != Verdict::Fail),
        "{lines:#?}"
    );
    assert!(
        verdicts(&results).iter().all(|(_, v)| *v == Verdict::Pass),
        "{lines:#?}"
    );
    let answers = result(&results, CheckId::AnswersCommands);
    assert_eq!(answers.level, crate::qualify::Level::Must);
    assert!(answers.summary.starts_with("4 command(s)"), "{lines:#?}");
    assert!(
        result(&results, CheckId::AppliesSet)
            .summary
            .starts_with("1 point(s)")
    );
}

#[test]
fn each_way_of_getting_commands_wrong_fails_exactly_its_check() {
    use Verdict::{Fail, NotApplicable as Na, Pass};
    let cases = [
        (
            Flaw::IgnoresSubDevices,
            [Fail, Pass, Na, Pass],
            "got no reply within 2 s",
        ),
        (
            Flaw::Answers500,
            [Pass, Fail, Na, Na],
            "answered 500 (the device's handler failed)",
        ),
        (
            Flaw::NoApply,
            [Pass, Pass, Fail, Pass],
            "holds 3.2; expected the value set, 3.5",
        ),
        (
            Flaw::NoOutputs,
            [Pass, Pass, Pass, Fail],
            "data.cpuLoad: is missing",
        ),
        (
            Flaw::WrongId,
            [Fail, Pass, Pass, Pass],
            "id: is \"not-the-id\"; expected the command's id",
        ),
        (
            Flaw::WrongTopic,
            [Fail, Pass, Pass, Pass],
            "expected /sys/gwPk/gw01/thing/service/measurepoint/get_reply",
        ),
        (
            Flaw::Late,
            [Fail, Pass, Pass, Pass],
            "answered 2500 ms after it was sent",
        ),
        (Flaw::Twice, [Fail, Pass, Pass, Pass], "answered 2 times"),
    ];
    for (flaw, expected, evidence) in cases {
        let results = Run::with(flaw).judge();
        let lines: Vec<String> = results.iter().map(CheckResult::line).collect();
        let ids = [
            "answers-commands",
            "reply-codes",
            "applies-set",
            "outputs-match",
        ];
        let wanted: Vec<(&str, Verdict)> = ids.into_iter().zip(expected).collect();
        assert_eq!(verdicts(&results), wanted, "{flaw:?}: {lines:#?}");
        let failed = results
            .iter()
            .find(|r| r.verdict == Fail)
            .expect("a failure");
        assert!(
            failed.evidence.iter().any(|e| e.text.contains(evidence)),
            "{flaw:?}: {:#?}",
            failed.evidence
        );
        assert!(
            failed
                .evidence
                .iter()
                .all(|e| e.text.contains("expected") || e.text.contains("not judged")),
            "{flaw:?}: each failure says what was expected: {:#?}",
            failed.evidence
        );
        // The nine others see nothing wrong: replies are not requests.
        assert_eq!(
            results.iter().filter(|r| r.verdict == Fail).count(),
            1,
            "{flaw:?}: {lines:#?}"
        );
    }
}

#[test]
fn a_code_sent_as_a_string_passes_and_is_noted() {
    let results = Run::with(Flaw::CodeAsString).judge();
    let answers = result(&results, CheckId::AnswersCommands);
    assert_eq!(answers.verdict, Verdict::Pass, "{answers:#?}");
    assert!(
        answers
            .summary
            .contains("4 with the code as a string, noted")
    );
    assert_eq!(answers.evidence.len(), 4);
    assert!(answers.evidence[0].text.contains("is the string \"200\""));
    assert_eq!(result(&results, CheckId::ReplyCodes).verdict, Verdict::Pass);
}

#[test]
fn a_command_never_delivered_counts_for_nothing_and_is_listed() {
    let mut run = Run::with(Flaw::None);
    // The gateway's get never went out (say, the device never came back).
    run.record.commands[1].delivered_ms = None;
    run.record.seen.retain(|s| match s {
        Seen::Request(r) => !r.topic.contains("measurepoint/get"),
        _ => true,
    });
    let results = run.judge();
    let answers = result(&results, CheckId::AnswersCommands);
    assert_eq!(answers.verdict, Verdict::Pass, "{answers:#?}");
    assert!(answers.summary.starts_with("3 command(s)"));
    assert!(
        answers.evidence[0].text.contains(
            "phases[0].commands[1] (get cpuLoad to gwPk/gw01, id 700002) was never delivered"
        ),
        "{answers:#?}"
    );
    // Nothing delivered at all: not applicable, with every command listed.
    for command in &mut run.record.commands {
        command.delivered_ms = None;
    }
    let results = run.judge();
    let answers = result(&results, CheckId::AnswersCommands);
    assert_eq!(answers.verdict, Verdict::NotApplicable);
    assert_eq!(answers.evidence.len(), 4);
    assert_eq!(
        verdicts(&results)[1..],
        [
            ("reply-codes", Verdict::NotApplicable),
            ("applies-set", Verdict::NotApplicable),
            ("outputs-match", Verdict::NotApplicable),
        ]
    );
}

#[test]
fn while_the_plan_runs_a_reply_not_due_yet_is_pending_not_failed() {
    let run = Run::with(Flaw::IgnoresSubDevices);
    let registry = run.ws.registry(&LoginState::Only(Vec::new()));
    // At 2.5 s: the set went out at 1 s, unanswered, its 2 s not over yet.
    let mut so_far = run.record.clone();
    for command in &mut so_far.commands {
        command.delivered_ms = command.delivered_ms.filter(|at| *at <= 2_500);
    }
    so_far.seen.retain(|s| match s {
        Seen::Request(r) => r.at_ms <= 2_500,
        _ => true,
    });
    let results = judge_so_far(&run.plan, &registry, &so_far, 2_500);
    assert_eq!(
        result(&results, CheckId::AnswersCommands).verdict,
        Verdict::Pending
    );
    // At 3.5 s its time is over: it fails already.
    let results = judge_so_far(&run.plan, &registry, &run.record, 3_500);
    assert_eq!(
        result(&results, CheckId::AnswersCommands).verdict,
        Verdict::Fail
    );
}

#[test]
fn replies_pair_with_their_commands_and_the_status_says_where_each_stands() {
    let run = Run::with(Flaw::WrongId);
    let registry = run.ws.registry(&LoginState::All);
    let exchanges = pair_replies(&registry, &run.record);
    assert_eq!(exchanges.len(), 4);
    assert!(exchanges.iter().all(|e| e.replies.len() == 1));
    // The wrong id pairs by its topic, the oldest unanswered command there.
    assert_eq!(
        exchanges[1].replies[0].reading.findings[0].fault,
        ReplyFault::IdNotEchoed
    );
    assert_eq!(
        exchanges[0].status(&run.plan, None),
        CommandStatus::Answered(Some(ReplyCode(200)))
    );
    assert_eq!(
        exchanges[3].status(&run.plan, None).words(),
        "answered 2001 (the device's own error)"
    );
    let mut held = exchanges[2].clone();
    held.replies.clear();
    held.command.delivered_ms = None;
    assert_eq!(held.status(&run.plan, Some(1_000)), CommandStatus::Waiting);
    assert_eq!(held.status(&run.plan, Some(3_500)), CommandStatus::Waiting);
    held.command.held = true;
    assert_eq!(held.status(&run.plan, Some(3_500)), CommandStatus::Held);
    assert_eq!(held.status(&run.plan, None), CommandStatus::Never);
    held.command.delivered_ms = Some(3_000);
    assert_eq!(held.status(&run.plan, Some(4_000)), CommandStatus::Sent);
    assert_eq!(held.status(&run.plan, Some(5_000)), CommandStatus::NoReply);
}

#[test]
fn a_float_set_is_compared_as_32_bits_and_numbers_as_numbers() {
    let float = DataType::Float;
    assert!(same_value(
        Some(&float),
        &json!(0.1),
        &json!(0.100_000_001_490_116_1)
    ));
    assert!(!same_value(Some(&float), &json!(0.1), &json!(0.2)));
    assert!(same_value(Some(&DataType::Int), &json!(3), &json!(3.0)));
    assert!(same_value(
        Some(&DataType::Double),
        &json!(2.5),
        &json!("2.5")
    ));
    assert!(same_value(Some(&DataType::Bool), &json!(true), &json!(1)));
    assert!(!same_value(Some(&DataType::Bool), &json!(false), &json!(1)));
    assert!(same_value(None, &json!("on"), &json!("on")));
    assert_eq!(bare(&json!({"value": 3.5, "quality": 0})), &json!(3.5));
}
