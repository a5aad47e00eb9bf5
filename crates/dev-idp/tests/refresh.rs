//! Refresh-token rotation, overlap, reuse detection, revocation over real HTTP.

mod common;

use std::time::Duration;

use common::*;
use portico_dev_idp::{RefreshRotation, BILLING_API, DEMO_CLIENT_ID};

const SCOPE: &str = "openid offline_access read:invoices";

async fn rt_for(idp: &portico_dev_idp::DevIdp, user: &str) -> String {
    let t = login(idp, user, &[("audience", BILLING_API), ("scope", SCOPE)]).await;
    t["refresh_token"].as_str().expect("rt").to_owned()
}

#[tokio::test]
async fn rotation_and_reuse_detection_revoke_the_whole_family() {
    let idp = start(|_| {}).await;
    let rt1 = rt_for(&idp, "alice").await;
    let other_family = rt_for(&idp, "alice").await;
    assert_eq!(idp.admin().active_families(), 2);

    let (s, r) = refresh(&idp, &rt1, &[]).await;
    assert_eq!(s, 200, "{r}");
    let rt2 = r["refresh_token"].as_str().expect("successor").to_owned();
    assert_ne!(rt1, rt2);

    // Presenting the rotated-out token again: reuse. The family dies, successor included.
    let (s, e) = refresh(&idp, &rt1, &[]).await;
    assert_eq!(
        (s, e["error"].as_str()),
        (400, Some("invalid_grant")),
        "{e}"
    );
    assert!(e["error_description"]
        .as_str()
        .expect("desc")
        .contains("reuse"));
    let (s, e) = refresh(&idp, &rt2, &[]).await;
    assert_eq!(
        (s, e["error"].as_str()),
        (400, Some("invalid_grant")),
        "{e}"
    );

    let c = idp.admin().counters();
    assert_eq!(c.reuse_detections, 1);
    assert_eq!(c.families_revoked, 1);
    assert_eq!(c.active_families, 1);
    // The other lineage is untouched.
    let (s, _) = refresh(&idp, &other_family, &[]).await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn overlap_period_tolerates_a_retry_then_detects_reuse() {
    let idp = start(|c| {
        c.rotation = RefreshRotation::Rotating {
            overlap: Duration::from_millis(700),
        }
    })
    .await;
    let rt1 = rt_for(&idp, "alice").await;
    let (s, a) = refresh(&idp, &rt1, &[]).await;
    assert_eq!(s, 200);
    // Lost response, client retries with the same token within the overlap: accepted.
    let (s, b) = refresh(&idp, &rt1, &[]).await;
    assert_eq!(s, 200, "{b}");
    let (rt_a, rt_b) = (
        a["refresh_token"].as_str().expect("a"),
        b["refresh_token"].as_str().expect("b"),
    );
    assert_ne!(rt_a, rt_b);
    // Both successors belong to the same family and work.
    let (s, c) = refresh(&idp, rt_b, &[]).await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(idp.admin().active_families(), 1);
    tokio::time::sleep(Duration::from_millis(900)).await;
    let (s, e) = refresh(&idp, &rt1, &[]).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")));
    assert_eq!(idp.admin().counters().reuse_detections, 1);
    let (s, _) = refresh(&idp, c["refresh_token"].as_str().expect("c"), &[]).await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn non_rotating_mode_and_runtime_switch() {
    let idp = start(|c| c.rotation = RefreshRotation::NonRotating).await;
    let rt = rt_for(&idp, "bob").await;
    for _ in 0..3 {
        let (s, r) = refresh(&idp, &rt, &[]).await;
        assert_eq!(s, 200, "{r}");
        assert!(r.get("refresh_token").is_none(), "{r}");
    }
    idp.admin().set_rotation(RefreshRotation::Rotating {
        overlap: Duration::ZERO,
    });
    let (s, r) = refresh(&idp, &rt, &[]).await;
    assert_eq!(s, 200);
    assert!(r["refresh_token"].is_string());
    let (s, _) = refresh(&idp, &rt, &[]).await;
    assert_eq!(s, 400, "rotating now: reuse detected");
    assert_eq!(idp.admin().counters().reuse_detections, 1);
}

#[tokio::test]
async fn revocation_endpoint_revokes_the_family() {
    let idp = start(|_| {}).await;
    let rt1 = rt_for(&idp, "alice").await;
    let (_, r) = refresh(&idp, &rt1, &[]).await;
    let rt2 = r["refresh_token"].as_str().expect("rt2").to_owned();
    let (s, _) = post_form(
        &idp,
        "oauth/revoke",
        &[
            ("client_id", DEMO_CLIENT_ID),
            ("token", &rt2),
            ("token_type_hint", "refresh_token"),
        ],
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(idp.admin().active_families(), 0);
    let (s, e) = refresh(&idp, &rt2, &[]).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")));
    // Unknown tokens and access tokens: 200 (RFC 7009 §2.2).
    for t in ["unknown-token", "eyJhbGciOiJSUzI1NiJ9.e30.sig"] {
        let (s, _) = post_form(
            &idp,
            "oauth/revoke",
            &[("client_id", DEMO_CLIENT_ID), ("token", t)],
        )
        .await;
        assert_eq!(s, 200);
    }
    // Unknown client: invalid_client; missing token: invalid_request.
    let (s, e) = post_form(
        &idp,
        "oauth/revoke",
        &[("client_id", "nobody"), ("token", "x")],
    )
    .await;
    assert_eq!((s, e["error"].as_str()), (401, Some("invalid_client")));
    let (s, e) = post_form(&idp, "oauth/revoke", &[("client_id", DEMO_CLIENT_ID)]).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_request")));
    let c = idp.admin().counters();
    assert_eq!(c.revoke, 5);
    assert_eq!(c.families_revoked, 1);
}

#[tokio::test]
async fn admin_revokes_all_grants_of_a_user() {
    let idp = start(|_| {}).await;
    let a1 = rt_for(&idp, "alice").await;
    let a2 = rt_for(&idp, "alice").await;
    let b = rt_for(&idp, "bob").await;
    idp.admin().revoke_grants_for("auth0|alice");
    assert_eq!(idp.admin().active_families(), 1);
    for rt in [&a1, &a2] {
        let (s, e) = refresh(&idp, rt, &[]).await;
        assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")));
    }
    let (s, _) = refresh(&idp, &b, &[]).await;
    assert_eq!(s, 200);
    assert_eq!(idp.admin().counters().families_revoked, 2);
}

#[tokio::test]
async fn no_offline_access_no_refresh_token_and_ttl_switch() {
    let idp = start(|_| {}).await;
    let t = login(
        &idp,
        "alice",
        &[("audience", BILLING_API), ("scope", "openid read:invoices")],
    )
    .await;
    assert!(t.get("refresh_token").is_none());
    assert_eq!(idp.admin().active_families(), 0);
    idp.admin().set_access_token_ttl(Duration::from_secs(5));
    let t = login(
        &idp,
        "alice",
        &[("audience", BILLING_API), ("scope", SCOPE)],
    )
    .await;
    assert_eq!(t["expires_in"], serde_json::json!(5));
    let at = claims(&t["access_token"]);
    assert_eq!(
        at["exp"].as_u64().expect("exp") - at["iat"].as_u64().expect("iat"),
        5
    );
    // Refresh tokens of another client are refused.
    let (s, e) = token(
        &idp,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "nobody"),
            ("refresh_token", t["refresh_token"].as_str().expect("rt")),
        ],
    )
    .await;
    assert_eq!((s, e["error"].as_str()), (401, Some("invalid_client")));
}

#[tokio::test]
async fn concurrent_refreshes_with_one_token_trip_reuse_detection() {
    // Documents what a broker must avoid: N parallel refreshes with one rotating token.
    let idp = start(|_| {}).await;
    let rt = rt_for(&idp, "alice").await;
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let issuer = idp.issuer().clone();
        let rt = rt.clone();
        tasks.push(tokio::spawn(async move {
            http()
                .post(issuer.join("oauth/token").expect("url"))
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("client_id", DEMO_CLIENT_ID),
                    ("refresh_token", rt.as_str()),
                ])
                .send()
                .await
                .expect("send")
                .status()
                .as_u16()
        }));
    }
    let mut ok = 0;
    for t in tasks {
        if t.await.expect("join") == 200 {
            ok += 1;
        }
    }
    assert_eq!(ok, 1, "exactly one refresh wins");
    assert_eq!(idp.admin().counters().reuse_detections, 1);
    assert_eq!(idp.admin().active_families(), 0);
}
