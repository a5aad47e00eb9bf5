//! Installs what Portico needs on Debian/Ubuntu, only when it is missing (so a second run is
//! fast): system packages through apt-get, tauri-driver through cargo install.

use std::process::Command;

use anyhow::{bail, Result};

use crate::exec;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Run,
    Test,
}

/// Building and running the app: WebKitGTK 4.1 and friends, the Secret Service for the keyring,
/// and the tools deep-link registration calls.
const RUN_PACKAGES: &[&str] = &[
    "libwebkit2gtk-4.1-dev",
    "build-essential",
    "libssl-dev",
    "librsvg2-dev",
    "pkg-config",
    "xdg-utils",
    "desktop-file-utils",
    "gnome-keyring",
    "dbus-x11",
];

/// Headless tests add an X server, the keyring tools, WebKit's WebDriver, and Glewlwyd: the
/// OpenID Provider we did not write, which every flow is also proven against.
const TEST_PACKAGES: &[&str] = &[
    "xvfb",
    "libsecret-tools",
    "webkit2gtk-driver",
    "imagemagick",
    "glewlwyd",
];

pub fn ensure(purpose: Purpose) -> Result<()> {
    let mut wanted: Vec<&str> = RUN_PACKAGES.to_vec();
    if purpose == Purpose::Test {
        wanted.extend_from_slice(TEST_PACKAGES);
    }
    let missing: Vec<&str> = wanted
        .into_iter()
        .filter(|p| !package_installed(p))
        .collect();
    if !missing.is_empty() {
        install_packages(&missing)?;
    }
    if purpose == Purpose::Test {
        ensure_tauri_driver()?;
        if Command::new("npm").arg("--version").output().is_err() {
            bail!("npm not found: install Node.js 20 or later (the JS client's tests need it)");
        }
    }
    Ok(())
}

fn package_installed(name: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", name])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn install_packages(packages: &[&str]) -> Result<()> {
    if Command::new("apt-get").arg("--version").output().is_err() {
        bail!(
            "these packages are missing and there is no apt-get to install them: {}",
            packages.join(" ")
        );
    }
    let apt = |args: &[&str]| {
        let mut c = if is_root() {
            Command::new("apt-get")
        } else {
            let mut s = Command::new("sudo");
            s.arg("apt-get");
            s
        };
        c.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        c
    };
    exec(&mut apt(&["update", "-qq"]), "apt-get update")?;
    let mut install = apt(&["install", "-y", "-qq", "--no-install-recommends"]);
    install.args(packages);
    exec(
        &mut install,
        &format!("apt-get install {}", packages.join(" ")),
    )
}

fn ensure_tauri_driver() -> Result<()> {
    let ok = Command::new("tauri-driver")
        .arg("--help")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if ok || cargo_bin("tauri-driver").is_file() {
        return Ok(());
    }
    exec(
        Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())).args([
            "install",
            "tauri-driver",
            "--locked",
            "--version",
            "^2",
        ]),
        "cargo install tauri-driver (2.x)",
    )
}

/// `$CARGO_HOME/bin/NAME` (tauri-driver lands there even when that is not on PATH).
pub fn cargo_bin(name: &str) -> std::path::PathBuf {
    let home = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".cargo")))
        .unwrap_or_else(|| std::path::PathBuf::from("/root/.cargo"));
    home.join("bin").join(name)
}
