//! Demo resource servers that validate bearer tokens properly.

use crate::{ApiConfig, IdpError};

/// Demo APIs, each on its own loopback port, each validating RS256 access tokens against the
/// issuer's JWKS (cached, refetched on unknown `kid`), `iss`, `aud` (= its identifier) and `exp`.
///
/// `GET {base}data` with `Authorization: Bearer` answers 200 JSON
/// `{"api", "audience", "data", "claims"}`; otherwise 401 with `WWW-Authenticate`.
/// CORS allows any origin and the `Authorization` header.
pub struct DemoApis {}

impl DemoApis {
    /// Bind one server per API on 127.0.0.1.
    pub async fn start(issuer: &url::Url, apis: &[ApiConfig]) -> Result<DemoApis, IdpError> {
        let _ = (issuer, apis);
        todo!("skeleton")
    }
    /// Base URL (with trailing slash) of the API with this audience.
    pub fn url_for(&self, audience: &str) -> Option<url::Url> {
        let _ = audience;
        todo!("skeleton")
    }
    /// `(audience, base URL)` of every API.
    pub fn all(&self) -> Vec<(String, url::Url)> {
        todo!("skeleton")
    }
    /// Stop all servers.
    pub async fn shutdown(self) {
        todo!("skeleton")
    }
}
