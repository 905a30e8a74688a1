//! The sweep's CSV: every run's JSON flattened into dotted columns (`latency_us.p50`,
//! `config.batch_entries_max`), one row per point and repeat, the same columns in the same
//! order on every row. Arrays become one cell, items joined by `;`. RFC 4180 quoting.

use serde_json::Value;
use std::fmt::Write as _;

/// Separator of array items inside one cell.
const ITEM_SEPARATOR: &str = ";";

/// One row: (column, cell) pairs in the order they were flattened.
pub type Row = Vec<(String, String)>;

/// Appends the flattened cells of `value` under `prefix` to `row`.
pub fn flatten(prefix: &str, value: &Value, row: &mut Row) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                let name = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                flatten(&name, v, row);
            }
        }
        other => row.push((prefix.to_string(), cell(other))),
    }
}

/// A scalar's text; an array's items joined; null is empty.
fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(ITEM_SEPARATOR),
        other => other.to_string(),
    }
}

/// The CSV text of `rows`: the header is the union of every row's columns, in first-seen
/// order; a row without a column has an empty cell there.
pub fn to_csv(rows: &[Row]) -> String {
    let mut columns: Vec<&str> = Vec::new();
    for row in rows {
        for (name, _) in row {
            if !columns.contains(&name.as_str()) {
                columns.push(name);
            }
        }
    }
    let mut out = String::new();
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let quoted: Vec<String> = cells.map(quote).collect();
        quoted.join(",")
    };
    let _ = writeln!(out, "{}", line(&mut columns.iter().copied()));
    for row in rows {
        let mut cells = columns
            .iter()
            .map(|c| row.iter().find(|(name, _)| name == c).map_or("", |(_, v)| v.as_str()));
        let _ = writeln!(out, "{}", line(&mut cells));
    }
    out
}

/// Quotes a cell when it holds a comma, a quote or a line break.
fn quote(cell: &str) -> String {
    if cell.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_objects_become_dotted_columns() {
        let mut row = Row::new();
        flatten("", &json!({"a": {"b": 1, "c": null}, "d": [1, 2], "e": "x,y"}), &mut row);
        let names: Vec<&str> = row.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["a.b", "a.c", "d", "e"]);
        let csv = to_csv(&[row.clone(), row]);
        assert_eq!(csv, "a.b,a.c,d,e\n1,,1;2,\"x,y\"\n1,,1;2,\"x,y\"\n");
    }

    #[test]
    fn missing_columns_are_empty_cells() {
        let a = vec![("x".to_string(), "1".to_string())];
        let b = vec![("y".to_string(), "2".to_string())];
        assert_eq!(to_csv(&[a, b]), "x,y\n1,\n,2\n");
    }
}
