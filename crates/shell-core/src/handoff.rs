//! Handing a URL that carries secrets (an authorization request's `state`, `nonce` and code
//! challenge, a PAR `request_uri`, a logout's `id_token_hint`) to the system browser without
//! putting it on a command line, where every local user can read it (`ps`, `/proc/*/cmdline`).
//!
//! The browser is started on a loopback URL with an unguessable path instead; that URL answers one
//! `GET` with `303 See Other` to the real one, so the secrets travel only inside the browser's own
//! HTTP exchange. The loopback URL is itself on a command line, so it is good for one use: a second
//! `GET` gets `410 Gone` and the owner is told ([`HandoffEvent::TakenAgain`]), since whoever came
//! first may not have been the browser — the sign-in is then stopped, and what the other party read
//! is worth nothing. On Linux a request from a program of another user is refused before it sees or
//! uses up anything (the kernel's socket table names the connecting socket's owner), so only
//! programs of the person's own user can race the browser. The desktop portal
//! (`org.freedesktop.portal.OpenURI`) is no cure here: it starts the browser with the URL on the
//! browser's own command line.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, OriginalUri, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use url::Url;

use crate::served::Served;

/// Where every handoff path starts (the scripted browser of the tests recognises it).
pub const PATH_PREFIX: &str = "/portico/handoff/";

/// What happened to a handoff URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandoffEvent {
    /// Its first `GET`: the browser (we hope) went on to the real URL.
    Taken,
    /// A further `GET` after the first: someone else had the URL too.
    TakenAgain,
}

/// Called on the server's task for every [`HandoffEvent`].
pub type OnEvent = Arc<dyn Fn(HandoffEvent) + Send + Sync>;

/// A loopback URL that forwards once to a secret-bearing URL, served until dropped (or until
/// its deadline, whichever is first).
pub struct Handoff {
    url: Url,
    _served: Served,
}

#[derive(Clone)]
struct Shared {
    /// Tells our user's programs from others'.
    users: crate::peer::SameUser,
    path: String,
    target: HeaderValue,
    taken: Arc<AtomicBool>,
    on_event: OnEvent,
}

impl Handoff {
    /// Serve a one-use forward to `target` on 127.0.0.1 for at most `ttl`.
    pub async fn start(target: &Url, ttl: Duration, on_event: OnEvent) -> std::io::Result<Handoff> {
        let path = format!("{PATH_PREFIX}{}", portico_broker::random_urlsafe(32));
        let target = HeaderValue::from_str(target.as_str())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let bound = listener.local_addr()?;
        let url = Url::parse(&format!("http://{bound}{path}"))
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let shared = Shared {
            users: crate::peer::SameUser::of(bound),
            path,
            target,
            taken: Arc::new(AtomicBool::new(false)),
            on_event,
        };
        let app = axum::Router::new().fallback(answer).with_state(shared);
        Ok(Handoff {
            url,
            _served: Served::spawn(listener, app, Some(ttl), "browser handoff"),
        })
    }

    /// The URL to start the browser with: `http://127.0.0.1:PORT/portico/handoff/<secret>`.
    pub fn url(&self) -> &Url {
        &self.url
    }
}

async fn answer(
    State(s): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let no_store = [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
    ];
    // Another user's program: refused before it can read or use up anything. Unknown owners
    // are let through (the one use still guards them): refusing the browser would be worse.
    if s.users.is_other(peer) {
        return (StatusCode::FORBIDDEN, no_store).into_response();
    }
    // Anything but the exact path is a guess; it learns nothing and counts for nothing.
    if uri.path() != s.path || uri.query().is_some() {
        return (StatusCode::NOT_FOUND, no_store).into_response();
    }
    // A link checker's HEAD must not use up the one forward.
    if method == Method::HEAD {
        return (StatusCode::NO_CONTENT, no_store).into_response();
    }
    if method != Method::GET {
        return (StatusCode::METHOD_NOT_ALLOWED, no_store).into_response();
    }
    if s.taken.swap(true, Ordering::SeqCst) {
        (s.on_event)(HandoffEvent::TakenAgain);
        let text = "This link was already opened once, perhaps by another program on this \
                    computer, so Portico stopped what it was for. Go back to Portico and try again.";
        return (
            StatusCode::GONE,
            no_store,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            )],
            text,
        )
            .into_response();
    }
    (s.on_event)(HandoffEvent::Taken);
    (
        StatusCode::SEE_OTHER,
        no_store,
        [(header::LOCATION, s.target.clone())],
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn recorder() -> (OnEvent, Arc<Mutex<Vec<HandoffEvent>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = Arc::clone(&seen);
        (Arc::new(move |e| s.lock().unwrap().push(e)), seen)
    }

    fn client() -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    const TARGET: &str =
        "https://idp.example.com/authorize?client_id=c&state=s3cret&nonce=n&code_challenge=x";

    #[tokio::test]
    async fn forwards_once_then_reports_a_second_taker() {
        let (on, seen) = recorder();
        let h = Handoff::start(&Url::parse(TARGET).unwrap(), Duration::from_secs(60), on)
            .await
            .unwrap();
        assert!(!h.url().as_str().contains("s3cret"));
        assert!(h.url().path().starts_with(PATH_PREFIX));
        // 32 random bytes, base64url: 43 characters nobody guesses.
        assert_eq!(h.url().path().len(), PATH_PREFIX.len() + 43);
        let c = client();
        let head = c.head(h.url().clone()).send().await.unwrap();
        assert_eq!(head.status(), 204, "HEAD does not use the forward up");
        let first = c.get(h.url().clone()).send().await.unwrap();
        assert_eq!(first.status(), 303);
        assert_eq!(first.headers()["location"], TARGET);
        assert_eq!(first.headers()["cache-control"], "no-store");
        assert_eq!(first.headers()["referrer-policy"], "no-referrer");
        let second = c.get(h.url().clone()).send().await.unwrap();
        assert_eq!(second.status(), 410);
        assert!(second.headers().get("location").is_none());
        assert!(!second.text().await.unwrap().contains("s3cret"));
        assert_eq!(
            *seen.lock().unwrap(),
            vec![HandoffEvent::Taken, HandoffEvent::TakenAgain]
        );
    }

    #[tokio::test]
    async fn a_guessed_path_learns_nothing_and_uses_nothing_up() {
        let (on, seen) = recorder();
        let h = Handoff::start(&Url::parse(TARGET).unwrap(), Duration::from_secs(60), on)
            .await
            .unwrap();
        let c = client();
        let mut other = h.url().clone();
        other.set_path(&format!("{PATH_PREFIX}guess"));
        let mut with_query = h.url().clone();
        with_query.set_query(Some("x=1"));
        let root = h.url().join("/").unwrap();
        for url in [other, with_query, root] {
            let r = c.get(url).send().await.unwrap();
            assert_eq!(r.status(), 404);
            assert!(r.headers().get("location").is_none());
        }
        let post = c.post(h.url().clone()).send().await.unwrap();
        assert_eq!(post.status(), 405);
        assert!(seen.lock().unwrap().is_empty());
        assert_eq!(c.get(h.url().clone()).send().await.unwrap().status(), 303);
    }

    #[tokio::test]
    async fn the_port_closes_when_dropped_and_at_the_deadline() {
        let (on, _) = recorder();
        let target = Url::parse(TARGET).unwrap();
        let h = Handoff::start(&target, Duration::from_secs(60), Arc::clone(&on))
            .await
            .unwrap();
        let url = h.url().clone();
        drop(h);
        let closed = async |url: &Url| {
            for _ in 0..100 {
                if client().get(url.clone()).send().await.is_err() {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            false
        };
        assert!(closed(&url).await, "closed once dropped");
        let h = Handoff::start(&target, Duration::from_millis(200), on)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(closed(h.url()).await, "closed at the deadline");
    }

    /// Another user's program gets 403 and uses nothing up (as user `nobody`, through `setpriv`).
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn another_users_request_is_refused_and_uses_nothing_up() {
        let (on, seen) = recorder();
        let h = Handoff::start(&Url::parse(TARGET).unwrap(), Duration::from_secs(60), on)
            .await
            .unwrap();
        let (port, path) = (h.url().port().unwrap(), h.url().path().to_owned());
        // Blocking, on its own thread: the server answers on this test's runtime.
        let reply =
            tokio::task::spawn_blocking(move || crate::peer::tests::get_as_nobody(port, &path))
                .await
                .unwrap();
        assert!(reply.starts_with("HTTP/1.1 403"), "{reply}");
        assert!(!reply.contains("s3cret"));
        assert!(seen.lock().unwrap().is_empty(), "nothing used up");
        let ours = client().get(h.url().clone()).send().await.unwrap();
        assert_eq!(ours.status(), 303);
    }
}
