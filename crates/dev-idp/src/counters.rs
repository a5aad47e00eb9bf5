//! Request counters that tests and benchmarks read through [`crate::Admin::counters`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use portico_types::sync::lock;

/// Snapshot of the provider's counters. Requests are counted as received, before injected
/// faults, so a retried request counts twice.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// `GET /.well-known/openid-configuration`.
    pub discovery: u64,
    /// `GET /.well-known/jwks.json`.
    pub jwks: u64,
    /// `GET /authorize`.
    pub authorize: u64,
    /// `POST /oauth/par` (pushed authorization requests, RFC 9126).
    #[serde(default)]
    pub par: u64,
    /// `POST /u/login`.
    pub login: u64,
    /// Token requests with `grant_type=authorization_code`.
    pub token_authorization_code: u64,
    /// Token requests with `grant_type=refresh_token`.
    pub token_refresh: u64,
    /// OAuth error responses of the token endpoint (including an injected `InvalidGrant`).
    pub token_errors: u64,
    /// `POST /oauth/revoke`.
    pub revoke: u64,
    /// `/v2/logout` and `/oidc/logout`.
    pub logout: u64,
    /// `/userinfo`.
    pub userinfo: u64,
    /// Refresh tokens presented again after rotation (outside the overlap period).
    pub reuse_detections: u64,
    /// Token families revoked (reuse, revocation, code replay, admin).
    pub families_revoked: u64,
    /// Families (refresh-token lineages) currently usable.
    pub active_families: u64,
    /// Refresh requests per audience/resource asked for (`""` when neither was given).
    pub refresh_by_audience: BTreeMap<String, u64>,
    /// Requests answered by an injected fault (latency-only faults not included).
    pub faults_injected: u64,
    /// DPoP proofs accepted at the token endpoint (RFC 9449).
    #[serde(default)]
    pub dpop_proofs: u64,
    /// Token requests refused for a DPoP reason: `invalid_dpop_proof`, or a bound refresh token
    /// presented with another key's proof.
    #[serde(default)]
    pub dpop_refusals: u64,
    /// `use_dpop_nonce` answers of the token endpoint (RFC 9449 §8).
    #[serde(default)]
    pub dpop_nonce_challenges: u64,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Counter {
    Discovery,
    Jwks,
    Authorize,
    Par,
    Login,
    TokenAuthorizationCode,
    TokenRefresh,
    TokenErrors,
    Revoke,
    Logout,
    Userinfo,
    ReuseDetections,
    FamiliesRevoked,
    FaultsInjected,
    DpopProofs,
    DpopRefusals,
    // Keep last: `N` is counted from it.
    DpopNonceChallenges,
}

// One slot per `Counter` variant.
const N: usize = Counter::DpopNonceChallenges as usize + 1;

#[derive(Debug, Default)]
pub(crate) struct CounterSet {
    values: [AtomicU64; N],
    by_audience: Mutex<BTreeMap<String, u64>>,
}

impl CounterSet {
    pub fn bump(&self, c: Counter) {
        self.add(c, 1);
    }

    pub fn add(&self, c: Counter, n: u64) {
        self.values[c as usize].fetch_add(n, Ordering::Relaxed);
    }

    pub fn refresh_for(&self, audience: &str) {
        *lock(&self.by_audience)
            .entry(audience.to_owned())
            .or_insert(0) += 1;
    }

    pub fn snapshot(&self, active_families: u64) -> Counters {
        let v = |c: Counter| self.values[c as usize].load(Ordering::Relaxed);
        Counters {
            discovery: v(Counter::Discovery),
            jwks: v(Counter::Jwks),
            authorize: v(Counter::Authorize),
            par: v(Counter::Par),
            login: v(Counter::Login),
            token_authorization_code: v(Counter::TokenAuthorizationCode),
            token_refresh: v(Counter::TokenRefresh),
            token_errors: v(Counter::TokenErrors),
            revoke: v(Counter::Revoke),
            logout: v(Counter::Logout),
            userinfo: v(Counter::Userinfo),
            reuse_detections: v(Counter::ReuseDetections),
            families_revoked: v(Counter::FamiliesRevoked),
            active_families,
            refresh_by_audience: lock(&self.by_audience).clone(),
            faults_injected: v(Counter::FaultsInjected),
            dpop_proofs: v(Counter::DpopProofs),
            dpop_refusals: v(Counter::DpopRefusals),
            dpop_nonce_challenges: v(Counter::DpopNonceChallenges),
        }
    }

    pub fn reset(&self) {
        for v in &self.values {
            v.store(0, Ordering::Relaxed);
        }
        lock(&self.by_audience).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bump_snapshot_reset() {
        let c = CounterSet::default();
        c.bump(Counter::Jwks);
        c.bump(Counter::Jwks);
        c.bump(Counter::FaultsInjected);
        c.bump(Counter::DpopNonceChallenges);
        c.add(Counter::DpopProofs, 3);
        c.refresh_for("https://a");
        c.refresh_for("");
        c.refresh_for("https://a");
        let s = c.snapshot(4);
        assert_eq!(s.jwks, 2);
        assert_eq!(s.faults_injected, 1);
        assert_eq!(s.dpop_nonce_challenges, 1, "the last slot exists");
        assert_eq!(s.dpop_proofs, 3);
        assert_eq!(s.dpop_refusals, 0);
        assert_eq!(s.discovery, 0);
        assert_eq!(s.active_families, 4);
        assert_eq!(s.refresh_by_audience["https://a"], 2);
        assert_eq!(s.refresh_by_audience[""], 1);
        c.reset();
        assert_eq!(c.snapshot(0), Counters::default());
    }

    #[test]
    fn snapshots_from_before_dpop_still_parse() {
        let old = serde_json::json!({"discovery": 1, "jwks": 0, "authorize": 0, "login": 0,
            "token_authorization_code": 0, "token_refresh": 0, "token_errors": 0, "revoke": 0,
            "logout": 0, "userinfo": 0, "reuse_detections": 0, "families_revoked": 0,
            "active_families": 0, "refresh_by_audience": {}, "faults_injected": 0});
        let c: Counters = serde_json::from_value(old).expect("parses");
        assert_eq!((c.discovery, c.dpop_proofs, c.dpop_refusals), (1, 0, 0));
    }
}
