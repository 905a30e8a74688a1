//! The command-line conventions every subcommand shares (DESIGN.md, "Conventions"):
//! probabilities as fractions or percentages stored as parts per million, durations that
//! always carry a unit, ranges of durations, and timed fault events. Each parser returns a
//! one-line error message fit for stderr; none panics.

use std::fmt;

/// Parts per million in one.
pub const PPM: u32 = 1_000_000;

/// A probability: `0.4` or `40%`, in [0, 1]; returned in parts per million.
pub fn parse_probability(text: &str) -> Result<u32, String> {
    let bad = || {
        format!(
            "invalid probability '{text}': expected a fraction in [0, 1] or a percentage like 40%"
        )
    };
    let (number, scale) = match text.trim().strip_suffix('%') {
        Some(pct) => (pct.trim(), 100.0),
        None => (text.trim(), 1.0),
    };
    let value: f64 = number.parse().map_err(|_| bad())?;
    if !value.is_finite() || !(0.0..=scale).contains(&value) {
        return Err(bad());
    }
    Ok((value / scale * f64::from(PPM)).round() as u32)
}

/// A duration with a unit: `ns`, `us` (or `µs`), `ms`, `s`, `m`; decimals allowed
/// (`1.5ms`). A bare number is an error. Returned in nanoseconds.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let scale: f64 = match unit {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" => 60e9,
        "" => {
            return Err(format!("invalid duration '{text}': a unit is required (ns, us, ms, s, m)"))
        }
        _ => {
            return Err(format!(
                "invalid duration '{text}': unknown unit '{unit}' (ns, us, ms, s, m)"
            ))
        }
    };
    let value: f64 = number.parse().map_err(|_| format!("invalid duration '{text}'"))?;
    let ns = value * scale;
    if !ns.is_finite() || ns > u64::MAX as f64 / 2.0 {
        return Err(format!("invalid duration '{text}': too large"));
    }
    Ok(ns.round() as u64)
}

/// A range of durations `150ms-300ms` (a single duration is the range of one value).
/// Returned as (min, max) nanoseconds with min <= max.
pub fn parse_duration_range(text: &str) -> Result<(u64, u64), String> {
    let (min, max) = match text.split_once('-') {
        Some((a, b)) => (parse_duration(a)?, parse_duration(b)?),
        None => {
            let d = parse_duration(text)?;
            (d, d)
        }
    };
    if min > max {
        return Err(format!("invalid range '{text}': the minimum is above the maximum"));
    }
    Ok((min, max))
}

/// A duration printed back in the convention's form, choosing the largest exact unit.
pub fn format_duration(ns: u64) -> String {
    for (unit, scale) in [("s", 1_000_000_000), ("ms", 1_000_000), ("us", 1_000)] {
        if ns >= scale && ns % scale == 0 {
            return format!("{}{unit}", ns / scale);
        }
    }
    format!("{ns}ns")
}

/// A probability in parts per million printed back as a percentage.
pub fn format_ppm(ppm: u32) -> String {
    let pct = f64::from(ppm) / 1e4;
    format!("{pct}%")
}

/// A fault action of the event language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "action", content = "node")]
pub enum Action {
    /// Crash the current leader (it stays down).
    KillLeader,
    /// Crash one follower (it stays down).
    KillFollower,
    /// Cut the current leader off from every other node.
    IsolateLeader,
    /// Cut node N off from every other node.
    Isolate(u64),
    /// Partition the cluster into a majority and a minority that holds the current leader.
    Split,
    /// Remove every partition.
    Heal,
    /// Crash node N.
    Crash(u64),
    /// Restart node N from its durable state.
    Restart(u64),
}

/// An action at a time (nanoseconds from the start of the run).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Event {
    /// When, in nanoseconds from the start of the run.
    pub at_ns: u64,
    /// What happens.
    #[serde(flatten)]
    pub action: Action,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::KillLeader => write!(f, "kill-leader"),
            Action::KillFollower => write!(f, "kill-follower"),
            Action::IsolateLeader => write!(f, "isolate-leader"),
            Action::Isolate(n) => write!(f, "isolate:{n}"),
            Action::Split => write!(f, "split"),
            Action::Heal => write!(f, "heal"),
            Action::Crash(n) => write!(f, "crash:{n}"),
            Action::Restart(n) => write!(f, "restart:{n}"),
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.action, format_duration(self.at_ns))
    }
}

/// One event `ACTION@TIME`, e.g. `kill-leader@2s` or `isolate:3@500ms`.
pub fn parse_event(text: &str) -> Result<Event, String> {
    let t = text.trim();
    let (action, at) = t
        .split_once('@')
        .ok_or_else(|| format!("invalid event '{t}': expected ACTION@TIME, like kill-leader@2s"))?;
    let at_ns = parse_duration(at).map_err(|e| format!("invalid event '{t}': {e}"))?;
    let node = |arg: Option<&str>| -> Result<u64, String> {
        let arg = arg.ok_or_else(|| {
            format!("invalid event '{t}': '{action}' needs a node, like {action}:2")
        })?;
        match arg.parse::<u64>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(format!("invalid event '{t}': node ids are 1..=n, got '{arg}'")),
        }
    };
    let (name, arg) = match action.split_once(':') {
        Some((name, arg)) => (name, Some(arg)),
        None => (action, None),
    };
    let no_arg = |a: Action| match arg {
        None => Ok(a),
        Some(_) => Err(format!("invalid event '{t}': '{name}' takes no node")),
    };
    let action = match name {
        "kill-leader" => no_arg(Action::KillLeader)?,
        "kill-follower" => no_arg(Action::KillFollower)?,
        "isolate-leader" => no_arg(Action::IsolateLeader)?,
        "split" => no_arg(Action::Split)?,
        "heal" => no_arg(Action::Heal)?,
        "isolate" => Action::Isolate(node(arg)?),
        "crash" => Action::Crash(node(arg)?),
        "restart" => Action::Restart(node(arg)?),
        _ => {
            return Err(format!(
                "invalid event '{t}': unknown action '{name}' (kill-leader, kill-follower, \
                 isolate-leader, isolate:N, split, heal, crash:N, restart:N)"
            ))
        }
    };
    Ok(Event { at_ns, action })
}

/// A comma-separated list of events, sorted by time (stable for equal times).
pub fn parse_events(text: &str) -> Result<Vec<Event>, String> {
    let mut events = text
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(parse_event)
        .collect::<Result<Vec<_>, _>>()?;
    events.sort_by_key(|e| e.at_ns);
    Ok(events)
}

/// A parsed `--events` list. A newtype, so clap treats the whole list as one value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventList(pub Vec<Event>);

/// `parse_events` for clap's `value_parser`.
pub fn parse_event_list(text: &str) -> Result<EventList, String> {
    parse_events(text).map(EventList)
}

/// Checks that every node an event names exists in a cluster of `nodes`.
pub fn check_event_nodes(events: &[Event], nodes: u64) -> Result<(), String> {
    for event in events {
        if let Action::Isolate(n) | Action::Crash(n) | Action::Restart(n) = event.action {
            if n > nodes {
                return Err(format!("event '{event}': node {n} is out of range 1..={nodes}"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probabilities() {
        assert_eq!(parse_probability("0.4"), Ok(400_000));
        assert_eq!(parse_probability("40%"), Ok(400_000));
        assert_eq!(parse_probability("0"), Ok(0));
        assert_eq!(parse_probability("1"), Ok(PPM));
        assert_eq!(parse_probability("100%"), Ok(PPM));
        assert_eq!(parse_probability("0.5%"), Ok(5_000));
        for bad in ["", "1.5", "101%", "-0.1", "abc", "40", "NaN", "inf", "%"] {
            assert!(parse_probability(bad).is_err(), "{bad:?} must be rejected");
        }
    }

    #[test]
    fn durations_need_a_unit() {
        assert_eq!(parse_duration("150us"), Ok(150_000));
        assert_eq!(parse_duration("20ms"), Ok(20_000_000));
        assert_eq!(parse_duration("3s"), Ok(3_000_000_000));
        assert_eq!(parse_duration("1.5ms"), Ok(1_500_000));
        assert_eq!(parse_duration("2m"), Ok(120_000_000_000));
        assert_eq!(parse_duration("7ns"), Ok(7));
        for bad in ["", "150", "ms", "1.2.3ms", "5h", "-3s", "1e99s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} must be rejected");
        }
        assert!(parse_duration("150").unwrap_err().contains("unit is required"));
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_duration_range("150ms-300ms"), Ok((150_000_000, 300_000_000)));
        assert_eq!(parse_duration_range("1ms"), Ok((1_000_000, 1_000_000)));
        assert!(parse_duration_range("300ms-150ms").is_err());
        assert!(parse_duration_range("1ms-").is_err());
    }

    #[test]
    fn formatting_round_trips() {
        for text in ["3s", "20ms", "150us", "7ns", "1500us"] {
            assert_eq!(format_duration(parse_duration(text).unwrap()), text);
        }
        assert_eq!(format_ppm(400_000), "40%");
    }

    #[test]
    fn events() {
        let events = parse_events("heal@3s,kill-leader@1s,isolate:3@500ms").unwrap();
        let want = vec![
            Event { at_ns: 500_000_000, action: Action::Isolate(3) },
            Event { at_ns: 1_000_000_000, action: Action::KillLeader },
            Event { at_ns: 3_000_000_000, action: Action::Heal },
        ];
        assert_eq!(events, want);
        assert_eq!(events[0].to_string(), "isolate:3@500ms");
        for bad in [
            "kill-leader",
            "kill-leader@2",
            "crash@1s",
            "crash:0@1s",
            "crash:x@1s",
            "heal:2@1s",
            "explode@1s",
            "@1s",
        ] {
            assert!(parse_event(bad).is_err(), "{bad:?} must be rejected");
        }
        assert!(check_event_nodes(&events, 3).is_ok());
        assert!(check_event_nodes(&events, 2).unwrap_err().contains("out of range"));
    }
}
