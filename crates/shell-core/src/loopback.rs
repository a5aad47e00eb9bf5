//! The loopback redirect of RFC 8252 §7.3: an HTTP listener on 127.0.0.1 that receives the
//! provider's redirect for providers that cannot use a custom URI scheme. It lives exactly as long
//! as the sign-in it serves ([`LoopbackRedirect::serve_until`]) and hands on only a few requests
//! in a row ([`Limits`]), so forged requests from other local programs cost little.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{ConnectInfo, OriginalUri, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};
use portico_types::rate::TokenBucket;
use portico_types::sync::lock;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use url::Url;

/// How many requests on the redirect path are handed on. A real sign-in needs one; the rest are
/// forgeries, answered 429 and never validated.
pub use portico_types::rate::Limits;

/// The listener's default: 5 at once, then one more every 2 s.
pub const DEFAULT_LIMITS: Limits = Limits {
    burst: 5,
    refill: Duration::from_secs(2),
};

/// The bucket on tokio's clock, which tests can pause.
fn tokio_now() -> std::time::Instant {
    Instant::now().into_std()
}

/// Why [`LoopbackRedirect::serve_until`] stopped; the port is closed in every case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The handler said the sign-in is over (completed, or no longer pending).
    Done,
    /// Told to stop, or the stop handle was dropped: cancelled or replaced by a new sign-in.
    Stopped,
    /// The sign-in's deadline passed.
    Expired,
}

/// A bound listener waiting for the redirect.
pub struct LoopbackRedirect {
    redirect_uri: Url,
    received: mpsc::Receiver<Url>,
    server: Option<JoinHandle<()>>,
}

#[derive(Clone)]
struct Shared {
    /// Only programs of our own user may deliver (or forge) a callback.
    users: crate::peer::SameUser,
    path: String,
    port: u16,
    tx: mpsc::Sender<Url>,
    bucket: Arc<Mutex<TokenBucket>>,
}

impl LoopbackRedirect {
    /// Bind `127.0.0.1` (never a wildcard address) on `port`, or on a port the OS picks when
    /// `None`, and serve `path`, with the [`DEFAULT_LIMITS`].
    pub async fn bind(path: &str, port: Option<u16>) -> std::io::Result<LoopbackRedirect> {
        Self::bind_with(path, port, DEFAULT_LIMITS).await
    }

    /// [`LoopbackRedirect::bind`] with other limits.
    pub async fn bind_with(
        path: &str,
        port: Option<u16>,
        limits: Limits,
    ) -> std::io::Result<LoopbackRedirect> {
        let listener =
            tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port.unwrap_or(0))))
                .await?;
        let bound = listener.local_addr()?;
        let port = bound.port();
        let redirect_uri = Url::parse(&format!("http://127.0.0.1:{port}{path}"))
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let (tx, received) = mpsc::channel(4);
        let shared = Shared {
            users: crate::peer::SameUser::of(bound),
            path: path.to_string(),
            port,
            tx,
            bucket: Arc::new(Mutex::new(TokenBucket::new(limits, tokio_now()))),
        };
        let app = axum::Router::new().fallback(handle).with_state(shared);
        // Aborting this task drops the listening socket at once; connections already accepted
        // run in tasks of their own and still get their answer.
        let server = tokio::spawn(async move {
            let app = app.into_make_service_with_connect_info::<SocketAddr>();
            if let Err(error) = axum::serve(listener, app).await {
                tracing::warn!(%error, "loopback redirect listener failed");
            }
        });
        Ok(LoopbackRedirect {
            redirect_uri,
            received,
            server: Some(server),
        })
    }

    /// The `redirect_uri` to send at `/authorize`.
    pub fn redirect_uri(&self) -> &Url {
        &self.redirect_uri
    }

    /// The next request that reached the redirect path, as a full URL. The caller validates it;
    /// a rejected (forged) request does not end the wait, so the caller may call this again.
    pub async fn next(&mut self) -> Option<Url> {
        self.received.recv().await
    }

    /// Hands each request on the redirect path to `on_request` until it answers `false` (the
    /// sign-in is over), `stop` fires or its sender is dropped (the sign-in was cancelled or
    /// replaced), or `deadline` passes (it expired). Then closes the port and says why.
    pub async fn serve_until<F, Fut>(
        mut self,
        deadline: Instant,
        mut stop: oneshot::Receiver<()>,
        mut on_request: F,
    ) -> Ended
    where
        F: FnMut(Url) -> Fut,
        Fut: Future<Output = bool>,
    {
        let expiry = tokio::time::sleep_until(deadline);
        tokio::pin!(expiry);
        let ended = loop {
            tokio::select! {
                request = self.next() => match request {
                    Some(url) => {
                        if !on_request(url).await {
                            break Ended::Done;
                        }
                    }
                    None => break Ended::Done,
                },
                _ = &mut stop => break Ended::Stopped,
                _ = &mut expiry => break Ended::Expired,
            }
        };
        self.close().await;
        ended
    }

    /// Stops listening; once this returns the port is free to bind again.
    pub async fn close(mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
            let _ = server.await;
        }
    }
}

impl Drop for LoopbackRedirect {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

async fn handle(
    State(shared): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    OriginalUri(uri): OriginalUri,
) -> impl IntoResponse {
    // Another user's program: not counted, not handed on (the browser runs as our user).
    if shared.users.is_other(peer) {
        return (
            StatusCode::FORBIDDEN,
            Html(page(
                "Forbidden",
                "This sign-in listener answers only programs of the user who is signing in.",
            )),
        )
            .into_response();
    }
    if uri.path() != shared.path {
        return (
            StatusCode::NOT_FOUND,
            Html(page("Not found", "Nothing here.")),
        )
            .into_response();
    }
    let allowed = lock(&shared.bucket).take(tokio_now());
    if !allowed {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            Html(page(
                "Too many requests",
                "Portico's sign-in listener received more requests than a sign-in sends, and \
                 ignored this one. If you were signing in, start the sign-in again.",
            )),
        )
            .into_response();
    }
    let full = format!(
        "http://127.0.0.1:{}{}",
        shared.port,
        uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
    );
    let Ok(url) = Url::parse(&full) else {
        return (
            StatusCode::BAD_REQUEST,
            Html(page("Bad request", "Malformed redirect.")),
        )
            .into_response();
    };
    if shared.tx.send(url).await.is_err() {
        return (
            StatusCode::GONE,
            Html(page(
                "Sign-in closed",
                "Portico is no longer waiting for this sign-in.",
            )),
        )
            .into_response();
    }
    Html(page(
        "Back to Portico",
        "Sign-in received. You can close this tab and return to Portico.",
    ))
    .into_response()
}

fn page(title: &str, text: &str) -> String {
    format!(
        "<!doctype html><html><head><meta charset=utf-8><title>{title}</title></head>\
         <body style=\"font-family:system-ui,sans-serif;display:grid;place-items:center;height:90vh;color:#1f2937\">\
         <div><h1 style=\"font-weight:600\">{title}</h1><p>{text}</p></div></body></html>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn receives_the_redirect_on_its_path_only() {
        let mut lb = LoopbackRedirect::bind("/callback", None).await.unwrap();
        let base = lb.redirect_uri().clone();
        assert_eq!(base.host_str(), Some("127.0.0.1"));
        let other = reqwest::get(base.join("/favicon.ico").unwrap())
            .await
            .unwrap();
        assert_eq!(other.status(), 404);
        let hit = reqwest::get(format!("{base}?code=abc&state=xyz"))
            .await
            .unwrap();
        assert_eq!(hit.status(), 200);
        assert!(hit.text().await.unwrap().contains("return to Portico"));
        let got = lb.next().await.unwrap();
        assert_eq!(got.path(), "/callback");
        assert_eq!(got.query(), Some("code=abc&state=xyz"));
    }

    /// Another user's program is refused and counts for nothing: with a burst of one, the
    /// browser's callback after it still gets through (as user `nobody`, through `setpriv`).
    #[tokio::test]
    async fn another_users_request_is_refused_uncounted() {
        let one = Limits {
            burst: 1,
            refill: Duration::from_secs(3600),
        };
        let mut lb = LoopbackRedirect::bind_with("/callback", None, one)
            .await
            .unwrap();
        let port = lb.redirect_uri().port().unwrap();
        let reply = tokio::task::spawn_blocking(move || {
            crate::peer::tests::get_as_nobody(port, "/callback?code=forged&state=forged")
        })
        .await
        .unwrap();
        assert!(reply.starts_with("HTTP/1.1 403"), "{reply}");
        let hit = reqwest::get(format!("{}?code=c&state=s", lb.redirect_uri()))
            .await
            .unwrap();
        assert_eq!(hit.status(), 200);
        assert_eq!(lb.next().await.unwrap().query(), Some("code=c&state=s"));
    }

    #[tokio::test]
    async fn a_fixed_port_is_used_and_a_busy_one_is_an_error() {
        // A port the OS just handed out and took back is free for the fixed-port listener.
        let probe = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = probe.local_addr().unwrap().port();
        drop(probe);
        let mut lb = LoopbackRedirect::bind("/callback", Some(port))
            .await
            .unwrap();
        assert_eq!(
            lb.redirect_uri().as_str(),
            format!("http://127.0.0.1:{port}/callback")
        );
        let hit = reqwest::get(format!("{}?code=c&state=s", lb.redirect_uri()))
            .await
            .unwrap();
        assert_eq!(hit.status(), 200);
        assert_eq!(lb.next().await.unwrap().query(), Some("code=c&state=s"));
        let busy = LoopbackRedirect::bind("/callback", Some(port)).await;
        assert_eq!(
            busy.err().map(|e| e.kind()),
            Some(std::io::ErrorKind::AddrInUse)
        );
    }

    #[tokio::test]
    async fn stops_listening_when_dropped() {
        let lb = LoopbackRedirect::bind("/cb", None).await.unwrap();
        let url = lb.redirect_uri().clone();
        drop(lb);
        // Graceful shutdown is asynchronous: poll until the port refuses, bounded.
        let mut refused = false;
        for _ in 0..50 {
            if reqwest::get(url.clone()).await.is_err() {
                refused = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(refused, "listener still answering after drop");
    }

    /// Whether anything still accepts connections on `url`'s port.
    fn listening(url: &Url) -> bool {
        let port = url.port().expect("loopback URLs name their port");
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    }

    #[tokio::test]
    async fn a_flood_on_the_redirect_path_is_answered_429_after_the_burst() {
        let limits = Limits {
            burst: 3,
            refill: Duration::from_secs(3600),
        };
        let mut lb = LoopbackRedirect::bind_with("/callback", None, limits)
            .await
            .unwrap();
        let base = lb.redirect_uri().clone();
        let mut statuses = Vec::new();
        for i in 0..10 {
            let r = reqwest::get(format!("{base}?code=c&state=forged-{i}"))
                .await
                .unwrap();
            statuses.push(r.status().as_u16());
        }
        assert_eq!(statuses, [200, 200, 200, 429, 429, 429, 429, 429, 429, 429]);
        // Other paths are not counted: they never reach anyone.
        let other = reqwest::get(base.join("/favicon.ico").unwrap())
            .await
            .unwrap();
        assert_eq!(other.status(), 404);
        for i in 0..3 {
            let got = lb.next().await.unwrap();
            assert_eq!(
                got.query(),
                Some(format!("code=c&state=forged-{i}").as_str())
            );
        }
        assert!(
            lb.received.try_recv().is_err(),
            "nothing past the burst handed on"
        );
    }

    #[tokio::test]
    async fn serving_ends_and_the_port_closes_when_stopped_or_replaced() {
        // Stopped: the sign-in was cancelled.
        let lb = LoopbackRedirect::bind("/cb", None).await.unwrap();
        let url = lb.redirect_uri().clone();
        let (stop, stopped) = oneshot::channel();
        let serving = tokio::spawn(lb.serve_until(
            Instant::now() + Duration::from_secs(600),
            stopped,
            |_| async { true },
        ));
        assert!(listening(&url));
        stop.send(()).unwrap();
        assert_eq!(serving.await.unwrap(), Ended::Stopped);
        assert!(!listening(&url), "port still open after a cancel");

        // Replaced: the stop handle was dropped by a new sign-in.
        let lb = LoopbackRedirect::bind("/cb", None).await.unwrap();
        let url = lb.redirect_uri().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = tokio::spawn(lb.serve_until(
            Instant::now() + Duration::from_secs(600),
            stopped,
            |_| async { true },
        ));
        drop(stop);
        assert_eq!(serving.await.unwrap(), Ended::Stopped);
        assert!(!listening(&url));
    }

    #[tokio::test]
    async fn serving_ends_when_the_sign_in_is_over_and_a_fixed_port_can_be_bound_again() {
        let probe = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = probe.local_addr().unwrap().port();
        drop(probe);
        for round in 0..2 {
            let lb = LoopbackRedirect::bind("/cb", Some(port)).await.unwrap();
            let url = lb.redirect_uri().clone();
            let (_stop, stopped) = oneshot::channel::<()>();
            // The first request is forged (the wait goes on), the second completes.
            let mut seen = 0;
            let serving = tokio::spawn(lb.serve_until(
                Instant::now() + Duration::from_secs(600),
                stopped,
                move |_| {
                    seen += 1;
                    async move { seen < 2 }
                },
            ));
            for state in ["forged", "real"] {
                let r = reqwest::get(format!("{url}?code=c&state={state}"))
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200, "round {round}");
            }
            assert_eq!(serving.await.unwrap(), Ended::Done);
            assert!(
                !listening(&url),
                "round {round}: port still open after the sign-in"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn serving_ends_and_the_port_closes_when_the_sign_in_expires() {
        let lb = LoopbackRedirect::bind("/cb", None).await.unwrap();
        let url = lb.redirect_uri().clone();
        let (_stop, stopped) = oneshot::channel::<()>();
        let started = Instant::now();
        let ended = lb
            .serve_until(started + Duration::from_secs(600), stopped, |_| async {
                true
            })
            .await;
        assert_eq!(ended, Ended::Expired);
        // The paused clock jumps straight to the deadline: this takes no real time.
        assert!(started.elapsed() >= Duration::from_secs(600));
        assert!(!listening(&url));
    }
}
