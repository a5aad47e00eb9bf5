//! `cargo xtask fuzz [--smoke | --seconds N] [TARGET...]`: the cargo-fuzz targets in `fuzz/`.
//!
//! Only stable Rust is assumed: libFuzzer's instrumentation needs `-Z` flags, so the build runs
//! with `RUSTC_BOOTSTRAP=1`. Each target runs for a fixed time on its seed corpus
//! (`fuzz/seeds/<target>`, committed) plus the growing working corpus (`fuzz/corpus/<target>`,
//! not committed), with a dictionary. Any crash fails the command; libFuzzer leaves the input in
//! `fuzz/artifacts/<target>/` — turn it into a test in `crates/broker/tests/fuzz_regressions.rs`.
//!
//! The smoke run (CI) builds without a sanitizer: the targets and the code under them are safe
//! Rust, so AddressSanitizer adds a long build and slower executions for memory errors that code
//! cannot have; panics, overflow checks and debug assertions are what it finds. Longer runs
//! (`--seconds N`) keep AddressSanitizer for the `unsafe` inside dependencies. Each sanitizer
//! builds into its own target directory so switching does not rebuild the other.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};

/// The targets and the dictionary each one uses.
pub const TARGETS: [(&str, &str); 4] = [
    ("callback_url", "callback.dict"),
    ("token_response", "json.dict"),
    ("jwt", "json.dict"),
    ("config", "json.dict"),
];

/// Seconds per target of `--smoke` (the default).
pub const SMOKE_SECS: u64 = 25;

/// `cargo fuzz --sanitizer`: none for smoke runs, address for longer ones (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sanitizer {
    None,
    Address,
}

impl Sanitizer {
    /// The sanitizer a run of `seconds` per target uses.
    pub fn for_run(seconds: u64) -> Sanitizer {
        if seconds <= SMOKE_SECS {
            Sanitizer::None
        } else {
            Sanitizer::Address
        }
    }

    fn flag(self) -> &'static str {
        match self {
            Sanitizer::None => "none",
            Sanitizer::Address => "address",
        }
    }
}

/// The outcome of one target's run.
#[derive(Debug, Clone)]
pub struct FuzzRun {
    pub target: String,
    pub sanitizer: Sanitizer,
    /// Fuzzing time asked of libFuzzer (`-max_total_time`).
    pub seconds: u64,
    /// Wall time of the run, including start-up and corpus loading.
    pub wall_secs: u64,
    /// `stat::number_of_executed_units` from libFuzzer's final stats.
    pub execs: u64,
    /// Inputs in the working corpus after the run.
    pub corpus: usize,
    /// Crash/timeout/leak inputs written during this run.
    pub crashes: Vec<PathBuf>,
    pub exit_ok: bool,
}

fn fuzz_dir() -> PathBuf {
    crate::root().join("fuzz")
}

/// `cargo xtask fuzz ...`
pub fn run(args: &[String]) -> Result<()> {
    let (seconds, targets) = parse(args)?;
    let runs = run_targets(seconds, &targets)?;
    println!("\ntarget           sanitizer seconds (wall)        execs   exec/s  corpus  crashes");
    for r in &runs {
        println!(
            "{:<16} {:<9} {:>7} ({:>4}) {:>12} {:>8} {:>7} {:>8}",
            r.target,
            r.sanitizer.flag(),
            r.seconds,
            r.wall_secs,
            r.execs,
            r.execs / r.seconds.max(1),
            r.corpus,
            r.crashes.len()
        );
    }
    let failed: Vec<&FuzzRun> = runs
        .iter()
        .filter(|r| !r.crashes.is_empty() || !r.exit_ok)
        .collect();
    if !failed.is_empty() {
        for r in &failed {
            eprintln!("xtask: {} found {:?}", r.target, r.crashes);
        }
        bail!("fuzzing found crashes");
    }
    Ok(())
}

/// `--smoke` (default), `--seconds N`, then optional target names.
pub fn parse(args: &[String]) -> Result<(u64, Vec<String>)> {
    let mut seconds = SMOKE_SECS;
    let mut targets = Vec::new();
    let mut it = args.iter().filter(|a| *a != "--");
    while let Some(a) = it.next() {
        match a.as_str() {
            "--smoke" => seconds = SMOKE_SECS,
            "--seconds" => {
                seconds = it
                    .next()
                    .context("--seconds needs a number")?
                    .parse()
                    .context("--seconds needs a number")?;
            }
            t if TARGETS.iter().any(|(n, _)| *n == t) => targets.push(t.to_string()),
            other => bail!(
                "usage: cargo xtask fuzz [--smoke | --seconds N] [{}] (got `{other}`)",
                TARGETS.map(|(n, _)| n).join("|")
            ),
        }
    }
    if seconds == 0 {
        bail!("--seconds must be at least 1");
    }
    if targets.is_empty() {
        targets = TARGETS.iter().map(|(n, _)| n.to_string()).collect();
    }
    Ok((seconds, targets))
}

/// Installs cargo-fuzz if missing, builds once, runs each target for `seconds`.
pub fn run_targets(seconds: u64, targets: &[String]) -> Result<Vec<FuzzRun>> {
    ensure_cargo_fuzz()?;
    let sanitizer = Sanitizer::for_run(seconds);
    let started = Instant::now();
    crate::exec(
        cargo_fuzz(sanitizer)
            .args(["build", "-O", "--debug-assertions"])
            .args(["--sanitizer", sanitizer.flag()]),
        &format!(
            "build the fuzz targets (sanitizer {}; stable rustc with RUSTC_BOOTSTRAP=1)",
            sanitizer.flag()
        ),
    )?;
    println!(
        "xtask: fuzz targets built in {} s",
        started.elapsed().as_secs()
    );
    let mut runs = Vec::new();
    for target in targets {
        runs.push(run_target(target, seconds, sanitizer)?);
    }
    Ok(runs)
}

fn ensure_cargo_fuzz() -> Result<()> {
    let ok = Command::new(crate::setup::cargo_bin("cargo-fuzz"))
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return Ok(());
    }
    crate::exec(
        Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())).args([
            "install",
            "cargo-fuzz",
            "--locked",
        ]),
        "cargo install cargo-fuzz --locked",
    )
}

fn cargo_fuzz(sanitizer: Sanitizer) -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    let target_dir = match sanitizer {
        Sanitizer::None => crate::target_dir().join("fuzz"),
        Sanitizer::Address => crate::target_dir().join("fuzz-asan"),
    };
    c.arg("fuzz")
        .current_dir(fuzz_dir())
        // Stable toolchain, nightly flags (-Zsanitizer, sancov passes) for the fuzz build only.
        .env("RUSTC_BOOTSTRAP", "1")
        .env("CARGO_TARGET_DIR", target_dir);
    c
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

fn run_target(target: &str, seconds: u64, sanitizer: Sanitizer) -> Result<FuzzRun> {
    let dict = TARGETS
        .iter()
        .find(|(n, _)| *n == target)
        .map(|(_, d)| *d)
        .context("unknown target")?;
    let dir = fuzz_dir();
    let corpus = dir.join("corpus").join(target);
    let seeds = dir.join("seeds").join(target);
    let artifacts = dir.join("artifacts").join(target);
    std::fs::create_dir_all(&corpus)?;
    std::fs::create_dir_all(&artifacts)?;
    let before = files_in(&artifacts);
    let logs = crate::target_dir().join("fuzz").join("logs");
    std::fs::create_dir_all(&logs)?;
    let log_path = logs.join(format!("{target}.log"));
    let log = std::fs::File::create(&log_path)?;
    println!(
        "xtask: fuzz {target} for {seconds} s (log {})",
        log_path.display()
    );
    let started = Instant::now();
    let status = cargo_fuzz(sanitizer)
        .args(["run", "-O", "--debug-assertions"])
        .args(["--sanitizer", sanitizer.flag(), target])
        .arg(&corpus)
        .arg(&seeds)
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!("-dict={}", dir.join("dicts").join(dict).display()))
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .args([
            "-print_final_stats=1",
            "-timeout=10",
            "-rss_limit_mb=4096",
            "-max_len=16384",
        ])
        .stdout(log.try_clone()?)
        .stderr(log)
        .status()
        .with_context(|| format!("could not start cargo fuzz run {target}"))?;
    let text = std::fs::read_to_string(&log_path).unwrap_or_default();
    let execs = text
        .lines()
        .filter_map(|l| l.strip_prefix("stat::number_of_executed_units:"))
        .filter_map(|n| n.trim().parse::<u64>().ok())
        .next_back()
        .unwrap_or(0);
    let crashes: Vec<PathBuf> = files_in(&artifacts)
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    let run = FuzzRun {
        target: target.to_string(),
        sanitizer,
        seconds,
        wall_secs: started.elapsed().as_secs(),
        execs,
        corpus: files_in(&corpus).len(),
        crashes,
        exit_ok: status.success(),
    };
    if !run.exit_ok && run.crashes.is_empty() {
        // Not a finding: the harness itself failed (build, flags). Show why.
        let tail: Vec<&str> = text.lines().rev().take(30).collect();
        for l in tail.into_iter().rev() {
            eprintln!("  {l}");
        }
        bail!("cargo fuzz run {target} failed without a crash input ({status})");
    }
    if execs == 0 {
        bail!(
            "cargo fuzz run {target}: no executions reported (see {})",
            log_path.display()
        );
    }
    Ok(run)
}
