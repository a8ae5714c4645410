//! The window's colours in one place, and the one rule that colours a reply code.

use egui::{Color32, Ui};

use crate::protocol::ReplyCode;

/// What went well: a 200, a pass, a device logged in, an agreement.
pub const SUCCESS: Color32 = Color32::from_rgb(80, 200, 120);

/// One colour per plotted point, told apart on a dark background.
pub const SERIES: [Color32; 6] = [
    Color32::from_rgb(90, 170, 255),
    Color32::from_rgb(255, 160, 60),
    Color32::from_rgb(110, 210, 120),
    Color32::from_rgb(230, 100, 200),
    Color32::from_rgb(240, 220, 90),
    Color32::from_rgb(160, 140, 255),
];

/// What went wrong.
pub fn error(ui: &Ui) -> Color32 {
    ui.visuals().error_fg_color
}

/// What deserves a look: no reply, a warning, a note.
pub fn warn(ui: &Ui) -> Color32 {
    ui.visuals().warn_fg_color
}

/// What matters little: a connection row, a state at rest.
pub fn weak(ui: &Ui) -> Color32 {
    ui.visuals().weak_text_color()
}

/// Success or failure.
pub fn outcome(ui: &Ui, good: bool) -> Color32 {
    if good { SUCCESS } else { error(ui) }
}

/// A reply code's colour: success green, every other code red.
pub fn code(ui: &Ui, code: ReplyCode) -> Color32 {
    outcome(ui, code.is_success())
}

/// The colour of the `i`-th plotted series.
pub fn series(i: usize) -> Color32 {
    SERIES[i % SERIES.len()]
}

/// A line of words that is an error or not.
pub fn notice_ui(ui: &mut Ui, text: impl Into<egui::RichText>, error: bool) -> egui::Response {
    if error {
        ui.colored_label(self::error(ui), text)
    } else {
        ui.label(text.into())
    }
}
