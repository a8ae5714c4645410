//! The builder's document: the JSON text that is sent and what the builder shows of it, a batch,
//! an event post or a command, kept in sync.
//!
//! The builder edits a [`Doc`]; the JSON view edits text. [`Draft`] holds both: a builder edit
//! rewrites the text, a text edit is read back as the mode's document when it can be. The text is
//! what is sent, so a hand-written message the builder cannot show is still sent as written.

use serde_json::{Map, Value};

use crate::model::CommandKind;
use crate::protocol::{
    DeviceId, Method, ReplyCode, method_name, parse_method, parse_topic, topic_of_method_name,
};

use super::batch::{Batch, NotABatch};
use super::command::{Command, command_body, command_of_body};
use super::event_post::EventPost;
use super::fixture::{Expect, Fixture, FixtureBody};

/// What the builder makes, as its Method row says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum DraftMode {
    /// A batch or resume batch from the gateway; also any request it cannot show, sent as written
    /// on the topic of its method.
    #[default]
    Batch,
    /// An event post of a device (the gateway or a sub-device), over the gateway's connection.
    Event,
    /// A command from the platform side to a device, which must reply.
    Command,
}

impl DraftMode {
    /// The name in the Method row.
    pub fn label(self) -> &'static str {
        match self {
            Self::Batch => "batch",
            Self::Event => "event",
            Self::Command => "command",
        }
    }

    /// The mode whose topics `method` goes on.
    fn of_method(method: Method) -> Self {
        match method {
            Method::EventPost => Self::Event,
            Method::SetPoints | Method::GetPoints | Method::Invoke => Self::Command,
            _ => Self::Batch,
        }
    }
}

/// What the builder shows of the text.
#[derive(Clone, Debug, PartialEq)]
pub enum Doc {
    Batch(Batch),
    Event(EventPost),
    /// A command's kind and params; its target is the draft's device.
    Command(CommandKind),
}

impl Doc {
    /// The body as the JSON view shows it.
    fn to_text(&self) -> String {
        let value = match self {
            Self::Batch(batch) => batch.to_json(),
            Self::Event(post) => post.to_json(),
            Self::Command(kind) => command_body(kind),
        };
        serde_json::to_string_pretty(&value).unwrap_or_default()
    }

    /// The `method` string the body names.
    fn method(&self) -> String {
        match self {
            Self::Batch(batch) => batch.method.method().name().to_owned(),
            Self::Event(post) => method_name(Method::EventPost, &post.event).into_owned(),
            Self::Command(kind) => {
                let service = match kind {
                    CommandKind::Invoke { service, .. } => service.as_str(),
                    _ => "",
                };
                method_name(kind.method(), service).into_owned()
            }
        }
    }

    /// `value` read as a document of `mode`.
    fn read(mode: DraftMode, value: &Value) -> Result<Self, NotABatch> {
        match mode {
            DraftMode::Batch => Batch::from_json(value).map(Self::Batch),
            DraftMode::Event => EventPost::from_json(value).map(Self::Event),
            DraftMode::Command => command_of_body(value).map(Self::Command),
        }
    }
}

/// The message being built: the text that is sent, where it goes, and what the builder shows.
#[derive(Clone, Debug, PartialEq)]
pub struct Draft {
    mode: DraftMode,
    /// The device an event post is of, or a command is for (`None`: the gateway). A batch names
    /// its devices in its entries.
    device: Option<DeviceId>,
    /// The last method of the mode the text named: the topic of text the builder cannot show.
    method: Option<String>,
    text: String,
    /// The text read as the mode's document, or why it cannot be.
    doc: Result<Doc, NotABatch>,
    /// Grows on every change, so that views can tell when to redo work.
    revision: u64,
}

impl Default for Draft {
    fn default() -> Self {
        Self::from_batch(Batch::default())
    }
}

impl Draft {
    fn of_doc(mode: DraftMode, device: Option<DeviceId>, doc: Doc) -> Self {
        Self {
            mode,
            device,
            method: Some(doc.method()),
            text: doc.to_text(),
            doc: Ok(doc),
            revision: 0,
        }
    }

    /// A draft of `batch`.
    pub fn from_batch(batch: Batch) -> Self {
        Self::of_doc(DraftMode::Batch, None, Doc::Batch(batch))
    }

    /// A draft of `post` of `device` (`None`: the gateway).
    pub fn from_event(device: Option<DeviceId>, post: EventPost) -> Self {
        Self::of_doc(DraftMode::Event, device, Doc::Event(post))
    }

    /// A draft of `command`.
    pub fn from_command(command: Command) -> Self {
        Self::of_doc(
            DraftMode::Command,
            Some(command.device),
            Doc::Command(command.kind),
        )
    }

    /// A batch-mode draft of hand-written text.
    pub fn from_text(text: String) -> Self {
        Self::restore(DraftMode::Batch, None, text)
    }

    /// A draft of `mode` for `device` holding `text`, as the window saved it.
    pub fn restore(mode: DraftMode, device: Option<DeviceId>, text: String) -> Self {
        let mut draft = Self {
            mode,
            device,
            ..Self::default()
        };
        draft.set_text(text);
        draft.revision = 0;
        draft
    }

    /// A draft of a fixture's body: a command fixture in command mode, an event post in event
    /// mode for the device of its topic, anything else in batch mode.
    pub fn from_fixture(fixture: &Fixture) -> Self {
        let pretty = |value: &Value| serde_json::to_string_pretty(value).unwrap_or_default();
        let (text, method) = match &fixture.body {
            FixtureBody::Command(command) => return Self::from_command(command.clone()),
            FixtureBody::Request(value) => (
                pretty(value),
                value
                    .get("method")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            ),
            FixtureBody::Raw(raw) => (raw.clone(), None),
        };
        let topic = fixture.topic.as_deref().and_then(parse_topic);
        let event = topic.as_ref().map(|t| t.method) == Some(Method::EventPost)
            || method.as_deref().and_then(parse_method).map(|(m, _)| m) == Some(Method::EventPost);
        match topic.filter(|_| event) {
            Some(topic) => Self::restore(DraftMode::Event, Some(topic.device.clone()), text),
            None if event => Self::restore(DraftMode::Event, None, text),
            None => Self::from_text(text),
        }
    }

    /// What the builder makes.
    pub fn mode(&self) -> DraftMode {
        self.mode
    }

    /// The device of an event post or the target of a command (`None`: the gateway).
    pub fn device(&self) -> Option<&DeviceId> {
        self.device.as_ref()
    }

    /// The text to send.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// What the builder shows of the text, or why it cannot show it.
    pub fn doc(&self) -> Result<&Doc, &str> {
        self.doc.as_ref().map_err(|why| why.0.as_str())
    }

    /// The batch of the text, or why the builder cannot show it as one.
    pub fn batch(&self) -> Result<&Batch, &str> {
        match self.doc()? {
            Doc::Batch(batch) => Ok(batch),
            _ => Err("the draft is not a batch"),
        }
    }

    /// The change counter.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// The topic of an event post or a command, for `gateway` when the draft names no device;
    /// `None` for a batch (the topic of its method, as a fixture's) and while no method of the
    /// mode is known.
    pub fn topic(&self, gateway: &DeviceId) -> Option<String> {
        if self.mode == DraftMode::Batch {
            return None;
        }
        let device = self.device.as_ref().unwrap_or(gateway);
        topic_of_method_name(self.method.as_deref()?, device)
    }

    /// A builder edit: the text follows.
    pub fn set_batch(&mut self, batch: Batch) {
        self.mode = DraftMode::Batch;
        self.set_doc(Doc::Batch(batch));
    }

    fn set_doc(&mut self, doc: Doc) {
        self.text = doc.to_text();
        self.method = Some(doc.method());
        self.doc = Ok(doc);
        self.revision += 1;
    }

    /// Another device for the event post or command; the text stays, the topic follows.
    pub fn set_device(&mut self, device: Option<DeviceId>) {
        if self.device != device {
            self.device = device;
            self.revision += 1;
        }
    }

    /// A builder edit in place, without copying the document: `edit` says whether it changed
    /// anything, and the text follows when it did. Does nothing to text the builder cannot show.
    pub fn edit(&mut self, edit: impl FnOnce(&mut Doc) -> bool) -> bool {
        let Ok(doc) = &mut self.doc else {
            return false;
        };
        if !edit(doc) {
            return false;
        }
        self.text = doc.to_text();
        self.method = Some(doc.method());
        self.revision += 1;
        true
    }

    /// [`Draft::edit`] of a batch; does nothing to another document.
    pub fn edit_batch(&mut self, edit: impl FnOnce(&mut Batch) -> bool) -> bool {
        self.edit(|doc| match doc {
            Doc::Batch(batch) => edit(batch),
            _ => false,
        })
    }

    /// A JSON edit: the document follows when the text can be read as one of the mode's.
    pub fn set_text(&mut self, text: String) {
        let value = serde_json::from_str::<Value>(&text)
            .map_err(|e| NotABatch(format!("the JSON does not parse: {e}")));
        self.doc = value
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|v| Doc::read(self.mode, v));
        let method = value.ok().and_then(|v| {
            let name = v.get("method")?.as_str()?.to_owned();
            let (method, _) = parse_method(&name)?;
            (DraftMode::of_method(method) == self.mode).then_some(name)
        });
        if method.is_some() {
            self.method = method;
        }
        self.text = text;
        self.revision += 1;
    }

    /// The draft as a fixture of the text as it is sent: the JSON body when the text parses,
    /// else the raw text, on the topic of the event or command when the draft has one.
    pub fn to_fixture(&self, name: &str, expect: Expect) -> Fixture {
        let body = match serde_json::from_str::<Value>(&self.text) {
            Ok(value) => FixtureBody::Request(value),
            Err(_) => FixtureBody::Raw(self.text.clone()),
        };
        let topic = match (&self.device, &self.method) {
            (Some(device), Some(method)) if self.mode != DraftMode::Batch => {
                topic_of_method_name(method, device)
            }
            _ => None,
        };
        Fixture {
            name: name.to_owned(),
            topic,
            login: None,
            body,
            expect,
            send_oversize: false,
            extra: Map::new(),
        }
    }

    /// The draft as a fixture to keep: a command fixture for a command, else the text as sent;
    /// `Err` for a command the builder cannot show (a command fixture holds set, get or invoke).
    pub fn to_saved_fixture(
        &self,
        name: &str,
        expect: Expect,
        gateway: &DeviceId,
    ) -> Result<Fixture, NotABatch> {
        if self.mode != DraftMode::Command {
            return Ok(self.to_fixture(name, expect));
        }
        let Ok(Doc::Command(kind)) = &self.doc else {
            let why = self.doc().err().unwrap_or_default();
            return Err(NotABatch(format!(
                "a command fixture holds a set, a get or an invoke, and the JSON is not one ({why}); fix the JSON, or send it and save its timeline row"
            )));
        };
        let command = Command {
            device: self.device.clone().unwrap_or_else(|| gateway.clone()),
            kind: kind.clone(),
        };
        let mut fixture = self.to_fixture(name, expect);
        fixture.topic = None;
        fixture.body = FixtureBody::Command(command);
        Ok(fixture)
    }

    /// The draft as a fixture expecting `code`.
    pub fn to_fixture_expecting(&self, name: &str, code: ReplyCode) -> Fixture {
        self.to_fixture(name, Expect::code(code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workspace::{BatchMethod, Entry, EntryTime, PointEntry};
    use serde_json::json;

    fn inverter() -> DeviceId {
        DeviceId::new("invPk", "inv01")
    }

    fn gateway() -> DeviceId {
        DeviceId::new("gwPk", "gw01")
    }

    #[test]
    fn builder_edit_rewrites_the_text() {
        let mut batch = Batch::default();
        let mut entry = Entry::new(Some(inverter()));
        entry.points.push(PointEntry {
            identifier: "temp".into(),
            value: json!(21.5),
            quality: None,
        });
        entry.points.push(PointEntry {
            identifier: "Power".into(),
            value: json!(3.2),
            quality: Some(9),
        });
        batch.entries.push(entry);
        batch.skip_invalid = Some(true);
        let mut draft = Draft::default();
        draft.set_batch(batch);
        let sent: Value = serde_json::from_str(draft.text()).unwrap();
        assert_eq!(
            sent,
            json!({"version": "1.0", "method": "thing.measurepoint.post.batch",
                   "skipInvalidMeasurepoints": true,
                   "params": [{"productKey": "invPk", "deviceKey": "inv01", "time": "now",
                               "measurepoints": {"temp": 21.5,
                                                 "Power": {"value": 3.2, "quality": 9}}}]})
        );
    }

    #[test]
    fn text_edit_is_read_back_into_the_batch() {
        let mut draft = Draft::default();
        draft.set_text(
            r#"{"id": "7", "version": "1.1", "method": "thing.measurepoint.resume.batch",
                "allowOfflineSubDevice": true,
                "params": [{"productKey": "invPk", "deviceKey": "inv01", "time": "now-90s",
                            "measurepoints": {"Power": {"value": 1, "quality": 3},
                                              "bad": {"value": 1, "quality": 12}}},
                           {"time": 1700000000000, "measurepoints": {}}]}"#
                .into(),
        );
        let batch = draft.batch().unwrap();
        assert_eq!(batch.method, BatchMethod::ResumeBatch);
        assert_eq!(batch.version, "1.1");
        assert_eq!(batch.allow_offline, Some(true));
        assert_eq!(batch.extra.get("id"), Some(&json!("7")));
        assert_eq!(batch.entries[0].time, EntryTime::Offset(-90_000));
        assert_eq!(batch.entries[0].points[0].quality, Some(3));
        // A quality out of range is kept as the raw value, not clamped.
        assert_eq!(batch.entries[0].points[1].quality, None);
        assert_eq!(
            batch.entries[0].points[1].value,
            json!({"value": 1, "quality": 12})
        );
        assert_eq!(batch.entries[1].device, None);
        assert_eq!(
            batch.entries[1].time,
            EntryTime::Absolute(1_700_000_000_000)
        );
    }

    #[test]
    fn a_round_trip_through_the_builder_keeps_the_message() {
        let text = r#"{"version": "1.0", "method": "thing.measurepoint.post.batch",
            "params": [{"productKey": "invPk", "deviceKey": "inv01", "time": "now+1500ms",
                        "measurepoints": {"temp": "hot", "arr": [1, 2]}, "note": "kept"}],
            "id": "42"}"#;
        let draft = Draft::from_text(text.into());
        let batch = draft.batch().unwrap().clone();
        let mut rebuilt = Draft::default();
        rebuilt.set_batch(batch);
        let before: Value = serde_json::from_str(text).unwrap();
        let after: Value = serde_json::from_str(rebuilt.text()).unwrap();
        assert_eq!(before, after);
    }

    #[test]
    fn text_the_builder_cannot_show_is_kept_and_sent_as_written() {
        let mut draft = Draft::default();
        draft.set_text("{\"params\": [".into());
        assert!(draft.batch().unwrap_err().contains("does not parse"));
        let fixture = draft.to_fixture_expecting("broken", ReplyCode(1220));
        assert_eq!(fixture.body, FixtureBody::Raw("{\"params\": [".into()));

        draft.set_text(r#"{"version": "1.0", "method": "combine.login", "params": {}}"#.into());
        assert!(draft.batch().unwrap_err().contains("not a batch method"));
        draft.set_text(r#"{"version": "1.0", "allowOfflineSubDevice": "", "params": []}"#.into());
        assert!(draft.batch().unwrap_err().contains("allowOfflineSubDevice"));
        draft.set_text(r#"{"version": "1.0", "params": [{"productKey": "p"}]}"#.into());
        assert!(draft.batch().unwrap_err().contains("params[0]"));
    }

    #[test]
    fn an_event_draft_goes_on_its_devices_event_topic_and_follows_its_text() {
        let text = r#"{"version": "1.0", "method": "thing.event.overTemp.post",
            "params": {"events": {"temp": 80.5, "level": 2}, "time": "now"}}"#;
        let mut draft = Draft::restore(DraftMode::Event, Some(inverter()), text.into());
        let Ok(Doc::Event(post)) = draft.doc() else {
            panic!("{:?}", draft.doc())
        };
        assert_eq!(post.event, "overTemp");
        assert_eq!(
            draft.topic(&gateway()).as_deref(),
            Some("/sys/invPk/inv01/thing/event/overTemp/post")
        );
        // Text the builder cannot show still goes to the last event's topic.
        draft.set_text("{\"method\": ".into());
        assert!(draft.doc().is_err());
        assert_eq!(
            draft.topic(&gateway()).as_deref(),
            Some("/sys/invPk/inv01/thing/event/overTemp/post")
        );
        let fixture = draft.to_fixture_expecting("raw", ReplyCode(1220));
        assert_eq!(
            fixture.topic.as_deref(),
            Some("/sys/invPk/inv01/thing/event/overTemp/post")
        );
        // Another event by hand: the topic follows; the gateway's own when no device is named.
        draft.set_text(text.replace("overTemp", "fanStop"));
        draft.set_device(None);
        assert_eq!(
            draft.topic(&gateway()).as_deref(),
            Some("/sys/gwPk/gw01/thing/event/fanStop/post")
        );
        // An edit of the outputs rewrites the text.
        assert!(draft.edit(|doc| match doc {
            Doc::Event(post) => {
                post.outputs[1].value = json!("high");
                post.time = EntryTime::Absent;
                true
            }
            _ => false,
        }));
        let sent: Value = serde_json::from_str(draft.text()).expect("JSON");
        assert_eq!(
            sent["params"],
            json!({"events": {"temp": 80.5, "level": "high"}})
        );
    }

    #[test]
    fn a_command_draft_saves_as_a_command_fixture_and_reopens_in_command_mode() {
        let command = Command {
            device: inverter(),
            kind: CommandKind::Set(Map::from_iter([("Power".to_owned(), json!(3.5))])),
        };
        let draft = Draft::from_command(command.clone());
        assert_eq!(draft.mode(), DraftMode::Command);
        assert_eq!(
            serde_json::from_str::<Value>(draft.text()).expect("JSON"),
            json!({"version": "1.0", "method": "thing.service.measurepoint.set",
                   "params": {"Power": 3.5}})
        );
        assert_eq!(
            draft.topic(&gateway()).as_deref(),
            Some("/sys/invPk/inv01/thing/service/measurepoint/set")
        );
        let saved = draft
            .to_saved_fixture("set power", Expect::code(ReplyCode::SUCCESS), &gateway())
            .expect("a command fixture");
        assert_eq!(saved.command(), Some(&command));
        assert_eq!(saved.topic, None);
        let reopened = Draft::from_fixture(&saved);
        assert_eq!(reopened.mode(), DraftMode::Command);
        assert_eq!(reopened.device(), Some(&inverter()));
        assert_eq!(reopened.text(), draft.text());

        // Hand-edited into an invoke: the document and topic follow.
        let mut draft = draft;
        draft.set_text(
            r#"{"version": "1.0", "method": "thing.service.setPowerLimit", "params": {"limit": 2}}"#
                .into(),
        );
        assert!(matches!(
            draft.doc(),
            Ok(Doc::Command(CommandKind::Invoke { .. }))
        ));
        assert_eq!(
            draft.topic(&gateway()).as_deref(),
            Some("/sys/invPk/inv01/thing/service/setPowerLimit")
        );
        // What is not a command is sent as written, but cannot be saved as a command fixture.
        draft.set_text(
            r#"{"version": "1.0", "method": "thing.service.setPowerLimit", "params": 3}"#.into(),
        );
        let refused = draft
            .to_saved_fixture("x", Expect::code(ReplyCode::SUCCESS), &gateway())
            .expect_err("not a command");
        assert!(refused.0.contains("params is 3"), "{refused}");
        assert_eq!(
            draft
                .to_fixture_expecting("x", ReplyCode(200))
                .topic
                .as_deref(),
            Some("/sys/invPk/inv01/thing/service/setPowerLimit")
        );
    }

    #[test]
    fn an_event_fixture_opens_in_event_mode_for_the_device_of_its_topic() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/messages");
        let bytes = std::fs::read(root.join("014-valid-event-over-temp.json")).expect("reads");
        let fixture =
            Fixture::from_slice(std::path::Path::new("014.json"), &bytes).expect("a fixture");
        let draft = Draft::from_fixture(&fixture);
        assert_eq!(draft.mode(), DraftMode::Event);
        assert_eq!(draft.device(), Some(&DeviceId::new("invPk", "{{inv1}}")));
        assert!(matches!(draft.doc(), Ok(Doc::Event(_))));
        // Saved again, it keeps its topic, variables and all.
        let saved = draft
            .to_saved_fixture("again", fixture.expect.clone(), &gateway())
            .expect("saves");
        assert_eq!(saved.topic, fixture.topic);
        assert_eq!(saved.body, fixture.body);
    }
}
