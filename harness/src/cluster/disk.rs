//! Where each node keeps its hard state and log across crashes, and the loading of every
//! node's storage before a run starts. The only part of the cluster that reads the file
//! system; it never decides what to persist (the engine's `Ready` does).

use crate::storage::{MemStorage, Recovered, Storage, StorageError, SyncPolicy, Wal, WalOptions};
use anyhow::Context;
use pinraft_engine::NodeId;
use std::path::{Path, PathBuf};

/// Where the nodes keep their hard state and log (`pinraft run --storage`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum StorageConfig {
    /// In memory, for CPU-only benchmarks: nothing is written on the message path, because
    /// the engine's own log already holds everything a `Ready` hands out, as a perfect disk
    /// would. A crashed node leaves its hard state and log behind as a [`MemStorage`], from
    /// which `restart:N` rebuilds it.
    #[default]
    Mem,
    /// A write-ahead log per node, in `dir/node-N`, saved after every `Ready` before its
    /// messages are sent.
    Wal {
        /// The cluster's directory.
        dir: PathBuf,
        /// When the log is fsynced.
        sync: SyncPolicy,
    },
}

impl StorageConfig {
    /// Whether an acknowledged write survives a power loss.
    pub fn is_safe(&self) -> bool {
        match self {
            StorageConfig::Mem => true,
            StorageConfig::Wal { sync, .. } => *sync == SyncPolicy::Always,
        }
    }
}

/// One node's storage while no thread runs it.
pub(crate) enum Disk {
    /// What the node's last incarnation left in memory (empty at first).
    Mem(MemStorage),
    /// A WAL directory, opened again at every start.
    Wal(PathBuf, WalOptions),
}

/// A disk opened for a node thread.
pub(crate) struct Opened {
    /// Where the thread saves each `Ready`; `None` in memory, where nothing is written.
    pub storage: Option<Box<dyn Storage + Send>>,
    /// The durable hard state and log to rebuild the node from.
    pub recovered: Recovered,
}

impl Disk {
    /// Opens the disk and reads everything durable on it.
    pub(crate) fn open(&mut self) -> Result<Opened, StorageError> {
        match self {
            Disk::Mem(mem) => Ok(Opened { storage: None, recovered: mem.recover()? }),
            Disk::Wal(dir, options) => {
                let mut wal = Wal::open(dir.clone(), *options)?;
                let recovered = wal.recover()?;
                Ok(Opened { storage: Some(Box::new(wal)), recovered })
            }
        }
    }
}

/// Every node's disk. A WAL directory must hold this cluster's nodes (`node-1` ..
/// `node-N`) or none at all.
pub(crate) fn disks(storage: &StorageConfig, nodes: u64) -> anyhow::Result<Vec<Disk>> {
    match storage {
        StorageConfig::Mem => Ok((0..nodes).map(|_| Disk::Mem(MemStorage::new())).collect()),
        StorageConfig::Wal { dir, sync } => {
            check_cluster_dir(dir, nodes)?;
            let options = WalOptions { sync: *sync, ..WalOptions::default() };
            Ok((1..=nodes).map(|id| Disk::Wal(node_dir(dir, id), options)).collect())
        }
    }
}

/// Node `id`'s directory in a cluster directory.
pub fn node_dir(dir: &Path, id: NodeId) -> PathBuf {
    dir.join(format!("node-{id}"))
}

/// Checks that `dir` holds no node directory, or exactly `node-1` .. `node-{nodes}`.
fn check_cluster_dir(dir: &Path, nodes: u64) -> anyhow::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    let mut found: Vec<NodeId> = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        let name = entry.file_name();
        let id = name.to_str().and_then(|n| n.strip_prefix("node-")).and_then(|n| n.parse().ok());
        if let Some(id) = id.filter(|_| entry.path().is_dir()) {
            found.push(id);
        }
    }
    found.sort_unstable();
    let expected: Vec<NodeId> = (1..=nodes).collect();
    if found.is_empty() || found == expected {
        return Ok(());
    }
    let count = found.len() as u64;
    if found == (1..=count).collect::<Vec<_>>() {
        anyhow::bail!(
            "{} holds the storage of a {count}-node cluster, not {nodes} nodes: run it with \
             --nodes {count}, or give a fresh --data-dir",
            dir.display()
        );
    }
    let names: Vec<String> = found.iter().map(|id| format!("node-{id}")).collect();
    anyhow::bail!(
        "{} holds {}, not node-1 .. node-{nodes}: give a fresh --data-dir",
        dir.display(),
        names.join(", ")
    )
}

/// Opens every disk, one thread per node so their logs are read in parallel.
pub(crate) fn open_all(disks: &mut [Disk]) -> anyhow::Result<Vec<Opened>> {
    std::thread::scope(|scope| {
        let handles: Vec<_> =
            disks.iter_mut().map(|disk| scope.spawn(move || disk.open())).collect();
        handles
            .into_iter()
            .enumerate()
            .map(|(k, handle)| {
                let opened = handle.join().expect("a storage loader panicked");
                opened.with_context(|| format!("node {}: cannot start from its storage", k + 1))
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_directory_must_match_the_node_count() {
        let dir = std::env::temp_dir().join(format!("pinraft-disk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        assert!(check_cluster_dir(&dir, 3).is_ok(), "a missing directory is a fresh one");
        for id in 1..=3 {
            std::fs::create_dir_all(node_dir(&dir, id)).unwrap();
        }
        std::fs::write(dir.join("node-9"), b"a file, not a node").unwrap();
        assert!(check_cluster_dir(&dir, 3).is_ok());
        let err = check_cluster_dir(&dir, 5).unwrap_err().to_string();
        assert!(err.contains("3-node cluster") && err.contains("--nodes 3"), "{err}");
        std::fs::create_dir_all(node_dir(&dir, 7)).unwrap();
        let err = check_cluster_dir(&dir, 3).unwrap_err().to_string();
        assert!(err.contains("node-1, node-2, node-3, node-7"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
