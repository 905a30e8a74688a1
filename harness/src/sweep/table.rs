//! The sweep's table: one row per point, the swept parameters, then each figure of
//! `stats::METRICS` as the median of the repeats, with the min-max spread when repeated.

use super::stats::{self, Metric, Spread, METRICS};
use super::Results;
use comfy_table::{presets, CellAlignment, Table};

/// The table as text, with a line under it saying what the cells are.
pub fn render(results: &Results) -> String {
    let grid = &results.grid;
    let swept: Vec<_> = grid.swept().collect();
    let mut table = Table::new();
    table.load_preset(presets::UTF8_FULL_CONDENSED);
    let mut header: Vec<String> = swept.iter().map(|(_, a)| a.param.flag.to_string()).collect();
    if header.is_empty() {
        header.push("point".into());
    }
    let params = header.len();
    header.extend(METRICS.iter().map(|m| m.header.to_string()));
    table.set_header(header);
    for (point, runs) in grid.points.iter().zip(&results.runs) {
        let mut row: Vec<String> =
            swept.iter().map(|(k, a)| a.values[point.values[*k]].clone()).collect();
        if row.is_empty() {
            row.push(point.index.to_string());
        }
        let repeat = |m: &Metric| if m.spread { results.repeat } else { 1 };
        row.extend(METRICS.iter().map(|m| cell(stats::spread(runs, m.key), repeat(m))));
        table.add_row(row);
    }
    for k in params..params + METRICS.len() {
        if let Some(column) = table.column_mut(k) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    let note = if results.repeat > 1 {
        format!("cells: median of {} runs per point, (min-max) where shown", results.repeat)
    } else {
        "cells: one run per point (use --repeat for medians and spreads)".to_string()
    };
    format!("{table}\n{note}\n")
}

/// A cell: the median, and `(min-max)` when there were several runs.
fn cell(spread: Option<Spread>, repeat: u64) -> String {
    match spread {
        None => "-".into(),
        Some(s) if repeat <= 1 => number(s.median),
        Some(s) => format!("{} ({}-{})", number(s.median), number(s.min), number(s.max)),
    }
}

/// Whole numbers from 100 up, one decimal from 10, two below (packets per operation).
fn number(v: f64) -> String {
    if v.abs() >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells() {
        let s = Spread { median: 1234.4, min: 1000.0, max: 1500.0 };
        assert_eq!(cell(Some(s), 1), "1234");
        assert_eq!(cell(Some(s), 3), "1234 (1000-1500)");
        assert_eq!(cell(Some(Spread { median: 12.34, min: 2.0, max: 20.0 }), 3), "12.3 (2-20)");
        assert_eq!(cell(Some(Spread { median: 0.123, min: 0.1, max: 0.5 }), 3), "0.12 (0.10-0.50)");
        assert_eq!(cell(None, 3), "-");
    }
}
