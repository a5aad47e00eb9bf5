//! Native fetch (issue 16) at the broker, over real HTTP on loopback: the demo API validates the
//! tokens the shell attaches (against the dev provider's JWKS); a second, awkward API server
//! redirects, answers slowly or hugely, and challenges. Every refusal is a typed error.

mod adversarial;
mod common;
use adversarial::record;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{any, get as route_get};
use common::*;
use portico_broker::fetch::{ApiBase, ApiRoute, FetchCaller, FetchInput, FetchLimits};
use portico_broker::*;
use portico_dev_idp::{DemoApis, IdpConfig, BILLING_API};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

const SUITE: &str = "fetch";

/// An API with the behaviours a page could meet, under `/api/`.
async fn awkward_api() -> (url::Url, Arc<AtomicU32>) {
    let hits = Arc::new(AtomicU32::new(0));
    let counted = hits.clone();
    // The first token it sees counts as revoked from then on; any later one is fine.
    let revoked: Arc<std::sync::Mutex<Option<String>>> = Arc::default();
    let app = axum::Router::new()
        .route(
            "/api/echo",
            any(
                |method: axum::http::Method, headers: HeaderMap, body: String| async move {
                    let h: serde_json::Map<String, Value> = headers
                        .iter()
                        .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or(""))))
                        .collect();
                    axum::Json(json!({"method": method.as_str(), "headers": h, "body": body}))
                },
            ),
        )
        .route(
            "/api/moved",
            route_get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/api/echo")]) }),
        )
        .route(
            "/api/escape",
            route_get(|| async {
                (
                    StatusCode::FOUND,
                    [(header::LOCATION, "http://127.0.0.1:1/steal")],
                )
            }),
        )
        .route(
            "/api/outside",
            route_get(|| async {
                (
                    StatusCode::TEMPORARY_REDIRECT,
                    [(header::LOCATION, "/admin")],
                )
            }),
        )
        .route(
            "/api/loop",
            route_get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/api/loop")]) }),
        )
        .route("/api/big", route_get(|| async { vec![b'x'; 64 * 1024] }))
        .route(
            "/api/slow",
            route_get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        )
        .route(
            "/api/always-invalid",
            route_get(move || {
                let hits = counted.clone();
                async move {
                    hits.fetch_add(1, Ordering::SeqCst);
                    (
                        StatusCode::UNAUTHORIZED,
                        [(header::WWW_AUTHENTICATE, r#"Bearer error="invalid_token""#)],
                        "no",
                    )
                        .into_response()
                }
            }),
        )
        .route(
            "/api/revokes-the-first-token",
            route_get(move |headers: HeaderMap| {
                let revoked = revoked.clone();
                async move {
                    let presented = headers
                        .get(header::AUTHORIZATION)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned();
                    let mut first = revoked.lock().unwrap();
                    if first.get_or_insert_with(|| presented.clone()) == &presented {
                        return (
                            StatusCode::UNAUTHORIZED,
                            [(
                                header::WWW_AUTHENTICATE,
                                r#"Bearer error="invalid_token", error_description="revoked""#,
                            )],
                            "revoked",
                        )
                            .into_response();
                    }
                    "fine".into_response()
                }
            }),
        )
        .route(
            "/api/admin-only",
            route_get(|| async {
                (
                    StatusCode::FORBIDDEN,
                    [(
                        header::WWW_AUTHENTICATE,
                        r#"Bearer error="insufficient_scope", scope="admin:invoices""#,
                    )],
                )
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (
        url::Url::parse(&format!("http://127.0.0.1:{port}/api/")).unwrap(),
        hits,
    )
}

struct Rig {
    env: Env,
    _apis: DemoApis,
    billing_api: url::Url,
    awkward: url::Url,
    awkward_hits: Arc<AtomicU32>,
    caller: FetchCaller,
}

fn ceiling() -> ScopeCeiling {
    ScopeCeiling::new(
        scopes("read:invoices write:invoices"),
        scopes("read:invoices write:invoices"),
    )
}

async fn rig(limits: FetchLimits) -> Rig {
    let env = env_with(
        IdpConfig::portico_demo(),
        Dialect::Auth0,
        BrokerOptions {
            fetch: limits,
            ..options()
        },
        Arc::new(MemoryStore::new()),
    )
    .await;
    login(&env.broker, "alice").await;
    let apis = DemoApis::start(env.idp.issuer(), &IdpConfig::portico_demo().apis)
        .await
        .unwrap();
    let billing_api = apis.url_for(BILLING_API).unwrap();
    let (awkward, awkward_hits) = awkward_api().await;
    let caller = FetchCaller {
        id: "billing".into(),
        routes: vec![
            ApiRoute {
                base: ApiBase::parse(billing_api.as_str()).unwrap(),
                audience: billing(),
                ceiling: ceiling(),
            },
            ApiRoute {
                base: ApiBase::parse(awkward.as_str()).unwrap(),
                audience: billing(),
                ceiling: ceiling(),
            },
        ],
    };
    Rig {
        env,
        _apis: apis,
        billing_api,
        awkward,
        awkward_hits,
        caller,
    }
}

fn get(url: &str) -> FetchInput {
    FetchInput {
        url: url.into(),
        method: "GET".into(),
        ..FetchInput::default()
    }
}

async fn fetch(
    r: &Rig,
    input: FetchInput,
) -> Result<portico_broker::fetch::FetchOutput, AuthError> {
    r.env
        .broker
        .fetch(&r.caller, input, std::future::pending())
        .await
}

fn defect(e: &AuthError) -> String {
    match e {
        AuthError::FetchRefused { reason, .. } => serde_json::to_value(reason)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        other => other.kind().to_owned(),
    }
}

#[tokio::test]
async fn the_shell_attaches_the_apis_token_and_the_api_accepts_it() {
    let r = rig(FetchLimits::default()).await;
    let out = fetch(&r, get(r.billing_api.join("data").unwrap().as_str()))
        .await
        .unwrap();
    assert_eq!(out.status, 200);
    let body: Value = serde_json::from_slice(&out.body).unwrap();
    assert_eq!(body["claims"]["aud"], BILLING_API, "a token for this API");
    // The page's own headers go along; the Authorization header is the shell's.
    let mut input = get(r.awkward.join("echo").unwrap().as_str());
    input.method = "POST".into();
    input.headers = vec![("X-Request-Id".into(), "r-1".into())];
    input.body = Some(b"{\"a\":1}".to_vec());
    let out = fetch(&r, input).await.unwrap();
    let echo: Value = serde_json::from_slice(&out.body).unwrap();
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["body"], "{\"a\":1}");
    assert_eq!(echo["headers"]["x-request-id"], "r-1");
    assert!(echo["headers"]["authorization"]
        .as_str()
        .is_some_and(|a| a.starts_with("Bearer eyJ")));
}

#[tokio::test]
async fn urls_outside_the_callers_apis_are_refused_typed() {
    let r = rig(FetchLimits::default()).await;
    // The awkward API lives under /api/: paths must stay below it.
    let api = r.awkward.as_str().trim_end_matches('/');
    let host = r.billing_api.host_str().unwrap();
    let port = r.billing_api.port().unwrap();
    let cases = [
        (format!("http://{host}.evil.test:{port}/data"), "not_an_api"),
        (format!("{api}/../admin"), "not_an_api"),
        (format!("{api}/%2e%2e/admin"), "not_an_api"),
        (format!("{api}x/echo"), "not_an_api"),
        (format!("http://user:pw@{host}:{port}/data"), "userinfo"),
        (format!("http://[::1]:{port}/data"), "not_an_api"),
        (format!("http://{host}:{}/data", port + 1), "not_an_api"),
        ("file:///etc/passwd".to_owned(), "not_a_url"),
    ];
    for (url, expected) in cases {
        let err = fetch(&r, get(&url)).await.unwrap_err();
        let got = defect(&err);
        record(SUITE, &format!("fetch {url}"), expected, &got, json!({}));
        assert_eq!(got, expected, "{url}: {err}");
        assert_eq!(err.kind(), "fetch_refused");
    }
}

#[tokio::test]
async fn headers_of_the_shell_and_smuggling_headers_are_refused() {
    let r = rig(FetchLimits::default()).await;
    for (name, value, expected) in [
        ("Authorization", "Bearer stolen", "forbidden_header"),
        ("Cookie", "a=b", "forbidden_header"),
        ("DPoP", "x", "forbidden_header"),
        ("Host", "evil.test", "forbidden_header"),
        ("Transfer-Encoding", "chunked", "forbidden_header"),
        ("X-Split", "1\r\nAuthorization: Bearer x", "invalid_header"),
    ] {
        let mut input = get(r.awkward.join("echo").unwrap().as_str());
        input.headers = vec![(name.into(), value.into())];
        let err = fetch(&r, input).await.unwrap_err();
        record(
            SUITE,
            &format!("header {name}"),
            expected,
            &defect(&err),
            json!({}),
        );
        assert_eq!(defect(&err), expected, "{name}");
    }
}

#[tokio::test]
async fn bodies_are_bounded_both_ways_and_a_slow_api_times_out() {
    let r = rig(FetchLimits {
        max_request_body: 1024,
        max_response_body: 16 * 1024,
        timeout: Duration::from_secs(2),
        max_redirects: 5,
    })
    .await;
    let mut input = get(r.awkward.join("echo").unwrap().as_str());
    input.method = "PUT".into();
    input.body = Some(vec![b'a'; 1025]);
    assert_eq!(
        defect(&fetch(&r, input).await.unwrap_err()),
        "request_too_large"
    );
    let big = fetch(&r, get(r.awkward.join("big").unwrap().as_str()))
        .await
        .unwrap_err();
    assert_eq!(defect(&big), "response_too_large");
    let started = std::time::Instant::now();
    let slow = fetch(&r, get(r.awkward.join("slow").unwrap().as_str()))
        .await
        .unwrap_err();
    record(
        SUITE,
        "a slow API",
        "api_unreachable",
        slow.kind(),
        json!({"waited_ms": started.elapsed().as_millis() as u64}),
    );
    assert_eq!(slow.kind(), "api_unreachable");
    assert!(slow.retryable());
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[tokio::test]
async fn redirects_are_followed_only_within_the_api() {
    let r = rig(FetchLimits::default()).await;
    let out = fetch(&r, get(r.awkward.join("moved").unwrap().as_str()))
        .await
        .unwrap();
    assert_eq!(out.status, 200);
    assert!(out.redirected);
    assert!(out.url.ends_with("/api/echo"));
    for (path, expected) in [
        ("escape", "redirect_outside"),
        ("outside", "redirect_outside"),
        ("loop", "too_many_redirects"),
    ] {
        let err = fetch(&r, get(r.awkward.join(path).unwrap().as_str()))
            .await
            .unwrap_err();
        record(
            SUITE,
            &format!("redirect {path}"),
            expected,
            &defect(&err),
            json!({}),
        );
        assert_eq!(defect(&err), expected, "{path}");
    }
}

#[tokio::test]
async fn an_invalid_token_costs_one_refresh_and_one_retry_never_a_loop() {
    let r = rig(FetchLimits::default()).await;
    // The API keeps refusing: two calls and one forced refresh, then its answer as it is.
    fetch(&r, get(r.awkward.join("echo").unwrap().as_str()))
        .await
        .unwrap();
    let before = r.env.admin.counters().token_refresh;
    let out = fetch(&r, get(r.awkward.join("always-invalid").unwrap().as_str()))
        .await
        .unwrap();
    let refreshes = r.env.admin.counters().token_refresh - before;
    record(
        SUITE,
        "an API that always says invalid_token",
        "401",
        &out.status.to_string(),
        json!({"api_calls": r.awkward_hits.load(Ordering::SeqCst), "refreshes": refreshes}),
    );
    assert_eq!(out.status, 401);
    assert_eq!(r.awkward_hits.load(Ordering::SeqCst), 2);
    assert_eq!(refreshes, 1, "one forced refresh");
    // An API that revoked the token the shell holds: one refresh later it accepts the new one.
    fetch(&r, get(r.awkward.join("echo").unwrap().as_str()))
        .await
        .unwrap();
    let before = r.env.admin.counters().token_refresh;
    let out = fetch(
        &r,
        get(r.awkward.join("revokes-the-first-token").unwrap().as_str()),
    )
    .await
    .unwrap();
    assert_eq!(out.status, 200);
    assert_eq!(out.body, b"fine");
    assert_eq!(r.env.admin.counters().token_refresh - before, 1);
}

#[tokio::test]
async fn insufficient_scope_is_a_typed_error_naming_the_scope_and_abort_is_typed() {
    let r = rig(FetchLimits::default()).await;
    let err = fetch(&r, get(r.awkward.join("admin-only").unwrap().as_str()))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        AuthError::InsufficientScope {
            audience: BILLING_API.into(),
            scope: Some("admin:invoices".into())
        }
    );
    assert_eq!(
        err.to_string(),
        "The API at https://api.portico.dev/billing needs the scope admin:invoices, which this token does not carry."
    );
    let aborted = r
        .env
        .broker
        .fetch(
            &r.caller,
            get(r.awkward.join("slow").unwrap().as_str()),
            tokio::time::sleep(Duration::from_millis(100)),
        )
        .await
        .unwrap_err();
    assert_eq!(aborted, AuthError::FetchAborted);
}
