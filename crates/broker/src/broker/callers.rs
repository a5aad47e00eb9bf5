//! One token bucket per caller: a micro frontend that makes the broker ask the provider again
//! and again is held back alone (typed `rate_limited` naming it), before the provider's own
//! limit, which would hold back everyone.

use crate::clock::unix_ms;
use crate::config::TokenRate;
use crate::error::AuthError;
use portico_types::sync::lock;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: SystemTime,
}

/// Provider requests a caller may still cause, refilled at `rate`.
pub(super) struct CallerBuckets {
    rate: TokenRate,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl CallerBuckets {
    pub(super) fn new(rate: TokenRate) -> Self {
        Self {
            rate,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `caller`'s bucket, or says how long it must wait.
    pub(super) fn take(&self, caller: &str, now: SystemTime) -> Result<(), AuthError> {
        let capacity = f64::from(self.rate.burst.max(1));
        let per_sec = f64::from(self.rate.per_minute) / 60.0;
        let mut buckets = lock(&self.buckets);
        let b = buckets.entry(caller.to_owned()).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        let elapsed = now.duration_since(b.at).unwrap_or(Duration::ZERO);
        b.tokens = (b.tokens + elapsed.as_secs_f64() * per_sec).min(capacity);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            return Ok(());
        }
        let wait = if per_sec > 0.0 {
            Duration::from_secs_f64((1.0 - b.tokens) / per_sec)
        } else {
            Duration::from_secs(3600)
        };
        Err(AuthError::RateLimited {
            retry_after_secs: Some(wait.as_secs() + u64::from(wait.subsec_nanos() > 0)),
            caller: Some(caller.to_owned()),
            until: now.checked_add(wait).map(unix_ms),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_refill_rate_per_caller() {
        let buckets = CallerBuckets::new(TokenRate {
            burst: 3,
            per_minute: 6,
        });
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        for _ in 0..3 {
            assert_eq!(buckets.take("billing", t0), Ok(()));
        }
        match buckets.take("billing", t0) {
            Err(AuthError::RateLimited {
                retry_after_secs: Some(10),
                caller: Some(c),
                until: Some(until),
            }) => {
                assert_eq!(c, "billing");
                assert_eq!(until, unix_ms(t0 + Duration::from_secs(10)));
            }
            other => panic!("{other:?}"),
        }
        // Another caller is not held back.
        assert_eq!(buckets.take("dashboard", t0), Ok(()));
        // One request per 10 s refills.
        assert_eq!(
            buckets.take("billing", t0 + Duration::from_secs(10)),
            Ok(())
        );
        assert!(buckets
            .take("billing", t0 + Duration::from_secs(10))
            .is_err());
        let err = buckets
            .take("billing", t0 + Duration::from_secs(12))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "The micro frontend billing asks for new tokens too often; try again in 8 seconds."
        );
    }
}
