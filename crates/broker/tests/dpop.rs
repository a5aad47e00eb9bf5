//! DPoP (RFC 9449) end to end at the broker, against the dev provider and its demo APIs over
//! real HTTP: proofs on the code exchange and every refresh, the refresh token bound to a key
//! kept beside it in the store, nonces from the token endpoint and the APIs, bound access
//! tokens kept from pages and used by the native fetch, and a new key at every sign-in.

mod common;
use common::*;
use portico_broker::dpop::DpopKey;
use portico_broker::fetch::{ApiBase, ApiRoute, FetchCaller, FetchInput};
use portico_broker::*;
use portico_dev_idp::{DemoApis, IdpConfig, ANALYTICS_API, BILLING_API, CORE_API};
use std::sync::Arc;

/// A broker with DPoP on, signed in as alice, and the demo APIs.
struct Rig {
    env: Env,
    apis: DemoApis,
}

async fn rig(idp: IdpConfig) -> Rig {
    let apis_config = idp.apis.clone();
    let env = env_with(idp, Dialect::Auth0, options(), Arc::new(MemoryStore::new()))
        .await
        .with_dpop(Mode::On);
    login(&env.broker, "alice").await;
    let apis = DemoApis::start(env.idp.issuer(), &apis_config)
        .await
        .unwrap();
    Rig { env, apis }
}

impl Rig {
    fn caller(&self, audience: &str) -> FetchCaller {
        let ceiling = ScopeCeiling::new(ScopeSet::empty(), ScopeSet::empty());
        FetchCaller {
            id: "mfe".into(),
            routes: vec![ApiRoute {
                base: ApiBase::parse(self.apis.url_for(audience).unwrap().as_str()).unwrap(),
                audience: aud(audience),
                ceiling,
            }],
        }
    }

    async fn fetch_data(&self, audience: &str) -> Result<u16, AuthError> {
        let url = self.apis.url_for(audience).unwrap().join("data").unwrap();
        self.env
            .broker
            .fetch(
                &self.caller(audience),
                FetchInput {
                    url: url.to_string(),
                    method: "GET".into(),
                    ..FetchInput::default()
                },
                std::future::pending(),
            )
            .await
            .map(|o| o.status)
    }

    fn stored_key(&self) -> DpopKey {
        let stored = self.env.store.load().unwrap().expect("a stored session");
        DpopKey::from_pkcs8(stored.dpop_key.expect("the key is stored").expose_secret()).unwrap()
    }
}

#[tokio::test]
async fn the_refresh_token_is_bound_and_bound_tokens_never_reach_a_page() {
    let r = rig(IdpConfig::portico_demo()).await;
    let c = r.env.admin.counters();
    assert_eq!(c.dpop_proofs, 1, "the code exchange carried a proof");
    assert_eq!(c.dpop_refusals, 0);

    // The refresh token and its key are stored together; stolen alone, the token is useless.
    let key = r.stored_key();
    let rt = r.env.stored_rt().unwrap();
    let (status, body) = r.env.raw_refresh(&rt).await;
    assert_eq!(status, 400, "a bound refresh token without a proof: {body}");

    // Bound access tokens are the shell's: no page gets one, by any path.
    let request = TokenRequest::new(
        "billing",
        billing(),
        ScopeSet::empty(),
        ScopeCeiling::new(ScopeSet::empty(), ScopeSet::empty()),
    )
    .unwrap();
    assert_eq!(
        r.env.broker.token_for(&request).await.unwrap_err(),
        AuthError::TokenNotExposed
    );
    assert_eq!(r.env.broker.cached_token_for(&request), None);
    assert_eq!(
        r.env
            .broker
            .get_token(&core(), &ScopeSet::empty())
            .await
            .unwrap_err(),
        AuthError::TokenNotExposed
    );
    assert_eq!(r.env.broker.cached_token(&core(), &ScopeSet::empty()), None);

    // The native fetch uses them, with a proof the API checks (ath, htm, htu, jti).
    let mut events = r.env.broker.subscribe();
    assert_eq!(r.fetch_data(BILLING_API).await.unwrap(), 200);
    assert_eq!(r.fetch_data(ANALYTICS_API).await.unwrap(), 200);
    let analytics = r.apis.dpop_counters(ANALYTICS_API).unwrap();
    assert_eq!((analytics.proofs, analytics.refusals), (1, 0));

    // A bound token stolen from memory (here: from the event a host would filter) is refused
    // by the API without the key, as a bearer token and as a DPoP token without a proof.
    let grant = match wait_event(&mut events, 5, |e| {
        matches!(e, BrokerEvent::TokenRefreshed { audience, .. } if audience.as_str() == ANALYTICS_API)
    })
    .await
    {
        Some(BrokerEvent::TokenRefreshed { grant, .. }) => grant,
        other => panic!("no refresh event for analytics: {other:?}"),
    };
    assert!(grant.is_sender_constrained());
    assert_eq!(grant.token_type, "DPoP");
    let at = grant.access_token.expose_secret();
    assert_eq!(claims(at)["cnf"]["jkt"], key.thumbprint());
    let url = r.apis.url_for(ANALYTICS_API).unwrap().join("data").unwrap();
    for scheme in ["Bearer", "DPoP"] {
        let status = reqwest::Client::new()
            .get(url.clone())
            .header("authorization", format!("{scheme} {at}"))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 401, "replayed as {scheme}");
    }
    assert_eq!(
        r.env.admin.counters().dpop_refusals,
        1,
        "only the stolen refresh token's attempt was refused at the provider"
    );
}

#[tokio::test]
async fn server_nonces_are_learnt_and_retried_once() {
    let idp = start_idp(IdpConfig::portico_demo()).await;
    idp.admin().set_dpop_nonce(true);
    let apis_config = IdpConfig::portico_demo().apis;
    let env = Env::on(idp, Dialect::Auth0).with_dpop(Mode::On);
    login(&env.broker, "alice").await;
    let c = env.admin.counters();
    assert_eq!(
        c.dpop_nonce_challenges, 1,
        "one challenge, then the nonce was used"
    );

    let apis = DemoApis::start(env.idp.issuer(), &apis_config)
        .await
        .unwrap();
    apis.set_dpop_nonce(true);
    let r = Rig { env, apis };
    // A new nonce at the provider: the next refresh is challenged once and succeeds.
    r.env.admin.rotate_dpop_nonce();
    assert_eq!(r.fetch_data(CORE_API).await.unwrap(), 200);
    assert_eq!(r.env.admin.counters().dpop_nonce_challenges, 2);
    // The API's own nonce: learnt from its first challenge, then used.
    let core = r.apis.dpop_counters(CORE_API).unwrap();
    assert_eq!((core.nonce_challenges, core.proofs), (1, 1));
    assert_eq!(r.fetch_data(CORE_API).await.unwrap(), 200);
    assert_eq!(r.apis.dpop_counters(CORE_API).unwrap().nonce_challenges, 1);
}

#[tokio::test]
async fn the_key_survives_a_restart_and_a_new_sign_in_gets_a_new_one() {
    let r = rig(IdpConfig::portico_demo()).await;
    let first = r.stored_key();

    // A restarted app restores the key with the refresh token and proves it.
    let restarted = r.env.restart(options());
    restarted.silent_login().await.unwrap();
    assert!(r.env.admin.counters().dpop_proofs >= 2);

    // Sign-out drops the key with the session; the next sign-in makes another.
    restarted.logout().await.unwrap();
    assert!(r.env.store.load().unwrap().is_none());
    login(&restarted, "alice").await;
    let second = r.stored_key();
    assert_ne!(first.thumbprint(), second.thumbprint());
}

/// The provider decides per API (RFC 9449 §5, `token_type`): an API that does not ask for
/// sender-constrained tokens gets Bearer tokens a page may have, from the same bound session.
#[tokio::test]
async fn bearer_tokens_from_a_bound_session_are_handed_out_as_before() {
    let mut idp = IdpConfig::portico_demo();
    for api in &mut idp.apis {
        api.sender_constrained = api.identifier == ANALYTICS_API;
    }
    let r = rig(idp).await;
    let billing_token = r
        .env
        .broker
        .get_token(&billing(), &scopes("read:invoices"))
        .await
        .unwrap();
    assert_eq!(billing_token.token_type, "Bearer");
    assert!(claims(billing_token.access_token.expose_secret())
        .get("cnf")
        .is_none());
    assert_eq!(
        r.env
            .broker
            .get_token(&analytics(), &ScopeSet::empty())
            .await
            .unwrap_err(),
        AuthError::TokenNotExposed
    );
    // Both work through the native fetch.
    assert_eq!(r.fetch_data(BILLING_API).await.unwrap(), 200);
    assert_eq!(r.fetch_data(ANALYTICS_API).await.unwrap(), 200);
}

#[tokio::test]
async fn dpop_switched_on_for_a_provider_without_it_is_a_clear_refusal() {
    let idp = start_idp(IdpConfig {
        dpop: false,
        ..IdpConfig::portico_demo()
    })
    .await;
    let env = Env::on(idp, Dialect::Auth0).with_dpop(Mode::On);
    let err = env.broker.begin_login(None).await.unwrap_err();
    assert_eq!(err.kind(), "config_invalid");
    assert!(err.to_string().contains("DPoP"), "{err}");
    // auto: the provider does not offer it, so a plain sign-in.
    let env = env.with_dpop(Mode::Auto);
    login(&env.broker, "alice").await;
    assert_eq!(env.store.load().unwrap().unwrap().dpop_key, None);
}
