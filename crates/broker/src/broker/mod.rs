//! The broker, by stage of a session. Each stage owns its part of [`Broker`]:
//!
//! - [`sign_in`]: the login transaction and its callback, and the code exchange;
//! - [`session`]: installing, rotating and losing the session; the silent sign-in;
//! - [`tokens`]: the cache in front of everything, one refresh per audience behind it;
//! - [`refresh`]: the refresh-token grant, step by step;
//! - [`proactive`]: refreshing tokens in use before they expire;
//! - [`logout`]: signing out and revoking the refresh token.
//!
//! What a token response means (audience, scopes, lifetime) is [`token_endpoint`]'s, for the
//! code exchange and the refresh alike. This file holds what they share: [`Broker`], its state,
//! and the plumbing.

mod callers;
mod logout;
mod proactive;
mod refresh;
mod session;
pub(crate) mod sign_in;
pub(crate) mod token_endpoint;
mod tokens;

pub use sign_in::step_up::{Interaction, StepUpPrompt, StepUpView};
pub use sign_in::LoginRequest;

use crate::cache::{CacheEntry, TokenCache};
use crate::clock::Clock;
use crate::config::{Audience, BrokerOptions, ProviderConfig, ScopeSet};
use crate::dialect::Dialect;
use crate::discovery::{self, ProviderMetadata};
use crate::dpop::DpopKey;
use crate::error::{AuthError, StoreError};
use crate::http::DpopSigner;
use crate::http::{Http, RetryPolicy};
use crate::id_token::{self, IdClaims};
use crate::ipc::{AudienceStatus, BrokerEvent};
use crate::jwks::JwksCache;
use crate::store::SessionStore;
use portico_types::sync::lock;
use refresh::{RateLimit, Rotation};
use session::Session;
use sign_in::pending::PendingSignIns;
use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use token_endpoint::{accept_access_token, TokenResponse};
use url::Url;

/// The `token_type` of a DPoP-bound access token (RFC 9449 §5).
pub(crate) const DPOP_TOKEN_TYPE: &str = "DPoP";
use tokens::Flight;
use tokio::sync::{broadcast, RwLock};

/// What all clones of a [`Broker`] share. Each stage adds its own methods.
struct Inner {
    config: ProviderConfig,
    options: BrokerOptions,
    store: Arc<dyn SessionStore>,
    clock: Arc<dyn Clock>,
    http: Http,
    metadata: tokio::sync::Mutex<Option<Arc<ProviderMetadata>>>,
    jwks: JwksCache,
    pending: Mutex<PendingSignIns>,
    /// Whether this process has looked for a sign-in persisted by an earlier run.
    pending_store_read: AtomicBool,
    /// The provider's latest DPoP nonce (RFC 9449 §8), for the token and PAR endpoints.
    dpop_nonce: Mutex<Option<String>>,
    /// Each API origin's latest DPoP nonce (RFC 9449 §9).
    api_dpop_nonces: Mutex<HashMap<String, String>>,
    session: Mutex<Option<Session>>,
    cache: Mutex<TokenCache>,
    flights: Mutex<HashMap<Audience, Arc<Flight>>>,
    rate_limit: RateLimit,
    /// Provider requests per caller (micro frontend), before the provider's own limit.
    callers: callers::CallerBuckets,
    /// Native fetch to the micro frontends' APIs: no retries, no redirects (followed by hand,
    /// within the API), apart from the provider's client.
    api_http: reqwest::Client,
    /// The refresh-token lineage, holding the session generation. Rotating providers: every
    /// grant holds it exclusively. Non-rotating providers: refreshes share it. Sign-in/out always
    /// hold it exclusively.
    lineage: RwLock<u64>,
    rotation: Rotation,
    events: broadcast::Sender<BrokerEvent>,
    step_ups: sign_in::step_up::StepUps,
}

/// The token broker. Cheap to clone; all clones share one session.
///
/// ```no_run
/// use portico_broker::*;
/// use std::sync::Arc;
/// # async fn demo() -> Result<(), AuthError> {
/// let billing = Audience::parse("https://api.portico.dev/billing")?;
/// let config = ProviderConfig::builder("https://tenant.eu.auth0.com/".parse().unwrap(), "portico-desktop")
///     .redirect(RedirectUri::parse("dev.portico.app:/callback")?)
///     .dialect(Dialect::Auth0)
///     .audiences([billing.clone()])
///     .default_audience(billing.clone())
///     .scopes(ScopeSet::parse("profile email")?)
///     .build()?;
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
    /// Builds a broker (the configuration was checked when it was built). No network traffic
    /// until first use.
    pub fn new(
        config: ProviderConfig,
        options: BrokerOptions,
        store: Arc<dyn SessionStore>,
        clock: Arc<dyn Clock>,
    ) -> Result<Broker, AuthError> {
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
        let callers = callers::CallerBuckets::new(options.caller_token_rate);
        let api_http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(options.fetch.timeout)
            .user_agent(concat!("portico/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|_| AuthError::Internal {
                reason: "cannot build the HTTP client for APIs".into(),
            })?;
        Ok(Broker {
            inner: Arc::new(Inner {
                jwks: JwksCache::new(options.jwks_refetch_min_interval),
                config,
                options,
                store,
                clock,
                http,
                metadata: tokio::sync::Mutex::new(None),
                pending: Mutex::new(PendingSignIns::default()),
                pending_store_read: AtomicBool::new(false),
                dpop_nonce: Mutex::new(None),
                api_dpop_nonces: Mutex::new(HashMap::new()),
                session: Mutex::new(None),
                cache: Mutex::new(TokenCache::default()),
                flights: Mutex::new(HashMap::new()),
                rate_limit: RateLimit::default(),
                callers,
                api_http,
                lineage: RwLock::new(0),
                rotation: Rotation::default(),
                events,
                step_ups: Default::default(),
            }),
        })
    }

    /// Bounds of a native fetch.
    pub(crate) fn fetch_limits(&self) -> crate::fetch::FetchLimits {
        self.inner.options.fetch
    }

    /// The `DPoP` header for one request to an API with a bound token (RFC 9449 §7): signed
    /// with the session's key, carrying `ath` and the API's latest nonce. `None` without a key
    /// (the session ended meanwhile); the API then refuses the request as it should.
    pub(crate) fn api_dpop_proof(
        &self,
        method: &str,
        url: &Url,
        access_token: &str,
    ) -> Option<String> {
        let key = lock(&self.inner.session).as_ref()?.dpop.clone()?;
        let origin = url.origin().ascii_serialization();
        let nonce = lock(&self.inner.api_dpop_nonces).get(&origin).cloned();
        key.proof(
            method,
            url,
            self.inner.clock.now(),
            nonce.as_deref(),
            Some(access_token),
        )
        .map_err(|e| tracing::warn!(error = %e, "could not sign a DPoP proof"))
        .ok()
    }

    /// Keeps the nonce an API sent (RFC 9449 §9) for its next proof.
    pub(crate) fn remember_api_dpop_nonce(&self, url: &Url, nonce: &str) {
        let mut nonces = lock(&self.inner.api_dpop_nonces);
        // Bounded: one per API origin a caller may reach, which the host configures.
        if nonces.len() < 256 || nonces.contains_key(&url.origin().ascii_serialization()) {
            nonces.insert(url.origin().ascii_serialization(), nonce.to_owned());
        }
    }

    /// The HTTP client for the micro frontends' APIs.
    pub(crate) fn api_http(&self) -> &reqwest::Client {
        &self.inner.api_http
    }

    /// Broker events: new tokens, session changes, proactive refresh failures.
    pub fn subscribe(&self) -> broadcast::Receiver<BrokerEvent> {
        self.inner.events.subscribe()
    }

    /// Token state per configured audience, without tokens.
    pub fn status(&self) -> Vec<AudienceStatus> {
        lock(&self.inner.cache).status(&self.inner.config.audiences)
    }
}

/// Plumbing every stage uses: events, discovery, the store off the async threads, ID tokens,
/// access tokens.
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

    /// Runs a store call on the blocking pool: keyring calls block.
    async fn store_op<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn SessionStore) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&*store))
            .await
            .map_err(|_| StoreError::Unavailable("the store task panicked".into()))?
    }

    /// Validates an ID token: at sign-in against the transaction's `nonce`, after a refresh
    /// against the session's `subject`.
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

    /// [`accept_access_token`] against this broker's audiences, now. `proved`: the request
    /// carried a DPoP proof, so a DPoP-bound token (RFC 9449 §5) is one we can use.
    fn accept_access_token(
        &self,
        resp: &TokenResponse,
        audience: &Audience,
        requested: &ScopeSet,
        proved: bool,
    ) -> Result<CacheEntry, AuthError> {
        // Entra names granted scopes `{audience}/{scope}`; the registry says `{scope}`.
        let normalized;
        let resp = match (&resp.scope, self.config.dialect) {
            (Some(scope), Dialect::Entra) => {
                normalized = TokenResponse {
                    scope: Some(
                        scope
                            .split_whitespace()
                            .map(|s| Dialect::Entra.granted_scope(audience, s))
                            .collect::<Vec<_>>()
                            .join(" "),
                    ),
                    ..resp.clone()
                };
                &normalized
            }
            _ => resp,
        };
        let mut entry =
            accept_access_token(resp, audience, requested, &self.config, self.clock.now())?;
        // Token types are case-insensitive (RFC 6749 §7.1); one spelling from here on.
        if entry.grant.token_type.eq_ignore_ascii_case(DPOP_TOKEN_TYPE) {
            if !proved {
                return Err(AuthError::ProviderError {
                    endpoint: "token".into(),
                    status: None,
                    error: None,
                    description: Some(
                        "it issued a DPoP-bound token to a request that carried no proof".into(),
                    ),
                });
            }
            entry.grant.token_type = DPOP_TOKEN_TYPE.into();
        }
        Ok(entry)
    }

    /// The session's DPoP key and the token endpoint's nonce, to sign a token request with.
    fn dpop_signer<'a>(&'a self, key: Option<&'a DpopKey>) -> Option<DpopSigner<'a>> {
        key.map(|key| DpopSigner {
            key,
            clock: self.clock.as_ref(),
            nonce: &self.dpop_nonce,
        })
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

/// A broker on an in-memory store and a manual clock, for the stages' unit tests. Nothing here
/// reaches a provider: the calls these tests make need none.
#[cfg(test)]
mod testing {
    use super::{Broker, Session};
    use crate::cache::CacheEntry;
    use crate::clock::{unix_ms, ManualClock};
    use crate::config::{Audience, BrokerOptions, ProviderConfig, RedirectUri, ScopeSet};
    use crate::dialect::{Dialect, Revocation};
    use crate::discovery::ProviderMetadata;
    use crate::ipc::SessionInfo;
    use crate::ipc::TokenGrant;
    use crate::secret::AccessToken;
    use crate::secret::RefreshToken;
    use crate::store::MemoryStore;
    use portico_types::sync::lock;
    use std::sync::Arc;
    use std::time::{Duration, SystemTime};
    use url::Url;

    pub const BILLING: &str = "https://api.portico.dev/billing";
    pub const CORE: &str = "https://api.portico.dev/core";

    /// The manual clock's start.
    pub fn t0() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    pub fn broker() -> (Broker, Arc<MemoryStore>) {
        let (broker, store, _) = broker_and_clock();
        (broker, store)
    }

    pub fn broker_and_clock() -> (Broker, Arc<MemoryStore>, Arc<ManualClock>) {
        let store = Arc::new(MemoryStore::new());
        let clock = Arc::new(ManualClock::new(t0()));
        // Discard port: nothing in these tests may reach a provider.
        let config =
            ProviderConfig::builder("http://127.0.0.1:9/".parse().unwrap(), "portico-desktop")
                .redirect(RedirectUri::Loopback {
                    path: "/callback".into(),
                    port: None,
                })
                .dialect(Dialect::Rfc8707)
                .audiences([
                    Audience::parse(BILLING).unwrap(),
                    Audience::parse(CORE).unwrap(),
                ])
                .scopes(ScopeSet::parse("profile email").unwrap())
                .revocation(Revocation::Rfc7009)
                .build()
                .unwrap();
        let broker = Broker::new(
            config,
            BrokerOptions::default(),
            store.clone(),
            clock.clone(),
        )
        .unwrap();
        (broker, store, clock)
    }

    /// Metadata of a provider that is never reached.
    pub fn metadata() -> ProviderMetadata {
        let at = |path: &str| Url::parse(&format!("http://127.0.0.1:9{path}")).unwrap();
        ProviderMetadata {
            issuer: "http://127.0.0.1:9/".into(),
            authorization_endpoint: at("/authorize"),
            token_endpoint: at("/token"),
            jwks_uri: at("/jwks"),
            revocation_endpoint: Some(at("/revoke")),
            end_session_endpoint: None,
            userinfo_endpoint: None,
            iss_parameter_supported: false,
            par_endpoint: None,
            dpop_es256: false,
        }
    }

    /// Puts alice's session in place directly, as generation 1, with refresh token `rt-1`.
    pub fn sign_in(broker: &Broker) {
        *lock(&broker.inner.session) = Some(Session {
            info: SessionInfo {
                subject: "alice".into(),
                name: None,
                email: None,
                issuer: "http://127.0.0.1:9/".into(),
            },
            refresh_token: Some(RefreshToken::new("rt-1")),
            dpop: None,
            id_token: None,
            generation: 1,
        });
    }

    /// A cache entry for `audience`, an hour long, with no scopes.
    pub fn entry(audience: &Audience, token: &str) -> CacheEntry {
        let expires_at = t0() + Duration::from_secs(3600);
        CacheEntry {
            grant: TokenGrant {
                access_token: AccessToken::new(token),
                expires_at: unix_ms(expires_at),
                scope: String::new(),
                token_type: "Bearer".into(),
                audience: audience.to_string(),
            },
            granted: ScopeSet::empty(),
            requested: ScopeSet::empty(),
            obtained_at: t0(),
            expires_at,
            last_used: t0(),
            authn: Default::default(),
        }
    }
}
