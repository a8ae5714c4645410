//! How the suite goes on between its events: the next job, a case's logins and its send,
//! waiting out the connection, and what a request's end means for the case in progress.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::protocol::{DeviceId, EpochMs, Method, ReplyCode};
use crate::runner::diagnosis::Hint;
use crate::runner::{CaseResult, Outcome, Unloadable, login_message};
use crate::workspace::{Fixture, LoginState};

use super::{
    Case, Effect, FIRST_LOGIN_WAIT, Flight, Job, LOGIN_WAIT, LinkWait, LoginPass,
    NO_HUB_LOGIN_WAIT, OUTAGE_PATIENCE, OVER_LIMIT_HINT, Send, Side, Stage, Suite,
};

impl Suite {
    /// Says what is still unsaid at the end of a run: the Nagle hint of a short run, and a
    /// connection that is still lost.
    pub(super) fn end_of_run(&mut self) {
        if let Some(hint) = self.diagnosis.finish() {
            self.hint(&hint);
        }
        if let Some(outage) = self.outage.outage()
            && !self.gave_up
        {
            let line = format!(
                "the run ends without the broker, lost {:.1} s ago: {}",
                outage.since.elapsed().as_secs_f64(),
                outage.reason
            );
            self.say(line);
        }
    }

    pub(super) fn say(&mut self, line: String) {
        self.effects.push(Effect::News(line));
    }

    pub(super) fn hint(&mut self, hint: &Hint) {
        let line = hint.words(self.broker.as_ref());
        self.say(line);
    }

    /// Goes on as far as it can without an answer, and hands over what to do.
    pub(super) fn advance(&mut self, now: Instant) -> Vec<Effect> {
        while self.flight.is_none() && self.waiting.is_none() {
            if self.case.is_none() && !self.start_next_job(now) {
                break;
            }
            self.step_case(now);
        }
        std::mem::take(&mut self.effects)
    }

    /// Takes up the next job; false when there is none.
    pub(super) fn start_next_job(&mut self, now: Instant) -> bool {
        loop {
            let Some(job) = self.jobs.pop_front() else {
                return false;
            };
            match job {
                Job::EndOfRun { stopped } => {
                    self.end_of_run();
                    self.effects.push(Effect::Finished { stopped });
                }
                Job::Request(send) => {
                    self.send(Flight::Request, send, now);
                    return true;
                }
                Job::Logins(state) => {
                    self.case = Some(Case {
                        path: PathBuf::new(),
                        fixture: None,
                        notes: Vec::new(),
                        stage: Stage::Logins(self.login_pass(&state)),
                        sent_id: None,
                    });
                    return true;
                }
                Job::File(path, Err(error)) => {
                    let error = error.to_string();
                    self.effects
                        .push(Effect::Result(Err(Unloadable { path, error })));
                }
                Job::File(path, Ok(fixture)) => {
                    match fixture.with_vars(&path, &self.workspace.vars()) {
                        Ok(filled) => self.start_case(path, filled),
                        Err(e) => self.effects.push(Effect::Result(Err(Unloadable {
                            path,
                            error: e.to_string(),
                        }))),
                    }
                    if self.case.is_some() {
                        return true;
                    }
                }
                Job::Fixture(path, fixture) => {
                    match fixture.with_vars(&path, &self.workspace.vars()) {
                        Ok(filled) => self.start_case(path, filled),
                        Err(e) => {
                            let result = CaseResult {
                                name: fixture.name.clone(),
                                path,
                                expected: fixture.expect.code,
                                outcome: Outcome::NotSent {
                                    reason: e.to_string(),
                                },
                                passed: false,
                                notes: Vec::new(),
                                findings: Vec::new(),
                            };
                            self.effects.push(Effect::Result(Ok(result)));
                        }
                    }
                    if self.case.is_some() {
                        return true;
                    }
                }
            }
        }
    }

    pub(super) fn start_case(&mut self, path: PathBuf, fixture: Fixture) {
        if fixture.command().is_some() {
            if let Some(why) = &self.skip_commands {
                let result = CaseResult {
                    name: fixture.name.clone(),
                    path,
                    expected: fixture.expect.code,
                    outcome: Outcome::Skipped {
                        reason: why.clone(),
                    },
                    passed: false,
                    notes: Vec::new(),
                    findings: Vec::new(),
                };
                self.effects.push(Effect::Result(Ok(result)));
                return;
            }
            // A command goes from the platform side: the device logs its own sub-devices in.
            self.case = Some(Case {
                path,
                fixture: Some(fixture),
                notes: Vec::new(),
                stage: Stage::Send,
                sent_id: None,
            });
            return;
        }
        let pass = self.login_pass(&LoginState::of_fixture(&fixture));
        self.case = Some(Case {
            path,
            fixture: Some(fixture),
            notes: Vec::new(),
            stage: Stage::Logins(pass),
            sent_id: None,
        });
    }

    pub(super) fn login_pass(&self, state: &LoginState) -> LoginPass {
        let all = self.workspace.sub_devices();
        let wanted = match state {
            LoginState::All => all.clone(),
            LoginState::Only(list) => list.clone(),
        };
        LoginPass {
            wanted,
            todo: all.into(),
            now_in: Vec::new(),
            started: false,
        }
    }

    /// One step of the case in progress: a login, the fixture's send, or its end.
    pub(super) fn step_case(&mut self, now: Instant) {
        let link_away = !self.connected && !self.closed;
        let deadline = self.wait_deadline(now);
        let Some(case) = &mut self.case else { return };
        match &mut case.stage {
            Stage::Logins(pass) => {
                if !pass.started {
                    pass.started = true;
                    if link_away {
                        if now < deadline {
                            self.waiting = Some(LinkWait {
                                started: now,
                                deadline,
                                pending: None,
                            });
                        } else {
                            // The fixture's own send says it, with the whole wait.
                            case.stage = Stage::Send;
                        }
                        return;
                    }
                }
                self.next_login(now);
            }
            Stage::Send => self.send_fixture(now),
        }
    }

    /// Sends the next login or logout the case needs, or ends its logins.
    pub(super) fn next_login(&mut self, now: Instant) {
        let Some(Case {
            stage: Stage::Logins(pass),
            notes,
            ..
        }) = &mut self.case
        else {
            return;
        };
        while let Some(device) = pass.todo.pop_front() {
            let has_secret = self
                .registry
                .devices
                .get(&device)
                .is_some_and(|d| d.secret.is_some());
            let wanted = pass.wanted.contains(&device);
            let want = wanted && has_secret;
            if wanted && !has_secret && !self.unsigned_reported.contains(&device) {
                self.unsigned_reported.push(device.clone());
                notes.push(format!(
                    "{device} has no usable secret (see workspace.json), so it stays logged out"
                ));
            }
            let known = self.logged_in.as_ref().map(|list| list.contains(&device));
            if known == Some(want) {
                if want {
                    pass.now_in.push(device);
                }
                continue;
            }
            let message = login_message(
                &self.workspace.gateway(),
                &self.registry,
                &device,
                want,
                &self.ids,
            );
            let send = Send {
                side: Side::Gateway,
                topic: message.topic,
                payload: message.payload,
                msg_id: message.id,
                timeout: self.login_wait(),
            };
            self.send(Flight::Login { device, want }, send, now);
            return;
        }
        let now_in = std::mem::take(&mut pass.now_in);
        self.logged_in = Some(now_in);
        if let Some(case) = &mut self.case {
            case.stage = Stage::Send;
        }
        self.end_logins_alone();
    }

    /// A case of logins alone ends with its notes.
    pub(super) fn end_logins_alone(&mut self) {
        if self.case.as_ref().is_some_and(|c| c.fixture.is_none())
            && let Some(case) = self.case.take()
        {
            self.effects.push(Effect::LoggedIn { notes: case.notes });
        }
    }

    /// Sends the fixture of the case in progress, or ends it unsent.
    pub(super) fn send_fixture(&mut self, now: Instant) {
        let Some(fixture) = self.case.as_ref().and_then(|c| c.fixture.as_ref()) else {
            self.end_logins_alone();
            return;
        };
        let message = fixture.resolve(
            &self.workspace.gateway(),
            &self.registry,
            EpochMs::now(),
            &self.ids,
        );
        let timeout = self
            .timeout_override
            .unwrap_or(Duration::from_millis(fixture.expect.wait_ms()));
        let refusal = message.oversize_refusal(
            self.registry.max_payload,
            fixture.sends_over_limit(),
            OVER_LIMIT_HINT,
        );
        let side = if fixture.command().is_some() {
            Side::Platform
        } else {
            Side::Gateway
        };
        let msg_id = message.id.clone();
        // A command is checked before it goes out, as the platform would; one the model does
        // not allow is still sent (a fixture may test how the device refuses it), and says why.
        let unfit: Vec<String> = if side == Side::Platform {
            crate::model::check(&self.registry, &message.topic, &message.payload)
                .findings
                .iter()
                .filter(|f| f.severity == crate::model::Severity::Error)
                .map(|f| {
                    format!(
                        "the command itself: {}: {} ({}); sent as it is",
                        f.path, f.message, f.code
                    )
                })
                .collect()
        } else {
            Vec::new()
        };
        if let Some(case) = &mut self.case {
            case.sent_id = msg_id;
            case.notes.extend(unfit);
        }
        match refusal {
            Some(reason) => self.end_case(Outcome::NotSent { reason }, &[]),
            None => self.send(
                Flight::Fixture,
                Send {
                    side,
                    topic: message.topic,
                    payload: message.payload,
                    msg_id: message.id,
                    timeout,
                },
                now,
            ),
        }
    }

    /// Hands `send` to the driver, or waits for the connection first; once the run has
    /// stopped waiting for it, the send is lost at once.
    pub(super) fn send(&mut self, flight: Flight, send: Send, now: Instant) {
        if !self.connected && !self.closed {
            let deadline = self.wait_deadline(now);
            if now < deadline {
                self.waiting = Some(LinkWait {
                    started: now,
                    deadline,
                    pending: Some((flight, send)),
                });
                return;
            }
        }
        self.go(flight, send);
    }

    /// Publishes, or reports the send lost when the connection is away.
    pub(super) fn go(&mut self, flight: Flight, send: Send) {
        if !self.connected {
            let waited = std::mem::take(&mut self.link_wait);
            let reason = if self.closed {
                "the session has ended".to_owned()
            } else {
                self.not_connected(waited)
            };
            self.finish_flight(flight, Outcome::Lost { reason }, Vec::new(), false);
            return;
        }
        self.link_wait = Duration::ZERO;
        self.flight = Some(flight);
        self.effects.push(Effect::Send(send));
    }

    /// How long to wait for the connection: no later than [`OUTAGE_PATIENCE`] into the outage.
    pub(super) fn wait_deadline(&self, now: Instant) -> Instant {
        self.outage
            .outage()
            .map_or(now, |o| o.since + OUTAGE_PATIENCE)
    }

    /// The wait for the connection is over, one way or the other: the send that waited goes
    /// out or is lost; logins that waited start (or are skipped when the link is still away).
    pub(super) fn resume(&mut self, pending: Option<(Flight, Send)>) {
        match pending {
            Some((flight, send)) => self.go(flight, send),
            None => {
                if !self.connected
                    && let Some(case) = &mut self.case
                {
                    case.stage = Stage::Send;
                }
            }
        }
    }

    /// Why a request could not go out: the connection is lost, after `waited` of waiting.
    pub(super) fn not_connected(&self, waited: Duration) -> String {
        if waited.as_millis() == 0 && self.gave_up {
            format!(
                "not connected to the broker (not waited: the run stopped waiting for it after {} s)",
                OUTAGE_PATIENCE.as_secs()
            )
        } else {
            format!(
                "not connected to the broker (waited {} ms for it to come back)",
                waited.as_millis()
            )
        }
    }

    /// How long a login waits for its reply: less while no hub has ever answered.
    pub(super) fn login_wait(&self) -> Duration {
        if self.diagnosis.no_hub() {
            NO_HUB_LOGIN_WAIT
        } else if self.diagnosis.hub_seen() {
            LOGIN_WAIT
        } else {
            FIRST_LOGIN_WAIT
        }
    }

    /// A request of the suite ended: what it means for the case in progress.
    pub(super) fn finish_flight(
        &mut self,
        flight: Flight,
        outcome: Outcome,
        reply: Vec<u8>,
        published: bool,
    ) {
        // A command is answered by the device, not the hub: its round trip (a device without
        // TCP_NODELAY, as the Python SDK's paho, adds 40 ms) and its silence say nothing of the
        // broker or the hub.
        let by_device = matches!(flight, Flight::Fixture)
            && self
                .case
                .as_ref()
                .and_then(|case| case.fixture.as_ref())
                .is_some_and(|fixture| fixture.command().is_some());
        let hint = match &outcome {
            _ if by_device => None,
            Outcome::Replied { rtt, .. } => self.diagnosis.replied(*rtt),
            Outcome::NoReply { .. } => self.diagnosis.unanswered(),
            _ => None,
        };
        if let Some(hint) = hint {
            self.hint(&hint);
        }
        // A request that never went out has no traffic to end.
        if published {
            self.effects.push(Effect::Ended {
                outcome: outcome.clone(),
                reply: reply.clone(),
            });
        }
        match flight {
            Flight::Request => self.effects.push(Effect::Answered(outcome)),
            Flight::Fixture => self.end_case(outcome, &reply),
            Flight::Login { device, want } => self.login_ended(device, want, outcome),
        }
    }

    /// A login or logout of the case in progress ended.
    pub(super) fn login_ended(&mut self, device: DeviceId, want: bool, outcome: Outcome) {
        let hub_seen = self.diagnosis.hub_seen();
        let connected = self.connected;
        let Some(Case {
            stage: Stage::Logins(pass),
            notes,
            ..
        }) = &mut self.case
        else {
            return;
        };
        match outcome {
            Outcome::Replied { code, .. } if code.is_success() => {
                if want {
                    pass.now_in.push(device);
                }
            }
            Outcome::Lost { .. } if !connected => {
                // The outage is said once; after it the hub may have forgotten every login.
                self.logged_in = None;
                if let Some(case) = &mut self.case {
                    case.stage = Stage::Send;
                }
                self.end_logins_alone();
            }
            Outcome::NoReply { .. } if !hub_seen => {
                // No hub has answered anything: said once, not per device.
            }
            other => {
                let verb = if want { "log in" } else { "log out" };
                let why = match other {
                    Outcome::Replied { code, message, .. } => {
                        format!("{code} {}", message.unwrap_or_default())
                    }
                    other => other.describe(),
                };
                notes.push(format!("could not {verb} {device}: {why}"));
                // Unknown state: ask again next time.
            }
        }
    }

    /// The fixture of the case in progress ended with `outcome` (and `reply`, the reply's
    /// payload, empty without one): its result. A command's reply is read as the platform
    /// reads it: a finding in it fails the fixture even when the code matches.
    pub(super) fn end_case(&mut self, outcome: Outcome, reply: &[u8]) {
        let Some(case) = self.case.take() else { return };
        let Some(fixture) = case.fixture else { return };
        if matches!(fixture.method(), Some(Method::Login | Method::Logout)) {
            // The fixture itself changed who is logged in: ask again before the next one.
            self.logged_in = None;
        }
        let mut notes = case.notes;
        notes.append(&mut self.refused);
        let mut findings = Vec::new();
        if let (Some(command), Outcome::Replied { .. }) = (fixture.command(), &outcome) {
            let read = crate::runner::command::judge_reply(
                &self.registry,
                command,
                case.sent_id.as_ref(),
                self.reply_topic.take().as_deref(),
                reply,
                fixture.expect.data.as_ref(),
            );
            findings = read.errors;
            notes.extend(read.warnings);
        }
        let passed =
            judge(&outcome, fixture.expect.no_reply, fixture.expect.code) && findings.is_empty();
        self.effects.push(Effect::Result(Ok(CaseResult {
            name: fixture.name,
            path: case.path,
            expected: fixture.expect.code,
            outcome,
            passed,
            notes,
            findings,
        })));
    }
}

/// Whether `outcome` is what a fixture expecting `code` (or silence) asked for.
fn judge(outcome: &Outcome, no_reply: bool, code: Option<ReplyCode>) -> bool {
    match (outcome, no_reply, code) {
        (Outcome::NoReply { .. }, true, _) => true,
        (Outcome::Replied { code, .. }, false, Some(expected)) => *code == expected,
        _ => false,
    }
}
