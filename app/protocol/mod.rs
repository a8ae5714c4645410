//! The device protocol: identifiers, topics, reply codes, message bodies and signing.
//!
//! Knows nothing of thing models, files, MQTT sessions or the window.

mod codes;
mod message;
mod sign;
mod topic;
mod types;

pub use codes::ReplyCode;
pub use message::{
    CodeForm, Reply, ReplyParseError, id_of, id_of_value, parse_reply, parse_reply_form,
};
pub use sign::{
    ConnectCredentials, SIGN_METHOD, SignError, check_sign, connect_credentials,
    device_of_username, is_sha256_sign_method, sign, verify_connect,
};
pub use topic::{
    Method, ParsedTopic, method_name, parse_method, parse_topic, reply_topic, request_topic,
    topic_of, topic_of_method_name,
};
pub use types::{DeviceId, DeviceKey, EpochMs, MsgId, ProductKey, Quality, Secret};

/// The largest MQTT packet thingbench sends or accepts: well above a 512 KiB batch.
pub const MAX_PACKET: usize = 8 * 1024 * 1024;
