//! The report as one HTML page: inline CSS, no scripts, nothing fetched. maud escapes every
//! text it is given, so a fixture named `<script>` shows as text.

use maud::{DOCTYPE, Markup, html};

use crate::model::WrongKind;

use super::device_coverage::{DeviceCoverage, DeviceModel};
use super::{CommandRow, Coverage, DeviceSection, Item, ModelCoverage, Report, Share, Shown};

/// Print and phone friendly; closed `<details>` open on paper where the browser allows it.
const STYLE: &str = "
body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;max-width:70rem;padding:1rem;color:#1b1f24;background:#fff}
h1{font-size:1.5rem;margin:.2rem 0}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #d0d7de}h3{font-size:1.05rem}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:.1rem 1rem;margin:.5rem 0}dl.meta dt{color:#57606a}dl.meta dd{margin:0;overflow-wrap:anywhere}
.summary{font-size:1.15rem;font-weight:600}.pass{color:#1a7f37}.fail{color:#cf222e}.na{color:#57606a}
.scroll{overflow-x:auto}table{border-collapse:collapse;margin:.5rem 0}th,td{border:1px solid #d0d7de;padding:.2rem .45rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.n{text-align:right;white-space:nowrap}td.hit{background:#dafbe1}td.miss{background:#ffebe9}td.off{background:#f6f8fa;color:#8c959f}
section.item{border:1px solid #d0d7de;border-left:.35rem solid #8c959f;border-radius:.3rem;padding:.4rem .8rem;margin:.6rem 0;break-inside:avoid}
section.item.pass{border-left-color:#1a7f37}section.item.fail{border-left-color:#cf222e}
section.item h3{margin:.2rem 0;overflow-wrap:anywhere}.src{color:#57606a;font-size:.85rem;overflow-wrap:anywhere}
pre{background:#f6f8fa;padding:.5rem;overflow-x:auto;white-space:pre-wrap;overflow-wrap:anywhere;font-size:.85rem}
ul{margin:.2rem 0;padding-left:1.3rem}
svg.picture{width:100%;height:auto;display:block;margin:.5rem 0}.legend{font-size:.8rem;color:#57606a}ol.pins{font-size:.85rem}
tr.cmd.good td.status{color:#1a7f37}tr.cmd.bad td.status{color:#cf222e}
@media print{body{max-width:none}details::details-content{content-visibility:visible;display:block}a{color:inherit}}
";

/// The whole page.
pub(super) fn page(report: &Report) -> String {
    let header = &report.header;
    let summary = report.summary();
    let total = report.items.len();
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "thingbench: " (header.title) " " (header.date) }
                style { (maud::PreEscaped(STYLE)) }
            }
            body {
                header {
                    h1 { "thingbench " (header.title) }
                    dl.meta {
                        dt { "date" } dd { (header.date) }
                        dt { "thingbench" } dd { (header.version) }
                        dt { "workspace" } dd { (header.workspace) }
                        dt { "environment" } dd {
                            (header.environment.as_deref().unwrap_or("(the workspace as it is)"))
                        }
                        dt { "broker" } dd { (header.broker) }
                    }
                }
                section #summary {
                    h2 { "Summary" }
                    p.summary {
                        (total) " " (report.header.items) ": "
                        span.pass { (summary.passed) " passed" } ", "
                        @if summary.failed > 0 { span.fail { (summary.failed) " failed" } } @else { "0 failed" }
                        @if summary.not_applicable > 0 { ", " span.na { (summary.not_applicable) " not applicable" } }
                        @if summary.skipped > 0 { ", " span.na { (summary.skipped) " skipped" } }
                    }
                    @if let Some(coverage) = &report.coverage {
                        div.scroll { (coverage_summary(coverage)) }
                    }
                    @if let Some(device) = &report.device {
                        div.scroll { (device_coverage_summary(&device.coverage)) }
                    }
                }
                @if let Some(device) = &report.device {
                    (device_sections(device))
                }
                @if let Some(coverage) = &report.coverage {
                    section #coverage {
                        h2 { "Coverage" }
                        p {
                            "Counted from what was sent and answered: a point counts when a request carrying it got 200 or 1204 "
                            "(the hub checked it); the checker says whether it was valid, or how it was wrong. "
                            (coverage.requests) " requests sent, " (coverage.answered) " answered."
                        }
                        @for model in &coverage.models { (model_section(model)) }
                        (codes_section(coverage))
                    }
                }
                section #items {
                    h2 { (capitalized(&report.header.items)) }
                    @for item in &report.items { (item_section(item)) }
                }
            }
        }
    };
    markup.into_string()
}

/// `Fixtures` of `fixtures`.
fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn verdict_class(item: &Item) -> &'static str {
    match item.verdict {
        super::Verdict::Pass => "pass",
        super::Verdict::Fail => "fail",
        super::Verdict::NotApplicable | super::Verdict::Skipped => "na",
    }
}

fn item_section(item: &Item) -> Markup {
    let class = verdict_class(item);
    html! {
        section class={ "item " (class) } {
            h3 { span.verdict class=(class) { (item.verdict.word()) } " " (item.name) }
            div.src { (item.source) }
            dl.meta {
                dt { "expected" } dd.expected { (item.expected) }
                dt { "got" } dd.actual { (item.actual) }
                @if let Some(rtt) = item.rtt {
                    dt { "round trip" } dd { (format!("{:.2} ms", rtt.as_secs_f64() * 1000.0)) }
                }
            }
            @if !item.findings.is_empty() {
                div { "The checker's findings:" }
                ul.findings { @for finding in &item.findings { li { (finding) } } }
            }
            @if !item.notes.is_empty() {
                ul.notes { @for note in &item.notes { li { "note: " (note) } } }
            }
            @if item.request.is_some() || item.reply.is_some() {
                details {
                    summary { "request and reply" }
                    @if let Some(request) = &item.request { (shown("request", request)) }
                    @if let Some(reply) = &item.reply { (shown("reply", reply)) }
                }
            }
        }
    }
}

fn shown(what: &str, message: &Shown) -> Markup {
    html! {
        div { (what) " on " code { (message.topic) } }
        pre { (message.body) }
    }
}

fn share_cell(share: Share) -> Markup {
    let class = if share.done == share.total {
        "n hit"
    } else {
        "n miss"
    };
    html! { td class=(class) { (share.to_string()) } }
}

fn coverage_summary(coverage: &Coverage) -> Markup {
    html! {
        table #coverage-summary {
            thead { tr { th { "model" } th { "products" } th { "points sent" } th { "sent valid" } th { "ways to be wrong sent" } } }
            tbody {
                @for model in &coverage.models {
                    tr data-model=(model.model_id) {
                        td { (model.model_id) }
                        td { (model.products.join(", ")) }
                        (share_cell(model.points()))
                        (share_cell(model.valid()))
                        (share_cell(model.kinds()))
                    }
                }
            }
        }
    }
}

fn model_section(model: &ModelCoverage) -> Markup {
    html! {
        section.model id={ "model-" (model.model_id) } {
            h3 { (model.model_id) @if !model.name.is_empty() { " (" (model.name) ")" } }
            p {
                "Points sent: " (model.points()) "; sent valid: " (model.valid())
                "; ways to be wrong sent: " (model.kinds()) "."
            }
            div.scroll {
                table.points {
                    thead {
                        tr {
                            th { "point" } th { "type" } th { "valid" }
                            @for kind in WrongKind::OF_POINTS { th { (kind.name()) } }
                        }
                    }
                    tbody {
                        @for point in &model.points {
                            tr data-point=(point.identifier) {
                                td { (point.identifier) }
                                td { (point.data_type) @if point.has_quality { " + quality" } }
                                @if point.valid > 0 { td.n.hit { (point.valid) } } @else { td.n.miss { "0" } }
                                @for kind in WrongKind::OF_POINTS {
                                    @let count = point.invalid.get(&kind).copied().unwrap_or(0);
                                    @if count > 0 { td.n.hit { (count) } }
                                    @else if point.applicable.contains(&kind) { td.n.miss { "0" } }
                                    @else { td.n.off { "n/a" } }
                                }
                            }
                        }
                    }
                }
            }
            p.types {
                "Data types: "
                @for (i, (name, sent)) in model.types().into_iter().enumerate() {
                    @if i > 0 { ", " }
                    @if sent { span.pass { (name) } } @else { span.fail { (name) " (never sent)" } }
                }
            }
            @let never = model.never_sent();
            @if never.is_empty() {
                p.never { "Every point was sent." }
            } @else {
                p.never { "Never sent: " (never.join(", ")) }
            }
            @let missing: Vec<String> = model.points.iter()
                .filter(|p| !p.kinds_missing().is_empty())
                .map(|p| format!("{} ({})", p.identifier, p.kinds_missing().iter().map(|k| k.name()).collect::<Vec<_>>().join(", ")))
                .collect();
            @if !missing.is_empty() {
                p.missing { "Never sent wrong this way: " (missing.join("; ")) }
            }
            @if !model.services.is_empty() || !model.events.is_empty() || !model.set.is_empty() {
                p.commands {
                    "Points set by commands: " (model.points_set())
                    "; services invoked: " (model.services_invoked())
                    "; events posted: " (model.events_posted()) "."
                }
                @let never = model.never_exercised();
                @if !never.is_empty() {
                    p.never-exercised { "Never exercised: " (never.join(", ")) }
                }
            }
            @if model.unknown.is_empty() {
                p.unknown { "No unknown identifier was sent." }
            } @else {
                p.unknown {
                    "Unknown identifiers sent: "
                    (model.unknown.iter().map(|(id, n)| format!("{id} ({n})")).collect::<Vec<_>>().join(", "))
                }
            }
        }
    }
}

fn codes_section(coverage: &Coverage) -> Markup {
    let never = coverage.codes_never_seen();
    html! {
        section #codes {
            h3 { "Reply codes" }
            div.scroll {
                table.codes {
                    thead { tr { th { "code" } th { "meaning" } th { "expected" } th { "seen" } } }
                    tbody {
                        @for code in &coverage.codes {
                            tr data-code=(code.code.0) {
                                td { (code.code.0) }
                                td { (code.code.meaning()) }
                                td.n { (code.expected) }
                                @if code.seen > 0 { td.n.hit { (code.seen) } } @else { td.n.miss { "0" } }
                            }
                        }
                    }
                }
            }
            @if never.is_empty() {
                p.never { "Every code of the table was seen." }
            } @else {
                p.never {
                    "Never seen: "
                    (never.iter().map(|c| c.0.to_string()).collect::<Vec<_>>().join(", "))
                }
            }
        }
    }
}

/// A qualification's own sections: the picture of the run, the commands, and the coverage.
fn device_sections(device: &DeviceSection) -> Markup {
    html! {
        section #run {
            h2 { "The run" }
            p {
                "The plan's phases on the plan clock; a row for the device's connection, one per reporting device "
                "(its posts, back-fills apart), and one for the commands (from sending to reply). "
                "Each failed check's evidence is pinned where it happened."
            }
            (super::picture_svg::picture(&device.picture))
        }
        @if !device.commands.is_empty() {
            section #commands {
                h2 { "Commands" }
                div.scroll {
                    table.commands {
                        thead { tr {
                            th { "command" } th { "to" } th { "asked" } th { "id" } th { "due" } th { "sent" }
                            th { "reply" } th { "round trip" } th { "findings" }
                        } }
                        tbody {
                            @for command in &device.commands { (command_row(command)) }
                        }
                    }
                }
                @for command in &device.commands {
                    details {
                        summary { (command.place) ": command and reply" }
                        (shown("command", &command.command))
                        @if let Some(reply) = &command.reply { (shown("reply", reply)) }
                    }
                }
            }
        }
        section #coverage {
            h2 { "Coverage" }
            p {
                "What the device exercised of each model: the measure points it posted, the points the plan set, "
                "the services invoked (and the outputs their replies carried) and the events it posted."
            }
            @for model in &device.coverage.models { (device_model_section(model)) }
        }
    }
}

fn command_row(command: &CommandRow) -> Markup {
    let class = if command.good { "cmd good" } else { "cmd bad" };
    html! {
        tr class=(class) data-place=(command.place) {
            td { (command.place) }
            td { (command.target) }
            td { (command.asked) }
            td { (command.id) }
            td.n { (format!("{:.1} s", command.due_s)) }
            td.n { @if let Some(sent) = command.sent_s { (format!("{sent:.1} s")) } @else { "never" } }
            td.status {
                (command.status)
                @if command.more_replies > 0 { " (and " (command.more_replies) " more)" }
            }
            td.n { @if let Some(ms) = command.round_trip_ms { (ms) " ms" } }
            td { @for finding in &command.findings { div { (finding) } } }
        }
    }
}

fn device_coverage_summary(coverage: &DeviceCoverage) -> Markup {
    html! {
        table #coverage-summary {
            thead { tr {
                th { "model" } th { "products" } th { "points posted" } th { "points set" }
                th { "services invoked" } th { "events posted" }
            } }
            tbody {
                @for model in &coverage.models {
                    tr data-model=(model.model_id) {
                        td { (model.model_id) }
                        td { (model.products.join(", ")) }
                        (share_cell(model.posted()))
                        (share_cell(model.set()))
                        (share_cell(model.invoked()))
                        (share_cell(model.evented()))
                    }
                }
            }
        }
    }
}

fn device_model_section(model: &DeviceModel) -> Markup {
    let count = |n: usize| {
        html! { @if n > 0 { td.n.hit { (n) } } @else { td.n.miss { "0" } } }
    };
    html! {
        section.model id={ "model-" (model.model_id) } {
            h3 { (model.model_id) @if !model.name.is_empty() { " (" (model.name) ")" } }
            p {
                "Points posted: " (model.posted()) "; set: " (model.set())
                "; services invoked: " (model.invoked()) "; events posted: " (model.evented()) "."
            }
            div.scroll {
                table.points {
                    thead { tr { th { "point" } th { "type" } th { "posted" } th { "set" } } }
                    tbody {
                        @for point in &model.points {
                            tr data-point=(point.identifier) {
                                td { (point.identifier) } td { (point.data_type) }
                                (count(point.posted)) (count(point.set))
                            }
                        }
                    }
                }
                @if !model.services.is_empty() {
                    table.services {
                        thead { tr { th { "service" } th { "invoked" } th { "outputs seen" } } }
                        tbody {
                            @for service in &model.services {
                                tr data-service=(service.identifier) {
                                    td { (service.identifier) }
                                    (count(service.invoked))
                                    td {
                                        @for (i, (output, seen)) in service.outputs.iter().enumerate() {
                                            @if i > 0 { ", " }
                                            @if *seen { span.pass { (output) } } @else { span.fail { (output) " (never seen)" } }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                @if !model.events.is_empty() {
                    table.events {
                        thead { tr { th { "event" } th { "posted" } } }
                        tbody {
                            @for event in &model.events {
                                tr data-event=(event.identifier) { td { (event.identifier) } (count(event.posted)) }
                            }
                        }
                    }
                }
            }
            @for (what, ids) in model.never() {
                @if !ids.is_empty() { p.never { (capitalized(what)) ": " (ids.join(", ")) } }
            }
        }
    }
}
