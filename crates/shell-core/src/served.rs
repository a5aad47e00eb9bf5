//! An axum app on a bound listener, served until its handle is dropped (or its deadline
//! passes): the bundled MFE hosts and the browser handoff both live exactly that long. (The
//! loopback redirect aborts its task instead, so callbacks already accepted get their answer.)

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Serving until dropped.
pub(crate) struct Served {
    stop: Option<oneshot::Sender<()>>,
}

impl Served {
    /// Serve `app` on `listener` (handlers may read the peer's address, `ConnectInfo`) until the
    /// handle is dropped or `deadline` has passed; a failure is logged as "`what` failed".
    pub(crate) fn spawn(
        listener: TcpListener,
        app: axum::Router,
        deadline: Option<Duration>,
        what: &'static str,
    ) -> Served {
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let serve = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            let outcome = match deadline {
                // Past the deadline the port closes, whoever still holds its URL.
                Some(ttl) => tokio::time::timeout(ttl, serve).await.unwrap_or(Ok(())),
                None => serve.await,
            };
            if let Err(error) = outcome {
                tracing::warn!(%error, "{what} failed");
            }
        });
        Served { stop: Some(stop) }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
