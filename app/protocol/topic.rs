//! Topics: built from a method and a device, and parsed back.

use super::types::DeviceId;

/// The methods thingbench speaks.
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
}

impl Method {
    /// Every method, batch first.
    pub const ALL: [Self; 5] = [
        Self::PostBatch,
        Self::Post,
        Self::ResumeBatch,
        Self::Login,
        Self::Logout,
    ];

    /// The `method` string of the body.
    pub fn name(self) -> &'static str {
        match self {
            Self::PostBatch => "thing.measurepoint.post.batch",
            Self::Post => "thing.measurepoint.post",
            Self::ResumeBatch => "thing.measurepoint.resume.batch",
            Self::Login => "combine.login",
            Self::Logout => "combine.logout",
        }
    }

    /// The method named `name`, if thingbench knows it.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }

    /// True for the methods that carry measure points.
    pub fn carries_points(self) -> bool {
        matches!(self, Self::PostBatch | Self::Post | Self::ResumeBatch)
    }

    fn prefix(self) -> &'static str {
        match self {
            Self::PostBatch | Self::Post | Self::ResumeBatch => "/sys",
            Self::Login | Self::Logout => "/ext/session",
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Self::PostBatch => "thing/measurepoint/post/batch",
            Self::Post => "thing/measurepoint/post",
            Self::ResumeBatch => "thing/measurepoint/resume/batch",
            Self::Login => "combine/login",
            Self::Logout => "combine/logout",
        }
    }
}

/// The request topic of `method` for the connected device `device`.
pub fn request_topic(method: Method, device: &DeviceId) -> String {
    format!(
        "{}/{}/{}/{}",
        method.prefix(),
        device.product_key.0,
        device.device_key.0,
        method.suffix()
    )
}

/// The reply topic of a request topic.
pub fn reply_topic(request_topic: &str) -> String {
    format!("{request_topic}_reply")
}

/// A topic that thingbench understands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedTopic {
    pub method: Method,
    /// The device of the topic: the connected gateway or device.
    pub device: DeviceId,
    /// True for a `_reply` topic.
    pub reply: bool,
}

/// Parses a request or reply topic; `None` for a topic of another kind.
pub fn parse_topic(topic: &str) -> Option<ParsedTopic> {
    let (topic, reply) = match topic.strip_suffix("_reply") {
        Some(request) => (request, true),
        None => (topic, false),
    };
    Method::ALL.into_iter().find_map(|method| {
        let rest = topic.strip_prefix(method.prefix())?.strip_prefix('/')?;
        let rest = rest.strip_suffix(method.suffix())?.strip_suffix('/')?;
        let (pk, dk) = rest.split_once('/')?;
        if pk.is_empty() || dk.is_empty() || dk.contains('/') {
            return None;
        }
        Some(ParsedTopic {
            method,
            device: DeviceId::new(pk, dk),
            reply,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_round_trip() {
        let gw = DeviceId::new("gwPk", "gw01");
        for method in Method::ALL {
            let topic = request_topic(method, &gw);
            let parsed = parse_topic(&topic).expect("own topic parses");
            assert_eq!(parsed.method, method);
            assert_eq!(parsed.device, gw);
            assert!(!parsed.reply);
            let reply = parse_topic(&reply_topic(&topic)).expect("reply topic parses");
            assert!(reply.reply);
            assert_eq!(reply.method, method);
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
    }

    #[test]
    fn foreign_topics_do_not_parse() {
        for topic in [
            "",
            "/sys/pk/dk/thing/event/post",
            "/sys/pk/thing/measurepoint/post/batch",
            "/sys//dk/thing/measurepoint/post/batch",
            "/sys/a/b/c/thing/measurepoint/post/batch",
            "sys/pk/dk/thing/measurepoint/post/batch",
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
    }
}
