//! Interop: the broker against Glewlwyd 2.7, an OpenID Provider we did not write (issue 12),
//! in RFC 8707 mode over real HTTP on loopback. The demo APIs validate the tokens against
//! Glewlwyd's JWKS. What Glewlwyd does differently from the RFCs is pinned in
//! `crates/testkit/tests/glewlwyd.rs` and handled here through configuration only
//! (`Revocation::GlewlwydDeleteToken`, an exact loopback port); see docs/providers.md.

use portico_broker::*;
use portico_dev_idp::{ApiConfig, DemoApis, IdpConfig};
use portico_testkit::glewlwyd::{
    Glewlwyd, GlewlwydOptions, ANALYTICS, BILLING, CLIENT_ID, CORE, CUSTOM_SCHEME_REDIRECT_URI,
};
use portico_testkit::provider as fixture;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

fn aud(s: &str) -> Audience {
    Audience::parse(s).unwrap()
}

fn scopes(s: &str) -> ScopeSet {
    ScopeSet::parse(s).unwrap()
}

/// What Portico's shell derives for Glewlwyd in RFC 8707 mode: every API scope at sign-in,
/// one resource per token request, Glewlwyd's own revocation.
fn provider(op: &Glewlwyd, redirect: RedirectUri) -> ProviderConfig {
    fixture::glewlwyd(op)
        .and_then(|b| b.redirect(redirect).build())
        .expect("provider fixture")
}

fn options() -> BrokerOptions {
    BrokerOptions {
        http_timeout: Duration::from_secs(5),
        retry_base_delay: Duration::from_millis(20),
        ..BrokerOptions::default()
    }
}

fn deep_link() -> RedirectUri {
    RedirectUri::PrivateScheme(Url::parse(CUSTOM_SCHEME_REDIRECT_URI).unwrap())
}

struct Rig {
    op: Glewlwyd,
    apis: DemoApis,
    store: Arc<MemoryStore>,
    clock: Arc<ManualClock>,
    config: ProviderConfig,
}

impl Rig {
    async fn start(
        options: GlewlwydOptions,
        redirect: impl FnOnce(&Glewlwyd) -> RedirectUri,
    ) -> Rig {
        let op = Glewlwyd::start(options).await.expect("Glewlwyd starts");
        let apis = DemoApis::start(op.issuer(), &IdpConfig::portico_demo().apis)
            .await
            .expect("demo APIs trusting Glewlwyd's JWKS");
        let config = provider(&op, redirect(&op));
        Rig {
            op,
            apis,
            store: Arc::new(MemoryStore::new()),
            clock: Arc::new(ManualClock::starting_now()),
            config,
        }
    }

    /// A broker on this rig's store and clock ("the app", or the app after a restart).
    fn broker(&self) -> Broker {
        Broker::new(
            self.config.clone(),
            options(),
            self.store.clone(),
            self.clock.clone(),
        )
        .unwrap()
    }

    async fn sign_in(&self, broker: &Broker, user: &str) -> SessionInfo {
        let login = broker
            .begin_login(match self.config.redirect() {
                RedirectUri::Loopback { .. } => Some(self.op.loopback_redirect_uri().clone()),
                RedirectUri::PrivateScheme(_) => None,
            })
            .await
            .expect("begin_login");
        let callback = self
            .op
            .sign_in(login.authorize_url.as_str(), user)
            .await
            .expect("a person signs in at Glewlwyd");
        broker
            .complete_login(&callback)
            .await
            .expect("complete_login")
    }

    /// Each API accepts its own token and refuses the others' (checked by the resource server).
    async fn each_api_accepts_only_its_own_token(&self, broker: &Broker) -> Vec<TokenGrant> {
        let http = reqwest::Client::new();
        let mut grants = Vec::new();
        for (api, scope) in [
            (BILLING, "read:invoices"),
            (CORE, "read:dashboard"),
            (ANALYTICS, "read:reports"),
        ] {
            let g = broker
                .get_token(&aud(api), &scopes(scope))
                .await
                .unwrap_or_else(|e| panic!("{api}: {e}"));
            assert_eq!(g.audience, api);
            assert_eq!(claims(g.access_token.expose_secret())["aud"], api);
            for (other, _) in api_configs() {
                let status = http
                    .get(self.apis.url_for(&other).unwrap().join("data").unwrap())
                    .bearer_auth(g.access_token.expose_secret())
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16();
                let expected = if other == api { 200 } else { 401 };
                assert_eq!(status, expected, "{api}'s token at {other}");
            }
            grants.push(g);
        }
        grants
    }
}

fn api_configs() -> Vec<(String, ApiConfig)> {
    IdpConfig::portico_demo()
        .apis
        .into_iter()
        .map(|a| (a.identifier.clone(), a))
        .collect()
}

fn claims(jwt: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn one_sign_in_by_deep_link_gives_each_api_a_token_for_itself() {
    let rig = Rig::start(GlewlwydOptions::default(), |_| deep_link()).await;
    let broker = rig.broker();
    let who = rig.sign_in(&broker, "alice").await;
    assert_eq!(who.name.as_deref(), Some("Alice Admin"));
    assert_eq!(who.issuer, rig.op.issuer().as_str());
    // The sign-in's own token is billing's (the one resource the code exchange named).
    let cached = broker.cached_token(&aud(BILLING), &scopes("read:invoices"));
    assert!(cached.is_some(), "the code exchange's token is cached");
    let grants = rig.each_api_accepts_only_its_own_token(&broker).await;
    assert_eq!(
        grants[0].access_token,
        cached.unwrap().access_token,
        "billing was served from the sign-in's token"
    );
    let stored = rig.store.load().unwrap().expect("session stored");
    assert_eq!(stored.subject, who.subject);
}

#[tokio::test]
async fn a_restart_restores_the_session_without_a_browser() {
    let rig = Rig::start(GlewlwydOptions::default(), |_| deep_link()).await;
    let first = rig.broker();
    let who = rig.sign_in(&first, "alice").await;
    drop(first);
    let second = rig.broker();
    let restored = second.silent_login().await.expect("silent login");
    assert_eq!(restored.subject, who.subject);
    rig.each_api_accepts_only_its_own_token(&second).await;
}

#[tokio::test]
async fn tokens_in_use_are_refreshed_before_they_expire() {
    let rig = Rig::start(GlewlwydOptions::default(), |_| deep_link()).await;
    let broker = rig.broker();
    rig.sign_in(&broker, "alice").await;
    let before = rig.each_api_accepts_only_its_own_token(&broker).await;
    let mut events = broker.subscribe();
    // Glewlwyd's tokens live 300 s; refresh_skew is 120 s: due after 180 s on our clock. (Not
    // past 300 s: Glewlwyd's refreshed ID tokens share that lifetime and must still be valid.)
    rig.clock.advance(Duration::from_secs(200));
    let _task = broker.start_proactive_refresh();
    let mut refreshed = std::collections::BTreeSet::new();
    while refreshed.len() < 3 {
        match tokio::time::timeout(Duration::from_secs(60), events.recv()).await {
            Ok(Ok(BrokerEvent::TokenRefreshed {
                audience, grant, ..
            })) => {
                assert_eq!(
                    claims(grant.access_token.expose_secret())["aud"],
                    audience.as_str()
                );
                refreshed.insert(audience.to_string());
            }
            Ok(Ok(BrokerEvent::RefreshFailed { audience, error })) => {
                panic!("proactive refresh of {audience} failed: {error}")
            }
            Ok(_) => {}
            Err(_) => panic!("no proactive refresh within 60 s: {refreshed:?}"),
        }
    }
    let after = rig.each_api_accepts_only_its_own_token(&broker).await;
    for (b, a) in before.iter().zip(&after) {
        assert_ne!(
            b.access_token, a.access_token,
            "{}: a new token",
            a.audience
        );
    }
}

#[tokio::test]
async fn sign_out_revokes_the_refresh_token_at_glewlwyd() {
    let rig = Rig::start(GlewlwydOptions::default(), |_| deep_link()).await;
    let broker = rig.broker();
    rig.sign_in(&broker, "alice").await;
    let rt = rig.store.load().unwrap().unwrap().refresh_token;
    let enabled = |list: &[portico_testkit::glewlwyd::RefreshTokenInfo]| {
        list.iter()
            .find(|t| t.is_for(rt.expose_secret()))
            .map(|t| t.enabled)
    };
    assert_eq!(
        enabled(&rig.op.refresh_tokens("alice").await.unwrap()),
        Some(true)
    );
    let end_session = broker.logout().await.expect("logout");
    assert!(
        end_session.is_some_and(|u| u
            .as_str()
            .starts_with(rig.op.end_session_endpoint().as_str())),
        "the provider's end-session page is opened in the browser"
    );
    assert_eq!(
        enabled(&rig.op.refresh_tokens("alice").await.unwrap()),
        Some(false),
        "revoked at the provider"
    );
    assert!(rig.store.load().unwrap().is_none());
    let err = broker
        .get_token(&aud(CORE), &scopes("read:dashboard"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "login_required");
}

#[tokio::test]
async fn a_revoked_grant_is_login_required_with_a_sentence_and_the_session_ends() {
    // Glewlwyd answers a revoked refresh token with an empty 400 (no `invalid_grant`, RFC 6749
    // §5.2): the broker ends the session as it would for invalid_grant.
    let rig = Rig::start(GlewlwydOptions::default(), |_| deep_link()).await;
    let broker = rig.broker();
    rig.sign_in(&broker, "alice").await;
    let rt = rig.store.load().unwrap().unwrap().refresh_token;
    let revoked = reqwest::Client::new()
        .post(rig.op.token_endpoint())
        .form(&[
            ("grant_type", "delete_token"),
            ("refresh_token", rt.expose_secret()),
            ("client_id", CLIENT_ID),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status().as_u16(), 200);
    let err = broker
        .get_token(&aud(CORE), &scopes("read:dashboard"))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Sign-in required: the provider refused the session without giving a reason."
    );
    assert!(broker.session().is_none());
    assert!(
        rig.store.load().unwrap().is_none(),
        "the dead token is not kept"
    );
}

#[tokio::test]
async fn loopback_redirect_on_the_registered_port() {
    // Glewlwyd compares the loopback redirect URI with its port (RFC 8252 §7.3 says it should
    // not): the app is configured with the fixed port it registered.
    let rig = Rig::start(GlewlwydOptions::default(), |op| RedirectUri::Loopback {
        path: op.loopback_redirect_uri().path().into(),
        port: op.loopback_redirect_uri().port(),
    })
    .await;
    let broker = rig.broker();
    let who = rig.sign_in(&broker, "bob").await;
    assert_eq!(who.name.as_deref(), Some("Bob Viewer"));
    rig.each_api_accepts_only_its_own_token(&broker).await;
}

#[tokio::test]
async fn a_scope_the_user_lacks_is_scope_not_granted() {
    let rig = Rig::start(GlewlwydOptions::default(), |_| deep_link()).await;
    let broker = rig.broker();
    rig.sign_in(&broker, "bob").await;
    let err = broker
        .get_token(&aud(BILLING), &scopes("write:invoices"))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        AuthError::ScopeNotGranted {
            audience: BILLING.into(),
            missing: vec!["write:invoices".into()],
        }
    );
    // Bob's own scope still works.
    broker
        .get_token(&aud(BILLING), &scopes("read:invoices"))
        .await
        .unwrap();
}

/// Step-up against Glewlwyd, which cannot meet one: it refuses `max_age=0` (OIDC Core allows
/// it), ignores `acr_values` (no `acr` in the ID token), and states `auth_time` as 0. Each
/// attempt is a full sign-in at Glewlwyd; each ends typed with the provider's or our reason,
/// whatever the attempt brought is revoked at Glewlwyd, and the session goes on unchanged.
#[tokio::test]
async fn a_step_up_glewlwyd_cannot_meet_is_refused_typed_and_the_session_is_kept() {
    let rig = Rig::start(GlewlwydOptions::default(), |_| deep_link()).await;
    let broker = rig.broker();
    rig.sign_in(&broker, "alice").await;
    let rt = rig.store.load().unwrap().unwrap().refresh_token;
    let (urls, mut browser) = tokio::sync::mpsc::unbounded_channel::<String>();
    broker.set_interaction(Arc::new(move |p: StepUpPrompt| {
        let _ = urls.send(p.login.authorize_url.to_string());
    }));
    let billing = TokenRequest::new(
        "billing",
        aud(BILLING),
        ScopeSet::empty(),
        ScopeCeiling::new(ScopeSet::empty(), ScopeSet::empty()),
    )
    .unwrap();
    for (requirement, kind, reason) in [
        (
            AuthRequirement::new([], Some(0), None).unwrap(),
            "access_denied",
            "max_age invalid",
        ),
        (
            AuthRequirement::new(["mfa".to_owned()], None, None).unwrap(),
            "step_up_not_met",
            "no authentication class where `mfa` was asked for",
        ),
        (
            AuthRequirement::new([], Some(3600), None).unwrap(),
            "step_up_not_met",
            "older than the 3600 seconds",
        ),
    ] {
        let (b, r, w) = (broker.clone(), requirement.clone(), billing.clone());
        let waiting = tokio::spawn(async move { b.token_meeting(&w, &r).await });
        let url = browser.recv().await.expect("the browser is opened");
        let callback = rig
            .op
            .sign_in(&url, "alice")
            .await
            .expect("Glewlwyd answers");
        assert!(broker.complete_login(&callback).await.is_err());
        let err = waiting.await.unwrap().unwrap_err();
        assert_eq!(err.kind(), kind, "{requirement:?}: {err}");
        assert!(err.to_string().contains(reason), "{requirement:?}: {err}");
        // The session and its refresh token are as they were, and only that one is live.
        assert_eq!(rig.store.load().unwrap().unwrap().refresh_token, rt);
        let live: Vec<_> = rig
            .op
            .refresh_tokens("alice")
            .await
            .unwrap()
            .into_iter()
            .filter(|t| t.enabled)
            .collect();
        assert_eq!(live.len(), 1, "{requirement:?}: {live:?}");
        assert!(live[0].is_for(rt.expose_secret()));
        assert!(broker.token_for(&billing).await.is_ok());
    }
}
