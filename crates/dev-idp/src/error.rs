//! Error types: [`IdpError`] for the library API, [`OAuthError`] for RFC 6749 §5.2 responses.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// Failure to start or run the provider or the demo APIs.
#[derive(Debug, thiserror::Error)]
pub enum IdpError {
    /// The listening socket could not be bound.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// Address that was asked for.
        addr: std::net::SocketAddr,
        /// Underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// RSA key generation or encoding failed.
    #[error("signing key: {0}")]
    Key(String),
    /// An issuer or API URL could not be formed.
    #[error("invalid url {url}: {source}")]
    Url {
        /// The offending text.
        url: String,
        /// Parser error.
        #[source]
        source: url::ParseError,
    },
    /// Building an HTTP client failed.
    #[error("http client: {0}")]
    Http(#[from] reqwest::Error),
    /// Invalid configuration (e.g. duplicate audience).
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// An OAuth 2.0 error response (RFC 6749 §5.2, RFC 7009, RFC 8707, RFC 9449).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OAuthError {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: String,
}

impl OAuthError {
    pub fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            status,
            error,
            description: description.into(),
        }
    }
    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", d)
    }
    pub fn invalid_client(d: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_client", d)
    }
    pub fn invalid_grant(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", d)
    }
    pub fn invalid_target(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_target", d)
    }
    pub fn unsupported_grant_type(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "unsupported_grant_type", d)
    }
    /// RFC 9449 §5: the DPoP proof is missing where required, or defective.
    pub fn invalid_dpop_proof(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_dpop_proof", d)
    }
    /// RFC 9449 §8: the proof must carry the nonce sent along in `DPoP-Nonce`.
    pub fn use_dpop_nonce() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "use_dpop_nonce",
            "Authorization server requires nonce in DPoP proof",
        )
    }
    pub fn server_error(status: StatusCode, d: impl Into<String>) -> Self {
        Self::new(status, "server_error", d)
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "error": self.error,
            "error_description": self.description,
        });
        let mut resp = (self.status, axum::Json(body)).into_response();
        no_store(&mut resp);
        resp
    }
}

/// Token-bearing responses must not be cached (RFC 6749 §5.1).
pub(crate) fn no_store(resp: &mut Response) {
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}
