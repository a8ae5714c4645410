//! The window's Suite tab: a run of the sample suite shows its coverage, the same figures as
//! `thingbench run --report`, and Export report… writes the report.

mod common;

use common::window::{open_connected, step_until};

use std::time::Duration;

use egui_kittest::kittest::Queryable as _;
use scraper::{Html, Selector};

#[test]
fn the_suite_tab_shows_coverage_and_exports_the_report() {
    let ws = common::copy_workspace();
    let report = ws.path().join("report.html");
    let mut harness = open_connected(ws.path(), [1400.0, 900.0], report.clone());
    // Every fixture gets a result; the commands, with no device connected, are skipped.
    let posts = common::sample_fixtures().len();
    let total = posts + common::sample_commands().len();
    harness.get_by_label("Fixtures").click();
    harness.run();
    harness.get_by_label("Run all").click();
    step_until(
        &mut harness,
        Duration::from_secs(60),
        "the whole suite",
        |h| h.state().suite().results.len() == total && h.state().suite().queued == 0,
    );
    assert_eq!(harness.state().suite().passed(), posts);
    harness.get_by_label("Coverage").click();
    harness.run();
    // The same figures as `thingbench run fixtures/messages --report`.
    assert_eq!(
        harness
            .query_all_by_label("points sent: 4 of 4 (100 %)")
            .count(),
        2,
        "the gateway and the meter"
    );
    harness.get_by_label("points sent: 15 of 15 (100 %)");
    harness.get_by_label("ways to be wrong sent: 8 of 43 (18 %)");
    harness.get_by_label("Every code of the table was seen.");

    harness.get_by_label("Export report…").click();
    step_until(&mut harness, Duration::from_secs(10), "the report", |_| {
        report.is_file()
    });
    let html = std::fs::read_to_string(&report).expect("the report");
    let page = Html::parse_document(&html);
    let pass = Selector::parse("section.item.pass").expect("selector");
    assert_eq!(page.select(&pass).count(), posts);
    let rows = Selector::parse("#coverage-summary tbody tr").expect("selector");
    let inverter: String = page
        .select(&rows)
        .find(|r| r.value().attr("data-model") == Some("wb_inverter"))
        .expect("the inverter's row")
        .text()
        .collect();
    assert!(inverter.contains("8 of 43 (18 %)"), "{inverter}");
    for secret in ["gw-secret", "inv01-secret", "meter01-secret"] {
        assert!(!html.contains(secret), "{secret} is in the report");
    }
}
