//! IPC commands. Each one identifies its caller from the webview the call came from (label set
//! by the shell, origin of the page it shows), checks the registry, and calls the broker.
//! MFE webviews reach only the `mfe_*`/`get_token` commands (runtime capabilities per MFE);
//! the chrome reaches only the `shell_*` commands (capabilities/chrome.json).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use portico_broker::{Audience, AuthError, ScopeSet, TokenGrant};
use portico_shell_core::{AccessDenied, MfeEntry};
use serde_json::{json, Value};
use tauri::ipc::{Channel, Invoke, InvokeBody};
use tauri::{AppHandle, Manager, Runtime, State, Webview};

use crate::layout::{self, CHROME_LABEL};
use crate::state::Shell;

type ShellState<'a> = State<'a, Arc<Shell>>;

fn denied(e: AccessDenied) -> AuthError {
    tracing::warn!(reason = %e, "IPC call refused");
    match e {
        AccessDenied::ForbiddenAudience { audience, .. } => {
            AuthError::ForbiddenAudience { audience }
        }
        other => AuthError::NotPermitted {
            reason: other.to_string(),
        },
    }
}

fn internal(e: impl std::fmt::Display) -> AuthError {
    AuthError::Internal {
        reason: e.to_string(),
    }
}

/// The MFE behind the calling webview, judged from the webview itself.
fn calling_mfe<'a, R: Runtime>(
    shell: &'a Shell,
    webview: &Webview<R>,
) -> Result<&'a MfeEntry, AuthError> {
    let url = webview.url().map_err(internal)?;
    shell.policy.caller(webview.label(), &url).map_err(denied)
}

/// Only the shell's own chrome webview may drive the session.
fn require_chrome<R: Runtime>(webview: &Webview<R>) -> Result<(), AuthError> {
    if webview.label() == CHROME_LABEL {
        Ok(())
    } else {
        Err(AuthError::NotPermitted {
            reason: "only the shell's own chrome may drive the session".into(),
        })
    }
}

/// The JSON type of a value, for argument errors.
fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `get_token`'s `audience`: required, a string (validated as a URI by `Audience::parse`).
fn audience_arg(value: Option<&Value>) -> Result<&str, AuthError> {
    match value {
        Some(Value::String(s)) => Ok(s),
        None | Some(Value::Null) => Err(AuthError::InvalidAudience {
            reason: "`audience` is required: the URI of the API the token is for".into(),
        }),
        Some(other) => Err(AuthError::InvalidAudience {
            reason: format!("`audience` must be a string, not {}", json_kind(other)),
        }),
    }
}

/// `get_token`'s optional `scopes`: one space-separated string (RFC 6749 §3.3), as on the wire.
fn scopes_arg(value: Option<&Value>) -> Result<Option<&str>, AuthError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(AuthError::InvalidScope {
            reason: format!(
                "`scopes` must be one space-separated string, not {}",
                json_kind(other)
            ),
        }),
    }
}

/// Why a `get_token` call is refused before it reaches the broker.
enum Refusal {
    /// The access policy said no (logged by `denied`, once, when the command reports it).
    Denied(AccessDenied),
    /// Not a valid request.
    Invalid(AuthError),
}

impl From<AuthError> for Refusal {
    fn from(e: AuthError) -> Self {
        Refusal::Invalid(e)
    }
}

/// What a `get_token` call asks for, checked: its arguments, the caller (the webview's label and
/// the page it shows) against the registry, and the scopes against the MFE's registration. Both
/// the command and the cache fast path go through here.
fn token_request<R: Runtime>(
    shell: &Shell,
    webview: &Webview<R>,
    audience: Option<&Value>,
    scopes: Option<&Value>,
) -> Result<(Audience, ScopeSet), Refusal> {
    let audience = audience_arg(audience)?;
    let scopes = scopes_arg(scopes)?;
    let audience = Audience::parse(audience).map_err(AuthError::from)?;
    // The page the webview started loading, recorded on the main thread by the page-load hook;
    // asking the webview itself from the async command would cost an event-loop round trip.
    let url = match shell.mfe_page(webview.label()) {
        Some(url) => url,
        None => webview.url().map_err(internal)?,
    };
    let mfe = shell
        .policy
        .authorize(webview.label(), &url, audience.as_str())
        .map_err(Refusal::Denied)?;
    let wanted = wanted_scopes(mfe, scopes)?;
    Ok((audience, wanted))
}

/// An access token for one of the caller's registered audiences.
#[tauri::command]
pub async fn get_token<R: Runtime>(
    webview: Webview<R>,
    shell: ShellState<'_>,
    audience: Option<Value>,
    scopes: Option<Value>,
) -> Result<TokenGrant, AuthError> {
    // Arguments arrive as raw JSON so that a wrong type gets our typed error, not Tauri's
    // free-text "invalid args" string that a client cannot switch on.
    let (aud, wanted) = token_request(&shell, &webview, audience.as_ref(), scopes.as_ref())
        .map_err(|refusal| match refusal {
            Refusal::Denied(e) => denied(e),
            Refusal::Invalid(e) => e,
        })?;
    let result = shell.broker.get_token(&aud, &wanted).await;
    shell.push_token_status();
    result
}

/// The scopes a call asks for: the MFE's registered ones when it names none, else a subset of them.
fn wanted_scopes(mfe: &MfeEntry, asked: Option<&str>) -> Result<ScopeSet, AuthError> {
    let registered = ScopeSet::parse(&mfe.scopes.join(" "))?;
    match asked.map(str::trim) {
        None | Some("") => Ok(registered),
        Some(s) => {
            let wanted = ScopeSet::parse(s)?;
            if !registered.is_superset_of(&wanted) {
                return Err(AuthError::InvalidScope {
                    reason: format!(
                        "micro frontend `{}` is registered for scopes `{registered}` only",
                        mfe.id
                    ),
                });
            }
            Ok(wanted)
        }
    }
}

/// `get_token` answered on the thread the call arrives on (the main thread) when the token is
/// cached: the command's own checks (`token_request`), then the broker's cache, without the hop
/// to the async runtime and back that an `async` command costs on every call (`cargo xtask
/// bench`, (b)/(c)). Returns `None` — and the caller runs the command itself — for anything
/// else: a miss, or a refusal (reported once, by the command).
pub(crate) fn get_token_from_cache<R: Runtime>(invoke: &Invoke<R>) -> Option<TokenGrant> {
    if invoke.message.command() != "get_token" {
        return None;
    }
    let args = match invoke.message.payload() {
        InvokeBody::Json(Value::Object(args)) => Some(args),
        _ => None,
    };
    let webview = invoke.message.webview();
    let shell = webview.try_state::<Arc<Shell>>()?;
    let (audience, wanted) = token_request(
        &shell,
        &webview,
        args.and_then(|a| a.get("audience")),
        args.and_then(|a| a.get("scopes")),
    )
    .ok()?;
    shell.broker.cached_token(&audience, &wanted)
}

/// No-op round trip: the floor of Tauri IPC that `cargo xtask bench` compares `get_token` with.
#[tauri::command]
pub fn mfe_ping() {}

/// Push channel for this webview's own token refreshes and session changes.
#[tauri::command]
pub fn mfe_subscribe<R: Runtime>(
    webview: Webview<R>,
    shell: ShellState<'_>,
    channel: Channel<Value>,
) -> Result<(), AuthError> {
    calling_mfe(&shell, &webview)?;
    let _ = channel.send(json!({ "type": "sessionChanged", "session": shell.broker.session() }));
    shell.add_mfe_channel(webview.label(), channel);
    Ok(())
}

/// The caller's own registration: id, title, audiences, settings.
#[tauri::command]
pub fn mfe_context<R: Runtime>(
    webview: Webview<R>,
    shell: ShellState<'_>,
) -> Result<Value, AuthError> {
    let mfe = calling_mfe(&shell, &webview)?;
    Ok(json!({
        "id": mfe.id,
        "title": mfe.title,
        "audiences": mfe.audiences,
        "scopes": mfe.scopes,
        "settings": mfe.settings,
    }))
}

/// An MFE asks the shell to start the sign-in (the shell owns the browser flow).
#[tauri::command]
pub async fn mfe_sign_in<R: Runtime>(
    app: AppHandle<R>,
    webview: Webview<R>,
    shell: ShellState<'_>,
) -> Result<(), AuthError> {
    calling_mfe(&shell, &webview)?;
    let shell = Arc::clone(&shell);
    if shell.broker.session().is_some() || shell.broker.pending_login() {
        return Ok(());
    }
    crate::login::sign_in(app, shell).await
}

#[tauri::command]
pub fn shell_state<R: Runtime>(
    webview: Webview<R>,
    shell: ShellState<'_>,
) -> Result<Value, AuthError> {
    require_chrome(&webview)?;
    Ok(shell.state_json())
}

#[tauri::command]
pub fn shell_subscribe<R: Runtime>(
    webview: Webview<R>,
    shell: ShellState<'_>,
    channel: Channel<Value>,
) -> Result<(), AuthError> {
    require_chrome(&webview)?;
    shell.add_chrome_channel(channel);
    shell.push_token_status_now();
    Ok(())
}

#[tauri::command]
pub async fn shell_sign_in<R: Runtime>(
    app: AppHandle<R>,
    webview: Webview<R>,
    shell: ShellState<'_>,
) -> Result<(), AuthError> {
    require_chrome(&webview)?;
    crate::login::sign_in(app, Arc::clone(&shell)).await
}

#[tauri::command]
pub fn shell_cancel_sign_in<R: Runtime>(
    webview: Webview<R>,
    shell: ShellState<'_>,
) -> Result<(), AuthError> {
    require_chrome(&webview)?;
    crate::login::cancel(&shell);
    Ok(())
}

#[tauri::command]
pub async fn shell_sign_out<R: Runtime>(
    app: AppHandle<R>,
    webview: Webview<R>,
    shell: ShellState<'_>,
) -> Result<(), AuthError> {
    require_chrome(&webview)?;
    crate::login::sign_out(app, Arc::clone(&shell)).await
}

#[tauri::command]
pub fn shell_select_mfe<R: Runtime>(
    app: AppHandle<R>,
    webview: Webview<R>,
    shell: ShellState<'_>,
    id: String,
) -> Result<(), AuthError> {
    require_chrome(&webview)?;
    if shell.config.mfe(&id).is_none() {
        return Err(AuthError::ConfigInvalid {
            reason: format!("no micro frontend `{id}`"),
        });
    }
    layout::select(&app, &shell, &id).map_err(internal)?;
    shell.set_active_mfe(&id);
    Ok(())
}

#[tauri::command]
pub fn shell_set_chrome_expanded<R: Runtime>(
    app: AppHandle<R>,
    webview: Webview<R>,
    shell: ShellState<'_>,
    expanded: bool,
) -> Result<(), AuthError> {
    require_chrome(&webview)?;
    layout::set_chrome_expanded(&app, expanded).map_err(internal)?;
    shell.chrome_expanded.store(expanded, Ordering::Relaxed);
    Ok(())
}

#[tauri::command]
pub fn token_status<R: Runtime>(
    webview: Webview<R>,
    shell: ShellState<'_>,
) -> Result<Value, AuthError> {
    require_chrome(&webview)?;
    Ok(shell.token_status_json())
}
