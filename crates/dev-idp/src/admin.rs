//! The runtime control handle ([`Admin`]) and its optional HTTP face under `/__admin`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::keys::SigningKey;
use crate::server::ConnCtl;
use crate::state::Shared;
use crate::{Counters, Fault, IdTokenTamper, RefreshRotation};
use portico_types::sync::lock;

/// Runtime switches and counters of a [`crate::DevIdp`]. Cheap to clone, `Send + Sync`.
#[derive(Clone)]
pub struct Admin {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admin")
            .field("issuer", &self.shared.issuer.as_str())
            .finish()
    }
}

impl Admin {
    /// Snapshot of the counters.
    pub fn counters(&self) -> Counters {
        self.shared.counters.snapshot(self.active_families() as u64)
    }
    /// Zero all counters (`active_families` is live state and unaffected).
    pub fn reset_counters(&self) {
        self.shared.counters.reset();
    }
    /// Replace the armed faults; an empty list clears them.
    pub fn set_faults(&self, faults: Vec<Fault>) {
        lock(&self.shared.faults).replace(faults);
    }
    /// Disarm all faults.
    pub fn clear_faults(&self) {
        self.set_faults(Vec::new());
    }
    /// Corrupt every ID token issued from now on in the given way (`None`: stop).
    pub fn set_id_token_tamper(&self, t: Option<IdTokenTamper>) {
        self.shared.set_tamper(t);
    }
    /// Fault: issue every access token from now on for `audience` instead of the one asked for
    /// (a provider answering with the wrong token); `None` stops.
    pub fn set_access_token_audience(&self, audience: Option<&str>) {
        self.shared.set_wrong_audience(audience.map(str::to_owned));
    }
    /// Switch refresh-token rotation for subsequent refreshes.
    pub fn set_rotation(&self, r: RefreshRotation) {
        self.shared.set_rotation(r);
    }
    /// Lifetime of access tokens issued from now on.
    pub fn set_access_token_ttl(&self, ttl: Duration) {
        self.shared.set_access_token_ttl(ttl);
    }
    /// Lifetime of the access tokens issued from now on for one API (`audience`, its
    /// identifier), as Auth0's per-API "Token Expiration"; `None`: the provider's again. Returns
    /// `false` for an unknown API.
    pub fn set_api_access_token_ttl(&self, audience: &str, ttl: Option<Duration>) -> bool {
        if self.shared.config.api(audience).is_none() {
            return false;
        }
        self.shared.set_api_access_token_ttl(audience, ttl);
        true
    }
    /// Generate a new signing key and sign with it from now on; returns its `kid`. Old keys stay
    /// in the JWKS until [`Admin::retire_old_keys`]. Blocks for the key generation (~0.1–1 s).
    pub fn rotate_signing_key(&self) -> String {
        // 2048-bit generation with the OS-seeded thread RNG has no failure mode short of a bug in
        // the rsa crate; there is no useful way to continue without a key.
        let key = SigningKey::generate().expect("RSA key generation failed");
        let kid = self.shared.keys.add(key);
        tracing::info!(%kid, "signing key rotated");
        kid
    }
    /// Remove all but the current key from the JWKS.
    pub fn retire_old_keys(&self) {
        self.shared.keys.retire_old();
    }
    /// Revoke every refresh-token family of `sub`: later refreshes get `invalid_grant`.
    pub fn revoke_grants_for(&self, sub: &str) {
        let n = lock(&self.shared.grants).revoke_subject(sub);
        self.shared
            .counters
            .add(crate::counters::Counter::FamiliesRevoked, n as u64);
    }
    /// Number of usable refresh-token families.
    pub fn active_families(&self) -> usize {
        lock(&self.shared.grants).active_families()
    }
    /// Demand (or stop demanding) the current DPoP nonce in token-request proofs (RFC 9449 §8).
    pub fn set_dpop_nonce(&self, on: bool) {
        self.shared.dpop.set_nonce_required(on);
    }
    /// Replace the DPoP nonce; proofs with the old one get a `use_dpop_nonce` challenge for the
    /// new one. Returns the new nonce.
    pub fn rotate_dpop_nonce(&self) -> String {
        self.shared.dpop.rotate_nonce()
    }
    /// The nonce token-request proofs must carry, `None` while nonces are off.
    pub fn dpop_nonce(&self) -> Option<String> {
        self.shared.dpop.required_nonce()
    }
    /// The `kid` that signs new tokens.
    pub fn current_kid(&self) -> String {
        self.shared.keys.current().kid.clone()
    }
    /// Sign arbitrary claims with the current key (RS256, current `kid`, `typ: at+jwt`).
    /// For testing resource servers with tokens the token endpoint would never issue
    /// (wrong `iss`, expired, foreign audience).
    pub fn sign_claims(&self, claims: &serde_json::Value) -> Result<String, crate::IdpError> {
        let key = self.shared.keys.current();
        key.sign(Some(&key.kid), "at+jwt", claims)
            .map_err(|e| crate::IdpError::Key(e.to_string()))
    }
}

/// Only loopback peers may use the admin API, whatever the bind address.
async fn loopback_only(req: Request, next: Next) -> Response {
    let local = req
        .extensions()
        .get::<ConnCtl>()
        .is_some_and(|c| c.peer.ip().is_loopback());
    if local {
        next.run(req).await
    } else {
        StatusCode::FORBIDDEN.into_response()
    }
}

#[derive(Deserialize)]
struct Ttl {
    secs: f64,
}

#[derive(Deserialize)]
struct ApiTtl {
    audience: String,
    /// `null`: the provider's lifetime again.
    secs: Option<f64>,
}

#[derive(Deserialize)]
struct Sub {
    sub: String,
}

#[derive(Deserialize)]
struct On {
    on: bool,
}

/// `/__admin/...`: the [`Admin`] methods over JSON, for the binary and out-of-process tests.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let admin = Admin { shared };
    Router::new()
        .route(
            "/__admin/counters",
            get(|State(a): State<Admin>| async move { Json(a.counters()) }),
        )
        .route(
            "/__admin/counters/reset",
            post(|State(a): State<Admin>| async move {
                a.reset_counters();
                StatusCode::NO_CONTENT
            }),
        )
        .route(
            "/__admin/faults",
            put(
                |State(a): State<Admin>, Json(f): Json<Vec<Fault>>| async move {
                    a.set_faults(f);
                    StatusCode::NO_CONTENT
                },
            )
            .delete(|State(a): State<Admin>| async move {
                a.clear_faults();
                StatusCode::NO_CONTENT
            }),
        )
        .route(
            "/__admin/id-token-tamper",
            put(
                |State(a): State<Admin>, Json(t): Json<Option<IdTokenTamper>>| async move {
                    a.set_id_token_tamper(t);
                    StatusCode::NO_CONTENT
                },
            ),
        )
        .route(
            "/__admin/rotation",
            put(
                |State(a): State<Admin>, Json(r): Json<RefreshRotation>| async move {
                    a.set_rotation(r);
                    StatusCode::NO_CONTENT
                },
            ),
        )
        .route(
            "/__admin/access-token-ttl",
            put(|State(a): State<Admin>, Json(t): Json<Ttl>| async move {
                match Duration::try_from_secs_f64(t.secs) {
                    Ok(d) => {
                        a.set_access_token_ttl(d);
                        StatusCode::NO_CONTENT
                    }
                    Err(_) => StatusCode::BAD_REQUEST,
                }
            }),
        )
        .route(
            "/__admin/api-access-token-ttl",
            put(|State(a): State<Admin>, Json(t): Json<ApiTtl>| async move {
                let ttl = match t.secs.map(Duration::try_from_secs_f64) {
                    Some(Err(_)) => return StatusCode::BAD_REQUEST,
                    Some(Ok(d)) => Some(d),
                    None => None,
                };
                if a.set_api_access_token_ttl(&t.audience, ttl) {
                    StatusCode::NO_CONTENT
                } else {
                    StatusCode::NOT_FOUND
                }
            }),
        )
        .route(
            "/__admin/keys/rotate",
            post(|State(a): State<Admin>| async move {
                match tokio::task::spawn_blocking(move || a.rotate_signing_key()).await {
                    Ok(kid) => Json(json!({ "kid": kid })).into_response(),
                    Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
                }
            }),
        )
        .route(
            "/__admin/keys/retire",
            post(|State(a): State<Admin>| async move {
                a.retire_old_keys();
                StatusCode::NO_CONTENT
            }),
        )
        .route(
            "/__admin/revoke-grants",
            post(|State(a): State<Admin>, Json(s): Json<Sub>| async move {
                a.revoke_grants_for(&s.sub);
                StatusCode::NO_CONTENT
            }),
        )
        .route(
            "/__admin/dpop-nonce",
            put(|State(a): State<Admin>, Json(o): Json<On>| async move {
                a.set_dpop_nonce(o.on);
                StatusCode::NO_CONTENT
            }),
        )
        .route(
            "/__admin/dpop-nonce/rotate",
            post(|State(a): State<Admin>| async move {
                Json(json!({ "nonce": a.rotate_dpop_nonce() }))
            }),
        )
        .route(
            "/__admin/active-families",
            get(|State(a): State<Admin>| async move {
                Json(json!({ "active_families": a.active_families() }))
            }),
        )
        .layer(axum::middleware::from_fn(loopback_only))
        .with_state(admin)
}
