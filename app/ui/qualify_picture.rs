//! The picture of a qualification run with egui_plot, live while the plan runs: the phases as
//! bands on the plan clock, a row for the connection, one per reporting device and one for
//! the commands, and each failed check's evidence pinned where it happened. The same
//! [`Picture`] the report draws as SVG.

use egui::Color32;
use egui_plot::{
    Line, LineStyle, MarkerShape, Plot, PlotPoint, PlotPoints, Points, Span, Text, VLine,
};

use crate::qualify::Picture;
use crate::qualify::picture::{BandKind, MarkKind};

/// The band colour of a phase kind, see-through so that the marks stay readable on either theme.
fn band_color(kind: BandKind) -> Color32 {
    let (r, g, b) = match kind {
        BandKind::Normal => (140, 150, 160),
        BandKind::Code => (240, 190, 40),
        BandKind::Silent => (160, 110, 240),
        BandKind::Outage => (230, 70, 70),
        BandKind::Slow => (80, 140, 240),
    };
    Color32::from_rgba_unmultiplied(r, g, b, 40)
}

/// A mark's shape, colour and whether it is filled.
fn look(kind: MarkKind) -> (MarkerShape, Color32, bool) {
    match kind {
        MarkKind::Post => (MarkerShape::Circle, Color32::from_rgb(90, 170, 255), true),
        MarkKind::Backfill => (MarkerShape::Diamond, Color32::from_rgb(255, 150, 50), true),
        MarkKind::Connect => (MarkerShape::Up, Color32::from_rgb(80, 200, 120), true),
        MarkKind::Disconnect => (MarkerShape::Down, Color32::GRAY, true),
        MarkKind::Refused => (MarkerShape::Cross, Color32::from_rgb(240, 80, 80), true),
        MarkKind::Attempt => (MarkerShape::Circle, Color32::GRAY, false),
        MarkKind::CommandAnswered => (MarkerShape::Circle, Color32::from_rgb(80, 200, 120), true),
        MarkKind::CommandFaulty => (MarkerShape::Circle, Color32::from_rgb(240, 80, 80), true),
        MarkKind::CommandUnanswered => {
            (MarkerShape::Circle, Color32::from_rgb(230, 180, 60), false)
        }
        MarkKind::CommandHeld => (MarkerShape::Left, Color32::GRAY, true),
    }
}

/// What a kind of mark is, for the hover label.
fn words(kind: MarkKind) -> &'static str {
    match kind {
        MarkKind::Post => "posts",
        MarkKind::Backfill => "back-fills",
        MarkKind::Connect => "connects",
        MarkKind::Disconnect => "disconnects",
        MarkKind::Refused => "refused CONNECTs",
        MarkKind::Attempt => "attempts while down",
        MarkKind::CommandAnswered => "commands answered well",
        MarkKind::CommandFaulty => "commands answered wrong",
        MarkKind::CommandUnanswered => "commands not answered",
        MarkKind::CommandHeld => "commands held while offline",
    }
}

const KINDS: [MarkKind; 10] = [
    MarkKind::Post,
    MarkKind::Backfill,
    MarkKind::Connect,
    MarkKind::Disconnect,
    MarkKind::Refused,
    MarkKind::Attempt,
    MarkKind::CommandAnswered,
    MarkKind::CommandFaulty,
    MarkKind::CommandUnanswered,
    MarkKind::CommandHeld,
];

/// Draws `picture`, `height` points tall.
pub fn picture_ui(ui: &mut egui::Ui, picture: &Picture, height: f32) {
    // The pins' row on top when a check failed, then the lanes downwards.
    let pins_row = usize::from(!picture.pins.is_empty());
    let mut labels: Vec<String> = Vec::new();
    if pins_row == 1 {
        labels.push("failed checks".into());
    }
    labels.extend(picture.lanes.iter().map(|l| l.label.clone()));
    let rows = labels.len();
    let y_of = |row: usize| -(row as f64);
    let length = picture.length_ms as f64 / 1000.0;
    let font = egui::TextStyle::Small.resolve(ui.style());
    // The lane labels sit in the y axis' room, painted after the plot where its lanes are: the
    // axis' own labels are left out when lanes are closer than its spacing.
    let label_width = labels
        .iter()
        .map(|l| {
            ui.painter()
                .layout_no_wrap(l.clone(), font.clone(), Color32::WHITE)
                .size()
                .x
        })
        .fold(40.0_f32, f32::max)
        + 12.0;
    let response = Plot::new("qualify-picture")
        .height(height)
        .include_x(0.0)
        .include_x(length)
        .include_y(0.6)
        .include_y(-(rows as f64) + 0.4)
        // Zoom and pan along the clock only, so that the lanes stay beside their labels.
        .allow_zoom([true, false])
        .allow_drag([true, false])
        .allow_scroll(false)
        .show_grid([true, false])
        .x_axis_formatter(|mark, _| format!("{} s", mark.value))
        .y_axis_min_width(label_width)
        .y_axis_formatter(|_, _| String::new())
        .y_grid_spacer(move |_| {
            (0..rows)
                .map(|row| egui_plot::GridMark {
                    value: -(row as f64),
                    step_size: 1.0,
                })
                .collect()
        })
        .label_formatter(|hover| {
            Some(match hover {
                egui_plot::HoverPosition::NearDataPoint {
                    plot_name,
                    position,
                    ..
                } => format!("{plot_name}\n{:.1} s", position.x),
                egui_plot::HoverPosition::Elsewhere { position } => {
                    format!("{:.1} s", position.x)
                }
            })
        })
        .show(ui, |plot| {
            for band in &picture.bands {
                plot.span(
                    Span::new(
                        format!("{}: {}", band.name, band.words),
                        band.from_ms as f64 / 1000.0..=band.to_ms as f64 / 1000.0,
                    )
                    .fill(band_color(band.kind))
                    .border_width(0.5),
                );
            }
            for (i, lane) in picture.lanes.iter().enumerate() {
                let y = y_of(pins_row + i);
                for kind in KINDS {
                    let marks: Vec<_> = lane.marks.iter().filter(|m| m.kind == kind).collect();
                    if marks.is_empty() {
                        continue;
                    }
                    let (shape, color, filled) = look(kind);
                    let name = format!("{} of {}", words(kind), lane.label);
                    // A command's span, from its sending to its reply; a hold, from its time
                    // to its sending.
                    for mark in marks.iter().filter(|m| m.to_ms.is_some()) {
                        let to = mark.to_ms.unwrap_or(mark.at_ms) as f64 / 1000.0;
                        let style = if kind == MarkKind::CommandHeld {
                            LineStyle::dashed_dense()
                        } else {
                            LineStyle::Solid
                        };
                        plot.line(
                            Line::new(
                                mark.text.clone(),
                                PlotPoints::from(vec![[mark.at_ms as f64 / 1000.0, y], [to, y]]),
                            )
                            .color(color)
                            .style(style)
                            .width(2.0),
                        );
                    }
                    let points: Vec<[f64; 2]> =
                        marks.iter().map(|m| [m.at_ms as f64 / 1000.0, y]).collect();
                    plot.points(
                        Points::new(name, PlotPoints::from(points))
                            .shape(shape)
                            .color(color)
                            .filled(filled)
                            .radius(4.0),
                    );
                }
            }
            for pin in &picture.pins {
                let x = pin.at_ms as f64 / 1000.0;
                let name = format!("{}. {}: {}", pin.number, pin.check, pin.text);
                plot.vline(
                    VLine::new(name.clone(), x)
                        .color(Color32::from_rgb(240, 80, 80))
                        .style(LineStyle::dashed_dense()),
                );
                plot.text(
                    Text::new(name, PlotPoint::new(x, y_of(0)), pin.number.to_string())
                        .color(Color32::from_rgb(240, 80, 80)),
                );
            }
            if let Some(now) = picture.now_ms {
                plot.vline(VLine::new("now", now as f64 / 1000.0).color(Color32::GRAY));
            }
        });
    let transform = response.transform;
    let left = transform.frame().left() - 6.0;
    for (row, label) in labels.iter().enumerate() {
        let y = transform.position_from_point_y(y_of(row));
        let color = if row == 0 && pins_row == 1 {
            ui.visuals().error_fg_color
        } else {
            ui.visuals().text_color()
        };
        ui.painter().text(
            egui::pos2(left, y),
            egui::Align2::RIGHT_CENTER,
            label,
            font.clone(),
            color,
        );
    }
}
