//! The loopback redirect of RFC 8252 §7.3: a one-shot HTTP listener on 127.0.0.1 that receives
//! the provider's redirect for providers that cannot use a custom URI scheme.

use std::net::SocketAddr;

use axum::extract::{OriginalUri, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};
use tokio::sync::{mpsc, oneshot};
use url::Url;

/// A bound listener waiting for one redirect.
pub struct LoopbackRedirect {
    redirect_uri: Url,
    received: mpsc::Receiver<Url>,
    stop: Option<oneshot::Sender<()>>,
}

#[derive(Clone)]
struct Shared {
    path: String,
    port: u16,
    tx: mpsc::Sender<Url>,
}

impl LoopbackRedirect {
    /// Bind `127.0.0.1` (never a wildcard address) on `port`, or on a port the OS picks when
    /// `None`, and serve `path`.
    pub async fn bind(path: &str, port: Option<u16>) -> std::io::Result<LoopbackRedirect> {
        let listener =
            tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port.unwrap_or(0))))
                .await?;
        let port = listener.local_addr()?.port();
        let redirect_uri = Url::parse(&format!("http://127.0.0.1:{port}{path}"))
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let (tx, received) = mpsc::channel(4);
        let (stop, stopped) = oneshot::channel::<()>();
        let shared = Shared {
            path: path.to_string(),
            port,
            tx,
        };
        let app = axum::Router::new().fallback(handle).with_state(shared);
        tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(error) = serve.await {
                tracing::warn!(%error, "loopback redirect listener failed");
            }
        });
        Ok(LoopbackRedirect {
            redirect_uri,
            received,
            stop: Some(stop),
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
}

impl Drop for LoopbackRedirect {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn handle(State(shared): State<Shared>, OriginalUri(uri): OriginalUri) -> impl IntoResponse {
    if uri.path() != shared.path {
        return (
            StatusCode::NOT_FOUND,
            Html(page("Not found", "Nothing here.")),
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
}
