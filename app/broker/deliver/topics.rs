//! The protocol's topics as the door reads them: whose they are, whether the platform sends
//! on them, and MQTT's topic filters (matching a topic, covering another filter), on bytes
//! nobody vouches for (never a panic).

use crate::protocol::DeviceId;

/// The door's filters for `device`'s topics: its commands, and its sessions' replies.
pub fn filters_of(device: &DeviceId) -> [String; 2] {
    let (pk, dk) = (&device.product_key.0, &device.device_key.0);
    [
        format!("/sys/{pk}/{dk}/thing/service/#"),
        format!("/ext/session/{pk}/{dk}/#"),
    ]
}

/// Whether a device's publish on `topic` is a request the platform answers on `_reply`: a
/// protocol topic that is not itself a reply, a command, or a filter.
pub(super) fn wants_reply(topic: &str) -> bool {
    is_protocol(topic)
        && !topic.ends_with("_reply")
        && command_target(topic).is_none()
        && !topic.contains(['+', '#'])
}

/// Whether `topic` is one of the protocol's: `/sys/...` or `/ext/session/...`.
pub(super) fn is_protocol(topic: &str) -> bool {
    topic.starts_with("/sys/") || topic.starts_with("/ext/session/")
}

/// The device and the rest of a protocol topic: `/sys/{pk}/{dk}/{tail}` or
/// `/ext/session/{pk}/{dk}/{tail}`.
pub(super) fn split_topic(topic: &str) -> Option<(&str, &str, &str)> {
    let rest = topic
        .strip_prefix("/sys/")
        .or_else(|| topic.strip_prefix("/ext/session/"))?;
    let (pk, rest) = rest.split_once('/')?;
    let (dk, tail) = rest.split_once('/')?;
    Some((pk, dk, tail))
}

/// Whether the platform sends on `topic`: a command (under `thing/service/`, not a `_reply`)
/// or a reply to a device's request (any other `_reply`).
pub fn platform_sends(topic: &str) -> bool {
    let Some((_, _, tail)) = split_topic(topic) else {
        return false;
    };
    let reply = topic.ends_with("_reply");
    if tail.starts_with("thing/service/") {
        !reply
    } else {
        reply
    }
}

/// The device a command topic (`/sys/{pk}/{dk}/thing/service/...`, not `_reply`) is for.
pub fn command_target(topic: &str) -> Option<DeviceId> {
    if !topic.starts_with("/sys/") || topic.ends_with("_reply") {
        return None;
    }
    let (pk, dk, tail) = split_topic(topic)?;
    let service = tail.strip_prefix("thing/service/")?;
    (!pk.is_empty() && !dk.is_empty() && !service.is_empty()).then(|| DeviceId::new(pk, dk))
}

/// Whether `filter` is a valid MQTT topic filter: `#` only last and alone in its level, `+`
/// alone in its level.
pub(super) fn valid_filter(filter: &str) -> bool {
    if filter.is_empty() {
        return false;
    }
    let levels: Vec<&str> = filter.split('/').collect();
    levels.iter().enumerate().all(|(at, level)| match *level {
        "#" => at + 1 == levels.len(),
        "+" => true,
        level => !level.contains(['#', '+']),
    })
}

/// Whether `topic` matches `filter` (MQTT's rules; a `$` topic matches no filter starting with
/// a wildcard). Never panics, whatever the bytes.
///
/// The door asks this of every message that passes it, a few filters each: so it walks both
/// strings once, level by level, instead of splitting them.
pub fn matches(topic: &str, filter: &str) -> bool {
    let (topic, filter) = (topic.as_bytes(), filter.as_bytes());
    if topic.first() == Some(&b'$') && matches!(filter.first(), Some(b'+' | b'#')) {
        return false;
    }
    // `t` and `f` are at the start of a level of each.
    let (mut t, mut f) = (0, 0);
    loop {
        let level_end = filter[f..]
            .iter()
            .position(|&b| b == b'/')
            .map_or(filter.len(), |n| f + n);
        match &filter[f..level_end] {
            b"#" => return true,
            b"+" => {
                t = topic[t..]
                    .iter()
                    .position(|&b| b == b'/')
                    .map_or(topic.len(), |n| t + n);
            }
            level => {
                let rest = &topic[t..];
                if !rest.starts_with(level) || rest.get(level.len()).is_some_and(|&b| b != b'/') {
                    return false;
                }
                t += level.len();
            }
        }
        f = level_end;
        // Both are at the end of a level: of the whole string, or at a '/'.
        match (t == topic.len(), f == filter.len()) {
            (true, true) => return true,
            (false, false) => (t, f) = (t + 1, f + 1),
            // More topic than filter.
            (false, true) => return false,
            // More filter than topic: only a last `#` matches nothing more.
            (true, false) => return &filter[f + 1..] == b"#" || filter[f + 1..].starts_with(b"#/"),
        }
    }
}

/// Whether every topic matching `inner` matches `outer` (both valid filters).
pub fn covers(outer: &str, inner: &str) -> bool {
    let mut outer = outer.split('/');
    let mut inner = inner.split('/');
    loop {
        match (outer.next(), inner.next()) {
            (Some("#"), _) => return true,
            (None, None) => return true,
            (Some("+"), Some(level)) if level != "#" => {}
            (Some(a), Some(b)) if a == b && b != "+" && b != "#" => {}
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// MQTT's matching as the rules say it, level by level: what [`matches`] must agree with.
    fn matches_by_levels(topic: &str, filter: &str) -> bool {
        if topic.starts_with('$') && filter.starts_with(['+', '#']) {
            return false;
        }
        let mut topics = topic.split('/');
        for level in filter.split('/') {
            if level == "#" {
                return true;
            }
            match topics.next() {
                Some(t) if level == "+" || level == t => {}
                _ => return false,
            }
        }
        topics.next().is_none()
    }

    #[test]
    fn matching_agrees_with_the_rules_level_by_level() {
        // Every topic and filter of up to four characters over the bytes that matter.
        let alphabet = ["a", "b", "/", "+", "#", "$", "é"];
        let mut strings = vec![String::new()];
        let mut last = vec![String::new()];
        for _ in 0..4 {
            last = last
                .iter()
                .flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}")))
                .collect();
            strings.extend(last.iter().cloned());
        }
        let topics: Vec<_> = strings.iter().filter(|s| !s.contains(['+', '#'])).collect();
        for filter in &strings {
            for topic in &topics {
                assert_eq!(
                    matches(topic, filter),
                    matches_by_levels(topic, filter),
                    "topic {topic:?}, filter {filter:?}"
                );
            }
        }
    }

    #[test]
    fn topic_rules() {
        assert!(platform_sends("/sys/a/b/thing/service/measurepoint/set"));
        assert!(platform_sends("/sys/a/b/thing/service/setPowerLimit"));
        assert!(!platform_sends(
            "/sys/a/b/thing/service/setPowerLimit_reply"
        ));
        assert!(platform_sends(
            "/sys/a/b/thing/measurepoint/post/batch_reply"
        ));
        assert!(platform_sends("/ext/session/a/b/combine/login_reply"));
        assert!(!platform_sends("/sys/a/b/thing/measurepoint/post/batch"));
        assert!(!platform_sends("/sys/a"));
        assert_eq!(
            command_target("/sys/invPk/inv01/thing/service/measurepoint/get"),
            Some(DeviceId::new("invPk", "inv01"))
        );
        assert_eq!(
            command_target("/sys/invPk/inv01/thing/service/x_reply"),
            None
        );
        assert_eq!(command_target("/sys/invPk/inv01/thing/service/"), None);
        assert_eq!(
            command_target("/ext/session/invPk/inv01/thing/service/x"),
            None
        );

        assert!(matches("/sys/a/b", "/sys/a/b/#"));
        assert!(matches("/sys/a/b/c/d", "/sys/+/b/#"));
        assert!(!matches("/sys/a/b/c", "/sys/+/b"));
        assert!(!matches("$SYS/x", "#"));
        assert!(matches("é/x", "é/+"), "any bytes, no panic");

        assert!(covers("/sys/a/b/#", "/sys/a/b/thing/service/+"));
        assert!(covers("/sys/a/b/#", "/sys/a/b"));
        assert!(covers("/sys/a/b/#", "/sys/a/b/#"));
        assert!(!covers("/sys/a/b/#", "/sys/a/+/thing"));
        assert!(!covers("/sys/a/b/#", "/sys/#"));
        assert!(!covers("/sys/a/b/#", "#"));
        assert!(covers("a/+/c", "a/b/c"));
        assert!(!covers("a/b/c", "a/+/c"));
        assert!(!valid_filter("a/#/b"));
        assert!(!valid_filter("a/b+"));
        assert!(valid_filter("/sys/+/#"));
    }
}
