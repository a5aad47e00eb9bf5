//! Sign-in: the login transaction from `/authorize` to its callback, and the code exchange that
//! turns the callback into a session.

pub(crate) mod pending;
pub(crate) mod step_up;

use super::session::{NewSession, Source};
use super::token_endpoint::{api_scopes, Form, TokenResponse};
use super::{Broker, Inner};
use crate::cache::CacheEntry;
use crate::config::{Audience, RedirectUri, ScopeSet};
use crate::discovery::ProviderMetadata;
use crate::dpop::DpopKey;
use crate::error::{AuthError, IdTokenDefect, StoreError};
use crate::id_token::IdClaims;
use crate::ipc::{BrokerEvent, SessionInfo};
use crate::secret::{AuthCode, IdToken, RefreshToken};
use crate::store::SessionStore;
use crate::transaction::{CallbackOutcome, LoginTransaction};
use portico_types::net::is_loopback_ip;
use portico_types::sync::lock;
use std::sync::atomic::Ordering;
use std::time::SystemTime;
use url::Url;

/// A started login: open `authorize_url` in the system browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginRequest {
    pub authorize_url: Url,
    /// After this the callback is refused with [`AuthError::LoginExpired`].
    pub expires_at: SystemTime,
}

impl Broker {
    /// Starts a login: a fresh PKCE/state/nonce transaction replacing any pending one.
    ///
    /// With a loopback redirect, pass the `http://127.0.0.1:{port}{path}` the shell listens on.
    pub async fn begin_login(
        &self,
        redirect_uri_override: Option<Url>,
    ) -> Result<LoginRequest, AuthError> {
        let inner = &self.inner;
        let redirect = login_redirect(&inner.config.redirect, redirect_uri_override)?;
        let metadata = inner.metadata().await?;
        let mut tx =
            LoginTransaction::new(redirect, inner.clock.now(), inner.options.transaction_ttl);
        tx.dpop = inner.sign_in_dpop_key(&metadata)?;
        let request = LoginRequest {
            authorize_url: inner.authorize_url(&metadata, &tx).await?,
            expires_at: tx.expires_at,
        };
        // A deep-link sign-in may be completed by a later process (the link starts the app),
        // so its transaction is persisted; a loopback listener dies with this process.
        if inner.persists_sign_ins() {
            let pending = tx.to_pending();
            if let Err(e) = inner.store_op(move |s| s.save_pending(&pending)).await {
                tracing::warn!(error = %e, "pending sign-in not persisted; it completes in this run only");
            }
        }
        // A step-up waiting for its callback is over: this sign-in replaces its transaction.
        inner.step_ups.cancel();
        lock(&inner.pending).begin(tx);
        Ok(request)
    }

    /// Drops the pending login; its callback will be refused with [`AuthError::LoginCancelled`].
    /// A pending step-up ends for its caller with [`AuthError::StepUpCancelled`].
    pub fn cancel_login(&self) {
        self.inner.step_ups.cancel();
        // Bound first: the guard must be gone before the store is touched.
        let cancelled = lock(&self.inner.pending).cancel();
        if let Some(state) = cancelled {
            self.inner.forget_pending_in_background(state);
        }
    }

    /// Whether a login is pending and not expired.
    pub fn pending_login(&self) -> bool {
        lock(&self.inner.pending).pending_at(self.inner.clock.now())
    }

    /// Completes the pending login with the callback URL (deep link or loopback request URL).
    ///
    /// Forged, replayed or malformed callbacks are refused and leave the pending login in place.
    /// If the session cannot be persisted the sign-in still holds for this run and
    /// [`AuthError::StorageUnavailable`] is returned; [`Broker::session`] then shows the user.
    pub async fn complete_login(&self, callback_url: &str) -> Result<SessionInfo, AuthError> {
        let inner = &self.inner;
        let metadata = inner.metadata().await?;
        // Started by the deep link itself? The sign-in may have begun in an earlier run. Only
        // this process writes pending sign-ins once it runs, so the keyring is read once: a flood
        // of forged callbacks with nothing pending costs no keyring reads.
        if !lock(&inner.pending).in_progress()
            && inner.persists_sign_ins()
            && !inner.pending_store_read.load(Ordering::SeqCst)
        {
            // A locked keyring is asked again next time.
            if let Ok(saved) = inner.store_op(|s| s.load_pending()).await {
                inner.pending_store_read.store(true, Ordering::SeqCst);
                if let Some(tx) = saved.and_then(LoginTransaction::from_pending) {
                    lock(&inner.pending).restore(tx);
                }
            }
        }
        // Decided under the lock; the store is touched after it is released.
        let taken = lock(&inner.pending).take(
            callback_url,
            inner.clock.now(),
            &metadata.issuer,
            metadata.iss_parameter_supported,
        );
        let (tx, outcome) = match taken {
            Ok(taken) => taken,
            Err(refused) => {
                if let Some(state) = refused.ended {
                    inner.forget_pending(state).await;
                }
                return Err(refused.error);
            }
        };
        // Taken: remove the persisted copy before the code is spent, so no replay revives it.
        inner.forget_pending(tx.state.clone()).await;
        if tx.step_up.is_some() {
            let state = tx.state.clone();
            let result = match outcome {
                CallbackOutcome::Error { error, description } => {
                    Err(step_up::provider_refusal(error, description))
                }
                CallbackOutcome::Code(code) => inner.exchange_step_up(&metadata, tx, code).await,
            };
            inner.step_ups.finish(&state, result.clone());
            result?;
            return self.session().ok_or_else(|| {
                AuthError::login_required("you signed out during the additional sign-in")
            });
        }
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
                        inner.put_back_pending(kept).await;
                    }
                }
                result
            }
        }
    }
}

/// The redirect URI of a new sign-in: the configured deep link, or the loopback listener the
/// shell opened for this one (RFC 8252 §7.3: `http`, a loopback IP literal, a port, our path;
/// the configured port when one is fixed).
fn login_redirect(configured: &RedirectUri, given: Option<Url>) -> Result<Url, AuthError> {
    match (configured, given) {
        (RedirectUri::PrivateScheme(u), None) => Ok(u.clone()),
        (RedirectUri::PrivateScheme(u), Some(o)) if &o == u => Ok(o),
        (RedirectUri::PrivateScheme(_), Some(_)) => Err(AuthError::config(
            "redirect override differs from the configured redirect URI",
        )),
        (RedirectUri::Loopback { port: None, .. }, None) => Err(AuthError::config(
            "a loopback redirect needs the listening port",
        )),
        // The fixed port is known in advance; the shell listens on it.
        (
            RedirectUri::Loopback {
                path,
                port: Some(port),
            },
            None,
        ) => Url::parse(&format!("http://127.0.0.1:{port}{path}"))
            .map_err(|e| AuthError::config(format!("the loopback redirect is not a URL: {e}"))),
        (RedirectUri::Loopback { path, port }, Some(o)) => {
            if o.scheme() != "http"
                || !is_loopback_ip(&o)
                || o.port().is_none()
                || port.is_some_and(|p| o.port() != Some(p))
                || o.path() != path
                || o.query().is_some()
                || o.fragment().is_some()
            {
                return Err(AuthError::config(
                    "loopback redirect must be http://127.0.0.1:{port} (or [::1]) with the configured port and path",
                ));
            }
            Ok(o)
        }
    }
}

/// Removes the persisted pending sign-in of `state`, and only that one: a sign-in begun
/// meanwhile survives.
fn forget_persisted(store: &dyn SessionStore, state: &str) -> Result<(), StoreError> {
    match store.load_pending()? {
        Some(p) if p.state == state => store.clear_pending(),
        _ => Ok(()),
    }
}

impl Inner {
    /// Whether sign-ins outlive this process: a deep link may start a later one to complete it.
    fn persists_sign_ins(&self) -> bool {
        matches!(self.config.redirect, RedirectUri::PrivateScheme(_))
    }

    /// [`forget_persisted`], awaited.
    async fn forget_pending(&self, state: String) {
        if let Err(e) = self.store_op(move |s| forget_persisted(s, &state)).await {
            tracing::debug!(error = %e, "could not clear the persisted pending sign-in");
        }
    }

    /// The URL to open in the browser. With pushed authorization requests (RFC 9126) it carries
    /// only `client_id` and a one-time `request_uri`: `state`, `nonce` and the PKCE challenge
    /// then never appear on the browser's command line, which other local users can read.
    async fn authorize_url(
        &self,
        metadata: &ProviderMetadata,
        tx: &LoginTransaction,
    ) -> Result<Url, AuthError> {
        let offered = metadata.par_endpoint.as_ref();
        let endpoint = match (self.config.par.use_with(offered.is_some()), offered) {
            (None, _) => {
                return Err(AuthError::config(
                    "pushed authorization requests are switched on but the provider does not offer them",
                ))
            }
            (Some(true), Some(endpoint)) => endpoint,
            _ => return Ok(tx.authorize_url(&metadata.authorization_endpoint, &self.config)),
        };
        #[derive(serde::Deserialize)]
        struct Pushed {
            request_uri: String,
        }
        let params = tx.authorize_params(&self.config);
        let form: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let pushed: Pushed = self
            .http
            .post_form_json(endpoint, &form, "pushed authorization request")
            .await?;
        let mut url = metadata.authorization_endpoint.clone();
        url.query_pairs_mut()
            .append_pair("client_id", &self.config.client_id)
            .append_pair("request_uri", &pushed.request_uri);
        Ok(url)
    }

    /// A fresh DPoP key for a sign-in when DPoP is on (RFC 9449): one per sign-in, so signing
    /// out and in again rotates it. `config_invalid` when DPoP is switched on and the provider
    /// does not accept ES256 proofs.
    fn sign_in_dpop_key(&self, metadata: &ProviderMetadata) -> Result<Option<DpopKey>, AuthError> {
        match self.config.dpop.use_with(metadata.dpop_es256) {
            None => {
                return Err(AuthError::config(
                    "DPoP is switched on but the provider does not accept ES256 DPoP proofs",
                ))
            }
            Some(false) => return Ok(None),
            Some(true) => {}
        }
        DpopKey::generate()
            .map(Some)
            .map_err(|e| AuthError::Internal {
                reason: e.to_string(),
            })
    }

    /// Removes a persisted pending sign-in that has expired (an abandoned one from an earlier
    /// run): it holds a PKCE verifier and nothing can complete it any more.
    pub(super) async fn forget_expired_pending(&self) {
        let now = self.clock.now();
        let result = self
            .store_op(move |s| match s.load_pending()? {
                Some(p)
                    if LoginTransaction::from_pending(p.clone())
                        .is_none_or(|tx| now >= tx.expires_at) =>
                {
                    s.clear_pending()
                }
                _ => Ok(()),
            })
            .await;
        if let Err(e) = result {
            tracing::debug!(error = %e, "could not check the persisted pending sign-in");
        }
    }

    /// [`forget_persisted`] off the caller's thread, not awaited: store calls block, and this is
    /// called from sync contexts too.
    fn forget_pending_in_background(&self, state: String) {
        let store = self.store.clone();
        std::thread::spawn(move || {
            if let Err(e) = forget_persisted(&*store, &state) {
                tracing::debug!(error = %e, "could not clear the persisted pending sign-in");
            }
        });
    }

    /// Puts a transaction whose code was refused back in place, unless a newer one exists.
    async fn put_back_pending(&self, tx: LoginTransaction) {
        let persist = self.persists_sign_ins().then(|| tx.to_pending());
        if !lock(&self.pending).put_back(tx, self.clock.now()) {
            return;
        }
        if let Some(pending) = persist {
            if let Err(e) = self.store_op(move |s| s.save_pending(&pending)).await {
                tracing::debug!(error = %e, "restored sign-in not persisted");
            }
        }
        tracing::warn!("the provider refused the callback's code; the sign-in stays pending");
    }
    /// The `authorization_code` grant for `tx` (its PKCE verifier, its DPoP key), naming one
    /// `audience` (RFC 8707 §2.2: a server may require each token request to resolve to one
    /// resource). Returns the answer and the refresh token it carries, if any.
    pub(super) async fn redeem_code(
        &self,
        metadata: &ProviderMetadata,
        tx: &LoginTransaction,
        code: &AuthCode,
        audience: Option<&Audience>,
    ) -> Result<(TokenResponse, Option<RefreshToken>), AuthError> {
        let form = Form::default()
            .with("grant_type", "authorization_code")
            .with("code", code.expose_secret())
            .with("redirect_uri", tx.redirect_uri.as_str())
            .with("client_id", self.config.client_id.as_str())
            .with("code_verifier", tx.verifier.expose_secret())
            .with_opt(audience.and_then(|a| self.config.dialect.code_exchange_param(a)))
            .with_opt(self.config.claims_param(None).map(|c| ("claims", c)));
        let signer = self.dpop_signer(tx.dpop.as_ref());
        let resp: TokenResponse = self
            .http
            .post_form_json_dpop(
                &metadata.token_endpoint,
                &form.pairs(),
                "token",
                signer.as_ref(),
            )
            .await?;
        let refresh_token = resp
            .refresh_token
            .clone()
            .filter(|s| !s.is_empty())
            .map(RefreshToken::new);
        Ok((resp, refresh_token))
    }

    async fn exchange_code(
        &self,
        metadata: &ProviderMetadata,
        tx: LoginTransaction,
        code: AuthCode,
    ) -> Result<SessionInfo, AuthError> {
        let login_audience = self.config.login_token_audience();
        let (resp, refresh_token) = self
            .redeem_code(metadata, &tx, &code, login_audience)
            .await?;
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
        let new = NewSession {
            info: info.clone(),
            refresh_token,
            id_token: Some(IdToken::new(raw_id)),
            // The refresh token is bound to this key now (RFC 9449 §5).
            dpop: tx.dpop.clone(),
            authn: crate::step_up::Authn {
                acr: claims.acr.clone(),
                auth_time: claims.auth_time,
                claims: None,
            },
        };
        let persisted = self
            .install_session(
                new,
                Source::CodeExchange {
                    first_token: login_token,
                },
            )
            .await;
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
    async fn check_login_response(
        &self,
        metadata: &ProviderMetadata,
        tx: &LoginTransaction,
        resp: &TokenResponse,
        login_audience: Option<&Audience>,
    ) -> Result<(IdClaims, String, Option<(Audience, CacheEntry)>), AuthError> {
        let raw_id = resp
            .id_token
            .clone()
            .ok_or(AuthError::id_token(IdTokenDefect::Malformed))?;
        let claims = self
            .validate_id_token(metadata, &raw_id, Some(&tx.nonce), None)
            .await?;
        let login_token = match login_audience {
            Some(audience) => {
                let mut entry = self.accept_access_token(
                    resp,
                    audience,
                    &ScopeSet::empty(),
                    tx.dpop.is_some(),
                )?;
                // What a proactive refresh of this token asks for again: its API scopes.
                entry.requested = api_scopes(&entry.granted);
                Some((audience.clone(), entry))
            }
            None => None,
        };
        Ok((claims, raw_id, login_token))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn a_deep_link_sign_in_uses_the_configured_redirect() {
        let deep = RedirectUri::PrivateScheme(url("dev.portico.app:/callback"));
        assert_eq!(
            login_redirect(&deep, None).unwrap(),
            url("dev.portico.app:/callback")
        );
        assert_eq!(
            login_redirect(&deep, Some(url("dev.portico.app:/callback"))).unwrap(),
            url("dev.portico.app:/callback")
        );
        assert!(matches!(
            login_redirect(&deep, Some(url("other.app:/callback"))),
            Err(AuthError::ConfigInvalid { .. })
        ));
    }

    #[test]
    fn a_loopback_sign_in_needs_a_loopback_ip_literal_port_and_our_path() {
        let loopback = RedirectUri::Loopback {
            path: "/callback".into(),
            port: None,
        };
        for ok in [
            "http://127.0.0.1:53123/callback",
            "http://[::1]:53123/callback",
        ] {
            assert_eq!(login_redirect(&loopback, Some(url(ok))).unwrap(), url(ok));
        }
        for bad in [
            "https://127.0.0.1:53123/callback",
            "http://localhost:53123/callback",
            "http://10.0.0.1:53123/callback",
            "http://127.0.0.1/callback",
            "http://127.0.0.1:53123/other",
            "http://127.0.0.1:53123/callback?x=1",
            "http://127.0.0.1:53123/callback#f",
        ] {
            assert!(
                matches!(
                    login_redirect(&loopback, Some(url(bad))),
                    Err(AuthError::ConfigInvalid { .. })
                ),
                "{bad}"
            );
        }
        assert!(login_redirect(&loopback, None).is_err());
    }

    #[test]
    fn a_fixed_loopback_port_is_the_only_port() {
        let fixed = RedirectUri::Loopback {
            path: "/callback".into(),
            port: Some(53682),
        };
        let ours = url("http://127.0.0.1:53682/callback");
        assert_eq!(login_redirect(&fixed, None).unwrap(), ours);
        assert_eq!(login_redirect(&fixed, Some(ours.clone())).unwrap(), ours);
        assert!(matches!(
            login_redirect(&fixed, Some(url("http://127.0.0.1:53683/callback"))),
            Err(AuthError::ConfigInvalid { .. })
        ));
    }
}
