//! Sign-out: the session ends here and at the provider — its refresh token revoked, its
//! end-session URL returned for the browser.

use super::token_endpoint::Form;
use super::{Broker, Inner};
use crate::dialect::Revocation;
use crate::discovery::ProviderMetadata;
use crate::error::AuthError;
use crate::ipc::BrokerEvent;
use crate::secret::RefreshToken;
use portico_types::sync::lock;
use url::Url;

impl Broker {
    /// Signs out: revokes the refresh token at the provider (RFC 7009) when it has a revocation
    /// endpoint, clears store and cache, and returns the end-session URL to open in the browser.
    pub async fn logout(&self) -> Result<Option<Url>, AuthError> {
        let inner = &self.inner;
        let metadata = inner.metadata().await.ok();
        let (rt, hint) = {
            let mut gen = inner.lineage.write().await;
            *gen += 1;
            lock(&inner.cache).clear();
            // A sign-in in progress ends too; its callback is answered `LoginCancelled`.
            lock(&inner.pending).cancel();
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
        // The session and any persisted pending sign-in (it holds a PKCE verifier) leave the
        // keyring together.
        let cleared = inner
            .store_op(|s| s.clear().and_then(|()| s.clear_pending()))
            .await;
        inner.emit(BrokerEvent::SessionChanged(None));
        cleared?;
        let end_session = metadata
            .as_ref()
            .and_then(|m| m.end_session_endpoint.as_ref());
        Ok(inner
            .config
            .end_session_url(end_session, hint.as_ref().map(|h| h.expose_secret())))
    }
}

/// A revocation to send: where, what, and the endpoint's name for errors.
struct RevocationRequest<'m> {
    endpoint: &'m Url,
    form: Form,
    name: &'static str,
}

/// How to revoke `rt` the provider's way (see [`Revocation`]); `None` when it has no way.
fn revocation_request<'m>(
    revocation: Revocation,
    metadata: &'m ProviderMetadata,
    rt: &RefreshToken,
    client_id: &str,
) -> Option<RevocationRequest<'m>> {
    Some(match revocation {
        Revocation::Rfc7009 => RevocationRequest {
            endpoint: metadata.revocation_endpoint.as_ref()?,
            form: Form::default()
                .with("token", rt.expose_secret())
                .with("token_type_hint", "refresh_token")
                .with("client_id", client_id),
            name: "revocation",
        },
        Revocation::GlewlwydDeleteToken => RevocationRequest {
            endpoint: &metadata.token_endpoint,
            form: Form::default()
                .with("grant_type", "delete_token")
                .with("refresh_token", rt.expose_secret())
                .with("client_id", client_id),
            name: "token",
        },
    })
}

impl Inner {
    /// Revokes a refresh token at the provider (RFC 7009, or the provider's own way, see
    /// [`Revocation`]). Best effort: a failure is logged, never reported; the caller drops the
    /// token either way.
    pub(super) async fn revoke_refresh_token(
        &self,
        metadata: &ProviderMetadata,
        rt: &RefreshToken,
    ) {
        let Some(request) =
            revocation_request(self.config.revocation, metadata, rt, &self.config.client_id)
        else {
            tracing::warn!("the provider has no revocation endpoint; the refresh token stays valid until it expires");
            return;
        };
        let result = self
            .http
            .post_form_status(request.endpoint, &request.form.pairs(), request.name)
            .await;
        if let Err(e) = result {
            tracing::warn!(kind = e.kind(), error = %e, "refresh token revocation failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::testing;

    #[test]
    fn rfc7009_revokes_at_the_revocation_endpoint_when_there_is_one() {
        let mut metadata = testing::metadata();
        let rt = RefreshToken::new("rt-1");
        let r = revocation_request(Revocation::Rfc7009, &metadata, &rt, "cid").unwrap();
        assert_eq!(r.endpoint.path(), "/revoke");
        assert_eq!(r.name, "revocation");
        assert_eq!(r.form.names(), ["token", "token_type_hint", "client_id"]);
        assert_eq!(r.form.get("token"), Some("rt-1"));
        metadata.revocation_endpoint = None;
        assert!(revocation_request(Revocation::Rfc7009, &metadata, &rt, "cid").is_none());
    }

    #[test]
    fn glewlwyd_deletes_the_token_at_the_token_endpoint() {
        let mut metadata = testing::metadata();
        metadata.revocation_endpoint = None;
        let rt = RefreshToken::new("rt-1");
        let r = revocation_request(Revocation::GlewlwydDeleteToken, &metadata, &rt, "cid").unwrap();
        assert_eq!(r.endpoint.path(), "/token");
        assert_eq!(r.name, "token");
        assert_eq!(r.form.get("grant_type"), Some("delete_token"));
        assert_eq!(r.form.get("refresh_token"), Some("rt-1"));
        assert_eq!(r.form.get("client_id"), Some("cid"));
    }
}
