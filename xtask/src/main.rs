//! `cargo xtask`: Portico's one entry point for setting up, running, testing and benchmarking.
//!
//! - `cargo xtask run`   installs what is missing, builds, starts the app on its embedded default.
//! - `cargo xtask test`  installs what is missing and runs every test (lint, unit, integration
//!   against the dev identity provider, the JS client, end-to-end through tauri-driver) inside a
//!   headless session it starts itself: Xvfb, a D-Bus session and an unlocked gnome-keyring.
//! - `cargo xtask setup [--test]` only installs.
//! - `cargo xtask session -- CMD` runs CMD in that headless session.
//! - `cargo xtask bench`, `reliability`, `fuzz`, `bundle`: see their modules (`bundle` packages
//!   the release without the embedded development provider and checks that none is inside).
//!
//! It is a command runner: it installs, builds and runs. What measures and what runs the tests'
//! desktop session lives in `portico-testkit` (linked here without its fixtures: std, libc and
//! serde_json only), so the suites, the benchmarks and these commands share one implementation.

mod bench;
mod bundle;
mod fuzz;
mod reliability;
mod setup;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{bail, Context, Result};
use portico_testkit::desktop::{Desktop, Display};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let cmd = args.next().unwrap_or_default();
    let rest: Vec<String> = args.collect();
    match cmd.as_str() {
        "setup" => setup::ensure(if rest.iter().any(|a| a == "--test") {
            setup::Purpose::Test
        } else {
            setup::Purpose::Run
        }),
        "run" => run_app(&rest),
        "test" => test(&rest),
        "session" => in_session(&rest),
        "bundle" => bundle::run(&rest),
        "bench" => bench::run(&rest),
        "soak" => bench::soak(&rest),
        "fuzz" => fuzz::run(&rest),
        "reliability" => reliability::run(&rest),
        _ => {
            eprintln!(
                "usage: cargo xtask <command>\n\n\
                 commands:\n  \
                 run [-- APP ARGS]   install what is missing, build and start Portico (embedded default)\n  \
                 test [FILTER]       install what is missing and run every test headless\n  \
                 setup [--test]      only install system packages and tools\n  \
                 session -- CMD...   run CMD inside the headless test session (Xvfb, D-Bus, keyring)\n  \
                 bench [--quick] [--publish] [--only PARTS]  measure (target/bench/report.{{json,md}})\n  \
                 soak --minutes N [--publish]  the release app left running with 30 s tokens → target/soak\n  \
                 reliability [--fuzz-seconds N]  adversarial suites and fuzzing → docs/reliability.md\n  \
                 fuzz [--smoke | --seconds N] [TARGET...]  the cargo-fuzz targets\n  \
                 bundle [--embedded-provider]  build and check the .deb (without the development provider unless asked)"
            );
            bail!("unknown command `{cmd}`")
        }
    }
}

/// The repository root (xtask lives one level below it).
pub fn root() -> PathBuf {
    // Cargo sets CARGO_MANIFEST_DIR for `cargo run` too: read it at run time, so two checkouts
    // sharing one target dir (CI's) each act on their own tree, not on the one that built xtask.
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest_dir
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Where cargo puts binaries, honouring CARGO_TARGET_DIR (CI keeps one outside the clone).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| if p.is_absolute() { p } else { root().join(p) })
        .unwrap_or_else(|| root().join("target"))
}

/// Run a command to completion, failing with its description if it fails.
pub fn exec(cmd: &mut Command, what: &str) -> Result<()> {
    println!("xtask: {what}");
    let status = cmd
        .status()
        .with_context(|| format!("could not start: {what}"))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

/// The headless session every suite runs in (Xvfb, a private D-Bus bus, an unlocked throw-away
/// gnome-keyring; stopped on drop), plus the paths the end-to-end harness reads.
pub struct Session(Desktop);

impl Session {
    pub fn start() -> Result<Session> {
        let desktop = Desktop::start_in_temp(Display::Xvfb)
            .context("start the headless session (Xvfb, D-Bus, gnome-keyring)")?;
        println!(
            "xtask: headless session on {} with bus {} and an unlocked throw-away keyring",
            desktop.var("DISPLAY").unwrap_or("?"),
            desktop.var("DBUS_SESSION_BUS_ADDRESS").unwrap_or("?"),
        );
        Ok(Session(desktop))
    }

    /// Put the session's environment on a command.
    pub fn apply(&self, cmd: &mut Command) {
        self.0.apply(cmd);
        cmd.env("PORTICO_ARTIFACTS", root().join("artifacts"))
            .env("PORTICO_APP", target_dir().join("debug").join("portico"))
            .env("TAURI_DRIVER", setup::cargo_bin("tauri-driver"));
    }
}

pub fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

fn run_app(rest: &[String]) -> Result<()> {
    setup::ensure(setup::Purpose::Run)?;
    let display = std::env::var_os("DISPLAY").filter(|v| !v.is_empty());
    let wayland = std::env::var_os("WAYLAND_DISPLAY").filter(|v| !v.is_empty());
    if display.is_none() && wayland.is_none() {
        bail!(
            "no display: Portico is a desktop app and needs a graphical session \
             (DISPLAY or WAYLAND_DISPLAY is not set).\n\
             Run this from a desktop terminal, or headless for a look: \
             `xvfb-run -a cargo xtask run` (then take a screenshot with `import -window root shot.png`)."
        );
    }
    exec(
        cargo().args(["build", "-p", "portico", "--features", "embedded-provider"]),
        "build the Portico shell with its embedded default (a cold build takes a few minutes)",
    )?;
    let bin = target_dir().join("debug").join("portico");
    let args: Vec<&String> = rest.iter().skip_while(|a| *a == "--").collect();
    exec(Command::new(&bin).args(args), "start Portico")
}

/// Run any command inside the headless session, e.g. one crate's tests while developing.
fn in_session(rest: &[String]) -> Result<()> {
    let argv: Vec<&String> = rest.iter().skip_while(|a| *a == "--").collect();
    let Some((program, args)) = argv.split_first() else {
        bail!("usage: cargo xtask session -- COMMAND [ARGS]");
    };
    let session = Session::start()?;
    let mut cmd = Command::new(program);
    cmd.args(args).current_dir(root());
    session.apply(&mut cmd);
    let result = exec(&mut cmd, &format!("{program} in the headless session"));
    drop(session);
    result
}

fn test(rest: &[String]) -> Result<()> {
    setup::ensure(setup::Purpose::Test)?;
    let filter: Vec<String> = rest.to_vec();
    exec(
        cargo().args(["fmt", "--all", "--", "--check"]),
        "cargo fmt --check",
    )?;
    exec(
        cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
        "cargo clippy --workspace --all-targets -D warnings",
    )?;
    let client = root().join("ui/packages/portico-client");
    exec(
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&client),
        "npm ci (JS client)",
    )?;
    exec(
        Command::new("npm").args(["test"]).current_dir(&client),
        "JS client tests (node --test)",
    )?;
    // The end-to-end tests drive these binaries through tauri-driver: the reference host and
    // the minimal one. With the embedded default: scenarios that configure no provider use it.
    exec(
        cargo().args([
            "build",
            "-p",
            "portico",
            "-p",
            "portico-minimal-host",
            "--features",
            "portico/embedded-provider",
        ]),
        "build the Portico shell and the minimal host for end-to-end tests",
    )?;
    let session = Session::start()?;
    let mut cmd = cargo();
    cmd.args(["test", "--workspace", "--no-fail-fast"]);
    if !filter.is_empty() {
        cmd.arg("--").args(&filter);
    }
    session.apply(&mut cmd);
    let tests = exec(
        &mut cmd,
        "cargo test --workspace (unit, integration, end-to-end) in the headless session",
    );
    drop(session);
    if !filter.is_empty() {
        // A filtered run is a developer's quick loop: the fuzz smoke run and the bundle are not
        // about the filtered tests.
        println!("xtask: test filter given: skipping the fuzz smoke run and the bundle checks");
        return tests;
    }
    // The remaining stages run even when a test failed, so one CI run reports every failure.
    let mut failed: Vec<String> = Vec::new();
    if let Err(e) = tests {
        failed.push(format!("{e:#}"));
    }
    if let Err(e) = fuzz::run(&["--smoke".to_string()]) {
        failed.push(format!("fuzz smoke run: {e:#}"));
    }
    if let Err(e) = bundle::run(&[]) {
        failed.push(format!("bundle: {e:#}"));
    }
    if failed.is_empty() {
        println!("xtask: tests, fuzz smoke run and bundle checks passed");
        return Ok(());
    }
    for f in &failed {
        eprintln!("xtask: FAILED: {f}");
    }
    bail!("{} stage(s) failed", failed.len())
}
