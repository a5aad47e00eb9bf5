//! Interactive sign-in through the system browser (RFC 8252): open the authorize URL, take the
//! callback by deep link (handed over by the host) or on a loopback listener, hand it to the
//! broker. Forged or stale callbacks are refused by the broker and shown as a warning.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use portico_broker::{AuthError, RedirectUri};
use portico_shell_core::config::BrowserHandoff;
use portico_shell_core::handoff::{Handoff, HandoffEvent, OnEvent};
use portico_shell_core::loopback::LoopbackRedirect;
use portico_types::sync::lock;
use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_opener::OpenerExt;
use tokio::sync::oneshot;

use crate::desktop::Portico;
use crate::models::LoginPhase;

/// Open a URL in the user's browser: the configured browser command (`PORTICO_BROWSER`,
/// `browser`, `$BROWSER`; the URL is appended as the last argument) or the desktop default
/// (through the opener plugin, which the host registers).
pub(crate) fn open_in_browser<R: Runtime>(app: &AppHandle<R>, portico: &Portico, url: &str) {
    if let Some(command) = portico.config().browser.clone() {
        let mut parts = command.split_whitespace();
        if let Some(program) = parts.next() {
            match std::process::Command::new(program)
                .args(parts)
                .arg(url)
                .spawn()
            {
                // Reap it in the background; its exit status is not ours to judge.
                Ok(mut child) => {
                    std::thread::spawn(move || child.wait());
                }
                Err(error) => tracing::error!(%error, %program, "browser command failed to start"),
            }
            return;
        }
    }
    if let Err(error) = app.opener().open_url(url, None::<&str>) {
        tracing::error!(%error, "could not open the system browser");
    }
}

/// What a URL with secrets is opened for: it decides what a second taker of its handoff costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Secrets {
    /// A sign-in or step-up (`state`, `nonce`, code challenge or PAR `request_uri`): stopped.
    SignIn,
    /// The provider's logout page (`id_token_hint`): the session is already gone; logged.
    SignOut,
}

/// How long a sign-out's handoff URL answers: the browser takes it at once.
const SIGN_OUT_HANDOFF: Duration = Duration::from_secs(120);

/// Open a URL that carries secrets (issue 15.7): the browser is started on a one-use loopback
/// URL that forwards to it (`browserHandoff: loopback`, the default), so the secrets are on no
/// command line. If that URL is fetched a second time, someone else had it too: a sign-in or
/// step-up in progress is stopped (what they read is then worth nothing) and the person is told.
pub(crate) async fn open_with_secrets<R: Runtime>(
    app: &AppHandle<R>,
    portico: &Arc<Portico>,
    url: &url::Url,
    secrets: Secrets,
    expires_at: SystemTime,
) {
    if portico.config().browser_handoff == BrowserHandoff::Direct {
        open_in_browser(app, portico, url.as_str());
        return;
    }
    let weak = Arc::downgrade(portico);
    let on_event: OnEvent = Arc::new(move |event| {
        if event != HandoffEvent::TakenAgain {
            return;
        }
        let Some(portico) = weak.upgrade() else {
            return;
        };
        if secrets == Secrets::SignIn && portico.broker().pending_login() {
            tracing::warn!("the sign-in's handoff URL was fetched twice; sign-in stopped");
            cancel(&portico);
            portico.warn(
                "The sign-in page was opened twice, perhaps by another program on this computer, \
                 so Portico stopped this sign-in to keep it safe. Sign in again."
                    .to_owned(),
            );
        } else {
            tracing::warn!(
                ?secrets,
                "a handoff URL was fetched again after its one use"
            );
        }
    });
    let ttl = expires_at
        .duration_since(SystemTime::now())
        .unwrap_or_default();
    match Handoff::start(url, ttl, on_event).await {
        Ok(handoff) => {
            open_in_browser(app, portico, handoff.url().as_str());
            // Kept until the next one replaces (and so closes) it, its own deadline closes it,
            // or the sign-in it serves ends.
            *lock(&portico.handoff) = Some(handoff);
        }
        Err(error) => {
            // A sign-in the browser cannot reach is worse than the command line it avoids.
            tracing::warn!(%error, "cannot serve the browser handoff on loopback; the browser gets the URL as its argument");
            open_in_browser(app, portico, url.as_str());
        }
    }
}

fn redirect(portico: &Portico) -> RedirectUri {
    portico
        .config()
        .provider
        .as_ref()
        .map(|p| p.redirect().clone())
        .unwrap_or(RedirectUri::Loopback {
            path: "/callback".into(),
            port: None,
        })
}

/// Start (or restart) a sign-in and open the browser on the provider.
pub(crate) async fn sign_in<R: Runtime>(
    app: AppHandle<R>,
    portico: Arc<Portico>,
) -> Result<(), AuthError> {
    let broker = portico.broker();
    // A new sign-in replaces the one in progress: its listener closes first, so a fixed port is
    // free to bind again.
    close_sign_in_servers(&portico).await;
    let request = match &redirect(&portico) {
        RedirectUri::PrivateScheme(_) => broker.begin_login(None).await?,
        RedirectUri::Loopback { path, port } => {
            let listener = LoopbackRedirect::bind(path, *port)
                .await
                .map_err(|e| bind_error(&e, *port))?;
            let request = broker
                .begin_login(Some(listener.redirect_uri().clone()))
                .await?;
            serve(&app, &portico, listener, request.expires_at);
            request
        }
    };
    portico.set_login_phase(LoginPhase::Pending);
    open_with_secrets(
        &app,
        &portico,
        &request.authorize_url,
        Secrets::SignIn,
        request.expires_at,
    )
    .await;
    Ok(())
}

fn bind_error(e: &std::io::Error, port: Option<u16>) -> AuthError {
    let reason = match port {
        Some(port) if e.kind() == std::io::ErrorKind::AddrInUse => {
            format!("the sign-in redirect port 127.0.0.1:{port} is in use by another program")
        }
        Some(port) => format!("cannot listen on 127.0.0.1:{port} for the sign-in redirect: {e}"),
        None => format!("cannot listen on loopback for the redirect: {e}"),
    };
    AuthError::Internal { reason }
}

/// The loopback listener of the sign-in in progress.
pub(crate) struct LoopbackListener {
    /// Sending (or dropping) closes the listener.
    stop: oneshot::Sender<()>,
    /// Ends once the port is closed.
    served: tauri::async_runtime::JoinHandle<()>,
}

/// Hands every request on the redirect path to the broker (which takes only the pending
/// sign-in's callback) until that sign-in completes, is cancelled or replaced, or expires; the
/// port closes then.
fn serve<R: Runtime>(
    app: &AppHandle<R>,
    portico: &Arc<Portico>,
    listener: LoopbackRedirect,
    expires_at: SystemTime,
) {
    let left = expires_at
        .duration_since(SystemTime::now())
        .unwrap_or_default();
    let deadline = tokio::time::Instant::now() + left;
    let (stop, stopped) = oneshot::channel();
    let (app2, portico2) = (app.clone(), portico.clone());
    let served = tauri::async_runtime::spawn(async move {
        let ended = listener
            .serve_until(deadline, stopped, |url| {
                let (app, portico) = (app2.clone(), portico2.clone());
                async move {
                    handle_callback(&app, &portico, url.as_str()).await;
                    portico.broker().pending_login()
                }
            })
            .await;
        tracing::debug!(?ended, "loopback redirect listener closed");
    });
    *lock(&portico.loopback) = Some(LoopbackListener { stop, served });
}

/// Closes what the sign-in in progress serves: its browser handoff, and its loopback listener,
/// if any, waiting until that port is free. Never called from the listener's own task (it
/// would wait for itself).
async fn close_sign_in_servers(portico: &Portico) {
    lock(&portico.handoff).take();
    let taken = lock(&portico.loopback).take();
    if let Some(LoopbackListener { stop, served }) = taken {
        let _ = stop.send(());
        let _ = served.await;
    }
}

pub(crate) fn cancel(portico: &Portico) {
    portico.broker().cancel_login();
    lock(&portico.handoff).take();
    // The listener closes on its own task; nothing here waits for it.
    if let Some(listener) = lock(&portico.loopback).take() {
        let _ = listener.stop.send(());
    }
    portico.set_login_phase(LoginPhase::Idle);
}

/// A URL that came back from the browser (deep link or loopback request).
pub(crate) async fn handle_callback<R: Runtime>(
    app: &AppHandle<R>,
    portico: &Arc<Portico>,
    url: &str,
) {
    let broker = portico.broker();
    if broker.pending_login() {
        portico.set_login_phase(LoginPhase::Completing);
    }
    let result = broker.complete_login(url).await;
    let phase = if broker.pending_login() {
        LoginPhase::Pending
    } else {
        LoginPhase::Idle
    };
    portico.set_login_phase(phase);
    match result {
        Ok(_) => {
            tracing::info!("signed in");
            if !broker.pending_login() {
                lock(&portico.handoff).take();
            }
            focus_host(app);
        }
        Err(AuthError::StorageUnavailable { reason }) => {
            // Signed in for this run; nothing was written anywhere else.
            portico.warn(format!(
                "Signed in, but the system keyring is unavailable ({reason}). \
                 The session is kept in memory only and you will have to sign in again next time."
            ));
        }
        Err(
            e @ (AuthError::StateMismatch
            | AuthError::InvalidCallback { .. }
            | AuthError::IssuerMismatch
            | AuthError::NoPendingLogin
            | AuthError::LoginCancelled),
        ) => {
            portico.warn(format!("Ignored a sign-in response. {e}"));
        }
        Err(e) => {
            portico.warn(format!("Sign-in failed: {e}"));
            portico.report_error(&e);
        }
    }
}

/// Back from the browser: bring the host's window (`main`, else the first one) to the front.
fn focus_host<R: Runtime>(app: &AppHandle<R>) {
    let windows = app.windows();
    let window = windows
        .get("main")
        .or_else(|| windows.values().next())
        .cloned();
    if let Some(w) = window {
        let _ = w.unminimize();
        let _ = w.set_focus();
    }
}

pub(crate) async fn sign_out<R: Runtime>(
    app: AppHandle<R>,
    portico: Arc<Portico>,
) -> Result<(), AuthError> {
    close_sign_in_servers(&portico).await;
    let end_session = portico.broker().logout().await?;
    portico.push_state();
    portico.push_token_status();
    if let Some(url) = end_session {
        let until = SystemTime::now() + SIGN_OUT_HANDOFF;
        open_with_secrets(&app, &portico, &url, Secrets::SignOut, until).await;
    }
    Ok(())
}
