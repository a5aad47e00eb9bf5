//! Tokens: the cache in front of everything, and one refresh per audience at a time behind it
//! (single flight), whose outcome the callers queued behind it share.

use super::{Broker, Inner};
use crate::cache::is_lasting_refusal;
use crate::config::{Audience, ScopeSet};
use crate::error::AuthError;
use crate::ipc::TokenGrant;
use crate::request::{ScopeCeiling, TokenRequest};
use portico_types::sync::lock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Single-flight gate of one audience, with the outcome of the last refresh behind it.
#[derive(Default)]
pub(super) struct Flight {
    gate: tokio::sync::Mutex<()>,
    /// Refreshes finished behind this gate; a waiter that sees it move shares that outcome.
    completed: AtomicU64,
    last_error: Mutex<Option<AuthError>>,
}

impl Flight {
    /// Taken before queuing at the gate: which refreshes the caller has not yet seen finish.
    fn ticket(&self) -> u64 {
        self.completed.load(Ordering::SeqCst)
    }

    /// The failure of a refresh that finished after `ticket` was taken, if it is everyone's:
    /// without sharing it every queued caller would repeat the failing request (with retries),
    /// a retry storm. Scope refusals depend on the scopes asked for; those are not shared.
    fn shared_failure(&self, ticket: u64) -> Option<AuthError> {
        if self.completed.load(Ordering::SeqCst) == ticket {
            return None;
        }
        lock(&self.last_error)
            .clone()
            .filter(|e| !matches!(e, AuthError::ScopeNotGranted { .. }))
    }

    /// Records the outcome of the refresh that just ran behind the gate.
    fn finish(&self, result: &Result<TokenGrant, AuthError>) {
        *lock(&self.last_error) = result.as_ref().err().cloned();
        self.completed.fetch_add(1, Ordering::SeqCst);
    }
}

/// What one call wants: an audience and scopes; for a caller (a micro frontend) also who it is
/// (its own rate limit) and the most it may hold.
pub(super) struct Want<'a> {
    pub audience: &'a Audience,
    pub scopes: &'a ScopeSet,
    pub caller: Option<(&'a str, &'a ScopeCeiling)>,
}

impl<'a> Want<'a> {
    /// The broker's own need (proactive refresh) or a trusted caller's: no ceiling, no limit.
    pub(super) fn trusted(audience: &'a Audience, scopes: &'a ScopeSet) -> Self {
        Want {
            audience,
            scopes,
            caller: None,
        }
    }

    fn ceiling(&self) -> Option<&'a ScopeCeiling> {
        self.caller.map(|(_, c)| c)
    }
}

impl Broker {
    /// An access token for `audience` with at least `scopes`, for a caller trusted with every
    /// scope the provider grants (the host itself; tests). Micro frontends go through
    /// [`Broker::token_for`].
    ///
    /// Served from memory when a cached token covers the scopes and has more than `min_ttl` left;
    /// otherwise obtained with one refresh-token grant shared by all concurrent callers.
    pub async fn get_token(
        &self,
        audience: &Audience,
        scopes: &ScopeSet,
    ) -> Result<TokenGrant, AuthError> {
        self.serve(&Want::trusted(audience, scopes))
            .await
            .and_then(exposable)
    }

    /// An access token for one caller: never one carrying a scope of this audience beyond the
    /// caller's registration ([`ScopeCeiling`]); the provider requests it causes rate-limited
    /// per caller; a lasting refusal answered from memory for a while.
    ///
    /// A DPoP-bound token is never handed out ([`AuthError::TokenNotExposed`]): it works only
    /// with the key, which stays in the shell; [`Broker::fetch`] uses it.
    pub async fn token_for(&self, request: &TokenRequest) -> Result<TokenGrant, AuthError> {
        self.token_for_use(request).await.and_then(exposable)
    }

    /// [`Broker::token_for`] for the shell's own use of the token (native fetch), bound or not.
    pub(crate) async fn token_for_use(
        &self,
        request: &TokenRequest,
    ) -> Result<TokenGrant, AuthError> {
        self.serve(&Want {
            audience: request.audience(),
            scopes: request.scopes(),
            caller: Some((request.caller(), request.ceiling())),
        })
        .await
    }

    /// The cached token [`Broker::token_for`] would return at once, if there is one.
    pub fn cached_token_for(&self, request: &TokenRequest) -> Option<TokenGrant> {
        let inner = &self.inner;
        if !inner.config.knows(request.audience()) || lock(&inner.session).is_none() {
            return None;
        }
        lock(&inner.cache)
            .lookup_within(
                request.audience(),
                request.scopes(),
                Some(request.ceiling()),
                inner.clock.now(),
                inner.options.min_ttl,
            )
            .filter(|g| !g.is_sender_constrained())
    }

    /// Forgets a cached token an API refused (`invalid_token`), so the next call refreshes.
    pub(crate) fn forget_token(&self, audience: &Audience, grant: &TokenGrant) {
        lock(&self.inner.cache).forget(audience, grant.access_token.expose_secret());
    }

    async fn serve(&self, want: &Want<'_>) -> Result<TokenGrant, AuthError> {
        let inner = &self.inner;
        if !inner.config.knows(want.audience) {
            return Err(AuthError::ForbiddenAudience {
                audience: want.audience.to_string(),
            });
        }
        if lock(&inner.session).is_none() {
            return Err(AuthError::login_required("not signed in"));
        }
        if let Some(g) = inner.cached(want, inner.options.min_ttl) {
            return Ok(g);
        }
        inner.obtain(want, inner.options.min_ttl).await
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
        inner
            .cached(&Want::trusted(audience, scopes), inner.options.min_ttl)
            .filter(|g| !g.is_sender_constrained())
    }
}

/// A token a page may be given: not a DPoP-bound one.
fn exposable(grant: TokenGrant) -> Result<TokenGrant, AuthError> {
    if grant.is_sender_constrained() {
        Err(AuthError::TokenNotExposed)
    } else {
        Ok(grant)
    }
}

impl Inner {
    /// A cached token for the want (within its ceiling) with more than `min_remaining` left.
    fn cached(&self, want: &Want<'_>, min_remaining: Duration) -> Option<TokenGrant> {
        lock(&self.cache).lookup_within(
            want.audience,
            want.scopes,
            want.ceiling(),
            self.clock.now(),
            min_remaining,
        )
    }

    /// Why this want must not reach the provider now: a refusal remembered for it, or a live
    /// token the provider issued for this very request that is too broad for the caller.
    fn answered_already(&self, want: &Want<'_>, min_remaining: Duration) -> Option<AuthError> {
        let now = self.clock.now();
        let cache = lock(&self.cache);
        if let Some(e) = cache.refused(want.audience, want.scopes, now) {
            return Some(e);
        }
        let ceiling = want.ceiling()?;
        cache
            .too_broad(want.audience, want.scopes, ceiling, now, min_remaining)
            .map(|extra| AuthError::ScopeTooBroad {
                audience: want.audience.to_string(),
                extra,
            })
    }

    /// Single-flight per audience: one caller refreshes, the others wait and read the cache.
    pub(super) async fn obtain(
        &self,
        want: &Want<'_>,
        min_remaining: Duration,
    ) -> Result<TokenGrant, AuthError> {
        let audience = want.audience;
        let flight = lock(&self.flights)
            .entry(audience.clone())
            .or_default()
            .clone();
        let ticket = flight.ticket();
        let _gate = flight.gate.lock().await;
        if let Some(g) = self.cached(want, min_remaining) {
            return Ok(g);
        }
        // A refresh finished while we queued and it failed: its answer is ours too.
        if let Some(e) = flight.shared_failure(ticket) {
            return Err(e);
        }
        if let Some(e) = self.answered_already(want, min_remaining) {
            return Err(e);
        }
        // Only a request that will reach the provider is charged to its caller.
        if let Some((caller, _)) = want.caller {
            self.callers.take(caller, self.clock.now())?;
        }
        let result = match self.metadata().await {
            Ok(metadata) => self.refresh(&metadata, audience, want.scopes).await,
            Err(e) => Err(e),
        };
        let result = match (result, want.ceiling()) {
            (Ok(grant), Some(ceiling)) => self.within(grant, want.scopes, ceiling),
            (result, _) => result,
        };
        if let Err(e) = &result {
            let mut cache = lock(&self.cache);
            cache.record_error(audience, e);
            if is_lasting_refusal(e) {
                let now = self.clock.now();
                cache.remember_refusal(audience, want.scopes, e, now, self.options.refusal_memory);
            }
        }
        flight.finish(&result);
        result
    }

    /// A fresh grant for a caller: handed out only within its ceiling (it stays cached for the
    /// callers it fits).
    fn within(
        &self,
        grant: TokenGrant,
        requested: &ScopeSet,
        ceiling: &ScopeCeiling,
    ) -> Result<TokenGrant, AuthError> {
        let granted = ScopeSet::parse(&grant.scope).unwrap_or_default();
        if ceiling.admits(&granted, requested) {
            return Ok(grant);
        }
        tracing::warn!(audience = %grant.audience, "the provider granted more scopes than the caller is registered for; not handed out");
        Err(AuthError::ScopeTooBroad {
            audience: grant.audience,
            extra: ceiling.excess(&granted),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::testing::{self, BILLING};
    use crate::secret::AccessToken;

    fn network() -> AuthError {
        AuthError::Network {
            endpoint: "token".into(),
            detail: "could not connect".into(),
        }
    }

    fn grant() -> TokenGrant {
        TokenGrant {
            access_token: AccessToken::new("at"),
            expires_at: 0,
            scope: String::new(),
            token_type: "Bearer".into(),
            audience: BILLING.into(),
        }
    }

    #[test]
    fn a_failure_is_shared_with_those_who_queued_before_it_finished() {
        let flight = Flight::default();
        let queued = flight.ticket();
        assert_eq!(flight.shared_failure(queued), None);
        flight.finish(&Err(network()));
        assert_eq!(flight.shared_failure(queued), Some(network()));
        // A caller arriving afterwards tries for itself.
        assert_eq!(flight.shared_failure(flight.ticket()), None);
    }

    #[test]
    fn success_and_scope_refusals_are_not_shared_failures() {
        let flight = Flight::default();
        let queued = flight.ticket();
        flight.finish(&Ok(grant()));
        assert_eq!(flight.shared_failure(queued), None);
        let queued = flight.ticket();
        flight.finish(&Err(AuthError::ScopeNotGranted {
            audience: BILLING.into(),
            missing: vec!["write:x".into()],
        }));
        assert_eq!(flight.shared_failure(queued), None);
    }

    #[tokio::test]
    async fn unknown_audiences_and_no_session_are_answered_without_the_network() {
        let (broker, _) = testing::broker();
        let other = Audience::parse("https://api.portico.dev/other").unwrap();
        let none = ScopeSet::empty();
        assert!(matches!(
            broker.get_token(&other, &none).await,
            Err(AuthError::ForbiddenAudience { .. })
        ));
        let billing = Audience::parse(BILLING).unwrap();
        assert!(matches!(
            broker.get_token(&billing, &none).await,
            Err(AuthError::LoginRequired { .. })
        ));
        assert_eq!(broker.cached_token(&billing, &none), None);
    }

    #[test]
    fn a_cached_token_is_served_only_for_a_known_audience_of_a_session() {
        let (broker, _) = testing::broker();
        let billing = Audience::parse(BILLING).unwrap();
        lock(&broker.inner.cache).insert(&billing, testing::entry(&billing, "at-1"));
        // No session: the cache's content is not for anyone.
        assert_eq!(broker.cached_token(&billing, &ScopeSet::empty()), None);
        testing::sign_in(&broker);
        let served = broker.cached_token(&billing, &ScopeSet::empty()).unwrap();
        assert_eq!(served.access_token.expose_secret(), "at-1");
        // Not for scopes it does not carry.
        let more = ScopeSet::parse("write:x").unwrap();
        assert_eq!(broker.cached_token(&billing, &more), None);
    }
}
