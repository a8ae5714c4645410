//! `cargo bench`: the timeline with a million rows (one frame, a filter change), a frame of the
//! window with a 10,000-point model in Models and 1,000 entries in the builder, loading a thing
//! model of 10,000 points, checking a 1,000-entry batch, and serialising a batch.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use thingbench::control::{DraftCtl, WorkspaceCtl};
use thingbench::history::{Filter, SCAN_BUDGET, Timeline, synthetic};
use thingbench::model::{Registry, ThingModel, accepted, check};
use thingbench::protocol::{DeviceId, Method, ProductKey, ReplyCode, request_topic};
use thingbench::ui::timeline_panel::{TimelineView, timeline_ui};
use thingbench::ui::{BuilderPanel, ModelsPanel, check_ui};
use thingbench::workspace::{Batch, Draft, Entry, EntryTime, PointEntry};

const ROWS: usize = 1_000_000;

fn frame(ctx: &egui::Context, timeline: &Timeline, view: &mut TimelineView) -> usize {
    let input = egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(
            egui::Pos2::ZERO,
            egui::vec2(1280.0, 400.0),
        )),
        ..Default::default()
    };
    let mut commands = Vec::new();
    let output = ctx.run_ui(input, |ui| {
        egui::CentralPanel::default().show(ui, |ui| {
            timeline_ui(ui, timeline, view, None, &mut commands);
        });
    });
    let primitives = ctx.tessellate(output.shapes, output.pixels_per_point);
    primitives.len()
}

fn timeline_benches(c: &mut Criterion) {
    let mut timeline = synthetic(ROWS);
    let ctx = egui::Context::default();
    let mut view = TimelineView::default();
    // Warm the font atlas and the layout caches, as a running window has.
    for _ in 0..3 {
        frame(&ctx, &timeline, &mut view);
    }
    c.bench_function("timeline frame, 1M rows", |b| {
        b.iter(|| black_box(frame(&ctx, &timeline, &mut view)))
    });
    let by_code = Filter {
        code: Some(1204),
        ..Filter::default()
    };
    timeline.set_filter(by_code.clone());
    assert!(timeline.visible_len() > 0);
    c.bench_function("timeline frame, 1M rows, code filter", |b| {
        b.iter(|| black_box(frame(&ctx, &timeline, &mut view)))
    });
    let filters = [
        (
            "device",
            Filter {
                device: "invPk/inv01".into(),
                ..Filter::default()
            },
        ),
        ("code", by_code),
        (
            "text",
            Filter {
                text: "\"id\":\"4242\"".into(),
                ..Filter::default()
            },
        ),
        // A text in a quarter of the payloads: no chunk can be skipped.
        (
            "text in every chunk",
            Filter {
                text: "\"deviceKey\":\"inv01\"".into(),
                ..Filter::default()
            },
        ),
    ];
    let mut group = c.benchmark_group("timeline filter change, 1M rows");
    group.sample_size(10);
    for (name, filter) in &filters {
        group.bench_function(*name, |b| {
            b.iter(|| {
                timeline.set_filter(Filter::default());
                timeline.set_filter(filter.clone());
                black_box(timeline.visible_len())
            })
        });
    }
    group.finish();
    // What the window waits for in the frame a filter changes: the scan's first slices, up to
    // its budget; the rest of the scan goes on in the next frames.
    let mut group = c.benchmark_group("window frame's share of a filter change, 1M rows");
    group.sample_size(10);
    for (name, filter) in &filters {
        group.bench_function(*name, |b| {
            b.iter(|| {
                timeline.set_filter(Filter::default());
                timeline.change_filter(filter.clone());
                black_box(timeline.scan_for(Some(SCAN_BUDGET)))
            })
        });
    }
    group.finish();
}

/// A thing model of `n` points, of the types the checker meets most.
fn model_json(n: usize) -> Vec<u8> {
    let types = ["DOUBLE", "FLOAT", "INT", "BOOL", "STRING"];
    let points: serde_json::Map<String, Value> = (0..n)
        .map(|i| {
            let data_type = types[i % types.len()];
            let definition = if data_type == "STRING" {
                json!({"maxLength": 64})
            } else {
                Value::Null
            };
            let id = format!("point{i}");
            (
                id.clone(),
                json!({"identifier": id, "name": {"defaultValue": id}, "desc": "",
                "dataType": data_type, "dataDefinition": definition,
                "hasQuality": i % 3 == 0 && matches!(data_type, "DOUBLE" | "FLOAT" | "INT"),
                "signalType": "AI", "unit": {"unitId": "V", "multiplier": "ONE"}}),
            )
        })
        .collect();
    serde_json::to_vec(&json!({"modelId": "big", "name": {"defaultValue": "big"}, "desc": "", "measurepoints": points}))
        .unwrap_or_default()
}

/// A batch of `entries` entries, each with every point of `model` (up to ten), valid.
fn batch_of(model: &ThingModel, entries: usize) -> Batch {
    let mut batch = Batch::default();
    for e in 0..entries {
        let mut entry = Entry::new(Some(DeviceId::new("bigPk", format!("dev{}", e % 8))));
        entry.time = EntryTime::Absolute(1_700_000_000_000 + e as i64);
        for (i, point) in model.points.iter().take(10).enumerate() {
            entry
                .points
                .push(PointEntry::sample(point, (e * 10 + i) as u64));
        }
        batch.entries.push(entry);
    }
    batch
}

fn model_benches(c: &mut Criterion) {
    let bytes = model_json(10_000);
    c.bench_function("load a 10,000-point model", |b| {
        b.iter(|| black_box(ThingModel::from_slice(&bytes).map(|m| m.points.len())))
    });
    // The floor: reading the same JSON while keeping nothing.
    c.bench_function("parse the 10,000-point model's JSON only", |b| {
        b.iter(|| black_box(serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).is_ok()))
    });
    let Ok(model) = ThingModel::from_slice(&bytes) else {
        panic!("the generated model loads");
    };
    let model = Arc::new(model);
    let gateway = DeviceId::new("gwPk", "gw01");
    let mut registry = Registry::new();
    registry.add_gateway(gateway.clone(), None);
    registry.add_product(ProductKey("bigPk".into()), model.clone());
    for d in 0..8 {
        registry.add_sub_device(&gateway, DeviceId::new("bigPk", format!("dev{d}")), None);
    }
    registry.log_in_all();
    let batch = batch_of(&model, 1000);
    let payload = serde_json::to_vec(&batch.to_json()).unwrap_or_default();
    let topic = request_topic(Method::PostBatch, &gateway);
    assert_eq!(check(&registry, &topic, &payload).code, ReplyCode::SUCCESS);
    c.bench_function("check a 1,000-entry batch", |b| {
        b.iter(|| black_box(check(&registry, &topic, &payload).code))
    });
    // The hub's answer to one request of `thingbench bench`: a 10-point batch, read into the
    // checker's tree and checked, or taken its quick way (the 200 without a tree).
    let one = serde_json::to_vec(&batch_of(&model, 1).to_json()).unwrap_or_default();
    let quick = accepted(&registry, &topic, &one).map(|r| r.to_bytes());
    assert_eq!(
        quick,
        Some(check(&registry, &topic, &one).reply().to_bytes())
    );
    c.bench_function("hub: check a 10-point batch and write its reply", |b| {
        b.iter(|| black_box(check(&registry, &topic, &one).reply().to_bytes().len()))
    });
    c.bench_function("hub: quick answer to a 10-point batch", |b| {
        b.iter(|| black_box(accepted(&registry, &topic, &one).map(|r| r.to_bytes().len())))
    });
    c.bench_function("serialise a 1,000-entry batch", |b| {
        b.iter(|| black_box(serde_json::to_vec(&batch.to_json()).map(|v| v.len())))
    });
}

/// A workspace whose one sub-device product has the 10,000-point model.
fn big_workspace(dir: &std::path::Path) -> Option<thingbench::workspace::Workspace> {
    let devices: Vec<Value> = (0..8)
        .map(|d| json!({"productKey": "bigPk", "deviceKey": format!("dev{d}"), "secret": "s"}))
        .collect();
    let file = json!({
        "products": {"gwPk": "big", "bigPk": "big"},
        "gateway": {"productKey": "gwPk", "deviceKey": "gw01", "secret": "gw-secret"},
        "devices": devices,
    });
    std::fs::create_dir_all(dir.join("models")).ok()?;
    std::fs::write(dir.join("workspace.json"), file.to_string()).ok()?;
    std::fs::write(dir.join("models/big.json"), model_json(10_000)).ok()?;
    thingbench::workspace::Workspace::load(dir).ok()
}

/// One frame of the window's panels over the builder, as the window lays them out (the Models
/// tab open on the left, the check and JSON on the right), tessellated on the CPU.
fn window_frame(
    ctx: &egui::Context,
    workspace: &WorkspaceCtl,
    draft: &mut DraftCtl,
    models: &mut ModelsPanel,
    builder: &mut BuilderPanel,
) -> usize {
    let input = egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(
            egui::Pos2::ZERO,
            egui::vec2(1280.0, 800.0),
        )),
        ..Default::default()
    };
    let Ok(ws) = workspace.get() else { return 0 };
    let registry = workspace.registry();
    let mut commands = Vec::new();
    let output = ctx.run_ui(input, |ui| {
        egui::Panel::left("left")
            .default_size(270.0)
            .show(ui, |ui| models.ui(ui, workspace));
        egui::Panel::right("check")
            .default_size(390.0)
            .show(ui, |ui| {
                check_ui(ui, draft, registry.max_payload, true, &mut commands)
            });
        egui::CentralPanel::default().show(ui, |ui| builder.ui(ui, draft, ws, registry));
    });
    let primitives = ctx.tessellate(output.shapes, output.pixels_per_point);
    primitives.len()
}

fn window_benches(c: &mut Criterion) {
    let Ok(dir) = tempfile::tempdir() else {
        panic!("a temporary folder for the workspace");
    };
    let Some(ws) = big_workspace(dir.path()) else {
        panic!("the big workspace loads");
    };
    let workspace = WorkspaceCtl::fixed(Ok(ws));
    let Some(model) = workspace
        .registry()
        .model_of(&ProductKey("bigPk".into()))
        .cloned()
    else {
        panic!("the big model is in the registry");
    };
    let mut draft = DraftCtl::new(
        Draft::from_batch(batch_of(&model, 1000)),
        String::new(),
        String::new(),
    );
    if let Ok(ws) = workspace.get() {
        draft.refresh(ws, workspace.registry());
    }
    let ctx = egui::Context::default();
    let mut models = ModelsPanel::default();
    let mut builder = BuilderPanel::default();
    for _ in 0..3 {
        window_frame(&ctx, &workspace, &mut draft, &mut models, &mut builder);
    }
    c.bench_function("window frame, 10,000-point model, 1,000 entries", |b| {
        b.iter(|| {
            black_box(window_frame(
                &ctx,
                &workspace,
                &mut draft,
                &mut models,
                &mut builder,
            ))
        })
    });
}

criterion_group!(benches, timeline_benches, window_benches, model_benches);
criterion_main!(benches);
