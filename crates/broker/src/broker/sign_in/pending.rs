//! Pending sign-ins: the one in progress, and the states of those that ended, so that a late,
//! replayed or forged callback is answered for what it is and a persisted copy of an ended
//! sign-in is never brought back.

use crate::error::AuthError;
use crate::transaction::{CallbackOutcome, LoginTransaction};
use std::collections::VecDeque;
use std::time::SystemTime;
use url::Url;

/// States of completed (or completing) sign-ins remembered so a replayed callback cannot revive
/// their persisted copy.
const CONSUMED_STATES: usize = 16;

/// The sign-in in progress, if any, and what is remembered of ended ones.
#[derive(Default)]
pub(crate) struct PendingSignIns {
    current: Option<LoginTransaction>,
    /// State of the last cancelled or superseded sign-in: its callback is `LoginCancelled`, not a
    /// forgery.
    cancelled: Option<String>,
    /// States whose callback was already taken, or that expired: never restored from the store.
    consumed: VecDeque<String>,
}

/// A callback [`PendingSignIns::take`] refused.
#[derive(Debug)]
pub(crate) struct Refused {
    pub error: AuthError,
    /// The sign-in this refusal ended, whose persisted copy must now leave the store.
    pub ended: Option<String>,
}

impl From<AuthError> for Refused {
    fn from(error: AuthError) -> Self {
        Refused { error, ended: None }
    }
}

impl PendingSignIns {
    /// Makes `tx` the sign-in in progress. One it replaces is superseded: its callback is then
    /// answered `LoginCancelled`.
    pub fn begin(&mut self, tx: LoginTransaction) {
        if let Some(old) = self.current.replace(tx) {
            self.cancelled = Some(old.state);
        }
    }

    /// Cancels the sign-in in progress; returns its state, whose persisted copy is to be removed.
    pub fn cancel(&mut self) -> Option<String> {
        let old = self.current.take()?;
        self.cancelled = Some(old.state.clone());
        Some(old.state)
    }

    /// Whether a sign-in is in progress, expired or not.
    pub fn in_progress(&self) -> bool {
        self.current.is_some()
    }

    /// Whether a sign-in is in progress and not expired at `now`.
    pub fn pending_at(&self, now: SystemTime) -> bool {
        self.current.as_ref().is_some_and(|t| now < t.expires_at)
    }

    /// Adopts a sign-in persisted by an earlier run (its deep link may have started this one),
    /// unless one is in progress or `tx`'s state is dead here: taken, expired or cancelled, even
    /// if its stored copy has not been removed yet. Returns whether it was adopted.
    pub fn restore(&mut self, tx: LoginTransaction) -> bool {
        let dead = self.consumed.contains(&tx.state) || self.cancelled.as_ref() == Some(&tx.state);
        if self.current.is_some() || dead {
            return false;
        }
        self.current = Some(tx);
        true
    }

    /// Takes the sign-in in progress for `callback`, if the callback is a valid answer to it
    /// (see [`LoginTransaction::check_callback`]). A refused callback leaves the sign-in in
    /// place, unless the sign-in has expired: then it ends, for good.
    pub fn take(
        &mut self,
        callback: &str,
        now: SystemTime,
        issuer: &str,
        iss_required: bool,
    ) -> Result<(LoginTransaction, CallbackOutcome), Refused> {
        let Some(tx) = &self.current else {
            return Err(if self.answers_cancelled(callback) {
                AuthError::LoginCancelled
            } else {
                AuthError::NoPendingLogin
            }
            .into());
        };
        if now >= tx.expires_at {
            let state = tx.state.clone();
            self.current = None;
            // Dead for good: its stored copy must not be restored by the next callback, even
            // before the removal has reached the store.
            self.consume(state.clone());
            return Err(Refused {
                error: AuthError::LoginExpired,
                ended: Some(state),
            });
        }
        match tx.check_callback(callback, issuer, iss_required) {
            Err(AuthError::StateMismatch) if self.answers_cancelled(callback) => {
                Err(AuthError::LoginCancelled.into())
            }
            Err(e) => {
                tracing::warn!(kind = e.kind(), error = %e, "refused a callback; pending login kept");
                Err(e.into())
            }
            Ok(outcome) => match self.current.take() {
                Some(tx) => {
                    self.consume(tx.state.clone());
                    Ok((tx, outcome))
                }
                None => Err(AuthError::NoPendingLogin.into()),
            },
        }
    }

    /// Puts back a taken sign-in whose code the provider refused (it was not ours to spend, so
    /// the sign-in is still good), unless it has expired or another one began meanwhile.
    /// Returns whether it was put back.
    pub fn put_back(&mut self, tx: LoginTransaction, now: SystemTime) -> bool {
        if now >= tx.expires_at || self.current.is_some() {
            return false;
        }
        self.consumed.retain(|s| s != &tx.state);
        self.current = Some(tx);
        true
    }

    /// Whether `callback` answers the last cancelled or superseded sign-in.
    fn answers_cancelled(&self, callback: &str) -> bool {
        let state = state_param(callback);
        state.is_some() && state == self.cancelled
    }

    /// Remembers a taken (or dead) sign-in's state so its persisted copy is never restored.
    fn consume(&mut self, state: String) {
        if self.consumed.len() >= CONSUMED_STATES {
            self.consumed.pop_front();
        }
        self.consumed.push_back(state);
    }
}

/// The `state` of a callback URL, for recognising a cancelled login. No validation here beyond
/// the length every callback is held to.
pub(crate) fn state_param(callback: &str) -> Option<String> {
    if callback.len() > crate::transaction::MAX_CALLBACK_LEN {
        return None;
    }
    Url::parse(callback)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const ISS: &str = "https://tenant.example.com/";
    const TTL: Duration = Duration::from_secs(600);

    fn t0() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    fn tx() -> LoginTransaction {
        LoginTransaction::new(Url::parse("dev.portico.app:/callback").unwrap(), t0(), TTL)
    }

    fn callback(tx: &LoginTransaction) -> String {
        format!("dev.portico.app:/callback?code=c0de&state={}", tx.state)
    }

    fn take(p: &mut PendingSignIns, cb: &str, at: SystemTime) -> Result<String, AuthError> {
        p.take(cb, at, ISS, false)
            .map(|(tx, _)| tx.state)
            .map_err(|r| r.error)
    }

    #[test]
    fn a_valid_callback_takes_the_sign_in_once() {
        let mut p = PendingSignIns::default();
        let a = tx();
        p.begin(a.clone());
        assert!(p.pending_at(t0()));
        assert_eq!(take(&mut p, &callback(&a), t0()), Ok(a.state.clone()));
        assert!(!p.in_progress());
        assert_eq!(
            take(&mut p, &callback(&a), t0()),
            Err(AuthError::NoPendingLogin)
        );
    }

    #[test]
    fn a_refused_callback_leaves_the_sign_in_in_place() {
        let mut p = PendingSignIns::default();
        let a = tx();
        p.begin(a.clone());
        let forged = "dev.portico.app:/callback?code=c0de&state=forged";
        assert_eq!(take(&mut p, forged, t0()), Err(AuthError::StateMismatch));
        let refused = p.take(forged, t0(), ISS, false).unwrap_err();
        assert_eq!(refused.ended, None);
        assert_eq!(take(&mut p, &callback(&a), t0()), Ok(a.state));
    }

    #[test]
    fn a_consumed_state_is_never_restored_from_the_store() {
        let mut p = PendingSignIns::default();
        let a = tx();
        p.begin(a.clone());
        take(&mut p, &callback(&a), t0()).unwrap();
        // The persisted copy, not yet removed, comes back with a replayed callback.
        assert!(!p.restore(a.clone()));
        assert!(!p.in_progress());
        assert_eq!(
            take(&mut p, &callback(&a), t0()),
            Err(AuthError::NoPendingLogin)
        );
    }

    #[test]
    fn a_cancelled_state_is_never_restored_and_its_callback_says_cancelled() {
        let mut p = PendingSignIns::default();
        let a = tx();
        p.begin(a.clone());
        assert_eq!(p.cancel(), Some(a.state.clone()));
        assert_eq!(p.cancel(), None);
        assert!(!p.restore(a.clone()));
        assert_eq!(
            take(&mut p, &callback(&a), t0()),
            Err(AuthError::LoginCancelled)
        );
    }

    #[test]
    fn an_unknown_persisted_sign_in_is_restored_unless_one_is_in_progress() {
        let mut p = PendingSignIns::default();
        let (a, b) = (tx(), tx());
        assert!(p.restore(a.clone()));
        assert!(!p.restore(b));
        assert_eq!(take(&mut p, &callback(&a), t0()), Ok(a.state));
    }

    #[test]
    fn an_expired_sign_in_ends_for_good() {
        let mut p = PendingSignIns::default();
        let a = tx();
        p.begin(a.clone());
        let late = t0() + TTL;
        assert!(p.pending_at(late - Duration::from_secs(1)));
        assert!(!p.pending_at(late));
        assert!(p.in_progress());
        let refused = p.take(&callback(&a), late, ISS, false).unwrap_err();
        assert_eq!(refused.error, AuthError::LoginExpired);
        assert_eq!(refused.ended, Some(a.state.clone()));
        assert!(!p.restore(a));
    }

    #[test]
    fn a_new_sign_in_supersedes_the_old_one() {
        let mut p = PendingSignIns::default();
        let (a, b) = (tx(), tx());
        p.begin(a.clone());
        p.begin(b.clone());
        assert_eq!(
            take(&mut p, &callback(&a), t0()),
            Err(AuthError::LoginCancelled)
        );
        assert!(!p.restore(a));
        assert_eq!(take(&mut p, &callback(&b), t0()), Ok(b.state));
    }

    #[test]
    fn a_refused_code_puts_the_sign_in_back_unless_expired_or_replaced() {
        let mut p = PendingSignIns::default();
        let a = tx();
        p.begin(a.clone());
        take(&mut p, &callback(&a), t0()).unwrap();
        assert!(!p.put_back(a.clone(), t0() + TTL));
        assert!(p.put_back(a.clone(), t0()));
        assert!(!p.put_back(a.clone(), t0()));
        assert_eq!(take(&mut p, &callback(&a), t0()), Ok(a.state.clone()));

        let b = tx();
        p.begin(b.clone());
        assert!(!p.put_back(a, t0()));
        assert_eq!(take(&mut p, &callback(&b), t0()), Ok(b.state));
    }

    #[test]
    fn signing_out_cancels_the_sign_in_so_its_stored_copy_cannot_come_back() {
        let mut p = PendingSignIns::default();
        let a = tx();
        p.begin(a.clone());
        assert_eq!(p.cancel(), Some(a.state.clone()));
        assert!(!p.in_progress());
        assert!(!p.restore(a.clone()), "a cancelled sign-in is dead");
        assert_eq!(
            take(&mut p, &callback(&a), t0()),
            Err(AuthError::LoginCancelled)
        );
    }

    #[test]
    fn the_memory_of_consumed_states_is_bounded() {
        let mut p = PendingSignIns::default();
        let first = tx();
        p.begin(first.clone());
        take(&mut p, &callback(&first), t0()).unwrap();
        for _ in 0..CONSUMED_STATES {
            let t = tx();
            p.begin(t.clone());
            take(&mut p, &callback(&t), t0()).unwrap();
        }
        // The oldest is forgotten; its stored copy was removed long ago.
        assert!(p.restore(first));
    }

    #[test]
    fn state_param_reads_without_validating() {
        assert_eq!(state_param("x:/cb?a=1&state=s%20t").as_deref(), Some("s t"));
        assert_eq!(state_param("x:/cb?a=1"), None);
        assert_eq!(state_param("not a url"), None);
        let long = format!("x:/cb?state=s&pad={}", "a".repeat(9000));
        assert_eq!(state_param(&long), None);
    }
}
