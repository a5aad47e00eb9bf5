//! Network addresses: which URLs stay on this machine.

use url::{Host, Url};

/// Whether the URL's host is a loopback address or `localhost`: where plain `http` crosses no
/// network, so a configuration may use it.
///
/// ```
/// use portico_types::net::is_loopback;
/// assert!(is_loopback(&"http://localhost:8400/".parse().unwrap()));
/// assert!(!is_loopback(&"http://example.com/".parse().unwrap()));
/// ```
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        // DNS names are case-insensitive; `url` lowercases them only for special schemes.
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        _ => is_loopback_ip(url),
    }
}

/// Whether the URL's host is a loopback IP literal (`127.0.0.0/8`, `[::1]`). `localhost` is not
/// one: a name may resolve elsewhere, which is why loopback redirects (RFC 8252 §7.3, §8.3) use
/// literals.
///
/// ```
/// use portico_types::net::is_loopback_ip;
/// assert!(is_loopback_ip(&"http://127.0.0.1:53123/callback".parse().unwrap()));
/// assert!(!is_loopback_ip(&"http://localhost:53123/callback".parse().unwrap()));
/// ```
pub fn is_loopback_ip(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(_)) | None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn loopback_ip_literals_of_both_families() {
        for u in [
            "http://127.0.0.1/",
            "http://127.1.2.3:8080/x",
            "http://[::1]:53123/callback",
            "https://127.0.0.1/",
        ] {
            assert!(is_loopback_ip(&url(u)), "{u}");
            assert!(is_loopback(&url(u)), "{u}");
        }
    }

    #[test]
    fn localhost_is_loopback_but_not_an_ip_literal() {
        for u in [
            "http://localhost/",
            "http://LOCALHOST:8400/",
            "x-app://LocalHost/path",
        ] {
            assert!(is_loopback(&url(u)), "{u}");
            assert!(!is_loopback_ip(&url(u)), "{u}");
        }
    }

    #[test]
    fn everything_else_is_not() {
        for u in [
            "http://10.0.0.1/",
            "http://[::ffff:127.0.0.1]/",
            "http://localhost.example.com/",
            "http://127.0.0.1.nip.io/",
            "http://example.com/",
            "dev.portico.app:/callback",
            "mailto:someone@localhost",
        ] {
            assert!(!is_loopback(&url(u)), "{u}");
            assert!(!is_loopback_ip(&url(u)), "{u}");
        }
    }
}
