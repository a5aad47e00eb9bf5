//! What the shell holds while it runs: the validated registry, the broker, the login phase and
//! the per-webview push channels. Token logic stays in the broker.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use portico_broker::{AuthError, Broker, Dialect};
use portico_shell_core::embedded::Embedded;
use portico_shell_core::mfe_host::MfeHost;
use portico_shell_core::{AccessPolicy, ShellConfig};
use portico_types::sync::lock;
use serde::Serialize;
use serde_json::{json, Value};
use tauri::ipc::Channel;

/// Where the interactive sign-in stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginPhase {
    Idle,
    /// The browser is open on the provider; waiting for the callback.
    Pending,
    /// A callback passed the checks; exchanging the code.
    Completing,
}

/// The provider as the chrome shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderView {
    pub issuer: String,
    pub dialect: Dialect,
    pub embedded: bool,
}

pub struct Shell {
    pub config: ShellConfig,
    pub policy: AccessPolicy,
    pub broker: Broker,
    pub provider: ProviderView,
    login: Mutex<LoginPhase>,
    active_mfe: Mutex<Option<String>>,
    pub chrome_expanded: AtomicBool,
    /// One push channel per MFE webview label (a reload replaces it).
    mfe_channels: Mutex<HashMap<String, Channel<Value>>>,
    chrome_channels: Mutex<Vec<Channel<Value>>>,
    /// Warnings raised before the chrome subscribed (e.g. at start), replayed on subscribe.
    early_warnings: Mutex<Vec<String>>,
    /// The page each MFE webview shows, by label, recorded on the main thread when a page starts
    /// loading. `get_token` runs off the main thread, where asking the webview for its URL is a
    /// round trip through the event loop on every call (see `cargo xtask bench`).
    mfe_pages: Mutex<HashMap<String, tauri::Url>>,
    /// The redirect URI of the fixed-port loopback listener, once bound (it stays for the app's
    /// lifetime: a second sign-in must not find its own earlier listener on the port).
    pub fixed_loopback: tokio::sync::Mutex<Option<url::Url>>,
    /// The token table last pushed to the chrome, to push only changes.
    last_token_status: Mutex<Option<Value>>,
    /// Kept alive for the app's lifetime: dropping them stops the servers.
    pub _embedded: Option<Embedded>,
    pub _hosts: Vec<MfeHost>,
}

impl Shell {
    pub fn new(
        config: ShellConfig,
        broker: Broker,
        provider: ProviderView,
        embedded: Option<Embedded>,
        hosts: Vec<MfeHost>,
    ) -> Self {
        let active = config.mfes.first().map(|m| m.id.clone());
        Shell {
            policy: AccessPolicy::new(&config),
            config,
            broker,
            provider,
            login: Mutex::new(LoginPhase::Idle),
            active_mfe: Mutex::new(active),
            chrome_expanded: AtomicBool::new(false),
            mfe_channels: Mutex::new(HashMap::new()),
            chrome_channels: Mutex::new(Vec::new()),
            early_warnings: Mutex::new(Vec::new()),
            last_token_status: Mutex::new(None),
            fixed_loopback: tokio::sync::Mutex::new(None),
            mfe_pages: Mutex::new(HashMap::new()),
            _embedded: embedded,
            _hosts: hosts,
        }
    }

    pub fn login_phase(&self) -> LoginPhase {
        *lock(&self.login)
    }

    pub fn set_login_phase(&self, phase: LoginPhase) {
        *lock(&self.login) = phase;
        self.push_state();
    }

    pub fn active_mfe(&self) -> Option<String> {
        lock(&self.active_mfe).clone()
    }

    pub fn set_active_mfe(&self, id: &str) {
        *lock(&self.active_mfe) = Some(id.to_string());
        self.push_state();
    }

    /// The chrome's view of everything; no secrets.
    pub fn state_json(&self) -> Value {
        json!({
            "session": self.broker.session(),
            "login": self.login_phase(),
            "mfes": self.config.mfes.iter().map(|m| json!({
                "id": m.id, "title": m.title, "audiences": m.audiences,
            })).collect::<Vec<_>>(),
            "activeMfe": self.active_mfe(),
            "provider": self.provider,
            "chromeExpanded": self.chrome_expanded.load(Ordering::Relaxed),
        })
    }

    /// Per audience: what the broker holds (no tokens) and which MFEs use it.
    pub fn token_status_json(&self) -> Value {
        let status = self.broker.status();
        Value::Array(
            self.config
                .all_audiences()
                .into_iter()
                .map(|aud| {
                    let s = status.iter().find(|s| s.audience == aud.as_str());
                    json!({
                        "audience": aud,
                        "mfes": self.policy.users_of(aud.as_str()),
                        "scope": s.and_then(|s| s.scope.clone()),
                        "expiresAt": s.and_then(|s| s.expires_at),
                        "lastRefresh": s.and_then(|s| s.last_refresh),
                        "lastError": s.and_then(|s| s.last_error.clone()),
                    })
                })
                .collect(),
        )
    }

    pub fn add_mfe_channel(&self, label: &str, channel: Channel<Value>) {
        lock(&self.mfe_channels).insert(label.to_string(), channel);
    }

    pub fn add_chrome_channel(&self, channel: Channel<Value>) {
        let warnings: Vec<String> = lock(&self.early_warnings).drain(..).collect();
        let _ = channel.send(json!({ "type": "state", "state": self.state_json() }));
        for message in warnings {
            let _ = channel.send(json!({ "type": "warning", "message": message }));
        }
        let mut chans = lock(&self.chrome_channels);
        // A reload of the chrome leaves dead channels behind; keep the newest few.
        if chans.len() >= 4 {
            chans.remove(0);
        }
        chans.push(channel);
    }

    /// Send to the given MFE webviews only.
    pub fn push_to_mfes(&self, labels: &[String], message: &Value) {
        let chans = lock(&self.mfe_channels);
        for label in labels {
            if let Some(c) = chans.get(label) {
                if let Err(error) = c.send(message.clone()) {
                    tracing::debug!(%label, %error, "push to micro frontend failed");
                }
            }
        }
    }

    /// Labels of every MFE webview (session changes concern them all).
    pub fn all_mfe_labels(&self) -> Vec<String> {
        self.config.mfes.iter().map(|m| m.webview_label()).collect()
    }

    pub fn push_to_chrome(&self, message: &Value) {
        for c in lock(&self.chrome_channels).iter() {
            let _ = c.send(message.clone());
        }
    }

    pub fn push_state(&self) {
        self.push_to_chrome(&json!({ "type": "state", "state": self.state_json() }));
    }

    /// An MFE webview started loading `url` (called on the main thread by the page-load hook).
    pub fn record_mfe_page(&self, label: &str, url: &tauri::Url) {
        lock(&self.mfe_pages).insert(label.to_owned(), url.clone());
    }

    /// The page the MFE webview `label` last started loading, if the hook has seen one.
    pub fn mfe_page(&self, label: &str) -> Option<tauri::Url> {
        lock(&self.mfe_pages).get(label).cloned()
    }

    /// Pushes the token table to the chrome if it changed since the last push. Every
    /// `get_token` ends here, and most are cache hits that change nothing: an unconditional push
    /// was an extra IPC message to the chrome per call (measured by `cargo xtask bench`).
    pub fn push_token_status(&self) {
        let status = self.token_status_json();
        {
            let mut last = lock(&self.last_token_status);
            if last.as_ref() == Some(&status) {
                return;
            }
            *last = Some(status.clone());
        }
        self.push_to_chrome(&json!({ "type": "tokenStatus", "status": status }));
    }

    /// Pushes the token table whether or not it changed (a chrome that just subscribed).
    pub fn push_token_status_now(&self) {
        let status = self.token_status_json();
        *lock(&self.last_token_status) = Some(status.clone());
        self.push_to_chrome(&json!({ "type": "tokenStatus", "status": status }));
    }

    /// A warning the user should see in the chrome (kept until the chrome is listening).
    pub fn warn(&self, message: impl Into<String>) {
        let message = message.into();
        tracing::warn!(%message, "shell warning");
        if lock(&self.chrome_channels).is_empty() {
            lock(&self.early_warnings).push(message);
        } else {
            self.push_to_chrome(&json!({ "type": "warning", "message": message }));
        }
    }

    pub fn report_error(&self, error: &AuthError) {
        self.push_to_chrome(&json!({ "type": "error", "error": error }));
    }
}
