//! The provider's HTML: sign-in page, error page, signed-out page. Plain forms, no script, so a
//! real browser and the scripted one in [`crate::browser`] submit them the same way.

use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use crate::config::{DemoUser, IdpConfig};
use crate::grants::AuthRequest;

pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{t}</title><style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}}\
button{{display:block;width:100%;margin:.5rem 0;padding:.75rem;font-size:1rem;cursor:pointer}}\
.error{{color:#b00020}} .muted{{color:#666;font-size:.9rem}}</style></head>\
<body><h1>{t}</h1>{body}</body></html>\n",
        t = escape(title)
    )
}

fn no_cache(status: StatusCode, html: String) -> Response {
    let mut resp = (status, Html(html)).into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    resp
}

/// The account picker. One submit button per user (`name="username"`), plus cancel.
pub(crate) fn sign_in(
    config: &IdpConfig,
    req: &AuthRequest,
    tx: &str,
    error: Option<&str>,
) -> Response {
    let mut body = String::new();
    body.push_str(&format!(
        "<p>Application <strong>{}</strong> asks you to sign in.</p>",
        escape(&req.client_id)
    ));
    let targets: Vec<&String> = req.audience.iter().chain(req.resources.iter()).collect();
    if !targets.is_empty() {
        body.push_str("<p class=\"muted\">APIs: ");
        let names: Vec<String> = targets
            .iter()
            .map(|t| escape(config.api(t).map_or(t.as_str(), |a| a.name.as_str())))
            .collect();
        body.push_str(&names.join(", "));
        body.push_str("</p>");
    }
    if !req.scopes.is_empty() {
        body.push_str(&format!(
            "<p class=\"muted\">Scopes: {}</p>",
            escape(&req.scopes.join(" "))
        ));
    }
    if let Some(e) = error {
        body.push_str(&format!(
            "<p class=\"error\" role=\"alert\">{}</p>",
            escape(e)
        ));
    }
    body.push_str(&format!(
        "<form method=\"post\" action=\"/u/login\" id=\"sign-in\">\
<input type=\"hidden\" name=\"tx\" value=\"{}\">",
        escape(tx)
    ));
    for DemoUser {
        username,
        name,
        roles,
        ..
    } in &config.users
    {
        body.push_str(&format!(
            "<button type=\"submit\" name=\"username\" value=\"{u}\" id=\"user-{u}\">\
Continue as {n} ({r})</button>",
            u = escape(username),
            n = escape(name),
            r = escape(&roles.join(", "))
        ));
    }
    body.push_str(
        "<button type=\"submit\" name=\"action\" value=\"cancel\" id=\"cancel\">Cancel</button></form>",
    );
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    no_cache(status, page("Sign in to Portico Dev IdP", &body))
}

/// The second factor, after the account was picked, when the application asked for
/// `acr_values=mfa`: a one-time code (the development provider shows it on the page).
pub(crate) fn second_factor(tx: &str, username: &str, error: Option<&str>) -> Response {
    let mut body =
        String::from("<p>This application asks for a second factor before it continues.</p>");
    if let Some(e) = error {
        body.push_str(&format!(
            "<p class=\"error\" role=\"alert\">{}</p>",
            escape(e)
        ));
    }
    body.push_str(&format!(
        "<form method=\"post\" action=\"/u/login\" id=\"second-factor\">\
<input type=\"hidden\" name=\"tx\" value=\"{tx}\">\
<input type=\"hidden\" name=\"username\" value=\"{u}\">\
<label for=\"otp\">One-time code</label> \
<input type=\"text\" name=\"otp\" id=\"otp\" inputmode=\"numeric\" autocomplete=\"one-time-code\" \
data-dev-code=\"{code}\" autofocus>\
<p class=\"muted\">Development provider: the code is <strong>{code}</strong>.</p>\
<button type=\"submit\" name=\"action\" value=\"verify\" id=\"verify\">Verify</button>\
<button type=\"submit\" name=\"action\" value=\"cancel\" id=\"cancel\">Cancel</button></form>",
        tx = escape(tx),
        u = escape(username),
        code = crate::authorize::DEV_ONE_TIME_CODE,
    ));
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    no_cache(status, page("Second factor", &body))
}

/// An error shown to the person instead of redirecting (e.g. unknown client or redirect URI,
/// RFC 6749 §4.1.2.1).
pub(crate) fn error(status: StatusCode, error: &str, description: &str) -> Response {
    let body = format!(
        "<p class=\"error\" id=\"error\" data-error=\"{e}\">{e}</p><p id=\"error-description\">{d}</p>",
        e = escape(error),
        d = escape(description)
    );
    no_cache(status, page("Sign-in error", &body))
}

pub(crate) fn signed_out() -> Response {
    no_cache(
        StatusCode::OK,
        page("Signed out", "<p id=\"signed-out\">You are signed out.</p>"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
