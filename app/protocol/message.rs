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

    /// The payload bytes: the same as [`Reply::to_json`]'s, written without building its tree
    /// (the hub writes one per request).
    pub fn to_bytes(&self) -> Vec<u8> {
        /// The body as the hub writes it, keys in [`Reply::to_json`]'s order.
        #[derive(serde::Serialize)]
        struct Wire<'a> {
            id: Option<&'a str>,
            code: i64,
            data: &'a Value,
            #[serde(skip_serializing_if = "Option::is_none")]
            message: Option<&'a str>,
        }
        let wire = Wire {
            id: self.id.as_ref().map(|id| id.0.as_str()),
            code: self.code.0,
            data: &self.data,
            message: self.message.as_deref(),
        };
        // Serialising cannot fail: every key is a string and `data` is a Value.
        serde_json::to_vec(&wire).unwrap_or_default()
    }
}

/// The id of a body as a string: strings as they are, integers in decimal.
pub fn id_of(body: &Map<String, Value>) -> Option<MsgId> {
    body.get("id").and_then(id_of_value)
}

/// An `id` field's value as a message id: strings as they are, integers in decimal.
pub fn id_of_value(id: &Value) -> Option<MsgId> {
    match id {
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
    // The usual reply is an object with each key once: its four fields are read straight from
    // the bytes, the rest skipped, with no tree of the whole body (the session reads one per
    // request). Anything else is read as a tree, which says what is wrong with it.
    // (A struct also reads from an array, which a reply is not: only an object takes this way.)
    if payload.trim_ascii_start().starts_with(b"{")
        && let Ok(fields) = serde_json::from_slice::<ReplyFields>(payload)
    {
        return reply_of(
            fields.id.as_ref(),
            fields.code.as_ref(),
            fields.message,
            fields.data,
        );
    }
    parse_reply_tree(payload)
}

/// [`parse_reply_form`] by way of a tree of the whole body.
fn parse_reply_tree(payload: &[u8]) -> Result<(Reply, CodeForm), ReplyParseError> {
    let value: Value =
        serde_json::from_slice(payload).map_err(|e| ReplyParseError::NotJson(e.to_string()))?;
    let Value::Object(mut body) = value else {
        return Err(ReplyParseError::NotObject);
    };
    let data = body.remove("data");
    let message = body.remove("message");
    reply_of(body.get("id"), body.get("code"), message, data)
}

/// The fields of a reply body that [`parse_reply_form`] reads; `null` reads as absent, as it
/// means for each of them.
#[derive(serde::Deserialize)]
struct ReplyFields {
    id: Option<Value>,
    code: Option<Value>,
    message: Option<Value>,
    data: Option<Value>,
}

/// The reply of a body's fields.
fn reply_of(
    id: Option<&Value>,
    code: Option<&Value>,
    message: Option<Value>,
    data: Option<Value>,
) -> Result<(Reply, CodeForm), ReplyParseError> {
    let (code, form) = match code {
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
        id: id.and_then(id_of_value),
        code: ReplyCode(code),
        message: match message {
            Some(Value::String(message)) => Some(message),
            _ => None,
        },
        data: data.unwrap_or(Value::Null),
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
    fn a_reply_read_straight_is_the_reply_read_as_a_tree() {
        let payloads: [&[u8]; 16] = [
            br#"{"id":"1","code":200,"data":{}}"#,
            br#"{"id":"1","code":200,"data":{},"message":""}"#,
            br#" {"code":1204,"message":"params[0]: bad","id":7,"extra":[1,{"a":2}]}"#,
            br#"{"id":"","code":"500","data":null,"message":null}"#,
            br#"{"id":null,"code":200,"data":{"points":{"a":1.5,"b":[true,"x"]}}}"#,
            br#"{"id":"a\"b\u00e9","code":200,"message":"tab\there"}"#,
            br#"{"id":1.5,"code":200,"message":3}"#,
            br#"{"id":"1","code":200,"code":1204}"#,
            br#"{"id":"1","id":"2","code":200,"data":1,"data":2}"#,
            br#"{"id":"1","code":1.5}"#,
            br#"{"id":"1","code":18446744073709551615}"#,
            br#"{"id":"1","code":"x"}"#,
            br#"{"id":"1"}"#,
            br#"{"id":"1","code":200"#,
            br#"{"id":-3,"code":-1,"data":"text"}"#,
            br#"{"id":"1","code":200} trailing"#,
        ];
        for payload in payloads {
            assert_eq!(
                parse_reply_form(payload),
                parse_reply_tree(payload),
                "{}",
                String::from_utf8_lossy(payload)
            );
        }
    }

    #[test]
    fn reply_bytes_are_the_bodys_json() {
        let replies = [
            Reply::new(
                Some(MsgId("17".into())),
                ReplyCode::SUCCESS,
                None,
                json!({}),
            ),
            Reply::new(
                None,
                ReplyCode::MODEL,
                Some("a \"b\"\n".into()),
                Value::Null,
            ),
            Reply::new(
                Some(MsgId("é".into())),
                ReplyCode(-1),
                Some(String::new()),
                json!({"z": 1, "a": [1.5, null, {"k": "v"}]}),
            ),
        ];
        for reply in replies {
            let tree = serde_json::to_vec(&reply.to_json()).expect("json");
            assert_eq!(
                String::from_utf8_lossy(&reply.to_bytes()),
                String::from_utf8_lossy(&tree)
            );
        }
    }

    #[test]
    fn hostile_replies_are_errors_not_panics() {
        assert!(matches!(
            parse_reply(b"nope"),
            Err(ReplyParseError::NotJson(_))
        ));
        assert_eq!(parse_reply(b"[1]"), Err(ReplyParseError::NotObject));
        // Four fields in an array are still not a reply.
        assert_eq!(
            parse_reply(br#"["1", 200, "m", {}]"#),
            Err(ReplyParseError::NotObject)
        );
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
