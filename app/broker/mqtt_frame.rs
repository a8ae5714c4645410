//! Just enough of MQTT's wire format for the proxy: packet boundaries, a CONNECT's client id,
//! username and password, a PUBLISH's topic and payload, a CONNACK's code.

/// Splits a byte stream into whole MQTT packets.
#[derive(Debug, Default)]
pub struct Framer {
    buf: Vec<u8>,
}

/// One whole packet: its first byte and its body (what follows the remaining length).
#[derive(Debug, PartialEq, Eq)]
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

/// The largest packet the framer holds (MQTT's own limit is 256 MiB).
const MAX_PACKET: usize = 64 * 1024 * 1024;

impl Framer {
    /// Adds bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole packet, if one is buffered; `Err` when the stream is not MQTT.
    pub fn next_packet(&mut self) -> Result<Option<Packet>, String> {
        let Some(&header) = self.buf.first() else {
            return Ok(None);
        };
        let mut length: usize = 0;
        let mut shift = 0;
        let mut at = 1;
        loop {
            let Some(&byte) = self.buf.get(at) else {
                return Ok(None);
            };
            length |= usize::from(byte & 0x7f) << shift;
            at += 1;
            if byte & 0x80 == 0 {
                break;
            }
            shift += 7;
            if shift > 21 {
                return Err("a packet length longer than 4 bytes: not MQTT".into());
            }
        }
        if length > MAX_PACKET {
            return Err(format!(
                "a packet of {length} bytes: not MQTT, or too large"
            ));
        }
        if self.buf.len() < at + length {
            return Ok(None);
        }
        let body = self.buf[at..at + length].to_vec();
        self.buf.drain(..at + length);
        Ok(Some(Packet { header, body }))
    }
}

/// What a CONNECT says about who connects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connect {
    pub client_id: String,
    pub username: Option<String>,
    pub password: Option<String>,
}

/// Reads a length-prefixed string or bytes at `*at`.
fn field<'b>(body: &'b [u8], at: &mut usize) -> Option<&'b [u8]> {
    let len = usize::from(u16::from_be_bytes([*body.get(*at)?, *body.get(*at + 1)?]));
    let start = *at + 2;
    let field = body.get(start..start + len)?;
    *at = start + len;
    Some(field)
}

/// Reads a variable byte integer at `*at`.
fn varint(body: &[u8], at: &mut usize) -> Option<usize> {
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
    at += 4; // level, flags, keep alive
    if level == 5 {
        let properties = varint(body, &mut at)?;
        at += properties;
    }
    let client_id = String::from_utf8_lossy(field(body, &mut at)?).into_owned();
    if flags & 0x04 != 0 {
        if level == 5 {
            let properties = varint(body, &mut at)?;
            at += properties;
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
        at += 2;
    }
    if v5 {
        let properties = varint(body, &mut at)?;
        at += properties;
    }
    Some((topic, body.get(at..)?.to_vec()))
}

/// The protocol level of a CONNECT packet (4 for 3.1.1, 5 for MQTT 5).
pub fn connect_level(packet: &Packet) -> Option<u8> {
    let mut at = 0;
    field(&packet.body, &mut at)?;
    packet.body.get(at).copied()
}

/// A CONNACK refusing the connection as "not authorized" (code 5, MQTT 3.1.1).
pub const CONNACK_NOT_AUTHORIZED: [u8; 4] = [0x20, 0x02, 0x00, 0x05];

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
        assert_eq!(connect_level(&packet), Some(4));
        let connect = parse_connect(&packet).expect("a CONNECT");
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
        assert!(framer.next_packet().is_err());
    }
}
