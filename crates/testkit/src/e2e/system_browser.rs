//! The "system browser" of the end-to-end tests (the `portico-scripted-browser` binary of
//! `tests/`, whose `main` is [`main`]). The app runs it as `PORTICO_BROWSER` with a URL as the
//! last argument, and it does what a person at a browser does:
//!
//! - an authorization URL: load the provider's sign-in page, sign in as `PORTICO_TEST_USER`
//!   (default `alice`) — on the dev provider's form, or with `PORTICO_BROWSER_PROVIDER=glewlwyd`
//!   through the REST calls Glewlwyd's login page makes — and deliver the redirect the way the OS
//!   does: a private-scheme callback by launching `$PORTICO_APP <callback>` (single-instance
//!   forwards it to the running app), a `http://127.0.0.1` callback with a GET;
//! - any other URL (e.g. the provider's logout page): open it.
//!
//! `PORTICO_BROWSER_MODE=hold` only records the authorization URL and exits, so a test can play
//! the rest itself (forged callbacks, restarts). Every step is appended as one JSON line to
//! `PORTICO_BROWSER_LOG`. Codes, tokens and callback URLs are never written anywhere.

//!
//! [`BrowserSettings`] is the one place these variables are named: the scenario writes them, the
//! binary reads them.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::{json, Value};
use url::Url;

use crate::browser::{Browser, Navigation};

const PROVIDER: &str = "PORTICO_BROWSER_PROVIDER";
const MODE: &str = "PORTICO_BROWSER_MODE";
const LOG: &str = "PORTICO_BROWSER_LOG";
const USER: &str = "PORTICO_TEST_USER";

/// Whose sign-in page the person signs in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInPage {
    /// The development provider's HTML form ([`crate::browser`]).
    DevIdp,
    /// Glewlwyd's login web app, through the REST calls it makes ([`crate::glewlwyd::Browser`]).
    Glewlwyd,
}

/// What the scripted browser is told through the app's environment.
#[derive(Debug, Clone)]
pub struct BrowserSettings {
    pub page: SignInPage,
    /// Only record the authorization URL; the test plays the rest.
    pub hold: bool,
    /// Where every step is appended as one JSON line.
    pub log: PathBuf,
    /// Who signs in.
    pub user: String,
}

impl BrowserSettings {
    /// The variables for the app's environment (the app hands them on to its browser).
    pub fn env(&self) -> Vec<(String, String)> {
        let page = match self.page {
            SignInPage::DevIdp => "dev-idp",
            SignInPage::Glewlwyd => "glewlwyd",
        };
        let mode = if self.hold { "hold" } else { "sign-in" };
        [
            (PROVIDER, page.to_owned()),
            (MODE, mode.to_owned()),
            (LOG, self.log.to_string_lossy().into_owned()),
            (USER, self.user.clone()),
        ]
        .map(|(k, v)| (k.to_owned(), v))
        .to_vec()
    }
}

fn record(event: Value) {
    let Some(path) = std::env::var_os(LOG) else {
        return;
    };
    let line = format!("{event}\n");
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = written {
        eprintln!("scripted browser: cannot write the browser log: {e}");
    }
}

/// An error's text as the browser log may keep it: the query and fragment of every URL it
/// quotes are withheld (a reqwest error names its URL, and a logout URL carries
/// `id_token_hint`), and a text that still holds a token is withheld whole.
fn loggable(error: &str) -> String {
    let is_separator =
        |c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '(' | ')' | '<' | '>');
    let mut out = String::with_capacity(error.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        match Url::parse(word) {
            Ok(mut url) if url.query().is_some() || url.fragment().is_some() => {
                url.set_query(None);
                url.set_fragment(None);
                out.push_str(url.as_str());
                out.push_str("?<withheld>");
            }
            _ => out.push_str(word),
        }
        word.clear();
    };
    for c in error.chars() {
        if is_separator(c) {
            flush(&mut word, &mut out);
            out.push(c);
        } else {
            word.push(c);
        }
    }
    flush(&mut word, &mut out);
    if portico_types::secret::contains_jwt(&out) {
        return "<withheld: the error quoted a token>".into();
    }
    out
}

/// An OAuth authorization request, whatever the provider calls its endpoint (`/authorize`,
/// Glewlwyd's `/api/oidc/auth`), classic or pushed (RFC 9126: `client_id` and `request_uri`).
fn is_authorize(url: &Url) -> bool {
    let has = |name: &str| url.query_pairs().any(|(k, _)| k == name);
    has("client_id") && (has("response_type") || has("request_uri"))
}

/// Sign in as `user` at the provider the scenario runs, returning the redirect (callback) URL.
async fn sign_in(url: &Url, user: &str) -> Result<String, String> {
    match std::env::var(PROVIDER).as_deref() {
        Ok("glewlwyd") => {
            let person = crate::glewlwyd::user(user)
                .ok_or_else(|| format!("no Glewlwyd test user {user}"))?;
            crate::glewlwyd::sign_in_at(url.as_str(), person.username, person.password)
                .await
                .map_err(|e| e.to_string())
        }
        _ => crate::browser::sign_in(url.as_str(), user)
            .await
            .map_err(|e| e.to_string()),
    }
}

fn is_loopback_http(url: &Url) -> bool {
    url.scheme() == "http"
        && matches!(
            url.host_str(),
            Some("127.0.0.1") | Some("[::1]") | Some("localhost")
        )
}

/// Where Portico's one-use loopback forwards start (`portico_shell_core::handoff`).
const HANDOFF_PREFIX: &str = "/portico/handoff/";

/// Query parameters that must never be on a command line: an authorization request's
/// (`state`, `nonce`, `code_challenge`), a pushed one's (`request_uri`), a logout's
/// (`id_token_hint`), and anything a callback carries (`code`).
fn carries_secrets(url: &Url) -> bool {
    url.query_pairs().any(|(k, _)| {
        matches!(
            k.as_ref(),
            "state" | "nonce" | "code_challenge" | "request_uri" | "id_token_hint" | "code"
        )
    })
}

/// A browser's first step on a handoff URL: one GET, and on to where its `303` points.
async fn follow_handoff(url: &Url) -> Result<Url, String> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;
    let answer = client
        .get(url.clone())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = answer.status().as_u16();
    // The handoff URL is good for one GET, which this was: recorded so a test can play the
    // other program that fetches it again.
    record(json!({ "event": "handoff", "status": status, "url": url.as_str() }));
    let location = answer
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .ok_or_else(|| format!("answered {status} without a Location"))?;
    url.join(location).map_err(|e| e.to_string())
}

/// The binary's `main`: do what a person does with the URL in the last argument.
pub async fn main() -> ExitCode {
    let Some(raw) = std::env::args().skip(1).last() else {
        eprintln!("usage: portico-scripted-browser URL");
        return ExitCode::from(2);
    };
    let Ok(url) = Url::parse(&raw) else {
        record(json!({ "event": "bad_url" }));
        eprintln!("scripted browser: not a URL");
        return ExitCode::from(2);
    };
    // What every local user could read on this process's command line (issue 15.7): the
    // scenario fails if it ever carried a sign-in's or a logout's secrets.
    let handoff = is_loopback_http(&url) && url.path().starts_with(HANDOFF_PREFIX);
    record(
        json!({ "event": "started", "argv_secrets": carries_secrets(&url), "handoff": handoff }),
    );
    let url = if handoff {
        match follow_handoff(&url).await {
            Ok(u) => u,
            Err(e) => {
                let e = loggable(&e);
                record(json!({ "event": "handoff_failed", "error": e }));
                eprintln!("scripted browser: handoff failed: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        url
    };
    if !is_authorize(&url) {
        return open_page(&url).await;
    }
    // The authorization request carries no secret (PKCE sends only the challenge).
    record(json!({ "event": "authorize", "url": url.as_str() }));
    if std::env::var(MODE).as_deref() == Ok("hold") {
        return ExitCode::SUCCESS;
    }
    let user = std::env::var(USER).unwrap_or_else(|_| "alice".into());
    let callback = match sign_in(&url, &user).await {
        Ok(c) => c,
        Err(e) => {
            let e = loggable(&e);
            record(json!({ "event": "sign_in_failed", "error": e }));
            eprintln!("scripted browser: sign-in failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    record(json!({ "event": "signed_in", "user": user }));
    let Ok(callback) = Url::parse(&callback) else {
        record(json!({ "event": "bad_callback" }));
        return ExitCode::FAILURE;
    };
    if is_loopback_http(&callback) {
        deliver_loopback(&callback).await
    } else {
        deliver_deep_link(&callback).await
    }
}

/// Open a page that is not a sign-in (logout, links an MFE opened); report only its path.
async fn open_page(url: &Url) -> ExitCode {
    let outcome = match Browser::new() {
        Ok(b) => b.open(url.as_str()).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(nav) => {
            let result = match nav {
                Navigation::Redirect(_) => json!("redirect"),
                Navigation::Page { status, .. } => json!(status),
            };
            record(json!({ "event": "opened", "path": url.path(), "result": result }));
            ExitCode::SUCCESS
        }
        Err(e) => {
            let error = loggable(&e.to_string());
            record(json!({ "event": "open_failed", "path": url.path(), "error": error }));
            ExitCode::FAILURE
        }
    }
}

/// RFC 8252 §7.3: the browser loads the app's loopback URL.
async fn deliver_loopback(callback: &Url) -> ExitCode {
    let client = match reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("scripted browser: http client: {e}");
            return ExitCode::FAILURE;
        }
    };
    match client.get(callback.clone()).send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            record(json!({ "event": "delivered", "via": "loopback", "status": status }));
            if resp.status().is_success() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            // reqwest errors can quote the URL; keep only the kind of failure.
            let kind = if e.is_connect() {
                "connect"
            } else if e.is_timeout() {
                "timeout"
            } else {
                "request"
            };
            record(json!({ "event": "delivery_failed", "via": "loopback", "error": kind }));
            ExitCode::FAILURE
        }
    }
}

/// What Linux does with a private-scheme URL: start the registered app with it as argument.
async fn deliver_deep_link(callback: &Url) -> ExitCode {
    let Some(app) = std::env::var_os("PORTICO_APP") else {
        record(
            json!({ "event": "delivery_failed", "via": "deep_link", "error": "PORTICO_APP unset" }),
        );
        return ExitCode::FAILURE;
    };
    let child = tokio::process::Command::new(app)
        .arg(callback.as_str())
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            record(
                json!({ "event": "delivery_failed", "via": "deep_link", "error": e.to_string() }),
            );
            return ExitCode::FAILURE;
        }
    };
    match tokio::time::timeout(Duration::from_secs(60), child.wait()).await {
        Ok(Ok(status)) => {
            record(json!({ "event": "delivered", "via": "deep_link", "status": status.code() }));
            if status.success() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Ok(Err(e)) => {
            record(
                json!({ "event": "delivery_failed", "via": "deep_link", "error": e.to_string() }),
            );
            ExitCode::FAILURE
        }
        Err(_) => {
            record(
                json!({ "event": "delivery_failed", "via": "deep_link", "error": "the second instance did not exit within 60 s" }),
            );
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_logged_error_keeps_no_query_and_no_token() {
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";
        let reqwest_like = format!(
            "http: error sending request for url (http://127.0.0.1:4/v2/logout?id_token_hint={jwt}&returnTo=x)"
        );
        let logged = loggable(&reqwest_like);
        assert_eq!(
            logged,
            "http: error sending request for url (http://127.0.0.1:4/v2/logout?<withheld>)"
        );
        assert_eq!(
            loggable(&format!("status 500: body {jwt}")),
            "<withheld: the error quoted a token>"
        );
        // Nothing to withhold: the text is kept as it was.
        let plain = "no sign-in form on the page (status 200)";
        assert_eq!(loggable(plain), plain);
    }
}
