//! A qualification's report from a run made by hand: the picture, the commands with their
//! replies, and the device's coverage, without the suite's ways to be wrong.

use std::path::Path;

use serde_json::{Value, json};

use super::*;
use crate::protocol::{DeviceId, ReplyCode};
use crate::qualify::{SentCommand, judge};

const START: i64 = 1_700_000_000_000;

fn request(at_ms: u64, row: usize, topic: &str, body: &Value, code: Option<i64>) -> Seen {
    Seen::Request(SeenRequest {
        at_ms,
        conn: 1,
        row: Some(row),
        topic: topic.into(),
        payload: body.to_string().into_bytes(),
        answered: code.map(ReplyCode),
    })
}

fn post(at_ms: u64, power: f64) -> Value {
    let time = START + i64::try_from(at_ms).unwrap_or(0);
    json!({"id": format!("p{at_ms}"), "version": "1.0", "method": "thing.measurepoint.post.batch",
           "params": [{"productKey": "invPk", "deviceKey": "inv01", "time": time,
                       "measurepoints": {"Power": {"value": power, "quality": 0}, "temp": 21.5}},
                      {"time": time, "measurepoints": {"cpuLoad": 1.5}}]})
}

#[test]
fn a_qualification_report_shows_the_run_the_commands_and_what_the_device_exercised() {
    let ws = Workspace::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures"))
        .expect("the sample workspace loads");
    let text = br#"{"name": "hand-made", "device": "gwPk/gw01", "periodS": 1, "commandTimeoutS": 1,
        "phases": [{"name": "steady", "forS": 3, "commands": [
                     {"atS": 0.5, "device": "invPk/inv01", "set": {"Power": 3.5}},
                     {"atS": 1, "device": "invPk/inv01", "invoke": "setPowerLimit", "params": {"limit": 2.5, "mode": 1}},
                     {"atS": 1.5, "device": "gwPk/gw01", "get": ["cpuLoad"]}]},
                   {"name": "outage", "forS": 1, "network": "down"},
                   {"name": "after", "forS": 1}]}"#;
    let plan = Plan::from_slice(Path::new("plans/h.json"), text, &ws).expect("a plan");
    let mut record = Record {
        start_epoch_ms: START,
        seen: Vec::new(),
        commands: SentCommand::all_of(&plan),
    };
    for (command, at) in record.commands.iter_mut().zip([500, 1_000, 1_500]) {
        command.delivered_ms = Some(at);
    }
    let registry = ws.registry(&LoginState::All);
    let login = crate::runner::login_message(
        &ws.gateway(),
        &registry,
        &DeviceId::new("invPk", "inv01"),
        true,
        &crate::workspace::IdSource::from_clock(),
    );
    let event = json!({"id": "e1", "version": "1.0", "method": "thing.event.overTemp.post",
                       "params": {"events": {"temp": 80.5, "level": 2}, "time": START + 300}});
    let batch = "/sys/gwPk/gw01/thing/measurepoint/post/batch";
    record.seen = vec![
        Seen::Connect {
            at_ms: 0,
            conn: 1,
            signed: Ok(()),
        },
        Seen::Request(SeenRequest {
            at_ms: 5,
            conn: 1,
            row: Some(1),
            topic: login.topic,
            payload: login.payload,
            answered: Some(ReplyCode(200)),
        }),
        request(200, 2, batch, &post(200, 3.2), Some(200)),
        request(
            300,
            3,
            "/sys/invPk/inv01/thing/event/overTemp/post",
            &event,
            Some(200),
        ),
        request(
            510,
            4,
            "/sys/invPk/inv01/thing/service/measurepoint/set_reply",
            &json!({"id": "700001", "code": 200, "data": {}}),
            None,
        ),
        request(700, 5, batch, &post(700, 3.5), Some(200)),
        request(
            1_010,
            6,
            "/sys/invPk/inv01/thing/service/setPowerLimit_reply",
            &json!({"id": "700002", "code": 200, "data": {"applied": 2.5}}),
            None,
        ),
        request(
            1_510,
            7,
            "/sys/gwPk/gw01/thing/service/measurepoint/get_reply",
            &json!({"id": "700003", "code": 500, "data": null}),
            None,
        ),
        request(2_000, 8, batch, &post(2_000, 3.5), Some(200)),
    ];
    let results = judge(&plan, &ws.registry(&LoginState::Only(Vec::new())), &record);
    let report = Report::of_qualification(
        Header::now("qualification: hand-made", &ws.root, "the embedded broker"),
        &ws,
        &plan,
        &results,
        &record,
    );
    assert_eq!(report.coverage, None, "no ways to be wrong for a device");
    let device = report.device.as_ref().expect("the device's run");
    // The commands, each with its reply.
    let statuses: Vec<(&str, bool)> = device
        .commands
        .iter()
        .map(|c| (c.status.as_str(), c.good))
        .collect();
    assert_eq!(
        statuses,
        [
            ("answered 200 (success)", true),
            ("answered 200 (success)", true),
            ("answered 500 (the device's handler failed)", false),
        ]
    );
    assert_eq!(device.commands[0].round_trip_ms, Some(10));
    assert!(
        device.commands[1]
            .reply
            .as_ref()
            .is_some_and(|r| r.body.contains("applied"))
    );
    // What the device exercised.
    let model = |id: &str| {
        device
            .coverage
            .models
            .iter()
            .find(|m| m.model_id == id)
            .expect("a model")
    };
    let inverter = model("wb_inverter");
    let power = inverter
        .points
        .iter()
        .find(|p| p.identifier == "Power")
        .expect("Power");
    assert_eq!((power.posted, power.set), (3, 1));
    assert_eq!(inverter.services[0].invoked, 1);
    assert_eq!(inverter.services[0].outputs, [("applied".to_owned(), true)]);
    assert_eq!(inverter.events[0].posted, 1);
    assert_eq!(inverter.posted().done, 2);
    let gateway = model("wb_gateway");
    assert_eq!(gateway.set().done, 0, "a get sets nothing");
    // The page: the picture with a band per phase and the failed check pinned, the commands,
    // the coverage, and none of the suite's columns.
    let html = report.to_html();
    assert_eq!(html.matches("<rect class=\"band\"").count(), 3, "{html}");
    assert!(html.contains("data-kind=\"Outage\""));
    assert!(
        html.contains("<strong>reply-codes</strong>"),
        "the pin's caption"
    );
    assert_eq!(html.matches("<tr class=\"cmd good\"").count(), 2);
    assert_eq!(html.matches("<tr class=\"cmd bad\"").count(), 1);
    assert!(html.contains("services invoked") && html.contains("events posted"));
    assert!(html.contains("Never set: "), "{html}");
    assert!(!html.contains("ways to be wrong"));
    assert!(!html.contains("<script"));
}
