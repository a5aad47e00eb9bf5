//! OpenID Provider discovery: fetch and check `/.well-known/openid-configuration`.

use crate::config::ProviderConfig;
use crate::error::AuthError;
use crate::http::Http;
use portico_types::invalid::Kind;
use portico_types::provider::check_secure_url;
use serde::Deserialize;
use url::Url;

#[derive(Debug, Deserialize)]
struct RawDiscovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    revocation_endpoint: Option<String>,
    end_session_endpoint: Option<String>,
    userinfo_endpoint: Option<String>,
    #[serde(default)]
    response_types_supported: Vec<String>,
    code_challenge_methods_supported: Option<Vec<String>>,
    id_token_signing_alg_values_supported: Option<Vec<String>>,
    #[serde(default)]
    authorization_response_iss_parameter_supported: bool,
    pushed_authorization_request_endpoint: Option<String>,
    #[serde(default)]
    dpop_signing_alg_values_supported: Vec<String>,
}

/// Checked provider metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProviderMetadata {
    /// The issuer string exactly as the provider spells it (compared byte for byte with `iss`).
    pub issuer: String,
    pub authorization_endpoint: Url,
    pub token_endpoint: Url,
    pub jwks_uri: Url,
    pub revocation_endpoint: Option<Url>,
    pub end_session_endpoint: Option<Url>,
    pub userinfo_endpoint: Option<Url>,
    pub iss_parameter_supported: bool,
    /// RFC 9126 pushed authorization requests.
    pub par_endpoint: Option<Url>,
    /// Whether the provider accepts ES256 DPoP proofs (RFC 9449 §5.1).
    pub dpop_es256: bool,
}

/// `{issuer}/.well-known/openid-configuration` (OIDC Discovery §4: strip a trailing slash, then append).
pub(crate) fn discovery_url(issuer: &Url) -> Result<Url, AuthError> {
    let base = issuer.as_str().trim_end_matches('/');
    Url::parse(&format!("{base}/.well-known/openid-configuration"))
        .map_err(|_| AuthError::config("issuer cannot be turned into a discovery URL"))
}

pub(crate) async fn fetch(
    http: &Http,
    config: &ProviderConfig,
) -> Result<ProviderMetadata, AuthError> {
    let raw: RawDiscovery = http
        .get_json(&discovery_url(&config.issuer)?, "discovery")
        .await
        .map_err(|e| match e {
            AuthError::ProviderError {
                status: Some(s), ..
            } if s < 500 => AuthError::discovery("the discovery document could not be read"),
            other => other,
        })?;
    check(raw, config)
}

/// Parses and checks a discovery document body (what [`fetch`] does after the request).
pub(crate) fn parse(body: &[u8], config: &ProviderConfig) -> Result<ProviderMetadata, AuthError> {
    let raw: RawDiscovery = serde_json::from_slice(body)
        .map_err(|_| AuthError::discovery("the discovery document could not be read"))?;
    check(raw, config)
}

fn endpoint(raw: &str, what: &str) -> Result<Url, AuthError> {
    let url = Url::parse(raw).map_err(|_| AuthError::discovery(format!("{what} is not a URL")))?;
    // The same https-or-loopback rule as the issuer's.
    check_secure_url(Kind::Endpoint, &url)
        .map_err(|e| AuthError::discovery(format!("{what} {}", e.detail())))?;
    Ok(url)
}

fn check(raw: RawDiscovery, config: &ProviderConfig) -> Result<ProviderMetadata, AuthError> {
    // Exact match; the only tolerance is the URL parser's normalisation of an empty path to "/".
    let configured = config.discovered_issuer();
    let same = raw.issuer == configured
        || (config.issuer.path() == "/" && format!("{}/", raw.issuer) == configured);
    if !same {
        tracing::warn!("discovery issuer differs from the configured issuer");
        return Err(AuthError::IssuerMismatch);
    }
    if !raw.response_types_supported.iter().any(|t| t == "code") {
        return Err(AuthError::discovery(
            "provider does not support response_type=code",
        ));
    }
    if let Some(m) = &raw.code_challenge_methods_supported {
        if !m.iter().any(|m| m == "S256") {
            return Err(AuthError::discovery("provider does not support PKCE S256"));
        }
    }
    if let Some(algs) = &raw.id_token_signing_alg_values_supported {
        if !algs.iter().any(|a| a == "RS256") {
            return Err(AuthError::discovery(
                "provider does not sign ID tokens with RS256",
            ));
        }
    }
    let opt = |v: &Option<String>, what: &str| v.as_deref().map(|s| endpoint(s, what)).transpose();
    Ok(ProviderMetadata {
        authorization_endpoint: endpoint(&raw.authorization_endpoint, "authorization_endpoint")?,
        token_endpoint: endpoint(&raw.token_endpoint, "token_endpoint")?,
        jwks_uri: endpoint(&raw.jwks_uri, "jwks_uri")?,
        revocation_endpoint: opt(&raw.revocation_endpoint, "revocation_endpoint")?,
        end_session_endpoint: opt(&raw.end_session_endpoint, "end_session_endpoint")?,
        userinfo_endpoint: opt(&raw.userinfo_endpoint, "userinfo_endpoint")?,
        iss_parameter_supported: raw.authorization_response_iss_parameter_supported,
        par_endpoint: opt(
            &raw.pushed_authorization_request_endpoint,
            "pushed_authorization_request_endpoint",
        )?,
        dpop_es256: raw
            .dpop_signing_alg_values_supported
            .iter()
            .any(|a| a == "ES256"),
        issuer: raw.issuer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::Dialect;

    fn config(issuer: &str) -> ProviderConfig {
        ProviderConfig::builder(Url::parse(issuer).unwrap(), "c")
            .dialect(Dialect::Auth0)
            .build()
            .unwrap()
    }

    fn raw(issuer: &str) -> RawDiscovery {
        serde_json::from_value(serde_json::json!({
            "issuer": issuer,
            "authorization_endpoint": "https://idp.example/authorize",
            "token_endpoint": "https://idp.example/oauth/token",
            "jwks_uri": "https://idp.example/.well-known/jwks.json",
            "revocation_endpoint": "https://idp.example/oauth/revoke",
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "authorization_response_iss_parameter_supported": true
        }))
        .unwrap()
    }

    #[test]
    fn discovery_url_shapes() {
        assert_eq!(
            discovery_url(&Url::parse("https://idp.example/").unwrap())
                .unwrap()
                .as_str(),
            "https://idp.example/.well-known/openid-configuration"
        );
        assert_eq!(
            discovery_url(&Url::parse("https://idp.example/realms/x").unwrap())
                .unwrap()
                .as_str(),
            "https://idp.example/realms/x/.well-known/openid-configuration"
        );
    }

    #[test]
    fn issuer_must_match_exactly() {
        let m = check(raw("https://idp.example/"), &config("https://idp.example/")).unwrap();
        assert_eq!(m.issuer, "https://idp.example/");
        assert!(m.iss_parameter_supported);
        // Url adds "/" to an empty path, so a slash-less issuer still matches itself.
        let m = check(raw("https://idp.example"), &config("https://idp.example")).unwrap();
        assert_eq!(m.issuer, "https://idp.example");
        assert_eq!(
            check(
                raw("https://evil.example/"),
                &config("https://idp.example/")
            )
            .unwrap_err(),
            AuthError::IssuerMismatch
        );
        assert_eq!(
            check(
                raw("https://idp.example/x"),
                &config("https://idp.example/x/")
            )
            .unwrap_err(),
            AuthError::IssuerMismatch
        );
    }

    #[test]
    fn insecure_or_incapable_providers_rejected() {
        let mut r = raw("https://idp.example/");
        r.token_endpoint = "http://idp.example/oauth/token".into();
        assert_eq!(
            check(r, &config("https://idp.example/"))
                .unwrap_err()
                .kind(),
            "discovery_invalid"
        );
        let mut r = raw("https://idp.example/");
        r.code_challenge_methods_supported = Some(vec!["plain".into()]);
        assert!(check(r, &config("https://idp.example/")).is_err());
        let mut r = raw("https://idp.example/");
        r.id_token_signing_alg_values_supported = Some(vec!["HS256".into()]);
        assert!(check(r, &config("https://idp.example/")).is_err());
        let mut r = raw("https://idp.example/");
        r.response_types_supported = vec!["token".into()];
        assert!(check(r, &config("https://idp.example/")).is_err());
    }
}
