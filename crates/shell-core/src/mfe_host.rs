//! Serves bundled micro frontends, each on a loopback origin of its own (its own loopback host
//! and port), so the browser keeps them apart exactly as it would keep remote MFEs apart: the
//! same-origin policy for storage, and the host for cookies, which ignore ports.
//! Files come from an injected asset source (the app's embedded assets in the shell).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{OriginalUri, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use url::Url;

use crate::served::Served;

/// Looks up an embedded file by its path below `ui/web` (e.g. `mfes/billing/index.html`).
pub type AssetSource = Arc<dyn Fn(&str) -> Option<Vec<u8>> + Send + Sync>;

/// The path under which every MFE origin serves the Portico client module.
pub const CLIENT_PATH: &str = "/_portico/client.js";
/// Where the client module is in the embedded assets.
pub const CLIENT_ASSET: &str = "_portico/client.js";

/// One MFE's origin, running until dropped.
pub struct MfeHost {
    origin: Url,
    _served: Served,
}

#[derive(Clone)]
struct Site {
    folder: String,
    assets: AssetSource,
    /// The `Content-Security-Policy` every file of the site is sent with.
    policy: HeaderValue,
}

/// The Content Security Policy a bundled MFE is served with (issue 15.8): scripts, styles and
/// everything else from its own origin only, no inline script, no plugins, not framable, and
/// network access to its own origin, the shell's IPC and the API origins it was given — so an
/// injected script cannot load code from elsewhere or send what it reads to a server of its
/// choosing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContentPolicy {
    connect: Vec<String>,
}

impl ContentPolicy {
    /// Allows `fetch`/XHR/WebSocket to `origin` (e.g. the MFE's API). Only the URL's origin
    /// counts; a URL that has none (`data:`, opaque) adds nothing.
    pub fn connect_to(mut self, url: &Url) -> Self {
        let origin = url.origin();
        if origin.is_tuple() {
            let o = origin.ascii_serialization();
            if !self.connect.contains(&o) {
                self.connect.push(o);
            }
        }
        self
    }

    /// The header value.
    pub fn header(&self) -> String {
        // `ipc:` and `http://ipc.localhost` are Tauri's IPC transports (custom protocol on
        // Linux/macOS, the http form on Windows); without them invoke falls back to
        // postMessage, which still works but is slower.
        let mut connect = vec!["'self'", "ipc:", "http://ipc.localhost"];
        connect.extend(self.connect.iter().map(String::as_str));
        format!(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             font-src 'self'; connect-src {}; object-src 'none'; base-uri 'none'; \
             form-action 'none'; frame-ancestors 'none'",
            connect.join(" ")
        )
    }
}

/// FNV-1a: the same number from every build (std's hasher promises no such thing).
fn fnv1a(key: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in key.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// The ports a bundled MFE tries, the same in every run, so its origin — and with it what the
/// page stored (localStorage, IndexedDB) — is its own again after a restart, and no other MFE
/// is ever handed that origin. Derived from `key` (the app's identifier and the MFE's id) into
/// 20000–29999, below Linux's ephemeral range (32768–60999) where the OS picks ports for others;
/// four in a row, for the rare key that lands on a port in use.
pub fn preferred_ports(key: &str) -> [u16; 4] {
    let first = fnv1a(key) % 10_000;
    [0, 1, 2, 3].map(|i| 20_000 + ((first + i) % 10_000) as u16)
}

/// The loopback host a bundled MFE is served on, the same in every run: cookies are kept per
/// host and ignore ports (RFC 6265 §8.5), so MFEs that differed only by port on 127.0.0.1 could
/// read and overwrite each other's cookies. The whole of 127.0.0.0/8 is loopback on Linux with
/// no setup, and browsers treat all of it as a potentially trustworthy origin. Never
/// 127.0.0.0/16 (where 127.0.0.1 and whatever else listens on loopback usually are) and never
/// a network or broadcast-looking last byte.
pub fn preferred_host(key: &str) -> Ipv4Addr {
    let h = fnv1a(&format!("{key}\u{0}host"));
    let [a, b, c, _] = h.to_be_bytes();
    Ipv4Addr::new(127, 1 + a % 254, b, 1 + c % 254)
}

/// Where a bundled MFE is served: its own loopback host and the ports it tries there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HomeAddress {
    pub host: Ipv4Addr,
    pub ports: [u16; 4],
}

/// The home addresses of bundled MFEs, one per key, in order: [`preferred_host`] and
/// [`preferred_ports`] of the key, except that a host already given to an earlier key is never
/// given again (the next candidate of the later key is taken), so no two MFEs of one app share
/// a cookie jar. Stable as long as the keys and their order are.
pub fn home_addresses(keys: &[String]) -> Vec<HomeAddress> {
    let mut taken = std::collections::HashSet::new();
    keys.iter()
        .map(|key| {
            let mut candidate = key.clone();
            let mut host = preferred_host(&candidate);
            while !taken.insert(host) {
                candidate.push('+');
                host = preferred_host(&candidate);
            }
            HomeAddress {
                host,
                ports: preferred_ports(key),
            }
        })
        .collect()
}

impl MfeHost {
    /// Serve `folder` (relative to `ui/web`) on `127.0.0.1:0` under the default policy (own
    /// origin and IPC only).
    pub async fn start(folder: &str, assets: AssetSource) -> std::io::Result<MfeHost> {
        Self::start_with(folder, assets, &ContentPolicy::default()).await
    }

    /// Serve `folder` (relative to `ui/web`) on `127.0.0.1:0` under `policy`.
    pub async fn start_with(
        folder: &str,
        assets: AssetSource,
        policy: &ContentPolicy,
    ) -> std::io::Result<MfeHost> {
        let home = HomeAddress {
            host: Ipv4Addr::LOCALHOST,
            ports: [0; 4],
        };
        Self::start_on(folder, assets, policy, &home).await
    }

    /// Serve `folder` under `policy` on `home`'s host, on the first of its ports that is free
    /// there (see [`home_addresses`]), else on a port the OS picks on that host: then the origin
    /// differs from earlier runs and so does the page's stored data, but its cookies stay its own.
    pub async fn start_on(
        folder: &str,
        assets: AssetSource,
        policy: &ContentPolicy,
        home: &HomeAddress,
    ) -> std::io::Result<MfeHost> {
        let mut bound = None;
        for port in home.ports.iter().filter(|p| **p != 0) {
            if let Ok(l) = tokio::net::TcpListener::bind(SocketAddr::from((home.host, *port))).await
            {
                bound = Some(l);
                break;
            }
        }
        let listener = match bound {
            Some(l) => l,
            None => {
                if home.ports.iter().any(|p| *p != 0) {
                    tracing::warn!(
                        %folder,
                        host = %home.host,
                        ports = ?home.ports,
                        "the micro frontend's own ports are taken; it gets another origin this run, without the data it stored before"
                    );
                }
                tokio::net::TcpListener::bind(SocketAddr::from((home.host, 0))).await?
            }
        };
        let bound = listener.local_addr()?;
        let origin = Url::parse(&format!("http://{bound}/"))
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let policy = HeaderValue::from_str(&policy.header())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let site = Site {
            folder: folder.trim_end_matches('/').to_string(),
            assets,
            policy,
        };
        let app = axum::Router::new().fallback(serve_file).with_state(site);
        Ok(MfeHost {
            origin,
            _served: Served::spawn(listener, app, None, "micro frontend host"),
        })
    }

    /// `http://HOST:PORT/`: the page to load and the origin to pin the webview to.
    pub fn url(&self) -> &Url {
        &self.origin
    }
}

async fn serve_file(State(site): State<Site>, OriginalUri(uri): OriginalUri) -> Response {
    let path = uri.path();
    let asset = if path == CLIENT_PATH {
        CLIENT_ASSET.to_string()
    } else {
        let rel = path.trim_start_matches('/');
        let rel = if rel.is_empty() || rel.ends_with('/') {
            format!("{rel}index.html")
        } else {
            rel.to_string()
        };
        // Percent-encoded or dotted segments never name an embedded file; refuse them outright.
        if rel
            .split('/')
            .any(|s| s.is_empty() || s == ".." || s == "." || s.contains('%'))
        {
            return (StatusCode::BAD_REQUEST, "bad path").into_response();
        }
        format!("{}/{rel}", site.folder)
    };
    match (site.assets)(&asset) {
        Some(bytes) => {
            let mut resp = bytes.into_response();
            let headers = resp.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(mime_for(&asset)),
            );
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            headers.insert(
                "x-content-type-options",
                HeaderValue::from_static("nosniff"),
            );
            headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
            headers.insert("content-security-policy", site.policy.clone());
            resp
        }
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

fn mime_for(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assets() -> AssetSource {
        Arc::new(|p: &str| match p {
            "mfes/billing/index.html" => Some(b"<h1>billing</h1>".to_vec()),
            "mfes/billing/main.js" => Some(b"export {}".to_vec()),
            "_portico/client.js" => Some(b"export const getToken = 1".to_vec()),
            _ => None,
        })
    }

    #[tokio::test]
    async fn serves_its_folder_and_the_client_on_its_own_origin() {
        let a = MfeHost::start("mfes/billing", assets()).await.unwrap();
        let b = MfeHost::start("mfes/billing", assets()).await.unwrap();
        assert_ne!(
            a.url().port(),
            b.url().port(),
            "each host is its own origin"
        );
        let index = reqwest::get(a.url().clone()).await.unwrap();
        assert_eq!(index.headers()["content-type"], "text/html; charset=utf-8");
        assert_eq!(index.text().await.unwrap(), "<h1>billing</h1>");
        let js = reqwest::get(a.url().join("main.js").unwrap())
            .await
            .unwrap();
        assert_eq!(
            js.headers()["content-type"],
            "text/javascript; charset=utf-8"
        );
        let client = reqwest::get(a.url().join(CLIENT_PATH).unwrap())
            .await
            .unwrap();
        assert_eq!(client.text().await.unwrap(), "export const getToken = 1");
    }

    #[tokio::test]
    async fn every_file_is_sent_with_the_content_policy_naming_its_apis() {
        let api = Url::parse("http://127.0.0.1:4321/billing/data?x=1").unwrap();
        let policy = ContentPolicy::default()
            .connect_to(&api)
            .connect_to(&api)
            .connect_to(&Url::parse("data:text/plain,x").unwrap());
        let a = MfeHost::start_with("mfes/billing", assets(), &policy)
            .await
            .unwrap();
        for path in ["", "main.js", CLIENT_PATH] {
            let resp = reqwest::get(a.url().join(path).unwrap()).await.unwrap();
            let csp = resp.headers()["content-security-policy"].to_str().unwrap();
            assert!(csp.contains("script-src 'self';"), "{csp}");
            assert!(
                !csp.contains("unsafe-inline") && !csp.contains('*'),
                "{csp}"
            );
            assert!(
                csp.contains("connect-src 'self' ipc: http://ipc.localhost http://127.0.0.1:4321;"),
                "only the API's origin, once: {csp}"
            );
            assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        }
        let plain = MfeHost::start("mfes/billing", assets()).await.unwrap();
        let resp = reqwest::get(plain.url().clone()).await.unwrap();
        assert!(resp.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("connect-src 'self' ipc: http://ipc.localhost;"));
    }

    #[tokio::test]
    async fn refuses_traversal_and_unknown_files() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let a = MfeHost::start("mfes/billing", assets()).await.unwrap();
        let missing = reqwest::get(a.url().join("nope.js").unwrap())
            .await
            .unwrap();
        assert_eq!(missing.status(), 404);
        // HTTP clients normalise `%2e%2e` away, so speak raw HTTP to send it as an attacker would.
        let addr = format!("127.0.0.1:{}", a.url().port().unwrap());
        let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
        conn.write_all(b"GET /%2e%2e/secret HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut reply = String::new();
        conn.read_to_string(&mut reply).await.unwrap();
        assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    }

    #[test]
    fn preferred_ports_are_stable_distinct_per_key_and_below_the_ephemeral_range() {
        let billing = preferred_ports("dev.portico.app/billing");
        assert_eq!(billing, preferred_ports("dev.portico.app/billing"));
        assert_ne!(billing[0], preferred_ports("dev.portico.app/dashboard")[0]);
        assert_ne!(billing[0], preferred_ports("com.example.other/billing")[0]);
        for key in ["a", "dev.portico.app/analytics", "\u{1F600}", ""] {
            assert!(preferred_ports(key)
                .iter()
                .all(|p| (20_000..30_000).contains(p)));
        }
        // A fixed value: a change here would move every installed MFE to a new origin.
        assert_eq!(billing, [21395, 21396, 21397, 21398]);
    }

    #[test]
    fn preferred_hosts_are_stable_loopback_and_away_from_127_0() {
        let billing = preferred_host("dev.portico.app/billing");
        assert_eq!(billing, preferred_host("dev.portico.app/billing"));
        assert_ne!(billing, preferred_host("dev.portico.app/dashboard"));
        for i in 0..2000 {
            let h = preferred_host(&format!("k{i}"));
            let [_, b, _, d] = h.octets();
            assert!(h.is_loopback());
            assert_ne!(b, 0, "{h} is in 127.0.0.0/16");
            assert!(d != 0 && d != 255, "{h}");
        }
        // A fixed value: a change here would move every installed MFE to a new origin.
        assert_eq!(billing, Ipv4Addr::new(127, 126, 126, 132));
    }

    #[test]
    fn home_addresses_never_share_a_host_within_one_app() {
        // Find two keys whose preferred hosts collide, as two MFE ids one day will.
        let mut seen = std::collections::HashMap::new();
        let (first, second) = (0..200_000)
            .map(|i| format!("app/mfe{i}"))
            .find_map(|k| {
                let h = preferred_host(&k);
                seen.insert(h, k.clone()).map(|earlier| (earlier, k))
            })
            .expect("a collision among 200 000 keys in 16 M hosts");
        let homes = home_addresses(&[first.clone(), second.clone()]);
        assert_eq!(homes[0].host, preferred_host(&first));
        assert_ne!(homes[0].host, homes[1].host);
        assert_eq!(homes[1].ports, preferred_ports(&second));
        assert_eq!(homes, home_addresses(&[first, second]), "stable");
    }

    #[tokio::test]
    async fn an_mfe_takes_its_first_free_preferred_port_else_any_on_its_own_host() {
        let host = preferred_host("dev.portico.app/billing");
        let probe = std::net::TcpListener::bind((host, 0)).unwrap();
        let busy = probe.local_addr().unwrap().port();
        let free = {
            let p = std::net::TcpListener::bind((host, 0)).unwrap();
            p.local_addr().unwrap().port()
        };
        let policy = ContentPolicy::default();
        let home = HomeAddress {
            host,
            ports: [busy, free, busy, busy],
        };
        let a = MfeHost::start_on("mfes/billing", assets(), &policy, &home)
            .await
            .unwrap();
        assert_eq!(a.url().host_str(), Some(host.to_string().as_str()));
        assert_eq!(a.url().port(), Some(free));
        let b = MfeHost::start_on("mfes/billing", assets(), &policy, &home)
            .await
            .unwrap();
        let port = b.url().port().unwrap();
        assert!(
            port != busy && port != free,
            "fell back to a port of the OS's choosing"
        );
        assert_eq!(
            b.url().host_str(),
            Some(host.to_string().as_str()),
            "on its own host still"
        );
        let page = reqwest::get(b.url().clone()).await.unwrap();
        assert_eq!(page.status(), 200);
        drop(probe);
    }
}
