//! The running app, driven through tauri-driver (WebKitWebDriver underneath). Every webview of
//! the app is a WebDriver window handle; [`App::chrome`] and [`App::mfe`] pick one by what it
//! shows, and their helpers find elements by `data-testid`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use fantoccini::wd::WindowHandle;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use super::error::{E2eError, Result};
use super::wait::{self, Check};
use crate::process::{free_ports, ProcessGroup};

/// The name of the chrome's view (MFE views are named by their registry id).
pub const CHROME: &str = "chrome";

/// How to start one app process.
#[derive(Debug, Clone)]
pub struct LaunchSpec {
    /// The app binary (the reference host or another one).
    pub binary: PathBuf,
    /// Environment for tauri-driver, which hands it on to WebKitWebDriver and the app.
    pub env: Vec<(String, String)>,
    /// Command-line arguments for the app (e.g. a deep link that starts it).
    pub args: Vec<String>,
    /// Ids of the registered MFEs: one webview each, made at start or when first shown.
    pub mfes: Vec<String>,
    /// The MFEs whose webviews the host makes at start (the first, and those `preload`); the
    /// others appear when their tab is first shown ([`View`] shows it when it needs them).
    pub at_start: Vec<String>,
    /// Where tauri-driver's and the app's output go.
    pub log: PathBuf,
    /// A name for this app run in artifacts (`launch1`, ...).
    pub label: String,
}

/// A running app. Cheap to clone; [`App::quit`] ends it, and so does dropping the last clone.
#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

struct Inner {
    label: String,
    client: Client,
    /// Identified webviews; an MFE's is added when it first appears.
    views: std::sync::Mutex<BTreeMap<String, WindowHandle>>,
    mfes: Vec<String>,
    /// The view WebDriver currently talks to; held while a command runs against it.
    current: tokio::sync::Mutex<Option<String>>,
    driver: std::sync::Mutex<Option<ProcessGroup>>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("label", &self.inner.label)
            .field("views", &self.views().keys().cloned().collect::<Vec<_>>())
            .finish()
    }
}

/// Locate a binary next to the running test executable (`target/debug/deps/..` → `target/debug`).
pub fn sibling_binary(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let deps = exe.parent()?;
    let profile = if deps.file_name().is_some_and(|n| n == "deps") {
        deps.parent()?
    } else {
        deps
    };
    let candidate = profile.join(name);
    candidate.exists().then_some(candidate)
}

/// The app binary: `$PORTICO_APP`, else `portico` beside the test executable.
pub fn app_binary() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("PORTICO_APP").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    sibling_binary("portico").ok_or_else(|| {
        E2eError::Setup(
            "no app binary: build it with `cargo build -p portico` or set PORTICO_APP".into(),
        )
    })
}

/// tauri-driver: `$TAURI_DRIVER`, else `~/.cargo/bin/tauri-driver`, else from `PATH`.
pub fn tauri_driver_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("TAURI_DRIVER").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    if let Some(home) = std::env::var_os("HOME") {
        let p = Path::new(&home).join(".cargo/bin/tauri-driver");
        if p.exists() {
            return p;
        }
    }
    PathBuf::from("tauri-driver")
}

const IDENTIFY_MFE: &str = r#"
const done = arguments[arguments.length - 1];
import("/_portico/client.js")
  .then((m) => m.context())
  .then((c) => done({ id: c.id }), (e) => done({ error: String((e && (e.kind || e.message)) || e) }));
"#;

const INLINE_SCRIPT_PROBE: &str = r#"
const done = arguments[arguments.length - 1];
let answered = false;
const answer = (v) => { if (!answered) { answered = true; done(v); } };
document.addEventListener("securitypolicyviolation", (e) => answer(e.violatedDirective), { once: true });
window.__porticoInlineRan = false;
const s = document.createElement("script");
s.textContent = "window.__porticoInlineRan = true";
document.body.append(s);
setTimeout(() => answer(window.__porticoInlineRan ? "ran" : "no-report"), 1000);
"#;

const PROBE: &str = r#"
const [id, names] = arguments;
const el = document.querySelector(`[data-testid="${id}"]`);
if (!el) return null;
const attrs = {};
for (const n of names) attrs[n] = el.getAttribute(n);
return { text: el.textContent.replace(/\s+/g, " ").trim(), attrs };
"#;

const SHELL_FETCH: &str = r#"
const [url, done] = [arguments[0], arguments[arguments.length - 1]];
import("/_portico/client.js")
  .then((m) => m.fetch(url))
  .then((r) => r.text().then((body) => done({ status: r.status, body })))
  .catch((e) => done({ kind: e && e.kind, message: e && e.message }));
"#;

// A JWT: three base64url parts, the first one a JSON object (`{"` is `eyJ`).
const JWT_SIGHTINGS: &str = r#"
const jwt = /eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/;
const found = [];
const seen = new WeakSet([window]);
let budget = 50000;
const walk = (v, path, depth) => {
  if (budget-- <= 0) return;
  if (typeof v === "string") { if (jwt.test(v)) found.push(path); return; }
  if (v === null || (typeof v !== "object" && typeof v !== "function") || depth > 4) return;
  if (seen.has(v)) return;
  seen.add(v);
  if (v instanceof Node || v === window.document) return;
  let keys = [];
  try { keys = Object.keys(v); } catch (e) { return; }
  for (const k of keys) {
    let child;
    try { child = v[k]; } catch (e) { continue; }
    walk(child, `${path}.${k}`, depth + 1);
  }
};
for (const k of Object.getOwnPropertyNames(window)) {
  let v;
  try { v = window[k]; } catch (e) { continue; }
  walk(v, `window.${k}`, 0);
}
for (const [name, store] of [["localStorage", window.localStorage], ["sessionStorage", window.sessionStorage]]) {
  try {
    for (let i = 0; i < store.length; i++) {
      const key = store.key(i);
      if (jwt.test(key) || jwt.test(store.getItem(key) || "")) found.push(`${name}[${key}]`);
    }
  } catch (e) {}
}
if (jwt.test(document.cookie)) found.push("document.cookie");
if (jwt.test(document.documentElement.outerHTML)) found.push("the document's HTML");
for (const e of performance.getEntriesByType("resource")) if (jwt.test(e.name)) found.push(`resource ${e.name}`);
return found;
"#;

const GET_TOKEN: &str = r#"
const [audience, done] = [arguments[0], arguments[arguments.length - 1]];
import("/_portico/client.js")
  .then((m) => m.getToken(audience, { forceRefresh: true }))
  .then(
    (g) => done({ granted: true, audience: g.audience, expiresAt: g.expiresAt }),
    (e) => done({ granted: false, kind: e && e.kind, message: e && e.message }),
  );
"#;

const SUMMARY: &str = r#"
const items = [...document.querySelectorAll("[data-testid]")].map((el) => ({
  testid: el.getAttribute("data-testid"),
  kind: el.getAttribute("data-kind"),
  text: el.textContent.replace(/\s+/g, " ").trim().slice(0, 160),
}));
return { url: location.href, title: document.title, testids: items };
"#;

impl App {
    /// Start tauri-driver with `spec.env`, open a WebDriver session (which starts the app) and
    /// map its webviews: the chrome, and one per MFE in `spec.mfes`.
    pub async fn launch(spec: LaunchSpec) -> Result<App> {
        let (client, driver) =
            start_webdriver(&spec.binary, &spec.args, &spec.env, &spec.log).await?;
        let views = match identify_views(&client, &spec.at_start).await {
            Ok(v) => v,
            Err(e) => {
                let _ = tokio::time::timeout(Duration::from_secs(10), client.close()).await;
                return Err(e);
            }
        };
        Ok(App {
            inner: Arc::new(Inner {
                label: spec.label,
                client,
                views: std::sync::Mutex::new(views),
                mfes: spec.mfes,
                current: tokio::sync::Mutex::new(None),
                driver: std::sync::Mutex::new(Some(driver)),
            }),
        })
    }

    /// This run's name in artifacts (`launch1`, `launch2`, ...).
    pub fn label(&self) -> &str {
        &self.inner.label
    }

    /// The shell's own chrome (top bar, tabs, sign-in state, account, notices).
    pub fn chrome(&self) -> View<'_> {
        View {
            app: self,
            name: CHROME.to_owned(),
        }
    }

    /// The webview of one MFE, by registry id (`billing`, `dashboard`, `analytics`).
    pub fn mfe(&self, id: &str) -> View<'_> {
        View {
            app: self,
            name: id.to_owned(),
        }
    }

    /// Every MFE view, in registry order.
    pub fn mfes(&self) -> Vec<View<'_>> {
        self.inner.mfes.iter().map(|id| self.mfe(id)).collect()
    }

    /// How many webviews the app has now (the chrome and the MFEs made so far), as WebDriver
    /// sees them.
    pub async fn webview_count(&self) -> Result<usize> {
        let _g = self.inner.current.lock().await;
        Ok(self
            .inner
            .client
            .windows()
            .await
            .map_err(E2eError::webdriver("listing window handles"))?
            .len())
    }

    /// Forgets MFE `id`'s webview (e.g. after the host freed it): the next look at it shows its
    /// tab and identifies the webview made for it.
    pub async fn forget(&self, id: &str) {
        let mut current = self.inner.current.lock().await;
        if current.as_deref() == Some(id) {
            *current = None;
        }
        self.views().remove(id);
    }

    /// Registry ids of the MFEs.
    pub fn mfe_ids(&self) -> &[String] {
        &self.inner.mfes
    }

    /// Show one MFE the way a person does: click its tab in the chrome, wait until it is selected.
    pub async fn select_tab(&self, id: &str) -> Result<()> {
        let tab = format!("tab-{id}");
        self.chrome().click(&tab).await?;
        self.chrome()
            .wait_attr(&tab, "aria-selected", wait::UI, |v| v == Some("true"))
            .await?;
        Ok(())
    }

    /// End the WebDriver session (which closes the app) and stop tauri-driver with everything it
    /// started. Idempotent.
    pub async fn quit(&self) {
        let driver = self
            .inner
            .driver
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        let Some(mut driver) = driver else { return };
        let client = self.inner.client.clone();
        let _ = tokio::time::timeout(Duration::from_secs(15), client.close()).await;
        tokio::task::spawn_blocking(move || driver.stop(Duration::from_secs(5)))
            .await
            .ok();
    }

    /// Whether [`App::quit`] has run.
    pub fn is_quit(&self) -> bool {
        self.inner
            .driver
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_none()
    }

    fn views(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, WindowHandle>> {
        self.inner
            .views
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Shows MFE `id` so that the host makes its webview, and identifies that webview.
    async fn appear(&self, id: &str) -> Result<()> {
        self.select_tab(id).await?;
        let mut current = self.inner.current.lock().await;
        // Identifying switches WebDriver between webviews.
        *current = None;
        let known: Vec<WindowHandle> = self.views().values().cloned().collect();
        let found = identify_new_view(&self.inner.client, &known, id).await?;
        self.views().insert(id.to_owned(), found);
        Ok(())
    }

    async fn enter(&self, view: &str) -> Result<tokio::sync::MutexGuard<'_, Option<String>>> {
        let registered = self.inner.mfes.iter().any(|m| m == view);
        if registered && !self.views().contains_key(view) {
            // `appear` clicks a tab in the chrome, which enters the chrome's view.
            Box::pin(self.appear(view)).await?;
        }
        let mut current = self.inner.current.lock().await;
        if current.as_deref() != Some(view) {
            let handle = self.views().get(view).cloned().ok_or_else(|| {
                E2eError::Setup(format!(
                    "no view `{view}` (have {:?})",
                    self.views().keys().collect::<Vec<_>>()
                ))
            })?;
            self.inner
                .client
                .switch_to_window(handle.clone())
                .await
                .map_err(E2eError::webdriver(format!("switching to {view}")))?;
            *current = Some(view.to_owned());
        }
        Ok(current)
    }
}

/// Start tauri-driver (which starts WebKitWebDriver) with `env` for the app, output to `log`,
/// and open a WebDriver session, which starts `app` with `args`. The app's environment is only
/// `env` among the `PORTICO_*` variables.
pub async fn start_webdriver(
    app: &Path,
    args: &[String],
    env: &[(String, String)],
    log: &Path,
) -> Result<(Client, ProcessGroup)> {
    let ports = free_ports(2)?;
    let (port, native_port) = (ports[0], ports[1]);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(E2eError::io(format!("open {}", log.display())))?;
    let file2 = file
        .try_clone()
        .map_err(E2eError::io("clone the log file"))?;
    let mut cmd = Command::new(tauri_driver_binary());
    cmd.args([
        "--port",
        &port.to_string(),
        "--native-port",
        &native_port.to_string(),
    ])
    .stdin(Stdio::null())
    .stdout(file)
    .stderr(file2);
    // The app reads its configuration from PORTICO_*: only the test's own values count.
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("PORTICO_") {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut driver = ProcessGroup::spawn("tauri-driver", &mut cmd)?;
    let addr = format!("127.0.0.1:{port}");
    // tauri-driver listens before the WebKitWebDriver it started does; a session request in
    // between fails. Both must accept connections.
    let native = format!("127.0.0.1:{native_port}");
    wait::until(
        "tauri-driver and WebKitWebDriver to listen",
        Duration::from_secs(20),
        async || {
            if driver.has_exited() {
                return Err(E2eError::Setup("tauri-driver exited at start".into()));
            }
            for a in [&addr, &native] {
                if let Err(e) = tokio::net::TcpStream::connect(a).await {
                    return Ok(Check::NotYet(format!("{a}: {e}")));
                }
            }
            Ok(Check::Ready(()))
        },
    )
    .await?;

    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), json!("wry"));
    caps.insert(
        "tauri:options".into(),
        json!({ "application": app.to_string_lossy(), "args": args }),
    );
    let mut builder = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
    builder.capabilities(caps);
    let webdriver_url = format!("http://{addr}");
    let connect = builder.connect(&webdriver_url);
    let client = match tokio::time::timeout(wait::APP_START, connect).await {
        Ok(c) => c?,
        Err(_) => {
            return Err(E2eError::Timeout {
                what: SESSION_START.into(),
                waited: wait::APP_START,
                last: format!(
                    "no answer from tauri-driver; running under it: {}",
                    process_names(driver.pid())
                ),
            })
        }
    };
    Ok((client, driver))
}

/// What [`start_webdriver`] calls the session it opens (a timeout names it).
pub const SESSION_START: &str = "the WebDriver session (app start)";

/// The processes under `root` by name, e.g. `tauri-driver, WebKitWebDriver, portico, ...`:
/// whether the app was started at all when its session did not open.
fn process_names(root: i32) -> String {
    let names: Vec<String> = crate::process::process_tree(root)
        .into_iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/comm")).ok())
        .map(|c| c.trim().to_owned())
        .collect();
    names.join(", ")
}

async fn identify_views(
    client: &Client,
    mfes: &[String],
) -> Result<BTreeMap<String, WindowHandle>> {
    let expected = mfes.len() + 1;
    wait::until(
        format!("{expected} webviews (chrome + MFEs) to be identified"),
        wait::APP_START,
        async || {
            let handles = client
                .windows()
                .await
                .map_err(E2eError::webdriver("listing window handles"))?;
            if handles.len() < expected {
                return Ok(Check::NotYet(format!("{} window handles", handles.len())));
            }
            let mut views = BTreeMap::new();
            for h in handles {
                match identify(client, &h).await? {
                    Ok(name) => {
                        views.insert(name, h);
                    }
                    Err(not_yet) => return Ok(Check::NotYet(not_yet)),
                }
            }
            let missing: Vec<&String> = mfes.iter().filter(|m| !views.contains_key(*m)).collect();
            if views.contains_key(CHROME) && missing.is_empty() {
                Ok(Check::Ready(views))
            } else {
                Ok(Check::NotYet(format!(
                    "found {:?}, missing {missing:?}",
                    views.keys()
                )))
            }
        },
    )
    .await
}

/// The webview of MFE `id` among the handles not in `known`, once it has appeared and loaded.
async fn identify_new_view(
    client: &Client,
    known: &[WindowHandle],
    id: &str,
) -> Result<WindowHandle> {
    wait::until(
        format!("the webview of `{id}` to appear"),
        wait::APP_START,
        async || {
            let handles = client
                .windows()
                .await
                .map_err(E2eError::webdriver("listing window handles"))?;
            for h in handles.into_iter().filter(|h| !known.contains(h)) {
                match identify(client, &h).await? {
                    Ok(name) if name == id => return Ok(Check::Ready(h)),
                    Ok(_) => {}
                    Err(not_yet) => return Ok(Check::NotYet(not_yet)),
                }
            }
            Ok(Check::NotYet(format!(
                "no new webview identifies as `{id}` yet"
            )))
        },
    )
    .await
}

/// Which view the webview `h` is: the chrome (the app's own page), or the MFE its page says it
/// is; `Err` (a reason to look again) while it is still loading.
async fn identify(
    client: &Client,
    h: &WindowHandle,
) -> Result<std::result::Result<String, String>> {
    client
        .switch_to_window(h.clone())
        .await
        .map_err(E2eError::webdriver("switching window"))?;
    let url = client
        .current_url()
        .await
        .map_err(E2eError::webdriver("reading a webview URL"))?;
    if url.scheme() == "tauri" || url.host_str() == Some("tauri.localhost") {
        return Ok(Ok(CHROME.to_owned()));
    }
    if url.scheme() != "http" {
        return Ok(Err(format!("a webview still at {url}")));
    }
    let who = client
        .execute_async(IDENTIFY_MFE, vec![])
        .await
        .map_err(E2eError::webdriver("asking an MFE for its context"))?;
    Ok(match who.get("id").and_then(Value::as_str) {
        Some(id) => Ok(id.to_owned()),
        None => Err(format!("MFE context: {who}")),
    })
}

/// What a `data-testid` element shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    /// Its text content, whitespace collapsed.
    pub text: String,
    /// The attributes asked for (`None`: absent).
    pub attrs: BTreeMap<String, Option<String>>,
}

impl Shown {
    /// One of the attributes asked for.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.get(name).and_then(|v| v.as_deref())
    }
}

/// What an MFE's native `fetch` through the shell came back with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchAnswer {
    /// The API answered (any status).
    Answered {
        status: u16,
        /// The body as text.
        body: String,
    },
    /// The shell's typed refusal (`fetch_refused`, `login_required`, ...).
    Refused { kind: String, message: String },
}

/// What the shell answered an MFE's `getToken` (the token itself never leaves the page).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenAnswer {
    /// A token was issued.
    Granted {
        /// Its audience.
        audience: String,
        /// Its expiry (ms since the epoch).
        expires_at: i64,
    },
    /// The typed refusal.
    Refused {
        /// `login_required`, `forbidden_audience`, `network`, ...
        kind: String,
        /// The message that came with it.
        message: String,
    },
}

/// One webview of the app. Every call first switches WebDriver to it.
#[derive(Debug, Clone)]
pub struct View<'a> {
    app: &'a App,
    name: String,
}

impl View<'_> {
    /// `chrome` or the MFE id.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Run a script in this webview (`arguments[i]` are `args`) and return its value.
    pub async fn eval(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        let _g = self.app.enter(&self.name).await?;
        self.app
            .inner
            .client
            .execute(script, args)
            .await
            .map_err(E2eError::webdriver(format!(
                "running a script in {}",
                self.name
            )))
    }

    /// Run an async script (it calls `arguments[arguments.length - 1]` with its result).
    pub async fn eval_async(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        let _g = self.app.enter(&self.name).await?;
        self.app
            .inner
            .client
            .execute_async(script, args)
            .await
            .map_err(E2eError::webdriver(format!(
                "running an async script in {}",
                self.name
            )))
    }

    /// What the page's content security policy does to an injected inline script: the
    /// violated directive (`script-src…`) when it is refused, `"ran"` when it ran, or
    /// `"no-report"` when neither is seen within a second.
    pub async fn inline_script_verdict(&self) -> Result<String> {
        let v = self.eval_async(INLINE_SCRIPT_PROBE, vec![]).await?;
        Ok(v.as_str().unwrap_or_default().to_owned())
    }

    /// The element with this `data-testid`, if it is on the page now, with the named attributes.
    pub async fn shown(&self, testid: &str, attrs: &[&str]) -> Result<Option<Shown>> {
        let v = self.eval(PROBE, vec![json!(testid), json!(attrs)]).await?;
        if v.is_null() {
            return Ok(None);
        }
        let text = v
            .get("text")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let attrs = attrs
            .iter()
            .map(|a| {
                let val = v
                    .get("attrs")
                    .and_then(|m| m.get(*a))
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                ((*a).to_owned(), val)
            })
            .collect();
        Ok(Some(Shown { text, attrs }))
    }

    /// Ask the shell for a token from inside this MFE's page, through the same client module
    /// the MFE uses (`/_portico/client.js`), skipping the page's cache.
    pub async fn get_token(&self, audience: &str) -> Result<TokenAnswer> {
        let v = self.eval_async(GET_TOKEN, vec![json!(audience)]).await?;
        let text = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        match v.get("granted").and_then(Value::as_bool) {
            Some(true) => Ok(TokenAnswer::Granted {
                audience: text("audience"),
                expires_at: v
                    .get("expiresAt")
                    .and_then(Value::as_i64)
                    .unwrap_or_default(),
            }),
            Some(false) => Ok(TokenAnswer::Refused {
                kind: text("kind"),
                message: text("message"),
            }),
            None => Err(E2eError::Page {
                what: format!("asking for a token in {}", self.name),
                detail: v.to_string(),
            }),
        }
    }

    /// A request through the shell from inside this MFE's page, with the client's `fetch`
    /// (`/_portico/client.js`), as the page would make it.
    pub async fn fetch(&self, url: &str) -> Result<FetchAnswer> {
        let v = self.eval_async(SHELL_FETCH, vec![json!(url)]).await?;
        let text = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        match v.get("status").and_then(Value::as_u64) {
            Some(status) => Ok(FetchAnswer::Answered {
                status: u16::try_from(status).unwrap_or_default(),
                body: text("body"),
            }),
            None if v.get("kind").is_some() => Ok(FetchAnswer::Refused {
                kind: text("kind"),
                message: text("message"),
            }),
            None => Err(E2eError::Page {
                what: format!("fetching through the shell in {}", self.name),
                detail: v.to_string(),
            }),
        }
    }

    /// Every place in this page where something shaped like a JWT is found: its globals (walked
    /// a few levels deep), `localStorage`, `sessionStorage`, cookies, the document's HTML and
    /// the URLs of the resources it loaded. Each finding names where it was.
    pub async fn jwt_sightings(&self) -> Result<Vec<String>> {
        let v = self.eval(JWT_SIGHTINGS, vec![]).await?;
        Ok(v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Whether an element with this `data-testid` is on the page now.
    pub async fn exists(&self, testid: &str) -> Result<bool> {
        Ok(self.shown(testid, &[]).await?.is_some())
    }

    /// Wait until an element with this `data-testid` is on the page; returns what it shows.
    pub async fn wait_for(&self, testid: &str, limit: Duration) -> Result<Shown> {
        self.wait_for_with(testid, &[], limit).await
    }

    /// [`View::wait_for`], also reading the named attributes.
    pub async fn wait_for_with(
        &self,
        testid: &str,
        attrs: &[&str],
        limit: Duration,
    ) -> Result<Shown> {
        wait::until(format!("`{testid}` in {}", self.name), limit, async || {
            Ok(match self.shown(testid, attrs).await? {
                Some(s) => Check::Ready(s),
                None => Check::NotYet(self.visible_testids().await),
            })
        })
        .await
    }

    /// Wait until `testid` is gone from the page.
    pub async fn wait_gone(&self, testid: &str, limit: Duration) -> Result<()> {
        wait::until(
            format!("`{testid}` to disappear from {}", self.name),
            limit,
            async || {
                Ok(match self.shown(testid, &[]).await? {
                    None => Check::Ready(()),
                    Some(s) => Check::NotYet(format!("still shows {s:?}")),
                })
            },
        )
        .await
    }

    /// Wait until the attribute `attr` of `testid` satisfies `ok`; returns what the element shows.
    pub async fn wait_attr(
        &self,
        testid: &str,
        attr: &str,
        limit: Duration,
        ok: impl Fn(Option<&str>) -> bool,
    ) -> Result<Shown> {
        wait::until(
            format!("`{testid}` [{attr}] in {} to match", self.name),
            limit,
            async || {
                Ok(match self.shown(testid, &[attr]).await? {
                    Some(s) if ok(s.attr(attr)) => Check::Ready(s),
                    Some(s) => Check::NotYet(format!("{attr}={:?}", s.attr(attr))),
                    None => {
                        Check::NotYet(format!("no `{testid}`; {}", self.visible_testids().await))
                    }
                })
            },
        )
        .await
    }

    /// Click the element with this `data-testid` like a person (a WebDriver element click),
    /// retrying while it is not there or not clickable yet.
    pub async fn click(&self, testid: &str) -> Result<()> {
        let css = format!("[data-testid=\"{testid}\"]");
        wait::until(
            format!("clicking `{testid}` in {}", self.name),
            wait::UI,
            async || {
                let _g = self.app.enter(&self.name).await?;
                let client = &self.app.inner.client;
                let el = match client.find(Locator::Css(&css)).await {
                    Ok(el) => el,
                    Err(e) => return Ok(Check::NotYet(format!("not found: {e}"))),
                };
                Ok(match el.click().await {
                    Ok(()) => Check::Ready(()),
                    Err(e) => Check::NotYet(format!("click refused: {e}")),
                })
            },
        )
        .await
    }

    /// A short description of what the page shows: its `data-testid`s (for timeout messages).
    pub async fn visible_testids(&self) -> String {
        match self.summary().await {
            Ok(v) => {
                let ids: Vec<String> = v
                    .get("testids")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|t| t.get("testid").and_then(Value::as_str))
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default();
                format!("{} shows {ids:?}", self.name)
            }
            Err(e) => format!("{} unreadable: {e}", self.name),
        }
    }

    /// URL, title and every `data-testid` with its text (for artifacts; pages show no secrets).
    pub async fn summary(&self) -> Result<Value> {
        self.eval(SUMMARY, vec![]).await
    }

    /// A PNG of this webview.
    pub async fn screenshot(&self) -> Result<Vec<u8>> {
        let _g = self.app.enter(&self.name).await?;
        self.app
            .inner
            .client
            .screenshot()
            .await
            .map_err(E2eError::webdriver(format!(
                "taking a screenshot of {}",
                self.name
            )))
    }
}
