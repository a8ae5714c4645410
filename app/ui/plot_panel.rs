//! The values of chosen points of a device over time, from the requests in the timeline (sent
//! by the window or a suite, or watched), drawn with egui_plot. The samples are read outside
//! the panel, a slice per frame, by [`PlotCtl::update`].

use crate::control::PlotCtl;
use crate::model::Registry;
use crate::protocol::DeviceId;

use super::theme;
use super::timeline_panel::clock;

/// Draws the chooser and the plot; the choice goes straight to the plot's controller.
pub fn plot_ui(ui: &mut egui::Ui, plot: &mut PlotCtl, registry: &Registry) {
    ui.horizontal(|ui| {
        let mut devices: Vec<&DeviceId> = registry.devices.keys().collect();
        devices.sort_by_key(|d| d.to_string());
        let label = ui.label("Device");
        let mut chosen = plot.device().cloned();
        egui::ComboBox::from_id_salt("plot-device")
            .selected_text(
                chosen
                    .as_ref()
                    .map_or("choose a device".to_owned(), ToString::to_string),
            )
            .show_ui(ui, |ui| {
                for d in devices {
                    ui.selectable_value(&mut chosen, Some(d.clone()), d.to_string());
                }
            })
            .response
            .labelled_by(label.id);
        if let Some(device) = chosen {
            plot.set_device(device, registry);
        }
        let plottable = plot.plottable(registry);
        // Stays open while points are ticked, until a click outside it.
        let config = egui::containers::menu::MenuConfig::new()
            .close_behavior(egui::PopupCloseBehavior::CloseOnClickOutside);
        egui::containers::menu::MenuButton::new("Points")
            .config(config)
            .ui(ui, |ui| {
                if plottable.is_empty() {
                    ui.weak("choose a device with numeric points first");
                }
                for point in &plottable {
                    let mut chosen = plot.series().iter().any(|s| s.point == *point);
                    if ui.checkbox(&mut chosen, point).changed() {
                        plot.set_point(point, chosen);
                    }
                }
            });
        let series = plot.series();
        let samples: usize = series.iter().map(|s| s.samples.len()).sum();
        ui.weak(match series.len() {
            0 => "no point chosen".to_owned(),
            1 => format!("{samples} samples sent"),
            n => format!("{n} points, {samples} samples sent"),
        });
    });
    let series = plot.series();
    egui_plot::Plot::new("values")
        .x_axis_label("time (UTC)")
        .x_axis_formatter(|mark, _range| {
            let clock = clock_of_seconds(mark.value);
            // Milliseconds only when the marks are closer than a second.
            if mark.step_size >= 1.0 {
                clock.get(..8).unwrap_or(&clock).to_owned()
            } else {
                clock
            }
        })
        .label_formatter(|hover| {
            let (name, point) = match hover {
                egui_plot::HoverPosition::NearDataPoint {
                    plot_name,
                    position,
                    ..
                } => (*plot_name, position),
                egui_plot::HoverPosition::Elsewhere { position } => ("", position),
            };
            Some(format!(
                "{name}\n{}\n{}",
                clock_of_seconds(point.x),
                point.y
            ))
        })
        .legend(egui_plot::Legend::default())
        .show(ui, |plot| {
            for (i, s) in series.iter().enumerate() {
                // The line and its samples in one colour, so that they read as one series.
                let color = theme::series(i);
                let points = egui_plot::PlotPoints::from(s.samples.clone());
                plot.line(egui_plot::Line::new(s.point.clone(), points).color(color));
                let points = egui_plot::PlotPoints::from(s.samples.clone());
                plot.points(
                    egui_plot::Points::new(s.point.clone(), points)
                        .color(color)
                        .radius(3.0),
                );
            }
        });
}

/// `HH:MM:SS.mmm` (UTC) of a time in epoch seconds.
fn clock_of_seconds(seconds: f64) -> String {
    clock((seconds * 1000.0).round() as i64)
}
