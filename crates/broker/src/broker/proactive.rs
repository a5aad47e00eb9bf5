//! Proactive refresh: tokens in use are refreshed `refresh_skew` before they expire and
//! announced, so a micro frontend rarely waits for one; a retryable failure backs off.

use super::tokens::Want;
use super::{Broker, Inner};
use crate::config::{Audience, ScopeSet};
use crate::error::AuthError;
use crate::ipc::BrokerEvent;
use portico_types::sync::lock;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Back-off of a proactive refresh after a retryable failure: first wait, and the cap it doubles to.
const PROACTIVE_RETRY_BACKOFF: (Duration, Duration) =
    (Duration::from_secs(5), Duration::from_secs(60));

impl Broker {
    /// Starts the task that refreshes in-use tokens `refresh_skew` before expiry and announces them.
    /// It ends when the last clone of the broker is dropped (or when aborted).
    pub fn start_proactive_refresh(&self) -> tokio::task::JoinHandle<()> {
        // Weak: the task must not keep the broker alive.
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let interval = self.inner.options.proactive_check_interval;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let Some(inner) = weak.upgrade() else { break };
                inner.proactive_pass().await;
            }
        })
    }
}

/// How long the provider asked us to wait, when it said so.
fn retry_after(error: &AuthError) -> Option<Duration> {
    match error {
        AuthError::RateLimited {
            retry_after_secs: Some(s),
            ..
        } => Some(Duration::from_secs(*s)),
        _ => None,
    }
}

impl Inner {
    /// One check: every token in use whose refresh is due is refreshed (single flight, like any
    /// other caller's).
    async fn proactive_pass(&self) {
        if lock(&self.session).is_none() {
            return;
        }
        let due = lock(&self.cache).due(
            self.clock.now(),
            self.options.refresh_skew,
            self.options.in_use_window,
        );
        for (audience, scopes) in due {
            // Ask for more than the skew so the due token itself does not satisfy the lookup.
            if let Err(error) = self
                .obtain(
                    &Want::trusted(&audience, &scopes),
                    self.options.refresh_skew,
                )
                .await
            {
                self.proactive_failed(audience, scopes, error);
            }
        }
    }

    /// A retryable failure backs off and keeps the token in use; any other stops treating it as
    /// in use until it is handed out again. Either way the failure is announced.
    fn proactive_failed(&self, audience: Audience, scopes: ScopeSet, error: AuthError) {
        if error.retryable() {
            // The provider is down, slow or rate limiting: keep the token in use and try again
            // after a back-off, so the MFE gets a fresh token when it comes back.
            let now = self.clock.now();
            let next = lock(&self.cache).defer(
                &audience,
                &scopes,
                now,
                PROACTIVE_RETRY_BACKOFF,
                retry_after(&error),
            );
            tracing::warn!(audience = %audience, kind = error.kind(), error = %error,
                retry_in_ms = next.duration_since(now).unwrap_or_default().as_millis() as u64,
                "proactive refresh failed; will retry");
        } else {
            tracing::warn!(audience = %audience, kind = error.kind(), error = %error, "proactive refresh failed");
            lock(&self.cache).mark_idle(&audience, &scopes);
        }
        self.emit(BrokerEvent::RefreshFailed { audience, error });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::testing::{self, BILLING, CORE};
    use crate::clock::Clock;

    #[test]
    fn only_a_rate_limit_with_a_time_says_how_long_to_wait() {
        let limited = |s| AuthError::provider_rate_limited(s);
        assert_eq!(
            retry_after(&limited(Some(30))),
            Some(Duration::from_secs(30))
        );
        assert_eq!(retry_after(&limited(None)), None);
        assert_eq!(retry_after(&AuthError::login_required("x")), None);
    }

    #[test]
    fn a_retryable_failure_backs_off_any_other_idles_the_token_and_both_are_announced() {
        let (broker, _, clock) = testing::broker_and_clock();
        let inner = &broker.inner;
        let mut events = broker.subscribe();
        let skew = inner.options.refresh_skew;
        let none = ScopeSet::empty();
        let (billing, core) = (
            Audience::parse(BILLING).unwrap(),
            Audience::parse(CORE).unwrap(),
        );
        for audience in [&billing, &core] {
            // In use, and past its refresh time.
            let mut entry = testing::entry(audience, "at");
            entry.expires_at = testing::t0() + skew / 2;
            entry.obtained_at = entry.expires_at - 4 * skew;
            lock(&inner.cache).insert(audience, entry);
        }
        let due = |audience: &Audience| {
            lock(&inner.cache)
                .due(clock.now(), skew, inner.options.in_use_window)
                .iter()
                .any(|(a, _)| a == audience)
        };
        assert!(due(&billing) && due(&core));

        let timeout = AuthError::Timeout {
            endpoint: "token".into(),
        };
        inner.proactive_failed(billing.clone(), none.clone(), timeout);
        inner.proactive_failed(core.clone(), none, AuthError::login_required("x"));
        assert!(!due(&billing) && !due(&core));
        for _ in 0..2 {
            assert!(matches!(
                events.try_recv(),
                Ok(BrokerEvent::RefreshFailed { .. })
            ));
        }
        // After the first back-off step the retryable one is due again; the other is not in use.
        clock.advance(PROACTIVE_RETRY_BACKOFF.0);
        assert!(due(&billing));
        assert!(!due(&core));
    }

    #[tokio::test(start_paused = true)]
    async fn the_task_ends_with_the_last_broker() {
        let (broker, _) = testing::broker();
        let interval = broker.inner.options.proactive_check_interval;
        let task = broker.start_proactive_refresh();
        // Passes without a session do nothing, and reach no provider.
        tokio::time::sleep(interval * 3).await;
        assert!(!task.is_finished());
        drop(broker);
        tokio::time::timeout(interval * 2, task)
            .await
            .expect("the task ends")
            .expect("without panicking");
    }
}
