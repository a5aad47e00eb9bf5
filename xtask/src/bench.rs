//! `cargo xtask bench`: Portico against the web bridge it replaces, and against its own limits.
//! One run measures everything and writes `target/bench/report.json` and `report.md`. Figures
//! are medians with p99 and spread; targets are reported against, never asserted.
//!
//! 1. Broker core in process (criterion, crates/broker/benches/broker.rs): cache-hit
//!    `get_token` pinned to one core; single flight with 1 and 100 concurrent waiters.
//! 2. In the real webview (release build, WebKitGTK, driven by tauri-driver): the JS client's
//!    cache, `get_token` over IPC, the no-op `mfe_ping`, and the seed's postMessage bridge.
//! 3. Provider load (crates/broker/benches/provider_load.rs): 300 callers, 3 audiences.
//! 4. Start-up: warm start to "all three MFEs hold tokens" vs the same shell with auth disabled;
//!    sign-in callback to all tokens.
//! 5. Memory of the app's whole process tree during those start-ups.
//!
//! `--only broker,load,webview,startup` runs a subset; `--quick` fewer rounds (a smoke run);
//! `--publish` also writes the report to `docs/performance.md` and its summary into the
//! README's performance section (between the `bench:begin`/`bench:end` markers);
//! `--publish-last` publishes the last complete run again without measuring.

#[path = "bench_app.rs"]
mod app;
#[path = "bench_http.rs"]
mod http;
#[path = "bench_stats.rs"]
mod stats;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use self::app::{AppRun, WebDriver};
use self::http::{ReadyListener, StaticSite};
use self::stats::{cell, fmt, stats_json, Stats};
use crate::session::HeadlessSession;
use crate::{exec, root, setup, target_dir};

const BILLING: &str = "https://api.portico.dev/billing";
const CORE: &str = "https://api.portico.dev/core";
const ANALYTICS: &str = "https://api.portico.dev/analytics";
const STARTUP_MFES: [&str; 3] = ["billing", "dashboard", "analytics"];

struct Plan {
    broker: bool,
    load: bool,
    webview: bool,
    startup: bool,
    quick: bool,
    publish: bool,
}

impl Plan {
    fn parse(rest: &[String]) -> Result<Plan> {
        let mut plan = Plan {
            broker: true,
            load: true,
            webview: true,
            startup: true,
            quick: false,
            publish: false,
        };
        let mut args = rest.iter().filter(|a| *a != "--");
        while let Some(a) = args.next() {
            match a.as_str() {
                "--quick" => plan.quick = true,
                "--publish" => plan.publish = true,
                "--only" => {
                    let list = args.next().context("--only needs a list")?;
                    plan.broker = false;
                    plan.load = false;
                    plan.webview = false;
                    plan.startup = false;
                    for part in list.split(',') {
                        match part.trim() {
                            "broker" => plan.broker = true,
                            "load" => plan.load = true,
                            "webview" => plan.webview = true,
                            "startup" | "memory" => plan.startup = true,
                            other => bail!("unknown part `{other}` (broker, load, webview, startup)"),
                        }
                    }
                }
                other => bail!(
                    "unknown argument `{other}`; usage: cargo xtask bench [--quick] [--publish] [--only broker,load,webview,startup]"
                ),
            }
        }
        Ok(plan)
    }
}

pub fn run(rest: &[String]) -> Result<()> {
    let out = root().join("target").join("bench");
    if rest.iter().any(|a| a == "--publish-last") {
        // Publish the last complete run again (e.g. after a change to the README summary).
        let report: Value = serde_json::from_str(
            &std::fs::read_to_string(out.join("report.json"))
                .context("no target/bench/report.json: run `cargo xtask bench` first")?,
        )?;
        let missing = ["broker", "provider_load", "webview", "startup", "memory"]
            .iter()
            .any(|part| report[*part].is_null());
        if missing
            || report["quick"] == json!(true)
            || report["errors"].as_array().is_some_and(|e| !e.is_empty())
        {
            bail!("the last run was not complete (--quick, --only, or parts not measured)");
        }
        return publish(&report, &markdown(&report));
    }
    let plan = Plan::parse(rest)?;
    std::fs::create_dir_all(out.join("logs")).context("create target/bench")?;
    let mut report = json!({
        "generated_by": "cargo xtask bench",
        "commit": commit(),
        "date": date(),
        "machine": machine(),
        "quick": plan.quick,
        "errors": [],
    });
    let mut errors: Vec<String> = Vec::new();
    if plan.webview || plan.startup {
        setup::ensure(setup::Purpose::Test)?;
    }

    if plan.broker || plan.load {
        match broker_benches(&plan, &out) {
            Ok((broker, load)) => {
                report["broker"] = broker;
                report["provider_load"] = load;
            }
            Err(e) => errors.push(format!("broker benches: {e:#}")),
        }
    }
    if plan.webview || plan.startup {
        match in_app(&plan, &out) {
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
            Err(e) => errors.push(format!("app benchmarks: {e:#}")),
        }
    }
    report["errors"] = json!(errors);
    report["targets"] = targets(&report);
    std::fs::write(
        out.join("report.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    let md = markdown(&report);
    std::fs::write(out.join("report.md"), &md)?;
    println!("\n{md}");
    println!(
        "xtask: wrote {} and {}",
        out.join("report.json").display(),
        out.join("report.md").display()
    );
    if plan.publish {
        let partial = !(plan.broker && plan.load && plan.webview && plan.startup);
        if !errors.is_empty() || plan.quick || partial {
            bail!(
                "--publish needs a complete, full run (no --quick, no --only, nothing unmeasured)"
            );
        }
        publish(&report, &md)?;
    }
    if !errors.is_empty() {
        bail!(
            "{} part(s) could not be measured: {}",
            errors.len(),
            errors.join("; ")
        );
    }
    Ok(())
}

// ---------------------------------------------------------------- publish

const README_BEGIN: &str = "<!-- bench:begin";
const README_END: &str = "<!-- bench:end -->";

/// Writes the report to docs/performance.md and its summary into the README, so the figures
/// there are always copied from a run, never typed.
fn publish(report: &Value, md: &str) -> Result<()> {
    let docs = root().join("docs").join("performance.md");
    std::fs::write(&docs, md).with_context(|| format!("write {}", docs.display()))?;
    let readme_path = root().join("README.md");
    let readme = std::fs::read_to_string(&readme_path).context("read README.md")?;
    let (Some(begin), Some(end)) = (readme.find(README_BEGIN), readme.find(README_END)) else {
        bail!("README.md has no `{README_BEGIN} ... {README_END}` block to fill");
    };
    let mut block =
        format!("{README_BEGIN} (written by `cargo xtask bench --publish`; do not edit) -->\n");
    let m = &report["machine"];
    block.push_str(&format!(
        "Measured {} at commit `{}` on {} · {} cores · WebKitGTK {}. Medians (p50) of the full \
         run; the [full report](docs/performance.md) has p99 and spread for every figure.\n\n",
        report["date"].as_str().unwrap_or("?"),
        report["commit"]["hash"]
            .as_str()
            .map(|h| &h[..h.len().min(10)])
            .unwrap_or("?"),
        m["cpu"].as_str().unwrap_or("?"),
        m["cores"],
        m["webkitgtk"].as_str().unwrap_or("?"),
    ));
    let p50 = |v: &Value| v["p50"].as_f64().map_or("–".to_string(), fmt);
    let w = &report["webview"]["cases"];
    let case = |name: &str| p50(&w[name]["per_call_ms_batch_means"]);
    let st = &report["startup"];
    let mem = &report["memory"];
    let mib = |v: &Value| {
        v["p50"]
            .as_f64()
            .map_or("–".to_string(), |kb| fmt(kb / 1024.0))
    };
    block.push_str(&format!(
        "- Broker, in process: a cached `get_token` takes {} ns on one core.\n\
         - In the webview, per call: JS client cache hit {} ms · `get_token` over IPC {} ms · \
         no-op IPC {} ms · the seed's `postMessage` bridge {} ms.\n\
         - Warm start to three MFEs holding tokens {} ms (same shell without auth: {} ms); \
         sign-in callback to all three tokens {} ms.\n\
         - Memory of the app with its WebKit processes: {} MiB steady with auth, {} MiB without.\n\n",
        p50(&report["broker"]["cache_hit_get_token"]),
        case("a_client_cache"),
        case("b_ipc_get_token"),
        case("c_ipc_ping"),
        case("d_web_bridge"),
        p50(&st["warm_start_auth_on_ms"]),
        p50(&st["start_auth_off_ms"]),
        p50(&st["login_callback_to_all_tokens"]["ms"]),
        mib(&mem["auth_on"]["steady_rss_kb"]),
        mib(&mem["auth_off"]["steady_rss_kb"]),
    ));
    block.push_str("| target | goal | measured | met |\n|---|---|---|---|\n");
    for t in report["targets"].as_array().into_iter().flatten() {
        block.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            t["name"].as_str().unwrap_or("?"),
            t["target"].as_str().unwrap_or("?"),
            t["measured"].as_f64().map_or("not measured".into(), fmt),
            match t["met"].as_bool() {
                Some(true) => "yes".to_string(),
                Some(false) => format!("no ({})", t["by"].as_str().unwrap_or("")),
                None => "–".to_string(),
            },
        ));
    }
    block.push_str(README_END);
    let updated = format!(
        "{}{}{}",
        &readme[..begin],
        block,
        &readme[end + README_END.len()..]
    );
    std::fs::write(&readme_path, updated).context("write README.md")?;
    println!("xtask: published to {} and README.md", docs.display());
    Ok(())
}

// ---------------------------------------------------------------- machine

fn capture(cmd: &mut Command) -> Option<String> {
    let out = cmd.stderr(Stdio::null()).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn commit() -> Value {
    let hash = capture(
        Command::new("git")
            .args(["rev-parse", "HEAD"])
            .current_dir(root()),
    );
    let dirty = capture(
        Command::new("git")
            .args(["status", "--porcelain", "--untracked-files=no"])
            .current_dir(root()),
    )
    .map(|s| !s.is_empty());
    json!({ "hash": hash, "dirty_worktree": dirty })
}

fn date() -> String {
    capture(Command::new("date").args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])).unwrap_or_default()
}

fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string());
    let mem_kb = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        m.lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
    });
    json!({
        "cpu": cpu,
        "cores": std::thread::available_parallelism().map(|n| n.get()).ok(),
        "memory_mib": mem_kb.map(|k| k / 1024),
        "kernel": capture(Command::new("uname").arg("-r")),
        "rustc": capture(Command::new("rustc").arg("--version")),
        "webkitgtk": capture(Command::new("dpkg-query").args(["-W", "-f=${Version}", "libwebkit2gtk-4.1-0"])),
        "load_average_at_start": std::fs::read_to_string("/proc/loadavg").ok().map(|s| s.trim().to_string()),
    })
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

// ---------------------------------------------------------------- parts 1 and 3

/// Build the broker's bench targets, return their executables by name.
fn bench_executables() -> Result<Vec<(String, PathBuf)>> {
    println!("xtask: build the broker benchmarks (release profile)");
    let out = cargo()
        .args([
            "bench",
            "-p",
            "portico-broker",
            "--no-run",
            "--message-format=json-render-diagnostics",
        ])
        .stderr(Stdio::inherit())
        .output()
        .context("cargo bench --no-run")?;
    if !out.status.success() {
        bail!("building the broker benchmarks failed");
    }
    let mut exes = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if v["reason"] == "compiler-artifact"
            && v["target"]["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|x| x == "bench"))
        {
            if let (Some(name), Some(exe)) =
                (v["target"]["name"].as_str(), v["executable"].as_str())
            {
                exes.push((name.to_string(), PathBuf::from(exe)));
            }
        }
    }
    Ok(exes)
}

fn exe<'a>(exes: &'a [(String, PathBuf)], name: &str) -> Result<&'a PathBuf> {
    exes.iter()
        .find(|(n, _)| n == name)
        .map(|(_, p)| p)
        .with_context(|| format!("no bench executable `{name}`"))
}

/// Per-iteration times (ns) of one criterion benchmark, one value per sample.
fn criterion_samples(home: &Path, id: &str) -> Result<Vec<f64>> {
    let path = home.join(id).join("new").join("sample.json");
    let v: Value = serde_json::from_str(
        &std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?,
    )?;
    let iters = v["iters"].as_array().context("sample.json: iters")?;
    let times = v["times"].as_array().context("sample.json: times")?;
    Ok(iters
        .iter()
        .zip(times)
        .filter_map(|(i, t)| Some(t.as_f64()? / i.as_f64()?))
        .collect())
}

fn broker_benches(plan: &Plan, out: &Path) -> Result<(Value, Value)> {
    let exes = bench_executables()?;
    let home = out.join("criterion");
    let mut quick: Vec<&str> = Vec::new();
    if plan.quick {
        quick.extend(["--warm-up-time", "1", "--measurement-time", "2"]);
    }
    let mut broker = Value::Null;
    if plan.broker {
        let bin = exe(&exes, "broker")?;
        // One core: the last one, so the usual first-core noise (IRQs) hits it less.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let pin = (cores - 1).to_string();
        let pinned = Command::new("taskset").arg("--version").output().is_ok();
        let mut cmd = if pinned {
            let mut c = Command::new("taskset");
            c.args(["-c", &pin]).arg(bin);
            c
        } else {
            Command::new(bin)
        };
        cmd.args(["--bench", "cache_hit"]).args(&quick);
        cmd.env("CRITERION_HOME", &home)
            .env("PORTICO_BENCH_DIR", out);
        exec(&mut cmd, "criterion: cache-hit get_token on one core")?;
        let mut cmd = Command::new(bin);
        cmd.args(["--bench", "single_flight"]).args(&quick);
        cmd.env("CRITERION_HOME", &home)
            .env("PORTICO_BENCH_DIR", out);
        exec(&mut cmd, "criterion: single flight, 1 and 100 waiters")?;

        let hit = criterion_samples(&home, "cache_hit/get_token")?;
        let one = criterion_samples(&home, "single_flight/waiters_1")?;
        let hundred = criterion_samples(&home, "single_flight/waiters_100")?;
        let us = |v: &[f64]| v.iter().map(|x| x / 1e3).collect::<Vec<f64>>();
        let hit_stats = Stats::of(&hit).context("no cache-hit samples")?;
        let (one_s, hundred_s) = (
            Stats::of(&us(&one)).context("no samples")?,
            Stats::of(&us(&hundred)).context("no samples")?,
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
        let bin = exe(&exes, "provider_load")?;
        let mut cmd = Command::new(bin);
        cmd.arg("--bench").env("PORTICO_BENCH_DIR", out);
        exec(&mut cmd, "provider load: 300 callers over 3 audiences")?;
        load = serde_json::from_str(&std::fs::read_to_string(out.join("provider_load.json"))?)?;
    }
    Ok((broker, load))
}

// ---------------------------------------------------------------- parts 2, 4, 5

struct Ctx<'a> {
    session: &'a HeadlessSession,
    app: PathBuf,
    work: PathBuf,
    logs: PathBuf,
    issuer: String,
    listener: ReadyListener,
    browser: PathBuf,
    url_file: PathBuf,
}

impl Ctx<'_> {
    fn provider(&self) -> Value {
        json!({
            "issuer": self.issuer,
            "clientId": "portico-desktop",
            "dialect": "auth0",
            "redirect": "dev.portico.app:/callback",
            "defaultAudience": CORE,
            "scopes": ["openid", "profile", "email", "offline_access"],
        })
    }

    /// The three start-up MFEs: same page, each on its own origin with its own audience.
    fn startup_config(&self, name: &str, auth: bool, sign_in: bool) -> Result<PathBuf> {
        let mfe = |id: &str, title: &str, aud: &str, scopes: &[&str], first: bool| {
            json!({
                "id": id, "title": title,
                "source": { "bundled": "bench/mfe" },
                "audiences": [aud], "scopes": scopes,
                "settings": { "auth": auth, "signIn": sign_in && first, "report": self.listener.url },
            })
        };
        let config = json!({
            "provider": self.provider(),
            "mfes": [
                mfe("billing", "Billing", BILLING, &["read:invoices", "write:invoices"], true),
                mfe("dashboard", "Dashboard", CORE, &["read:dashboard"], false),
                mfe("analytics", "Analytics", ANALYTICS, &["read:reports", "export:reports"], false),
            ],
        });
        let path = self.work.join(format!("{name}.json"));
        std::fs::write(&path, serde_json::to_string_pretty(&config)?)?;
        Ok(path)
    }

    /// Part 2's MFE is served by the bench itself (not bundled): the shell pins every MFE
    /// webview, iframes included, to the MFE's registered origins, and only a URL-sourced MFE
    /// can list a second origin, the one the web bridge's iframe needs.
    fn micro_config(&self, page: &StaticSite, frame: &StaticSite) -> Result<PathBuf> {
        let config = json!({
            "provider": self.provider(),
            "mfes": [
                { "id": "bench", "title": "Bench", "source": { "url": format!("{}/", page.origin) },
                  "origins": [frame.origin],
                  "audiences": [BILLING], "scopes": ["read:invoices", "write:invoices"] },
                // The provider's login audience must belong to some MFE: an idle one has it.
                { "id": "idle", "title": "Idle", "source": { "bundled": "bench/frame" },
                  "audiences": [CORE], "scopes": ["read:dashboard"] },
            ],
        });
        let path = self.work.join("micro.json");
        std::fs::write(&path, serde_json::to_string_pretty(&config)?)?;
        Ok(path)
    }

    fn env(&self, config: &Path, keyring_service: &str) -> Vec<(String, String)> {
        vec![
            (
                "PORTICO_CONFIG".into(),
                config.to_string_lossy().into_owned(),
            ),
            ("PORTICO_KEYRING_SERVICE".into(), keyring_service.into()),
            (
                "PORTICO_BROWSER".into(),
                self.browser.to_string_lossy().into_owned(),
            ),
            ("PORTICO_LOG".into(), "warn".into()),
        ]
    }

    fn counters(&self) -> Value {
        http::get_json(&format!("{}__admin/counters", self.issuer)).unwrap_or(Value::Null)
    }
}

fn counter_delta(before: &Value, after: &Value, key: &str) -> Option<u64> {
    Some(after[key].as_u64()? - before[key].as_u64()?)
}

fn in_app(plan: &Plan, out: &Path) -> Result<Value> {
    exec(
        cargo().args([
            "build",
            "--release",
            "-p",
            "portico",
            "--features",
            "tauri/custom-protocol",
        ]),
        "build the release app (WebKitGTK, bundled pages embedded)",
    )?;
    exec(
        cargo().args(["build", "--release", "-p", "portico-dev-idp"]),
        "build the development provider",
    )?;
    let app = target_dir().join("release").join("portico");
    let idp_bin = target_dir().join("release").join("portico-dev-idp");
    let session = HeadlessSession::start()?;
    let work = out.join("work");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let logs = out.join("logs");

    // The provider outlives app restarts (a refresh token must stay valid across them).
    let mut idp = Command::new(&idp_bin)
        .arg("--admin")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(logs.join("dev-idp.log"))?)
        .spawn()
        .context("start the dev-idp")?;
    let issuer = {
        use std::io::BufRead;
        let stdout = idp.stdout.take().context("dev-idp stdout")?;
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line)?;
        let v: Value = serde_json::from_str(&line).context("dev-idp start line")?;
        v["issuer"].as_str().context("dev-idp issuer")?.to_string()
    };
    let url_file = work.join("browser-urls.txt");
    let ctx = Ctx {
        session: &session,
        browser: app::write_browser_script(&work, &url_file)?,
        url_file,
        app,
        work,
        logs,
        issuer,
        listener: ReadyListener::start()?,
    };
    let result = app_parts(plan, &ctx);
    let _ = idp.kill();
    let _ = idp.wait();
    drop(session);
    result
}

fn app_parts(plan: &Plan, ctx: &Ctx) -> Result<Value> {
    let mut out = json!({ "errors": [] });
    let mut errors = Vec::new();
    // A sign-in is needed by both: the warm start and part 2 use the session it leaves in the keyring.
    let keyring_on = match login_runs(plan, ctx) {
        Ok((figures, service)) => {
            out["startup"]["login_callback_to_all_tokens"] = figures;
            service
        }
        Err(e) => bail!("sign-in (needed by every app benchmark) failed: {e:#}"),
    };
    if plan.startup {
        match startup_runs(plan, ctx, &keyring_on) {
            Ok((startup, memory)) => {
                for (k, v) in startup.as_object().into_iter().flatten() {
                    out["startup"][k] = v.clone();
                }
                out["memory"] = memory;
            }
            Err(e) => errors.push(format!("start-up/memory: {e:#}")),
        }
    }
    if plan.webview {
        match webview_micro(plan, ctx, &keyring_on) {
            Ok(v) => out["webview"] = v,
            Err(e) => errors.push(format!("webview: {e:#}")),
        }
    }
    out["errors"] = json!(errors);
    Ok(out)
}

/// Part 4b: the app waits signed out; billing asks the shell to sign in; the scripted browser
/// signs in; the bench delivers the callback as Linux does (a second instance with the URL) and
/// times until all three MFEs report a token.
fn login_runs(plan: &Plan, ctx: &Ctx) -> Result<(Value, String)> {
    let rounds = if plan.quick { 1 } else { 3 };
    let config = ctx.startup_config("login", true, true)?;
    let mut page_ms = Vec::new();
    let mut arrival_ms = Vec::new();
    let mut requests = Vec::new();
    let mut service = String::new();
    for i in 0..rounds {
        service = format!("portico-bench-login-{i}-{}", std::process::id());
        let _ = std::fs::remove_file(&ctx.url_file);
        ctx.listener.clear();
        let env = ctx.env(&config, &service);
        let run = AppRun::launch(
            app::app_command(&ctx.app, ctx.session, &env),
            &ctx.logs.join(format!("login-{i}.log")),
        )?;
        let result = (|| -> Result<()> {
            let callback = app::sign_in_from(&ctx.url_file, Duration::from_secs(60))?;
            let before = ctx.counters();
            let t0 = Instant::now();
            let t0_unix = app::unix_ms_now();
            let mut second = app::app_command(&ctx.app, ctx.session, &env);
            second
                .arg(&callback)
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            let mut second = second.spawn().context("deliver the callback")?;
            let reports = ctx
                .listener
                .wait_for(&STARTUP_MFES, Duration::from_secs(60))?;
            let _ = second.wait();
            if let Some(bad) = reports.iter().find(|r| r.what != "token") {
                bail!("MFE {} reported {}", bad.mfe, bad.what);
            }
            let last_page = reports
                .iter()
                .map(|r| r.at_unix_ms)
                .fold(f64::MIN, f64::max);
            let last_arrival = reports.iter().map(|r| r.arrived).max().unwrap_or(t0);
            page_ms.push(last_page - t0_unix);
            arrival_ms.push(last_arrival.duration_since(t0).as_secs_f64() * 1e3);
            let after = ctx.counters();
            requests.push(json!({
                "authorization_code": counter_delta(&before, &after, "token_authorization_code"),
                "refresh": counter_delta(&before, &after, "token_refresh"),
            }));
            Ok(())
        })();
        run.stop();
        result.with_context(|| format!("sign-in round {i}"))?;
    }
    Ok((
        json!({
            "ms": stats_json(&page_ms, "ms"),
            // In round order: an outlier's round shows whether it is a first-run effect.
            "ms_each_round": page_ms,
            "ms_by_report_arrival": stats_json(&arrival_ms, "ms"),
            "token_endpoint_requests_per_round": requests,
            "what": "from starting the second instance with the callback URL (how Linux delivers a deep link) to the last of three MFEs holding its token",
        }),
        service,
    ))
}

/// Parts 4a and 5: alternate warm starts with auth on and off; sample the process tree's memory
/// all along.
fn startup_runs(plan: &Plan, ctx: &Ctx, keyring_on: &str) -> Result<(Value, Value)> {
    let rounds = if plan.quick { 2 } else { 7 };
    let on = ctx.startup_config("startup-on", true, false)?;
    let off = ctx.startup_config("startup-off", false, false)?;
    // Never signed in: the shell finds nothing in the keyring and asks the provider nothing.
    let keyring_off = format!("portico-bench-off-{}", std::process::id());
    #[derive(Default)]
    struct Series {
        ready_ms: Vec<f64>,
        peak_kb: Vec<f64>,
        steady_kb: Vec<f64>,
        hwm_sum_kb: Vec<f64>,
        requests: Vec<Value>,
        processes: Value,
    }
    let mut series = [Series::default(), Series::default()];
    // Round 0 warms the page cache and is not counted.
    for round in 0..=rounds {
        for (k, auth) in [true, false].into_iter().enumerate() {
            let (config, service) = if auth {
                (&on, keyring_on)
            } else {
                (&off, keyring_off.as_str())
            };
            let mode = if auth { "on" } else { "off" };
            // The machine is shared: an app that could not start (display or bus gone for a
            // moment) gets one more try; a second failure ends the part.
            let mut attempt = 0;
            let (before, m) = loop {
                ctx.listener.clear();
                let before = ctx.counters();
                let mut run = AppRun::launch(
                    app::app_command(&ctx.app, ctx.session, &ctx.env(config, service)),
                    &ctx.logs
                        .join(format!("startup-{mode}-{round}-{attempt}.log")),
                )?;
                let measured = measure_startup(ctx, &mut run);
                run.stop();
                match measured {
                    Ok(m) => break (before, m),
                    Err(e) if attempt == 0 => {
                        println!(
                            "xtask: start-up round {round} (auth {mode}) failed, retrying: {e:#}"
                        );
                        attempt += 1;
                    }
                    Err(e) => {
                        return Err(e.context(format!("start-up round {round} with auth {mode}")))
                    }
                }
            };
            if let Some(bad) = m
                .reports_what
                .iter()
                .find(|w| *w != if auth { "token" } else { "shown" })
            {
                bail!("an MFE reported `{bad}` in a start-up with auth {auth}");
            }
            if round == 0 {
                continue;
            }
            let after = ctx.counters();
            let s = &mut series[k];
            s.ready_ms.push(m.ready_ms);
            s.peak_kb.push(m.peak_kb);
            s.steady_kb.push(m.steady_kb);
            s.hwm_sum_kb.push(m.hwm_sum_kb);
            s.requests.push(json!({
                "refresh": counter_delta(&before, &after, "token_refresh"),
                "reuse_detections": counter_delta(&before, &after, "reuse_detections"),
            }));
            s.processes = m.processes;
        }
    }
    let ratio = |a: &[f64], b: &[f64]| -> f64 {
        match (Stats::of(a), Stats::of(b)) {
            (Some(a), Some(b)) => a.p50 / b.p50,
            _ => f64::NAN,
        }
    };
    let min = |v: &[f64]| Stats::of(v).map_or(f64::NAN, |s| s.min);
    let [on_s, off_s] = &series;
    let startup = json!({
        "warm_start_auth_on_ms": stats_json(&on_s.ready_ms, "ms"),
        "start_auth_off_ms": stats_json(&off_s.ready_ms, "ms"),
        "ratio_on_over_off_p50": ratio(&on_s.ready_ms, &off_s.ready_ms),
        // Least disturbed runs: on a shared machine the minimum is the steadier comparison.
        "ratio_on_over_off_min": min(&on_s.ready_ms) / min(&off_s.ready_ms),
        "warm_start_token_endpoint_requests": on_s.requests,
        "auth_off_token_endpoint_requests": off_s.requests,
        "rounds": rounds,
        "what": "from spawning the app to the last of three MFEs reporting (auth on: holding its token after the keyring restore; auth off: shown)",
        "auth_off_means": "the same shell binary, pages and three MFE origins; the keyring holds no session (the shell looks once, finds none, asks the provider nothing) and the MFEs are told by their registry settings (`settings.auth = false`) not to ask for tokens",
    });
    let memory = json!({
        "auth_on": {
            "peak_rss_kb": stats_json(&on_s.peak_kb, "kB"),
            "steady_rss_kb": stats_json(&on_s.steady_kb, "kB"),
            "sum_of_vmhwm_kb": stats_json(&on_s.hwm_sum_kb, "kB"),
            "processes_last_round": on_s.processes,
        },
        "auth_off": {
            "peak_rss_kb": stats_json(&off_s.peak_kb, "kB"),
            "steady_rss_kb": stats_json(&off_s.steady_kb, "kB"),
            "sum_of_vmhwm_kb": stats_json(&off_s.hwm_sum_kb, "kB"),
            "processes_last_round": off_s.processes,
        },
        "ratio_steady_on_over_off_p50": ratio(&on_s.steady_kb, &off_s.steady_kb),
        "ratio_peak_on_over_off_p50": ratio(&on_s.peak_kb, &off_s.peak_kb),
        "what": "sum over the app's process tree (the app and its WebKit processes) of /proc/<pid>/status VmRSS, sampled every 20 ms from spawn: peak = highest sum; steady = median of sums 3-5 s after all MFEs reported; sum_of_vmhwm = per-process peaks added up at the end",
    });
    Ok((startup, memory))
}

struct StartupMeasure {
    ready_ms: f64,
    reports_what: Vec<String>,
    peak_kb: f64,
    steady_kb: f64,
    hwm_sum_kb: f64,
    processes: Value,
}

fn measure_startup(ctx: &Ctx, run: &mut AppRun) -> Result<StartupMeasure> {
    let limit = Duration::from_secs(90);
    let mut peak = 0u64;
    let ready_at: Instant;
    let reports = loop {
        let m = app::sample_memory(run.pid());
        peak = peak.max(m.rss_kb);
        let all = ctx.listener.reports();
        if STARTUP_MFES
            .iter()
            .all(|id| all.iter().any(|r| r.mfe == *id))
        {
            ready_at = Instant::now();
            break all;
        }
        if let Ok(Some(status)) = run.child.try_wait() {
            bail!("the app exited before its MFEs reported ({status})");
        }
        if run.started.elapsed() > limit {
            bail!("MFEs did not all report within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let firsts: Vec<&http::Report> = STARTUP_MFES
        .iter()
        .filter_map(|id| reports.iter().find(|r| r.mfe == *id))
        .collect();
    let last = firsts.iter().map(|r| r.at_unix_ms).fold(f64::MIN, f64::max);
    let mut steady = Vec::new();
    let mut last_sample = app::MemSample::default();
    while ready_at.elapsed() < Duration::from_secs(5) {
        let m = app::sample_memory(run.pid());
        peak = peak.max(m.rss_kb);
        if ready_at.elapsed() >= Duration::from_secs(3) {
            steady.push(m.rss_kb as f64);
        }
        last_sample = m;
        std::thread::sleep(Duration::from_millis(20));
    }
    let processes: Value = last_sample
        .by_name
        .iter()
        .map(|(name, (count, rss, hwm))| {
            (
                name.clone(),
                json!({ "count": count, "rss_kb": rss, "vmhwm_kb": hwm }),
            )
        })
        .collect::<serde_json::Map<String, Value>>()
        .into();
    Ok(StartupMeasure {
        ready_ms: last - run.started_unix_ms,
        reports_what: firsts.iter().map(|r| r.what.clone()).collect(),
        peak_kb: peak as f64,
        steady_kb: Stats::of(&steady).map_or(f64::NAN, |s| s.p50),
        hwm_sum_kb: last_sample.hwm_kb as f64,
        processes,
    })
}

const RUN_SCRIPT: &str = r#"
const done = arguments[arguments.length - 1];
window.porticoBench.run(arguments[0]).then(done, (e) => done({ error: String((e && (e.message || e.kind)) || e) }));
"#;

const NATIVE_TOKEN_SCRIPT: &str = r#"
const done = arguments[arguments.length - 1];
window.__TAURI_INTERNALS__.invoke("mfe_context")
  .then((c) => window.__TAURI_INTERNALS__.invoke("get_token", { audience: c.audiences[0] }))
  .then(() => done(true), (e) => done((e && e.kind) || String(e)));
"#;

/// Part 2: one page, one run, four ways to a token, timed by performance.now() in the page.
fn webview_micro(plan: &Plan, ctx: &Ctx, keyring_on: &str) -> Result<Value> {
    let web = root().join("ui").join("web");
    let client_js = web.join("_portico").join("client.js");
    let page = StaticSite::start(web.join("bench").join("page"), client_js.clone())?;
    let frame = StaticSite::start(web.join("bench").join("frame"), client_js)?;
    let config = ctx.micro_config(&page, &frame)?;
    let driver_bin = setup::cargo_bin("tauri-driver");
    let wd = WebDriver::start(
        &driver_bin,
        &ctx.app,
        ctx.session,
        &ctx.env(&config, keyring_on),
        &ctx.logs.join("webview.log"),
    )?;
    let (bench_view, _) = wd.find_view(
        "return (window.porticoBench && document.getElementById('status').textContent === 'ready') ? location.origin : null;",
        Duration::from_secs(60),
    )?;
    let frame_origin = frame.origin.clone();
    wd.switch(&bench_view)?;
    // The session is restored from the keyring at start; wait for the native cache to hold a token.
    let start = Instant::now();
    loop {
        let v = wd.execute_async(NATIVE_TOKEN_SCRIPT, json!([]))?;
        if v == json!(true) {
            break;
        }
        if start.elapsed() > Duration::from_secs(60) {
            bail!("the bench MFE got no token from the shell: {v}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let (rounds, warmup) = if plan.quick { (10, 2) } else { (100, 10) };
    // The page's clock ticks in whole milliseconds (WebKit coarsens performance.now()), so each
    // sample is a batch long enough to span tens of ticks.
    let batch = json!({ "a_client_cache": 20000, "b_ipc_get_token": 50, "c_ipc_ping": 50,
        "d_web_bridge": 200, "e_ipc_context": 50 });
    let result = wd.execute_async(
        RUN_SCRIPT,
        json!([{ "rounds": rounds, "warmup": warmup, "batch": batch, "frameOrigin": frame_origin }]),
    )?;
    let app_pid = wd.app_pid();
    drop(wd);
    if let Some(e) = result.get("error") {
        bail!("the bench page failed: {e}");
    }
    let mut cases = serde_json::Map::new();
    for name in [
        "a_client_cache",
        "b_ipc_get_token",
        "c_ipc_ping",
        "d_web_bridge",
        "e_ipc_context",
    ] {
        let c = &result["cases"][name];
        let nums = |v: &Value| -> Vec<f64> {
            v.as_array()
                .map(|a| a.iter().filter_map(Value::as_f64).collect())
                .unwrap_or_default()
        };
        cases.insert(
            name.into(),
            json!({
                "per_call_ms_batch_means": stats_json(&nums(&c["batch"]), "ms"),
                "per_call_ms_single": stats_json(&nums(&c["single"]), "ms"),
                "batch_size": batch[name],
            }),
        );
    }
    let p50 = |name: &str| {
        cases[name]["per_call_ms_batch_means"]["p50"]
            .as_f64()
            .unwrap_or(f64::NAN)
    };
    Ok(json!({
        "cases": cases,
        "ratio_b_over_c_p50": p50("b_ipc_get_token") / p50("c_ipc_ping"),
        "ratio_a_over_d_p50": p50("a_client_cache") / p50("d_web_bridge"),
        "timer_resolution_ms": result["resolution_ms"],
        "same_token_in_all_cases": result["same_token"],
        "mfe_ping_result": result["ping_result"],
        "user_agent": result["user_agent"],
        "rounds": rounds,
        "warmup_rounds": warmup,
        "app_pid": app_pid,
        "what": "interleaved rounds in one page; each round times a batch of each case back to back; per_call_ms_batch_means = batch time / batch size (robust to the coarse page timer); per_call_ms_single = each call on its own",
    }))
}

// ---------------------------------------------------------------- targets and markdown

fn targets(r: &Value) -> Value {
    let mut t = Vec::new();
    let mut push =
        |name: &str, target: &str, measured: Option<f64>, limit: f64, unit: &str, exact: bool| {
            let met = measured.map(|m| if exact { m == limit } else { m <= limit });
            let by = measured.map(|m| {
                if exact {
                    format!("{} vs {}", fmt(m), fmt(limit))
                } else if m <= limit {
                    format!("{}% under", fmt((1.0 - m / limit) * 100.0))
                } else {
                    format!(
                        "{}% over ({} {unit} vs {} {unit})",
                        fmt((m / limit - 1.0) * 100.0),
                        fmt(m),
                        fmt(limit)
                    )
                }
            });
            t.push(
            json!({ "name": name, "target": target, "measured": measured, "met": met, "by": by }),
        );
        };
    let f = |v: &Value| v.as_f64();
    push(
        "(a) JS client cache hit, p50",
        "≤ 0.05 ms",
        f(&r["webview"]["cases"]["a_client_cache"]["per_call_ms_batch_means"]["p50"]),
        0.05,
        "ms",
        false,
    );
    push(
        "(b)/(c) get_token IPC over no-op IPC, p50",
        "≤ 1.2",
        f(&r["webview"]["ratio_b_over_c_p50"]),
        1.2,
        "×",
        false,
    );
    if let Some(rows) = r["provider_load"].as_array() {
        for row in rows {
            let name = row["name"].as_str().unwrap_or("?");
            let worst = row["requests_max"].as_f64();
            push(
                &format!("provider load {name}: token requests per round (max)"),
                "= 3",
                worst,
                3.0,
                "",
                true,
            );
            push(
                &format!("provider load {name}: reuse detections"),
                "= 0",
                f(&row["reuse_detections"]),
                0.0,
                "",
                true,
            );
        }
    }
    push(
        "warm start auth on / auth off, p50",
        "≤ 1.15",
        f(&r["startup"]["ratio_on_over_off_p50"]),
        1.15,
        "×",
        false,
    );
    push(
        "steady RSS auth on / auth off, p50",
        "≤ 1.05",
        f(&r["memory"]["ratio_steady_on_over_off_p50"]),
        1.05,
        "×",
        false,
    );
    push(
        "peak RSS auth on / auth off, p50",
        "≤ 1.05",
        f(&r["memory"]["ratio_peak_on_over_off_p50"]),
        1.05,
        "×",
        false,
    );
    json!(t)
}

fn markdown(r: &Value) -> String {
    let mut md = String::new();
    let m = &r["machine"];
    md.push_str("# Portico benchmark report\n\n");
    md.push_str(&format!(
        "- commit `{}`{}\n- date {}\n- machine: {} · {} cores · {} MiB · kernel {} · {} · WebKitGTK {}\n- load average at start: {}\n\n",
        r["commit"]["hash"].as_str().unwrap_or("?"),
        if r["commit"]["dirty_worktree"] == json!(true) { " (uncommitted changes in the worktree)" } else { "" },
        r["date"].as_str().unwrap_or("?"),
        m["cpu"].as_str().unwrap_or("?"),
        m["cores"],
        m["memory_mib"],
        m["kernel"].as_str().unwrap_or("?"),
        m["rustc"].as_str().unwrap_or("?"),
        m["webkitgtk"].as_str().unwrap_or("?"),
        m["load_average_at_start"].as_str().unwrap_or("?"),
    ));
    md.push_str("Cells are **p50 / p99 (IQR as % of the median)**.\n\n");

    let b = &r["broker"];
    if !b.is_null() {
        md.push_str("## 1. Broker core, in process\n\n| what | p50 / p99 (spread) | unit |\n|---|---|---|\n");
        md.push_str(&format!(
            "| cache-hit `get_token`, one core | {} | ns |\n| → throughput on one core (1/p50) | {} | calls/s |\n",
            cell(&b["cache_hit_get_token"]),
            fmt(b["cache_hit_throughput_per_s_one_core"].as_f64().unwrap_or(f64::NAN)),
        ));
        let sf = &b["single_flight"];
        md.push_str(&format!(
            "| refresh, 1 caller (stale cache → one grant on loopback) | {} | µs |\n| refresh, 100 concurrent waiters | {} | µs |\n| → cost of 99 extra waiters (p50 difference) | {} | µs |\n| → provider requests per round | {} | |\n\n",
            cell(&sf["waiters_1"]),
            cell(&sf["waiters_100"]),
            fmt(sf["extra_cost_of_99_waiters_us_p50"].as_f64().unwrap_or(f64::NAN)),
            sf["provider_requests"]["requests_per_round"],
        ));
    }
    if let Some(w) = r.get("webview").filter(|w| !w.is_null()) {
        md.push_str("## 2. In the real webview (WebKitGTK, release build, one page, one run)\n\n| case | per call, batch means | per call, single calls |\n|---|---|---|\n");
        for (name, label) in [
            ("a_client_cache", "(a) JS client cache hit (`getToken`)"),
            (
                "b_ipc_get_token",
                "(b) `get_token` over IPC, cached natively",
            ),
            ("c_ipc_ping", "(c) no-op IPC (`mfe_ping`)"),
            (
                "d_web_bridge",
                "(d) seed's web bridge (postMessage, cross-origin iframe)",
            ),
            (
                "e_ipc_context",
                "(e) diagnostic: `mfe_context` over IPC (identifies the caller; no broker, no push)",
            ),
        ] {
            md.push_str(&format!(
                "| {label} | {} ms | {} ms |\n",
                cell(&w["cases"][name]["per_call_ms_batch_means"]),
                cell(&w["cases"][name]["per_call_ms_single"]),
            ));
        }
        md.push_str(&format!(
            "\n(b)/(c) = **{}**, (a)/(d) = **{}** (p50 of batch means). Page timer resolution {} ms; all cases returned the same token: {}.\n\n",
            fmt(w["ratio_b_over_c_p50"].as_f64().unwrap_or(f64::NAN)),
            fmt(w["ratio_a_over_d_p50"].as_f64().unwrap_or(f64::NAN)),
            w["timer_resolution_ms"],
            w["same_token_in_all_cases"],
        ));
    }
    if let Some(rows) = r["provider_load"].as_array() {
        md.push_str("## 3. Provider load: 300 concurrent callers, 3 audiences, cache empty\n\n| dialect, rotation | token requests per round (min–max) | wall time to all tokens, ms | reuse detections | failed calls |\n|---|---|---|---|---|\n");
        for row in rows {
            md.push_str(&format!(
                "| {} | {}–{} | {} | {} | {} |\n",
                row["name"].as_str().unwrap_or("?"),
                row["requests_min"],
                row["requests_max"],
                cell(&row["wall_ms"]),
                row["reuse_detections"],
                row["failed_calls"],
            ));
        }
        md.push('\n');
    }
    let s = &r["startup"];
    if !s.is_null() {
        md.push_str("## 4. Start-up (three MFEs)\n\n| what | ms |\n|---|---|\n");
        md.push_str(&format!(
            "| warm start, auth on (refresh token in keyring) → all three MFEs hold tokens | {} |\n| same shell, auth off → all three MFEs shown | {} |\n| → ratio on/off (p50) | {} |\n| → ratio on/off (fastest runs) | {} |\n| sign-in callback delivered → all three MFEs hold tokens | {} |\n\n",
            cell(&s["warm_start_auth_on_ms"]),
            cell(&s["start_auth_off_ms"]),
            fmt(s["ratio_on_over_off_p50"].as_f64().unwrap_or(f64::NAN)),
            fmt(s["ratio_on_over_off_min"].as_f64().unwrap_or(f64::NAN)),
            cell(&s["login_callback_to_all_tokens"]["ms"]),
        ));
        if let Some(means) = s["auth_off_means"].as_str() {
            md.push_str(&format!("Auth off: {means}.\n\n"));
        }
    }
    let mem = &r["memory"];
    if !mem.is_null() {
        let mib = |v: &Value| {
            let mut v = v.clone();
            for k in ["p50", "p99", "p25", "p75", "min", "max", "mean"] {
                if let Some(x) = v[k].as_f64() {
                    v[k] = json!(x / 1024.0);
                }
            }
            cell(&v)
        };
        md.push_str("## 5. Memory: app + WebKit processes, three MFEs\n\n| | auth on, MiB | auth off, MiB | on/off (p50) |\n|---|---|---|---|\n");
        md.push_str(&format!(
            "| steady RSS (sum over the tree) | {} | {} | {} |\n| peak RSS (highest sampled sum) | {} | {} | {} |\n| sum of per-process VmHWM | {} | {} | |\n\n",
            mib(&mem["auth_on"]["steady_rss_kb"]),
            mib(&mem["auth_off"]["steady_rss_kb"]),
            fmt(mem["ratio_steady_on_over_off_p50"].as_f64().unwrap_or(f64::NAN)),
            mib(&mem["auth_on"]["peak_rss_kb"]),
            mib(&mem["auth_off"]["peak_rss_kb"]),
            fmt(mem["ratio_peak_on_over_off_p50"].as_f64().unwrap_or(f64::NAN)),
            mib(&mem["auth_on"]["sum_of_vmhwm_kb"]),
            mib(&mem["auth_off"]["sum_of_vmhwm_kb"]),
        ));
    }
    md.push_str("## Targets (reported, not asserted)\n\n| target | goal | measured | met | by |\n|---|---|---|---|---|\n");
    for t in r["targets"].as_array().into_iter().flatten() {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            t["name"].as_str().unwrap_or("?"),
            t["target"].as_str().unwrap_or("?"),
            t["measured"].as_f64().map_or("not measured".into(), fmt),
            match t["met"].as_bool() {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "–",
            },
            t["by"].as_str().unwrap_or(""),
        ));
    }
    if let Some(errs) = r["errors"].as_array().filter(|e| !e.is_empty()) {
        md.push_str("\n## Not measured in this run\n\n");
        for e in errs {
            md.push_str(&format!("- {}\n", e.as_str().unwrap_or("?")));
        }
    }
    md
}
