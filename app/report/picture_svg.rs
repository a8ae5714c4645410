//! The picture of a qualification run as inline SVG: no script, nothing fetched, a `<title>` on
//! each mark for the browser's tooltip, and a numbered caption for paper.

use maud::{Markup, html};

use crate::qualify::picture::{BandKind, Lane, Mark, MarkKind, Picture};

/// The drawing's width in its own units; it scales to the page.
const WIDTH: f64 = 1000.0;
/// The lane labels' column.
const LABELS: f64 = 140.0;
const RIGHT: f64 = 14.0;
/// The phase names above the lanes.
const HEAD: f64 = 20.0;
const LANE: f64 = 28.0;
/// The time axis below.
const AXIS: f64 = 26.0;

/// The colours, by what they show (GitHub's palette, as the rest of the report).
const POST: &str = "#0969da";
const BACKFILL: &str = "#bc4c00";
const GOOD: &str = "#1a7f37";
const BAD: &str = "#cf222e";
const WAITING: &str = "#9a6700";
const QUIET: &str = "#57606a";

/// The band colour of a phase kind.
fn band_fill(kind: BandKind) -> &'static str {
    match kind {
        BandKind::Normal => "#f6f8fa",
        BandKind::Code => "#fff1c2",
        BandKind::Silent => "#eee2ff",
        BandKind::Outage => "#ffdcdc",
        BandKind::Slow => "#dbeafe",
    }
}

/// The picture, then its legend and the failed checks' pins in words.
pub(super) fn picture(picture: &Picture) -> Markup {
    let lanes = picture.lanes.len() + usize::from(!picture.pins.is_empty());
    let bottom = HEAD + lanes as f64 * LANE;
    let height = bottom + AXIS;
    let length = picture.length_ms.max(1) as f64;
    let x = |ms: u64| LABELS + (ms as f64 / length).min(1.0) * (WIDTH - LABELS - RIGHT);
    // The pins' lane first, when a check failed.
    let first_lane = usize::from(!picture.pins.is_empty());
    let mid = |lane: usize| HEAD + (lane as f64 + 0.5) * LANE;
    let view_box = format!("0 0 {WIDTH} {height}");
    html! {
        svg.picture xmlns="http://www.w3.org/2000/svg" viewBox=(view_box) role="img"
            aria-label="The run on the plan clock" font-family="system-ui,sans-serif" font-size="11" {
            @for band in &picture.bands {
                @let (x0, x1) = (x(band.from_ms), x(band.to_ms));
                rect.band data-kind=(format!("{:?}", band.kind)) x=(f(x0)) y=(f(HEAD)) width=(f(x1 - x0))
                    height=(f(bottom - HEAD)) fill=(band_fill(band.kind)) stroke="#d0d7de" stroke-width="0.5" {
                    title { (band.name) ": " (band.words) }
                }
                text x=(f((x0 + x1) / 2.0)) y="14" text-anchor="middle" fill=(QUIET) {
                    (fit(&band.name, x1 - x0))
                }
            }
            @if !picture.pins.is_empty() {
                text x=(f(LABELS - 8.0)) y=(f(mid(0) + 4.0)) text-anchor="end" fill=(BAD) { "failed checks" }
            }
            @for (i, lane) in picture.lanes.iter().enumerate() {
                @let y = mid(first_lane + i);
                line x1=(f(LABELS)) x2=(f(WIDTH - RIGHT)) y1=(f(y)) y2=(f(y)) stroke="#d0d7de" stroke-width="0.5" {}
                text x=(f(LABELS - 8.0)) y=(f(y + 4.0)) text-anchor="end" fill="#1b1f24" { (fit(&lane.label, LABELS - 10.0)) }
                (lane_marks(lane, y, &x))
            }
            @for pin in &picture.pins {
                @let px = x(pin.at_ms);
                line.pin x1=(f(px)) x2=(f(px)) y1=(f(HEAD)) y2=(f(bottom)) stroke=(BAD)
                    stroke-width="1" stroke-dasharray="3 3" {}
                g.pin {
                    title { (pin.number) ". " (pin.check) " at " (secs(pin.at_ms)) ": " (pin.text) }
                    circle cx=(f(px)) cy=(f(mid(0))) r="8" fill=(BAD) {}
                    text x=(f(px)) y=(f(mid(0) + 4.0)) text-anchor="middle" fill="#fff" font-size="10" { (pin.number) }
                }
            }
            @if let Some(now) = picture.now_ms {
                line x1=(f(x(now))) x2=(f(x(now))) y1=(f(HEAD)) y2=(f(bottom)) stroke="#1b1f24" stroke-width="1.5" {}
            }
            line x1=(f(LABELS)) x2=(f(WIDTH - RIGHT)) y1=(f(bottom)) y2=(f(bottom)) stroke=(QUIET) stroke-width="1" {}
            @for tick in ticks(picture.length_ms) {
                line x1=(f(x(tick))) x2=(f(x(tick))) y1=(f(bottom)) y2=(f(bottom + 4.0)) stroke=(QUIET) {}
                text x=(f(x(tick))) y=(f(bottom + 16.0)) text-anchor="middle" fill=(QUIET) { (secs(tick)) }
            }
        }
        p.legend {
            span style=(format!("color:{POST}")) { "▮ post" } " · "
            span style=(format!("color:{BACKFILL}")) { "◆ back-fill" } " · "
            span style=(format!("color:{GOOD}")) { "▲ connect" } " · "
            span style=(format!("color:{QUIET}")) { "▼ disconnect · ○ attempt while down" } " · "
            span style=(format!("color:{BAD}")) { "✕ refused" } " · "
            span style=(format!("color:{GOOD}")) { "● command answered well" } " · "
            span style=(format!("color:{BAD}")) { "● answered wrong" } " · "
            span style=(format!("color:{WAITING}")) { "○ not answered" } " · "
            span style=(format!("color:{QUIET}")) { "┄ held while offline" }
            " — phases: "
            @for kind in [BandKind::Normal, BandKind::Code, BandKind::Silent, BandKind::Outage, BandKind::Slow] {
                span.swatch style=(format!("background:{};border:1px solid #d0d7de;padding:0 .3rem;margin-right:.2rem", band_fill(kind))) {
                    (kind_words(kind))
                }
            }
        }
        @if !picture.pins.is_empty() {
            ol.pins {
                @for pin in &picture.pins {
                    li { "at " (secs(pin.at_ms)) ", " strong { (pin.check) } ": " (pin.text) }
                }
            }
        }
    }
}

fn kind_words(kind: BandKind) -> &'static str {
    match kind {
        BandKind::Normal => "normal",
        BandKind::Code => "forced code",
        BandKind::Silent => "no replies",
        BandKind::Outage => "network down",
        BandKind::Slow => "delay",
    }
}

/// A lane's marks around its middle `y`.
fn lane_marks(lane: &Lane, y: f64, x: &dyn Fn(u64) -> f64) -> Markup {
    html! {
        @for mark in &lane.marks {
            @let mx = x(mark.at_ms);
            g.mark data-kind=(format!("{:?}", mark.kind)) {
                title { (secs(mark.at_ms)) ": " (mark.text) }
                (shape(mark, mx, y, x))
            }
        }
    }
}

fn shape(mark: &Mark, mx: f64, y: f64, x: &dyn Fn(u64) -> f64) -> Markup {
    let to = mark.to_ms.map(x);
    match mark.kind {
        MarkKind::Post => html! {
            rect x=(f(mx - 1.0)) y=(f(y - 8.0)) width="2" height="16" fill=(POST) {}
        },
        MarkKind::Backfill => html! {
            polygon points=(diamond(mx, y, 6.0)) fill=(BACKFILL) {}
        },
        MarkKind::Connect => html! {
            polygon points=(format!("{},{} {},{} {},{}", f(mx - 6.0), f(y + 6.0), f(mx + 6.0), f(y + 6.0), f(mx), f(y - 7.0))) fill=(GOOD) {}
        },
        MarkKind::Disconnect => html! {
            polygon points=(format!("{},{} {},{} {},{}", f(mx - 6.0), f(y - 6.0), f(mx + 6.0), f(y - 6.0), f(mx), f(y + 7.0))) fill=(QUIET) {}
        },
        MarkKind::Refused => html! {
            path d=(format!("M{} {}L{} {}M{} {}L{} {}", f(mx - 6.0), f(y - 6.0), f(mx + 6.0), f(y + 6.0), f(mx - 6.0), f(y + 6.0), f(mx + 6.0), f(y - 6.0))) stroke=(BAD) stroke-width="2.5" {}
        },
        MarkKind::Attempt => html! {
            circle cx=(f(mx)) cy=(f(y)) r="4" fill="none" stroke=(QUIET) stroke-width="1.5" {}
        },
        MarkKind::CommandHeld => html! {
            line x1=(f(mx)) x2=(f(to.unwrap_or(mx))) y1=(f(y)) y2=(f(y)) stroke=(QUIET) stroke-width="2" stroke-dasharray="4 3" {}
            line x1=(f(mx)) x2=(f(mx)) y1=(f(y - 6.0)) y2=(f(y + 6.0)) stroke=(QUIET) stroke-width="1.5" {}
        },
        MarkKind::CommandAnswered | MarkKind::CommandFaulty => {
            let color = if mark.kind == MarkKind::CommandAnswered {
                GOOD
            } else {
                BAD
            };
            html! {
                @if let Some(to) = to {
                    line x1=(f(mx)) x2=(f(to.max(mx + 3.0))) y1=(f(y)) y2=(f(y)) stroke=(color) stroke-width="3" {}
                }
                circle cx=(f(mx)) cy=(f(y)) r="5" fill=(color) {}
            }
        }
        MarkKind::CommandUnanswered => html! {
            circle cx=(f(mx)) cy=(f(y)) r="5" fill="#fff" stroke=(WAITING) stroke-width="2" {}
        },
    }
}

fn diamond(x: f64, y: f64, r: f64) -> String {
    format!(
        "{},{} {},{} {},{} {},{}",
        f(x),
        f(y - r),
        f(x + r),
        f(y),
        f(x),
        f(y + r),
        f(x - r),
        f(y)
    )
}

/// A coordinate with one decimal: enough for a drawing a thousand units wide.
fn f(v: f64) -> String {
    format!("{v:.1}")
}

/// `12 s`, `1.5 s`.
fn secs(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

/// Tick times for a clock of `length_ms`: a round step giving at most about twelve ticks.
fn ticks(length_ms: u64) -> Vec<u64> {
    let step = [
        500, 1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000,
        1_800_000, 3_600_000,
    ]
    .into_iter()
    .find(|step| length_ms / step <= 12)
    .unwrap_or(3_600_000);
    (0..=length_ms / step).map(|i| i * step).collect()
}

/// `text` cut to fit `width` units at about six units a character.
fn fit(text: &str, width: f64) -> String {
    let room = (width / 6.5).floor().max(0.0) as usize;
    if text.chars().count() <= room {
        text.to_owned()
    } else if room <= 1 {
        String::new()
    } else {
        let cut: String = text.chars().take(room - 1).collect();
        format!("{cut}…")
    }
}
