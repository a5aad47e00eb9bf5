//! Step-up at the broker, against the dev provider over real HTTP (rotating refresh tokens, as
//! Auth0): a requirement met from the cache, `max_age` forcing a new sign-in, another person's
//! sign-in refused with the session kept, cancel, concurrent requests sharing one sign-in, one
//! refresh-token lineage across the step-up, and the native fetch stepping up on an RFC 9470
//! challenge. The "browser" is the scripted one, with its SSO cookie, completing the callback.

mod common;
use common::*;
use portico_broker::fetch::{ApiBase, ApiRoute, FetchCaller, FetchInput};
use portico_broker::*;
use portico_dev_idp::{DemoApis, IdpConfig, ACR_MFA, BILLING_API};
use portico_testkit::browser::Browser;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the scripted person does when the broker asks for a step-up.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Person {
    /// Signs in as this user (with the second factor when asked).
    SignsInAs(&'static str),
    /// Does nothing; the test cancels.
    Waits,
}

struct Rig {
    env: Env,
    browser: Browser,
    prompts: Arc<AtomicUsize>,
    views: Arc<Mutex<Vec<StepUpView>>>,
    person: Arc<Mutex<Person>>,
}

async fn rig() -> Rig {
    let env = env(Dialect::Auth0).await;
    let browser = Browser::new().expect("browser");
    // Alice signs in plainly first: her SSO session has no second factor.
    let req = env.broker.begin_login(None).await.unwrap();
    let cb = browser
        .sign_in(req.authorize_url.as_str(), "alice")
        .await
        .unwrap();
    env.broker.complete_login(&cb).await.unwrap();
    let prompts = Arc::new(AtomicUsize::new(0));
    let views = Arc::new(Mutex::new(Vec::new()));
    let person = Arc::new(Mutex::new(Person::SignsInAs("alice")));
    let (b, br, n, v, p) = (
        env.broker.clone(),
        browser.clone(),
        prompts.clone(),
        views.clone(),
        person.clone(),
    );
    env.broker
        .set_interaction(Arc::new(move |prompt: StepUpPrompt| {
            n.fetch_add(1, Ordering::SeqCst);
            v.lock().unwrap().push(prompt.view.clone());
            let who = *p.lock().unwrap();
            let (b, br) = (b.clone(), br.clone());
            tokio::spawn(async move {
                if let Person::SignsInAs(user) = who {
                    let cb = br
                        .sign_in(prompt.login.authorize_url.as_str(), user)
                        .await
                        .expect("step-up in the browser");
                    let _ = b.complete_login(&cb).await;
                }
            });
        }));
    Rig {
        env,
        browser,
        prompts,
        views,
        person,
    }
}

fn billing_request() -> TokenRequest {
    TokenRequest::new(
        "billing",
        billing(),
        ScopeSet::empty(),
        ScopeCeiling::new(
            scopes("read:invoices write:invoices"),
            scopes("read:invoices write:invoices"),
        ),
    )
    .unwrap()
}

fn mfa(max_age: Option<u64>) -> AuthRequirement {
    AuthRequirement::new([ACR_MFA.to_owned()], max_age, None).unwrap()
}

#[tokio::test]
async fn a_step_up_brings_an_mfa_token_and_the_same_requirement_is_then_a_cache_hit() {
    let r = rig().await;
    let before = r.env.admin.counters();
    let grant = r
        .env
        .broker
        .token_meeting(&billing_request(), &mfa(None))
        .await
        .expect("stepped up");
    assert_eq!(claims(grant.access_token.expose_secret())["acr"], ACR_MFA);
    assert_eq!(r.prompts.load(Ordering::SeqCst), 1);
    let view = r.views.lock().unwrap()[0].clone();
    assert_eq!(view.caller, "billing");
    assert_eq!(view.audience, billing());
    assert_eq!(view.requirement.acr_values(), [ACR_MFA]);
    assert_eq!(
        r.env.admin.counters().token_authorization_code,
        before.token_authorization_code + 1
    );

    // Again: from memory, no browser, no provider.
    let at_provider = r.env.admin.counters();
    let again = r
        .env
        .broker
        .token_meeting(&billing_request(), &mfa(None))
        .await
        .unwrap();
    assert_eq!(again.access_token, grant.access_token);
    assert_eq!(r.prompts.load(Ordering::SeqCst), 1);
    assert_eq!(r.env.admin.counters(), at_provider);

    // A plain request is served too (a stronger token is still the audience's token), and the
    // session is still Alice's.
    assert!(r.env.broker.token_for(&billing_request()).await.is_ok());
    assert_eq!(r.env.broker.session().unwrap().subject, "auth0|alice");
}

#[tokio::test]
async fn max_age_asks_for_a_new_sign_in_once_the_last_one_is_too_old() {
    let r = rig().await;
    r.env
        .broker
        .token_meeting(&billing_request(), &mfa(Some(60)))
        .await
        .unwrap();
    assert_eq!(r.prompts.load(Ordering::SeqCst), 1);
    // Within a minute: the cache.
    r.env
        .broker
        .token_meeting(&billing_request(), &mfa(Some(60)))
        .await
        .unwrap();
    assert_eq!(r.prompts.load(Ordering::SeqCst), 1);
    // A requirement of one second, two seconds later (the provider's clock is real, ours too).
    tokio::time::sleep(Duration::from_millis(2100)).await;
    r.env.clock.advance(Duration::from_millis(2100));
    let grant = r
        .env
        .broker
        .token_meeting(&billing_request(), &mfa(Some(1)))
        .await
        .expect("a fresh sign-in");
    assert_eq!(r.prompts.load(Ordering::SeqCst), 2, "the browser again");
    let c = claims(grant.access_token.expose_secret());
    assert_eq!(c["acr"], ACR_MFA);
}

#[tokio::test]
async fn another_person_in_the_browser_is_refused_and_the_session_is_kept() {
    let r = rig().await;
    let rt_before = r.env.stored_rt().unwrap();
    *r.person.lock().unwrap() = Person::SignsInAs("bob");
    // Bob's browser session: a fresh profile would not know Alice; this one signs in as Bob.
    let e = r
        .env
        .broker
        .token_meeting(&billing_request(), &mfa(None))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), "step_up_wrong_user", "{e}");
    assert!(e.to_string().contains("still signed in as before"), "{e}");
    assert_eq!(r.env.broker.session().unwrap().subject, "auth0|alice");
    assert_eq!(
        r.env.stored_rt().unwrap(),
        rt_before,
        "the stored session is untouched"
    );
    // Bob's refresh token was revoked; Alice's still works.
    assert_eq!(r.env.admin.counters().active_families, 1);
    assert!(r
        .env
        .broker
        .get_token(&core(), &ScopeSet::empty())
        .await
        .is_ok());
    drop(r.browser);
}

#[tokio::test]
async fn cancelling_ends_the_step_up_typed_and_changes_nothing() {
    let r = rig().await;
    *r.person.lock().unwrap() = Person::Waits;
    let broker = r.env.broker.clone();
    let waiting =
        tokio::spawn(async move { broker.token_meeting(&billing_request(), &mfa(None)).await });
    while r.prompts.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(r.env.broker.pending_login());
    // Meanwhile every other caller keeps getting tokens.
    let dashboard = TokenRequest::new(
        "dashboard",
        core(),
        ScopeSet::empty(),
        ScopeCeiling::new(scopes("read:dashboard"), scopes("read:dashboard")),
    )
    .unwrap();
    assert!(r.env.broker.token_for(&dashboard).await.is_ok());
    assert!(r
        .env
        .broker
        .get_token(&analytics(), &ScopeSet::empty())
        .await
        .is_ok());
    r.env.broker.cancel_login();
    let e = waiting.await.unwrap().unwrap_err();
    assert_eq!(e, AuthError::StepUpCancelled);
    assert!(!r.env.broker.pending_login());
    assert_eq!(r.env.broker.session().unwrap().subject, "auth0|alice");
    assert!(r
        .env
        .broker
        .get_token(&billing(), &ScopeSet::empty())
        .await
        .is_ok());
}

#[tokio::test]
async fn concurrent_requests_for_one_requirement_share_one_sign_in() {
    let r = rig().await;
    let calls = (0..5).map(|_| {
        let broker = r.env.broker.clone();
        tokio::spawn(async move { broker.token_meeting(&billing_request(), &mfa(None)).await })
    });
    let mut tokens = Vec::new();
    for c in calls {
        tokens.push(c.await.unwrap().expect("stepped up").access_token);
    }
    assert_eq!(r.prompts.load(Ordering::SeqCst), 1, "one browser sign-in");
    assert!(tokens.windows(2).all(|w| w[0] == w[1]), "one token for all");
}

#[tokio::test]
async fn the_step_up_replaces_the_refresh_token_and_revokes_the_old_family() {
    let r = rig().await;
    let old_rt = r.env.stored_rt().unwrap();
    r.env
        .broker
        .token_meeting(&billing_request(), &mfa(None))
        .await
        .unwrap();
    let new_rt = r.env.stored_rt().unwrap();
    assert_ne!(new_rt, old_rt, "the step-up's refresh token is stored");
    let (status, body) = r.env.raw_refresh(&old_rt).await;
    assert_eq!(status, 400, "the old family is revoked: {body}");
    let c = r.env.admin.counters();
    assert_eq!(c.active_families, 1, "one lineage");
    assert_eq!(c.reuse_detections, 0);
    // Refreshes go on with the new token (an audience not fetched yet), and keep its acr.
    let analytics_token = r
        .env
        .broker
        .get_token(&analytics(), &ScopeSet::empty())
        .await
        .expect("refresh with the new lineage");
    assert_eq!(
        claims(analytics_token.access_token.expose_secret())["acr"],
        ACR_MFA
    );
    assert_eq!(r.env.admin.counters().reuse_detections, 0);
}

#[tokio::test]
async fn without_a_way_to_open_the_browser_a_step_up_is_interaction_required() {
    let env = env(Dialect::Auth0).await;
    login(&env.broker, "alice").await;
    let e = env
        .broker
        .token_meeting(&billing_request(), &mfa(None))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), "interaction_required");
    assert!(!env.broker.pending_login());
}

#[tokio::test]
async fn a_native_fetch_steps_up_on_the_apis_challenge_and_retries_once() {
    let r = rig().await;
    let apis = DemoApis::start(r.env.idp.issuer(), &IdpConfig::portico_demo().apis)
        .await
        .unwrap();
    let base = apis.url_for(BILLING_API).unwrap();
    let caller = FetchCaller {
        id: "billing".into(),
        routes: vec![ApiRoute {
            base: ApiBase::parse(base.as_str()).unwrap(),
            audience: billing(),
            ceiling: ScopeCeiling::new(
                scopes("read:invoices write:invoices"),
                scopes("read:invoices write:invoices"),
            ),
        }],
    };
    let out = r
        .env
        .broker
        .fetch(
            &caller,
            FetchInput {
                url: base.join("data").unwrap().to_string(),
                method: "POST".into(),
                ..FetchInput::default()
            },
            std::future::pending(),
        )
        .await
        .expect("the write goes through after the step-up");
    assert_eq!(out.status, 201, "{}", String::from_utf8_lossy(&out.body));
    assert_eq!(r.prompts.load(Ordering::SeqCst), 1);
    let body: serde_json::Value = serde_json::from_slice(&out.body).unwrap();
    assert_eq!(body["acr"], ACR_MFA);
}
