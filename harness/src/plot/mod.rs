//! SVG line charts for sweeps and run timelines, drawn with plotters' SVG backend only:
//! text is written as SVG `<text>` in a generic `sans-serif` family, so nothing here reads
//! a system font. A chart has a title, a subtitle, axes with units, lines with optional
//! min-max whiskers, vertical markers, and a legend in its own column so it never covers
//! data. Axes go logarithmic when positive values span a decade or more. This module
//! knows nothing about Raft or sweeps: callers build a `Chart` and call `write_svg`.

mod cdf;
mod ticks;
mod timeline;

pub use cdf::{cdf_chart, Distribution};
pub use timeline::timeline_svg;

use anyhow::{anyhow, Context};
use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
use ticks::Scale;

/// Width of every chart in pixels.
const WIDTH_PX: u32 = 1000;
/// Height of every chart in pixels.
const HEIGHT_PX: u32 = 560;
/// Height of the title band.
const TITLE_PX: u32 = 64;
/// Height of one legend entry.
const LEGEND_ROW_PX: i32 = 20;
/// The font family written into the SVG; the viewer picks the face.
const FONT: &str = "sans-serif";

/// One point of a line: a value and the range it comes from (equal when one run).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    /// Position on the x axis.
    pub x: f64,
    /// The plotted value (a median over repeats).
    pub y: f64,
    /// Smallest value behind `y`.
    pub y_min: f64,
    /// Largest value behind `y`.
    pub y_max: f64,
}

/// One line of a chart.
#[derive(Clone, Debug)]
pub struct Line {
    /// Legend entry; an empty label has none (e.g. the p99 twin of a p50 line).
    pub label: String,
    /// Which colour and marker shape: lines of one group share a style index.
    pub style: usize,
    /// Dashed instead of solid.
    pub dashed: bool,
    /// Points, in x order.
    pub samples: Vec<Sample>,
}

/// A vertical line across the plot with a label, at an x position (an event, say).
#[derive(Clone, Debug)]
pub struct Marker {
    /// Position on the x axis.
    pub x: f64,
    /// Text beside the line.
    pub label: String,
}

/// Everything one chart shows.
#[derive(Clone, Debug, Default)]
pub struct Chart {
    /// Large text at the top.
    pub title: String,
    /// The fixed parameters, in small text under the title.
    pub subtitle: String,
    /// X axis description with its unit.
    pub x_label: String,
    /// Y axis description with its unit.
    pub y_label: String,
    /// Put the x ticks at the data's own x values (a sweep's grid values).
    pub x_ticks_at_data: bool,
    /// Never use a log scale (a time axis).
    pub linear_only: bool,
    /// Draw a marker shape at every sample.
    pub show_points: bool,
    /// The lines.
    pub lines: Vec<Line>,
    /// Legend entries that explain line styles: (text, dashed).
    pub style_key: Vec<(String, bool)>,
    /// Vertical markers.
    pub markers: Vec<Marker>,
}

/// A distinct colour per style index (Tableau 10), repeated with another marker shape.
fn color(style: usize) -> RGBColor {
    const PALETTE: [(u8, u8, u8); 10] = [
        (31, 119, 180),
        (255, 127, 14),
        (44, 160, 44),
        (214, 39, 40),
        (148, 103, 189),
        (140, 86, 75),
        (227, 119, 194),
        (127, 127, 127),
        (188, 189, 34),
        (23, 190, 207),
    ];
    let (r, g, b) = PALETTE[style % PALETTE.len()];
    RGBColor(r, g, b)
}

/// Converts a plotters error (generic over the backend) into a one-line error.
fn plot_error<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("drawing a chart: {e:?}")
}

/// Renders `chart` as an SVG document.
pub fn render_svg(chart: &Chart) -> anyhow::Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH_PX, HEIGHT_PX)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let (head, body) = root.split_vertically(TITLE_PX);
        draw_title(&head, chart)?;
        let legend_px = legend_width(chart);
        let (plot, legend) = body.split_horizontally(WIDTH_PX - legend_px);
        draw_plot(&plot, chart)?;
        draw_legend(&legend, chart)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// Renders `chart` into the file `path`.
pub fn write_svg(path: &Path, chart: &Chart) -> anyhow::Result<()> {
    let svg = render_svg(chart)?;
    std::fs::write(path, svg).with_context(|| format!("writing {}", path.display()))
}

/// Title and subtitle, left-aligned.
fn draw_title(area: &DrawingArea<SVGBackend, Shift>, chart: &Chart) -> anyhow::Result<()> {
    let title = TextStyle::from((FONT, 22).into_font().style(FontStyle::Bold)).color(&BLACK);
    area.draw(&Text::new(chart.title.clone(), (16, 10), title)).map_err(plot_error)?;
    let sub = TextStyle::from((FONT, 14).into_font()).color(&RGBColor(80, 80, 80));
    area.draw(&Text::new(chart.subtitle.clone(), (16, 40), sub)).map_err(plot_error)?;
    Ok(())
}

/// The legend column's width: enough for the longest entry, within bounds.
fn legend_width(chart: &Chart) -> u32 {
    let labels = chart.lines.iter().map(|l| &l.label).chain(chart.style_key.iter().map(|k| &k.0));
    let chars = labels.map(|l| l.chars().count()).max().unwrap_or(0) as u32;
    if chars == 0 {
        return 20;
    }
    (64 + chars * 8).clamp(140, 360)
}

/// Picks linear or log scales from the data and draws the axes, lines and markers.
fn draw_plot(area: &DrawingArea<SVGBackend, Shift>, chart: &Chart) -> anyhow::Result<()> {
    let samples = chart.lines.iter().flat_map(|l| &l.samples);
    let xs: Vec<f64> =
        samples.clone().map(|s| s.x).chain(chart.markers.iter().map(|m| m.x)).collect();
    let ys: Vec<f64> = samples.flat_map(|s| [s.y, s.y_min, s.y_max]).collect();
    let (x, y) = if chart.linear_only {
        (Scale::linear(&xs, true), Scale::linear(&ys, true))
    } else if chart.x_ticks_at_data {
        (Scale::at_values(&xs), Scale::auto(&ys, true))
    } else {
        (Scale::auto(&xs, false), Scale::auto(&ys, true))
    };
    match (x.log, y.log) {
        (false, false) => plot_in(area, chart, x.coord_linear(), y.coord_linear()),
        (true, false) => plot_in(area, chart, x.coord_log(), y.coord_linear()),
        (false, true) => plot_in(area, chart, x.coord_linear(), y.coord_log()),
        (true, true) => plot_in(area, chart, x.coord_log(), y.coord_log()),
    }
}

/// Draws the chart body in the given coordinates.
fn plot_in<X, Y>(
    area: &DrawingArea<SVGBackend, Shift>,
    chart: &Chart,
    x: X,
    y: Y,
) -> anyhow::Result<()>
where
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let mut ctx = ChartBuilder::on(area)
        .margin_left(12)
        .margin_right(24)
        .margin_top(12)
        .margin_bottom(8)
        .x_label_area_size(56)
        .y_label_area_size(84)
        .build_cartesian_2d(x, y)
        .map_err(plot_error)?;
    ctx.configure_mesh()
        .x_desc(chart.x_label.as_str())
        .y_desc(chart.y_label.as_str())
        .x_label_formatter(&|v| ticks::format(*v))
        .y_label_formatter(&|v| ticks::format(*v))
        .axis_desc_style((FONT, 16))
        .label_style((FONT, 13))
        .bold_line_style(BLACK.mix(0.1))
        .light_line_style(TRANSPARENT)
        .draw()
        .map_err(plot_error)?;
    for line in &chart.lines {
        draw_line(&mut ctx, line, chart.show_points)?;
    }
    let (y_lo, y_hi) = (ctx.y_range().start, ctx.y_range().end);
    let grey = TextStyle::from((FONT, 13).into_font()).color(&RGBColor(150, 30, 30));
    for (k, m) in chart.markers.iter().enumerate() {
        let path =
            PathElement::new(vec![(m.x, y_lo), (m.x, y_hi)], RGBColor(150, 30, 30).stroke_width(1));
        ctx.draw_series(std::iter::once(path)).map_err(plot_error)?;
        let offset = 4 + (k as i32 % 4) * 16;
        let text =
            EmptyElement::at((m.x, y_hi)) + Text::new(m.label.clone(), (4, offset), grey.clone());
        ctx.draw_series(std::iter::once(text)).map_err(plot_error)?;
    }
    Ok(())
}

/// The chart context type `plot_in` draws into.
type Ctx<'a, 'b, X, Y> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<X, Y>>;

/// One line: the path, its whiskers (min-max) and its marker shapes.
fn draw_line<X, Y>(
    ctx: &mut Ctx<'_, '_, X, Y>,
    line: &Line,
    show_points: bool,
) -> anyhow::Result<()>
where
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let c = color(line.style);
    let points: Vec<(f64, f64)> = line.samples.iter().map(|s| (s.x, s.y)).collect();
    if line.dashed {
        let series = DashedLineSeries::new(points.clone(), 7, 5, c.stroke_width(2));
        ctx.draw_series(series).map_err(plot_error)?;
    } else {
        ctx.draw_series(LineSeries::new(points.clone(), c.stroke_width(2))).map_err(plot_error)?;
    }
    let whiskers = line.samples.iter().filter(|s| s.y_max > s.y_min);
    let whiskers =
        whiskers.map(|s| PathElement::new(vec![(s.x, s.y_min), (s.x, s.y_max)], c.stroke_width(1)));
    ctx.draw_series(whiskers).map_err(plot_error)?;
    if show_points {
        for &p in &points {
            ctx.plotting_area().draw(&marker_at(p, line.style, c)).map_err(plot_error)?;
        }
    }
    Ok(())
}

/// A marker shape: circle, triangle or square, cycling every ten styles (the palette).
fn marker_at<'e, DB, C>(at: C, style: usize, c: RGBColor) -> DynElement<'e, DB, C>
where
    DB: DrawingBackend + 'e,
    C: Clone + 'e,
{
    let fill = c.filled();
    match (style / 10) % 3 {
        0 => (EmptyElement::at(at) + Circle::new((0, 0), 4, fill)).into_dyn(),
        1 => (EmptyElement::at(at) + TriangleMarker::new((0, 0), 5, fill)).into_dyn(),
        _ => (EmptyElement::at(at) + Rectangle::new([(-4, -4), (4, 4)], fill)).into_dyn(),
    }
}

/// The legend column: one entry per labelled line, then the style key.
fn draw_legend(area: &DrawingArea<SVGBackend, Shift>, chart: &Chart) -> anyhow::Result<()> {
    let rows_max = (area.dim_in_pixel().1 as i32 - 40) / LEGEND_ROW_PX;
    let entries: Vec<(&str, usize, bool, bool)> = (chart.lines.iter())
        .filter(|l| !l.label.is_empty())
        .map(|l| (l.label.as_str(), l.style, l.dashed, true))
        .chain(
            chart
                .style_key
                .iter()
                .map(|(text, dashed)| (text.as_str(), usize::MAX, *dashed, false)),
        )
        .collect();
    let text = TextStyle::from((FONT, 13).into_font()).color(&BLACK);
    for (row, &(label, style, dashed, colored)) in entries.iter().enumerate() {
        let y = 24 + row as i32 * LEGEND_ROW_PX;
        if row as i32 == rows_max - 1 && entries.len() as i32 > rows_max {
            let more = format!("… and {} more", entries.len() - row);
            area.draw(&Text::new(more, (8, y - 7), text.clone())).map_err(plot_error)?;
            break;
        }
        let c = if colored { color(style) } else { RGBColor(60, 60, 60) };
        let segments: &[(i32, i32)] =
            if dashed { &[(6, 15), (20, 29), (34, 40)] } else { &[(6, 40)] };
        for &(a, b) in segments {
            area.draw(&PathElement::new(vec![(a, y), (b, y)], c.stroke_width(2)))
                .map_err(plot_error)?;
        }
        if colored && chart.show_points {
            area.draw(&marker_at((23, y), style, c)).map_err(plot_error)?;
        }
        area.draw(&Text::new(label.to_string(), (48, y - 7), text.clone())).map_err(plot_error)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_renders_to_svg_with_its_texts() {
        let samples = |k: f64| {
            (0..3).map(move |i| {
                let x = 10f64.powi(i);
                Sample { x, y: k * x, y_min: k * x * 0.9, y_max: k * x * 1.1 }
            })
        };
        let chart = Chart {
            title: "Throughput vs batch".into(),
            subtitle: "3 nodes".into(),
            x_label: "batch (entries)".into(),
            y_label: "throughput (ops/s)".into(),
            x_ticks_at_data: true,
            show_points: true,
            lines: vec![
                Line {
                    label: "loss 0%".into(),
                    style: 0,
                    dashed: false,
                    samples: samples(100.0).collect(),
                },
                Line {
                    label: "loss 20%".into(),
                    style: 1,
                    dashed: true,
                    samples: samples(50.0).collect(),
                },
            ],
            style_key: vec![("p99".into(), true)],
            markers: vec![Marker { x: 5.0, label: "kill-leader@2s".into() }],
            ..Chart::default()
        };
        let svg = render_svg(&chart).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..80]);
        for text in
            ["Throughput vs batch", "loss 20%", "throughput (ops/s)", "kill-leader@2s", "p99"]
        {
            assert!(svg.contains(text), "missing {text}");
        }
    }
}
