//! Configuration through Glewlwyd's admin REST API (API.md), as the packaged `admin` user.

use std::time::Duration;

use serde_json::{json, Value};
use url::Url;

use super::setup::SigningKey;
use super::{
    expect_success, http_err, GlewlwydError, RefreshTokenInfo, API_SCOPES, CLIENT_ID, OIDC_SCOPES,
    PLUGIN_NAME, USERS,
};

/// The administrator the packaged schema creates.
pub(super) const ADMIN_USERNAME: &str = "admin";
pub(super) const ADMIN_PASSWORD: &str = "password";

/// What to configure.
pub(super) struct Plan<'a> {
    pub(super) issuer: &'a str,
    pub(super) signing_key: &'a SigningKey,
    pub(super) access_token_lifetime: Duration,
    pub(super) refresh_token_rotation: bool,
    pub(super) redirect_uris: &'a [String],
    pub(super) post_logout_redirect_uris: &'a [String],
}

/// An admin session (cookie) on one instance.
pub(super) struct Admin {
    http: reqwest::Client,
    api: Url,
}

impl Admin {
    pub(super) async fn login(base_url: &Url) -> Result<Admin, GlewlwydError> {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(http_err("building the admin HTTP client"))?;
        let api = base_url.join("api/").map_err(|source| GlewlwydError::Url {
            url: base_url.to_string(),
            source,
        })?;
        let admin = Admin { http, api };
        admin.authenticate().await?;
        Ok(admin)
    }

    async fn authenticate(&self) -> Result<(), GlewlwydError> {
        self.send(
            reqwest::Method::POST,
            "auth/",
            Some(&json!({"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD})),
            "logging in as Glewlwyd's admin",
        )
        .await
        .map(drop)
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        context: &str,
    ) -> Result<reqwest::Response, GlewlwydError> {
        let url = self.api.join(path).map_err(|source| GlewlwydError::Url {
            url: format!("{}{path}", self.api),
            source,
        })?;
        let mut request = self.http.request(method, url);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(http_err(context))?;
        expect_success(response, context).await
    }

    /// Everything Portico's tests need, in dependency order.
    pub(super) async fn configure(&self, plan: &Plan<'_>) -> Result<(), GlewlwydError> {
        self.declare_post_logout_property().await?;
        for scope in ["profile", "email", "offline_access"]
            .into_iter()
            .chain(API_SCOPES.iter().map(|(scope, _)| *scope))
        {
            let body = json!({
                "name": scope,
                "display_name": scope,
                "description": format!("Portico test scope {scope}"),
                "password_required": true,
                "password_max_age": 0,
                "scheme": {},
            });
            self.send(
                reqwest::Method::POST,
                "scope/",
                Some(&body),
                &format!("creating scope {scope}"),
            )
            .await?;
        }
        self.send(
            reqwest::Method::POST,
            "mod/plugin/",
            Some(&plugin_instance(plan)),
            "creating the OIDC plugin instance",
        )
        .await?;
        let client = json!({
            "client_id": CLIENT_ID,
            "name": "Portico desktop",
            "description": "Portico's native app (public client)",
            "confidential": false,
            "enabled": true,
            "scope": [],
            "redirect_uri": plan.redirect_uris,
            // `delete_token` lets this public client revoke a refresh token at /token, since
            // Glewlwyd's RFC 7009 endpoint only serves clients that authenticate.
            "authorization_type": ["code", "refresh_token", "delete_token"],
            "post_logout_redirect_uris": plan.post_logout_redirect_uris,
        });
        self.send(
            reqwest::Method::POST,
            "client/",
            Some(&client),
            "creating the client",
        )
        .await?;
        for person in USERS {
            let scopes: Vec<&str> = OIDC_SCOPES
                .iter()
                .chain(person.api_scopes)
                .copied()
                .collect();
            let body = json!({
                "username": person.username,
                "password": person.password,
                "name": person.name,
                "email": person.email,
                "enabled": true,
                "scope": scopes,
            });
            self.send(
                reqwest::Method::POST,
                "user/",
                Some(&body),
                &format!("creating user {}", person.username),
            )
            .await?;
        }
        Ok(())
    }

    /// The end-session endpoint reads the client property `post_logout_redirect_uris` as an
    /// array; the packaged database client backend only declares a single-valued
    /// `post_logout_redirect_uri`, so declare the plural one as multi-valued and reload.
    async fn declare_post_logout_property(&self) -> Result<(), GlewlwydError> {
        let context = "declaring the client property post_logout_redirect_uris";
        let mut module: Value = self
            .send(reqwest::Method::GET, "mod/client/database", None, context)
            .await?
            .json()
            .await
            .map_err(http_err(context))?;
        let Some(format) = module
            .pointer_mut("/parameters/data-format")
            .and_then(Value::as_object_mut)
        else {
            return Err(GlewlwydError::Protocol {
                context: context.into(),
                detail: format!("no parameters.data-format in {module}"),
            });
        };
        format.insert(
            "post_logout_redirect_uris".into(),
            json!({"multiple": true, "read": true, "write": true}),
        );
        let body = json!({
            "display_name": module["display_name"],
            "parameters": module["parameters"],
            "order_rank": module["order_rank"],
            "readonly": module["readonly"],
        });
        self.send(
            reqwest::Method::PUT,
            "mod/client/database",
            Some(&body),
            context,
        )
        .await?;
        self.send(
            reqwest::Method::PUT,
            "mod/client/database/reset",
            None,
            context,
        )
        .await?;
        Ok(())
    }

    /// `GET /api/<plugin>/token?impersonate=<user>`; the admin session may expire (10 minutes),
    /// so log in again once on 401.
    pub(super) async fn refresh_tokens(
        &self,
        username: &str,
    ) -> Result<Vec<RefreshTokenInfo>, GlewlwydError> {
        let context = format!("listing the refresh tokens of {username}");
        let mut url = self
            .api
            .join(&format!("{PLUGIN_NAME}/token"))
            .map_err(|source| GlewlwydError::Url {
                url: self.api.to_string(),
                source,
            })?;
        url.query_pairs_mut()
            .append_pair("impersonate", username)
            .append_pair("limit", "1000");
        let mut response = self
            .http
            .get(url.clone())
            .send()
            .await
            .map_err(http_err(context.as_str()))?;
        if response.status() == reqwest::StatusCode::UNAUTHORIZED {
            self.authenticate().await?;
            response = self
                .http
                .get(url)
                .send()
                .await
                .map_err(http_err(context.as_str()))?;
        }
        expect_success(response, &context)
            .await?
            .json()
            .await
            .map_err(http_err(context))
    }
}

/// The OIDC plugin's parameters (names from the plugin's `check_parameters`, OIDC.md).
fn plugin_instance(plan: &Plan<'_>) -> Value {
    let mut resource_scope = serde_json::Map::new();
    for (scope, resource) in API_SCOPES {
        resource_scope.insert(scope.to_string(), json!([resource]));
    }
    let allowed_scopes: Vec<&str> = OIDC_SCOPES
        .iter()
        .copied()
        .chain(API_SCOPES.iter().map(|(scope, _)| *scope))
        .collect();
    // Two literals: one would exceed serde_json's macro recursion limit.
    let mut parameters = json!({
            "iss": plan.issuer,
            "jwt-type": "rsa",
            "jwt-key-size": "256",
            "key": plan.signing_key.private_pem,
            "cert": plan.signing_key.public_pem,
            "jwks-show": true,
            "subject-type": "public",
            "access-token-duration": plan.access_token_lifetime.as_secs().max(1),
            "refresh-token-duration": 1_209_600,
            "code-duration": 600,
            "refresh-token-rolling": true,
            "refresh-token-one-use": if plan.refresh_token_rotation { "always" } else { "never" },
            "allow-non-oidc": false,
            "auth-type-code-enabled": true,
            "auth-type-code-revoke-replayed": true,
            "auth-type-token-enabled": false,
            "auth-type-id-token-enabled": true,
            "auth-type-none-enabled": false,
            "auth-type-password-enabled": false,
            "auth-type-client-enabled": false,
            "auth-type-device-enabled": false,
            "auth-type-refresh-enabled": true,
    });
    let features = json!({
            "pkce-allowed": true,
            "pkce-method-plain-allowed": false,
            "pkce-required": false,
            "pkce-required-public-client": true,
            "introspection-revocation-allowed": true,
            "introspection-revocation-allow-target-client": true,
            "session-management-allowed": true,
            "session-cookie-name": "GLEWLWYD2_OIDC_SID",
            "session-cookie-expiration": 2_419_200,
            "oauth-as-iss-id": true,
            "resource-allowed": true,
            "resource-scope": resource_scope,
            "resource-scope-and-client-property": false,
            "name-claim": "on-demand",
            "name-claim-scope": ["profile"],
            "email-claim": "on-demand",
            "email-claim-scope": ["email"],
            "scope-claim": "no",
            "allowed-scope": allowed_scopes,
            "request-parameter-allow": false,
            "oauth-dpop-allowed": false,
            "oauth-par-allowed": false,
            "oauth-rar-allowed": false,
            "oauth-ciba-allowed": false,
            "register-client-allowed": false,
    });
    if let (Some(parameters), Value::Object(features)) = (parameters.as_object_mut(), features) {
        parameters.extend(features);
    }
    json!({
        "module": "oidc",
        "name": PLUGIN_NAME,
        "display_name": "Portico test provider",
        "parameters": parameters,
    })
}

/// `GET <issuer>/.well-known/openid-configuration`.
pub(super) async fn fetch_discovery(issuer: &Url) -> Result<Value, GlewlwydError> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.as_str().trim_end_matches('/')
    );
    let context = format!("fetching {url}");
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(http_err("building an HTTP client"))?;
    let response = http
        .get(&url)
        .send()
        .await
        .map_err(http_err(context.as_str()))?;
    expect_success(response, &context)
        .await?
        .json()
        .await
        .map_err(http_err(context))
}
