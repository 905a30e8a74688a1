//! Grid expansion: comma lists of `pinraft run` flags become one `RunArgs` per point.
//!
//! An item of a list is valid exactly when `pinraft run --FLAG=ITEM` parses, so a sweep
//! accepts what `run` accepts and reports the same errors. Each item is brought to the
//! canonical text `RunArgs::reproduce` prints (`20000us` becomes `20ms`, `0.4` becomes
//! `40%`), which is how duplicates are found and how the sweep spells its own command. This
//! module never runs anything.

pub use super::params::{params, Param};
use crate::cli::run::RunArgs;
use anyhow::{anyhow, bail};
use clap::Parser;
use std::path::{Path, PathBuf};

/// Most points one sweep may have.
pub const POINTS_MAX: usize = 10_000;

/// One parameter and its canonical values (one value when it is not swept).
pub struct Axis {
    /// Which flag.
    pub param: &'static Param,
    /// Canonical values, in the order given.
    pub values: Vec<String>,
    /// Whether the sweep was given it. An engine knob that was not is left to each run,
    /// whose default may depend on its engine (`--snapshot-every` is 0 for raft-rs).
    pub given: bool,
}

impl Axis {
    /// Whether a run of a point is handed this axis's value as a flag.
    fn passed(&self) -> bool {
        self.given || crate::knobs::Knob::by_flag(self.param.flag).is_none()
    }
}

impl Axis {
    /// Whether this parameter takes more than one value.
    pub fn is_swept(&self) -> bool {
        self.values.len() > 1
    }
}

/// One point of the grid: an index into every axis and the run it stands for.
pub struct Point {
    /// Position in the grid, counting from 0.
    pub index: usize,
    /// For each axis of the grid, the index of this point's value.
    pub values: Vec<usize>,
    /// The `pinraft run` flags of this point (seed: the sweep's base seed).
    pub args: RunArgs,
}

/// The expanded grid.
pub struct Grid {
    /// Every sweepable parameter that has a value, in `PARAMS` order.
    pub axes: Vec<Axis>,
    /// Every point; the last axis varies fastest.
    pub points: Vec<Point>,
    /// `--events`, applied to every point.
    pub events: Option<String>,
    /// `--data-dir`, given to every point that stores a WAL (the sweep gives each run its own
    /// directory inside it).
    pub data_dir: Option<PathBuf>,
    /// `--interleave`: repeat `r` of every point runs before repeat `r + 1` of any, so drift
    /// in the machine over the sitting hits every point alike (the seeds stay the same).
    pub interleave: bool,
}

impl Grid {
    /// Expands the lists. `given(flag)` returns the text of a flag given to the sweep;
    /// other flags take `pinraft run`'s default. Errors are one line, naming the flag.
    pub fn expand(
        given: &dyn Fn(&str) -> Option<String>,
        events: Option<&str>,
        data_dir: Option<&Path>,
    ) -> anyhow::Result<Grid> {
        let events_argv: Vec<String> =
            events.map(|e| format!("--events={e}")).into_iter().collect();
        let base =
            parse_run(&events_argv).map_err(|e| anyhow!("--events: {}", clap_message(&e)))?;
        let mut axes = Vec::new();
        for param in params() {
            let text = given(param.flag);
            let values = match &text {
                Some(text) => parse_list(param.flag, text)?,
                None => match token_after(&base.reproduce(), param.flag) {
                    Some(value) => vec![value],
                    None => continue,
                },
            };
            axes.push(Axis { param, values, given: text.is_some() });
        }
        let count = axes
            .iter()
            .try_fold(1usize, |n, a| n.checked_mul(a.values.len()))
            .filter(|&n| n <= POINTS_MAX)
            .ok_or_else(|| anyhow!("the grid has more than {POINTS_MAX} points"))?;
        let mut grid = Grid {
            axes,
            points: Vec::with_capacity(count),
            events: events.map(String::from),
            data_dir: data_dir.map(Path::to_path_buf),
            interleave: false,
        };
        for index in 0..count {
            let point = grid.point(index)?;
            grid.points.push(point);
        }
        Ok(grid)
    }

    /// Builds point `index` and checks its whole configuration.
    fn point(&self, index: usize) -> anyhow::Result<Point> {
        let mut values = vec![0; self.axes.len()];
        let mut rest = index;
        for (k, axis) in self.axes.iter().enumerate().rev() {
            values[k] = rest % axis.values.len();
            rest /= axis.values.len();
        }
        let mut argv: Vec<String> = (self.axes.iter().zip(&values))
            .filter(|(axis, _)| axis.passed())
            .map(|(axis, &v)| format!("--{}={}", axis.param.flag, axis.values[v]))
            .collect();
        argv.extend(self.events.iter().map(|e| format!("--events={e}")));
        let mut point = Point { index, values, args: RunArgs::default() };
        if self.value(&point, "storage") == Some("wal") {
            argv.extend(self.data_dir.iter().map(|d| format!("--data-dir={}", d.display())));
        }
        point.args = parse_run(&argv)
            .map_err(|e| anyhow!("point {}: {}", self.label(&point, false), clap_message(&e)))?;
        point
            .args
            .cluster_config()
            .map_err(|e| anyhow!("point {}: {e:#}", self.label(&point, false)))?;
        Ok(point)
    }

    /// The axes that take more than one value.
    pub fn swept(&self) -> impl Iterator<Item = (usize, &Axis)> {
        self.axes.iter().enumerate().filter(|(_, a)| a.is_swept())
    }

    /// `flag value, flag value` for a point: the swept parameters only, or every one.
    pub fn label(&self, point: &Point, swept_only: bool) -> String {
        let parts: Vec<String> = (self.axes.iter().zip(&point.values))
            .filter(|(axis, _)| !swept_only || axis.is_swept())
            .map(|(axis, &v)| format!("{} {}", axis.param.flag, axis.values[v]))
            .collect();
        if parts.is_empty() {
            "(single point)".to_string()
        } else {
            parts.join(", ")
        }
    }

    /// The canonical value of `flag` for a point, if the grid has that parameter.
    pub fn value(&self, point: &Point, flag: &str) -> Option<&str> {
        let k = self.axes.iter().position(|a| a.param.flag == flag)?;
        Some(&self.axes[k].values[point.values[k]])
    }

    /// The command that repeats the whole sweep, every parameter spelled out.
    pub fn reproduce(&self, repeat: u64, seed: u64) -> String {
        self.command("pinraft sweep", repeat, seed)
    }

    /// [`Grid::reproduce`] for a command that takes the sweep's flags (`pinraft compare`).
    pub fn command(&self, name: &str, repeat: u64, seed: u64) -> String {
        let mut cmd = name.to_string();
        for axis in self.axes.iter().filter(|a| a.passed()) {
            cmd += &format!(" --{} {}", axis.param.flag, axis.values.join(","));
        }
        if let Some(events) = &self.events {
            cmd += &format!(" --events {events}");
        }
        if let Some(dir) = &self.data_dir {
            cmd += &format!(" --data-dir {}", dir.display());
        }
        if self.interleave {
            cmd += " --interleave";
        }
        cmd + &format!(" --repeat {repeat} --seed {seed}")
    }

    /// The `(point, repeat)` pairs in the order they run: every repeat of a point in turn,
    /// or with `interleave` every point in turn for each repeat.
    pub fn order(&self, repeat: u64) -> Vec<(usize, usize)> {
        let (points, repeats) = (0..self.points.len(), 0..repeat as usize);
        if self.interleave {
            repeats.flat_map(|r| points.clone().map(move |p| (p, r))).collect()
        } else {
            points.flat_map(|p| repeats.clone().map(move |r| (p, r))).collect()
        }
    }
}

/// The seed of run `run` (counting points and repeats in order, from 0) of a sweep.
pub fn run_seed(base: u64, run: usize) -> u64 {
    base.wrapping_add(run as u64)
}

/// Splits one flag's comma list into canonical values: no empty list, no empty item, no
/// value twice (after canonicalisation), every item valid for `pinraft run`.
pub fn parse_list(flag: &str, text: &str) -> anyhow::Result<Vec<String>> {
    if text.trim().is_empty() {
        bail!("--{flag}: empty list; give one or more values separated by commas");
    }
    let items: Vec<&str> = text.split(',').map(str::trim).collect();
    if items.iter().any(|item| item.is_empty()) {
        bail!("--{flag} '{text}': empty item in the list");
    }
    let mut values: Vec<String> = Vec::with_capacity(items.len());
    for item in &items {
        let value = canonical(flag, item)
            .map_err(|e| anyhow!("--{flag} '{text}': invalid value '{item}': {e}"))?;
        if let Some(earlier) = values.iter().position(|v| *v == value) {
            let first = items[earlier];
            let same =
                if first == *item { String::new() } else { format!(" (the same as '{first}')") };
            bail!("--{flag} '{text}': duplicate value '{item}'{same}");
        }
        values.push(value);
    }
    Ok(values)
}

/// The canonical text of one value of `flag`, as `pinraft run` prints it back.
fn canonical(flag: &str, item: &str) -> Result<String, String> {
    let args = parse_run(&[format!("--{flag}={item}")]).map_err(|e| clap_message(&e))?;
    token_after(&args.reproduce(), flag)
        .ok_or_else(|| format!("internal: `pinraft run` does not print --{flag} back"))
}

/// Parses `pinraft run` flags into `RunArgs`, exactly as the `run` subcommand would.
fn parse_run(argv: &[String]) -> Result<RunArgs, clap::Error> {
    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: RunArgs,
    }
    let argv = std::iter::once("pinraft").chain(argv.iter().map(String::as_str));
    Wrapper::try_parse_from(argv).map(|w| w.args)
}

/// The word after `--flag` in a command line.
fn token_after(command: &str, flag: &str) -> Option<String> {
    let wanted = format!("--{flag}");
    let mut words = command.split_whitespace();
    words.by_ref().find(|w| *w == wanted)?;
    words.next().map(String::from)
}

/// The one-line reason of a clap error: the value parser's own message when it has one.
fn clap_message(error: &clap::Error) -> String {
    use std::error::Error;
    if let Some(source) = error.source() {
        return source.to_string();
    }
    let text = error.to_string();
    let line = text.lines().next().unwrap_or("invalid value");
    line.trim_start_matches("error: ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lists<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |flag| pairs.iter().find(|(f, _)| *f == flag).map(|(_, v)| v.to_string())
    }

    #[test]
    fn items_are_canonical() {
        assert_eq!(parse_list("resend", "5ms, 20000us,0.1s").unwrap(), ["5ms", "20ms", "100ms"]);
        assert_eq!(parse_list("loss", "0,0.05,20%").unwrap(), ["0%", "5%", "20%"]);
        assert_eq!(parse_list("batch", "1,8").unwrap(), ["1", "8"]);
        assert_eq!(parse_list("engine", "raft,null").unwrap(), ["raft", "null"]);
    }

    #[test]
    fn bad_lists_name_the_flag_and_the_fault() {
        let err = |flag: &str, text: &str| parse_list(flag, text).unwrap_err().to_string();
        assert!(err("batch", "").contains("--batch: empty list"));
        assert!(err("batch", "1,,8").contains("empty item"));
        assert!(err("batch", "1,8,").contains("empty item"));
        assert!(err("batch", "1,8,8").contains("duplicate value '8'"));
        assert!(err("resend", "20ms,20000us")
            .contains("duplicate value '20000us' (the same as '20ms')"));
        assert!(err("resend", "5,20ms").contains("a unit is required"));
        assert!(err("loss", "0,140%").contains("invalid probability '140%'"));
        assert!(err("nodes", "3,0").contains("invalid value '0'"));
        assert!(!err("resend", "5").contains('\n'), "one line");
    }

    #[test]
    fn the_grid_nests_in_param_order_with_the_last_fastest() {
        let given = lists(&[("loss", "0,20%"), ("batch", "1,16,256"), ("duration", "1s")]);
        let grid = Grid::expand(&given, None, None).unwrap();
        assert_eq!(grid.points.len(), 6);
        let labels: Vec<String> = grid.points.iter().map(|p| grid.label(p, true)).collect();
        assert_eq!(labels[0], "batch 1, loss 0%");
        assert_eq!(labels[1], "batch 1, loss 20%");
        assert_eq!(labels[5], "batch 256, loss 20%");
        assert_eq!(grid.points[5].args.engine_config().batch_entries_max, 256);
        assert_eq!(grid.points[5].args.loss, 200_000);
        assert_eq!(grid.points[5].args.duration, 1_000_000_000);
        assert_eq!(grid.swept().count(), 2);
    }

    #[test]
    fn reproduce_spells_out_every_parameter_but_the_engine_knobs_left_to_each_run() {
        let grid =
            Grid::expand(&lists(&[("batch", "1,16")]), Some("kill-leader@1s"), None).unwrap();
        let cmd = grid.reproduce(3, 7);
        assert!(cmd.starts_with("pinraft sweep --nodes 3 --clients 64 "), "{cmd}");
        assert!(cmd.contains(" --batch 1,16 "), "{cmd}");
        // A knob not given keeps each run's default, which may depend on its engine; every
        // run's own JSON spells it out.
        assert!(!cmd.contains(" --resend "), "{cmd}");
        assert!(cmd.ends_with(" --events kill-leader@1s --repeat 3 --seed 7"), "{cmd}");
        assert!(!cmd.contains("--rate"), "no rate: closed loop: {cmd}");
        assert_eq!(run_seed(7, 3), 10);
    }

    #[test]
    fn interleaving_runs_each_repeat_of_every_point_in_turn() {
        let mut grid = Grid::expand(&lists(&[("batch", "1,16")]), None, None).unwrap();
        assert_eq!(grid.order(2), [(0, 0), (0, 1), (1, 0), (1, 1)]);
        assert!(!grid.reproduce(2, 1).contains("--interleave"));
        grid.interleave = true;
        assert_eq!(grid.order(2), [(0, 0), (1, 0), (0, 1), (1, 1)]);
        assert!(grid.reproduce(2, 1).ends_with(" --interleave --repeat 2 --seed 1"));
    }

    #[test]
    fn a_bad_combination_names_its_point() {
        let given = lists(&[("nodes", "3,5"), ("heartbeat", "10ms,400ms")]);
        let err =
            Grid::expand(&given, None, None).err().expect("heartbeat above the election timeout");
        assert!(err.to_string().starts_with("point nodes 3, "), "{err}");
        let err =
            Grid::expand(&lists(&[("nodes", "1,3")]), Some("crash:3@1s"), None).err().unwrap();
        assert!(err.to_string().contains("out of range"), "{err}");
    }
}
