//! Axis scales and tick labels: linear or logarithmic (when positive values span a decade
//! or more), ticks on round numbers (1-2-5 per decade on log axes) or at given values, and
//! short labels (`250`, `2.5`, `12k`, `1.2M`).

use plotters::coord::combinators::{IntoLogRange, LogCoord};
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::types::RangedCoordf64;
use std::ops::Range;

/// A positive span at least this wide (max / min) gets a log axis.
const LOG_SPAN_MIN: f64 = 10.0;
/// Ticks on a linear axis, roughly.
const LINEAR_TICKS: f64 = 6.0;
/// Beyond this many distinct data values, ticks go back to round numbers.
const DATA_TICKS_MAX: usize = 12;
/// Up to this many decades, a log axis ticks 1, 2 and 5 in each decade.
const DECADES_FOR_1_2_5_MAX: f64 = 2.5;
/// Up to this many decades, a log axis ticks 1 and 3 in each; beyond, powers of ten only.
const DECADES_FOR_1_3_MAX: f64 = 5.5;

/// One axis: its range, whether it is logarithmic, and where its ticks go.
#[derive(Clone, Debug, PartialEq)]
pub struct Scale {
    /// Lower end.
    pub lo: f64,
    /// Upper end.
    pub hi: f64,
    /// Logarithmic.
    pub log: bool,
    /// Tick positions, within [lo, hi].
    pub ticks: Vec<f64>,
}

impl Scale {
    /// A scale for `values`: log when they are positive and span a decade, otherwise linear
    /// (from zero when `from_zero` and every value is positive).
    pub fn auto(values: &[f64], from_zero: bool) -> Scale {
        let (min, max) = bounds(values);
        if min > 0.0 && max / min >= LOG_SPAN_MIN {
            let (lo, hi) = (min / 1.3, max * 1.3);
            return Scale { lo, hi, log: true, ticks: log_ticks(lo, hi) };
        }
        Scale::linear(values, from_zero)
    }

    /// A linear scale for `values`, from zero when `from_zero` and every value is positive.
    pub fn linear(values: &[f64], from_zero: bool) -> Scale {
        let (min, max) = bounds(values);
        let lo = if from_zero { min.min(0.0) } else { min - (max - min) * 0.05 };
        let hi = if max > lo { max + (max - lo) * 0.08 } else { lo + 1.0 };
        Scale { lo, hi, log: false, ticks: linear_ticks(lo, hi) }
    }

    /// A scale whose ticks sit at the distinct `values` themselves (a sweep's grid values).
    pub fn at_values(values: &[f64]) -> Scale {
        let mut distinct: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        distinct.sort_by(f64::total_cmp);
        distinct.dedup();
        let mut scale = Scale::auto(&distinct, false);
        if distinct.len() <= DATA_TICKS_MAX {
            if scale.log {
                (scale.lo, scale.hi) = (distinct[0] / 1.4, distinct[distinct.len() - 1] * 1.4);
            } else if distinct.len() == 1 {
                (scale.lo, scale.hi) = (distinct[0] - 1.0, distinct[0] + 1.0);
            }
            scale.ticks = distinct;
        }
        scale
    }

    /// The plotters coordinate of a linear scale.
    pub fn coord_linear(&self) -> Ticked<RangedCoordf64> {
        Ticked { inner: (self.lo..self.hi).into(), ticks: self.ticks.clone() }
    }

    /// The plotters coordinate of a log scale.
    pub fn coord_log(&self) -> Ticked<LogCoord<f64>> {
        Ticked { inner: (self.lo..self.hi).log_scale().into(), ticks: self.ticks.clone() }
    }
}

/// A plotters coordinate with our ticks. (plotters' own `WithKeyPoints` loses the value
/// formatter of a linear `f64` axis; this one formats through the caller's label formatter.)
pub struct Ticked<R> {
    inner: R,
    ticks: Vec<f64>,
}

impl<R: Ranged<ValueType = f64>> Ranged for Ticked<R> {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        self.ticks.clone()
    }

    fn range(&self) -> Range<f64> {
        self.inner.range()
    }
}

/// Smallest and largest finite value; (0, 1) when there is none.
fn bounds(values: &[f64]) -> (f64, f64) {
    let finite = values.iter().copied().filter(|v| v.is_finite());
    let (min, max) =
        finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    if min > max {
        (0.0, 1.0)
    } else {
        (min, max)
    }
}

/// Round-number ticks (steps of 1, 2 or 5 times a power of ten) in [lo, hi].
fn linear_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let raw = (hi - lo) / LINEAR_TICKS;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step =
        [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(raw);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

/// Ticks in [lo, hi]: 1-2-5 per decade, 1-3 over more decades, powers of ten over many.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let decades = (hi / lo).log10();
    let mantissas: &[f64] = if decades <= DECADES_FOR_1_2_5_MAX {
        &[1.0, 2.0, 5.0]
    } else if decades <= DECADES_FOR_1_3_MAX {
        &[1.0, 3.0]
    } else {
        &[1.0]
    };
    let (first, last) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let decades = (first..=last).map(|e| 10f64.powi(e));
    let all = decades.flat_map(|d| mantissas.iter().map(move |m| m * d));
    all.filter(|t| *t >= lo && *t <= hi).collect()
}

/// A short tick label: `0`, `0.05`, `2.5`, `250`, `12k`, `1.5M`.
pub fn format(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{}M", trim(v / 1e6))
    } else if a >= 1e4 {
        format!("{}k", trim(v / 1e3))
    } else if a >= 100.0 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        trim(v)
    } else {
        let text = format!("{v:.3}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// At most two decimals, trailing zeros dropped.
fn trim(v: f64) -> String {
    let text = format!("{v:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_short() {
        let cases = [
            (0.0, "0"),
            (0.05, "0.05"),
            (2.5, "2.5"),
            (20.0, "20"),
            (250.0, "250"),
            (1500.0, "1500"),
            (12_000.0, "12k"),
            (1_500_000.0, "1.5M"),
        ];
        for (v, want) in cases {
            assert_eq!(format(v), want);
        }
    }

    #[test]
    fn a_decade_or_more_of_positive_values_goes_log() {
        assert!(Scale::auto(&[1.0, 256.0], false).log);
        assert!(!Scale::auto(&[0.0, 256.0], false).log, "zero cannot go on a log axis");
        assert!(!Scale::auto(&[5.0, 40.0], false).log);
        let s = Scale::at_values(&[1.0, 16.0, 256.0, 16.0]);
        assert_eq!((s.log, s.ticks), (true, vec![1.0, 16.0, 256.0]));
    }

    #[test]
    fn ticks_are_round() {
        assert_eq!(linear_ticks(0.0, 108.0), [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
        assert_eq!(log_ticks(80.0, 1300.0), [100.0, 200.0, 500.0, 1000.0]);
        assert_eq!(log_ticks(70.0, 7e5), [100.0, 300.0, 1e3, 3e3, 1e4, 3e4, 1e5, 3e5]);
        assert_eq!(log_ticks(1.0, 1e6), [1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6]);
    }
}
