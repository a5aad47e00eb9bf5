//! A private desktop session: an X server (Xvfb, or the one in `DISPLAY`), a D-Bus session bus
//! of its own and an unlocked gnome-keyring Secret Service with a fresh collection in a
//! throw-away data directory. Single-instance and deep links go over that bus, so two sessions
//! never see each other's app, and each one starts with an empty keyring.
//!
//! One implementation for every user: `cargo xtask session`/`test`/`reliability` run whole test
//! suites in one, the benchmarks run the app in one, and every end-to-end scenario starts its own
//! inside (reusing the outer X server).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::process::{wait_blocking, ProcessError, ProcessGroup};

/// Where the session's X server comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    /// `DISPLAY` when it is set (a developer's desktop, or an outer session), else a private Xvfb.
    Inherit,
    /// Always a private Xvfb: the same screen for every run (suites, benchmarks).
    Xvfb,
}

/// The running session. Dropping it stops every process it started (and removes the directory
/// it made itself, see [`Desktop::start_in_temp`]).
#[derive(Debug)]
pub struct Desktop {
    env: Vec<(String, String)>,
    // Declared in stop order: keyring before the bus it is on, the X server last.
    keyring: Option<ProcessGroup>,
    dbus: Option<ProcessGroup>,
    xvfb: Option<ProcessGroup>,
    owned_dir: Option<PathBuf>,
}

impl Desktop {
    /// Start the session with its state under `dir` (which must exist and stay until drop),
    /// on the X server in `DISPLAY` if there is one.
    pub fn start(dir: &Path) -> Result<Desktop, ProcessError> {
        Desktop::start_with(dir, Display::Inherit)
    }

    /// Start the session in a fresh temporary directory, removed again on drop.
    pub fn start_in_temp(display: Display) -> Result<Desktop, ProcessError> {
        let dir = std::env::temp_dir().join(format!("portico-session-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut desktop = Desktop::start_with(&dir, display)?;
        desktop.owned_dir = Some(dir);
        Ok(desktop)
    }

    /// Start the session with its state under `dir`, on the X server `display` says.
    pub fn start_with(dir: &Path, display: Display) -> Result<Desktop, ProcessError> {
        let mut d = Desktop {
            env: Vec::new(),
            keyring: None,
            dbus: None,
            xvfb: None,
            owned_dir: None,
        };
        for sub in ["data", "config", "cache", "runtime"] {
            std::fs::create_dir_all(dir.join(sub))
                .map_err(ProcessError::io("create session dirs"))?;
        }
        {
            use std::os::unix::fs::PermissionsExt;
            // gnome-keyring and WebKit insist on a private runtime directory.
            std::fs::set_permissions(dir.join("runtime"), std::fs::Permissions::from_mode(0o700))
                .map_err(ProcessError::io("chmod runtime dir"))?;
        }
        d.set("XDG_DATA_HOME", dir.join("data"));
        d.set("XDG_CONFIG_HOME", dir.join("config"));
        d.set("XDG_CACHE_HOME", dir.join("cache"));
        d.set("XDG_RUNTIME_DIR", dir.join("runtime"));
        // No accessibility bus: it would be activated on our bus and outlive the session.
        d.env.push(("NO_AT_BRIDGE".into(), "1".into()));
        let inherited = std::env::var("DISPLAY").ok().filter(|v| !v.is_empty());
        match (display, inherited) {
            (Display::Inherit, Some(display)) => d.env.push(("DISPLAY".into(), display)),
            _ => d.start_xvfb()?,
        }
        d.start_dbus()?;
        d.start_keyring()?;
        Ok(d)
    }

    fn set(&mut self, key: &str, value: PathBuf) {
        self.env
            .push((key.to_owned(), value.to_string_lossy().into_owned()));
    }

    /// The variables a process needs to live in this session.
    pub fn env(&self) -> &[(String, String)] {
        &self.env
    }

    /// One of the session's variables (`DISPLAY`, `DBUS_SESSION_BUS_ADDRESS`, ...).
    pub fn var(&self, key: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Put the session's environment on a command.
    pub fn apply(&self, cmd: &mut Command) {
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
    }

    /// Whether a name is owned on the session bus (`org.freedesktop.secrets`, the app's
    /// single-instance name, ...): `names` are matched as substrings of the bus's name list.
    pub fn bus_has_name(&self, names: &[&str]) -> bool {
        bus_daemon_call(&self.env, &["ListNames"])
            .is_some_and(|list| list.lines().any(|l| names.iter().any(|n| l.contains(n))))
    }

    fn start_xvfb(&mut self) -> Result<(), ProcessError> {
        let n = (90..400)
            .find(|n| {
                !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
                    && !Path::new(&format!("/tmp/.X{n}-lock")).exists()
            })
            .ok_or_else(|| ProcessError::Setup("no free X display number".into()))?;
        let xvfb = ProcessGroup::spawn(
            "Xvfb",
            Command::new("Xvfb")
                .args([
                    &format!(":{n}"),
                    "-screen",
                    "0",
                    "1280x800x24",
                    "-nolisten",
                    "tcp",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        )?;
        self.xvfb = Some(xvfb);
        let socket = PathBuf::from(format!("/tmp/.X11-unix/X{n}"));
        wait_blocking("Xvfb's socket", Duration::from_secs(20), || socket.exists())?;
        self.env.push(("DISPLAY".into(), format!(":{n}")));
        Ok(())
    }

    fn start_dbus(&mut self) -> Result<(), ProcessError> {
        // In the foreground, as our child: stopped and reaped like every other helper.
        let mut dbus = ProcessGroup::spawn(
            "dbus-daemon --session",
            Command::new("dbus-daemon")
                .args(["--session", "--nofork", "--nopidfile", "--print-address=1"])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null()),
        )?;
        let address = dbus.read_stdout_line()?;
        if !address.starts_with("unix:") {
            return Err(ProcessError::Setup(format!(
                "dbus-daemon printed no address: {address:?}"
            )));
        }
        self.dbus = Some(dbus);
        self.env.push(("DBUS_SESSION_BUS_ADDRESS".into(), address));
        Ok(())
    }

    fn start_keyring(&mut self) -> Result<(), ProcessError> {
        let mut cmd = Command::new("gnome-keyring-daemon");
        cmd.args(["--unlock", "--components=secrets", "--foreground"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        self.apply(&mut cmd);
        let mut keyring = ProcessGroup::spawn("gnome-keyring-daemon", &mut cmd)?;
        // The throw-away collection's password; closing stdin ends the unlock read.
        keyring.write_stdin(b"portico-test")?;
        self.keyring = Some(keyring);
        let env = self.env.clone();
        wait_blocking(
            "gnome-keyring to own org.freedesktop.secrets",
            Duration::from_secs(20),
            || {
                bus_daemon_call(&env, &["NameHasOwner", "string:org.freedesktop.secrets"])
                    .is_some_and(|reply| reply.contains("boolean true"))
            },
        )?;
        Ok(())
    }
}

impl Drop for Desktop {
    fn drop(&mut self) {
        if let Some(mut k) = self.keyring.take() {
            k.stop(Duration::from_secs(2));
        }
        if let Some(mut d) = self.dbus.take() {
            d.stop(Duration::from_secs(2));
        }
        if let Some(mut x) = self.xvfb.take() {
            x.stop(Duration::from_secs(2));
        }
        if let Some(dir) = self.owned_dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Calls `org.freedesktop.DBus.<method>` on the session bus described by `env` (the bus
/// daemon's own interface: name ownership, listing names) and returns the printed reply.
fn bus_daemon_call(env: &[(String, String)], method_and_args: &[&str]) -> Option<String> {
    let (method, args) = method_and_args.split_first()?;
    let output = Command::new("dbus-send")
        .args([
            "--session",
            "--dest=org.freedesktop.DBus",
            "--print-reply",
            "/org/freedesktop/DBus",
        ])
        .arg(format!("org.freedesktop.DBus.{method}"))
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .ok()?;
    Some(String::from_utf8_lossy(&output.stdout).into_owned())
}
