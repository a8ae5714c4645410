//! The one checker: predicts the hub's reply to a payload on a topic, with every finding.
//!
//! The window, `thingbench check` and the reference hub all call [`check`].

use serde_json::{Map, Value};

use crate::protocol::{
    DeviceId, EpochMs, Method, MsgId, ParsedTopic, Reply, ReplyCode, check_sign, id_of,
    is_sha256_sign_method, parse_topic,
};

use super::registry::Registry;
use super::value::{Invalid, Verdict, check_point_value, describe};
use super::view::{ElementView, RequestView};
use super::wrong::WrongKind;

/// How much a finding matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Severity {
    /// The hub rejects the message for this.
    Error,
    /// The hub accepts it, but it is not what the model asks for.
    Warning,
    /// An invalid point that `skipInvalidMeasurepoints` drops.
    Skipped,
}

impl Severity {
    /// Lower-case name for output.
    pub fn name(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warning => "warning",
            Self::Skipped => "skipped",
        }
    }
}

/// The measure point a finding is about, for jumping to its editor.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PointRef {
    /// Index in `params`; `None` for a single post, whose `params` is one object.
    pub element: Option<usize>,
    pub identifier: String,
}

/// One thing the checker found, at a place in the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Where: `params[1].measurepoints.temp`, `version`, `(payload)`, `(topic)`.
    pub path: String,
    /// The code the hub answers for it (200 for a warning).
    pub code: ReplyCode,
    pub severity: Severity,
    pub message: String,
    pub point: Option<PointRef>,
    /// How the point's value is wrong, for a finding that rejects a point.
    pub wrong: Option<WrongKind>,
}

/// What an accepted login or logout changes in the hub's session state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionEffect {
    Login(DeviceId),
    Logout(DeviceId),
}

/// The predicted reply and everything found on the way.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckReport {
    /// The code of the first error in check order, or 200.
    pub code: ReplyCode,
    pub findings: Vec<Finding>,
    /// The request's id, to echo in the reply (the view's id).
    pub id: Option<MsgId>,
    /// What the hub's session state becomes, for a successful login or logout.
    pub effect: Option<SessionEffect>,
    /// The reply's `data`.
    pub data: Value,
    /// The request as read while checking it: what every other reader of it uses.
    pub view: RequestView,
}

impl CheckReport {
    /// The finding that decides the code.
    pub fn first_error(&self) -> Option<&Finding> {
        self.findings.iter().find(|f| f.severity == Severity::Error)
    }

    /// The reply's `message`: the place and reason of the first error.
    pub fn reply_message(&self) -> Option<String> {
        self.first_error()
            .map(|f| format!("{}: {}", f.path, f.message))
    }

    /// The reply the reference hub sends.
    pub fn reply(&self) -> Reply {
        Reply::new(
            self.id.clone(),
            self.code,
            self.reply_message(),
            self.data.clone(),
        )
    }

    /// Number of findings of one severity.
    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }
}

/// Predicts the hub's reply to `payload` published on `topic`.
///
/// Implements every rule and the check order of the protocol: the whole message first
/// (1008, 1251, 1220, 1009, 1260, 1206), then each element of `params` in turn: its device
/// (1212), then its points as written (1204). An event post is checked as the hub receives it
/// (its outputs against the event's, 1204), and a command before it is sent (1206 for its
/// shape, 1204 for what the target's model does not allow; the hub never answers one).
pub fn check(registry: &Registry, topic: &str, payload: &[u8]) -> CheckReport {
    let mut checker = Checker::new(Some(registry));
    checker.run(topic, payload);
    let code = checker
        .findings
        .iter()
        .find(|f| f.severity == Severity::Error)
        .map_or(ReplyCode::SUCCESS, |f| f.code);
    if code != ReplyCode::SUCCESS {
        checker.effect = None;
    }
    CheckReport {
        code,
        findings: checker.findings,
        id: checker.view.id.clone(),
        effect: checker.effect,
        data: checker.data,
        view: checker.view,
    }
}

/// Reads a request into its view with the checker's own code, without a registry.
pub(super) fn read(topic: &str, payload: &[u8]) -> RequestView {
    let mut checker = Checker::new(None);
    checker.run(topic, payload);
    checker.view
}

/// The checker's state while it reads one request.
pub(super) struct Checker<'a> {
    /// `None` when only reading the view: then no limit applies and nothing is looked up.
    pub(super) registry: Option<&'a Registry>,
    pub(super) findings: Vec<Finding>,
    effect: Option<SessionEffect>,
    data: Value,
    pub(super) view: RequestView,
}

/// What the shape pass read of one element of `params`.
struct ElementShape {
    /// The device its keys name, when both are readable and not empty.
    device: Option<DeviceId>,
    time: Option<EpochMs>,
    well_formed: bool,
}

/// A flag of a points message (`allowOfflineSubDevice`, `skipInvalidMeasurepoints`): `false`
/// when absent, `null` or `""`; `None` when it is of another type, a shape error.
pub(super) fn read_flag(value: Option<&Value>) -> Option<bool> {
    match value {
        None | Some(Value::Null) => Some(false),
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::String(s)) if s.is_empty() => Some(false),
        Some(_) => None,
    }
}

/// A `time` as the protocol has it: an integer of epoch milliseconds, not a float.
pub(super) fn epoch_ms(time: &Value) -> Option<EpochMs> {
    match time {
        Value::Number(n) if !n.is_f64() => n.as_i64().map(EpochMs),
        _ => None,
    }
}

/// `params[i]`, or `params` for a single post.
fn element_path(index: Option<usize>) -> String {
    match index {
        Some(i) => format!("params[{i}]"),
        None => "params".to_owned(),
    }
}

impl<'a> Checker<'a> {
    fn new(registry: Option<&'a Registry>) -> Self {
        Self {
            registry,
            findings: Vec::new(),
            effect: None,
            data: Value::Object(Map::new()),
            view: RequestView::default(),
        }
    }

    pub(super) fn push(
        &mut self,
        path: impl Into<String>,
        code: ReplyCode,
        message: impl Into<String>,
    ) {
        self.findings.push(Finding {
            path: path.into(),
            code,
            severity: Severity::Error,
            message: message.into(),
            point: None,
            wrong: None,
        });
    }

    /// A finding about a value at `path`: rejected (1204), or only a warning.
    pub(super) fn push_value(&mut self, path: String, verdict: Verdict) {
        let (code, severity, message, wrong) = match verdict {
            Ok(None) => return,
            Ok(Some(warning)) => (ReplyCode::SUCCESS, Severity::Warning, warning, None),
            Err(Invalid { kind, message }) => {
                (ReplyCode::MODEL, Severity::Error, message, Some(kind))
            }
        };
        self.findings.push(Finding {
            path,
            code,
            severity,
            message,
            point: None,
            wrong,
        });
    }

    /// A warning: the hub accepts it, but it is not what the model asks for.
    pub(super) fn warn(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.findings.push(Finding {
            path: path.into(),
            code: ReplyCode::SUCCESS,
            severity: Severity::Warning,
            message: message.into(),
            point: None,
            wrong: None,
        });
    }

    fn run(&mut self, topic: &str, payload: &[u8]) {
        if let Some(registry) = self.registry
            && payload.len() > registry.max_payload
        {
            let limit = registry.max_payload;
            self.push(
                "(payload)",
                ReplyCode::TOO_LARGE,
                format!(
                    "payload of {} bytes is over the hub's limit of {limit} bytes",
                    payload.len()
                ),
            );
            self.view.method = parse_topic(topic).map(|t| t.method);
            return;
        }
        if payload.is_empty() {
            self.push("(payload)", ReplyCode::EMPTY, "payload is empty");
            self.view.method = parse_topic(topic).map(|t| t.method);
            return;
        }
        let body = match serde_json::from_slice::<Value>(payload) {
            Ok(Value::Object(body)) => body,
            Ok(other) => {
                self.push(
                    "(payload)",
                    ReplyCode::FORMAT,
                    format!("payload is JSON but not an object: {}", describe(&other)),
                );
                self.view.method = parse_topic(topic).map(|t| t.method);
                return;
            }
            Err(e) => {
                self.push(
                    "(payload)",
                    ReplyCode::FORMAT,
                    format!("payload is not JSON: {e}"),
                );
                self.view.method = parse_topic(topic).map(|t| t.method);
                return;
            }
        };
        self.view.id = id_of(&body);
        let Some(parsed) = parse_topic(topic) else {
            self.push(
                "(topic)",
                ReplyCode::NO_PERMISSION,
                format!("topic {topic:?} is not one the hub serves"),
            );
            return;
        };
        self.view.method = Some(parsed.method);
        if parsed.reply {
            self.push(
                "(topic)",
                ReplyCode::NO_PERMISSION,
                format!("topic {topic:?} is a reply topic; devices publish requests"),
            );
            self.view.device = Some(parsed.device);
            return;
        }
        if let Some(registry) = self.registry
            && !registry.devices.contains_key(&parsed.device)
        {
            self.push(
                "(topic)",
                ReplyCode::NO_PERMISSION,
                format!(
                    "device {} of the topic is unknown to the hub",
                    parsed.device
                ),
            );
        }
        let expected = parsed.method_name();
        match body.get("method") {
            None => self.push(
                "method",
                ReplyCode::METHOD_MISMATCH,
                format!("is missing; the topic's method is {expected:?}"),
            ),
            Some(Value::String(m)) if *m == expected => {}
            Some(other) => self.push(
                "method",
                ReplyCode::METHOD_MISMATCH,
                format!(
                    "is {}, but the topic's method is {expected:?}",
                    describe(other)
                ),
            ),
        }
        match parsed.method {
            Method::PostBatch | Method::Post | Method::ResumeBatch => {
                self.check_points_message(&parsed, body);
            }
            Method::Login | Method::Logout => self.check_session_message(&parsed, &body),
            Method::EventPost => self.check_event_post(&parsed, body),
            Method::SetPoints | Method::GetPoints | Method::Invoke => {
                self.check_command(&parsed, body);
            }
        }
        self.view.device = Some(parsed.device);
    }

    fn check_flag(&mut self, body: &Map<String, Value>, name: &str) -> bool {
        let value = body.get(name);
        read_flag(value).unwrap_or_else(|| {
            let got = value.map_or("nothing".to_owned(), describe);
            self.push(
                name,
                ReplyCode::SHAPE,
                format!("must be true, false or \"\", got {got}"),
            );
            false
        })
    }

    pub(super) fn check_version(&mut self, body: &Map<String, Value>) {
        match body.get("version") {
            Some(Value::String(v)) if !v.is_empty() => {}
            None => self.push("version", ReplyCode::SHAPE, "is missing; send \"1.0\""),
            Some(other) => self.push(
                "version",
                ReplyCode::SHAPE,
                format!(
                    "must be a non-empty string such as \"1.0\", got {}",
                    describe(other)
                ),
            ),
        }
    }

    /// Batch, resume batch and single post.
    fn check_points_message(&mut self, topic: &ParsedTopic, mut body: Map<String, Value>) {
        // Pass 1: the shape of the whole message, so 1206 wins over any device or point. The
        // elements are read into the view on the way.
        self.check_version(&body);
        let allow_offline = self.check_flag(&body, "allowOfflineSubDevice");
        let skip_invalid = self.check_flag(&body, "skipInvalidMeasurepoints");
        let mut elements: Vec<ElementView> = Vec::new();
        match (topic.method, body.remove("params")) {
            (Method::Post, Some(Value::Object(element))) => {
                elements.push(self.read_element(topic, None, element));
            }
            (Method::Post, other) => self.push(
                "params",
                ReplyCode::SHAPE,
                format!(
                    "must be an object {{\"measurepoints\": {{...}}, \"time\": ms}} for a single post, got {}",
                    other.as_ref().map_or("nothing".to_owned(), describe)
                ),
            ),
            (_, Some(Value::Array(params))) => {
                let empty = params.is_empty();
                elements.reserve(params.len());
                for (i, element) in params.into_iter().enumerate() {
                    match element {
                        Value::Object(element) => {
                            elements.push(self.read_element(topic, Some(i), element));
                        }
                        other => self.push(
                            format!("params[{i}]"),
                            ReplyCode::SHAPE,
                            format!("must be an object, got {}", describe(&other)),
                        ),
                    }
                }
                if empty {
                    self.warn("params", "is empty: the request carries no data");
                }
            }
            (_, other) => self.push(
                "params",
                ReplyCode::SHAPE,
                format!(
                    "must be an array, got {}",
                    other.as_ref().map_or("nothing".to_owned(), describe)
                ),
            ),
        }
        // Pass 2: each element in turn, its device and then its points.
        if let Some(registry) = self.registry {
            for element in elements.iter().filter(|e| e.well_formed) {
                self.check_element(registry, topic, element, allow_offline, skip_invalid);
            }
        }
        self.view.elements = elements;
    }

    /// Reads one element of `params` into the view, its points moved, not copied; its shape's
    /// faults are findings.
    fn read_element(
        &mut self,
        topic: &ParsedTopic,
        index: Option<usize>,
        mut element: Map<String, Value>,
    ) -> ElementView {
        let shape = self.element_shape(index, &element);
        ElementView {
            index,
            device: shape.device.unwrap_or_else(|| topic.device.clone()),
            time: shape.time,
            points: match element.remove("measurepoints") {
                Some(Value::Object(points)) => points,
                _ => Map::new(),
            },
            well_formed: shape.well_formed,
        }
    }

    fn element_shape(
        &mut self,
        index: Option<usize>,
        element: &Map<String, Value>,
    ) -> ElementShape {
        let path = element_path(index);
        let before = self.findings.len();
        let key = |name: &str, checker: &mut Self| -> Option<String> {
            match element.get(name) {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) if s.is_empty() => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(other) => {
                    checker.push(
                        format!("{path}.{name}"),
                        ReplyCode::SHAPE,
                        format!("must be a string, got {}", describe(other)),
                    );
                    None
                }
            }
        };
        let product_key = key("productKey", self);
        let device_key = key("deviceKey", self);
        let device = match (product_key, device_key) {
            (Some(pk), Some(dk)) => Some(DeviceId::new(pk, dk)),
            (None, None) => None,
            (Some(_), None) | (None, Some(_)) if self.findings.len() > before => None,
            (Some(_), None) => {
                self.push(
                    format!("{path}.deviceKey"),
                    ReplyCode::SHAPE,
                    "is missing while productKey is given; give both or neither",
                );
                None
            }
            (None, Some(_)) => {
                self.push(
                    format!("{path}.productKey"),
                    ReplyCode::SHAPE,
                    "is missing while deviceKey is given; give both or neither",
                );
                None
            }
        };
        let time = self.time_of(element, &path);
        match element.get("measurepoints") {
            Some(Value::Object(_)) => {}
            None => self.push(
                format!("{path}.measurepoints"),
                ReplyCode::SHAPE,
                "is missing",
            ),
            Some(other) => self.push(
                format!("{path}.measurepoints"),
                ReplyCode::SHAPE,
                format!("must be an object, got {}", describe(other)),
            ),
        }
        ElementShape {
            device,
            time,
            well_formed: self.findings.len() == before,
        }
    }

    /// The `time` of an element (or of an event's params at `path`): absent, or an integer.
    pub(super) fn time_of(&mut self, element: &Map<String, Value>, path: &str) -> Option<EpochMs> {
        let time = element.get("time")?;
        let ms = epoch_ms(time);
        if ms.is_none() {
            self.push(
                format!("{path}.time"),
                ReplyCode::SHAPE,
                format!("must be an integer (epoch ms), got {}", describe(time)),
            );
        }
        ms
    }

    /// One element whose shape is right.
    fn check_element(
        &mut self,
        registry: &Registry,
        topic: &ParsedTopic,
        element: &ElementView,
        allow_offline: bool,
        skip_invalid: bool,
    ) {
        let (index, device, points) = (element.index, &element.device, &element.points);
        let mut device_known = registry.devices.contains_key(device);
        if device != &topic.device {
            if !registry.is_sub_device_of(device, &topic.device) {
                let why = if device_known {
                    format!("device {device} is not a sub-device of {}", topic.device)
                } else {
                    format!(
                        "device {device} is unknown to the hub and not a sub-device of {}",
                        topic.device
                    )
                };
                self.push(element_path(index), ReplyCode::SUB_DEVICE, why);
                device_known = false;
            } else if !allow_offline && !registry.logged_in.contains(device) {
                self.push(
                    element_path(index),
                    ReplyCode::SUB_DEVICE,
                    format!(
                        "sub-device {device} is not logged in; log it in or set allowOfflineSubDevice"
                    ),
                );
            }
        }
        let model = registry.model_of(&device.product_key);
        if model.is_none() && !device_known {
            return;
        }
        let failed = if skip_invalid {
            Severity::Skipped
        } else {
            Severity::Error
        };
        for (identifier, value) in points {
            let verdict = match model {
                None => Err((
                    None,
                    format!(
                        "no thing model is loaded for product {}",
                        device.product_key
                    ),
                )),
                Some(model) => match model.point(identifier) {
                    None => Err((
                        Some(WrongKind::UnknownIdentifier),
                        format!(
                            "\"{identifier}\" is not a measure point of model {}",
                            model.model_id
                        ),
                    )),
                    Some(point) => check_point_value(point, value)
                        .map_err(|Invalid { kind, message }| (Some(kind), message)),
                },
            };
            let (code, severity, message, wrong) = match verdict {
                Ok(None) => continue,
                Ok(Some(warning)) => (ReplyCode::SUCCESS, Severity::Warning, warning, None),
                Err((wrong, e)) => (ReplyCode::MODEL, failed, e, wrong),
            };
            self.findings.push(Finding {
                path: format!("{}.measurepoints.{identifier}", element_path(index)),
                code,
                severity,
                message,
                point: Some(PointRef {
                    element: index,
                    identifier: identifier.clone(),
                }),
                wrong,
            });
        }
    }

    /// `combine.login` and `combine.logout`.
    fn check_session_message(&mut self, topic: &ParsedTopic, body: &Map<String, Value>) {
        self.check_version_lenient(body);
        let Some(Value::Object(params)) = body.get("params") else {
            let got = body.get("params").map_or("nothing".to_owned(), describe);
            self.push(
                "params",
                ReplyCode::SHAPE,
                format!("must be an object, got {got}"),
            );
            return;
        };
        let login = topic.method == Method::Login;
        let text = |name: &str, checker: &mut Self| -> Option<String> {
            match params.get(name) {
                Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
                Some(Value::Number(n)) if name == "timestamp" && n.as_u64().is_some() => {
                    Some(n.to_string())
                }
                other => {
                    checker.push(
                        format!("params.{name}"),
                        ReplyCode::SHAPE,
                        format!(
                            "must be a non-empty string, got {}",
                            other.map_or("nothing".to_owned(), describe)
                        ),
                    );
                    None
                }
            }
        };
        let product_key = text("productKey", self);
        let device_key = text("deviceKey", self);
        let signing = if login {
            let client_id = text("clientId", self);
            let timestamp = text("timestamp", self);
            let method = text("signMethod", self);
            let sign = text("sign", self);
            Some((client_id, timestamp, method, sign))
        } else {
            None
        };
        if let (Some(pk), Some(dk)) = (product_key, device_key) {
            self.view.session_device = Some(DeviceId::new(pk, dk));
        }
        if self.findings.iter().any(|f| f.severity == Severity::Error) {
            return;
        }
        let (Some(registry), Some(device)) = (self.registry, self.view.session_device.clone())
        else {
            return;
        };
        let Some(entry) = registry.devices.get(&device) else {
            self.push(
                "params",
                ReplyCode::DEVICE_NOT_FOUND,
                format!("device {device} is unknown to the hub"),
            );
            return;
        };
        if !registry.is_sub_device_of(&device, &topic.device) {
            self.push(
                "params",
                ReplyCode::NOT_SUB_DEVICE,
                format!(
                    "device {device} is not a sub-device of gateway {}",
                    topic.device
                ),
            );
            return;
        }
        if let Some((Some(client_id), Some(timestamp), Some(method), Some(given))) = signing {
            if !is_sha256_sign_method(&method) {
                self.push(
                    "params.signMethod",
                    ReplyCode::SIGN_FAILED,
                    format!("is {method:?}; the hub checks \"sha256\" (also named \"hmacsha256\") signs only"),
                );
                return;
            }
            let Some(secret) = &entry.secret else {
                self.push(
                    "params.sign",
                    ReplyCode::SIGN_FAILED,
                    format!("no secret is known for device {device}, so no sign can match"),
                );
                return;
            };
            let checked = check_sign(
                &method,
                &client_id,
                &device,
                &timestamp,
                secret.expose(),
                &given,
            );
            if checked.is_err() {
                self.push(
                    "params.sign",
                    ReplyCode::SIGN_FAILED,
                    format!("does not match the secret of device {device}"),
                );
                return;
            }
        }
        self.data = serde_json::json!({
            "productKey": device.product_key.0,
            "deviceKey": device.device_key.0,
        });
        self.effect = Some(if login {
            SessionEffect::Login(device)
        } else {
            SessionEffect::Logout(device)
        });
    }

    /// Session messages: a version is expected but the SDKs differ; only a wrong type is an error.
    fn check_version_lenient(&mut self, body: &Map<String, Value>) {
        if let Some(v) = body.get("version")
            && !v.is_string()
        {
            self.push(
                "version",
                ReplyCode::SHAPE,
                format!("must be a string such as \"1.0\", got {}", describe(v)),
            );
        }
    }
}
