//! The words of connection errors, for each rumqttc error thingbench meets.

use std::io::{Error, ErrorKind};

use rumqttc::mqttbytes::Error as Bytes;
use rumqttc::{ConnectReturnCode, ConnectionError, StateError, TlsError};

use super::connection_error_words;
use crate::transport::BrokerUrl;

fn words(err: ConnectionError) -> String {
    let broker = BrokerUrl::parse("mqtt://127.0.0.1:1883").expect("url");
    connection_error_words(&broker, &err)
}

/// The words name the broker, contain every `wanted` piece, and no rumqttc jargon.
fn assert_words(err: ConnectionError, wanted: &[&str]) {
    let text = words(err);
    assert!(text.contains("127.0.0.1:1883"), "names the broker: {text}");
    for piece in wanted {
        assert!(text.contains(piece), "{piece:?} in {text}");
    }
    for jargon in ["serialization", "Mqtt state", "Io error", "os error", "IO:"] {
        assert!(!text.contains(jargon), "{jargon:?} in {text}");
    }
}

#[test]
fn a_reset_on_an_open_connection_says_the_broker_reset_it() {
    // What a broker killed mid-run gives: a write on the dead socket.
    let reset = || Error::from(ErrorKind::ConnectionReset);
    for err in [
        ConnectionError::MqttState(StateError::Deserialization(Bytes::Io(reset()))),
        ConnectionError::MqttState(StateError::Io(reset())),
    ] {
        assert_words(err, &["reset the connection", "stopped or restarted"]);
    }
}

#[test]
fn a_closed_or_cut_connection_says_so() {
    assert_words(
        ConnectionError::MqttState(StateError::Deserialization(Bytes::Io(Error::from(
            ErrorKind::UnexpectedEof,
        )))),
        &["closed the connection"],
    );
    assert_words(
        ConnectionError::MqttState(StateError::Io(Error::from(ErrorKind::BrokenPipe))),
        &["cut while sending"],
    );
    assert_words(
        ConnectionError::MqttState(StateError::ConnectionAborted),
        &["closed the connection", "credentials"],
    );
    assert_words(
        ConnectionError::MqttState(StateError::AwaitPingResp),
        &["stopped answering", "keep-alive"],
    );
}

#[test]
fn connecting_failures_say_where_to_look() {
    assert_words(
        ConnectionError::Io(Error::from(ErrorKind::ConnectionRefused)),
        &["connection refused", "is a broker running there?"],
    );
    assert_words(
        ConnectionError::Io(Error::from(ErrorKind::HostUnreachable)),
        &["unreachable", "check the host and the network"],
    );
    assert_words(
        ConnectionError::Io(Error::from(ErrorKind::TimedOut)),
        &["timed out connecting"],
    );
    assert_words(
        ConnectionError::Io(Error::other(
            "failed to lookup address information: Name or service not known",
        )),
        &["cannot find the host", "check the broker's name"],
    );
    assert_words(ConnectionError::NetworkTimeout, &["timed out connecting"]);
}

#[test]
fn refusals_name_what_was_refused() {
    for (code, wanted) in [
        (
            ConnectReturnCode::BadUserNamePassword,
            "bad username or password",
        ),
        (ConnectReturnCode::NotAuthorized, "not authorized"),
        (ConnectReturnCode::BadClientId, "refused the client id"),
        (ConnectReturnCode::RefusedProtocolVersion, "MQTT 3.1.1"),
        (ConnectReturnCode::ServiceUnavailable, "try again later"),
    ] {
        assert_words(ConnectionError::ConnectionRefused(code), &[wanted]);
    }
}

#[test]
fn garbage_and_oversize_packets_say_what_they_are() {
    assert_words(
        ConnectionError::MqttState(StateError::Deserialization(Bytes::MalformedPacket)),
        &["not MQTT", "mqtt:// or mqtts://"],
    );
    assert_words(
        ConnectionError::MqttState(StateError::Deserialization(
            Bytes::PayloadSizeLimitExceeded(9_000_000),
        )),
        &["9000000 bytes", "thingbench's limit"],
    );
}

#[test]
fn tls_failures_say_whether_the_certificate_or_the_port_is_wrong() {
    assert_words(
        ConnectionError::Tls(TlsError::TLS(rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer,
        ))),
        &["TLS", "certificate is not trusted", "--ca"],
    );
    assert_words(
        ConnectionError::Tls(TlsError::Io(Error::from(ErrorKind::ConnectionReset))),
        &["TLS", "is the port a TLS one?"],
    );
}
