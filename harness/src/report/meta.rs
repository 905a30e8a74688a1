//! environment.json: where, when and how the report's data were measured: the machine (as
//! `Environment::capture` sees it), the UTC date, the exact commands, and the wall time of
//! each experiment. REPORT.md's environment table is rendered from this file alone.

use crate::env::Environment;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Version of environment.json.
pub const SCHEMA_VERSION: u32 = 1;

/// One experiment of the report.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Experiment {
    /// Its name (`default-run`, `clients`, `batching`, `election`).
    pub name: String,
    /// The command that repeats it on its own (`pinraft run ...`, `pinraft sweep ...`), or
    /// how it is run when it has no command of its own.
    pub command: String,
    /// Wall time it took, in seconds.
    pub wall_s: f64,
}

/// environment.json.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Meta {
    /// Layout version.
    pub schema_version: u32,
    /// `full` or `quick`.
    pub mode: String,
    /// The `pinraft report` command that wrote the data.
    pub command: String,
    /// When it started, UTC (`2025-01-31 14:05 UTC`).
    pub date_utc: String,
    /// Wall time of the whole run, in seconds.
    pub wall_s: f64,
    /// The machine, as `Environment::capture` saw it.
    pub env: Value,
    /// Each experiment, in the order run.
    pub experiments: Vec<Experiment>,
}

impl Meta {
    /// A new record, dated now; experiments are added as they finish.
    pub fn start(mode: &str, command: String) -> Meta {
        let env = serde_json::to_value(Environment::capture()).unwrap_or(Value::Null);
        Meta {
            schema_version: SCHEMA_VERSION,
            mode: mode.to_string(),
            command,
            date_utc: utc_now(),
            wall_s: 0.0,
            env,
            experiments: Vec::new(),
        }
    }
}

/// The current UTC time as `YYYY-MM-DD HH:MM UTC`.
fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format_utc(secs)
}

/// `YYYY-MM-DD HH:MM UTC` of a Unix time (Howard Hinnant's days-to-civil algorithm).
pub fn format_utc(unix_s: u64) -> String {
    let days = (unix_s / 86_400) as i64;
    let (hour, minute) = ((unix_s % 86_400) / 3_600, (unix_s % 3_600) / 60);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02} UTC")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_times_become_utc_dates() {
        assert_eq!(format_utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_utc(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(format_utc(1_735_689_600 + 3_600 + 60), "2025-01-01 01:01 UTC");
    }
}
