//! A scripted person in a browser on the development provider's sign-in page, for the dev-idp's
//! and the broker's tests, the benchmarks and the E2E "system browser" (Glewlwyd's sign-in is
//! [`crate::glewlwyd::Browser`]).
//!
//! It loads the authorization URL, reads the sign-in form like a person would (hidden fields and
//! the account buttons), submits it, and reports where the provider redirects to. It never
//! follows that redirect: the callback belongs to the app (a deep link or loopback listener).

use url::Url;

/// What went wrong while signing in.
#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    /// Transport failure.
    #[error("http: {0}")]
    Http(#[from] reqwest::Error),
    /// The URL could not be parsed or resolved.
    #[error("bad url {0}")]
    Url(String),
    /// The provider showed an error page instead of a form or a redirect.
    #[error("error page ({status}): {error}: {description}")]
    ErrorPage {
        /// HTTP status of the page.
        status: u16,
        /// The `error` code shown.
        error: String,
        /// The description shown.
        description: String,
    },
    /// A page without the sign-in form.
    #[error("no sign-in form on the page (status {status})")]
    NoSignInForm {
        /// HTTP status of the page.
        status: u16,
    },
    /// The form has no button for this user.
    #[error("no account {0} offered on the sign-in page")]
    UnknownUser(String),
    /// The provider answered the form without redirecting.
    #[error("no redirect after sign-in (status {0})")]
    NoRedirect(u16),
}

/// One browser profile: cookies (the provider's SSO session) persist across calls.
#[derive(Debug, Clone)]
pub struct Browser {
    http: reqwest::Client,
}

/// Where a navigation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Navigation {
    /// A redirect; the absolute `Location`.
    Redirect(String),
    /// A page (status and HTML).
    Page {
        /// HTTP status.
        status: u16,
        /// Body.
        html: String,
    },
}

impl Browser {
    /// A fresh profile with an empty cookie jar.
    pub fn new() -> Result<Browser, BrowserError> {
        Ok(Browser {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
        })
    }

    async fn finish(resp: reqwest::Response, base: &Url) -> Result<Navigation, BrowserError> {
        let status = resp.status();
        if status.is_redirection() {
            let loc = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or(BrowserError::NoRedirect(status.as_u16()))?;
            let abs = base
                .join(loc)
                .map_err(|_| BrowserError::Url(loc.to_owned()))?;
            return Ok(Navigation::Redirect(abs.to_string()));
        }
        Ok(Navigation::Page {
            status: status.as_u16(),
            html: resp.text().await?,
        })
    }

    /// GET `url` without following redirects.
    pub async fn open(&self, url: &str) -> Result<Navigation, BrowserError> {
        let base = Url::parse(url).map_err(|_| BrowserError::Url(url.to_owned()))?;
        let resp = self.http.get(base.clone()).send().await?;
        Self::finish(resp, &base).await
    }

    /// Open `authorize_url`; if the sign-in page shows, submit it with `choice`
    /// (`("username", user)` or `("action", "cancel")`). Returns the redirect `Location`.
    async fn submit(
        &self,
        authorize_url: &str,
        choice: (&str, &str),
    ) -> Result<String, BrowserError> {
        let base =
            Url::parse(authorize_url).map_err(|_| BrowserError::Url(authorize_url.to_owned()))?;
        let (status, html) = match self.open(authorize_url).await? {
            // Already signed in (SSO), or an error sent back to the client.
            Navigation::Redirect(loc) => return Ok(loc),
            Navigation::Page { status, html } => (status, html),
        };
        let form = parse_form(&html).ok_or_else(|| error_page(status, &html))?;
        if !form
            .buttons
            .iter()
            .any(|(n, v)| n == choice.0 && v == choice.1)
        {
            return Err(BrowserError::UnknownUser(choice.1.to_owned()));
        }
        let action = base
            .join(&form.action)
            .map_err(|_| BrowserError::Url(form.action.clone()))?;
        let mut fields = form.hidden;
        fields.push((choice.0.to_owned(), choice.1.to_owned()));
        let resp = self.http.post(action.clone()).form(&fields).send().await?;
        match Self::finish(resp, &action).await? {
            Navigation::Redirect(loc) => Ok(loc),
            // The application asked for a second factor (`acr_values=mfa`): enter the one-time
            // code, as a person reads it from their device (the dev provider shows it).
            Navigation::Page { status, html } => match parse_form(&html) {
                Some(Form {
                    action: second,
                    hidden,
                    one_time_code: Some((name, code)),
                    ..
                }) => {
                    let second = action
                        .join(&second)
                        .map_err(|_| BrowserError::Url(second.clone()))?;
                    let mut fields = hidden;
                    fields.push((name, code));
                    fields.push(("action".into(), "verify".into()));
                    let resp = self.http.post(second.clone()).form(&fields).send().await?;
                    match Self::finish(resp, &second).await? {
                        Navigation::Redirect(loc) => Ok(loc),
                        Navigation::Page { status, html } => {
                            Err(error_or_no_redirect(status, &html))
                        }
                    }
                }
                _ => Err(error_or_no_redirect(status, &html)),
            },
        }
    }

    /// Sign in as `username` (or ride the SSO session) and return the redirect `Location`:
    /// the callback URL with `code`/`state`/`iss`, or with `error=...`. Does not follow it.
    pub async fn sign_in(
        &self,
        authorize_url: &str,
        username: &str,
    ) -> Result<String, BrowserError> {
        self.submit(authorize_url, ("username", username)).await
    }

    /// Press "Cancel" on the sign-in page; returns the `error=access_denied` redirect.
    pub async fn cancel(&self, authorize_url: &str) -> Result<String, BrowserError> {
        self.submit(authorize_url, ("action", "cancel")).await
    }
}

/// GET `authorize_url`, submit the sign-in form as `username`, and return the redirect
/// `Location` (the callback URL with `code`/`state`/`iss`, or with `error=...`). Does not follow
/// it. Uses a fresh browser profile (no SSO session); see [`Browser`] to keep cookies.
pub async fn sign_in(authorize_url: &str, username: &str) -> Result<String, BrowserError> {
    Browser::new()?.sign_in(authorize_url, username).await
}

#[derive(Debug, PartialEq, Eq)]
struct Form {
    action: String,
    hidden: Vec<(String, String)>,
    /// `(name, value)` of each submit button.
    buttons: Vec<(String, String)>,
    /// A one-time code field and the code the development provider shows for it.
    one_time_code: Option<(String, String)>,
}

fn error_or_no_redirect(status: u16, html: &str) -> BrowserError {
    match error_page(status, html) {
        e @ BrowserError::ErrorPage { .. } => e,
        _ => BrowserError::NoRedirect(status),
    }
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Attributes of the tag starting at `tag` (text after `<name`, up to `>`).
fn attrs(tag: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = tag;
    while let Some(eq) = rest.find("=\"") {
        let name = rest[..eq]
            .rsplit(|c: char| c.is_whitespace())
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        let after = &rest[eq + 2..];
        let Some(end) = after.find('"') else { break };
        out.push((name, unescape(&after[..end])));
        rest = &after[end + 1..];
    }
    out
}

fn tags<'a>(html: &'a str, name: &str) -> Vec<&'a str> {
    let open = format!("<{name}");
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        let end = after.find('>').unwrap_or(after.len());
        out.push(&after[..end]);
        rest = &after[end..];
    }
    out
}

fn get<'a>(attrs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn parse_form(html: &str) -> Option<Form> {
    let form_tag = tags(html, "form").into_iter().next()?;
    let action = get(&attrs(form_tag), "action")?.to_owned();
    let mut hidden = Vec::new();
    let mut one_time_code = None;
    for t in tags(html, "input") {
        let a = attrs(t);
        if let (Some(n), Some(code)) = (get(&a, "name"), get(&a, "data-dev-code")) {
            one_time_code = Some((n.to_owned(), code.to_owned()));
        }
        if get(&a, "type") == Some("hidden") {
            if let (Some(n), Some(v)) = (get(&a, "name"), get(&a, "value")) {
                hidden.push((n.to_owned(), v.to_owned()));
            }
        }
    }
    let buttons = tags(html, "button")
        .into_iter()
        .filter_map(|t| {
            let a = attrs(t);
            Some((get(&a, "name")?.to_owned(), get(&a, "value")?.to_owned()))
        })
        .collect();
    Some(Form {
        action,
        hidden,
        buttons,
        one_time_code,
    })
}

fn error_page(status: u16, html: &str) -> BrowserError {
    let error = tags(html, "p")
        .into_iter()
        .find_map(|t| get(&attrs(t), "data-error").map(str::to_owned));
    match error {
        Some(error) => {
            let description = html
                .split("id=\"error-description\">")
                .nth(1)
                .and_then(|s| s.split("</p>").next())
                .map(unescape)
                .unwrap_or_default();
            BrowserError::ErrorPage {
                status,
                error,
                description,
            }
        }
        None => BrowserError::NoSignInForm { status },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_sign_in_form() {
        let html = r#"<form method="post" action="/u/login" id="sign-in"><input type="hidden" name="tx" value="a&amp;b">
            <button type="submit" name="username" value="alice" id="user-alice">Alice</button>
            <button type="submit" name="action" value="cancel">Cancel</button></form>"#;
        let f = parse_form(html).expect("form");
        assert_eq!(f.action, "/u/login");
        assert_eq!(f.hidden, vec![("tx".to_owned(), "a&b".to_owned())]);
        assert!(f.buttons.contains(&("username".into(), "alice".into())));
        assert!(f.buttons.contains(&("action".into(), "cancel".into())));
    }

    #[test]
    fn reads_error_pages() {
        let html = r#"<p class="error" id="error" data-error="invalid_client">invalid_client</p><p id="error-description">unknown client_id</p>"#;
        match error_page(400, html) {
            BrowserError::ErrorPage {
                status,
                error,
                description,
            } => {
                assert_eq!((status, error.as_str()), (400, "invalid_client"));
                assert_eq!(description, "unknown client_id");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            error_page(200, "<p>hi</p>"),
            BrowserError::NoSignInForm { status: 200 }
        ));
        assert!(parse_form("<p>no form</p>").is_none());
    }
}
