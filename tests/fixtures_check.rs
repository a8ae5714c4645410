//! Every sample fixture's expected code is what the checker predicts, and the sample
//! workspace covers every code of the protocol's table.

use std::collections::BTreeSet;
use std::path::Path;

use thingbench::model::check;
use thingbench::protocol::{EpochMs, ReplyCode};
use thingbench::workspace::{IdSource, LoginState, Workspace};

fn sample() -> Workspace {
    Workspace::load(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .as_path(),
    )
    .expect("the sample workspace loads")
}

#[test]
fn sample_workspace_loads_cleanly() {
    let ws = sample();
    // meter02's secret comes from an environment variable that tests do not set.
    let real: Vec<_> = ws
        .problems
        .iter()
        .filter(|p| !p.contains("THINGBENCH_METER02_SECRET"))
        .collect();
    assert!(real.is_empty(), "{real:#?}");
    for file in &ws.models {
        assert!(file.model.is_ok(), "{:?}", file.model);
    }
    assert!(ws.models.len() >= 3);
    assert!(ws.file.devices.len() >= 3, "at least three sub-devices");
}

#[test]
fn every_fixture_gets_its_expected_code() {
    let ws = sample();
    let ids = IdSource::starting_at(1);
    let gateway = ws.gateway();
    let mut covered = BTreeSet::new();
    let mut failures = Vec::new();
    for entry in &ws.fixtures {
        let fixture = match &entry.fixture {
            Ok(f) => f,
            Err(e) => {
                failures.push(format!("{e}"));
                continue;
            }
        };
        let registry = ws.registry(&LoginState::of_fixture(fixture));
        let message = fixture.resolve(&gateway, &registry, EpochMs::now(), &ids);
        let report = check(&registry, &message.topic, &message.payload);
        let expected = fixture.expect.code.expect("sample fixtures expect a code");
        covered.insert(expected.0);
        if report.code != expected {
            failures.push(format!(
                "{}: expected {expected}, checker predicts {} ({:?})",
                entry.path.display(),
                report.code,
                report.reply_message()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        ws.fixtures.len() >= 20,
        "at least 20 fixtures, found {}",
        ws.fixtures.len()
    );
    let all: BTreeSet<i64> = ReplyCode::ALL.iter().map(|c| c.0).collect();
    let missing: Vec<_> = all.difference(&covered).collect();
    assert!(missing.is_empty(), "codes without a fixture: {missing:?}");
}
