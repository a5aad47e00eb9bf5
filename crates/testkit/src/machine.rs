//! What a report says about where and from what it was measured: the machine, the commit, the
//! date. Both generated documents (docs/performance.md, docs/reliability.md) take it from here.

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

/// The first line a command prints, if it ran and succeeded.
fn capture(program: &str, args: &[&str], dir: Option<&Path>) -> Option<String> {
    let mut cmd = Command::new(program);
    cmd.args(args).stderr(Stdio::null());
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    let out = cmd.output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The machine a run measured on.
#[derive(Debug, Clone)]
pub struct Machine {
    pub cpu: Option<String>,
    pub cores: Option<usize>,
    pub memory_kib: Option<u64>,
    /// `uname -srm`.
    pub system: Option<String>,
    /// `uname -r`.
    pub kernel: Option<String>,
    pub rustc: Option<String>,
    pub webkitgtk: Option<String>,
    pub load_average: Option<String>,
}

impl Machine {
    pub fn detect() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string());
        let memory_kib = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        });
        Machine {
            cpu,
            cores: std::thread::available_parallelism().map(|n| n.get()).ok(),
            memory_kib,
            system: capture("uname", &["-srm"], None),
            kernel: capture("uname", &["-r"], None),
            rustc: capture("rustc", &["--version"], None),
            webkitgtk: capture(
                "dpkg-query",
                &["-W", "-f=${Version}", "libwebkit2gtk-4.1-0"],
                None,
            ),
            load_average: std::fs::read_to_string("/proc/loadavg")
                .ok()
                .map(|s| s.trim().to_string()),
        }
    }

    /// The benchmark report's `machine` object.
    pub fn json(&self) -> Value {
        json!({
            "cpu": self.cpu,
            "cores": self.cores,
            "memory_mib": self.memory_kib.map(|k| k / 1024),
            "kernel": self.kernel,
            "rustc": self.rustc,
            "webkitgtk": self.webkitgtk,
            "load_average_at_start": self.load_average,
        })
    }

    /// One line for a document: `Linux 6.1 x86_64, 2 CPUs (model), 23.4 GB RAM, rustc 1.x`.
    pub fn line(&self) -> String {
        let unknown = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".into());
        format!(
            "{}, {} CPUs ({}), {}, {}",
            unknown(&self.system),
            self.cores.unwrap_or(0),
            self.cpu.clone().unwrap_or_else(|| "unknown CPU".into()),
            self.memory_kib.map_or("unknown RAM".into(), |kb| format!(
                "{:.1} GB RAM",
                kb as f64 / 1024.0 / 1024.0
            )),
            unknown(&self.rustc),
        )
    }
}

/// The commit a run measured, and whether the worktree had uncommitted changes.
#[derive(Debug, Clone)]
pub struct Commit {
    pub hash: Option<String>,
    pub short: Option<String>,
    pub dirty: Option<bool>,
}

impl Commit {
    /// HEAD of the repository at `root`.
    pub fn of(root: &Path) -> Commit {
        let git = |args: &[&str]| capture("git", args, Some(root));
        Commit {
            hash: git(&["rev-parse", "HEAD"]),
            short: git(&["rev-parse", "--short", "HEAD"]),
            dirty: git(&["status", "--porcelain", "--untracked-files=no"]).map(|s| !s.is_empty()),
        }
    }

    /// The benchmark report's `commit` object.
    pub fn json(&self) -> Value {
        json!({ "hash": self.hash, "dirty_worktree": self.dirty })
    }

    /// One line for a document: the short hash, and whether it was dirty.
    pub fn line(&self) -> String {
        let head = self.short.clone().unwrap_or_else(|| "unknown".into());
        if self.dirty == Some(true) {
            format!("{head} (working tree with uncommitted changes)")
        } else {
            head
        }
    }
}

/// The current UTC time in `date`'s `format` (e.g. `+%Y-%m-%dT%H:%M:%SZ`).
pub fn utc_now(format: &str) -> Option<String> {
    capture("date", &["-u", format], None)
}
