//! DPoP (RFC 9449) over real HTTP: proofs at the token endpoint, bound access and refresh
//! tokens, nonces, and the demo APIs checking bound tokens. Proofs are made by the broker's own
//! `DpopKey`; the defective ones are forged here with jsonwebtoken.

mod common;

use std::time::{Duration, SystemTime};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::*;
use jsonwebtoken::{Algorithm, EncodingKey};
use portico_broker::dpop::DpopKey;
use portico_dev_idp::{DemoApis, DevIdp, IdpConfig, BILLING_API, CORE_API, DEMO_CLIENT_ID};
use serde_json::{json, Value};
use url::Url;

const SCOPE: &str = "openid offline_access read:invoices";

fn key() -> DpopKey {
    DpopKey::generate().expect("dpop key")
}

fn token_url(idp: &DevIdp) -> Url {
    idp.issuer().join("oauth/token").expect("url")
}

/// A proof by `key` for `method url` made now.
fn proof(key: &DpopKey, method: &str, url: &Url, nonce: Option<&str>, at: Option<&str>) -> String {
    key.proof(method, url, SystemTime::now(), nonce, at)
        .expect("proof")
}

fn token_proof(idp: &DevIdp, key: &DpopKey, nonce: Option<&str>) -> String {
    proof(key, "POST", &token_url(idp), nonce, None)
}

/// A compact JWS with any header and claims, ES256-signed by `key` (what DpopKey never makes).
fn forge(key: &DpopKey, header: Value, claims: Value) -> String {
    let der = URL_SAFE_NO_PAD
        .decode(key.to_pkcs8().expose_secret())
        .expect("pkcs8");
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = jsonwebtoken::crypto::sign(
        input.as_bytes(),
        &EncodingKey::from_ec_der(&der),
        Algorithm::ES256,
    )
    .expect("sign");
    format!("{input}.{sig}")
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("time")
        .as_secs()
}

struct Answer {
    status: u16,
    body: Value,
    nonce: Option<String>,
    www: String,
}

async fn answer(resp: reqwest::Response) -> Answer {
    let status = resp.status().as_u16();
    let h = |n: &str| {
        resp.headers()
            .get(n)
            .map(|v| v.to_str().expect("ascii").to_owned())
    };
    let (nonce, www) = (h("dpop-nonce"), h("www-authenticate").unwrap_or_default());
    let body = resp.json().await.unwrap_or(Value::Null);
    Answer {
        status,
        body,
        nonce,
        www,
    }
}

/// POST the token endpoint with the given `DPoP` headers (none, one, or several).
async fn token_with(idp: &DevIdp, form: &[(&str, &str)], proofs: &[&str]) -> Answer {
    let mut req = http().post(token_url(idp)).form(form);
    for p in proofs {
        req = req.header("DPoP", *p);
    }
    answer(req.send().await.expect("token request")).await
}

fn exchange_form<'a>(code: &'a str, p: &'a Pkce) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("client_id", DEMO_CLIENT_ID),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", &p.verifier),
    ]
}

fn refresh_form(rt: &str) -> Vec<(&str, &str)> {
    vec![
        ("grant_type", "refresh_token"),
        ("client_id", DEMO_CLIENT_ID),
        ("refresh_token", rt),
    ]
}

/// Sign in as alice for billing; returns the code and its verifier (not yet exchanged).
async fn code_for(idp: &DevIdp) -> (String, Pkce) {
    let p = pkce();
    let cb = callback(
        idp,
        "alice",
        &p,
        &[("audience", BILLING_API), ("scope", SCOPE)],
    )
    .await;
    (cb["code"].clone(), p)
}

/// A login whose code exchange carries a proof of `key`.
async fn bound_login(idp: &DevIdp, key: &DpopKey) -> Value {
    let (code, p) = code_for(idp).await;
    let a = token_with(
        idp,
        &exchange_form(&code, &p),
        &[&token_proof(idp, key, None)],
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    a.body
}

fn assert_error(a: &Answer, status: u16, error: &str, why: &str) {
    assert_eq!(
        (a.status, a.body["error"].as_str()),
        (status, Some(error)),
        "{}",
        a.body
    );
    let d = a.body["error_description"].as_str().unwrap_or("");
    assert!(d.contains(why), "{why}: {d}");
}

#[tokio::test]
async fn discovery_advertises_es256_and_without_dpop_the_header_is_ignored() {
    let idp = start(|_| {}).await;
    let doc: Value = http()
        .get(
            idp.issuer()
                .join(".well-known/openid-configuration")
                .expect("url"),
        )
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("json");
    assert_eq!(doc["dpop_signing_alg_values_supported"], json!(["ES256"]));

    // A provider that knows no DPoP ignores the header: a bearer token, no binding.
    let plain = start(|c| c.dpop = false).await;
    let doc: Value = http()
        .get(
            plain
                .issuer()
                .join(".well-known/openid-configuration")
                .expect("url"),
        )
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("json");
    assert!(doc.get("dpop_signing_alg_values_supported").is_none());
    let k = key();
    let t = bound_login(&plain, &k).await;
    assert_eq!(t["token_type"], json!("Bearer"));
    assert!(claims(&t["access_token"]).get("cnf").is_none());
    let (s, r) = refresh(&plain, t["refresh_token"].as_str().expect("rt"), &[]).await;
    assert_eq!(s, 200, "unbound family: {r}");
    assert_eq!(plain.admin().counters().dpop_proofs, 0);
}

#[tokio::test]
async fn bound_code_exchange_and_refresh() {
    let idp = start(|_| {}).await;
    let k = key();
    let t = bound_login(&idp, &k).await;
    // RFC 9449 §5: token_type DPoP, and the access token confirms the key (§6.1).
    assert_eq!(t["token_type"], json!("DPoP"));
    let at = claims(&t["access_token"]);
    assert_eq!(at["cnf"], json!({ "jkt": k.thumbprint() }));
    assert_eq!(at["aud"], json!(BILLING_API));
    assert!(t["id_token"].is_string());
    let rt1 = t["refresh_token"].as_str().expect("rt").to_owned();

    // Refresh with a proof of the same key: bound again, rotated as usual.
    let a = token_with(&idp, &refresh_form(&rt1), &[&token_proof(&idp, &k, None)]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["token_type"], json!("DPoP"));
    assert_eq!(
        claims(&a.body["access_token"])["cnf"]["jkt"],
        json!(k.thumbprint())
    );
    let rt2 = a.body["refresh_token"].as_str().expect("successor");
    assert_ne!(rt2, rt1);
    assert!(a.nonce.is_none(), "no nonce header while nonces are off");

    // MRRT to another audience keeps the binding.
    let mut form = refresh_form(rt2);
    form.push(("audience", CORE_API));
    let a = token_with(&idp, &form, &[&token_proof(&idp, &k, None)]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let core = claims(&a.body["access_token"]);
    assert_eq!(
        (core["aud"].clone(), core["cnf"]["jkt"].clone()),
        (json!(CORE_API), json!(k.thumbprint()))
    );

    // Without a proof nothing changes: a bearer login, no cnf.
    let plain = login(&idp, "bob", &[("audience", BILLING_API)]).await;
    assert_eq!(plain["token_type"], json!("Bearer"));
    assert!(claims(&plain["access_token"]).get("cnf").is_none());

    let c = idp.admin().counters();
    assert_eq!(
        (c.dpop_proofs, c.dpop_refusals, c.dpop_nonce_challenges),
        (3, 0, 0)
    );
}

#[tokio::test]
async fn stolen_bound_refresh_token_is_useless_without_the_key() {
    let idp = start(|_| {}).await;
    let (owner, thief) = (key(), key());
    let t = bound_login(&idp, &owner).await;
    let rt = t["refresh_token"].as_str().expect("rt").to_owned();

    // No proof at all.
    let a = token_with(&idp, &refresh_form(&rt), &[]).await;
    assert_error(&a, 400, "invalid_dpop_proof", "DPoP proof is required");
    // A proof, but of the thief's key.
    let a = token_with(
        &idp,
        &refresh_form(&rt),
        &[&token_proof(&idp, &thief, None)],
    )
    .await;
    assert_error(
        &a,
        400,
        "invalid_grant",
        "the refresh token is bound to another DPoP key",
    );
    // Neither attempt rotated anything: the owner refreshes with the very same token.
    let ok = token_with(
        &idp,
        &refresh_form(&rt),
        &[&token_proof(&idp, &owner, None)],
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    // The rotated-out token in the thief's hands does not even trip reuse detection.
    let a = token_with(&idp, &refresh_form(&rt), &[]).await;
    assert_error(&a, 400, "invalid_dpop_proof", "DPoP proof is required");
    let c = idp.admin().counters();
    assert_eq!((c.reuse_detections, c.active_families), (0, 1));
    assert_eq!(c.dpop_refusals, 3);
    // So the owner's lineage goes on.
    let rt2 = ok.body["refresh_token"].as_str().expect("successor");
    let a = token_with(
        &idp,
        &refresh_form(rt2),
        &[&token_proof(&idp, &owner, None)],
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
}

#[tokio::test]
async fn unbound_family_refreshed_with_a_proof_gets_a_bound_access_token() {
    let idp = start(|_| {}).await;
    let k = key();
    let t = login(
        &idp,
        "alice",
        &[("audience", BILLING_API), ("scope", SCOPE)],
    )
    .await;
    let rt = t["refresh_token"].as_str().expect("rt");
    let a = token_with(&idp, &refresh_form(rt), &[&token_proof(&idp, &k, None)]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["token_type"], json!("DPoP"));
    assert_eq!(
        claims(&a.body["access_token"])["cnf"]["jkt"],
        json!(k.thumbprint())
    );
    // The family stays unbound: the next refresh without a proof is a bearer one.
    let (s, r) = refresh(&idp, a.body["refresh_token"].as_str().expect("rt"), &[]).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["token_type"], json!("Bearer"));
}

#[tokio::test]
async fn defective_proofs_are_refused_and_do_not_burn_the_code() {
    let idp = start(|_| {}).await;
    let k = key();
    let url = token_url(&idp);
    let (code, p) = code_for(&idp).await;
    let form = exchange_form(&code, &p);
    let claims_now = || json!({"jti": format!("j-{}", rand_id()), "htm": "POST", "htu": url.as_str(), "iat": now_secs()});
    let good_header = || json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": k.public_jwk()});

    let mut private = good_header();
    private["jwk"]["d"] = json!(URL_SAFE_NO_PAD.encode([7u8; 32]));
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD
            .encode(json!({"typ": "dpop+jwt", "alg": "none", "jwk": k.public_jwk()}).to_string()),
        URL_SAFE_NO_PAD.encode(claims_now().to_string())
    );
    let hs256 = {
        let mut h = good_header();
        h["alg"] = json!("HS256");
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(h.to_string()),
            URL_SAFE_NO_PAD.encode(claims_now().to_string())
        );
        let sig = jsonwebtoken::crypto::sign(
            input.as_bytes(),
            &EncodingKey::from_secret(k.thumbprint().as_bytes()),
            Algorithm::HS256,
        )
        .expect("hmac");
        format!("{input}.{sig}")
    };
    let other_port = Url::parse(&format!(
        "http://127.0.0.1:{}/oauth/token",
        url.port().expect("port").wrapping_add(1)
    ))
    .expect("url");
    let old = k
        .proof(
            "POST",
            &url,
            SystemTime::now() - Duration::from_secs(120),
            None,
            None,
        )
        .expect("proof");
    let cases: Vec<(String, &str)> = vec![
        (proof(&k, "GET", &url, None, None), "htm"),
        (
            proof(
                &k,
                "POST",
                &idp.issuer().join("oauth/par").expect("url"),
                None,
                None,
            ),
            "htu",
        ),
        (proof(&k, "POST", &other_port, None, None), "htu"),
        (old, "iat"),
        (none, "alg none"),
        (hs256, "alg HS256"),
        (forge(&k, private, claims_now()), "private member d"),
        (
            forge(
                &k,
                json!({"typ": "JWT", "alg": "ES256", "jwk": k.public_jwk()}),
                claims_now(),
            ),
            "typ",
        ),
        (
            forge(
                &k,
                json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": key().public_jwk()}),
                claims_now(),
            ),
            "signature",
        ),
        ("garbage".to_owned(), "compact JWS"),
    ];
    for (bad, why) in &cases {
        let a = token_with(&idp, &form, &[bad]).await;
        assert_error(&a, 400, "invalid_dpop_proof", why);
    }
    // Two DPoP headers, each good on its own (RFC 9449 §4.3 check 1).
    let a = token_with(
        &idp,
        &form,
        &[&token_proof(&idp, &k, None), &token_proof(&idp, &k, None)],
    )
    .await;
    assert_error(&a, 400, "invalid_dpop_proof", "more than one DPoP header");

    // None of that touched the code: it is still redeemable.
    let good = token_proof(&idp, &k, None);
    let a = token_with(&idp, &form, &[&good]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    // The same proof again is a replay, refused before the grant is looked at.
    let rt = a.body["refresh_token"].as_str().expect("rt").to_owned();
    let a = token_with(&idp, &refresh_form(&rt), &[&good]).await;
    assert_error(&a, 400, "invalid_dpop_proof", "replay");
    let c = idp.admin().counters();
    assert_eq!(c.dpop_refusals, cases.len() as u64 + 2);
    assert_eq!(c.dpop_proofs, 1);
}

fn rand_id() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
}

#[tokio::test]
async fn nonce_challenge_then_success_and_rotation() {
    let idp = start(|c| {
        c.dpop_nonce = true;
        c.admin_endpoint = true;
    })
    .await;
    let admin = idp.admin();
    let k = key();
    let n1 = admin.dpop_nonce().expect("nonces on");

    // RFC 9449 §8: no nonce → use_dpop_nonce with the nonce to use; the code survives.
    let (code, p) = code_for(&idp).await;
    let form = exchange_form(&code, &p);
    let a = token_with(&idp, &form, &[&token_proof(&idp, &k, None)]).await;
    assert_error(&a, 400, "use_dpop_nonce", "nonce");
    assert_eq!(a.nonce.as_deref(), Some(n1.as_str()));
    let a = token_with(&idp, &form, &[&token_proof(&idp, &k, Some(&n1))]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["token_type"], json!("DPoP"));
    assert_eq!(
        a.nonce.as_deref(),
        Some(n1.as_str()),
        "every answer carries it"
    );
    let rt = a.body["refresh_token"].as_str().expect("rt").to_owned();

    // Rotation: the old nonce is refused with a challenge naming the new one.
    let n2 = admin.rotate_dpop_nonce();
    assert_ne!(n1, n2);
    let a = token_with(
        &idp,
        &refresh_form(&rt),
        &[&token_proof(&idp, &k, Some(&n1))],
    )
    .await;
    assert_error(&a, 400, "use_dpop_nonce", "nonce");
    assert_eq!(a.nonce.as_deref(), Some(n2.as_str()));
    let a = token_with(
        &idp,
        &refresh_form(&rt),
        &[&token_proof(&idp, &k, Some(&n2))],
    )
    .await;
    assert_eq!(a.status, 200, "the challenge rotated nothing: {}", a.body);

    // Requests without DPoP are untouched by nonces (they still learn the nonce).
    let t = login(&idp, "bob", &[("audience", BILLING_API)]).await;
    assert_eq!(t["token_type"], json!("Bearer"));

    let c = admin.counters();
    assert_eq!(
        (c.dpop_nonce_challenges, c.dpop_proofs, c.dpop_refusals),
        (2, 2, 0)
    );

    // The same switches over the admin HTTP API.
    let base = idp.issuer();
    let rotated: Value = http()
        .post(base.join("__admin/dpop-nonce/rotate").expect("url"))
        .send()
        .await
        .expect("rotate")
        .json()
        .await
        .expect("json");
    assert_eq!(rotated["nonce"].as_str(), admin.dpop_nonce().as_deref());
    let s = http()
        .put(base.join("__admin/dpop-nonce").expect("url"))
        .json(&json!({"on": false}))
        .send()
        .await
        .expect("switch")
        .status();
    assert_eq!(s, 204);
    assert_eq!(admin.dpop_nonce(), None);
    let a = token_with(
        &idp,
        &refresh_form(a.body["refresh_token"].as_str().expect("rt")),
        &[&token_proof(&idp, &k, None)],
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.nonce.is_none());
}

// ---- the demo APIs (RFC 9449 §7) ----

async fn apis_for(idp: &DevIdp) -> DemoApis {
    DemoApis::start(idp.issuer(), &IdpConfig::portico_demo().apis)
        .await
        .expect("apis")
}

fn data_url(apis: &DemoApis, aud: &str) -> Url {
    apis.url_for(aud).expect("api").join("data").expect("url")
}

/// GET `url` with `Authorization: <scheme> <token>` and the given proofs.
async fn call(url: &Url, scheme: &str, token: &str, proofs: &[&str]) -> Answer {
    let mut req = http()
        .get(url.clone())
        .header("authorization", format!("{scheme} {token}"));
    for p in proofs {
        req = req.header("DPoP", *p);
    }
    answer(req.send().await.expect("api call")).await
}

fn assert_challenge(a: &Answer, error: &str, why: &str) {
    assert_eq!(a.status, 401, "{}", a.body);
    assert!(a.www.starts_with("DPoP "), "{}", a.www);
    assert!(
        a.www.contains(&format!("error=\"{error}\"")),
        "{error}: {}",
        a.www
    );
    assert!(a.www.contains("algs=\"ES256\""), "{}", a.www);
    assert!(a.www.contains(why), "{why}: {}", a.www);
    assert_eq!(a.body["error"], json!(error));
}

#[tokio::test]
async fn demo_api_accepts_a_proper_dpop_request_and_refuses_defective_proofs() {
    let idp = start(|_| {}).await;
    let apis = apis_for(&idp).await;
    let k = key();
    let t = bound_login(&idp, &k).await;
    let at = t["access_token"].as_str().expect("at");
    let url = data_url(&apis, BILLING_API);

    let good = proof(&k, "GET", &url, None, Some(at));
    let a = call(&url, "DPoP", at, &[&good]).await;
    assert_eq!(a.status, 200, "{} {}", a.body, a.www);
    assert_eq!(a.body["claims"]["cnf"]["jkt"], json!(k.thumbprint()));
    // The same proof again: replay.
    assert_challenge(
        &call(&url, "DPoP", at, &[&good]).await,
        "invalid_dpop_proof",
        "replay",
    );
    // ath of another token.
    let other = proof(&k, "GET", &url, None, Some("some-other-token"));
    assert_challenge(
        &call(&url, "DPoP", at, &[&other]).await,
        "invalid_dpop_proof",
        "ath",
    );
    // No proof, no ath, wrong method, another API's URL.
    assert_challenge(
        &call(&url, "DPoP", at, &[]).await,
        "invalid_dpop_proof",
        "required",
    );
    let p = proof(&k, "GET", &url, None, None);
    assert_challenge(
        &call(&url, "DPoP", at, &[&p]).await,
        "invalid_dpop_proof",
        "ath",
    );
    let p = proof(&k, "POST", &url, None, Some(at));
    assert_challenge(
        &call(&url, "DPoP", at, &[&p]).await,
        "invalid_dpop_proof",
        "htm",
    );
    let core = data_url(&apis, CORE_API);
    let p = proof(&k, "GET", &core, None, Some(at));
    assert_challenge(
        &call(&url, "DPoP", at, &[&p]).await,
        "invalid_dpop_proof",
        "htu",
    );
    // The query is not part of htu.
    let mut with_query = url.clone();
    with_query.set_query(Some("page=2"));
    let p = proof(&k, "GET", &url, None, Some(at));
    assert_eq!(call(&with_query, "DPoP", at, &[&p]).await.status, 200);
    // A bad token is answered as such, under the DPoP scheme.
    let p = proof(&k, "GET", &url, None, Some("garbage"));
    assert_challenge(
        &call(&url, "DPoP", "garbage", &[&p]).await,
        "invalid_token",
        "",
    );

    let c = apis.dpop_counters(BILLING_API).expect("counters");
    assert_eq!((c.proofs, c.refusals, c.nonce_challenges), (2, 6, 0));
}

#[tokio::test]
async fn stolen_bound_access_token_is_refused_at_the_api() {
    let idp = start(|_| {}).await;
    let apis = apis_for(&idp).await;
    let (owner, thief) = (key(), key());
    let t = bound_login(&idp, &owner).await;
    let at = t["access_token"].as_str().expect("at");
    let url = data_url(&apis, BILLING_API);

    // As a bearer token (RFC 9449 §7.2).
    let a = call(&url, "Bearer", at, &[]).await;
    assert_challenge(&a, "invalid_token", "DPoP-bound");
    // Even with the owner's proof alongside, Bearer is the wrong scheme.
    let p = proof(&owner, "GET", &url, None, Some(at));
    assert_challenge(
        &call(&url, "Bearer", at, &[&p]).await,
        "invalid_token",
        "DPoP-bound",
    );
    // As a DPoP token with a proof of the thief's own key.
    let p = proof(&thief, "GET", &url, None, Some(at));
    assert_challenge(
        &call(&url, "DPoP", at, &[&p]).await,
        "invalid_token",
        "another DPoP key",
    );
    // The owner gets through.
    let p = proof(&owner, "GET", &url, None, Some(at));
    assert_eq!(call(&url, "DPoP", at, &[&p]).await.status, 200);

    // Bearer tokens work as before; one under the DPoP scheme is not accepted.
    let plain = login(&idp, "bob", &[("audience", BILLING_API)]).await;
    let bt = plain["access_token"].as_str().expect("at");
    let a = call(&url, "Bearer", bt, &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let p = proof(&thief, "GET", &url, None, Some(bt));
    assert_challenge(
        &call(&url, "DPoP", bt, &[&p]).await,
        "invalid_token",
        "not DPoP-bound",
    );
}

#[tokio::test]
async fn api_nonce_challenge_then_success() {
    let idp = start(|_| {}).await;
    let apis = apis_for(&idp).await;
    let k = key();
    let t = bound_login(&idp, &k).await;
    let at = t["access_token"].as_str().expect("at");
    let url = data_url(&apis, BILLING_API);
    assert_eq!(apis.dpop_nonce(BILLING_API), None);
    apis.set_dpop_nonce(true);
    let n1 = apis.dpop_nonce(BILLING_API).expect("on");
    assert_ne!(
        Some(n1.clone()),
        apis.dpop_nonce(CORE_API),
        "each API its own nonce"
    );

    // RFC 9449 §9: 401 use_dpop_nonce with the nonce; the retry with it passes.
    let a = call(&url, "DPoP", at, &[&proof(&k, "GET", &url, None, Some(at))]).await;
    assert_challenge(&a, "use_dpop_nonce", "nonce");
    assert_eq!(a.nonce.as_deref(), Some(n1.as_str()));
    let a = call(
        &url,
        "DPoP",
        at,
        &[&proof(&k, "GET", &url, Some(&n1), Some(at))],
    )
    .await;
    assert_eq!(a.status, 200, "{} {}", a.body, a.www);
    assert_eq!(a.nonce.as_deref(), Some(n1.as_str()));

    apis.rotate_dpop_nonces();
    let n2 = apis.dpop_nonce(BILLING_API).expect("on");
    assert_ne!(n1, n2);
    let a = call(
        &url,
        "DPoP",
        at,
        &[&proof(&k, "GET", &url, Some(&n1), Some(at))],
    )
    .await;
    assert_challenge(&a, "use_dpop_nonce", "nonce");
    assert_eq!(a.nonce.as_deref(), Some(n2.as_str()));
    let a = call(
        &url,
        "DPoP",
        at,
        &[&proof(&k, "GET", &url, Some(&n2), Some(at))],
    )
    .await;
    assert_eq!(a.status, 200);

    // Bearer tokens need no nonce.
    let plain = login(&idp, "bob", &[("audience", BILLING_API)]).await;
    let a = call(
        &url,
        "Bearer",
        plain["access_token"].as_str().expect("at"),
        &[],
    )
    .await;
    assert_eq!(a.status, 200);

    let c = apis.dpop_counters(BILLING_API).expect("counters");
    assert_eq!((c.proofs, c.refusals, c.nonce_challenges), (2, 0, 2));
    apis.set_dpop_nonce(false);
    assert_eq!(apis.dpop_nonce(BILLING_API), None);

    // Browsers may send the DPoP header cross-origin and read DPoP-Nonce.
    let resp = http()
        .request(reqwest::Method::OPTIONS, url.clone())
        .header("origin", "tauri://localhost")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization, dpop")
        .send()
        .await
        .expect("preflight");
    let h = |n: &str| resp.headers()[n].to_str().expect("ascii").to_owned();
    assert!(h("access-control-allow-headers").contains("DPoP"));
    assert!(h("access-control-expose-headers").contains("DPoP-Nonce"));
}

/// An API that does not ask for sender-constrained tokens gets a Bearer token even when the
/// request carries a proof (RFC 9449 §5: `token_type` says which), while the refresh token stays
/// bound to the key: refreshing it without a proof is refused.
#[tokio::test]
async fn an_api_without_sender_constraining_gets_bearer_tokens_from_a_bound_family() {
    let idp = start(|c| {
        for api in &mut c.apis {
            api.sender_constrained = api.identifier != BILLING_API;
        }
    })
    .await;
    let k = key();
    let t = bound_login(&idp, &k).await;
    assert_eq!(
        t["token_type"],
        json!("Bearer"),
        "billing is not constrained"
    );
    assert!(claims(&t["access_token"]).get("cnf").is_none());
    let rt = t["refresh_token"].as_str().expect("rt").to_owned();

    let mut form = refresh_form(&rt);
    form.push(("audience", CORE_API));
    let a = token_with(&idp, &form, &[&token_proof(&idp, &k, None)]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["token_type"], json!("DPoP"), "core is constrained");
    assert_eq!(
        claims(&a.body["access_token"])["cnf"]["jkt"],
        json!(k.thumbprint())
    );
    let next = a.body["refresh_token"].as_str().unwrap_or(&rt).to_owned();
    let (status, body) = refresh(&idp, &next, &[]).await;
    assert_eq!(status, 400, "the family is bound: {body}");
}
