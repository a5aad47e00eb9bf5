//! Forged callbacks (issue 6): each is refused with a typed error before any code is spent (or,
//! for a code of another transaction, by the provider's PKCE check), the pending sign-in
//! survives, nothing panics, and the genuine callback still completes afterwards.
//! Cases already in `login.rs` are the basics; this is the full table with figures.

mod adversarial;
mod common;
use adversarial::record;
use common::*;
use portico_broker::*;
use portico_testkit::browser;
use serde_json::json;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

const SUITE: &str = "callbacks";

fn param(url: &str, name: &str) -> String {
    Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn invalid(reason: CallbackDefect) -> AuthError {
    AuthError::InvalidCallback { reason }
}

/// Tries one forged callback: refused as expected, pending login intact, no session.
async fn forged(e: &Env, case: &str, url: &str, expected: &AuthError) {
    let result = e.broker.complete_login(url).await;
    let outcome = match &result {
        Ok(_) => "accepted".to_string(),
        Err(err) => serde_json::to_value(err).unwrap()["kind"]
            .as_str()
            .unwrap()
            .to_string(),
    };
    let survived = e.broker.pending_login();
    record(
        SUITE,
        case,
        expected.kind(),
        &outcome,
        json!({"pending_survived": survived, "url_bytes": url.len()}),
    );
    assert_eq!(result.as_ref().err(), Some(expected), "{case}: {url:.200}");
    assert!(survived, "{case}: the pending sign-in survives");
    assert!(e.broker.session().is_none(), "{case}: no session");
}

#[tokio::test]
async fn twenty_plus_forged_callbacks_are_refused_and_the_sign_in_survives() {
    let e = env(Dialect::Auth0).await;
    let good = callback_for(&e.broker, "alice").await;
    let (state, code) = (param(&good, "state"), param(&good, "code"));
    let iss = enc(e.idp.issuer().as_str());
    let ok_tail = format!("code={code}&state={state}&iss={iss}");

    // A code the provider issued for ANOTHER transaction (another broker's PKCE verifier).
    let other = e.restart(options());
    let other_cb = callback_for(&other, "bob").await;
    let foreign_code = param(&other_cb, "code");

    let long = "a".repeat(9000);
    let cases: Vec<(&str, String, AuthError)> = vec![
        ("empty string", String::new(), invalid(CallbackDefect::Malformed)),
        ("not a URL", "garbage callback".into(), invalid(CallbackDefect::Malformed)),
        ("missing state", format!("{CALLBACK}?code={code}&iss={iss}"), invalid(CallbackDefect::MissingState)),
        ("unknown state", format!("{CALLBACK}?code={code}&state=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA&iss={iss}"), AuthError::StateMismatch),
        ("empty state", format!("{CALLBACK}?code={code}&state=&iss={iss}"), AuthError::StateMismatch),
        ("state of other case", format!("{CALLBACK}?code={code}&state={}&iss={iss}", state.to_ascii_uppercase()), AuthError::StateMismatch),
        ("state of the other transaction", format!("{CALLBACK}?code={code}&state={}&iss={iss}", param(&other_cb, "state")), AuthError::StateMismatch),
        ("iss of another issuer (RFC 9207 mix-up)", format!("{CALLBACK}?code={code}&state={state}&iss={}", enc("https://evil.example/")), AuthError::IssuerMismatch),
        ("iss without trailing slash", format!("{CALLBACK}?code={code}&state={state}&iss={}", enc(e.idp.issuer().as_str().trim_end_matches('/'))), AuthError::IssuerMismatch),
        ("iss missing though advertised", format!("{CALLBACK}?code={code}&state={state}"), invalid(CallbackDefect::MissingIssuer)),
        ("error=access_denied with forged state", format!("{CALLBACK}?error=access_denied&state=forged&iss={iss}"), AuthError::StateMismatch),
        ("error=login_required with forged state", format!("{CALLBACK}?error=login_required&state=forged&iss={iss}"), AuthError::StateMismatch),
        ("error=server_error without state", format!("{CALLBACK}?error=server_error&iss={iss}"), invalid(CallbackDefect::MissingState)),
        ("error=consent_required from another issuer", format!("{CALLBACK}?error=consent_required&state={state}&iss={}", enc("https://evil.example/")), AuthError::IssuerMismatch),
        ("wrong scheme", format!("evil.app:/callback?{ok_tail}"), invalid(CallbackDefect::RedirectMismatch)),
        ("http scheme", format!("http://127.0.0.1/callback?{ok_tail}"), invalid(CallbackDefect::RedirectMismatch)),
        ("host added to the private scheme", format!("dev.portico.app://evil.example/callback?{ok_tail}"), invalid(CallbackDefect::RedirectMismatch)),
        ("wrong path", format!("dev.portico.app:/callback2?{ok_tail}"), invalid(CallbackDefect::RedirectMismatch)),
        ("path in other case", format!("dev.portico.app:/Callback?{ok_tail}"), invalid(CallbackDefect::RedirectMismatch)),
        ("response in the fragment", format!("{CALLBACK}#{ok_tail}"), invalid(CallbackDefect::MissingState)),
        ("duplicate state", format!("{CALLBACK}?{ok_tail}&state={state}"), invalid(CallbackDefect::DuplicateParameter)),
        ("duplicate code", format!("{CALLBACK}?{ok_tail}&code=injected"), invalid(CallbackDefect::DuplicateParameter)),
        ("duplicate iss", format!("{CALLBACK}?{ok_tail}&iss={iss}"), invalid(CallbackDefect::DuplicateParameter)),
        ("duplicate state, percent-encoded name", format!("{CALLBACK}?{ok_tail}&st%61te=forged"), invalid(CallbackDefect::DuplicateParameter)),
        ("code and error together, error repeated", format!("{CALLBACK}?{ok_tail}&error=x&error=y"), invalid(CallbackDefect::DuplicateParameter)),
        ("overlong URL (9 kB)", format!("{CALLBACK}?{ok_tail}&pad={long}"), invalid(CallbackDefect::Malformed)),
        ("invalid UTF-8 in code", format!("{CALLBACK}?code=%FF%FE{code}&state={state}&iss={iss}"), invalid(CallbackDefect::Malformed)),
        ("invalid UTF-8 in state", format!("{CALLBACK}?code={code}&state={state}%C3&iss={iss}"), invalid(CallbackDefect::Malformed)),
        ("invalid UTF-8 in a parameter name", format!("{CALLBACK}?{ok_tail}&%80=1"), invalid(CallbackDefect::Malformed)),
        ("no code, no error", format!("{CALLBACK}?state={state}&iss={iss}"), invalid(CallbackDefect::MissingCode)),
        ("empty code", format!("{CALLBACK}?code=&state={state}&iss={iss}"), invalid(CallbackDefect::MissingCode)),
    ];
    let n = cases.len();
    assert!(n >= 20);
    for (case, url, expected) in &cases {
        forged(&e, case, url, expected).await;
    }
    assert_eq!(
        e.admin.counters().token_authorization_code,
        0,
        "no forged callback reached the token endpoint"
    );

    // The code of the other transaction passes our checks (right state, right iss) and is
    // refused by the provider: PKCE binds it to the other verifier. The sign-in stays pending.
    forged(
        &e,
        "code meant for another transaction",
        &format!("{CALLBACK}?code={foreign_code}&state={state}&iss={iss}"),
        &AuthError::ProviderError {
            endpoint: "token".into(),
            status: Some(400),
            error: Some("invalid_grant".into()),
            description: Some("PKCE verification failed".into()),
        },
    )
    .await;
    assert_eq!(e.admin.counters().token_authorization_code, 1);

    // The genuine callback still completes.
    let info = e.broker.complete_login(&good).await.unwrap();
    assert_eq!(info.subject, "auth0|alice");
    let rt = e.stored_rt().unwrap();

    // After success: the same callback again, a fresh code for the used state, a forged one.
    let used_req_code = browser::sign_in(
        // The provider would happily issue another code for the old authorize request.
        e.broker
            .begin_login(None)
            .await
            .unwrap()
            .authorize_url
            .as_str(),
        "bob",
    )
    .await
    .unwrap();
    e.broker.cancel_login();
    let fresh_code_old_state = format!(
        "{CALLBACK}?code={}&state={state}&iss={iss}",
        param(&used_req_code, "code")
    );
    for (case, url, expected) in [
        (
            "second callback after success (replay)",
            good.clone(),
            AuthError::NoPendingLogin,
        ),
        (
            "new code with the used state after success",
            fresh_code_old_state,
            AuthError::NoPendingLogin,
        ),
        (
            "forged state after success",
            format!("{CALLBACK}?code={code}&state=forged&iss={iss}"),
            AuthError::NoPendingLogin,
        ),
    ] {
        let r = e.broker.complete_login(&url).await;
        record(
            SUITE,
            case,
            expected.kind(),
            &adversarial::kind_of(&r),
            json!({"session_kept": e.broker.session().is_some()}),
        );
        assert_eq!(r.unwrap_err(), expected, "{case}");
        assert_eq!(
            e.broker.session().unwrap().subject,
            "auth0|alice",
            "{case}: session untouched"
        );
    }
    assert_eq!(
        e.stored_rt().unwrap(),
        rt,
        "the stored session is the first sign-in's"
    );
    assert_eq!(
        e.admin.counters().token_authorization_code,
        2,
        "only the foreign code and the genuine one were ever exchanged"
    );
    // The session works: its refresh token was never revoked by a replay.
    e.broker
        .get_token(&billing(), &scopes("read:invoices"))
        .await
        .unwrap();
}

#[tokio::test]
async fn an_expired_state_is_refused_and_a_new_sign_in_works() {
    let e = env(Dialect::Rfc8707).await;
    let cb = callback_for(&e.broker, "alice").await;
    e.clock.advance(Duration::from_secs(601));
    let r = e.broker.complete_login(&cb).await;
    record(
        SUITE,
        "expired state",
        "login_expired",
        &adversarial::kind_of(&r),
        json!({}),
    );
    assert_eq!(r.unwrap_err(), AuthError::LoginExpired);
    // Expired is final for that transaction: a retry of the same URL finds nothing pending.
    let r = e.broker.complete_login(&cb).await;
    record(
        SUITE,
        "expired state, replayed",
        "no_pending_login",
        &adversarial::kind_of(&r),
        json!({}),
    );
    assert_eq!(r.unwrap_err(), AuthError::NoPendingLogin);
    assert_eq!(e.admin.counters().token_authorization_code, 0);
    assert_eq!(login(&e.broker, "alice").await.subject, "auth0|alice");
}

#[tokio::test]
async fn a_genuine_error_response_ends_only_its_own_attempt() {
    // With the right state and iss the provider really did refuse: typed, the attempt is over
    // (the provider ended it), and nothing else changes.
    let e = env(Dialect::Auth0).await;
    let signed_in = login(&e.broker, "alice").await;
    for code in [
        "access_denied",
        "login_required",
        "consent_required",
        "interaction_required",
        "temporarily_unavailable",
        "server_error",
        "invalid_scope",
    ] {
        // The state comes from the provider's redirect: with pushed authorization requests
        // (on by default) the browser's URL itself carries no state.
        let genuine = callback_for(&e.broker, "alice").await;
        let state = param(&genuine, "state");
        let url = format!(
            "{CALLBACK}?error={code}&error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E%0A&state={state}&iss={}",
            enc(e.idp.issuer().as_str())
        );
        let r = e.broker.complete_login(&url).await;
        record(
            SUITE,
            &format!("error={code} (genuine)"),
            "access_denied",
            &adversarial::kind_of(&r),
            json!({}),
        );
        match r.unwrap_err() {
            AuthError::AccessDenied { error, description } => {
                assert_eq!(error, code);
                // Sanitized to RFC 6749 error-description characters: no newline survives.
                assert!(!description.unwrap_or_default().contains('\n'));
            }
            other => panic!("{code}: {other:?}"),
        }
        assert_eq!(e.broker.session(), Some(signed_in.clone()), "{code}");
    }
}

/// Issue 15.5: a flood of callbacks while nothing is pending reads the keyring once per
/// process (to find a sign-in an earlier run began), not once per callback; a locked keyring
/// is asked again.
#[tokio::test]
async fn callbacks_with_nothing_pending_do_not_read_the_keyring_each_time() {
    let store = Arc::new(ObservedStore::default());
    let e = env_with(
        portico_dev_idp::IdpConfig::portico_demo(),
        Dialect::Auth0,
        options(),
        store.clone(),
    )
    .await;
    let forged = format!(
        "{CALLBACK}?code=x&state=forged-state-0123456789&iss={}",
        enc(e.idp.issuer().as_str())
    );
    store.fail_all.store(true, Ordering::SeqCst);
    assert!(e.broker.complete_login(&forged).await.is_err());
    store.fail_all.store(false, Ordering::SeqCst);
    for _ in 0..50 {
        assert_eq!(
            e.broker.complete_login(&forged).await.unwrap_err(),
            AuthError::NoPendingLogin
        );
    }
    let loads = store.pending_loads.load(Ordering::SeqCst);
    record(
        SUITE,
        "51 callbacks, nothing pending",
        // One locked read, then one real read.
        "keyring read 2 times",
        &format!("keyring read {loads} times"),
        json!({"callbacks": 51, "keyring_reads": loads}),
    );
    assert_eq!(loads, 2, "one locked read, one real read");
    // A genuine sign-in still works afterwards.
    assert_eq!(login(&e.broker, "alice").await.subject, "auth0|alice");
}
