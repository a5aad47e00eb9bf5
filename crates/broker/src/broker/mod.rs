//! The broker: login, session, per-audience tokens with single-flight and rotation-safe refresh.

pub(crate) mod token_endpoint;

use crate::cache::{CacheEntry, TokenCache};
use crate::clock::Clock;
use crate::config::{Audience, BrokerOptions, ProviderConfig, RedirectUri, ScopeSet};
use crate::dialect::Revocation;
use crate::discovery::{self, ProviderMetadata};
use crate::error::{AuthError, IdTokenDefect, StoreError};
use crate::http::{Http, RetryPolicy};
use crate::id_token::{self, IdClaims};
use crate::ipc::{AudienceStatus, BrokerEvent, SessionInfo, TokenGrant};
use crate::jwks::JwksCache;
use crate::secret::{AuthCode, IdToken, RefreshToken};
use crate::store::{SessionStore, StoredSession};
use crate::transaction::{CallbackOutcome, LoginTransaction};
use portico_types::net::is_loopback_ip;
use portico_types::sync::lock;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime};
use token_endpoint::{accept_access_token, api_scopes, Form, TokenResponse};
use tokio::sync::{broadcast, RwLock};
use url::Url;

/// Back-off of a proactive refresh after a retryable failure: first wait, and the cap it doubles to.
const PROACTIVE_RETRY_BACKOFF: (Duration, Duration) =
    (Duration::from_secs(5), Duration::from_secs(60));
const ROTATION_UNKNOWN: u8 = 0;
const ROTATION_ON: u8 = 1;
const ROTATION_OFF: u8 = 2;
/// States of completed (or completing) sign-ins remembered so a replayed callback cannot revive
/// their persisted copy.
const CONSUMED_STATES: usize = 16;

/// A started login: open `authorize_url` in the system browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginRequest {
    pub authorize_url: Url,
    /// After this the callback is refused with [`AuthError::LoginExpired`].
    pub expires_at: SystemTime,
}

struct Session {
    info: SessionInfo,
    refresh_token: Option<RefreshToken>,
    id_token: Option<IdToken>,
    /// Bumped on every sign-in/sign-out so late results of an old session are dropped.
    generation: u64,
}

struct Pending {
    tx: Option<LoginTransaction>,
    /// State of the last cancelled or superseded login: its callback is `LoginCancelled`, not a forgery.
    cancelled_state: Option<String>,
    /// States whose callback was already taken: never restored from the store again.
    consumed: VecDeque<String>,
}

impl Pending {
    /// Remembers a taken (or dead) sign-in's state so its persisted copy is never restored.
    fn consume(&mut self, state: String) {
        if self.consumed.len() >= CONSUMED_STATES {
            self.consumed.pop_front();
        }
        self.consumed.push_back(state);
    }
}

/// Single-flight gate of one audience, with the outcome of the last refresh behind it.
#[derive(Default)]
struct Flight {
    gate: tokio::sync::Mutex<()>,
    /// Refreshes finished behind this gate; a waiter that sees it move shares that outcome.
    completed: AtomicU64,
    last_error: Mutex<Option<AuthError>>,
}

struct Inner {
    config: ProviderConfig,
    options: BrokerOptions,
    store: Arc<dyn SessionStore>,
    clock: Arc<dyn Clock>,
    http: Http,
    metadata: tokio::sync::Mutex<Option<Arc<ProviderMetadata>>>,
    jwks: JwksCache,
    pending: Mutex<Pending>,
    session: Mutex<Option<Session>>,
    cache: Mutex<TokenCache>,
    flights: Mutex<HashMap<Audience, Arc<Flight>>>,
    /// The token endpoint asked us (429 + `Retry-After`) not to come back before this instant.
    rate_limited_until: Mutex<Option<SystemTime>>,
    /// The refresh-token lineage. Rotating providers: every grant holds it exclusively.
    /// Non-rotating providers: refreshes share it. Sign-in/out always hold it exclusively.
    lineage: RwLock<u64>,
    rotation: AtomicU8,
    events: broadcast::Sender<BrokerEvent>,
}

/// The token broker. Cheap to clone; all clones share one session.
///
/// ```no_run
/// use portico_broker::*;
/// use std::sync::Arc;
/// # async fn demo() -> Result<(), AuthError> {
/// let billing = Audience::parse("https://api.portico.dev/billing")?;
/// let config = ProviderConfig {
///     issuer: "https://tenant.eu.auth0.com/".parse().unwrap(),
///     client_id: "portico-desktop".into(),
///     redirect: RedirectUri::PrivateScheme("dev.portico.app:/callback".parse().unwrap()),
///     dialect: Dialect::Auth0,
///     audiences: vec![billing.clone()],
///     default_audience: Some(billing.clone()),
///     scopes: ScopeSet::parse("profile email")?,
///     extra_authorize_params: vec![],
///     post_logout_redirect: None,
///     revocation: Revocation::Rfc7009,
/// };
/// let store = Arc::new(KeyringStore::new("dev.portico.app", "session"));
/// let broker = Broker::new(config, BrokerOptions::default(), store, Arc::new(SystemClock))?;
/// if broker.silent_login().await.is_err() {
///     let login = broker.begin_login(None).await?;
///     // open login.authorize_url in the system browser; the deep link brings the callback:
///     # let callback_url = String::new();
///     broker.complete_login(&callback_url).await?;
/// }
/// let _refresher = broker.start_proactive_refresh();
/// let grant = broker.get_token(&billing, &ScopeSet::parse("read:invoices")?).await?;
/// println!("token for {} until {}", grant.audience, grant.expires_at);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Broker {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker")
            .field("issuer", &self.inner.config.issuer.as_str())
            .field("client_id", &self.inner.config.client_id)
            .finish_non_exhaustive()
    }
}

impl Broker {
    /// Validates the configuration and builds a broker. No network traffic until first use.
    pub fn new(
        config: ProviderConfig,
        options: BrokerOptions,
        store: Arc<dyn SessionStore>,
        clock: Arc<dyn Clock>,
    ) -> Result<Broker, AuthError> {
        config.validate()?;
        if options.http_timeout.is_zero() || options.max_retries > 10 {
            return Err(AuthError::config(
                "http_timeout must be > 0 and max_retries <= 10",
            ));
        }
        let http = Http::new(
            options.http_timeout,
            RetryPolicy {
                max_retries: options.max_retries,
                base_delay: options.retry_base_delay,
                max_retry_after: options.max_retry_after,
            },
        )?;
        let (events, _) = broadcast::channel(64);
        Ok(Broker {
            inner: Arc::new(Inner {
                jwks: JwksCache::new(options.jwks_refetch_min_interval),
                config,
                options,
                store,
                clock,
                http,
                metadata: tokio::sync::Mutex::new(None),
                pending: Mutex::new(Pending {
                    tx: None,
                    cancelled_state: None,
                    consumed: VecDeque::new(),
                }),
                session: Mutex::new(None),
                cache: Mutex::new(TokenCache::default()),
                flights: Mutex::new(HashMap::new()),
                rate_limited_until: Mutex::new(None),
                lineage: RwLock::new(0),
                rotation: AtomicU8::new(ROTATION_UNKNOWN),
                events,
            }),
        })
    }

    /// Starts a login: a fresh PKCE/state/nonce transaction replacing any pending one.
    ///
    /// With a loopback redirect, pass the `http://127.0.0.1:{port}{path}` the shell listens on.
    pub async fn begin_login(
        &self,
        redirect_uri_override: Option<Url>,
    ) -> Result<LoginRequest, AuthError> {
        let inner = &self.inner;
        let redirect = match (&inner.config.redirect, redirect_uri_override) {
            (RedirectUri::PrivateScheme(u), None) => u.clone(),
            (RedirectUri::PrivateScheme(u), Some(o)) if &o == u => o,
            (RedirectUri::PrivateScheme(_), Some(_)) => {
                return Err(AuthError::config(
                    "redirect override differs from the configured redirect URI",
                ))
            }
            (RedirectUri::Loopback { .. }, None) => {
                return Err(AuthError::config(
                    "a loopback redirect needs the listening port",
                ))
            }
            (RedirectUri::Loopback { path }, Some(o)) => {
                if o.scheme() != "http"
                    || !is_loopback_ip(&o)
                    || o.port().is_none()
                    || o.path() != path
                    || o.query().is_some()
                    || o.fragment().is_some()
                {
                    return Err(AuthError::config(
                        "loopback redirect must be http://127.0.0.1:{port} (or [::1]) with the configured path",
                    ));
                }
                o
            }
        };
        let metadata = inner.metadata().await?;
        let tx = LoginTransaction::new(redirect, inner.clock.now(), inner.options.transaction_ttl);
        let request = LoginRequest {
            authorize_url: tx.authorize_url(&metadata.authorization_endpoint, &inner.config),
            expires_at: tx.expires_at,
        };
        // A deep-link sign-in may be completed by a later process (the link starts the app),
        // so its transaction is persisted; a loopback listener dies with this process.
        if matches!(inner.config.redirect, RedirectUri::PrivateScheme(_)) {
            let pending = tx.to_pending();
            if let Err(e) = inner.store_op(move |s| s.save_pending(&pending)).await {
                tracing::warn!(error = %e, "pending sign-in not persisted; it completes in this run only");
            }
        }
        let mut p = lock(&inner.pending);
        if let Some(old) = p.tx.replace(tx) {
            p.cancelled_state = Some(old.state);
        }
        Ok(request)
    }

    /// Forget the persisted pending sign-in, off the caller's thread (store calls block and
    /// this is called from sync contexts too).
    /// Only the entry of that transaction is removed, so a sign-in begun meanwhile survives.
    fn forget_pending(&self, state: String) {
        let store = self.inner.store.clone();
        std::thread::spawn(move || {
            let result = match store.load_pending() {
                Ok(Some(p)) if p.state == state => store.clear_pending(),
                Ok(_) => Ok(()),
                Err(e) => Err(e),
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, "could not clear the persisted pending sign-in");
            }
        });
    }

    /// Drops the pending login; its callback will be refused with [`AuthError::LoginCancelled`].
    pub fn cancel_login(&self) {
        {
            let mut p = lock(&self.inner.pending);
            if let Some(old) = p.tx.take() {
                p.cancelled_state = Some(old.state.clone());
                drop(p);
                self.forget_pending(old.state);
            }
        }
    }

    /// Whether a login is pending and not expired.
    pub fn pending_login(&self) -> bool {
        let now = self.inner.clock.now();
        lock(&self.inner.pending)
            .tx
            .as_ref()
            .is_some_and(|t| now < t.expires_at)
    }

    /// Completes the pending login with the callback URL (deep link or loopback request URL).
    ///
    /// Forged, replayed or malformed callbacks are refused and leave the pending login in place.
    /// If the session cannot be persisted the sign-in still holds for this run and
    /// [`AuthError::StorageUnavailable`] is returned; [`Broker::session`] then shows the user.
    pub async fn complete_login(&self, callback_url: &str) -> Result<SessionInfo, AuthError> {
        let inner = &self.inner;
        let metadata = inner.metadata().await?;
        if lock(&inner.pending).tx.is_none() {
            // Started by the deep link itself? The sign-in may have begun in an earlier run.
            if let Ok(Some(saved)) = inner.store_op(|s| s.load_pending()).await {
                if let Some(tx) = LoginTransaction::from_pending(saved) {
                    let mut p = lock(&inner.pending);
                    // A used or cancelled sign-in whose stored copy is not yet removed stays dead.
                    let dead = p.consumed.contains(&tx.state)
                        || p.cancelled_state.as_ref() == Some(&tx.state);
                    if p.tx.is_none() && !dead {
                        p.tx = Some(tx);
                    }
                }
            }
        }
        // Decided under the lock; the store is touched after it is released.
        let taken: Result<(LoginTransaction, CallbackOutcome), (AuthError, Option<String>)> = {
            let mut p = lock(&inner.pending);
            let cancelled = |p: &Pending| {
                let st = state_param(callback_url);
                st.is_some() && st == p.cancelled_state
            };
            match p.tx.as_ref() {
                None if cancelled(&p) => Err((AuthError::LoginCancelled, None)),
                None => Err((AuthError::NoPendingLogin, None)),
                Some(tx) if inner.clock.now() >= tx.expires_at => {
                    let state = tx.state.clone();
                    p.tx = None;
                    // Dead for good: its stored copy must not be restored by the next callback,
                    // even before the removal has reached the store.
                    p.consume(state.clone());
                    Err((AuthError::LoginExpired, Some(state)))
                }
                Some(tx) => match tx.check_callback(
                    callback_url,
                    &metadata.issuer,
                    metadata.iss_parameter_supported,
                ) {
                    Err(AuthError::StateMismatch) if cancelled(&p) => {
                        Err((AuthError::LoginCancelled, None))
                    }
                    Err(e) => {
                        tracing::warn!(kind = e.kind(), error = %e, "refused a callback; pending login kept");
                        Err((e, None))
                    }
                    Ok(outcome) => match p.tx.take() {
                        Some(tx) => {
                            p.consume(tx.state.clone());
                            Ok((tx, outcome))
                        }
                        None => Err((AuthError::NoPendingLogin, None)),
                    },
                },
            }
        };
        let (tx, outcome) = match taken {
            Ok(taken) => taken,
            Err((error, forget)) => {
                if let Some(state) = forget {
                    inner.forget_pending_now(state).await;
                }
                return Err(error);
            }
        };
        // Taken: remove the persisted copy before the code is spent, so no replay revives it.
        inner.forget_pending_now(tx.state.clone()).await;
        match outcome {
            CallbackOutcome::Error { error, description } => {
                Err(AuthError::AccessDenied { error, description })
            }
            CallbackOutcome::Code(code) => {
                let kept = tx.clone();
                let result = inner.exchange_code(&metadata, tx, code).await;
                if let Err(AuthError::ProviderError {
                    error: Some(e),
                    status: Some(400..=499),
                    ..
                }) = &result
                {
                    if e == "invalid_grant" {
                        // The provider refused the code (another transaction's, expired, replayed):
                        // it was not ours to spend, so the sign-in in progress is still good.
                        self.restore_pending(kept).await;
                    }
                }
                result
            }
        }
    }

    /// Puts a transaction whose code was refused back in place, unless a newer one exists.
    async fn restore_pending(&self, tx: LoginTransaction) {
        let inner = &self.inner;
        if inner.clock.now() >= tx.expires_at {
            return;
        }
        let persist = {
            let mut p = lock(&inner.pending);
            if p.tx.is_some() {
                return;
            }
            p.consumed.retain(|s| s != &tx.state);
            let persist = matches!(inner.config.redirect, RedirectUri::PrivateScheme(_))
                .then(|| tx.to_pending());
            p.tx = Some(tx);
            persist
        };
        if let Some(pending) = persist {
            if let Err(e) = inner.store_op(move |s| s.save_pending(&pending)).await {
                tracing::debug!(error = %e, "restored sign-in not persisted");
            }
        }
        tracing::warn!("the provider refused the callback's code; the sign-in stays pending");
    }

    /// Restores the session from the store and proves it with one refresh, without a browser.
    ///
    /// `LoginRequired` if nothing is stored or the provider rejects the refresh token (the store is
    /// then cleared). On network errors the restored session is kept so a later call can retry.
    pub async fn silent_login(&self) -> Result<SessionInfo, AuthError> {
        let inner = &self.inner;
        let stored = match inner.store_op(|s| s.load()).await {
            Ok(Some(s)) => s,
            Ok(None) => return Err(AuthError::login_required("no stored session")),
            Err(StoreError::Corrupt(_)) => {
                tracing::warn!("stored session is corrupt; clearing it");
                let _ = inner.store_op(|s| s.clear()).await;
                return Err(AuthError::login_required(
                    "the stored session was unreadable",
                ));
            }
            Err(e) => return Err(e.into()),
        };
        let metadata = inner.metadata().await?;
        if stored.issuer != metadata.issuer || stored.client_id != inner.config.client_id {
            return Err(AuthError::login_required(
                "the stored session belongs to another provider or client",
            ));
        }
        let info = SessionInfo {
            subject: stored.subject.clone(),
            name: stored.name.clone(),
            email: stored.email.clone(),
            issuer: stored.issuer.clone(),
        };
        {
            let mut gen = inner.lineage.write().await;
            *gen += 1;
            lock(&inner.cache).clear();
            *lock(&inner.session) = Some(Session {
                info: info.clone(),
                refresh_token: Some(stored.refresh_token),
                id_token: stored.id_token_hint,
                generation: *gen,
            });
        }
        let probe = inner
            .config
            .default_audience
            .clone()
            .or_else(|| inner.config.audiences.first().cloned());
        let result = match &probe {
            Some(aud) => inner
                .obtain(aud, &ScopeSet::empty(), inner.options.min_ttl)
                .await
                .map(|_| ()),
            None => inner
                .refresh(&metadata, None, &ScopeSet::empty())
                .await
                .map(|_| ()),
        };
        match result {
            // The refresh token works even if the provider did not grant that audience.
            Ok(())
            | Err(AuthError::AudienceNotGranted { .. })
            | Err(AuthError::ScopeNotGranted { .. }) => {
                inner.emit(BrokerEvent::SessionChanged(Some(info.clone())));
                Ok(info)
            }
            Err(e) => Err(e),
        }
    }

    /// Who is signed in, if anyone.
    pub fn session(&self) -> Option<SessionInfo> {
        lock(&self.inner.session).as_ref().map(|s| s.info.clone())
    }

    /// An access token for `audience` with at least `scopes`.
    ///
    /// Served from memory when a cached token covers the scopes and has more than `min_ttl` left;
    /// otherwise obtained with one refresh-token grant shared by all concurrent callers.
    pub async fn get_token(
        &self,
        audience: &Audience,
        scopes: &ScopeSet,
    ) -> Result<TokenGrant, AuthError> {
        let inner = &self.inner;
        if !inner.config.knows(audience) {
            return Err(AuthError::ForbiddenAudience {
                audience: audience.to_string(),
            });
        }
        if lock(&inner.session).is_none() {
            return Err(AuthError::login_required("not signed in"));
        }
        if let Some(g) =
            lock(&inner.cache).lookup(audience, scopes, inner.clock.now(), inner.options.min_ttl)
        {
            return Ok(g);
        }
        inner.obtain(audience, scopes, inner.options.min_ttl).await
    }

    /// The cached token `get_token` would return at once for `audience` and `scopes`, if there is
    /// one: no network, never waits. For a caller that must answer synchronously (the shell's IPC
    /// fast path); anything else — a miss, no session, an unknown audience — is `get_token`'s to
    /// handle and report.
    pub fn cached_token(&self, audience: &Audience, scopes: &ScopeSet) -> Option<TokenGrant> {
        let inner = &self.inner;
        if !inner.config.knows(audience) || lock(&inner.session).is_none() {
            return None;
        }
        lock(&inner.cache).lookup(audience, scopes, inner.clock.now(), inner.options.min_ttl)
    }

    /// Signs out: revokes the refresh token at the provider (RFC 7009) when it has a revocation
    /// endpoint, clears store and cache, and returns the end-session URL to open in the browser.
    pub async fn logout(&self) -> Result<Option<Url>, AuthError> {
        let inner = &self.inner;
        let metadata = inner.metadata().await.ok();
        let (rt, hint) = {
            let mut gen = inner.lineage.write().await;
            *gen += 1;
            lock(&inner.cache).clear();
            lock(&inner.pending).tx = None;
            let session = lock(&inner.session).take();
            match session {
                Some(s) => (s.refresh_token, s.id_token),
                // Not restored this run: the stored token still deserves revocation.
                None => match inner.store_op(|s| s.load()).await {
                    Ok(Some(s)) => (Some(s.refresh_token), s.id_token_hint),
                    _ => (None, None),
                },
            }
        };
        if let (Some(rt), Some(metadata)) = (&rt, &metadata) {
            // Local sign-out proceeds regardless; the token dies with the store entry.
            inner.revoke_refresh_token(metadata, rt).await;
        }
        let cleared = inner.store_op(|s| s.clear()).await;
        inner.emit(BrokerEvent::SessionChanged(None));
        cleared?;
        let end_session = metadata
            .as_ref()
            .and_then(|m| m.end_session_endpoint.as_ref());
        Ok(inner.config.dialect.end_session_url(
            &inner.config,
            end_session,
            hint.as_ref().map(|h| h.expose_secret()),
        ))
    }

    /// Broker events: new tokens, session changes, proactive refresh failures.
    pub fn subscribe(&self) -> broadcast::Receiver<BrokerEvent> {
        self.inner.events.subscribe()
    }

    /// Token state per configured audience, without tokens.
    pub fn status(&self) -> Vec<AudienceStatus> {
        lock(&self.inner.cache).status(&self.inner.config.audiences)
    }

    /// Starts the task that refreshes in-use tokens `refresh_skew` before expiry and announces them.
    /// It ends when the last clone of the broker is dropped (or when aborted).
    pub fn start_proactive_refresh(&self) -> tokio::task::JoinHandle<()> {
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let interval = self.inner.options.proactive_check_interval;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let Some(inner) = weak.upgrade() else { break };
                inner.proactive_pass().await;
            }
        })
    }
}

/// The `state` of a callback URL, for recognising a cancelled login. No validation here.
pub(crate) fn state_param(callback: &str) -> Option<String> {
    Url::parse(callback)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
}

impl Inner {
    fn emit(&self, e: BrokerEvent) {
        // No subscribers is fine.
        let _ = self.events.send(e);
    }

    async fn metadata(&self) -> Result<Arc<ProviderMetadata>, AuthError> {
        // Held across the fetch: concurrent first users share one discovery request.
        let mut g = self.metadata.lock().await;
        if let Some(m) = g.as_ref() {
            return Ok(m.clone());
        }
        let m = Arc::new(discovery::fetch(&self.http, &self.config).await?);
        *g = Some(m.clone());
        Ok(m)
    }

    /// Removes the persisted pending sign-in of `state` (only that one), awaited.
    async fn forget_pending_now(&self, state: String) {
        let result = self
            .store_op(move |s| match s.load_pending() {
                Ok(Some(p)) if p.state == state => s.clear_pending(),
                Ok(_) => Ok(()),
                Err(e) => Err(e),
            })
            .await;
        if let Err(e) = result {
            tracing::debug!(error = %e, "could not clear the persisted pending sign-in");
        }
    }

    async fn store_op<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn SessionStore) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&*store))
            .await
            .map_err(|_| StoreError::Unavailable("the store task panicked".into()))?
    }

    async fn validate_id_token(
        &self,
        metadata: &ProviderMetadata,
        token: &str,
        nonce: Option<&str>,
        subject: Option<&str>,
    ) -> Result<IdClaims, AuthError> {
        let header = id_token::check_header(token)?;
        let key = self
            .jwks
            .key_for(
                header.kid.as_deref(),
                &self.http,
                &metadata.jwks_uri,
                &*self.clock,
            )
            .await?;
        id_token::verify(
            token,
            &key,
            &id_token::Expected {
                issuer: &metadata.issuer,
                client_id: &self.config.client_id,
                nonce,
                subject,
                now: self.clock.now(),
                leeway: self.options.leeway,
            },
        )
    }

    async fn exchange_code(
        &self,
        metadata: &ProviderMetadata,
        tx: LoginTransaction,
        code: AuthCode,
    ) -> Result<SessionInfo, AuthError> {
        let login_audience = self.config.login_token_audience();
        // RFC 8707 §2.2: a server may require each token request to resolve to one resource.
        let form = Form::default()
            .with("grant_type", "authorization_code")
            .with("code", code.expose_secret())
            .with("redirect_uri", tx.redirect_uri.as_str())
            .with("client_id", self.config.client_id.as_str())
            .with("code_verifier", tx.verifier.expose_secret())
            .with_opt(login_audience.and_then(|a| self.config.dialect.code_exchange_param(a)));
        let resp: TokenResponse = self
            .http
            .post_form_json(&metadata.token_endpoint, &form.pairs(), "token")
            .await?;
        let refresh_token = resp
            .refresh_token
            .clone()
            .filter(|s| !s.is_empty())
            .map(RefreshToken::new);
        // Whatever is wrong with the response, the grant it started must not outlive the refusal.
        let (claims, raw_id, login_token) = match self
            .check_login_response(metadata, &tx, &resp, login_audience)
            .await
        {
            Ok(checked) => checked,
            Err(e) => {
                if let Some(rt) = &refresh_token {
                    self.revoke_refresh_token(metadata, rt).await;
                }
                tracing::warn!(kind = e.kind(), error = %e, "refused the sign-in's token response");
                return Err(e);
            }
        };
        let info = SessionInfo {
            subject: claims.sub,
            name: claims.name,
            email: claims.email,
            issuer: metadata.issuer.clone(),
        };
        if refresh_token.is_none() {
            tracing::warn!(
                "the provider issued no refresh token; other audiences will need a new sign-in"
            );
        }
        let stored = refresh_token.clone().map(|rt| StoredSession {
            refresh_token: rt,
            issuer: info.issuer.clone(),
            client_id: self.config.client_id.clone(),
            subject: info.subject.clone(),
            name: info.name.clone(),
            email: info.email.clone(),
            id_token_hint: Some(IdToken::new(raw_id.clone())),
        });
        let persisted = {
            let mut gen = self.lineage.write().await;
            *gen += 1;
            lock(&self.cache).clear();
            *lock(&self.session) = Some(Session {
                info: info.clone(),
                refresh_token,
                id_token: Some(IdToken::new(raw_id)),
                generation: *gen,
            });
            // Persist before reporting success; a stale session of an earlier sign-in must not survive.
            match stored {
                Some(s) => self.store_op(move |st| st.save(&s)).await,
                None => self.store_op(|st| st.clear()).await,
            }
        };
        if let Some((audience, entry)) = login_token {
            lock(&self.cache).insert(audience, entry);
        }
        self.emit(BrokerEvent::SessionChanged(Some(info.clone())));
        tracing::info!("signed in");
        match persisted {
            Ok(()) => Ok(info),
            Err(e) => {
                tracing::warn!("session could not be persisted; it lasts for this run only");
                Err(e.into())
            }
        }
    }

    /// Checks a code exchange's response: the ID token (signature, `iss`, `aud`, `exp`, `nonce`)
    /// and, when the sign-in asked for an audience, the access token like any other (its `aud`,
    /// its scopes). Returns the ID token's claims, the raw ID token and the access token's cache
    /// entry (None when the sign-in asked for no audience: that token is for userinfo only).
    async fn check_login_response<'a>(
        &self,
        metadata: &ProviderMetadata,
        tx: &LoginTransaction,
        resp: &TokenResponse,
        login_audience: Option<&'a Audience>,
    ) -> Result<(IdClaims, String, Option<(&'a Audience, CacheEntry)>), AuthError> {
        let raw_id = resp
            .id_token
            .clone()
            .ok_or(AuthError::id_token(IdTokenDefect::Malformed))?;
        let claims = self
            .validate_id_token(metadata, &raw_id, Some(&tx.nonce), None)
            .await?;
        let login_token = match login_audience {
            Some(audience) => {
                let mut entry = self.accept_access_token(resp, audience, &ScopeSet::empty())?;
                // What a proactive refresh of this token asks for again: its API scopes.
                entry.requested = api_scopes(&entry.granted);
                Some((audience, entry))
            }
            None => None,
        };
        Ok((claims, raw_id, login_token))
    }

    /// [`accept_access_token`] against this broker's audiences, now.
    fn accept_access_token(
        &self,
        resp: &TokenResponse,
        audience: &Audience,
        requested: &ScopeSet,
    ) -> Result<CacheEntry, AuthError> {
        accept_access_token(
            resp,
            audience,
            requested,
            &self.config.audiences,
            self.clock.now(),
        )
    }

    /// Revokes a refresh token at the provider (RFC 7009, or the provider's own way, see
    /// [`Revocation`]). Best effort: a failure is logged, never reported; the caller drops the
    /// token either way.
    async fn revoke_refresh_token(&self, metadata: &ProviderMetadata, rt: &RefreshToken) {
        let client_id = self.config.client_id.as_str();
        let result = match self.config.revocation {
            Revocation::Rfc7009 => {
                let Some(endpoint) = &metadata.revocation_endpoint else {
                    tracing::warn!("the provider has no revocation endpoint; the refresh token stays valid until it expires");
                    return;
                };
                let form = [
                    ("token", rt.expose_secret()),
                    ("token_type_hint", "refresh_token"),
                    ("client_id", client_id),
                ];
                self.http
                    .post_form_status(endpoint, &form, "revocation")
                    .await
            }
            Revocation::GlewlwydDeleteToken => {
                let form = [
                    ("grant_type", "delete_token"),
                    ("refresh_token", rt.expose_secret()),
                    ("client_id", client_id),
                ];
                self.http
                    .post_form_status(&metadata.token_endpoint, &form, "token")
                    .await
            }
        };
        if let Err(e) = result {
            tracing::warn!(kind = e.kind(), error = %e, "refresh token revocation failed");
        }
    }

    /// Single-flight per audience: one caller refreshes, the others wait and read the cache.
    async fn obtain(
        &self,
        audience: &Audience,
        scopes: &ScopeSet,
        min_remaining: Duration,
    ) -> Result<TokenGrant, AuthError> {
        let flight = lock(&self.flights)
            .entry(audience.clone())
            .or_default()
            .clone();
        let seen = flight.completed.load(Ordering::SeqCst);
        let _gate = flight.gate.lock().await;
        if let Some(g) = lock(&self.cache).lookup(audience, scopes, self.clock.now(), min_remaining)
        {
            return Ok(g);
        }
        // A refresh finished while we queued and it failed: its answer is ours too. Without this
        // every queued caller would repeat the failing request (with retries): a retry storm.
        if flight.completed.load(Ordering::SeqCst) != seen {
            if let Some(e) = lock(&flight.last_error).clone() {
                // Scope refusals depend on the scopes asked for; those are not shared.
                if !matches!(e, AuthError::ScopeNotGranted { .. }) {
                    return Err(e);
                }
            }
        }
        let result = match self.metadata().await {
            Ok(metadata) => self.refresh(&metadata, Some(audience), scopes).await,
            Err(e) => Err(e),
        };
        let result = match result {
            Ok(Some(g)) => Ok(g),
            Ok(None) => Err(AuthError::Internal {
                reason: "refresh without audience in get_token".into(),
            }),
            Err(e) => {
                lock(&self.cache).record_error(audience, &e);
                Err(e)
            }
        };
        *lock(&flight.last_error) = result.as_ref().err().cloned();
        flight.completed.fetch_add(1, Ordering::SeqCst);
        result
    }

    /// One refresh-token grant. Returns the grant for `audience` (None when no audience was asked for).
    async fn refresh(
        &self,
        metadata: &ProviderMetadata,
        audience: Option<&Audience>,
        scopes: &ScopeSet,
    ) -> Result<Option<TokenGrant>, AuthError> {
        // Unknown or rotating: exclusive, so no two grants ever present the same refresh token.
        let exclusive = self.rotation.load(Ordering::SeqCst) != ROTATION_OFF;
        let _write;
        let _read;
        if exclusive {
            _write = self.lineage.write().await;
        } else {
            _read = self.lineage.read().await;
        }
        // Honour a Retry-After longer than we waited inside the call: no request before then.
        if let Some(until) = *lock(&self.rate_limited_until) {
            if let Ok(left) = until.duration_since(self.clock.now()) {
                if !left.is_zero() {
                    return Err(AuthError::RateLimited {
                        retry_after_secs: Some(left.as_secs() + u64::from(left.subsec_nanos() > 0)),
                    });
                }
            }
        }
        // Read the token only now: the previous holder may have rotated it.
        let (rt, generation, subject) = {
            let s = lock(&self.session);
            let s = s
                .as_ref()
                .ok_or_else(|| AuthError::login_required("not signed in"))?;
            let rt = s
                .refresh_token
                .clone()
                .ok_or_else(|| AuthError::login_required("the session has no refresh token"))?;
            (rt, s.generation, s.info.subject.clone())
        };
        let form = Form::default()
            .with("grant_type", "refresh_token")
            .with("refresh_token", rt.expose_secret())
            .with("client_id", self.config.client_id.as_str())
            .with_opt(audience.map(|aud| self.config.dialect.refresh_param(aud)))
            .with_opt((!scopes.is_empty()).then(|| ("scope", scopes.to_string())));
        let resp: TokenResponse = match self
            .http
            .post_form_json(&metadata.token_endpoint, &form.pairs(), "token")
            .await
        {
            Ok(r) => r,
            // A refresh refused with 400/401 and no error code at all (RFC 6749 §5.2 requires
            // one; Glewlwyd 2.7 answers a revoked or unknown refresh token with an empty 400)
            // cannot succeed on a retry either: the session is over, as with invalid_grant.
            Err(AuthError::ProviderError {
                status: Some(400 | 401),
                error: None,
                ..
            }) => {
                self.session_lost(generation).await;
                return Err(AuthError::login_required(
                    "the provider refused the session without giving a reason",
                ));
            }
            Err(AuthError::ProviderError {
                error: Some(code),
                description,
                ..
            }) if code == "invalid_grant" => {
                self.session_lost(generation).await;
                return Err(AuthError::login_required(match description {
                    Some(why) => format!("the provider no longer accepts the session ({why})"),
                    None => "the provider no longer accepts the session".to_owned(),
                }));
            }
            Err(AuthError::RateLimited {
                retry_after_secs: Some(secs),
            }) => {
                // Capped: a provider's absurd Retry-After must not lock us out for ever.
                *lock(&self.rate_limited_until) = self
                    .clock
                    .now()
                    .checked_add(Duration::from_secs(secs.min(3600)));
                return Err(AuthError::RateLimited {
                    retry_after_secs: Some(secs),
                });
            }
            Err(AuthError::ProviderError {
                error: Some(code),
                description,
                ..
            }) if code == "invalid_target" => {
                return Err(AuthError::AudienceNotGranted {
                    audience: audience.map(|a| a.to_string()).unwrap_or_default(),
                    granted: vec![],
                    description,
                })
            }
            Err(e) => return Err(e),
        };

        // Rotation first: the new refresh token is persisted before anything is handed out.
        let mut persist_error = None;
        match resp.refresh_token.as_deref().filter(|s| !s.is_empty()) {
            Some(new_rt) if new_rt != rt.expose_secret() => {
                self.rotation.store(ROTATION_ON, Ordering::SeqCst);
                if let Err(e) = self.rotate(generation, RefreshToken::new(new_rt)).await {
                    tracing::warn!("rotated refresh token could not be persisted");
                    persist_error = Some(AuthError::from(e));
                }
            }
            // No new token (or the same one back): keep the old one; the lineage does not rotate.
            _ => {
                let _ = self.rotation.compare_exchange(
                    ROTATION_UNKNOWN,
                    ROTATION_OFF,
                    Ordering::SeqCst,
                    Ordering::SeqCst,
                );
            }
        }
        if let Some(raw_id) = &resp.id_token {
            self.validate_id_token(metadata, raw_id, None, Some(&subject))
                .await?;
            if let Some(s) = lock(&self.session)
                .as_mut()
                .filter(|s| s.generation == generation)
            {
                s.id_token = Some(IdToken::new(raw_id.clone()));
            }
        }

        let Some(audience) = audience else {
            return persist_error.map_or(Ok(None), Err);
        };
        let entry = self.accept_access_token(&resp, audience, scopes)?;
        let grant = entry.grant.clone();
        let current = lock(&self.session)
            .as_ref()
            .is_some_and(|s| s.generation == generation);
        if !current {
            return Err(AuthError::login_required(
                "signed out while the token was being obtained",
            ));
        }
        lock(&self.cache).insert(audience, entry);
        self.emit(BrokerEvent::TokenRefreshed {
            audience: audience.clone(),
            grant: grant.clone(),
        });
        match persist_error {
            Some(e) => Err(e),
            None => Ok(Some(grant)),
        }
    }

    /// Adopts a rotated refresh token: in memory, then in the store (awaited).
    async fn rotate(&self, generation: u64, new_rt: RefreshToken) -> Result<(), StoreError> {
        let stored = {
            let mut s = lock(&self.session);
            let Some(s) = s.as_mut().filter(|s| s.generation == generation) else {
                return Ok(());
            };
            s.refresh_token = Some(new_rt.clone());
            StoredSession {
                refresh_token: new_rt,
                issuer: s.info.issuer.clone(),
                client_id: self.config.client_id.clone(),
                subject: s.info.subject.clone(),
                name: s.info.name.clone(),
                email: s.info.email.clone(),
                id_token_hint: s.id_token.clone(),
            }
        };
        self.store_op(move |st| st.save(&stored)).await
    }

    /// The provider rejected the refresh token: forget the session everywhere.
    async fn session_lost(&self, generation: u64) {
        let removed = {
            let mut s = lock(&self.session);
            if s.as_ref().is_some_and(|s| s.generation == generation) {
                *s = None;
                true
            } else {
                false
            }
        };
        if !removed {
            return;
        }
        lock(&self.cache).clear();
        if let Err(e) = self.store_op(|s| s.clear()).await {
            tracing::warn!(error = %e, "could not clear the rejected session from the store");
        }
        tracing::info!("session rejected by the provider; sign-in required");
        self.emit(BrokerEvent::SessionChanged(None));
    }

    async fn proactive_pass(&self) {
        if lock(&self.session).is_none() {
            return;
        }
        let due = lock(&self.cache).due(
            self.clock.now(),
            self.options.refresh_skew,
            self.options.in_use_window,
        );
        for (audience, scopes) in due {
            // Ask for more than the skew so the due token itself does not satisfy the lookup.
            if let Err(error) = self
                .obtain(&audience, &scopes, self.options.refresh_skew)
                .await
            {
                if error.retryable() {
                    // The provider is down, slow or rate limiting: keep the token in use and try
                    // again after a back-off, so the MFE gets a fresh token when it comes back.
                    let retry_after = match &error {
                        AuthError::RateLimited {
                            retry_after_secs: Some(s),
                        } => Some(Duration::from_secs(*s)),
                        _ => None,
                    };
                    let next = lock(&self.cache).defer(
                        &audience,
                        &scopes,
                        self.clock.now(),
                        PROACTIVE_RETRY_BACKOFF,
                        retry_after,
                    );
                    tracing::warn!(audience = %audience, kind = error.kind(), error = %error,
                        retry_in_ms = next.duration_since(self.clock.now()).unwrap_or_default().as_millis() as u64,
                        "proactive refresh failed; will retry");
                } else {
                    tracing::warn!(audience = %audience, kind = error.kind(), error = %error, "proactive refresh failed");
                    lock(&self.cache).mark_idle(&audience, &scopes);
                }
                self.emit(BrokerEvent::RefreshFailed { audience, error });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_is_send_sync_clone() {
        fn assert_traits<T: Send + Sync + Clone + 'static>() {}
        assert_traits::<Broker>();
    }
}
