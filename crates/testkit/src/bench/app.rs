//! Parts 2, 4 and 5: the release app in a headless desktop session, against the release dev-idp
//! in a process of its own (a refresh token must stay valid across app restarts). The app is
//! started directly for start-up, memory and sign-in (timed from spawn), and through
//! tauri-driver for part 2 (scripts timed inside the webview by `performance.now()`). The
//! benchmark MFEs report to a loopback listener; part 2's page and frame are served here, with
//! the real auth0-spa-js (`ui/bench-npm`) for the page to run beside Portico's client.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{Query, State};
use axum::http::{header, StatusCode, Uri};
use axum::response::IntoResponse;
use fantoccini::wd::TimeoutConfiguration;
use fantoccini::Client;
use serde_json::{json, Value};

use super::stats::{stats_json, Stats};
use super::{io, json_err, needed, BenchError, Inputs, Plan, Result};
use crate::desktop::{Desktop, Display};
use crate::e2e::app::start_webdriver;
use crate::process::{process_tree, ProcessGroup};

mod soak;
pub(super) use soak::soak;

const BILLING: &str = "https://api.portico.dev/billing";
const CORE: &str = "https://api.portico.dev/core";
const ANALYTICS: &str = "https://api.portico.dev/analytics";
const STARTUP_MFES: [&str; 3] = ["billing", "dashboard", "analytics"];

fn unix_ms_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1e3)
        .unwrap_or(f64::NAN)
}

// ---------------------------------------------------------------- loopback servers

/// What a benchmark MFE reported: which MFE, what (`token`, `shown`, `error:<kind>`), the page's
/// wall-clock time (Unix ms) and when the report arrived here.
#[derive(Debug, Clone)]
struct Report {
    mfe: String,
    what: String,
    at_unix_ms: f64,
    arrived: Instant,
}

/// The loopback listener the benchmark MFEs report to (`GET /ready?mfe=&what=&at=`).
struct ReadyListener {
    url: String,
    reports: Arc<Mutex<Vec<Report>>>,
}

async fn serve(router: axum::Router, what: &str) -> Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(io(format!("bind {what}")))?;
    let addr = listener
        .local_addr()
        .map_err(io(format!("address of {what}")))?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok(format!("http://{addr}"))
}

impl ReadyListener {
    async fn start() -> Result<ReadyListener> {
        let reports = Arc::new(Mutex::new(Vec::new()));
        let router = axum::Router::new()
            .route("/ready", axum::routing::get(record_report))
            .with_state(Arc::clone(&reports));
        let origin = serve(router, "the report listener").await?;
        Ok(ReadyListener {
            url: format!("{origin}/ready"),
            reports,
        })
    }

    fn clear(&self) {
        self.reports
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    fn reports(&self) -> Vec<Report> {
        self.reports
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Wait until each of `mfes` reported once; returns those reports (first per MFE).
    async fn wait_for(&self, mfes: &[&str], limit: Duration) -> Result<Vec<Report>> {
        let start = Instant::now();
        loop {
            let all = self.reports();
            let firsts: Vec<Report> = mfes
                .iter()
                .filter_map(|m| all.iter().find(|r| r.mfe == *m).cloned())
                .collect();
            if firsts.len() == mfes.len() {
                return Ok(firsts);
            }
            if start.elapsed() > limit {
                let seen: Vec<String> = all
                    .iter()
                    .map(|r| format!("{}={}", r.mfe, r.what))
                    .collect();
                return Err(BenchError::Failed(format!(
                    "timed out after {limit:?} waiting for MFE reports from {mfes:?}; got [{}]",
                    seen.join(", ")
                )));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

async fn record_report(
    State(sink): State<Arc<Mutex<Vec<Report>>>>,
    Query(q): Query<HashMap<String, String>>,
) -> impl IntoResponse {
    let arrived = Instant::now();
    let field = |k: &str| q.get(k).cloned().unwrap_or_default();
    sink.lock().unwrap_or_else(|p| p.into_inner()).push(Report {
        mfe: field("mfe"),
        what: field("what"),
        at_unix_ms: field("at").parse().unwrap_or(f64::NAN),
        arrived,
    });
    (
        StatusCode::NO_CONTENT,
        [(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")],
    )
}

/// A static site on its own loopback origin: `dir`'s files, plus the shell's client module at
/// `/_portico/client.js` (the same file the shell serves to bundled MFEs). Returns the origin.
async fn static_site(dir: PathBuf, client_js: PathBuf) -> Result<String> {
    let router = axum::Router::new()
        .fallback(serve_file)
        .with_state(Arc::new((dir, client_js)));
    serve(router, "a static site").await
}

async fn serve_file(State(site): State<Arc<(PathBuf, PathBuf)>>, uri: Uri) -> impl IntoResponse {
    let (dir, client_js) = site.as_ref();
    let path = uri.path();
    let file = if path == "/_portico/client.js" {
        Some(client_js.clone())
    } else {
        let rel = path.trim_start_matches('/');
        let rel = if rel.is_empty() { "index.html" } else { rel };
        // Plain names only: this serves two folders of the repository, nothing else.
        rel.split('/')
            .all(|s| !s.is_empty() && s != ".." && s != "." && !s.contains('%'))
            .then(|| dir.join(rel))
    };
    match file.and_then(|f| std::fs::read(&f).ok().map(|b| (f, b))) {
        Some((f, body)) => {
            let ctype = match f.extension().and_then(|e| e.to_str()) {
                Some("html") => "text/html; charset=utf-8",
                Some("js") => "text/javascript; charset=utf-8",
                _ => "application/octet-stream",
            };
            (
                StatusCode::OK,
                [
                    (header::CONTENT_TYPE, ctype),
                    (header::CACHE_CONTROL, "no-store"),
                ],
                body,
            )
                .into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The seed design's pages on loopback: the shell page and three MFE frame origins.
struct SeedSites {
    shell: String,
    frames: Vec<String>,
}

async fn seed_sites() -> Result<SeedSites> {
    let web = crate::e2e::scenario::repo_root().join("ui").join("web");
    let client_js = web.join("_portico").join("client.js");
    let bench = web.join("bench");
    let shell = static_site(bench.join("seed"), client_js.clone()).await?;
    let mut frames = Vec::new();
    for _ in STARTUP_MFES {
        frames.push(static_site(bench.join("seed-frame"), client_js.clone()).await?);
    }
    Ok(SeedSites { shell, frames })
}

// ---------------------------------------------------------------- the app and its memory

/// One app process started directly (its own process group, with its WebKit processes), and when.
struct AppRun {
    group: ProcessGroup,
    started: Instant,
    started_unix_ms: f64,
}

/// Memory of one process: (name, VmRSS kB, VmHWM kB).
fn status_of(pid: i32) -> Option<(String, u64, u64)> {
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

/// Proportional set size of one process (`Pss` of `/proc/<pid>/smaps_rollup`, kB): its shared
/// pages divided among the processes that share them, so a sum over processes counts each page
/// once. Dearer to read than `status`, so sampled less often.
fn pss_of(pid: i32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("Pss:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// Anonymous memory of one process, kB (`Pss_Anon` of `smaps_rollup`): heaps and the like,
/// which other processes mapping the same files do not change; what a leak grows.
fn anon_pss_of(pid: i32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("Pss_Anon:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// `Pss_Anon` summed over the app's process tree, kB.
fn anon_pss_of_tree(root: i32) -> u64 {
    process_tree(root).into_iter().filter_map(anon_pss_of).sum()
}

/// PSS summed over the app's process tree, kB.
fn pss_of_tree(root: i32) -> u64 {
    process_tree(root).into_iter().filter_map(pss_of).sum()
}

/// One look at the app's process tree.
#[derive(Debug, Clone, Default)]
struct MemSample {
    rss_kb: u64,
    hwm_kb: u64,
    by_name: BTreeMap<String, (u32, u64, u64)>,
}

fn sample_memory(root: i32) -> MemSample {
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

/// A browser script for `PORTICO_BROWSER`: appends the URL it is given to `url_file`.
fn write_browser_script(dir: &Path, url_file: &Path) -> Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let script = dir.join("browser.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n# PORTICO_BROWSER of `cargo xtask bench`: record the URL; the bench signs in.\nprintf '%s\\n' \"$1\" >> '{}'\n",
            url_file.display()
        ),
    )
    .map_err(io("write the browser script"))?;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
        .map_err(io("chmod the browser script"))?;
    Ok(script)
}

// ---------------------------------------------------------------- parts 2, 4, 5

struct Ctx {
    desktop: Desktop,
    app: PathBuf,
    work: PathBuf,
    logs: PathBuf,
    issuer: String,
    listener: ReadyListener,
    browser: PathBuf,
    url_file: PathBuf,
    http: reqwest::Client,
}

impl Ctx {
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

    fn write_config(&self, name: &str, config: &Value) -> Result<PathBuf> {
        let path = self.work.join(format!("{name}.json"));
        let text = serde_json::to_string_pretty(config).map_err(json_err("app configuration"))?;
        std::fs::write(&path, text).map_err(io(format!("write {}", path.display())))?;
        Ok(path)
    }

    /// The three start-up MFEs: same page, each on its own origin with its own audience.
    /// `preload`: all three webviews at start (else only the first; the others when shown).
    fn startup_config(
        &self,
        name: &str,
        auth: bool,
        sign_in: bool,
        preload: bool,
    ) -> Result<PathBuf> {
        let mfe = |id: &str, title: &str, aud: &str, scopes: &[&str], first: bool| {
            json!({
                "id": id, "title": title,
                "source": { "bundled": "bench/mfe" },
                "audiences": [aud], "scopes": scopes, "preload": preload,
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
        self.write_config(name, &config)
    }

    /// The seed article's design (issue 18.2): one URL-sourced MFE webview whose shell page
    /// holds the three MFE pages as cross-origin iframes (one origin each) and hands each its own
    /// audience's token over postMessage; the same provider, session and keyring as Portico's.
    fn seed_config(&self, sites: &SeedSites) -> Result<PathBuf> {
        // Each frame's audience and scopes are those of the same MFE in `startup_config`.
        let frames: Vec<Value> = [
            (BILLING, &["read:invoices", "write:invoices"][..]),
            (CORE, &["read:dashboard"][..]),
            (ANALYTICS, &["read:reports", "export:reports"][..]),
        ]
        .iter()
        .zip(STARTUP_MFES)
        .zip(&sites.frames)
        .map(|(((aud, scopes), id), origin)| {
            json!({ "id": id, "origin": origin, "audience": aud, "scopes": scopes })
        })
        .collect();
        let config = json!({
            "provider": self.provider(),
            "mfes": [
                { "id": "seed", "title": "Shell", "source": { "url": format!("{}/", sites.shell) },
                  "origins": sites.frames,
                  "audiences": [BILLING, CORE, ANALYTICS],
                  "scopes": ["read:invoices", "write:invoices", "read:dashboard", "read:reports", "export:reports"],
                  "settings": { "frames": frames, "report": self.listener.url } },
            ],
        });
        self.write_config("seed", &config)
    }

    /// A copy of the configuration at `config`, as `name`, with `field` set on every MFE.
    fn with_mfe_field(
        &self,
        config: &Path,
        name: &str,
        field: &str,
        value: Value,
    ) -> Result<PathBuf> {
        let text =
            std::fs::read_to_string(config).map_err(io(format!("read {}", config.display())))?;
        let mut v: Value =
            serde_json::from_str(&text).map_err(json_err("a bench configuration"))?;
        for mfe in v["mfes"].as_array_mut().into_iter().flatten() {
            mfe[field] = value.clone();
        }
        self.write_config(name, &v)
    }

    /// Part 2's MFE is served by the bench itself (not bundled): the shell pins every MFE
    /// webview, iframes included, to the MFE's registered origins, and only a URL-sourced MFE
    /// can list a second origin, the one the web bridge's iframe needs.
    /// The page also lists the loopback Billing API at `api` for the fetch cases. A second MFE
    /// at `miss` (an inert page, its webview made at start) holds the Analytics audience for
    /// Portico's cache-miss case: an MFE asking without scopes asks for all it is registered
    /// for, so the bench page cannot hold a second API's scopes without changing its own calls.
    fn micro_config(&self, page: &str, frame: &str, api: &str, miss: &str) -> Result<PathBuf> {
        let config = json!({
            "provider": self.provider(),
            "mfes": [
                { "id": "bench", "title": "Bench", "source": { "url": format!("{page}/") },
                  "origins": [frame],
                  "audiences": [BILLING], "scopes": ["read:invoices", "write:invoices"],
                  "apis": [{ "baseUrl": api, "audience": BILLING }],
                  "settings": { "apiUrl": api } },
                // The provider's login audience must belong to some MFE: an idle one has it.
                { "id": "idle", "title": "Idle", "source": { "bundled": "bench/frame" },
                  "audiences": [CORE], "scopes": ["read:dashboard"] },
                { "id": "miss", "title": "Miss", "source": { "url": format!("{miss}/") },
                  "audiences": [MISS_AUDIENCE], "scopes": ["read:reports", "export:reports"],
                  "preload": true },
            ],
        });
        self.write_config("micro", &config)
    }

    /// The app's environment: the desktop session and only our PORTICO_* values.
    fn env(&self, config: &Path, keyring_service: &str) -> Vec<(String, String)> {
        let mut env = self.desktop.env().to_vec();
        env.extend([
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
        ]);
        env
    }

    fn app_command(&self, env: &[(String, String)]) -> Command {
        let mut cmd = Command::new(&self.app);
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("PORTICO_") {
                cmd.env_remove(k);
            }
        }
        cmd.envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        cmd
    }

    fn launch(&self, env: &[(String, String)], log: &str) -> Result<AppRun> {
        let mut cmd = self.app_command(env);
        let path = self.logs.join(log);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io(format!("open {}", path.display())))?;
        let file2 = file.try_clone().map_err(io("clone the log file"))?;
        cmd.stdout(file).stderr(file2);
        let started_unix_ms = unix_ms_now();
        let started = Instant::now();
        let group = ProcessGroup::spawn("the app", &mut cmd)?;
        Ok(AppRun {
            group,
            started,
            started_unix_ms,
        })
    }

    /// Hands the sign-in callback to the running app as Linux does: a second instance started
    /// with the URL, which forwards it and exits.
    fn deliver(&self, env: &[(String, String)], callback: &str) -> Result<std::process::Child> {
        let mut second = self.app_command(env);
        second
            .arg(callback)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        second.spawn().map_err(io("deliver the callback"))
    }

    async fn counters(&self) -> Value {
        let url = format!("{}__admin/counters", self.issuer);
        match self.http.get(url).send().await {
            Ok(r) => r.json().await.unwrap_or(Value::Null),
            Err(_) => Value::Null,
        }
    }

    /// The scripted person at the system browser: the app ran `PORTICO_BROWSER` (which wrote
    /// the URL to `url_file`); sign in as alice on the dev-idp's page and return the redirect
    /// (the deep-link callback). Time spent here is not part of any figure.
    async fn sign_in(&self, limit: Duration) -> Result<String> {
        let start = Instant::now();
        let authorize = loop {
            if let Ok(text) = std::fs::read_to_string(&self.url_file) {
                if let Some(line) = text.lines().find(|l| l.contains("/authorize?")) {
                    break line.trim().to_string();
                }
            }
            if start.elapsed() > limit {
                return Err(BenchError::Failed(format!(
                    "the app did not open the sign-in page within {limit:?}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        let callback = crate::browser::sign_in(&authorize, "alice").await?;
        if !callback.contains("code=") {
            return Err(BenchError::Failed(
                "the provider did not return a code".into(),
            ));
        }
        Ok(callback)
    }
}

fn counter_delta(before: &Value, after: &Value, key: &str) -> Option<u64> {
    Some(after[key].as_u64()? - before[key].as_u64()?)
}

pub(super) async fn in_app(plan: &Plan, inputs: &Inputs, out: &Path) -> Result<Value> {
    let (ctx, mut idp) = start_ctx(inputs, out, &[]).await?;
    let result = app_parts(plan, &ctx).await;
    idp.stop(Duration::from_secs(3));
    result
}

/// The headless desktop, the release dev-idp (started with `--admin` and `idp_args`) in a
/// process of its own, the report listener and the scripted browser: what every app part needs.
async fn start_ctx(inputs: &Inputs, out: &Path, idp_args: &[&str]) -> Result<(Ctx, ProcessGroup)> {
    let app = needed(&inputs.app, "--app")?;
    let idp_bin = needed(&inputs.dev_idp, "--dev-idp")?;
    let desktop = Desktop::start_in_temp(Display::Xvfb)?;
    let work = out.join("work");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(io(format!("create {}", work.display())))?;
    let logs = out.join("logs");
    std::fs::create_dir_all(&logs).map_err(io(format!("create {}", logs.display())))?;

    // The provider outlives app restarts (a refresh token must stay valid across them).
    let idp_log = std::fs::File::create(logs.join("dev-idp.log")).map_err(io("dev-idp.log"))?;
    let mut idp = ProcessGroup::spawn(
        "the dev-idp",
        Command::new(&idp_bin)
            .arg("--admin")
            .args(idp_args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(idp_log),
    )?;
    let line = idp.read_stdout_line()?;
    let start: Value = serde_json::from_str(&line).map_err(json_err("dev-idp start line"))?;
    let issuer = start["issuer"]
        .as_str()
        .ok_or_else(|| BenchError::Failed(format!("dev-idp start line without issuer: {line}")))?
        .to_string();
    let url_file = work.join("browser-urls.txt");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|source| BenchError::Http {
            what: "HTTP client".into(),
            source,
        })?;
    let ctx = Ctx {
        desktop,
        browser: write_browser_script(&work, &url_file)?,
        url_file,
        app,
        work,
        logs,
        issuer,
        listener: ReadyListener::start().await?,
        http,
    };
    Ok((ctx, idp))
}

async fn app_parts(plan: &Plan, ctx: &Ctx) -> Result<Value> {
    let mut out = json!({ "errors": [] });
    let mut errors = Vec::new();
    // A sign-in is needed by both: the warm start and part 2 use the session it leaves in the keyring.
    let keyring_on = match login_runs(plan, ctx).await {
        Ok((figures, service)) => {
            out["startup"]["login_callback_to_all_tokens"] = figures;
            service
        }
        Err(e) => {
            return Err(BenchError::Failed(format!(
                "sign-in (needed by every app benchmark) failed: {e}"
            )))
        }
    };
    if plan.startup {
        match startup_runs(plan, ctx, &keyring_on).await {
            Ok((startup, memory)) => {
                for (k, v) in startup.as_object().into_iter().flatten() {
                    out["startup"][k] = v.clone();
                }
                out["memory"] = memory;
            }
            Err(e) => errors.push(format!("start-up/memory: {e}")),
        }
    }
    if plan.startup {
        match shown_runs(plan, ctx, &keyring_on).await {
            Ok(v) => out["memory"]["all_shown"] = v,
            Err(e) => errors.push(format!("memory once every MFE is shown: {e}")),
        }
    }
    if plan.webview {
        match webview_micro(plan, ctx, &keyring_on).await {
            Ok(v) => out["webview"] = v,
            Err(e) => errors.push(format!("webview: {e}")),
        }
    }
    out["errors"] = json!(errors);
    Ok(out)
}

/// Part 4b: the app waits signed out; billing asks the shell to sign in; the scripted browser
/// signs in; the bench delivers the callback as Linux does (a second instance with the URL) and
/// times until all three MFEs report a token.
async fn login_runs(plan: &Plan, ctx: &Ctx) -> Result<(Value, String)> {
    let rounds = if plan.quick { 1 } else { 3 };
    let config = ctx.startup_config("login", true, true, true)?;
    let mut page_ms = Vec::new();
    let mut arrival_ms = Vec::new();
    let mut requests = Vec::new();
    let mut service = String::new();
    for i in 0..rounds {
        service = format!("portico-bench-login-{i}-{}", std::process::id());
        let _ = std::fs::remove_file(&ctx.url_file);
        ctx.listener.clear();
        let env = ctx.env(&config, &service);
        let mut run = ctx.launch(&env, &format!("login-{i}.log"))?;
        let result = async {
            let callback = ctx.sign_in(Duration::from_secs(60)).await?;
            let before = ctx.counters().await;
            let t0 = Instant::now();
            let t0_unix = unix_ms_now();
            let mut second = ctx.deliver(&env, &callback)?;
            let reports = ctx
                .listener
                .wait_for(&STARTUP_MFES, Duration::from_secs(60))
                .await?;
            let _ = second.wait();
            if let Some(bad) = reports.iter().find(|r| r.what != "token") {
                return Err(BenchError::Failed(format!(
                    "MFE {} reported {}",
                    bad.mfe, bad.what
                )));
            }
            let last_page = reports
                .iter()
                .map(|r| r.at_unix_ms)
                .fold(f64::MIN, f64::max);
            let last_arrival = reports.iter().map(|r| r.arrived).max().unwrap_or(t0);
            page_ms.push(last_page - t0_unix);
            arrival_ms.push(last_arrival.duration_since(t0).as_secs_f64() * 1e3);
            let after = ctx.counters().await;
            requests.push(json!({
                "authorization_code": counter_delta(&before, &after, "token_authorization_code"),
                "refresh": counter_delta(&before, &after, "token_refresh"),
            }));
            Ok(())
        }
        .await;
        run.group.stop(Duration::from_secs(5));
        result.map_err(|e| BenchError::Failed(format!("sign-in round {i}: {e}")))?;
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

async fn startup_runs(plan: &Plan, ctx: &Ctx, keyring_on: &str) -> Result<(Value, Value)> {
    let rounds = if plan.quick { 2 } else { 7 };
    let on = ctx.startup_config("startup-on", true, false, true)?;
    let off = ctx.startup_config("startup-off", false, false, true)?;
    let lazy = ctx.startup_config("startup-on-demand", true, false, false)?;
    let seed = ctx.seed_config(&seed_sites().await?)?;
    // Never signed in: the shell finds nothing in the keyring and asks the provider nothing.
    let keyring_off = format!("portico-bench-off-{}", std::process::id());
    #[derive(Default)]
    struct Series {
        ready_ms: Vec<f64>,
        peak_kb: Vec<f64>,
        steady_kb: Vec<f64>,
        steady_pss_kb: Vec<f64>,
        hwm_sum_kb: Vec<f64>,
        requests: Vec<Value>,
        processes: Value,
    }
    let mut series = [Series::default(), Series::default(), Series::default()];
    // Portico with auth on and off, and the seed's one-webview design (signed in, like "on").
    let modes = [
        ("on", &on, keyring_on, "token"),
        ("off", &off, keyring_off.as_str(), "shown"),
        ("seed", &seed, keyring_on, "token"),
    ];
    // Round 0 warms the page cache and is not counted.
    for round in 0..=rounds {
        for (k, (mode, config, service, expected)) in modes.into_iter().enumerate() {
            // The machine is shared: an app that could not start (display or bus gone for a
            // moment) gets one more try; a second failure ends the part.
            let mut attempt = 0;
            let (before, m) = loop {
                ctx.listener.clear();
                let before = ctx.counters().await;
                let mut run = ctx.launch(
                    &ctx.env(config, service),
                    &format!("startup-{mode}-{round}-{attempt}.log"),
                )?;
                let measured = measure_startup(ctx, &mut run, &STARTUP_MFES).await;
                run.group.stop(Duration::from_secs(5));
                match measured {
                    Ok(m) => break (before, m),
                    Err(e) if attempt == 0 => {
                        println!("bench: start-up round {round} ({mode}) failed, retrying: {e}");
                        attempt += 1;
                    }
                    Err(e) => {
                        return Err(BenchError::Failed(format!(
                            "start-up round {round} ({mode}): {e}"
                        )))
                    }
                }
            };
            if let Some(bad) = m.reports_what.iter().find(|w| *w != expected) {
                return Err(BenchError::Failed(format!(
                    "an MFE reported `{bad}` in a start-up ({mode})"
                )));
            }
            if round == 0 {
                continue;
            }
            let after = ctx.counters().await;
            let s = &mut series[k];
            s.ready_ms.push(m.ready_ms);
            s.peak_kb.push(m.peak_kb);
            s.steady_kb.push(m.steady_kb);
            s.steady_pss_kb.push(m.steady_pss_kb);
            s.hwm_sum_kb.push(m.hwm_sum_kb);
            s.requests.push(json!({
                "refresh": counter_delta(&before, &after, "token_refresh"),
                "reuse_detections": counter_delta(&before, &after, "reuse_detections"),
            }));
            s.processes = m.processes;
        }
    }
    // The same shell with webviews on demand: only the first MFE's at start (issue 18.3), with
    // auth and without, interleaved.
    let lazy_off = ctx.startup_config("startup-on-demand-off", false, false, false)?;
    let (mut lazy_s, mut lazy_off_s) = (Series::default(), Series::default());
    for round in 0..=rounds {
        for auth in [true, false] {
            let (config, service, mode) = if auth {
                (&lazy, keyring_on, "on")
            } else {
                (&lazy_off, keyring_off.as_str(), "off")
            };
            ctx.listener.clear();
            let mut run = ctx.launch(
                &ctx.env(config, service),
                &format!("startup-on-demand-{mode}-{round}.log"),
            )?;
            let measured = measure_startup(ctx, &mut run, &STARTUP_MFES[..1]).await;
            run.group.stop(Duration::from_secs(5));
            let m = measured.map_err(|e| {
                BenchError::Failed(format!("on-demand start-up round {round} ({mode}): {e}"))
            })?;
            if round == 0 {
                continue;
            }
            let s = if auth { &mut lazy_s } else { &mut lazy_off_s };
            s.ready_ms.push(m.ready_ms);
            s.steady_kb.push(m.steady_kb);
            s.steady_pss_kb.push(m.steady_pss_kb);
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
    let [on_s, off_s, seed_s] = &series;
    let startup = json!({
        "warm_start_auth_on_ms": stats_json(&on_s.ready_ms, "ms"),
        "start_auth_off_ms": stats_json(&off_s.ready_ms, "ms"),
        "ratio_on_over_off_p50": ratio(&on_s.ready_ms, &off_s.ready_ms),
        // Least disturbed runs: on a shared machine the minimum is the steadier comparison.
        "ratio_on_over_off_min": min(&on_s.ready_ms) / min(&off_s.ready_ms),
        "on_demand_first_mfe_token_ms": stats_json(&lazy_s.ready_ms, "ms"),
        "on_demand_auth_off_first_mfe_shown_ms": stats_json(&lazy_off_s.ready_ms, "ms"),
        "ratio_on_demand_on_over_off_p50": ratio(&lazy_s.ready_ms, &lazy_off_s.ready_ms),
        "ratio_on_demand_on_over_off_min": min(&lazy_s.ready_ms) / min(&lazy_off_s.ready_ms),
        "seed_design_three_tokens_ms": stats_json(&seed_s.ready_ms, "ms"),
        "ratio_on_over_seed_p50": ratio(&on_s.ready_ms, &seed_s.ready_ms),
        "seed_token_endpoint_requests": seed_s.requests,
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
            "steady_pss_kb": stats_json(&on_s.steady_pss_kb, "kB"),
            "sum_of_vmhwm_kb": stats_json(&on_s.hwm_sum_kb, "kB"),
            "processes_last_round": on_s.processes,
        },
        "auth_off": {
            "peak_rss_kb": stats_json(&off_s.peak_kb, "kB"),
            "steady_rss_kb": stats_json(&off_s.steady_kb, "kB"),
            "steady_pss_kb": stats_json(&off_s.steady_pss_kb, "kB"),
            "sum_of_vmhwm_kb": stats_json(&off_s.hwm_sum_kb, "kB"),
            "processes_last_round": off_s.processes,
        },
        "ratio_steady_on_over_off_p50": ratio(&on_s.steady_kb, &off_s.steady_kb),
        "ratio_steady_pss_on_over_off_p50": ratio(&on_s.steady_pss_kb, &off_s.steady_pss_kb),
        "on_demand": {
            "steady_pss_kb": stats_json(&lazy_s.steady_pss_kb, "kB"),
            "steady_rss_kb": stats_json(&lazy_s.steady_kb, "kB"),
            "processes_last_round": lazy_s.processes,
            "what": "auth on, three MFEs registered, only the first one's webview made at start (the others when first shown), measured 3-5 s after it holds its token",
        },
        "ratio_pss_on_demand_over_eager_p50": ratio(&lazy_s.steady_pss_kb, &on_s.steady_pss_kb),
        "seed_design": {
            "steady_pss_kb": stats_json(&seed_s.steady_pss_kb, "kB"),
            "steady_rss_kb": stats_json(&seed_s.steady_kb, "kB"),
            "peak_rss_kb": stats_json(&seed_s.peak_kb, "kB"),
            "processes_last_round": seed_s.processes,
            "what": "the seed article's design: the chrome plus one webview whose shell page holds the three MFE pages as cross-origin iframes (three loopback origins) and answers their GET_TOKEN over postMessage; signed in, measured like the others 3-5 s after all three frames hold their tokens",
        },
        "ratio_pss_on_demand_over_seed_p50": ratio(&lazy_s.steady_pss_kb, &seed_s.steady_pss_kb),
        "ratio_pss_eager_over_seed_p50": ratio(&on_s.steady_pss_kb, &seed_s.steady_pss_kb),
        "ratio_peak_on_over_off_p50": ratio(&on_s.peak_kb, &off_s.peak_kb),
        "what": "sum over the app's process tree (the app and its WebKit processes) of /proc/<pid>/status VmRSS, sampled every 20 ms from spawn: peak = highest sum; steady = median of sums 3-5 s after all MFEs reported; steady PSS: the same window, /proc/<pid>/smaps_rollup Pss summed over the tree every 100 ms (shared pages counted once, split among their sharers); sum_of_vmhwm = per-process peaks added up at the end",
    });
    Ok((startup, memory))
}

struct StartupMeasure {
    ready_ms: f64,
    reports_what: Vec<String>,
    peak_kb: f64,
    steady_kb: f64,
    steady_pss_kb: f64,
    hwm_sum_kb: f64,
    processes: Value,
}

async fn measure_startup(ctx: &Ctx, run: &mut AppRun, expect: &[&str]) -> Result<StartupMeasure> {
    let limit = Duration::from_secs(90);
    let mut peak = 0u64;
    let ready_at: Instant;
    let reports = loop {
        let m = sample_memory(run.group.pid());
        peak = peak.max(m.rss_kb);
        let all = ctx.listener.reports();
        if expect.iter().all(|id| all.iter().any(|r| r.mfe == *id)) {
            ready_at = Instant::now();
            break all;
        }
        if let Some(status) = run.group.exit_status() {
            return Err(BenchError::Failed(format!(
                "the app exited before its MFEs reported ({status})"
            )));
        }
        if run.started.elapsed() > limit {
            return Err(BenchError::Failed(format!(
                "MFEs did not all report within {limit:?}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let firsts: Vec<&Report> = expect
        .iter()
        .filter_map(|id| reports.iter().find(|r| r.mfe == *id))
        .collect();
    let last = firsts.iter().map(|r| r.at_unix_ms).fold(f64::MIN, f64::max);
    let mut steady = Vec::new();
    let mut steady_pss = Vec::new();
    let mut last_sample = MemSample::default();
    let mut n = 0u32;
    while ready_at.elapsed() < Duration::from_secs(5) {
        let m = sample_memory(run.group.pid());
        peak = peak.max(m.rss_kb);
        if ready_at.elapsed() >= Duration::from_secs(3) {
            steady.push(m.rss_kb as f64);
            // Every fifth sample (100 ms): smaps_rollup walks the page tables.
            if n.is_multiple_of(5) {
                steady_pss.push(pss_of_tree(run.group.pid()) as f64);
            }
            n += 1;
        }
        last_sample = m;
        tokio::time::sleep(Duration::from_millis(20)).await;
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
        steady_pss_kb: Stats::of(&steady_pss).map_or(f64::NAN, |s| s.p50),
        hwm_sum_kb: last_sample.hwm_kb as f64,
        processes,
    })
}

/// Part 5b: PSS once every MFE has been shown (issue 18.2–3), against the seed's design, both
/// started through tauri-driver so a person's clicks on the tabs can be made: the on-demand
/// Portico shell is measured with its first MFE shown, then again after the chrome's other two
/// tabs were clicked and their MFEs hold tokens; the seed design shows its three frames at once.
async fn shown_runs(plan: &Plan, ctx: &Ctx, keyring_on: &str) -> Result<Value> {
    let rounds = if plan.quick { 1 } else { 3 };
    let lazy = ctx.startup_config("shown-on-demand", true, false, false)?;
    // Every MFE may be freed once hidden UNLOAD_AFTER_SECS: long enough that none is freed
    // before the "all shown" figure is taken.
    let lazy = ctx.with_mfe_field(
        &lazy,
        "shown-on-demand-unload",
        "unloadAfterSecs",
        json!(UNLOAD_AFTER_SECS),
    )?;
    let seed = ctx.seed_config(&seed_sites().await?)?;
    let (mut first_shown, mut all_shown, mut seed_pss) = (Vec::new(), Vec::new(), Vec::new());
    let mut after_unload = Vec::new();
    // Round 0 warms up and is not counted.
    for round in 0..=rounds {
        ctx.listener.clear();
        let env = ctx.env(&seed, keyring_on);
        let log = ctx.logs.join(format!("shown-seed-{round}.log"));
        let (client, driver) = start_webdriver(&ctx.app, &[], &env, &log).await?;
        let measured = async {
            let app = app_pid(&driver)?;
            let ready = ctx
                .listener
                .wait_for(&STARTUP_MFES, Duration::from_secs(60))
                .await?;
            expect_tokens(&ready, "seed design")?;
            Ok::<_, BenchError>(steady_pss(app, Instant::now()).await)
        }
        .await;
        close_app(client, driver).await;
        let pss = measured.map_err(|e| BenchError::Failed(format!("seed round {round}: {e}")))?;

        ctx.listener.clear();
        let env = ctx.env(&lazy, keyring_on);
        let log = ctx.logs.join(format!("shown-on-demand-{round}.log"));
        let (client, driver) = start_webdriver(&ctx.app, &[], &env, &log).await?;
        let measured = async {
            let app = app_pid(&driver)?;
            let ready = ctx
                .listener
                .wait_for(&STARTUP_MFES[..1], Duration::from_secs(60))
                .await?;
            expect_tokens(&ready, "on-demand start")?;
            let one = steady_pss(app, Instant::now()).await;
            find_view(&client, CHROME_TABS_READY, Duration::from_secs(30)).await?;
            for id in &STARTUP_MFES[1..] {
                let tab = format!("[data-testid=\"tab-{id}\"]");
                client
                    .find(fantoccini::Locator::Css(&tab))
                    .await
                    .map_err(webdriver("finding a tab"))?
                    .click()
                    .await
                    .map_err(webdriver("clicking a tab"))?;
                let r = ctx
                    .listener
                    .wait_for(&[id], Duration::from_secs(60))
                    .await?;
                expect_tokens(&r, "a tab shown")?;
            }
            let last_shown = Instant::now();
            let all = steady_pss(app, last_shown).await;
            // The two MFEs hidden since are freed UNLOAD_AFTER_SECS after they were hidden.
            let freed_by = Duration::from_secs(UNLOAD_AFTER_SECS + 1);
            if let Some(wait) = freed_by.checked_sub(last_shown.elapsed()) {
                tokio::time::sleep(wait).await;
            }
            let freed = steady_pss(app, Instant::now()).await;
            Ok::<_, BenchError>((one, all, freed))
        }
        .await;
        close_app(client, driver).await;
        let (one, all, freed) =
            measured.map_err(|e| BenchError::Failed(format!("on-demand round {round}: {e}")))?;
        if round > 0 {
            seed_pss.push(pss);
            first_shown.push(one);
            all_shown.push(all);
            after_unload.push(freed);
        }
    }
    let p50 = |v: &[f64]| Stats::of(v).map_or(f64::NAN, |s| s.p50);
    Ok(json!({
        "on_demand_first_shown_pss_kb": stats_json(&first_shown, "kB"),
        "on_demand_all_shown_pss_kb": stats_json(&all_shown, "kB"),
        "seed_design_pss_kb": stats_json(&seed_pss, "kB"),
        "ratio_all_shown_over_seed_p50": p50(&all_shown) / p50(&seed_pss),
        "ratio_first_shown_over_seed_p50": p50(&first_shown) / p50(&seed_pss),
        "on_demand_after_unload_pss_kb": stats_json(&after_unload, "kB"),
        "ratio_after_unload_over_seed_p50": p50(&after_unload) / p50(&seed_pss),
        "unload_after_secs": UNLOAD_AFTER_SECS,
        "rounds": rounds,
        "what": "both started through tauri-driver (WebKitWebDriver starts the app; its own processes are not counted): PSS summed over the app's process tree, median of samples every 100 ms 3-5 s after the MFEs shown hold their tokens; Portico with webviews on demand and every MFE registered with `unloadAfterSecs: 12`, first with its first MFE shown, then 3-5 s after clicking the chrome's two other tabs (nothing freed yet), then once the two MFEs hidden since were freed; the seed design with its three frames",
    }))
}

/// Ends the WebDriver session (which closes the app) and stops tauri-driver.
async fn close_app(client: Client, mut driver: ProcessGroup) {
    let _ = tokio::time::timeout(Duration::from_secs(30), client.close()).await;
    tokio::task::spawn_blocking(move || driver.stop(Duration::from_secs(5)))
        .await
        .ok();
}

/// `unloadAfterSecs` of the MFEs in part 5b.
const UNLOAD_AFTER_SECS: u64 = 12;

/// The app under tauri-driver (tauri-driver → WebKitWebDriver → the app).
fn app_pid(driver: &ProcessGroup) -> Result<i32> {
    process_tree(driver.pid())
        .into_iter()
        .find(|p| {
            std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "portico")
        })
        .ok_or_else(|| BenchError::Failed("no app process under tauri-driver".into()))
}

fn expect_tokens(reports: &[Report], when: &str) -> Result<()> {
    match reports.iter().find(|r| r.what != "token") {
        Some(bad) => Err(BenchError::Failed(format!(
            "{when}: MFE {} reported {}",
            bad.mfe, bad.what
        ))),
        None => Ok(()),
    }
}

/// Median PSS of the tree under `root`, sampled every 100 ms from 3 s to 5 s after `ready`.
async fn steady_pss(root: i32, ready: Instant) -> f64 {
    let mut samples = Vec::new();
    while ready.elapsed() < Duration::from_secs(5) {
        if ready.elapsed() >= Duration::from_secs(3) {
            samples.push(pss_of_tree(root) as f64);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Stats::of(&samples).map_or(f64::NAN, |s| s.p50)
}

const CHROME_TABS_READY: &str =
    "return document.querySelector('[data-testid=\"tab-dashboard\"]') ? true : null;";

const RUN_SCRIPT: &str = r#"
const done = arguments[arguments.length - 1];
window.porticoBench.run(arguments[0]).then(done, (e) => done({ error: String((e && (e.message || e.kind)) || e) }));
"#;

const NATIVE_TOKEN_SCRIPT: &str = r#"
const done = arguments[arguments.length - 1];
window.__TAURI_INTERNALS__.invoke("plugin:portico|mfe_context")
  .then((c) => window.__TAURI_INTERNALS__.invoke("plugin:portico|get_token", { audience: c.audiences[0] }))
  .then(() => done(true), (e) => done((e && e.kind) || String(e)));
"#;

/// auth0-spa-js in the bench page: `loginWithRedirect` with an `openUrl` that hands back the
/// authorization URL (the page never navigates).
const AUTH0_LOGIN_SCRIPT: &str = r#"
const done = arguments[arguments.length - 1];
window.porticoBench.auth0Login(arguments[0]).then(done, (e) => done({ error: String((e && (e.message || e.error)) || e) }));
"#;

/// auth0-spa-js's `handleRedirectCallback` with the URL the provider redirected the browser to.
const AUTH0_CALLBACK_SCRIPT: &str = r#"
const done = arguments[arguments.length - 1];
window.porticoBench.auth0Callback(arguments[0]).then(done, (e) => done({ error: String((e && (e.message || e.error)) || e) }));
"#;

/// (k) in the bench page: one `getTokenSilently({ cacheMode: 'off' })`, timed in the page.
const AUTH0_REFRESH_SCRIPT: &str = r#"
const done = arguments[arguments.length - 1];
window.porticoBench.auth0Refresh().then(done, (e) => done({ error: String((e && (e.message || e.error)) || e) }));
"#;

/// (l) in the miss MFE's webview: one `get_token` over IPC, timed in the page.
const IPC_MISS_SCRIPT: &str = r#"
const done = arguments[arguments.length - 1];
const start = performance.now();
window.__TAURI_INTERNALS__.invoke("plugin:portico|get_token", { audience: arguments[0] })
  .then((g) => done({ ms: performance.now() - start, token: g.accessToken }),
        (e) => done({ error: (e && e.kind) || String(e) }));
"#;

/// Where the bench page imports auth0-spa-js from; the file is the package's own browser build
/// (ES module), installed by `cargo xtask bench` from `ui/bench-npm/package-lock.json`.
const AUTH0_SPA_JS_PATH: &str = "/vendor/auth0-spa-js.js";

/// The audience of Portico's cache-miss case (l): the provider gives its tokens a lifetime
/// (`MISS_TOKEN_TTL_SECS`) under the shell's minimum (60 s by default), so the shell's cache
/// never holds one it may serve and every `get_token` for it is a refresh-token grant.
const MISS_AUDIENCE: &str = ANALYTICS;
const MISS_TOKEN_TTL_SECS: u64 = 30;
/// Spacing of the misses: Portico allows an MFE a burst of 20 provider requests, then 30 a
/// minute (`BrokerOptions::caller_token_rate`).
const MISS_GAP: Duration = Duration::from_millis(2050);

const BENCH_PAGE_READY: &str = "return (window.porticoBench && document.getElementById('status').textContent === 'ready') ? location.origin : null;";

fn webdriver(what: &str) -> impl FnOnce(fantoccini::error::CmdError) -> BenchError + '_ {
    move |source| {
        BenchError::Harness(crate::e2e::error::E2eError::WebDriver {
            what: what.to_owned(),
            source,
        })
    }
}

/// Switch to the webview whose page makes `probe` return a non-null value.
async fn find_view(client: &Client, probe: &str, limit: Duration) -> Result<()> {
    let start = Instant::now();
    loop {
        let handles = client
            .windows()
            .await
            .map_err(webdriver("listing window handles"))?;
        for h in handles {
            if client.switch_to_window(h).await.is_err() {
                continue;
            }
            if let Ok(v) = client.execute(probe, vec![]).await {
                if !v.is_null() {
                    return Ok(());
                }
            }
        }
        if start.elapsed() > limit {
            return Err(BenchError::Failed(format!(
                "no webview answered the probe within {limit:?}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The bench page's site: its folder and the client (as [`static_site`]), plus auth0-spa-js's
/// browser build at [`AUTH0_SPA_JS_PATH`].
async fn page_site(dir: PathBuf, client_js: PathBuf, auth0_js: PathBuf) -> Result<String> {
    let router = axum::Router::new()
        .fallback(serve_page_file)
        .with_state(Arc::new((Arc::new((dir, client_js)), auth0_js)));
    serve(router, "the bench page's site").await
}

type PageSite = (Arc<(PathBuf, PathBuf)>, PathBuf);

async fn serve_page_file(State(site): State<Arc<PageSite>>, uri: Uri) -> axum::response::Response {
    let (files, auth0_js) = site.as_ref();
    if uri.path() != AUTH0_SPA_JS_PATH {
        return serve_file(State(Arc::clone(files)), uri)
            .await
            .into_response();
    }
    match std::fs::read(auth0_js) {
        Ok(body) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            body,
        )
            .into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

/// auth0-spa-js as installed by `cargo xtask bench` (`ui/bench-npm`): its ES-module browser
/// build and its version.
fn auth0_spa_js() -> Result<(PathBuf, String)> {
    let pkg = crate::e2e::scenario::repo_root()
        .join("ui")
        .join("bench-npm")
        .join("node_modules")
        .join("@auth0")
        .join("auth0-spa-js");
    let manifest: Value = std::fs::read_to_string(pkg.join("package.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .ok_or_else(|| {
            BenchError::Failed(format!(
                "auth0-spa-js is not installed at {} (`cargo xtask bench` runs `npm ci` in ui/bench-npm)",
                pkg.display()
            ))
        })?;
    let version = manifest["version"].as_str().unwrap_or("?").to_owned();
    let module = pkg.join("dist").join("auth0-spa-js.production.esm.js");
    if !module.is_file() {
        return Err(BenchError::Failed(format!(
            "auth0-spa-js {version} has no browser build at {}",
            module.display()
        )));
    }
    Ok((module, version))
}

/// Gives one API its own access-token lifetime at the bench provider (`None`: the provider's).
async fn set_api_token_ttl(ctx: &Ctx, audience: &str, secs: Option<u64>) -> Result<()> {
    let url = format!("{}__admin/api-access-token-ttl", ctx.issuer);
    let resp = ctx
        .http
        .put(url)
        .json(&json!({ "audience": audience, "secs": secs }))
        .send()
        .await
        .map_err(|source| BenchError::Http {
            what: "set an API's token lifetime at the dev-idp".into(),
            source,
        })?;
    if !resp.status().is_success() {
        return Err(BenchError::Failed(format!(
            "the dev-idp refused a token lifetime for {audience}: HTTP {}",
            resp.status()
        )));
    }
    Ok(())
}

/// Part 2: one page, one run, the ways to a token (Portico's, the seed's bridge, auth0-spa-js's),
/// timed by performance.now() in the page.
async fn webview_micro(plan: &Plan, ctx: &Ctx, keyring_on: &str) -> Result<Value> {
    let web = crate::e2e::scenario::repo_root().join("ui").join("web");
    let client_js = web.join("_portico").join("client.js");
    let (auth0_js, auth0_version) = auth0_spa_js()?;
    let page = page_site(web.join("bench").join("page"), client_js.clone(), auth0_js).await?;
    let frame = static_site(web.join("bench").join("frame"), client_js.clone()).await?;
    // The miss MFE's page: inert (the frame page without a shell to answer), driven over WebDriver.
    let miss = static_site(web.join("bench").join("frame"), client_js).await?;
    // The demo APIs in this process, validating the bench provider's tokens: the fetch cases
    // call the Billing one both ways.
    let issuer = url::Url::parse(&ctx.issuer)
        .map_err(|e| BenchError::Failed(format!("the bench provider's issuer: {e}")))?;
    let apis =
        portico_dev_idp::DemoApis::start(&issuer, &portico_dev_idp::IdpConfig::portico_demo().apis)
            .await
            .map_err(|e| BenchError::Failed(format!("the demo APIs: {e}")))?;
    let api = apis
        .url_for(BILLING)
        .ok_or_else(|| BenchError::Failed("no demo Billing API".into()))?;
    let config = ctx.micro_config(&page, &frame, api.as_str(), &miss)?;
    let env = ctx.env(&config, keyring_on);
    // Case (l)'s audience gets tokens shorter-lived than the shell's minimum TTL.
    set_api_token_ttl(ctx, MISS_AUDIENCE, Some(MISS_TOKEN_TTL_SECS)).await?;
    let (client, driver) =
        start_webdriver(&ctx.app, &[], &env, &ctx.logs.join("webview.log")).await?;
    let measured = measure_in_page(plan, ctx, &client, [&page, &frame, &miss]).await;
    let app_pid = app_pid(&driver).ok();
    close_app(client, driver).await;
    let reset = set_api_token_ttl(ctx, MISS_AUDIENCE, None).await;
    let InPage {
        mut result,
        refresh,
        rounds,
        warmup,
        batch,
        grants,
    } = measured?;
    reset?;
    if let Some(e) = result.get("error") {
        return Err(BenchError::Failed(format!("the bench page failed: {e}")));
    }
    // The two refresh paths, one call per sample.
    for name in ["k_auth0_refresh", "l_ipc_miss"] {
        result["cases"][name] = json!({ "batch": refresh[name], "single": refresh[name] });
    }
    let mut cases = serde_json::Map::new();
    for name in [
        "a_client_cache",
        "b_ipc_get_token",
        "c_ipc_ping",
        "d_web_bridge",
        "e_ipc_context",
        "f_native_fetch_1k",
        "g_page_fetch_1k",
        "h_native_fetch_100k",
        "i_page_fetch_100k",
        "j_auth0_cache",
        "k_auth0_refresh",
        "l_ipc_miss",
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
    let stat = |name: &str, which: &str| {
        cases[name]["per_call_ms_batch_means"][which]
            .as_f64()
            .unwrap_or(f64::NAN)
    };
    let p50 = |name: &str| stat(name, "p50");
    Ok(json!({
        "cases": cases,
        "ratio_b_over_c_p50": p50("b_ipc_get_token") / p50("c_ipc_ping"),
        "ratio_a_over_d_p50": p50("a_client_cache") / p50("d_web_bridge"),
        "ratio_native_over_page_fetch_1k_p50": p50("f_native_fetch_1k") / p50("g_page_fetch_1k"),
        "ratio_native_over_page_fetch_100k_p50": p50("h_native_fetch_100k") / p50("i_page_fetch_100k"),
        "ratio_j_over_a_p50": p50("j_auth0_cache") / p50("a_client_cache"),
        "ratio_k_over_l_p50": p50("k_auth0_refresh") / p50("l_ipc_miss"),
        "ratio_k_over_l_mean": stat("k_auth0_refresh", "mean") / stat("l_ipc_miss", "mean"),
        "fetch_what": "GET of 1 KiB and 100 KiB from the demo Billing API on loopback, body read in full: f/h through the shell (`fetch` from the client: IPC, reqwest with the cached token, the answer as raw bytes), g/i the page's own fetch with the cached token from the client (`getToken` + `Authorization: Bearer`, CORS)",
        "auth0_spa_js": {
            "version": auth0_version,
            "config": "new Auth0Client({ domain: <the dev-idp, http on loopback>, clientId: 'portico-spa', cacheLocation: 'memory', useRefreshTokens: true, authorizationParams: { audience: Billing, scope: 'openid profile email read:invoices write:invoices', redirect_uri: <the page> } }), in the bench page beside Portico's client; signed in by loginWithRedirect({ openUrl }) (the bench's scripted browser signs in as alice at the dev-idp) and handleRedirectCallback(<callback URL>)",
            "j_what": "getTokenSilently() with its in-memory cache holding the token (the client's audience and scope), interleaved with the other in-page cases",
            "k_what": "getTokenSilently({ cacheMode: 'off' }): its lock, a refresh-token grant at the dev-idp's /oauth/token from its worker (CORS, rotation), the ID token checked, the tokens cached; one call a round, alternating with (l)",
            "token_is_a_jwt": result["auth0_token_is_a_jwt"],
            "k_calls": refresh["k_calls"],
            "k_distinct_tokens": refresh["k_distinct_tokens"],
            "k_cache_hands_out_the_refreshed_token": refresh["k_cached_after"],
        },
        "ipc_miss": {
            "audience": MISS_AUDIENCE,
            "token_lifetime_s": MISS_TOKEN_TTL_SECS,
            "gap_ms": MISS_GAP.as_millis() as u64,
            "what": "get_token over IPC from a second MFE webview (registered for Analytics only, its page inert) for an API whose tokens the dev-idp issues for 30 s, under the shell's 60 s minimum TTL: the shell's cache never holds one it may serve, so every call is a miss (single flight, one refresh-token grant with audience=, the rotated refresh token written to the keyring, the token cached and pushed); one call a round, alternating with (k), gap_ms apart because Portico lets an MFE cause 20 provider requests at once, then 30 a minute (the wait is not timed)",
            "l_calls": refresh["l_calls"],
            "l_distinct_tokens": refresh["l_distinct_tokens"],
        },
        "provider_grants_during_run": grants,
        "timer_resolution_ms": result["resolution_ms"],
        "same_token_in_all_cases": result["same_token"],
        "mfe_ping_result": result["ping_result"],
        "user_agent": result["user_agent"],
        "rounds": rounds,
        "warmup_rounds": warmup,
        "app_pid": app_pid,
        "what": "interleaved rounds in one page (a-j); each round times a batch of each case back to back; per_call_ms_batch_means = batch time / batch size (robust to the coarse page timer); per_call_ms_single = each call on its own. Then the refresh paths k and l, one call each per round, alternating which goes first, timed in their pages",
    }))
}

/// What the page measured, the refresh paths (k, l) and the provider's grants during both.
struct InPage {
    result: Value,
    refresh: Value,
    rounds: u32,
    warmup: u32,
    batch: Value,
    grants: Value,
}

/// auth0-spa-js in the page signs in: the page starts `loginWithRedirect`, the scripted browser
/// signs in at the dev-idp, the page handles the callback.
async fn auth0_sign_in(ctx: &Ctx, client: &Client, page_origin: &str) -> Result<()> {
    let args = json!({
        "domain": ctx.issuer.trim_end_matches('/'),
        "clientId": portico_dev_idp::SPA_CLIENT_ID,
        "audience": BILLING,
        "scope": "openid profile email read:invoices write:invoices",
    });
    let started = client
        .execute_async(AUTH0_LOGIN_SCRIPT, vec![args])
        .await
        .map_err(webdriver("starting auth0-spa-js's loginWithRedirect"))?;
    let authorize = started["authorizeUrl"].as_str().ok_or_else(|| {
        BenchError::Failed(format!("auth0-spa-js did not start a sign-in: {started}"))
    })?;
    let callback = crate::browser::sign_in(authorize, "alice").await?;
    if !callback.starts_with(&format!("{page_origin}/?")) || !callback.contains("code=") {
        return Err(BenchError::Failed(format!(
            "the dev-idp did not send auth0-spa-js's sign-in back to its page with a code: {callback}"
        )));
    }
    let done = client
        .execute_async(AUTH0_CALLBACK_SCRIPT, vec![json!(callback)])
        .await
        .map_err(webdriver("auth0-spa-js's handleRedirectCallback"))?;
    if done != json!(true) {
        return Err(BenchError::Failed(format!(
            "auth0-spa-js could not complete its sign-in: {done}"
        )));
    }
    Ok(())
}

/// The window handle of the webview whose page makes `probe` return a non-null value.
async fn view_handle(
    client: &Client,
    probe: &str,
    limit: Duration,
) -> Result<fantoccini::wd::WindowHandle> {
    find_view(client, probe, limit).await?;
    client
        .window()
        .await
        .map_err(webdriver("reading the current window handle"))
}

/// One timed call of a refresh path: its milliseconds and the token it got.
async fn timed_call(client: &Client, script: &str, args: Vec<Value>, what: &str) -> Result<Value> {
    let v = client
        .execute_async(script, args)
        .await
        .map_err(webdriver("timing a refresh path"))?;
    if v.get("error").is_some() || !v["ms"].is_number() {
        return Err(BenchError::Failed(format!("{what} failed: {v}")));
    }
    Ok(v)
}

/// (k) and (l), one call each per round, alternating which goes first, each round at least
/// [`MISS_GAP`] after the last (the shell's per-MFE limit on provider requests).
async fn refresh_paths(
    client: &Client,
    page: &fantoccini::wd::WindowHandle,
    miss: &fantoccini::wd::WindowHandle,
    rounds: u32,
    warmup: u32,
) -> Result<Value> {
    let (mut k, mut l) = (Vec::new(), Vec::new());
    let (mut k_tokens, mut l_tokens) = (Vec::<String>::new(), Vec::<String>::new());
    let mut k_cached = true;
    let mut last: Option<Instant> = None;
    for r in 0..warmup + rounds {
        if let Some(at) = last {
            tokio::time::sleep(MISS_GAP.saturating_sub(at.elapsed())).await;
        }
        last = Some(Instant::now());
        for is_k in [r % 2 == 0, r % 2 == 1] {
            let (handle, script, args, what) = if is_k {
                (page, AUTH0_REFRESH_SCRIPT, vec![], "auth0-spa-js's refresh")
            } else {
                let args = vec![json!(MISS_AUDIENCE)];
                (miss, IPC_MISS_SCRIPT, args, "get_token on a miss")
            };
            client
                .switch_to_window(handle.clone())
                .await
                .map_err(webdriver("switching webviews"))?;
            let v = timed_call(client, script, args, what).await?;
            let token = v["token"].as_str().unwrap_or_default().to_owned();
            if is_k {
                k_cached &= v["cached"] == json!(true);
                k_tokens.push(token);
            } else {
                l_tokens.push(token);
            }
            if r >= warmup {
                let ms = v["ms"].as_f64().unwrap_or(f64::NAN);
                if is_k { &mut k } else { &mut l }.push(ms);
            }
        }
    }
    client
        .switch_to_window(page.clone())
        .await
        .map_err(webdriver("switching back to the bench page"))?;
    let distinct = |v: &[String]| {
        v.iter()
            .filter(|t| !t.is_empty())
            .collect::<std::collections::HashSet<_>>()
            .len()
    };
    Ok(json!({
        "k_auth0_refresh": k,
        "l_ipc_miss": l,
        "k_calls": k_tokens.len(),
        "k_distinct_tokens": distinct(&k_tokens),
        "k_cached_after": k_cached,
        "l_calls": l_tokens.len(),
        "l_distinct_tokens": distinct(&l_tokens),
    }))
}

/// The page's own run (a-j), then the refresh paths (k, l): results, rounds, warm-up rounds,
/// batch sizes and the provider's grants meanwhile.
async fn measure_in_page(
    plan: &Plan,
    ctx: &Ctx,
    client: &Client,
    [page_origin, frame_origin, miss_origin]: [&str; 3],
) -> Result<InPage> {
    let long = TimeoutConfiguration::new(Some(Duration::from_secs(600)), None, None);
    client
        .update_timeouts(long)
        .await
        .map_err(webdriver("setting the script timeout"))?;
    let miss_probe = format!(
        "return (location.origin === {} && window.__TAURI_INTERNALS__) ? true : null;",
        json!(miss_origin)
    );
    let miss = view_handle(client, &miss_probe, Duration::from_secs(60)).await?;
    let page = view_handle(client, BENCH_PAGE_READY, Duration::from_secs(60)).await?;
    // The session is restored from the keyring at start; wait for the native cache to hold a token.
    let start = Instant::now();
    loop {
        let v = client
            .execute_async(NATIVE_TOKEN_SCRIPT, vec![])
            .await
            .map_err(webdriver("asking the shell for a token"))?;
        if v == json!(true) {
            break;
        }
        if start.elapsed() > Duration::from_secs(60) {
            return Err(BenchError::Failed(format!(
                "the bench MFE got no token from the shell: {v}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    auth0_sign_in(ctx, client, page_origin).await?;
    let (rounds, warmup) = if plan.quick { (10, 2) } else { (100, 10) };
    // The page's clock ticks in whole milliseconds (WebKit coarsens performance.now()), so each
    // sample is a batch long enough to span tens of ticks.
    let batch = json!({ "a_client_cache": 20000, "b_ipc_get_token": 50, "c_ipc_ping": 50,
        "d_web_bridge": 200, "e_ipc_context": 50, "f_native_fetch_1k": 20,
        "g_page_fetch_1k": 20, "h_native_fetch_100k": 10, "i_page_fetch_100k": 10,
        "j_auth0_cache": 1000, "k_auth0_refresh": 1, "l_ipc_miss": 1 });
    let args = json!({ "rounds": rounds, "warmup": warmup, "batch": batch,
        "frameOrigin": frame_origin });
    let before = ctx.counters().await;
    let result = client
        .execute_async(RUN_SCRIPT, vec![args])
        .await
        .map_err(webdriver("running the bench page"))?;
    let refresh = refresh_paths(client, &page, &miss, rounds, warmup).await?;
    let after = ctx.counters().await;
    let grants = json!({
        "refresh_token": counter_delta(&before, &after, "token_refresh"),
        "authorization_code": counter_delta(&before, &after, "token_authorization_code"),
        "what": "token-endpoint grants at the dev-idp while a-l ran: k and l's calls (warm-up included), and the shell's own proactive refreshes",
    });
    Ok(InPage {
        result,
        refresh,
        rounds,
        warmup,
        batch,
        grants,
    })
}
