//! Fault switches: what they are ([`Fault`], [`FaultKind`], [`IdTokenTamper`]) and which ones
//! fire for a request ([`FaultSet`]). How they are rendered lives in `server.rs`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::duration_secs;

/// One injected fault. Faults are checked in the order given to [`crate::Admin::set_faults`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// Which endpoint it hits.
    pub endpoint: Endpoint,
    /// What happens.
    pub kind: FaultKind,
    /// How many matching requests it hits; `None` = until cleared.
    #[serde(default)]
    pub times: Option<u32>,
}

impl Fault {
    /// A fault on `endpoint` that stays until cleared.
    pub fn always(endpoint: Endpoint, kind: FaultKind) -> Self {
        Fault {
            endpoint,
            kind,
            times: None,
        }
    }
    /// A fault on `endpoint` that hits the next `times` matching requests.
    pub fn times(endpoint: Endpoint, kind: FaultKind, times: u32) -> Self {
        Fault {
            endpoint,
            kind,
            times: Some(times),
        }
    }
}

/// Endpoint a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// Every provider endpoint (not the admin API).
    Any,
    /// `/.well-known/openid-configuration`.
    Discovery,
    /// `/.well-known/jwks.json`.
    Jwks,
    /// `/authorize`.
    Authorize,
    /// `/oauth/token`.
    Token,
    /// `/oauth/revoke`.
    Revoke,
}

/// What an injected fault does to a matching request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum FaultKind {
    /// Delay, then answer normally (combines with one other fault).
    Latency(#[serde(with = "duration_secs")] Duration),
    /// Answer with this status and a JSON `{"error":"server_error"}` body.
    Status(u16),
    /// 429 with `Retry-After` and `{"error":"too_many_requests"}`.
    TooManyRequests {
        /// Value of the `Retry-After` header.
        retry_after_secs: u64,
    },
    /// 200, `Content-Type: application/json`, body that is not JSON.
    GarbageJson,
    /// 502 with an HTML error page (a proxy in the way).
    HtmlError,
    /// 200 whose body ends before its `Content-Length` (connection cut mid-body).
    TruncatedBody,
    /// Close the socket without sending any response.
    DropConnection,
    /// Token endpoint only: 400 `{"error":"invalid_grant"}` (e.g. the user was blocked).
    InvalidGrant,
}

/// How to corrupt the next ID tokens (until set back to `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdTokenTamper {
    /// Correct token with one signature bit flipped.
    BadSignature,
    /// Header `alg: none`, empty signature.
    AlgNone,
    /// `iss` is another issuer.
    WrongIss,
    /// `aud` is another client.
    WrongAud,
    /// No `sub` claim.
    MissingSub,
    /// No `iat` claim.
    MissingIat,
    /// `exp` ten minutes in the past.
    Expired,
    /// `nonce` differs from the one sent to `/authorize`.
    NonceMismatch,
    /// `kid` that is not in the JWKS (signed with the current key).
    UnknownKid,
    /// Header and `kid` of the current key, signed with a key that is not in the JWKS.
    OtherKey,
    /// `alg: HS256` with the public key PEM as the HMAC secret (algorithm confusion).
    Hs256WithPublicKey,
    /// No `kid` in the header (signed with the current key).
    NoKid,
}

impl IdTokenTamper {
    /// Every variant, for exhaustive tests.
    pub const ALL: [IdTokenTamper; 12] = [
        IdTokenTamper::BadSignature,
        IdTokenTamper::AlgNone,
        IdTokenTamper::WrongIss,
        IdTokenTamper::WrongAud,
        IdTokenTamper::MissingSub,
        IdTokenTamper::MissingIat,
        IdTokenTamper::Expired,
        IdTokenTamper::NonceMismatch,
        IdTokenTamper::UnknownKid,
        IdTokenTamper::OtherKey,
        IdTokenTamper::Hs256WithPublicKey,
        IdTokenTamper::NoKid,
    ];
}

/// The faults currently armed, with their remaining hit counts.
#[derive(Debug, Default)]
pub(crate) struct FaultSet {
    armed: Vec<Fault>,
}

/// Faults that fire for one request: a total delay and at most one answer-changing fault.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Fired {
    pub delay: Duration,
    pub outcome: Option<FaultKind>,
}

impl FaultSet {
    pub fn replace(&mut self, faults: Vec<Fault>) {
        self.armed = faults.into_iter().filter(|f| f.times != Some(0)).collect();
    }

    /// Consume the faults matching a request to `endpoint`.
    pub fn fire(&mut self, endpoint: Endpoint) -> Fired {
        let mut fired = Fired::default();
        for fault in &mut self.armed {
            let applies = (fault.endpoint == Endpoint::Any || fault.endpoint == endpoint)
                && (fault.kind != FaultKind::InvalidGrant || endpoint == Endpoint::Token);
            if !applies {
                continue;
            }
            match &fault.kind {
                FaultKind::Latency(d) => fired.delay += *d,
                _ if fired.outcome.is_some() => continue,
                other => fired.outcome = Some(other.clone()),
            }
            if let Some(n) = fault.times.as_mut() {
                *n = n.saturating_sub(1);
            }
        }
        self.armed.retain(|f| f.times != Some(0));
        fired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_fault_fires_exactly_n_times_then_disappears() {
        let mut set = FaultSet::default();
        set.replace(vec![Fault::times(
            Endpoint::Token,
            FaultKind::Status(503),
            2,
        )]);
        assert_eq!(
            set.fire(Endpoint::Token).outcome,
            Some(FaultKind::Status(503))
        );
        assert_eq!(set.fire(Endpoint::Jwks).outcome, None);
        assert_eq!(
            set.fire(Endpoint::Token).outcome,
            Some(FaultKind::Status(503))
        );
        assert_eq!(set.fire(Endpoint::Token).outcome, None);
    }

    #[test]
    fn latency_combines_with_one_outcome_and_later_outcomes_wait() {
        let mut set = FaultSet::default();
        set.replace(vec![
            Fault::times(Endpoint::Any, FaultKind::GarbageJson, 1),
            Fault::always(
                Endpoint::Token,
                FaultKind::Latency(Duration::from_millis(30)),
            ),
            Fault::times(Endpoint::Token, FaultKind::HtmlError, 1),
        ]);
        let first = set.fire(Endpoint::Token);
        assert_eq!(first.delay, Duration::from_millis(30));
        assert_eq!(first.outcome, Some(FaultKind::GarbageJson));
        let second = set.fire(Endpoint::Token);
        assert_eq!(second.outcome, Some(FaultKind::HtmlError));
        let third = set.fire(Endpoint::Token);
        assert_eq!(third.outcome, None);
        assert_eq!(third.delay, Duration::from_millis(30));
    }

    #[test]
    fn invalid_grant_only_hits_the_token_endpoint() {
        let mut set = FaultSet::default();
        set.replace(vec![Fault::times(
            Endpoint::Any,
            FaultKind::InvalidGrant,
            1,
        )]);
        assert_eq!(set.fire(Endpoint::Jwks).outcome, None);
        assert_eq!(
            set.fire(Endpoint::Token).outcome,
            Some(FaultKind::InvalidGrant)
        );
    }

    #[test]
    fn zero_times_and_replace_clear() {
        let mut set = FaultSet::default();
        set.replace(vec![Fault::times(Endpoint::Any, FaultKind::Status(500), 0)]);
        assert_eq!(set.fire(Endpoint::Token), Fired::default());
        set.replace(vec![Fault::always(Endpoint::Any, FaultKind::Status(500))]);
        set.replace(vec![]);
        assert_eq!(set.fire(Endpoint::Token), Fired::default());
    }

    #[test]
    fn faults_round_trip_as_json() {
        let f = vec![
            Fault::always(
                Endpoint::Token,
                FaultKind::Latency(Duration::from_millis(1500)),
            ),
            Fault::times(
                Endpoint::Any,
                FaultKind::TooManyRequests {
                    retry_after_secs: 3,
                },
                1,
            ),
            Fault::always(Endpoint::Revoke, FaultKind::DropConnection),
        ];
        let json = serde_json::to_string(&f).expect("serialize");
        assert!(json.contains(r#""type":"latency","value":1.5"#), "{json}");
        let back: Vec<Fault> = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, f);
    }
}
