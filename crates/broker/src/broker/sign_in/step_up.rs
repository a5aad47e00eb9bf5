//! Step-up: a token whose sign-in meets a requirement (`acr_values`, `max_age`, `claims`; OIDC
//! Core §3.1.2.1 and §5.5, RFC 9470), from the cache when one does, else through one more
//! interactive sign-in of the same person in the system browser.
//!
//! The refresh token stays one lineage: the step-up's code exchange brings a new one, which
//! replaces the session's (in memory and in the store, with the lineage held exclusively so no
//! grant presents the old one meanwhile), and only then is the old one revoked. A step-up that
//! fails any check (ID token, `sub`, `acr`, `auth_time`) revokes what it brought and leaves the
//! session as it was. One interactive step-up runs at a time; callers with a requirement the
//! running one meets share its outcome.

use super::super::{Broker, Inner};
use super::LoginRequest;
use crate::config::Audience;
use crate::discovery::ProviderMetadata;
use crate::error::AuthError;
use crate::ipc::{BrokerEvent, TokenGrant};
use crate::request::TokenRequest;
use crate::secret::{AuthCode, IdToken};
use crate::step_up::{AuthRequirement, Authn};
use crate::transaction::{LoginTransaction, StepUpTx};
use portico_types::sync::lock;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// A step-up in progress, as the host shows it: who asks, for which API, what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepUpView {
    /// The caller (micro frontend id) that asked.
    pub caller: String,
    pub audience: Audience,
    pub requirement: AuthRequirement,
    /// The scopes asked for at `audience`.
    pub scopes: crate::config::ScopeSet,
}

/// What the host is asked to do for a step-up: open `login.authorize_url` in the system
/// browser, and show `view` with a way to cancel ([`Broker::cancel_login`]).
#[derive(Debug, Clone)]
pub struct StepUpPrompt {
    pub login: LoginRequest,
    pub view: StepUpView,
}

/// How the host opens the browser for a step-up (set with [`Broker::set_interaction`]).
pub type Interaction = Arc<dyn Fn(StepUpPrompt) + Send + Sync>;

/// Tells the waiting caller how its step-up ended.
type Done = oneshot::Sender<Result<(), AuthError>>;

/// The step-up machinery's state.
#[derive(Default)]
pub(crate) struct StepUps {
    /// One interactive step-up at a time.
    gate: tokio::sync::Mutex<()>,
    /// The caller waiting for the pending step-up's callback, by its transaction's state.
    waiter: Mutex<Option<(String, Done)>>,
    interaction: Mutex<Option<Interaction>>,
}

impl StepUps {
    /// Tells the waiting caller how its step-up ended (if `state` is its transaction's).
    pub(crate) fn finish(&self, state: &str, outcome: Result<(), AuthError>) {
        let mut w = lock(&self.waiter);
        if w.as_ref().is_some_and(|(s, _)| s == state) {
            if let Some((_, tx)) = w.take() {
                let _ = tx.send(outcome);
            }
        }
    }

    /// Ends the waiting caller's step-up as cancelled (the host cancelled, or a new sign-in
    /// replaced it).
    pub(crate) fn cancel(&self) {
        if let Some((_, tx)) = lock(&self.waiter).take() {
            let _ = tx.send(Err(AuthError::StepUpCancelled));
        }
    }
}

/// The provider's error answer to a step-up (OIDC Core §3.1.2.6), typed.
pub(crate) fn provider_refusal(error: String, description: Option<String>) -> AuthError {
    match error.as_str() {
        "interaction_required" | "consent_required" | "account_selection_required" => {
            AuthError::InteractionRequired { error, description }
        }
        "login_required" => AuthError::login_required(
            description.unwrap_or_else(|| "the provider asks for a new sign-in".into()),
        ),
        _ => AuthError::AccessDenied { error, description },
    }
}

impl Broker {
    /// How to open the system browser for a step-up. Without it a step-up is refused with
    /// `interaction_required`.
    pub fn set_interaction(&self, interaction: Interaction) {
        *lock(&self.inner.step_ups.interaction) = Some(interaction);
    }

    /// A token for `request` whose sign-in meets `requirement`: see the module documentation.
    /// A DPoP-bound token is not handed out (`token_not_exposed`), as for [`Broker::token_for`].
    pub async fn token_meeting(
        &self,
        request: &TokenRequest,
        requirement: &AuthRequirement,
    ) -> Result<TokenGrant, AuthError> {
        let grant = self.token_meeting_for_use(request, requirement).await?;
        if grant.is_sender_constrained() {
            return Err(AuthError::TokenNotExposed);
        }
        Ok(grant)
    }

    /// [`Broker::token_meeting`] for the shell's own use (native fetch), bound or not.
    pub(crate) async fn token_meeting_for_use(
        &self,
        request: &TokenRequest,
        requirement: &AuthRequirement,
    ) -> Result<TokenGrant, AuthError> {
        if requirement.is_empty() {
            return self.token_for_use(request).await;
        }
        let inner = &self.inner;
        if let Some(hit) = inner.cached_meeting(request, requirement) {
            return Ok(hit);
        }
        // The session's sign-in may meet it already (an earlier step-up): a refresh then does.
        let met = requirement.met_by(lock(&inner.cache).authn(), inner.clock.now());
        if met {
            let grant = self.token_for_use(request).await?;
            if let Some(hit) = inner.cached_meeting(request, requirement) {
                return Ok(hit);
            }
            // A token from before that sign-in: drop it and refresh once.
            self.forget_token(request.audience(), &grant);
            self.token_for_use(request).await?;
            if let Some(hit) = inner.cached_meeting(request, requirement) {
                return Ok(hit);
            }
        }
        let _one_at_a_time = inner.step_ups.gate.lock().await;
        // The step-up before ours may have met our requirement too.
        if let Some(hit) = inner.cached_meeting(request, requirement) {
            return Ok(hit);
        }
        let interaction = lock(&inner.step_ups.interaction).clone().ok_or_else(|| {
            AuthError::InteractionRequired {
                error: "interaction_required".into(),
                description: Some(
                    "this app cannot open a browser for an additional sign-in".into(),
                ),
            }
        })?;
        let view = StepUpView {
            caller: request.caller().to_owned(),
            audience: request.audience().clone(),
            requirement: requirement.clone(),
            scopes: request.scopes().clone(),
        };
        let (login, done) = inner.begin_step_up(&view).await?;
        tracing::info!(caller = %view.caller, audience = %view.audience, "step-up: asking the person to sign in again");
        inner.emit(BrokerEvent::StepUpChanged(Some(view.clone())));
        let expires_in = login
            .expires_at
            .duration_since(inner.clock.now())
            .unwrap_or_default();
        interaction(StepUpPrompt { login, view });
        let outcome = tokio::time::timeout(expires_in, done).await;
        inner.emit(BrokerEvent::StepUpChanged(None));
        match outcome {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => return Err(e),
            Ok(Err(_)) => return Err(AuthError::StepUpCancelled),
            Err(_) => {
                self.cancel_login();
                return Err(AuthError::LoginExpired);
            }
        }
        inner
            .cached_meeting(request, requirement)
            .ok_or_else(|| AuthError::StepUpNotMet {
                reason: "the token it brought does not cover what was asked for".into(),
            })
    }
}

impl Inner {
    fn cached_meeting(
        &self,
        request: &TokenRequest,
        requirement: &AuthRequirement,
    ) -> Option<TokenGrant> {
        if lock(&self.session).is_none() {
            return None;
        }
        lock(&self.cache).lookup_meeting(
            request.audience(),
            request.scopes(),
            Some(request.ceiling()),
            requirement,
            self.clock.now(),
            self.options.min_ttl,
        )
    }

    /// Starts the step-up transaction (with the session's DPoP key, so the new refresh token
    /// is bound to the key the session keeps); not persisted: its caller waits in this process.
    async fn begin_step_up(
        &self,
        view: &StepUpView,
    ) -> Result<(LoginRequest, oneshot::Receiver<Result<(), AuthError>>), AuthError> {
        let (subject, dpop) = match lock(&self.session).as_ref() {
            Some(s) => (s.info.subject.clone(), s.dpop.clone()),
            None => return Err(AuthError::login_required("nobody is signed in")),
        };
        let redirect = match &self.config.redirect {
            crate::config::RedirectUri::PrivateScheme(deep_link) => deep_link.clone(),
            crate::config::RedirectUri::Loopback { .. } => {
                return Err(AuthError::InteractionRequired {
                    error: "interaction_required".into(),
                    description: Some(
                        "an additional sign-in needs the deep-link redirect; this app uses a loopback one"
                            .into(),
                    ),
                })
            }
        };
        let metadata = self.metadata().await?;
        let mut tx =
            LoginTransaction::new(redirect, self.clock.now(), self.options.transaction_ttl);
        tx.dpop = dpop;
        tx.step_up = Some(StepUpTx {
            audience: view.audience.clone(),
            requirement: view.requirement.clone(),
            scopes: view.scopes.clone(),
            subject,
        });
        let login = LoginRequest {
            authorize_url: self.authorize_url(&metadata, &tx).await?,
            expires_at: tx.expires_at,
        };
        let (done_tx, done_rx) = oneshot::channel();
        // A sign-in pending from before is replaced, as a new sign-in would replace it.
        self.step_ups.cancel();
        *lock(&self.step_ups.waiter) = Some((tx.state.clone(), done_tx));
        lock(&self.pending).begin(tx);
        Ok((login, done_rx))
    }

    /// The step-up's code exchange and its checks; see the module documentation.
    pub(super) async fn exchange_step_up(
        &self,
        metadata: &ProviderMetadata,
        tx: LoginTransaction,
        code: AuthCode,
    ) -> Result<(), AuthError> {
        let Some(step) = tx.step_up.clone() else {
            return Err(AuthError::Internal {
                reason: "a sign-in was taken for a step-up".into(),
            });
        };
        let (resp, new_rt) = self
            .redeem_code(metadata, &tx, &code, Some(&step.audience))
            .await?;
        let refuse = |e: AuthError| async {
            if let Some(rt) = &new_rt {
                self.revoke_refresh_token(metadata, rt).await;
            }
            tracing::warn!(kind = e.kind(), error = %e, "refused the step-up's answer; the session is unchanged");
            Err(e)
        };
        let (claims, raw_id, token) = match self
            .check_login_response(metadata, &tx, &resp, Some(&step.audience))
            .await
        {
            Ok(checked) => checked,
            Err(e) => return refuse(e).await,
        };
        if claims.sub != step.subject {
            return refuse(AuthError::StepUpWrongUser).await;
        }
        let authn = Authn {
            acr: claims.acr.clone(),
            auth_time: claims.auth_time,
            claims: step.requirement.claims().map(str::to_owned),
        };
        let now = self.clock.now();
        if !step.requirement.met_by(&authn, now) {
            let reason = step.requirement.shortfall(&authn, now);
            return refuse(AuthError::StepUpNotMet { reason }).await;
        }
        // An access token that states how the person signed in (RFC 9470 §3 lets the
        // provider put `acr` and `auth_time` there) must say the same.
        if let Some(at) = crate::id_token::unverified_claims(&resp.access_token) {
            let stated = Authn {
                acr: at
                    .get("acr")
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned)
                    .or_else(|| authn.acr.clone()),
                auth_time: at
                    .get("auth_time")
                    .and_then(serde_json::Value::as_u64)
                    .or(authn.auth_time),
                claims: authn.claims.clone(),
            };
            if !step.requirement.met_by(&stated, now) {
                let reason = format!(
                    "the access token says {}",
                    step.requirement.shortfall(&stated, now)
                );
                return refuse(AuthError::StepUpNotMet { reason }).await;
            }
        }
        let Some((audience, mut entry)) = token else {
            return refuse(AuthError::Internal {
                reason: "the step-up brought no access token".into(),
            })
            .await;
        };
        // What a proactive refresh of this token asks for again: its API scopes.
        entry.requested = super::super::token_endpoint::api_scopes(&entry.granted);
        // One lineage: no grant may present the old refresh token while it is replaced.
        let lineage = self.lineage.write().await;
        let swapped = {
            let mut session = lock(&self.session);
            match session.as_mut().filter(|s| s.info.subject == step.subject) {
                None => None,
                Some(s) => {
                    let old = match &new_rt {
                        Some(rt) => s.refresh_token.replace(rt.clone()),
                        None => None,
                    };
                    s.id_token = Some(IdToken::new(raw_id));
                    Some((old, s.to_stored(&self.config.client_id)))
                }
            }
        };
        let Some((old_rt, stored)) = swapped else {
            drop(lineage);
            return refuse(AuthError::login_required(
                "you signed out during the additional sign-in",
            ))
            .await;
        };
        {
            let mut cache = lock(&self.cache);
            cache.set_authn(authn);
            cache.insert(&audience, entry.clone());
        }
        let persisted = match stored {
            Some(s) => self.store_op(move |st| st.save(&s)).await,
            None => Ok(()),
        };
        drop(lineage);
        if let Err(e) = &persisted {
            tracing::warn!(error = %e, "the step-up's refresh token could not be stored; it lasts for this run");
        }
        // The old family is of no use any more; the new token is in place first.
        if let Some(old) = old_rt {
            self.revoke_refresh_token(metadata, &old).await;
        }
        tracing::info!(audience = %audience, "step-up complete");
        self.emit(BrokerEvent::TokenRefreshed {
            audience,
            grant: entry.grant,
            requested: entry.requested,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_providers_refusals_of_a_step_up_are_typed() {
        for (error, kind) in [
            ("interaction_required", "interaction_required"),
            ("consent_required", "interaction_required"),
            ("account_selection_required", "interaction_required"),
            ("login_required", "login_required"),
            ("access_denied", "access_denied"),
        ] {
            let e = provider_refusal(error.into(), Some("the provider's reason".into()));
            assert_eq!(e.kind(), kind, "{error}");
            if kind != "login_required" {
                assert!(e.to_string().contains("the provider's reason"), "{e}");
            }
        }
        let e = provider_refusal("consent_required".into(), None);
        assert_eq!(
            e.to_string(),
            "The provider needs your consent before it continues (consent_required)."
        );
    }
}
