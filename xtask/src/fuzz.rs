//! `cargo xtask fuzz [--smoke | --seconds N] [--execs N] [--sanitizer none|address] [--publish]
//! [TARGET...]`: the cargo-fuzz targets in `fuzz/`.
//!
//! Only stable Rust is assumed: libFuzzer's instrumentation needs `-Z` flags, so the build runs
//! with `RUSTC_BOOTSTRAP=1`. Each target runs on its seed corpus (`fuzz/seeds/<target>`,
//! committed) plus the growing working corpus (`fuzz/corpus/<target>`, not committed), with a
//! dictionary. Any crash fails the command; libFuzzer leaves the input in
//! `fuzz/artifacts/<target>/` — turn it into a test in `crates/broker/tests/fuzz_regressions.rs`.
//!
//! - `--smoke` (the default, what CI runs through `cargo xtask test`): 25 s per target.
//! - `--seconds N`: N seconds per target (libFuzzer `-max_total_time`).
//! - `--execs N`: N executions per target (libFuzzer `-runs`), however long that takes; with
//!   `--seconds` as well, whichever limit comes first.
//! - `--sanitizer none|address`: the sanitizer of the build. Without it, a time-limited run no
//!   longer than the smoke run builds without one and any longer run (or an `--execs` run) with
//!   AddressSanitizer.
//! - `--publish`: for a run longer than the smoke run, writes its figures (date, commit,
//!   machine, per target executions, wall time, exec/s, corpus, crashes, sanitizer and why) into
//!   `docs/reliability.md` between `<!-- fuzz-long:begin -->` and `<!-- fuzz-long:end -->`
//!   (appended when the markers are absent), even when the run found crashes. `cargo xtask
//!   reliability` regenerates the rest of that document and keeps the block as it is.
//!
//! The long run of issue 18 is `nice -n 10 cargo xtask fuzz --execs 10000000 --sanitizer none
//! --publish`.
//!
//! Why the smoke run builds without a sanitizer: the targets and the code under them are safe
//! Rust, so AddressSanitizer adds a long build and slower executions for memory errors that code
//! cannot have; panics, overflow checks and debug assertions are what it finds. Longer runs keep
//! AddressSanitizer by default for the `unsafe` inside dependencies; at its speed ten million
//! executions per target take hours, hence `--sanitizer none` for the long run. Each sanitizer
//! builds into its own target directory so switching does not rebuild the other.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use portico_testkit::figures;
use portico_testkit::machine::{utc_now, Commit, Machine};

/// One cargo-fuzz target and how it is run.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    pub name: &'static str,
    /// The dictionary in `fuzz/dicts/`.
    pub dict: &'static str,
    /// libFuzzer `-max_len`, the longest input it makes.
    pub max_len: usize,
}

/// The targets, the quick ones first. `callback_url` stops at 1 KiB: the broker refuses a callback
/// over 8 KiB by its length before parsing it (`adversarial_callbacks` covers that), real
/// callbacks are a few hundred bytes, and the target's speed falls with input length (each input
/// is parsed as a URL nine times): about 1,000 executions a second at 10–16 KiB and 1,500 at
/// 2 KiB, where ten million took more than an hour and a half.
pub const TARGETS: [Target; 4] = [
    Target {
        name: "token_response",
        dict: "json.dict",
        max_len: 16384,
    },
    Target {
        name: "jwt",
        dict: "json.dict",
        max_len: 16384,
    },
    Target {
        name: "config",
        dict: "json.dict",
        max_len: 16384,
    },
    Target {
        name: "callback_url",
        dict: "callback.dict",
        max_len: 1024,
    },
];

/// Seconds per target of `--smoke` (the default).
pub const SMOKE_SECS: u64 = 25;

/// libFuzzer flags every run uses besides the limits, the dictionary and the artifact prefix.
const LIBFUZZER_FLAGS: [&str; 3] = ["-print_final_stats=1", "-timeout=10", "-rss_limit_mb=4096"];

/// The block of `docs/reliability.md` that `--publish` writes.
const BLOCK: &str = "fuzz-long";

/// `cargo fuzz --sanitizer`: none for smoke runs, address for longer ones (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sanitizer {
    None,
    Address,
}

impl Sanitizer {
    /// The sanitizer a run of `seconds` per target uses unless told otherwise.
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

    fn parse(s: &str) -> Result<Sanitizer> {
        match s {
            "none" => Ok(Sanitizer::None),
            "address" => Ok(Sanitizer::Address),
            other => bail!("--sanitizer is none or address (got `{other}`)"),
        }
    }

    /// What the build with this sanitizer can find, for the published figures.
    fn reason(self) -> &'static str {
        match self {
            Sanitizer::None => {
                "the fuzz targets and the broker and shell-core code under them are safe Rust \
                 (no `unsafe`), so AddressSanitizer could only find memory errors in `unsafe` \
                 inside dependencies, at a fraction of the speed (the smoke run did 3.7 M \
                 executions in 100 s without it, 0.5 M with it): ten million executions per \
                 target would take hours each. What this run checks: panics, arithmetic overflow \
                 and debug assertions (`--debug-assertions`), timeouts, memory growth, and each \
                 target's invariants (see `fuzz/README.md`)"
            }
            Sanitizer::Address => {
                "AddressSanitizer, for memory errors in the `unsafe` code inside dependencies \
                 (our own crates have none), besides panics, arithmetic overflow, debug \
                 assertions and each target's invariants"
            }
        }
    }
}

/// What `cargo xtask fuzz` was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// `-max_total_time` per target; `None`: no time limit (an `--execs` run).
    pub seconds: Option<u64>,
    /// `-runs`, executions per target; `None`: until the time is up.
    pub execs: Option<u64>,
    pub sanitizer: Sanitizer,
    /// Whether `--sanitizer` chose it, rather than the default for the run's length.
    pub sanitizer_asked: bool,
    pub publish: bool,
    pub targets: Vec<String>,
}

impl Plan {
    /// A time-limited run with the default sanitizer (what `cargo xtask reliability` runs).
    pub fn timed(seconds: u64, targets: &[String]) -> Plan {
        Plan {
            seconds: Some(seconds),
            execs: None,
            sanitizer: Sanitizer::for_run(seconds),
            sanitizer_asked: false,
            publish: false,
            targets: targets.to_vec(),
        }
    }

    /// The smoke run: 25 s per target, nothing else asked for.
    fn is_smoke(&self) -> bool {
        self.execs.is_none() && self.seconds.is_some_and(|s| s <= SMOKE_SECS)
    }

    /// The limits, for people: `10000000 executions`, `300 s`, or both.
    fn limits(&self) -> String {
        match (self.execs, self.seconds) {
            (Some(n), Some(s)) => format!("{} executions or {s} s, whichever first", thousands(n)),
            (Some(n), None) => format!("{} executions", thousands(n)),
            (None, Some(s)) => format!("{s} s"),
            (None, None) => "no limit".into(),
        }
    }
}

/// The outcome of one target's run.
#[derive(Debug, Clone)]
pub struct FuzzRun {
    pub target: String,
    pub sanitizer: Sanitizer,
    /// Fuzzing time asked of libFuzzer (`-max_total_time`), if any.
    pub seconds: Option<u64>,
    /// Wall time of the run, including start-up and corpus loading.
    pub wall_secs: u64,
    /// `stat::number_of_executed_units` from libFuzzer's final stats.
    pub execs: u64,
    /// `stat::average_exec_per_sec` from libFuzzer's final stats.
    pub exec_per_sec: Option<u64>,
    /// `stat::peak_rss_mb` from libFuzzer's final stats.
    pub peak_rss_mb: Option<u64>,
    /// Inputs in the working corpus before and after the run.
    pub corpus_before: usize,
    pub corpus: usize,
    /// Crash/timeout/leak inputs written during this run.
    pub crashes: Vec<PathBuf>,
    pub exit_ok: bool,
}

impl FuzzRun {
    /// Executions per second: libFuzzer's own figure, else executions over the time asked.
    pub fn rate(&self) -> u64 {
        self.exec_per_sec
            .unwrap_or_else(|| self.execs / self.seconds.unwrap_or(self.wall_secs).max(1))
    }
}

fn fuzz_dir() -> PathBuf {
    crate::root().join("fuzz")
}

/// `cargo xtask fuzz ...`
pub fn run(args: &[String]) -> Result<()> {
    let plan = parse(args)?;
    let started = utc_now("+%Y-%m-%d %H:%M UTC");
    // The commit the targets were built from (the tree may move on during a long run).
    let commit = Commit::of(&crate::root()).line();
    let runs = run_plan(&plan)?;
    println!("\ntarget           sanitizer seconds (wall)        execs   exec/s  corpus  crashes");
    for r in &runs {
        println!(
            "{:<16} {:<9} {:>7} ({:>4}) {:>12} {:>8} {:>7} {:>8}",
            r.target,
            r.sanitizer.flag(),
            r.seconds.map_or("-".into(), |s| s.to_string()),
            r.wall_secs,
            r.execs,
            r.rate(),
            r.corpus,
            r.crashes.len()
        );
    }
    if plan.publish {
        let command = std::iter::once("cargo xtask fuzz".to_string())
            .chain(args.iter().filter(|a| *a != "--").cloned())
            .collect::<Vec<_>>()
            .join(" ");
        let out = crate::root().join("docs").join("reliability.md");
        let doc = std::fs::read_to_string(&out).unwrap_or_default();
        let body = long_run_block(&LongRun {
            command,
            started: started.unwrap_or_else(|| "unknown".into()),
            finished: utc_now("+%Y-%m-%d %H:%M UTC").unwrap_or_else(|| "unknown".into()),
            commit,
            machine: Machine::detect(),
            niceness: niceness(),
            plan: &plan,
            runs: &runs,
        });
        std::fs::write(&out, figures::put_block(&doc, BLOCK, &body))?;
        println!("xtask: wrote the long fuzz run into {}", out.display());
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

/// `--smoke` (default), `--seconds N`, `--execs N`, `--sanitizer none|address`, `--publish`,
/// then optional target names.
pub fn parse(args: &[String]) -> Result<Plan> {
    let usage = || {
        format!(
            "usage: cargo xtask fuzz [--smoke | --seconds N] [--execs N] \
             [--sanitizer none|address] [--publish] [{}]",
            TARGETS.map(|t| t.name).join("|")
        )
    };
    let number = |flag: &str, v: Option<&String>| -> Result<u64> {
        v.and_then(|n| n.replace(['_', ','], "").parse::<u64>().ok())
            .filter(|n| *n > 0)
            .with_context(|| format!("{flag} needs a positive number; {}", usage()))
    };
    let mut seconds = None;
    let mut execs = None;
    let mut sanitizer = None;
    let mut publish = false;
    let mut targets = Vec::new();
    let mut it = args.iter().filter(|a| *a != "--");
    while let Some(a) = it.next() {
        match a.as_str() {
            "--smoke" => {
                seconds = Some(SMOKE_SECS);
                execs = None;
            }
            "--seconds" => seconds = Some(number("--seconds", it.next())?),
            "--execs" => execs = Some(number("--execs", it.next())?),
            "--sanitizer" => {
                sanitizer = Some(Sanitizer::parse(
                    it.next().map(String::as_str).unwrap_or_default(),
                )?)
            }
            "--publish" => publish = true,
            t if TARGETS.iter().any(|k| k.name == t) => targets.push(t.to_string()),
            other => bail!("{} (got `{other}`)", usage()),
        }
    }
    if execs.is_none() && seconds.is_none() {
        seconds = Some(SMOKE_SECS);
    }
    if targets.is_empty() {
        targets = TARGETS.iter().map(|t| t.name.to_string()).collect();
    }
    let default = match (execs, seconds) {
        (None, Some(s)) => Sanitizer::for_run(s),
        _ => Sanitizer::Address,
    };
    let plan = Plan {
        seconds,
        execs,
        sanitizer: sanitizer.unwrap_or(default),
        sanitizer_asked: sanitizer.is_some(),
        publish,
        targets,
    };
    if plan.publish && plan.is_smoke() {
        bail!(
            "--publish is for a long run: give --execs N or --seconds N (more than {SMOKE_SECS})"
        );
    }
    Ok(plan)
}

/// Installs cargo-fuzz if missing, builds once, runs each target for `seconds` with the default
/// sanitizer for that length.
pub fn run_targets(seconds: u64, targets: &[String]) -> Result<Vec<FuzzRun>> {
    run_plan(&Plan::timed(seconds, targets))
}

/// Installs cargo-fuzz if missing, builds once, runs each target of `plan`.
pub fn run_plan(plan: &Plan) -> Result<Vec<FuzzRun>> {
    ensure_cargo_fuzz()?;
    let sanitizer = plan.sanitizer;
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
    for target in &plan.targets {
        runs.push(run_target(target, plan)?);
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

/// The last `stat::NAME: N` line of libFuzzer's final stats.
fn stat(log: &str, name: &str) -> Option<u64> {
    log.lines()
        .filter_map(|l| {
            l.strip_prefix("stat::")?
                .strip_prefix(name)?
                .strip_prefix(':')
        })
        .filter_map(|n| n.trim().parse::<u64>().ok())
        .next_back()
}

fn run_target(target: &str, plan: &Plan) -> Result<FuzzRun> {
    let sanitizer = plan.sanitizer;
    let spec = TARGETS
        .iter()
        .find(|t| t.name == target)
        .context("unknown target")?;
    let dir = fuzz_dir();
    let corpus = dir.join("corpus").join(target);
    let seeds = dir.join("seeds").join(target);
    let artifacts = dir.join("artifacts").join(target);
    std::fs::create_dir_all(&corpus)?;
    std::fs::create_dir_all(&artifacts)?;
    let before = files_in(&artifacts);
    let corpus_before = files_in(&corpus).len();
    let logs = crate::target_dir().join("fuzz").join("logs");
    std::fs::create_dir_all(&logs)?;
    let log_path = logs.join(format!("{target}.log"));
    let log = std::fs::File::create(&log_path)?;
    println!(
        "xtask: fuzz {target} for {} (sanitizer {}, log {})",
        plan.limits(),
        sanitizer.flag(),
        log_path.display()
    );
    let started = Instant::now();
    let mut cmd = cargo_fuzz(sanitizer);
    cmd.args(["run", "-O", "--debug-assertions"])
        .args(["--sanitizer", sanitizer.flag(), target])
        .arg(&corpus)
        .arg(&seeds)
        .arg("--");
    if let Some(s) = plan.seconds {
        cmd.arg(format!("-max_total_time={s}"));
    }
    if let Some(n) = plan.execs {
        cmd.arg(format!("-runs={n}"));
    }
    let status = cmd
        .arg(format!(
            "-dict={}",
            dir.join("dicts").join(spec.dict).display()
        ))
        .arg(format!("-max_len={}", spec.max_len))
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .args(LIBFUZZER_FLAGS)
        .stdout(log.try_clone()?)
        .stderr(log)
        .status()
        .with_context(|| format!("could not start cargo fuzz run {target}"))?;
    let text = std::fs::read_to_string(&log_path).unwrap_or_default();
    let execs = stat(&text, "number_of_executed_units").unwrap_or(0);
    let crashes: Vec<PathBuf> = files_in(&artifacts)
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    let run = FuzzRun {
        target: target.to_string(),
        sanitizer,
        seconds: plan.seconds,
        wall_secs: started.elapsed().as_secs(),
        execs,
        exec_per_sec: stat(&text, "average_exec_per_sec"),
        peak_rss_mb: stat(&text, "peak_rss_mb"),
        corpus_before,
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

/// This process's niceness (`nice -n 10 cargo xtask fuzz ...` → 10), from /proc/self/stat.
fn niceness() -> Option<i64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the `(comm)`: state is field 3, nice field 19.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(16)?.parse().ok()
}

/// `12345678` → `12,345,678`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `754` → `12 min 34 s`.
fn duration(secs: u64) -> String {
    match secs {
        s if s >= 3600 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        s if s >= 60 => format!("{} min {} s", s / 60, s % 60),
        s => format!("{s} s"),
    }
}

/// Everything the published section says.
struct LongRun<'a> {
    command: String,
    started: String,
    finished: String,
    commit: String,
    machine: Machine,
    niceness: Option<i64>,
    plan: &'a Plan,
    runs: &'a [FuzzRun],
}

/// The "Long fuzz run" section of `docs/reliability.md` (without its markers).
fn long_run_block(r: &LongRun) -> String {
    let mut d = String::new();
    // Writing to a String cannot fail.
    let _ = render_long_run(&mut d, r);
    d
}

fn render_long_run(d: &mut String, r: &LongRun) -> std::fmt::Result {
    let m = &r.machine;
    let unknown = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".into());
    writeln!(d, "## Long fuzz run\n")?;
    writeln!(
        d,
        "Written by `{}` (issue 18); `cargo xtask reliability` regenerates the rest of this \
         document and keeps this section as it is.\n",
        r.command
    )?;
    writeln!(d, "- Date: {} to {}", r.started, r.finished)?;
    writeln!(d, "- Commit: {}", r.commit)?;
    writeln!(
        d,
        "- Machine: {}, {} cores, {}; kernel {}; {}",
        m.cpu.clone().unwrap_or_else(|| "unknown CPU".into()),
        m.cores.map_or("unknown".into(), |c| c.to_string()),
        m.memory_kib.map_or("unknown RAM".into(), |kb| format!(
            "{:.1} GB RAM",
            kb as f64 / 1024.0 / 1024.0
        )),
        unknown(&m.system),
        unknown(&m.rustc),
    )?;
    writeln!(
        d,
        "- Load: niceness {}, load average at the end {} (the machine is shared with other \
         builds, so exec/s are a floor)",
        r.niceness.map_or("unknown".into(), |n| n.to_string()),
        unknown(&m.load_average),
    )?;
    writeln!(d, "- Limit per target: {}", r.plan.limits())?;
    writeln!(
        d,
        "- Sanitizer: {} ({}): {}",
        r.plan.sanitizer.flag(),
        if r.plan.sanitizer_asked {
            format!("chosen with `--sanitizer {}`", r.plan.sanitizer.flag())
        } else {
            "the default for a run of this length".into()
        },
        r.plan.sanitizer.reason()
    )?;
    writeln!(
        d,
        "- Build and flags: `cargo fuzz build -O --debug-assertions` on stable rustc with \
         `RUSTC_BOOTSTRAP=1`; each target starts from its seeds (`fuzz/seeds/`) and the working \
         corpus earlier runs left (`fuzz/corpus/`, not committed), with its dictionary \
         (`fuzz/dicts/`), `{}` and the target's `-max_len` (`callback_url` 1024: the \
         broker refuses a callback over 8 KiB by length before parsing it, and longer inputs only \
         slow the target down)\n",
        LIBFUZZER_FLAGS.join(" ")
    )?;
    writeln!(
        d,
        "| target | max_len | executions | wall time | exec/s | corpus before → after | peak RSS | \
         crashes |"
    )?;
    writeln!(d, "|---|---:|---:|---:|---:|---:|---:|---|")?;
    for run in r.runs {
        let crashes = if run.crashes.is_empty() {
            "0".to_string()
        } else {
            run.crashes
                .iter()
                .map(|p| format!("`{}`", p.file_name().unwrap_or_default().to_string_lossy()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let max_len = TARGETS
            .iter()
            .find(|t| t.name == run.target)
            .map_or("–".into(), |t| t.max_len.to_string());
        writeln!(
            d,
            "| `{}` | {max_len} | {} | {} | {} | {} → {} | {} | {crashes} |",
            run.target,
            thousands(run.execs),
            duration(run.wall_secs),
            thousands(run.rate()),
            thousands(run.corpus_before as u64),
            thousands(run.corpus as u64),
            run.peak_rss_mb.map_or("–".into(), |mb| format!("{mb} MB")),
        )?;
    }
    let execs: u64 = r.runs.iter().map(|x| x.execs).sum();
    let wall: u64 = r.runs.iter().map(|x| x.wall_secs).sum();
    let crashes: usize = r.runs.iter().map(|x| x.crashes.len()).sum();
    writeln!(
        d,
        "\n{} targets, {} executions in {}, {crashes} crashes.",
        r.runs.len(),
        thousands(execs),
        duration(wall)
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_smoke_run_is_unchanged() {
        for a in [&[][..], &["--smoke"][..], &["--", "--smoke"][..]] {
            let p = parse(&args(a)).unwrap();
            assert_eq!(p.seconds, Some(SMOKE_SECS));
            assert_eq!(p.execs, None);
            assert_eq!(p.sanitizer, Sanitizer::None);
            assert!(!p.publish);
            assert_eq!(p.targets.len(), TARGETS.len());
        }
        let p = parse(&args(&["--seconds", "300", "jwt"])).unwrap();
        assert_eq!(
            (p.seconds, p.sanitizer, p.targets),
            (Some(300), Sanitizer::Address, vec!["jwt".to_string()])
        );
    }

    #[test]
    fn execs_sanitizer_and_publish() {
        let p = parse(&args(&[
            "--execs",
            "10_000_000",
            "--sanitizer",
            "none",
            "--publish",
        ]))
        .unwrap();
        assert_eq!(p.execs, Some(10_000_000));
        assert_eq!(p.seconds, None);
        assert_eq!(p.sanitizer, Sanitizer::None);
        assert!(p.sanitizer_asked && p.publish);
        assert_eq!(p.limits(), "10,000,000 executions");
        // Without --sanitizer an executions run is a long run: AddressSanitizer.
        let p = parse(&args(&["--execs", "1000", "--seconds", "5"])).unwrap();
        assert_eq!(p.sanitizer, Sanitizer::Address);
        assert!(!p.sanitizer_asked);
        assert_eq!(p.limits(), "1,000 executions or 5 s, whichever first");
        assert!(parse(&args(&["--publish"])).is_err());
        assert!(parse(&args(&["--execs", "0"])).is_err());
        assert!(parse(&args(&["--sanitizer", "memory"])).is_err());
        assert!(parse(&args(&["--seconds"])).is_err());
        assert!(parse(&args(&["nope"])).is_err());
    }

    #[test]
    fn reads_libfuzzer_final_stats() {
        let log = "#2 INITED\nstat::number_of_executed_units: 10000000\n\
                   stat::average_exec_per_sec:     31250\nstat::new_units_added: 12\n\
                   stat::peak_rss_mb:              97\n";
        assert_eq!(stat(log, "number_of_executed_units"), Some(10_000_000));
        assert_eq!(stat(log, "average_exec_per_sec"), Some(31_250));
        assert_eq!(stat(log, "peak_rss_mb"), Some(97));
        assert_eq!(stat(log, "peak_rss"), None);
    }

    #[test]
    fn the_published_section_names_what_was_run_where() {
        let plan = parse(&args(&["--execs", "10000000", "--sanitizer", "none"])).unwrap();
        let run = |target: &str, crashes: Vec<PathBuf>| FuzzRun {
            target: target.into(),
            sanitizer: Sanitizer::None,
            seconds: None,
            wall_secs: 754,
            execs: 10_000_000,
            exec_per_sec: Some(13_262),
            peak_rss_mb: Some(120),
            corpus_before: 5393,
            corpus: 5421,
            crashes,
            exit_ok: true,
        };
        let runs = [
            run("callback_url", vec![]),
            run("jwt", vec![PathBuf::from("/x/crash-abc")]),
        ];
        let text = long_run_block(&LongRun {
            command: "cargo xtask fuzz --execs 10000000 --sanitizer none --publish".into(),
            started: "2026-12-01 10:00 UTC".into(),
            finished: "2026-12-01 10:25 UTC".into(),
            commit: "abc1234".into(),
            machine: Machine {
                cpu: Some("AMD EPYC".into()),
                cores: Some(2),
                memory_kib: Some(24_641_536),
                system: Some("Linux 6.1 x86_64".into()),
                kernel: Some("6.1".into()),
                rustc: Some("rustc 1.95.0".into()),
                webkitgtk: None,
                load_average: Some("2.00 1.90 1.80 3/400 1234".into()),
            },
            niceness: Some(10),
            plan: &plan,
            runs: &runs,
        });
        for needle in [
            "## Long fuzz run",
            "`cargo xtask fuzz --execs 10000000 --sanitizer none --publish`",
            "- Date: 2026-12-01 10:00 UTC to 2026-12-01 10:25 UTC",
            "- Commit: abc1234",
            "AMD EPYC, 2 cores, 23.5 GB RAM; kernel Linux 6.1 x86_64; rustc 1.95.0",
            "niceness 10",
            "- Limit per target: 10,000,000 executions",
            "- Sanitizer: none (chosen with `--sanitizer none`): the fuzz targets",
            "| `callback_url` | 1024 | 10,000,000 | 12 min 34 s | 13,262 | 5,393 → 5,421 | 120 MB | 0 |",
            "| `jwt` | 16384 | 10,000,000 | 12 min 34 s | 13,262 | 5,393 → 5,421 | 120 MB | `crash-abc` |",
            "2 targets, 20,000,000 executions in 25 min 8 s, 1 crashes.",
        ] {
            assert!(text.contains(needle), "{needle:?} not in:\n{text}");
        }
    }

    #[test]
    fn numbers_for_people() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(10_000_000), "10,000,000");
        assert_eq!(duration(59), "59 s");
        assert_eq!(duration(754), "12 min 34 s");
        assert_eq!(duration(3720), "1 h 2 min");
    }
}
