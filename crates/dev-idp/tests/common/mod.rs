//! Helpers shared by the integration tests: a client that speaks to the provider over HTTP.
#![allow(dead_code)]

use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use portico_dev_idp::{DevIdp, IdpConfig, DEMO_CLIENT_ID};
use portico_testkit::browser;
use rand::RngCore;
use serde_json::Value;
use sha2::{Digest, Sha256};

pub const REDIRECT: &str = "dev.portico.app:/callback";

pub async fn start(tweak: impl FnOnce(&mut IdpConfig)) -> DevIdp {
    let mut cfg = IdpConfig::portico_demo();
    tweak(&mut cfg);
    DevIdp::start(cfg).await.expect("idp starts")
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

#[derive(Clone, Debug)]
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

pub fn pkce() -> Pkce {
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    let verifier = URL_SAFE_NO_PAD.encode(b);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    Pkce {
        verifier,
        challenge,
    }
}

/// An authorization URL for the demo client; `extra` adds or (by repeating) extends parameters.
pub fn authorize_url(idp: &DevIdp, p: &Pkce, extra: &[(&str, &str)]) -> String {
    let mut u = idp.issuer().join("authorize").expect("url");
    {
        let mut q = u.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", DEMO_CLIENT_ID)
            .append_pair("redirect_uri", REDIRECT)
            .append_pair("code_challenge", &p.challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("state", "st-123")
            .append_pair("nonce", "nonce-abc");
        for (k, v) in extra {
            q.append_pair(k, v);
        }
    }
    u.to_string()
}

pub fn query(location: &str) -> HashMap<String, String> {
    let u = url::Url::parse(location).expect("location is a url");
    u.query_pairs().into_owned().collect()
}

/// POST a form to the token endpoint; returns status and JSON (Null if not JSON).
pub async fn post_form(idp: &DevIdp, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let resp = http()
        .post(idp.issuer().join(path).expect("url"))
        .form(form)
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    let body = resp.json::<Value>().await.unwrap_or(Value::Null);
    (status, body)
}

pub async fn token(idp: &DevIdp, form: &[(&str, &str)]) -> (u16, Value) {
    post_form(idp, "oauth/token", form).await
}

/// Sign in as `user` and return the callback's query parameters.
pub async fn callback(
    idp: &DevIdp,
    user: &str,
    p: &Pkce,
    extra: &[(&str, &str)],
) -> HashMap<String, String> {
    let loc = browser::sign_in(&authorize_url(idp, p, extra), user)
        .await
        .expect("sign in");
    assert!(loc.starts_with(REDIRECT), "{loc}");
    query(&loc)
}

pub async fn exchange(idp: &DevIdp, code: &str, p: &Pkce) -> (u16, Value) {
    token(
        idp,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", DEMO_CLIENT_ID),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &p.verifier),
        ],
    )
    .await
}

/// Full login: sign in and exchange; panics unless the exchange succeeds.
pub async fn login(idp: &DevIdp, user: &str, extra: &[(&str, &str)]) -> Value {
    let p = pkce();
    let cb = callback(idp, user, &p, extra).await;
    let code = cb
        .get("code")
        .unwrap_or_else(|| panic!("no code in {cb:?}"));
    let (status, body) = exchange(idp, code, &p).await;
    assert_eq!(status, 200, "{body}");
    body
}

pub async fn refresh(idp: &DevIdp, rt: &str, extra: &[(&str, &str)]) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("client_id", DEMO_CLIENT_ID),
        ("refresh_token", rt),
    ];
    form.extend_from_slice(extra);
    token(idp, &form).await
}

fn part(jwt: &str, i: usize) -> Value {
    let seg = jwt.split('.').nth(i).expect("segment");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(seg).expect("b64")).expect("json")
}

pub fn claims(jwt: &Value) -> Value {
    part(jwt.as_str().expect("jwt string"), 1)
}

pub fn header(jwt: &Value) -> Value {
    part(jwt.as_str().expect("jwt string"), 0)
}

pub fn scopes(v: &Value) -> Vec<String> {
    v.as_str()
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}
