//! Static configuration of the provider: clients, APIs (resource servers), demo users, TTLs.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use portico_types::net::is_loopback_ip;
use serde::{Deserialize, Serialize};
use url::Url;

/// Everything [`crate::DevIdp::start`] needs. `Default` is [`IdpConfig::portico_demo`].
#[derive(Debug, Clone)]
pub struct IdpConfig {
    /// Where to listen. Default `127.0.0.1:0` (an ephemeral loopback port).
    pub bind: SocketAddr,
    /// Registered public clients.
    pub clients: Vec<ClientConfig>,
    /// Resource servers (APIs) tokens can be issued for.
    pub apis: Vec<ApiConfig>,
    /// Users that can be picked on the sign-in page.
    pub users: Vec<DemoUser>,
    /// Lifetime of access tokens. Default 600 s. Changeable at runtime via [`crate::Admin`].
    pub access_token_ttl: Duration,
    /// Lifetime of ID tokens. Default 600 s.
    pub id_token_ttl: Duration,
    /// Lifetime of authorization codes. Default 60 s.
    pub code_ttl: Duration,
    /// Refresh-token rotation. Default rotating without overlap.
    pub rotation: RefreshRotation,
    /// Serve the HTTP admin API under `/__admin` (loopback peers only). Default `false`.
    pub admin_endpoint: bool,
    /// Offer pushed authorization requests (RFC 9126) at `/oauth/par` and advertise them in
    /// discovery. Default `true`.
    pub pushed_authorization_requests: bool,
    /// Speak DPoP (RFC 9449) at the token endpoint and advertise
    /// `dpop_signing_alg_values_supported`. Off, a `DPoP` header is ignored (Bearer tokens), as a
    /// provider without DPoP would. Default `true`.
    pub dpop: bool,
    /// Demand the provider's current `DPoP-Nonce` in token-request proofs (RFC 9449 §8).
    /// Default `false`; switchable at runtime via [`crate::Admin::set_dpop_nonce`].
    pub dpop_nonce: bool,
    /// Microsoft Entra ID's way (see the README): resources named by scopes
    /// (`{api}/.default`, `{api}/{scope}`) instead of `audience`/`resource`, qualified scopes in
    /// token responses, a `tid` claim, and an API's `token_audience` as `aud`. Default `false`.
    pub entra: bool,
}

impl Default for IdpConfig {
    fn default() -> Self {
        Self::portico_demo()
    }
}

/// Refresh-token behaviour of the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum RefreshRotation {
    /// A refresh token can be used any number of times; refresh responses carry no new refresh token.
    NonRotating,
    /// Every refresh returns a successor; the presented token becomes "used". A used token presented
    /// again within `overlap` still works (fresh successor, same family); later it is reuse: the
    /// whole family is revoked (Auth0's behaviour).
    Rotating {
        /// Grace period for a used refresh token (e.g. a response lost in transit).
        #[serde(with = "duration_secs")]
        overlap: Duration,
    },
}

/// A registered public client (token endpoint auth method `none`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// The `client_id`.
    pub client_id: String,
    /// Exact-match redirect URIs; `http://127.0.0.1/...` (or `[::1]`) entries match any port
    /// (RFC 8252 §7.3).
    pub redirect_uris: Vec<String>,
    /// Auth0 Multi-Resource Refresh Token policy: audiences (and their scopes) a refresh token of
    /// this client may be exchanged for with `audience=`.
    pub mrrt: Vec<MrrtPolicy>,
    /// Origins whose pages may call the token endpoint from JavaScript (Auth0's "Allowed Origins
    /// (CORS)" of a single-page application): `scheme://host[:port]`; an `http://127.0.0.1` (or
    /// `[::1]`) entry without a port matches any port, as loopback redirect URIs do. Empty for
    /// a native app, whose requests carry no `Origin`.
    pub allowed_origins: Vec<String>,
}

/// One entry of a client's Multi-Resource Refresh Token policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MrrtPolicy {
    /// API identifier (audience).
    pub audience: String,
    /// Scopes of that API the refresh token may obtain.
    pub scopes: Vec<String>,
}

/// A resource server. Its identifier is the access token's `aud`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiConfig {
    /// Audience / resource indicator, e.g. `https://api.portico.dev/billing`.
    pub identifier: String,
    /// Human-readable name, e.g. `Billing API`.
    pub name: String,
    /// Scopes this API defines.
    pub scopes: Vec<String>,
    /// Whether its access tokens are DPoP-bound when the token request carries a proof (what
    /// Auth0 calls token sender-constraining, set per API). Unbound APIs get Bearer tokens even
    /// then, which RFC 9449 §5 allows (`token_type` tells the client), while the refresh token
    /// stays bound to the key.
    pub sender_constrained: bool,
    /// What its tokens carry as `aud` when not its identifier (Entra: often the API's
    /// application id, a GUID, rather than its `api://` URI). The demo API accepts both.
    pub token_audience: Option<String>,
    /// The `acr` its writes (`POST /data`) demand; without it they are answered with the
    /// RFC 9470 challenge (`insufficient_user_authentication`, `acr_values`). Billing: `mfa`.
    pub write_acr: Option<String>,
    /// Lifetime of its access tokens when not the provider's (Auth0 sets "Token Expiration" per
    /// API). Changeable at runtime via [`crate::Admin::set_api_access_token_ttl`].
    pub access_token_ttl: Option<Duration>,
}

impl ApiConfig {
    /// What its tokens may carry as `aud`: its identifier, and its `token_audience`.
    pub(crate) fn accepted_audiences(&self) -> Vec<&str> {
        std::iter::once(self.identifier.as_str())
            .chain(self.token_audience.as_deref())
            .collect()
    }
}

/// A user that can sign in on the demo sign-in page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoUser {
    /// What is submitted on the sign-in page, e.g. `alice`.
    pub username: String,
    /// Subject identifier, e.g. `auth0|alice`.
    pub sub: String,
    /// Display name.
    pub name: String,
    /// E-mail address.
    pub email: String,
    /// Roles (namespaced claim `https://portico.dev/roles`).
    pub roles: Vec<String>,
    /// Permissions per audience; API scopes are granted only if the user holds them (RBAC).
    pub permissions: HashMap<String, Vec<String>>,
}

/// Namespace of the custom claims, like the seed's post-login Action.
pub const CLAIM_NAMESPACE: &str = "https://portico.dev/";
/// Client id of the demo setup.
pub const DEMO_CLIENT_ID: &str = "portico-desktop";
/// Client id of the demo's single-page application: a page on a loopback origin signing in with
/// a browser SDK (the benchmark's auth0-spa-js beside Portico's client).
pub const SPA_CLIENT_ID: &str = "portico-spa";
/// Audience of the demo billing API.
pub const BILLING_API: &str = "https://api.portico.dev/billing";
/// Audience of the demo core API.
pub const CORE_API: &str = "https://api.portico.dev/core";
/// Audience of the demo analytics API.
pub const ANALYTICS_API: &str = "https://api.portico.dev/analytics";
/// The `tid` claim of tokens in Entra mode.
pub const ENTRA_TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

impl IdpConfig {
    /// The Portico demo: client `portico-desktop` (redirects `dev.portico.app:/callback` and
    /// `http://127.0.0.1/callback` on any port, MRRT for all three APIs), the single-page
    /// application `portico-spa` (redirect `http://127.0.0.1/` on any port, CORS for loopback
    /// origins), APIs billing / core / analytics, users alice (admin, all permissions) and bob
    /// (viewer, `read:*` only).
    pub fn portico_demo() -> Self {
        let apis = vec![
            ApiConfig {
                identifier: BILLING_API.into(),
                name: "Billing API".into(),
                scopes: strings(&["read:invoices", "write:invoices"]),
                sender_constrained: true,
                token_audience: None,
                write_acr: Some(crate::grants::ACR_MFA.into()),
                access_token_ttl: None,
            },
            ApiConfig {
                identifier: CORE_API.into(),
                name: "Core API".into(),
                scopes: strings(&["read:dashboard"]),
                sender_constrained: true,
                token_audience: None,
                write_acr: None,
                access_token_ttl: None,
            },
            ApiConfig {
                identifier: ANALYTICS_API.into(),
                name: "Analytics API".into(),
                scopes: strings(&["read:reports", "export:reports"]),
                sender_constrained: true,
                token_audience: None,
                write_acr: None,
                access_token_ttl: None,
            },
        ];
        let all: HashMap<String, Vec<String>> = apis
            .iter()
            .map(|a| (a.identifier.clone(), a.scopes.clone()))
            .collect();
        let read_only: HashMap<String, Vec<String>> = apis
            .iter()
            .map(|a| {
                let reads = a
                    .scopes
                    .iter()
                    .filter(|s| s.starts_with("read:"))
                    .cloned()
                    .collect();
                (a.identifier.clone(), reads)
            })
            .collect();
        let client = ClientConfig {
            client_id: DEMO_CLIENT_ID.into(),
            redirect_uris: strings(&["dev.portico.app:/callback", "http://127.0.0.1/callback"]),
            mrrt: apis
                .iter()
                .map(|a| MrrtPolicy {
                    audience: a.identifier.clone(),
                    scopes: a.scopes.clone(),
                })
                .collect(),
            allowed_origins: Vec::new(),
        };
        // A single-page application on a loopback origin: its page is the redirect URI, and it
        // calls the token endpoint from JavaScript (CORS). No MRRT policy: one API per login.
        let spa = ClientConfig {
            client_id: SPA_CLIENT_ID.into(),
            redirect_uris: strings(&["http://127.0.0.1/", "http://[::1]/"]),
            mrrt: Vec::new(),
            allowed_origins: strings(&["http://127.0.0.1", "http://[::1]"]),
        };
        let users = vec![
            DemoUser {
                username: "alice".into(),
                sub: "auth0|alice".into(),
                name: "Alice Admin".into(),
                email: "alice@portico.dev".into(),
                roles: strings(&["admin"]),
                permissions: all,
            },
            DemoUser {
                username: "bob".into(),
                sub: "auth0|bob".into(),
                name: "Bob Viewer".into(),
                email: "bob@portico.dev".into(),
                roles: strings(&["viewer"]),
                permissions: read_only,
            },
        ];
        IdpConfig {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            clients: vec![client, spa],
            apis,
            users,
            access_token_ttl: Duration::from_secs(600),
            id_token_ttl: Duration::from_secs(600),
            code_ttl: Duration::from_secs(60),
            rotation: RefreshRotation::Rotating {
                overlap: Duration::ZERO,
            },
            admin_endpoint: false,
            pushed_authorization_requests: true,
            dpop: true,
            dpop_nonce: false,
            entra: false,
        }
    }

    pub(crate) fn client(&self, client_id: &str) -> Option<&ClientConfig> {
        self.clients.iter().find(|c| c.client_id == client_id)
    }

    pub(crate) fn api(&self, identifier: &str) -> Option<&ApiConfig> {
        self.apis.iter().find(|a| a.identifier == identifier)
    }

    pub(crate) fn user_by_name(&self, username: &str) -> Option<&DemoUser> {
        self.users.iter().find(|u| u.username == username)
    }

    pub(crate) fn user_by_sub(&self, sub: &str) -> Option<&DemoUser> {
        self.users.iter().find(|u| u.sub == sub)
    }
}

impl ClientConfig {
    /// Whether `candidate` is one of this client's redirect URIs (exact match, or a loopback
    /// `http` entry with any port).
    pub fn allows_redirect(&self, candidate: &str) -> bool {
        self.redirect_uris
            .iter()
            .any(|registered| redirect_matches(registered, candidate))
    }

    /// Whether `candidate` may be a post-logout target: same scheme and host (loopback: any port)
    /// as one of the redirect URIs, standing in for Auth0's "Allowed Logout URLs".
    pub(crate) fn allows_logout_target(&self, candidate: &str) -> bool {
        let Ok(cand) = Url::parse(candidate) else {
            return false;
        };
        self.redirect_uris.iter().any(|registered| {
            let Ok(reg) = Url::parse(registered) else {
                return false;
            };
            if reg.scheme() != cand.scheme() || reg.host() != cand.host() {
                return false;
            }
            (reg.scheme() == "http" && is_loopback_ip(&reg)) || reg.port() == cand.port()
        })
    }

    pub(crate) fn mrrt_policy(&self, audience: &str) -> Option<&MrrtPolicy> {
        self.mrrt.iter().find(|p| p.audience == audience)
    }

    /// Whether a page of `origin` (an `Origin` header) may call the token endpoint for this
    /// client: one of its allowed origins, or a loopback entry without a port on any port.
    pub fn allows_origin(&self, origin: &str) -> bool {
        let Ok(cand) = Url::parse(origin) else {
            return false;
        };
        // An origin is scheme, host and port: nothing else may come with it.
        if cand.origin().ascii_serialization() != origin {
            return false;
        }
        self.allowed_origins.iter().any(|allowed| {
            if allowed == origin {
                return true;
            }
            let Ok(reg) = Url::parse(allowed) else {
                return false;
            };
            reg.scheme() == "http"
                && is_loopback_ip(&reg)
                && reg.port().is_none()
                && cand.scheme() == "http"
                && cand.host() == reg.host()
        })
    }
}

/// RFC 8252 §7.3: for loopback IP redirects the port is chosen at run time, so ignore it;
/// everything else must match exactly (OAuth 2.1 / RFC 9700 §2.1).
pub(crate) fn redirect_matches(registered: &str, candidate: &str) -> bool {
    if registered == candidate {
        return true;
    }
    let (Ok(reg), Ok(cand)) = (Url::parse(registered), Url::parse(candidate)) else {
        return false;
    };
    if reg.scheme() != "http" || !is_loopback_ip(&reg) || reg.port().is_some() {
        return false;
    }
    // Compare what the registered entry says, with the candidate's port taken out.
    let mut cand_no_port = cand.clone();
    if cand_no_port.set_port(None).is_err() {
        return false;
    }
    cand.fragment().is_none() && cand_no_port.as_str() == reg.as_str()
}

pub(crate) mod duration_secs {
    //! Durations as (fractional) seconds in the admin JSON API.
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_redirect_matches_any_port_but_nothing_else() {
        let reg = "http://127.0.0.1/callback";
        assert!(redirect_matches(reg, "http://127.0.0.1:51234/callback"));
        assert!(redirect_matches(reg, "http://127.0.0.1/callback"));
        assert!(!redirect_matches(reg, "http://127.0.0.1:51234/other"));
        assert!(!redirect_matches(reg, "http://localhost:51234/callback"));
        assert!(!redirect_matches(reg, "https://127.0.0.1:51234/callback"));
        assert!(!redirect_matches(
            reg,
            "http://127.0.0.1:51234/callback?x=1"
        ));
        assert!(!redirect_matches(reg, "http://127.0.0.1.evil.com/callback"));
        assert!(!redirect_matches(reg, "not a url"));
    }

    #[test]
    fn private_scheme_redirect_is_exact() {
        let reg = "dev.portico.app:/callback";
        assert!(redirect_matches(reg, "dev.portico.app:/callback"));
        assert!(!redirect_matches(reg, "dev.portico.app:/callback/"));
        assert!(!redirect_matches(reg, "dev.portico.app://callback"));
        assert!(!redirect_matches(reg, "evil.app:/callback"));
    }

    #[test]
    fn fixed_port_entries_are_exact() {
        assert!(!redirect_matches(
            "http://127.0.0.1:8080/cb",
            "http://127.0.0.1:8081/cb"
        ));
        assert!(redirect_matches(
            "http://127.0.0.1:8080/cb",
            "http://127.0.0.1:8080/cb"
        ));
    }

    #[test]
    fn demo_config_is_consistent() {
        let c = IdpConfig::portico_demo();
        let client = c.client(DEMO_CLIENT_ID).expect("demo client");
        assert_eq!(client.mrrt.len(), 3);
        let bob = c.user_by_name("bob").expect("bob");
        assert_eq!(bob.permissions[BILLING_API], vec!["read:invoices"]);
        assert!(bob.permissions[ANALYTICS_API]
            .iter()
            .all(|p| p.starts_with("read:")));
        let alice = c.user_by_sub("auth0|alice").expect("alice");
        assert_eq!(alice.permissions[ANALYTICS_API].len(), 2);
        assert!(client.allows_logout_target("http://127.0.0.1:4000/"));
        assert!(client.allows_logout_target("dev.portico.app:/signed-out"));
        assert!(!client.allows_logout_target("https://evil.example/"));
    }
}
