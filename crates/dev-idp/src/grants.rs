//! Authorization codes and refresh-token families: one-time codes, rotation with an overlap
//! period, reuse detection that revokes the whole family, revocation.
//!
//! Pure state; callers pass `now` so the rules are testable without sleeping.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::config::RefreshRotation;
use crate::secret::random_token;
use portico_types::Secret;

/// The `acr` of a sign-in with the account picker alone.
pub const ACR_PASSWORD: &str = "pwd";
/// The `acr` of a sign-in with the second factor (what `acr_values=mfa` asks for).
pub const ACR_MFA: &str = "mfa";
/// The PAPE multi-factor policy URI, which Auth0 takes in `acr_values` for the same.
pub const ACR_MFA_PAPE: &str = "http://schemas.openid.net/pape/policies/2007/06/multi-factor";

/// The `acr` a sign-in reaches for `acr_values`: the first multi-factor value asked for once the
/// second factor is done, else `pwd`.
pub(crate) fn acr_for(acr_values: &[String], second_factor: bool) -> String {
    acr_values
        .iter()
        .find(|v| second_factor && (*v == ACR_MFA || *v == ACR_MFA_PAPE))
        .cloned()
        .unwrap_or_else(|| if second_factor { ACR_MFA } else { ACR_PASSWORD }.to_owned())
}

/// Whether `acr_values` asks for a second factor.
pub(crate) fn wants_second_factor(acr_values: &[String]) -> bool {
    acr_values.iter().any(|v| v == ACR_MFA || v == ACR_MFA_PAPE)
}

/// What the client asked for at `/authorize` (kept until the code is redeemed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AuthRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub scopes: Vec<String>,
    /// Auth0 `audience=`.
    pub audience: Option<String>,
    /// RFC 8707 `resource=` (repeatable).
    pub resources: Vec<String>,
    /// OIDC Core §3.1.2.1 `acr_values`, in order of preference.
    pub acr_values: Vec<String>,
    pub code_challenge: String,
}

/// A granted authorization: who signed in, when, and for what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Authorization {
    pub request: AuthRequest,
    pub sub: String,
    /// Seconds since the epoch of the sign-in.
    pub auth_time: u64,
    /// How the person authenticated (`pwd`, or `mfa` after the second factor): the `acr` of
    /// every token of this grant, refreshed ones included.
    pub acr: String,
}

#[derive(Debug)]
struct CodeEntry {
    authz: Authorization,
    expires_at: Instant,
    used: bool,
    family: Option<u64>,
}

/// A refresh-token lineage. Everything needed to mint tokens later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Family {
    pub id: u64,
    pub authz: Authorization,
    pub revoked: bool,
    /// The DPoP key (JWK thumbprint) the family is bound to, when the code exchange carried a
    /// proof (RFC 9449 §5: refresh tokens of public clients are bound for their whole life).
    pub jkt: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RtState {
    Active,
    Used { at: Instant },
}

#[derive(Debug)]
struct RtEntry {
    family: u64,
    state: RtState,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CodeError {
    Unknown,
    /// Presented again; `family_revoked` tells whether tokens issued from it were revoked.
    Replayed {
        family_revoked: bool,
    },
    Expired,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RefreshError<E> {
    Unknown,
    Revoked,
    WrongClient,
    /// The family is DPoP-bound and no proof came with the request (RFC 9449 §5).
    DpopProofMissing,
    /// The family is DPoP-bound to another key than the proof's (RFC 9449 §5).
    DpopKeyMismatch,
    /// A rotated-out token presented after the overlap: the family is now revoked.
    Reuse,
    /// The caller's own check (e.g. `invalid_target`) failed; nothing changed.
    Rejected(E),
}

/// Result of a successful refresh.
#[derive(Debug)]
pub(crate) struct Refreshed {
    pub family: Family,
    /// The successor when rotating.
    pub new_token: Option<Secret>,
}

/// Used codes are remembered this long past expiry so a replay is still recognised.
const CODE_MEMORY: Duration = Duration::from_secs(600);

#[derive(Debug, Default)]
pub(crate) struct GrantStore {
    codes: HashMap<Secret, CodeEntry>,
    families: HashMap<u64, Family>,
    tokens: HashMap<Secret, RtEntry>,
    next_family: u64,
}

impl GrantStore {
    pub fn issue_code(&mut self, authz: Authorization, ttl: Duration, now: Instant) -> Secret {
        self.codes.retain(|_, c| c.expires_at + CODE_MEMORY > now);
        let code = Secret::new(random_token());
        self.codes.insert(
            code.clone(),
            CodeEntry {
                authz,
                expires_at: now + ttl,
                used: false,
                family: None,
            },
        );
        code
    }

    /// Redeem a code once. Any presentation burns it; a second one revokes what the first got.
    pub fn redeem_code(&mut self, code: &str, now: Instant) -> Result<Authorization, CodeError> {
        let key = Secret::new(code.to_owned());
        let Some(entry) = self.codes.get_mut(&key) else {
            return Err(CodeError::Unknown);
        };
        if entry.used {
            let family = entry.family;
            let family_revoked = family.is_some_and(|f| self.revoke_family(f));
            return Err(CodeError::Replayed { family_revoked });
        }
        entry.used = true;
        if now >= entry.expires_at {
            return Err(CodeError::Expired);
        }
        Ok(entry.authz.clone())
    }

    /// Start a refresh-token family for a redeemed code, bound to the DPoP key `jkt` if the
    /// exchange carried a proof; returns the first refresh token.
    pub fn start_family(
        &mut self,
        code: &str,
        authz: Authorization,
        jkt: Option<String>,
    ) -> Secret {
        self.next_family += 1;
        let id = self.next_family;
        self.families.insert(
            id,
            Family {
                id,
                authz,
                revoked: false,
                jkt,
            },
        );
        if let Some(entry) = self.codes.get_mut(&Secret::new(code.to_owned())) {
            entry.family = Some(id);
        }
        self.mint(id)
    }

    fn mint(&mut self, family: u64) -> Secret {
        let token = Secret::new(random_token());
        self.tokens.insert(
            token.clone(),
            RtEntry {
                family,
                state: RtState::Active,
            },
        );
        token
    }

    /// Use a refresh token. `check` runs after the token's own checks and before rotation, so a
    /// rejected request leaves the token usable. `jkt` is the thumbprint of the request's
    /// accepted DPoP proof, if any.
    pub fn refresh<E>(
        &mut self,
        token: &str,
        client_id: &str,
        jkt: Option<&str>,
        rotation: RefreshRotation,
        now: Instant,
        check: impl FnOnce(&Family) -> Result<(), E>,
    ) -> Result<Refreshed, RefreshError<E>> {
        let key = Secret::new(token.to_owned());
        let Some(entry) = self.tokens.get(&key) else {
            return Err(RefreshError::Unknown);
        };
        let (family_id, state) = (entry.family, entry.state);
        let Some(family) = self.families.get(&family_id) else {
            return Err(RefreshError::Unknown);
        };
        if family.revoked {
            return Err(RefreshError::Revoked);
        }
        if family.authz.request.client_id != client_id {
            return Err(RefreshError::WrongClient);
        }
        // RFC 9449 §5: a bound refresh token is used only with a proof of its key. Checked before
        // reuse detection: whoever lacks the key has not used the token, so a thief holding a
        // rotated-out token cannot get the legitimate holder's family revoked either.
        match (family.jkt.as_deref(), jkt) {
            (None, _) => {}
            (Some(_), None) => return Err(RefreshError::DpopProofMissing),
            (Some(bound), Some(presented)) if bound != presented => {
                return Err(RefreshError::DpopKeyMismatch)
            }
            (Some(_), Some(_)) => {}
        }
        if let (RefreshRotation::Rotating { overlap }, RtState::Used { at }) = (rotation, state) {
            if now.saturating_duration_since(at) > overlap {
                self.revoke_family(family_id);
                return Err(RefreshError::Reuse);
            }
        }
        check(family).map_err(RefreshError::Rejected)?;
        let family = family.clone();
        let new_token = match rotation {
            RefreshRotation::NonRotating => None,
            RefreshRotation::Rotating { .. } => {
                if let Some(e) = self.tokens.get_mut(&key) {
                    if e.state == RtState::Active {
                        e.state = RtState::Used { at: now };
                    }
                }
                Some(self.mint(family_id))
            }
        };
        Ok(Refreshed { family, new_token })
    }

    /// Revoke a family; `true` if it was active.
    fn revoke_family(&mut self, id: u64) -> bool {
        match self.families.get_mut(&id) {
            Some(f) if !f.revoked => {
                f.revoked = true;
                true
            }
            _ => false,
        }
    }

    /// RFC 7009 for a refresh token: revoke its family. `true` if something was revoked.
    pub fn revoke_token(&mut self, token: &str, client_id: &str) -> bool {
        let Some(entry) = self.tokens.get(&Secret::new(token.to_owned())) else {
            return false;
        };
        let id = entry.family;
        // A client may only revoke its own tokens (RFC 7009 §2.1); others are ignored silently.
        match self.families.get(&id) {
            Some(f) if f.authz.request.client_id == client_id => self.revoke_family(id),
            _ => false,
        }
    }

    /// Revoke all families of a subject; returns how many.
    pub fn revoke_subject(&mut self, sub: &str) -> usize {
        let ids: Vec<u64> = self
            .families
            .values()
            .filter(|f| !f.revoked && f.authz.sub == sub)
            .map(|f| f.id)
            .collect();
        ids.into_iter().filter(|id| self.revoke_family(*id)).count()
    }

    pub fn active_families(&self) -> usize {
        self.families.values().filter(|f| !f.revoked).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authz(client: &str, sub: &str) -> Authorization {
        Authorization {
            request: AuthRequest {
                client_id: client.into(),
                redirect_uri: "dev.portico.app:/callback".into(),
                state: Some("s".into()),
                nonce: None,
                scopes: vec!["openid".into(), "offline_access".into()],
                audience: None,
                resources: vec![],
                acr_values: vec![],
                code_challenge: "c".into(),
            },
            sub: sub.into(),
            auth_time: 1,
            acr: ACR_PASSWORD.into(),
        }
    }

    const ROT0: RefreshRotation = RefreshRotation::Rotating {
        overlap: Duration::ZERO,
    };

    fn ok(_: &Family) -> Result<(), ()> {
        Ok(())
    }

    #[test]
    fn code_is_one_time_and_replay_revokes_its_family() {
        let mut g = GrantStore::default();
        let t0 = Instant::now();
        let code = g.issue_code(authz("c", "alice"), Duration::from_secs(60), t0);
        let a = g.redeem_code(code.expose_secret(), t0).expect("first use");
        let rt = g.start_family(code.expose_secret(), a, None);
        assert_eq!(g.active_families(), 1);
        assert_eq!(
            g.redeem_code(code.expose_secret(), t0),
            Err(CodeError::Replayed {
                family_revoked: true
            })
        );
        assert_eq!(g.active_families(), 0);
        let r = g.refresh(rt.expose_secret(), "c", None, ROT0, t0, ok);
        assert!(matches!(r, Err(RefreshError::Revoked)), "{r:?}");
        assert_eq!(g.redeem_code("nope", t0), Err(CodeError::Unknown));
    }

    #[test]
    fn code_expires_and_is_burned_by_the_failed_attempt() {
        let mut g = GrantStore::default();
        let t0 = Instant::now();
        let code = g.issue_code(authz("c", "alice"), Duration::from_secs(1), t0);
        let late = t0 + Duration::from_secs(2);
        assert_eq!(
            g.redeem_code(code.expose_secret(), late),
            Err(CodeError::Expired)
        );
        assert_eq!(
            g.redeem_code(code.expose_secret(), late),
            Err(CodeError::Replayed {
                family_revoked: false
            })
        );
    }

    #[test]
    fn rotation_reuse_after_overlap_revokes_whole_family() {
        let mut g = GrantStore::default();
        let t0 = Instant::now();
        let code = g.issue_code(authz("c", "alice"), Duration::from_secs(60), t0);
        let a = g.redeem_code(code.expose_secret(), t0).expect("code");
        let rt1 = g.start_family(code.expose_secret(), a, None);
        let rot = RefreshRotation::Rotating {
            overlap: Duration::from_secs(5),
        };
        let rt2 = g
            .refresh(rt1.expose_secret(), "c", None, rot, t0, ok)
            .expect("refresh")
            .new_token
            .expect("rotated");
        // Within the overlap the old token still works and yields another successor.
        let rt3 = g
            .refresh(
                rt1.expose_secret(),
                "c",
                None,
                rot,
                t0 + Duration::from_secs(4),
                ok,
            )
            .expect("overlap")
            .new_token
            .expect("rotated");
        assert_ne!(rt2, rt3);
        // After the overlap: reuse, family gone, successors dead too.
        let r = g.refresh(
            rt1.expose_secret(),
            "c",
            None,
            rot,
            t0 + Duration::from_secs(6),
            ok,
        );
        assert!(matches!(r, Err(RefreshError::Reuse)), "{r:?}");
        assert_eq!(g.active_families(), 0);
        for t in [&rt2, &rt3] {
            let r = g.refresh(
                t.expose_secret(),
                "c",
                None,
                rot,
                t0 + Duration::from_secs(6),
                ok,
            );
            assert!(matches!(r, Err(RefreshError::Revoked)), "{r:?}");
        }
    }

    #[test]
    fn non_rotating_tokens_are_reusable() {
        let mut g = GrantStore::default();
        let t0 = Instant::now();
        let code = g.issue_code(authz("c", "alice"), Duration::from_secs(60), t0);
        let a = g.redeem_code(code.expose_secret(), t0).expect("code");
        let rt = g.start_family(code.expose_secret(), a, None);
        for _ in 0..3 {
            let r = g
                .refresh(
                    rt.expose_secret(),
                    "c",
                    None,
                    RefreshRotation::NonRotating,
                    t0,
                    ok,
                )
                .expect("reusable");
            assert!(r.new_token.is_none());
        }
        let r = g.refresh(
            rt.expose_secret(),
            "other",
            None,
            RefreshRotation::NonRotating,
            t0,
            ok,
        );
        assert!(matches!(r, Err(RefreshError::WrongClient)), "{r:?}");
    }

    #[test]
    fn rejected_check_does_not_rotate() {
        let mut g = GrantStore::default();
        let t0 = Instant::now();
        let code = g.issue_code(authz("c", "alice"), Duration::from_secs(60), t0);
        let a = g.redeem_code(code.expose_secret(), t0).expect("code");
        let rt = g.start_family(code.expose_secret(), a, None);
        let r = g.refresh(rt.expose_secret(), "c", None, ROT0, t0, |_| {
            Err("invalid_target")
        });
        assert!(
            matches!(r, Err(RefreshError::Rejected("invalid_target"))),
            "{r:?}"
        );
        assert!(g
            .refresh(rt.expose_secret(), "c", None, ROT0, t0, ok)
            .is_ok());
    }

    #[test]
    fn a_bound_family_needs_its_key_and_a_refusal_changes_nothing() {
        let mut g = GrantStore::default();
        let t0 = Instant::now();
        let code = g.issue_code(authz("c", "alice"), Duration::from_secs(60), t0);
        let a = g.redeem_code(code.expose_secret(), t0).expect("code");
        let rt1 = g.start_family(code.expose_secret(), a, Some("jkt-1".into()));
        let rt1 = rt1.expose_secret();
        let r = g.refresh(rt1, "c", None, ROT0, t0, ok);
        assert!(matches!(r, Err(RefreshError::DpopProofMissing)), "{r:?}");
        let r = g.refresh(rt1, "c", Some("jkt-2"), ROT0, t0, ok);
        assert!(matches!(r, Err(RefreshError::DpopKeyMismatch)), "{r:?}");
        // Nothing rotated: the holder of the key still refreshes, and the family stays bound.
        let r = g
            .refresh(rt1, "c", Some("jkt-1"), ROT0, t0, ok)
            .expect("bound");
        assert_eq!(r.family.jkt.as_deref(), Some("jkt-1"));
        let rt2 = r.new_token.expect("rotated");
        // A thief replaying the rotated-out token without the key does not trip reuse detection.
        let r = g.refresh(rt1, "c", None, ROT0, t0, ok);
        assert!(matches!(r, Err(RefreshError::DpopProofMissing)), "{r:?}");
        assert_eq!(g.active_families(), 1);
        let r = g.refresh(rt2.expose_secret(), "c", Some("jkt-2"), ROT0, t0, ok);
        assert!(matches!(r, Err(RefreshError::DpopKeyMismatch)), "{r:?}");
        assert!(g
            .refresh(rt2.expose_secret(), "c", Some("jkt-1"), ROT0, t0, ok)
            .is_ok());
        // An unbound family takes any proof, and stays unbound.
        let code = g.issue_code(authz("c", "bob"), Duration::from_secs(60), t0);
        let a = g.redeem_code(code.expose_secret(), t0).expect("code");
        let rt = g.start_family(code.expose_secret(), a, None);
        let r = g
            .refresh(rt.expose_secret(), "c", Some("jkt-9"), ROT0, t0, ok)
            .expect("unbound");
        assert_eq!(r.family.jkt, None);
    }

    #[test]
    fn revocation_by_token_and_by_subject() {
        let mut g = GrantStore::default();
        let t0 = Instant::now();
        let mut rts = vec![];
        for sub in ["alice", "alice", "bob"] {
            let code = g.issue_code(authz("c", sub), Duration::from_secs(60), t0);
            let a = g.redeem_code(code.expose_secret(), t0).expect("code");
            rts.push(g.start_family(code.expose_secret(), a, None));
        }
        assert_eq!(g.active_families(), 3);
        assert!(!g.revoke_token(rts[2].expose_secret(), "someone-else"));
        assert!(g.revoke_token(rts[2].expose_secret(), "c"));
        assert!(!g.revoke_token(rts[2].expose_secret(), "c"));
        assert_eq!(g.revoke_subject("alice"), 2);
        assert_eq!(g.active_families(), 0);
        let r = g.refresh(rts[0].expose_secret(), "c", None, ROT0, t0, ok);
        assert!(matches!(r, Err(RefreshError::Revoked)), "{r:?}");
        let r = g.refresh("never-issued", "c", None, ROT0, t0, ok);
        assert!(matches!(r, Err(RefreshError::Unknown)), "{r:?}");
    }
}
