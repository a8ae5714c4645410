//! Just enough of MQTT's wire format for the door: packet boundaries, a CONNECT's protocol
//! level, client id, username and password, a PUBLISH's topic and payload, a CONNACK's code.
//! Every byte it reads comes from a client nobody vouches for: it never panics and never holds
//! more than its limit (fuzzed by `fuzz/fuzz_targets/mqtt_frame.rs`, and by a property test).

/// Why a byte stream is not MQTT (or not MQTT this door takes).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A remaining length of more than four bytes.
    #[error("a packet length longer than 4 bytes: not MQTT")]
    LengthTooLong,
    /// A packet larger than the framer's limit.
    #[error("a packet of {length} bytes, over the limit of {limit}: not MQTT, or too large")]
    TooLarge { length: usize, limit: usize },
}

/// Splits a byte stream into whole MQTT packets.
#[derive(Debug)]
pub struct Framer {
    buf: Vec<u8>,
    /// Where the next packet starts in `buf`: packets are taken from the front without moving
    /// the rest each time (a 64 KiB read may hold a hundred of them).
    start: usize,
    limit: usize,
}

impl Default for Framer {
    fn default() -> Self {
        Self::with_limit(MAX_PACKET)
    }
}

/// One whole packet: its first byte and its body (what follows the remaining length).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Packet {
    pub header: u8,
    pub body: Vec<u8>,
}

impl Packet {
    /// The control packet type (1 CONNECT, 2 CONNACK, 3 PUBLISH, ...).
    pub fn kind(&self) -> u8 {
        self.header >> 4
    }
}

/// The largest packet the framer holds by default (MQTT's own limit is 256 MiB).
const MAX_PACKET: usize = 64 * 1024 * 1024;

/// The first byte of every client's stream: CONNECT, with no flags (MQTT 3.1.1, 3.1).
pub const CONNECT_HEADER: u8 = 0x10;

/// The largest CONNECT the door reads: the fixed header's five bytes, the variable header, and
/// five length-prefixed fields of at most 64 KiB each (client id, will topic, will message,
/// username, password), with room for MQTT 5's properties.
pub const CONNECT_LIMIT: usize = 5 * (2 + 65_535) + 1024;

impl Framer {
    /// A framer that refuses packets larger than `limit` bytes.
    pub fn with_limit(limit: usize) -> Self {
        Self {
            buf: Vec::new(),
            start: 0,
            limit,
        }
    }

    /// Adds bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The bytes held that are not yet a whole packet.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The next whole packet, if one is buffered; an error when the stream is not MQTT.
    pub fn next_packet(&mut self) -> Result<Option<Packet>, FrameError> {
        let mut packet = Packet::default();
        Ok(self.next_packet_into(&mut packet)?.then_some(packet))
    }

    /// The next whole packet into `packet` (its body's allocation reused), if one is buffered:
    /// false when none is; an error when the stream is not MQTT.
    pub fn next_packet_into(&mut self, packet: &mut Packet) -> Result<bool, FrameError> {
        let rest = &self.buf[self.start..];
        let Some(&header) = rest.first() else {
            return Ok(false);
        };
        let mut length: usize = 0;
        let mut shift = 0;
        let mut at = 1;
        loop {
            let Some(&byte) = rest.get(at) else {
                return Ok(false);
            };
            length |= usize::from(byte & 0x7f) << shift;
            at += 1;
            if byte & 0x80 == 0 {
                break;
            }
            shift += 7;
            if shift > 21 {
                return Err(FrameError::LengthTooLong);
            }
        }
        if length > self.limit {
            return Err(FrameError::TooLarge {
                length,
                limit: self.limit,
            });
        }
        if rest.len() < at + length {
            return Ok(false);
        }
        packet.header = header;
        packet.body.clear();
        packet.body.extend_from_slice(&rest[at..at + length]);
        self.start += at + length;
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        Ok(true)
    }
}

/// What a CONNECT says about who connects.
#[derive(Clone, PartialEq, Eq)]
pub struct Connect {
    /// The protocol level: 3 for MQTT 3.1, 4 for 3.1.1, 5 for MQTT 5.
    pub level: u8,
    /// The keep-alive in seconds (0: none), MQTT 3.1.2.10.
    pub keep_alive: u16,
    pub client_id: String,
    pub username: Option<String>,
    pub password: Option<String>,
}

impl std::fmt::Debug for Connect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connect")
            .field("level", &self.level)
            .field("keep_alive", &self.keep_alive)
            .field("client_id", &self.client_id)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<masked>"))
            .finish()
    }
}

/// Reads a length-prefixed string or bytes at `*at`.
pub(super) fn field<'b>(body: &'b [u8], at: &mut usize) -> Option<&'b [u8]> {
    let len = usize::from(u16::from_be_bytes([
        *body.get(*at)?,
        *body.get(at.checked_add(1)?)?,
    ]));
    let start = at.checked_add(2)?;
    let field = body.get(start..start.checked_add(len)?)?;
    *at = start + len;
    Some(field)
}

/// Reads a variable byte integer at `*at`.
pub(super) fn varint(body: &[u8], at: &mut usize) -> Option<usize> {
    let mut value = 0usize;
    for shift in [0, 7, 14, 21] {
        let byte = *body.get(*at)?;
        *at += 1;
        value |= usize::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// Skips `n` bytes at `*at`, if the body has them.
pub(super) fn skip(body: &[u8], at: &mut usize, n: usize) -> Option<()> {
    let end = at.checked_add(n)?;
    (end <= body.len()).then(|| *at = end)
}

/// The CONNECT in `packet` (MQTT 3.1, 3.1.1 or 5), if it is one and reads well.
pub fn parse_connect(packet: &Packet) -> Option<Connect> {
    if packet.kind() != 1 {
        return None;
    }
    let body = &packet.body;
    let mut at = 0;
    field(body, &mut at)?; // protocol name
    let level = *body.get(at)?;
    let flags = *body.get(at + 1)?;
    let keep_alive = u16::from_be_bytes([*body.get(at + 2)?, *body.get(at + 3)?]);
    skip(body, &mut at, 4)?; // level, flags, keep alive
    if level == 5 {
        let properties = varint(body, &mut at)?;
        skip(body, &mut at, properties)?;
    }
    let client_id = String::from_utf8_lossy(field(body, &mut at)?).into_owned();
    if flags & 0x04 != 0 {
        if level == 5 {
            let properties = varint(body, &mut at)?;
            skip(body, &mut at, properties)?;
        }
        field(body, &mut at)?; // will topic
        field(body, &mut at)?; // will payload
    }
    let username = if flags & 0x80 != 0 {
        Some(String::from_utf8_lossy(field(body, &mut at)?).into_owned())
    } else {
        None
    };
    let password = if flags & 0x40 != 0 {
        Some(String::from_utf8_lossy(field(body, &mut at)?).into_owned())
    } else {
        None
    };
    Some(Connect {
        level,
        keep_alive,
        client_id,
        username,
        password,
    })
}

/// The return code of the CONNACK in `packet`, if it is one.
pub fn connack_code(packet: &Packet) -> Option<u8> {
    (packet.kind() == 2).then(|| packet.body.get(1).copied())?
}

/// The topic and payload of the PUBLISH in `packet` (MQTT 3.1.1; `v5` when the connection
/// speaks MQTT 5, whose PUBLISH carries properties).
pub fn parse_publish(packet: &Packet, v5: bool) -> Option<(String, Vec<u8>)> {
    if packet.kind() != 3 {
        return None;
    }
    let qos = (packet.header >> 1) & 0x03;
    let body = &packet.body;
    let mut at = 0;
    let topic = String::from_utf8_lossy(field(body, &mut at)?).into_owned();
    if qos > 0 {
        skip(body, &mut at, 2)?;
    }
    if v5 {
        let properties = varint(body, &mut at)?;
        skip(body, &mut at, properties)?;
    }
    Some((topic, body.get(at..)?.to_vec()))
}

/// Why the door refuses a CONNECT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The client may not connect as who it says (a wrong signature).
    NotAuthorized,
    /// The broker behind the door cannot be reached.
    ServerUnavailable,
}

/// The CONNACK refusing a CONNECT of protocol `level` for `why`: MQTT 5's reason codes for a
/// level 5 client, MQTT 3.1.1's return codes (5 not authorized, 3 server unavailable) otherwise.
pub fn connack_refusing(level: u8, why: Refusal) -> Vec<u8> {
    match (level, why) {
        (5, Refusal::NotAuthorized) => vec![0x20, 0x03, 0x00, 0x87, 0x00],
        (5, Refusal::ServerUnavailable) => vec![0x20, 0x03, 0x00, 0x88, 0x00],
        (_, Refusal::NotAuthorized) => vec![0x20, 0x02, 0x00, 0x05],
        (_, Refusal::ServerUnavailable) => vec![0x20, 0x02, 0x00, 0x03],
    }
}

/// Everything the door reads of a client's first bytes, for the fuzz target and the property
/// test: the framer under the CONNECT limit, and each whole packet read as a CONNECT, a PUBLISH
/// (both ways), a CONNACK, and every packet the door's delivery reads. Never panics.
pub fn read_all(bytes: &[u8]) -> usize {
    let mut framer = Framer::with_limit(CONNECT_LIMIT);
    let mut seen = 0;
    // Fed in three uneven pieces, as a socket may deliver them.
    let (a, rest) = bytes.split_at(bytes.len() / 3);
    let (b, c) = rest.split_at(rest.len() / 2);
    for piece in [a, b, c] {
        framer.push(piece);
        while let Ok(Some(packet)) = framer.next_packet() {
            seen += 1;
            let _ = parse_connect(&packet);
            let _ = parse_publish(&packet, false);
            let _ = parse_publish(&packet, true);
            let _ = connack_code(&packet);
            super::mqtt_packets::read_everything(&packet);
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connect_bytes(client_id: &str, user: &str, pass: &str) -> Vec<u8> {
        let mut body = Vec::new();
        let put = |b: &mut Vec<u8>, s: &[u8]| {
            b.extend_from_slice(&u16::try_from(s.len()).unwrap_or(0).to_be_bytes());
            b.extend_from_slice(s);
        };
        put(&mut body, b"MQTT");
        body.extend_from_slice(&[4, 0xC2, 0, 30]);
        put(&mut body, client_id.as_bytes());
        put(&mut body, user.as_bytes());
        put(&mut body, pass.as_bytes());
        let mut packet = vec![0x10, u8::try_from(body.len()).unwrap_or(0)];
        packet.extend(body);
        packet
    }

    #[test]
    fn a_connect_split_anywhere_reads_whole_and_names_its_client() {
        let bytes = connect_bytes("gw01|securemode=2|", "gw01&gwPk", "abc");
        let mut framer = Framer::default();
        let (a, b) = bytes.split_at(5);
        framer.push(a);
        assert_eq!(framer.next_packet(), Ok(None));
        framer.push(b);
        framer.push(&[0xC0, 0x00]); // a PINGREQ behind it
        let packet = framer.next_packet().expect("MQTT").expect("a whole packet");
        let connect = parse_connect(&packet).expect("a CONNECT");
        assert_eq!(connect.level, 4);
        assert_eq!(connect.keep_alive, 30);
        assert_eq!(connect.client_id, "gw01|securemode=2|");
        assert_eq!(connect.username.as_deref(), Some("gw01&gwPk"));
        assert_eq!(connect.password.as_deref(), Some("abc"));
        let ping = framer.next_packet().expect("MQTT").expect("the ping");
        assert_eq!(ping.kind(), 12);
        assert_eq!(framer.next_packet(), Ok(None));
    }

    #[test]
    fn a_publish_gives_its_topic_and_payload_and_a_connack_its_code() {
        // QoS 1 PUBLISH: topic "a/b", packet id 7, payload "{}".
        let mut framer = Framer::default();
        framer.push(&[0x32, 9, 0, 3, b'a', b'/', b'b', 0, 7, b'{', b'}']);
        framer.push(&[0x20, 2, 0, 0]);
        let publish = framer.next_packet().expect("MQTT").expect("a publish");
        assert_eq!(
            parse_publish(&publish, false),
            Some(("a/b".to_owned(), b"{}".to_vec()))
        );
        let connack = framer.next_packet().expect("MQTT").expect("a connack");
        assert_eq!(connack_code(&connack), Some(0));
        assert_eq!(parse_connect(&connack), None);
    }

    #[test]
    fn a_length_that_never_ends_is_not_mqtt() {
        let mut framer = Framer::default();
        framer.push(&[0x30, 0xff, 0xff, 0xff, 0xff, 0x01]);
        assert_eq!(framer.next_packet(), Err(FrameError::LengthTooLong));
    }

    #[test]
    fn a_packet_over_the_limit_is_refused_before_its_body_arrives() {
        let mut framer = Framer::with_limit(CONNECT_LIMIT);
        // A CONNECT announcing 2 MiB: refused from its header alone, nothing more is held.
        framer.push(&[0x10, 0x80, 0x80, 0x80, 0x01]);
        assert_eq!(
            framer.next_packet(),
            Err(FrameError::TooLarge {
                length: 2 * 1024 * 1024,
                limit: CONNECT_LIMIT
            })
        );
        // The largest CONNECT is not.
        let mut framer = Framer::with_limit(CONNECT_LIMIT);
        framer.push(&encode(0x10, &vec![0; CONNECT_LIMIT]));
        assert!(matches!(framer.next_packet(), Ok(Some(_))));
    }

    #[test]
    fn refusals_are_said_in_the_clients_own_version() {
        assert_eq!(
            connack_refusing(4, Refusal::NotAuthorized),
            [0x20, 0x02, 0x00, 0x05]
        );
        assert_eq!(
            connack_refusing(3, Refusal::ServerUnavailable),
            [0x20, 0x02, 0x00, 0x03]
        );
        let v5 = connack_refusing(5, Refusal::NotAuthorized);
        let mut framer = Framer::default();
        framer.push(&v5);
        let packet = framer.next_packet().expect("MQTT").expect("whole");
        assert_eq!(connack_code(&packet), Some(0x87));
    }

    /// A packet of `header` around `body`, with its remaining length.
    fn encode(header: u8, body: &[u8]) -> Vec<u8> {
        let mut packet = vec![header];
        let mut length = body.len();
        loop {
            let byte = u8::try_from(length % 128).unwrap_or(0);
            length /= 128;
            packet.push(if length > 0 { byte | 0x80 } else { byte });
            if length == 0 {
                break;
            }
        }
        packet.extend_from_slice(body);
        packet
    }

    /// A CONNECT of `level` (4 or 5) with these fields, as a client writes it.
    fn encode_connect(
        level: u8,
        client_id: &str,
        user: Option<&str>,
        pass: Option<&str>,
    ) -> Vec<u8> {
        let put = |b: &mut Vec<u8>, s: &[u8]| {
            b.extend_from_slice(&u16::try_from(s.len()).unwrap_or(u16::MAX).to_be_bytes());
            b.extend_from_slice(s);
        };
        let mut body = Vec::new();
        put(&mut body, b"MQTT");
        let flags =
            0x02 | if user.is_some() { 0x80 } else { 0 } | if pass.is_some() { 0x40 } else { 0 };
        body.extend_from_slice(&[level, flags, 0, 30]);
        if level == 5 {
            // Properties: a session expiry interval of 0.
            body.extend_from_slice(&[5, 0x11, 0, 0, 0, 0]);
        }
        put(&mut body, client_id.as_bytes());
        if let Some(user) = user {
            put(&mut body, user.as_bytes());
        }
        if let Some(pass) = pass {
            put(&mut body, pass.as_bytes());
        }
        encode(0x10, &body)
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2_000))]

            /// Any bytes at all: no panic, and never more packets than bytes.
            #[test]
            fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
                let seen = read_all(&bytes);
                prop_assert!(seen <= bytes.len() / 2);
            }

            /// Bytes that start like MQTT (a CONNECT or PUBLISH header, a short length): no
            /// panic, whatever follows.
            #[test]
            fn mqtt_shaped_bytes_never_panic(
                header in prop_oneof![Just(0x10u8), Just(0x30), Just(0x32), Just(0x20)],
                body in proptest::collection::vec(any::<u8>(), 0..300),
            ) {
                let packet = encode(header, &body);
                read_all(&packet);
                let mut framer = Framer::default();
                framer.push(&packet);
                let whole = framer.next_packet();
                prop_assert!(matches!(whole, Ok(Some(_))), "{whole:?}");
            }

            /// A CONNECT of either version, split anywhere, reads back its fields exactly.
            #[test]
            fn a_connect_split_anywhere_reads_back(
                v5 in any::<bool>(),
                client_id in "[ -~]{0,80}",
                user in proptest::option::of("[ -~]{0,80}"),
                pass in proptest::option::of("[ -~]{0,300}"),
                split in any::<prop::sample::Index>(),
            ) {
                let level = if v5 { 5 } else { 4 };
                let bytes = encode_connect(level, &client_id, user.as_deref(), pass.as_deref());
                let (a, b) = bytes.split_at(split.index(bytes.len() + 1));
                let mut framer = Framer::with_limit(CONNECT_LIMIT);
                framer.push(a);
                let early = framer.next_packet();
                let packet = if b.is_empty() {
                    early
                } else {
                    prop_assert_eq!(early, Ok(None));
                    framer.push(b);
                    framer.next_packet()
                };
                let packet = packet.ok().flatten();
                prop_assert!(packet.is_some());
                let connect = packet.as_ref().and_then(parse_connect);
                prop_assert_eq!(
                    connect,
                    Some(Connect { level, keep_alive: 30, client_id, username: user, password: pass })
                );
                prop_assert_eq!(framer.buffered(), 0);
            }
        }
    }
}
