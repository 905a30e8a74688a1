//! How REPORT.md writes numbers: thousands separators, a decimal where it matters, delays
//! below a millisecond to the microsecond.

/// Whole numbers with thousands separators.
pub fn thousands(v: f64) -> String {
    let n = v.round() as i64;
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        out.insert(0, '-');
    }
    out
}

/// Microseconds: one decimal below 100, whole numbers with separators above.
pub fn micros(v: f64) -> String {
    if v < 100.0 {
        format!("{v:.1}")
    } else {
        thousands(v)
    }
}

/// Milliseconds: as `micros`.
pub fn millis(v: f64) -> String {
    if v.fract() == 0.0 && v < 100.0 {
        format!("{v:.0}")
    } else {
        micros(v)
    }
}

/// A delay in ms: as `millis`, with up to three decimals below 1 ms (`0.05`).
pub fn delay_ms(v: f64) -> String {
    if v < 1.0 {
        let text = format!("{v:.3}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        millis(v)
    }
}

/// Three significant digits (for values below 100), whole numbers above.
pub fn significant(v: f64) -> String {
    match v.abs() {
        a if a >= 100.0 => thousands(v),
        a if a >= 10.0 => format!("{v:.1}"),
        a if a >= 1.0 => format!("{v:.2}"),
        _ => format!("{v:.3}"),
    }
}

/// A published value as given: whole numbers with separators, fractions as they are.
pub fn number(v: f64) -> String {
    if v.fract() == 0.0 {
        thousands(v)
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(thousands(1_234_567.4), "1,234,567");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(micros(12.34), "12.3");
        assert_eq!(micros(1234.0), "1,234");
        assert_eq!(millis(150.0), "150");
        assert_eq!(millis(7.5), "7.5");
        assert_eq!(number(1.6), "1.6");
        assert_eq!(number(50104.0), "50,104");
        assert_eq!(significant(0.017184), "0.017");
        assert_eq!(significant(12.345), "12.3");
        assert_eq!(delay_ms(0.05), "0.05");
        assert_eq!(delay_ms(0.15), "0.15");
        assert_eq!(delay_ms(5.0), "5");
    }
}
