//! `cargo xtask bench [--quick] [--publish | --publish-last] [--only broker,load,webview,startup]`:
//! builds what is measured (the broker's criterion benches, the release app and the release
//! dev-idp) and runs the measuring harness, `portico-bench` of portico-testkit, with their paths.
//! It writes `target/bench/report.{json,md}`, and with `--publish` docs/performance.md and the
//! README's figures; see `crates/testkit/src/bench/`.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::{cargo, exec, root, setup, target_dir};

pub fn run(rest: &[String]) -> Result<()> {
    // Only what the chosen parts need is built (`--only broker` needs no release app).
    let only = rest
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| rest.get(i + 1));
    let wants = |parts: &[&str]| {
        only.is_none_or(|list| list.split(',').any(|p| parts.contains(&p.trim())))
            && !rest.iter().any(|a| a == "--publish-last")
    };
    let mut cmd = Command::new(build_harness()?);
    cmd.args(rest).arg("--root").arg(root());
    if wants(&["broker", "load"]) {
        let exes = bench_executables()?;
        for (name, flag) in [
            ("broker", "--broker-bench"),
            ("provider_load", "--load-bench"),
        ] {
            if let Some((_, exe)) = exes.iter().find(|(n, _)| n == name) {
                cmd.arg(flag).arg(exe);
            }
        }
    }
    if wants(&["webview", "startup", "memory"]) {
        release_app_and_provider(&mut cmd)?;
        cmd.env("TAURI_DRIVER", setup::cargo_bin("tauri-driver"));
    }
    if wants(&["webview"]) {
        ensure_auth0_spa_js()?;
    }
    exec(&mut cmd, "measure (portico-bench)")
}

/// The real auth0-spa-js that part 2 runs beside Portico's client, pinned in
/// `ui/bench-npm/package-lock.json`: `npm ci` when it is missing or another version is installed.
/// Outside `ui/web`, which the release app embeds whole.
fn ensure_auth0_spa_js() -> Result<()> {
    let dir = root().join("ui").join("bench-npm");
    let lock: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("package-lock.json"))
            .context("read ui/bench-npm/package-lock.json")?,
    )
    .context("parse ui/bench-npm/package-lock.json")?;
    let pinned = lock
        .pointer("/packages/node_modules~1@auth0~1auth0-spa-js/version")
        .and_then(Value::as_str)
        .context("ui/bench-npm/package-lock.json does not pin @auth0/auth0-spa-js")?
        .to_string();
    let manifest = dir.join("node_modules/@auth0/auth0-spa-js/package.json");
    let installed = || -> Option<String> {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&manifest).ok()?).ok()?;
        v["version"].as_str().map(str::to_owned)
    };
    if installed().as_deref() != Some(pinned.as_str()) {
        exec(
            Command::new("npm")
                .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"])
                .args(["--loglevel=error"])
                .current_dir(&dir),
            &format!("npm ci (auth0-spa-js {pinned} for the bench, pinned in ui/bench-npm)"),
        )?;
        let now = installed();
        anyhow::ensure!(
            now.as_deref() == Some(pinned.as_str()),
            "ui/bench-npm/node_modules holds auth0-spa-js {now:?}, expected {pinned}"
        );
    }
    Ok(())
}

/// The measuring harness, a debug build: it only starts, waits and reads clocks the measured
/// code reports, so its own speed is not in any figure.
fn build_harness() -> Result<PathBuf> {
    exec(
        cargo().args([
            "build",
            "-p",
            "portico-testkit",
            "--features",
            "e2e",
            "--bin",
            "portico-bench",
        ]),
        "build the benchmark harness (portico-bench)",
    )?;
    Ok(target_dir().join("debug").join("portico-bench"))
}

/// Build the broker's bench targets, return their executables by name.
fn bench_executables() -> Result<Vec<(String, PathBuf)>> {
    println!("xtask: build the broker benchmarks (release profile)");
    let out = cargo()
        .args(["bench", "-p", "portico-broker", "--no-run"])
        .arg("--message-format=json-render-diagnostics")
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
        let is_bench = v["target"]["kind"]
            .as_array()
            .is_some_and(|k| k.iter().any(|x| x == "bench"));
        if let (true, Some(name), Some(exe)) = (
            v["reason"] == "compiler-artifact" && is_bench,
            v["target"]["name"].as_str(),
            v["executable"].as_str(),
        ) {
            exes.push((name.to_string(), PathBuf::from(exe)));
        }
    }
    Ok(exes)
}

/// `cargo xtask soak --minutes N [--publish]` (issue 18.4): the release app and dev-idp, built as
/// for the bench, left running under `portico-bench --soak-minutes N`; see
/// `crates/testkit/src/bench/app/soak.rs`.
pub fn soak(rest: &[String]) -> Result<()> {
    let mut minutes: Option<String> = None;
    let mut publish = false;
    let mut it = rest.iter().filter(|a| *a != "--");
    while let Some(a) = it.next() {
        match a.as_str() {
            "--minutes" => minutes = it.next().cloned(),
            "--publish" => publish = true,
            other => bail!("usage: cargo xtask soak --minutes N [--publish] (got `{other}`)"),
        }
    }
    let minutes = minutes
        .filter(|m| m.parse::<u64>().is_ok_and(|n| n > 0))
        .context("usage: cargo xtask soak --minutes N [--publish] (N: whole minutes, > 0)")?;
    let mut cmd = Command::new(build_harness()?);
    cmd.arg("--root")
        .arg(root())
        .arg("--soak-minutes")
        .arg(&minutes);
    release_app_and_provider(&mut cmd)?;
    if publish {
        cmd.arg("--publish");
    }
    exec(&mut cmd, "soak (portico-bench --soak-minutes)")
}

/// Builds what the app parts measure, the release app (bundled pages embedded) and the release
/// dev-idp, after the system packages the headless session needs, and hands their paths to the
/// harness (`--app`, `--dev-idp`).
fn release_app_and_provider(harness: &mut Command) -> Result<()> {
    setup::ensure(setup::Purpose::Test)?;
    exec(
        cargo()
            .args(["build", "--release", "-p", "portico"])
            .args(["--features", "tauri/custom-protocol"]),
        "build the release app (WebKitGTK, bundled pages embedded)",
    )?;
    exec(
        cargo().args(["build", "--release", "-p", "portico-dev-idp"]),
        "build the development provider",
    )?;
    let release = target_dir().join("release");
    harness.arg("--app").arg(release.join("portico"));
    harness
        .arg("--dev-idp")
        .arg(release.join("portico-dev-idp"));
    Ok(())
}
