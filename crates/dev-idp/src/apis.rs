//! Demo resource servers that validate bearer tokens the way a backend must: RS256 only,
//! signature against the issuer's JWKS (cached, refetched on an unknown `kid`), `iss`, `aud`
//! equal to the API, `exp`.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};
use url::Url;

use crate::server::{self, ServerHandle};
use crate::{ApiConfig, IdpError};
use portico_types::sync::lock;

/// A `kid` that was still missing after a refetch is not looked up again for this long, so
/// garbage tokens cannot make us hammer the JWKS endpoint.
const NEGATIVE_TTL: Duration = Duration::from_secs(30);

/// Demo APIs, each on its own loopback port, each validating RS256 access tokens against the
/// issuer's JWKS (cached, refetched on unknown `kid`), `iss`, `aud` (= its identifier) and `exp`.
///
/// `GET {base}data` with `Authorization: Bearer` answers 200 JSON
/// `{"api", "audience", "data", "claims"}`; otherwise 401 with `WWW-Authenticate`
/// (`Bearer realm=...` alone when no token was sent, with `error="invalid_token"` and an
/// `error_description` when one was). `GET {base}` answers `{"api", "audience"}` without a token.
/// CORS allows any origin and the `Authorization` header; preflights get 204.
pub struct DemoApis {
    servers: Vec<(String, Url, ServerHandle)>,
}

impl std::fmt::Debug for DemoApis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.servers.iter().map(|(a, u, _)| (a, u.as_str())))
            .finish()
    }
}

/// Validates access tokens of one issuer; shared by the APIs so they share one JWKS cache.
pub(crate) struct Validator {
    issuer: String,
    http: reqwest::Client,
    jwks_uri: tokio::sync::Mutex<Option<Url>>,
    keys: RwLock<HashMap<String, DecodingKey>>,
    missing: Mutex<HashMap<String, Instant>>,
    fetch: tokio::sync::Mutex<()>,
}

impl Validator {
    pub fn new(issuer: &Url) -> Result<Self, IdpError> {
        Ok(Validator {
            issuer: issuer.as_str().to_owned(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()?,
            jwks_uri: tokio::sync::Mutex::new(None),
            keys: RwLock::new(HashMap::new()),
            missing: Mutex::new(HashMap::new()),
            fetch: tokio::sync::Mutex::new(()),
        })
    }

    fn cached(&self, kid: &str) -> Option<DecodingKey> {
        self.keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(kid)
            .cloned()
    }

    async fn jwks_uri(&self) -> Result<Url, String> {
        let mut slot = self.jwks_uri.lock().await;
        if let Some(u) = slot.as_ref() {
            return Ok(u.clone());
        }
        // OpenID Connect Discovery §4: the issuer without its trailing slash, then the path
        // (an issuer need not end with `/`, e.g. Glewlwyd's `.../api/oidc`).
        let discovery = format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        );
        let doc: Value = self
            .http
            .get(&discovery)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| format!("discovery: {e}"))?
            .json()
            .await
            .map_err(|e| format!("discovery: {e}"))?;
        if doc["issuer"].as_str() != Some(self.issuer.as_str()) {
            return Err("discovery issuer mismatch".into());
        }
        let uri = doc["jwks_uri"]
            .as_str()
            .and_then(|s| Url::parse(s).ok())
            .ok_or("discovery has no jwks_uri")?;
        *slot = Some(uri.clone());
        Ok(uri)
    }

    async fn refetch(&self) -> Result<(), String> {
        let uri = self.jwks_uri().await?;
        let set: Value = self
            .http
            .get(uri)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| format!("jwks: {e}"))?
            .json()
            .await
            .map_err(|e| format!("jwks: {e}"))?;
        let mut fresh = HashMap::new();
        for k in set["keys"].as_array().into_iter().flatten() {
            let (Some(kid), Some("RSA"), Some(n), Some(e)) = (
                k["kid"].as_str(),
                k["kty"].as_str(),
                k["n"].as_str(),
                k["e"].as_str(),
            ) else {
                continue;
            };
            if let Ok(key) = DecodingKey::from_rsa_components(n, e) {
                fresh.insert(kid.to_owned(), key);
            }
        }
        // Replace, so keys retired from the JWKS stop validating.
        *self
            .keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = fresh;
        Ok(())
    }

    async fn key_for(&self, kid: &str) -> Result<DecodingKey, String> {
        if let Some(k) = self.cached(kid) {
            return Ok(k);
        }
        let now = Instant::now();
        if lock(&self.missing)
            .get(kid)
            .is_some_and(|at| now.saturating_duration_since(*at) < NEGATIVE_TTL)
        {
            return Err("unknown signing key".into());
        }
        // One fetch at a time; whoever waited re-checks the cache first.
        let _guard = self.fetch.lock().await;
        if let Some(k) = self.cached(kid) {
            return Ok(k);
        }
        self.refetch().await?;
        match self.cached(kid) {
            Some(k) => Ok(k),
            None => {
                let mut missing = lock(&self.missing);
                missing.retain(|_, at| now.saturating_duration_since(*at) < NEGATIVE_TTL);
                missing.insert(kid.to_owned(), now);
                Err("unknown signing key".into())
            }
        }
    }

    /// Validate `token` for `audience`; the error is a description for `WWW-Authenticate`.
    pub async fn validate(&self, token: &str, audience: &str) -> Result<Value, String> {
        let header =
            decode_header(token).map_err(|_| "malformed token or unsupported alg".to_owned())?;
        if header.alg != Algorithm::RS256 {
            return Err(format!("alg {:?} not accepted, RS256 only", header.alg));
        }
        let kid = header.kid.ok_or("token has no kid")?;
        let key = self.key_for(&kid).await?;
        let mut v = Validation::new(Algorithm::RS256);
        v.set_issuer(&[self.issuer.as_str()]);
        v.set_audience(&[audience]);
        v.leeway = 0;
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        decode::<Value>(token, &key, &v)
            .map(|d| d.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => "token expired".to_owned(),
                ErrorKind::InvalidAudience => "token is for another audience".to_owned(),
                ErrorKind::InvalidIssuer => "token from another issuer".to_owned(),
                ErrorKind::InvalidSignature => "bad signature".to_owned(),
                ErrorKind::MissingRequiredClaim(c) => format!("missing claim {c}"),
                _ => "invalid token".to_owned(),
            })
    }
}

struct ApiState {
    api: ApiConfig,
    validator: Arc<Validator>,
}

fn demo_data(identifier: &str) -> Value {
    match identifier.rsplit('/').next().unwrap_or("") {
        "billing" => json!({ "invoices": [
            { "id": "INV-1001", "customer": "Acme GmbH", "amount": 1200.0, "currency": "EUR", "status": "paid" },
            { "id": "INV-1002", "customer": "Globex", "amount": 830.5, "currency": "EUR", "status": "open" },
            { "id": "INV-1003", "customer": "Initech", "amount": 99.0, "currency": "EUR", "status": "overdue" },
        ]}),
        "core" => json!({ "dashboard": {
            "active_users": 42, "open_tickets": 7, "uptime_percent": 99.95,
            "announcements": ["Maintenance window Sunday 02:00 UTC"],
        }}),
        "analytics" => json!({ "reports": [
            { "id": "r-weekly", "title": "Weekly active users", "points": [31, 35, 40, 42] },
            { "id": "r-revenue", "title": "Revenue by month", "points": [10.5, 12.25, 11.0, 14.75] },
        ]}),
        _ => json!({ "message": "hello" }),
    }
}

fn unauthorized(realm: &str, description: Option<&str>) -> Response {
    let realm = realm.replace(['"', '\\'], "'");
    let challenge = match description {
        None => format!("Bearer realm=\"{realm}\""),
        Some(d) => format!(
            "Bearer realm=\"{realm}\", error=\"invalid_token\", error_description=\"{}\"",
            d.replace(['"', '\\'], "'")
        ),
    };
    let body = json!({
        "error": if description.is_some() { "invalid_token" } else { "unauthorized" },
        "error_description": description.unwrap_or("bearer token required"),
    });
    let mut resp = (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp
}

async fn data(State(st): State<Arc<ApiState>>, headers: HeaderMap) -> Response {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let (scheme, token) = auth.split_once(' ').unwrap_or((auth, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return unauthorized(&st.api.name, None);
    }
    let token = token.trim();
    if token.is_empty() {
        return unauthorized(&st.api.name, Some("empty bearer token"));
    }
    match st.validator.validate(token, &st.api.identifier).await {
        Ok(claims) => Json(json!({
            "api": st.api.name,
            "audience": st.api.identifier,
            "data": demo_data(&st.api.identifier),
            "claims": claims,
        }))
        .into_response(),
        Err(d) => {
            tracing::info!(api = %st.api.name, reason = %d, "token rejected");
            unauthorized(&st.api.name, Some(&d))
        }
    }
}

async fn index(State(st): State<Arc<ApiState>>) -> Response {
    Json(json!({ "api": st.api.name, "audience": st.api.identifier })).into_response()
}

/// CORS for MFEs served from other origins: any origin, bearer header, preflight answered.
async fn cors(req: Request, next: Next) -> Response {
    let mut resp = if req.method() == Method::OPTIONS {
        StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(req).await
    };
    let h = resp.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Authorization, Content-Type"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, OPTIONS"),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("WWW-Authenticate"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    resp
}

impl DemoApis {
    /// Bind one server per API on 127.0.0.1 (ephemeral ports). The issuer's discovery and JWKS
    /// are fetched lazily, on the first token to validate.
    pub async fn start(issuer: &Url, apis: &[ApiConfig]) -> Result<DemoApis, IdpError> {
        let validator = Arc::new(Validator::new(issuer)?);
        let mut servers = Vec::with_capacity(apis.len());
        for api in apis {
            let bind = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
            let listener = tokio::net::TcpListener::bind(bind)
                .await
                .map_err(|source| IdpError::Bind { addr: bind, source })?;
            let local = listener
                .local_addr()
                .map_err(|source| IdpError::Bind { addr: bind, source })?;
            let text = format!("http://{local}/");
            let base = Url::parse(&text).map_err(|source| IdpError::Url { url: text, source })?;
            let state = Arc::new(ApiState {
                api: api.clone(),
                validator: Arc::clone(&validator),
            });
            let router = Router::new()
                .route("/", get(index))
                .route("/data", get(data))
                .fallback(|| async { StatusCode::NOT_FOUND })
                .layer(axum::middleware::from_fn(cors))
                .with_state(state);
            tracing::info!(api = %api.name, %base, "demo API listening");
            servers.push((
                api.identifier.clone(),
                base,
                server::spawn(listener, router),
            ));
        }
        Ok(DemoApis { servers })
    }

    /// Base URL (with trailing slash) of the API with this audience.
    pub fn url_for(&self, audience: &str) -> Option<Url> {
        self.servers
            .iter()
            .find(|(a, _, _)| a == audience)
            .map(|(_, u, _)| u.clone())
    }

    /// `(audience, base URL)` of every API.
    pub fn all(&self) -> Vec<(String, Url)> {
        self.servers
            .iter()
            .map(|(a, u, _)| (a.clone(), u.clone()))
            .collect()
    }

    /// Stop all servers.
    pub async fn shutdown(self) {
        for (_, _, s) in self.servers {
            s.shutdown().await;
        }
    }
}
