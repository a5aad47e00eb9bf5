//! What Glewlwyd 2.7.5 (Debian 12) really does at the protocol level, pinned with plain HTTP.
//!
//! These tests are the ground truth Portico's broker is built against: every assertion states
//! observed behaviour, including where Glewlwyd departs from the RFCs (marked "deviation").
//! Each test starts its own Glewlwyd (about a second).

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine as _;
use portico_testkit::glewlwyd::{
    self, Browser, Glewlwyd, GlewlwydError, GlewlwydOptions, ANALYTICS, BILLING, CLIENT_ID, CORE,
    CUSTOM_SCHEME_POST_LOGOUT_URI, CUSTOM_SCHEME_REDIRECT_URI,
};
use rand::RngCore as _;
use serde_json::{json, Value};
use sha2::Digest as _;

/// What Portico asks for at /authorize.
const SCOPE: &str = "openid offline_access profile email read:invoices read:dashboard read:reports";
const ALL_APIS: [&str; 3] = [BILLING, CORE, ANALYTICS];

type TestResult = Result<(), Box<dyn std::error::Error>>;

async fn start() -> Result<Glewlwyd, GlewlwydError> {
    start_with(GlewlwydOptions {
        access_token_lifetime: Duration::from_secs(30),
        ..GlewlwydOptions::default()
    })
    .await
}

async fn start_with(options: GlewlwydOptions) -> Result<Glewlwyd, GlewlwydError> {
    let op = Glewlwyd::start(options).await?;
    eprintln!(
        "Glewlwyd {} started in {:?}",
        op.issuer(),
        op.startup_duration()
    );
    Ok(op)
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn random_string() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    b64url(&bytes)
}

/// One authorization request as Portico builds it (PKCE S256, state, nonce, repeated `resource`).
struct Request {
    url: String,
    verifier: String,
    state: String,
    nonce: String,
    redirect_uri: String,
}

fn authorization_request(
    op: &Glewlwyd,
    redirect_uri: &str,
    scope: &str,
    resources: &[&str],
) -> Request {
    let verifier = random_string();
    let challenge = b64url(&sha2::Sha256::digest(verifier.as_bytes()));
    let state = random_string();
    let nonce = random_string();
    let mut url = op.authorization_endpoint();
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", CLIENT_ID)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", scope)
            .append_pair("state", &state)
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        for resource in resources {
            q.append_pair("resource", resource);
        }
    }
    Request {
        url: url.to_string(),
        verifier,
        state,
        nonce,
        redirect_uri: redirect_uri.to_string(),
    }
}

/// The query of a redirect to the client.
fn callback_params(location: &str) -> HashMap<String, String> {
    let query = location.split_once('?').map(|(_, q)| q).unwrap_or("");
    url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

/// Sign in and return the authorization code (asserting state and iss on the way).
async fn authorize(
    op: &Glewlwyd,
    request: &Request,
    user: &str,
) -> Result<String, Box<dyn std::error::Error>> {
    let location = op.sign_in(&request.url, user).await?;
    assert!(
        location.starts_with(&format!("{}?", request.redirect_uri)),
        "redirect to the client expected, got {location}"
    );
    let params = callback_params(&location);
    assert_eq!(params.get("error"), None, "{location}");
    assert_eq!(params.get("state"), Some(&request.state));
    assert_eq!(
        params.get("iss").map(String::as_str),
        Some(op.issuer().as_str())
    );
    Ok(params.get("code").cloned().ok_or("no code")?)
}

/// POST to the token endpoint as the public client; status and JSON body (Null when empty).
async fn token(
    op: &Glewlwyd,
    form: &[(&str, &str)],
) -> Result<(u16, Value), Box<dyn std::error::Error>> {
    let mut body: Vec<(&str, &str)> = vec![("client_id", CLIENT_ID)];
    body.extend_from_slice(form);
    let response = reqwest::Client::new()
        .post(op.token_endpoint())
        .form(&body)
        .send()
        .await?;
    let status = response.status().as_u16();
    let text = response.text().await?;
    let json = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text)?
    };
    Ok((status, json))
}

async fn exchange(
    op: &Glewlwyd,
    request: &Request,
    code: &str,
    resources: &[&str],
) -> Result<(u16, Value), Box<dyn std::error::Error>> {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", request.redirect_uri.as_str()),
        ("code_verifier", request.verifier.as_str()),
    ];
    form.extend(resources.iter().map(|r| ("resource", *r)));
    token(op, &form).await
}

async fn refresh(
    op: &Glewlwyd,
    refresh_token: &str,
    extra: &[(&str, &str)],
) -> Result<(u16, Value), Box<dyn std::error::Error>> {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    form.extend_from_slice(extra);
    token(op, &form).await
}

/// The JSON of a JWT segment (0 header, 1 payload), unverified.
fn jwt_part(jwt: &str, index: usize) -> Result<Value, Box<dyn std::error::Error>> {
    let part = jwt.split('.').nth(index).ok_or("not a JWT")?;
    Ok(serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part)?,
    )?)
}

fn str_of<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key].as_str().unwrap_or_default()
}

/// Alice signs in for all three APIs and exchanges the code naming `resource`.
async fn alice_tokens(
    op: &Glewlwyd,
    resource: &str,
) -> Result<(Request, Value), Box<dyn std::error::Error>> {
    let request = authorization_request(op, CUSTOM_SCHEME_REDIRECT_URI, SCOPE, &ALL_APIS);
    let code = authorize(op, &request, "alice").await?;
    let (status, tokens) = exchange(op, &request, &code, &[resource]).await?;
    assert_eq!(status, 200, "{tokens}");
    Ok((request, tokens))
}

#[tokio::test]
async fn start_up_takes_seconds_and_cleans_up() -> TestResult {
    let op = start().await?;
    let log = op.log_path();
    assert!(log.exists());
    assert!(
        op.startup_duration() < Duration::from_secs(10),
        "{:?}",
        op.startup_duration()
    );
    let dir = log.parent().ok_or("no dir")?.to_path_buf();
    drop(op);
    assert!(!dir.exists(), "Drop removes {}", dir.display());
    Ok(())
}

#[tokio::test]
async fn discovery_states_the_endpoints_and_pkce_but_not_rfc9207_or_refresh_grant() -> TestResult {
    let op = start().await?;
    let d: Value = reqwest::get(op.discovery_url()).await?.json().await?;
    assert_eq!(str_of(&d, "issuer"), op.issuer().as_str());
    assert!(op.issuer().as_str().ends_with("/api/oidc"));
    assert_eq!(
        str_of(&d, "authorization_endpoint"),
        op.authorization_endpoint().as_str()
    );
    assert_eq!(str_of(&d, "token_endpoint"), op.token_endpoint().as_str());
    assert_eq!(str_of(&d, "jwks_uri"), op.jwks_uri().as_str());
    assert_eq!(
        str_of(&d, "userinfo_endpoint"),
        op.userinfo_endpoint().as_str()
    );
    assert_eq!(
        str_of(&d, "revocation_endpoint"),
        op.revocation_endpoint().as_str()
    );
    assert_eq!(
        str_of(&d, "introspection_endpoint"),
        op.introspection_endpoint().as_str()
    );
    assert_eq!(
        str_of(&d, "end_session_endpoint"),
        op.end_session_endpoint().as_str()
    );
    assert_eq!(d["code_challenge_methods_supported"], json!(["S256"]));
    // PKCE is required for public clients, but only `pkce-required` (all clients) is advertised.
    assert_eq!(d.get("require_code_challenge"), None);
    // Deviation (RFC 9207 §3): `iss` is sent in every authorization response (see the sign-in
    // test) but `authorization_response_iss_parameter_supported` is never published.
    assert_eq!(
        d.get("authorization_response_iss_parameter_supported"),
        None
    );
    // Deviation (RFC 8414 §2): no `refresh_token` among the grant types although the grant works;
    // instead "refresh_token" appears as a response type.
    assert_eq!(
        d["grant_types_supported"],
        json!(["authorization_code", "implicit"])
    );
    assert_eq!(
        d["response_types_supported"],
        json!(["code", "id_token", "code id_token", "refresh_token"])
    );
    // Public clients work at /token, but "none" is not listed; /revoke really requires a secret.
    assert_eq!(
        d["token_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post"])
    );
    assert_eq!(
        d["revocation_endpoint_auth_methods_supported"],
        json!(["client_secret_basic"])
    );
    // RFC 8707 has no discovery metadata and Glewlwyd adds none; PAR and DPoP are switched off in
    // this fixture, so their metadata is absent.
    for key in [
        "resource_indicators_supported",
        "pushed_authorization_request_endpoint",
        "require_pushed_authorization_requests",
        "dpop_signing_alg_values_supported",
    ] {
        assert_eq!(d.get(key), None, "{key}");
    }
    assert!(d["id_token_signing_alg_values_supported"]
        .as_array()
        .is_some_and(|a| a.contains(&json!("RS256"))));
    for scope in glewlwyd::OIDC_SCOPES
        .iter()
        .chain(glewlwyd::API_SCOPES.iter().map(|(s, _)| s))
    {
        assert!(
            d["scopes_supported"]
                .as_array()
                .is_some_and(|a| a.contains(&json!(scope))),
            "{scope}"
        );
    }
    assert_eq!(d["claims_supported"], json!(["name", "email"]));
    assert_eq!(d["subject_types_supported"], json!(["public"]));

    let jwks: Value = reqwest::get(op.jwks_uri()).await?.json().await?;
    let keys = jwks["keys"].as_array().ok_or("no keys")?;
    assert_eq!(keys.len(), 1);
    assert_eq!(str_of(&keys[0], "kty"), "RSA");
    assert_eq!(str_of(&keys[0], "alg"), "RS256");
    // No `use` member (RFC 7517 §4.2 makes it optional; a client must not require it).
    assert_eq!(keys[0].get("use"), None);
    assert!(!str_of(&keys[0], "kid").is_empty());
    Ok(())
}

#[tokio::test]
async fn sign_in_with_three_resources_returns_code_state_and_iss() -> TestResult {
    let op = start().await?;
    let request = authorization_request(&op, CUSTOM_SCHEME_REDIRECT_URI, SCOPE, &ALL_APIS);
    let location = op.sign_in(&request.url, "alice").await?;
    // RFC 9207: `iss` comes first, then state and code, all in the query.
    assert!(
        location.starts_with("dev.portico.app:/callback?iss="),
        "{location}"
    );
    let params = callback_params(&location);
    assert_eq!(params.get("state"), Some(&request.state));
    assert_eq!(
        params.get("iss").map(String::as_str),
        Some(op.issuer().as_str())
    );
    assert_eq!(params.get("code").map(String::len), Some(32));
    assert_eq!(params.len(), 3, "{params:?}");

    // The same with the registered loopback redirect URI, through the free function the E2E
    // "system browser" uses (URL and credentials only).
    let loopback = op.loopback_redirect_uri().to_string();
    let request = authorization_request(&op, &loopback, SCOPE, &ALL_APIS);
    let location = glewlwyd::sign_in_at(
        &request.url,
        glewlwyd::ALICE.username,
        glewlwyd::ALICE.password,
    )
    .await?;
    assert!(
        location.starts_with(&format!("{loopback}?iss=")),
        "{location}"
    );
    assert!(callback_params(&location).contains_key("code"));

    // A wrong password is the login API's 401.
    let err = glewlwyd::sign_in_at(&request.url, "alice", "wrong")
        .await
        .err()
        .ok_or("signed in")?;
    assert!(
        matches!(err, GlewlwydError::Status { status: 401, .. }),
        "{err}"
    );
    Ok(())
}

#[tokio::test]
async fn code_exchange_naming_one_resource_gives_an_access_token_for_it_and_a_valid_id_token(
) -> TestResult {
    let op = start().await?;
    let (request, tokens) = alice_tokens(&op, BILLING).await?;
    assert_eq!(str_of(&tokens, "token_type"), "bearer");
    assert_eq!(tokens["expires_in"], json!(30));
    assert!(
        tokens["iat"].is_i64(),
        "Glewlwyd adds a non-standard `iat`: {tokens}"
    );
    // The granted scope is the full /authorize scope, whatever the resource.
    assert_eq!(str_of(&tokens, "scope"), SCOPE);
    assert_eq!(str_of(&tokens, "refresh_token").len(), 128);

    let access = str_of(&tokens, "access_token");
    let header = jwt_part(access, 0)?;
    assert_eq!(str_of(&header, "typ"), "at+jwt");
    assert_eq!(str_of(&header, "alg"), "RS256");
    let claims = jwt_part(access, 1)?;
    assert_eq!(claims["aud"], json!(BILLING));
    assert_eq!(str_of(&claims, "iss"), op.issuer().as_str());
    assert_eq!(str_of(&claims, "client_id"), CLIENT_ID);
    // Not narrowed to the resource: the billing token also carries read:dashboard/read:reports.
    assert_eq!(str_of(&claims, "scope"), SCOPE);
    assert_eq!(
        claims["exp"]
            .as_i64()
            .zip(claims["iat"].as_i64())
            .map(|(e, i)| e - i),
        Some(30)
    );

    // The ID token verifies through the JWKS (RS256) with iss, aud = client id and the nonce.
    let id_token = str_of(&tokens, "id_token");
    let kid = jsonwebtoken::decode_header(id_token)?.kid.ok_or("no kid")?;
    let jwks: jsonwebtoken::jwk::JwkSet = reqwest::get(op.jwks_uri()).await?.json().await?;
    let jwk = jwks.find(&kid).ok_or("kid not in JWKS")?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[CLIENT_ID]);
    validation.set_issuer(&[op.issuer().as_str()]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let verified = jsonwebtoken::decode::<Value>(
        id_token,
        &jsonwebtoken::DecodingKey::from_jwk(jwk)?,
        &validation,
    )?;
    let id = verified.claims;
    assert_eq!(str_of(&id, "nonce"), request.nonce);
    assert_eq!(str_of(&id, "azp"), CLIENT_ID);
    assert_eq!(str_of(&id, "sub"), str_of(&claims, "sub"));
    assert_eq!(id["amr"], json!(["password"]));
    assert!(!str_of(&id, "sid").is_empty());
    // `profile`/`email` scopes bring name/email (configured with name-claim-scope/email-claim-scope).
    assert_eq!(str_of(&id, "name"), "Alice Admin");
    assert_eq!(str_of(&id, "email"), "alice@example.com");
    // Deviation (OIDC Core §2): auth_time is 0 (the token request carries no session to date it).
    assert_eq!(id["auth_time"], json!(0));
    // The ID token lives as long as the access token.
    assert_eq!(
        id["exp"]
            .as_i64()
            .zip(id["iat"].as_i64())
            .map(|(e, i)| e - i),
        Some(30)
    );
    Ok(())
}

#[tokio::test]
async fn code_exchange_naming_no_resource_or_two_resources() -> TestResult {
    let op = start().await?;
    let request = authorization_request(&op, CUSTOM_SCHEME_REDIRECT_URI, SCOPE, &ALL_APIS);
    let code = authorize(&op, &request, "alice").await?;

    // Two resources (form values joined with "," by the server, then matched as one string):
    // 403 invalid_target. Deviation (RFC 8707 §2.2 / RFC 6749 §5.2): status 403, not 400.
    let (status, body) = exchange(&op, &request, &code, &[BILLING, CORE]).await?;
    assert_eq!(
        (status, &body),
        (
            403,
            &json!({"error": "invalid_target", "error_description": "Invalid Resource"})
        )
    );
    // A resource not named at /authorize: the same.
    let (status, body) = exchange(&op, &request, &code, &["https://api.portico.dev/other"]).await?;
    assert_eq!((status, str_of(&body, "error")), (403, "invalid_target"));
    // A wrong PKCE verifier. Deviation (RFC 6749 §5.2, RFC 7636 §4.6): 403 with the
    // unregistered error code `invalid_code` instead of 400 `invalid_grant`.
    let wrong = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CUSTOM_SCHEME_REDIRECT_URI),
        (
            "code_verifier",
            "wrong-verifier-wrong-verifier-wrong-verifier",
        ),
    ];
    let (status, body) = token(&op, &wrong).await?;
    assert_eq!(
        (status, &body),
        (403, &json!({"error": "invalid_code"})),
        "wrong verifier"
    );

    // None of those refusals used the code up (it is disabled only by a successful exchange).
    // No resource: 200, and `aud` is the granted scope list as one space-separated string
    // (several resources were granted, so none is chosen).
    let (status, tokens) = exchange(&op, &request, &code, &[]).await?;
    assert_eq!(status, 200, "{tokens}");
    let claims = jwt_part(str_of(&tokens, "access_token"), 1)?;
    assert_eq!(claims["aud"], json!(SCOPE));

    // With exactly one resource granted at /authorize, omitting it at /token gives aud = it.
    let request = authorization_request(&op, CUSTOM_SCHEME_REDIRECT_URI, SCOPE, &[CORE]);
    let code = authorize(&op, &request, "alice").await?;
    let (status, tokens) = exchange(&op, &request, &code, &[]).await?;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(
        jwt_part(str_of(&tokens, "access_token"), 1)?["aud"],
        json!(CORE)
    );
    // The code is single-use: a replay is refused (403 `invalid_code` again) and, with
    // `auth-type-code-revoke-replayed`, revokes the refresh token the code gave.
    let (status, body) = exchange(&op, &request, &code, &[]).await?;
    assert_eq!((status, &body), (403, &json!({"error": "invalid_code"})));
    let (status, body) = refresh(&op, str_of(&tokens, "refresh_token"), &[]).await?;
    assert_eq!((status, body), (400, Value::Null));
    Ok(())
}

#[tokio::test]
async fn refresh_reaches_each_resource_granted_at_authorization() -> TestResult {
    let op = start().await?;
    let (_, tokens) = alice_tokens(&op, BILLING).await?;
    let refresh_token = str_of(&tokens, "refresh_token").to_string();
    for resource in [CORE, ANALYTICS, BILLING] {
        let (status, body) = refresh(&op, &refresh_token, &[("resource", resource)]).await?;
        assert_eq!(status, 200, "{resource}: {body}");
        assert_eq!(
            jwt_part(str_of(&body, "access_token"), 1)?["aud"],
            json!(resource)
        );
        // No rotation by default: no new refresh token, the old one keeps working.
        assert_eq!(body.get("refresh_token"), None);
        assert_eq!(str_of(&body, "scope"), SCOPE);
    }
    // Narrowing with `scope=` is ignored (Glewlwyd never reads it on refresh): full scope again.
    let (status, body) = refresh(
        &op,
        &refresh_token,
        &[("resource", CORE), ("scope", "openid read:dashboard")],
    )
    .await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(str_of(&body, "scope"), SCOPE);
    assert_eq!(
        str_of(&jwt_part(str_of(&body, "access_token"), 1)?, "scope"),
        SCOPE
    );
    // No resource: aud is the scope list again.
    let (status, body) = refresh(&op, &refresh_token, &[]).await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        jwt_part(str_of(&body, "access_token"), 1)?["aud"],
        json!(SCOPE)
    );
    // Deviation (RFC 6749 §5.1): the refresh response has no id_token and no refresh_token, and
    // carries the non-standard `iat`.
    assert_eq!(body.get("id_token"), None);
    assert!(body["iat"].is_i64());
    Ok(())
}

#[tokio::test]
async fn refresh_for_a_resource_not_granted_at_authorization_is_invalid_target() -> TestResult {
    let op = start().await?;
    let request = authorization_request(&op, CUSTOM_SCHEME_REDIRECT_URI, SCOPE, &[BILLING]);
    let code = authorize(&op, &request, "alice").await?;
    let (status, tokens) = exchange(&op, &request, &code, &[BILLING]).await?;
    assert_eq!(status, 200, "{tokens}");
    let refresh_token = str_of(&tokens, "refresh_token").to_string();
    let invalid_target =
        json!({"error": "invalid_target", "error_description": "Invalid Resource"});
    // RFC 8707 §2.2 honoured, with status 400 here (the code exchange says 403).
    for resources in [
        vec![CORE],
        vec!["https://api.portico.dev/other"],
        vec![BILLING, CORE],
    ] {
        let form: Vec<(&str, &str)> = resources.iter().map(|r| ("resource", *r)).collect();
        let (status, body) = refresh(&op, &refresh_token, &form).await?;
        assert_eq!((status, &body), (400, &invalid_target), "{resources:?}");
    }
    let (status, body) = refresh(&op, &refresh_token, &[("resource", BILLING)]).await?;
    assert_eq!(status, 200, "{body}");
    // With one resource granted, a refresh without `resource` is for it.
    let (status, body) = refresh(&op, &refresh_token, &[]).await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        jwt_part(str_of(&body, "access_token"), 1)?["aud"],
        json!(BILLING)
    );
    Ok(())
}

#[tokio::test]
async fn rotation_issues_a_new_refresh_token_bound_only_to_the_resource_just_asked_for(
) -> TestResult {
    let op = start_with(GlewlwydOptions {
        access_token_lifetime: Duration::from_secs(30),
        refresh_token_rotation: true,
        ..GlewlwydOptions::default()
    })
    .await?;
    let (_, tokens) = alice_tokens(&op, BILLING).await?;
    let first = str_of(&tokens, "refresh_token").to_string();

    let (status, body) = refresh(&op, &first, &[("resource", CORE)]).await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        jwt_part(str_of(&body, "access_token"), 1)?["aud"],
        json!(CORE)
    );
    let second = str_of(&body, "refresh_token").to_string();
    assert_eq!(second.len(), 128);
    assert_ne!(second, first);

    // Quirk: the rotated token remembers only the resource of the refresh that produced it, not
    // the three granted at /authorize; another API is now invalid_target...
    let (status, body) = refresh(&op, &second, &[("resource", ANALYTICS)]).await?;
    assert_eq!(
        (status, str_of(&body, "error")),
        (400, "invalid_target"),
        "{body}"
    );
    // ... and without `resource` the audience is that single resource.
    let (status, body) = refresh(&op, &second, &[]).await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        jwt_part(str_of(&body, "access_token"), 1)?["aud"],
        json!(CORE)
    );
    let third = str_of(&body, "refresh_token").to_string();

    // Reuse of a rotated-out token: 400 with an empty body (deviation: no invalid_grant) ...
    let (status, body) = refresh(&op, &first, &[("resource", BILLING)]).await?;
    assert_eq!((status, body), (400, Value::Null));
    // ... and reuse detection disables the newest token of the chain as well.
    let (status, body) = refresh(&op, &third, &[]).await?;
    assert_eq!((status, body), (400, Value::Null));
    let listed = op.refresh_tokens("alice").await?;
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert!(listed.iter().all(|t| !t.enabled), "{listed:?}");
    // Rotated tokens lose rolling expiration.
    assert_eq!(
        listed.iter().filter(|t| t.rolling_expiration).count(),
        1,
        "{listed:?}"
    );
    Ok(())
}

#[tokio::test]
async fn rfc7009_revocation_refuses_the_public_client_and_delete_token_revokes() -> TestResult {
    let op = start().await?;
    let (_, tokens) = alice_tokens(&op, BILLING).await?;
    let refresh_token = str_of(&tokens, "refresh_token").to_string();
    let http = reqwest::Client::new();

    // Deviation (RFC 7009 §2.1): a public client identifies itself with client_id only, but
    // Glewlwyd's /revoke requires client authentication: 401, empty body, no WWW-Authenticate.
    let response = http
        .post(op.revocation_endpoint())
        .form(&[
            ("token", refresh_token.as_str()),
            ("token_type_hint", "refresh_token"),
            ("client_id", CLIENT_ID),
        ])
        .send()
        .await?;
    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(response.headers().get("www-authenticate"), None);
    assert_eq!(response.text().await?, "");
    let (status, _) = refresh(&op, &refresh_token, &[("resource", CORE)]).await?;
    assert_eq!(status, 200, "still valid after the refused revocation");

    let info = op.refresh_tokens("alice").await?;
    assert_eq!(info.len(), 1);
    assert!(
        info[0].is_for(&refresh_token) && info[0].enabled,
        "{info:?}"
    );
    assert_eq!(info[0].client_id.as_deref(), Some(CLIENT_ID));
    assert_eq!(info[0].authorization_type, "code");

    // What works for a public client: Glewlwyd's own grant_type=delete_token at /token.
    let (status, body) = token(
        &op,
        &[
            ("grant_type", "delete_token"),
            ("refresh_token", &refresh_token),
        ],
    )
    .await?;
    assert_eq!((status, body), (200, Value::Null));
    // Deviation (RFC 6749 §5.2): the revoked token's refresh is 400 with an empty body, no
    // `invalid_grant`.
    let (status, body) = refresh(&op, &refresh_token, &[("resource", CORE)]).await?;
    assert_eq!((status, body), (400, Value::Null));
    let info = op.refresh_tokens("alice").await?;
    assert!(
        info[0].is_for(&refresh_token) && !info[0].enabled,
        "{info:?}"
    );
    Ok(())
}

#[tokio::test]
async fn end_session_goes_through_glewlwyds_login_page_and_revokes_the_session_tokens() -> TestResult
{
    let op = start().await?;
    let browser = Browser::new()?;
    let request = authorization_request(&op, CUSTOM_SCHEME_REDIRECT_URI, SCOPE, &ALL_APIS);
    let location = browser
        .sign_in(&request.url, "alice", glewlwyd::ALICE.password)
        .await?;
    let code = callback_params(&location)
        .get("code")
        .cloned()
        .ok_or("no code")?;
    let (status, tokens) = exchange(&op, &request, &code, &[BILLING]).await?;
    assert_eq!(status, 200, "{tokens}");
    let id_token = str_of(&tokens, "id_token");
    let refresh_token = str_of(&tokens, "refresh_token");
    let sid = str_of(&jwt_part(id_token, 1)?, "sid").to_string();

    let end_session_url = |post_logout: &str| {
        let mut url = op.end_session_endpoint();
        url.query_pairs_mut()
            .append_pair("id_token_hint", id_token)
            .append_pair("post_logout_redirect_uri", post_logout)
            .append_pair("state", "bye-1");
        url.to_string()
    };

    // An unregistered post_logout_redirect_uri is dropped silently (no error, no redirect back).
    let opened = browser
        .open_end_session(&end_session_url("dev.portico.app:/elsewhere"))
        .await?;
    assert_eq!(opened.prompt.as_deref(), Some("end_session"));
    assert_eq!(opened.sid.as_deref(), Some(sid.as_str()));
    assert_eq!(opened.post_logout_redirect, None);
    // Confirming needs Glewlwyd's session cookie: another browser gets 401, nothing is revoked.
    let err = Browser::new()?
        .end_session(&end_session_url(CUSTOM_SCHEME_POST_LOGOUT_URI))
        .await
        .err()
        .ok_or("confirmed without the session cookie")?;
    assert!(
        matches!(err, GlewlwydError::Status { status: 401, .. }),
        "{err}"
    );
    let (status, body) = refresh(&op, refresh_token, &[("resource", CORE)]).await?;
    assert_eq!(status, 200, "{body}");

    // Deviation from the usual RP-initiated logout shape: the endpoint always redirects to
    // Glewlwyd's own login page (prompt=end_session), which asks the person to confirm; only that
    // page redirects to post_logout_redirect_uri (with state), after DELETE /api/oidc/session/<sid>.
    let ended = browser
        .end_session(&end_session_url(CUSTOM_SCHEME_POST_LOGOUT_URI))
        .await?;
    assert!(
        ended
            .login_page
            .starts_with(&format!("{}login.html?", op.base_url())),
        "{ended:?}"
    );
    assert!(
        ended.login_page.contains(&format!("sid={sid}")),
        "{ended:?}"
    );
    assert_eq!(ended.prompt.as_deref(), Some("end_session"));
    assert_eq!(
        ended.post_logout_redirect.as_deref(),
        Some("dev.portico.app:/signed-out?state=bye-1")
    );
    assert!(ended.confirmed);

    // Ending the session disabled the refresh token issued in it.
    let (status, body) = refresh(&op, refresh_token, &[("resource", CORE)]).await?;
    assert_eq!((status, body), (400, Value::Null));
    let info = op.refresh_tokens("alice").await?;
    assert!(
        info.iter().any(|t| t.is_for(refresh_token) && !t.enabled),
        "{info:?}"
    );
    // The ID token is spent: a second logout with it lands on `prompt=single_logout`.
    let again = Browser::new()?
        .end_session(&end_session_url(CUSTOM_SCHEME_POST_LOGOUT_URI))
        .await?;
    assert_eq!(again.prompt.as_deref(), Some("single_logout"));
    assert_eq!(again.post_logout_redirect, None);
    Ok(())
}

#[tokio::test]
async fn bob_asking_for_a_scope_he_lacks() -> TestResult {
    let op = start().await?;
    // The missing scope is dropped silently when every resource is still covered by a scope he
    // holds: export:reports goes, read:reports keeps analytics reachable.
    let scope = "openid offline_access read:invoices read:reports export:reports";
    let request = authorization_request(
        &op,
        CUSTOM_SCHEME_REDIRECT_URI,
        scope,
        &[BILLING, ANALYTICS],
    );
    let code = authorize(&op, &request, "bob").await?;
    let (status, tokens) = exchange(&op, &request, &code, &[ANALYTICS]).await?;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(
        str_of(&tokens, "scope"),
        "openid offline_access read:invoices read:reports"
    );
    assert_eq!(
        jwt_part(str_of(&tokens, "access_token"), 1)?["aud"],
        json!(ANALYTICS)
    );

    // But when a requested resource is bound only to scopes he lacks, the whole authorization
    // fails: invalid_target at the redirect URI (with state and iss).
    let scope = "openid offline_access read:invoices export:reports";
    let request = authorization_request(
        &op,
        CUSTOM_SCHEME_REDIRECT_URI,
        scope,
        &[BILLING, ANALYTICS],
    );
    let location = op.sign_in(&request.url, "bob").await?;
    let params = callback_params(&location);
    assert_eq!(
        params.get("error").map(String::as_str),
        Some("invalid_target"),
        "{location}"
    );
    assert_eq!(
        params.get("error_description").map(String::as_str),
        Some("Invalid Resource")
    );
    assert_eq!(params.get("state"), Some(&request.state));
    assert_eq!(params.get("code"), None);
    Ok(())
}

#[tokio::test]
async fn redirect_uris_match_exactly_including_the_loopback_port() -> TestResult {
    let op = start().await?;
    let registered = op.loopback_redirect_uri().clone();
    let mut other_port = registered.clone();
    other_port
        .set_port(Some(
            registered.port().unwrap_or(80).wrapping_add(1).max(1024),
        ))
        .map_err(|()| "cannot set port")?;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    // Deviation (RFC 8252 §7.3): another port on the loopback redirect URI is refused, with a
    // bare 403 (no redirect, no body), as is any unregistered URI.
    for redirect_uri in [
        other_port.as_str(),
        "http://localhost:1/callback",
        "dev.portico.app:/other",
    ] {
        let request = authorization_request(&op, redirect_uri, SCOPE, &ALL_APIS);
        let response = http.get(&request.url).send().await?;
        assert_eq!(response.status().as_u16(), 403, "{redirect_uri}");
        assert_eq!(response.headers().get("location"), None);
    }
    // The registered one goes to the login page.
    let request = authorization_request(&op, registered.as_str(), SCOPE, &ALL_APIS);
    let response = http.get(&request.url).send().await?;
    assert_eq!(response.status().as_u16(), 302);
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(
        location.starts_with(&format!("{}login.html?", op.base_url())),
        "{location}"
    );

    // PKCE is required for the public client: without code_challenge, invalid_request at the
    // redirect URI (before any sign-in), with no error_description.
    let mut url = op.authorization_endpoint();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", CLIENT_ID)
        .append_pair("redirect_uri", CUSTOM_SCHEME_REDIRECT_URI)
        .append_pair("scope", SCOPE)
        .append_pair("state", "s1")
        .append_pair("nonce", "n1");
    let response = http.get(url).send().await?;
    assert_eq!(response.status().as_u16(), 302);
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert_eq!(
        callback_params(location),
        HashMap::from([
            ("iss".to_string(), op.issuer().to_string()),
            ("state".to_string(), "s1".to_string()),
            ("error".to_string(), "invalid_request".to_string()),
        ])
    );
    Ok(())
}

#[tokio::test]
async fn a_refresh_token_needs_neither_offline_access_nor_prompt_consent() -> TestResult {
    let op = start().await?;
    // Without offline_access, Glewlwyd still issues a refresh token (OIDC Core §11 lets it).
    let request = authorization_request(
        &op,
        CUSTOM_SCHEME_REDIRECT_URI,
        "openid read:invoices",
        &[BILLING],
    );
    let code = authorize(&op, &request, "alice").await?;
    let (status, tokens) = exchange(&op, &request, &code, &[]).await?;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(str_of(&tokens, "scope"), "openid read:invoices");
    assert_eq!(str_of(&tokens, "refresh_token").len(), 128);
    // No name/email without the profile/email scopes.
    let id = jwt_part(str_of(&tokens, "id_token"), 1)?;
    assert_eq!((id.get("name"), id.get("email")), (None, None));

    // prompt=consent (which some providers need for offline_access) is accepted: the login page
    // is shown again and the sign-in completes as usual.
    let mut request = authorization_request(&op, CUSTOM_SCHEME_REDIRECT_URI, SCOPE, &ALL_APIS);
    request.url.push_str("&prompt=consent");
    let code = authorize(&op, &request, "alice").await?;
    let (status, tokens) = exchange(&op, &request, &code, &[CORE]).await?;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(str_of(&tokens, "scope"), SCOPE);
    Ok(())
}
