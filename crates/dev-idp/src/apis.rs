//! Demo resource servers that validate bearer tokens the way a backend must: RS256 only,
//! signature against the issuer's JWKS (cached, refetched on an unknown `kid`), `iss`, `aud`
//! equal to the API, `exp`; and DPoP-bound tokens (RFC 9449 §7) with their proofs.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};
use url::Url;

use crate::dpop::{self, DpopChecker, DpopCounters, ProofError, Target};
use crate::server::{self, ServerHandle};
use crate::tokens::now_secs;
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
///
/// A token with `cnf.jkt` is DPoP-bound: it is accepted only as `Authorization: DPoP <token>`
/// with a `DPoP` proof of that key for this request (`htm`, `htu` = base URL + path, `iat`,
/// `jti`, `ath`); anything else gets 401 `WWW-Authenticate: DPoP error="invalid_token"` or
/// `error="invalid_dpop_proof"`. With [`DemoApis::set_dpop_nonce`] each API demands its own
/// current nonce (`use_dpop_nonce` + `DPoP-Nonce`, RFC 9449 §9).
///
/// CORS allows any origin and the `Authorization` and `DPoP` headers, and exposes
/// `WWW-Authenticate` and `DPoP-Nonce`; preflights get 204.
pub struct DemoApis {
    servers: Vec<(String, Url, Arc<ApiState>, ServerHandle)>,
}

impl std::fmt::Debug for DemoApis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.servers.iter().map(|(a, u, _, _)| (a, u.as_str())))
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
    pub async fn validate(&self, token: &str, audience: &[&str]) -> Result<Value, String> {
        let header =
            decode_header(token).map_err(|_| "malformed token or unsupported alg".to_owned())?;
        if header.alg != Algorithm::RS256 {
            return Err(format!("alg {:?} not accepted, RS256 only", header.alg));
        }
        let kid = header.kid.ok_or("token has no kid")?;
        let key = self.key_for(&kid).await?;
        let mut v = Validation::new(Algorithm::RS256);
        v.set_issuer(&[self.issuer.as_str()]);
        v.set_audience(audience);
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
    /// The base URL this API is addressed by; `htu` is compared against it plus the path.
    base: Url,
    validator: Arc<Validator>,
    /// This API's own jti cache and nonce: a resource server's nonce is its own (RFC 9449 §9).
    dpop: DpopChecker,
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
    let realm = quoted(realm);
    let challenge = match description {
        None => format!("Bearer realm=\"{realm}\""),
        Some(d) => format!(
            "Bearer realm=\"{realm}\", error=\"invalid_token\", error_description=\"{}\"",
            quoted(d)
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

/// A header quoted-string cannot hold `"` or `\` unescaped; descriptions are ours, so replace.
fn quoted(s: &str) -> String {
    s.replace(['"', '\\'], "'")
}

/// A refusal under the DPoP scheme (RFC 9449 §7.1): `invalid_token`, `invalid_dpop_proof` or
/// `use_dpop_nonce`, with the algorithms we take.
fn dpop_unauthorized(realm: &str, error: &str, description: &str) -> Response {
    let challenge = format!(
        "DPoP realm=\"{}\", error=\"{error}\", error_description=\"{}\", algs=\"{}\"",
        quoted(realm),
        quoted(description),
        dpop::ALG
    );
    let body = json!({ "error": error, "error_description": description });
    let mut resp = (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp
}

/// The key a token is bound to (`cnf.jkt`, RFC 9449 §6.1), if any.
fn bound_jkt(claims: &Value) -> Option<&str> {
    claims
        .get("cnf")
        .and_then(|c| c.get("jkt"))
        .and_then(Value::as_str)
}

/// A write without the `acr` the API demands: the RFC 9470 §3 challenge, under the scheme the
/// request used.
fn step_up_required(realm: &str, scheme: &str, acr: &str) -> Response {
    let description = "A second factor is required to change data";
    let challenge = format!(
        "{scheme} realm=\"{}\", error=\"insufficient_user_authentication\", error_description=\"{description}\", acr_values=\"{}\"",
        quoted(realm),
        quoted(acr)
    );
    let body = json!({ "error": "insufficient_user_authentication", "error_description": description, "acr_values": acr });
    let mut resp = (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp
}

/// A write (`POST /data`) with a valid token: it needs a `write:` scope and, where the API
/// says so, the `acr` of a step-up.
fn write(st: &ApiState, claims: &Value) -> Response {
    let scheme = if bound_jkt(claims).is_some() {
        "DPoP"
    } else {
        "Bearer"
    };
    if let Some(wanted) = &st.api.write_acr {
        let acr = claims.get("acr").and_then(Value::as_str).unwrap_or("");
        let met = acr == wanted
            || (wanted == crate::grants::ACR_MFA && acr == crate::grants::ACR_MFA_PAPE);
        if !met {
            return step_up_required(&st.api.name, scheme, wanted);
        }
    }
    let scopes = claims.get("scope").and_then(Value::as_str).unwrap_or("");
    let Some(write_scope) = st.api.scopes.iter().find(|s| s.starts_with("write:")) else {
        return (StatusCode::METHOD_NOT_ALLOWED, "this API takes no writes").into_response();
    };
    if !scopes.split_whitespace().any(|s| s == write_scope) {
        let challenge = format!(
            "{scheme} realm=\"{}\", error=\"insufficient_scope\", scope=\"{write_scope}\"",
            quoted(&st.api.name)
        );
        let mut resp = (
            StatusCode::FORBIDDEN,
            Json(json!({ "error": "insufficient_scope", "scope": write_scope })),
        )
            .into_response();
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        return resp;
    }
    (
        StatusCode::CREATED,
        Json(json!({
            "api": st.api.name,
            "audience": st.api.identifier,
            "written": true,
            "acr": claims.get("acr"),
            "auth_time": claims.get("auth_time"),
        })),
    )
        .into_response()
}

/// Largest body `/bytes` sends.
const MAX_BYTES: usize = 1024 * 1024;

/// What an accepted request gets: `/data` the API's demo data with the claims it validated;
/// `/bytes?n=N` N bytes (at most 1 MiB), for `cargo xtask bench`'s fetch figures.
fn answer(st: &ApiState, claims: Value, method: &Method, uri: &Uri) -> Response {
    if method == Method::POST {
        return write(st, &claims);
    }
    if uri.path() == "/bytes" {
        let n = uri
            .query()
            .and_then(|q| url::form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "n"))
            .and_then(|(_, v)| v.parse::<usize>().ok());
        return match n {
            Some(n) if n <= MAX_BYTES => (
                [(header::CONTENT_TYPE, "application/octet-stream")],
                vec![b'x'; n],
            )
                .into_response(),
            _ => (
                StatusCode::BAD_REQUEST,
                "n must be a number of bytes up to 1 MiB",
            )
                .into_response(),
        };
    }
    Json(json!({
        "api": st.api.name,
        "audience": st.api.identifier,
        "data": demo_data(&st.api.identifier),
        "claims": claims,
    }))
    .into_response()
}

async fn data(
    State(st): State<Arc<ApiState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let mut resp = authorize(&st, &method, &uri, &headers).await;
    // RFC 9449 §9: the current nonce may ride on any response; a challenge needs it.
    if let Some(nonce) = st.dpop.required_nonce() {
        if let Ok(v) = HeaderValue::from_str(&nonce) {
            resp.headers_mut().insert(dpop::DPOP_NONCE, v);
        }
    }
    resp
}

async fn authorize(st: &ApiState, method: &Method, uri: &Uri, headers: &HeaderMap) -> Response {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let (scheme, token) = auth.split_once(' ').unwrap_or((auth, ""));
    let token = token.trim();
    if scheme.eq_ignore_ascii_case("dpop") {
        return dpop_request(st, method, uri, headers, token).await;
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return unauthorized(&st.api.name, None);
    }
    if token.is_empty() {
        return unauthorized(&st.api.name, Some("empty bearer token"));
    }
    match st
        .validator
        .validate(token, &st.api.accepted_audiences())
        .await
    {
        // RFC 9449 §7.2: a bound token must not pass as a bearer token, or stealing it would do.
        Ok(claims) if bound_jkt(&claims).is_some() => {
            st.dpop.count_refusal();
            tracing::info!(api = %st.api.name, "DPoP-bound token presented as bearer");
            dpop_unauthorized(
                &st.api.name,
                "invalid_token",
                "the token is DPoP-bound; present it with the DPoP scheme and a proof",
            )
        }
        Ok(claims) => answer(st, claims, method, uri),
        Err(d) => {
            tracing::info!(api = %st.api.name, reason = %d, "token rejected");
            unauthorized(&st.api.name, Some(&d))
        }
    }
}

/// `Authorization: DPoP <token>` (RFC 9449 §7.1): the token first (a bad token is the answer
/// whatever the proof), then the proof for this request and token, then the key binding.
async fn dpop_request(
    st: &ApiState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    token: &str,
) -> Response {
    let realm = st.api.name.as_str();
    if token.is_empty() {
        return dpop_unauthorized(realm, "invalid_token", "empty DPoP token");
    }
    let claims = match st
        .validator
        .validate(token, &st.api.accepted_audiences())
        .await
    {
        Ok(c) => c,
        Err(d) => {
            tracing::info!(api = %realm, reason = %d, "token rejected");
            return dpop_unauthorized(realm, "invalid_token", &d);
        }
    };
    let Some(jkt) = bound_jkt(&claims).map(str::to_owned) else {
        // Nothing to check the proof's key against: the DPoP scheme is for bound tokens.
        st.dpop.count_refusal();
        return dpop_unauthorized(realm, "invalid_token", "the token is not DPoP-bound");
    };
    let refuse = |e: ProofError| match e {
        ProofError::Invalid(d) => {
            st.dpop.count_refusal();
            tracing::info!(api = %realm, reason = %d, "DPoP proof rejected");
            dpop_unauthorized(realm, "invalid_dpop_proof", &d)
        }
        ProofError::UseNonce => {
            st.dpop.count_nonce_challenge();
            dpop_unauthorized(
                realm,
                "use_dpop_nonce",
                "Resource server requires nonce in DPoP proof",
            )
        }
    };
    let proof = match dpop::single_header(headers) {
        Ok(Some(p)) => p,
        Ok(None) => return refuse(ProofError::Invalid("a DPoP proof is required".into())),
        Err(e) => return refuse(e),
    };
    // htu: the API as it is addressed, plus the request's path (RFC 9449 §4.3 check 9).
    let mut url = st.base.clone();
    url.set_path(uri.path());
    let target = Target {
        method: method.as_str(),
        url: &url,
        access_token: Some(token),
    };
    let accepted = match st.dpop.check(proof, &target, now_secs()) {
        Ok(p) => p,
        Err(e) => return refuse(e),
    };
    // RFC 9449 §7.1: the proof's key must be the one the token is bound to.
    if accepted.jkt != jkt {
        st.dpop.count_refusal();
        return dpop_unauthorized(
            realm,
            "invalid_token",
            "the token is bound to another DPoP key than the proof's",
        );
    }
    st.dpop.count_proof();
    answer(st, claims, method, uri)
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
        HeaderValue::from_static("Authorization, Content-Type, DPoP"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, OPTIONS"),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("WWW-Authenticate, DPoP-Nonce"),
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
                base: base.clone(),
                validator: Arc::clone(&validator),
                dpop: DpopChecker::new(false),
            });
            let router = Router::new()
                .route("/", get(index))
                .route("/data", get(data).post(data))
                .route("/bytes", get(data))
                .fallback(|| async { StatusCode::NOT_FOUND })
                .layer(axum::middleware::from_fn(cors))
                .with_state(Arc::clone(&state));
            tracing::info!(api = %api.name, %base, "demo API listening");
            servers.push((
                api.identifier.clone(),
                base,
                state,
                server::spawn(listener, router),
            ));
        }
        Ok(DemoApis { servers })
    }

    /// Base URL (with trailing slash) of the API with this audience.
    pub fn url_for(&self, audience: &str) -> Option<Url> {
        self.servers
            .iter()
            .find(|(a, _, _, _)| a == audience)
            .map(|(_, u, _, _)| u.clone())
    }

    /// `(audience, base URL)` of every API.
    pub fn all(&self) -> Vec<(String, Url)> {
        self.servers
            .iter()
            .map(|(a, u, _, _)| (a.clone(), u.clone()))
            .collect()
    }

    /// Demand (or stop demanding) a nonce in DPoP proofs at every API (RFC 9449 §9). Each API
    /// has its own nonce.
    pub fn set_dpop_nonce(&self, on: bool) {
        for (_, _, st, _) in &self.servers {
            st.dpop.set_nonce_required(on);
        }
    }

    /// Give every API a fresh nonce; proofs with an old one get a new challenge.
    pub fn rotate_dpop_nonces(&self) {
        for (_, _, st, _) in &self.servers {
            st.dpop.rotate_nonce();
        }
    }

    /// The nonce the API for `audience` currently demands (`None`: nonces off or no such API).
    pub fn dpop_nonce(&self, audience: &str) -> Option<String> {
        self.state(audience)?.dpop.required_nonce()
    }

    /// DPoP decisions of the API for `audience` so far.
    pub fn dpop_counters(&self, audience: &str) -> Option<DpopCounters> {
        Some(self.state(audience)?.dpop.counters())
    }

    fn state(&self, audience: &str) -> Option<&ApiState> {
        self.servers
            .iter()
            .find(|(a, _, _, _)| a == audience)
            .map(|(_, _, st, _)| st.as_ref())
    }

    /// Stop all servers.
    pub async fn shutdown(self) {
        for (_, _, _, s) in self.servers {
            s.shutdown().await;
        }
    }
}
