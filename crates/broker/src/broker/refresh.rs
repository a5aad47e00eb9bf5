//! The refresh-token grant, as its steps: hold the lineage, respect a rate limit, read the
//! session's refresh token, build the request, send it (a refusal decides the session's fate),
//! adopt a rotated refresh token (persisted before anything is handed out), check a refreshed ID
//! token, check the access token for its audience, and grant it (cache and event).

use super::token_endpoint::{Form, TokenResponse};
use super::Inner;
use crate::cache::CacheEntry;
use crate::clock::unix_ms;
use crate::config::{Audience, ProviderConfig, ScopeSet};
use crate::discovery::ProviderMetadata;
use crate::dpop::DpopKey;
use crate::error::AuthError;
use crate::ipc::{BrokerEvent, TokenGrant};
use crate::secret::{IdToken, RefreshToken};
use portico_types::sync::lock;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};
use tokio::sync::{RwLockReadGuard, RwLockWriteGuard};

/// Longest `Retry-After` we honour: a provider's absurd one must not lock us out for ever.
const MAX_RATE_LIMIT: Duration = Duration::from_secs(3600);

/// Whether the provider rotates refresh tokens, as learnt from its answers.
#[derive(Default)]
pub(super) struct Rotation(AtomicU8);

impl Rotation {
    const UNKNOWN: u8 = 0;
    const ON: u8 = 1;
    const OFF: u8 = 2;

    /// Whether a grant must hold the lineage alone: unless the provider was seen not to rotate,
    /// two grants could present the same refresh token.
    fn exclusive(&self) -> bool {
        self.0.load(Ordering::SeqCst) != Self::OFF
    }

    /// A grant returned a new refresh token: the provider rotates.
    fn rotated(&self) {
        self.0.store(Self::ON, Ordering::SeqCst);
    }

    /// A grant returned no new refresh token: the provider does not rotate, unless it was seen to.
    fn kept(&self) {
        let _ =
            self.0
                .compare_exchange(Self::UNKNOWN, Self::OFF, Ordering::SeqCst, Ordering::SeqCst);
    }
}

/// The token endpoint asked us (429 + `Retry-After`) not to come back before an instant: for
/// the audience the refused request named — a 429 answered one API's token, so the others go on
/// — or for every request when it named none (the session's own refresh).
#[derive(Default)]
pub(super) struct RateLimit(Mutex<HashMap<Option<Audience>, SystemTime>>);

impl RateLimit {
    /// `RateLimited` with the seconds left (rounded up) while the provider's wait for this
    /// audience (or for everything) lasts: no request before then.
    fn check(&self, now: SystemTime, audience: Option<&Audience>) -> Result<(), AuthError> {
        let until = {
            let map = lock(&self.0);
            let own = audience.and_then(|a| map.get(&Some(a.clone())));
            map.get(&None).into_iter().chain(own).max().copied()
        };
        match until.and_then(|u| u.duration_since(now).ok().map(|left| (u, left))) {
            Some((until, left)) if !left.is_zero() => Err(AuthError::RateLimited {
                retry_after_secs: Some(left.as_secs() + u64::from(left.subsec_nanos() > 0)),
                caller: None,
                until: Some(unix_ms(until)),
            }),
            _ => Ok(()),
        }
    }

    fn record(&self, now: SystemTime, audience: Option<&Audience>, retry_after_secs: u64) {
        let wait = Duration::from_secs(retry_after_secs).min(MAX_RATE_LIMIT);
        let mut map = lock(&self.0);
        map.retain(|_, until| now < *until);
        if let Some(until) = now.checked_add(wait) {
            map.insert(audience.cloned(), until);
        }
    }
}

/// The lineage, held for one grant: alone, or shared with the other grants of a provider that
/// does not rotate. Sign-in and sign-out take it alone too, so they never interleave a grant.
enum Lineage<'a> {
    Alone { _guard: RwLockWriteGuard<'a, u64> },
    Shared { _guard: RwLockReadGuard<'a, u64> },
}

/// The session's refresh token as this grant found it, and what its answer is checked against.
struct Presented {
    refresh_token: RefreshToken,
    /// The key the refresh token is bound to, if it is.
    dpop: Option<DpopKey>,
    generation: u64,
    subject: String,
}

/// A grant the provider answered, with the lineage still held: what follows (the grant into the
/// cache) must not interleave a sign-in or sign-out either.
struct Redeemed<'a> {
    _lineage: Lineage<'a>,
    generation: u64,
    response: TokenResponse,
    /// Whether the grant carried a DPoP proof.
    proved: bool,
    /// Whether a rotated refresh token reached the store; reported after the grant, which holds
    /// for this run either way.
    persisted: Result<(), AuthError>,
}

/// What a refused refresh means.
#[derive(Debug, PartialEq)]
enum Refusal {
    /// The refresh token is dead: the session is over, sign-in required for this reason.
    SessionLost(String),
    /// 429 with `Retry-After`: no request for that many seconds.
    RateLimited(u64),
    /// Reported as it is.
    Other(AuthError),
}

/// Sorts a token endpoint error of a refresh by consequence.
fn refusal(error: AuthError, audience: Option<&Audience>) -> Refusal {
    match error {
        // A refresh refused with 400/401 and no error code at all (RFC 6749 §5.2 requires
        // one; Glewlwyd 2.7 answers a revoked or unknown refresh token with an empty 400)
        // cannot succeed on a retry either: the session is over, as with invalid_grant.
        AuthError::ProviderError {
            status: Some(400 | 401),
            error: None,
            ..
        } => Refusal::SessionLost(
            "the provider refused the session without giving a reason".to_owned(),
        ),
        AuthError::ProviderError {
            error: Some(code),
            description,
            ..
        } if code == "invalid_grant" => Refusal::SessionLost(match description {
            Some(why) => format!("the provider no longer accepts the session ({why})"),
            None => "the provider no longer accepts the session".to_owned(),
        }),
        AuthError::RateLimited {
            retry_after_secs: Some(secs),
            ..
        } => Refusal::RateLimited(secs),
        AuthError::ProviderError {
            error: Some(code),
            description,
            ..
        } if code == "invalid_target" => Refusal::Other(AuthError::AudienceNotGranted {
            audience: audience.map(|a| a.to_string()).unwrap_or_default(),
            granted: vec![],
            description,
        }),
        other => Refusal::Other(other),
    }
}

/// The refresh-token grant's form: for `audience` in the provider's dialect, and `scopes` when
/// any are asked for.
fn refresh_form(
    config: &ProviderConfig,
    refresh_token: &RefreshToken,
    audience: Option<&Audience>,
    scopes: &ScopeSet,
) -> Form {
    let scopes: Vec<&str> = scopes.iter().collect();
    config
        .dialect
        .refresh_params(audience, &scopes)
        .into_iter()
        .fold(
            Form::default()
                .with("grant_type", "refresh_token")
                .with("refresh_token", refresh_token.expose_secret())
                .with("client_id", config.client_id.as_str()),
            |form, (name, value)| form.with(name, value),
        )
        // The client capabilities travel with every token request, as MSAL sends them.
        .with_opt(config.claims_param(None).map(|c| ("claims", c)))
}

impl Inner {
    /// A token for `audience` with `scopes`, by one refresh-token grant.
    pub(super) async fn refresh(
        &self,
        metadata: &ProviderMetadata,
        audience: &Audience,
        scopes: &ScopeSet,
    ) -> Result<TokenGrant, AuthError> {
        let redeemed = self.redeem(metadata, Some(audience), scopes).await?;
        let entry =
            self.accept_access_token(&redeemed.response, audience, scopes, redeemed.proved)?;
        self.grant(redeemed, audience, entry)
    }

    /// Proves the session with a grant that names no audience: nothing is cached.
    pub(super) async fn refresh_session(
        &self,
        metadata: &ProviderMetadata,
    ) -> Result<(), AuthError> {
        self.redeem(metadata, None, &ScopeSet::empty())
            .await?
            .persisted
    }

    /// The grant up to its access token: every step but the last.
    async fn redeem(
        &self,
        metadata: &ProviderMetadata,
        audience: Option<&Audience>,
        scopes: &ScopeSet,
    ) -> Result<Redeemed<'_>, AuthError> {
        let lineage = self.hold_lineage().await;
        self.rate_limit.check(self.clock.now(), audience)?;
        let presented = self.presented()?;
        let form = refresh_form(&self.config, &presented.refresh_token, audience, scopes);
        let response = self
            .send(
                metadata,
                &form,
                presented.generation,
                audience,
                presented.dpop.as_ref(),
            )
            .await?;
        let persisted = self.adopt_rotation(&presented, &response).await;
        self.check_refreshed_id_token(metadata, &response, &presented)
            .await?;
        Ok(Redeemed {
            proved: presented.dpop.is_some(),
            _lineage: lineage,
            generation: presented.generation,
            response,
            persisted,
        })
    }

    async fn hold_lineage(&self) -> Lineage<'_> {
        if self.rotation.exclusive() {
            Lineage::Alone {
                _guard: self.lineage.write().await,
            }
        } else {
            Lineage::Shared {
                _guard: self.lineage.read().await,
            }
        }
    }

    /// The session's refresh token, read only now that the lineage is held: the previous holder
    /// may have rotated it.
    fn presented(&self) -> Result<Presented, AuthError> {
        let s = lock(&self.session);
        let s = s
            .as_ref()
            .ok_or_else(|| AuthError::login_required("not signed in"))?;
        let refresh_token = s
            .refresh_token
            .clone()
            .ok_or_else(|| AuthError::login_required("the session has no refresh token"))?;
        Ok(Presented {
            refresh_token,
            dpop: s.dpop.clone(),
            generation: s.generation,
            subject: s.info.subject.clone(),
        })
    }

    /// Sends the grant. A refusal that ends the session ends it here; a rate limit is remembered.
    async fn send(
        &self,
        metadata: &ProviderMetadata,
        form: &Form,
        generation: u64,
        audience: Option<&Audience>,
        dpop: Option<&DpopKey>,
    ) -> Result<TokenResponse, AuthError> {
        let signer = self.dpop_signer(dpop);
        let error = match self
            .http
            .post_form_json_dpop(
                &metadata.token_endpoint,
                &form.pairs(),
                "token",
                signer.as_ref(),
            )
            .await
        {
            Ok(response) => return Ok(response),
            Err(e) => e,
        };
        Err(match refusal(error, audience) {
            Refusal::SessionLost(reason) => {
                self.session_lost(generation).await;
                AuthError::login_required(reason)
            }
            Refusal::RateLimited(secs) => {
                let now = self.clock.now();
                self.rate_limit.record(now, audience, secs);
                AuthError::RateLimited {
                    retry_after_secs: Some(secs),
                    caller: None,
                    until: now
                        .checked_add(Duration::from_secs(secs).min(MAX_RATE_LIMIT))
                        .map(unix_ms),
                }
            }
            Refusal::Other(e) => e,
        })
    }

    /// Rotation first: a new refresh token is persisted before anything is handed out. A store
    /// failure is returned for the caller to report once the grant is done.
    async fn adopt_rotation(
        &self,
        presented: &Presented,
        response: &TokenResponse,
    ) -> Result<(), AuthError> {
        match response.refresh_token.as_deref().filter(|s| !s.is_empty()) {
            Some(new_rt) if new_rt != presented.refresh_token.expose_secret() => {
                self.rotation.rotated();
                self.rotate(presented.generation, RefreshToken::new(new_rt))
                    .await
                    .map_err(|e| {
                        tracing::warn!("rotated refresh token could not be persisted");
                        AuthError::from(e)
                    })
            }
            // No new token (or the same one back): keep the old one; the lineage does not rotate.
            _ => {
                self.rotation.kept();
                Ok(())
            }
        }
    }

    /// A refreshed ID token must be valid and name the same user; it then replaces the session's.
    async fn check_refreshed_id_token(
        &self,
        metadata: &ProviderMetadata,
        response: &TokenResponse,
        presented: &Presented,
    ) -> Result<(), AuthError> {
        let Some(raw_id) = &response.id_token else {
            return Ok(());
        };
        self.validate_id_token(metadata, raw_id, None, Some(&presented.subject))
            .await?;
        if let Some(s) = lock(&self.session)
            .as_mut()
            .filter(|s| s.generation == presented.generation)
        {
            s.id_token = Some(IdToken::new(raw_id.clone()));
        }
        Ok(())
    }

    /// The last step: unless the session ended meanwhile, the token enters the cache and is
    /// announced.
    fn grant(
        &self,
        redeemed: Redeemed<'_>,
        audience: &Audience,
        entry: CacheEntry,
    ) -> Result<TokenGrant, AuthError> {
        let current = lock(&self.session)
            .as_ref()
            .is_some_and(|s| s.generation == redeemed.generation);
        if !current {
            return Err(AuthError::login_required(
                "signed out while the token was being obtained",
            ));
        }
        let grant = entry.grant.clone();
        let requested = entry.requested.clone();
        lock(&self.cache).insert(audience, entry);
        self.emit(BrokerEvent::TokenRefreshed {
            audience: audience.clone(),
            grant: grant.clone(),
            requested,
        });
        redeemed.persisted.map(|()| grant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::testing::{self, BILLING};
    use crate::dialect::Dialect;

    fn provider_error(status: u16, error: Option<&str>, description: Option<&str>) -> AuthError {
        AuthError::ProviderError {
            endpoint: "token".into(),
            status: Some(status),
            error: error.map(str::to_owned),
            description: description.map(str::to_owned),
        }
    }

    #[test]
    fn the_lineage_is_held_alone_until_the_provider_is_seen_not_to_rotate() {
        let r = Rotation::default();
        assert!(r.exclusive());
        r.kept();
        assert!(!r.exclusive());
        r.rotated();
        assert!(r.exclusive());
        // Once seen rotating, always treated as rotating.
        r.kept();
        assert!(r.exclusive());
    }

    #[test]
    fn a_rate_limit_holds_until_its_time_rounded_up_and_is_capped() {
        let limit = RateLimit::default();
        let t0 = testing::t0();
        assert_eq!(limit.check(t0, None), Ok(()));
        limit.record(t0, None, 30);
        let left = |at| match limit.check(at, None) {
            Err(AuthError::RateLimited {
                retry_after_secs,
                caller: None,
                until: Some(_),
            }) => retry_after_secs,
            other => panic!("{other:?}"),
        };
        assert_eq!(left(t0), Some(30));
        assert_eq!(left(t0 + Duration::from_millis(29_500)), Some(1));
        assert_eq!(limit.check(t0 + Duration::from_secs(30), None), Ok(()));
        limit.record(t0, None, u64::MAX);
        assert_eq!(left(t0), Some(3600));
        assert_eq!(limit.check(t0 + MAX_RATE_LIMIT, None), Ok(()));
    }

    #[test]
    fn a_429_for_one_audience_holds_back_only_that_audience() {
        let limit = RateLimit::default();
        let t0 = testing::t0();
        let billing = Audience::parse(BILLING).unwrap();
        let core = Audience::parse("https://api.portico.dev/core").unwrap();
        limit.record(t0, Some(&billing), 600);
        assert!(limit.check(t0, Some(&billing)).is_err());
        assert_eq!(limit.check(t0, Some(&core)), Ok(()), "another API goes on");
        assert_eq!(limit.check(t0, None), Ok(()));
        // A 429 to a request that named no audience holds back everything.
        limit.record(t0, None, 5);
        assert!(limit.check(t0, Some(&core)).is_err());
        assert!(limit
            .check(t0 + Duration::from_secs(5), Some(&billing))
            .is_err());
        assert_eq!(
            limit.check(t0 + Duration::from_secs(5), Some(&core)),
            Ok(())
        );
    }

    #[test]
    fn a_dead_refresh_token_ends_the_session() {
        let lost = |e| matches!(refusal(e, None), Refusal::SessionLost(_));
        assert!(lost(provider_error(400, Some("invalid_grant"), None)));
        assert!(lost(provider_error(401, None, None)));
        assert!(lost(provider_error(400, None, Some("no code, a reason"))));
        assert_eq!(
            refusal(
                provider_error(400, Some("invalid_grant"), Some("revoked")),
                None
            ),
            Refusal::SessionLost("the provider no longer accepts the session (revoked)".into())
        );
        // Not the session's fault: a server error, another client error.
        assert!(!lost(provider_error(500, None, None)));
        assert!(!lost(provider_error(403, None, None)));
        assert!(!lost(provider_error(400, Some("invalid_request"), None)));
    }

    #[test]
    fn invalid_target_is_an_audience_not_granted_and_429_a_rate_limit() {
        let billing = Audience::parse(BILLING).unwrap();
        assert_eq!(
            refusal(
                provider_error(400, Some("invalid_target"), Some("not granted at login")),
                Some(&billing)
            ),
            Refusal::Other(AuthError::AudienceNotGranted {
                audience: BILLING.into(),
                granted: vec![],
                description: Some("not granted at login".into()),
            })
        );
        assert_eq!(
            refusal(AuthError::provider_rate_limited(Some(7)), None),
            Refusal::RateLimited(7)
        );
        let unknown = AuthError::provider_rate_limited(None);
        assert_eq!(refusal(unknown.clone(), None), Refusal::Other(unknown));
    }

    #[test]
    fn the_form_names_the_audience_in_the_dialect_and_scopes_only_when_asked() {
        let (broker, _) = testing::broker();
        let mut config = broker.inner.config.clone();
        let rt = RefreshToken::new("rt-1");
        let billing = Audience::parse(BILLING).unwrap();
        let read = ScopeSet::parse("read:x").unwrap();
        let form = refresh_form(&config, &rt, Some(&billing), &read);
        assert_eq!(
            form.names(),
            [
                "grant_type",
                "refresh_token",
                "client_id",
                "resource",
                "scope"
            ]
        );
        assert_eq!(form.get("refresh_token"), Some("rt-1"));
        assert_eq!(form.get("resource"), Some(BILLING));
        assert_eq!(form.get("scope"), Some("read:x"));
        config.dialect = Dialect::Auth0;
        let form = refresh_form(&config, &rt, Some(&billing), &ScopeSet::empty());
        assert_eq!(form.get("audience"), Some(BILLING));
        assert_eq!(form.get("scope"), None);
        let form = refresh_form(&config, &rt, None, &ScopeSet::empty());
        assert_eq!(form.names(), ["grant_type", "refresh_token", "client_id"]);
    }

    #[tokio::test]
    async fn no_request_without_a_session_or_during_a_rate_limit() {
        let (broker, _) = testing::broker();
        let inner = &broker.inner;
        let metadata = testing::metadata();
        let billing = Audience::parse(BILLING).unwrap();
        let none = ScopeSet::empty();
        assert!(matches!(
            inner.refresh(&metadata, &billing, &none).await,
            Err(AuthError::LoginRequired { .. })
        ));
        testing::sign_in(&broker);
        inner
            .rate_limit
            .record(inner.clock.now(), Some(&billing), 5);
        assert!(matches!(
            inner.refresh(&metadata, &billing, &none).await,
            Err(AuthError::RateLimited {
                retry_after_secs: Some(5),
                caller: None,
                ..
            })
        ));
    }
}
