//! State shared by all provider handlers and the [`crate::Admin`] handle.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use url::Url;

use crate::config::{IdpConfig, RefreshRotation};
use crate::counters::CounterSet;
use crate::dpop::DpopChecker;
use crate::faults::{FaultSet, IdTokenTamper};
use crate::grants::GrantStore;
use crate::keys::KeyStore;
use crate::sessions::Sessions;
use portico_types::sync::lock;

pub(crate) struct Shared {
    pub config: IdpConfig,
    pub issuer: Url,
    pub keys: KeyStore,
    pub grants: Mutex<GrantStore>,
    pub sessions: Mutex<Sessions>,
    pub faults: Mutex<FaultSet>,
    /// Pushed authorization requests waiting for their browser (RFC 9126).
    pub pushed: Mutex<crate::par::PushedRequests>,
    pub counters: CounterSet,
    /// The token endpoint's DPoP replay cache and nonce (RFC 9449).
    pub dpop: DpopChecker,
    tamper: Mutex<Option<IdTokenTamper>>,
    /// Fault: access tokens are issued for this audience instead of the one asked for.
    wrong_audience: Mutex<Option<String>>,
    rotation: Mutex<RefreshRotation>,
    access_ttl: Mutex<Duration>,
    /// Per-API access-token lifetimes that differ from `access_ttl`, by API identifier.
    api_ttl: Mutex<HashMap<String, Duration>>,
}

impl Shared {
    pub fn new(config: IdpConfig, issuer: Url, keys: KeyStore) -> Self {
        Shared {
            dpop: DpopChecker::new(config.dpop_nonce),
            rotation: Mutex::new(config.rotation),
            access_ttl: Mutex::new(config.access_token_ttl),
            api_ttl: Mutex::new(
                config
                    .apis
                    .iter()
                    .filter_map(|a| Some((a.identifier.clone(), a.access_token_ttl?)))
                    .collect(),
            ),
            config,
            issuer,
            keys,
            grants: Mutex::default(),
            sessions: Mutex::default(),
            faults: Mutex::default(),
            pushed: Mutex::default(),
            counters: CounterSet::default(),
            tamper: Mutex::new(None),
            wrong_audience: Mutex::new(None),
        }
    }

    /// Absolute URL of a provider path (no leading slash), e.g. `oauth/token`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    /// The `iss` of its tokens: in Entra mode the tenant's issuer under this provider's root
    /// (`{root}{tenant}/v2.0`, as `https://login.microsoftonline.com/{tenant}/v2.0`), else the
    /// root itself.
    pub fn token_issuer(&self) -> String {
        if self.config.entra {
            format!("{}{}/v2.0", self.issuer, crate::config::ENTRA_TENANT)
        } else {
            self.issuer.to_string()
        }
    }

    /// The `iss` a callback carries (RFC 9207); Entra sends none.
    pub fn callback_iss(&self) -> Option<String> {
        (!self.config.entra).then(|| self.issuer.to_string())
    }

    pub fn userinfo_url(&self) -> String {
        self.url("userinfo")
    }

    pub fn tamper(&self) -> Option<IdTokenTamper> {
        *lock(&self.tamper)
    }
    pub fn set_tamper(&self, t: Option<IdTokenTamper>) {
        *lock(&self.tamper) = t;
    }
    pub fn wrong_audience(&self) -> Option<String> {
        lock(&self.wrong_audience).clone()
    }
    pub fn set_wrong_audience(&self, aud: Option<String>) {
        *lock(&self.wrong_audience) = aud;
    }
    pub fn rotation(&self) -> RefreshRotation {
        *lock(&self.rotation)
    }
    pub fn set_rotation(&self, r: RefreshRotation) {
        *lock(&self.rotation) = r;
    }
    pub fn access_token_ttl(&self) -> Duration {
        *lock(&self.access_ttl)
    }
    pub fn set_access_token_ttl(&self, ttl: Duration) {
        *lock(&self.access_ttl) = ttl;
    }
    /// The lifetime of an access token for `audiences`: the shortest of their own lifetimes, the
    /// provider's for an API without one (and for userinfo-only tokens).
    pub fn access_token_ttl_for(&self, audiences: &[String]) -> Duration {
        let default = self.access_token_ttl();
        let own = lock(&self.api_ttl);
        audiences
            .iter()
            .map(|a| own.get(a).copied().unwrap_or(default))
            .min()
            .unwrap_or(default)
    }
    /// Sets (or with `None` clears) one API's own access-token lifetime.
    pub fn set_api_access_token_ttl(&self, audience: &str, ttl: Option<Duration>) {
        let mut own = lock(&self.api_ttl);
        match ttl {
            Some(t) => own.insert(audience.to_owned(), t),
            None => own.remove(audience),
        };
    }
}
