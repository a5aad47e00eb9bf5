//! `cargo xtask bundle [--embedded-provider]`: build the release binary, package it as a `.deb`
//! with the Tauri bundler (the CLI pinned in `packaging/package-lock.json`), then check the
//! package as a user's system would see it: contents (`dpkg-deb -I/-c/-x`), the desktop entry
//! (`desktop-file-validate`, a `MimeType` for every deep-link scheme, `%u` in `Exec`), that
//! `xdg-mime` resolves each scheme to Portico's desktop entry once it is installed into a private
//! XDG prefix, and that the packaged binary holds no development identity provider.
//!
//! The release is built without the app's default feature `embedded-provider`: an installed
//! Portico with no provider configured must stop and say what to configure, not fall back to a
//! password-less demo provider. `--embedded-provider` builds a demo package with it; the check
//! then asserts the provider *is* inside, which also proves the markers it looks for still name
//! the development provider.
//!
//! Why the CLI runs from `src-tauri/`: it takes its project directory to be the one holding
//! `tauri.conf.json` and reads the Cargo package from the same directory. Our one configuration
//! is at the root, whose `Cargo.toml` is a virtual workspace ("No package info in the config
//! file"), and the shell package is in `src-tauri/`. So for the duration of the bundling step a
//! symlink `src-tauri/tauri.conf.json -> ../tauri.conf.json` points the CLI at the root file
//! (never a copy), and the file's paths, which are relative to the root, are handed to it as
//! absolute paths with `--config`. The binary is built by cargo exactly as `build.rs` and
//! `generate_context!` build it from the root file, with `tauri/custom-protocol` as `tauri build`
//! would add; the CLI only packages it (`tauri bundle`).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{bail, ensure, Context, Result};
use serde_json::{json, Value};

use crate::{exec, root, target_dir};

pub fn run(args: &[String]) -> Result<()> {
    let mut embedded = false;
    for arg in args.iter().filter(|a| *a != "--") {
        match arg.as_str() {
            "--embedded-provider" => embedded = true,
            unknown => {
                bail!("`cargo xtask bundle` takes only `--embedded-provider` (got `{unknown}`)")
            }
        }
    }
    // WebKitGTK to build against; desktop-file-utils and xdg-utils for the checks.
    crate::setup::ensure(crate::setup::Purpose::Run)?;
    let root = root();
    let config = AppConfig::read(&root.join("tauri.conf.json"))?;
    let cli = ensure_cli(&root)?;
    let features = if embedded {
        "tauri/custom-protocol,embedded-provider"
    } else {
        "tauri/custom-protocol"
    };
    exec(
        Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(&root)
            .args([
                "build",
                "--release",
                "-p",
                "portico",
                "--no-default-features",
            ])
            .args(["--features", features]),
        &format!(
            "cargo build --release -p portico --no-default-features --features {features} \
             (a cold release build takes about 7 minutes on 2 cores)"
        ),
    )?;
    let release = target_dir().join("release");
    let binary = release.join(&config.binary);
    ensure!(
        binary.is_file(),
        "no release binary at {}",
        binary.display()
    );

    let bundle_dir = release.join("bundle").join("deb");
    if bundle_dir.is_dir() {
        // Only this run's package may be checked.
        fs::remove_dir_all(&bundle_dir)
            .with_context(|| format!("remove old bundles in {}", bundle_dir.display()))?;
    }
    bundle_deb(&root, &cli, &config)?;
    let deb = find_deb(&bundle_dir, &config)?;

    let scratch = Scratch::new()?;
    let report = check_deb(&deb, &binary, &config, &scratch.0, embedded)?;
    println!(
        "xtask: bundle OK\n  package   {} ({})\n  binary    {} ({}, stripped)\n  installed {} KiB (Installed-Size)\n  scheme(s) {} -> {}\n  dev IdP   {}",
        deb.display(),
        human(report.deb_bytes),
        binary.display(),
        human(report.binary_bytes),
        report.installed_kib,
        config.schemes.join(", "),
        report.desktop_file,
        if embedded {
            "inside (--embedded-provider: a demo package)"
        } else {
            "absent"
        },
    );
    Ok(())
}

/// What the checks need from the root `tauri.conf.json`.
struct AppConfig {
    raw: Value,
    product_name: String,
    version: String,
    /// The main binary (`mainBinaryName`, else the Cargo package name `portico`).
    binary: String,
    schemes: Vec<String>,
}

impl AppConfig {
    fn read(path: &Path) -> Result<AppConfig> {
        let text = fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
        let raw: Value =
            serde_json::from_str(&text).with_context(|| format!("parse {}", path.display()))?;
        let string = |pointer: &str| raw.pointer(pointer).and_then(Value::as_str);
        let product_name = string("/productName")
            .context("tauri.conf.json has no productName")?
            .to_string();
        let version = string("/version")
            .context("tauri.conf.json has no version")?
            .to_string();
        let binary = string("/mainBinaryName").unwrap_or("portico").to_string();
        let schemes: Vec<String> = raw
            .pointer("/plugins/deep-link/desktop/schemes")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        ensure!(
            !schemes.is_empty(),
            "tauri.conf.json registers no plugins.deep-link.desktop.schemes; the sign-in callback needs one"
        );
        Ok(AppConfig {
            raw,
            product_name,
            version,
            binary,
            schemes,
        })
    }

    /// A `--config` patch restating every file path of the configuration that the bundler reads,
    /// resolved against the root (where the file is), so the CLI finds the files from `src-tauri/`.
    fn path_patch(&self, root: &Path) -> Result<Value> {
        let abs = |v: &Value, at: &str| -> Result<Value> {
            let p = v
                .as_str()
                .with_context(|| format!("tauri.conf.json {at} is not a path string"))?;
            Ok(Value::String(root.join(p).to_string_lossy().into_owned()))
        };
        let mut patch = json!({});
        if let Some(dist) = self.raw.pointer("/build/frontendDist") {
            // A URL (dev server) stays as it is; a folder is rebased.
            if dist.as_str().is_some_and(|d| !d.contains("://")) {
                patch["build"] = json!({ "frontendDist": abs(dist, "build.frontendDist")? });
            }
        }
        let bundle = self.raw.get("bundle").cloned().unwrap_or(json!({}));
        let mut b = json!({});
        if let Some(icons) = bundle.get("icon").and_then(Value::as_array) {
            let icons: Result<Vec<Value>> = icons.iter().map(|i| abs(i, "bundle.icon")).collect();
            b["icon"] = Value::Array(icons?);
        }
        if let Some(license) = bundle.get("licenseFile") {
            b["licenseFile"] = abs(license, "bundle.licenseFile")?;
        }
        match bundle.get("resources") {
            None | Some(Value::Null) => {}
            Some(Value::Array(list)) => {
                let list: Result<Vec<Value>> =
                    list.iter().map(|r| abs(r, "bundle.resources")).collect();
                b["resources"] = Value::Array(list?);
            }
            Some(Value::Object(map)) => {
                let mut out = serde_json::Map::new();
                for (src, dest) in map {
                    out.insert(root.join(src).to_string_lossy().into_owned(), dest.clone());
                }
                b["resources"] = Value::Object(out);
            }
            Some(_) => bail!("tauri.conf.json bundle.resources is neither a list nor a map"),
        }
        if let Some(deb) = bundle.pointer("/linux/deb").and_then(Value::as_object) {
            let mut d = json!({});
            for key in [
                "desktopTemplate",
                "preInstallScript",
                "postInstallScript",
                "preRemoveScript",
                "postRemoveScript",
                "changelog",
            ] {
                if let Some(v) = deb.get(key) {
                    d[key] = abs(v, &format!("bundle.linux.deb.{key}"))?;
                }
            }
            if let Some(files) = deb.get("files").and_then(Value::as_object) {
                // `files` maps a path in the package to a source path.
                let mut out = serde_json::Map::new();
                for (dest, src) in files {
                    out.insert(
                        dest.clone(),
                        abs(src, &format!("bundle.linux.deb.files.{dest}"))?,
                    );
                }
                d["files"] = Value::Object(out);
            }
            b["linux"] = json!({ "deb": d });
        }
        patch["bundle"] = b;
        Ok(patch)
    }
}

/// The Tauri CLI pinned in `packaging/package-lock.json`; `npm ci` when it is missing or another
/// version is installed.
fn ensure_cli(root: &Path) -> Result<PathBuf> {
    let dir = root.join("packaging");
    let lock: Value = serde_json::from_str(
        &fs::read_to_string(dir.join("package-lock.json"))
            .context("read packaging/package-lock.json")?,
    )
    .context("parse packaging/package-lock.json")?;
    let pinned = lock
        .pointer("/packages/node_modules~1@tauri-apps~1cli/version")
        .and_then(Value::as_str)
        .context("packaging/package-lock.json does not pin @tauri-apps/cli")?
        .to_string();
    let cli = dir.join("node_modules").join(".bin").join("tauri");
    let installed = || {
        Command::new(&cli)
            .arg("--version")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    if installed().as_deref() != Some(&format!("tauri-cli {pinned}")) {
        exec(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&dir),
            &format!("npm ci (Tauri CLI {pinned}, pinned in packaging/package-lock.json)"),
        )?;
        let now = installed();
        ensure!(
            now.as_deref() == Some(&format!("tauri-cli {pinned}")),
            "the Tauri CLI in packaging/node_modules reports {now:?}, expected tauri-cli {pinned}"
        );
    }
    Ok(cli)
}

/// Points `src-tauri/tauri.conf.json` at the root file while it lives; removes it on drop, also
/// when bundling fails.
struct ConfigLink(PathBuf);

impl ConfigLink {
    fn create(root: &Path) -> Result<ConfigLink> {
        let link = root.join("src-tauri").join("tauri.conf.json");
        match fs::symlink_metadata(&link) {
            // Left behind by an interrupted run: ours to replace.
            Ok(m) if m.file_type().is_symlink() => fs::remove_file(&link)
                .with_context(|| format!("remove stale {}", link.display()))?,
            Ok(_) => bail!(
                "{} exists and is not our symlink: the root tauri.conf.json must stay the only \
                 app configuration; remove that file",
                link.display()
            ),
            Err(_) => {}
        }
        std::os::unix::fs::symlink("../tauri.conf.json", &link)
            .with_context(|| format!("create {}", link.display()))?;
        Ok(ConfigLink(link))
    }
}

impl Drop for ConfigLink {
    fn drop(&mut self) {
        if let Err(error) = fs::remove_file(&self.0) {
            eprintln!("xtask: could not remove {}: {error}", self.0.display());
        }
    }
}

fn bundle_deb(root: &Path, cli: &Path, config: &AppConfig) -> Result<()> {
    let patch = serde_json::to_string(&config.path_patch(root)?)?;
    let manifest = root.join("src-tauri").join("Cargo.toml");
    let manifest_before = fs::read(&manifest).context("read src-tauri/Cargo.toml")?;
    let result = {
        let _link = ConfigLink::create(root)?;
        exec(
            Command::new(cli)
                .current_dir(root.join("src-tauri"))
                .args(["bundle", "--bundles", "deb", "--ci", "--config", &patch])
                .env("CARGO_TARGET_DIR", target_dir()),
            "tauri bundle --bundles deb (Tauri bundler, root tauri.conf.json)",
        )
    };
    // The CLI may rewrite the tauri features of the manifest; it must never change ours.
    let manifest_after = fs::read(&manifest).context("read src-tauri/Cargo.toml")?;
    if manifest_after != manifest_before {
        fs::write(&manifest, &manifest_before).context("restore src-tauri/Cargo.toml")?;
        bail!("the Tauri CLI rewrote src-tauri/Cargo.toml (restored); its tauri features disagree with tauri.conf.json");
    }
    result
}

fn find_deb(dir: &Path, config: &AppConfig) -> Result<PathBuf> {
    let prefix = format!("{}_{}_", config.product_name, config.version);
    let mut found: Vec<PathBuf> = fs::read_dir(dir)
        .with_context(|| format!("the bundler left no {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".deb"))
        })
        .collect();
    ensure!(
        found.len() == 1,
        "expected one {prefix}*.deb in {}, found {found:?}",
        dir.display()
    );
    Ok(found.remove(0))
}

struct Report {
    deb_bytes: u64,
    binary_bytes: u64,
    installed_kib: u64,
    desktop_file: String,
}

fn check_deb(
    deb: &Path,
    binary: &Path,
    config: &AppConfig,
    scratch: &Path,
    embedded: bool,
) -> Result<Report> {
    let deb_str = deb.to_string_lossy().into_owned();

    // Control data.
    let info = stdout(
        Command::new("dpkg-deb").args(["-I", &deb_str]),
        "dpkg-deb -I",
    )?;
    let field = |name: &str| -> Option<String> {
        info.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(&format!("{name}: ")).map(str::to_string))
    };
    ensure!(
        field("Version").as_deref() == Some(config.version.as_str()),
        "control Version {:?} is not tauri.conf.json's {}",
        field("Version"),
        config.version
    );
    let maintainer = field("Maintainer").unwrap_or_default();
    ensure!(
        maintainer.contains('<') && maintainer.ends_with('>'),
        "control Maintainer is not `Name <address>` (Debian policy 5.6.2): {maintainer:?}"
    );
    let depends = field("Depends").unwrap_or_default();
    for lib in ["libwebkit2gtk-4.1-0", "libgtk-3-0"] {
        ensure!(
            depends.split(',').any(|d| d.trim().starts_with(lib)),
            "control Depends lacks {lib}: {depends}"
        );
    }
    let installed_kib: u64 = field("Installed-Size")
        .and_then(|s| s.parse().ok())
        .context("control has no numeric Installed-Size")?;

    // Listing: binary (executable), desktop entry, icon.
    let listing = stdout(
        Command::new("dpkg-deb").args(["-c", &deb_str]),
        "dpkg-deb -c",
    )?;
    // Entry names are `usr/...` or `./usr/...` depending on the archiver.
    let name_of = |l: &str| {
        l.split_whitespace()
            .last()
            .map(|n| n.trim_start_matches("./").to_string())
            .unwrap_or_default()
    };
    let entry = |path: &str| {
        listing
            .lines()
            .find(|l| name_of(l) == path)
            .map(str::to_string)
    };
    let bin_path = format!("usr/bin/{}", config.binary);
    let bin_line = entry(&bin_path).with_context(|| format!("{bin_path} is not in the package"))?;
    ensure!(
        bin_line.starts_with("-rwxr-xr-x"),
        "{bin_path} is not an executable file: {bin_line}"
    );
    let desktop_name = format!("{}.desktop", config.product_name);
    let desktop_path = format!("usr/share/applications/{desktop_name}");
    ensure!(
        entry(&desktop_path).is_some(),
        "{desktop_path} is not in the package"
    );
    let icon_suffix = format!("/apps/{}.png", config.binary);
    ensure!(
        listing
            .lines()
            .map(name_of)
            .any(|p| { p.starts_with("usr/share/icons/hicolor/") && p.ends_with(&icon_suffix) }),
        "no hicolor icon */apps/{}.png in the package",
        config.binary
    );

    // Unpack into a private prefix.
    let prefix = scratch.join("root");
    exec(
        Command::new("dpkg-deb").args(["-x", &deb_str]).arg(&prefix),
        "dpkg-deb -x (unpack into a temporary prefix)",
    )?;
    let packaged_bin = prefix.join("usr/bin").join(&config.binary);
    let binary_bytes = fs::metadata(&packaged_bin)?.len();
    ensure!(
        binary_bytes == fs::metadata(binary)?.len(),
        "the packaged binary differs in size from {}",
        binary.display()
    );
    check_stripped(&packaged_bin)?;
    let bytes = fs::read(&packaged_bin)
        .with_context(|| format!("read the packaged {}", packaged_bin.display()))?;
    check_dev_provider(&bytes, embedded)
        .with_context(|| format!("in the packaged {}", packaged_bin.display()))?;

    let applications = prefix.join("usr/share/applications");
    let desktop_file = applications.join(&desktop_name);
    let desktop = fs::read_to_string(&desktop_file)?;
    check_desktop_entry(&desktop, config)
        .with_context(|| format!("in the packaged {desktop_name}:\n{desktop}"))?;
    exec(
        Command::new("desktop-file-validate").arg(&desktop_file),
        "desktop-file-validate (the packaged desktop entry)",
    )?;

    // Register the way dpkg's desktop-file-utils trigger does, then ask xdg-mime, with the XDG
    // directories pointing at the prefix only (nothing from this machine can answer for us).
    let data_home = prefix.join("usr/share");
    let config_home = scratch.join("config");
    let data_dirs = scratch.join("no-system-data");
    fs::create_dir_all(&config_home)?;
    fs::create_dir_all(&data_dirs)?;
    exec(
        Command::new("update-desktop-database").arg(&applications),
        "update-desktop-database (the unpacked applications directory)",
    )?;
    let cache = fs::read_to_string(applications.join("mimeinfo.cache"))
        .context("update-desktop-database wrote no mimeinfo.cache")?;
    let xdg_mime = |mime: &str| -> Result<String> {
        let mut cmd = Command::new("xdg-mime");
        cmd.args(["query", "default", mime])
            .env("XDG_DATA_HOME", &data_home)
            .env("XDG_CONFIG_HOME", &config_home)
            .env("XDG_DATA_DIRS", &data_dirs)
            .env("XDG_CONFIG_DIRS", &config_home);
        // The generic lookup (mimeapps.list, mimeinfo.cache, desktop files), not a desktop
        // environment's own tool.
        for var in [
            "XDG_CURRENT_DESKTOP",
            "XDG_SESSION_DESKTOP",
            "DESKTOP_SESSION",
            "KDE_FULL_SESSION",
            "GNOME_DESKTOP_SESSION_ID",
            "MATE_DESKTOP_SESSION_ID",
            "LXQT_SESSION_CONFIG",
            "DBUS_SESSION_BUS_ADDRESS",
            "DISPLAY",
            "WAYLAND_DISPLAY",
        ] {
            cmd.env_remove(var);
        }
        Ok(stdout(&mut cmd, &format!("xdg-mime query default {mime}"))?
            .trim()
            .to_string())
    };
    for scheme in &config.schemes {
        let mime = format!("x-scheme-handler/{scheme}");
        ensure!(
            cache.lines().any(|l| l
                .strip_prefix(&format!("{mime}="))
                .is_some_and(|apps| apps.split(';').any(|a| a == desktop_name))),
            "mimeinfo.cache does not map {mime} to {desktop_name}:\n{cache}"
        );
        let answer = xdg_mime(&mime)?;
        ensure!(
            answer == desktop_name,
            "xdg-mime query default {mime} answered `{answer}`, expected `{desktop_name}`"
        );
        println!("xtask: xdg-mime query default {mime} -> {answer}");
    }
    // Control: a scheme nobody registered resolves to nothing in the same environment.
    let unknown = xdg_mime("x-scheme-handler/dev.portico.unregistered-scheme")?;
    ensure!(
        unknown.is_empty(),
        "xdg-mime resolved an unregistered scheme to `{unknown}`: the lookup is not isolated"
    );

    Ok(Report {
        deb_bytes: fs::metadata(deb)?.len(),
        binary_bytes,
        installed_kib,
        desktop_file: format!("/usr/share/applications/{desktop_name}"),
    })
}

/// `Exec` runs our binary with the URL as its own argument; `MimeType` has every scheme.
fn check_desktop_entry(desktop: &str, config: &AppConfig) -> Result<()> {
    let mut in_entry = false;
    let mut keys = std::collections::BTreeMap::new();
    for line in desktop.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_entry = line == "[Desktop Entry]";
        } else if in_entry {
            if let Some((k, v)) = line.split_once('=') {
                ensure!(
                    keys.insert(k.trim().to_string(), v.trim().to_string())
                        .is_none(),
                    "key {k} appears twice"
                );
            }
        }
    }
    let get = |k: &str| keys.get(k).map(String::as_str).unwrap_or("");
    ensure!(get("Type") == "Application", "Type is not Application");
    let exec: Vec<&str> = get("Exec").split_whitespace().collect();
    ensure!(
        exec.first() == Some(&config.binary.as_str()),
        "Exec does not start {}: {exec:?}",
        config.binary
    );
    ensure!(
        exec.iter().skip(1).any(|a| *a == "%u" || *a == "%U"),
        "Exec does not pass the URL (%u): {exec:?}"
    );
    let mime: Vec<&str> = get("MimeType")
        .split(';')
        .filter(|m| !m.is_empty())
        .collect();
    for scheme in &config.schemes {
        let wanted = format!("x-scheme-handler/{scheme}");
        ensure!(
            mime.contains(&wanted.as_str()),
            "MimeType lacks {wanted}: {mime:?}"
        );
    }
    ensure!(
        get("Icon") == config.binary,
        "Icon is `{}`, expected `{}`",
        get("Icon"),
        config.binary
    );
    Ok(())
}

/// Texts only the development identity provider (`crates/dev-idp`) puts into a binary: its
/// sign-in page's title, the line it logs when it starts, and its crate name (tracing callsites
/// and panic locations carry it). Stripping removes symbols, not these.
const DEV_PROVIDER_MARKERS: [&str; 3] = [
    "Sign in to Portico Dev IdP",
    "dev identity provider listening",
    "portico_dev_idp",
];

/// Which [`DEV_PROVIDER_MARKERS`] `binary` contains.
fn dev_provider_markers(binary: &[u8]) -> Vec<&'static str> {
    DEV_PROVIDER_MARKERS
        .into_iter()
        .filter(|m| contains(binary, m.as_bytes()))
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    haystack
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == first)
        .any(|(i, _)| haystack.get(i + 1..i + needle.len()) == Some(rest))
}

/// Without `--embedded-provider` the binary must hold no development provider; with it, it must
/// hold all of it (else the markers no longer name the provider and the first check proves
/// nothing).
fn check_dev_provider(binary: &[u8], embedded: bool) -> Result<()> {
    let found = dev_provider_markers(binary);
    if embedded {
        let missing: Vec<_> = DEV_PROVIDER_MARKERS
            .into_iter()
            .filter(|m| !found.contains(m))
            .collect();
        ensure!(
            missing.is_empty(),
            "built with `embedded-provider`, yet the binary lacks {missing:?}: the markers in \
             xtask/src/bundle.rs no longer name the development provider; update them"
        );
    } else {
        ensure!(
            found.is_empty(),
            "the binary contains the development identity provider ({found:?}): the release \
             must be built without the feature `embedded-provider` (is it enabled by another \
             crate? `cargo tree -p portico --no-default-features -e features -i portico-dev-idp`)"
        );
    }
    Ok(())
}

/// The release profile strips symbols (`strip = true`); a `.symtab` would mean it did not.
fn check_stripped(bin: &Path) -> Result<()> {
    let sections = stdout(
        Command::new("readelf").args(["-S", "-W"]).arg(bin),
        "readelf -S",
    )?;
    ensure!(
        sections.contains(".text"),
        "readelf listed no sections for {}",
        bin.display()
    );
    for unwanted in [".symtab", ".debug_info"] {
        ensure!(
            !sections.contains(unwanted),
            "{} has a {unwanted} section: not stripped",
            bin.display()
        );
    }
    Ok(())
}

fn stdout(cmd: &mut Command, what: &str) -> Result<String> {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd
        .output()
        .with_context(|| format!("could not start: {what}"))?;
    if !status.success() {
        bail!(
            "{what} failed ({status}): {}",
            String::from_utf8_lossy(&stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&stdout).into_owned())
}

fn human(bytes: u64) -> String {
    format!("{:.1} MiB, {bytes} bytes", bytes as f64 / (1024.0 * 1024.0))
}

/// A temporary directory for the unpacked package, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Scratch> {
        let dir = std::env::temp_dir().join(format!("portico-bundle-{}", std::process::id()));
        if dir.exists() {
            fs::remove_dir_all(&dir)?;
        }
        fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in for a binary: the bytes around a string literal.
    fn binary_with(text: &str) -> Vec<u8> {
        let mut b = vec![0u8, 0x7f, b'E', b'L', b'F', 0];
        b.extend_from_slice(b"portico_broker::config\0Sign in to Portico\0");
        b.extend_from_slice(text.as_bytes());
        b.extend_from_slice(&[0, 1, 2]);
        b
    }

    #[test]
    fn a_binary_with_the_dev_provider_fails_the_release_check() {
        for marker in DEV_PROVIDER_MARKERS {
            let bin = binary_with(marker);
            assert_eq!(dev_provider_markers(&bin), vec![marker]);
            let e = check_dev_provider(&bin, false).unwrap_err();
            assert!(e.to_string().contains(marker), "{e}");
        }
        let all = binary_with(&DEV_PROVIDER_MARKERS.join("\0"));
        assert!(check_dev_provider(&all, false).is_err());
        check_dev_provider(&all, true).unwrap();
    }

    #[test]
    fn a_binary_without_it_passes_and_a_demo_build_without_it_is_caught() {
        // Near misses are not the provider.
        let clean = binary_with("Sign in to Portico Dev Id portico_dev_id");
        check_dev_provider(&clean, false).unwrap();
        assert!(check_dev_provider(&clean, true).is_err());
        assert!(contains(b"abc", b"") && contains(b"abc", b"bc") && !contains(b"ab", b"abc"));
    }

    #[test]
    fn the_markers_are_the_dev_providers_own_texts() {
        // The crate name is the package's; the two sentences are in its sources.
        let dev_idp = crate::root().join("crates/dev-idp");
        let manifest = fs::read_to_string(dev_idp.join("Cargo.toml")).unwrap();
        assert!(manifest.contains("name = \"portico_dev_idp\""));
        let mut sources = String::new();
        for entry in fs::read_dir(dev_idp.join("src")).unwrap() {
            sources.push_str(&fs::read_to_string(entry.unwrap().path()).unwrap());
        }
        for marker in &DEV_PROVIDER_MARKERS[..2] {
            assert!(sources.contains(marker), "{marker}");
        }
        // And nowhere in what the release links (a marker there would fail every bundle).
        for dir in [
            "crates/broker/src",
            "crates/shell-core/src",
            "crates/types/src",
            "src-tauri/src",
            "crates/tauri-plugin-portico/src",
            "ui/web",
        ] {
            let mut stack = vec![crate::root().join(dir)];
            while let Some(path) = stack.pop() {
                if path.is_dir() {
                    stack.extend(fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
                    continue;
                }
                // The embedded module names the crate; it is compiled only with the feature.
                if path.ends_with("crates/shell-core/src/embedded.rs") {
                    continue;
                }
                let Ok(text) = fs::read_to_string(&path) else {
                    continue;
                };
                for marker in DEV_PROVIDER_MARKERS {
                    assert!(!text.contains(marker), "{} has {marker}", path.display());
                }
            }
        }
    }
}
