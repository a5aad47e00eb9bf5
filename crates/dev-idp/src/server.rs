//! A small HTTP/1.1 accept loop around an axum `Router`. Own loop (not `axum::serve`) so a
//! handler can drop its connection without answering (the `DropConnection` fault) and so
//! shutdown closes keep-alive connections at once.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use tokio::task::{JoinHandle, JoinSet};
use tower::Service;

/// Request extension: the connection a request arrived on.
#[derive(Clone, Debug)]
pub(crate) struct ConnCtl {
    kill: Arc<Notify>,
    pub peer: SocketAddr,
}

impl ConnCtl {
    /// Close the socket; the response being built is never sent.
    pub fn drop_connection(&self) {
        self.kill.notify_one();
    }
}

/// A running server; dropping it asks the server to stop.
pub(crate) struct ServerHandle {
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl ServerHandle {
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            if let Err(e) = task.await {
                tracing::warn!(error = %e, "server task ended abnormally");
            }
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

pub(crate) fn spawn(listener: TcpListener, router: Router) -> ServerHandle {
    let (stop, mut stopped) = watch::channel(false);
    let conn_stop = stop.subscribe();
    let task = tokio::spawn(async move {
        let mut conns = JoinSet::new();
        loop {
            tokio::select! {
                _ = stopped.changed() => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        conns.spawn(serve_conn(stream, peer, router.clone(), conn_stop.clone()));
                    }
                    Err(e) => {
                        // E.g. out of file descriptors: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    }
                },
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
            }
        }
        conns.abort_all();
        while conns.join_next().await.is_some() {}
    });
    ServerHandle {
        stop,
        task: Some(task),
    }
}

async fn serve_conn(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    mut stop: watch::Receiver<bool>,
) {
    let kill = Arc::new(Notify::new());
    let ctl = ConnCtl {
        kill: Arc::clone(&kill),
        peer,
    };
    let svc = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ctl.clone());
        let mut router = router.clone();
        async move {
            let resp: Result<_, Infallible> = router.call(req).await;
            resp
        }
    });
    let conn =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc);
    tokio::select! {
        res = conn => {
            if let Err(e) = res {
                tracing::debug!(error = %e, %peer, "connection ended with error");
            }
        }
        // Dropping `conn` drops the socket: the peer sees EOF with no response.
        _ = kill.notified() => tracing::debug!(%peer, "connection dropped on purpose"),
        _ = stop.changed() => {}
    }
}
