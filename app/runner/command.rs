//! A command fixture's reply, judged as the platform reads it: the device's findings (id not
//! echoed, code sent as a string, data not matching the model) and the keys `expect.data`
//! requires.

use serde_json::{Map, Value};

use crate::model::{CodeMeaning, CommandView, Registry, Severity, read_reply};
use crate::protocol::{MsgId, reply_topic};
use crate::workspace::Command;

/// What a command's reply says beyond its code.
#[derive(Debug, Default, PartialEq)]
pub struct ReplyJudgement {
    /// What fails the fixture, each `place: what is wrong`.
    pub errors: Vec<String>,
    /// What is noted only (a code sent as a string).
    pub warnings: Vec<String>,
}

/// Reads the reply `payload` to `command`, sent with id `id`, that came on `topic` (by default
/// the command's `_reply`), and checks that its `data` holds every key of `expected` with an
/// equal value (numbers compared as numbers).
pub fn judge_reply(
    registry: &Registry,
    command: &Command,
    id: Option<&MsgId>,
    topic: Option<&str>,
    payload: &[u8],
    expected: Option<&Map<String, Value>>,
) -> ReplyJudgement {
    let view = CommandView {
        target: command.device.clone(),
        kind: command.kind.clone(),
    };
    let topic = topic.map_or_else(|| reply_topic(&command.topic()), str::to_owned);
    let reading = read_reply(registry, &view, id, &topic, payload);
    let mut judgement = ReplyJudgement::default();
    for finding in &reading.findings {
        let line = format!("reply {}: {}", finding.path, finding.message);
        match finding.severity {
            Severity::Error => judgement.errors.push(line),
            _ => judgement.warnings.push(line),
        }
    }
    // What a reply carries is compared only when the command succeeded: an error's data (or a
    // 'device offline' from the platform) says nothing of it, and the code already differs.
    let succeeded = reading.meaning == Some(CodeMeaning::Success);
    for (key, want) in expected.into_iter().flatten().filter(|_| succeeded) {
        let got = reading.data.get(key);
        if !got.is_some_and(|got| same(got, want)) {
            let got = got.map_or("nothing".to_owned(), ToString::to_string);
            judgement.errors.push(format!(
                "reply data.{key}: expected {want} (expect.data), got {got}"
            ));
        }
    }
    judgement
}

/// Equal as JSON, numbers compared as numbers (`2.5` and `2.50`, `3` and `3.0`).
fn same(got: &Value, want: &Value) -> bool {
    match (got.as_f64(), want.as_f64()) {
        (Some(a), Some(b)) => a == b,
        _ => got == want,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::workspace::LoginState;

    fn sample_registry() -> Registry {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        crate::workspace::Workspace::load(&root)
            .expect("the sample loads")
            .registry(&LoginState::All)
    }

    fn invoke() -> Command {
        Command::from_json(
            Path::new("c.json"),
            &serde_json::json!({"device": "invPk/inv01", "invoke": "setPowerLimit",
                                "params": {"limit": 2.5, "mode": 1}}),
        )
        .expect("a command")
    }

    #[test]
    fn a_clean_reply_with_the_data_expected_passes_and_numbers_compare_as_numbers() {
        let id = MsgId("9".into());
        let reply = br#"{"id": "9", "code": 200, "data": {"applied": 2.50}}"#;
        let mut expected = Map::new();
        expected.insert("applied".into(), serde_json::json!(2.5));
        let judged = judge_reply(
            &sample_registry(),
            &invoke(),
            Some(&id),
            None,
            reply,
            Some(&expected),
        );
        assert_eq!(judged, ReplyJudgement::default());
    }

    #[test]
    fn data_other_than_expected_and_a_wrong_id_fail_and_a_string_code_is_noted() {
        let id = MsgId("9".into());
        let reply = br#"{"id": "8", "code": "200", "data": {"applied": 1.0}}"#;
        let mut expected = Map::new();
        expected.insert("applied".into(), serde_json::json!(2.5));
        let judged = judge_reply(
            &sample_registry(),
            &invoke(),
            Some(&id),
            None,
            reply,
            Some(&expected),
        );
        assert!(
            judged.errors.iter().any(|e| e.starts_with("reply id:")),
            "{judged:?}"
        );
        assert!(
            judged
                .errors
                .iter()
                .any(|e| e == "reply data.applied: expected 2.5 (expect.data), got 1.0"),
            "{judged:?}"
        );
        assert!(
            judged.warnings.iter().any(|w| w.starts_with("reply code:")),
            "{judged:?}"
        );
    }

    #[test]
    fn a_device_offline_reply_is_not_compared_with_the_data_expected() {
        let id = MsgId("9".into());
        let reply = br#"{"id": "9", "code": 11900, "message": "device offline", "data": {}}"#;
        let mut expected = Map::new();
        expected.insert("applied".into(), serde_json::json!(2.5));
        let judged = judge_reply(
            &sample_registry(),
            &invoke(),
            Some(&id),
            None,
            reply,
            Some(&expected),
        );
        assert!(
            !judged.errors.iter().any(|e| e.contains("expect.data")),
            "{judged:?}"
        );
    }
}
