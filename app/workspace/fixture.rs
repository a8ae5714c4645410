//! Message fixtures: a request (or raw payload), where it goes, and the reply it must get.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::model::Registry;
use crate::protocol::{
    DeviceId, EpochMs, Method, MsgId, ReplyCode, SIGN_METHOD, id_of, request_topic, sign,
    topic_of_method_name,
};

use super::command::Command;
use super::error::FileError;
use super::template::{IdSource, resolve_time_template};
use super::vars::Vars;

/// The default wait for a reply.
pub const DEFAULT_WITHIN_MS: u64 = 5000;

/// One message fixture, as in `messages/<name>.json`.
#[derive(Clone, Debug, PartialEq)]
pub struct Fixture {
    pub name: String,
    /// Overrides the topic derived from the method.
    pub topic: Option<String>,
    /// Sub-devices to log in before the send; `None` means all of them.
    pub login: Option<Vec<DeviceId>>,
    pub body: FixtureBody,
    pub expect: Expect,
    /// Sends a payload over the workspace's `limits.maxPayload` on purpose, whatever the
    /// fixture expects; without it (and unless it expects 1008) such a payload is refused
    /// before sending.
    pub send_oversize: bool,
    /// Keys thingbench does not know, kept on save.
    pub extra: Map<String, Value>,
}

/// What a fixture sends.
#[derive(Clone, Debug, PartialEq)]
pub enum FixtureBody {
    /// A JSON body; it may be malformed on purpose.
    Request(Value),
    /// Bytes sent exactly as written.
    Raw(String),
    /// A command the platform side sends to a device, which must answer it.
    Command(Command),
}

/// What the reply must be.
#[derive(Clone, Debug, PartialEq)]
pub struct Expect {
    /// The required reply code; `None` with `no_reply`.
    pub code: Option<ReplyCode>,
    /// How long to wait for the reply.
    pub within_ms: Option<u64>,
    /// True when the fixture requires silence.
    pub no_reply: bool,
    /// For a command: keys the reply's `data` must hold, with equal values (numbers compared as
    /// numbers).
    pub data: Option<Map<String, Value>>,
    pub extra: Map<String, Value>,
}

impl Expect {
    /// The expectation of silence.
    pub fn no_reply() -> Self {
        Self {
            code: None,
            within_ms: None,
            no_reply: true,
            data: None,
            extra: Map::new(),
        }
    }

    /// The expectation of `code`, or of silence when `None`.
    pub fn code_or_silence(code: Option<ReplyCode>) -> Self {
        code.map_or_else(Self::no_reply, Self::code)
    }

    /// The expectation of one reply code.
    pub fn code(code: ReplyCode) -> Self {
        Self {
            code: Some(code),
            within_ms: None,
            no_reply: false,
            data: None,
            extra: Map::new(),
        }
    }

    /// How long to wait, with the default applied.
    pub fn wait_ms(&self) -> u64 {
        self.within_ms.unwrap_or(DEFAULT_WITHIN_MS)
    }
}

/// A fixture file in the workspace, loaded or not.
#[derive(Debug)]
pub struct FixtureEntry {
    pub path: PathBuf,
    pub fixture: Result<Fixture, FileError>,
}

/// A fixture made ready to send: templates resolved, topic chosen.
#[derive(Clone, Debug, PartialEq)]
pub struct ResolvedMessage {
    pub topic: String,
    pub payload: Vec<u8>,
    /// The id the reply must echo, when the payload is a JSON object with one.
    pub id: Option<MsgId>,
}

impl ResolvedMessage {
    /// Why this message must not be sent: its payload is over `max_payload` and nobody asked to
    /// send it anyway. `how_to_ask` tells the user how to send it on purpose.
    pub fn oversize_refusal(
        &self,
        max_payload: usize,
        on_purpose: bool,
        how_to_ask: &str,
    ) -> Option<String> {
        let size = self.payload.len();
        (size > max_payload && !on_purpose).then(|| {
            format!(
                "not sent: the payload is {size} bytes, over the limit of {max_payload} (limits.maxPayload in workspace.json; the hub answers 1008 above it); {how_to_ask}"
            )
        })
    }
}

fn field_err(file: &Path, path: &str, reason: impl Into<String>) -> FileError {
    FileError::new(file, path, reason)
}

impl Fixture {
    /// A fixture sending `request` and expecting `code`.
    pub fn new(name: impl Into<String>, request: Value, code: ReplyCode) -> Self {
        Self {
            name: name.into(),
            topic: None,
            login: None,
            body: FixtureBody::Request(request),
            expect: Expect::code(code),
            send_oversize: false,
            extra: Map::new(),
        }
    }

    /// A fixture that replays a message seen on `topic` and expects `expect`.
    ///
    /// The id is dropped (a fresh one is given at replay) and the topic kept only when it is not
    /// the default for `gateway`. A login's `sign` is dropped so that replay signs again with the
    /// workspace's secret, except when the hub refused the sign (742): then it is the point.
    /// A message the hub found too large (1008) is sent over the limit again, as it expects 1008.
    pub fn from_message(
        name: impl Into<String>,
        topic: &str,
        payload: &[u8],
        expect: Expect,
        gateway: &DeviceId,
    ) -> Self {
        let body = match serde_json::from_slice::<Value>(payload) {
            Ok(mut value) => {
                if let Some(obj) = value.as_object_mut() {
                    obj.shift_remove("id");
                }
                let is_login =
                    value.get("method").and_then(Value::as_str) == Some(Method::Login.name());
                if is_login
                    && expect.code != Some(ReplyCode::SIGN_FAILED)
                    && let Some(params) = value.get_mut("params").and_then(Value::as_object_mut)
                {
                    params.shift_remove("sign");
                }
                FixtureBody::Request(value)
            }
            Err(_) => FixtureBody::Raw(String::from_utf8_lossy(payload).into_owned()),
        };
        let mut fixture = Self {
            name: name.into(),
            topic: None,
            login: None,
            body,
            send_oversize: false,
            expect,
            extra: Map::new(),
        };
        if fixture.default_topic(gateway) != topic {
            fixture.topic = Some(topic.to_owned());
        }
        fixture
    }

    /// Parses a fixture file's bytes. Only the fixture's own fields are checked, never what
    /// its request or raw payload holds.
    pub fn from_slice(file: &Path, bytes: &[u8]) -> Result<Self, FileError> {
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|e| field_err(file, "", format!("is not valid JSON: {e}; fix the syntax")))?;
        Self::from_value(file, value)
    }

    /// Parses a fixture file's bytes with its `{{name}}` variables replaced from `vars`; an
    /// unknown variable is an error naming the file, the place and the variables that exist.
    pub fn from_slice_vars(file: &Path, bytes: &[u8], vars: &Vars) -> Result<Self, FileError> {
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|e| field_err(file, "", format!("is not valid JSON: {e}; fix the syntax")))?;
        Self::from_value_vars(file, value, vars)
    }

    /// This fixture with its `{{name}}` variables replaced from `vars`; `file` names it in
    /// the error.
    pub fn with_vars(&self, file: &Path, vars: &Vars) -> Result<Self, FileError> {
        Self::from_value_vars(file, self.to_json(), vars)
    }

    /// [`Fixture::from_value`] with the variables of `request`, `raw`, `topic` and `login`
    /// replaced from `vars`.
    pub fn from_value_vars(file: &Path, mut value: Value, vars: &Vars) -> Result<Self, FileError> {
        if let Value::Object(obj) = &mut value {
            for key in ["request", "raw", "topic", "login", "command"] {
                if let Some(item) = obj.get_mut(key) {
                    *item = vars.fill_value(item, key).map_err(|unknown| {
                        field_err(file, &unknown.place, vars.reason(&unknown))
                    })?;
                }
            }
        }
        Self::from_value(file, value)
    }

    /// Builds a fixture from parsed JSON; `file` only names the source in errors.
    pub fn from_value(file: &Path, value: Value) -> Result<Self, FileError> {
        let Value::Object(mut obj) = value else {
            return Err(field_err(
                file,
                "",
                "must be a JSON object with \"name\", \"request\" (or \"raw\") and \"expect\"",
            ));
        };
        let name = match obj.shift_remove("name") {
            Some(Value::String(s)) if !s.trim().is_empty() => s,
            None => file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            Some(other) => {
                return Err(field_err(
                    file,
                    "name",
                    format!("must be a non-empty string, got {other}"),
                ));
            }
        };
        let topic = match obj.shift_remove("topic") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if !s.is_empty() => Some(s),
            Some(other) => {
                return Err(field_err(
                    file,
                    "topic",
                    format!("must be a topic string, got {other}"),
                ));
            }
        };
        let login = match obj.shift_remove("login") {
            None | Some(Value::Null) => None,
            Some(Value::Array(items)) => {
                let mut devices = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let device =
                        item.as_str()
                            .and_then(DeviceId::parse_slash)
                            .ok_or_else(|| {
                                field_err(
                                    file,
                                    &format!("login[{i}]"),
                                    format!("must be \"productKey/deviceKey\", got {item}"),
                                )
                            })?;
                    devices.push(device);
                }
                Some(devices)
            }
            Some(other) => {
                return Err(field_err(
                    file,
                    "login",
                    format!("must be a list of \"productKey/deviceKey\" strings, got {other}"),
                ));
            }
        };
        let command = obj.shift_remove("command");
        let body = match (obj.shift_remove("request"), obj.shift_remove("raw")) {
            _ if command.is_some() && (obj.contains_key("topic") || topic.is_some()) => {
                return Err(field_err(
                    file,
                    "topic",
                    "does not go with \"command\": a command goes to its device's command topic",
                ));
            }
            (None, None) if command.is_some() => FixtureBody::Command(Command::from_json(
                file,
                command.as_ref().unwrap_or(&Value::Null),
            )?),
            (Some(_), _) | (_, Some(_)) if command.is_some() => {
                return Err(field_err(
                    file,
                    "command",
                    "and \"request\" (or \"raw\") are both given; keep one",
                ));
            }
            (Some(request), None) => FixtureBody::Request(request),
            (None, Some(Value::String(raw))) => FixtureBody::Raw(raw),
            (None, Some(other)) => {
                return Err(field_err(
                    file,
                    "raw",
                    format!("must be a string (sent byte for byte), got {other}"),
                ));
            }
            (Some(_), Some(_)) => {
                return Err(field_err(
                    file,
                    "raw",
                    "and \"request\" are both given; keep one",
                ));
            }
            (None, None) => {
                return Err(field_err(
                    file,
                    "request",
                    "is missing; give \"request\" or \"raw\" (or \"command\" for a command to a device)",
                ));
            }
        };
        let expect = match obj.shift_remove("expect") {
            Some(Value::Object(e)) => parse_expect(file, e)?,
            None => {
                return Err(field_err(
                    file,
                    "expect",
                    "is missing; give {\"code\": N} or {\"noReply\": true}",
                ));
            }
            Some(other) => {
                return Err(field_err(
                    file,
                    "expect",
                    format!("must be an object, got {other}"),
                ));
            }
        };
        let send_oversize = match obj.shift_remove("sendOversize") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => b,
            Some(other) => {
                return Err(field_err(
                    file,
                    "sendOversize",
                    format!("must be true or false, got {other}"),
                ));
            }
        };
        Ok(Self {
            name,
            topic,
            login,
            body,
            expect,
            send_oversize,
            extra: obj,
        })
    }

    /// The fixture as JSON, keys in a stable order: name, topic, login, request/raw, expect,
    /// sendOversize.
    pub fn to_json(&self) -> Value {
        let mut obj = Map::new();
        obj.insert("name".into(), Value::String(self.name.clone()));
        if let Some(topic) = &self.topic {
            obj.insert("topic".into(), Value::String(topic.clone()));
        }
        if let Some(login) = &self.login {
            let list = login.iter().map(|d| Value::String(d.to_string())).collect();
            obj.insert("login".into(), Value::Array(list));
        }
        match &self.body {
            FixtureBody::Request(request) => obj.insert("request".into(), request.clone()),
            FixtureBody::Raw(raw) => obj.insert("raw".into(), Value::String(raw.clone())),
            FixtureBody::Command(command) => obj.insert("command".into(), command.to_json()),
        };
        let mut expect = Map::new();
        if let Some(code) = self.expect.code {
            expect.insert("code".into(), Value::from(code.0));
        }
        if let Some(ms) = self.expect.within_ms {
            expect.insert("withinMs".into(), Value::from(ms));
        }
        if self.expect.no_reply {
            expect.insert("noReply".into(), Value::Bool(true));
        }
        if let Some(data) = &self.expect.data {
            expect.insert("data".into(), Value::Object(data.clone()));
        }
        expect.extend(self.expect.extra.clone());
        obj.insert("expect".into(), Value::Object(expect));
        if self.send_oversize {
            obj.insert("sendOversize".into(), Value::Bool(true));
        }
        obj.extend(self.extra.clone());
        Value::Object(obj)
    }

    /// Pretty JSON with a trailing newline, as saved to disk.
    pub fn to_pretty(&self) -> String {
        let mut text = serde_json::to_string_pretty(&self.to_json()).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Whether a payload over the workspace's `limits.maxPayload` goes out: asked for with
    /// `sendOversize`, or implied by expecting 1008 (the hub's answer to it). thingbench's own
    /// MQTT packet limit still applies.
    pub fn sends_over_limit(&self) -> bool {
        self.send_oversize || self.expect.code == Some(ReplyCode::TOO_LARGE)
    }

    /// The method the request names, if it names one thingbench knows.
    pub fn method(&self) -> Option<Method> {
        Method::from_name(&self.method_name()?)
    }

    /// The command it sends, for a command fixture.
    pub fn command(&self) -> Option<&Command> {
        match &self.body {
            FixtureBody::Command(command) => Some(command),
            _ => None,
        }
    }

    /// The `method` string of the request, if it has one.
    fn method_name(&self) -> Option<String> {
        match &self.body {
            FixtureBody::Command(command) => Some(
                command.request(&IdSource::starting_at(0)).1["method"]
                    .as_str()?
                    .to_owned(),
            ),
            FixtureBody::Request(request) => Some(request.get("method")?.as_str()?.to_owned()),
            FixtureBody::Raw(raw) => Some(
                serde_json::from_str::<Value>(raw)
                    .ok()?
                    .get("method")?
                    .as_str()?
                    .to_owned(),
            ),
        }
    }

    /// The topic of the request's method for `gateway` (an event post's with its event id),
    /// used when the fixture gives none: the batch topic when the method is missing or unknown.
    fn default_topic(&self, gateway: &DeviceId) -> String {
        self.method_name()
            .and_then(|name| topic_of_method_name(&name, gateway))
            .unwrap_or_else(|| request_topic(Method::PostBatch, gateway))
    }

    /// Resolves templates for a send from `gateway`: fresh id, `time` templates, and the
    /// sign of a `combine.login` that leaves it out (made with the secret in `registry`).
    pub fn resolve(
        &self,
        gateway: &DeviceId,
        registry: &Registry,
        now: EpochMs,
        ids: &IdSource,
    ) -> ResolvedMessage {
        let topic = self
            .topic
            .clone()
            .unwrap_or_else(|| self.default_topic(gateway));
        match &self.body {
            FixtureBody::Command(command) => {
                let (id, body) = command.request(ids);
                ResolvedMessage {
                    topic: command.topic(),
                    payload: body.to_string().into_bytes(),
                    id: Some(id),
                }
            }
            FixtureBody::Raw(raw) => {
                let id = serde_json::from_str::<Value>(raw)
                    .ok()
                    .and_then(|v| v.as_object().and_then(id_of));
                ResolvedMessage {
                    topic,
                    payload: raw.as_bytes().to_vec(),
                    id,
                }
            }
            FixtureBody::Request(request) => {
                let mut request = request.clone();
                resolve_request(&mut request, registry, now, ids);
                let id = request.as_object().and_then(id_of);
                ResolvedMessage {
                    topic,
                    payload: serde_json::to_vec(&request).unwrap_or_default(),
                    id,
                }
            }
        }
    }
}

fn parse_expect(file: &Path, mut e: Map<String, Value>) -> Result<Expect, FileError> {
    let code = match e.shift_remove("code") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) if n.as_i64().is_some() => n.as_i64().map(ReplyCode),
        Some(other) => {
            return Err(field_err(
                file,
                "expect.code",
                format!("must be an integer reply code, got {other}"),
            ));
        }
    };
    let within_ms = match e.shift_remove("withinMs") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) if n.as_u64().is_some_and(|v| v > 0) => n.as_u64(),
        Some(other) => {
            return Err(field_err(
                file,
                "expect.withinMs",
                format!("must be a positive number of milliseconds, got {other}"),
            ));
        }
    };
    let no_reply = match e.shift_remove("noReply") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => b,
        Some(other) => {
            return Err(field_err(
                file,
                "expect.noReply",
                format!("must be true or false, got {other}"),
            ));
        }
    };
    let data = match e.shift_remove("data") {
        None | Some(Value::Null) => None,
        Some(Value::Object(data)) => Some(data),
        Some(other) => {
            return Err(field_err(
                file,
                "expect.data",
                format!("must be an object of the keys the reply's data must hold, got {other}"),
            ));
        }
    };
    match (code, no_reply) {
        (Some(_), true) => Err(field_err(
            file,
            "expect",
            "has both \"code\" and \"noReply\": true; keep one",
        )),
        (None, false) => Err(field_err(
            file,
            "expect.code",
            "is missing; give the reply code the fixture requires, or \"noReply\": true",
        )),
        _ => Ok(Expect {
            code,
            within_ms,
            no_reply,
            data,
            extra: e,
        }),
    }
}

/// Fills a request's send-time templates in place.
pub(crate) fn resolve_request(
    request: &mut Value,
    registry: &Registry,
    now: EpochMs,
    ids: &IdSource,
) {
    let Value::Object(body) = request else {
        return;
    };
    if !body.contains_key("id") {
        body.shift_insert(0, "id".into(), Value::String(ids.next_id().0));
    }
    let method = body
        .get("method")
        .and_then(Value::as_str)
        .and_then(Method::from_name);
    let resolve_time = |element: &mut Value| {
        if let Some(time) = element.get_mut("time")
            && let Some(resolved) = time.as_str().and_then(|t| resolve_time_template(t, now))
        {
            *time = Value::from(resolved.0);
        }
    };
    match body.get_mut("params") {
        Some(Value::Array(params)) => params.iter_mut().for_each(resolve_time),
        Some(params @ Value::Object(_)) => {
            resolve_time(params);
            if method == Some(Method::Login) {
                sign_login(params, registry, now);
            }
        }
        _ => {}
    }
}

/// Completes a `combine.login`'s params that leave out the sign.
fn sign_login(params: &mut Value, registry: &Registry, now: EpochMs) {
    let Value::Object(p) = params else { return };
    if p.contains_key("sign") {
        return;
    }
    let (Some(pk), Some(dk)) = (
        p.get("productKey").and_then(Value::as_str),
        p.get("deviceKey").and_then(Value::as_str),
    ) else {
        return;
    };
    let device = DeviceId::new(pk, dk);
    let client_id = match p.get("clientId").and_then(Value::as_str) {
        Some(c) => c.to_owned(),
        None => dk.to_owned(),
    };
    let timestamp = match p.get("timestamp") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => now.0.to_string(),
    };
    let secret = registry
        .devices
        .get(&device)
        .and_then(|d| d.secret.as_ref())
        .map(|s| s.expose().to_owned())
        .unwrap_or_default();
    let signed = sign(&client_id, &device, &timestamp, &secret);
    p.insert("clientId".into(), Value::String(client_id));
    p.insert("timestamp".into(), Value::String(timestamp));
    p.entry("signMethod")
        .or_insert_with(|| Value::String(SIGN_METHOD.into()));
    p.insert("sign".into(), Value::String(signed));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: Value) -> Result<Fixture, FileError> {
        Fixture::from_value(Path::new("messages/x.json"), value)
    }

    #[test]
    fn malformed_requests_still_load() {
        for request in [
            json!("not an object"),
            json!([1, 2]),
            json!({"params": 5}),
            json!(null),
        ] {
            let f = parse(json!({"name": "n", "request": request, "expect": {"code": 1206}}))
                .expect("a fixture's request may be anything");
            assert_eq!(f.body, FixtureBody::Request(request));
        }
        let f = parse(json!({"name": "n", "raw": "", "expect": {"code": 1251}})).expect("raw");
        assert_eq!(f.body, FixtureBody::Raw(String::new()));
    }

    #[test]
    fn own_fields_are_checked_with_their_place() {
        let cases = [
            (json!([]), ""),
            (
                json!({"name": 5, "request": {}, "expect": {"code": 200}}),
                "name",
            ),
            (json!({"name": "n", "expect": {"code": 200}}), "request"),
            (
                json!({"name": "n", "request": {}, "raw": "", "expect": {"code": 200}}),
                "raw",
            ),
            (
                json!({"name": "n", "raw": 5, "expect": {"code": 200}}),
                "raw",
            ),
            (json!({"name": "n", "request": {}}), "expect"),
            (
                json!({"name": "n", "request": {}, "expect": {}}),
                "expect.code",
            ),
            (
                json!({"name": "n", "request": {}, "expect": {"code": "200"}}),
                "expect.code",
            ),
            (
                json!({"name": "n", "request": {}, "expect": {"code": 200, "withinMs": -1}}),
                "expect.withinMs",
            ),
            (
                json!({"name": "n", "request": {}, "expect": {"code": 200, "noReply": true}}),
                "expect",
            ),
            (
                json!({"name": "n", "request": {}, "login": ["nope"], "expect": {"code": 200}}),
                "login[0]",
            ),
            (
                json!({"name": "n", "request": {}, "topic": 3, "expect": {"code": 200}}),
                "topic",
            ),
            (
                json!({"name": "n", "request": {}, "expect": {"code": 1008}, "sendOversize": "yes"}),
                "sendOversize",
            ),
        ];
        for (value, path) in cases {
            let err = parse(value.clone()).expect_err(&value.to_string());
            assert_eq!(err.path, path, "{value}: {err}");
            assert!(err.to_string().contains("messages/x.json"), "{err}");
        }
    }

    #[test]
    fn send_oversize_is_kept_and_only_then_lets_a_big_payload_go() {
        let on = parse(
            json!({"name": "n", "raw": "xxxx", "expect": {"code": 1008}, "sendOversize": true}),
        )
        .expect("loads");
        assert!(on.send_oversize);
        let saved = on.to_pretty();
        assert!(saved.contains("\"sendOversize\": true"), "{saved}");
        let implied =
            parse(json!({"name": "n", "raw": "xxxx", "expect": {"code": 1008}})).expect("loads");
        assert!(!implied.send_oversize);
        assert!(
            implied.sends_over_limit(),
            "expecting 1008 is asking for it"
        );
        assert!(!implied.to_pretty().contains("sendOversize"));
        let off =
            parse(json!({"name": "n", "raw": "xxxx", "expect": {"code": 1204}})).expect("loads");
        assert!(!off.sends_over_limit());
        let on_purpose = parse(
            json!({"name": "n", "raw": "xxxx", "expect": {"code": 1204}, "sendOversize": true}),
        )
        .expect("loads");
        assert!(on_purpose.sends_over_limit());

        let message = ResolvedMessage {
            topic: "t".into(),
            payload: b"xxxx".to_vec(),
            id: None,
        };
        assert_eq!(
            message.oversize_refusal(4, false, "ask"),
            None,
            "the limit is inclusive"
        );
        let refusal = message.oversize_refusal(3, false, "ask").expect("refused");
        assert!(
            refusal.contains("4 bytes")
                && refusal.contains("limit of 3")
                && refusal.ends_with("ask"),
            "{refusal}"
        );
        assert_eq!(message.oversize_refusal(3, true, "ask"), None);
    }

    #[test]
    fn saving_keeps_order_and_unknown_keys() {
        let text = r#"{
  "name": "n",
  "login": ["invPk/inv01"],
  "request": {"version": "1.0", "params": [{"measurepoints": {"z": 1, "a": 2}}], "method": "thing.measurepoint.post.batch"},
  "expect": {"code": 200, "note": "kept"},
  "owner": "qa"
}"#;
        let f = Fixture::from_slice(Path::new("x.json"), text.as_bytes()).expect("loads");
        let saved = f.to_pretty();
        let again = Fixture::from_slice(Path::new("x.json"), saved.as_bytes()).expect("reloads");
        assert_eq!(f, again);
        assert!(
            saved.find("\"z\"") < saved.find("\"a\""),
            "point order kept:\n{saved}"
        );
        assert!(saved.contains("\"owner\": \"qa\""));
        assert!(saved.contains("\"note\": \"kept\""));
        let keys: Vec<_> = f
            .to_json()
            .as_object()
            .expect("object")
            .keys()
            .cloned()
            .collect();
        assert_eq!(keys, ["name", "login", "request", "expect", "owner"]);
    }

    #[test]
    fn resolve_fills_id_time_and_topic() {
        let f = parse(json!({
            "name": "n",
            "request": {"version": "1.0", "method": "thing.measurepoint.resume.batch",
                        "params": [{"time": "now-90s", "measurepoints": {}}, {"time": "yesterday", "measurepoints": {}}]},
            "expect": {"code": 200}
        }))
        .expect("loads");
        let gw = DeviceId::new("gwPk", "gw01");
        let msg = f.resolve(
            &gw,
            &Registry::new(),
            EpochMs(100_000),
            &IdSource::starting_at(5),
        );
        assert_eq!(msg.topic, "/sys/gwPk/gw01/thing/measurepoint/resume/batch");
        assert_eq!(msg.id, Some(MsgId("5".into())));
        let sent: Value = serde_json::from_slice(&msg.payload).expect("json");
        assert_eq!(sent["id"], json!("5"));
        assert_eq!(sent["params"][0]["time"], json!(10_000));
        assert_eq!(sent["params"][1]["time"], json!("yesterday"));
    }

    #[test]
    fn resolve_signs_a_login_with_the_registry_secret() {
        let gw = DeviceId::new("gwPk", "gw01");
        let inv = DeviceId::new("invPk", "inv01");
        let mut registry = Registry::new();
        registry.add_gateway(gw.clone(), None);
        registry.add_sub_device(
            &gw,
            inv.clone(),
            Some(crate::protocol::Secret::new("s3cret")),
        );
        let f = parse(json!({
            "name": "login",
            "request": {"version": "1.0", "method": "combine.login", "params": {"productKey": "invPk", "deviceKey": "inv01"}},
            "expect": {"code": 200}
        }))
        .expect("loads");
        let msg = f.resolve(&gw, &registry, EpochMs(42), &IdSource::starting_at(1));
        assert_eq!(msg.topic, "/ext/session/gwPk/gw01/combine/login");
        let sent: Value = serde_json::from_slice(&msg.payload).expect("json");
        assert_eq!(
            sent["params"]["sign"],
            json!(sign("inv01", &inv, "42", "s3cret"))
        );
        assert_eq!(sent["params"]["timestamp"], json!("42"));
        assert!(!String::from_utf8_lossy(&msg.payload).contains("s3cret"));
    }

    #[test]
    fn raw_goes_out_byte_for_byte() {
        let f = parse(json!({"name": "n", "raw": "{not json", "expect": {"code": 1220}}))
            .expect("loads");
        let msg = f.resolve(
            &DeviceId::new("p", "d"),
            &Registry::new(),
            EpochMs(0),
            &IdSource::starting_at(1),
        );
        assert_eq!(msg.payload, b"{not json");
        assert_eq!(msg.topic, "/sys/p/d/thing/measurepoint/post/batch");
        assert_eq!(msg.id, None);
    }
}

#[cfg(test)]
mod from_message_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_seen_message_becomes_a_replayable_fixture() {
        let gateway = DeviceId::new("gwPk", "gw01");
        let topic = request_topic(Method::PostBatch, &gateway);
        let payload =
            br#"{"id":"9","version":"1.0","method":"thing.measurepoint.post.batch","params":[]}"#;
        let fixture = Fixture::from_message(
            "seen",
            &topic,
            payload,
            Expect::code(ReplyCode(1204)),
            &gateway,
        );
        assert_eq!(fixture.topic, None, "the default topic is left out");
        assert_eq!(
            fixture.body,
            FixtureBody::Request(
                json!({"version": "1.0", "method": "thing.measurepoint.post.batch", "params": []})
            )
        );
        let other = "/sys/otherPk/gw9/thing/measurepoint/post/batch";
        let fixture =
            Fixture::from_message("seen", other, b"not json", Expect::no_reply(), &gateway);
        assert_eq!(fixture.topic.as_deref(), Some(other));
        assert_eq!(fixture.body, FixtureBody::Raw("not json".into()));
        assert!(fixture.expect.no_reply);
        assert!(!fixture.sends_over_limit());
        // The hub found it too large: replaying it sends it over the limit, as it expects 1008.
        let fixture = Fixture::from_message(
            "big",
            &topic,
            payload,
            Expect::code(ReplyCode::TOO_LARGE),
            &gateway,
        );
        assert!(fixture.sends_over_limit());
        assert!(!fixture.send_oversize, "implied, so not written");
    }

    #[test]
    fn a_login_keeps_its_sign_only_when_the_sign_was_refused() {
        let gateway = DeviceId::new("gwPk", "gw01");
        let topic = request_topic(Method::Login, &gateway);
        let payload = br#"{"id":"1","version":"1.0","method":"combine.login","params":{"productKey":"invPk","deviceKey":"inv01","sign":"abc"}}"#;
        let ok = Fixture::from_message(
            "in",
            &topic,
            payload,
            Expect::code(ReplyCode::SUCCESS),
            &gateway,
        );
        let FixtureBody::Request(body) = &ok.body else {
            panic!()
        };
        assert!(body["params"].get("sign").is_none());
        let refused = Fixture::from_message(
            "in",
            &topic,
            payload,
            Expect::code(ReplyCode::SIGN_FAILED),
            &gateway,
        );
        let FixtureBody::Request(body) = &refused.body else {
            panic!()
        };
        assert_eq!(body["params"]["sign"], "abc");
    }
}
