//! Middleware in front of every provider endpoint: count the request, then apply the armed
//! faults (delay, or answer in a broken way instead of the real handler).

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::counters::Counter;
use crate::error::OAuthError;
use crate::faults::{Endpoint, FaultKind};
use crate::server::ConnCtl;
use crate::state::Shared;
use portico_types::sync::lock;

/// Form bodies larger than this are refused (they never come from a real client).
pub(crate) const MAX_FORM: usize = 64 * 1024;

fn classify(path: &str) -> (Endpoint, Option<Counter>) {
    match path {
        "/.well-known/openid-configuration" => (Endpoint::Discovery, Some(Counter::Discovery)),
        "/.well-known/jwks.json" => (Endpoint::Jwks, Some(Counter::Jwks)),
        "/authorize" => (Endpoint::Authorize, Some(Counter::Authorize)),
        "/oauth/par" => (Endpoint::Authorize, Some(Counter::Par)),
        "/oauth/token" => (Endpoint::Token, None),
        "/oauth/revoke" => (Endpoint::Revoke, Some(Counter::Revoke)),
        "/u/login" => (Endpoint::Any, Some(Counter::Login)),
        "/v2/logout" | "/oidc/logout" => (Endpoint::Any, Some(Counter::Logout)),
        "/userinfo" => (Endpoint::Any, Some(Counter::Userinfo)),
        // Other paths are hit only by `Endpoint::Any` faults.
        _ => (Endpoint::Any, None),
    }
}

pub(crate) async fn intercept(
    State(shared): State<Arc<Shared>>,
    req: Request,
    next: Next,
) -> Response {
    let (endpoint, counter) = classify(req.uri().path());
    let req = if endpoint == Endpoint::Token {
        // Peek at grant_type to count per grant, then hand the body on unchanged.
        let (parts, body) = req.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM).await else {
            shared.counters.bump(Counter::TokenErrors);
            return OAuthError::invalid_request("request body too large or unreadable")
                .into_response();
        };
        let grant_type = url::form_urlencoded::parse(&bytes)
            .find(|(k, _)| k == "grant_type")
            .map(|(_, v)| v.into_owned());
        match grant_type.as_deref() {
            Some("authorization_code") => shared.counters.bump(Counter::TokenAuthorizationCode),
            Some("refresh_token") => shared.counters.bump(Counter::TokenRefresh),
            _ => {}
        }
        Request::from_parts(parts, Body::from(bytes))
    } else {
        if let Some(c) = counter {
            shared.counters.bump(c);
        }
        req
    };
    let fired = lock(&shared.faults).fire(endpoint);
    if !fired.delay.is_zero() {
        tokio::time::sleep(fired.delay).await;
    }
    match fired.outcome {
        None => next.run(req).await,
        Some(kind) => {
            shared.counters.bump(Counter::FaultsInjected);
            if kind == FaultKind::InvalidGrant {
                shared.counters.bump(Counter::TokenErrors);
            }
            tracing::info!(?kind, path = req.uri().path(), "injecting fault");
            let conn = req.extensions().get::<ConnCtl>().cloned();
            drop(req);
            render(kind, conn).await
        }
    }
}

async fn render(kind: FaultKind, conn: Option<ConnCtl>) -> Response {
    match kind {
        // Never an outcome: `FaultSet::fire` folds latency into the delay.
        FaultKind::Latency(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        FaultKind::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            OAuthError::server_error(status, "injected fault").into_response()
        }
        FaultKind::TooManyRequests { retry_after_secs } => {
            let body = serde_json::json!({
                "error": "too_many_requests",
                "error_description": "Global limit has been reached (injected fault)",
            });
            let mut resp = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            resp
        }
        FaultKind::GarbageJson => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "{\"access_token\": eyJ<<garbage>>, ]]\u{0}",
        )
            .into_response(),
        FaultKind::HtmlError => (
            StatusCode::BAD_GATEWAY,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>",
        )
            .into_response(),
        FaultKind::TruncatedBody => truncated(),
        FaultKind::DropConnection => match conn {
            Some(ctl) => {
                ctl.drop_connection();
                // The connection task drops this future together with the socket.
                std::future::pending::<Response>().await
            }
            None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        },
        FaultKind::InvalidGrant => {
            OAuthError::invalid_grant("grant revoked (injected fault)").into_response()
        }
    }
}

/// 200 announcing 512 bytes of JSON; a few bytes go out, then the stream fails and hyper aborts
/// the connection, so the client sees headers and a body cut short.
fn truncated() -> Response {
    let stream = futures_util::stream::unfold(0u8, |step| async move {
        match step {
            0 => Some((
                Ok(Bytes::from_static(
                    b"{\"access_token\":\"eyJhbGciOiJSUzI1NiIs",
                )),
                1,
            )),
            1 => {
                // Pending here makes hyper flush the head and first chunk before the failure.
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                Some((Err(std::io::Error::other("body truncated on purpose")), 2))
            }
            _ => None,
        }
    });
    let body = Body::from_stream(stream);
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, "512")
        .body(body)
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}
