//! The one checker: predicts the hub's reply to a payload on a topic, with every finding.
//!
//! The window, `thingbench check` and the reference hub all call [`check`].

use serde_json::{Map, Value};

use crate::protocol::{
    DeviceId, Method, MsgId, ParsedTopic, Reply, ReplyCode, check_sign, id_of,
    is_sha256_sign_method, parse_topic,
};

use super::registry::Registry;
use super::value::{Invalid, check_point_value, describe};
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
    /// The method of the topic, when the topic is one the hub serves.
    pub method: Option<Method>,
    /// The request's id, to echo in the reply.
    pub id: Option<MsgId>,
    /// What the hub's session state becomes, for a successful login or logout.
    pub effect: Option<SessionEffect>,
    /// The reply's `data`.
    pub data: Value,
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
/// (1212), then its points as written (1204).
pub fn check(registry: &Registry, topic: &str, payload: &[u8]) -> CheckReport {
    let mut checker = Checker {
        registry,
        findings: Vec::new(),
        effect: None,
        data: Value::Object(Map::new()),
    };
    let (method, id) = checker.run(topic, payload);
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
        method,
        id,
        effect: checker.effect,
        data: checker.data,
    }
}

struct Checker<'a> {
    registry: &'a Registry,
    findings: Vec<Finding>,
    effect: Option<SessionEffect>,
    data: Value,
}

/// One element of `params` whose shape is right.
struct Element<'m> {
    index: Option<usize>,
    device: Option<DeviceId>,
    points: &'m Map<String, Value>,
}

impl<'m> Element<'m> {
    fn path(&self) -> String {
        match self.index {
            Some(i) => format!("params[{i}]"),
            None => "params".to_owned(),
        }
    }
}

impl Checker<'_> {
    fn push(&mut self, path: impl Into<String>, code: ReplyCode, message: impl Into<String>) {
        self.findings.push(Finding {
            path: path.into(),
            code,
            severity: Severity::Error,
            message: message.into(),
            point: None,
            wrong: None,
        });
    }

    fn run(&mut self, topic: &str, payload: &[u8]) -> (Option<Method>, Option<MsgId>) {
        let limit = self.registry.max_payload;
        if payload.len() > limit {
            self.push(
                "(payload)",
                ReplyCode::TOO_LARGE,
                format!(
                    "payload of {} bytes is over the hub's limit of {limit} bytes",
                    payload.len()
                ),
            );
            return (parse_topic(topic).map(|t| t.method), None);
        }
        if payload.is_empty() {
            self.push("(payload)", ReplyCode::EMPTY, "payload is empty");
            return (parse_topic(topic).map(|t| t.method), None);
        }
        let body = match serde_json::from_slice::<Value>(payload) {
            Ok(Value::Object(body)) => body,
            Ok(other) => {
                self.push(
                    "(payload)",
                    ReplyCode::FORMAT,
                    format!("payload is JSON but not an object: {}", describe(&other)),
                );
                return (parse_topic(topic).map(|t| t.method), None);
            }
            Err(e) => {
                self.push(
                    "(payload)",
                    ReplyCode::FORMAT,
                    format!("payload is not JSON: {e}"),
                );
                return (parse_topic(topic).map(|t| t.method), None);
            }
        };
        let id = id_of(&body);
        let Some(parsed) = parse_topic(topic) else {
            self.push(
                "(topic)",
                ReplyCode::NO_PERMISSION,
                format!("topic {topic:?} is not one the hub serves"),
            );
            return (None, id);
        };
        if parsed.reply {
            self.push(
                "(topic)",
                ReplyCode::NO_PERMISSION,
                format!("topic {topic:?} is a reply topic; devices publish requests"),
            );
            return (Some(parsed.method), id);
        }
        if !self.registry.devices.contains_key(&parsed.device) {
            self.push(
                "(topic)",
                ReplyCode::NO_PERMISSION,
                format!(
                    "device {} of the topic is unknown to the hub",
                    parsed.device
                ),
            );
        }
        let expected = parsed.method.name();
        match body.get("method") {
            None => self.push(
                "method",
                ReplyCode::METHOD_MISMATCH,
                format!("is missing; the topic's method is {expected:?}"),
            ),
            Some(Value::String(m)) if m == expected => {}
            Some(other) => self.push(
                "method",
                ReplyCode::METHOD_MISMATCH,
                format!(
                    "is {}, but the topic's method is {expected:?}",
                    describe(other)
                ),
            ),
        }
        if parsed.method.carries_points() {
            self.check_points_message(&parsed, &body);
        } else {
            self.check_session_message(&parsed, &body);
        }
        (Some(parsed.method), id)
    }

    fn check_flag(&mut self, body: &Map<String, Value>, name: &str) -> bool {
        match body.get(name) {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) if s.is_empty() => false,
            Some(other) => {
                self.push(
                    name,
                    ReplyCode::SHAPE,
                    format!("must be true, false or \"\", got {}", describe(other)),
                );
                false
            }
        }
    }

    fn check_version(&mut self, body: &Map<String, Value>) {
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
    fn check_points_message(&mut self, topic: &ParsedTopic, body: &Map<String, Value>) {
        // Pass 1: the shape of the whole message, so 1206 wins over any device or point.
        self.check_version(body);
        let allow_offline = self.check_flag(body, "allowOfflineSubDevice");
        let skip_invalid = self.check_flag(body, "skipInvalidMeasurepoints");
        let mut elements = Vec::new();
        match (topic.method, body.get("params")) {
            (Method::Post, Some(Value::Object(element))) => {
                if let Some(e) = self.element_shape(None, element) {
                    elements.push(e);
                }
            }
            (Method::Post, other) => self.push(
                "params",
                ReplyCode::SHAPE,
                format!(
                    "must be an object {{\"measurepoints\": {{...}}, \"time\": ms}} for a single post, got {}",
                    other.map_or("nothing".to_owned(), describe)
                ),
            ),
            (_, Some(Value::Array(params))) => {
                for (i, element) in params.iter().enumerate() {
                    match element {
                        Value::Object(element) => {
                            if let Some(e) = self.element_shape(Some(i), element) {
                                elements.push(e);
                            }
                        }
                        other => self.push(
                            format!("params[{i}]"),
                            ReplyCode::SHAPE,
                            format!("must be an object, got {}", describe(other)),
                        ),
                    }
                }
                if params.is_empty() {
                    self.findings.push(Finding {
                        path: "params".into(),
                        code: ReplyCode::SUCCESS,
                        severity: Severity::Warning,
                        message: "is empty: the request carries no data".into(),
                        point: None,
                        wrong: None,
                    });
                }
            }
            (_, other) => self.push(
                "params",
                ReplyCode::SHAPE,
                format!("must be an array, got {}", other.map_or("nothing".to_owned(), describe)),
            ),
        }
        // Pass 2: each element in turn, its device and then its points.
        for element in elements {
            self.check_element(topic, &element, allow_offline, skip_invalid);
        }
    }

    fn element_shape<'m>(
        &mut self,
        index: Option<usize>,
        element: &'m Map<String, Value>,
    ) -> Option<Element<'m>> {
        let path = match index {
            Some(i) => format!("params[{i}]"),
            None => "params".to_owned(),
        };
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
        match element.get("time") {
            None => {}
            Some(Value::Number(n)) if n.as_i64().is_some() && !n.is_f64() => {}
            Some(other) => self.push(
                format!("{path}.time"),
                ReplyCode::SHAPE,
                format!("must be an integer (epoch ms), got {}", describe(other)),
            ),
        }
        let points = match element.get("measurepoints") {
            Some(Value::Object(points)) => Some(points),
            None => {
                self.push(
                    format!("{path}.measurepoints"),
                    ReplyCode::SHAPE,
                    "is missing",
                );
                None
            }
            Some(other) => {
                self.push(
                    format!("{path}.measurepoints"),
                    ReplyCode::SHAPE,
                    format!("must be an object, got {}", describe(other)),
                );
                None
            }
        };
        if self.findings.len() > before {
            return None;
        }
        Some(Element {
            index,
            device,
            points: points?,
        })
    }

    fn check_element(
        &mut self,
        topic: &ParsedTopic,
        element: &Element<'_>,
        allow_offline: bool,
        skip_invalid: bool,
    ) {
        let registry = self.registry;
        let device = element.device.as_ref().unwrap_or(&topic.device);
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
                self.push(element.path(), ReplyCode::SUB_DEVICE, why);
                device_known = false;
            } else if !allow_offline && !registry.logged_in.contains(device) {
                self.push(
                    element.path(),
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
        for (identifier, value) in element.points {
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
                path: format!("{}.measurepoints.{identifier}", element.path()),
                code,
                severity,
                message,
                point: Some(PointRef {
                    element: element.index,
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
        if self.findings.iter().any(|f| f.severity == Severity::Error) {
            return;
        }
        let (Some(pk), Some(dk)) = (product_key, device_key) else {
            return;
        };
        let device = DeviceId::new(pk, dk);
        let registry = self.registry;
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
