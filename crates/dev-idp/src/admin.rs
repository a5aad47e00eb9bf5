//! The runtime control handle ([`Admin`]) and its optional HTTP face under `/__admin`.

use std::time::Duration;

use crate::{Counters, Fault, IdTokenTamper, RefreshRotation};

/// Runtime switches and counters of a [`crate::DevIdp`]. Cheap to clone, `Send + Sync`.
#[derive(Clone)]
pub struct Admin {}

impl Admin {
    /// Snapshot of the counters.
    pub fn counters(&self) -> Counters {
        todo!("skeleton")
    }
    /// Zero all counters (`active_families` is live state and unaffected).
    pub fn reset_counters(&self) {
        todo!("skeleton")
    }
    /// Replace the armed faults; an empty list clears them.
    pub fn set_faults(&self, faults: Vec<Fault>) {
        let _ = faults;
        todo!("skeleton")
    }
    /// Disarm all faults.
    pub fn clear_faults(&self) {
        todo!("skeleton")
    }
    /// Corrupt every ID token issued from now on in the given way (`None`: stop).
    pub fn set_id_token_tamper(&self, t: Option<IdTokenTamper>) {
        let _ = t;
        todo!("skeleton")
    }
    /// Switch refresh-token rotation for subsequent refreshes.
    pub fn set_rotation(&self, r: RefreshRotation) {
        let _ = r;
        todo!("skeleton")
    }
    /// Lifetime of access tokens issued from now on.
    pub fn set_access_token_ttl(&self, ttl: Duration) {
        let _ = ttl;
        todo!("skeleton")
    }
    /// Generate a new signing key and sign with it from now on; returns its `kid`. Old keys stay
    /// in the JWKS until [`Admin::retire_old_keys`]. Blocks for the key generation.
    pub fn rotate_signing_key(&self) -> String {
        todo!("skeleton")
    }
    /// Remove all but the current key from the JWKS.
    pub fn retire_old_keys(&self) {
        todo!("skeleton")
    }
    /// Revoke every refresh-token family of `sub`: later refreshes get `invalid_grant`.
    pub fn revoke_grants_for(&self, sub: &str) {
        let _ = sub;
        todo!("skeleton")
    }
    /// Number of usable refresh-token families.
    pub fn active_families(&self) -> usize {
        todo!("skeleton")
    }
}
