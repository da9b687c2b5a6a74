//! SVG charts, drawn with plotters' SVG backend (text stays SVG `<text>`, rendered by the
//! browser, so no font is linked or embedded). Two shapes cover every chart of the report:
//! grouped bars with optional 95% whiskers, and lines over linear or logarithmic axes.
//!
//! [`evidence`] turns a run's results into these charts, each with its sentence (the latency
//! charts in `latency` and `spectrum`, the cost charts in `cost`, memory over a soak in `soak`).

mod cost;
pub mod evidence;
pub mod figures;
mod latency;
mod soak;
mod spectrum;

use std::ops::Range;

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::format::num;

/// Width and height of one chart in SVG pixels; the page scales it to the column.
const SIZE: (u32, u32) = (760, 380);
const FONT: &str = "sans-serif";
/// A line chart's y axis turns logarithmic when its largest value is this many times its
/// smallest: past that, a linear axis flattens every series but the worst into its floor.
const LOG_Y_SPREAD: f64 = 50.0;

/// Colours of the backends (in matrix order), readable on white and told apart by people with
/// the common colour-vision deficiencies (Okabe-Ito).
const PALETTE: [RGBColor; 6] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
];
/// The references (`direct`, `aisdk-node`): greys, so the backends stand out.
const REFERENCES: [RGBColor; 2] = [RGBColor(40, 40, 40), RGBColor(150, 150, 150)];

/// The colour of backend `i`, or of reference `i`.
pub fn colour(i: usize, reference: bool) -> RGBColor {
    if reference {
        REFERENCES[i % REFERENCES.len()]
    } else {
        PALETTE[i % PALETTE.len()]
    }
}

/// One series of bars: a value (and maybe an interval) per group.
#[derive(Debug, Clone)]
pub struct BarSeries {
    pub name: String,
    pub colour: RGBColor,
    pub values: Vec<Option<f64>>,
    pub ci: Vec<Option<[f64; 2]>>,
}

#[derive(Debug, Clone)]
pub struct Bars {
    pub title: String,
    pub y_desc: String,
    /// The groups along x (usually the backends).
    pub groups: Vec<String>,
    pub series: Vec<BarSeries>,
    /// A horizontal line and its label (the floor, say).
    pub reference: Option<(f64, String)>,
}

/// One line: points `(x, y, filled)`; an unfilled point is one to read with care.
#[derive(Debug, Clone)]
pub struct Line {
    pub name: String,
    pub colour: RGBColor,
    pub points: Vec<(f64, f64, bool)>,
}

#[derive(Debug, Clone)]
pub struct Lines {
    pub title: String,
    pub x_desc: String,
    pub y_desc: String,
    pub x_log: bool,
    /// Labelled ticks of the x axis; empty for round numbers.
    pub x_ticks: Vec<(f64, String)>,
    pub series: Vec<Line>,
    /// Vertical dashed markers at these x values, in the series' colours.
    pub markers: Vec<(f64, RGBColor)>,
}

/// An axis, linear or logarithmic, with its ticks exactly where the chart wants them (the
/// backends' positions, the percentiles, round numbers) and their labels.
#[derive(Debug, Clone)]
struct Axis {
    lo: f64,
    hi: f64,
    log: bool,
    ticks: Vec<(f64, String)>,
}

impl Axis {
    fn linear(lo: f64, hi: f64) -> Self {
        let step = nice_step((hi - lo) / 6.0);
        let first = (lo / step).ceil() as i64;
        let last = (hi / step).floor() as i64;
        let ticks = (first..=last)
            .map(|k| k as f64 * step)
            .map(|v| (v, num(v)))
            .collect();
        Self {
            lo,
            hi,
            log: false,
            ticks,
        }
    }

    /// Log scale over `lo..hi` (both above 0), ticked at 1, 10, 100, ...
    fn log(lo: f64, hi: f64) -> Self {
        let ticks = (lo.log10().ceil() as i32..=hi.log10().floor() as i32)
            .map(|k| 10f64.powi(k))
            .map(|v| (v, num(v)))
            .collect();
        Self {
            lo,
            hi,
            log: true,
            ticks,
        }
    }

    fn with_ticks(mut self, ticks: Vec<(f64, String)>) -> Self {
        if !ticks.is_empty() {
            self.ticks = ticks;
        }
        self
    }

    fn label(&self, v: f64) -> String {
        self.ticks
            .iter()
            .find(|(t, _)| (t - v).abs() <= t.abs().max(1.0) * 1e-9)
            .map(|(_, l)| l.clone())
            .unwrap_or_default()
    }
}

impl Ranged for Axis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let t = if self.log {
            (value.max(f64::MIN_POSITIVE).ln() - self.lo.ln()) / (self.hi.ln() - self.lo.ln())
        } else {
            (value - self.lo) / (self.hi - self.lo)
        };
        (f64::from(limit.0) + t * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        // Light points are the unlabelled grid lines between ticks: none.
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.iter().map(|(v, _)| *v).collect()
        }
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
pub fn nice_step(raw: f64) -> f64 {
    if raw <= 0.0 || !raw.is_finite() {
        return 1.0;
    }
    let power = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * power)
}

fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("cannot draw a chart: {e}")
}

fn text_style(size: u32) -> TextStyle<'static> {
    (FONT, size).into_font().color(&BLACK)
}

/// The smallest and largest of `values` (infinite when there are none).
fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    })
}

/// The share of a chart's height kept free above the data: room for the value labels, and for
/// the legend in the upper left, one line per entry.
fn headroom(legend_entries: usize) -> f64 {
    0.15 + 0.08 * legend_entries as f64
}

/// A linear range over `lo..hi` with `room` (a share of the span) free above, always
/// containing 0.
fn linear_from_zero(lo: f64, hi: f64, room: f64) -> Axis {
    let (lo, hi) = (lo.min(0.0), hi.max(0.0));
    let span = if hi > lo { hi - lo } else { 1.0 };
    let lo = if lo < 0.0 { lo - span * 0.08 } else { lo };
    Axis::linear(lo, hi + span * room)
}

fn svg(draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<()>) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        draw(&root)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Grouped bars, each labelled with its value, whiskers where an interval is given.
pub fn bars(chart: &Bars) -> Result<String> {
    svg(|root| draw_bars(root, chart))
}

fn draw_bars(root: &DrawingArea<SVGBackend<'_>, Shift>, chart: &Bars) -> Result<()> {
    let n = chart.groups.len();
    let values = chart.series.iter().flat_map(|s| {
        let cis = s.ci.iter().flatten().flat_map(|[lo, hi]| [*lo, *hi]);
        s.values.iter().flatten().copied().chain(cis)
    });
    let reference = chart.reference.iter().map(|(v, _)| *v);
    let (lo, hi) = bounds(values.chain(reference));
    let groups: Vec<(f64, String)> = chart
        .groups
        .iter()
        .enumerate()
        .map(|(i, g)| (i as f64, g.clone()))
        .collect();
    let x = Axis {
        lo: -0.5,
        hi: n as f64 - 0.5,
        log: false,
        ticks: groups,
    };
    let entries = chart.series.len() + usize::from(chart.reference.is_some());
    let y = linear_from_zero(lo, hi, headroom(if entries > 1 { entries } else { 0 }));
    let mut ctx = framed(root, &chart.title, (x, None), (y, &chart.y_desc))?;
    let width = 0.8 / chart.series.len().max(1) as f64;
    for (j, s) in chart.series.iter().enumerate() {
        let left = |i: usize| i as f64 - 0.4 + j as f64 * width;
        let colour = s.colour;
        let present = || {
            s.values
                .iter()
                .enumerate()
                .filter_map(|(i, v)| Some((i, (*v)?)))
        };
        let rects = present().map(|(i, v)| {
            Rectangle::new(
                [(left(i) + width * 0.08, 0.0), (left(i) + width * 0.92, v)],
                colour.filled(),
            )
        });
        ctx.draw_series(rects)
            .map_err(err)?
            .label(s.name.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], colour.filled()));
        let whiskers = s.ci.iter().enumerate().filter_map(|(i, ci)| {
            let [lo, hi] = (*ci)?;
            let (mid, cap) = (left(i) + width / 2.0, width * 0.2);
            let path = vec![
                (mid - cap, lo),
                (mid + cap, lo),
                (mid, lo),
                (mid, hi),
                (mid - cap, hi),
                (mid + cap, hi),
            ];
            Some(PathElement::new(path, BLACK.stroke_width(2)))
        });
        ctx.draw_series(whiskers).map_err(err)?;
        // The value sits above the bar, or above its whisker.
        let labels = present().map(|(i, v)| {
            let top =
                s.ci.get(i)
                    .copied()
                    .flatten()
                    .map_or(v, |[_, hi]| hi.max(v));
            let style = text_style(12).pos(Pos::new(HPos::Center, VPos::Bottom));
            Text::new(num(v), (left(i) + width / 2.0, top.max(0.0)), style)
        });
        ctx.draw_series(labels).map_err(err)?;
    }
    if let Some((v, name)) = &chart.reference {
        let line = LineSeries::new(
            vec![(-0.5, *v), (n as f64 - 0.5, *v)],
            BLACK.stroke_width(1),
        );
        ctx.draw_series(line)
            .map_err(err)?
            .label(name.as_str())
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 12, y)], BLACK));
    }
    if chart.series.len() > 1 || chart.reference.is_some() {
        legend(&mut ctx)?;
    }
    Ok(())
}

/// Lines over a linear or logarithmic x axis (and a logarithmic y axis when the values span
/// more than [`LOG_Y_SPREAD`] and are all above 0), with optional vertical markers.
pub fn lines(chart: &Lines) -> Result<String> {
    let points = || chart.series.iter().flat_map(|s| s.points.iter());
    let xs = points()
        .map(|p| p.0)
        .chain(chart.x_ticks.iter().map(|t| t.0))
        .chain(chart.markers.iter().map(|m| m.0));
    let (x_lo, x_hi) = bounds(xs);
    let (y_lo, y_hi) = bounds(points().map(|p| p.1));
    let x = if chart.x_log {
        Axis::log(x_lo * 0.8, x_hi * 1.25)
    } else {
        let span = (x_hi - x_lo.min(0.0)).max(1.0);
        Axis::linear(x_lo.min(0.0), x_hi + span * 0.05)
    };
    let x = x.with_ticks(chart.x_ticks.clone());
    let room = headroom(chart.series.len());
    let y = if y_lo > 0.0 && y_hi / y_lo > LOG_Y_SPREAD {
        // The same share of the height, in decades.
        Axis::log(y_lo * 0.7, y_hi * (y_hi / y_lo).powf(room))
    } else {
        linear_from_zero(y_lo, y_hi, room)
    };
    svg(|root| draw_lines(root, chart, x, y))
}

fn draw_lines(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    chart: &Lines,
    x: Axis,
    y: Axis,
) -> Result<()> {
    let (y_bottom, y_top) = (y.lo, y.hi);
    let y_desc = if y.log {
        format!("{} (log scale)", chart.y_desc)
    } else {
        chart.y_desc.clone()
    };
    let mut ctx = framed(root, &chart.title, (x, Some(&chart.x_desc)), (y, &y_desc))?;
    for (x, colour) in &chart.markers {
        let dashes = DashedLineSeries::new(
            vec![(*x, y_bottom), (*x, y_top)],
            6,
            4,
            colour.stroke_width(2),
        );
        ctx.draw_series(dashes).map_err(err)?;
    }
    for s in &chart.series {
        let colour = s.colour;
        let line: Vec<(f64, f64)> = s.points.iter().map(|&(x, y, _)| (x, y)).collect();
        ctx.draw_series(LineSeries::new(line, colour.stroke_width(2)))
            .map_err(err)?
            .label(s.name.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 14, y)], colour.stroke_width(2))
            });
        let dots = s.points.iter().map(move |&(x, y, filled)| {
            let style = if filled {
                colour.filled()
            } else {
                colour.stroke_width(2)
            };
            Circle::new((x, y), 4, style)
        });
        ctx.draw_series(dots).map_err(err)?;
    }
    legend(&mut ctx)
}

/// A chart with its title, its axes labelled at their ticks and their descriptions. Without an
/// x description (bars: the groups are the labels) the x axis draws no grid lines.
fn framed<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, Shift>,
    title: &str,
    (x, x_desc): (Axis, Option<&str>),
    (y, y_desc): (Axis, &str),
) -> Result<ChartContext<'a, SVGBackend<'b>, Cartesian2d<Axis, Axis>>> {
    let mut ctx = ChartBuilder::on(root)
        .caption(title, text_style(18))
        .margin(12)
        .x_label_area_size(if x_desc.is_some() { 44 } else { 36 })
        .y_label_area_size(72)
        .build_cartesian_2d(x.clone(), y.clone())
        .map_err(err)?;
    let x_label = |v: &f64| x.label(*v);
    let y_label = |v: &f64| y.label(*v);
    let mut mesh = ctx.configure_mesh();
    mesh.x_label_formatter(&x_label)
        .y_label_formatter(&y_label)
        .y_desc(y_desc)
        .label_style(text_style(13))
        .axis_desc_style(text_style(14));
    match x_desc {
        Some(desc) => mesh.x_desc(desc),
        None => mesh.disable_x_mesh(),
    };
    mesh.draw().map_err(err)?;
    Ok(ctx)
}

fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    ctx: &mut ChartContext<'a, DB, CT>,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    ctx.configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font(text_style(13))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .draw()
        .map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_map_linearly_or_by_logarithm() {
        let linear = Axis::linear(0.0, 100.0);
        assert_eq!(linear.map(&50.0, (0, 200)), 100);
        let log = Axis::log(1.0, 1000.0);
        assert_eq!(log.map(&10.0, (0, 300)), 100);
        assert_eq!(log.map(&100.0, (0, 300)), 200);
        let ticks: Vec<f64> = log.ticks.iter().map(|t| t.0).collect();
        assert_eq!(ticks, [1.0, 10.0, 100.0, 1000.0]);
        assert_eq!(nice_step(13.0), 20.0);
        assert_eq!(nice_step(0.3), 0.5);
    }

    #[test]
    fn charts_are_svg_with_their_labels_as_text() {
        let chart = Bars {
            title: "t".into(),
            y_desc: "µs".into(),
            groups: vec!["a".into(), "b".into()],
            series: vec![BarSeries {
                name: "s".into(),
                colour: colour(0, false),
                values: vec![Some(12.5), None],
                ci: vec![Some([10.0, 15.0]), None],
            }],
            reference: Some((1.0, "floor".into())),
        };
        let svg = bars(&chart).unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        let texts: Vec<&str> = svg
            .split("<text")
            .skip(1)
            .filter_map(|t| Some(t.split_once('>')?.1.split_once("</text>")?.0.trim()))
            .collect();
        for label in ["a", "b", "12.5", "floor", "µs"] {
            assert!(texts.contains(&label), "{label} missing from {texts:?}");
        }
    }
}
