//! The checks on commands: the device's replies paired with the commands the platform sent
//! (by topic + `_reply` and id, so that a reply on a wrong topic or with a wrong id is seen
//! too), read with [`read_reply`], and judged: `answers-commands`, `reply-codes`,
//! `applies-set`, `outputs-match`.

use serde_json::Value;

use crate::model::{
    CodeMeaning, CommandKind, CommandView, DataType, Registry, ReplyFault, ReplyReading, Severity,
    read_reply, view,
};
use crate::protocol::{Method, ReplyCode, id_of, parse_topic, reply_topic};

use super::super::desk::SentCommand;
use super::super::plan::Plan;
use super::{Evidence, Judged, Posts, Record, Seen, Verdict, millis, to_i64};

/// A reply of the device to one of the platform's commands.
#[derive(Clone, Debug, PartialEq)]
pub struct CommandReply {
    /// Plan-clock ms when the proxy saw it.
    pub at_ms: u64,
    /// Its number among the device's requests (the timeline's `dut` rows).
    pub row: Option<usize>,
    pub topic: String,
    pub payload: Vec<u8>,
    /// Its code, meaning and findings, read against the command.
    pub reading: ReplyReading,
}

/// A command of the run, with the device's replies to it, first first.
#[derive(Clone, Debug, PartialEq)]
pub struct CommandExchange {
    pub command: SentCommand,
    pub replies: Vec<CommandReply>,
}

/// Where a command stands, for the window and the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommandStatus {
    /// Its time has not come.
    Waiting,
    /// Its time came while its target was offline: it goes out when the target is back.
    Held,
    /// Sent; no reply yet.
    Sent,
    /// Answered with this code (`None`: a reply without a readable code).
    Answered(Option<ReplyCode>),
    /// Sent, and no reply came within `commandTimeoutS`.
    NoReply,
    /// The plan ended before its target was back.
    Never,
}

impl CommandStatus {
    /// The status in a few words: `held`, `answered 200 (success)`...
    pub fn words(&self) -> String {
        match self {
            Self::Waiting => "waiting for its time".into(),
            Self::Held => "held: its target is offline".into(),
            Self::Sent => "sent, waiting for the reply".into(),
            Self::Answered(Some(code)) => {
                format!("answered {code} ({})", CodeMeaning::of(*code).words())
            }
            Self::Answered(None) => "answered without a readable code".into(),
            Self::NoReply => "no reply within commandTimeoutS".into(),
            Self::Never => "never delivered: its target did not come back".into(),
        }
    }
}

impl CommandExchange {
    /// Where it stands `now_ms` into the plan (`None`: the plan is over).
    pub fn status(&self, plan: &Plan, now_ms: Option<u64>) -> CommandStatus {
        let end = now_ms.unwrap_or_else(|| ms(plan.length()));
        match (self.command.delivered_ms, self.replies.first()) {
            (_, Some(reply)) => CommandStatus::Answered(reply.reading.code),
            (Some(sent), None) if sent + ms(plan.command_timeout) <= end => CommandStatus::NoReply,
            (Some(_), None) => CommandStatus::Sent,
            (None, None) if now_ms.is_none() => CommandStatus::Never,
            (None, None) if self.command.held => CommandStatus::Held,
            (None, None) => CommandStatus::Waiting,
        }
    }

    /// Whether it was answered as it should be: one reply, nothing wrong in it, with a code that
    /// fits the command.
    pub fn answered_well(&self) -> bool {
        match self.replies.as_slice() {
            [reply] => {
                reply.reading.is_clean()
                    && reply
                        .reading
                        .code
                        .is_some_and(|code| code_fits(code, self.command.invalid))
            }
            _ => false,
        }
    }

    /// The reply's findings, in the checker's words: `data.cpuLoad: is missing ... (error)`.
    pub fn findings(&self) -> Vec<String> {
        self.replies.first().map_or_else(Vec::new, |reply| {
            reply
                .reading
                .findings
                .iter()
                .map(|f| format!("{}: {} ({})", f.path, f.message, f.severity.name()))
                .collect()
        })
    }
}

/// Whether a device may answer `code`: 200 or its own code (2000 and above) to a valid command,
/// its own code to one invalid on purpose.
fn code_fits(code: ReplyCode, invalid: bool) -> bool {
    code.0 >= 2000 || (code == ReplyCode::SUCCESS && !invalid)
}

/// The command as the checker reads it (its kind and target), for reading its replies.
fn command_view(command: &SentCommand) -> Option<CommandView> {
    view(&command.topic, &command.payload).command
}

/// Whether a publish of the device is on a command topic: a reply to a command, or one on the
/// command topic itself. These are the command checks' business, not the hub's.
pub(super) fn on_command_topic(topic: &str) -> bool {
    parse_topic(topic).is_some_and(|t| t.method.is_command())
}

/// Every command of `record` with the device's replies to it, in the record's order. A
/// publish on a command topic pairs with the delivered command whose reply topic and id it
/// has; else with the one whose id it echoes (a reply on a wrong topic); else with the oldest
/// command on its topic not answered yet (a wrong id). Models come from `registry`.
pub fn pair_replies(registry: &Registry, record: &Record) -> Vec<CommandExchange> {
    let mut exchanges: Vec<CommandExchange> = record
        .commands
        .iter()
        .map(|command| CommandExchange {
            command: command.clone(),
            replies: Vec::new(),
        })
        .collect();
    let reply_topics: Vec<String> = record
        .commands
        .iter()
        .map(|c| reply_topic(&c.topic))
        .collect();
    let views: Vec<Option<CommandView>> = record.commands.iter().map(command_view).collect();
    for seen in &record.seen {
        let Seen::Request(request) = seen else {
            continue;
        };
        if !on_command_topic(&request.topic) {
            continue;
        }
        let echoed = serde_json::from_slice::<Value>(&request.payload)
            .ok()
            .and_then(|body| body.as_object().and_then(id_of));
        let sent_before =
            |c: &SentCommand| c.delivered_ms.is_some_and(|sent| sent <= request.at_ms);
        let by_id = |i: &usize| Some(&record.commands[*i].id) == echoed.as_ref();
        let candidates: Vec<usize> = (0..record.commands.len())
            .filter(|i| sent_before(&record.commands[*i]))
            .collect();
        let found = candidates
            .iter()
            .copied()
            .find(|i| reply_topics[*i] == request.topic && by_id(i))
            .or_else(|| candidates.iter().copied().find(by_id))
            .or_else(|| {
                candidates
                    .iter()
                    .copied()
                    .find(|i| reply_topics[*i] == request.topic && exchanges[*i].replies.is_empty())
            });
        let Some(i) = found else {
            continue;
        };
        let Some(command) = &views[i] else {
            continue;
        };
        let reading = read_reply(
            registry,
            command,
            Some(&record.commands[i].id),
            &request.topic,
            &request.payload,
        );
        exchanges[i].replies.push(CommandReply {
            at_ms: request.at_ms,
            row: request.row,
            topic: request.topic.clone(),
            payload: request.payload.clone(),
            reading,
        });
    }
    exchanges
}

/// The four command checks' verdicts.
pub(super) struct CommandChecks {
    pub answers: Judged,
    pub codes: Judged,
    pub applies: Judged,
    pub outputs: Judged,
}

/// What is judged of the commands: the plan, the replies, the posts, and how far the plan got.
struct Commands<'a> {
    plan: &'a Plan,
    registry: &'a Registry,
    record: &'a Record,
    exchanges: Vec<CommandExchange>,
    /// Plan-clock ms up to which the device had its chance: now, or the plan's end.
    end_ms: u64,
    /// Still running: what the device may yet do is pending.
    live: bool,
}

/// Judges the commands of `record` against `plan`, `now_ms` into it (`None`: the plan is over).
pub(super) fn judge_commands(
    plan: &Plan,
    registry: &Registry,
    record: &Record,
    posts: &Posts,
    now_ms: Option<u64>,
) -> CommandChecks {
    let commands = Commands {
        plan,
        registry,
        record,
        exchanges: pair_replies(registry, record),
        end_ms: now_ms.unwrap_or_else(|| ms(plan.length())),
        live: now_ms.is_some(),
    };
    CommandChecks {
        answers: commands.answers(),
        codes: commands.codes(),
        applies: commands.applies(posts),
        outputs: commands.outputs(),
    }
}

/// Failures, then notes, as a verdict: `fail` when anything failed; else `pending` when the
/// device may still do what is asked; else `n/a` when nothing was judged; else `pass`.
fn verdict(
    failures: Vec<Evidence>,
    notes: Vec<Evidence>,
    judged: usize,
    pending: bool,
    pass: String,
    fail: &str,
    none: &str,
) -> Judged {
    if !failures.is_empty() {
        let summary = format!("{} {fail}", failures.len());
        let mut evidence = failures;
        evidence.extend(notes);
        return (Verdict::Fail, summary, evidence);
    }
    if pending {
        return (
            Verdict::Pending,
            "waiting for the device: commands are still to be sent or answered".into(),
            notes,
        );
    }
    if judged == 0 {
        return (Verdict::NotApplicable, none.to_owned(), notes);
    }
    (Verdict::Pass, pass, notes)
}

impl Commands<'_> {
    /// `phases[0].commands[1] (set Power = 3.5 to invPk/inv01, id 700002)`.
    fn label(&self, command: &SentCommand) -> String {
        let asked = self
            .plan
            .phases
            .get(command.phase)
            .and_then(|p| p.commands.get(command.index))
            .map_or_else(|| command.topic.clone(), |c| c.describe());
        format!(
            "{} ({asked} to {}, id {})",
            command.place(),
            command.target,
            command.id
        )
    }

    /// Whether a command may still be sent or answered: the plan runs, and one has no reply.
    fn outstanding(&self) -> bool {
        self.live && self.exchanges.iter().any(|e| e.replies.is_empty())
    }

    /// The first reply of each delivered command that has one, with a readable code.
    fn answered(&self) -> impl Iterator<Item = (&SentCommand, &CommandReply, ReplyCode)> {
        self.exchanges.iter().filter_map(|e| {
            let reply = e.replies.first()?;
            Some((&e.command, reply, reply.reading.code?))
        })
    }

    fn answers(&self) -> Judged {
        let timeout = ms(self.plan.command_timeout);
        let seconds = self.plan.command_timeout.as_secs_f64();
        let (mut failures, mut notes) = (Vec::new(), Vec::new());
        let (mut judged, mut pending, mut as_string) = (0, false, 0);
        for exchange in &self.exchanges {
            let command = &exchange.command;
            let label = self.label(command);
            let reply_topic = reply_topic(&command.topic);
            let Some(sent) = command.delivered_ms else {
                if self.live {
                    pending = true;
                } else {
                    notes.push(Evidence {
                        at_ms: command.due_ms,
                        row: None,
                        text: format!(
                            "{label} was never delivered: {} was offline from its time to the plan's end; it counts for no check",
                            command.target
                        ),
                    });
                }
                continue;
            };
            let Some(first) = exchange.replies.first() else {
                if sent + timeout <= self.end_ms {
                    judged += 1;
                    failures.push(Evidence {
                        at_ms: sent + timeout,
                        row: None,
                        text: format!(
                            "{label}, sent at {:.1} s, got no reply within {seconds} s; expected one reply on {reply_topic}",
                            secs(sent)
                        ),
                    });
                } else if self.live {
                    pending = true;
                } else {
                    notes.push(Evidence {
                        at_ms: sent,
                        row: None,
                        text: format!(
                            "{label} was sent {:.1} s before the plan ended, less than commandTimeoutS ({seconds} s), and got no reply; not judged",
                            secs(self.end_ms.saturating_sub(sent))
                        ),
                    });
                }
                continue;
            };
            judged += 1;
            let at = |reply: &CommandReply, text: String| Evidence {
                at_ms: reply.at_ms,
                row: reply.row,
                text,
            };
            let waited = first.at_ms.saturating_sub(sent);
            if waited > timeout {
                failures.push(at(
                    first,
                    format!(
                        "{label} was answered {waited} ms after it was sent; expected a reply within commandTimeoutS ({seconds} s)"
                    ),
                ));
            }
            for finding in &first.reading.findings {
                match finding.fault {
                    ReplyFault::WrongTopic | ReplyFault::IdNotEchoed | ReplyFault::Unreadable => {
                        failures.push(at(
                            first,
                            format!(
                                "the reply to {label}: {}: {}; expected a reply on {reply_topic} echoing id {} with an integer code",
                                finding.path, finding.message, command.id
                            ),
                        ));
                    }
                    ReplyFault::CodeAsString => {
                        as_string += 1;
                        notes.push(at(
                            first,
                            format!(
                                "the reply to {label}: code {}: it passes, read as a number, as the platform reads it",
                                finding.message
                            ),
                        ));
                    }
                    ReplyFault::DataMismatch => {}
                }
            }
            if let [_, again, ..] = exchange.replies.as_slice() {
                failures.push(at(
                    again,
                    format!(
                        "{label} was answered {} times; expected exactly one reply",
                        exchange.replies.len()
                    ),
                ));
            }
        }
        let mut pass = format!(
            "{judged} command(s) answered once each within {seconds} s, on the reply topic with their id"
        );
        if as_string > 0 {
            pass.push_str(&format!(" ({as_string} with the code as a string, noted)"));
        }
        verdict(
            failures,
            notes,
            judged,
            pending,
            pass,
            "commands were not answered as the protocol asks",
            "no command was delivered (or none had its reply due before the plan ended)",
        )
    }

    fn codes(&self) -> Judged {
        let mut failures = Vec::new();
        let mut judged = 0;
        for (command, reply, code) in self.answered() {
            judged += 1;
            let meaning = CodeMeaning::of(code);
            if !code_fits(code, command.invalid) {
                let expected = if command.invalid {
                    "expected the device's own error, 2000 or above, for a command it cannot obey"
                } else {
                    "expected 200, or the device's own code, 2000 or above"
                };
                failures.push(Evidence {
                    at_ms: reply.at_ms,
                    row: reply.row,
                    text: format!(
                        "{} was answered {code} ({}); {expected}",
                        self.label(command),
                        meaning.words()
                    ),
                });
            }
        }
        verdict(
            failures,
            Vec::new(),
            judged,
            judged == 0 && self.outstanding(),
            format!(
                "{judged} command(s) answered with 200 or the device's own codes, as fits each"
            ),
            "replies carried a code a device should not send for their command",
            "no command was answered",
        )
    }

    fn applies(&self, posts: &Posts) -> Judged {
        let window = ms(self.plan.period) * 2 + 1_000;
        let (mut failures, mut notes) = (Vec::new(), Vec::new());
        let (mut judged, mut pending) = (0, false);
        let start = self.record.start_epoch_ms;
        for (command, reply, code) in self.answered() {
            if code != ReplyCode::SUCCESS || command.invalid {
                continue;
            }
            let Some(CommandKind::Set(points)) = command_view(command).map(|v| v.kind) else {
                continue;
            };
            let replied = start + to_i64(reply.at_ms);
            let label = self.label(command);
            for (point, value) in &points {
                let data_type = self
                    .registry
                    .model_of(&command.target.product_key)
                    .and_then(|m| m.point(point))
                    .map(|p| &p.data_type);
                // The first post carrying the point for the target, timed after the reply.
                let first = posts
                    .posts
                    .iter()
                    .filter(|p| p.at_ms >= reply.at_ms)
                    .find_map(|p| {
                        let arrived = start + to_i64(p.at_ms);
                        p.elements
                            .iter()
                            .filter(|e| e.device == command.target)
                            .filter(|e| e.time.unwrap_or(arrived) > replied)
                            .find_map(|e| e.points.get(point))
                            .map(|posted| (p, posted))
                    });
                let Some((post, posted)) = first else {
                    if reply.at_ms + window <= self.end_ms {
                        judged += 1;
                        failures.push(Evidence {
                            at_ms: reply.at_ms + window,
                            row: reply.row,
                            text: format!(
                                "after {label} was answered 200, {} posted no {point} timed after the reply within {window} ms; expected a post holding {value}",
                                command.target
                            ),
                        });
                    } else if self.live {
                        pending = true;
                    } else {
                        notes.push(Evidence {
                            at_ms: reply.at_ms,
                            row: reply.row,
                            text: format!(
                                "the plan ended less than {window} ms after {label} was answered 200, before {} posted {point}; not judged",
                                command.target
                            ),
                        });
                    }
                    continue;
                };
                judged += 1;
                let evidence = |text: String| Evidence {
                    at_ms: post.at_ms,
                    row: post.row,
                    text,
                };
                let after = post.at_ms - reply.at_ms;
                if after > window {
                    failures.push(evidence(format!(
                        "{}'s first post of {point} after {label} was answered came {after} ms after the reply; expected it within 2 x periodS + 1 s ({window} ms)",
                        command.target
                    )));
                }
                let shown = bare(posted);
                if !same_value(data_type, value, shown) {
                    failures.push(evidence(format!(
                        "{}'s first post of {point} after {label} was answered 200 holds {shown}; expected the value set, {value}",
                        command.target
                    )));
                }
            }
        }
        let pending = pending || (judged == 0 && self.outstanding());
        verdict(
            failures,
            notes,
            judged,
            pending,
            format!("{judged} point(s) set showed the value set in the next post, in time"),
            "sets answered 200 did not show in the device's posts as they should",
            "no set was answered 200",
        )
    }

    fn outputs(&self) -> Judged {
        let mut failures = Vec::new();
        let mut judged = 0;
        for (command, reply, code) in self.answered() {
            let method = parse_topic(&command.topic).map(|t| t.method);
            if code != ReplyCode::SUCCESS
                || command.invalid
                || !matches!(method, Some(Method::GetPoints | Method::Invoke))
            {
                continue;
            }
            judged += 1;
            let expected = if method == Some(Method::GetPoints) {
                "every point asked for, typed per the model"
            } else {
                "every output of the service, typed per the model, and no other key"
            };
            for finding in &reply.reading.findings {
                if finding.fault == ReplyFault::DataMismatch && finding.severity == Severity::Error
                {
                    failures.push(Evidence {
                        at_ms: reply.at_ms,
                        row: reply.row,
                        text: format!(
                            "the reply to {}: {}: {}; expected {expected}",
                            self.label(command),
                            finding.path,
                            finding.message
                        ),
                    });
                }
            }
        }
        verdict(
            failures,
            Vec::new(),
            judged,
            judged == 0 && self.outstanding(),
            format!("{judged} get(s) and invoke(s) answered 200 carried what the model declares"),
            "replies to gets and invokes did not carry what the model declares",
            "no get or invoke was answered 200",
        )
    }
}

/// A posted value without its quality: a quality point posts `{value, quality}`.
fn bare(posted: &Value) -> &Value {
    match posted {
        Value::Object(map) if map.contains_key("quality") => map.get("value").unwrap_or(posted),
        other => other,
    }
}

/// Whether `posted` holds the value `set`, as the model's type compares them: a FLOAT as a
/// 32-bit float (the device may keep it so), numbers as numbers (a numeric string too), a BOOL
/// as 0/1 or false/true; anything else as JSON.
fn same_value(data_type: Option<&DataType>, set: &Value, posted: &Value) -> bool {
    let number = |v: &Value| match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    let truth = |v: &Value| match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_i64().and_then(|i| match i {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }),
        _ => None,
    };
    match data_type {
        Some(DataType::Float) => match (number(set), number(posted)) {
            // Narrowing to 32 bits is the point: the device may hold a FLOAT as one.
            (Some(a), Some(b)) => a as f32 == b as f32,
            _ => set == posted,
        },
        Some(DataType::Int | DataType::Double | DataType::Timestamp) => {
            match (number(set), number(posted)) {
                (Some(a), Some(b)) => a == b,
                _ => set == posted,
            }
        }
        Some(DataType::Bool) => match (truth(set), truth(posted)) {
            (Some(a), Some(b)) => a == b,
            _ => set == posted,
        },
        _ => set == posted,
    }
}

fn ms(d: std::time::Duration) -> u64 {
    u64::try_from(millis(d)).unwrap_or(0)
}

fn secs(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

#[cfg(test)]
#[path = "judge_commands_tests.rs"]
mod tests;
