//! A scripted person in a browser, making exactly the REST calls Glewlwyd's login web app
//! (`webapp/login.html`) makes; it never touches the database.
//!
//! Sign-in: `GET <authorize URL>` redirects to `login.html?client_id&scope&callback_url`;
//! `POST /api/auth/ {username, password}` opens a session (cookie); `GET
//! /api/auth/grant/<client>/<scopes>` lists the requested scopes the user holds and `PUT
//! /api/auth/grant/<client> {scope}` grants all of them (consent); `GET <callback_url>&g_continue`
//! redirects to the client. The API base is derived from the authorization endpoint's path,
//! which Glewlwyd always lays out as `<external URL>/<api prefix>/<plugin>/auth`.

use std::time::Duration;

use reqwest::header::LOCATION;
use serde_json::{json, Value};
use url::Url;

use super::{expect_success, http_err, parse_url, GlewlwydError};

/// A browser with its own cookie jar (Glewlwyd's session), following no redirects.
pub struct Browser {
    http: reqwest::Client,
}

/// What Glewlwyd's end-session endpoint led to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndSession {
    /// Where the end-session endpoint redirected: Glewlwyd's own `login.html`, never the client.
    pub login_page: String,
    /// The `prompt` the login page was given: `end_session` for a valid `id_token_hint`,
    /// `single_logout` otherwise.
    pub prompt: Option<String>,
    /// The OIDC session (`sid` of the ID token) the page is asked to end.
    pub sid: Option<String>,
    /// Where the login page sends the browser once the person confirmed: the registered
    /// `post_logout_redirect_uri` with `state` appended, or `None` when none (valid) was given.
    pub post_logout_redirect: Option<String>,
    /// Whether this browser confirmed the logout (`DELETE /api/<plugin>/session/<sid>`, then
    /// `DELETE /api/auth/`), as the login page's "log out" button does.
    pub confirmed: bool,
}

/// Sign `username` in at `authorize_url` in a fresh browser; returns the redirect to the client.
pub async fn sign_in_at(
    authorize_url: &str,
    username: &str,
    password: &str,
) -> Result<String, GlewlwydError> {
    Browser::new()?
        .sign_in(authorize_url, username, password)
        .await
}

impl Browser {
    pub fn new() -> Result<Browser, GlewlwydError> {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(http_err("building the browser's HTTP client"))?;
        Ok(Browser { http })
    }

    /// The person's sign-in; returns the `Location` Glewlwyd sends the browser to (the client's
    /// redirect URI with `code`, `state`, `iss` — or with `error`), never following it.
    pub async fn sign_in(
        &self,
        authorize_url: &str,
        username: &str,
        password: &str,
    ) -> Result<String, GlewlwydError> {
        let authorize = parse_url(authorize_url)?;
        let api = api_base(&authorize)?;

        let first = self
            .redirect(authorize.as_str(), "opening the authorization URL")
            .await?;
        let Some(login) = LoginPage::parse(&first) else {
            // Refused before any interaction (e.g. `error=invalid_request`): that is the answer.
            return Ok(first.to_string());
        };
        let client_id = login.require("client_id")?;
        let scope = login.require("scope")?;
        let callback = login.require("callback_url")?;

        let context = format!("signing in as {username}");
        let response = self
            .http
            .post(join(&api, &["auth", ""])?)
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .map_err(http_err(context.as_str()))?;
        expect_success(response, &context).await?;

        // Consent: grant every requested scope the user holds, as ticking all boxes would.
        let context = format!("reading the scopes {client_id} asks {username} for");
        let response = self
            .http
            .get(join(&api, &["auth", "grant", &client_id, &scope])?)
            .send()
            .await
            .map_err(http_err(context.as_str()))?;
        let offered: Value = expect_success(response, &context)
            .await?
            .json()
            .await
            .map_err(http_err(context.as_str()))?;
        let names: Vec<&str> = offered["scope"]
            .as_array()
            .map(|scopes| scopes.iter().filter_map(|s| s["name"].as_str()).collect())
            .unwrap_or_default();
        if !names.is_empty() {
            let context = format!("granting {client_id} the scopes {names:?}");
            let response = self
                .http
                .put(join(&api, &["auth", "grant", &client_id])?)
                .json(&json!({"scope": names.join(" ")}))
                .send()
                .await
                .map_err(http_err(context.as_str()))?;
            expect_success(response, &context).await?;
        }

        let continue_url = format!(
            "{callback}{}g_continue",
            if callback.contains('?') { '&' } else { '?' }
        );
        let done = self
            .redirect(&continue_url, "continuing the authorization after sign-in")
            .await?;
        if LoginPage::parse(&done).is_some() {
            return Err(GlewlwydError::Protocol {
                context: format!("signing in as {username}"),
                detail: format!("Glewlwyd still asks for interaction: {done}"),
            });
        }
        Ok(done.to_string())
    }

    /// RP-initiated logout in this browser: open `end_session_url` (built by the client with
    /// `id_token_hint`, `post_logout_redirect_uri`, `state`) and, when Glewlwyd's login page is
    /// asked to end a session, confirm it the way the page does. Confirming needs the Glewlwyd
    /// session cookie of the sign-in, i.e. the same [`Browser`]; another one gets a 401.
    pub async fn end_session(&self, end_session_url: &str) -> Result<EndSession, GlewlwydError> {
        let mut ended = self.open_end_session(end_session_url).await?;
        if let (Some("end_session"), Some(sid)) = (ended.prompt.as_deref(), ended.sid.as_deref()) {
            let api = api_base(&parse_url(end_session_url)?)?;
            let plugin = LoginPage::parse(&parse_url(&ended.login_page)?)
                .and_then(|page| page.get("plugin"))
                .unwrap_or_else(|| super::PLUGIN_NAME.to_string());
            let context = "confirming the end of the session";
            let response = self
                .http
                .delete(join(&api, &[&plugin, "session", sid])?)
                .send()
                .await
                .map_err(http_err(context))?;
            expect_success(response, context).await?;
            let response = self
                .http
                .delete(join(&api, &["auth", ""])?)
                .send()
                .await
                .map_err(http_err(context))?;
            expect_success(response, context).await?;
            ended.confirmed = true;
        }
        Ok(ended)
    }

    /// Only open `end_session_url` and read where Glewlwyd sends the browser; confirm nothing.
    pub async fn open_end_session(
        &self,
        end_session_url: &str,
    ) -> Result<EndSession, GlewlwydError> {
        let login_page = self
            .redirect(end_session_url, "opening the end-session URL")
            .await?;
        let params = LoginPage::parse(&login_page).unwrap_or_default();
        Ok(EndSession {
            login_page: login_page.to_string(),
            prompt: params.get("prompt"),
            sid: params.get("sid"),
            post_logout_redirect: params.get("callback_url"),
            confirmed: false,
        })
    }

    /// GET expecting a 302; the absolute `Location`.
    async fn redirect(&self, url: &str, context: &str) -> Result<Url, GlewlwydError> {
        let response = self.http.get(url).send().await.map_err(http_err(context))?;
        if response.status() != reqwest::StatusCode::FOUND {
            let status = response.status().as_u16();
            let body = response.text().await.unwrap_or_default();
            return Err(GlewlwydError::Status {
                context: format!("{context} ({url}), expecting a redirect"),
                status,
                body,
            });
        }
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| GlewlwydError::Protocol {
                context: context.to_string(),
                detail: "302 without a Location header".into(),
            })?;
        let base = parse_url(url)?;
        base.join(location).map_err(|source| GlewlwydError::Url {
            url: location.to_string(),
            source,
        })
    }
}

/// The query of a redirect to Glewlwyd's `login.html`.
#[derive(Default)]
struct LoginPage(Vec<(String, String)>);

impl LoginPage {
    fn parse(location: &Url) -> Option<LoginPage> {
        let is_login =
            location.scheme().starts_with("http") && location.path().ends_with("/login.html");
        is_login.then(|| LoginPage(location.query_pairs().into_owned().collect()))
    }

    fn get(&self, key: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }

    fn require(&self, key: &str) -> Result<String, GlewlwydError> {
        self.get(key).ok_or_else(|| GlewlwydError::Protocol {
            context: "reading Glewlwyd's login-page redirect".into(),
            detail: format!("no {key} parameter"),
        })
    }
}

/// `http://host/api/oidc/auth` → `http://host/api/`.
fn api_base(endpoint: &Url) -> Result<Url, GlewlwydError> {
    let segments: Vec<&str> = endpoint
        .path_segments()
        .map(|s| s.collect())
        .unwrap_or_default();
    if segments.len() < 3 {
        return Err(GlewlwydError::Protocol {
            context: format!("deriving Glewlwyd's API base from {endpoint}"),
            detail: "expected a path like /<api prefix>/<plugin>/<endpoint>".into(),
        });
    }
    let mut api = endpoint.clone();
    api.set_query(None);
    api.set_fragment(None);
    api.set_path(&format!("{}/", segments[..segments.len() - 2].join("/")));
    Ok(api)
}

/// `api` plus percent-encoded path segments (an empty last segment gives a trailing slash).
fn join(api: &Url, segments: &[&str]) -> Result<Url, GlewlwydError> {
    let mut url = api.clone();
    url.path_segments_mut()
        .map_err(|()| GlewlwydError::Protocol {
            context: format!("building a URL under {api}"),
            detail: "the URL cannot have path segments".into(),
        })?
        .pop_if_empty()
        .extend(segments);
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_base_strips_plugin_and_endpoint() {
        let auth = Url::parse("http://127.0.0.1:4593/api/oidc/auth?x=1").unwrap();
        assert_eq!(
            api_base(&auth).unwrap().as_str(),
            "http://127.0.0.1:4593/api/"
        );
        let grant = join(
            &api_base(&auth).unwrap(),
            &["auth", "grant", "c", "openid read:x"],
        )
        .unwrap();
        assert_eq!(
            grant.as_str(),
            "http://127.0.0.1:4593/api/auth/grant/c/openid%20read:x"
        );
        let auth_slash = join(&api_base(&auth).unwrap(), &["auth", ""]).unwrap();
        assert_eq!(auth_slash.as_str(), "http://127.0.0.1:4593/api/auth/");
    }

    #[test]
    fn login_page_is_recognised_only_on_http() {
        let login = Url::parse("http://h/login.html?client_id=c&scope=s&callback_url=http%3A%2F%2Fh%2Fapi%2Foidc%2Fauth").unwrap();
        assert_eq!(
            LoginPage::parse(&login).unwrap().get("scope").as_deref(),
            Some("s")
        );
        let client = Url::parse("dev.portico.app:/callback?code=x").unwrap();
        assert!(LoginPage::parse(&client).is_none());
    }
}
