//! Topics: built from a method and a device, and parsed back.

use std::borrow::Cow;

use super::types::DeviceId;

/// The methods thingbench speaks: the device's requests to the hub, and the platform's commands
/// to the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// `thing.measurepoint.post.batch`
    PostBatch,
    /// `thing.measurepoint.post`: one device, one timestamp.
    Post,
    /// `thing.measurepoint.resume.batch`: back-filled data.
    ResumeBatch,
    /// `combine.login`: a sub-device comes online through its gateway.
    Login,
    /// `combine.logout`
    Logout,
    /// `thing.event.{eventId}.post`: an event of the topic's device; the event id is the topic's.
    EventPost,
    /// `thing.service.measurepoint.set`: the platform sets measure points of the topic's device.
    SetPoints,
    /// `thing.service.measurepoint.get`: the platform reads measure points of the topic's device.
    GetPoints,
    /// `thing.service.{serviceId}`: the platform invokes a service; the service id is the topic's.
    Invoke,
}

impl Method {
    /// Every method, the device's requests first (batch first), then the event post and the
    /// three commands.
    pub const ALL: [Self; 9] = [
        Self::PostBatch,
        Self::Post,
        Self::ResumeBatch,
        Self::Login,
        Self::Logout,
        Self::EventPost,
        Self::SetPoints,
        Self::GetPoints,
        Self::Invoke,
    ];

    /// The `method` string of the body. For an event post and an invoke, which name an
    /// identifier, the pattern with the identifier's place in braces (a label, not a name to
    /// send: see [`method_name`]).
    pub fn name(self) -> &'static str {
        match self {
            Self::PostBatch => "thing.measurepoint.post.batch",
            Self::Post => "thing.measurepoint.post",
            Self::ResumeBatch => "thing.measurepoint.resume.batch",
            Self::Login => "combine.login",
            Self::Logout => "combine.logout",
            Self::EventPost => "thing.event.{eventId}.post",
            Self::SetPoints => "thing.service.measurepoint.set",
            Self::GetPoints => "thing.service.measurepoint.get",
            Self::Invoke => "thing.service.{serviceId}",
        }
    }

    /// The method named `name`, if thingbench knows it (an event post and an invoke by any
    /// identifier).
    pub fn from_name(name: &str) -> Option<Self> {
        parse_method(name).map(|(method, _)| method)
    }

    /// True for the methods that carry measure points.
    pub fn carries_points(self) -> bool {
        matches!(self, Self::PostBatch | Self::Post | Self::ResumeBatch)
    }

    /// True for the platform's commands to a device (set, get, invoke).
    pub fn is_command(self) -> bool {
        matches!(self, Self::SetPoints | Self::GetPoints | Self::Invoke)
    }

    /// True for the methods named by an identifier (an event post's event, an invoke's service).
    pub fn takes_identifier(self) -> bool {
        matches!(self, Self::EventPost | Self::Invoke)
    }

    fn prefix(self) -> &'static str {
        match self {
            Self::Login | Self::Logout => "/ext/session",
            _ => "/sys",
        }
    }

    /// The topic's tail after `{pk}/{dk}/`, with `identifier` in its place.
    fn suffix(self, identifier: &str) -> Cow<'static, str> {
        Cow::Borrowed(match self {
            Self::PostBatch => "thing/measurepoint/post/batch",
            Self::Post => "thing/measurepoint/post",
            Self::ResumeBatch => "thing/measurepoint/resume/batch",
            Self::Login => "combine/login",
            Self::Logout => "combine/logout",
            Self::SetPoints => "thing/service/measurepoint/set",
            Self::GetPoints => "thing/service/measurepoint/get",
            Self::EventPost => return Cow::Owned(format!("thing/event/{identifier}/post")),
            Self::Invoke => return Cow::Owned(format!("thing/service/{identifier}")),
        })
    }
}

/// The `method` string of a body: [`Method::name`], with `identifier` (the event id of an event
/// post, the service id of an invoke) in its place.
pub fn method_name(method: Method, identifier: &str) -> Cow<'static, str> {
    match method {
        Method::EventPost => Cow::Owned(format!("thing.event.{identifier}.post")),
        Method::Invoke => Cow::Owned(format!("thing.service.{identifier}")),
        other => Cow::Borrowed(other.name()),
    }
}

/// Reads a body's `method` string: the method and, for an event post or an invoke, its
/// identifier; `None` for a method thingbench does not know.
pub fn parse_method(name: &str) -> Option<(Method, Option<&str>)> {
    if let Some(fixed) = Method::ALL
        .into_iter()
        .find(|m| !m.takes_identifier() && m.name() == name)
    {
        return Some((fixed, None));
    }
    if let Some(event) = name
        .strip_prefix("thing.event.")
        .and_then(|rest| rest.strip_suffix(".post"))
        .filter(|id| is_identifier(id))
    {
        return Some((Method::EventPost, Some(event)));
    }
    // `thing.service.measurepoint.set` and `.get` were found above.
    name.strip_prefix("thing.service.")
        .filter(|id| is_identifier(id))
        .map(|service| (Method::Invoke, Some(service)))
}

/// An event or service id as a topic level may hold it: not empty, no `/`, no wildcard.
fn is_identifier(id: &str) -> bool {
    !id.is_empty() && !id.contains(['/', '+', '#'])
}

/// The request topic of `method` for the connected device `device`. For an event post and an
/// invoke, whose topics name an identifier, the `+` wildcard stands in its place: a filter to
/// subscribe to, not a topic to publish on (use [`topic_of`]).
pub fn request_topic(method: Method, device: &DeviceId) -> String {
    topic_of(method, device, "+")
}

/// The request topic of `method` for `device` (the connected device, or a command's target),
/// with `identifier` (an event post's event id, an invoke's service id; ignored by the others).
pub fn topic_of(method: Method, device: &DeviceId, identifier: &str) -> String {
    format!(
        "{}/{}/{}/{}",
        method.prefix(),
        device.product_key.0,
        device.device_key.0,
        method.suffix(identifier)
    )
}

/// The request topic for a body whose `method` is `name`, for `device`; `None` when the name is
/// not a method thingbench knows.
pub fn topic_of_method_name(name: &str, device: &DeviceId) -> Option<String> {
    let (method, identifier) = parse_method(name)?;
    Some(topic_of(method, device, identifier.unwrap_or_default()))
}

/// The reply topic of a request topic.
pub fn reply_topic(request_topic: &str) -> String {
    format!("{request_topic}_reply")
}

/// A topic that thingbench understands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedTopic {
    pub method: Method,
    /// The device of the topic: the connected gateway or device, or a command's target.
    pub device: DeviceId,
    /// True for a `_reply` topic.
    pub reply: bool,
    /// The event id of an event post, the service id of an invoke; `None` for the others.
    pub identifier: Option<String>,
}

impl ParsedTopic {
    /// The `method` string a body on this topic must name.
    pub fn method_name(&self) -> Cow<'static, str> {
        method_name(self.method, self.identifier.as_deref().unwrap_or_default())
    }
}

/// Parses a request or reply topic; `None` for a topic of another kind.
pub fn parse_topic(topic: &str) -> Option<ParsedTopic> {
    let (topic, reply) = match topic.strip_suffix("_reply") {
        Some(request) => (request, true),
        None => (topic, false),
    };
    let (session, rest) = match topic.strip_prefix("/sys/") {
        Some(rest) => (false, rest),
        None => (true, topic.strip_prefix("/ext/session/")?),
    };
    let (pk, rest) = rest.split_once('/')?;
    let (dk, tail) = rest.split_once('/')?;
    if pk.is_empty() || dk.is_empty() {
        return None;
    }
    let (method, identifier) = if session {
        match tail {
            "combine/login" => (Method::Login, None),
            "combine/logout" => (Method::Logout, None),
            _ => return None,
        }
    } else {
        match tail {
            "thing/measurepoint/post/batch" => (Method::PostBatch, None),
            "thing/measurepoint/post" => (Method::Post, None),
            "thing/measurepoint/resume/batch" => (Method::ResumeBatch, None),
            "thing/service/measurepoint/set" => (Method::SetPoints, None),
            "thing/service/measurepoint/get" => (Method::GetPoints, None),
            _ => {
                if let Some(event) = tail
                    .strip_prefix("thing/event/")
                    .and_then(|t| t.strip_suffix("/post"))
                    .filter(|id| is_identifier(id))
                {
                    (Method::EventPost, Some(event))
                } else {
                    let service = tail
                        .strip_prefix("thing/service/")
                        .filter(|id| is_identifier(id))?;
                    (Method::Invoke, Some(service))
                }
            }
        }
    };
    Some(ParsedTopic {
        method,
        device: DeviceId::new(pk, dk),
        reply,
        identifier: identifier.map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_round_trip() {
        let gw = DeviceId::new("gwPk", "gw01");
        for method in Method::ALL {
            let topic = topic_of(method, &gw, "overTemp");
            let parsed = parse_topic(&topic).expect("own topic parses");
            assert_eq!(parsed.method, method);
            assert_eq!(parsed.device, gw);
            assert!(!parsed.reply);
            let identifier = method.takes_identifier().then(|| "overTemp".to_owned());
            assert_eq!(parsed.identifier, identifier);
            assert_eq!(
                parse_method(&parsed.method_name()),
                Some((method, identifier.as_deref()))
            );
            let reply = parse_topic(&reply_topic(&topic)).expect("reply topic parses");
            assert!(reply.reply);
            assert_eq!(reply.method, method);
            assert_eq!(reply.identifier, parsed.identifier);
            if !method.takes_identifier() {
                assert_eq!(request_topic(method, &gw), topic);
            }
        }
    }

    #[test]
    fn topics_match_the_protocol_page() {
        let d = DeviceId::new("pk", "dk");
        assert_eq!(
            request_topic(Method::PostBatch, &d),
            "/sys/pk/dk/thing/measurepoint/post/batch"
        );
        assert_eq!(
            reply_topic(&request_topic(Method::PostBatch, &d)),
            "/sys/pk/dk/thing/measurepoint/post/batch_reply"
        );
        assert_eq!(
            request_topic(Method::Post, &d),
            "/sys/pk/dk/thing/measurepoint/post"
        );
        assert_eq!(
            request_topic(Method::ResumeBatch, &d),
            "/sys/pk/dk/thing/measurepoint/resume/batch"
        );
        assert_eq!(
            request_topic(Method::Login, &d),
            "/ext/session/pk/dk/combine/login"
        );
        assert_eq!(
            request_topic(Method::Logout, &d),
            "/ext/session/pk/dk/combine/logout"
        );
        assert_eq!(
            topic_of(Method::EventPost, &d, "overTemp"),
            "/sys/pk/dk/thing/event/overTemp/post"
        );
        assert_eq!(
            request_topic(Method::EventPost, &d),
            "/sys/pk/dk/thing/event/+/post",
            "a filter for every event"
        );
        assert_eq!(
            request_topic(Method::SetPoints, &d),
            "/sys/pk/dk/thing/service/measurepoint/set"
        );
        assert_eq!(
            request_topic(Method::GetPoints, &d),
            "/sys/pk/dk/thing/service/measurepoint/get"
        );
        assert_eq!(
            topic_of(Method::Invoke, &d, "setPowerLimit"),
            "/sys/pk/dk/thing/service/setPowerLimit"
        );
        assert_eq!(
            reply_topic(&topic_of(Method::Invoke, &d, "setPowerLimit")),
            "/sys/pk/dk/thing/service/setPowerLimit_reply"
        );
    }

    #[test]
    fn event_and_command_topics_parse_with_their_identifier() {
        let parsed = parse_topic("/sys/invPk/inv01/thing/event/overTemp/post").expect("an event");
        assert_eq!(parsed.method, Method::EventPost);
        assert_eq!(parsed.device, DeviceId::new("invPk", "inv01"));
        assert_eq!(parsed.identifier.as_deref(), Some("overTemp"));
        assert_eq!(parsed.method_name(), "thing.event.overTemp.post");
        let reply = parse_topic("/sys/invPk/inv01/thing/service/setPowerLimit_reply")
            .expect("an invoke's reply");
        assert_eq!(
            (reply.method, reply.reply, reply.identifier.as_deref()),
            (Method::Invoke, true, Some("setPowerLimit"))
        );
        assert_eq!(reply.method_name(), "thing.service.setPowerLimit");
        let set = parse_topic("/sys/invPk/inv01/thing/service/measurepoint/set_reply")
            .expect("a set's reply");
        assert_eq!(
            (set.method, set.reply, set.identifier),
            (Method::SetPoints, true, None)
        );
        assert!(Method::SetPoints.is_command() && Method::Invoke.is_command());
        assert!(!Method::EventPost.is_command() && !Method::PostBatch.is_command());
    }

    #[test]
    fn foreign_topics_do_not_parse() {
        for topic in [
            "",
            "/sys/pk/dk/thing/event/post",
            "/sys/pk/dk/thing/event//post",
            "/sys/pk/dk/thing/event/a/b/post",
            "/sys/pk/dk/thing/event/+/post",
            "/sys/pk/dk/thing/service/",
            "/sys/pk/dk/thing/service/a/b",
            "/sys/pk/dk/thing/service/#",
            "/sys/pk/thing/measurepoint/post/batch",
            "/sys//dk/thing/measurepoint/post/batch",
            "/sys/a/b/c/thing/measurepoint/post/batch",
            "sys/pk/dk/thing/measurepoint/post/batch",
            "/ext/session/pk/dk/thing/measurepoint/post",
            "/sys/pk/dk/combine/login",
        ] {
            assert_eq!(parse_topic(topic), None, "{topic}");
        }
    }

    #[test]
    fn method_names() {
        for method in Method::ALL {
            assert_eq!(Method::from_name(method.name()), Some(method));
        }
        assert_eq!(Method::from_name("thing.event.post"), None);
        assert_eq!(
            parse_method("thing.event.overTemp.post"),
            Some((Method::EventPost, Some("overTemp")))
        );
        assert_eq!(
            parse_method("thing.service.setPowerLimit"),
            Some((Method::Invoke, Some("setPowerLimit")))
        );
        assert_eq!(
            parse_method("thing.service.measurepoint.get"),
            Some((Method::GetPoints, None))
        );
        assert_eq!(parse_method("thing.service."), None);
        assert_eq!(
            topic_of_method_name("thing.event.overTemp.post", &DeviceId::new("pk", "dk"))
                .as_deref(),
            Some("/sys/pk/dk/thing/event/overTemp/post")
        );
        assert_eq!(
            topic_of_method_name("nope", &DeviceId::new("pk", "dk")),
            None
        );
    }
}
