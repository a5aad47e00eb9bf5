//! `cargo xtask reliability [--fuzz-seconds N]`: runs the adversarial suites (issue 6) in the
//! headless session with `PORTICO_FIGURES` set, runs every fuzz target (a smoke run unless told
//! otherwise), and has portico-testkit's `figures` write `docs/reliability.md` from what the
//! tests and libFuzzer reported: cases tried, how each ended, requests counted, fuzz executions —
//! dated, with machine and commit. The document is generated, never typed; the sections that
//! `cargo xtask fuzz --publish` and `cargo xtask soak --publish` wrote between their markers
//! (`<!-- fuzz-long:begin -->`…, `<!-- soak:begin -->`…) are kept as they were.

use anyhow::{bail, Context, Result};
use portico_testkit::figures::{self, FuzzFigures, ReliabilityRun, SuiteRun};
use serde_json::Value;

use crate::fuzz;

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
            "adversarial_isolation",
            "adversarial_fetch",
        ],
    ),
    ("portico", &["ipc_acl"]),
    ("portico-e2e", &["crash_safety", "webviews", "deep_links"]),
];

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

    let session = crate::Session::start()?;
    let mut tests = Vec::new();
    let mut failed_packages = 0;
    for (package, binaries) in SUITES {
        let log_path = work.join(format!("{package}.log"));
        let log = std::fs::File::create(&log_path)?;
        let mut cmd = crate::cargo();
        cmd.args(["test", "-p", package, "--no-fail-fast"]);
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
        let (passed, failed) = figures::count_results(&text);
        failed_packages += usize::from(!status.success());
        tests.push(SuiteRun {
            package: package.to_string(),
            binaries: binaries.len(),
            passed,
            failed,
        });
    }
    drop(session);

    let all: Vec<String> = fuzz::TARGETS.iter().map(|t| t.name.to_string()).collect();
    let fuzz_runs = fuzz::run_targets(fuzz_seconds, &all)?;

    let found = figures::read(&figures_path);
    let run = ReliabilityRun {
        command: if fuzz_seconds == fuzz::SMOKE_SECS {
            "cargo xtask reliability".into()
        } else {
            format!("cargo xtask reliability --fuzz-seconds {fuzz_seconds}")
        },
        tests,
        fuzz: fuzz_runs
            .iter()
            .map(|r| FuzzFigures {
                target: r.target.clone(),
                seconds: r.seconds.unwrap_or(fuzz_seconds),
                wall_secs: r.wall_secs,
                execs: r.execs,
                corpus: r.corpus,
                crashes: r.crashes.len(),
            })
            .collect(),
        fuzz_seconds,
        sanitizer: format!("{:?}", fuzz::Sanitizer::for_run(fuzz_seconds)),
    };
    let out = crate::root().join("docs").join("reliability.md");
    // The long fuzz run and the soak publish their own sections: carry them over as they are.
    let previous = std::fs::read_to_string(&out).unwrap_or_default();
    std::fs::write(
        &out,
        figures::keep_blocks(
            &figures::reliability_report(&run, &found, &crate::root()),
            &previous,
        ),
    )?;
    println!("xtask: wrote {}", out.display());

    let unexpected = found
        .iter()
        .filter(|f| f["as_expected"] != Value::Bool(true))
        .count();
    let crashes: usize = fuzz_runs.iter().map(|r| r.crashes.len()).sum();
    if failed_packages > 0 || unexpected > 0 || crashes > 0 {
        bail!(
            "reliability run failed: {failed_packages} test package(s) failed, {unexpected} case(s) not as expected, {crashes} fuzz crash(es)"
        );
    }
    Ok(())
}
