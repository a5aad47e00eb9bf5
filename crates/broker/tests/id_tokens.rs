//! Every ID-token defect the dev-idp can produce is refused with its own reason; key rotation works.

mod adversarial;
mod common;
use adversarial::record;
use common::*;
use portico_broker::*;
use portico_dev_idp::IdTokenTamper;
use std::time::Duration;

fn expected(t: IdTokenTamper) -> IdTokenDefect {
    match t {
        IdTokenTamper::BadSignature => IdTokenDefect::SignatureInvalid,
        IdTokenTamper::AlgNone => IdTokenDefect::Unsigned,
        IdTokenTamper::WrongIss => IdTokenDefect::IssuerMismatch,
        IdTokenTamper::WrongAud => IdTokenDefect::AudienceMismatch,
        IdTokenTamper::MissingSub => IdTokenDefect::MissingSubject,
        IdTokenTamper::MissingIat => IdTokenDefect::MissingIssuedAt,
        IdTokenTamper::Expired => IdTokenDefect::Expired,
        IdTokenTamper::NonceMismatch => IdTokenDefect::NonceMismatch,
        IdTokenTamper::UnknownKid => IdTokenDefect::UnknownKeyId,
        // Cryptographically the same fault as a flipped bit: the named key does not verify it.
        IdTokenTamper::OtherKey => IdTokenDefect::SignatureInvalid,
        IdTokenTamper::Hs256WithPublicKey => IdTokenDefect::AlgorithmNotAllowed,
        // Only a defect when the JWKS holds several keys: see `kid_absent_*` below.
        IdTokenTamper::NoKid => IdTokenDefect::MissingKeyId,
    }
}

#[tokio::test]
async fn every_tampered_id_token_is_rejected_with_its_reason() {
    for dialect in [Dialect::Auth0, Dialect::Rfc8707] {
        let e = env(dialect).await;
        for t in IdTokenTamper::ALL
            .into_iter()
            .filter(|t| *t != IdTokenTamper::NoKid)
        {
            e.admin.set_id_token_tamper(Some(t));
            let cb = callback_for(&e.broker, "alice").await;
            let err = e.broker.complete_login(&cb).await.unwrap_err();
            let reason = |e: &AuthError| match e {
                AuthError::IdTokenInvalid { reason } => format!("id_token_invalid:{reason:?}"),
                other => other.kind().to_string(),
            };
            record(
                "id_tokens",
                &format!("{t:?} ({dialect:?})"),
                &reason(&AuthError::IdTokenInvalid {
                    reason: expected(t),
                }),
                &reason(&err),
                serde_json::json!({"session": e.broker.session().is_some()}),
            );
            assert_eq!(
                err,
                AuthError::IdTokenInvalid {
                    reason: expected(t)
                },
                "{dialect:?} {t:?}"
            );
            assert!(!err.retryable());
            assert!(e.broker.session().is_none(), "{t:?}: no session");
            assert!(e.store.load().unwrap().is_none(), "{t:?}: nothing stored");
            assert!(
                !e.broker.pending_login(),
                "the code is spent; a new login is needed"
            );
            // RFC 7009: the refused response's refresh token was revoked before the error.
            assert_eq!(
                e.admin.active_families(),
                0,
                "{dialect:?} {t:?}: no live grant left behind"
            );
        }
        e.admin.set_id_token_tamper(None);
        assert_eq!(login(&e.broker, "alice").await.subject, "auth0|alice");
    }
}

#[tokio::test]
async fn key_rotation_is_accepted_with_one_jwks_refetch() {
    let e = env(Dialect::Auth0).await;
    login(&e.broker, "alice").await;
    assert_eq!(e.admin.counters().jwks, 1);
    let new_kid = e.admin.rotate_signing_key();
    e.admin.retire_old_keys();
    e.clock.advance(Duration::from_secs(31));
    let cb = callback_for(&e.broker, "bob").await;
    let info = e.broker.complete_login(&cb).await.unwrap();
    record(
        "id_tokens",
        "unknown kid after key rotation: one JWKS refetch, then accepted",
        "ok",
        "ok",
        serde_json::json!({"jwks_requests": e.admin.counters().jwks}),
    );
    assert_eq!(info.subject, "auth0|bob");
    assert_eq!(
        e.admin.counters().jwks,
        2,
        "one refetch for the new kid {new_kid}"
    );
    // Cached now: another login costs no JWKS request.
    login(&e.broker, "alice").await;
    assert_eq!(e.admin.counters().jwks, 2);
}

#[tokio::test]
async fn unknown_kid_refetches_are_rate_limited() {
    let e = env(Dialect::Rfc8707).await;
    login(&e.broker, "alice").await;
    assert_eq!(e.admin.counters().jwks, 1);
    e.admin.set_id_token_tamper(Some(IdTokenTamper::UnknownKid));
    // Within the interval since the last fetch: no refetch at all.
    for _ in 0..3 {
        let cb = callback_for(&e.broker, "alice").await;
        assert_eq!(
            e.broker.complete_login(&cb).await.unwrap_err(),
            AuthError::IdTokenInvalid {
                reason: IdTokenDefect::UnknownKeyId
            }
        );
    }
    assert_eq!(
        e.admin.counters().jwks,
        1,
        "an attacker cannot make us hammer the JWKS"
    );
    // After the interval: exactly one refetch, then limited again.
    e.clock.advance(Duration::from_secs(31));
    for _ in 0..3 {
        let cb = callback_for(&e.broker, "alice").await;
        assert_eq!(
            e.broker.complete_login(&cb).await.unwrap_err(),
            AuthError::IdTokenInvalid {
                reason: IdTokenDefect::UnknownKeyId
            }
        );
    }
    assert_eq!(e.admin.counters().jwks, 2);
}

#[tokio::test]
async fn id_token_expiry_follows_the_injected_clock() {
    let e = env(Dialect::Auth0).await;
    // The broker's clock is 11 minutes ahead of the provider: the 10-minute ID token looks expired.
    e.clock.advance(Duration::from_secs(660));
    let cb = callback_for(&e.broker, "alice").await;
    assert_eq!(
        e.broker.complete_login(&cb).await.unwrap_err(),
        AuthError::IdTokenInvalid {
            reason: IdTokenDefect::Expired
        }
    );
}

/// OpenID RP test `rp-id_token-kid-absent-single-jwks`: one signing key, no `kid` → accepted.
#[tokio::test]
async fn kid_absent_with_a_single_key_in_the_jwks_is_accepted() {
    let e = env(Dialect::Auth0).await;
    e.admin.set_id_token_tamper(Some(IdTokenTamper::NoKid));
    let info = login(&e.broker, "alice").await;
    record(
        "id_tokens",
        "kid absent, one key in the JWKS",
        "ok",
        "ok",
        serde_json::json!({"jwks_requests": e.admin.counters().jwks}),
    );
    assert_eq!(info.subject, "auth0|alice");
    assert_eq!(e.admin.counters().jwks, 1);
}

/// OpenID RP test `rp-id_token-kid-absent-multiple-jwks`: with several keys we refuse rather
/// than try each (documented choice: no guessing which key the provider meant).
#[tokio::test]
async fn kid_absent_with_several_keys_in_the_jwks_is_refused() {
    let e = env(Dialect::Rfc8707).await;
    // The old key stays published next to the new one.
    e.admin.rotate_signing_key();
    e.admin.set_id_token_tamper(Some(IdTokenTamper::NoKid));
    let cb = callback_for(&e.broker, "alice").await;
    let r = e.broker.complete_login(&cb).await;
    record(
        "id_tokens",
        "kid absent, several keys in the JWKS (refused, not tried in turn)",
        "id_token_invalid:MissingKeyId",
        &match &r {
            Err(AuthError::IdTokenInvalid { reason }) => format!("id_token_invalid:{reason:?}"),
            other => adversarial::kind_of(other),
        },
        serde_json::json!({}),
    );
    assert_eq!(
        r.unwrap_err(),
        AuthError::IdTokenInvalid {
            reason: expected(IdTokenTamper::NoKid)
        }
    );
    assert!(e.broker.session().is_none());
    assert!(e.store.load().unwrap().is_none());
    // Back to kid-bearing tokens: both keys are known, sign-in works without another JWKS fetch.
    e.admin.set_id_token_tamper(None);
    login(&e.broker, "alice").await;
    assert_eq!(e.admin.counters().jwks, 1);
}

/// A sign-in whose access token is for another audience than the one the sign-in asked for is
/// refused, and its refresh token revoked: no live grant is left behind.
#[tokio::test]
async fn a_sign_in_answered_with_a_token_for_another_audience_is_refused_and_revoked() {
    for dialect in [Dialect::Auth0, Dialect::Rfc8707] {
        let e = env(dialect).await;
        let asked = e.config.login_token_audience().unwrap().clone();
        e.admin
            .set_access_token_audience(Some(portico_dev_idp::ANALYTICS_API));
        let cb = callback_for(&e.broker, "alice").await;
        let err = e.broker.complete_login(&cb).await.unwrap_err();
        record(
            "id_tokens",
            &format!("sign-in answered with another audience's token ({dialect:?})"),
            "audience_not_granted",
            err.kind(),
            serde_json::json!({"active_families": e.admin.active_families(),
                "revocations": e.admin.counters().revoke}),
        );
        assert_eq!(
            err,
            AuthError::AudienceNotGranted {
                audience: asked.to_string(),
                granted: vec![portico_dev_idp::ANALYTICS_API.to_owned()],
                description: None,
            },
            "{dialect:?}"
        );
        assert!(e.broker.session().is_none());
        assert!(e.store.load().unwrap().is_none());
        assert_eq!(e.admin.active_families(), 0, "{dialect:?}: revoked");
        assert_eq!(e.admin.counters().revoke, 1, "{dialect:?}");
        e.admin.set_access_token_audience(None);
        assert_eq!(login(&e.broker, "alice").await.subject, "auth0|alice");
        assert_eq!(e.admin.active_families(), 1);
    }
}
