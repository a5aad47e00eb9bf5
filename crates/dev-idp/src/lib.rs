//! # portico-dev-idp
//!
//! A small, honest OpenID Provider for development and tests, speaking both the Auth0 dialect
//! (`audience=`, Multi-Resource Refresh Tokens, `/v2/logout`) and the standards
//! (RFC 6749, 7636 PKCE S256, 8252 loopback redirects, 8707 `resource=`, 7009 revocation,
//! 9207 `iss`, OIDC Core / Discovery / RP-initiated logout). It runs on 127.0.0.1 over real HTTP,
//! in-process ([`DevIdp::start`]) or as the `portico-dev-idp` binary, and has switches for the
//! failures a client must survive ([`Admin`]): latency, 5xx, 429, garbage bodies, dropped
//! connections, refresh-token reuse detection, revoked grants, key rotation, tampered ID tokens.
//! It speaks DPoP (RFC 9449): proofs at the token endpoint, `cnf.jkt`-bound access tokens and
//! refresh-token families, optional nonces.
//!
//! [`DemoApis`] are three resource servers that validate bearer and DPoP-bound tokens the way a
//! backend must.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use portico_dev_idp::{DevIdp, IdpConfig, DemoApis};
//! let idp = DevIdp::start(IdpConfig::portico_demo()).await?;
//! let apis = DemoApis::start(idp.issuer(), &IdpConfig::portico_demo().apis).await?;
//! println!("issuer {} billing {:?}", idp.issuer(), apis.url_for("https://api.portico.dev/billing"));
//! # Ok(()) }
//! ```

mod admin;
mod apis;
mod authorize;
mod config;
mod cors;
mod counters;
mod dpop;
mod endpoints;
mod error;
mod faults;
mod grants;
mod html;
mod intercept;
mod keys;
mod par;
mod params;
mod secret;
mod server;
mod sessions;
mod state;
mod token;
mod tokens;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;

pub use admin::Admin;

/// [`DevIdp::entra_issuer`] from the provider's root URL.
pub fn entra_issuer(root: &url::Url, authority: &str) -> url::Url {
    root.join(&format!("{authority}/v2.0"))
        .unwrap_or_else(|_| root.clone())
}
pub use apis::DemoApis;
pub use authorize::DEV_ONE_TIME_CODE;
pub use config::{
    ApiConfig, ClientConfig, DemoUser, IdpConfig, MrrtPolicy, RefreshRotation, ANALYTICS_API,
    BILLING_API, CLAIM_NAMESPACE, CORE_API, DEMO_CLIENT_ID, ENTRA_TENANT, SPA_CLIENT_ID,
};
pub use counters::Counters;
pub use dpop::DpopCounters;
pub use error::IdpError;
pub use faults::{Endpoint, Fault, FaultKind, IdTokenTamper};
pub use grants::{ACR_MFA, ACR_MFA_PAPE, ACR_PASSWORD};

/// A running provider. Dropping it (or [`DevIdp::shutdown`]) stops the server, so keep it alive
/// as long as the issuer is in use.
pub struct DevIdp {
    issuer: url::Url,
    admin: Admin,
    server: server::ServerHandle,
}

impl std::fmt::Debug for DevIdp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevIdp")
            .field("issuer", &self.issuer.as_str())
            .finish()
    }
}

/// The host to put in URLs for a bound address (wildcards become loopback).
pub(crate) fn url_host(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

fn validate(config: &IdpConfig) -> Result<(), IdpError> {
    fn unique<'a>(what: &str, items: impl Iterator<Item = &'a str>) -> Result<(), IdpError> {
        let mut seen = std::collections::HashSet::new();
        for i in items {
            if !seen.insert(i) {
                return Err(IdpError::Config(format!("duplicate {what} {i}")));
            }
        }
        Ok(())
    }
    unique(
        "client_id",
        config.clients.iter().map(|c| c.client_id.as_str()),
    )?;
    unique(
        "API identifier",
        config.apis.iter().map(|a| a.identifier.as_str()),
    )?;
    unique("username", config.users.iter().map(|u| u.username.as_str()))?;
    unique("sub", config.users.iter().map(|u| u.sub.as_str()))?;
    for c in &config.clients {
        for p in &c.mrrt {
            if config.api(&p.audience).is_none() {
                return Err(IdpError::Config(format!(
                    "MRRT policy of {} names unknown API {}",
                    c.client_id, p.audience
                )));
            }
        }
    }
    Ok(())
}

impl DevIdp {
    /// Generate a signing key, bind `config.bind` and serve in the background on the current
    /// tokio runtime.
    pub async fn start(config: IdpConfig) -> Result<DevIdp, IdpError> {
        validate(&config)?;
        let listener = tokio::net::TcpListener::bind(config.bind)
            .await
            .map_err(|source| IdpError::Bind {
                addr: config.bind,
                source,
            })?;
        let local = listener.local_addr().map_err(|source| IdpError::Bind {
            addr: config.bind,
            source,
        })?;
        let text = format!("http://{}/", url_host(local));
        let issuer =
            url::Url::parse(&text).map_err(|source| IdpError::Url { url: text, source })?;
        // Key generation is CPU-bound; keep it off the async worker.
        let key = tokio::task::spawn_blocking(keys::SigningKey::generate)
            .await
            .map_err(|e| IdpError::Key(e.to_string()))??;
        let admin_endpoint = config.admin_endpoint;
        let shared = Arc::new(state::Shared::new(
            config,
            issuer.clone(),
            keys::KeyStore::new(key),
        ));

        let provider = Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(endpoints::discovery),
            )
            .route(
                "/{tenant}/v2.0/.well-known/openid-configuration",
                get(endpoints::tenant_discovery),
            )
            .route("/.well-known/jwks.json", get(endpoints::jwks))
            .route("/authorize", get(authorize::authorize))
            .route("/u/login", post(authorize::login))
            .route(
                "/oauth/token",
                post(token::token).options(cors::token_preflight),
            )
            .route("/oauth/par", post(par::par))
            .route("/oauth/revoke", post(endpoints::revoke))
            .route("/v2/logout", get(endpoints::logout_auth0))
            .route("/oidc/logout", get(endpoints::logout_oidc))
            .route(
                "/userinfo",
                get(endpoints::userinfo).post(endpoints::userinfo),
            )
            .fallback(endpoints::not_found)
            .layer(axum::middleware::from_fn_with_state(
                Arc::clone(&shared),
                intercept::intercept,
            ))
            .with_state(Arc::clone(&shared));
        // The admin API sits outside the fault layer so tests can always switch faults off.
        let router = if admin_endpoint {
            admin::router(Arc::clone(&shared)).merge(provider)
        } else {
            provider
        };
        let server = server::spawn(listener, router);
        tracing::info!(%issuer, admin_endpoint, "dev identity provider listening");
        Ok(DevIdp {
            issuer,
            admin: Admin { shared },
            server,
        })
    }

    /// The issuer, `http://127.0.0.1:PORT/` (with trailing slash, like Auth0).
    pub fn issuer(&self) -> &url::Url {
        &self.issuer
    }

    /// In Entra mode, the issuer of an authority under this provider's root, as Microsoft's
    /// `https://login.microsoftonline.com/{authority}/v2.0`: [`ENTRA_TENANT`] (the tenant its
    /// tokens come from), `common` or `organizations`.
    pub fn entra_issuer(&self, authority: &str) -> url::Url {
        entra_issuer(&self.issuer, authority)
    }

    /// A cheap, cloneable handle to the runtime switches and counters.
    pub fn admin(&self) -> Admin {
        self.admin.clone()
    }

    /// Stop accepting, close open connections and wait for the server task to end.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}
