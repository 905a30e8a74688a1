//! The engine knobs, each defined once. A [`Knob`] names the `pinraft_engine::Config` fields
//! it sets (which are also its JSON keys under `config` and its TOML keys under `[engine]`),
//! its command-line flag, the older short TOML key still accepted, its unit and its help.
//! Every command that runs an engine takes its flags from [`EngineFlags`], every JSON result
//! writes them through [`Knobs`], every TOML scenario reads them with [`from_toml`], and a
//! command's own defaults are a `Config` it passes in: adding a knob is one entry in
//! [`KNOBS`].

use crate::args;
use clap::{Arg, ArgMatches, Command, FromArgMatches};
use pinraft_engine::{Config, ResendPolicy};
use serde::ser::{Serialize, SerializeMap, Serializer};

/// What a knob's value is, on the command line and in TOML.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// A plain count (`256`).
    Count,
    /// A duration with its unit (`20ms`); the field holds nanoseconds.
    Duration,
    /// A range of durations (`150ms-300ms`) over two fields, lower bound first.
    DurationRange,
    /// One of these names (`adaptive`); the field holds its position. A string in TOML and
    /// JSON, spelled as on the command line.
    Choice(&'static [&'static str]),
}

/// One `Config` field: its name and how to read and write it as a `u64`.
pub struct Field {
    /// The `Config` field, JSON key and TOML key.
    pub name: &'static str,
    get: fn(&Config) -> u64,
    set: fn(&mut Config, u64),
}

/// One engine knob and every name it goes by.
pub struct Knob {
    /// The command-line flag, without its dashes.
    pub flag: &'static str,
    /// The `Config` fields it sets: one, or two for a range.
    pub fields: &'static [Field],
    /// The short TOML key of older scenario files, still accepted in `[engine]`.
    pub alias: &'static str,
    /// How its value is written.
    pub unit: Unit,
    /// One line of help.
    pub help: &'static str,
    /// The axis label of a plot against it, with its unit.
    pub axis: &'static str,
}

macro_rules! field {
    ($name:ident) => {
        Field {
            name: stringify!($name),
            get: |c| c.$name as u64,
            set: |c, v| c.$name = v.try_into().unwrap_or(usize::MAX as _),
        }
    };
}

/// Every engine knob, in the order flags, JSON keys and tables list them.
pub static KNOBS: &[Knob] = &[
    Knob {
        flag: "election-timeout",
        fields: &[field!(election_timeout_min_ns), field!(election_timeout_max_ns)],
        alias: "election_timeout",
        unit: Unit::DurationRange,
        help: "Randomized election timeout range, e.g. 150ms-300ms",
        axis: "election timeout, middle of the range (ms)",
    },
    Knob {
        flag: "heartbeat",
        fields: &[field!(heartbeat_interval_ns)],
        alias: "heartbeat",
        unit: Unit::Duration,
        help: "Heartbeat on a link idle this long",
        axis: "heartbeat interval (ms)",
    },
    Knob {
        flag: "resend-policy",
        fields: &[Field {
            name: "resend_policy",
            get: |c| c.resend_policy as u64,
            set: |c, v| {
                let last = ResendPolicy::ALL.len() - 1;
                c.resend_policy = ResendPolicy::ALL[usize::try_from(v).unwrap_or(last).min(last)]
            },
        }],
        alias: "resend_policy",
        unit: Unit::Choice(&ResendPolicy::NAMES),
        help: "How a lost append batch is detected: fixed (after --resend) or adaptive (per \
               follower, from the measured round trip, between --resend-min and --resend, \
               doubling once on repeated loss; gaps in a pipeline repaired at once)",
        axis: "resend policy",
    },
    Knob {
        flag: "resend",
        fields: &[field!(resend_threshold_ns)],
        alias: "resend",
        unit: Unit::Duration,
        help: "Resend threshold of an unacknowledged batch (fixed policy); the adaptive \
               policy's ceiling and first timeout, and the wait of a snapshot chunk",
        axis: "resend threshold (ms)",
    },
    Knob {
        flag: "resend-min",
        fields: &[field!(resend_min_ns)],
        alias: "resend_min",
        unit: Unit::Duration,
        help: "Floor of the adaptive resend timeout",
        axis: "adaptive resend floor (ms)",
    },
    Knob {
        flag: "batch",
        fields: &[field!(batch_entries_max)],
        alias: "batch",
        unit: Unit::Count,
        help: "Most entries per append; `pinraft run --engine raft-rs` defaults to 4096",
        axis: "batch_entries_max (entries per append)",
    },
    Knob {
        flag: "inflight",
        fields: &[field!(inflight_batches_max)],
        alias: "inflight",
        unit: Unit::Count,
        help: "Append batches in flight per follower",
        axis: "inflight_batches_max (batches per follower)",
    },
    Knob {
        flag: "snapshot-every",
        fields: &[field!(snapshot_entries_threshold)],
        alias: "snapshot_every",
        unit: Unit::Count,
        help: "Snapshot and compact after this many applied entries beyond the last \
               snapshot; 0: never; `pinraft run` defaults to 100000 with the raft engine",
        axis: "snapshot_entries_threshold (entries)",
    },
    Knob {
        flag: "snapshot-chunk",
        fields: &[field!(snapshot_chunk_bytes)],
        alias: "snapshot_chunk",
        unit: Unit::Count,
        help: "Most snapshot bytes in one InstallSnapshot chunk",
        axis: "snapshot_chunk_bytes (bytes)",
    },
];

impl Field {
    /// The field's value in `config`.
    pub fn get(&self, config: &Config) -> u64 {
        (self.get)(config)
    }
}

impl Knob {
    /// The knob's value in `config`, as its flag spells it (`20ms`, `150ms-300ms`, `256`).
    pub fn format(&self, config: &Config) -> String {
        let values: Vec<u64> = self.fields.iter().map(|f| (f.get)(config)).collect();
        match self.unit {
            Unit::Count => values[0].to_string(),
            Unit::Duration => args::format_duration(values[0]),
            Unit::DurationRange => {
                format!("{}-{}", args::format_duration(values[0]), args::format_duration(values[1]))
            }
            Unit::Choice(names) => choice_name(names, values[0]).to_string(),
        }
    }

    /// Parses a flag's text into the values of its fields.
    pub fn parse(&self, text: &str) -> Result<Vec<u64>, String> {
        parse_values(self.unit, text)
    }

    /// Sets the knob's fields in `config` to `values` (as [`Knob::parse`] returns them).
    pub fn set(&self, config: &mut Config, values: &[u64]) {
        assert_eq!(values.len(), self.fields.len(), "one value per field of --{}", self.flag);
        for (field, &value) in self.fields.iter().zip(values) {
            (field.set)(config, value);
        }
    }

    /// A choice's names as a quoted list (`"fixed", "adaptive"`); empty for other units.
    fn format_choices(&self) -> String {
        match self.unit {
            Unit::Choice(names) => {
                names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ")
            }
            _ => String::new(),
        }
    }

    /// The knob whose flag is `flag`.
    pub fn by_flag(flag: &str) -> Option<&'static Knob> {
        KNOBS.iter().find(|k| k.flag == flag)
    }
}

/// A value of `unit` as the values of its fields.
fn parse_values(unit: Unit, text: &str) -> Result<Vec<u64>, String> {
    match unit {
        Unit::Count => text
            .parse::<u64>()
            .map(|n| vec![n])
            .map_err(|_| format!("'{text}' is not a whole number")),
        Unit::Duration => args::parse_duration(text).map(|d| vec![d]),
        Unit::DurationRange => args::parse_duration_range(text).map(|(a, b)| vec![a, b]),
        Unit::Choice(names) => names
            .iter()
            .position(|&n| n == text)
            .map(|k| vec![k as u64])
            .ok_or_else(|| format!("'{text}' is not one of {}", names.join(", "))),
    }
}

/// The name a choice's field value stands for.
fn choice_name(names: &'static [&'static str], value: u64) -> &'static str {
    usize::try_from(value).ok().and_then(|k| names.get(k)).expect("set only from a name")
}

/// The engine-knob flags given on a command line; a flag not given keeps the command's
/// default. Flattened into the flags of every command that runs an engine.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EngineFlags {
    /// Each knob given, with the values of its fields, in [`KNOBS`] order.
    given: Vec<(&'static str, Vec<u64>)>,
}

impl EngineFlags {
    /// `defaults` with every given knob applied.
    pub fn config(&self, defaults: &Config) -> Config {
        let mut config = defaults.clone();
        for (flag, values) in &self.given {
            Knob::by_flag(flag).expect("only known flags are kept").set(&mut config, values);
        }
        config
    }

    /// Whether `--FLAG` was given.
    pub fn is_given(&self, flag: &str) -> bool {
        self.given.iter().any(|(f, _)| *f == flag)
    }

    /// Every knob of `config` as flags: ` --election-timeout 150ms-300ms --heartbeat 50ms ...`.
    pub fn reproduce(config: &Config) -> String {
        KNOBS.iter().map(|k| format!(" --{} {}", k.flag, k.format(config))).collect()
    }
}

impl FromArgMatches for EngineFlags {
    fn from_arg_matches(matches: &ArgMatches) -> Result<EngineFlags, clap::Error> {
        let mut flags = EngineFlags::default();
        flags.update_from_arg_matches(matches)?;
        Ok(flags)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        for knob in KNOBS {
            if let Some(values) = matches.get_one::<Vec<u64>>(knob.flag) {
                self.given.retain(|(f, _)| *f != knob.flag);
                self.given.push((knob.flag, values.clone()));
            }
        }
        let order = |flag: &str| KNOBS.iter().position(|k| k.flag == flag);
        self.given.sort_by_key(|(flag, _)| order(flag));
        Ok(())
    }
}

impl clap::Args for EngineFlags {
    fn augment_args(cmd: Command) -> Command {
        let defaults = Config::default();
        KNOBS.iter().fold(cmd, |cmd, knob| {
            let names: Vec<&str> = knob.fields.iter().map(|f| f.name).collect();
            let help = format!(
                "{} ({}) [engine default: {}]",
                knob.help,
                names.join(", "),
                knob.format(&defaults)
            );
            let parser = move |text: &str| knob.parse(text);
            cmd.arg(Arg::new(knob.flag).long(knob.flag).help(help).value_parser(parser))
        })
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

/// Each engine knob's flag as a comma list of values (`pinraft sweep --batch 1,64`): the
/// text as given, checked item by item by the sweep's grid.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KnobLists {
    given: Vec<(&'static str, String)>,
}

impl KnobLists {
    /// The list given for `--FLAG`, if it was.
    pub fn get(&self, flag: &str) -> Option<&str> {
        self.given.iter().find(|(f, _)| *f == flag).map(|(_, list)| list.as_str())
    }
}

impl FromArgMatches for KnobLists {
    fn from_arg_matches(matches: &ArgMatches) -> Result<KnobLists, clap::Error> {
        let mut lists = KnobLists::default();
        lists.update_from_arg_matches(matches)?;
        Ok(lists)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        for knob in KNOBS {
            if let Some(list) = matches.get_one::<String>(knob.flag) {
                self.given.retain(|(f, _)| *f != knob.flag);
                self.given.push((knob.flag, list.clone()));
            }
        }
        Ok(())
    }
}

impl clap::Args for KnobLists {
    fn augment_args(cmd: Command) -> Command {
        KNOBS.iter().fold(cmd, |cmd, knob| {
            let names: Vec<&str> = knob.fields.iter().map(|f| f.name).collect();
            let help = format!("{} values ({})", names.join(", "), knob.help);
            cmd.arg(Arg::new(knob.flag).long(knob.flag).value_name("LIST").help(help))
        })
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

/// The engine knobs of a run: a `Config` whose id, members and seed each runtime sets per
/// node. It serializes as every knob's `Config` field names (for flattening into a result's
/// `config`), and reads and writes as the `Config` it holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Knobs(pub Config);

impl std::ops::Deref for Knobs {
    type Target = Config;
    fn deref(&self) -> &Config {
        &self.0
    }
}

impl std::ops::DerefMut for Knobs {
    fn deref_mut(&mut self) -> &mut Config {
        &mut self.0
    }
}

impl Serialize for Knobs {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for knob in KNOBS {
            for field in knob.fields {
                let value = (field.get)(&self.0);
                match knob.unit {
                    Unit::Choice(names) => {
                        map.serialize_entry(field.name, choice_name(names, value))?
                    }
                    _ => map.serialize_entry(field.name, &value)?,
                }
            }
        }
        map.end()
    }
}

/// Applies a TOML `[engine]` table to `config`: keys are the `Config` field names (a count
/// as an integer, a duration as a string with its unit, `"20ms"`) or a knob's older short
/// key (`batch = 64`, `election_timeout = "150ms-300ms"`); a choice as its name
/// (`resend_policy = "fixed"`). An unknown key, a value of the
/// wrong type, or one field given twice is an error naming the key.
pub fn from_toml(table: &toml::Table, config: &mut Config) -> Result<(), String> {
    let mut seen: Vec<&'static str> = Vec::new();
    for (key, value) in table {
        let (knob, field) = lookup(key).ok_or_else(|| {
            let known: Vec<&str> = KNOBS.iter().flat_map(|k| k.fields).map(|f| f.name).collect();
            format!("engine.{key}: unknown key (known: {})", known.join(", "))
        })?;
        let text = match value {
            toml::Value::Integer(n) if knob.unit == Unit::Count => n.to_string(),
            toml::Value::String(s) if knob.unit != Unit::Count => s.clone(),
            _ if knob.unit == Unit::Count => {
                return Err(format!("engine.{key}: expected a whole number"));
            }
            _ if matches!(knob.unit, Unit::Choice(_)) => {
                return Err(format!("engine.{key}: expected one of {}", knob.format_choices()));
            }
            _ => return Err(format!("engine.{key}: expected a string with a unit, e.g. \"20ms\"")),
        };
        let (fields, unit) = match field {
            Some(f) if knob.unit != Unit::DurationRange => (std::slice::from_ref(f), knob.unit),
            Some(f) => (std::slice::from_ref(f), Unit::Duration),
            None => (knob.fields, knob.unit),
        };
        if fields.iter().any(|f| seen.contains(&f.name)) {
            return Err(format!("engine.{key}: given twice (under its old and its new name)"));
        }
        let values = parse_values(unit, &text).map_err(|e| format!("engine.{key}: {e}"))?;
        for (f, v) in fields.iter().zip(values) {
            (f.set)(config, v);
            seen.push(f.name);
        }
    }
    Ok(())
}

/// The knob a TOML key names, and the field when it is a `Config` name (not an alias).
fn lookup(key: &str) -> Option<(&'static Knob, Option<&'static Field>)> {
    KNOBS.iter().find_map(|k| match k.fields.iter().find(|f| f.name == key) {
        Some(f) => Some((k, Some(f))),
        None => (k.alias == key).then_some((k, None)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(flags: &[&str]) -> Result<EngineFlags, clap::Error> {
        crate::cli::parse_flags("knobs", flags.iter().copied())
    }

    #[test]
    fn every_field_of_every_knob_is_read_and_written() {
        let mut config = Config::default();
        let value = |knob: &Knob, k: usize| match knob.unit {
            Unit::Choice(names) => (k % names.len()) as u64,
            _ => 1_000_000 + k as u64,
        };
        let fields = || KNOBS.iter().flat_map(|k| k.fields.iter().map(move |f| (k, f)));
        for (k, (knob, field)) in fields().enumerate() {
            (field.set)(&mut config, value(knob, k));
        }
        for (k, (knob, field)) in fields().enumerate() {
            assert_eq!((field.get)(&config), value(knob, k), "{}", field.name);
        }
    }

    #[test]
    fn a_choice_is_a_name_on_the_command_line_in_toml_and_in_json() {
        let flags = parse(&["--resend-policy", "fixed"]).unwrap();
        let config = flags.config(&Config::default());
        assert_eq!(config.resend_policy, ResendPolicy::Fixed);
        let error = parse(&["--resend-policy", "sometimes"]).unwrap_err().to_string();
        assert!(error.contains("'sometimes' is not one of fixed, adaptive"), "{error}");
        let json = serde_json::to_value(Knobs(config)).unwrap();
        assert_eq!(json["resend_policy"], "fixed");
        let mut back = Config::default();
        from_toml(&toml::from_str("resend_policy = \"fixed\"").unwrap(), &mut back).unwrap();
        assert_eq!(back.resend_policy, ResendPolicy::Fixed);
        let error = from_toml(&toml::from_str("resend_policy = 1").unwrap(), &mut back);
        assert_eq!(
            error.unwrap_err(),
            "engine.resend_policy: expected one of \"fixed\", \"adaptive\""
        );
        let error = from_toml(&toml::from_str("resend_policy = \"x\"").unwrap(), &mut back);
        assert!(error.unwrap_err().starts_with("engine.resend_policy: 'x' is not one of"));
    }

    #[test]
    fn flags_override_the_command_defaults_and_nothing_else() {
        let flags = parse(&["--batch", "8", "--election-timeout", "1s-2s", "--resend", "5ms"])
            .expect("valid flags");
        let defaults = Config { snapshot_entries_threshold: 7, ..Config::default() };
        let config = flags.config(&defaults);
        assert_eq!(config.batch_entries_max, 8);
        assert_eq!(
            (config.election_timeout_min_ns, config.election_timeout_max_ns),
            (1e9 as u64, 2e9 as u64)
        );
        assert_eq!(config.resend_threshold_ns, 5_000_000);
        assert_eq!(config.snapshot_entries_threshold, 7, "not given: the command's default");
        assert!(flags.is_given("batch") && !flags.is_given("inflight"));
    }

    #[test]
    fn bad_flag_values_are_errors() {
        assert!(parse(&["--resend", "5"]).is_err(), "a duration needs a unit");
        assert!(parse(&["--batch", "-1"]).is_err());
        assert!(parse(&["--election-timeout", "300ms-150ms"]).is_err(), "min above max");
    }

    #[test]
    fn reproduce_spells_every_knob_and_parses_back() {
        let config =
            Config { batch_entries_max: 64, resend_threshold_ns: 5_000_000, ..Config::default() };
        let text = EngineFlags::reproduce(&config);
        for knob in KNOBS {
            assert!(text.contains(&format!(" --{} ", knob.flag)), "{text}");
        }
        let argv: Vec<&str> = text.split_whitespace().collect();
        assert_eq!(parse(&argv).unwrap().config(&Config::default()), config);
    }

    #[test]
    fn toml_takes_config_names_and_the_old_short_keys() {
        let table: toml::Table = toml::from_str(
            "batch_entries_max = 8\nresend_threshold_ns = \"5ms\"\nelection_timeout = \"1s-2s\"\n\
             snapshot_chunk = 512\nelection_timeout_max_ns = \"3s\"",
        )
        .unwrap();
        let mut config = Config::default();
        let result = from_toml(&table, &mut config);
        assert!(result.unwrap_err().contains("given twice"), "range alias and one of its fields");
        let table: toml::Table = toml::from_str(
            "batch_entries_max = 8\nresend_threshold_ns = \"5ms\"\nelection_timeout = \"1s-2s\"\n\
             snapshot_chunk = 512",
        )
        .unwrap();
        let mut config = Config::default();
        from_toml(&table, &mut config).unwrap();
        assert_eq!(config.batch_entries_max, 8);
        assert_eq!(config.resend_threshold_ns, 5_000_000);
        assert_eq!(config.election_timeout_min_ns, 1_000_000_000);
        assert_eq!(config.snapshot_chunk_bytes, 512);
    }

    #[test]
    fn toml_errors_name_the_key() {
        let err = |text: &str| {
            let table: toml::Table = toml::from_str(text).unwrap();
            from_toml(&table, &mut Config::default()).unwrap_err()
        };
        assert!(err("batchsize = 3").starts_with("engine.batchsize: unknown key"));
        assert!(err("resend_threshold_ns = 5").contains("string with a unit"));
        assert!(err("resend = \"5\"").contains("engine.resend"));
        assert!(err("batch_entries_max = \"8\"").contains("whole number"));
        assert!(err("batch = 8\nbatch_entries_max = 9").contains("given twice"));
    }

    #[test]
    fn json_has_every_field_of_every_knob() {
        let json = serde_json::to_value(Knobs(Config::default())).unwrap();
        for knob in KNOBS {
            for field in knob.fields {
                let value = json.get(field.name);
                let typed = match knob.unit {
                    Unit::Choice(_) => value.is_some_and(|v| v.is_string()),
                    _ => value.is_some_and(|v| v.is_u64()),
                };
                assert!(typed, "{}", field.name);
            }
        }
    }
}
