//! The rules for the provider's settings, one validator per setting: the issuer, the client id,
//! the redirect URI, extra `/authorize` parameters, the post-logout redirect, and the
//! https-or-loopback rule every URL the app talks to or shows follows.

use std::fmt;

use serde::{Deserialize, Serialize};
use url::{Host, Url};

use crate::invalid::{shown_url, Invalid, Kind};
use crate::net::is_loopback;

/// Longest client id we accept.
pub const MAX_CLIENT_ID_LEN: usize = 256;

/// The path of the loopback redirect when none is given.
pub const DEFAULT_LOOPBACK_PATH: &str = "/callback";

/// `/authorize` parameters that Portico sets itself (or that would replace the request
/// wholesale: `request`, `request_uri`, or move the response elsewhere: `response_mode`).
/// Letting configuration set them would break PKCE, state, the redirect check or the
/// audience binding.
pub const RESERVED_AUTHORIZE_PARAMS: [&str; 13] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "scope",
    "audience",
    "resource",
    "response_mode",
    "request",
    "request_uri",
];

/// `raw` as a URL of the given kind, or what is wrong with it.
pub fn parse_url(kind: Kind, raw: &str) -> Result<Url, Invalid> {
    Url::parse(raw).map_err(|e| Invalid::new(kind, raw, format!("is not a URL ({e})")))
}

/// `https://` anywhere; plain `http://` only on loopback, where nothing crosses a network.
///
/// ```
/// use portico_types::{invalid::Kind, provider::check_secure_url};
/// let ok = |s: &str| check_secure_url(Kind::PageUrl, &s.parse().unwrap()).is_ok();
/// assert!(ok("https://mfe.example.com/") && ok("http://127.0.0.1:5173/"));
/// assert!(!ok("http://mfe.example.com/") && !ok("ftp://127.0.0.1/"));
/// ```
pub fn check_secure_url(kind: Kind, url: &Url) -> Result<(), Invalid> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => Err(Invalid::new(
            kind,
            &shown_url(url),
            "uses plain http, which is only allowed for loopback hosts (127.0.0.1, [::1], localhost)",
        )),
        other => Err(Invalid::new(
            kind,
            &shown_url(url),
            format!("is not https (its scheme is `{other}`)"),
        )),
    }
}

/// The issuer: compared exactly with discovery, `iss` and ID tokens, so it is an https URL
/// (plain http on loopback) with no query, fragment or credentials.
pub fn check_issuer(url: &Url) -> Result<(), Invalid> {
    check_secure_url(Kind::Issuer, url)?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Invalid::new(
            Kind::Issuer,
            &shown_url(url),
            "must not have a query or fragment",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Invalid::new(
            Kind::Issuer,
            &shown_url(url),
            "must not carry a user name or password",
        ));
    }
    Ok(())
}

/// [`parse_url`] then [`check_issuer`].
pub fn parse_issuer(raw: &str) -> Result<Url, Invalid> {
    let url = parse_url(Kind::Issuer, raw)?;
    check_issuer(&url)?;
    Ok(url)
}

/// The public client's id: 1 to [`MAX_CLIENT_ID_LEN`] bytes, no whitespace or control characters.
pub fn check_client_id(id: &str) -> Result<(), Invalid> {
    if id.is_empty()
        || id.len() > MAX_CLIENT_ID_LEN
        || id.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(Invalid::new(
            Kind::ClientId,
            id,
            format!("must be 1 to {MAX_CLIENT_ID_LEN} visible characters without spaces"),
        ));
    }
    Ok(())
}

/// The name of an extra `/authorize` parameter: not empty, not one of
/// [`RESERVED_AUTHORIZE_PARAMS`].
pub fn check_authorize_param(name: &str) -> Result<(), Invalid> {
    if name.is_empty() {
        return Err(Invalid::new(Kind::AuthorizeParam, name, "is empty"));
    }
    if RESERVED_AUTHORIZE_PARAMS.contains(&name) {
        return Err(Invalid::new(
            Kind::AuthorizeParam,
            name,
            "is set by Portico itself and cannot be overridden",
        ));
    }
    Ok(())
}

/// A client capability (Entra's `xms_cc` values, e.g. `CP1`): a short alphanumeric name.
pub fn check_client_capability(name: &str) -> Result<(), Invalid> {
    if name.is_empty() || name.len() > 32 || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(Invalid::new(
            Kind::ClientCapability,
            name,
            "is not a short alphanumeric name such as CP1",
        ));
    }
    Ok(())
}

/// Where the provider returns the browser after logout: no fragment (OIDC RP-Initiated Logout
/// §3 compares it as registered).
pub fn check_post_logout_redirect(url: &Url) -> Result<(), Invalid> {
    if url.fragment().is_some() {
        return Err(Invalid::new(
            Kind::PostLogoutRedirect,
            &shown_url(url),
            "must not have a fragment",
        ));
    }
    Ok(())
}

/// Where the provider sends the browser back to after sign-in.
///
/// Spelled in the configuration as a private-use URI (`dev.portico.app:/callback`), `loopback`,
/// `loopback:/path`, or `http://127.0.0.1:<port>/path` for a port fixed in advance:
///
/// ```
/// use portico_types::provider::RedirectUri;
/// let r = RedirectUri::parse("http://127.0.0.1:53682/callback").unwrap();
/// assert_eq!(r, RedirectUri::Loopback { path: "/callback".into(), port: Some(53682) });
/// assert_eq!(r.to_string(), "http://127.0.0.1:53682/callback");
/// assert_eq!(RedirectUri::parse("loopback").unwrap().to_string(), "loopback:/callback");
/// assert!(RedirectUri::parse("portico:/callback").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RedirectUri {
    /// A private-use URI scheme (RFC 8252 §7.1), e.g. `dev.portico.app:/callback`, delivered by
    /// deep link.
    PrivateScheme(Url),
    /// `http://127.0.0.1:{port}{path}` (RFC 8252 §7.3). With `port: None` a listener on a port
    /// the OS picks at each sign-in; with a fixed port (for providers that compare the whole
    /// callback URL, port included, such as Auth0) that port.
    Loopback {
        path: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        port: Option<u16>,
    },
}

impl RedirectUri {
    /// Parses the configuration spelling and checks it ([`RedirectUri::check`]).
    pub fn parse(raw: &str) -> Result<RedirectUri, Invalid> {
        let redirect =
            if raw == "loopback" {
                RedirectUri::Loopback {
                    path: DEFAULT_LOOPBACK_PATH.into(),
                    port: None,
                }
            } else if raw.starts_with("http:") || raw.starts_with("https:") {
                fixed_loopback(raw)?
            } else if let Some(path) = raw.strip_prefix("loopback:") {
                RedirectUri::Loopback {
                    path: path.into(),
                    port: None,
                }
            } else {
                RedirectUri::PrivateScheme(Url::parse(raw).map_err(|e| {
                    Invalid::new(Kind::Redirect, raw, format!("is not a URI ({e})"))
                })?)
            };
        redirect.check()?;
        Ok(redirect)
    }

    /// The rules a redirect follows however it was built: a private-use scheme is a reverse
    /// domain name and the URI has no query or fragment; a loopback path starts with `/` and
    /// has no query or fragment; a fixed port is not 0.
    pub fn check(&self) -> Result<(), Invalid> {
        let bad = |problem: &'static str| Invalid::new(Kind::Redirect, &self.to_string(), problem);
        match self {
            RedirectUri::PrivateScheme(u) => {
                // RFC 8252 §7.1: a reverse-DNS scheme the app owns; never http(s) here.
                if matches!(u.scheme(), "http" | "https") || !u.scheme().contains('.') {
                    return Err(bad(
                        "does not have a private-use scheme named by a reverse domain name, like `com.example.app:/callback` (RFC 8252 §7.1)",
                    ));
                }
                if u.query().is_some() || u.fragment().is_some() {
                    return Err(bad("must not have a query or fragment"));
                }
            }
            RedirectUri::Loopback { path, port } => {
                if !path.starts_with('/') || path.contains(['?', '#']) {
                    return Err(bad(
                        "needs a loopback path that starts with `/` and has no query or fragment",
                    ));
                }
                if *port == Some(0) {
                    return Err(bad(
                        "needs a port other than 0 (or use `loopback` for a port chosen at each sign-in)",
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The configuration spelling: the URI, `loopback:/path`, or `http://127.0.0.1:<port>/path`.
impl fmt::Display for RedirectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RedirectUri::PrivateScheme(u) => f.write_str(u.as_str()),
            RedirectUri::Loopback { path, port: None } => write!(f, "loopback:{path}"),
            RedirectUri::Loopback {
                path,
                port: Some(port),
            } => write!(f, "http://127.0.0.1:{port}{path}"),
        }
    }
}

/// `http://127.0.0.1:<port>/path`: the loopback redirect on a port fixed in advance.
fn fixed_loopback(raw: &str) -> Result<RedirectUri, Invalid> {
    let url = Url::parse(raw)
        .map_err(|e| Invalid::new(Kind::Redirect, raw, format!("is not a URI ({e})")))?;
    let bad = |problem: &'static str| Invalid::new(Kind::Redirect, &shown_url(&url), problem);
    // RFC 8252 §7.3 and §8.3: plain http on the IPv4 loopback literal (Portico listens on
    // 127.0.0.1 only; `localhost` may resolve elsewhere and is not accepted).
    if url.scheme() != "http" || url.host() != Some(Host::Ipv4([127, 0, 0, 1].into())) {
        return Err(bad(
            "is not plain http on 127.0.0.1: a fixed loopback redirect is `http://127.0.0.1:<port>/<path>` (RFC 8252 §7.3)",
        ));
    }
    let Some(port) = url.port().filter(|p| *p != 0) else {
        return Err(bad(
            "needs a port other than 0 (or use `loopback` for a port chosen at each sign-in)",
        ));
    };
    if url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(bad("must have no query, fragment or user"));
    }
    Ok(RedirectUri::Loopback {
        path: url.path().to_string(),
        port: Some(port),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn issuer_rules() {
        for ok in [
            "https://tenant.example.com/",
            "http://127.0.0.1:8080/",
            "http://[::1]:8080/",
            "http://localhost:8400/realms/x",
        ] {
            check_issuer(&url(ok)).unwrap();
        }
        for (bad, says) in [
            ("http://idp.example.com/", "uses plain http"),
            (
                "ftp://idp.example.com/",
                "is not https (its scheme is `ftp`)",
            ),
            ("https://idp.example.com/?x=1", "query or fragment"),
            ("https://idp.example.com/#f", "query or fragment"),
            ("https://u:p@idp.example.com/", "user name or password"),
        ] {
            let e = check_issuer(&url(bad)).unwrap_err();
            assert_eq!(e.kind(), Kind::Issuer);
            assert!(e.problem().contains(says), "{bad}: {e}");
        }
        let e = check_issuer(&url("https://u:secret@idp.example.com/")).unwrap_err();
        assert!(!e.to_string().contains("secret"), "{e}");
        assert!(parse_issuer("not a url")
            .unwrap_err()
            .problem()
            .starts_with("is not a URL ("));
    }

    #[test]
    fn client_id_rules() {
        check_client_id("portico-desktop").unwrap();
        check_client_id(&"c".repeat(MAX_CLIENT_ID_LEN)).unwrap();
        for bad in ["", "has space", "tab\there", "nl\n", &"c".repeat(257)] {
            assert_eq!(check_client_id(bad).unwrap_err().kind(), Kind::ClientId);
        }
    }

    #[test]
    fn one_reserved_list_of_thirteen() {
        for name in RESERVED_AUTHORIZE_PARAMS {
            assert!(check_authorize_param(name).is_err(), "{name}");
        }
        for name in ["response_mode", "request", "request_uri", "state"] {
            assert_eq!(
                check_authorize_param(name).unwrap_err().detail(),
                format!("`{name}` is set by Portico itself and cannot be overridden")
            );
        }
        check_authorize_param("prompt").unwrap();
        check_authorize_param("organization").unwrap();
        assert!(check_authorize_param("").is_err());
    }

    #[test]
    fn redirect_spellings() {
        assert_eq!(
            RedirectUri::parse("dev.portico.app:/callback").unwrap(),
            RedirectUri::PrivateScheme(url("dev.portico.app:/callback"))
        );
        assert_eq!(
            RedirectUri::parse("loopback:/oauth/cb").unwrap(),
            RedirectUri::Loopback {
                path: "/oauth/cb".into(),
                port: None
            }
        );
        for spelled in [
            "dev.portico.app:/callback",
            "loopback:/oauth/cb",
            "http://127.0.0.1:53682/callback",
        ] {
            assert_eq!(
                RedirectUri::parse(spelled).unwrap().to_string(),
                spelled,
                "Display gives the spelling back"
            );
        }
    }

    #[test]
    fn a_fixed_loopback_port_is_accepted_on_127_0_0_1_only() {
        for (bad, says) in [
            ("http://localhost:53682/callback", "plain http on 127.0.0.1"),
            (
                "https://127.0.0.1:53682/callback",
                "plain http on 127.0.0.1",
            ),
            (
                "http://192.168.1.2:53682/callback",
                "plain http on 127.0.0.1",
            ),
            ("http://[::1]:53682/callback", "plain http on 127.0.0.1"),
            ("http://127.0.0.1/callback", "a port other than 0"),
            ("http://127.0.0.1:0/callback", "a port other than 0"),
            (
                "http://127.0.0.1:53682/cb?x=1",
                "no query, fragment or user",
            ),
            ("http://u@127.0.0.1:53682/cb", "no query, fragment or user"),
        ] {
            let e = RedirectUri::parse(bad).unwrap_err();
            assert_eq!(e.kind(), Kind::Redirect);
            assert!(e.problem().contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn built_redirects_follow_the_same_rules() {
        for bad in [
            RedirectUri::PrivateScheme(url("https://evil.example/cb")),
            RedirectUri::PrivateScheme(url("portico:/callback")),
            RedirectUri::PrivateScheme(url("dev.portico.app:/callback?x=1")),
            RedirectUri::Loopback {
                path: "callback".into(),
                port: None,
            },
            RedirectUri::Loopback {
                path: "/cb#x".into(),
                port: None,
            },
            RedirectUri::Loopback {
                path: "/cb".into(),
                port: Some(0),
            },
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
        assert!(RedirectUri::parse("loopback:callback").is_err());
        assert!(RedirectUri::parse("dev.portico.app:/cb#f").is_err());
    }

    #[test]
    fn serde_of_a_redirect_without_a_port_is_unchanged() {
        let r = RedirectUri::Loopback {
            path: "/callback".into(),
            port: None,
        };
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(json, r#"{"loopback":{"path":"/callback"}}"#);
        assert_eq!(serde_json::from_str::<RedirectUri>(&json).unwrap(), r);
    }

    #[test]
    fn post_logout_redirect_has_no_fragment() {
        check_post_logout_redirect(&url("https://app.example.com/bye")).unwrap();
        assert!(check_post_logout_redirect(&url("https://app.example.com/bye#x")).is_err());
    }
}
