//! What the plugin holds while the host runs — the validated registry, the broker, the login
//! phase, the per-webview push channels — and the host-facing API ([`Portico`]). Token logic
//! stays in the broker.

use std::collections::HashMap;
use std::sync::Mutex;

use portico_broker::{Audience, AuthError, Broker, ScopeCeiling, ScopeSet};
use portico_shell_core::config::MfeSource;
use portico_shell_core::embedded::Embedded;
use portico_shell_core::mfe_host::MfeHost;
use portico_shell_core::{AccessPolicy, MfeEntry, ShellConfig};
use portico_types::rate::{Limits, TokenBucket};
use portico_types::sync::lock;
use tauri::ipc::Channel;
use tauri::{AppHandle, Runtime};

use crate::models::{
    HostPush, HostState, LoginPhase, MfePush, MfeSummary, ProviderView, StepUpStatus, TokenStatus,
};

/// The plugin's state, one per app (`app.portico()`).
pub struct Portico {
    config: ShellConfig,
    policy: AccessPolicy,
    broker: Broker,
    provider: ProviderView,
    login: Mutex<LoginPhase>,
    active_mfe: Mutex<Option<String>>,
    /// One push channel per MFE webview label (a reload replaces it).
    mfe_channels: Mutex<HashMap<String, Channel<MfePush>>>,
    host_channels: Mutex<Vec<Channel<HostPush>>>,
    /// Warnings raised before the host UI subscribed (e.g. at start), replayed on subscribe.
    early_warnings: Mutex<Vec<String>>,
    /// The page each MFE webview shows, by label, recorded on the main thread when a page starts
    /// loading. `get_token` runs off the main thread, where asking the webview for its URL is a
    /// round trip through the event loop on every call (see `cargo xtask bench`).
    mfe_pages: Mutex<HashMap<String, tauri::Url>>,
    /// The loopback listener of the sign-in in progress (none with a deep-link redirect): it
    /// lives exactly as long as that sign-in.
    pub(crate) loopback: Mutex<Option<crate::login::LoopbackListener>>,
    /// The one-use loopback URL the browser was last started on (`browserHandoff`: a sign-in,
    /// step-up or sign-out); replaced by the next, closed when its sign-in ends.
    pub(crate) handoff: Mutex<Option<portico_shell_core::handoff::Handoff>>,
    /// The token table last pushed to the host UI, to push only changes.
    last_token_status: Mutex<Option<Vec<TokenStatus>>>,
    /// Native fetches a page may still abort.
    aborts: crate::fetch::Aborts,
    /// Per MFE webview label: how it has tried to leave its origins.
    leaving: Mutex<HashMap<String, Leaving>>,
    /// The step-up waiting in the browser, for the host UI.
    step_up: Mutex<Option<StepUpStatus>>,
    /// Kept alive for the app's lifetime: dropping them stops the servers.
    _embedded: Option<Embedded>,
    _hosts: Vec<MfeHost>,
}

/// System-browser windows one MFE webview may open by leaving its origins (a link, a refused
/// navigation, a pop-up): 3 at once, then one every 10 s. A script cannot flood the person's
/// browser; a person clicking links never notices.
pub const BROWSER_OPENS: Limits = Limits {
    burst: 3,
    refill: std::time::Duration::from_secs(10),
};

/// One MFE webview's attempts to leave its origins.
struct Leaving {
    /// Its allowance of system-browser windows ([`BROWSER_OPENS`]).
    opens: TokenBucket,
    /// Whether the refusal that began when the allowance ran out was logged.
    refusing_logged: bool,
    /// Whether a refusal without a click was logged (once per webview).
    unclicked_logged: bool,
}

/// Distinct warnings held for a host UI that is not listening yet.
const EARLY_WARNINGS: usize = 20;

impl Portico {
    /// From parts the host (or a test) built itself: a validated registry whose bundled MFEs have
    /// their origins, a broker for its provider, the provider as shown. [`crate::Builder::new`]
    /// builds these from `plugins.portico` instead.
    pub fn new(config: ShellConfig, broker: Broker, provider: ProviderView) -> Self {
        Self::with_servers(config, broker, provider, None, Vec::new())
    }

    pub(crate) fn with_servers(
        config: ShellConfig,
        broker: Broker,
        provider: ProviderView,
        embedded: Option<Embedded>,
        hosts: Vec<MfeHost>,
    ) -> Self {
        let active = config.mfes.first().map(|m| m.id.clone());
        Portico {
            policy: AccessPolicy::new(&config),
            config,
            broker,
            provider,
            login: Mutex::new(LoginPhase::Idle),
            active_mfe: Mutex::new(active),
            mfe_channels: Mutex::new(HashMap::new()),
            host_channels: Mutex::new(Vec::new()),
            early_warnings: Mutex::new(Vec::new()),
            last_token_status: Mutex::new(None),
            loopback: Mutex::new(None),
            mfe_pages: Mutex::new(HashMap::new()),
            aborts: crate::fetch::Aborts::default(),
            step_up: Mutex::new(None),
            leaving: Mutex::new(HashMap::new()),
            handoff: Mutex::new(None),
            _embedded: embedded,
            _hosts: hosts,
        }
    }

    pub(crate) fn aborts(&self) -> &crate::fetch::Aborts {
        &self.aborts
    }

    /// The validated registry.
    pub fn config(&self) -> &ShellConfig {
        &self.config
    }

    /// The registry as an access policy (who a webview is).
    pub fn policy(&self) -> &AccessPolicy {
        &self.policy
    }

    /// The token broker.
    pub fn broker(&self) -> &Broker {
        &self.broker
    }

    /// The registered MFEs.
    pub fn mfes(&self) -> &[MfeEntry] {
        &self.config.mfes
    }

    /// The URL an MFE's webview starts on (its bundled origin, or its remote URL).
    pub fn mfe_start_url(&self, id: &str) -> Option<url::Url> {
        let mfe = self.config.mfe(id)?;
        match &mfe.source {
            MfeSource::Remote(url) => Some(url.clone()),
            MfeSource::Bundled(_) => mfe
                .origins
                .first()
                .and_then(|o| url::Url::parse(&format!("{o}/")).ok()),
        }
    }

    /// Whether the MFE webview `label` may navigate to `url` (stays inside its origins).
    pub fn may_navigate(&self, label: &str, url: &url::Url) -> bool {
        self.policy.may_navigate(label, url)
    }

    /// An MFE webview started loading `url`: call from the webview's page-load hook (main thread)
    /// so `get_token` can judge the caller without a round trip to the event loop.
    pub fn record_mfe_page(&self, label: &str, url: &tauri::Url) {
        lock(&self.mfe_pages).insert(label.to_owned(), url.clone());
    }

    pub(crate) fn mfe_page(&self, label: &str) -> Option<tauri::Url> {
        lock(&self.mfe_pages).get(label).cloned()
    }

    pub fn login_phase(&self) -> LoginPhase {
        *lock(&self.login)
    }

    pub(crate) fn set_login_phase(&self, phase: LoginPhase) {
        *lock(&self.login) = phase;
        self.push_state();
    }

    /// The MFE the host shows.
    pub fn active_mfe(&self) -> Option<String> {
        lock(&self.active_mfe).clone()
    }

    /// The host now shows MFE `id` (pushed to the host UI).
    pub fn set_active_mfe(&self, id: &str) {
        *lock(&self.active_mfe) = Some(id.to_string());
        self.push_state();
    }

    /// The most MFE `mfe` may hold of `audience`: its own scopes, against every scope any MFE
    /// registered for that audience (so a reader never holds a writer's token).
    pub fn ceiling(&self, mfe: &MfeEntry, audience: &Audience) -> Result<ScopeCeiling, AuthError> {
        let registered = ScopeSet::from_tokens(mfe.scopes.iter().map(String::as_str))?;
        let mut guarded = ScopeSet::empty();
        for other in self
            .config
            .mfes
            .iter()
            .filter(|m| m.audiences.contains(audience))
        {
            guarded = guarded.union(&ScopeSet::from_tokens(
                other.scopes.iter().map(String::as_str),
            )?);
        }
        Ok(ScopeCeiling::new(registered, guarded))
    }

    /// What the host UI shows; no secrets.
    pub fn host_state(&self) -> HostState {
        HostState {
            session: self.broker.session(),
            login: self.login_phase(),
            mfes: self
                .config
                .mfes
                .iter()
                .map(|m| MfeSummary {
                    id: m.id.clone(),
                    title: m.title.clone(),
                    audiences: m.audiences.iter().map(|a| a.as_str().to_owned()).collect(),
                })
                .collect(),
            active_mfe: self.active_mfe(),
            provider: self.provider.clone(),
            step_up: lock(&self.step_up).clone(),
        }
    }

    /// Records the step-up in progress (or its end) for the host UI.
    pub(crate) fn set_step_up(&self, view: Option<portico_broker::StepUpView>) {
        let status = view.map(|v| {
            let title = self
                .config
                .mfes
                .iter()
                .find(|m| m.id == v.caller)
                .map_or_else(|| v.caller.clone(), |m| m.title.clone());
            StepUpStatus {
                mfe: v.caller,
                mfe_title: title,
                audience: v.audience.to_string(),
                acr_values: v.requirement.acr_values().to_vec(),
                max_age: v.requirement.max_age(),
            }
        });
        *lock(&self.step_up) = status;
    }

    /// Per audience: what the broker holds (no tokens) and which MFEs use it.
    pub fn token_status(&self) -> Vec<TokenStatus> {
        let status = self.broker.status();
        self.config
            .all_audiences()
            .into_iter()
            .map(|aud| {
                let s = status.iter().find(|s| s.audience == aud.as_str());
                TokenStatus {
                    audience: aud.as_str().to_owned(),
                    mfes: self.policy.users_of(aud.as_str()),
                    scope: s.and_then(|s| s.scope.clone()),
                    expires_at: s.and_then(|s| s.expires_at),
                    last_refresh: s.and_then(|s| s.last_refresh),
                    last_error: s.and_then(|s| s.last_error.clone()),
                }
            })
            .collect()
    }

    pub(crate) fn add_mfe_channel(&self, label: &str, channel: Channel<MfePush>) {
        lock(&self.mfe_channels).insert(label.to_string(), channel);
    }

    pub(crate) fn add_host_channel(&self, channel: Channel<HostPush>) {
        let warnings: Vec<String> = lock(&self.early_warnings).drain(..).collect();
        let _ = channel.send(HostPush::State {
            state: Box::new(self.host_state()),
        });
        for message in warnings {
            let _ = channel.send(HostPush::Warning { message });
        }
        let mut chans = lock(&self.host_channels);
        // A reload of the host UI leaves dead channels behind; keep the newest few.
        if chans.len() >= 4 {
            chans.remove(0);
        }
        chans.push(channel);
    }

    /// Send to the given MFE webviews only.
    pub(crate) fn push_to_mfes(&self, labels: &[String], message: &MfePush) {
        let chans = lock(&self.mfe_channels);
        for label in labels {
            if let Some(c) = chans.get(label) {
                if let Err(error) = c.send(message.clone()) {
                    tracing::debug!(%label, %error, "push to micro frontend failed");
                }
            }
        }
    }

    /// Labels of the MFE webviews that have a push channel.
    pub(crate) fn subscribed_mfe_labels(&self) -> Vec<String> {
        lock(&self.mfe_channels).keys().cloned().collect()
    }

    /// Labels of every MFE webview (session changes concern them all).
    pub(crate) fn all_mfe_labels(&self) -> Vec<String> {
        self.config.mfes.iter().map(|m| m.webview_label()).collect()
    }

    pub(crate) fn push_to_host(&self, message: &HostPush) {
        for c in lock(&self.host_channels).iter() {
            let _ = c.send(message.clone());
        }
    }

    pub(crate) fn push_state(&self) {
        self.push_to_host(&HostPush::State {
            state: Box::new(self.host_state()),
        });
    }

    /// Pushes the token table to the host UI if it changed since the last push. Every
    /// `get_token` ends here, and most are cache hits that change nothing.
    pub(crate) fn push_token_status(&self) {
        let status = self.token_status();
        {
            let mut last = lock(&self.last_token_status);
            if last.as_ref() == Some(&status) {
                return;
            }
            *last = Some(status.clone());
        }
        self.push_to_host(&HostPush::TokenStatus { status });
    }

    /// Pushes the token table whether or not it changed (a host UI that just subscribed).
    pub(crate) fn push_token_status_now(&self) {
        let status = self.token_status();
        *lock(&self.last_token_status) = Some(status.clone());
        self.push_to_host(&HostPush::TokenStatus { status });
    }

    /// A warning the user should see in the host UI (kept until the host UI is listening).
    pub fn warn(&self, message: impl Into<String>) {
        let message = message.into();
        tracing::warn!(%message, "portico warning");
        if lock(&self.host_channels).is_empty() {
            // Held for a host UI that is not listening yet: each message once, and not without
            // bound (the chrome merges repeats itself once it listens).
            let mut early = lock(&self.early_warnings);
            if !early.contains(&message) && early.len() < EARLY_WARNINGS {
                early.push(message);
            }
        } else {
            self.push_to_host(&HostPush::Warning { message });
        }
    }

    /// An error the user should see in the host UI.
    pub fn report_error(&self, error: &AuthError) {
        self.push_to_host(&HostPush::Error {
            error: error.clone(),
        });
    }

    /// Start (or restart) a sign-in and open the system browser on the provider.
    pub async fn sign_in<R: Runtime>(
        self: &std::sync::Arc<Self>,
        app: &AppHandle<R>,
    ) -> Result<(), AuthError> {
        crate::login::sign_in(app.clone(), std::sync::Arc::clone(self)).await
    }

    /// Cancel a pending sign-in.
    pub fn cancel_sign_in(&self) {
        crate::login::cancel(self);
    }

    /// Sign out: revoke at the provider, clear the keyring, tell every webview.
    pub async fn sign_out<R: Runtime>(
        self: &std::sync::Arc<Self>,
        app: &AppHandle<R>,
    ) -> Result<(), AuthError> {
        crate::login::sign_out(app.clone(), std::sync::Arc::clone(self)).await
    }

    /// A URL that came back from the browser (a deep link the host received). Forged or stale
    /// ones are refused by the broker and shown as a warning; the pending sign-in stays.
    pub async fn handle_callback<R: Runtime>(
        self: &std::sync::Arc<Self>,
        app: &AppHandle<R>,
        url: &str,
    ) {
        crate::login::handle_callback(app, self, url).await
    }

    /// Open a URL in the user's browser (the configured browser command, or the desktop's).
    pub fn open_in_browser<R: Runtime>(&self, app: &AppHandle<R>, url: &str) {
        crate::login::open_in_browser(app, self, url)
    }

    /// A navigation or pop-up of the MFE webview `label` to `url` that no click asked for (a
    /// script, a foreign frame): refused, nothing opened; the first of each webview is logged
    /// with the target's origin (the rest of the URL may carry what the page read).
    pub fn refuse_for_mfe(&self, label: &str, url: &url::Url) {
        let first = self.leaving(label, |l| !std::mem::replace(&mut l.unclicked_logged, true));
        if first {
            tracing::warn!(
                %label,
                target = %url.origin().ascii_serialization(),
                "a micro frontend tried to leave its origin without a click (script or frame); refused, the browser is not opened (logged once per micro frontend)"
            );
        }
    }

    /// Open a URL the MFE webview `label` tried to leave for, within its [`BROWSER_OPENS`]
    /// allowance; returns whether it was opened. The first refusal of a run is logged.
    pub fn open_for_mfe<R: Runtime>(&self, app: &AppHandle<R>, label: &str, url: &str) -> bool {
        let allowed = self.leaving(label, |l| {
            let allowed = l.opens.take(std::time::Instant::now());
            if !allowed && !l.refusing_logged {
                tracing::warn!(
                    %label,
                    "a micro frontend tried to open the system browser too often; refused until its allowance refills"
                );
            }
            l.refusing_logged = !allowed;
            allowed
        });
        if allowed {
            self.open_in_browser(app, url);
        }
        allowed
    }

    /// `f` on the webview `label`'s record of leaving, made on first use.
    fn leaving<T>(&self, label: &str, f: impl FnOnce(&mut Leaving) -> T) -> T {
        let mut all = lock(&self.leaving);
        let record = all.entry(label.to_owned()).or_insert_with(|| Leaving {
            opens: TokenBucket::new(BROWSER_OPENS, std::time::Instant::now()),
            refusing_logged: false,
            unclicked_logged: false,
        });
        f(record)
    }
}
