//! The suite's coverage: per model, its points by the ways they were sent, what was never sent,
//! and the reply codes expected and seen.

use crate::model::WrongKind;
use crate::report::{Coverage, ModelCoverage, Share};

use super::theme;

/// Draws `coverage`, or says that there is none yet.
pub fn coverage_ui(ui: &mut egui::Ui, coverage: Option<&Coverage>) {
    let Some(coverage) = coverage else {
        ui.label("No request of a suite has ended yet: run a suite to see its coverage.");
        return;
    };
    egui::ScrollArea::vertical()
        .id_salt("coverage")
        .auto_shrink([false, false])
        .show(ui, |ui| {
            ui.label(format!(
                "From what the suite sent and was answered: {} requests, {} answered. A point counts when its request got 200 or 1204.",
                coverage.requests, coverage.answered
            ));
            for model in &coverage.models {
                model_ui(ui, model);
            }
            codes_ui(ui, coverage);
        });
}

fn share_label(ui: &mut egui::Ui, what: &str, share: Share) {
    let color = theme::outcome(ui, share.done == share.total);
    ui.colored_label(color, format!("{what} {share}"));
}

fn model_ui(ui: &mut egui::Ui, model: &ModelCoverage) {
    ui.separator();
    ui.horizontal_wrapped(|ui| {
        ui.strong(format!(
            "{} ({})",
            model.model_id,
            model.products.join(", ")
        ));
        share_label(ui, "points sent:", model.points());
        share_label(ui, "sent valid:", model.valid());
        share_label(ui, "ways to be wrong sent:", model.kinds());
    });
    let never = model.never_sent();
    if !never.is_empty() {
        ui.colored_label(theme::warn(ui), format!("Never sent: {}", never.join(", ")));
    }
    if !model.services.is_empty() || !model.events.is_empty() || !model.set.is_empty() {
        ui.horizontal_wrapped(|ui| {
            share_label(ui, "points set by commands:", model.points_set());
            share_label(ui, "services invoked:", model.services_invoked());
            share_label(ui, "events posted:", model.events_posted());
        });
        let never = model.never_exercised();
        if !never.is_empty() {
            ui.colored_label(
                theme::warn(ui),
                format!("Never exercised: {}", never.join(", ")),
            );
        }
    }
    if !model.unknown.is_empty() {
        let unknown: Vec<&str> = model.unknown.keys().map(String::as_str).collect();
        ui.label(format!("Unknown identifiers sent: {}", unknown.join(", ")));
    }
    egui::CollapsingHeader::new(format!("Points of {}", model.model_id))
        .id_salt(("coverage-model", &model.model_id))
        .show(ui, |ui| {
            egui::Grid::new(("coverage-grid", &model.model_id))
                .striped(true)
                .show(ui, |ui| {
                    ui.strong("point");
                    ui.strong("type");
                    ui.strong("valid");
                    for kind in WrongKind::OF_POINTS {
                        ui.strong(kind.name());
                    }
                    ui.end_row();
                    for point in &model.points {
                        ui.label(&point.identifier);
                        ui.label(point.data_type);
                        count_ui(ui, point.valid, true);
                        for kind in WrongKind::OF_POINTS {
                            let count = point.invalid.get(&kind).copied().unwrap_or(0);
                            count_ui(ui, count, count > 0 || point.applicable.contains(&kind));
                        }
                        ui.end_row();
                    }
                });
        });
}

/// A count; a zero that applies is a gap, one that does not is `n/a`.
fn count_ui(ui: &mut egui::Ui, count: usize, applies: bool) {
    if count > 0 {
        ui.colored_label(theme::outcome(ui, true), count.to_string());
    } else if applies {
        ui.colored_label(theme::warn(ui), "0");
    } else {
        ui.colored_label(theme::weak(ui), "n/a");
    }
}

fn codes_ui(ui: &mut egui::Ui, coverage: &Coverage) {
    ui.separator();
    ui.strong("Reply codes");
    egui::Grid::new("coverage-codes")
        .striped(true)
        .show(ui, |ui| {
            for title in ["code", "meaning", "expected", "seen"] {
                ui.strong(title);
            }
            ui.end_row();
            for code in &coverage.codes {
                ui.label(code.code.0.to_string());
                ui.label(code.code.meaning());
                ui.label(code.expected.to_string());
                count_ui(ui, code.seen, true);
                ui.end_row();
            }
        });
    let never: Vec<String> = coverage
        .codes_never_seen()
        .iter()
        .map(|c| c.0.to_string())
        .collect();
    if never.is_empty() {
        ui.label("Every code of the table was seen.");
    } else {
        ui.colored_label(theme::warn(ui), format!("Never seen: {}", never.join(", ")));
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable as _;
    use serde_json::json;

    use super::*;
    use crate::protocol::{Method, ReplyCode, request_topic};
    use crate::report::Exchange;
    use crate::runner::Outcome;
    use crate::workspace::LoginState;

    #[test]
    fn the_coverage_shows_each_models_shares_and_what_was_never_sent() {
        let ws = crate::control::testing::sample();
        let registry = ws.registry(&LoginState::All);
        let body = json!({"version": "1.0", "method": "thing.measurepoint.post.batch",
            "params": [{"productKey": "meterPk", "deviceKey": "meter01",
                        "measurepoints": {"Meter.Voltage": 230.0, "Meter.Phase": "L9"}}]});
        let exchange = Exchange {
            topic: request_topic(Method::PostBatch, &ws.gateway()),
            payload: body.to_string().into_bytes(),
            outcome: Outcome::Replied {
                code: ReplyCode::MODEL,
                message: None,
                rtt: Duration::from_millis(1),
            },
            reply: Vec::new(),
        };
        let coverage = Coverage::of_run(&registry, [&exchange], [ReplyCode::MODEL]);
        let mut harness = Harness::new_ui_state(
            |ui, coverage: &mut Option<Coverage>| coverage_ui(ui, coverage.as_ref()),
            Some(coverage),
        );
        harness.run();
        harness.get_by_label("points sent: 2 of 4 (50 %)");
        harness.get_by_label("sent valid: 1 of 4 (25 %)");
        harness.get_by_label("Never sent: Meter.EnergyImp, Meter.Status");
        harness.get_by_label(
            "Never seen: 200, 1008, 1251, 1220, 1009, 1260, 1206, 1212, 705, 740, 742",
        );
        // The inverter's points were never sent at all.
        harness.get_by_label("points sent: 0 of 15 (0 %)");
        harness.get_by_label("Points of wb_meter").click();
        harness.run();
        assert!(harness.query_by_label("Meter.Phase").is_some());
        assert!(harness.query_by_label("not in the enum").is_some());
    }

    #[test]
    fn without_a_run_it_says_how_to_get_one() {
        let mut harness = Harness::new_ui_state(
            |ui, coverage: &mut Option<Coverage>| coverage_ui(ui, coverage.as_ref()),
            None,
        );
        harness.run();
        harness
            .get_by_label("No request of a suite has ended yet: run a suite to see its coverage.");
    }
}
