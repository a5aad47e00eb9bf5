//! `cargo xtask reliability [--fuzz-seconds N]`: runs the adversarial suites (issue 6) in the
//! headless session with `PORTICO_FIGURES` set, runs every fuzz target (a smoke run unless told
//! otherwise), and writes `docs/reliability.md` from what the tests and libFuzzer reported:
//! cases tried, how each ended, requests counted, fuzz executions — dated, with machine and commit.
//! The document is generated, never typed: figures come only from the run.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::fuzz::{self, FuzzRun};

/// Test binaries that emit figures, per package.
const SUITES: &[(&str, &[&str])] = &[
    (
        "portico-broker",
        &[
            "adversarial_callbacks",
            "adversarial_faults",
            "adversarial_concurrency",
            "adversarial_crash",
            "adversarial_storage",
            "adversarial_logs",
            "id_tokens",
            "login",
            "fuzz_regressions",
        ],
    ),
    ("portico", &["ipc_acl"]),
    ("portico-e2e", &["crash_safety"]),
];

/// Section order and titles of the document.
const SECTIONS: &[(&str, &str)] = &[
    ("id_tokens", "ID tokens (OpenID RP negatives and positives)"),
    ("callbacks", "Forged callbacks"),
    ("provider_faults", "Provider faults"),
    ("concurrency", "Concurrency"),
    ("crash_safety", "Crash safety"),
    ("storage", "Storage"),
    ("ipc_input", "IPC input"),
    ("secrets_in_logs", "Secrets in logs"),
    (
        "fuzz_regressions",
        "Fuzz regressions (crash inputs kept as tests)",
    ),
];

struct TestRun {
    package: String,
    binaries: usize,
    passed: u64,
    failed: u64,
    ok: bool,
}

pub fn run(args: &[String]) -> Result<()> {
    let mut fuzz_seconds = fuzz::SMOKE_SECS;
    let mut it = args.iter().filter(|a| *a != "--");
    while let Some(a) = it.next() {
        match a.as_str() {
            "--fuzz-seconds" => {
                fuzz_seconds = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| *n > 0)
                    .context("--fuzz-seconds needs a positive number")?;
            }
            other => bail!("usage: cargo xtask reliability [--fuzz-seconds N] (got `{other}`)"),
        }
    }
    let work = crate::target_dir().join("reliability");
    std::fs::create_dir_all(&work)?;
    let figures_path = work.join("figures.jsonl");
    let _ = std::fs::remove_file(&figures_path);

    let session = crate::session::HeadlessSession::start()?;
    let mut tests = Vec::new();
    for (package, binaries) in SUITES {
        let log_path = work.join(format!("{package}.log"));
        let log = std::fs::File::create(&log_path)?;
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.current_dir(crate::root())
            .args(["test", "-p", package, "--no-fail-fast"]);
        for b in *binaries {
            cmd.args(["--test", b]);
        }
        session.apply(&mut cmd);
        cmd.env("PORTICO_FIGURES", &figures_path)
            .env("PORTICO_TRACE_LOG", work.join("trace.log"))
            .stdout(log.try_clone()?)
            .stderr(log);
        println!(
            "xtask: adversarial tests of {package} ({} binaries, log {})",
            binaries.len(),
            log_path.display()
        );
        let status = cmd.status().context("could not start cargo test")?;
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        let (passed, failed) = count_results(&text);
        tests.push(TestRun {
            package: package.to_string(),
            binaries: binaries.len(),
            passed,
            failed,
            ok: status.success(),
        });
    }
    drop(session);

    let all: Vec<String> = fuzz::TARGETS.iter().map(|(n, _)| n.to_string()).collect();
    let fuzz_runs = fuzz::run_targets(fuzz_seconds, &all)?;

    let figures = read_figures(&figures_path);
    let doc = render(&tests, &figures, &fuzz_runs, fuzz_seconds)?;
    let out = crate::root().join("docs").join("reliability.md");
    std::fs::create_dir_all(out.parent().context("docs dir")?)?;
    std::fs::write(&out, doc)?;
    println!("xtask: wrote {}", out.display());

    let failed_tests: Vec<&TestRun> = tests.iter().filter(|t| !t.ok).collect();
    let unexpected = figures
        .iter()
        .filter(|f| f["as_expected"] != Value::Bool(true))
        .count();
    let crashes: usize = fuzz_runs.iter().map(|r| r.crashes.len()).sum();
    if !failed_tests.is_empty() || unexpected > 0 || crashes > 0 {
        bail!(
            "reliability run failed: {} test package(s) failed, {unexpected} case(s) not as expected, {crashes} fuzz crash(es)",
            failed_tests.len()
        );
    }
    Ok(())
}

/// Sums `test result: ... N passed; M failed` lines of a cargo test log.
fn count_results(text: &str) -> (u64, u64) {
    let mut passed = 0;
    let mut failed = 0;
    for line in text.lines().filter(|l| l.starts_with("test result:")) {
        for part in line.split([';', '.']) {
            let words: Vec<&str> = part.split_whitespace().collect();
            if let [n, what] = words[..] {
                let n: u64 = n.parse().unwrap_or(0);
                match what {
                    "passed" => passed += n,
                    "failed" => failed += n,
                    _ => {}
                }
            }
        }
    }
    (passed, failed)
}

fn read_figures(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn command_line(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let mem_gb = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| format!("{:.1} GB RAM", kb / 1024.0 / 1024.0))
        .unwrap_or_else(|| "unknown RAM".into());
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!(
        "{}, {cpus} CPUs ({cpu}), {mem_gb}, {}",
        command_line("uname", &["-srm"]),
        command_line("rustc", &["-V"])
    )
}

fn commit() -> String {
    let root = crate::root();
    let root = root.to_string_lossy();
    let head = command_line("git", &["-C", &root, "rev-parse", "--short", "HEAD"]);
    let dirty = Command::new("git")
        .args(["-C", &root, "status", "--porcelain", "--untracked-files=no"])
        .output()
        .map(|o| !o.stdout.is_empty())
        .unwrap_or(false);
    if dirty {
        format!("{head} (working tree with uncommitted changes)")
    } else {
        head
    }
}

fn cell(v: &Value) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        Value::Null => "–".into(),
        other => other.to_string(),
    };
    s.replace('|', "\\|").replace('\n', " ")
}

fn render(
    tests: &[TestRun],
    figures: &[Value],
    fuzz_runs: &[FuzzRun],
    fuzz_seconds: u64,
) -> Result<String> {
    let mut by_suite: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for f in figures {
        by_suite.entry(cell(&f["suite"])).or_default().push(f);
    }
    let mut d = String::new();
    writeln!(d, "# Reliability and security figures\n")?;
    writeln!(
        d,
        "Generated by `cargo xtask reliability{}` from the figures the adversarial tests and \
         libFuzzer reported in this run — do not edit by hand. The cases are issue 6's list; \
         the tests live beside the code (`crates/broker/tests/adversarial_*.rs`, `id_tokens.rs`, \
         `login.rs`, `fuzz_regressions.rs`, `src-tauri/tests/ipc_acl.rs`, \
         `tests/tests/crash_safety.rs`) and the fuzz targets in `fuzz/`.\n",
        if fuzz_seconds == fuzz::SMOKE_SECS {
            String::new()
        } else {
            format!(" --fuzz-seconds {fuzz_seconds}")
        }
    )?;
    writeln!(
        d,
        "- Date: {}",
        command_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"])
    )?;
    writeln!(d, "- Machine: {}", machine())?;
    writeln!(d, "- Commit: {}", commit())?;
    writeln!(
        d,
        "- Fuzzing: {fuzz_seconds} s per target, sanitizer {:?}\n",
        fuzz::Sanitizer::for_run(fuzz_seconds)
    )?;

    writeln!(d, "## Summary\n")?;
    writeln!(d, "| suite | cases tried | as expected | not as expected |")?;
    writeln!(d, "|---|---:|---:|---:|")?;
    let mut total = (0, 0);
    for (key, title) in SECTIONS {
        let rows = by_suite.get(*key).map(Vec::as_slice).unwrap_or(&[]);
        let good = rows
            .iter()
            .filter(|f| f["as_expected"] == Value::Bool(true))
            .count();
        total.0 += rows.len();
        total.1 += good;
        writeln!(
            d,
            "| {title} | {} | {good} | {} |",
            rows.len(),
            rows.len() - good
        )?;
    }
    writeln!(
        d,
        "| **all** | **{}** | **{}** | **{}** |\n",
        total.0,
        total.1,
        total.0 - total.1
    )?;
    let execs: u64 = fuzz_runs.iter().map(|r| r.execs).sum();
    let crashes: usize = fuzz_runs.iter().map(|r| r.crashes.len()).sum();
    writeln!(
        d,
        "Fuzzing: {} targets, {execs} executions, {crashes} crashes.\n",
        fuzz_runs.len()
    )?;
    writeln!(
        d,
        "| test package | test binaries | tests passed | tests failed |"
    )?;
    writeln!(d, "|---|---:|---:|---:|")?;
    for t in tests {
        writeln!(
            d,
            "| `{}` | {} | {} | {} |",
            t.package, t.binaries, t.passed, t.failed
        )?;
    }
    writeln!(d)?;

    for (key, title) in SECTIONS {
        let Some(rows) = by_suite.get(*key) else {
            writeln!(d, "## {title}\n\nNo figures were reported.\n")?;
            continue;
        };
        writeln!(d, "## {title}\n")?;
        // Extra columns: every other key any row of this suite reported, in first-seen order.
        let fixed = ["suite", "case", "expected", "outcome", "as_expected"];
        let mut extra: Vec<String> = Vec::new();
        for r in rows {
            if let Some(o) = r.as_object() {
                for k in o.keys() {
                    if !fixed.contains(&k.as_str()) && !extra.contains(k) {
                        extra.push(k.clone());
                    }
                }
            }
        }
        write!(d, "| case | expected | outcome | ok |")?;
        for k in &extra {
            write!(d, " {} |", k.replace('_', " "))?;
        }
        writeln!(d)?;
        write!(d, "|---|---|---|---|")?;
        for _ in &extra {
            write!(d, "---|")?;
        }
        writeln!(d)?;
        for r in rows {
            let ok = if r["as_expected"] == Value::Bool(true) {
                "yes"
            } else {
                "**NO**"
            };
            write!(
                d,
                "| {} | `{}` | `{}` | {ok} |",
                cell(&r["case"]),
                cell(&r["expected"]),
                cell(&r["outcome"])
            )?;
            for k in &extra {
                write!(d, " {} |", cell(r.get(k).unwrap_or(&Value::Null)))?;
            }
            writeln!(d)?;
        }
        writeln!(d)?;
    }

    writeln!(d, "## Fuzzing\n")?;
    writeln!(
        d,
        "cargo-fuzz (libFuzzer, AddressSanitizer, debug assertions) on stable rustc with \
         `RUSTC_BOOTSTRAP=1`; seeds in `fuzz/seeds/`, dictionaries in `fuzz/dicts/`.\n"
    )?;
    writeln!(
        d,
        "| target | seconds fuzzed | wall seconds | executions | exec/s | corpus | crashes |"
    )?;
    writeln!(d, "|---|---:|---:|---:|---:|---:|---:|")?;
    for r in fuzz_runs {
        writeln!(
            d,
            "| `{}` | {} | {} | {} | {} | {} | {} |",
            r.target,
            r.seconds,
            r.wall_secs,
            r.execs,
            r.execs / r.seconds.max(1),
            r.corpus,
            r.crashes.len()
        )?;
    }
    writeln!(d)?;
    Ok(d)
}
