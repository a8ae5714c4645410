//! Reply bodies: parsed leniently (a hub's reply may be hostile) and built for the hub.

use serde_json::{Map, Value};

use super::codes::ReplyCode;
use super::types::MsgId;

/// A reply body: `{id, code, data, message?}`.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    /// The echoed request id; `None` when the reply has no usable id.
    pub id: Option<MsgId>,
    pub code: ReplyCode,
    pub message: Option<String>,
    pub data: Value,
}

/// Why a reply payload is not a usable reply.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReplyParseError {
    #[error("reply is not JSON: {0}")]
    NotJson(String),
    #[error("reply is JSON but not an object")]
    NotObject,
    #[error("reply has no integer \"code\"")]
    NoCode,
}

impl Reply {
    /// A reply to the request whose id is `id`.
    pub fn new(id: Option<MsgId>, code: ReplyCode, message: Option<String>, data: Value) -> Self {
        Self {
            id,
            code,
            message,
            data,
        }
    }

    /// The JSON body, keys in the order the hub writes them.
    pub fn to_json(&self) -> Value {
        let mut body = Map::new();
        body.insert(
            "id".into(),
            self.id
                .as_ref()
                .map_or(Value::Null, |id| Value::String(id.0.clone())),
        );
        body.insert("code".into(), Value::from(self.code.0));
        body.insert("data".into(), self.data.clone());
        if let Some(message) = &self.message {
            body.insert("message".into(), Value::String(message.clone()));
        }
        Value::Object(body)
    }

    /// The payload bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serialising a Value cannot fail: it has only string keys.
        serde_json::to_vec(&self.to_json()).unwrap_or_default()
    }
}

/// The id of a body as a string: strings as they are, integers in decimal.
pub fn id_of(body: &Map<String, Value>) -> Option<MsgId> {
    match body.get("id")? {
        Value::String(s) if !s.is_empty() => Some(MsgId(s.clone())),
        Value::Number(n) if n.is_u64() || n.is_i64() => Some(MsgId(n.to_string())),
        _ => None,
    }
}

/// How a reply wrote its `code`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeForm {
    /// A JSON integer, as the protocol asks.
    Integer,
    /// A string of digits (the Python SDK sends its own 1101 and 500 so): read as the number.
    String,
}

/// Parses a reply payload. The id may be absent; the code may not.
pub fn parse_reply(payload: &[u8]) -> Result<Reply, ReplyParseError> {
    parse_reply_form(payload).map(|(reply, _)| reply)
}

/// [`parse_reply`], saying how the code was written.
pub fn parse_reply_form(payload: &[u8]) -> Result<(Reply, CodeForm), ReplyParseError> {
    let value: Value =
        serde_json::from_slice(payload).map_err(|e| ReplyParseError::NotJson(e.to_string()))?;
    let Value::Object(mut body) = value else {
        return Err(ReplyParseError::NotObject);
    };
    let (code, form) = match body.get("code") {
        Some(Value::Number(n)) => (
            n.as_i64().ok_or(ReplyParseError::NoCode)?,
            CodeForm::Integer,
        ),
        Some(Value::String(s)) => (
            s.parse().map_err(|_| ReplyParseError::NoCode)?,
            CodeForm::String,
        ),
        _ => return Err(ReplyParseError::NoCode),
    };
    let reply = Reply {
        id: id_of(&body),
        code: ReplyCode(code),
        message: body
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_owned),
        data: body.remove("data").unwrap_or(Value::Null),
    };
    Ok((reply, form))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reply_round_trip() {
        let reply = Reply::new(
            Some(MsgId("17".into())),
            ReplyCode::MODEL,
            Some("params[0].measurepoints.temp: bad".into()),
            json!({}),
        );
        assert_eq!(parse_reply(&reply.to_bytes()), Ok(reply));
    }

    #[test]
    fn numeric_and_missing_ids() {
        let r = parse_reply(br#"{"id": 42, "code": 200, "data": {}}"#).expect("valid");
        assert_eq!(r.id, Some(MsgId("42".into())));
        let r = parse_reply(br#"{"code": 1204}"#).expect("valid");
        assert_eq!(r.id, None);
        assert_eq!(r.code, ReplyCode::MODEL);
    }

    #[test]
    fn a_code_written_as_a_string_is_read_and_noted() {
        let (reply, form) =
            parse_reply_form(br#"{"id": "3", "code": "1101", "data": null}"#).expect("valid");
        assert_eq!((reply.code, form), (ReplyCode(1101), CodeForm::String));
        let (reply, form) =
            parse_reply_form(br#"{"id": "3", "code": 200, "data": {"a": 1}}"#).expect("valid");
        assert_eq!((reply.code, form), (ReplyCode::SUCCESS, CodeForm::Integer));
        assert_eq!(reply.data, json!({"a": 1}));
    }

    #[test]
    fn hostile_replies_are_errors_not_panics() {
        assert!(matches!(
            parse_reply(b"nope"),
            Err(ReplyParseError::NotJson(_))
        ));
        assert_eq!(parse_reply(b"[1]"), Err(ReplyParseError::NotObject));
        assert_eq!(parse_reply(br#"{"id":"1"}"#), Err(ReplyParseError::NoCode));
        assert_eq!(
            parse_reply(br#"{"code":"x"}"#),
            Err(ReplyParseError::NoCode)
        );
        assert_eq!(
            parse_reply(br#"{"code":1.5}"#),
            Err(ReplyParseError::NoCode)
        );
    }
}
