//! One end-to-end test's world: its own desktop session (D-Bus + keyring, X if needed), the dev
//! identity provider and demo APIs in-process, the app's configuration, the apps it launched,
//! and its artifacts directory. [`Scenario::run`] runs the test body and always leaves
//! screenshots and page summaries behind, also when the body fails or panics.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Command, Stdio};
use std::task::{Context, Poll};
use std::time::Duration;

use portico_dev_idp::{Admin, Counters, DemoApis, DevIdp, IdpConfig, DEMO_CLIENT_ID};
use serde_json::Value;

use super::app::{app_binary, sibling_binary, App, LaunchSpec, View, SESSION_START};
use super::error::{E2eError, Result};
use super::system_browser::{BrowserSettings, SignInPage};
use super::wait::{self, Check};
use crate::desktop::Desktop;
use crate::glewlwyd::{self, Glewlwyd, GlewlwydOptions};
use crate::process::{free_ports, ProcessGroup};

/// How the provider is asked for audiences (`PORTICO_DIALECT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `audience=` and Multi-Resource Refresh Tokens.
    Auth0,
    /// RFC 8707 `resource=`.
    Rfc8707,
    /// Microsoft Entra ID: resources named by scopes; the dev provider runs its Entra-like mode.
    Entra,
}

/// The Tauri app a scenario drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    /// The reference host (`src-tauri`: the chrome, tabs, three MFEs).
    Reference,
    /// `examples/minimal-host`: a bar of its own and one MFE; its own configuration.
    Minimal,
}

impl Host {
    /// The binary, beside the test executable (`cargo build -p portico-minimal-host`).
    fn binary(self) -> Result<PathBuf> {
        match self {
            Host::Reference => app_binary(),
            Host::Minimal => sibling_binary("portico-minimal-host").ok_or_else(|| {
                E2eError::Setup(
                    "no minimal host binary: build it with `cargo build -p portico-minimal-host`"
                        .into(),
                )
            }),
        }
    }

    /// The Tauri configuration whose `plugins.portico` the scenario starts from.
    fn config(self) -> PathBuf {
        match self {
            Host::Reference => repo_root().join("tauri.conf.json"),
            Host::Minimal => repo_root().join("examples/minimal-host/tauri.conf.json"),
        }
    }
}

/// The OpenID Provider a scenario signs in with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// Our development provider, in-process: fault switches and request counters.
    DevIdp,
    /// Glewlwyd 2.7 (Debian's package), a provider we did not write, in RFC 8707 mode. Its
    /// access tokens live [`ScenarioBuilder::access_token_ttl`] (default 300 s).
    Glewlwyd,
}

/// The provider a running scenario talks to.
enum RunningProvider {
    Dev(DevIdp),
    Glewlwyd(Box<Glewlwyd>),
}

impl RunningProvider {
    fn issuer(&self) -> &url::Url {
        match self {
            RunningProvider::Dev(idp) => idp.issuer(),
            RunningProvider::Glewlwyd(op) => op.issuer(),
        }
    }
}

/// What the scripted system browser does with an authorization URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrowserMode {
    /// Sign in as the test user and deliver the callback (deep link or loopback).
    SignIn,
    /// Only record the URL; the test drives the rest ([`Scenario::authorize_url`]).
    Hold,
}

/// Settings of a scenario, chained from [`Scenario::builder`].
#[derive(Debug, Clone)]
pub struct ScenarioBuilder {
    name: String,
    provider: Provider,
    dialect: Dialect,
    loopback: bool,
    browser: BrowserMode,
    user: String,
    idp: IdpConfig,
    app_env: Vec<(String, String)>,
    /// Registry fields set on one MFE's entry: (id, field, value).
    mfe_fields: Vec<(String, String, Value)>,
    host: Host,
}

/// What the app keeps in the keyring, as the probe reports it (no secrets).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct KeyringEntry {
    /// Whether there is an entry for the app's account.
    #[serde(default)]
    pub present: bool,
    /// The signed-in subject.
    #[serde(default)]
    pub subject: Option<String>,
    /// The issuer the session belongs to.
    #[serde(default)]
    pub issuer: Option<String>,
    /// Whether a refresh token is stored.
    #[serde(default)]
    pub has_refresh_token: bool,
    /// A keyring failure.
    #[serde(default)]
    pub error: Option<String>,
}

impl ScenarioBuilder {
    /// The provider the app signs in with (default [`Provider::DevIdp`]). Glewlwyd speaks
    /// RFC 8707 only, so it implies [`Dialect::Rfc8707`].
    pub fn provider(mut self, p: Provider) -> Self {
        self.provider = p;
        if p == Provider::Glewlwyd {
            self.dialect = Dialect::Rfc8707;
        }
        self
    }

    /// The provider dialect the app uses (default Auth0).
    pub fn dialect(mut self, d: Dialect) -> Self {
        self.dialect = d;
        self
    }

    /// Drive another host than the reference one (its binary and its configuration).
    pub fn host(mut self, host: Host) -> Self {
        self.host = host;
        self
    }

    /// Redirect to `http://127.0.0.1:{port}/callback` instead of the deep link.
    pub fn loopback_redirect(mut self) -> Self {
        self.loopback = true;
        self
    }

    /// What the scripted browser does (default: sign in and deliver the callback).
    pub fn browser(mut self, mode: BrowserMode) -> Self {
        self.browser = mode;
        self
    }

    /// Who signs in on the provider's page (default `alice`).
    pub fn user(mut self, username: &str) -> Self {
        self.user = username.to_owned();
        self
    }

    /// DPoP on in the app (`PORTICO_DPOP=on`), and the dev provider binding the tokens of
    /// exactly these APIs to the app's key (the others stay Bearer), as the embedded default
    /// does for the Analytics API.
    pub fn dpop_bound(mut self, apis: &[&str]) -> Self {
        for api in &mut self.idp.apis {
            api.sender_constrained = apis.contains(&api.identifier.as_str());
        }
        self.app_env.push(("PORTICO_DPOP".into(), "on".into()));
        self
    }

    /// Lifetime of the access tokens the provider issues.
    pub fn access_token_ttl(mut self, ttl: Duration) -> Self {
        self.idp.access_token_ttl = ttl;
        self
    }

    /// An extra variable for the app (e.g. `PORTICO_REFRESH_SKEW_SECS`).
    pub fn app_env(mut self, key: &str, value: impl ToString) -> Self {
        self.app_env.push((key.to_owned(), value.to_string()));
        self
    }

    /// Set a field of one MFE's registry entry, e.g. `("dashboard", "unloadAfterSecs", 2)`.
    pub fn mfe_field(mut self, mfe: &str, field: &str, value: impl Into<Value>) -> Self {
        self.mfe_fields
            .push((mfe.to_owned(), field.to_owned(), value.into()));
        self
    }

    /// Take the E2E lock (one app at a time on the machine), start the desktop session, the
    /// provider and the demo APIs, and write the app's configuration.
    pub async fn start(mut self) -> Result<Scenario> {
        let lock = take_global_lock().await?;
        let root = std::env::temp_dir().join("portico-e2e");
        let dir = root.join(format!("{}-{}", self.name, std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(E2eError::io("create the scenario directory"))?;
        let dir = TempDir(dir);
        let artifacts = artifacts_root().join("e2e").join(&self.name);
        let _ = std::fs::remove_dir_all(&artifacts);
        std::fs::create_dir_all(&artifacts)
            .map_err(E2eError::io(format!("create {}", artifacts.display())))?;

        let desktop = {
            let d = dir.0.clone();
            tokio::task::spawn_blocking(move || Desktop::start(&d))
                .await
                .map_err(|e| E2eError::Setup(format!("desktop start panicked: {e}")))??
        };
        let api_configs = self.idp.apis.clone();
        let mut provider_env: Vec<(String, String)> = Vec::new();
        if self.dialect == Dialect::Entra {
            self.idp.entra = true;
        }
        let (idp, client_id) = match self.provider {
            Provider::DevIdp => (
                RunningProvider::Dev(DevIdp::start(self.idp).await?),
                DEMO_CLIENT_ID,
            ),
            Provider::Glewlwyd => {
                if self.dialect != Dialect::Rfc8707 {
                    return Err(E2eError::Setup(
                        "Glewlwyd speaks RFC 8707 resource indicators, not the Auth0 dialect"
                            .into(),
                    ));
                }
                // Glewlwyd compares the loopback redirect with its port (RFC 8252 §7.3 says it
                // should not), so a loopback scenario registers and configures a fixed port.
                let port = if self.loopback {
                    Some(free_ports(1)?[0])
                } else {
                    None
                };
                let op = Glewlwyd::start(GlewlwydOptions {
                    access_token_lifetime: self.idp.access_token_ttl,
                    loopback_redirect_port: port,
                    ..GlewlwydOptions::default()
                })
                .await
                .map_err(|e| E2eError::Setup(format!("Glewlwyd: {e}")))?;
                if port.is_some() {
                    provider_env.push((
                        "PORTICO_REDIRECT".into(),
                        op.loopback_redirect_uri().to_string(),
                    ));
                }
                // Glewlwyd refuses RFC 7009 from a public client; see docs/providers.md.
                provider_env.push(("PORTICO_REVOCATION".into(), "glewlwyd-delete-token".into()));
                (RunningProvider::Glewlwyd(Box::new(op)), glewlwyd::CLIENT_ID)
            }
        };
        // In its Entra-like mode the dev provider's tokens come from its tenant's issuer, which
        // the app is configured with and the APIs validate.
        let token_issuer = match (&idp, self.dialect) {
            (RunningProvider::Dev(_), Dialect::Entra) => {
                portico_dev_idp::entra_issuer(idp.issuer(), portico_dev_idp::ENTRA_TENANT)
            }
            _ => idp.issuer().clone(),
        };
        let apis = DemoApis::start(&token_issuer, &api_configs).await?;
        let AppConfig {
            path: config_path,
            mfes,
            fetch_only,
            at_start,
        } = write_app_config(&dir.0, &apis, &self.host.config(), &self.mfe_fields)?;
        let keyring_service = format!("portico-e2e-{}-{}", self.name, std::process::id());
        let issuer = token_issuer.to_string();
        let browser_log = artifacts.join("browser.log");
        let scripted_browser = sibling_binary("portico-scripted-browser").ok_or_else(|| {
            E2eError::Setup(
                "portico-scripted-browser is not built (cargo build -p portico-e2e --bins)".into(),
            )
        })?;
        let app = self.host.binary()?;
        warn_if_stale(&app);
        let mut env: Vec<(String, String)> = desktop.env().to_vec();
        let mut set = |k: &str, v: String| env.push((k.to_owned(), v));
        // The app starts a second instance of itself for deep links; so does the browser.
        set("PORTICO_APP", app.to_string_lossy().into_owned());
        set("PORTICO_ISSUER", issuer.clone());
        set("PORTICO_CLIENT_ID", client_id.to_owned());
        set(
            "PORTICO_DIALECT",
            match self.dialect {
                Dialect::Auth0 => "auth0",
                Dialect::Rfc8707 => "rfc8707",
                Dialect::Entra => "entra",
            }
            .to_owned(),
        );
        if self.loopback && self.provider == Provider::DevIdp {
            set("PORTICO_REDIRECT", "loopback".to_owned());
        }
        for (k, v) in provider_env {
            set(&k, v);
        }
        set("PORTICO_CONFIG", config_path.to_string_lossy().into_owned());
        set(
            "PORTICO_BROWSER",
            scripted_browser.to_string_lossy().into_owned(),
        );
        let browser = BrowserSettings {
            page: match self.provider {
                Provider::DevIdp => SignInPage::DevIdp,
                Provider::Glewlwyd => SignInPage::Glewlwyd,
            },
            hold: self.browser == BrowserMode::Hold,
            log: browser_log.clone(),
            user: self.user.clone(),
        };
        for (k, v) in browser.env() {
            set(&k, v);
        }
        set("PORTICO_KEYRING_SERVICE", keyring_service.clone());
        // The app's log level: a tester may raise it with PORTICO_E2E_APP_LOG=debug.
        set(
            "PORTICO_LOG",
            std::env::var("PORTICO_E2E_APP_LOG").unwrap_or_else(|_| "info".into()),
        );
        env.extend(self.app_env);

        Ok(Scenario {
            app,
            apps: Vec::new(),
            desktop,
            idp,
            apis,
            name: self.name,
            artifacts,
            browser_log,
            env,
            mfes,
            fetch_only,
            at_start,
            keyring_service,
            account: format!("{client_id}@{issuer}"),
            launches: 0,
            _dir: dir,
            _lock: lock,
        })
    }
}

/// A running scenario. Field order is drop order: apps, then the session, then the provider.
pub struct Scenario {
    /// The app binary this scenario drives.
    app: PathBuf,
    apps: Vec<App>,
    desktop: Desktop,
    idp: RunningProvider,
    apis: DemoApis,
    name: String,
    artifacts: PathBuf,
    browser_log: PathBuf,
    env: Vec<(String, String)>,
    mfes: Vec<String>,
    /// The MFEs registered `"tokenExposure": "fetch-only"`.
    fetch_only: Vec<String>,
    /// The MFEs whose webviews exist at start (the first, and those registered `preload`).
    at_start: Vec<String>,
    keyring_service: String,
    account: String,
    launches: usize,
    _dir: TempDir,
    _lock: std::fs::File,
}

impl std::fmt::Debug for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scenario")
            .field("name", &self.name)
            .field("issuer", &self.idp.issuer().as_str())
            .finish_non_exhaustive()
    }
}

impl Scenario {
    /// A scenario named `name` (its artifacts go to `artifacts/e2e/<name>/`).
    pub fn builder(name: &str) -> ScenarioBuilder {
        ScenarioBuilder {
            name: name.to_owned(),
            provider: Provider::DevIdp,
            dialect: Dialect::Auth0,
            loopback: false,
            browser: BrowserMode::SignIn,
            user: "alice".into(),
            idp: IdpConfig::portico_demo(),
            app_env: Vec::new(),
            mfe_fields: Vec::new(),
            host: Host::Reference,
        }
    }

    /// Start the app (a fresh tauri-driver and WebDriver session).
    pub async fn launch(&mut self) -> Result<App> {
        self.launch_with_args(Vec::new()).await
    }

    /// Start the app with command-line arguments, e.g. the deep link that starts it.
    pub async fn launch_with_args(&mut self, args: Vec<String>) -> Result<App> {
        self.launches += 1;
        let label = format!("launch{}", self.launches);
        let spec = LaunchSpec {
            binary: self.app.clone(),
            env: self.env.clone(),
            args,
            mfes: self.mfes.clone(),
            at_start: self.at_start.clone(),
            log: self.artifacts.join(format!("{label}-app.log")),
            label,
        };
        let app = match App::launch(spec.clone()).await {
            // WebKitWebDriver now and then never hears from the browser it started (CI saw one
            // such start in a few hundred). That is the driver's handshake, not what a scenario
            // tests, so it gets one more start, said out loud; the first one's log is kept.
            Err(E2eError::Timeout { what, last, .. }) if what == SESSION_START => {
                eprintln!(
                    "e2e: {}: the WebDriver session did not open ({last}); starting once more",
                    spec.label
                );
                self.wait_off_bus().await?;
                App::launch(spec).await?
            }
            other => other?,
        };
        self.apps.push(app.clone());
        Ok(app)
    }

    /// Waits until no app instance owns the single-instance name, so that the next one starts
    /// as the first on the bus rather than forwarding its arguments to a dying one.
    async fn wait_off_bus(&self) -> Result<()> {
        let desktop = &self.desktop;
        wait::until("the app to leave the session bus", wait::UI, async || {
            Ok(if desktop.bus_has_name(&["SingleInstance", "portico"]) {
                Check::NotYet("the single-instance name is still owned".into())
            } else {
                Check::Ready(())
            })
        })
        .await
    }

    /// Quit an app the way the session ends (screenshots first), e.g. before a restart.
    pub async fn quit(&mut self, app: &App) -> Result<()> {
        self.capture(app, &format!("{}-before-quit", app.label()))
            .await;
        app.quit().await;
        // The next instance must be the first one on the bus, not a forwarder to this one.
        self.wait_off_bus().await
    }

    /// The registered MFE ids, in registry order.
    pub fn mfe_ids(&self) -> &[String] {
        &self.mfes
    }

    /// Whether the MFE is registered fetch-only: its page never holds a token.
    pub fn is_fetch_only(&self, mfe: &str) -> bool {
        self.fetch_only.iter().any(|m| m == mfe)
    }

    /// The base URL of this scenario's demo API for `audience` (with a trailing slash).
    pub fn api_url(&self, audience: &str) -> Option<url::Url> {
        self.apis.url_for(audience)
    }

    /// The audience an MFE is registered for (its first).
    pub fn audience_of(&self, mfe: &str) -> &'static str {
        match mfe {
            "billing" => portico_dev_idp::BILLING_API,
            "dashboard" => portico_dev_idp::CORE_API,
            "analytics" => portico_dev_idp::ANALYTICS_API,
            _ => "",
        }
    }

    /// The dev provider's switches (faults, TTLs, rotation) and counters. Panics in a
    /// [`Provider::Glewlwyd`] scenario: Glewlwyd has neither (see [`Scenario::glewlwyd`]).
    pub fn admin(&self) -> Admin {
        match &self.idp {
            RunningProvider::Dev(idp) => idp.admin(),
            RunningProvider::Glewlwyd(_) => {
                panic!(
                    "the dev provider's switches and counters do not exist in a Glewlwyd scenario"
                )
            }
        }
    }

    /// A snapshot of the dev provider's request counters (see [`Scenario::admin`]).
    pub fn counters(&self) -> Counters {
        self.admin().counters()
    }

    /// The Glewlwyd instance of a [`Provider::Glewlwyd`] scenario (its refresh tokens, its
    /// endpoints), `None` with the dev provider.
    pub fn glewlwyd(&self) -> Option<&Glewlwyd> {
        match &self.idp {
            RunningProvider::Glewlwyd(op) => Some(op),
            RunningProvider::Dev(_) => None,
        }
    }

    /// The provider's issuer URL.
    pub fn issuer(&self) -> &url::Url {
        self.idp.issuer()
    }

    /// The demo APIs the MFEs call.
    pub fn apis(&self) -> &DemoApis {
        &self.apis
    }

    /// This scenario's artifacts directory.
    pub fn artifacts(&self) -> &Path {
        &self.artifacts
    }

    /// What the scripted browser did so far: one JSON object per step.
    pub fn browser_events(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.browser_log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Wait until the scripted browser recorded `count` authorization URLs; returns the last.
    pub async fn authorize_url(&self, count: usize) -> Result<String> {
        wait::until(
            format!("the browser to be opened on /authorize ({count}×)"),
            wait::UI,
            async || {
                let urls: Vec<String> = self
                    .browser_events()
                    .iter()
                    .filter(|e| e["event"] == "authorize")
                    .filter_map(|e| e["url"].as_str().map(str::to_owned))
                    .collect();
                Ok(match urls.len() {
                    n if n >= count => Check::Ready(urls[n - 1].clone()),
                    n => Check::NotYet(format!("{n} authorization URLs")),
                })
            },
        )
        .await
    }

    /// Wait until the scripted browser logged an event satisfying `matches`.
    pub async fn wait_browser_event(
        &self,
        what: &str,
        matches: impl Fn(&Value) -> bool,
    ) -> Result<Value> {
        wait::until(
            format!("the browser to report {what}"),
            wait::UI,
            async || {
                let events = self.browser_events();
                Ok(match events.iter().find(|e| matches(e)) {
                    Some(e) => Check::Ready(e.clone()),
                    None => Check::NotYet(format!("browser log: {events:?}")),
                })
            },
        )
        .await
    }

    /// Deliver a URL the way Linux delivers a deep link: start the app binary with it, in this
    /// scenario's session (single-instance forwards it to the running app). Waits for that
    /// second process to exit and returns whether it exited successfully.
    pub async fn open_deep_link(&self, url: &str) -> Result<bool> {
        let mut cmd = Command::new(&self.app);
        cmd.arg(url)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("PORTICO_") {
                cmd.env_remove(k);
            }
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let mut second = ProcessGroup::spawn("the deep-link instance", &mut cmd)?;
        wait::until(
            "the deep-link instance to forward the URL and exit",
            wait::UI,
            async || {
                Ok(if second.has_exited() {
                    Check::Ready(())
                } else {
                    Check::NotYet("still running".into())
                })
            },
        )
        .await?;
        Ok(second.exit_success())
    }

    /// What the keyring holds for the app's account, read inside this scenario's session.
    pub async fn keyring_entry(&self) -> Result<KeyringEntry> {
        let probe = sibling_binary("portico-keyring-probe").ok_or_else(|| {
            E2eError::Setup(
                "portico-keyring-probe is not built (cargo build -p portico-e2e --bins)".into(),
            )
        })?;
        let mut cmd = tokio::process::Command::new(probe);
        cmd.args([&self.keyring_service, &self.account])
            .stdin(Stdio::null())
            .kill_on_drop(true);
        for (k, v) in self.desktop.env() {
            cmd.env(k, v);
        }
        let out = tokio::time::timeout(Duration::from_secs(20), cmd.output())
            .await
            .map_err(|_| E2eError::Timeout {
                what: "the keyring probe".into(),
                waited: Duration::from_secs(20),
                last: "no answer".into(),
            })?
            .map_err(E2eError::spawn("the keyring probe"))?;
        serde_json::from_slice(&out.stdout).map_err(|e| E2eError::Page {
            what: "reading the keyring probe's answer".into(),
            detail: e.to_string(),
        })
    }

    /// Screenshots of the chrome and every MFE plus a summary of what each shows, to
    /// `artifacts/e2e/<test>/<label>-*.png` and `<label>-views.json`. Best effort: a view that
    /// cannot be captured is noted in the summary.
    pub async fn capture(&self, app: &App, label: &str) {
        if app.is_quit() {
            return;
        }
        let mut summary = serde_json::Map::new();
        let chrome = app.chrome();
        self.capture_view(&chrome, label, &mut summary).await;
        for id in app.mfe_ids().to_vec() {
            // Only the selected MFE is painted: select it like a person would first.
            let selected = tokio::time::timeout(Duration::from_secs(8), app.select_tab(&id)).await;
            if !matches!(selected, Ok(Ok(()))) {
                summary.insert(format!("{id}-tab"), Value::from("could not select the tab"));
            }
            self.capture_view(&app.mfe(&id), label, &mut summary).await;
        }
        let path = self.artifacts.join(format!("{label}-views.json"));
        let text = serde_json::to_string_pretty(&Value::Object(summary)).unwrap_or_default();
        if let Err(e) = std::fs::write(&path, text) {
            eprintln!("e2e: cannot write {}: {e}", path.display());
        }
    }

    async fn capture_view(
        &self,
        view: &View<'_>,
        label: &str,
        summary: &mut serde_json::Map<String, Value>,
    ) {
        let limit = Duration::from_secs(10);
        match tokio::time::timeout(limit, view.summary()).await {
            Ok(Ok(v)) => summary.insert(view.name().to_owned(), v),
            Ok(Err(e)) => summary.insert(view.name().to_owned(), Value::from(e.to_string())),
            Err(_) => summary.insert(view.name().to_owned(), Value::from("summary timed out")),
        };
        match tokio::time::timeout(limit, view.screenshot()).await {
            Ok(Ok(png)) => {
                let path = self.artifacts.join(format!("{label}-{}.png", view.name()));
                if let Err(e) = std::fs::write(&path, png) {
                    eprintln!("e2e: cannot write {}: {e}", path.display());
                }
            }
            Ok(Err(e)) => {
                summary.insert(
                    format!("{}-screenshot", view.name()),
                    Value::from(e.to_string()),
                );
            }
            Err(_) => {
                summary.insert(
                    format!("{}-screenshot", view.name()),
                    Value::from("screenshot timed out"),
                );
            }
        }
    }

    /// Run the test body. Afterwards, pass or fail: capture every running app, write the
    /// provider's counters and the outcome to the artifacts, quit the apps, check that no log or
    /// artifact holds a token or an authorization code, and stop everything. A failure panics
    /// with the error and where the artifacts are.
    pub async fn run<F>(mut self, body: F)
    where
        F: AsyncFnOnce(&mut Scenario) -> Result<()>,
    {
        let started = std::time::Instant::now();
        let outcome = CatchUnwind(Box::pin(body(&mut self))).await;
        let took = started.elapsed();
        let label = match &outcome {
            Ok(Ok(())) => "final",
            _ => "failure",
        };
        for app in self.apps.clone() {
            self.capture(&app, &format!("{}-{label}", app.label()))
                .await;
            app.quit().await;
        }
        if let RunningProvider::Dev(idp) = &self.idp {
            let counters =
                serde_json::to_string_pretty(&idp.admin().counters()).unwrap_or_default();
            let _ = std::fs::write(self.artifacts.join("provider-counters.json"), counters);
        }

        let verdict = match &outcome {
            Ok(Ok(())) => format!("passed in {took:.1?}"),
            Ok(Err(e)) => format!("failed after {took:.1?}: {e}"),
            Err(p) => format!("panicked after {took:.1?}: {}", panic_text(p.as_ref())),
        };
        let _ = std::fs::write(self.artifacts.join("outcome.txt"), &verdict);
        let leaks = secret_leaks(&self.artifacts);
        // Issue 15.7, checked in every scenario: no browser was started with an authorization
        // request's, a PAR request's or a logout's secrets on its command line.
        let on_command_lines: Vec<Value> = self
            .browser_events()
            .into_iter()
            .filter(|e| e["event"] == "started" && e["argv_secrets"] != Value::Bool(false))
            .collect();
        // Glewlwyd's own log may quote tokens, so it is kept (after the leak scan) only to
        // explain a failure.
        if let (RunningProvider::Glewlwyd(op), false) = (&self.idp, matches!(outcome, Ok(Ok(())))) {
            let _ = std::fs::write(self.artifacts.join("glewlwyd-log-tail.txt"), op.log_tail());
        }
        let artifacts = self.artifacts.display().to_string();
        drop(self);
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("{e}\n(artifacts: {artifacts})"),
            Err(p) => std::panic::resume_unwind(p),
        }
        assert!(
            leaks.is_empty(),
            "secrets in logs or artifacts: {leaks:?} (artifacts: {artifacts})"
        );
        assert!(
            on_command_lines.is_empty(),
            "the browser was started with secrets on its command line: {on_command_lines:?} (artifacts: {artifacts})"
        );
    }
}

fn panic_text(p: &(dyn Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "non-text panic".into())
}

/// Access/ID tokens (anything shaped like a JWT) or authorization codes in any text artifact.
fn secret_leaks(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let path = e.path();
        if path.extension().is_some_and(|x| x == "png") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if portico_types::secret::contains_jwt(&text) {
            out.push(format!("{name}: a JWT"));
        }
        for marker in ["?code=", "&code="] {
            for (i, _) in text.match_indices(marker) {
                let value = &text[i + marker.len()..];
                if !value.starts_with("forged") {
                    out.push(format!("{name}: an authorization code"));
                }
            }
        }
    }
    out
}

/// Polls a boxed future inside `catch_unwind`, so the harness can capture artifacts after an
/// assertion in the test body panicked.
struct CatchUnwind<F: Future>(Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = std::thread::Result<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let fut = self.0.as_mut();
        match std::panic::catch_unwind(AssertUnwindSafe(move || fut.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(p) => Poll::Ready(Err(p)),
        }
    }
}

/// Removes the scenario's scratch directory (keyring data, config) at the end.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `PORTICO_ARTIFACTS`, else `artifacts/` at the repository root.
fn artifacts_root() -> PathBuf {
    std::env::var_os("PORTICO_ARTIFACTS")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("artifacts"))
}

/// The repository this crate was built in (it lives at `crates/testkit`).
pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The app configuration a scenario wrote, and what it registers.
struct AppConfig {
    path: PathBuf,
    mfes: Vec<String>,
    fetch_only: Vec<String>,
    at_start: Vec<String>,
}

/// The app's `plugins.portico` section from the repository's tauri.conf.json, with each MFE's
/// `settings.apiUrl` and `apis` pointing at this scenario's demo API for its audience.
fn write_app_config(
    dir: &Path,
    apis: &DemoApis,
    conf_path: &Path,
    fields: &[(String, String, Value)],
) -> Result<AppConfig> {
    let text = std::fs::read_to_string(conf_path)
        .map_err(E2eError::io(format!("read {}", conf_path.display())))?;
    let conf: Value = serde_json::from_str(&text)
        .map_err(|e| E2eError::Setup(format!("tauri.conf.json: {e}")))?;
    let mut section = conf["plugins"]["portico"].clone();
    let mfes = section["mfes"]
        .as_array_mut()
        .ok_or_else(|| E2eError::Setup("tauri.conf.json has no plugins.portico.mfes".into()))?;
    let mut ids = Vec::new();
    let mut fetch_only = Vec::new();
    let mut at_start = Vec::new();
    for mfe in mfes.iter_mut() {
        let id = mfe["id"].as_str().unwrap_or_default().to_owned();
        for (_, field, value) in fields.iter().filter(|(m, _, _)| *m == id) {
            mfe[field.as_str()] = value.clone();
        }
        let audience = mfe["audiences"][0].as_str().unwrap_or_default().to_owned();
        let url = apis
            .url_for(&audience)
            .ok_or_else(|| E2eError::Setup(format!("no demo API for {audience} (MFE {id})")))?;
        if !mfe["settings"].is_object() {
            mfe["settings"] = Value::Object(Default::default());
        }
        mfe["settings"]["apiUrl"] = Value::from(url.as_str());
        if mfe.get("apis").is_none() {
            mfe["apis"] = serde_json::json!([{ "baseUrl": url.as_str(), "audience": audience }]);
        }
        if mfe["tokenExposure"] == "fetch-only" {
            fetch_only.push(id.clone());
        }
        // The host makes the first MFE's webview at start, and those registered `preload`.
        if ids.is_empty() || mfe["preload"] == true {
            at_start.push(id.clone());
        }
        ids.push(id);
    }
    let path = dir.join("portico-config.json");
    std::fs::write(&path, section.to_string())
        .map_err(E2eError::io(format!("write {}", path.display())))?;
    Ok(AppConfig {
        path,
        mfes: ids,
        fetch_only,
        at_start,
    })
}

/// Warn (once per test binary) when the app binary is older than the sources it is built from:
/// the tests would exercise yesterday's app. `cargo xtask test` always rebuilds it first.
fn warn_if_stale(app: &Path) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let Ok(built) = std::fs::metadata(app).and_then(|m| m.modified()) else {
            return;
        };
        let root = repo_root();
        let sources = [
            "src-tauri/src",
            "crates/tauri-plugin-portico/src",
            "crates/broker/src",
            "crates/shell-core/src",
            "ui/web",
            "tauri.conf.json",
        ];
        let newest = sources
            .iter()
            .filter_map(|s| newest_mtime(&root.join(s)))
            .max();
        if newest.is_some_and(|n| n > built) {
            eprintln!(
                "e2e: WARNING: {} is older than its sources; run `cargo build -p portico` to test the current code",
                app.display()
            );
        }
    });
}

fn newest_mtime(path: &Path) -> Option<std::time::SystemTime> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_dir() {
        return meta.modified().ok();
    }
    std::fs::read_dir(path)
        .ok()?
        .flatten()
        .filter_map(|e| newest_mtime(&e.path()))
        .max()
}

/// One E2E test at a time on this machine, across test threads and test binaries: every test
/// starts a real app with WebKit, and two of them on 2 cores make timing-sensitive checks flaky.
async fn take_global_lock() -> Result<std::fs::File> {
    let path = std::env::temp_dir().join("portico-e2e.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(E2eError::io(format!("open {}", path.display())))?;
    tokio::task::spawn_blocking(move || match file.try_lock() {
        Ok(()) => Ok(file),
        Err(_) => {
            eprintln!("e2e: waiting for another end-to-end test to finish");
            file.lock()
                .map(|()| file)
                .map_err(E2eError::io("lock the E2E lock file"))
        }
    })
    .await
    .map_err(|e| E2eError::Setup(format!("lock task: {e}")))?
}
