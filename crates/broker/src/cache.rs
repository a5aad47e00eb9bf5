//! In-memory access-token cache per audience, with scope-superset reuse and proactive-refresh bookkeeping.

use crate::clock::unix_ms;
use crate::config::{Audience, ScopeSet};
use crate::error::AuthError;
use crate::ipc::{AudienceStatus, TokenGrant};
use crate::request::ScopeCeiling;
use crate::step_up::{AuthRequirement, Authn};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Entries kept per audience (different scope sets).
const MAX_ENTRIES_PER_AUDIENCE: usize = 4;

#[derive(Debug, Clone)]
pub(crate) struct CacheEntry {
    pub grant: TokenGrant,
    /// Scopes the token actually carries.
    pub granted: ScopeSet,
    /// Scopes the caller asked for (what a proactive refresh asks for again).
    pub requested: ScopeSet,
    pub obtained_at: SystemTime,
    pub expires_at: SystemTime,
    pub last_used: SystemTime,
    /// The sign-in the token was obtained under (stamped by [`TokenCache::insert`]).
    pub authn: Authn,
}

impl CacheEntry {
    fn remaining(&self, now: SystemTime) -> Duration {
        self.expires_at
            .duration_since(now)
            .unwrap_or(Duration::ZERO)
    }

    /// When a proactive refresh is due: `skew` before expiry, but not before half the lifetime
    /// (so a token shorter than the skew is not refreshed in a loop).
    fn due_at(&self, skew: Duration) -> SystemTime {
        let by_skew = self.expires_at.checked_sub(skew).unwrap_or(UNIX_EPOCH);
        let life = self
            .expires_at
            .duration_since(self.obtained_at)
            .unwrap_or(Duration::ZERO);
        by_skew.max(self.obtained_at + life / 2)
    }
}

#[derive(Debug, Default)]
struct AudienceState {
    entries: Vec<CacheEntry>,
    last_refresh: Option<SystemTime>,
    last_error: Option<AuthError>,
}

/// A proactive refresh that failed with a retryable error, waiting for its next attempt.
#[derive(Debug, Clone, Copy)]
struct Deferred {
    not_before: SystemTime,
    failures: u32,
}

/// A request the provider refused, answered from memory until `until`.
#[derive(Debug, Clone)]
struct Refused {
    error: AuthError,
    until: SystemTime,
}

#[derive(Debug, Default)]
pub(crate) struct TokenCache {
    map: HashMap<Audience, AudienceState>,
    /// Proactive refreshes backing off after retryable failures, per (audience, requested scopes).
    deferred: BTreeMap<(Audience, ScopeSet), Deferred>,
    /// Refusals that asking again cannot change for a while (a scope the user lacks, an audience
    /// not granted), per (audience, requested scopes): one caller asking again and again must
    /// not cost a grant, a rotation and a keyring write each time.
    refused: BTreeMap<(Audience, ScopeSet), Refused>,
    /// What the session's current sign-in proved; every token inserted is obtained under it.
    authn: Authn,
}

/// Whether asking the provider again cannot change its answer soon.
pub(crate) fn is_lasting_refusal(error: &AuthError) -> bool {
    matches!(
        error,
        AuthError::ScopeNotGranted { .. } | AuthError::AudienceNotGranted { .. }
    )
}

impl TokenCache {
    /// A cached token for `audience` whose scopes cover `scopes` and that has more than `min_remaining` left.
    #[cfg(test)]
    pub(crate) fn lookup(
        &mut self,
        audience: &Audience,
        scopes: &ScopeSet,
        now: SystemTime,
        min_remaining: Duration,
    ) -> Option<TokenGrant> {
        self.lookup_within(audience, scopes, None, now, min_remaining)
    }

    /// As [`TokenCache::lookup`], and only a token `ceiling` admits (when there is one).
    pub(crate) fn lookup_within(
        &mut self,
        audience: &Audience,
        scopes: &ScopeSet,
        ceiling: Option<&ScopeCeiling>,
        now: SystemTime,
        min_remaining: Duration,
    ) -> Option<TokenGrant> {
        // Any sign-in meets the empty requirement.
        let any = AuthRequirement::default();
        self.lookup_meeting(audience, scopes, ceiling, &any, now, min_remaining)
    }

    /// The guarded scopes beyond `ceiling` of a live token the provider issued for this very
    /// request: it did not narrow the token to what was asked, and asking again would not change
    /// that before the token expires. `None` if no such token is cached.
    pub(crate) fn too_broad(
        &self,
        audience: &Audience,
        scopes: &ScopeSet,
        ceiling: &ScopeCeiling,
        now: SystemTime,
        min_remaining: Duration,
    ) -> Option<Vec<String>> {
        self.map
            .get(audience)?
            .entries
            .iter()
            .filter(|e| &e.requested == scopes && e.remaining(now) > min_remaining)
            .find(|e| !ceiling.admits(&e.granted, &e.requested))
            .map(|e| ceiling.excess(&e.granted))
    }

    /// The remembered refusal of this request, while it lasts.
    pub(crate) fn refused(
        &self,
        audience: &Audience,
        scopes: &ScopeSet,
        now: SystemTime,
    ) -> Option<AuthError> {
        self.refused
            .get(&(audience.clone(), scopes.clone()))
            .filter(|r| now < r.until)
            .map(|r| r.error.clone())
    }

    /// Remembers a lasting refusal (see [`is_lasting_refusal`]) of this request for `ttl`.
    pub(crate) fn remember_refusal(
        &mut self,
        audience: &Audience,
        scopes: &ScopeSet,
        error: &AuthError,
        now: SystemTime,
        ttl: Duration,
    ) {
        if !is_lasting_refusal(error) || ttl.is_zero() {
            return;
        }
        self.refused.retain(|_, r| now < r.until);
        self.refused.insert(
            (audience.clone(), scopes.clone()),
            Refused {
                error: error.clone(),
                until: now + ttl,
            },
        );
    }

    /// The sign-in every token from now on is obtained under (a sign-in, a step-up).
    pub(crate) fn set_authn(&mut self, authn: Authn) {
        self.authn = authn;
    }

    pub(crate) fn authn(&self) -> &Authn {
        &self.authn
    }

    /// As [`TokenCache::lookup_within`], and only a token obtained under a sign-in that meets
    /// `requirement` at `now`.
    pub(crate) fn lookup_meeting(
        &mut self,
        audience: &Audience,
        scopes: &ScopeSet,
        ceiling: Option<&ScopeCeiling>,
        requirement: &AuthRequirement,
        now: SystemTime,
        min_remaining: Duration,
    ) -> Option<TokenGrant> {
        let st = self.map.get_mut(audience)?;
        let e = st
            .entries
            .iter_mut()
            .filter(|e| e.granted.is_superset_of(scopes) && e.remaining(now) > min_remaining)
            .filter(|e| ceiling.is_none_or(|c| c.admits(&e.granted, &e.requested)))
            .filter(|e| requirement.met_by(&e.authn, now))
            // The longest-lived match, so a refreshed token wins over an older one.
            .max_by_key(|e| e.expires_at)?;
        e.last_used = now;
        Some(e.grant.clone())
    }

    pub(crate) fn insert(&mut self, audience: &Audience, mut entry: CacheEntry) {
        entry.authn = self.authn.clone();
        // A new token ends any back-off for what it covers.
        self.deferred
            .retain(|(a, requested), _| a != audience || !entry.granted.is_superset_of(requested));
        let st = self.map.entry(audience.clone()).or_default();
        st.last_refresh = Some(entry.obtained_at);
        st.last_error = None;
        // A new token replaces the entries with the same scopes; a wider one no longer replaces a
        // narrower one, which a caller registered for less may need (it must not get the wider).
        st.entries.retain(|e| e.granted != entry.granted);
        st.entries.push(entry);
        if st.entries.len() > MAX_ENTRIES_PER_AUDIENCE {
            st.entries.sort_by_key(|e| std::cmp::Reverse(e.last_used));
            st.entries.truncate(MAX_ENTRIES_PER_AUDIENCE);
        }
    }

    /// Drops the entry holding `access_token` (an API said it is no good any more).
    pub(crate) fn forget(&mut self, audience: &Audience, access_token: &str) {
        if let Some(st) = self.map.get_mut(audience) {
            st.entries
                .retain(|e| e.grant.access_token.expose_secret() != access_token);
        }
    }

    pub(crate) fn record_error(&mut self, audience: &Audience, error: &AuthError) {
        self.map.entry(audience.clone()).or_default().last_error = Some(error.clone());
    }

    /// Stop treating entries as in use (after a failed proactive refresh), until they are handed out again.
    pub(crate) fn mark_idle(&mut self, audience: &Audience, requested: &ScopeSet) {
        if let Some(st) = self.map.get_mut(audience) {
            for e in st.entries.iter_mut().filter(|e| &e.requested == requested) {
                e.last_used = UNIX_EPOCH;
            }
        }
    }

    /// A proactive refresh failed with a retryable error: try again after a back-off that doubles
    /// per failure from `first` up to `max` (or after `retry_after`, when the provider said so),
    /// so a provider outage costs one request per token per back-off step, not one per check.
    /// Returns when the next attempt is due.
    pub(crate) fn defer(
        &mut self,
        audience: &Audience,
        requested: &ScopeSet,
        now: SystemTime,
        (first, max): (Duration, Duration),
        retry_after: Option<Duration>,
    ) -> SystemTime {
        let d = self
            .deferred
            .entry((audience.clone(), requested.clone()))
            .or_insert(Deferred {
                not_before: now,
                failures: 0,
            });
        let backoff = first
            .checked_mul(1u32 << d.failures.min(16))
            .unwrap_or(max)
            .min(max);
        d.failures = d.failures.saturating_add(1);
        d.not_before = now + retry_after.map_or(backoff, |r| r.max(backoff));
        d.not_before
    }

    pub(crate) fn clear(&mut self) {
        self.map.clear();
        self.deferred.clear();
        self.refused.clear();
        self.authn = Authn::default();
    }

    /// Entries in use (handed out within `in_use_window`) whose proactive refresh is due.
    pub(crate) fn due(
        &self,
        now: SystemTime,
        skew: Duration,
        in_use_window: Duration,
    ) -> Vec<(Audience, ScopeSet)> {
        let mut out = Vec::new();
        for (aud, st) in &self.map {
            for e in &st.entries {
                let idle = now.duration_since(e.last_used).unwrap_or(Duration::ZERO);
                // Superseded by a later token no wider than this one that still covers its
                // request: a wider one would not serve a caller registered for less.
                let superseded = st.entries.iter().any(|o| {
                    o.expires_at > e.expires_at
                        && o.granted.is_superset_of(&e.requested)
                        && e.granted.is_superset_of(&o.granted)
                        && now < o.due_at(skew)
                });
                let backing_off = self
                    .deferred
                    .get(&(aud.clone(), e.requested.clone()))
                    .is_some_and(|d| now < d.not_before);
                if idle <= in_use_window && now >= e.due_at(skew) && !superseded && !backing_off {
                    out.push((aud.clone(), e.requested.clone()));
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }

    pub(crate) fn status(&self, audiences: &[Audience]) -> Vec<AudienceStatus> {
        audiences
            .iter()
            .map(|a| {
                let st = self.map.get(a);
                let best = st.and_then(|s| s.entries.iter().max_by_key(|e| e.expires_at));
                AudienceStatus {
                    audience: a.as_str().to_owned(),
                    scope: best.map(|e| e.granted.to_string()),
                    expires_at: best.map(|e| unix_ms(e.expires_at)),
                    last_refresh: st.and_then(|s| s.last_refresh).map(unix_ms),
                    last_error: st.and_then(|s| s.last_error.clone()),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::AccessToken;

    fn aud() -> Audience {
        Audience::parse("https://api/a").unwrap()
    }

    fn entry(tok: &str, granted: &str, now: SystemTime, ttl: u64) -> CacheEntry {
        CacheEntry {
            grant: TokenGrant {
                access_token: AccessToken::new(tok),
                expires_at: unix_ms(now + Duration::from_secs(ttl)),
                scope: granted.into(),
                token_type: "Bearer".into(),
                audience: aud().to_string(),
            },
            granted: ScopeSet::parse(granted).unwrap(),
            requested: ScopeSet::parse(granted).unwrap(),
            obtained_at: now,
            expires_at: now + Duration::from_secs(ttl),
            last_used: now,
            authn: Authn::default(),
        }
    }

    fn s(x: &str) -> ScopeSet {
        ScopeSet::parse(x).unwrap()
    }

    #[test]
    fn failed_proactive_refreshes_back_off_doubling_to_a_cap_and_a_new_token_ends_it() {
        let t0 = SystemTime::now();
        let mut c = TokenCache::default();
        c.insert(&aud(), entry("t1", "read", t0, 600));
        let skew = Duration::from_secs(120);
        let window = Duration::from_secs(900);
        let due_time = t0 + Duration::from_secs(480);
        assert_eq!(c.due(due_time, skew, window).len(), 1);
        let steps = (Duration::from_secs(5), Duration::from_secs(60));
        let mut now = due_time;
        let mut waits = Vec::new();
        for _ in 0..6 {
            let next = c.defer(&aud(), &s("read"), now, steps, None);
            waits.push(next.duration_since(now).unwrap().as_secs());
            assert!(c
                .due(next - Duration::from_millis(1), skew, window)
                .is_empty());
            assert_eq!(c.due(next, skew, window).len(), 1);
            now = next;
        }
        assert_eq!(waits, [5, 10, 20, 40, 60, 60]);
        // Retry-After longer than the step wins.
        let next = c.defer(
            &aud(),
            &s("read"),
            now,
            steps,
            Some(Duration::from_secs(300)),
        );
        assert_eq!(next.duration_since(now).unwrap().as_secs(), 300);
        // A fresh token clears the back-off: its own refresh is due on the normal schedule.
        c.insert(&aud(), entry("t2", "read", now, 600));
        assert!(c.deferred.is_empty());
    }

    #[test]
    fn superset_reuse_and_min_ttl() {
        let now = SystemTime::now();
        let mut c = TokenCache::default();
        c.insert(&aud(), entry("t1", "read write", now, 600));
        let min = Duration::from_secs(60);
        assert_eq!(
            c.lookup(&aud(), &s("read"), now, min)
                .unwrap()
                .access_token
                .expose_secret(),
            "t1"
        );
        assert!(c.lookup(&aud(), &s(""), now, min).is_some());
        assert!(c.lookup(&aud(), &s("admin"), now, min).is_none());
        assert!(c
            .lookup(&aud(), &s("read"), now + Duration::from_secs(539), min)
            .is_some());
        assert!(
            c.lookup(&aud(), &s("read"), now + Duration::from_secs(540), min)
                .is_none(),
            "60 s left is not enough"
        );
        assert!(c
            .lookup(&Audience::parse("https://api/b").unwrap(), &s(""), now, min)
            .is_none());
    }

    #[test]
    fn a_new_token_replaces_the_same_scopes_and_keeps_narrower_ones() {
        let now = SystemTime::now();
        let mut c = TokenCache::default();
        c.insert(&aud(), entry("small", "read", now, 600));
        c.insert(&aud(), entry("other", "write", now, 600));
        c.insert(&aud(), entry("big", "read write", now, 600));
        assert_eq!(
            c.map[&aud()].entries.len(),
            3,
            "a reader still needs its own token"
        );
        c.insert(&aud(), entry("small-2", "read", now, 900));
        assert_eq!(c.map[&aud()].entries.len(), 3, "the same scopes: replaced");
        assert_eq!(
            c.lookup(&aud(), &s("write"), now, Duration::ZERO)
                .unwrap()
                .access_token
                .expose_secret(),
            "big"
        );
        // Within a reader's ceiling only the read-only token is served.
        let reader = ScopeCeiling::new(s("read"), s("read write"));
        let got = c.lookup_within(&aud(), &s("read"), Some(&reader), now, Duration::ZERO);
        assert_eq!(got.unwrap().access_token.expose_secret(), "small-2");
    }

    #[test]
    fn a_token_answered_too_broadly_for_this_very_request_is_recognised() {
        let now = SystemTime::now();
        let mut c = TokenCache::default();
        let reader = ScopeCeiling::new(s("read"), s("read write"));
        // The provider answered a request for "read" with "read write" (it does not narrow).
        let mut wide = entry("wide", "read write", now, 600);
        wide.requested = s("read");
        c.insert(&aud(), wide);
        assert_eq!(
            c.too_broad(&aud(), &s("read"), &reader, now, Duration::ZERO),
            Some(vec!["write".to_owned()])
        );
        assert_eq!(
            c.lookup_within(&aud(), &s("read"), Some(&reader), now, Duration::ZERO),
            None
        );
        // A wide token some other request produced proves nothing about this one.
        let mut c = TokenCache::default();
        c.insert(&aud(), entry("wide", "read write", now, 600));
        assert_eq!(
            c.too_broad(&aud(), &s("read"), &reader, now, Duration::ZERO),
            None
        );
    }

    #[test]
    fn lasting_refusals_are_remembered_for_a_while_and_cleared_with_the_session() {
        let now = SystemTime::now();
        let mut c = TokenCache::default();
        let refusal = AuthError::ScopeNotGranted {
            audience: "https://api/a".into(),
            missing: vec!["write".into()],
        };
        let ttl = Duration::from_secs(30);
        c.remember_refusal(&aud(), &s("write"), &refusal, now, ttl);
        assert_eq!(c.refused(&aud(), &s("write"), now), Some(refusal.clone()));
        assert_eq!(c.refused(&aud(), &s("read"), now), None, "per scopes");
        assert_eq!(c.refused(&aud(), &s("write"), now + ttl), None, "briefly");
        // Errors that may pass on their own are not remembered.
        let down = AuthError::Timeout {
            endpoint: "token".into(),
        };
        c.remember_refusal(&aud(), &s("read"), &down, now, ttl);
        assert_eq!(c.refused(&aud(), &s("read"), now), None);
        c.clear();
        assert_eq!(c.refused(&aud(), &s("write"), now), None);
    }

    #[test]
    fn proactive_due_only_when_in_use() {
        let now = SystemTime::now();
        let skew = Duration::from_secs(120);
        let window = Duration::from_secs(900);
        let mut c = TokenCache::default();
        c.insert(&aud(), entry("t", "read", now, 600));
        assert!(c
            .due(now + Duration::from_secs(479), skew, window)
            .is_empty());
        assert_eq!(
            c.due(now + Duration::from_secs(480), skew, window),
            vec![(aud(), s("read"))]
        );
        c.mark_idle(&aud(), &s("read"));
        assert!(
            c.due(now + Duration::from_secs(480), skew, window)
                .is_empty(),
            "idle tokens are left to expire"
        );
        // Handing it out makes it in use again.
        c.lookup(
            &aud(),
            &s("read"),
            now + Duration::from_secs(400),
            Duration::ZERO,
        )
        .unwrap();
        assert_eq!(c.due(now + Duration::from_secs(480), skew, window).len(), 1);
    }

    #[test]
    fn short_tokens_are_due_at_half_life() {
        let now = SystemTime::now();
        let mut c = TokenCache::default();
        c.insert(&aud(), entry("t", "read", now, 100));
        let skew = Duration::from_secs(120);
        assert!(c
            .due(
                now + Duration::from_secs(49),
                skew,
                Duration::from_secs(900)
            )
            .is_empty());
        assert_eq!(
            c.due(
                now + Duration::from_secs(50),
                skew,
                Duration::from_secs(900)
            )
            .len(),
            1
        );
    }

    #[test]
    fn status_reports_without_tokens() {
        let now = SystemTime::now();
        let mut c = TokenCache::default();
        c.insert(&aud(), entry("secret-token", "read", now, 600));
        let b = Audience::parse("https://api/b").unwrap();
        c.record_error(
            &b,
            &AuthError::Timeout {
                endpoint: "token".into(),
            },
        );
        let st = c.status(&[aud(), b]);
        assert_eq!(st[0].scope.as_deref(), Some("read"));
        assert_eq!(
            st[0].expires_at,
            Some(unix_ms(now + Duration::from_secs(600)))
        );
        assert!(st[1].last_error.is_some());
        assert!(!serde_json::to_string(&st).unwrap().contains("secret-token"));
    }
}
