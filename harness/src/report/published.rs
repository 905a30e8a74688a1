//! The published figures (`results/published.toml`): other systems' numbers, each with its
//! source URL, hardware and a sentence on comparability, and which of our figures goes
//! beside it. This module parses and checks the file; it never edits it.

use anyhow::{bail, Context};
use serde::Deserialize;
use std::path::Path;

/// The copy of `results/published.toml` this binary was built with, used when the output
/// directory has none of its own.
pub const BUILT_IN: &str = include_str!("../../../results/published.toml");

/// The whole file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Published {
    /// Every figure, in file order.
    #[serde(rename = "figure")]
    pub figures: Vec<Figure>,
}

/// One published figure.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Figure {
    /// A unique name.
    pub id: String,
    /// The system measured.
    pub system: String,
    /// What was measured.
    pub metric: String,
    /// The figure.
    pub value: f64,
    /// Its unit (`ms`, `us`, `writes/s`, ...).
    pub unit: String,
    /// The figure as the source states it.
    pub stated: String,
    /// Cluster size.
    pub nodes: Option<u64>,
    /// Concurrent clients.
    pub clients: Option<u64>,
    /// The machines it ran on.
    pub hardware: String,
    /// Everything else that shaped the figure.
    pub conditions: String,
    /// The document it comes from.
    pub source: String,
    /// Where to read it.
    pub url: String,
    /// Which copy of the source was read.
    pub read: String,
    /// A sentence on how far it compares with ours.
    pub comparability: String,
    /// Which of our figures go beside it (none, one or several).
    #[serde(default)]
    pub ours: Vec<Ours>,
}

/// A reference to one of our figures.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Ours {
    /// `clients` or `election`.
    pub experiment: String,
    /// Clients sweep: a run JSON key (`throughput_ops_s`, `latency_us.p50`, ...).
    pub metric: Option<String>,
    /// Clients sweep: the client count.
    pub clients: Option<u64>,
    /// Election: `sim` or `cluster`.
    pub runtime: Option<String>,
    /// Election: which simulated network (`paper-delays`, `lan-delays`); the first of the
    /// runtime's when not given.
    pub setup: Option<String>,
    /// Election: the timeout range in ms, `150-155`.
    pub range: Option<String>,
    /// Election: `p50`, `mean`, `max`, ...
    pub stat: Option<String>,
}

impl Published {
    /// Parses and checks the text of a published.toml.
    pub fn parse(text: &str) -> anyhow::Result<Published> {
        let published: Published = toml::from_str(text).context("parsing published figures")?;
        published.check()?;
        Ok(published)
    }

    /// Reads `path`, or the built-in copy when it does not exist.
    pub fn load(path: &Path) -> anyhow::Result<(Published, String)> {
        if path.exists() {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let parsed = Published::parse(&text).with_context(|| path.display().to_string())?;
            Ok((parsed, text))
        } else {
            Ok((Published::parse(BUILT_IN)?, BUILT_IN.to_string()))
        }
    }

    /// Every id unique, every URL an http(s) URL, every text filled in.
    fn check(&self) -> anyhow::Result<()> {
        let mut ids: Vec<&str> = Vec::new();
        for f in &self.figures {
            if ids.contains(&f.id.as_str()) {
                bail!("published figure '{}' appears twice", f.id);
            }
            ids.push(&f.id);
            if !(f.url.starts_with("https://") || f.url.starts_with("http://")) {
                bail!("published figure '{}': url '{}' is not a web address", f.id, f.url);
            }
            let texts = [&f.system, &f.metric, &f.unit, &f.stated, &f.source, &f.comparability];
            if texts.iter().any(|t| t.trim().is_empty()) || !f.value.is_finite() {
                bail!("published figure '{}': an empty field or a non-finite value", f.id);
            }
            for ours in &f.ours {
                if !matches!(ours.experiment.as_str(), "clients" | "election") {
                    bail!("published figure '{}': unknown experiment '{}'", f.id, ours.experiment);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_file_parses_and_every_figure_has_a_url() {
        let p = Published::parse(BUILT_IN).unwrap();
        assert!(p.figures.len() >= 10);
        assert!(p.figures.iter().all(|f| f.url.starts_with("https://")));
    }

    #[test]
    fn a_figure_without_a_web_address_is_refused() {
        let text = BUILT_IN.replacen("url = \"https://", "url = \"ftp://", 1);
        let err = Published::parse(&text).unwrap_err().to_string();
        assert!(err.contains("not a web address"), "{err}");
    }
}
