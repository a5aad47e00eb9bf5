//! What a page may ask the shell to fetch: only URLs under one of its API base URLs, only headers
//! that cannot impersonate the shell or smuggle a second request. Pure functions, no I/O.

use url::Url;

/// Why a native fetch was refused before anything was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchRefusal {
    /// The URL does not parse as an absolute http(s) URL.
    #[error("`{url}` is not an absolute http or https URL")]
    NotAUrl { url: String },
    /// The URL carries a user name or password.
    #[error("the URL carries a user name or password")]
    Userinfo,
    /// The URL is not under any of the caller's API base URLs.
    #[error("`{url}` is not under any API this micro frontend is registered for")]
    NotAnApi { url: String },
    /// The path hides a segment separator or a dot segment in percent-escapes.
    #[error("the path hides a separator or a dot segment in percent-escapes")]
    EncodedSeparator,
    /// A header the shell sets itself, or one that could smuggle a second request.
    #[error("the header `{name}` is set by Portico, not by the page")]
    ForbiddenHeader { name: String },
    /// A header name or value that is not valid HTTP.
    #[error("the header `{name}` is not a valid HTTP header")]
    InvalidHeader { name: String },
    /// Not an HTTP method a page may use.
    #[error("the method `{method}` is not allowed")]
    Method { method: String },
    /// The request body is larger than the limit.
    #[error("the request body is larger than {limit} bytes")]
    RequestTooLarge { limit: usize },
    /// A redirect leads outside the API the request was for.
    #[error("the API redirected outside itself, to `{location}`")]
    RedirectOutside { location: String },
    /// Too many redirects.
    #[error("the API redirected more than {limit} times")]
    TooManyRedirects { limit: usize },
}

/// An API base URL (`https://billing.example.com/api/`): https (plain http only on loopback),
/// no user name or password, no query or fragment, its path ending with `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiBase(Url);

impl ApiBase {
    /// Checks and normalises a configured base URL; the reason is a sentence fragment.
    pub fn parse(raw: &str) -> Result<ApiBase, String> {
        let url = Url::parse(raw).map_err(|e| format!("not a URL ({e})"))?;
        match url.scheme() {
            "https" => {}
            "http" if portico_types::net::is_loopback(&url) => {}
            "http" => return Err("plain http is only allowed for loopback hosts".into()),
            other => return Err(format!("scheme `{other}` is not https")),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not carry a user name or password".into());
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err("must not have a query or fragment".into());
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("has no host".into());
        }
        let mut url = url;
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        Ok(ApiBase(url))
    }

    /// The base URL, its path ending with `/`.
    pub fn url(&self) -> &Url {
        &self.0
    }

    /// Whether `url` (already parsed and normalised) lies under this base: same scheme, host and
    /// port, and a path on a segment boundary below the base path.
    pub fn contains(&self, url: &Url) -> bool {
        let base = &self.0;
        if url.scheme() != base.scheme()
            || url.host() != base.host()
            || url.port_or_known_default() != base.port_or_known_default()
        {
            return false;
        }
        let prefix = base.path();
        let path = url.path();
        path.starts_with(prefix) || path == prefix.trim_end_matches('/')
    }
}

/// Parses a URL a page asked for and finds the API it belongs to. WHATWG URL parsing removes
/// dot segments (also percent-encoded ones); separators still hidden in escapes (`%2f`, `%5c`)
/// or escaped dots that survived are refused, since a server may decode them into a path outside
/// the API.
pub fn resolve<'a>(raw: &str, apis: &'a [ApiBase]) -> Result<(Url, &'a ApiBase), FetchRefusal> {
    let mut url = Url::parse(raw).map_err(|_| FetchRefusal::NotAUrl { url: shorten(raw) })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(FetchRefusal::NotAUrl { url: shorten(raw) });
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(FetchRefusal::Userinfo);
    }
    let lower = url.path().to_ascii_lowercase();
    if ["%2f", "%5c", "%2e"].iter().any(|e| lower.contains(e)) || url.path().contains('\\') {
        return Err(FetchRefusal::EncodedSeparator);
    }
    // The fragment is the page's, never sent.
    url.set_fragment(None);
    let api = apis
        .iter()
        .find(|a| a.contains(&url))
        .ok_or_else(|| FetchRefusal::NotAnApi {
            url: shorten(url.as_str()),
        })?;
    Ok((url, api))
}

/// Headers the shell sets itself (the token, the proof, the host) or that decide how bytes on
/// the wire are framed: a page setting them could impersonate the shell or smuggle a request.
const FORBIDDEN_HEADERS: &[&str] = &[
    "authorization",
    "cookie",
    "dpop",
    "host",
    "proxy-authorization",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "expect",
];

/// Checks one header a page wants to send.
pub fn check_header(name: &str, value: &str) -> Result<(), FetchRefusal> {
    let lower = name.to_ascii_lowercase();
    if FORBIDDEN_HEADERS.contains(&lower.as_str())
        || lower.starts_with("proxy-")
        || lower.starts_with("sec-")
    {
        return Err(FetchRefusal::ForbiddenHeader {
            name: shorten(name),
        });
    }
    let valid_name = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    // Field values: visible ASCII, space and tab (RFC 9110 §5.5); never CR or LF.
    let valid_value = value
        .bytes()
        .all(|b| b == b'\t' || (0x20..0x7f).contains(&b) || b >= 0x80);
    if !valid_name || !valid_value {
        return Err(FetchRefusal::InvalidHeader {
            name: shorten(name),
        });
    }
    Ok(())
}

/// Checks the method: the ones a fetch API user needs; `CONNECT`/`TRACE` never.
pub fn check_method(method: &str) -> Result<reqwest::Method, FetchRefusal> {
    let upper = method.to_ascii_uppercase();
    match upper.as_str() {
        "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS" => {
            reqwest::Method::from_bytes(upper.as_bytes()).map_err(|_| FetchRefusal::Method {
                method: shorten(method),
            })
        }
        _ => Err(FetchRefusal::Method {
            method: shorten(method),
        }),
    }
}

/// A redirect target, resolved against the URL that redirected: allowed only under the same API.
pub fn follow(from: &Url, location: &str, api: &ApiBase) -> Result<Url, FetchRefusal> {
    let next = from
        .join(location)
        .map_err(|_| FetchRefusal::RedirectOutside {
            location: shorten(location),
        })?;
    let outside = || FetchRefusal::RedirectOutside {
        location: shorten(next.as_str()),
    };
    if !next.username().is_empty() || next.password().is_some() || !api.contains(&next) {
        return Err(outside());
    }
    let lower = next.path().to_ascii_lowercase();
    if ["%2f", "%5c", "%2e"].iter().any(|e| lower.contains(e)) {
        return Err(outside());
    }
    Ok(next)
}

/// URLs and names in errors are shown to people and logged: bounded.
fn shorten(s: &str) -> String {
    const MAX: usize = 200;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(MAX).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apis() -> Vec<ApiBase> {
        vec![
            ApiBase::parse("https://billing.example.com/api").unwrap(),
            ApiBase::parse("http://127.0.0.1:8123/").unwrap(),
            ApiBase::parse("https://[2001:db8::1]:8443/v1/").unwrap(),
        ]
    }

    fn refused(url: &str) -> FetchRefusal {
        resolve(url, &apis()).unwrap_err()
    }

    #[test]
    fn base_urls_are_checked_and_end_with_a_slash() {
        assert_eq!(
            ApiBase::parse("https://billing.example.com/api")
                .unwrap()
                .url()
                .as_str(),
            "https://billing.example.com/api/"
        );
        assert!(ApiBase::parse("http://billing.example.com/").is_err());
        assert!(ApiBase::parse("https://u:p@billing.example.com/").is_err());
        assert!(ApiBase::parse("https://billing.example.com/?x=1").is_err());
        assert!(ApiBase::parse("ftp://billing.example.com/").is_err());
        assert!(ApiBase::parse("http://localhost:9/").is_ok());
    }

    #[test]
    fn urls_under_an_api_are_resolved() {
        let apis = apis();
        let (url, api) =
            resolve("https://billing.example.com/api/invoices?page=2#top", &apis).unwrap();
        assert_eq!(
            url.as_str(),
            "https://billing.example.com/api/invoices?page=2"
        );
        assert_eq!(api.url().as_str(), "https://billing.example.com/api/");
        assert!(
            resolve("https://billing.example.com/api", &apis).is_ok(),
            "the base itself"
        );
        assert!(resolve("HTTPS://BILLING.EXAMPLE.COM:443/api/x", &apis).is_ok());
        assert!(resolve("https://[2001:db8:0:0:0:0:0:1]:8443/v1/x", &apis).is_ok());
        // Dot segments inside the API resolve inside it.
        let (url, _) = resolve("https://billing.example.com/api/a/../b", &apis).unwrap();
        assert_eq!(url.path(), "/api/b");
    }

    #[test]
    fn urls_outside_every_api_are_refused() {
        for url in [
            "https://billing.example.com.evil.test/api/x",
            "https://billing.example.com/apix",
            "https://billing.example.com/admin",
            "https://billing.example.com/api/../admin",
            "https://billing.example.com/api/%2e%2e/admin",
            "https://billing.example.com/api/%2E%2E/admin",
            "https://billing.example.com/api/.%2e/admin",
            "http://billing.example.com/api/x",
            "https://billing.example.com:8443/api/x",
            "http://127.0.0.2:8123/",
            "https://[2001:db8::2]:8443/v1/x",
            "https://[2001:db8::1]:8444/v1/x",
        ] {
            assert!(
                matches!(refused(url), FetchRefusal::NotAnApi { .. }),
                "{url}: {:?}",
                refused(url)
            );
        }
        assert_eq!(
            refused("https://user:pw@billing.example.com/api/x"),
            FetchRefusal::Userinfo
        );
        assert_eq!(
            refused("https://billing.example.com@evil.test/api/x"),
            FetchRefusal::Userinfo
        );
        assert_eq!(
            refused("https://billing.example.com/api/a%2f..%2fadmin"),
            FetchRefusal::EncodedSeparator
        );
        assert_eq!(
            refused("https://billing.example.com/api/a%5C..%5Cadmin"),
            FetchRefusal::EncodedSeparator
        );
        assert!(matches!(refused("/api/x"), FetchRefusal::NotAUrl { .. }));
        assert!(matches!(
            refused("javascript:alert(1)"),
            FetchRefusal::NotAUrl { .. }
        ));
        assert!(matches!(
            refused("file:///etc/passwd"),
            FetchRefusal::NotAUrl { .. }
        ));
    }

    #[test]
    fn the_shells_headers_and_framing_headers_are_refused() {
        for name in [
            "Authorization",
            "cookie",
            "DPoP",
            "Host",
            "Content-Length",
            "Transfer-Encoding",
            "Connection",
            "Proxy-Foo",
            "Sec-Fetch-Site",
            "TE",
            "Upgrade",
        ] {
            assert!(
                matches!(
                    check_header(name, "x"),
                    Err(FetchRefusal::ForbiddenHeader { .. })
                ),
                "{name}"
            );
        }
        assert_eq!(check_header("Accept", "application/json"), Ok(()));
        assert_eq!(check_header("X-Request-Id", "abc-123"), Ok(()));
        // Header splitting: CR/LF in a value, odd characters in a name.
        assert!(matches!(
            check_header("X-A", "1\r\nAuthorization: Bearer x"),
            Err(FetchRefusal::InvalidHeader { .. })
        ));
        assert!(matches!(
            check_header("X A", "1"),
            Err(FetchRefusal::InvalidHeader { .. })
        ));
        assert!(matches!(
            check_header("", "1"),
            Err(FetchRefusal::InvalidHeader { .. })
        ));
    }

    #[test]
    fn methods() {
        assert_eq!(check_method("post").unwrap(), reqwest::Method::POST);
        assert!(check_method("CONNECT").is_err());
        assert!(check_method("TRACE").is_err());
        assert!(check_method("GET\r\n").is_err());
    }

    #[test]
    fn redirects_stay_inside_the_api() {
        let api = ApiBase::parse("https://billing.example.com/api/").unwrap();
        let from = Url::parse("https://billing.example.com/api/old").unwrap();
        assert_eq!(
            follow(&from, "new", &api).unwrap().as_str(),
            "https://billing.example.com/api/new"
        );
        assert_eq!(
            follow(&from, "/api/v2/x", &api).unwrap().as_str(),
            "https://billing.example.com/api/v2/x"
        );
        for location in [
            "https://evil.test/api/x",
            "/admin",
            "../admin",
            "//evil.test/api/",
            "http://billing.example.com/api/x",
            "https://u@billing.example.com/api/x",
        ] {
            assert!(
                matches!(
                    follow(&from, location, &api),
                    Err(FetchRefusal::RedirectOutside { .. })
                ),
                "{location}"
            );
        }
    }
}
