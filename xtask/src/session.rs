//! A headless desktop session for the tests: an X server (Xvfb), a private D-Bus session bus and
//! an unlocked gnome-keyring Secret Service in a throw-away data directory. Everything started
//! here is stopped on drop, also when a test step fails.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

pub struct HeadlessSession {
    children: Vec<Child>,
    dbus_pid: Option<u32>,
    env: Vec<(String, String)>,
    dir: PathBuf,
}

impl HeadlessSession {
    pub fn start() -> Result<HeadlessSession> {
        let dir = std::env::temp_dir().join(format!("portico-session-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("data")).context("create session directory")?;
        std::fs::create_dir_all(dir.join("config"))?;
        std::fs::create_dir_all(dir.join("runtime"))?;
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.join("runtime"), std::fs::Permissions::from_mode(0o700))?;
        }
        let mut s = HeadlessSession {
            children: Vec::new(),
            dbus_pid: None,
            env: Vec::new(),
            dir: dir.clone(),
        };
        s.start_xvfb()?;
        s.start_dbus()?;
        s.start_keyring()?;
        s.env
            .push(("XDG_DATA_HOME".into(), path(&dir.join("data"))));
        s.env
            .push(("XDG_CONFIG_HOME".into(), path(&dir.join("config"))));
        s.env.push((
            "PORTICO_ARTIFACTS".into(),
            path(&crate::root().join("artifacts")),
        ));
        s.env.push((
            "PORTICO_APP".into(),
            path(&crate::target_dir().join("debug").join("portico")),
        ));
        s.env.push((
            "TAURI_DRIVER".into(),
            path(&crate::setup::cargo_bin("tauri-driver")),
        ));
        Ok(s)
    }

    /// Put the session's environment on a command.
    pub fn apply(&self, cmd: &mut Command) {
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        // Runtime dir must be private to us (0700) for gnome-keyring and WebKit.
        cmd.env("XDG_RUNTIME_DIR", path(&self.dir.join("runtime")));
    }

    fn start_xvfb(&mut self) -> Result<()> {
        // First free display number from :90 up.
        let n = (90..200)
            .find(|n| {
                !PathBuf::from(format!("/tmp/.X11-unix/X{n}")).exists()
                    && !PathBuf::from(format!("/tmp/.X{n}-lock")).exists()
            })
            .context("no free X display number")?;
        let child = Command::new("Xvfb")
            .args([
                &format!(":{n}"),
                "-screen",
                "0",
                "1280x800x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("start Xvfb")?;
        self.children.push(child);
        let socket = PathBuf::from(format!("/tmp/.X11-unix/X{n}"));
        wait_for(Duration::from_secs(20), || socket.exists()).context("Xvfb did not come up")?;
        self.env.push(("DISPLAY".into(), format!(":{n}")));
        println!("xtask: Xvfb on :{n}");
        Ok(())
    }

    fn start_dbus(&mut self) -> Result<()> {
        let out = Command::new("dbus-daemon")
            .args([
                "--session",
                "--fork",
                "--nopidfile",
                "--print-address=1",
                "--print-pid=1",
            ])
            .stderr(Stdio::null())
            .output()
            .context("start dbus-daemon --session")?;
        let text = String::from_utf8_lossy(&out.stdout);
        let mut lines = text.lines();
        let address = lines
            .next()
            .filter(|a| a.starts_with("unix:"))
            .context("dbus-daemon printed no address")?
            .to_string();
        self.dbus_pid = lines.next().and_then(|p| p.trim().parse().ok());
        self.env
            .push(("DBUS_SESSION_BUS_ADDRESS".into(), address.clone()));
        println!("xtask: D-Bus session bus {address}");
        Ok(())
    }

    fn start_keyring(&mut self) -> Result<()> {
        let mut cmd = Command::new("gnome-keyring-daemon");
        cmd.args(["--unlock", "--components=secrets", "--foreground"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        // A fresh keyring directory: its "login" collection is created with our password.
        cmd.env("XDG_DATA_HOME", path(&self.dir.join("data")));
        cmd.env("XDG_RUNTIME_DIR", path(&self.dir.join("runtime")));
        let mut child = cmd.spawn().context("start gnome-keyring-daemon")?;
        if let Some(mut stdin) = child.stdin.take() {
            // The throw-away keyring's password; closing stdin ends the unlock read.
            stdin.write_all(b"portico-test")?;
        }
        self.children.push(child);
        // In the foreground it prints nothing useful; it is up when it owns the Secret Service
        // name on our bus.
        let env = self.env.clone();
        wait_for(Duration::from_secs(20), || {
            let mut q = Command::new("dbus-send");
            q.args([
                "--session",
                "--dest=org.freedesktop.DBus",
                "--print-reply",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
                "string:org.freedesktop.secrets",
            ]);
            for (k, v) in &env {
                q.env(k, v);
            }
            q.output()
                .map(|o| String::from_utf8_lossy(&o.stdout).contains("boolean true"))
                .unwrap_or(false)
        })
        .context("gnome-keyring-daemon did not take the Secret Service name")?;
        println!("xtask: gnome-keyring unlocked (throw-away collection)");
        Ok(())
    }
}

impl Drop for HeadlessSession {
    fn drop(&mut self) {
        for child in self.children.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(pid) = self.dbus_pid {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn path(p: &std::path::Path) -> String {
    p.to_string_lossy().into_owned()
}

fn wait_for(limit: Duration, mut ok: impl FnMut() -> bool) -> Result<()> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("timed out after {limit:?}")
}
