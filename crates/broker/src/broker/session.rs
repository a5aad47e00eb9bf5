//! The signed-in session: installing it (after a code exchange, or from the store), adopting a
//! rotated refresh token, losing it when the provider refuses it, and the silent sign-in that
//! restores it at start.

use super::tokens::Want;
use super::{Broker, Inner};
use crate::cache::CacheEntry;
use crate::config::{Audience, ScopeSet};
use crate::dpop::DpopKey;
use crate::error::{AuthError, StoreError};
use crate::ipc::{BrokerEvent, SessionInfo};
use crate::secret::{IdToken, RefreshToken};
use crate::store::StoredSession;
use portico_types::sync::lock;

/// The signed-in session. Only [`Inner::install_session`] makes one.
pub(super) struct Session {
    pub(super) info: SessionInfo,
    pub(super) refresh_token: Option<RefreshToken>,
    pub(super) id_token: Option<IdToken>,
    /// The key the refresh token is bound to (RFC 9449), when DPoP is on.
    pub(super) dpop: Option<DpopKey>,
    /// Bumped on every sign-in/sign-out so late results of an old session are dropped.
    pub(super) generation: u64,
}

impl Session {
    /// What the store keeps of this session; nothing without a refresh token, which is all a
    /// later run could restore it from.
    pub(super) fn to_stored(&self, client_id: &str) -> Option<StoredSession> {
        Some(StoredSession {
            refresh_token: self.refresh_token.clone()?,
            issuer: self.info.issuer.clone(),
            client_id: client_id.to_owned(),
            subject: self.info.subject.clone(),
            name: self.info.name.clone(),
            email: self.info.email.clone(),
            id_token_hint: self.id_token.clone(),
            dpop_key: self.dpop.as_ref().map(|k| k.to_pkcs8().clone()),
        })
    }
}

/// A session to install: who, and the tokens that carry it.
pub(super) struct NewSession {
    pub(super) info: SessionInfo,
    pub(super) refresh_token: Option<RefreshToken>,
    pub(super) id_token: Option<IdToken>,
    pub(super) dpop: Option<DpopKey>,
    /// What the sign-in proved (`acr`, `auth_time`); unknown for a session from the store.
    pub(super) authn: crate::step_up::Authn,
}

/// Where a session being installed comes from, which decides what the store is told.
// One is built per sign-in and moved once: boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
pub(super) enum Source {
    /// A code exchange: the store gets this session — or, without a refresh token, loses any
    /// older one — before the sign-in is reported. The exchange's access token, when the sign-in
    /// asked for an audience, is cached with it.
    CodeExchange {
        first_token: Option<(Audience, CacheEntry)>,
    },
    /// The store (a silent sign-in): it holds this session already.
    Store,
}

impl Broker {
    /// Restores the session from the store and proves it with one refresh, without a browser.
    ///
    /// `LoginRequired` if nothing is stored or the provider rejects the refresh token (the store is
    /// then cleared). On network errors the restored session is kept so a later call can retry.
    pub async fn silent_login(&self) -> Result<SessionInfo, AuthError> {
        let inner = &self.inner;
        inner.forget_expired_pending().await;
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
            subject: stored.subject,
            name: stored.name,
            email: stored.email,
            issuer: stored.issuer,
        };
        // A key that does not parse leaves the bound refresh token unusable: the refresh below
        // is then refused and the user signs in again, which is all that can be done.
        let dpop = stored
            .dpop_key
            .as_ref()
            .and_then(|k| DpopKey::from_pkcs8(k.expose_secret()).ok());
        let restored = NewSession {
            info: info.clone(),
            refresh_token: Some(stored.refresh_token),
            id_token: stored.id_token_hint,
            dpop,
            authn: Default::default(),
        };
        // Nothing to persist: the session comes from the store.
        inner.install_session(restored, Source::Store).await?;
        let probe = inner
            .config
            .default_audience
            .clone()
            .or_else(|| inner.config.audiences.first().cloned());
        let result = match &probe {
            Some(aud) => inner
                .obtain(
                    &Want::trusted(aud, &ScopeSet::empty()),
                    inner.options.min_ttl,
                )
                .await
                .map(|_| ()),
            None => inner.refresh_session(&metadata).await,
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
}

impl Inner {
    /// Makes `new` the signed-in session, the one way a session begins: under the lineage held
    /// exclusively (no grant of the old session is in flight), the generation moves on, the old
    /// session's tokens leave the cache, and the store learns what `source` says it must — all
    /// before the lineage is released, so no grant ever sees a session that is half in place.
    ///
    /// A store error is returned after the session is installed: the sign-in holds for this run.
    pub(super) async fn install_session(
        &self,
        new: NewSession,
        source: Source,
    ) -> Result<(), StoreError> {
        let mut generation = self.lineage.write().await;
        *generation += 1;
        {
            let mut cache = lock(&self.cache);
            cache.clear();
            cache.set_authn(new.authn.clone());
        }
        let session = Session {
            info: new.info,
            refresh_token: new.refresh_token,
            id_token: new.id_token,
            dpop: new.dpop,
            generation: *generation,
        };
        let stored = session.to_stored(&self.config.client_id);
        *lock(&self.session) = Some(session);
        match source {
            Source::Store => Ok(()),
            Source::CodeExchange { first_token } => {
                // Persist before reporting success; a stale session of an earlier sign-in must
                // not survive.
                let persisted = match stored {
                    Some(s) => self.store_op(move |st| st.save(&s)).await,
                    None => self.store_op(|st| st.clear()).await,
                };
                if let Some((audience, entry)) = first_token {
                    lock(&self.cache).insert(&audience, entry);
                }
                persisted
            }
        }
    }

    /// Adopts a rotated refresh token: in memory, then in the store (awaited). A token for a
    /// session that has ended meanwhile is dropped.
    pub(super) async fn rotate(
        &self,
        generation: u64,
        new_rt: RefreshToken,
    ) -> Result<(), StoreError> {
        let stored = {
            let mut s = lock(&self.session);
            let Some(s) = s.as_mut().filter(|s| s.generation == generation) else {
                return Ok(());
            };
            s.refresh_token = Some(new_rt);
            s.to_stored(&self.config.client_id)
        };
        match stored {
            Some(stored) => self.store_op(move |st| st.save(&stored)).await,
            None => Ok(()),
        }
    }

    /// The provider rejected the refresh token: forget the session everywhere.
    pub(super) async fn session_lost(&self, generation: u64) {
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

    /// The generation of the signed-in session, if any.
    #[cfg(test)]
    fn generation(&self) -> Option<u64> {
        lock(&self.session).as_ref().map(|s| s.generation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::testing::{self, BILLING, CORE};
    use crate::store::SessionStore;

    fn alice(refresh_token: Option<&str>) -> NewSession {
        NewSession {
            info: SessionInfo {
                subject: "alice".into(),
                name: Some("Alice".into()),
                email: None,
                issuer: "http://127.0.0.1:9/".into(),
            },
            refresh_token: refresh_token.map(RefreshToken::new),
            dpop: None,
            id_token: Some(IdToken::new("id.token.alice")),
            authn: Default::default(),
        }
    }

    fn first_token(audience: &str) -> Source {
        let audience = Audience::parse(audience).unwrap();
        Source::CodeExchange {
            first_token: Some((audience.clone(), testing::entry(&audience, "at-login"))),
        }
    }

    #[tokio::test]
    async fn a_code_exchange_installs_persists_and_caches_its_first_token() {
        let (broker, store) = testing::broker();
        let inner = &broker.inner;
        inner
            .install_session(alice(Some("rt-1")), first_token(BILLING))
            .await
            .unwrap();
        assert_eq!(inner.generation(), Some(1));
        let stored = store.load().unwrap().unwrap();
        assert_eq!(stored.refresh_token.expose_secret(), "rt-1");
        assert_eq!(stored.client_id, "portico-desktop");
        assert_eq!(stored.subject, "alice");
        assert_eq!(stored.id_token_hint, Some(IdToken::new("id.token.alice")));
        let billing = Audience::parse(BILLING).unwrap();
        assert!(broker.cached_token(&billing, &ScopeSet::empty()).is_some());
    }

    #[tokio::test]
    async fn a_new_session_moves_the_generation_on_and_empties_the_cache() {
        let (broker, store) = testing::broker();
        let inner = &broker.inner;
        inner
            .install_session(alice(Some("rt-1")), first_token(BILLING))
            .await
            .unwrap();
        inner
            .install_session(alice(Some("rt-2")), first_token(CORE))
            .await
            .unwrap();
        assert_eq!(inner.generation(), Some(2));
        let billing = Audience::parse(BILLING).unwrap();
        let core = Audience::parse(CORE).unwrap();
        assert!(broker.cached_token(&billing, &ScopeSet::empty()).is_none());
        assert!(broker.cached_token(&core, &ScopeSet::empty()).is_some());
        assert_eq!(
            store.load().unwrap().unwrap().refresh_token.expose_secret(),
            "rt-2"
        );
    }

    #[tokio::test]
    async fn a_sign_in_without_a_refresh_token_leaves_no_older_session_in_the_store() {
        let (broker, store) = testing::broker();
        let inner = &broker.inner;
        inner
            .install_session(alice(Some("rt-1")), first_token(BILLING))
            .await
            .unwrap();
        inner
            .install_session(alice(None), Source::CodeExchange { first_token: None })
            .await
            .unwrap();
        assert!(store.load().unwrap().is_none());
        assert_eq!(
            broker.session().map(|s| s.subject).as_deref(),
            Some("alice")
        );
    }

    #[tokio::test]
    async fn a_session_from_the_store_is_not_written_back() {
        let (broker, store) = testing::broker();
        broker
            .inner
            .install_session(alice(Some("rt-1")), Source::Store)
            .await
            .unwrap();
        assert!(store.load().unwrap().is_none());
        assert_eq!(broker.inner.generation(), Some(1));
        assert!(broker.session().is_some());
    }

    #[tokio::test]
    async fn a_rotated_token_is_persisted_unless_its_session_ended() {
        let (broker, store) = testing::broker();
        let inner = &broker.inner;
        inner
            .install_session(alice(Some("rt-1")), Source::Store)
            .await
            .unwrap();
        inner.rotate(1, RefreshToken::new("rt-2")).await.unwrap();
        let stored = store.load().unwrap().unwrap();
        assert_eq!(stored.refresh_token.expose_secret(), "rt-2");
        assert_eq!(stored.id_token_hint, Some(IdToken::new("id.token.alice")));
        // A late rotation of an earlier session.
        inner.rotate(0, RefreshToken::new("rt-old")).await.unwrap();
        assert_eq!(
            store.load().unwrap().unwrap().refresh_token.expose_secret(),
            "rt-2"
        );
    }

    #[tokio::test]
    async fn a_lost_session_is_forgotten_everywhere_but_only_once() {
        let (broker, store) = testing::broker();
        let inner = &broker.inner;
        let mut events = broker.subscribe();
        inner
            .install_session(alice(Some("rt-1")), first_token(BILLING))
            .await
            .unwrap();
        // A late refusal of an earlier session changes nothing.
        inner.session_lost(0).await;
        assert!(broker.session().is_some());
        inner.session_lost(1).await;
        assert!(broker.session().is_none());
        assert!(store.load().unwrap().is_none());
        assert!(broker.status().iter().all(|s| s.expires_at.is_none()));
        assert!(matches!(
            events.try_recv(),
            Ok(BrokerEvent::SessionChanged(None))
        ));
    }
}
