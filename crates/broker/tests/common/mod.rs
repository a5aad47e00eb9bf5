//! Shared helpers: a real dev-idp on loopback, a broker configured for it, a scripted browser.
#![allow(dead_code)] // each test binary uses a different subset

use portico_broker::*;
use portico_dev_idp::{
    Admin, DevIdp, IdpConfig, ANALYTICS_API, BILLING_API, CORE_API, DEMO_CLIENT_ID,
};
use portico_testkit::browser;
use portico_testkit::provider::{self, DEEP_LINK};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const CALLBACK: &str = DEEP_LINK;

pub fn aud(s: &str) -> Audience {
    Audience::parse(s).unwrap()
}
pub fn billing() -> Audience {
    aud(BILLING_API)
}
pub fn core() -> Audience {
    aud(CORE_API)
}
pub fn analytics() -> Audience {
    aud(ANALYTICS_API)
}
pub fn scopes(s: &str) -> ScopeSet {
    ScopeSet::parse(s).unwrap()
}

pub fn provider(idp: &DevIdp, dialect: Dialect) -> ProviderConfig {
    provider::dev_idp(idp.issuer(), dialect)
        .and_then(|b| {
            b.post_logout_redirect(url::Url::parse("http://127.0.0.1:1/signed-out").ok())
                .build()
        })
        .expect("provider fixture")
}

/// Production defaults, but short waits so retry tests stay fast.
pub fn options() -> BrokerOptions {
    BrokerOptions {
        http_timeout: Duration::from_secs(5),
        retry_base_delay: Duration::from_millis(20),
        proactive_check_interval: Duration::from_millis(50),
        ..BrokerOptions::default()
    }
}

pub struct Env {
    pub idp: DevIdp,
    pub admin: Admin,
    pub clock: Arc<ManualClock>,
    pub store: Arc<dyn SessionStore>,
    pub broker: Broker,
    pub config: ProviderConfig,
}

pub async fn start_idp(config: IdpConfig) -> DevIdp {
    DevIdp::start(config).await.expect("dev-idp starts")
}

pub async fn env(dialect: Dialect) -> Env {
    env_with(
        IdpConfig::portico_demo(),
        dialect,
        options(),
        Arc::new(MemoryStore::new()),
    )
    .await
}

pub async fn env_with(
    idp_config: IdpConfig,
    dialect: Dialect,
    options: BrokerOptions,
    store: Arc<dyn SessionStore>,
) -> Env {
    let idp = start_idp(idp_config).await;
    Env::with_store(idp, dialect, options, store)
}

impl Env {
    /// A broker with production options and a memory store on a provider already running.
    pub fn on(idp: DevIdp, dialect: Dialect) -> Env {
        Env::with_store(idp, dialect, options(), Arc::new(MemoryStore::new()))
    }

    fn with_store(
        idp: DevIdp,
        dialect: Dialect,
        options: BrokerOptions,
        store: Arc<dyn SessionStore>,
    ) -> Env {
        let config = provider(&idp, dialect);
        let clock = Arc::new(ManualClock::starting_now());
        let broker = Broker::new(config.clone(), options, store.clone(), clock.clone()).unwrap();
        Env {
            admin: idp.admin(),
            idp,
            clock,
            store,
            broker,
            config,
        }
    }

    /// The same provider and store with DPoP in `mode` (a new broker: "the app restarted").
    pub fn with_dpop(mut self, mode: Mode) -> Env {
        self.config = self
            .config
            .to_builder()
            .dpop(mode)
            .build()
            .expect("provider fixture");
        self.broker = self.restart(options());
        self
    }
}

impl Env {
    /// The same provider with pushed authorization requests off, for tests that read the
    /// authorization request's parameters from the browser's URL.
    pub fn without_par(mut self) -> Env {
        self.config = self
            .config
            .to_builder()
            .par(Mode::Off)
            .build()
            .expect("provider fixture");
        self.broker = self.restart(options());
        self
    }

    /// A second broker on the same store, clock and provider: "the app restarted".
    pub fn restart(&self, options: BrokerOptions) -> Broker {
        Broker::new(
            self.config.clone(),
            options,
            self.store.clone(),
            self.clock.clone(),
        )
        .unwrap()
    }

    pub fn stored_rt(&self) -> Option<String> {
        self.store
            .load()
            .unwrap()
            .map(|s| s.refresh_token.expose_secret().to_owned())
    }

    /// A raw refresh-token grant, bypassing the broker (to probe what the provider thinks of a token).
    pub async fn raw_refresh(&self, rt: &str) -> (u16, serde_json::Value) {
        let url = self.idp.issuer().join("oauth/token").unwrap();
        let mut form = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
            ("client_id", DEMO_CLIENT_ID),
        ];
        // RFC 8707 §2.2: with several resources granted, a token request must name one.
        if self.config.dialect() == Dialect::Rfc8707 {
            if let Some(a) = self.config.login_token_audience() {
                form.push(("resource", a.as_str()));
            }
        }
        let resp = reqwest::Client::new()
            .post(url)
            .form(&form)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(serde_json::Value::Null))
    }
}

/// Begin a login, sign in as `user` in the scripted browser, return the callback URL.
pub async fn callback_for(broker: &Broker, user: &str) -> String {
    let req = broker.begin_login(None).await.expect("begin_login");
    browser::sign_in(req.authorize_url.as_str(), user)
        .await
        .expect("browser sign-in")
}

pub async fn login(broker: &Broker, user: &str) -> SessionInfo {
    let cb = callback_for(broker, user).await;
    broker.complete_login(&cb).await.expect("complete_login")
}

/// Claims of a JWT, unverified (tests only).
pub fn claims(jwt: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// A store wrapper that records every save and can be told to fail or to be slow.
#[derive(Default)]
pub struct ObservedStore {
    inner: MemoryStore,
    pub saves: Mutex<Vec<String>>,
    pub fail_saves: std::sync::atomic::AtomicBool,
    pub fail_all: std::sync::atomic::AtomicBool,
    pub save_delay: Mutex<Duration>,
    /// How often the persisted pending sign-in was read.
    pub pending_loads: std::sync::atomic::AtomicUsize,
}

impl SessionStore for ObservedStore {
    fn load(&self) -> Result<Option<StoredSession>, StoreError> {
        if self.fail_all.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(StoreError::Unavailable("injected: keyring locked".into()));
        }
        self.inner.load()
    }
    fn save(&self, s: &StoredSession) -> Result<(), StoreError> {
        std::thread::sleep(*self.save_delay.lock().unwrap());
        if self.fail_saves.load(std::sync::atomic::Ordering::SeqCst)
            || self.fail_all.load(std::sync::atomic::Ordering::SeqCst)
        {
            return Err(StoreError::Unavailable("injected: keyring locked".into()));
        }
        self.saves
            .lock()
            .unwrap()
            .push(s.refresh_token.expose_secret().to_owned());
        self.inner.save(s)
    }
    fn clear(&self) -> Result<(), StoreError> {
        if self.fail_all.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(StoreError::Unavailable("injected: keyring locked".into()));
        }
        self.inner.clear()
    }
    fn load_pending(&self) -> Result<Option<PendingLogin>, StoreError> {
        self.pending_loads
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if self.fail_all.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(StoreError::Unavailable("injected: keyring locked".into()));
        }
        self.inner.load_pending()
    }
    fn save_pending(&self, p: &PendingLogin) -> Result<(), StoreError> {
        self.inner.save_pending(p)
    }
    fn clear_pending(&self) -> Result<(), StoreError> {
        self.inner.clear_pending()
    }
}

/// Wait for an event matching `f`, up to `secs`.
pub async fn wait_event(
    rx: &mut tokio::sync::broadcast::Receiver<BrokerEvent>,
    secs: u64,
    mut f: impl FnMut(&BrokerEvent) -> bool,
) -> Option<BrokerEvent> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Ok(e)) if f(&e) => return Some(e),
            Ok(Ok(_)) | Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => continue,
            _ => return None,
        }
    }
}
