//! The benchmarks `cargo xtask bench` runs (binary `portico-bench`): Portico against the web
//! bridge it replaces, and against its own limits. One run measures everything and writes
//! `target/bench/report.json` and `report.md`. Figures are medians with p99 and spread; targets
//! are reported against, never asserted. xtask builds what is measured and hands over the paths.
//!
//! 1. Broker core in process (criterion, crates/broker/benches/broker.rs): cache-hit
//!    `get_token` pinned to one core; single flight with 1 and 100 concurrent waiters.
//! 2. In the real webview (release build, WebKitGTK, driven by tauri-driver): the JS client's
//!    cache, `get_token` over IPC, the no-op `mfe_ping`, the seed's postMessage bridge, native
//!    fetch against the page's own; and the real auth0-spa-js in the same page against the
//!    dev-idp: its `getTokenSilently` cache hit against the client's, its refresh-token grant
//!    from the page against the shell's cache miss over IPC.
//! 3. Provider load (crates/broker/benches/provider_load.rs): 300 callers, 3 audiences.
//! 4. Start-up: warm start to "all three MFEs hold tokens" vs the same shell with auth disabled;
//!    sign-in callback to all tokens.
//! 5. Memory of the app's whole process tree during those start-ups.
//!
//! `--only broker,load,webview,startup` runs a subset; `--quick` fewer rounds (a smoke run);
//! `--publish` also writes the report to `docs/performance.md` and its summary into the
//! README's performance section (between the `bench:begin`/`bench:end` markers);
//! `--publish-last` publishes the last complete run again without measuring.

mod app;
mod report;
mod stats;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use serde_json::{json, Value};

use self::report::{markdown, publish, targets};
use self::stats::Stats;
use crate::e2e::error::E2eError;
use crate::machine::{utc_now, Commit, Machine};
use crate::process::ProcessError;

/// Why a part could not be measured.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{0}")]
    Usage(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{what}: {source}")]
    Json {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{what}: {source}")]
    Http {
        what: String,
        #[source]
        source: reqwest::Error,
    },
    #[error(transparent)]
    Process(#[from] ProcessError),
    #[error(transparent)]
    Harness(#[from] E2eError),
    #[error("scripted sign-in: {0}")]
    SignIn(#[from] crate::browser::BrowserError),
    /// A measurement that did not come out (an MFE reported an error, the app exited, ...).
    #[error("{0}")]
    Failed(String),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BenchError {
    let what = what.into();
    move |source| BenchError::Io { what, source }
}

fn json_err(what: impl Into<String>) -> impl FnOnce(serde_json::Error) -> BenchError {
    let what = what.into();
    move |source| BenchError::Json { what, source }
}

type Result<T, E = BenchError> = std::result::Result<T, E>;

/// What to measure, from the command line.
struct Plan {
    broker: bool,
    load: bool,
    webview: bool,
    startup: bool,
    quick: bool,
    publish: bool,
    publish_last: bool,
    /// `--soak-minutes N`: the soak instead of the benchmarks (`cargo xtask soak`).
    soak_minutes: Option<u64>,
}

/// What xtask built for this run, and where things go.
#[derive(Default)]
struct Inputs {
    root: PathBuf,
    /// The release app (`--features tauri/custom-protocol`).
    app: Option<PathBuf>,
    /// The release `portico-dev-idp`: the provider outlives app restarts in a process of its own.
    dev_idp: Option<PathBuf>,
    /// The broker's criterion benches.
    broker_bench: Option<PathBuf>,
    load_bench: Option<PathBuf>,
}

const USAGE: &str =
    "usage: portico-bench --root DIR [--app P --dev-idp P] [--broker-bench P --load-bench P] \
                     [--quick] [--publish | --publish-last] [--only broker,load,webview,startup] \
                     [--soak-minutes N]";

fn parse(args: &[String]) -> Result<(Plan, Inputs)> {
    let mut plan = Plan {
        broker: true,
        load: true,
        webview: true,
        startup: true,
        quick: false,
        publish: false,
        publish_last: false,
        soak_minutes: None,
    };
    let mut inputs = Inputs::default();
    let mut args = args.iter().filter(|a| *a != "--");
    let usage = |what: &str| BenchError::Usage(format!("{what}; {USAGE}"));
    while let Some(a) = args.next() {
        let mut value = || {
            args.next()
                .map(PathBuf::from)
                .ok_or_else(|| usage(&format!("{a} needs a value")))
        };
        match a.as_str() {
            "--quick" => plan.quick = true,
            "--publish" => plan.publish = true,
            "--publish-last" => plan.publish_last = true,
            "--root" => inputs.root = value()?,
            "--app" => inputs.app = Some(value()?),
            "--dev-idp" => inputs.dev_idp = Some(value()?),
            "--soak-minutes" => {
                let v = value()?;
                let n = v
                    .to_str()
                    .and_then(|t| t.parse::<u64>().ok())
                    .filter(|n| *n > 0)
                    .ok_or_else(|| usage("--soak-minutes needs a whole number of minutes"))?;
                plan.soak_minutes = Some(n);
            }
            "--broker-bench" => inputs.broker_bench = Some(value()?),
            "--load-bench" => inputs.load_bench = Some(value()?),
            "--only" => {
                let list = value()?;
                plan.broker = false;
                plan.load = false;
                plan.webview = false;
                plan.startup = false;
                for part in list.to_string_lossy().split(',') {
                    match part.trim() {
                        "broker" => plan.broker = true,
                        "load" => plan.load = true,
                        "webview" => plan.webview = true,
                        "startup" | "memory" => plan.startup = true,
                        other => {
                            return Err(usage(&format!(
                                "unknown part `{other}` (broker, load, webview, startup)"
                            )))
                        }
                    }
                }
            }
            other => return Err(usage(&format!("unknown argument `{other}`"))),
        }
    }
    if inputs.root.as_os_str().is_empty() {
        return Err(usage("--root is required"));
    }
    Ok((plan, inputs))
}

/// The binary's `main`.
pub async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("portico-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &[String]) -> Result<()> {
    let (plan, inputs) = parse(args)?;
    if let Some(minutes) = plan.soak_minutes {
        let out = inputs.root.join("target").join("soak");
        std::fs::create_dir_all(&out).map_err(io("create target/soak"))?;
        let _lock = RunLock::take(&out)?;
        let report = app::soak(minutes, plan.publish, &inputs, &out).await?;
        return soak_verdict(&report);
    }
    let out = inputs.root.join("target").join("bench");
    if plan.publish_last {
        // Publish the last complete run again (e.g. after a change to the README summary).
        let text = std::fs::read_to_string(out.join("report.json")).map_err(io(
            "no target/bench/report.json: run `cargo xtask bench` first",
        ))?;
        let report: Value = serde_json::from_str(&text).map_err(json_err("report.json"))?;
        let missing = ["broker", "provider_load", "webview", "startup", "memory"]
            .iter()
            .any(|part| report[*part].is_null());
        if missing
            || report["quick"] == json!(true)
            || report["errors"].as_array().is_some_and(|e| !e.is_empty())
        {
            return Err(BenchError::Failed(
                "the last run was not complete (--quick, --only, or parts not measured)".into(),
            ));
        }
        return publish(&inputs.root, &report, &markdown(&report));
    }
    std::fs::create_dir_all(out.join("logs")).map_err(io("create target/bench"))?;
    let _lock = RunLock::take(&out)?;
    let mut report = json!({
        "generated_by": "cargo xtask bench",
        "commit": Commit::of(&inputs.root).json(),
        "date": utc_now("+%Y-%m-%dT%H:%M:%SZ").unwrap_or_default(),
        "machine": Machine::detect().json(),
        "quick": plan.quick,
        "errors": [],
    });
    let mut errors: Vec<String> = Vec::new();

    if plan.broker || plan.load {
        match broker_benches(&plan, &inputs, &out) {
            Ok((broker, load)) => {
                report["broker"] = broker;
                report["provider_load"] = load;
            }
            Err(e) => errors.push(format!("broker benches: {e}")),
        }
    }
    if plan.webview || plan.startup {
        match app::in_app(&plan, &inputs, &out).await {
            Ok(v) => {
                for k in ["webview", "startup", "memory"] {
                    if !v[k].is_null() {
                        report[k] = v[k].clone();
                    }
                }
                if let Some(errs) = v["errors"].as_array() {
                    errors.extend(errs.iter().filter_map(|e| e.as_str().map(String::from)));
                }
            }
            Err(e) => errors.push(format!("app benchmarks: {e}")),
        }
    }
    report["errors"] = json!(errors);
    report["targets"] = targets(&report);
    let text = serde_json::to_string_pretty(&report).map_err(json_err("report.json"))?;
    std::fs::write(out.join("report.json"), text).map_err(io("write report.json"))?;
    let md = markdown(&report);
    std::fs::write(out.join("report.md"), &md).map_err(io("write report.md"))?;
    println!("\n{md}");
    println!(
        "bench: wrote {} and {}",
        out.join("report.json").display(),
        out.join("report.md").display()
    );
    if plan.publish {
        let partial = !(plan.broker && plan.load && plan.webview && plan.startup);
        if !errors.is_empty() || plan.quick || partial {
            return Err(BenchError::Failed(
                "--publish needs a complete, full run (no --quick, no --only, nothing unmeasured)"
                    .into(),
            ));
        }
        publish(&inputs.root, &report, &md)?;
    }
    if !errors.is_empty() {
        return Err(BenchError::Failed(format!(
            "{} part(s) could not be measured: {}",
            errors.len(),
            errors.join("; ")
        )));
    }
    Ok(())
}

/// One run at a time per output directory: a second one would delete the first one's work
/// directory (configurations, the browser script) under it.
struct RunLock(PathBuf);

impl RunLock {
    fn take(out: &Path) -> Result<RunLock> {
        let path = out.join("run.lock");
        let holder = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| t.trim().parse::<i32>().ok());
        // A lock left by a run that died is taken over.
        if let Some(pid) = holder.filter(|p| Path::new(&format!("/proc/{p}")).exists()) {
            if pid != std::process::id() as i32 {
                return Err(BenchError::Failed(format!(
                    "another run (pid {pid}) is using {}; wait for it to end",
                    out.display()
                )));
            }
        }
        std::fs::write(&path, std::process::id().to_string())
            .map_err(io(format!("write {}", path.display())))?;
        Ok(RunLock(path))
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A soak that could not run its length is an error; its figures are reported, not asserted.
fn soak_verdict(report: &Value) -> Result<()> {
    match report["app_exited_early"].as_str() {
        Some(status) => Err(BenchError::Failed(format!(
            "the app exited during the soak ({status}); see target/soak/logs"
        ))),
        None => Ok(()),
    }
}

/// Run a command to completion; it prints its own progress.
fn exec(cmd: &mut Command, what: &str) -> Result<()> {
    println!("bench: {what}");
    let status = cmd
        .status()
        .map_err(io(format!("could not start: {what}")))?;
    if !status.success() {
        return Err(BenchError::Failed(format!("{what} failed ({status})")));
    }
    Ok(())
}

fn needed(path: &Option<PathBuf>, flag: &str) -> Result<PathBuf> {
    path.clone()
        .ok_or_else(|| BenchError::Usage(format!("{flag} is required for this part; {USAGE}")))
}

// ---------------------------------------------------------------- parts 1 and 3

/// Per-iteration times (ns) of one criterion benchmark, one value per sample.
fn criterion_samples(home: &Path, id: &str) -> Result<Vec<f64>> {
    let path = home.join(id).join("new").join("sample.json");
    let text = std::fs::read_to_string(&path).map_err(io(format!("read {}", path.display())))?;
    let v: Value = serde_json::from_str(&text).map_err(json_err(path.display().to_string()))?;
    let missing = |k: &str| BenchError::Failed(format!("{}: no `{k}`", path.display()));
    let iters = v["iters"].as_array().ok_or_else(|| missing("iters"))?;
    let times = v["times"].as_array().ok_or_else(|| missing("times"))?;
    Ok(iters
        .iter()
        .zip(times)
        .filter_map(|(i, t)| Some(t.as_f64()? / i.as_f64()?))
        .collect())
}

fn broker_benches(plan: &Plan, inputs: &Inputs, out: &Path) -> Result<(Value, Value)> {
    let home = out.join("criterion");
    let mut quick: Vec<&str> = Vec::new();
    if plan.quick {
        quick.extend(["--warm-up-time", "1", "--measurement-time", "2"]);
    }
    let stats = |v: &[f64], what: &str| {
        Stats::of(v).ok_or_else(|| BenchError::Failed(format!("no {what} samples")))
    };
    let mut broker = Value::Null;
    if plan.broker {
        let bin = needed(&inputs.broker_bench, "--broker-bench")?;
        // One core: the last one, so the usual first-core noise (IRQs) hits it less.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let pin = (cores - 1).to_string();
        let pinned = Command::new("taskset").arg("--version").output().is_ok();
        let mut cmd = if pinned {
            let mut c = Command::new("taskset");
            c.args(["-c", &pin]).arg(&bin);
            c
        } else {
            Command::new(&bin)
        };
        cmd.args(["--bench", "cache_hit"]).args(&quick);
        cmd.env("CRITERION_HOME", &home)
            .env("PORTICO_BENCH_DIR", out);
        exec(&mut cmd, "criterion: cache-hit get_token on one core")?;
        let mut cmd = Command::new(&bin);
        cmd.args(["--bench", "single_flight"]).args(&quick);
        cmd.env("CRITERION_HOME", &home)
            .env("PORTICO_BENCH_DIR", out);
        exec(&mut cmd, "criterion: single flight, 1 and 100 waiters")?;

        let hit = criterion_samples(&home, "cache_hit/get_token")?;
        let one = criterion_samples(&home, "single_flight/waiters_1")?;
        let hundred = criterion_samples(&home, "single_flight/waiters_100")?;
        let us = |v: &[f64]| v.iter().map(|x| x / 1e3).collect::<Vec<f64>>();
        let hit_stats = stats(&hit, "cache-hit")?;
        let (one_s, hundred_s) = (
            stats(&us(&one), "single-flight")?,
            stats(&us(&hundred), "single-flight")?,
        );
        let requests: Value = std::fs::read_to_string(out.join("single_flight_requests.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null);
        broker = json!({
            "cache_hit_get_token": hit_stats.json("ns"),
            "cache_hit_pinned_to_core": pinned.then_some(pin),
            "cache_hit_throughput_per_s_one_core": 1e9 / hit_stats.p50,
            "single_flight": {
                "waiters_1": one_s.json("us"),
                "waiters_100": hundred_s.json("us"),
                "extra_cost_of_99_waiters_us_p50": hundred_s.p50 - one_s.p50,
                "ratio_100_over_1_p50": hundred_s.p50 / one_s.p50,
                "provider_requests": requests,
            },
            "note": "criterion samples: each value is the mean per-iteration time of one sample; p99 is over samples",
        });
    }
    let mut load = Value::Null;
    if plan.load {
        let bin = needed(&inputs.load_bench, "--load-bench")?;
        let mut cmd = Command::new(bin);
        cmd.arg("--bench").env("PORTICO_BENCH_DIR", out);
        exec(&mut cmd, "provider load: 300 callers over 3 audiences")?;
        let path = out.join("provider_load.json");
        let text =
            std::fs::read_to_string(&path).map_err(io(format!("read {}", path.display())))?;
        load = serde_json::from_str(&text).map_err(json_err("provider_load.json"))?;
    }
    Ok((broker, load))
}
