//! A token bucket on a monotonic clock the caller passes in (so tests choose the time): `burst`
//! at once, then one more every `refill`. For limits on what a local program or a page can make
//! Portico do (requests to the loopback listener, browser windows an MFE opens).

use std::time::{Duration, Instant};

/// How much a [`TokenBucket`] allows: `burst` at once, then one more every `refill`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub burst: u32,
    pub refill: Duration,
}

/// A token bucket. Whole tokens only: a refill period either passed or it did not.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    limits: Limits,
    tokens: u32,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket at `now`.
    pub fn new(limits: Limits, now: Instant) -> Self {
        TokenBucket {
            limits,
            tokens: limits.burst,
            last: now,
        }
    }

    /// Takes one token at `now` if there is one.
    pub fn take(&mut self, now: Instant) -> bool {
        let refill = self.limits.refill.max(Duration::from_millis(1));
        let periods = now.saturating_duration_since(self.last).as_millis() / refill.as_millis();
        if periods > 0 {
            let earned = u32::try_from(periods).unwrap_or(u32::MAX);
            self.tokens = self.tokens.saturating_add(earned).min(self.limits.burst);
            // Keep the part of a period already elapsed; after a long quiet spell start afresh.
            self.last = if self.tokens == self.limits.burst {
                now
            } else {
                self.last + refill * earned
            };
        }
        if self.tokens == 0 {
            return false;
        }
        self.tokens -= 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_one_per_period_and_never_more_than_the_burst() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut b = TokenBucket::new(
            Limits {
                burst: 2,
                refill: Duration::from_secs(2),
            },
            t0,
        );
        assert!(b.take(t0) && b.take(t0));
        assert!(!b.take(t0));
        assert!(!b.take(at(1999)));
        assert!(b.take(at(2000)));
        assert!(!b.take(at(2000)));
        // A partly elapsed period counts toward the next token.
        assert!(!b.take(at(3500)));
        assert!(b.take(at(4000)));
        // A long quiet spell refills up to the burst, no more.
        assert!(b.take(at(3_600_000)) && b.take(at(3_600_000)));
        assert!(!b.take(at(3_600_000)));
        // A clock that seems to go back grants nothing.
        assert!(!b.take(t0));
    }
}
