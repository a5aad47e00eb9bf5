//! The real app under measurement: started directly (start-up, memory, sign-in) or through
//! tauri-driver (part 2, scripts timed inside the webview); its process tree's memory from
//! /proc; the scripted "system browser" step of a sign-in against the dev-idp.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use super::http::{self as bench_http, form_encode, request};
use crate::session::HeadlessSession;

pub fn unix_ms_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1e3)
        .unwrap_or(f64::NAN)
}

/// Environment of every app process: the headless session, and only our PORTICO_* values.
pub fn app_command(program: &Path, session: &HeadlessSession, env: &[(String, String)]) -> Command {
    let mut cmd = Command::new(program);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("PORTICO_") {
            cmd.env_remove(k);
        }
    }
    session.apply(&mut cmd);
    cmd.env("NO_AT_BRIDGE", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::null());
    cmd
}

fn log_to(cmd: &mut Command, log: &Path) -> Result<()> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("open {}", log.display()))?;
    cmd.stdout(file.try_clone()?).stderr(file);
    Ok(())
}

/// One app process we started, and when.
pub struct AppRun {
    pub child: Child,
    pub started: Instant,
    pub started_unix_ms: f64,
}

impl AppRun {
    pub fn launch(mut cmd: Command, log: &Path) -> Result<AppRun> {
        log_to(&mut cmd, log)?;
        let started_unix_ms = unix_ms_now();
        let started = Instant::now();
        let child = cmd.spawn().context("start the app")?;
        Ok(AppRun {
            child,
            started,
            started_unix_ms,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stop the app and whatever of its process tree outlives it (WebKit helpers exit with it;
    /// this only makes sure, by pid, for processes this run started).
    pub fn stop(mut self) {
        let tree = process_tree(self.pid());
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        for pid in tree.into_iter().filter(|p| *p != self.pid()) {
            if Path::new(&format!("/proc/{pid}")).exists() {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
        }
    }
}

/// `pid` and all its descendants, from /proc/*/stat.
pub fn process_tree(root: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for e in entries.flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // The command name is in parentheses and may contain spaces: parse after the last ')'.
            let Some(after) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
                continue;
            };
            if let Some(ppid) = after.split_whitespace().nth(1).and_then(|s| s.parse().ok()) {
                children.entry(ppid).or_default().push(pid);
            }
        }
    }
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        if let Some(c) = children.get(&out[i]) {
            out.extend(c);
        }
        i += 1;
    }
    out
}

/// Memory of one process: (name, VmRSS kB, VmHWM kB).
fn status_of(pid: u32) -> Option<(String, u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let mut name = String::new();
    let (mut rss, mut hwm) = (0, 0);
    for line in text.lines() {
        let value = |l: &str| {
            l.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        if let Some(n) = line.strip_prefix("Name:") {
            name = n.trim().to_string();
        } else if line.starts_with("VmRSS:") {
            rss = value(line);
        } else if line.starts_with("VmHWM:") {
            hwm = value(line);
        }
    }
    Some((name, rss, hwm))
}

/// One look at the app's process tree.
#[derive(Debug, Clone, Default)]
pub struct MemSample {
    pub rss_kb: u64,
    pub hwm_kb: u64,
    pub by_name: BTreeMap<String, (u32, u64, u64)>,
}

pub fn sample_memory(root: u32) -> MemSample {
    let mut s = MemSample::default();
    for pid in process_tree(root) {
        if let Some((name, rss, hwm)) = status_of(pid) {
            s.rss_kb += rss;
            s.hwm_kb += hwm;
            let e = s.by_name.entry(name).or_default();
            e.0 += 1;
            e.1 += rss;
            e.2 += hwm;
        }
    }
    s
}

/// The scripted person at the system browser: the app ran `PORTICO_BROWSER` (a script that
/// writes the URL to `url_file`); open it on the dev-idp, press "Continue as alice" and return
/// the redirect (the deep-link callback). Time spent here is not part of any figure.
pub fn sign_in_from(url_file: &Path, limit: Duration) -> Result<String> {
    let start = Instant::now();
    let authorize = loop {
        if let Ok(text) = std::fs::read_to_string(url_file) {
            if let Some(line) = text.lines().find(|l| l.contains("/authorize?")) {
                break line.trim().to_string();
            }
        }
        if start.elapsed() > limit {
            bail!("the app did not open the sign-in page within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let page = request("GET", &authorize, None, Duration::from_secs(30))?;
    if page.status != 200 {
        bail!("the sign-in page answered HTTP {}", page.status);
    }
    let html = page.text();
    let form_at = html.find("<form").context("no form on the sign-in page")?;
    let form_tag = &html[form_at
        ..html[form_at..]
            .find('>')
            .map_or(html.len(), |e| form_at + e)];
    let action = attr(form_tag, "action").context("sign-in form without action")?;
    let mut fields = Vec::new();
    let mut rest = &html[form_at..];
    while let Some(i) = rest.find("<input") {
        let end = rest[i..].find('>').map_or(rest.len(), |e| i + e);
        let tag = &rest[i..end];
        if attr(tag, "type").as_deref() == Some("hidden") {
            if let (Some(n), Some(v)) = (attr(tag, "name"), attr(tag, "value")) {
                fields.push((n, v));
            }
        }
        rest = &rest[end..];
    }
    fields.push(("username".into(), "alice".into()));
    let origin = authorize
        .find("/authorize")
        .map(|i| &authorize[..i])
        .context("authorize URL without origin")?;
    let post_url = if action.starts_with("http://") {
        action
    } else {
        format!("{origin}{action}")
    };
    let body = form_encode(&fields);
    let resp = request(
        "POST",
        &post_url,
        Some(("application/x-www-form-urlencoded", body.as_bytes())),
        Duration::from_secs(30),
    )?;
    let location = resp
        .header("location")
        .context("the sign-in form did not redirect")?
        .to_string();
    if !location.contains("code=") {
        bail!("the provider did not return a code (HTTP {})", resp.status);
    }
    Ok(location)
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let i = tag.find(&key)? + key.len();
    let end = tag[i..].find('"')? + i;
    Some(
        tag[i..end]
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

/// A browser script for `PORTICO_BROWSER`: appends the URL it is given to `url_file`.
pub fn write_browser_script(dir: &Path, url_file: &Path) -> Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let script = dir.join("browser.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n# PORTICO_BROWSER of `cargo xtask bench`: record the URL; the bench signs in.\nprintf '%s\\n' \"$1\" >> '{}'\n",
            url_file.display()
        ),
    )?;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))?;
    Ok(script)
}

/// A free loopback port (bound, read, released).
pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A minimal WebDriver client for tauri-driver: one session, scripts in chosen webviews.
pub struct WebDriver {
    driver: Child,
    base: String,
    session: String,
}

impl WebDriver {
    /// Start tauri-driver (which starts WebKitWebDriver, which starts the app).
    pub fn start(
        tauri_driver: &Path,
        app: &Path,
        session: &HeadlessSession,
        env: &[(String, String)],
        log: &Path,
    ) -> Result<WebDriver> {
        let (port, native) = (free_port()?, free_port()?);
        let mut cmd = app_command(tauri_driver, session, env);
        cmd.args([
            "--port",
            &port.to_string(),
            "--native-port",
            &native.to_string(),
        ]);
        log_to(&mut cmd, log)?;
        let driver = cmd.spawn().context("start tauri-driver")?;
        let base = format!("http://127.0.0.1:{port}");
        let mut wd = WebDriver {
            driver,
            base,
            session: String::new(),
        };
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if start.elapsed() > Duration::from_secs(20) {
                bail!("tauri-driver did not listen on {port}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "wry",
            "tauri:options": { "application": app.to_string_lossy() }
        }}});
        let resp = bench_http::post_json(
            &format!("{}/session", wd.base),
            &caps,
            Duration::from_secs(120),
        )?
        .json()?;
        wd.session = resp["value"]["sessionId"]
            .as_str()
            .with_context(|| format!("no WebDriver session: {resp:.400}"))?
            .to_string();
        wd.call("POST", "timeouts", Some(json!({ "script": 600_000 })))?;
        Ok(wd)
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value> {
        let url = format!("{}/session/{}/{path}", self.base, self.session);
        let bytes = body.map(|b| b.to_string());
        let resp = request(
            method,
            &url,
            bytes.as_deref().map(|b| ("application/json", b.as_bytes())),
            Duration::from_secs(900),
        )?;
        let v = resp.json()?;
        if resp.status != 200 {
            bail!(
                "WebDriver {method} {path}: HTTP {}: {:.400}",
                resp.status,
                v
            );
        }
        Ok(v["value"].clone())
    }

    pub fn handles(&self) -> Result<Vec<String>> {
        Ok(self
            .call("GET", "window/handles", None)?
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|h| h.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default())
    }

    pub fn switch(&self, handle: &str) -> Result<()> {
        self.call("POST", "window", Some(json!({ "handle": handle })))
            .map(|_| ())
    }

    pub fn execute(&self, script: &str, args: Value) -> Result<Value> {
        self.call(
            "POST",
            "execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
    }

    pub fn execute_async(&self, script: &str, args: Value) -> Result<Value> {
        self.call(
            "POST",
            "execute/async",
            Some(json!({ "script": script, "args": args })),
        )
    }

    /// The window handle whose page makes `probe` return a non-null value, and that value.
    pub fn find_view(&self, probe: &str, limit: Duration) -> Result<(String, Value)> {
        let start = Instant::now();
        loop {
            for h in self.handles()? {
                if self.switch(&h).is_err() {
                    continue;
                }
                if let Ok(v) = self.execute(probe, json!([])) {
                    if !v.is_null() {
                        return Ok((h, v));
                    }
                }
            }
            if start.elapsed() > limit {
                bail!("no webview answered the probe within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn app_pid(&self) -> Option<u32> {
        // tauri-driver → WebKitWebDriver → app.
        process_tree(self.driver.id()).into_iter().find(|p| {
            std::fs::read_to_string(format!("/proc/{p}/comm"))
                .map(|c| c.trim() == "portico")
                .unwrap_or(false)
        })
    }
}

impl Drop for WebDriver {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = request(
                "DELETE",
                &format!("{}/session/{}", self.base, self.session),
                None,
                Duration::from_secs(30),
            );
        }
        let tree = process_tree(self.driver.id());
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        for pid in tree.into_iter().skip(1) {
            if Path::new(&format!("/proc/{pid}")).exists() {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
        }
    }
}
