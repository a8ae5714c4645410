//! A client's own publishes, remembered so that their echoes are known. MQTT 3.1.1 has no "no
//! local": a broker sends a client what it published itself on a topic one of its own filters
//! matches. thingbench's door holds those echoes back from a device (the Python SDK takes its
//! own `set_reply` for a new set, for ever), and the window's session drops them, so that its
//! watch shows the others' traffic on any broker, not its own sends a second time.

use std::collections::VecDeque;
use std::hash::{Hash, Hasher};

/// A message by its topic and payload, in 64 bits.
pub fn fingerprint(topic: &str, payload: &[u8]) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    topic.hash(&mut hasher);
    payload.hash(&mut hasher);
    hasher.finish()
}

/// The last [`OwnPublishes::KEPT`] publishes of one client whose echoes are expected.
#[derive(Debug, Default)]
pub struct OwnPublishes {
    prints: VecDeque<u64>,
}

impl OwnPublishes {
    /// How many publishes are remembered; the oldest is forgotten first.
    pub const KEPT: usize = 256;

    /// Remembers a publish whose echo is to come.
    pub fn note(&mut self, topic: &str, payload: &[u8]) {
        if self.prints.len() == Self::KEPT {
            self.prints.pop_front();
        }
        self.prints.push_back(fingerprint(topic, payload));
    }

    /// Whether a message from the broker is the echo of a remembered publish; each publish
    /// has one echo, so it is forgotten now.
    pub fn is_echo(&mut self, topic: &str, payload: &[u8]) -> bool {
        if self.prints.is_empty() {
            return false;
        }
        let print = fingerprint(topic, payload);
        let Some(at) = self.prints.iter().position(|p| *p == print) else {
            return false;
        };
        self.prints.remove(at);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_publish_has_one_echo_and_only_the_newest_are_kept() {
        let mut own = OwnPublishes::default();
        own.note("/sys/a/b/thing/measurepoint/post", b"1");
        own.note("/sys/a/b/thing/measurepoint/post", b"1");
        assert!(!own.is_echo("/sys/a/b/thing/measurepoint/post", b"2"));
        assert!(!own.is_echo("/sys/a/b/thing/event/x/post", b"1"));
        assert!(own.is_echo("/sys/a/b/thing/measurepoint/post", b"1"));
        assert!(own.is_echo("/sys/a/b/thing/measurepoint/post", b"1"));
        assert!(!own.is_echo("/sys/a/b/thing/measurepoint/post", b"1"));
        for n in 0..=OwnPublishes::KEPT {
            own.note("t", n.to_string().as_bytes());
        }
        assert!(!own.is_echo("t", b"0"), "the oldest is forgotten");
        assert!(own.is_echo("t", b"1"));
        assert!(own.is_echo("t", OwnPublishes::KEPT.to_string().as_bytes()));
    }
}
