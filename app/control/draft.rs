//! The draft: the message being built (a batch, an event post or a command), its live check
//! against the models, the save form, and how its last send ended: a command's reply is read as
//! the platform reads it.

use std::time::Duration;

use crate::model::{CheckReport, CodeMeaning, PointRef, Registry, check, view};
use crate::protocol::{DeviceId, EpochMs, MsgId, ReplyCode};
use crate::runner::Outcome;
use crate::runner::command::judge_reply;
use crate::workspace::{
    Batch, Command, Doc, Draft, DraftMode, Expect, FileError, Fixture, IdSource, ResolvedMessage,
    Workspace,
};

use super::draft_samples::{starter_command, starter_event};
use super::notice::Notice;

pub use super::draft_samples::starter_batch;

/// How the last send from the builder ended.
#[derive(Clone, Debug, PartialEq)]
pub enum SendState {
    Waiting,
    Replied {
        code: ReplyCode,
        message: Option<String>,
        rtt: Duration,
    },
    NoReply(Duration),
    Lost(String),
    /// Refused before sending, with why (a command for a device that is offline says so).
    NotSent(String),
    /// A device replied to the builder's command.
    DeviceReplied(DeviceReply),
}

/// A device's reply to the builder's command, read as the platform reads it.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceReply {
    pub code: ReplyCode,
    /// What the code means from a device.
    pub meaning: CodeMeaning,
    pub message: Option<String>,
    pub rtt: Duration,
    /// The reply's `data` as compact JSON, when it holds something (a get's values, an
    /// invoke's outputs).
    pub data: Option<String>,
    /// What is wrong with the reply (id not echoed, data not matching the model...), each
    /// `place: what`.
    pub errors: Vec<String>,
    /// What is only noted (a code sent as a string).
    pub warnings: Vec<String>,
}

/// The draft and everything said about it.
pub struct DraftCtl {
    draft: Draft,
    /// The check of the draft at a revision.
    report: Option<(u64, CheckReport)>,
    /// The registry changed since the report was made.
    stale: bool,
    /// The draft's payload size as it would be sent, in bytes.
    bytes: usize,
    /// The topic the draft goes on, as of the last check.
    topic: String,
    /// Send the draft even when it is over the workspace's payload limit; expecting 1008 in the
    /// save form does too.
    pub send_oversize: bool,
    pub send_state: Option<SendState>,
    /// The save form: the fixture's name and expected code as typed.
    pub fixture_name: String,
    pub expect_code: String,
    /// The point a finding was clicked for: shown marked in the builder until the next edit.
    focus: Option<PointRef>,
    /// The builder still has to scroll to the focused point.
    scroll_to_focus: bool,
    ids: IdSource,
    /// The command sent last and the id its reply must echo, to read the reply against.
    sent_command: Option<(Command, Option<MsgId>)>,
    /// The drafts of the other modes, as they were left: switching back finds them.
    others: Vec<Draft>,
}

impl DraftCtl {
    /// A draft of `draft`, with the save form as the user left it.
    pub fn new(draft: Draft, fixture_name: String, expect_code: String) -> Self {
        Self {
            draft,
            report: None,
            stale: true,
            bytes: 0,
            topic: String::new(),
            send_oversize: false,
            send_state: None,
            fixture_name,
            expect_code,
            focus: None,
            scroll_to_focus: false,
            ids: IdSource::from_clock(),
            sent_command: None,
            others: Vec::new(),
        }
    }

    /// The message being built.
    pub fn draft(&self) -> &Draft {
        &self.draft
    }

    /// Replaces the draft (a new batch, an opened fixture).
    pub fn replace(&mut self, draft: Draft) {
        self.draft = draft;
        self.focus = None;
        // The new draft's revision may equal the old one's.
        self.stale = true;
    }

    /// A builder edit in place; returns whether anything changed.
    pub fn edit_batch(&mut self, edit: impl FnOnce(&mut Batch) -> bool) -> bool {
        self.edit(|doc| match doc {
            Doc::Batch(batch) => edit(batch),
            _ => false,
        })
    }

    /// A builder edit of the document in place, whatever the mode; returns whether anything
    /// changed.
    pub fn edit(&mut self, edit: impl FnOnce(&mut Doc) -> bool) -> bool {
        let changed = self.draft.edit(edit);
        if changed {
            self.focus = None;
        }
        changed
    }

    /// Another device for the event post or the command.
    pub fn set_device(&mut self, device: DeviceId) {
        self.draft.set_device(Some(device));
    }

    /// Replaces the draft with a first one of its mode (text the builder could not show).
    pub fn start_over(&mut self, ws: &Workspace, registry: &Registry) {
        self.replace(match self.draft.mode() {
            DraftMode::Batch => Draft::from_batch(starter_batch(Some(ws), registry)),
            DraftMode::Event => starter_event(ws, registry),
            DraftMode::Command => starter_command(ws, registry),
        });
    }

    /// Switches the builder to `mode`: to the draft that mode was left with, or to a first one.
    pub fn switch_mode(&mut self, mode: DraftMode, ws: &Workspace, registry: &Registry) {
        if self.draft.mode() == mode {
            return;
        }
        let next = match self.others.iter().position(|d| d.mode() == mode) {
            Some(at) => self.others.remove(at),
            None => match mode {
                DraftMode::Batch => Draft::from_batch(starter_batch(Some(ws), registry)),
                DraftMode::Event => starter_event(ws, registry),
                DraftMode::Command => starter_command(ws, registry),
            },
        };
        let left = std::mem::replace(&mut self.draft, next);
        self.others.push(left);
        self.focus = None;
        self.stale = true;
        self.send_state = None;
    }

    /// A JSON edit.
    pub fn set_text(&mut self, text: String) {
        self.draft.set_text(text);
        self.focus = None;
    }

    /// The check of the current draft, once [`DraftCtl::refresh`] has run.
    pub fn report(&self) -> Option<&CheckReport> {
        self.report.as_ref().map(|(_, report)| report)
    }

    /// The message ids of the window's requests, the draft's and the logins'.
    pub fn ids(&self) -> &IdSource {
        &self.ids
    }

    /// The payload's size as it would be sent.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The topic the draft goes on (an event's and a command's name their device), once
    /// [`DraftCtl::refresh`] has run.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// What the check knows changed: logins, models.
    pub fn registry_changed(&mut self) {
        self.stale = true;
    }

    /// Checks the draft again when it or the registry changed since the last check.
    pub fn refresh(&mut self, ws: &Workspace, registry: &Registry) {
        let fresh = self
            .report
            .as_ref()
            .is_some_and(|(rev, _)| *rev == self.draft.revision());
        if fresh && !self.stale {
            return;
        }
        let message = self.message(ws, registry);
        let report = check(registry, &message.topic, &message.payload);
        self.bytes = message.payload.len();
        self.topic = message.topic;
        self.report = Some((self.draft.revision(), report));
        self.stale = false;
    }

    /// The draft as it would be sent now, with a fresh id, times resolved and its `{{name}}`
    /// variables replaced from the workspace's environment (kept as written when one is
    /// unknown: [`DraftCtl::to_send`] refuses it, the check shows what the hub would say).
    pub fn message(&self, ws: &Workspace, registry: &Registry) -> ResolvedMessage {
        let fixture = self.fixture_with_vars(ws).unwrap_or_else(|_| {
            self.draft
                .to_fixture("draft", Expect::code(ReplyCode::SUCCESS))
        });
        fixture.resolve(&ws.gateway(), registry, EpochMs::now(), &self.ids)
    }

    /// The draft as a fixture with its variables replaced, or which one is unknown.
    fn fixture_with_vars(&self, ws: &Workspace) -> Result<Fixture, FileError> {
        let fixture = self
            .draft
            .to_fixture("draft", Expect::code(ReplyCode::SUCCESS));
        fixture.with_vars(std::path::Path::new("the builder's message"), &ws.vars())
    }

    /// The message to send and the device its row is for, or why it must not go out (which
    /// becomes the send state).
    pub fn to_send(
        &mut self,
        ws: &Workspace,
        registry: &Registry,
    ) -> Option<(ResolvedMessage, DeviceId)> {
        if let Err(unknown) = self.fixture_with_vars(ws) {
            self.send_state = Some(SendState::NotSent(unknown.to_string()));
            return None;
        }
        let message = self.message(ws, registry);
        let expects_too_large = self.expect_code.trim().parse() == Ok(ReplyCode::TOO_LARGE.0);
        if let Some(reason) = message.oversize_refusal(
            registry.max_payload,
            self.send_oversize || expects_too_large,
            "tick \"Send over the limit\" beside Send, or expect 1008 in the save form, to send it on purpose",
        ) {
            self.send_state = Some(SendState::NotSent(reason));
            return None;
        }
        let gateway = ws.gateway();
        let vars = ws.vars();
        let fill = |text: &str| vars.fill_str(text).unwrap_or_else(|_| text.to_owned());
        let named = match self.draft.mode() {
            DraftMode::Batch => self
                .draft
                .batch()
                .ok()
                .and_then(|batch| batch.entries.first())
                .and_then(|entry| entry.device.as_ref()),
            DraftMode::Event | DraftMode::Command => self.draft.device(),
        };
        let device = named
            .map(|d| DeviceId::new(fill(&d.product_key.0), fill(&d.device_key.0)))
            .unwrap_or(gateway);
        // A command's reply is read against the command as sent, variables replaced.
        self.sent_command = (self.draft.mode() == DraftMode::Command)
            .then(|| view(&message.topic, &message.payload).command)
            .flatten()
            .map(|command| {
                let command = Command {
                    device: command.target,
                    kind: command.kind,
                };
                (command, message.id.clone())
            });
        Some((message, device))
    }

    /// The builder's command ended with `outcome`; `reply` is the device's reply, which came on
    /// `topic`, read against the command as the platform reads it.
    pub fn command_ended(
        &mut self,
        outcome: Outcome,
        reply: &[u8],
        topic: Option<&str>,
        registry: &Registry,
    ) {
        let sent = self.sent_command.take();
        self.send_state = Some(match outcome {
            Outcome::Replied { code, message, rtt } => {
                let judged = sent
                    .map(|(command, id)| {
                        judge_reply(registry, &command, id.as_ref(), topic, reply, None)
                    })
                    .unwrap_or_default();
                let data = serde_json::from_slice::<serde_json::Value>(reply)
                    .ok()
                    .and_then(|body| body.get("data").cloned())
                    .filter(|data| {
                        !data.is_null() && data.as_object().is_none_or(|o| !o.is_empty())
                    })
                    .map(|data| data.to_string());
                SendState::DeviceReplied(DeviceReply {
                    code,
                    meaning: CodeMeaning::of(code),
                    message,
                    rtt,
                    data,
                    errors: judged.errors,
                    warnings: judged.warnings,
                })
            }
            Outcome::NoReply { after } => SendState::NoReply(after),
            Outcome::Lost { reason }
            | Outcome::NotSent { reason }
            | Outcome::Skipped { reason } => SendState::Lost(reason),
        });
    }

    /// The draft as a fixture, from the save form (a command fixture for a command, for
    /// `gateway` when it names no device); or why the form cannot be saved.
    pub fn fixture_to_save(
        &self,
        max_payload: usize,
        gateway: &DeviceId,
    ) -> Result<Fixture, Notice> {
        let name = self.fixture_name.trim();
        if name.is_empty() {
            return Err(Notice::error("give the fixture a name first"));
        }
        let expect = match self.expect_code.trim() {
            "" | "none" | "no reply" => Expect::code_or_silence(None),
            text => match text.parse::<i64>() {
                Ok(code) => Expect::code(ReplyCode(code)),
                Err(_) => {
                    return Err(Notice::error(format!(
                        "expected code \"{text}\" is not a number; write e.g. 200 or 1204"
                    )));
                }
            },
        };
        let mut fixture = self
            .draft
            .to_saved_fixture(name, expect, gateway)
            .map_err(|why| Notice::error(why.0))?;
        fixture.send_oversize = self.send_oversize && self.bytes > max_payload;
        Ok(fixture)
    }

    /// Opens `fixture` in the builder, with its name and expected code in the save form.
    pub fn open_fixture(&mut self, fixture: &Fixture) {
        self.replace(Draft::from_fixture(fixture));
        self.send_oversize = fixture.send_oversize;
        self.fixture_name = fixture.name.clone();
        self.expect_code = fixture
            .expect
            .code
            .map_or("no reply".into(), |c| c.0.to_string());
    }

    /// Marks `point` in the builder and scrolls to it once.
    pub fn focus(&mut self, point: PointRef) {
        self.focus = Some(point);
        self.scroll_to_focus = true;
    }

    /// The point marked in the builder.
    pub fn focused(&self) -> Option<&PointRef> {
        self.focus.as_ref()
    }

    /// True until the builder has scrolled the focused point into view.
    pub fn wants_scroll(&self) -> bool {
        self.scroll_to_focus && self.focus.is_some()
    }

    /// The builder has scrolled the focused point into view.
    pub fn scrolled(&mut self) {
        self.scroll_to_focus = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::testing::sample;
    use crate::workspace::{LoginState, PointEntry};
    use serde_json::json;

    #[test]
    fn an_opened_fixture_keeps_its_variables_and_sends_the_environments_values() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let lab = Workspace::load_env(&root, Some("lab")).expect("the lab environment loads");
        let registry = lab.registry(&LoginState::All);
        let path = root.join("messages/001-valid-two-inverters.json");
        let fixture = crate::runner::load_fixture(&path).expect("loads as written");
        let mut ctl = ctl_of(&lab, &registry);
        ctl.open_fixture(&fixture);
        assert!(
            ctl.draft().text().contains("{{inv1}}"),
            "the builder shows the name"
        );
        let saved = ctl
            .fixture_to_save(registry.max_payload, &lab.gateway())
            .expect("saves");
        assert!(saved.to_pretty().contains("\"deviceKey\": \"{{inv1}}\""));
        assert!(!saved.to_pretty().contains("inv-lab-1"), "never the value");

        let (message, device) = ctl.to_send(&lab, &registry).expect("sent");
        assert_eq!(device, DeviceId::new("invPk", "inv-lab-1"));
        assert_eq!(
            message.topic,
            "/sys/gwPk/gw-lab/thing/measurepoint/post/batch"
        );
        let sent = String::from_utf8_lossy(&message.payload).into_owned();
        assert!(sent.contains("inv-lab-1") && !sent.contains("{{"), "{sent}");
        ctl.refresh(&lab, &registry);
        assert_eq!(ctl.report().map(|r| r.code), Some(ReplyCode::SUCCESS));

        ctl.set_text(ctl.draft().text().replace("{{inv1}}", "{{inv9}}"));
        assert!(ctl.to_send(&lab, &registry).is_none());
        let Some(SendState::NotSent(why)) = &ctl.send_state else {
            panic!("refused: {:?}", ctl.send_state)
        };
        assert!(why.contains("{{inv9}}") && why.contains("inv1"), "{why}");
    }

    fn ctl_of(ws: &Workspace, registry: &Registry) -> DraftCtl {
        DraftCtl::new(
            Draft::from_batch(starter_batch(Some(ws), registry)),
            String::new(),
            "200".into(),
        )
    }

    #[test]
    fn the_check_follows_edits_and_logins() {
        let ws = sample();
        let mut registry = ws.registry(&LoginState::All);
        let mut draft = ctl_of(&ws, &registry);
        draft.refresh(&ws, &registry);
        assert_eq!(draft.report().map(|r| r.code), Some(ReplyCode::SUCCESS));
        assert!(draft.bytes() > 0);
        // A FLOAT point given a string: the model says no.
        let edited = draft.edit_batch(|batch| {
            let point = &mut batch.entries[0].points[0];
            point.value = json!("hot");
            true
        });
        assert!(edited);
        draft.refresh(&ws, &registry);
        assert_eq!(draft.report().map(|r| r.code), Some(ReplyCode(1204)));
        // Back to a good value, then the sub-device logs out: the check must notice.
        draft.edit_batch(|batch| {
            let entry = &mut batch.entries[0];
            let model = registry.model_of(&entry.device.clone().expect("device").product_key);
            entry.points[0] = PointEntry::sample(&model.expect("model").points[0], 1);
            true
        });
        draft.refresh(&ws, &registry);
        assert_eq!(draft.report().map(|r| r.code), Some(ReplyCode::SUCCESS));
        registry.logged_in.clear();
        draft.refresh(&ws, &registry);
        assert_eq!(
            draft.report().map(|r| r.code),
            Some(ReplyCode::SUCCESS),
            "not checked again until told"
        );
        draft.registry_changed();
        draft.refresh(&ws, &registry);
        assert_eq!(draft.report().map(|r| r.code), Some(ReplyCode(1212)));
    }

    #[test]
    fn switching_modes_keeps_each_modes_draft_and_starts_the_others_fresh() {
        let ws = sample();
        let registry = ws.registry(&LoginState::All);
        let mut draft = ctl_of(&ws, &registry);
        draft.edit_batch(|batch| {
            batch.entries[0].points[0].value = json!(1.25);
            true
        });
        let batch_text = draft.draft().text().to_owned();
        draft.switch_mode(DraftMode::Command, &ws, &registry);
        assert_eq!(draft.draft().mode(), DraftMode::Command);
        draft.refresh(&ws, &registry);
        assert_eq!(draft.report().map(|r| r.code), Some(ReplyCode::SUCCESS));
        draft.switch_mode(DraftMode::Event, &ws, &registry);
        assert_eq!(draft.draft().mode(), DraftMode::Event);
        draft.switch_mode(DraftMode::Batch, &ws, &registry);
        assert_eq!(draft.draft().text(), batch_text, "the batch as it was left");
        draft.switch_mode(DraftMode::Command, &ws, &registry);
        assert_eq!(draft.draft().mode(), DraftMode::Command);
    }

    #[test]
    fn a_commands_reply_is_read_as_the_platform_reads_it() {
        let ws = sample();
        let registry = ws.registry(&LoginState::All);
        let mut draft = ctl_of(&ws, &registry);
        draft.replace(Draft::from_command(Command {
            device: DeviceId::new("invPk", "{{inv1}}"),
            kind: crate::model::CommandKind::Get(vec!["Power".into()]),
        }));
        let (message, device) = draft.to_send(&ws, &registry).expect("sent");
        assert_eq!(device, DeviceId::new("invPk", "inv01"));
        assert_eq!(
            message.topic,
            "/sys/invPk/inv01/thing/service/measurepoint/get"
        );
        let id = message.id.clone().expect("an id");
        // A clean reply: success, no findings.
        let reply = json!({"id": id.0, "code": 200, "data": {"Power": 3.5}}).to_string();
        let rtt = Duration::from_millis(2);
        let replied = |code| Outcome::Replied {
            code: ReplyCode(code),
            message: None,
            rtt,
        };
        draft.command_ended(replied(200), reply.as_bytes(), None, &registry);
        let Some(SendState::DeviceReplied(read)) = &draft.send_state else {
            panic!("{:?}", draft.send_state)
        };
        assert_eq!(read.meaning, CodeMeaning::Success);
        assert!(
            read.errors.is_empty() && read.warnings.is_empty(),
            "{read:?}"
        );
        // Another id, a code as a string, the request's topic instead of its `_reply`: each
        // said with its place.
        draft.to_send(&ws, &registry).expect("sent again");
        let reply = json!({"id": "nope", "code": "2001", "data": {"Power": "hot"}}).to_string();
        draft.command_ended(
            replied(2001),
            reply.as_bytes(),
            Some("/sys/invPk/inv01/thing/service/measurepoint/get"),
            &registry,
        );
        let Some(SendState::DeviceReplied(read)) = &draft.send_state else {
            panic!("{:?}", draft.send_state)
        };
        assert_eq!(read.meaning, CodeMeaning::DeviceError);
        assert!(
            read.errors.iter().any(|e| e.starts_with("reply id:")),
            "{read:?}"
        );
        assert!(
            read.errors.iter().any(|e| e.starts_with("reply (topic):")),
            "{read:?}"
        );
        assert!(
            read.warnings.iter().any(|w| w.starts_with("reply code:")),
            "{read:?}"
        );
        draft.command_ended(
            Outcome::NoReply {
                after: Duration::from_millis(300),
            },
            b"",
            None,
            &registry,
        );
        assert_eq!(
            draft.send_state,
            Some(SendState::NoReply(Duration::from_millis(300)))
        );
        // Saved, it is a command fixture with its variables.
        draft.fixture_name = "read power".into();
        let fixture = draft
            .fixture_to_save(registry.max_payload, &ws.gateway())
            .expect("saves");
        assert_eq!(
            fixture.to_json()["command"],
            json!({"device": "invPk/{{inv1}}", "get": ["Power"]})
        );
    }

    #[test]
    fn an_edit_that_changes_nothing_keeps_the_text_and_its_revision() {
        let ws = sample();
        let registry = ws.registry(&LoginState::All);
        let mut draft = ctl_of(&ws, &registry);
        let (text, revision) = (draft.draft().text().to_owned(), draft.draft().revision());
        assert!(!draft.edit_batch(|_| false));
        assert_eq!(draft.draft().text(), text);
        assert_eq!(draft.draft().revision(), revision);
    }

    #[test]
    fn the_save_form_says_what_is_wrong() {
        let ws = sample();
        let registry = ws.registry(&LoginState::All);
        let mut draft = ctl_of(&ws, &registry);
        let refused = draft
            .fixture_to_save(1024, &ws.gateway())
            .expect_err("no name");
        assert!(
            refused.error && refused.text.contains("name"),
            "{refused:?}"
        );
        draft.fixture_name = "inverter ok".into();
        draft.expect_code = "twelve".into();
        let refused = draft
            .fixture_to_save(1024, &ws.gateway())
            .expect_err("not a code");
        assert!(refused.text.contains("\"twelve\""), "{refused:?}");
        draft.expect_code = "no reply".into();
        let fixture = draft.fixture_to_save(1024, &ws.gateway()).expect("saves");
        assert!(fixture.expect.no_reply);
        assert_eq!(fixture.name, "inverter ok");
        draft.expect_code = "1204".into();
        assert_eq!(
            draft
                .fixture_to_save(1024, &ws.gateway())
                .expect("saves")
                .expect
                .code,
            Some(ReplyCode(1204))
        );
    }

    #[test]
    fn an_oversized_draft_is_sent_only_on_purpose() {
        let ws = sample();
        let mut registry = ws.registry(&LoginState::All);
        registry.max_payload = 10;
        let mut draft = ctl_of(&ws, &registry);
        assert!(draft.to_send(&ws, &registry).is_none());
        assert!(
            matches!(&draft.send_state, Some(SendState::NotSent(why)) if why.contains("limits.maxPayload")),
            "{:?}",
            draft.send_state
        );
        // Expecting 1008 (a fixture opened from a 1008 test) is asking for it.
        draft.expect_code = "1008".into();
        assert!(
            draft.to_send(&ws, &registry).is_some(),
            "sent expecting 1008"
        );
        draft.expect_code = "200".into();
        assert!(draft.to_send(&ws, &registry).is_none());
        draft.send_oversize = true;
        let (message, device) = draft.to_send(&ws, &registry).expect("sent on purpose");
        assert_eq!(device, DeviceId::new("invPk", "inv01"));
        assert!(message.topic.ends_with("/thing/measurepoint/post/batch"));
        draft.refresh(&ws, &registry);
        let fixture = {
            draft.fixture_name = "big".into();
            draft
                .fixture_to_save(registry.max_payload, &ws.gateway())
                .expect("saves")
        };
        assert!(fixture.send_oversize, "the choice is kept with the fixture");
    }

    #[test]
    fn a_focused_point_is_scrolled_to_once_and_dropped_by_an_edit() {
        let ws = sample();
        let registry = ws.registry(&LoginState::All);
        let mut draft = ctl_of(&ws, &registry);
        let point = PointRef {
            element: Some(0),
            identifier: "Power".into(),
        };
        draft.focus(point.clone());
        assert!(draft.wants_scroll());
        draft.scrolled();
        assert!(!draft.wants_scroll());
        assert_eq!(draft.focused(), Some(&point), "still marked");
        draft.set_text("{}".into());
        assert_eq!(draft.focused(), None);
    }
}
