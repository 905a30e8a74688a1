//! The environment a result was measured in: machine, cores, compiler, commit.

use serde::Serialize;

/// Facts recorded with every result.
#[derive(Clone, Debug, Serialize)]
pub struct Environment {
    /// Cores this process may run on.
    pub cores: usize,
    /// The processor's model name.
    pub cpu_model: String,
    /// Memory in MiB.
    pub memory_mib: u64,
    /// The compiler that built this binary.
    pub rustc: String,
    /// The commit this binary was built from (`-dirty` when the tree had changes).
    pub git_commit: String,
    /// Operating system and kernel.
    pub os: String,
    /// Whether this is an optimised build.
    pub release_build: bool,
    /// Which core each thread was pinned to, e.g. `node1: 0`, `load1: 1`.
    pub core_mapping: Vec<String>,
}

impl Environment {
    /// Reads the machine's facts; `core_mapping` is left for the runtime to fill in.
    pub fn capture() -> Environment {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split(':').nth(1)))
            .map_or_else(|| "unknown".into(), |m| m.trim().to_string());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory_mib = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|r| r.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb / 1024);
        let release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
        let distro = release
            .lines()
            .find_map(|l| l.strip_prefix("PRETTY_NAME="))
            .map_or("unknown", |n| n.trim_matches('"'));
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        Environment {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model,
            memory_mib,
            rustc: env!("PINRAFT_RUSTC").to_string(),
            git_commit: env!("PINRAFT_COMMIT").to_string(),
            os: format!("{} {} (Linux {})", std::env::consts::OS, distro, kernel.trim()),
            release_build: !cfg!(debug_assertions),
            core_mapping: Vec::new(),
        }
    }
}
