//! Cumulative distribution charts: one line per distribution, the share of trials (in
//! percent) finished by each time. Trials that never finished within the observation window
//! count in the total but never on the line, so such a line stops below 100%.

use super::{Chart, Line, Sample};

/// One distribution to draw.
#[derive(Clone, Debug, PartialEq)]
pub struct Distribution {
    /// Legend entry.
    pub label: String,
    /// The finished trials' values, in any order.
    pub values: Vec<f64>,
    /// Trials in all, finished or not (at least `values.len()`).
    pub total: usize,
}

/// A CDF chart: x the value (log when the values span a decade), y the cumulative percent
/// of trials from 0 to 100.
pub fn cdf_chart(title: &str, subtitle: &str, x_label: &str, dists: &[Distribution]) -> Chart {
    let lines = dists.iter().enumerate().map(|(style, d)| Line {
        label: d.label.clone(),
        style,
        dashed: false,
        samples: cdf_samples(&d.values, d.total),
    });
    Chart {
        title: title.to_string(),
        subtitle: subtitle.to_string(),
        x_label: x_label.to_string(),
        y_label: "trials finished (cumulative %)".to_string(),
        lines: lines.collect(),
        ..Chart::default()
    }
}

/// The steps of an empirical CDF: a start at 0% on the smallest value, then (value, percent
/// of `total` at or below it) for each value.
fn cdf_samples(values: &[f64], total: usize) -> Vec<Sample> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    let total = total.max(sorted.len()).max(1) as f64;
    let point = |x: f64, y: f64| Sample { x, y, y_min: y, y_max: y };
    let first = sorted.first().map(|&x| point(x, 0.0));
    let steps = sorted.iter().enumerate().map(|(i, &x)| point(x, 100.0 * (i + 1) as f64 / total));
    first.into_iter().chain(steps).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unfinished_trials_keep_the_line_below_100_percent() {
        let samples = cdf_samples(&[30.0, 10.0, 20.0], 4);
        let ys: Vec<f64> = samples.iter().map(|s| s.y).collect();
        assert_eq!(ys, [0.0, 25.0, 50.0, 75.0]);
        assert_eq!(samples[0].x, 10.0);
        assert!(cdf_samples(&[], 5).is_empty());
    }

    #[test]
    fn a_cdf_chart_renders() {
        let d = |label: &str, values: Vec<f64>| Distribution {
            label: label.into(),
            total: values.len(),
            values,
        };
        let chart = cdf_chart(
            "Time to a new leader",
            "5 nodes",
            "time (ms)",
            &[d("150-155 ms", vec![160.0, 200.0, 900.0]), d("12-24 ms", vec![15.0, 30.0])],
        );
        let svg = super::super::render_svg(&chart).unwrap();
        assert!(svg.contains("150-155 ms") && svg.contains("cumulative %"));
    }
}
